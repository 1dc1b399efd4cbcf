"""Tests of course_utils.losses against NumPy references and real Keras training."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras
import numpy as np
import pytest

from course_utils.losses import (
    PixelwiseCrossEntropy,
    SoftDiceLoss,
    pixelwise_crossentropy,
    soft_dice_loss,
)

BATCH, HEIGHT, WIDTH, N_CLASSES = 2, 5, 6, 3


def _random_batch(seed, n_classes=N_CLASSES):
    """Integer labels (batch, h, w), their one-hot form and softmax probabilities."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, n_classes, size=(BATCH, HEIGHT, WIDTH))
    one_hot = np.eye(n_classes, dtype="float32")[labels]
    logits = rng.normal(size=(BATCH, HEIGHT, WIDTH, n_classes)).astype("float32")
    probabilities = np.exp(logits) / np.exp(logits).sum(axis=-1, keepdims=True)
    return labels, one_hot, logits, probabilities


def _numpy(tensor):
    return keras.ops.convert_to_numpy(tensor)


# --- NumPy references, one class at a time ------------------------------------


def _reference_soft_dice(one_hot, probabilities, smooth):
    losses = np.zeros(one_hot.shape[0])
    for sample in range(one_hot.shape[0]):
        per_class = []
        for c in range(one_hot.shape[-1]):
            t, p = one_hot[sample, ..., c], probabilities[sample, ..., c]
            dice = (2 * np.sum(t * p) + smooth) / (np.sum(t**2) + np.sum(p**2) + smooth)
            per_class.append(1 - dice)
        losses[sample] = np.mean(per_class)
    return losses


def _reference_crossentropy(labels, probabilities, class_weights=None):
    losses = np.zeros(labels.shape[0])
    for sample in range(labels.shape[0]):
        total = 0.0
        for index in np.ndindex(labels.shape[1:]):
            true_class = labels[sample][index]
            weight = 1.0 if class_weights is None else class_weights[true_class]
            total += -weight * np.log(probabilities[sample][index][true_class])
        losses[sample] = total / labels[sample].size
    return losses


# --- Soft Dice ------------------------------------------------------------------


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("smooth", [1.0, 1e-3])
def test_soft_dice_matches_numpy_reference(seed, smooth):
    _, one_hot, _, probabilities = _random_batch(seed)
    loss = _numpy(soft_dice_loss(one_hot, probabilities, smooth=smooth))
    assert loss.shape == (BATCH,)
    np.testing.assert_allclose(loss, _reference_soft_dice(one_hot, probabilities, smooth), rtol=1e-5)


def test_soft_dice_perfect_prediction_is_about_zero():
    _, one_hot, _, _ = _random_batch(0)
    np.testing.assert_allclose(_numpy(soft_dice_loss(one_hot, one_hot)), 0.0, atol=1e-6)


def test_soft_dice_wrong_prediction_is_about_one():
    _, one_hot, _, _ = _random_batch(0)
    opposite = np.roll(one_hot, 1, axis=-1)  # every pixel gets another class
    # smooth=1 over 30 pixels keeps it a little below 1.
    assert np.all(_numpy(soft_dice_loss(one_hot, opposite)) > 0.9)


def test_smoothing_keeps_an_empty_class_finite():
    # Class 2 appears in neither truth nor prediction: 0/0 without smoothing.
    labels = np.zeros((1, 4, 4), dtype=int)
    labels[0, :2] = 1
    one_hot = np.eye(3, dtype="float32")[labels]
    loss = _numpy(soft_dice_loss(one_hot, one_hot, smooth=1.0))
    assert np.all(np.isfinite(loss))
    np.testing.assert_allclose(loss, 0.0, atol=1e-6)
    assert np.isnan(_numpy(soft_dice_loss(one_hot, one_hot, smooth=0.0))).all()


def test_soft_dice_loss_class_options_match_function():
    labels, one_hot, logits, probabilities = _random_batch(1)
    expected = np.mean(_reference_soft_dice(one_hot, probabilities, 1.0))
    assert float(SoftDiceLoss()(one_hot, probabilities)) == pytest.approx(expected, rel=1e-5)
    assert float(SoftDiceLoss(from_logits=True)(one_hot, logits)) == pytest.approx(expected, rel=1e-5)
    assert float(SoftDiceLoss(sparse=True)(labels, probabilities)) == pytest.approx(expected, rel=1e-5)
    assert float(SoftDiceLoss(sparse=True)(labels[..., None], probabilities)) == pytest.approx(expected, rel=1e-5)


def test_soft_dice_sparse_rejects_one_hot_labels():
    _, one_hot, _, probabilities = _random_batch(1)
    with pytest.raises(ValueError, match="one class index per pixel"):
        SoftDiceLoss(sparse=True)(one_hot, probabilities)


# --- Cross-entropy ----------------------------------------------------------------


@pytest.mark.parametrize("seed", range(5))
def test_crossentropy_matches_numpy_reference(seed):
    labels, _, _, probabilities = _random_batch(seed)
    loss = _numpy(pixelwise_crossentropy(labels, probabilities))
    assert loss.shape == (BATCH,)
    np.testing.assert_allclose(loss, _reference_crossentropy(labels, probabilities), rtol=1e-5)


@pytest.mark.parametrize("seed", range(5))
def test_weighted_crossentropy_matches_numpy_reference(seed):
    labels, _, _, probabilities = _random_batch(seed)
    weights = [0.2, 1.0, 5.0]
    loss = _numpy(pixelwise_crossentropy(labels[..., None], probabilities, class_weights=weights))
    np.testing.assert_allclose(loss, _reference_crossentropy(labels, probabilities, weights), rtol=1e-5)


def test_class_weights_change_the_loss_as_expected():
    labels, _, _, probabilities = _random_batch(2)
    unweighted = _numpy(pixelwise_crossentropy(labels, probabilities))
    # Doubling every weight doubles the loss (a plain mean, not normalized).
    doubled = _numpy(pixelwise_crossentropy(labels, probabilities, class_weights=[2.0, 2.0, 2.0]))
    np.testing.assert_allclose(doubled, 2 * unweighted, rtol=1e-6)
    # Up-weighting class 1 adds exactly its extra share of pixel losses.
    pixel_losses = -np.log(np.take_along_axis(probabilities, labels[..., None], axis=-1)[..., 0])
    class_1_share = np.where(labels == 1, pixel_losses, 0.0).mean(axis=(1, 2))
    heavier_1 = _numpy(pixelwise_crossentropy(labels, probabilities, class_weights=[1.0, 3.0, 1.0]))
    np.testing.assert_allclose(heavier_1, unweighted + 2 * class_1_share, rtol=1e-5)
    # Weight 0 for every class present removes the loss.
    zero = _numpy(pixelwise_crossentropy(labels, probabilities, class_weights=[0.0, 0.0, 0.0]))
    np.testing.assert_allclose(zero, 0.0)


def test_unweighted_crossentropy_equals_keras_sparse_crossentropy():
    labels, _, _, probabilities = _random_batch(3)
    # Keras' loss averages over every pixel of the batch; ours per sample, then Keras over the batch.
    keras_loss = keras.losses.SparseCategoricalCrossentropy()(labels, probabilities)
    ours = PixelwiseCrossEntropy()(labels, probabilities)
    assert float(ours) == pytest.approx(float(keras_loss), rel=1e-6)
    per_pixel = keras.losses.SparseCategoricalCrossentropy(reduction=None)(labels, probabilities)
    np.testing.assert_allclose(
        _numpy(pixelwise_crossentropy(labels, probabilities)), _numpy(per_pixel).mean(axis=(1, 2)), rtol=1e-6
    )


def test_from_logits_equals_softmax_then_loss():
    labels, _, logits, _ = _random_batch(4)
    softmaxed = keras.ops.softmax(logits, axis=-1)
    np.testing.assert_allclose(
        _numpy(pixelwise_crossentropy(labels, logits, from_logits=True)),
        _numpy(pixelwise_crossentropy(labels, softmaxed)),
        rtol=1e-5,
    )
    np.testing.assert_allclose(
        float(PixelwiseCrossEntropy([1.0, 2.0, 0.5], from_logits=True)(labels, logits)),
        float(PixelwiseCrossEntropy([1.0, 2.0, 0.5])(labels, softmaxed)),
        rtol=1e-5,
    )
    one_hot = np.eye(N_CLASSES, dtype="float32")[labels]
    np.testing.assert_allclose(
        float(SoftDiceLoss(from_logits=True)(one_hot, logits)),
        float(SoftDiceLoss()(one_hot, softmaxed)),
        rtol=1e-5,
    )


# --- Config and training ----------------------------------------------------------


@pytest.mark.parametrize(
    "loss",
    [
        SoftDiceLoss(smooth=0.5, from_logits=True, sparse=True),
        PixelwiseCrossEntropy(class_weights=[0.5, 1.0, 2.0], from_logits=True),
        PixelwiseCrossEntropy(),
    ],
    ids=["dice", "weighted_ce", "plain_ce"],
)
def test_get_config_round_trips(loss):
    config = loss.get_config()
    rebuilt = type(loss).from_config(config)
    assert rebuilt.get_config() == config
    # Through Keras' own (de)serialization, as when a saved model is loaded.
    restored = keras.losses.deserialize(keras.losses.serialize(loss))
    assert type(restored) is type(loss) and restored.get_config() == config
    labels, _, logits, _ = _random_batch(5)
    assert float(rebuilt(labels, logits)) == pytest.approx(float(loss(labels, logits)))


@pytest.mark.parametrize(
    "loss, sparse_labels",
    [
        (SoftDiceLoss(), False),
        (SoftDiceLoss(sparse=True, from_logits=True), True),
        (PixelwiseCrossEntropy(), True),
        (PixelwiseCrossEntropy(class_weights=[0.5, 1.0, 2.0], from_logits=True), True),
    ],
    ids=["dice", "dice_sparse_logits", "ce", "weighted_ce_logits"],
)
def test_tiny_model_trains_one_step(loss, sparse_labels):
    keras.utils.set_random_seed(0)
    from_logits = getattr(loss, "from_logits", False)
    model = keras.Sequential(
        [
            keras.Input((8, 8, 1)),
            keras.layers.Conv2D(N_CLASSES, 3, padding="same", activation=None if from_logits else "softmax"),
        ]
    )
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss=loss)
    rng = np.random.default_rng(0)
    images = rng.random((4, 8, 8, 1)).astype("float32")
    labels = rng.integers(0, N_CLASSES, size=(4, 8, 8))
    targets = labels if sparse_labels else np.eye(N_CLASSES, dtype="float32")[labels]
    kernel_before = _numpy(model.layers[0].kernel).copy()
    history = model.fit(images, targets, epochs=1, batch_size=4, verbose=0)
    loss_value = history.history["loss"][0]
    assert np.isfinite(loss_value) and loss_value > 0
    assert not np.allclose(_numpy(model.layers[0].kernel), kernel_before), "the step changed no weight"
