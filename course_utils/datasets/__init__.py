"""Loaders for the lecture's segmentation datasets, reading their real on-disk layouts.

One module per dataset family (each documents its layout and label encoding):

| kind | module | labels on disk | training ids |
|---|---|---|---|
| ``camvid`` | ``camvid`` | SegNet layout, grey PNG 0-10, 11 = unlabelled | 0-10, ignore 11 |
| ``cityscapes`` | ``cityscapes`` | ``gtFine/*_labelIds.png`` 0-33 | 19 trainIds, ignore 255 |
| ``coco_stuff`` | ``coco_stuff`` | stuffthingmaps grey PNG 0-181, 255 | 182 classes, ignore 255 |
| ``voc`` | ``voc`` | palette ('P') PNG 0-20, 255 void | 21 classes, ignore 255 |
| ``pets`` | ``pets`` | trimap 1 pet, 2 background, 3 border | 0 background, 1 pet, ignore 255 |
| ``bdd100k`` | ``bdd100k`` | grey PNG of Cityscapes trainIds, 255 | 19 classes, ignore 255 |
| ``mapillary`` | ``mapillary`` | v1.2 palette PNG ids (or RGB), config.json | config.json order, ignore "unlabeled" |
| ``apolloscape`` | ``apolloscape`` | ``*_bin.png`` label ids | 22 devkit trainIds, ignore 255 |

Use::

    from course_utils import datasets
    images, labels = datasets.load("cityscapes", root, "train", size=(256, 512))
    fmt = datasets.get_format("cityscapes")   # class_names, palette, ignore_index, num_classes
    sequence = fmt.sequence(root, "train", size=(256, 512), batch_size=8)   # for model.fit
    print(datasets.validate_dataset("voc", "VOCdevkit"))

``colorize`` and ``decode_palette`` convert between ids and colours; ``fake`` writes
tiny datasets in these formats for tests. ``fetch`` downloads a dataset from its official
source into the layout its loader reads (``segcourse data fetch oxford-pets``).
"""

from course_utils.datasets import apolloscape, bdd100k, camvid, cityscapes, coco_stuff, mapillary, pets, voc
from course_utils.datasets.common import (
    DatasetError,
    DatasetFormat,
    colorize,
    decode_palette,
    resize_labels,
)
from course_utils.datasets.fake import write_fake_dataset
from course_utils.datasets.validate import Problem, ValidationReport, validate_dataset

_FIXED = {
    "camvid": camvid.FORMAT, "cityscapes": cityscapes.FORMAT, "coco_stuff": coco_stuff.FORMAT, "voc": voc.FORMAT,
    "pets": pets.FORMAT, "bdd100k": bdd100k.FORMAT, "apolloscape": apolloscape.FORMAT,
}
KINDS = tuple(sorted([*_FIXED, "mapillary"]))


def get_format(kind, root=None, need_root=True):
    """The ``DatasetFormat`` of ``kind``. Mapillary's classes come from ``root/config.json``,
    so it needs ``root`` (``need_root=False`` only checks that the kind exists)."""
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {', '.join(KINDS)}; got {kind!r}")
    if kind == "mapillary":
        if root is None:
            if not need_root:
                return None
            raise ValueError("mapillary needs root: its classes are read from root/config.json")
        return mapillary.mapillary_format(root)
    return _FIXED[kind]


def load(kind, root, split=None, size=None, limit=None):
    """(images uint8 (N, H, W, 3), labels int32 (N, H, W)) of one split, in training ids.

    ``split`` defaults to the format's first split; ``size=(height, width)`` resizes
    (labels with nearest neighbour); ``limit`` reads only the first pairs."""
    fmt = get_format(kind, root)
    return fmt.load(root, split or fmt.splits[0], size=size, limit=limit)


__all__ = [
    "KINDS", "DatasetError", "DatasetFormat", "Problem", "ValidationReport", "apolloscape", "bdd100k", "camvid",
    "cityscapes", "coco_stuff", "colorize", "decode_palette", "get_format", "load", "mapillary", "pets",
    "resize_labels", "validate_dataset", "voc", "write_fake_dataset",
]
