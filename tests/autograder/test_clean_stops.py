"""Ctrl-C and SIGTERM during a batch (a real `segcourse grade` process, a slow submission).

The first signal: no new submission starts, the running one finishes and is recorded,
the rest are reported as stopped, temporary folders are removed, exit 130. A second
Ctrl-C stops now: the running sandbox is killed, nothing is left behind, exit 130.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time

import nbformat
import pytest

from autograder import demo_class
from autograder.sandbox import BubblewrapSandbox
from tests import REPO_ROOT

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not BubblewrapSandbox().available(), reason="bubblewrap (and root) needed")]

SLOW_CELL = "import time\ntime.sleep(25)\nprint('slow cell done')"


@pytest.fixture
def slow_class(tmp_path):
    """A course copy with two honest submissions; the first takes 25 s more."""
    course = tmp_path / "course"
    for folder in ("solutions", "exercises", "course_utils"):
        shutil.copytree(REPO_ROOT / folder, course / folder, ignore=shutil.ignore_patterns("__pycache__"))
    release = course / "exercises/fcn_basics/fcn_basics.ipynb"
    answers = demo_class.solution_answers(course / "solutions/fcn_basics/fcn_basics.ipynb")
    for student in ("a-slow", "b-next"):
        notebook = demo_class.build_submission(release, answers)
        if student == "a-slow":
            notebook.cells.append(nbformat.v4.new_code_cell(SLOW_CELL))
        folder = course / ".grading/submitted" / student / "fcn_basics"
        folder.mkdir(parents=True)
        nbformat.write(notebook, folder / "fcn_basics.ipynb")
    temp = tmp_path / "tmp"
    temp.mkdir()
    return course, temp


def _start(course, temp, first_slot_env="") -> subprocess.Popen:
    env = {**os.environ, "TMPDIR": str(temp), "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen(
        [sys.executable, "-m", "autograder.cli", "--course-dir", str(course), "grade", "fcn_basics",
         "--workers", "1", "--seed", "3"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, cwd=str(temp))


def _wait_for(process, text: str, timeout: float = 300) -> str:
    seen, deadline = "", time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line and process.poll() is not None:
            break
        seen += line
        if text in line:
            return seen
    raise AssertionError(f"never printed {text!r}:\n{seen}")


def _scores(course) -> dict[str, float]:
    from autograder.course import course_config
    from autograder.nbgrader_api import submission_scores

    config = course_config(course, runtime_directory=course / ".grading")
    return {s.student: s.score for s in submission_scores(config, "fcn_basics", ["a-slow", "b-next"]) if s.graded}


def _leftovers(temp) -> list[str]:
    """Temporary folders of the run still there (the grading editions are a kept cache)."""
    return sorted(p.name for p in temp.iterdir()
                  if p.name.startswith("segcourse-") and not p.name.startswith("segcourse-editions-"))


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_first_signal_finishes_and_records_the_running_submission(slow_class, signum):
    course, temp = slow_class
    process = _start(course, temp)
    _wait_for(process, "grading 2 submission(s)")
    time.sleep(5)                                   # a-slow is running in its sandbox
    process.send_signal(signum)
    output, _ = process.communicate(timeout=600)
    assert process.returncode == 130, output
    assert "finishing 1 running submission(s)" in output and "Ctrl-C again to stop now" in output
    assert "Traceback" not in output
    assert _scores(course) == {"a-slow": 12.0}, output           # recorded; b-next never started
    assert "stopped" in output.split("b-next", 1)[1].splitlines()[0]
    assert _leftovers(temp) == []


def test_second_ctrl_c_stops_now_and_leaves_nothing_behind(slow_class):
    course, temp = slow_class
    process = _start(course, temp)
    _wait_for(process, "grading 2 submission(s)")
    time.sleep(3)
    process.send_signal(signal.SIGINT)
    time.sleep(1)
    process.send_signal(signal.SIGINT)
    output, _ = process.communicate(timeout=120)
    assert process.returncode == 130, output
    assert "stopped now (1 running sandbox(es) killed" in output and "Traceback" not in output
    assert _scores(course) == {}
    assert _leftovers(temp) == []
