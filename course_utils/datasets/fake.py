"""Write tiny datasets in the exact on-disk formats, for tests and demonstrations.

``write_fake_dataset(kind, folder)`` creates a complete, valid copy of the layout of
``kind`` with a few small random images and labels (values drawn from what the format
allows, including ignored ids), and returns the dataset's root folder. Tests break
single files of it to check that loaders and the validator name them.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from PIL import Image

from course_utils.datasets import apolloscape, voc

# A few of Mapillary Vistas v1.2's 66 labels (name, readable, colour), in a config.json of
# the real structure; the last one is the ignored "unlabeled".
MAPILLARY_LABELS = (
    ("construction--flat--road", "Road", (128, 64, 128)),
    ("construction--flat--sidewalk", "Sidewalk", (244, 35, 232)),
    ("human--person", "Person", (220, 20, 60)),
    ("nature--sky", "Sky", (70, 130, 180)),
    ("object--vehicle--car", "Car", (0, 0, 142)),
    ("void--unlabeled", "Unlabeled", (0, 0, 0)),
)


def _save_photo(path, rng, size, suffix):
    path.parent.mkdir(parents=True, exist_ok=True)
    pixels = rng.integers(0, 256, size=(*size, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(path.with_suffix(suffix) if path.suffix != suffix else path)


def _save_label(path, values, mode="L", palette=None):
    path.parent.mkdir(parents=True, exist_ok=True)
    image = Image.fromarray(values.astype(np.uint8), mode="L")
    if mode == "P":
        image = image.convert("P")     # keeps the values as palette indices
        image.putpalette(np.asarray(palette, dtype=np.uint8).ravel().tolist())
    image.save(path)


def _labels(rng, size, allowed):
    return rng.choice(np.asarray(allowed), size=size)


def write_fake_dataset(kind, folder, num_images=2, size=(12, 16), seed=0):
    """Write a small valid dataset of format ``kind`` under ``folder``; return its root.

    Args:
        kind: one of ``course_utils.datasets.KINDS``.
        folder: where to write (created); the root is ``folder`` itself, except VOC
            (``folder/VOCdevkit/VOC2012``) and CamVid (``folder/CamVid``) as distributed.
        num_images: images per split, int >= 1.
        size: (height, width) of every image.
        seed: seeds the random pixels and labels.

    Returns:
        pathlib.Path of the dataset root to pass to the loaders and ``validate_dataset``.
    """
    from course_utils.datasets import KINDS

    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    if not isinstance(num_images, int) or num_images < 1:
        raise ValueError(f"num_images must be an int >= 1, got {num_images!r}")
    rng = np.random.default_rng(seed)
    folder = Path(folder)
    names = [f"{i:04d}" for i in range(num_images)]

    if kind == "camvid":
        root = folder / "CamVid"
        for split in ("train", "val", "test"):
            for name in names:
                _save_photo(root / split / f"0001TP_{split}{name}.png", rng, size, ".png")
                _save_label(root / f"{split}annot" / f"0001TP_{split}{name}.png", _labels(rng, size, range(12)))
    elif kind == "cityscapes":
        root = folder
        for split, city in (("train", "aachen"), ("val", "frankfurt")):
            for i, _ in enumerate(names):
                stem = f"{city}_{i:06d}_000019"
                _save_photo(root / "leftImg8bit" / split / city / f"{stem}_leftImg8bit.png", rng, size, ".png")
                _save_label(root / "gtFine" / split / city / f"{stem}_gtFine_labelIds.png",
                            _labels(rng, size, range(34)))
    elif kind == "bdd100k":
        root = folder
        for split in ("train", "val"):
            for name in names:
                stem = f"7d2f7975-e0c1{name}"
                _save_photo(root / "images" / "10k" / split / f"{stem}.jpg", rng, size, ".jpg")
                _save_label(root / "labels" / "sem_seg" / "masks" / split / f"{stem}.png",
                            _labels(rng, size, [*range(19), 255]))
    elif kind == "coco_stuff":
        root = folder
        for split in ("train2017", "val2017"):
            for name in names:
                stem = f"00000000{name}"
                _save_photo(root / "images" / split / f"{stem}.jpg", rng, size, ".jpg")
                _save_label(root / "annotations" / split / f"{stem}.png", _labels(rng, size, [0, 2, 123, 181, 255]))
    elif kind == "voc":
        root = folder / "VOCdevkit" / "VOC2012"
        listing = {}
        for split in ("train", "val"):
            listing[split] = [f"2007_{split}{name}" for name in names]
            for stem in listing[split]:
                _save_photo(root / "JPEGImages" / f"{stem}.jpg", rng, size, ".jpg")
                _save_label(root / "SegmentationClass" / f"{stem}.png", _labels(rng, size, [0, 12, 15, 255]),
                            mode="P", palette=voc.voc_palette())
        listing["trainval"] = listing["train"] + listing["val"]
        (root / "ImageSets" / "Segmentation").mkdir(parents=True, exist_ok=True)
        for split, stems in listing.items():
            (root / "ImageSets" / "Segmentation" / f"{split}.txt").write_text("\n".join(stems) + "\n")
    elif kind == "pets":
        root = folder
        lines = {"trainval": [], "test": []}
        for split in lines:
            for name in names:
                stem = f"Abyssinian_{split}{name}"
                _save_photo(root / "images" / f"{stem}.jpg", rng, size, ".jpg")
                _save_label(root / "annotations" / "trimaps" / f"{stem}.png", _labels(rng, size, [1, 2, 3]))
                lines[split].append(f"{stem} 1 1 1")
        (root / "annotations" / "trimaps" / "._Abyssinian_trainval0000.png").write_bytes(b"\x00\x05\x16\x07")
        for split, rows in lines.items():
            (root / "annotations" / f"{split}.txt").write_text("\n".join(rows) + "\n")
    elif kind == "mapillary":
        root = folder
        root.mkdir(parents=True, exist_ok=True)
        config = {"labels": [{"name": n, "readable": r, "color": list(c), "instances": False,
                              "evaluate": not n.endswith("unlabeled")} for n, r, c in MAPILLARY_LABELS]}
        (root / "config.json").write_text(json.dumps(config, indent=1))
        palette = np.zeros((256, 3), dtype=np.uint8)
        palette[: len(MAPILLARY_LABELS)] = [c for _, _, c in MAPILLARY_LABELS]
        for split in ("training", "validation"):
            for name in names:
                stem = f"__CRyFzoDOXn6unQ6a3D{name}"
                _save_photo(root / split / "images" / f"{stem}.jpg", rng, size, ".jpg")
                _save_label(root / split / "labels" / f"{stem}.png",
                            _labels(rng, size, range(len(MAPILLARY_LABELS))), mode="P", palette=palette)
    elif kind == "apolloscape":
        root = folder
        allowed = [label_id for label_id, *_ in apolloscape.LABELS]
        for i, name in enumerate(names):
            camera = f"Camera {5 + i % 2}"
            stem = f"170927_0638118{name}_Camera_{5 + i % 2}"
            _save_photo(root / "road02_seg" / "ColorImage" / "Record001" / camera / f"{stem}.jpg", rng, size, ".jpg")
            _save_label(root / "road02_seg" / "Label" / "Record001" / camera / f"{stem}_bin.png",
                        _labels(rng, size, allowed))
    return root
