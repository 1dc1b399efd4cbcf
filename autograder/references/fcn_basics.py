"""Trusted checks of ``fcn_basics``: one per grade cell, the same cases the notebook's
visible and hidden tests check, on inputs drawn fresh for every grading run. The sizes,
Dice, the soft Dice loss and the FCN's outputs are compared with
``autograder/references/numpy_reference.py``; the FCN's checks are shared with
sliding_window_vs_fcn (``slide_fcn.py``)."""

from __future__ import annotations

import numpy as np

from autograder.references import Call, Fail, Probe, Results
from autograder.references import numpy_reference as ref
from autograder.references.harness_data import array, integer, python_float, value
from autograder.references.numpy_reference import fcn_forward, fcn_weights
from autograder.references.slide_fcn import fcn_hidden_probe, fcn_visible_probe

__all__ = ["CHECKS", "fcn_forward", "fcn_weights"]     # the FCN reference, as tests/autograder import it


def fcn_shapes(h, w, c):
    """``fcn_upscaling_shapes``: (height, width, channels) after each of the 9 layers."""
    h8, w8 = h // 2 // 2 // 2, w // 2 // 2 // 2
    return [(h, w, 40), (h // 2, w // 2, 40), (h // 2, w // 2, 40), (h // 4, w // 4, 40),
            (h // 4, w // 4, 80), (h8, w8, 80), (8 * h8, 8 * w8, 80), (8 * h8, 8 * w8, c), (8 * h8, 8 * w8, c)]


def _shapes(results: Results, name: str, what: str) -> list[tuple[int, ...]]:
    got = results.array(name, what)
    if got.dtype.kind not in "iuf" or got.ndim != 2 or got.shape[1] != 3:
        raise Fail(f"{what} should return a list of (height, width, channels) tuples of ints.")
    return [tuple(float(v) for v in row) for row in got]


# ----------------------------------------------------------------------------- checks
LECTURE_EXAMPLES = [
    ("conv_output_size", 4, 3, 1, "valid", 2, "Standard: 3x3 filter, stride 1, 4x4 input"),
    ("conv_output_size", 5, 3, 2, "valid", 2, "Stride: 3x3 filter, stride 2, 5x5 input"),
    ("conv_output_size", 5, 3, 1, "same", 5, "Padding: 3x3 filter, stride 1, 5x5 input"),
    ("conv_transpose_output_size", 2, 3, 1, "valid", 4, "Standard: transposed, 2x2 input"),
    ("conv_transpose_output_size", 2, 3, 2, "valid", 5, "Stride: transposed, stride 2, 2x2 input"),
    ("conv_transpose_output_size", 5, 3, 1, "same", 5, "Padding: transposed, 5x5 input"),
]


def dimensions_visible(rng) -> Probe:
    calls = [Call(f"ex{i}", fn, [value(n), value(k), value(s), value(p)])
             for i, (fn, n, k, s, p, _, _) in enumerate(LECTURE_EXAMPLES)]
    calls.append(Call("shapes", "fcn_upscaling_shapes", [value(256), value(256)], {"num_classes": value(4)}))

    def judge(r: Results) -> str:
        for i, (fn, n, k, s, p, want, slide) in enumerate(LECTURE_EXAMPLES):
            what = f"{fn}({n}, kernel_size={k}, stride={s}, padding={p!r})"
            got = integer(r, f"ex{i}", what)
            if got != want:
                raise Fail(f"{what} returned {got}; the lecture slide '{slide}' gives {want}.")
        shapes = _shapes(r, "shapes", "fcn_upscaling_shapes(256, 256, num_classes=4)")
        if len(shapes) != 9:
            raise Fail(f"fcn_upscaling_shapes should list 9 shapes (one per layer), got {len(shapes)}.")
        if shapes[0] != (256, 256, 40):
            raise Fail(f"After the first 'same' convolution expected (256, 256, 40), got {shapes[0]}.")
        if shapes[5] != (32, 32, 80):
            raise Fail(f"The encoder output for a 256x256 page should be (32, 32, 80), got {shapes[5]}.")
        return "Part 1 visible checks passed."
    return Probe(calls, {}, judge)


def dimensions_hidden(rng) -> Probe:
    calls, expected = [], {}
    for i in range(120):
        n, k, s = int(rng.integers(1, 300)), int(rng.integers(1, 8)), int(rng.integers(1, 5))
        padding = str(rng.choice(["valid", "same"]))
        if padding == "valid" and k > n:
            continue
        args = [value(n), value(k), value(s), value(padding)]
        calls.append(Call(f"c{i}", "conv_output_size", args))
        expected[f"c{i}"] = (ref.conv_output_size(n, k, s, padding), f"conv_output_size with padding={padding!r}")
        calls.append(Call(f"t{i}", "conv_transpose_output_size", args))
        expected[f"t{i}"] = (ref.conv_transpose_output_size(n, k, s, padding),
                             f"conv_transpose_output_size with padding={padding!r}")
    pages = [(int(rng.integers(9, 200)), int(rng.integers(9, 200)), int(rng.integers(2, 7))) for _ in range(3)]
    pages.append((int(rng.integers(2, 25)) * 8 + 3, int(rng.integers(2, 25)) * 8 + 5, 3))   # not multiples of 8
    for j, (h, w, c) in enumerate(pages):
        calls.append(Call(f"s{j}", "fcn_upscaling_shapes", [value(h), value(w), value(c)]))

    def judge(r: Results) -> str:
        for name, (want, what) in expected.items():
            if integer(r, name, what) != want:
                raise Fail(f"{what} is wrong for some sizes, kernels and strides.")
        for j, (h, w, c) in enumerate(pages):
            if _shapes(r, f"s{j}", "fcn_upscaling_shapes") != fcn_shapes(h, w, c):
                raise Fail("fcn_upscaling_shapes is wrong for some page sizes (hint: 100 // 8 * 8 != 100).")
        return "Part 1 hidden checks passed."
    return Probe(calls, {}, judge, hidden=True)


def dice_visible(rng) -> Probe:
    a = np.array([[1, 1, 0], [0, 1, 0], [0, 0, 0]])
    b = np.array([[1, 0, 0], [0, 1, 1], [0, 0, 0]])
    arrays = {"a": a, "b": b, "not_a": 1 - a}
    calls = [Call("ab", "dice_coefficient", [array("a"), array("b")]),
             Call("aa", "dice_coefficient", [array("a"), array("a")]),
             Call("disjoint", "dice_coefficient", [array("a"), array("not_a")])]

    def judge(r: Results) -> str:
        got = python_float(r, "ab", "dice_coefficient on the 3x3 example")
        if abs(got - 4 / 6) > 1e-9:
            raise Fail(f"Dice of the 3x3 example should be 4/6 = 0.6667, got {got:.4f}. Check 2*|A∩B| / (|A|+|B|).")
        if python_float(r, "aa", "dice_coefficient(A, A)") != 1.0:
            raise Fail("A mask compared with itself should have Dice 1.0.")
        if python_float(r, "disjoint", "dice_coefficient of disjoint masks") != 0.0:
            raise Fail("Disjoint masks should have Dice 0.0.")
        return "Part 2 visible checks passed."
    return Probe(calls, arrays, judge)


def dice_hidden(rng) -> Probe:
    arrays, calls, expected = {}, [], {}
    for i in range(30):
        shape = tuple(int(v) for v in rng.integers(1, 12, size=int(rng.integers(1, 4))))
        t, p = rng.random(shape) < rng.random(), rng.random(shape) < rng.random()
        dtype = [bool, np.uint8, np.float32][i % 3]
        arrays[f"t{i}"], arrays[f"p{i}"] = t.astype(dtype), p.astype(dtype)
        calls.append(Call(f"d{i}", "dice_coefficient", [array(f"t{i}"), array(f"p{i}")]))
        expected[f"d{i}"] = ref.dice_coefficient(t, p)
    side = int(rng.integers(2, 9))
    arrays["empty"], arrays["full"] = np.zeros((side, side), np.uint8), np.ones((side, side))
    calls += [Call("empty", "dice_coefficient", [array("empty"), array("empty")]),
              Call("empty_full", "dice_coefficient", [array("empty"), array("full")])]

    def judge(r: Results) -> str:
        # The conventions first: random masks can be empty too, and the specific message
        # says more than "wrong for random masks".
        got = python_float(r, "empty", "dice_coefficient of two empty masks")
        if got != 1.0:
            raise Fail("Two empty masks should give Dice 1.0 (the documented convention), not nan or 0.")
        if python_float(r, "empty_full", "dice_coefficient") != 0.0:
            raise Fail("An empty ground truth with a full prediction should give 0.0.")
        for name, want in expected.items():
            got = python_float(r, name, "dice_coefficient")
            if not abs(got - want) < 1e-6:
                raise Fail("dice_coefficient is wrong for random masks of several shapes and dtypes.")
        return "Part 2 hidden checks passed."
    return Probe(calls, arrays, judge, hidden=True)


def _losses(r: Results, name: str, batch: int, what: str) -> np.ndarray:
    got = r.array(name, what)
    if got.shape != (batch,):
        raise Fail(f"soft_dice_loss should return one value per image, shape ({batch},)"
                   + ("" if r.hidden else f", got shape {got.shape}") + ".")
    if got.dtype.kind != "f":
        raise Fail("soft_dice_loss should return floating-point losses.")
    return got.astype(np.float64)


def soft_dice_visible(rng) -> Probe:
    labels = np.array([[[0, 1], [2, 1]], [[2, 2], [0, 0]]])
    one_hot = np.eye(3, dtype="float32")[labels]
    arrays = {"t": one_hot, "uniform": np.full_like(one_hot, 1 / 3)}
    calls = [Call("perfect", "soft_dice_loss", [array("t"), array("t")]),
             Call("uniform", "soft_dice_loss", [array("t"), array("uniform")])]

    def judge(r: Results) -> str:
        loss = _losses(r, "perfect", 2, "soft_dice_loss")
        if not np.allclose(loss, 0.0, atol=1e-6):
            raise Fail(f"A perfect prediction should give a loss of 0, got {loss}.")
        loss = _losses(r, "uniform", 2, "soft_dice_loss")
        if not np.all(loss > 0.1):
            raise Fail(f"A uniform (uninformed) prediction should give a clearly positive loss, got {loss}.")
        return "Part 3 visible checks passed."
    return Probe(calls, arrays, judge)


def soft_dice_hidden(rng) -> Probe:
    arrays, calls, expected = {}, [], {}
    for i, smooth in enumerate((1.0, 1e-3, float(rng.uniform(0.01, 2.0)))):
        batch, h, w = int(rng.integers(2, 5)), int(rng.integers(3, 9)), int(rng.integers(3, 9))
        c = int(rng.integers(2, 6))
        t = np.eye(c, dtype="float32")[rng.integers(0, c, size=(batch, h, w))]
        logits = rng.normal(size=(batch, h, w, c))
        p = (np.exp(logits) / np.exp(logits).sum(-1, keepdims=True)).astype("float32")
        arrays[f"t{i}"], arrays[f"p{i}"] = t, p
        calls.append(Call(f"l{i}", "soft_dice_loss", [array(f"t{i}"), array(f"p{i}")], {"smooth": value(smooth)}))
        expected[f"l{i}"] = (batch, ref.soft_dice_loss(t, p, smooth))
    empty = np.zeros((1, 4, 4, 2), dtype="float32")
    empty[..., 0] = 1.0
    arrays["empty"] = empty
    calls.append(Call("empty", "soft_dice_loss", [array("empty"), array("empty")]))

    def judge(r: Results) -> str:
        for name, (batch, want) in expected.items():
            got = _losses(r, name, batch, "soft_dice_loss")
            if not np.allclose(got, want, atol=1e-5):
                raise Fail("soft_dice_loss differs from the formula for random predictions; "
                           "check the squares in the denominator, the smoothing and the axes you sum over.")
        got = _losses(r, "empty", 1, "soft_dice_loss")
        if not (np.all(np.isfinite(got)) and np.allclose(got, 0.0, atol=1e-6)):
            raise Fail("A class absent from both target and prediction must not give nan: use the smoothing constant.")
        return "Part 3 hidden checks passed."
    return Probe(calls, arrays, judge, hidden=True)


def fcn_visible(rng) -> Probe:
    return fcn_visible_probe((rng.random((1, 64, 64, 1)) < 0.3).astype("float32"), part=4)


def fcn_hidden(rng) -> Probe:
    classes = int(rng.integers(2, 6))
    weights = fcn_weights(rng, classes)
    page = (rng.random((2, 48, 80, 1)) < rng.uniform(0.1, 0.5)).astype("float32")
    return fcn_hidden_probe(page, weights, classes, part=4)


CHECKS = {
    "test_dimensions_visible": dimensions_visible,
    "test_dimensions_hidden": dimensions_hidden,
    "test_dice_visible": dice_visible,
    "test_dice_hidden": dice_hidden,
    "test_soft_dice_visible": soft_dice_visible,
    "test_soft_dice_hidden": soft_dice_hidden,
    "test_fcn_visible": fcn_visible,
    "test_fcn_hidden": fcn_hidden,
}
