"""A class of two through nbgrader's exchange on one machine, no hub and no browser.

The instructor releases ``fcn_basics`` into an exchange in a temporary folder; two students,
each with a home folder of their own, fetch it, answer it (one completes it, one leaves the
first part as released) and submit it; the instructor collects, grades with ``segcourse
grade`` (sandboxed, trusted checks) and releases feedback; each student fetches feedback
and gets their own, with their own score, and nothing of the other's.

Every nbgrader step runs as a subprocess, configured as on a hub: a user-level
``nbgrader_config.py`` (``JUPYTER_CONFIG_DIR``) sets ``Exchange.root`` and the course id.
nbgrader takes a student's name from the process's uid (``nbgrader.utils.get_osusername``),
not from the environment, so the student processes here answer with ``$USER`` instead
(see ``STUDENT_NBGRADER``): one machine user plays both students. Real separate users and
file permissions are checked by the hub test (``tests/hub/``, ``make test-hub``).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from autograder.course import COURSE_ID
from autograder.demo_class import build_submission, solution_answers
from autograder.sandbox import BubblewrapSandbox
from tests import REPO_ROOT

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not BubblewrapSandbox().available(), reason="bubblewrap (and root) needed to grade"),
]

ASSIGNMENT = "fcn_basics"
NOTEBOOK = f"{ASSIGNMENT}.ipynb"
VENV_BIN = Path(sys.executable).parent
STUDENT_COMPLETE, STUDENT_PART_WRONG = "student-complete", "student-part-wrong"
STEP_TIMEOUT_S = 300            # one nbgrader step; grading two submissions in the sandbox takes ~1-2 min

# nbgrader as a student: the user name comes from $USER instead of the process's uid.
STUDENT_NBGRADER = (
    "import os, sys, nbgrader.utils\n"
    "nbgrader.utils.get_osusername = lambda: os.environ['USER']\n"
    "from nbgrader.apps.nbgraderapp import main\n"
    "sys.argv[0] = 'nbgrader'\n"
    "sys.exit(main())\n"
)


def hub_like_config(folder: Path, exchange: Path) -> Path:
    """A Jupyter config folder whose ``nbgrader_config.py`` names the exchange and the course,
    as a hub's system config (``/etc/jupyter/nbgrader_config.py``) does."""
    folder.mkdir(parents=True)
    (folder / "nbgrader_config.py").write_text(
        "c = get_config()  # noqa: F821\n"
        f"c.Exchange.root = {str(exchange)!r}\n"
        f"c.CourseDirectory.course_id = {COURSE_ID!r}\n")
    return folder


def run_nbgrader(args: list[str], cwd: Path, home: Path, config_dir: Path, user: str | None = None,
                 extra: list[str] = ()) -> subprocess.CompletedProcess:
    """Run ``nbgrader ARGS`` (or ``segcourse`` when ``args[0] == 'segcourse'``) in ``cwd``
    with its own HOME; as student ``user`` when given. Fails the test, with the output, if the
    command fails."""
    env = {**os.environ, "HOME": str(home), "JUPYTER_CONFIG_DIR": str(config_dir),
           "JUPYTER_DATA_DIR": str(home / ".local" / "share" / "jupyter"),
           "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}", "TF_CPP_MIN_LOG_LEVEL": "2"}
    if args[0] == "segcourse":
        command = [str(VENV_BIN / "segcourse"), *args[1:], *extra]
    elif user is not None:
        env.update(USER=user, LOGNAME=user)
        command = [sys.executable, "-c", STUDENT_NBGRADER, *args, *extra]
    else:
        command = [str(VENV_BIN / "nbgrader"), *args, *extra]
    result = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=STEP_TIMEOUT_S)
    assert result.returncode == 0, (f"{' '.join(args)} (as {user or 'instructor'}) exited {result.returncode}:\n"
                                    f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    return result


def graded_parts(notebook: nbformat.NotebookNode) -> list[tuple[str, list[str]]]:
    """Each solution cell's grade_id with the grade cells that follow it up to the next
    solution cell (the tests of that part), in notebook order."""
    parts: list[tuple[str, list[str]]] = []
    for cell in notebook.cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("solution") and cell.cell_type == "code":
            parts.append((meta["grade_id"], []))
        elif meta.get("grade") and parts:
            parts[-1][1].append(meta["grade_id"])
    return parts


def feedback_without_its_secret(runtime: Path) -> list[str]:
    """Students whose feedback folder lacks the ``submission_secret.txt`` of their submission.

    nbgrader's ``release_feedback`` names each feedback file by a hash of that secret (which
    ``fetch_feedback`` recomputes from the student's own submission) and reads it from the
    feedback folder, so grading must carry it over from ``submitted/`` as stock autograde does.
    """
    missing = []
    for secret in sorted((runtime / "submitted").glob(f"*/{ASSIGNMENT}/submission_secret.txt")):
        student = secret.parent.parent.name
        kept = runtime / "feedback" / student / ASSIGNMENT / secret.name
        if not kept.is_file() or kept.read_text() != secret.read_text():
            missing.append(student)
    return missing


@pytest.fixture(scope="module")
def class_of_two(tmp_path_factory):
    """The whole round trip; returns what the assertions need."""
    from autograder.course import course_config
    from autograder.nbgrader_api import submission_scores

    tmp = tmp_path_factory.mktemp("class")
    exchange = tmp / "exchange"
    exchange.mkdir()
    exchange.chmod(0o1777)              # as a hub's: everybody writes, nobody removes another's files
    config_dir = hub_like_config(tmp / "etc-jupyter", exchange)

    course = tmp / "instructor" / "course"
    (course / "solutions").mkdir(parents=True)
    (course / "exercises").mkdir()
    shutil.copy(REPO_ROOT / "nbgrader_config.py", course)
    shutil.copytree(REPO_ROOT / "solutions" / ASSIGNMENT, course / "solutions" / ASSIGNMENT)
    shutil.copytree(REPO_ROOT / "exercises" / ASSIGNMENT, course / "exercises" / ASSIGNMENT)
    instructor_home = tmp / "instructor"

    def as_instructor(*args: str, extra: list[str] = ()):
        return run_nbgrader(list(args), course, instructor_home, config_dir, extra=extra)

    as_instructor("release_assignment", ASSIGNMENT)

    answers = solution_answers(course / "solutions" / ASSIGNMENT / NOTEBOOK)
    release = nbformat.read(course / "exercises" / ASSIGNMENT / NOTEBOOK, as_version=4)
    wrong_part, wrong_part_tests = graded_parts(release)[0]
    # student-part-wrong leaves the first part as released (its stub raises NotImplementedError)
    student_answers = {STUDENT_COMPLETE: answers,
                       STUDENT_PART_WRONG: {k: v for k, v in answers.items() if k != wrong_part}}
    homes = {}
    for student, their_answers in student_answers.items():
        home = homes[student] = tmp / "home" / student
        home.mkdir(parents=True)
        listed = run_nbgrader(["list"], home, home, config_dir, user=student)
        assert ASSIGNMENT in listed.stdout + listed.stderr, "the released assignment is not listed for students"
        run_nbgrader(["fetch_assignment", ASSIGNMENT], home, home, config_dir, user=student)
        fetched = home / ASSIGNMENT / NOTEBOOK
        assert fetched.is_file(), f"fetch_assignment wrote no {fetched}"
        nbformat.write(build_submission(fetched, their_answers), fetched)
        run_nbgrader(["submit", ASSIGNMENT], home, home, config_dir, user=student)

    collected = as_instructor("collect", ASSIGNMENT)
    graded = run_nbgrader(["segcourse", "--course-dir", str(course), "grade", ASSIGNMENT], course,
                          instructor_home, config_dir, extra=["--workers", "2"])
    # segcourse grade wrote the feedback (feedback/<student>/fcn_basics/*.html)
    assert feedback_without_its_secret(course / ".grading") == [], "segcourse grade dropped submission_secret.txt"
    as_instructor("release_feedback", ASSIGNMENT)
    for student, home in homes.items():
        run_nbgrader(["fetch_feedback", ASSIGNMENT], home, home, config_dir, user=student)

    config = course_config(course)
    scores = {s.student: s for s in submission_scores(config, ASSIGNMENT, list(homes))}
    return {"homes": homes, "scores": scores, "exchange": exchange, "course": course,
            "wrong_part_tests": wrong_part_tests, "collect_log": collected.stdout + collected.stderr,
            "grade_log": graded.stdout}


def test_the_release_and_submissions_went_through_the_configured_exchange(class_of_two):
    exchange = class_of_two["exchange"] / COURSE_ID
    assert (exchange / "outbound" / ASSIGNMENT / NOTEBOOK).is_file()
    inbound = sorted(p.name.split("+")[0] for p in (exchange / "inbound").iterdir())
    assert inbound == sorted(class_of_two["homes"]), inbound
    submitted = class_of_two["course"] / ".grading" / "submitted"
    assert sorted(p.name for p in submitted.iterdir()) == sorted(class_of_two["homes"])
    # nothing of the course's own default exchange was used
    assert not any((class_of_two["course"] / ".grading" / "exchange").glob("*/outbound"))


def test_grades_match_the_answers(class_of_two):
    scores = class_of_two["scores"]
    complete, part_wrong = scores[STUDENT_COMPLETE], scores[STUDENT_PART_WRONG]
    assert complete.graded and part_wrong.graded, class_of_two["grade_log"]
    assert complete.max_score > 0
    assert complete.score == complete.max_score, complete.by_cell
    wrong_tests = class_of_two["wrong_part_tests"]
    assert wrong_tests, "the first part of the assignment has no grade cells after it"
    # the part left as released loses exactly its own tests' points; every other part scores
    assert {cell: part_wrong.by_cell[cell] for cell in wrong_tests} == dict.fromkeys(wrong_tests, 0.0)
    others = {cell: points for cell, points in part_wrong.by_cell.items() if cell not in wrong_tests}
    assert others == {cell: complete.by_cell[cell] for cell in others}
    assert 0 < part_wrong.score < complete.score


def fetched_feedback(home: Path) -> list[Path]:
    return sorted((home / ASSIGNMENT / "feedback").glob(f"*/{ASSIGNMENT}.html"))


@pytest.mark.parametrize("student", [STUDENT_COMPLETE, STUDENT_PART_WRONG])
def test_each_student_fetches_only_their_own_feedback(class_of_two, student):
    homes, scores = class_of_two["homes"], class_of_two["scores"]
    feedback = fetched_feedback(homes[student])
    assert len(feedback) == 1, f"{student} fetched {feedback}"
    html = feedback[0].read_text()
    own = scores[student]
    # nbgrader's feedback header: "<notebook> (Score: 8.0 / 12.0)"
    header = f"{ASSIGNMENT} (Score: {round(own.score, 2)} / {round(own.max_score, 2)})"
    assert header in html, f"{student}'s feedback lacks {header!r}"
    other = next(s for s in homes if s != student)
    other_html = fetched_feedback(homes[other])[0].read_text()
    assert html != other_html
    # nothing else arrived in the student's folder from the exchange's feedback
    released = sorted((class_of_two["exchange"] / COURSE_ID / "feedback").glob("*.html"))
    assert len(released) == 2, released
    own_copy = [p for p in released if p.read_text() == html]
    assert len(own_copy) == 1
