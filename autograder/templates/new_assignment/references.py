"""Trusted checks of ``__ASSIGNMENT__``, one per grade cell (``CHECKS``; never mounted in the sandbox).

Each check ``make(rng) -> Probe`` draws its inputs from ``rng`` (seeded by the grader for
every run), names the student function to call on them, and keeps the expected values in
its judge, on the trusted side: the sandbox sees only the inputs. A judge returns a message
on success and raises ``Fail`` otherwise; a hidden check's messages say what was checked,
never the expected values. What a Probe can ask for: ``autograder/references/__init__.py``.

Written by ``segcourse new-assignment`` for ``pixel_accuracy``: replace it with your
assignment's function, keeping one check per grade_id of the source notebook.
"""

from __future__ import annotations

import numpy as np

from autograder.references import Call, Fail, Probe, Results
from autograder.references.harness_data import array


def reference_pixel_accuracy(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """The fraction of pixels whose labels agree, in [0, 1] (maps of any shape)."""
    return float(np.mean(y_true == y_pred))


# The notebook's visible test cases: (true labels, predicted labels, what the case shows).
VISIBLE_CASES = [
    ([[0, 1], [1, 1]], [[0, 1], [1, 1]], "every pixel right"),
    ([[0, 1], [1, 1]], [[1, 0], [0, 0]], "every pixel wrong"),
    ([[0, 0, 1], [2, 2, 1]], [[0, 1, 1], [2, 0, 1]], "4 of 6 pixels right"),
    ([[0, 0, 0, 0, 0, 0, 0, 0, 0, 1]], [[0, 0, 0, 0, 0, 0, 0, 0, 0, 0]], "background everywhere: 90 % right"),
]


def accuracy_probe(maps: list[tuple[np.ndarray, np.ndarray, str]], hidden: bool, passed: str) -> Probe:
    """Call ``pixel_accuracy(y_true, y_pred)`` on each (y_true, y_pred, what) of ``maps``;
    the judge wants a float within 1e-9 of the reference."""
    arrays, calls = {}, []
    for i, (y_true, y_pred, _) in enumerate(maps):
        arrays[f"true{i}"], arrays[f"pred{i}"] = y_true, y_pred
        calls.append(Call(f"case{i}", "pixel_accuracy", [array(f"true{i}"), array(f"pred{i}")]))

    def judge(r: Results) -> str:
        for i, (y_true, y_pred, what) in enumerate(maps):
            call = f"pixel_accuracy on {what}"
            got = r.array(f"case{i}", call)
            if got.shape != () or got.dtype.kind != "f":
                raise Fail(f"{call} should return a float, got a {r.kind(f'case{i}') or 'value'}.")
            want = reference_pixel_accuracy(y_true, y_pred)
            if abs(float(got) - want) > 1e-9:
                raise Fail(f"{call} is wrong." if hidden else f"{call} returned {float(got)!r}; expected {want:.4f}.")
        return passed
    return Probe(calls, arrays, judge, hidden=hidden)


def accuracy_visible(rng: np.random.Generator) -> Probe:
    maps = [(np.array(y_true), np.array(y_pred), what) for y_true, y_pred, what in VISIBLE_CASES]
    return accuracy_probe(maps, hidden=False, passed="Part 1 visible checks passed.")


def accuracy_hidden(rng: np.random.Generator) -> Probe:
    """Random label maps: 2-D maps first, then batches of maps (3-D), 2 to 5 classes, each
    pixel predicted right with a random probability."""
    maps = []
    for i in range(12):
        shape = tuple(int(n) for n in rng.integers(1, 30, size=2 if i < 6 else 3))
        classes = int(rng.integers(2, 6))
        y_true = rng.integers(0, classes, size=shape)
        y_pred = np.where(rng.random(shape) < rng.random(), y_true, rng.integers(0, classes, size=shape))
        what = f"{'a label map' if len(shape) == 2 else 'a batch of label maps'} of shape {shape}"
        maps.append((y_true, y_pred, what))
    return accuracy_probe(maps, hidden=True, passed="Part 1 hidden checks passed: random label maps and batches.")


CHECKS = {
    "test_accuracy_visible": accuracy_visible,
    "test_accuracy_hidden": accuracy_hidden,
}
