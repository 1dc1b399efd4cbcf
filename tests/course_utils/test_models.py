"""Tests of course_utils.models: the lecture's patch CNN and FCN up-scaling network."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras
import numpy as np
import pytest

from course_utils import models

# Model outputs are backend tensors (on PyTorch with gradients); this gives NumPy arrays.
to_numpy = keras.ops.convert_to_numpy


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


# The encoder the lecture's patch CNN and FCN share: three convolutions, each + 2x2 pooling.
LECTURE_ENCODER = [
    ("Conv2D", 40, (3, 3), "same"),
    ("MaxPooling2D", (2, 2), (2, 2)),
    ("Conv2D", 40, (4, 4), "same"),
    ("MaxPooling2D", (2, 2), (2, 2)),
    ("Conv2D", 80, (4, 4), "same"),
    ("MaxPooling2D", (2, 2), (2, 2)),
]


def test_patch_cnn_layers_as_in_lecture():
    model = models.build_patch_cnn()
    assert layer_summary(model) == [
        *LECTURE_ENCODER,
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
    scores = to_numpy(model(patches))
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
        *LECTURE_ENCODER,
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
    scores = to_numpy(model(pages))
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


# --- Skip connections, U-Net, DeconvNet, autoencoder, convolutionalize ------------------


def transposed_params(kernel, channels_in, channels_out):
    """A transposed convolution has as many weights as a convolution (cout x cin swapped)."""
    return conv_params(kernel, channels_in, channels_out)


def graph_summary(model):
    """(name, kind, filters, kernel, strides/size) of every layer after the input."""
    rows = []
    for layer in model.layers[1:]:
        kind = type(layer).__name__
        if kind in ("Conv2D", "Conv2DTranspose"):
            rows.append((layer.name, kind, layer.filters, tuple(layer.kernel_size),
                         tuple(layer.strides), layer.padding))
        elif kind == "MaxPooling2D":
            rows.append((layer.name, kind, tuple(layer.pool_size), tuple(layer.strides)))
        elif kind == "UpSampling2D":
            rows.append((layer.name, kind, tuple(layer.size), layer.interpolation))
        else:
            rows.append((layer.name, kind))
    return rows


def input_layer_names(model, layer_name):
    """Names of the layers whose outputs feed ``layer_name`` (in order)."""
    inputs = model.get_layer(layer_name).input
    inputs = inputs if isinstance(inputs, (list, tuple)) else [inputs]
    return [tensor._keras_history.operation.name for tensor in inputs]


SLIDE_ENCODER = [
    ("conv1", "Conv2D", 40, (3, 3), (1, 1), "same"),
    ("pool1", "MaxPooling2D", (2, 2), (2, 2)),
    ("conv2", "Conv2D", 80, (4, 4), (1, 1), "same"),
    ("pool2", "MaxPooling2D", (2, 2), (2, 2)),
    ("conv3", "Conv2D", 80, (4, 4), (1, 1), "same"),
    ("pool3", "MaxPooling2D", (2, 2), (2, 2)),
    ("fc4", "Conv2D", 160, (1, 1), (1, 1), "same"),
    ("fc5", "Conv2D", 160, (1, 1), (1, 1), "same"),
]


def test_skip_upscaling_layers_as_on_slide():
    model = models.build_fcn_skip_upscaling()
    assert graph_summary(model) == SLIDE_ENCODER + [
        ("up1", "UpSampling2D", (2, 2), "nearest"),
        ("fuse2", "Concatenate"),
        ("up2", "UpSampling2D", (2, 2), "nearest"),
        ("fuse3", "Concatenate"),
        ("up3", "UpSampling2D", (2, 2), "nearest"),
        ("fuse4", "Concatenate"),
        ("logits", "Conv2D", 4, (1, 1), (1, 1), "valid"),
        ("softmax", "Activation"),
    ]
    assert input_layer_names(model, "fuse2") == ["up1", "conv3"]
    assert input_layer_names(model, "fuse3") == ["up2", "conv2"]
    assert input_layer_names(model, "fuse4") == ["up3", "conv1"]
    relu = [n for n in ("conv1", "conv2", "conv3", "fc4", "fc5")
            if model.get_layer(n).activation.__name__ == "relu"]
    assert len(relu) == 5
    assert model.get_layer("logits").activation.__name__ == "linear"


def test_transposed_skip_layers_as_on_slide():
    model = models.build_fcn_transposed_skip()
    assert graph_summary(model) == SLIDE_ENCODER + [
        ("up1", "Conv2DTranspose", 80, (3, 3), (2, 2), "same"),
        ("fuse2", "Concatenate"),
        ("up2", "Conv2DTranspose", 80, (3, 3), (2, 2), "same"),
        ("fuse3", "Concatenate"),
        ("up3", "Conv2DTranspose", 40, (3, 3), (2, 2), "same"),
        ("fuse4", "Concatenate"),
        ("logits", "Conv2D", 4, (1, 1), (1, 1), "valid"),
        ("softmax", "Activation"),
    ]
    assert input_layer_names(model, "fuse4") == ["up3", "conv1"]


def slide_encoder_params(channels_in):
    return (
        conv_params(3, channels_in, 40)
        + conv_params(4, 40, 80)
        + conv_params(4, 80, 80)
        + conv_params(1, 80, 160)
        + conv_params(1, 160, 160)
    )


def test_skip_upscaling_param_count():
    encoder = slide_encoder_params(1)
    assert encoder == 400 + 51_280 + 102_480 + 12_960 + 25_760
    # Concatenated channels: (160 + 80) -> (240 + 80) -> (320 + 40) = 360 at full size.
    expected = encoder + conv_params(1, 360, 4)  # up-scaling has no parameters
    assert expected == 194_324
    assert models.build_fcn_skip_upscaling(num_classes=4).count_params() == expected
    model = models.build_fcn_skip_upscaling(num_classes=3, num_channels=3, output="logits")
    assert model.count_params() == slide_encoder_params(3) + conv_params(1, 360, 3)


def test_transposed_skip_param_count():
    expected = (
        slide_encoder_params(1)
        + transposed_params(3, 160, 80)  # up1 on fc5
        + transposed_params(3, 80 + 80, 80)  # up2 on fuse2 = up1 + conv3
        + transposed_params(3, 80 + 80, 40)  # up3 on fuse3 = up2 + conv2
        + conv_params(1, 40 + 40, 4)  # logits on fuse4 = up3 + conv1
    )
    assert expected == 481_404
    assert models.build_fcn_transposed_skip(num_classes=4).count_params() == expected


def unet_params(num_classes, num_channels, depth, base_filters):
    """Hand count of build_unet (no batch norm): two 3x3 convs per level, 2x2 up-convs."""
    total, channels = 0, num_channels
    for level in range(depth):  # encoder
        filters = base_filters * 2**level
        total += conv_params(3, channels, filters) + conv_params(3, filters, filters)
        channels = filters
    bottom = base_filters * 2**depth
    total += conv_params(3, channels, bottom) + conv_params(3, bottom, bottom)
    channels = bottom
    for level in reversed(range(depth)):  # decoder
        filters = base_filters * 2**level
        total += transposed_params(2, channels, filters)
        # the concatenation doubles the channels: up-conv output + encoder features
        total += conv_params(3, 2 * filters, filters) + conv_params(3, filters, filters)
        channels = filters
    return total + conv_params(1, channels, num_classes)


def test_unet_param_count():
    # Small networks (with the shapes of the other tests: JAX compiles per weight shape).
    for kwargs in ({"depth": 3, "base_filters": 2, "num_classes": 3},
                   {"depth": 2, "base_filters": 2, "num_classes": 3, "num_channels": 2}):
        model = models.build_unet(**kwargs)
        full = {"num_classes": 4, "num_channels": 1, "depth": 4, "base_filters": 16, **kwargs}
        assert model.count_params() == unet_params(**full)


def test_unet_layers():
    model = models.build_unet(depth=2, base_filters=8, padding="valid")
    rows = [row for row in graph_summary(model) if row[1] != "Activation"]
    assert rows == [
        ("enc1_conv1", "Conv2D", 8, (3, 3), (1, 1), "valid"),
        ("enc1_conv2", "Conv2D", 8, (3, 3), (1, 1), "valid"),
        ("pool1", "MaxPooling2D", (2, 2), (2, 2)),
        ("enc2_conv1", "Conv2D", 16, (3, 3), (1, 1), "valid"),
        ("enc2_conv2", "Conv2D", 16, (3, 3), (1, 1), "valid"),
        ("pool2", "MaxPooling2D", (2, 2), (2, 2)),
        ("bottleneck_conv1", "Conv2D", 32, (3, 3), (1, 1), "valid"),
        ("bottleneck_conv2", "Conv2D", 32, (3, 3), (1, 1), "valid"),
        ("upconv2", "Conv2DTranspose", 16, (2, 2), (2, 2), "valid"),
        ("crop2", "Cropping2D"),
        ("concat2", "Concatenate"),
        ("dec2_conv1", "Conv2D", 16, (3, 3), (1, 1), "valid"),
        ("dec2_conv2", "Conv2D", 16, (3, 3), (1, 1), "valid"),
        ("upconv1", "Conv2DTranspose", 8, (2, 2), (2, 2), "valid"),
        ("crop1", "Cropping2D"),
        ("concat1", "Concatenate"),
        ("dec1_conv1", "Conv2D", 8, (3, 3), (1, 1), "valid"),
        ("dec1_conv2", "Conv2D", 8, (3, 3), (1, 1), "valid"),
        ("logits", "Conv2D", 4, (1, 1), (1, 1), "valid"),
    ]
    # Paper, depth 4: crop 4, 16, 40, 88 pixels per side; depth 2: 4 and 16.
    assert model.get_layer("crop2").cropping == ((4, 4), (4, 4))
    assert model.get_layer("crop1").cropping == ((16, 16), (16, 16))
    assert input_layer_names(model, "crop1") == ["enc1_relu2"]
    assert input_layer_names(model, "concat1") == ["upconv1", "crop1"]
    bn = models.build_unet(depth=2, base_filters=4, batch_norm=True)
    kinds = [type(layer).__name__ for layer in bn.layers]
    assert kinds.count("BatchNormalization") == 2 * (2 * 2 + 1)
    assert not bn.get_layer("enc1_conv1").use_bias  # batch norm brings its own shift
    assert bn.get_layer("enc1_bn1").momentum == 0.99  # Keras' default
    fast = models.build_unet(depth=1, base_filters=2, batch_norm=True, batch_norm_momentum=0.9)
    assert {layer.momentum for layer in fast.layers if "_bn" in layer.name} == {0.9}


def test_unet_output_size_paper_and_rules():
    assert models.unet_output_size(572, depth=4, padding="valid") == 388
    assert models.unet_output_size(60, depth=2, padding="valid") == 20
    assert models.unet_output_size(44, depth=2, padding="valid") == 4
    assert models.unet_output_size(48, depth=3, padding="same") == 48
    with pytest.raises(ValueError, match="input_size"):
        models.unet_output_size(570, depth=4, padding="valid")  # odd size at a pooling
    with pytest.raises(ValueError, match="input_size"):
        models.unet_output_size(20, depth=2, padding="valid")  # nothing left
    with pytest.raises(ValueError, match="multiple of 2\\*\\*depth = 8"):
        models.unet_output_size(20, depth=3, padding="same")
    with pytest.raises(ValueError, match="padding"):
        models.unet_output_size(64, padding="full")


@pytest.mark.parametrize("height, width", [(60, 44), (44, 76)])
def test_unet_valid_output_matches_helper(height, width):
    for input_size in (None, (height, width)):
        model = models.build_unet(num_classes=3, depth=2, base_filters=2, padding="valid",
                                  input_size=input_size)
        scores = to_numpy(model(np.zeros((1, height, width, 1), dtype=np.float32)))
        expected = (models.unet_output_size(height, 2, "valid"),
                    models.unet_output_size(width, 2, "valid"))
        assert scores.shape == (1, *expected, 3)
    assert model.output_shape == (None, *expected, 3)


SAME_SIZE_BUILDERS = {
    "skip_upscaling": lambda **kw: models.build_fcn_skip_upscaling(**kw),
    "transposed_skip": lambda **kw: models.build_fcn_transposed_skip(**kw),
    "unet": lambda **kw: models.build_unet(depth=3, base_filters=2, **kw),
    "unet_bn": lambda **kw: models.build_unet(depth=2, base_filters=2, batch_norm=True, **kw),
    "deconvnet": lambda **kw: models.build_deconvnet(filters=(2, 4, 4), **kw),
}


@pytest.mark.parametrize("name", SAME_SIZE_BUILDERS)
@pytest.mark.parametrize("height, width", [(16, 16), (24, 40)])
def test_same_size_models_output_shape(name, height, width):
    model = SAME_SIZE_BUILDERS[name](num_classes=3)
    pages = np.random.default_rng(0).random((2, height, width, 1), dtype=np.float32)
    scores = to_numpy(model(pages))
    assert scores.shape == (2, height, width, 3)
    np.testing.assert_allclose(scores.sum(axis=-1), 1.0, atol=1e-5)


@pytest.mark.parametrize("name", SAME_SIZE_BUILDERS)
def test_logits_output_is_softmax_input(name):
    probabilities = SAME_SIZE_BUILDERS[name](num_classes=3)
    logits = SAME_SIZE_BUILDERS[name](num_classes=3, output="logits")
    assert "softmax" not in [layer.name for layer in logits.layers]
    assert logits.layers[-1].name == "logits"
    logits.set_weights(probabilities.get_weights())
    pages = np.random.default_rng(1).random((1, 16, 24, 1), dtype=np.float32)
    expected = to_numpy(probabilities(pages))
    np.testing.assert_allclose(
        to_numpy(keras.ops.softmax(logits(pages), axis=-1)), expected, atol=1e-5
    )


TRAINABLE_BUILDERS = {
    **SAME_SIZE_BUILDERS,
    "unet_valid": lambda **kw: models.build_unet(depth=2, base_filters=2, padding="valid", **kw),
}


# Keras 3.15 + PyTorch: softmax output + SparseCategoricalCrossentropy on (batch, h, w,
# classes) fails in backward ("grad_input must be contiguous", torch's nll_loss on a
# moved class axis). Logits with from_logits=True avoid it.
TORCH_SOFTMAX_SPARSE_CE = pytest.mark.xfail(
    keras.backend.backend() == "torch", raises=RuntimeError, strict=True,
    reason="known PyTorch-backend failure of softmax + sparse cross-entropy",
)


@pytest.mark.parametrize(
    "name, output",
    [(name, "logits") for name in TRAINABLE_BUILDERS]
    + [pytest.param(name, "softmax", marks=TORCH_SOFTMAX_SPARSE_CE)
       for name in ("skip_upscaling", "unet_valid", "deconvnet")],
)
def test_models_train_one_step(name, output):
    model = TRAINABLE_BUILDERS[name](num_classes=3, output=output)
    model.compile(
        optimizer=keras.optimizers.SGD(0.01),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=output == "logits"),
    )
    rng = np.random.default_rng(0)
    size = 44 if name == "unet_valid" else 8  # 44 -> 4 pixels for the valid U-Net
    pages = (rng.random((1, size, size, 1)) < 0.3).astype(np.float32)
    out_size = model.compute_output_shape((1, size, size, 1))[1]
    labels = rng.integers(0, 3, size=(1, out_size, out_size)).astype(np.int32)
    loss = float(to_numpy(model.train_on_batch(pages, labels)))
    assert np.isfinite(loss) and loss > 0


@pytest.mark.parametrize(
    "builder",
    [models.build_fcn_skip_upscaling, models.build_fcn_transposed_skip, models.build_unet,
     models.build_deconvnet],
)
@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"num_classes": 1}, "num_classes"),
        ({"num_channels": 0}, "num_channels"),
        ({"output": "probabilities"}, "output"),
        ({"input_size": (64, 60)}, "input_size"),
        ({"input_size": 64}, "input_size"),
    ],
)
def test_new_models_bad_arguments(builder, kwargs, message):
    with pytest.raises(ValueError, match=message):
        builder(**kwargs)


@pytest.mark.parametrize(
    "builder, kwargs, message",
    [
        (models.build_unet, {"depth": 0}, "depth"),
        (models.build_unet, {"base_filters": 0}, "base_filters"),
        (models.build_unet, {"padding": "full"}, "padding"),
        (models.build_unet, {"batch_norm": True, "batch_norm_momentum": 1.0}, "batch_norm_momentum"),
        (models.build_unet, {"depth": 4, "input_size": (40, 48)}, "multiples of 16"),
        (models.build_unet, {"padding": "valid", "input_size": (570, 572)}, "input_size"),
        (models.build_deconvnet, {"filters": ()}, "filters"),
        (models.build_deconvnet, {"filters": (8, 0)}, "filters"),
        (models.build_deconvnet, {"convs_per_block": 0}, "convs_per_block"),
        (models.build_deconvnet, {"filters": (4, 4), "input_size": (10, 16)}, "multiples of 4"),
        (models.build_fcn_skip_upscaling, {"input_size": (20, 16)}, "multiples of 8"),
        (models.build_autoencoder, {"code_channels": 0}, "code_channels"),
        (models.build_autoencoder, {"filters": ()}, "filters"),
        (models.build_autoencoder, {"input_size": (10, 8)}, "multiples of 4"),
        (models.build_patch_cnn, {"padding": "valid", "patch_size": 24}, "patch_size"),
        (models.build_patch_cnn, {"padding": "full"}, "padding"),
    ],
)
def test_specific_bad_arguments(builder, kwargs, message):
    with pytest.raises(ValueError, match=message):
        builder(**kwargs)


def test_fixed_input_size_gives_static_shapes():
    model = models.build_fcn_transposed_skip(input_size=(24, 40))
    assert model.output_shape == (None, 24, 40, 4)
    assert models.build_deconvnet(filters=(2, 2), input_size=(8, 12)).output_shape == (
        None, 8, 12, 4)


def test_deconvnet_layers_and_switches():
    model = models.build_deconvnet(filters=(4, 8), convs_per_block=2, batch_norm=False)
    rows = [row for row in graph_summary(model) if row[1] != "Activation"]
    assert rows == [
        ("enc1_conv1", "Conv2D", 4, (3, 3), (1, 1), "same"),
        ("enc1_conv2", "Conv2D", 4, (3, 3), (1, 1), "same"),
        ("pool1", "MaxPoolingWithArgmax2D"),
        ("enc2_conv1", "Conv2D", 8, (3, 3), (1, 1), "same"),
        ("enc2_conv2", "Conv2D", 8, (3, 3), (1, 1), "same"),
        ("pool2", "MaxPoolingWithArgmax2D"),
        ("unpool2", "MaxUnpooling2D"),
        ("dec2_conv1", "Conv2DTranspose", 8, (3, 3), (1, 1), "same"),
        ("dec2_conv2", "Conv2DTranspose", 4, (3, 3), (1, 1), "same"),
        ("unpool1", "MaxUnpooling2D"),
        ("dec1_conv1", "Conv2DTranspose", 4, (3, 3), (1, 1), "same"),
        ("dec1_conv2", "Conv2DTranspose", 4, (3, 3), (1, 1), "same"),
        ("logits", "Conv2D", 4, (1, 1), (1, 1), "valid"),
    ]
    # Each unpooling uses the positions recorded by the pooling of the same level.
    assert input_layer_names(model, "unpool2") == ["pool2", "pool2"]
    assert input_layer_names(model, "unpool1") == ["dec2_relu2", "pool1"]
    expected = (
        conv_params(3, 1, 4) + conv_params(3, 4, 4) + conv_params(3, 4, 8)
        + conv_params(3, 8, 8) + transposed_params(3, 8, 8) + transposed_params(3, 8, 4)
        + 2 * transposed_params(3, 4, 4) + conv_params(1, 4, 4)
    )
    assert model.count_params() == expected
    with_bn = models.build_deconvnet(filters=(4, 8), convs_per_block=2, batch_norm=True)
    # No conv biases; 4 batch-norm weights (gamma, beta, mean, variance) per channel.
    biases = 4 + 4 + 8 + 8 + 8 + 4 + 4 + 4
    assert with_bn.count_params() == expected - biases + 4 * biases


def test_autoencoder_shapes_and_shared_weights():
    keras.utils.set_random_seed(0)
    autoencoder, encoder, decoder = models.build_autoencoder(filters=(4, 8), code_channels=2)
    pages = (np.random.default_rng(0).random((3, 32, 24, 1)) < 0.3).astype(np.float32)
    code = to_numpy(encoder(pages))
    assert code.shape == (3, 8, 6, 2)
    assert 0.0 <= code.min() and code.max() <= 1.0
    reconstruction = to_numpy(autoencoder(pages))
    assert reconstruction.shape == pages.shape
    assert 0.0 <= reconstruction.min() and reconstruction.max() <= 1.0
    np.testing.assert_allclose(to_numpy(decoder(code)), reconstruction, atol=1e-6)
    assert autoencoder.count_params() == encoder.count_params() + decoder.count_params()
    expected_encoder = conv_params(3, 1, 4) + conv_params(3, 4, 8) + conv_params(1, 8, 2)
    expected_decoder = (transposed_params(3, 2, 8) + transposed_params(3, 8, 4)
                        + conv_params(3, 4, 1))
    assert (encoder.count_params(), decoder.count_params()) == (expected_encoder,
                                                                expected_decoder)
    autoencoder.compile(optimizer=keras.optimizers.SGD(0.01),
                        loss=keras.losses.BinaryCrossentropy())
    before = to_numpy(encoder.get_layer("code").kernel).copy()
    autoencoder.train_on_batch(pages, pages)
    assert not np.array_equal(before, to_numpy(encoder.get_layer("code").kernel))
    fixed, fixed_encoder, fixed_decoder = models.build_autoencoder(
        filters=(2, 2), code_channels=3, input_size=(16, 24))
    assert fixed_encoder.output_shape == (None, 4, 6, 3)
    assert fixed_decoder.output_shape == fixed.output_shape == (None, 16, 24, 1)


def test_compression_ratio():
    # 64 x 64 binary page = 4096 bits; 16 x 16 x 4 float32 code = 32768 bits.
    assert models.compression_ratio((64, 64, 1), (16, 16, 4)) == pytest.approx(0.125)
    assert models.compression_ratio((64, 64), (16, 16, 4), code_bits=8) == pytest.approx(0.5)
    assert models.compression_ratio((64, 64, 1), (8, 8, 2), code_bits=8) == pytest.approx(4.0)
    assert models.compression_ratio((64, 64, 3), (8, 8, 2), input_bits=8,
                                    code_bits=8) == pytest.approx(96.0)
    with pytest.raises(ValueError, match="code_shape"):
        models.compression_ratio((64, 64), (0, 4))
    with pytest.raises(ValueError, match="code_bits"):
        models.compression_ratio((64, 64), (4, 4), code_bits=0)


def test_reconstruction_error_with_fake_autoencoders():
    pages = (np.random.default_rng(0).random((4, 8, 8)) < 0.3).astype(np.float32)
    identity = keras.Sequential([keras.Input((None, None, 1)), keras.layers.Identity()])
    inverse = keras.Sequential(
        [keras.Input((None, None, 1)), keras.layers.Rescaling(scale=-1.0, offset=1.0)]
    )
    assert models.reconstruction_error(identity, pages) == {
        "mean_absolute_error": 0.0, "wrong_pixel_fraction": 0.0}
    assert models.reconstruction_error(inverse, pages[..., None]) == {
        "mean_absolute_error": 1.0, "wrong_pixel_fraction": 1.0}
    blurred = keras.Sequential(  # 0.4 for ink, 0.6 for paper: off by 0.6, all wrong
        [keras.Input((None, None, 1)), keras.layers.Rescaling(scale=-0.2, offset=0.6)]
    )
    error = models.reconstruction_error(blurred, pages)
    assert error["mean_absolute_error"] == pytest.approx(0.6)
    assert error["wrong_pixel_fraction"] == 1.0
    undecided = keras.Sequential(  # exactly 0.5 everywhere counts as ink
        [keras.Input((None, None, 1)), keras.layers.Rescaling(scale=0.0, offset=0.5)]
    )
    error = models.reconstruction_error(undecided, pages)
    assert error["mean_absolute_error"] == pytest.approx(0.5)
    assert error["wrong_pixel_fraction"] == pytest.approx(1.0 - pages.mean())


def random_page_windows(page, patch_size, rows, cols):
    """Windows of ``page`` (1, H, W, C) whose corners are at multiples of 8."""
    return np.array([page[0, 8 * i:8 * i + patch_size, 8 * j:8 * j + patch_size]
                     for i in range(rows) for j in range(cols)])


def test_convolutionalize_equals_patch_cnn_on_every_window():
    keras.utils.set_random_seed(0)
    # 40 x 40 patches: 2 x 2 x 80 features before Flatten, so the kernel order matters.
    patch_cnn = models.build_patch_cnn(patch_size=40, num_classes=4, padding="valid")
    network = models.convolutionalize(patch_cnn)
    assert network.get_layer("dense_as_conv").kernel.shape == (2, 2, 80, 100)
    page = np.random.default_rng(0).random((1, 64, 80, 1), dtype=np.float32)
    scores = to_numpy(network(page))[0]
    assert scores.shape == ((64 - 40) // 8 + 1, (80 - 40) // 8 + 1, 4)
    windows = random_page_windows(page, 40, *scores.shape[:2])
    expected = patch_cnn.predict(windows, verbose=0).reshape(scores.shape)
    np.testing.assert_allclose(scores, expected, atol=1e-5)


def test_convolutionalize_carries_the_weights():
    keras.utils.set_random_seed(0)
    patch_cnn = models.build_patch_cnn(patch_size=32, num_classes=3)
    network = models.convolutionalize(patch_cnn)
    kinds = [type(layer).__name__ for layer in network.layers[1:]]
    assert kinds == ["Conv2D", "MaxPooling2D"] * 3 + ["Conv2D", "Conv2D"]
    dense_kernel, dense_bias = patch_cnn.get_layer("dense").get_weights()
    conv_kernel, conv_bias = network.get_layer("dense_as_conv").get_weights()
    assert conv_kernel.shape == (4, 4, 80, 100)  # (patch/8, patch/8, channels, units)
    np.testing.assert_array_equal(conv_kernel.reshape(-1, 100), dense_kernel)
    np.testing.assert_array_equal(conv_bias, dense_bias)
    assert network.get_layer("softmax_as_conv").kernel.shape == (1, 1, 100, 3)
    np.testing.assert_array_equal(network.get_layer("conv2").get_weights()[0],
                                  patch_cnn.get_layer("conv2").get_weights()[0])
    # Slide network ('same' padding): close to the patch CNN, but its convolutions see
    # past the window border, so not equal (see the docstring).
    page = np.random.default_rng(1).random((1, 48, 40, 1), dtype=np.float32)
    scores = to_numpy(network(page))[0]
    expected = patch_cnn.predict(random_page_windows(page, 32, *scores.shape[:2]),
                                 verbose=0).reshape(scores.shape)
    assert np.abs(scores - expected).max() > 1e-4


def test_convolutionalize_rejects_unknown_layers():
    model = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Cropping2D(1),
                              keras.layers.Flatten(), keras.layers.Dense(2)])
    with pytest.raises(ValueError, match="Cropping2D"):
        models.convolutionalize(model)


def test_new_models_are_keras_models():
    autoencoder, encoder, decoder = models.build_autoencoder(filters=(2,))
    for model in (models.build_unet(depth=2, base_filters=2),
                  models.build_deconvnet(filters=(2, 2)), autoencoder, encoder, decoder):
        assert isinstance(model, keras.Model)
