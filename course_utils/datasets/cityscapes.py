"""Cityscapes (fine annotations): ``labelIds`` PNGs mapped to the 19 ``trainIds``.

Layout (``root`` holds both folders)::

    leftImg8bit/{train,val,test}/{city}/{city}_{seq:06}_{frame:06}_leftImg8bit.png
    gtFine/{train,val,test}/{city}/{city}_{seq:06}_{frame:06}_gtFine_labelIds.png
                                                        (+ _instanceIds.png, _color.png, _polygons.json)

A ``labelIds`` PNG is one channel (mode "L") with the 34 ids 0-33 of cityscapesScripts'
``labels.py``. Training and evaluation use 19 of them, renumbered 0-18 (``trainId``);
every other id (unlabeled, ego vehicle, parking, guard rail, caravan, ...) becomes
**255 = ignore**. ``LABEL_TO_TRAIN`` is that lookup table.
"""

import numpy as np

from course_utils.datasets.common import DatasetFormat, files, lookup_table, match_by_key, require_folder
from course_utils.datasets.fake_files import save_pair

# (labelId, name, trainId) for all 34 ids of cityscapesScripts' labels.py (license plate,
# id -1, never appears in the PNGs).
LABELS = (
    (0, "unlabeled", 255), (1, "ego vehicle", 255), (2, "rectification border", 255), (3, "out of roi", 255),
    (4, "static", 255), (5, "dynamic", 255), (6, "ground", 255), (7, "road", 0), (8, "sidewalk", 1),
    (9, "parking", 255), (10, "rail track", 255), (11, "building", 2), (12, "wall", 3), (13, "fence", 4),
    (14, "guard rail", 255), (15, "bridge", 255), (16, "tunnel", 255), (17, "pole", 5), (18, "polegroup", 255),
    (19, "traffic light", 6), (20, "traffic sign", 7), (21, "vegetation", 8), (22, "terrain", 9), (23, "sky", 10),
    (24, "person", 11), (25, "rider", 12), (26, "car", 13), (27, "truck", 14), (28, "bus", 15),
    (29, "caravan", 255), (30, "trailer", 255), (31, "train", 16), (32, "motorcycle", 17), (33, "bicycle", 18),
)
IGNORE_INDEX = 255
CLASS_NAMES = tuple(name for _, name, train_id in sorted(LABELS, key=lambda label: label[2]) if train_id != 255)
# labelId -> trainId for any 8-bit value; 255 for ids that are not trained.
LABEL_TO_TRAIN = lookup_table({label_id: train_id for label_id, _, train_id in LABELS}, default=IGNORE_INDEX)
# Colours of the 19 training classes, from labels.py.
PALETTE = np.array([(128, 64, 128), (244, 35, 232), (70, 70, 70), (102, 102, 156), (190, 153, 153),
                    (153, 153, 153), (250, 170, 30), (220, 220, 0), (107, 142, 35), (152, 251, 152),
                    (70, 130, 180), (220, 20, 60), (255, 0, 0), (0, 0, 142), (0, 0, 70), (0, 60, 100),
                    (0, 80, 100), (0, 0, 230), (119, 11, 32)], dtype=np.uint8)

IMAGE_SUFFIX = "_leftImg8bit.png"
LABEL_SUFFIX = "_gtFine_labelIds.png"


def label_ids_to_train_ids(label_ids):
    """labelIds (any shape, ints 0-255) -> trainIds int32, 255 for ignored ids."""
    label_ids = np.asarray(label_ids)
    if label_ids.dtype.kind not in "iu" or (label_ids.size and (label_ids.min() < 0 or label_ids.max() > 255)):
        raise ValueError("label_ids must be integers in 0-255 (the values of a labelIds PNG)")
    return LABEL_TO_TRAIN[label_ids]


class CityscapesFormat(DatasetFormat):
    def pairs(self, root, split):
        self.check_split(split)
        root = require_folder(root, "the Cityscapes root holding leftImg8bit/ and gtFine/")
        image_dir = require_folder(root / "leftImg8bit" / split, f"leftImg8bit/{split}/<city>/ with the images")
        label_dir = require_folder(root / "gtFine" / split, f"gtFine/{split}/<city>/ with the fine labels")
        images = [p for p in files(image_dir, (".png",), recursive=True) if p.name.endswith(IMAGE_SUFFIX)]
        labels = [p for p in files(label_dir, (".png",), recursive=True) if p.name.endswith(LABEL_SUFFIX)]
        key = lambda p, suffix, top: str(p.relative_to(top))[: -len(suffix)]  # noqa: E731  city/city_seq_frame
        return match_by_key(images, labels, lambda p: key(p, IMAGE_SUFFIX, image_dir),
                            lambda p: key(p, LABEL_SUFFIX, label_dir))

    def to_train_ids(self, raw, path=None):
        return label_ids_to_train_ids(raw)


FORMAT = CityscapesFormat(
    kind="cityscapes", class_names=CLASS_NAMES, palette=PALETTE, ignore_index=IGNORE_INDEX,
    splits=("train", "val", "test"), label_modes=("L",), raw_values=np.arange(34),
    label_description="a one-channel (mode 'L') *_gtFine_labelIds.png with labelIds 0-33",
    validate_splits=("train", "val"),
    layout="leftImg8bit/{split}/{city}/*_leftImg8bit.png with gtFine/{split}/{city}/*_gtFine_labelIds.png",
)


def write_fake(folder, names, rng, size):
    """A tiny Cityscapes copy under ``folder``; see ``fake.write_fake_dataset``."""
    root = folder
    for split, city in (("train", "aachen"), ("val", "frankfurt")):
        for i, _ in enumerate(names):
            stem = f"{city}_{i:06d}_000019"
            save_pair(root / "leftImg8bit" / split / city / f"{stem}_leftImg8bit.png",
                      root / "gtFine" / split / city / f"{stem}_gtFine_labelIds.png", rng, size, range(34))
    return root
