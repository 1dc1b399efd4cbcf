"""Segmentation losses for Keras: pixel-wise cross-entropy and soft Dice loss.

Written with ``keras.ops`` only, so they run on the TensorFlow, JAX and PyTorch
backends. Shapes use ``(batch, height, width, n_classes)`` for the network
output; every function returns one loss value per sample, shape ``(batch,)``,
and Keras averages those over the batch.
"""

import keras
from keras import ops

__all__ = [
    "soft_dice_loss",
    "SoftDiceLoss",
    "pixelwise_crossentropy",
    "PixelwiseCrossEntropy",
]


def _pixel_axes(tensor):
    # All axes between batch and classes: (1, 2) for images.
    return tuple(range(1, len(tensor.shape) - 1))


def _labels_to_int(y_true, y_pred):
    """Integer labels ``(batch, h, w)`` from ``(batch, h, w)`` or ``(batch, h, w, 1)``."""
    if len(y_true.shape) == len(y_pred.shape):
        if y_true.shape[-1] != 1:
            raise ValueError(
                f"Sparse `y_true` must hold one class index per pixel, shape "
                f"(batch, h, w) or (batch, h, w, 1), got {tuple(y_true.shape)} "
                f"for `y_pred` of shape {tuple(y_pred.shape)}."
            )
        y_true = ops.squeeze(y_true, axis=-1)
    # Keras hands the loss float labels; class indices must be ints.
    return ops.cast(y_true, "int32")


def soft_dice_loss(y_true, y_pred, smooth=1.0):
    """Soft Dice loss, averaged over classes.

    For each sample and class ``c``, with sums over the pixels::

        loss_c = 1 - (2 * sum(t * p) + smooth) / (sum(t**2) + sum(p**2) + smooth)

    "Soft" because ``p`` are probabilities, not a thresholded mask, so the loss
    is differentiable. ``smooth`` keeps the ratio defined (and equal to 1, a
    loss of 0) for a class absent from both ``t`` and ``p``.

    Args:
        y_true: One-hot ground truth, shape ``(batch, h, w, n_classes)``.
        y_pred: Predicted probabilities (e.g. after softmax), same shape.
        smooth: Added to numerator and denominator, in pixels; > 0 avoids
            dividing by zero.

    Returns:
        Loss per sample, shape ``(batch,)``, each in [0, 1] for smooth >= 0.
    """
    y_pred = ops.convert_to_tensor(y_pred)
    y_true = ops.cast(y_true, y_pred.dtype)
    axes = _pixel_axes(y_pred)
    intersection = ops.sum(y_true * y_pred, axis=axes)  # (batch, n_classes)
    denominator = ops.sum(ops.square(y_true), axis=axes) + ops.sum(ops.square(y_pred), axis=axes)
    dice_per_class = (2.0 * intersection + smooth) / (denominator + smooth)
    return 1.0 - ops.mean(dice_per_class, axis=-1)


@keras.saving.register_keras_serializable(package="course_utils")
class SoftDiceLoss(keras.losses.Loss):
    """Soft Dice loss as a Keras loss object; see :func:`soft_dice_loss`.

    Args:
        smooth: Smoothing term of the Dice ratio, in pixels.
        from_logits: If True, ``y_pred`` are logits and a softmax over the last
            axis turns them into probabilities first.
        sparse: If True, ``y_true`` holds integer class indices of shape
            ``(batch, h, w)`` or ``(batch, h, w, 1)`` and is one-hot encoded
            here; otherwise it is one-hot ``(batch, h, w, n_classes)``.
        name: Name of the loss.
        reduction: How Keras reduces the per-sample losses (default: mean).
        dtype: Dtype of the computation.

    Example::

        model.compile(optimizer="adam", loss=SoftDiceLoss(sparse=True))
    """

    def __init__(
        self,
        smooth=1.0,
        from_logits=False,
        sparse=False,
        name="soft_dice_loss",
        reduction="sum_over_batch_size",
        dtype=None,
    ):
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        self.smooth = smooth
        self.from_logits = from_logits
        self.sparse = sparse

    def call(self, y_true, y_pred):
        if self.from_logits:
            y_pred = ops.softmax(y_pred, axis=-1)
        if self.sparse:
            n_classes = y_pred.shape[-1]
            y_true = ops.one_hot(_labels_to_int(y_true, y_pred), n_classes, dtype=y_pred.dtype)
        return soft_dice_loss(y_true, y_pred, smooth=self.smooth)

    def get_config(self):
        config = super().get_config()
        config.update(smooth=self.smooth, from_logits=self.from_logits, sparse=self.sparse)
        return config


def pixelwise_crossentropy(y_true, y_pred, class_weights=None, from_logits=False):
    """Cross-entropy of every pixel, optionally class-weighted, averaged per sample.

    Per pixel: ``-log p[true class]``, times ``class_weights[true class]`` if
    given; then the plain mean over the pixels (not divided by the weights).
    Weights > 1 make errors on a rare class (e.g. text lines on a page that is
    mostly background) cost more.

    Args:
        y_true: Integer class indices, shape ``(batch, h, w)`` or
            ``(batch, h, w, 1)``.
        y_pred: Probabilities, shape ``(batch, h, w, n_classes)``; logits if
            ``from_logits``.
        class_weights: Optional sequence of ``n_classes`` non-negative floats.
        from_logits: If True, ``y_pred`` are logits (more stable numerically).

    Returns:
        Loss per sample, shape ``(batch,)``, in nats.
    """
    y_pred = ops.convert_to_tensor(y_pred)
    labels = _labels_to_int(ops.convert_to_tensor(y_true), y_pred)
    # Keras clips probabilities away from 0 so that log never gives -inf.
    pixel_losses = ops.sparse_categorical_crossentropy(labels, y_pred, from_logits=from_logits)
    if class_weights is not None:
        weights = ops.convert_to_tensor(class_weights, dtype=pixel_losses.dtype)
        pixel_losses = pixel_losses * ops.take(weights, labels)
    return ops.mean(pixel_losses, axis=tuple(range(1, len(pixel_losses.shape))))


@keras.saving.register_keras_serializable(package="course_utils")
class PixelwiseCrossEntropy(keras.losses.Loss):
    """Pixel-wise (optionally class-weighted) cross-entropy as a Keras loss.

    See :func:`pixelwise_crossentropy`.

    Args:
        class_weights: Optional sequence of ``n_classes`` non-negative floats.
        from_logits: If True, ``y_pred`` are logits.
        name: Name of the loss.
        reduction: How Keras reduces the per-sample losses (default: mean).
        dtype: Dtype of the computation.

    Example::

        model.compile(optimizer="adam", loss=PixelwiseCrossEntropy([0.2, 1.0]))
    """

    def __init__(
        self,
        class_weights=None,
        from_logits=False,
        name="pixelwise_crossentropy",
        reduction="sum_over_batch_size",
        dtype=None,
    ):
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        # Plain floats keep get_config JSON-serializable.
        self.class_weights = None if class_weights is None else [float(w) for w in class_weights]
        self.from_logits = from_logits

    def call(self, y_true, y_pred):
        return pixelwise_crossentropy(
            y_true, y_pred, class_weights=self.class_weights, from_logits=self.from_logits
        )

    def get_config(self):
        config = super().get_config()
        config.update(class_weights=self.class_weights, from_logits=self.from_logits)
        return config
