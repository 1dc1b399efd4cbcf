"""COCO-Stuff 164k (COCO 2017 images with "stuff" and "thing" pixel labels).

Layout (``root`` = the ``cocostuff`` folder; ``annotations/`` is what
``stuffthingmaps_trainval2017.zip`` unpacks to)::

    cocostuff/images/{train2017,val2017}/000000000009.jpg
    cocostuff/annotations/{train2017,val2017}/000000000009.png

118k train and 5k val images. A label PNG is one channel (mode "L"): value = COCO
category id - 1, so 0-90 are the 91 "thing" ids (80 used; 11 ids such as "street sign"
never occur) and 91-181 the 91 "stuff" classes; **255 = unlabeled** (ignore). The 182
names below follow COCO-Stuff's ``labels.txt``. COCO-Stuff has no official colour map:
``PALETTE`` is the Pascal VOC bit palette, only for display.
"""

import numpy as np

from course_utils.datasets.common import IMAGE_SUFFIXES, DatasetFormat, bit_palette, files, match_by_key, require_folder
from course_utils.datasets.fake_files import save_pair

THING_NAMES = (
    "person", "bicycle", "car", "motorcycle", "airplane", "bus", "train", "truck", "boat", "traffic light",
    "fire hydrant", "street sign", "stop sign", "parking meter", "bench", "bird", "cat", "dog", "horse", "sheep",
    "cow", "elephant", "bear", "zebra", "giraffe", "hat", "backpack", "umbrella", "shoe", "eye glasses",
    "handbag", "tie", "suitcase", "frisbee", "skis", "snowboard", "sports ball", "kite", "baseball bat",
    "baseball glove", "skateboard", "surfboard", "tennis racket", "bottle", "plate", "wine glass", "cup", "fork",
    "knife", "spoon", "bowl", "banana", "apple", "sandwich", "orange", "broccoli", "carrot", "hot dog", "pizza",
    "donut", "cake", "chair", "couch", "potted plant", "bed", "mirror", "dining table", "window", "desk",
    "toilet", "door", "tv", "laptop", "mouse", "remote", "keyboard", "cell phone", "microwave", "oven",
    "toaster", "sink", "refrigerator", "blender", "book", "clock", "vase", "scissors", "teddy bear",
    "hair drier", "toothbrush", "hair brush",
)
STUFF_NAMES = (
    "banner", "blanket", "branch", "bridge", "building-other", "bush", "cabinet", "cage", "cardboard", "carpet",
    "ceiling-other", "ceiling-tile", "cloth", "clothes", "clouds", "counter", "cupboard", "curtain", "desk-stuff",
    "dirt", "door-stuff", "fence", "floor-marble", "floor-other", "floor-stone", "floor-tile", "floor-wood",
    "flower", "fog", "food-other", "fruit", "furniture-other", "grass", "gravel", "ground-other", "hill", "house",
    "leaves", "light", "mat", "metal", "mirror-stuff", "moss", "mountain", "mud", "napkin", "net", "paper",
    "pavement", "pillow", "plant-other", "plastic", "platform", "playingfield", "railing", "railroad", "river",
    "road", "rock", "roof", "rug", "salad", "sand", "sea", "shelf", "sky-other", "skyscraper", "snow",
    "solid-other", "stairs", "stone", "straw", "structural-other", "table", "tent", "textile-other", "towel",
    "tree", "vegetable", "wall-brick", "wall-concrete", "wall-other", "wall-panel", "wall-stone", "wall-tile",
    "wall-wood", "water-other", "waterdrops", "window-blind", "window-other", "wood",
)
CLASS_NAMES = THING_NAMES + STUFF_NAMES  # 182, index = COCO category id - 1
IGNORE_INDEX = 255
PALETTE = bit_palette(len(CLASS_NAMES))
SPLITS = ("train2017", "val2017")


class CocoStuffFormat(DatasetFormat):
    def pairs(self, root, split):
        self.check_split(split)
        root = require_folder(root, "the cocostuff folder holding images/ and annotations/")
        images = files(require_folder(root / "images" / split, f"images/{split}/ with the COCO photos"),
                       IMAGE_SUFFIXES)
        labels = files(require_folder(root / "annotations" / split,
                                      f"annotations/{split}/ with the stuffthingmaps PNGs"), (".png",))
        return match_by_key(images, labels, lambda p: p.stem, lambda p: p.stem)


FORMAT = CocoStuffFormat(
    kind="coco_stuff", class_names=CLASS_NAMES, palette=PALETTE, ignore_index=IGNORE_INDEX,
    splits=SPLITS, label_modes=("L", "P"), raw_values=np.append(np.arange(182), 255),
    label_description="a one-channel PNG of COCO-Stuff ids 0-181 (COCO id - 1) and 255 = unlabeled",
    layout="images/{train2017,val2017}/NAME.jpg with annotations/{split}/NAME.png",
)


def write_fake(folder, names, rng, size):
    """A tiny COCO-Stuff copy under ``folder``; see ``fake.write_fake_dataset``."""
    root = folder
    for split in ("train2017", "val2017"):
        for name in names:
            stem = f"00000000{name}"
            save_pair(root / "images" / split / f"{stem}.jpg", root / "annotations" / split / f"{stem}.png", rng, size,
                      [0, 2, 123, 181, 255])
    return root
