"""The machinery every self-check runs on: cases, known mistakes, comparisons, reports.

A check (:class:`_Check`) holds the cases (:class:`_Case`: arguments for the student's
function), a reference that computes the right outputs, and known mistakes
(:class:`_Mistake`: a detector, usually "the outputs equal those of this known-wrong
version", and hints from general to specific). :func:`_run_check` runs the student's
function on every case within a time limit, compares with the reference, names the first
known mistake that matches, prints the next hint, records the result in the progress file
(:mod:`course_utils.selfcheck.records`) and returns a :class:`CheckResult`.

Model checks (Keras) do not compare outputs case by case: they look for the first
problem of a built model and report it the same way (:func:`_run_model_check`).
"""

import contextlib
import datetime
import inspect
import signal
import sys
import threading
from dataclasses import dataclass

import numpy as np

from course_utils.library_answers import LibraryAnswerWatch
from course_utils.settings import check_seconds

from .assignments import _resolve_assignment
from .records import NOT_YET, PASSED, _save_progress, load_progress

__all__ = ["CheckResult"]


@dataclass(frozen=True)
class CheckResult:
    """What one run of a self-check found.

    Attributes:
        name: the exercise, e.g. ``"dice_coefficient"``.
        passed: True if every case gave the right result.
        message: the text the check printed.
        hint_level: 0 when passed (or no hint), else the hint shown, 1 = most general.
        mistake: key of the diagnosed mistake (e.g. ``"nan_for_empty"``), ``"unknown"``
            if the outputs match no known mistake, None when passed.
    """

    name: str
    passed: bool
    message: str
    hint_level: int
    mistake: str | None = None

    def __str__(self):
        return self.message


# --- The check machinery ------------------------------------------------------------------


# Descriptions of all cases whose expected value may be printed (tests read this).
_PUBLIC_CASE_DESCRIPTIONS = set()


@dataclass(frozen=True)
class _Case:
    """One call of the student's function.

    ``public``: the expected value is already shown in the notebook or the lecture, so
    a message may print it. All other expected values stay unprinted.
    """

    description: str
    args: tuple
    kwargs: dict | None = None
    public: bool = False

    def __post_init__(self):
        if self.public:
            _PUBLIC_CASE_DESCRIPTIONS.add(self.description)

    def call(self, function):
        return function(*self.args, **(self.kwargs or {}))


@dataclass(frozen=True)
class _Mistake:
    """A known mistake: ``detect(cases, outputs, expected)`` says whether the student's
    outputs show it (``expected``: the reference's outputs, never printed)."""

    key: str
    title: str
    hints: tuple
    detect: object


@dataclass(frozen=True)
class _Raised:
    """Stands in for the output of a call that raised an exception."""

    error: BaseException

    def __str__(self):
        return f"raised {type(self.error).__name__}: {self.error}"


def _to_numpy(value):
    """NumPy view of a student's output: Keras/TF/JAX/torch tensors, lists, numbers."""
    if isinstance(value, (int, float, bool, np.ndarray, np.generic)):
        return np.asarray(value)
    if "keras" in sys.modules:
        try:
            return np.asarray(sys.modules["keras"].ops.convert_to_numpy(value))
        except Exception:  # not a tensor Keras knows: try NumPy below
            pass
    return np.asarray(value)


def _same(got, expected, rtol=1e-5, atol=1e-6):
    """Numerically equal (nan equals nan), with the same shape; lists compared item by item."""
    if isinstance(got, _Raised) or isinstance(expected, _Raised):
        return isinstance(got, _Raised) and isinstance(expected, _Raised) and (
            type(got.error) is type(expected.error))
    if isinstance(expected, (tuple, list)) and not isinstance(got, np.ndarray):
        if not isinstance(got, (tuple, list)) or len(got) != len(expected):
            return False
        return all(_same(g, e, rtol, atol) for g, e in zip(got, expected))
    try:
        got_array, expected_array = _to_numpy(got), np.asarray(expected)
        if got_array.shape != expected_array.shape:
            return False
        return bool(np.allclose(got_array.astype(float), expected_array.astype(float),
                                rtol=rtol, atol=atol, equal_nan=True))
    except (TypeError, ValueError):
        return False


def _run(function, case):
    with np.errstate(all="ignore"):  # a wrong function may divide by zero: that is data
        try:
            return case.call(function)
        except NotImplementedError:
            raise
        except Exception as error:  # the student's error is part of the diagnosis
            return _Raised(error)


def _show(value):
    """Short text of an output for a message (never of an expected hidden value)."""
    if isinstance(value, _Raised):
        return str(value)
    try:
        array = _to_numpy(value)
    except Exception:
        return repr(value)[:80]
    if array.ndim == 0:
        return f"{array.item():.4g}" if array.dtype.kind == "f" else repr(value)
    if array.size <= 12:
        shown = np.round(array, 4) if array.dtype.kind in "fc" else array   # np.round refuses bools
        return f"{shown.tolist()} (shape {array.shape})"
    return f"an array of shape {array.shape}"


def _values_right(rtol=1e-5, atol=1e-6):
    """Detector: every output has the reference's value (so only its type can be wrong)."""

    def detect(cases, outputs, expected):
        return all(_same(output, right, rtol, atol) for output, right in zip(outputs, expected))

    return detect


def _is_nan_or_error(output):
    if isinstance(output, _Raised):
        return True
    try:
        return bool(np.any(np.isnan(_to_numpy(output).astype(float))))
    except (TypeError, ValueError):
        return False


def _matches(variant, rtol=1e-5, atol=1e-6):
    """Detector: the student's outputs equal those of ``variant``.

    Outputs that are nan or an error are left out of the comparison (they have their
    own diagnoses, e.g. 0 / 0 for empty masks), so a student with two mistakes first
    hears of the one that shows in the ordinary cases. At least one compared case must
    be wrong, otherwise any variant would "match" a function that is right there.
    """

    def detect(cases, outputs, expected):
        compared = [(case, output, right) for case, output, right in zip(cases, outputs, expected)
                    if not _is_nan_or_error(output)]
        some_wrong = any(not _same(output, right, rtol, atol) for _, output, right in compared)
        return some_wrong and all(_same(output, _run(variant, case), rtol, atol)
                                  for case, output, _ in compared)

    return detect


class _Check:
    """Cases, a reference, known mistakes and generic hints of one exercise."""

    def __init__(self, name, cases, reference, mistakes, generic_hints, output_ok=None,
                 rtol=1e-5, atol=1e-6):
        self.name, self.cases, self.reference = name, cases, reference
        self.mistakes, self.generic_hints = mistakes, generic_hints
        self.output_ok = output_ok  # extra requirement on every output, e.g. its type
        self.rtol, self.atol = rtol, atol

    def expected(self):
        return [_run(self.reference, case) for case in self.cases]

    def case_passes(self, output, expected):
        if not _same(output, expected, self.rtol, self.atol):
            return False
        return self.output_ok is None or self.output_ok(output)


class _CheckTimeout(BaseException):
    """Raised by the alarm of :func:`_time_limit` (a BaseException: the student's
    ``except Exception`` must not swallow it)."""


@contextlib.contextmanager
def _time_limit(seconds):
    """Stop the code inside after ``seconds`` (an endless loop in a student's function) with
    :class:`_CheckTimeout`; a no-op where POSIX alarms are not available (Windows, threads)."""
    usable = (hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread()
              and seconds > 0)
    if not usable:
        yield
        return

    def on_alarm(signum, frame):
        raise _CheckTimeout()

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _guarded(name, assignment, quiet, run, seconds=None):
    """Run a check so that it never stops the notebook: an endless loop becomes a
    "took too long" result, an unexpected error in the check a "could not run" one."""
    limit = check_seconds() if seconds is None else seconds
    try:
        with _time_limit(limit):
            return run()
    except NotImplementedError:
        return _not_implemented(name, assignment, quiet)
    except _CheckTimeout:
        message = (f"✗ {name}: your function did not finish within {limit:.0f} s (an endless loop?). "
                   "Look at your loops: does every one of them end?")
        return _record(CheckResult(name, False, message, 0, "too_slow"), assignment, quiet)
    except Exception as error:  # a bug of the check, or an output it cannot read
        message = (f"✗ {name}: the self-check could not run ({type(error).__name__}: {error}). "
                   "Run the visible test below instead.")
        return _record(CheckResult(name, False, message, 0, "check_failed"), assignment, quiet)


def _run_check(check, function, assignment=None, quiet=False):
    """Run ``check`` on ``function``; diagnose, print, record and return a CheckResult."""
    return _guarded(check.name, assignment, quiet, lambda: _run_check_unguarded(check, function, assignment, quiet))


def _run_check_unguarded(check, function, assignment=None, quiet=False):
    name = check.name
    # A graded answer must be the student's own code: flag a library function that
    # computes it, whether the function is one (an alias) or calls one while it runs.
    watch = LibraryAnswerWatch(_resolve_assignment(name, assignment))
    watched = watch.wrap(function)
    if watch.found:
        return _report_library_answer(name, watch, assignment, quiet)
    try:
        outputs = [_run(watched, case) for case in check.cases]
    except NotImplementedError:
        return _not_implemented(name, assignment, quiet)
    if watch.found:
        return _report_library_answer(name, watch, assignment, quiet)
    expected = check.expected()
    failing = [i for i, (o, e) in enumerate(zip(outputs, expected))
               if not check.case_passes(o, e)]
    if not failing:
        return _report_pass(name, len(check.cases), assignment, quiet)
    mistake = next((m for m in check.mistakes if m.detect(check.cases, outputs, expected)), None)
    if mistake is None:
        mistake = _Mistake("unknown", "no mistake we know of matches your results",
                           check.generic_hints, None)
    first = failing[0]
    case = check.cases[first]
    # Expected values only for cases the notebook already shows (never a hidden one).
    found = (f"  First failing case: {case.description}: your function returned "
             f"{_show(outputs[first])}"
             + (f"; expected {_show(expected[first])} (shown in the notebook)."
                if case.public else "."))
    summary = f"{len(failing)} of {len(check.cases)} cases fail."
    return _report_failure(name, summary, found, mistake, assignment, quiet)


def _report_library_answer(name, watch, assignment, quiet):
    """Not passed: the function is, or calls, a library function that computes a graded answer."""
    message = f"✗ {name}: not passed. {watch.message()}. Write the computation yourself."
    return _record(CheckResult(name, False, message, 0, "library_answer"), assignment, quiet)


def _not_implemented(name, assignment, quiet):
    message = (f"✗ {name}: not implemented yet. Replace `raise NotImplementedError()` with "
               "your code, run the cell, then this check again.")
    return _record(CheckResult(name, False, message, 0, "not_implemented"), assignment, quiet)


def _report_pass(name, num_cases, assignment, quiet):
    message = (f"✓ {name}: all {num_cases} cases pass. The hidden tests check more cases "
               "when your work is graded.")
    return _record(CheckResult(name, True, message, 0, None), assignment, quiet)


def _report_failure(name, summary, found, mistake, assignment, quiet):
    """The failure message with the hint for ``mistake`` at the next level."""
    entry = load_progress().get(_progress_key(name, assignment), {})
    # Same mistake as last time: one hint further, up to the most specific one.
    if entry.get("last_mistake") == mistake.key and entry.get("status") != PASSED:
        level = min(entry.get("hint_level", 0) + 1, len(mistake.hints))
    else:
        level = 1
    lines = [f"✗ {name}: {summary}", found,
             f"  Likely mistake: {mistake.title}.",
             f"  Hint {level}/{len(mistake.hints)}: {mistake.hints[level - 1]}"]
    if level < len(mistake.hints):
        lines.append("  (Run the check again for a more specific hint.)")
    result = CheckResult(name, False, "\n".join(lines), level, mistake.key)
    return _record(result, assignment, quiet)


def _progress_key(name, assignment):
    return f"{_resolve_assignment(name, assignment)}/{name}"


def _record(result, assignment, quiet):
    """Store the result in the progress file, print its message, return it."""
    progress = load_progress()
    key = _progress_key(result.name, assignment)
    entry = dict(progress.get(key, {}))
    entry.update(
        status=PASSED if result.passed else NOT_YET,
        attempts=entry.get("attempts", 0) + 1,
        hint_level=result.hint_level,
        last_mistake=result.mistake,
        updated=datetime.datetime.now().isoformat(timespec="seconds"),
    )
    progress[key] = entry
    try:
        _save_progress(progress)
    except OSError as error:  # a read-only home must not break the check itself
        print(f"(progress not saved: {error})")
    if not quiet:
        print(result.message)
    return result


def _is_python_float(value):
    return isinstance(value, float)


def _is_int(value):
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def _accepts(function, parameter):
    try:
        return parameter in inspect.signature(function).parameters
    except (TypeError, ValueError):
        return False


# --- Helpers shared by the checks -------------------------------------------------------------


def _variant_check(name, cases, reference, variants, generic_hints, output_ok=None, rtol=1e-5,
                   atol=1e-6, extra_mistakes=()):
    """A check whose known mistakes are wrong versions of the function.

    ``variants``: ``(key, title, hints, wrong_function)`` tuples, tried in order.
    """
    mistakes = [_Mistake(key, title, hints, _matches(wrong, rtol, atol))
                for key, title, hints, wrong in variants]
    return _Check(name, cases, reference, list(extra_mistakes) + mistakes, generic_hints,
                  output_ok=output_ok, rtol=rtol, atol=atol)


def _int_values_right():
    return _Mistake("not_int", "the result is right but not an int", (
        "Return a Python int (or a NumPy integer): sizes and counts are whole numbers.",
    ), _values_right())


def _model_problem_report(name, problem, mistakes, assignment, quiet):
    """Report the first problem found by a model check: ``(checked, key, got)`` or None."""
    if problem is None:
        return _report_pass(name, 1, assignment, quiet)
    checked, key, got = problem
    title, hints = mistakes[key]
    return _report_failure(name, "the model differs from the exercise's network.",
                           f"  Checked: {checked}; yours gave {got}.",
                           _Mistake(key, title, hints, None), assignment, quiet)


def _run_model_check(name, model_check, function, mistakes, assignment, quiet, seconds=None):
    def run():
        watch = LibraryAnswerWatch(_resolve_assignment(name, assignment))   # as in _run_check_unguarded
        watched = watch.wrap(function)
        problem = None if watch.found else model_check(watched)
        if watch.found:
            return _report_library_answer(name, watch, assignment, quiet)
        return _model_problem_report(name, problem, mistakes, assignment, quiet)

    return _guarded(name, assignment, quiet, run, seconds)
