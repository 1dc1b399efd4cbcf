"""Tests of course_utils.sliding_window: patch extraction and both dense predictions."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras
import numpy as np
import pytest

from course_utils import data, models
from course_utils import sliding_window as sw


def naive_patches(page, patch_size, stride):
    """Reference: loop over centres, copy each patch pixel by pixel with zero padding."""
    height, width, channels = page.shape
    half = patch_size // 2
    patches, centers = [], []
    for r in range(0, height, stride):
        for c in range(0, width, stride):
            patch = np.zeros((patch_size, patch_size, channels), dtype=np.float32)
            for i in range(patch_size):
                for j in range(patch_size):
                    rr, cc = r - half + i, c - half + j
                    if 0 <= rr < height and 0 <= cc < width:
                        patch[i, j] = page[rr, cc]
            patches.append(patch)
            centers.append((r, c))
    return np.array(patches), np.array(centers)


@pytest.mark.parametrize("patch_size, stride", [(4, 1), (5, 2), (3, 3), (6, 4)])
def test_extract_patches_matches_naive_loop(patch_size, stride):
    page = np.random.default_rng(0).random((7, 9, 2)).astype(np.float32)
    patches, centers = sw.extract_patches(page, patch_size, stride)
    expected_patches, expected_centers = naive_patches(page, patch_size, stride)
    assert patches.dtype == np.float32 and patches.flags.writeable
    np.testing.assert_array_equal(centers, expected_centers)
    np.testing.assert_array_equal(patches, expected_patches)


def test_extract_patches_centre_pixel_and_2d_page():
    page = np.arange(30, dtype=np.float32).reshape(5, 6)
    patches, centers = sw.extract_patches(page, patch_size=4, stride=2)
    assert patches.shape == (3 * 3, 4, 4, 1)
    assert centers.shape == (9, 2)
    for patch, (r, c) in zip(patches, centers):
        assert patch[2, 2, 0] == page[r, c]


def test_extract_patches_bad_arguments():
    with pytest.raises(ValueError, match="patch_size"):
        sw.extract_patches(np.zeros((4, 4)), 0, 1)
    with pytest.raises(ValueError, match="stride"):
        sw.extract_patches(np.zeros((4, 4)), 3, 0)
    with pytest.raises(ValueError, match="page"):
        sw.extract_patches(np.zeros((1, 4, 4, 1)), 3, 1)


def test_patch_training_set_labels_are_centre_labels():
    images, labels = data.make_page_dataset(2, seed=3, height=64, width=64)
    patches, center_labels = sw.patch_training_set(images, labels, 8, 200, seed=0)
    assert patches.shape == (200, 8, 8, 1) and patches.dtype == np.float32
    assert center_labels.shape == (200,) and center_labels.dtype == np.uint8
    # Find each patch's centre back: the page patch at that centre must be identical.
    all_patches = [sw.extract_patches(image, 8, 1)[0] for image in images]
    for patch, label in zip(patches[:20], center_labels[:20]):
        matches = [
            (n, k) for n in range(2) for k in np.flatnonzero(
                (all_patches[n] == patch).all(axis=(1, 2, 3))
            )
        ]
        assert any(labels[n].ravel()[k] == label for n, k in matches)


def test_patch_training_set_balanced_and_deterministic():
    labels = np.zeros((1, 20, 20), dtype=np.uint8)
    labels[0, :2, :2] = 1  # 4 pixels of class 1
    labels[0, 10, 10] = 2  # 1 pixel of class 2
    images = np.random.default_rng(0).random((1, 20, 20)).astype(np.float32)
    patches, center_labels = sw.patch_training_set(images, labels, 3, 90, seed=5)
    np.testing.assert_array_equal(np.bincount(center_labels), [30, 30, 30])
    # The only class-2 pixel is (10, 10): all its patches show its neighbourhood.
    np.testing.assert_array_equal(patches[center_labels == 2][0, :, :, 0], images[0, 9:12, 9:12])
    again, again_labels = sw.patch_training_set(images, labels, 3, 90, seed=5)
    np.testing.assert_array_equal(patches, again)
    np.testing.assert_array_equal(center_labels, again_labels)


def test_patch_training_set_unbalanced_follows_frequencies():
    labels = np.zeros((1, 20, 20), dtype=np.uint8)
    labels[0, :2, :2] = 1
    images = np.zeros((1, 20, 20), dtype=np.float32)
    _, center_labels = sw.patch_training_set(images, labels, 3, 400, seed=0, balanced=False)
    assert (center_labels == 1).mean() < 0.05


def test_patch_training_set_shape_mismatch():
    with pytest.raises(ValueError, match="labels"):
        sw.patch_training_set(np.zeros((2, 8, 8)), np.zeros((2, 8, 9)), 3, 10, seed=0)


def centre_ink_model(patch_size):
    """Fake patch classifier: class 1 if the patch's centre pixel is ink, else class 0."""
    half = patch_size // 2
    model = keras.Sequential(
        [
            keras.Input((patch_size, patch_size, 1)),
            keras.layers.Cropping2D(((half, patch_size - 1 - half), (half, patch_size - 1 - half))),
            keras.layers.Flatten(),
            keras.layers.Dense(2),  # scores (1 - x, x) for centre value x
        ]
    )
    model.layers[-1].set_weights([np.array([[-1.0, 1.0]]), np.array([1.0, 0.0])])
    return model


@pytest.mark.parametrize("patch_size, stride", [(5, 1), (4, 3), (6, 4)])
def test_predict_sliding_window_with_fake_model(patch_size, stride):
    page = (np.random.default_rng(1).random((13, 10)) < 0.4).astype(np.float32)
    predicted = sw.predict_sliding_window(
        centre_ink_model(patch_size), page, patch_size, stride, batch_size=7
    )
    coarse = page[::stride, ::stride].astype(np.uint8)
    expected = np.repeat(np.repeat(coarse, stride, axis=0), stride, axis=1)[:13, :10]
    assert predicted.dtype == np.uint8 and predicted.shape == (13, 10)
    np.testing.assert_array_equal(predicted, expected)


def test_predict_fcn_crops_to_page_size():
    model = models.build_fcn_upscaling(num_classes=4)
    page = np.zeros((50, 37), dtype=np.float32)
    predicted = sw.predict_fcn(model, page)
    assert predicted.shape == (50, 37) and predicted.dtype == np.uint8
    assert predicted.max() < 4
    assert sw.predict_fcn(model, page[..., None]).shape == (50, 37)


def test_predict_fcn_pixelwise_fake_model():
    # 1x1 convolution scoring (1 - x, x): the argmax is the ink mask itself.
    model = keras.Sequential([keras.Input((None, None, 1)), keras.layers.Conv2D(2, (1, 1))])
    model.layers[-1].set_weights([np.array([[[[-1.0, 1.0]]]]), np.array([1.0, 0.0])])
    page = (np.random.default_rng(2).random((11, 21)) < 0.5).astype(np.float32)
    np.testing.assert_array_equal(sw.predict_fcn(model, page), page.astype(np.uint8))


def patch_probabilities(patch_cnn, page, patch_size, stride):
    """Reference: the patch CNN on every patch of the stride grid, one patch at a time."""
    patches, _ = sw.extract_patches(page, patch_size, stride)
    rows, cols = -(-page.shape[0] // stride), -(-page.shape[1] // stride)
    return patch_cnn.predict(patches, batch_size=256, verbose=0).reshape(rows, cols, -1)


@pytest.fixture(scope="module")
def valid_patch_cnn():
    """Randomly initialised patch CNN that never looks past its patch border."""
    keras.utils.set_random_seed(1)
    return models.build_patch_cnn(patch_size=32, num_classes=3, padding="valid")


@pytest.mark.parametrize("stride", [2, 4, 8, 3, 16])
def test_dense_sliding_window_equals_patch_by_patch(valid_patch_cnn, stride):
    page = (np.random.default_rng(3).random((21, 30)) < 0.3).astype(np.float32)
    labels, probabilities = sw.predict_sliding_window_dense(
        valid_patch_cnn, page, 32, stride, return_probabilities=True
    )
    expected = patch_probabilities(valid_patch_cnn, page, 32, stride)
    assert probabilities.shape == expected.shape
    np.testing.assert_allclose(probabilities, expected, atol=1e-5)
    reference = sw.predict_sliding_window(valid_patch_cnn, page, 32, stride)
    assert labels.dtype == np.uint8 and labels.shape == page.shape
    # Same label map, except where two classes are tied up to float rounding.
    top_two = np.sort(expected, axis=-1)[..., -2:]
    clear = np.repeat(np.repeat(top_two[..., 1] - top_two[..., 0] > 1e-5, stride, 0),
                      stride, 1)[: page.shape[0], : page.shape[1]]
    assert clear.mean() > 0.9
    np.testing.assert_array_equal(labels[clear], reference[clear])
    assert np.array_equal(sw.predict_sliding_window_dense(valid_patch_cnn, page, 32, stride),
                          labels)


def test_dense_sliding_window_slide_network_is_close():
    # padding='same': the convolutionalized network sees past the patch border, so the
    # probabilities are close to the patch-by-patch ones but not equal.
    keras.utils.set_random_seed(2)
    patch_cnn = models.build_patch_cnn(patch_size=16, num_classes=3)
    page = (np.random.default_rng(4).random((20, 18, 1)) < 0.3).astype(np.float32)
    labels, probabilities = sw.predict_sliding_window_dense(
        patch_cnn, page, 16, 4, return_probabilities=True
    )
    expected = patch_probabilities(patch_cnn, page, 16, 4)
    assert labels.shape == (20, 18) and probabilities.shape == expected.shape == (5, 5, 3)
    difference = np.abs(probabilities - expected).max()
    assert 1e-6 < difference < 0.2


def test_dense_sliding_window_bad_arguments(valid_patch_cnn):
    page = np.zeros((8, 8), dtype=np.float32)
    with pytest.raises(ValueError, match="patch_size"):
        sw.predict_sliding_window_dense(valid_patch_cnn, page, 16, 4)
    with pytest.raises(ValueError, match="stride"):
        sw.predict_sliding_window_dense(valid_patch_cnn, page, 32, 0)
