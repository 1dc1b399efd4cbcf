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

# The course's late policy (autograder/late.py): "none" (nbgrader's default), "zero" (nbgrader's
# own: a late notebook scores 0), or "POINTS/UNIT" such as "1/hour" (POINTS per started UNIT
# late, at most the score). Every grading path uses it (`segcourse grade`, `nbgrader autograde`,
# the formgrader); `segcourse grade --late-penalty` overrides it for one run. The due date itself
# is nbgrader's, in the gradebook (`segcourse grade NAME --due ...`).
LATE_PENALTY = "none"


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
    late_penalty: str | None = None,
) -> Config:
    """The traitlets ``Config`` that nbgrader runs with for this course.

    Args:
        course_root: the repository root (holds ``solutions/`` and ``exercises/``).
        runtime_directory: where submissions, grades, feedback and the gradebook go;
            ``<course_root>/.grading`` when None. Relative paths are under the root.
        cell_timeout_s: seconds a cell may run under autograding before it is
            interrupted (the cell then scores 0 and grading goes on).
        late_penalty: the late policy (``autograder.late.parse_late_policy``);
            ``LATE_PENALTY`` when None.

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
    # its own, e.g. /srv/nbgrader/exchange). The formgrader needs it to exist and be writable
    # by the instructor, so it is made here owner-writable only (0755): grading never needs
    # more. Students on a shared machine need it writable by all, and nbgrader itself makes it
    # so (0777) when the instructor first runs `nbgrader release_assignment`; an existing
    # exchange is never changed here.
    exchange = runtime / "exchange"
    if not exchange.exists():
        exchange.mkdir(mode=0o755)
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
    # Late work: nbgrader's AssignLatePenalties (an autograde step) asks this plugin for the
    # penalty of a notebook submitted after the gradebook's due date.
    from autograder.late import parse_late_policy
    policy = LATE_PENALTY if late_penalty is None else late_penalty
    parse_late_policy(policy)           # a bad policy fails here, with what is expected
    c.AssignLatePenalties.plugin_class = "autograder.late.PenaltyPerTimeUnit"
    c.PenaltyPerTimeUnit.policy = str(policy)
    # The release: a hidden-test cell keeps only its docstring, which IPython would show as
    # the cell's value and `nbgrader validate` would read as a score ("cannot be converted to
    # a float"); EndHiddenTestCells ends such a cell with a statement (before the checksums).
    c.GenerateAssignment.preprocessors = _release_preprocessors()
    # Feedback shows each hidden test's docstring and failure message, not its code.
    c.GenerateFeedback.preprocessors = [
        "nbgrader.preprocessors.GetGrades",
        "nbconvert.preprocessors.CSSHTMLHeaderPreprocessor",
        "autograder.feedback.HideHiddenTests",
        "autograder.late.LateNotice",
    ]
    return c


def _release_preprocessors() -> list[str]:
    """nbgrader 0.9.6's ``GenerateAssignment.preprocessors`` with ``EndHiddenTestCells``
    after ``ClearHiddenTests`` (so the checksums that follow cover it)."""
    from nbgrader.converters.generate_assignment import GenerateAssignment

    steps = []
    for step in GenerateAssignment.class_traits()["preprocessors"].default():
        name = step if isinstance(step, str) else f"{step.__module__}.{step.__qualname__}"
        steps.append(name)
        if name.endswith(".ClearHiddenTests"):
            steps.append("autograder.feedback.EndHiddenTestCells")
    if "autograder.feedback.EndHiddenTestCells" not in steps:
        raise RuntimeError("nbgrader's GenerateAssignment has no ClearHiddenTests step: this nbgrader is not supported")
    return steps


def runtime_directory_of(config: Config) -> Path:
    """The runtime folder a ``course_config`` points at (the gradebook's folder)."""
    return Path(config.CourseDirectory.db_url.removeprefix("sqlite:///")).parent
