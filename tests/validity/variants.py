"""Correct-but-different and common-wrong answers, per assignment and solution cell.

A variant edits ONE solution cell of the instructor's answers: ``code`` replaces the
whole cell, ``edits`` are (old, new) text replacements in the instructor's answer.
``fails`` maps each grade cell that must lose its points to a text the failure message
must contain (``a|b``: either); ``also_fails``: later cells whose functions call this one, lost too (no
message checked); every other grade cell must keep full marks. ``notebook_also`` lists grade
cells the notebook's own tests fail in addition (a later test cell that calls this
function: the trusted checks give the later function its own reference inputs).
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Variant:
    name: str
    cell: str
    fails: dict[str, str] = field(default_factory=dict)
    code: str | None = None
    edits: list[tuple[str, str]] = field(default_factory=list)
    also_fails: set[str] = field(default_factory=set)
    notebook_also: set[str] = field(default_factory=set)

    def answer(self, solution: str) -> str:
        if self.code is not None:
            return self.code
        for old, new in self.edits:
            assert old in solution, (self.name, old)
            solution = solution.replace(old, new)
        return solution


# ----------------------------------------------------------------------------- fcn_basics
FCN_BASICS = [
    Variant("same-as-ceil-formula", "dimensions",
            edits=[("return -(-input_size // stride)  # ceil division", "return (input_size + stride - 1) // stride")]),
    Variant("same-floor-division", "dimensions", {"test_dimensions_hidden": "conv_output_size with padding='same'"},
            edits=[("return -(-input_size // stride)  # ceil division", "return input_size // stride")]),
    Variant("transpose-off-by-one", "dimensions",
            {"test_dimensions_visible": "the lecture slide 'Standard: transposed",
             "test_dimensions_hidden": "conv_transpose_output_size with padding='valid'"},
            edits=[("return input_size * stride + max(kernel_size - stride, 0)",
                    "return (input_size - 1) * stride + kernel_size - 1")]),
    Variant("transpose-ignores-max-k-s", "dimensions",
            {"test_dimensions_hidden": "conv_transpose_output_size with padding='valid'"},
            edits=[("return input_size * stride + max(kernel_size - stride, 0)",
                    "return (input_size - 1) * stride + kernel_size")]),
    Variant("shapes-as-one-division", "dimensions", {"test_dimensions_hidden": "100 // 8 * 8"},
            edits=[("h, w = h * 8, w * 8", "h, w = height, width")]),
    Variant("dice-count-nonzero", "dice", code='''
def dice_coefficient(y_true, y_pred):
    a, b = np.asarray(y_true) != 0, np.asarray(y_pred) != 0
    total = np.count_nonzero(a) + np.count_nonzero(b)
    return 1.0 if not total else float(2 * np.count_nonzero(a & b) / total)
'''),
    Variant("dice-without-empty-convention", "dice", {"test_dice_hidden": "Two empty masks should give Dice 1.0|dice_coefficient is wrong"},
            code='''
def dice_coefficient(y_true, y_pred):
    y_true = np.asarray(y_true, dtype=bool)
    y_pred = np.asarray(y_pred, dtype=bool)
    with np.errstate(invalid="ignore"):
        return float(2 * np.sum(y_true & y_pred) / (np.sum(y_true) + np.sum(y_pred)))
'''),
    Variant("dice-without-factor-2", "dice", {"test_dice_visible": "Check 2*|A∩B| / (|A|+|B|)",
                                             "test_dice_hidden": "dice_coefficient is wrong"},
            edits=[("float(2.0 * np.logical_and", "float(np.logical_and")]),
    Variant("dice-iou-denominator", "dice", {"test_dice_visible": "Check 2*|A∩B| / (|A|+|B|)",
                                            "test_dice_hidden": "dice_coefficient is wrong"},
            edits=[("/ total)", "/ (total - np.logical_and(y_true, y_pred).sum()))")]),
    Variant("soft-dice-numpy", "soft_dice", code='''
def soft_dice_loss(y_true, y_pred, smooth=1.0):
    t = np.asarray(y_true, dtype=np.float64)
    p = np.asarray(y_pred, dtype=np.float64)
    inter = np.einsum("bhwc,bhwc->bc", t, p)
    den = (t ** 2).sum(axis=(1, 2)) + (p ** 2).sum(axis=(1, 2))
    return (1 - (2 * inter + smooth) / (den + smooth)).mean(axis=1)
'''),
    Variant("soft-dice-without-squares", "soft_dice", {"test_soft_dice_hidden": "check the squares"},
            edits=[("ops.sum(ops.square(y_pred), axis=pixel_axes)", "ops.sum(y_pred, axis=pixel_axes)")]),
    Variant("soft-dice-scalar", "soft_dice", {"test_soft_dice_visible": "one value per image",
                                             "test_soft_dice_hidden": "one value per image"},
            edits=[("return ops.mean(1.0 - dice_per_class, axis=-1)", "return ops.mean(1.0 - dice_per_class)")]),
    Variant("soft-dice-wrong-axes", "soft_dice", {"test_soft_dice_visible": "one value per image",
                                                 "test_soft_dice_hidden": "one value per image"},
            edits=[("pixel_axes = (1, 2)", "pixel_axes = (0, 1, 2)")]),
    Variant("soft-dice-softmax-twice", "soft_dice", {"test_soft_dice_visible": "A perfect prediction should give a loss of 0",
                                                    "test_soft_dice_hidden": "differs from the formula"},
            edits=[('y_pred = ops.cast(y_pred, "float32")', 'y_pred = ops.softmax(ops.cast(y_pred, "float32"), axis=-1)')]),
    Variant("fcn-functional", "fcn_model", code='''
def build_fcn_upscaling(num_classes):
    L = keras.layers
    x = inputs = keras.Input((None, None, 1))
    for filters, size in ((40, 3), (40, 4), (80, 4)):
        x = L.MaxPooling2D(2)(L.Conv2D(filters, size, padding="same", activation="relu")(x))
    x = L.Conv2D(num_classes, 1)(L.UpSampling2D(8)(x))
    return keras.Model(inputs, L.Activation("softmax")(x))
'''),
    Variant("fcn-upscaling-4x", "fcn_model", {"test_fcn_visible": "must multiply by 8",
                                             "test_fcn_hidden": "keep their size"},
            edits=[("layers.UpSampling2D((8, 8), interpolation=\"nearest\"),",
                    "layers.UpSampling2D((4, 4)),")]),
    Variant("fcn-without-softmax", "fcn_model", {"test_fcn_visible": "sum to 1 (softmax)",
                                                "test_fcn_hidden": "differ from the slide's network"},
            edits=[('        layers.Activation("softmax"),\n', "")]),
]

# ----------------------------------------------------------------------------- dimensions
DIMENSIONS = [
    Variant("same-with-math-ceil", "sizes",
            edits=[("return -(-input_size // stride)", "import math\n        return math.ceil(input_size / stride)")]),
    Variant("same-floor-division", "sizes", {"test_sizes_visible": "'same' rounds up",
                                            "test_sizes_hidden": "conv_output_size is wrong"},
            edits=[("return -(-input_size // stride)", "return input_size // stride")],
            also_fails={"test_bottleneck_visible", "test_bottleneck_hidden"}),
    Variant("size-as-numpy-float", "sizes", {"test_sizes_visible": "should return an int"},
            edits=[("return -(-input_size // stride)", "return np.ceil(input_size / stride)")]),
    Variant("pool-ignores-strides-none", "sizes", {"test_sizes_visible": "pool_output_size(256, 2)",
                                                  "test_sizes_hidden": "pool_output_size is wrong"},
            edits=[("strides = pool_size\n", "strides = 1\n")]),
    Variant("transpose-gaps-kept-by-max", "transpose_size",
            edits=[("return (n - 1) * s + max(k, s)", "return (n - 1) * s + k + max(s - k, 0)")]),
    Variant("transpose-ignores-max-k-s", "transpose_size",
            {"test_transpose_size_visible": "(3 - 1) * 3 + max(2, 3)",
             "test_transpose_size_hidden": "a stride larger than the kernel"},
            edits=[("return (n - 1) * s + max(k, s)", "return (n - 1) * s + k")]),
    Variant("transpose-n-times-s-plus-k", "transpose_size",
            {"test_transpose_size_visible": "slide 'Standard'", "test_transpose_size_hidden": "padding='valid'"},
            edits=[("return (n - 1) * s + max(k, s)", "return n * s + k")]),
    Variant("transpose-same-ignores-output-padding", "transpose_size",
            {"test_transpose_size_visible": "output_padding=0", "test_transpose_size_hidden": "padding='same', an output_padding"},
            edits=[("return (n - 1) * s + k % 2 + output_padding", "return n * s")]),
    Variant("bottleneck-one-division", "bottleneck",
            edits=[("""    for _ in range(num_pools):
        height = pool_output_size(height, 2, 2, pool_padding)
        width = pool_output_size(width, 2, 2, pool_padding)
    return (height, width, k)""", """    m = 2 ** num_pools
    if pool_padding == "same":
        return (-(-height // m), -(-width // m), k)
    return (height // m, width // m, k)""")]),
    Variant("padded-size-full-extra-block", "bottleneck", {"test_bottleneck_visible": "padded_size(256)",
                                                          "test_bottleneck_hidden": "padded_size is wrong"},
            edits=[("return -(-size // multiple) * multiple", "return size + multiple - size % multiple")]),
    Variant("decoded-keeps-page-size", "bottleneck", {"test_bottleneck_visible": "decoded_shape(100, 100",
                                                     "test_bottleneck_hidden": "decoded_shape is wrong"},
            edits=[("return (upscaling_output_size(h, factor), upscaling_output_size(w, factor), num_classes)",
                    "return (height, width, num_classes)")]),
    Variant("params-with-prod", "params",
            edits=[("kh, kw = _kernel_pair(kernel_size)\n    return kh * kw * in_channels * filters",
                    "return int(np.prod(kernel_size)) * (1 if np.ndim(kernel_size) else kernel_size) * in_channels * filters")]),
    Variant("params-forget-in-channels", "params", {"test_params_visible": "Conv 80, 4x4 after 40 channels",
                                                   "test_params_hidden": "conv2d_params disagrees"},
            edits=[("return kh * kw * in_channels * filters", "return kh * kw * filters")],
            also_fails={"test_table_visible", "test_table_hidden"}),
    Variant("params-always-bias", "params", {"test_params_visible": "no bias", "test_params_hidden": "without bias"},
            edits=[("return in_features * units + (units if use_bias else 0)", "return in_features * units + units")]),
    Variant("table-explicit-arithmetic", "table",
            edits=[("add(name, (upscaling_output_size(h, 2), upscaling_output_size(w, 2), c), 0)", "add(name, (2 * h, 2 * w, c), 0)"),
                   ("add(name, (pool_output_size(h, 2, 2), pool_output_size(w, 2, 2), c), 0)", "add(name, (h // 2, w // 2, c), 0)")]),
    Variant("table-transposed-as-upscaling", "table", {"test_table_hidden": "decoder='transposed'"},
            edits=[('if decoder == "upscaling":\n', 'if True:\n')]),
    Variant("table-fuse-keeps-first-channels", "table", {"test_table_visible": "Row 'fuse2'",
                                                        "test_table_hidden": "the shape of 'fuse2'"},
            edits=[("add(name, (h, w, c1 + c2), 0)", "add(name, (h, w, c1), 0)")]),
]

# ----------------------------------------------------------------------------- sliding_window_vs_fcn
SLIDING = [
    Variant("patches-with-loops", "patches", code='''
def extract_patches(page, patch_size, stride):
    page = np.asarray(page, dtype=np.float32)
    page = page[..., None] if page.ndim == 2 else page
    h, w, c = page.shape
    top = patch_size // 2
    padded = np.zeros((h + patch_size, w + patch_size, c), np.float32)
    padded[top:top + h, top:top + w] = page
    patches, centers = [], []
    for r in range(0, h, stride):
        for col in range(0, w, stride):
            patches.append(padded[r:r + patch_size, col:col + patch_size])
            centers.append([r, col])
    return np.stack(patches).astype(np.float32), np.array(centers)
'''),
    Variant("patches-without-padding", "patches", {"test_patches_visible": "should have shape (9, 3, 3, 1)",
                                                  "test_patches_hidden": "wrong shape"},
            edits=[("padded = np.pad(page, ((before, after), (before, after), (0, 0)))", "padded = page")],
            also_fails={"test_sliding_window_visible", "test_sliding_window_hidden"}),
    Variant("patches-even-size-centre", "patches", {"test_patches_hidden": "which pixel is the centre"},
            edits=[("before = patch_size // 2", "before = (patch_size - 1) // 2")],
            also_fails={"test_sliding_window_hidden"}),
    Variant("sliding-window-loops", "sliding_window", code='''
def predict_sliding_window(classify, page, patch_size, stride, batch_size=256):
    page = np.asarray(page, dtype=np.float32)
    patches, centers = extract_patches(page, patch_size, stride)
    out = np.zeros(page.shape[:2], dtype=np.uint8)
    labels = []
    for i in range(0, len(patches), batch_size):
        labels.extend(np.argmax(np.asarray(classify(patches[i:i + batch_size])), axis=1))
    for (r, c), label in zip(centers, labels):
        out[r:r + stride, c:c + stride] = label
    return out
'''),
    Variant("sliding-window-one-batch", "sliding_window", {"test_sliding_window_visible": "[6, 6, 6, 2]",
                                                          "test_sliding_window_hidden": "in batches of at most batch_size"},
            edits=[("scores = np.asarray(classify(patches[start:start + batch_size]))",
                    "scores = np.asarray(classify(patches))[start:start + batch_size]")]),
    Variant("sliding-window-no-crop", "sliding_window", {"test_sliding_window_visible": "2x2 cell",
                                                        "test_sliding_window_hidden": "returned the wrong shape"},
            edits=[("return full[:height, :width]", "return full")]),
    Variant("fcn-functional", "fcn_model", code='''
def build_fcn_upscaling(num_classes, num_channels=1):
    L = keras.layers
    x = inputs = keras.Input((None, None, num_channels))
    for filters, size in ((40, 3), (40, 4), (80, 4)):
        x = L.MaxPooling2D(2, 2)(L.Conv2D(filters, size, padding="same", activation="relu")(x))
    return keras.Model(inputs, L.Conv2D(num_classes, 1, activation="softmax")(L.UpSampling2D(8)(x)))
'''),
    Variant("fcn-upscaling-4x", "fcn_model", {"test_fcn_visible": "must multiply by 8", "test_fcn_hidden": "8x8"},
            edits=[("layers.UpSampling2D((8, 8)", "layers.UpSampling2D((4, 4)")]),
    Variant("fcn-bilinear", "fcn_model", {"test_fcn_hidden": "nearest interpolation"},
            edits=[('interpolation="nearest"', 'interpolation="bilinear"')]),
    Variant("fcn-ignores-num-channels", "fcn_model", {"test_fcn_hidden": "The number of parameters"},
            edits=[("keras.Input(shape=(None, None, num_channels))", "keras.Input(shape=(None, None, 1))")]),
    Variant("predict-fcn-manual-zeros", "predict_fcn", code='''
def predict_fcn(predict, page, multiple=8):
    page = np.asarray(page, dtype=np.float32)
    if page.ndim == 2:
        page = page[..., None]
    h, w, c = page.shape
    H, W = int(np.ceil(h / multiple)) * multiple, int(np.ceil(w / multiple)) * multiple
    padded = np.zeros((1, H, W, c), np.float32)
    padded[0, :h, :w] = page
    return np.argmax(np.asarray(predict(padded))[0, :h, :w], axis=-1).astype("uint8")
'''),
    Variant("predict-fcn-pads-both-sides", "predict_fcn", {"test_predict_fcn_visible": "pad at the bottom/right only",
                                                          "test_predict_fcn_hidden": "the page must stay at the top-left"},
            edits=[("padded = np.pad(page, ((0, -height % multiple), (0, -width % multiple), (0, 0)))",
                    "ph, pw = -height % multiple, -width % multiple\n"
                    "    padded = np.pad(page, ((ph // 2, ph - ph // 2), (pw // 2, pw - pw // 2), (0, 0)))")]),
    Variant("predict-fcn-full-extra-block", "predict_fcn", {"test_predict_fcn_visible": "must not be padded",
                                                           "test_predict_fcn_hidden": "zero-padded page"},
            edits=[("(0, -height % multiple), (0, -width % multiple)",
                    "(0, multiple - height % multiple), (0, multiple - width % multiple)")]),
]

# ----------------------------------------------------------------------------- skip_fcns
_SKIP_ALT = '''
def {name}(num_classes, num_channels=1):
    L = keras.layers
    inputs = keras.Input(shape=(None, None, num_channels))
    c1 = L.Conv2D(40, 3, padding="same", activation="relu", name="conv1")(inputs)
    c2 = L.Conv2D(80, 4, padding="same", activation="relu", name="conv2")(L.MaxPooling2D(2)(c1))
    c3 = L.Conv2D(80, 4, padding="same", activation="relu", name="conv3")(L.MaxPooling2D(2)(c2))
    x = L.Conv2D(160, 1, activation="relu", name="fc4")(L.MaxPooling2D(2)(c3))
    x = L.Conv2D(160, 1, activation="relu", name="fc5")(x)
    for filters, skip in ((80, c3), (80, c2), (40, c1)):
        x = L.concatenate([{up}, skip])
    return keras.Model(inputs, L.Activation("softmax")(L.Conv2D(num_classes, 1, name="logits")(x)))
'''
SKIP = [
    Variant("skip-loop", "skip_upscaling",
            code=_SKIP_ALT.format(name="build_fcn_skip_upscaling", up="L.UpSampling2D(size=(2, 2))(x)")),
    Variant("skip-reversed-concatenation", "skip_upscaling",
            {"test_skip_upscaling_hidden": "its order (the up-sampled tensor first"},
            edits=[("[up1, conv3]", "[conv3, up1]"), ("[up2, conv2]", "[conv2, up2]"), ("[up3, conv1]", "[conv1, up3]")]),
    Variant("skip-from-pooling", "skip_upscaling", {"test_skip_upscaling_hidden": "what each concatenation joins"},
            edits=[("[up1, conv3]", "[up1, pool2]")]),
    Variant("skip-concatenate-height", "skip_upscaling", {"test_skip_upscaling_visible": "",
                                                         "test_skip_upscaling_hidden": ""},
            edits=[("Concatenate(axis=-1)([up1, conv3])", "Concatenate(axis=1)([up1, conv3])")]),
    Variant("transposed-loop", "transposed_skip",
            code=_SKIP_ALT.format(name="build_fcn_transposed_skip",
                                  up="L.Conv2DTranspose(filters, 3, strides=(2, 2), padding='same')(x)")),
    Variant("transposed-valid-no-crop", "transposed_skip", {"test_transposed_skip_visible": "",
                                                           "test_transposed_skip_hidden": ""},
            edits=[('Conv2DTranspose(80, (3, 3), 2, padding="same")(fc5)', 'Conv2DTranspose(80, (3, 3), 2, padding="valid")(fc5)')]),
    Variant("transposed-with-relu", "transposed_skip", {"test_transposed_skip_hidden": "no activation"},
            edits=[('Conv2DTranspose(80, (3, 3), 2, padding="same")(fc5)',
                    'Conv2DTranspose(80, (3, 3), 2, padding="same", activation="relu")(fc5)')]),
    Variant("transposed-reversed-concatenation", "transposed_skip",
            {"test_transposed_skip_hidden": "its order (the up-sampled tensor first"},
            edits=[("[up2, conv2]", "[conv2, up2]")]),
    Variant("conv-transpose-loop-over-kernel", "conv_transpose", code='''
def conv2d_transpose_numpy(inputs, kernel, strides=1, padding="valid"):
    x = np.asarray(inputs, dtype=np.float64)
    k = np.asarray(kernel, dtype=np.float64)
    sh, sw = (strides, strides) if isinstance(strides, int) else strides
    b, h, w, _ = x.shape
    kh, kw, co, _ = k.shape
    full = np.zeros((b, (h - 1) * sh + max(kh, sh), (w - 1) * sw + max(kw, sw), co))
    for di in range(kh):
        for dj in range(kw):
            full[:, di:di + (h - 1) * sh + 1:sh, dj:dj + (w - 1) * sw + 1:sw] += x @ k[di, dj].T
    if padding == "valid":
        return full
    top = max(kh - sh, 0) // 2
    left = max(kw - sw, 0) // 2
    return full[:, top:top + h * sh, left:left + w * sw]
'''),
    Variant("conv-transpose-same-without-crop", "conv_transpose",
            {"test_conv_transpose_visible": "Keras gives shape", "test_conv_transpose_hidden": "the output shape differs"},
            edits=[('out = n * s if padding == "same" else (n - 1) * s + max(k, s)', "out = (n - 1) * s + max(k, s)")]),
    Variant("conv-transpose-size-off-by-one", "conv_transpose",
            {"test_conv_transpose_visible": "should give (1, 4, 4, 1)", "test_conv_transpose_hidden": "the output shape"},
            edits=[('out = n * s if padding == "same" else (n - 1) * s + max(k, s)',
                    'out = n * s if padding == "same" else n * s + max(k - s, 0) + 1')]),
    Variant("conv-transpose-assign-not-add", "conv_transpose",
            {"test_conv_transpose_visible": "they must add up", "test_conv_transpose_hidden": "the values differ"},
            edits=[("j * sw:j * sw + kw, :] += np.einsum", "j * sw:j * sw + kw, :] = np.einsum")]),
    Variant("conv-transpose-crop-at-end", "conv_transpose", {"test_conv_transpose_hidden": "the values differ"},
            edits=[('start = max(length - out, 0) // 2 if padding == "same" else 0', "start = 0")]),
    Variant("max-pool-loops", "max_pool", code='''
def max_pool_with_argmax(x, pool_size=2):
    x = np.asarray(x)
    p = pool_size
    b, h, w, c = x.shape
    pooled = np.zeros((b, h // p, w // p, c), x.dtype)
    where = np.zeros((b, h // p, w // p, c), np.int64)
    for i in range(h // p):
        for j in range(w // p):
            win = x[:, i * p:(i + 1) * p, j * p:(j + 1) * p, :].reshape(b, p * p, c)
            pooled[:, i, j] = win.max(axis=1)
            where[:, i, j] = win.argmax(axis=1)
    return pooled, where
'''),
    Variant("max-pool-col-major-position", "max_pool", {"test_max_pool_visible": "row * 2 + col",
                                                       "test_max_pool_hidden": "wrong positions"},
            edits=[("transpose(0, 1, 3, 5, 2, 4)", "transpose(0, 1, 3, 5, 4, 2)")],
            notebook_also={"test_max_unpool_visible"}),
    Variant("max-pool-last-on-ties", "max_pool", {"test_max_pool_visible": "the first one on ties",
                                                 "test_max_pool_hidden": "(with ties): wrong positions"},
            edits=[("windows.argmax(axis=-1)", "p * p - 1 - windows[..., ::-1].argmax(axis=-1)")],
            notebook_also={"test_max_unpool_visible"}),
    Variant("max-unpool-loops", "max_unpool", code='''
def max_unpool(values, argmax, pool_size=2):
    values, argmax = np.asarray(values), np.asarray(argmax)
    b, h, w, c = values.shape
    p = pool_size
    out = np.zeros((b, h * p, w * p, c), values.dtype)
    for n in range(b):
        for i in range(h):
            for j in range(w):
                for ch in range(c):
                    r, col = divmod(int(argmax[n, i, j, ch]), p)
                    out[n, i * p + r, j * p + col, ch] = values[n, i, j, ch]
    return out
'''),
    Variant("max-unpool-row-col-swapped", "max_unpool", {"test_max_unpool_visible": "row i*2 + pos // 2",
                                                        "test_max_unpool_hidden": "values in the wrong places"},
            edits=[(".transpose(0, 1, 4, 2, 5, 3)", ".transpose(0, 1, 5, 2, 4, 3)")]),
    Variant("max-unpool-fixed-2x2", "max_unpool", {"test_max_unpool_hidden": "max_unpool of"},
            edits=[("p = pool_size\n", "p = 2\n")]),
]

# ----------------------------------------------------------------------------- losses_metrics
LOSSES_METRICS = [
    Variant("lm-dice-sums-of-products", "dice", code='''
def dice_coefficient(y_true, y_pred):
    t = np.asarray(y_true).astype(np.int64).ravel()
    p = np.asarray(y_pred).astype(np.int64).ravel()
    denominator = t.sum() + p.sum()
    return 1.0 if denominator == 0 else float(2 * np.dot(t, p) / denominator)
'''),
    Variant("lm-dice-iou-formula", "dice", {"test_dice_visible": "Dice of the 3x3 example should be 0.6667",
                                           "test_dice_hidden": "dice_coefficient is wrong"},
            edits=[("return float(2.0 * np.count_nonzero(a & b) / total)",
                    "return float(np.count_nonzero(a & b) / np.count_nonzero(a | b))")]),
    Variant("lm-dice-nan-for-empty", "dice", {"test_dice_visible": "Two empty masks should give Dice 1.0",
                                             "test_dice_hidden": "Two empty masks must give Dice 1.0"},
            edits=[("    if total == 0:\n        return 1.0\n", "")]),
    Variant("lm-iou-via-sizes", "iou", code='''
def iou_score(y_true, y_pred):
    a, b = np.asarray(y_true) != 0, np.asarray(y_pred) != 0
    both = np.logical_and(a, b).sum()
    union = a.sum() + b.sum() - both
    return 1.0 if union == 0 else float(both) / float(union)
'''),
    Variant("lm-iou-sum-denominator", "iou", {"test_iou_visible": "IoU of the 3x3 example should be 0.5000",
                                             "test_iou_hidden": "iou_score is wrong"},
            edits=[("union = np.count_nonzero(a | b)", "union = np.count_nonzero(a) + np.count_nonzero(b)")]),
    Variant("lm-iou-returns-numpy-scalar-int-division", "iou", {"test_iou_visible": "should return a Python float",
                                                               "test_iou_hidden": "should return a Python float"},
            edits=[("return float(np.count_nonzero(a & b) / union)", "return np.int64(np.count_nonzero(a & b)) // union")]),
    Variant("lm-mean-iou-confusion-matrix", "mean_iou", code='''
def mean_iou(y_true, y_pred, num_classes, ignore_label=None):
    t, p = np.asarray(y_true).ravel(), np.asarray(y_pred).ravel()
    if ignore_label is not None:
        t, p = t[t != ignore_label], p[t != ignore_label]
    m = np.bincount(t * num_classes + p, minlength=num_classes * num_classes).reshape(num_classes, num_classes)
    tp = np.diag(m)
    union = m.sum(axis=0) + m.sum(axis=1) - tp
    return float(np.mean(tp[union > 0] / union[union > 0])) if np.any(union > 0) else float("nan")
'''),
    Variant("lm-mean-iou-ignore-counted", "mean_iou", {"test_mean_iou_visible": "0.5333 means the ignored pixel",
                                                      "test_mean_iou_hidden": "mean_iou is wrong"},
            edits=[("    if ignore_label is not None:\n        keep = y_true != ignore_label\n"
                    "        y_true, y_pred = y_true[keep], y_pred[keep]\n", "")]),
    Variant("lm-mean-iou-absent-as-zero", "mean_iou", {"test_mean_iou_visible": "0.4375 means the absent class",
                                                      "test_mean_iou_hidden": "mean_iou is wrong"},
            edits=[("        if union > 0:\n            scores.append(np.count_nonzero(in_true & in_pred) / union)",
                    "        scores.append(np.count_nonzero(in_true & in_pred) / union if union else 0.0)")]),
    Variant("lm-soft-dice-per-class-losses", "soft_dice", code='''
def soft_dice_loss(y_true, y_pred, smooth=1.0):
    y_pred = ops.cast(y_pred, "float32")
    y_true = ops.cast(y_true, "float32")
    overlap = ops.sum(ops.multiply(y_true, y_pred), axis=[1, 2])
    sizes = ops.sum(y_true * y_true + y_pred * y_pred, axis=[1, 2])
    return ops.mean(1.0 - (2.0 * overlap + smooth) / (sizes + smooth), axis=-1)
'''),
    Variant("lm-soft-dice-numpy", "soft_dice", {"test_soft_dice_visible": "should return a tensor",
                                               "test_soft_dice_hidden": "should return a tensor"}, code='''
def soft_dice_loss(y_true, y_pred, smooth=1.0):
    t, p = np.asarray(y_true, dtype=np.float64), np.asarray(y_pred, dtype=np.float64)
    dice = (2 * (t * p).sum(axis=(1, 2)) + smooth) / ((t ** 2).sum(axis=(1, 2)) + (p ** 2).sum(axis=(1, 2)) + smooth)
    return 1.0 - dice.mean(axis=-1)
'''),
    Variant("lm-soft-dice-no-squares", "soft_dice", {"test_soft_dice_visible": "0.333 means the denominator",
                                                    "test_soft_dice_hidden": "the squares in the denominator"},
            edits=[("ops.sum(ops.square(y_true), axis=(1, 2)) + ops.sum(ops.square(y_pred), axis=(1, 2))",
                    "ops.sum(y_true, axis=(1, 2)) + ops.sum(y_pred, axis=(1, 2))")]),
    Variant("lm-soft-dice-smooth-in-denominator-only", "soft_dice",
            {"test_soft_dice_visible": "Image 1: class 1",
             "test_soft_dice_hidden": "nan or inf|where the smoothing goes"},
            edits=[("dice = (2.0 * intersection + smooth) / (denominator + smooth)",
                    "dice = (2.0 * intersection) / (denominator + smooth)")]),
    Variant("lm-class-weights-sorted-median", "class_weights", code='''
def class_weights_from_frequencies(frequencies):
    f = np.array(frequencies, dtype=float)
    present = np.sort(f[f > 0])
    n = len(present)
    median = present[n // 2] if n % 2 else 0.5 * (present[n // 2 - 1] + present[n // 2])
    return np.array([median / v if v > 0 else 0.0 for v in f])
'''),
    Variant("lm-class-weights-inverted", "class_weights", {"test_class_weights_visible": "weights 0.225 / f",
                                                          "test_class_weights_hidden": "must be median / frequency"},
            edits=[("np.median(frequencies[present]) / frequencies[present]",
                    "frequencies[present] / np.median(frequencies[present])")]),
    Variant("lm-class-weights-median-with-zeros", "class_weights",
            {"test_class_weights_visible": "An absent class gets 0 and is left out of the median",
             "test_class_weights_hidden": "must be median / frequency"},
            edits=[("np.median(frequencies[present])", "np.median(frequencies)")]),
    Variant("lm-weighted-ce-take-along-axis", "weighted_ce", code='''
def weighted_crossentropy(y_true, y_pred, class_weights):
    y_pred = ops.convert_to_tensor(y_pred, dtype="float32")
    labels = ops.cast(y_true, "int32")
    picked = ops.take_along_axis(y_pred, ops.expand_dims(labels, -1), axis=-1)[..., 0]
    w = ops.take(ops.convert_to_tensor(np.asarray(class_weights, dtype="float32")), labels)
    return ops.mean(-w * ops.log(ops.maximum(picked, 1e-7)), axis=[1, 2])
'''),
    Variant("lm-weighted-ce-no-clip", "weighted_ce", {"test_weighted_ce_hidden": "nan or inf"},
            edits=[("ops.log(ops.clip(p_true, 1e-7, 1.0))", "ops.log(p_true)")]),
    Variant("lm-weighted-ce-sum-over-pixels", "weighted_ce", {"test_weighted_ce_visible": "expected",
                                                             "test_weighted_ce_hidden": "weighted_crossentropy is wrong"},
            edits=[("return ops.mean(pixel_losses, axis=(1, 2))", "return ops.sum(pixel_losses, axis=(1, 2))")]),
]

# ----------------------------------------------------------------------------- unet
UNET = [
    Variant("unet-bottleneck-shifts", "bottleneck_size", code='''
def unet_bottleneck_size(height, width, depth):
    if depth < 1:
        raise ValueError(f"depth must be >= 1, got {depth}")
    for side, size in (("height", height), ("width", width)):
        if size & ((1 << depth) - 1):
            raise ValueError(f"the {side} {size} is not a multiple of {1 << depth}")
    return height >> depth, width >> depth
'''),
    Variant("unet-bottleneck-2-times-depth", "bottleneck_size",
            {"test_bottleneck_size_visible": "raised ValueError", "test_bottleneck_size_hidden": "unet_bottleneck_size"},
            edits=[("multiple = 2**depth", "multiple = 2 * depth")]),
    Variant("unet-bottleneck-float-division", "bottleneck_size",
            {"test_bottleneck_size_visible": "should return a tuple of two ints",
             "test_bottleneck_size_hidden": "should return a tuple of two ints"},
            edits=[("return int(height // multiple), int(width // multiple)", "return height / multiple, width / multiple")]),
    Variant("unet-double-conv-loop", "double_conv", code='''
def double_conv(x, filters):
    for _ in range(2):
        x = keras.layers.Conv2D(filters, kernel_size=3, strides=1, padding="same", activation="relu")(x)
    return x
'''),
    Variant("unet-double-conv-parallel", "double_conv",
            {"test_double_conv_visible": "exactly two Conv2D", "test_double_conv_hidden": "exactly two Conv2D"},
            edits=[('    return layers.Conv2D(filters, (3, 3), padding="same", activation="relu")(x)',
                    '    return layers.Conv2D(filters, (3, 3), padding="same", activation="relu")(inputs_of_block)'),
                   ('    x = layers.Conv2D(filters, (3, 3), padding="same", activation="relu")(x)',
                    '    inputs_of_block = x\n    x = layers.Conv2D(filters, (3, 3), padding="same", activation="relu")(x)')],
            also_fails={"test_unet_architecture_visible", "test_unet_architecture_hidden"}),
    Variant("unet-double-conv-second-without-relu", "double_conv",
            {"test_double_conv_visible": "cannot be negative|relu", "test_double_conv_hidden": "ReLU"},
            edits=[('    return layers.Conv2D(filters, (3, 3), padding="same", activation="relu")(x)',
                    '    return layers.Conv2D(filters, (3, 3), padding="same")(x)')],
            also_fails={"test_unet_architecture_hidden"}),
    Variant("unet-same-transposed-and-concatenate-function", "build_unet",
            edits=[("layers.Conv2DTranspose(filters, (2, 2), strides=2)(features)",
                    "layers.Conv2DTranspose(filters, 2, strides=(2, 2), padding=\"same\")(features)"),
                   ("layers.Concatenate(axis=-1)([features, skips[level]])", "layers.concatenate([features, skips[level]])")]),
    Variant("unet-concatenation-reversed", "build_unet", {"test_unet_architecture_hidden": "up-sampled tensor first"},
            edits=[("layers.Concatenate(axis=-1)([features, skips[level]])", "layers.Concatenate(axis=-1)([skips[level], features])")]),
    Variant("unet-transposed-3x3", "build_unet", {"test_unet_architecture_visible": "expected 29348 parameters",
                                                 "test_unet_architecture_hidden": "differs from the formula"},
            edits=[("layers.Conv2DTranspose(filters, (2, 2), strides=2)(features)",
                    "layers.Conv2DTranspose(filters, (3, 3), strides=2, padding=\"same\")(features)")]),
    Variant("unet-upsampling-instead-of-transposed", "build_unet",
            {"test_unet_architecture_visible": "transposed convolutions", "test_unet_architecture_hidden": "parameters"},
            edits=[("layers.Conv2DTranspose(filters, (2, 2), strides=2)(features)", "layers.UpSampling2D(2)(features)")]),
    Variant("unet-train-loss-object", "train_unet", code='''
def train_unet(images, labels, num_classes, seconds):
    model = build_unet(num_classes=num_classes, depth=2, base_filters=8, num_channels=images.shape[-1])
    model.compile(optimizer=keras.optimizers.Adam(3e-3), loss=keras.losses.SparseCategoricalCrossentropy())
    fit_for(model, images, labels, seconds=seconds, batch_size=4)
    return model
'''),
    Variant("unet-train-not-trained", "train_unet",
            {"test_train_unet_visible": "below the threshold", "test_train_unet_hidden": "below the threshold"},
            edits=[("    fit_for(model, images, labels, seconds=seconds, batch_size=4)\n", "")]),
    Variant("unet-train-softmax-twice", "train_unet", {"test_train_unet_hidden": "softmax applied twice"},
            edits=[("    return model\n", "    return keras.Model(model.input, layers.Activation(\"softmax\")(model.output))\n")]),
]

VARIANTS = {"fcn_basics": FCN_BASICS, "dimensions": DIMENSIONS, "sliding_window_vs_fcn": SLIDING, "skip_fcns": SKIP,
            "losses_metrics": LOSSES_METRICS, "unet": UNET}

# Known disagreement with an existing reference (reported, not ours to change):
# fcn_basics' Dice check demands exactly ``builtins.float``; the notebook accepts any float
# (``isinstance(got, float)``), numpy.float64 included.
NUMPY_FLOAT_DICE = Variant("dice-returns-numpy-float64", "dice", code='''
def dice_coefficient(y_true, y_pred):
    t, p = np.asarray(y_true).astype(bool), np.asarray(y_pred).astype(bool)
    total = t.sum() + p.sum()
    return 1.0 if total == 0 else 2.0 * np.logical_and(t, p).sum() / total
''')

# Students of the real sandboxed batch: each combines variants of DIFFERENT cells with no
# dependency between them, so each grade cell's expected points follow from one variant.
BATCH_STUDENTS = {
    "fcn_basics": {
        "alt-correct": ["same-as-ceil-formula", "dice-count-nonzero", "soft-dice-numpy", "fcn-functional"],
        "wrong-a": ["transpose-off-by-one", "dice-without-empty-convention", "soft-dice-without-squares", "fcn-upscaling-4x"],
        "wrong-b": ["same-floor-division", "dice-iou-denominator", "soft-dice-softmax-twice", "fcn-without-softmax"],
    },
    "dimensions": {
        "alt-correct": ["same-with-math-ceil", "transpose-gaps-kept-by-max", "bottleneck-one-division", "params-with-prod"],
        "wrong-a": ["same-floor-division", "transpose-ignores-max-k-s", "decoded-keeps-page-size",
                    "params-forget-in-channels", "table-transposed-as-upscaling"],
        "wrong-b": ["transpose-same-ignores-output-padding", "padded-size-full-extra-block", "params-always-bias",
                    "table-fuse-keeps-first-channels"],
    },
    "sliding_window_vs_fcn": {
        "alt-correct": ["patches-with-loops", "sliding-window-loops", "fcn-functional", "predict-fcn-manual-zeros"],
        "wrong-a": ["sliding-window-one-batch", "fcn-upscaling-4x", "predict-fcn-pads-both-sides"],
        "wrong-b": ["patches-even-size-centre", "fcn-bilinear", "predict-fcn-full-extra-block"],
    },
    "losses_metrics": {
        "alt-correct": ["lm-dice-sums-of-products", "lm-iou-via-sizes", "lm-mean-iou-confusion-matrix",
                        "lm-soft-dice-per-class-losses", "lm-class-weights-sorted-median", "lm-weighted-ce-take-along-axis"],
        "wrong-a": ["lm-dice-iou-formula", "lm-iou-sum-denominator", "lm-mean-iou-ignore-counted", "lm-soft-dice-numpy",
                    "lm-class-weights-inverted", "lm-weighted-ce-no-clip"],
        "wrong-b": ["lm-dice-nan-for-empty", "lm-iou-returns-numpy-scalar-int-division", "lm-mean-iou-absent-as-zero",
                    "lm-soft-dice-no-squares", "lm-class-weights-median-with-zeros", "lm-weighted-ce-sum-over-pixels"],
    },
    "unet": {   # every notebook trains the U-Net for TRAIN_SECONDS (20 s under autograding)
        "alt-correct": ["unet-bottleneck-shifts", "unet-double-conv-loop", "unet-same-transposed-and-concatenate-function",
                        "unet-train-loss-object"],
        "wrong": ["unet-bottleneck-float-division", "unet-concatenation-reversed", "unet-train-softmax-twice"],
    },
    "skip_fcns": {
        "alt-correct": ["skip-loop", "transposed-loop", "conv-transpose-loop-over-kernel", "max-pool-loops", "max-unpool-loops"],
        "wrong-a": ["skip-reversed-concatenation", "transposed-with-relu", "conv-transpose-same-without-crop",
                    "max-unpool-row-col-swapped"],
        "wrong-b": ["skip-from-pooling", "transposed-valid-no-crop", "conv-transpose-crop-at-end", "max-pool-last-on-ties"],
    },
}

# ----------------------------------------------------------------------------- dataset_formats
DATASET_FORMATS = [
    Variant("label-ids-compare-per-class", "label_ids", code='''
def label_ids_to_train_ids(label_ids):
    ids = np.asarray(label_ids)
    out = np.full(ids.shape, 255)
    for label_id, train_id in CITYSCAPES_TRAIN_IDS.items():
        out[ids == label_id] = train_id     # masks of the ORIGINAL values: no chains
    return out
'''),
    Variant("label-ids-zero-default", "label_ids",
            {"test_label_ids_visible": "ego vehicle 255", "test_label_ids_hidden": "wrong trainIds"},
            edits=[("table = np.full(256, IGNORE, dtype=np.int64)", "table = np.zeros(256, dtype=np.int64)")]),
    Variant("label-ids-table-of-34", "label_ids", {"test_label_ids_hidden": "values above 33"},
            edits=[("table = np.full(256, IGNORE, dtype=np.int64)", "table = np.full(34, IGNORE, dtype=np.int64)")]),
    Variant("label-ids-in-place-chain", "label_ids",
            {"test_label_ids_visible": "car 13", "test_label_ids_hidden": "convert from the original values"},
            code='''
def label_ids_to_train_ids(label_ids):
    out = np.asarray(label_ids).astype(np.int64)
    out[~np.isin(out, list(CITYSCAPES_TRAIN_IDS))] = 255
    for label_id, train_id in sorted(CITYSCAPES_TRAIN_IDS.items(), reverse=True):
        out[out == label_id] = train_id     # car 26 -> 13, then 13 (fence) -> 4
    return out
'''),
    Variant("palette-vectorised", "palette", code='''
def voc_palette(num_colours=256):
    index = np.arange(num_colours)
    palette = np.zeros((num_colours, 3), dtype=np.uint8)
    for j in range(8):
        for channel in range(3):
            palette[:, channel] |= (((index >> (3 * j + channel)) & 1) << (7 - j)).astype(np.uint8)
    return palette
'''),
    Variant("palette-low-bits", "palette", {"test_palette_visible": "Index 1 should be (128, 0, 0)",
                                           "test_palette_hidden": "colours are wrong"},
            edits=[("<< (7 - j)", "<< j")]),
    Variant("palette-red-blue-swapped", "palette", {"test_palette_visible": "Index 1 should be (128, 0, 0)",
                                                   "test_palette_hidden": "colours are wrong"},
            edits=[("palette[index] = red, green, blue", "palette[index] = blue, green, red")]),
    Variant("decode-compare-channels", "decode", code='''
def decode_palette(rgb, palette):
    rgb = np.asarray(rgb)
    out = np.full(rgb.shape[:-1], 255)
    for index, colour in enumerate(np.asarray(palette)):
        out[np.all(rgb == colour, axis=-1)] = index
    return out
'''),
    Variant("decode-channel-sum", "decode", {"test_decode_visible": "index of its colour",
                                            "test_decode_hidden": "wrong indices"}, code='''
def decode_palette(rgb, palette):
    sums = np.asarray(rgb).astype(np.int64).sum(axis=-1)
    out = np.full(sums.shape, 255)
    for index, colour in enumerate(np.asarray(palette).astype(np.int64)):
        out[sums == colour.sum()] = index
    return out
'''),
    Variant("decode-uint8-shift", "decode", {"test_decode_visible": "index of its colour",
                                            "test_decode_hidden": "wrong indices"},
            edits=[("rgb = np.asarray(rgb).astype(np.int64)\n", "rgb = np.asarray(rgb)\n"),
                   ("codes = rgb[..., 0] * 65536 + rgb[..., 1] * 256 + rgb[..., 2]",
                    "codes = (rgb[..., 0] << 16) | (rgb[..., 1] << 8) | rgb[..., 2]")]),
    Variant("decode-unknown-zero", "decode", {"test_decode_visible": "unknown colour 255",
                                             "test_decode_hidden": "wrong indices"},
            edits=[("indices = np.full(codes.shape, IGNORE, dtype=np.int64)", "indices = np.zeros(codes.shape, dtype=np.int64)")]),
    Variant("frequencies-per-class-loop", "frequencies", code='''
def class_frequencies(labels, num_classes, ignore_index):
    labels = np.asarray(labels)
    valid = labels != ignore_index
    if np.any((labels[valid] < 0) | (labels[valid] >= num_classes)):
        raise ValueError("a label is outside the classes")
    total = int(valid.sum())
    return np.array([np.sum(labels == c) / total if total else 0.0 for c in range(num_classes)])
'''),
    Variant("frequencies-divide-by-all-pixels", "frequencies",
            {"test_frequencies_visible": "18 of the 24 pixels are labelled", "test_frequencies_hidden": "wrong values"},
            edits=[("return counts / counted.size if counted.size else counts",
                    "return counts / values.size if counted.size else counts")]),
    Variant("frequencies-no-minlength", "frequencies",
            {"test_frequencies_visible": "one entry per class", "test_frequencies_hidden": "one entry per class"},
            edits=[("np.bincount(counted, minlength=num_classes)", "np.bincount(counted)")]),
    Variant("frequencies-no-range-check", "frequencies", {"test_frequencies_hidden": "should raise ValueError"},
            edits=[("    if counted.size and (counted.min() < 0 or counted.max() >= num_classes):\n"
                    "        raise ValueError(f\"labels must be in 0..{num_classes - 1} or {ignore_index}, \"\n"
                    "                         f\"found {counted.min()}..{counted.max()}\")\n", "")]),
]
VARIANTS["dataset_formats"] = DATASET_FORMATS
BATCH_STUDENTS["dataset_formats"] = {
    "alt-correct": ["label-ids-compare-per-class", "palette-vectorised", "decode-compare-channels",
                    "frequencies-per-class-loop"],
    "wrong-a": ["label-ids-zero-default", "palette-low-bits", "decode-channel-sum", "frequencies-no-range-check"],
    "wrong-b": ["label-ids-table-of-34", "palette-red-blue-swapped", "decode-unknown-zero",
                "frequencies-divide-by-all-pixels"],
}

# ----------------------------------------------------------------------------- instance_panoptic
INSTANCE_PANOPTIC = [
    Variant("iou-loops", "iou_matrix", code='''
def mask_iou_matrix(true_masks, pred_masks):
    out = np.zeros((len(true_masks), len(pred_masks)))
    for i, a in enumerate(np.asarray(true_masks) != 0):
        for j, b in enumerate(np.asarray(pred_masks) != 0):
            union = np.count_nonzero(a | b)
            out[i, j] = np.count_nonzero(a & b) / union if union else 0.0
    return out
'''),
    Variant("iou-empty-nan", "iou_matrix", {"test_iou_matrix_visible": "Two empty masks should have IoU 0",
                                            "test_iou_matrix_hidden": "wrong values"},
            edits=[("return np.divide(intersection, union, out=np.zeros_like(intersection), where=union > 0)",
                    "with np.errstate(invalid='ignore'):\n        return intersection / union")]),
    Variant("iou-dice", "iou_matrix", {"test_iou_matrix_visible": "4 shared pixels of 8 in the union",
                                       "test_iou_matrix_hidden": "wrong values"}, also_fails={"test_matching_hidden"},
            edits=[("return np.divide(intersection, union,", "return np.divide(2 * intersection, union + intersection,")]),
    Variant("matching-sorted-by-key", "matching", code='''
def match_instances(true_masks, true_classes, pred_masks, pred_classes, pred_scores, iou_threshold=0.5):
    iou = mask_iou_matrix(true_masks, pred_masks)
    order = sorted(range(len(pred_scores)), key=lambda p: -float(pred_scores[p]))   # sorted() is stable
    free = set(range(len(true_classes)))
    matches = []
    for p in order:
        best, best_iou = None, iou_threshold
        for t in sorted(free):
            if true_classes[t] == pred_classes[p] and iou[t, p] >= best_iou and iou[t, p] > 0:
                if best is None or iou[t, p] > iou[best, p]:
                    best, best_iou = t, iou[t, p]
        if best is not None:
            matches.append((best, p))
            free.discard(best)
    matched = {p for _, p in matches}
    return matches, [p for p in range(len(pred_scores)) if p not in matched], sorted(free)
'''),
    Variant("matching-ignores-scores", "matching", {"test_matching_visible": "is handled before its duplicate",
                                                    "test_matching_hidden": "wrong matches"},
            edits=[('for p in np.argsort(-np.asarray(pred_scores, dtype=float), kind="stable"):',
                    "for p in range(len(pred_classes)):")]),
    Variant("matching-ignores-classes", "matching", {"test_matching_visible": "p2 has the wrong class",
                                                     "test_matching_hidden": "wrong"},
            edits=[("    iou[true_classes[:, None] != pred_classes[None, :]] = 0.0\n", "")]),
    Variant("matching-best-pair-first", "matching", {"test_matching_visible": "With p0 the most confident",
                                                     "test_matching_hidden": "wrong"}, code='''
def match_instances(true_masks, true_classes, pred_masks, pred_classes, pred_scores, iou_threshold=0.5):
    iou = mask_iou_matrix(true_masks, pred_masks)
    iou[np.asarray(true_classes)[:, None] != np.asarray(pred_classes)[None, :]] = 0.0
    matches = []
    while iou.size and iou.max() >= iou_threshold and iou.max() > 0:
        t, p = np.unravel_index(np.argmax(iou), iou.shape)
        matches.append((int(t), int(p)))
        iou[t, :] = 0.0
        iou[:, p] = 0.0
    matched_t, matched_p = {t for t, _ in matches}, {p for _, p in matches}
    return (matches, [p for p in range(len(pred_classes)) if p not in matched_p],
            [t for t in range(len(true_classes)) if t not in matched_t])
'''),
    Variant("matching-strict-threshold", "matching", {"test_matching_hidden": "wrong matches"},
            edits=[("candidates[t] >= iou_threshold", "candidates[t] > iou_threshold")]),
    Variant("merge-sorted-loop", "merge", code='''
def merge_panoptic(stuff_map, thing_masks, thing_classes, thing_scores, overlap_threshold=0.5):
    stuff_map = np.asarray(stuff_map)
    out = stuff_map.astype(np.int64) * 1000
    taken = np.zeros(stuff_map.shape, dtype=bool)
    numbers = {}
    for k in sorted(range(len(thing_scores)), key=lambda i: -float(thing_scores[i])):
        mask = np.asarray(thing_masks[k], dtype=bool)
        overlap = np.count_nonzero(mask & taken)
        if not mask.any() or overlap == np.count_nonzero(mask) or overlap > overlap_threshold * np.count_nonzero(mask):
            continue
        c = int(thing_classes[k])
        numbers[c] = numbers.get(c, 0) + 1
        out[mask & ~taken] = c * 1000 + numbers[c]
        taken |= mask
    return out
'''),
    Variant("merge-ignores-scores", "merge", {"test_merge_visible": "Expected", "test_merge_hidden": "wrong segment ids"},
            edits=[('for k in np.argsort(-np.asarray(thing_scores, dtype=float), kind="stable"):',
                    "for k in range(len(thing_classes)):")]),
    Variant("merge-overwrites", "merge", {"test_merge_visible": "Expected", "test_merge_hidden": "wrong segment ids"},
            edits=[("panoptic[free] = class_id", "panoptic[mask] = class_id")]),
    Variant("merge-global-numbers", "merge", {"test_merge_visible": "Expected", "test_merge_hidden": "wrong segment ids"},
            edits=[("counts[class_id] = counts.get(class_id, 0) + 1\n        panoptic[free] = class_id * LABEL_DIVISOR + counts[class_id]",
                    "counts[0] = counts.get(0, 0) + 1\n        panoptic[free] = class_id * LABEL_DIVISOR + counts[0]")]),
    Variant("merge-no-overlap-rule", "merge", {"test_merge_hidden": "wrong segment ids"},
            edits=[(" or (mask & taken).sum() / area > overlap_threshold", "")]),
    Variant("pq-pair-counts", "pq", code='''
def panoptic_quality(true_map, pred_map):
    t, p = np.asarray(true_map).ravel(), np.asarray(pred_map).ravel()
    pairs, counts = np.unique(np.stack([t, p]), axis=1, return_counts=True)
    inter = {(int(a), int(b)): int(n) for (a, b), n in zip(pairs.T, counts)}
    t_area = {int(s): int(n) for s, n in zip(*np.unique(t, return_counts=True)) if s != 0}
    p_area = {int(s): int(n) for s, n in zip(*np.unique(p, return_counts=True)) if s != 0}
    tp, fp, fn, iou_sum = {}, {}, {}, {}
    hit_t, hit_p = set(), set()
    for (a, b), n in inter.items():
        if a and b and a // 1000 == b // 1000:
            iou = n / (t_area[a] + p_area[b] - n - inter.get((0, b), 0))
            if iou > 0.5:
                c = a // 1000
                tp[c] = tp.get(c, 0) + 1
                iou_sum[c] = iou_sum.get(c, 0.0) + iou
                hit_t.add(a); hit_p.add(b)
    for a in t_area:
        if a not in hit_t:
            fn[a // 1000] = fn.get(a // 1000, 0) + 1
    for b, area in p_area.items():
        if b not in hit_p and inter.get((0, b), 0) <= area / 2:
            fp[b // 1000] = fp.get(b // 1000, 0) + 1
    classes = set(tp) | set(fp) | set(fn)
    sq = [iou_sum.get(c, 0.0) / tp[c] if tp.get(c) else 0.0 for c in classes]
    rq = [tp.get(c, 0) / (tp.get(c, 0) + fp.get(c, 0) / 2 + fn.get(c, 0) / 2) for c in classes]
    return float(np.mean([s * r for s, r in zip(sq, rq)])), float(np.mean(sq)), float(np.mean(rq))
'''),
    Variant("pq-match-at-half", "pq", {"test_pq_hidden": "wrong (pq, sq, rq)"},
            edits=[("if intersection and intersection / union > 0.5:", "if intersection and intersection / union >= 0.5:")]),
    Variant("pq-void-in-union", "pq", {"test_pq_visible": "With void", "test_pq_hidden": "wrong (pq, sq, rq)"},
            edits=[(" - np.sum(pred_seg & void)", "")]),
    Variant("pq-fp-on-void", "pq", {"test_pq_visible": "With void", "test_pq_hidden": "wrong (pq, sq, rq)"},
            edits=[("if p not in matched_pred and np.sum(pred_seg & void) / pred_seg.sum() <= 0.5:",
                    "if p not in matched_pred:")]),
    Variant("pq-product-of-means", "pq", {"test_pq_visible": "By hand", "test_pq_hidden": "wrong (pq, sq, rq)"},
            edits=[("return float(np.mean(pqs)), float(np.mean(sqs)), float(np.mean(rqs))",
                    "return float(np.mean(sqs) * np.mean(rqs)), float(np.mean(sqs)), float(np.mean(rqs))")]),
]
VARIANTS["instance_panoptic"] = INSTANCE_PANOPTIC
BATCH_STUDENTS["instance_panoptic"] = {
    "alt-correct": ["iou-loops", "matching-sorted-by-key", "merge-sorted-loop", "pq-pair-counts"],
    "wrong-a": ["iou-empty-nan", "matching-ignores-scores", "merge-overwrites", "pq-void-in-union"],
    "wrong-b": ["matching-best-pair-first", "merge-global-numbers", "pq-product-of-means"],
}

# ----------------------------------------------------------------------------- transfer_learning
# The fine_tune cell's checks need a trained model: its variants run only in the slow
# test_training_checks (TRAINING_SOLUTION_CELLS of test_grading_validity).
TRANSFER_LEARNING = [
    Variant("encoder-keras-load-weights", "encoder", code='''
def build_encoder():
    page = keras.Input((None, None, 1))
    x = page
    for index, (filters, size) in enumerate(((40, 3), (40, 4), (80, 4)), start=1):
        x = layers.Conv2D(filters, size, padding="same", activation="relu", name=f"conv{index}")(x)
        x = layers.MaxPooling2D(2, name=f"pool{index}")(x)
    encoder = keras.Model(page, x)
    encoder.load_weights(PAGE_ENCODER_WEIGHTS)     # the file holds exactly this network
    for layer in encoder.layers:
        if layer.name.startswith("conv"):
            layer.trainable = False
    return encoder
'''),
    Variant("encoder-not-frozen", "encoder",
            {"test_encoder_visible": "must be frozen", "test_encoder_hidden": "must be frozen"},
            edits=[("        encoder.get_layer(name).trainable = False", "        pass")],
            also_fails={"test_transfer_fcn_visible", "test_transfer_fcn_hidden", "test_parameter_report_visible",
                        "test_parameter_report_hidden", "test_fine_tune_visible", "test_fine_tune_hidden"}),
    Variant("encoder-not-loaded", "encoder",
            {"test_encoder_visible": "pretrained weights", "test_encoder_hidden": "pretrained weights"},
            edits=[("    load_weights_by_name(encoder, PAGE_ENCODER_WEIGHTS, ENCODER_LAYERS)\n", "")]),
    Variant("fcn-decoder-unrolled", "transfer_fcn", code='''
def build_transfer_fcn(num_classes):
    encoder = build_encoder()
    get = lambda name: encoder.get_layer(name).output   # noqa: E731
    x = layers.Conv2D(32, 1, activation="relu")(encoder.output)
    x = layers.Conv2D(32, 3, padding="same", activation="relu")(layers.Concatenate(axis=-1)([layers.UpSampling2D(2)(x), get("conv3")]))
    x = layers.Conv2D(16, 3, padding="same", activation="relu")(layers.Concatenate(axis=-1)([layers.UpSampling2D(2)(x), get("conv2")]))
    x = layers.Conv2D(16, 3, padding="same", activation="relu")(layers.Concatenate(axis=-1)([layers.UpSampling2D(2)(x), get("conv1")]))
    return keras.Model(encoder.input, layers.Activation("softmax")(layers.Conv2D(num_classes, 1)(x)))
'''),
    Variant("fcn-concatenation-reversed", "transfer_fcn", {"test_transfer_fcn_hidden": "outputs differ"},
            edits=[("layers.Concatenate(name=f\"dec_fuse{level}\")([x, skip])",
                    "layers.Concatenate(name=f\"dec_fuse{level}\")([skip, x])")]),
    Variant("fcn-whole-model-frozen", "transfer_fcn", {"test_transfer_fcn_hidden": "decoder's convolutions must stay trainable"},
            edits=[("    return keras.Model(encoder.input, softmax, name=\"transfer_fcn\")",
                    "    model = keras.Model(encoder.input, softmax, name=\"transfer_fcn\")\n"
                    "    model.trainable = False\n    return model")],
            also_fails={"test_parameter_report_visible", "test_parameter_report_hidden"}),
    Variant("report-per-layer-counts", "parameter_report", code='''
def parameter_report(num_classes):
    model = build_transfer_fcn(num_classes)
    with_weights = [layer for layer in model.layers if layer.count_params() > 0]
    trainable = sum(layer.count_params() for layer in with_weights if layer.trainable)
    return trainable, model.count_params() - trainable, [l.name for l in with_weights if not l.trainable]
'''),
    Variant("report-swapped", "parameter_report",
            {"test_parameter_report_visible": "expected 53412 trainable", "test_parameter_report_hidden": "wrong parameter counts"},
            edits=[("    return trainable, frozen, frozen_layers", "    return frozen, trainable, frozen_layers")]),
    Variant("report-counts-weight-tensors", "parameter_report",
            {"test_parameter_report_visible": "wrong parameter counts", "test_parameter_report_hidden": "wrong parameter counts"},
            edits=[("trainable = sum(int(np.prod(w.shape)) for w in model.trainable_weights)",
                    "trainable = len(model.trainable_weights)"),
                   ("frozen = sum(int(np.prod(w.shape)) for w in model.non_trainable_weights)",
                    "frozen = len(model.non_trainable_weights)")]),
    Variant("fine-tune-loop-unfreeze", "fine_tune", code='''
def fine_tune(images, labels, seconds):
    model = build_transfer_fcn(4)
    for learning_rate in (3e-3, 1e-3):
        model.compile(optimizer=keras.optimizers.Adam(learning_rate), loss="sparse_categorical_crossentropy",
                      jit_compile=False)
        fit_for(model, images, labels, seconds=0.5 * seconds, batch_size=4)
        for layer in model.layers:
            if layer.name == "conv3":
                layer.trainable = True
    return model
'''),
    Variant("fine-tune-unfreezes-all", "fine_tune",
            {"test_fine_tune_visible": "should still be frozen", "test_fine_tune_hidden": "should still be frozen"},
            edits=[('    model.get_layer("conv3").trainable = True',
                    "    for layer in model.layers:\n        layer.trainable = True")]),
    Variant("fine-tune-never-unfreezes", "fine_tune",
            {"test_fine_tune_visible": "should be trainable", "test_fine_tune_hidden": "should be trainable"},
            edits=[('    model.get_layer("conv3").trainable = True\n', "")]),
    Variant("fine-tune-untrained", "fine_tune",
            {"test_fine_tune_visible": "below the threshold", "test_fine_tune_hidden": "below the threshold"},
            edits=[("    fit_for(model, images, labels, seconds=seconds / 2, batch_size=4)\n", "")]),
]
VARIANTS["transfer_learning"] = TRANSFER_LEARNING
BATCH_STUDENTS["transfer_learning"] = {
    "alt-correct": ["encoder-keras-load-weights", "fcn-decoder-unrolled", "report-per-layer-counts",
                    "fine-tune-loop-unfreeze"],
    "wrong-a": ["fcn-concatenation-reversed", "report-swapped", "fine-tune-unfreezes-all"],
    "wrong-b": ["encoder-not-frozen"],
}

# ----------------------------------------------------------------------------- library answers (threat row 40)
# A student "library-answers" in every assignment's batch: every solution cell answered
# through the course library (imported, aliased or wrapped; the self-checks' private
# references included). While the assignment is graded the sandbox mounts the grading
# edition of course_utils (autograder/library_edition.py), whose registered functions
# raise LibraryAnswerError: every grade cell must score 0 and name the rule.
# dataset_formats imports inside the functions: in its grading edition the package
# course_utils.datasets itself cannot be imported (bit_palette makes VOC's palette at import).
LIBRARY_ANSWERS_STUDENT = "library-answers"
LIBRARY_RULE_TEXT = "answered through the course library scores 0"
LIBRARY_ANSWER_CELLS: dict[str, dict[str, str]] = {
    "fcn_basics": {
        "dimensions": '''
from course_utils.shapes import conv_output_size, conv_transpose_output_size
from course_utils.selfcheck import _fcn_shapes_reference as fcn_upscaling_shapes
''',
        "dice": "from course_utils.metrics import dice_coefficient\n",
        "soft_dice": '''
from course_utils import losses

def soft_dice_loss(y_true, y_pred, smooth=1.0):
    return losses.soft_dice_loss(y_true, y_pred, smooth)
''',
        "fcn_model": "from course_utils.models import build_fcn_upscaling\n",
    },
    "sliding_window_vs_fcn": {
        "patches": "from course_utils.sliding_window import extract_patches\n",
        "sliding_window": '''
from types import SimpleNamespace
from course_utils import sliding_window

def predict_sliding_window(classify, page, patch_size, stride, batch_size=256):
    model = SimpleNamespace(predict_on_batch=classify)
    return sliding_window.predict_sliding_window(model, page, patch_size, stride, batch_size)
''',
        "fcn_model": "from course_utils.models import build_fcn_upscaling\n",
        "predict_fcn": '''
from types import SimpleNamespace
import course_utils.sliding_window

def predict_fcn(predict, page, multiple=8):
    return course_utils.sliding_window.predict_fcn(SimpleNamespace(predict_on_batch=predict), page, multiple)
''',
    },
    "dimensions": {
        "sizes": '''
from course_utils.shapes import conv_output_size, pool_output_size

def upscaling_output_size(input_size, factor):
    from course_utils.layers import _times
    return _times(input_size, factor)
''',
        "transpose_size": "from course_utils.shapes import conv_transpose_output_size\n",
        "bottleneck": '''
from course_utils.selfcheck import (_bottleneck_reference as bottleneck_shape, _decoded_reference as decoded_shape,
                                    _padded_reference as padded_size)
''',
        # dense_params has no library function of its own: the convolution reference with a 1x1 kernel
        "params": '''
from course_utils import selfcheck
conv2d_params = selfcheck._conv_params_reference

def conv2d_transpose_params(kernel_size, in_channels, filters, use_bias=True):
    return selfcheck._conv_params_reference(kernel_size, in_channels, filters, use_bias)

def dense_params(in_features, units, use_bias=True):
    return selfcheck._conv_params_reference(1, in_features, units, use_bias)
''',
        "table": "from course_utils.selfcheck import _skip_table_reference as skip_fcn_table\n",
    },
    "skip_fcns": {
        "skip_upscaling": "from course_utils.models import build_fcn_skip_upscaling\n",
        "transposed_skip": "from course_utils.models import build_fcn_transposed_skip\n",
        "conv_transpose": '''
from course_utils.transposed_conv import conv2d_transpose_scatter

def conv2d_transpose_numpy(inputs, kernel, strides=1, padding="valid"):
    return conv2d_transpose_scatter(inputs, kernel, strides=strides, padding=padding)
''',
        "max_pool": "from course_utils.selfcheck import _pool_reference as max_pool_with_argmax\n",
        "max_unpool": "from course_utils.selfcheck import _unpool_reference as max_unpool\n",
    },
    "unet": {
        "bottleneck_size": "from course_utils.selfcheck import _unet_bottleneck_reference as unet_bottleneck_size\n",
        "double_conv": '''
import itertools
_blocks = itertools.count()

def double_conv(x, filters):
    from course_utils.models import _conv_block
    return _conv_block(x, filters, "same", False, name=f"double_conv{next(_blocks)}")
''',
        "build_unet": '''
def build_unet(num_classes, depth, base_filters, num_channels=1):
    from course_utils import models
    return models.build_unet(num_classes=num_classes, num_channels=num_channels, depth=depth,
                             base_filters=base_filters)
''',
        "train_unet": '''
def train_unet(images, labels, num_classes, seconds):
    from course_utils.models import build_unet as library_unet
    model = library_unet(num_classes=num_classes, num_channels=images.shape[-1], depth=2, base_filters=8)
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=3e-3), loss="sparse_categorical_crossentropy")
    fit_for(model, images, labels, seconds=seconds, batch_size=4)
    return model
''',
    },
    "losses_metrics": {
        "dice": "from course_utils.metrics import dice_coefficient\n",
        "iou": "from course_utils.metrics import iou_score\n",
        "mean_iou": "from course_utils.metrics import mean_iou\n",
        "soft_dice": "from course_utils.losses import soft_dice_loss\n",
        "class_weights": "from course_utils.selfcheck import _class_weights_reference as class_weights_from_frequencies\n",
        "weighted_ce": '''
def weighted_crossentropy(y_true, y_pred, class_weights):
    from course_utils.losses import pixelwise_crossentropy
    return pixelwise_crossentropy(y_true, y_pred, class_weights=class_weights)
''',
    },
    "transfer_learning": {
        "encoder": '''
from course_utils.transfer import page_encoder

def build_encoder():
    page = keras.Input((None, None, 1))
    encoder = keras.Model(page, page_encoder(page)[-1], name="encoder")
    load_weights_by_name(encoder, PAGE_ENCODER_WEIGHTS, ENCODER_LAYERS)
    for name in ENCODER_LAYERS:
        encoder.get_layer(name).trainable = False
    return encoder
''',
        "transfer_fcn": '''
from course_utils.transfer import build_page_fcn

def build_transfer_fcn(num_classes):
    return build_page_fcn(num_classes, encoder_weights="pretrained", freeze_encoder=True)
''',
        "parameter_report": '''
from course_utils.transfer import count_params

def parameter_report(num_classes):
    model = build_transfer_fcn(num_classes)
    trainable, frozen = count_params(model)
    return trainable, frozen, [layer.name for layer in model.layers if layer.weights and not layer.trainable]
''',
        "fine_tune": '''
def fine_tune(images, labels, seconds):
    from course_utils.pipeline import SegmentationSequence
    from course_utils.transfer import fine_tune_in_two_phases
    model = build_transfer_fcn(4)
    fine_tune_in_two_phases(model, SegmentationSequence(images, labels, batch_size=4), seconds,
                            encoder_layers=("conv3",))
    return model
''',
    },
    "dataset_formats": {
        "label_ids": '''
def label_ids_to_train_ids(label_ids):
    from course_utils.datasets import cityscapes
    return cityscapes.label_ids_to_train_ids(label_ids)
''',
        "palette": '''
def voc_palette(num_colours=256):
    from course_utils.datasets.common import bit_palette
    return bit_palette(num_colours)
''',
        "decode": '''
def decode_palette(rgb, palette):
    from course_utils.datasets import common
    return common.decode_palette(rgb, palette)
''',
        "frequencies": '''
def class_frequencies(labels, num_classes, ignore_index):
    from course_utils import data
    values = np.asarray(labels).ravel()
    return data.class_frequencies(values[values != ignore_index], num_classes)
''',
    },
    "instance_panoptic": {
        "iou_matrix": "from course_utils.instance import mask_iou_matrix\n",
        "matching": '''
def match_instances(true_masks, true_classes, pred_masks, pred_classes, pred_scores, iou_threshold=0.5):
    from course_utils import instance
    found = instance.match_instances(true_masks, true_classes, pred_masks, pred_classes, pred_scores,
                                     iou_threshold=iou_threshold)
    return [tuple(m[:2]) for m in found.matches], list(found.false_positives), list(found.false_negatives)
''',
        "merge": '''
from course_utils import panoptic

def merge_panoptic(stuff_map, thing_masks, thing_classes, thing_scores, overlap_threshold=0.5):
    return panoptic.merge_panoptic(stuff_map, thing_masks, thing_classes, thing_scores,
                                   overlap_threshold=overlap_threshold)
''',
        "pq": '''
from course_utils.panoptic import panoptic_quality as _library_pq

def panoptic_quality(true_map, pred_map):
    result = _library_pq(true_map, pred_map)
    result = result.get("all", result)
    return result["pq"], result["sq"], result["rq"]
''',
    },
}


def library_answer_variants(assignment: str) -> list[Variant]:
    """The student "library-answers" as variants, one per solution cell: every grade cell
    scores 0 (``also_fails``: the tests decide which ones name the rule)."""
    return [Variant(f"library-{cell}", cell, code=code) for cell, code in LIBRARY_ANSWER_CELLS[assignment].items()]


for _assignment, _students in BATCH_STUDENTS.items():
    _students[LIBRARY_ANSWERS_STUDENT] = [f"library-{cell}" for cell in LIBRARY_ANSWER_CELLS[_assignment]]
