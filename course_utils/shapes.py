"""Output-size arithmetic of convolution, pooling and transposed convolution.

Pure Python (no Keras import), so you can check the sizes of a network on paper
before building it. All sizes are in pixels. The formulas follow Keras 3
(``keras.layers.Conv2D``, ``MaxPooling2D``/``AveragePooling2D`` and
``Conv2DTranspose``), and ``tests/course_utils/test_shapes.py`` checks them against the real
layers.

For one spatial dimension of size ``n``, kernel ``k``, stride ``s``, dilation
``d`` and padding ``p_before + p_after``::

    dilated kernel   k_eff = d * (k - 1) + 1
    convolution      out   = floor((n + p_before + p_after - k_eff) / s) + 1
    "same" padding   out   = ceil(n / s)
    transposed conv  out   = (n - 1) * s + k_eff - p_before - p_after + output_padding

Padding can be given as

- ``"valid"``: no padding,
- ``"same"``: Keras pads so that ``out = ceil(n / s)``,
- an int ``p``: ``p`` pixels on each side,
- a pair ``(before, after)``: e.g. ``(top, bottom)`` for the height.

The 2-D functions take and return ``(height, width, channels)`` shapes.
"""

import math
import numbers

__all__ = [
    "conv_output_size",
    "pool_output_size",
    "conv_transpose_output_size",
    "conv2d_output_shape",
    "pool2d_output_shape",
    "conv2d_transpose_output_shape",
]

_PADDING_STRINGS = ("valid", "same")


def _is_int(value):
    # Accepts NumPy integers too; bool is an int in Python but surely a mistake here.
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _check_positive_int(value, name):
    if not _is_int(value) or int(value) <= 0:
        raise ValueError(f"`{name}` must be a positive integer, got {value!r}.")
    return int(value)


def _check_padding(padding):
    """Returns ``"valid"``, ``"same"`` or a ``(before, after)`` pair of ints >= 0."""
    if isinstance(padding, str):
        padding_lower = padding.lower()
        if padding_lower not in _PADDING_STRINGS:
            raise ValueError(
                f"`padding` must be 'valid', 'same', an int or a pair "
                f"(before, after), got {padding!r}."
            )
        return padding_lower
    if _is_int(padding):
        before = after = int(padding)
    elif isinstance(padding, (tuple, list)) and len(padding) == 2 and all(
        _is_int(p) for p in padding
    ):
        before, after = (int(p) for p in padding)
    else:
        raise ValueError(
            f"`padding` must be 'valid', 'same', an int or a pair "
            f"(before, after) of ints, got {padding!r}."
        )
    if before < 0 or after < 0:
        raise ValueError(f"Explicit `padding` must be >= 0 pixels, got {padding!r}.")
    return before, after


def _dilated_kernel_size(kernel_size, dilation):
    return dilation * (kernel_size - 1) + 1


def _check_output_size(size, description):
    if size <= 0:
        raise ValueError(
            f"The output size would be {size} pixels ({description}); it must be "
            f"positive. Use less padding, a larger input or a larger kernel."
        )
    return size


def conv_output_size(input_size, kernel_size, stride=1, padding="valid", dilation=1):
    """Output size of a convolution along one spatial dimension.

    Args:
        input_size: Input size ``n`` in pixels, a positive int.
        kernel_size: Kernel size ``k`` in pixels, a positive int.
        stride: Step ``s`` of the kernel in pixels, a positive int.
        padding: ``"valid"`` (no padding), ``"same"`` (Keras: output
            ``ceil(n / s)``), an int ``p`` (``p`` zero pixels on each side) or a
            pair ``(before, after)`` of ints.
        dilation: Dilation rate ``d``, a positive int; the kernel then covers
            ``d * (k - 1) + 1`` pixels.

    Returns:
        The output size in pixels, an int:
        ``floor((n + before + after - k_eff) / s) + 1``, or ``ceil(n / s)`` for
        ``"same"``.

    Raises:
        ValueError: If a size, stride or dilation is not a positive int, the
            padding is not understood, or the dilated kernel is larger than the
            padded input (output size <= 0).

    Example:
        >>> conv_output_size(4, 3)  # 4x4 input, 3x3 filter -> 2x2
        2
        >>> conv_output_size(5, 3, stride=2, padding=1)
        3
    """
    return _sliding_window_output_size(
        input_size, kernel_size, stride, padding, dilation, window_name="kernel_size"
    )


def _sliding_window_output_size(
    input_size, window_size, stride, padding, dilation, window_name
):
    """Shared by convolution and pooling; ``window_name`` is used in errors."""
    n = _check_positive_int(input_size, "input_size")
    k = _check_positive_int(window_size, window_name)
    s = _check_positive_int(stride, "stride")
    d = _check_positive_int(dilation, "dilation")
    padding = _check_padding(padding)
    if padding == "same":
        return math.ceil(n / s)
    before, after = (0, 0) if padding == "valid" else padding
    k_eff = _dilated_kernel_size(k, d)
    padded = n + before + after
    if padded < k_eff:
        raise ValueError(
            f"The window covers {k_eff} pixels ({window_name}={k}, dilation={d}) "
            f"but the padded input has only {padded} pixels (input_size={n}, "
            f"padding {before}+{after}): the output would be empty. Use a larger "
            f"input, a smaller {window_name} or more padding."
        )
    return (padded - k_eff) // s + 1


def pool_output_size(input_size, pool_size, stride=None, padding="valid"):
    """Output size of a pooling layer along one spatial dimension.

    Pooling slides a window like a convolution without weights, so the
    arithmetic is the same as :func:`conv_output_size` with dilation 1.

    Args:
        input_size: Input size ``n`` in pixels, a positive int.
        pool_size: Window size in pixels, a positive int.
        stride: Step of the window in pixels; ``None`` means ``pool_size``
            (non-overlapping windows), as in Keras.
        padding: ``"valid"``, ``"same"``, an int or a pair ``(before, after)``,
            as in :func:`conv_output_size`.

    Returns:
        The output size in pixels, an int.

    Raises:
        ValueError: As :func:`conv_output_size`.

    Example:
        >>> pool_output_size(256, 2)  # a 2x2 max pooling halves the size
        128
    """
    if stride is None:
        stride = pool_size
    return _sliding_window_output_size(
        input_size, pool_size, stride, padding, dilation=1, window_name="pool_size"
    )


def conv_transpose_output_size(
    input_size,
    kernel_size,
    stride=1,
    padding="valid",
    output_padding=None,
    dilation=1,
):
    """Output size of a transposed convolution along one spatial dimension.

    Follows ``keras.layers.Conv2DTranspose`` exactly for ``"valid"`` and
    ``"same"``. With ``k_eff = dilation * (k - 1) + 1``:

    - ``"valid"``: ``(n - 1) * s + k_eff + output_padding``; with
      ``output_padding=None`` Keras uses ``max(k_eff, s) - k_eff``, so the
      output is ``(n - 1) * s + max(k_eff, s)``.
    - ``"same"``: ``n * s`` if ``output_padding`` is ``None``, otherwise
      ``(n - 1) * s + k_eff % 2 + output_padding``.
    - explicit padding (int or ``(before, after)``): the transpose of a
      convolution with that padding,
      ``(n - 1) * s + k_eff - before - after + output_padding`` with
      ``output_padding=None`` meaning 0.

    ``output_padding`` adds pixels at the end because a strided convolution
    maps several input sizes to the same output size; it picks one of them.

    Args:
        input_size: Input size ``n`` in pixels, a positive int.
        kernel_size: Kernel size ``k`` in pixels, a positive int.
        stride: Up-sampling factor ``s`` in pixels, a positive int.
        padding: ``"valid"``, ``"same"``, an int or a pair ``(before, after)``.
        output_padding: ``None`` or an int with ``0 <= output_padding < stride``.
        dilation: Dilation rate, a positive int.

    Returns:
        The output size in pixels, an int.

    Raises:
        ValueError: If a size, stride or dilation is not a positive int, the
            padding is not understood, ``output_padding`` is negative or not
            smaller than ``stride``, or the output size would be <= 0.

    Example:
        >>> conv_transpose_output_size(2, 3)  # 2x2 input, 3x3 filter -> 4x4
        4
        >>> conv_transpose_output_size(2, 3, stride=2)
        5
    """
    n = _check_positive_int(input_size, "input_size")
    k = _check_positive_int(kernel_size, "kernel_size")
    s = _check_positive_int(stride, "stride")
    d = _check_positive_int(dilation, "dilation")
    padding = _check_padding(padding)
    if output_padding is not None:
        if not _is_int(output_padding) or not 0 <= int(output_padding) < s:
            raise ValueError(
                f"`output_padding` must be an int with 0 <= output_padding < "
                f"stride={s}, got {output_padding!r}."
            )
        output_padding = int(output_padding)
    k_eff = _dilated_kernel_size(k, d)

    if padding == "valid":
        if output_padding is None:
            output_padding = max(k_eff, s) - k_eff
        size = (n - 1) * s + k_eff + output_padding
    elif padding == "same":
        if output_padding is None:
            size = n * s
        else:
            size = (n - 1) * s + k_eff % 2 + output_padding
    else:
        before, after = padding
        if output_padding is None:
            output_padding = 0
        size = (n - 1) * s + k_eff - before - after + output_padding
    return _check_output_size(
        size,
        f"input {n}, kernel {k} (dilated {k_eff}), stride {s}, "
        f"padding {padding!r}, output_padding {output_padding!r}",
    )


def _pair(value, name):
    """Turns an int or a pair of ints into a ``(height, width)`` pair."""
    if _is_int(value):
        return int(value), int(value)
    if isinstance(value, (tuple, list)) and len(value) == 2:
        return tuple(value)
    raise ValueError(
        f"`{name}` must be an int or a pair (height, width), got {value!r}."
    )


def _padding_pair(padding):
    """Splits a 2-D padding into the padding of the height and of the width.

    ``"valid"``/``"same"`` apply to both; an int ``p`` pads every side by ``p``;
    ``(ph, pw)`` pads top and bottom by ``ph``, left and right by ``pw``;
    ``((top, bottom), (left, right))`` gives every side (as in
    ``keras.layers.ZeroPadding2D``).
    """
    if isinstance(padding, str) or _is_int(padding):
        return padding, padding
    if isinstance(padding, (tuple, list)) and len(padding) == 2:
        return padding[0], padding[1]
    raise ValueError(
        f"`padding` must be 'valid', 'same', an int, a pair (ph, pw) or "
        f"((top, bottom), (left, right)), got {padding!r}."
    )


def _check_input_shape(input_shape):
    if not isinstance(input_shape, (tuple, list)) or len(input_shape) != 3:
        raise ValueError(
            f"`input_shape` must be (height, width, channels) without the batch "
            f"dimension, got {input_shape!r}."
        )
    height, width, channels = input_shape
    _check_positive_int(height, "input_shape height")
    _check_positive_int(width, "input_shape width")
    _check_positive_int(channels, "input_shape channels")
    return int(height), int(width), int(channels)


def _conv_layer_arguments(input_shape, filters, kernel_size, strides, dilation_rate):
    """The checked arguments of a 2-D (transposed) convolution layer: ``height, width,
    filters`` (ints) and the ``(kh, kw)``, ``(sh, sw)``, ``(dh, dw)`` pairs."""
    height, width, _ = _check_input_shape(input_shape)
    return (
        height,
        width,
        _check_positive_int(filters, "filters"),
        _pair(kernel_size, "kernel_size"),
        _pair(strides, "strides"),
        _pair(dilation_rate, "dilation_rate"),
    )


def conv2d_output_shape(
    input_shape, filters, kernel_size, strides=1, padding="valid", dilation_rate=1
):
    """Output shape of a 2-D convolution (``keras.layers.Conv2D``).

    Args:
        input_shape: ``(height, width, channels)`` of one image, without the
            batch dimension.
        filters: Number of output channels, a positive int.
        kernel_size: Kernel size in pixels, an int or ``(kh, kw)``.
        strides: Stride in pixels, an int or ``(sh, sw)``.
        padding: ``"valid"``, ``"same"``, an int (every side), ``(ph, pw)``
            (top/bottom ``ph``, left/right ``pw``) or
            ``((top, bottom), (left, right))``, as ``keras.layers.ZeroPadding2D``.
        dilation_rate: Dilation rate, an int or ``(dh, dw)``.

    Returns:
        ``(height, width, filters)`` of the output.

    Raises:
        ValueError: For bad arguments or an output size <= 0.

    Example:
        >>> conv2d_output_shape((5, 5, 1), 8, 3, strides=2)
        (2, 2, 8)
    """
    height, width, filters, (kh, kw), (sh, sw), (dh, dw) = _conv_layer_arguments(
        input_shape, filters, kernel_size, strides, dilation_rate
    )
    pad_h, pad_w = _padding_pair(padding)
    return (
        conv_output_size(height, kh, sh, pad_h, dh),
        conv_output_size(width, kw, sw, pad_w, dw),
        filters,
    )


def pool2d_output_shape(input_shape, pool_size, strides=None, padding="valid"):
    """Output shape of 2-D pooling (``MaxPooling2D``, ``AveragePooling2D``).

    Args:
        input_shape: ``(height, width, channels)`` of one image.
        pool_size: Window size in pixels, an int or ``(ph, pw)``.
        strides: Stride in pixels, an int, a pair or ``None`` (= ``pool_size``).
        padding: As in :func:`conv2d_output_shape`.

    Returns:
        ``(height, width, channels)`` of the output; pooling keeps the channels.

    Raises:
        ValueError: For bad arguments or an output size <= 0.

    Example:
        >>> pool2d_output_shape((256, 256, 64), 2)
        (128, 128, 64)
    """
    height, width, channels = _check_input_shape(input_shape)
    ph, pw = _pair(pool_size, "pool_size")
    sh, sw = (ph, pw) if strides is None else _pair(strides, "strides")
    pad_h, pad_w = _padding_pair(padding)
    return (
        pool_output_size(height, ph, sh, pad_h),
        pool_output_size(width, pw, sw, pad_w),
        channels,
    )


def conv2d_transpose_output_shape(
    input_shape,
    filters,
    kernel_size,
    strides=1,
    padding="valid",
    output_padding=None,
    dilation_rate=1,
):
    """Output shape of a 2-D transposed convolution (``Conv2DTranspose``).

    Args:
        input_shape: ``(height, width, channels)`` of one image.
        filters: Number of output channels, a positive int.
        kernel_size: Kernel size in pixels, an int or ``(kh, kw)``.
        strides: Up-sampling factor, an int or ``(sh, sw)``.
        padding: As in :func:`conv2d_output_shape`; see
            :func:`conv_transpose_output_size` for what each choice means.
        output_padding: ``None``, an int or ``(oh, ow)``; each value must be
            smaller than its stride.
        dilation_rate: Dilation rate, an int or ``(dh, dw)``.

    Returns:
        ``(height, width, filters)`` of the output.

    Raises:
        ValueError: For bad arguments or an output size <= 0.

    Example:
        >>> conv2d_transpose_output_shape((2, 2, 1), 1, 3, strides=2)
        (5, 5, 1)
    """
    height, width, filters, (kh, kw), (sh, sw), (dh, dw) = _conv_layer_arguments(
        input_shape, filters, kernel_size, strides, dilation_rate
    )
    if output_padding is None:
        oh = ow = None
    else:
        oh, ow = _pair(output_padding, "output_padding")
    pad_h, pad_w = _padding_pair(padding)
    return (
        conv_transpose_output_size(height, kh, sh, pad_h, oh, dh),
        conv_transpose_output_size(width, kw, sw, pad_w, ow, dw),
        filters,
    )
