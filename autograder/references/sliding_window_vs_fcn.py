"""Trusted checks of ``sliding_window_vs_fcn``: one per grade cell. Patches and labels
are compared with pixel-by-pixel NumPy references written here; the classifiers and
FCNs the student's functions call are the harness's fakes (``linear``, ``centre``,
``positional``), whose calls are recorded. The traffic-light windows (Part 3) are compared
with a NumPy reference, and the calls that must fail are read as errors (``raised``). The
FCN itself is graded in fcn_basics; here it is given."""

from __future__ import annotations

import numpy as np

from autograder.references import Call, Fail, Probe, Results
from autograder.references.harness_data import array, fake, fake_calls, items, raised, value


# ----------------------------------------------------------------------------- references
def reference_patches(page, ps, stride):
    page = page if page.ndim == 3 else page[:, :, None]
    h, w, c = page.shape
    out, centres = [], []
    for r in range(0, h, stride):
        for col in range(0, w, stride):
            patch = np.zeros((ps, ps, c), dtype=np.float32)
            for i in range(ps):
                for j in range(ps):
                    y, x = r - ps // 2 + i, col - ps // 2 + j
                    if 0 <= y < h and 0 <= x < w:
                        patch[i, j] = page[y, x]
            out.append(patch)
            centres.append((r, col))
    return np.array(out), np.array(centres)


def reference_sliding_window(weights, page, ps, stride):
    patches, centres = reference_patches(page, ps, stride)
    labels = (patches.reshape(len(patches), -1) @ weights).argmax(-1)
    out = np.zeros(page.shape[:2], dtype=np.uint8)
    for (r, c), label in zip(centres, labels):
        out[r:r + stride, c:c + stride] = label
    return out


# ----------------------------------------------------------------------------- Part 1
def _array_pair(r: Results, name: str, what: str):
    """The two arrays of a returned tuple: (patches, centres) or (boxes, crops)."""
    first, second = items(r, name, what, 2)
    return first, second


# The centres of a 5x5 page with stride 2, row-major.
PATCH_CENTRES = [[0, 0], [0, 2], [0, 4], [2, 0], [2, 2], [2, 4], [4, 0], [4, 2], [4, 4]]


def patches_visible(rng) -> Probe:
    page = np.arange(1, 26, dtype=np.float32).reshape(5, 5)
    calls = [Call("p", "extract_patches", [array("page")], {"patch_size": value(3), "stride": value(2)}, kind="tuple")]

    def judge(r: Results) -> str:
        patches, centres = _array_pair(r, "p", "extract_patches(page, patch_size=3, stride=2)")
        if patches.shape != (9, 3, 3, 1):
            raise Fail("A 5x5 page with stride 2 has 3 x 3 = 9 centres, so patches should have shape (9, 3, 3, 1); "
                       f"got {patches.shape}.")
        if patches.dtype != np.float32:
            raise Fail(f"patches should be float32, got {patches.dtype}.")
        if centres.shape != (9, 2) or centres.tolist() != PATCH_CENTRES:
            raise Fail(f"centers should be {PATCH_CENTRES} (row-major), got {centres.tolist()}.")
        if not np.array_equal(patches[4, :, :, 0], page[1:4, 1:4]):
            raise Fail(f"The patch centred on (2, 2) should be page[1:4, 1:4] =\n{page[1:4, 1:4]}\n"
                       f"got\n{patches[4, :, :, 0]}")
        corner = np.array([[0, 0, 0], [0, 1, 2], [0, 6, 7]], dtype=np.float32)
        if not np.array_equal(patches[0, :, :, 0], corner):
            raise Fail(f"The patch centred on (0, 0) should be zero-padded above and left:\n{corner}\n"
                       f"got\n{patches[0, :, :, 0]}")
        return "Part 1 visible checks passed."
    return Probe(calls, {"page": page}, judge)


def patches_hidden(rng) -> Probe:
    configs = [(9, 7, None, 4, 2), (10, 13, 3, 5, 3), (6, 6, 1, 1, 1), (12, 5, None, 8, 7), (11, 17, 2, 2, 10),
               (8, 8, None, 3, 1), (7, 9, 3, 6, 4), (8, 12, 2, 4, 4), (6, 10, None, 2, 1)]
    for _ in range(3):
        configs.append((int(rng.integers(3, 15)), int(rng.integers(3, 15)), [None, 1, 2, 3][int(rng.integers(0, 4))],
                        int(rng.integers(1, 9)), int(rng.integers(1, 6))))
    arrays, calls, expected = {}, [], {}
    for i, (h, w, c, ps, stride) in enumerate(configs):
        page = rng.random((h, w) if c is None else (h, w, c)).astype(np.float32)
        arrays[f"page{i}"] = page
        calls.append(Call(f"p{i}", "extract_patches", [array(f"page{i}"), value(ps), value(stride)], kind="tuple"))
        expected[f"p{i}"] = (reference_patches(page, ps, stride), page.shape, ps, stride)

    def judge(r: Results) -> str:
        for name, ((want_p, want_c), shape, ps, stride) in expected.items():
            what = f"extract_patches on a page of shape {shape} with patch_size={ps}, stride={stride}"
            got_p, got_c = _array_pair(r, name, what)
            if got_p.shape != want_p.shape:
                raise Fail(f"{what}: the patches have the wrong shape.")
            if got_c.shape != want_c.shape or not np.array_equal(got_c, want_c):
                raise Fail(f"{what}: the centres are wrong.")
            if not np.allclose(got_p, want_p):
                raise Fail(f"{what}: the patch contents are wrong "
                           "(check which pixel is the centre for this patch size, and the zero padding).")
        return "Part 1 hidden checks passed."
    return Probe(calls, arrays, judge, hidden=True)


# ----------------------------------------------------------------------------- Part 2
LABEL_PAGE = np.array([[0, 0, 1, 1, 2], [0, 3, 1, 1, 2], [3, 3, 3, 2, 2], [0, 0, 1, 1, 0]], dtype=np.float32)


def sliding_window_visible(rng) -> Probe:
    calls = [Call("s1", "predict_sliding_window", [fake("centre", classes=4), array("page")],
                  {"patch_size": value(3), "stride": value(1), "batch_size": value(6)}),
             Call("s2", "predict_sliding_window", [fake("centre", classes=4), array("page")],
                  {"patch_size": value(3), "stride": value(2)})]

    def judge(r: Results) -> str:
        got = r.array("s1", "predict_sliding_window(fake, label_page, patch_size=3, stride=1, batch_size=6)")
        if got.shape != (4, 5):
            raise Fail(f"The label map should have the page's shape (4, 5), got {got.shape}.")
        if got.dtype != np.uint8:
            raise Fail(f"The label map should be uint8, got {got.dtype}.")
        if not np.array_equal(got, LABEL_PAGE):
            raise Fail("With stride 1 every pixel is the centre of its own patch, so the fake classifier gives back "
                       f"the page:\n{LABEL_PAGE.astype(int)}\ngot\n{got}")
        sizes = [shape[0] for shape in fake_calls(r, "s1", "0")]
        if sizes != [6, 6, 6, 2]:
            raise Fail("20 patches with batch_size=6 should be classified in calls of [6, 6, 6, 2] patches; "
                       f"the calls had {sizes}.")
        got = r.array("s2", "predict_sliding_window(fake, label_page, patch_size=3, stride=2)")
        want = np.array([[0, 0, 1, 1, 2], [0, 0, 1, 1, 2], [3, 3, 3, 3, 2], [3, 3, 3, 3, 2]])
        if got.shape != want.shape or not np.array_equal(got, want):
            raise Fail("With stride 2 the class of the centre (r, c) fills the 2x2 cell whose top-left pixel is (r, c):"
                       f"\n{want}\ngot\n{got}")
        sizes = [shape[0] for shape in fake_calls(r, "s2", "0")]
        if sizes != [6]:
            raise Fail(f"6 patches with batch_size=256 should take one call; the calls had {sizes} patches.")
        return "Part 2 visible checks passed."
    return Probe(calls, {"page": LABEL_PAGE.copy()}, judge)


def sliding_window_hidden(rng) -> Probe:
    configs = [(13, 10, None, 5, 4, 3), (9, 14, 2, 4, 3, 7), (8, 8, 1, 3, 1, 64), (11, 6, None, 6, 5, 1),
               (7, 12, 3, 7, 2, 10)]
    configs.append((int(rng.integers(5, 16)), int(rng.integers(5, 16)), None, int(rng.integers(2, 8)),
                    int(rng.integers(2, 6)), int(rng.integers(1, 12))))
    arrays, calls, expected = {}, [], {}
    for i, (h, w, c, ps, stride, bs) in enumerate(configs):
        page = rng.random((h, w) if c is None else (h, w, c)).astype(np.float32)
        weights = rng.normal(size=(ps * ps * (c or 1), 5)).astype(np.float32)
        arrays[f"page{i}"], arrays[f"w{i}"] = page, weights
        calls.append(Call(f"s{i}", "predict_sliding_window",
                          [fake("linear", weights=f"w{i}"), array(f"page{i}"), value(ps), value(stride)],
                          {"batch_size": value(bs)}))
        expected[f"s{i}"] = (reference_sliding_window(weights, page, ps, stride), (h, w), ps, stride, bs)

    def judge(r: Results) -> str:
        for name, (want, (h, w), ps, stride, bs) in expected.items():
            got = r.array(name, "predict_sliding_window")
            if got.shape != (h, w):
                raise Fail(f"predict_sliding_window on a {h}x{w} page returned the wrong shape.")
            if not np.array_equal(got, want):
                raise Fail(f"predict_sliding_window on a {h}x{w} page, patch_size={ps}, stride={stride}: wrong labels.")
            sizes = [shape[0] for shape in fake_calls(r, name, "0")]
            num = -(-h // stride) * -(-w // stride)
            if not sizes or max(sizes) > bs or sum(sizes) != num or len(sizes) != -(-num // bs):
                raise Fail(f"predict_sliding_window with batch_size={bs}: every patch must be classified once, "
                           "in batches of at most batch_size.")
        return "Part 2 hidden checks passed."
    return Probe(calls, arrays, judge, hidden=True)


# ----------------------------------------------------------------------------- Part 3
# The lecture's traffic light: 200x200 windows with stride 100 on a 400x600 street photo.
TRAFFIC_FIRST_BOXES = [[0, 0, 200, 200], [0, 100, 200, 300], [0, 200, 200, 400], [0, 300, 200, 500],
                       [0, 400, 200, 600], [100, 0, 300, 200]]
TRAFFIC_WHOLE_LAMP = [1, 2, 6, 7]
RED = (255, 0, 0)


def street_photo() -> np.ndarray:
    """The visible test's 400x600 RGB street photo: a grey traffic light, its red lamp 15 x 16 pixels."""
    street = np.zeros((400, 600, 3), dtype=np.uint8)
    street[120:180, 250:290] = 40
    street[130:145, 262:278] = RED
    return street


def reference_windows(image, size, stride):
    """(boxes, crops) of the windows inside the image, row-major, bottom/right exclusive."""
    image = image if image.ndim == 3 else image[:, :, None]
    boxes = [(top, left, top + size, left + size)
             for top in range(0, image.shape[0] - size + 1, stride)
             for left in range(0, image.shape[1] - size + 1, stride)]
    crops = np.array([image[t:b, left:right] for t, left, b, right in boxes])
    return np.array(boxes).reshape(-1, 4), crops


def _must_raise(r: Results, name: str, what: str, why: str) -> None:
    error = raised(r, name, what)
    if error is None:
        raise Fail(f"{what} should raise ValueError ({why}); it returned normally.")
    if error[0] != "ValueError":
        raise Fail(f"{what} should raise ValueError ({why}), not {error[0]}.")


def traffic_windows_visible(rng) -> Probe:
    arrays = {"street": street_photo(), "small": np.zeros((150, 300))}
    calls = [Call("w", "sliding_windows", [array("street")], {"window_size": value(200), "stride": value(100)},
                  kind="tuple"),
             Call("bad", "sliding_windows", [array("small")], {"window_size": value(200), "stride": value(100)})]

    def judge(r: Results) -> str:
        boxes, crops = _array_pair(r, "w", "sliding_windows(street, window_size=200, stride=100)")
        if boxes.shape != (15, 4):
            raise Fail("(400 - 200) // 100 + 1 = 3 rows and (600 - 200) // 100 + 1 = 5 columns of windows make 15 "
                       f"windows, so boxes should have shape (15, 4); got {boxes.shape}.")
        if boxes[:6].tolist() != TRAFFIC_FIRST_BOXES:
            raise Fail("The first six boxes (top, left, bottom, right), row-major, bottom/right exclusive, should be "
                       f"{TRAFFIC_FIRST_BOXES}; got {boxes[:6].tolist()}.")
        if crops.shape != (15, 200, 200, 3):
            raise Fail(f"crops should have shape (15, 200, 200, 3), got {crops.shape}.")
        if not np.array_equal(crops[6], arrays["street"][100:300, 100:300]):
            raise Fail("Window 6 (box [100, 100, 300, 300]) should see street[100:300, 100:300].")
        whole_lamp = [i for i in range(15) if (crops[i] == RED).all(axis=-1).sum() == 15 * 16]
        if whole_lamp != TRAFFIC_WHOLE_LAMP:
            raise Fail(f"The red lamp (rows 130-144, columns 262-277) lies entirely in windows {TRAFFIC_WHOLE_LAMP}; "
                       f"your crops show it whole in {whole_lamp}.")
        _must_raise(r, "bad", "sliding_windows(a 150x300 image, window_size=200, stride=100)",
                    "a 200x200 window does not fit on a 150x300 image")
        return "Part 3 visible checks passed."
    return Probe(calls, arrays, judge)


def traffic_windows_hidden(rng) -> Probe:
    configs = [(9, 13, 3, 4, 3), (10, 10, None, 10, 4), (12, 7, 1, 5, 1), (20, 11, 2, 3, 7), (8, 30, None, 8, 5),
               (17, 19, 3, 6, 6)]
    configs.append((int(rng.integers(6, 25)), int(rng.integers(6, 25)), [None, 1, 3][int(rng.integers(0, 3))],
                    int(rng.integers(1, 7)), int(rng.integers(1, 9))))
    arrays, calls, expected = {}, [], {}
    for i, (h, w, c, size, stride) in enumerate(configs):
        image = rng.integers(0, 256, size=(h, w) if c is None else (h, w, c)).astype(np.uint8)
        arrays[f"image{i}"] = image
        calls.append(Call(f"w{i}", "sliding_windows", [array(f"image{i}"), value(size), value(stride)], kind="tuple"))
        expected[f"w{i}"] = (reference_windows(image, size, stride), image.shape, size, stride)
    errors = [((30, 60), 40, 10, "the window is higher than the image"),
              ((60, 30, 3), 40, 10, "the window is wider than the image"),
              ((50, 50), 20, 0, "stride 0")]
    for i, (shape, size, stride, _) in enumerate(errors):
        arrays[f"bad{i}"] = np.zeros(shape)
        calls.append(Call(f"bad{i}", "sliding_windows", [array(f"bad{i}"), value(size), value(stride)]))

    def judge(r: Results) -> str:
        for name, ((want_b, want_c), shape, size, stride) in expected.items():
            what = f"sliding_windows on an image of shape {shape} with window_size={size}, stride={stride}"
            got_b, got_c = _array_pair(r, name, what)
            if got_b.shape != want_b.shape:
                raise Fail(f"{what}: the number of windows is wrong.")
            if not np.array_equal(got_b, want_b):
                raise Fail(f"{what}: the boxes are wrong (row-major, bottom/right exclusive).")
            if got_c.shape != want_c.shape or not np.array_equal(got_c, want_c):
                raise Fail(f"{what}: the crops are wrong.")
        for i, (shape, size, stride, why) in enumerate(errors):
            _must_raise(r, f"bad{i}", f"sliding_windows on an image of shape {shape} with window_size={size}, "
                                      f"stride={stride}", why)
        return "Part 3 hidden checks passed."
    return Probe(calls, arrays, judge, hidden=True)


# ----------------------------------------------------------------------------- Part 4
def predict_fcn_visible(rng) -> Probe:
    label_page = rng.integers(0, 4, size=(13, 21)).astype(np.float32)
    arrays = {"page": label_page, "fits": np.zeros((16, 8))}
    calls = [Call("f1", "predict_fcn", [fake("positional", classes=4, row=0, col=0), array("page")]),
             Call("f2", "predict_fcn", [fake("positional", classes=4, row=0, col=0), array("fits")])]

    def judge(r: Results) -> str:
        got = r.array("f1", "predict_fcn(fake, a 13x21 page)")
        shapes = fake_calls(r, "f1", "0")
        if shapes != [(1, 16, 24, 1)]:
            raise Fail("A 13x21 page should be padded to one batch of shape (1, 16, 24, 1) (next multiples of 8, "
                       f"one channel); predict was called with shapes {shapes}.")
        if got.shape != (13, 21) or got.dtype != np.uint8:
            raise Fail(f"Expected a uint8 label map of shape (13, 21), got {got.dtype} {got.shape}.")
        if not np.array_equal(got, label_page):
            raise Fail("The fake FCN gives back each pixel's value, so the labels should equal the page; they differ "
                       f"at {int((got != label_page).sum())} of 273 pixels "
                       "(pad at the bottom/right only and crop [:H, :W]).")
        r.array("f2", "predict_fcn(fake, a 16x8 page)")
        shapes = fake_calls(r, "f2", "0")
        if shapes != [(1, 16, 8, 1)]:
            raise Fail(f"A 16x8 page already fits and must not be padded; predict got {shapes}.")
        return "Part 4 visible checks passed."
    return Probe(calls, arrays, judge)


def predict_fcn_hidden(rng) -> Probe:
    configs = [(5, 9, None, 8), (17, 31, 2, 8), (24, 8, 1, 8), (10, 7, 3, 4), (33, 20, None, 16), (3, 3, None, 1)]
    configs.append((int(rng.integers(2, 40)), int(rng.integers(2, 40)), None, int(rng.choice([2, 4, 8]))))
    arrays, calls, expected = {}, [], {}
    for i, (h, w, c, m) in enumerate(configs):
        page = rng.integers(0, 5, size=(h, w) if c is None else (h, w, c)).astype(np.float32)
        arrays[f"page{i}"] = page
        calls.append(Call(f"f{i}", "predict_fcn", [fake("positional", classes=5, row=1, col=2), array(f"page{i}")],
                          {"multiple": value(m)}))
        page3 = page if page.ndim == 3 else page[:, :, None]
        want = ((page3[..., 0].astype(int) + np.arange(h)[:, None] + 2 * np.arange(w)[None, :]) % 5).astype(np.uint8)
        expected[f"f{i}"] = (want, page.shape, m, (1, -(-h // m) * m, -(-w // m) * m, page3.shape[2]))

    def judge(r: Results) -> str:
        for name, (want, shape, m, padded) in expected.items():
            got = r.array(name, "predict_fcn")
            if fake_calls(r, name, "0") != [padded]:
                raise Fail(f"predict_fcn on a page of shape {shape} with multiple={m}: predict must be called once "
                           "on the zero-padded page.")
            if got.shape != want.shape or got.dtype != np.uint8:
                raise Fail(f"predict_fcn on a page of shape {shape}: wrong shape or dtype.")
            if not np.array_equal(got, want):
                raise Fail(f"predict_fcn on a page of shape {shape} with multiple={m}: wrong labels "
                           "(the page must stay at the top-left).")
        return "Part 4 hidden checks passed."
    return Probe(calls, arrays, judge, hidden=True)


CHECKS = {
    "test_patches_visible": patches_visible,
    "test_patches_hidden": patches_hidden,
    "test_sliding_window_visible": sliding_window_visible,
    "test_sliding_window_hidden": sliding_window_hidden,
    "test_traffic_windows_visible": traffic_windows_visible,
    "test_traffic_windows_hidden": traffic_windows_hidden,
    "test_predict_fcn_visible": predict_fcn_visible,
    "test_predict_fcn_hidden": predict_fcn_hidden,
}
