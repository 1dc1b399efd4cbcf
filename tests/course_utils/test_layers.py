"""Tests of course_utils.layers: argmax pooling, unpooling and up-scaling."""

import keras
import numpy as np
import pytest
from keras import ops

from course_utils.layers import (
    MaxPoolingWithArgmax2D,
    MaxUnpooling2D,
    UpScaling2D,
    upscale_bilinear,
    upscale_nearest,
)

CUSTOM_OBJECTS = {
    "MaxPoolingWithArgmax2D": MaxPoolingWithArgmax2D,
    "MaxUnpooling2D": MaxUnpooling2D,
    "UpScaling2D": UpScaling2D,
}


def to_numpy(tensor):
    return keras.ops.convert_to_numpy(tensor)


def random_images(shape, seed=0):
    # Continuous random values: no ties inside a pooling window.
    return np.random.default_rng(seed).standard_normal(shape).astype("float32")


def numpy_pool_with_argmax(images, pool_size):
    """Loop reference: max of each window and its first row-major position."""
    batch, height, width, channels = images.shape
    p = pool_size
    pooled = np.zeros((batch, height // p, width // p, channels), images.dtype)
    argmax = np.zeros(pooled.shape, np.int32)
    for b in range(batch):
        for y in range(height // p):
            for x in range(width // p):
                for c in range(channels):
                    window = images[b, y * p : (y + 1) * p, x * p : (x + 1) * p, c]
                    pooled[b, y, x, c] = window.max()
                    argmax[b, y, x, c] = np.argmax(window.ravel())  # first max wins
    return pooled, argmax


def numpy_unpool(values, argmax, pool_size):
    """Loop reference: each value at its recorded position in a block of zeros."""
    batch, height, width, channels = values.shape
    p = pool_size
    output = np.zeros((batch, height * p, width * p, channels), values.dtype)
    for b in range(batch):
        for y in range(height):
            for x in range(width):
                for c in range(channels):
                    row, col = divmod(int(argmax[b, y, x, c]), p)
                    output[b, y * p + row, x * p + col, c] = values[b, y, x, c]
    return output


# --- MaxPoolingWithArgmax2D -----------------------------------------------------


@pytest.mark.parametrize(
    "pool_size, shape", [(2, (2, 4, 6, 3)), (3, (1, 6, 9, 2)), (1, (1, 2, 3, 1))]
)
def test_pooled_values_equal_keras_max_pooling(pool_size, shape):
    images = random_images(shape)
    pooled, _ = MaxPoolingWithArgmax2D(pool_size)(images)
    expected = keras.layers.MaxPooling2D(pool_size)(images)
    np.testing.assert_allclose(to_numpy(pooled), to_numpy(expected))


@pytest.mark.parametrize("pool_size, shape", [(2, (2, 4, 6, 3)), (3, (1, 6, 9, 2))])
def test_argmax_equals_numpy_loop(pool_size, shape):
    images = random_images(shape, seed=1)
    pooled, argmax = MaxPoolingWithArgmax2D(pool_size)(images)
    expected_pooled, expected_argmax = numpy_pool_with_argmax(images, pool_size)
    assert keras.backend.standardize_dtype(argmax.dtype) == "int32"
    np.testing.assert_array_equal(to_numpy(argmax), expected_argmax)
    np.testing.assert_allclose(to_numpy(pooled), expected_pooled)
    assert to_numpy(argmax).min() >= 0 and to_numpy(argmax).max() < pool_size**2


def test_argmax_numbers_window_positions_row_by_row():
    # One 2x2 window per image, the maximum at each of the four positions.
    images = np.zeros((4, 2, 2, 1), "float32")
    for position, (row, col) in enumerate([(0, 0), (0, 1), (1, 0), (1, 1)]):
        images[position, row, col, 0] = 1.0
    _, argmax = MaxPoolingWithArgmax2D(2)(images)
    np.testing.assert_array_equal(to_numpy(argmax).ravel(), [0, 1, 2, 3])


def test_argmax_ties_first_position_wins():
    # Equal maxima: the first in row-by-row order (smallest index) is reported.
    windows = np.array(
        [
            [[5.0, 5.0], [5.0, 5.0]],  # all equal -> 0
            [[1.0, 7.0], [2.0, 7.0]],  # positions 1 and 3 -> 1
            [[0.0, 1.0], [3.0, 3.0]],  # positions 2 and 3 -> 2
        ],
        "float32",
    )[..., None]
    _, argmax = MaxPoolingWithArgmax2D(2)(windows)
    np.testing.assert_array_equal(to_numpy(argmax).ravel(), [0, 1, 2])


# --- MaxUnpooling2D ---------------------------------------------------------------


@pytest.mark.parametrize("pool_size, shape", [(2, (2, 4, 6, 3)), (3, (1, 6, 3, 2))])
def test_unpool_of_pool_keeps_maxima_and_zeros_the_rest(pool_size, shape):
    images = random_images(shape, seed=2)
    pooled, argmax = MaxPoolingWithArgmax2D(pool_size)(images)
    restored = to_numpy(MaxUnpooling2D(pool_size)([pooled, argmax]))
    assert restored.shape == images.shape
    # Reference: keep a pixel iff it is the maximum of its window.
    window_max = np.repeat(
        np.repeat(numpy_pool_with_argmax(images, pool_size)[0], pool_size, 1),
        pool_size,
        2,
    )
    np.testing.assert_allclose(restored, np.where(images == window_max, images, 0.0))
    # Exactly one non-zero pixel per window and channel.
    batch, _, _, channels = shape
    assert np.count_nonzero(restored) == batch * pooled.shape[1] * pooled.shape[2] * channels


def test_unpool_equals_numpy_loop_for_any_values():
    rng = np.random.default_rng(3)
    values = rng.standard_normal((2, 3, 2, 4)).astype("float32")
    argmax = rng.integers(0, 9, values.shape).astype("int32")
    output = MaxUnpooling2D(3)([values, argmax])
    np.testing.assert_allclose(to_numpy(output), numpy_unpool(values, argmax, 3))


def test_gradient_flows_through_unpooling_values():
    # The Conv2D sits between pooling and unpooling, so its only gradient path
    # to the loss is through MaxUnpooling2D's `values`.
    inputs = keras.Input((4, 4, 2))
    pooled, argmax = MaxPoolingWithArgmax2D(2)(inputs)
    decoded = keras.layers.Conv2D(2, 1, use_bias=False, name="decoder_conv")(pooled)
    outputs = MaxUnpooling2D(2)([decoded, argmax])
    model = keras.Model(inputs, outputs)
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
    images = random_images((4, 4, 4, 2), seed=4)
    before = model.get_layer("decoder_conv").get_weights()[0].copy()
    model.fit(images, images, epochs=1, batch_size=4, verbose=0)
    after = model.get_layer("decoder_conv").get_weights()[0]
    assert np.all(np.isfinite(after))
    assert not np.allclose(before, after)


def test_unpooling_gradient_routes_to_the_recorded_pixel():
    # d(sum(unpool(v) * g)) / dv = g at the recorded positions. A model with
    # one trainable scale checks it through Keras' own training step.
    rng = np.random.default_rng(5)
    values = rng.standard_normal((1, 2, 2, 1)).astype("float32")
    argmax = np.array([0, 3, 1, 2], "int32").reshape(1, 2, 2, 1)
    upstream = rng.standard_normal((1, 4, 4, 1)).astype("float32")
    expected = np.sum(numpy_unpool(values, argmax, 2) * upstream)  # d loss / d scale

    values_in = keras.Input((2, 2, 1))
    argmax_in = keras.Input((2, 2, 1), dtype="int32")
    # A single trainable weight, the scale of the values (Dense on 1 channel).
    scale_layer = keras.layers.Dense(1, use_bias=False, kernel_initializer="ones")
    outputs = MaxUnpooling2D(2)([scale_layer(values_in), argmax_in])
    model = keras.Model([values_in, argmax_in], outputs)

    # Loss = sum(output * upstream): its gradient w.r.t. the scale is `expected`.
    def linear_loss(y_true, y_pred):
        return ops.sum(y_true * y_pred)

    model.compile(optimizer=keras.optimizers.SGD(1.0), loss=linear_loss)
    model.fit([values, argmax], upstream, epochs=1, batch_size=1, verbose=0)
    new_scale = float(scale_layer.get_weights()[0][0, 0])
    np.testing.assert_allclose(new_scale, 1.0 - expected, rtol=1e-5, atol=1e-6)


# --- Up-scaling -------------------------------------------------------------------


@pytest.mark.parametrize("factor", [1, 2, 3, 4])
@pytest.mark.parametrize("interpolation", ["nearest", "bilinear"])
def test_upscaling_equals_keras_upsampling2d(factor, interpolation):
    images = random_images((2, 3, 5, 2), seed=6)
    expected = to_numpy(
        keras.layers.UpSampling2D(factor, interpolation=interpolation)(images)
    )
    function = upscale_nearest if interpolation == "nearest" else upscale_bilinear
    np.testing.assert_allclose(to_numpy(function(images, factor)), expected, atol=1e-5)
    layer_output = UpScaling2D(factor, interpolation)(images)
    np.testing.assert_allclose(to_numpy(layer_output), expected, atol=1e-5)


def test_bilinear_uses_half_pixel_centres():
    row = np.array([[0.0, 4.0]], "float32")[None, :, :, None]  # (1, 1, 2, 1)
    output = to_numpy(upscale_bilinear(row, 2))[0, 0, :, 0]
    np.testing.assert_allclose(output, [0.0, 1.0, 3.0, 4.0])


def test_nearest_repeats_each_pixel():
    images = np.arange(4.0, dtype="float32").reshape(1, 2, 2, 1)
    output = to_numpy(upscale_nearest(images, 2))[0, :, :, 0]
    np.testing.assert_array_equal(
        output, [[0, 0, 1, 1], [0, 0, 1, 1], [2, 2, 3, 3], [2, 2, 3, 3]]
    )


# --- Inside models: shapes, config round trip ---------------------------------------


def build_encoder_decoder(input_shape):
    inputs = keras.Input(input_shape)
    features = keras.layers.Conv2D(3, 3, padding="same")(inputs)
    pooled, argmax = MaxPoolingWithArgmax2D(2, name="pool")(features)
    coarse = UpScaling2D(2, "bilinear", name="upscale")(pooled)
    coarse = keras.layers.MaxPooling2D(2)(coarse)
    restored = MaxUnpooling2D(2, name="unpool")([coarse, argmax])
    outputs = keras.layers.Conv2D(1, 1)(restored)
    return keras.Model(inputs, outputs)


@pytest.mark.parametrize("input_shape", [(8, 6, 2), (None, None, 2)])
def test_layers_survive_model_config_round_trip(input_shape):
    model = build_encoder_decoder(input_shape)
    images = random_images((2, 8, 6, 2), seed=7)
    expected = to_numpy(model(images))
    assert expected.shape == (2, 8, 6, 1)

    rebuilt = keras.Model.from_config(model.get_config(), custom_objects=CUSTOM_OBJECTS)
    rebuilt.set_weights(model.get_weights())
    np.testing.assert_allclose(to_numpy(rebuilt(images)), expected, atol=1e-6)
    np.testing.assert_allclose(rebuilt.predict(images, verbose=0), expected, atol=1e-6)
    assert rebuilt.get_layer("pool").pool_size == 2
    assert rebuilt.get_layer("upscale").interpolation == "bilinear"


def test_symbolic_output_shapes_and_dtypes():
    inputs = keras.Input((8, None, 3))
    pooled, argmax = MaxPoolingWithArgmax2D(2)(inputs)
    assert pooled.shape == (None, 4, None, 3) and argmax.shape == (None, 4, None, 3)
    assert pooled.dtype == "float32" and argmax.dtype == "int32"
    assert MaxUnpooling2D(2)([pooled, argmax]).shape == (None, 8, None, 3)
    assert UpScaling2D(3)(inputs).shape == (None, 24, None, 3)
    assert MaxUnpooling2D(4).compute_output_shape([(1, 2, 3, 5), (1, 2, 3, 5)]) == (1, 8, 12, 5)


# --- Errors ---------------------------------------------------------------------------


@pytest.mark.parametrize("bad", [0, -2, 2.0, "2", True, None])
def test_bad_pool_size_and_factor(bad):
    for make in (MaxPoolingWithArgmax2D, MaxUnpooling2D):
        with pytest.raises(ValueError, match="pool_size"):
            make(bad)
    with pytest.raises(ValueError, match="size"):
        UpScaling2D(bad)
    with pytest.raises(ValueError, match="factor"):
        upscale_nearest(np.zeros((1, 2, 2, 1), "float32"), bad)


def test_pooling_rejects_sizes_not_divisible_by_pool_size():
    with pytest.raises(ValueError, match=r"height \(5\).*divisible.*pool_size"):
        MaxPoolingWithArgmax2D(2)(np.zeros((1, 5, 4, 1), "float32"))
    with pytest.raises(ValueError, match=r"width \(4\).*divisible"):
        MaxPoolingWithArgmax2D(3)(np.zeros((1, 6, 4, 1), "float32"))
    with pytest.raises(ValueError, match="divisible"):
        MaxPoolingWithArgmax2D(2)(keras.Input((7, None, 1)))


def test_layers_reject_wrong_rank():
    with pytest.raises(ValueError, match="rank 3"):
        MaxPoolingWithArgmax2D(2)(np.zeros((4, 4, 1), "float32"))
    with pytest.raises(ValueError, match="values"):
        MaxUnpooling2D(2)([np.zeros((2, 2, 1), "float32"), np.zeros((2, 2, 1), "int32")])
    with pytest.raises(ValueError, match="images"):
        upscale_bilinear(np.zeros((4, 4), "float32"), 2)
    with pytest.raises(ValueError, match="inputs"):
        UpScaling2D(2)(np.zeros((1, 4, 4, 1, 1), "float32"))


def test_unpooling_rejects_bad_inputs():
    values = np.zeros((1, 2, 2, 1), "float32")
    with pytest.raises(ValueError, match=r"\[values, argmax\]"):
        MaxUnpooling2D(2)(values)
    with pytest.raises(ValueError, match="same shape"):
        MaxUnpooling2D(2)([values, np.zeros((1, 2, 3, 1), "int32")])
    with pytest.raises(ValueError, match="integer"):
        MaxUnpooling2D(2)([values, np.zeros((1, 2, 2, 1), "float32")])


def test_upscaling_rejects_unknown_interpolation():
    with pytest.raises(ValueError, match="interpolation"):
        UpScaling2D(2, interpolation="bicubic")


def test_get_config_round_trip_keeps_arguments():
    for layer in (
        MaxPoolingWithArgmax2D(3, name="pool3"),
        MaxUnpooling2D(4, name="unpool4"),
        UpScaling2D(3, "bilinear", name="upscale3"),
    ):
        rebuilt = type(layer).from_config(layer.get_config())
        assert rebuilt.get_config() == layer.get_config()
        for argument in ("pool_size", "size", "interpolation"):
            if hasattr(layer, argument):
                assert getattr(rebuilt, argument) == getattr(layer, argument)
