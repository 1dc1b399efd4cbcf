"""Interactive explorers for the lecture: transposed convolution, sliding window, unpooling, metrics.

Every explorer comes in two layers:

- ``compute_*`` and ``draw_*`` functions: plain NumPy/matplotlib. ``draw_*(ax, ...)`` draws
  one state onto matplotlib Axes you pass in and returns the numbers it shows (a dict), so
  you can call it in a script, a test or a static notebook (Agg backend, no front end).
- ``*_widget(...)`` functions: sliders (ipywidgets) around the drawing function. Each
  returns an :class:`Explorer`, an ``ipywidgets.VBox`` of the controls, a one-line summary
  and a plot area. ``explorer.result`` always holds the numbers of the current slider
  values, ``explorer.update()`` recomputes them.

Live or static (the ``static`` argument of every widget function):

- ``static=False`` (live): the plot is drawn inside the widget and redrawn whenever a
  slider moves. Needs a widget front end (JupyterLab, Notebook 7, VS Code).
- ``static=True``: the figure of the *initial* values is drawn as an ordinary matplotlib
  figure (displayed when running in a notebook kernel) and kept in
  ``explorer.static_figure``; the sliders still work if a front end shows them.
- ``static=None`` (default): live if :func:`widget_front_end_available` says a front end
  will render the widgets, else static. So a notebook executed by nbconvert/nbclient in CI
  keeps a picture of every explorer in its outputs, while JupyterLab shows live sliders.
  Set the environment variable ``SEGCOURSE_WIDGETS=static`` (or ``live``) to force a mode.

Whatever the mode, moving a slider in a running kernel redraws the plot area, so an
explorer never goes dead because the detection guessed wrong.

The grids are drawn with row 0 at the top, as images are indexed.
"""

import math
import os

import ipywidgets as widgets
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.patches import Rectangle

from course_utils import metrics, shapes
from course_utils.transposed_conv import conv2d_transpose_scatter

__all__ = [
    "Explorer",
    "widget_front_end_available",
    # transposed convolution
    "compute_transposed_conv",
    "draw_transposed_conv",
    "transposed_conv_widget",
    # convolution next to transposed convolution
    "compute_conv_and_transposed",
    "draw_conv_and_transposed",
    "conv_and_transposed_widget",
    # sliding window
    "compute_sliding_window_cost",
    "draw_sliding_window",
    "sliding_window_widget",
    # unpooling
    "compute_unpooling",
    "draw_unpooling",
    "unpooling_widget",
    # metrics
    "rectangle_mask",
    "compute_overlap",
    "draw_metric_playground",
    "metric_playground_widget",
    "make_probability_map",
    "compute_threshold_curve",
    "draw_threshold",
    "threshold_widget",
]

# Colours of the overlap of a ground truth and a prediction.
TRUE_POSITIVE_COLOR = "#2ca02c"  # green: found
FALSE_POSITIVE_COLOR = "#ff7f0e"  # orange: predicted, not there
FALSE_NEGATIVE_COLOR = "#1f77b4"  # blue: there, missed
HIGHLIGHT_COLOR = "#d62728"  # red: the pixel or window you selected


# --- Live or static ------------------------------------------------------------


def _ipython_kernel():
    """The running IPython shell if it talks to a kernel (a notebook), else None."""
    try:
        from IPython import get_ipython
    except ImportError:
        return None
    shell = get_ipython()
    if shell is None or getattr(shell, "kernel", None) is None:
        return None
    return shell


def widget_front_end_available():
    """Guess whether a front end will render ipywidgets in this process.

    True when ``SEGCOURSE_WIDGETS=live``; False when ``SEGCOURSE_WIDGETS=static``.
    Otherwise True only inside a notebook kernel started by a Jupyter server (which sets
    ``JPY_SESSION_NAME``, JupyterLab and Notebook 7) or by VS Code (``VSCODE_PID``).
    Kernels started by nbconvert/nbclient (CI, autograding) set neither, and plain
    Python (scripts, pytest) has no kernel at all: both get static figures.
    """
    forced = os.environ.get("SEGCOURSE_WIDGETS", "").strip().lower()
    if forced in ("live", "static"):
        return forced == "live"
    if _ipython_kernel() is None:
        return False
    return "JPY_SESSION_NAME" in os.environ or "VSCODE_PID" in os.environ


def _show(figure):
    """Display a figure in the notebook (if any) and close it, so inline plotting does
    not show it a second time at the end of the cell."""
    if _ipython_kernel() is not None:
        from IPython.display import display

        display(figure)
        plt.close(figure)


class Explorer(widgets.VBox):
    """Controls, a one-line summary and a plot area that follows the controls.

    Attributes:
        controls: dict name -> ipywidgets control; their values are the keyword
            arguments of ``compute`` and ``draw``.
        result: dict of the numbers for the current values (from ``compute``).
        summary: ``ipywidgets.HTML`` showing ``describe(result)``.
        output: ``ipywidgets.Output`` the live plot is drawn into.
        static_figure: the matplotlib figure drawn in static mode, else None.
        live: whether the explorer started in live mode.
    """

    def __init__(self, title, controls, compute, draw, describe, figsize, num_axes=1,
                 static=None):
        super().__init__()
        self.title = title
        self.controls = dict(controls)
        self._compute, self._draw, self._describe = compute, draw, describe
        self._figsize, self._num_axes = figsize, num_axes
        self.summary = widgets.HTML()
        self.output = widgets.Output()
        self.children = [
            widgets.HTML(f"<b>{title}</b>"),
            widgets.HBox(list(self.controls.values()), layout=widgets.Layout(flex_flow="row wrap")),
            self.summary,
            self.output,
        ]
        self.live = widget_front_end_available() if static is None else not static
        self.static_figure = None
        self.result = {}
        for control in self.controls.values():
            control.observe(self._on_change, names="value")
        self.update()
        if self.live:
            self._redraw()
        else:
            self.static_figure = self.figure()
            _show(self.static_figure)

    def values(self):
        """The current control values as a dict (the keyword arguments of compute/draw)."""
        return {name: control.value for name, control in self.controls.items()}

    def update(self):
        """Recompute ``result`` (and the summary line) from the current control values."""
        self.result = self._compute(**self.values())
        self.summary.value = self._describe(self.result)
        return self.result

    def figure(self):
        """A new matplotlib figure of the current values (the caller closes it)."""
        figure, axes = plt.subplots(1, self._num_axes, figsize=self._figsize, squeeze=False)
        axes = axes[0]
        self._draw(axes[0] if self._num_axes == 1 else axes, **self.values())
        figure.tight_layout()
        return figure

    def _redraw(self):
        # Without a kernel nobody could see the plot: skip the drawing work.
        if _ipython_kernel() is None:
            return
        from IPython.display import clear_output, display

        with self.output:
            clear_output(wait=True)
            figure = self.figure()
            display(figure)
            plt.close(figure)

    def _on_change(self, change):
        self.update()
        self._redraw()

    def __repr__(self):
        # The text nbconvert keeps when no front end renders the widget.
        return f"{self.title}: {self._describe(self.result)}"


def _int_slider(description, value, minimum, maximum, step=1):
    return widgets.IntSlider(
        value=value, min=minimum, max=maximum, step=step, description=description,
        continuous_update=False, style={"description_width": "initial"},
    )


# --- Grid drawing helpers ----------------------------------------------------------


def _grid(ax, top, left, rows, cols, facecolor="white", edgecolor="0.3", linestyle="-",
          linewidth=0.8):
    """Draw a rows x cols grid of unit cells with its top-left corner at (top, left)."""
    for row in range(rows):
        for col in range(cols):
            ax.add_patch(Rectangle((left + col, top + row), 1, 1, facecolor=facecolor,
                                   edgecolor=edgecolor, linestyle=linestyle, linewidth=linewidth))


def _outline(ax, top, left, rows, cols, color, linewidth=2.5, fill_alpha=0.0, **kwargs):
    """Outline (and optionally tint) a block of cells."""
    if fill_alpha:
        ax.add_patch(Rectangle((left, top), cols, rows, facecolor=color, alpha=fill_alpha,
                               edgecolor="none"))
    ax.add_patch(Rectangle((left, top), cols, rows, facecolor="none", edgecolor=color,
                           linewidth=linewidth, **kwargs))


def _cell_texts(ax, top, left, values, fmt="{}", fontsize=9, color="black"):
    for (row, col), value in np.ndenumerate(np.asarray(values)):
        ax.text(left + col + 0.5, top + row + 0.5, fmt.format(value), ha="center",
                va="center", fontsize=fontsize, color=color)


def _finish_grid_axes(ax, width, height, top=0.0, left=0.0):
    ax.set_xlim(left - 0.3, left + width + 0.3)
    ax.set_ylim(top + height + 0.3, top - 0.8)  # row 0 at the top
    ax.set_aspect("equal")
    ax.set_xticks([])
    ax.set_yticks([])
    for spine in ax.spines.values():
        spine.set_visible(False)


def _square_index(index, size):
    """(row, col) of a row-major index into a size x size grid, clipped into the grid."""
    index = min(max(int(index), 0), size * size - 1)
    return divmod(index, size)


# --- Transposed convolution ------------------------------------------------------------


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
    row, col = _square_index(highlight, input_size)
    result["highlight"] = (row, col)
    full, out = result["full_size"], result["output_size"]
    gap = 2.0
    left_output = input_size + gap + padding  # output pixel (0, 0) sits here

    _grid(ax, 0, 0, input_size, input_size, facecolor="#e8eef7")
    _outline(ax, row, col, 1, 1, HIGHLIGHT_COLOR, fill_alpha=0.35)
    ax.text(input_size / 2, -0.3, f"input {input_size}x{input_size}", ha="center", fontsize=9)
    # The uncropped stamps, dashed: what padding removes.
    _grid(ax, -padding, left_output - padding, full, full, facecolor="none", edgecolor="0.7",
          linestyle="--", linewidth=0.6)
    if out is not None:
        _grid(ax, 0, left_output, out, out)
        _cell_texts(ax, 0, left_output, result["overlap"], fontsize=8 if out > 9 else 9)
        ax.text(left_output + out / 2, -0.3 - padding, f"output {out}x{out}", ha="center",
                fontsize=9)
    stamp_top = row * stride - padding
    stamp_left = col * stride - padding
    _outline(ax, stamp_top, left_output + stamp_left, kernel_size, kernel_size,
             HIGHLIGHT_COLOR, fill_alpha=0.2)
    ax.annotate("", xy=(left_output - padding - 0.2, full / 2 - padding),
                xytext=(input_size + 0.2, input_size / 2),
                arrowprops={"arrowstyle": "->", "color": "0.4"})
    ax.set_title(_transposed_conv_title(result), fontsize=10)
    ax.set_xlabel("numbers: kernel stamps adding up per output pixel; dashed: cropped by padding",
                  fontsize=8)
    drawn = max(full, out or 0)  # "valid" with stride > kernel keeps a gap after the stamps
    _finish_grid_axes(ax, left_output - padding + drawn, max(input_size, drawn), top=-padding)
    return result


def transposed_conv_widget(input_size=2, kernel_size=3, stride=2, padding=0, static=None):
    """Sliders for input size, kernel, stride, padding and the highlighted input pixel.

    The lecture's examples: kernel 3, stride 1 maps 2x2 to 4x4; stride 2 maps 2x2 to
    5x5; padding 1 with stride 1 keeps 5x5. See the module docstring for ``static``.
    """
    controls = {
        "input_size": _int_slider("input size", input_size, 1, 6),
        "kernel_size": _int_slider("kernel", kernel_size, 1, 5),
        "stride": _int_slider("stride", stride, 1, 4),
        "padding": _int_slider("padding", padding, 0, 3),
        "highlight": _int_slider("input pixel", 0, 0, input_size * input_size - 1),
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
    row, col = _square_index(highlight, small)
    result["highlight"] = (row, col)
    big, back = input_size, result["transposed_size"]
    gap = 2.0

    # Convolution: padded big grid -> small grid.
    padded = big + 2 * padding
    _grid(ax_conv, -padding, -padding, padded, padded, facecolor="none", edgecolor="0.7",
          linestyle="--", linewidth=0.6)
    _grid(ax_conv, 0, 0, big, big, facecolor="#e8eef7")
    _outline(ax_conv, row * stride - padding, col * stride - padding, kernel_size, kernel_size,
             HIGHLIGHT_COLOR, fill_alpha=0.25)
    small_left = big + padding + gap
    _grid(ax_conv, 0, small_left, small, small, facecolor="#fdf1e0")
    _outline(ax_conv, row, small_left + col, 1, 1, HIGHLIGHT_COLOR, fill_alpha=0.35)
    ax_conv.set_title(f"Convolution: {big}x{big} -> {small}x{small}\n({settings})", fontsize=10)
    _finish_grid_axes(ax_conv, small_left + small + padding, padded, top=-padding,
                      left=-padding)

    # Transposed convolution: small grid -> big grid (with the crop dashed).
    full = (small - 1) * stride + kernel_size
    _grid(ax_transposed, 0, 0, small, small, facecolor="#fdf1e0")
    _outline(ax_transposed, row, col, 1, 1, HIGHLIGHT_COLOR, fill_alpha=0.35)
    back_left = small + gap + padding
    _grid(ax_transposed, -padding, back_left - padding, full, full, facecolor="none",
          edgecolor="0.7", linestyle="--", linewidth=0.6)
    _grid(ax_transposed, 0, back_left, back, back, facecolor="#e8eef7")
    _outline(ax_transposed, row * stride - padding, back_left + col * stride - padding,
             kernel_size, kernel_size, HIGHLIGHT_COLOR, fill_alpha=0.25)
    ax_transposed.set_title(f"Transposed: {small}x{small} -> {back}x{back}\n({settings})",
                            fontsize=10)
    needed = result["output_padding_needed"]
    note = ("gives back the input size" if needed == 0 else
            f"{back} != {big}: output_padding={needed} restores the {big}x{big} input")
    ax_transposed.set_xlabel(note, fontsize=9)
    drawn = max(full, back)
    _finish_grid_axes(ax_transposed, back_left - padding + drawn, drawn, top=-padding)
    return result


def conv_and_transposed_widget(input_size=5, kernel_size=3, stride=2, padding=0, static=None):
    """Sliders for a convolution and its transposed convolution drawn side by side.

    The lecture's examples: 4x4 -> 2x2 -> 4x4 (kernel 3, stride 1); 5x5 -> 2x2 -> 5x5
    (stride 2); 5x5 -> 5x5 -> 5x5 (padding 1). Try 6x6 with stride 2: the convolution
    gives 2x2 too, and the transposed convolution cannot know which size to return.
    """
    controls = {
        "input_size": _int_slider("input size", input_size, 1, 8),
        "kernel_size": _int_slider("kernel", kernel_size, 1, 5),
        "stride": _int_slider("stride", stride, 1, 3),
        "padding": _int_slider("padding", padding, 0, 2),
        "highlight": _int_slider("output pixel", 0, 0, 63),
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


# --- Sliding window ------------------------------------------------------------------------

# The lecture's patch CNN and FCN share the encoder: (filters, kernel) of the three
# convolutions, each followed by a 2x2 max pooling with stride 2.
_ENCODER = ((40, 3), (40, 4), (80, 4))
_DENSE_UNITS = 100


def compute_sliding_window_cost(height, width, patch_size, stride, num_classes=4,
                                num_channels=1):
    """Patches and multiply-adds of the sliding window versus one FCN pass over a page.

    Patch centres are every ``stride``-th pixel in both directions (as
    ``course_utils.sliding_window``), so there are ``ceil(H / stride) * ceil(W / stride)``
    patches. Costs count the multiply-adds of the convolutions and dense layers (pooling
    and activations are cheap by comparison):

    - one patch through the lecture's patch CNN ("same" padding, as on the slide:
      Conv 40 3x3, Conv 40 4x4, Conv 80 4x4, each + 2x2 pooling, Dense 100, Dense classes);
    - the lecture's FCN-Upscaling on the whole page padded to multiples of 8 (the same
      three convolutions, 8x up-scaling, 1x1 convolution to the classes).

    Returns:
        dict with ``num_patches``, ``patch_multiply_adds``, ``sliding_multiply_adds``
        (all patches), ``fcn_multiply_adds`` and ``speedup`` (sliding / FCN).
    """
    num_patches = math.ceil(height / stride) * math.ceil(width / stride)

    def encoder_cost(rows, cols):
        cost, channels = 0, num_channels
        for filters, kernel in _ENCODER:
            cost += rows * cols * kernel * kernel * channels * filters
            channels = filters
            rows, cols = rows // 2, cols // 2
        return cost, rows, cols, channels

    cost, rows, cols, channels = encoder_cost(patch_size, patch_size)
    patch_cost = cost + rows * cols * channels * _DENSE_UNITS + _DENSE_UNITS * num_classes
    page_rows, page_cols = math.ceil(height / 8) * 8, math.ceil(width / 8) * 8
    cost, _, _, channels = encoder_cost(page_rows, page_cols)
    fcn_cost = cost + page_rows * page_cols * channels * num_classes
    sliding_cost = num_patches * patch_cost
    return {
        "height": height,
        "width": width,
        "patch_size": patch_size,
        "stride": stride,
        "num_patches": num_patches,
        "patch_multiply_adds": patch_cost,
        "sliding_multiply_adds": sliding_cost,
        "fcn_multiply_adds": fcn_cost,
        "speedup": sliding_cost / fcn_cost,
    }


def _format_count(count):
    """1234567 -> '1.23 M' (K, M, G, T)."""
    for factor, unit in ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "K")):
        if count >= factor:
            return f"{count / factor:.3g} {unit}"
    return str(int(count))


def draw_sliding_window(ax, page, patch_size, stride, num_classes=4, max_outlines=49):
    """Draw a page with the patch centres and the outlines of (some of) the patches.

    All patches are outlined when there are at most ``max_outlines``; otherwise the 3x3
    neighbouring patches around the page centre, enough to see how much they overlap.

    Returns:
        The dict of :func:`compute_sliding_window_cost` for the page's size.
    """
    page = np.asarray(page)
    if page.ndim == 3:
        page = page[..., 0]
    height, width = page.shape
    result = compute_sliding_window_cost(height, width, patch_size, stride, num_classes)
    ax.imshow(page, cmap="gray_r", vmin=0, vmax=max(float(page.max()), 1.0))
    centre_rows, centre_cols = np.arange(0, height, stride), np.arange(0, width, stride)
    grid_rows, grid_cols = np.meshgrid(centre_rows, centre_cols, indexing="ij")
    ax.scatter(grid_cols.ravel(), grid_rows.ravel(), s=4 if stride < 8 else 10,
               color=HIGHLIGHT_COLOR, zorder=3)
    if result["num_patches"] <= max_outlines:
        outlined = [(r, c) for r in centre_rows for c in centre_cols]
    else:
        middle_row = len(centre_rows) // 2
        middle_col = len(centre_cols) // 2
        outlined = [(centre_rows[i], centre_cols[j])
                    for i in range(max(middle_row - 1, 0), min(middle_row + 2, len(centre_rows)))
                    for j in range(max(middle_col - 1, 0), min(middle_col + 2, len(centre_cols)))]
    before = patch_size // 2  # a patch centred on r covers r - before ... r - before + ps - 1
    for r, c in outlined:
        ax.add_patch(Rectangle((c - before - 0.5, r - before - 0.5), patch_size, patch_size,
                               fill=False, edgecolor=FALSE_NEGATIVE_COLOR, linewidth=1.0))
    ax.set_xlim(-0.5 - before, width - 0.5 + before)
    ax.set_ylim(height - 0.5 + before, -0.5 - before)
    ax.set_title(f"{patch_size}x{patch_size} windows, stride {stride}: "
                 f"{result['num_patches']} patches", fontsize=10)
    ax.set_xlabel(f"sliding window {_format_count(result['sliding_multiply_adds'])} "
                  f"multiply-adds; FCN on the page {_format_count(result['fcn_multiply_adds'])} "
                  f"({result['speedup']:.0f}x fewer)", fontsize=9)
    return result


_example_page_cache = {}


def _example_page(size=128):
    """A synthetic document page of the course (made once, it takes about a second)."""
    if size not in _example_page_cache:
        from course_utils.data import make_page

        _example_page_cache[size] = make_page(seed=0, height=size, width=size)[0]
    return _example_page_cache[size]


def sliding_window_widget(page=None, patch_size=32, stride=16, num_classes=4, static=None):
    """Sliders for the window size and stride on a page: patch grid, count and cost.

    Args:
        page: array (H, W) or (H, W, 1); a synthetic 128x128 page of the course if None.
        patch_size, stride: initial slider values (patch sizes are multiples of 8, as
            the patch CNN's three poolings need).
        num_classes: classes of the patch CNN / FCN, for the cost of their last layer.
        static: see the module docstring.
    """
    page = _example_page() if page is None else np.asarray(page)
    height, width = page.shape[:2]
    controls = {
        "patch_size": _int_slider("window", patch_size, 8, 64, step=8),
        "stride": _int_slider("stride", stride, 1, 64),
    }

    def compute(patch_size, stride):
        return compute_sliding_window_cost(height, width, patch_size, stride, num_classes)

    def draw(ax, patch_size, stride):
        return draw_sliding_window(ax, page, patch_size, stride, num_classes)

    def describe(result):
        return (f"{result['num_patches']} patches, "
                f"{_format_count(result['sliding_multiply_adds'])} multiply-adds "
                f"(FCN: {_format_count(result['fcn_multiply_adds'])})")

    return Explorer("Sliding window", controls, compute, draw, describe, figsize=(6, 6),
                    static=static)


# --- Unpooling -----------------------------------------------------------------------------


def compute_unpooling(array, pool_size=2):
    """Max pooling with argmax, then max-unpooling, of one small 2-D array.

    Windows are ``pool_size x pool_size`` with stride ``pool_size``; the position of a
    maximum inside its window is numbered row by row (``row * pool_size + col``), the
    first one wins on ties. Written with loops: this is for looking at, not for speed.

    Returns:
        dict with ``pooled`` (maxima), ``argmax`` (positions in the window) and
        ``unpooled`` (each maximum back at its position, zeros elsewhere).
    """
    array = np.asarray(array)
    rows, cols = array.shape[0] // pool_size, array.shape[1] // pool_size
    pooled = np.zeros((rows, cols), dtype=array.dtype)
    argmax = np.zeros((rows, cols), dtype=int)
    unpooled = np.zeros((rows * pool_size, cols * pool_size), dtype=array.dtype)
    for row in range(rows):
        for col in range(cols):
            window = array[row * pool_size:(row + 1) * pool_size,
                           col * pool_size:(col + 1) * pool_size]
            position = int(np.argmax(window))  # row-major, first maximum on ties
            pooled[row, col] = window.flat[position]
            argmax[row, col] = position
            in_row, in_col = divmod(position, pool_size)
            unpooled[row * pool_size + in_row, col * pool_size + in_col] = pooled[row, col]
    return {"pool_size": pool_size, "pooled": pooled, "argmax": argmax, "unpooled": unpooled}


def draw_unpooling(axes, array, pool_size=2):
    """Three Axes: the input with its windows, the pooled values with their positions,
    and the unpooled result (the maxima back where they came from).

    Returns:
        The dict of :func:`compute_unpooling`.
    """
    ax_input, ax_pooled, ax_unpooled = axes
    array = np.asarray(array)
    result = compute_unpooling(array, pool_size)
    size = array.shape[0]
    rows = result["pooled"].shape[0]

    _grid(ax_input, 0, 0, size, size)
    _cell_texts(ax_input, 0, 0, array)
    for row in range(rows):
        for col in range(rows):
            _outline(ax_input, row * pool_size, col * pool_size, pool_size, pool_size, "0.2",
                     linewidth=2)
            in_row, in_col = divmod(int(result["argmax"][row, col]), pool_size)
            _outline(ax_input, row * pool_size + in_row, col * pool_size + in_col, 1, 1,
                     HIGHLIGHT_COLOR, linewidth=1.5, fill_alpha=0.3)
    ax_input.set_title(f"input {size}x{size}, {pool_size}x{pool_size} windows", fontsize=10)
    _finish_grid_axes(ax_input, size, size)

    _grid(ax_pooled, 0, 0, rows, rows, facecolor="#fdf1e0")
    for (row, col), value in np.ndenumerate(result["pooled"]):
        ax_pooled.text(col + 0.5, row + 0.42, f"{value}", ha="center", va="center", fontsize=11)
        ax_pooled.text(col + 0.5, row + 0.8, f"pos {result['argmax'][row, col]}", ha="center",
                       va="center", fontsize=7, color=HIGHLIGHT_COLOR)
    ax_pooled.set_title(f"max pooling -> {rows}x{rows}\nvalues and positions (argmax)",
                        fontsize=10)
    _finish_grid_axes(ax_pooled, rows, rows)

    _grid(ax_unpooled, 0, 0, size, size)
    for (row, col), value in np.ndenumerate(result["unpooled"]):
        is_maximum = divmod(int(result["argmax"][row // pool_size, col // pool_size]),
                            pool_size) == (row % pool_size, col % pool_size)
        if is_maximum:
            _outline(ax_unpooled, row, col, 1, 1, HIGHLIGHT_COLOR, linewidth=1.5,
                     fill_alpha=0.3)
        ax_unpooled.text(col + 0.5, row + 0.5, f"{value}", ha="center", va="center",
                         fontsize=9, color="black" if is_maximum else "0.6")
    for row in range(rows):
        for col in range(rows):
            _outline(ax_unpooled, row * pool_size, col * pool_size, pool_size, pool_size, "0.2",
                     linewidth=2)
    ax_unpooled.set_title(f"unpooling -> {size}x{size}\neach value back at its position",
                          fontsize=10)
    _finish_grid_axes(ax_unpooled, size, size)
    return result


def _random_unpooling_input(seed, pool_size, windows=2):
    return np.random.default_rng(seed).integers(0, 10, size=(windows * pool_size,) * 2)


def unpooling_widget(seed=0, pool_size=2, static=None):
    """Sliders for a random small array (seed) and the pool size: pooling and unpooling."""
    controls = {
        "seed": _int_slider("random array", seed, 0, 20),
        "pool_size": _int_slider("pool size", pool_size, 2, 3),
    }

    def compute(seed, pool_size):
        return compute_unpooling(_random_unpooling_input(seed, pool_size), pool_size)

    def draw(axes, seed, pool_size):
        return draw_unpooling(axes, _random_unpooling_input(seed, pool_size), pool_size)

    def describe(result):
        return (f"maxima {result['pooled'].tolist()} at positions {result['argmax'].tolist()} "
                f"(row * {result['pool_size']} + col in each window)")

    return Explorer("Max pooling with argmax, and unpooling", controls, compute, draw,
                    describe, figsize=(11, 4), num_axes=3, static=static)


# --- Metric playground ------------------------------------------------------------------------


def rectangle_mask(size, top, left, height, width):
    """A ``size x size`` bool mask, True in the rectangle (cut off at the border)."""
    mask = np.zeros((size, size), dtype=bool)
    mask[max(top, 0):max(top + height, 0), max(left, 0):max(left + width, 0)] = True
    return mask


def compute_overlap(y_true, y_pred):
    """Pixel counts and scores of two binary masks.

    Returns:
        dict with ``tp``, ``fp``, ``fn``, ``tn`` (ints) and ``dice``, ``iou`` (floats,
        from ``course_utils.metrics``; 1.0 when both masks are empty).
    """
    y_true, y_pred = np.asarray(y_true, dtype=bool), np.asarray(y_pred, dtype=bool)
    return {
        "tp": int(np.count_nonzero(y_true & y_pred)),
        "fp": int(np.count_nonzero(~y_true & y_pred)),
        "fn": int(np.count_nonzero(y_true & ~y_pred)),
        "tn": int(np.count_nonzero(~y_true & ~y_pred)),
        "dice": metrics.dice_coefficient(y_true, y_pred),
        "iou": metrics.iou_score(y_true, y_pred),
    }


def _overlap_image(y_true, y_pred):
    """RGB image: TP green, FP orange, FN blue, TN white."""
    from matplotlib.colors import to_rgb

    image = np.ones(y_true.shape + (3,))
    image[y_true & y_pred] = to_rgb(TRUE_POSITIVE_COLOR)
    image[~y_true & y_pred] = to_rgb(FALSE_POSITIVE_COLOR)
    image[y_true & ~y_pred] = to_rgb(FALSE_NEGATIVE_COLOR)
    return image


def _overlap_legend(ax, counts):
    from matplotlib.patches import Patch

    ax.legend(handles=[
        Patch(color=TRUE_POSITIVE_COLOR, label=f"TP {counts['tp']}"),
        Patch(color=FALSE_POSITIVE_COLOR, label=f"FP {counts['fp']}"),
        Patch(color=FALSE_NEGATIVE_COLOR, label=f"FN {counts['fn']}"),
    ], loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8)


def draw_metric_playground(ax, y_true, y_pred):
    """Draw the overlap of two masks (TP/FP/FN) with Dice and IoU in the title.

    Returns:
        The dict of :func:`compute_overlap`.
    """
    y_true, y_pred = np.asarray(y_true, dtype=bool), np.asarray(y_pred, dtype=bool)
    result = compute_overlap(y_true, y_pred)
    ax.imshow(_overlap_image(y_true, y_pred), interpolation="nearest")
    rows, cols = y_true.shape
    ax.set_xticks(np.arange(-0.5, cols, 1), minor=True)
    ax.set_yticks(np.arange(-0.5, rows, 1), minor=True)
    ax.grid(which="minor", color="0.85", linewidth=0.5)
    ax.tick_params(which="both", length=0, labelbottom=False, labelleft=False)
    ax.set_title(f"Dice {result['dice']:.3f}   IoU {result['iou']:.3f}", fontsize=11)
    ax.set_xlabel(f"Dice = 2TP / (2TP + FP + FN) = {2 * result['tp']} / "
                  f"{2 * result['tp'] + result['fp'] + result['fn']}", fontsize=9)
    _overlap_legend(ax, result)
    return result


def metric_playground_widget(size=10, true_box=(2, 2, 5, 4), pred_box=(3, 3, 5, 4),
                             static=None):
    """Sliders moving and resizing a predicted rectangle over a fixed true rectangle.

    Args:
        size: side of the square masks in pixels.
        true_box, pred_box: ``(top, left, height, width)`` of the ground truth and of the
            initial prediction.
        static: see the module docstring.

    Try: shift the prediction by one pixel, then make it one pixel larger, and compare
    how Dice and IoU react (IoU = Dice / (2 - Dice) is always the stricter one).
    """
    y_true = rectangle_mask(size, *true_box)
    top, left, height, width = pred_box
    controls = {
        "top": _int_slider("top", top, 0, size - 1),
        "left": _int_slider("left", left, 0, size - 1),
        "height": _int_slider("height", height, 0, size),
        "width": _int_slider("width", width, 0, size),
    }

    def compute(top, left, height, width):
        return compute_overlap(y_true, rectangle_mask(size, top, left, height, width))

    def draw(ax, top, left, height, width):
        return draw_metric_playground(ax, y_true, rectangle_mask(size, top, left, height, width))

    def describe(result):
        return (f"Dice {result['dice']:.3f}, IoU {result['iou']:.3f} "
                f"(TP {result['tp']}, FP {result['fp']}, FN {result['fn']})")

    return Explorer("Dice and IoU of a predicted rectangle", controls, compute, draw, describe,
                    figsize=(6, 4.5), static=static)


# --- Prediction threshold ------------------------------------------------------------------------


def make_probability_map(size=48, seed=0, softness=2.5, noise=0.15):
    """A ground-truth disk and a network-like probability map of it.

    The probabilities fall off smoothly across the disk's border (a sigmoid of the
    distance to it, ``softness`` pixels wide) and carry some noise, like the output of
    a network that is nearly but not quite sure.

    Returns:
        ``(y_true, probabilities)``: bool ``(size, size)`` and float ``(size, size)`` in [0, 1].
    """
    rng = np.random.default_rng(seed)
    rows, cols = np.mgrid[0:size, 0:size]
    centre_row, centre_col = rng.uniform(0.35, 0.65, size=2) * size
    radius = size * rng.uniform(0.2, 0.3)
    distance_inside = radius - np.hypot(rows - centre_row, cols - centre_col)
    y_true = distance_inside > 0
    # Shift the soft border outwards a little: a biased network, so 0.5 is not the best.
    probabilities = 1.0 / (1.0 + np.exp(-(distance_inside + 1.5) / softness))
    probabilities = probabilities + rng.normal(0.0, noise, size=probabilities.shape)
    return y_true, np.clip(probabilities, 0.0, 1.0)


def compute_threshold_curve(y_true, probabilities, thresholds=None):
    """Dice and IoU of ``probabilities > threshold`` for a range of thresholds.

    Returns:
        dict with ``thresholds``, ``dice`` and ``iou`` (arrays), ``best_threshold`` and
        ``best_dice`` (the threshold with the highest Dice, the first one on ties).
    """
    thresholds = np.linspace(0.0, 1.0, 51) if thresholds is None else np.asarray(thresholds)
    dice = np.array([metrics.dice_coefficient(y_true, probabilities > t) for t in thresholds])
    iou = np.array([metrics.iou_score(y_true, probabilities > t) for t in thresholds])
    best = int(np.argmax(dice))
    return {"thresholds": thresholds, "dice": dice, "iou": iou,
            "best_threshold": float(thresholds[best]), "best_dice": float(dice[best])}


def draw_threshold(axes, y_true, probabilities, threshold):
    """Three Axes: the probability map, the thresholded prediction against the truth, and
    Dice/IoU against the threshold with the current one marked.

    Returns:
        The dict of :func:`compute_overlap` for ``probabilities > threshold``, with
        ``threshold``, ``best_threshold`` and ``best_dice`` added.
    """
    ax_map, ax_mask, ax_curve = axes
    y_true = np.asarray(y_true, dtype=bool)
    probabilities = np.asarray(probabilities)
    y_pred = probabilities > threshold
    result = compute_overlap(y_true, y_pred)
    curve = compute_threshold_curve(y_true, probabilities)
    result.update(threshold=float(threshold), best_threshold=curve["best_threshold"],
                  best_dice=curve["best_dice"])

    image = ax_map.imshow(probabilities, cmap="viridis", vmin=0, vmax=1)
    ax_map.contour(y_true, levels=[0.5], colors="white", linewidths=1)
    ax_map.figure.colorbar(image, ax=ax_map, fraction=0.046, pad=0.04)
    ax_map.set_title("probabilities (white: true border)", fontsize=10)
    ax_map.set_axis_off()

    ax_mask.imshow(_overlap_image(y_true, y_pred), interpolation="nearest")
    ax_mask.set_title(f"threshold {threshold:.2f}: Dice {result['dice']:.3f}, "
                      f"IoU {result['iou']:.3f}", fontsize=10)
    ax_mask.set_axis_off()
    _overlap_legend(ax_mask, result)

    ax_curve.plot(curve["thresholds"], curve["dice"], label="Dice")
    ax_curve.plot(curve["thresholds"], curve["iou"], label="IoU")
    ax_curve.axvline(threshold, color=HIGHLIGHT_COLOR, linestyle="--",
                     label=f"threshold {threshold:.2f}")
    ax_curve.plot([curve["best_threshold"]], [curve["best_dice"]], "k*", markersize=10,
                  label=f"best Dice {curve['best_dice']:.3f} at {curve['best_threshold']:.2f}")
    ax_curve.set_xlabel("threshold")
    ax_curve.set_ylabel("score")
    ax_curve.set_ylim(0, 1.02)
    ax_curve.legend(fontsize=8, loc="lower center")
    ax_curve.set_title("Dice and IoU against the threshold", fontsize=10)
    return result


def threshold_widget(y_true=None, probabilities=None, threshold=0.5, static=None):
    """A threshold slider over a probability map: the mask, Dice/IoU and their curves.

    Args:
        y_true, probabilities: bool mask and float map of the same shape; the synthetic
            pair of :func:`make_probability_map` if None.
        threshold: initial threshold; pixels with probability above it are predicted.
        static: see the module docstring.
    """
    if y_true is None or probabilities is None:
        y_true, probabilities = make_probability_map()
    y_true = np.asarray(y_true, dtype=bool)
    probabilities = np.asarray(probabilities)
    controls = {
        "threshold": widgets.FloatSlider(value=threshold, min=0.0, max=1.0, step=0.02,
                                         description="threshold", continuous_update=False),
    }

    def compute(threshold):
        result = compute_overlap(y_true, probabilities > threshold)
        result["threshold"] = float(threshold)
        return result

    def draw(axes, threshold):
        return draw_threshold(axes, y_true, probabilities, threshold)

    def describe(result):
        return (f"threshold {result['threshold']:.2f}: Dice {result['dice']:.3f}, "
                f"IoU {result['iou']:.3f}")

    return Explorer("Thresholding a probability map", controls, compute, draw, describe,
                    figsize=(13, 4), num_axes=3, static=static)
