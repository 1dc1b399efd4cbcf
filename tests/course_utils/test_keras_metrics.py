"""Tests of course_utils.keras_metrics: batch-wise accumulation against the NumPy
metrics of course_utils.metrics on all batches together, and use in Keras training."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras
import numpy as np
import pytest

from course_utils import metrics as numpy_metrics
from course_utils.keras_metrics import DiceScore, ForegroundPixelAccuracy, MeanIoU, PerClassIoU
from tests.course_utils.keras_config import assert_config_round_trips

NUM_CLASSES = 4
IGNORE = 255
BATCH_SIZES = (3, 1, 2)  # unequal on purpose: the score must not be a mean of batch scores
HEIGHT, WIDTH = 5, 7


def _random_batches(seed, ignore_label=None):
    """Batches of (labels, logits); the last class is rare and sometimes absent.

    Returns:
        A list of ``(labels (b, h, w) int, logits (b, h, w, C) float32)`` pairs.
    """
    rng = np.random.default_rng(seed)
    # Seeds differ in whether the last class ever appears in truth or prediction,
    # so the "absent from both: left out of the mean" rule gets exercised.
    last_class_is_present = seed % 2 == 0
    batches = []
    for batch_size in BATCH_SIZES:
        shape = (batch_size, HEIGHT, WIDTH)
        high = NUM_CLASSES if last_class_is_present else NUM_CLASSES - 1
        labels = rng.integers(0, high, size=shape)
        logits = rng.normal(size=shape + (NUM_CLASSES,)).astype("float32")
        if not last_class_is_present:
            logits[..., -1] = -10.0  # never the argmax
        if ignore_label is not None:
            labels = np.where(rng.random(shape) < 0.25, ignore_label, labels)
        batches.append((labels, logits))
    return batches


def _concatenated(batches):
    labels = np.concatenate([labels for labels, _ in batches])
    predicted = np.concatenate([np.argmax(logits, axis=-1) for _, logits in batches])
    return labels, predicted


def _numpy_fgpa(labels, predicted, background_class, ignore_label):
    foreground = labels != background_class
    if ignore_label is not None:
        foreground &= labels != ignore_label
    return numpy_metrics.foreground_pixel_accuracy(labels, predicted, foreground)


def _accumulate(metric, batches, labels_with_channel=False, as_probabilities=False):
    for labels, logits in batches:
        y_true = labels[..., None] if labels_with_channel else labels
        y_pred = keras.ops.softmax(logits, axis=-1) if as_probabilities else logits
        metric.update_state(y_true, y_pred)
    return float(keras.ops.convert_to_numpy(metric.result()))


def _expected_values(labels, predicted, ignore_label):
    """Metric name -> (constructor, NumPy value on the concatenated data)."""
    per_class_iou = numpy_metrics.per_class_iou(labels, predicted, NUM_CLASSES, ignore_label)
    cases = {
        "mean_iou": (
            lambda: MeanIoU(NUM_CLASSES, ignore_label=ignore_label),
            numpy_metrics.mean_iou(labels, predicted, NUM_CLASSES, ignore_label),
        ),
        "dice_score": (
            lambda: DiceScore(NUM_CLASSES, ignore_label=ignore_label),
            numpy_metrics.mean_dice(labels, predicted, NUM_CLASSES, ignore_label),
        ),
    }
    for class_id in range(NUM_CLASSES):
        cases[f"iou_{class_id}"] = (
            lambda class_id=class_id: PerClassIoU(NUM_CLASSES, class_id, ignore_label=ignore_label),
            per_class_iou[class_id],
        )
    for background_class in (0, 2):
        cases[f"fgpa_background_{background_class}"] = (
            lambda background_class=background_class: ForegroundPixelAccuracy(
                NUM_CLASSES, background_class=background_class, ignore_label=ignore_label
            ),
            _numpy_fgpa(labels, predicted, background_class, ignore_label),
        )
    return cases


# --- Accumulated values against NumPy ---------------------------------------------


@pytest.mark.parametrize("seed", range(6))
# 255 lies outside the classes; 0 is a class index, so only the mask can drop it.
@pytest.mark.parametrize("ignore_label", [None, IGNORE, 0], ids=["no_ignore", "ignore_255", "ignore_class_0"])
def test_accumulated_metrics_match_numpy_on_concatenated_data(seed, ignore_label):
    batches = _random_batches(seed, ignore_label)
    labels, predicted = _concatenated(batches)
    for name, (make_metric, expected) in _expected_values(labels, predicted, ignore_label).items():
        # Labels with and without the channel axis, logits and probabilities.
        for labels_with_channel, as_probabilities in [(False, False), (True, True)]:
            value = _accumulate(make_metric(), batches, labels_with_channel, as_probabilities)
            np.testing.assert_allclose(value, expected, rtol=1e-5, equal_nan=True, err_msg=name)


def test_absent_class_is_left_out_of_the_means():
    # Odd seeds never show the last class: its IoU is nan, and the means skip it.
    batches = _random_batches(seed=1)
    assert np.isnan(_accumulate(PerClassIoU(NUM_CLASSES, NUM_CLASSES - 1), batches))
    labels, predicted = _concatenated(batches)
    present_ious = numpy_metrics.per_class_iou(labels, predicted, NUM_CLASSES)[:-1]
    assert _accumulate(MeanIoU(NUM_CLASSES), batches) == pytest.approx(np.mean(present_ious), rel=1e-5)


def test_by_hand():
    # True [[0, 1], [1, 2]], predicted [[0, 1], [2, 2]]:
    # IoU: class 0 1/1, class 1 1/2, class 2 1/2; Dice: 1, 2/3, 2/3.
    labels = np.array([[[0, 1], [1, 2]]])
    logits = np.eye(3, dtype="float32")[np.array([[[0, 1], [2, 2]]])]
    assert _accumulate(MeanIoU(3), [(labels, logits)]) == pytest.approx(2 / 3)
    assert _accumulate(PerClassIoU(3, 1), [(labels, logits)]) == pytest.approx(1 / 2)
    assert _accumulate(DiceScore(3), [(labels, logits)]) == pytest.approx(7 / 9)
    # Foreground = true classes 1 and 2: 3 pixels, 2 of them right.
    assert _accumulate(ForegroundPixelAccuracy(3), [(labels, logits)]) == pytest.approx(2 / 3)


def test_sample_weight_of_zero_leaves_pixels_out():
    batches = _random_batches(seed=3)
    labels, logits = batches[0]
    rng = np.random.default_rng(0)
    pixel_weights = (rng.random(labels.shape) < 0.7).astype("float32")
    for metric_class in (MeanIoU, DiceScore, ForegroundPixelAccuracy):
        weighted = metric_class(NUM_CLASSES)
        weighted.update_state(labels, logits, sample_weight=pixel_weights[..., None])
        ignoring = metric_class(NUM_CLASSES, ignore_label=IGNORE)
        ignoring.update_state(np.where(pixel_weights > 0, labels, IGNORE), logits)
        assert float(weighted.result()) == pytest.approx(float(ignoring.result()), rel=1e-6)
    # One weight per sample: weight 0 drops the whole image.
    per_sample = MeanIoU(NUM_CLASSES)
    per_sample.update_state(labels, logits, sample_weight=np.array([1.0, 0.0, 1.0]))
    first_and_last = MeanIoU(NUM_CLASSES)
    first_and_last.update_state(labels[[0, 2]], logits[[0, 2]])
    assert float(per_sample.result()) == pytest.approx(float(first_and_last.result()), rel=1e-6)


@pytest.mark.parametrize(
    "make_metric",
    [
        lambda: MeanIoU(NUM_CLASSES, ignore_label=IGNORE),
        lambda: PerClassIoU(NUM_CLASSES, 1, ignore_label=IGNORE),
        lambda: DiceScore(NUM_CLASSES, ignore_label=IGNORE),
        lambda: ForegroundPixelAccuracy(NUM_CLASSES, ignore_label=IGNORE),
    ],
    ids=["mean_iou", "per_class_iou", "dice", "fgpa"],
)
def test_reset_state_starts_from_zero(make_metric):
    metric = make_metric()
    assert np.isnan(float(metric.result())), "nothing counted yet"
    _accumulate(metric, _random_batches(seed=10, ignore_label=IGNORE))
    metric.reset_state()
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(metric.confusion_matrix), 0)
    assert np.isnan(float(metric.result()))
    # After the reset only the new batches count.
    new_batches = _random_batches(seed=11, ignore_label=IGNORE)
    fresh = make_metric()
    assert _accumulate(metric, new_batches) == pytest.approx(_accumulate(fresh, new_batches), rel=1e-6)


def test_all_ignored_batch_counts_nothing():
    labels, logits = _random_batches(seed=12)[0]
    metric = MeanIoU(NUM_CLASSES, ignore_label=IGNORE)
    metric.update_state(np.full_like(labels, IGNORE), logits)
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(metric.confusion_matrix), 0)
    assert np.isnan(float(metric.result()))


def test_confusion_matrix_matches_numpy():
    batches = _random_batches(seed=13, ignore_label=IGNORE)
    metric = MeanIoU(NUM_CLASSES, ignore_label=IGNORE)
    _accumulate(metric, batches)
    labels, predicted = _concatenated(batches)
    np.testing.assert_array_equal(
        keras.ops.convert_to_numpy(metric.confusion_matrix),
        numpy_metrics.confusion_matrix(labels, predicted, NUM_CLASSES, ignore_label=IGNORE),
    )


# --- Argument checks ----------------------------------------------------------------


def test_wrong_number_of_channels_is_rejected():
    labels, logits = _random_batches(seed=0)[0]
    with pytest.raises(ValueError, match="num_classes=5 channels"):
        MeanIoU(5).update_state(labels, logits)


def test_one_hot_labels_are_rejected():
    labels, logits = _random_batches(seed=0)[0]
    with pytest.raises(ValueError, match="one class index per pixel"):
        DiceScore(NUM_CLASSES).update_state(np.eye(NUM_CLASSES)[labels], logits)


@pytest.mark.parametrize(
    "make_metric",
    [
        lambda: MeanIoU(0),
        lambda: MeanIoU(2.5),
        lambda: PerClassIoU(3, class_id=3),
        lambda: ForegroundPixelAccuracy(3, background_class=-1),
        lambda: DiceScore(3, ignore_label=0.5),
    ],
)
def test_bad_arguments_are_rejected(make_metric):
    with pytest.raises(ValueError):
        make_metric()


# --- Config and training --------------------------------------------------------------


@pytest.mark.parametrize(
    "metric",
    [
        MeanIoU(NUM_CLASSES, ignore_label=IGNORE, name="miou"),
        PerClassIoU(NUM_CLASSES, class_id=2, ignore_label=IGNORE, name="iou_text"),
        DiceScore(NUM_CLASSES),
        ForegroundPixelAccuracy(NUM_CLASSES, background_class=1, ignore_label=IGNORE),
    ],
    ids=["mean_iou", "per_class_iou", "dice", "fgpa"],
)
def test_get_config_round_trips(metric):
    rebuilt, restored = assert_config_round_trips(metric, keras.metrics)
    batches = _random_batches(seed=4, ignore_label=IGNORE)
    assert _accumulate(restored, batches) == pytest.approx(_accumulate(rebuilt, batches), nan_ok=True)
    assert np.isfinite(_accumulate(type(metric).from_config(metric.get_config()), batches))


def test_default_names():
    assert MeanIoU(3).name == "mean_iou"
    assert PerClassIoU(3, 1).name == "iou_1"
    assert DiceScore(3).name == "dice_score"
    assert ForegroundPixelAccuracy(3).name == "foreground_pixel_accuracy"


def _tiny_model_and_data(seed=0):
    keras.utils.set_random_seed(seed)
    model = keras.Sequential(
        [keras.Input((8, 8, 1)), keras.layers.Conv2D(NUM_CLASSES, 3, padding="same", activation="softmax")]
    )
    rng = np.random.default_rng(seed)
    images = rng.random((6, 8, 8, 1)).astype("float32")
    labels = rng.integers(0, NUM_CLASSES, size=(6, 8, 8))
    labels[:, 0] = IGNORE  # an unlabelled top row
    return model, images, labels


def _all_metrics():
    return [
        MeanIoU(NUM_CLASSES, ignore_label=IGNORE),
        PerClassIoU(NUM_CLASSES, class_id=1, ignore_label=IGNORE, name="iou_text"),
        DiceScore(NUM_CLASSES, ignore_label=IGNORE),
        ForegroundPixelAccuracy(NUM_CLASSES, ignore_label=IGNORE),
    ]


def test_model_trains_one_epoch_and_logs_the_metrics():
    from course_utils.losses import PixelwiseCrossEntropy

    model, images, labels = _tiny_model_and_data()
    model.compile(
        optimizer=keras.optimizers.SGD(0.1),
        loss=PixelwiseCrossEntropy(ignore_label=IGNORE),
        metrics=_all_metrics(),
    )
    history = model.fit(
        images, labels, epochs=1, batch_size=2, validation_data=(images, labels), verbose=0
    )
    for name in ("mean_iou", "iou_text", "dice_score", "foreground_pixel_accuracy"):
        for key in (name, f"val_{name}"):
            assert key in history.history, f"{key} missing from {sorted(history.history)}"
            value = history.history[key][0]
            assert 0.0 <= value <= 1.0, f"{key} = {value}"


def test_evaluate_matches_numpy_on_the_predictions():
    # evaluate() runs the compiled update_state batch by batch with fixed weights,
    # so the result must equal the NumPy metric on model.predict over all batches.
    from course_utils.losses import PixelwiseCrossEntropy

    model, images, labels = _tiny_model_and_data(seed=1)
    model.compile(loss=PixelwiseCrossEntropy(ignore_label=IGNORE), metrics=_all_metrics())
    results = model.evaluate(images, labels, batch_size=4, verbose=0, return_dict=True)
    predicted = np.argmax(model.predict(images, batch_size=4, verbose=0), axis=-1)
    expected = {
        "mean_iou": numpy_metrics.mean_iou(labels, predicted, NUM_CLASSES, IGNORE),
        "iou_text": numpy_metrics.per_class_iou(labels, predicted, NUM_CLASSES, IGNORE)[1],
        "dice_score": numpy_metrics.mean_dice(labels, predicted, NUM_CLASSES, IGNORE),
        "foreground_pixel_accuracy": _numpy_fgpa(labels, predicted, 0, IGNORE),
    }
    for name, value in expected.items():
        assert results[name] == pytest.approx(value, rel=1e-5), name
