"""Every assignment's validity variants, collected from ``tests/validity/<assignment>.py``.

An assignment of ``solutions/`` with a module of that name here is picked up without
editing this file (``segcourse new-assignment`` writes one). What a variant is, and what
such a module defines: ``tests/validity/variant.py``.

- ``VARIANTS``: assignment -> its variants.
- ``BATCH_STUDENTS``: assignment -> student -> variant names (the real sandboxed batch),
  with the "library-answers" student added to every assignment.
- ``LIBRARY_ANSWER_CELLS``: assignment -> solution cell -> an answer through the course
  library (threat row 40): while the assignment is graded the sandbox mounts the grading
  edition of course_utils (autograder/library_edition.py), whose registered functions raise
  LibraryAnswerError, so every grade cell must score 0 and name the rule.
"""

from __future__ import annotations

import importlib
from pathlib import Path

from tests import REPO_ROOT
from tests.validity.variant import Variant

__all__ = ["BATCH_STUDENTS", "LIBRARY_ANSWERS_STUDENT", "LIBRARY_ANSWER_CELLS", "LIBRARY_RULE_TEXT",
           "VARIANTS", "Variant", "library_answer_variants"]

LIBRARY_ANSWERS_STUDENT = "library-answers"
LIBRARY_RULE_TEXT = "answered through the course library scores 0"


def assignments_with_variants() -> list[str]:
    """The assignments of solutions/ that have a variants module here, sorted."""
    here = Path(__file__).parent
    return sorted(folder.name for folder in (REPO_ROOT / "solutions").iterdir()
                  if folder.is_dir() and (here / f"{folder.name}.py").is_file())


VARIANTS: dict[str, list[Variant]] = {}
BATCH_STUDENTS: dict[str, dict[str, list[str]]] = {}
LIBRARY_ANSWER_CELLS: dict[str, dict[str, str]] = {}
for _assignment in assignments_with_variants():
    _module = importlib.import_module(f"tests.validity.{_assignment}")
    VARIANTS[_assignment] = list(_module.VARIANTS)
    LIBRARY_ANSWER_CELLS[_assignment] = dict(_module.LIBRARY_ANSWERS)
    BATCH_STUDENTS[_assignment] = {**_module.BATCH_STUDENTS,
                                   LIBRARY_ANSWERS_STUDENT: [f"library-{cell}" for cell in _module.LIBRARY_ANSWERS]}


def library_answer_variants(assignment: str) -> list[Variant]:
    """The student "library-answers" as variants, one per solution cell: every grade cell
    scores 0 (``also_fails``: the tests decide which ones name the rule)."""
    return [Variant(f"library-{cell}", cell, code=code) for cell, code in LIBRARY_ANSWER_CELLS[assignment].items()]
