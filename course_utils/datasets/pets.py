"""Oxford-IIIT Pet trimaps (37 cat and dog breeds; 7,349 images).

Layout (``root`` holds both folders)::

    images/Abyssinian_1.jpg
    annotations/trimaps/Abyssinian_1.png        (plus macOS '._Abyssinian_1.png' files: skipped)
    annotations/{trainval,test}.txt             "Abyssinian_1 1 1 1" per line (name, class, species, breed)

A trimap is one channel with **1 = pet, 2 = background, 3 = border** (the uncertain
outline). Training ids here: 0 background, 1 pet, and the border becomes **255 =
ignore** (``TRIMAP_TO_TRAIN``). The keras.io example instead uses ``value - 1`` as three
classes; pass ``border_as_class=True`` to ``load_pets`` for that.
"""

import numpy as np

from course_utils.datasets.common import (
    IMAGE_SUFFIXES,
    DatasetError,
    DatasetFormat,
    files,
    lookup_table,
    match_by_key,
    require_folder,
)
from course_utils.datasets.fake_files import save_pair

CLASS_NAMES = ("background", "pet")
IGNORE_INDEX = 255
PALETTE = np.array([(0, 0, 0), (255, 200, 0)], dtype=np.uint8)
PET, BACKGROUND, BORDER = 1, 2, 3      # values in the trimap PNGs
TRIMAP_TO_TRAIN = lookup_table({PET: 1, BACKGROUND: 0, BORDER: IGNORE_INDEX})


class PetsFormat(DatasetFormat):
    def pairs(self, root, split):
        self.check_split(split)
        root = require_folder(root, "the Oxford-IIIT Pet root holding images/ and annotations/")
        image_dir = require_folder(root / "images", "images/ with the photos")
        label_dir = require_folder(root / "annotations" / "trimaps", "annotations/trimaps/ with the trimap PNGs")
        images = files(image_dir, IMAGE_SUFFIXES)
        labels = files(label_dir, (".png",))
        if split != "all":
            listing = root / "annotations" / f"{split}.txt"
            if not listing.is_file():
                raise DatasetError(f"{listing}: file not found (expected the {split} list, 'NAME class species "
                                   "breed' per line)")
            names = {line.split()[0] for line in listing.read_text().splitlines()
                     if line.strip() and not line.startswith("#")}
            images = [p for p in images if p.stem in names]
            labels = [p for p in labels if p.stem in names]
        return match_by_key(images, labels, lambda p: p.stem, lambda p: p.stem)

    def to_train_ids(self, raw, path=None):
        return TRIMAP_TO_TRAIN[raw]


FORMAT = PetsFormat(
    kind="pets", class_names=CLASS_NAMES, palette=PALETTE, ignore_index=IGNORE_INDEX,
    splits=("trainval", "test", "all"), label_modes=("L", "P"), raw_values=np.array([1, 2, 3]),
    label_description="a one-channel trimap PNG with 1 = pet, 2 = background, 3 = border",
    validate_splits=("trainval", "test"),
    layout="images/NAME.jpg with annotations/trimaps/NAME.png, split lists annotations/{trainval,test}.txt",
)


def load_pets(root, split="trainval", size=None, limit=None, border_as_class=False):
    """(images uint8 (N, H, W, 3), labels int32 (N, H, W)).

    Labels: 0 background, 1 pet, 255 border (ignored); with ``border_as_class=True`` the
    keras.io convention: trimap value - 1 (0 pet, 1 background, 2 border)."""
    images, labels = FORMAT.load(root, split, size=size, limit=limit)
    if border_as_class:
        # invert the mapping back to the trimap values, then subtract 1
        trimap = np.select([labels == 1, labels == 0], [PET, BACKGROUND], BORDER)
        labels = (trimap - 1).astype(np.int32)
    return images, labels


def write_fake(folder, names, rng, size):
    """A tiny Oxford-IIIT Pet copy under ``folder``; see ``fake.write_fake_dataset``."""
    root = folder
    lines = {"trainval": [], "test": []}
    for split in lines:
        for name in names:
            stem = f"Abyssinian_{split}{name}"
            save_pair(root / "images" / f"{stem}.jpg", root / "annotations" / "trimaps" / f"{stem}.png", rng, size,
                      [1, 2, 3])
            lines[split].append(f"{stem} 1 1 1")
    # a macOS resource fork, as in the real archive: the loader must skip it
    (root / "annotations" / "trimaps" / "._Abyssinian_trainval0000.png").write_bytes(b"\x00\x05\x16\x07")
    for split, rows in lines.items():
        (root / "annotations" / f"{split}.txt").write_text("\n".join(rows) + "\n")
    return root
