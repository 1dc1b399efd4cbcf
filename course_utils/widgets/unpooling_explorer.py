"""Explorer of max pooling with argmax followed by max-unpooling on a small array."""

import numpy as np

from course_utils.widgets.explorer import Explorer, int_slider
from course_utils.widgets.grid_drawing import (
    HIGHLIGHT_COLOR,
    draw_cells,
    finish_grid_axes,
    outline_cells,
    write_cell_values,
)


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

    draw_cells(ax_input, 0, 0, size, size)
    write_cell_values(ax_input, 0, 0, array)
    for row in range(rows):
        for col in range(rows):
            outline_cells(ax_input, row * pool_size, col * pool_size, pool_size, pool_size, "0.2",
                     linewidth=2)
            in_row, in_col = divmod(int(result["argmax"][row, col]), pool_size)
            outline_cells(ax_input, row * pool_size + in_row, col * pool_size + in_col, 1, 1,
                     HIGHLIGHT_COLOR, linewidth=1.5, fill_alpha=0.3)
    ax_input.set_title(f"input {size}x{size}, {pool_size}x{pool_size} windows", fontsize=10)
    finish_grid_axes(ax_input, size, size)

    draw_cells(ax_pooled, 0, 0, rows, rows, facecolor="#fdf1e0")
    for (row, col), value in np.ndenumerate(result["pooled"]):
        ax_pooled.text(col + 0.5, row + 0.42, f"{value}", ha="center", va="center", fontsize=11)
        ax_pooled.text(col + 0.5, row + 0.8, f"pos {result['argmax'][row, col]}", ha="center",
                       va="center", fontsize=7, color=HIGHLIGHT_COLOR)
    ax_pooled.set_title(f"max pooling -> {rows}x{rows}\nvalues and positions (argmax)",
                        fontsize=10)
    finish_grid_axes(ax_pooled, rows, rows)

    draw_cells(ax_unpooled, 0, 0, size, size)
    for (row, col), value in np.ndenumerate(result["unpooled"]):
        is_maximum = divmod(int(result["argmax"][row // pool_size, col // pool_size]),
                            pool_size) == (row % pool_size, col % pool_size)
        if is_maximum:
            outline_cells(ax_unpooled, row, col, 1, 1, HIGHLIGHT_COLOR, linewidth=1.5,
                     fill_alpha=0.3)
        ax_unpooled.text(col + 0.5, row + 0.5, f"{value}", ha="center", va="center",
                         fontsize=9, color="black" if is_maximum else "0.6")
    for row in range(rows):
        for col in range(rows):
            outline_cells(ax_unpooled, row * pool_size, col * pool_size, pool_size, pool_size, "0.2",
                     linewidth=2)
    ax_unpooled.set_title(f"unpooling -> {size}x{size}\neach value back at its position",
                          fontsize=10)
    finish_grid_axes(ax_unpooled, size, size)
    return result


def _random_unpooling_input(seed, pool_size, windows=2):
    return np.random.default_rng(seed).integers(0, 10, size=(windows * pool_size,) * 2)


def unpooling_widget(seed=0, pool_size=2, static=None):
    """Sliders for a random small array (seed) and the pool size: pooling and unpooling."""
    controls = {
        "seed": int_slider("random array", seed, 0, 20),
        "pool_size": int_slider("pool size", pool_size, 2, 3),
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
