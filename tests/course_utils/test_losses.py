"""Tests of course_utils.losses against NumPy references and real Keras training."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras
import numpy as np
import pytest

from course_utils.losses import (
    CombinedCrossEntropyDiceLoss,
    PixelwiseCrossEntropy,
    SoftDiceLoss,
    pixelwise_crossentropy,
    soft_dice_loss,
)
from tests.course_utils.keras_config import assert_config_round_trips

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
    rebuilt, _ = assert_config_round_trips(loss, keras.losses)
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


# --- Ignore label and the combined loss ---------------------------------------------

IGNORE = 255


def _with_ignored_pixels(labels, seed, fraction=0.3):
    """A copy of ``labels`` with about ``fraction`` of the pixels set to IGNORE."""
    rng = np.random.default_rng(seed + 1000)
    return np.where(rng.random(labels.shape) < fraction, IGNORE, labels)


def _per_sample(loss, labels, y_pred):
    """A Keras loss object's values per sample, before it averages them over the batch."""
    return _numpy(loss.call(keras.ops.convert_to_tensor(labels), keras.ops.convert_to_tensor(y_pred)))


def _reference_crossentropy_ignoring(labels, probabilities, ignore_label, class_weights=None):
    """Mean over the non-ignored pixels of each sample, one pixel at a time; 0 if none."""
    losses = np.zeros(labels.shape[0])
    for sample in range(labels.shape[0]):
        total, counted = 0.0, 0
        for index in np.ndindex(labels.shape[1:]):
            true_class = labels[sample][index]
            if true_class == ignore_label:
                continue
            weight = 1.0 if class_weights is None else class_weights[true_class]
            total += -weight * np.log(probabilities[sample][index][true_class])
            counted += 1
        losses[sample] = total / counted if counted else 0.0
    return losses


def _reference_sparse_dice_ignoring(labels, probabilities, ignore_label, smooth):
    """Soft Dice with the ignored pixels dropped from the sums."""
    losses = np.zeros(labels.shape[0])
    for sample in range(labels.shape[0]):
        counted = labels[sample] != ignore_label
        t = np.eye(probabilities.shape[-1])[labels[sample][counted]]  # (n_counted, n_classes)
        p = probabilities[sample][counted]
        dice = (2 * np.sum(t * p, axis=0) + smooth) / (np.sum(t**2, axis=0) + np.sum(p**2, axis=0) + smooth)
        losses[sample] = 1 - np.mean(dice)
    return losses


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("class_weights", [None, [0.2, 1.0, 5.0]], ids=["unweighted", "weighted"])
def test_crossentropy_ignore_label_matches_numpy_reference(seed, class_weights):
    labels, _, _, probabilities = _random_batch(seed)
    labels = _with_ignored_pixels(labels, seed)
    loss = _numpy(
        pixelwise_crossentropy(labels, probabilities, class_weights=class_weights, ignore_label=IGNORE)
    )
    expected = _reference_crossentropy_ignoring(labels, probabilities, IGNORE, class_weights)
    np.testing.assert_allclose(loss, expected, rtol=1e-5)
    # The class gives the batch mean of the same values, also for (batch, h, w, 1) labels.
    as_class = PixelwiseCrossEntropy(class_weights, ignore_label=IGNORE)(labels[..., None], probabilities)
    assert float(as_class) == pytest.approx(expected.mean(), rel=1e-5)


def test_ignored_pixels_do_not_change_the_loss():
    labels, _, _, probabilities = _random_batch(6)
    ignored = _with_ignored_pixels(labels, 6)
    # Any prediction on an ignored pixel gives the same loss.
    other_probabilities = probabilities.copy()
    other_probabilities[ignored == IGNORE] = np.roll(probabilities, 1, axis=-1)[ignored == IGNORE]
    for loss in (
        PixelwiseCrossEntropy(ignore_label=IGNORE),
        SoftDiceLoss(sparse=True, ignore_label=IGNORE),
        CombinedCrossEntropyDiceLoss(ignore_label=IGNORE),
    ):
        assert float(loss(ignored, other_probabilities)) == pytest.approx(
            float(loss(ignored, probabilities)), rel=1e-6
        )
    # Without an ignored pixel, ignore_label changes nothing.
    assert float(PixelwiseCrossEntropy(ignore_label=IGNORE)(labels, probabilities)) == pytest.approx(
        float(PixelwiseCrossEntropy()(labels, probabilities)), rel=1e-6
    )


@pytest.mark.parametrize("from_logits", [False, True])
def test_all_ignored_image_gives_zero_not_nan(from_logits):
    labels, _, logits, probabilities = _random_batch(7)
    labels[0] = IGNORE  # every pixel of the first image
    y_pred = logits if from_logits else probabilities
    weights = [1.0, 2.0, 3.0]
    crossentropy = _numpy(
        pixelwise_crossentropy(labels, y_pred, weights, from_logits=from_logits, ignore_label=IGNORE)
    )
    assert crossentropy[0] == 0.0
    expected = _reference_crossentropy_ignoring(labels, probabilities, IGNORE, weights)
    np.testing.assert_allclose(crossentropy[1], expected[1], rtol=1e-5)
    for loss in (
        SoftDiceLoss(sparse=True, ignore_label=IGNORE, from_logits=from_logits),
        CombinedCrossEntropyDiceLoss(ignore_label=IGNORE, from_logits=from_logits),
    ):
        per_sample = _per_sample(loss, labels, y_pred)
        assert np.all(np.isfinite(per_sample))
        assert per_sample[0] == pytest.approx(0.0, abs=1e-6)


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("smooth", [1.0, 1e-3])
def test_sparse_soft_dice_ignore_label_matches_numpy_reference(seed, smooth):
    labels, _, logits, probabilities = _random_batch(seed)
    labels = _with_ignored_pixels(labels, seed)
    expected = _reference_sparse_dice_ignoring(labels, probabilities, IGNORE, smooth)
    loss = SoftDiceLoss(smooth=smooth, sparse=True, ignore_label=IGNORE)
    per_sample = _per_sample(loss, labels, probabilities)
    np.testing.assert_allclose(per_sample, expected, rtol=1e-5)
    from_logits = SoftDiceLoss(smooth=smooth, sparse=True, ignore_label=IGNORE, from_logits=True)
    assert float(from_logits(labels[..., None], logits)) == pytest.approx(expected.mean(), rel=1e-5)


def test_soft_dice_ignore_label_needs_sparse_labels():
    with pytest.raises(ValueError, match="sparse=True"):
        SoftDiceLoss(ignore_label=IGNORE)


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("from_logits", [False, True])
@pytest.mark.parametrize("ignore_label", [None, IGNORE])
def test_combined_loss_equals_crossentropy_plus_weighted_dice(seed, from_logits, ignore_label):
    labels, _, logits, probabilities = _random_batch(seed)
    if ignore_label is not None:
        labels = _with_ignored_pixels(labels, seed)
    class_weights, dice_weight, smooth = [0.5, 1.0, 2.0], 0.7, 0.5
    combined = CombinedCrossEntropyDiceLoss(
        class_weights=class_weights,
        ignore_label=ignore_label,
        dice_weight=dice_weight,
        smooth=smooth,
        from_logits=from_logits,
    )
    y_pred = logits if from_logits else probabilities
    # The two terms from the separate losses ...
    crossentropy = PixelwiseCrossEntropy(class_weights, from_logits=from_logits, ignore_label=ignore_label)
    dice = SoftDiceLoss(smooth=smooth, from_logits=from_logits, sparse=True, ignore_label=ignore_label)
    separate = float(crossentropy(labels, y_pred)) + dice_weight * float(dice(labels, y_pred))
    assert float(combined(labels, y_pred)) == pytest.approx(separate, rel=1e-5)
    # ... and from the NumPy references.
    reference_ignore = -1 if ignore_label is None else ignore_label  # -1: no pixel ignored
    expected = _reference_crossentropy_ignoring(labels, probabilities, reference_ignore, class_weights)
    expected += dice_weight * _reference_sparse_dice_ignoring(labels, probabilities, reference_ignore, smooth)
    assert float(combined(labels[..., None], y_pred)) == pytest.approx(expected.mean(), rel=1e-5)


def test_combined_loss_with_zero_dice_weight_is_crossentropy():
    labels, _, _, probabilities = _random_batch(8)
    assert float(CombinedCrossEntropyDiceLoss(dice_weight=0.0)(labels, probabilities)) == pytest.approx(
        float(PixelwiseCrossEntropy()(labels, probabilities)), rel=1e-6
    )


@pytest.mark.parametrize(
    "loss",
    [
        SoftDiceLoss(sparse=True, ignore_label=IGNORE),
        PixelwiseCrossEntropy(class_weights=[0.5, 1.0, 2.0], ignore_label=IGNORE),
        CombinedCrossEntropyDiceLoss(),
        CombinedCrossEntropyDiceLoss(
            class_weights=[0.5, 1.0, 2.0], ignore_label=IGNORE, dice_weight=0.3, smooth=2.0, from_logits=True
        ),
    ],
    ids=["dice_ignore", "weighted_ce_ignore", "combined_default", "combined_all_options"],
)
def test_get_config_round_trips_new_options(loss):
    config = loss.get_config()
    restored = keras.losses.deserialize(keras.losses.serialize(loss))
    assert type(restored) is type(loss) and restored.get_config() == config
    labels, _, logits, _ = _random_batch(5)
    if loss.ignore_label is not None:
        labels = _with_ignored_pixels(labels, 5)
    assert float(restored(labels, logits)) == pytest.approx(float(loss(labels, logits)))


@pytest.mark.parametrize(
    "loss",
    [
        PixelwiseCrossEntropy(ignore_label=IGNORE),
        PixelwiseCrossEntropy(class_weights=[0.5, 1.0, 2.0], from_logits=True, ignore_label=IGNORE),
        SoftDiceLoss(sparse=True, ignore_label=IGNORE),
        CombinedCrossEntropyDiceLoss(),
        CombinedCrossEntropyDiceLoss(class_weights=[0.5, 1.0, 2.0], ignore_label=IGNORE, from_logits=True),
    ],
    ids=["ce_ignore", "weighted_ce_logits_ignore", "dice_ignore", "combined", "combined_logits_ignore"],
)
def test_tiny_model_trains_one_step_with_ignored_pixels(loss):
    keras.utils.set_random_seed(0)
    activation = None if loss.from_logits else "softmax"
    model = keras.Sequential(
        [
            keras.Input((8, 8, 1)),
            keras.layers.Conv2D(N_CLASSES, 3, padding="same", activation=activation),
        ]
    )
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss=loss)
    rng = np.random.default_rng(0)
    images = rng.random((4, 8, 8, 1)).astype("float32")
    labels = rng.integers(0, N_CLASSES, size=(4, 8, 8))
    if getattr(loss, "ignore_label", None) is not None:
        labels[:, :2] = IGNORE  # an unlabelled border ...
        labels[3] = IGNORE  # ... and a page without any label
    kernel_before = _numpy(model.layers[0].kernel).copy()
    history = model.fit(images, labels, epochs=1, batch_size=4, verbose=0)
    loss_value = history.history["loss"][0]
    assert np.isfinite(loss_value) and loss_value > 0
    kernel_after = _numpy(model.layers[0].kernel)
    assert np.all(np.isfinite(kernel_after)), "an ignored pixel gave a nan gradient"
    assert not np.allclose(kernel_after, kernel_before), "the step changed no weight"
