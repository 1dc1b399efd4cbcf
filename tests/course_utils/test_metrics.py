"""Tests of course_utils.metrics: hand-checked masks and an independent reference."""

import itertools
import math

import numpy as np
import pytest

from course_utils.metrics import (
    boundary_band,
    confusion_matrix,
    dice_coefficient,
    foreground_pixel_accuracy,
    iou_score,
    mean_boundary_iou,
    mean_dice,
    mean_iou,
    per_class_boundary_iou,
    per_class_dice,
    per_class_iou,
    pixel_accuracy,
)

NUM_RANDOM_SEEDS = 200
IGNORE = 255

# --- Binary masks by hand ------------------------------------------------------

BINARY_TRUE = np.array(
    [[1, 1, 0],
     [1, 0, 0],
     [0, 0, 0]]
)
BINARY_PRED = np.array(
    [[1, 0, 0],
     [1, 1, 0],
     [0, 0, 0]]
)
# |A| = 3, |B| = 3, |A and B| = 2 (pixels (0,0), (1,0)), |A or B| = 4.


def test_dice_by_hand():
    # 2 * 2 / (3 + 3) = 2/3
    assert dice_coefficient(BINARY_TRUE, BINARY_PRED) == pytest.approx(2 / 3)


def test_iou_by_hand():
    # 2 / 4 = 1/2
    assert iou_score(BINARY_TRUE, BINARY_PRED) == pytest.approx(0.5)


def test_binary_metrics_accept_bool_and_are_symmetric():
    assert dice_coefficient(BINARY_TRUE.astype(bool), BINARY_PRED.astype(bool)) == pytest.approx(2 / 3)
    assert iou_score(BINARY_PRED, BINARY_TRUE) == pytest.approx(0.5)


def test_perfect_and_disjoint_masks():
    assert dice_coefficient(BINARY_TRUE, BINARY_TRUE) == 1.0
    assert iou_score(BINARY_TRUE, BINARY_TRUE) == 1.0
    assert dice_coefficient(BINARY_TRUE, 1 - BINARY_TRUE) == 0.0
    assert iou_score(BINARY_TRUE, 1 - BINARY_TRUE) == 0.0


def test_both_masks_empty_gives_empty_value():
    empty = np.zeros((3, 3), dtype=int)
    assert dice_coefficient(empty, empty) == 1.0
    assert iou_score(empty, empty) == 1.0
    assert dice_coefficient(empty, empty, empty_value=0.0) == 0.0
    assert math.isnan(iou_score(empty, empty, empty_value=float("nan")))


def test_one_mask_empty_gives_zero():
    empty = np.zeros((3, 3), dtype=int)
    assert dice_coefficient(BINARY_TRUE, empty) == 0.0
    assert iou_score(empty, BINARY_PRED) == 0.0


# --- Label maps by hand -------------------------------------------------------

LABELS_TRUE = np.array(
    [[0, 0, 1],
     [0, 1, 1],
     [2, 2, 2]]
)
LABELS_PRED = np.array(
    [[0, 1, 1],
     [0, 1, 1],
     [2, 2, 0]]
)
# (true, pred) pairs: (0,0) (0,1) (1,1) / (0,0) (1,1) (1,1) / (2,2) (2,2) (2,0)
# Confusion matrix, rows = true, columns = predicted:
#   [[2, 1, 0],
#    [0, 3, 0],
#    [1, 0, 2]]
# class 0: TP 2, FP 1, FN 1 -> Dice 4/6, IoU 2/4
# class 1: TP 3, FP 1, FN 0 -> Dice 6/7, IoU 3/4
# class 2: TP 2, FP 0, FN 1 -> Dice 4/5, IoU 2/3
# pixel accuracy 7/9


def test_confusion_matrix_by_hand():
    expected = np.array([[2, 1, 0], [0, 3, 0], [1, 0, 2]])
    np.testing.assert_array_equal(confusion_matrix(LABELS_TRUE, LABELS_PRED, 3), expected)


def test_per_class_and_mean_by_hand():
    np.testing.assert_allclose(per_class_dice(LABELS_TRUE, LABELS_PRED, 3), [4 / 6, 6 / 7, 4 / 5])
    np.testing.assert_allclose(per_class_iou(LABELS_TRUE, LABELS_PRED, 3), [2 / 4, 3 / 4, 2 / 3])
    assert mean_dice(LABELS_TRUE, LABELS_PRED, 3) == pytest.approx((4 / 6 + 6 / 7 + 4 / 5) / 3)
    assert mean_iou(LABELS_TRUE, LABELS_PRED, 3) == pytest.approx((2 / 4 + 3 / 4 + 2 / 3) / 3)


def test_pixel_accuracy_by_hand():
    assert pixel_accuracy(LABELS_TRUE, LABELS_PRED) == pytest.approx(7 / 9)


def test_class_absent_from_both_maps_is_nan_and_left_out_of_the_mean():
    # A 4th class appears nowhere: nan, and the means stay those of 3 classes.
    dice = per_class_dice(LABELS_TRUE, LABELS_PRED, 4)
    iou = per_class_iou(LABELS_TRUE, LABELS_PRED, 4)
    assert np.isnan(dice[3]) and np.isnan(iou[3])
    assert mean_dice(LABELS_TRUE, LABELS_PRED, 4) == pytest.approx((4 / 6 + 6 / 7 + 4 / 5) / 3)
    assert mean_iou(LABELS_TRUE, LABELS_PRED, 4) == pytest.approx((2 / 4 + 3 / 4 + 2 / 3) / 3)


def test_ignore_label_leaves_pixels_out():
    # Ignore the bottom-right pixel (true 2, predicted 0):
    # class 0: TP 2, FP 0, FN 1 -> Dice 4/5, IoU 2/3
    # class 1: unchanged       -> Dice 6/7, IoU 3/4
    # class 2: TP 2, FP 0, FN 0 -> Dice 1,   IoU 1
    # pixel accuracy 7/8
    labels_true = LABELS_TRUE.copy()
    labels_true[2, 2] = IGNORE
    np.testing.assert_array_equal(
        confusion_matrix(labels_true, LABELS_PRED, 3, ignore_label=IGNORE),
        [[2, 1, 0], [0, 3, 0], [0, 0, 2]],
    )
    np.testing.assert_allclose(per_class_dice(labels_true, LABELS_PRED, 3, IGNORE), [4 / 5, 6 / 7, 1])
    np.testing.assert_allclose(per_class_iou(labels_true, LABELS_PRED, 3, IGNORE), [2 / 3, 3 / 4, 1])
    assert pixel_accuracy(labels_true, LABELS_PRED, ignore_label=IGNORE) == pytest.approx(7 / 8)


def test_ignored_pixels_may_hold_any_prediction():
    labels_true = np.full((2, 2), IGNORE)
    labels_true[0, 0] = 1
    labels_pred = np.array([[1, 99], [-5, 7]])
    np.testing.assert_allclose(per_class_iou(labels_true, labels_pred, 2, IGNORE), [np.nan, 1.0])


def test_everything_ignored_gives_nan_means():
    labels_true = np.full((3, 3), IGNORE)
    assert np.all(np.isnan(per_class_dice(labels_true, LABELS_PRED, 3, IGNORE)))
    assert math.isnan(mean_dice(labels_true, LABELS_PRED, 3, IGNORE))
    assert math.isnan(mean_iou(labels_true, LABELS_PRED, 3, IGNORE))
    with pytest.raises(ValueError, match="No pixel"):
        pixel_accuracy(labels_true, LABELS_PRED, ignore_label=IGNORE)


def test_foreground_pixel_accuracy_by_hand():
    # Ink in the top row only: true [0, 0, 1], predicted [0, 1, 1] -> 2/3,
    # although 7 of all 9 pixels are right.
    foreground = np.array([[1, 1, 1], [0, 0, 0], [0, 0, 0]], dtype=bool)
    assert foreground_pixel_accuracy(LABELS_TRUE, LABELS_PRED, foreground) == pytest.approx(2 / 3)


def test_float_label_maps_of_whole_numbers_are_accepted():
    assert pixel_accuracy(LABELS_TRUE.astype(float), LABELS_PRED.astype(np.float32)) == pytest.approx(7 / 9)


def test_batched_label_maps():
    # A batch of two copies: every count doubles, the ratios stay.
    batch_true = np.stack([LABELS_TRUE, LABELS_TRUE])
    batch_pred = np.stack([LABELS_PRED, LABELS_PRED])
    np.testing.assert_array_equal(
        confusion_matrix(batch_true, batch_pred, 3), 2 * confusion_matrix(LABELS_TRUE, LABELS_PRED, 3)
    )
    assert mean_iou(batch_true, batch_pred, 3) == pytest.approx(mean_iou(LABELS_TRUE, LABELS_PRED, 3))


# --- Errors -----------------------------------------------------------------


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: dice_coefficient(np.zeros((2, 2)), np.zeros((2, 3))), "same shape"),
        (lambda: iou_score(np.zeros((2, 2)), np.zeros((3, 2))), "same shape"),
        (lambda: dice_coefficient([[0, 2]], [[0, 1]]), r"binary.*\[2\]"),
        (lambda: iou_score([[0, 1]], [[0.5, 1]]), r"binary.*0\.5"),
        (lambda: confusion_matrix(LABELS_TRUE, LABELS_PRED[:2], 3), "same shape"),
        (lambda: confusion_matrix(LABELS_TRUE, LABELS_PRED, 2), r"y_true.*\[2\]"),
        (lambda: confusion_matrix(LABELS_TRUE, LABELS_PRED - 1, 3), r"y_pred.*\[-1\]"),
        (lambda: per_class_dice(LABELS_TRUE, LABELS_PRED + 5, 3), r"y_pred.*\[5, 6, 7\]"),
        (lambda: per_class_iou(np.where(LABELS_TRUE == 2, IGNORE, LABELS_TRUE), LABELS_PRED, 3), r"\[255\]"),
        (lambda: mean_iou(LABELS_TRUE, LABELS_PRED, 0), "num_classes"),
        (lambda: mean_dice(LABELS_TRUE + 0.5, LABELS_PRED, 3), "integer"),
        (lambda: pixel_accuracy(LABELS_TRUE, LABELS_PRED.T[:2]), "same shape"),
        (lambda: foreground_pixel_accuracy(LABELS_TRUE, LABELS_PRED, np.zeros((3, 3), bool)), "no foreground"),
        (lambda: foreground_pixel_accuracy(LABELS_TRUE, LABELS_PRED, np.ones((2, 3), bool)), "same shape"),
        (lambda: foreground_pixel_accuracy(LABELS_TRUE, LABELS_PRED, np.full((3, 3), 2)), "binary"),
    ],
)
def test_bad_input_raises_value_error(call, message):
    with pytest.raises(ValueError, match=message):
        call()


# --- Independent reference on random masks ----------------------------------------
# Sets of pixel coordinates and per-pixel loops: no shared code with the module.


def _pixel_sets(labels, label, counted):
    return {index for index in np.ndindex(labels.shape) if counted[index] and labels[index] == label}


def _reference(y_true, y_pred, num_classes, ignore_label):
    counted = np.ones(y_true.shape, bool) if ignore_label is None else y_true != ignore_label
    dice, iou = [], []
    for label in range(num_classes):
        true_set = _pixel_sets(y_true, label, counted)
        pred_set = _pixel_sets(y_pred, label, counted)
        both, either = true_set & pred_set, true_set | pred_set
        dice.append(2 * len(both) / (len(true_set) + len(pred_set)) if either else math.nan)
        iou.append(len(both) / len(either) if either else math.nan)
    matrix = np.zeros((num_classes, num_classes), int)
    correct = total = 0
    for index in np.ndindex(y_true.shape):
        if counted[index]:
            matrix[y_true[index], y_pred[index]] += 1
            correct += int(y_true[index] == y_pred[index])
            total += 1
    present = [value for value in iou if not math.isnan(value)]
    present_dice = [value for value in dice if not math.isnan(value)]
    return dict(
        matrix=matrix,
        dice=np.array(dice),
        iou=np.array(iou),
        mean_dice=sum(present_dice) / len(present_dice) if present_dice else math.nan,
        mean_iou=sum(present) / len(present) if present else math.nan,
        accuracy=correct / total if total else None,
    )


def _random_case(seed):
    rng = np.random.default_rng(seed)
    shape = tuple(int(v) for v in rng.integers(1, 7, size=rng.integers(1, 4)))
    num_classes = int(rng.integers(1, 6))
    # Small class counts make absent classes (nan) common.
    y_true = rng.integers(0, num_classes, size=shape)
    y_pred = rng.integers(0, num_classes, size=shape)
    ignore_label = None
    if rng.random() < 0.5:
        ignore_label = IGNORE
        y_true = np.where(rng.random(shape) < 0.2, IGNORE, y_true)
    return y_true, y_pred, num_classes, ignore_label


def test_label_metrics_match_set_based_reference():
    for seed in range(NUM_RANDOM_SEEDS):
        y_true, y_pred, num_classes, ignore_label = _random_case(seed)
        expected = _reference(y_true, y_pred, num_classes, ignore_label)
        args = (y_true, y_pred, num_classes, ignore_label)
        context = f"seed {seed}"
        np.testing.assert_array_equal(confusion_matrix(*args), expected["matrix"], err_msg=context)
        assert np.allclose(per_class_dice(*args), expected["dice"], equal_nan=True), context
        assert np.allclose(per_class_iou(*args), expected["iou"], equal_nan=True), context
        assert np.allclose(mean_dice(*args), expected["mean_dice"], equal_nan=True), context
        assert np.allclose(mean_iou(*args), expected["mean_iou"], equal_nan=True), context
        if expected["accuracy"] is not None:
            assert np.isclose(pixel_accuracy(y_true, y_pred, ignore_label), expected["accuracy"]), context


def test_binary_metrics_match_set_based_reference():
    for seed in range(NUM_RANDOM_SEEDS):
        rng = np.random.default_rng(seed)
        shape = tuple(int(v) for v in rng.integers(1, 6, size=rng.integers(1, 4)))
        # Sparse masks so that empty masks occur too.
        y_true = rng.random(shape) < rng.random() * 0.5
        y_pred = rng.random(shape) < rng.random() * 0.5
        true_set = set(zip(*np.nonzero(y_true)))
        pred_set = set(zip(*np.nonzero(y_pred)))
        either = true_set | pred_set
        expected_dice = 2 * len(true_set & pred_set) / (len(true_set) + len(pred_set)) if either else 1.0
        expected_iou = len(true_set & pred_set) / len(either) if either else 1.0
        assert np.isclose(dice_coefficient(y_true, y_pred.astype(int)), expected_dice), seed
        assert np.isclose(iou_score(y_true.astype(np.uint8), y_pred), expected_iou), seed


def test_foreground_pixel_accuracy_matches_loop():
    for seed in range(NUM_RANDOM_SEEDS):
        rng = np.random.default_rng(seed)
        shape = tuple(int(v) for v in rng.integers(1, 8, size=2))
        y_true = rng.integers(0, 3, size=shape)
        y_pred = rng.integers(0, 3, size=shape)
        foreground = rng.random(shape) < 0.4
        if not foreground.any():
            continue
        ink_pixels = [index for index in itertools.product(*map(range, shape)) if foreground[index]]
        correct = sum(y_true[index] == y_pred[index] for index in ink_pixels)
        assert np.isclose(foreground_pixel_accuracy(y_true, y_pred, foreground), correct / len(ink_pixels)), seed


# --- Boundary IoU ----------------------------------------------------------------


def _square_page(size, offset, side):
    """A ``size`` x ``size`` label map: class 1 on a ``side`` x ``side`` square, 0 elsewhere."""
    labels = np.zeros((size, size), dtype=np.uint8)
    labels[offset:offset + side, offset:offset + side] = 1
    return labels


def test_boundary_iou_by_hand_punishes_a_border_that_iou_forgives():
    truth = _square_page(60, 10, 40)
    shrunk = _square_page(60, 11, 38)          # one pixel short on every side
    assert np.isclose(per_class_iou(truth, shrunk, 2)[1], 38**2 / 40**2)  # 0.90
    # width 2: true band = 40^2 - 36^2 = 304 px, predicted band = 38^2 - 34^2 = 288 px,
    # shared = the ring between the 38 and the 36 square = 38^2 - 36^2 = 148 px.
    square_biou = 148 / (304 + 288 - 148)
    assert np.isclose(per_class_boundary_iou(truth, shrunk, 2, width=2)[1], square_biou)
    # Background: the image-edge ring (60^2 - 56^2 = 464 px) is in both bands; the rings
    # outside the squares (44^2 - 40^2 = 336 and 42^2 - 38^2 = 320 px) share 42^2 - 40^2.
    shared = 464 + 42**2 - 40**2
    background_biou = shared / (464 + 336 + 464 + 320 - shared)
    assert np.isclose(mean_boundary_iou(truth, shrunk, 2, width=2), (square_biou + background_biou) / 2)
    assert mean_boundary_iou(truth, truth, 2) == 1.0


def test_boundary_band_of_a_square_and_of_a_batch():
    square = _square_page(10, 2, 6).astype(bool)
    band = boundary_band(square, width=1)
    assert band.sum() == 6**2 - 4**2 and not band[4:6, 4:6].any()
    assert boundary_band(np.ones((5, 5), bool), width=1).sum() == 16  # the image edge is a border
    # Each image of a batch has its own border: stacking must not merge them.
    batch = np.stack([square, square])
    np.testing.assert_array_equal(boundary_band(batch, width=2), np.stack([boundary_band(square, 2)] * 2))


def _reference_band(mask, width):
    """Region pixels with an outside pixel (or the image edge) within chessboard distance ``width``."""
    height, columns = mask.shape
    band = np.zeros_like(mask)
    for row, col in zip(*np.nonzero(mask)):
        rows = range(row - width, row + width + 1)
        cols = range(col - width, col + width + 1)
        band[row, col] = any(not (0 <= r < height and 0 <= c < columns) or not mask[r, c]
                             for r in rows for c in cols)
    return band


def test_boundary_iou_matches_loop_reference():
    for seed in range(30):
        rng = np.random.default_rng(seed)
        shape = tuple(int(v) for v in rng.integers(3, 12, size=2))
        num_classes, width = int(rng.integers(2, 4)), int(rng.integers(1, 3))
        # Blocky maps (2x2 cells) so that regions have interiors.
        y_true = np.kron(rng.integers(0, num_classes, size=shape), np.ones((2, 2), int))
        y_pred = np.kron(rng.integers(0, num_classes, size=shape), np.ones((2, 2), int))
        expected = []
        for label in range(num_classes):
            true_band = _reference_band(y_true == label, width)
            pred_band = _reference_band(y_pred == label, width)
            union = np.sum(true_band | pred_band)
            expected.append(np.sum(true_band & pred_band) / union if union else math.nan)
        actual = per_class_boundary_iou(y_true, y_pred, num_classes, width)
        assert np.allclose(actual, expected, equal_nan=True), seed


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: per_class_boundary_iou(LABELS_TRUE, LABELS_PRED, 3, width=0), "width"),
        (lambda: mean_boundary_iou(LABELS_TRUE, LABELS_PRED[:2], 3), "same shape"),
        (lambda: mean_boundary_iou(LABELS_TRUE, LABELS_PRED, 2), r"y_true.*\[2\]"),
        (lambda: boundary_band(np.zeros(4, bool)), r"\(height, width\)"),
        (lambda: boundary_band(np.full((3, 3), 2)), "binary"),
    ],
)
def test_boundary_iou_bad_input(call, message):
    with pytest.raises(ValueError, match=message):
        call()
