"""Tests of course_utils.selfcheck.sliding_window: the self-checks of patches, the sliding window
and the whole-page FCN."""

import pytest

from tests.course_utils.selfcheck.students import assert_verdict, row_id, verdict_rows


@pytest.mark.parametrize("row", verdict_rows("sliding_window"), ids=row_id)
def test_each_student_gets_its_verdict(row, capsys):
    assert_verdict(row, capsys)
