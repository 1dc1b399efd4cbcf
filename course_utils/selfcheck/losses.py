"""Self-checks of the losses: the soft Dice loss, the weighted cross-entropy, and the class
weights of median frequency balancing.

Assignments ``fcn_basics`` and ``losses_metrics``.
"""

import sys

import numpy as np

from .engine import (
    _Case,
    _Check,
    _matches,
    _Mistake,
    _Raised,
    _run_check,
    _to_numpy,
    _values_right,
    _variant_check,
)

__all__ = ["check_soft_dice", "check_weighted_crossentropy", "check_class_weights"]


def _softmax(logits, axis=-1):
    shifted = np.exp(logits - np.max(logits, axis=axis, keepdims=True))
    return shifted / shifted.sum(axis=axis, keepdims=True)


def _soft_dice_numpy(y_true, y_pred, smooth=1.0, axes=(1, 2), squares=True,
                     smooth_in_numerator=True, reduce_axis=-1, mean_over_pixels=False):
    """The soft Dice loss in NumPy, with switches that reproduce common mistakes."""
    t, p = np.asarray(y_true, np.float64), np.asarray(y_pred, np.float64)
    total = np.mean if mean_over_pixels else np.sum
    intersection = total(t * p, axis=axes)
    denominator = (total(t ** 2, axis=axes) + total(p ** 2, axis=axes) if squares
                   else total(t, axis=axes) + total(p, axis=axes))
    numerator = 2 * intersection + (smooth if smooth_in_numerator else 0.0)
    loss = 1.0 - numerator / (denominator + smooth)
    return loss if reduce_axis is None else np.mean(loss, axis=reduce_axis)


def _soft_dice_cases():
    labels = np.array([[[0, 1], [2, 1]], [[2, 2], [0, 0]]])
    one_hot = np.eye(3, dtype="float32")[labels]
    rng = np.random.default_rng(5)
    random_labels = rng.integers(0, 4, size=(3, 5, 6))
    random_one_hot = np.eye(4, dtype="float32")[random_labels]
    random_probabilities = _softmax(rng.normal(size=(3, 5, 6, 4)) * 2).astype("float32")
    empty_class = np.zeros((2, 4, 4, 2), dtype="float32")
    empty_class[..., 0] = 1.0  # class 1 is absent from target and prediction
    return [
        _Case("the notebook's perfect prediction (2 images, 3 classes)", (one_hot, one_hot), public=True),
        _Case("random probabilities, 3 images of 5x6 pixels, 4 classes",
              (random_one_hot, random_probabilities)),
        _Case("the same with smooth=0.001",
              (random_one_hot, random_probabilities), {"smooth": 1e-3}),
        _Case("a class absent from target and prediction", (empty_class, empty_class)),
        _Case("the notebook's uniform prediction (every class 1/3)",
              (one_hot, np.full_like(one_hot, 1 / 3))),
    ]


def _shape_is(shape_of_case):
    def detect(cases, outputs, expected):
        return any(not isinstance(o, _Raised) and _to_numpy(o).shape == shape_of_case(c)
                   and _to_numpy(o).shape != (c.args[0].shape[0],)
                   for c, o in zip(cases, outputs))

    return detect


def _nan_where_class_absent(cases, outputs, expected):
    for case, output in zip(cases, outputs):
        if case.description.startswith("a class absent") and not isinstance(output, _Raised):
            return bool(np.any(np.isnan(_to_numpy(output))))
    return False


_SOFT_DICE_CHECK = _Check(
    "soft_dice_loss", _soft_dice_cases(), _soft_dice_numpy,
    mistakes=[
        _Mistake("scalar_not_per_image", "one number for the whole batch instead of one per image", (
            "The loss must have shape (batch,): one value per image.",
            "Average over the classes only (the last axis); leave the batch axis alone, Keras "
            "averages over the batch itself.",
        ), _shape_is(lambda case: ())),
        _Mistake("mean_over_batch", "you average over the batch axis instead of the classes", (
            "Your result has one value per class, not one per image.",
            "The sums run over the pixel axes (1, 2); the final mean over the class axis (-1).",
        ), _shape_is(lambda case: (case.args[0].shape[-1],))),
        _Mistake("missing_smoothing", "no smoothing: an absent class gives 0 / 0 = nan", (
            "Look at an image where a class is absent from both target and prediction.",
            "Then all three sums are 0 for that class. The smoothing constant belongs in the "
            "numerator *and* the denominator.",
        ), _nan_where_class_absent),
        _Mistake("smooth_only_in_denominator", "smooth is added to the denominator only", (
            "For a class absent from target and prediction the loss should be 0: is it?",
            "(2 * intersection + smooth) / (denominator + smooth): smooth on both sides.",
        ), _matches(lambda t, p, smooth=1.0: _soft_dice_numpy(t, p, smooth, smooth_in_numerator=False),
                    rtol=1e-4, atol=1e-5)),
        _Mistake("smooth_argument_ignored", "the smooth argument is ignored", (
            "Your result does not change when smooth changes.",
            "Use the parameter `smooth`, not a fixed 1.0, in the formula.",
        ), _matches(lambda t, p, smooth=1.0: _soft_dice_numpy(t, p, 1.0), rtol=1e-4, atol=1e-5)),
        _Mistake("one_dice_over_all_classes", "one Dice over pixels and classes together", (
            "The Dice is computed for each class separately, then averaged.",
            "Sum over the pixel axes (1, 2) only; then average the per-class losses over axis -1.",
        ), _matches(lambda t, p, smooth=1.0: _soft_dice_numpy(t, p, smooth, axes=(1, 2, 3),
                                                              reduce_axis=None),
                    rtol=1e-4, atol=1e-5)),
        _Mistake("no_squares", "the denominator sums y_true and y_pred, not their squares", (
            "Compare the denominator with the lecture's formula.",
            "The lecture's soft Dice squares both: sum(y_true ** 2) + sum(y_pred ** 2).",
        ), _matches(lambda t, p, smooth=1.0: _soft_dice_numpy(t, p, smooth, squares=False),
                    rtol=1e-4, atol=1e-5)),
        _Mistake("softmax_applied_twice", "a softmax applied to probabilities (twice)", (
            "y_pred already holds probabilities (the model ends in a softmax).",
            "Remove the softmax inside the loss: applying it again flattens the probabilities.",
        ), _matches(lambda t, p, smooth=1.0: _soft_dice_numpy(t, _softmax(np.asarray(p, np.float64)), smooth),
                    rtol=1e-4, atol=1e-5)),
        _Mistake("mean_over_pixels", "the pixel sums are means", (
            "The formula sums over the pixels; a mean changes how much `smooth` weighs.",
            "Use ops.sum over axes (1, 2), not ops.mean.",
        ), _matches(lambda t, p, smooth=1.0: _soft_dice_numpy(t, p, smooth, mean_over_pixels=True),
                    rtol=1e-4, atol=1e-5)),
        _Mistake("dice_not_loss", "you return the soft Dice coefficient, not 1 - coefficient", (
            "A perfect prediction must give a loss of 0.",
            "loss = 1 - (2 * intersection + smooth) / (denominator + smooth).",
        ), _matches(lambda t, p, smooth=1.0: 1 - _soft_dice_numpy(t, p, smooth),
                    rtol=1e-4, atol=1e-5)),
    ],
    generic_hints=(
        "Write the three sums (intersection, sum of squared targets, sum of squared "
        "predictions) for every image and class, with shape (batch, classes).",
        "Sum over the pixel axes (1, 2), compute 1 - (2 I + s) / (T + P + s) per class, then "
        "average over the class axis (-1).",
    ),
    rtol=1e-4, atol=1e-5,  # float32 computations
)


def _is_tensor(value):
    """A backend tensor (what keras.ops returns), not a NumPy array or a Python number."""
    if isinstance(value, (np.ndarray, np.generic, int, float, list, tuple, _Raised)):
        return False
    keras = sys.modules.get("keras")
    return bool(keras.ops.is_tensor(value)) if keras is not None else hasattr(value, "shape")


def _requiring_tensor(check):
    """``check`` whose outputs must also be tensors (losses written with keras.ops)."""
    not_a_tensor = _Mistake("not_a_tensor", "the values are right but the result is not a tensor", (
        "The loss must train a Keras model: write it with keras.ops (ops.sum, ops.log, ...), "
        "not NumPy, so that it returns a tensor.",
        "Replace np.* by ops.* and do not convert to NumPy (no np.asarray, no .numpy()).",
    ), _values_right(check.rtol, check.atol))
    return _Check(check.name, check.cases, check.reference, [not_a_tensor, *check.mistakes],
                  check.generic_hints, output_ok=_is_tensor, rtol=check.rtol, atol=check.atol)


def check_soft_dice(soft_dice_loss, assignment=None, quiet=False, require_tensor=False):
    """Check ``soft_dice_loss(y_true, y_pred, smooth=1.0)`` (one value per image).

    Diagnoses: a scalar instead of per-image values, a mean over the batch instead of
    the classes, missing smoothing (nan), smooth only in the denominator or ignored, one
    Dice over all classes, no squares in the denominator, a softmax applied twice, means
    instead of sums, the coefficient instead of the loss.
    """
    check = _requiring_tensor(_SOFT_DICE_CHECK) if require_tensor else _SOFT_DICE_CHECK
    return _run_check(check, soft_dice_loss, assignment, quiet)


# --- Weighted cross-entropy -----------------------------------------------------------------

_PROBABILITY_FLOOR = 1e-7  # Keras clips probabilities to [1e-7, 1 - 1e-7] before the log


def _weighted_ce_numpy(y_true, y_pred, class_weights, normalize=False, reduce="mean",
                       weights_ignored=False, sign=1.0):
    """Per-image mean over pixels of ``w[true class] * -log p[true class]`` (one-hot y_true)."""
    t, p = np.asarray(y_true, np.float64), np.asarray(y_pred, np.float64)
    weights = np.ones(t.shape[-1]) if weights_ignored else np.asarray(class_weights, np.float64)
    p = np.clip(p, _PROBABILITY_FLOOR, 1.0 - _PROBABILITY_FLOOR)
    pixel_weights = np.sum(t * weights, axis=-1)
    pixel_losses = -sign * pixel_weights * np.sum(t * np.log(p), axis=-1)
    axes = tuple(range(1, pixel_losses.ndim))
    if normalize:
        return pixel_losses.sum(axis=axes) / pixel_weights.sum(axis=axes)
    return pixel_losses.sum(axis=axes) if reduce == "sum" else pixel_losses.mean(axis=axes)


def _weighted_ce_cases(sparse_labels):
    rng = np.random.default_rng(9)
    labels = rng.integers(0, 3, size=(2, 4, 5))
    one_hot = np.eye(3, dtype="float32")[labels]
    probabilities = _softmax(rng.normal(size=(2, 4, 5, 3)) * 1.5).astype("float32")
    confident = np.eye(3, dtype="float32")[labels]  # exact 0 for every other class
    confident = np.where(confident == 1, 0.9, 0.0).astype("float32")
    confident[..., 0] += np.where(labels == 0, 0.1, 0.0)
    confident[..., 1] += np.where(labels != 0, 0.1, 0.0)
    wrong = confident.copy()  # pixel (0, 0) of image 0: probability 0 for its true class
    wrong[0, 0, 0] = np.eye(3, dtype="float32")[(labels[0, 0, 0] + 1) % 3]
    true = labels if sparse_labels else one_hot
    return [
        _Case("random probabilities, weights [1, 1, 1]", (true, probabilities, [1.0, 1.0, 1.0])),
        _Case("random probabilities, weights [0.2, 1, 5]", (true, probabilities, [0.2, 1.0, 5.0])),
        _Case("confident predictions with exact zeros for the other classes, weights [1, 2, 3]",
              (true, confident, [1.0, 2.0, 3.0])),
        _Case("a pixel whose true class has probability 0, weights [1, 2, 3]", (true, wrong, [1.0, 2.0, 3.0])),
    ]


def check_weighted_crossentropy(weighted_crossentropy, sparse_labels=False, assignment=None,
                                quiet=False, require_tensor=False):
    """Check ``weighted_crossentropy(y_true, y_pred, class_weights)``.

    Convention (as ``course_utils.losses.pixelwise_crossentropy``): for every pixel
    ``class_weights[true class] * -log(p[true class])``, then the plain mean over the
    pixels of each image; result shape ``(batch,)``. ``y_true`` is one-hot
    ``(batch, h, w, classes)``, or integer labels ``(batch, h, w)`` with
    ``sparse_labels=True``; ``y_pred`` holds probabilities.

    ``require_tensor=True`` (as the losses_metrics notebook asks): the result must also be
    a tensor (keras.ops code). The same option exists for :func:`check_soft_dice`.

    Diagnoses: a scalar instead of per-image values, nan from log(0), weights ignored,
    a mean normalised by the weights, a missing minus sign, a sum instead of a mean over
    the pixels, a softmax applied twice.
    """

    def as_one_hot(y_true, num_classes):
        return np.eye(num_classes)[y_true] if sparse_labels else y_true

    def variant(**options):
        def loss(y_true, y_pred, class_weights):
            return _weighted_ce_numpy(as_one_hot(y_true, len(class_weights)), y_pred,
                                      class_weights, **options)

        return loss

    def nan_or_inf(cases, outputs, expected):
        return any(not isinstance(o, _Raised) and not np.all(np.isfinite(_to_numpy(o)))
                   for o in outputs)

    def softmax_twice(y_true, y_pred, class_weights):
        return _weighted_ce_numpy(as_one_hot(y_true, len(class_weights)),
                                  _softmax(np.asarray(y_pred, np.float64)), class_weights)

    check = _Check(
        "weighted_crossentropy", _weighted_ce_cases(sparse_labels), variant(),
        mistakes=[
            _Mistake("scalar_not_per_image", "one number for the whole batch instead of one per image", (
                "The loss must have shape (batch,): one value per image.",
                "Average over the pixel axes only, e.g. axis=(1, 2); Keras averages the batch.",
            ), _shape_is(lambda case: ())),
            _Mistake("log_of_zero", "nan or inf where a probability is exactly 0", (
                "Look at predictions with exact zeros: 0 * log(0) is nan in floating point.",
                "Clip the probabilities before the log, e.g. np.clip(p, 1e-7, 1 - 1e-7) or "
                "ops.clip, or take only the true class's probability.",
            ), nan_or_inf),
            _Mistake("weights_ignored", "the class weights are ignored", (
                "Your result is the same with weights [1, 1, 1] and [0.2, 1, 5].",
                "Multiply each pixel's loss by the weight of its *true* class.",
            ), _matches(variant(weights_ignored=True), rtol=1e-4, atol=1e-5)),
            _Mistake("normalized_by_weights", "the mean is divided by the sum of the weights", (
                "This course averages the weighted pixel losses plainly over the pixels.",
                "Divide by the number of pixels, not by the sum of the pixel weights.",
            ), _matches(variant(normalize=True), rtol=1e-4, atol=1e-5)),
            _Mistake("missing_minus", "the minus sign is missing (the loss is negative)", (
                "A loss must be >= 0; log of a probability is <= 0.",
                "Cross-entropy is -sum(y_true * log(y_pred)).",
            ), _matches(variant(sign=-1.0), rtol=1e-4, atol=1e-5)),
            _Mistake("sum_over_pixels", "a sum over the pixels instead of the mean", (
                "The lecture averages the pixel losses: larger images must not give larger losses.",
                "Use a mean over the pixel axes.",
            ), _matches(variant(reduce="sum"), rtol=1e-4, atol=1e-5)),
            _Mistake("softmax_applied_twice", "a softmax applied to probabilities (twice)", (
                "y_pred already holds probabilities.",
                "Remove the softmax inside the loss (or pass logits and use from_logits).",
            ), _matches(softmax_twice, rtol=1e-4, atol=1e-5)),
        ],
        generic_hints=(
            "Compute the loss of one pixel by hand: -log of the probability of its true class, "
            "times the weight of that class.",
            "Per image: the mean over all pixels of weight[true class] * -log(p[true class]).",
        ),
        rtol=1e-4, atol=1e-5,
    )
    return _run_check(_requiring_tensor(check) if require_tensor else check, weighted_crossentropy,
                      assignment, quiet)


def _class_weights_reference(frequencies):
    f = np.asarray(frequencies, np.float64)
    present = f > 0
    weights = np.zeros_like(f)
    weights[present] = np.median(f[present]) / f[present]
    return weights


_CLASS_WEIGHTS_CHECK = _variant_check(
    "class_weights_from_frequencies",
    [_Case("the notebook's four frequencies", (np.array([0.5, 0.3, 0.15, 0.05]),), public=True),
     _Case("the notebook's pixel counts 5000, 3000, 1500, 500 (a list)", ([5000, 3000, 1500, 500],), public=True),
     _Case("five frequencies, odd count", (np.array([0.4, 0.1, 0.2, 0.25, 0.05]),)),
     _Case("an absent class", (np.array([0.6, 0.0, 0.3, 0.1]),)),
     _Case("counts with two absent classes", (np.array([900, 0, 50, 0, 30, 20]),))],
    _class_weights_reference,
    [("inverted", "frequency / median instead of median / frequency", (
        "Rare classes must get LARGE weights.",
        "w_c = median / f_c.",
    ), lambda f: np.where(np.asarray(f, float) > 0, np.asarray(f, float) / np.median(
        np.asarray(f, float)[np.asarray(f, float) > 0]), 0.0)),
     ("median_with_zeros", "the absent classes are included in the median", (
         "Take the median over the present classes only (f > 0).",
     ), lambda f: np.where(np.asarray(f, float) > 0, np.median(np.asarray(f, float)) / np.where(
         np.asarray(f, float) > 0, np.asarray(f, float), 1.0), 0.0)),
     ("mean_not_median", "the mean instead of the median", (
         "Median frequency balancing uses the median (the mean of the two middle values for "
         "an even count).",
     ), lambda f: np.where(np.asarray(f, float) > 0, np.mean(np.asarray(f, float)[np.asarray(f, float) > 0]) / np.where(
         np.asarray(f, float) > 0, np.asarray(f, float), 1.0), 0.0))],
    ("w_c = median(frequencies of the present classes) / f_c, and 0 where f_c == 0.",),
    extra_mistakes=[_Mistake("inf_for_absent", "an absent class gets inf or nan (division by 0)", (
        "Frequency 0: do not divide; that class gets weight 0.",
    ), lambda cases, outputs, expected: any(not isinstance(o, _Raised) and not np.all(np.isfinite(_to_numpy(o)))
                                           for o in outputs))])


def check_class_weights(class_weights_from_frequencies, assignment=None, quiet=False):
    """Check ``class_weights_from_frequencies(frequencies)`` (median frequency balancing).

    Diagnoses: inverted weights, absent classes in the median, the mean instead of the
    median, inf or nan for absent classes.
    """
    return _run_check(_CLASS_WEIGHTS_CHECK, class_weights_from_frequencies, assignment, quiet)
