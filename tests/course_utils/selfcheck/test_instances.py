"""Tests of course_utils.selfcheck.instances: every check passes the solution and the correct
variants of ``instance_panoptic`` and names the mistake of every wrong one."""

from course_utils import selfcheck
from tests.course_utils.selfcheck.notebook_answers import self_check_problems, variant_namespace

# The mistake each wrong variant of tests/validity/instance_panoptic.py must be diagnosed as.
EXPECTED_MISTAKES = {
    "iou-empty-nan": "nan_for_empty", "iou-dice": "dice",
    "matching-ignores-scores": "ignores_scores", "matching-ignores-classes": "ignores_classes",
    "matching-best-pair-first": "best_pair_first", "matching-first-on-ties": "first_on_ties",
    "matching-strict-threshold": "strict_threshold",
    "merge-ignores-scores": "ignores_scores", "merge-overwrites": "overwrites",
    "merge-global-numbers": "global_numbers", "merge-no-overlap-rule": "no_overlap_rule",
    "pq-match-at-half": "match_at_half", "pq-void-in-union": "void_in_union", "pq-fp-on-void": "fp_on_void",
    "pq-product-of-means": "product_of_means",
}


def test_checks_agree_with_the_validity_variants():
    from tests.validity.variants import VARIANTS

    problems = self_check_problems("instance_panoptic", VARIANTS["instance_panoptic"])
    assert not problems, "\n".join(problems)


def test_each_wrong_variant_gets_its_mistake_named():
    from tests.validity.variants import VARIANTS

    wrong = [v for v in VARIANTS["instance_panoptic"] if v.fails]
    assert {v.name for v in wrong} == set(EXPECTED_MISTAKES)
    checks = {"iou_matrix": ("mask_iou_matrix", selfcheck.check_mask_iou_matrix),
              "matching": ("match_instances", selfcheck.check_match_instances),
              "merge": ("merge_panoptic", selfcheck.check_merge_panoptic),
              "pq": ("panoptic_quality", selfcheck.check_panoptic_quality)}
    for variant in wrong:
        namespace, _ = variant_namespace("instance_panoptic", variant)
        function, check = checks[variant.cell]
        result = check(namespace[function], assignment="instance_panoptic", quiet=True)
        want = (False, EXPECTED_MISTAKES[variant.name])
        assert (result.passed, result.mistake) == want, (variant.name, result.message)


def test_matching_is_compared_in_any_order():
    """Matches and false positives returned unsorted, as arrays, still pass."""
    import numpy as np

    namespace, _ = variant_namespace("instance_panoptic")

    def reordered(*args, **kwargs):
        matches, false_positives, false_negatives = namespace["match_instances"](*args, **kwargs)
        return np.array(matches[::-1]).reshape(-1, 2), false_positives[::-1], np.array(false_negatives[::-1])

    assert selfcheck.check_match_instances(reordered, quiet=True).passed
