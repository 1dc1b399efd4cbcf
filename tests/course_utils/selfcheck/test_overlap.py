"""Tests of course_utils.selfcheck.overlap: Dice, IoU and mean IoU; hidden values stay unprinted."""

import numpy as np
import pytest

from course_utils import selfcheck
from course_utils.selfcheck import overlap
from tests.course_utils.selfcheck.students import (
    all_messages,
    assert_verdict,
    dice_coefficient,
    dice_iou_formula,
    dice_nan_for_empty,
    iou_dice_formula,
    iou_score,
    row_id,
    verdict_rows,
)


@pytest.mark.parametrize("row", verdict_rows("overlap"), ids=row_id)
def test_each_student_gets_its_verdict(row, capsys):
    assert_verdict(row, capsys)


def test_hidden_float_results_never_appear_in_messages():
    # Student returns the right value except on the first case: then only the first
    # (public) case's expected value may show, none of the other cases' values.
    def wrong_on_public_example(y_true, y_pred):
        if np.array_equal(np.asarray(y_true), [[1, 1, 0], [0, 1, 0], [0, 0, 0]]) and \
                not np.array_equal(np.asarray(y_true), np.asarray(y_pred)):
            return 0.5
        return iou_score(y_true, y_pred)

    hidden_values = []
    rng_cases = overlap._DICE_CHECK.cases  # the check's own cases
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
