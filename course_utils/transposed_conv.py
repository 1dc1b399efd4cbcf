"""Transposed convolution in NumPy: two views of the same operation.

A reference for teaching and for testing; it follows
``keras.layers.Conv2DTranspose(..., use_bias=False)`` exactly, but is slow
(Python loops over pixels). Kernels use the Keras layouts:

- ``Conv2D``:          ``(kh, kw, c_in, c_out)``
- ``Conv2DTranspose``: ``(kh, kw, c_out, c_in)``, i.e. the kernel of the
  ordinary convolution that maps ``c_out`` channels back to ``c_in``.

Images are ``(height, width, channels)`` or ``(batch, height, width, channels)``.

The two views (lecture: "Transposed Convolution", "Comparing Convolutions"):

1. Scatter-add (:func:`conv2d_transpose_scatter`): every input pixel multiplies
   the whole kernel, and the result is added into the output at a position
   that moves by ``stride`` pixels per input pixel. Where the stamped kernels
   overlap, their contributions add up. Finally the border is cropped
   (padding) and zeros are appended if needed (output padding).
2. Matrix (:func:`conv2d_transpose_matrix`): write the ordinary convolution
   from the (large) output image to the (small) input image as a matrix ``C``,
   ``conv(x) = C @ x.ravel()``. The transposed convolution is ``C.T @ y.ravel()``.
   This is why "conv in the forward pass becomes transposed conv in the
   backward pass": the gradient of ``C @ x`` with respect to ``x`` is ``C.T``
   applied to the incoming gradient.

Output size and cropping along one axis, with input size ``n``, kernel ``k``,
stride ``s`` (``course_utils.shapes.conv_transpose_output_size`` gives the
size ``out``)::

    full   = (n - 1) * s + k          # size after scatter-adding all kernels
    output = full[crop_before : crop_before + out], zeros appended if short

    "valid":  crop_before = 0 (output_padding=None gives
              out = (n - 1) * s + max(k, s): zeros at the end when s > k)
    "same":   crop_before = max(full - out, 0) // 2
    int p:    crop_before = p

So for ``"same"`` the cropped pixels are split like TensorFlow's ``"SAME"``
padding of the matching convolution: the smaller half at the beginning
(top/left), the extra pixel of an odd total at the end (bottom/right). Example:
kernel 4, stride 2 crops 1 pixel on each side; kernel 2, stride 1 crops 0 at
the top and 1 at the bottom.

Note: with ``padding="same"``, an even kernel and ``output_padding=0``, Keras on
TensorFlow raises an error (the convolution of the output would not give back
the input size); these functions still compute the result with the rule above.
"""

import numbers

import numpy as np

from course_utils.shapes import conv_output_size, conv_transpose_output_size

__all__ = [
    "conv2d_transpose_scatter",
    "conv2d_transpose_matrix",
    "convolution_matrix",
    "conv2d_valid_numpy",
]


def _is_int(value):
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _pair(value, name, allow_none=False):
    """``(height, width)`` from an int or a pair of ints (or ``None``)."""
    if value is None and allow_none:
        return None, None
    if _is_int(value):
        return int(value), int(value)
    if (
        isinstance(value, (tuple, list))
        and len(value) == 2
        and all(_is_int(v) or (allow_none and v is None) for v in value)
    ):
        return tuple(None if v is None else int(v) for v in value)
    allowed = "an int or a pair (height, width) of ints"
    if allow_none:
        allowed = "None, " + allowed
    raise ValueError(f"`{name}` must be {allowed}, got {value!r}.")


def _check_strides(strides):
    sh, sw = _pair(strides, "strides")
    if sh <= 0 or sw <= 0:
        raise ValueError(f"`strides` must be positive, got {strides!r}.")
    return sh, sw


def _check_padding(padding):
    """``"valid"``, ``"same"`` or an int >= 0 (the same on every side)."""
    if isinstance(padding, str) and padding.lower() in ("valid", "same"):
        return padding.lower()
    if _is_int(padding) and padding >= 0:
        return int(padding)
    raise ValueError(
        f"`padding` must be 'valid', 'same' or an int >= 0, got {padding!r}."
    )


def _as_batch(inputs, name="inputs"):
    """Returns ``(batched float array, was_batched)`` for a 3-D or 4-D image."""
    inputs = np.asarray(inputs)
    if inputs.ndim == 3:
        return inputs[np.newaxis], False
    if inputs.ndim == 4:
        return inputs, True
    raise ValueError(
        f"`{name}` must have shape (height, width, channels) or (batch, height, "
        f"width, channels), got shape {inputs.shape}."
    )


def _batch_and_kernel(inputs, kernel, layer, transposed):
    """``(batch, was_batched, kernel)``: the inputs as a batch (see ``_as_batch``) and the
    kernel as an array, checked to be 4-D in ``layer``'s layout, ``(kh, kw, c_out, c_in)``
    if ``transposed`` else ``(kh, kw, c_in, c_out)``, with the inputs' ``c_in``."""
    batch, was_batched = _as_batch(inputs)
    kernel = np.asarray(kernel)
    layout, in_axis, axis_name = (
        ("(kh, kw, c_out, c_in)", 3, "last") if transposed else ("(kh, kw, c_in, c_out)", 2, "third")
    )
    if kernel.ndim != 4:
        raise ValueError(f"`kernel` must have the {layer} layout {layout}, got shape {kernel.shape}.")
    if kernel.shape[in_axis] != batch.shape[3]:
        raise ValueError(
            f"`kernel` has c_in={kernel.shape[in_axis]} input channels ({axis_name} axis of "
            f"{layout}) but `inputs` has {batch.shape[3]} channels."
        )
    return batch, was_batched, kernel


def _transpose_geometry(n, k, s, padding, output_padding):
    """Output size and number of pixels cropped at the start, for one axis."""
    out = conv_transpose_output_size(
        n, k, stride=s, padding=padding, output_padding=output_padding
    )
    full = (n - 1) * s + k
    if padding == "valid":
        crop_before = 0
    elif padding == "same":
        # TensorFlow's "SAME" rule: the smaller half of the padding comes first.
        crop_before = max(full - out, 0) // 2
    else:
        crop_before = padding
    return out, crop_before


def _prepare_transpose(inputs, kernel, strides, padding, output_padding):
    """Checks the arguments of both transposed-convolution views."""
    batch, was_batched, kernel = _batch_and_kernel(inputs, kernel, "Conv2DTranspose", transposed=True)
    sh, sw = _check_strides(strides)
    padding = _check_padding(padding)
    op_h, op_w = _pair(output_padding, "output_padding", allow_none=True)
    kh, kw = kernel.shape[:2]
    out_h, crop_h = _transpose_geometry(batch.shape[1], kh, sh, padding, op_h)
    out_w, crop_w = _transpose_geometry(batch.shape[2], kw, sw, padding, op_w)
    return batch, was_batched, kernel, (sh, sw), (out_h, out_w), (crop_h, crop_w)


def conv2d_transpose_scatter(
    inputs, kernel, strides=1, padding="valid", output_padding=None
):
    """Transposed convolution as "scatter-add" of the kernel (NumPy reference).

    Every input pixel ``inputs[y, x]`` (a vector of ``c_in`` values) is
    multiplied with the kernel, giving a ``(kh, kw, c_out)`` patch, which is
    added into the output with its top-left corner at
    ``(y * stride_h, x * stride_w)``. Overlapping patches add up. The result,
    of size ``(h - 1) * stride + k``, is then cropped for ``padding`` and
    zero-extended at the end for ``output_padding`` (see the module docstring).

    Equals ``keras.layers.Conv2DTranspose(c_out, (kh, kw), strides, padding,
    output_padding=output_padding, use_bias=False)`` after
    ``layer.set_weights([kernel])``.

    Args:
        inputs: Array of shape ``(h, w, c_in)`` or ``(batch, h, w, c_in)``.
        kernel: Array of shape ``(kh, kw, c_out, c_in)`` (Keras
            ``Conv2DTranspose`` layout).
        strides: Up-sampling factor, an int or ``(stride_h, stride_w)``.
        padding: ``"valid"``, ``"same"`` (output ``h * stride`` when
            ``output_padding`` is ``None``) or an int ``p`` (crop ``p`` pixels
            on every side, the transpose of a convolution with padding ``p``).
        output_padding: ``None``, an int or a pair; each value must be smaller
            than its stride. Extra pixels at the bottom/right, as in Keras.

    Returns:
        Array of shape ``(out_h, out_w, c_out)``, or
        ``(batch, out_h, out_w, c_out)`` for a batched input, with ``out_h``
        given by ``course_utils.shapes.conv_transpose_output_size``.

    Raises:
        ValueError: For inputs that are not 3-D/4-D, a kernel that is not 4-D
            or whose ``c_in`` does not match the input channels, bad strides,
            padding or output padding.

    Example:
        >>> x = np.ones((2, 2, 1))
        >>> conv2d_transpose_scatter(x, np.ones((3, 3, 1, 1)))[..., 0]
        array([[1., 2., 2., 1.],
               [2., 4., 4., 2.],
               [2., 4., 4., 2.],
               [1., 2., 2., 1.]])
    """
    batch, was_batched, kernel, (sh, sw), (out_h, out_w), (crop_h, crop_w) = (
        _prepare_transpose(inputs, kernel, strides, padding, output_padding)
    )
    n_batch, h, w, _ = batch.shape
    kh, kw, c_out, _ = kernel.shape
    dtype = np.result_type(batch.dtype, kernel.dtype, np.float32)
    full = np.zeros((n_batch, (h - 1) * sh + kh, (w - 1) * sw + kw, c_out), dtype)
    for y in range(h):
        for x in range(w):
            # (batch, c_in) x (kh, kw, c_out, c_in) -> one kernel stamp per image.
            stamp = np.einsum("bi,uvoi->buvo", batch[:, y, x, :], kernel)
            full[:, y * sh : y * sh + kh, x * sw : x * sw + kw, :] += stamp
    # Crop for padding; zeros at the end where the output is larger (output padding).
    output = np.zeros((n_batch, out_h, out_w, c_out), dtype)
    kept = full[:, crop_h : crop_h + out_h, crop_w : crop_w + out_w, :]
    output[:, : kept.shape[1], : kept.shape[2], :] = kept
    return output if was_batched else output[0]


def _convolution_matrix(input_hw, output_hw, kernel, strides, pad_before):
    """Dense matrix of a convolution, all channels.

    ``kernel`` has the Conv2D layout ``(kh, kw, c_in, c_out)``. Returns ``C`` of
    shape ``(out_h * out_w * c_out, in_h * in_w * c_in)`` such that the
    convolution of an image ``x`` of shape ``(in_h, in_w, c_in)`` (zero-padded
    by ``pad_before`` pixels at the top/left, and as many as needed at the
    bottom/right) is ``(C @ x.ravel()).reshape(out_h, out_w, c_out)``.
    """
    in_h, in_w = input_hw
    out_h, out_w = output_hw
    kh, kw, c_in, c_out = kernel.shape
    sh, sw = strides
    pad_top, pad_left = pad_before
    matrix = np.zeros(
        (out_h, out_w, c_out, in_h, in_w, c_in), np.result_type(kernel, np.float32)
    )
    for y in range(out_h):
        for x in range(out_w):
            for ky in range(kh):
                for kx in range(kw):
                    # Pixel of the unpadded input under kernel tap (ky, kx).
                    row, col = y * sh + ky - pad_top, x * sw + kx - pad_left
                    # Taps on padding zeros contribute nothing: no entry.
                    if 0 <= row < in_h and 0 <= col < in_w:
                        matrix[y, x, :, row, col, :] += kernel[ky, kx].T
    return matrix.reshape(out_h * out_w * c_out, in_h * in_w * c_in)


def conv2d_transpose_matrix(
    inputs, kernel, strides=1, padding="valid", output_padding=None
):
    """Transposed convolution as multiplication with ``C.T`` (NumPy reference).

    ``C`` is the matrix of the ordinary convolution that maps an output-sized
    image (``(out_h, out_w, c_out)``, flattened) to an input-sized one
    (``(h, w, c_in)``, flattened) with the same kernel, strides and padding.
    The transposed convolution applies ``C.T`` to the flattened input: the
    same matrix read backwards, which is exactly what back-propagation does
    with the gradient of a convolution. Gives the same result as
    :func:`conv2d_transpose_scatter`.

    Args:
        inputs: Array of shape ``(h, w, c_in)`` or ``(batch, h, w, c_in)``.
        kernel: Array of shape ``(kh, kw, c_out, c_in)`` (Keras
            ``Conv2DTranspose`` layout).
        strides: Up-sampling factor, an int or ``(stride_h, stride_w)``.
        padding: ``"valid"``, ``"same"`` or an int ``p``.
        output_padding: ``None``, an int or a pair, each smaller than its stride.

    Returns:
        Array of shape ``(out_h, out_w, c_out)``, or
        ``(batch, out_h, out_w, c_out)`` for a batched input.

    Raises:
        ValueError: As :func:`conv2d_transpose_scatter`.
    """
    batch, was_batched, kernel, (sh, sw), (out_h, out_w), (crop_h, crop_w) = (
        _prepare_transpose(inputs, kernel, strides, padding, output_padding)
    )
    n_batch, h, w, _ = batch.shape
    c_out = kernel.shape[2]
    # The Conv2DTranspose kernel (kh, kw, c_out, c_in) is the Conv2D kernel of
    # the convolution from c_out to c_in channels; the crop is its padding.
    matrix = _convolution_matrix(
        (out_h, out_w), (h, w), kernel, (sh, sw), (crop_h, crop_w)
    )
    flat = batch.reshape(n_batch, -1)  # (batch, h * w * c_in)
    output = (matrix.T @ flat.T).T  # C.T applied to every image
    output = output.reshape(n_batch, out_h, out_w, c_out)
    return output if was_batched else output[0]


def convolution_matrix(input_hw, kernel, strides=1, padding="valid"):
    """The matrix ``C`` of an ordinary single-channel 2-D convolution.

    Flatten the input image row by row into a vector of ``in_h * in_w``
    values. Each output pixel is a weighted sum of input pixels, so the whole
    convolution is one matrix product::

        conv(x).ravel() == C @ x.ravel()

    Row ``i`` of ``C`` belongs to output pixel ``i`` (row-major) and holds the
    kernel weights at the columns of the input pixels under the kernel, zeros
    elsewhere. Taps that fall on padding zeros have no column. ``C.T`` maps an
    output-sized image back to the input size: that is the transposed
    convolution with the same kernel, strides and padding.

    Args:
        input_hw: ``(in_h, in_w)``, the size of the image the convolution reads.
        kernel: Array of shape ``(kh, kw)``, one input and one output channel.
        strides: An int or ``(stride_h, stride_w)``.
        padding: ``"valid"``, ``"same"`` (TensorFlow's rule: output
            ``ceil(in / stride)``, the smaller half of the padding at the
            top/left) or an int ``p`` (``p`` zeros on every side).

    Returns:
        Array ``C`` of shape ``(out_h * out_w, in_h * in_w)``, where
        ``out_h, out_w`` follow ``course_utils.shapes.conv_output_size``.

    Raises:
        ValueError: For a kernel that is not 2-D, bad sizes, strides or padding,
            or a kernel larger than the padded input.

    Example:
        >>> convolution_matrix((4, 4), np.ones((3, 3))).shape  # 4x4 -> 2x2
        (4, 16)
    """
    in_h, in_w = _pair(input_hw, "input_hw")
    kernel = np.asarray(kernel)
    if kernel.ndim != 2:
        raise ValueError(
            f"`kernel` must have shape (kh, kw) (one channel), got shape "
            f"{kernel.shape}."
        )
    sh, sw = _check_strides(strides)
    padding = _check_padding(padding)
    kh, kw = kernel.shape
    out_h = conv_output_size(in_h, kh, sh, padding)
    out_w = conv_output_size(in_w, kw, sw, padding)
    if padding == "valid":
        pad_before = (0, 0)
    elif padding == "same":
        pad_before = (
            max((out_h - 1) * sh + kh - in_h, 0) // 2,
            max((out_w - 1) * sw + kw - in_w, 0) // 2,
        )
    else:
        pad_before = (padding, padding)
    return _convolution_matrix(
        (in_h, in_w), (out_h, out_w), kernel[:, :, None, None], (sh, sw), pad_before
    )


def conv2d_valid_numpy(inputs, kernel, strides=1):
    """Ordinary 2-D convolution without padding (NumPy reference).

    As ``keras.layers.Conv2D(c_out, (kh, kw), strides, padding="valid",
    use_bias=False)``: a cross-correlation, the kernel is not flipped.

    Args:
        inputs: Array of shape ``(h, w, c_in)`` or ``(batch, h, w, c_in)``.
        kernel: Array of shape ``(kh, kw, c_in, c_out)`` (Keras ``Conv2D``
            layout).
        strides: An int or ``(stride_h, stride_w)``.

    Returns:
        Array of shape ``(out_h, out_w, c_out)`` (or with a batch axis) with
        ``out_h = (h - kh) // stride_h + 1``.

    Raises:
        ValueError: For inputs that are not 3-D/4-D, a kernel that is not 4-D
            or whose ``c_in`` does not match, bad strides, or a kernel larger
            than the input.
    """
    batch, was_batched, kernel = _batch_and_kernel(inputs, kernel, "Conv2D", transposed=False)
    sh, sw = _check_strides(strides)
    kh, kw, _, c_out = kernel.shape
    n_batch, h, w, _ = batch.shape
    out_h = conv_output_size(h, kh, sh)
    out_w = conv_output_size(w, kw, sw)
    output = np.zeros(
        (n_batch, out_h, out_w, c_out), np.result_type(batch, kernel, np.float32)
    )
    for y in range(out_h):
        for x in range(out_w):
            window = batch[:, y * sh : y * sh + kh, x * sw : x * sw + kw, :]
            output[:, y, x, :] = np.einsum("buvi,uvio->bo", window, kernel)
    return output if was_batched else output[0]
