"""exercises/ is generated from solutions/ by nbgrader and must never drift."""

from __future__ import annotations

import shutil

import pytest

from autograder.course import find_assignments
from autograder.nbgrader_api import release_drift
from tests import REPO_ROOT


@pytest.mark.parametrize("assignment", find_assignments(REPO_ROOT))
def test_exercises_equal_a_fresh_release(assignment):
    assert release_drift(REPO_ROOT, assignment) == [], (
        f"exercises/{assignment} differs from a fresh release: run `segcourse release {assignment}`"
    )


def test_a_hand_edited_exercise_is_reported(tmp_path):
    course = tmp_path / "course"
    for folder in ("solutions", "exercises"):
        shutil.copytree(REPO_ROOT / folder, course / folder)
    notebook = course / "exercises" / "fcn_basics" / "fcn_basics.ipynb"
    notebook.write_text(notebook.read_text().replace("YOUR CODE HERE", "YOUR CODE GOES HERE"))
    (course / "exercises" / "fcn_basics" / "stray.txt").write_text("not generated")
    assert release_drift(course, "fcn_basics") == ["stray.txt", "fcn_basics.ipynb"]


def test_the_exchange_exists_so_the_formgrader_can_release_and_collect(tmp_path, monkeypatch):
    from autograder.course import course_config

    # the single-machine default, whatever this machine's /etc/jupyter (e.g. after make hub) says
    monkeypatch.setattr("autograder.course.instructor_config_dirs", lambda: [])
    from autograder.nbgrader_api import make_api

    api = make_api(course_config(tmp_path, runtime_directory=tmp_path / ".grading"))
    assert api.exchange_is_functional and not api.exchange_missing, f"exchange missing: {api.exchange_root!r}"
    assert api.exchange_root == str(tmp_path / ".grading" / "exchange")
