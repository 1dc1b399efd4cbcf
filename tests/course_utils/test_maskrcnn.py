"""course_utils.maskrcnn: RoIAlign against NumPy, boxes, NMS, and a tiny model that trains."""

import numpy as np
import pytest

keras = pytest.importorskip("keras")
from keras import ops  # noqa: E402

from course_utils import maskrcnn, toy_shapes  # noqa: E402


def bilinear_reference(feature_map, y, x):
    """Bilinear value of an (H, W, C) map at index coordinates (y, x), clamped to the map."""
    height, width = feature_map.shape[:2]
    y, x = min(max(y, 0.0), height - 1.0), min(max(x, 0.0), width - 1.0)
    y0, x0 = int(np.floor(y)), int(np.floor(x))
    y1, x1 = min(y0 + 1, height - 1), min(x0 + 1, width - 1)
    dy, dx = y - y0, x - x0
    return ((1 - dy) * (1 - dx) * feature_map[y0, x0] + (1 - dy) * dx * feature_map[y0, x1]
            + dy * (1 - dx) * feature_map[y1, x0] + dy * dx * feature_map[y1, x1])


def roi_align_reference(feature_map, box, output_size, samples):
    """One box, loops: the mean of samples x samples bilinear reads per bin."""
    height, width = feature_map.shape[:2]
    y1, x1, y2, x2 = box
    out = np.zeros((output_size, output_size, feature_map.shape[-1]))
    for i in range(output_size):
        for j in range(output_size):
            for a in range(samples):
                for b in range(samples):
                    y = y1 + (i + (a + 0.5) / samples) / output_size * (y2 - y1)
                    x = x1 + (j + (b + 0.5) / samples) / output_size * (x2 - x1)
                    out[i, j] += bilinear_reference(feature_map, y * height - 0.5, x * width - 0.5)
    return out / samples ** 2


def test_roi_align_matches_numpy_reference():
    rng = np.random.default_rng(0)
    features = rng.normal(size=(2, 6, 5, 3)).astype("float32")
    corners = np.sort(rng.uniform(-0.1, 1.1, size=(2, 4, 2, 2)), axis=2)   # some reach outside
    boxes = corners.transpose(0, 1, 3, 2).reshape(2, 4, 4)[..., [0, 2, 1, 3]].astype("float32")
    for output_size, samples in ((2, 2), (3, 1), (4, 2)):
        got = ops.convert_to_numpy(maskrcnn.roi_align(features, boxes, output_size, samples))
        assert got.shape == (2, 4, output_size, output_size, 3)
        want = np.stack([np.stack([roi_align_reference(features[b], boxes[b, r], output_size, samples)
                                   for r in range(4)]) for b in range(2)])
        assert np.allclose(got, want, atol=1e-5), (output_size, samples)


def test_roi_align_lecture_example():
    """On F(y, x) = 10 y + x bilinear reads are exact: each bin is F at the bin's centre."""
    feature = (10.0 * np.arange(8)[:, None] + np.arange(8)[None, :])[None, :, :, None].astype("float32")
    box_in_cells = np.array([1.3, 2.2, 5.7, 6.6])
    box = ((box_in_cells + 0.5) / 8)[None, None].astype("float32")   # cell i's centre is at (i + 0.5) / 8
    got = ops.convert_to_numpy(maskrcnn.roi_align(feature, box, 2))[0, 0, :, :, 0]
    assert np.allclose(got, [[10 * 2.4 + 3.3, 10 * 2.4 + 5.5], [10 * 4.6 + 3.3, 10 * 4.6 + 5.5]], atol=1e-4)


def test_roi_align_bad_input():
    with pytest.raises(ValueError, match="roi_align needs feature_maps"):
        maskrcnn.roi_align(np.zeros((4, 4, 1), "float32"), np.zeros((1, 1, 4), "float32"), 2)


def test_box_iou_and_nms_by_hand():
    boxes = np.array([[0, 0, 2, 2], [0, 1, 2, 3], [0, 0, 2, 2.2], [5, 5, 6, 6]], dtype=float)
    assert np.allclose(maskrcnn.box_iou(boxes[:1], boxes), [[1, 2 / 6, 4 / 4.4, 0]])
    scores = [0.9, 0.8, 0.7, 0.1]
    # box 2 overlaps box 0 by 0.91 -> suppressed; box 1 by 1/3 -> kept at threshold 0.5
    assert maskrcnn.non_max_suppression(boxes, scores, 0.5).tolist() == [0, 1, 3]
    assert maskrcnn.non_max_suppression(boxes, scores, 0.3).tolist() == [0, 3]
    assert maskrcnn.non_max_suppression(boxes, scores, 0.5, max_outputs=2).tolist() == [0, 1]
    with pytest.raises(ValueError, match="scores must have one entry per box"):
        maskrcnn.non_max_suppression(boxes, [1.0])


def test_anchors_and_box_round_trip():
    anchors = maskrcnn.make_anchors(feature_size=4, anchor_sizes=(8, 16), image_size=16, aspect_ratios=(0.5, 1, 2))
    assert anchors.shape == (4 * 4 * 6, 4)
    # the first cell's centre is (0.5 / 4, 0.5 / 4); its first anchor: side 8 px, h/w = 0.5
    centre = (anchors[0, :2] + anchors[0, 2:]) / 2
    assert np.allclose(centre, [0.125, 0.125])
    height, width = (anchors[0, 2:] - anchors[0, :2]) * 16
    assert np.isclose(height / width, 0.5) and np.isclose(height * width, 64)
    rng = np.random.default_rng(1)
    # boxes around the anchors: shifted by up to half a side, sides scaled by 1/3 to 3
    sides = (anchors[:, 2:] - anchors[:, :2]) * rng.uniform(1 / 3, 3, size=(96, 2))
    centres = (anchors[:, 2:] + anchors[:, :2]) / 2 + rng.uniform(-0.5, 0.5, size=(96, 2)) * sides
    boxes = np.concatenate([centres - sides / 2, centres + sides / 2], axis=1)
    deltas = maskrcnn.encode_boxes(boxes, anchors)
    assert np.allclose(maskrcnn.decode_boxes(deltas, anchors), boxes)
    assert np.allclose(maskrcnn.encode_boxes(anchors, anchors), 0)
    with pytest.raises(ValueError, match="y2 > y1"):
        maskrcnn.encode_boxes(np.array([[0, 0, 0, 1.0]]), np.array([[0, 0, 1, 1.0]]))


def test_crop_and_paste_mask_round_trip():
    mask = np.zeros((32, 32), bool)
    mask[8:20, 4:28] = True
    box = np.array([8, 4, 20, 28]) / 32
    cropped = maskrcnn.crop_mask(mask, box, 28)
    assert cropped.shape == (28, 28) and cropped.all()             # the box holds only the object
    assert (maskrcnn.paste_mask(cropped, box, 32) == mask).all()
    wider = np.array([4, 0, 24, 32]) / 32
    # a 20 x 32 px box on a 28 x 28 grid: the borders can move by a pixel, no more
    pasted = maskrcnn.paste_mask(maskrcnn.crop_mask(mask, wider, 28), wider, 32)
    assert np.count_nonzero(pasted != mask) <= 2 * (12 + 24) and (pasted[9:19, 5:27]).all()


def test_rpn_targets_follow_the_rules():
    anchors = maskrcnn.make_anchors(4, (8,), 32)
    true_box = np.array([[0, 0, 0.25, 0.25]])                      # exactly anchor 0
    labels, deltas = maskrcnn.rpn_targets(anchors, true_box, np.random.default_rng(0), samples=8)
    assert labels[0] == 1 and np.allclose(deltas[0], 0)
    assert np.sum(labels == 1) == 1 and np.sum(labels >= 0) == 8 and set(np.unique(labels)) == {-1, 0, 1}


def tiny_model_and_batch():
    keras.utils.set_random_seed(0)                                  # the same weights every run
    data = toy_shapes.make_shapes_dataset(2, seed=3, size=32, max_instances=2)
    model = maskrcnn.MaskRCNN(num_classes=3, image_size=32, anchor_sizes=(8, 16), width=8, mask_width=4,
                              rois_per_image=4)
    return model, data


def test_tiny_maskrcnn_forward_train_step_and_detect():
    model, data = tiny_model_and_batch()
    inputs, targets = maskrcnn.make_training_targets(model, data, np.random.default_rng(0))
    assert inputs["rois"].shape == (2, 4, 4) and targets["masks"].shape == (2, 4, 28, 28)
    outputs = model(inputs)
    anchors = 8 * 8 * 2
    assert tuple(outputs["rpn_logits"].shape) == (2, anchors)
    assert tuple(outputs["rpn_deltas"].shape) == (2, anchors, 4)
    assert tuple(outputs["class_logits"].shape) == (2, 4, 4)
    assert tuple(outputs["mask_logits"].shape) == (2, 4, 28, 28, 3)
    before = float(ops.convert_to_numpy(model.loss_terms(targets, outputs)["total"]))
    assert np.isfinite(before) and before > 0
    model.compile(optimizer=keras.optimizers.Adam(1e-2), run_eagerly=True)   # no graph tracing: faster here
    weights = [np.array(w) for w in model.get_weights()]
    for _ in range(3):
        model.train_on_batch(inputs, targets)
    after = float(ops.convert_to_numpy(model.loss_terms(targets, model(inputs))["total"]))
    assert after < before                                           # it learns the batch
    assert any(not np.allclose(a, b) for a, b in zip(weights, model.get_weights()))
    detections = model.detect(data["images"], score_threshold=0.0)
    assert len(detections) == 2
    for found in detections:
        n = len(found["scores"])
        assert found["masks"].shape == (n, 32, 32) and found["masks"].dtype == bool
        assert found["boxes"].shape == (n, 4) and found["class_ids"].shape == (n,)
        assert np.all((found["class_ids"] >= 1) & (found["class_ids"] <= 3))
        assert np.all(np.diff(found["scores"]) <= 0)


def test_maskrcnn_bad_input():
    with pytest.raises(ValueError, match="image_size a multiple of 4"):
        maskrcnn.MaskRCNN(num_classes=3, image_size=30)
    model, data = tiny_model_and_batch()
    with pytest.raises(ValueError, match=r"images must be an array \(B, 32, 32, 3\)"):
        model.detect(np.zeros((1, 16, 16, 3)))
    with pytest.raises(ValueError, match="size=32"):
        maskrcnn.train_maskrcnn(model, toy_shapes.make_shapes_dataset(1, size=16), seconds=1)
