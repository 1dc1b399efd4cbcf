"""The synthetic "shapes" data set for instance segmentation.

Like the toy data set of the Mask R-CNN sample code (matterport), each image shows a few
filled shapes (squares, circles, triangles) in random colours on a random background
colour. Besides the image, you get what instance segmentation needs:

- one boolean mask per instance,
- its class id (1-based: class id k is ``classes[k - 1]``; 0 is the background),
- its bounding box ``(y1, x1, y2, x2)``,
- a semantic label map (class id per pixel), which is what a semantic segmentation
  network like the lecture's FCN is trained on.

Shapes are drawn in order, so later instances occlude earlier ones. The masks are the
*visible* parts: an instance's mask excludes the pixels of every instance drawn after it.
An instance that would keep less than ``min_visible_fraction`` of its own area is not
drawn at all (so the image never shows a sliver that has no mask).

Everything is determined by the seed.
"""

import numpy as np
from PIL import Image, ImageDraw

from course_utils.argument_checks import check_int

SHAPE_NAMES = ("square", "circle", "triangle")


def _check_classes(classes):
    if isinstance(classes, str):
        raise ValueError(f"classes must be a sequence of shape names, got {classes!r}")
    classes = tuple(classes)
    if not classes or len(set(classes)) != len(classes) or not set(classes) <= set(SHAPE_NAMES):
        raise ValueError(
            f"classes must be distinct names from {SHAPE_NAMES}, got {classes!r}"
        )
    return classes


def _check_fraction(name, value):
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not 0 <= value <= 1:
        raise ValueError(f"{name} must be a number in [0, 1], got {value!r}")


def _random_colour(rng, avoid):
    """An RGB colour in [0, 1] at least 0.3 (Euclidean) away from the colour ``avoid``."""
    while True:
        colour = rng.uniform(0.0, 1.0, size=3)
        if np.linalg.norm(colour - avoid) > 0.3:
            return colour


def _shape_mask(shape, center_y, center_x, radius, size):
    """Boolean (size, size) mask of a filled shape of "radius" ``radius`` (half its width)."""
    canvas = Image.new("1", (size, size), 0)
    draw = ImageDraw.Draw(canvas)
    if shape == "square":
        draw.rectangle(
            [center_x - radius, center_y - radius, center_x + radius, center_y + radius],
            fill=1,
        )
    elif shape == "circle":
        draw.ellipse(
            [center_x - radius, center_y - radius, center_x + radius, center_y + radius],
            fill=1,
        )
    else:  # an upright equilateral triangle with its centre at (center_y, center_x)
        half_height = radius * np.sqrt(3) / 2
        draw.polygon(
            [
                (center_x, center_y - radius),
                (center_x - radius, center_y + half_height),
                (center_x + radius, center_y + half_height),
            ],
            fill=1,
        )
    return np.asarray(canvas, dtype=bool)


def _box(mask):
    """Tight box (y1, x1, y2, x2) of a non-empty mask; y2 and x2 are exclusive."""
    rows = np.flatnonzero(mask.any(axis=1))
    cols = np.flatnonzero(mask.any(axis=0))
    return rows[0], cols[0], rows[-1] + 1, cols[-1] + 1


def make_shapes_image(seed, size=128, max_instances=4, classes=SHAPE_NAMES,
                      min_visible_fraction=0.3):
    """Draw one image of random shapes with its instance and semantic labels.

    Args:
        seed: int (or sequence of ints) for ``numpy.random.default_rng``; the same seed
            and options always give the same image.
        size: image height and width in pixels, int >= 16.
        max_instances: most shapes per image, int >= 1. An image gets 1 to
            ``max_instances`` shapes (fewer if some are dropped as too occluded; the
            last shape drawn is never occluded, so there is always at least one).
        classes: the shape names that may occur, distinct names from ``SHAPE_NAMES``
            ("square", "circle", "triangle"). Class id k (>= 1) is ``classes[k - 1]``.
        min_visible_fraction: float in [0, 1]; a shape whose visible part would be less
            than this fraction of its own area is left out of the image.

    Returns:
        dict with
        ``image``: float32 (size, size, 3), RGB in [0, 1]; a plain random background
            colour with the shapes painted in order (later ones on top);
        ``instance_masks``: bool (n, size, size), the visible pixels of each instance
            (masks do not overlap);
        ``class_ids``: int32 (n,), class id of each instance, in [1, len(classes)];
        ``boxes``: int32 (n, 4), tight boxes ``(y1, x1, y2, x2)`` of the visible masks,
            with y2 and x2 exclusive (``mask[y1:y2, x1:x2]`` holds all of it);
        ``semantic``: uint8 (size, size), class id per pixel, 0 = background.
        Instances are in drawing order (bottom to top); n >= 1.

    Raises:
        ValueError: if an argument is out of its range.
    """
    check_int("size", size, 16)
    check_int("max_instances", max_instances, 1)
    classes = _check_classes(classes)
    _check_fraction("min_visible_fraction", min_visible_fraction)
    rng = np.random.default_rng(seed)

    background = rng.uniform(0.0, 1.0, size=3)
    num_shapes = int(rng.integers(1, max_instances + 1))
    shapes = []
    for _ in range(num_shapes):
        class_id = int(rng.integers(1, len(classes) + 1))
        # Sizes as in the Mask R-CNN sample: radius up to a quarter of the image, the
        # centre far enough from the border that most of the shape is inside.
        radius = rng.uniform(size / 16, size / 4)
        border = size / 8
        center_y, center_x = rng.uniform(border, size - border, size=2)
        mask = _shape_mask(classes[class_id - 1], center_y, center_x, radius, size)
        shapes.append((class_id, _random_colour(rng, background), mask))

    # Decide from the top shape down which shapes stay: what a shape keeps visible depends
    # only on the shapes above it, and leaving one out only uncovers the ones below.
    covered = np.zeros((size, size), dtype=bool)
    kept = []
    for class_id, colour, mask in reversed(shapes):
        visible = mask & ~covered
        if mask.any() and visible.sum() >= min_visible_fraction * mask.sum() and visible.any():
            kept.append((class_id, colour, visible))
            covered |= mask
    kept.reverse()

    image = np.empty((size, size, 3), dtype=np.float32)
    image[:] = background
    semantic = np.zeros((size, size), dtype=np.uint8)
    for class_id, colour, visible in kept:
        image[visible] = colour
        semantic[visible] = class_id
    return {
        "image": image,
        "instance_masks": np.stack([visible for _, _, visible in kept]),
        "class_ids": np.array([class_id for class_id, _, _ in kept], dtype=np.int32),
        "boxes": np.array([_box(visible) for _, _, visible in kept], dtype=np.int32),
        "semantic": semantic,
    }


def make_shapes_dataset(n, seed=0, size=128, max_instances=4, classes=SHAPE_NAMES,
                        min_visible_fraction=0.3):
    """Draw ``n`` shapes images as batched arrays; image ``i`` uses seed ``(seed, i)``.

    Images have different numbers of instances, so the per-instance arrays are padded to
    ``max_instances`` entries: entries ``num_instances[i]`` and beyond of image ``i`` are
    padding, with an all-False mask, class id 0 and box (0, 0, 0, 0). Use
    ``num_instances`` (or ``class_ids > 0``) to find the real ones.

    Args:
        n: number of images, int >= 1.
        seed: int; data sets with different seeds have different images.
        size, max_instances, classes, min_visible_fraction: as in ``make_shapes_image``.

    Returns:
        dict with
        ``images``: float32 (n, size, size, 3) in [0, 1];
        ``instance_masks``: bool (n, max_instances, size, size);
        ``class_ids``: int32 (n, max_instances), 0 for padding;
        ``boxes``: int32 (n, max_instances, 4) as (y1, x1, y2, x2), zeros for padding;
        ``num_instances``: int32 (n,), number of real instances per image;
        ``semantic``: uint8 (n, size, size).

    Raises:
        ValueError: if an argument is out of its range.
    """
    check_int("n", n, 1)
    check_int("size", size, 16)
    check_int("max_instances", max_instances, 1)
    batch = {
        "images": np.zeros((n, size, size, 3), dtype=np.float32),
        "instance_masks": np.zeros((n, max_instances, size, size), dtype=bool),
        "class_ids": np.zeros((n, max_instances), dtype=np.int32),
        "boxes": np.zeros((n, max_instances, 4), dtype=np.int32),
        "num_instances": np.zeros((n,), dtype=np.int32),
        "semantic": np.zeros((n, size, size), dtype=np.uint8),
    }
    for i in range(n):
        example = make_shapes_image((seed, i), size, max_instances, classes,
                                    min_visible_fraction)
        count = len(example["class_ids"])
        batch["images"][i] = example["image"]
        batch["instance_masks"][i, :count] = example["instance_masks"]
        batch["class_ids"][i, :count] = example["class_ids"]
        batch["boxes"][i, :count] = example["boxes"]
        batch["num_instances"][i] = count
        batch["semantic"][i] = example["semantic"]
    return batch
