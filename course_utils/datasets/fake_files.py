"""Small random files in the datasets' formats: the pieces each dataset module's
``write_fake`` builds its fake copy from (see ``fake.write_fake_dataset``)."""

import numpy as np
from PIL import Image


def save_photo(path, rng, size, suffix):
    """Write a random RGB photo of ``size`` (height, width) at ``path`` with ``suffix``
    (".png" or ".jpg"); creates the folders."""
    path.parent.mkdir(parents=True, exist_ok=True)
    pixels = rng.integers(0, 256, size=(*size, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(path.with_suffix(suffix) if path.suffix != suffix else path)


def save_label(path, values, mode="L", palette=None):
    """Write the 2-D ``values`` (0-255) as a one-channel PNG: grey ("L") or, with
    ``mode="P"``, palette indices with ``palette`` (rows of RGB) attached."""
    path.parent.mkdir(parents=True, exist_ok=True)
    image = Image.fromarray(values.astype(np.uint8), mode="L")
    if mode == "P":
        image = image.convert("P")     # keeps the values as palette indices
        image.putpalette(np.asarray(palette, dtype=np.uint8).ravel().tolist())
    image.save(path)


def random_labels(rng, size, allowed):
    """A ``size`` (height, width) array of values drawn from ``allowed``."""
    return rng.choice(np.asarray(allowed), size=size)
