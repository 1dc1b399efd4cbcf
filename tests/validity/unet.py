"""Validity variants of ``unet``: correct answers written differently, common wrong
answers, the students of its real sandboxed batch and its "library-answers" student
(what each field means: tests/validity/variant.py)."""

from __future__ import annotations

from tests.validity.variant import Variant

VARIANTS = [
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
            {"test_bottleneck_size_visible": "raised ValueError",
             "test_bottleneck_size_hidden": "unet_bottleneck_size"},
            edits=[("multiple = 2**depth", "multiple = 2 * depth")]),
    Variant("unet-bottleneck-float-division", "bottleneck_size",
            {"test_bottleneck_size_visible": "should return a tuple of two ints",
             "test_bottleneck_size_hidden": "should return a tuple of two ints"},
            edits=[("return int(height // multiple), int(width // multiple)",
                    "return height / multiple, width / multiple")]),
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
                    '    inputs_of_block = x\n'
                    '    x = layers.Conv2D(filters, (3, 3), padding="same", activation="relu")(x)')],
            also_fails={"test_unet_architecture_visible", "test_unet_architecture_hidden"}),
    Variant("unet-double-conv-second-without-relu", "double_conv",
            {"test_double_conv_visible": "cannot be negative|relu", "test_double_conv_hidden": "ReLU"},
            edits=[('    return layers.Conv2D(filters, (3, 3), padding="same", activation="relu")(x)',
                    '    return layers.Conv2D(filters, (3, 3), padding="same")(x)')],
            also_fails={"test_unet_architecture_hidden"}),
    Variant("unet-same-transposed-and-concatenate-function", "build_unet",
            edits=[("layers.Conv2DTranspose(filters, (2, 2), strides=2)(features)",
                    "layers.Conv2DTranspose(filters, 2, strides=(2, 2), padding=\"same\")(features)"),
                   ("layers.Concatenate(axis=-1)([features, skips[level]])",
                    "layers.concatenate([features, skips[level]])")]),
    Variant("unet-concatenation-reversed", "build_unet", {"test_unet_architecture_visible": "skip inputs swapped",
                                                         "test_unet_architecture_hidden": "up-sampled tensor first"},
            edits=[("layers.Concatenate(axis=-1)([features, skips[level]])",
                    "layers.Concatenate(axis=-1)([skips[level], features])")]),
    Variant("unet-transposed-3x3", "build_unet", {"test_unet_architecture_visible": "expected 29348 parameters",
                                                 "test_unet_architecture_hidden": "differs from the formula"},
            edits=[("layers.Conv2DTranspose(filters, (2, 2), strides=2)(features)",
                    "layers.Conv2DTranspose(filters, (3, 3), strides=2, padding=\"same\")(features)")]),
    Variant("unet-upsampling-instead-of-transposed", "build_unet",
            {"test_unet_architecture_visible": "transposed convolutions",
             "test_unet_architecture_hidden": "parameters"},
            edits=[("layers.Conv2DTranspose(filters, (2, 2), strides=2)(features)",
                    "layers.UpSampling2D(2)(features)")]),
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
    # The logits/probabilities confusion, both ways: the softmax output's loss taken as if it
    # were raw scores (it still segments well, so only the compiled loss shows it), and raw
    # scores trained with the probabilities' loss.
    Variant("unet-train-from-logits-on-softmax", "train_unet",
            {"test_train_unet_visible": "from_logits=True on a softmax output",
             "test_train_unet_hidden": "from_logits=True on a softmax output"},
            edits=[('loss="sparse_categorical_crossentropy"',
                    "loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True)")]),
    Variant("unet-train-logits-without-from-logits", "train_unet",
            {"test_train_unet_visible": "does not output probabilities",
             "test_train_unet_hidden": "does not output probabilities"}, code='''
def train_unet(images, labels, num_classes, seconds):
    unet = build_unet(num_classes, depth=2, base_filters=8, num_channels=images.shape[-1])
    scores = layers.Conv2D(num_classes, (1, 1))(unet.layers[-2].output)     # a new head without softmax: logits
    model = keras.Model(unet.input, scores)
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=3e-3), loss="sparse_categorical_crossentropy")
    fit_for(model, images, labels, seconds=seconds, batch_size=4)
    return model
'''),
    Variant("unet-train-softmax-twice", "train_unet", {"test_train_unet_hidden": "softmax applied twice"},
            edits=[("    return model\n",
                    "    return keras.Model(model.input, layers.Activation(\"softmax\")(model.output))\n")]),
]


# Students of the real sandboxed batch (variants of different cells, see variant.py).
BATCH_STUDENTS = {   # every notebook trains the U-Net for TRAIN_SECONDS (20 s under autograding)
    "alt-correct": ["unet-bottleneck-shifts", "unet-double-conv-loop", "unet-same-transposed-and-concatenate-function",
                    "unet-train-loss-object"],
    "wrong": ["unet-bottleneck-float-division", "unet-concatenation-reversed", "unet-train-softmax-twice"],
}


# Every solution cell answered through the course library (the "library-answers" student).
LIBRARY_ANSWERS = {
    "bottleneck_size": "from course_utils.selfcheck.unet import _unet_bottleneck_reference as unet_bottleneck_size\n",
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
}

