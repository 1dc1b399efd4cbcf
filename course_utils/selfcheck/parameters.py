"""Self-checks of the parameter counts (convolution, transposed convolution, dense layer)
and of the skip FCN's table of shapes and parameters.

Assignment ``dimensions``.
"""

import numpy as np

from .engine import (
    _Case,
    _int_values_right,
    _is_int,
    _run_check,
    _variant_check,
)

__all__ = ["check_conv2d_params", "check_conv2d_transpose_params", "check_dense_params", "check_skip_fcn_table"]


def _kernel_area(kernel_size):
    if isinstance(kernel_size, (int, np.integer)):
        return int(kernel_size) ** 2
    return int(kernel_size[0]) * int(kernel_size[1])


def _conv_params_reference(kernel_size, in_channels, filters, use_bias=True):
    return _kernel_area(kernel_size) * in_channels * filters + (filters if use_bias else 0)


_PARAM_CASES = [
    _Case("the notebook's conv2d_params(4, in_channels=40, filters=80)", (4, 40, 80), public=True),
    _Case("3x3, 1 -> 40 channels", (3, 1, 40)),
    _Case("kernel (3, 5), 7 -> 2 channels", ((3, 5), 7, 2)),
    _Case("1x1, 160 -> 4 channels, no bias", (1, 160, 4, False)),
]

_PARAM_VARIANTS = [
    ("forget_in_channels", "the input channels are missing", (
        "A filter has one kh x kw kernel per input channel.",
        "weights = kh * kw * in_channels * filters.",
    ), lambda k, i, f, use_bias=True: _kernel_area(k) * f + (f if use_bias else 0)),
    ("always_bias", "use_bias=False still counts a bias", (
        "Look at the case without bias.",
        "Add filters biases only if use_bias is True.",
    ), lambda k, i, f, use_bias=True: _kernel_area(k) * i * f + f),
    ("bias_per_input", "one bias per input channel instead of per filter", (
        "Each filter (output channel) has one bias.",
    ), lambda k, i, f, use_bias=True: _kernel_area(k) * i * f + (i if use_bias else 0)),
    ("square_kernel_only", "a (kh, kw) kernel is not handled", (
        "kernel_size may be an int or a pair (kh, kw): handle both.",
    ), lambda k, i, f, use_bias=True: (k if isinstance(k, int) else k[0]) ** 2 * i * f + (f if use_bias else 0)),
]


def _params_check(name):
    return _variant_check(name, _PARAM_CASES, _conv_params_reference, _PARAM_VARIANTS,
                          ("Count the weights (kh * kw * in_channels * filters) and the biases "
                           "(filters, if use_bias) separately.",),
                          output_ok=_is_int, extra_mistakes=[_int_values_right()])


_CONV_PARAMS_CHECK = _params_check("conv2d_params")
_CONV_TRANSPOSE_PARAMS_CHECK = _params_check("conv2d_transpose_params")


def check_conv2d_params(conv2d_params, assignment=None, quiet=False):
    """Check ``conv2d_params(kernel_size, in_channels, filters, use_bias=True)``."""
    return _run_check(_CONV_PARAMS_CHECK, conv2d_params, assignment, quiet)


def check_conv2d_transpose_params(conv2d_transpose_params, assignment=None, quiet=False):
    """Check ``conv2d_transpose_params(kernel_size, in_channels, filters, use_bias=True)``
    (the same count as a convolution: the kernel is only used the other way round)."""
    return _run_check(_CONV_TRANSPOSE_PARAMS_CHECK, conv2d_transpose_params, assignment, quiet)


_DENSE_CHECK = _variant_check(
    "dense_params",
    [_Case("the notebook's dense_params(1280, 100)", (1280, 100), public=True), _Case("10 -> 3", (10, 3)),
     _Case("7 -> 5, no bias", (7, 5, False))],
    lambda i, u, use_bias=True: i * u + (u if use_bias else 0),
    [("always_bias", "use_bias=False still counts a bias", (
        "Add units biases only if use_bias is True.",
    ), lambda i, u, use_bias=True: i * u + u),
     ("bias_per_input", "one bias per input instead of per unit", (
         "Each unit has one bias.",
     ), lambda i, u, use_bias=True: i * u + (i if use_bias else 0))],
    ("in_features * units weights, plus units biases if use_bias.",),
    output_ok=_is_int, extra_mistakes=[_int_values_right()])


def check_dense_params(dense_params, assignment=None, quiet=False):
    """Check ``dense_params(in_features, units, use_bias=True)``."""
    return _run_check(_DENSE_CHECK, dense_params, assignment, quiet)


def _skip_table_reference(height, width, num_classes, in_channels=1, decoder="upscaling",
                          fuse_channels="both"):
    """(name, (h, w, c), params) rows of the slide's skip FCN; ``fuse_channels``: 'first'
    and ``decoder`` switches reproduce mistakes."""
    rows, shape = [], {}

    def add(name, hwc, params):
        shape[name] = hwc
        rows.append((name, hwc, params))

    def conv(name, source, filters, kernel):
        h, w, c = shape[source] if source else (height, width, in_channels)
        add(name, (h, w, filters), kernel * kernel * c * filters + filters)

    def pool(name, source):
        h, w, c = shape[source]
        add(name, (h // 2, w // 2, c), 0)

    def up(name, source, filters):
        h, w, c = shape[source]
        if decoder == "upscaling":
            add(name, (2 * h, 2 * w, c), 0)
        else:
            add(name, (2 * h, 2 * w, filters), 9 * c * filters + filters)

    def fuse(name, first, second):
        h, w, c1 = shape[first]
        add(name, (h, w, c1 + (shape[second][2] if fuse_channels == "both" else 0)), 0)

    conv("conv1", None, 40, 3)
    pool("pool1", "conv1")
    conv("conv2", "pool1", 80, 4)
    pool("pool2", "conv2")
    conv("conv3", "pool2", 80, 4)
    pool("pool3", "conv3")
    conv("fc4", "pool3", 160, 1)
    conv("fc5", "fc4", 160, 1)
    for up_name, source, filters, fuse_name, skip in (("up1", "fc5", 80, "fuse2", "conv3"),
                                                      ("up2", "fuse2", 80, "fuse3", "conv2"),
                                                      ("up3", "fuse3", 40, "fuse4", "conv1")):
        up(up_name, source, filters)
        fuse(fuse_name, up_name, skip)
    conv("logits", "fuse4", num_classes, 1)
    add("softmax", shape["logits"], 0)
    return rows


def _table_numbers(rows):
    """A table as an int array (rows, 4): h, w, c, params; the output itself if it has
    another form (then it fails the comparison and the message shows what it is)."""
    try:
        return np.array([[*(int(v) for v in hwc), int(params)] for _, hwc, params in rows])
    except (TypeError, ValueError):
        return rows


def _table_check_variant(table_function):
    return lambda *args: _table_numbers(table_function(*args))


_SKIP_TABLE_CHECK = _variant_check(
    "skip_fcn_table",
    [_Case("a 64 x 64 page, 4 classes, up-scaling decoder", (64, 64, 4)),
     _Case("a 48 x 80 page, 3 classes, 2 channels", (48, 80, 3, 2)),
     _Case("a 64 x 64 page, 4 classes, transposed decoder", (64, 64, 4, 1, "transposed")),
     _Case("a 32 x 24 page, 2 classes, 3 channels, transposed decoder", (32, 24, 2, 3, "transposed"))],
    _table_check_variant(_skip_table_reference),
    [("transposed_as_upscaling", "decoder='transposed' gives the up-scaling table", (
        "Compare the rows up1, up2, up3 of both decoders: a transposed convolution has "
        "filters and parameters.",
        "Conv2DTranspose(filters, 3, strides=2, padding='same'): output filters channels, "
        "9 * in_channels * filters + filters parameters.",
    ), _table_check_variant(lambda h, w, k, c=1, decoder="upscaling": _skip_table_reference(h, w, k, c))),
     ("fuse_keeps_first_channels", "a concatenation keeps only the channels of its first input", (
         "Concatenation joins the channel axis: the channels add up.",
         "fuse = (h, w, c_up + c_skip), no parameters.",
     ), _table_check_variant(lambda h, w, k, c=1, decoder="upscaling": _skip_table_reference(
         h, w, k, c, decoder, "first")))],
    ("Go through the slide's layers in order: conv1, pool1, conv2, pool2, conv3, pool3, fc4, "
     "fc5, then up / fuse three times, logits, softmax: 16 rows of (name, (h, w, c), params).",))


def check_skip_fcn_table(skip_fcn_table, assignment=None, quiet=False):
    """Check ``skip_fcn_table(height, width, num_classes, in_channels=1, decoder="upscaling")``
    (the shapes and parameter counts of its 16 rows).

    Diagnoses: the transposed decoder computed as the up-scaling one, concatenations that
    keep only the first input's channels.
    """
    return _run_check(_SKIP_TABLE_CHECK, _table_check_variant(skip_fcn_table), assignment, quiet)
