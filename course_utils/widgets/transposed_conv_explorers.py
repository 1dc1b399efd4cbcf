"""Explorers of the transposed convolution: where each input pixel's kernel stamp lands,
and a convolution next to the transposed convolution with the same settings."""

import numpy as np

from course_utils import shapes
from course_utils.transposed_conv import conv2d_transpose_scatter
from course_utils.widgets.explorer import Explorer, int_slider
from course_utils.widgets.grid_drawing import (
    HIGHLIGHT_COLOR,
    draw_cells,
    finish_grid_axes,
    outline_cells,
    square_index,
    write_cell_values,
)


def compute_transposed_conv(input_size, kernel_size, stride, padding=0):
    """Where every input pixel of a square transposed convolution lands in the output.

    Every input pixel stamps the ``kernel_size x kernel_size`` kernel into the output;
    the stamp of input row ``r`` starts at row ``r * stride`` of the uncropped result
    (``(input_size - 1) * stride + kernel_size`` pixels), and ``padding`` pixels are then
    cropped on each side (``course_utils.shapes`` explicit padding).

    Args:
        input_size, kernel_size, stride: positive ints (square input and kernel).
        padding: int >= 0, pixels cropped on every side. 0 means Keras' ``"valid"``, as
            in the exercises: when the stride is larger than the kernel, the gap after
            the last stamp is kept, ``(n - 1) * s + max(k, s)`` pixels.

    Returns:
        dict with ``output_size`` (None when the padding crops everything),
        ``full_size`` (before cropping), ``stamp_rows``: list over input rows of the
        ``(start, stop)`` output rows their stamp covers after cropping (the same for
        columns), and ``overlap``: int array ``(output_size, output_size)``, how many
        stamps add up in each output pixel (None when there is no output).
    """
    full_size = (input_size - 1) * stride + kernel_size
    keras_padding = "valid" if padding == 0 else padding
    try:
        output_size = shapes.conv_transpose_output_size(
            input_size, kernel_size, stride=stride, padding=keras_padding
        )
    except ValueError:
        output_size = None
    stamp_rows = []
    for row in range(input_size):
        start = row * stride - padding
        stop = start + kernel_size
        clip_to = output_size or 0
        stamp_rows.append((max(start, 0), min(stop, clip_to)))
    overlap = None
    if output_size is not None:
        # An all-ones input and kernel: every output pixel sums 1 per stamp covering it.
        ones_input = np.ones((input_size, input_size, 1))
        ones_kernel = np.ones((kernel_size, kernel_size, 1, 1))
        overlap = conv2d_transpose_scatter(ones_input, ones_kernel, strides=stride,
                                           padding=keras_padding)[..., 0].round().astype(int)
    return {
        "input_size": input_size,
        "kernel_size": kernel_size,
        "stride": stride,
        "padding": padding,
        "output_size": output_size,
        "full_size": full_size,
        "stamp_rows": stamp_rows,
        "overlap": overlap,
    }


def _transposed_conv_title(result):
    n, out = result["input_size"], result["output_size"]
    settings = f"kernel {result['kernel_size']}, stride {result['stride']}, padding {result['padding']}"
    if out is None:
        return f"Transposed convolution, {settings}: the padding crops everything"
    return f"Transposed convolution: {n}x{n} input -> {out}x{out} output ({settings})"


def draw_transposed_conv(ax, input_size, kernel_size, stride, padding=0, highlight=0):
    """Draw the input grid, the output grid and the stamp of one input pixel.

    Left: the input, the ``highlight``-th pixel (row-major) in red. Right: the output;
    each number says how many kernel stamps add up in that pixel, the red frame is the
    stamp of the highlighted input pixel and the dashed cells are the border that
    ``padding`` crops away.

    Returns:
        The dict of :func:`compute_transposed_conv`, plus ``highlight`` as ``(row, col)``.
    """
    result = compute_transposed_conv(input_size, kernel_size, stride, padding)
    row, col = square_index(highlight, input_size)
    result["highlight"] = (row, col)
    full, out = result["full_size"], result["output_size"]
    gap = 2.0
    left_output = input_size + gap + padding  # output pixel (0, 0) sits here

    draw_cells(ax, 0, 0, input_size, input_size, facecolor="#e8eef7")
    outline_cells(ax, row, col, 1, 1, HIGHLIGHT_COLOR, fill_alpha=0.35)
    ax.text(input_size / 2, -0.3, f"input {input_size}x{input_size}", ha="center", fontsize=9)
    # The uncropped stamps, dashed: what padding removes.
    draw_cells(ax, -padding, left_output - padding, full, full, facecolor="none", edgecolor="0.7",
          linestyle="--", linewidth=0.6)
    if out is not None:
        draw_cells(ax, 0, left_output, out, out)
        write_cell_values(ax, 0, left_output, result["overlap"], fontsize=8 if out > 9 else 9)
        ax.text(left_output + out / 2, -0.3 - padding, f"output {out}x{out}", ha="center",
                fontsize=9)
    stamp_top = row * stride - padding
    stamp_left = col * stride - padding
    outline_cells(ax, stamp_top, left_output + stamp_left, kernel_size, kernel_size,
             HIGHLIGHT_COLOR, fill_alpha=0.2)
    ax.annotate("", xy=(left_output - padding - 0.2, full / 2 - padding),
                xytext=(input_size + 0.2, input_size / 2),
                arrowprops={"arrowstyle": "->", "color": "0.4"})
    ax.set_title(_transposed_conv_title(result), fontsize=10)
    ax.set_xlabel("numbers: kernel stamps adding up per output pixel; dashed: cropped by padding",
                  fontsize=8)
    drawn = max(full, out or 0)  # "valid" with stride > kernel keeps a gap after the stamps
    finish_grid_axes(ax, left_output - padding + drawn, max(input_size, drawn), top=-padding)
    return result


def transposed_conv_widget(input_size=2, kernel_size=3, stride=2, padding=0, static=None):
    """Sliders for input size, kernel, stride, padding and the highlighted input pixel.

    The lecture's examples: kernel 3, stride 1 maps 2x2 to 4x4; stride 2 maps 2x2 to
    5x5; padding 1 with stride 1 keeps 5x5. See the module docstring for ``static``.
    """
    controls = {
        "input_size": int_slider("input size", input_size, 1, 6),
        "kernel_size": int_slider("kernel", kernel_size, 1, 5),
        "stride": int_slider("stride", stride, 1, 4),
        "padding": int_slider("padding", padding, 0, 3),
        "highlight": int_slider("input pixel", 0, 0, input_size * input_size - 1),
    }

    def keep_highlight_in_range(change):
        controls["highlight"].max = change["new"] ** 2 - 1

    # Registered before the explorer's observer, so the range is right when it redraws.
    controls["input_size"].observe(keep_highlight_in_range, names="value")

    def compute(input_size, kernel_size, stride, padding, highlight):
        return compute_transposed_conv(input_size, kernel_size, stride, padding)

    def describe(result):
        if result["output_size"] is None:
            return "no output: the padding crops every pixel"
        out = result["output_size"]
        return (f"output {out}x{out}; before cropping {result['full_size']}; "
                f"at most {int(result['overlap'].max())} stamps overlap in one pixel")

    return Explorer("Transposed convolution", controls, compute, draw_transposed_conv,
                    describe, figsize=(9, 4.5), static=static)


# --- Convolution next to transposed convolution -----------------------------------------


def compute_conv_and_transposed(input_size, kernel_size, stride, padding=0):
    """Sizes of a convolution and of the transposed convolution with the same settings.

    The convolution maps ``input_size`` to ``conv_size``; the transposed convolution
    maps ``conv_size`` back to ``transposed_size``. They agree unless the convolution
    dropped pixels at the end (``(input_size + 2 * padding - kernel_size) % stride``),
    which is what ``output_padding`` restores.

    Returns:
        dict with ``conv_size`` (None if the kernel does not fit), ``transposed_size``
        and ``output_padding_needed`` (``input_size - transposed_size``).
    """
    try:
        conv_size = shapes.conv_output_size(input_size, kernel_size, stride=stride,
                                            padding=padding)
    except ValueError:
        conv_size = None
    transposed_size = None
    if conv_size is not None:
        # Padding 0 is Keras' "valid", which keeps the gap when the stride > kernel.
        transposed_size = shapes.conv_transpose_output_size(
            conv_size, kernel_size, stride=stride, padding="valid" if padding == 0 else padding
        )
    return {
        "input_size": input_size,
        "kernel_size": kernel_size,
        "stride": stride,
        "padding": padding,
        "conv_size": conv_size,
        "transposed_size": transposed_size,
        "output_padding_needed": (
            None if transposed_size is None else input_size - transposed_size
        ),
    }


def draw_conv_and_transposed(axes, input_size, kernel_size, stride, padding=0, highlight=0):
    """Convolution (left Axes) and transposed convolution (right Axes), same settings.

    Left: the padded input (dashed border), the ``highlight``-th output pixel and the
    window it reads. Right: the transposed convolution of the small grid; the same pixel
    stamps its kernel onto the same positions: the two operations connect the same pairs
    of pixels, in opposite directions (``C`` and ``C.T``).

    Returns:
        The dict of :func:`compute_conv_and_transposed`, plus ``highlight`` as
        ``(row, col)`` in the small grid.
    """
    ax_conv, ax_transposed = axes
    result = compute_conv_and_transposed(input_size, kernel_size, stride, padding)
    small = result["conv_size"]
    settings = f"kernel {kernel_size}, stride {stride}, padding {padding}"
    if small is None:
        for ax in axes:
            ax.set_axis_off()
        ax_conv.set_title(f"Convolution: the {kernel_size}x{kernel_size} kernel does not fit "
                          f"into {input_size}x{input_size} + padding {padding}", fontsize=10)
        result["highlight"] = None
        return result
    row, col = square_index(highlight, small)
    result["highlight"] = (row, col)
    big, back = input_size, result["transposed_size"]
    gap = 2.0

    # Convolution: padded big grid -> small grid.
    padded = big + 2 * padding
    draw_cells(ax_conv, -padding, -padding, padded, padded, facecolor="none", edgecolor="0.7",
          linestyle="--", linewidth=0.6)
    draw_cells(ax_conv, 0, 0, big, big, facecolor="#e8eef7")
    outline_cells(ax_conv, row * stride - padding, col * stride - padding, kernel_size, kernel_size,
             HIGHLIGHT_COLOR, fill_alpha=0.25)
    small_left = big + padding + gap
    draw_cells(ax_conv, 0, small_left, small, small, facecolor="#fdf1e0")
    outline_cells(ax_conv, row, small_left + col, 1, 1, HIGHLIGHT_COLOR, fill_alpha=0.35)
    ax_conv.set_title(f"Convolution: {big}x{big} -> {small}x{small}\n({settings})", fontsize=10)
    finish_grid_axes(ax_conv, small_left + small + padding, padded, top=-padding,
                      left=-padding)

    # Transposed convolution: small grid -> big grid (with the crop dashed).
    full = (small - 1) * stride + kernel_size
    draw_cells(ax_transposed, 0, 0, small, small, facecolor="#fdf1e0")
    outline_cells(ax_transposed, row, col, 1, 1, HIGHLIGHT_COLOR, fill_alpha=0.35)
    back_left = small + gap + padding
    draw_cells(ax_transposed, -padding, back_left - padding, full, full, facecolor="none",
          edgecolor="0.7", linestyle="--", linewidth=0.6)
    draw_cells(ax_transposed, 0, back_left, back, back, facecolor="#e8eef7")
    outline_cells(ax_transposed, row * stride - padding, back_left + col * stride - padding,
             kernel_size, kernel_size, HIGHLIGHT_COLOR, fill_alpha=0.25)
    ax_transposed.set_title(f"Transposed: {small}x{small} -> {back}x{back}\n({settings})",
                            fontsize=10)
    needed = result["output_padding_needed"]
    note = ("gives back the input size" if needed == 0 else
            f"{back} != {big}: output_padding={needed} restores the {big}x{big} input")
    ax_transposed.set_xlabel(note, fontsize=9)
    drawn = max(full, back)
    finish_grid_axes(ax_transposed, back_left - padding + drawn, drawn, top=-padding)
    return result


def conv_and_transposed_widget(input_size=5, kernel_size=3, stride=2, padding=0, static=None):
    """Sliders for a convolution and its transposed convolution drawn side by side.

    The lecture's examples: 4x4 -> 2x2 -> 4x4 (kernel 3, stride 1); 5x5 -> 2x2 -> 5x5
    (stride 2); 5x5 -> 5x5 -> 5x5 (padding 1). Try 6x6 with stride 2: the convolution
    gives 2x2 too, and the transposed convolution cannot know which size to return.
    """
    controls = {
        "input_size": int_slider("input size", input_size, 1, 8),
        "kernel_size": int_slider("kernel", kernel_size, 1, 5),
        "stride": int_slider("stride", stride, 1, 3),
        "padding": int_slider("padding", padding, 0, 2),
        "highlight": int_slider("output pixel", 0, 0, 63),
    }

    def compute(input_size, kernel_size, stride, padding, highlight):
        return compute_conv_and_transposed(input_size, kernel_size, stride, padding)

    def describe(result):
        if result["conv_size"] is None:
            return "the kernel does not fit into the padded input"
        return (f"convolution {result['input_size']} -> {result['conv_size']}, transposed "
                f"{result['conv_size']} -> {result['transposed_size']} "
                f"(output_padding needed: {result['output_padding_needed']})")

    return Explorer("Convolution and transposed convolution", controls, compute,
                    draw_conv_and_transposed, describe, figsize=(11, 4.5), num_axes=2,
                    static=static)
