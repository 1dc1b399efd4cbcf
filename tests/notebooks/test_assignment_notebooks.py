"""Every assignment: the solutions pass all their tests (hidden ones included), the
released stubs fail only with NotImplementedError, and exercises/ is in sync."""

from __future__ import annotations

import json

import pytest

from autograder.course import find_assignments
from tests import REPO_ROOT
from tests.notebooks.executing import cell_errors, execute_notebook

ASSIGNMENTS = find_assignments(REPO_ROOT)


def test_the_course_has_assignments():
    assert "fcn_basics" in ASSIGNMENTS


@pytest.mark.slow
@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_solution_passes_every_test(assignment):
    for path in sorted((REPO_ROOT / "solutions" / assignment).glob("*.ipynb")):
        executed = execute_notebook(path)
        assert cell_errors(executed) == [], f"{path.name}: cells failed in the solution notebook"
        hidden = [c for c in executed.cells if "BEGIN HIDDEN TESTS" in c.source]
        assert hidden, f"{path.name} has no hidden tests"


@pytest.mark.slow
@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_release_stubs_fail_only_with_not_implemented(assignment):
    for path in sorted((REPO_ROOT / "exercises" / assignment).glob("*.ipynb")):
        executed = execute_notebook(path)
        errors = cell_errors(executed)
        assert errors, f"{path.name}: the unanswered release should fail its tests"
        unexpected = [error for error in errors if error[1] != "NotImplementedError"]
        assert unexpected == [], f"{path.name}: stubs must fail only with NotImplementedError, got {unexpected}"
        stubbed = [c.id for c in executed.cells if c.metadata.get("nbgrader", {}).get("solution")]
        failed_tests = {error[0] for error in errors}
        graded_visible = [c.id for c in executed.cells
                          if c.metadata.get("nbgrader", {}).get("grade") and c.id.endswith("_visible")]
        assert stubbed and set(graded_visible) <= failed_tests, "every visible test should fail on the stubs"


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_release_has_no_solutions_or_hidden_tests(assignment):
    for path in (REPO_ROOT / "exercises" / assignment).glob("*.ipynb"):
        text = path.read_text()
        for marker in ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS", "_reference_"):
            assert marker not in text, f"{path} leaks '{marker}'"


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_grade_cells_have_points_and_say_what_they_check(assignment):
    for path in (REPO_ROOT / "solutions" / assignment).glob("*.ipynb"):
        notebook = json.loads(path.read_text())
        assert notebook["nbformat"] == 4 and notebook["nbformat_minor"] >= 5, "write nbformat 4.5+ (cell ids)"
        grade_cells = [c for c in notebook["cells"] if c["metadata"].get("nbgrader", {}).get("grade")]
        assert len(grade_cells) >= 8
        for cell in grade_cells:
            assert cell["metadata"]["nbgrader"]["points"] > 0
            if cell["cell_type"] == "markdown":     # a written answer: graded by hand, so editable
                assert cell["metadata"]["nbgrader"]["solution"], f"{cell['id']}: a graded text cell is an answer"
                continue
            assert "".join(cell["source"]).startswith('"""'), f"{cell['id']} should open with a docstring"
