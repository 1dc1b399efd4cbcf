"""Trusted checks of ``instance_panoptic``: one per grade cell. The student's functions are
called on the notebook's visible cases and on scenes drawn fresh for every grading run;
what they return (arrays, or JSON for the matching and PQ tuples) is compared here with
NumPy references written independently of the notebook and of ``course_utils``."""

from __future__ import annotations

import numpy as np

from autograder.references import Call, Fail, Probe, Results
from autograder.references.harness_data import array, json_value, value


# ----------------------------------------------------------------------------- references
def box_mask(y1, x1, y2, x2, size=(8, 8)):
    mask = np.zeros(size, dtype=bool)
    mask[y1:y2, x1:x2] = True
    return mask


def iou_matrix(a, b):
    out = np.zeros((len(a), len(b)))
    for i, x in enumerate(np.asarray(a).astype(bool)):
        for j, y in enumerate(np.asarray(b).astype(bool)):
            union = np.logical_or(x, y).sum()
            out[i, j] = np.logical_and(x, y).sum() / union if union else 0.0
    return out


def match(true_masks, true_classes, pred_masks, pred_classes, scores, threshold):
    """COCO matching -> (sorted matches, sorted FPs, sorted FNs). An exact IoU tie between
    true instances goes to the last of them, as in pycocotools' ``evaluateImg``."""
    iou = iou_matrix(true_masks, pred_masks)
    iou[np.asarray(true_classes)[:, None] != np.asarray(pred_classes)[None, :]] = 0.0
    taken, matches = np.zeros(len(true_masks), bool), []
    for p in np.argsort(-np.asarray(scores, float), kind="stable"):
        candidates = np.where(taken, -1.0, iou[:, p])
        if len(candidates) and candidates.max() >= threshold and candidates.max() > 0:
            t = int(np.flatnonzero(candidates == candidates.max())[-1])
            matches.append((t, int(p)))
            taken[t] = True
    matched = {p for _, p in matches}
    return (sorted(matches), [p for p in range(len(pred_masks)) if p not in matched],
            [t for t in range(len(true_masks)) if not taken[t]])


def merge(stuff, masks, classes, scores, threshold):
    out, taken, count = np.zeros(stuff.shape, np.int64), np.zeros(stuff.shape, bool), {}
    for k in np.argsort(-np.asarray(scores, float), kind="stable"):
        mask = masks[k]
        area, free = mask.sum(), mask & ~taken
        if area == 0 or free.sum() == 0 or (mask & taken).sum() / area > threshold:
            continue
        c = int(classes[k])
        count[c] = count.get(c, 0) + 1
        out[free] = c * 1000 + count[c]
        taken |= free
    out[~taken] = stuff[~taken] * 1000
    return out


def pq(truth, pred):
    """(pq, sq, rq) means over classes, COCO panoptic API void rules (true id 0)."""
    void = truth == 0
    stats, matched_true, matched_pred = {}, set(), set()
    true_ids, pred_ids = np.unique(truth[truth != 0]), np.unique(pred[pred != 0])
    for t in true_ids:
        for p in pred_ids:
            if t // 1000 != p // 1000:
                continue
            ts, ps = truth == t, pred == p
            inter = np.sum(ts & ps)
            union = ts.sum() + ps.sum() - inter - np.sum(ps & void)
            if union and inter / union > 0.5:
                s = stats.setdefault(t // 1000, [0, 0, 0, 0.0])
                s[0] += 1
                s[3] += inter / union
                matched_true.add(t)
                matched_pred.add(p)
    for t in true_ids:
        if t not in matched_true:
            stats.setdefault(t // 1000, [0, 0, 0, 0.0])[2] += 1
    for p in pred_ids:
        if p not in matched_pred and np.sum((pred == p) & void) / np.sum(pred == p) <= 0.5:
            stats.setdefault(p // 1000, [0, 0, 0, 0.0])[1] += 1
    rows = [((s[3] / s[0] if s[0] else 0.0), s[0] / (s[0] + 0.5 * s[1] + 0.5 * s[2])) for s in stats.values()]
    return (float(np.mean([a * b for a, b in rows])), float(np.mean([a for a, _ in rows])),
            float(np.mean([b for _, b in rows])))


# ----------------------------------------------------------------------------- helpers
def _float_matrix(r: Results, name: str, what: str) -> np.ndarray:
    got = r.array(name, what)
    if got.dtype.kind not in "iuf":
        raise Fail(f"{what} should return an array of floats.")
    return got.astype(np.float64)


def _matching(r: Results, name: str, what: str):
    got = json_value(r, name, what)
    if not isinstance(got, list) or len(got) != 3 or not all(isinstance(part, list) for part in got):
        raise Fail(f"{what} should return a tuple (matches, false_positives, false_negatives) of lists.")
    try:
        matches = sorted((int(t), int(p)) for t, p in got[0])
        return matches, sorted(int(p) for p in got[1]), sorted(int(t) for t in got[2])
    except (TypeError, ValueError):
        raise Fail(f"{what}: matches should be (true_index, pred_index) pairs and the other lists ints.") from None


def _triple(r: Results, name: str, what: str) -> tuple[float, float, float]:
    got = json_value(r, name, what)
    if not isinstance(got, list) or len(got) != 3 or not all(isinstance(v, (int, float)) for v in got):
        raise Fail(f"{what} should return a tuple (pq, sq, rq) of three numbers.")
    return tuple(float(v) for v in got)


def _round(values):
    return tuple(round(float(v), 4) for v in values)


# ----------------------------------------------------------------------------- Part 1
def iou_visible(rng) -> Probe:
    arrays = {"true": np.stack([box_mask(0, 0, 2, 2), box_mask(4, 4, 7, 7)]),
              "pred": np.stack([box_mask(0, 0, 2, 4), box_mask(4, 4, 7, 7), np.zeros((8, 8), bool)]),
              "empty": np.zeros((1, 8, 8), bool), "none": np.zeros((0, 8, 8), bool)}
    calls = [Call("a", "mask_iou_matrix", [array("true"), array("pred")]),
             Call("b", "mask_iou_matrix", [array("empty"), array("empty")]),
             Call("c", "mask_iou_matrix", [array("true"), array("none")])]

    def judge(r: Results) -> str:
        got = _float_matrix(r, "a", "mask_iou_matrix(true_masks, pred_masks)")
        if got.shape != (2, 3):
            raise Fail(f"2 true and 3 predicted masks should give a (2, 3) matrix, got shape {got.shape}.")
        want = np.array([[0.5, 0.0, 0.0], [0.0, 1.0, 0.0]])
        if not np.allclose(got, want):
            raise Fail(f"Expected\n{want}\n(4 shared pixels of 8 in the union; identical masks; nothing shared), "
                       f"got\n{np.round(got, 3)}")
        empty = _float_matrix(r, "b", "mask_iou_matrix of two empty masks")
        if empty.shape != (1, 1) or not np.isfinite(empty).all() or empty[0, 0] != 0:
            raise Fail(f"Two empty masks should have IoU 0, got {empty.ravel()}.")
        if _float_matrix(r, "c", "mask_iou_matrix with no predictions").shape != (2, 0):
            raise Fail("With no predictions the shape is (2, 0).")
        return "Part 1 visible checks passed."
    return Probe(calls, arrays, judge)


def iou_hidden(rng) -> Probe:
    configs = [(3, 5, 9, 7, bool), (4, 2, 16, 16, np.uint8), (0, 3, 5, 5, bool), (2, 0, 5, 5, bool),
               (6, 6, 12, 10, np.int64), (int(rng.integers(1, 6)), int(rng.integers(1, 6)), 11, 13, bool)]
    arrays, calls, expected = {}, [], {}
    for i, (n, m, h, w, dtype) in enumerate(configs):
        a = (rng.random((n, h, w)) < rng.uniform(0.1, 0.7)).astype(dtype)
        b = (rng.random((m, h, w)) < rng.uniform(0.1, 0.7)).astype(dtype)
        if n > 1:
            a[0] = 0
        if m > 1:
            b[-1] = 0
        arrays[f"a{i}"], arrays[f"b{i}"] = a, b
        calls.append(Call(f"m{i}", "mask_iou_matrix", [array(f"a{i}"), array(f"b{i}")]))
        expected[f"m{i}"] = (iou_matrix(a, b), n, m, np.dtype(dtype).name, h, w)

    def judge(r: Results) -> str:
        for name, (want, n, m, dtype, h, w) in expected.items():
            got = _float_matrix(r, name, "mask_iou_matrix")
            if got.shape != (n, m):
                raise Fail(f"mask_iou_matrix of {n} and {m} masks: wrong shape.")
            if not np.allclose(got, want):
                raise Fail(f"mask_iou_matrix of {n} and {m} random {dtype} masks ({h}x{w}): wrong values.")
        return "Part 1 hidden checks passed."
    return Probe(calls, arrays, judge, hidden=True)


# ----------------------------------------------------------------------------- Part 2
def _visible_scene():
    true_masks = np.stack([box_mask(0, 0, 4, 4), box_mask(4, 4, 8, 8), box_mask(0, 5, 3, 8)])
    pred_masks = np.stack([box_mask(0, 0, 4, 3), box_mask(0, 0, 4, 4), box_mask(4, 4, 8, 8), box_mask(6, 0, 8, 2)])
    return true_masks, np.array([1, 1, 2]), pred_masks, np.array([1, 1, 2, 1])


def matching_visible(rng) -> Probe:
    tm, tc, pm, pc = _visible_scene()
    arrays = {"tm": tm, "tc": tc, "pm": pm, "pc": pc, "s1": np.array([0.6, 0.9, 0.8, 0.3]),
              "s2": np.array([0.9, 0.6, 0.8, 0.3])}
    args = [array("tm"), array("tc"), array("pm"), array("pc")]
    calls = [Call("a", "match_instances", args + [array("s1")], kind="json"),
             Call("b", "match_instances", args + [array("s2")], kind="json")]

    def judge(r: Results) -> str:
        matches, fps, fns = _matching(r, "a", "match_instances")
        if matches != [(0, 1)]:
            raise Fail("Expected the matches [(0, 1)]: p1 (score 0.9) is handled before its duplicate p0 (0.6) "
                       f"and takes true 0; p2 has the wrong class. Got {matches}.")
        if fps != [0, 2, 3]:
            raise Fail(f"Expected the false positives [0, 2, 3], got {fps}.")
        if fns != [1, 2]:
            raise Fail(f"Expected the false negatives [1, 2], got {fns}.")
        matches, _, _ = _matching(r, "b", "match_instances")
        if matches != [(0, 0)]:
            raise Fail(f"With p0 the most confident, p0 should take true 0: expected [(0, 0)], got {matches}.")
        return "Part 2 visible checks passed."
    return Probe(calls, arrays, judge)


def _scene(rng, n_true, n_pred, size=12):
    tm = np.zeros((n_true, size, size), bool)
    for k in range(n_true):
        y, x = rng.integers(0, size - 4, 2)
        h, w = rng.integers(2, 6, 2)
        tm[k, y:y + h, x:x + w] = True
    pm = np.zeros((n_pred, size, size), bool)
    for k in range(n_pred):
        if n_true and rng.random() < 0.7:               # a noisy copy of a true mask
            pm[k] = tm[rng.integers(n_true)] ^ (rng.random((size, size)) < 0.06)
        else:
            y, x = rng.integers(0, size - 4, 2)
            pm[k, y:y + 4, x:x + 4] = True
    return tm, rng.integers(1, 3, n_true), pm, rng.integers(1, 3, n_pred), rng.permutation(n_pred) / max(n_pred, 1)


def matching_hidden(rng) -> Probe:
    cases = [_scene(rng, n, m) + (thr,) for n, m, thr in
             [(4, 7, 0.5), (5, 8, 0.5), (3, 6, 0.75), (6, 10, 0.5), (0, 3, 0.5), (3, 0, 0.5), (5, 9, 0.3),
              (6, 12, 0.5), (4, 9, 0.5)]]
    # the less confident prediction overlaps more: only the score order decides
    cases.append((np.stack([box_mask(0, 0, 4, 4)]), np.array([1]),
                  np.stack([box_mask(0, 0, 4, 3), box_mask(0, 0, 4, 4)]), np.array([1, 1]), np.array([0.9, 0.2]), 0.5))
    # IoU 0.5 (Dice 2/3) at threshold 0.6: the half mask is no match, the exact one is
    cases.append((np.stack([box_mask(0, 0, 4, 4)]), np.array([1]),
                  np.stack([box_mask(0, 0, 4, 2), box_mask(0, 0, 4, 4)]), np.array([1, 1]), np.array([0.9, 0.5]), 0.6))
    # exactly at the threshold: IoU 8/16 = 0.5
    cases.append((np.stack([box_mask(0, 0, 4, 4)]), np.array([1]),
                  np.stack([box_mask(0, 0, 4, 2), box_mask(0, 0, 4, 3)]), np.array([1, 1]), np.array([0.9, 0.8]), 0.5))
    # an exact IoU tie (4/8 with both true masks) goes to the last one, as in pycocotools:
    # p0 takes true 1 and leaves true 0 to p1 (taking true 0 would make p1 an FP)
    cases.append((np.stack([box_mask(0, 0, 2, 2), box_mask(0, 2, 2, 4)]), np.array([1, 1]),
                  np.stack([box_mask(0, 0, 2, 4), box_mask(0, 0, 2, 2)]), np.array([1, 1]), np.array([0.9, 0.8]), 0.5))
    arrays, calls, expected = {}, [], {}
    for i, (tm, tc, pm, pc, ps, thr) in enumerate(cases):
        for key, v in (("tm", tm), ("tc", tc), ("pm", pm), ("pc", pc), ("ps", ps)):
            arrays[f"{key}{i}"] = np.asarray(v)
        calls.append(Call(f"m{i}", "match_instances", [array(f"{k}{i}") for k in ("tm", "tc", "pm", "pc", "ps")],
                          {"iou_threshold": value(thr)}, kind="json"))
        expected[f"m{i}"] = (match(tm, tc, pm, pc, ps, thr), len(tm), len(pm), thr)
    tie_case = f"m{len(cases) - 1}"

    def judge(r: Results) -> str:
        for name, (want, n, m, thr) in expected.items():
            what = f"match_instances with {n} true and {m} predicted instances at IoU {thr}"
            if name == tie_case:
                what += " (an exact IoU tie between two true instances: the last one takes it)"
            got = _matching(r, name, what)
            for part, label in ((0, "matches"), (1, "false positives"), (2, "false negatives")):
                if got[part] != want[part]:
                    raise Fail(f"{what}: wrong {label}.")
        return "Part 2 hidden checks passed."
    return Probe(calls, arrays, judge, hidden=True)


# ----------------------------------------------------------------------------- Part 3
def merge_visible(rng) -> Probe:
    stuff = np.full((4, 6), 1)
    stuff[2:] = 2
    masks = np.stack([box_mask(1, 0, 4, 3, (4, 6)), box_mask(1, 2, 4, 5, (4, 6)), box_mask(1, 1, 4, 4, (4, 6)),
                      box_mask(0, 5, 1, 6, (4, 6))])
    arrays = {"stuff": stuff, "masks": masks, "classes": np.array([3, 3, 3, 4]),
              "scores": np.array([0.6, 0.9, 0.5, 0.1])}
    calls = [Call("a", "merge_panoptic", [array("stuff"), array("masks"), array("classes"), array("scores")])]
    want = np.array([[1000, 1000, 1000, 1000, 1000, 4001],
                     [3002, 3002, 3001, 3001, 3001, 1000],
                     [3002, 3002, 3001, 3001, 3001, 2000],
                     [3002, 3002, 3001, 3001, 3001, 2000]])

    def judge(r: Results) -> str:
        got = r.array("a", "merge_panoptic")
        if got.shape != (4, 6):
            raise Fail(f"The panoptic map should have the stuff map's shape (4, 6), got {got.shape}.")
        if got.dtype.kind not in "iuf" or not np.array_equal(got, want):
            raise Fail(f"Expected\n{want}\ngot\n{got}")
        return "Part 3 visible checks passed."
    return Probe(calls, arrays, judge)


def merge_hidden(rng) -> Probe:
    arrays, calls, expected = {}, [], {}
    for i, (n, thr) in enumerate([(6, 0.5), (8, 0.3), (5, 0.8), (0, 0.5), (10, 0.5), (12, 0.5)]):
        stuff = rng.integers(0, 3, (10, 12)) + 5
        stuff[rng.random((10, 12)) < 0.1] = 0
        masks = np.zeros((n, 10, 12), bool)
        for k in range(n):
            y, x = rng.integers(0, 7, 2)
            masks[k, y:y + rng.integers(2, 5), x:x + rng.integers(2, 6)] = True
        classes = rng.integers(1, 4, n)
        scores = rng.permutation(n) / max(n, 1)
        for key, v in (("st", stuff), ("ma", masks), ("cl", classes), ("sc", scores)):
            arrays[f"{key}{i}"] = v
        calls.append(Call(f"m{i}", "merge_panoptic", [array(f"{k}{i}") for k in ("st", "ma", "cl", "sc")],
                          {"overlap_threshold": value(thr)}))
        expected[f"m{i}"] = (merge(stuff, masks, classes, scores, thr), n, thr)

    def judge(r: Results) -> str:
        for name, (want, n, thr) in expected.items():
            got = r.array(name, "merge_panoptic")
            if got.shape != want.shape or not np.array_equal(got, want):
                raise Fail(f"merge_panoptic with {n} things and overlap_threshold={thr}: wrong segment ids.")
        return "Part 3 hidden checks passed."
    return Probe(calls, arrays, judge, hidden=True)


# ----------------------------------------------------------------------------- Part 4
def _lecture_street():
    truth = np.full((10, 10), 1000)
    truth[4:] = 2000
    truth[5:8, 1:4] = 3001
    truth[5:8, 6:9] = 3002
    pred = np.full((10, 10), 1000)
    pred[4:] = 2000
    pred[5:8, 1:5] = 3001
    pred[1:3, 7:9] = 3003
    return truth, pred


def pq_visible(rng) -> Probe:
    truth, pred = _lecture_street()
    truth_v = np.full((4, 4), 1000)
    truth_v[:, 3] = 0
    pred_v = np.full((4, 4), 1000)
    pred_v[0:2, 2:4] = 2001
    pred_v[3, 3] = 3001
    arrays = {"t": truth, "p": pred, "tv": truth_v, "pv": pred_v}
    calls = [Call("a", "panoptic_quality", [array("t"), array("p")], kind="json"),
             Call("b", "panoptic_quality", [array("tv"), array("pv")], kind="json")]

    def judge(r: Results) -> str:
        got = _triple(r, "a", "panoptic_quality")
        want = ((0.9 + 39 / 51 + 0.375) / 3, (0.9 + 39 / 51 + 0.75) / 3, (1 + 1 + 0.5) / 3)
        if not np.allclose(got, want):
            raise Fail("By hand: sky IoU 36/40, road 39/51 (both TP), car SQ 0.75 x RQ 1/(1 + 1/2 + 1/2) = 0.375; "
                       f"expected (pq, sq, rq) = {_round(want)}, got {_round(got)}.")
        got = _triple(r, "b", "panoptic_quality")
        want = ((10 / 12) / 2, (10 / 12) / 2, 1 / 2)
        if not np.allclose(got, want):
            raise Fail("With void: class 1 IoU 10/12 (its predicted pixel on void, (2, 3), leaves the union), "
                       "car 2001 is an FP (half on void, not more), car 3001 is ignored (all on void): "
                       f"expected {_round(want)}, got {_round(got)}.")
        return "Part 4 visible checks passed."
    return Probe(calls, arrays, judge)


def _random_panoptic(rng, size=16):
    out = np.where(np.arange(size)[:, None] < rng.integers(4, 12), 1000, 2000) * np.ones((size, size), np.int64)
    for k in range(rng.integers(2, 6)):
        y, x = rng.integers(0, size - 5, 2)
        out[y:y + rng.integers(2, 6), x:x + rng.integers(2, 6)] = rng.integers(3, 6) * 1000 + k + 1
    return out


def pq_hidden(rng) -> Probe:
    cases = []
    for i in range(8):
        truth = _random_panoptic(rng)
        pred = np.roll(truth, i % 3, axis=1)                                 # things shifted by 0-2 pixels
        pred[rng.random(truth.shape) < 0.1] = 1000
        if i >= 5:
            pred = np.where(rng.random(truth.shape) < 0.5, pred, _random_panoptic(rng))
        truth[rng.integers(0, 12):, :rng.integers(1, 6)] = 0                 # a void block
        cases.append((truth, pred))
    half_t = np.full((2, 4), 1000)
    half_t[0, :2] = 2001
    half_p = np.full((2, 4), 1000)
    half_p[0, :1] = 2001                                                     # IoU exactly 1/2: no match
    only = np.full((6, 6), 1000)
    only_p = only.copy()
    only_p[:2, :2] = 7001                                                    # a class only predicted
    cases += [(half_t, half_p), (cases[0][0], cases[0][0].copy()), (only, only_p)]
    arrays, calls, expected = {}, [], {}
    for i, (truth, pred) in enumerate(cases):
        arrays[f"t{i}"], arrays[f"p{i}"] = truth, pred
        calls.append(Call(f"q{i}", "panoptic_quality", [array(f"t{i}"), array(f"p{i}")], kind="json"))
        expected[f"q{i}"] = (pq(truth, pred), truth.shape)

    def judge(r: Results) -> str:
        for name, (want, shape) in expected.items():
            got = _triple(r, name, "panoptic_quality")
            if not np.allclose(got, want, atol=1e-9):
                raise Fail(f"panoptic_quality on a random {shape[0]}x{shape[1]} scene: wrong (pq, sq, rq).")
        return "Part 4 hidden checks passed."
    return Probe(calls, arrays, judge, hidden=True)


CHECKS = {
    "test_iou_matrix_visible": iou_visible,
    "test_iou_matrix_hidden": iou_hidden,
    "test_matching_visible": matching_visible,
    "test_matching_hidden": matching_hidden,
    "test_merge_visible": merge_visible,
    "test_merge_hidden": merge_hidden,
    "test_pq_visible": pq_visible,
    "test_pq_hidden": pq_hidden,
}
