"""The grading harness that runs INSIDE the sandbox (untrusted zone).

It is copied into the sandbox on its own (as ``segcourse_harness.py``) and must never
import ``autograder``. It holds no reference answer and decides no score: it only

1. executes the notebook it is given (the release notebook with the student's solution
   cells; hidden tests were never in it) cell by cell with nbclient, with a per-cell
   time limit, recording outputs for the student's feedback;
2. right after each grade cell, calls the *probes* of that cell in the same kernel
   (``run_probe``): student functions on inputs the trusted side drew for this run, and
   saves what they return as plain data (``.npz`` without pickles, ``.json``);
3. writes ``status.json`` after every cell, so that a crash or a kill keeps what ran.

    python segcourse_harness.py NOTEBOOK --cell-timeout 30 --output-bytes 100000
"""

from __future__ import annotations

import json
import os
import sys
import time

STATE_DIR = ".segcourse"          # probes/, results/, status.json, executed.ipynb (in the work folder)
STARTED_AT = time.time()          # epoch seconds: the status's "timing" says where the time went


# --------------------------------------------------------------------------- kernel side
def _encode(value, name, arrays):
    """Plain-data description of a returned value; arrays go to ``arrays``."""
    import numpy as np

    kind = f"{type(value).__module__}.{type(value).__qualname__}"
    if hasattr(value, "shape") and not isinstance(value, np.ndarray) and not isinstance(value, np.generic):
        try:
            from keras import ops
            value = ops.convert_to_numpy(value)
        except Exception:
            pass
    if isinstance(value, (list, tuple)):
        value = [tuple(v) if isinstance(v, (list, tuple)) else v for v in value]
    try:
        array = np.asarray(value)
    except Exception as error:
        return {"status": "error", "ename": "ConversionError", "evalue": f"cannot convert a {kind}: {error}"[:500]}
    if array.dtype == object or array.dtype.kind not in "biuf":
        return {"status": "error", "ename": "TypeError", "evalue": f"returned a {kind}, not numbers"}
    arrays[name] = np.array(array, copy=True, order="C")  # keeps 0-d arrays 0-d
    return {"status": "ok", "type": kind, "array": name}


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
    return {"status": "ok", "type": kind, "json": data}


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
    import numpy as np
    import keras
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
    result = {"status": "ok", "type": "keras.Model", "layers": layers, "params": int(model.count_params())}
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


def run_probe(folder: str, namespace: dict) -> None:
    """Call every probe of ``folder/spec.json`` in ``namespace`` (the notebook's globals)."""
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
                results[name] = {"status": "ok", "type": f"{type(value).__module__}.{type(value).__qualname__}",
                                 "items": items}
            else:
                results[name] = _encode(value, name, arrays)
            if fakes:
                results[name]["fake_calls"] = {k: f.shapes[:10_000] for k, f in fakes.items()}
        except BaseException as error:  # noqa: BLE001 - SystemExit, KeyboardInterrupt included
            results[name] = {"status": "error", "ename": type(error).__name__, "evalue": str(error)[:500]}
            if isinstance(error, KeyboardInterrupt):
                interrupted = True
                break
    np.savez(os.path.join(folder, "results.npz"), **arrays)
    with open(os.path.join(folder, "results.json"), "w") as handle:
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
            import nbformat   # a NotebookNode, not a dict: nbformat.write needs attribute access
            kept.append(nbformat.v4.new_output("stream", name="stdout",
                                               text=f"[... output truncated: more than {limit} bytes ...]\n"))
            break
        used += size
        kept.append(output)
    cell["outputs"] = kept


def main(argv: list[str]) -> int:
    import argparse

    # jsonschema (imported by nbformat) builds an Earley parser of IRI syntax at import when
    # the optional package rfc3987_syntax is installed: 3-7 s of CPU per submission, for a
    # format check that notebook validation never uses.
    sys.modules.setdefault("rfc3987_syntax", None)
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellTimeoutError, DeadKernelError

    parser = argparse.ArgumentParser()
    parser.add_argument("notebook")
    parser.add_argument("--cell-timeout", type=int, default=30)
    parser.add_argument("--output-bytes", type=int, default=100_000)
    args = parser.parse_args(argv)

    state = os.path.abspath(STATE_DIR)
    notebook = nbformat.read(args.notebook, as_version=4)
    probes = {}
    for name in sorted(os.listdir(os.path.join(state, "probes"))):
        with open(os.path.join(state, "probes", name, "spec.json")) as handle:
            probes[json.load(handle)["grade_id"]] = os.path.join(state, "probes", name)
    timed_out_functions: set[str] = set()
    status = {"cells": {}, "probes": {}, "dead_at": None, "stuck_at": None, "finished": False,
              "timing": {"harness_started": STARTED_AT}}

    def save() -> None:
        with open(os.path.join(state, "status.json.tmp"), "w") as handle:
            json.dump(status, handle)
        os.replace(os.path.join(state, "status.json.tmp"), os.path.join(state, "status.json"))
        nbformat.write(notebook, os.path.join(state, "executed.ipynb.tmp"))
        os.replace(os.path.join(state, "executed.ipynb.tmp"), os.path.join(state, "executed.ipynb"))

    client = NotebookClient(
        notebook, timeout=args.cell_timeout, interrupt_on_timeout=True, allow_errors=True,
        kernel_name="python3", resources={"metadata": {"path": os.getcwd()}},
        shutdown_kernel="immediate",   # no graceful wait: the sandbox is torn down right after
        extra_arguments=["--HistoryManager.hist_file=:memory:", "--IPKernelApp.log_level=ERROR"],
    )
    client.record_timing = False
    save()
    with client.setup_kernel():
        status["timing"]["kernel_ready"] = time.time()
        for index, cell in enumerate(notebook.cells):
            if cell.cell_type != "code":
                continue
            started = time.perf_counter()
            try:
                client.execute_cell(cell, index)
                errored = any(o.get("output_type") == "error" for o in cell.get("outputs", []))
                timed_out = any(o.get("ename") == "KeyboardInterrupt" for o in cell.get("outputs", []))
                status["cells"][str(index)] = "timeout" if timed_out else ("error" if errored else "ok")
            except DeadKernelError:
                status["cells"][str(index)] = "dead"
                status["dead_at"] = index
            except (CellTimeoutError, TimeoutError, RuntimeError) as error:
                status["cells"][str(index)] = "stuck"
                status["stuck_at"] = index
                status["stuck_reason"] = str(error)[:300]
            _cap_outputs(cell, args.output_bytes)
            status.setdefault("seconds", {})[str(index)] = round(time.perf_counter() - started, 2)
            if status["dead_at"] is not None or status["stuck_at"] is not None:
                break
            grade_id = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
            if grade_id in probes:
                folder = probes[grade_id]
                with open(os.path.join(folder, "spec.json")) as handle:
                    needs = {call["function"] for call in json.load(handle)["calls"]}
                if needs & timed_out_functions:      # it already ran out of time once
                    status["probes"][grade_id] = "timeout"
                    save()
                    continue
                for stale in ("results.json", "results.npz"):   # planted by student code?
                    if os.path.lexists(os.path.join(folder, stale)):
                        os.remove(os.path.join(folder, stale))
                probe_cell = nbformat.v4.new_code_cell(
                    "import segcourse_harness as __segcourse_harness\n"
                    f"__segcourse_harness.run_probe({folder!r}, globals())\n"
                    "del __segcourse_harness")
                probe_started = time.perf_counter()
                try:
                    client.execute_cell(probe_cell, index)
                    status.setdefault("probe_seconds", {})[grade_id] = round(time.perf_counter() - probe_started, 2)
                    outputs = probe_cell.get("outputs", [])
                    if any(o.get("ename") == "KeyboardInterrupt" for o in outputs):
                        status["probes"][grade_id] = "timeout"
                        timed_out_functions.update(needs)
                    elif os.path.exists(os.path.join(folder, "results.json")):
                        status["probes"][grade_id] = "ran"
                    else:
                        error = next((o for o in outputs if o.get("output_type") == "error"), {})
                        status["probes"][grade_id] = f"failed: {error.get('ename', '')}: {error.get('evalue', '')}"[:300]
                except DeadKernelError:
                    status["probes"][grade_id] = "dead"
                    status["dead_at"] = index
                except (CellTimeoutError, TimeoutError, RuntimeError) as error:
                    status["probes"][grade_id] = "stuck"
                    status["stuck_at"] = index
                    status["stuck_reason"] = str(error)[:300]
            save()
            if status["dead_at"] is not None or status["stuck_at"] is not None:
                break
        else:
            status["finished"] = True
        status["timing"]["cells_done"] = time.time()
        save()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
