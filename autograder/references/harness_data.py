"""The plain data of the harness protocol (autograder/harness.py), for the reference
modules: building the arguments of a ``Call`` (what is sent to the sandbox) and reading
what came back in ``Results`` (numbers, tuples, JSON values, the layers of a model, the
shapes recorded by the grader's fake callables). Each reader raises ``Fail`` with a
message for the student when the value is not of the expected kind."""

from __future__ import annotations

import numpy as np

from autograder.references import Fail, Results

# What `isinstance(x, float)` accepts, as the notebooks test it: numpy.float64 subclasses float.
FLOAT_TYPES = {"builtins.float", "numpy.float64"}


# ----------------------------------------------------------------------------- arguments
def value(v) -> dict:
    return {"value": v}


def array(name: str) -> dict:
    return {"array": name}


def pair(v) -> dict:
    """A Python tuple argument (JSON has only lists): ``(3, 5)``; ints stay ints."""
    return {"tuple": list(v)} if isinstance(v, (tuple, list)) else {"value": v}


def fake(kind: str, **spec) -> dict:
    return {"fake": {"kind": kind, **spec}}


# ----------------------------------------------------------------------------- results
def integer(r: Results, name: str, what: str, strict: bool = False):
    """A returned whole number; ``strict``: it must be an int (Python or NumPy)."""
    got = r.array(name, what)
    if got.shape != () or got.dtype.kind not in ("iu" if strict else "iuf"):
        raise Fail(f"{what} should return an int, got a {r.kind(name) or 'value'}"
                   + ("" if r.hidden else f" of shape {got.shape}") + ".")
    number = float(got)
    return int(number) if number.is_integer() else number


def python_float(r: Results, name: str, what: str) -> float:
    """A returned float (``isinstance(got, float)``: a Python float or a numpy.float64)."""
    got = r.array(name, what)
    if got.shape != () or got.dtype.kind != "f" or r.kind(name) not in FLOAT_TYPES:
        raise Fail(f"{what} should return a Python float, got a {r.kind(name) or 'value'}.")
    return float(got)


def ints(r: Results, name: str, what: str, length: int) -> tuple:
    """A returned tuple of ``length`` whole numbers, e.g. (height, width, channels)."""
    got = r.array(name, what)
    if got.shape != (length,) or got.dtype.kind not in "iuf":
        raise Fail(f"{what} should return a tuple of {length} ints"
                   + ("" if r.hidden else f", got a {r.kind(name) or 'value'} of shape {got.shape}") + ".")
    return tuple(int(v) if float(v).is_integer() else float(v) for v in got)


def items(r: Results, name: str, what: str, count: int) -> list[np.ndarray]:
    """The ``count`` arrays of a returned tuple (``kind="tuple"``)."""
    entry = r.entry(name, what)
    parts = entry.get("items")
    if not isinstance(parts, list) or len(parts) != count:
        raise Fail(f"{what} should return a tuple of {count} arrays.")
    out = []
    for part in parts:
        value = r.value_of(part) if isinstance(part, dict) and part.get("status") == "ok" else None
        if value is None:
            raise Fail(f"{what} should return a tuple of {count} arrays of numbers.")
        out.append(value)
    return out


def raised(r: Results, name: str, what: str) -> tuple[str, str] | None:
    """``(exception name, message)`` if the call raised, else None, for checks that expect
    an error; a function that is missing, or no result at all, fails as in ``Results.entry``."""
    entry = r.meta.get(name)
    if isinstance(entry, dict) and entry.get("status") == "error":
        return str(entry.get("ename", "Exception"))[:100], str(entry.get("evalue", ""))
    r.entry(name, what)
    return None


def json_value(r: Results, name: str, what: str):
    entry = r.entry(name, what)
    if "json" not in entry:
        raise Fail(f"{what}: no result came back.")
    return entry["json"]


def fake_calls(r: Results, name: str, argument: str) -> list[tuple]:
    """Input shapes, call by call, of the fake passed as ``argument`` (position or keyword)."""
    calls = r.entry(name, "").get("fake_calls", {}).get(argument, [])
    return [tuple(int(v) for v in shape) for shape in calls if isinstance(shape, list)]


def model_entry(r: Results, name: str, what: str) -> dict:
    entry = r.entry(name, what)
    if not isinstance(entry.get("layers"), list):      # only a keras.Model is described by its layers
        raise Fail(f"{what} should return a keras.Model.")
    return entry


def activation(config: dict) -> str:
    act = config.get("activation")
    if isinstance(act, dict):       # serialized function object
        act = act.get("config", act.get("class_name"))
    return str(act)


def pair_of(v) -> tuple:
    return tuple(v) if isinstance(v, (list, tuple)) else (v, v)
