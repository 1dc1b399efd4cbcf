"""Trusted reference checks, one module per assignment (NEVER mounted in the sandbox).

A module ``autograder.references.<assignment>`` defines ``CHECKS``: for each grade_id of
the assignment, a function ``make(rng) -> Probe``. A ``Probe`` says which student
functions to call on which inputs (drawn from ``rng``, seeded by the trusted side for
each grading run) and holds a ``judge`` that the trusted process runs on the plain data
that came back. The expected values stay in the judge's closure, on the trusted side.

A judge returns a message on success and raises ``Fail(message)`` otherwise; messages
of hidden checks describe what was checked, never the expected values.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np


class Fail(Exception):
    """A check that did not pass; the message is shown to the student."""


# The verdict of a part answered through the course library (a fixed text: the
# sandbox's own error message is student-controlled and never echoed for hidden checks).
LIBRARY_ANSWER_RULE = ("it called a function of the course library that computes a graded answer, which is not "
                       "available while your work is graded: graded answers must be your own code (a part "
                       "answered through the course library scores 0).")


@dataclass
class Call:
    """One call of a student function: ``function(*args, **kwargs)``.

    Each argument is an array name (``{"array": name}``, from ``Probe.arrays``) or a
    JSON value (``{"value": v}``). ``kind="keras_model"``: the function builds a Keras
    model; the harness reports its layers and parameter count, sets ``weights`` (array
    names) and returns its output on ``page`` (an array name). ``tensor_input`` (a shape
    such as ``[None, None, 3]``): the function maps a Keras tensor to a tensor (a block of
    layers, e.g. ``double_conv(x, filters)``); the harness passes ``keras.Input(tensor_input)``
    as the first argument and treats ``keras.Model(input, result)`` as the built model.
    """

    name: str
    function: str
    args: list = field(default_factory=list)
    kwargs: dict = field(default_factory=dict)
    kind: str = "call"
    weights: list[str] | None = None
    page: str | None = None
    tensor_input: list | None = None

    def to_json(self) -> dict:
        return {"name": self.name, "function": self.function, "args": self.args, "kwargs": self.kwargs,
                "kind": self.kind, "weights": self.weights, "page": self.page, "tensor_input": self.tensor_input}


@dataclass
class Probe:
    calls: list[Call]
    arrays: dict[str, np.ndarray]
    judge: Callable[[Results], str]
    hidden: bool = False


# How the harness sends a returned value (autograder/harness.py ``_encode``): the form is
# the key, so the trusted side derives the kind of value from the data.
VALUE_FORMS = ("numpy", "tensor", "list", "tuple", "array")


class Results:
    """What came back from the sandbox for one probe, read as plain data."""

    def __init__(self, meta: dict[str, Any], arrays: dict[str, np.ndarray], hidden: bool):
        self.meta, self.arrays, self.hidden = meta, arrays, hidden
        # A call that reached a grading-edition stub decides the whole probe, however its
        # judge reads the results (some read the error entries themselves).
        if any(isinstance(e, dict) and e.get("status") == "error" and e.get("ename") == "LibraryAnswerError"
               for e in (meta.values() if isinstance(meta, dict) else ())):
            raise Fail(f"A checked function: {LIBRARY_ANSWER_RULE}")

    def entry(self, name: str, what: str) -> dict:
        entry = self.meta.get(name)
        if not isinstance(entry, dict):
            raise Fail(f"{what}: no result came back.")
        status = entry.get("status")
        if status == "missing":
            raise Fail(f"{what}: the function is not defined.")
        if status == "error":
            ename = str(entry.get("ename", "Exception"))[:100]
            if ename == "LibraryAnswerError":     # a grading-edition stub (course_utils.library_answers)
                raise Fail(f"{what}: {LIBRARY_ANSWER_RULE}")
            evalue = "" if self.hidden else f": {str(entry.get('evalue', ''))[:300]}"
            raise Fail(f"{what} raised {ename}{evalue}.")
        if status != "ok":
            raise Fail(f"{what}: no valid result came back.")
        return entry

    def array(self, name: str, what: str) -> np.ndarray:
        entry = self.entry(name, what)
        value = self.value_of(entry)
        if value is None:
            raise Fail(f"{what}: no output came back" + ("" if self.hidden else f" ({entry.get('outputs_error', '')})"))
        return value

    def value_of(self, entry: dict) -> np.ndarray | None:
        """The value of one returned entry as an array (None if it holds none): a JSON
        number, or the array named by its form (``numpy``, ``tensor``, ``list``, ``tuple``,
        or ``array`` for a model's output)."""
        if "number" in entry:
            number = entry["number"]
            if isinstance(number, bool):
                return np.asarray(number)
            if isinstance(number, int) and -2 ** 63 <= number < 2 ** 63:
                return np.asarray(number, dtype=np.int64)
            return np.asarray(number, dtype=np.float64) if isinstance(number, float) else None
        key = next((entry[form] for form in VALUE_FORMS if form in entry), None)
        return self.arrays.get(key) if isinstance(key, str) else None

    def kind(self, name: str) -> str:
        """What a value was, derived from its data (never from a class name the sandbox
        reports): ``builtins.float``/``int``/``bool`` for a JSON number (numpy.float64 is
        a float), ``numpy.ndarray`` or ``numpy.<dtype>`` (0-d) for a NumPy value,
        ``builtins.list``/``tuple``, ``tensor`` for a backend tensor; "" if unknown."""
        entry = self.meta.get(name)
        if not isinstance(entry, dict):
            return ""
        if "number" in entry:
            return f"builtins.{type(entry['number']).__name__}" if type(entry["number"]) in (bool, int, float) else ""
        value = self.value_of(entry)
        if value is None:
            return ""
        if "numpy" in entry:
            return "numpy.ndarray" if value.ndim else f"numpy.{value.dtype.name}"
        if "tensor" in entry:
            return "tensor"
        return f"builtins.{'list' if 'list' in entry else 'tuple'}" if ("list" in entry or "tuple" in entry) else ""


def load_checks(assignment: str,
                course_root: Path | str | None = None) -> dict[str, Callable[[np.random.Generator], Probe]]:
    """The ``CHECKS`` of ``assignment``: from this package's ``autograder.references.<assignment>``
    first, else from ``<course_root>/autograder/references/<assignment>.py`` (a course folder that
    is not this checkout: an instructor with the wheel installed, a scaffolded assignment),
    loaded by file path. ModuleNotFoundError when neither exists."""
    return dict(check_table_module(assignment, course_root).CHECKS)


def course_library_answers(assignment: str, course_root: Path | str | None) -> dict[str, list[str]] | None:
    """The ``LIBRARY_ANSWERS`` that a course folder's own check table declares for
    ``assignment`` (grade_id -> ``course_utils`` functions that compute its answer), for an
    assignment the installed library's registry does not know; None when the check table
    comes from this package or declares none."""
    try:
        module = check_table_module(assignment, course_root)
    except ModuleNotFoundError:
        return None
    if module.__name__.startswith("autograder.references."):
        return None
    return getattr(module, "LIBRARY_ANSWERS", None)


def check_table_module(assignment: str, course_root: Path | str | None = None):
    """The module holding ``assignment``'s check table (see ``load_checks``)."""
    name = f"autograder.references.{assignment}"
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as error:
        if error.name != name:       # the module exists but one of its own imports failed
            raise
        path = Path(course_root, "autograder", "references", f"{assignment}.py") if course_root else None
        if path is None or not path.is_file():
            raise
    # a private module name, so the course's file never shadows a module of the package; put in
    # sys.modules as an import would (dataclasses look their module up there)
    spec = importlib.util.spec_from_file_location(f"_segcourse_course_references_{assignment}", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module
