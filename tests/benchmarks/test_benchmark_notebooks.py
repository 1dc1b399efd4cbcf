"""The notebook-budget benchmark: what it times, and its bad arguments (no notebook runs here)."""

from __future__ import annotations

import pytest

from benchmarks import notebooks
from tests import REPO_ROOT


def test_it_times_every_lecture_and_solution_notebook():
    timed = {p.relative_to(REPO_ROOT).as_posix() for p in notebooks.course_notebooks()}
    lectures = {p.relative_to(REPO_ROOT).as_posix() for p in (REPO_ROOT / "lectures").glob("*.ipynb")}
    solutions = {p.relative_to(REPO_ROOT).as_posix() for p in (REPO_ROOT / "solutions").glob("*/*.ipynb")}
    assert timed == lectures | solutions and len(solutions) >= 9


def test_zero_jobs_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as exit_info:
        notebooks.main(["--jobs", "0"])
    assert exit_info.value.code == 2 and "--jobs must be at least 1" in capsys.readouterr().err
