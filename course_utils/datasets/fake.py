"""Write tiny datasets in the exact on-disk formats, for tests and demonstrations.

``write_fake_dataset(kind, folder)`` creates a complete, valid copy of the layout of
``kind`` with a few small random images and labels (values drawn from what the format
allows, including ignored ids), and returns the dataset's root folder. Tests break
single files of it to check that loaders and the validator name them.

Each dataset module writes its own layout: ``write_fake(folder, names, rng, size)``
writes one photo and label per name in ``names`` (random pixels and labels from the
``numpy.random.Generator`` ``rng``, ``size`` = (height, width)) and returns the root;
this module picks the module from ``FAKE_WRITERS``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from course_utils.datasets import apolloscape, bdd100k, camvid, cityscapes, coco_stuff, mapillary, pets, voc

FAKE_WRITERS = {
    "apolloscape": apolloscape.write_fake, "bdd100k": bdd100k.write_fake, "camvid": camvid.write_fake,
    "cityscapes": cityscapes.write_fake, "coco_stuff": coco_stuff.write_fake, "mapillary": mapillary.write_fake,
    "pets": pets.write_fake, "voc": voc.write_fake,
}


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
    names = [f"{i:04d}" for i in range(num_images)]
    return FAKE_WRITERS[kind](Path(folder), names, np.random.default_rng(seed), size)
