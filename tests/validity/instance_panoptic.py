"""Validity variants of ``instance_panoptic``: correct answers written differently, common wrong
answers, the students of its real sandboxed batch and its "library-answers" student
(what each field means: tests/validity/variant.py)."""

from __future__ import annotations

from tests.validity.variant import Variant

VARIANTS = [
    Variant("iou-loops", "iou_matrix", code='''
def mask_iou_matrix(true_masks, pred_masks):
    out = np.zeros((len(true_masks), len(pred_masks)))
    for i, a in enumerate(np.asarray(true_masks) != 0):
        for j, b in enumerate(np.asarray(pred_masks) != 0):
            union = np.count_nonzero(a | b)
            out[i, j] = np.count_nonzero(a & b) / union if union else 0.0
    return out
'''),
    Variant("iou-empty-nan", "iou_matrix", {"test_iou_matrix_visible": "Two empty masks should have IoU 0",
                                            "test_iou_matrix_hidden": "wrong values"},
            edits=[("return np.divide(intersection, union, out=np.zeros_like(intersection), where=union > 0)",
                    "with np.errstate(invalid='ignore'):\n        return intersection / union")]),
    Variant("iou-dice", "iou_matrix", {"test_iou_matrix_visible": "4 shared pixels of 8 in the union",
                                       "test_iou_matrix_hidden": "wrong values"}, also_fails={"test_matching_hidden"},
            edits=[("return np.divide(intersection, union,",
                    "return np.divide(2 * intersection, union + intersection,")]),
    Variant("matching-sorted-by-key", "matching", code='''
def match_instances(true_masks, true_classes, pred_masks, pred_classes, pred_scores, iou_threshold=0.5):
    iou = mask_iou_matrix(true_masks, pred_masks)
    order = sorted(range(len(pred_scores)), key=lambda p: -float(pred_scores[p]))   # sorted() is stable
    free = set(range(len(true_classes)))
    matches = []
    for p in order:
        best, best_iou = None, iou_threshold
        for t in sorted(free):
            if true_classes[t] == pred_classes[p] and iou[t, p] >= best_iou and iou[t, p] > 0:
                best, best_iou = t, iou[t, p]          # >=: an exact tie goes to the last one
        if best is not None:
            matches.append((best, p))
            free.discard(best)
    matched = {p for _, p in matches}
    return matches, [p for p in range(len(pred_scores)) if p not in matched], sorted(free)
'''),
    Variant("matching-ignores-scores", "matching", {"test_matching_visible": "is handled before its duplicate",
                                                    "test_matching_hidden": "wrong matches"},
            edits=[('for p in np.argsort(-np.asarray(pred_scores, dtype=float), kind="stable"):',
                    "for p in range(len(pred_classes)):")]),
    Variant("matching-ignores-classes", "matching", {"test_matching_visible": "p2 has the wrong class",
                                                     "test_matching_hidden": "wrong"},
            edits=[("    iou[true_classes[:, None] != pred_classes[None, :]] = 0.0\n", "")]),
    Variant("matching-best-pair-first", "matching", {"test_matching_visible": "With p0 the most confident",
                                                     "test_matching_hidden": "wrong"}, code='''
def match_instances(true_masks, true_classes, pred_masks, pred_classes, pred_scores, iou_threshold=0.5):
    iou = mask_iou_matrix(true_masks, pred_masks)
    iou[np.asarray(true_classes)[:, None] != np.asarray(pred_classes)[None, :]] = 0.0
    matches = []
    while iou.size and iou.max() >= iou_threshold and iou.max() > 0:
        t, p = np.unravel_index(np.argmax(iou), iou.shape)
        matches.append((int(t), int(p)))
        iou[t, :] = 0.0
        iou[:, p] = 0.0
    matched_t, matched_p = {t for t, _ in matches}, {p for _, p in matches}
    return (matches, [p for p in range(len(pred_classes)) if p not in matched_p],
            [t for t in range(len(true_classes)) if t not in matched_t])
'''),
    Variant("matching-first-on-ties", "matching", {"test_matching_hidden": "an exact IoU tie"},
            edits=[("t = len(candidates) - 1 - int(np.argmax(candidates[::-1])) if len(candidates) else -1",
                    "t = int(np.argmax(candidates)) if len(candidates) else -1")]),
    Variant("matching-strict-threshold", "matching", {"test_matching_hidden": "wrong matches"},
            edits=[("candidates[t] >= iou_threshold", "candidates[t] > iou_threshold")]),
    Variant("merge-sorted-loop", "merge", code='''
def merge_panoptic(stuff_map, thing_masks, thing_classes, thing_scores, overlap_threshold=0.5):
    stuff_map = np.asarray(stuff_map)
    out = stuff_map.astype(np.int64) * 1000
    taken = np.zeros(stuff_map.shape, dtype=bool)
    numbers = {}
    for k in sorted(range(len(thing_scores)), key=lambda i: -float(thing_scores[i])):
        mask = np.asarray(thing_masks[k], dtype=bool)
        overlap = np.count_nonzero(mask & taken)
        if not mask.any() or overlap == np.count_nonzero(mask) or overlap > overlap_threshold * np.count_nonzero(mask):
            continue
        c = int(thing_classes[k])
        numbers[c] = numbers.get(c, 0) + 1
        out[mask & ~taken] = c * 1000 + numbers[c]
        taken |= mask
    return out
'''),
    Variant("merge-ignores-scores", "merge", {"test_merge_visible": "Expected",
                                              "test_merge_hidden": "wrong segment ids"},
            edits=[('for k in np.argsort(-np.asarray(thing_scores, dtype=float), kind="stable"):',
                    "for k in range(len(thing_classes)):")]),
    Variant("merge-overwrites", "merge", {"test_merge_visible": "Expected", "test_merge_hidden": "wrong segment ids"},
            edits=[("panoptic[free] = class_id", "panoptic[mask] = class_id")]),
    Variant("merge-global-numbers", "merge", {"test_merge_visible": "Expected",
                                              "test_merge_hidden": "wrong segment ids"},
            edits=[("counts[class_id] = counts.get(class_id, 0) + 1\n"
                    "        panoptic[free] = class_id * LABEL_DIVISOR + counts[class_id]",
                    "counts[0] = counts.get(0, 0) + 1\n"
                    "        panoptic[free] = class_id * LABEL_DIVISOR + counts[0]")]),
    Variant("merge-no-overlap-rule", "merge", {"test_merge_hidden": "wrong segment ids"},
            edits=[(" or (mask & taken).sum() / area > overlap_threshold", "")]),
    Variant("pq-pair-counts", "pq", code='''
def panoptic_quality(true_map, pred_map):
    t, p = np.asarray(true_map).ravel(), np.asarray(pred_map).ravel()
    pairs, counts = np.unique(np.stack([t, p]), axis=1, return_counts=True)
    inter = {(int(a), int(b)): int(n) for (a, b), n in zip(pairs.T, counts)}
    t_area = {int(s): int(n) for s, n in zip(*np.unique(t, return_counts=True)) if s != 0}
    p_area = {int(s): int(n) for s, n in zip(*np.unique(p, return_counts=True)) if s != 0}
    tp, fp, fn, iou_sum = {}, {}, {}, {}
    hit_t, hit_p = set(), set()
    for (a, b), n in inter.items():
        if a and b and a // 1000 == b // 1000:
            iou = n / (t_area[a] + p_area[b] - n - inter.get((0, b), 0))
            if iou > 0.5:
                c = a // 1000
                tp[c] = tp.get(c, 0) + 1
                iou_sum[c] = iou_sum.get(c, 0.0) + iou
                hit_t.add(a); hit_p.add(b)
    for a in t_area:
        if a not in hit_t:
            fn[a // 1000] = fn.get(a // 1000, 0) + 1
    for b, area in p_area.items():
        if b not in hit_p and inter.get((0, b), 0) <= area / 2:
            fp[b // 1000] = fp.get(b // 1000, 0) + 1
    classes = set(tp) | set(fp) | set(fn)
    sq = [iou_sum.get(c, 0.0) / tp[c] if tp.get(c) else 0.0 for c in classes]
    rq = [tp.get(c, 0) / (tp.get(c, 0) + fp.get(c, 0) / 2 + fn.get(c, 0) / 2) for c in classes]
    return float(np.mean([s * r for s, r in zip(sq, rq)])), float(np.mean(sq)), float(np.mean(rq))
'''),
    Variant("pq-match-at-half", "pq", {"test_pq_hidden": "wrong (pq, sq, rq)"},
            edits=[("if intersection and intersection / union > 0.5:",
                    "if intersection and intersection / union >= 0.5:")]),
    Variant("pq-void-in-union", "pq", {"test_pq_visible": "With void", "test_pq_hidden": "wrong (pq, sq, rq)"},
            edits=[(" - np.sum(pred_seg & void)", "")]),
    Variant("pq-fp-on-void", "pq", {"test_pq_visible": "With void", "test_pq_hidden": "wrong (pq, sq, rq)"},
            edits=[("if p not in matched_pred and np.sum(pred_seg & void) / pred_seg.sum() <= 0.5:",
                    "if p not in matched_pred:")]),
    Variant("pq-product-of-means", "pq", {"test_pq_visible": "By hand", "test_pq_hidden": "wrong (pq, sq, rq)"},
            edits=[("return float(np.mean(pqs)), float(np.mean(sqs)), float(np.mean(rqs))",
                    "return float(np.mean(sqs) * np.mean(rqs)), float(np.mean(sqs)), float(np.mean(rqs))")]),
]


# Students of the real sandboxed batch (variants of different cells, see variant.py).
BATCH_STUDENTS = {
"alt-correct": ["iou-loops", "matching-sorted-by-key", "merge-sorted-loop", "pq-pair-counts"],
"wrong-a": ["iou-empty-nan", "matching-ignores-scores", "merge-overwrites", "pq-void-in-union"],
"wrong-b": ["matching-best-pair-first", "merge-global-numbers", "pq-product-of-means"],
}


# Every solution cell answered through the course library (the "library-answers" student).
LIBRARY_ANSWERS = {
    "iou_matrix": "from course_utils.instance import mask_iou_matrix\n",
    "matching": '''
def match_instances(true_masks, true_classes, pred_masks, pred_classes, pred_scores, iou_threshold=0.5):
    from course_utils import instance
    found = instance.match_instances(true_masks, true_classes, pred_masks, pred_classes, pred_scores,
                                     iou_threshold=iou_threshold)
    return [tuple(m[:2]) for m in found.matches], list(found.false_positives), list(found.false_negatives)
''',
    "merge": '''
from course_utils import panoptic

def merge_panoptic(stuff_map, thing_masks, thing_classes, thing_scores, overlap_threshold=0.5):
    return panoptic.merge_panoptic(stuff_map, thing_masks, thing_classes, thing_scores,
                                   overlap_threshold=overlap_threshold)
''',
    "pq": '''
from course_utils.panoptic import panoptic_quality as _library_pq

def panoptic_quality(true_map, pred_map):
    result = _library_pq(true_map, pred_map)
    result = result.get("all", result)
    return result["pq"], result["sq"], result["rq"]
''',
}

