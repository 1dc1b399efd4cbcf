"""Transfer learning offline: a pretrained encoder inside an FCN, frozen, then fine-tuned.

Slide "Transfer Learning": the **backbone** (encoder) comes from a network pretrained on
a large classification task, the **decoder** is trained from scratch. This module gives
two kinds of backbones, both loaded from local files (no network needed):

1. **The course's page encoder** (``build_page_fcn``): the encoder of the lecture's
   sliding-window patch CNN (``conv1``-``pool3`` of ``models.build_patch_cnn``),
   pretrained on patches of synthetic pages by ``python -m course_utils.pretrain`` and
   shipped with the library as ``course_utils/weights/page_encoder.weights.h5`` (about
   0.3 MB). Patch labels are cheap (one class per patch); this plays the role of
   ImageNet pretraining.
2. **keras.applications backbones** (``build_backbone_fcn``): MobileNetV2, ResNet50 and
   VGG16 with ImageNet weights read from a LOCAL copy of the official Keras file
   (``imagenet_weights_path`` says which file and where it is searched). When the file
   is missing you get a ``WeightsNotFoundError`` that names the file, where to put it and
   how to fetch it on a connected machine; random weights (``weights=None``) only when
   you ask for them.

Freezing: ``freeze(model, names)`` / ``unfreeze(model, names)`` set ``trainable`` by
layer name (recompile afterwards: Keras reads ``trainable`` when it builds the training
step). ``trainable_report`` lists each layer's trainable flag and parameter count.

Weight files with the wrong shapes raise ``WeightsMismatchError`` (a ``ValueError``)
naming the file, the layer and the expected and found shapes.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import keras
import numpy as np
from keras import layers, ops

from course_utils.models import _check_choice, _check_int, _classifier_head, _page_input
from course_utils.settings import weights_search_dirs

WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"
PAGE_ENCODER_WEIGHTS = WEIGHTS_DIR / "page_encoder.weights.h5"

# The pretrained layers of the page encoder (pools have no weights) and their shapes for
# one input channel: the first three layers of ``models.build_patch_cnn``.
PAGE_ENCODER_LAYERS = ("conv1", "conv2", "conv3")

# keras.applications backbones: the Keras constructor, the official weight file name of
# the ImageNet weights without the classifier ("no top"), where Keras downloads it from,
# the input preprocessing the weights expect, and the layers a skip decoder taps (the
# last layer at output strides 2, 4, 8, 16 and 32).
_KERAS_APPS_URL = "https://storage.googleapis.com/tensorflow/keras-applications/"
BACKBONES = {
    "mobilenet_v2": {
        "constructor": "MobileNetV2",
        "file": "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_{size}_no_top.h5",
        "url": _KERAS_APPS_URL + "mobilenet_v2/",
        "sizes": (96, 128, 160, 192, 224),  # Keras has weights for these square sizes
        "preprocessing": "tf",
        "skips": ("block_1_expand_relu", "block_3_expand_relu", "block_6_expand_relu",
                  "block_13_expand_relu", "out_relu"),
    },
    "resnet50": {
        "constructor": "ResNet50",
        "file": "resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5",
        "url": _KERAS_APPS_URL + "resnet/",
        "sizes": None,  # one file for every input size
        "preprocessing": "caffe",
        "skips": ("conv1_relu", "conv2_block3_out", "conv3_block4_out", "conv4_block6_out",
                  "conv5_block3_out"),
    },
    "vgg16": {
        "constructor": "VGG16",
        "file": "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5",
        "url": _KERAS_APPS_URL + "vgg16/",
        "sizes": None,
        "preprocessing": "caffe",
        "skips": ("block2_conv2", "block3_conv3", "block4_conv3", "block5_conv3", "block5_pool"),
    },
}


class WeightsNotFoundError(FileNotFoundError):
    """A pretrained weights file is not on this machine (the message says how to get it)."""


class WeightsMismatchError(ValueError):
    """A weights file does not fit the model: a layer is missing or has other shapes."""


# ----------------------------------------------------------------------------- freezing
def _all_layers(model):
    """Every layer of ``model``, those inside nested models included (depth first)."""
    found = []
    for layer in model.layers:
        found.append(layer)
        if isinstance(layer, keras.Model):
            found.extend(_all_layers(layer))
    return found


def get_layers(model, names):
    """The layers of ``model`` (nested models searched too) called ``names``, in order.

    Raises:
        ValueError: naming the first unknown layer and listing the layers there are.
    """
    if isinstance(names, str):
        names = [names]
    by_name = {layer.name: layer for layer in _all_layers(model)}
    missing = [name for name in names if name not in by_name]
    if missing:
        raise ValueError(
            f"model {model.name!r} has no layer {missing[0]!r}; its layers are "
            f"{sorted(by_name)}"
        )
    return [by_name[name] for name in names]


def freeze(model, names):
    """Set ``trainable = False`` on the layers called ``names`` (recompile afterwards).

    A frozen layer keeps its weights during ``fit``; for BatchNormalization it also
    keeps the running mean and variance (Keras 3 runs frozen BatchNorm in inference mode).

    Returns:
        The list of frozen layers.
    """
    chosen = get_layers(model, names)
    for layer in chosen:
        layer.trainable = False
    return chosen


def unfreeze(model, names):
    """Set ``trainable = True`` on the layers called ``names`` (recompile afterwards)."""
    chosen = get_layers(model, names)
    for layer in chosen:
        layer.trainable = True
    return chosen


def count_params(model):
    """``(trainable, frozen)``: numbers of trainable and non-trainable parameters (ints).

    Non-trainable also counts BatchNorm's running statistics, which no optimizer updates.
    """
    trainable = sum(int(np.prod(w.shape)) for w in model.trainable_weights)
    frozen = sum(int(np.prod(w.shape)) for w in model.non_trainable_weights)
    return trainable, frozen


def trainable_report(model):
    """One row per layer with weights: ``(name, trainable, params)`` (str, bool, int).

    ``trainable`` is what the optimizer will see: False also when a model around the
    layer is frozen.
    """
    rows = []
    for layer in model.layers:
        params = int(sum(int(np.prod(w.shape)) for w in layer.weights))
        if params:
            rows.append((layer.name, bool(layer.trainable and model.trainable), params))
    return rows


# ----------------------------------------------------------------------------- weight files
def read_keras_weights(path):
    """``{layer name: [arrays]}`` of a Keras 3 ``.weights.h5`` file (``save_weights``)."""
    import h5py

    found = {}

    def visit(name, item):
        # Keras 3 stores each layer's variables in a group ".../vars" whose attribute
        # "name" is the layer's name; the datasets are called 0, 1, ... in order.
        if isinstance(item, h5py.Group) and name.endswith("vars") and "name" in item.attrs:
            keys = sorted(item.keys(), key=int)
            if keys:
                found[str(item.attrs["name"])] = [np.asarray(item[key]) for key in keys]

    with h5py.File(path, "r") as handle:
        handle.visititems(visit)
    return found


def _legacy_weights(layer):
    return layer.trainable_weights + layer.non_trainable_weights


def _read_legacy_h5(path):
    """``[(layer name, [arrays])]`` of a legacy Keras HDF5 weights file, in file order.

    The layout of the keras.applications files: attribute ``layer_names`` on the root,
    one group per layer with attribute ``weight_names`` naming its datasets.
    """
    import h5py

    def text(value):
        return value.decode("utf8") if isinstance(value, bytes) else str(value)

    entries = []
    with h5py.File(path, "r") as handle:
        if "layer_names" not in handle.attrs:
            raise WeightsMismatchError(
                f"{path}: not a Keras HDF5 weights file (no 'layer_names' attribute); "
                "expected the .h5 file Keras downloads for keras.applications"
            )
        for layer_name in handle.attrs["layer_names"]:
            group = handle[text(layer_name)]
            names = [text(n) for n in group.attrs.get("weight_names", [])]
            if names:
                entries.append((text(layer_name), [np.asarray(group[n]) for n in names]))
    return entries


def save_legacy_h5_weights(model, path):
    """Write ``model``'s weights in the legacy HDF5 layout of the keras.applications files.

    Only needed to make test files: Keras 3's ``save_weights`` writes the newer
    ``.weights.h5`` layout, while ``keras.applications`` constructors read this one.
    """
    import h5py

    with h5py.File(path, "w") as handle:
        handle.attrs["layer_names"] = [layer.name.encode("utf8") for layer in model.layers]
        handle.attrs["backend"] = keras.backend.backend().encode("utf8")
        handle.attrs["keras_version"] = keras.__version__.encode("utf8")
        for layer in model.layers:
            group = handle.create_group(layer.name)
            weights = _legacy_weights(layer)
            names = [f"{layer.name}/{w.name}_{i}" for i, w in enumerate(weights)]
            group.attrs["weight_names"] = [n.encode("utf8") for n in names]
            for name, weight in zip(names, weights):
                group.create_dataset(name, data=keras.ops.convert_to_numpy(weight))


def _check_shapes(path, layer_label, expected, found):
    expected_shapes = [tuple(w.shape) for w in expected]
    found_shapes = [tuple(a.shape) for a in found]
    if expected_shapes != found_shapes:
        raise WeightsMismatchError(
            f"{path}: layer {layer_label} expects weights of shapes {expected_shapes}, the file "
            f"has {found_shapes}. The file was saved from a different network (other "
            "channels, filters or kernel sizes)."
        )


def check_legacy_h5_fits(model, path):
    """Check a legacy ``.h5`` weights file against ``model`` layer by layer (by order).

    Keras loads these files by order: the i-th layer with weights gets the i-th saved
    layer. This check does the same pairing first, so a wrong file fails with a message
    naming the layer, instead of deep inside Keras.

    Raises:
        WeightsMismatchError: when the numbers of layers differ, or a layer's shapes do.
    """
    saved = _read_legacy_h5(path)
    wanted = [layer for layer in model.layers if _legacy_weights(layer)]
    if len(saved) != len(wanted):
        raise WeightsMismatchError(
            f"{path}: the model {model.name!r} has {len(wanted)} layers with weights, the "
            f"file {len(saved)}: it holds the weights of another network"
        )
    for layer, (saved_name, arrays) in zip(wanted, saved):
        _check_shapes(path, f"'{layer.name}' (saved as '{saved_name}')", _legacy_weights(layer), arrays)


def load_weights_by_name(model, path, names):
    """Copy the weights of the layers ``names`` from a Keras ``.weights.h5`` file.

    Unlike ``model.load_weights``, the file may hold more or fewer layers than the model
    (e.g. only the encoder's), and every problem names the layer.

    Raises:
        FileNotFoundError: if ``path`` does not exist.
        WeightsMismatchError: if a layer is not in the file or its shapes differ.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"weights file {path} does not exist")
    saved = read_keras_weights(path)
    for layer in get_layers(model, names):
        if layer.name not in saved:
            raise WeightsMismatchError(
                f"{path}: no weights for layer {layer.name!r}; the file has layers "
                f"{sorted(saved)}"
            )
        _check_shapes(path, repr(layer.name), layer.weights, saved[layer.name])
    for layer in get_layers(model, names):  # all checked first: nothing half loaded
        layer.set_weights(saved[layer.name])


# ----------------------------------------------------------------------------- page encoder
def page_encoder(page, prefix=""):
    """The patch CNN's encoder on a page tensor: conv1 - pool1 - conv2 - pool2 - conv3 - pool3.

    The layers have the names and shapes of ``models.build_patch_cnn`` (Conv(40, 3x3),
    Conv(40, 4x4), Conv(80, 4x4), ReLU, ``'same'``; 2x2 max pooling), so the pretrained
    weights fit. Returns ``(conv1, conv2, conv3, pool3)``: features at full, 1/2, 1/4 and
    1/8 resolution with 40, 40, 80 and 80 channels.
    """
    conv1 = layers.Conv2D(40, (3, 3), padding="same", activation="relu", name=f"{prefix}conv1")(page)
    pool1 = layers.MaxPooling2D(2, name=f"{prefix}pool1")(conv1)
    conv2 = layers.Conv2D(40, (4, 4), padding="same", activation="relu", name=f"{prefix}conv2")(pool1)
    pool2 = layers.MaxPooling2D(2, name=f"{prefix}pool2")(conv2)
    conv3 = layers.Conv2D(80, (4, 4), padding="same", activation="relu", name=f"{prefix}conv3")(pool2)
    pool3 = layers.MaxPooling2D(2, name=f"{prefix}pool3")(conv3)
    return conv1, conv2, conv3, pool3


def skip_decoder(deepest, skips, num_classes, filters=(32, 16, 16), bottleneck=32,
                 output="softmax"):
    """A small skip decoder: ``bottleneck`` 1x1 conv, then per skip (deepest first)
    "up-scale 2x (nearest), concatenate the skip, 3x3 conv (ReLU)", then the classifier.

    Args:
        deepest: the encoder's last feature map (batch, h/2**n, w/2**n, c).
        skips: encoder feature maps at 2x, 4x, ... the resolution of ``deepest`` (the
            deepest first), n of them; the last one at the resolution of the output.
        num_classes: number of classes, int >= 2.
        filters: filters of the 3x3 convolution after each skip (one per skip).
        bottleneck: filters of the 1x1 convolution on ``deepest``.
        output: ``"softmax"`` or ``"logits"``.

    Layer names: ``dec_bottleneck``, ``dec_up{k}``, ``dec_fuse{k}``, ``dec_conv{k}`` with
    k = n, ..., 1 (the level of the skip), ``logits`` (and ``softmax``).

    Returns:
        The output tensor (batch, H, W, num_classes) at the resolution of ``skips[-1]``.
    """
    if len(filters) != len(skips):
        raise ValueError(f"filters must have one entry per skip ({len(skips)}), got {filters!r}")
    x = layers.Conv2D(bottleneck, (1, 1), activation="relu", name="dec_bottleneck")(deepest)
    for level, (skip, width) in zip(range(len(skips), 0, -1), zip(skips, filters)):
        x = layers.UpSampling2D(2, name=f"dec_up{level}")(x)
        x = layers.Concatenate(name=f"dec_fuse{level}")([x, skip])
        x = layers.Conv2D(width, (3, 3), padding="same", activation="relu", name=f"dec_conv{level}")(x)
    return _classifier_head(x, num_classes, output)


def build_page_fcn(num_classes=4, num_channels=1, encoder_weights=None, freeze_encoder=False,
                   output="softmax", input_size=None, name=None):
    """An FCN with the patch CNN's encoder and a new skip decoder (``skip_decoder``).

    Encoder ``conv1``..``pool3`` (``page_encoder``), decoder ``dec_*`` with skips from
    ``conv3``, ``conv2`` and ``conv1``, classifier ``logits``. 130,732 parameters for
    one channel and four classes: 77,320 in the encoder, 53,412 in the decoder.

    Args:
        num_classes: number of classes, int >= 2.
        num_channels: input channels; the pretrained weights need 1 (binary pages).
        encoder_weights: None (random, "from scratch"), ``"pretrained"`` (the shipped
            ``PAGE_ENCODER_WEIGHTS``) or the path of a ``.weights.h5`` file with layers
            ``conv1``, ``conv2``, ``conv3`` (``course_utils.pretrain`` writes them).
        freeze_encoder: if True, ``conv1``-``conv3`` start frozen (``trainable=False``).
        output: ``"softmax"`` or ``"logits"``.
        input_size: None (any size) or a fixed ``(height, width)``, multiples of 8.
        name: model name; default ``"page_fcn_pretrained"`` or ``"page_fcn_scratch"``.

    Returns:
        An uncompiled ``keras.Model``: (batch, h, w, num_channels) with h, w multiples of
        8 -> (batch, h, w, num_classes).

    Raises:
        FileNotFoundError: if the weights file does not exist.
        WeightsMismatchError: if it does not fit (e.g. ``num_channels`` != 1 with the
            shipped weights): the message names the layer and both shapes.
    """
    _check_int("num_classes", num_classes, 2)
    _check_choice("output", output, ("softmax", "logits"))
    page = _page_input(num_channels, input_size, multiple=8)
    conv1, conv2, conv3, pool3 = page_encoder(page)
    scores = skip_decoder(pool3, [conv3, conv2, conv1], num_classes, output=output)
    default_name = "page_fcn_scratch" if encoder_weights is None else "page_fcn_pretrained"
    model = keras.Model(page, scores, name=name or default_name)
    if encoder_weights is not None:
        path = PAGE_ENCODER_WEIGHTS if encoder_weights == "pretrained" else Path(encoder_weights)
        if not path.is_file():
            hint = (" (run `python -m course_utils.pretrain` to make it)"
                    if path == PAGE_ENCODER_WEIGHTS else "")
            raise FileNotFoundError(f"encoder weights file {path} does not exist{hint}")
        load_weights_by_name(model, path, PAGE_ENCODER_LAYERS)
    if freeze_encoder:
        freeze(model, PAGE_ENCODER_LAYERS)
    return model


def train_for(model, dataset, learning_rate, seconds, loss=None):
    """Compile ``model`` (Adam, pixel-wise cross-entropy) and train it ``seconds`` on ``dataset``.

    One warm-up batch (tracing the training step) runs first, outside the budget, so that
    networks compared on "the same budget" get the same training time. Compile again
    after changing ``trainable``: this function does.

    Args:
        model: a Keras model ending in a softmax (or pass a ``loss`` for logits).
        dataset: a ``keras.utils.PyDataset`` of (pages, labels) batches, e.g.
            ``pipeline.SegmentationSequence``.
        learning_rate: Adam's learning rate.
        seconds: training budget in seconds (after the warm-up).
        loss: default ``losses.PixelwiseCrossEntropy()``.

    Returns:
        The ``training.TimeBudget`` callback (``batches``, ``elapsed_s``).
    """
    from course_utils import losses, training

    model.compile(optimizer=keras.optimizers.Adam(learning_rate),
                  loss=loss or losses.PixelwiseCrossEntropy(),
                  jit_compile=False)  # XLA compilation would take longer than short training
    model.fit(dataset, epochs=1, steps_per_epoch=1, verbose=0)  # warm-up
    budget = training.TimeBudget(seconds)
    model.fit(dataset, epochs=10_000, callbacks=[budget], verbose=0)
    return budget


def fine_tune_in_two_phases(model, dataset, seconds, encoder_layers=PAGE_ENCODER_LAYERS,
                            head_learning_rate=3e-3, fine_tune_learning_rate=1e-3,
                            head_fraction=0.5):
    """The transfer-learning recipe: train the new decoder on a frozen encoder, then
    unfreeze the encoder and fine-tune everything with a smaller learning rate.

    Phase 1 (``head_fraction * seconds``): ``encoder_layers`` frozen, rate
    ``head_learning_rate``. Phase 2 (the rest): all layers trainable, rate
    ``fine_tune_learning_rate``; the smaller rate keeps the large gradients of the
    still-poor decoder from wrecking the pretrained features.

    Returns:
        ``{"head": TimeBudget, "fine_tune": TimeBudget}``.
    """
    if not 0.0 < head_fraction < 1.0:
        raise ValueError(f"head_fraction must be in (0, 1), got {head_fraction!r}")
    freeze(model, encoder_layers)
    head = train_for(model, dataset, head_learning_rate, head_fraction * seconds)
    unfreeze(model, encoder_layers)
    tuned = train_for(model, dataset, fine_tune_learning_rate, (1.0 - head_fraction) * seconds)
    return {"head": head, "fine_tune": tuned}


# ----------------------------------------------------------------------------- keras.applications
def _backbone_spec(backbone):
    _check_choice("backbone", backbone, tuple(BACKBONES))
    return BACKBONES[backbone]


def imagenet_weights_filename(backbone, input_size=224):
    """The file name Keras uses for the ImageNet weights (no top) of ``backbone``.

    MobileNetV2 has one file per square input size in (96, 128, 160, 192, 224); Keras
    takes the 224 file for any other size. ResNet50 and VGG16 have one file.
    """
    spec = _backbone_spec(backbone)
    size = input_size if spec["sizes"] and input_size in spec["sizes"] else 224
    return spec["file"].format(size=size)


def imagenet_weights_path(backbone, input_size=224):
    """The local ImageNet weights file of ``backbone``, found in ``weights_search_dirs()``.

    Raises:
        WeightsNotFoundError: naming the file, the folders searched, and how to get it.
    """
    spec = _backbone_spec(backbone)
    filename = imagenet_weights_filename(backbone, input_size)
    folders = weights_search_dirs()
    for folder in folders:
        if (folder / filename).is_file():
            return folder / filename
    shape = f"({input_size}, {input_size}, 3)"
    raise WeightsNotFoundError(
        f"ImageNet weights for {spec['constructor']} are not on this machine: no file "
        f"{filename!r} in {', '.join(str(f) for f in folders)}.\n"
        f"To get it, on a machine with internet access run\n"
        f"    python -c \"import keras; keras.applications.{spec['constructor']}("
        f"weights='imagenet', include_top=False, input_shape={shape})\"\n"
        f"(Keras downloads it to ~/.keras/models/{filename}; or download "
        f"{spec['url']}{filename} directly), then copy the file into ~/.keras/models/ "
        f"here, or into a folder named by the environment variable SEGCOURSE_WEIGHTS.\n"
        f"To continue without pretraining, pass weights=None (random weights)."
    )


def build_backbone(backbone, input_size=(128, 128), weights="imagenet"):
    """A keras.applications backbone without its classifier, weights from a local file.

    Args:
        backbone: ``"mobilenet_v2"``, ``"resnet50"`` or ``"vgg16"``.
        input_size: ``(height, width)`` of its 3-channel input, multiples of 32.
        weights: ``"imagenet"`` (the official Keras file, searched with
            ``imagenet_weights_path``: never downloaded), the path of a weights file in
            the same (legacy HDF5) layout, or None for random weights.

    Returns:
        The ``keras.Model`` the constructor returns (``include_top=False``).

    Raises:
        WeightsNotFoundError: ``"imagenet"`` and the file is not on this machine.
        FileNotFoundError: a path that does not exist.
        WeightsMismatchError: the file does not fit (names the layer and the shapes).
    """
    spec = _backbone_spec(backbone)
    height, width = input_size
    if height % 32 or width % 32:
        raise ValueError(f"input_size must be multiples of 32 (the output stride), got {input_size}")
    constructor = getattr(keras.applications, spec["constructor"])
    path = None
    if weights == "imagenet":
        path = imagenet_weights_path(backbone, height if height == width else 224)
    elif weights is not None:
        path = Path(weights)
        if not path.is_file():
            raise FileNotFoundError(f"weights file {path} does not exist")
    # Build with random weights, check the file's shapes, then load: a wrong file fails
    # here with the layer's name instead of deep inside Keras.
    model = constructor(weights=None, include_top=False, input_shape=(height, width, 3))
    if path is not None:
        check_legacy_h5_fits(model, path)
        model.load_weights(str(path))
    return model


@keras.saving.register_keras_serializable(package="course_utils")
class BackbonePreprocessing(layers.Layer):
    """Pages in [0, 1] (1 or 3 channels) to what an ImageNet backbone expects.

    ``mode="tf"`` (MobileNetV2): scale to [-1, 1]. ``mode="caffe"`` (ResNet50, VGG16):
    0-255, RGB to BGR, minus the ImageNet channel means. One channel is repeated to three.
    Input (batch, h, w, 1 or 3) float; output (batch, h, w, 3) float32.
    """

    _CAFFE_MEAN_BGR = (103.939, 116.779, 123.68)

    def __init__(self, mode, **kwargs):
        super().__init__(**kwargs)
        _check_choice("mode", mode, ("tf", "caffe"))
        self.mode = mode

    def call(self, images):
        images = ops.cast(images, "float32")
        if images.shape[-1] == 1:
            images = ops.concatenate([images, images, images], axis=-1)
        if self.mode == "tf":
            return images * 2.0 - 1.0
        bgr = ops.flip(images * 255.0, axis=-1)
        return bgr - ops.reshape(ops.convert_to_tensor(self._CAFFE_MEAN_BGR, "float32"), (1, 1, 1, 3))

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], 3)

    def get_config(self):
        return {**super().get_config(), "mode": self.mode}


def build_backbone_fcn(backbone, num_classes, input_size=(128, 128), num_channels=1,
                       weights="imagenet", freeze_backbone=True, allow_random_weights=False,
                       output="softmax", decoder_filters=(128, 64, 32, 16)):
    """An FCN whose encoder is a keras.applications backbone (U-Net-like skip decoder).

    Pages (batch, h, w, num_channels) in [0, 1] go through ``BackbonePreprocessing``, the
    backbone (a nested model named ``"backbone"`` with the outputs of its layers at
    strides 2 to 32, ``BACKBONES[...]["skips"]``), then ``skip_decoder`` from stride 32
    back to 2, a last 2x up-scaling to the page size and the classifier.

    Args:
        backbone: ``"mobilenet_v2"``, ``"resnet50"`` or ``"vgg16"``.
        num_classes: number of classes, int >= 2.
        input_size: ``(height, width)``, multiples of 32.
        num_channels: 1 (pages; repeated to RGB) or 3.
        weights: ``"imagenet"`` (local file, see ``imagenet_weights_path``), a path, or
            None (random weights: no pretraining).
        freeze_backbone: start with the whole backbone frozen.
        allow_random_weights: with ``weights="imagenet"`` and no local file, fall back to
            random weights with a warning instead of raising. Off by default: a silent
            fallback would make "pretrained" results meaningless.
        output: ``"softmax"`` or ``"logits"``.
        decoder_filters: filters of the decoder's 3x3 convolutions at strides 16, 8, 4, 2.

    Returns:
        An uncompiled ``keras.Model`` (batch, h, w, num_channels) -> (batch, h, w,
        num_classes).

    Raises:
        WeightsNotFoundError: ImageNet weights asked for and not on this machine (unless
            ``allow_random_weights``).
    """
    _check_int("num_classes", num_classes, 2)
    _check_choice("num_channels", num_channels, (1, 3))
    spec = _backbone_spec(backbone)
    try:
        base = build_backbone(backbone, input_size, weights)
    except WeightsNotFoundError as error:
        if not (allow_random_weights and weights == "imagenet"):
            raise
        warnings.warn(f"{error}\nUsing random weights (allow_random_weights=True).", stacklevel=2)
        base = build_backbone(backbone, input_size, None)
    encoder = keras.Model(base.input, [base.get_layer(n).output for n in spec["skips"]],
                          name="backbone")
    encoder.trainable = not freeze_backbone
    page = keras.Input((*input_size, num_channels), name="page")
    features = BackbonePreprocessing(spec["preprocessing"], name="preprocessing")(page)
    # training=False: BatchNorm keeps its ImageNet statistics, also after unfreezing.
    stride2, stride4, stride8, stride16, stride32 = encoder(features, training=False)
    x = skip_decoder(stride32, [stride16, stride8, stride4, stride2], num_classes,
                     filters=decoder_filters, bottleneck=decoder_filters[0], output="logits")
    x = layers.UpSampling2D(2, interpolation="bilinear", name="dec_up0")(x)
    if output == "softmax":
        x = layers.Activation("softmax", name="softmax")(x)
    return keras.Model(page, x, name=f"fcn_{backbone}")
