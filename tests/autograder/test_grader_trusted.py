"""The trusted side without a sandbox: sanitizing submissions, the reference checks."""

from __future__ import annotations

import json

import numpy as np
import pytest

from autograder.references import Fail, Results, load_checks
from autograder.references.fcn_basics import fcn_forward, fcn_weights
from autograder.trusted import NotGradable, rebuild_submission, verdict_outputs
from tests import REPO_ROOT

RELEASE = REPO_ROOT / "exercises/fcn_basics/fcn_basics.ipynb"


@pytest.mark.parametrize("content, reason", [
    (b"\xff\xfe{", "not UTF-8"),
    (b'{"cells": [', "not valid JSON"),
    (b'{"nbformat": 5, "cells": []}', "unsupported notebook format 5"),
    (b"[1, 2]", "not a Jupyter notebook"),
])
def test_unreadable_submissions_are_not_gradable(tmp_path, content, reason):
    path = tmp_path / "nb.ipynb"
    path.write_bytes(content)
    with pytest.raises(NotGradable, match=reason):
        rebuild_submission(RELEASE, path)


def test_tests_always_come_from_the_release(tmp_path):
    release = json.loads(RELEASE.read_text())
    student = json.loads(RELEASE.read_text())
    for cell in student["cells"]:
        meta = cell["metadata"].get("nbgrader", {})
        if meta.get("grade_id") == "multi_label":
            cell["source"] = "def multi_label_mask(a, b):\n    return 1.0\n"
        elif meta.get("grade"):
            cell["source"] = "pass"
            meta["points"] = 99
    answer_cell = next(c for c in student["cells"]
                       if c["metadata"].get("nbgrader", {}).get("grade_id") == "multi_label")
    student["cells"].append(dict(answer_cell, id="dup", source="second copy"))   # duplicate grade_id
    student["cells"].append({"cell_type": "code", "id": "mine", "metadata": {}, "source": "helper = 1",
                             "outputs": [], "execution_count": None})
    path = tmp_path / "nb.ipynb"
    path.write_text(json.dumps(student))
    built = rebuild_submission(RELEASE, path)
    originals = {c["id"]: c for c in release["cells"]}
    for cell in built.cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("grade"):
            original = originals[cell.id]
            assert cell.source == "".join(original["source"])
            assert meta["points"] == original["metadata"]["nbgrader"]["points"]
    sources = [c.source for c in built.cells]
    assert "def multi_label_mask(a, b):\n    return 1.0\n" in sources and "second copy" not in sources
    # the student's own cell stays where it was: after the last release cell before it (here: an answer copy)
    answer_at = next(i for i, c in enumerate(built.cells)
                     if c.metadata.get("nbgrader", {}).get("grade_id") == "multi_label")
    assert sources[answer_at + 1] == "helper = 1"


def test_numpy_reference_fcn_matches_keras():
    keras = pytest.importorskip("keras")
    rng = np.random.default_rng(0)
    weights = fcn_weights(rng, 3)
    layers = keras.layers
    model = keras.Sequential([
        keras.Input(shape=(None, None, 1)),
        layers.Conv2D(40, 3, padding="same", activation="relu"), layers.MaxPooling2D(2),
        layers.Conv2D(40, 4, padding="same", activation="relu"), layers.MaxPooling2D(2),
        layers.Conv2D(80, 4, padding="same", activation="relu"), layers.MaxPooling2D(2),
        layers.UpSampling2D(8), layers.Conv2D(3, 1, activation="softmax")])
    model.set_weights(weights)
    page = (rng.random((2, 48, 80, 1)) < 0.3).astype("float32")
    assert np.allclose(keras.ops.convert_to_numpy(model(page)), fcn_forward(page, weights), atol=1e-4)


def _results(probe, values: dict, hidden: bool):
    meta, arrays = {}, {}
    for name, (kind, value) in values.items():
        meta[name] = {"status": "ok", "type": kind, "array": name}
        arrays[name] = np.asarray(value)
    return Results(meta, arrays, hidden)


def test_exact_type_checks_and_hidden_messages():
    checks = load_checks("losses_metrics")      # Dice, checked for an exact float
    probe = checks["test_dice_hidden"](np.random.default_rng(1))
    # a float subclass that claims equality, or a numpy array instead of a float: fail
    fake = {c.name: ("__main__._Yes", 0.1) for c in probe.calls}
    with pytest.raises(Fail) as failure:
        probe.judge(_results(probe, fake, hidden=True))
    assert "float" in str(failure.value)
    error = Results({"empty": {"status": "error", "ename": "ValueError", "evalue": "expected 0.123"}}, {}, True)
    with pytest.raises(Fail) as failure:
        error.entry("empty", "dice_coefficient")
    assert "0.123" not in str(failure.value), "hidden checks never echo values"


def test_verdict_outputs_are_what_nbgrader_scores():
    assert verdict_outputs({"passed": True, "message": "ok"})[0]["output_type"] == "stream"
    failed = verdict_outputs({"passed": False, "message": "wrong"})
    assert failed[0]["output_type"] == "error" and failed[0]["evalue"] == "wrong"


def test_stripped_or_schema_changed_cells_come_from_the_release(tmp_path):        # rows 3, 32
    """A test cell stripped of its nbgrader metadata (body replaced), and cells claiming a
    metadata schema nbgrader does not know: the release's cells and flags are graded."""
    release = json.loads(RELEASE.read_text())
    student = json.loads(RELEASE.read_text())
    for cell in student["cells"]:
        meta = cell["metadata"].get("nbgrader", {})
        if meta.get("grade_id") == "test_multi_label_visible":
            cell["metadata"] = {}
            cell["source"] = "print('all tests passed')"
        elif meta:
            meta["schema_version"] = 99 if meta.get("grade") else 0
    path = tmp_path / "nb.ipynb"
    path.write_text(json.dumps(student))
    built = rebuild_submission(RELEASE, path)
    release_meta = [c["metadata"].get("nbgrader") for c in release["cells"]]
    assert [c.metadata.get("nbgrader") for c in built.cells] == release_meta
    visible = next(c for c in built.cells
                   if c.metadata.get("nbgrader", {}).get("grade_id") == "test_multi_label_visible")
    assert "all tests passed" not in visible.source
    assert "all tests passed" not in [c.source for c in built.cells]


class _Payload:
    """Unpickling this object would create a file (code execution on the trusted side)."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (str(self.marker), "w"))


def test_pickled_results_are_never_unpickled(tmp_path):                            # row 36
    import base64
    import io

    from autograder.trusted import judge_submission, read_channel, write_probes

    notebook = rebuild_submission(RELEASE, RELEASE)
    probes = write_probes("fcn_basics", notebook, tmp_path / "probes", seed=3)
    marker = tmp_path / "unpickled"
    records = [{"event": "start"}]
    for folder in (tmp_path / "probes").iterdir():
        spec = json.loads((folder / "spec.json").read_text())
        names = [call["name"] for call in spec["calls"]]
        payload = np.empty(1, dtype=object)
        payload[0] = _Payload(marker)
        buffer = io.BytesIO()
        np.savez(buffer, **{name: payload for name in names})   # pickled object arrays
        records.append({"event": "probe", "grade_id": spec["grade_id"], "status": "ran",
                        "meta": {name: {"status": "ok", "numpy": name} for name in names},
                        "arrays": base64.b64encode(buffer.getvalue()).decode()})
    records.append({"event": "finished"})
    points = {g: 1.0 for g in probes}
    channel = "".join(json.dumps(r) + "\n" for r in records).encode()
    status, _, verdicts, _ = judge_submission(notebook, probes, read_channel(channel), points)
    assert status == "ok" and verdicts.keys() == probes.keys()
    assert not any(v["passed"] for v in verdicts.values())
    assert all("could not be read" in v["message"] for v in verdicts.values())
    assert not marker.exists(), "the trusted side unpickled student data"


def test_trusted_side_never_loads_student_code_or_models():                        # row 37
    """Student models reach the trusted side as descriptions (layers, shapes, outputs on
    probe inputs), never as model files: no module outside the sandbox harness may load
    Keras models, pickles or arrays with pickling allowed."""
    import re

    forbidden = re.compile(r"load_model|keras\.saving|pickle\.loads?\(|dill|cloudpickle|allow_pickle\s*=\s*True"
                           r"|np\.load\((?![^)]*allow_pickle=False)")
    offenders = []
    for path in sorted((REPO_ROOT / "autograder").rglob("*.py")):
        if path.name == "harness.py":          # runs inside the sandbox
            continue
        for number, line in enumerate(path.read_text().splitlines(), start=1):
            if forbidden.search(line.split("#")[0]):
                offenders.append(f"{path.relative_to(REPO_ROOT)}:{number}: {line.strip()}")
    assert offenders == []
