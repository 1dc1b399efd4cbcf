"""Validity variants of ``losses_metrics``: correct answers written differently, common wrong
answers, the students of its real sandboxed batch and its "library-answers" student
(what each field means: tests/validity/variant.py)."""

from __future__ import annotations

from tests.validity.variant import Variant

VARIANTS = [
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
            edits=[("return float(np.count_nonzero(a & b) / union)",
                    "return np.int64(np.count_nonzero(a & b)) // union")]),
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
    Variant("lm-weighted-ce-sum-over-pixels", "weighted_ce",
            {"test_weighted_ce_visible": "expected", "test_weighted_ce_hidden": "weighted_crossentropy is wrong"},
            edits=[("return ops.mean(pixel_losses, axis=(1, 2))", "return ops.sum(pixel_losses, axis=(1, 2))")]),
]


# Students of the real sandboxed batch (variants of different cells, see variant.py).
BATCH_STUDENTS = {
    "alt-correct": ["lm-dice-sums-of-products", "lm-iou-via-sizes", "lm-mean-iou-confusion-matrix",
                    "lm-soft-dice-per-class-losses", "lm-class-weights-sorted-median",
                    "lm-weighted-ce-take-along-axis"],
    "wrong-a": ["lm-dice-iou-formula", "lm-iou-sum-denominator", "lm-mean-iou-ignore-counted", "lm-soft-dice-numpy",
                "lm-class-weights-inverted", "lm-weighted-ce-no-clip"],
    "wrong-b": ["lm-dice-nan-for-empty", "lm-iou-returns-numpy-scalar-int-division", "lm-mean-iou-absent-as-zero",
                "lm-soft-dice-no-squares", "lm-class-weights-median-with-zeros", "lm-weighted-ce-sum-over-pixels"],
}


# Every solution cell answered through the course library (the "library-answers" student).
LIBRARY_ANSWERS = {
    "dice": "from course_utils.metrics import dice_coefficient\n",
    "iou": "from course_utils.metrics import iou_score\n",
    "mean_iou": "from course_utils.metrics import mean_iou\n",
    "soft_dice": "from course_utils.losses import soft_dice_loss\n",
    "class_weights": ("from course_utils.selfcheck.losses import _class_weights_reference"
                      " as class_weights_from_frequencies\n"),
    "weighted_ce": '''
def weighted_crossentropy(y_true, y_pred, class_weights):
    from course_utils.losses import pixelwise_crossentropy
    return pixelwise_crossentropy(y_true, y_pred, class_weights=class_weights)
''',
}

