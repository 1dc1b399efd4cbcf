"""Tests of course_utils.selfcheck.unet: the U-Net assignment's checks."""

import pytest

from course_utils import selfcheck
from tests.course_utils.selfcheck.students import assert_verdict, row_id, verdict_rows


@pytest.mark.parametrize("row", verdict_rows("unet"), ids=row_id)
def test_each_student_gets_its_verdict(row, capsys):
    assert_verdict(row, capsys)


@pytest.mark.slow   # draws 104 pages
def test_train_unet_check_reports_an_untrained_model():
    keras = pytest.importorskip("keras")

    def untrained(images, labels, num_classes, seconds):
        inputs = keras.Input((None, None, 1))
        return keras.Model(inputs, keras.layers.Conv2D(num_classes, 1, activation="softmax")(inputs))

    result = selfcheck.check_train_unet(untrained, seconds=1, quiet=True)
    assert not result.passed and result.mistake == "not_trained", result.message
