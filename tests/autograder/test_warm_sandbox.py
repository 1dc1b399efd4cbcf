"""Warm kernels: jobs forked from one server per slot are as isolated as one bwrap per job.

The isolation tests every sandbox must pass run on both in ``test_grader_sandbox.py``;
here is what only a server that outlives its jobs could get wrong: privileges left from
the server's root, what one job leaves for the next (files, ``/tmp``, System V IPC,
processes), the server and the other jobs' folders being reachable, a forked kernel that
differs from a fresh one, and a server that dies.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import textwrap
import threading
import time
from pathlib import Path

import nbformat
import pytest

from autograder import harness_protocol, kernel_forkserver, sandboxed_run
from autograder.sandbox import BubblewrapSandbox, Job, Limits, Mount, kill_running_jobs
from autograder.trusted import read_channel
from autograder.warm_sandbox import WarmBubblewrapSandbox
from tests.autograder.processes import processes_of

pytestmark = pytest.mark.skipif(not BubblewrapSandbox().available(), reason="bubblewrap (and root) needed")
SLOT = 12
UID = 61000 + SLOT


@pytest.fixture
def warm():
    sandbox = WarmBubblewrapSandbox(modules=("numpy",))
    yield sandbox
    sandbox.close()


def run(sandbox, folder: Path, code: str, limits: Limits | None = None, mounts=(), env=None) -> tuple:
    work = folder / f"work-{time.monotonic_ns()}"
    work.mkdir(parents=True)
    (work / "job.py").write_text(textwrap.dedent(code))
    job = Job([sys.executable, "job.py"], work, list(mounts), env=env or {}, limits=limits or Limits(wall_clock_s=60),
              slot=SLOT)
    return sandbox.run(job), work


def test_no_privilege_of_the_server_is_left(warm, tmp_path):
    result, _ = run(warm, tmp_path, """
        status = dict(line.split(":", 1) for line in open("/proc/self/status"))
        for name in ("Uid", "Gid", "Groups", "CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb", "NoNewPrivs"):
            print(name, status[name].split())
        """)
    fields = {line.split()[0]: line.split(" ", 1)[1] for line in result.stdout.splitlines()}
    assert fields["Uid"] == fields["Gid"] == str([str(UID)] * 4), result.stdout + result.stderr
    assert fields["Groups"] == "[]"
    for name in ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"):
        assert fields[name] == "['0000000000000000']", (name, fields[name])
    assert fields["NoNewPrivs"] == "['1']"


def test_a_job_leaves_nothing_for_the_next(warm, tmp_path):
    first, work = run(warm, tmp_path, """
        import ctypes, os, subprocess, sys, time
        open("/tmp/left-behind", "w").write("secret")
        libc = ctypes.CDLL(None)
        print("shm", libc.shmget(0x5E6C, 4096, 0o1666))          # IPC_CREAT, readable by all
        # a daemon that outlives the job, if it can
        subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"], start_new_session=True)
        print("pids", sorted(p for p in os.listdir("/proc") if p.isdigit()))
        """)
    server_pid = warm._servers[SLOT].process.pid
    assert "shm -1" not in first.stdout and first.returncode == 0, first.stdout + first.stderr
    second, _ = run(warm, tmp_path, """
        import ctypes, os
        print("tmp", os.listdir("/tmp"))
        print("shm_segments", open("/proc/sysvipc/shm").read().splitlines()[1:])
        print("pids", sorted(int(p) for p in os.listdir("/proc") if p.isdigit()))
        print("work", sorted(os.listdir("/sandbox")))
        """)
    assert warm._servers[SLOT].process.pid == server_pid, "the second job should reuse the server"
    lines = dict(line.split(" ", 1) for line in second.stdout.splitlines())
    assert lines["tmp"] == "[]", second.stdout + second.stderr
    assert lines["shm_segments"] == "[]"
    # this job's init (1), the job (2) and its kernel in waiting (3): no daemon, no server
    assert json.loads(lines["pids"]) == [1, 2, 3], second.stdout
    assert lines["work"] == "['job.py']"
    assert (work / "job.py").exists(), "the first job's work folder is back where it was"


def test_a_fresh_tmp_keeps_what_is_mounted_below_it(warm, tmp_path):
    # A virtualenv or course folder in /tmp (a wheel installed in a temporary venv) stays visible.
    shared = tmp_path / "shared"
    shared.mkdir()
    (shared / "module.py").write_text("ANSWER = 42\n")
    (tmp_path / "single.txt").write_text("a file mount")
    mounts = [Mount(shared, str(shared)), Mount(tmp_path / "single.txt", str(tmp_path / "single.txt"))]
    code = f"""
        import os
        print(open({str(shared / "module.py")!r}).read().strip(), open({str(tmp_path / "single.txt")!r}).read())
        print(sorted(os.listdir("/tmp")), os.path.exists("/tmp/mine"))
        open("/tmp/mine", "w").write("x")
        """
    first, _ = run(warm, tmp_path, code, mounts=mounts)
    second, _ = run(warm, tmp_path, code, mounts=mounts)
    for result in (first, second):
        lines = result.stdout.splitlines()
        assert lines[0] == "ANSWER = 42 a file mount", result.stdout + result.stderr
        assert lines[1] == f"[{str(tmp_path).split('/')[2]!r}] False", "only the mounts' parents in /tmp"


def test_the_server_and_other_jobs_are_out_of_reach(warm, tmp_path):
    result, _ = run(warm, tmp_path, f"""
        import os
        for path in ("/segcourse", {kernel_forkserver.SPOOL!r}, "/proc/1/root/segcourse/spool"):
            try:
                print(path, os.listdir(path))
            except OSError as error:
                print(path, "refused", error.errno)
        writable = []
        for folder, subfolders, _ in os.walk("/", topdown=True):
            subfolders[:] = [s for s in subfolders if os.path.join(folder, s) not in ("/proc", "/sys")]
            if os.access(folder, os.W_OK):
                writable.append(folder)
        print("writable", sorted(writable))
        """)
    lines = result.stdout.splitlines()
    assert all("refused" in line or line.endswith("[]") for line in lines[:3]), result.stdout + result.stderr
    writable = lines[3].split(" ", 1)[1]
    assert all(p == "/tmp" or p.startswith("/tmp/") or p == "/sandbox" or p.startswith("/sandbox/")
               for p in eval(writable)), writable


def _harness_mounts(tmp_path: Path) -> list[Mount]:
    """The harness and an empty probes folder, mounted as grading mounts them."""
    probes = tmp_path / "probes"
    probes.mkdir(exist_ok=True)
    probes.chmod(0o755)
    return sandboxed_run._harness_mounts(probes)


KERNEL_CELLS = [
    "import os, sys, numpy as np\nprint('random', np.random.rand())",
    "print('path', sys.path, 'cwd', os.getcwd())",
    "print('marker', os.environ.get('SEGCOURSE_FORKED_KERNEL'))",
    "print('parent', open(f'/proc/{os.getppid()}/cmdline').read().split(chr(0))[1])",
    "import keras\nprint('layer', keras.layers.Dense(1).name)",
]


def _kernel_outputs(sandbox, tmp_path: Path) -> dict[str, str]:
    """Run ``KERNEL_CELLS`` through the grading harness; each printed line by its first word."""
    work = tmp_path / f"kernel-{time.monotonic_ns()}"
    work.mkdir()
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in KERNEL_CELLS])
    nbformat.write(notebook, work / "probe.ipynb")
    job = Job([sys.executable, harness_protocol.HARNESS_TARGET, "probe.ipynb", "--probes",
               harness_protocol.PROBES_TARGET, "--cell-timeout", "60", "--interrupt-grace", "5"],
              work, _harness_mounts(tmp_path), env={"PYTHONPATH": harness_protocol.GRADER_DIR},
              limits=Limits(wall_clock_s=120), slot=SLOT)
    result = sandbox.run(job)
    records = read_channel(result.stdout.encode())
    text = "".join(o.get("text", "") for cell in records.cells.values() for o in cell["outputs"])
    assert len(records.cells) == len(KERNEL_CELLS), result.stderr[-2000:]
    return {line.split(" ", 1)[0]: line.split(" ", 1)[1] for line in text.splitlines()}


def test_forked_kernels_are_fresh_and_their_own(tmp_path):
    warm = WarmBubblewrapSandbox()          # the grading default: TensorFlow preloaded
    try:
        first, second = _kernel_outputs(warm, tmp_path), _kernel_outputs(warm, tmp_path)
    finally:
        warm.close()
    fresh = _kernel_outputs(BubblewrapSandbox(), tmp_path)
    assert first["random"] != second["random"], "each forked kernel draws its own random numbers"
    for outputs in (first, second, fresh):
        assert outputs["path"] == fresh["path"] and outputs["path"].endswith("cwd /sandbox"), (outputs, fresh)
        assert outputs["marker"] == "None", outputs
        assert outputs["parent"] == harness_protocol.HARNESS_TARGET, "the kernel is the harness's child"
        assert outputs["layer"] == "dense", "keras' name counters start afresh"


def test_another_kernel_command_is_started_as_it_is(warm, tmp_path):
    # A kernel spec that is not this Python's ipykernel: the kernel in waiting execs it as given.
    result, work = run(warm, tmp_path, """
        import json, os
        fd, pid = map(int, os.environ["SEGCOURSE_FORKED_KERNEL"].split(":"))
        command = ["/bin/sh", "-c", "id -u > /sandbox/kernel.txt"]
        with os.fdopen(fd, "wb") as pipe:
            pipe.write(json.dumps({"argv": command, "env": {"PATH": "/usr/bin:/bin"}, "cwd": "/sandbox"}).encode())
        print("kernel exit", os.waitpid(pid, 0)[1])
        """)
    assert result.stdout.strip() == "kernel exit 0", result.stdout + result.stderr
    assert (work / "kernel.txt").read_text().strip() == str(UID)


def test_only_this_python_runs_the_preloaded_kernel():
    assert kernel_forkserver._is_this_python(sys.executable, {"PATH": os.environ["PATH"]})
    assert not kernel_forkserver._is_this_python("sh", {"PATH": "/usr/bin:/bin"})
    assert not kernel_forkserver._is_this_python("no-such-python", {"PATH": "/usr/bin:/bin"})


def test_a_dead_server_is_replaced_and_its_job_reported(warm, tmp_path):
    run(warm, tmp_path, "print('warm up')")
    server = warm._servers[SLOT]
    killer = threading.Timer(1.0, lambda: os.killpg(server.process.pid, signal.SIGKILL))
    killer.start()
    result, _ = run(warm, tmp_path, "import time; time.sleep(30)")
    killer.join()
    assert result.returncode is None and "warm-kernel server" in result.stderr, result.stderr
    assert result.wall_s < 20
    again, _ = run(warm, tmp_path, "print('still grading')")
    assert again.stdout.strip() == "still grading" and warm._servers[SLOT] is not server


def test_a_second_ctrl_c_kills_the_server_and_its_job(warm, tmp_path):
    run(warm, tmp_path, "print('warm up')")
    threading.Timer(1.0, kill_running_jobs).start()
    started = time.perf_counter()
    result, _ = run(warm, tmp_path, "import time; time.sleep(30)")
    assert time.perf_counter() - started < 20 and result.returncode is None
    assert _no_process_of_the_slot_within(10), "a process of the job outlived the killed server"


def _no_process_of_the_slot_within(seconds: float) -> bool:
    """The kernel tears a killed namespace down asynchronously: wait for its processes to go."""
    deadline = time.monotonic() + seconds
    while processes_of(UID):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


def test_a_server_killed_while_starting_ends_its_job(tmp_path):
    # A second Ctrl-C while the server imports TensorFlow: the job ends too, no fresh sandbox takes over.
    warm = WarmBubblewrapSandbox()
    threading.Timer(1.0, kill_running_jobs).start()
    try:
        result, work = run(warm, tmp_path, "open('/sandbox/ran', 'w').write('yes')")
    finally:
        warm.close()
    assert result.returncode is None and "did not start" in result.stderr, result.stderr
    assert not (work / "ran").exists(), "a fresh sandbox ran the job after the stop"


def test_a_server_that_cannot_start_leaves_the_job_to_a_fresh_sandbox(tmp_path, capsys):
    warm = WarmBubblewrapSandbox(bwrap="/bin/false")         # as if bwrap refused the server's capabilities
    warm.command = BubblewrapSandbox().command              # the fresh sandbox: the real bwrap
    try:
        result, work = run(warm, tmp_path, "open('/sandbox/ran', 'w').write('yes')")
    finally:
        warm.close()
    assert result.returncode == 0 and (work / "ran").read_text() == "yes", result.stderr
    assert "starts a fresh sandbox instead" in capsys.readouterr().err


def test_gpu_jobs_and_file_mounts_take_a_fresh_sandbox(warm, tmp_path):
    (tmp_path / "data.txt").write_text("per job file")
    result, _ = run(warm, tmp_path, "print(open('/data/data.txt').read())",
                    mounts=[Mount(tmp_path / "data.txt", "/data/data.txt", per_job=True)])
    assert result.stdout.strip() == "per job file" and not warm._servers
    on_gpu, _ = run(warm, tmp_path, "import os; print(os.environ['CUDA_VISIBLE_DEVICES'])",
                    env={"CUDA_VISIBLE_DEVICES": "0"})      # no GPU node here: bwrap binds none
    assert on_gpu.stdout.strip() == "0" and not warm._servers, "no CUDA state is ever forked"


def test_the_forked_kernel_marker_is_the_harness_protocols():
    assert kernel_forkserver.FORKED_KERNEL_ENV == harness_protocol.FORKED_KERNEL_ENV

