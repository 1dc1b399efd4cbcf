"""Validity variants of ``skip_fcns``: correct answers written differently, common wrong
answers, the students of its real sandboxed batch and its "library-answers" student
(what each field means: tests/validity/variant.py)."""

from __future__ import annotations

from tests.validity.variant import Variant

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

VARIANTS = [
    Variant("skip-loop", "skip_upscaling",
            code=_SKIP_ALT.format(name="build_fcn_skip_upscaling", up="L.UpSampling2D(size=(2, 2))(x)")),
    Variant("skip-reversed-concatenation", "skip_upscaling",
            {"test_skip_upscaling_hidden": "its order (the up-sampled tensor first"},
            edits=[("[up1, conv3]", "[conv3, up1]"), ("[up2, conv2]", "[conv2, up2]"), ("[up3, conv1]",
                                                                                        "[conv1, up3]")]),
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
            edits=[('Conv2DTranspose(80, (3, 3), 2, padding="same")(fc5)',
                    'Conv2DTranspose(80, (3, 3), 2, padding="valid")(fc5)')]),
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
            {"test_conv_transpose_visible": "Keras gives shape",
             "test_conv_transpose_hidden": "the output shape differs"},
            edits=[('out = n * s if padding == "same" else (n - 1) * s + max(k, s)', "out = (n - 1) * s + max(k, s)")]),
    Variant("conv-transpose-size-off-by-one", "conv_transpose",
            {"test_conv_transpose_visible": "should give (1, 4, 4, 1)",
             "test_conv_transpose_hidden": "the output shape"},
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


# Students of the real sandboxed batch (variants of different cells, see variant.py).
BATCH_STUDENTS = {
    "alt-correct": ["skip-loop", "transposed-loop", "conv-transpose-loop-over-kernel", "max-pool-loops",
                    "max-unpool-loops"],
    "wrong-a": ["skip-reversed-concatenation", "transposed-with-relu", "conv-transpose-same-without-crop",
                "max-unpool-row-col-swapped"],
    "wrong-b": ["skip-from-pooling", "transposed-valid-no-crop", "conv-transpose-crop-at-end", "max-pool-last-on-ties"],
}


# Every solution cell answered through the course library (the "library-answers" student).
LIBRARY_ANSWERS = {
    "skip_upscaling": "from course_utils.models import build_fcn_skip_upscaling\n",
    "transposed_skip": "from course_utils.models import build_fcn_transposed_skip\n",
    "conv_transpose": '''
from course_utils.transposed_conv import conv2d_transpose_scatter

def conv2d_transpose_numpy(inputs, kernel, strides=1, padding="valid"):
    return conv2d_transpose_scatter(inputs, kernel, strides=strides, padding=padding)
''',
    "max_pool": "from course_utils.selfcheck.pooling import _pool_reference as max_pool_with_argmax\n",
    "max_unpool": "from course_utils.selfcheck.pooling import _unpool_reference as max_unpool\n",
}

