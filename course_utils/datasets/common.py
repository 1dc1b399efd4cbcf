"""What every dataset format shares: reading image and label files, resizing, palettes,
lookup tables, and the per-format description ``DatasetFormat``.

A ``DatasetFormat`` knows, for one public data set,

- where its files lie (``pairs(root, split)``: matching image and label paths, plus the
  files that have no partner),
- how its label PNGs are stored (``label_modes``: Pillow modes, ``raw_values``: the
  values a label PNG may hold) and how they become training ids (``to_train_ids``),
- its classes: ``class_names`` (index = training id), ``palette`` (one RGB colour per
  training id) and ``ignore_index`` (the id left out of loss and metrics).

``load`` reads a split into arrays ``(images uint8 (N, H, W, 3), labels int32 (N, H, W))``,
``sequence`` wraps them in ``course_utils.pipeline.SegmentationSequence`` (the pipeline
the synthetic pages use), ``validate`` checks every file (see ``validate.py``).

Every problem with a file raises ``DatasetError`` (a ``ValueError``) that names the file
and says what was expected.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")


class DatasetError(ValueError):
    """A dataset folder or file is missing, unreadable or not in the expected format."""


# --------------------------------------------------------------------------------------
# Files
# --------------------------------------------------------------------------------------


def require_folder(path, what):
    """Return ``Path(path)``; raise DatasetError naming it if it is not a folder."""
    path = Path(path)
    if not path.is_dir():
        raise DatasetError(f"{path}: folder not found (expected {what})")
    return path


def open_png(path, what):
    """Open an image file fully (decoding every pixel); DatasetError naming it if it cannot.

    Pillow's ``open`` only reads the header: a truncated file fails later, so we call
    ``load()`` here, where the file name is still known.
    """
    path = Path(path)
    try:
        image = Image.open(path)
        image.load()
    except FileNotFoundError:
        raise DatasetError(f"{path}: file not found (expected {what})") from None
    except UnidentifiedImageError:
        raise DatasetError(f"{path}: cannot be read as an image (not a known image format); expected {what}") from None
    except Image.DecompressionBombError as error:      # a header claiming billions of pixels
        size = re.search(r"\((\d+) pixels\)", str(error))
        claimed = f"{int(size.group(1)):,} pixels" if size else "too many pixels"
        raise DatasetError(f"{path}: image too large: its header claims {claimed} (Pillow refuses more than "
                           f"{2 * Image.MAX_IMAGE_PIXELS:,}: a damaged file or a decompression bomb); "
                           f"expected {what}") from None
    except (OSError, SyntaxError, ValueError) as error:     # truncated or damaged data
        raise DatasetError(f"{path}: cannot be read as an image ({error}); expected {what}") from None
    return image


def read_image(path):
    """An image file as uint8 RGB (H, W, 3). Greyscale and palette images are converted."""
    image = open_png(path, "an RGB photo (JPEG or PNG)")
    return np.asarray(image.convert("RGB"), dtype=np.uint8)


def resize_image(image, size):
    """uint8 (H, W, 3) -> (height, width, 3), bilinear (pixel values may be interpolated)."""
    height, width = size
    return np.asarray(Image.fromarray(image).resize((width, height), Image.BILINEAR), dtype=np.uint8)


def resize_labels(labels, size):
    """Integer (H, W) -> (height, width) with NEAREST neighbour: a label map stays a label map
    (bilinear would invent ids between two classes, e.g. 7.5 between road and sidewalk)."""
    height, width = size
    labels = np.asarray(labels)
    rows = (np.arange(height) * labels.shape[0] / height).astype(int)
    cols = (np.arange(width) * labels.shape[1] / width).astype(int)
    return labels[rows[:, None], cols[None, :]]


def check_size(size):
    """None or (height, width) of positive ints."""
    if size is None:
        return None
    if (not isinstance(size, (tuple, list)) or len(size) != 2
            or not all(isinstance(v, (int, np.integer)) and v > 0 for v in size)):
        raise ValueError(f"size must be None or (height, width) of positive ints, got {size!r}")
    return int(size[0]), int(size[1])


def match_by_key(images, labels, image_key, label_key):
    """Pair image and label paths whose keys agree.

    Returns:
        (pairs [(image, label)] sorted by key, images without label, labels without image)
    """
    by_image = {image_key(p): p for p in images}
    by_label = {label_key(p): p for p in labels}
    common = sorted(set(by_image) & set(by_label))
    pairs = [(by_image[k], by_label[k]) for k in common]
    lonely_images = sorted(by_image[k] for k in set(by_image) - set(by_label))
    lonely_labels = sorted(by_label[k] for k in set(by_label) - set(by_image))
    return pairs, lonely_images, lonely_labels


def files(folder, suffixes, recursive=False):
    """Image files in ``folder`` (sorted), skipping macOS '._*' resource files."""
    pattern = "**/*" if recursive else "*"
    return sorted(p for p in Path(folder).glob(pattern)
                  if p.is_file() and p.suffix.lower() in suffixes and not p.name.startswith("._"))


# --------------------------------------------------------------------------------------
# Colours
# --------------------------------------------------------------------------------------


def palette_array(palette, name="palette"):
    palette = np.asarray(palette)
    if palette.ndim != 2 or palette.shape[1] != 3 or palette.dtype.kind not in "iu":
        raise ValueError(f"{name} must be an integer array (num_colours, 3), got shape {palette.shape}")
    return palette.astype(np.uint8)


def colorize(labels, palette, ignore_index=None, ignore_color=(0, 0, 0)):
    """Class ids (..., H, W) -> RGB uint8 (..., H, W, 3): pixel of id k gets ``palette[k]``.

    Ids outside the palette (e.g. 255) get ``ignore_color``; so does ``ignore_index``.
    """
    palette = palette_array(palette)
    labels = np.asarray(labels)
    if labels.dtype.kind not in "iu":
        raise ValueError(f"labels must be integers, got dtype {labels.dtype}")
    inside = (labels >= 0) & (labels < len(palette))
    if ignore_index is not None:
        inside &= labels != ignore_index
    out = np.empty(labels.shape + (3,), dtype=np.uint8)
    out[...] = np.asarray(ignore_color, dtype=np.uint8)
    out[inside] = palette[labels[inside]]
    return out


def decode_palette(rgb, palette, unknown=255):
    """RGB colour-coded labels (..., H, W, 3) -> class ids (..., H, W), int32.

    A pixel of colour ``palette[k]`` gets id ``k`` (the first k if colours repeat); a colour
    not in the palette gets ``unknown`` (pass ``unknown=None`` to raise instead).
    """
    palette = palette_array(palette)
    rgb = np.asarray(rgb)
    if rgb.ndim < 3 or rgb.shape[-1] != 3:
        raise ValueError(f"rgb must be (..., H, W, 3), got shape {rgb.shape}")
    # One integer per colour (r * 65536 + g * 256 + b), then a sorted search.
    codes = (rgb[..., 0].astype(np.int64) << 16) | (rgb[..., 1].astype(np.int64) << 8) | rgb[..., 2]
    keys = (palette[:, 0].astype(np.int64) << 16) | (palette[:, 1].astype(np.int64) << 8) | palette[:, 2]
    first = {}
    for index, key in enumerate(keys.tolist()):
        first.setdefault(key, index)
    sorted_keys = np.array(sorted(first), dtype=np.int64)
    ids = np.array([first[k] for k in sorted(first)], dtype=np.int32)
    position = np.clip(np.searchsorted(sorted_keys, codes), 0, len(sorted_keys) - 1)
    known = sorted_keys[position] == codes
    if unknown is None and not known.all():
        bad = rgb[~known][0]
        raise ValueError(f"colour {tuple(int(v) for v in bad)} is not in the palette "
                         f"({int((~known).sum())} pixels)")
    return np.where(known, ids[position], -1 if unknown is None else unknown).astype(np.int32)


def lookup_table(mapping, default=255, size=256):
    """An int32 table t with t[raw] = mapping[raw] and ``default`` elsewhere (raw ids 0..size-1)."""
    table = np.full(size, default, dtype=np.int32)
    for raw, train in mapping.items():
        table[raw] = train
    return table


def bit_palette(count=256):
    """The Pascal VOC colour map: colour of index i spreads the bits of i over R, G and B
    (bit 0 -> red, bit 1 -> green, bit 2 -> blue, from the most significant bit down)."""
    palette = np.zeros((count, 3), dtype=np.uint8)
    for index in range(count):
        value, r, g, b = index, 0, 0, 0
        for shift in range(7, -1, -1):
            r |= (value & 1) << shift
            g |= ((value >> 1) & 1) << shift
            b |= ((value >> 2) & 1) << shift
            value >>= 3
        palette[index] = r, g, b
    return palette


def hex_palette(codes):
    """0xRRGGBB integers -> (N, 3) uint8."""
    return np.array([((c >> 16) & 255, (c >> 8) & 255, c & 255) for c in codes], dtype=np.uint8)


# --------------------------------------------------------------------------------------
# The description of one format
# --------------------------------------------------------------------------------------


@dataclass
class DatasetFormat:
    """One data set's layout, label encoding and classes. Subclasses fill in ``pairs``.

    Attributes:
        kind: short name ("camvid", "cityscapes", ...).
        class_names: tuple, index = training id.
        palette: uint8 (len(class_names), 3), display colour of each training id.
        ignore_index: training id that marks pixels left out of loss and metrics.
        splits: split names ``pairs`` accepts.
        label_modes: Pillow modes a label PNG may have ("L" 8-bit grey, "P" palette, ...).
        raw_values: sorted int array of the values a label PNG may hold.
        label_description: what a label file is, for error messages.
        layout: where the files lie, for error messages.
        validate_splits: the splits ``validate_dataset`` checks by default (all ``splits``
            when empty; derived splits such as VOC's trainval are left out).
    """

    kind: str
    class_names: tuple
    palette: np.ndarray
    ignore_index: int
    splits: tuple
    label_modes: tuple
    raw_values: np.ndarray
    label_description: str
    layout: str = ""
    validate_splits: tuple = ()
    notes: dict = field(default_factory=dict)

    @property
    def num_classes(self):
        """Classes the network predicts (the ignore id is not one of them)."""
        return len(self.class_names)

    # -- to be provided by each format ----------------------------------------------------
    def pairs(self, root, split):
        """(pairs [(image, label)], images without label, labels without image).

        Raises DatasetError when a required folder is missing."""
        raise NotImplementedError

    def to_train_ids(self, raw, path=None):
        """Raw label values (H, W) as stored in the PNG -> training ids int32 (H, W)."""
        return np.asarray(raw, dtype=np.int32)

    # -- shared ---------------------------------------------------------------------------
    def check_split(self, split):
        if split not in self.splits:
            raise ValueError(f"split must be one of {self.splits} for {self.kind}, got {split!r}")

    def read_raw_label(self, path):
        """The label file as stored: 2-D array of raw values; DatasetError naming the file
        if it is unreadable or has the wrong mode."""
        image = open_png(path, self.label_description)
        if image.mode not in self.label_modes:
            raise DatasetError(f"{path}: label image has mode {image.mode!r}; expected {self.label_description} "
                               f"(Pillow mode {' or '.join(map(repr, self.label_modes))})")
        return np.asarray(image)

    def bad_values(self, raw):
        """The distinct values of ``raw`` that the format does not allow (sorted list)."""
        present = np.unique(raw)
        return [int(v) for v in present[~np.isin(present, self.raw_values)]]

    def read_label(self, path):
        """Label file -> training ids int32 (H, W); DatasetError naming the file on bad values."""
        raw = self.read_raw_label(path)
        bad = self.bad_values(raw)
        if bad:
            raise DatasetError(f"{path}: label values {bad[:10]} are not allowed; expected "
                               f"{self.label_description}")
        return self.to_train_ids(raw, path)

    def load(self, root, split="train", size=None, limit=None):
        """Read a split into arrays.

        Args:
            root: the data set's root folder (the layout is in ``self.layout``).
            split: one of ``self.splits``.
            size: None (keep; all images must then have the same size) or (height, width):
                images are resized bilinearly, labels with nearest neighbour.
            limit: read at most this many pairs (the first ones in sorted order).

        Returns:
            (images uint8 (N, H, W, 3), labels int32 (N, H, W)) with training ids and
            ``ignore_index`` for ignored pixels.
        """
        self.check_split(split)
        size = check_size(size)
        pairs, lonely_images, lonely_labels = self.pairs(root, split)
        if lonely_images:
            raise DatasetError(f"{lonely_images[0]}: image has no label file "
                               f"({len(lonely_images)} such images; expected {self.layout})")
        if lonely_labels:
            raise DatasetError(f"{lonely_labels[0]}: label file has no image "
                               f"({len(lonely_labels)} such labels; expected {self.layout})")
        if not pairs:
            raise DatasetError(f"{root}: no image/label pairs found for split {split!r}; expected {self.layout}")
        pairs = pairs[:limit] if limit is not None else pairs
        images, labels = [], []
        for image_path, label_path in pairs:
            image, label = read_image(image_path), self.read_label(label_path)
            if image.shape[:2] != label.shape:
                raise DatasetError(f"{label_path}: label is {label.shape[1]}x{label.shape[0]} (WxH) but its image "
                                   f"{image_path.name} is {image.shape[1]}x{image.shape[0]}; expected the same size")
            if size is not None:
                image, label = resize_image(image, size), resize_labels(label, size)
            elif images and image.shape != images[0].shape:
                raise DatasetError(f"{image_path}: size {image.shape[:2]} differs from {images[0].shape[:2]} "
                                   "of the first image; pass size=(height, width) to resize")
            images.append(image)
            labels.append(label)
        return np.stack(images), np.stack(labels).astype(np.int32)

    def sequence(self, root, split="train", size=None, limit=None, batch_size=8, **kwargs):
        """``course_utils.pipeline.SegmentationSequence`` over the loaded split (images scaled
        to [0, 1]); ``kwargs`` (augment, shuffle, seed, ...) go to the sequence."""
        from course_utils import pipeline  # imports Keras: only when asked for

        images, labels = self.load(root, split, size=size, limit=limit)
        return pipeline.SegmentationSequence(images.astype(np.float32) / 255.0, labels, batch_size, **kwargs)

    def colorize(self, labels):
        """Training ids -> RGB for display; ``ignore_index`` (and unknown ids) black."""
        return colorize(labels, self.palette, ignore_index=self.ignore_index)
