"""Which processes of this machine run as a sandbox uid (from /proc; the tests run as root)."""

from __future__ import annotations

import os


def uid_of(pid: str) -> int | None:
    """The real uid of process ``pid`` (None when it is gone)."""
    try:
        for line in open(f"/proc/{pid}/status"):
            if line.startswith("Uid:"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def processes_of(uid: int) -> list[int]:
    """The pids running as ``uid`` now."""
    return [int(p) for p in os.listdir("/proc") if p.isdigit() and uid_of(p) == uid]
