"""Validity variants of ``dimensions``: correct answers written differently, common wrong
answers, the students of its real sandboxed batch and its "library-answers" student
(what each field means: tests/validity/variant.py)."""

from __future__ import annotations

from tests.validity.variant import Variant

VARIANTS = [
    Variant("same-with-math-ceil", "sizes",
            edits=[("return -(-input_size // stride)", "import math\n        return math.ceil(input_size / stride)")]),
    Variant("same-floor-division", "sizes", {"test_sizes_visible": "'same' rounds up",
                                            "test_sizes_hidden": "conv_output_size is wrong"},
            edits=[("return -(-input_size // stride)", "return input_size // stride")],
            also_fails={"test_bottleneck_visible", "test_bottleneck_hidden"}),
    Variant("size-as-numpy-float", "sizes", {"test_sizes_visible": "should return an int"},
            edits=[("return -(-input_size // stride)", "return np.ceil(input_size / stride)")]),
    Variant("pool-ignores-strides-none", "sizes", {"test_sizes_visible": "pool_output_size(256, 2)",
                                                  "test_sizes_hidden": "pool_output_size is wrong"},
            edits=[("strides = pool_size\n", "strides = 1\n")]),
    Variant("transpose-gaps-kept-by-max", "transpose_size",
            edits=[("return (n - 1) * s + max(k, s)", "return (n - 1) * s + k + max(s - k, 0)")]),
    Variant("transpose-ignores-max-k-s", "transpose_size",
            {"test_transpose_size_visible": "(3 - 1) * 3 + max(2, 3)",
             "test_transpose_size_hidden": "a stride larger than the kernel"},
            edits=[("return (n - 1) * s + max(k, s)", "return (n - 1) * s + k")]),
    Variant("transpose-n-times-s-plus-k", "transpose_size",
            {"test_transpose_size_visible": "slide 'Standard'", "test_transpose_size_hidden": "padding='valid'"},
            edits=[("return (n - 1) * s + max(k, s)", "return n * s + k")]),
    Variant("transpose-same-ignores-output-padding", "transpose_size",
            {"test_transpose_size_visible": "output_padding=0",
             "test_transpose_size_hidden": "padding='same', an output_padding"},
            edits=[("return (n - 1) * s + k % 2 + output_padding", "return n * s")]),
    Variant("bottleneck-one-division", "bottleneck",
            edits=[("""    for _ in range(num_pools):
        height = pool_output_size(height, 2, 2, pool_padding)
        width = pool_output_size(width, 2, 2, pool_padding)
    return (height, width, k)""", """    m = 2 ** num_pools
    if pool_padding == "same":
        return (-(-height // m), -(-width // m), k)
    return (height // m, width // m, k)""")]),
    Variant("padded-size-full-extra-block", "bottleneck", {"test_bottleneck_visible": "padded_size(256)",
                                                          "test_bottleneck_hidden": "padded_size is wrong"},
            edits=[("return -(-size // multiple) * multiple", "return size + multiple - size % multiple")]),
    Variant("decoded-keeps-page-size", "bottleneck", {"test_bottleneck_visible": "decoded_shape(100, 100",
                                                     "test_bottleneck_hidden": "decoded_shape is wrong"},
            edits=[("return (upscaling_output_size(h, factor), upscaling_output_size(w, factor), num_classes)",
                    "return (height, width, num_classes)")]),
    Variant("params-with-prod", "params",
            edits=[("kh, kw = _kernel_pair(kernel_size)\n    return kh * kw * in_channels * filters",
                    "return int(np.prod(kernel_size)) * (1 if np.ndim(kernel_size) else kernel_size)"
                    " * in_channels * filters")]),
    Variant("params-forget-in-channels", "params", {"test_params_visible": "Conv 80, 4x4 after 40 channels",
                                                   "test_params_hidden": "conv2d_params disagrees"},
            edits=[("return kh * kw * in_channels * filters", "return kh * kw * filters")],
            also_fails={"test_table_visible", "test_table_hidden"}),
    Variant("params-always-bias", "params", {"test_params_visible": "no bias", "test_params_hidden": "without bias"},
            edits=[("return in_features * units + (units if use_bias else 0)", "return in_features * units + units")]),
    Variant("table-explicit-arithmetic", "table",
            edits=[("add(name, (upscaling_output_size(h, 2), upscaling_output_size(w, 2), c), 0)",
                    "add(name, (2 * h, 2 * w, c), 0)"),
                   ("add(name, (pool_output_size(h, 2, 2), pool_output_size(w, 2, 2), c), 0)",
                    "add(name, (h // 2, w // 2, c), 0)")]),
    Variant("table-transposed-as-upscaling", "table", {"test_table_hidden": "decoder='transposed'"},
            edits=[('if decoder == "upscaling":\n', 'if True:\n')]),
    Variant("table-fuse-keeps-first-channels", "table", {"test_table_visible": "Row 'fuse2'",
                                                        "test_table_hidden": "the shape of 'fuse2'"},
            edits=[("add(name, (h, w, c1 + c2), 0)", "add(name, (h, w, c1), 0)")]),
]


# Students of the real sandboxed batch (variants of different cells, see variant.py).
BATCH_STUDENTS = {
    "alt-correct": ["same-with-math-ceil", "transpose-gaps-kept-by-max", "bottleneck-one-division", "params-with-prod"],
    "wrong-a": ["same-floor-division", "transpose-ignores-max-k-s", "decoded-keeps-page-size",
                "params-forget-in-channels", "table-transposed-as-upscaling"],
    "wrong-b": ["transpose-same-ignores-output-padding", "padded-size-full-extra-block", "params-always-bias",
                "table-fuse-keeps-first-channels"],
}


# Every solution cell answered through the course library (the "library-answers" student).
LIBRARY_ANSWERS = {
    "sizes": '''
from course_utils.shapes import conv_output_size, pool_output_size

def upscaling_output_size(input_size, factor):
    from course_utils.layers import _times
    return _times(input_size, factor)
''',
    "transpose_size": "from course_utils.shapes import conv_transpose_output_size\n",
    "bottleneck": '''
from course_utils.selfcheck.sizes import (_bottleneck_reference as bottleneck_shape,
                                          _decoded_reference as decoded_shape, _padded_reference as padded_size)
''',
    # dense_params has no library function of its own: the convolution reference with a 1x1 kernel
    "params": '''
from course_utils.selfcheck import parameters
conv2d_params = parameters._conv_params_reference

def conv2d_transpose_params(kernel_size, in_channels, filters, use_bias=True):
    return parameters._conv_params_reference(kernel_size, in_channels, filters, use_bias)

def dense_params(in_features, units, use_bias=True):
    return parameters._conv_params_reference(1, in_features, units, use_bias)
''',
    "table": "from course_utils.selfcheck.parameters import _skip_table_reference as skip_fcn_table\n",
}

