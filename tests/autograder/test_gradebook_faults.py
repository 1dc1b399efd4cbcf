"""Instructor operations that lose nothing: faults injected into real ``segcourse`` runs.

- kill -9 of a real ``segcourse grade`` process at each stage of recording a student:
  afterwards every student has its old grades or its new ones, never empty ones, and the
  next run takes the dead process's lock over and grades;
- the after-batch check flags a grade cell without a score (what a kill left before);
- two batches on one course: the second refuses at once, naming the first one's pid;
- a full disk: grades.csv keeps its previous content, and the error is one line;
- a gradebook truncated to 0 bytes, or garbage: exit 4 before any sandbox runs, naming
  the latest good backup; ``segcourse restore-gradebook`` restores it;
- backups are verified, a bad one never replaces or prunes a good one, ten are kept.

A fake sandbox stands in for the notebook run (the sandbox is not the point here).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest

from autograder import demo_class
from autograder.atomic_files import OutputError
from autograder.cli import EXIT_CHECK_FAILED, EXIT_GRADEBOOK, EXIT_OK, main
from autograder.course import course_config
from autograder.course_lock import LOCK_NAME
from autograder.gradebook import (
    backup_gradebook,
    check_gradebook,
    gradebook_problem,
    latest_good_backup,
    list_backups,
)
from autograder.gradebook_errors import GradebookError
from autograder.nbgrader_api import export_grades, release_assignment
from autograder.sandbox import Job, Sandbox, SandboxResult
from tests import REPO_ROOT

ASSIGNMENT = "fcn_basics"
STUDENTS = ["ada", "bob", "cyd"]


class FailingSandbox(Sandbox):
    """Runs nothing: the notebook 'ran' and no check did, so every hidden check scores 0."""

    name = "fake"

    def available(self) -> bool:
        return True

    def run(self, job: Job) -> SandboxResult:
        notebook = nbformat.read(job.workdir / job.argv[2], as_version=4)
        now = time.time()
        records = [{"event": "start", "started": now}, {"event": "kernel_ready", "at": now}]
        records += [{"event": "cell", "index": i, "id": c.get("id"), "status": "ok", "outputs": []}
                    for i, c in enumerate(notebook.cells) if c.cell_type == "code"]
        records.append({"event": "finished", "at": now})
        return SandboxResult(0, "".join(json.dumps(r) + "\n" for r in records), "", False, 0.01)


class MustNotRun(FailingSandbox):
    def run(self, job: Job) -> SandboxResult:
        raise AssertionError("a sandbox ran although the gradebook cannot be used")


def db_of(course: Path) -> Path:
    return course / ".grading" / "gradebook.db"


def points(course: Path) -> dict[str, dict[str, float | None]]:
    """Every student's grades of fcn_basics, read with sqlite (no nbgrader session)."""
    with sqlite3.connect(db_of(course)) as connection:
        rows = connection.execute(
            "SELECT sa.student_id, c.name, g.auto_score, g.manual_score FROM grade g "
            "JOIN submitted_notebook sn ON sn.id = g.notebook_id "
            "JOIN submitted_assignment sa ON sa.id = sn.assignment_id "
            "JOIN base_cell c ON c.id = g.cell_id").fetchall()
    found: dict[str, dict[str, float | None]] = {}
    for student, cell, auto, manual in rows:
        found.setdefault(student, {})[cell] = manual if manual is not None else auto
    return found


def give_full_marks(course: Path) -> None:
    """The 'old' grades: what an earlier batch gave (every cell its maximum)."""
    with sqlite3.connect(db_of(course)) as connection:
        connection.execute("UPDATE grade SET auto_score = "
                           "(SELECT max_score FROM grade_cells gc WHERE gc.id = grade.cell_id) "
                           "WHERE cell_id IN (SELECT id FROM grade_cells)")


def grade(course: Path, sandbox: Sandbox, monkeypatch, *extra: str) -> int:
    import autograder.sandbox
    monkeypatch.setattr(autograder.sandbox, "detect_sandbox", lambda *a, **k: sandbox)
    return main(["--course-dir", str(course), "grade", ASSIGNMENT, "--workers", "1", "--seed", "1", *extra])


@pytest.fixture(scope="module")
def graded_template(tmp_path_factory):
    """A course with fcn_basics released, three submissions graded once (full marks put in
    afterwards as the 'old' grades), grades.csv exported."""
    course = tmp_path_factory.mktemp("graded")
    for folder in ("solutions", "exercises"):
        shutil.copytree(REPO_ROOT / folder / ASSIGNMENT, course / folder / ASSIGNMENT)
    config = course_config(course)
    release_assignment(config, ASSIGNMENT)
    answers = demo_class.solution_answers(course / "solutions" / ASSIGNMENT / demo_class.NOTEBOOK)
    release = course / "exercises" / ASSIGNMENT / demo_class.NOTEBOOK
    for student in STUDENTS:
        folder = course / ".grading" / "submitted" / student / ASSIGNMENT
        folder.mkdir(parents=True)
        nbformat.write(demo_class.build_submission(release, answers), folder / demo_class.NOTEBOOK)
    mp = pytest.MonkeyPatch()
    try:
        assert grade(course, FailingSandbox(), mp) == EXIT_OK
    finally:
        mp.undo()
    give_full_marks(course)
    export_grades(config, course / ".grading" / "grades.csv")
    return course


@pytest.fixture
def course(graded_template, tmp_path):
    """This test's own copy (the gradebook's paths are absolute: a copy at the same depth)."""
    copy = tmp_path / "course"
    shutil.copytree(graded_template, copy, symlinks=True)
    return copy


def expected_old_and_new(course: Path) -> tuple[dict, dict]:
    old = points(course)["ada"]
    assert old and all(v and v > 0 for v in old.values()), old
    return old, {cell: 0.0 for cell in old}


# ----------------------------------------------------------------------------- kill -9
DRIVER = r'''
import os, signal, sys
course, stage, nth = sys.argv[1], sys.argv[2], int(sys.argv[3])
calls = {"n": 0}

def maybe_die(where):
    if where == stage:
        calls["n"] += 1
        if calls["n"] == nth:
            if os.environ.get("FAULT_HOLD"):         # hold the batch instead of dying
                open(os.environ["FAULT_HOLD"] + ".held", "w").write(str(os.getpid()))
                import time
                while not os.path.exists(os.environ["FAULT_HOLD"] + ".go"):
                    time.sleep(0.1)
                return
            os.kill(os.getpid(), signal.SIGKILL)

import autograder.student_recorder as student_recorder
student_recorder._fault_point = maybe_die
if os.environ.get("FAULT_SPILL"):    # a one-page cache: changes reach the file before COMMIT
    import sqlite3
    class SmallCache:
        def __getattr__(self, name):
            return getattr(sqlite3, name)
        def connect(self, *args, **kwargs):
            connection = sqlite3.connect(*args, **kwargs)
            connection.execute("PRAGMA cache_size = 1")
            connection.execute("PRAGMA cache_spill = 1")
            return connection
    student_recorder.sqlite3 = SmallCache()
from nbgrader.api import Gradebook
from nbgrader.preprocessors import SaveAutoGrades
real_submission, real_score = Gradebook.update_or_create_submission, SaveAutoGrades._add_score
def update_or_create_submission(self, *args, **kwargs):
    result = real_submission(self, *args, **kwargs)
    maybe_die("nbgrader-submission")
    return result
def add_score(self, *args, **kwargs):
    real_score(self, *args, **kwargs)                # nbgrader commits each grade at once
    maybe_die("nbgrader-grade")
Gradebook.update_or_create_submission, SaveAutoGrades._add_score = update_or_create_submission, add_score

import autograder.sandbox
from tests.autograder.test_gradebook_faults import FailingSandbox
autograder.sandbox.detect_sandbox = lambda *a, **k: FailingSandbox()
from autograder.cli import main
sys.exit(main(["--course-dir", course, "grade", "fcn_basics", "--workers", "1", "--seed", "1"]))
'''


def run_driver(course: Path, stage: str, nth: int, env: dict | None = None, wait: bool = True):
    """Run ``segcourse grade`` on ``course`` (fake sandbox) in a new process that kills
    itself (SIGKILL) the ``nth`` time it reaches ``stage``."""
    script = course.parent / "driver.py"
    script.write_text(DRIVER)
    command = [sys.executable, str(script), str(course), stage, str(nth)]
    environment = {**os.environ, "PYTHONPATH": str(REPO_ROOT), **(env or {})}   # the driver imports tests.*
    if not wait:
        return subprocess.Popen(command, env=environment, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    return subprocess.run(command, env=environment, capture_output=True, text=True, timeout=600)


def grade_cells_per_student(course: Path) -> int:
    return len(points(course)["ada"])


# stage -> (which call kills: bob's, the second student; what bob has afterwards)
KILL_STAGES = {
    "copied": (2, "old"),                  # the gradebook copied for bob, nothing recorded yet
    "nbgrader-submission": (2, "old"),     # nbgrader made bob's submission in the copy
    "nbgrader-grade": (None, "old"),       # nbgrader committed bob's first grade (in the copy)
    "recorded": (2, "old"),                # nbgrader finished bob in the copy
    "merging": (2, "old"),                 # bob's old rows deleted in the open transaction
    "before-commit": (2, "old"),           # bob's new rows in, COMMIT not yet run
    "committed": (2, "new"),               # bob's transaction committed
}


@pytest.mark.slow
@pytest.mark.parametrize("stage", list(KILL_STAGES))
def test_kill_9_while_recording_leaves_old_or_new_grades(course, stage, monkeypatch, capsys):
    old, new = expected_old_and_new(course)
    nth, bob_after = KILL_STAGES[stage]
    if nth is None:                        # bob's first grade: after all of ada's
        nth = grade_cells_per_student(course) + 1
    csv_before = (course / ".grading" / "grades.csv").read_text()
    killed = run_driver(course, stage, nth)
    assert killed.returncode == -signal.SIGKILL, killed.stdout[-2000:] + killed.stderr[-2000:]
    journal = db_of(course).with_name("gradebook.db-journal")
    assert journal.exists() == (stage in ("merging", "before-commit")), "killed inside the transaction"

    after = points(course)
    assert after["ada"] == new, "ada's transaction was committed before the kill"
    assert after["bob"] == (new if bob_after == "new" else old), after["bob"]
    assert after["cyd"] == old
    assert all(v is not None for grades in after.values() for v in grades.values())
    assert check_gradebook(f"sqlite:///{db_of(course)}", "image-segmentation-fcn") == []
    assert (course / ".grading" / "grades.csv").read_text() == csv_before
    pid = (course / ".grading" / LOCK_NAME).read_text().split()[1]

    # the next run takes the dead process's lock over and grades everyone anew
    assert grade(course, FailingSandbox(), monkeypatch) == EXIT_OK
    err = capsys.readouterr().err
    assert f"taking over the lock on {course / '.grading'} left by pid {pid} (no longer running)" in err
    assert points(course) == {student: new for student in STUDENTS}


@pytest.mark.slow
def test_kill_9_with_the_transaction_half_written_to_the_file_rolls_back(course):
    """A one-page cache: bob's deletes and inserts reach gradebook.db before COMMIT; the
    kill leaves a hot journal, and the next connection puts the old pages back."""
    old, new = expected_old_and_new(course)
    killed = run_driver(course, "before-commit", 2, env={"FAULT_SPILL": "1"})
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    at_kill = db_of(course).read_bytes()
    journal = db_of(course).with_name("gradebook.db-journal")
    assert journal.stat().st_size > 0
    after = points(course)                 # the first connection rolls the journal back
    assert db_of(course).read_bytes() != at_kill and not journal.exists(), "the file was not half-written"
    assert after == {"ada": new, "bob": old, "cyd": old}
    assert check_gradebook(f"sqlite:///{db_of(course)}", "image-segmentation-fcn") == []


def test_kill_9_inside_nbgrader_recording_keeps_the_old_grades(course):
    """The finding: a kill between nbgrader's per-cell commits left empty grades (0/12)."""
    old, _ = expected_old_and_new(course)
    killed = run_driver(course, "nbgrader-grade", grade_cells_per_student(course) + 2)   # bob's 2nd grade
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    after = points(course)
    assert after["bob"] == old and after["cyd"] == old
    assert check_gradebook(f"sqlite:///{db_of(course)}", "image-segmentation-fcn") == []


def test_after_batch_check_flags_grades_without_a_score(course):
    """What a kill inside nbgrader's own autograde (the formgrader's path) can leave."""
    from nbgrader.api import Gradebook

    db_url = f"sqlite:///{db_of(course)}"
    with Gradebook(db_url) as gradebook:
        gradebook.add_student("dan")
        gradebook.add_submission(ASSIGNMENT, "dan")         # grades created, none scored yet
    problems = check_gradebook(db_url, "image-segmentation-fcn")
    assert problems and all(p.startswith("dan/fcn_basics/fcn_basics: grade cell ") for p in problems), problems
    assert "has no score" in problems[0] and len(problems) == grade_cells_per_student(course)


# ----------------------------------------------------------------------------- one batch per course
def test_a_second_batch_refuses_naming_the_first_ones_pid(course, monkeypatch, capsys, tmp_path):
    hold = tmp_path / "hold"
    first = run_driver(course, "copied", 1, env={"FAULT_HOLD": str(hold)}, wait=False)
    try:
        deadline = time.monotonic() + 300
        while not Path(f"{hold}.held").exists():
            assert first.poll() is None, first.communicate()
            assert time.monotonic() < deadline
            time.sleep(0.2)     # the first batch is starting
        started = time.perf_counter()
        status = grade(course, MustNotRun(), monkeypatch)
        refused_in = time.perf_counter() - started
        err = capsys.readouterr().err
        assert status == EXIT_GRADEBOOK and refused_in < 10
        assert err.strip().count("\n") == 0 and "Traceback" not in err, err
        assert f"another segcourse batch is running on {course / '.grading'} (pid {first.pid}: " \
               f"segcourse grade fcn_basics" in err
        # nbgrader's own autograde (the formgrader's button) is refused too
        from autograder.grading_path import GradingRefused, SandboxedGrading
        with pytest.raises(GradingRefused, match=f"pid {first.pid}"):
            with SandboxedGrading._course_lock(f"sqlite:///{db_of(course)}", ASSIGNMENT, "ada"):
                pass
    finally:
        Path(f"{hold}.go").write_text("")
        out, errors = first.communicate(timeout=600)
    assert first.returncode == EXIT_OK, out[-2000:] + errors[-2000:]
    assert points(course) == {s: {c: 0.0 for c in points(course)["ada"]} for s in STUDENTS}


# ----------------------------------------------------------------------------- a full disk
@pytest.fixture
def full_disk(tmp_path):
    """A 2 MB tmpfs (root only) and a function that fills it up."""
    mount = tmp_path / "tmpfs"
    mount.mkdir()
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("mounting a tmpfs needs root")
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mount)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")

    def fill() -> None:
        try:
            with open(mount / "filler", "ab", buffering=0) as handle:
                while True:
                    handle.write(b"\0" * 4096)
        except OSError:
            pass
    try:
        yield mount, fill
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def test_export_on_a_full_disk_keeps_the_previous_grades_csv(course, full_disk):
    mount, fill = full_disk
    target = mount / "grades.csv"
    shutil.copy(course / ".grading" / "grades.csv", target)
    before = target.read_bytes()
    fill()
    with pytest.raises(OutputError) as failure:
        export_grades(course_config(course), target)
    message = str(failure.value)
    assert "\n" not in message and str(target) in message and "No space left on device" in message
    assert target.read_bytes() == before
    assert sorted(p.name for p in mount.iterdir()) == ["filler", "grades.csv"], "a temporary file was left behind"


def test_grade_on_a_full_disk_is_one_line_and_keeps_grades_csv(course, full_disk, monkeypatch, capsys):
    """The runtime folder on a tmpfs filled up just before the export."""
    mount, fill = full_disk
    runtime = mount / "runtime"
    shutil.copytree(course / ".grading", runtime)
    shutil.rmtree(runtime / "autograded", ignore_errors=True)     # room to grade in 2 MB
    shutil.rmtree(runtime / "feedback", ignore_errors=True)
    for backup in list_backups(runtime / "gradebook.db"):
        backup.unlink()
    before = (runtime / "grades.csv").read_bytes()
    import autograder.nbgrader_api
    real_export = autograder.nbgrader_api.export_grades

    def export_on_a_full_disk(config, destination):
        fill()
        return real_export(config, destination)

    monkeypatch.setattr(autograder.nbgrader_api, "export_grades", export_on_a_full_disk)
    status = grade(course, FailingSandbox(), monkeypatch, "--runtime-dir", str(runtime))
    err = capsys.readouterr().err
    assert status == EXIT_CHECK_FAILED
    assert err.strip().count("\n") == 0 and "Traceback" not in err, err
    assert f"cannot write {runtime / 'grades.csv'}: No space left on device" in err
    assert (runtime / "grades.csv").read_bytes() == before


# ----------------------------------------------------------------------------- damaged gradebooks
@pytest.mark.parametrize("damage", ["truncated", "garbage", "not nbgrader's"])
def test_damaged_gradebook_stops_before_any_sandbox_and_restore_gradebook_restores(course, damage, monkeypatch,
                                                                                    capsys):
    old = points(course)
    backup_gradebook(db_of(course))          # the latest good backup holds the full marks
    good = latest_good_backup(db_of(course))
    csv_before = (course / ".grading" / "grades.csv").read_bytes()
    if damage == "truncated":
        db_of(course).write_bytes(b"")
    elif damage == "garbage":
        db_of(course).write_bytes(os.urandom(50_000))
    else:
        db_of(course).unlink()
        with sqlite3.connect(db_of(course)) as connection:
            connection.execute("CREATE TABLE notes (text TEXT)")
    damaged_bytes = db_of(course).read_bytes()
    time.sleep(1.1)                          # a later backup, if one were made, would sort first
    status = grade(course, MustNotRun(), monkeypatch)
    err = capsys.readouterr().err
    assert status == EXIT_GRADEBOOK
    assert err.strip().count("\n") == 0 and "Traceback" not in err, err
    assert f"gradebook error {db_of(course)}" in err and f"latest good backup: {good}" in err
    assert f"restore it with `segcourse --course-dir {course} restore-gradebook`" in err
    assert (course / ".grading" / "grades.csv").read_bytes() == csv_before
    assert latest_good_backup(db_of(course)) == good, "a backup of the damaged file was made"

    assert main(["--course-dir", str(course), "restore-gradebook"]) == EXIT_OK
    out = capsys.readouterr().out
    (aside,) = (course / ".grading").glob("gradebook.damaged-*.db")
    assert aside.read_bytes() == damaged_bytes, "the damaged file was not kept"
    assert f"restored {db_of(course)} from {good}; the previous file is kept as {aside}" in out
    assert points(course) == old and gradebook_problem(db_of(course)) is None


def test_restore_refuses_a_bad_backup_and_changes_nothing(course, capsys):
    bad = course / ".grading" / "gradebook.backup-20990101-000000-000000.db"
    bad.write_bytes(b"")
    before = db_of(course).read_bytes()
    assert main(["--course-dir", str(course), "restore-gradebook", str(bad)]) == EXIT_GRADEBOOK
    err = capsys.readouterr().err
    assert f"backup {bad} cannot be restored: the file is empty (0 bytes)" in err
    assert db_of(course).read_bytes() == before and not list((course / ".grading").glob("gradebook.damaged-*"))
    assert latest_good_backup(db_of(course)) != bad
    good = latest_good_backup(db_of(course))         # named as listed beside the gradebook
    assert main(["--course-dir", str(course), "restore-gradebook", good.name]) == EXIT_OK
    assert f"restored {db_of(course)} from {good}; the previous file is kept as " in capsys.readouterr().out


# ----------------------------------------------------------------------------- backups
def test_backups_are_verified_and_the_last_ten_good_ones_kept(course, monkeypatch):
    db = db_of(course)
    for backup in list_backups(db):
        backup.unlink()
    empty = db.with_name("gradebook.backup-20000101-000000-aaaaaa.db")
    empty.write_bytes(b"")                   # a 0-byte backup: never counted, never deleted
    made = [backup_gradebook(db) for _ in range(12)]
    assert made[-1] == latest_good_backup(db) and not made[0].exists() and not made[1].exists()
    os.utime(empty, (time.time() + 100, time.time() + 100))     # the newest file of all
    assert backup_gradebook(db) is not None
    kept = list_backups(db)
    good = [b for b in kept if gradebook_problem(b) is None]
    assert len(good) == 10 and empty in kept
    assert latest_good_backup(db) != empty and gradebook_problem(empty) == "the file is empty (0 bytes)"

    # a backup that fails verification is an error and prunes nothing
    import autograder.gradebook as gradebook
    real = gradebook.gradebook_problem
    monkeypatch.setattr(gradebook, "gradebook_problem",
                        lambda path, **kw: "the file is empty (0 bytes)" if path.name.endswith(".partial")
                        else real(path, **kw))
    with pytest.raises(GradebookError, match="failed verification"):
        gradebook.backup_gradebook(db)
    assert list_backups(db) == kept and not list(db.parent.glob(".*.partial"))
