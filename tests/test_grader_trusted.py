"""The trusted side without a sandbox: sanitizing submissions, the reference checks."""

from __future__ import annotations

import json

import numpy as np
import pytest

from autograder.references import Fail, Results, load_checks
from autograder.references.fcn_basics import fcn_forward, fcn_weights
from autograder.trusted import NotGradable, rebuild_submission, verdict_outputs
from conftest import REPO_ROOT

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
        if meta.get("grade_id") == "dice":
            cell["source"] = "def dice_coefficient(a, b):\n    return 1.0\n"
        elif meta.get("grade"):
            cell["source"] = "pass"
            meta["points"] = 99
    student["cells"].append(dict(student["cells"][7], id="dup", source="second copy"))   # duplicate grade_id
    student["cells"].append({"cell_type": "code", "id": "mine", "metadata": {}, "source": "helper = 1",
                             "outputs": [], "execution_count": None})
    path = tmp_path / "nb.ipynb"
    path.write_text(json.dumps(student))
    built = rebuild_submission(RELEASE, path)
    originals = {c["id"]: c for c in release["cells"]}
    for cell in built.cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("grade"):
            assert cell.source == "".join(originals[cell.id]["source"]) and meta["points"] == originals[cell.id]["metadata"]["nbgrader"]["points"]
    sources = [c.source for c in built.cells]
    assert "def dice_coefficient(a, b):\n    return 1.0\n" in sources and "second copy" not in sources
    # the student's own cell stays where it was: after the last release cell before it (here: a dice copy)
    dice_at = next(i for i, c in enumerate(built.cells) if c.metadata.get("nbgrader", {}).get("grade_id") == "dice")
    assert sources[dice_at + 1] == "helper = 1"


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
    checks = load_checks("fcn_basics")
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
