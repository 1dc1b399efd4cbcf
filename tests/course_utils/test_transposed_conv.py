"""Tests of course_utils.transposed_conv against Keras Conv2DTranspose / Conv2D."""

import keras
import numpy as np
import pytest

from course_utils.shapes import conv_transpose_output_size
from course_utils.transposed_conv import (
    conv2d_transpose_matrix,
    conv2d_transpose_scatter,
    conv2d_valid_numpy,
    convolution_matrix,
)

BOTH_VIEWS = [conv2d_transpose_scatter, conv2d_transpose_matrix]


def keras_conv_transpose(inputs, kernel, strides, padding, output_padding=None):
    """Conv2DTranspose (no bias) with the given kernel, applied to a batch."""
    layer = keras.layers.Conv2DTranspose(
        kernel.shape[2],
        kernel.shape[:2],
        strides=strides,
        padding=padding,
        output_padding=output_padding,
        use_bias=False,
    )
    layer.build(inputs.shape)
    layer.set_weights([kernel])
    return keras.ops.convert_to_numpy(layer(inputs))


def keras_conv(inputs, kernel, strides, padding):
    layer = keras.layers.Conv2D(
        kernel.shape[3], kernel.shape[:2], strides=strides, padding=padding, use_bias=False
    )
    layer.build(inputs.shape)
    layer.set_weights([kernel])
    return keras.ops.convert_to_numpy(layer(inputs))


# --- The lecture's three examples -------------------------------------------


def assert_same_as_keras(inputs, kernel, strides, padding, output, atol=1e-6):
    """``output`` of one (h, w, c) image equals Keras' Conv2DTranspose of it."""
    np.testing.assert_allclose(
        keras_conv_transpose(inputs[None].astype("float32"), kernel, strides, padding)[0], output, atol=atol
    )


def assert_lecture_example(transpose, inputs, kernel, stride, expected):
    """``transpose`` with ``padding="valid"`` gives the slide's ``expected`` values, as Keras does."""
    output = transpose(inputs, kernel, strides=stride, padding="valid")
    np.testing.assert_allclose(output[:, :, 0], expected)
    assert_same_as_keras(inputs, kernel, stride, "valid", output)


@pytest.mark.parametrize("transpose", BOTH_VIEWS)
def test_lecture_standard_2x2_to_4x4(transpose):
    # 3x3 filter, stride 1: each input pixel stamps the kernel, overlaps add up.
    inputs = np.array([[1.0, 2.0], [3.0, 4.0]])[:, :, None]
    kernel = np.ones((3, 3, 1, 1))
    expected = np.array(
        [
            [1, 3, 3, 2],
            [4, 10, 10, 6],
            [4, 10, 10, 6],
            [3, 7, 7, 4],
        ],
        dtype=float,
    )
    assert_lecture_example(transpose, inputs, kernel, 1, expected)


@pytest.mark.parametrize("transpose", BOTH_VIEWS)
def test_lecture_stride_2x2_to_5x5(transpose):
    # 3x3 filter, stride 2: the stamps move by 2 pixels and overlap in one row/column.
    inputs = np.array([[1.0, 2.0], [3.0, 4.0]])[:, :, None]
    kernel = np.ones((3, 3, 1, 1))
    expected = np.array(
        [
            [1, 1, 3, 2, 2],
            [1, 1, 3, 2, 2],
            [4, 4, 10, 6, 6],
            [3, 3, 7, 4, 4],
            [3, 3, 7, 4, 4],
        ],
        dtype=float,
    )
    assert_lecture_example(transpose, inputs, kernel, 2, expected)


@pytest.mark.parametrize("transpose", BOTH_VIEWS)
def test_lecture_padding_5x5_to_5x5(transpose):
    # 3x3 filter, stride 1, "same": the 7x7 scatter result loses one pixel per side.
    rng = np.random.default_rng(0)
    inputs = rng.standard_normal((5, 5, 1))
    kernel = rng.standard_normal((3, 3, 1, 1))
    output = transpose(inputs, kernel, strides=1, padding="same")
    assert output.shape == (5, 5, 1)
    full = transpose(inputs, kernel, strides=1, padding="valid")
    assert full.shape == (7, 7, 1)
    np.testing.assert_allclose(output, full[1:-1, 1:-1])
    assert_same_as_keras(inputs, kernel, 1, "same", output, atol=1e-5)


# --- Random sweep against Keras ----------------------------------------------


def _random_configs(count, seed=0):
    """Small random configurations that Keras accepts."""
    rng = np.random.default_rng(seed)
    configs = []
    while len(configs) < count:
        height, width = (int(v) for v in rng.integers(1, 6, 2))
        kernel_hw = tuple(int(v) for v in rng.integers(1, 6, 2))
        strides = tuple(int(v) for v in rng.integers(1, 4, 2))
        padding = ("valid", "same")[int(rng.integers(2))]
        if rng.random() < 0.5:
            output_padding = None
        else:
            output_padding = tuple(int(rng.integers(0, s)) for s in strides)
            # TensorFlow refuses "same" with an even kernel and output padding 0.
            if padding == "same" and any(
                k % 2 == 0 and op == 0 for k, op in zip(kernel_hw, output_padding)
            ):
                continue
        channels = tuple(int(v) for v in rng.integers(1, 4, 2))  # (c_in, c_out)
        batch = int(rng.integers(1, 3))
        configs.append(
            (batch, height, width, channels, kernel_hw, strides, padding, output_padding)
        )
    return configs


# The first 20 configurations run on every backend; the rest only in the full (TensorFlow)
# run, since each one compiles a new layer and that is slow on JAX.
@pytest.mark.parametrize(
    "batch, height, width, channels, kernel_hw, strides, padding, output_padding",
    [config if index < 20 else pytest.param(*config, marks=pytest.mark.slow)
     for index, config in enumerate(_random_configs(120))],
)
def test_both_views_equal_keras_conv2d_transpose(
    batch, height, width, channels, kernel_hw, strides, padding, output_padding
):
    rng = np.random.default_rng(height * 1000 + width)
    c_in, c_out = channels
    inputs = rng.standard_normal((batch, height, width, c_in)).astype("float32")
    kernel = rng.standard_normal((*kernel_hw, c_out, c_in)).astype("float32")
    expected = keras_conv_transpose(inputs, kernel, strides, padding, output_padding)
    expected_hw = tuple(
        conv_transpose_output_size(
            n, k, s, padding, None if output_padding is None else output_padding[axis]
        )
        for axis, (n, k, s) in enumerate(zip((height, width), kernel_hw, strides))
    )
    assert expected.shape == (batch, *expected_hw, c_out)
    for transpose in BOTH_VIEWS:
        output = transpose(inputs, kernel, strides, padding, output_padding)
        assert output.shape == expected.shape, transpose.__name__
        np.testing.assert_allclose(output, expected, atol=1e-4, err_msg=transpose.__name__)


# --- The "same" padding convention ---------------------------------------------


@pytest.mark.parametrize(
    "kernel_size, stride, crop_top, crop_bottom",
    [
        (3, 1, 1, 1),
        (2, 1, 0, 1),  # odd total: the extra pixel is cropped at the bottom/right
        (4, 1, 1, 2),
        (4, 2, 1, 1),
        (3, 2, 0, 1),
        (5, 2, 1, 2),
        (2, 3, 0, 0),  # stride > kernel: nothing to crop, zeros appended instead
    ],
)
def test_same_padding_crops_smaller_half_first(kernel_size, stride, crop_top, crop_bottom):
    rng = np.random.default_rng(1)
    inputs = rng.standard_normal((1, 3, 3, 1)).astype("float32")
    kernel = rng.standard_normal((kernel_size, kernel_size, 1, 1)).astype("float32")
    # "valid" with output_padding 0 is the uncropped scatter result.
    full = conv2d_transpose_scatter(inputs, kernel, stride, "valid", output_padding=0)
    same = conv2d_transpose_scatter(inputs, kernel, stride, "same")
    size = full.shape[1]
    uncropped = full[:, crop_top : size - crop_bottom, crop_top : size - crop_bottom]
    expected = np.zeros_like(same)
    expected[:, : uncropped.shape[1], : uncropped.shape[2]] = uncropped
    np.testing.assert_allclose(same, expected)
    np.testing.assert_allclose(
        keras_conv_transpose(inputs, kernel, stride, "same"), expected, atol=1e-5
    )


def test_int_padding_crops_every_side():
    rng = np.random.default_rng(2)
    inputs = rng.standard_normal((3, 4, 2))
    kernel = rng.standard_normal((3, 3, 1, 2))
    full = conv2d_transpose_scatter(inputs, kernel, 2, "valid", output_padding=0)
    for transpose in BOTH_VIEWS:
        np.testing.assert_allclose(transpose(inputs, kernel, 2, 1), full[1:-1, 1:-1])


def test_unbatched_input_equals_batch_of_one():
    rng = np.random.default_rng(3)
    inputs = rng.standard_normal((3, 2, 2))
    kernel = rng.standard_normal((2, 3, 4, 2))
    for transpose in BOTH_VIEWS:
        single = transpose(inputs, kernel, (2, 1), "same")
        batched = transpose(inputs[None], kernel, (2, 1), "same")
        assert single.shape == (6, 2, 4)
        np.testing.assert_allclose(batched[0], single)


# --- Ordinary convolution, its matrix, and the adjoint identity -----------------


@pytest.mark.parametrize(
    "input_hw, kernel_hw, strides",
    [((4, 4), (3, 3), 1), ((5, 7), (3, 2), (2, 3)), ((6, 5), (1, 4), 2)],
)
def test_conv2d_valid_numpy_equals_keras_conv2d(input_hw, kernel_hw, strides):
    rng = np.random.default_rng(4)
    inputs = rng.standard_normal((2, *input_hw, 3)).astype("float32")
    kernel = rng.standard_normal((*kernel_hw, 3, 2)).astype("float32")
    np.testing.assert_allclose(
        conv2d_valid_numpy(inputs, kernel, strides),
        keras_conv(inputs, kernel, strides, "valid"),
        atol=1e-5,
    )


def test_convolution_matrix_of_lecture_example():
    # 4x4 input, 3x3 kernel, stride 1 -> 2x2 output: C is 4 x 16.
    kernel = np.arange(1.0, 10.0).reshape(3, 3)
    matrix = convolution_matrix((4, 4), kernel)
    assert matrix.shape == (4, 16)
    # Output pixel 0 reads input rows 0-2, columns 0-2 (flat indices 0-2, 4-6, 8-10).
    expected_row = np.zeros((4, 4))
    expected_row[:3, :3] = kernel
    np.testing.assert_allclose(matrix[0], expected_row.ravel())


@pytest.mark.parametrize(
    "input_hw, kernel_hw, strides, padding",
    [
        ((4, 4), (3, 3), 1, "valid"),
        ((5, 5), (3, 3), 2, "valid"),
        ((5, 5), (3, 3), 1, "same"),
        ((6, 6), (4, 2), (2, 3), "same"),
        ((5, 4), (3, 3), 2, 1),
    ],
)
def test_convolution_matrix_computes_the_convolution(input_hw, kernel_hw, strides, padding):
    rng = np.random.default_rng(5)
    image = rng.standard_normal(input_hw).astype("float32")
    kernel = rng.standard_normal(kernel_hw).astype("float32")
    matrix = convolution_matrix(input_hw, kernel, strides, padding)
    if padding == 1:
        padded = np.pad(image, 1)
        expected = conv2d_valid_numpy(padded[:, :, None], kernel[:, :, None, None], strides)
    else:
        expected = keras_conv(
            image[None, :, :, None], kernel[:, :, None, None], strides, padding
        )[0]
    np.testing.assert_allclose(
        matrix @ image.ravel(), expected.ravel(), atol=1e-5
    )
    # C.T is the transposed convolution with the same kernel (when the sizes agree).
    if padding != 1:
        out_h, out_w = expected.shape[:2]
        gradient_image = rng.standard_normal((out_h, out_w, 1))
        output_padding = None if padding == "same" else tuple(
            (n - k) % s
            for n, k, s in zip(input_hw, kernel_hw, np.broadcast_to(strides, 2))
        )
        transposed = conv2d_transpose_scatter(
            gradient_image, kernel[:, :, None, None], strides, padding, output_padding
        )
        np.testing.assert_allclose(
            matrix.T @ gradient_image.ravel(), transposed.ravel(), atol=1e-5
        )


@pytest.mark.parametrize("seed", range(12))
def test_adjoint_identity(seed):
    # <conv(x), y> == <x, conv_transpose(y)>: the transposed convolution is the
    # adjoint of the convolution, i.e. what back-propagation applies.
    rng = np.random.default_rng(100 + seed)
    height, width = (int(v) for v in rng.integers(3, 8, 2))
    kernel_hw = tuple(int(v) for v in rng.integers(1, 4, 2))
    strides = tuple(int(v) for v in rng.integers(1, 4, 2))
    c_in, c_out = (int(v) for v in rng.integers(1, 4, 2))
    x = rng.standard_normal((2, height, width, c_in))
    kernel = rng.standard_normal((*kernel_hw, c_in, c_out))  # Conv2D layout
    conv_x = conv2d_valid_numpy(x, kernel, strides)
    y = rng.standard_normal(conv_x.shape)
    # Output padding that recovers the size of x.
    output_padding = tuple(
        (n - k) % s for n, k, s in zip((height, width), kernel_hw, strides)
    )
    for transpose in BOTH_VIEWS:
        # The Conv2D kernel (kh, kw, c_in, c_out) is the Conv2DTranspose kernel
        # of the way back, from c_out to c_in channels.
        transposed_y = transpose(y, kernel, strides, "valid", output_padding)
        assert transposed_y.shape == x.shape
        np.testing.assert_allclose(np.sum(conv_x * y), np.sum(x * transposed_y))


# --- Errors -------------------------------------------------------------------


@pytest.mark.parametrize("transpose", BOTH_VIEWS)
@pytest.mark.parametrize(
    "inputs_shape, kernel_shape, kwargs, message",
    [
        ((4, 4), (3, 3, 1, 1), {}, "inputs"),
        ((1, 1, 4, 4, 1), (3, 3, 1, 1), {}, "inputs"),
        ((4, 4, 1), (3, 3, 1), {}, "kernel"),
        ((4, 4, 2), (3, 3, 1, 1), {}, "c_in"),
        ((4, 4, 1), (3, 3, 1, 1), {"strides": 0}, "strides"),
        ((4, 4, 1), (3, 3, 1, 1), {"strides": 1.5}, "strides"),
        ((4, 4, 1), (3, 3, 1, 1), {"padding": "full"}, "padding"),
        ((4, 4, 1), (3, 3, 1, 1), {"padding": -1}, "padding"),
        ((4, 4, 1), (3, 3, 1, 1), {"strides": 2, "output_padding": 2}, "output_padding"),
        ((4, 4, 1), (3, 3, 1, 1), {"output_padding": (0, 0, 0)}, "output_padding"),
    ],
)
def test_transpose_rejects_bad_arguments(transpose, inputs_shape, kernel_shape, kwargs, message):
    with pytest.raises(ValueError, match=message):
        transpose(np.zeros(inputs_shape), np.zeros(kernel_shape), **kwargs)


def test_convolution_matrix_rejects_bad_arguments():
    with pytest.raises(ValueError, match="kernel"):
        convolution_matrix((4, 4), np.ones((3, 3, 1, 1)))
    with pytest.raises(ValueError, match="input_hw"):
        convolution_matrix((4, 4, 1), np.ones((3, 3)))
    with pytest.raises(ValueError, match="padding"):
        convolution_matrix((4, 4), np.ones((3, 3)), padding="full")
    with pytest.raises(ValueError, match="empty"):
        convolution_matrix((2, 2), np.ones((3, 3)))


def test_conv2d_valid_numpy_rejects_bad_arguments():
    with pytest.raises(ValueError, match="c_in"):
        conv2d_valid_numpy(np.zeros((4, 4, 2)), np.zeros((3, 3, 1, 1)))
    with pytest.raises(ValueError, match="kernel"):
        conv2d_valid_numpy(np.zeros((4, 4, 1)), np.zeros((3, 3)))
    with pytest.raises(ValueError, match="inputs"):
        conv2d_valid_numpy(np.zeros((4, 4)), np.zeros((3, 3, 1, 1)))
    with pytest.raises(ValueError, match="empty"):
        conv2d_valid_numpy(np.zeros((2, 2, 1)), np.zeros((3, 3, 1, 1)))
