"""The segcourse command: bad input gives a clear message and a non-zero exit, no traceback."""

from __future__ import annotations

import subprocess
import sys

import pytest

from autograder.cli import EXIT_USAGE, format_score_table, main
from autograder.nbgrader_api import SubmissionScore
from tests import REPO_ROOT


def run_cli(*args, cwd=REPO_ROOT):
    return subprocess.run([sys.executable, "-m", "autograder.cli", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("args, message", [
    (["release", "no_such_assignment"], "unknown assignment 'no_such_assignment'; this course has: "),
    (["check-release", "nope"], "unknown assignment 'nope'"),
    (["grade", "nope"], "unknown assignment 'nope'"),
    (["--course-dir", "/definitely/not/here", "release"], "course folder not found: /definitely/not/here"),
    (["--course-dir", "/tmp", "demo"], "/tmp is not a course folder: it has no 'solutions/' directory"),
])
def test_bad_course_or_assignment_is_a_usage_error(args, message):
    result = run_cli(*args)
    assert result.returncode == EXIT_USAGE
    assert message in result.stderr
    assert "usage: segcourse" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


@pytest.mark.parametrize("args, message", [
    (["demo", "--bogus"], "unrecognized arguments: --bogus"),
    (["demo", "--cell-timeout", "soon"], "expected a whole number of seconds, got 'soon'"),
    (["demo", "--cell-timeout", "0"], "expected a positive number of seconds, got 0"),
    (["frobnicate"], "invalid choice: 'frobnicate'"),
    ([], "the following arguments are required: COMMAND"),
])
def test_bad_option_prints_usage(args, message):
    result = run_cli(*args)
    assert result.returncode == EXIT_USAGE
    assert message in result.stderr and "usage: segcourse" in result.stderr
    assert "Traceback" not in result.stderr


def test_grade_without_submissions_is_a_usage_error(tmp_path, capsys):
    (tmp_path / "empty").mkdir()        # a --runtime-dir must exist (tests/autograder/test_instructor_errors.py)
    status = main(["grade", "fcn_basics", "--runtime-dir", str(tmp_path / "empty")])
    assert status == EXIT_USAGE
    assert "no submissions of fcn_basics" in capsys.readouterr().err


def test_demo_refuses_to_empty_the_course_itself(capsys):
    status = main(["--course-dir", str(REPO_ROOT), "demo", "--output-dir", str(REPO_ROOT)])
    assert status == EXIT_USAGE
    assert "would hold the course itself" in capsys.readouterr().err
    assert (REPO_ROOT / "solutions").is_dir()


def test_help_explains_the_commands():
    result = run_cli("--help")
    assert result.returncode == 0
    for command in ("demo", "release", "check-release", "grade", "Exit codes"):
        assert command in result.stdout


def test_score_table_marks_unexpected_scores():
    scores = [SubmissionScore("alice", {"test_dice_visible": 1.0, "test_dice_hidden": 2.0}, 3.0, 3.0),
              SubmissionScore("bob", {"test_dice_visible": 1.0, "test_dice_hidden": 0.0}, 1.0, 3.0),
              SubmissionScore("carol", graded=False)]
    expected = {"alice": {"test_dice_visible": 1.0, "test_dice_hidden": 2.0},
                "bob": {"test_dice_visible": 1.0, "test_dice_hidden": 2.0},
                "carol": {"test_dice_visible": 1.0, "test_dice_hidden": 2.0}}
    lines = format_score_table(scores, expected).splitlines()
    assert lines[0].split() == ["student", "dice", "total", "expected", "ok"]
    assert lines[2].split() == ["alice", "3", "3/3", "3", "yes"]
    assert lines[3].split() == ["bob", "1", "1/3", "3", "NO"]
    assert lines[4].split()[-2:] == ["3", "NO"] and "not graded" in lines[4]
