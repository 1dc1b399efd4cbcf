"""Tests of course_utils.selfcheck.pooling: the self-checks of max pooling with argmax and unpooling."""

import pytest

from tests.course_utils.selfcheck.students import assert_verdict, row_id, verdict_rows


@pytest.mark.parametrize("row", verdict_rows("pooling"), ids=row_id)
def test_each_student_gets_its_verdict(row, capsys):
    assert_verdict(row, capsys)
