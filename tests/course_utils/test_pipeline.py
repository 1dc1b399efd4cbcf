"""Tests of course_utils.pipeline: batches for model.fit on every Keras backend.

Runs on the backend of ``KERAS_BACKEND`` (TensorFlow by default); one test also trains
on JAX in a subprocess when the current backend is not JAX.
"""

import os
import subprocess
import sys
from functools import partial

import keras
import numpy as np
import pytest

from course_utils import data, pipeline
from tests import REPO_ROOT


def _marker_data(num=6, size=32):
    """Images with one bright marker pixel each, and labels painted 2 at that pixel."""
    rng = np.random.default_rng(0)
    images = np.zeros((num, size, size, 2), dtype=np.float32)
    labels = np.zeros((num, size, size), dtype=np.uint8)
    for i in range(num):
        row, col = rng.integers(4, size - 4, size=2)
        images[i, row, col] = (1.0, i)  # channel 1 tells which example it is
        labels[i, row, col] = 2
        labels[i, row, : col // 2] = 1  # a label stripe to the left of the marker
    return images, labels


def _assert_aligned(images, labels):
    for image, label in zip(images, labels):
        marker = image[..., 0] == 1.0
        np.testing.assert_array_equal(marker, label == 2)


ALL_AUGMENTATIONS = [
    partial(pipeline.random_flip, horizontal=True, vertical=True),
    partial(pipeline.random_shift, max_shift=3),
    partial(pipeline.random_crop, height=24, width=28),
]


def test_batches_have_shapes_and_dtypes():
    images, labels = _marker_data(num=5)
    sequence = pipeline.SegmentationSequence(images, labels, batch_size=2, shuffle=False)
    assert len(sequence) == 3
    batch_images, batch_labels = sequence[0]
    assert batch_images.shape == (2, 32, 32, 2) and batch_images.dtype == np.float32
    assert batch_labels.shape == (2, 32, 32) and batch_labels.dtype == np.int32
    last_images, _ = sequence[2]
    assert last_images.shape[0] == 1  # 5 examples: the last batch holds one
    np.testing.assert_array_equal(sequence[0][0], images[:2])


def test_one_hot_labels_and_channel_axis_added():
    images, labels = _marker_data()
    sequence = pipeline.SegmentationSequence(
        images[..., 0], labels, batch_size=3, one_hot=True, num_classes=3
    )
    batch_images, batch_labels = sequence[1]
    assert batch_images.shape == (3, 32, 32, 1)
    assert batch_labels.shape == (3, 32, 32, 3) and batch_labels.dtype == np.float32
    np.testing.assert_array_equal(batch_labels.sum(-1), 1.0)


def test_augmentation_moves_image_and_labels_together():
    images, labels = _marker_data(num=8)
    sequence = pipeline.SegmentationSequence(images, labels, batch_size=4,
                                             augment=ALL_AUGMENTATIONS[:2], seed=1)
    moved = 0
    for epoch in range(3):
        sequence.set_epoch(epoch)
        for index in range(len(sequence)):
            batch_images, batch_labels = sequence[index]
            _assert_aligned(batch_images, batch_labels)
            for image, label in zip(batch_images, batch_labels):
                original = int(image[..., 1].max())
                moved += not np.array_equal(label, labels[original])
                # The stripe stays on the same row as the marker, on the flipped side.
                row = np.flatnonzero((label == 2).any(axis=1))
                if len(row):
                    assert (label[row[0]] == 1).any() or label[row[0]].sum() == 2
    assert moved > 10


def test_crop_keeps_alignment_and_sets_size():
    images, labels = _marker_data(num=8)
    augment = pipeline.compose(*ALL_AUGMENTATIONS)
    sequence = pipeline.SegmentationSequence(images, labels, batch_size=8, augment=augment)
    batch_images, batch_labels = sequence[0]
    assert batch_images.shape == (8, 24, 28, 2) and batch_labels.shape == (8, 24, 28)
    _assert_aligned(batch_images, batch_labels)


def test_labels_are_never_interpolated():
    images, labels = data.make_page_dataset(2, seed=0, height=64, width=64)
    sequence = pipeline.SegmentationSequence(images, labels, batch_size=2,
                                             augment=ALL_AUGMENTATIONS)
    _, batch_labels = sequence[0]
    assert set(np.unique(batch_labels)) <= set(np.unique(labels))


def test_random_shift_fills_uncovered_pixels():
    image = np.ones((5, 6, 1), np.float32)
    labels = np.full((5, 6), 3, np.uint8)

    class FixedShift:  # a stand-in rng whose integers() returns the offsets (2, -1)
        def integers(self, low, high, size):
            return np.array([2, -1])

    shifted, shifted_labels = pipeline.random_shift(image, labels, FixedShift(), max_shift=2)
    assert (shifted[:2] == 0).all() and (shifted[:, -1:] == 0).all()
    assert (shifted[2:, :-1] == 1).all()
    assert (shifted_labels[:2] == 0).all() and (shifted_labels[2:, :-1] == 3).all()


def test_seeded_reproducibility_and_new_randomness_each_epoch():
    images, labels = _marker_data(num=8)

    def make():
        return pipeline.SegmentationSequence(images, labels, batch_size=4,
                                             augment=ALL_AUGMENTATIONS[:2], seed=5)

    first, second = make(), make()
    np.testing.assert_array_equal(first[1][0], second[1][0])
    np.testing.assert_array_equal(first[1][1], second[1][1])
    epoch0 = first[0][0]
    first.on_epoch_end()
    assert not np.array_equal(first[0][0], epoch0)
    other_seed = pipeline.SegmentationSequence(images, labels, batch_size=4,
                                               augment=ALL_AUGMENTATIONS[:2], seed=6)
    assert not np.array_equal(other_seed[0][0], epoch0)
    # Shuffling covers every example exactly once per epoch.
    seen = np.concatenate([first[i][0][..., 1].max(axis=(1, 2)) for i in range(len(first))])
    assert sorted(seen.tolist()) == list(range(8))


def test_synthetic_pages_are_fresh_and_reproducible():
    sequence = pipeline.SyntheticPageSequence(num_batches=2, batch_size=2, page_size=64,
                                              seed=3, classes=data.EXTENDED_CLASS_NAMES)
    images, labels = sequence[0]
    assert images.shape == (2, 64, 64, 1) and images.dtype == np.float32
    assert labels.shape == (2, 64, 64) and labels.dtype == np.int32
    assert labels.max() < len(data.EXTENDED_CLASS_NAMES)
    page, page_labels = data.make_page((3, 0, 0, 1), 64, 64, classes=data.EXTENDED_CLASS_NAMES)
    np.testing.assert_array_equal(images[1, ..., 0], page)
    np.testing.assert_array_equal(labels[1], page_labels)
    assert not np.array_equal(sequence[1][0], images)
    sequence.on_epoch_end()
    assert not np.array_equal(sequence[0][0], images), "a new epoch draws new pages"
    sequence.set_epoch(0)
    np.testing.assert_array_equal(sequence[0][0], images)


def test_synthetic_pages_one_hot_uses_the_number_of_classes():
    sequence = pipeline.SyntheticPageSequence(1, 1, page_size=(64, 96), one_hot=True)
    images, labels = sequence[0]
    assert images.shape == (1, 64, 96, 1) and labels.shape == (1, 64, 96, 4)


@pytest.mark.parametrize(
    "make, name",
    [
        (lambda: pipeline.SegmentationSequence(np.zeros((2, 8, 8)), np.zeros((2, 8, 8)), 0), "batch_size"),
        (lambda: pipeline.SegmentationSequence(np.zeros((2, 8, 8)), np.zeros((3, 8, 8)), 1), "images"),
        (lambda: pipeline.SegmentationSequence(np.zeros((2, 8, 8)), np.zeros((2, 8, 8)), 1, one_hot=True),
         "num_classes"),
        (lambda: pipeline.SegmentationSequence(np.zeros((2, 8, 8)), np.zeros((2, 8, 8)), 1, augment=3), "augment"),
        (lambda: pipeline.SyntheticPageSequence(0, 1), "num_batches"),
        (lambda: pipeline.SyntheticPageSequence(1, 1, page_size=32), "page_size"),
        (lambda: pipeline.SyntheticPageSequence(1, 1, classes=("text",)), "classes"),
        (lambda: pipeline.random_crop(np.zeros((8, 8, 1)), np.zeros((8, 8)), np.random.default_rng(), 9, 4), "height"),
        (lambda: pipeline.random_shift(np.zeros((8, 8, 1)), np.zeros((8, 8)), np.random.default_rng(), -1),
         "max_shift"),
    ],
)
def test_bad_arguments(make, name):
    with pytest.raises(ValueError, match=name):
        make()


def _tiny_model(num_classes, channels=1):
    # Logits + from_logits=True: sparse CE after a softmax fails on the PyTorch backend.
    model = keras.Sequential([
        keras.Input((None, None, channels)),
        keras.layers.Conv2D(4, 3, padding="same", activation="relu"),
        keras.layers.Conv2D(num_classes, 1),
    ])
    model.compile(optimizer="adam",
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    return model


def test_fit_runs_one_epoch_on_arrays_and_synthetic_pages():
    keras.utils.set_random_seed(0)
    images, labels = data.make_page_dataset(4, seed=0, height=64, width=64)
    sequence = pipeline.SegmentationSequence(
        images, labels, batch_size=2,
        augment=[pipeline.random_flip, partial(pipeline.random_crop, height=48, width=48)],
    )
    model = _tiny_model(len(data.CLASS_NAMES))
    history = model.fit(sequence, epochs=2, verbose=0)
    assert len(history.history["loss"]) == 2 and np.isfinite(history.history["loss"]).all()
    # Keras calls on_epoch_end after every epoch (and once more after peeking at the
    # first batch to learn the shapes), so each training epoch gets a new epoch number.
    assert sequence.epoch >= 2
    synthetic = pipeline.SyntheticPageSequence(num_batches=2, batch_size=2, page_size=64)
    history = model.fit(synthetic, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"]).all()


_JAX_SCRIPT = """
import numpy as np, keras
from course_utils import pipeline
assert keras.backend.backend() == "jax"
seq = pipeline.SyntheticPageSequence(num_batches=2, batch_size=2, page_size=64, seed=1,
                                     augment=pipeline.random_flip)
model = keras.Sequential([keras.Input((None, None, 1)), keras.layers.Conv2D(4, 3, padding="same")])
model.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
loss = model.fit(seq, epochs=1, verbose=0).history["loss"]
assert np.isfinite(loss).all(), loss
print("ok")
"""


@pytest.mark.skipif(keras.backend.backend() == "jax", reason="the other tests already run on JAX")
def test_fit_runs_on_the_jax_backend():
    env = dict(os.environ, KERAS_BACKEND="jax", TF_CPP_MIN_LOG_LEVEL="2")
    result = subprocess.run([sys.executable, "-c", _JAX_SCRIPT], env=env, capture_output=True,
                            text=True, timeout=120, cwd=REPO_ROOT)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "ok" in result.stdout
