"""The site's pages in course order, and the notebook edits that make them read well as HTML.

Nothing here executes a notebook: ``course_pages`` finds the pages, ``rewrite_markdown`` points
notebook links at the site's pages (and hands the prose to the math converter),
``clean_outputs`` drops widget views and turns the unanswered exercise's errors into notes,
``fix_anchors`` repairs fragments once the HTML exists.
"""

from __future__ import annotations

import html
import posixpath
import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote

import nbformat

# A README course-table row: "| 05 Up-sampling ... | `dimensions`: ...; `unet`: ... |".
COURSE_TABLE_ROW = re.compile(r"^\| (\d\d) [^|]*\| (.*) \|$", re.MULTILINE)
TABLE_ASSIGNMENT = re.compile(r"`(\w+)`:")
MARKDOWN_LINK = re.compile(r"(!?)\[((?:[^\]\\]|\\.)*)\]\(\s*<?([^)\s>]+)>?((?:\s+\"[^\"]*\")?)\s*\)")
HTML_ANCHOR = re.compile(r"<a\b([^>]*?)\bhref\s*=\s*([\"'])([^\"']+)\2([^>]*)>(.*?)</a>", re.IGNORECASE | re.DOTALL)
CODE_BLOCK = re.compile(r"^(```|~~~).*?^\1[^\n]*$", re.MULTILINE | re.DOTALL)
INLINE_CODE = re.compile(r"`[^`\n]+`")
SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")
HEADING = re.compile(r"^\s{0,3}#\s+(.+?)\s*#*\s*$", re.MULTILINE)
SOLUTION_MARKERS = ("### BEGIN SOLUTION", "### END SOLUTION", "### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS")
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
HTML_HREF = re.compile(r"\bhref=\"([^\"]*)\"")
HTML_ID = re.compile(r"\bid=\"([^\"]+)\"")


@dataclass(frozen=True)
class Page:
    """One page of the site.

    Attributes:
        source: the notebook, relative to the course root (``lectures/03_x.ipynb``,
            ``exercises/unet/unet.ipynb``); None for the index.
        url: the page, relative to the site root (``lectures/03_x.html``, ``exercises/unet.html``).
        title: the notebook's first level-1 heading (else its file name).
        kind: ``"index"``, ``"lecture"`` or ``"exercise"``.
        lecture: the lecture number the page belongs to (``"05"``), None for the index.
    """

    source: str | None
    url: str
    title: str
    kind: str
    lecture: str | None


def readme_course_table(root: Path) -> dict[str, str]:
    """The README's course table as {assignment: lecture number}, in the table's order,
    e.g. {'fcn_basics': '03', ..., 'unet': '05'}; names with no ``exercises/NAME/NAME.ipynb``
    are left out."""
    readme = root / "README.md"
    if not readme.is_file():
        raise FileNotFoundError(f"no README.md in {root}: the site takes the course order from its course table")
    table = {}
    for number, assignment_column in COURSE_TABLE_ROW.findall(readme.read_text(encoding="utf-8")):
        for name in TABLE_ASSIGNMENT.findall(assignment_column):
            if (root / "exercises" / name / f"{name}.ipynb").is_file():
                table.setdefault(name, number)
    return table


def notebook_title(path: Path) -> str:
    """The first level-1 markdown heading of the notebook at ``path``, else its file stem."""
    notebook = nbformat.read(path, as_version=4)
    for cell in notebook.cells:
        if cell.cell_type == "markdown":
            match = HEADING.search(strip_code(cell.source))
            if match:
                return re.sub(r"[`*_]|<[^>]+>", "", match.group(1)).strip()
    return path.stem


def course_pages(root: Path) -> list[Page]:
    """Every page in course order: the index, then each lecture (``lectures/NN_*.ipynb`` by
    number) followed by the exercises the README's course table grades after it. Released
    exercises missing from the table come last, so none is left out of the site."""
    root = Path(root)
    table = readme_course_table(root)
    lectures = sorted(root.glob("lectures/[0-9][0-9]_*.ipynb"))
    if not lectures:
        raise FileNotFoundError(f"no lectures/NN_*.ipynb under {root}: nothing to build a course site from")
    pages = [Page(None, "index.html", "Image Segmentation with Fully Convolutional Networks", "index", None)]
    for lecture in lectures:
        number = lecture.name[:2]
        pages.append(Page(f"lectures/{lecture.name}", f"lectures/{lecture.stem}.html",
                          notebook_title(lecture), "lecture", number))
        pages += [_exercise_page(root, name, number) for name, of in table.items() if of == number]
    placed = {page.source for page in pages}
    for notebook in sorted(root.glob("exercises/*/*.ipynb")):
        if notebook.stem == notebook.parent.name and f"exercises/{notebook.parent.name}/{notebook.name}" not in placed:
            pages.append(_exercise_page(root, notebook.stem, None))
    return pages


def _exercise_page(root: Path, name: str, lecture: str | None) -> Page:
    source = f"exercises/{name}/{name}.ipynb"
    return Page(source, f"exercises/{name}.html", notebook_title(root / source), "exercise", lecture)


def refuse_solutions(notebook, source: str) -> None:
    """Raise ValueError if ``notebook`` (read from ``source``) holds nbgrader solution or
    hidden-test markers: the site shows the release, never the solutions."""
    for cell in notebook.cells:
        for marker in SOLUTION_MARKERS:
            if marker in cell.source:
                raise ValueError(f"{source} contains '{marker}': the site renders only released exercises; "
                                 f"run `segcourse release` to regenerate exercises/ from solutions/")


def strip_code(text: str) -> str:
    """``text`` without its fenced code blocks (links there are examples, not links)."""
    return CODE_BLOCK.sub("", text)


def relative_url(from_page: str, to_page: str) -> str:
    """The relative URL from site page ``from_page`` to ``to_page`` (both site-root relative)."""
    return posixpath.relpath(to_page, posixpath.dirname(from_page) or ".")


class LinkRewriter:
    """Points the links of one notebook's markdown at the site.

    - a link to another page's notebook (``../exercises/unet/unet.ipynb#Part-2``) goes to that
      page's HTML, fragment kept (``fix_anchors`` checks it later);
    - a link to any other file (``../course_utils/data.py``, ``../README.md``) is not on the
      site: it becomes its text followed by the repository path in backticks, never a dead link;
    - web links (with a scheme), fragments of the page itself and absolute paths stay as they are.

    Attributes:
        replaced: one line per link turned into text, for the build's report.
    """

    def __init__(self, root: Path, page: Page, pages_by_source: dict[str, Page]):
        self.root = Path(root).resolve()
        self.page = page
        self.pages_by_source = pages_by_source
        self.folder = posixpath.dirname(page.source)
        self.replaced: list[str] = []

    def target(self, link: str) -> tuple[str | None, str]:
        """(site URL or None, repository path) of a relative ``link`` of this notebook."""
        file_part, hash_sign, fragment = link.partition("#")
        repository_path = posixpath.normpath(posixpath.join(self.folder, unquote(file_part)))
        page = self.pages_by_source.get(repository_path)
        if page is None:
            return None, repository_path
        return relative_url(self.page.url, page.url) + hash_sign + fragment, repository_path

    def _is_local(self, link: str) -> bool:
        return not (SCHEME.match(link) or link.startswith(("/", "#")))

    def _markdown(self, match: re.Match) -> str:
        bang, text, link, title = match.groups()
        if not self._is_local(link):
            return match.group(0)
        url, repository_path = self.target(link)
        if url is not None and not bang:
            return f"[{text}]({url}{title})"
        return self._as_text(text, repository_path, image=bool(bang))

    def _html(self, match: re.Match) -> str:
        before, quote, link, after, text = match.groups()
        if not self._is_local(link):
            return match.group(0)
        url, repository_path = self.target(link)
        if url is not None:
            return f"<a{before}href={quote}{html.escape(url, quote=True)}{quote}{after}>{text}</a>"
        return self._as_text(text, repository_path, image=False, in_html=True)

    def _as_text(self, text: str, repository_path: str, image: bool, in_html: bool = False) -> str:
        exists = (self.root / repository_path).exists() and not repository_path.startswith("..")
        where = f"`{repository_path}`" if exists else f"{repository_path} (not in this course)"
        if in_html:
            where = f"<code>{html.escape(repository_path)}</code>" if exists else html.escape(where)
        self.replaced.append(f"{self.page.source}: link to {repository_path} shown as text")
        if image:
            return f"(figure: {where})"
        plain = text.strip("`")
        if plain == repository_path or plain == posixpath.basename(repository_path):
            return where
        return f"{text} ({where} in the course repository)"

    def rewrite(self, markdown: str) -> str:
        """``markdown`` with its links rewritten; fenced code blocks and inline code untouched."""
        pieces, position = [], 0
        for block in CODE_BLOCK.finditer(markdown):
            pieces.append(self._rewrite_prose(markdown[position:block.start()]))
            pieces.append(block.group(0))
            position = block.end()
        pieces.append(self._rewrite_prose(markdown[position:]))
        return "".join(pieces)

    def _rewrite_prose(self, text: str) -> str:
        text = _sub_outside_inline_code(MARKDOWN_LINK, self._markdown, text)
        return _sub_outside_inline_code(HTML_ANCHOR, self._html, text)


def _sub_outside_inline_code(pattern: re.Pattern, replace, text: str) -> str:
    # A link written inside inline code (`[a](b)`) is an example: it stays as written.
    code_spans = [match.span() for match in INLINE_CODE.finditer(text)]

    def apply(match):
        inside = any(start < match.start() < end for start, end in code_spans)
        return match.group(0) if inside else replace(match)

    return pattern.sub(apply, text)


def rewrite_markdown(notebook, rewriter: LinkRewriter, math=None) -> None:
    """Rewrite the links of every markdown cell of ``notebook`` in place (see LinkRewriter),
    then its prose with ``math`` (a function of text, e.g. a ``mathml.MathConverter``) if given."""
    for cell in notebook.cells:
        if cell.cell_type == "markdown":
            cell.source = rewriter.rewrite(cell.source)
            if math is not None:
                cell.source = map_prose(cell.source, math)


def map_prose(markdown: str, function) -> str:
    """``markdown`` with ``function`` applied to its text outside fenced code blocks and inline code."""
    pieces, position = [], 0
    for block in CODE_BLOCK.finditer(markdown):
        pieces.append(_map_outside_inline_code(markdown[position:block.start()], function))
        pieces.append(block.group(0))
        position = block.end()
    pieces.append(_map_outside_inline_code(markdown[position:], function))
    return "".join(pieces)


def _map_outside_inline_code(text: str, function) -> str:
    parts = re.split(f"({INLINE_CODE.pattern})", text)   # odd indices: the inline code
    return "".join(part if index % 2 else function(part) for index, part in enumerate(parts))


def note_output(text: str) -> nbformat.NotebookNode:
    """A display output showing ``text`` as a highlighted note (HTML-escaped)."""
    return nbformat.v4.new_output("display_data", data={
        "text/html": f'<div class="site-note">{html.escape(text)}</div>', "text/plain": text})


def exercise_note(cell, error) -> str:
    """The note that replaces ``error`` (an error output of exercise ``cell``)."""
    grading = cell.metadata.get("nbgrader", {})
    if grading.get("solution"):
        return f"Your code goes here: until you write it, this answer cell stops with {error.ename}."
    if grading.get("grade"):
        return (f"These tests check your answer: your code goes in the answer cell above. Unanswered, they stop "
                f"with {error.ename} (traceback not shown).")
    return (f"This cell uses your answers above: your code goes there. Unanswered, it stops with {error.ename} "
            f"(traceback not shown).")


def clean_outputs(notebook, kind: str) -> list[str]:
    """Make an executed notebook's outputs fit for a static page, in place.

    - widget views (which need a live kernel) are dropped from each output's data, so the
      text and the static figure the course's widgets draw are what the page shows;
    - on an exercise page, each error output becomes a short note (``exercise_note``);
    - output of nbconvert's kernel on stderr (library warnings) is dropped.

    Returns one line per error met: ``"cell N: ename: evalue"`` (notes on exercises, the
    lecture's errors stay on the page, tracebacks included, and the caller reports them).
    """
    errors = []
    notebook.metadata.pop("widgets", None)
    for index, cell in enumerate(notebook.cells):
        if cell.cell_type != "code":
            continue
        kept = []
        for output in cell.get("outputs", []):
            if output.output_type == "stream" and output.name == "stderr":
                continue
            if output.output_type in ("display_data", "execute_result"):
                output.data.pop(WIDGET_VIEW, None)
                if not output.data:
                    continue
            if output.output_type == "error":
                errors.append(f"cell {index}: {output.ename}: {output.evalue}")
                if kind == "exercise":
                    output = note_output(exercise_note(cell, output))
            kept.append(output)
        cell.outputs = kept
    return errors


def page_ids(page_html: str) -> set[str]:
    """The element ids of a rendered page, as fragments name them (percent-decoded)."""
    return {unquote(html.unescape(value)) for value in HTML_ID.findall(page_html)}


def _slug(text: str) -> str:
    # GitHub's heading anchors: lower case, punctuation dropped, spaces to dashes.
    return re.sub(r"[^\w\- ]", "", unquote(text).lower().replace("-", " ")).replace(" ", "-")


def fix_anchors(page: Page, page_html: str, ids_by_url: dict[str, set[str]]) -> tuple[str, list[str]]:
    """``page_html`` with each fragment of a link to a site page matched to an id of that page.

    A fragment written GitHub-style (``#part-2-dice``) is changed to the page's id with the
    same slug (``#Part-2:-Dice``); one with no such id is dropped (the link goes to the page)
    and reported. Returns (new HTML, report lines)."""
    report = []

    def fix(match: re.Match) -> str:
        href = html.unescape(match.group(1))
        if SCHEME.match(href) or "#" not in href:
            return match.group(0)
        file_part, _, fragment = href.partition("#")
        target = posixpath.normpath(posixpath.join(posixpath.dirname(page.url), file_part)) if file_part else page.url
        ids = ids_by_url.get(target)
        if ids is None or unquote(fragment) in ids:
            return match.group(0)
        same = sorted(i for i in ids if _slug(i) == _slug(fragment))
        if same:
            return f'href="{html.escape(file_part + "#" + same[0], quote=True)}"'
        report.append(f"{page.url}: no heading for #{fragment} on {target}: linked to the page")
        return f'href="{html.escape(file_part or "#", quote=True)}"'

    return HTML_HREF.sub(fix, page_html), report
