"""course_utils.instance: mask IoU, matching and COCO-style mask AP on hand-checked cases."""

import numpy as np
import pytest

from course_utils import instance


def _box_mask(y1, x1, y2, x2, size=10):
    mask = np.zeros((size, size), dtype=bool)
    mask[y1:y2, x1:x2] = True
    return mask


def test_mask_iou_matrix_by_hand():
    a = np.stack([_box_mask(0, 0, 2, 2), _box_mask(5, 5, 8, 8)])          # 4 px, 9 px
    b = np.stack([_box_mask(0, 0, 2, 4), _box_mask(5, 5, 8, 8), np.zeros((10, 10), bool)])
    # a0 vs b0: 4 / 8; a1 vs b1: 9 / 9; everything else 0 (empty masks match nothing)
    assert np.allclose(instance.mask_iou_matrix(a, b), [[0.5, 0, 0], [0, 1, 0]])
    assert instance.mask_iou_matrix(a[:0], b).shape == (0, 3)


@pytest.mark.parametrize("kwargs, expected", [
    (dict(masks_a=np.zeros((2, 3)), masks_b=np.zeros((1, 3, 3))), "masks_a must be an array (n, H, W)"),
    (dict(masks_a=np.zeros((1, 3, 3)), masks_b=np.zeros((1, 4, 3))), "same height and width"),
    (dict(masks_a=np.full((1, 3, 3), 2), masks_b=np.zeros((1, 3, 3))), "only 0/1"),
])
def test_mask_iou_matrix_bad_input(kwargs, expected):
    with pytest.raises(ValueError, match=expected.replace("(", r"\(").replace(")", r"\)")):
        instance.mask_iou_matrix(**kwargs)


def test_match_greedy_follows_scores_and_classes():
    truth = np.stack([_box_mask(0, 0, 4, 4), _box_mask(6, 6, 10, 10)])
    # p0: a duplicate of truth 0 (IoU 12/16), low score; p1: exact truth 0, high score;
    # p2: exact truth 1 but the wrong class; p3: nothing true.
    preds = np.stack([_box_mask(0, 0, 4, 3), _box_mask(0, 0, 4, 4), _box_mask(6, 6, 10, 10), _box_mask(0, 6, 3, 9)])
    result = instance.match_instances(truth, [1, 2], preds, [1, 1, 1, 1], [0.3, 0.9, 0.8, 0.1])
    assert [(t, p) for t, p, _ in result.matches] == [(0, 1)]
    assert result.false_positives == [0, 2, 3] and result.false_negatives == [1]
    # scores swapped: the duplicate (IoU 0.75) now takes the match
    result = instance.match_instances(truth, [1, 2], preds, [1, 1, 1, 1], [0.9, 0.3, 0.8, 0.1])
    assert [(t, p, round(iou, 2)) for t, p, iou in result.matches] == [(0, 0, 0.75)]
    # at a threshold above 0.75 the duplicate is no match, and the exact mask gets it back
    result = instance.match_instances(truth, [1, 2], preds, [1, 1, 1, 1], [0.9, 0.3, 0.8, 0.1], iou_threshold=0.8)
    assert result.matches == [(0, 1, 1.0)] and result.false_positives == [0, 2, 3]


def test_greedy_and_hungarian_differ_at_low_threshold():
    # t0 overlaps p0 strongly and p1 weakly; t1 overlaps only p0 (weakly).
    t = np.stack([_box_mask(0, 0, 4, 4), _box_mask(0, 4, 4, 6)])
    p = np.stack([_box_mask(0, 0, 4, 5), _box_mask(0, 0, 4, 1)])
    iou = instance.mask_iou_matrix(t, p)                 # [[16/20, 4/16], [4/24, 0]]
    assert np.allclose(iou, [[0.8, 0.25], [4 / 24, 0]])
    greedy = instance.match_instances(t, [1, 1], p, [1, 1], [0.9, 0.8], iou_threshold=0.1)
    hungarian = instance.match_instances(t, [1, 1], p, [1, 1], iou_threshold=0.1, method="hungarian")
    assert [(a, b) for a, b, _ in greedy.matches] == [(0, 0), ]       # p1 vs t1: IoU 0
    # Hungarian maximises the total: t0-p1 (0.25) + t1-p0 (0.167) = 0.417 < 0.8, so the same here
    assert [(a, b) for a, b, _ in hungarian.matches] == [(0, 0)]


def test_match_bad_input():
    masks = np.zeros((2, 4, 4), bool)
    with pytest.raises(ValueError, match="true_classes must have one entry per mask"):
        instance.match_instances(masks, [1], masks, [1, 1])
    with pytest.raises(ValueError, match="method must be"):
        instance.match_instances(masks, [1, 1], masks, [1, 1], method="best")
    with pytest.raises(ValueError, match="iou_threshold"):
        instance.match_instances(masks, [1, 1], masks, [1, 1], iou_threshold=1.5)


def test_interpolated_ap_by_hand():
    # ranked: TP, FP, TP with 2 true instances: precision 1, 1/2, 2/3; recall 1/2, 1/2, 1
    # envelope: 1, 2/3, 2/3 -> levels 0..0.5 (51 of them) read 1, 0.51..1 (50) read 2/3
    ap = instance.interpolated_average_precision([1, 0.5, 2 / 3], [0.5, 0.5, 1.0])
    assert ap == pytest.approx((51 * 1 + 50 * 2 / 3) / 101)
    # never reaching recall 1: levels above 0.5 read 0
    assert instance.interpolated_average_precision([1.0], [0.5]) == pytest.approx(51 / 101)
    assert instance.interpolated_average_precision([], []) == 0.0


def test_mask_ap_by_hand():
    a, b = _box_mask(0, 0, 4, 4), _box_mask(6, 6, 10, 10)
    truth = [{"masks": np.stack([a, b]), "class_ids": [1, 1]},
             {"masks": np.stack([a]), "class_ids": [2]}]
    perfect = [{"masks": np.stack([a, b]), "class_ids": [1, 1], "scores": [0.9, 0.8]},
               {"masks": np.stack([a]), "class_ids": [2], "scores": [0.7]}]
    result = instance.mask_average_precision(truth, perfect)
    assert result["ap"] == pytest.approx(1.0) and result["ap50"] == pytest.approx(1.0)
    # class 1: a found exactly, b found with IoU 12/16 = 0.75 (TP for thresholds <= 0.75),
    # plus a confident false positive ranked first. Class 2: missed entirely.
    b_shrunk = _box_mask(6, 6, 10, 9)
    fp = _box_mask(0, 6, 3, 9)
    preds = [{"masks": np.stack([fp, a, b_shrunk]), "class_ids": [1, 1, 1], "scores": [0.95, 0.9, 0.8]},
             {"masks": np.zeros((0, 10, 10), bool), "class_ids": [], "scores": []}]
    result = instance.mask_average_precision(truth, preds)
    # at IoU <= 0.75: FP, TP, TP -> precision 0, 1/2, 2/3, recall 0, 1/2, 1 -> envelope 2/3 everywhere
    # at IoU > 0.75: FP, TP, FP -> recall reaches 1/2 with precision 1/2: 51 levels at 1/2
    low, high = 2 / 3, 0.5 * 51 / 101
    assert result["per_class"][2] == 0.0
    assert result["per_threshold"][0.5] == pytest.approx(low / 2)
    assert result["per_threshold"][0.8] == pytest.approx(high / 2)
    assert result["ap50"] == pytest.approx(low / 2)
    assert result["per_class"][1] == pytest.approx((6 * low + 4 * high) / 10)     # 0.50..0.75 and 0.80..0.95
    assert result["ap"] == pytest.approx(result["per_class"][1] / 2)


def test_exact_iou_tie_goes_to_the_last_true_instance_as_in_pycocotools():
    # a = columns 0-1, b = columns 2-3 (4 pixels each); p0 = columns 0-3 has IoU 4/8 = 0.5
    # with both; p1 = a exactly. pycocotools' evaluateImg replaces its best match whenever
    # ious[d, g] >= the best so far, so p0 (the more confident) takes b, the last tied one,
    # and p1 still gets a. Taking the first tied one (a) would leave p1 an FP.
    a, b, both = _box_mask(0, 0, 2, 2), _box_mask(0, 2, 2, 4), _box_mask(0, 0, 2, 4)
    result = instance.match_instances(np.stack([a, b]), [1, 1], np.stack([both, a]), [1, 1], [0.9, 0.8])
    assert result.matches == [(0, 1, 1.0), (1, 0, 0.5)] and result.false_positives == []
    truth = [{"masks": np.stack([a, b]), "class_ids": [1, 1]}]
    preds = [{"masks": np.stack([both, a]), "class_ids": [1, 1], "scores": [0.9, 0.8]}]
    result = instance.mask_average_precision(truth, preds)
    # IoU 0.5: TP, TP -> precision 1 up to recall 1: AP 1 (first-tie rule: TP, FP -> 51/101).
    # IoU >= 0.55: p0 matches nothing: FP, TP -> precision 1/2 up to recall 1/2: 51 levels at 1/2.
    high = 0.5 * 51 / 101
    assert result["ap50"] == pytest.approx(1.0)
    assert result["per_threshold"][0.55] == pytest.approx(high)
    assert result["ap"] == pytest.approx((1.0 + 9 * high) / 10)


def test_mask_ap_bad_input():
    with pytest.raises(ValueError, match=r"predictions\[0\] lacks the keys \['scores'\]"):
        instance.mask_average_precision([{"masks": np.zeros((0, 2, 2)), "class_ids": []}],
                                        [{"masks": np.zeros((0, 2, 2)), "class_ids": []}])
    with pytest.raises(ValueError, match="one entry per image"):
        instance.mask_average_precision([], [{"masks": np.zeros((0, 2, 2)), "class_ids": [], "scores": []}])


def test_instance_map():
    masks = np.stack([_box_mask(0, 0, 2, 2, 3), _box_mask(1, 1, 3, 3, 3)])
    assert instance.instance_map(masks).tolist() == [[1, 1, 0], [1, 2, 2], [0, 2, 2]]


def test_show_instances_draws_one_colour_per_instance():
    import matplotlib
    matplotlib.use("Agg")
    from course_utils import viz

    image = np.zeros((10, 10, 3))
    masks = np.stack([_box_mask(0, 0, 4, 4), _box_mask(6, 6, 10, 10)])
    ax = viz.show_instances(image, masks, [1, 1], ["bg", "square"], scores=[0.9, 0.5],
                            boxes=[[0, 0, 4, 4], [6, 6, 10, 10]])
    assert [t.get_text() for t in ax.texts] == ["square 0.90", "square 0.50"]
    overlay = ax.images[1].get_array()
    assert not np.allclose(overlay[0, 0], overlay[9, 9]) and overlay[5, 5][3] == 0   # two colours, gap clear
    with pytest.raises(ValueError, match="class_ids must have one entry per mask"):
        viz.show_instances(image, masks, [1], ["bg", "square"])
