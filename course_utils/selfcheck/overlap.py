"""Self-checks of the overlap metrics of binary masks and label maps: Dice, IoU, mean IoU.

Assignments ``fcn_basics`` and ``losses_metrics``.
"""

import numpy as np

from course_utils import metrics

from .engine import (
    _Case,
    _Check,
    _is_python_float,
    _matches,
    _Mistake,
    _Raised,
    _run,
    _run_check,
    _same,
    _values_right,
    _variant_check,
)

__all__ = ["check_dice", "check_iou", "check_mean_iou"]


_MASK_A = np.array([[1, 1, 0], [0, 1, 0], [0, 0, 0]])
_MASK_B = np.array([[1, 0, 0], [0, 1, 1], [0, 0, 0]])


def _random_masks(seed, shape, dtype):
    rng = np.random.default_rng(seed)
    return ((rng.random(shape) < 0.4).astype(dtype), (rng.random(shape) < 0.5).astype(dtype))


def _mask_cases(example_is_public):
    """Masks for Dice and IoU; the 3x3 example's value is shown in the Dice notebook only."""
    empty = np.zeros((4, 4), dtype=np.uint8)
    example = "the notebook's 3x3 example" if example_is_public else "the 3x3 example"
    return [
        _Case(f"{example} (|A| = 3, |B| = 3, |A and B| = 2)", (_MASK_A, _MASK_B),
              public=example_is_public),
        _Case("a mask compared with itself", (_MASK_A, _MASK_A), public=True),
        _Case("disjoint masks", (_MASK_A, 1 - _MASK_A), public=True),
        _Case("random bool masks of shape (5, 7)", _random_masks(1, (5, 7), bool)),
        _Case("random uint8 masks of shape (2, 6, 6) (a batch)", _random_masks(2, (2, 6, 6), np.uint8)),
        _Case("random float32 masks of shape (9,)", _random_masks(3, (9,), np.float32)),
        _Case("an empty ground truth and a full prediction", (empty, np.ones((4, 4), np.uint8))),
        _Case("two empty masks (nothing to find, nothing predicted)", (empty, empty)),
    ]


def _counts(y_true, y_pred):
    t, p = np.asarray(y_true).astype(bool), np.asarray(y_pred).astype(bool)
    return int((t & p).sum()), int(t.sum()), int(p.sum()), int((t | p).sum())


def _overlap_variant(formula, empty_value=1.0):
    def variant(y_true, y_pred):
        intersection, true_size, pred_size, union = _counts(y_true, y_pred)
        if union == 0:
            return empty_value
        return float(formula(intersection, true_size, pred_size, union))

    return variant


def _empty_case_output(cases, outputs):
    return outputs[[c.description.startswith("two empty") for c in cases].index(True)]


def _others_right(reference):
    """Detector helper: every non-empty case right."""

    def right(cases, outputs, expected):
        return all(_same(o, _run(reference, c)) for c, o in zip(cases, outputs)
                   if not c.description.startswith("two empty"))

    return right


def _empty_mistakes(score_name, reference):
    others_right = _others_right(reference)

    def nan_or_error(cases, outputs, expected):
        output = _empty_case_output(cases, outputs)
        is_nan = not isinstance(output, _Raised) and _same(output, float("nan"))
        return (isinstance(output, _Raised) or is_nan) and others_right(cases, outputs, expected)

    def zero(cases, outputs, expected):
        return _same(_empty_case_output(cases, outputs), 0.0) and others_right(cases, outputs, expected)

    return [
        _Mistake("nan_for_empty", "two empty masks give nan or an error (0 / 0)", (
            "What does your function do when both masks are empty?",
            f"Then |A| + |B| = 0 and the formula divides 0 by 0. The exercise text says which "
            f"{score_name} to return in that case.",
            "Check the denominator before dividing and return the documented value for two "
            "empty masks (nothing to find and nothing found is a perfect prediction).",
        ), nan_or_error),
        _Mistake("zero_for_empty", "two empty masks give 0", (
            "Read the convention for two empty masks in the exercise text again.",
            "Predicting nothing where there is nothing is a perfect prediction.",
        ), zero),
    ]


def _dice_reference(y_true, y_pred):
    return metrics.dice_coefficient(np.asarray(y_true).astype(bool), np.asarray(y_pred).astype(bool))


def _iou_reference(y_true, y_pred):
    return metrics.iou_score(np.asarray(y_true).astype(bool), np.asarray(y_pred).astype(bool))


def _float_masks_fail(cases, outputs, expected):
    # `a & b` is not defined for float arrays: only the float32 case raises.
    return any(isinstance(o, _Raised) and "float32" in c.description
               for c, o in zip(cases, outputs))


_FLOAT_MASK_HINTS = (
    "Your function fails for float masks (values 0.0 and 1.0).",
    "`&` (bitwise and) is not defined for floats: convert first, e.g. "
    "`np.asarray(y_true).astype(bool)`, or use np.logical_and.",
)

_DICE_CHECK = _Check(
    "dice_coefficient", _mask_cases(example_is_public=True), _dice_reference,
    mistakes=[
        *_empty_mistakes("Dice", _dice_reference),
        _Mistake("float_masks", "float masks make your function fail", _FLOAT_MASK_HINTS,
                 _float_masks_fail),
        _Mistake("iou_instead_of_dice", "you compute the IoU (|A and B| / |A or B|), not Dice", (
            "Compare your formula with the Dice formula of the exercise: numerator and denominator.",
            "Dice divides by |A| + |B| (the union counts the overlap only once, so it is "
            "IoU's denominator).",
            "Dice = 2 |A and B| / (|A| + |B|).",
        ), _matches(_overlap_variant(lambda i, a, b, u: i / u))),
        _Mistake("missing_factor_two", "the factor 2 in the numerator is missing", (
            "A mask compared with itself must give 1: does yours?",
            "|A| + |B| counts the overlap twice, so the numerator needs 2 |A and B|.",
        ), _matches(_overlap_variant(lambda i, a, b, u: i / (a + b)))),
        _Mistake("union_denominator", "the denominator is the union instead of |A| + |B|", (
            "Your value can exceed 1: check the denominator.",
            "Dice = 2 |A and B| / (|A| + |B|): the sizes of both masks, added.",
        ), _matches(_overlap_variant(lambda i, a, b, u: 2 * i / u))),
        _Mistake("smoothing", "a smoothing constant is added", (
            "The Dice coefficient of binary masks is exact: no smoothing term.",
            "Smoothing (+1) belongs to the soft Dice *loss*; here handle the empty case "
            "explicitly instead.",
        ), _matches(_overlap_variant(lambda i, a, b, u: (2 * i + 1) / (a + b + 1)))),
        _Mistake("loss_not_score", "you return 1 - Dice (a loss), not the coefficient", (
            "A perfect prediction must give 1, not 0.",
            "Return the coefficient 2 |A and B| / (|A| + |B|) itself.",
        ), _matches(_overlap_variant(lambda i, a, b, u: 1 - 2 * i / (a + b), empty_value=0.0))),
        _Mistake("pixel_accuracy", "you compute the fraction of equal pixels (pixel accuracy)", (
            "Dice ignores the pixels that are background in both masks.",
            "Count the overlap |A and B| and the mask sizes |A|, |B|, not equal pixels.",
        ), _matches(lambda t, p: float(np.mean(np.asarray(t).astype(bool) == np.asarray(p).astype(bool))))),
        _Mistake("not_python_float", "the values are right but the type is not a Python float", (
            "The visible test wants a Python float: wrap your result in float(...).",
        ), _values_right()),
    ],
    generic_hints=(
        "Check your counts on the 3x3 example by hand: |A|, |B| and |A and B|.",
        "Convert both masks to bool first, then Dice = 2 |A and B| / (|A| + |B|), with the "
        "documented value for two empty masks.",
    ),
    output_ok=_is_python_float,
)


def check_dice(dice_coefficient, assignment=None, quiet=False):
    """Check ``dice_coefficient(y_true, y_pred)`` on binary masks of several shapes and dtypes.

    Diagnoses: nan/errors or 0 for two empty masks, failure on float masks, IoU instead
    of Dice, a missing factor 2, the union as denominator, smoothing, 1 - Dice, pixel
    accuracy, a result that is not a Python float.
    """
    return _run_check(_DICE_CHECK, dice_coefficient, assignment, quiet)


_IOU_CHECK = _Check(
    "iou_score", _mask_cases(example_is_public=False), _iou_reference,
    mistakes=[
        *_empty_mistakes("IoU", _iou_reference),
        _Mistake("float_masks", "float masks make your function fail", _FLOAT_MASK_HINTS,
                 _float_masks_fail),
        _Mistake("dice_instead_of_iou", "you compute Dice, not the IoU", (
            "IoU is never larger than Dice; compare the two formulas of the lecture.",
            "IoU = |A and B| / |A or B|: no factor 2, and the union as denominator.",
        ), _matches(_overlap_variant(lambda i, a, b, u: 2 * i / (a + b)))),
        _Mistake("sum_denominator", "the denominator is |A| + |B| instead of the union", (
            "A mask compared with itself must give 1: does yours?",
            "|A| + |B| counts the overlap twice: the union is |A| + |B| - |A and B|.",
        ), _matches(_overlap_variant(lambda i, a, b, u: i / (a + b)))),
        _Mistake("smoothing", "a smoothing constant is added", (
            "The IoU of binary masks is exact: no smoothing term; handle the empty case "
            "explicitly instead.",
        ), _matches(_overlap_variant(lambda i, a, b, u: (i + 1) / (u + 1)))),
        _Mistake("not_python_float", "the values are right but the type is not a Python float", (
            "Return a Python float: wrap your result in float(...).",
        ), _values_right()),
    ],
    generic_hints=(
        "Check your counts on the 3x3 example by hand: |A and B| and |A or B|.",
        "IoU = |A and B| / |A or B| = TP / (TP + FP + FN), with the documented value for two "
        "empty masks.",
    ),
    output_ok=_is_python_float,
)


def check_iou(iou_score, assignment=None, quiet=False):
    """Check ``iou_score(y_true, y_pred)`` on binary masks of several shapes and dtypes.

    Diagnoses: nan/errors or 0 for two empty masks, failure on float masks, Dice instead
    of IoU, |A| + |B| as denominator, smoothing, a result that is not a Python float.
    """
    return _run_check(_IOU_CHECK, iou_score, assignment, quiet)


# --- Assignment "losses_metrics": mean IoU and class weights -------------------------------------


def _mean_iou_reference(y_true, y_pred, num_classes, ignore_label=None):
    return metrics.mean_iou(np.asarray(y_true), np.asarray(y_pred), num_classes, ignore_label=ignore_label)


def _mean_iou_variant(count_ignored=False, absent_as_zero=False, drop_only_predicted=False):
    def variant(y_true, y_pred, num_classes, ignore_label=None):
        t, p = np.asarray(y_true).ravel(), np.asarray(y_pred).ravel()
        if ignore_label is not None and not count_ignored:
            t, p = t[t != ignore_label], p[t != ignore_label]
        scores = []
        for c in range(num_classes):
            union = np.count_nonzero((t == c) | (p == c))
            if drop_only_predicted and not np.any(t == c):
                continue
            if union:
                scores.append(np.count_nonzero((t == c) & (p == c)) / union)
            elif absent_as_zero:
                scores.append(0.0)
        return float(np.mean(scores)) if scores else float("nan")

    return variant


def _mean_iou_cases():
    rng = np.random.default_rng(17)
    t = np.array([[0, 0, 1], [0, 1, 1], [2, 2, 255]])
    p = np.array([[0, 1, 1], [0, 1, 1], [2, 0, 1]])
    random_t = rng.choice([0, 1, 3], size=(2, 6, 7))
    random_p = np.where(rng.random((2, 6, 7)) < 0.6, random_t, rng.integers(0, 4, size=(2, 6, 7)))
    return [
        _Case("the notebook's 3x3 maps, ignore_label=255", (t, p, 4, 255), public=True),
        _Case("random maps, class 2 absent from the truth", (random_t, random_p, 5)),
        _Case("random maps with ignored pixels", (np.where(rng.random((2, 6, 7)) < 0.2, 9, random_t),
                                                  random_p, 4, 9)),
        _Case("a class that is only predicted", (np.zeros((2, 2), int), np.array([[0, 1], [0, 0]]), 3)),
        _Case("every pixel ignored", (np.full((2, 2), 255), np.zeros((2, 2), int), 4, 255)),
    ]


_MEAN_IOU_CHECK = _variant_check(
    "mean_iou", _mean_iou_cases(), _mean_iou_reference,
    [("ignore_counted", "the ignored pixels are counted", (
        "Drop the pixels whose true label is ignore_label from both maps first.",
        "keep = y_true != ignore_label; y_true, y_pred = y_true[keep], y_pred[keep].",
    ), _mean_iou_variant(count_ignored=True)),
     ("absent_as_zero", "classes absent from both maps count as 0", (
         "A class that is neither true nor predicted anywhere has no IoU: leave it out of the mean.",
     ), _mean_iou_variant(absent_as_zero=True)),
     ("only_predicted_dropped", "classes absent from the truth are left out even when predicted", (
         "A class that is predicted but not there is a mistake: its IoU is 0 and counts.",
         "Leave a class out only when its union is empty.",
     ), _mean_iou_variant(drop_only_predicted=True))],
    ("Per class c: |true == c and pred == c| / |true == c or pred == c|; the mean over the "
     "classes with a non-empty union; nan if none is left.",),
    output_ok=_is_python_float)


def check_mean_iou(mean_iou, assignment=None, quiet=False):
    """Check ``mean_iou(y_true, y_pred, num_classes, ignore_label=None)``.

    Diagnoses: ignored pixels counted, absent classes counted as 0, predicted-only classes
    left out, a result that is not a Python float.
    """
    return _run_check(_MEAN_IOU_CHECK, mean_iou, assignment, quiet)
