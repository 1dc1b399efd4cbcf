"""Clean stops of a grading batch: Ctrl-C and SIGTERM.

    with GracefulStop(running=lambda: engine_running_count) as stop:
        ... engine.map(..., stop=stop.requested) ...
    if stop.requested.is_set(): exit 130

- The first SIGINT (Ctrl-C) or SIGTERM asks the batch to stop: no new submission starts,
  the running ones finish and are recorded, the rest are reported as not graded, and the
  command exits 130. It says so at once: "finishing N running submission(s); Ctrl-C again
  to stop now".
- A second one stops now: every running sandbox is killed (``autograder.sandbox.kill_running_jobs``)
  and ``KeyboardInterrupt`` is raised in the main thread; submissions not yet recorded are
  not recorded (their earlier grades stay as they were).

Handlers are installed only in the main thread (Python delivers signals there); elsewhere
the context manager does nothing.
"""

from __future__ import annotations

import signal
import sys
import threading
from collections.abc import Callable


class GracefulStop:
    """Installs SIGINT and SIGTERM handlers for the duration of a batch."""

    def __init__(self, running: Callable[[], int] = lambda: 0, say: Callable[[str], None] | None = None):
        self.requested = threading.Event()
        self.running = running
        self.say = say or (lambda text: print(text, file=sys.stderr, flush=True))
        self._previous: dict[int, object] = {}

    def _handle(self, signum, frame) -> None:
        name = "SIGTERM" if signum == signal.SIGTERM else "Ctrl-C"
        if not self.requested.is_set():
            self.requested.set()
            self.say(f"segcourse: {name}: finishing {self.running()} running submission(s), recording them, "
                     "and starting no new one; Ctrl-C again to stop now")
            return
        from autograder.sandbox import kill_running_jobs
        killed = kill_running_jobs()
        self.say(f"segcourse: {name} again: stopped now ({killed} running sandbox(es) killed; "
                 "submissions not yet recorded keep their earlier grades)")
        raise KeyboardInterrupt

    def __enter__(self) -> GracefulStop:
        if threading.current_thread() is threading.main_thread():
            for signum in (signal.SIGINT, signal.SIGTERM):
                self._previous[signum] = signal.signal(signum, self._handle)
        return self

    def __exit__(self, *exc) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)
        self._previous.clear()
