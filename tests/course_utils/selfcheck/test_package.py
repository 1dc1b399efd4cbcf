"""Tests of course_utils.selfcheck as a whole: every exercise has a self-check, the self-checks
agree with the grader on the grading-validity variants, and the release's self-check cells run."""

import re

import pytest

from course_utils import selfcheck

# --- The self-checks agree with the grader on the grading-validity variants --------------------------

SELF_CHECKED_ASSIGNMENTS = ["fcn_basics", "dimensions", "sliding_window_vs_fcn", "skip_fcns", "unet",
                            "losses_metrics", "dataset_formats", "instance_panoptic", "transfer_learning"]


def test_every_exercise_has_a_self_check():
    table = selfcheck.assignment_exercises()
    for assignment in SELF_CHECKED_ASSIGNMENTS:
        for exercise in table[assignment]:
            assert callable(getattr(selfcheck, selfcheck.EXERCISE_CHECKS[exercise])), exercise


def _solution_namespace(assignment, variant=None):
    """The solution notebook's code answers (one cell replaced by ``variant``), executed
    after its given "imports" cell (constants such as IGNORE); a written answer (a markdown
    solution cell, graded by hand) is left out."""
    import nbformat

    from autograder import demo_class
    from tests import REPO_ROOT

    source = REPO_ROOT / f"solutions/{assignment}/{assignment}.ipynb"
    cells = nbformat.read(source, as_version=4).cells
    code_cells = {c.metadata["nbgrader"]["grade_id"] for c in cells
                  if c.cell_type == "code" and c.metadata.get("nbgrader", {}).get("solution")}
    given = [c.source for c in cells if c.metadata.get("nbgrader", {}).get("grade_id") == "imports"]
    answers = {cell: answer for cell, answer in demo_class.solution_answers(source).items() if cell in code_cells}
    if variant is not None:
        answers[variant.cell] = variant.answer(answers[variant.cell])
    namespace = {}
    exec("import math\nimport numpy as np\nimport keras\nfrom keras import ops\nlayers = keras.layers\n"
         "from course_utils.training import fit_for\n"
         "from course_utils.shapes import conv_output_size\n" + "\n".join([*given, *answers.values()]), namespace)
    return namespace, answers


def _checked_functions(answer):
    """The exercise functions an answer cell defines (a given helper starts with '_'); the
    training checks are left to test_unet.py and test_transfer.py (slow tests)."""
    return [name for name in re.findall(r"^def ([A-Za-z]\w*)\(", answer, re.M)
            if name in selfcheck.EXERCISE_CHECKS and name not in ("train_unet", "fine_tune")]


def _self_check(assignment, name, function):
    kwargs = {}
    if assignment == "losses_metrics" and name in ("soft_dice_loss", "weighted_crossentropy"):
        kwargs["require_tensor"] = True     # the notebook asks for keras.ops
    if (assignment, name) == ("losses_metrics", "weighted_crossentropy"):
        kwargs["sparse_labels"] = True
    return getattr(selfcheck, selfcheck.EXERCISE_CHECKS[name])(function, assignment=assignment, quiet=True, **kwargs)


@pytest.mark.parametrize("assignment", SELF_CHECKED_ASSIGNMENTS)
def test_self_checks_agree_with_the_grading_variants(assignment):
    """Correct variants of tests/validity/variants.py pass every self-check of their cell;
    each wrong variant fails at least one of them, never with "not implemented"."""
    pytest.importorskip("keras")


    from tests.validity.variants import VARIANTS

    problems = []
    for variant in [None, *VARIANTS.get(assignment, [])]:
        namespace, answers = _solution_namespace(assignment, variant)
        cells = [variant.cell] if variant else list(answers)
        results = {name: _self_check(assignment, name, namespace[name])
                   for cell in cells for name in _checked_functions(answers[cell])}
        label = variant.name if variant else "solution"
        if variant is None or not variant.fails:
            problems += [f"{label}: {name} fails its self-check: {r.message}" for name, r in results.items()
                         if not r.passed]
        elif results and all(r.passed for r in results.values()):
            problems.append(f"{label}: every self-check of cell {variant.cell} passes")
        problems += [f"{label}: {name}: {r.message}" for name, r in results.items() if r.mistake == "not_implemented"]
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("assignment", SELF_CHECKED_ASSIGNMENTS)
def test_self_check_cells_of_the_release_say_not_implemented_yet(assignment, capsys):
    """The released stubs: every self-check cell runs without an error and says
    "not implemented yet" for each of its checks (train_unet's is skipped in fast mode)."""
    pytest.importorskip("keras")
    import contextlib
    import io

    import nbformat

    from tests import REPO_ROOT

    notebook = nbformat.read(REPO_ROOT / f"exercises/{assignment}/{assignment}.ipynb", as_version=4)
    namespace = {"__name__": "__main__"}
    checked = 0
    for cell in notebook.cells:
        meta = cell.metadata.get("nbgrader", {})
        if cell.cell_type != "code" or meta.get("grade") or meta.get("grade_id") in ("compare_losses", "timing"):
            continue
        output = io.StringIO()
        with contextlib.redirect_stdout(output):
            exec(compile(cell.source, f"<{cell.id}>", "exec"), namespace)
        if cell.id.startswith("selfcheck-") and cell.id != "selfcheck-progress":
            calls = len(re.findall(r"^selfcheck\.check_\w+\(", cell.source, re.M))
            assert output.getvalue().count("not implemented yet") == calls, (cell.id, output.getvalue())
            checked += calls
        elif cell.id == "selfcheck-progress":
            assert "exercises pass their self-check" in output.getvalue()
    assert checked >= 3


def test_a_renamed_function_says_what_replaced_it():
    """An earlier release's notebook calls selfcheck.progress(): the error names show_progress."""
    with pytest.raises(AttributeError, match=r"selfcheck.progress\(\) is now selfcheck.show_progress\(\)"):
        selfcheck.progress()
    with pytest.raises(AttributeError, match="has no attribute 'no_such_check'"):
        selfcheck.no_such_check  # noqa: B018 - the attribute access is what is tested
