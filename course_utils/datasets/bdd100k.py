"""BDD100K semantic segmentation (the 10k images with pixel labels).

Layout (``root`` = the ``bdd100k`` folder)::

    bdd100k/images/10k/{train,val,test}/NAME.jpg
    bdd100k/labels/sem_seg/masks/{train,val}/NAME.png

7,000 train and 1,000 val images of 1280 x 720 (the 2,000 test images have no labels).
A mask is one channel (mode "L") holding the **Cityscapes trainIds** directly: 0-18 for
the same 19 classes (road ... bicycle), **255 = ignore**; no mapping is needed. (The older
release had ``seg/images/{split}`` and ``seg/labels/{split}/NAME_train_id.png``.)
"""

import numpy as np

from course_utils.datasets import cityscapes
from course_utils.datasets.common import IMAGE_SUFFIXES, DatasetFormat, files, match_by_key, require_folder
from course_utils.datasets.fake_files import save_pair

CLASS_NAMES = cityscapes.CLASS_NAMES
PALETTE = cityscapes.PALETTE
IGNORE_INDEX = 255


class BDD100KFormat(DatasetFormat):
    def pairs(self, root, split):
        self.check_split(split)
        root = require_folder(root, "the bdd100k folder holding images/10k/ and labels/sem_seg/masks/")
        images = files(require_folder(root / "images" / "10k" / split, f"images/10k/{split}/ with the photos"),
                       IMAGE_SUFFIXES)
        labels = files(require_folder(root / "labels" / "sem_seg" / "masks" / split,
                                      f"labels/sem_seg/masks/{split}/ with the masks"), (".png",))
        return match_by_key(images, labels, lambda p: p.stem, lambda p: p.stem)


FORMAT = BDD100KFormat(
    kind="bdd100k", class_names=CLASS_NAMES, palette=PALETTE, ignore_index=IGNORE_INDEX,
    splits=("train", "val"), label_modes=("L", "P"), raw_values=np.append(np.arange(19), 255),
    label_description="a one-channel PNG of Cityscapes trainIds 0-18 and 255 = ignore",
    layout="images/10k/{split}/NAME.jpg with labels/sem_seg/masks/{split}/NAME.png",
)


def write_fake(folder, names, rng, size):
    """A tiny BDD100K copy under ``folder``; see ``fake.write_fake_dataset``."""
    root = folder
    for split in ("train", "val"):
        for name in names:
            stem = f"7d2f7975-e0c1{name}"
            save_pair(root / "images" / "10k" / split / f"{stem}.jpg",
                      root / "labels" / "sem_seg" / "masks" / split / f"{stem}.png", rng, size, [*range(19), 255])
    return root
