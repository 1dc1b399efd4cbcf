"""Tests of course_utils.selfcheck.losses: soft Dice, weighted cross-entropy, class weights."""

import pytest

from course_utils import selfcheck
from tests.course_utils.selfcheck.students import (
    _soft_dice_numpy_for_tensor_check,
    assert_verdict,
    row_id,
    verdict_rows,
)


@pytest.mark.parametrize("row", verdict_rows("losses"), ids=row_id)
def test_each_student_gets_its_verdict(row, capsys):
    assert_verdict(row, capsys)


def test_soft_dice_written_with_keras_ops_passes():
    ops = pytest.importorskip("keras").ops

    def keras_soft_dice(y_true, y_pred, smooth=1.0):
        y_true, y_pred = ops.cast(y_true, "float32"), ops.cast(y_pred, "float32")
        intersection = ops.sum(y_true * y_pred, axis=(1, 2))
        denominator = ops.sum(ops.square(y_true), axis=(1, 2)) + ops.sum(ops.square(y_pred), axis=(1, 2))
        return ops.mean(1.0 - (2.0 * intersection + smooth) / (denominator + smooth), axis=-1)

    assert selfcheck.check_soft_dice(keras_soft_dice, quiet=True).passed


def test_numpy_loss_fails_where_a_tensor_is_required():
    pytest.importorskip("keras")
    assert selfcheck.check_soft_dice(_soft_dice_numpy_for_tensor_check, quiet=True).passed
    result = selfcheck.check_soft_dice(_soft_dice_numpy_for_tensor_check, quiet=True, require_tensor=True)
    assert not result.passed and result.mistake == "not_a_tensor", result.message
