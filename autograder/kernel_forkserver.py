"""The warm-kernel fork server that runs INSIDE a bubblewrap sandbox (trusted code only).

A fresh Jupyter kernel spends most of a graded submission importing TensorFlow (about
4 CPU seconds of the 6 a submission costs). This server imports the heavy modules once
(``--preload``), then, for each job it is sent, forks a copy of itself that already holds
them. It never runs student code itself: every job runs in the fork, after the fork has
put itself in namespaces of its own and dropped to the job's unprivileged uid.

It is started by ``autograder.warm_sandbox`` in bubblewrap's view of the system (read-only
system, Python environment and course files, no network), as root with only the
capabilities it needs to build each job's namespaces (``CAP_SYS_ADMIN``, ``CAP_SETUID``,
``CAP_SETGID``, ``CAP_SETPCAP``, ``CAP_KILL``). Each job, in ``_run_job``:

1. a child (``setup``) unshares mount, PID and IPC namespaces; binds the job's folders
   from the spool (``/segcourse/spool/<job>``): the work folder at ``/sandbox`` (writable),
   each read-only folder at its target; mounts a fresh, size-limited ``/tmp`` (keeping
   what bwrap mounted below it, e.g. a virtualenv in ``/tmp``); opens the
   job's stdout and stderr files; then covers the spool with an empty read-only tmpfs,
   so no other job's folder is reachable;
2. its child is PID 1 of the new PID namespace (``init``): it mounts that namespace's
   ``/proc``, sets the job's resource limits, drops every capability (bounding set
   included), its groups and root (to the job's uid), sets no-new-privileges, checks all
   of that in ``/proc/self/status``, and then only reaps: when the job's command exits,
   it exits and the kernel kills everything left in the namespace;
3. the job's command (``job``) is forked by ``init``. Before it ``exec``s the command
   (e.g. the grading harness), it forks the *kernel in waiting*: a process that holds the
   preloaded modules and waits, with no file descriptor but one pipe, for the harness to
   say "start a kernel with this command line"; it then runs ``ipykernel_launcher`` in
   place, as ``python -m ipykernel_launcher`` would. The pipe's end and the waiting
   kernel's pid reach the command as ``SEGCOURSE_FORKED_KERNEL=<fd>:<pid>``;
4. ``setup`` waits for ``init`` up to the job's wall-clock limit, kills it (and with it
   the whole namespace) when it is over, and reports the exit status to the server,
   which answers the trusted side.

Requests and answers are JSON lines on the server's stdin and original stdout:

    -> {"job": "<id>", "argv": [...], "env": {...}, "uid": 61003, "rlimits": [[res, value], ...],
        "wall_clock_s": 900, "tmp_bytes": 268435456,
        "binds": [{"source": "/segcourse/spool/<id>/work", "target": "/sandbox", "writable": true}, ...]}
    <- {"job": "<id>", "returncode": 0, "timed_out": false}

This file must not import ``autograder``: it is mounted on its own.
"""

from __future__ import annotations

import ctypes
import importlib
import json
import os
import re
import select
import signal
import sys
import time

SPOOL = "/segcourse/spool"            # the host's spool folder of this server, hidden from every job
WORKDIR = "/sandbox"
FORKED_KERNEL_ENV = "SEGCOURSE_FORKED_KERNEL"

CLONE_NEWNS, CLONE_NEWIPC, CLONE_NEWPID = 0x00020000, 0x08000000, 0x20000000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 1, 2, 4, 8
MS_REMOUNT, MS_BIND, MS_MOVE, MS_REC, MS_PRIVATE = 32, 4096, 8192, 16384, 1 << 18
PR_SET_PDEATHSIG, PR_CAPBSET_DROP, PR_SET_NO_NEW_PRIVS = 1, 24, 38
PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL = 47, 4
LINUX_CAPABILITY_VERSION_3 = 0x20080522
STATUS_FIELDS_ZERO = ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb")

_libc = ctypes.CDLL(None, use_errno=True)


def _check(result: int, what: str) -> None:
    if result != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"{what}: {os.strerror(errno)}")


def _mount(source: str | None, target: str, fstype: str | None, flags: int, data: str | None = None) -> None:
    _check(_libc.mount(source and source.encode(), target.encode(), fstype and fstype.encode(),
                       ctypes.c_ulong(flags), data and data.encode()), f"mount {target}")


def _prctl(option: int, arg: int = 0, arg3: int = 0) -> None:
    _check(_libc.prctl(option, ctypes.c_ulong(arg), ctypes.c_ulong(arg3), 0, 0), f"prctl {option}")


# ------------------------------------------------------------------------------ one job
def _setup_namespaces(request: dict) -> tuple[int, int]:
    """In ``setup``: new mount/PID/IPC namespaces with the job's folders; the spool hidden.
    Returns the job's stdout and stderr file descriptors."""
    _check(_libc.unshare(CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWIPC), "unshare")
    _mount(None, "/", None, MS_REC | MS_PRIVATE)          # nothing of ours propagates back
    for bind in request["binds"]:
        source, target = bind["source"], bind["target"]
        if not os.path.realpath(source).startswith(os.path.join(SPOOL, request["job"]) + os.sep):
            raise ValueError(f"bind source {source} is not in this job's spool folder")
        _mount(source, target, None, MS_BIND | MS_REC)
        flags = MS_BIND | MS_REMOUNT | MS_NOSUID | MS_NODEV | (0 if bind["writable"] else MS_RDONLY)
        _mount(None, target, None, flags)
    job_dir = os.path.join(SPOOL, request["job"])
    _fresh_tmp(int(request["tmp_bytes"]), os.path.join(job_dir, "stash"))
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW | os.O_CLOEXEC
    stdout = os.open(os.path.join(job_dir, "stdout"), flags, 0o600)
    stderr = os.open(os.path.join(job_dir, "stderr"), flags, 0o600)
    _mount("tmpfs", SPOOL, "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, "size=4k,mode=0755")
    return stdout, stderr


def _fresh_tmp(size_bytes: int, stash_root: str) -> None:
    """A new, empty, size-limited tmpfs at ``/tmp`` that keeps what is mounted below ``/tmp``
    (e.g. a virtualenv in ``/tmp``, bound there by bwrap as for a fresh sandbox): those
    mounts are moved aside, the tmpfs is mounted, and they are moved back onto the same paths."""
    stashed = []
    os.mkdir(stash_root, 0o700)
    for index, point in enumerate(_mount_points_below("/tmp")):
        stash = os.path.join(stash_root, str(index))
        _make_like(point, stash)
        _mount(point, stash, None, MS_MOVE)
        stashed.append((stash, point))
    _mount("tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, f"size={size_bytes},mode=1777")
    for stash, point in stashed:
        parent = os.path.dirname(point)
        os.makedirs(parent, mode=0o755, exist_ok=True)     # as bwrap makes a bind's parents
        _make_like(stash, point)
        _mount(stash, point, None, MS_MOVE)


def _mount_points_below(folder: str) -> list[str]:
    """The outermost mount points strictly below ``folder`` (from /proc/self/mountinfo)."""
    points = set()
    with open("/proc/self/mountinfo") as handle:
        for line in handle:
            point = re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), line.split()[4])
            if point.startswith(folder.rstrip("/") + "/"):
                points.add(point)
    outermost = []
    for point in sorted(points):
        if not any(point.startswith(kept + "/") for kept in outermost):
            outermost.append(point)
    return outermost


def _make_like(model: str, path: str) -> None:
    """An empty folder or file at ``path``, as ``model`` is (a mount point must match its mount)."""
    if os.path.isdir(model):
        os.makedirs(path, mode=0o755, exist_ok=True)
    elif not os.path.exists(path):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW, 0o644))


def _drop_privileges(uid: int, rlimits: list) -> None:
    """In ``init``: the job's limits; no capability, group or root left; checked."""
    import resource

    for which, value in rlimits:
        resource.setrlimit(int(which), (int(value), int(value)))
    with open("/proc/sys/kernel/cap_last_cap") as handle:
        last_cap = int(handle.read())
    for cap in range(last_cap + 1):
        _prctl(PR_CAPBSET_DROP, cap)
    os.setgroups([])
    os.setresgid(uid, uid, uid)
    os.setresuid(uid, uid, uid)             # from root to a uid: permitted and effective sets cleared
    _prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL)
    _clear_capability_sets()                # the inheritable set survives setresuid
    _prctl(PR_SET_NO_NEW_PRIVS, 1)
    with open("/proc/self/status") as handle:
        status = dict(line.split(":", 1) for line in handle if ":" in line)
    problems = [name for name in STATUS_FIELDS_ZERO if int(status[name], 16) != 0]
    if status["NoNewPrivs"].strip() != "1":
        problems.append("NoNewPrivs")
    if {int(v) for v in status["Uid"].split()} != {uid} or {int(v) for v in status["Gid"].split()} != {uid}:
        problems.append("Uid/Gid")
    if status.get("Groups", "").strip():
        problems.append("Groups")
    if problems:
        raise PermissionError(f"privileges not dropped: {', '.join(problems)}")


def _clear_capability_sets() -> None:
    """capset(2) with every set empty (effective, permitted, inheritable)."""
    class Header(ctypes.Structure):
        _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]

    class Data(ctypes.Structure):
        _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32), ("inheritable", ctypes.c_uint32)]

    header, data = Header(LINUX_CAPABILITY_VERSION_3, 0), (Data * 2)()
    _check(_libc.capset(ctypes.byref(header), data), "capset")


def _close_fds_except(*keep: int) -> None:
    highest = os.sysconf("SC_OPEN_MAX")
    low = 3
    for fd in sorted(k for k in keep if k >= 3):
        os.closerange(low, fd)
        low = fd + 1
    os.closerange(low, highest)


def _wait_kernel_request(go_read: int) -> None:
    """In the kernel in waiting: block until the harness sends the kernel command, then
    become that kernel (``python -m ipykernel_launcher ...`` in place). Never returns."""
    code = 0
    try:
        chunks = []
        while chunk := os.read(go_read, 65536):
            chunks.append(chunk)
        os.close(go_read)
        if not chunks:                 # the command never asked for a kernel
            os._exit(0)
        message = json.loads(b"".join(chunks))
        argv, env, cwd = message["argv"], message["env"], message["cwd"]
        os.environ.clear()
        os.environ.update(env)
        os.chdir(cwd)
        if argv[1:3] != ["-m", "ipykernel_launcher"] or not _is_this_python(argv[0], env):
            os.execvpe(argv[0], argv, env)            # another kernel: start it the usual way
        # As a fresh `python -m ipykernel_launcher` would: cwd first on sys.path, fresh randomness.
        sys.path[0] = os.getcwd()
        importlib.invalidate_caches()
        if "numpy" in sys.modules:
            sys.modules["numpy"].random.seed()
        sys.argv = ["ipykernel_launcher", *argv[3:]]
        import runpy
        runpy.run_module("ipykernel_launcher", run_name="__main__", alter_sys=True)
    except SystemExit as stop:
        code = stop.code if isinstance(stop.code, int) else (0 if stop.code is None else 1)
    except BaseException as error:
        print(f"forked kernel failed: {type(error).__name__}: {error}", file=sys.stderr, flush=True)
        code = 1
    finally:
        os._exit(code)


def _is_this_python(program: str, env: dict) -> bool:
    """True when the kernel command's interpreter is this one (else the preloads don't apply)."""
    import shutil
    found = shutil.which(program, path=env.get("PATH"))
    return found is not None and os.path.realpath(found) == os.path.realpath(sys.executable)


def _start_job(request: dict, env: dict) -> None:
    """In ``job``: fork the kernel in waiting, then exec the job's command. Never returns."""
    go_read, go_write = os.pipe()
    kernel = os.fork()
    if kernel == 0:
        os.close(go_write)
        os.setsid()
        devnull = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(devnull, fd)
        _close_fds_except(go_read)
        _wait_kernel_request(go_read)
    os.close(go_read)
    os.set_inheritable(go_write, True)
    try:
        os.execvpe(request["argv"][0], request["argv"], {**env, FORKED_KERNEL_ENV: f"{go_write}:{kernel}"})
    except OSError as error:
        os.write(2, f"cannot run {request['argv'][0]}: {error}\n".encode())
    os._exit(127)


def _init(request: dict, stdout: int, stderr: int) -> None:
    """``init``: PID 1 of the job's namespace. Never returns."""
    code = 125
    try:
        os.dup2(stdout, 1)
        os.dup2(stderr, 2)
        devnull = os.open(os.devnull, os.O_RDONLY)
        os.dup2(devnull, 0)
        _close_fds_except()
        _mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
        os.setsid()
        _drop_privileges(int(request["uid"]), request["rlimits"])
        os.chdir(WORKDIR)
        env = {str(k): str(v) for k, v in request["env"].items()}
        job = os.fork()
        if job == 0:
            _start_job(request, env)
        while True:                                    # reap every orphan; end with the job
            pid, status = os.wait()
            if pid == job:
                code = os.waitstatus_to_exitcode(status)
                code = 128 - code if code < 0 else code
                break
    except BaseException as error:
        os.write(2, f"segcourse fork server: the job could not start: {type(error).__name__}: {error}\n".encode())
    finally:
        os._exit(code)


def _setup(request: dict, report: int) -> None:
    """``setup``: namespaces, then ``init``, then wait for it under the wall-clock limit.
    Writes {"returncode", "timed_out"} (or {"error"}) to ``report``. Never returns."""
    answer: dict = {"returncode": None, "timed_out": False}
    try:
        _prctl(PR_SET_PDEATHSIG, signal.SIGKILL)       # the server gone: so is the job
        stdout, stderr = _setup_namespaces(request)
        init = os.fork()
        if init == 0:
            os.close(report)
            _init(request, stdout, stderr)
        os.close(stdout)
        os.close(stderr)
        pidfd = os.pidfd_open(init)
        ready, _, _ = select.select([pidfd], [], [], float(request["wall_clock_s"]))
        if not ready:
            answer["timed_out"] = True
            os.kill(init, signal.SIGKILL)               # PID 1 gone: the kernel kills its namespace
        _, status = os.waitpid(init, 0)
        answer["returncode"] = os.waitstatus_to_exitcode(status)
    except BaseException as error:
        answer = {"error": f"{type(error).__name__}: {error}"}
    finally:
        os.write(report, json.dumps(answer).encode())
        os._exit(0)


def _run_job(request: dict) -> dict:
    """One job, start to end; the answer for the trusted side."""
    report_read, report_write = os.pipe()
    setup = os.fork()
    if setup == 0:
        os.close(report_read)
        os.dup2(os.open(os.devnull, os.O_RDWR), 0)
        _close_fds_except(1, 2, report_write)
        _setup(request, report_write)
    os.close(report_write)
    chunks = []
    while chunk := os.read(report_read, 65536):
        chunks.append(chunk)
    os.close(report_read)
    os.waitpid(setup, 0)
    try:
        answer = json.loads(b"".join(chunks))
    except ValueError:
        answer = {"error": "the job's setup process died without an answer"}
    return {"job": request["job"], **answer}


# ------------------------------------------------------------------------------ server
def main(argv: list[str]) -> int:
    import argparse

    parser = argparse.ArgumentParser(description="Fork jobs, each in its own namespaces, from preloaded modules.")
    parser.add_argument("--preload", default="", help="comma-separated modules to import once")
    args = parser.parse_args(argv)
    answers = os.fdopen(os.dup(1), "w", buffering=1)       # the trusted side reads only this
    os.dup2(2, 1)                                          # what the imports print goes to stderr
    started = time.perf_counter()
    failed = {}
    for module in filter(None, args.preload.split(",")):
        try:
            importlib.import_module(module)
        except Exception as error:
            failed[module] = f"{type(error).__name__}: {error}"[:300]
    answers.write(json.dumps({"ready": True, "import_s": round(time.perf_counter() - started, 2),
                              "failed": failed, "threads": len(os.listdir("/proc/self/task"))}) + "\n")
    for line in sys.stdin:
        try:
            request = json.loads(line)
            answer = _run_job(request)
        except (ValueError, KeyError, TypeError, OSError) as error:
            answer = {"job": None, "error": f"bad request: {type(error).__name__}: {error}"}
        answers.write(json.dumps(answer) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
