"""The notebooks' own tests agree with the trusted references, variant by variant (fast).

Each solution notebook (``solutions/<a>/<a>.ipynb``, visible and hidden tests) is executed
once, in-process and in order, in one namespace (training and self-check cells left out,
as ``notebook_verdicts`` does). For every variant of ``tests/validity/<a>.py``, only its
answer cell is executed again, then the cells of its part (up to the next solution cell)
and the grade cells the variant names elsewhere (``fails``, ``also_fails``,
``notebook_also``); the namespace is restored afterwards. The grade cells that fail must be
exactly those the trusted references fail (``test_references_judge_variants`` checks the
references against the same table). A later part that a variant breaks without naming it
is left to the whole-notebook second opinion, ``test_notebook_tests_agree`` (make test-long).
"""

from __future__ import annotations

import contextlib
import io

import nbformat
import pytest

from tests import REPO_ROOT
from tests.validity.test_grading_validity import (
    SKIPPED_CELLS,
    TRAINING_CELLS,
    TRAINING_SOLUTION_CELLS,
    _is_self_check,
    _meta,
    answers_for,
    expected_failures,
)
from tests.validity.variants import VARIANTS, Variant


class NotebookRun:
    """The solution notebook of ``assignment`` executed once with the instructor's answers;
    ``verdicts``: grade_id -> (passed, message) of that run."""

    def __init__(self, assignment: str):
        source = nbformat.read(REPO_ROOT / f"solutions/{assignment}/{assignment}.ipynb", as_version=4)
        self.assignment = assignment
        self.cells = [cell for cell in source.cells if cell.cell_type == "code" and not _is_self_check(cell)
                      and _meta(cell).get("grade_id") not in SKIPPED_CELLS | TRAINING_CELLS]
        self.namespace: dict = {"__name__": "__main__"}
        self.verdicts = self._execute(range(len(self.cells)), answers_for(assignment, []))

    def _execute(self, indices, answers: dict[str, str]) -> dict[str, tuple[bool, str]]:
        verdicts = {}
        with contextlib.redirect_stdout(io.StringIO()):
            for index in indices:
                cell = self.cells[index]
                meta = _meta(cell)
                code = answers.get(meta.get("grade_id"), cell.source) if meta.get("solution") else cell.source
                try:
                    exec(compile(code, f"<{meta.get('grade_id')}>", "exec"), self.namespace)
                    outcome = (True, "passed")
                except Exception as error:
                    outcome = (False, f"{type(error).__name__}: {error}")
                if meta.get("grade"):
                    verdicts[meta["grade_id"]] = outcome
        return verdicts

    def cells_to_rerun(self, variant: Variant) -> list[int]:
        """The variant's answer cell, the cells after it up to the next solution cell, and
        the grade cells it names, in notebook order."""
        ids = [_meta(cell).get("grade_id") for cell in self.cells]
        start = ids.index(variant.cell)
        end = next((i for i in range(start + 1, len(self.cells)) if _meta(self.cells[i]).get("solution")),
                   len(self.cells))
        named = set(variant.fails) | variant.also_fails | variant.notebook_also
        return sorted(set(range(start, end)) | {i for i, grade_id in enumerate(ids) if grade_id in named})

    def with_variant(self, variant: Variant) -> dict[str, tuple[bool, str]]:
        """The verdicts of the re-run grade cells with ``variant``'s answer. The namespace is
        changed in place (the functions defined earlier look their callees up in it) and put
        back as it was afterwards."""
        saved = dict(self.namespace)
        try:
            return self._execute(self.cells_to_rerun(variant), answers_for(self.assignment, [variant]))
        finally:
            self.namespace.clear()
            self.namespace.update(saved)


def disagreements(run: NotebookRun, variant: Variant) -> str | None:
    verdicts = run.with_variant(variant)
    failed = {grade_id for grade_id, (passed, _) in verdicts.items() if not passed}
    want = set(expected_failures([variant], notebook=True)) - TRAINING_CELLS
    if failed == want:
        return None
    return (f"{variant.name}: the notebook fails {sorted(failed)}, the references {sorted(want)}: "
            + "; ".join(f"{g}: {verdicts[g][1][:150]}" for g in sorted(failed ^ want) if g in verdicts))


@pytest.mark.parametrize("assignment", list(VARIANTS))
def test_notebook_tests_agree_with_references(assignment):
    pytest.importorskip("keras")
    run = NotebookRun(assignment)
    failed = {g: message for g, (passed, message) in run.verdicts.items() if not passed}
    assert not failed, f"the solution fails its own tests: {failed}"
    problems = [disagreements(run, variant) for variant in VARIANTS[assignment]
                if variant.cell not in TRAINING_SOLUTION_CELLS]
    assert not any(problems), "\n".join(p for p in problems if p)
    for cell in {variant.cell for variant in VARIANTS[assignment]} - TRAINING_SOLUTION_CELLS:
        again = run.with_variant(Variant("unchanged", cell))     # the restored namespace still passes
        assert all(passed for passed, _ in again.values()), f"{cell}: the solution fails on a re-run: {again}"
