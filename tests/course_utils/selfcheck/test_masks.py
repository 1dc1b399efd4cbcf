"""Tests of course_utils.selfcheck.masks: the self-checks of the mask encodings (one-hot,
label maps, multi-label masks and their decoding)."""

import numpy as np
import pytest

from course_utils import selfcheck
from tests.course_utils.selfcheck.students import assert_verdict, labels_to_one_hot, row_id, verdict_rows


@pytest.mark.parametrize("row", verdict_rows("masks"), ids=row_id)
def test_each_student_gets_its_verdict(row, capsys):
    assert_verdict(row, capsys)


def test_a_negative_label_that_wraps_gets_the_range_hint():
    def wraps_minus_one(labels, num_classes):       # checks only the upper end, as many students do
        labels = np.asarray(labels)
        if labels.max() >= num_classes:
            raise ValueError("label too large")
        return np.eye(num_classes, dtype=np.float32)[labels]

    result = selfcheck.check_labels_to_one_hot(wraps_minus_one, quiet=True)
    assert not result.passed and result.mistake == "negative_labels_wrap", result.message
    assert "a label outside [0, num_classes) does not raise ValueError" in result.message


def test_one_hot_as_booleans_passes():
    assert selfcheck.check_labels_to_one_hot(lambda labels, n: labels_to_one_hot(labels, n) > 0, quiet=True).passed


def test_a_wrong_boolean_answer_is_shown_not_a_crash():
    # np.round refuses bool arrays: the message must show the booleans the student returned.
    def decode_below_threshold(probabilities, threshold=0.5):
        return np.asarray(probabilities) < threshold

    result = selfcheck.check_decode_multi_label(decode_below_threshold, quiet=True)
    assert not result.passed and "could not run" not in result.message
    assert "[[[False, False, True]" in result.message, result.message
