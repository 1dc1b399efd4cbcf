"""Segmentation losses for Keras: pixel-wise cross-entropy, soft Dice loss and their sum.

Written with ``keras.ops`` only, so they run on the TensorFlow, JAX and PyTorch
backends. Shapes use ``(batch, height, width, n_classes)`` for the network
output; every function returns one loss value per sample, shape ``(batch,)``,
and Keras averages those over the batch.

Losses that take sparse integer labels accept ``ignore_label``: pixels whose
true label equals it (e.g. 255 for an unlabelled border) contribute nothing,
neither to the cross-entropy nor to the Dice sums.
"""

import keras
from keras import ops

__all__ = [
    "soft_dice_loss",
    "SoftDiceLoss",
    "pixelwise_crossentropy",
    "PixelwiseCrossEntropy",
    "CombinedCrossEntropyDiceLoss",
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


def _drop_ignored(labels, ignore_label):
    """Splits integer labels into labels safe to index with and a mask of counted pixels.

    Args:
        labels: Integer class indices, shape ``(batch, h, w)``.
        ignore_label: Label marking pixels to leave out, or None.

    Returns:
        ``(safe_labels, counted)``: ``labels`` with ignored pixels set to class 0,
        and a bool mask ``(batch, h, w)``, True where a pixel counts (None if
        ``ignore_label`` is None).
    """
    if ignore_label is None:
        return labels, None
    counted = ops.not_equal(labels, ignore_label)
    # An ignored pixel still passes through one_hot and the log before the mask
    # zeroes it; a label such as 255 is no valid class index, so use class 0.
    return ops.where(counted, labels, ops.zeros_like(labels)), counted


def _check_ignore_label(ignore_label):
    # A plain int keeps get_config JSON-serializable (not e.g. numpy.int64).
    if ignore_label is None:
        return None
    if isinstance(ignore_label, bool) or int(ignore_label) != ignore_label:
        raise ValueError(f"`ignore_label` must be an int or None, got {ignore_label!r}.")
    return int(ignore_label)


def soft_dice_loss(y_true, y_pred, smooth=1.0, mask=None):
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
        mask: Optional 0/1 or bool map of the pixels to count, shape
            ``(batch, h, w)``; pixels where it is 0 are left out of every sum
            (e.g. unlabelled pixels). A sample with no counted pixel gets
            loss 0 (for smooth > 0).

    Returns:
        Loss per sample, shape ``(batch,)``, each in [0, 1] for smooth > 0. With
        ``smooth=0`` a class absent from both maps gives 0 / 0, so the loss of that
        sample is ``nan``.
    """
    y_pred = ops.convert_to_tensor(y_pred)
    y_true = ops.cast(y_true, y_pred.dtype)
    if mask is not None:
        # Zeroing both maps at a pixel removes it from all three sums below.
        mask = ops.expand_dims(ops.cast(mask, y_pred.dtype), axis=-1)
        y_true = y_true * mask
        y_pred = y_pred * mask
    axes = _pixel_axes(y_pred)
    intersection = ops.sum(y_true * y_pred, axis=axes)  # (batch, n_classes)
    denominator = ops.sum(ops.square(y_true), axis=axes) + ops.sum(ops.square(y_pred), axis=axes)
    dice_per_class = (2.0 * intersection + smooth) / (denominator + smooth)
    return 1.0 - ops.mean(dice_per_class, axis=-1)


def _sparse_soft_dice_loss(y_true, y_pred, smooth, ignore_label):
    """Soft Dice loss from integer labels; ignored pixels are left out of the sums."""
    labels = _labels_to_int(ops.convert_to_tensor(y_true), y_pred)
    labels, counted = _drop_ignored(labels, ignore_label)
    one_hot = ops.one_hot(labels, y_pred.shape[-1], dtype=y_pred.dtype)
    return soft_dice_loss(one_hot, y_pred, smooth=smooth, mask=counted)


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
        ignore_label: Optional label marking pixels to leave out of the Dice
            sums; only with ``sparse=True`` (a one-hot map has no such label).
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
        ignore_label=None,
        name="soft_dice_loss",
        reduction="sum_over_batch_size",
        dtype=None,
    ):
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        if ignore_label is not None and not sparse:
            raise ValueError("`ignore_label` needs sparse integer labels: pass `sparse=True`.")
        self.smooth = smooth
        self.from_logits = from_logits
        self.sparse = sparse
        self.ignore_label = _check_ignore_label(ignore_label)

    def call(self, y_true, y_pred):
        if self.from_logits:
            y_pred = ops.softmax(y_pred, axis=-1)
        if self.sparse:
            return _sparse_soft_dice_loss(y_true, y_pred, self.smooth, self.ignore_label)
        return soft_dice_loss(y_true, y_pred, smooth=self.smooth)

    def get_config(self):
        config = super().get_config()
        config.update(
            smooth=self.smooth,
            from_logits=self.from_logits,
            sparse=self.sparse,
            ignore_label=self.ignore_label,
        )
        return config


def pixelwise_crossentropy(y_true, y_pred, class_weights=None, from_logits=False, ignore_label=None):
    """Cross-entropy of every pixel, optionally class-weighted, averaged per sample.

    Per pixel: ``-log p[true class]``, times ``class_weights[true class]`` if
    given; then the plain mean over the counted pixels (not divided by the
    weights). Weights > 1 make errors on a rare class (e.g. text lines on a page
    that is mostly background) cost more.

    With ``ignore_label``, pixels whose true label equals it contribute nothing
    and the mean runs over the other pixels of each sample only, so ignoring
    pixels does not dilute the loss. A sample whose pixels are all ignored gets
    loss 0 (not nan) and no gradient.

    Args:
        y_true: Integer class indices, shape ``(batch, h, w)`` or
            ``(batch, h, w, 1)``.
        y_pred: Probabilities, shape ``(batch, h, w, n_classes)``; logits if
            ``from_logits``.
        class_weights: Optional sequence of ``n_classes`` non-negative floats.
        from_logits: If True, ``y_pred`` are logits (more stable numerically).
        ignore_label: Optional label in ``y_true`` marking pixels to leave out
            (e.g. 255); it need not be a valid class index.

    Returns:
        Loss per sample, shape ``(batch,)``, in nats.
    """
    y_pred = ops.convert_to_tensor(y_pred)
    labels = _labels_to_int(ops.convert_to_tensor(y_true), y_pred)
    labels, counted = _drop_ignored(labels, ignore_label)
    # Keras clips probabilities away from 0 so that log never gives -inf.
    pixel_losses = ops.sparse_categorical_crossentropy(labels, y_pred, from_logits=from_logits)
    if class_weights is not None:
        weights = ops.convert_to_tensor(class_weights, dtype=pixel_losses.dtype)
        pixel_losses = pixel_losses * ops.take(weights, labels)
    pixel_axes = tuple(range(1, len(pixel_losses.shape)))
    if counted is None:
        return ops.mean(pixel_losses, axis=pixel_axes)
    counted = ops.cast(counted, pixel_losses.dtype)
    n_counted = ops.sum(counted, axis=pixel_axes)
    # max(n, 1): an all-ignored sample has a sum of 0 and gets 0 / 1 = 0, not 0 / 0.
    return ops.sum(pixel_losses * counted, axis=pixel_axes) / ops.maximum(n_counted, 1.0)


@keras.saving.register_keras_serializable(package="course_utils")
class PixelwiseCrossEntropy(keras.losses.Loss):
    """Pixel-wise (optionally class-weighted) cross-entropy as a Keras loss.

    See :func:`pixelwise_crossentropy`.

    Args:
        class_weights: Optional sequence of ``n_classes`` non-negative floats.
        from_logits: If True, ``y_pred`` are logits.
        ignore_label: Optional label in ``y_true`` marking pixels to leave out.
        name: Name of the loss.
        reduction: How Keras reduces the per-sample losses (default: mean).
        dtype: Dtype of the computation.

    Example::

        model.compile(optimizer="adam", loss=PixelwiseCrossEntropy([0.2, 1.0]))
        model.compile(optimizer="adam", loss=PixelwiseCrossEntropy(ignore_label=255))
    """

    def __init__(
        self,
        class_weights=None,
        from_logits=False,
        ignore_label=None,
        name="pixelwise_crossentropy",
        reduction="sum_over_batch_size",
        dtype=None,
    ):
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        # Plain floats keep get_config JSON-serializable.
        self.class_weights = None if class_weights is None else [float(w) for w in class_weights]
        self.from_logits = from_logits
        self.ignore_label = _check_ignore_label(ignore_label)

    def call(self, y_true, y_pred):
        return pixelwise_crossentropy(
            y_true,
            y_pred,
            class_weights=self.class_weights,
            from_logits=self.from_logits,
            ignore_label=self.ignore_label,
        )

    def get_config(self):
        config = super().get_config()
        config.update(
            class_weights=self.class_weights,
            from_logits=self.from_logits,
            ignore_label=self.ignore_label,
        )
        return config


@keras.saving.register_keras_serializable(package="course_utils")
class CombinedCrossEntropyDiceLoss(keras.losses.Loss):
    """Pixel-wise cross-entropy plus ``dice_weight`` times the soft Dice loss.

    Per sample::

        loss = pixelwise_crossentropy + dice_weight * soft_dice_loss

    The two complement each other: cross-entropy gives every pixel a smooth,
    well-scaled gradient, while Dice scores each class as a whole, so a small
    class (few text pixels) weighs as much as the background.

    Args:
        class_weights: Optional sequence of ``n_classes`` non-negative floats;
            they weight the cross-entropy term only (Dice already balances
            the classes).
        ignore_label: Optional label in ``y_true`` marking pixels to leave out
            of both terms: of the cross-entropy mean and of the Dice sums.
        dice_weight: Factor of the Dice term; 0 gives plain cross-entropy.
        smooth: Smoothing term of the Dice ratio, in pixels.
        from_logits: If True, ``y_pred`` are logits: the cross-entropy uses them
            directly, the Dice term their softmax.
        name: Name of the loss.
        reduction: How Keras reduces the per-sample losses (default: mean).
        dtype: Dtype of the computation.

    ``y_true`` holds integer class indices, shape ``(batch, h, w)`` or
    ``(batch, h, w, 1)``; ``y_pred`` has shape ``(batch, h, w, n_classes)``.

    Example::

        model.compile(optimizer="adam", loss=CombinedCrossEntropyDiceLoss(ignore_label=255))
    """

    def __init__(
        self,
        class_weights=None,
        ignore_label=None,
        dice_weight=1.0,
        smooth=1.0,
        from_logits=False,
        name="combined_crossentropy_dice_loss",
        reduction="sum_over_batch_size",
        dtype=None,
    ):
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        self.class_weights = None if class_weights is None else [float(w) for w in class_weights]
        self.ignore_label = _check_ignore_label(ignore_label)
        self.dice_weight = float(dice_weight)
        self.smooth = float(smooth)
        self.from_logits = from_logits

    def call(self, y_true, y_pred):
        crossentropy = pixelwise_crossentropy(
            y_true,
            y_pred,
            class_weights=self.class_weights,
            from_logits=self.from_logits,
            ignore_label=self.ignore_label,
        )
        probabilities = ops.softmax(y_pred, axis=-1) if self.from_logits else y_pred
        dice = _sparse_soft_dice_loss(y_true, probabilities, self.smooth, self.ignore_label)
        return crossentropy + self.dice_weight * dice

    def get_config(self):
        config = super().get_config()
        config.update(
            class_weights=self.class_weights,
            ignore_label=self.ignore_label,
            dice_weight=self.dice_weight,
            smooth=self.smooth,
            from_logits=self.from_logits,
        )
        return config
