"""Every way an instructor can grade gives the sandboxed, trusted scores (threat row 44),
and a fresh clone grades without a release (threat row 46).

- ``segcourse grade`` on a fresh course copy (no ``.grading/`` gradebook, no release run)
  brings the gradebook in line with ``solutions/`` and grades.
- ``nbgrader autograde`` from the course root and the formgrader's Autograde endpoint
  (JupyterLab's Autograde button) grade a FCN with the softmax applied twice inside one
  activation function (the notebook's tests count softmax layers and see one) exactly as
  ``segcourse grade`` does: 10/12 (stock nbgrader, running the notebook's own hidden
  tests in an unsandboxed kernel, gives it 12/12).
- Without a sandbox, nbgrader's autograde refuses, naming ``segcourse grade``.
- A damaged or locked gradebook is one line naming the cause, before any sandbox runs.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import nbformat
import pytest

from autograder import demo_class
from autograder.cli import EXIT_GRADEBOOK, EXIT_OK, main
from autograder.course import course_config
from autograder.sandbox import BubblewrapSandbox
from tests import REPO_ROOT

ASSIGNMENT = "fcn_basics"
VENV_BIN = Path(sys.executable).parent

# The FCN of the slide whose activation applies the softmax twice (a known-wrong answer of
# the demo class that only the trusted hidden check, comparing outputs, catches).
DOUBLE_SOFTMAX_FCN = demo_class.FCN_WITH_SOFTMAX_TWICE_IN_ONE_ACTIVATION
needs_bwrap = pytest.mark.skipif(not BubblewrapSandbox().available(), reason="bubblewrap (and root) needed")
SANDBOXED_POINTS = {**demo_class.EXPECTED_POINTS["demo-correct"], "test_fcn_hidden": 0.0}   # 10/12


def fresh_course(root: Path) -> Path:
    """A course as cloned: solutions/, exercises/, course_utils/ and nbgrader_config.py; no
    .grading/ (no gradebook: `segcourse release` never ran)."""
    for folder in ("solutions", "exercises", "course_utils"):
        shutil.copytree(REPO_ROOT / folder, root / folder, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(REPO_ROOT / "nbgrader_config.py", root / "nbgrader_config.py")
    return root


def submit_double_softmax(course: Path, student: str) -> None:
    answers = demo_class.solution_answers(course / "solutions" / ASSIGNMENT / demo_class.NOTEBOOK)
    notebook = demo_class.build_submission(course / "exercises" / ASSIGNMENT / demo_class.NOTEBOOK,
                                           {**answers, "fcn_model": DOUBLE_SOFTMAX_FCN})
    folder = course / ".grading" / "submitted" / student / ASSIGNMENT
    folder.mkdir(parents=True)
    nbformat.write(notebook, folder / demo_class.NOTEBOOK)
    (folder / "timestamp.txt").write_text("2026-11-25 12:00:00.000000 UTC")


def gradebook_points(course: Path, student: str) -> dict[str, float | None]:
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course / '.grading' / 'gradebook.db'}") as gradebook:
        submission = gradebook.find_submission(ASSIGNMENT, student)
        return {grade.name: grade.score for notebook in submission.notebooks for grade in notebook.grades}


def nbgrader_env() -> dict[str, str]:
    return {**os.environ, "PATH": str(VENV_BIN) + os.pathsep + os.environ.get("PATH", ""), "TF_CPP_MIN_LOG_LEVEL": "2"}


@pytest.fixture(scope="module")
def synced_template(tmp_path_factory):
    """A fresh clone whose gradebook `sync_gradebook` brought in line with solutions/ (once)."""
    from autograder.nbgrader_api import sync_gradebook

    course = fresh_course(tmp_path_factory.mktemp("synced"))
    assert sync_gradebook(course_config(course), ASSIGNMENT) == []
    return course


@pytest.fixture
def synced_course(synced_template, tmp_path):
    """A copy of the synced course of this test's own (the gradebook's paths are the copy's)."""
    course = tmp_path / "course"
    shutil.copytree(synced_template, course, symlinks=True)
    return course


@pytest.fixture(scope="module")
def graded_course(tmp_path_factory):
    """A fresh clone with one double-softmax submission, graded once by `segcourse grade`."""
    course = fresh_course(tmp_path_factory.mktemp("fresh-clone"))
    submit_double_softmax(course, "double-softmax")
    had_gradebook = (course / ".grading" / "gradebook.db").exists()
    status = main(["--course-dir", str(course), "grade", ASSIGNMENT, "--workers", "1"])
    return course, status, had_gradebook


# ----------------------------------------------------------------------------- the course config
def test_course_config_autogrades_through_the_sandbox_not_nbgrader_execute(tmp_path):
    from nbgrader.converters.autograde import Autograde

    steps = course_config(REPO_ROOT, runtime_directory=tmp_path).Autograde.autograde_preprocessors
    assert not any("Execute" in str(step) for step in steps), "student code would run in an instructor kernel"
    assert steps[:2] == ["autograder.grading_path.SandboxedGrading", "autograder.nbgrader_steps.SanitizeStudentHtml"]
    # nbgrader's own steps after Execute stay, in order (SaveAutoGrades records the points)
    stock = [f"{s.__module__}.{s.__qualname__}" for s in Autograde.class_traits()["autograde_preprocessors"].default()]
    assert steps[2:] == stock[1:]


# ----------------------------------------------------------------------------- threat row 46
@pytest.mark.slow
@needs_bwrap
def test_fresh_clone_grades_without_a_release(graded_course):
    course, status, had_gradebook = graded_course
    assert not had_gradebook
    assert status == EXIT_OK
    assert gradebook_points(course, "double-softmax") == SANDBOXED_POINTS
    assert (course / ".grading" / "grades.csv").is_file()


def test_damaged_gradebook_is_one_line_before_any_sandbox_runs(tmp_path, capsys, monkeypatch):
    course = fresh_course(tmp_path)
    submit_double_softmax(course, "alice")
    (course / ".grading" / "gradebook.db").write_text("this is not an SQLite database\n" * 100)
    import autograder.batch

    monkeypatch.setattr(autograder.batch, "grade_batch", _must_not_run)
    status = main(["--course-dir", str(course), "grade", ASSIGNMENT, "--allow-unsandboxed"])   # grade_batch is a stub
    err = capsys.readouterr().err
    assert status == EXIT_GRADEBOOK
    assert err.strip().count("\n") == 0, err
    assert "gradebook error" in err and "not a database" in err and str(course / ".grading" / "gradebook.db") in err
    assert "Traceback" not in err and "sqlalchemy" not in err.lower() and "_only_one_row" not in err


def test_locked_gradebook_is_one_line_before_any_sandbox_runs(synced_course, capsys, monkeypatch):
    course = synced_course                                  # a sound gradebook...
    submit_double_softmax(course, "alice")
    import autograder.batch

    monkeypatch.setattr(autograder.batch, "grade_batch", _must_not_run)
    holder = sqlite3.connect(course / ".grading" / "gradebook.db")
    holder.execute("BEGIN EXCLUSIVE")                      # ...that another process is writing
    try:
        # grade_batch is a stub
        status = main(["--course-dir", str(course), "grade", ASSIGNMENT, "--allow-unsandboxed"])
    finally:
        holder.rollback()
        holder.close()
    err = capsys.readouterr().err
    assert status == EXIT_GRADEBOOK
    assert err.strip().count("\n") == 0, err
    assert "database is locked" in err and "Traceback" not in err


def _must_not_run(*args, **kwargs):
    raise AssertionError("a submission was run although the gradebook cannot be used")


def test_nbgrader_step_failure_is_one_line_naming_the_cause(tmp_path):
    """The detail of the batch's per-submission nbgrader_error: nbgrader's autograde on a
    gradebook that does not know the assignment (the cut `..._only_one_row` of before)."""
    from autograder.gradebook_errors import one_line_grading_error
    from autograder.nbgrader_api import GradingStepError, check_result, make_api

    course = fresh_course(tmp_path)
    submit_double_softmax(course, "alice")
    api = make_api(course_config(course))
    with pytest.raises(GradingStepError) as failure:
        check_result(api.autograde(ASSIGNMENT, "alice", force=True, create=True), "nbgrader autograde of alice")
    detail = one_line_grading_error(str(failure.value))
    assert "\n" not in detail
    assert "does not know the assignment 'fcn_basics'" in detail and "segcourse grade fcn_basics" in detail
    sql_error = ("nbgrader autograde of bob failed:\n[ERROR] Traceback ...\nsqlalchemy.exc.OperationalError: "
                 "(sqlite3.OperationalError) database is locked\n[SQL: UPDATE grade SET auto_score=?]\n"
                 "(Background on this error at: https://sqlalche.me/e/20/e3q8)")
    assert one_line_grading_error(sql_error) == (
        "gradebook error: database is locked (another segcourse or nbgrader process is writing it; "
        "try again when it has finished)")


# ----------------------------------------------------------------------------- threat row 44
@pytest.mark.slow
@needs_bwrap
def test_nbgrader_autograde_cli_gives_the_segcourse_grade_scores(graded_course):
    course, status, _ = graded_course
    assert status == EXIT_OK
    submit_double_softmax(course, "double-softmax-cli")
    result = subprocess.run([str(VENV_BIN / "nbgrader"), "autograde", ASSIGNMENT, "--student", "double-softmax-cli"],
                            cwd=course, env=nbgrader_env(), capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "in the bwrap sandbox, judged by the trusted checks" in result.stdout + result.stderr
    assert gradebook_points(course, "double-softmax-cli") == gradebook_points(course, "double-softmax") \
        == SANDBOXED_POINTS
    # the verdict is the trusted check's, not the notebook's own hidden test
    autograded = nbformat.read(course / ".grading/autograded/double-softmax-cli" / ASSIGNMENT / demo_class.NOTEBOOK,
                               as_version=4)
    (fcn_hidden,) = [c for c in autograded.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "test_fcn_hidden"]
    assert [o.get("ename") for o in fcn_hidden.outputs] == ["CheckFailed"]


def test_nbgrader_autograde_refuses_without_a_sandbox(synced_course):
    course = synced_course
    submit_double_softmax(course, "mallory")
    # no bwrap, setpriv, podman, docker or apptainer on this PATH: no sandbox can be found
    env = {**nbgrader_env(), "PATH": str(VENV_BIN)}
    result = subprocess.run([str(VENV_BIN / "nbgrader"), "autograde", ASSIGNMENT, "--student", "mallory"],
                            cwd=course, env=env, capture_output=True, text=True, timeout=300)
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert "GradingRefused: segcourse refuses to autograde mallory/fcn_basics here: no sandbox" in output
    assert "`segcourse grade fcn_basics --student mallory`" in output and "--allow-unsandboxed" in output
    assert not (course / ".grading/autograded/mallory" / ASSIGNMENT / demo_class.NOTEBOOK).exists()
    assert not any(gradebook_points(course, "mallory").values()), "points were recorded without a sandbox"


# ----------------------------------------------------------------------------- the formgrader's button
def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(course: Path, home: Path):
    """A Jupyter server (with nbgrader's formgrader) on 127.0.0.1 serving the course."""
    port, token = free_port(), secrets.token_hex(16)
    env = {**nbgrader_env(), "HOME": str(home), "JUPYTER_CONFIG_DIR": str(home / ".jupyter"),
           "JUPYTER_DATA_DIR": str(home / ".local/share/jupyter"),
           "JUPYTER_RUNTIME_DIR": str(home / ".local/share/jupyter/runtime"), "IPYTHONDIR": str(home / ".ipython")}
    command = [str(VENV_BIN / "jupyter"), "server", "--no-browser", "--ip=127.0.0.1", f"--port={port}",
               "--port-retries=0", f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={course}"]
    if os.geteuid() == 0:
        command.append("--allow-root")
    log = open(home / "jupyter-server.log", "w")
    process = subprocess.Popen(command, cwd=course, env=env, stdout=log, stderr=subprocess.STDOUT,
                               start_new_session=True)
    base = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"jupyter server exited:\n{(home / 'jupyter-server.log').read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(f"{base}api/status?token={token}", timeout=5):
                return process, base, token, log
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.5)     # readiness poll
    process.kill()
    raise RuntimeError("jupyter server did not start within 180 s")


def stop_server(process, base: str, token: str, log) -> None:
    try:
        urllib.request.urlopen(urllib.request.Request(f"{base}api/shutdown", method="POST",
                                                      headers={"Authorization": f"token {token}"}), timeout=30)
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        pass
    try:
        process.wait(timeout=60)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=20)
    log.close()


@pytest.mark.slow
@needs_bwrap
def test_formgrader_autograde_endpoint_gives_the_segcourse_grade_scores(graded_course, tmp_path):
    """What the formgrader's Autograde button posts: /formgrader/api/submission/<a>/<s>/autograde."""
    course, status, _ = graded_course
    assert status == EXIT_OK
    submit_double_softmax(course, "double-softmax-formgrader")
    process, base, token, log = start_server(course, tmp_path)
    try:
        request = urllib.request.Request(
            f"{base}formgrader/api/submission/{ASSIGNMENT}/double-softmax-formgrader/autograde",
            method="POST", data=b"", headers={"Authorization": f"token {token}"})
        with urllib.request.urlopen(request, timeout=600) as response:
            answer = json.loads(response.read())
    finally:
        stop_server(process, base, token, log)
    assert answer["success"], answer.get("log", "") + answer.get("error", "")
    assert "in the bwrap sandbox, judged by the trusted checks" in answer["log"]
    assert gradebook_points(course, "double-softmax-formgrader") == SANDBOXED_POINTS


def test_grade_stops_before_any_sandbox_when_exercises_drifted(tmp_path, capsys, monkeypatch):
    """The gradebook follows solutions/; the sandbox runs exercises/: they must agree."""
    course = fresh_course(tmp_path)
    submit_double_softmax(course, "alice")
    release = course / "exercises" / ASSIGNMENT / demo_class.NOTEBOOK
    notebook = nbformat.read(release, as_version=4)
    notebook.cells.append(nbformat.v4.new_markdown_cell("an edit made in exercises/ by hand"))
    nbformat.write(notebook, release)
    import autograder.batch

    monkeypatch.setattr(autograder.batch, "grade_batch", _must_not_run)
    status = main(["--course-dir", str(course), "grade", ASSIGNMENT, "--allow-unsandboxed"])   # grade_batch is a stub
    err = capsys.readouterr().err
    assert status == 2
    assert f"exercises/{ASSIGNMENT} is out of sync with solutions/{ASSIGNMENT}" in err
    assert f"run `segcourse release {ASSIGNMENT}` first" in err


def test_sandboxed_grading_refuses_a_gradebook_out_of_line_with_the_release(synced_course):
    """Points from an old release in the gradebook would not be segcourse grade's: refuse
    (nbgrader itself already stops on most such cells: "Inconsistent checksums")."""
    from nbgrader.api import Gradebook

    from autograder.grading_path import GradingRefused, SandboxedGrading

    course = synced_course
    db_url = f"sqlite:///{course / '.grading' / 'gradebook.db'}"
    SandboxedGrading._check_gradebook_matches_release(course, ASSIGNMENT, "fcn_basics", db_url)   # in line
    with Gradebook(db_url) as gradebook:
        gradebook.find_grade_cell("test_fcn_hidden", "fcn_basics", ASSIGNMENT).max_score = 5.0
        gradebook.db.commit()
    with pytest.raises(GradingRefused, match="the gradebook's fcn_basics/fcn_basics differs from exercises/fcn_basics"):
        SandboxedGrading._check_gradebook_matches_release(course, ASSIGNMENT, "fcn_basics", db_url)
