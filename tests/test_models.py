"""Tests of course_utils.models: the lecture's patch CNN and FCN up-scaling network."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from course_utils import models  # noqa: E402


def conv_params(kernel, channels_in, channels_out):
    """Weights k*k*cin*cout plus one bias per output channel."""
    return kernel * kernel * channels_in * channels_out + channels_out


def dense_params(units_in, units_out):
    return units_in * units_out + units_out


def layer_summary(model):
    """(kind, filters/units, kernel size) of every layer, as the slides list them."""
    rows = []
    for layer in model.layers:
        kind = type(layer).__name__
        if kind == "Conv2D":
            rows.append((kind, layer.filters, tuple(layer.kernel_size), layer.padding))
        elif kind == "MaxPooling2D":
            rows.append((kind, tuple(layer.pool_size), tuple(layer.strides)))
        elif kind == "Dense":
            rows.append((kind, layer.units))
        elif kind == "UpSampling2D":
            rows.append((kind, tuple(layer.size), layer.interpolation))
        else:
            rows.append((kind,))
    return rows


def test_patch_cnn_layers_as_in_lecture():
    model = models.build_patch_cnn()
    assert layer_summary(model) == [
        ("Conv2D", 40, (3, 3), "same"),
        ("MaxPooling2D", (2, 2), (2, 2)),
        ("Conv2D", 40, (4, 4), "same"),
        ("MaxPooling2D", (2, 2), (2, 2)),
        ("Conv2D", 80, (4, 4), "same"),
        ("MaxPooling2D", (2, 2), (2, 2)),
        ("Flatten",),
        ("Dense", 100),
        ("Dropout",),
        ("Dense", 4),
    ]
    activations = [getattr(layer, "activation", None) for layer in model.layers]
    assert [a.__name__ for a in activations if a is not None] == [
        "relu", "relu", "relu", "relu", "softmax"
    ]
    assert model.layers[-1].name == "softmax"
    assert model.get_layer("dropout").rate == 0.5


def test_patch_cnn_output_shape_and_probabilities():
    model = models.build_patch_cnn(patch_size=32, num_classes=4)
    patches = np.random.default_rng(0).random((5, 32, 32, 1), dtype=np.float32)
    scores = np.asarray(model(patches))
    assert scores.shape == (5, 4)
    np.testing.assert_allclose(scores.sum(axis=1), 1.0, atol=1e-5)


def test_patch_cnn_param_count():
    model = models.build_patch_cnn(patch_size=32, num_classes=4, num_channels=1)
    flat = (32 // 8) * (32 // 8) * 80  # three 2x2 poolings: 32 -> 4
    expected = (
        conv_params(3, 1, 40)
        + conv_params(4, 40, 40)
        + conv_params(4, 40, 80)
        + dense_params(flat, 100)
        + dense_params(100, 4)
    )
    assert expected == 400 + 25_640 + 51_280 + 128_100 + 404
    assert model.count_params() == expected


def test_fcn_layers_as_in_lecture():
    model = models.build_fcn_upscaling()
    assert layer_summary(model) == [
        ("Conv2D", 40, (3, 3), "same"),
        ("MaxPooling2D", (2, 2), (2, 2)),
        ("Conv2D", 40, (4, 4), "same"),
        ("MaxPooling2D", (2, 2), (2, 2)),
        ("Conv2D", 80, (4, 4), "same"),
        ("MaxPooling2D", (2, 2), (2, 2)),
        ("UpSampling2D", (8, 8), "nearest"),
        ("Conv2D", 4, (1, 1), "valid"),
        ("Activation",),
    ]
    assert model.layers[-1].activation.__name__ == "softmax"
    assert model.get_layer("classifier").activation.__name__ == "linear"


@pytest.mark.parametrize("height, width", [(64, 48), (256, 256)])
def test_fcn_output_shape(height, width):
    model = models.build_fcn_upscaling(num_classes=4)
    assert model.get_layer("pool3").output.shape == (None, None, None, 80)
    pages = np.zeros((2, height, width, 1), dtype=np.float32)
    scores = np.asarray(model(pages))
    assert scores.shape == (2, height, width, 4)
    np.testing.assert_allclose(scores.sum(axis=-1), 1.0, atol=1e-5)


def test_fcn_param_count():
    model = models.build_fcn_upscaling(num_classes=4, num_channels=1)
    expected = (
        conv_params(3, 1, 40)
        + conv_params(4, 40, 40)
        + conv_params(4, 40, 80)
        + conv_params(1, 80, 4)  # the up-scaling layer has no parameters
    )
    assert expected == 77_644
    assert model.count_params() == expected


def test_channels_and_classes_change_param_count():
    model = models.build_fcn_upscaling(num_classes=3, num_channels=3)
    expected = (
        conv_params(3, 3, 40) + conv_params(4, 40, 40) + conv_params(4, 40, 80)
        + conv_params(1, 80, 3)
    )
    assert model.count_params() == expected
    patch_model = models.build_patch_cnn(patch_size=16, num_classes=2, num_channels=3)
    assert patch_model.output_shape == (None, 2)
    assert patch_model.input_shape == (None, 16, 16, 3)


@pytest.mark.parametrize(
    "kwargs, name",
    [
        ({"num_classes": 1}, "num_classes"),
        ({"num_channels": 0}, "num_channels"),
        ({"patch_size": 30}, "patch_size"),
        ({"patch_size": 0}, "patch_size"),
        ({"dropout": 1.0}, "dropout"),
    ],
)
def test_patch_cnn_bad_arguments(kwargs, name):
    with pytest.raises(ValueError, match=name):
        models.build_patch_cnn(**kwargs)


@pytest.mark.parametrize(
    "kwargs, name", [({"num_classes": 1}, "num_classes"), ({"num_channels": 0}, "num_channels")]
)
def test_fcn_bad_arguments(kwargs, name):
    with pytest.raises(ValueError, match=name):
        models.build_fcn_upscaling(**kwargs)


def test_models_are_keras_models():
    assert isinstance(models.build_patch_cnn(), keras.Model)
    assert isinstance(models.build_fcn_upscaling(), keras.Model)
