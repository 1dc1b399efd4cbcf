"""Tests of course_utils.selfcheck.transfer: every check passes the solution and the correct
variants of ``transfer_learning`` and names the mistake of every wrong one."""

import pytest

from course_utils import selfcheck
from tests.course_utils.selfcheck.notebook_answers import self_check_problems, variant_namespace

# The mistake each wrong variant of tests/validity/transfer_learning.py must be diagnosed as.
EXPECTED_MISTAKES = {
    "encoder-not-frozen": "not_frozen", "encoder-not-loaded": "not_pretrained",
    "fcn-concatenation-reversed": "swapped_skip_inputs", "fcn-whole-model-frozen": "decoder_frozen",
    "report-swapped": "swapped", "report-counts-weight-tensors": "weight_tensors_counted",
    "fine-tune-unfreezes-all": "unfroze_too_much", "fine-tune-never-unfreezes": "conv3_still_frozen",
    "fine-tune-untrained": "not_trained",
}
CHECKS = {"encoder": "build_encoder", "transfer_fcn": "build_transfer_fcn", "parameter_report": "parameter_report",
          "fine_tune": "fine_tune"}


def _check(variant, seconds=2):
    namespace, _ = variant_namespace("transfer_learning", variant)
    function = CHECKS[variant.cell] if variant else "fine_tune"
    kwargs = {"seconds": seconds} if function == "fine_tune" else {}
    check = getattr(selfcheck, selfcheck.EXERCISE_CHECKS[function])
    return check(namespace[function], assignment="transfer_learning", quiet=True, **kwargs)


def test_checks_agree_with_the_validity_variants():
    """Every check but fine_tune's (training: below) on the solution and each variant."""
    pytest.importorskip("keras")
    from tests.validity.variants import VARIANTS

    variants = [v for v in VARIANTS["transfer_learning"] if v.cell != "fine_tune"]
    problems = self_check_problems("transfer_learning", variants, skip=("fine_tune",))
    assert not problems, "\n".join(problems)


@pytest.mark.slow   # fine-tunes for 2 s
def test_fine_tune_check_passes_the_solution_within_its_limit():
    """The check with its default training time (2 s) passes the solution within its own
    time limit (45 s in fast mode: 15 s + transfer.COMPILE_SECONDS); a check past the limit
    fails with a time-out message. About 7 s on 2 cores, 18 s at worst while other tests
    ran (measured, not asserted: timing belongs to benchmarks)."""
    pytest.importorskip("keras")
    namespace, _ = variant_namespace("transfer_learning", None)
    result = selfcheck.check_fine_tune(namespace["fine_tune"], assignment="transfer_learning", quiet=True)
    assert result.passed, result.message
