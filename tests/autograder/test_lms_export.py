"""`segcourse export --format canvas|moodle|csv` against the LMSs' grade-import specifications
(issue 14, item 4; the specifications are cited in ``autograder/lms_export.py``).

A small gradebook is built with nbgrader's own API (no grading run): two assignments, three
students (one whose last name holds a comma and a quote, one without e-mail or LMS id, one
without names), a missing submission, a late penalty, a written answer graded by hand and
one still waiting. Each export is parsed back with ``csv`` and checked cell by cell.
"""

from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

import pytest

from autograder.cli import EXIT_OK, EXIT_USAGE, main
from autograder.course import course_config
from autograder.lms_export import CANVAS_IDENTITY, CANVAS_POINTS_ROW, MOODLE_IDENTITY, export_gradebook
from tests import REPO_ROOT

A1, A2 = "fcn_basics", "losses_metrics"
# (student, assignment) -> points per cell; a missing pair is no submission
AUTO = {("ada", A1): {"code1": 3.0}, ("ada", A2): {"code2": 4.0},
        ("bob", A1): {"code1": 1.0}, ("cyd", A1): {"code1": 2.0}}
STUDENTS = {"ada": dict(first_name="Ada", last_name="Lovelace", email="ada@example.org", lms_user_id="1001"),
            "bob": dict(first_name="Bob", last_name='O"Neil, Jr.', email=None, lms_user_id=None),
            "cyd": dict(first_name=None, last_name=None, email="cyd@example.org", lms_user_id="1003")}


@pytest.fixture(scope="module")
def course(tmp_path_factory) -> Path:
    """A course folder whose gradebook holds the grades above: ada's written answer graded 1.5
    by hand and 1 point of late penalty on her A2; bob's answer left blank (0 automatically);
    cyd's answer waiting for the instructor. The tests only read it."""
    from nbgrader.api import Gradebook

    folder = tmp_path_factory.mktemp("course")
    (folder / "solutions").mkdir()
    config = course_config(folder)
    with Gradebook(config.CourseDirectory.db_url, config.CourseDirectory.course_id) as gradebook:
        cells_of = {A1: [("code1", 3, "code"), ("answer", 2, "markdown")], A2: [("code2", 5, "code")]}
        for assignment, cells in cells_of.items():
            gradebook.add_assignment(assignment)
            gradebook.add_notebook(assignment, assignment)
            for name, points, kind in cells:
                gradebook.add_grade_cell(name, assignment, assignment, max_score=points, cell_type=kind)
        for student, fields in STUDENTS.items():
            gradebook.add_student(student, **fields)
        for (student, assignment), points in AUTO.items():
            gradebook.add_submission(assignment, student)
            for cell, score in points.items():
                grade = gradebook.find_grade(cell, assignment, assignment, student)
                grade.auto_score, grade.needs_manual_grade = score, False
        answers = {"ada": dict(manual_score=1.5, needs_manual_grade=False),
                   "bob": dict(auto_score=0.0, needs_manual_grade=False), "cyd": dict(needs_manual_grade=True)}
        for student, values in answers.items():
            grade = gradebook.find_grade("answer", A1, A1, student)
            for key, value in values.items():
                setattr(grade, key, value)
        gradebook.find_submission_notebook(A2, A2, "ada").late_submission_penalty = 1.0
        gradebook.db.commit()
    return folder


def read_rows(path: Path) -> list[list[str]]:
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.reader(handle))


# ----------------------------------------------------------------------------- Canvas
def test_canvas_columns_points_row_and_scores(course, tmp_path):
    result = export_gradebook(course_config(course), "canvas", tmp_path / "canvas.csv")
    rows = read_rows(result.path)
    assert rows[0] == CANVAS_IDENTITY + [A1, A2] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", A1, A2]
    assert rows[1] == [CANVAS_POINTS_ROW, "", "", "", "", "5", "5"]
    by_login = {row[3]: row for row in rows[2:]}
    assert by_login["ada"] == ["Lovelace, Ada", "1001", "", "ada", "", "4.5", "3"]   # 3 + 1.5 by hand; 4 - 1 late
    assert by_login["bob"] == ['O"Neil, Jr., Bob', "", "", "bob", "", "1", ""]       # no A2 submission: blank
    assert by_login["cyd"] == ["cyd", "1003", "", "cyd", "", "2", ""]                # no names: the id
    raw = result.path.read_text()
    assert '"Lovelace, Ada"' in raw and '"O""Neil, Jr., Bob"' in raw, "RFC 4180 quoting of commas and quotes"


def test_canvas_warns_about_missing_ids_and_pending_written_answers(course, tmp_path):
    warnings = export_gradebook(course_config(course), "canvas", tmp_path / "c.csv").warnings
    assert any(w.startswith("canvas: ID is empty for bob (no lms_user_id") for w in warnings), warnings
    pending = [w for w in warnings if "written answers not graded yet" in w]
    assert pending and f"cyd/{A1}" in pending[0] and "2 points" in pending[0] and "ada" not in pending[0]


# ----------------------------------------------------------------------------- Moodle
def test_moodle_identifiers_grades_and_feedback(course, tmp_path):
    result = export_gradebook(course_config(course), "moodle", tmp_path / "moodle.csv", [A1, A2])
    rows = read_rows(result.path)
    assert rows[0] == MOODLE_IDENTITY + [A1, f"Feedback: {A1}", A2, f"Feedback: {A2}"]
    assert rows[0][:5] == ["First name", "Last name", "Username", "ID number", "Email address"]
    by_user = {row[2]: row for row in rows[1:]}
    assert by_user["ada"] == ["Ada", "Lovelace", "ada", "1001", "ada@example.org", "4.5", "4.5/5", "3", "3/5"]
    assert by_user["bob"][:5] == ["Bob", 'O"Neil, Jr.', "bob", "", ""]
    assert by_user["bob"][7:] == ["", "no submission"]                      # empty = no grade in Moodle
    assert by_user["cyd"][5:7] == ["2", "2/5 so far; 2 points of written answers not graded yet"]
    assert any(w.startswith("moodle: Email address is empty for bob") and "map 'Username'" in w
               for w in result.warnings), result.warnings


def test_one_assignment_only(course, tmp_path):
    rows = read_rows(export_gradebook(course_config(course), "canvas", tmp_path / "a2.csv", [A2]).path)
    assert rows[0][5:] == [A2] and [row[5] for row in rows[2:]] == ["3", "", ""]


# ----------------------------------------------------------------------------- nbgrader's csv
def test_csv_is_nbgraders_own_export(course, tmp_path):
    rows = read_rows(export_gradebook(course_config(course), "csv", tmp_path / "n.csv", [A1]).path)
    header = rows[0]
    assert {"assignment", "student_id", "score", "max_score"} <= set(header)
    records = [dict(zip(header, row, strict=True)) for row in rows[1:]]
    assert {r["assignment"] for r in records} == {A1}
    ada = next(r for r in records if r["student_id"] == "ada")
    assert float(ada["score"]) == 4.5 and float(ada["max_score"]) == 5


# ----------------------------------------------------------------------------- the command
def test_export_command_writes_beside_the_gradebook_and_warns_on_stderr(course, capsys):
    assert main(["--course-dir", str(course), "export", "--format", "moodle"]) == EXIT_OK
    captured = capsys.readouterr()
    out_file = course / ".grading" / "grades-moodle.csv"
    assert str(out_file) in captured.out and out_file.is_file()
    assert "segcourse: warning: moodle: Email address is empty for bob" in captured.err


def test_an_assignment_not_in_the_gradebook_is_a_usage_error(course, capsys):
    assert main(["--course-dir", str(course), "export", "--format", "canvas", "--assignment", "unet"]) == EXIT_USAGE
    err = capsys.readouterr().err
    assert f"the gradebook has no assignment unet; it has: {A1}, {A2}" in err and "Traceback" not in err


@pytest.mark.parametrize("args, message", [
    (["export", "--format", "blackboard"], "invalid choice: 'blackboard' (choose from canvas, moodle, csv)"),
    (["export"], "the following arguments are required: --format"),
])
def test_bad_format_prints_usage(args, message):
    result = subprocess.run([sys.executable, "-m", "autograder.cli", *args], cwd=REPO_ROOT,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == EXIT_USAGE
    assert message in result.stderr.replace("'canvas', 'moodle', 'csv'", "canvas, moodle, csv")
    assert "usage: segcourse" in result.stderr and "Traceback" not in result.stderr
