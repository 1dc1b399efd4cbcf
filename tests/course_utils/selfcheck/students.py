"""Students' functions for the self-check tests, right and wrong, and the verdict each must get.

The wrong implementations below are the mistakes students make; each must be diagnosed.
The tables name every check with a function and the verdict: ``RIGHT`` (passes),
``WRONG`` (the mistake, at hint level 1) and ``NEW_WRONG`` (the mistake, with the check's
options). :func:`verdict_rows` picks the rows of one module of the package.
"""

import math

import numpy as np

from course_utils import selfcheck
from course_utils.selfcheck import overlap, pooling

# --- Right implementations (as a student would write them) ---------------------------------------


def conv_output_size(input_size, kernel_size, stride=1, padding="valid"):
    if padding == "valid":
        return (input_size - kernel_size) // stride + 1
    return -(-input_size // stride)


def conv_transpose_output_size(input_size, kernel_size, stride=1, padding="valid"):
    if padding == "valid":
        return (input_size - 1) * stride + max(kernel_size, stride)
    return input_size * stride


def conv_transpose_output_size_with_output_padding(input_size, kernel_size, stride=1,
                                                   padding="valid", output_padding=None):
    n, k, s = input_size, kernel_size, stride
    if output_padding is None:
        return conv_transpose_output_size(n, k, s, padding)
    if padding == "valid":
        return (n - 1) * s + k + output_padding
    return (n - 1) * s + k % 2 + output_padding


def fcn_upscaling_shapes(height, width, num_classes):
    shapes, h, w = [], height, width
    for filters in (40, 40, 80):
        shapes.append((h, w, filters))
        h, w = h // 2, w // 2
        shapes.append((h, w, filters))
    h, w = 8 * h, 8 * w
    return shapes + [(h, w, 80), (h, w, num_classes), (h, w, num_classes)]


def dice_coefficient(y_true, y_pred):
    y_true, y_pred = np.asarray(y_true).astype(bool), np.asarray(y_pred).astype(bool)
    total = y_true.sum() + y_pred.sum()
    if total == 0:
        return 1.0
    return float(2.0 * np.logical_and(y_true, y_pred).sum() / total)


def iou_score(y_true, y_pred):
    y_true, y_pred = np.asarray(y_true).astype(bool), np.asarray(y_pred).astype(bool)
    union = np.logical_or(y_true, y_pred).sum()
    return 1.0 if union == 0 else float(np.logical_and(y_true, y_pred).sum() / union)


def soft_dice_numpy(y_true, y_pred, smooth=1.0, axes=(1, 2), squares=True, numerator_smooth=True):
    t, p = np.asarray(y_true, np.float64), np.asarray(y_pred, np.float64)
    intersection = np.sum(t * p, axis=axes)
    denominator = (np.sum(t ** 2, axis=axes) + np.sum(p ** 2, axis=axes) if squares
                   else np.sum(t, axis=axes) + np.sum(p, axis=axes))
    numerator = 2 * intersection + (smooth if numerator_smooth else 0)
    return 1 - numerator / (denominator + smooth)


def soft_dice_loss(y_true, y_pred, smooth=1.0):
    return soft_dice_numpy(y_true, y_pred, smooth).mean(axis=-1)


def softmax(x):
    e = np.exp(x - x.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def weighted_crossentropy(y_true, y_pred, class_weights):
    p = np.clip(np.asarray(y_pred, np.float64), 1e-7, 1 - 1e-7)
    true_probability = np.sum(y_true * p, axis=-1)
    pixel_weight = np.sum(y_true * np.asarray(class_weights), axis=-1)
    return np.mean(-pixel_weight * np.log(true_probability), axis=(1, 2))


def max_pool_with_argmax(x, pool_size=2):
    """Written window by window (the self-check's reference reshapes): the first maximum's
    row-major position inside its window."""
    x = np.asarray(x)
    b, h, w, c = x.shape
    p = pool_size
    pooled = np.zeros((b, h // p, w // p, c), x.dtype)
    positions = np.zeros((b, h // p, w // p, c), np.int64)
    for i in range(h // p):
        for j in range(w // p):
            window = x[:, i * p:(i + 1) * p, j * p:(j + 1) * p, :].reshape(b, p * p, c)
            pooled[:, i, j, :] = window.max(axis=1)
            positions[:, i, j, :] = window.argmax(axis=1)
    return pooled, positions


def max_unpool(values, argmax, pool_size=2):
    values, argmax = np.asarray(values), np.asarray(argmax)
    b, h, w, c = values.shape
    out = np.zeros((b, h * pool_size, w * pool_size, c), dtype=values.dtype)
    for index in np.ndindex(b, h, w, c):
        row, col = divmod(int(argmax[index]), pool_size)
        out[index[0], index[1] * pool_size + row, index[2] * pool_size + col, index[3]] = values[index]
    return out


def labels_to_one_hot(labels, num_classes):
    labels = np.asarray(labels)
    if np.any(labels < 0) or np.any(labels >= num_classes):
        raise ValueError(f"labels must be in [0, {num_classes})")
    return (labels[..., None] == np.arange(num_classes)).astype(np.float32)


def labels_from_scores(scores):
    return np.asarray(scores).argmax(axis=-1)


def multi_label_mask(labels, channel_classes):
    labels = np.asarray(labels)
    return np.stack([np.isin(labels, classes) for classes in channel_classes], axis=-1)


def decode_multi_label(probabilities, threshold=0.5):
    return np.where(np.asarray(probabilities) > threshold, 1, 0)


def one_hot_without_range_check(labels, num_classes):
    return np.eye(num_classes, dtype=np.float32)[np.asarray(labels)]


def one_hot_classes_first(labels, num_classes):
    labels_to_one_hot(labels, num_classes)          # the same errors
    return np.stack([np.asarray(labels) == k for k in range(num_classes)]).astype(np.float32)


def decode_by_argmax(probabilities, threshold=0.5):
    probabilities = np.asarray(probabilities)
    return np.eye(probabilities.shape[-1])[probabilities.argmax(axis=-1)]


RIGHT = [
    (selfcheck.check_conv_output_size, conv_output_size),
    (selfcheck.check_conv_transpose_output_size, conv_transpose_output_size),
    (selfcheck.check_conv_transpose_output_size, conv_transpose_output_size_with_output_padding),
    (selfcheck.check_fcn_upscaling_shapes, fcn_upscaling_shapes),
    (selfcheck.check_labels_to_one_hot, labels_to_one_hot),
    (selfcheck.check_labels_from_scores, labels_from_scores),
    (selfcheck.check_multi_label_mask, multi_label_mask),
    (selfcheck.check_decode_multi_label, decode_multi_label),
    (selfcheck.check_dice, dice_coefficient),
    (selfcheck.check_iou, iou_score),
    (selfcheck.check_soft_dice, soft_dice_loss),
    (selfcheck.check_weighted_crossentropy, weighted_crossentropy),
    (selfcheck.check_max_pool_with_argmax, max_pool_with_argmax),
    (selfcheck.check_max_unpool, max_unpool),
]


# --- Known-wrong implementations ------------------------------------------------------------------


def wrong_conv(valid, same):
    return lambda n, k, s=1, padding="valid": valid(n, k, s) if padding == "valid" else same(n, k, s)


def wrong_transpose(valid, same=lambda n, k, s: n * s):
    return lambda n, k, s=1, padding="valid": valid(n, k, s) if padding == "valid" else same(n, k, s)


def transpose_zero_as_none(n, k, s=1, padding="valid", output_padding=None):
    if not output_padding:  # the bug: 0 is falsy, like None
        return conv_transpose_output_size(n, k, s, padding)
    return conv_transpose_output_size_with_output_padding(n, k, s, padding, output_padding)


def fcn_shapes_pool_ceil(height, width, num_classes):
    shapes, h, w = [], height, width
    for filters in (40, 40, 80):
        shapes.append((h, w, filters))
        h, w = -(-h // 2), -(-w // 2)
        shapes.append((h, w, filters))
    return shapes + [(8 * h, 8 * w, 80), (8 * h, 8 * w, num_classes), (8 * h, 8 * w, num_classes)]


def dice_nan_for_empty(y_true, y_pred):
    y_true, y_pred = np.asarray(y_true).astype(bool), np.asarray(y_pred).astype(bool)
    return float(2.0 * (y_true & y_pred).sum() / (y_true.sum() + y_pred.sum()))


def dice_zero_division(y_true, y_pred):
    y_true, y_pred = np.asarray(y_true).astype(bool), np.asarray(y_pred).astype(bool)
    return 2 * int((y_true & y_pred).sum()) / int(y_true.sum() + y_pred.sum())


def dice_iou_formula(y_true, y_pred):
    return iou_score(y_true, y_pred)


def dice_without_two(y_true, y_pred):
    y_true, y_pred = np.asarray(y_true).astype(bool), np.asarray(y_pred).astype(bool)
    total = y_true.sum() + y_pred.sum()
    return 1.0 if total == 0 else float((y_true & y_pred).sum() / total)


def dice_bitwise_and(y_true, y_pred):
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)  # & fails for floats
    total = y_true.sum() + y_pred.sum()
    return 1.0 if total == 0 else float(2.0 * (y_true & y_pred).sum() / total)


def dice_numpy_array(y_true, y_pred):
    return np.array(dice_coefficient(y_true, y_pred))


def dice_smoothed(y_true, y_pred):
    y_true, y_pred = np.asarray(y_true).astype(bool), np.asarray(y_pred).astype(bool)
    return float((2.0 * (y_true & y_pred).sum() + 1) / (y_true.sum() + y_pred.sum() + 1))


def iou_dice_formula(y_true, y_pred):
    return dice_coefficient(y_true, y_pred)


def iou_sum_denominator(y_true, y_pred):
    y_true, y_pred = np.asarray(y_true).astype(bool), np.asarray(y_pred).astype(bool)
    total = y_true.sum() + y_pred.sum()
    return 1.0 if total == 0 else float((y_true & y_pred).sum() / total)


def iou_nan_for_empty(y_true, y_pred):
    y_true, y_pred = np.asarray(y_true).astype(bool), np.asarray(y_pred).astype(bool)
    return float((y_true & y_pred).sum() / (y_true | y_pred).sum())


def soft_dice_scalar(y_true, y_pred, smooth=1.0):
    return float(soft_dice_loss(y_true, y_pred, smooth).mean())


def soft_dice_mean_over_batch(y_true, y_pred, smooth=1.0):
    return soft_dice_numpy(y_true, y_pred, smooth).mean(axis=0)


def soft_dice_without_smoothing(y_true, y_pred, smooth=1.0):
    return soft_dice_numpy(y_true, y_pred, 0.0).mean(axis=-1)


def soft_dice_smooth_in_denominator_only(y_true, y_pred, smooth=1.0):
    return soft_dice_numpy(y_true, y_pred, smooth, numerator_smooth=False).mean(axis=-1)


def soft_dice_all_classes_together(y_true, y_pred, smooth=1.0):
    return soft_dice_numpy(y_true, y_pred, smooth, axes=(1, 2, 3))


def soft_dice_without_squares(y_true, y_pred, smooth=1.0):
    return soft_dice_numpy(y_true, y_pred, smooth, squares=False).mean(axis=-1)


def soft_dice_softmax_twice(y_true, y_pred, smooth=1.0):
    return soft_dice_loss(y_true, softmax(np.asarray(y_pred, np.float64)), smooth)


def soft_dice_fixed_smooth(y_true, y_pred, smooth=1.0):
    return soft_dice_loss(y_true, y_pred, 1.0)


def ce_scalar(y_true, y_pred, class_weights):
    return float(weighted_crossentropy(y_true, y_pred, class_weights).mean())


def ce_log_of_zero(y_true, y_pred, class_weights):
    weights = np.sum(y_true * np.asarray(class_weights), axis=-1)
    with np.errstate(all="ignore"):
        return np.mean(-weights * np.sum(y_true * np.log(y_pred), axis=-1), axis=(1, 2))


def ce_weights_ignored(y_true, y_pred, class_weights):
    return weighted_crossentropy(y_true, y_pred, [1.0] * len(class_weights))


def ce_normalized_by_weights(y_true, y_pred, class_weights):
    pixel_weight = np.sum(y_true * np.asarray(class_weights), axis=-1)
    return weighted_crossentropy(y_true, y_pred, class_weights) * 20 / pixel_weight.sum(axis=(1, 2))


def ce_softmax_twice(y_true, y_pred, class_weights):
    return weighted_crossentropy(y_true, softmax(np.asarray(y_pred, np.float64)), class_weights)


# the self-check's own model of this mistake: a student who flattens each window column first
pool_column_major = pooling._pool_column_major


def pool_float_positions(x, pool_size=2):
    pooled, argmax = max_pool_with_argmax(x, pool_size)
    return pooled, argmax.astype(np.float32)


def unpool_swapped(values, argmax, pool_size=2):
    col, row = np.divmod(np.asarray(argmax), pool_size)
    return max_unpool(values, row * pool_size + col, pool_size)


WRONG = [
    # (check, wrong implementation, diagnosed mistake)
    (selfcheck.check_conv_output_size,
     wrong_conv(lambda n, k, s: (n - k) // s, lambda n, k, s: -(-n // s)), "missing_plus_one"),
    (selfcheck.check_conv_output_size,
     wrong_conv(lambda n, k, s: (n - k) // s + 1, lambda n, k, s: n // s), "same_rounds_down"),
    (selfcheck.check_conv_output_size,
     wrong_conv(lambda n, k, s: (n - k) // s + 1, lambda n, k, s: n), "same_ignores_stride"),
    (selfcheck.check_conv_output_size,
     wrong_conv(lambda n, k, s: (n - k) // s + 1, lambda n, k, s: (n + 2 * (k // 2) - k) // s + 1),
     "same_as_half_padding"),
    (selfcheck.check_conv_output_size,
     wrong_conv(lambda n, k, s: (n - k) / s + 1, lambda n, k, s: math.ceil(n / s)), "float_division"),
    (selfcheck.check_conv_output_size,
     wrong_conv(lambda n, k, s: float((n - k) // s + 1), lambda n, k, s: float(-(-n // s))), "not_int"),
    (selfcheck.check_conv_transpose_output_size,
     wrong_transpose(lambda n, k, s: n * s + k), "n_times_s_plus_k"),
    (selfcheck.check_conv_transpose_output_size,
     wrong_transpose(lambda n, k, s: (n - 1) * s + k - 1), "minus_one"),
    (selfcheck.check_conv_transpose_output_size,
     wrong_transpose(lambda n, k, s: (n - 1) * s + k), "missing_max"),
    (selfcheck.check_conv_transpose_output_size,
     wrong_transpose(lambda n, k, s: (n - 1) * s + max(k, s),
                     lambda n, k, s: (n - 1) * s + k - 2 * (k // 2)), "same_as_half_padding"),
    (selfcheck.check_conv_transpose_output_size,
     wrong_transpose(lambda n, k, s: (n - 1) * s + max(k, s), lambda n, k, s: n), "same_ignores_stride"),
    (selfcheck.check_conv_transpose_output_size, transpose_zero_as_none, "output_padding_zero_as_none"),
    (selfcheck.check_fcn_upscaling_shapes, lambda h, w, c: fcn_upscaling_shapes(h, w, c)[:6], "wrong_length"),
    (selfcheck.check_fcn_upscaling_shapes, fcn_shapes_pool_ceil, "pool_rounds_up"),
    (selfcheck.check_fcn_upscaling_shapes,
     lambda h, w, c: fcn_upscaling_shapes(h, w, c)[:6] + [(h, w, 80), (h, w, c), (h, w, c)],
     "upscale_to_input"),
    (selfcheck.check_fcn_upscaling_shapes,
     lambda h, w, c: [(a, b, 40) for a, b, _ in fcn_upscaling_shapes(h, w, c)], "channels"),
    (selfcheck.check_labels_to_one_hot, one_hot_classes_first, "classes_first"),
    (selfcheck.check_labels_to_one_hot, one_hot_without_range_check, "negative_labels_wrap"),
    (selfcheck.check_labels_to_one_hot,
     lambda labels, n: labels_to_one_hot(labels, int(np.max(labels)) + 1), "channels_from_the_map"),
    (selfcheck.check_labels_from_scores, lambda scores: np.argmax(scores, axis=0), "argmax_first_axis"),
    (selfcheck.check_labels_from_scores, lambda scores: np.max(scores, axis=-1), "highest_score_not_class"),
    (selfcheck.check_labels_from_scores, lambda scores: np.argmax(scores), "argmax_flattened"),
    (selfcheck.check_multi_label_mask,
     lambda labels, channels: multi_label_mask(labels, [c[:1] for c in channels]), "first_class_only"),
    (selfcheck.check_multi_label_mask,
     lambda labels, channels: multi_label_mask(labels, [[j] for j in range(len(channels))]), "channel_is_class_id"),
    (selfcheck.check_multi_label_mask,
     lambda labels, channels: np.moveaxis(multi_label_mask(labels, channels), -1, 0), "channels_first"),
    (selfcheck.check_decode_multi_label, decode_by_argmax, "argmax"),
    (selfcheck.check_decode_multi_label,
     lambda p, threshold=0.5: (np.asarray(p) >= threshold).astype(np.float32), "threshold_inclusive"),
    (selfcheck.check_decode_multi_label,
     lambda p, threshold=0.5: (np.asarray(p) > 0.5).astype(np.float32), "threshold_ignored"),
    (selfcheck.check_dice, dice_nan_for_empty, "nan_for_empty"),
    (selfcheck.check_dice, dice_zero_division, "nan_for_empty"),
    (selfcheck.check_dice, lambda t, p: dice_coefficient(t, p) if np.any(t) or np.any(p) else 0.0,
     "zero_for_empty"),
    (selfcheck.check_dice, dice_iou_formula, "iou_instead_of_dice"),
    (selfcheck.check_dice, dice_without_two, "missing_factor_two"),
    (selfcheck.check_dice, dice_bitwise_and, "float_masks"),
    (selfcheck.check_dice, dice_smoothed, "smoothing"),
    (selfcheck.check_dice, lambda t, p: 1 - dice_coefficient(t, p), "loss_not_score"),
    (selfcheck.check_dice, dice_numpy_array, "not_python_float"),
    (selfcheck.check_iou, iou_dice_formula, "dice_instead_of_iou"),
    (selfcheck.check_iou, iou_sum_denominator, "sum_denominator"),
    (selfcheck.check_iou, iou_nan_for_empty, "nan_for_empty"),
    (selfcheck.check_soft_dice, soft_dice_scalar, "scalar_not_per_image"),
    (selfcheck.check_soft_dice, soft_dice_mean_over_batch, "mean_over_batch"),
    (selfcheck.check_soft_dice, soft_dice_without_smoothing, "missing_smoothing"),
    (selfcheck.check_soft_dice, soft_dice_smooth_in_denominator_only, "smooth_only_in_denominator"),
    (selfcheck.check_soft_dice, soft_dice_fixed_smooth, "smooth_argument_ignored"),
    (selfcheck.check_soft_dice, soft_dice_all_classes_together, "one_dice_over_all_classes"),
    (selfcheck.check_soft_dice, soft_dice_without_squares, "no_squares"),
    (selfcheck.check_soft_dice, soft_dice_softmax_twice, "softmax_applied_twice"),
    (selfcheck.check_soft_dice, lambda t, p, smooth=1.0: 1 - soft_dice_loss(t, p, smooth), "dice_not_loss"),
    (selfcheck.check_weighted_crossentropy, ce_scalar, "scalar_not_per_image"),
    (selfcheck.check_weighted_crossentropy, ce_log_of_zero, "log_of_zero"),
    (selfcheck.check_weighted_crossentropy, ce_weights_ignored, "weights_ignored"),
    (selfcheck.check_weighted_crossentropy, ce_normalized_by_weights, "normalized_by_weights"),
    (selfcheck.check_weighted_crossentropy, lambda t, p, w: -weighted_crossentropy(t, p, w), "missing_minus"),
    (selfcheck.check_weighted_crossentropy, lambda t, p, w: 20 * weighted_crossentropy(t, p, w),
     "sum_over_pixels"),  # 20 = 4 x 5 pixels
    (selfcheck.check_weighted_crossentropy, ce_softmax_twice, "softmax_applied_twice"),
    (selfcheck.check_max_pool_with_argmax, pool_column_major, "column_major"),
    (selfcheck.check_max_pool_with_argmax, pool_float_positions, "positions_not_int"),
    (selfcheck.check_max_unpool, unpool_swapped, "row_column_swapped"),
    (selfcheck.check_max_unpool, lambda v, a, pool_size=2: max_unpool(v, np.zeros_like(a), pool_size),
     "positions_ignored"),
]



def wrong_id(value):
    return getattr(value, "__name__", None) if callable(value) else str(value)



# --- The new checks name the mistake --------------------------------------------------------------


# The wrong answers below are written out, not built from the library: a self-check flags an
# answer that calls a library function registered for the assignment (course_utils.library_answers).
def _transpose_crop_at_end(x, k, strides=1, padding="valid"):
    x, k = np.asarray(x, np.float64), np.asarray(k, np.float64)
    s = strides if np.isscalar(strides) else strides[0]
    b, h, w, _ = x.shape
    kh, kw, c_out, _ = k.shape
    full = np.zeros((b, (h - 1) * s + kh, (w - 1) * s + kw, c_out))
    for i in range(h):
        for j in range(w):
            full[:, i * s:i * s + kh, j * s:j * s + kw] += np.einsum("bc,hwoc->bhwo", x[:, i, j], k)
    oh, ow = (h * s, w * s) if padding == "same" else ((h - 1) * s + max(kh, s), (w - 1) * s + max(kw, s))
    result = np.zeros((b, oh, ow, c_out))
    part = full[:, :oh, :ow]                       # the crop at the end only
    result[:, :part.shape[1], :part.shape[2]] = part
    return result


def _patches_without_padding_before(page, patch_size, stride):
    page = np.asarray(page, dtype=np.float32)
    page = page[:, :, None] if page.ndim == 2 else page
    padded = np.pad(page, ((0, patch_size), (0, patch_size), (0, 0)))
    centers = [(r, c) for r in range(0, page.shape[0], stride) for c in range(0, page.shape[1], stride)]
    return np.stack([padded[r:r + patch_size, c:c + patch_size] for r, c in centers]), np.array(centers)


def _bottleneck_two_times_depth(height, width, depth):
    multiple = 2 * depth
    if depth < 1 or height % multiple or width % multiple:
        raise ValueError(f"height {height} or width {width} is not a multiple of {multiple}")
    return height // multiple, width // multiple


def _soft_dice_numpy_for_tensor_check(y_true, y_pred, smooth=1.0):
    return np.asarray(soft_dice_loss(y_true, y_pred, smooth))


NEW_WRONG = [
    (selfcheck.check_pool_output_size, lambda n, p=2, s=None, padding="valid": (n - p) // (s or 1) + 1
     if padding == "valid" else -(-n // (s or 1)), {}, "strides_none_as_one"),
    (selfcheck.check_padded_size, lambda size, num_pools=4: size + 2 ** num_pools - size % 2 ** num_pools, {},
     "full_extra_block"),
    (selfcheck.check_conv2d_params, lambda k, i, f, use_bias=True: (k if isinstance(k, int) else k[0] * k[1]) ** (
        2 if isinstance(k, int) else 1) * f + (f if use_bias else 0), {}, "forget_in_channels"),
    (selfcheck.check_mean_iou, overlap._mean_iou_variant(count_ignored=True), {}, "ignore_counted"),
    (selfcheck.check_class_weights, lambda f: np.asarray(f, float) / np.median(
        np.asarray(f, float)[np.asarray(f, float) > 0]), {}, "inverted"),
    (selfcheck.check_extract_patches, _patches_without_padding_before, {}, "no_padding"),
    (selfcheck.check_conv2d_transpose_numpy, _transpose_crop_at_end, {}, "crop_at_end"),
    (selfcheck.check_predict_fcn, lambda predict, page, multiple=8: np.asarray(predict(np.pad(
        np.asarray(page, np.float32).reshape(*np.shape(page)[:2], -1),
        ((0, multiple - np.shape(page)[0] % multiple), (0, multiple - np.shape(page)[1] % multiple), (0, 0)))[None]))[
        0, :np.shape(page)[0], :np.shape(page)[1]].argmax(-1).astype(np.uint8), {}, "full_extra_block"),
    (selfcheck.check_unet_bottleneck_size, _bottleneck_two_times_depth, {}, "raises_for_fitting_sizes"),
    (selfcheck.check_weighted_crossentropy, lambda t, p, w: ce_log_of_zero(np.eye(3)[t], p, w),
     {"sparse_labels": True}, "log_of_zero"),
]



def all_messages(check, function, times=3):
    return [check(function, quiet=True).message for _ in range(times)]


def verdict_rows(module):
    """``(check, function, options, mistake, kind)`` of every row of RIGHT, WRONG and NEW_WRONG
    whose check is defined in ``course_utils.selfcheck.<module>``; kind: the table's name."""
    rows = [(check, function, {}, None, "RIGHT") for check, function in RIGHT]
    rows += [(check, function, {}, mistake, "WRONG") for check, function, mistake in WRONG]
    rows += [(check, function, options, mistake, "NEW_WRONG") for check, function, options, mistake in NEW_WRONG]
    return [row for row in rows if row[0].__module__ == f"course_utils.selfcheck.{module}"]


def row_id(row):
    check, function, _, mistake, kind = row
    return f"{check.__name__}-{mistake or 'right'}-{wrong_id(function)}"


def assert_verdict(row, capsys):
    """The row's check gives the row's verdict (as the single test of each table did)."""
    check, function, options, mistake, kind = row
    if kind == "RIGHT":
        result = check(function)
        assert result.passed, result.message
        assert result.hint_level == 0 and result.mistake is None
        assert result.message.startswith("✓") and result.message in capsys.readouterr().out
    elif kind == "WRONG":
        result = check(function, quiet=True)
        assert not result.passed
        assert result.mistake == mistake, result.message
        assert result.hint_level == 1
        assert "Hint 1/" in result.message and "Likely mistake" in result.message
    else:
        result = check(function, quiet=True, **options)
        assert not result.passed and result.mistake == mistake, result.message
