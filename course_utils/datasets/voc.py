"""Pascal VOC 2012 segmentation: palette PNGs.

Layout (``root`` = ``VOCdevkit/VOC2012``, or ``VOCdevkit`` or its parent)::

    VOC2012/JPEGImages/2007_000032.jpg
    VOC2012/SegmentationClass/2007_000032.png
    VOC2012/ImageSets/Segmentation/{train,val,trainval}.txt     one image name per line

1,464 train and 1,449 val images. A label PNG is a **palette image** (Pillow mode "P"):
each pixel stores a class index (0 background, 1-20 the classes below) and the file's
palette only says how to *display* it; **255 = void** (object borders and hard regions),
ignored. ``np.array(Image.open(path))`` gives the indices; ``.convert("RGB")`` (or
OpenCV) gives colours instead, which ``decode_palette(rgb, PALETTE)`` turns back.
"""

from pathlib import Path

import numpy as np

from course_utils.datasets.common import DatasetError, DatasetFormat, bit_palette, require_folder
from course_utils.datasets.fake_files import save_pair

CLASS_NAMES = ("background", "aeroplane", "bicycle", "bird", "boat", "bottle", "bus", "car", "cat", "chair",
               "cow", "diningtable", "dog", "horse", "motorbike", "person", "pottedplant", "sheep", "sofa",
               "train", "tvmonitor")
IGNORE_INDEX = 255
FULL_PALETTE = bit_palette(256)   # what the PNGs carry; index 255 is (224, 224, 192)
PALETTE = FULL_PALETTE[: len(CLASS_NAMES)]


def voc_palette():
    """The 256-colour Pascal VOC palette (uint8 (256, 3)), as stored in the label PNGs."""
    return FULL_PALETTE.copy()


def find_voc_root(root):
    """The folder holding JPEGImages/: ``root`` itself, ``root/VOC2012`` or ``root/VOCdevkit/VOC2012``."""
    root = Path(root)
    for candidate in (root, root / "VOC2012", root / "VOCdevkit" / "VOC2012"):
        if (candidate / "JPEGImages").is_dir() or (candidate / "SegmentationClass").is_dir():
            return candidate
    return require_folder(root, "VOCdevkit/VOC2012 (holding JPEGImages/, SegmentationClass/, ImageSets/)")


class VOCFormat(DatasetFormat):
    def pairs(self, root, split):
        self.check_split(split)
        root = find_voc_root(root)
        image_dir = require_folder(root / "JPEGImages", "VOC2012/JPEGImages/ with the photos")
        label_dir = require_folder(root / "SegmentationClass", "VOC2012/SegmentationClass/ with the palette PNGs")
        listing = root / "ImageSets" / "Segmentation" / f"{split}.txt"
        if not listing.is_file():
            raise DatasetError(f"{listing}: file not found (expected the list of {split} image names, one per line)")
        names = [line.strip() for line in listing.read_text().splitlines() if line.strip()]
        pairs, lonely_images, lonely_labels = [], [], []
        for name in names:
            image, label = image_dir / f"{name}.jpg", label_dir / f"{name}.png"
            if image.is_file() and label.is_file():
                pairs.append((image, label))
            elif image.is_file():            # listed, labelled nowhere
                lonely_images.append(image)
            elif label.is_file():
                lonely_labels.append(label)
            else:
                lonely_images.append(image)  # neither exists: report the missing photo
        return pairs, lonely_images, lonely_labels


FORMAT = VOCFormat(
    kind="voc", class_names=CLASS_NAMES, palette=PALETTE, ignore_index=IGNORE_INDEX,
    splits=("train", "val", "trainval"), label_modes=("P",), raw_values=np.append(np.arange(21), 255),
    label_description="a palette PNG (mode 'P') of class indices 0-20 and 255 = void",
    validate_splits=("train", "val"),
    layout="JPEGImages/NAME.jpg and SegmentationClass/NAME.png for each NAME in ImageSets/Segmentation/{split}.txt",
)


def write_fake(folder, names, rng, size):
    """A tiny Pascal VOC 2012 copy under ``folder``; see ``fake.write_fake_dataset``."""
    root = folder / "VOCdevkit" / "VOC2012"
    listing = {}
    for split in ("train", "val"):
        listing[split] = [f"2007_{split}{name}" for name in names]
        for stem in listing[split]:
            save_pair(root / "JPEGImages" / f"{stem}.jpg", root / "SegmentationClass" / f"{stem}.png", rng, size,
                      [0, 12, 15, 255], mode="P", palette=voc_palette())
    listing["trainval"] = listing["train"] + listing["val"]
    (root / "ImageSets" / "Segmentation").mkdir(parents=True, exist_ok=True)
    for split, stems in listing.items():
        (root / "ImageSets" / "Segmentation" / f"{split}.txt").write_text("\n".join(stems) + "\n")
    return root
