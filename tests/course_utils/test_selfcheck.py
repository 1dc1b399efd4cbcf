"""Tests of course_utils.selfcheck: right answers pass, known mistakes get their hint, hints
progress, hidden expected values stay unprinted, and progress is recorded and shown.

The wrong implementations below are the mistakes students make; each must be diagnosed.
"""

import json
import math
import re

import numpy as np
import pytest

from course_utils import selfcheck


@pytest.fixture(autouse=True)
def progress_path(tmp_path, monkeypatch):
    """A fresh progress file per test, and a working folder that is no assignment."""
    path = tmp_path / "progress" / "progress.json"
    monkeypatch.setenv("SEGCOURSE_PROGRESS_FILE", str(path))
    monkeypatch.delenv("SEGCOURSE_ASSIGNMENT", raising=False)
    monkeypatch.chdir(tmp_path)
    return path


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
    x = np.asarray(x)
    b, h, w, c = x.shape
    p = pool_size
    windows = x.reshape(b, h // p, p, w // p, p, c).transpose(0, 1, 3, 5, 2, 4)
    windows = windows.reshape(b, h // p, w // p, c, p * p)
    return windows.max(-1), windows.argmax(-1)


def max_unpool(values, argmax, pool_size=2):
    values, argmax = np.asarray(values), np.asarray(argmax)
    b, h, w, c = values.shape
    out = np.zeros((b, h * pool_size, w * pool_size, c), dtype=values.dtype)
    for index in np.ndindex(b, h, w, c):
        row, col = divmod(int(argmax[index]), pool_size)
        out[index[0], index[1] * pool_size + row, index[2] * pool_size + col, index[3]] = values[index]
    return out


RIGHT = [
    (selfcheck.check_conv_output_size, conv_output_size),
    (selfcheck.check_conv_transpose_output_size, conv_transpose_output_size),
    (selfcheck.check_conv_transpose_output_size, conv_transpose_output_size_with_output_padding),
    (selfcheck.check_fcn_upscaling_shapes, fcn_upscaling_shapes),
    (selfcheck.check_dice, dice_coefficient),
    (selfcheck.check_iou, iou_score),
    (selfcheck.check_soft_dice, soft_dice_loss),
    (selfcheck.check_weighted_crossentropy, weighted_crossentropy),
    (selfcheck.check_max_pool_with_argmax, max_pool_with_argmax),
    (selfcheck.check_max_unpool, max_unpool),
]


@pytest.mark.parametrize("check, function", RIGHT, ids=lambda v: getattr(v, "__name__", ""))
def test_right_implementations_pass(check, function, capsys):
    result = check(function)
    assert result.passed, result.message
    assert result.hint_level == 0 and result.mistake is None
    assert result.message.startswith("✓") and result.message in capsys.readouterr().out


def test_soft_dice_written_with_keras_ops_passes():
    ops = pytest.importorskip("keras").ops

    def keras_soft_dice(y_true, y_pred, smooth=1.0):
        y_true, y_pred = ops.cast(y_true, "float32"), ops.cast(y_pred, "float32")
        intersection = ops.sum(y_true * y_pred, axis=(1, 2))
        denominator = ops.sum(ops.square(y_true), axis=(1, 2)) + ops.sum(ops.square(y_pred), axis=(1, 2))
        return ops.mean(1.0 - (2.0 * intersection + smooth) / (denominator + smooth), axis=-1)

    assert selfcheck.check_soft_dice(keras_soft_dice, quiet=True).passed


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


def pool_column_major(x, pool_size=2):
    x = np.asarray(x)
    b, h, w, c = x.shape
    p = pool_size
    windows = x.reshape(b, h // p, p, w // p, p, c).transpose(0, 1, 3, 5, 4, 2)
    windows = windows.reshape(b, h // p, w // p, c, p * p)
    return windows.max(-1), windows.argmax(-1)


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


@pytest.mark.parametrize("check, function, mistake", WRONG, ids=wrong_id)
def test_known_mistakes_are_diagnosed_and_fail(check, function, mistake):
    result = check(function, quiet=True)
    assert not result.passed
    assert result.mistake == mistake, result.message
    assert result.hint_level == 1
    assert "Hint 1/" in result.message and "Likely mistake" in result.message


def test_an_unknown_mistake_gets_generic_hints():
    result = selfcheck.check_dice(lambda t, p: 0.123, quiet=True)
    assert not result.passed and result.mistake == "unknown"
    assert "no mistake we know of" in result.message


def test_not_implemented_is_reported_as_such():
    def stub(y_true, y_pred):
        raise NotImplementedError()

    result = selfcheck.check_dice(stub, quiet=True)
    assert not result.passed and result.mistake == "not_implemented"
    assert "not implemented yet" in result.message
    assert selfcheck.load_progress()["fcn_basics/dice_coefficient"]["status"] == "not yet"


# --- Progressive hints ------------------------------------------------------------------------------


def test_hints_get_more_specific_on_repeated_calls():
    missing_max = wrong_transpose(lambda n, k, s: (n - 1) * s + k)
    results = [selfcheck.check_conv_transpose_output_size(missing_max, quiet=True)
               for _ in range(4)]
    assert [r.hint_level for r in results] == [1, 2, 3, 3]  # stays at the most specific
    hints = [re.search(r"Hint \d/3: (.*)", r.message).group(1) for r in results]
    assert len(set(hints[:3])) == 3
    assert "max(k, s)" in hints[2] and "max(k, s)" not in hints[0]
    assert "Run the check again" in results[0].message
    assert "Run the check again" not in results[2].message
    assert selfcheck.load_progress()["fcn_basics/conv_transpose_output_size"]["hint_level"] == 3


def test_a_different_mistake_starts_again_at_the_first_hint():
    selfcheck.check_dice(dice_iou_formula, quiet=True)
    assert selfcheck.check_dice(dice_iou_formula, quiet=True).hint_level == 2
    assert selfcheck.check_dice(dice_without_two, quiet=True).hint_level == 1


def test_passing_resets_the_hints():
    selfcheck.check_dice(dice_iou_formula, quiet=True)
    selfcheck.check_dice(dice_coefficient, quiet=True)
    assert selfcheck.check_dice(dice_iou_formula, quiet=True).hint_level == 1


# --- No hidden expected values in the messages ------------------------------------------------------

def all_messages(check, function, times=3):
    return [check(function, quiet=True).message for _ in range(times)]


@pytest.mark.parametrize("check, function, mistake", WRONG, ids=wrong_id)
def test_only_public_expected_values_are_printed(check, function, mistake):
    for message in all_messages(check, function):
        if "expected" not in message:
            continue
        described = re.search(r"First failing case: (.*): your function returned", message).group(1)
        assert described in selfcheck._PUBLIC_CASE_DESCRIPTIONS, message
        assert "(shown in the notebook)" in message


def test_public_cases_are_the_notebook_and_lecture_examples():
    for description in selfcheck._PUBLIC_CASE_DESCRIPTIONS:
        assert re.match(r"(slide '|the notebook's|7 pixels, 3x3 filter, stride 2, 'same'|"
                        r"16 pixels, 3x3, stride 2, 'same'|3 pixels, kernel 2 < stride 3, 'valid'$|"
                        r"2 pixels, 3x3, stride 2, 'valid', output_padding=1|"
                        r"4 pixels, 3x3, stride 2, 'same', output_padding=[01]|"
                        r"a mask compared with itself$|disjoint masks$)", description), description


def test_hidden_float_results_never_appear_in_messages():
    # Student returns the right value except on the first case: then only the first
    # (public) case's expected value may show, none of the other cases' values.
    def wrong_on_public_example(y_true, y_pred):
        if np.array_equal(np.asarray(y_true), [[1, 1, 0], [0, 1, 0], [0, 0, 0]]) and \
                not np.array_equal(np.asarray(y_true), np.asarray(y_pred)):
            return 0.5
        return iou_score(y_true, y_pred)

    hidden_values = []
    rng_cases = selfcheck._DICE_CHECK.cases  # the check's own cases
    for case in rng_cases:
        if not case.public:
            value = dice_coefficient(*case.args)
            hidden_values += [f"{value:.4g}", f"{value:.3f}", f"{value:.4f}", repr(value)]
    messages = all_messages(selfcheck.check_dice, wrong_on_public_example)
    for message in messages:
        for text in hidden_values:
            if text not in ("1", "0", "1.0", "0.0", "1.000", "0.000", "1.0000", "0.0000"):
                assert text not in message, (text, message)


def test_a_public_failure_shows_its_expected_value():
    result = selfcheck.check_dice(dice_iou_formula, quiet=True)
    assert "expected 0.6667 (shown in the notebook)" in result.message
    assert "returned 0.5" in result.message


def test_iou_does_not_print_the_value_of_the_3x3_example():
    # The IoU notebook does not exist yet: its example's value is no public one.
    result = selfcheck.check_iou(iou_dice_formula, quiet=True)
    assert "returned 0.6667." in result.message and "expected" not in result.message


def test_a_hidden_failure_shows_only_what_the_student_returned():
    result = selfcheck.check_dice(dice_nan_for_empty, quiet=True)
    assert "two empty masks" in result.message and "returned nan." in result.message
    assert "expected" not in result.message


# --- The FCN model check (needs Keras) --------------------------------------------------------------


def test_fcn_model_check_passes_the_slide_network_and_diagnoses_mistakes():
    keras = pytest.importorskip("keras")
    layers = keras.layers

    def build(num_classes, upscale=8, kernels=(3, 4, 4), softmax=True, input_shape=(None, None, 1),
              last_activation=None):
        stack = [keras.Input(shape=input_shape)]
        for filters, kernel in zip((40, 40, 80), kernels):
            stack += [layers.Conv2D(filters, kernel, padding="same", activation="relu"),
                      layers.MaxPooling2D(2, strides=2)]
        stack += [layers.UpSampling2D(upscale), layers.Conv2D(num_classes, 1, activation=last_activation)]
        if softmax:
            stack.append(layers.Activation("softmax"))
        return keras.Sequential(stack)

    assert selfcheck.check_fcn_upscaling(lambda n: build(n), quiet=True).passed
    diagnosed = {
        "wrong_upscaling": lambda n: build(n, upscale=2),
        "missing_softmax": lambda n: build(n, softmax=False),
        "fixed_input_size": lambda n: build(n, input_shape=(64, 64, 1)),
        "all_3x3": lambda n: build(n, kernels=(3, 3, 3)),
        "relu_before_softmax": lambda n: build(n, last_activation="relu"),
        "not_a_model": lambda n: [build(n)],
    }
    for mistake, wrong_build in diagnosed.items():
        result = selfcheck.check_fcn_upscaling(wrong_build, quiet=True)
        assert not result.passed and result.mistake == mistake, result.message
        assert "parameters" not in result.message or mistake == "wrong_parameter_count"


# --- Progress file and table ----------------------------------------------------------------------


def test_progress_round_trip(progress_path):
    selfcheck.check_dice(dice_coefficient, quiet=True)
    selfcheck.check_conv_output_size(wrong_conv(lambda n, k, s: (n - k) // s,
                                                lambda n, k, s: -(-n // s)), quiet=True)
    stored = json.loads(progress_path.read_text())
    assert stored["version"] == 1
    assert stored["exercises"]["fcn_basics/dice_coefficient"]["status"] == "passed"
    conv = stored["exercises"]["fcn_basics/conv_output_size"]
    assert conv["status"] == "not yet" and conv["hint_level"] == 1 and conv["attempts"] == 1
    assert conv["last_mistake"] == "missing_plus_one"
    assert selfcheck.load_progress() == stored["exercises"]


def test_damaged_progress_file_is_treated_as_empty(progress_path):
    progress_path.parent.mkdir(parents=True)
    progress_path.write_text("{not json")
    assert selfcheck.load_progress() == {}
    assert selfcheck.check_iou(iou_score, quiet=True).passed
    assert selfcheck.load_progress()["losses_metrics/iou_score"]["status"] == "passed"


def test_default_progress_file_is_in_the_home_folder(monkeypatch, tmp_path):
    monkeypatch.delenv("SEGCOURSE_PROGRESS_FILE")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert selfcheck.progress_file() == tmp_path / ".segcourse" / "progress.json"


def test_show_progress_lists_every_exercise_of_every_assignment(capsys):
    selfcheck.check_dice(dice_coefficient, quiet=True)
    selfcheck.check_soft_dice(soft_dice_without_squares, quiet=True)
    selfcheck.check_soft_dice(soft_dice_without_squares, quiet=True)
    rows = selfcheck.show_progress()
    out = capsys.readouterr().out
    status = {(a, e): s for a, e, s in rows}
    assert status[("fcn_basics", "dice_coefficient")] == "passed"
    assert status[("fcn_basics", "soft_dice_loss")] == "not yet (hint 2)"
    assert status[("fcn_basics", "conv_output_size")] == "not attempted"
    assert status[("dimensions", "conv_output_size")] == "not attempted"
    for assignment in ("fcn_basics", "sliding_window_vs_fcn", "dimensions", "skip_fcns"):
        assert assignment in out
    for exercise in ("extract_patches", "skip_fcn_table", "max_unpool", "build_fcn_upscaling"):
        assert exercise in out
    assert "1 of" in out and "exercises pass their self-check" in out


def test_show_progress_discovers_new_assignments(tmp_path, capsys):
    notebook = tmp_path / "exercises" / "unet" / "unet.ipynb"
    notebook.parent.mkdir(parents=True)
    cell = {"cell_type": "code", "metadata": {"nbgrader": {"solution": True}},
            "source": ["def _helper():\n", "    pass\n", "def build_unet(depth=4):\n",
                       "    raise NotImplementedError()\n"]}
    notebook.write_text(json.dumps({"cells": [cell]}))
    rows = selfcheck.show_progress(course_root=tmp_path)
    assert ("unet", "build_unet", "not attempted") in rows
    assert not any(exercise == "_helper" for _, exercise, _ in rows)
    assert ("fcn_basics", "dice_coefficient", "not attempted") in rows  # built-in list kept


def test_assignment_comes_from_argument_environment_or_folder(monkeypatch, tmp_path):
    selfcheck.check_conv_output_size(conv_output_size, assignment="dimensions", quiet=True)
    monkeypatch.setenv("SEGCOURSE_ASSIGNMENT", "skip_fcns")
    selfcheck.check_max_unpool(max_unpool, quiet=True)
    monkeypatch.delenv("SEGCOURSE_ASSIGNMENT")
    folder = tmp_path / "exercises" / "dimensions"
    folder.mkdir(parents=True)
    monkeypatch.chdir(folder)  # Jupyter runs a notebook in its own folder
    selfcheck.check_conv_transpose_output_size(conv_transpose_output_size, quiet=True)
    assert set(selfcheck.load_progress()) == {
        "dimensions/conv_output_size", "skip_fcns/max_unpool",
        "dimensions/conv_transpose_output_size"}


# --- The self-checks agree with the grader on the grading-validity variants --------------------------

SELF_CHECKED_ASSIGNMENTS = ["fcn_basics", "dimensions", "sliding_window_vs_fcn", "skip_fcns", "unet",
                            "losses_metrics"]


def test_every_exercise_has_a_self_check():
    table = selfcheck._discover_exercises()
    for assignment in SELF_CHECKED_ASSIGNMENTS:
        assert table.get(assignment) == selfcheck.ASSIGNMENT_EXERCISES[assignment], assignment
        for exercise in table[assignment]:
            assert callable(getattr(selfcheck, selfcheck.EXERCISE_CHECKS[exercise])), exercise


def _solution_namespace(assignment, variant=None):
    """The solution notebook's answers (one cell replaced by ``variant``), executed."""

    from autograder import demo_class
    from tests import REPO_ROOT

    answers = demo_class.solution_answers(REPO_ROOT / f"solutions/{assignment}/{assignment}.ipynb")
    if variant is not None:
        answers[variant.cell] = variant.answer(answers[variant.cell])
    namespace = {}
    exec("import math\nimport numpy as np\nimport keras\nfrom keras import ops\nlayers = keras.layers\n"
         "from course_utils.training import fit_for\n" + "\n".join(answers.values()), namespace)
    return namespace, answers


def _checked_functions(answer):
    """The exercise functions an answer cell defines (a given helper starts with '_')."""
    return [name for name in re.findall(r"^def ([A-Za-z]\w*)\(", answer, re.M)
            if name in selfcheck.EXERCISE_CHECKS and name != "train_unet"]   # training: too slow here


def _self_check(assignment, name, function):
    kwargs = {}
    if assignment == "losses_metrics" and name in ("soft_dice_loss", "weighted_crossentropy"):
        kwargs["require_tensor"] = True     # the notebook asks for keras.ops
    if (assignment, name) == ("losses_metrics", "weighted_crossentropy"):
        kwargs["sparse_labels"] = True
    return getattr(selfcheck, selfcheck.EXERCISE_CHECKS[name])(function, assignment=assignment, quiet=True, **kwargs)


@pytest.mark.parametrize("assignment", SELF_CHECKED_ASSIGNMENTS)
def test_self_checks_agree_with_the_grading_variants(assignment):
    """Correct variants of tests/validity/variants.py pass every self-check of their cell;
    each wrong variant fails at least one of them, never with "not implemented"."""
    pytest.importorskip("keras")


    from tests.validity.variants import VARIANTS

    problems = []
    for variant in [None, *VARIANTS.get(assignment, [])]:
        namespace, answers = _solution_namespace(assignment, variant)
        cells = [variant.cell] if variant else list(answers)
        results = {name: _self_check(assignment, name, namespace[name])
                   for cell in cells for name in _checked_functions(answers[cell])}
        label = variant.name if variant else "solution"
        if variant is None or not variant.fails:
            problems += [f"{label}: {name} fails its self-check: {r.message}" for name, r in results.items()
                         if not r.passed]
        elif results and all(r.passed for r in results.values()):
            problems.append(f"{label}: every self-check of cell {variant.cell} passes")
        problems += [f"{label}: {name}: {r.message}" for name, r in results.items() if r.mistake == "not_implemented"]
    assert not problems, "\n".join(problems)


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
    (selfcheck.check_mean_iou, selfcheck._mean_iou_variant(count_ignored=True), {}, "ignore_counted"),
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


@pytest.mark.parametrize("check, function, options, mistake", NEW_WRONG, ids=[m for *_, m in NEW_WRONG])
def test_new_checks_diagnose_their_mistakes(check, function, options, mistake):
    result = check(function, quiet=True, **options)
    assert not result.passed and result.mistake == mistake, result.message


def test_numpy_loss_fails_where_a_tensor_is_required():
    pytest.importorskip("keras")
    assert selfcheck.check_soft_dice(_soft_dice_numpy_for_tensor_check, quiet=True).passed
    result = selfcheck.check_soft_dice(_soft_dice_numpy_for_tensor_check, quiet=True, require_tensor=True)
    assert not result.passed and result.mistake == "not_a_tensor", result.message


def test_an_endless_loop_gives_a_result_not_a_hang(monkeypatch):
    monkeypatch.setenv("SEGCOURSE_CHECK_SECONDS", "0.5")

    def endless(y_true, y_pred):
        while True:
            pass

    result = selfcheck.check_dice(endless, quiet=True)
    assert not result.passed and result.mistake == "too_slow" and "endless loop" in result.message


def test_progress_is_show_progress(capsys):
    selfcheck.check_dice(dice_coefficient, quiet=True)
    assert selfcheck.progress() == selfcheck.show_progress()
    assert "exercises pass their self-check" in capsys.readouterr().out


@pytest.mark.slow   # draws 104 pages
def test_train_unet_check_reports_an_untrained_model():
    keras = pytest.importorskip("keras")

    def untrained(images, labels, num_classes, seconds):
        inputs = keras.Input((None, None, 1))
        return keras.Model(inputs, keras.layers.Conv2D(num_classes, 1, activation="softmax")(inputs))

    result = selfcheck.check_train_unet(untrained, seconds=1, quiet=True)
    assert not result.passed and result.mistake == "not_trained", result.message


@pytest.mark.parametrize("assignment", SELF_CHECKED_ASSIGNMENTS)
def test_self_check_cells_of_the_release_say_not_implemented_yet(assignment, capsys):
    """The released stubs: every self-check cell runs without an error and says
    "not implemented yet" for each of its checks (train_unet's is skipped in fast mode)."""
    pytest.importorskip("keras")
    import contextlib
    import io

    import nbformat

    from tests import REPO_ROOT

    notebook = nbformat.read(REPO_ROOT / f"exercises/{assignment}/{assignment}.ipynb", as_version=4)
    namespace = {"__name__": "__main__"}
    checked = 0
    for cell in notebook.cells:
        meta = cell.metadata.get("nbgrader", {})
        if cell.cell_type != "code" or meta.get("grade") or meta.get("grade_id") in ("compare_losses", "timing"):
            continue
        output = io.StringIO()
        with contextlib.redirect_stdout(output):
            exec(compile(cell.source, f"<{cell.id}>", "exec"), namespace)
        if cell.id.startswith("selfcheck-") and cell.id != "selfcheck-progress":
            calls = len(re.findall(r"^selfcheck\.check_\w+\(", cell.source, re.M))
            assert output.getvalue().count("not implemented yet") == calls, (cell.id, output.getvalue())
            checked += calls
        elif cell.id == "selfcheck-progress":
            assert "exercises pass their self-check" in output.getvalue()
    assert checked >= 3
