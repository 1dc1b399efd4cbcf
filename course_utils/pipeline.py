"""Feeding segmentation data to ``model.fit``, on every Keras backend.

Two ``keras.utils.PyDataset`` classes (Keras' batch-by-batch data sets; ``fit`` asks them
for batch ``index`` of the current epoch):

- ``SegmentationSequence(images, labels, batch_size, ...)``: batches from arrays you have,
  shuffled and augmented anew every epoch;
- ``SyntheticPageSequence(num_batches, batch_size, page_size, seed, ...)``: draws fresh
  pages with ``course_utils.data.make_page`` for every batch, so training never sees the
  same page twice and never runs out of data.

Augmentations are plain NumPy functions ``augment(image, labels, rng) -> (image, labels)``
on one example (image (H, W, C), labels (H, W)). They move the image and its labels
together; labels are only ever copied or moved (nearest neighbour), never interpolated,
so a label map stays a label map. Being NumPy, they work the same on TensorFlow, JAX and
PyTorch. Options are fixed with ``functools.partial``::

    augment = [random_flip, partial(random_crop, height=128, width=128)]
    sequence = SegmentationSequence(images, labels, batch_size=8, augment=augment)
    model.fit(sequence, epochs=5)

Randomness is seeded per epoch and batch: batch ``index`` of epoch ``e`` uses
``numpy.random.default_rng((seed, e, index))``, so a run is reproducible and does not
depend on the order in which Keras asks for batches (the JAX backend, for one, asks for
them out of order). The epoch number is counted by ``on_epoch_end``, which Keras calls
after each epoch; Keras 3.15 also calls it once after peeking at the first batch to learn
the shapes, so the first training epoch may be the sequence's epoch 1. ``set_epoch``
sets the number by hand.
"""

import math

import keras
import numpy as np

from course_utils import data
from course_utils.argument_checks import check_int


def _check_example(image, labels):
    if image.ndim != 3 or labels.ndim != 2 or image.shape[:2] != labels.shape:
        raise ValueError(
            "image must be (H, W, C) and labels (H, W) of the same H and W, got image "
            f"{image.shape} and labels {labels.shape}"
        )


# --------------------------------------------------------------------------------------
# Augmentations: (image (H, W, C), labels (H, W), rng) -> (image, labels)
# --------------------------------------------------------------------------------------


def random_flip(image, labels, rng, horizontal=True, vertical=False):
    """Mirror image and labels left-right and/or top-bottom, each with probability 1/2.

    Args:
        image: array (H, W, C).
        labels: array (H, W) of class indices (or any per-pixel target).
        rng: ``numpy.random.Generator``.
        horizontal: allow left-right flips (pages still read as pages; text mirrored).
        vertical: allow top-bottom flips.

    Returns:
        (image, labels), same shapes and dtypes.
    """
    _check_example(image, labels)
    if horizontal and rng.random() < 0.5:
        image, labels = image[:, ::-1], labels[:, ::-1]
    if vertical and rng.random() < 0.5:
        image, labels = image[::-1], labels[::-1]
    return image, labels


def random_crop(image, labels, rng, height, width):
    """Cut the same random ``height`` x ``width`` window out of image and labels.

    Args:
        image: array (H, W, C).
        labels: array (H, W).
        rng: ``numpy.random.Generator``.
        height: crop height, int in [1, H].
        width: crop width, int in [1, W].

    Returns:
        (image (height, width, C), labels (height, width)), dtypes unchanged.

    Raises:
        ValueError: if the crop is larger than the image.
    """
    _check_example(image, labels)
    check_int("height", height, 1, image.shape[0])
    check_int("width", width, 1, image.shape[1])
    top = int(rng.integers(0, image.shape[0] - height + 1))
    left = int(rng.integers(0, image.shape[1] - width + 1))
    return (
        image[top : top + height, left : left + width],
        labels[top : top + height, left : left + width],
    )


def random_shift(image, labels, rng, max_shift, image_fill=0.0, label_fill=0):
    """Move image and labels by the same random whole-pixel offset; fill what is uncovered.

    Args:
        image: array (H, W, C).
        labels: array (H, W).
        rng: ``numpy.random.Generator``.
        max_shift: largest shift in pixels along each axis, int >= 0; the row and column
            offsets are drawn uniformly from [-max_shift, max_shift].
        image_fill: value of uncovered image pixels (0.0 = paper for the pages).
        label_fill: class of uncovered label pixels (0 = background).

    Returns:
        (image, labels), same shapes and dtypes.
    """
    _check_example(image, labels)
    check_int("max_shift", max_shift, 0)
    dy, dx = (int(v) for v in rng.integers(-max_shift, max_shift + 1, size=2))
    return _shift(image, dy, dx, image_fill), _shift(labels, dy, dx, label_fill)


def _shift(array, dy, dx, fill):
    """``array`` moved down by dy and right by dx pixels (negative: up/left)."""
    height, width = array.shape[:2]
    shifted = np.full_like(array, fill)
    if abs(dy) >= height or abs(dx) >= width:
        return shifted
    source = array[max(0, -dy) : height - max(0, dy), max(0, -dx) : width - max(0, dx)]
    shifted[max(0, dy) : height - max(0, -dy), max(0, dx) : width - max(0, -dx)] = source
    return shifted


def compose(*augmentations):
    """One augmentation that applies ``augmentations`` in order (all share the rng)."""

    def composed(image, labels, rng):
        for augmentation in augmentations:
            image, labels = augmentation(image, labels, rng)
        return image, labels

    return composed


def _as_augmentation(augment):
    if augment is None or callable(augment):
        return augment
    if isinstance(augment, (list, tuple)) and all(callable(a) for a in augment):
        return compose(*augment)
    raise ValueError(
        f"augment must be None, a function (image, labels, rng) or a list of them, got {augment!r}"
    )


class _EpochSeededSequence(keras.utils.PyDataset):
    """Shared parts: epoch counting, per-batch random generators, label encoding."""

    def __init__(self, seed, augment, one_hot, num_classes, **kwargs):
        super().__init__(**kwargs)
        if one_hot:
            check_int("num_classes", num_classes, 1)
        self.seed = seed
        self.augment = _as_augmentation(augment)
        self.one_hot = bool(one_hot)
        self.num_classes = num_classes
        self.epoch = 0

    def on_epoch_end(self):
        # Keras calls this after each epoch: the next epoch shuffles and augments anew.
        self.epoch += 1

    def set_epoch(self, epoch):
        """Jump to ``epoch`` (e.g. to reproduce what the model saw in that epoch)."""
        check_int("epoch", epoch, 0)
        self.epoch = epoch

    def _rng(self, index):
        return np.random.default_rng((self.seed, self.epoch, index))

    def _finish_batch(self, images, labels, rng):
        """Augment each example, stack, and encode the labels as requested."""
        if self.augment is not None:
            pairs = [self.augment(image, label, rng) for image, label in zip(images, labels)]
            images = [image for image, _ in pairs]
            labels = [label for _, label in pairs]
        images = np.stack(images).astype(np.float32)
        labels = np.stack(labels).astype(np.int32)
        if self.one_hot:
            if labels.min() < 0 or labels.max() >= self.num_classes:
                raise ValueError(f"labels must be in [0, num_classes={self.num_classes})")
            labels = np.eye(self.num_classes, dtype=np.float32)[labels]
        return images, labels


class SegmentationSequence(_EpochSeededSequence):
    """Batches (images, labels) from arrays, shuffled and augmented anew every epoch.

    Args:
        images: array (N, H, W, C) or (N, H, W) (a channel axis is added) of pixel values.
        labels: integer array (N, H, W) of class indices.
        batch_size: examples per batch, int >= 1. The last batch of an epoch is smaller
            when N is not a multiple of it.
        augment: None, a function ``(image, labels, rng) -> (image, labels)`` working on
            one example, or a list of them (applied in order). See ``random_flip``,
            ``random_crop``, ``random_shift``. All examples must come out the same size.
        shuffle: if True, the order of the examples is a new permutation every epoch.
        seed: int; the permutation and augmentation of epoch ``e``, batch ``i`` come from
            ``numpy.random.default_rng((seed, e, i))`` (and ``(seed, e)`` for the order).
        one_hot: if True, labels come as float32 one-hot (B, H, W, num_classes) instead
            of int32 class indices (B, H, W).
        num_classes: number of classes, int >= 1; needed when ``one_hot`` is True.
        **kwargs: ``workers``, ``use_multiprocessing``, ``max_queue_size`` of
            ``keras.utils.PyDataset``.

    Batches: (images float32 (B, H', W', C), labels int32 (B, H', W') or float32
    (B, H', W', num_classes)); H', W' are the sizes after augmentation.
    """

    def __init__(self, images, labels, batch_size, augment=None, shuffle=True, seed=0,
                 one_hot=False, num_classes=None, **kwargs):
        super().__init__(seed, augment, one_hot, num_classes, **kwargs)
        images = np.asarray(images)
        labels = np.asarray(labels)
        if images.ndim == 3:
            images = images[..., None]
        if images.ndim != 4 or labels.ndim != 3 or images.shape[:3] != labels.shape:
            raise ValueError(
                "images must be (N, H, W, C) or (N, H, W) and labels (N, H, W) with the "
                f"same N, H, W; got images {images.shape} and labels {labels.shape}"
            )
        if len(images) == 0:
            raise ValueError("images must hold at least one example, got 0")
        check_int("batch_size", batch_size, 1)
        self.images = images
        self.labels = labels
        self.batch_size = batch_size
        self.shuffle = bool(shuffle)
        self._order_epoch = None
        self._order = None

    def __len__(self):
        return math.ceil(len(self.images) / self.batch_size)

    def _epoch_order(self):
        # One permutation per epoch, computed once and reused by all its batches.
        if self._order_epoch != self.epoch:
            if self.shuffle:
                order_rng = np.random.default_rng((self.seed, self.epoch))
                self._order = order_rng.permutation(len(self.images))
            else:
                self._order = np.arange(len(self.images))
            self._order_epoch = self.epoch
        return self._order

    def __getitem__(self, index):
        if not 0 <= index < len(self):
            raise IndexError(f"batch index must be in [0, {len(self)}), got {index}")
        chosen = self._epoch_order()[index * self.batch_size : (index + 1) * self.batch_size]
        return self._finish_batch(self.images[chosen], self.labels[chosen], self._rng(index))


class SyntheticPageSequence(_EpochSeededSequence):
    """Batches of freshly drawn document pages: new pages every batch of every epoch.

    Page ``j`` of batch ``i`` in epoch ``e`` is ``data.make_page(seed=(seed, e, i, j),
    ...)``, so the data are endless yet reproducible.

    Args:
        num_batches: batches per epoch, int >= 1 (what Keras counts as one epoch).
        batch_size: pages per batch, int >= 1.
        page_size: page height and width in pixels, an int >= 64 or a pair
            (height, width).
        seed: int, seeds the pages (and the augmentation).
        augment: as in ``SegmentationSequence``.
        one_hot, num_classes: as in ``SegmentationSequence``; ``num_classes`` defaults to
            ``len(page_options.get("classes", data.CLASS_NAMES))``.
        **kwargs: ``line_height``, ``classes``, ``degrade`` go to ``data.make_page``;
            ``workers``, ``use_multiprocessing``, ``max_queue_size`` to
            ``keras.utils.PyDataset``.

    Batches: (images float32 (B, H, W, 1), 1.0 = ink; labels int32 (B, H, W) or float32
    one-hot (B, H, W, num_classes)).
    """

    _PAGE_OPTIONS = ("line_height", "classes", "degrade")

    def __init__(self, num_batches, batch_size, page_size=256, seed=0, augment=None,
                 one_hot=False, num_classes=None, **kwargs):
        page_options = {k: kwargs.pop(k) for k in self._PAGE_OPTIONS if k in kwargs}
        if num_classes is None:
            num_classes = len(page_options.get("classes", data.CLASS_NAMES))
        super().__init__(seed, augment, one_hot, num_classes, **kwargs)
        check_int("num_batches", num_batches, 1)
        check_int("batch_size", batch_size, 1)
        if isinstance(page_size, (tuple, list)):
            if len(page_size) != 2:
                raise ValueError(f"page_size must be an int or (height, width), got {page_size!r}")
            height, width = page_size
        else:
            height = width = page_size
        check_int("page_size", height, data.MIN_PAGE_SIZE)
        check_int("page_size", width, data.MIN_PAGE_SIZE)
        self.num_batches_per_epoch = num_batches
        self.batch_size = batch_size
        self.page_height, self.page_width = int(height), int(width)
        self.page_options = page_options
        # Draw one page now, so that a bad page option fails here and not inside fit.
        data.make_page(0, self.page_height, self.page_width, **page_options)

    def __len__(self):
        return self.num_batches_per_epoch

    def __getitem__(self, index):
        if not 0 <= index < len(self):
            raise IndexError(f"batch index must be in [0, {len(self)}), got {index}")
        pages = [
            data.make_page((self.seed, self.epoch, index, j), self.page_height,
                           self.page_width, **self.page_options)
            for j in range(self.batch_size)
        ]
        images = [page[..., None] for page, _ in pages]
        labels = [label for _, label in pages]
        return self._finish_batch(images, labels, self._rng(index))
