"""The answers of a solution notebook, one cell replaced by a validity variant, executed
after the notebook's own imports cell: the functions a student of that variant would have."""

import contextlib
import io
import re

import nbformat

from course_utils import selfcheck
from tests import REPO_ROOT


def variant_namespace(assignment, variant=None):
    """``(namespace, answers)``: the imports cell and every answer cell executed (``variant``'s
    cell replaced by its answer); ``answers``: solution cell id -> source."""
    from autograder import demo_class

    path = REPO_ROOT / f"solutions/{assignment}/{assignment}.ipynb"
    answers = demo_class.solution_answers(path)
    if variant is not None:
        answers[variant.cell] = variant.answer(answers[variant.cell])
    notebook = nbformat.read(path, as_version=4)
    imports = next(c.source for c in notebook.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "imports")
    namespace = {"__name__": "__main__"}
    with contextlib.redirect_stdout(io.StringIO()):
        exec(compile(imports + "\n" + "\n".join(answers.values()), f"<{assignment}>", "exec"), namespace)
    return namespace, answers


def checked_functions(answer, skip=()):
    """The exercise functions an answer cell defines that have a self-check, less ``skip``."""
    return [name for name in re.findall(r"^def ([A-Za-z]\w*)\(", answer, re.M)
            if name in selfcheck.EXERCISE_CHECKS and name not in skip]


def self_check_problems(assignment, variants, skip=()):
    """Run every self-check of each variant's cell (and all, for the solution): the solution
    and the correct variants must pass them; each wrong variant must fail one of them with a
    diagnosed mistake (not "unknown", not a broken check). Returns the problems found."""
    problems = []
    for variant in [None, *variants]:
        namespace, answers = variant_namespace(assignment, variant)
        cells = [variant.cell] if variant else list(answers)
        results = {name: getattr(selfcheck, selfcheck.EXERCISE_CHECKS[name])(
                       namespace[name], assignment=assignment, quiet=True)
                   for cell in cells for name in checked_functions(answers[cell], skip)}
        label = variant.name if variant else "solution"
        if variant is None or not variant.fails:
            problems += [f"{label}: {name} fails its self-check: {r.message}" for name, r in results.items()
                         if not r.passed]
        elif not results:
            problems.append(f"{label}: cell {variant.cell} has no self-check")
        elif all(r.passed for r in results.values()):
            problems.append(f"{label}: every self-check of cell {variant.cell} passes")
        else:
            problems += [f"{label}: {name}: no known mistake named: {r.message}" for name, r in results.items()
                         if not r.passed and r.mistake in ("unknown", "check_failed", "not_implemented")]
    return problems
