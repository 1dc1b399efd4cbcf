"""Mapillary Vistas v1.2 (street-level photos from six continents; 18,000 train, 2,000
val, 5,000 test images of varying sizes).

Layout (``root`` holds ``config.json``)::

    root/config.json                                  {"labels": [{"name", "readable", "color",
                                                                   "instances", "evaluate"}, ...]}
    root/{training,validation}/images/NAME.jpg
    root/{training,validation}/labels/NAME.png        (+ instances/NAME.png, 16-bit)

``config.json`` lists the classes in id order (66 in v1.2, the last one
``void--unlabeled`` with colour (0, 0, 0)): the **class id is the position in that list**
and ``color`` its display colour. The label PNGs of v1.2 are palette images (mode "P")
whose pixel values are these ids, and whose palette holds the same colours; a copy that
was converted to RGB is colour-coded and is decoded through the colours of
``config.json`` (``decode_palette``). Class names, palette and the number of classes are
read from ``config.json``: nothing is hard-coded here. Ignored: the ``unlabeled`` id.
(v2.0 uses ``config_v2.0.json``, 124 classes and ``v2.0/labels/`` folders; not read here.)
"""

import json
from pathlib import Path

import numpy as np

from course_utils.datasets.common import (
    IMAGE_SUFFIXES,
    DatasetError,
    DatasetFormat,
    decode_palette,
    files,
    match_by_key,
    open_png,
    require_folder,
)
from course_utils.datasets.fake_files import save_pair

SPLITS = ("training", "validation")


def read_config(root):
    """config.json -> (names, readable names, palette uint8 (K, 3), ignore id)."""
    path = Path(root) / "config.json"
    what = 'Mapillary Vistas config.json: {"labels": [{"name": ..., "readable": ..., "color": [r, g, b]}, ...]}'
    if not path.is_file():
        raise DatasetError(f"{path}: file not found (expected {what})")
    try:
        labels = json.loads(path.read_text())["labels"]
        names = tuple(str(label["name"]) for label in labels)
        readable = tuple(str(label.get("readable", label["name"])) for label in labels)
        palette = np.array([[int(c) for c in label["color"]] for label in labels])
    except (ValueError, KeyError, TypeError) as error:
        raise DatasetError(f"{path}: cannot be read ({type(error).__name__}: {error}); expected {what}") from None
    if not labels or palette.shape != (len(labels), 3) or palette.min() < 0 or palette.max() > 255:
        raise DatasetError(f"{path}: every label needs a colour [r, g, b] in 0-255; expected {what}")
    unlabeled = [i for i, name in enumerate(names) if name.endswith("unlabeled")]
    ignore = unlabeled[0] if unlabeled else 255
    return names, readable, palette.astype(np.uint8), ignore


class MapillaryFormat(DatasetFormat):
    def pairs(self, root, split):
        self.check_split(split)
        root = require_folder(root, "the Mapillary Vistas root holding config.json, training/ and validation/")
        images = files(require_folder(root / split / "images", f"{split}/images/ with the photos"),
                       IMAGE_SUFFIXES)
        labels = files(require_folder(root / split / "labels", f"{split}/labels/ with the label PNGs"), (".png",))
        return match_by_key(images, labels, lambda p: p.stem, lambda p: p.stem)

    def read_raw_label(self, path):
        """Ids (H, W): read directly from a palette/grey PNG, or decoded from RGB colours."""
        image = open_png(path, self.label_description)
        if image.mode in ("P", "L"):
            return np.asarray(image)
        if image.mode in ("RGB", "RGBA"):
            rgb = np.asarray(image.convert("RGB"))
            ids = decode_palette(rgb, self.palette, unknown=-1)
            if (ids < 0).any():
                colours = np.unique(rgb[ids < 0], axis=0)[:5]
                raise DatasetError(f"{path}: colours {[tuple(int(v) for v in c) for c in colours]} are not in "
                                   f"config.json; expected {self.label_description}")
            return ids
        raise DatasetError(f"{path}: label image has mode {image.mode!r}; expected {self.label_description}")


def mapillary_format(root):
    """The format of the Mapillary Vistas v1.2 copy at ``root`` (classes from its config.json)."""
    names, readable, palette, ignore = read_config(root)
    return MapillaryFormat(
        kind="mapillary", class_names=readable, palette=palette, ignore_index=ignore,
        splits=SPLITS, label_modes=("P", "L", "RGB", "RGBA"), raw_values=np.arange(len(names)),
        label_description=f"a palette PNG of class ids 0-{len(names) - 1} (the order of config.json), or an RGB "
                          "PNG in config.json's colours",
        layout="config.json, {training,validation}/images/NAME.jpg with {split}/labels/NAME.png",
        notes={"names": names},
    )


# A few of Mapillary Vistas v1.2's 66 labels (name, readable, colour) for fake copies, in a
# config.json of the real structure; the last one is the ignored "unlabeled".
FAKE_LABELS = (
    ("construction--flat--road", "Road", (128, 64, 128)),
    ("construction--flat--sidewalk", "Sidewalk", (244, 35, 232)),
    ("human--person", "Person", (220, 20, 60)),
    ("nature--sky", "Sky", (70, 130, 180)),
    ("object--vehicle--car", "Car", (0, 0, 142)),
    ("void--unlabeled", "Unlabeled", (0, 0, 0)),
)


def write_fake(folder, names, rng, size):
    """A tiny Mapillary Vistas v1.2 copy under ``folder``; see ``fake.write_fake_dataset``."""
    root = folder
    root.mkdir(parents=True, exist_ok=True)
    config = {"labels": [{"name": n, "readable": r, "color": list(c), "instances": False,
                          "evaluate": not n.endswith("unlabeled")} for n, r, c in FAKE_LABELS]}
    (root / "config.json").write_text(json.dumps(config, indent=1))
    palette = np.zeros((256, 3), dtype=np.uint8)
    palette[: len(FAKE_LABELS)] = [c for _, _, c in FAKE_LABELS]
    for split in ("training", "validation"):
        for name in names:
            stem = f"__CRyFzoDOXn6unQ6a3D{name}"
            save_pair(root / split / "images" / f"{stem}.jpg", root / split / "labels" / f"{stem}.png", rng, size,
                      range(len(FAKE_LABELS)), mode="P", palette=palette)
    return root
