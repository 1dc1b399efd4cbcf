"""Tests of course_utils.selfcheck.sizes: the self-checks of output sizes and shapes."""

import pytest

from tests.course_utils.selfcheck.students import assert_verdict, row_id, verdict_rows


@pytest.mark.parametrize("row", verdict_rows("sizes"), ids=row_id)
def test_each_student_gets_its_verdict(row, capsys):
    assert_verdict(row, capsys)
