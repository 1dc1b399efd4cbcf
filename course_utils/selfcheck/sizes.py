"""Self-checks of the output sizes: convolution, transposed convolution, pooling, up-scaling,
the FCN's layer shapes, the bottleneck and decoded shapes, and padding to a multiple.

Assignments ``fcn_basics`` and ``dimensions``.
"""


from course_utils import shapes

from .engine import (
    _accepts,
    _Case,
    _Check,
    _int_values_right,
    _is_int,
    _matches,
    _Mistake,
    _Raised,
    _run_check,
    _values_right,
    _variant_check,
)

__all__ = ["check_conv_output_size", "check_conv_transpose_output_size", "check_fcn_upscaling_shapes",
           "check_pool_output_size", "check_upscaling_output_size", "check_bottleneck_shape", "check_decoded_shape",
           "check_padded_size"]


def _conv_size_reference(n, k, s=1, padding="valid"):
    return shapes.conv_output_size(n, k, stride=s, padding=padding)


def _conv_size_variant(valid, same):
    def variant(n, k, s=1, padding="valid"):
        return valid(n, k, s) if padding == "valid" else same(n, k, s)

    return variant


_CONV_CASES = [
    _Case("slide 'Standard': 4x4 input, 3x3 filter, stride 1, 'valid'", (4, 3, 1, "valid"), public=True),
    _Case("slide 'Stride': 5x5 input, 3x3 filter, stride 2, 'valid'", (5, 3, 2, "valid"), public=True),
    _Case("slide 'Padding': 5x5 input, 3x3 filter, stride 1, 'same'", (5, 3, 1, "same"), public=True),
    _Case("7 pixels, 3x3 filter, stride 2, 'same' (rounds up)", (7, 3, 2, "same"), public=True),
    _Case("10 pixels, kernel 3, stride 3, 'valid'", (10, 3, 3, "valid")),
    _Case("9 pixels, kernel 4, stride 2, 'valid'", (9, 4, 2, "valid")),
    _Case("12 pixels, kernel 4, stride 1, 'same' (even kernel)", (12, 4, 1, "same")),
    _Case("13 pixels, kernel 5, stride 4, 'same'", (13, 5, 4, "same")),
    _Case("8 pixels, 2x2 pooling window, stride 2, 'valid'", (8, 2, 2, "valid")),
    _Case("6 pixels, kernel 1, stride 1, 'valid'", (6, 1, 1, "valid")),
]

_CONV_CHECK = _Check(
    "conv_output_size", _CONV_CASES, _conv_size_reference,
    mistakes=[
        _Mistake("missing_plus_one", "the '+ 1' of the 'valid' formula is missing", (
            "Count the positions of the window by hand for the slide's 4x4 input and 3x3 filter.",
            "A window of k pixels fits at positions 0, s, 2s, ... as long as it ends inside "
            "the input: that is one more position than (n - k) // s.",
            "valid: (n - k) // s + 1. The '+ 1' counts the first position, at 0.",
        ), _matches(_conv_size_variant(lambda n, k, s: (n - k) // s, lambda n, k, s: -(-n // s)))),
        _Mistake("same_rounds_down", "'same' rounds down instead of up", (
            "Try 7 pixels with stride 2 and 'same': Keras pads so that no pixel is lost.",
            "Keras' 'same' gives ceil(n / s); n // s rounds down.",
            "In integer arithmetic ceil(n / s) == -(-n // s) == (n + s - 1) // s.",
        ), _matches(_conv_size_variant(lambda n, k, s: (n - k) // s + 1, lambda n, k, s: n // s))),
        _Mistake("same_ignores_stride", "'same' returns the input size whatever the stride", (
            "'same' keeps the size only for stride 1; what does a stride of 2 do?",
            "With 'same' the output has ceil(n / s) pixels.",
        ), _matches(_conv_size_variant(lambda n, k, s: (n - k) // s + 1, lambda n, k, s: n))),
        _Mistake("same_as_half_padding", "'same' computed as padding k // 2 on both sides", (
            "Your 'same' is right for odd kernels only: try an even kernel with stride 1.",
            "Keras' 'same' does not pad k // 2 on each side; it pads whatever makes the "
            "output ceil(n / s), whatever the kernel size.",
        ), _matches(_conv_size_variant(lambda n, k, s: (n - k) // s + 1,
                                       lambda n, k, s: (n + 2 * (k // 2) - k) // s + 1))),
        _Mistake("ceil_in_valid", "'valid' rounds up", (
            "With 'valid' a window that would stick out of the input is dropped.",
            "valid: floor((n - k) / s) + 1, so use // and not a ceiling.",
        ), _matches(_conv_size_variant(lambda n, k, s: -(-(n - k) // s) + 1,
                                       lambda n, k, s: -(-n // s)))),
        _Mistake("stride_ignored", "the stride is ignored in 'valid'", (
            "Compare the slides 'Standard' and 'Stride': the stride changes the output.",
            "valid: (n - k) // s + 1; divide by the stride.",
        ), _matches(_conv_size_variant(lambda n, k, s: n - k + 1, lambda n, k, s: -(-n // s)))),
        _Mistake("float_division", "a true division '/' gives fractional sizes", (
            "Sizes are whole pixels: look at the type and value of what you return.",
            "Use integer division '//' (or math.floor/math.ceil) so that the result is an int.",
        ), lambda cases, outputs, expected: any(isinstance(o, float) and o != int(o) for o in outputs
                                      if not isinstance(o, _Raised))),
        _Mistake("not_int", "the result is right but not an int", (
            "Return a Python int (or a NumPy integer), not a float: sizes are whole pixels.",
        ), _values_right()),
    ],
    generic_hints=(
        "Check both paddings separately against the formulas in the text above the exercise.",
        "valid: floor((n - k) / s) + 1. same: ceil(n / s), independent of the kernel.",
    ),
    output_ok=_is_int,
)


def check_conv_output_size(conv_output_size, assignment=None, quiet=False):
    """Check ``conv_output_size(input_size, kernel_size, stride=1, padding="valid")``.

    Diagnoses: a missing '+ 1', 'same' rounding down or ignoring the stride, 'same' as
    padding k // 2 (wrong for even kernels), a ceiling in 'valid', an ignored stride,
    float sizes.
    """
    return _run_check(_CONV_CHECK, conv_output_size, assignment, quiet)


def _transpose_reference(n, k, s=1, padding="valid", output_padding=None):
    return shapes.conv_transpose_output_size(n, k, stride=s, padding=padding,
                                             output_padding=output_padding)


def _transpose_variant(valid=None, same=None, same_with_output_padding=None,
                       valid_with_output_padding=None):
    """The reference with some of its branches replaced by wrong formulas."""

    def variant(n, k, s=1, padding="valid", output_padding=None):
        if padding == "valid" and output_padding is None and valid:
            return valid(n, k, s)
        if padding == "same" and output_padding is None and same:
            return same(n, k, s)
        if padding == "same" and output_padding is not None and same_with_output_padding:
            return same_with_output_padding(n, k, s, output_padding)
        if padding == "valid" and output_padding is not None and valid_with_output_padding:
            return valid_with_output_padding(n, k, s, output_padding)
        return _transpose_reference(n, k, s, padding, output_padding)

    return variant


_TRANSPOSE_CASES = [
    _Case("slide 'Standard': 2x2 input, 3x3 filter, stride 1, 'valid'", (2, 3, 1, "valid"), public=True),
    _Case("slide 'Stride': 2x2 input, 3x3 filter, stride 2, 'valid'", (2, 3, 2, "valid"), public=True),
    _Case("slide 'Padding': 5x5 input, 3x3 filter, stride 1, 'same'", (5, 3, 1, "same"), public=True),
    _Case("16 pixels, 3x3, stride 2, 'same' (the FCN decoder)", (16, 3, 2, "same"), public=True),
    _Case("3 pixels, kernel 2 < stride 3, 'valid'", (3, 2, 3, "valid"), public=True),
    _Case("4 pixels, kernel 2, stride 2, 'valid'", (4, 2, 2, "valid")),
    _Case("3 pixels, kernel 5, stride 2, 'valid'", (3, 5, 2, "valid")),
    _Case("6 pixels, kernel 1 < stride 3, 'valid'", (6, 1, 3, "valid")),
    _Case("7 pixels, kernel 4, stride 3, 'same'", (7, 4, 3, "same")),
    _Case("1 pixel, kernel 3, stride 1, 'valid'", (1, 3, 1, "valid")),
]
_OUTPUT_PADDING_CASES = [
    _Case("2 pixels, 3x3, stride 2, 'valid', output_padding=1", (2, 3, 2, "valid", 1), public=True),
    _Case("4 pixels, 3x3, stride 2, 'same', output_padding=0", (4, 3, 2, "same", 0), public=True),
    _Case("4 pixels, 3x3, stride 2, 'same', output_padding=1", (4, 3, 2, "same", 1), public=True),
    _Case("3 pixels, 3x3, stride 2, 'valid', output_padding=0", (3, 3, 2, "valid", 0)),
    _Case("5 pixels, kernel 4, stride 3, 'same', output_padding=2", (5, 4, 3, "same", 2)),
    _Case("3 pixels, kernel 2 < stride 3, 'valid', output_padding=0", (3, 2, 3, "valid", 0)),
]


def _transpose_mistakes():
    return [
        _Mistake("n_times_s_plus_k", "n * s + k instead of (n - 1) * s + k", (
            "Draw the slide's 2x2 -> 5x5 example: where does the last stamp start?",
            "The first stamp starts at 0, the last one at (n - 1) * s; it is k pixels long.",
            "valid (stride <= kernel): (n - 1) * s + k. Only n - 1 steps lie between n stamps.",
        ), _matches(_transpose_variant(valid=lambda n, k, s: n * s + k))),
        _Mistake("minus_one", "(n - 1) * s + k - 1: one pixel short", (
            "Check the slide 'Standard' (2x2 input, 3x3 filter, stride 1): count the output pixels.",
            "The last stamp starts at (n - 1) * s and covers k pixels, up to and including "
            "pixel (n - 1) * s + k - 1: so the size is one more than that index.",
        ), _matches(_transpose_variant(valid=lambda n, k, s: (n - 1) * s + k - 1))),
        _Mistake("missing_max", "the case stride > kernel is missing", (
            "Try a kernel smaller than the stride, e.g. kernel 2 and stride 3.",
            "When s > k the stamps leave gaps, and Keras keeps the gap after the last stamp "
            "too: the last stamp is padded to s pixels.",
            "valid: (n - 1) * s + max(k, s).",
        ), _matches(_transpose_variant(valid=lambda n, k, s: (n - 1) * s + k))),
        _Mistake("conv_formula", "the convolution formula instead of the transposed one", (
            "A transposed convolution makes the image larger (stride s: about s times).",
            "Run the convolution's arithmetic backwards: which input size does a valid "
            "convolution map to n pixels?",
        ), _matches(_transpose_variant(valid=lambda n, k, s: (n - k) // s + 1,
                                       same=lambda n, k, s: -(-n // s)))),
        _Mistake("same_as_half_padding", "'same' computed as cropping k // 2 pixels on each side", (
            "Check the FCN decoder case: 16 pixels, 3x3, stride 2, 'same' must double the size.",
            "With output_padding=None Keras' 'same' is simply n * s; the k // 2 cropping "
            "(n - 1) * s + k - 2 * (k // 2) loses a pixel when s > 1.",
        ), _matches(_transpose_variant(same=lambda n, k, s: (n - 1) * s + k - 2 * (k // 2)))),
        _Mistake("same_ignores_stride", "'same' returns the input size", (
            "'same' keeps the size only for stride 1; a transposed convolution with stride s "
            "up-samples by s.",
            "With output_padding=None, 'same' gives n * s.",
        ), _matches(_transpose_variant(same=lambda n, k, s: n))),
        _Mistake("output_padding_zero_as_none", "output_padding=0 is treated like None", (
            "Look at the cases with output_padding=0: is 0 handled like 'no output padding given'?",
            "`if output_padding:` is False for 0 as well as for None; test "
            "`if output_padding is None:` instead.",
        ), _matches(_transpose_variant(
            same_with_output_padding=lambda n, k, s, p: (
                n * s if p == 0 else (n - 1) * s + k % 2 + p),
            valid_with_output_padding=lambda n, k, s, p: (
                (n - 1) * s + max(k, s) if p == 0 else (n - 1) * s + k + p)))),
        _Mistake("output_padding_ignored", "output_padding is ignored", (
            "Compare the cases with and without output_padding: your results do not change.",
            "output_padding=p adds p pixels at the end: valid (n - 1) * s + k + p, "
            "same (n - 1) * s + (k % 2) + p.",
        ), _matches(_transpose_variant(
            same_with_output_padding=lambda n, k, s, p: n * s,
            valid_with_output_padding=lambda n, k, s, p: (n - 1) * s + max(k, s)))),
        _Mistake("not_int", "the result is right but not an int", (
            "Return a Python int (or a NumPy integer): sizes are whole pixels.",
        ), _values_right()),
    ]


def check_conv_transpose_output_size(conv_transpose_output_size, assignment=None, quiet=False):
    """Check ``conv_transpose_output_size(input_size, kernel_size, stride=1, padding="valid"[,
    output_padding=None])``; the output_padding cases run only if your function takes it.

    Diagnoses: n * s + k, (n - 1) * s + k - 1, the missing max(k, s) for stride > kernel,
    the convolution formula, 'same' as k // 2 cropping or without the stride,
    output_padding=0 treated as None, output_padding ignored, float sizes.
    """
    cases = list(_TRANSPOSE_CASES)
    if _accepts(conv_transpose_output_size, "output_padding"):
        cases += _OUTPUT_PADDING_CASES
    check = _Check("conv_transpose_output_size", cases, _transpose_reference,
                   _transpose_mistakes(),
                   generic_hints=(
                       "Check 'valid' and 'same' separately against the table in the text.",
                       "Before cropping the stamps cover (n - 1) * s + k pixels; 'valid' keeps "
                       "at least (n - 1) * s + s, 'same' with output_padding=None is n * s.",
                   ), output_ok=_is_int)
    return _run_check(check, conv_transpose_output_size, assignment, quiet)


def _fcn_shapes_reference(height, width, num_classes):
    shapes_after = []
    h, w = height, width
    for filters, _ in ((40, 3), (40, 4), (80, 4)):
        shapes_after.append((h, w, filters))
        h, w = h // 2, w // 2
        shapes_after.append((h, w, filters))
    h, w = 8 * h, 8 * w
    return shapes_after + [(h, w, 80), (h, w, num_classes), (h, w, num_classes)]


def _fcn_shapes_variant(pool, upscale_to_input=False):
    def variant(height, width, num_classes):
        result, h, w = [], height, width
        for filters in (40, 40, 80):
            result.append((h, w, filters))
            h, w = pool(h), pool(w)
            result.append((h, w, filters))
        h, w = (height, width) if upscale_to_input else (8 * h, 8 * w)
        return result + [(h, w, 80), (h, w, num_classes), (h, w, num_classes)]

    return variant


def _as_shape_list(output):
    try:
        return [tuple(int(v) for v in shape) for shape in output]
    except (TypeError, ValueError):
        return None


_FCN_SHAPES_CHECK = _Check(
    "fcn_upscaling_shapes",
    [
        _Case("a 256x256 page, 4 classes", (256, 256, 4)),
        _Case("a 72x40 page, 2 classes", (72, 40, 2)),
        _Case("a 100x36 page (not multiples of 8), 3 classes", (100, 36, 3)),
        _Case("a 13x21 page, 5 classes", (13, 21, 5)),
    ],
    _fcn_shapes_reference,
    mistakes=[
        _Mistake("wrong_length", "the list does not have one shape per layer", (
            "Count the layers in the docstring: every one of them gets an entry, pooling, "
            "up-scaling and softmax included, the input does not.",
            "Nine entries: conv, pool, conv, pool, conv, pool, up-sampling, 1x1 conv, softmax.",
        ), lambda cases, outputs, expected: any(isinstance(o, _Raised) or _as_shape_list(o) is None
                                      or len(o) != 9 for o in outputs)),
        _Mistake("pool_rounds_up", "the poolings round up", (
            "Try a page whose sides are not multiples of 8: what does a 'valid' 2x2 pooling "
            "do with an odd row?",
            "A 'valid' pooling drops the last odd row: use conv_output_size(h, 2, 2, 'valid').",
        ), _matches(_fcn_shapes_variant(lambda n: -(-n // 2)))),
        _Mistake("float_sizes", "the sizes are divided with '/' (floats)", (
            "Sizes are whole pixels: use your conv_output_size, which rounds like Keras.",
        ), _matches(_fcn_shapes_variant(lambda n: n / 2))),
        _Mistake("upscale_to_input", "the up-scaling gives back the page size", (
            "Try a page whose sides are not multiples of 8.",
            "The up-scaling multiplies the pooled size by 8: 100 -> 12 -> 96, the pixels the "
            "poolings dropped do not come back.",
        ), _matches(_fcn_shapes_variant(lambda n: n // 2, upscale_to_input=True))),
        _Mistake("channels", "the heights and widths are right, some channel counts are not", (
            "Compare the channels entry by entry with the layers in the docstring.",
            "A pooling and the up-scaling keep the channels of the layer before them; the "
            "1x1 convolution and the softmax have num_classes channels.",
        ), lambda cases, outputs, expected: all(
            _as_shape_list(o) is not None and len(o) == 9
            and [s[:2] for s in _as_shape_list(o)]
            == [s[:2] for s in _fcn_shapes_reference(*c.args)]
            for c, o in zip(cases, outputs))),
    ],
    generic_hints=(
        "Compute the shapes layer by layer with your conv_output_size: 'same' convolutions "
        "(stride 1), 'valid' 2x2 poolings with stride 2.",
        "The up-scaling multiplies the pooled height and width by 8; channels change only "
        "at the convolutions.",
    ),
)


def check_fcn_upscaling_shapes(fcn_upscaling_shapes, assignment=None, quiet=False):
    """Check ``fcn_upscaling_shapes(height, width, num_classes)`` (nine shapes).

    Diagnoses: a wrong number of entries, poolings rounding up, float sizes, an
    up-scaling back to the page size, wrong channel counts.
    """
    return _run_check(_FCN_SHAPES_CHECK, fcn_upscaling_shapes, assignment, quiet)


# --- Assignment "dimensions": pooling, up-scaling, bottleneck, parameters -------------------------


def _pool_size_reference(n, pool_size=2, strides=None, padding="valid"):
    return shapes.pool_output_size(n, pool_size, strides, padding)


_POOL_CHECK = _variant_check(
    "pool_output_size",
    [_Case("the notebook's 2x2 pooling (strides=None) of 256 pixels", (256, 2), public=True),
     _Case("255 pixels, 2x2 pooling, 'valid'", (255, 2, None, "valid")),
     _Case("255 pixels, 2x2 pooling, 'same'", (255, 2, None, "same")),
     _Case("10 pixels, 3x3 pooling, strides=None", (10, 3)),
     _Case("10 pixels, 3x3 pooling, strides 1", (10, 3, 1, "valid")),
     _Case("9 pixels, 2x2 pooling, strides 3, 'same'", (9, 2, 3, "same"))],
    _pool_size_reference,
    [("strides_none_as_one", "strides=None is treated as stride 1", (
        "What does Keras' MaxPooling2D do when you give no strides?",
        "strides=None means strides = pool_size (windows side by side, no overlap).",
    ), lambda n, p=2, s=None, padding="valid": shapes.pool_output_size(n, p, s or 1, padding)),
     ("same_rounds_down", "'same' rounds down", (
         "With 'same' no pixel is lost: 255 pixels pooled by 2 give 128.",
         "'same': ceil(n / s) == -(-n // s).",
     ), lambda n, p=2, s=None, padding="valid": (
         shapes.pool_output_size(n, p, s, "valid") if padding == "valid" else n // (s or p))),
     ("missing_plus_one", "the '+ 1' of the 'valid' formula is missing", (
         "Count the window positions of a 3-pixel window with stride 3 on 10 pixels by hand.",
         "valid: (n - p) // s + 1.",
     ), lambda n, p=2, s=None, padding="valid": (
         (n - p) // (s or p) if padding == "valid" else -(-n // (s or p))))],
    ("A pooling is a convolution without weights: use your conv_output_size with kernel = "
     "pool_size and stride = strides (or pool_size if strides is None).",),
    output_ok=_is_int, extra_mistakes=[_int_values_right()])


def check_pool_output_size(pool_output_size, assignment=None, quiet=False):
    """Check ``pool_output_size(input_size, pool_size=2, strides=None, padding="valid")``.

    Diagnoses: strides=None taken as 1, 'same' rounding down, a missing '+ 1', float sizes.
    """
    return _run_check(_POOL_CHECK, pool_output_size, assignment, quiet)


_UPSCALING_CHECK = _variant_check(
    "upscaling_output_size",
    [_Case("the notebook's UpSampling 8x8 of 32 pixels", (32, 8), public=True), _Case("7 pixels, factor 2", (7, 2)),
     _Case("13 pixels, factor 3", (13, 3)), _Case("1 pixel, factor 16", (1, 16))],
    lambda n, factor: n * factor,
    [("divides", "the size is divided by the factor", (
        "UpSampling2D makes the image larger: each pixel becomes factor x factor pixels.",
    ), lambda n, factor: n // factor),
     ("adds_factor", "the factor is added instead of multiplied", (
         "Each pixel is repeated factor times: n pixels become n * factor.",
     ), lambda n, factor: n + factor)],
    ("UpSampling2D(size=factor) repeats every row and column factor times.",),
    output_ok=_is_int, extra_mistakes=[_int_values_right()])


def check_upscaling_output_size(upscaling_output_size, assignment=None, quiet=False):
    """Check ``upscaling_output_size(input_size, factor)``."""
    return _run_check(_UPSCALING_CHECK, upscaling_output_size, assignment, quiet)


def _bottleneck_reference(height, width, k, num_pools=4, pool_padding="valid"):
    for _ in range(num_pools):
        height = shapes.pool_output_size(height, 2, 2, pool_padding)
        width = shapes.pool_output_size(width, 2, 2, pool_padding)
    return (height, width, k)


def _decoded_reference(height, width, num_classes, num_pools=4, pool_padding="valid"):
    h, w, _ = _bottleneck_reference(height, width, 1, num_pools, pool_padding)
    return (h * 2 ** num_pools, w * 2 ** num_pools, num_classes)


def _padded_reference(size, num_pools=4):
    multiple = 2 ** num_pools
    return -(-size // multiple) * multiple


_BOTTLENECK_CASES = [
    _Case("the notebook's bottleneck_shape(256, 512, k=64)", (256, 512, 64), public=True),
    _Case("a 100 x 60 page, k = 3", (100, 60, 3)),
    _Case("a 100 x 60 page, k = 3, 'same' poolings", (100, 60, 3, 4, "same")),
    _Case("a 37 x 90 page, k = 5, 3 poolings", (37, 90, 5, 3)),
    _Case("a 37 x 90 page, k = 5, 2 poolings, 'same'", (37, 90, 5, 2, "same")),
]

_BOTTLENECK_CHECK = _variant_check(
    "bottleneck_shape", _BOTTLENECK_CASES, _bottleneck_reference,
    [("pool_padding_ignored", "pool_padding is ignored", (
        "Compare 'valid' and 'same' poolings of an odd size: 'same' keeps the last odd row.",
        "Pass pool_padding on to pool_output_size at every stage.",
    ), lambda h, w, k, num_pools=4, pool_padding="valid": _bottleneck_reference(h, w, k, num_pools)),
     ("rounds_up", "the poolings round up ('valid' drops the last odd row)", (
         "A 'valid' 2x2 pooling of 25 rows gives 12 rows, not 13.",
     ), lambda h, w, k, num_pools=4, pool_padding="valid": _bottleneck_reference(h, w, k, num_pools, "same")),
     ("num_pools_ignored", "num_pools is ignored (always 4 poolings)", (
         "Use the argument num_pools for the number of stages.",
     ), lambda h, w, k, num_pools=4, pool_padding="valid": _bottleneck_reference(h, w, k, 4, pool_padding))],
    ("Apply the pooling rule stage by stage (num_pools times) to height and width; the 1x1 "
     "convolution only sets the channels to k.",),
    output_ok=lambda output: _as_shape_list([output]) is not None)


def check_bottleneck_shape(bottleneck_shape, assignment=None, quiet=False):
    """Check ``bottleneck_shape(height, width, k, num_pools=4, pool_padding="valid")``."""
    return _run_check(_BOTTLENECK_CHECK, bottleneck_shape, assignment, quiet)


_DECODED_CHECK = _variant_check(
    "decoded_shape",
    [_Case("the notebook's decoded_shape(100, 100, num_classes=4)", (100, 100, 4), public=True),
     *_BOTTLENECK_CASES[1:]], _decoded_reference,
    [("keeps_page_size", "the decoder gives back the page size", (
        "Try a page whose sides are not multiples of 2**num_pools.",
        "The up-scaling multiplies the bottleneck size by 2**num_pools: the rows the poolings "
        "dropped do not come back (100 -> 6 -> 96).",
    ), lambda h, w, c, num_pools=4, pool_padding="valid": (h, w, c)),
     ("pool_padding_ignored", "pool_padding is ignored", (
         "With 'same' poolings the bottleneck is larger: pass pool_padding on.",
     ), lambda h, w, c, num_pools=4, pool_padding="valid": _decoded_reference(h, w, c, num_pools))],
    ("decoded = bottleneck size * 2**num_pools, with num_classes channels.",),
    output_ok=lambda output: _as_shape_list([output]) is not None)


def check_decoded_shape(decoded_shape, assignment=None, quiet=False):
    """Check ``decoded_shape(height, width, num_classes, num_pools=4, pool_padding="valid")``."""
    return _run_check(_DECODED_CHECK, decoded_shape, assignment, quiet)


_PADDED_CHECK = _variant_check(
    "padded_size",
    [_Case("the notebook's padded_size(256) (already a multiple)", (256,), public=True), _Case("100 pixels", (100,)),
     _Case("33 pixels, 3 poolings", (33, 3)), _Case("64 pixels, 3 poolings", (64, 3)), _Case("1 pixel", (1,))],
    _padded_reference,
    [("full_extra_block", "a whole block is added to sizes that already fit", (
        "A size that is already a multiple must stay as it is.",
        "size + m - size % m adds m when size % m == 0; round up with -(-size // m) * m.",
    ), lambda size, num_pools=4: size + 2 ** num_pools - size % 2 ** num_pools),
     ("rounds_down", "the size is rounded down", (
         "Padding makes the page larger, never smaller.",
     ), lambda size, num_pools=4: size // 2 ** num_pools * 2 ** num_pools)],
    ("The smallest multiple of 2**num_pools that is >= size.",),
    output_ok=_is_int, extra_mistakes=[_int_values_right()])


def check_padded_size(padded_size, assignment=None, quiet=False):
    """Check ``padded_size(size, num_pools=4)``."""
    return _run_check(_PADDED_CHECK, padded_size, assignment, quiet)
