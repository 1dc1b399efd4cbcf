"""Run untrusted commands (a student's notebook) in a sandbox.

- ``BubblewrapSandbox``: Linux namespaces through ``bwrap``: no network (only loopback),
  new PID/IPC/UTS namespaces, a read-only view of the system, of the Python environment
  and of the public course files only, one writable private work folder, a size-limited
  ``/tmp``; the job runs as an unprivileged uid (one per worker slot, so that
  ``RLIMIT_NPROC`` counts only that job) with every capability dropped. When the job's
  main process exits or the wall-clock limit is hit, the PID namespace is torn down and
  every process in it is killed (no daemon survives).
- ``ContainerSandbox``: the same job for docker, podman or apptainer (command builder).
- ``NoSandbox``: runs the job as the instructor, only when explicitly allowed.

Resource limits (``Limits``) are set with ``setrlimit`` in the child before ``exec``:
address space, processes/threads, file size, open files, core dumps 0. The wall-clock
limit kills the whole sandbox; captured stdout/stderr are capped in bytes.

GPU jobs: when a job's ``CUDA_VISIBLE_DEVICES`` names a GPU and ``/dev/nvidia*`` exist,
bubblewrap binds the control nodes and that GPU's node only (``gpu_device_nodes``) and
the job gets ``TF_FORCE_GPU_ALLOW_GROWTH=true`` and ``XLA_PYTHON_CLIENT_PREALLOCATE=false``.
``RLIMIT_AS`` is not set for GPU jobs: CUDA reserves far more virtual address space
than it uses, so an address-space limit breaks it (confine GPU runners' memory with a
container or cgroup limit instead).
"""

from __future__ import annotations

import contextlib
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from autograder.course import (
    CONTAINER_IMAGE,
    FILE_SIZE_BYTES,
    MEMORY_BYTES,
    MIB,
    NOTEBOOK_TIMEOUT_S,
    OPEN_FILES,
    PROCESSES,
    SANDBOX,
    TMP_BYTES,
)

SANDBOX_WORKDIR = "/sandbox"          # where the private work folder appears inside
SANDBOX_UID_BASE = 61000              # uid of worker slot k is SANDBOX_UID_BASE + k
# A GPU job grows its GPU memory as needed rather than taking it all at start-up (TF, JAX).
GPU_MEMORY_GROWTH = {"TF_FORCE_GPU_ALLOW_GROWTH": "true", "XLA_PYTHON_CLIENT_PREALLOCATE": "false"}


class SandboxUnavailable(RuntimeError):
    """The requested sandbox cannot run on this machine (message says why and what to do)."""


@dataclass
class Limits:
    """Resource limits of one sandboxed job (defaults: the course's, ``autograder.course``)."""

    memory_bytes: int = MEMORY_BYTES.default         # RLIMIT_AS per process
    processes: int = PROCESSES.default               # RLIMIT_NPROC: processes + threads of the job's uid
    file_size_bytes: int = FILE_SIZE_BYTES.default   # RLIMIT_FSIZE: largest file the job may write
    open_files: int = OPEN_FILES.default             # RLIMIT_NOFILE
    tmp_bytes: int = TMP_BYTES.default               # size of the tmpfs /tmp
    wall_clock_s: float = NOTEBOOK_TIMEOUT_S.default  # whole job; then the sandbox is killed
    output_bytes: int = 1 * MIB          # captured stdout/stderr kept per stream
    channel_bytes: int | None = None     # stdout kept instead, where stdout is a results channel

    def rlimits(self, gpu: bool = False) -> list[tuple[int, int]]:
        """(resource, limit) pairs; no address-space limit for GPU jobs (CUDA needs it)."""
        return [
            *([] if gpu else [(resource.RLIMIT_AS, int(self.memory_bytes))]),
            (resource.RLIMIT_NPROC, int(self.processes)),
            (resource.RLIMIT_FSIZE, int(self.file_size_bytes)),
            (resource.RLIMIT_NOFILE, int(self.open_files)),
            (resource.RLIMIT_CORE, 0),
        ]


@dataclass
class Mount:
    """A host path shown inside the sandbox (read-only unless ``writable``)."""

    source: Path
    target: str
    writable: bool = False
    per_job: bool = False        # this job's own files (probes, release): not shared by the next job


@dataclass
class SandboxResult:
    returncode: int | None
    stdout: str
    stderr: str
    timed_out: bool
    wall_s: float


@dataclass
class Job:
    """One command to run in a sandbox.

    ``workdir`` is the only writable host folder; it appears as ``/sandbox`` inside.
    ``mounts`` are the read-only public files (course_utils, release folder, harness).
    """

    argv: list[str]
    workdir: Path
    mounts: list[Mount] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    limits: Limits = field(default_factory=Limits)
    slot: int = 0                        # worker slot: picks the unprivileged uid


def _python_roots() -> list[Path]:
    """The folders the sandboxed Python needs: this virtualenv and its base interpreter."""
    roots = {Path(sys.prefix).resolve(), Path(sys.base_prefix).resolve()}
    return sorted(roots)


def uses_gpu(job: Job) -> bool:
    """True when the job's slot is pinned to a GPU (``CUDA_VISIBLE_DEVICES`` names one)."""
    visible = job.env.get("CUDA_VISIBLE_DEVICES", "").strip()
    return bool(visible) and visible != "-1"


@lru_cache(maxsize=1)
def _nvidia_minor_numbers() -> dict[str, str]:
    """GPU index and UUID -> minor number of its ``/dev/nvidiaN`` node (from nvidia-smi)."""
    if shutil.which("nvidia-smi") is None:
        return {}
    try:
        out = subprocess.run(["nvidia-smi", "--query-gpu=index,uuid,minor_number", "--format=csv,noheader"],
                             capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.SubprocessError):
        return {}
    minors = {}
    for line in out.stdout.splitlines() if out.returncode == 0 else []:
        parts = [part.strip() for part in line.split(",")]
        if len(parts) == 3 and parts[2].isdigit():
            minors[parts[0]], minors[parts[1]] = parts[2], parts[2]
    return minors


def gpu_device_nodes(cuda_visible_devices: str, device_dir: Path = Path("/dev"),
                     minor_numbers: dict[str, str] | None = None) -> list[Path]:
    """The device nodes a job pinned to ``cuda_visible_devices`` needs, among those that exist.

    Always the control nodes (``nvidiactl``, ``nvidia-uvm``, ``nvidia-uvm-tools``,
    ``nvidia-modeset``); then ``nvidiaN`` of each listed GPU (N: its minor number, which
    is usually its index). An id that cannot be resolved (a MIG id, an unknown UUID)
    binds every GPU node and ``nvidia-caps``: CUDA_VISIBLE_DEVICES then picks the device.
    Empty when no ``nvidia*`` node exists (a CPU machine).
    """
    if not any(device_dir.glob("nvidia*")):
        return []
    minors = _nvidia_minor_numbers() if minor_numbers is None else minor_numbers
    nodes = [device_dir / name for name in ("nvidiactl", "nvidia-uvm", "nvidia-uvm-tools", "nvidia-modeset")]
    every_gpu = sorted(p for p in device_dir.glob("nvidia[0-9]*") if p.name[len("nvidia"):].isdigit())
    for gpu in (g.strip() for g in cuda_visible_devices.split(",") if g.strip()):
        minor = minors.get(gpu, gpu if gpu.isdigit() else None)
        if minor is None:
            nodes += every_gpu + [device_dir / "nvidia-caps"]
        else:
            nodes.append(device_dir / f"nvidia{minor}")
    unique = list(dict.fromkeys(nodes))
    return [node for node in unique if node.exists()]


def _preexec(limits: Limits, gpu: bool = False):
    rlimits = limits.rlimits(gpu)

    def apply() -> None:
        for which, value in rlimits:
            try:
                resource.setrlimit(which, (value, value))
            except (ValueError, OSError):
                soft, hard = resource.getrlimit(which)
                resource.setrlimit(which, (min(value, hard) if hard != resource.RLIM_INFINITY else value, hard))
    return apply


_RUNNING: set[subprocess.Popen] = set()       # every sandboxed job running in this process
_RUNNING_LOCK = threading.Lock()


@contextlib.contextmanager
def running_sandbox(process: subprocess.Popen):
    """``process`` is among the sandboxes ``kill_running_jobs`` kills while in this block."""
    with _RUNNING_LOCK:
        _RUNNING.add(process)
    try:
        yield
    finally:
        with _RUNNING_LOCK:
            _RUNNING.discard(process)


def kill_running_jobs() -> int:
    """Kill every sandboxed job this process is running (a second Ctrl-C); returns how many."""
    with _RUNNING_LOCK:
        processes = list(_RUNNING)
    for process in processes:
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
    return len(processes)


class Sandbox:
    """Base class: builds a command for a ``Job`` and runs it under the job's limits."""

    name = "abstract"
    isolating = True

    def available(self) -> bool:
        raise NotImplementedError

    def command(self, job: Job) -> list[str]:
        raise NotImplementedError

    def run(self, job: Job) -> SandboxResult:
        if not self.available():
            raise SandboxUnavailable(f"sandbox '{self.name}' is not available on this machine")
        self.prepare(job)
        command = self.command(job)
        started = time.perf_counter()
        with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
            process = subprocess.Popen(
                command, stdin=subprocess.DEVNULL, stdout=out, stderr=err, env=self.host_env(job),
                cwd=str(job.workdir), start_new_session=True, preexec_fn=_preexec(job.limits, uses_gpu(job)),
            )
            timed_out = False
            with running_sandbox(process):
                try:
                    process.wait(timeout=job.limits.wall_clock_s)
                except subprocess.TimeoutExpired:
                    timed_out = True
            # Always kill what is left of the job's session (bwrap: killing it tears down
            # the PID namespace; NoSandbox: the process group, at least).
            try:
                os.killpg(process.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            process.wait()
            out.seek(0)
            err.seek(0)
            stdout = out.read(job.limits.channel_bytes or job.limits.output_bytes).decode("utf-8", errors="replace")
            stderr = err.read(job.limits.output_bytes).decode("utf-8", errors="replace")
        return SandboxResult(process.returncode, stdout, stderr, timed_out, time.perf_counter() - started)

    def prepare(self, job: Job) -> None:
        """Make the work folder usable by the job."""

    def close(self) -> None:
        """Stop what the sandbox keeps between jobs (the warm-kernel servers); none here."""

    def host_env(self, job: Job) -> dict[str, str]:
        return {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8"}


def job_env(job: Job) -> dict[str, str]:
    """The environment the job sees: nothing of the instructor's (no tokens, no secrets)."""
    env = {
        "PATH": f"{Path(sys.executable).parent}:/usr/local/bin:/usr/bin:/bin",
        "HOME": SANDBOX_WORKDIR,
        "LANG": "C.UTF-8",
        "TMPDIR": "/tmp",
        "JUPYTER_RUNTIME_DIR": "/tmp/jupyter-runtime",
        "JUPYTER_DATA_DIR": "/tmp/jupyter-data",
        "IPYTHONDIR": "/tmp/ipython",
        "MPLBACKEND": "Agg",
        "MPLCONFIGDIR": "/tmp/matplotlib",
        "PYTHONDONTWRITEBYTECODE": "1",
        "TF_CPP_MIN_LOG_LEVEL": os.environ.get("TF_CPP_MIN_LOG_LEVEL", "2"),
    }
    if "KERAS_BACKEND" in os.environ:
        env["KERAS_BACKEND"] = os.environ["KERAS_BACKEND"]
    env.update(job.env)
    if uses_gpu(job):
        env = {**GPU_MEMORY_GROWTH, **env}
    return env


class BubblewrapSandbox(Sandbox):
    """Linux namespaces with ``bwrap`` (Debian package ``bubblewrap``). Needs root (to
    switch the job to an unprivileged uid) or at least unprivileged user namespaces."""

    name = "bwrap"

    def __init__(self, bwrap: str | None = None, device_dir: Path = Path("/dev"),
                 gpu_minor_numbers: dict[str, str] | None = None):
        self.bwrap = bwrap or shutil.which("bwrap") or "bwrap"
        self.device_dir = Path(device_dir)              # where the GPU nodes are looked for
        self.gpu_minor_numbers = gpu_minor_numbers      # None: ask nvidia-smi

    def available(self) -> bool:
        return shutil.which(self.bwrap) is not None and os.geteuid() == 0 and shutil.which("setpriv") is not None

    def prepare(self, job: Job) -> None:
        uid = SANDBOX_UID_BASE + job.slot
        for path in [job.workdir, *job.workdir.rglob("*")]:
            os.chown(path, uid, uid, follow_symlinks=False)
        # bwrap enters the folder before it drops to the job's uid, without CAP_DAC_OVERRIDE.
        os.chmod(job.workdir, 0o755)

    def command(self, job: Job) -> list[str]:
        uid = SANDBOX_UID_BASE + job.slot
        cmd = self.view_args(job, capabilities=("CAP_SETUID", "CAP_SETGID"))
        cmd += ["--bind", str(job.workdir), SANDBOX_WORKDIR, "--chdir", SANDBOX_WORKDIR, "--clearenv"]
        for key, value in job_env(job).items():
            cmd += ["--setenv", key, value]
        cmd += ["--", "setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups",
                "--inh-caps=-all", "--bounding-set=-all", "--", *job.argv]
        return cmd

    def view_args(self, job: Job, capabilities: tuple[str, ...], mounts: list[Mount] | None = None) -> list[str]:
        """bwrap's arguments up to the work folder and the command: the namespaces, the kept
        ``capabilities`` and the filesystem the job sees (with ``job.mounts``, or ``mounts``
        instead when given: the warm-kernel server binds only the mounts its jobs share)."""
        cmd = [self.bwrap,
               "--unshare-ipc", "--unshare-pid", "--unshare-net", "--unshare-uts", "--unshare-cgroup-try",
               "--die-with-parent", "--new-session", "--hostname", "sandbox", "--cap-drop", "ALL"]
        for capability in capabilities:
            cmd += ["--cap-add", capability]
        cmd += ["--ro-bind", "/usr", "/usr"]
        for name in ("bin", "lib", "lib32", "lib64", "sbin"):
            path = Path("/") / name
            if path.is_symlink():
                cmd += ["--symlink", os.readlink(path), f"/{name}"]
            elif path.is_dir():
                cmd += ["--ro-bind", str(path), f"/{name}"]
        # A minimal /etc: dynamic linker cache, names, time zone; nothing with secrets.
        for name in ("ld.so.cache", "ld.so.conf", "ld.so.conf.d", "localtime", "nsswitch.conf", "hosts",
                     "mime.types", "ssl/certs", "fonts", "alternatives"):
            cmd += ["--ro-bind-try", f"/etc/{name}", f"/etc/{name}"]
        cmd += ["--proc", "/proc", "--dev", "/dev",
                "--size", str(int(job.limits.tmp_bytes)), "--perms", "1777", "--tmpfs", "/tmp"]
        if uses_gpu(job):   # only this slot's GPU, plus the driver's control nodes
            for node in gpu_device_nodes(job.env["CUDA_VISIBLE_DEVICES"], self.device_dir, self.gpu_minor_numbers):
                cmd += ["--dev-bind", str(node), f"/dev/{node.name}"]
        created: set[str] = {"/", "/usr", "/etc", "/tmp", "/proc", "/dev"}
        for root in _python_roots():
            cmd += self._parents(str(root), created) + ["--ro-bind", str(root), str(root)]
        for mount in job.mounts if mounts is None else mounts:
            cmd += self._parents(mount.target, created)
            cmd += ["--bind" if mount.writable else "--ro-bind", str(mount.source), mount.target]
        return cmd

    @staticmethod
    def _parents(target: str, created: set[str]) -> list[str]:
        # bwrap creates missing parents mode 0700, which the unprivileged job cannot enter.
        args = []
        parts = Path(target).parts
        for depth in range(2, len(parts)):
            parent = str(Path(*parts[:depth]))
            if parent not in created:
                created.add(parent)
                args += ["--perms", "0755", "--dir", parent]
        return args


class ContainerSandbox(Sandbox):
    """docker / podman / apptainer: the same job in a throw-away container.

    ``image`` must hold the same Python environment at the same paths (for docker and
    podman); apptainer runs ``image`` (a .sif) with the host's paths bound read-only.
    """

    def __init__(self, engine: str = "docker", image: str = CONTAINER_IMAGE.default, gpus: str | None = None):
        if engine not in ("docker", "podman", "apptainer"):
            raise ValueError(f"unknown container engine {engine!r}")
        self.engine, self.image, self.gpus = engine, image, gpus
        self.name = engine

    def available(self) -> bool:
        if shutil.which(self.engine) is None:
            return False
        if self.engine == "apptainer":
            return True
        probe = subprocess.run([self.engine, "info"], capture_output=True, timeout=20)
        return probe.returncode == 0

    def command(self, job: Job) -> list[str]:
        limits = job.limits
        env = job_env(job)
        if self.engine == "apptainer":
            cmd = ["apptainer", "exec", "--containall", "--cleanenv", "--no-home", "--net", "--network", "none",
                   "--writable-tmpfs", "--pwd", SANDBOX_WORKDIR, "--bind", f"{job.workdir}:{SANDBOX_WORKDIR}:rw"]
            for root in _python_roots():
                cmd += ["--bind", f"{root}:{root}:ro"]
            for mount in job.mounts:
                cmd += ["--bind", f"{mount.source}:{mount.target}:{'rw' if mount.writable else 'ro'}"]
            for key, value in env.items():
                cmd += ["--env", f"{key}={value}"]
            if self.gpus:
                cmd += ["--nv"]
            return cmd + [self.image, *job.argv]
        uid = SANDBOX_UID_BASE + job.slot
        cmd = [self.engine, "run", "--rm", "--init", "--network", "none",
               f"--memory={limits.memory_bytes}", f"--memory-swap={limits.memory_bytes}",
               f"--pids-limit={limits.processes}", "--ulimit", "core=0",
               "--ulimit", f"fsize={limits.file_size_bytes}", "--ulimit", f"nofile={limits.open_files}",
               "--read-only", "--tmpfs", f"/tmp:rw,size={limits.tmp_bytes},mode=1777",
               "--cap-drop", "ALL", "--security-opt", "no-new-privileges", "--user", f"{uid}:{uid}",
               "--workdir", SANDBOX_WORKDIR, "-v", f"{job.workdir}:{SANDBOX_WORKDIR}:rw"]
        for mount in job.mounts:
            cmd += ["-v", f"{mount.source}:{mount.target}:{'rw' if mount.writable else 'ro'}"]
        for key, value in env.items():
            cmd += ["-e", f"{key}={value}"]
        if self.gpus:
            cmd += ["--gpus", f"device={self.gpus}"]
        return cmd + [self.image, *job.argv]


class NoSandbox(Sandbox):
    """No isolation at all: student code runs as the instructor. Refuses unless allowed."""

    name = "none"
    isolating = False

    def __init__(self, allow_unsandboxed: bool = False):
        if not allow_unsandboxed:
            raise SandboxUnavailable(
                "refusing to run student code without a sandbox: it would run with your permissions "
                "and could read the solutions and the gradebook. Install bubblewrap "
                "(apt-get install -y bubblewrap) or pass --allow-unsandboxed to accept the risk.")
        print("WARNING: grading WITHOUT a sandbox (--allow-unsandboxed): student code runs as you, can "
              "read solutions/ and the gradebook and reach the network. Scores are still decided "
              "outside the student's kernel.", file=sys.stderr, flush=True)

    def available(self) -> bool:
        return True

    def command(self, job: Job) -> list[str]:
        return list(job.argv)

    def host_env(self, job: Job) -> dict[str, str]:
        return job_env(job)


def detect_sandbox(kind: str = SANDBOX.default, allow_unsandboxed: bool = False,
                   image: str = CONTAINER_IMAGE.default, warm_kernels: bool = True) -> Sandbox:
    """The sandbox to use: ``auto`` takes bwrap, else podman, else docker, else apptainer;
    with none of them, ``NoSandbox`` only if ``allow_unsandboxed``. bwrap's jobs are forked
    from a warm-kernel server (``autograder.warm_sandbox``) unless ``warm_kernels`` is False."""
    from autograder.warm_sandbox import WarmBubblewrapSandbox

    bubblewrap = WarmBubblewrapSandbox if warm_kernels else BubblewrapSandbox
    if kind == "none":
        return NoSandbox(allow_unsandboxed)
    if kind == "bwrap":
        sandbox = bubblewrap()
        if not sandbox.available():
            raise SandboxUnavailable("bubblewrap is not usable here: it needs the `bwrap` and `setpriv` commands and "
                                     "root (install with: apt-get install -y bubblewrap)")
        return sandbox
    if kind in ("docker", "podman", "apptainer"):
        sandbox = ContainerSandbox(kind, image=image)
        if not sandbox.available():
            raise SandboxUnavailable(f"{kind} is not usable here (no client or no running engine)")
        return sandbox
    if kind != "auto":
        raise SandboxUnavailable(f"unknown sandbox {kind!r}")
    for candidate in (bubblewrap(), ContainerSandbox("podman", image), ContainerSandbox("docker", image),
                      ContainerSandbox("apptainer", image)):
        try:
            if candidate.available():
                return candidate
        except (OSError, subprocess.SubprocessError):
            continue
    if allow_unsandboxed:
        return NoSandbox(True)
    raise SandboxUnavailable("no sandbox found (bubblewrap, podman, docker, apptainer). Install bubblewrap "
                             "(apt-get install -y bubblewrap) or pass --allow-unsandboxed to accept the risk.")
