"""The trusted side's own NumPy references: what the grader computes itself to judge the
values a student's function returned.

Written independently of ``course_utils`` (the library the students also have) and of the
notebooks, in float64 and in the plainest form (loops where they read better), so that a
mistake shared by the library and a reference cannot hide. Argument names follow the
library (``course_utils.shapes``, ``course_utils.metrics``, ``course_utils.losses``);
the layers follow Keras (checked against Keras in tests/validity/test_grading_validity.py).

Arrays are NHWC: (batch, height, width, channels). Sizes are in pixels along one axis.
"""

from __future__ import annotations

import numpy as np


# ----------------------------------------------------------------------------- sizes
def conv_output_size(input_size, kernel_size, stride=1, padding="valid"):
    """Output pixels of a convolution along one axis (Keras Conv2D, dilation 1)."""
    if padding == "valid":
        return (input_size - kernel_size) // stride + 1
    return -(-input_size // stride)             # "same": ceil(input_size / stride)


def pool_output_size(input_size, pool_size, stride=None, padding="valid"):
    """Output pixels of a pooling along one axis; ``stride=None`` means ``stride=pool_size``."""
    return conv_output_size(input_size, pool_size, pool_size if stride is None else stride, padding)


def conv_transpose_output_size(input_size, kernel_size, stride=1, padding="valid", output_padding=None):
    """Output pixels of a transposed convolution along one axis (Keras Conv2DTranspose)."""
    n, k, s = input_size, kernel_size, stride
    if padding == "valid":
        return (n - 1) * s + k + (max(s - k, 0) if output_padding is None else output_padding)
    return n * s if output_padding is None else (n - 1) * s + k - 2 * (k // 2) + output_padding


# ----------------------------------------------------------------------------- layers
def _pair(value) -> tuple:
    """A size given as one int or as (height, width): ``(height, width)``."""
    return tuple(value) if isinstance(value, (list, tuple)) else (value, value)


def relu(x):
    return np.maximum(x, 0)


def softmax(logits):
    """Softmax over the last axis (the classes)."""
    e = np.exp(logits - logits.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def conv2d_same(inputs, kernel, bias=None):
    """Keras Conv2D(padding="same", strides=1): ``inputs`` (B, H, W, C_in), ``kernel``
    (kh, kw, C_in, C_out), ``bias`` (C_out,) -> (B, H, W, C_out)."""
    kh, kw = kernel.shape[:2]
    top, left = (kh - 1) // 2, (kw - 1) // 2           # Keras/TF put the extra padding after
    padded = np.pad(inputs, ((0, 0), (top, kh - 1 - top), (left, kw - 1 - left), (0, 0)))
    b, h, w, _ = inputs.shape
    out = np.zeros((b, h, w, kernel.shape[-1]))
    for di in range(kh):
        for dj in range(kw):
            out += padded[:, di:di + h, dj:dj + w, :] @ kernel[di, dj]
    return out if bias is None else out + bias


def max_pool2d(inputs, pool_size=2):
    """Keras MaxPooling2D(pool_size, strides=pool_size, padding="valid") on (B, H, W, C)."""
    p = pool_size
    b, h, w, c = inputs.shape
    inputs = inputs[:, :h // p * p, :w // p * p]
    return inputs.reshape(b, h // p, p, w // p, p, c).max(axis=(2, 4))


def upscale(inputs, factor):
    """Keras UpSampling2D(factor, interpolation="nearest") on (B, H, W, C)."""
    return inputs.repeat(factor, axis=1).repeat(factor, axis=2)


def conv2d_transpose(inputs, kernel, strides=1, padding="valid"):
    """Keras Conv2DTranspose(use_bias=False): ``inputs`` (B, H, W, C_in), ``kernel``
    (kh, kw, C_out, C_in) as Keras stores it; each input pixel stamps the kernel."""
    sh, sw = _pair(strides)
    b, h, w, _ = inputs.shape
    kh, kw, c_out, _ = kernel.shape
    full = np.zeros((b, (h - 1) * sh + kh, (w - 1) * sw + kw, c_out))
    for i in range(h):
        for j in range(w):
            full[:, i * sh:i * sh + kh, j * sw:j * sw + kw] += np.tensordot(inputs[:, i, j, :], kernel, axes=([1], [3]))
    out = []
    for n, k, s in ((h, kh, sh), (w, kw, sw)):
        if padding == "same":
            size = n * s
            start = max((n - 1) * s + k - size, 0) // 2      # TF: pad_before = pad_total // 2
        else:
            size, start = (n - 1) * s + max(k, s), 0
        out.append((size, start))
    (oh, top), (ow, left) = out
    result = np.zeros((b, oh, ow, c_out))
    part = full[:, top:top + oh, left:left + ow]
    result[:, :part.shape[1], :part.shape[2]] = part
    return result


def random_weights(rng, shapes):
    """float32 weights of these shapes, scaled by 1/sqrt(fan-in) (biases: 0.1) so that the
    outputs of deep networks stay in a range where float32 and float64 agree."""
    weights = []
    for shape in shapes:
        fan_in = int(np.prod(shape[:-1])) if len(shape) > 1 else 1
        scale = 1.0 / np.sqrt(fan_in) if len(shape) > 1 else 0.1
        weights.append((rng.normal(size=shape) * scale).astype("float32"))
    return weights


# ----------------------------------------------------------------------------- the lecture's FCN
def encoder_weight_shapes(num_channels=1):
    """The patch CNN's convolutions conv1 (40, 3x3), conv2 (40, 4x4), conv3 (80, 4x4)."""
    return [(3, 3, num_channels, 40), (40,), (4, 4, 40, 40), (40,), (4, 4, 40, 80), (80,)]


def encoder_forward(page, weights):
    """conv1 - pool1 - conv2 - pool2 - conv3 - pool3 ('same', ReLU, 2x2 pooling) of the six
    ``encoder_weight_shapes`` weights: (conv1, conv2, conv3, pool3) feature maps."""
    c1 = relu(conv2d_same(page.astype(np.float64), *weights[0:2]))
    c2 = relu(conv2d_same(max_pool2d(c1), *weights[2:4]))
    c3 = relu(conv2d_same(max_pool2d(c2), *weights[4:6]))
    return c1, c2, c3, max_pool2d(c3)


def fcn_weight_shapes(num_classes, num_channels=1):
    """``build_fcn_upscaling``: the encoder, then a 1x1 classifier."""
    return encoder_weight_shapes(num_channels) + [(1, 1, 80, num_classes), (num_classes,)]


def fcn_params(num_classes, num_channels=1):
    return sum(int(np.prod(shape)) for shape in fcn_weight_shapes(num_classes, num_channels))


def fcn_weights(rng, num_classes, num_channels=1):
    return random_weights(rng, fcn_weight_shapes(num_classes, num_channels))


def fcn_forward(page, weights):
    """The slide's FCN (``build_fcn_upscaling``) in float64 with the given weights: the
    encoder, 8x8 nearest up-scaling, the 1x1 classifier, softmax. (B, H, W, C) pages with
    H and W multiples of 8 -> (B, H, W, num_classes) probabilities."""
    weights = [w.astype(np.float64) for w in weights]
    *_, pooled = encoder_forward(page, weights[:6])
    kernel, bias = weights[6:8]
    return softmax(upscale(pooled, 8) @ kernel[0, 0] + bias)


# ----------------------------------------------------------------------------- metrics and losses
def dice_coefficient(y_true, y_pred) -> float:
    """2 |A and B| / (|A| + |B|) of two masks (nonzero = in the mask); 1.0 for two empty masks."""
    a, b = np.asarray(y_true).astype(bool), np.asarray(y_pred).astype(bool)
    total = int(a.sum()) + int(b.sum())
    return 1.0 if total == 0 else 2.0 * int((a & b).sum()) / total


def iou_score(y_true, y_pred) -> float:
    """|A and B| / |A or B| of two masks; 1.0 for two empty masks."""
    a, b = np.asarray(y_true).astype(bool), np.asarray(y_pred).astype(bool)
    union = int((a | b).sum())
    return 1.0 if union == 0 else int((a & b).sum()) / union


def mean_iou(y_true, y_pred, num_classes, ignore_label=None) -> float:
    """Mean IoU of two label maps over the classes present in truth or prediction (from the
    confusion matrix); pixels whose true label is ``ignore_label`` are left out; nan if no
    class is present."""
    t, p = np.asarray(y_true).ravel().astype(np.int64), np.asarray(y_pred).ravel().astype(np.int64)
    if ignore_label is not None:
        keep = t != ignore_label
        t, p = t[keep], p[keep]
    confusion = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(confusion, (t, p), 1)
    true_positives = np.diag(confusion)
    union = confusion.sum(0) + confusion.sum(1) - true_positives
    present = union > 0
    return float(np.mean(true_positives[present] / union[present])) if present.any() else float("nan")


def soft_dice_loss(y_true, y_pred, smooth=1.0) -> np.ndarray:
    """1 - mean over classes of (2 sum(t p) + smooth) / (sum(t^2) + sum(p^2) + smooth), the
    sums over each image's pixels: (B, H, W, C) one-hot targets and probabilities -> (B,)."""
    t, p = np.asarray(y_true, np.float64), np.asarray(y_pred, np.float64)
    intersection = (t * p).sum(axis=(1, 2))
    denominator = (t ** 2).sum(axis=(1, 2)) + (p ** 2).sum(axis=(1, 2))
    return 1.0 - ((2 * intersection + smooth) / (denominator + smooth)).mean(axis=-1)


# ----------------------------------------------------------------------------- mask encodings
def one_hot(labels, num_classes) -> np.ndarray:
    """(..., ) class ids in [0, num_classes) -> (..., num_classes) of 0.0/1.0, the class axis last."""
    labels = np.asarray(labels)
    encoded = np.zeros(labels.shape + (num_classes,))
    for index in np.ndindex(*labels.shape):
        encoded[index + (int(labels[index]),)] = 1.0
    return encoded


def labels_from_scores(scores) -> np.ndarray:
    """(..., C) class scores -> (...) the index of each pixel's highest score (the first on a tie)."""
    return np.argmax(np.asarray(scores, dtype=np.float64), axis=-1)


def multi_label_mask(labels, channel_classes) -> np.ndarray:
    """(...) class ids -> (..., J) of 0.0/1.0: channel j is 1 where the class is in ``channel_classes[j]``."""
    labels = np.asarray(labels)
    mask = np.zeros(labels.shape + (len(channel_classes),))
    for j, classes in enumerate(channel_classes):
        for class_id in classes:
            mask[..., j][labels == class_id] = 1.0
    return mask


def decode_multi_label(probabilities, threshold=0.5) -> np.ndarray:
    """(..., J) per-channel probabilities -> (..., J) of 0.0/1.0: 1 where strictly above ``threshold``."""
    return np.where(np.asarray(probabilities, dtype=np.float64) > threshold, 1.0, 0.0)
