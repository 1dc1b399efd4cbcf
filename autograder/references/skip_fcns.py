"""Trusted checks of ``skip_fcns``: one per grade cell. The two skip-connection FCNs are
probed by their layer list (kinds, order, settings), parameter count and their outputs
with the grader's weights against a NumPy forward pass written here (which also decides
what each concatenation joins, and in which order); the NumPy functions against NumPy
references on fresh random inputs."""

from __future__ import annotations

import numpy as np

from autograder.references import Call, Fail, Probe, Results
from autograder.references import numpy_reference as ref
from autograder.references.harness_data import activation, array, items, model_entry, pair, pair_of, value


# ----------------------------------------------------------------------------- references
def skip_weight_shapes(classes, channels, transposed):
    shapes = [(3, 3, channels, 40), (40,), (4, 4, 40, 80), (80,), (4, 4, 80, 80), (80,),
              (1, 1, 80, 160), (160,), (1, 1, 160, 160), (160,)]
    if transposed:   # Conv2DTranspose kernels: (kh, kw, C_out, C_in)
        shapes += [(3, 3, 80, 160), (80,), (3, 3, 80, 160), (80,), (3, 3, 40, 160), (40,)]
        last = 80
    else:
        last = 360
    return shapes + [(1, 1, last, classes), (classes,)]


def skip_forward(page, weights, transposed):
    w = [v.astype(np.float64) for v in weights]
    c1 = ref.relu(ref.conv2d_same(page.astype(np.float64), w[0], w[1]))
    c2 = ref.relu(ref.conv2d_same(ref.max_pool2d(c1), w[2], w[3]))
    c3 = ref.relu(ref.conv2d_same(ref.max_pool2d(c2), w[4], w[5]))
    f = ref.relu(ref.max_pool2d(c3) @ w[6][0, 0] + w[7])
    f = ref.relu(f @ w[8][0, 0] + w[9])
    rest = w[10:]
    for skip in (c3, c2, c1):
        if transposed:
            kernel, bias, rest = rest[0], rest[1], rest[2:]
            up = ref.conv2d_transpose(f, kernel, 2, "same") + bias
        else:
            up = ref.upscale(f, 2)
        f = np.concatenate([up, skip], axis=-1)
    return ref.softmax(f @ rest[0][0, 0] + rest[1])


def skip_params(classes, channels, transposed):
    return sum(int(np.prod(s)) for s in skip_weight_shapes(classes, channels, transposed))


def reference_pool(x, p):
    b, h, w, c = x.shape
    win = x.reshape(b, h // p, p, w // p, p, c).transpose(0, 1, 3, 5, 2, 4).reshape(b, h // p, w // p, c, p * p)
    return win.max(-1), win.argmax(-1)       # argmax: the first maximum, row-major in the window


def reference_unpool(vals, pos, p):
    b, h, w, c = vals.shape
    out = np.zeros((b, h * p, w * p, c), dtype=vals.dtype)
    n, i, j, ch = np.indices(vals.shape)
    out[n, i * p + pos // p, j * p + pos % p, ch] = vals
    return out


# ----------------------------------------------------------------------------- Parts 1 and 2
def _model_visible(function, params, fuse_note, part):
    def make(rng) -> Probe:
        arrays = {"page": np.zeros((1, 64, 48, 1), dtype="float32")}
        calls = [Call("m", function, [], {"num_classes": value(4)}, kind="keras_model", page="page")]

        def judge(r: Results) -> str:
            entry = model_entry(r, "m", f"{function}(num_classes=4)")
            out = r.array("m", "The model's output on a (1, 64, 48, 1) page")
            if out.shape != (1, 64, 48, 4):
                raise Fail(f"A (1, 64, 48, 1) page should give (1, 64, 48, 4) probabilities, got {out.shape}.")
            if out.dtype.kind != "f" or not np.allclose(out.sum(-1), 1.0, atol=1e-5):
                raise Fail("The class probabilities of each pixel should sum to 1 (softmax).")
            if entry.get("params") != params:
                raise Fail(f"The slide's network (1 input channel, 4 classes) has {params} parameters; "
                           f"yours has {entry.get('params')} ({fuse_note}).")
            return f"Part {part} visible checks passed."
        return Probe(calls, arrays, judge)
    return make


def _model_hidden(function, transposed, part):
    up_kind = "Conv2DTranspose" if transposed else "UpSampling2D"
    kinds = ["Conv2D", "MaxPooling2D", "Conv2D", "MaxPooling2D", "Conv2D", "MaxPooling2D", "Conv2D", "Conv2D",
             up_kind, "Concatenate", up_kind, "Concatenate", up_kind, "Concatenate", "Conv2D"]

    def make(rng) -> Probe:
        classes, channels = int(rng.integers(2, 7)), int(rng.integers(2, 4))
        weights = ref.random_weights(rng, skip_weight_shapes(classes, channels, transposed))
        page = rng.random((2, 40, 72, channels)).astype("float32")
        arrays = {f"w{i}": v for i, v in enumerate(weights)}
        arrays["page"] = page
        calls = [Call("m", function, [], {"num_classes": value(classes), "num_channels": value(channels)},
                      kind="keras_model", weights=[f"w{i}" for i in range(len(weights))], page="page")]

        def judge(r: Results) -> str:
            entry = model_entry(r, "m", function)
            core = [layer for layer in entry["layers"] if layer.get("class") not in ("InputLayer", "Activation")]
            if [layer.get("class") for layer in core] != kinds:
                raise Fail("The layer kinds or their order differ from the slide.")
            convs = [layer.get("config", {}) for layer in core if layer.get("class") == "Conv2D"]
            if [(c.get("filters"), pair_of(c.get("kernel_size")), activation(c)) for c in convs[:5]] != [
                    (40, (3, 3), "relu"), (80, (4, 4), "relu"), (80, (4, 4), "relu"),
                    (160, (1, 1), "relu"), (160, (1, 1), "relu")]:
                raise Fail("Filters, kernel sizes or activations of conv1 ... fc5 differ from the slide.")
            if any(c.get("padding") != "same" for c in convs[:3]):
                raise Fail("conv1, conv2 and conv3 must use padding='same'.")
            if (convs[5].get("filters"), pair_of(convs[5].get("kernel_size"))) != (classes, (1, 1)):
                raise Fail("logits should be a 1x1 convolution with num_classes filters.")
            if activation(convs[5]) not in ("linear", "softmax"):
                raise Fail("logits should have no activation (the softmax follows).")
            pools = [layer.get("config", {}) for layer in core if layer.get("class") == "MaxPooling2D"]
            if any(pair_of(p.get("pool_size")) != (2, 2) or pair_of(p.get("strides")) != (2, 2) for p in pools):
                raise Fail("The poolings should be 2x2 with stride 2.")
            ups = [layer.get("config", {}) for layer in core if layer.get("class") == up_kind]
            if transposed:
                if [(u.get("filters"), pair_of(u.get("kernel_size")), pair_of(u.get("strides")), u.get("padding"))
                        for u in ups] != [(80, (3, 3), (2, 2), "same"), (80, (3, 3), (2, 2), "same"),
                                          (40, (3, 3), (2, 2), "same")]:
                    raise Fail("The transposed convolutions should be (80, 3x3, stride 2, same), (80, ...), (40, ...).")
                if any(activation(u) != "linear" for u in ups):
                    raise Fail("As on the slide, the transposed convolutions have no activation.")
            elif any(pair_of(u.get("size")) != (2, 2) for u in ups):
                raise Fail("The up-scalings should be 2x2.")
            fuses = [layer.get("config", {}) for layer in core if layer.get("class") == "Concatenate"]
            if any(f.get("axis") not in (-1, 3) for f in fuses):
                raise Fail("The concatenations must join the channel axis (axis=-1).")
            if entry.get("params") != skip_params(classes, channels, transposed):
                raise Fail("The number of parameters differs from the slide's network.")
            out = r.array("m", "The model with the grader's weights")
            if out.shape != page.shape[:3] + (classes,):
                raise Fail("The model must accept non-square pages (multiples of 8), batches and num_channels.")
            if out.dtype.kind != "f" or not np.allclose(out.sum(-1), 1.0, atol=1e-5):
                raise Fail("The output must be softmax probabilities.")
            if not np.allclose(out, skip_forward(page, weights, transposed), atol=1e-4):
                raise Fail("With the same weights, the outputs differ from the slide's network: check what each "
                           "concatenation joins and its order (the up-sampled tensor first, the encoder's feature "
                           "map of the same resolution second), and which tensor each up-sampling takes.")
            return f"Part {part} hidden checks passed."
        return Probe(calls, arrays, judge, hidden=True)
    return make


# ----------------------------------------------------------------------------- Part 3
def _transpose_result(r: Results, name: str, what: str) -> np.ndarray:
    got = r.array(name, what)
    if got.dtype.kind not in "iuf":
        raise Fail(f"{what} should return a float array.")
    return got


def conv_transpose_visible(rng) -> Probe:
    x1 = np.array([[1.0, 2.0], [3.0, 4.0]]).reshape(1, 2, 2, 1)
    k1 = np.array([[1.0, 10.0], [100.0, 1000.0]]).reshape(2, 2, 1, 1)
    x3 = rng.normal(size=(1, 3, 4, 2)).astype("float32")
    k3 = (rng.normal(size=(3, 3, 3, 2)) * 0.3).astype("float32")
    arrays = {"x1": x1, "k1": k1, "ones": np.ones((1, 2, 2, 1)), "k2": np.ones((3, 3, 1, 1)), "x3": x3, "k3": k3}
    calls = [Call("a", "conv2d_transpose_numpy", [array("x1"), array("k1")], {"strides": value(2)}),
             Call("b", "conv2d_transpose_numpy", [array("ones"), array("k2")], {"strides": value(2)}),
             Call("c", "conv2d_transpose_numpy", [array("x3"), array("k3")],
                  {"strides": value(2), "padding": value("same")})]

    def judge(r: Results) -> str:
        got = _transpose_result(r, "a", "conv2d_transpose_numpy")
        want = np.kron(x1[0, :, :, 0], k1[:, :, 0, 0])
        if got.shape != (1, 4, 4, 1):
            raise Fail(f"2x2 input, 2x2 kernel, stride 2, 'valid' should give (1, 4, 4, 1), got {got.shape}.")
        if not np.allclose(got[0, :, :, 0], want):
            raise Fail(f"Expected the stamped kernels\n{want}\ngot\n{got[0, :, :, 0]}")
        got = _transpose_result(r, "b", "conv2d_transpose_numpy")
        want = np.array([[1, 1, 2, 1, 1], [1, 1, 2, 1, 1], [2, 2, 4, 2, 2], [1, 1, 2, 1, 1], [1, 1, 2, 1, 1]], float)
        if got.shape != (1, 5, 5, 1):
            raise Fail("2x2 input, 3x3 kernel, stride 2, 'valid' should give (1, 5, 5, 1) (slide 'Stride'), "
                       f"got {got.shape}.")
        if not np.allclose(got[0, :, :, 0], want):
            raise Fail(f"Where the stamps overlap they must add up:\n{want}\ngot\n{got[0, :, :, 0]}")
        got = _transpose_result(r, "c", "conv2d_transpose_numpy")
        want = ref.conv2d_transpose(x3.astype(np.float64), k3.astype(np.float64), 2, "same")
        if got.shape != want.shape:
            raise Fail(f"3x4x2 input, 3 filters, 3x3, stride 2, 'same': Keras gives shape {want.shape}, "
                       f"you {got.shape}.")
        if not np.allclose(got, want, atol=1e-4):
            raise Fail("3x4x2 input, 3x3, stride 2, 'same': differs from Keras by up to "
                       f"{np.abs(got - want).max():.3g} "
                       "(check which rows/columns you crop).")
        return "Part 3 visible checks passed."
    return Probe(calls, arrays, judge)


def conv_transpose_hidden(rng) -> Probe:
    # (batch, height, width, input channels, filters, kernel size, strides, padding)
    configs = [(2, 3, 5, 2, 3, (3, 3), 1, "valid"), (1, 4, 4, 1, 2, (2, 2), 2, "same"),
               (1, 3, 2, 3, 1, (4, 4), 2, "same"), (2, 2, 3, 2, 2, (2, 2), 3, "valid"),
               (1, 3, 3, 1, 1, (1, 1), 2, "same"), (1, 5, 4, 2, 2, (2, 3), (2, 1), "same"),
               (1, 4, 3, 2, 3, (5, 5), 3, "valid"), (2, 6, 5, 1, 2, (3, 2), (1, 3), "valid"),
               (1, 5, 5, 2, 1, (3, 3), 1, "same"), (1, 2, 2, 4, 2, (4, 4), 3, "same"),
               (1, 3, 4, 1, 1, (2, 2), 1, "same")]
    for _ in range(3):
        st = int(rng.integers(1, 4)) if rng.random() < 0.6 else (int(rng.integers(1, 4)), int(rng.integers(1, 4)))
        configs.append((int(rng.integers(1, 3)), int(rng.integers(1, 6)), int(rng.integers(1, 6)),
                        int(rng.integers(1, 4)),
                        int(rng.integers(1, 4)), (int(rng.integers(1, 6)), int(rng.integers(1, 6))), st,
                        str(rng.choice(["valid", "same"]))))
    arrays, calls, expected = {}, [], {}
    for i, (b, h, w, cin, cout, ks, st, pad) in enumerate(configs):
        x = rng.normal(size=(b, h, w, cin)).astype("float32")
        kernel = rng.normal(size=ks + (cout, cin)).astype("float32")
        arrays[f"x{i}"], arrays[f"k{i}"] = x, kernel
        calls.append(Call(f"t{i}", "conv2d_transpose_numpy", [array(f"x{i}"), array(f"k{i}")],
                          {"strides": pair(st), "padding": value(pad)}))
        expected[f"t{i}"] = (ref.conv2d_transpose(x.astype(np.float64), kernel.astype(np.float64), st, pad), x.shape,
                             kernel.shape, st, pad)

    def judge(r: Results) -> str:
        for name, (want, xs, ks, st, pad) in expected.items():
            what = f"conv2d_transpose_numpy: input {xs}, kernel {ks}, strides={st}, padding={pad!r}"
            got = _transpose_result(r, name, "conv2d_transpose_numpy")
            if got.shape != want.shape:
                raise Fail(f"{what}: the output shape differs from Keras.")
            if not np.allclose(got, want, atol=1e-4):
                raise Fail(f"{what}: the values differ from Keras.")
        return "Part 3 hidden checks passed."
    return Probe(calls, arrays, judge, hidden=True)


# ----------------------------------------------------------------------------- Part 4
EXAMPLE = np.array([[1, 5, 0, 2], [3, 2, 9, 9], [7, 0, 4, 4], [1, 8, 4, 4]], dtype=np.float32).reshape(1, 4, 4, 1)


def _pool_result(r: Results, name: str, what: str):
    pooled, argmax = items(r, name, what, 2)
    return pooled, argmax


def max_pool_visible(rng) -> Probe:
    calls = [Call("p", "max_pool_with_argmax", [array("x")], {"pool_size": value(2)}, kind="tuple")]

    def judge(r: Results) -> str:
        pooled, argmax = _pool_result(r, "p", "max_pool_with_argmax(x, pool_size=2)")
        if pooled.shape != (1, 2, 2, 1) or argmax.shape != (1, 2, 2, 1):
            raise Fail("Pooling (1, 4, 4, 1) with 2x2 should give two arrays of shape (1, 2, 2, 1); "
                       f"got {pooled.shape} and {argmax.shape}.")
        if not np.array_equal(pooled[0, :, :, 0], [[5, 9], [8, 4]]):
            raise Fail(f"The maxima should be [[5, 9], [8, 4]], got {pooled[0, :, :, 0].tolist()}.")
        if argmax.dtype.kind not in "iu":
            raise Fail(f"argmax should be an integer array, got {argmax.dtype}.")
        if not np.array_equal(argmax[0, :, :, 0], [[1, 2], [3, 0]]):
            raise Fail("The positions (row * 2 + col inside each window; the first one on ties) should be "
                       "[[1, 2], [3, 0]]: 5 is top-right (1), the first 9 bottom-left (2), 8 bottom-right (3), "
                       f"the first 4 top-left (0); got {argmax[0, :, :, 0].tolist()}.")
        return "Part 4 visible checks passed."
    return Probe(calls, {"x": EXAMPLE.copy()}, judge)


def max_pool_hidden(rng) -> Probe:
    configs = [(2, 6, 8, 3, 2, False), (1, 9, 6, 2, 3, True), (2, 8, 4, 1, 4, True), (1, 4, 10, 2, 2, True)]
    p = int(rng.integers(2, 5))
    configs.append((int(rng.integers(1, 3)), p * int(rng.integers(1, 4)), p * int(rng.integers(1, 4)),
                    int(rng.integers(1, 4)), p, bool(rng.random() < 0.5)))
    arrays, calls, expected = {}, [], {}
    for i, (b, h, w, c, p, ints) in enumerate(configs):
        x = (rng.integers(0, 3, size=(b, h, w, c)) if ints else rng.normal(size=(b, h, w, c))).astype(np.float32)
        arrays[f"x{i}"] = x
        calls.append(Call(f"p{i}", "max_pool_with_argmax", [array(f"x{i}")], {"pool_size": value(p)}, kind="tuple"))
        expected[f"p{i}"] = (reference_pool(x, p), x.shape, p, ints)

    def judge(r: Results) -> str:
        for name, ((want_v, want_a), shape, p, ints) in expected.items():
            what = f"max_pool_with_argmax on shape {shape} with pool_size={p}"
            got_v, got_a = _pool_result(r, name, "max_pool_with_argmax")
            if got_v.shape != want_v.shape or got_a.shape != want_a.shape:
                raise Fail(f"{what}: wrong output shapes.")
            if not np.array_equal(got_v, want_v):
                raise Fail(f"{what}: wrong maxima.")
            if got_a.dtype.kind not in "iuf" or not np.array_equal(got_a, want_a):
                raise Fail(f"{what}{' (with ties)' if ints else ''}: wrong positions.")
        return "Part 4 hidden checks passed."
    return Probe(calls, arrays, judge, hidden=True)


# ----------------------------------------------------------------------------- Part 5
def max_unpool_visible(rng) -> Probe:
    values = np.array([[10, 20], [30, 40]], dtype=np.float32).reshape(1, 2, 2, 1)
    positions = np.array([[0, 3], [1, 2]]).reshape(1, 2, 2, 1)
    pooled, argmax = reference_pool(EXAMPLE, 2)
    arrays = {"values": values, "positions": positions, "pooled": pooled, "argmax": argmax}
    calls = [Call("a", "max_unpool", [array("values"), array("positions")], {"pool_size": value(2)}),
             Call("b", "max_unpool", [array("pooled"), array("argmax")])]

    def judge(r: Results) -> str:
        got = r.array("a", "max_unpool(values, positions, pool_size=2)")
        want = np.array([[10, 0, 0, 0], [0, 0, 0, 20], [0, 30, 0, 0], [0, 0, 40, 0]], dtype=np.float32)
        if got.shape != (1, 4, 4, 1):
            raise Fail(f"Unpooling (1, 2, 2, 1) with 2x2 should give (1, 4, 4, 1), got {got.shape}.")
        if not np.array_equal(got[0, :, :, 0], want):
            raise Fail(f"Each value goes to row i*2 + pos // 2, column j*2 + pos % 2 of its window:\n{want}\n"
                       f"got\n{got[0, :, :, 0]}")
        got = r.array("b", "max_unpool(pooled, argmax) of the 4x4 example")
        want = np.array([[0, 5, 0, 0], [0, 0, 9, 0], [0, 0, 4, 0], [0, 8, 0, 0]], dtype=np.float32)
        if got.shape != (1, 4, 4, 1) or not np.array_equal(got[0, :, :, 0], want):
            raise Fail("Unpooling the maxima and positions of the 4x4 example should keep only the maxima, at their "
                       f"positions:\n{want}\ngot\n{got.reshape(-1, got.shape[-2] if got.ndim > 1 else 1)}")
        return "Part 5 visible checks passed."
    return Probe(calls, arrays, judge)


def max_unpool_hidden(rng) -> Probe:
    configs = [(2, 3, 4, 3, 2), (1, 2, 5, 2, 3), (2, 2, 2, 1, 4), (1, 1, 3, 4, 2)]
    configs.append((int(rng.integers(1, 3)), int(rng.integers(1, 5)), int(rng.integers(1, 5)), int(rng.integers(1, 4)),
                    int(rng.integers(2, 5))))
    arrays, calls, expected = {}, [], {}
    for i, (b, h, w, c, p) in enumerate(configs):
        vals = rng.normal(size=(b, h, w, c)).astype(np.float32)
        pos = rng.integers(0, p * p, size=(b, h, w, c))
        arrays[f"v{i}"], arrays[f"a{i}"] = vals, pos
        calls.append(Call(f"u{i}", "max_unpool", [array(f"v{i}"), array(f"a{i}")], {"pool_size": value(p)}))
        expected[f"u{i}"] = (reference_unpool(vals, pos, p), vals.shape, p)
    x = rng.normal(size=(2, 6, 9, 2)).astype(np.float32)
    pooled, positions = reference_pool(x, 3)
    arrays["pooled"], arrays["positions"] = pooled, positions
    calls.append(Call("round", "max_unpool", [array("pooled"), array("positions")], {"pool_size": value(3)}))
    round_trip = np.where(x == np.repeat(np.repeat(pooled, 3, axis=1), 3, axis=2), x, 0)

    def judge(r: Results) -> str:
        for name, (want, shape, p) in expected.items():
            got = r.array(name, "max_unpool")
            if got.shape != want.shape:
                raise Fail(f"max_unpool of values {shape} with pool_size={p}: wrong output shape.")
            if not np.allclose(got, want):
                raise Fail(f"max_unpool of random values {shape} and positions with pool_size={p}: "
                           "values in the wrong places.")
        got = r.array("round", "max_unpool")
        if got.shape != round_trip.shape or not np.allclose(got, round_trip):
            raise Fail("Pooling then unpooling a random input should keep exactly the window maxima.")
        return "Part 5 hidden checks passed."
    return Probe(calls, arrays, judge, hidden=True)


CHECKS = {
    "test_skip_upscaling_visible": _model_visible("build_fcn_skip_upscaling", 194324,
                                                  "the concatenations should have 240, 320 and 360 channels", 1),
    "test_skip_upscaling_hidden": _model_hidden("build_fcn_skip_upscaling", False, 1),
    "test_transposed_skip_visible": _model_visible("build_fcn_transposed_skip", 481404,
                                                   "the concatenations should have 160, 160 and 80 channels", 2),
    "test_transposed_skip_hidden": _model_hidden("build_fcn_transposed_skip", True, 2),
    "test_conv_transpose_visible": conv_transpose_visible,
    "test_conv_transpose_hidden": conv_transpose_hidden,
    "test_max_pool_visible": max_pool_visible,
    "test_max_pool_hidden": max_pool_hidden,
    "test_max_unpool_visible": max_unpool_visible,
    "test_max_unpool_hidden": max_unpool_hidden,
}
