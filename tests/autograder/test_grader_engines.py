"""Engines (local threads, Dask), GPU slots in the sandbox, feedback HTML, runner files.

The Dask test starts a real scheduler and real workers as separate processes on
127.0.0.1, grades three fcn_basics submissions through them and checks that the
scores equal those of the local engine, that the gradebook has one writer and stays
sound, and that no process is left afterwards.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import nbformat
import pytest

from autograder import demo_class
from autograder.batch import GradeOptions, grade_batch
from autograder.cli import EXIT_USAGE
from autograder.engines import DaskEngine, EngineError, LocalEngine, make_engine
from autograder.gradebook import check_gradebook
from autograder.nbgrader_steps import SanitizeStudentHtml
from autograder.sandbox import BubblewrapSandbox, Job, Limits, gpu_device_nodes, job_env
from autograder.worker_slots import plan_workers
from tests import REPO_ROOT

needs_bwrap = pytest.mark.skipif(not BubblewrapSandbox().available(), reason="bubblewrap (and root) needed")
VENV_BIN = Path(sys.executable).parent
FIRST_SLOT = 30                      # sandbox uids 61030.. : apart from the other test modules' batches


# ----------------------------------------------------------------------------- the engine loop
def _square_slowly(item, slot, record=None):
    if record is not None:
        record.append(("start", item, slot))
    time.sleep(0.05)
    if item == 3:
        raise ValueError("three")
    if record is not None:
        record.append(("end", item, slot))
    return item * item


def test_local_engine_gives_every_result_and_keeps_slots_apart():
    running: dict[int, int] = {}
    clash = []
    lock = threading.Lock()

    def work(item, slot):
        with lock:
            if slot in running.values():
                clash.append((item, slot))
            running[item] = slot
        try:
            return _square_slowly(item, slot)
        finally:
            with lock:
                running.pop(item)

    with LocalEngine(concurrency=3) as engine:
        results = dict(engine.map(work, range(10)))
    assert set(results) == set(range(10)) and not clash
    assert isinstance(results[3], ValueError)                  # an error stays with its item
    assert all(results[i] == i * i for i in range(10) if i != 3)


def test_engine_choice_and_errors():
    with make_engine("local", 2) as engine:
        assert engine.concurrency == 2 and "local" in engine.describe()
    with pytest.raises(EngineError, match="--scheduler needs --engine dask"):
        make_engine("local", 2, scheduler="tcp://127.0.0.1:1")
    with pytest.raises(EngineError, match="cannot reach the Dask scheduler"):
        DaskEngine(scheduler="tcp://127.0.0.1:9", connect_timeout_s=2)


def test_dask_local_cluster_maps_and_shuts_down():
    import psutil

    before = {p.pid for p in psutil.Process().children(recursive=True)}
    with DaskEngine(workers=2) as engine:
        results = dict(engine.map(_square_slowly, range(6)))
    assert isinstance(results.pop(3), ValueError) and results == {i: i * i for i in range(6) if i != 3}
    _assert_no_new_children(before)


def _die_once(item, slot):
    """Kills its Dask worker process the first time it runs item "die" (a marker file says so)."""
    marker = Path(item[1])
    if item[0] == "die" and not marker.exists():
        marker.write_text("died")
        os._exit(1)
    return item[0]


def test_dask_worker_death_is_reported(tmp_path):
    """A worker that dies mid-batch: Dask starts its task again elsewhere, and the engine
    says so (the batch summary prints it) instead of recovering silently."""
    with DaskEngine(workers=2) as engine:
        results = dict(engine.map(_die_once, [("die", str(tmp_path / "died")), ("live", "")]))
        events = engine.events()
    assert results == {("die", str(tmp_path / "died")): "die", ("live", ""): "live"}
    assert any("left the cluster" in event for event in events), events


def _assert_no_new_children(before: set[int], within_s: float = 20) -> None:
    import psutil

    deadline = time.time() + within_s
    while True:
        # multiprocessing's resource tracker belongs to this (test) process and ends with it
        left = [p for p in psutil.Process().children(recursive=True) if p.pid not in before and p.is_running()
                and p.status() != psutil.STATUS_ZOMBIE and "resource_tracker" not in " ".join(p.cmdline())]
        if not left or time.time() > deadline:
            break
        time.sleep(0.5)
    assert not left, [(p.pid, p.cmdline()[:4]) for p in left]


def _sandbox_processes(first_uid: int, count: int) -> list[str]:
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            for line in open(f"/proc/{pid}/status"):
                if line.startswith("Uid:") and first_uid <= int(line.split()[1]) < first_uid + count:
                    found.append(pid)
        except OSError:
            continue
    return found


# ----------------------------------------------------------------------------- Dask, for real
def _course_with(tmp_path: Path, students: list[str]):
    from autograder.course import course_config
    from autograder.nbgrader_api import release_assignment

    course = tmp_path / "course"
    for folder in ("solutions", "exercises", "course_utils"):
        shutil.copytree(REPO_ROOT / folder, course / folder)
    config = course_config(course, runtime_directory=course / ".grading", cell_timeout_s=30)
    release_assignment(config, "fcn_basics")
    demo_class.write_demo_submissions(course, course / ".grading/submitted")
    return config


@pytest.fixture
def dask_cluster(tmp_path):
    """A scheduler and two single-threaded workers, each its own OS process, on 127.0.0.1."""
    scheduler_file = tmp_path / "scheduler.json"
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONPATH": str(REPO_ROOT)}
    logs = open(tmp_path / "dask.log", "w")
    scheduler = subprocess.Popen(
        [str(VENV_BIN / "dask"), "scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
         "--scheduler-file", str(scheduler_file)], stdout=logs, stderr=subprocess.STDOUT, env=env,
        start_new_session=True)
    deadline = time.time() + 60
    while not scheduler_file.exists() and time.time() < deadline:
        time.sleep(0.2)
    assert scheduler_file.exists(), (tmp_path / "dask.log").read_text()
    import json
    address = json.loads(scheduler_file.read_text())["address"]
    assert address.startswith("tcp://127.0.0.1:")
    worker = subprocess.Popen(
        [str(VENV_BIN / "dask"), "worker", address, "--nworkers", "2", "--nthreads", "1", "--no-dashboard",
         "--memory-limit", "0", "--host", "127.0.0.1"], stdout=logs, stderr=subprocess.STDOUT, env=env,
        start_new_session=True)
    yield address, [scheduler, worker]
    for process in (worker, scheduler):          # SIGTERM: Dask shuts down cleanly
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    logs.close()


@pytest.mark.slow
@needs_bwrap
def test_dask_scheduler_and_workers_grade_like_the_local_engine(tmp_path, dask_cluster):
    import psutil

    address, processes = dask_cluster
    students = ["demo-correct", "demo-partial", "demo-crash"]
    config = _course_with(tmp_path / "dask", students)
    with DaskEngine(scheduler=address) as probe_engine:          # the workers have joined
        probe_engine._client.wait_for_workers(2, timeout=120)
    dask_report = grade_batch(config, "fcn_basics", students, BubblewrapSandbox(),
                              GradeOptions(workers=2, cell_timeout_s=30, seed=7, engine="dask", scheduler=address,
                                           first_slot=FIRST_SLOT), progress=lambda *_: None)
    local_config = _course_with(tmp_path / "local", students)
    local_report = grade_batch(local_config, "fcn_basics", students, BubblewrapSandbox(),
                               GradeOptions(workers=2, cell_timeout_s=30, seed=7, first_slot=FIRST_SLOT),
                               progress=lambda *_: None)
    from autograder.nbgrader_api import submission_scores
    dask_scores = {s.student: s.by_cell for s in submission_scores(config, "fcn_basics", students)}
    local_scores = {s.student: s.by_cell for s in submission_scores(local_config, "fcn_basics", students)}
    assert dask_scores == local_scores == {s: demo_class.EXPECTED_POINTS[s] for s in students}, \
        [(s.student, s.status, s.detail) for s in dask_report.submissions]
    assert not dask_report.failed and dask_report.integrity == [] and local_report.integrity == []
    assert check_gradebook(config.CourseDirectory.db_url, config.CourseDirectory.course_id) == []
    feedback = Path(config.CourseDirectory.root) / config.CourseDirectory.feedback_directory
    assert all((feedback / s / "fcn_basics/fcn_basics.html").exists() for s in students)

    # clean shutdown: the scheduler and workers (and their nannies) exit, no sandbox is left
    worker_tree = [p.pid for p in psutil.Process(processes[1].pid).children(recursive=True)]
    for process in processes[::-1]:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=60) is not None
    time.sleep(1)
    assert not [pid for pid in worker_tree if psutil.pid_exists(pid)
                and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE]
    assert _sandbox_processes(61000 + FIRST_SLOT, 2) == []


def test_scheduler_without_dask_is_a_usage_error():
    result = subprocess.run([sys.executable, "-m", "autograder.cli", "grade", "fcn_basics", "--scheduler",
                             "tcp://127.0.0.1:8786"], cwd=REPO_ROOT, capture_output=True, text=True, timeout=120)
    # no submissions is checked first in a fresh checkout; either way: usage, no traceback
    assert result.returncode == EXIT_USAGE and "usage: segcourse" in result.stderr
    assert "Traceback" not in result.stderr


def test_help_describes_the_engines():
    result = subprocess.run([sys.executable, "-m", "autograder.cli", "grade", "--help"], cwd=REPO_ROOT,
                            capture_output=True, text=True, timeout=120)
    assert "not yet available" not in result.stdout
    assert "LocalCluster" in result.stdout and "--scheduler ADDRESS" in result.stdout


# ----------------------------------------------------------------------------- GPU slots
@pytest.fixture
def fake_gpu_devices(tmp_path):
    devices = tmp_path / "dev"
    devices.mkdir()
    for name in ("nvidia0", "nvidia1", "nvidiactl", "nvidia-uvm", "nvidia-uvm-tools", "null"):
        (devices / name).touch()
    return devices


def test_gpu_slot_binds_its_gpu_only(tmp_path, fake_gpu_devices):
    slot_env = plan_workers("auto", None, ["0", "1"])[1]
    job = Job(["python", "h.py"], tmp_path, env=slot_env, slot=1)
    cmd = BubblewrapSandbox("bwrap", device_dir=fake_gpu_devices, gpu_minor_numbers={}).command(job)
    binds = {cmd[i + 1]: cmd[i + 2] for i, arg in enumerate(cmd) if arg == "--dev-bind"}
    assert binds == {str(fake_gpu_devices / n): f"/dev/{n}"
                     for n in ("nvidiactl", "nvidia-uvm", "nvidia-uvm-tools", "nvidia1")}
    assert cmd.index("--dev") < min(i for i, a in enumerate(cmd) if a == "--dev-bind")   # on top of the minimal /dev
    env = {cmd[i + 1]: cmd[i + 2] for i, arg in enumerate(cmd) if arg == "--setenv"}
    assert env["CUDA_VISIBLE_DEVICES"] == "1"
    assert env["TF_FORCE_GPU_ALLOW_GROWTH"] == "true" and env["XLA_PYTHON_CLIENT_PREALLOCATE"] == "false"


def test_gpu_nodes_follow_minor_numbers_and_unknown_ids(fake_gpu_devices):
    assert fake_gpu_devices / "nvidia0" in gpu_device_nodes("1", fake_gpu_devices, {"1": "0"})
    every = gpu_device_nodes("MIG-abc", fake_gpu_devices, {})
    assert {fake_gpu_devices / "nvidia0", fake_gpu_devices / "nvidia1"} <= set(every)
    assert gpu_device_nodes("0", fake_gpu_devices / "nowhere", {}) == []


def test_cpu_slot_gets_no_gpu_and_keeps_the_memory_limit(tmp_path, fake_gpu_devices):
    cpu_job = Job(["python"], tmp_path, env=plan_workers("none", 1, [])[0])
    cmd = BubblewrapSandbox("bwrap", device_dir=fake_gpu_devices, gpu_minor_numbers={}).command(cpu_job)
    assert "--dev-bind" not in cmd and "TF_FORCE_GPU_ALLOW_GROWTH" not in job_env(cpu_job)
    import resource
    assert resource.RLIMIT_AS in dict(Limits().rlimits(gpu=False))
    assert resource.RLIMIT_AS not in dict(Limits().rlimits(gpu=True))    # CUDA reserves huge address space


@pytest.mark.gpu
@needs_bwrap
def test_real_gpu_is_usable_in_the_sandbox(tmp_path):
    """On a GPU runner: TensorFlow inside the sandbox sees exactly the slot's GPU."""
    from autograder.worker_slots import detect_gpus
    visible = detect_gpus()
    if not visible:
        pytest.skip("no GPU visible")
    work = tmp_path / "work"
    work.mkdir()
    (work / "job.py").write_text("import tensorflow as tf\n"
                                 "print('GPUS', len(tf.config.list_physical_devices('GPU')))\n")
    job = Job([sys.executable, "job.py"], work, env=plan_workers("auto", 1, visible)[0],
              limits=Limits(wall_clock_s=300), slot=FIRST_SLOT)
    result = BubblewrapSandbox().run(job)
    assert "GPUS 1" in result.stdout, result.stdout + result.stderr


# ----------------------------------------------------------------------------- feedback HTML
def test_student_markdown_is_cleaned_instructor_markdown_kept():
    import re

    attack = "# My notes\n\n<script>alert(1)</script>\n\n<img src=x onerror=alert(2)> $x^2$"
    student = nbformat.v4.new_markdown_cell(attack)
    student["id"] = "student-0123"
    instructor = nbformat.v4.new_markdown_cell("<div class='alert'>Read this</div>")
    notebook = nbformat.v4.new_notebook(cells=[student, instructor])
    cleaned, _ = SanitizeStudentHtml()(notebook, {})          # as nbgrader calls it (enabled by default)
    source = cleaned.cells[0].source
    assert "<script" not in source and not re.search(r"<[^>]*\son\w+\s*=", source)
    assert "<h1" in source and "$x^2$" in source and "<img" in source
    assert cleaned.cells[1].source == "<div class='alert'>Read this</div>"


# ----------------------------------------------------------------------------- runner files
def test_runner_dockerfile_and_workflow():
    yaml = pytest.importorskip("yaml")
    dockerfile = (REPO_ROOT / "runners/Dockerfile").read_text()
    assert dockerfile.lstrip().splitlines()[0].startswith("FROM nvidia/cuda:")
    for line in ("python3.11", "bubblewrap", "pip install", 'ENTRYPOINT ["segcourse"]'):
        assert line in dockerfile, line
    workflow = yaml.safe_load((REPO_ROOT / "runners/github-actions-gpu-grading.yml").read_text())
    job = next(iter(workflow["jobs"].values()))
    assert "self-hosted" in job["runs-on"] and "gpu" in job["runs-on"]
    steps = " ".join(str(step) for step in job["steps"])
    for expected in ("actions/checkout", "pip install", "segcourse", "grade", "--gpus auto", "--workers",
                     "actions/upload-artifact", "grades.csv", "feedback"):
        assert expected in steps, expected
    assert "segcourse" in (REPO_ROOT / "runners/README.md").read_text()


@pytest.mark.slow
@needs_bwrap
def test_benchmark_quick_smoke(tmp_path):
    result = subprocess.run([sys.executable, "-m", "benchmarks.grading", "--submissions", "2", "--output",
                             str(tmp_path / "grading.json")], cwd=REPO_ROOT, capture_output=True, text=True,
                            timeout=1500, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"})
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    import json
    data = json.loads((tmp_path / "grading.json").read_text())
    assert data["submissions"] == 2 and data["honest_scores_identical"] is True
    for key in ("workers", "stock_nbgrader_s", "ours_s", "speedup", "per_submission"):
        assert key in data
