"""Every lecture notebook executes top to bottom on a fresh kernel, without errors."""

from __future__ import annotations

import json

import pytest

from tests import REPO_ROOT
from tests.notebooks.executing import cell_errors, execute_notebook

LECTURES = sorted((REPO_ROOT / "lectures").glob("*.ipynb"))
COMMITTED_NOTEBOOKS = LECTURES + sorted((REPO_ROOT / "solutions").rglob("*.ipynb")) + sorted(
    (REPO_ROOT / "exercises").rglob("*.ipynb"))


def test_there_is_a_lecture():
    assert LECTURES, "lectures/ holds no notebook"


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
