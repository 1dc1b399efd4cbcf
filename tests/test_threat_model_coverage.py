"""Every row of the grading threat model has at least one test that exercises it.

``COVERAGE`` maps each row of ``shared/reference/grading-threat-model.md`` (46 rows)
to the tests that check the required outcome. This test fails when a row has no test,
when a named test does not exist (renamed or deleted), or when the threat model's rows
change (where the shared reference is present: it sits beside the repository).
"""

from __future__ import annotations

import ast
import re

import pytest

from tests import REPO_ROOT

THREAT_MODEL = REPO_ROOT.parent / "shared" / "reference" / "grading-threat-model.md"
# the test files named below, relative to tests/
ATTACKS = "autograder/test_grader_attacks.py"
TRUSTED = "autograder/test_grader_trusted.py"
SANDBOX = "autograder/test_grader_sandbox.py"
BATCH = "autograder/test_grader_batch.py"
ENGINES = "autograder/test_grader_engines.py"
PATHS = "autograder/test_grading_paths.py"
LIBRARY = "autograder/test_library_answers.py"
KIT = "autograder/test_student_kit.py"
DEMO = "autograder/test_demo.py"
NOISE = "autograder/test_noise.py"
VALIDITY = "validity/test_grading_validity.py"

# row -> (what the row is about, ["file::test", ...])
COVERAGE = {
    1: ("edited or re-pointed test cell", [
        f"{ATTACKS}::test_batch_invariants",
        f"{TRUSTED}::test_tests_always_come_from_the_release"]),
    2: ("deleted test cell", [f"{ATTACKS}::test_batch_invariants"]),
    3: ("test cell stripped of its metadata", [
        f"{TRUSTED}::test_stripped_or_schema_changed_cells_come_from_the_release"]),
    4: ("solution flag set on a test cell", [f"{ATTACKS}::test_batch_invariants"]),
    5: ("copy-pasted test cell", [f"{ATTACKS}::test_copy_pasted_tests_and_duplicate_ids_are_tolerated"]),
    6: ("duplicate cell ids, kernelspec", [f"{ATTACKS}::test_copy_pasted_tests_and_duplicate_ids_are_tolerated"]),
    7: ("showtraceback / set_custom_exc", [f"{ATTACKS}::test_cheats_fail_exactly_the_cheated_parts"]),
    8: ("assert-stripping AST transformer", [f"{ATTACKS}::test_cheats_fail_exactly_the_cheated_parts"]),
    9: ("input transformer rewriting tests", [f"{ATTACKS}::test_cheats_fail_exactly_the_cheated_parts"]),
    10: ("patched numpy testing", [f"{ATTACKS}::test_cheats_fail_exactly_the_cheated_parts"]),
    11: ("always-equal object", [
        f"{ATTACKS}::test_cheats_fail_exactly_the_cheated_parts",
        f"{TRUSTED}::test_exact_type_checks_and_hidden_messages"]),
    12: ("fake execute_result", [f"{ATTACKS}::test_cheats_fail_exactly_the_cheated_parts"]),
    13: ("grader's own code patched in the kernel", [
        f"{ATTACKS}::test_patched_harness_and_forged_results_earn_nothing"]),
    14: ("in-process secrets", [
        f"{SANDBOX}::test_job_environment_holds_no_instructor_secrets",
        f"{ATTACKS}::test_spy_sees_no_network_secrets_or_other_students"]),
    15: ("forged results file", [f"{ATTACKS}::test_patched_harness_and_forged_results_earn_nothing"]),
    16: ("grading detected", [f"{ATTACKS}::test_feedback_and_autograded_notebooks_leak_no_hidden_checks"]),
    17: ("reading solutions or hidden tests", [
        f"{SANDBOX}::test_cannot_see_solutions_gradebook_or_references",
        f"{ATTACKS}::test_feedback_and_autograded_notebooks_leak_no_hidden_checks"]),
    18: ("hidden tests in feedback", [
        f"{ATTACKS}::test_feedback_and_autograded_notebooks_leak_no_hidden_checks",
        f"{DEMO}::test_demo_feedback_hides_hidden_tests"]),
    19: ("network", [
        f"{SANDBOX}::test_only_loopback_and_no_egress",
        f"{ATTACKS}::test_spy_sees_no_network_secrets_or_other_students"]),
    20: ("tokens and credentials", [
        f"{SANDBOX}::test_job_environment_holds_no_instructor_secrets",
        f"{ATTACKS}::test_spy_sees_no_network_secrets_or_other_students"]),
    21: ("interruptible infinite loop", [f"{DEMO}::test_demo_succeeds_with_the_expected_table"]),
    22: ("loop ignoring SIGINT", [
        f"{ATTACKS}::test_sigint_ignoring_loop_costs_only_the_rest_of_the_notebook",
        f"{SANDBOX}::test_wall_clock_kills_the_whole_sandbox"]),
    23: ("memory bomb", [
        f"{ATTACKS}::test_memory_fork_bombs_and_giant_output_are_confined",
        f"{SANDBOX}::test_memory_and_process_limits_bite"]),
    24: ("fork bomb, disk, core dumps", [
        f"{ATTACKS}::test_memory_fork_bombs_and_giant_output_are_confined",
        f"{SANDBOX}::test_memory_and_process_limits_bite"]),
    25: ("giant output", [
        f"{ATTACKS}::test_memory_fork_bombs_and_giant_output_are_confined",
        f"{SANDBOX}::test_output_is_capped"]),
    26: ("daemon outliving the kernel", [
        f"{SANDBOX}::test_no_process_survives_a_double_forked_daemon",
        f"{ATTACKS}::test_batch_invariants"]),
    27: ("GPU hog", [f"{ENGINES}::test_gpu_slot_binds_its_gpu_only", f"{SANDBOX}::test_gpu_scheduling"]),
    28: ("os._exit, segfault, OOM kill", [
        f"{ATTACKS}::test_every_submission_gets_what_it_deserves",
        f"{ATTACKS}::test_cheats_fail_exactly_the_cheated_parts"]),
    29: ("sys.exit in the checked function", [f"{ATTACKS}::test_every_submission_gets_what_it_deserves"]),
    30: ("TensorFlow/Keras stderr", [
        f"{ATTACKS}::test_batch_invariants",
        f"{NOISE}::test_recognises_library_logs_and_warnings"]),
    31: ("invalid JSON, non-UTF-8, nbformat 5", [
        f"{ATTACKS}::test_malformed_notebook_message",
        f"{ATTACKS}::test_nbformat_5_is_not_gradable_with_a_message",
        f"{TRUSTED}::test_unreadable_submissions_are_not_gradable"]),
    32: ("schema too new or old, gradebook error", [
        f"{TRUSTED}::test_stripped_or_schema_changed_cells_come_from_the_release",
        f"{BATCH}::test_a_gradebook_error_fails_only_that_submission"]),
    33: ("trigger written into the gradebook", [f"{ATTACKS}::test_gradebook_is_sound_and_has_no_trigger"]),
    34: ("overwriting another student's submission", [
        f"{ATTACKS}::test_spy_sees_no_network_secrets_or_other_students"]),
    35: ("HTML/JS in feedback", [
        f"{ATTACKS}::test_feedback_carries_no_student_script_or_event_handler",
        f"{ENGINES}::test_student_markdown_is_cleaned_instructor_markdown_kept"]),
    36: ("host unpickling sandbox output", [f"{TRUSTED}::test_pickled_results_are_never_unpickled"]),
    37: ("loading the student's Keras model", [f"{TRUSTED}::test_trusted_side_never_loads_student_code_or_models"]),
    38: ("nondeterminism", [f"{ATTACKS}::test_regrading_is_idempotent", f"{BATCH}::test_probes_are_seeded"]),
    39: ("timing under parallel load", [f"{BATCH}::test_time_limits_are_per_cell_and_per_notebook"]),
    40: ("answer delegated to the course library", [
        f"{VALIDITY}::test_real_batch",
        f"{LIBRARY}::test_edition_replaces_every_registered_function_by_a_stub",
        f"{LIBRARY}::test_edition_holds_no_compiled_code_and_none_of_the_removed_bodies",
        f"{LIBRARY}::test_judge_names_the_rule_and_never_echoes_the_hidden_error_text"]),
    41: ("harness replaced, patched or its results rewritten", [
        f"{ATTACKS}::test_forged_harness_with_wrong_answers_earns_nothing",
        f"{ATTACKS}::test_patched_harness_and_forged_results_earn_nothing",
        f"{TRUSTED}::test_pickled_results_are_never_unpickled"]),
    42: ("symbolic links in the submission tree", [f"{ATTACKS}::test_symbolic_links_make_a_submission_not_gradable"]),
    43: ("SIGINT ignored, endless loop in C", [
        f"{ATTACKS}::test_cell_ignoring_the_interrupt_is_killed_after_a_grace",
        f"{ATTACKS}::test_timed_out_function_is_not_called_again",
        f"{ATTACKS}::test_sigint_ignoring_loop_costs_only_the_rest_of_the_notebook"]),
    44: ("a second grading path", [
        f"{PATHS}::test_nbgrader_autograde_cli_gives_the_segcourse_grade_scores",
        f"{PATHS}::test_formgrader_autograde_endpoint_gives_the_segcourse_grade_scores",
        f"{PATHS}::test_nbgrader_autograde_refuses_without_a_sandbox"]),
    45: ("solutions in what students receive", [
        f"{KIT}::test_kit_holds_no_answers",
        f"{KIT}::test_the_scan_finds_planted_answers"]),
    46: ("gradebook that does not know the assignment", [
        f"{PATHS}::test_fresh_clone_grades_without_a_release",
        f"{PATHS}::test_grade_stops_before_any_sandbox_when_exercises_drifted"]),
}


def _tests_in(file_name: str) -> set[str]:
    tree = ast.parse((REPO_ROOT / "tests" / file_name).read_text())
    return {node.name for node in tree.body if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
            and node.name.startswith("test_")}


def test_every_row_has_a_test():
    assert sorted(COVERAGE) == list(range(1, 47))
    assert all(tests for _, tests in COVERAGE.values())


@pytest.mark.parametrize("row", sorted(COVERAGE))
def test_named_tests_exist(row):
    missing = []
    for reference in COVERAGE[row][1]:
        file_name, test_name = reference.split("::")
        if not (REPO_ROOT / "tests" / file_name).exists() or test_name not in _tests_in(file_name):
            missing.append(reference)
    assert not missing, f"row {row} ({COVERAGE[row][0]}): no such test {missing}"


@pytest.mark.skipif(not THREAT_MODEL.exists(), reason="the shared threat model is not beside the repository")
def test_rows_match_the_threat_model():
    rows = [int(n) for n in re.findall(r"^\|\s*(\d+)\s*\|", THREAT_MODEL.read_text(), flags=re.MULTILINE)]
    assert rows == list(range(1, len(rows) + 1)) and sorted(COVERAGE) == rows
