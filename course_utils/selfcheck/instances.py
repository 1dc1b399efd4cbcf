"""Self-checks of instance matching and panoptic quality: the mask IoU matrix, COCO's
matching, merging things over stuff, and PQ / SQ / RQ with the COCO panoptic API's void rules.

Assignment ``instance_panoptic``. Each exercise's known-wrong versions come from one factory
whose flags name the mistake (with no flag set it is the right answer, so the student kit
answers it from stored outputs). Panoptic maps hold ``class_id * 1000 + instance``; 0 is void.
"""

import numpy as np

from .engine import _Case, _is_nan_or_error, _Mistake, _Raised, _run_check, _to_numpy, _variant_check

__all__ = ["check_mask_iou_matrix", "check_match_instances", "check_merge_panoptic", "check_panoptic_quality"]

LABEL_DIVISOR = 1000  # segment id = class_id * LABEL_DIVISOR + instance


def _box(y1, x1, y2, x2, size=(8, 8)):
    """A boolean mask of ``size`` with the rectangle [y1:y2, x1:x2] set."""
    mask = np.zeros(size, dtype=bool)
    mask[y1:y2, x1:x2] = True
    return mask


# --- Part 1: the mask IoU matrix ---------------------------------------------------------------


def _iou_matrix_variant(empty_nan=False, dice=False, bool_product=False, transposed=False):
    """``mask_iou_matrix`` with a known mistake: NaN for two empty masks, the Dice
    coefficient, a product of booleans (any overlap) for the intersection, or the matrix
    transposed (predicted masks as rows)."""

    def variant(true_masks, pred_masks):
        rows, cols = np.asarray(true_masks), np.asarray(pred_masks)
        pixels = int(np.prod(rows.shape[1:]))
        rows, cols = rows.reshape(len(rows), pixels) != 0, cols.reshape(len(cols), pixels) != 0
        shared = (rows @ cols.T).astype(np.float64) if bool_product else rows.astype(float) @ cols.astype(float).T
        areas = rows.sum(1)[:, None] + cols.sum(1)[None, :]
        below = areas if dice else areas - shared
        above = 2 * shared if dice else shared
        with np.errstate(invalid="ignore", divide="ignore"):
            result = above / below if empty_nan else np.where(below > 0, above / np.maximum(below, 1), 0.0)
        return result.T if transposed else result

    return variant


def _iou_cases():
    rng = np.random.default_rng(19)
    true_masks = np.stack([_box(0, 0, 2, 2), _box(4, 4, 7, 7)])
    pred_masks = np.stack([_box(0, 0, 2, 4), _box(4, 4, 7, 7), np.zeros((8, 8), bool)])
    return [_Case("the notebook's 2 true and 3 predicted masks", (true_masks, pred_masks)),
            _Case("two empty masks", (np.zeros((1, 8, 8), bool), np.zeros((1, 8, 8), bool))),
            _Case("3 true and 4 predicted random masks (6x6)",
                  (rng.random((3, 6, 6)) < 0.4, rng.random((4, 6, 6)) < 0.4)),
            _Case("no predictions", (true_masks, np.zeros((0, 8, 8), bool)))]


def _nan_for_empty(cases, outputs, expected):
    """Detector: NaN in a result whose expected value has none (0 / 0 for empty masks)."""
    return any(not isinstance(o, _Raised) and _is_nan_or_error(o) and not _is_nan_or_error(e)
               for o, e in zip(outputs, expected))


_IOU_CHECK = _variant_check(
    "mask_iou_matrix", _iou_cases(), _iou_matrix_variant(),
    [("dice", "the Dice coefficient instead of the IoU", (
        "The notebook's first pair shares 4 pixels of a union of 8: IoU 1/2, Dice 2/3.",
        "IoU = intersection / (area_a + area_b - intersection), no factor 2.",
     ), _iou_matrix_variant(dice=True)),
     ("boolean_product", "the intersection is a product of booleans (any overlap), not a count", (
        "With bool arrays, a @ b.T says whether masks overlap, not by how many pixels.",
        "Convert to numbers first: a.astype(np.float64) @ b.astype(np.float64).T.",
     ), _iou_matrix_variant(bool_product=True)),
     ("transposed", "rows and columns are swapped", (
        "Rows are the true masks, columns the predicted ones: the shape is (n, m).",
     ), _iou_matrix_variant(transposed=True))],
    ("intersection = a @ b.T on flattened masks as numbers; union = area_a[:, None] + area_b[None, :] - "
     "intersection; 0 where the union is 0.",),
    extra_mistakes=[_Mistake("nan_for_empty", "two empty masks give NaN", (
        "0 / 0 is NaN: an empty mask matches nothing, its IoU is 0.",
        "np.divide(intersection, union, out=np.zeros_like(intersection), where=union > 0).",
    ), _nan_for_empty)])


def check_mask_iou_matrix(mask_iou_matrix, assignment=None, quiet=False):
    """Check ``mask_iou_matrix(true_masks, pred_masks)`` on the notebook's masks, two empty
    masks, random masks and no predictions.

    Diagnoses: NaN for empty masks, Dice instead of IoU, a boolean product, a transposed matrix.
    """
    return _run_check(_IOU_CHECK, mask_iou_matrix, assignment, quiet)


# --- Part 2: COCO matching ---------------------------------------------------------------------


def _canonical_matching(result):
    """``(matches, false_positives, false_negatives)`` as sorted lists of ints (any order is
    right); a result of another form is returned as it is, to fail the comparison."""
    try:
        matches, false_positives, false_negatives = result
        return ([(int(t), int(p)) for t, p in sorted((int(t), int(p)) for t, p in matches)],
                sorted(int(p) for p in false_positives), sorted(int(t) for t in false_negatives))
    except (TypeError, ValueError):
        return result


def _matching_variant(by_score=True, by_class=True, last_on_ties=True, at_threshold=True, best_pair_first=False):
    """``match_instances`` (its result sorted) with a known mistake: predictions in the given
    order, classes ignored, the first best true instance on a tie, a strict threshold, or
    the best pair of the whole matrix first."""

    def variant(true_masks, true_classes, pred_masks, pred_classes, pred_scores, iou_threshold=0.5):
        overlap = _iou_matrix_variant()(true_masks, pred_masks)
        if by_class:
            overlap[np.asarray(true_classes)[:, None] != np.asarray(pred_classes)[None, :]] = 0.0
        free, pairs = np.ones(overlap.shape[0], bool), []
        unmatched = set(range(overlap.shape[1]))

        def good(value):
            return value > 0 and (value >= iou_threshold if at_threshold else value > iou_threshold)

        if best_pair_first:
            for flat in np.argsort(-overlap, axis=None, kind="stable"):
                t, p = np.unravel_index(flat, overlap.shape)
                if free[t] and p in unmatched and good(overlap[t, p]):
                    pairs.append((int(t), int(p)))
                    free[t] = False
                    unmatched.discard(int(p))
        else:
            order = np.argsort(-np.asarray(pred_scores, float), kind="stable") if by_score else range(overlap.shape[1])
            for p in order:
                column = np.where(free, overlap[:, p], -1.0)
                if not column.size:
                    continue
                best = np.flatnonzero(column == column.max())
                t = int(best[-1] if last_on_ties else best[0])
                if good(column[t]):
                    pairs.append((t, int(p)))
                    free[t] = False
                    unmatched.discard(int(p))
        return _canonical_matching((pairs, sorted(unmatched), list(np.flatnonzero(free))))

    return variant


def _matching_cases():
    true_masks = np.stack([_box(0, 0, 4, 4), _box(4, 4, 8, 8), _box(0, 5, 3, 8)])
    pred_masks = np.stack([_box(0, 0, 4, 3), _box(0, 0, 4, 4), _box(4, 4, 8, 8), _box(6, 0, 8, 2)])
    scene = (true_masks, np.array([1, 1, 2]), pred_masks, np.array([1, 1, 2, 1]))
    one = (np.stack([_box(0, 0, 4, 4)]), np.array([1]))
    return [
        _Case("the notebook's scene (a confident exact prediction, a duplicate, a wrong class, one on nothing)",
              scene + (np.array([0.6, 0.9, 0.8, 0.3]),)),
        _Case("the notebook's scene with the duplicate the most confident", scene + (np.array([0.9, 0.6, 0.8, 0.3]),)),
        _Case("an IoU of exactly 0.5 at threshold 0.5",
              one + (np.stack([_box(0, 0, 4, 2), _box(6, 6, 8, 8)]), np.array([1, 1]), np.array([0.9, 0.8]))),
        _Case("an exact IoU tie between two true instances",
              (np.stack([_box(0, 0, 2, 2), _box(0, 2, 2, 4)]), np.array([1, 1]),
               np.stack([_box(0, 0, 2, 4), _box(0, 0, 2, 2)]), np.array([1, 1]), np.array([0.9, 0.8]))),
        _Case("no true instances", (np.zeros((0, 8, 8), bool), np.zeros(0, int), np.stack([_box(0, 0, 2, 2)]),
                                    np.array([1]), np.array([0.5])))]


def _matching_check():
    return _variant_check(
        "match_instances", _matching_cases(), _matching_variant(),
        [("ignores_scores", "the predictions are handled in the order given, not by decreasing score", (
            "Which prediction takes true 0 when the duplicate is the more confident one?",
            "for p in np.argsort(-scores, kind='stable'): the most confident prediction first.",
         ), _matching_variant(by_score=False)),
         ("ignores_classes", "a prediction can match a true instance of another class", (
            "A prediction of class 2 may not match a true instance of class 1, however well it overlaps.",
            "Set the IoU of pairs of different classes to 0 before matching.",
         ), _matching_variant(by_class=False)),
         ("best_pair_first", "the best pair of the whole matrix is taken first, whatever the scores", (
            "COCO goes through the predictions by score; each takes its best still free true instance.",
         ), _matching_variant(best_pair_first=True)),
         ("first_on_ties", "on an exact IoU tie the first true instance is taken", (
            "np.argmax returns the first maximum; COCO (pycocotools) takes the last one.",
            "t = len(c) - 1 - np.argmax(c[::-1]) takes the last of the tied true instances.",
         ), _matching_variant(last_on_ties=False)),
         ("strict_threshold", "an IoU equal to the threshold is no match", (
            "The comparison is >=: an IoU of exactly 0.5 matches at threshold 0.5.",
         ), _matching_variant(at_threshold=False))],
        ("Predictions by decreasing score (stable); each takes the free true instance of its class with the "
         "highest IoU (the last on a tie) if that IoU >= the threshold.",))


_MATCHING_CHECK = _matching_check()


def check_match_instances(match_instances, assignment=None, quiet=False):
    """Check ``match_instances(...)`` (compared in sorted order) on the notebook's scene with
    both score orders, an IoU at the threshold, an exact tie and no true instances.

    Diagnoses: scores ignored, classes ignored, the best pair first, the first on ties, a
    strict threshold.
    """
    def sorted_result(*args, **kwargs):
        return _canonical_matching(match_instances(*args, **kwargs))

    return _run_check(_MATCHING_CHECK, sorted_result, assignment, quiet)


# --- Part 3: things over stuff ------------------------------------------------------------------


def _merge_variant(by_score=True, overwrite=False, global_numbers=False, overlap_rule=True):
    """``merge_panoptic`` with a known mistake: things in the given order, a thing pasted
    over the ones before it, instances numbered over all classes, or no drop rule."""

    def variant(stuff_map, thing_masks, thing_classes, thing_scores, overlap_threshold=0.5):
        stuff = np.asarray(stuff_map).astype(np.int64)
        masks = np.asarray(thing_masks).astype(bool)
        segments, occupied, numbers = stuff * LABEL_DIVISOR, np.zeros(stuff.shape, bool), {}
        order = np.argsort(-np.asarray(thing_scores, float), kind="stable") if by_score else range(len(masks))
        for k in order:
            area, hidden = int(masks[k].sum()), int((masks[k] & occupied).sum())
            if area == 0 or hidden == area or (overlap_rule and hidden / area > overlap_threshold):
                continue
            key = 0 if global_numbers else int(thing_classes[k])
            numbers[key] = numbers.get(key, 0) + 1
            where = masks[k] if overwrite else masks[k] & ~occupied
            segments[where] = int(thing_classes[k]) * LABEL_DIVISOR + numbers[key]
            occupied |= masks[k]
        return segments

    return variant


def _merge_cases():
    rng = np.random.default_rng(31)
    stuff = np.ones((4, 6), dtype=np.int64)          # sky
    stuff[2:] = 2
    cars = np.stack([_box(1, 0, 4, 3, (4, 6)), _box(1, 2, 4, 5, (4, 6)), _box(1, 1, 4, 4, (4, 6)),
                     _box(0, 5, 1, 6, (4, 6))])
    random_stuff = rng.integers(5, 8, (10, 12))
    random_stuff[rng.random((10, 12)) < 0.1] = 0
    things = np.zeros((7, 10, 12), bool)
    for k in range(7):
        top, left = rng.integers(0, 7, 2)
        things[k, top:top + rng.integers(2, 5), left:left + rng.integers(2, 6)] = True
    classes, scores = rng.integers(1, 4, 7), rng.permutation(7) / 7
    return [_Case("the notebook's sky over road with three cars and a person",
                  (stuff, cars, np.array([3, 3, 3, 4]), np.array([0.6, 0.9, 0.5, 0.1]))),
            _Case("random stuff (with void) and 7 things at overlap_threshold 0.3",
                  (random_stuff, things, classes, scores), {"overlap_threshold": 0.3}),
            _Case("the same at overlap_threshold 0.8", (random_stuff, things, classes, scores),
                  {"overlap_threshold": 0.8})]


_MERGE_CHECK = _variant_check(
    "merge_panoptic", _merge_cases(), _merge_variant(),
    [("ignores_scores", "the things are pasted in the order given, not by decreasing score", (
        "Which car wins the pixels both cars cover? The more confident one.",
        "for k in np.argsort(-scores, kind='stable'): the most confident thing first.",
     ), _merge_variant(by_score=False)),
     ("overwrites", "a thing is pasted over the things before it", (
        "Paste only the free pixels (mask & ~taken): the more confident thing keeps the overlap.",
     ), _merge_variant(overwrite=True)),
     ("global_numbers", "the instances are numbered over all classes, not per class", (
        "The first person is 4001 even after two cars: count the kept things of each class.",
        "A dict {class_id: count}: count[c] = count.get(c, 0) + 1.",
     ), _merge_variant(global_numbers=True)),
     ("no_overlap_rule", "a thing that loses more than overlap_threshold of its mask is kept", (
        "Drop a thing when (mask & taken).sum() / mask.sum() > overlap_threshold: it is a duplicate.",
     ), _merge_variant(overlap_rule=False))],
    ("Things by decreasing score; drop a thing that loses more than overlap_threshold of its mask or keeps "
     "nothing; its free pixels get class * 1000 + its number in its class; the rest stuff * 1000.",))


def check_merge_panoptic(merge_panoptic, assignment=None, quiet=False):
    """Check ``merge_panoptic(...)`` on the notebook's street and random things over stuff.

    Diagnoses: scores ignored, overwriting, numbers over all classes, no drop rule.
    """
    return _run_check(_MERGE_CHECK, merge_panoptic, assignment, quiet)


# --- Part 4: panoptic quality -------------------------------------------------------------------


def _pq_variant(match_at_half=False, void_in_union=False, fp_on_void=False, product_of_means=False):
    """``panoptic_quality`` with a known mistake: a match at IoU >= 1/2, void pixels left in
    the union, every unmatched prediction an FP (also on void), or PQ as the product of the
    mean SQ and the mean RQ."""

    def variant(true_map, pred_map):
        truth, pred = np.asarray(true_map), np.asarray(pred_map)
        unlabelled = truth == 0
        per_class = {}                          # class -> [tp, fp, fn, sum of IoUs]
        true_ids, pred_ids = sorted(set(np.unique(truth)) - {0}), sorted(set(np.unique(pred)) - {0})
        found_true, found_pred = set(), set()
        for t in true_ids:
            for p in pred_ids:
                if t // LABEL_DIVISOR == p // LABEL_DIVISOR:
                    a, b = truth == t, pred == p
                    both = int((a & b).sum())
                    union = int(a.sum() + b.sum()) - both - (0 if void_in_union else int((b & unlabelled).sum()))
                    if both and (both / union >= 0.5 if match_at_half else both / union > 0.5):
                        row = per_class.setdefault(t // LABEL_DIVISOR, [0, 0, 0, 0.0])
                        row[0] += 1
                        row[3] += both / union
                        found_true.add(t)
                        found_pred.add(p)
        for t in set(true_ids) - found_true:
            per_class.setdefault(t // LABEL_DIVISOR, [0, 0, 0, 0.0])[2] += 1
        for p in set(pred_ids) - found_pred:
            segment = pred == p
            if fp_on_void or (segment & unlabelled).sum() <= 0.5 * segment.sum():
                per_class.setdefault(p // LABEL_DIVISOR, [0, 0, 0, 0.0])[1] += 1
        sq = [row[3] / row[0] if row[0] else 0.0 for row in per_class.values()]
        rq = [row[0] / (row[0] + 0.5 * (row[1] + row[2])) for row in per_class.values()]
        pq = float(np.mean(sq) * np.mean(rq)) if product_of_means else float(np.mean([s * r for s, r in zip(sq, rq)]))
        return pq, float(np.mean(sq)), float(np.mean(rq))

    return variant


def _pq_cases():
    truth = 1000 * np.ones((10, 10), dtype=np.int64)
    truth[4:] = 2000
    truth[5:8, 1:4], truth[5:8, 6:9] = 3001, 3002
    pred = 1000 * np.ones((10, 10), dtype=np.int64)
    pred[4:] = 2000
    pred[5:8, 1:5], pred[1:3, 7:9] = 3001, 3003
    truth_void = np.full((4, 4), 1000)
    truth_void[:, 3] = 0
    pred_void = np.full((4, 4), 1000)
    pred_void[0:2, 2:4], pred_void[3, 3] = 2001, 3001
    half_truth = np.full((4, 4), 1000)
    half_truth[:, :2] = 2001
    half_pred = np.full((4, 4), 1000)
    half_pred[:, 1:3] = 2001                   # IoU 4 / 12: no match; then exactly 1/2 below
    exact_pred = np.full((4, 4), 1000)
    exact_pred[:, 0:1] = 2001                  # 4 of 8: IoU exactly 1/2
    return [_Case("the notebook's 10x10 street", (truth, pred)),
            _Case("the notebook's void example", (truth_void, pred_void)),
            _Case("a thing shifted by one column", (half_truth, half_pred)),
            _Case("a predicted thing of IoU exactly 1/2", (half_truth, exact_pred))]


_PQ_CHECK = _variant_check(
    "panoptic_quality", _pq_cases(), _pq_variant(),
    [("match_at_half", "an IoU of exactly 1/2 counts as a match", (
        "The match condition is iou > 0.5, not >=: only then is the match unique.",
     ), _pq_variant(match_at_half=True)),
     ("void_in_union", "the predicted pixels on void stay in the union", (
        "Pixels whose true id is 0 are not scored: union = |true| + |pred| - |intersection| - |pred on void|.",
     ), _pq_variant(void_in_union=True)),
     ("fp_on_void", "a prediction lying mostly on void counts as a false positive", (
        "An unmatched predicted segment with more than half of its pixels on void is not an FP.",
     ), _pq_variant(fp_on_void=True)),
     ("product_of_means", "PQ is the product of the mean SQ and the mean RQ", (
        "Average PQ_c = SQ_c x RQ_c over the classes: the mean of products, not the product of means.",
     ), _pq_variant(product_of_means=True))],
    ("Per class: TP pairs with IoU > 1/2 (void left out of the union), FP, FN (not an FP mostly on void); "
     "SQ, RQ, PQ per class; each averaged over the classes.",),
    output_ok=lambda output: isinstance(output, _Raised) or (
        isinstance(output, tuple) and len(output) == 3 and all(np.ndim(_to_numpy(v)) == 0 for v in output)))


def check_panoptic_quality(panoptic_quality, assignment=None, quiet=False):
    """Check ``panoptic_quality(true_map, pred_map)`` on the notebook's street and void
    example and on IoUs just below and exactly at 1/2.

    Diagnoses: a match at IoU 1/2, void in the union, FPs on void, the product of the means.
    """
    return _run_check(_PQ_CHECK, panoptic_quality, assignment, quiet)
