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

    python segcourse_harness.py NOTEBOOK --probes /grader/probes --cell-timeout 30
"""

from __future__ import annotations

import json
import os
import stat
import sys
import time

STATE_DIR = ".segcourse"          # results/ (written by the kernel, read by the driver) in the work folder
STARTED_AT = time.time()          # epoch seconds: the "start" record says when the harness started


# --------------------------------------------------------------------------- kernel side
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
            return {"status": "error", "ename": "OverflowError", "evalue": "an int too large for 64 bits"}
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
        return {"status": "error", "ename": "TypeError", "evalue": f"returned a {described}, not numbers"[:500]}
    try:
        array = np.asarray(value)
    except Exception as error:
        return {"status": "error", "ename": "ConversionError", "evalue": f"cannot convert a {described}: {error}"[:500]}
    if array.dtype == object or array.dtype.kind not in "biuf":
        return {"status": "error", "ename": "TypeError", "evalue": f"returned a {described}, not numbers"[:500]}
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
        return {"status": "error", "ename": "TypeError", "evalue": f"cannot describe a {kind}: {error}"[:500]}
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
        return {"status": "error", "ename": "TypeError",
                "evalue": f"returned a {type(model).__name__}, not a keras.Model"}
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

    with open(os.path.join(folder, "spec.json")) as handle:
        spec = json.load(handle)
    with np.load(os.path.join(folder, "inputs.npz"), allow_pickle=False) as data:
        inputs = {key: data[key] for key in data.files}
    results, arrays = {}, {}
    interrupted = False
    for call in spec["calls"]:
        name = call["name"]
        function = namespace.get(call["function"])
        if not callable(function):
            results[name] = {"status": "missing", "evalue": f"{call['function']} is not defined"}
            continue
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

        try:
            args = [argument(str(i), a) for i, a in enumerate(call.get("args", []))]
            kwargs = {k: argument(k, a) for k, a in call.get("kwargs", {}).items()}
            if call.get("tensor_input"):      # a block of layers: tensor in, tensor out
                import keras
                block_input = keras.Input(tuple(call["tensor_input"]))
                value = keras.Model(block_input, function(block_input, *args, **kwargs))
            else:
                value = function(*args, **kwargs)
            if call.get("kind") == "keras_model":
                results[name] = _model_description(value, call, name, arrays, inputs)
            elif call.get("kind") == "json":
                results[name] = _encode_json(value, f"{type(value).__module__}.{type(value).__qualname__}")
            elif call.get("kind") == "tuple" and isinstance(value, (list, tuple)):
                items = [_encode(v, f"{name}__{i}", arrays) for i, v in enumerate(list(value)[:8])]
                results[name] = {"status": "ok", "items": items}
            else:
                results[name] = _encode(value, name, arrays)
            if fakes:
                results[name]["fake_calls"] = {k: f.shapes[:10_000] for k, f in fakes.items()}
        except BaseException as error:
            results[name] = {"status": "error", "ename": type(error).__name__, "evalue": str(error)[:500]}
            if isinstance(error, KeyboardInterrupt):
                disable_timed_out(namespace, error.__traceback__)
                interrupted = True
                break
    results_folder = results_folder or folder
    os.makedirs(results_folder, exist_ok=True)
    np.savez(os.path.join(results_folder, "results.npz"), **arrays)
    with open(os.path.join(results_folder, "results.json"), "w") as handle:
        json.dump(results, handle)
    if interrupted:   # the per-cell time limit: let the driver see it
        raise KeyboardInterrupt("time limit")


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

    meta = json.loads(read("results.json"))
    if not isinstance(meta, dict):
        raise ValueError("results.json is not a JSON object")
    return meta, base64.b64encode(read("results.npz")).decode("ascii")


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

        interrupt_grace = 10.0

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


def _interrupted(cell) -> bool:
    return any(o.get("ename") == "KeyboardInterrupt" for o in cell.get("outputs", []))


def main(argv: list[str]) -> int:
    import argparse

    channel = _Channel()
    # jsonschema (imported by nbformat) builds an Earley parser of IRI syntax at import when
    # the optional package rfc3987_syntax is installed: 3-7 s of CPU per submission, for a
    # format check that notebook validation never uses.
    sys.modules.setdefault("rfc3987_syntax", None)
    import nbformat
    from nbclient.exceptions import CellTimeoutError, DeadKernelError

    parser = argparse.ArgumentParser()
    parser.add_argument("notebook")
    parser.add_argument("--probes", default=os.path.join(STATE_DIR, "probes"),
                        help="folder of the probes (spec.json + inputs.npz each); may be read-only")
    parser.add_argument("--cell-timeout", type=int, default=30)
    parser.add_argument("--interrupt-grace", type=float, default=10.0)
    parser.add_argument("--output-bytes", type=int, default=100_000)
    parser.add_argument("--result-bytes", type=int, default=50 * 1024 * 1024)
    args = parser.parse_args(argv)

    channel.send({"event": "start", "started": STARTED_AT, "protected": channel.protected})
    results_root = os.path.abspath(os.path.join(STATE_DIR, "results"))
    notebook = nbformat.read(args.notebook, as_version=4)
    probes = {}
    for name in sorted(os.listdir(args.probes)):
        with open(os.path.join(args.probes, name, "spec.json")) as handle:
            spec = json.load(handle)
        probes[spec["grade_id"]] = (os.path.abspath(os.path.join(args.probes, name)),
                                    {call["function"] for call in spec["calls"]})
    timed_out: set[str] = set()             # notebook functions disabled after a time limit

    GradingClient = _grading_client_class()
    client = GradingClient(
        notebook, timeout=args.cell_timeout, interrupt_on_timeout=True, allow_errors=True,
        kernel_name="python3", resources={"metadata": {"path": os.getcwd()}},
        shutdown_kernel="immediate",   # no graceful wait: the sandbox is torn down right after
        extra_arguments=["--HistoryManager.hist_file=:memory:", "--IPKernelApp.log_level=ERROR"],
    )
    client.interrupt_grace = args.interrupt_grace
    client.record_timing = False

    def run(cell, index) -> str:
        """Execute one cell; its status: ok, error, timeout, dead or stuck."""
        try:
            client.execute_cell(cell, index)
        except DeadKernelError:
            return "dead"
        except (KernelIgnoredInterrupt, CellTimeoutError, TimeoutError, RuntimeError) as error:
            cell.setdefault("outputs", []).append(nbformat.v4.new_output(
                "error", ename="TimeLimit", evalue=str(error)[:300], traceback=[]))
            return "stuck"
        if _interrupted(cell):
            return "timeout"
        return "error" if any(o.get("output_type") == "error" for o in cell.get("outputs", [])) else "ok"

    def disable_after_timeout(index) -> None:
        """The functions the interrupted cell was running are never called again."""
        cell = nbformat.v4.new_code_cell(
            "import segcourse_harness as __segcourse_harness\n"
            "print(*__segcourse_harness.disable_timed_out(globals()))\n"
            "del __segcourse_harness")
        if run(cell, index) == "ok":
            text = "".join(o.get("text", "") for o in cell.outputs if o.get("output_type") == "stream")
            timed_out.update(text.split())

    # The kernel writes its own stdout/stderr (not the cells' outputs) to /dev/null: never the channel.
    devnull = open(os.devnull, "wb")
    with devnull, client.setup_kernel(stdout=devnull, stderr=devnull):
        channel.send({"event": "kernel_ready", "at": time.time()})
        for index, cell in enumerate(notebook.cells):
            if cell.cell_type != "code":
                continue
            started = time.perf_counter()
            status = run(cell, index)
            _cap_outputs(cell, args.output_bytes)
            channel.send({"event": "cell", "index": index, "id": cell.get("id"), "status": status,
                          "seconds": round(time.perf_counter() - started, 2), "outputs": cell.get("outputs", [])})
            if status in ("dead", "stuck"):
                return 0
            if status == "timeout":
                disable_after_timeout(index)
            grade_id = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
            if grade_id not in probes:
                continue
            folder, needs = probes[grade_id]
            record = {"event": "probe", "grade_id": grade_id}
            if needs & timed_out:
                record["status"] = "timeout_earlier"
                record["functions"] = sorted(needs & timed_out)
                channel.send(record)
                continue
            results = os.path.join(results_root, os.path.basename(folder))
            probe_cell = nbformat.v4.new_code_cell(
                "import segcourse_harness as __segcourse_harness\n"
                f"__segcourse_harness.run_probe({folder!r}, globals(), {results!r})\n"
                "del __segcourse_harness")
            probe_started = time.perf_counter()
            status = run(probe_cell, index)
            record["seconds"] = round(time.perf_counter() - probe_started, 2)
            if status in ("dead", "stuck"):
                record["status"] = status
            elif status == "timeout":
                record["status"] = "timeout"
                timed_out.update(needs)
            else:
                try:
                    record["meta"], record["arrays"] = _read_results(results, args.result_bytes)
                    record["status"] = "ran"
                except (OSError, ValueError) as error:
                    failure = next((o for o in probe_cell.get("outputs", []) if o.get("output_type") == "error"), {})
                    record["status"] = (f"failed: {failure.get('ename', '')}: {failure.get('evalue', '')}"
                                        if failure else f"failed: no results ({type(error).__name__})")[:300]
            channel.send(record)
            if status in ("dead", "stuck"):
                return 0
        channel.send({"event": "finished", "at": time.time()})
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
