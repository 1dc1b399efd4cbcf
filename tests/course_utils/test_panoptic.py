"""course_utils.panoptic: merging things and stuff, and PQ on hand-checked cases."""

import numpy as np
import pytest

from course_utils import panoptic

SKY, ROAD, CAR = 1, 2, 3


def lecture_example():
    """Lecture 08's 10 x 10 scene: sky rows 0-3, road rows 4-9, cars A and B (3 x 3) on the
    road. The prediction widens A by a column, misses B (road) and sees a car C in the sky."""
    truth = np.full((10, 10), SKY * 1000)
    truth[4:] = ROAD * 1000
    truth[5:8, 1:4] = CAR * 1000 + 1
    truth[5:8, 6:9] = CAR * 1000 + 2
    pred = np.full((10, 10), SKY * 1000)
    pred[4:] = ROAD * 1000
    pred[5:8, 1:5] = CAR * 1000 + 1
    pred[1:3, 7:9] = CAR * 1000 + 7          # instance numbers need not agree with the truth
    return truth, pred


def test_pq_lecture_example_by_hand():
    truth, pred = lecture_example()
    result = panoptic.panoptic_quality(truth, pred, thing_classes=[CAR])
    sky, road, car = (result["per_class"][c] for c in (SKY, ROAD, CAR))
    # sky: 40 true pixels, 40 - 4 (car C) predicted, all 36 shared: IoU 36/40, a TP
    assert (sky["tp"], sky["fp"], sky["fn"]) == (1, 0, 0) and sky["pq"] == pytest.approx(0.9)
    # road: 42 true (60 - 18), 48 predicted (60 - 12), 39 shared, union 51
    assert road["sq"] == pytest.approx(39 / 51) and road["rq"] == 1.0
    # car: A' matches A with IoU 9/12 (TP), C is an FP, B an FN: SQ 0.75, RQ 1/2
    assert (car["tp"], car["fp"], car["fn"]) == (1, 1, 1)
    assert car["sq"] == pytest.approx(0.75) and car["rq"] == pytest.approx(0.5) and car["pq"] == pytest.approx(0.375)
    assert result["pq"] == pytest.approx((0.9 + 39 / 51 + 0.375) / 3)
    assert result["sq"] == pytest.approx((0.9 + 39 / 51 + 0.75) / 3)        # averaged separately
    assert result["things"]["pq"] == pytest.approx(0.375)
    assert result["stuff"]["pq"] == pytest.approx((0.9 + 39 / 51) / 2)


def test_pq_iou_of_exactly_half_is_no_match():
    truth = np.zeros((2, 4), int) + 1000
    truth[0, :2] = 2001                         # a 2-pixel thing
    pred = np.zeros((2, 4), int) + 1000
    pred[0, :1] = 2001                          # 1 of its 2 pixels: IoU exactly 0.5
    car = panoptic.panoptic_quality(truth, pred)["per_class"][2]
    assert (car["tp"], car["fp"], car["fn"], car["pq"]) == (0, 1, 1, 0.0)


def test_pq_void_handling_as_in_coco():
    truth = np.full((4, 4), 1000)               # stuff class 1 everywhere ...
    truth[:, 3] = 0                             # ... except a void column
    pred = np.full((4, 4), 1000)
    pred[0:2, 2:4] = 2001                       # a thing: 2 px on class 1, 2 px on void
    pred[2:4, 3] = 3001                         # a thing entirely on void: no FP
    result = panoptic.panoptic_quality(truth, pred)
    stuff = result["per_class"][1]
    # class 1: 12 true px; predicted 16 - 4 (things) = 12 of which 2 on void; shared 10.
    # union = 12 + 12 - 10 - 2 (void pixels of the prediction) = 12 -> IoU 10/12
    assert stuff["tp"] == 1 and stuff["sq"] == pytest.approx(10 / 12)
    # thing 2001 lies half on void (not more): it counts as an FP; thing 3001 does not
    assert result["per_class"][2]["fp"] == 1
    assert 3 not in result["per_class"]


def test_pq_perfect_and_batched():
    truth, pred = lecture_example()
    result = panoptic.panoptic_quality(np.stack([truth, truth]), np.stack([truth, pred]))
    car = result["per_class"][CAR]
    assert (car["tp"], car["fp"], car["fn"]) == (3, 1, 1)               # counts add over images
    assert car["sq"] == pytest.approx((1 + 1 + 0.75) / 3)
    assert panoptic.panoptic_quality(truth, truth)["pq"] == 1.0


def test_pq_bad_input():
    with pytest.raises(ValueError, match="same shape"):
        panoptic.panoptic_quality(np.zeros((2, 2), int), np.zeros((2, 3), int))
    with pytest.raises(ValueError, match="true_panoptic must be an integer array"):
        panoptic.panoptic_quality(np.zeros((2, 2)), np.zeros((2, 2), int))
    with pytest.raises(ValueError, match="ids >= 0"):
        panoptic.panoptic_quality(np.zeros((2, 2), int), -np.ones((2, 2), int))


def test_merge_panoptic_by_hand():
    stuff = np.full((4, 6), SKY)
    stuff[2:] = ROAD
    masks = np.zeros((4, 4, 6), bool)
    masks[0, 1:4, 0:3] = True                   # car, score 0.6: 9 px
    masks[1, 1:4, 2:5] = True                   # car, score 0.9: 9 px, pasted first
    masks[2, 1:4, 1:4] = True                   # car duplicate, score 0.5: 9 px, 6 already taken
    masks[3, 0, 5] = True                       # car, score 0.4: 1 px, below min_thing_area
    merged = panoptic.merge_panoptic(stuff, masks, [CAR] * 4, [0.6, 0.9, 0.5, 0.4], min_thing_area=2)
    want = np.array([[1000, 1000, 1000, 1000, 1000, 1000],
                     [1000, 1000, 3001, 3001, 3001, 1000],
                     [2000, 2000, 3001, 3001, 3001, 2000],
                     [2000, 2000, 3001, 3001, 3001, 2000]])
    # car 0 keeps its 6 free pixels (loses 3/9 < 0.5): instance 2
    want[1:4, 0:2] = 3002
    assert merged.tolist() == want.tolist()
    # stuff regions below min_stuff_area and thing classes in the stuff map become void
    stuff[0, 0] = CAR
    merged = panoptic.merge_panoptic(stuff, masks[:0], [], min_stuff_area=12, thing_class_ids=[CAR])  # sky: 11 px
    assert merged[0, 0] == 0 and (merged[0] == 0).all() and (merged[2:] == 2000).all()


def test_merge_then_pq_round_trip():
    stuff = np.full((5, 5), SKY)
    masks = np.zeros((2, 5, 5), bool)
    masks[0, :2, :2] = True
    masks[1, 3:, 3:] = True
    merged = panoptic.merge_panoptic(stuff, masks, [CAR, CAR], [0.5, 0.7])
    classes, instances = panoptic.split_panoptic(merged)
    assert classes[0, 0] == CAR and instances[4, 4] == 1 and instances[0, 0] == 2
    assert panoptic.panoptic_quality(merged, merged)["pq"] == 1.0


def test_merge_bad_input():
    with pytest.raises(ValueError, match="thing_masks must be an array"):
        panoptic.merge_panoptic(np.ones((3, 3), int), np.zeros((1, 3, 4), bool), [1])
    with pytest.raises(ValueError, match="thing_classes must hold one class id >= 1"):
        panoptic.merge_panoptic(np.ones((3, 3), int), np.zeros((1, 3, 3), bool), [0])
    with pytest.raises(ValueError, match="thing_scores"):
        panoptic.merge_panoptic(np.ones((3, 3), int), np.zeros((1, 3, 3), bool), [1], [0.1, 0.2])


def test_merge_keeps_a_thing_hidden_exactly_at_the_threshold():
    # 3 of 10 pixels under a more confident thing: overlap 0.3 is not "more than" 0.3,
    # although 1 - 7/10 computes as 0.30000000000000004 in floating point.
    stuff = np.zeros((1, 10), dtype=np.int64)
    first = np.zeros((1, 10), dtype=bool)
    first[0, :3] = True
    second = np.ones((1, 10), dtype=bool)
    merged = panoptic.merge_panoptic(stuff, np.stack([first, second]), [1, 1], [0.9, 0.8], overlap_threshold=0.3)
    assert merged.tolist() == [[1001] * 3 + [1002] * 7]
