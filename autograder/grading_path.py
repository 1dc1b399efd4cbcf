"""One grading path: nbgrader's own ``autograde`` (the formgrader's Autograde button, the
``nbgrader autograde`` command) grades through the sandbox and the trusted checks.

The course configuration (``autograder.course.course_config``) puts ``SandboxedGrading``
in place of nbgrader's ``Execute`` in ``Autograde.autograde_preprocessors``. For each
notebook nbgrader autogrades, it does what ``segcourse grade`` does for that notebook:

1. reads the student's file from the submitted folder and the release (``exercises/``),
   rebuilds the notebook from the release with only the student's answers
   (``autograder.submissions.read_submission``, ``autograder.sandboxed_run.grade_submission``);
2. runs it in the detected sandbox (bubblewrap, podman, docker, apptainer) and judges the
   plain-data results with the trusted reference checks, outside the student's kernel;
3. hands nbgrader the rebuilt notebook, sanitized as nbgrader sanitizes a submission
   (tests and points from the gradebook), with the verdicts written as the grade cells'
   outputs (``autograder.trusted.TrustedVerdicts``); nbgrader's ``SaveAutoGrades`` then
   records the same points as ``segcourse grade``.

It never runs student code outside a sandbox: with none available it raises
``GradingRefused``, whose one-line message names ``segcourse grade``.

``segcourse grade`` itself replaces this preprocessor with ``TrustedVerdicts`` (see
``autograder.nbgrader_steps.grading_config``), so the two paths share every step but the engine.
"""

from __future__ import annotations

import secrets
import tempfile
from pathlib import Path

from nbgrader.preprocessors import NbGraderPreprocessor
from traitlets import Float, Int, Unicode

from autograder.course import (
    CELL_TIMEOUT_S,
    NBGRADER_FIRST_SLOT,
    NOTEBOOK_TIMEOUT_S,
    RELEASE_DIRECTORY,
    SANDBOX,
    db_path_of,
)


class GradingRefused(RuntimeError):
    """nbgrader's autograde may not grade this submission here (the message says why and
    which command to use instead)."""


def refusal_message(assignment: str, student: str, reason: str) -> str:
    return (f"segcourse refuses to autograde {student}/{assignment} here: {reason}. "
            f"Grade it with `segcourse grade {assignment} --student {student}` "
            f"(install bubblewrap: apt-get install -y bubblewrap; or accept the risk with "
            f"`segcourse grade {assignment} --student {student} --allow-unsandboxed`)")


class SandboxedGrading(NbGraderPreprocessor):
    """Replaces nbgrader's ``Execute``: grade this notebook as ``segcourse grade`` does."""

    sandbox = Unicode(SANDBOX.default, help=f"{SANDBOX.help} (never none)").tag(config=True)
    cell_timeout_s = Int(CELL_TIMEOUT_S.default, help=CELL_TIMEOUT_S.help).tag(config=True)
    notebook_timeout_s = Float(NOTEBOOK_TIMEOUT_S.default, help=NOTEBOOK_TIMEOUT_S.help).tag(config=True)
    first_slot = Int(NBGRADER_FIRST_SLOT.default, help=NBGRADER_FIRST_SLOT.help).tag(config=True)

    def preprocess(self, nb, resources):
        from nbgrader.coursedir import CourseDirectory

        info = resources["nbgrader"]
        student, assignment, notebook_id = info["student"], info["assignment"], info["notebook"]
        coursedir = CourseDirectory(config=self.config)
        course_root = Path(coursedir.root)
        sandbox = self._sandbox(course_root, assignment, student)
        self._check_gradebook_matches_release(course_root, assignment, notebook_id, info["db_url"])

        from autograder.batch import GradeOptions
        from autograder.sandboxed_run import grade_submission
        from autograder.submissions import read_submission
        from autograder.worker_slots import plan_workers

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
        """The course's batch lock (``autograder.course_lock.course_lock``) while this notebook
        runs: refused at once, naming the holder, while ``segcourse grade`` is running."""
        import contextlib

        from autograder.course_lock import CourseLocked, course_lock

        @contextlib.contextmanager
        def held():
            try:
                with course_lock(db_path_of(db_url).parent,
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
            # one notebook per call: a warm-kernel server would import TensorFlow just the same
            return detect_sandbox(self.sandbox, allow_unsandboxed=False, warm_kernels=False)
        except SandboxUnavailable:
            raise GradingRefused(refusal_message(
                assignment, student, "no sandbox (bubblewrap, podman, docker, apptainer) is available, "
                                     "and student code never runs unsandboxed")) from None

    @staticmethod
    def _check_gradebook_matches_release(course_root: Path, assignment: str, notebook_id: str, db_url: str) -> None:
        """The gradebook's grade cells and points must be those of ``exercises/``."""
        import nbformat
        from nbgrader.api import Gradebook, MissingEntry

        from autograder.trusted import grade_points

        release = course_root / RELEASE_DIRECTORY / assignment / f"{notebook_id}.ipynb"
        want = grade_points(nbformat.read(release, as_version=4))
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

        from autograder.nbgrader_steps import sanitize_steps
        from autograder.trusted import STAGED_SUFFIX, StagedResult, TrustedVerdicts

        info = resources["nbgrader"]
        (result,) = [r for r in results if r["staged"]["notebook"] == info["notebook"]]
        staged = StagedResult(**result["staged"])
        rebuilt = nbformat.reads(result["notebook"], as_version=4)
        # nbgrader's own sanitizing of a submission (Autograde.sanitize_preprocessors), applied to
        # the rebuilt notebook, as `segcourse grade` has nbgrader do on the staged copy.
        for step in sanitize_steps():
            rebuilt, resources = step(parent=self)(rebuilt, resources)
        if staged.status != "ok":
            self.log.warning("%s/%s/%s: %s", info["student"], info["assignment"], info["notebook"],
                             (staged.detail.splitlines() or [staged.status])[0])
        with tempfile.TemporaryDirectory(prefix="segcourse-verdicts-") as staging:
            staged.save(Path(staging) / info["student"] / info["assignment"] / f"{info['notebook']}{STAGED_SUFFIX}")
            return TrustedVerdicts(parent=self, staging_directory=staging).preprocess(rebuilt, resources)
