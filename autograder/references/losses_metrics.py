"""Trusted checks of ``losses_metrics``: one per grade cell, the cases of the notebook's
visible and hidden tests, on inputs drawn fresh for every grading run. The student's
functions return plain numbers and arrays; the expected values are computed with the
trusted side's NumPy references (``numpy_reference.py``: Dice, IoU, mean IoU from the
confusion matrix, the soft Dice loss) and the class weights and weighted cross-entropy here.

What plain data cannot show: whether a loss is differentiable. The two Keras losses must
return a tensor (not a NumPy array), which rules out the NumPy implementations that would
not train; the notebook's own hidden tests also train a small model with them.
"""

from __future__ import annotations

import math

import numpy as np

from autograder.references import Call, Fail, Probe, Results
from autograder.references import numpy_reference as ref
from autograder.references.harness_data import array, python_float, value

EPSILON = 1e-7          # the probability floor of the weighted cross-entropy (as Keras)

EXAMPLE_A = np.array([[1, 1, 0], [0, 1, 0], [0, 0, 0]])
EXAMPLE_B = np.array([[1, 0, 0], [0, 1, 1], [0, 0, 0]])


# ----------------------------------------------------------------------------- references
def median_weights(frequencies) -> np.ndarray:
    f = np.asarray(frequencies, np.float64)
    present = f > 0
    weights = np.zeros_like(f)
    weights[present] = np.median(f[present]) / f[present]
    return weights


def weighted_ce(labels, probabilities, weights) -> np.ndarray:
    labels = np.asarray(labels).astype(np.int64)
    p = np.asarray(probabilities, np.float64)
    p_true = np.take_along_axis(p, labels[..., None], axis=-1)[..., 0]
    pixel = -np.asarray(weights, np.float64)[labels] * np.log(np.clip(p_true, EPSILON, 1.0))
    return pixel.mean(axis=(1, 2))


# ----------------------------------------------------------------------------- helpers
def _per_image(r: Results, name: str, batch: int, what: str) -> np.ndarray:
    """A loss of shape (batch,), returned as a tensor (keras.ops), finite."""
    got = r.array(name, what)
    kind = r.kind(name)
    if kind.startswith(("numpy.", "builtins.")):
        raise Fail(f"{what} should return a tensor (write it with keras.ops), got a {kind}.")
    if got.shape != (batch,):
        raise Fail(f"{what} should return one value per image, shape ({batch},)"
                   + ("" if r.hidden else f", got shape {got.shape}") + ".")
    if got.dtype.kind != "f":
        raise Fail(f"{what} should return floating-point losses.")
    return got.astype(np.float64)


def _mask_calls(function, cases, arrays, calls, expected, reference, prefix):
    for i, (t, p) in enumerate(cases):
        arrays[f"{prefix}t{i}"], arrays[f"{prefix}p{i}"] = t, p
        calls.append(Call(f"{prefix}{i}", function, [array(f"{prefix}t{i}"), array(f"{prefix}p{i}")]))
        expected[f"{prefix}{i}"] = reference(t, p)


def _random_masks(rng, count):
    cases = []
    for i in range(count):
        shape = tuple(int(v) for v in rng.integers(1, 40 if i % 4 == 0 else 12, size=int(rng.integers(1, 4))))
        density = float(rng.uniform(0.02, 0.95))
        dtype = [bool, np.uint8, np.int64][i % 3]
        cases.append(((rng.random(shape) < density).astype(dtype), (rng.random(shape) < density).astype(dtype)))
    return cases


# ----------------------------------------------------------------------------- Parts 1 and 2
def _overlap_visible(function, name, reference, example_value, formula, part):
    def make(rng) -> Probe:
        arrays = {"a": EXAMPLE_A, "b": EXAMPLE_B, "not_a": 1 - EXAMPLE_A, "empty": np.zeros((3, 3), dtype=int),
                  "a_bool": EXAMPLE_A.astype(bool), "b_bool": EXAMPLE_B.astype(bool)}
        pairs = {"ab": ("a", "b"), "aa": ("a", "a"), "disjoint": ("a", "not_a"), "empty": ("empty", "empty"),
                 "empty_a": ("empty", "a"), "bool": ("a_bool", "b_bool")}
        calls = [Call(key, function, [array(t), array(p)]) for key, (t, p) in pairs.items()]

        def judge(r: Results) -> str:
            got = python_float(r, "ab", f"{function} on the 3x3 example")
            if not math.isclose(got, example_value):
                raise Fail(f"{name} of the 3x3 example should be {example_value:.4f} ({formula}), got {got:.4f}.")
            if not math.isclose(python_float(r, "aa", f"{function}(A, A)"), 1.0):
                raise Fail(f"Identical masks should give {name} 1.0.")
            if not math.isclose(python_float(r, "disjoint", f"{function} of disjoint masks"), 0.0, abs_tol=1e-12):
                raise Fail(f"Disjoint masks should give {name} 0.0.")
            if python_float(r, "empty", f"{function} of two empty masks") != 1.0:
                raise Fail(f"Two empty masks should give {name} 1.0 (the convention), not nan or 0.")
            if not math.isclose(python_float(r, "empty_a", function), 0.0, abs_tol=1e-12):
                raise Fail("An empty true mask and a non-empty prediction should give 0.0.")
            if not math.isclose(python_float(r, "bool", f"{function} on bool masks"), example_value):
                raise Fail(f"bool masks should give the same {example_value:.4f}.")
            return f"Part {part} visible checks passed."
        return Probe(calls, arrays, judge)
    return make


def _overlap_hidden(function, name, reference, part):
    def make(rng) -> Probe:
        arrays, calls, expected = {}, [], {}
        _mask_calls(function, _random_masks(rng, 24), arrays, calls, expected, reference, "r")
        side = int(rng.integers(2, 9))
        arrays["empty"], arrays["full"] = np.zeros((side, side + 1), bool), np.ones((side, side + 1), np.uint8)
        arrays["big"] = np.ones((30, 30), np.uint8)        # more than 255 pixels in uint8
        calls += [Call("empty", function, [array("empty"), array("empty")]),
                  Call("full_empty", function, [array("full"), array("empty")]),
                  Call("big", function, [array("big"), array("big")])]

        def judge(r: Results) -> str:
            if python_float(r, "empty", f"{function} of two empty masks") != 1.0:
                raise Fail(f"Two empty masks must give {name} 1.0.")
            if python_float(r, "full_empty", function) != 0.0:
                raise Fail("A full true mask and an empty prediction must give 0.0.")
            for key, want in expected.items():
                if not math.isclose(python_float(r, key, function), want, rel_tol=1e-9, abs_tol=1e-12):
                    raise Fail(f"{function} is wrong for random masks of several shapes, densities and dtypes.")
            if not math.isclose(python_float(r, "big", function), 1.0):
                raise Fail(f"Two identical uint8 masks of 900 pixels must give {name} 1.0 "
                           "(uint8 arithmetic wraps around at 255: count with np.count_nonzero or convert first).")
            return f"Part {part} hidden checks passed."
        return Probe(calls, arrays, judge, hidden=True)
    return make


# ----------------------------------------------------------------------------- Part 3
def mean_iou_visible(rng) -> Probe:
    t = np.array([[0, 0, 1], [0, 1, 1], [2, 2, 255]])
    p = np.array([[0, 1, 1], [0, 1, 1], [2, 0, 1]])
    arrays = {"t": t, "p": p, "t2": t[:2], "p2": p[:2], "all_ignored": np.full((2, 2), 255),
              "zeros": np.zeros((2, 2), dtype=int)}
    with_ignore = {"num_classes": value(4), "ignore_label": value(255)}
    calls = [Call("example", "mean_iou", [array("t"), array("p")], with_ignore),
             Call("rows", "mean_iou", [array("t2"), array("p2")], {"num_classes": value(4)}),
             Call("perfect", "mean_iou", [array("t"), array("t")], with_ignore),
             Call("ignored", "mean_iou", [array("all_ignored"), array("zeros")],
                  {"num_classes": value(4), "ignore_label": value(255)})]

    def judge(r: Results) -> str:
        got = python_float(r, "example", "mean_iou")
        if not math.isclose(got, (0.5 + 0.75 + 0.5) / 3):
            raise Fail(f"The 3x3 example should give (2/4 + 3/4 + 1/2) / 3 = 0.5833, got {got:.4f}: "
                       "0.5333 means the ignored pixel was counted; 0.4375 means the absent class 3 was counted as 0.")
        got = python_float(r, "rows", "mean_iou")
        if not math.isclose(got, (2 / 3 + 3 / 4) / 2):
            raise Fail(f"The top two rows (no ignore label) should give (2/3 + 3/4) / 2 = 0.7083, got {got:.4f}.")
        if not math.isclose(python_float(r, "perfect", "mean_iou"), 1.0):
            raise Fail("A perfect prediction should give 1.0.")
        if not math.isnan(python_float(r, "ignored", "mean_iou")):
            raise Fail("If every pixel is ignored, no class is left: expected nan.")
        return "Part 3 visible checks passed."
    return Probe(calls, arrays, judge)


def mean_iou_hidden(rng) -> Probe:
    arrays, calls, expected = {}, [], {}
    setups = [((6, 9), 4, None, [0, 1, 2, 3], [0, 1, 2, 3]), ((2, 10, 12), 5, 255, [0, 1, 3], [0, 1, 2, 3]),
              ((50,), 6, 255, [0, 2, 4], [0, 2, 4]), ((3, 7, 7), 3, 7, [0, 1], [1, 2]), ((8, 8), 4, 255, [2], [2, 3])]
    for i, (shape, k, ignore, classes_true, classes_pred) in enumerate(setups):
        t = rng.choice(classes_true, size=shape)
        p = np.where(rng.random(shape) < rng.uniform(0.4, 0.8), t, rng.choice(classes_pred, size=shape))
        if ignore is not None:
            t = np.where(rng.random(shape) < 0.2, ignore, t)
        arrays[f"t{i}"], arrays[f"p{i}"] = t, p
        kwargs = {"num_classes": value(k)}
        if ignore is not None:
            kwargs["ignore_label"] = value(ignore)
        calls.append(Call(f"m{i}", "mean_iou", [array(f"t{i}"), array(f"p{i}")], kwargs))
        expected[f"m{i}"] = ref.mean_iou(t, p, k, ignore)
    arrays["only_t"], arrays["only_p"] = np.zeros((2, 2), int), np.array([[0, 1], [0, 0]])
    calls.append(Call("only_predicted", "mean_iou", [array("only_t"), array("only_p")], {"num_classes": value(3)}))

    def judge(r: Results) -> str:
        for key, want in expected.items():
            if not math.isclose(python_float(r, key, "mean_iou"), want, rel_tol=1e-9):
                raise Fail("mean_iou is wrong for random label maps with absent classes and ignore labels.")
        if not math.isclose(python_float(r, "only_predicted", "mean_iou"), (3 / 4 + 0.0) / 2):
            raise Fail("A class that is only predicted (absent from the truth) has IoU 0 and must count in the mean.")
        return "Part 3 hidden checks passed."
    return Probe(calls, arrays, judge, hidden=True)


# ----------------------------------------------------------------------------- Part 4
def _one_hot_mask(mask):
    return np.stack([1 - mask, mask], axis=-1).astype("float32")


def soft_dice_visible(rng) -> Probe:
    arrays = {"t": np.stack([_one_hot_mask(EXAMPLE_A), _one_hot_mask(EXAMPLE_A)]),
              "p": np.stack([_one_hot_mask(EXAMPLE_B), _one_hot_mask(EXAMPLE_A)]),
              "soft_t": np.array([[[[0.0, 1.0], [1.0, 0.0]]]]), "soft_p": np.full((1, 1, 2, 2), 0.5, dtype="float32"),
              "absent": np.stack([_one_hot_mask(np.zeros((3, 3), int))])}
    calls = [Call("batch", "soft_dice_loss", [array("t"), array("p")], {"smooth": value(1.0)}),
             Call("soft", "soft_dice_loss", [array("soft_t"), array("soft_p")], {"smooth": value(1.0)}),
             Call("absent", "soft_dice_loss", [array("absent"), array("absent")], {"smooth": value(1.0)})]

    def judge(r: Results) -> str:
        loss = _per_image(r, "batch", 2, "soft_dice_loss")
        want = 1 - ((2 * 2 + 1) / (3 + 3 + 1) + (2 * 5 + 1) / (6 + 6 + 1)) / 2
        if not np.allclose(loss, [want, 0.0], atol=1e-5):
            raise Fail(f"Image 1: class 1 (2*2+1)/(3+3+1), class 0 (2*5+1)/(6+6+1): loss {want:.4f}; "
                       f"image 2 is perfect: 0. Got {np.round(loss, 4).tolist()}.")
        soft = _per_image(r, "soft", 1, "soft_dice_loss")
        if not np.allclose(soft, [0.2], atol=1e-5):
            raise Fail(f"1x2 image, all probabilities 0.5: per class (2*0.5+1)/(1+0.5+1) = 0.8, loss 0.2; got "
                       f"{np.round(soft, 4).tolist()} (0.333 means the denominator does not square the probabilities).")
        absent = _per_image(r, "absent", 1, "soft_dice_loss")
        if not (np.all(np.isfinite(absent)) and np.allclose(absent, 0.0, atol=1e-6)):
            raise Fail("A class absent from target and prediction: the smoothing gives 1/1 for it, loss 0; "
                       f"got {absent.tolist()}.")
        return "Part 4 visible checks passed."
    return Probe(calls, arrays, judge)


def soft_dice_hidden(rng) -> Probe:
    arrays, calls, expected = {}, [], {}
    setups = [(3, 5, 4, 3, 1.0), (2, 8, 8, 5, float(rng.uniform(0.2, 0.8))), (1, 3, 7, 2, 10.0), (4, 6, 6, 4, 1e-5)]
    for i, (b, h, w, c, smooth) in enumerate(setups):
        labels = rng.integers(0, c - 1, size=(b, h, w))          # the last class is absent everywhere
        t = np.eye(c, dtype=np.int32)[labels]                     # integer one-hot targets
        logits = rng.normal(size=(b, h, w, c))
        p = (np.exp(logits) / np.exp(logits).sum(-1, keepdims=True)).astype("float32")
        p[..., -1] = 0.0
        arrays[f"t{i}"], arrays[f"p{i}"] = t, p
        calls.append(Call(f"l{i}", "soft_dice_loss", [array(f"t{i}"), array(f"p{i}")], {"smooth": value(smooth)}))
        expected[f"l{i}"] = (b, ref.soft_dice_loss(t, p, smooth))

    def judge(r: Results) -> str:
        for key, (b, want) in expected.items():
            got = _per_image(r, key, b, "soft_dice_loss")
            if not np.all(np.isfinite(got)):
                raise Fail("soft_dice_loss gave nan or inf for a class absent from target and prediction: "
                           "add the smoothing constant to numerator and denominator.")
            if not np.allclose(got, want, atol=1e-4):
                raise Fail("soft_dice_loss differs from the formula for random soft predictions: check the axes you "
                           "sum over (1, 2), the squares in the denominator and where the smoothing goes.")
        return "Part 4 hidden checks passed."
    return Probe(calls, arrays, judge, hidden=True)


# ----------------------------------------------------------------------------- Part 5
def class_weights_visible(rng) -> Probe:
    arrays = {"f": np.array([0.5, 0.3, 0.15, 0.05]), "absent": np.array([0.6, 0.0, 0.3, 0.1])}
    calls = [Call("f", "class_weights_from_frequencies", [array("f")]),
             Call("counts", "class_weights_from_frequencies", [value([5000, 3000, 1500, 500])]),
             Call("absent", "class_weights_from_frequencies", [array("absent")])]

    def judge(r: Results) -> str:
        got = r.array("f", "class_weights_from_frequencies")
        if r.kind("f") != "numpy.ndarray" or got.shape != (4,):
            raise Fail(f"Expected a NumPy array of shape (4,), got a {r.kind('f')} of shape {got.shape}.")
        if not np.allclose(got, [0.45, 0.75, 1.5, 4.5]):
            raise Fail("median(0.5, 0.3, 0.15, 0.05) = (0.3 + 0.15) / 2 = 0.225; weights 0.225 / f = "
                       f"[0.45, 0.75, 1.5, 4.5]; got {np.round(got, 4).tolist()}.")
        got = r.array("counts", "class_weights_from_frequencies")
        if got.shape != (4,) or not np.allclose(got, [0.45, 0.75, 1.5, 4.5]):
            raise Fail(f"Pixel counts in the same ratio should give the same weights, got {np.round(got, 4).tolist()}.")
        got = r.array("absent", "class_weights_from_frequencies")
        if got.shape != (4,) or not (np.all(np.isfinite(got)) and np.allclose(got, [0.5, 0.0, 1.0, 3.0])):
            raise Fail("An absent class gets 0 and is left out of the median (0.3 of 0.6, 0.3, 0.1): expected "
                       f"[0.5, 0, 1, 3], got {np.round(got, 4).tolist()}.")
        return "Part 5 visible checks passed."
    return Probe(calls, arrays, judge)


def class_weights_hidden(rng) -> Probe:
    arrays, calls, expected = {}, [], {}
    for k in range(2, 10):
        f = rng.random(k) ** 3 + 1e-3
        if k > 3:
            f[rng.choice(k, size=2, replace=False)] = 0.0
        counts = np.round(f * 1e6).astype(np.int64)
        for kind, given in (("frequencies", f / f.sum()), ("counts", counts), ("scaled", f * 7.5)):
            key = f"{kind}{k}"
            arrays[key] = given
            calls.append(Call(key, "class_weights_from_frequencies", [array(key)]))
            expected[key] = (k, median_weights(given))

    def judge(r: Results) -> str:
        for key, (k, want) in expected.items():
            got = r.array(key, "class_weights_from_frequencies")
            if got.shape != (k,) or got.dtype.kind not in "iuf" or not np.all(np.isfinite(got)):
                raise Fail(f"{k} classes: the weights must be {k} finite numbers.")
            if np.any(got[want == 0] != 0):
                raise Fail("Absent classes (frequency 0) must get weight 0.")
            if not np.allclose(got, want):
                raise Fail("The weights must be median / frequency, the median over the present classes "
                           "(mean of the two middle ones for an even count).")
        return "Part 5 hidden checks passed."
    return Probe(calls, arrays, judge, hidden=True)


# ----------------------------------------------------------------------------- Part 6
def weighted_ce_visible(rng) -> Probe:
    labels = rng.integers(0, 3, size=(2, 4, 5))
    probabilities = rng.dirichlet(np.ones(3), size=(2, 4, 5)).astype("float32")
    arrays = {"t": np.array([[[0, 1]]]), "p": np.array([[[[0.8, 0.2], [0.4, 0.6]]]], dtype="float32"),
              "labels": labels, "probabilities": probabilities, "ones": np.ones(3)}
    calls = [Call("hand", "weighted_crossentropy", [array("t"), array("p"), value([1.0, 3.0])]),
             Call("batch", "weighted_crossentropy", [array("labels"), array("probabilities"), array("ones")])]
    want_batch = weighted_ce(labels, probabilities, np.ones(3))

    def judge(r: Results) -> str:
        got = _per_image(r, "hand", 1, "weighted_crossentropy")
        want = (-1.0 * np.log(0.8) - 3.0 * np.log(0.6)) / 2
        if not np.allclose(got, [want], atol=1e-5):
            raise Fail(f"(-1*log 0.8 - 3*log 0.6) / 2 = {want:.4f} expected; got {np.round(got, 4).tolist()}.")
        got = _per_image(r, "batch", 2, "weighted_crossentropy")
        if not np.allclose(got, want_batch, atol=1e-5):
            raise Fail("With all weights 1 the loss should equal Keras' sparse categorical cross-entropy, "
                       "averaged over the pixels of each image.")
        return "Part 6 visible checks passed."
    return Probe(calls, arrays, judge)


def weighted_ce_hidden(rng) -> Probe:
    arrays, calls, expected = {}, [], {}
    for i, ((b, h, w, c), as_list) in enumerate(zip([(3, 4, 6, 4), (1, 7, 3, 2), (2, 5, 5, 5)], (True, False, False))):
        labels = rng.integers(0, c, size=(b, h, w))
        p = rng.dirichlet(np.ones(c), size=(b, h, w)).astype("float32")
        p[0, 0, 0] = 0.0
        p[0, 0, 0, (labels[0, 0, 0] + 1) % c] = 1.0                 # the true class has probability 0
        weights = rng.random(c) * 3
        arrays[f"p{i}"], arrays[f"w{i}"] = p, weights.astype("float32")
        given = value([float(v) for v in weights.astype("float32")]) if as_list else array(f"w{i}")
        for kind, t in (("int", labels), ("float", labels.astype("float32"))):
            arrays[f"t{i}{kind}"] = t
            calls.append(Call(f"l{i}{kind}", "weighted_crossentropy", [array(f"t{i}{kind}"), array(f"p{i}"), given]))
            expected[f"l{i}{kind}"] = (b, weighted_ce(labels, p, weights.astype("float32")))

    def judge(r: Results) -> str:
        for key, (b, want) in expected.items():
            got = _per_image(r, key, b, "weighted_crossentropy")
            if not np.all(np.isfinite(got)):
                raise Fail("weighted_crossentropy gave nan or inf where the true class has probability 0: "
                           "clip the probabilities to [1e-7, 1] before the log.")
            if not np.allclose(got, want, rtol=1e-4, atol=1e-4):
                raise Fail("weighted_crossentropy is wrong for random labels (as ints and as floats), probabilities "
                           "and class weights: the weight of each pixel's TRUE class, the mean over its image's "
                           "pixels.")
        return "Part 6 hidden checks passed."
    return Probe(calls, arrays, judge, hidden=True)


CHECKS = {
    "test_dice_visible": _overlap_visible("dice_coefficient", "Dice", ref.dice_coefficient, 4 / 6,
                                          "2*|A and B| / (|A|+|B|) = 2*2 / (3+3)", 1),
    "test_dice_hidden": _overlap_hidden("dice_coefficient", "Dice", ref.dice_coefficient, 1),
    "test_iou_visible": _overlap_visible("iou_score", "IoU", ref.iou_score, 0.5, "|A and B| / |A or B| = 2/4", 2),
    "test_iou_hidden": _overlap_hidden("iou_score", "IoU", ref.iou_score, 2),
    "test_mean_iou_visible": mean_iou_visible,
    "test_mean_iou_hidden": mean_iou_hidden,
    "test_soft_dice_visible": soft_dice_visible,
    "test_soft_dice_hidden": soft_dice_hidden,
    "test_class_weights_visible": class_weights_visible,
    "test_class_weights_hidden": class_weights_hidden,
    "test_weighted_ce_visible": weighted_ce_visible,
    "test_weighted_ce_hidden": weighted_ce_hidden,
}
