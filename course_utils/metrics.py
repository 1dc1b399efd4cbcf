"""Segmentation metrics in NumPy: Dice, IoU, pixel accuracy, foreground pixel accuracy
and boundary IoU.

Masks are arrays of any shape, e.g. ``(height, width)`` for one page or
``(batch, height, width)`` for several; every pixel counts once. Label maps hold
one integer class index per pixel.

For one class, with TP/FP/FN the true-positive, false-positive and
false-negative pixel counts::

    Dice = 2 TP / (2 TP + FP + FN) = 2 |A and B| / (|A| + |B|)
    IoU  =   TP / (  TP + FP + FN) =   |A and B| / |A or B|

Pixels whose true label equals ``ignore_label`` (e.g. an unlabelled border) are
left out of every count, in the true and in the predicted map.

IoU counts every pixel of a region once, so the many interior pixels of a large region
hide a sloppy border. Boundary IoU (Cheng et al. 2021) computes the IoU on the bands of
``width`` pixels just inside the true and the predicted region borders only, so it
measures how crisp the borders are.
"""

import warnings

import numpy as np
from scipy import ndimage

__all__ = [
    "dice_coefficient",
    "iou_score",
    "confusion_matrix",
    "per_class_dice",
    "per_class_iou",
    "mean_dice",
    "mean_iou",
    "pixel_accuracy",
    "foreground_pixel_accuracy",
    "boundary_band",
    "per_class_boundary_iou",
    "mean_boundary_iou",
]


# --- Input checks ------------------------------------------------------------


def _check_same_shape(y_true, y_pred, names=("y_true", "y_pred")):
    if y_true.shape != y_pred.shape:
        raise ValueError(
            f"`{names[0]}` and `{names[1]}` must have the same shape, got "
            f"{y_true.shape} and {y_pred.shape}."
        )


def _as_binary_mask(mask, name):
    """Returns ``mask`` as a bool array; it must hold only 0/1 or False/True."""
    mask = np.asarray(mask)
    if mask.dtype == bool:
        return mask
    bad_values = np.setdiff1d(np.unique(mask), [0, 1])
    if bad_values.size:
        raise ValueError(
            f"`{name}` must be a binary mask holding only 0 and 1 (or bool), "
            f"but it holds {bad_values[:10].tolist()}. Threshold probabilities "
            f"first, e.g. `probabilities > 0.5`."
        )
    return mask.astype(bool)


def _as_binary_masks(y_true, y_pred):
    """``(y_true, y_pred)`` as bool arrays of the same shape (else ValueError)."""
    y_true = _as_binary_mask(y_true, "y_true")
    y_pred = _as_binary_mask(y_pred, "y_pred")
    _check_same_shape(y_true, y_pred)
    return y_true, y_pred


def _as_label_map(labels, name):
    """Returns ``labels`` as an int64 array; float maps must hold whole numbers."""
    labels = np.asarray(labels)
    if np.issubdtype(labels.dtype, np.integer) or labels.dtype == bool:
        return labels.astype(np.int64)
    if np.issubdtype(labels.dtype, np.floating) and np.all(labels == np.round(labels)):
        return labels.astype(np.int64)
    raise ValueError(
        f"`{name}` must be a map of integer class indices, got dtype "
        f"{labels.dtype}. For network outputs of shape (..., n_classes) use "
        f"`np.argmax(y_pred, axis=-1)`."
    )


def _check_label_range(labels, num_classes, name):
    bad = (labels < 0) | (labels >= num_classes)
    if np.any(bad):
        bad_values = np.unique(labels[bad])
        raise ValueError(
            f"`{name}` holds labels {bad_values[:10].tolist()} outside "
            f"[0, {num_classes}) (num_classes={num_classes}). Pass "
            f"`ignore_label` if one of them marks unlabelled pixels."
        )


def _counted_labels(y_true, y_pred, num_classes=None, ignore_label=None):
    """Checks two label maps; returns their counted pixels as flat int64 arrays.

    Pixels where ``y_true == ignore_label`` are dropped from both maps.
    With ``num_classes``, the remaining labels must lie in ``[0, num_classes)``.
    """
    y_true = _as_label_map(y_true, "y_true")
    y_pred = _as_label_map(y_pred, "y_pred")
    _check_same_shape(y_true, y_pred)
    if ignore_label is not None:
        counted = y_true != ignore_label
        y_true, y_pred = y_true[counted], y_pred[counted]
    y_true, y_pred = y_true.ravel(), y_pred.ravel()
    if num_classes is not None:
        if not isinstance(num_classes, (int, np.integer)) or num_classes < 1:
            raise ValueError(f"`num_classes` must be a positive int, got {num_classes!r}.")
        _check_label_range(y_true, num_classes, "y_true")
        _check_label_range(y_pred, num_classes, "y_pred")
    return y_true, y_pred


def _divide_or_nan(numerator, denominator):
    """Element-wise ``numerator / denominator`` with nan where the denominator is 0."""
    numerator = np.asarray(numerator, dtype=np.float64)
    denominator = np.asarray(denominator, dtype=np.float64)
    result = np.full(numerator.shape, np.nan)
    np.divide(numerator, denominator, out=result, where=denominator > 0)
    return result


def _nanmean_or_nan(values):
    # np.nanmean warns "Mean of empty slice" when every value is nan.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", category=RuntimeWarning)
        return float(np.nanmean(values))


# --- Binary masks ------------------------------------------------------------


def dice_coefficient(y_true, y_pred, empty_value=1.0):
    """Dice coefficient (F1 score) of two binary masks.

    ``2 |A and B| / (|A| + |B|)``: 1 for a perfect match, 0 without overlap.

    Args:
        y_true: Ground-truth mask, any shape, bool or 0/1.
        y_pred: Predicted mask, same shape, bool or 0/1.
        empty_value: Returned when both masks are empty. Default 1.0: predicting
            nothing where there is nothing is a perfect match.

    Returns:
        A float in [0, 1] (or ``empty_value``).

    Raises:
        ValueError: If the shapes differ or a mask holds values other than 0/1.

    Example:
        >>> dice_coefficient([[1, 1], [0, 0]], [[1, 0], [0, 0]])  # 2*1 / (2+1)
        0.6666666666666666
    """
    y_true, y_pred = _as_binary_masks(y_true, y_pred)
    intersection = int(np.count_nonzero(y_true & y_pred))
    total = int(np.count_nonzero(y_true) + np.count_nonzero(y_pred))
    if total == 0:
        return float(empty_value)
    return float(2.0 * intersection / total)


def iou_score(y_true, y_pred, empty_value=1.0):
    """Intersection over union (Jaccard index) of two binary masks.

    ``|A and B| / |A or B|``: 1 for a perfect match, 0 without overlap.
    IoU = Dice / (2 - Dice), so IoU <= Dice.

    Args:
        y_true: Ground-truth mask, any shape, bool or 0/1.
        y_pred: Predicted mask, same shape, bool or 0/1.
        empty_value: Returned when both masks are empty. Default 1.0: predicting
            nothing where there is nothing is a perfect match.

    Returns:
        A float in [0, 1] (or ``empty_value``).

    Raises:
        ValueError: If the shapes differ or a mask holds values other than 0/1.

    Example:
        >>> iou_score([[1, 1], [0, 0]], [[1, 0], [0, 0]])  # 1 / 2
        0.5
    """
    y_true, y_pred = _as_binary_masks(y_true, y_pred)
    intersection = np.count_nonzero(y_true & y_pred)
    union = np.count_nonzero(y_true | y_pred)
    if union == 0:
        return float(empty_value)
    return float(intersection / union)


# --- Label maps with several classes --------------------------------------------


def confusion_matrix(y_true, y_pred, num_classes, ignore_label=None):
    """Counts how often each true class was predicted as each class.

    Args:
        y_true: Ground-truth label map of integer class indices, any shape.
        y_pred: Predicted label map, same shape (e.g. ``argmax`` of the network
            output over the class axis).
        num_classes: Number of classes ``C``; labels must lie in ``[0, C)``.
        ignore_label: Optional label in ``y_true`` marking pixels to leave out.

    Returns:
        An int64 array of shape ``(C, C)``: entry ``[i, j]`` is the number of
        pixels of true class ``i`` predicted as class ``j``. The diagonal holds
        the true positives; row sums are the true pixel counts per class,
        column sums the predicted ones.

    Raises:
        ValueError: If the shapes differ, a map is not integer, or a counted
            label lies outside ``[0, num_classes)``.
    """
    y_true, y_pred = _counted_labels(y_true, y_pred, num_classes, ignore_label)
    # Each (true, predicted) pair gets its own bin index true * C + predicted.
    counts = np.bincount(y_true * num_classes + y_pred, minlength=num_classes**2)
    return counts.reshape(num_classes, num_classes).astype(np.int64)


def _per_class_counts(y_true, y_pred, num_classes, ignore_label):
    matrix = confusion_matrix(y_true, y_pred, num_classes, ignore_label)
    true_positives = np.diag(matrix)
    false_positives = matrix.sum(axis=0) - true_positives
    false_negatives = matrix.sum(axis=1) - true_positives
    return true_positives, false_positives, false_negatives


def per_class_dice(y_true, y_pred, num_classes, ignore_label=None):
    """Dice coefficient of every class, ``2 TP / (2 TP + FP + FN)``.

    Args:
        y_true: Ground-truth label map of integer class indices, any shape.
        y_pred: Predicted label map, same shape.
        num_classes: Number of classes ``C``.
        ignore_label: Optional label in ``y_true`` marking pixels to leave out.

    Returns:
        A float64 array of shape ``(C,)``. A class absent from both maps gets
        ``nan``: there is nothing to score, and ``nan`` keeps it out of
        :func:`mean_dice` instead of counting it as perfect or as wrong.

    Raises:
        ValueError: As :func:`confusion_matrix`.
    """
    tp, fp, fn = _per_class_counts(y_true, y_pred, num_classes, ignore_label)
    return _divide_or_nan(2 * tp, 2 * tp + fp + fn)


def per_class_iou(y_true, y_pred, num_classes, ignore_label=None):
    """Intersection over union of every class, ``TP / (TP + FP + FN)``.

    Args:
        y_true: Ground-truth label map of integer class indices, any shape.
        y_pred: Predicted label map, same shape.
        num_classes: Number of classes ``C``.
        ignore_label: Optional label in ``y_true`` marking pixels to leave out.

    Returns:
        A float64 array of shape ``(C,)``, ``nan`` for a class absent from both
        maps (see :func:`per_class_dice`).

    Raises:
        ValueError: As :func:`confusion_matrix`.
    """
    tp, fp, fn = _per_class_counts(y_true, y_pred, num_classes, ignore_label)
    return _divide_or_nan(tp, tp + fp + fn)


def mean_dice(y_true, y_pred, num_classes, ignore_label=None):
    """Mean of :func:`per_class_dice` over the classes present in either map.

    Args:
        y_true: Ground-truth label map of integer class indices, any shape.
        y_pred: Predicted label map, same shape.
        num_classes: Number of classes ``C``.
        ignore_label: Optional label in ``y_true`` marking pixels to leave out.

    Returns:
        A float; ``nan`` if no class is present at all (no pixel is counted,
        e.g. every pixel is ignored).

    Raises:
        ValueError: As :func:`confusion_matrix`.
    """
    return _nanmean_or_nan(per_class_dice(y_true, y_pred, num_classes, ignore_label))


def mean_iou(y_true, y_pred, num_classes, ignore_label=None):
    """Mean of :func:`per_class_iou` over the classes present in either map (mIoU).

    Args:
        y_true: Ground-truth label map of integer class indices, any shape.
        y_pred: Predicted label map, same shape.
        num_classes: Number of classes ``C``.
        ignore_label: Optional label in ``y_true`` marking pixels to leave out.

    Returns:
        A float; ``nan`` if no class is present at all (no pixel is counted).

    Raises:
        ValueError: As :func:`confusion_matrix`.
    """
    return _nanmean_or_nan(per_class_iou(y_true, y_pred, num_classes, ignore_label))


def pixel_accuracy(y_true, y_pred, ignore_label=None):
    """Fraction of pixels whose predicted label equals the true one.

    Easy to inflate: on a page that is 90 % background, predicting background
    everywhere scores 0.9. Compare with :func:`foreground_pixel_accuracy`.

    Args:
        y_true: Ground-truth label map of integer class indices, any shape.
        y_pred: Predicted label map, same shape.
        ignore_label: Optional label in ``y_true`` marking pixels to leave out.

    Returns:
        A float in [0, 1].

    Raises:
        ValueError: If the shapes differ, a map is not integer, or no pixel is
            left to count.
    """
    y_true, y_pred = _counted_labels(y_true, y_pred, ignore_label=ignore_label)
    if y_true.size == 0:
        raise ValueError("No pixel to count: the maps are empty or every pixel is ignored.")
    return float(np.mean(y_true == y_pred))


def foreground_pixel_accuracy(y_true, y_pred, foreground):
    """Foreground pixel accuracy (FgPA, Wick & Puppe 2018).

    Pixel accuracy over the foreground (ink) pixels only: correctly labelled
    foreground pixels / all foreground pixels. Background paper, most of a page,
    no longer inflates the score.

    Args:
        y_true: Ground-truth label map of integer class indices, any shape.
        y_pred: Predicted label map, same shape.
        foreground: Boolean (or 0/1) ink mask of the binarized page, same shape;
            True where a pixel is ink.

    Returns:
        A float in [0, 1].

    Raises:
        ValueError: If the shapes differ, a map is not integer, ``foreground``
            is not binary, or it has no foreground pixel.
    """
    y_true = _as_label_map(y_true, "y_true")
    y_pred = _as_label_map(y_pred, "y_pred")
    foreground = _as_binary_mask(foreground, "foreground")
    _check_same_shape(y_true, y_pred)
    _check_same_shape(y_true, foreground, names=("y_true", "foreground"))
    if not np.any(foreground):
        raise ValueError(
            "`foreground` has no foreground pixel, so FgPA is undefined. Check "
            "the binarization (ink should be True)."
        )
    return float(np.mean(y_true[foreground] == y_pred[foreground]))


# --- Boundary quality ----------------------------------------------------------


def _check_width(width):
    if not isinstance(width, (int, np.integer)) or isinstance(width, bool) or width < 1:
        raise ValueError(f"`width` must be an int >= 1 (pixels), got {width!r}.")


def boundary_band(mask, width=2):
    """The pixels of a region that lie within ``width`` pixels of its border.

    ``mask`` minus its erosion by a 3x3 square repeated ``width`` times, i.e. the
    region pixels whose chessboard distance to the nearest pixel outside the region
    is at most ``width``. As in the Boundary IoU paper, the image edge counts as a
    border (outside the image is "not the region").

    Args:
        mask: Binary mask (bool or 0/1), shape ``(height, width)`` for one image or
            ``(batch, height, width)`` for several (each eroded on its own).
        width: Band width in pixels, int >= 1.

    Returns:
        A bool array of the shape of ``mask``.

    Raises:
        ValueError: If ``mask`` is not binary or not 2-D/3-D, or ``width`` < 1.
    """
    mask = _as_binary_mask(mask, "mask")
    _check_width(width)
    if mask.ndim not in (2, 3):
        raise ValueError(
            f"`mask` must be (height, width) or (batch, height, width), got shape {mask.shape}."
        )
    # Erode along height and width only: images of a batch do not touch each other.
    structure = np.ones((3, 3), dtype=bool) if mask.ndim == 2 else np.ones((1, 3, 3), dtype=bool)
    interior = ndimage.binary_erosion(mask, structure=structure, iterations=width, border_value=0)
    return mask & ~interior


def per_class_boundary_iou(y_true, y_pred, num_classes, width=2):
    """Boundary IoU (Cheng et al. 2021) of every class.

    For class ``c`` with true region ``G`` and predicted region ``P``::

        boundary IoU = |band(G) and band(P)| / |band(G) or band(P)|

    where ``band`` is :func:`boundary_band` with the given ``width``. A prediction
    with the right regions but borders a few pixels off scores high IoU and low
    boundary IoU.

    Args:
        y_true: Ground-truth label map of integer class indices, shape
            ``(height, width)`` or ``(batch, height, width)``.
        y_pred: Predicted label map, same shape.
        num_classes: Number of classes ``C``; labels must lie in ``[0, C)``.
        width: Band width in pixels, int >= 1.

    Returns:
        A float64 array of shape ``(C,)``; ``nan`` for a class absent from both maps.

    Raises:
        ValueError: If the shapes differ, a map is not integer or not 2-D/3-D, a
            label lies outside ``[0, num_classes)``, or ``width`` < 1.
    """
    _check_width(width)
    true_flat, pred_flat = _counted_labels(y_true, y_pred, num_classes)  # checks everything
    y_true = true_flat.reshape(np.shape(y_true))
    y_pred = pred_flat.reshape(np.shape(y_pred))
    intersections = np.zeros(num_classes)
    unions = np.zeros(num_classes)
    for label in range(num_classes):
        true_band = boundary_band(y_true == label, width)
        pred_band = boundary_band(y_pred == label, width)
        intersections[label] = np.count_nonzero(true_band & pred_band)
        unions[label] = np.count_nonzero(true_band | pred_band)
    return _divide_or_nan(intersections, unions)


def mean_boundary_iou(y_true, y_pred, num_classes, width=2):
    """Mean of :func:`per_class_boundary_iou` over the classes present in either map.

    Args:
        y_true, y_pred, num_classes, width: As :func:`per_class_boundary_iou`.

    Returns:
        A float in [0, 1]; ``nan`` if no class is present.

    Raises:
        ValueError: As :func:`per_class_boundary_iou`.
    """
    return _nanmean_or_nan(per_class_boundary_iou(y_true, y_pred, num_classes, width))
