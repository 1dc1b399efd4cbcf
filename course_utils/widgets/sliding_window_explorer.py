"""Explorer of the sliding window on a page: the patch grid, the number of patches and
the cost in multiply-adds against one FCN pass."""

import math

import numpy as np
from matplotlib.patches import Rectangle

from course_utils.widgets.explorer import Explorer, int_slider
from course_utils.widgets.grid_drawing import FALSE_NEGATIVE_COLOR, HIGHLIGHT_COLOR

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
        "patch_size": int_slider("window", patch_size, 8, 64, step=8),
        "stride": int_slider("stride", stride, 1, 64),
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
