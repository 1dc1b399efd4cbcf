"""Trusted checks of ``dataset_formats``: one per grade cell. Every student function is
NumPy in, NumPy out; the checks call it on the lecture's examples (visible) and on fresh
random label maps, palettes and colour images (hidden) and compare with the references
written here."""

from __future__ import annotations

import numpy as np

from autograder.references import Call, Fail, Probe, Results
from autograder.references.harness_data import array, value

IGNORE = 255
# labelId -> trainId of cityscapesScripts' labels.py (the 19 training classes)
CITYSCAPES_TRAIN_IDS = {7: 0, 8: 1, 11: 2, 12: 3, 13: 4, 17: 5, 19: 6, 20: 7, 21: 8, 22: 9, 23: 10, 24: 11, 25: 12,
                        26: 13, 27: 14, 28: 15, 31: 16, 32: 17, 33: 18}
LABEL_TO_TRAIN = np.full(256, IGNORE, dtype=np.int64)
for _label_id, _train_id in CITYSCAPES_TRAIN_IDS.items():
    LABEL_TO_TRAIN[_label_id] = _train_id


def reference_voc_palette(num_colours=256):
    """Bits 0, 3, 6 of the index -> bits 7, 6, 5 of red; 1, 4, 7 -> green; 2, 5 -> blue."""
    index = np.arange(num_colours)
    palette = np.zeros((num_colours, 3), dtype=np.int64)
    for channel in range(3):
        for group in range(3):
            bit = 3 * group + channel
            if bit < 8:
                palette[:, channel] |= ((index >> bit) & 1) << (7 - group)
    return palette.astype(np.uint8)


def reference_decode(rgb, palette):
    codes = (rgb[..., 0].astype(np.int64) << 16) | (rgb[..., 1].astype(np.int64) << 8) | rgb[..., 2]
    keys = (palette[:, 0].astype(np.int64) << 16) | (palette[:, 1].astype(np.int64) << 8) | palette[:, 2]
    out = np.full(codes.shape, IGNORE, dtype=np.int64)
    for index, key in enumerate(keys):
        out[codes == key] = index
    return out


def reference_frequencies(labels, num_classes, ignore_index):
    counted = labels[labels != ignore_index]
    counts = np.bincount(counted.ravel(), minlength=num_classes).astype(np.float64)
    return counts / counted.size if counted.size else counts


def _ints(r: Results, name: str, what: str, shape) -> np.ndarray:
    got = r.array(name, what)
    if got.shape != tuple(shape):
        raise Fail(f"{what} should have shape {tuple(shape)}" + ("" if r.hidden else f", got {got.shape}") + ".")
    if got.dtype.kind not in "iu":
        raise Fail(f"{what} should return integers" + ("" if r.hidden else f", got dtype {got.dtype}") + ".")
    return got


# ----------------------------------------------------------------------------- Part 1
SCENE = np.array([[23, 23, 23, 23, 11, 11], [23, 23, 17, 23, 11, 11], [7, 7, 26, 26, 9, 8], [1, 1, 1, 1, 1, 1]],
                 dtype=np.uint8)


def label_ids_visible(rng) -> Probe:
    arrays = {"scene": SCENE.copy(), "all": np.arange(34)}
    calls = [Call("scene", "label_ids_to_train_ids", [array("scene")]),
             Call("all", "label_ids_to_train_ids", [array("all")])]

    def judge(r: Results) -> str:
        got = _ints(r, "scene", "label_ids_to_train_ids of the 4x6 scene", (4, 6))
        want = LABEL_TO_TRAIN[SCENE]
        if not np.array_equal(got, want):
            raise Fail("Expected (sky 10, building 2, pole 5, road 0, car 13, parking 255, sidewalk 1, ego vehicle "
                       f"255)\n{want}\ngot\n{got}")
        got = _ints(r, "all", "label_ids_to_train_ids(np.arange(34))", (34,))
        if not np.array_equal(got, LABEL_TO_TRAIN[:34]):
            raise Fail(f"labelIds 0..33 should give {LABEL_TO_TRAIN[:34].tolist()},\ngot {got.tolist()} (every "
                       "labelId not in the table gives 255).")
        return "Part 1 visible checks passed."
    return Probe(calls, arrays, judge)


def label_ids_hidden(rng) -> Probe:
    cases = [((3, 7, 9), 34, np.uint8), ((11, 5), 34, np.int64), ((2, 6, 6), 256, np.uint8), ((40,), 256, np.int64)]
    cases.append(((int(rng.integers(1, 4)), int(rng.integers(2, 9)), int(rng.integers(2, 9))), 34, np.uint8))
    arrays, calls, expected = {}, [], {}
    for i, (shape, high, dtype) in enumerate(cases):
        ids = rng.integers(0, high, size=shape).astype(dtype)
        if high == 34:
            ids.flat[: 34] = np.arange(min(34, ids.size))      # every labelId occurs
        else:
            ids.flat[0] = 255
        arrays[f"ids{i}"] = ids
        calls.append(Call(f"c{i}", "label_ids_to_train_ids", [array(f"ids{i}")]))
        expected[f"c{i}"] = (LABEL_TO_TRAIN[ids], shape, high)

    def judge(r: Results) -> str:
        for name, (want, shape, high) in expected.items():
            if high != 34 and r.meta.get(name, {}).get("status") == "error":
                raise Fail(f"label_ids_to_train_ids with values above 33 (shape {shape}) raised "
                           f"{str(r.meta[name].get('ename', 'an error'))[:60]}: they must give 255.")
            got = _ints(r, name, f"label_ids_to_train_ids on shape {shape}", shape)
            if not np.array_equal(got, want):
                if high == 34:
                    raise Fail(f"label_ids_to_train_ids on random labelIds 0-33, shape {shape}: wrong trainIds "
                               "(convert from the original values, e.g. with a lookup table).")
                raise Fail(f"label_ids_to_train_ids with values above 33 (shape {shape}): they must give 255.")
        return "Part 1 hidden checks passed."
    return Probe(calls, arrays, judge, hidden=True)


# ----------------------------------------------------------------------------- Part 2
VISIBLE_COLOURS = [(0, (0, 0, 0)), (1, (128, 0, 0)), (2, (0, 128, 0)), (3, (128, 128, 0)), (4, (0, 0, 128)),
                   (8, (64, 0, 0)), (15, (192, 128, 128)), (255, (224, 224, 192))]


def palette_visible(rng) -> Probe:
    calls = [Call("p", "voc_palette", []), Call("p21", "voc_palette", [value(21)])]

    def judge(r: Results) -> str:
        got = r.array("p", "voc_palette()")
        if got.shape != (256, 3):
            raise Fail(f"voc_palette() should have shape (256, 3), got {got.shape}.")
        if got.dtype != np.uint8:
            raise Fail(f"voc_palette() should be uint8, got {got.dtype}.")
        for index, colour in VISIBLE_COLOURS:
            if tuple(int(v) for v in got[index]) != colour:
                raise Fail(f"Index {index} should be {colour}, got {tuple(int(v) for v in got[index])}.")
        if r.array("p21", "voc_palette(21)").shape != (21, 3):
            raise Fail("voc_palette(21) should have 21 rows (VOC's classes).")
        return "Part 2 visible checks passed."
    return Probe(calls, {}, judge)


def palette_hidden(rng) -> Probe:
    sizes = [1, 21, 100, int(rng.integers(2, 256))]
    calls = [Call("full", "voc_palette", [])] + [Call(f"n{n}", "voc_palette", [value(n)]) for n in sizes]
    want = reference_voc_palette()

    def judge(r: Results) -> str:
        got = r.array("full", "voc_palette()")
        if got.shape != (256, 3) or not np.array_equal(got, want):
            raise Fail("voc_palette(): some of the 256 colours are wrong.")
        for n in sizes:
            part = r.array(f"n{n}", f"voc_palette({n})")
            if part.shape != (n, 3) or not np.array_equal(part, want[:n]):
                raise Fail(f"voc_palette({n}) is wrong.")
        return "Part 2 hidden checks passed."
    return Probe(calls, {}, judge, hidden=True)


# ----------------------------------------------------------------------------- Part 3
DECODE_PALETTE = np.array([[0, 0, 0], [128, 0, 0], [0, 128, 0], [128, 128, 0], [0, 0, 128], [128, 0, 128],
                           [0, 128, 128], [128, 128, 128], [64, 0, 0], [192, 0, 0], [64, 128, 0], [192, 128, 0],
                           [64, 0, 128], [192, 0, 128], [64, 128, 128], [192, 128, 128], [224, 224, 192]])
DECODE_LABELS = np.array([[0, 1, 1, 16], [2, 2, 15, 15], [0, 15, 16, 0]])


def decode_visible(rng) -> Probe:
    rgb = DECODE_PALETTE[DECODE_LABELS].astype(np.uint8)
    rgb[2, 3] = (10, 20, 30)
    calls = [Call("d", "decode_palette", [array("rgb"), array("palette")])]

    def judge(r: Results) -> str:
        got = _ints(r, "d", "decode_palette of a (3, 4, 3) image", (3, 4))
        want = DECODE_LABELS.copy()
        want[2, 3] = IGNORE
        if not np.array_equal(got, want):
            raise Fail("Each pixel should get the index of its colour in the palette (void (224, 224, 192) is row 16 "
                       f"here) and an unknown colour 255:\n{want}\ngot\n{got}")
        return "Part 3 visible checks passed."
    return Probe(calls, {"rgb": rgb, "palette": DECODE_PALETTE.copy()}, judge)


def decode_hidden(rng) -> Probe:
    cases = [(5, (4, 6)), (30, (2, 5, 7)), (200, (9, 3)), (int(rng.integers(2, 50)), (2, 3, 4))]
    arrays, calls, expected = {}, [], {}
    for i, (k, shape) in enumerate(cases):
        codes = rng.choice(256 ** 3, size=k, replace=False)
        codes = codes[codes != 0x010203]
        while len(codes) < k:
            codes = np.append(codes, int(rng.integers(0x010204, 256 ** 3)))
        palette = np.stack([codes >> 16, (codes >> 8) & 255, codes & 255], axis=1).astype(np.int64)
        palette[: min(k, 3)] = [[200, 10, 0], [10, 200, 0], [0, 10, 200]][: min(k, 3)]   # equal channel sums
        indices = rng.integers(0, k, size=shape)
        rgb = palette[indices].astype(np.uint8)
        unknown = rng.random(shape) < 0.2
        rgb[unknown] = (1, 2, 3)
        arrays[f"rgb{i}"], arrays[f"pal{i}"] = rgb, palette
        calls.append(Call(f"d{i}", "decode_palette", [array(f"rgb{i}"), array(f"pal{i}")]))
        expected[f"d{i}"] = (reference_decode(rgb, palette), shape, k)

    def judge(r: Results) -> str:
        for name, (want, shape, k) in expected.items():
            got = _ints(r, name, f"decode_palette of a {shape + (3,)} array", shape)
            if not np.array_equal(got, want):
                raise Fail(f"decode_palette with a random palette of {k} colours: wrong indices.")
        return "Part 3 hidden checks passed."
    return Probe(calls, arrays, judge, hidden=True)


# ----------------------------------------------------------------------------- Part 4
CAMVID = np.array([[11, 11, 11, 11, 11, 11], [0, 0, 0, 1, 1, 1], [3, 3, 3, 3, 8, 1], [3, 3, 4, 4, 8, 8]])


def _floats(r: Results, name: str, what: str, length: int) -> np.ndarray:
    got = r.array(name, what)
    if got.shape != (length,):
        raise Fail(f"{what} should have one entry per class, shape ({length},)"
                   + ("" if r.hidden else f", got {got.shape}") + ".")
    if got.dtype.kind not in "iuf":
        raise Fail(f"{what} should return numbers.")
    return got.astype(np.float64)


def frequencies_visible(rng) -> Probe:
    calls = [Call("f", "class_frequencies", [array("camvid")], {"num_classes": value(11), "ignore_index": value(11)})]

    def judge(r: Results) -> str:
        got = _floats(r, "f", "class_frequencies of the CamVid example", 11)
        want = np.array([3, 4, 0, 6, 2, 0, 0, 0, 3, 0, 0]) / 18
        if not np.allclose(got, want):
            raise Fail("18 of the 24 pixels are labelled; expected the counts [3, 4, 0, 6, 2, 0, 0, 0, 3, 0, 0] / 18 "
                       f"=\n{np.round(want, 4)}\ngot\n{np.round(got, 4)}")
        return "Part 4 visible checks passed."
    return Probe(calls, {"camvid": CAMVID.copy()}, judge)


def frequencies_hidden(rng) -> Probe:
    cases = [((5, 8, 9), 19, 255), ((30, 4), 11, 11), ((7, 7), 5, 255),
             ((int(rng.integers(2, 9)), int(rng.integers(2, 9))), int(rng.integers(4, 30)), 255)]
    arrays, calls, expected = {}, [], {}
    for i, (shape, classes, ignore) in enumerate(cases):
        labels = rng.integers(0, classes - 2, size=shape)              # the last two classes absent
        labels[rng.random(shape) < 0.3] = ignore
        labels.flat[0] = ignore
        arrays[f"l{i}"] = labels
        calls.append(Call(f"f{i}", "class_frequencies", [array(f"l{i}")],
                          {"num_classes": value(classes), "ignore_index": value(ignore)}))
        expected[f"f{i}"] = (reference_frequencies(labels, classes, ignore), shape, classes, ignore)
    arrays["ignored"] = np.full((3, 3), 255)
    arrays["outside"] = np.array([[0, 1], [12, 255]])
    calls += [Call("none", "class_frequencies", [array("ignored"), value(4), value(255)]),
              Call("bad", "class_frequencies", [array("outside"), value(11), value(255)])]

    def judge(r: Results) -> str:
        for name, (want, shape, classes, ignore) in expected.items():
            got = _floats(r, name, f"class_frequencies with {classes} classes", classes)
            if not np.allclose(got, want):
                raise Fail(f"class_frequencies on random labels {shape} (ignore {ignore}): wrong values.")
        got = _floats(r, "none", "class_frequencies when every pixel is ignored", 4)
        if not np.allclose(got, 0):
            raise Fail("When every pixel is ignored the frequencies should be zeros.")
        bad = r.meta.get("bad", {})
        if bad.get("status") != "error" or bad.get("ename") != "ValueError":
            raise Fail("A label value outside the classes (12 with 11 classes) should raise ValueError.")
        return "Part 4 hidden checks passed."
    return Probe(calls, arrays, judge, hidden=True)


CHECKS = {
    "test_label_ids_visible": label_ids_visible,
    "test_label_ids_hidden": label_ids_hidden,
    "test_palette_visible": palette_visible,
    "test_palette_hidden": palette_hidden,
    "test_decode_visible": decode_visible,
    "test_decode_hidden": decode_hidden,
    "test_frequencies_visible": frequencies_visible,
    "test_frequencies_hidden": frequencies_hidden,
}
