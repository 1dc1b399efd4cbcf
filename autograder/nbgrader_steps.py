"""The preprocessors nbgrader runs in each of its steps for this course.

Each list is BUILT FROM nbgrader's own default list, read at run time from its converter
class (``GenerateAssignment.preprocessors``, ``Autograde.autograde_preprocessors``,
``GenerateFeedback.preprocessors``); ours replace or follow nbgrader's steps, found by
class. A newer nbgrader's extra steps are therefore kept, and one that lacks a step we
rely on fails at once with ``UnsupportedNbgrader``.

- ``release_steps``: ``EndHiddenTestCells`` right after ``ClearHiddenTests`` (so the
  checksums that follow cover it).
- ``autograde_steps(engine)``: nbgrader's ``Execute`` (student code in an instructor's
  kernel) replaced by ``engine`` (``SandboxedGrading`` for ``nbgrader autograde``,
  ``TrustedVerdicts`` for ``segcourse grade``), then ``SanitizeStudentHtml``.
- ``sanitize_steps``: nbgrader's cleaning of a submission, unchanged (as classes, for
  ``SandboxedGrading`` to apply to the rebuilt notebook).
- ``feedback_steps``: nbgrader's, then ``HideHiddenTests``, ``CourseLinksAsText`` and ``LateNotice``.
- ``grading_config``: the course config as ``segcourse grade`` records with it.

Steps are given as dotted names: the config stays plain data (deep-copied, merged, printed).
"""

from __future__ import annotations

import copy
from pathlib import Path

from nbconvert.preprocessors import Preprocessor
from traitlets import Bool
from traitlets.utils.importstring import import_item


class UnsupportedNbgrader(RuntimeError):
    """nbgrader's default steps lack one that this course replaces or follows."""


def dotted_name(step) -> str:
    """``module.Class`` of a preprocessor class (a dotted name is returned as it is)."""
    return step if isinstance(step, str) else f"{step.__module__}.{step.__qualname__}"


def _is_step(step, cls: type) -> bool:
    return (import_item(step) if isinstance(step, str) else step) is cls


def _nbgrader_defaults(converter: type, trait: str) -> list:
    return list(converter.class_traits()[trait].default())


def _replace(defaults: list, cls: type, ours: list[str], after: bool = False) -> list[str]:
    """``defaults`` as dotted names with ``ours`` in place of every ``cls`` step (or right
    after it, with ``after``); ``UnsupportedNbgrader`` if there is no ``cls`` step."""
    steps: list[str] = []
    for step in defaults:
        if not _is_step(step, cls):
            steps.append(dotted_name(step))
            continue
        steps += ([dotted_name(step)] if after else []) + ours
    if not any(_is_step(step, cls) for step in defaults):
        raise UnsupportedNbgrader(f"nbgrader's default steps have no {cls.__name__}: this nbgrader is not supported")
    return steps


def release_steps() -> list[str]:
    """``GenerateAssignment.preprocessors``: a hidden-test cell keeps only its docstring,
    which IPython would show as the cell's value and ``nbgrader validate`` would read as a
    score; ``EndHiddenTestCells`` ends such a cell with a statement."""
    from nbgrader.converters import GenerateAssignment
    from nbgrader.preprocessors import ClearHiddenTests

    from autograder.feedback import EndHiddenTestCells
    return _replace(_nbgrader_defaults(GenerateAssignment, "preprocessors"), ClearHiddenTests,
                    [dotted_name(EndHiddenTestCells)], after=True)


def autograde_steps(engine: type) -> list[str]:
    """``Autograde.autograde_preprocessors`` with ``Execute`` replaced by ``engine`` and
    ``SanitizeStudentHtml`` (student HTML never reaches the formgrader as markup)."""
    from nbgrader.converters import Autograde
    from nbgrader.preprocessors import Execute
    return _replace(_nbgrader_defaults(Autograde, "autograde_preprocessors"), Execute,
                    [dotted_name(engine), dotted_name(SanitizeStudentHtml)])


def sanitize_steps() -> list[type]:
    """``Autograde.sanitize_preprocessors`` as classes: how nbgrader cleans a submission
    before grading it (outputs cleared, tests and kernelspec from the gradebook)."""
    from nbgrader.converters import Autograde
    return [import_item(step) if isinstance(step, str) else step
            for step in _nbgrader_defaults(Autograde, "sanitize_preprocessors")]


def feedback_steps() -> list[str]:
    """``GenerateFeedback.preprocessors``, then: each hidden test shows its docstring and
    failure message, not its code; links to other course files become text naming them;
    a late submission's feedback says how late it was."""
    from nbgrader.converters import GenerateFeedback

    from autograder.feedback import CourseLinksAsText, HideHiddenTests
    from autograder.late import LateNotice
    return [dotted_name(step) for step in _nbgrader_defaults(GenerateFeedback, "preprocessors")] + \
        [dotted_name(HideHiddenTests), dotted_name(CourseLinksAsText), dotted_name(LateNotice)]


def grading_config(config, staging: Path):
    """The course config as ``segcourse grade`` records with it: nbgrader's ``Execute``
    replaced by ``TrustedVerdicts``, reading the rebuilt submissions and their verdicts
    from the staging folder."""
    from autograder.trusted import TrustedVerdicts

    c = copy.deepcopy(config)
    c.CourseDirectory.submitted_directory = str(staging / "submitted")
    c.Autograde.autograde_preprocessors = autograde_steps(TrustedVerdicts)
    c.TrustedVerdicts.staging_directory = str(staging / "verdicts")
    # Student HTML never reaches formgrader or the feedback page as markup (threat row 35):
    # their markdown is cleaned in the autograded notebook and again in the feedback, and
    # the exporter sanitizes HTML outputs too.
    feedback = list(config.GenerateFeedback.preprocessors) if "preprocessors" in config.GenerateFeedback else []
    c.GenerateFeedback.preprocessors = feedback + [dotted_name(SanitizeStudentHtml)]
    c.HTMLExporter.sanitize_html = True
    return c


class SanitizeStudentHtml(Preprocessor):
    """Clean the HTML of student-written markdown cells (no ``<script>``, no ``on...=``).

    nbgrader's feedback template renders markdown without the exporter's
    ``sanitize_html``, so the cell is rendered here (nbconvert's ``markdown2html``) and
    cleaned with an allow-list (``bleach``, which nbconvert depends on): headings, lists,
    tables, links, images and maths stay; scripts, event handlers, styles, iframes and
    forms are shown as text or dropped. Instructor cells (from the release) are left as
    they are.
    """

    enabled = Bool(True, help="nbconvert preprocessors are off by default; this one always runs").tag(config=True)
    TAGS = {"p", "h1", "h2", "h3", "h4", "h5", "h6", "em", "strong", "b", "i", "code", "pre", "blockquote",
            "ul", "ol", "li", "a", "img", "table", "thead", "tbody", "tr", "th", "td", "br", "hr", "span",
            "div", "sub", "sup", "del"}
    ATTRIBUTES = {"a": ["href", "title"], "img": ["src", "alt", "title", "width", "height"], "*": ["class", "id"]}

    def preprocess_cell(self, cell, resources, index):
        if cell.cell_type == "markdown" and _written_by_student(cell):
            import bleach
            from nbconvert.filters import markdown2html
            cell.source = bleach.clean(markdown2html(cell.source), tags=self.TAGS, attributes=self.ATTRIBUTES,
                                       protocols={"http", "https", "mailto", "data"})
        return cell, resources


def _written_by_student(cell) -> bool:
    from autograder.trusted import nbgrader_metadata

    # rebuild_submission gives the student's own cells "student-" ids; solution cells hold answers
    return str(cell.get("id", "")).startswith("student-") or bool(nbgrader_metadata(cell).get("solution"))
