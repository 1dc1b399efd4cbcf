"""The nbgrader course configuration, declared once.

``solutions/<assignment>/`` is nbgrader's source directory and ``exercises/<assignment>/``
its release directory; both are committed. Everything nbgrader writes while grading
(submissions, autograded copies, feedback, the gradebook database) lives under one
runtime folder, ``.grading/`` by default, which git ignores.
"""

from __future__ import annotations

import os
from pathlib import Path

from traitlets.config import Config

COURSE_ID = "image-segmentation-fcn"
SOURCE_DIRECTORY = "solutions"
RELEASE_DIRECTORY = "exercises"
DEFAULT_RUNTIME_DIRECTORY = ".grading"

# Seconds one cell may run under autograding before it is interrupted and scores 0.
DEFAULT_CELL_TIMEOUT_S = 60


class CourseError(Exception):
    """A course folder or assignment that cannot be used, with a message for humans."""


def find_assignments(course_root: Path) -> list[str]:
    """Names of the assignments in ``course_root/solutions`` (sorted)."""
    source = Path(course_root) / SOURCE_DIRECTORY
    return sorted(p.name for p in source.iterdir() if p.is_dir() and any(p.glob("*.ipynb")))


def check_course_root(course_root: Path) -> Path:
    """Return the absolute course root, or raise ``CourseError`` saying what is missing."""
    root = Path(course_root).resolve()
    if not root.is_dir():
        raise CourseError(f"course folder not found: {root} (expected the root of the course repository)")
    if not (root / SOURCE_DIRECTORY).is_dir():
        raise CourseError(
            f"{root} is not a course folder: it has no '{SOURCE_DIRECTORY}/' directory "
            f"(expected the repository root, which holds solutions/, exercises/ and nbgrader_config.py)"
        )
    return root


def check_assignment(course_root: Path, assignment: str) -> str:
    """Return ``assignment`` if it exists in the course, else raise ``CourseError``."""
    known = find_assignments(course_root)
    if assignment not in known:
        raise CourseError(f"unknown assignment '{assignment}'; this course has: {', '.join(known) or 'none'}")
    return assignment


def course_config(
    course_root: Path,
    runtime_directory: Path | None = None,
    cell_timeout_s: int = DEFAULT_CELL_TIMEOUT_S,
) -> Config:
    """The traitlets ``Config`` that nbgrader runs with for this course.

    Args:
        course_root: the repository root (holds ``solutions/`` and ``exercises/``).
        runtime_directory: where submissions, grades, feedback and the gradebook go;
            ``<course_root>/.grading`` when None. Relative paths are under the root.
        cell_timeout_s: seconds a cell may run under autograding before it is
            interrupted (the cell then scores 0 and grading goes on).

    Creates the runtime folder if it does not exist.
    """
    from autograder.noise import LOG_NOISE_PATTERN

    root = Path(course_root).resolve()
    runtime = Path(runtime_directory) if runtime_directory else root / DEFAULT_RUNTIME_DIRECTORY
    runtime = (root / runtime).resolve() if not runtime.is_absolute() else runtime
    # nbgrader joins these step names onto the root, so runtime folders are given relative to it.
    runtime_rel = os.path.relpath(runtime, root)
    # The gradebook's folder must exist before nbgrader opens the database.
    runtime.mkdir(parents=True, exist_ok=True)

    c = Config()
    c.CourseDirectory.root = str(root)
    c.CourseDirectory.course_id = COURSE_ID
    c.CourseDirectory.source_directory = SOURCE_DIRECTORY
    c.CourseDirectory.release_directory = RELEASE_DIRECTORY
    c.CourseDirectory.submitted_directory = os.path.join(runtime_rel, "submitted")
    c.CourseDirectory.autograded_directory = os.path.join(runtime_rel, "autograded")
    c.CourseDirectory.feedback_directory = os.path.join(runtime_rel, "feedback")
    c.CourseDirectory.solution_directory = os.path.join(runtime_rel, "solution")
    c.CourseDirectory.source_with_tests_directory = os.path.join(runtime_rel, "source_with_tests")
    c.CourseDirectory.db_url = f"sqlite:///{runtime / 'gradebook.db'}"
    # The exchange that release/fetch/submit/collect use, on this machine (a shared hub sets
    # its own, e.g. /srv/nbgrader/exchange); nbgrader wants it to exist and be writable by all.
    exchange = runtime / "exchange"
    exchange.mkdir(exist_ok=True)
    if exchange.stat().st_uid == os.getuid():
        exchange.chmod(0o777)
    c.Exchange.root = str(exchange)
    # Execution: a per-cell time limit; a timed-out cell is interrupted and scores 0.
    c.Execute.timeout = int(cell_timeout_s)
    c.Execute.interrupt_on_timeout = True
    # TensorFlow/Keras log lines on stderr must not fail a correct answer (nbgrader fails
    # any test cell with stderr output).
    c.IgnorePattern.enabled = True
    c.IgnorePattern.pattern = LOG_NOISE_PATTERN
    # Quiet kernels: their own log (e.g. ipykernel's TCP notice) is not the student's output.
    c.Execute.extra_arguments = ["--HistoryManager.hist_file=:memory:", "--IPKernelApp.log_level=ERROR"]
    # One grading path (threat row 44): nbgrader's own autograde (the formgrader's Autograde
    # button, `nbgrader autograde`) runs each submission in the sandbox and scores it with the
    # trusted checks, exactly as `segcourse grade`; never student code in an instructor's kernel.
    # (`segcourse grade` swaps SandboxedGrading for TrustedVerdicts: autograder.batch.grading_config.)
    from autograder.grading_path import autograde_preprocessors
    c.Autograde.autograde_preprocessors = autograde_preprocessors()
    c.SandboxedGrading.cell_timeout_s = int(cell_timeout_s)
    # Feedback shows each hidden test's docstring and failure message, not its code.
    c.GenerateFeedback.preprocessors = [
        "nbgrader.preprocessors.GetGrades",
        "nbconvert.preprocessors.CSSHTMLHeaderPreprocessor",
        "autograder.feedback.HideHiddenTests",
    ]
    return c


def runtime_directory_of(config: Config) -> Path:
    """The runtime folder a ``course_config`` points at (the gradebook's folder)."""
    return Path(config.CourseDirectory.db_url.removeprefix("sqlite:///")).parent
