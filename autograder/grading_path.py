"""One grading path: nbgrader's own ``autograde`` (the formgrader's Autograde button, the
``nbgrader autograde`` command) grades through the sandbox and the trusted checks.

The course configuration (``autograder.course.course_config``) puts ``SandboxedGrading``
in place of nbgrader's ``Execute`` in ``Autograde.autograde_preprocessors``. For each
notebook nbgrader autogrades, it does what ``segcourse grade`` does for that notebook:

1. reads the student's file from the submitted folder and the release (``exercises/``),
   rebuilds the notebook from the release with only the student's answers
   (``autograder.batch.read_submission`` / ``grade_submission``);
2. runs it in the detected sandbox (bubblewrap, podman, docker, apptainer) and judges the
   plain-data results with the trusted reference checks, outside the student's kernel;
3. hands nbgrader the rebuilt notebook, sanitized as nbgrader sanitizes a submission
   (tests and points from the gradebook), with the verdicts written as the grade cells'
   outputs (``autograder.trusted.TrustedVerdicts``); nbgrader's ``SaveAutoGrades`` then
   records the same points as ``segcourse grade``.

It never runs student code outside a sandbox: with none available it raises
``GradingRefused``, whose one-line message names ``segcourse grade``.

``segcourse grade`` itself replaces this preprocessor with ``TrustedVerdicts`` (see
``autograder.batch.grading_config``), so the two paths share every step but the engine.

This module also turns gradebook (database) failures into one line naming the cause
(``describe_gradebook_error``, ``one_line_grading_error``).
"""

from __future__ import annotations

import re
import secrets
import sqlite3
import tempfile
from pathlib import Path

from nbgrader.preprocessors import NbGraderPreprocessor
from traitlets import Float, Int, Unicode


class GradingRefused(RuntimeError):
    """nbgrader's autograde may not grade this submission here (the message says why and
    which command to use instead)."""


class GradebookError(RuntimeError):
    """The gradebook database could not be used; the message is one line naming the cause."""


def refusal_message(assignment: str, student: str, reason: str) -> str:
    return (f"segcourse refuses to autograde {student}/{assignment} here: {reason}. "
            f"Grade it with `segcourse grade {assignment} --student {student}` "
            f"(install bubblewrap: apt-get install -y bubblewrap; or accept the risk with "
            f"`segcourse grade {assignment} --student {student} --allow-unsandboxed`)")


class SandboxedGrading(NbGraderPreprocessor):
    """Replaces nbgrader's ``Execute``: grade this notebook as ``segcourse grade`` does."""

    sandbox = Unicode("auto", help="auto, bwrap, docker, podman or apptainer (never none)").tag(config=True)
    cell_timeout_s = Int(60, help="seconds one cell may run in the sandbox").tag(config=True)
    notebook_timeout_s = Float(900.0, help="seconds the whole notebook may run in the sandbox").tag(config=True)
    first_slot = Int(900, help="sandbox uid offset (apart from segcourse grade's slots 0, 1, ...)").tag(config=True)

    def preprocess(self, nb, resources):
        from nbgrader.coursedir import CourseDirectory

        info = resources["nbgrader"]
        student, assignment, notebook_id = info["student"], info["assignment"], info["notebook"]
        coursedir = CourseDirectory(config=self.config)
        course_root = Path(coursedir.root)
        sandbox = self._sandbox(course_root, assignment, student)
        self._check_gradebook_matches_release(course_root, assignment, notebook_id, info["db_url"])

        from autograder.batch import GradeOptions, grade_submission, plan_workers, read_submission

        submitted = Path(coursedir.format_path(coursedir.submitted_directory, ".", ".")).resolve()
        task = read_submission(course_root, assignment, student, submitted)
        if task.rejected:       # nbgrader itself stops before this step for a timestamp that is not a time
            raise GradingRefused(f"{student}/{assignment} is not graded: {task.rejected}")
        name = f"{notebook_id}.ipynb"
        # only this notebook (nbgrader calls this preprocessor once per notebook)
        task.release_files = {k: v for k, v in task.release_files.items() if not k.endswith(".ipynb") or k == name}
        task.notebooks = {k: v for k, v in task.notebooks.items() if k == name}
        task.unreadable = {k: v for k, v in task.unreadable.items() if k == name}
        options = GradeOptions(workers=1, cell_timeout_s=self.cell_timeout_s,
                               notebook_timeout_s=self.notebook_timeout_s, first_slot=self.first_slot)
        self.log.info("Grading %s/%s/%s in the %s sandbox, judged by the trusted checks",
                      student, assignment, notebook_id, sandbox.name)
        with self._course_lock(info["db_url"], assignment, student):     # not during a segcourse batch
            results = grade_submission(task, 0, sandbox=sandbox, options=options,
                                       slot_envs=plan_workers("none", 1, []), seed=secrets.randbits(63))
        return self._record(results, resources)

    @staticmethod
    def _course_lock(db_url: str, assignment: str, student: str):
        """The course's batch lock (``autograder.gradebook.course_lock``) while this notebook
        runs: refused at once, naming the holder, while ``segcourse grade`` is running."""
        import contextlib

        from autograder.gradebook import CourseLocked, course_lock

        @contextlib.contextmanager
        def held():
            try:
                with course_lock(Path(db_url.removeprefix("sqlite:///")).parent,
                                 f"nbgrader autograde {assignment} --student {student}"):
                    yield
            except CourseLocked as error:
                raise GradingRefused(f"segcourse refuses to autograde {student}/{assignment} now: {error}") from None
        return held()

    def _sandbox(self, course_root: Path, assignment: str, student: str):
        from autograder.references import load_checks
        from autograder.sandbox import SandboxUnavailable, detect_sandbox

        try:
            load_checks(assignment, course_root)
        except ModuleNotFoundError:
            raise GradingRefused(f"segcourse refuses to autograde {student}/{assignment}: it has no trusted checks "
                                 f"yet: write autograder/references/{assignment}.py, then grade with "
                                 f"`segcourse grade {assignment} --student {student}`") from None
        if self.sandbox == "none":
            raise GradingRefused(refusal_message(assignment, student, "SandboxedGrading.sandbox is 'none'"))
        try:
            return detect_sandbox(self.sandbox, allow_unsandboxed=False)
        except SandboxUnavailable:
            raise GradingRefused(refusal_message(
                assignment, student, "no sandbox (bubblewrap, podman, docker, apptainer) is available, "
                                     "and student code never runs unsandboxed")) from None

    @staticmethod
    def _check_gradebook_matches_release(course_root: Path, assignment: str, notebook_id: str, db_url: str) -> None:
        """The gradebook's grade cells and points must be those of ``exercises/``."""
        import nbformat
        from nbgrader.api import Gradebook, MissingEntry

        from autograder.trusted import _nbgrader

        release = course_root / "exercises" / assignment / f"{notebook_id}.ipynb"
        want = {_nbgrader(c)["grade_id"]: float(_nbgrader(c).get("points", 0))
                for c in nbformat.read(release, as_version=4).cells
                if _nbgrader(c).get("grade") and _nbgrader(c).get("grade_id")}
        with Gradebook(db_url) as gradebook:
            try:
                have = {g.name: float(g.max_score)
                        for g in gradebook.find_notebook(notebook_id, assignment).grade_cells}
            except MissingEntry:
                have = {}
        if have != want:
            raise GradingRefused(f"the gradebook's {assignment}/{notebook_id} differs from exercises/{assignment} "
                                 f"(grade cells or points): run `segcourse grade {assignment}`, which brings the "
                                 f"gradebook in line first, or `segcourse release {assignment}`")

    def _record(self, results: list[dict], resources):
        import nbformat
        from nbgrader.preprocessors import (
            CheckCellMetadata,
            ClearOutput,
            DeduplicateIds,
            OverwriteCells,
            OverwriteKernelspec,
        )

        from autograder.trusted import STAGED_SUFFIX, StagedResult, TrustedVerdicts

        info = resources["nbgrader"]
        (result,) = [r for r in results if r["staged"]["notebook"] == info["notebook"]]
        staged = StagedResult(**result["staged"])
        rebuilt = nbformat.reads(result["notebook"], as_version=4)
        # nbgrader's own sanitizing of a submission (Autograde.sanitize_preprocessors), applied to
        # the rebuilt notebook, as `segcourse grade` has nbgrader do on the staged copy.
        for step in (ClearOutput, DeduplicateIds, OverwriteKernelspec, OverwriteCells, CheckCellMetadata):
            rebuilt, resources = step(parent=self)(rebuilt, resources)
        if staged.status != "ok":
            self.log.warning("%s/%s/%s: %s", info["student"], info["assignment"], info["notebook"],
                             (staged.detail.splitlines() or [staged.status])[0])
        with tempfile.TemporaryDirectory(prefix="segcourse-verdicts-") as staging:
            staged.save(Path(staging) / info["student"] / info["assignment"] / f"{info['notebook']}{STAGED_SUFFIX}")
            return TrustedVerdicts(parent=self, staging_directory=staging).preprocess(rebuilt, resources)


def autograde_preprocessors() -> list:
    """nbgrader 0.9.6's default ``Autograde.autograde_preprocessors`` with ``Execute``
    replaced by ``SandboxedGrading`` (then ``SanitizeStudentHtml``, as in ``segcourse grade``)."""
    from nbgrader.converters.autograde import Autograde
    from nbgrader.preprocessors import Execute

    steps = []
    for step in Autograde.class_traits()["autograde_preprocessors"].default():
        if step is Execute or step == "nbgrader.preprocessors.Execute":
            steps += ["autograder.grading_path.SandboxedGrading", "autograder.batch.SanitizeStudentHtml"]
        else:   # dotted names: the config stays plain data (deep-copied, merged, printed)
            steps.append(step if isinstance(step, str) else f"{step.__module__}.{step.__qualname__}")
    if "autograder.grading_path.SandboxedGrading" not in steps:
        raise RuntimeError("nbgrader's Autograde has no Execute step to replace: this nbgrader is not supported")
    return steps


# ----------------------------------------------------------------------------- gradebook errors
_SQLALCHEMY_WRAPPED = re.compile(r"\((sqlite3\.\w+|psycopg2?\.\w+|pymysql\.\w+)\) ([^\n\[]+)")
_DRIVER_RAISED = re.compile(r"^(?:sqlite3\.)?(OperationalError|DatabaseError|IntegrityError|ProgrammingError)"
                            r": ([^\n]+)", re.MULTILINE)
_SQLALCHEMY_RAISED = re.compile(r"^sqlalchemy\.(?:\w+\.)*(\w+(?:Error|Found|Rows?))\b:? ?([^\n]*)", re.MULTILINE)
_UNKNOWN_ASSIGNMENT = re.compile(r"No assignment with ID '([^']*)' exists in the database")


def _why(cause: str) -> str:
    cause = cause.strip().rstrip(".")
    lowered = cause.lower()
    if "locked" in lowered or "busy" in lowered:
        return f"{cause} (another segcourse or nbgrader process is writing it; try again when it has finished)"
    if "not a database" in lowered or "malformed" in lowered or "corrupt" in lowered:
        return f"{cause} (the file is damaged: restore a backup, gradebook.backup-*.db beside it, or move it away)"
    if "no such table" in lowered or "no such column" in lowered:
        return f"{cause} (not an nbgrader gradebook of this version: restore a backup or run `nbgrader db upgrade`)"
    if "readonly" in lowered or "unable to open" in lowered:
        return f"{cause} (check that the gradebook's folder exists and is writable)"
    return cause


def describe_gradebook_error(error: BaseException | str, db_path: str | Path | None = None) -> str | None:
    """One line naming a gradebook failure in an exception or an nbgrader log; None if
    the text shows none."""
    text = error if isinstance(error, str) else f"{type(error).__module__}.{type(error).__name__}: {error}"
    where = f" {db_path}" if db_path else ""
    if isinstance(error, sqlite3.Error):
        return f"gradebook error{where}: {_why(str(error).splitlines()[0] if str(error) else type(error).__name__)}"
    for pattern in (_SQLALCHEMY_WRAPPED, _DRIVER_RAISED):
        match = pattern.search(text)
        if match:
            return f"gradebook error{where}: {_why(match.group(2))}"
    match = _UNKNOWN_ASSIGNMENT.search(text)
    if match:
        return (f"the gradebook does not know the assignment '{match.group(1)}': grade with "
                f"`segcourse grade {match.group(1)}` (it brings the gradebook in line with solutions/ first) "
                f"or run `segcourse release {match.group(1)}`")
    if "error accessing the nbgrader database" in text:
        return f"gradebook error{where}: nbgrader could not access the database"
    match = _SQLALCHEMY_RAISED.search(text)
    if match:
        return f"gradebook error{where}: {match.group(1)}{': ' + _why(match.group(2)) if match.group(2).strip() else ''}"
    return None


def one_line_grading_error(text: str, limit: int = 2000) -> str:
    """The detail of a failed nbgrader step: a first line that names the cause, then (for
    failures other than the gradebook's) the end of nbgrader's log."""
    gradebook = describe_gradebook_error(text)
    if gradebook:
        return gradebook
    refused = re.search(r"GradingRefused: ([^\n]+)", text)
    if refused:
        return refused.group(1)
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    first = lines[0].rstrip(":") if lines else "nbgrader failed"
    raised = re.findall(r"^\s*(?:\[\w+\]\s*)?((?:\w+\.)*\w*(?:Error|Exception)\b: [^\n]+)", text, re.MULTILINE)
    if raised:
        first = f"{first}: {raised[-1].strip()[:300]}"
    return first + "\n" + text[-limit:]


__all__ = ["GradebookError", "GradingRefused", "SandboxedGrading", "autograde_preprocessors",
           "describe_gradebook_error", "one_line_grading_error", "refusal_message"]
