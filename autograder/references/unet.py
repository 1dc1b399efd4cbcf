"""Trusted checks of ``unet``: one per grade cell.

- ``unet_bottleneck_size``: results as JSON (so the check sees Python ints) and the
  ValueError's message, on random sizes and depths.
- ``double_conv``: called on a ``keras.Input`` by the harness (``tensor_input``); the block
  is probed by its layer list, parameter count and its output with the grader's weights
  against two NumPy convolutions.
- ``build_unet``: output shapes and softmax on random pages; the architecture by its
  layer list, the parameter formula, and its output with the grader's weights against a
  NumPy U-Net written here (which decides what each skip connection joins, and in which
  order). The visible architecture check fails only the swapped skip inputs (its outputs
  equal those of the NumPy U-Net with ``skip_first``), as the visible test cell does.
- ``train_unet``: the visible test cell trains ``trained_unet`` in the sandbox with the
  notebook's ``TRAIN_SECONDS`` (20 s under autograding, the documented shortening); the
  probes call that model on fresh pages drawn here and the mean IoU is computed here.
  The compiled loss comes back through ``trained_unet_loss``, a given function of the same
  visible test cell: the model's compiled loss applied to its outputs outside the model
  (NaN for a model returned uncompiled), compared here with the cross-entropy of those
  outputs. Outside the model, because Keras on TensorFlow quietly uses a softmax layer's
  input when ``from_logits=True`` inside ``fit``/``evaluate``: such a model trains well
  (the issue's 15/15) and only the loss object shows the mistake (other backends would
  train on a softmax of probabilities). Raw scores trained with the probabilities' loss show
  in the outputs, which are not probabilities. Either confusion costs Part 5, visible and
  hidden (3 points): compiling with the loss that fits the softmax output is step 2 of
  ``train_unet``, and the visible test names the mistake before submission, so the part is
  not earned until it is fixed; Parts 3-4 (the model) are not charged, the model is right.
  The training time stays with the notebook's own hidden test.
"""

from __future__ import annotations

import numpy as np

from autograder.references import Call, Fail, Probe, Results
from autograder.references import numpy_reference as ref
from autograder.references.harness_data import activation, array, json_value, model_entry, pair_of, value

IOU_THRESHOLD = 0.45          # the notebook's quality threshold (Part 5)
LOSS_PAGES = 8                # pages on which the compiled loss is compared with the outputs' cross-entropy


# ----------------------------------------------------------------------------- references
def unet_filters(depth, base):
    return [base * 2 ** level for level in range(depth + 1)]


def unet_weight_shapes(classes, depth, base, channels):
    """Weight shapes in the model's order: encoder levels, bottleneck, decoder levels
    (deepest first: transposed convolution, then the double convolution), classifier."""
    f = unet_filters(depth, base)
    shapes, previous = [], channels
    for level in range(depth + 1):                     # the last one is the bottleneck
        shapes += [(3, 3, previous, f[level]), (f[level],), (3, 3, f[level], f[level]), (f[level],)]
        previous = f[level]
    for level in reversed(range(depth)):
        shapes += [(2, 2, f[level], f[level + 1]), (f[level],),              # Conv2DTranspose: (kh, kw, out, in)
                   (3, 3, 2 * f[level], f[level]), (f[level],), (3, 3, f[level], f[level]), (f[level],)]
    return shapes + [(1, 1, f[0], classes), (classes,)]


def unet_params(classes, depth, base, channels):
    return sum(int(np.prod(shape)) for shape in unet_weight_shapes(classes, depth, base, channels))


def double_conv_forward(x, k1, b1, k2, b2):
    return ref.relu(ref.conv2d_same(ref.relu(ref.conv2d_same(x, k1, b1)), k2, b2))


def unet_forward(page, weights, depth, skip_first=False):
    """The U-Net of the notebook in NumPy (float64): skip = the encoder output of the same
    level (before pooling), concatenated second, after the up-sampled tensor (first with
    ``skip_first``: the usual mistake of swapped skip inputs)."""
    w = [v.astype(np.float64) for v in weights]
    x, skips = page.astype(np.float64), []
    for level in range(depth):
        x = double_conv_forward(x, *w[4 * level:4 * level + 4])
        skips.append(x)
        x = ref.max_pool2d(x)
    x = double_conv_forward(x, *w[4 * depth:4 * depth + 4])
    rest = w[4 * depth + 4:]
    for level in reversed(range(depth)):
        kernel, bias, conv = rest[0], rest[1], rest[2:6]
        rest = rest[6:]
        up = ref.conv2d_transpose(x, kernel, 2, "valid") + bias
        joined = [skips[level], up] if skip_first else [up, skips[level]]
        x = double_conv_forward(np.concatenate(joined, axis=-1), *conv)
    return ref.softmax(x @ rest[0][0, 0] + rest[1])


def _pages(rng, count):
    from course_utils.data import make_page_dataset  # the course's synthetic pages (public code)

    return make_page_dataset(count, seed=int(rng.integers(10_000, 1_000_000)), height=64, width=64)


# ----------------------------------------------------------------------------- Part 1
def _raised(r: Results, name: str):
    """(ename, evalue) if the call raised, else None (a missing function fails)."""
    entry = r.meta.get(name)
    if isinstance(entry, dict) and entry.get("status") == "error":
        return str(entry.get("ename", "")), str(entry.get("evalue", ""))
    r.entry(name, "unet_bottleneck_size")          # missing or malformed: Fail
    return None


def _size(r: Results, name: str, what: str) -> tuple:
    got = json_value(r, name, what)
    if not (isinstance(got, list) and len(got) == 2 and all(type(v) is int for v in got)):
        raise Fail(f"{what} should return a tuple of two ints (height, width)"
                   + ("" if r.hidden else f", got {got!r}") + ".")
    return tuple(got)


def bottleneck_size_visible(rng) -> Probe:
    fits = [((64, 64, 2), (16, 16)), ((64, 48, 3), (8, 6)), ((96, 160, 5), (3, 5))]
    fails = [((36, 64, 3), "height", 36, 8), ((64, 100, 3), "width", 100, 8)]
    calls = [Call(f"fit{i}", "unet_bottleneck_size", [value(v) for v in args], kind="json")
             for i, (args, _) in enumerate(fits)]
    calls += [Call(f"fail{i}", "unet_bottleneck_size", [value(v) for v in args], kind="json")
              for i, (args, *_) in enumerate(fails)]

    def judge(r: Results) -> str:
        for i, ((h, w, d), want) in enumerate(fits):
            what = f"unet_bottleneck_size({h}, {w}, {d})"
            error = _raised(r, f"fit{i}")
            if error:
                raise Fail(f"{what} raised {error[0]}({error[1][:200]!r}), but {h} and {w} are multiples of "
                           f"2**{d} = {2 ** d}; expected {want}.")
            got = _size(r, f"fit{i}", what)
            if got != want:
                raise Fail(f"{what} should be {want}, got {got}.")
        for i, ((h, w, d), side, size, multiple) in enumerate(fails):
            what = f"unet_bottleneck_size({h}, {w}, {d})"
            error = _raised(r, f"fail{i}")
            if error is None:
                raise Fail(f"{what} should raise ValueError ({side} {size} is not a multiple of {multiple}).")
            if error[0] != "ValueError":
                raise Fail(f"{what} should raise ValueError, not {error[0]}.")
            if not (side in error[1] and str(size) in error[1] and str(multiple) in error[1]):
                raise Fail(f"{what}: the error message should name the {side}, {size}, and the multiple {multiple}; "
                           f"got {error[1][:200]!r}.")
        return "Part 1 visible checks passed."
    return Probe(calls, {}, judge)


def bottleneck_size_hidden(rng) -> Probe:
    cases = []
    for _ in range(120):
        d = int(rng.integers(1, 7))
        h, w = (int(v) for v in rng.integers(1, 400, size=2))
        if rng.random() < 0.5:
            h, w = h * 2 ** d, w * 2 ** d
        cases.append((h, w, d))
    cases += [(4, 64, 3), (64, 4, 3), (6, 7, 1), (64, 64, 0), (2 ** 6 * 3, 2 ** 6 * 5, 6)]
    calls = [Call(f"c{i}", "unet_bottleneck_size", [value(v) for v in case], kind="json")
             for i, case in enumerate(cases)]

    def judge(r: Results) -> str:
        for i, (h, w, d) in enumerate(cases):
            what = "unet_bottleneck_size"
            fits = d >= 1 and h % 2 ** d == 0 and w % 2 ** d == 0
            error = _raised(r, f"c{i}")
            if fits:
                if error:
                    raise Fail(f"{what} raised an error for sizes that are multiples of 2**depth.")
                if _size(r, f"c{i}", what) != (h // 2 ** d, w // 2 ** d):
                    raise Fail(f"{what} returned a wrong size for random sizes and depths.")
                continue
            if error is None or error[0] != "ValueError":
                raise Fail(f"{what} should raise ValueError when depth < 1 or a side is not a multiple of 2**depth.")
            if d >= 1:
                named = [side for side, size in (("height", h), ("width", w))
                         if size % 2 ** d and side in error[1] and str(size) in error[1]]
                if not named or str(2 ** d) not in error[1]:
                    raise Fail(f"{what}: the error message should name a side that fails, its size and the "
                               "multiple 2**depth.")
        return "Part 1 hidden checks passed."
    return Probe(calls, {}, judge, hidden=True)


# ----------------------------------------------------------------------------- Part 2
def _block_convs(entry: dict, what: str) -> list[dict]:
    core = [layer for layer in entry["layers"] if layer.get("class") != "InputLayer"]
    if [layer.get("class") for layer in core] != ["Conv2D", "Conv2D"]:
        raise Fail(f"{what} should consist of exactly two Conv2D layers, got "
                   f"{[layer.get('class') for layer in core]}.")
    return [layer.get("config", {}) for layer in core]


def _conv_settings(config: dict) -> tuple:
    return config.get("filters"), pair_of(config.get("kernel_size")), config.get("padding"), activation(config)


def double_conv_visible(rng) -> Probe:
    arrays = {"x": rng.random((2, 20, 12, 3)).astype("float32")}
    calls = [Call("b", "double_conv", [value(16)], kind="keras_model", page="x", tensor_input=[None, None, 3])]

    def judge(r: Results) -> str:
        entry = model_entry(r, "b", "double_conv(x, 16)")
        out = r.array("b", "double_conv(x, 16) on a (2, 20, 12, 3) input")
        if out.shape != (2, 20, 12, 16):
            raise Fail(f"double_conv(x, 16) on a (2, 20, 12, 3) input should give (2, 20, 12, 16), got {out.shape}.")
        if out.min() < 0:
            raise Fail("The block should end with a ReLU: its outputs cannot be negative.")
        settings = [_conv_settings(c) for c in _block_convs(entry, "double_conv(x, 16)")]
        if settings != [(16, (3, 3), "same", "relu")] * 2:
            raise Fail(f"Expected two Conv2D layers (16 filters, 3x3, 'same', relu), got {settings}.")
        want = 9 * 3 * 16 + 16 + 9 * 16 * 16 + 16
        if entry.get("params") != want:
            raise Fail(f"3 input channels, 16 filters: expected {want} parameters, got {entry.get('params')}.")
        return "Part 2 visible checks passed."
    return Probe(calls, arrays, judge)


def double_conv_hidden(rng) -> Probe:
    arrays, calls, expected = {}, [], {}
    for i, (channels, filters) in enumerate([(1, 4), (int(rng.integers(3, 7)), int(rng.integers(5, 9))), (8, 2)]):
        weights = ref.random_weights(rng, [(3, 3, channels, filters), (filters,), (3, 3, filters, filters), (filters,)])
        x = rng.normal(size=(2, 9, 14, channels)).astype("float32")
        names = [f"w{i}_{j}" for j in range(4)]
        arrays.update(zip(names, weights))
        arrays[f"x{i}"] = x
        calls.append(Call(f"b{i}", "double_conv", [value(filters)], kind="keras_model", weights=names, page=f"x{i}",
                          tensor_input=[None, None, channels]))
        expected[f"b{i}"] = (channels, filters, double_conv_forward(x.astype(np.float64), *weights))

    def judge(r: Results) -> str:
        for key, (channels, filters, want) in expected.items():
            entry = model_entry(r, key, "double_conv")
            settings = [_conv_settings(c) for c in _block_convs(entry, "double_conv")]
            if settings != [(filters, (3, 3), "same", "relu")] * 2:
                raise Fail("double_conv's convolutions should have `filters` filters, 3x3 kernels, 'same' padding "
                           "and ReLU.")
            if entry.get("params") != 9 * channels * filters + filters + 9 * filters * filters + filters:
                raise Fail("double_conv: wrong number of parameters for several channel and filter counts.")
            out = r.array(key, "double_conv with the grader's weights")
            if out.shape != want.shape or not np.allclose(out, want, atol=1e-4):
                raise Fail("With the same weights, double_conv computes other values than two chained 3x3 'same' "
                           "ReLU convolutions (is the second applied to the first one's output?).")
        return "Part 2 hidden checks passed."
    return Probe(calls, arrays, judge, hidden=True)


# ----------------------------------------------------------------------------- Part 3
def _unet_kwargs(classes, depth, base, channels=None):
    kwargs = {"num_classes": value(classes), "depth": value(depth), "base_filters": value(base)}
    if channels is not None:
        kwargs["num_channels"] = value(channels)
    return kwargs


def _probabilities(r: Results, name: str, want_shape: tuple, what: str) -> np.ndarray:
    model_entry(r, name, what)
    out = r.array(name, f"{what} on pages of shape {want_shape[:-1]}")
    if out.shape != want_shape:
        raise Fail(f"{what}: pages of shape {want_shape[:-1] + ('channels',)} should give {want_shape}"
                   + ("" if r.hidden else f", got {out.shape}") + ".")
    if out.dtype.kind != "f" or out.min() < -1e-6 or not np.allclose(out.sum(-1), 1.0, atol=1e-5):
        raise Fail("The class probabilities of each pixel should sum to 1 (softmax).")
    return out


def build_unet_visible(rng) -> Probe:
    arrays = {"page": rng.random((1, 64, 48, 1)).astype("float32"), "zeros": np.zeros((2, 32, 40, 2), "float32")}
    calls = [Call("m2", "build_unet", [], _unet_kwargs(4, 2, 8), kind="keras_model", page="page"),
             Call("m3", "build_unet", [], _unet_kwargs(3, 3, 4, 2), kind="keras_model", page="zeros")]

    def judge(r: Results) -> str:
        _probabilities(r, "m2", (1, 64, 48, 4), "build_unet(num_classes=4, depth=2, base_filters=8)")
        _probabilities(r, "m3", (2, 32, 40, 3), "build_unet(num_classes=3, depth=3, base_filters=4, num_channels=2)")
        return "Part 3 visible checks passed."
    return Probe(calls, arrays, judge)


def build_unet_hidden(rng) -> Probe:
    arrays, calls, shapes = {}, [], {}
    # (num_classes, depth, base_filters, num_channels, (batch, height, width))
    configs = [(2, 1, 4, 1, (3, 6, 10)), (5, 2, 3, 3, (2, 12, 28)), (4, 3, 2, 1, (1, 24, 16)),
               (3, 4, 2, 2, (2, 48, 80))]
    for i, (classes, depth, base, channels, shape) in enumerate(configs):
        arrays[f"x{i}"] = rng.random(shape + (channels,)).astype("float32")
        calls.append(Call(f"m{i}", "build_unet", [], _unet_kwargs(classes, depth, base, channels),
                          kind="keras_model", page=f"x{i}"))
        shapes[f"m{i}"] = shape + (classes,)

    def judge(r: Results) -> str:
        for key, want in shapes.items():
            _probabilities(r, key, want, "build_unet")
        return "Part 3 hidden checks passed."
    return Probe(calls, arrays, judge, hidden=True)


# ----------------------------------------------------------------------------- Part 4
def _kinds(entry: dict) -> list[str]:
    return [layer.get("class") for layer in entry["layers"]]


def architecture_visible(rng) -> Probe:
    weights = ref.random_weights(rng, unet_weight_shapes(4, 2, 8, 1))
    names = [f"w{j}" for j in range(len(weights))]
    page = rng.random((1, 16, 16, 1)).astype("float32")
    arrays = {"page": page, **dict(zip(names, weights))}
    calls = [Call("m", "build_unet", [], _unet_kwargs(4, 2, 8), kind="keras_model", weights=names, page="page")]
    swapped = unet_forward(page, weights, 2, skip_first=True)

    def judge(r: Results) -> str:
        entry = model_entry(r, "m", "build_unet(num_classes=4, depth=2, base_filters=8)")
        kinds = _kinds(entry)
        counts = {k: kinds.count(k) for k in ("MaxPooling2D", "Conv2DTranspose", "Concatenate")}
        if counts != {"MaxPooling2D": 2, "Conv2DTranspose": 2, "Concatenate": 2}:
            raise Fail(f"depth 2 needs 2 poolings, 2 transposed convolutions and 2 concatenations; found {counts}.")
        if entry.get("params") != 29348:
            raise Fail(f"depth 2, base_filters 8, 1 channel, 4 classes: expected 29348 parameters, got "
                       f"{entry.get('params')} (the concatenations should have 16 + 16 = 32 and 8 + 8 = 16 channels).")
        # Only the swapped order is judged here (as the visible test cell does); every other
        # difference of the outputs is the hidden check's.
        out = r.array("m", "build_unet(num_classes=4, depth=2, base_filters=8) with the grader's weights")
        if out.shape == swapped.shape and np.allclose(out, swapped, atol=1e-4):
            raise Fail("With the grader's weights, your U-Net computes what a U-Net with the skip inputs swapped "
                       "computes: each concatenation must take the up-sampled tensor (the Conv2DTranspose output) "
                       "first, then the encoder output of the same level (before pooling).")
        return "Part 4 visible checks passed."
    return Probe(calls, arrays, judge)


def architecture_hidden(rng) -> Probe:
    arrays, calls, configs = {}, [], {}
    for i, (classes, depth, base, channels) in enumerate([(2, 1, 4, 1), (5, 2, 3, 3), (4, 3, 2, 1), (3, 4, 2, 2)]):
        weights = ref.random_weights(rng, unet_weight_shapes(classes, depth, base, channels))
        page = rng.random((1, 2 ** depth * 2, 2 ** depth * 3, channels)).astype("float32")
        names = [f"w{i}_{j}" for j in range(len(weights))]
        arrays.update(zip(names, weights))
        arrays[f"x{i}"] = page
        calls.append(Call(f"m{i}", "build_unet", [], _unet_kwargs(classes, depth, base, channels),
                          kind="keras_model", weights=names, page=f"x{i}"))
        configs[f"m{i}"] = (classes, depth, base, channels, unet_forward(page, weights, depth))

    def judge(r: Results) -> str:
        for key, (classes, depth, base, channels, want) in configs.items():
            entry = model_entry(r, key, "build_unet")
            if entry.get("params") != unet_params(classes, depth, base, channels):
                raise Fail("The number of parameters differs from the formula of Part 4 for several configurations.")
            layers = [layer for layer in entry["layers"] if layer.get("class") != "InputLayer"]
            convs = [layer.get("config", {}) for layer in layers if layer.get("class") == "Conv2D"]
            if len(convs) != 4 * depth + 3:
                raise Fail("Expected 2 Conv2D layers per double convolution (2 * depth + 1 of them) and a classifier.")
            if any(_conv_settings(c)[1:] != ((3, 3), "same", "relu") for c in convs[:-1]):
                raise Fail("Every convolution but the classifier should be 3x3, 'same', relu.")
            if (convs[-1].get("filters"), pair_of(convs[-1].get("kernel_size"))) != (classes, (1, 1)):
                raise Fail("The classifier should be a 1x1 convolution with num_classes filters.")
            pools = [layer.get("config", {}) for layer in layers if layer.get("class") == "MaxPooling2D"]
            if len(pools) != depth or any(pair_of(p.get("pool_size")) != (2, 2) or pair_of(p.get("strides")) != (2, 2)
                                          for p in pools):
                raise Fail("Expected depth 2x2 poolings with stride 2.")
            ups = [layer.get("config", {}) for layer in layers if layer.get("class") == "Conv2DTranspose"]
            if [(u.get("filters"), pair_of(u.get("kernel_size")), pair_of(u.get("strides"))) for u in ups] != [
                    (base * 2 ** level, (2, 2), (2, 2)) for level in reversed(range(depth))]:
                raise Fail("The transposed convolutions (deepest first) should have base_filters * 2**level filters, "
                           "2x2 kernels and stride 2.")
            fuses = [layer.get("config", {}) for layer in layers if layer.get("class") == "Concatenate"]
            if len(fuses) != depth or any(f.get("axis") not in (-1, 3) for f in fuses):
                raise Fail("Expected depth concatenations along the channel axis.")
            out = r.array(key, "build_unet with the grader's weights")
            if out.shape != want.shape or not np.allclose(out, want, atol=1e-4):
                raise Fail("With the same weights, the U-Net's outputs differ from the reference: every skip "
                           "connection should concatenate the up-sampled tensor first, then the encoder output of the "
                           "same level (the tensor that is then pooled), deepest first.")
        return "Part 4 hidden checks passed."
    return Probe(calls, arrays, judge, hidden=True)


# ----------------------------------------------------------------------------- Part 5
def _trained_probe(count, part, hidden):
    def make(rng) -> Probe:
        images, labels = _pages(rng, count)
        calls = [Call("p", "trained_unet", [array("pages")]),
                 Call("loss", "trained_unet_loss", [array("loss_pages"), array("loss_labels")])]

        def judge(r: Results) -> str:
            what = "The model trained by train_unet"
            if r.meta.get("p", {}).get("status") == "missing":
                raise Fail("trained_unet does not exist: the visible test of Part 5 did not train a model.")
            out = r.array("p", f"{what}, on {count} held-out pages")
            if out.shape != (count, 64, 64, 4) or out.dtype.kind != "f":
                raise Fail(f"{what} should give ({count}, 64, 64, 4) probabilities"
                           + ("" if hidden else f", got {out.shape}") + ".")
            _check_loss_fits_output(r, out, labels, what)
            score = ref.mean_iou(labels, out.argmax(axis=-1), 4)
            if score < IOU_THRESHOLD:
                raise Fail(f"The mean IoU on {count} held-out pages is {score:.3f}, below the threshold "
                           f"{IOU_THRESHOLD}. See the hints: one softmax only, the loss, the learning rate, depth 2 "
                           "and 8 base filters.")
            if hidden and out.max(axis=-1).mean() <= 0.6:
                raise Fail(f"The trained model's most likely class has a mean probability of only "
                           f"{out.max(axis=-1).mean():.2f}: is the softmax applied twice (a softmax of "
                           "probabilities of 4 classes is never above 0.48)?")
            return f"Part {part} {'hidden' if hidden else 'visible'} checks passed (mean IoU {score:.2f})."
        return Probe(calls, {"pages": images, "loss_pages": images[:LOSS_PAGES],
                             "loss_labels": labels[:LOSS_PAGES]}, judge, hidden=hidden)
    return make


def _check_loss_fits_output(r: Results, out: np.ndarray, labels: np.ndarray, what: str) -> None:
    """The logits/probabilities confusion: outputs that are no probabilities (raw scores
    trained with the probabilities' loss), or a compiled loss that is not the cross-entropy
    of the outputs (``from_logits=True`` on a softmax: it is at least -log(e / (e + 3)) =
    0.74 for 4 classes, whatever the model predicts)."""
    if out.min() < -1e-6 or not np.allclose(out.sum(axis=-1), 1.0, atol=1e-3):
        raise Fail(f"{what} does not output probabilities (each pixel's should be >= 0 and sum to 1): raw scores "
                   "(logits) trained with 'sparse_categorical_crossentropy', which expects probabilities "
                   "(from_logits=False)? Train and return the model of build_unet, which ends with a softmax.")
    compiled = r.array("loss", "trained_unet_loss, the loss the trained model was compiled with")
    if compiled.shape != () or compiled.dtype.kind != "f":
        raise Fail("trained_unet_loss should return one float: the loss the trained model was compiled with.")
    if np.isnan(compiled):                  # returned uncompiled (e.g. a model wrapped after training)
        return
    picked = np.take_along_axis(out[:LOSS_PAGES].astype(np.float64), labels[:LOSS_PAGES, ..., None].astype(int), -1)
    own = float(np.mean(-np.log(np.clip(picked, 1e-7, 1.0))))
    if not abs(float(compiled) - own) <= 0.02 + 0.05 * own:
        raise Fail("The loss the trained model was compiled with is not the cross-entropy of its own probabilities"
                   + ("" if r.hidden else f" ({float(compiled):.3f} against {own:.3f} on {LOSS_PAGES} pages)")
                   + ": from_logits=True on a softmax output? build_unet ends with a softmax, so compile with "
                   "loss='sparse_categorical_crossentropy' (from_logits=False).")


CHECKS = {
    "test_bottleneck_size_visible": bottleneck_size_visible,
    "test_bottleneck_size_hidden": bottleneck_size_hidden,
    "test_double_conv_visible": double_conv_visible,
    "test_double_conv_hidden": double_conv_hidden,
    "test_build_unet_visible": build_unet_visible,
    "test_build_unet_hidden": build_unet_hidden,
    "test_unet_architecture_visible": architecture_visible,
    "test_unet_architecture_hidden": architecture_hidden,
    "test_train_unet_visible": _trained_probe(16, 5, hidden=False),
    "test_train_unet_hidden": _trained_probe(24, 5, hidden=True),
}
