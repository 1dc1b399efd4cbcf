"""Validity variants of ``fcn_basics``: correct answers written differently, common wrong
answers, the students of its real sandboxed batch and its "library-answers" student
(what each field means: tests/validity/variant.py)."""

from __future__ import annotations

from autograder import demo_class
from tests.validity.variant import Variant

VARIANTS = [
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
    # The wrong answers the demo class shares: autograder/demo_class.py.
    Variant("dice-without-empty-convention", "dice",
            {"test_dice_hidden": "Two empty masks should give Dice 1.0|dice_coefficient is wrong"},
            code=demo_class.DICE_WITHOUT_EMPTY_CONVENTION),
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
            code=demo_class.SOFT_DICE_WITHOUT_SQUARES),
    Variant("soft-dice-scalar", "soft_dice", {"test_soft_dice_visible": "one value per image",
                                             "test_soft_dice_hidden": "one value per image"},
            edits=[("return ops.mean(1.0 - dice_per_class, axis=-1)", "return ops.mean(1.0 - dice_per_class)")]),
    Variant("soft-dice-wrong-axes", "soft_dice", {"test_soft_dice_visible": "one value per image",
                                                 "test_soft_dice_hidden": "one value per image"},
            edits=[("pixel_axes = (1, 2)", "pixel_axes = (0, 1, 2)")]),
    Variant("soft-dice-softmax-twice", "soft_dice",
            {"test_soft_dice_visible": "A perfect prediction should give a loss of 0",
             "test_soft_dice_hidden": "differs from the formula"},
            edits=[('y_pred = ops.cast(y_pred, "float32")',
                    'y_pred = ops.softmax(ops.cast(y_pred, "float32"), axis=-1)')]),
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
            code=demo_class.FCN_UPSCALING_4X),
    Variant("fcn-without-softmax", "fcn_model", {"test_fcn_visible": "sum to 1 (softmax)",
                                                "test_fcn_hidden": "differ from the slide's network"},
            edits=[('        layers.Activation("softmax"),\n', "")]),
]


# Known disagreement with an existing reference (reported, not ours to change):
# fcn_basics' Dice check demands exactly ``builtins.float``; the notebook accepts any float
# (``isinstance(got, float)``), numpy.float64 included.
NUMPY_FLOAT_DICE = Variant("dice-returns-numpy-float64", "dice", code='''
def dice_coefficient(y_true, y_pred):
    t, p = np.asarray(y_true).astype(bool), np.asarray(y_pred).astype(bool)
    total = t.sum() + p.sum()
    return 1.0 if total == 0 else 2.0 * np.logical_and(t, p).sum() / total
''')


# Students of the real sandboxed batch (variants of different cells, see variant.py).
BATCH_STUDENTS = {
    "alt-correct": ["same-as-ceil-formula", "dice-count-nonzero", "soft-dice-numpy", "fcn-functional"],
    "wrong-a": ["transpose-off-by-one", "dice-without-empty-convention", "soft-dice-without-squares",
                "fcn-upscaling-4x"],
    "wrong-b": ["same-floor-division", "dice-iou-denominator", "soft-dice-softmax-twice", "fcn-without-softmax"],
}


# Every solution cell answered through the course library (the "library-answers" student).
LIBRARY_ANSWERS = {
    "dimensions": '''
from course_utils.shapes import conv_output_size, conv_transpose_output_size
from course_utils.selfcheck.sizes import _fcn_shapes_reference as fcn_upscaling_shapes
''',
    "dice": "from course_utils.metrics import dice_coefficient\n",
    "soft_dice": '''
from course_utils import losses

def soft_dice_loss(y_true, y_pred, smooth=1.0):
    return losses.soft_dice_loss(y_true, y_pred, smooth)
''',
    "fcn_model": "from course_utils.models import build_fcn_upscaling\n",
}

