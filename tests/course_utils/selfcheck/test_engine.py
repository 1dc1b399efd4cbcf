"""Tests of course_utils.selfcheck.engine: diagnoses, progressive hints, time limit, and no
hidden expected value in any message."""

import re

import pytest

from course_utils import selfcheck
from course_utils.selfcheck import engine
from tests.course_utils.selfcheck.students import (
    WRONG,
    all_messages,
    dice_coefficient,
    dice_iou_formula,
    dice_without_two,
    wrong_id,
    wrong_transpose,
)


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
    # recorded for the first assignment that asks for dice_coefficient
    assert selfcheck.load_progress()["losses_metrics/dice_coefficient"]["status"] == "not yet"


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
    assert selfcheck.load_progress()["dimensions/conv_transpose_output_size"]["hint_level"] == 3


def test_a_different_mistake_starts_again_at_the_first_hint():
    selfcheck.check_dice(dice_iou_formula, quiet=True)
    assert selfcheck.check_dice(dice_iou_formula, quiet=True).hint_level == 2
    assert selfcheck.check_dice(dice_without_two, quiet=True).hint_level == 1


def test_passing_resets_the_hints():
    selfcheck.check_dice(dice_iou_formula, quiet=True)
    selfcheck.check_dice(dice_coefficient, quiet=True)
    assert selfcheck.check_dice(dice_iou_formula, quiet=True).hint_level == 1


# --- No hidden expected values in the messages ------------------------------------------------------

@pytest.mark.parametrize("check, function, mistake", WRONG, ids=wrong_id)
def test_only_public_expected_values_are_printed(check, function, mistake):
    for message in all_messages(check, function):
        if "expected" not in message:
            continue
        described = re.search(r"First failing case: (.*): your function returned", message).group(1)
        assert described in engine._PUBLIC_CASE_DESCRIPTIONS, message
        assert "(shown in the notebook)" in message


def test_public_cases_are_the_notebook_and_lecture_examples():
    for description in engine._PUBLIC_CASE_DESCRIPTIONS:
        assert re.match(r"(slide '|the notebook's|7 pixels, 3x3 filter, stride 2, 'same'|"
                        r"16 pixels, 3x3, stride 2, 'same'|3 pixels, kernel 2 < stride 3, 'valid'$|"
                        r"2 pixels, 3x3, stride 2, 'valid', output_padding=1|"
                        r"4 pixels, 3x3, stride 2, 'same', output_padding=[01]|"
                        r"a mask compared with itself$|disjoint masks$)", description), description


def test_an_endless_loop_gives_a_result_not_a_hang(monkeypatch):
    monkeypatch.setenv("SEGCOURSE_CHECK_SECONDS", "0.5")

    def endless(y_true, y_pred):
        while True:
            pass

    result = selfcheck.check_dice(endless, quiet=True)
    assert not result.passed and result.mistake == "too_slow" and "endless loop" in result.message
