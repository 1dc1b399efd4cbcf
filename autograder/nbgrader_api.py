"""Calls into nbgrader's own API: release, gradebook sync, autograde, feedback, export.

Each step calls nbgrader (``NbGraderAPI``, ``CsvExportPlugin``, ``Gradebook``) with the
course configuration of ``autograder.course``; nothing here re-implements grading. (Named
for what it wraps: ``course_utils.pipeline`` is the students' input pipeline, unrelated.)
"""

from __future__ import annotations

import filecmp
import logging
import os
import sys
import tempfile
import warnings
from dataclasses import dataclass, field
from pathlib import Path

from traitlets.config import Config

from autograder.course import RELEASE_DIRECTORY, course_config, db_path_of

TEXT_STUB = "YOUR ANSWER HERE"          # nbgrader's ClearSolutions.text_stub: a written answer's release text


class GradingStepError(RuntimeError):
    """An nbgrader step that failed; the message carries nbgrader's log."""


@dataclass
class SubmissionScore:
    """Points of one student's submission: per grade cell, and in total."""

    student: str
    by_cell: dict[str, float] = field(default_factory=dict)
    score: float = 0.0
    max_score: float = 0.0
    graded: bool = True
    pending: float = 0.0        # points of written answers still waiting for the instructor's grade


@dataclass
class WrittenAnswer:
    """A manually graded cell of one submission (a written answer, ``grade`` and ``solution``
    in nbgrader's metadata): the student's text as the autograded notebook holds it, and its
    points once the instructor graded it in the formgrader (``score``; None while it waits)."""

    student: str
    assignment: str
    notebook: str
    grade_id: str
    max_points: float
    score: float | None
    text: str                   # as nbgrader keeps it (the course renders student markdown as clean HTML)

    @property
    def blank(self) -> bool:
        """No answer written: nothing but the release's stub (``YOUR ANSWER HERE``) or markup."""
        import re

        words = re.sub(r"<[^>]*>", " ", self.text).strip()
        return words in ("", TEXT_STUB)

    @property
    def pending(self) -> bool:
        return self.score is None


def _prepare_environment() -> None:
    # nbgrader creates the gradebook by running the `alembic` executable from PATH, and
    # starts kernels from this interpreter: both must be this environment's.
    bin_dir = str(Path(sys.executable).parent)
    if bin_dir not in os.environ.get("PATH", "").split(os.pathsep):
        os.environ["PATH"] = bin_dir + os.pathsep + os.environ.get("PATH", "")
    # Quieter kernels; what still reaches stderr is filtered by IgnorePattern.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def make_api(config: Config):
    """An ``NbGraderAPI`` for this course configuration."""
    _prepare_environment()
    from nbgrader.apps import NbGraderAPI
    from nbgrader.coursedir import CourseDirectory

    # nbgrader 0.9.6 triggers these SQLAlchemy warnings on every autograde; they are not ours to fix.
    warnings.filterwarnings("ignore", message=".*not in session.*")
    api = NbGraderAPI(coursedir=CourseDirectory(config=config), config=config)
    api.log.setLevel(logging.WARNING)
    return api


def check_result(result: dict, what: str) -> None:
    """Raise ``GradingStepError`` with nbgrader's log when an API call did not succeed."""
    if not result.get("success"):
        raise GradingStepError(f"{what} failed:\n{result.get('log', '')}\n{result.get('error', '')}")


def release_assignment(config: Config, assignment: str) -> Path:
    """Generate the student version of ``assignment`` into ``exercises/`` (nbgrader
    ``generate_assignment``). Returns the release folder."""
    api = make_api(config)
    check_result(api.generate_assignment(assignment, force=True, create=True), f"generate_assignment {assignment}")
    return Path(config.CourseDirectory.root) / config.CourseDirectory.release_directory / assignment


EXCHANGE_STEPS = {"release": "release_assignment", "collect": "collect", "feedback": "release_feedback"}


def exchange_step(config: Config, step: str, assignment: str) -> str:
    """Run one of nbgrader's exchange steps for ``assignment`` with this course's exchange
    (``config.Exchange.root``): ``release`` (the release in ``exercises/`` to the students),
    ``collect`` (their submissions into the runtime folder's ``submitted/``) or ``feedback``
    (the feedback ``segcourse grade`` wrote, to each student). Returns where it went; raises
    ``GradingStepError`` (one line: nbgrader's reason) when nbgrader fails."""
    api = make_api(config)
    result = getattr(api, EXCHANGE_STEPS[step])(assignment)
    if not result.get("success"):
        log = [line for line in str(result.get("log", "")).splitlines() if "[CRITICAL]" in line or "[ERROR]" in line]
        reason = log[-1].split("]", 1)[1].strip() if log else _last_error_line(str(result.get("error", "")))
        raise GradingStepError(f"nbgrader {EXCHANGE_STEPS[step]} {assignment} failed: {reason}")
    exchange = Path(config.Exchange.root) / config.CourseDirectory.course_id
    return {"release": f"{exchange / 'outbound' / assignment}/",
            "collect": f"{Path(config.CourseDirectory.root) / config.CourseDirectory.submitted_directory}/"
                       f"<student>/{assignment}/",
            "feedback": f"{exchange / 'feedback'}/"}[step]


def release_drift(course_root: Path, assignment: str) -> list[str]:
    """Files of ``exercises/<assignment>`` that differ from a fresh release.

    Regenerates the release into a temporary folder and compares it with the
    committed one, file by file. Returns the differing, missing or extra relative paths
    (empty when ``exercises/`` is in sync with ``solutions/``).
    """
    course_root = Path(course_root).resolve()
    with tempfile.TemporaryDirectory(prefix="segcourse-release-") as tmp:
        config = course_config(course_root, runtime_directory=Path(tmp) / "runtime")
        config.CourseDirectory.release_directory = os.path.relpath(Path(tmp) / "release", course_root)
        fresh = release_assignment(config, assignment)
        committed = course_root / RELEASE_DIRECTORY / assignment
        return _tree_differences(fresh, committed)


def sync_gradebook(config: Config, assignment: str) -> list[str]:
    """Bring the course's gradebook in line with ``solutions/<assignment>`` (threat row 46).

    Runs nbgrader's ``generate_assignment`` into a temporary release folder with the
    course's real gradebook: the assignment, its notebooks, grade cells and points are
    created or updated, and ``exercises/`` is left as it is. Returns the files of
    ``exercises/<assignment>`` that differ from that fresh release (empty when in sync).
    Gradebook failures raise ``autograder.gradebook_errors.GradebookError`` (one line).
    """
    import copy

    from autograder.gradebook_errors import GradebookError, describe_gradebook_error

    course_root = Path(config.CourseDirectory.root)
    db_path = db_path_of(config.CourseDirectory.db_url)
    with tempfile.TemporaryDirectory(prefix="segcourse-sync-") as tmp:
        synced = copy.deepcopy(config)
        synced.CourseDirectory.release_directory = os.path.relpath(Path(tmp) / "release", course_root)
        try:
            fresh = release_assignment(synced, assignment)
        except GradingStepError as error:
            raise GradebookError(describe_gradebook_error(str(error), db_path)
                                 or f"generate_assignment {assignment} failed: "
                                    f"{_last_error_line(str(error))}") from None
        except Exception as error:
            line = describe_gradebook_error(error, db_path)
            if line is None:
                raise
            raise GradebookError(line) from None
        return _tree_differences(fresh, course_root / RELEASE_DIRECTORY / assignment)


def _last_error_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    errors = [line for line in lines if "Error" in line or "error" in line]
    return (errors or lines or ["(no log)"])[-1][:300]


def _tree_differences(left: Path, right: Path) -> list[str]:
    left_files = {p.relative_to(left) for p in left.rglob("*") if p.is_file()}
    right_files = {p.relative_to(right) for p in right.rglob("*") if p.is_file()} if right.is_dir() else set()
    differing = [str(p) for p in sorted(left_files ^ right_files)]
    for relative in sorted(left_files & right_files):
        if not filecmp.cmp(left / relative, right / relative, shallow=False):
            differing.append(str(relative))
    return differing


def export_grades(config: Config, destination: Path) -> Path:
    """Export every grade of the gradebook to a CSV file (nbgrader's CSV exporter's columns
    and values, quoted as RFC 4180 asks: ``autograder.lms_export.nbgrader_csv_rows``).

    Written to a temporary file beside ``destination`` and renamed: a failure (a full
    disk, no permission) leaves the previous file as it was and raises
    ``autograder.atomic_files.OutputError`` (one line naming the file and the cause)."""
    from nbgrader.api import Gradebook

    from autograder.lms_export import nbgrader_csv_rows, write_csv

    with Gradebook(config.CourseDirectory.db_url, config.CourseDirectory.course_id) as gradebook:
        rows = nbgrader_csv_rows(gradebook)
    return write_csv(Path(destination), rows)


def submission_scores(config: Config, assignment: str, students: list[str]) -> list[SubmissionScore]:
    """Per-cell and total points of each student's submission, read from the gradebook."""
    from nbgrader.api import Gradebook, MissingEntry

    scores = []
    with Gradebook(config.CourseDirectory.db_url, config.CourseDirectory.course_id) as gradebook:
        for student in students:
            try:
                submission = gradebook.find_submission(assignment, student)
            except MissingEntry:
                scores.append(SubmissionScore(student=student, graded=False))
                continue
            result = SubmissionScore(student=student, score=submission.score, max_score=submission.max_score)
            for notebook in submission.notebooks:
                for grade in notebook.grades:
                    result.by_cell[grade.name] = grade.score
                    if waits_for_instructor(grade):
                        result.pending += grade.max_score
            scores.append(result)
    return scores


def waits_for_instructor(grade) -> bool:
    """An nbgrader ``Grade`` whose points only the instructor can give and has not given yet.
    (nbgrader flags a cell graded by hand "needs manual grade" again when the submission is
    autograded again, but keeps its manual score, which counts: that one does not wait.)"""
    return bool(grade.needs_manual_grade) and grade.manual_score is None


def written_answers(config: Config, assignment: str | None = None) -> list[WrittenAnswer]:
    """Every manually graded cell of the gradebook's submissions (of ``assignment``, or of
    all), with the student's text read from the autograded notebook (empty when that
    notebook is missing). Sorted by assignment, student and cell."""
    import nbformat
    from nbgrader.api import Gradebook

    from autograder.trusted import nbgrader_metadata

    root = Path(config.CourseDirectory.root)
    answers = []
    with Gradebook(config.CourseDirectory.db_url, config.CourseDirectory.course_id) as gradebook:
        for entry in gradebook.assignments:
            if assignment is not None and entry.name != assignment:
                continue
            for submission in entry.submissions:
                for notebook in submission.notebooks:
                    manual = [g for g in notebook.grades if g.cell.cell_type == "markdown"]
                    if not manual:
                        continue
                    path = (root / config.CourseDirectory.autograded_directory / submission.student_id / entry.name
                            / f"{notebook.name}.ipynb")
                    texts = {}
                    if path.is_file():
                        texts = {nbgrader_metadata(c).get("grade_id"): c.source
                                 for c in nbformat.read(path, as_version=4).cells}
                    answers += [WrittenAnswer(submission.student_id, entry.name, notebook.name, g.name, g.max_score,
                                              None if waits_for_instructor(g) else g.score, texts.get(g.name, ""))
                                for g in manual]
    return sorted(answers, key=lambda a: (a.assignment, a.student, a.notebook, a.grade_id))
