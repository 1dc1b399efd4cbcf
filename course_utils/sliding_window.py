"""Sliding-window segmentation: cut a page into patches, classify each patch's centre.

The page is padded with paper (zeros) by ``patch_size // 2`` so that every pixel can be
a patch centre. For an even ``patch_size`` the centre pixel is the one at index
``patch_size // 2`` of the patch (rows and columns), i.e. a patch centred on (r, c)
covers rows ``r - patch_size // 2`` to ``r + patch_size - 1 - patch_size // 2``.

``predict_sliding_window_dense`` computes the same as ``predict_sliding_window`` with the
patch CNN turned into a fully convolutional network (``models.convolutionalize``): the
convolutions of overlapping patches are computed once, which is orders of magnitude
faster for small strides.

Also here: ``predict_fcn``, the whole-page prediction of a fully convolutional network,
so both approaches return the same kind of label map.
"""

import math

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from course_utils import models
from course_utils.argument_checks import check_int


def _as_hwc(page):
    """Return ``page`` as a float32 (H, W, C) array; (H, W) gets a channel axis."""
    page = np.asarray(page, dtype=np.float32)
    if page.ndim == 2:
        page = page[:, :, None]
    if page.ndim != 3:
        raise ValueError(f"page must have shape (H, W) or (H, W, C), got {page.shape}")
    return page


def _pad_for_patches(images, patch_size):
    """Pad rows and columns (axes -3, -2) with paper so any pixel can be a patch centre."""
    before = patch_size // 2
    after = patch_size - 1 - before
    pad = [(0, 0)] * images.ndim
    pad[-3] = pad[-2] = (before, after)
    return np.pad(images, pad, mode="constant", constant_values=0.0)


def _patch_grid(page, patch_size, stride):
    """Read-only view (rows, cols, patch_size, patch_size, C) of the patches on the grid."""
    padded = _pad_for_patches(page, patch_size)
    # sliding_window_view puts the window axes last: (H, W, C, ps, ps) before striding.
    windows = sliding_window_view(padded, (patch_size, patch_size), axis=(0, 1))
    return windows[::stride, ::stride].transpose(0, 1, 3, 4, 2)


def extract_patches(page, patch_size, stride):
    """Cut square patches centred on every ``stride``-th pixel of a page.

    Centres are the pixels (r, c) with r in 0, stride, 2*stride, ... < H and c likewise;
    the page is padded with zeros (paper) so patches at the border are complete.

    Args:
        page: array (H, W) or (H, W, C), float pixel values (1.0 = ink for pages).
        patch_size: side of the square patches in pixels, int >= 1.
        stride: distance between neighbouring centres in pixels, int >= 1.

    Returns:
        (patches, centers):
        patches: float32 array (P, patch_size, patch_size, C), P = ceil(H / stride) *
            ceil(W / stride), in row-major order of the centres.
        centers: int64 array (P, 2) of the (row, col) of each patch's centre pixel.

    Raises:
        ValueError: if ``page`` has the wrong number of axes or a size is not a positive
            integer.
    """
    check_int("patch_size", patch_size, 1)
    check_int("stride", stride, 1)
    page = _as_hwc(page)
    grid = _patch_grid(page, patch_size, stride)
    patches = grid.reshape(-1, patch_size, patch_size, page.shape[2])  # copies the view
    rows, cols = np.meshgrid(
        np.arange(0, page.shape[0], stride), np.arange(0, page.shape[1], stride), indexing="ij"
    )
    centers = np.stack([rows.ravel(), cols.ravel()], axis=1).astype(np.int64)
    return patches, centers


def patch_training_set(images, labels, patch_size, num_patches, seed, balanced=True):
    """Sample random patches and the class of their centre pixel, for the patch CNN.

    Background dominates document pages (about 60 % of the pixels, separators only
    2-4 %), so by default the centres are drawn class by class: every class that occurs
    in ``labels`` gets the same share of ``num_patches`` (drawn with replacement, so rare
    classes repeat). With ``balanced=False`` centres are uniform over all pixels and the
    class frequencies follow the pages.

    Args:
        images: array (N, H, W) or (N, H, W, C) of pages, float pixel values.
        labels: integer array (N, H, W) of class indices.
        patch_size: side of the square patches in pixels, int >= 1.
        num_patches: number of patches to return, int >= 1.
        seed: int for ``numpy.random.default_rng``; same seed, same patches.
        balanced: draw the same number of centres from every class present.

    Returns:
        (patches, center_labels), shuffled:
        patches: float32 array (num_patches, patch_size, patch_size, C).
        center_labels: uint8 array (num_patches,), class of each patch's centre pixel.

    Raises:
        ValueError: if shapes do not match or a size is not a positive integer.
    """
    check_int("patch_size", patch_size, 1)
    check_int("num_patches", num_patches, 1)
    images = np.asarray(images, dtype=np.float32)
    labels = np.asarray(labels)
    if images.ndim == 3:
        images = images[..., None]
    if images.ndim != 4 or labels.shape != images.shape[:3]:
        raise ValueError(
            "images must be (N, H, W) or (N, H, W, C) and labels (N, H, W) with the same "
            f"N, H, W; got images {images.shape} and labels {labels.shape}"
        )
    rng = np.random.default_rng(seed)
    flat_labels = labels.ravel()
    if balanced:
        classes = np.unique(flat_labels)
        # Spread num_patches over the classes; the first ones get the remainder.
        counts = np.full(len(classes), num_patches // len(classes))
        counts[: num_patches % len(classes)] += 1
        flat_indices = np.concatenate(
            [
                rng.choice(np.flatnonzero(flat_labels == k), size=n, replace=True)
                for k, n in zip(classes, counts)
            ]
        )
    else:
        flat_indices = rng.integers(0, flat_labels.size, size=num_patches)
    flat_indices = rng.permutation(flat_indices)
    page_index, rows, cols = np.unravel_index(flat_indices, labels.shape)

    # In padded coordinates the patch of centre (r, c) starts at (r, c).
    padded = _pad_for_patches(images, patch_size)
    offsets = np.arange(patch_size)
    patch_rows = rows[:, None, None] + offsets[None, :, None]
    patch_cols = cols[:, None, None] + offsets[None, None, :]
    patches = padded[page_index[:, None, None], patch_rows, patch_cols]
    return patches.astype(np.float32), flat_labels[flat_indices].astype(np.uint8)


def predict_sliding_window(model, page, patch_size, stride, batch_size=1024):
    """Segment a page by classifying one patch per ``stride`` x ``stride`` cell.

    Every patch of the ``stride`` grid (see ``extract_patches``) goes through the model,
    ``batch_size`` patches at a time; the predicted class of a patch is written to the
    ``stride`` x ``stride`` cell whose top-left pixel is the patch's centre (nearest
    up-scaling of the coarse grid of predictions), and the result is cropped to H x W.

    Args:
        model: Keras model mapping (batch, patch_size, patch_size, C) to (batch,
            num_classes) class scores, e.g. ``models.build_patch_cnn``.
        page: array (H, W) or (H, W, C) with the C the model expects.
        patch_size: side of the patches in pixels, the model's input size.
        stride: distance between patch centres in pixels; 1 classifies every pixel,
            larger strides are faster (stride**2 fewer patches) but coarser.
        batch_size: patches per forward pass; bounds memory to about batch_size *
            patch_size**2 * C * 4 bytes of patches.

    Returns:
        uint8 array (H, W): predicted class index per pixel.
    """
    check_int("patch_size", patch_size, 1)
    check_int("stride", stride, 1)
    check_int("batch_size", batch_size, 1)
    page = _as_hwc(page)
    height, width = page.shape[:2]
    grid = _patch_grid(page, patch_size, stride)
    grid_rows, grid_cols = grid.shape[:2]
    # Materialise only one batch of patches at a time: stride 1 on a large page would
    # need gigabytes for all patches at once.
    num_patches = grid_rows * grid_cols
    coarse = np.empty(num_patches, dtype=np.uint8)
    for start in range(0, num_patches, batch_size):
        index = np.arange(start, min(start + batch_size, num_patches))
        batch = grid[index // grid_cols, index % grid_cols]  # (B, ps, ps, C) copy
        scores = np.asarray(model.predict_on_batch(batch))
        coarse[index] = scores.argmax(axis=-1)
    coarse = coarse.reshape(grid_rows, grid_cols)
    full = np.repeat(np.repeat(coarse, stride, axis=0), stride, axis=1)
    return full[:height, :width]


def _total_stride(model):
    """Product of the strides of the model's convolutions and poolings (8 for the patch CNN)."""
    total = 1
    for layer in model.layers:
        strides = getattr(layer, "strides", None)
        if strides is not None:
            total *= int(strides[0])
    return total


def predict_sliding_window_dense(
    patch_cnn, page, patch_size, stride, return_probabilities=False, batch_size=4
):
    """``predict_sliding_window``, computed with the convolutionalized patch CNN.

    ``models.convolutionalize(patch_cnn)`` classifies, in one forward pass over the padded
    page, every window whose corner is at a multiple of 8 (the patch CNN's total stride):

    - ``stride`` a multiple of 8: one pass, keep every ``stride / 8``-th window.
    - ``stride`` 4, 2 or 1: windows at multiples of ``stride`` that are not multiples of 8
      are those of a page shifted by ``(dy, dx)`` pixels, ``dy, dx`` in ``0, stride, ...,
      8 - stride``. So the network runs on ``(8 / stride)**2`` shifted copies of the page
      and the results are interleaved (copy ``(dy, dx)`` gives rows ``dy / stride``,
      ``dy / stride + 8 / stride``, ... of the grid).
    - other strides (e.g. 3 or 12): the same with the step ``gcd(stride, 8)``, then keep
      every ``stride / step``-th window.

    For a patch CNN with ``padding='valid'`` this gives the same probabilities as the
    patch-by-patch ``predict_sliding_window`` (up to float rounding) and so the same label
    map. For the slide's ``padding='same'`` network it is the "in context" version: the
    network's zero padding at every patch border is replaced by what lies next to the
    patch on the page (see ``models.convolutionalize``), so probabilities differ slightly and labels
    can differ where two classes are nearly tied.

    Args:
        patch_cnn: patch classifier such as ``models.build_patch_cnn`` (Sequential of
            Conv2D / MaxPooling2D, Flatten, Dense, Dropout).
        page: array (H, W) or (H, W, C) with the C the model expects.
        patch_size: side of the patches in pixels, the model's input size.
        stride: distance between patch centres in pixels, int >= 1.
        return_probabilities: also return the class probabilities of every patch.
        batch_size: shifted page copies per forward pass (stride 1 needs 64 copies);
            bounds memory.

    Returns:
        uint8 array (H, W): predicted class index per pixel, as ``predict_sliding_window``.
        With ``return_probabilities=True`` a pair ``(labels, probabilities)``, where
        probabilities is float32 (ceil(H / stride), ceil(W / stride), num_classes): row
        ``i``, column ``j`` belongs to the patch centred on pixel ``(i*stride, j*stride)``.

    Raises:
        ValueError: if ``patch_size`` does not match the model or a size is not a positive
            integer.
    """
    check_int("patch_size", patch_size, 1)
    check_int("stride", stride, 1)
    check_int("batch_size", batch_size, 1)
    if tuple(patch_cnn.input_shape[1:3]) != (patch_size, patch_size):
        raise ValueError(
            f"patch_size must be the model's input size {tuple(patch_cnn.input_shape[1:3])}, "
            f"got {patch_size}"
        )
    page = _as_hwc(page)
    height, width = page.shape[:2]
    network = models.convolutionalize(patch_cnn)
    network_stride = _total_stride(network)
    step = math.gcd(stride, network_stride)  # compute every window at a multiple of step
    phases = network_stride // step  # shifted copies per axis
    shifts = [(dy, dx) for dy in range(0, network_stride, step)
              for dx in range(0, network_stride, step)]

    # In padded coordinates the window of centre (r, c) starts at (r, c). A few extra
    # zero rows/columns let every shifted copy have the same size, to batch them.
    padded = _pad_for_patches(page, patch_size)
    copy_height, copy_width = padded.shape[:2]
    padded = np.pad(padded, ((0, network_stride), (0, network_stride), (0, 0)))

    fine_rows, fine_cols = -(-height // step), -(-width // step)  # ceil division
    fine = None  # probabilities of all windows starting at multiples of step
    for start in range(0, len(shifts), batch_size):
        batch_shifts = shifts[start:start + batch_size]
        copies = np.stack(
            [padded[dy:dy + copy_height, dx:dx + copy_width] for dy, dx in batch_shifts]
        )
        outputs = np.asarray(network.predict_on_batch(copies))
        if fine is None:
            fine = np.zeros((fine_rows, fine_cols, outputs.shape[-1]), dtype=np.float32)
        for (dy, dx), output in zip(batch_shifts, outputs):
            # Copy (dy, dx), output (i, j) = window starting at (dy + 8 i, dx + 8 j).
            target = fine[dy // step::phases, dx // step::phases]
            target[...] = output[: target.shape[0], : target.shape[1]]

    every = stride // step
    probabilities = fine[::every, ::every]
    coarse = probabilities.argmax(axis=-1).astype(np.uint8)
    labels = np.repeat(np.repeat(coarse, stride, axis=0), stride, axis=1)[:height, :width]
    if return_probabilities:
        return labels, probabilities
    return labels


def predict_fcn(model, page, multiple=8):
    """Segment a whole page with a fully convolutional network in one forward pass.

    The page is padded at the bottom and right with paper (zeros) up to a multiple of
    ``multiple`` (the network's total pooling factor, 8 for the lecture's FCN), so the
    output has the padded size; it is cropped back to H x W.

    Args:
        model: Keras model mapping (1, h, w, C) to (1, h, w, num_classes) class scores,
            e.g. ``models.build_fcn_upscaling``.
        page: array (H, W) or (H, W, C) with the C the model expects.
        multiple: pad height and width up to a multiple of this, int >= 1.

    Returns:
        uint8 array (H, W): argmax class index per pixel.
    """
    check_int("multiple", multiple, 1)
    page = _as_hwc(page)
    height, width = page.shape[:2]
    padded = np.pad(
        page,
        ((0, -height % multiple), (0, -width % multiple), (0, 0)),
        mode="constant",
        constant_values=0.0,
    )
    scores = np.asarray(model.predict_on_batch(padded[None]))[0]
    return scores[:height, :width].argmax(axis=-1).astype(np.uint8)
