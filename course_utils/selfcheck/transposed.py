"""Self-check of the transposed convolution written in NumPy (scatter-add, then the crop
of the padding), against Keras' ``Conv2DTranspose(use_bias=False)``.

Assignment ``skip_fcns``.
"""

import numpy as np

from .engine import (
    _Case,
    _run_check,
    _variant_check,
)

__all__ = ["check_conv2d_transpose_numpy"]


def _transpose_numpy_reference(inputs, kernel, strides=1, padding="valid", crop="centre"):
    """Keras' Conv2DTranspose(use_bias=False) by scatter-add; ``crop`` reproduces mistakes:
    'end' crops 'same' at the end only, 'none' does not crop at all."""
    x, k = np.asarray(inputs, np.float64), np.asarray(kernel, np.float64)
    sh, sw = (strides, strides) if np.isscalar(strides) else strides
    b, h, w, _ = x.shape
    kh, kw, c_out, _ = k.shape
    full = np.zeros((b, (h - 1) * sh + kh, (w - 1) * sw + kw, c_out))
    for i in range(h):
        for j in range(w):
            full[:, i * sh:i * sh + kh, j * sw:j * sw + kw] += np.einsum("bc,hwoc->bhwo", x[:, i, j], k)
    if crop == "none":
        return full
    sizes = []
    for n, kk, s, length in ((h, kh, sh, full.shape[1]), (w, kw, sw, full.shape[2])):
        out = n * s if padding == "same" else (n - 1) * s + max(kk, s)
        start = (max(length - out, 0) // 2 if crop == "centre" else 0) if padding == "same" else 0
        sizes.append((out, start))
    (oh, top), (ow, left) = sizes
    result = np.zeros((b, oh, ow, c_out))
    part = full[:, top:top + oh, left:left + ow]
    result[:, :part.shape[1], :part.shape[2]] = part
    return result


def _transpose_numpy_cases():
    rng = np.random.default_rng(14)
    slide_kernel = np.array([[1.0, 10.0], [100.0, 1000.0]]).reshape(2, 2, 1, 1)
    return [
        _Case("the notebook's 2x2 kernel, stride 2 (no overlap)",
              (np.array([[1.0, 2.0], [3.0, 4.0]]).reshape(1, 2, 2, 1), slide_kernel, 2), public=True),
        _Case("random 3x3 input, 3x3 kernel, stride 2, 'valid'",
              (rng.normal(size=(1, 3, 3, 2)), rng.normal(size=(3, 3, 3, 2)), 2, "valid")),
        _Case("random 3x4 input, 3x3 kernel, stride 2, 'same'",
              (rng.normal(size=(2, 3, 4, 1)), rng.normal(size=(3, 3, 2, 1)), 2, "same")),
        _Case("random 2x3 input, 4x4 kernel, stride 2, 'same'",
              (rng.normal(size=(1, 2, 3, 2)), rng.normal(size=(4, 4, 1, 2)), 2, "same")),
        _Case("random 2x2 input, 2x2 kernel, stride 3 (gaps), 'valid'",
              (rng.normal(size=(1, 2, 2, 1)), rng.normal(size=(2, 2, 1, 1)), 3, "valid")),
    ]


_TRANSPOSE_NUMPY_CHECK = _variant_check(
    "conv2d_transpose_numpy", _transpose_numpy_cases(), _transpose_numpy_reference,
    [("same_without_crop", "'same' is not cropped", (
        "With 'same' the output has n * s pixels per axis: crop the scattered result.",
        "Crop (length - n * s) // 2 pixels at the start, the rest at the end.",
    ), lambda x, k, s=1, padding="valid": _transpose_numpy_reference(x, k, s, padding, crop="none")
        if padding == "same" else _transpose_numpy_reference(x, k, s, padding)),
     ("crop_at_end", "'same' crops only at the end", (
         "Keras crops (length - n * s) // 2 pixels at the start and the rest at the end.",
     ), lambda x, k, s=1, padding="valid": _transpose_numpy_reference(x, k, s, padding, crop="end")),
     ("no_gap_after_last_stamp", "the gap after the last stamp is missing (stride > kernel)", (
         "Try a kernel smaller than the stride: Keras keeps (n - 1) * s + max(k, s) pixels.",
     ), lambda x, k, s=1, padding="valid": _transpose_numpy_reference(x, k, s, padding, crop="none")
         if padding == "valid" else _transpose_numpy_reference(x, k, s, padding)),
     ("kernel_layout", "the kernel's channel axes are swapped", (
         "The Keras Conv2DTranspose kernel is (kh, kw, C_out, C_in): the last axis matches the input.",
     ), lambda x, k, s=1, padding="valid": _transpose_numpy_reference(
         x, np.swapaxes(np.asarray(k), 2, 3), s, padding))],
    ("Scatter-add: input pixel (i, j) adds inputs[:, i, j] @ kernel into the output at rows "
     "i*s .. i*s+kh-1 and columns j*s .. j*s+kw-1; then crop for the padding.",),
    rtol=1e-5, atol=1e-6)


def check_conv2d_transpose_numpy(conv2d_transpose_numpy, assignment=None, quiet=False):
    """Check ``conv2d_transpose_numpy(inputs, kernel, strides=1, padding="valid")`` against
    a scatter-add reference equal to Keras' Conv2DTranspose(use_bias=False).

    Diagnoses: 'same' not cropped or cropped at the end only, the missing gap for
    stride > kernel, swapped kernel channel axes.
    """
    return _run_check(_TRANSPOSE_NUMPY_CHECK, conv2d_transpose_numpy, assignment, quiet)
