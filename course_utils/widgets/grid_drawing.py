"""Drawing grids of unit cells on matplotlib Axes, row 0 at the top (as images are indexed),
and the colours the explorers share."""

import numpy as np
from matplotlib.patches import Rectangle

# Colours of the overlap of a ground truth and a prediction.
TRUE_POSITIVE_COLOR = "#2ca02c"  # green: found
FALSE_POSITIVE_COLOR = "#ff7f0e"  # orange: predicted, not there
FALSE_NEGATIVE_COLOR = "#1f77b4"  # blue: there, missed
HIGHLIGHT_COLOR = "#d62728"  # red: the pixel or window you selected


def draw_cells(ax, top, left, rows, cols, facecolor="white", edgecolor="0.3", linestyle="-", linewidth=0.8):
    """Draw a rows x cols grid of unit cells with its top-left corner at (top, left)."""
    for row in range(rows):
        for col in range(cols):
            ax.add_patch(Rectangle((left + col, top + row), 1, 1, facecolor=facecolor,
                                   edgecolor=edgecolor, linestyle=linestyle, linewidth=linewidth))


def outline_cells(ax, top, left, rows, cols, color, linewidth=2.5, fill_alpha=0.0, **kwargs):
    """Outline (and optionally tint) a block of cells."""
    if fill_alpha:
        ax.add_patch(Rectangle((left, top), cols, rows, facecolor=color, alpha=fill_alpha,
                               edgecolor="none"))
    ax.add_patch(Rectangle((left, top), cols, rows, facecolor="none", edgecolor=color,
                           linewidth=linewidth, **kwargs))


def write_cell_values(ax, top, left, values, fmt="{}", fontsize=9, color="black"):
    """Write each value of the 2-D ``values`` centred in its cell, cell (0, 0) at (top, left)."""
    for (row, col), value in np.ndenumerate(np.asarray(values)):
        ax.text(left + col + 0.5, top + row + 0.5, fmt.format(value), ha="center",
                va="center", fontsize=fontsize, color=color)


def finish_grid_axes(ax, width, height, top=0.0, left=0.0):
    """Fit the Axes to a drawing of ``width x height`` cells from (top, left): equal
    aspect, row 0 at the top, no ticks or frame."""
    ax.set_xlim(left - 0.3, left + width + 0.3)
    ax.set_ylim(top + height + 0.3, top - 0.8)  # row 0 at the top
    ax.set_aspect("equal")
    ax.set_xticks([])
    ax.set_yticks([])
    for spine in ax.spines.values():
        spine.set_visible(False)


def square_index(index, size):
    """(row, col) of a row-major index into a size x size grid, clipped into the grid."""
    index = min(max(int(index), 0), size * size - 1)
    return divmod(index, size)
