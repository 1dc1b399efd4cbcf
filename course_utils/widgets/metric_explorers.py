"""Explorers of the overlap metrics: Dice and IoU of a predicted rectangle, and of a
probability map under a moving threshold."""

import ipywidgets
import numpy as np

from course_utils import metrics
from course_utils.widgets.explorer import Explorer, int_slider
from course_utils.widgets.grid_drawing import (
    FALSE_NEGATIVE_COLOR,
    FALSE_POSITIVE_COLOR,
    HIGHLIGHT_COLOR,
    TRUE_POSITIVE_COLOR,
)

# --- Metric playground ------------------------------------------------------------------------


def rectangle_mask(size, top, left, height, width):
    """A ``size x size`` bool mask, True in the rectangle (cut off at the border)."""
    mask = np.zeros((size, size), dtype=bool)
    mask[max(top, 0):max(top + height, 0), max(left, 0):max(left + width, 0)] = True
    return mask


def compute_overlap(y_true, y_pred):
    """Pixel counts and scores of two binary masks.

    Returns:
        dict with ``tp``, ``fp``, ``fn``, ``tn`` (ints) and ``dice``, ``iou`` (floats,
        from ``course_utils.metrics``; 1.0 when both masks are empty).
    """
    y_true, y_pred = np.asarray(y_true, dtype=bool), np.asarray(y_pred, dtype=bool)
    return {
        "tp": int(np.count_nonzero(y_true & y_pred)),
        "fp": int(np.count_nonzero(~y_true & y_pred)),
        "fn": int(np.count_nonzero(y_true & ~y_pred)),
        "tn": int(np.count_nonzero(~y_true & ~y_pred)),
        "dice": metrics.dice_coefficient(y_true, y_pred),
        "iou": metrics.iou_score(y_true, y_pred),
    }


def _overlap_image(y_true, y_pred):
    """RGB image: TP green, FP orange, FN blue, TN white."""
    from matplotlib.colors import to_rgb

    image = np.ones(y_true.shape + (3,))
    image[y_true & y_pred] = to_rgb(TRUE_POSITIVE_COLOR)
    image[~y_true & y_pred] = to_rgb(FALSE_POSITIVE_COLOR)
    image[y_true & ~y_pred] = to_rgb(FALSE_NEGATIVE_COLOR)
    return image


def _overlap_legend(ax, counts):
    from matplotlib.patches import Patch

    ax.legend(handles=[
        Patch(color=TRUE_POSITIVE_COLOR, label=f"TP {counts['tp']}"),
        Patch(color=FALSE_POSITIVE_COLOR, label=f"FP {counts['fp']}"),
        Patch(color=FALSE_NEGATIVE_COLOR, label=f"FN {counts['fn']}"),
    ], loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8)


def draw_metric_playground(ax, y_true, y_pred):
    """Draw the overlap of two masks (TP/FP/FN) with Dice and IoU in the title.

    Returns:
        The dict of :func:`compute_overlap`.
    """
    y_true, y_pred = np.asarray(y_true, dtype=bool), np.asarray(y_pred, dtype=bool)
    result = compute_overlap(y_true, y_pred)
    ax.imshow(_overlap_image(y_true, y_pred), interpolation="nearest")
    rows, cols = y_true.shape
    ax.set_xticks(np.arange(-0.5, cols, 1), minor=True)
    ax.set_yticks(np.arange(-0.5, rows, 1), minor=True)
    ax.grid(which="minor", color="0.85", linewidth=0.5)
    ax.tick_params(which="both", length=0, labelbottom=False, labelleft=False)
    ax.set_title(f"Dice {result['dice']:.3f}   IoU {result['iou']:.3f}", fontsize=11)
    ax.set_xlabel(f"Dice = 2TP / (2TP + FP + FN) = {2 * result['tp']} / "
                  f"{2 * result['tp'] + result['fp'] + result['fn']}", fontsize=9)
    _overlap_legend(ax, result)
    return result


def metric_playground_widget(size=10, true_box=(2, 2, 5, 4), pred_box=(3, 3, 5, 4),
                             static=None):
    """Sliders moving and resizing a predicted rectangle over a fixed true rectangle.

    Args:
        size: side of the square masks in pixels.
        true_box, pred_box: ``(top, left, height, width)`` of the ground truth and of the
            initial prediction.
        static: see the module docstring.

    Try: shift the prediction by one pixel, then make it one pixel larger, and compare
    how Dice and IoU react (IoU = Dice / (2 - Dice) is always the stricter one).
    """
    y_true = rectangle_mask(size, *true_box)
    top, left, height, width = pred_box
    controls = {
        "top": int_slider("top", top, 0, size - 1),
        "left": int_slider("left", left, 0, size - 1),
        "height": int_slider("height", height, 0, size),
        "width": int_slider("width", width, 0, size),
    }

    def compute(top, left, height, width):
        return compute_overlap(y_true, rectangle_mask(size, top, left, height, width))

    def draw(ax, top, left, height, width):
        return draw_metric_playground(ax, y_true, rectangle_mask(size, top, left, height, width))

    def describe(result):
        return (f"Dice {result['dice']:.3f}, IoU {result['iou']:.3f} "
                f"(TP {result['tp']}, FP {result['fp']}, FN {result['fn']})")

    return Explorer("Dice and IoU of a predicted rectangle", controls, compute, draw, describe,
                    figsize=(6, 4.5), static=static)


# --- Prediction threshold ------------------------------------------------------------------------


def make_probability_map(size=48, seed=0, softness=2.5, noise=0.15):
    """A ground-truth disk and a network-like probability map of it.

    The probabilities fall off smoothly across the disk's border (a sigmoid of the
    distance to it, ``softness`` pixels wide) and carry some noise, like the output of
    a network that is nearly but not quite sure.

    Returns:
        ``(y_true, probabilities)``: bool ``(size, size)`` and float ``(size, size)`` in [0, 1].
    """
    rng = np.random.default_rng(seed)
    rows, cols = np.mgrid[0:size, 0:size]
    centre_row, centre_col = rng.uniform(0.35, 0.65, size=2) * size
    radius = size * rng.uniform(0.2, 0.3)
    distance_inside = radius - np.hypot(rows - centre_row, cols - centre_col)
    y_true = distance_inside > 0
    # Shift the soft border outwards a little: a biased network, so 0.5 is not the best.
    probabilities = 1.0 / (1.0 + np.exp(-(distance_inside + 1.5) / softness))
    probabilities = probabilities + rng.normal(0.0, noise, size=probabilities.shape)
    return y_true, np.clip(probabilities, 0.0, 1.0)


def compute_threshold_curve(y_true, probabilities, thresholds=None):
    """Dice and IoU of ``probabilities > threshold`` for a range of thresholds.

    Returns:
        dict with ``thresholds``, ``dice`` and ``iou`` (arrays), ``best_threshold`` and
        ``best_dice`` (the threshold with the highest Dice, the first one on ties).
    """
    thresholds = np.linspace(0.0, 1.0, 51) if thresholds is None else np.asarray(thresholds)
    dice = np.array([metrics.dice_coefficient(y_true, probabilities > t) for t in thresholds])
    iou = np.array([metrics.iou_score(y_true, probabilities > t) for t in thresholds])
    best = int(np.argmax(dice))
    return {"thresholds": thresholds, "dice": dice, "iou": iou,
            "best_threshold": float(thresholds[best]), "best_dice": float(dice[best])}


def draw_threshold(axes, y_true, probabilities, threshold):
    """Three Axes: the probability map, the thresholded prediction against the truth, and
    Dice/IoU against the threshold with the current one marked.

    Returns:
        The dict of :func:`compute_overlap` for ``probabilities > threshold``, with
        ``threshold``, ``best_threshold`` and ``best_dice`` added.
    """
    ax_map, ax_mask, ax_curve = axes
    y_true = np.asarray(y_true, dtype=bool)
    probabilities = np.asarray(probabilities)
    y_pred = probabilities > threshold
    result = compute_overlap(y_true, y_pred)
    curve = compute_threshold_curve(y_true, probabilities)
    result.update(threshold=float(threshold), best_threshold=curve["best_threshold"],
                  best_dice=curve["best_dice"])

    image = ax_map.imshow(probabilities, cmap="viridis", vmin=0, vmax=1)
    ax_map.contour(y_true, levels=[0.5], colors="white", linewidths=1)
    ax_map.figure.colorbar(image, ax=ax_map, fraction=0.046, pad=0.04)
    ax_map.set_title("probabilities (white: true border)", fontsize=10)
    ax_map.set_axis_off()

    ax_mask.imshow(_overlap_image(y_true, y_pred), interpolation="nearest")
    ax_mask.set_title(f"threshold {threshold:.2f}: Dice {result['dice']:.3f}, "
                      f"IoU {result['iou']:.3f}", fontsize=10)
    ax_mask.set_axis_off()
    _overlap_legend(ax_mask, result)

    ax_curve.plot(curve["thresholds"], curve["dice"], label="Dice")
    ax_curve.plot(curve["thresholds"], curve["iou"], label="IoU")
    ax_curve.axvline(threshold, color=HIGHLIGHT_COLOR, linestyle="--",
                     label=f"threshold {threshold:.2f}")
    ax_curve.plot([curve["best_threshold"]], [curve["best_dice"]], "k*", markersize=10,
                  label=f"best Dice {curve['best_dice']:.3f} at {curve['best_threshold']:.2f}")
    ax_curve.set_xlabel("threshold")
    ax_curve.set_ylabel("score")
    ax_curve.set_ylim(0, 1.02)
    ax_curve.legend(fontsize=8, loc="lower center")
    ax_curve.set_title("Dice and IoU against the threshold", fontsize=10)
    return result


def threshold_widget(y_true=None, probabilities=None, threshold=0.5, static=None):
    """A threshold slider over a probability map: the mask, Dice/IoU and their curves.

    Args:
        y_true, probabilities: bool mask and float map of the same shape; the synthetic
            pair of :func:`make_probability_map` if None.
        threshold: initial threshold; pixels with probability above it are predicted.
        static: see the module docstring.
    """
    if y_true is None or probabilities is None:
        y_true, probabilities = make_probability_map()
    y_true = np.asarray(y_true, dtype=bool)
    probabilities = np.asarray(probabilities)
    controls = {
        "threshold": ipywidgets.FloatSlider(value=threshold, min=0.0, max=1.0, step=0.02,
                                         description="threshold", continuous_update=False),
    }

    def compute(threshold):
        result = compute_overlap(y_true, probabilities > threshold)
        result["threshold"] = float(threshold)
        return result

    def draw(axes, threshold):
        return draw_threshold(axes, y_true, probabilities, threshold)

    def describe(result):
        return (f"threshold {result['threshold']:.2f}: Dice {result['dice']:.3f}, "
                f"IoU {result['iou']:.3f}")

    return Explorer("Thresholding a probability map", controls, compute, draw, describe,
                    figsize=(13, 4), num_axes=3, static=static)
