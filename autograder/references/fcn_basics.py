"""Trusted checks of ``fcn_basics``: one per grade cell, the same cases the notebook's
visible and hidden tests check, on inputs drawn fresh for every grading run. The mask
encodings (one-hot, label maps, multi-label masks), the layer shapes and the FCN's outputs
are compared with ``autograder/references/numpy_reference.py``; the FCN's checks are
shared with sliding_window_vs_fcn (``slide_fcn.py``), and its visible check here also
names the slide's kernel sizes and a softmax applied twice."""

from __future__ import annotations

import numpy as np

from autograder.references import Call, Fail, Probe, Results
from autograder.references import numpy_reference as ref
from autograder.references.harness_data import activation, array, model_entry, pair_of, value
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


def _mask(r: Results, name: str, what: str, shape: tuple, hint: str = "") -> np.ndarray:
    """A returned array of ``shape`` holding numbers (0/1 masks may be bool), as float64."""
    got = r.array(name, what)
    if got.shape != tuple(shape):
        raise Fail(f"{what} should have shape {tuple(shape)}{hint}"
                   + ("" if r.hidden else f"; got shape {got.shape}") + ".")
    if got.dtype.kind not in "biuf":
        raise Fail(f"{what} should return an array of numbers.")
    return got.astype(np.float64)


def _raised_value_error(r: Results, name: str, what: str) -> bool:
    """Whether the call raised ValueError (a missing function fails)."""
    entry = r.meta.get(name)
    if isinstance(entry, dict) and entry.get("status") == "error":
        return entry.get("ename") == "ValueError"
    r.entry(name, what)
    return False


# ----------------------------------------------------------------------------- Part 1
# The visible test's cases (tests/validity/test_case_tables.py compares them with the notebook).
ENCODING_LABEL_MAP = [[0, 2, 1], [1, 1, 0]]
ENCODING_SCORES = [[[0.1, 0.7, 0.2], [2.0, -1.0, 0.5]]]
ENCODING_SCORE_LABELS = [[1, 0]]


def encoding_visible(rng) -> Probe:
    labels = np.array(ENCODING_LABEL_MAP)
    arrays = {"labels": labels, "one_hot": ref.one_hot(labels, 3).astype("float32"),
              "scores": np.array(ENCODING_SCORES), "out_of_range": np.array([[0, 3]])}
    calls = [Call("one_hot", "labels_to_one_hot", [array("labels"), value(3)]),
             Call("back", "labels_from_scores", [array("one_hot")]),
             Call("scores", "labels_from_scores", [array("scores")]),
             Call("out_of_range", "labels_to_one_hot", [array("out_of_range"), value(3)])]

    def judge(r: Results) -> str:
        got = _mask(r, "one_hot", "labels_to_one_hot of a (2, 3) label map with 3 classes", (2, 3, 3),
                    ": (height, width, classes), the class axis last")
        for k in range(3):
            if not np.array_equal(got[..., k], labels == k):
                raise Fail(f"Channel {k} of the one-hot mask should be 1 exactly where the label is {k}; "
                           f"got {got[..., k].tolist()}.")
        back = r.array("back", "labels_from_scores of the one-hot mask")
        if back.shape != (2, 3) or not np.array_equal(back, labels):
            raise Fail(f"labels_from_scores of the one-hot mask should give the label map {ENCODING_LABEL_MAP} back "
                       f"(argmax over the last axis), got {back.tolist()}.")
        got = r.array("scores", f"labels_from_scores({ENCODING_SCORES})")
        if got.shape != (1, 2) or not np.array_equal(got, ENCODING_SCORE_LABELS):
            raise Fail(f"labels_from_scores({ENCODING_SCORES}) should be {ENCODING_SCORE_LABELS} "
                       f"(the class of the highest score), got {got.tolist()}.")
        if not _raised_value_error(r, "out_of_range", "labels_to_one_hot([[0, 3]], 3)"):
            raise Fail("labels_to_one_hot([[0, 3]], 3) should raise ValueError: label 3 is outside [0, 3).")
        return "Part 1 visible checks passed."
    return Probe(calls, arrays, judge)


def encoding_hidden(rng) -> Probe:
    arrays, calls, expected = {}, [], {}
    for i in range(12):
        shape = tuple(int(v) for v in rng.integers(1, 9, size=int(rng.integers(2, 4))))
        classes = int(rng.integers(2, 8))
        # the top class never occurs: its channel must be there all the same
        labels = rng.integers(0, max(1, classes - 1), size=shape).astype([np.int64, np.uint8, np.int32][i % 3])
        scores = rng.normal(size=shape + (classes,))
        arrays[f"labels{i}"], arrays[f"scores{i}"] = labels, scores
        calls += [Call(f"one_hot{i}", "labels_to_one_hot", [array(f"labels{i}"), value(classes)]),
                  Call(f"argmax{i}", "labels_from_scores", [array(f"scores{i}")])]
        expected[i] = (ref.one_hot(labels, classes), ref.labels_from_scores(scores))
    arrays["negative"] = np.array([[0, -1], [2, 1]])
    arrays["too_large"] = np.array([[4, 0]])
    calls += [Call("negative", "labels_to_one_hot", [array("negative"), value(4)]),
              Call("too_large", "labels_to_one_hot", [array("too_large"), value(4)])]

    def judge(r: Results) -> str:
        # The convention first: its message says more than "wrong for random label maps".
        if not _raised_value_error(r, "negative", "labels_to_one_hot"):
            raise Fail("labels_to_one_hot should raise ValueError for a negative label "
                       "(NumPy indexing silently turns label -1 into the last class).")
        if not _raised_value_error(r, "too_large", "labels_to_one_hot"):
            raise Fail("labels_to_one_hot should raise ValueError for a label >= num_classes.")
        for i, (one_hot, labels) in expected.items():
            got = _mask(r, f"one_hot{i}", "labels_to_one_hot", one_hot.shape,
                        " (the class axis last, num_classes long)")
            if not np.array_equal(got, one_hot):
                raise Fail("labels_to_one_hot is wrong for random label maps and batches "
                           "(every class gets its channel, also one absent from the map).")
            got = r.array(f"argmax{i}", "labels_from_scores")
            if got.shape != labels.shape or not np.array_equal(got, labels):
                raise Fail("labels_from_scores is wrong for random scores of several shapes "
                           "(the argmax over the last axis).")
        return "Part 1 hidden checks passed."
    return Probe(calls, arrays, judge, hidden=True)


# ----------------------------------------------------------------------------- Part 2
MULTI_LABEL_MAP = [[1, 5, 0], [2, 4, 3]]
LECTURE_CHANNELS = [[1, 5], [5], [2, 4], [4], [3]]        # text, heading, figure or table, table, separator
MULTI_LABEL_EXPECTED = [[[1, 0, 0, 0, 0], [1, 1, 0, 0, 0], [0, 0, 0, 0, 0]],
                        [[0, 0, 1, 0, 0], [0, 0, 1, 1, 0], [0, 0, 0, 0, 1]]]
PIXEL_PROBABILITIES = [[[0.9, 0.8, 0.1], [0.2, 0.1, 0.3], [0.4, 0.7, 0.6]]]
DECODED_EXPECTED = [[[1, 1, 0], [0, 0, 0], [0, 1, 1]]]
DECODED_AT_075 = [[[1, 1, 0], [0, 0, 0], [0, 0, 0]]]


def multi_label_visible(rng) -> Probe:
    arrays = {"labels": np.array(MULTI_LABEL_MAP), "probabilities": np.array(PIXEL_PROBABILITIES)}
    calls = [Call("mask", "multi_label_mask", [array("labels"), value(LECTURE_CHANNELS)]),
             Call("decoded", "decode_multi_label", [array("probabilities")]),
             Call("decoded_075", "decode_multi_label", [array("probabilities")], {"threshold": value(0.75)})]

    def judge(r: Results) -> str:
        got = _mask(r, "mask", "multi_label_mask of a (2, 3) label map with 5 channels", (2, 3, 5),
                    ", the channel axis last")
        if not np.array_equal(got, MULTI_LABEL_EXPECTED):
            raise Fail("multi_label_mask is wrong: the heading pixel (0, 1) should be 1 in the text and the heading "
                       "channels, the table pixel (1, 1) in 'figure or table' and 'table'; "
                       f"got {got.astype(int).tolist()}.")
        got = _mask(r, "decoded", "decode_multi_label", (1, 3, 3), " (the shape of the probabilities)")
        if not np.array_equal(got, DECODED_EXPECTED):
            raise Fail(f"decode_multi_label({PIXEL_PROBABILITIES}) should be {DECODED_EXPECTED}, "
                       f"got {got.astype(int).tolist()}. Each channel is on where its probability is above 0.5: "
                       "a pixel can have two labels or none (an argmax keeps exactly one).")
        got = _mask(r, "decoded_075", "decode_multi_label with threshold=0.75", (1, 3, 3))
        if not np.array_equal(got, DECODED_AT_075):
            raise Fail("decode_multi_label ignores its threshold argument.")
        return "Part 2 visible checks passed."
    return Probe(calls, arrays, judge)


def multi_label_hidden(rng) -> Probe:
    arrays, calls, expected = {}, [], {}
    for i in range(10):
        shape = tuple(int(v) for v in rng.integers(1, 8, size=int(rng.integers(2, 4))))
        labels = rng.integers(0, 6, size=shape)
        channels = [sorted(int(c) for c in rng.choice(6, size=int(rng.integers(1, 4)), replace=False))
                    for _ in range(int(rng.integers(1, 7)))]
        threshold = float(rng.choice([0.5, 0.25, 0.8]))
        probabilities = rng.random(shape + (len(channels),))
        probabilities[rng.random(probabilities.shape) < 0.2] = threshold     # exactly at the threshold: off
        arrays[f"labels{i}"], arrays[f"probabilities{i}"] = labels, probabilities
        calls += [Call(f"mask{i}", "multi_label_mask", [array(f"labels{i}"), value(channels)]),
                  Call(f"decoded{i}", "decode_multi_label", [array(f"probabilities{i}")],
                       {"threshold": value(threshold)})]
        expected[i] = (ref.multi_label_mask(labels, channels), ref.decode_multi_label(probabilities, threshold))

    def judge(r: Results) -> str:
        for i, (mask, decoded) in expected.items():
            got = _mask(r, f"mask{i}", "multi_label_mask", mask.shape, " (one channel per list, the channel axis last)")
            if not np.array_equal(got, mask):
                raise Fail("multi_label_mask is wrong for random label maps and channel lists.")
            got = _mask(r, f"decoded{i}", "decode_multi_label", decoded.shape)
            if not np.array_equal(got, decoded):
                raise Fail("decode_multi_label is wrong for random probabilities and thresholds "
                           "(a probability equal to the threshold is not above it).")
        return "Part 2 hidden checks passed."
    return Probe(calls, arrays, judge, hidden=True)


# ----------------------------------------------------------------------------- Part 3
# (entry, shape, where) for a 256x256 page with 4 classes
LAYER_SHAPE_EXAMPLES = [(0, (256, 256, 40), "after the first 'same' convolution"),
                        (5, (32, 32, 80), "after the encoder (h/8 x w/8 x 80)"),
                        (6, (256, 256, 80), "after the 8x up-scaling"),
                        (8, (256, 256, 4), "after the softmax (one channel per class)")]


def layer_shapes_visible(rng) -> Probe:
    calls = [Call("shapes", "fcn_upscaling_shapes", [value(256), value(256)], {"num_classes": value(4)})]

    def judge(r: Results) -> str:
        shapes = _shapes(r, "shapes", "fcn_upscaling_shapes(256, 256, num_classes=4)")
        if len(shapes) != 9:
            raise Fail(f"fcn_upscaling_shapes should list 9 shapes (one per layer), got {len(shapes)}.")
        for index, want, where in LAYER_SHAPE_EXAMPLES:
            if shapes[index] != want:
                raise Fail(f"Entry {index}, {where}, should be {want} for a 256x256 page, got {shapes[index]}.")
        return "Part 3 visible checks passed."
    return Probe(calls, {}, judge)


def layer_shapes_hidden(rng) -> Probe:
    pages = [(int(rng.integers(9, 200)), int(rng.integers(9, 200)), int(rng.integers(2, 7))) for _ in range(3)]
    pages.append((int(rng.integers(2, 25)) * 8 + 3, int(rng.integers(2, 25)) * 8 + 5, 3))   # not multiples of 8
    calls = [Call(f"s{j}", "fcn_upscaling_shapes", [value(h), value(w), value(c)]) for j, (h, w, c) in enumerate(pages)]

    def judge(r: Results) -> str:
        for j, (h, w, c) in enumerate(pages):
            if _shapes(r, f"s{j}", "fcn_upscaling_shapes") != fcn_shapes(h, w, c):
                raise Fail("fcn_upscaling_shapes is wrong for some page sizes (hint: 100 // 8 * 8 != 100).")
        return "Part 3 hidden checks passed."
    return Probe(calls, {}, judge, hidden=True)


# ----------------------------------------------------------------------------- Part 4
SLIDE_KERNELS = [(3, 3), (4, 4), (4, 4), (1, 1)]


def _is_softmax(layer: dict) -> bool:
    return layer.get("class") == "Softmax" or activation(layer.get("config", {})) == "softmax"


def _slide_kernels_and_one_softmax(layers: list[dict]) -> None:
    """The four convolutions have the slide's kernels, and exactly one layer applies a softmax."""
    convolutions = [layer.get("config", {}) for layer in layers if layer.get("class") == "Conv2D"]
    if len(convolutions) != len(SLIDE_KERNELS):
        raise Fail(f"The slide's FCN has 4 convolutions (three in the encoder, the 1x1 classifier); "
                   f"found {len(convolutions)}.")
    for config, want in zip(convolutions, SLIDE_KERNELS):
        kernel = pair_of(config.get("kernel_size"))
        if kernel != want:
            raise Fail(f"layer {str(config.get('name'))[:60]} has kernel {kernel}, the slide's FCN uses {want} there "
                       "(3x3, then 4x4 and 4x4, then the 1x1 classifier).")
    softmaxes = [str(layer.get("config", {}).get("name"))[:60] for layer in layers if _is_softmax(layer)]
    if len(softmaxes) != 1:
        times = "twice" if len(softmaxes) == 2 else f"{len(softmaxes)} times"
        raise Fail(f"softmax applied {times} (layers {softmaxes}): the slide's FCN applies it once, after the 1x1 "
                   "convolution. A second softmax still sums to 1 but flattens the probabilities.")


def fcn_visible(rng) -> Probe:
    probe = fcn_visible_probe((rng.random((1, 64, 64, 1)) < 0.3).astype("float32"), part=4)
    model_call = probe.calls[0].name

    def judge(r: Results) -> str:
        probe.judge(r)          # a keras.Model, the output's shape, probabilities that sum to 1
        _slide_kernels_and_one_softmax(model_entry(r, model_call, "build_fcn_upscaling(num_classes=4)")["layers"])
        return "Part 4 visible checks passed."
    return Probe(probe.calls, probe.arrays, judge)


def fcn_hidden(rng) -> Probe:
    classes = int(rng.integers(2, 6))
    weights = fcn_weights(rng, classes)
    page = (rng.random((2, 48, 80, 1)) < rng.uniform(0.1, 0.5)).astype("float32")
    return fcn_hidden_probe(page, weights, classes, part=4)


CHECKS = {
    "test_encoding_visible": encoding_visible,
    "test_encoding_hidden": encoding_hidden,
    "test_multi_label_visible": multi_label_visible,
    "test_multi_label_hidden": multi_label_hidden,
    "test_layer_shapes_visible": layer_shapes_visible,
    "test_layer_shapes_hidden": layer_shapes_hidden,
    "test_fcn_visible": fcn_visible,
    "test_fcn_hidden": fcn_hidden,
}
