"""One submission on a worker: rebuild each notebook, run it in the sandbox, judge it.

``grade_submission`` runs in a worker thread (local engine) or a Dask worker process
(``autograder.engines``). For each release notebook it rebuilds the notebook from the
release with the student's answers (``autograder.trusted.rebuild_submission``), writes
the probes, runs the harness in the sandbox with the probes, the harness and its protocol
(read-only under ``/grader``), the grading edition of ``course_utils`` and the release
mounted, and judges what the harness sent (``judge_submission``). It returns plain data
and never touches the gradebook: the batch (``autograder.batch``) records it.
"""

from __future__ import annotations

import atexit
import functools
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING

from autograder import harness_protocol
from autograder.sandbox import SANDBOX_WORKDIR, Job, Limits, Mount, Sandbox
from autograder.submissions import SubmissionTask
from autograder.trusted import (
    NotGradable,
    StagedResult,
    grade_points,
    judge_submission,
    not_gradable_result,
    read_channel,
    rebuild_submission,
    write_probes,
)
from autograder.worker_slots import slot_env

if TYPE_CHECKING:
    from autograder.batch import GradeOptions

CHANNEL_BYTES = 128 * 1024 * 1024      # the harness's results channel (its stdout) kept per submission


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
                staged = not_gradable_result(task.student, stem, str(error), list(grade_points(release)))
                staged.notes = list(task.notes)
                results.append({"staged": asdict(staged), "notebook": nbformat.writes(release)})
                continue
            staged = _run_in_sandbox(task, release_dir, name, notebook, slot, sandbox, options, slot_envs, seed)
            staged.wall_s = time.perf_counter() - started
            staged.notes = list(task.notes)
            results.append({"staged": asdict(staged), "notebook": nbformat.writes(notebook)})
    return results


def _run_in_sandbox(task: SubmissionTask, release_dir: Path, name: str, notebook, slot: int, sandbox: Sandbox,
                    options: GradeOptions, slot_envs: list[dict[str, str]], seed: int) -> StagedResult:
    """Run one rebuilt notebook in the sandbox and judge what the harness sent."""
    import nbformat

    stem = name[:-len(".ipynb")]
    workdir = Path(tempfile.mkdtemp(prefix="segcourse-job-"))
    probe_dir = Path(tempfile.mkdtemp(prefix="segcourse-probes-"))   # read-only inside the sandbox
    try:
        for helper in release_dir.iterdir():
            if helper.suffix != ".ipynb":
                shutil.copy(helper, workdir / helper.name)
        nbformat.write(notebook, workdir / name)
        probes = write_probes(task.assignment, notebook, probe_dir, seed, Path(task.course_root))
        probe_dir.chmod(0o755)       # mkdtemp makes it 0700; the job's unprivileged uid must read it
        env = slot_env(slot_envs[slot], options.gpus, options.scheduler)
        job = _harness_job(task, name, workdir, probe_dir, release_dir, env, options)
        job.slot = options.first_slot + slot
        sandbox_started = time.time()
        outcome = sandbox.run(job)
        records = read_channel(outcome.stdout.encode())   # the harness's records; files in workdir are ignored
        if not records.started:
            return StagedResult(task.student, stem, "infra_error",
                                f"the sandbox did not start the notebook (exit {outcome.returncode}): "
                                f"{outcome.stderr.strip()[-500:]}", wall_s=outcome.wall_s)
        status, detail, verdicts, outputs = judge_submission(notebook, probes, records, grade_points(notebook))
        if outcome.timed_out:
            status = "time_limit"
            detail = f"the notebook ran longer than {options.notebook_timeout_s:g} s and was stopped"
        return StagedResult(task.student, stem, status, detail, verdicts, outputs, wall_s=outcome.wall_s,
                            timing=records.stage_seconds(sandbox_started))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
        shutil.rmtree(probe_dir, ignore_errors=True)


def _harness_job(task: SubmissionTask, name: str, workdir: Path, probe_dir: Path, release_dir: Path,
                 env: dict[str, str], options: GradeOptions) -> Job:
    """The harness running notebook ``name`` of ``workdir`` with the probes of ``probe_dir``."""
    font_cache = _matplotlib_font_cache()
    if font_cache is not None:   # else every kernel rebuilds it (seconds of CPU per submission)
        shutil.copytree(font_cache, workdir / ".matplotlib")
        env = {**env, "MPLCONFIGDIR": f"{SANDBOX_WORKDIR}/.matplotlib"}
    library = _course_utils_mount(Path(task.course_root), task.assignment)
    # The grading edition's folder goes on PYTHONPATH: where the grader found the library
    # (e.g. a course folder's own course_utils/, first on nbgrader's sys.path) need not be
    # where the kernel's installed finder would look, and only the edition is mounted.
    python_path = os.pathsep.join([harness_protocol.GRADER_DIR, str(Path(library.target).parent)])
    return Job(
        argv=[sys.executable, harness_protocol.HARNESS_TARGET, name, "--probes", harness_protocol.PROBES_TARGET,
              "--cell-timeout", str(options.cell_timeout_s), "--interrupt-grace", f"{options.interrupt_grace_s:g}"],
        workdir=workdir,
        mounts=[*_harness_mounts(probe_dir), library, *_grader_hidden_mount(),
                Mount(release_dir, "/course/release", per_job=True)],
        # COURSE_FAST=1: notebooks shorten their training cells under autograding
        env={**env, "PYTHONPATH": python_path, "COURSE_FAST": "1"},
        limits=Limits(**{**options.limits.__dict__, "wall_clock_s": options.notebook_timeout_s,
                         "channel_bytes": CHANNEL_BYTES}),
    )


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


def _harness_mounts(probe_dir: Path) -> list[Mount]:
    """The harness, the protocol it shares with ``autograder.trusted`` (imported beside it)
    and this run's probes, read-only under ``/grader``."""
    package = Path(__file__).parent
    return [Mount(package / "harness.py", harness_protocol.HARNESS_TARGET),
            Mount(package / "harness_protocol.py", harness_protocol.PROTOCOL_TARGET),
            Mount(probe_dir, harness_protocol.PROBES_TARGET, per_job=True)]


def _course_utils_mount(course_root: Path, assignment: str) -> Mount:
    """The grading edition of the course library for ``assignment`` (no function that
    computes one of its graded answers: ``autograder/library_edition.py``), at the path
    this environment imports ``course_utils`` from."""
    import importlib.util

    from autograder.library_edition import grading_edition
    from autograder.references import course_library_answers
    spec = importlib.util.find_spec("course_utils")
    installed = Path(spec.origin).parent if spec and spec.origin else Path(course_root, "course_utils").resolve()
    source = Path(course_root, "course_utils") if Path(course_root, "course_utils").is_dir() else installed
    course_answers = course_library_answers(assignment, course_root)     # a course folder's own assignment
    return Mount(grading_edition(source, assignment, course_answers=course_answers), str(installed))


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
