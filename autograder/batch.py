"""Grade a batch of submissions: sandboxed execution in parallel, one gradebook writer.

    report = grade_batch(config, "fcn_basics", students, GradeOptions(workers=2))

- Workers (threads, each driving one sandboxed job at a time; default: one per core, or
  one per GPU with ``gpus="auto"``) rebuild each submission from the release notebook,
  run it in the sandbox, and judge the plain-data results on the trusted side. The
  result is staged as JSON under ``<runtime>/.staging/``.
- The calling thread is the gradebook's ONLY writer: for each staged result it runs
  nbgrader's own ``autograde`` (``Execute`` replaced by ``TrustedVerdicts``), one
  submission at a time, then ``generate_feedback``.
- Before the batch the gradebook is backed up (``VACUUM INTO``); after it, it is checked
  (``PRAGMA integrity_check``, no triggers or views, every score equals the sum of its
  grades). Re-grading the same submissions gives the same grades (idempotent).
"""

from __future__ import annotations

import copy
import json
import os
import queue
import secrets
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path

from autograder.course import runtime_directory_of
from autograder.sandbox import SANDBOX_WORKDIR, Job, Limits, Mount, Sandbox
from autograder.trusted import (
    STAGED_SUFFIX, NotGradable, StagedResult, _nbgrader, judge_submission, not_gradable_result,
    rebuild_submission, write_probes,
)

HARNESS = Path(__file__).with_name("harness.py")
HARNESS_TARGET = "/grader/segcourse_harness.py"


class GradebookIntegrityError(RuntimeError):
    """The gradebook failed its after-batch check (the backup's path is in the message)."""


@dataclass
class GradeOptions:
    workers: int | None = None          # None: one per core (or one per GPU)
    gpus: str = "none"                  # auto | none | "0,1"
    cell_timeout_s: int = 60
    notebook_timeout_s: float = 900.0   # wall clock of one submission's sandbox
    limits: Limits = field(default_factory=Limits)
    seed: int | None = None             # probe inputs; fresh per run when None
    feedback: bool = True


@dataclass
class SubmissionReport:
    student: str
    status: str                         # ok | not_gradable | kernel_died | time_limit | infra_error | nbgrader_error
    detail: str = ""
    score: float | None = None
    max_score: float | None = None
    run_s: float = 0.0
    grade_s: float = 0.0


@dataclass
class BatchReport:
    submissions: list[SubmissionReport]
    backup: Path | None
    integrity: list[str]
    wall_s: float

    @property
    def failed(self) -> list[str]:
        return [s.student for s in self.submissions if s.status in ("infra_error", "nbgrader_error")]


# ----------------------------------------------------------------------------- GPUs
def detect_gpus() -> list[str]:
    """Visible GPU ids: ``CUDA_VISIBLE_DEVICES`` if set, else ``nvidia-smi``; [] without GPUs."""
    if "CUDA_VISIBLE_DEVICES" in os.environ:
        return [g.strip() for g in os.environ["CUDA_VISIBLE_DEVICES"].split(",") if g.strip() and g.strip() != "-1"]
    if shutil.which("nvidia-smi") is None:
        return []
    try:
        out = subprocess.run(["nvidia-smi", "--query-gpu=index", "--format=csv,noheader"],
                             capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.SubprocessError):
        return []
    return [line.strip() for line in out.stdout.splitlines() if line.strip()] if out.returncode == 0 else []


def plan_workers(gpus: str, workers: int | None, visible: list[str], cores: int | None = None) -> list[dict[str, str]]:
    """The environment of each worker slot.

    ``gpus="none"``: ``workers`` (default: cores) CPU slots, GPUs hidden. ``"auto"``: one
    slot per visible GPU, pinned with ``CUDA_VISIBLE_DEVICES`` (CPU slots when there is
    none). ``"0,2"``: one slot per listed GPU (each must be visible). ``workers`` caps GPU
    slots; it never puts two jobs on one GPU.
    """
    cores = cores or os.cpu_count() or 1
    cpu_slot = {"CUDA_VISIBLE_DEVICES": ""}
    if gpus == "none":
        return [dict(cpu_slot) for _ in range(max(1, workers or cores))]
    if gpus == "auto":
        chosen = list(visible)
        if not chosen:
            return [dict(cpu_slot) for _ in range(max(1, workers or cores))]
    else:
        chosen = [g.strip() for g in gpus.split(",") if g.strip()]
        if not chosen:
            raise ValueError(f"--gpus {gpus!r}: expected auto, none or a list such as 0,1")
        unknown = [g for g in chosen if g not in visible]
        if unknown:
            raise ValueError(f"--gpus {gpus}: GPU {', '.join(unknown)} not visible (visible: {', '.join(visible) or 'none'})")
        if len(set(chosen)) != len(chosen):
            raise ValueError(f"--gpus {gpus}: a GPU is listed twice")
    if workers:
        chosen = chosen[:workers]
    return [{"CUDA_VISIBLE_DEVICES": g, "TF_FORCE_GPU_ALLOW_GROWTH": "true"} for g in chosen]


# ----------------------------------------------------------------------------- gradebook
def backup_gradebook(db_path: Path) -> Path | None:
    if not db_path.exists():
        return None
    backup = db_path.with_name(f"{db_path.stem}.backup-{time.strftime('%Y%m%d-%H%M%S')}-{secrets.token_hex(3)}.db")
    with sqlite3.connect(db_path) as connection:
        connection.execute("VACUUM INTO ?", (str(backup),))
    return backup


def check_gradebook(db_url: str, course_id: str) -> list[str]:
    """Problems of the gradebook (empty when it is sound)."""
    db_path = Path(db_url.removeprefix("sqlite:///"))
    problems = []
    with sqlite3.connect(db_path) as connection:
        result = connection.execute("PRAGMA integrity_check").fetchall()
        if result != [("ok",)]:
            problems.append(f"integrity_check: {result[:5]}")
        for kind, name in connection.execute("SELECT type, name FROM sqlite_master WHERE type IN ('trigger', 'view')"):
            problems.append(f"unexpected {kind} {name!r} in the gradebook")
    from nbgrader.api import Gradebook
    with Gradebook(db_url, course_id) as gradebook:
        for assignment in gradebook.assignments:
            for submission in assignment.submissions:
                total = sum(grade.score for nb in submission.notebooks for grade in nb.grades)
                if abs(total - submission.score) > 1e-9:
                    problems.append(f"{submission.student_id}/{assignment.name}: score {submission.score} "
                                    f"!= sum of grades {total}")
    return problems


# ----------------------------------------------------------------------------- one job
def grading_config(config, staging: Path):
    """The course config with nbgrader's Execute replaced by the trusted verdicts, reading
    the rebuilt submissions from the staging folder."""
    c = copy.deepcopy(config)
    c.CourseDirectory.submitted_directory = str(staging / "submitted")
    c.Autograde.autograde_preprocessors = [
        "autograder.trusted.TrustedVerdicts",
        "nbgrader.preprocessors.IgnorePattern",
        "nbconvert.preprocessors.ClearMetadataPreprocessor",
        "nbgrader.preprocessors.LimitOutput",
        "nbgrader.preprocessors.SaveAutoGrades",
        "nbgrader.preprocessors.AssignLatePenalties",
        "nbgrader.preprocessors.CheckCellMetadata",
    ]
    c.TrustedVerdicts.staging_directory = str(staging / "verdicts")
    return c


def _course_utils_mount(course_root: Path) -> Mount:
    """The public course library, at the path this environment imports it from."""
    import importlib.util
    spec = importlib.util.find_spec("course_utils")
    installed = Path(spec.origin).parent if spec and spec.origin else Path(course_root, "course_utils").resolve()
    source = Path(course_root, "course_utils") if Path(course_root, "course_utils").is_dir() else installed
    return Mount(source, str(installed))


def _grade_points(notebook) -> dict[str, float]:
    return {_nbgrader(c)["grade_id"]: float(_nbgrader(c).get("points", 0)) for c in notebook.cells
            if _nbgrader(c).get("grade") and _nbgrader(c).get("grade_id")}


def _copy_timestamp(source: Path, target: Path) -> None:
    stamp = source / "timestamp.txt"
    if stamp.is_file() and not stamp.is_symlink() and stamp.stat().st_size < 100:
        text = stamp.read_text(errors="replace").strip()
        try:
            from dateutil.parser import parse
            parse(text)
        except (ValueError, OverflowError, ImportError):
            return
        (target / "timestamp.txt").write_text(text)


def run_submission(course_root: Path, assignment: str, student: str, submitted: Path, staging: Path,
                   sandbox: Sandbox, options: GradeOptions, slot: int, slot_env: dict[str, str], seed: int) -> list[StagedResult]:
    """Rebuild, run in the sandbox and judge every notebook of one submission; stages the results."""
    release_dir = course_root / "exercises" / assignment
    results = []
    target = staging / "submitted" / student / assignment
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    _copy_timestamp(submitted / student / assignment, target)
    for release_nb in sorted(release_dir.glob("*.ipynb")):
        import nbformat
        started = time.perf_counter()
        name = release_nb.stem
        student_nb = submitted / student / assignment / release_nb.name
        release = nbformat.read(release_nb, as_version=4)
        try:
            if student_nb.is_symlink():
                raise NotGradable("the notebook is a symbolic link")
            if not student_nb.is_file():
                raise NotGradable(f"{release_nb.name} is missing from the submission")
            notebook = rebuild_submission(release_nb, student_nb)
        except NotGradable as error:
            nbformat.write(release, target / release_nb.name)
            staged = not_gradable_result(student, name, str(error), list(_grade_points(release)))
            staged.save(staging / "verdicts" / student / assignment / f"{name}{STAGED_SUFFIX}")
            results.append(staged)
            continue
        nbformat.write(notebook, target / release_nb.name)
        workdir = Path(tempfile.mkdtemp(prefix="segcourse-job-"))
        try:
            for helper in release_dir.iterdir():
                if helper.suffix != ".ipynb" and helper.is_file():
                    shutil.copy(helper, workdir / helper.name)
            nbformat.write(notebook, workdir / release_nb.name)
            state = workdir / ".segcourse"
            probes = write_probes(assignment, notebook, state / "probes", seed)
            job = Job(
                argv=[sys.executable, HARNESS_TARGET, release_nb.name, "--cell-timeout", str(options.cell_timeout_s)],
                workdir=workdir,
                mounts=[Mount(HARNESS, HARNESS_TARGET),
                        _course_utils_mount(course_root),
                        Mount(release_dir, "/course/release")],
                env={**slot_env, "PYTHONPATH": "/grader"},
                limits=Limits(**{**options.limits.__dict__, "wall_clock_s": options.notebook_timeout_s}),
                slot=slot,
            )
            outcome = sandbox.run(job)
            if not (state / "status.json").exists():
                staged = StagedResult(student, name, "infra_error",
                                      f"the sandbox did not start the notebook (exit {outcome.returncode}): "
                                      f"{outcome.stderr.strip()[-500:]}", wall_s=outcome.wall_s)
            else:
                status, detail, verdicts, outputs = judge_submission(notebook, probes, state, _grade_points(notebook))
                if outcome.timed_out:
                    status, detail = "time_limit", f"the notebook ran longer than {options.notebook_timeout_s:g} s and was stopped"
                staged = StagedResult(student, name, status, detail, verdicts, outputs, wall_s=outcome.wall_s)
        finally:
            shutil.rmtree(workdir, ignore_errors=True)
        staged.wall_s = time.perf_counter() - started
        staged.save(staging / "verdicts" / student / assignment / f"{name}{STAGED_SUFFIX}")
        results.append(staged)
    return results


# ----------------------------------------------------------------------------- batch
def grade_batch(config, assignment: str, students: list[str], sandbox: Sandbox, options: GradeOptions,
                progress=print) -> BatchReport:
    """Grade ``students``' submissions of ``assignment``; the batch always completes."""
    from autograder.pipeline import GradingStepError, check_result, make_api, submission_scores

    started = time.perf_counter()
    course_root = Path(config.CourseDirectory.root)
    runtime = runtime_directory_of(config)
    submitted = course_root / config.CourseDirectory.submitted_directory
    staging = runtime / ".staging" / assignment
    seed = options.seed if options.seed is not None else secrets.randbits(63)
    db_url, course_id = config.CourseDirectory.db_url, config.CourseDirectory.course_id
    backup = backup_gradebook(Path(db_url.removeprefix("sqlite:///")))
    slots = plan_workers(options.gpus, options.workers, detect_gpus() if options.gpus != "none" else [])
    free: queue.Queue = queue.Queue()
    for number, env in enumerate(slots):
        free.put((number, env))
    where = ", ".join(sorted({f"GPU {e['CUDA_VISIBLE_DEVICES']}" if e.get("CUDA_VISIBLE_DEVICES") else "CPU" for e in slots}))
    progress(f"grading {len(students)} submission(s) of {assignment}: {len(slots)} worker(s) on {where}, "
             f"sandbox {sandbox.name}, checks' seed {seed}")

    def work(student: str):
        slot, env = free.get()
        try:
            return run_submission(course_root, assignment, student, submitted, staging, sandbox, options, slot, env, seed)
        finally:
            free.put((slot, env))

    reports: dict[str, SubmissionReport] = {}
    grading_cfg = grading_config(config, staging)
    api = make_api(grading_cfg)
    lock = threading.Lock()
    done = 0
    with ThreadPoolExecutor(max_workers=len(slots), thread_name_prefix="segcourse-worker") as pool:
        futures = {pool.submit(work, student): student for student in students}
        for future in as_completed(futures):
            student = futures[future]
            report = SubmissionReport(student, "ok")
            try:
                staged_list = future.result()
                report.run_s = sum(s.wall_s for s in staged_list)
                bad = [s for s in staged_list if s.status != "ok"]
                if bad:
                    report.status, report.detail = bad[0].status, bad[0].detail
                if report.status != "infra_error":
                    grade_started = time.perf_counter()
                    with lock:   # one writer
                        check_result(api.autograde(assignment, student, force=True, create=True),
                                     f"nbgrader autograde of {student}")
                        if options.feedback:
                            check_result(api.generate_feedback(assignment, student, force=True),
                                         f"nbgrader generate_feedback of {student}")
                    report.grade_s = time.perf_counter() - grade_started
            except GradingStepError as error:
                report.status, report.detail = "nbgrader_error", str(error)[-2000:]
            except Exception as error:  # noqa: BLE001 - one submission never stops the batch
                report.status, report.detail = "infra_error", f"{type(error).__name__}: {error}"
            reports[student] = report
            done += 1
            progress(f"[{done}/{len(students)}] {student}: {report.status}"
                     f"{' (' + report.detail.splitlines()[0][:120] + ')' if report.detail else ''}"
                     f" run {report.run_s:.0f} s, record {report.grade_s:.0f} s")
    ordered = [reports[s] for s in students]
    for score in submission_scores(config, assignment, students):
        if score.graded and reports[score.student].status not in ("infra_error", "nbgrader_error"):
            reports[score.student].score, reports[score.student].max_score = score.score, score.max_score
    integrity = check_gradebook(db_url, course_id)
    return BatchReport(ordered, backup, integrity, time.perf_counter() - started)


def format_summary(report: BatchReport) -> str:
    rows = [["student", "status", "score", "run s", "detail"]]
    for s in report.submissions:
        score = f"{s.score:g}/{s.max_score:g}" if s.score is not None else "-"
        rows.append([s.student, s.status, score, f"{s.run_s:.0f}", (s.detail.splitlines() or [""])[0][:70]])
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)
