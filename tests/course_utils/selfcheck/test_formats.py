"""Tests of course_utils.selfcheck.formats: every check passes the solution and the correct
variants of ``dataset_formats`` and names the mistake of every wrong one."""

import numpy as np

from course_utils import selfcheck
from tests.course_utils.selfcheck.notebook_answers import self_check_problems, variant_namespace

# The mistake each wrong variant of tests/validity/dataset_formats.py must be diagnosed as.
EXPECTED_MISTAKES = {
    "label-ids-zero-default": "zero_default", "label-ids-table-of-34": "table_too_small",
    "label-ids-in-place-chain": "chained_replacement",
    "palette-low-bits": "low_bits", "palette-red-blue-swapped": "red_blue_swapped",
    "decode-channel-sum": "channel_sum", "decode-uint8-shift": "uint8_overflow", "decode-unknown-zero": "unknown_zero",
    "frequencies-divide-by-all-pixels": "divided_by_all_pixels", "frequencies-no-minlength": "no_minlength",
    "frequencies-no-range-check": "no_range_check",
}
CHECKS = {"label_ids": ("label_ids_to_train_ids", "check_label_ids_to_train_ids"),
          "palette": ("voc_palette", "check_voc_palette"),
          "decode": ("decode_palette", "check_decode_palette"),
          "frequencies": ("class_frequencies", "check_class_frequencies")}


def test_checks_agree_with_the_validity_variants():
    from tests.validity.variants import VARIANTS

    problems = self_check_problems("dataset_formats", VARIANTS["dataset_formats"])
    assert not problems, "\n".join(problems)


def test_each_wrong_variant_gets_its_mistake_named():
    from tests.validity.variants import VARIANTS

    wrong = [v for v in VARIANTS["dataset_formats"] if v.fails]
    assert {v.name for v in wrong} == set(EXPECTED_MISTAKES)
    for variant in wrong:
        namespace, _ = variant_namespace("dataset_formats", variant)
        function, check = CHECKS[variant.cell]
        result = getattr(selfcheck, check)(namespace[function], assignment="dataset_formats", quiet=True)
        want = (False, EXPECTED_MISTAKES[variant.name])
        assert (result.passed, result.mistake) == want, (variant.name, result.message)


def test_right_values_of_the_wrong_type_are_named():
    namespace, _ = variant_namespace("dataset_formats")

    def float_palette(num_colours=256):
        return namespace["voc_palette"](num_colours).astype(np.float64)

    result = selfcheck.check_voc_palette(float_palette, quiet=True)
    assert (result.passed, result.mistake) == (False, "not_uint8"), result.message

    def float_ids(label_ids):
        return namespace["label_ids_to_train_ids"](label_ids).astype(np.float64)

    result = selfcheck.check_label_ids_to_train_ids(float_ids, quiet=True)
    assert (result.passed, result.mistake) == (False, "not_integers"), result.message
