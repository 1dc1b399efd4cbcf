"""Grade a batch of submissions: sandboxed execution in parallel, one gradebook writer.

    report = grade_batch(config, "fcn_basics", students, sandbox, GradeOptions(workers=2))

- ``read_submission`` (trusted side) reads each student's notebooks and the release into
  a ``SubmissionTask`` of plain data.
- An engine (``autograder.engines``: local threads, or Dask workers) runs
  ``grade_submission`` for each task: rebuild the notebook from the release, run it in
  the sandbox, judge the plain-data results. It returns plain data (the staged results
  and the rebuilt notebook), never touching the gradebook. Worker slots: one per core,
  or one per GPU with ``gpus="auto"``; each slot has its own sandbox uid and GPU.
- The calling thread is the gradebook's ONLY writer: for each result, as it arrives, it
  stages it under ``<runtime>/.staging/`` and runs nbgrader's own ``autograde``
  (``Execute`` replaced by ``TrustedVerdicts``), then ``generate_feedback`` (student
  HTML sanitized, hidden tests hidden).
- Before the batch the gradebook is backed up (``VACUUM INTO``); after it, it is checked
  (``PRAGMA integrity_check``, no triggers or views, every score equals the sum of its
  grades). Re-grading the same submissions gives the same grades (idempotent).
"""

from __future__ import annotations

import atexit
import copy
import functools
import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from nbconvert.preprocessors import Preprocessor
from traitlets import Bool

from autograder.course import runtime_directory_of
from autograder.engines import Engine, make_engine
from autograder.sandbox import SANDBOX_WORKDIR, Job, Limits, Mount, Sandbox
from autograder.stopping import GracefulStop
from autograder.trusted import (
    MAX_NOTEBOOK_BYTES,
    STAGED_SUFFIX,
    NotGradable,
    StagedResult,
    _nbgrader,
    judge_submission,
    not_gradable_result,
    read_channel,
    rebuild_submission,
    write_probes,
)

HARNESS = Path(__file__).with_name("harness.py")
HARNESS_TARGET = "/grader/segcourse_harness.py"
PROBES_TARGET = "/grader/probes"
CHANNEL_BYTES = 128 * 1024 * 1024      # the harness's results channel (its stdout) kept per submission


@dataclass
class GradeOptions:
    workers: int | None = None          # None: one per core (or one per GPU)
    gpus: str = "none"                  # auto | none | "0,1"
    cell_timeout_s: int = 60
    interrupt_grace_s: float = 10.0     # after a cell's time limit: seconds to stop, else its kernel is killed
    notebook_timeout_s: float = 900.0   # wall clock of one submission's sandbox
    limits: Limits = field(default_factory=Limits)
    seed: int | None = None             # probe inputs; fresh per run when None
    feedback: bool = True
    engine: str = "local"               # local | dask (see autograder.engines)
    scheduler: str | None = None        # Dask scheduler address; None: a LocalCluster here
    first_slot: int = 0                 # sandbox uid of slot k is 61000 + first_slot + k: give
                                        # batches that run at once on one machine distinct ranges


@dataclass
class SubmissionReport:
    student: str
    status: str                         # ok | not_gradable | kernel_died | time_limit | infra_error | nbgrader_error | stopped
    detail: str = ""
    score: float | None = None
    max_score: float | None = None
    run_s: float = 0.0
    grade_s: float = 0.0
    timing: dict[str, float] = field(default_factory=dict)   # seconds: harness_start, kernel_start, cells, probes, record
    late_s: float = 0.0                 # seconds after the gradebook's due date (autograder.late)
    penalty: float = 0.0                # nbgrader's late-submission penalty, points
    notes: list[str] = field(default_factory=list)   # misplaced notebooks, an empty timestamp.txt
    recorded: bool = True               # False: nothing was written to the gradebook (a rejected timestamp)


@dataclass
class BatchReport:
    submissions: list[SubmissionReport]
    backup: Path | None
    integrity: list[str]
    wall_s: float
    stopped: bool = False               # Ctrl-C or SIGTERM: the running submissions finished, no new one started
    events: list[str] = field(default_factory=list)   # what happened to the workers (a Dask worker that died)

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
    # Memory growth instead of grabbing the whole GPU up front (TF, JAX); for
    # reliability only: student code can override it, so one job per GPU stays the rule.
    return [{"CUDA_VISIBLE_DEVICES": g, "TF_FORCE_GPU_ALLOW_GROWTH": "true",
             "XLA_PYTHON_CLIENT_PREALLOCATE": "false"} for g in chosen]


# ----------------------------------------------------------------------------- gradebook
# backups, checks, recording and the course lock live in autograder.gradebook (kept importable here)
from autograder.gradebook import backup_gradebook, check_gradebook  # noqa: E402


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
    # Student HTML never reaches formgrader or the feedback page as markup (threat row 35):
    # their markdown is cleaned in the autograded notebook and again in the feedback, and
    # the exporter sanitizes HTML outputs too.
    c.Autograde.autograde_preprocessors.insert(1, "autograder.batch.SanitizeStudentHtml")
    feedback_steps = list(config.GenerateFeedback.preprocessors) if "preprocessors" in config.GenerateFeedback else []
    c.GenerateFeedback.preprocessors = feedback_steps + ["autograder.batch.SanitizeStudentHtml"]
    c.HTMLExporter.sanitize_html = True
    return c


class SanitizeStudentHtml(Preprocessor):
    """Clean the HTML of student-written markdown cells (no ``<script>``, no ``on...=``).

    nbgrader's feedback template renders markdown without the exporter's
    ``sanitize_html``, so the cell is rendered here (nbconvert's ``markdown2html``) and
    cleaned with an allow-list (``bleach``, which nbconvert depends on): headings, lists,
    tables, links, images and maths stay; scripts, event handlers, styles, iframes and
    forms are shown as text or dropped. Instructor cells (from the release) are left as
    they are.
    """

    enabled = Bool(True, help="nbconvert preprocessors are off by default; this one always runs").tag(config=True)
    TAGS = {"p", "h1", "h2", "h3", "h4", "h5", "h6", "em", "strong", "b", "i", "code", "pre", "blockquote",
            "ul", "ol", "li", "a", "img", "table", "thead", "tbody", "tr", "th", "td", "br", "hr", "span",
            "div", "sub", "sup", "del"}
    ATTRIBUTES = {"a": ["href", "title"], "img": ["src", "alt", "title", "width", "height"], "*": ["class", "id"]}

    def preprocess_cell(self, cell, resources, index):
        if cell.cell_type == "markdown" and _written_by_student(cell):
            import bleach
            from nbconvert.filters import markdown2html
            cell.source = bleach.clean(markdown2html(cell.source), tags=self.TAGS, attributes=self.ATTRIBUTES,
                                       protocols={"http", "https", "mailto", "data"})
        return cell, resources


def _written_by_student(cell) -> bool:
    # rebuild_submission gives the student's own cells "student-" ids; solution cells hold answers
    return str(cell.get("id", "")).startswith("student-") or bool(_nbgrader(cell).get("solution"))


def _course_utils_mount(course_root: Path, assignment: str) -> Mount:
    """The grading edition of the course library for ``assignment`` (no function that
    computes one of its graded answers: ``autograder/library_edition.py``), at the path
    this environment imports ``course_utils`` from."""
    import importlib.util

    from autograder.library_edition import grading_edition
    spec = importlib.util.find_spec("course_utils")
    installed = Path(spec.origin).parent if spec and spec.origin else Path(course_root, "course_utils").resolve()
    source = Path(course_root, "course_utils") if Path(course_root, "course_utils").is_dir() else installed
    return Mount(grading_edition(source, assignment), str(installed))


def _grader_hidden_mount() -> list[Mount]:
    """Where this package is installed inside the Python environment that the sandbox sees
    (a wheel install: site-packages/autograder), an empty folder over it, so the trusted
    checks cannot be read from the sandbox. Nothing for a checkout (editable install)."""
    package = Path(__file__).resolve().parent
    roots = {Path(sys.prefix).resolve(), Path(sys.base_prefix).resolve()}
    if not any(package.is_relative_to(root) for root in roots):
        return []
    return [Mount(_empty_folder(), str(package))]


@functools.lru_cache(maxsize=1)
def _empty_folder() -> Path:
    folder = Path(tempfile.mkdtemp(prefix="segcourse-empty-"))
    folder.chmod(0o755)
    atexit.register(shutil.rmtree, folder, True)
    return folder


def _grade_points(notebook) -> dict[str, float]:
    return {_nbgrader(c)["grade_id"]: float(_nbgrader(c).get("points", 0)) for c in notebook.cells
            if _nbgrader(c).get("grade") and _nbgrader(c).get("grade_id")}


def _copy_timestamp(task: SubmissionTask, target: Path) -> None:
    """The submission's time, as read and checked by ``read_submission``
    (``autograder.late.read_timestamp``), where nbgrader's autograde reads it."""
    if task.timestamp:
        (target / "timestamp.txt").write_text(task.timestamp)


@dataclass
class SubmissionTask:
    """Everything a worker needs to grade one submission, as plain data (it may be pickled
    to a Dask worker on another machine): the release files and the student's notebooks."""

    assignment: str
    student: str
    course_root: str
    release_files: dict[str, bytes]            # file name -> content (notebooks and helper files)
    notebooks: dict[str, bytes]                # release notebook name -> the student's file
    unreadable: dict[str, str] = field(default_factory=dict)   # release notebook name -> why not
    links: list[str] = field(default_factory=list)             # symbolic links found: nothing is read
    timestamp: str | None = None               # timestamp.txt, checked as nbgrader checks it
    rejected: str = ""                         # why nothing is graded or recorded (timestamp.txt not a time)
    notes: list[str] = field(default_factory=list)             # misplaced notebooks, an empty timestamp


def symbolic_links(root: Path, submission: Path) -> list[str]:
    """Symbolic links in a submission (threat row 42), as paths relative to ``root``: the
    student's folder, the assignment folder, or anything below it. Never follows one."""
    links, here = [], Path(root)
    for part in submission.parts:                       # <student>, then <student>/<assignment>
        here = here / part
        if here.is_symlink():
            return [str(here.relative_to(root))]
    if not here.is_dir():
        return []
    for folder, subfolders, files in os.walk(here, followlinks=False):
        links += [str((Path(folder) / name).relative_to(root)) for name in sorted(subfolders + files)
                  if os.path.islink(os.path.join(folder, name))]
    return links


def read_submission(course_root: Path, assignment: str, student: str, submitted: Path) -> SubmissionTask:
    """Read one student's submission (and the release it answers) on the trusted side."""
    release_dir = course_root / "exercises" / assignment
    release_files = {p.name: p.read_bytes() for p in sorted(release_dir.iterdir()) if p.is_file()}
    task = SubmissionTask(assignment, student, str(course_root), release_files, {})
    task.links = links = symbolic_links(submitted, Path(student, assignment))
    if not links:                        # late and misplaced work: autograder.late
        from autograder.late import extra_notebooks, read_timestamp
        stamp = read_timestamp(submitted / student / assignment)
        task.timestamp, task.rejected = stamp.text, stamp.problem
        extras = extra_notebooks(submitted / student / assignment, [n for n in release_files if n.endswith(".ipynb")])
        task.notes = ([stamp.note] if stamp.note else []) + extras
    for name in release_files:
        if not name.endswith(".ipynb"):
            continue
        path = submitted / student / assignment / name
        if links:                        # nothing behind a link is opened
            task.unreadable[name] = (f"the submission holds a symbolic link ({', '.join(links[:3])}); "
                                     "submit the files themselves")
        elif not path.is_file():
            task.unreadable[name] = f"{name} is missing from the submission" + (
                f" ({'; '.join(n for n in task.notes if n.endswith(name))})" if any(n.endswith(name) for n in task.notes) else "")
        elif path.stat().st_size > MAX_NOTEBOOK_BYTES:
            task.unreadable[name] = (f"the notebook is {path.stat().st_size / 1e6:.0f} MB, "
                                     f"more than {MAX_NOTEBOOK_BYTES / 1e6:.0f} MB")
        else:
            try:
                task.notebooks[name] = path.read_bytes()
            except OSError as error:     # one unreadable file fails only its own submission
                task.unreadable[name] = f"cannot read the notebook ({error.strerror})"
    return task


def grade_submission(task: SubmissionTask, slot: int, *, sandbox: Sandbox, options: GradeOptions,
                     slot_envs: list[dict[str, str]], seed: int) -> list[dict]:
    """Rebuild, run in the sandbox and judge every notebook of one submission (worker side).

    Runs in a worker thread (local engine) or a Dask worker process. Returns plain data:
    one ``{"staged": <StagedResult as a dict>, "notebook": <rebuilt notebook JSON>}`` per
    release notebook. Writes nothing outside its own temporary folders.
    """
    import nbformat

    results = []
    if task.rejected:                    # as nbgrader's autograde: not run, nothing recorded
        return results
    with tempfile.TemporaryDirectory(prefix="segcourse-task-") as scratch:
        release_dir = Path(scratch) / "release"
        release_dir.mkdir()
        for name, content in task.release_files.items():
            (release_dir / name).write_bytes(content)
        for name in sorted(n for n in task.release_files if n.endswith(".ipynb")):
            started = time.perf_counter()
            stem = name[:-len(".ipynb")]
            try:
                if name in task.unreadable:
                    raise NotGradable(task.unreadable[name])
                student_nb = Path(scratch) / f"submitted-{name}"
                student_nb.write_bytes(task.notebooks[name])
                notebook = rebuild_submission(release_dir / name, student_nb)
            except NotGradable as error:
                release = nbformat.read(release_dir / name, as_version=4)
                staged = not_gradable_result(task.student, stem, str(error), list(_grade_points(release)))
                staged.notes = list(task.notes)
                results.append({"staged": asdict(staged), "notebook": nbformat.writes(release)})
                continue
            staged = _run_in_sandbox(task, release_dir, name, notebook, slot, sandbox, options, slot_envs, seed)
            staged.wall_s = time.perf_counter() - started
            staged.notes = list(task.notes)
            results.append({"staged": asdict(staged), "notebook": nbformat.writes(notebook)})
    return results


def _run_in_sandbox(task, release_dir: Path, name: str, notebook, slot: int, sandbox: Sandbox,
                    options: GradeOptions, slot_envs, seed: int) -> StagedResult:
    import nbformat

    stem = name[:-len(".ipynb")]
    workdir = Path(tempfile.mkdtemp(prefix="segcourse-job-"))
    probe_dir = Path(tempfile.mkdtemp(prefix="segcourse-probes-"))   # read-only inside the sandbox
    try:
        for helper in release_dir.iterdir():
            if helper.suffix != ".ipynb":
                shutil.copy(helper, workdir / helper.name)
        nbformat.write(notebook, workdir / name)
        font_cache = _matplotlib_font_cache()
        if font_cache is not None:   # else every kernel rebuilds it (seconds of CPU per submission)
            shutil.copytree(font_cache, workdir / ".matplotlib")
        probes = write_probes(task.assignment, notebook, probe_dir, seed, Path(task.course_root))
        probe_dir.chmod(0o755)       # mkdtemp makes it 0700; the job's unprivileged uid must read it
        job = Job(
            argv=[sys.executable, HARNESS_TARGET, name, "--probes", PROBES_TARGET,
                  "--cell-timeout", str(options.cell_timeout_s), "--interrupt-grace", f"{options.interrupt_grace_s:g}"],
            workdir=workdir,
            mounts=[Mount(HARNESS, HARNESS_TARGET),
                    Mount(probe_dir, PROBES_TARGET),
                    _course_utils_mount(Path(task.course_root), task.assignment),
                    *_grader_hidden_mount(),
                    Mount(release_dir, "/course/release")],
            # COURSE_FAST=1: notebooks shorten their training cells under autograding
            env={**_slot_env(slot_envs[slot], options), "PYTHONPATH": "/grader", "COURSE_FAST": "1",
                 **({"MPLCONFIGDIR": f"{SANDBOX_WORKDIR}/.matplotlib"} if font_cache is not None else {})},
            limits=Limits(**{**options.limits.__dict__, "wall_clock_s": options.notebook_timeout_s,
                             "channel_bytes": CHANNEL_BYTES}),
            slot=options.first_slot + slot,
        )
        sandbox_started = time.time()
        outcome = sandbox.run(job)
        records = read_channel(outcome.stdout.encode())   # the harness's records; files in workdir are ignored
        if not records.started:
            return StagedResult(task.student, stem, "infra_error",
                                f"the sandbox did not start the notebook (exit {outcome.returncode}): "
                                f"{outcome.stderr.strip()[-500:]}", wall_s=outcome.wall_s)
        status, detail, verdicts, outputs = judge_submission(notebook, probes, records, _grade_points(notebook))
        if outcome.timed_out:
            status, detail = "time_limit", f"the notebook ran longer than {options.notebook_timeout_s:g} s and was stopped"
        return StagedResult(task.student, stem, status, detail, verdicts, outputs, wall_s=outcome.wall_s,
                            timing=records.stage_seconds(sandbox_started))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
        shutil.rmtree(probe_dir, ignore_errors=True)


def _slot_env(planned: dict[str, str], options: GradeOptions) -> dict[str, str]:
    """The slot's environment; on a remote Dask worker started with its own GPU
    (``CUDA_VISIBLE_DEVICES=1 dask worker ...``) and ``gpus="auto"``, that GPU."""
    own_gpu = os.environ.get("CUDA_VISIBLE_DEVICES", "").strip()
    if options.scheduler and options.gpus == "auto" and own_gpu and own_gpu != "-1":
        return {"CUDA_VISIBLE_DEVICES": own_gpu, "TF_FORCE_GPU_ALLOW_GROWTH": "true",
                "XLA_PYTHON_CLIENT_PREALLOCATE": "false"}
    return planned


@functools.lru_cache(maxsize=1)
def _matplotlib_font_cache() -> Path | None:
    """A folder with matplotlib's font list, built once per process (None if that fails).

    The font list depends only on the installed fonts and matplotlib, which the sandbox
    sees at the same paths, so one build serves every job of this worker.
    """
    folder = Path(tempfile.mkdtemp(prefix="segcourse-mplcache-"))
    atexit.register(shutil.rmtree, folder, True)
    try:
        subprocess.run([sys.executable, "-c", "import matplotlib.font_manager"], timeout=300, check=True,
                       capture_output=True, env={**os.environ, "MPLCONFIGDIR": str(folder)})
    except (OSError, subprocess.SubprocessError):
        return None
    return folder if any(folder.glob("fontlist*.json")) else None


def stage_results(staging: Path, submitted: Path, task: SubmissionTask, results: list[dict]) -> list[StagedResult]:
    """Write a worker's results where nbgrader's autograde reads them (trusted side)."""
    target = staging / "submitted" / task.student / task.assignment
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    if not task.links:
        _copy_timestamp(task, target)
    staged_list = []
    for result in results:
        staged = StagedResult(**result["staged"])
        (target / f"{staged.notebook}.ipynb").write_text(result["notebook"])
        staged.save(staging / "verdicts" / task.student / task.assignment / f"{staged.notebook}{STAGED_SUFFIX}")
        staged_list.append(staged)
    return staged_list


# ----------------------------------------------------------------------------- batch
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


def grade_batch(config, assignment: str, students: list[str], sandbox: Sandbox, options: GradeOptions,
                progress=print) -> BatchReport:
    """``_grade_batch`` holding the course's lock (one batch per runtime folder; raises
    ``autograder.gradebook.CourseLocked`` at once if another process holds it)."""
    from autograder.gradebook import course_lock
    with course_lock(runtime_directory_of(config), f"segcourse grade {assignment}", announce=progress):
        return _grade_batch(config, assignment, students, sandbox, options, progress)


def _grade_batch(config, assignment: str, students: list[str], sandbox: Sandbox, options: GradeOptions,
                 progress=print) -> BatchReport:
    """Grade ``students``' submissions of ``assignment``; the batch always completes.

    The submissions run on ``options.engine`` (local threads or Dask workers); this
    thread records each result with nbgrader as it arrives (the only gradebook writer).
    """
    from autograder.grading_path import describe_gradebook_error, one_line_grading_error
    from autograder.pipeline import GradingStepError, check_result, make_api, submission_scores

    started = time.perf_counter()
    course_root = Path(config.CourseDirectory.root)
    runtime = runtime_directory_of(config)
    submitted = course_root / config.CourseDirectory.submitted_directory
    staging = runtime / ".staging" / assignment
    seed = options.seed if options.seed is not None else secrets.randbits(63)
    db_url, course_id = config.CourseDirectory.db_url, config.CourseDirectory.course_id
    db_path = Path(db_url.removeprefix("sqlite:///"))
    from autograder.gradebook import StudentRecorder, check_before_batch
    check_before_batch(db_path)     # empty, damaged or not nbgrader's: stop before any sandbox runs
    backup = backup_gradebook(db_path)
    if not db_path.exists():        # a new course: nbgrader creates its gradebook
        from nbgrader.api import Gradebook
        Gradebook(db_url, course_id).close()
    grading_cfg = grading_config(config, staging)
    # nbgrader records each student into a fresh copy of the gradebook; the student's rows
    # then replace the old ones in one transaction (a kill leaves old grades or new ones)
    recorder = StudentRecorder(db_path, staging / "gradebook-recording.db")
    grading_cfg.CourseDirectory.db_url = recorder.url
    api = make_api(grading_cfg)     # one API (and one gradebook connection setup) for the batch

    engine, slots = _open_engine(options)
    where = ", ".join(sorted({f"GPU {e['CUDA_VISIBLE_DEVICES']}" if e.get("CUDA_VISIBLE_DEVICES") else "CPU" for e in slots}))
    progress(f"grading {len(students)} submission(s) of {assignment}: {engine.describe()} on {where}, "
             f"sandbox {sandbox.name}, checks' seed {seed}")
    work = functools.partial(grade_submission, sandbox=sandbox, options=options, slot_envs=slots, seed=seed)
    tasks = (read_submission(course_root, assignment, student, submitted) for student in students)
    reports: dict[str, SubmissionReport] = {}
    with engine, GracefulStop(running=lambda: engine.running_count, say=progress) as stop:
        for task, outcome in engine.map(work, tasks, stop=stop.requested):
            report = reports[task.student] = SubmissionReport(task.student, "ok")
            try:
                if isinstance(outcome, BaseException):
                    raise outcome
                staged_list = stage_results(staging, submitted, task, outcome)
                report.run_s = sum(s.wall_s for s in staged_list)
                for staged in staged_list:      # summed over the submission's notebooks
                    for stage, seconds in staged.timing.items():
                        report.timing[stage] = round(report.timing.get(stage, 0.0) + seconds, 2)
                bad = [s for s in staged_list if s.status != "ok"]
                if bad:
                    report.status, report.detail = bad[0].status, bad[0].detail
                report.notes = list(task.notes)
                if task.rejected:       # nbgrader's autograde rejects it too: the gradebook is left as it was
                    report.status, report.detail, report.recorded = "not_gradable", f"not graded: {task.rejected}", False
                if report.status != "infra_error" and report.recorded:
                    recording = time.perf_counter()
                    recorder.prepare()
                    check_result(api.autograde(assignment, task.student, force=True, create=True),
                                 f"nbgrader autograde of {task.student}")
                    recorder.commit(assignment, task.student)
                    if options.feedback:
                        check_result(api.generate_feedback(assignment, task.student, force=True),
                                     f"nbgrader generate_feedback of {task.student}")
                    report.grade_s = time.perf_counter() - recording
                    report.timing["record"] = round(report.grade_s, 2)
            except GradingStepError as error:    # first line names the cause (one line for the gradebook's)
                report.status, report.detail = "nbgrader_error", one_line_grading_error(str(error))
            except Exception as error:
                report.status, report.detail = "infra_error", (describe_gradebook_error(error)
                                                               or f"{type(error).__name__}: {error}")
            progress(f"{progress_bar(len(reports), len(students))} {task.student}: {report.status}"
                     f"{' (' + report.detail.splitlines()[0][:120] + ')' if report.detail else ''}"
                     f" run {report.run_s:.0f} s, record {report.grade_s:.1f} s")
        events = engine.events()
    for student in students:         # a stop (Ctrl-C, SIGTERM) before they started
        reports.setdefault(student, SubmissionReport(student, "stopped", "not graded: the batch was stopped before "
                                                                          "it started; its earlier grades are kept"))
    recorder.discard()
    ordered = [reports[s] for s in students]
    for score in submission_scores(config, assignment, students):
        if score.graded and reports[score.student].status not in ("infra_error", "nbgrader_error", "stopped") \
                and reports[score.student].recorded:
            reports[score.student].score, reports[score.student].max_score = score.score, score.max_score
    from autograder.late import lateness_of
    graded_now = [s for s in students if reports[s].score is not None]
    for student, (late_s, penalty) in lateness_of(config, assignment, graded_now).items():
        reports[student].late_s, reports[student].penalty = late_s, penalty
    integrity = check_gradebook(db_url, course_id)
    return BatchReport(ordered, backup, integrity, time.perf_counter() - started,
                       stopped=stop.requested.is_set(), events=events)

def progress_bar(done: int, total: int, width: int = 20) -> str:
    """``[#########-----------]  9/20``: submissions graded so far, as a text bar."""
    filled = done * width // max(total, 1)
    return f"[{'#' * filled}{'-' * (width - filled)}] {done:>{len(str(total))}}/{total}"


def write_batch_report(report: BatchReport, assignment: str, folder: Path) -> Path:
    """Write ``<folder>/grading-report-<assignment>.json`` (beside grades.csv; kept after the
    run): each submission's status, detail, score, sandbox seconds and seconds per stage.
    Written to a temporary file and renamed, so an old report is never left half-written."""
    path = Path(folder) / f"grading-report-{assignment}.json"
    data = {"assignment": assignment, "finished": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "wall_s": round(report.wall_s, 1), "integrity": report.integrity,
            "submissions": [asdict(s) for s in report.submissions]}
    from autograder.gradebook import write_text_atomically  # a failure: OutputError, one line, no leftover
    return write_text_atomically(path, json.dumps(data, indent=1))


TIMING_COLUMNS = [("kernel s", "kernel_start"), ("cells s", "cells"), ("probes s", "probes"), ("record s", "record")]


def format_summary(report: BatchReport) -> str:
    """The batch as a text table: status, score and where each submission's time went."""
    from autograder.late import describe_delay
    rows = [["student", "status", "score", "late", "run s", *(title for title, _ in TIMING_COLUMNS), "detail"]]
    for s in report.submissions:
        score = f"{s.score:g}/{s.max_score:g}" if s.score is not None else "-"
        stages = [f"{s.timing[key]:.1f}" if key in s.timing else "-" for _, key in TIMING_COLUMNS]
        late = f"{describe_delay(s.late_s)}, -{s.penalty:g}" if s.late_s > 0 else "-"
        detail = (s.detail.splitlines() or s.notes or [""])[0]
        rows.append([s.student, s.status, score, late, f"{s.run_s:.0f}", *stages, detail[:70]])
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    notes = [f"  {s.student}: {note}" for s in report.submissions for note in s.notes]
    notes += [f"  {s.student}: {s.detail.splitlines()[0]}" for s in report.submissions
              if not s.recorded and s.detail]
    return "\n".join(lines + (["notes:", *notes] if notes else []))
