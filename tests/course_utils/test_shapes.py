"""Tests of course_utils.shapes: lecture examples by hand, then real Keras layers."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
import pytest

from course_utils.shapes import (
    conv2d_output_shape,
    conv2d_transpose_output_shape,
    conv_output_size,
    conv_transpose_output_size,
    pool2d_output_shape,
    pool_output_size,
)

# Random configurations compared with Keras per layer type.
NUM_RANDOM_CONFIGS = 150
CHANNELS = 2


# --- Lecture examples, checked by hand ------------------------------------


def test_conv_4x4_input_3x3_filter_stride_1_gives_2x2():
    # 3x3 window fits at offsets 0 and 1 in each direction.
    assert conv_output_size(4, 3) == 2
    assert conv2d_output_shape((4, 4, 1), 1, 3) == (2, 2, 1)


def test_conv_5x5_input_3x3_filter_stride_2_gives_2x2():
    # Offsets 0 and 2; offset 4 would stick out.
    assert conv_output_size(5, 3, stride=2) == 2
    assert conv2d_output_shape((5, 5, 1), 1, 3, strides=2) == (2, 2, 1)


def test_transposed_conv_2x2_input_3x3_filter_gives_4x4():
    # (2 - 1) * 1 + 3 = 4
    assert conv_transpose_output_size(2, 3) == 4
    assert conv2d_transpose_output_shape((2, 2, 1), 1, 3) == (4, 4, 1)


def test_transposed_conv_2x2_input_stride_2_gives_5x5():
    # (2 - 1) * 2 + 3 = 5
    assert conv_transpose_output_size(2, 3, stride=2) == 5
    assert conv2d_transpose_output_shape((2, 2, 1), 1, 3, strides=2) == (5, 5, 1)


def test_transposed_conv_5x5_same_padding_gives_5x5():
    assert conv_transpose_output_size(5, 3, padding="same") == 5
    assert conv2d_transpose_output_shape((5, 5, 1), 1, 3, padding="same") == (5, 5, 1)


def test_three_2x2_poolings_divide_256_by_8():
    size = 256
    for _ in range(3):
        size = pool_output_size(size, 2)
    assert size == 32 == 256 // 8
    shape = (256, 256, 64)
    for _ in range(3):
        shape = pool2d_output_shape(shape, 2)
    assert shape == (32, 32, 64)


def test_explicit_padding_and_dilation_by_hand():
    # 5 + 1 + 1 = 7 padded pixels, 3-pixel kernel, stride 2 -> offsets 0, 2, 4.
    assert conv_output_size(5, 3, stride=2, padding=1) == 3
    # (before, after) = (0, 2): 7 padded pixels, kernel 3 -> 5 offsets.
    assert conv_output_size(5, 3, padding=(0, 2)) == 5
    # Dilation 2 spreads a 3-kernel over 5 pixels: 7 - 5 + 1 = 3.
    assert conv_output_size(7, 3, dilation=2) == 3
    # "same" ignores kernel and dilation: ceil(7 / 2) = 4.
    assert conv_output_size(7, 5, stride=2, padding="same", dilation=1) == 4
    # Transposed with padding 1: (4 - 1) * 2 + 3 - 1 - 1 + 1 = 8 = 2 * 4.
    assert conv_transpose_output_size(4, 3, stride=2, padding=1, output_padding=1) == 8
    # Keras "valid" default output_padding: (3 - 1) * 4 + max(2, 4) = 12.
    assert conv_transpose_output_size(3, 2, stride=4) == 12
    # Keras "same" with output_padding: (3 - 1) * 2 + 3 % 2 + 1 = 6.
    assert conv_transpose_output_size(3, 3, stride=2, padding="same", output_padding=1) == 6


def test_2d_padding_forms():
    # (ph, pw): height padded by 1 on each side, width by 2.
    assert conv2d_output_shape((4, 4, 3), 5, 3, padding=(1, 2)) == (4, 6, 5)
    # ((top, bottom), (left, right)).
    assert conv2d_output_shape((4, 4, 3), 5, 3, padding=((0, 1), (2, 3))) == (3, 7, 5)
    assert conv2d_output_shape((6, 8, 3), 4, (3, 1), strides=(1, 2)) == (4, 4, 4)


def test_numpy_integers_are_accepted():
    assert conv_output_size(np.int64(4), np.int32(3)) == 2


# --- Errors ----------------------------------------------------------------


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: conv_output_size(0, 3), "input_size"),
        (lambda: conv_output_size(-4, 3), "input_size"),
        (lambda: conv_output_size(4.0, 3), "input_size"),
        (lambda: conv_output_size(4, 0), "kernel_size"),
        (lambda: conv_output_size(4, 3, stride=0), "stride"),
        (lambda: conv_output_size(4, 3, dilation=0), "dilation"),
        (lambda: conv_output_size(4, True), "kernel_size"),
        (lambda: conv_output_size(4, 3, padding="full"), "padding"),
        (lambda: conv_output_size(4, 3, padding=-1), "padding"),
        (lambda: conv_output_size(4, 3, padding=(1, 2, 3)), "padding"),
        (lambda: conv_output_size(2, 3), "window covers 3 pixels"),
        (lambda: conv_output_size(4, 3, dilation=2), "window covers 5 pixels"),
        (lambda: pool_output_size(2, 3), "pool_size"),
        (lambda: pool_output_size(4, 2, padding="reflect"), "padding"),
        (lambda: conv_transpose_output_size(2, 3, stride=2, output_padding=2), "output_padding"),
        (lambda: conv_transpose_output_size(2, 3, output_padding=-1), "output_padding"),
        (lambda: conv_transpose_output_size(1, 1, padding=1), "output size"),
        (lambda: conv_transpose_output_size(1, 2, padding="same", output_padding=0), "output size"),
        (lambda: conv2d_output_shape((4, 4), 1, 3), "input_shape"),
        (lambda: conv2d_output_shape((4, 4, 0), 1, 3), "channels"),
        (lambda: conv2d_output_shape((4, 4, 1), 0, 3), "filters"),
        (lambda: conv2d_output_shape((4, 4, 1), 1, (3, 3, 3)), "kernel_size"),
        (lambda: conv2d_output_shape((4, 4, 1), 1, 3, padding=(1, 2, 3)), "padding"),
        (lambda: pool2d_output_shape((4, 4, 1), 2, strides=(1, 2, 3)), "strides"),
        (lambda: conv2d_transpose_output_shape((4, 4, 1), 1, 3, strides=2, output_padding=(1, 2)), "output_padding"),
    ],
)
def test_bad_arguments_raise_value_error(call, message):
    with pytest.raises(ValueError, match=message):
        call()


# --- Comparison with real Keras layers ---------------------------------------


def _keras_output_shape(layers, height, width):
    """Keras' output ``(h, w, c)`` of ``layers`` on a ``height x width`` input, or None if
    Keras refuses it.

    Keras' shape inference (``compute_output_shape``, arithmetic only) decides first; a
    config it refuses, or that gives an empty output, never reaches the backend: on some
    CPUs TensorFlow's max_pool dies with SIGFPE on a pool wider than its input (e.g. pool
    (5, 2), stride 1, 'valid' on 8x1), which would take the test worker down. Accepted
    configs then run on a zeros batch, so the backend's actual shape is compared too.
    """
    shape = (1, height, width, CHANNELS)
    try:
        for layer in layers:
            shape = tuple(layer.compute_output_shape(shape))
    except Exception:  # Keras raises several kinds.
        return None
    if any(d is None or d <= 0 for d in shape[1:]):
        return None
    x = np.zeros((1, height, width, CHANNELS), dtype="float32")
    try:
        for layer in layers:
            x = layer(x)
    except Exception:  # TensorFlow's own shape checks
        return None
    ran = tuple(int(d) for d in x.shape[1:])
    return None if 0 in ran else ran


def _ours_or_none(function, *args, **kwargs):
    try:
        return function(*args, **kwargs)
    except ValueError:
        return None


def _compare(configs, ours_fn, keras_fn):
    """Asserts our shape equals Keras' wherever either accepts the config.

    A config that both reject counts as agreement (e.g. kernel larger than
    input); one that only Keras rejects is skipped but counted, because some
    restrictions (dilation with stride, TensorFlow's shape checks) are Keras'
    own and not arithmetic.
    """
    mismatches, keras_only_rejects, both_reject, same_shape = [], 0, 0, 0
    for config in configs:
        ours = _ours_or_none(ours_fn, config)
        theirs = keras_fn(config)
        if theirs is None and ours is not None:
            keras_only_rejects += 1
        elif ours != theirs:
            mismatches.append((config, ours, theirs))
        elif ours is None:
            both_reject += 1
        else:
            same_shape += 1
    assert not mismatches, f"{len(mismatches)} mismatches, e.g. {mismatches[:5]}"
    # Most configs must give a real shape on both sides, or the test proves little.
    counts = dict(same_shape=same_shape, both_reject=both_reject, keras_only_rejects=keras_only_rejects)
    assert same_shape >= 0.6 * len(configs), counts
    assert keras_only_rejects <= 0.1 * len(configs), counts
    print(counts)


def _conv_transpose_layer(keras, config, padding, output_padding):
    """A Conv2DTranspose for ``config``, run by TensorFlow on the CPU.

    TensorFlow's CPU kernel does not support dilation > 1, so a dilated kernel
    of size k is replaced by the undilated kernel of its dilated size
    d * (k - 1) + 1: dilation only inserts zeros into the kernel, so both give
    the same output size.
    """
    kernel = tuple(d * (k - 1) + 1 for k, d in zip(config["kernel"], config["dilation"]))
    return keras.layers.Conv2DTranspose(
        3, kernel, strides=config["strides"], padding=padding, output_padding=output_padding
    )


def _draw_common(rng):
    height, width = (int(v) for v in rng.integers(1, 13, size=2))
    kernel = tuple(int(v) for v in rng.integers(1, 6, size=2))
    # Keras layers reject dilation > 1 together with stride > 1, so a third of
    # the configs are dilated with stride 1 and the rest strided.
    if rng.random() < 1 / 3:
        strides, dilation = (1, 1), tuple(int(v) for v in rng.integers(1, 4, size=2))
    else:
        strides, dilation = tuple(int(v) for v in rng.integers(1, 4, size=2)), (1, 1)
    return dict(height=height, width=width, kernel=kernel, strides=strides, dilation=dilation)


@pytest.mark.parametrize("padding", ["valid", "same"])
def test_conv2d_matches_keras(padding):
    import keras

    rng = np.random.default_rng(1 if padding == "valid" else 2)
    configs = [_draw_common(rng) for _ in range(NUM_RANDOM_CONFIGS)]

    def ours(c):
        return conv2d_output_shape(
            (c["height"], c["width"], CHANNELS), 3, c["kernel"], c["strides"], padding, c["dilation"]
        )

    def theirs(c):
        layer = keras.layers.Conv2D(
            3, c["kernel"], strides=c["strides"], padding=padding, dilation_rate=c["dilation"]
        )
        return _keras_output_shape([layer], c["height"], c["width"])

    _compare(configs, ours, theirs)


def test_conv2d_with_explicit_padding_matches_zero_padding_then_valid_conv():
    import keras

    rng = np.random.default_rng(3)
    configs = []
    for _ in range(NUM_RANDOM_CONFIGS):
        config = _draw_common(rng)
        config["padding"] = tuple(tuple(int(v) for v in rng.integers(0, 4, size=2)) for _ in range(2))
        configs.append(config)

    def ours(c):
        return conv2d_output_shape(
            (c["height"], c["width"], CHANNELS), 3, c["kernel"], c["strides"], c["padding"], c["dilation"]
        )

    def theirs(c):
        layers = [
            keras.layers.ZeroPadding2D(c["padding"]),
            keras.layers.Conv2D(3, c["kernel"], strides=c["strides"], dilation_rate=c["dilation"]),
        ]
        return _keras_output_shape(layers, c["height"], c["width"])

    _compare(configs, ours, theirs)


@pytest.mark.parametrize("layer_name", ["MaxPooling2D", "AveragePooling2D"])
@pytest.mark.parametrize("padding", ["valid", "same"])
def test_pooling_matches_keras(layer_name, padding):
    import keras

    rng = np.random.default_rng(len(layer_name) * 10 + len(padding))
    configs = []
    for _ in range(NUM_RANDOM_CONFIGS // 2):  # two paddings share the budget
        config = _draw_common(rng)
        # None (= pool_size) is the Keras default and the common case.
        config["strides"] = None if rng.random() < 0.3 else config["strides"]
        configs.append(config)

    def ours(c):
        return pool2d_output_shape((c["height"], c["width"], CHANNELS), c["kernel"], c["strides"], padding)

    def theirs(c):
        layer = getattr(keras.layers, layer_name)(c["kernel"], strides=c["strides"], padding=padding)
        return _keras_output_shape([layer], c["height"], c["width"])

    _compare(configs, ours, theirs)


@pytest.mark.parametrize("padding", ["valid", "same"])
def test_conv2d_transpose_matches_keras(padding):
    import keras

    rng = np.random.default_rng(4 if padding == "valid" else 5)
    configs = []
    for _ in range(NUM_RANDOM_CONFIGS):
        config = _draw_common(rng)
        config["output_padding"] = None
        if rng.random() < 0.5:
            # TensorFlow rejects "same" with an even dilated kernel and
            # output_padding 0: that output would not convolve back to the input.
            lowest = [0] * 2
            if padding == "same":
                lowest = [1 - (d * (k - 1) + 1) % 2 for k, d in zip(config["kernel"], config["dilation"])]
            if all(low < s for low, s in zip(lowest, config["strides"])):
                config["output_padding"] = tuple(
                    int(rng.integers(low, s)) for low, s in zip(lowest, config["strides"])
                )
        configs.append(config)

    def ours(c):
        return conv2d_transpose_output_shape(
            (c["height"], c["width"], CHANNELS), 3, c["kernel"], c["strides"], padding,
            c["output_padding"], c["dilation"],
        )

    def theirs(c):
        layer = _conv_transpose_layer(keras, c, padding, c["output_padding"])
        return _keras_output_shape([layer], c["height"], c["width"])

    _compare(configs, ours, theirs)


def test_conv2d_transpose_with_explicit_padding_matches_valid_then_cropping():
    # A transposed conv with padding p is a "valid" one whose output is cropped by p.
    import keras

    rng = np.random.default_rng(6)
    configs = []
    for _ in range(NUM_RANDOM_CONFIGS):
        config = _draw_common(rng)
        config["padding"] = tuple(tuple(int(v) for v in rng.integers(0, 3, size=2)) for _ in range(2))
        config["output_padding"] = tuple(int(rng.integers(0, s)) for s in config["strides"])
        configs.append(config)

    def ours(c):
        return conv2d_transpose_output_shape(
            (c["height"], c["width"], CHANNELS), 3, c["kernel"], c["strides"], c["padding"],
            c["output_padding"], c["dilation"],
        )

    def theirs(c):
        layers = [
            _conv_transpose_layer(keras, c, "valid", c["output_padding"]),
            keras.layers.Cropping2D(c["padding"]),
        ]
        return _keras_output_shape(layers, c["height"], c["width"])

    _compare(configs, ours, theirs)


def test_shapes_keras_refuses_never_reach_the_backend():
    """The crashing case of TensorFlow's max_pool (pool (5, 2), stride 1, 'valid' on an 8x1
    input) is decided by Keras' shape inference alone: the layer is never called."""
    import keras

    class NeverRun(keras.layers.MaxPooling2D):
        def __call__(self, *args, **kwargs):
            raise AssertionError("a backend op ran on a shape Keras refuses")

    assert _keras_output_shape([NeverRun((5, 2), strides=1, padding="valid")], 8, 1) is None
    pooling = keras.layers.MaxPooling2D((5, 1), strides=1, padding="valid")
    assert _keras_output_shape([pooling], 8, 1) == (4, 1, CHANNELS)
