"""Stateful Keras segmentation metrics for ``model.compile(metrics=...)``.

The NumPy functions of :mod:`course_utils.metrics` score a whole data set at
once. During ``fit`` Keras sees one batch at a time, so these metrics keep a
running confusion matrix in a weight variable, add each batch to it in
``update_state`` and compute the score from it in ``result``. The score after
several batches therefore equals the NumPy function on all batches together
(not the mean of per-batch scores, which would weigh a small batch as much as
a large one).

Every metric takes:

- ``y_true``: integer class indices, shape ``(batch, h, w)`` or ``(batch, h, w, 1)``;
- ``y_pred``: the network output, probabilities or logits, shape
  ``(batch, h, w, num_classes)``; the predicted class is its argmax;
- ``ignore_label``: optional label in ``y_true`` (e.g. 255) marking pixels to
  leave out of every count, as in :mod:`course_utils.metrics`;
- ``sample_weight`` (passed by Keras from ``fit``): optional weight of each
  sample ``(batch,)`` or pixel ``(batch, h, w)`` / ``(batch, h, w, 1)``; a pixel
  adds its weight instead of 1 to the counts, so weight 0 leaves it out.

As in :mod:`course_utils.metrics`, a class absent from both the truth and the
prediction has no IoU or Dice (nan) and is left out of the means; a score with
nothing to count at all (e.g. right after ``reset_state``) is nan.

Written with ``keras.ops`` only, so they run on the TensorFlow, JAX and PyTorch
backends.

Example::

    model.compile(
        optimizer="adam",
        loss=PixelwiseCrossEntropy(),
        metrics=[MeanIoU(3), PerClassIoU(3, class_id=1, name="iou_text"), DiceScore(3)],
    )
"""

import keras
from keras import ops

__all__ = [
    "MeanIoU",
    "PerClassIoU",
    "DiceScore",
    "ForegroundPixelAccuracy",
]


def _nan_like(tensor):
    return ops.full_like(tensor, float("nan"))


def _divide_or_nan(numerator, denominator):
    """Element-wise ``numerator / denominator`` with nan where the denominator is 0."""
    # where() evaluates both branches: dividing by a tiny positive number instead
    # of 0 keeps the discarded branch free of 0 / 0 warnings.
    safe_ratio = numerator / ops.maximum(denominator, 1e-12)
    return ops.where(denominator > 0, safe_ratio, _nan_like(safe_ratio))


def _mean_of_defined(values):
    """Mean over the non-nan entries of a 1-D tensor; nan if there is none."""
    defined = ops.logical_not(ops.isnan(values))
    total = ops.sum(ops.where(defined, values, ops.zeros_like(values)))
    count = ops.sum(ops.cast(defined, values.dtype))
    return _divide_or_nan(total, count)


def _check_class_index(name, value, num_classes):
    """``value`` as an int in ``[0, num_classes)`` (else ValueError naming ``name``)."""
    if isinstance(value, bool) or int(value) != value or not 0 <= value < num_classes:
        raise ValueError(f"`{name}` must be an int in [0, {num_classes}), got {value!r}.")
    return int(value)


class _ConfusionMatrixMetric(keras.metrics.Metric):
    """Base class: accumulates a ``(num_classes, num_classes)`` confusion matrix.

    Entry ``[i, j]`` counts the pixels of true class ``i`` predicted as class
    ``j``, like :func:`course_utils.metrics.confusion_matrix`. Subclasses only
    implement ``result`` from ``self.confusion_matrix``.

    The counts are stored as float32 so that fractional ``sample_weight`` works
    and every backend supports the variable. They are exact up to 2**24 (16.7
    million) pixels per entry; beyond that each addition rounds by about 1e-7
    relative, far below what changes a score.

    Args:
        num_classes: Number of classes ``C``; ``y_pred`` has ``C`` channels.
        ignore_label: Optional label in ``y_true`` marking pixels to leave out.
        name: Name shown in the Keras logs and ``history.history``.
        dtype: Dtype of the result.
    """

    def __init__(self, num_classes, ignore_label=None, name=None, dtype=None):
        super().__init__(name=name, dtype=dtype)
        if isinstance(num_classes, bool) or int(num_classes) != num_classes or num_classes < 1:
            raise ValueError(f"`num_classes` must be a positive int, got {num_classes!r}.")
        if ignore_label is not None and (isinstance(ignore_label, bool) or int(ignore_label) != ignore_label):
            raise ValueError(f"`ignore_label` must be an int or None, got {ignore_label!r}.")
        # Plain ints keep get_config JSON-serializable.
        self.num_classes = int(num_classes)
        self.ignore_label = None if ignore_label is None else int(ignore_label)
        # Higher is better: lets callbacks such as ModelCheckpoint pick "max".
        self._direction = "up"
        self.confusion_matrix = self.add_variable(
            shape=(self.num_classes, self.num_classes),
            initializer="zeros",
            dtype="float32",
            name="confusion_matrix",
        )

    def _labels_and_predictions(self, y_true, y_pred):
        """Integer true and predicted class maps, both ``(batch, h, w)``."""
        y_pred = ops.convert_to_tensor(y_pred)
        y_true = ops.convert_to_tensor(y_true)
        if y_pred.shape[-1] is not None and y_pred.shape[-1] != self.num_classes:
            raise ValueError(
                f"`y_pred` must have num_classes={self.num_classes} channels "
                f"(batch, h, w, {self.num_classes}), got shape {tuple(y_pred.shape)}."
            )
        if len(y_true.shape) == len(y_pred.shape):
            if y_true.shape[-1] != 1:
                raise ValueError(
                    f"`y_true` must hold one class index per pixel, shape "
                    f"(batch, h, w) or (batch, h, w, 1), got {tuple(y_true.shape)}."
                )
            y_true = ops.squeeze(y_true, axis=-1)
        # Keras may hand over float labels; class indices must be ints.
        true_classes = ops.cast(y_true, "int32")
        predicted_classes = ops.cast(ops.argmax(y_pred, axis=-1), "int32")
        return true_classes, predicted_classes

    def _pixel_weights(self, true_classes, sample_weight):
        """Weight of every pixel in the counts, float32 ``(batch, h, w)``."""
        weights = ops.ones_like(true_classes, dtype="float32")
        if self.ignore_label is not None:
            weights = weights * ops.cast(ops.not_equal(true_classes, self.ignore_label), "float32")
        if sample_weight is not None:
            sample_weight = ops.cast(ops.convert_to_tensor(sample_weight), "float32")
            if len(sample_weight.shape) == len(true_classes.shape) + 1:
                sample_weight = ops.squeeze(sample_weight, axis=-1)  # (batch, h, w, 1)
            while len(sample_weight.shape) < len(true_classes.shape):
                sample_weight = ops.expand_dims(sample_weight, axis=-1)  # (batch,) -> (batch, 1, 1)
            weights = weights * sample_weight
        return weights

    def update_state(self, y_true, y_pred, sample_weight=None):
        """Adds one batch to the confusion matrix.

        Args:
            y_true: Integer class indices, shape ``(batch, h, w)`` or
                ``(batch, h, w, 1)``.
            y_pred: Probabilities or logits, shape ``(batch, h, w, num_classes)``.
            sample_weight: Optional weights, shape ``(batch,)``, ``(batch, h, w)``
                or ``(batch, h, w, 1)``.
        """
        true_classes, predicted_classes = self._labels_and_predictions(y_true, y_pred)
        weights = ops.reshape(self._pixel_weights(true_classes, sample_weight), (-1, 1))
        counted = ops.reshape(weights > 0, (-1,))
        # An ignored label such as 255 is no class index: send it to class 0; its
        # weight is 0, so it adds nothing.
        true_classes = ops.reshape(true_classes, (-1,))
        true_classes = ops.where(counted, true_classes, ops.zeros_like(true_classes))
        predicted_classes = ops.reshape(predicted_classes, (-1,))
        # One-hot rows times one-hot columns: pixel (i, j) adds its weight to
        # entry [i, j]. A matmul has a static output shape on every backend,
        # unlike bincount, whose length depends on the data.
        true_one_hot = ops.one_hot(true_classes, self.num_classes, dtype="float32") * weights
        predicted_one_hot = ops.one_hot(predicted_classes, self.num_classes, dtype="float32")
        batch_matrix = ops.matmul(ops.transpose(true_one_hot), predicted_one_hot)
        self.confusion_matrix.assign_add(batch_matrix)

    def reset_state(self):
        """Starts counting from zero (Keras calls this at the start of each epoch)."""
        self.confusion_matrix.assign(ops.zeros(self.confusion_matrix.shape, dtype="float32"))

    def _per_class_counts(self):
        """True positives, false positives and false negatives of every class, ``(C,)`` each."""
        matrix = ops.convert_to_tensor(self.confusion_matrix)
        true_positives = ops.diagonal(matrix)
        false_positives = ops.sum(matrix, axis=0) - true_positives
        false_negatives = ops.sum(matrix, axis=1) - true_positives
        return true_positives, false_positives, false_negatives

    def _per_class_iou(self):
        tp, fp, fn = self._per_class_counts()
        return _divide_or_nan(tp, tp + fp + fn)

    def get_config(self):
        config = super().get_config()
        config.update(num_classes=self.num_classes, ignore_label=self.ignore_label)
        return config


@keras.saving.register_keras_serializable(package="course_utils")
class MeanIoU(_ConfusionMatrixMetric):
    """Mean intersection over union (mIoU) over the classes present.

    The IoU of a class is ``TP / (TP + FP + FN)``; the mean runs over the
    classes present in the truth or the prediction, like
    :func:`course_utils.metrics.mean_iou`. (``keras.metrics.MeanIoU`` computes
    the same mean, but needs ``sparse_y_pred=False`` for probability maps and
    reports 0 instead of nan when nothing has been counted.)

    Args:
        num_classes: Number of classes ``C``; ``y_pred`` has ``C`` channels.
        ignore_label: Optional label in ``y_true`` marking pixels to leave out.
        name: Name in the Keras logs.
        dtype: Dtype of the result.
    """

    def __init__(self, num_classes, ignore_label=None, name="mean_iou", dtype=None):
        super().__init__(num_classes, ignore_label=ignore_label, name=name, dtype=dtype)

    def result(self):
        return _mean_of_defined(self._per_class_iou())


@keras.saving.register_keras_serializable(package="course_utils")
class PerClassIoU(_ConfusionMatrixMetric):
    """Intersection over union of one class, so that the logs show it by name.

    Example::

        PerClassIoU(3, class_id=1, name="iou_text")  # history.history["iou_text"]

    Args:
        num_classes: Number of classes ``C``; ``y_pred`` has ``C`` channels.
        class_id: The class to score, in ``[0, num_classes)``.
        ignore_label: Optional label in ``y_true`` marking pixels to leave out.
        name: Name in the Keras logs; default ``"iou_<class_id>"``.
        dtype: Dtype of the result.

    The result equals ``course_utils.metrics.per_class_iou(...)[class_id]``:
    nan while the class is absent from both the truth and the prediction.
    """

    def __init__(self, num_classes, class_id, ignore_label=None, name=None, dtype=None):
        class_id = _check_class_index("class_id", class_id, num_classes)
        name = f"iou_{class_id}" if name is None else name
        super().__init__(num_classes, ignore_label=ignore_label, name=name, dtype=dtype)
        self.class_id = class_id

    def result(self):
        return self._per_class_iou()[self.class_id]

    def get_config(self):
        config = super().get_config()
        config.update(class_id=self.class_id)
        return config


@keras.saving.register_keras_serializable(package="course_utils")
class DiceScore(_ConfusionMatrixMetric):
    """Mean Dice coefficient ``2 TP / (2 TP + FP + FN)`` over the classes present.

    The thresholded (argmax) counterpart of the soft Dice loss; equals
    :func:`course_utils.metrics.mean_dice`.

    Args:
        num_classes: Number of classes ``C``; ``y_pred`` has ``C`` channels.
        ignore_label: Optional label in ``y_true`` marking pixels to leave out.
        name: Name in the Keras logs.
        dtype: Dtype of the result.
    """

    def __init__(self, num_classes, ignore_label=None, name="dice_score", dtype=None):
        super().__init__(num_classes, ignore_label=ignore_label, name=name, dtype=dtype)

    def result(self):
        tp, fp, fn = self._per_class_counts()
        return _mean_of_defined(_divide_or_nan(2.0 * tp, 2.0 * tp + fp + fn))


@keras.saving.register_keras_serializable(package="course_utils")
class ForegroundPixelAccuracy(_ConfusionMatrixMetric):
    """Pixel accuracy over the pixels whose TRUE label is not background.

    Foreground pixel accuracy (FgPA, Wick & Puppe 2018) counts only the ink
    pixels of the page. A Keras metric sees only ``y_true`` and ``y_pred``, not
    the page image, so here the foreground is read from the labels: a pixel is
    foreground if its true label is not ``background_class``. The result is::

        correctly labelled foreground pixels / all foreground pixels
        = sum over c != background of TP_c / true pixels of class c

    which equals ``course_utils.metrics.foreground_pixel_accuracy(y_true,
    y_pred, foreground=y_true != background_class)``. It equals the page-ink
    FgPA when the ground truth gives a non-background class exactly to the ink
    pixels (labels restricted to ink, as in Wick & Puppe). It differs when
    region labels also cover paper (e.g. whole text-line boxes: that paper
    counts here) or when ink is labelled background (noise: it does not count
    here). For the page-ink FgPA, evaluate afterwards with
    :func:`course_utils.metrics.foreground_pixel_accuracy` and the binarized
    page.

    Why not pass the ink mask as ``sample_weight``: in ``fit`` the same
    ``sample_weight`` also weights the loss, which would then ignore every
    background pixel. (``sample_weight`` is still honoured as a pixel weight.)

    Args:
        num_classes: Number of classes ``C``; ``y_pred`` has ``C`` channels.
        background_class: The class that is not foreground, default 0.
        ignore_label: Optional label in ``y_true`` marking pixels to leave out.
        name: Name in the Keras logs.
        dtype: Dtype of the result.

    The result is nan while no foreground pixel has been counted.
    """

    def __init__(
        self,
        num_classes,
        background_class=0,
        ignore_label=None,
        name="foreground_pixel_accuracy",
        dtype=None,
    ):
        background_class = _check_class_index("background_class", background_class, num_classes)
        super().__init__(num_classes, ignore_label=ignore_label, name=name, dtype=dtype)
        self.background_class = background_class

    def result(self):
        matrix = ops.convert_to_tensor(self.confusion_matrix)
        is_foreground = ops.not_equal(ops.arange(self.num_classes), self.background_class)
        is_foreground = ops.cast(is_foreground, matrix.dtype)
        correct = ops.sum(ops.diagonal(matrix) * is_foreground)
        foreground_pixels = ops.sum(ops.sum(matrix, axis=1) * is_foreground)
        return _divide_or_nan(correct, foreground_pixels)

    def get_config(self):
        config = super().get_config()
        config.update(background_class=self.background_class)
        return config
