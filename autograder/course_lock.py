"""One batch per course: ``course_lock`` holds ``<runtime>/.segcourse.lock``.

``fcntl.flock`` on the lock file (which holds the pid and the command) for the whole
batch; a second batch refuses at once, naming the holder; a lock left by a dead process is
taken over with a message (the kernel released it when the process died). nbgrader's own
autograde (``autograder.grading_path``) takes the same lock.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

from autograder.gradebook_errors import GradebookError

LOCK_NAME = ".segcourse.lock"


class CourseLocked(GradebookError):
    """Another segcourse batch holds this course's lock (the message names its pid)."""


_HELD: dict[str, list] = {}     # lock file -> [open file, depth]: nested takes in one process


@contextlib.contextmanager
def course_lock(runtime: Path, what: str, announce: Callable[[str], None] | None = None):
    """Hold ``<runtime>/.segcourse.lock`` (``fcntl.flock``) for a batch; raise ``CourseLocked``
    at once if another process holds it. Re-entrant within one process."""
    runtime = Path(runtime)
    runtime.mkdir(parents=True, exist_ok=True)
    path = runtime / LOCK_NAME
    key = str(path.resolve())
    if key in _HELD:
        _HELD[key][1] += 1
        try:
            yield path
        finally:
            _HELD[key][1] -= 1
        return
    handle = open(path, "a+")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = _read_holder(path)
        handle.close()
        raise CourseLocked(f"another segcourse batch is running on {runtime} ({holder}): it was not started; "
                           f"wait for it to finish (lock: {path})") from None
    previous = _read_holder(path, raw=True)
    if previous:
        pid = _pid_of(previous)
        if pid is not None and pid != os.getpid():
            (announce or _stderr)(f"segcourse: taking over the lock on {runtime} left by pid {pid} "
                                  f"({'no longer running' if not _alive(pid) else 'not holding it any more'})")
    try:
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()} {what} since {time.strftime('%Y-%m-%d %H:%M:%S')}\n")
        handle.flush()
    except OSError:
        pass                       # a full disk: the lock holds all the same, unnamed
    _HELD[key] = [handle, 1]
    try:
        yield path
    finally:
        del _HELD[key]
        with contextlib.suppress(OSError):
            handle.seek(0)
            handle.truncate()
        handle.close()            # releases the flock


def _stderr(message: str) -> None:
    print(message, file=sys.stderr)


def _read_holder(path: Path, raw: bool = False) -> str:
    try:
        text = path.read_text(errors="replace").strip()
    except OSError:
        text = ""
    if raw:
        return text
    pid = _pid_of(text)
    return f"pid {pid}: {text.split(' ', 2)[2]}" if pid is not None and text.count(" ") >= 2 else \
        (text or "pid unknown")


def _pid_of(text: str) -> int | None:
    parts = text.split()
    if len(parts) >= 2 and parts[0] == "pid" and parts[1].isdigit():
        return int(parts[1])
    return None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
