"""Feedback that shows what a hidden test checked and why it failed, never its code.

Stock nbgrader writes the autograded notebook, hidden tests included, into the
feedback HTML, and a failed assert's traceback quotes the line that holds the expected
value. ``HideHiddenTests`` runs in ``generate_feedback`` after nbgrader's own
preprocessors: it removes the hidden region from each test cell's source (the cell keeps
its docstring, which says what is checked) and shortens its error output to the
exception's name and message.
"""

from __future__ import annotations

from nbconvert.exporters.exporter import ResourcesDict
from nbformat.notebooknode import NotebookNode
from nbgrader.preprocessors import ClearHiddenTests


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
