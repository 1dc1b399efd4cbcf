"""Panoptic segmentation: one map for "things" and "stuff", and panoptic quality (NumPy).

A panoptic map gives every pixel a *segment id*, ``class_id * label_divisor + instance``
(``label_divisor`` = 1000 as in Cityscapes' ``instanceIds``): things (countable objects)
have instances 1, 2, ... of their class; stuff (sky, road) has instance 0, one segment per
class. Segment id 0 is **void**: unlabelled pixels, which are not scored. Class ids are
therefore >= 1.

- ``merge_panoptic``: paste instance masks ("things", most confident first) over a
  semantic ("stuff") map, resolving overlaps, dropping tiny leftovers.
- ``panoptic_quality``: PQ = SQ x RQ per class and averaged, with the void handling of
  the COCO panoptic API (``panopticapi/evaluation.py``).
"""

from __future__ import annotations

import numpy as np

VOID = 0
LABEL_DIVISOR = 1000


def _check_int_map(values, name, ndim=(2,)):
    values = np.asarray(values)
    if values.ndim not in ndim or values.dtype.kind not in "iub":
        raise ValueError(f"{name} must be an integer array with {' or '.join(map(str, ndim))} dimensions, "
                         f"got dtype {values.dtype} and shape {values.shape}")
    if values.size and values.min() < 0:
        raise ValueError(f"{name} must hold ids >= 0, got {values.min()}")
    return values.astype(np.int64)


def merge_panoptic(stuff_map, thing_masks, thing_classes, thing_scores=None, *, overlap_threshold=0.5,
                   min_thing_area=1, min_stuff_area=0, thing_class_ids=(), label_divisor=LABEL_DIVISOR):
    """Combine a semantic "stuff" map with instance "things" into one panoptic map.

    As Panoptic FPN / Detectron2 do it: things are pasted in order of decreasing score.
    A thing loses the pixels already taken by a more confident one; if it would lose
    more than ``overlap_threshold`` of its mask, or keep fewer than ``min_thing_area``
    pixels, it is dropped (a duplicate, or a sliver). The k-th kept thing of class c gets
    the id ``c * label_divisor + k``. Every pixel still free takes the stuff class of
    ``stuff_map`` (id ``c * label_divisor``); a stuff region with fewer than
    ``min_stuff_area`` free pixels, stuff class 0 and classes in ``thing_class_ids``
    (the semantic network saw a thing that no instance claims) become void (0).

    Args:
        stuff_map: int (H, W), class id per pixel (0 = void).
        thing_masks: bool (n, H, W); thing_classes: int (n,) class ids >= 1.
        thing_scores: float (n,) confidences, or None (keep the order given).
        overlap_threshold: float in [0, 1].
        min_thing_area, min_stuff_area: ints >= 0, in pixels.
        thing_class_ids: class ids that are things (void where no instance covers them).
        label_divisor: int > every instance number.

    Returns:
        int64 array (H, W) of segment ids.

    Raises:
        ValueError: on inconsistent shapes or lengths, or out-of-range settings.
    """
    stuff_map = _check_int_map(stuff_map, "stuff_map")
    thing_masks = np.asarray(thing_masks)
    if thing_masks.ndim != 3 or thing_masks.shape[1:] != stuff_map.shape:
        raise ValueError(f"thing_masks must be an array (n, H, W) with (H, W) = stuff_map's {stuff_map.shape}, "
                         f"got shape {thing_masks.shape}")
    thing_masks = thing_masks.astype(bool)
    thing_classes = np.asarray(thing_classes, dtype=np.int64).reshape(-1)
    if len(thing_classes) != len(thing_masks) or (thing_classes.size and thing_classes.min() < 1):
        raise ValueError(f"thing_classes must hold one class id >= 1 per mask ({len(thing_masks)}), "
                         f"got {thing_classes.tolist()}")
    scores = (np.zeros(len(thing_masks)) if thing_scores is None
              else np.asarray(thing_scores, dtype=np.float64).reshape(-1))
    if len(scores) != len(thing_masks):
        raise ValueError(f"thing_scores must have one entry per mask ({len(thing_masks)}), got {len(scores)}")
    if not 0.0 <= overlap_threshold <= 1.0:
        raise ValueError(f"overlap_threshold must be in [0, 1], got {overlap_threshold!r}")
    if min_thing_area < 0 or min_stuff_area < 0:
        raise ValueError("min_thing_area and min_stuff_area must be >= 0")

    panoptic = np.zeros(stuff_map.shape, dtype=np.int64)
    taken = np.zeros(stuff_map.shape, dtype=bool)
    next_instance = {}
    for index in np.argsort(-scores, kind="stable"):                 # most confident first
        mask = thing_masks[index]
        area = int(mask.sum())
        if area == 0:
            continue
        free = mask & ~taken
        # overlap as (area - free) / area: 1 - free / area rounds 0.3 up to 0.30000000000000004
        if (area - free.sum()) / area > overlap_threshold or free.sum() < max(min_thing_area, 1):
            continue                                                   # mostly hidden, or a sliver
        class_id = int(thing_classes[index])
        next_instance[class_id] = next_instance.get(class_id, 0) + 1
        if next_instance[class_id] >= label_divisor:
            raise ValueError(f"more than {label_divisor - 1} instances of class {class_id}: raise label_divisor")
        panoptic[free] = class_id * label_divisor + next_instance[class_id]
        taken |= free
    for class_id in np.unique(stuff_map[~taken]):
        region = (stuff_map == class_id) & ~taken
        if class_id == VOID or class_id in set(thing_class_ids) or region.sum() < min_stuff_area:
            continue                                                   # stays void
        panoptic[region] = class_id * label_divisor
    return panoptic


def _accumulate(true_map, pred_map, label_divisor, stats):
    """Add one image's per-class TP, FP, FN and summed TP IoU into ``stats``."""
    # Count the pixels of every (true segment, predicted segment) pair in one pass.
    pairs, counts = np.unique(np.stack([true_map.ravel(), pred_map.ravel()]), axis=1, return_counts=True)
    overlap = {(int(t), int(p)): int(n) for (t, p), n in zip(pairs.T, counts)}
    true_ids, true_areas = np.unique(true_map, return_counts=True)
    pred_ids, pred_areas = np.unique(pred_map, return_counts=True)
    true_area = {int(s): int(a) for s, a in zip(true_ids, true_areas) if s != VOID}
    pred_area = {int(s): int(a) for s, a in zip(pred_ids, pred_areas) if s != VOID}

    matched_true, matched_pred = set(), set()
    for (t, p), intersection in overlap.items():
        if t == VOID or p == VOID or t // label_divisor != p // label_divisor:
            continue
        # COCO: the predicted pixels on void truth count neither for nor against IoU.
        union = true_area[t] + pred_area[p] - intersection - overlap.get((VOID, p), 0)
        iou = intersection / union
        if iou > 0.5:                       # > 0.5: at most one partner per segment
            s = stats.setdefault(t // label_divisor, [0, 0, 0, 0.0])
            s[0] += 1
            s[3] += iou
            matched_true.add(t)
            matched_pred.add(p)
    for t in true_area:
        if t not in matched_true:
            stats.setdefault(t // label_divisor, [0, 0, 0, 0.0])[2] += 1
    for p, area in pred_area.items():
        if p in matched_pred:
            continue
        if overlap.get((VOID, p), 0) / area > 0.5:
            continue                        # COCO: a prediction mostly on void is no FP
        stats.setdefault(p // label_divisor, [0, 0, 0, 0.0])[1] += 1


def panoptic_quality(true_panoptic, pred_panoptic, label_divisor=LABEL_DIVISOR, thing_classes=None):
    """Panoptic quality PQ = SQ x RQ, per class and averaged over classes.

    Per class, over all images: a true and a predicted segment of the class match when
    their IoU is > 0.5 (TP); unmatched predictions are FP, unmatched true segments FN.
    ``SQ = sum of TP IoUs / TP`` (0 without TP), ``RQ = TP / (TP + FP/2 + FN/2)``,
    ``PQ = SQ x RQ``. Void (id 0 in the truth) as in the COCO panoptic API: predicted
    pixels on void are left out of the IoU's union, and an unmatched prediction that lies
    more than half on void is not an FP. Predicted id 0 is "no prediction".

    Args:
        true_panoptic, pred_panoptic: int arrays (H, W) or (N, H, W) of segment ids
            ``class_id * label_divisor + instance`` (0 = void), the same shape.
        label_divisor: int.
        thing_classes: optional iterable of class ids that are things, for the
            ``things`` and ``stuff`` averages.

    Returns:
        dict with ``pq``, ``sq``, ``rq`` (means over the classes that occur, i.e. with
        TP + FP + FN > 0; NaN if none), ``per_class`` {class id: dict(pq, sq, rq, tp, fp,
        fn)} and, with ``thing_classes``, ``things`` and ``stuff``: dict(pq, sq, rq).
        The means of SQ and RQ are taken separately, so mean PQ != mean SQ x mean RQ.

    Raises:
        ValueError: if the maps differ in shape or are not integer arrays of ids >= 0.

    Example (two cars, one matched with IoU 0.75, one missed, one false car):
        per class car: TP 1, FP 1, FN 1 -> SQ 0.75, RQ 1 / (1 + 1/2 + 1/2) = 0.5, PQ 0.375.
    """
    true_panoptic = _check_int_map(true_panoptic, "true_panoptic", (2, 3))
    pred_panoptic = _check_int_map(pred_panoptic, "pred_panoptic", (2, 3))
    if true_panoptic.shape != pred_panoptic.shape:
        raise ValueError(f"true_panoptic and pred_panoptic must have the same shape, got "
                         f"{true_panoptic.shape} and {pred_panoptic.shape}")
    if true_panoptic.ndim == 2:
        true_panoptic, pred_panoptic = true_panoptic[None], pred_panoptic[None]
    stats = {}                                  # class id -> [TP, FP, FN, sum of TP IoUs]
    for true_map, pred_map in zip(true_panoptic, pred_panoptic):
        _accumulate(true_map, pred_map, label_divisor, stats)
    per_class = {}
    for class_id, (tp, fp, fn, iou_sum) in sorted(stats.items()):
        sq = iou_sum / tp if tp else 0.0
        rq = tp / (tp + 0.5 * fp + 0.5 * fn)
        per_class[int(class_id)] = {"pq": sq * rq, "sq": sq, "rq": rq, "tp": tp, "fp": fp, "fn": fn}

    def average(classes):
        rows = [per_class[c] for c in classes if c in per_class]
        if not rows:
            return {"pq": float("nan"), "sq": float("nan"), "rq": float("nan")}
        return {key: float(np.mean([row[key] for row in rows])) for key in ("pq", "sq", "rq")}

    result = {**average(per_class), "per_class": per_class}
    if thing_classes is not None:
        things = {int(c) for c in thing_classes}
        result["things"] = average([c for c in per_class if c in things])
        result["stuff"] = average([c for c in per_class if c not in things])
    return result


def split_panoptic(panoptic, label_divisor=LABEL_DIVISOR):
    """(class map, instance map) of a panoptic map: ``id // label_divisor``, ``id % label_divisor``."""
    panoptic = _check_int_map(panoptic, "panoptic", (2, 3))
    return panoptic // label_divisor, panoptic % label_divisor
