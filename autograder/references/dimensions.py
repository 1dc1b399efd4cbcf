"""Trusted checks of ``dimensions``: one per grade cell, the cases of the notebook's
visible tests and, for the hidden cells, fresh random sizes against integer arithmetic
written here (the notebook's hidden tests also ask Keras; the formulas below are those
Keras implements, checked against Keras in tests/validity/test_grading_validity.py)."""

from __future__ import annotations

from autograder.references import Call, Fail, Probe, Results
from autograder.references.harness_data import integer, ints, json_value, pair, value
from autograder.references.numpy_reference import conv_output_size, conv_transpose_output_size, pool_output_size


# ----------------------------------------------------------------------------- references
def bottleneck(h, w, k, num_pools, padding):
    for _ in range(num_pools):
        h, w = pool_output_size(h, 2, 2, padding), pool_output_size(w, 2, 2, padding)
    return (h, w, k)


def decoded(h, w, classes, num_pools, padding):
    hh, ww, _ = bottleneck(h, w, 1, num_pools, padding)
    return (hh * 2 ** num_pools, ww * 2 ** num_pools, classes)


def padded(size, num_pools):
    m = 2 ** num_pools
    return -(-size // m) * m


def _kernel(k):
    return (k, k) if isinstance(k, int) else tuple(k)


def conv_params(k, cin, f, bias=True):
    kh, kw = _kernel(k)
    return kh * kw * cin * f + (f if bias else 0)


def dense_params(i, u, bias=True):
    return i * u + (u if bias else 0)


NAMES = ["conv1", "pool1", "conv2", "pool2", "conv3", "pool3", "fc4", "fc5",
         "up1", "fuse2", "up2", "fuse3", "up3", "fuse4", "logits", "softmax"]


def skip_table(h, w, classes, cin=1, decoder="upscaling"):
    """The slide's skip FCN, row by row: (name, (h, w, c), params)."""
    t = decoder == "transposed"
    c1, c2, c3 = (h, w, 40), (h // 2, w // 2, 80), (h // 4, w // 4, 80)
    p3 = (h // 8, w // 8, 80)
    fc = (h // 8, w // 8, 160)
    up1 = (h // 4, w // 4, 80 if t else 160)
    fuse2 = (h // 4, w // 4, up1[2] + 80)
    up2 = (h // 2, w // 2, 80 if t else fuse2[2])
    fuse3 = (h // 2, w // 2, up2[2] + 80)
    up3 = (h, w, 40 if t else fuse3[2])
    fuse4 = (h, w, up3[2] + 40)
    return [
        ("conv1", c1, 9 * cin * 40 + 40), ("pool1", (h // 2, w // 2, 40), 0),
        ("conv2", c2, 16 * 40 * 80 + 80), ("pool2", (h // 4, w // 4, 80), 0),
        ("conv3", c3, 16 * 80 * 80 + 80), ("pool3", p3, 0),
        ("fc4", fc, 80 * 160 + 160), ("fc5", fc, 160 * 160 + 160),
        ("up1", up1, 9 * 160 * 80 + 80 if t else 0), ("fuse2", fuse2, 0),
        ("up2", up2, 9 * fuse2[2] * 80 + 80 if t else 0), ("fuse3", fuse3, 0),
        ("up3", up3, 9 * fuse3[2] * 40 + 40 if t else 0), ("fuse4", fuse4, 0),
        ("logits", (h, w, classes), fuse4[2] * classes + classes), ("softmax", (h, w, classes), 0),
    ]


# ----------------------------------------------------------------------------- Part 1
SIZE_CASES = [
    ("conv_output_size", (4, 3, 1, "valid"), 2, "slide 'Standard': 3x3 filter, stride 1, 4x4 input"),
    ("conv_output_size", (5, 3, 2, "valid"), 2, "slide 'Stride': 3x3 filter, stride 2, 5x5 input"),
    ("conv_output_size", (5, 3, 1, "same"), 5, "slide 'Padding': 3x3 filter, stride 1, 5x5 input"),
    ("conv_output_size", (7, 3, 2, "same"), 4, "'same' rounds up: ceil(7 / 2)"),
    ("pool_output_size", (256, 2), 128, "2x2 pooling (strides=None) of 256 pixels"),
    ("pool_output_size", (7, 2, None, "valid"), 3, "2x2 'valid' pooling of 7 pixels drops the last pixel"),
    ("pool_output_size", (7, 2, None, "same"), 4, "2x2 'same' pooling of 7 pixels keeps it"),
    ("pool_output_size", (9, 3, 2, "valid"), 4, "3x3 pooling with stride 2 of 9 pixels"),
    ("upscaling_output_size", (32, 8), 256, "UpSampling 8x8 of 32 pixels"),
]


def sizes_visible(rng) -> Probe:
    calls = [Call(f"v{i}", fn, [value(a) for a in args]) for i, (fn, args, _, _) in enumerate(SIZE_CASES)]

    def judge(r: Results) -> str:
        for i, (fn, args, want, what) in enumerate(SIZE_CASES):
            call = f"{fn}{args}"
            got = integer(r, f"v{i}", call, strict=True)
            if got != want:
                raise Fail(f"{call} returned {got!r}; expected {want} ({what}).")
        return "Part 1 visible checks passed."
    return Probe(calls, {}, judge)


def sizes_hidden(rng) -> Probe:
    calls, expected = [], {}
    for i in range(80):
        n, k, s = int(rng.integers(1, 400)), int(rng.integers(1, 9)), int(rng.integers(1, 6))
        p = str(rng.choice(["valid", "same"]))
        if p == "valid" and k > n:
            continue
        args = [value(n), value(k), value(s), value(p)]
        calls.append(Call(f"c{i}", "conv_output_size", args))
        expected[f"c{i}"] = (conv_output_size(n, k, s, p), "conv_output_size", f" with padding={p!r}")
        calls.append(Call(f"p{i}", "pool_output_size", args))
        expected[f"p{i}"] = (pool_output_size(n, k, s, p), "pool_output_size", f" with padding={p!r}")
        if p == "valid" or k > 1:
            calls.append(Call(f"d{i}", "pool_output_size", [value(n), value(k), value(None), value(p)]))
            expected[f"d{i}"] = (pool_output_size(n, k, None, p), "pool_output_size",
                                 " with strides=None (strides=None means strides=pool_size)")
        f = int(rng.integers(1, 17))
        calls.append(Call(f"u{i}", "upscaling_output_size", [value(n), value(f)]))
        expected[f"u{i}"] = (n * f, "upscaling_output_size", "")

    def judge(r: Results) -> str:
        # conv_output_size first: pool_output_size usually calls it, so its mistakes show there too
        for name, (want, fn, detail) in sorted(expected.items(), key=lambda item: "cpdu".index(item[0][0])):
            if integer(r, name, fn) != want:
                raise Fail(f"{fn} is wrong for some sizes, kernels and strides{detail}.")
        return "Part 1 hidden checks passed."
    return Probe(calls, {}, judge, hidden=True)


# ----------------------------------------------------------------------------- Part 2
TRANSPOSE_CASES = [
    (2, 3, 1, "valid", None, 4, "slide 'Standard': 3x3 filter, stride 1, 2x2 input"),
    (2, 3, 2, "valid", None, 5, "slide 'Stride': 3x3 filter, stride 2, 2x2 input"),
    (5, 3, 1, "same", None, 5, "slide 'Padding': 3x3 filter, stride 1, 5x5 input"),
    (16, 3, 2, "same", None, 32, "the FCN decoder's 3x3, stride 2, 'same' doubles the size"),
    (3, 2, 3, "valid", None, 9, "kernel 2 < stride 3: the gaps are kept, (3 - 1) * 3 + max(2, 3)"),
    (2, 3, 2, "valid", 1, 6, "output_padding=1 adds one pixel to the 5 of the 'Stride' example"),
    (4, 3, 2, "same", 0, 7, "'same', output_padding=0: the 7-pixel input of a stride-2 convolution with output 4"),
    (4, 3, 2, "same", 1, 8, "'same', output_padding=1: the 8-pixel input"),
]


def transpose_visible(rng) -> Probe:
    calls = [Call(f"v{i}", "conv_transpose_output_size", [value(v) for v in case[:5]])
             for i, case in enumerate(TRANSPOSE_CASES)]

    def judge(r: Results) -> str:
        for i, (n, k, s, p, op, want, what) in enumerate(TRANSPOSE_CASES):
            call = (f"conv_transpose_output_size({n}, kernel_size={k}, stride={s}, padding={p!r}, "
                    f"output_padding={op})")
            got = integer(r, f"v{i}", call)
            if got != want:
                raise Fail(f"{call} returned {got!r}; expected {want} ({what}).")
        return "Part 2 visible checks passed."
    return Probe(calls, {}, judge)


def transpose_hidden(rng) -> Probe:
    calls, expected = [], {}
    for i in range(200):
        n, k, s = int(rng.integers(1, 200)), int(rng.integers(1, 8)), int(rng.integers(1, 5))
        p = str(rng.choice(["valid", "same"]))
        op = None if rng.random() < 0.5 else int(rng.integers(0, s))
        calls.append(Call(f"t{i}", "conv_transpose_output_size", [value(n), value(k), value(s), value(p), value(op)]))
        expected[f"t{i}"] = (conv_transpose_output_size(n, k, s, p, op), p, op, k, s)

    def judge(r: Results) -> str:
        for name, (want, p, op, k, s) in expected.items():
            if integer(r, name, "conv_transpose_output_size") != want:
                case = "output_padding=None" if op is None else "an output_padding"
                extra = " and a stride larger than the kernel" if (p == "valid" and op is None and s > k) else ""
                raise Fail(f"conv_transpose_output_size is wrong for some sizes with padding={p!r}, {case}{extra}.")
        return "Part 2 hidden checks passed."
    return Probe(calls, {}, judge, hidden=True)


# ----------------------------------------------------------------------------- Part 3
BOTTLENECK_CASES = [
    ("bottleneck_shape(256, 512, k=64)", "bottleneck_shape", (256, 512, 64), (16, 32, 64)),
    ("bottleneck_shape(100, 100, k=8, pool_padding='valid')", "bottleneck_shape", (100, 100, 8, 4, "valid"), (6, 6, 8)),
    ("bottleneck_shape(100, 100, k=8, pool_padding='same')", "bottleneck_shape", (100, 100, 8, 4, "same"), (7, 7, 8)),
    ("bottleneck_shape(64, 48, k=5, num_pools=3)", "bottleneck_shape", (64, 48, 5, 3), (8, 6, 5)),
    ("decoded_shape(256, 512, num_classes=4)", "decoded_shape", (256, 512, 4), (256, 512, 4)),
    ("decoded_shape(100, 100, num_classes=4)", "decoded_shape", (100, 100, 4), (96, 96, 4)),
    ("padded_size(100)", "padded_size", (100,), 112),
    ("padded_size(256)", "padded_size", (256,), 256),
    ("padded_size(100, num_pools=3)", "padded_size", (100, 3), 104),
]


def bottleneck_visible(rng) -> Probe:
    calls = [Call(f"v{i}", fn, [value(a) for a in args]) for i, (_, fn, args, _) in enumerate(BOTTLENECK_CASES)]

    def judge(r: Results) -> str:
        for i, (call, fn, _, want) in enumerate(BOTTLENECK_CASES):
            got = integer(r, f"v{i}", call) if fn == "padded_size" else ints(r, f"v{i}", call, 3)
            if got != want:
                raise Fail(f"{call} returned {got!r}; expected {want}.")
        return "Part 3 visible checks passed."
    return Probe(calls, {}, judge)


def bottleneck_hidden(rng) -> Probe:
    calls, expected = [], {}
    for i in range(60):
        h, w = int(rng.integers(16, 600)), int(rng.integers(16, 600))
        pools, k, c = int(rng.integers(1, 5)), int(rng.integers(1, 300)), int(rng.integers(2, 10))
        p = str(rng.choice(["valid", "same"]))
        calls.append(Call(f"b{i}", "bottleneck_shape", [value(h), value(w), value(k), value(pools), value(p)]))
        expected[f"b{i}"] = ("bottleneck_shape", bottleneck(h, w, k, pools, p), p)
        calls.append(Call(f"d{i}", "decoded_shape", [value(h), value(w), value(c), value(pools), value(p)]))
        expected[f"d{i}"] = ("decoded_shape", decoded(h, w, c, pools, p), p)
        calls.append(Call(f"s{i}", "padded_size", [value(h), value(pools)]))
        expected[f"s{i}"] = ("padded_size", padded(h, pools), None)

    def judge(r: Results) -> str:
        for name, (fn, want, p) in expected.items():
            got = integer(r, name, fn) if fn == "padded_size" else ints(r, name, fn, 3)
            if got != want:
                detail = "" if p is None else f" with pool_padding={p!r} (round at every stage)"
                raise Fail(f"{fn} is wrong for some page sizes and depths{detail}.")
        return "Part 3 hidden checks passed."
    return Probe(calls, {}, judge, hidden=True)


# ----------------------------------------------------------------------------- Part 4
PARAM_CASES = [
    ("conv2d_params(3, in_channels=1, filters=40)", "conv2d_params", (3, 1, 40), {}, 400, "the FCN's first layer"),
    ("conv2d_params(4, in_channels=40, filters=80)", "conv2d_params", (4, 40, 80), {}, 51280,
     "Conv 80, 4x4 after 40 channels"),
    ("conv2d_params((1, 1), in_channels=160, filters=160)", "conv2d_params", ((1, 1), 160, 160), {}, 25760,
     "the skip FCN's fc5"),
    ("conv2d_params((3, 5), in_channels=2, filters=7, use_bias=False)", "conv2d_params", ((3, 5), 2, 7),
     {"use_bias": False}, 210, "non-square kernel, no bias"),
    ("conv2d_transpose_params(3, in_channels=160, filters=80)", "conv2d_transpose_params", (3, 160, 80), {}, 115280,
     "the transposed-skip FCN's up1"),
    ("conv2d_transpose_params((2, 4), in_channels=6, filters=3, use_bias=False)", "conv2d_transpose_params",
     ((2, 4), 6, 3), {"use_bias": False}, 144, "non-square kernel, no bias"),
    ("dense_params(1280, 100)", "dense_params", (1280, 100), {}, 128100,
     "the patch CNN's Dense(100) on 4x4x80 features"),
    ("dense_params(100, 4, use_bias=False)", "dense_params", (100, 4), {"use_bias": False}, 400, "no bias"),
]


def params_visible(rng) -> Probe:
    calls = [Call(f"v{i}", fn, [pair(a) for a in args], {k: value(v) for k, v in kw.items()})
             for i, (_, fn, args, kw, _, _) in enumerate(PARAM_CASES)]

    def judge(r: Results) -> str:
        for i, (call, _, _, _, want, what) in enumerate(PARAM_CASES):
            got = integer(r, f"v{i}", call)
            if got != want:
                raise Fail(f"{call} returned {got!r}; expected {want} ({what}).")
        return "Part 4 visible checks passed."
    return Probe(calls, {}, judge)


def params_hidden(rng) -> Probe:
    calls, expected = [], {}
    for i in range(30):
        kh, kw = int(rng.integers(1, 6)), int(rng.integers(1, 6))
        ks = kh if rng.random() < 0.5 else (kh, kw)
        cin, f, bias = int(rng.integers(1, 50)), int(rng.integers(1, 50)), bool(rng.random() < 0.7)
        for fn in ("conv2d_params", "conv2d_transpose_params"):
            calls.append(Call(f"{fn}{i}", fn, [pair(ks), value(cin), value(f), value(bias)]))
            expected[f"{fn}{i}"] = (fn, conv_params(ks, cin, f, bias), bias)
        calls.append(Call(f"dense{i}", "dense_params", [value(cin * 7), value(f), value(bias)]))
        expected[f"dense{i}"] = ("dense_params", dense_params(cin * 7, f, bias), bias)

    def judge(r: Results) -> str:
        for name, (fn, want, bias) in expected.items():
            if integer(r, name, fn) != want:
                raise Fail(f"{fn} disagrees with the Keras layer's count_params() for some layers"
                           f"{'' if bias else ' without bias'} (kernel sizes, input channels, filters).")
        return "Part 4 hidden checks passed."
    return Probe(calls, {}, judge, hidden=True)


# ----------------------------------------------------------------------------- Part 5
def _table(r: Results, name: str, what: str) -> list:
    rows = json_value(r, name, what)
    ok = isinstance(rows, list) and all(
        isinstance(row, list) and len(row) == 3 and isinstance(row[0], str) and isinstance(row[1], list)
        and len(row[1]) == 3 for row in rows)
    if not ok:
        raise Fail(f"{what} should return a list of (name, (h, w, c), params) tuples.")
    return [(row[0], tuple(row[1]), row[2]) for row in rows]


# A few rows of skip_fcn_table(64, 64, num_classes=4): name -> (shape, params).
TABLE_ROWS = {
    "conv1": ((64, 64, 40), 400), "pool3": ((8, 8, 80), 0), "fc5": ((8, 8, 160), 25760),
    "fuse2": ((16, 16, 240), 0), "up3": ((64, 64, 320), 0), "fuse4": ((64, 64, 360), 0),
    "logits": ((64, 64, 4), 1444),
}


def table_visible(rng) -> Probe:
    calls = [Call("t", "skip_fcn_table", [value(64), value(64)], {"num_classes": value(4)}, kind="json")]

    def judge(r: Results) -> str:
        table = _table(r, "t", "skip_fcn_table(64, 64, num_classes=4)")
        names = [row[0] for row in table]
        if names != NAMES:
            raise Fail(f"skip_fcn_table should list the layers {NAMES}, got {names}.")
        rows = {name: (shape, params) for name, shape, params in table}
        for name, want in TABLE_ROWS.items():
            if rows[name] != want:
                raise Fail(f"Row {name!r}: expected (shape, params) = {want}, got {rows[name]}.")
        total = sum(p for _, _, p in table if isinstance(p, (int, float)))
        if total != 194324:
            raise Fail("The up-scaling skip FCN (1 input channel, 4 classes) has 194324 parameters; "
                       f"your table sums to {total}.")
        return "Part 5 visible checks passed."
    return Probe(calls, {}, judge)


def table_hidden(rng) -> Probe:
    cases = [(48, 80, 3, 1, "upscaling"), (48, 80, 3, 1, "transposed"), (64, 64, 4, 1, "transposed")]
    for _ in range(5):
        cases.append((8 * int(rng.integers(1, 12)), 8 * int(rng.integers(1, 12)), int(rng.integers(2, 8)),
                      int(rng.integers(1, 4)), str(rng.choice(["upscaling", "transposed"]))))
    calls = [Call(f"t{i}", "skip_fcn_table", [value(h), value(w), value(c)],
                  {"in_channels": value(cin), "decoder": value(d)}, kind="json")
             for i, (h, w, c, cin, d) in enumerate(cases)]

    def judge(r: Results) -> str:
        for i, (h, w, c, cin, d) in enumerate(cases):
            what = f"skip_fcn_table(..., decoder={d!r})"
            table = _table(r, f"t{i}", "skip_fcn_table")
            if [row[0] for row in table] != NAMES:
                raise Fail(f"{what} does not list the 16 layers in order.")
            for (name, shape, params), (_, want_shape, want_params) in zip(table, skip_table(h, w, c, cin, d)):
                if shape != want_shape:
                    raise Fail(f"{what}: the shape of {name!r} disagrees with the Keras model.")
                if params != want_params:
                    raise Fail(f"{what}: the parameters of {name!r} disagree with the Keras model.")
        return "Part 5 hidden checks passed."
    return Probe(calls, {}, judge, hidden=True)


CHECKS = {
    "test_sizes_visible": sizes_visible,
    "test_sizes_hidden": sizes_hidden,
    "test_transpose_size_visible": transpose_visible,
    "test_transpose_size_hidden": transpose_hidden,
    "test_bottleneck_visible": bottleneck_visible,
    "test_bottleneck_hidden": bottleneck_hidden,
    "test_params_visible": params_visible,
    "test_params_hidden": params_hidden,
    "test_table_visible": table_visible,
    "test_table_hidden": table_hidden,
}
