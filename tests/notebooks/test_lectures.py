"""Every lecture notebook executes top to bottom on a fresh kernel, without errors."""

from __future__ import annotations

import json
import re

import pytest

from tests import REPO_ROOT
from tests.notebooks.executing import cell_errors, execute_notebook

LECTURES = sorted((REPO_ROOT / "lectures").glob("*.ipynb"))
COMMITTED_NOTEBOOKS = LECTURES + sorted((REPO_ROOT / "solutions").rglob("*.ipynb")) + sorted(
    (REPO_ROOT / "exercises").rglob("*.ipynb"))


def test_there_is_a_lecture():
    assert LECTURES, "lectures/ holds no notebook"


OBJECTIVES = re.compile(r"\*\*Learning objectives\.\*\*[^\n]*\n\n(- .+\n)+", re.MULTILINE)
ESTIMATED_TIME = re.compile(r"\*\*Estimated time:\*\* about [\d.]+ hours?")


def opening_problems(first_cells: list[str], name: str) -> list[str]:
    """What the opening of a lecture lacks: learning objectives (a bulleted list) and an
    estimated time, in its first two markdown cells."""
    opening = "\n\n".join(first_cells[:2])
    problems = []
    if not OBJECTIVES.search(opening + "\n"):
        problems.append(f"{name}: no '**Learning objectives.**' list in its first two cells")
    if not ESTIMATED_TIME.search(opening):
        problems.append(f"{name}: no '**Estimated time:** about N hours' in its first two cells")
    return problems


@pytest.mark.parametrize("path", LECTURES, ids=lambda p: p.name)
def test_each_lecture_opens_with_objectives_and_a_time(path):
    notebook = json.loads(path.read_text())
    markdown = ["".join(cell["source"]) for cell in notebook["cells"] if cell["cell_type"] == "markdown"]
    assert opening_problems(markdown, path.name) == []


def test_the_opening_check_finds_what_is_missing():
    good = ["# 1 Title", "**Learning objectives.** After this notebook you can\n\n- do a;\n- do b.\n\n"
                         "**Estimated time:** about 1.5 hours."]
    assert opening_problems(good, "x") == []
    assert opening_problems(["# 1 Title", "**Estimated time:** about 1 hour"], "x") == [
        "x: no '**Learning objectives.**' list in its first two cells"]
    assert opening_problems([good[0], good[1].replace("about 1.5 hours", "soon")], "x") == [
        "x: no '**Estimated time:** about N hours' in its first two cells"]
    assert len(opening_problems(["# 1 Title", "text", good[1]], "x")) == 2   # too late in the notebook


@pytest.mark.slow
@pytest.mark.parametrize("path", LECTURES, ids=[p.name for p in LECTURES])
def test_lecture_runs_top_to_bottom(path):
    executed = execute_notebook(path, timeout_s=600)
    assert cell_errors(executed) == []


@pytest.mark.parametrize("path", COMMITTED_NOTEBOOKS, ids=[p.name for p in COMMITTED_NOTEBOOKS])
def test_notebooks_are_committed_clean(path):
    notebook = json.loads(path.read_text())
    assert (notebook["nbformat"], notebook["nbformat_minor"]) >= (4, 5), "nbformat 4.5+ with cell ids"
    for cell in notebook["cells"]:
        if cell["cell_type"] == "code":
            assert cell["outputs"] == [] and cell["execution_count"] is None, (
                f"{path.name}: cell {cell.get('id')} has outputs; commit notebooks with outputs stripped")
