"""Check a dataset folder file by file and say exactly what is wrong.

``validate_dataset(kind, folder)`` reads every image and label of the checked splits and
returns a ``ValidationReport``: one ``Problem`` (file path + what is wrong + what was
expected) per missing folder, image without label, label without image, unreadable or
corrupt file, label PNG of the wrong mode (e.g. RGB where VOC needs a palette 'P' image),
label values outside the format's set, and image/label size mismatch. It never raises
for a bad dataset; ``report.ok`` is True when nothing was found.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from course_utils.datasets.common import DatasetError, open_png


@dataclass
class Problem:
    path: str
    message: str

    def __str__(self):
        return f"{self.path}: {self.message}"


@dataclass
class ValidationReport:
    kind: str
    root: str
    splits: tuple
    pairs_checked: int = 0
    problems: list = field(default_factory=list)

    @property
    def ok(self):
        return not self.problems

    def add(self, error_or_path, message=None):
        if message is None:   # a DatasetError whose text is "PATH: message"
            path, _, message = str(error_or_path).partition(": ")
        else:
            path = str(error_or_path)
        self.problems.append(Problem(path, message))

    def __str__(self):
        head = (f"{self.kind} dataset at {self.root} (splits {', '.join(self.splits)}): "
                f"{self.pairs_checked} image/label pairs checked, ")
        if self.ok:
            return head + "no problems found."
        lines = [head + f"{len(self.problems)} problem(s):"]
        lines += [f"  {problem}" for problem in self.problems]
        return "\n".join(lines)


def _check_pair(fmt, image_path, label_path, report):
    try:
        image = open_png(image_path, "a photo (JPEG or PNG)")
    except DatasetError as error:
        report.add(error)
        image = None
    try:
        raw = fmt.read_raw_label(label_path)
    except DatasetError as error:
        report.add(error)
        return
    bad = fmt.bad_values(raw)
    if bad:
        shown = ", ".join(map(str, bad[:10])) + (" ..." if len(bad) > 10 else "")
        report.add(label_path, f"label values {shown} are not allowed ({int(np.isin(raw, bad).sum())} pixels); "
                               f"expected {fmt.label_description}")
    if image is not None and image.size != (raw.shape[1], raw.shape[0]):
        report.add(label_path, f"label is {raw.shape[1]}x{raw.shape[0]} (WxH) but its image {Path(image_path).name} "
                               f"is {image.size[0]}x{image.size[1]}; expected the same size")


def validate_dataset(kind, folder, splits=None):
    """Check the dataset of format ``kind`` at ``folder``.

    Args:
        kind: one of ``course_utils.datasets.KINDS`` ("camvid", "cityscapes", ...).
        folder: the dataset's root folder (see the format's module for the layout).
        splits: splits to check (default: the format's ``validate_splits``).

    Returns:
        ValidationReport; ``str(report)`` lists every problem as "path: what is wrong; expected ...".

    Raises:
        ValueError: for an unknown ``kind`` or split (a usage error, not a dataset problem).
    """
    from course_utils.datasets import get_format

    folder = Path(folder)
    report = ValidationReport(kind, str(folder), ())
    if not folder.is_dir():
        get_format(kind, folder, need_root=False)   # an unknown kind is still a usage error
        report.add(folder, "folder not found (expected the dataset's root folder)")
        return report
    try:
        fmt = get_format(kind, folder)
    except DatasetError as error:      # e.g. Mapillary's config.json missing or broken
        report.add(error)
        return report
    splits = tuple(splits or fmt.validate_splits or fmt.splits)
    for split in splits:
        fmt.check_split(split)
    report.splits = splits
    for split in splits:
        try:
            pairs, lonely_images, lonely_labels = fmt.pairs(folder, split)
        except DatasetError as error:
            report.add(error)
            continue
        for path in lonely_images:
            report.add(path, f"image has no label file (expected {fmt.layout})")
        for path in lonely_labels:
            report.add(path, f"label file has no image (expected {fmt.layout})")
        if not pairs and not lonely_images and not lonely_labels:
            report.add(folder, f"split {split!r} holds no files (expected {fmt.layout})")
        for image_path, label_path in pairs:
            _check_pair(fmt, image_path, label_path, report)
            report.pairs_checked += 1
    return report
