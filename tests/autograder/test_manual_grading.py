"""A written answer counts (issue 13, item 4): ``losses_metrics`` Part 7's answer cell is an
nbgrader manually graded cell (markdown, ``grade`` and ``solution``), editable by the student,
kept by both grading paths and left for the instructor's grade.

One fresh course copy, two submissions with every function right: ``typed`` wrote an answer in
the answer cell, ``blank`` left the cell as released. ``segcourse grade`` (sandboxed, trusted
checks) grades both once; ``nbgrader autograde`` (the formgrader's path, through
``autograder/grading_path.py``) grades a third copy of the typed answer.
"""

from __future__ import annotations

import contextlib
import io
import json
import subprocess
from pathlib import Path

import nbformat
import pytest

from autograder import demo_class
from autograder.cli import EXIT_OK, main
from autograder.course import course_config
from autograder.nbgrader_api import make_api, submission_scores, written_answers
from autograder.sandbox import BubblewrapSandbox
from tests.autograder.test_grading_paths import VENV_BIN, fresh_course, nbgrader_env

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not BubblewrapSandbox().available(), reason="bubblewrap (and root) needed")]

ASSIGNMENT = "losses_metrics"
NOTEBOOK = f"{ASSIGNMENT}.ipynb"
ANSWER_ID = "part7_answer"
ANSWER_POINTS = 2.0
AUTOGRADED_POINTS = 18.0             # six parts of 3 points, all right
TYPED = ("In my run the Dice loss gave the separator the higher IoU (0.41 against 0.12), while "
         "cross-entropy kept the background slightly higher: every *pixel* counts the same in it.")


def release_notebook(course: Path):
    return nbformat.read(course / "exercises" / ASSIGNMENT / NOTEBOOK, as_version=4)


def submit(course: Path, student: str, answer: str | None) -> None:
    """All six functions right; ``answer`` typed into the answer cell (None: left as released)."""
    answers = demo_class.solution_answers(course / "solutions" / ASSIGNMENT / NOTEBOOK)
    answers.pop(ANSWER_ID)
    if answer is not None:
        answers[ANSWER_ID] = answer
    notebook = demo_class.build_submission(course / "exercises" / ASSIGNMENT / NOTEBOOK, answers)
    folder = course / ".grading" / "submitted" / student / ASSIGNMENT
    folder.mkdir(parents=True)
    nbformat.write(notebook, folder / NOTEBOOK)
    (folder / "timestamp.txt").write_text("2026-11-25 12:00:00.000000 UTC")


def answer_cell(path: Path):
    (cell,) = [c for c in nbformat.read(path, as_version=4).cells
               if c.metadata.get("nbgrader", {}).get("grade_id") == ANSWER_ID]
    return cell


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """(course, exit status, printed output) after `segcourse grade` of typed and blank."""
    course = fresh_course(tmp_path_factory.mktemp("manual"))
    submit(course, "typed", TYPED)
    submit(course, "blank", None)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        status = main(["--course-dir", str(course), "grade", ASSIGNMENT, "--workers", "2", "--seed", "3"])
    return course, status, out.getvalue()


# ----------------------------------------------------------------------------- the notebook
def test_the_answer_cell_is_an_editable_manually_graded_cell():
    from tests import REPO_ROOT

    cell = answer_cell(REPO_ROOT / "exercises" / ASSIGNMENT / NOTEBOOK)
    meta = cell.metadata["nbgrader"]
    assert cell.cell_type == "markdown"
    assert meta["grade"] and meta["solution"] and not meta["locked"] and meta["points"] == ANSWER_POINTS
    assert cell.metadata.get("editable", True), "the student must be able to type in it"
    assert cell.source == "YOUR ANSWER HERE", "the release shows an empty answer, not the model answer"
    notebook = release_notebook(REPO_ROOT)
    question = notebook.cells[notebook.cells.index(cell) - 1]
    assert "answer cell right below" in question.source and "Do not add a new cell" in question.source


# ----------------------------------------------------------------------------- segcourse grade
def test_segcourse_grade_keeps_the_answer_for_the_instructor(graded):
    course, status, out = graded
    assert status == EXIT_OK, out
    config = course_config(course)
    scores = {s.student: s for s in submission_scores(config, ASSIGNMENT, ["typed", "blank"])}
    for student in ("typed", "blank"):
        assert scores[student].score == AUTOGRADED_POINTS, scores[student].by_cell
        assert scores[student].max_score == AUTOGRADED_POINTS + ANSWER_POINTS
        assert scores[student].pending == ANSWER_POINTS
    kept = answer_cell(course / ".grading" / "autograded" / "typed" / ASSIGNMENT / NOTEBOOK).source
    assert "Dice loss gave the separator the higher IoU (0.41 against 0.12)" in kept
    # the formgrader's own listing (nbgrader's API): waiting for a manual grade
    api = make_api(config)
    for student in ("typed", "blank"):
        assert api.get_submission(ASSIGNMENT, student)["needs_manual_grade"] is True


def test_the_report_shows_the_pending_points_and_flags_the_blank_answer(graded):
    course, _, out = graded
    assert f"{AUTOGRADED_POINTS:g}/{AUTOGRADED_POINTS + ANSWER_POINTS:g} ({ANSWER_POINTS:g} to grade by hand)" in out
    assert "2 of 2, 4 points pending, 1 blank" in out
    blank_row = next(line for line in out.splitlines() if line.split()[:2] == [ASSIGNMENT, "blank"])
    typed_row = next(line for line in out.splitlines() if line.split()[:2] == [ASSIGNMENT, "typed"])
    assert "BLANK" in blank_row and "BLANK" not in typed_row and "In my run the Dice loss" in typed_row
    report = json.loads((course / ".grading" / f"grading-report-{ASSIGNMENT}.json").read_text())
    by_student = {a["student"]: a for a in report["written_answers"]}
    assert by_student["blank"]["blank"] is True and by_student["typed"]["blank"] is False
    assert by_student["typed"]["pending"] and by_student["typed"]["max_points"] == ANSWER_POINTS


def test_a_manual_grade_counts_in_the_total_and_status(graded, capsys):
    from nbgrader.api import Gradebook

    course, _, _ = graded
    config = course_config(course)
    with Gradebook(config.CourseDirectory.db_url, config.CourseDirectory.course_id) as gradebook:
        grade = gradebook.find_grade(ANSWER_ID, ASSIGNMENT, ASSIGNMENT, "typed")   # cell, notebook, assignment
        # as the formgrader's Manual Grading saves it (nbgrader's GradeHandler.put)
        grade.manual_score = 1.5
        grade.needs_manual_grade = False
        gradebook.db.commit()
    (typed,) = submission_scores(config, ASSIGNMENT, ["typed"])
    assert typed.score == AUTOGRADED_POINTS + 1.5 and typed.pending == 0
    answers = {a.student: a for a in written_answers(config, ASSIGNMENT)}
    assert answers["typed"].score == 1.5 and not answers["typed"].pending
    assert answers["blank"].pending and answers["blank"].blank
    assert main(["--course-dir", str(course), "status"]) == EXIT_OK
    out = capsys.readouterr().out
    assert "1 of 2, 2 points pending, 1 blank" in out


def test_grading_again_keeps_the_instructors_grade(graded, capsys):
    """nbgrader flags a hand-graded cell for review again after a new autograde; its manual
    score stays and still counts (in the total, the status and the export)."""
    from autograder.lms_export import export_gradebook

    course, _, _ = graded
    config = course_config(course)
    (before,) = submission_scores(config, ASSIGNMENT, ["typed"])
    assert before.pending == 0, "run after test_a_manual_grade_counts_in_the_total_and_status"
    assert main(["--course-dir", str(course), "grade", ASSIGNMENT, "--student", "typed", "--workers", "1"]) == EXIT_OK
    (after,) = submission_scores(config, ASSIGNMENT, ["typed"])
    assert after.score == AUTOGRADED_POINTS + 1.5 and after.pending == 0
    answers = {a.student: a for a in written_answers(config, ASSIGNMENT)}
    assert answers["typed"].score == 1.5 and not answers["typed"].pending
    result = export_gradebook(config, "canvas", course / "canvas.csv", [ASSIGNMENT])
    typed_row = next(row for row in result.path.read_text().splitlines() if ",typed," in row)
    assert typed_row.endswith(f",{AUTOGRADED_POINTS + 1.5:g}")
    assert not any("typed/" in w for w in result.warnings), result.warnings


# ----------------------------------------------------------------------------- nbgrader autograde
def test_nbgrader_autograde_keeps_the_answer_too(graded):
    course, _, _ = graded
    submit(course, "typed-nbgrader", TYPED)
    result = subprocess.run([str(VENV_BIN / "nbgrader"), "autograde", ASSIGNMENT, "--student", "typed-nbgrader"],
                            cwd=course, env=nbgrader_env(), capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    kept = answer_cell(course / ".grading" / "autograded" / "typed-nbgrader" / ASSIGNMENT / NOTEBOOK).source
    assert "Dice loss gave the separator the higher IoU (0.41 against 0.12)" in kept
    (score,) = submission_scores(course_config(course), ASSIGNMENT, ["typed-nbgrader"])
    assert score.score == AUTOGRADED_POINTS and score.pending == ANSWER_POINTS
