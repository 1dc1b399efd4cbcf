"""The sandbox: no network, no secrets, no survivors, limits that bite; command builders."""

from __future__ import annotations

import socket
import sys
import textwrap
import threading
from pathlib import Path

import pytest

from autograder.sandbox import (
    BubblewrapSandbox,
    ContainerSandbox,
    Job,
    Limits,
    Mount,
    NoSandbox,
    SandboxUnavailable,
    detect_sandbox,
)
from autograder.warm_sandbox import WarmBubblewrapSandbox
from autograder.worker_slots import plan_workers
from tests import REPO_ROOT
from tests.autograder.processes import processes_of

needs_bwrap = pytest.mark.skipif(not BubblewrapSandbox().available(), reason="bubblewrap (and root) needed")


@pytest.fixture(params=["fresh", "warm"])
def bubblewrap(request):
    """Each isolation test runs in both: one bwrap per job, and jobs forked from a warm-kernel server."""
    sandbox = BubblewrapSandbox() if request.param == "fresh" else WarmBubblewrapSandbox(modules=("numpy",))
    yield sandbox
    sandbox.close()


def run_python(tmp_path, code: str, limits: Limits | None = None, mounts=None, slot: int = 7, sandbox=None):
    work = tmp_path / "work"
    work.mkdir(exist_ok=True)
    (work / "job.py").write_text(textwrap.dedent(code))
    job = Job([sys.executable, "job.py"], work, mounts or [], limits=limits or Limits(wall_clock_s=60), slot=slot)
    return (sandbox or BubblewrapSandbox()).run(job)


@needs_bwrap
def test_only_loopback_and_no_egress(tmp_path, bubblewrap):
    # a listener outside the sandbox, on a loopback address other than 127.0.0.1
    server = socket.socket()
    server.bind(("127.0.0.2", 0))
    server.listen(1)
    port = server.getsockname()[1]
    accepted = []
    threading.Thread(target=lambda: accepted.append(server.accept()), daemon=True).start()
    result = run_python(tmp_path, f"""
        import os, socket
        print("interfaces", sorted(os.listdir("/sys/class/net")) if os.path.isdir("/sys/class/net") else ["lo"])
        for host in ("127.0.0.2", "10.0.0.1", "8.8.8.8"):
            s = socket.socket(); s.settimeout(2)
            try:
                s.connect((host, {port} if host.startswith("127") else 53)); print("CONNECTED", host)
            except OSError as e:
                print("blocked", host, e.errno)
        """, sandbox=bubblewrap)
    server.close()
    assert "CONNECTED" not in result.stdout, result.stdout + result.stderr
    assert result.stdout.count("blocked") == 3
    assert not accepted


@needs_bwrap
def test_cannot_see_solutions_gradebook_or_references(tmp_path, bubblewrap):
    secret = tmp_path / "gradebook.db"
    secret.write_text("secret")
    result = run_python(tmp_path, f"""
        import os
        for path in [{str(REPO_ROOT / 'solutions')!r}, {str(REPO_ROOT / 'autograder' / 'references')!r},
                     {str(secret)!r}, "/work/main/.grading", "/root/.ssh", "../../solutions"]:
            print(path, os.path.exists(path))
        import course_utils; print("course_utils ok")
        try:
            import autograder; print("AUTOGRADER IMPORTED")
        except ImportError:
            print("no autograder")
        print("uid", os.getuid())
        """, mounts=[Mount(REPO_ROOT / "course_utils", str(REPO_ROOT / "course_utils"))], sandbox=bubblewrap)
    lines = result.stdout.splitlines()
    assert all(line.endswith(" False") for line in lines[:6]), result.stdout + result.stderr
    assert "course_utils ok" in result.stdout and "no autograder" in result.stdout
    assert "uid 0" not in result.stdout


@needs_bwrap
def test_no_process_survives_a_double_forked_daemon(tmp_path, bubblewrap):
    marker = tmp_path / "work" / "alive"
    result = run_python(tmp_path, """
        import os, time
        if os.fork() == 0:
            os.setsid()
            if os.fork() == 0:
                for i in range(100):
                    open("/sandbox/alive", "w").write(str(i)); time.sleep(0.1)
                os._exit(0)
            os._exit(0)
        time.sleep(0.5)
        print("main exits")
        """, sandbox=bubblewrap)
    assert "main exits" in result.stdout
    import time
    time.sleep(1.0)
    first = marker.read_text() if marker.exists() else None
    time.sleep(1.0)
    assert marker.read_text() == first if marker.exists() else True, "the daemon kept running after the job"
    assert not processes_of(61007)


@needs_bwrap
def test_memory_and_process_limits_bite(tmp_path, bubblewrap):
    result = run_python(tmp_path, """
        import os
        try:
            block = bytearray(600 * 1024 * 1024); print("ALLOCATED")
        except MemoryError:
            print("memory limited")
        children = 0
        try:
            for _ in range(200):
                if os.fork() == 0:
                    import time; time.sleep(5); os._exit(0)
                children += 1
        except OSError:
            print("process limited at", children)
        """, limits=Limits(memory_bytes=400 * 1024 ** 2, processes=20, wall_clock_s=60), sandbox=bubblewrap)
    assert "memory limited" in result.stdout, result.stdout + result.stderr
    assert "process limited at" in result.stdout


@needs_bwrap
def test_wall_clock_kills_the_whole_sandbox(tmp_path, bubblewrap):
    result = run_python(tmp_path, """
        import signal, time
        signal.signal(signal.SIGINT, signal.SIG_IGN); signal.signal(signal.SIGTERM, signal.SIG_IGN)
        while True: time.sleep(0.1)
        """, limits=Limits(wall_clock_s=3), sandbox=bubblewrap)
    assert result.timed_out and result.wall_s < 20


@needs_bwrap
def test_output_is_capped(tmp_path, bubblewrap):
    result = run_python(tmp_path, "print('x' * 5_000_000)", limits=Limits(output_bytes=1000, wall_clock_s=60),
                        sandbox=bubblewrap)
    assert len(result.stdout) < 2000


def test_container_command_has_the_limits(tmp_path):
    job = Job(["python", "h.py"], tmp_path, [Mount(Path("/srv/cu"), "/course/course_utils")],
              env={"CUDA_VISIBLE_DEVICES": "1"}, limits=Limits(memory_bytes=2 * 1024 ** 3, processes=256), slot=2)
    cmd = ContainerSandbox("docker", image="img", gpus="1").command(job)
    joined = " ".join(cmd)
    for expected in ("--network none", "--memory=2147483648", "--memory-swap=2147483648", "--pids-limit=256",
                     "--ulimit core=0", "--read-only", "--cap-drop ALL", "no-new-privileges", "--rm",
                     "/srv/cu:/course/course_utils:ro", f"{tmp_path}:/sandbox:rw", "--gpus device=1",
                     "--user 61002:61002"):
        assert expected in joined, expected
    assert cmd[-3:] == ["img", "python", "h.py"]
    assert "HOME=/sandbox" in cmd and not any("SECRET" in c for c in cmd)
    apptainer = ContainerSandbox("apptainer", image="g.sif").command(job)
    assert apptainer[:2] == ["apptainer", "exec"] and "--containall" in apptainer and "--cleanenv" in apptainer


def test_no_sandbox_refuses_unless_allowed(capsys):
    with pytest.raises(SandboxUnavailable, match="--allow-unsandboxed"):
        NoSandbox()
    NoSandbox(allow_unsandboxed=True)
    assert "WITHOUT a sandbox" in capsys.readouterr().err
    with pytest.raises(SandboxUnavailable):
        detect_sandbox("none")


def test_job_environment_holds_no_instructor_secrets(tmp_path, monkeypatch):
    monkeypatch.setenv("GITHUB_TOKEN", "ghp_secret")
    cmd = BubblewrapSandbox("bwrap").command(Job(["python"], tmp_path))
    assert "--clearenv" in cmd and "ghp_secret" not in " ".join(cmd)
    assert "--unshare-net" in cmd and "--unshare-pid" in cmd and "--die-with-parent" in cmd
    assert str(REPO_ROOT / "solutions") not in " ".join(cmd)


@pytest.mark.parametrize("gpus, workers, visible, expected", [
    ("none", 3, ["0", "1"], [""] * 3),
    ("auto", None, ["0", "1"], ["0", "1"]),
    ("auto", 1, ["0", "1"], ["0"]),
    ("auto", 2, [], ["", ""]),           # CPU fallback
    ("1", None, ["0", "1"], ["1"]),
])
def test_gpu_scheduling(gpus, workers, visible, expected):
    slots = plan_workers(gpus, workers, visible, cores=4)
    assert [s["CUDA_VISIBLE_DEVICES"] for s in slots] == expected
    for slot in slots:
        if slot["CUDA_VISIBLE_DEVICES"]:
            assert slot["TF_FORCE_GPU_ALLOW_GROWTH"] == "true"


def test_gpu_list_must_be_visible():
    with pytest.raises(ValueError, match="not visible"):
        plan_workers("0,3", None, ["0"])
    with pytest.raises(ValueError, match="twice"):
        plan_workers("0,0", None, ["0"])
