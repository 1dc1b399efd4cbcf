"""CamVid in the SegNet tutorial's layout (the version most FCN/SegNet code uses).

Layout (``root`` = the ``CamVid`` folder)::

    CamVid/train/0001TP_006690.png        CamVid/trainannot/0001TP_006690.png
    CamVid/val/...                        CamVid/valannot/...
    CamVid/test/...                       CamVid/testannot/...

367 / 101 / 233 images of 480 x 360. A label PNG has the same file name as its image,
one channel (Pillow mode "L"), values 0-10 for the 11 classes below and **11 for
unlabelled** pixels: the network has 11 outputs, and 11 is the ignore index. (The
original CamVid is 960 x 720 with RGB colour-coded ``*_L.png`` and 32 classes; decode
those with ``decode_palette`` and its ``label_colors.txt``.)
"""

import numpy as np

from course_utils.datasets.common import DatasetFormat, files, match_by_key, require_folder
from course_utils.datasets.fake_files import save_pair

CLASS_NAMES = ("Sky", "Building", "Pole", "Road", "Pavement", "Tree", "SignSymbol", "Fence", "Car",
               "Pedestrian", "Bicyclist")
IGNORE_INDEX = 11
# The SegNet tutorial's display colours for ids 0-10 (Unlabelled, 11, is drawn black).
PALETTE = np.array([(128, 128, 128), (128, 0, 0), (192, 192, 128), (128, 64, 128), (60, 40, 222),
                    (128, 128, 0), (192, 128, 128), (64, 64, 128), (64, 0, 128), (64, 64, 0),
                    (0, 128, 192)], dtype=np.uint8)


class CamVidFormat(DatasetFormat):
    def pairs(self, root, split):
        self.check_split(split)
        root = require_folder(root, "the CamVid folder holding train/, trainannot/, val/, ...")
        images = files(require_folder(root / split, f"CamVid/{split}/ with the {split} images"), (".png",))
        labels = files(require_folder(root / f"{split}annot", f"CamVid/{split}annot/ with the {split} labels"),
                       (".png",))
        return match_by_key(images, labels, lambda p: p.stem, lambda p: p.stem)


FORMAT = CamVidFormat(
    kind="camvid", class_names=CLASS_NAMES, palette=PALETTE, ignore_index=IGNORE_INDEX,
    splits=("train", "val", "test"), label_modes=("L", "P"), raw_values=np.arange(12),
    label_description="a one-channel PNG of class ids 0-10 and 11 = unlabelled",
    layout="CamVid/{train,val,test}/NAME.png with CamVid/{split}annot/NAME.png",
)


def write_fake(folder, names, rng, size):
    """A tiny CamVid (SegNet layout) copy under ``folder``; see ``fake.write_fake_dataset``."""
    root = folder / "CamVid"
    for split in ("train", "val", "test"):
        for name in names:
            save_pair(root / split / f"0001TP_{split}{name}.png", root / f"{split}annot" / f"0001TP_{split}{name}.png",
                      rng, size, range(12))
    return root
