"""Figures for the lecture slides that have no data of their own (matplotlib, Agg backend works).

Each ``draw_*`` function draws on the Axes it is given and returns what it drew (sizes,
boxes, values), so that a notebook can print the numbers beside the figure and a test can
check the drawing against them:

- :func:`make_traffic_light_scene` and :func:`draw_sliding_windows`: the slide
  "Sliding-Window (200x200 with Stride 100)": which 200 x 200 windows a stride of 100
  places on a street photo and what each one sees;
- :func:`draw_padding_modes`: the padding terms of the slide "Comparing Convolutions",
  full, no (valid) and half (same) padding, with the kernel positions and the output size;
- :func:`draw_transposed_conv_spread`: a transposed convolution as every input pixel
  spreading a scaled copy of the kernel into the output, ``stride`` pixels apart;
- :func:`draw_unet_diagram`: the U shape of a course U-Net (``models.build_unet``) with
  the tensor shapes of every level and the skip concatenations.
"""

from __future__ import annotations

import keras
import numpy as np
from matplotlib.patches import FancyArrowPatch, Rectangle

# What a window sees of the object (the traffic light), and the colour of its outline.
SEES_WHOLE, SEES_PART, SEES_NONE = "whole", "part", "none"
_SEES_COLORS = {SEES_WHOLE: "#d62728", SEES_PART: "#ff7f0e", SEES_NONE: "#1f77b4"}
_SEES_LABELS = {SEES_WHOLE: "traffic light", SEES_PART: "part of it", SEES_NONE: "background"}

# The traffic light's housing in the 400 x 600 scene (rows and columns, ends excluded), so
# that the slide's 200 x 200 windows with stride 100 hold it whole in exactly one window
# (number 3) and in part in five others.
_LIGHT_ROWS, _LIGHT_COLS = (80, 180), (390, 430)


def make_traffic_light_scene(height=400, width=600):
    """A synthetic street photo with one traffic light, for the sliding-window slide.

    Sky above, houses, a road below, and a traffic light on a pole: a dark housing of
    rows 80-179 and columns 390-429 (in the default 400 x 600 scene; scaled with the
    size) with red, amber and green lamps.

    Args:
        height, width: size of the scene in pixels, ints >= 40.

    Returns:
        ``(image, light_mask)``: ``image`` float32 (height, width, 3) RGB in [0, 1];
        ``light_mask`` bool (height, width), True on the traffic light's housing.

    Raises:
        ValueError: if a size is not an int >= 40.
    """
    for name, value in (("height", height), ("width", width)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 40:
            raise ValueError(f"{name} must be an int >= 40 (pixels), got {value!r}")
    along_rows, along_cols = height / 400, width / 600
    rows, cols = np.mgrid[:height, :width]
    image = np.empty((height, width, 3), np.float32)
    image[:] = (0.62, 0.80, 0.95)                                              # sky
    houses = (rows >= int(220 * along_rows)) & (rows < int(300 * along_rows)) & (
        (cols // max(int(80 * along_cols), 1)) % 2 == 0)
    image[houses] = (0.78, 0.70, 0.60)
    image[rows >= int(300 * along_rows)] = (0.35, 0.35, 0.38)                 # road
    lane = (rows >= int(344 * along_rows)) & (rows < int(352 * along_rows)) & (
        (cols // max(int(32 * along_cols), 1)) % 2 == 0)
    image[lane] = 0.95
    r0, r1 = (int(v * along_rows) for v in _LIGHT_ROWS)
    c0, c1 = (int(v * along_cols) for v in _LIGHT_COLS)
    pole = (rows >= r1) & (rows < int(320 * along_rows)) & (abs(cols - (c0 + c1) // 2) <= max(int(4 * along_cols), 1))
    image[pole] = (0.25, 0.25, 0.25)
    light_mask = (rows >= r0) & (rows < r1) & (cols >= c0) & (cols < c1)
    image[light_mask] = (0.10, 0.10, 0.10)
    radius = max(min(c1 - c0, (r1 - r0) / 3) * 0.35, 1.0)
    for k, colour in enumerate(((0.95, 0.15, 0.10), (0.95, 0.70, 0.10), (0.20, 0.80, 0.25))):
        centre_row = r0 + (k + 0.5) * (r1 - r0) / 3
        lamp = (rows - centre_row) ** 2 + (cols - (c0 + c1 - 1) / 2) ** 2 <= radius ** 2
        image[lamp & light_mask] = colour
    return image, light_mask


def _window_boxes(image_size, window_size, stride):
    """Top-left-anchored windows that fit the image, row by row: (y0, x0, y1, x1), ends excluded."""
    height, width = image_size
    for name, value in (("window_size", window_size), ("stride", stride)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"{name} must be an int >= 1 (pixels), got {value!r}")
    if window_size > min(height, width):
        raise ValueError(f"a {window_size} x {window_size} window does not fit the {height} x {width} image: "
                         f"window_size must be at most {min(height, width)}")
    starts_y = range(0, height - window_size + 1, stride)
    starts_x = range(0, width - window_size + 1, stride)
    return [(y, x, y + window_size, x + window_size) for y in starts_y for x in starts_x]


def draw_sliding_windows(ax, image, window_size, stride, object_mask, crop_axes=None):
    """Draw the windows a sliding window places on ``image`` and what each one sees.

    Windows start at the top-left corner and move ``stride`` pixels at a time, as long as
    they fit inside the image (no padding): ``(side - window_size) // stride + 1`` per
    axis. Each window's outline is coloured by how much of the object it holds: all of it
    (red, "traffic light"), part of it (orange) or none (blue, "background"); its number
    (row by row, from 0) is written in its corner.

    Args:
        ax: matplotlib Axes for the image with the window outlines.
        image: array (H, W) or (H, W, 3).
        window_size: side of the square window in pixels, int >= 1, at most min(H, W).
        stride: pixels between neighbouring windows, int >= 1.
        object_mask: bool array (H, W), True on the object (the traffic light).
        crop_axes: None, or one Axes per window: each shows what its window sees.

    Returns:
        dict: ``num_windows`` (int), ``windows_per_axis`` ((rows, columns)), ``boxes``
        (list of (y0, x0, y1, x1) in pixels, ends excluded, row by row) and ``sees``
        (list of ``"whole"``, ``"part"`` or ``"none"``, one per box).

    Raises:
        ValueError: if the window does not fit, a size is not a positive int, the mask's
            shape differs from the image's, or ``crop_axes`` has the wrong length.
    """
    image = np.asarray(image)
    object_mask = np.asarray(object_mask, bool)
    if object_mask.shape != image.shape[:2]:
        raise ValueError(f"object_mask must have the image's height and width {image.shape[:2]}, "
                         f"got {object_mask.shape}")
    boxes = _window_boxes(image.shape[:2], window_size, stride)
    total = int(object_mask.sum())
    sees = []
    for y0, x0, y1, x1 in boxes:
        inside = int(object_mask[y0:y1, x0:x1].sum())
        sees.append(SEES_WHOLE if total and inside == total else SEES_PART if inside else SEES_NONE)
    if crop_axes is not None and len(crop_axes) != len(boxes):
        raise ValueError(f"crop_axes must hold one Axes per window ({len(boxes)}), got {len(crop_axes)}")

    ax.imshow(image, cmap="gray_r" if image.ndim == 2 else None, interpolation="nearest")
    for number, ((y0, x0, y1, x1), seen) in enumerate(zip(boxes, sees)):
        inset = 3 * (number % 3)   # overlapping windows stay distinguishable
        ax.add_patch(Rectangle((x0 - 0.5 + inset, y0 - 0.5 + inset), x1 - x0 - 2 * inset, y1 - y0 - 2 * inset,
                               fill=False, lw=2, edgecolor=_SEES_COLORS[seen]))
        ax.text(x0 + 4 + inset, y0 + 4 + inset, str(number), color="white", fontsize=9, va="top",
                bbox={"facecolor": _SEES_COLORS[seen], "pad": 1, "lw": 0})
    per_axis = (len({b[0] for b in boxes}), len({b[1] for b in boxes}))
    ax.set_title(f"window {window_size} x {window_size}, stride {stride}: "
                 f"{per_axis[0]} x {per_axis[1]} = {len(boxes)} windows")
    ax.set_xticks([])
    ax.set_yticks([])
    crop_axes = () if crop_axes is None else crop_axes
    for crop_ax, number, (y0, x0, y1, x1), seen in zip(crop_axes, range(len(boxes)), boxes, sees):
        crop_ax.imshow(image[y0:y1, x0:x1], cmap="gray_r" if image.ndim == 2 else None, interpolation="nearest")
        crop_ax.set_title(f"{number}: {_SEES_LABELS[seen]}", color=_SEES_COLORS[seen])
        crop_ax.set_xticks([])
        crop_ax.set_yticks([])
    return {"num_windows": len(boxes), "windows_per_axis": per_axis, "boxes": boxes, "sees": sees}


# The padding terms of the slide "Comparing Convolutions", for a k x k kernel with stride 1.
PADDING_MODES = {
    "full": ("full padding", lambda k: k - 1),          # every overlap of kernel and input
    "valid": ("no padding (valid)", lambda k: 0),       # the kernel stays inside the input
    "same": ("half padding (same)", lambda k: k // 2),  # output size = input size (odd k)
}


def draw_padding_modes(axes, input_size=5, kernel_size=3):
    """Draw full, no (valid) and half (same) padding of a stride-1 convolution, one panel each.

    With an n x n input, a k x k kernel and p zeros on every side the output is
    ``n + 2p - k + 1`` pixels wide: **full** padding (p = k - 1) gives n + k - 1, **no**
    padding (p = 0) n - k + 1, **half** padding (p = k // 2, k odd) n. Each panel shows
    the input cells (blue), the padding zeros (white, dashed), the kernel at its first and
    last position (red), and a dot at the centre of every kernel position: one dot per
    output pixel.

    Args:
        axes: three matplotlib Axes, for full, valid and same padding.
        input_size: n, side of the square input, int >= 1.
        kernel_size: k, side of the square kernel, odd int >= 1 (half padding needs an odd
            kernel), at most ``input_size``.

    Returns:
        dict mode -> {"padding": p, "output_size": n + 2p - k + 1, "kernel_centres": list
        of (row, column) in padded-grid cells}, for the modes "full", "valid", "same".

    Raises:
        ValueError: if ``axes`` is not three Axes, or a size is out of range.
    """
    if len(axes) != 3:
        raise ValueError(f"axes must be three Axes (full, valid, same), got {len(axes)}")
    for name, value in (("input_size", input_size), ("kernel_size", kernel_size)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"{name} must be an int >= 1, got {value!r}")
    if kernel_size % 2 == 0 or kernel_size > input_size:
        raise ValueError(f"kernel_size must be odd (half padding) and at most input_size={input_size}, "
                         f"got {kernel_size}")
    drawn = {}
    for ax, (mode, (title, padding_of)) in zip(axes, PADDING_MODES.items()):
        padding = padding_of(kernel_size)
        grid = input_size + 2 * padding
        output_size = grid - kernel_size + 1
        for row in range(grid):
            for col in range(grid):
                is_input = padding <= row < padding + input_size and padding <= col < padding + input_size
                ax.add_patch(Rectangle((col, row), 1, 1, facecolor="#aec7e8" if is_input else "white",
                                       edgecolor="#1f77b4" if is_input else "#999999",
                                       ls="-" if is_input else "--", lw=1, label="input" if is_input else "padding"))
        for start, style in ((0, "-"), (output_size - 1, ":")):
            ax.add_patch(Rectangle((start, start), kernel_size, kernel_size, fill=False, edgecolor="#d62728",
                                   lw=2.5, ls=style, label="kernel"))
        centres = [(r + kernel_size / 2, c + kernel_size / 2) for r in range(output_size) for c in range(output_size)]
        ax.plot([c for _, c in centres], [r for r, _ in centres], "o", color="#d62728", ms=4, label="kernel centres")
        ax.set_xlim(-0.2, grid + 0.2)
        ax.set_ylim(grid + 0.2, -0.2)
        ax.set_aspect("equal")
        ax.set_axis_off()
        ax.set_title(f"{title}, p = {padding}\n{input_size}x{input_size} -> {output_size}x{output_size}")
        drawn[mode] = {"padding": padding, "output_size": output_size, "kernel_centres": centres}
    return drawn


def draw_transposed_conv_spread(axes, inputs, kernel, stride):
    """Draw a transposed convolution as the sum of one scaled kernel per input pixel.

    Input pixel (i, j) with value v writes ``v * kernel`` into the output with its top-left
    corner at (i * stride, j * stride); where copies overlap they add up. The output is
    ``(h - 1) * stride + k`` pixels high (no padding). One panel per input pixel shows its
    copy (its cells framed, values written), the last panel the sum.

    Args:
        axes: ``h * w + 1`` matplotlib Axes: one per input pixel (row by row), then the sum.
        inputs: float array (h, w), the small input (one channel).
        kernel: float array (k, k) (one input, one output channel).
        stride: int >= 1, the up-sampling factor.

    Returns:
        dict: ``contributions`` float array (h * w, H, W), each input pixel's scaled
        kernel in the output grid; ``output`` float array (H, W), their sum.

    Raises:
        ValueError: if the arrays are not 2-D, the kernel not square, the stride not a
            positive int, or the number of Axes is not ``h * w + 1``.
    """
    inputs, kernel = np.asarray(inputs, float), np.asarray(kernel, float)
    if inputs.ndim != 2 or kernel.ndim != 2 or kernel.shape[0] != kernel.shape[1]:
        raise ValueError(f"inputs must be (h, w) and kernel (k, k), got shapes {inputs.shape} and {kernel.shape}")
    if isinstance(stride, bool) or not isinstance(stride, (int, np.integer)) or stride < 1:
        raise ValueError(f"stride must be an int >= 1, got {stride!r}")
    (h, w), k = inputs.shape, kernel.shape[0]
    if len(axes) != h * w + 1:
        raise ValueError(f"axes must hold one Axes per input pixel plus one for the sum ({h * w + 1}), "
                         f"got {len(axes)}")
    out_h, out_w = (h - 1) * stride + k, (w - 1) * stride + k
    contributions = np.zeros((h * w, out_h, out_w))
    for number, (i, j) in enumerate(np.ndindex(h, w)):
        contributions[number, i * stride:i * stride + k, j * stride:j * stride + k] = inputs[i, j] * kernel
    output = contributions.sum(axis=0)
    limit = max(np.abs(contributions).max(), np.abs(output).max(), 1e-12)
    for number, (i, j) in enumerate(np.ndindex(h, w)):
        ax = axes[number]
        ax.imshow(contributions[number], cmap="RdBu_r", vmin=-limit, vmax=limit)
        ax.add_patch(Rectangle((j * stride - 0.5, i * stride - 0.5), k, k, fill=False, edgecolor="black", lw=2))
        for y, x in np.ndindex(k, k):
            ax.text(j * stride + x, i * stride + y, f"{contributions[number, i * stride + y, j * stride + x]:g}",
                    ha="center", va="center", fontsize=8)
        ax.set_title(f"x[{i},{j}] = {inputs[i, j]:g} times the kernel")
    ax = axes[-1]
    ax.imshow(output, cmap="RdBu_r", vmin=-limit, vmax=limit)
    for y, x in np.ndindex(out_h, out_w):
        ax.text(x, y, f"{output[y, x]:g}", ha="center", va="center", fontsize=8)
    ax.set_title(f"sum: {h}x{w} -> {out_h}x{out_w} (stride {stride})")
    for ax in axes:
        ax.set_xticks(np.arange(-0.5, out_w, 1), minor=True)
        ax.set_yticks(np.arange(-0.5, out_h, 1), minor=True)
        ax.grid(which="minor", color="#cccccc", lw=0.5)
        ax.tick_params(which="both", length=0, labelbottom=False, labelleft=False)
    return {"contributions": contributions, "output": output}


def unet_level_shapes(model, input_size=128):
    """The tensor shape of every U-Net level of ``model`` on one ``input_size`` square image.

    Args:
        model: a U-Net from ``course_utils.models.build_unet`` with ``padding='same'``.
        input_size: side of the square input in pixels, a multiple of ``2**depth``.

    Returns:
        list of dicts, top to bottom and back: {"name": layer-group name ("enc1",
        "bottleneck", "dec1", ...), "role": "encoder" | "bottleneck" | "decoder",
        "level": 0 at the top, "shape": (height, width, channels)}; first the input
        ("input", level 0), last the output ("output", level 0).

    Raises:
        ValueError: if ``model`` is not a course U-Net (its layers are named by
            ``build_unet``: ``enc1_relu2``, ..., ``bottleneck_relu2``, ``dec1_relu2``).
    """
    names = {layer.name for layer in model.layers}
    depth = sum(1 for name in names if name.startswith("pool"))
    expected = ([f"enc{i}_relu2" for i in range(1, depth + 1)] + ["bottleneck_relu2"]
                + [f"dec{i}_relu2" for i in range(1, depth + 1)])
    missing = [name for name in expected if name not in names]
    if depth == 0 or missing:
        raise ValueError(f"model is not a U-Net of course_utils.models.build_unet: no layers {missing or ['pool1']}")
    groups = ([("input", "input", 0)] + [(f"enc{i}", "encoder", i - 1) for i in range(1, depth + 1)]
              + [("bottleneck", "bottleneck", depth)]
              + [(f"dec{i}", "decoder", i - 1) for i in range(depth, 0, -1)] + [("output", "output", 0)])
    outputs = [model.get_layer(f"{name}_relu2").output for name, role, _ in groups[1:-1]]
    probe = keras.Model(model.inputs[0], outputs)
    channels = model.inputs[0].shape[-1]
    values = probe(np.zeros((1, input_size, input_size, channels), np.float32), training=False)
    shapes = [(input_size, input_size, channels)] + [tuple(int(d) for d in v.shape[1:]) for v in values]
    shapes.append((input_size, input_size, int(model.outputs[0].shape[-1])))
    return [{"name": name, "role": role, "level": level, "shape": shape}
            for (name, role, level), shape in zip(groups, shapes)]


def draw_unet_diagram(ax, model, input_size=128):
    """Draw the U shape of a course U-Net with the tensor shape of every level.

    The encoder goes down the left side (two 3x3 convolutions per level, then 2x2 max
    pooling: red arrows), the bottleneck sits at the bottom, the decoder climbs the right
    side (2x2 transposed convolution with stride 2: green arrows, then two 3x3
    convolutions); at every level a grey arrow carries the encoder's features across to
    be concatenated with the decoder's (the skip connections).

    Args:
        ax: matplotlib Axes.
        model: a U-Net from ``course_utils.models.build_unet`` (``padding='same'``).
        input_size: side of the square input, a multiple of ``2**depth``.

    Returns:
        dict: ``levels`` (as :func:`unet_level_shapes`) and ``skips`` (list of (encoder
        name, decoder name) pairs joined by a concatenation).

    Raises:
        ValueError: if ``model`` is not a course U-Net.
    """
    levels = unet_level_shapes(model, input_size)
    depth = max(level["level"] for level in levels)
    decoder_steps = sum(1 for level in levels if level["role"] == "decoder")
    positions = {}
    for index, level in enumerate(levels):      # a U: x grows step by step, y follows the level
        positions[level["name"]] = (index * 1.6, -level["level"] * 1.3)
    for level in levels:
        x, y = positions[level["name"]]
        colour = {"input": "#dddddd", "encoder": "#aec7e8", "bottleneck": "#c5b0d5", "decoder": "#98df8a",
                  "output": "#dddddd"}[level["role"]]
        ax.add_patch(Rectangle((x - 0.7, y - 0.4), 1.4, 0.8, facecolor=colour, edgecolor="black"))
        height, width, channels = level["shape"]
        ax.text(x, y + 0.12, level["name"], ha="center", va="center", fontsize=9, weight="bold")
        ax.text(x, y - 0.17, f"{height}x{width}x{channels}", ha="center", va="center", fontsize=8)

    def arrow(start, end, colour, text=None, **style):
        (x0, y0), (x1, y1) = positions[start], positions[end]
        ax.add_patch(FancyArrowPatch((x0, y0), (x1, y1), arrowstyle="-|>", mutation_scale=12, color=colour,
                                     shrinkA=22, shrinkB=22, **style))
        if text:   # beside a sloped arrow, above a level one
            side = {True: ("right", -0.15), False: ("left", 0.15)}[y1 < y0] if y1 != y0 else ("center", 0.0)
            ax.text((x0 + x1) / 2 + side[1], (y0 + y1) / 2 + (0.12 if y1 == y0 else 0), text, ha=side[0],
                    va="center", fontsize=7, color=colour)

    names = [level["name"] for level in levels]
    for start, end in zip(names, names[1:]):
        going_down = positions[end][1] < positions[start][1]
        going_up = positions[end][1] > positions[start][1]
        if going_down:
            arrow(start, end, "#d62728", "max pool 2x2")
        elif going_up:
            arrow(start, end, "#2ca02c", "up-conv 2x2, s 2")
        else:
            arrow(start, end, "black", "1x1 conv" if end == "output" else None)
    skips = [(f"enc{i}", f"dec{i}") for i in range(1, decoder_steps + 1)]
    for encoder_name, decoder_name in skips:
        arrow(encoder_name, decoder_name, "#7f7f7f", "copy + concatenate", ls="--")
    xs = [x for x, _ in positions.values()]
    ys = [y for _, y in positions.values()]
    ax.set_xlim(min(xs) - 1, max(xs) + 1)
    ax.set_ylim(min(ys) - 0.8, max(ys) + 0.8)
    ax.set_aspect("equal")
    ax.set_axis_off()
    ax.set_title(f"U-Net, depth {depth}, on a {input_size} x {input_size} input")
    return {"levels": levels, "skips": skips}

