"""Where the sandboxed submissions run: local threads, or Dask workers.

Both engines share one loop (``Engine.map``): at most ``concurrency`` calls are in
flight, each with a *slot* number of its own (0 .. concurrency-1). The slot picks the
sandbox's unprivileged uid and the GPU of that call, so two running jobs never share
either. When a call finishes, its slot goes straight to the next item, before the
caller sees the result: the workers stay busy while the caller (the single gradebook
writer) records it.

    with LocalEngine(concurrency=2) as engine:
        for student, result in engine.map(grade_one, students):   # grade_one(student, slot)
            ...   # result is the return value, or the exception the call raised

- ``LocalEngine``: a thread pool in this process (each thread waits on a sandbox
  subprocess, so threads are enough).
- ``DaskEngine``: tasks on a ``distributed`` cluster: a ``LocalCluster`` of worker
  processes on this machine by default, or the workers of an existing scheduler
  (``tcp://host:8786``). ``fn`` and ``items`` are pickled to the workers; they must
  return plain data. Workers need the project installed (``pip install .``) and, for
  bubblewrap, must run as root on a Linux machine with ``bwrap``.
"""

from __future__ import annotations

import concurrent.futures
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any


class EngineError(RuntimeError):
    """An engine that cannot start (no Dask installed, scheduler unreachable...)."""


class Engine:
    """Runs ``fn(item, slot)`` for many items, ``concurrency`` at a time."""

    name = "abstract"
    concurrency = 1

    # --- what each engine provides
    def _submit(self, fn: Callable, item, slot: int):
        """Start ``fn(item, slot)``; returns a future."""
        raise NotImplementedError

    def _wait_first(self, futures: set) -> set:
        """Block until at least one of ``futures`` is done; returns the done ones."""
        raise NotImplementedError

    def _outcome(self, future) -> Any:
        """The future's result, or the exception it raised (never raises itself)."""
        try:
            return future.result()
        except BaseException as error:
            return error

    def close(self) -> None:
        """Stop the workers (idempotent)."""

    # --- the shared loop
    running_count = 0     # calls in flight (for "finishing N running submissions")

    def events(self) -> list[str]:
        """What happened to the workers during the batch (e.g. a worker that died), for the summary."""
        return []

    def map(self, fn: Callable, items: Iterable, stop: threading.Event | None = None) -> Iterator[tuple[Any, Any]]:
        """Yield ``(item, result or exception)`` in completion order.

        ``fn`` is called as ``fn(item, slot)`` where ``slot`` is unique among the calls
        running at the same time. An exception in one call never stops the others. Once
        ``stop`` is set, no new call starts; the running ones finish and are yielded (the
        items never started are not).
        """
        pending = list(items)[::-1]                 # pop() from the end keeps the given order
        free_slots = list(range(self.concurrency))[::-1]
        running: dict[Any, tuple[Any, int]] = {}    # future -> (item, slot)

        def start_what_fits() -> None:
            while pending and free_slots and not (stop is not None and stop.is_set()):
                item, slot = pending.pop(), free_slots.pop()
                running[self._submit(fn, item, slot)] = (item, slot)

        start_what_fits()
        self.running_count = len(running)
        while running:
            for future in self._wait_first(set(running)):
                item, slot = running.pop(future)
                free_slots.append(slot)
                start_what_fits()                  # refill before the caller records
                self.running_count = len(running)
                yield item, self._outcome(future)

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def describe(self) -> str:
        return f"{self.name} engine, {self.concurrency} at a time"


class LocalEngine(Engine):
    """A pool of threads in this process; each drives one sandboxed job at a time."""

    name = "local"

    def __init__(self, concurrency: int):
        self.concurrency = max(1, int(concurrency))
        self._pool = concurrent.futures.ThreadPoolExecutor(max_workers=self.concurrency,
                                                           thread_name_prefix="segcourse-worker")

    def _submit(self, fn, item, slot):
        return self._pool.submit(fn, item, slot)

    def _wait_first(self, futures):
        done, _ = concurrent.futures.wait(futures, return_when=concurrent.futures.FIRST_COMPLETED)
        return done

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)


class DaskEngine(Engine):
    """Tasks on a Dask ``distributed`` cluster; the caller stays the only gradebook writer.

    Args:
        workers: with no ``scheduler``: the number of worker processes of the
            ``LocalCluster`` started here (one thread each). With a ``scheduler``: how
            many tasks run at once (default: every thread the cluster's workers offer).
        scheduler: address of a running scheduler (``tcp://10.0.0.5:8786``); None starts
            a ``LocalCluster`` on 127.0.0.1 and stops it on ``close``.
        connect_timeout_s: how long to wait for the scheduler.
    """

    name = "dask"

    def __init__(self, workers: int | None = None, scheduler: str | None = None, connect_timeout_s: float = 30):
        try:
            from distributed import Client, LocalCluster
        except ImportError:
            raise EngineError("--engine dask needs Dask: pip install 'dask[distributed]'") from None
        self._cluster = None
        try:
            if scheduler:
                self._client = Client(scheduler, timeout=connect_timeout_s, set_as_default=False)
            else:
                self._cluster = LocalCluster(
                    n_workers=max(1, workers or 1), threads_per_worker=1, processes=True,
                    host="127.0.0.1", dashboard_address=None, silence_logs=40,
                    # grading tasks wait on sandboxes for minutes: no work stealing, no memory kills
                    memory_limit=0)
                self._client = Client(self._cluster, set_as_default=False)
        except (OSError, TimeoutError) as error:
            self.close()
            raise EngineError(f"cannot reach the Dask scheduler {scheduler or '(local cluster)'}: {error}") from None
        if workers:
            self.concurrency = workers
        else:
            self._client.wait_for_workers(1, timeout=connect_timeout_s)
            self.concurrency = max(1, sum(self._client.nthreads().values()))
        self.address = self._client.scheduler.address
        self._events: list[str] = []
        self._known_workers: set[str] = set(self._client.scheduler_info().get("workers", {}))

    def _submit(self, fn, item, slot):
        # pure=False: two items with equal content are still two tasks
        return self._client.submit(fn, item, slot, pure=False, retries=0)

    def _wait_first(self, futures):
        # distributed.wait needs a default client; this engine keeps its client private
        # (set_as_default=False), so poll: grading tasks take minutes, 0.2 s is nothing.
        polls = 0
        while True:
            done = {future for future in futures if future.done()}
            if done:
                return done
            if polls % 10 == 0:
                self._watch_workers()
            polls += 1
            time.sleep(0.2)

    def _watch_workers(self) -> None:
        """Note every worker that left the cluster since the last look (Dask restarts its
        tasks on another worker; the summary says so instead of recovering silently)."""
        try:
            workers = set(self._client.scheduler_info().get("workers", {}))
        except Exception:
            return
        for gone in sorted(self._known_workers - workers):
            self._events.append(f"Dask worker {gone} left the cluster during the batch (died or was stopped); "
                                "its submission was started again on another worker")
        self._known_workers = workers

    def events(self) -> list[str]:
        self._watch_workers()
        return list(self._events)

    def close(self) -> None:
        client, cluster = getattr(self, "_client", None), self._cluster
        self._client = self._cluster = None
        if client is not None:
            client.close()
        if cluster is not None:
            cluster.close()

    def describe(self) -> str:
        where = "a local cluster" if self._cluster is not None else f"scheduler {self.address}"
        return f"dask engine on {where}, {self.concurrency} at a time"


def make_engine(kind: str, concurrency: int, scheduler: str | None = None) -> Engine:
    """``local`` or ``dask`` (with an optional scheduler address)."""
    if kind == "local":
        if scheduler:
            raise EngineError("--scheduler needs --engine dask")
        return LocalEngine(concurrency)
    if kind == "dask":
        return DaskEngine(workers=concurrency, scheduler=scheduler)
    raise EngineError(f"unknown engine {kind!r} (expected local or dask)")
