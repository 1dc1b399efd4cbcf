"""Checks for the lectures' "Your turn" practice cells: no grade, no progress record.

Each check takes what the practice cell asks for, compares it with the value the course
library computes (``course_utils.shapes``, ``models``, ``layers``, ``transposed_conv``,
``maskrcnn``: the functions the lectures call, so no answer is stored here), and prints
one line: that it is right, or which usual mistake the answer looks like. It returns a
:class:`~course_utils.selfcheck.engine.CheckResult` (``mistake`` names the mistake found,
``"unknown"`` when none matches, None when right). Practice is not an assignment
exercise, so ``show_progress()`` does not list it.

- lecture 01: :func:`check_multi_label_practice` (a non-exclusive mask of a page);
- lecture 02: :func:`check_traffic_light_practice` (how many windows, which see the light);
- lecture 04: :func:`check_compression_practice` (the autoencoder's code and compression ratio);
- lecture 05: :func:`check_conv_gradient_practice` (the gradient of a convolution is a
  transposed convolution) and :func:`check_unpooling_practice` (max unpooling by hand);
- lecture 08: :func:`check_mask_rcnn_shapes_practice` (shapes through RoIAlign and the heads).
"""

from __future__ import annotations

import numpy as np

from .engine import CheckResult

__all__ = [
    "check_compression_practice",
    "check_conv_gradient_practice",
    "check_mask_rcnn_shapes_practice",
    "check_multi_label_practice",
    "check_traffic_light_practice",
    "check_unpooling_practice",
]


def _result(name, mistake, message, quiet):
    """Print the verdict (unless ``quiet``) and return it; ``mistake`` None means right."""
    text = f"{name}: right. {message}" if mistake is None else f"{name}: not yet. {message}"
    if not quiet:
        print(text)
    return CheckResult(name=name, passed=mistake is None, message=text, hint_level=0 if mistake is None else 1,
                       mistake=mistake)


def _not_started(name, quiet):
    """The verdict for an answer left as the cell's zeros."""
    return _result(name, "not_started", "This is still the cell's starting value (zeros): replace it with your "
                   "answer and run the cell again.", quiet)


def _first_match(candidates, answer):
    """The key of the first (key, value) in ``candidates`` whose value equals ``answer``."""
    for key, value in candidates:
        value = np.asarray(value)
        if value.shape == answer.shape and np.allclose(value, answer):
            return key
    return None


# --- lecture 01: a multi-label mask -------------------------------------------------------

_MULTI_LABEL_CHANNELS = (
    ("text (headings included)", ("text", "heading")),
    ("figure (tables included)", ("figure", "table")),
    ("any content (not background)", ("text", "figure", "separator", "table", "heading")),
)


def check_multi_label_practice(mask, labels, quiet=False):
    """Lecture 01: the multi-label mask of an extended page, with three channels.

    Channel 0: text, headings included; channel 1: figure, tables included; channel 2:
    every pixel that is not background. A heading pixel is 1 in channels 0 and 2.

    Args:
        mask: your mask, array-like (h, w, 3) of 0/1 or bool.
        labels: the page's index map (h, w), classes of ``data.EXTENDED_CLASS_NAMES``.
        quiet: True to print nothing.

    Returns:
        CheckResult.
    """
    from course_utils import data

    name = "multi-label mask"
    labels = np.asarray(labels)
    index = {class_name: i for i, class_name in enumerate(data.EXTENDED_CLASS_NAMES)}
    expected = np.stack([np.isin(labels, [index[c] for c in members]) for _, members in _MULTI_LABEL_CHANNELS], -1)
    answer = np.asarray(mask)
    if answer.shape == (3, *labels.shape):
        return _result(name, "channels_first", "Your mask has the channels first (3, h, w); a mask is stored "
                       "(h, w, n_labels), the channel axis last, as the network's output.", quiet)
    if answer.shape != expected.shape:
        return _result(name, "shape", f"Your mask has shape {answer.shape}; a multi-label mask has one channel "
                       f"per label: {expected.shape}.", quiet)
    if not np.all((answer == 0) | (answer == 1)):
        return _result(name, "not_binary", "Your mask has values other than 0 and 1: each channel says yes (1) "
                       "or no (0) for its label.", quiet)
    answer = answer.astype(bool)
    single = {"text": labels == index["text"], "figure": labels == index["figure"]}
    if np.array_equal(answer[..., 0], single["text"]) and not np.array_equal(single["text"], expected[..., 0]):
        return _result(name, "headings_not_text", "Channel 0 misses the headings: a heading is text too "
                       "(non-exclusive classes).", quiet)
    if np.array_equal(answer[..., 1], single["figure"]) and not np.array_equal(single["figure"], expected[..., 1]):
        return _result(name, "tables_not_figure", "Channel 1 misses the tables: a table is a kind of figure.", quiet)
    if np.array_equal(answer[..., 2], labels == index["background"]):
        return _result(name, "background_channel", "Channel 2 marks the background; it should mark everything "
                       "else (every labelled content pixel).", quiet)
    if answer.sum(-1).max() <= 1 and expected.sum(-1).max() > 1:
        return _result(name, "exclusive", "No pixel of your mask has more than one label: that is a one-hot "
                       "(exclusive) mask. Here a heading pixel is also text and also content: 1 in channels 0 "
                       "and 2.", quiet)
    for channel, (title, _) in enumerate(_MULTI_LABEL_CHANNELS):
        wrong = int(np.sum(answer[..., channel] != expected[..., channel]))
        if wrong:
            return _result(name, "unknown", f"Channel {channel} ({title}) differs at {wrong} pixels.", quiet)
    return _result(name, None, f"{int(np.sum(expected.sum(-1) > 1))} pixels carry more than one label.", quiet)


# --- lecture 02: the traffic-light windows ------------------------------------------------


def check_traffic_light_practice(num_windows, windows_with_whole_light, window_size=200, stride=50, quiet=False):
    """Lecture 02: the windows a ``window_size`` window with ``stride`` places on the
    400 x 600 traffic-light scene, and which of them hold the whole traffic light.

    Windows lie inside the image (no padding) and are numbered row by row from 0.

    Args:
        num_windows: your count, an int.
        windows_with_whole_light: your window numbers, a sequence of ints.
        window_size, stride: the practice's window and stride in pixels.
        quiet: True to print nothing.

    Returns:
        CheckResult.
    """
    from course_utils import lecture_figures, shapes

    name = "traffic-light windows"
    if num_windows == 0 and not list(windows_with_whole_light):
        return _not_started(name, quiet)
    image, light = lecture_figures.make_traffic_light_scene()
    (height, width), total = image.shape[:2], light.sum()
    rows, cols = (shapes.conv_output_size(side, window_size, stride) for side in (height, width))
    boxes = lecture_figures._window_boxes((height, width), window_size, stride)
    whole = [n for n, (y0, x0, y1, x1) in enumerate(boxes) if light[y0:y1, x0:x1].sum() == total]
    part = [n for n, (y0, x0, y1, x1) in enumerate(boxes) if 0 < light[y0:y1, x0:x1].sum() < total]
    if num_windows != rows * cols:
        hints = {
            -(-height // stride) * -(-width // stride): (
                "sticking_out", "You counted a window at every stride step, also where the window would stick "
                "out of the image. A window must fit: (side - window) // stride + 1 positions per axis."),
            (height // window_size) * (width // window_size): (
                "no_overlap", "That is the count of windows side by side without overlap; with a stride "
                "smaller than the window they overlap, so there are more."),
            rows: ("per_axis", f"{num_windows} is the number of windows down one column; they form a grid: "
                   "rows times columns."),
            cols: ("per_axis", f"{num_windows} is the number of windows along one row; they form a grid: "
                   "rows times columns."),
        }
        mistake, message = hints.get(num_windows, (
            "unknown", f"{num_windows} windows is not the count: along each axis a window starts at 0, stride, "
            "2 * stride, ... as long as it fits."))
        return _result(name, mistake, message, quiet)
    chosen = sorted(int(n) for n in windows_with_whole_light)
    if chosen == whole:
        return _result(name, None, f"{num_windows} windows; {len(part)} more see only part of the light: hard "
                       "examples for a classifier that labels whole windows.", quiet)
    if chosen == sorted(whole + part):
        return _result(name, "part_counts", f"Windows {part} hold only part of the traffic light (the "
                       "orange ones in the figure).", quiet)
    if chosen == [n + 1 for n in whole]:
        return _result(name, "one_based", "Windows are numbered from 0, row by row.", quiet)
    if chosen == sorted((n % cols) * rows + n // cols for n in whole):
        return _result(name, "column_major", "Number the windows row by row (left to right, then the next row), "
                       "not column by column.", quiet)
    return _result(name, "unknown", "The count is right, the windows are not: draw the grid with "
                   "lecture_figures.draw_sliding_windows to see which hold the whole light.", quiet)


# --- lecture 04: the autoencoder's compression --------------------------------------------


def check_compression_practice(code_shape, ratio, image_size=256, input_bits=8, filters=(16, 32, 64),
                               code_channels=2, code_bits=32, quiet=False):
    """Lecture 04: the code shape of ``models.build_autoencoder(filters=filters,
    code_channels=code_channels)`` for an ``image_size`` square grey image, and its
    compression ratio (input bits / code bits).

    Args:
        code_shape: your code shape (h', w', channels), a tuple of ints.
        ratio: your compression ratio, a float.
        image_size, input_bits, filters, code_channels, code_bits: the practice's setting.
        quiet: True to print nothing.

    Returns:
        CheckResult.
    """
    from course_utils import models

    name = "compression ratio"
    if float(ratio) == 0 and not any(code_shape):
        return _not_started(name, quiet)
    side = image_size // 2 ** len(filters)
    expected_shape = (side, side, code_channels)
    if tuple(int(s) for s in code_shape) != expected_shape:
        if tuple(code_shape)[:2] == (image_size // 2 ** (len(filters) - 1),) * 2:
            return _result(name, "poolings", f"Each of the {len(filters)} encoder blocks pools 2x2: the side is "
                           f"divided by 2 ** {len(filters)}.", quiet)
        return _result(name, "code_shape", f"Code shape {tuple(code_shape)}: the encoder pools once per entry of "
                       "filters and ends with a 1x1 convolution to code_channels channels.", quiet)
    image_shape = (image_size, image_size, 1)
    expected = models.compression_ratio(image_shape, expected_shape, input_bits, code_bits)
    candidates = [
        ("inverted", 1 / expected, "Your ratio is upside down: it is input bits / code bits (> 1 compresses)."),
        ("values_not_bits", models.compression_ratio(image_shape, expected_shape, 1, 1),
         f"You compared numbers of values; compare bits: an input pixel has {input_bits} bits, a code value "
         f"{code_bits}."),
        ("code_channels_forgotten", models.compression_ratio(image_shape, (side, side), input_bits, code_bits),
         f"The code has {code_channels} channels: count all h' x w' x {code_channels} values."),
        ("binary_input", models.compression_ratio(image_shape, expected_shape, 1, code_bits),
         f"This image is grey, {input_bits} bits per pixel, not a binary page (1 bit)."),
    ]
    if np.isclose(float(ratio), expected, rtol=1e-6):
        verdict = "compresses" if expected > 1 else "does not compress"
        return _result(name, None, f"Ratio {expected:g}: the code {verdict}.", quiet)
    for mistake, value, message in candidates:
        if np.isclose(float(ratio), value, rtol=1e-6):
            return _result(name, mistake, message, quiet)
    return _result(name, "unknown", "ratio = (values in the image x input bits) / (values in the code x code "
                   "bits).", quiet)


# --- lecture 05: convolution, its backward pass, unpooling --------------------------------


def _numerical_gradient(kernel, g, strides, input_hw):
    """d<conv(x), g>/dx by finite differences (exact: the map is linear), shape input_hw."""
    from course_utils import transposed_conv

    kernel4d = np.asarray(kernel, float)[:, :, None, None]
    g = np.asarray(g, float)
    gradient = np.zeros(input_hw)
    for index in np.ndindex(*input_hw):
        step = np.zeros((*input_hw, 1))
        step[index] = 1.0
        gradient[index] = np.sum(transposed_conv.conv2d_valid_numpy(step, kernel4d, strides)[..., 0] * g)
    return gradient


def check_conv_gradient_practice(gradient, kernel, g, strides, input_hw, quiet=False):
    """Lecture 05: the gradient of ``L(x) = <conv(x), g>`` with respect to the input x.

    The convolution has no padding (``transposed_conv.conv2d_valid_numpy``: kernel not
    flipped); the check differentiates it numerically, so it finds out whether your
    gradient (e.g. ``C.T @ g`` or a transposed convolution of g) is the backward pass.

    Args:
        gradient: your gradient, array (in_h, in_w).
        kernel: the convolution's kernel, array (k, k).
        g: the incoming gradient, array (out_h, out_w), the convolution's output size.
        strides: the convolution's stride, int.
        input_hw: (in_h, in_w), the input size.
        quiet: True to print nothing.

    Returns:
        CheckResult.
    """
    name = "gradient of a convolution"
    answer = np.asarray(gradient, float)
    g = np.asarray(g, float)
    input_hw = tuple(input_hw)
    if answer.shape == input_hw and not answer.any():
        return _not_started(name, quiet)
    if answer.shape == g.shape and answer.shape != input_hw:
        return _result(name, "output_shape", f"Your gradient has the output's shape {g.shape}; the gradient "
                       f"with respect to x has the input's shape {input_hw}: use C.T (input x output), not C.",
                       quiet)
    if answer.shape != input_hw:
        return _result(name, "shape", f"Your gradient has shape {answer.shape}; it must have the input's shape "
                       f"{input_hw} (reshape C.T @ g.ravel()).", quiet)
    expected = _numerical_gradient(kernel, g, strides, input_hw)
    if np.allclose(answer, expected):
        return _result(name, None, "It equals the transposed convolution of g with the same kernel and "
                       "stride: the backward pass of a convolution is a transposed convolution.", quiet)
    mistake = _first_match([
        ("flipped_kernel", _numerical_gradient(np.asarray(kernel)[::-1, ::-1], g, strides, input_hw)),
        ("ones_not_g", _numerical_gradient(kernel, np.ones_like(g), strides, input_hw)),
    ], answer)
    messages = {
        "flipped_kernel": "Your kernel is rotated by 180 degrees. The course's (and Keras') convolution does not "
                          "flip its kernel, and its transpose uses the kernel as stored.",
        "ones_not_g": "Your gradient does not depend on g: the backward pass sends back C.T @ g, the incoming "
                      "gradient g spread by the kernel.",
    }
    if mistake:
        return _result(name, mistake, messages[mistake], quiet)
    wrong = int(np.sum(~np.isclose(answer, expected)))
    return _result(name, "unknown", f"Your gradient differs from the numerical one at {wrong} of "
                   f"{answer.size} pixels.", quiet)


def check_unpooling_practice(unpooled, image, pool_size=2, quiet=False):
    """Lecture 05: max unpooling of ``image``'s max pooling, by hand.

    Args:
        unpooled: your result, array (h, w): each window's maximum back where it was, 0
            elsewhere.
        image: the pooled image, array (h, w), h and w multiples of ``pool_size``.
        pool_size: the pooling window, int.
        quiet: True to print nothing.

    Returns:
        CheckResult.
    """
    from course_utils import layers

    name = "max unpooling"
    image = np.asarray(image, np.float32)
    batch = image[None, ..., None]
    pooled, argmax = layers.MaxPoolingWithArgmax2D(pool_size)(batch)
    expected = np.asarray(layers.MaxUnpooling2D(pool_size)([pooled, argmax]))[0, ..., 0]
    pooled = np.asarray(pooled)[0, ..., 0]
    answer = np.asarray(unpooled, float)
    if answer.shape == image.shape and not answer.any():
        return _not_started(name, quiet)
    if answer.shape == pooled.shape:
        return _result(name, "pooled_only", f"That is the pooled {pooled.shape} map; unpooling restores the "
                       f"input's size {image.shape}.", quiet)
    if answer.shape != image.shape:
        return _result(name, "shape", f"Your result has shape {answer.shape}; unpooling restores the input's size "
                       f"{image.shape}.", quiet)
    if np.allclose(answer, expected):
        return _result(name, None, "Every maximum is back where it came from; the decoder of a DeconvNet or "
                       "SegNet places its features the same way.", quiet)
    top_left = np.zeros_like(expected)
    top_left[::pool_size, ::pool_size] = pooled
    mistake = _first_match([
        ("upscaled", np.kron(pooled, np.ones((pool_size, pool_size)))),
        ("top_left", top_left),
        ("kept_everything", image),
    ], answer)
    messages = {
        "upscaled": "You copied each maximum into its whole window: that is up-scaling (UpSampling2D). "
                    "Unpooling writes it only where the maximum was, and 0 elsewhere.",
        "top_left": "You put every maximum in the top-left corner of its window; unpooling remembers where "
                    "the maximum was (the argmax) and puts it back there.",
        "kept_everything": "That is the input itself: unpooling only has the maxima, every other pixel is 0.",
    }
    if mistake:
        return _result(name, mistake, messages[mistake], quiet)
    return _result(name, "unknown", f"Your result differs at {int(np.sum(~np.isclose(answer, expected)))} "
                   "pixels: in each window keep the maximum at its place and set the rest to 0.", quiet)


# --- lecture 08: Mask R-CNN shapes --------------------------------------------------------

_MASK_RCNN_KEYS = ("features", "box_features", "mask_features", "class_logits", "mask_logits")


def _mask_rcnn_shapes(model, num_rois):
    """The shapes (batch axis dropped) through ``model`` for one image and ``num_rois`` RoIs."""
    from course_utils import maskrcnn

    image = np.zeros((1, model.image_size, model.image_size, 3), np.float32)
    rois = np.tile(np.array([[0.1, 0.1, 0.6, 0.6]], np.float32), (1, num_rois, 1))
    features = model.backbone(image)
    outputs = model({"images": image, "rois": rois})
    half = model.mask_size // 2
    shapes = {"features": features.shape, "box_features": maskrcnn.roi_align(features, rois, 7).shape,
              "mask_features": maskrcnn.roi_align(features, rois, half).shape,
              "class_logits": outputs["class_logits"].shape, "mask_logits": outputs["mask_logits"].shape}
    return {key: tuple(int(d) for d in shape[1:]) for key, shape in shapes.items()}


def check_mask_rcnn_shapes_practice(answer, model, num_rois=16, quiet=False):
    """Lecture 08: the tensor shapes through the course's Mask R-CNN, for one image.

    Args:
        answer: dict with the keys ``features`` (the backbone's output, (h, w, C)),
            ``box_features`` and ``mask_features`` (RoIAlign's outputs for the box and the
            mask head, (R, P, P, C)), ``class_logits`` ((R, classes)) and ``mask_logits``
            ((R, m, m, masks)); shapes without the batch axis.
        model: the ``maskrcnn.MaskRCNN`` of the lecture.
        num_rois: R, the RoIs of the image.
        quiet: True to print nothing.

    Returns:
        CheckResult.
    """
    name = "Mask R-CNN shapes"
    missing = [key for key in _MASK_RCNN_KEYS if key not in answer]
    if missing:
        return _result(name, "missing", f"Give a shape for each of {', '.join(_MASK_RCNN_KEYS)}; missing: "
                       f"{', '.join(missing)}.", quiet)
    if not any(any(answer[key]) for key in _MASK_RCNN_KEYS):
        return _not_started(name, quiet)
    expected = _mask_rcnn_shapes(model, num_rois)
    classes, image_size, mask_size = model.num_classes, model.image_size, model.mask_size
    for key in _MASK_RCNN_KEYS:
        given = tuple(int(d) for d in answer[key])
        if given == expected[key]:
            continue
        if key == "features" and given[:2] == (image_size // 16,) * 2:
            message = ("The paper's ResNet has output stride 16; the course's backbone has two stride-2 "
                       f"convolutions: stride 4, {image_size // 4} x {image_size // 4} cells.")
        elif key != "features" and len(given) == len(expected[key]) - 1:
            message = f"{key} has one entry per RoI: its shape starts with R = {num_rois}."
        elif key == "class_logits" and given[-1] == classes:
            message = "The class scores include the background (class 0): K + 1 of them."
        elif key == "mask_logits" and given[-1] == classes + 1:
            message = "The mask head predicts one mask per object class (K), none for the background."
        elif key == "mask_logits" and given[1:3] == (mask_size // 2,) * 2:
            message = (f"RoIAlign gives the mask head {mask_size // 2} x {mask_size // 2}; its transposed "
                       f"convolution (stride 2) doubles that to {mask_size} x {mask_size}.")
        elif key == "mask_features" and given[1:3] == (mask_size,) * 2:
            message = (f"RoIAlign samples {mask_size // 2} x {mask_size // 2} for the mask head; the head itself "
                       f"up-samples to {mask_size} x {mask_size}.")
        else:
            message = f"{key}: {given} is not its shape; read the module table of the lecture and the docstrings."
        return _result(name, f"wrong_{key}", message, quiet)
    return _result(name, None, "RoIAlign turns boxes of any size into fixed grids, so the heads are ordinary "
                   "dense and convolutional layers.", quiet)
