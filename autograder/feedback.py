"""Feedback that shows what a hidden test checked and why it failed, never its code.

Stock nbgrader writes the autograded notebook, hidden tests included, into the
feedback HTML, and a failed assert's traceback quotes the line that holds the expected
value. ``HideHiddenTests`` runs in ``generate_feedback`` after nbgrader's own
preprocessors: it removes the hidden region from each test cell's source (the cell keeps
its docstring, which says what is checked) and shortens its error output to the
exception's name and message. ``CourseLinksAsText`` keeps the notebook's links to other
course files readable there.
"""

from __future__ import annotations

import re

from nbconvert.exporters.exporter import ResourcesDict
from nbformat.notebooknode import NotebookNode
from nbgrader.preprocessors import ClearHiddenTests, NbGraderPreprocessor


class HideHiddenTests(ClearHiddenTests):
    """Strip hidden test code, and tracebacks that would quote it, from feedback."""

    def preprocess_cell(self, cell: NotebookNode, resources: ResourcesDict, cell_index: int):
        if cell.cell_type != "code" or not self._remove_hidden_test_region(cell):
            return cell, resources
        cell.source = cell.source.rstrip("\n") + "\n# (hidden tests: their code is not shown)"
        for output in cell.get("outputs", []):
            if output.output_type == "error":
                output.traceback = [f"{output.ename}: {output.evalue}" if output.evalue else output.ename]
        return cell, resources


class EndHiddenTestCells(NbGraderPreprocessor):
    """``generate_assignment``, after ``ClearHiddenTests``: a test cell left with only its
    docstring (its tests were all hidden) ends with ``pass``, so running it shows nothing.

    Otherwise IPython shows the docstring as the cell's value, and ``nbgrader validate``
    reads that value as a partial score ("... cannot be converted to a float"). The
    gradebook keeps the cell as written in ``solutions/`` (nbgrader saves it before the
    hidden tests are cleared), so the feedback still shows the docstring (``HideHiddenTests``)."""

    SUFFIX = "pass  # the hidden tests run when your work is graded"

    def preprocess_cell(self, cell: NotebookNode, resources: ResourcesDict, cell_index: int):
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if cell.cell_type == "code" and meta.get("grade") and not meta.get("solution") \
                and _ends_in_a_string(cell.source):
            cell.source = cell.source.rstrip("\n") + "\n" + self.SUFFIX
        return cell, resources


# a markdown link whose target is a relative path: not a web address, mail or in-page anchor
RELATIVE_LINK = re.compile(r"\[([^\]]+)\]\((?![a-z][a-z0-9+.-]*:|#)([^)\s]+)\)")


class CourseLinksAsText(NbGraderPreprocessor):
    """``generate_feedback``: a relative link in a markdown cell, such as the intro's
    ``[`lectures/03_x.ipynb`](../../lectures/03_x.ipynb)``, resolves from the notebook's folder
    in the course but not from the feedback folder its HTML is written to
    (``feedback/<student>/<assignment>/``): it becomes plain text naming the course file,
    "`lectures/03_x.ipynb` (in the course folder)". Web links and anchors stay links."""

    def preprocess_cell(self, cell: NotebookNode, resources: ResourcesDict, cell_index: int):
        if cell.cell_type == "markdown":
            cell.source = RELATIVE_LINK.sub(_as_course_file_text, cell.source)
        return cell, resources


def _as_course_file_text(link: re.Match) -> str:
    text, target = link.group(1), link.group(2).split("#")[0]
    course_file = re.sub(r"^(\.\./)+", "", target)       # the release's notebooks sit two folders down
    if course_file in text:
        return f"{text} (in the course folder)"
    return f"{text} (`{course_file}`, in the course folder)"


def _ends_in_a_string(source: str) -> bool:
    import ast

    try:
        body = ast.parse(source).body
    except SyntaxError:
        return False
    return bool(body) and isinstance(body[-1], ast.Expr) and isinstance(body[-1].value, ast.Constant) \
        and isinstance(body[-1].value.value, str)
