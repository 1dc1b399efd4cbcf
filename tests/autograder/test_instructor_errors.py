"""Instructor operations that lose nothing: late and misplaced work, and errors in one line.

- Late work: a due date in the gradebook (nbgrader's ``Assignment.duedate``), a penalty
  applied by nbgrader's ``AssignLatePenalties`` with ``autograder.late.PenaltyPerTimeUnit``,
  shown in the batch summary and the student's feedback; a timestamp.txt that is not a time
  is refused as nbgrader 0.9.6 refuses it (nothing recorded).
- Misplaced work: ``fcn_basics-Copy1.ipynb`` beside the graded notebook is reported.
- Bad input is one line naming the cause and the fix: a decompression-bomb PNG, a
  --runtime-dir that is a file or does not exist, --workers 0, a full disk, a damaged
  gradebook; the release's hidden-test cells give ``nbgrader validate`` no value to read.

The batch runs on a fake sandbox (``RecordingSandbox`` of test_grader_batch) with every
check passing (``judge_submission`` stubbed): the sandbox is not the point here.
"""

from __future__ import annotations

import ast
import errno
import json
import shutil
import stat
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import nbformat
import pytest

from autograder import demo_class
from autograder.batch import GradeOptions, grade_batch
from autograder.batch_report import format_summary
from autograder.cli import EXIT_CHECK_FAILED, EXIT_USAGE, main
from autograder.course import course_config
from autograder.late import (
    LatePolicy,
    parse_due_date,
    parse_late_policy,
    read_timestamp,
    set_due_date,
)
from autograder.nbgrader_api import export_grades, release_assignment, submission_scores
from tests import REPO_ROOT
from tests.autograder.test_grader_batch import RecordingSandbox

ASSIGNMENT = "fcn_basics"
NOTEBOOK = demo_class.NOTEBOOK
DUE = "2026-12-01T23:59"


def _all_checks_pass(notebook, probes, records, points):
    """Every grade cell passes (nbgrader then gives it its points)."""
    verdicts = {grade_id: {"passed": True, "message": "passed", "points": p} for grade_id, p in points.items()}
    return "ok", "", verdicts, {}


@pytest.fixture
def late_class(tmp_path, monkeypatch):
    """A course copy; five honest submissions: on time, late, a timestamp that is not a time,
    an extra Copy1 notebook, and only a Copy1 notebook. Due date in the gradebook, 1/hour."""
    import autograder.sandboxed_run as sandboxed_run

    monkeypatch.setattr(sandboxed_run, "judge_submission", _all_checks_pass)
    for folder in ("solutions", "exercises"):
        shutil.copytree(REPO_ROOT / folder / ASSIGNMENT, tmp_path / folder / ASSIGNMENT)
    config = course_config(tmp_path, runtime_directory=tmp_path / ".grading", cell_timeout_s=60, late_penalty="1/hour")
    release_assignment(config, ASSIGNMENT)
    set_due_date(config, ASSIGNMENT, parse_due_date(DUE))
    answers = demo_class.solution_answers(tmp_path / "solutions" / ASSIGNMENT / NOTEBOOK)
    honest = demo_class.build_submission(tmp_path / "exercises" / ASSIGNMENT / NOTEBOOK, answers)
    submitted = tmp_path / ".grading" / "submitted"
    layout = {   # student: (notebook file names, timestamp.txt)
        "ontime": ([NOTEBOOK], "2026-12-01 20:00:00.000000 UTC"),
        "late": ([NOTEBOOK], "2026-12-02 02:09:00.000000 UTC"),          # 2 h 10 min late: 3 started hours
        "badstamp": ([NOTEBOOK], "next tuesday, probably"),
        "copy": ([NOTEBOOK, "fcn_basics-Copy1.ipynb"], "2026-12-01 20:00:00 UTC"),
        "copyonly": (["fcn_basics-Copy1.ipynb"], None),
    }
    for student, (names, stamp) in layout.items():
        folder = submitted / student / ASSIGNMENT
        folder.mkdir(parents=True)
        for name in names:
            nbformat.write(honest, folder / name)
        if stamp is not None:
            (folder / "timestamp.txt").write_text(stamp)
    return config, list(layout)


@pytest.fixture
def graded_late_class(late_class):
    config, students = late_class
    report = grade_batch(config, ASSIGNMENT, students, RecordingSandbox(),
                         GradeOptions(workers=1, seed=1, feedback=True), progress=lambda *_: None)
    return config, students, report


def _feedback(config, student: str) -> str:
    root = Path(config.CourseDirectory.root)
    return (root / config.CourseDirectory.feedback_directory / student / ASSIGNMENT / "fcn_basics.html").read_text()


# ----------------------------------------------------------------------------- late work
def test_late_work_gets_the_penalty_in_the_summary_feedback_and_grades(graded_late_class):
    config, students, report = graded_late_class
    by_student = {s.student: s for s in report.submissions}
    ontime = by_student["ontime"]
    assert ontime.status == "ok" and ontime.late_s == 0 and ontime.penalty == 0
    late = by_student["late"]
    assert late.status == "ok" and late.score == 12 and late.late_s == 130 * 60 and late.penalty == 3
    summary = format_summary(report)
    header = summary.splitlines()[0].split()
    assert "late" in header
    (row,) = [line for line in summary.splitlines() if line.startswith("late ")]
    assert "2 h 10 min, -3" in row, summary
    html = _feedback(config, "late")
    assert "Late submission." in html and "2 h 10 min after the due date (2026-12-01 23:59 UTC)" in html
    assert "Late penalty: 3 points" in html and "1 point per started hour late" in html
    assert "Late submission penalty (Score: -3.0)" in html          # nbgrader's own line
    assert "Late submission." not in _feedback(config, "ontime")
    grades_csv = export_grades(config, Path(config.CourseDirectory.root) / "grades.csv")
    rows = {line.split(",")[3]: line.split(",") for line in grades_csv.read_text().splitlines()[1:]}
    assert rows["late"][-3:] == ["3.0", "9.0", "12.0"], rows["late"]    # penalty, score, max score (nbgrader's CSV)


def test_a_timestamp_that_is_not_a_time_is_refused_as_nbgrader_refuses_it(graded_late_class, tmp_path):
    from nbgrader.coursedir import CourseDirectory

    config, students, report = graded_late_class
    bad = next(s for s in report.submissions if s.student == "badstamp")
    assert bad.status == "not_gradable" and not bad.recorded and bad.score is None
    assert "timestamp.txt holds 'next tuesday, probably', not a time" in bad.detail
    assert "Invalid timestamp string" in bad.detail and "correct it" in bad.detail
    assert bad.run_s == 0, "a refused submission is not run"
    graded = {s.student: s.graded for s in submission_scores(config, ASSIGNMENT, students)}
    assert graded["badstamp"] is False and graded["ontime"] is True, "nothing is recorded for it"
    assert "badstamp: not graded: timestamp.txt holds" in format_summary(report)
    # what nbgrader 0.9.6 itself does with that folder: its autograde stops (the "Invalid
    # timestamp string" failure; in 0.9.6 the call behind it raises AttributeError)
    folder = Path(config.CourseDirectory.root) / ".grading" / "submitted" / "badstamp" / ASSIGNMENT
    with pytest.raises((AttributeError, SystemExit, ValueError)):
        CourseDirectory().get_existing_timestamp(str(folder))


def test_timestamps_are_read_as_nbgrader_reads_them(tmp_path):
    assert read_timestamp(tmp_path).text is None and not read_timestamp(tmp_path).problem     # none: on time
    (tmp_path / "timestamp.txt").write_text("  \n")
    empty = read_timestamp(tmp_path)
    assert empty.text is None and not empty.problem and "graded as on time" in empty.note
    (tmp_path / "timestamp.txt").write_text("2026-12-02 01:00:00 CET\n")
    assert read_timestamp(tmp_path).text == "2026-12-02 01:00:00 CET"
    (tmp_path / "timestamp.txt").write_text("x" * 5000)
    assert "5000 bytes, not a time" in read_timestamp(tmp_path).problem
    (tmp_path / "timestamp.txt").unlink()
    (tmp_path / "timestamp.txt").mkdir()
    assert "not a plain file" in read_timestamp(tmp_path).problem


def test_late_policies():
    hour = parse_late_policy("1/hour")
    assert hour == LatePolicy("per_unit", 1.0, "hour")
    assert hour.penalty(12, 1) == 1 and hour.penalty(12, 3600) == 1 and hour.penalty(12, 3601) == 2
    assert hour.penalty(2, 10 * 3600) == 2, "at most the score"
    assert hour.penalty(12, 0) is None
    assert parse_late_policy("2 points per day").penalty(10, 86400 * 1.5) == 4
    assert parse_late_policy("zero").penalty(7, 5) == 7 and parse_late_policy("none").penalty(7, 5) is None
    for bad in ("1/fortnight", "-1/hour", "lots", "0/day"):
        with pytest.raises(ValueError, match="expected a late penalty such as 1/hour"):
            parse_late_policy(bad)
    assert str(parse_due_date("2026-12-01T23:59")) == "2026-12-01 23:59:00"
    for same in ("2026-12-02 00:59 +0100", "2026-12-02T00:59+01:00", "2026-12-02 00:59 Europe/Berlin"):
        assert str(parse_due_date(same)) == "2026-12-01 23:59:00", same
    with pytest.raises(ValueError, match="expected a due date"):
        parse_due_date("2026-12-01 23:59 Mars/Base")
    assert parse_due_date("none") is None


@pytest.mark.parametrize("args, message", [
    (["--late-penalty", "3/fortnight"], "argument --late-penalty: expected a late penalty such as 1/hour"),
    (["--due", "soonish"], "argument --due: expected a due date such as 2026-12-01T23:59"),
])
def test_bad_late_options_are_usage_errors(args, message, capsys):
    with pytest.raises(SystemExit) as stop:
        main(["grade", ASSIGNMENT, *args])
    assert stop.value.code == EXIT_USAGE and message in capsys.readouterr().err


def test_a_late_penalty_without_a_due_date_is_a_usage_error(tmp_path, capsys):
    runtime = tmp_path / "runtime"
    folder = runtime / "submitted" / "ada" / ASSIGNMENT
    folder.mkdir(parents=True)
    shutil.copy(REPO_ROOT / "exercises" / ASSIGNMENT / NOTEBOOK, folder / NOTEBOOK)
    status = main(["--course-dir", str(REPO_ROOT), "grade", ASSIGNMENT, "--runtime-dir", str(runtime),
                   "--late-penalty", "1/hour", "--allow-unsandboxed"])
    err = capsys.readouterr().err
    assert status == EXIT_USAGE and "--late-penalty 1/hour needs a due date: pass --due TIME" in err
    assert "Traceback" not in err and not (runtime / "autograded").exists(), "nothing was graded"


# ----------------------------------------------------------------------------- misplaced work
def test_a_copy1_notebook_is_reported_and_the_honest_one_graded(graded_late_class):
    config, students, report = graded_late_class
    by_student = {s.student: s for s in report.submissions}
    copy = by_student["copy"]
    assert copy.status == "ok" and copy.score == 12
    assert copy.notes == ["fcn_basics-Copy1.ipynb is not graded; rename it to fcn_basics.ipynb if it holds your "
                          "answers (only fcn_basics.ipynb is graded)"]
    summary = format_summary(report)
    assert "copy: fcn_basics-Copy1.ipynb is not graded; rename it to fcn_basics.ipynb" in summary, summary
    copy_feedback = _feedback(config, "copy")
    assert "Grading notes" in copy_feedback and "fcn_basics-Copy1.ipynb is not graded" in copy_feedback
    only = by_student["copyonly"]
    assert only.status == "not_gradable" and only.score == 0
    assert ("fcn_basics.ipynb is missing from the submission (fcn_basics-Copy1.ipynb is not graded; rename it to "
            "fcn_basics.ipynb)") in only.detail
    assert "rename it to fcn_basics.ipynb" in _feedback(config, "copyonly")
    assert "Grading notes" not in _feedback(config, "ontime")


def test_feedback_still_shows_each_hidden_tests_docstring(graded_late_class):
    config, _, _ = graded_late_class
    html = _feedback(config, "ontime")
    source = nbformat.read(REPO_ROOT / "solutions" / ASSIGNMENT / NOTEBOOK, as_version=4)
    docstrings = [ast.get_docstring(ast.parse(cell.source)) for cell in source.cells
                  if "BEGIN HIDDEN TESTS" in cell.source]     # each hidden-test cell opens with one
    assert len(docstrings) == 4 and all(text.startswith("Hidden test:") for text in docstrings), docstrings
    for docstring in docstrings:
        assert docstring.split(",")[0] in html, docstring
    assert "hidden tests: their code is not shown" in html and "BEGIN HIDDEN TESTS" not in html


def test_odd_file_names_are_shown_as_plain_text(tmp_path):
    from autograder.late import extra_notebooks

    (tmp_path / "<img src=x onerror=alert(1)>.ipynb").write_text("{}")
    (tmp_path / ".ipynb_checkpoints").mkdir()
    (tmp_path / ".ipynb_checkpoints" / "fcn_basics-checkpoint.ipynb").write_text("{}")
    (notes,) = extra_notebooks(tmp_path, [NOTEBOOK])
    assert "<" not in notes and ">" not in notes and notes.endswith("rename it to fcn_basics.ipynb")


# ----------------------------------------------------------------------------- one-line errors
def _bomb_png(path: Path, width: int, height: int) -> None:
    """A tiny PNG whose header claims ``width`` x ``height`` pixels."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 64))
                     + chunk(b"IEND", b""))


def test_validate_dataset_names_a_decompression_bomb(tmp_path, capsys):
    from course_utils import datasets

    root = datasets.write_fake_dataset("camvid", tmp_path / "camvid", num_images=2, size=(6, 8))
    image = sorted(p for p in root.rglob("*.png") if "label" not in str(p).lower() and "annot" not in str(p).lower())[0]
    _bomb_png(image, 60000, 60000)
    status = main(["validate-dataset", "camvid", str(root)])
    out, err = capsys.readouterr()
    assert status == EXIT_CHECK_FAILED and "Traceback" not in out + err
    (line,) = [line for line in out.splitlines() if image.name in line and "image too large" in line]
    assert "3,600,000,000 pixels" in line and "decompression bomb" in line


def test_a_runtime_dir_that_is_a_file_is_a_usage_error(tmp_path, capsys):
    file = tmp_path / "grading.txt"
    file.write_text("not a folder")
    status = main(["grade", ASSIGNMENT, "--runtime-dir", str(file)])
    err = capsys.readouterr().err
    assert status == EXIT_USAGE and f"--runtime-dir {file} is a file, not a folder" in err
    assert "Traceback" not in err and len([line for line in err.splitlines() if "error:" in line]) == 1


def test_a_mistyped_runtime_dir_is_named_and_not_created(tmp_path, capsys):
    (tmp_path / "grading").mkdir()
    typo = tmp_path / "gradng"
    status = main(["grade", ASSIGNMENT, "--runtime-dir", str(typo)])
    err = capsys.readouterr().err
    assert status == EXIT_USAGE and f"--runtime-dir {typo} does not exist: did you mean {tmp_path / 'grading'}?" in err
    assert "create it first" in err and not typo.exists(), "a mistyped folder is never created"


def test_the_exchange_made_by_the_course_config_is_not_world_writable(tmp_path, monkeypatch):
    monkeypatch.setattr("autograder.course.instructor_config_dirs", lambda: [])    # the default exchange, not a hub's
    course_config(tmp_path, runtime_directory=tmp_path / "runtime")
    exchange = tmp_path / "runtime" / "exchange"
    assert exchange.is_dir() and not exchange.stat().st_mode & stat.S_IWOTH
    exchange.chmod(0o777)        # as nbgrader's release_assignment leaves it: never changed back
    course_config(tmp_path, runtime_directory=tmp_path / "runtime")
    assert stat.S_IMODE(exchange.stat().st_mode) == 0o777


@pytest.mark.parametrize("option, unit", [("--workers", "workers"), ("--cell-timeout", "seconds"),
                                          ("--notebook-timeout", "seconds")])
def test_number_options_name_what_they_count(option, unit, capsys):
    with pytest.raises(SystemExit) as stop:
        main(["grade", ASSIGNMENT, option, "0"])
    err = capsys.readouterr().err
    assert stop.value.code == EXIT_USAGE and f"argument {option}: expected a positive number of {unit}, got 0" in err
    with pytest.raises(SystemExit):
        main(["grade", ASSIGNMENT, option, "two"])
    assert f"expected a whole number of {unit}, got 'two'" in capsys.readouterr().err


def test_a_full_disk_or_no_permission_is_one_line(monkeypatch, capsys):
    import autograder.cli as cli

    def full(course_root, args):
        raise OSError(errno.ENOSPC, "No space left on device", "/course/.grading/grades.csv")

    monkeypatch.setitem(cli.COMMANDS, "release", full)
    assert main(["release"]) == EXIT_CHECK_FAILED
    err = capsys.readouterr().err
    assert err == ("segcourse: error: No space left on device: /course/.grading/grades.csv "
                   "(the disk is full: free some space and run again)\n")

    def forbidden(*args, **kwargs):
        raise PermissionError(errno.EACCES, "Permission denied", "/data/camvid/train")

    monkeypatch.setattr("course_utils.datasets.validate_dataset", forbidden)
    assert main(["validate-dataset", "camvid", str(REPO_ROOT)]) == EXIT_CHECK_FAILED
    assert capsys.readouterr().err.strip() == ("segcourse: error: Permission denied: /data/camvid/train "
                                               "(no permission: check the owner and mode of the file and its folder)")


def test_a_damaged_gradebook_when_setting_the_due_date_is_one_line(tmp_path):
    from argparse import Namespace

    from autograder.cli import _apply_late_policy
    from autograder.gradebook_errors import GradebookError

    config = course_config(tmp_path, runtime_directory=tmp_path / "runtime")
    (tmp_path / "runtime" / "gradebook.db").write_bytes(b"this is not a database, just bytes" * 100)
    with pytest.raises(GradebookError) as error:
        _apply_late_policy(config, ASSIGNMENT, Namespace(due=("set", parse_due_date(DUE)), late_penalty=None))
    assert "\n" not in str(error.value) and "gradebook error" in str(error.value)
    assert "not a database" in str(error.value)


# ----------------------------------------------------------------------------- the release
def _ends_in_a_value(source: str) -> bool:
    """The cell's last statement is an expression IPython shows (a call such as print(...)
    returns None: nothing shown)."""
    body = ast.parse(source).body
    return bool(body) and isinstance(body[-1], ast.Expr) and not isinstance(body[-1].value, ast.Call)


@pytest.mark.parametrize("path", sorted((REPO_ROOT / "exercises").glob("*/*.ipynb")), ids=lambda p: p.stem)
def test_release_test_cells_give_nbgrader_validate_no_value_to_read(path):
    """A test cell whose last statement is an expression shows a value, which ``nbgrader
    validate`` reads as a score ("cannot be converted to a float"); each still opens with
    its docstring."""
    notebook = json.loads(path.read_text())
    for cell in notebook["cells"]:
        meta = cell["metadata"].get("nbgrader", {})
        if cell["cell_type"] == "code" and meta.get("grade") and not meta.get("solution"):
            source = "".join(cell["source"])
            assert source.startswith('"""'), meta["grade_id"]
            assert not _ends_in_a_value(source), f"{meta['grade_id']} ends in a value: {source[-80:]!r}"


@pytest.mark.slow
def test_nbgrader_validate_of_a_release_prints_no_float_warning():
    result = subprocess.run([str(Path(sys.executable).parent / "nbgrader"), "validate",
                             f"exercises/{ASSIGNMENT}/{NOTEBOOK}"], cwd=REPO_ROOT, capture_output=True, text=True,
                            timeout=600)
    assert "cannot be converted" not in result.stdout + result.stderr   # nbgrader wraps "... to\n a float"
    assert "NotImplementedError" in result.stdout + result.stderr, "validate ran the release (its stubs fail)"


# ----------------------------------------------------------------------------- a real batch
@pytest.mark.slow
def test_segcourse_grade_with_a_late_policy_end_to_end(tmp_path):
    """`segcourse grade --due --late-penalty` in the real sandbox: a correct notebook 2 h 10 min
    late beside a Copy1 notebook loses 3 points, and the summary, feedback and grades say so."""
    from autograder.sandbox import BubblewrapSandbox

    if not BubblewrapSandbox().available():
        pytest.skip("bubblewrap (and root) needed")
    runtime = tmp_path / "runtime"
    folder = runtime / "submitted" / "ada" / ASSIGNMENT
    folder.mkdir(parents=True)
    answers = demo_class.solution_answers(REPO_ROOT / "solutions" / ASSIGNMENT / NOTEBOOK)
    notebook = demo_class.build_submission(REPO_ROOT / "exercises" / ASSIGNMENT / NOTEBOOK, answers)
    nbformat.write(notebook, folder / NOTEBOOK)
    nbformat.write(notebook, folder / "fcn_basics-Copy1.ipynb")
    (folder / "timestamp.txt").write_text("2026-12-02 02:09:00.000000 UTC")
    result = subprocess.run([sys.executable, "-m", "autograder.cli", "--course-dir", str(REPO_ROOT), "grade",
                             ASSIGNMENT, "--runtime-dir", str(runtime), "--due", DUE, "--late-penalty", "1/hour",
                             "--workers", "1", "--seed", "1"], capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    out = result.stdout
    assert "due date of fcn_basics: 2026-12-01 23:59 UTC (gradebook); late penalty: 1 point per started hour" in out
    (row,) = [line for line in out.splitlines() if line.startswith("ada ") and " ok " in line]
    assert "12/12" in row and "2 h 10 min, -3" in row, out
    assert any(line.startswith("ada ") and line.endswith("9/12 (late -3)") for line in out.splitlines()), out
    assert "ada: fcn_basics-Copy1.ipynb is not graded; rename it to fcn_basics.ipynb" in out
    html = (runtime / "feedback" / "ada" / ASSIGNMENT / "fcn_basics.html").read_text()
    assert "Late penalty: 3 points" in html and "fcn_basics-Copy1.ipynb is not graded" in html
    (line,) = [row for row in (runtime / "grades.csv").read_text().splitlines() if ",ada," in row]
    assert line.split(",")[-3:] == ["3.0", "9.0", "12.0"], line


def test_the_score_table_shows_the_total_less_the_late_penalty():
    from autograder.cli import format_score_table
    from autograder.nbgrader_api import SubmissionScore

    scores = [SubmissionScore("ada", {"test_dice_hidden": 12.0}, 12.0, 12.0), SubmissionScore("bob", {}, 5.0, 12.0)]
    lines = format_score_table(scores, penalties={"ada": 3.0}).splitlines()
    assert lines[2].split()[-3:] == ["9/12", "(late", "-3)"] and lines[3].split()[-1] == "5/12"
