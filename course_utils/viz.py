"""Label masks drawn over images with matplotlib (works with the non-interactive Agg backend).

Class 0 (background) is left transparent so the image shows through; every other class
gets a colour from ``CLASS_COLORS`` (or your own list) and an entry in the legend.
"""

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.colors import to_rgba
from matplotlib.patches import Patch

# Colour of class k is CLASS_COLORS[k]; index 0 (background) is drawn transparent.
CLASS_COLORS = (
    "#ffffff",  # background
    "#1f77b4",  # blue: text
    "#d62728",  # red: figure
    "#2ca02c",  # green: separator
    "#ff7f0e",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#17becf",
    "#bcbd22",
)


def _image_2d(image):
    """(H, W) or (H, W, 1) -> (H, W); colour images (H, W, 3/4) are returned unchanged."""
    image = np.asarray(image)
    if image.ndim == 3 and image.shape[-1] == 1:
        image = image[..., 0]
    return image


def overlay_mask(
    image,
    labels,
    class_names,
    ax=None,
    alpha=0.5,
    colors=None,
    title=None,
    image_cmap="gray_r",
):
    """Draw an image with its label mask on top, in colour, with a legend of the classes.

    Args:
        image: array (H, W), (H, W, 1) or (H, W, 3) of pixel values. Grey images are drawn
            with ``image_cmap``; the default ``"gray_r"`` shows 1.0 (ink) as black.
        labels: integer array (H, W) of class indices in [0, len(class_names)).
        class_names: sequence of class names; entry k names class k (k = 0 is the
            background and is drawn transparent).
        ax: matplotlib Axes to draw on; a new figure and Axes are made if None.
        alpha: opacity of the coloured classes, float in [0, 1].
        colors: sequence of matplotlib colours, one per class; ``CLASS_COLORS`` if None.
        title: Axes title, or None.
        image_cmap: colour map for grey images.

    Returns:
        The matplotlib Axes drawn on.

    Raises:
        ValueError: if image and labels differ in height/width, or there are more classes
            than colours.
    """
    image = _image_2d(image)
    labels = np.asarray(labels)
    if labels.ndim != 2 or image.shape[:2] != labels.shape:
        raise ValueError(
            "image and labels must have the same height and width, got image "
            f"{image.shape} and labels {labels.shape}"
        )
    colors = CLASS_COLORS if colors is None else colors
    if len(class_names) > len(colors):
        raise ValueError(
            f"need one colour per class: {len(class_names)} classes, {len(colors)} colours"
        )
    if ax is None:
        _, ax = plt.subplots()
    ax.imshow(image, cmap=image_cmap, interpolation="nearest", vmin=0.0, vmax=1.0)

    # Lookup table class index -> RGBA; background fully transparent.
    palette = np.array([to_rgba(c, alpha) for c in colors[: len(class_names)]])
    palette[0, 3] = 0.0
    clipped = np.clip(labels, 0, len(class_names) - 1).astype(np.intp)
    ax.imshow(palette[clipped], interpolation="nearest")

    handles = [
        Patch(facecolor=to_rgba(colors[k], 1.0 if k else 0.0), edgecolor="black", label=name)
        for k, name in enumerate(class_names)
    ]
    ax.legend(handles=handles, loc="upper right", fontsize="small", framealpha=0.8)
    ax.set_xticks([])
    ax.set_yticks([])
    if title is not None:
        ax.set_title(title)
    return ax


def show_segmentation(image, true_labels, predictions, class_names, panel_size=4.0):
    """One row of panels: the input, its ground truth, then each named prediction.

    Args:
        image: array (H, W) or (H, W, 1), e.g. a page (1.0 = ink).
        true_labels: integer array (H, W), the ground-truth class indices.
        predictions: dict mapping a panel title (e.g. "FCN") to an integer label array
            (H, W); panels follow the dict's order.
        class_names: sequence of class names, entry k names class k.
        panel_size: width and height of each panel in inches.

    Returns:
        The matplotlib Figure.
    """
    num_panels = 2 + len(predictions)
    fig, axes = plt.subplots(1, num_panels, figsize=(panel_size * num_panels, panel_size))
    axes[0].imshow(_image_2d(image), cmap="gray_r", interpolation="nearest", vmin=0, vmax=1)
    axes[0].set_title("Input")
    axes[0].set_xticks([])
    axes[0].set_yticks([])
    overlay_mask(image, true_labels, class_names, ax=axes[1], title="Ground truth")
    for ax, (name, predicted) in zip(axes[2:], predictions.items()):
        overlay_mask(image, predicted, class_names, ax=ax, title=name)
    fig.tight_layout()
    return fig


def show_instances(image, masks, class_ids, class_names, scores=None, boxes=None, ax=None, alpha=0.55,
                   title=None):
    """Instance masks over an image: one colour per *instance*, a label per instance.

    Each instance gets its own colour (instances of the same class are told apart) and a
    text "class name [score]" at the top-left of its mask (or of its box).

    Args:
        image: array (H, W, 3) in [0, 1], or (H, W) grey.
        masks: bool (n, H, W); class_ids: int (n,) with class k named ``class_names[k]``.
        scores: optional float (n,) shown after the names.
        boxes: optional (n, 4) boxes (y1, x1, y2, x2) in pixels, drawn as rectangles.
        ax: matplotlib Axes, or None for a new figure.
        alpha: opacity of the masks.
        title: Axes title, or None.

    Returns:
        The matplotlib Axes drawn on.
    """
    masks = np.asarray(masks, dtype=bool)
    image = _image_2d(image)
    if masks.ndim != 3 or masks.shape[1:] != image.shape[:2]:
        raise ValueError(f"masks must be an array (n, H, W) with (H, W) = the image's {image.shape[:2]}, "
                         f"got shape {masks.shape}")
    class_ids = np.asarray(class_ids).reshape(-1)
    if len(class_ids) != len(masks):
        raise ValueError(f"class_ids must have one entry per mask ({len(masks)}), got {len(class_ids)}")
    if ax is None:
        _, ax = plt.subplots(figsize=(4, 4))
    ax.imshow(image, cmap=None if image.ndim == 3 else "gray", interpolation="nearest")
    colours = plt.get_cmap("tab10")
    overlay = np.zeros(image.shape[:2] + (4,))
    for k, mask in enumerate(masks):
        overlay[mask] = to_rgba(colours(k % 10), alpha)
    ax.imshow(overlay, interpolation="nearest")
    for k, (mask, class_id) in enumerate(zip(masks, class_ids)):
        if boxes is not None:
            y1, x1, y2, x2 = np.asarray(boxes[k], dtype=float)
            ax.add_patch(plt.Rectangle((x1 - 0.5, y1 - 0.5), x2 - x1, y2 - y1, fill=False, lw=1,
                                       edgecolor=colours(k % 10)))
            anchor = (x1, y1)
        elif mask.any():
            rows, cols = np.nonzero(mask)
            anchor = (cols.min(), rows.min())
        else:
            continue
        label = str(class_names[int(class_id)]) + ("" if scores is None else f" {float(scores[k]):.2f}")
        ax.text(anchor[0], anchor[1] - 1, label, fontsize=7, color="white", va="bottom",
                bbox=dict(facecolor=colours(k % 10), alpha=0.8, pad=1, lw=0))
    ax.set_xticks([])
    ax.set_yticks([])
    if title is not None:
        ax.set_title(title)
    return ax
