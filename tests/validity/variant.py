"""What a validity variant is: one solution cell of the instructor's answers, rewritten.

Each assignment's variants live in ``tests/validity/<assignment>.py`` (collected by
``tests/validity/variants.py``), which defines:

- ``VARIANTS``: a list of ``Variant``. Correct answers written differently (no ``fails``:
  full marks) and common wrong answers; every solution cell needs both kinds.
- ``BATCH_STUDENTS``: student -> variant names, for the real sandboxed batch. Each student
  combines variants of DIFFERENT cells with no dependency between them, so each grade
  cell's expected points follow from one variant.
- ``LIBRARY_ANSWERS``: solution cell -> code that answers it through the course library
  (the "library-answers" student: every grade cell must score 0 and name the rule).

A variant edits ONE solution cell: ``code`` replaces the whole cell, ``edits`` are (old, new)
text replacements in the instructor's answer. ``fails`` maps each grade cell that must lose
its points to a text the failure message must contain (``a|b``: either); ``also_fails``:
later cells whose functions call this one, lost too (no message checked); every other grade
cell must keep full marks. ``notebook_also`` lists grade cells the notebook's own tests fail
in addition (a later test cell that calls this function: the trusted checks give the later
function its own reference inputs).
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Variant:
    name: str
    cell: str
    fails: dict[str, str] = field(default_factory=dict)
    code: str | None = None
    edits: list[tuple[str, str]] = field(default_factory=list)
    also_fails: set[str] = field(default_factory=set)
    notebook_also: set[str] = field(default_factory=set)

    def answer(self, solution: str) -> str:
        if self.code is not None:
            return self.code
        for old, new in self.edits:
            assert old in solution, (self.name, old)
            solution = solution.replace(old, new)
        return solution
