"""Scoring instance segmentation: mask IoU, matching and COCO-style mask AP (NumPy).

An instance prediction is a *set* of masks, each with a class and a confidence score, in
no particular order. To score it:

1. ``mask_iou_matrix``: the IoU of every (true, predicted) pair of masks;
2. ``match_instances``: pair predictions with true instances of the same class at an IoU
   threshold (each instance used at most once): matched pairs are true positives (TP),
   unmatched predictions false positives (FP), unmatched true instances false negatives;
3. ``mask_average_precision``: COCO's mask AP. Per class, rank all predictions of the
   data set by score, match them image by image, and take the area under the
   precision/recall curve (101-point interpolation); average over the classes and over
   the IoU thresholds 0.50, 0.55, ..., 0.95 (AP), or at IoU 0.5 only (AP50).

Conventions: masks are boolean arrays (n, H, W); class ids are ints >= 1 (0 is the
background and never an instance).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from scipy.optimize import linear_sum_assignment

# COCO's thresholds for AP: 0.50, 0.55, ..., 0.95 (ten values).
COCO_IOU_THRESHOLDS = np.round(np.linspace(0.5, 0.95, 10), 2)
# COCO's 101 recall levels 0.00, 0.01, ..., 1.00 for the interpolated precision.
RECALL_LEVELS = np.linspace(0.0, 1.0, 101)


def _as_masks(masks, name):
    """(n, H, W) boolean array from bool/0-1 input; ValueError naming ``name`` otherwise."""
    masks = np.asarray(masks)
    if masks.ndim != 3:
        raise ValueError(f"{name} must be an array (n, H, W) of n masks, got shape {masks.shape}")
    if masks.dtype != bool:
        if masks.size and not np.isin(masks, (0, 1)).all():
            raise ValueError(f"{name} must hold only 0/1 or True/False, got other values")
        masks = masks.astype(bool)
    return masks


def _as_vector(values, name, length, dtype):
    values = np.asarray(values, dtype=dtype).reshape(-1) if np.ndim(values) else np.asarray([values], dtype)
    if len(values) != length:
        raise ValueError(f"{name} must have one entry per mask ({length}), got {len(values)}")
    return values


def mask_iou_matrix(masks_a, masks_b):
    """IoU of every pair of masks: ``iou[i, j] = |a_i and b_j| / |a_i or b_j|``.

    Args:
        masks_a: bool or 0/1 array (n, H, W).
        masks_b: bool or 0/1 array (m, H, W), the same H and W.

    Returns:
        float64 array (n, m) in [0, 1]. Two empty masks have IoU 0 (an empty mask
        matches nothing).

    Raises:
        ValueError: if an argument is not a stack of 0/1 masks or the sizes differ.

    Example:
        >>> a = np.array([[[1, 1], [0, 0]]])          # one mask: the top row
        >>> b = np.array([[[1, 0], [0, 0]], [[0, 0], [1, 1]]])
        >>> mask_iou_matrix(a, b)
        array([[0.5, 0. ]])
    """
    masks_a, masks_b = _as_masks(masks_a, "masks_a"), _as_masks(masks_b, "masks_b")
    if masks_a.shape[1:] != masks_b.shape[1:]:
        raise ValueError(f"masks_a and masks_b must have the same height and width, got "
                         f"{masks_a.shape[1:]} and {masks_b.shape[1:]}")
    pixels = int(np.prod(masks_a.shape[1:]))
    flat_a = masks_a.reshape(len(masks_a), pixels).astype(np.float64)
    flat_b = masks_b.reshape(len(masks_b), pixels).astype(np.float64)
    intersection = flat_a @ flat_b.T                                 # (n, m) pixel counts
    union = flat_a.sum(1)[:, None] + flat_b.sum(1)[None, :] - intersection
    return np.divide(intersection, union, out=np.zeros_like(intersection), where=union > 0)


class Matching(NamedTuple):
    """The result of ``match_instances``.

    ``matches``: list of (true index, predicted index, IoU), the true positives;
    ``false_positives``: predicted indices left unmatched; ``false_negatives``: true
    indices left unmatched. Indices refer to the order of the arrays passed in.
    """

    matches: list
    false_positives: list
    false_negatives: list


def match_instances(true_masks, true_classes, pred_masks, pred_classes, pred_scores=None,
                    iou_threshold=0.5, method="greedy"):
    """Match predicted to true instances of the same class by mask IoU.

    ``method="greedy"`` (COCO): predictions in order of decreasing score (ties: the order
    given); each takes the still unmatched true instance of its class with the highest
    IoU, if that IoU is >= ``iou_threshold``. A confident duplicate therefore steals the
    match from a less confident prediction, which then counts as a false positive.
    Exact IoU ties between true instances go to the **last** of them in the order given,
    as in pycocotools (``COCOeval.evaluateImg`` keeps scanning and replaces its best
    match whenever an IoU is not smaller). Unlike pycocotools there are no crowd or
    ignored true instances, and an IoU of 0 never matches, even at ``iou_threshold=0``.
    ``method="hungarian"``: the one-to-one assignment with the largest total IoU
    (``scipy.optimize.linear_sum_assignment``), then pairs below the threshold are
    dropped; scores are not used. With ``iou_threshold > 0.5`` and non-overlapping masks
    both give the same pairs.

    Args:
        true_masks: bool (n, H, W); true_classes: int (n,) class ids.
        pred_masks: bool (m, H, W); pred_classes: int (m,).
        pred_scores: float (m,) confidences, or None (all equal).
        iou_threshold: float in [0, 1].
        method: "greedy" or "hungarian".

    Returns:
        ``Matching(matches, false_positives, false_negatives)``.

    Raises:
        ValueError: on inconsistent lengths or sizes, a bad threshold or method.
    """
    if method not in ("greedy", "hungarian"):
        raise ValueError(f"method must be 'greedy' or 'hungarian', got {method!r}")
    if not 0.0 <= float(iou_threshold) <= 1.0:
        raise ValueError(f"iou_threshold must be in [0, 1], got {iou_threshold!r}")
    true_masks, pred_masks = _as_masks(true_masks, "true_masks"), _as_masks(pred_masks, "pred_masks")
    true_classes = _as_vector(true_classes, "true_classes", len(true_masks), np.int64)
    pred_classes = _as_vector(pred_classes, "pred_classes", len(pred_masks), np.int64)
    scores = (np.ones(len(pred_masks)) if pred_scores is None
              else _as_vector(pred_scores, "pred_scores", len(pred_masks), np.float64))
    iou = mask_iou_matrix(true_masks, pred_masks) if len(true_masks) and len(pred_masks) else \
        np.zeros((len(true_masks), len(pred_masks)))
    iou[true_classes[:, None] != pred_classes[None, :]] = 0.0   # only the same class can match
    matches = []
    if method == "hungarian":
        for t, p in zip(*linear_sum_assignment(-iou)):
            if iou[t, p] >= iou_threshold and iou[t, p] > 0:
                matches.append((int(t), int(p), float(iou[t, p])))
    else:
        true_taken = np.zeros(len(true_masks), dtype=bool)
        for p in np.argsort(-scores, kind="stable"):              # most confident first
            candidates = np.where(true_taken, -1.0, iou[:, p])
            if candidates.size == 0:
                break
            t = len(candidates) - 1 - int(np.argmax(candidates[::-1]))   # ties: the last one
            if candidates[t] >= iou_threshold and candidates[t] > 0:
                matches.append((t, int(p), float(iou[t, p])))
                true_taken[t] = True
    matched_true = {t for t, _, _ in matches}
    matched_pred = {p for _, p, _ in matches}
    return Matching(
        matches=sorted(matches),
        false_positives=[p for p in range(len(pred_masks)) if p not in matched_pred],
        false_negatives=[t for t in range(len(true_masks)) if t not in matched_true],
    )


def interpolated_average_precision(precision, recall, recall_levels=RECALL_LEVELS):
    """Area under a precision/recall curve, COCO style (101-point interpolation).

    The precision is first made non-increasing (at each point, the best precision at
    this or any higher recall); then it is read at each recall level r (the first
    point whose recall is >= r, 0 if the curve never reaches r) and averaged.

    Args:
        precision, recall: float arrays (k,) after each of the k ranked predictions
            (recall non-decreasing).

    Returns:
        float in [0, 1].
    """
    precision = np.asarray(precision, dtype=np.float64)
    recall = np.asarray(recall, dtype=np.float64)
    if precision.shape != recall.shape or precision.ndim != 1:
        raise ValueError(f"precision and recall must be 1-D arrays of the same length, got "
                         f"{precision.shape} and {recall.shape}")
    if precision.size == 0:
        return 0.0
    envelope = np.maximum.accumulate(precision[::-1])[::-1]
    positions = np.searchsorted(recall, recall_levels, side="left")
    sampled = np.where(positions < len(envelope), envelope[np.minimum(positions, len(envelope) - 1)], 0.0)
    return float(sampled.mean())


def _check_images(items, name, with_scores):
    if isinstance(items, dict):
        raise ValueError(f"{name} must be a list with one dict per image, got a single dict")
    checked = []
    for i, item in enumerate(items):
        keys = ("masks", "class_ids") + (("scores",) if with_scores else ())
        missing = [k for k in keys if k not in item]
        if missing:
            raise ValueError(f"{name}[{i}] lacks the keys {missing}; expected a dict with {list(keys)}")
        masks = _as_masks(item["masks"], f"{name}[{i}]['masks']")
        classes = _as_vector(item["class_ids"], f"{name}[{i}]['class_ids']", len(masks), np.int64)
        scores = (_as_vector(item["scores"], f"{name}[{i}]['scores']", len(masks), np.float64)
                  if with_scores else None)
        checked.append((masks, classes, scores))
    return checked


def mask_average_precision(ground_truth, predictions, iou_thresholds=COCO_IOU_THRESHOLDS):
    """COCO-style mask AP of a data set of instance predictions.

    For each class and IoU threshold: all predictions of that class over all images are
    ranked by score; each is a TP if ``match_instances`` (greedy, per image, at that
    threshold) matches it, else an FP; precision and recall after each prediction give
    the curve, whose interpolated area (``interpolated_average_precision``) is the AP.
    Classes without any true instance are left out (as in COCO). Exact IoU ties go to the
    last true instance, as in pycocotools. Unlike COCO there are no area ranges, crowd
    regions or a cap of 100 detections per image.

    Args:
        ground_truth: list, one dict per image, with ``masks`` bool (n, H, W) and
            ``class_ids`` int (n,).
        predictions: list of the same length, dicts with ``masks`` (m, H, W),
            ``class_ids`` (m,) and ``scores`` float (m,).
        iou_thresholds: the thresholds to average over (COCO: 0.50:0.05:0.95).

    Returns:
        dict with ``ap`` (mean over classes and thresholds), ``ap50`` and ``ap75`` (at
        IoU 0.5 / 0.75, NaN when not among the thresholds), ``per_class`` {class id: AP
        over the thresholds} and ``per_threshold`` {threshold: AP over the classes}.
        NaN values when no image has a true instance.

    Raises:
        ValueError: if the lists differ in length or an entry is malformed.
    """
    truths = _check_images(ground_truth, "ground_truth", with_scores=False)
    preds = _check_images(predictions, "predictions", with_scores=True)
    if len(truths) != len(preds):
        raise ValueError(f"ground_truth and predictions must have one entry per image, got "
                         f"{len(truths)} and {len(preds)}")
    thresholds = np.asarray(iou_thresholds, dtype=np.float64).reshape(-1)
    classes = sorted({int(c) for _, true_classes, _ in truths for c in true_classes})
    ap = np.full((len(classes), len(thresholds)), np.nan)
    for ci, class_id in enumerate(classes):
        num_true = sum(int(np.sum(tc == class_id)) for _, tc, _ in truths)
        for ti, threshold in enumerate(thresholds):
            scores, is_tp = [], []
            for (true_masks, true_classes, _), (pred_masks, pred_classes, pred_scores) in zip(truths, preds):
                t_sel, p_sel = true_classes == class_id, pred_classes == class_id
                if not p_sel.any():
                    continue
                matching = match_instances(true_masks[t_sel], true_classes[t_sel], pred_masks[p_sel],
                                           pred_classes[p_sel], pred_scores[p_sel], threshold)
                hits = np.zeros(int(p_sel.sum()), dtype=bool)
                hits[[p for _, p, _ in matching.matches]] = True
                scores.extend(pred_scores[p_sel])
                is_tp.extend(hits)
            order = np.argsort(-np.asarray(scores), kind="stable")
            tp = np.cumsum(np.asarray(is_tp, dtype=bool)[order])
            fp = np.cumsum(~np.asarray(is_tp, dtype=bool)[order])
            precision = tp / np.maximum(tp + fp, 1)
            recall = tp / num_true
            ap[ci, ti] = interpolated_average_precision(precision, recall)

    def at(value):
        hit = np.flatnonzero(np.isclose(thresholds, value))
        return float(np.mean(ap[:, hit[0]])) if hit.size and classes else float("nan")

    return {
        "ap": float(np.mean(ap)) if classes else float("nan"),
        "ap50": at(0.5),
        "ap75": at(0.75),
        "per_class": {c: float(np.mean(ap[i])) for i, c in enumerate(classes)},
        "per_threshold": {float(t): (float(np.mean(ap[:, i])) if classes else float("nan"))
                          for i, t in enumerate(thresholds)},
    }


def instance_map(masks, start=1):
    """Paint instance masks into one int map: pixel = k for the k-th mask (0 elsewhere).

    Later masks are painted over earlier ones where they overlap.

    Args:
        masks: bool (n, H, W).
        start: id of the first mask.

    Returns:
        int32 array (H, W).
    """
    masks = _as_masks(masks, "masks")
    out = np.zeros(masks.shape[1:], dtype=np.int32)
    for k, mask in enumerate(masks, start=start):
        out[mask] = k
    return out
