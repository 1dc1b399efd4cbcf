"""Bubblewrap with warm kernels: jobs forked from a server that imported TensorFlow once.

``WarmBubblewrapSandbox`` runs the same jobs as ``BubblewrapSandbox`` (same view of the
system, same limits, same unprivileged uid per slot), but instead of one ``bwrap`` per
job it keeps, per worker slot, one long-lived ``bwrap`` running the fork server
(``autograder/kernel_forkserver.py``), which imports ``WARM_MODULES`` once and forks each
job from there into mount, PID and IPC namespaces of its own. A notebook's kernel is
forked with TensorFlow already imported, which saves most of a fresh kernel's start-up
(about 4 of the 6 CPU seconds of a graded ``fcn_basics`` submission on 2 cores).

What a job shares with the jobs before and after it on the same slot: the read-only
system and course files (as with one ``bwrap`` per job), the loopback-only network
namespace and the server's ``/dev`` (read-only for the job). Its work folder, ``/tmp``,
``/proc``, processes and System V IPC are its own; the spool that holds the other jobs'
folders is covered by an empty tmpfs. ``tests/autograder/test_warm_sandbox.py`` checks it.

The job's folders reach the server through a spool folder (root-only on the host): the
work folder is moved there for the job and back afterwards (``job.workdir`` holds what
the job wrote, as with ``BubblewrapSandbox``), and ``Mount(per_job=True)`` folders are
copied there. The other mounts are the server's own: a job whose fixed mounts,
environment or uid differ gets a new server (the old one is stopped). Jobs that use a GPU
run in a fresh ``bwrap`` each (no CUDA state is ever forked).
"""

from __future__ import annotations

import atexit
import json
import os
import secrets
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from autograder.sandbox import (
    SANDBOX_UID_BASE,
    SANDBOX_WORKDIR,
    BubblewrapSandbox,
    Job,
    SandboxResult,
    job_env,
    running_sandbox,
    uses_gpu,
)

WARM_MODULES = ("numpy", "keras", "ipykernel.kernelapp")     # what a graded kernel imports first
FORKSERVER_TARGET = "/segcourse/kernel_forkserver.py"
SPOOL_TARGET = "/segcourse/spool"
SERVER_CAPABILITIES = ("CAP_SYS_ADMIN", "CAP_SETUID", "CAP_SETGID", "CAP_SETPCAP", "CAP_KILL")
START_TIMEOUT_S = 300          # the server's imports, on a loaded machine
ANSWER_GRACE_S = 60            # after the job's wall-clock limit: the server itself is stuck


class ForkServerFailed(RuntimeError):
    """The fork server did not start (the message says why); ``killed``: by a signal (a
    second Ctrl-C), when no fresh sandbox should take over either."""

    def __init__(self, message: str, killed: bool = False):
        super().__init__(message)
        self.killed = killed


class _ForkServer:
    """One ``bwrap`` running ``kernel_forkserver.py`` for one worker slot and one kind of job."""

    def __init__(self, sandbox: BubblewrapSandbox, job: Job, modules: tuple[str, ...]):
        self.key = _server_key(job)
        self.spool = Path(tempfile.mkdtemp(prefix="segcourse-spool-"))     # 0700, root's: the server's only
        fixed = [m for m in job.mounts if not m.per_job]
        targets = [SANDBOX_WORKDIR, *(m.target for m in job.mounts if m.per_job)]
        command = sandbox.view_args(job, SERVER_CAPABILITIES, mounts=fixed)
        for target in targets:             # mount points for each job's own folders
            command += BubblewrapSandbox._parents(target, set()) + ["--perms", "0755", "--dir", target]
        command += ["--ro-bind", str(Path(__file__).with_name("kernel_forkserver.py")), FORKSERVER_TARGET,
                    "--bind", str(self.spool), SPOOL_TARGET, "--chdir", "/", "--clearenv"]
        for key, value in job_env(job).items():
            command += ["--setenv", key, value]
        command += ["--", sys.executable, FORKSERVER_TARGET, "--preload", ",".join(modules)]
        self.log = tempfile.TemporaryFile()
        self.process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.log,
                                        env=sandbox.host_env(job), start_new_session=True)
        self.lock = threading.Lock()
        with running_sandbox(self.process):       # starting, the server counts as a running sandbox
            self.ready = self._answer(START_TIMEOUT_S)
        if not self.ready.get("ready"):
            exit_code = self.process.poll()
            why = self._log_tail() or self.ready.get("error", "")
            self.close()
            raise ForkServerFailed(f"the warm-kernel server did not start: {why}",
                                   killed=exit_code is not None and exit_code < 0)

    def run(self, job: Job, prepare) -> SandboxResult:
        """Run ``job`` in a fork of the server; ``prepare(job)`` readies its moved work folder."""
        job_id = secrets.token_hex(8)
        job_dir = self.spool / job_id
        job_dir.mkdir(mode=0o700)
        work = job_dir / "work"
        binds = [{"source": f"{SPOOL_TARGET}/{job_id}/work", "target": SANDBOX_WORKDIR, "writable": True}]
        started = time.perf_counter()
        shutil.move(str(job.workdir), work)
        try:
            for index, mount in enumerate(m for m in job.mounts if m.per_job):
                _copy_readable(mount.source, job_dir / f"m{index}")
                binds.append({"source": f"{SPOOL_TARGET}/{job_id}/m{index}", "target": mount.target,
                              "writable": mount.writable})
            prepare(Job(job.argv, work, job.mounts, job.env, job.limits, job.slot))
            request = {"job": job_id, "argv": job.argv, "env": job_env(job), "uid": SANDBOX_UID_BASE + job.slot,
                       "rlimits": job.limits.rlimits(), "wall_clock_s": job.limits.wall_clock_s,
                       "tmp_bytes": int(job.limits.tmp_bytes), "binds": binds}
            with self.lock:
                answer = self._ask(request, job.limits.wall_clock_s + ANSWER_GRACE_S)
            stdout = _read_capped(job_dir / "stdout", job.limits.channel_bytes or job.limits.output_bytes)
            stderr = _read_capped(job_dir / "stderr", job.limits.output_bytes)
            if "error" in answer:       # the server failed, not the job: its stderr says so
                return SandboxResult(None, stdout, f"{stderr}\nsegcourse: {answer['error']}",
                                     answer.get("timed_out", False), time.perf_counter() - started)
            return SandboxResult(answer["returncode"], stdout, stderr, bool(answer["timed_out"]),
                                 time.perf_counter() - started)
        finally:
            shutil.move(str(work), job.workdir)
            shutil.rmtree(job_dir, ignore_errors=True)

    def _ask(self, request: dict, timeout_s: float) -> dict:
        try:
            with running_sandbox(self.process):    # a second Ctrl-C kills the server, and every job in it
                self.process.stdin.write((json.dumps(request) + "\n").encode())
                self.process.stdin.flush()
                answer = self._answer(timeout_s)
        except (BrokenPipeError, OSError) as error:
            answer = {"error": f"the warm-kernel server is gone ({error})"}
        if answer.get("job") != request["job"] and "error" not in answer:
            answer = {"error": f"the warm-kernel server answered for another job: {answer}"}
        if "error" in answer:
            self._stop()             # the spool goes with close(), once this job's folder is back
        return answer

    def _answer(self, timeout_s: float) -> dict:
        ready, _, _ = select.select([self.process.stdout], [], [], timeout_s)
        line = self.process.stdout.readline() if ready else b""
        if not ready:
            return {"error": f"the warm-kernel server did not answer within {timeout_s:g} s", "timed_out": True}
        if not line:
            return {"error": f"the warm-kernel server stopped: {self._log_tail()}"}
        try:
            return json.loads(line)
        except ValueError:
            return {"error": f"the warm-kernel server answered something else than JSON: {line[:200]!r}"}

    def alive(self) -> bool:
        return self.process.poll() is None

    def _log_tail(self) -> str:
        self.log.seek(0)
        return self.log.read()[-800:].decode("utf-8", errors="replace").strip()

    def _stop(self) -> None:
        try:
            os.killpg(self.process.pid, signal.SIGKILL)    # bwrap's PID 1 dies: so does every job
        except (ProcessLookupError, PermissionError):
            pass
        self.process.wait()

    def close(self) -> None:
        self._stop()
        for stream in (self.process.stdin, self.process.stdout, self.log):
            stream.close()
        shutil.rmtree(self.spool, ignore_errors=True)


class WarmBubblewrapSandbox(BubblewrapSandbox):
    """``BubblewrapSandbox`` whose jobs are forked from a warm-kernel server per slot."""

    def __init__(self, *args, modules: tuple[str, ...] = WARM_MODULES, **kwargs):
        super().__init__(*args, **kwargs)
        self.modules = tuple(modules)
        self._servers: dict[int, _ForkServer] = {}
        self._servers_lock = threading.Lock()
        atexit.register(self.close)

    def __getstate__(self):            # a Dask worker starts servers of its own
        return {**self.__dict__, "_servers": {}, "_servers_lock": None}

    def __setstate__(self, state):
        self.__dict__.update(state)
        self._servers_lock = threading.Lock()
        atexit.register(self.close)

    def run(self, job: Job) -> SandboxResult:
        if uses_gpu(job) or not self.available() or any(m.per_job and not Path(m.source).is_dir() for m in job.mounts):
            return super().run(job)
        try:
            server = self._server(job)
        except ForkServerFailed as error:
            if error.killed:                        # stopped on purpose: so is this job
                return SandboxResult(None, "", f"segcourse: {error}", False, 0.0)
            # e.g. bwrap refused the server's capabilities
            print(f"segcourse: {error}; this job starts a fresh sandbox instead", file=sys.stderr, flush=True)
            return super().run(job)
        return server.run(job, self.prepare)

    def _server(self, job: Job) -> _ForkServer:
        with self._servers_lock:
            server = self._servers.get(job.slot)
            if server is not None and (server.key != _server_key(job) or not server.alive()):
                server.close()
                server = None
            if server is None:
                server = self._servers[job.slot] = _ForkServer(self, job, self.modules)
            return server

    def close(self) -> None:
        """Stop every server (the end of a batch; again at exit)."""
        lock = self._servers_lock or threading.Lock()
        with lock:
            servers, self._servers = list(self._servers.values()), {}
        for server in servers:
            server.close()


def _server_key(job: Job) -> tuple:
    """What a server is built for: jobs that differ in it need another server."""
    return (job.slot, tuple(sorted(job_env(job).items())),
            tuple((str(m.source), m.target, m.writable) for m in job.mounts if not m.per_job),
            tuple((m.target, m.writable) for m in job.mounts if m.per_job))


def _copy_readable(source: Path, destination: Path) -> None:
    """A root-owned copy of a per-job mount folder that the job's uid can read (not write)."""
    shutil.copytree(source, destination, symlinks=True)
    for path in [destination, *destination.rglob("*")]:
        if not path.is_symlink():
            path.chmod(0o755 if path.is_dir() else 0o644)


def _read_capped(path: Path, limit: int) -> str:
    try:
        with open(path, "rb") as handle:
            return handle.read(limit).decode("utf-8", errors="replace")
    except FileNotFoundError:
        return ""
