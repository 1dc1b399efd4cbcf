"""Tests of course_utils.toy_shapes: the synthetic shapes set for instance segmentation."""

import numpy as np
import pytest

from course_utils import toy_shapes


def _examples(count=30, **options):
    return [toy_shapes.make_shapes_image(seed, **options) for seed in range(count)]


def test_shapes_and_dtypes():
    example = toy_shapes.make_shapes_image(0, size=64, max_instances=5)
    n = len(example["class_ids"])
    assert 1 <= n <= 5
    assert example["image"].shape == (64, 64, 3) and example["image"].dtype == np.float32
    assert example["instance_masks"].shape == (n, 64, 64)
    assert example["instance_masks"].dtype == bool
    assert example["class_ids"].shape == (n,) and example["class_ids"].dtype == np.int32
    assert example["boxes"].shape == (n, 4) and example["boxes"].dtype == np.int32
    assert example["semantic"].shape == (64, 64) and example["semantic"].dtype == np.uint8
    assert 0.0 <= example["image"].min() and example["image"].max() <= 1.0


def test_class_ids_are_one_based_and_all_classes_occur():
    class_ids = np.concatenate([e["class_ids"] for e in _examples()])
    assert set(class_ids.tolist()) == {1, 2, 3}
    two_classes = np.concatenate(
        [e["class_ids"] for e in _examples(10, classes=("circle", "triangle"))]
    )
    assert set(two_classes.tolist()) == {1, 2}


def test_boxes_tightly_enclose_the_visible_masks():
    for example in _examples():
        for mask, (y1, x1, y2, x2) in zip(example["instance_masks"], example["boxes"]):
            assert mask.any()
            assert mask[y1:y2, x1:x2].sum() == mask.sum()  # encloses the whole mask
            # Tight: the first and last rows and columns of the box touch the mask.
            assert mask[y1].any() and mask[y2 - 1].any()
            assert mask[:, x1].any() and mask[:, x2 - 1].any()


def test_semantic_map_is_the_union_of_the_masks_with_their_class_ids():
    for example in _examples():
        expected = np.zeros_like(example["semantic"])
        for mask, class_id in zip(example["instance_masks"], example["class_ids"]):
            expected[mask] = class_id
        np.testing.assert_array_equal(example["semantic"], expected)


def test_occlusion_masks_do_not_overlap_and_show_in_the_image():
    occluded = 0
    for example in _examples():
        masks = example["instance_masks"]
        assert (masks.sum(axis=0) <= 1).all(), "later instances cut their pixels out of earlier ones"
        image = example["image"]
        background = example["semantic"] == 0
        # Every mask has one colour in the image: what you see is what is labelled.
        for mask in masks:
            colours = np.unique(image[mask].reshape(-1, 3), axis=0)
            assert len(colours) == 1
            assert not (image[background] == colours[0]).all(axis=-1).any()
        occluded += _is_occluded(example)
    assert occluded >= 3, "some images should have overlapping shapes"


def _is_occluded(example):
    """True if some visible mask is not its full shape (a square is not a full box)."""
    for mask, class_id, (y1, x1, y2, x2) in zip(
        example["instance_masks"], example["class_ids"], example["boxes"]
    ):
        # A square fills its box, even when the image border cuts it; only an instance
        # drawn on top of it can bite a piece out.
        if class_id == 1 and not mask[y1:y2, x1:x2].all():
            return True
    return False


def test_mostly_hidden_instances_are_dropped():
    # With a threshold of 1 no instance may be occluded at all.
    for example in _examples(20, min_visible_fraction=1.0, max_instances=6):
        assert not _is_occluded(example)
    lenient = sum(len(e["class_ids"]) for e in _examples(20, min_visible_fraction=0.0, max_instances=6))
    strict = sum(len(e["class_ids"]) for e in _examples(20, min_visible_fraction=1.0, max_instances=6))
    assert strict < lenient


def test_same_seed_same_image_and_different_seeds_differ():
    a, b, c = (toy_shapes.make_shapes_image(seed) for seed in (3, 3, 4))
    for key in a:
        np.testing.assert_array_equal(a[key], b[key])
    assert not np.array_equal(a["image"], c["image"])


def test_dataset_pads_the_instances():
    batch = toy_shapes.make_shapes_dataset(6, seed=2, size=48, max_instances=3)
    assert batch["images"].shape == (6, 48, 48, 3) and batch["images"].dtype == np.float32
    assert batch["instance_masks"].shape == (6, 3, 48, 48)
    assert batch["class_ids"].shape == (6, 3) and batch["class_ids"].dtype == np.int32
    assert batch["boxes"].shape == (6, 3, 4) and batch["boxes"].dtype == np.int32
    assert batch["semantic"].shape == (6, 48, 48) and batch["semantic"].dtype == np.uint8
    for i, count in enumerate(batch["num_instances"]):
        single = toy_shapes.make_shapes_image((2, i), size=48, max_instances=3)
        assert count == len(single["class_ids"])
        np.testing.assert_array_equal(batch["class_ids"][i, :count], single["class_ids"])
        np.testing.assert_array_equal(batch["boxes"][i, :count], single["boxes"])
        np.testing.assert_array_equal(batch["instance_masks"][i, :count], single["instance_masks"])
        np.testing.assert_array_equal(batch["semantic"][i], single["semantic"])
        assert (batch["class_ids"][i, count:] == 0).all()
        assert (batch["boxes"][i, count:] == 0).all()
        assert not batch["instance_masks"][i, count:].any()
    assert (batch["num_instances"] < 3).any(), "padding is exercised"


@pytest.mark.parametrize(
    "kwargs, name",
    [
        ({"size": 8}, "size"),
        ({"size": 64.0}, "size"),
        ({"max_instances": 0}, "max_instances"),
        ({"classes": ("square", "hexagon")}, "classes"),
        ({"classes": ()}, "classes"),
        ({"min_visible_fraction": 1.5}, "min_visible_fraction"),
    ],
)
def test_bad_arguments(kwargs, name):
    with pytest.raises(ValueError, match=name):
        toy_shapes.make_shapes_image(0, **kwargs)


def test_dataset_bad_n():
    with pytest.raises(ValueError, match="n must"):
        toy_shapes.make_shapes_dataset(0)
