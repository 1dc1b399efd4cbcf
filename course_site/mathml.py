"""The TeX math of markdown cells (``$...$``, ``$$...$$``) as MathML, drawn by the browser itself.

JupyterLab draws notebook math with MathJax, which nbconvert's pages load from a CDN; the
site loads nothing from the network, so each formula is converted when the site is built
(``latex2mathml``, pure Python) and Chromium and Firefox draw the MathML with no script. A
formula the converter cannot read stays as its TeX source, and is reported.
"""

from __future__ import annotations

import re

try:
    from latex2mathml.converter import convert as _latex_to_mathml
except ImportError:  # the site is still built, with the TeX shown as written
    _latex_to_mathml = None

DISPLAY_MATH = re.compile(r"(?<!\\)\$\$(.+?)(?<!\\)\$\$", re.DOTALL)
# $x$ with no space inside either dollar, not part of a word or a price ("$5 and $6" is no formula).
INLINE_MATH = re.compile(r"(?<![\\$\w])\$(?=[^\s$])([^$\n]+?)(?<=[^\s\\])\$(?![\w$])")
XMLNS = re.compile(r' xmlns="[^"]*"')


def available() -> bool:
    """Whether formulas can be converted (``latex2mathml`` is installed)."""
    return _latex_to_mathml is not None


def tex_to_mathml(tex: str, display: bool) -> str:
    """MathML of one TeX formula, on one line (raises on TeX the converter cannot read)."""
    mathml = _latex_to_mathml(tex.strip(), display="block" if display else "inline")
    return XMLNS.sub("", mathml).replace("\n", "")


class MathConverter:
    """Converts the formulas of markdown prose (the caller keeps code out of it).

    Attributes:
        converted: how many formulas became MathML.
        failed: one line per formula left as TeX: ``"where: $tex$ (why)"``.
    """

    def __init__(self, where: str):
        self.where = where
        self.converted = 0
        self.failed: list[str] = []

    def _replace(self, match: re.Match, display: bool) -> str:
        if _latex_to_mathml is None:
            return match.group(0)
        try:
            mathml = tex_to_mathml(match.group(1), display)
        except Exception as error:  # the converter raises many kinds of error on unknown TeX
            self.failed.append(f"{self.where}: {match.group(0)!r} left as TeX ({type(error).__name__}: {error})")
            return match.group(0)
        self.converted += 1
        return mathml

    def __call__(self, prose: str) -> str:
        prose = DISPLAY_MATH.sub(lambda match: self._replace(match, display=True), prose)
        return INLINE_MATH.sub(lambda match: self._replace(match, display=False), prose)
