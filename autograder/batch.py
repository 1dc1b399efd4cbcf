"""Grade a batch of submissions: sandboxed execution in parallel, one gradebook writer.

    report = grade_batch(config, "fcn_basics", students, sandbox, GradeOptions(workers=2))

- ``read_submission`` (trusted side, ``autograder.submissions``) reads each student's
  notebooks and the release into a ``SubmissionTask`` of plain data.
- An engine (``autograder.engines``: local threads, or Dask workers) runs
  ``grade_submission`` (``autograder.sandboxed_run``) for each task: rebuild the notebook
  from the release, run it in the sandbox, judge the plain-data results. It returns plain
  data, never touching the gradebook. Worker slots (``autograder.worker_slots``): one per
  core, or one per GPU with ``gpus="auto"``; each slot has its own sandbox uid and GPU.
- The calling thread is the gradebook's ONLY writer: for each result, as it arrives, it
  stages it under ``<runtime>/.staging/`` and runs nbgrader's own ``autograde``
  (``Execute`` replaced by ``TrustedVerdicts``: ``autograder.nbgrader_steps``), then
  ``generate_feedback`` (student HTML sanitized, hidden tests hidden), each student in one
  transaction (``autograder.student_recorder``).
- Before the batch the gradebook is backed up (``VACUUM INTO``); after it, it is checked
  (``PRAGMA integrity_check``, no triggers or views, every score equals the sum of its
  grades: ``autograder.gradebook``). Re-grading the same submissions gives the same grades.
- What it returns and prints: ``autograder.batch_report``.
"""

from __future__ import annotations

import functools
import secrets
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

from autograder import nbgrader_api
from autograder.batch_report import FAILED_STATUSES, BatchReport, SubmissionReport, progress_line
from autograder.course import (
    CELL_TIMEOUT_S,
    ENGINE,
    GPUS,
    INTERRUPT_GRACE_S,
    NOTEBOOK_TIMEOUT_S,
    WORKERS,
    db_path_of,
    runtime_directory_of,
)
from autograder.course_lock import course_lock
from autograder.engines import Engine, make_engine
from autograder.gradebook import backup_gradebook, check_before_batch, check_gradebook
from autograder.gradebook_errors import describe_gradebook_error, one_line_grading_error
from autograder.late import lateness_of
from autograder.nbgrader_steps import grading_config
from autograder.sandbox import Limits, Sandbox
from autograder.sandboxed_run import grade_submission
from autograder.stopping import GracefulStop
from autograder.student_recorder import StudentRecorder
from autograder.submissions import SubmissionTask, read_submission
from autograder.trusted import STAGED_SUFFIX, StagedResult
from autograder.worker_slots import detect_gpus, plan_workers

NOT_SCORED = (*FAILED_STATUSES, "stopped")     # the gradebook's score is not this run's


@dataclass
class GradeOptions:
    """How a batch runs; the defaults are the course's (``autograder.course``)."""

    workers: int | None = WORKERS.default           # None: one per core (or one per GPU)
    gpus: str = GPUS.default                        # auto | none | "0,1"
    cell_timeout_s: int = CELL_TIMEOUT_S.default
    interrupt_grace_s: float = INTERRUPT_GRACE_S.default
    notebook_timeout_s: float = NOTEBOOK_TIMEOUT_S.default
    limits: Limits = field(default_factory=Limits)
    seed: int | None = None             # probe inputs; fresh per run when None
    feedback: bool = True
    engine: str = ENGINE.default        # local | dask (see autograder.engines)
    scheduler: str | None = None        # Dask scheduler address; None: a LocalCluster here
    first_slot: int = 0                 # sandbox uid of slot k is 61000 + first_slot + k: give
                                        # batches that run at once on one machine distinct ranges


def grade_batch(config, assignment: str, students: list[str], sandbox: Sandbox, options: GradeOptions,
                progress=print) -> BatchReport:
    """``_grade_batch`` holding the course's lock (one batch per runtime folder; raises
    ``autograder.course_lock.CourseLocked`` at once if another process holds it)."""
    with course_lock(runtime_directory_of(config), f"segcourse grade {assignment}", announce=progress):
        return _grade_batch(config, assignment, students, sandbox, options, progress)


def _grade_batch(config, assignment: str, students: list[str], sandbox: Sandbox, options: GradeOptions,
                 progress=print) -> BatchReport:
    """Grade ``students``' submissions of ``assignment``; the batch always completes.

    The submissions run on ``options.engine`` (local threads or Dask workers); this
    thread records each result with nbgrader as it arrives (the only gradebook writer).
    """
    started = time.perf_counter()
    course_root = Path(config.CourseDirectory.root)
    submitted = course_root / config.CourseDirectory.submitted_directory
    seed = options.seed if options.seed is not None else secrets.randbits(63)
    backup = _prepare_gradebook(config)
    writer = _GradebookWriter(config, assignment, options.feedback)
    engine, slots = _open_engine(options)
    where = ", ".join(sorted({f"GPU {e['CUDA_VISIBLE_DEVICES']}" if e.get("CUDA_VISIBLE_DEVICES") else "CPU"
                              for e in slots}))
    progress(f"grading {len(students)} submission(s) of {assignment}: {engine.describe()} on {where}, "
             f"sandbox {sandbox.name}, checks' seed {seed}")
    work = functools.partial(grade_submission, sandbox=sandbox, options=options, slot_envs=slots, seed=seed)
    tasks = (read_submission(course_root, assignment, student, submitted) for student in students)
    reports: dict[str, SubmissionReport] = {}
    try:
        with engine, GracefulStop(running=lambda: engine.running_count, say=progress) as stop:
            for task, outcome in engine.map(work, tasks, stop=stop.requested):
                reports[task.student] = writer.record(task, outcome)
                progress(progress_line(len(reports), len(students), reports[task.student]))
            events = engine.events()
    finally:
        sandbox.close()              # the warm-kernel servers hold this batch's library edition
    for student in students:         # a stop (Ctrl-C, SIGTERM) before they started
        reports.setdefault(student, SubmissionReport(student, "stopped", "not graded: the batch was stopped before "
                                                                          "it started; its earlier grades are kept"))
    writer.close()
    _add_scores(config, assignment, students, reports)
    integrity = check_gradebook(config.CourseDirectory.db_url, config.CourseDirectory.course_id)
    return BatchReport([reports[s] for s in students], backup, integrity, time.perf_counter() - started,
                       stopped=stop.requested.is_set(), events=events)


def _prepare_gradebook(config) -> Path | None:
    """Check the gradebook and back it up before any sandbox runs (empty, damaged or not
    nbgrader's: ``GradebookDamaged``); a new course's is created. Returns the backup."""
    db_path = db_path_of(config.CourseDirectory.db_url)
    check_before_batch(db_path)
    backup = backup_gradebook(db_path)
    if not db_path.exists():        # a new course: nbgrader creates its gradebook
        from nbgrader.api import Gradebook
        Gradebook(config.CourseDirectory.db_url, config.CourseDirectory.course_id).close()
    return backup


def _open_engine(options: GradeOptions) -> tuple[Engine, list[dict[str, str]]]:
    """The engine of this batch and the environment of each of its slots."""
    visible = detect_gpus() if options.gpus != "none" else []
    if options.engine == "dask" and options.scheduler and not options.workers:
        engine = make_engine("dask", None, options.scheduler)       # as many as the cluster's threads
        slots = plan_workers(options.gpus, engine.concurrency, visible)
        engine.concurrency = len(slots)
        return engine, slots
    slots = plan_workers(options.gpus, options.workers, visible)
    return make_engine(options.engine, len(slots), options.scheduler), slots


class _GradebookWriter:
    """The batch's only gradebook writer: stages each worker's results and has nbgrader
    record them (``autograde``, then ``generate_feedback``), one student per transaction."""

    def __init__(self, config, assignment: str, feedback: bool):
        self.assignment, self.feedback = assignment, feedback
        self.staging = runtime_directory_of(config) / ".staging" / assignment
        grading_cfg = grading_config(config, self.staging)
        # nbgrader records each student into a fresh copy of the gradebook; the student's rows
        # then replace the old ones in one transaction (a kill leaves old grades or new ones)
        self.transactions = StudentRecorder(db_path_of(config.CourseDirectory.db_url),
                                            self.staging / "gradebook-recording.db")
        grading_cfg.CourseDirectory.db_url = self.transactions.url
        self.api = nbgrader_api.make_api(grading_cfg)   # one API (and gradebook connection setup) per batch

    def record(self, task: SubmissionTask, outcome) -> SubmissionReport:
        """Record one worker's ``outcome`` (its results, or the exception it raised); a
        failure fails this submission only (``infra_error``, ``nbgrader_error``)."""
        report = SubmissionReport(task.student, "ok")
        try:
            if isinstance(outcome, BaseException):
                raise outcome
            _summarize(report, task, stage_results(self.staging, task, outcome))
            if report.status != "infra_error" and report.recorded:
                self._autograde(task.student, report)
        except nbgrader_api.GradingStepError as error:    # first line names the cause (one line for the gradebook's)
            report.status, report.detail = "nbgrader_error", one_line_grading_error(str(error))
        except Exception as error:
            report.status, report.detail = "infra_error", (describe_gradebook_error(error)
                                                           or f"{type(error).__name__}: {error}")
        return report

    def _autograde(self, student: str, report: SubmissionReport) -> None:
        started = time.perf_counter()
        self.transactions.prepare()
        nbgrader_api.check_result(self.api.autograde(self.assignment, student, force=True, create=True),
                                  f"nbgrader autograde of {student}")
        self.transactions.commit(self.assignment, student)
        if self.feedback:
            nbgrader_api.check_result(self.api.generate_feedback(self.assignment, student, force=True),
                                      f"nbgrader generate_feedback of {student}")
        report.grade_s = time.perf_counter() - started
        report.timing["record"] = round(report.grade_s, 2)

    def close(self) -> None:
        self.transactions.discard()


def stage_results(staging: Path, task: SubmissionTask, results: list[dict]) -> list[StagedResult]:
    """Write a worker's results where nbgrader's autograde reads them (trusted side)."""
    target = staging / "submitted" / task.student / task.assignment
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    if not task.links and task.timestamp:   # as read_submission checked it, where nbgrader reads it
        (target / "timestamp.txt").write_text(task.timestamp)
    if task.submission_secret:              # nbgrader's feedback steps name the files by it
        (target / "submission_secret.txt").write_text(task.submission_secret)
    staged_list = []
    for result in results:
        staged = StagedResult(**result["staged"])
        (target / f"{staged.notebook}.ipynb").write_text(result["notebook"])
        staged.save(staging / "verdicts" / task.student / task.assignment / f"{staged.notebook}{STAGED_SUFFIX}")
        staged_list.append(staged)
    return staged_list


def _summarize(report: SubmissionReport, task: SubmissionTask, staged_list: list[StagedResult]) -> None:
    """The submission's status, notes and seconds per stage, summed over its notebooks."""
    report.run_s = sum(s.wall_s for s in staged_list)
    for staged in staged_list:
        for stage, seconds in staged.timing.items():
            report.timing[stage] = round(report.timing.get(stage, 0.0) + seconds, 2)
    bad = [s for s in staged_list if s.status != "ok"]
    if bad:
        report.status, report.detail = bad[0].status, bad[0].detail
    report.notes = list(task.notes)
    if task.rejected:       # nbgrader's autograde rejects it too: the gradebook is left as it was
        report.status, report.detail, report.recorded = "not_gradable", f"not graded: {task.rejected}", False


def _add_scores(config, assignment: str, students: list[str], reports: dict[str, SubmissionReport]) -> None:
    """Each recorded submission's score, lateness and penalty, as the gradebook now holds them."""
    for score in nbgrader_api.submission_scores(config, assignment, students):
        report = reports[score.student]
        if score.graded and report.status not in NOT_SCORED and report.recorded:
            report.score, report.max_score = score.score, score.max_score
    graded_now = [s for s in students if reports[s].score is not None]
    for student, (late_s, penalty) in lateness_of(config, assignment, graded_now).items():
        reports[student].late_s, reports[student].penalty = late_s, penalty
