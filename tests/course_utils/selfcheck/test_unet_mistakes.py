"""The U-Net self-checks name the mistakes of issue 13: the skip inputs swapped, and the
logits/probabilities confusion both ways (tests/validity/unet.py's variants)."""

import pytest

from course_utils import selfcheck
from tests.course_utils.selfcheck.notebook_answers import variant_namespace


def _variant(name):
    from tests.validity.variants import VARIANTS

    return next(v for v in VARIANTS["unet"] if v.name == name)


def test_swapped_skip_inputs_are_named():
    pytest.importorskip("keras")
    namespace, _ = variant_namespace("unet", _variant("unet-concatenation-reversed"))
    result = selfcheck.check_build_unet(namespace["build_unet"], assignment="unet", quiet=True)
    assert (result.passed, result.mistake) == (False, "swapped_skip_inputs"), result.message
    assert "swapped" in result.message


@pytest.mark.slow   # trains for 2 s per variant
@pytest.mark.parametrize("variant, mistake", [("unet-train-from-logits-on-softmax", "from_logits_on_softmax"),
                                              ("unet-train-logits-without-from-logits", "logits_without_from_logits")])
def test_logits_confusion_is_named(variant, mistake, monkeypatch):
    pytest.importorskip("keras")
    monkeypatch.setenv("SEGCOURSE_CHECK_SECONDS", "120")   # building and compiling on a busy machine
    namespace, _ = variant_namespace("unet", _variant(variant))
    result = selfcheck.check_train_unet(namespace["train_unet"], seconds=2, assignment="unet", quiet=True)
    assert (result.passed, result.mistake) == (False, mistake), result.message
