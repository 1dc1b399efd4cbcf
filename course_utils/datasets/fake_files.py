"""Small random files in the datasets' formats: the piece each dataset module's
``write_fake`` builds its fake copy from (see ``fake.write_fake_dataset``)."""

import numpy as np
from PIL import Image


def save_pair(image_path, label_path, rng, size, allowed, mode="L", palette=None):
    """Write a random photo and its random label image; creates the folders.

    Args:
        image_path: the photo's path; its suffix (".png", ".jpg") sets the format.
        label_path: the label PNG's path.
        rng: ``numpy.random.Generator``: the photo's pixels are drawn first, then the labels.
        size: ``(height, width)`` of both.
        allowed: the label values to draw from (0-255).
        mode: ``"L"`` (grey values) or ``"P"`` (palette indices, with ``palette``, rows of RGB).
    """
    image_path.parent.mkdir(parents=True, exist_ok=True)
    pixels = rng.integers(0, 256, size=(*size, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(image_path)
    values = rng.choice(np.asarray(allowed), size=size)
    label_path.parent.mkdir(parents=True, exist_ok=True)
    label = Image.fromarray(values.astype(np.uint8), mode="L")
    if mode == "P":
        label = label.convert("P")     # keeps the values as palette indices
        label.putpalette(np.asarray(palette, dtype=np.uint8).ravel().tolist())
    label.save(label_path)
