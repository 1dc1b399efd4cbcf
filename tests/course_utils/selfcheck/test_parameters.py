"""Tests of course_utils.selfcheck.parameters: the self-checks of parameter counts and the skip FCN's table."""

import pytest

from tests.course_utils.selfcheck.students import assert_verdict, row_id, verdict_rows


@pytest.mark.parametrize("row", verdict_rows("parameters"), ids=row_id)
def test_each_student_gets_its_verdict(row, capsys):
    assert_verdict(row, capsys)
