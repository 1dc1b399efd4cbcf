"""The grading harness that runs INSIDE the sandbox (untrusted zone).

It is copied into the sandbox on its own (as ``segcourse_harness.py``) and must never
import ``autograder``. It holds no reference answer and decides no score: it only

1. executes the notebook it is given (the release notebook with the student's solution
   cells; hidden tests were never in it) cell by cell with nbclient, with a per-cell
   time limit: at the limit the cell is interrupted; a cell that ignores the interrupt
   for ``--interrupt-grace`` seconds has its kernel killed, which ends the notebook; the
   functions an interrupted cell was running are replaced by stand-ins that raise
   ``TimedOutEarlier``, so no later cell or probe waits on them again;
2. right after each grade cell, calls the *probes* of that cell in the same kernel
   (``run_probe``): student functions on inputs the trusted side drew for this run
   (read from ``--probes``, mounted read-only), and saves what they return as plain data
   (``.npz`` without pickles, ``.json``);
3. sends one record per cell and per probe, as it is made, on its original standard
   output (``_Channel``), which student code cannot reach: a crash or a kill keeps what
   was sent, and nothing written later to files of the work folder counts.

    python segcourse_harness.py NOTEBOOK --probes /grader/probes --cell-timeout 60 --interrupt-grace 10

Record kinds, statuses, file names and limits are shared with the trusted side through
``harness_protocol`` (mounted beside this file in the sandbox).
"""

from __future__ import annotations

import json
import os
import stat
import sys
import time

try:        # in the sandbox: mounted beside this file, in /grader (on PYTHONPATH)
    import harness_protocol as protocol
except ModuleNotFoundError:     # loaded from the repository (tests): the package's copy
    from autograder import harness_protocol as protocol

CellStatus, Event, ProbeStatus = protocol.CellStatus, protocol.Event, protocol.ProbeStatus
STARTED_AT = time.time()          # epoch seconds: the "start" record says when the harness started


# --------------------------------------------------------------------------- kernel side
def _error(ename: str, evalue: str) -> dict:
    """What a probe call gives when it raised, or returned something that is not plain data."""
    return {"status": "error", "ename": ename, "evalue": str(evalue)[:500]}


def _encode(value, name, arrays):
    """Plain-data form of a returned value; arrays go to ``arrays``.

    The form itself carries what the value was, so that the trusted side derives types
    from the data rather than from a reported class name: a Python number (``numpy.float64``
    is a float) is a JSON ``number``; a NumPy array or scalar an array under ``numpy``; a
    backend tensor its array under ``tensor``; a list or tuple its array under ``list`` or
    ``tuple``.
    """
    import numpy as np

    described = f"{type(value).__module__}.{type(value).__qualname__}"
    if isinstance(value, (bool, int, float)):
        if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 2 ** 63:
            return _error("OverflowError", "an int too large for 64 bits")
        return {"status": "ok", "number": bool(value) if isinstance(value, bool) else
                (int(value) if isinstance(value, int) else float(value))}
    if isinstance(value, (np.ndarray, np.generic)):
        form = "numpy"
    elif isinstance(value, (list, tuple)):
        form = "list" if isinstance(value, list) else "tuple"
        value = [tuple(v) if isinstance(v, (list, tuple)) else v for v in value]
    elif hasattr(value, "shape"):
        form = "tensor"
        try:
            from keras import ops
            value = ops.convert_to_numpy(value)
        except Exception:
            pass
    else:
        return _error("TypeError", f"returned a {described}, not numbers")
    try:
        array = np.asarray(value)
    except Exception as error:
        return _error("ConversionError", f"cannot convert a {described}: {error}")
    if array.dtype == object or array.dtype.kind not in "biuf":
        return _error("TypeError", f"returned a {described}, not numbers")
    arrays[name] = np.array(array, copy=True, order="C")  # keeps 0-d arrays 0-d
    return {"status": "ok", form: name}


def _encode_json(value, kind):
    """A JSON-able description (lists, tuples, str, int, float, bool) of a returned value."""
    import numpy as np

    def plain(v, depth=0):
        if depth > 6:
            raise TypeError("nested too deeply")
        if isinstance(v, (bool, np.bool_)):
            return bool(v)
        if isinstance(v, (int, np.integer)):
            return int(v)
        if isinstance(v, (float, np.floating)):
            return float(v)
        if isinstance(v, str):
            return v[:200]
        if isinstance(v, (list, tuple)) or (isinstance(v, np.ndarray) and v.ndim == 1):
            return [plain(x, depth + 1) for x in list(v)[:1000]]
        raise TypeError(f"a {type(v).__name__} inside")

    try:
        data = plain(value)
        if len(json.dumps(data)) > 200_000:
            raise TypeError("too large")
    except Exception as error:
        return _error("TypeError", f"cannot describe a {kind}: {error}")
    return {"status": "ok", "json": data}


class _Fake:
    """A callable the grader passes to a student function (a fake classifier / network).

    ``linear``: scores = flattened batch @ weights. ``centre``: one-hot of the centre
    pixel's value (channel 0), per patch. ``positional``: one-hot of
    (int(channel 0) + row * r + col * c) % classes, per pixel. Records the input shapes.
    """

    def __init__(self, spec, inputs):
        self.kind, self.spec, self.shapes = spec.get("kind"), spec, []
        self.weights = inputs[spec["weights"]] if spec.get("weights") else None

    def __call__(self, batch):
        import numpy as np
        batch = np.asarray(batch, dtype=np.float32)
        self.shapes.append([int(v) for v in batch.shape])
        if self.kind == "linear":
            return batch.reshape(len(batch), -1) @ self.weights
        if self.kind == "centre":
            centre = batch[:, batch.shape[1] // 2, batch.shape[2] // 2, 0].astype(int)
            return np.eye(self.spec.get("classes", 4), dtype=np.float32)[centre]
        if self.kind == "positional":
            rows = np.arange(batch.shape[1])[:, None]
            cols = np.arange(batch.shape[2])[None, :]
            cls = (batch[..., 0].astype(int) + self.spec.get("row", 1) * rows + self.spec.get("col", 2) * cols)
            return np.eye(self.spec.get("classes", 5), dtype=np.float32)[cls % self.spec.get("classes", 5)]
        raise ValueError(f"unknown fake {self.kind!r}")


def _model_description(model, call, name, arrays, inputs):
    import keras
    import numpy as np
    from keras import ops

    if not isinstance(model, keras.Model):
        return _error("TypeError", f"returned a {type(model).__name__}, not a keras.Model")
    layers = []
    for layer in model.layers:
        try:
            config = json.loads(json.dumps(layer.get_config(), default=str))
        except Exception:
            config = {}
        layers.append({"class": type(layer).__name__, "module": type(layer).__module__, "config": config})
    result = {"status": "ok", "layers": layers, "params": int(model.count_params())}
    if call.get("weights"):
        try:
            model.set_weights([inputs[w] for w in call["weights"]])
        except Exception as error:
            result["outputs_error"] = f"{type(error).__name__}: {error}"[:500]
            return result
    try:
        out = ops.convert_to_numpy(model(inputs[call["page"]]))
        arrays[name] = np.array(np.asarray(out), copy=True, order="C")
        result["array"] = name
    except Exception as error:
        result["outputs_error"] = f"{type(error).__name__}: {error}"[:500]
    return result


class TimedOutEarlier(RuntimeError):
    """Raised instead of running a notebook function that already ran out of time once."""


def _timed_out_stand_in(name: str):
    def stand_in(*args, **kwargs):
        raise TimedOutEarlier(f"{name} timed out earlier (time limit); it is not called again")
    stand_in.__name__ = stand_in.__qualname__ = name
    return stand_in


def disable_timed_out(namespace: dict, traceback=None) -> list[str]:
    """Replace, in ``namespace``, every notebook function that was running when the time
    limit interrupted the kernel (the frames of ``traceback``, else of the last error) by
    a stand-in that raises ``TimedOutEarlier`` at once. Returns their names."""
    import types

    traceback = traceback if traceback is not None else getattr(sys, "last_traceback", None)
    codes = set()
    while traceback is not None:
        codes.add(traceback.tb_frame.f_code)
        traceback = traceback.tb_next
    names = [name for name, value in list(namespace.items())
             if isinstance(value, types.FunctionType) and value.__code__ in codes]
    for name in names:
        namespace[name] = _timed_out_stand_in(name)
    return names


def run_probe(folder: str, namespace: dict, results_folder: str | None = None) -> None:
    """Call every probe of ``folder/spec.json`` (inputs in ``folder/inputs.npz``) in
    ``namespace`` (the notebook's globals); write ``results.json`` and ``results.npz`` to
    ``results_folder`` (default: ``folder``)."""
    import numpy as np

    with open(os.path.join(folder, protocol.PROBE_SPEC)) as handle:
        spec = json.load(handle)
    with np.load(os.path.join(folder, protocol.PROBE_INPUTS), allow_pickle=False) as data:
        inputs = {key: data[key] for key in data.files}
    results, arrays = {}, {}
    interrupted = False
    for call in spec["calls"]:
        name = call["name"]
        function = namespace.get(call["function"])
        if not callable(function):
            results[name] = {"status": "missing", "evalue": f"{call['function']} is not defined"}
            continue
        try:
            value, fakes = _call(function, call, inputs)
            results[name] = _describe(value, call, name, arrays, inputs)
            if fakes:
                results[name]["fake_calls"] = {k: f.shapes[:10_000] for k, f in fakes.items()}
        except BaseException as error:
            results[name] = _error(type(error).__name__, str(error))
            if isinstance(error, KeyboardInterrupt):
                disable_timed_out(namespace, error.__traceback__)
                interrupted = True
                break
    results_folder = results_folder or folder
    os.makedirs(results_folder, exist_ok=True)
    np.savez(os.path.join(results_folder, protocol.RESULTS_ARRAYS), **arrays)
    with open(os.path.join(results_folder, protocol.RESULTS_JSON), "w") as handle:
        json.dump(results, handle)
    if interrupted:   # the per-cell time limit: let the driver see it
        raise KeyboardInterrupt("time limit")


def _call(function, call: dict, inputs: dict) -> tuple[object, dict]:
    """Call ``function`` as the probe's ``call`` says; (what it returned, the fakes passed
    to it by argument name). Arguments: an input array (a copy), a tuple, a fake, a value."""
    fakes = {}

    def argument(key, a):
        if "array" in a:
            return inputs[a["array"]].copy()
        if "tuple" in a:
            return tuple(a["tuple"])
        if "fake" in a:
            fakes[key] = _Fake(a["fake"], inputs)
            return fakes[key]
        return a.get("value")

    args = [argument(str(i), a) for i, a in enumerate(call.get("args", []))]
    kwargs = {k: argument(k, a) for k, a in call.get("kwargs", {}).items()}
    if call.get("tensor_input"):      # a block of layers: tensor in, tensor out
        import keras
        block_input = keras.Input(tuple(call["tensor_input"]))
        return keras.Model(block_input, function(block_input, *args, **kwargs)), fakes
    return function(*args, **kwargs), fakes


def _describe(value, call: dict, name: str, arrays: dict, inputs: dict) -> dict:
    """The plain-data form of a call's return value, as the call's ``kind`` asks."""
    kind = call.get("kind")
    if kind == "keras_model":
        return _model_description(value, call, name, arrays, inputs)
    if kind == "json":
        return _encode_json(value, f"{type(value).__module__}.{type(value).__qualname__}")
    if kind == "tuple" and isinstance(value, (list, tuple)):
        return {"status": "ok", "items": [_encode(v, f"{name}__{i}", arrays) for i, v in enumerate(list(value)[:8])]}
    return _encode(value, name, arrays)


# --------------------------------------------------------------------------- driver side
def _cap_outputs(cell, limit: int) -> None:
    used = 0
    kept = []
    for output in cell.get("outputs", []):
        size = len(json.dumps(output))
        if used + size > limit:
            import nbformat  # a NotebookNode, not a dict: nbformat.write needs attribute access
            kept.append(nbformat.v4.new_output("stream", name="stdout",
                                               text=f"[... output truncated: more than {limit} bytes ...]\n"))
            break
        used += size
        kept.append(output)
    cell["outputs"] = kept


class _Channel:
    """The results channel: the driver's original standard output, kept on a private file
    descriptor. Each record is one JSON line, written once as it is made; the trusted side
    reads only this stream (never files of the work folder), and takes the first record of
    each cell and probe.

    Student code cannot reach it: the kernel is started with another standard output, and
    the driver makes itself non-dumpable, so processes of the same uid can neither open
    ``/proc/<driver>/fd/*`` nor ptrace it (only a process with CAP_SYS_PTRACE could, and the
    sandbox drops every capability).
    """

    def __init__(self) -> None:
        sys.stdout.flush()
        self.fd = os.dup(1)                     # non-inheritable: no child gets it
        os.dup2(2, 1)                           # the driver's own prints, and children's, go to stderr
        sys.stdout = sys.stderr
        self.protected = _make_non_dumpable()

    def send(self, record: dict) -> None:
        data = (json.dumps(record, allow_nan=True) + "\n").encode()
        view = memoryview(data)
        while view:
            view = view[os.write(self.fd, view):]


def _make_non_dumpable() -> bool:
    """prctl(PR_SET_DUMPABLE, 0): same-uid processes can no longer read our fds or memory."""
    try:
        import ctypes
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(4, 0, 0, 0, 0) == 0       # 4 = PR_SET_DUMPABLE
    except (OSError, AttributeError):              # not Linux
        return False


def _read_results(folder: str, limit: int) -> tuple[dict, str]:
    """The kernel's results for one probe, as sent on: parsed JSON, npz bytes in base64."""
    import base64

    def read(name: str) -> bytes:
        # no links followed, and a FIFO planted by student code cannot block the driver
        fd = os.open(os.path.join(folder, name), os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
        with os.fdopen(fd, "rb") as handle:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                raise ValueError(f"{name} is not a regular file")
            data = handle.read(limit + 1)
        if len(data) > limit:
            raise ValueError(f"{name} is larger than {limit} bytes")
        return data

    meta = json.loads(read(protocol.RESULTS_JSON))
    if not isinstance(meta, dict):
        raise ValueError(f"{protocol.RESULTS_JSON} is not a JSON object")
    return meta, base64.b64encode(read(protocol.RESULTS_ARRAYS)).decode("ascii")


class KernelIgnoredInterrupt(RuntimeError):
    """The kernel did not stop within the grace period after the time-limit interrupt."""


def _grading_client_class():
    import asyncio

    from jupyter_core.utils import ensure_async
    from nbclient import NotebookClient
    from nbclient.exceptions import DeadKernelError

    class GradingClient(NotebookClient):
        """nbclient, except at a cell's time limit: interrupt once, wait ``interrupt_grace``
        seconds for the cell to stop, else kill the kernel (stock nbclient re-sends the
        interrupt every time limit, so a cell that ignores SIGINT holds the notebook)."""

        interrupt_grace: float          # seconds; set from --interrupt-grace

        async def _async_handle_timeout(self, timeout, cell=None):
            await ensure_async(self.km.interrupt_kernel())
            deadline = time.monotonic() + self.interrupt_grace
            while time.monotonic() < deadline:
                if await ensure_async(self.kc.shell_channel.msg_ready()):
                    return None                     # the cell stopped: its reply is waiting
                if not await ensure_async(self.kc.is_alive()):
                    raise DeadKernelError("Kernel died")
                await asyncio.sleep(0.1)
            await ensure_async(self.km.shutdown_kernel(now=True))
            raise KernelIgnoredInterrupt(
                f"the cell ran past the {timeout} s time limit and ignored the interrupt for "
                f"{self.interrupt_grace:g} s, so the kernel was stopped")

    return GradingClient


class _ForkedKernel:
    """The kernel in waiting that the warm-kernel server forked beside this harness
    (``kernel_forkserver.py``): it already imported TensorFlow, and becomes the kernel
    when it is sent the kernel's command line. It is this process's child, so it is
    watched, interrupted and killed as jupyter_client does a ``Popen``."""

    stdin = stdout = stderr = None

    def __init__(self, announced: str):
        fd, pid = announced.split(":")
        self.go_fd, self.pid, self.returncode = int(fd), int(pid), None

    def start(self, argv: list[str], env: dict, cwd: str) -> None:
        data = json.dumps({"argv": list(argv), "env": dict(env), "cwd": str(cwd)}).encode()
        with os.fdopen(self.go_fd, "wb") as pipe:
            pipe.write(data)

    def poll(self):
        if self.returncode is None:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                self.returncode = os.waitstatus_to_exitcode(status)
        return self.returncode

    def wait(self, timeout=None):
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.poll() is None:
            if deadline is not None and time.monotonic() > deadline:
                raise TimeoutError(f"kernel {self.pid} still running")
            time.sleep(0.05)
        return self.returncode

    def send_signal(self, signum: int) -> None:
        if self.poll() is None:
            os.kill(self.pid, signum)

    def kill(self) -> None:
        import signal
        self.send_signal(signal.SIGKILL)

    def terminate(self) -> None:
        import signal
        self.send_signal(signal.SIGTERM)


def _forked_kernel_manager_class(forked: _ForkedKernel):
    """A jupyter_client kernel manager that starts ``forked`` instead of a new process."""
    from jupyter_client.manager import AsyncKernelManager

    class ForkedKernelManager(AsyncKernelManager):
        async def _async_launch_kernel(self, kernel_cmd, **kw):
            forked.start(kernel_cmd, kw.get("env") or os.environ, kw.get("cwd") or os.getcwd())
            provisioner = self.provisioner         # as LocalProvisioner.launch_kernel leaves it
            provisioner.process, provisioner.pid, provisioner.pgid = forked, forked.pid, forked.pid
            provisioner.cwd = kw.get("cwd")
            self._reconcile_connection_info(provisioner.connection_info)

    return ForkedKernelManager


def _interrupted(cell) -> bool:
    return any(o.get("ename") == "KeyboardInterrupt" for o in cell.get("outputs", []))


def _parse_args(argv: list[str]):
    import argparse

    parser = argparse.ArgumentParser(description="Run a notebook and its probes; send the records on stdout.")
    parser.add_argument("notebook")
    parser.add_argument("--probes", default=os.path.join(protocol.STATE_DIR, "probes"),
                        help="folder of the probes (spec.json + inputs.npz each); may be read-only")
    # The trusted side always passes both limits (autograder.course.CELL_TIMEOUT_S, INTERRUPT_GRACE_S).
    parser.add_argument("--cell-timeout", type=int, required=True, help="seconds a cell may run")
    parser.add_argument("--interrupt-grace", type=float, required=True,
                        help="seconds an interrupted cell has to stop before its kernel is killed")
    parser.add_argument("--output-bytes", type=int, default=protocol.MAX_CELL_OUTPUT_BYTES)
    parser.add_argument("--result-bytes", type=int, default=protocol.MAX_RESULT_BYTES)
    return parser.parse_args(argv)


def _load_probes(folder: str) -> dict[str, tuple[str, set[str]]]:
    """grade_id -> (the probe's folder, the notebook functions its calls need)."""
    probes = {}
    for name in sorted(os.listdir(folder)):
        with open(os.path.join(folder, name, protocol.PROBE_SPEC)) as handle:
            spec = json.load(handle)
        probes[spec["grade_id"]] = (os.path.abspath(os.path.join(folder, name)),
                                    {call["function"] for call in spec["calls"]})
    return probes


def _harness_cell(statement: str):
    """A code cell that runs ``statement`` in the kernel, with this module imported as
    ``__segcourse_harness`` (and removed again from the notebook's namespace)."""
    import nbformat
    return nbformat.v4.new_code_cell(
        f"import {protocol.HARNESS_MODULE} as __segcourse_harness\n{statement}\ndel __segcourse_harness")


def _probe_results(probe_cell, folder: str, limit: int) -> dict:
    """What a probe that ran wrote (status ``ran``), or why there is nothing to read."""
    try:
        meta, arrays = _read_results(folder, limit)
        return {"meta": meta, "arrays": arrays, "status": ProbeStatus.RAN}
    except (OSError, ValueError) as error:
        failure = next((o for o in probe_cell.get("outputs", []) if o.get("output_type") == "error"), {})
        why = f"{failure.get('ename', '')}: {failure.get('evalue', '')}" if failure else \
            f"no results ({type(error).__name__})"
        return {"status": f"{ProbeStatus.FAILED}: {why}"[:300]}


class _Driver:
    """Runs the notebook's code cells, and each grade cell's probe right after it, in one
    kernel; sends a record for each on the channel."""

    def __init__(self, notebook, args, channel: _Channel):
        self.notebook, self.args, self.channel = notebook, args, channel
        self.probes = _load_probes(args.probes)
        self.results_root = os.path.abspath(os.path.join(protocol.STATE_DIR, "results"))
        self.timed_out: set[str] = set()            # notebook functions disabled after a time limit
        # Under the warm-kernel sandbox a kernel is waiting, forked with its imports done.
        forked = os.environ.pop(protocol.FORKED_KERNEL_ENV, None)
        managers = {"kernel_manager_class": _forked_kernel_manager_class(_ForkedKernel(forked))} if forked else {}
        self.client = _grading_client_class()(
            notebook, timeout=args.cell_timeout, interrupt_on_timeout=True, allow_errors=True, **managers,
            kernel_name="python3", resources={"metadata": {"path": os.getcwd()}},
            shutdown_kernel="immediate",   # no graceful wait: the sandbox is torn down right after
            extra_arguments=["--HistoryManager.hist_file=:memory:", "--IPKernelApp.log_level=ERROR"],
        )
        self.client.interrupt_grace = args.interrupt_grace
        self.client.record_timing = False

    def run(self, cell, index: int) -> str:
        """Execute one cell; its ``CellStatus``."""
        import nbformat
        from nbclient.exceptions import CellTimeoutError, DeadKernelError

        try:
            self.client.execute_cell(cell, index)
        except DeadKernelError:
            return CellStatus.DEAD
        except (KernelIgnoredInterrupt, CellTimeoutError, TimeoutError, RuntimeError) as error:
            cell.setdefault("outputs", []).append(nbformat.v4.new_output(
                "error", ename=protocol.TIME_LIMIT_ERROR, evalue=str(error)[:300], traceback=[]))
            return CellStatus.STUCK
        if _interrupted(cell):
            return CellStatus.TIMEOUT
        failed = any(o.get("output_type") == "error" for o in cell.get("outputs", []))
        return CellStatus.ERROR if failed else CellStatus.OK

    def run_notebook(self) -> bool:
        """Every code cell and probe, in order; False when the kernel died or was killed."""
        for index, cell in enumerate(self.notebook.cells):
            if cell.cell_type != "code":
                continue
            started = time.perf_counter()
            status = self.run(cell, index)
            _cap_outputs(cell, self.args.output_bytes)
            self.channel.send({"event": Event.CELL, "index": index, "id": cell.get("id"), "status": status,
                               "seconds": round(time.perf_counter() - started, 2), "outputs": cell.get("outputs", [])})
            if status in CellStatus.ENDS_NOTEBOOK:
                return False
            if status == CellStatus.TIMEOUT:
                self.disable_after_timeout(index)
            grade_id = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
            if grade_id in self.probes:
                record = self.probe(grade_id, index)
                self.channel.send(record)
                if record["status"] in CellStatus.ENDS_NOTEBOOK:
                    return False
        return True

    def disable_after_timeout(self, index: int) -> None:
        """The functions the interrupted cell was running are never called again."""
        cell = _harness_cell("print(*__segcourse_harness.disable_timed_out(globals()))")
        if self.run(cell, index) == CellStatus.OK:
            text = "".join(o.get("text", "") for o in cell.outputs if o.get("output_type") == "stream")
            self.timed_out.update(text.split())

    def probe(self, grade_id: str, index: int) -> dict:
        """Call the grade cell's probe in the kernel; its record."""
        folder, needs = self.probes[grade_id]
        record = {"event": Event.PROBE, "grade_id": grade_id}
        if needs & self.timed_out:
            return {**record, "status": ProbeStatus.TIMEOUT_EARLIER, "functions": sorted(needs & self.timed_out)}
        results = os.path.join(self.results_root, os.path.basename(folder))
        probe_cell = _harness_cell(f"__segcourse_harness.run_probe({folder!r}, globals(), {results!r})")
        started = time.perf_counter()
        status = self.run(probe_cell, index)
        record["seconds"] = round(time.perf_counter() - started, 2)
        if status in CellStatus.ENDS_NOTEBOOK:
            record["status"] = status
        elif status == CellStatus.TIMEOUT:
            record["status"] = ProbeStatus.TIMEOUT
            self.timed_out.update(needs)
        else:
            record.update(_probe_results(probe_cell, results, self.args.result_bytes))
        return record


def main(argv: list[str]) -> int:
    channel = _Channel()
    # jsonschema (imported by nbformat) builds an Earley parser of IRI syntax at import when
    # the optional package rfc3987_syntax is installed: 3-7 s of CPU per submission, for a
    # format check that notebook validation never uses.
    sys.modules.setdefault("rfc3987_syntax", None)
    import nbformat

    args = _parse_args(argv)
    channel.send({"event": Event.START, "started": STARTED_AT, "protected": channel.protected})
    driver = _Driver(nbformat.read(args.notebook, as_version=4), args, channel)
    # The kernel writes its own stdout/stderr (not the cells' outputs) to /dev/null: never the channel.
    devnull = open(os.devnull, "wb")
    with devnull, driver.client.setup_kernel(stdout=devnull, stderr=devnull):
        channel.send({"event": Event.KERNEL_READY, "at": time.time()})
        if driver.run_notebook():
            channel.send({"event": Event.FINISHED, "at": time.time()})
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
