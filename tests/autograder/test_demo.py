"""The instructor demo, end to end through nbgrader: the scores are the deserved ones."""

from __future__ import annotations

import csv
import shutil
import subprocess
import sys

import pytest

from autograder.demo_class import EXPECTED_POINTS, STUDENTS
from tests import REPO_ROOT


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory):
    """Run `segcourse demo` on a copy of the course (the real one may be read by other tests)."""
    course = tmp_path_factory.mktemp("course")
    for folder in ("solutions", "exercises"):
        shutil.copytree(REPO_ROOT / folder, course / folder)
    result = subprocess.run(
        [sys.executable, "-m", "autograder.cli", "--course-dir", str(course), "demo"],
        capture_output=True, text=True, timeout=900,
    )
    return course, result


@pytest.mark.slow
def test_demo_succeeds_with_the_expected_table(demo_run):
    course, result = demo_run
    assert result.returncode == 0, result.stdout + result.stderr
    assert "All scores are the ones these submissions deserve." in result.stdout
    rows = {line.split()[0]: line.split() for line in result.stdout.splitlines()
            if line.split() and line.split()[0] in STUDENTS}
    # columns: student, encoding, multi_label, layer_shapes, fcn, total, expected, ok
    assert rows["demo-correct"][1:7] == ["3", "3", "3", "3", "12/12", "12"]
    assert rows["demo-partial"][1:7] == ["1", "3", "1", "0", "5/12", "5"]
    assert rows["demo-crash"][1:7] == ["3", "0", "3", "3", "9/12", "9"]
    assert rows["demo-infinite-loop"][1:7] == ["3", "3", "0", "3", "9/12", "9"]
    assert "Traceback" not in result.stdout + result.stderr


@pytest.mark.slow
def test_demo_writes_grades_csv(demo_run):
    course, _ = demo_run
    with open(course / ".grading" / "demo" / "grades.csv", newline="") as handle:
        grades = {row["student_id"]: row for row in csv.DictReader(handle)}
    assert set(grades) == set(STUDENTS)
    for student, points in EXPECTED_POINTS.items():
        assert float(grades[student]["score"]) == sum(points.values())
        assert float(grades[student]["max_score"]) == 12.0


@pytest.mark.slow
def test_demo_feedback_hides_hidden_tests(demo_run):
    course, _ = demo_run
    for student in STUDENTS:
        html = (course / ".grading/demo/feedback" / student / "fcn_basics/fcn_basics.html").read_text()
        assert "hidden tests: their code is not shown" in html
        for secret in ("BEGIN HIDDEN TESTS", "_want_decoded", "default_rng(2027)", "_want"):
            assert secret not in html, f"{student}'s feedback shows hidden test code ({secret})"
    partial = (course / ".grading/demo/feedback/demo-partial/fcn_basics/fcn_basics.html").read_text()
    assert "should raise ValueError for a negative label" in partial, "a failed hidden test should show its message"
    # the intro's link to its lecture resolves in the course, not from the feedback folder: text
    assert 'href="../../lectures/' not in partial and "01_overview.ipynb</code> (in the course folder)" in partial


@pytest.mark.slow
def test_demo_release_matches_the_committed_exercises(demo_run):
    course, _ = demo_run
    for notebook in (REPO_ROOT / "exercises").rglob("*.ipynb"):
        assert (course / notebook.relative_to(REPO_ROOT)).read_bytes() == notebook.read_bytes()
