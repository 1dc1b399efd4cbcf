"""Self-checks for students: run your function on test cases and get a hint for your mistake.

Call a check with your function, e.g. in ``exercises/fcn_basics/fcn_basics.ipynb``::

    from course_utils.selfcheck import check_dice, show_progress
    check_dice(dice_coefficient)
    show_progress()

A check runs your function on cases like the visible tests' and a few more. If it is
wrong, the check compares your outputs with those of *known-wrong* versions of the
function (the mistakes students make most often: IoU instead of Dice, nan for empty
masks, summing over the wrong axes, a softmax applied twice, ...). When one of them
gives exactly your outputs, you get a hint for that mistake. Hints are progressive: run
the same check again with the same mistake and the next hint is more specific; it never
prints the answer. Expected values are printed only for the lecture's worked examples
that the notebook already shows; for the other cases you only see what your function
returned.

Every check returns a :class:`CheckResult` and records it in a small JSON progress file,
``~/.segcourse/progress.json`` (or the path in the environment variable
``SEGCOURSE_PROGRESS_FILE``). :func:`show_progress` prints a table of all exercises of all
assignments: passed, not yet, or not attempted.

Which assignment a check counts for: the ``assignment`` argument if given, else the
environment variable ``SEGCOURSE_ASSIGNMENT``, else the folder the notebook runs in
(``exercises/<assignment>/``), else the first assignment that has the exercise.

The self-checks are no grade: the hidden tests check more cases when your work is graded.
"""

import contextlib
import datetime
import inspect
import json
import os
import re
import signal
import sys
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from course_utils import metrics, shapes
from course_utils.library_answers import LibraryAnswerWatch

__all__ = [
    "CheckResult",
    "check_conv_output_size",
    "check_conv_transpose_output_size",
    "check_fcn_upscaling_shapes",
    "check_dice",
    "check_iou",
    "check_soft_dice",
    "check_weighted_crossentropy",
    "check_fcn_upscaling",
    "check_max_pool_with_argmax",
    "check_max_unpool",
    "check_pool_output_size",
    "check_upscaling_output_size",
    "check_bottleneck_shape",
    "check_decoded_shape",
    "check_padded_size",
    "check_conv2d_params",
    "check_conv2d_transpose_params",
    "check_dense_params",
    "check_skip_fcn_table",
    "check_extract_patches",
    "check_predict_sliding_window",
    "check_predict_fcn",
    "check_conv2d_transpose_numpy",
    "check_fcn_skip_upscaling",
    "check_fcn_transposed_skip",
    "check_unet_bottleneck_size",
    "check_double_conv",
    "check_build_unet",
    "check_train_unet",
    "check_mean_iou",
    "check_class_weights",
    "EXERCISE_CHECKS",
    "progress",
    "progress_file",
    "load_progress",
    "show_progress",
    "ASSIGNMENT_EXERCISES",
]

# The course's assignments and their exercises (function names), in course order. Used
# when the exercise notebooks cannot be found; otherwise they are read from
# exercises/<assignment>/<assignment>.ipynb, so new assignments appear by themselves.
ASSIGNMENT_EXERCISES = {
    "fcn_basics": [
        "conv_output_size", "conv_transpose_output_size", "fcn_upscaling_shapes",
        "dice_coefficient", "soft_dice_loss", "build_fcn_upscaling",
    ],
    "sliding_window_vs_fcn": [
        "extract_patches", "predict_sliding_window", "build_fcn_upscaling", "predict_fcn",
    ],
    "dimensions": [
        "conv_output_size", "pool_output_size", "upscaling_output_size",
        "conv_transpose_output_size", "bottleneck_shape", "decoded_shape", "padded_size",
        "conv2d_params", "conv2d_transpose_params", "dense_params", "skip_fcn_table",
    ],
    "skip_fcns": [
        "build_fcn_skip_upscaling", "build_fcn_transposed_skip", "conv2d_transpose_numpy",
        "max_pool_with_argmax", "max_unpool",
    ],
    "unet": ["unet_bottleneck_size", "double_conv", "build_unet", "train_unet"],
    "losses_metrics": [
        "dice_coefficient", "iou_score", "mean_iou", "soft_dice_loss",
        "class_weights_from_frequencies", "weighted_crossentropy",
    ],
}

# The self-check of every exercise (function name -> name of its check in this module).
EXERCISE_CHECKS = {
    "conv_output_size": "check_conv_output_size",
    "conv_transpose_output_size": "check_conv_transpose_output_size",
    "fcn_upscaling_shapes": "check_fcn_upscaling_shapes",
    "dice_coefficient": "check_dice",
    "iou_score": "check_iou",
    "soft_dice_loss": "check_soft_dice",
    "weighted_crossentropy": "check_weighted_crossentropy",
    "build_fcn_upscaling": "check_fcn_upscaling",
    "max_pool_with_argmax": "check_max_pool_with_argmax",
    "max_unpool": "check_max_unpool",
    "pool_output_size": "check_pool_output_size",
    "upscaling_output_size": "check_upscaling_output_size",
    "bottleneck_shape": "check_bottleneck_shape",
    "decoded_shape": "check_decoded_shape",
    "padded_size": "check_padded_size",
    "conv2d_params": "check_conv2d_params",
    "conv2d_transpose_params": "check_conv2d_transpose_params",
    "dense_params": "check_dense_params",
    "skip_fcn_table": "check_skip_fcn_table",
    "extract_patches": "check_extract_patches",
    "predict_sliding_window": "check_predict_sliding_window",
    "predict_fcn": "check_predict_fcn",
    "conv2d_transpose_numpy": "check_conv2d_transpose_numpy",
    "build_fcn_skip_upscaling": "check_fcn_skip_upscaling",
    "build_fcn_transposed_skip": "check_fcn_transposed_skip",
    "unet_bottleneck_size": "check_unet_bottleneck_size",
    "double_conv": "check_double_conv",
    "build_unet": "check_build_unet",
    "train_unet": "check_train_unet",
    "mean_iou": "check_mean_iou",
    "class_weights_from_frequencies": "check_class_weights",
}
_COURSE_ORDER = ["fcn_basics", "sliding_window_vs_fcn", "dimensions", "skip_fcns", "unet",
                 "losses_metrics"]
# Exercises checked here whose assignment notebook may not exist yet.
_PLANNED_ASSIGNMENT = {"iou_score": "losses_metrics", "weighted_crossentropy": "losses_metrics"}

_PASSED, _NOT_YET, _NOT_ATTEMPTED = "passed", "not yet", "not attempted"


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


# --- Progress file ------------------------------------------------------------------------


def progress_file():
    """Path of the progress file: ``$SEGCOURSE_PROGRESS_FILE`` or ``~/.segcourse/progress.json``."""
    configured = os.environ.get("SEGCOURSE_PROGRESS_FILE")
    if configured:
        return Path(configured).expanduser()
    return Path.home() / ".segcourse" / "progress.json"


def load_progress(path=None):
    """The recorded progress: ``{"assignment/exercise": {...}}``; empty if there is none.

    A damaged file is treated as empty (and replaced on the next check) rather than
    breaking the notebook.
    """
    path = Path(path) if path is not None else progress_file()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    exercises = data.get("exercises") if isinstance(data, dict) else None
    return exercises if isinstance(exercises, dict) else {}


def _save_progress(exercises, path=None):
    path = Path(path) if path is not None else progress_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    # Write a temporary file and rename it: a crash never leaves half a JSON file.
    with tempfile.NamedTemporaryFile("w", encoding="utf-8", dir=path.parent, delete=False,
                                     suffix=".tmp") as handle:
        json.dump({"version": 1, "exercises": exercises}, handle, indent=2, sort_keys=True)
    os.replace(handle.name, path)


def _course_root():
    # The repository root when course_utils is used from a checkout of the course.
    return Path(__file__).resolve().parent.parent


def _discover_exercises(course_root=None):
    """``{assignment: [function names]}`` read from the student notebooks' answer cells."""
    root = Path(course_root) if course_root is not None else _course_root()
    found = {}
    for notebook in sorted((root / "exercises").glob("*/*.ipynb")):
        try:
            cells = json.loads(notebook.read_text(encoding="utf-8"))["cells"]
        except (OSError, ValueError, KeyError):
            continue
        names = []
        for cell in cells:
            if not cell.get("metadata", {}).get("nbgrader", {}).get("solution"):
                continue
            source = "".join(cell.get("source", ""))
            # Public functions only: a leading underscore marks a given helper.
            names += [n for n in re.findall(r"^def ([A-Za-z]\w*)\(", source, re.M)
                      if n not in names]
        if names:
            found[notebook.parent.name] = names
    return found


def _assignment_table(course_root=None, recorded=()):
    """All assignments and exercises: discovered, else built in, plus anything recorded."""
    table = {name: list(exercises) for name, exercises in ASSIGNMENT_EXERCISES.items()}
    table.update(_discover_exercises(course_root))
    for key in recorded:
        assignment, _, exercise = key.partition("/")
        exercises = table.setdefault(assignment, [])
        if exercise not in exercises:
            exercises.append(exercise)

    def order(name):
        return (_COURSE_ORDER.index(name) if name in _COURSE_ORDER else len(_COURSE_ORDER), name)

    return {name: table[name] for name in sorted(table, key=order)}


def _resolve_assignment(exercise, assignment=None):
    if assignment:
        return assignment
    if os.environ.get("SEGCOURSE_ASSIGNMENT"):
        return os.environ["SEGCOURSE_ASSIGNMENT"]
    table = _assignment_table()
    folder = Path.cwd().name  # Jupyter runs a notebook in its own folder
    if exercise in table.get(folder, ()):
        return folder
    for name, exercises in table.items():
        if exercise in exercises:
            return name
    return _PLANNED_ASSIGNMENT.get(exercise, "other")


def _status_text(entry):
    if entry is None:
        return _NOT_ATTEMPTED
    if entry.get("status") == _PASSED:
        return _PASSED
    level = entry.get("hint_level", 0)
    return f"{_NOT_YET} (hint {level})" if level else _NOT_YET


def progress(path=None, course_root=None):
    """Print the table of every exercise and its self-check status: :func:`show_progress`."""
    return show_progress(path, course_root)


def show_progress(path=None, course_root=None):
    """Print a table of every exercise of every assignment and its self-check status.

    Args:
        path: the progress file; :func:`progress_file` if None.
        course_root: folder holding ``exercises/``; the course checkout if None.

    Returns:
        The rows as ``(assignment, exercise, status)`` tuples.
    """
    recorded = load_progress(path)
    table = _assignment_table(course_root, recorded)
    rows = [(assignment, exercise, _status_text(recorded.get(f"{assignment}/{exercise}")))
            for assignment, exercises in table.items() for exercise in exercises]
    widths = [max(len(header), *(len(row[i]) for row in rows))
              for i, header in enumerate(("assignment", "exercise", "status"))]
    lines = ["  ".join(h.ljust(w) for h, w in zip(("assignment", "exercise", "status"), widths)),
             "  ".join("-" * w for w in widths)]
    previous = None
    for assignment, exercise, status in rows:
        shown = assignment if assignment != previous else ""  # the name once per block
        previous = assignment
        lines.append("  ".join(v.ljust(w) for v, w in zip((shown, exercise, status), widths)))
    passed = sum(status == _PASSED for *_, status in rows)
    lines.append(f"\n{passed} of {len(rows)} exercises pass their self-check.")
    print("\n".join(lines))
    return rows


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
        return f"{np.round(array, 4).tolist()} (shape {array.shape})"
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


def _check_seconds():
    """Time limit of one self-check: ``$SEGCOURSE_CHECK_SECONDS``, else 60 s, or 15 s with
    ``COURSE_FAST=1`` (CI and the autograder, where the graded tests follow anyway)."""
    default = 15.0 if os.environ.get("COURSE_FAST") == "1" else 60.0
    try:
        return float(os.environ.get("SEGCOURSE_CHECK_SECONDS", default))
    except ValueError:
        return default


def _guarded(name, assignment, quiet, run, seconds=None):
    """Run a check so that it never stops the notebook: an endless loop becomes a
    "took too long" result, an unexpected error in the check a "could not run" one."""
    limit = _check_seconds() if seconds is None else seconds
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
    if entry.get("last_mistake") == mistake.key and entry.get("status") != _PASSED:
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
        status=_PASSED if result.passed else _NOT_YET,
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


# --- Output sizes -------------------------------------------------------------------------


def _conv_size_reference(n, k, s=1, padding="valid"):
    return shapes.conv_output_size(n, k, stride=s, padding=padding)


def _conv_size_variant(valid, same):
    def variant(n, k, s=1, padding="valid"):
        return valid(n, k, s) if padding == "valid" else same(n, k, s)

    return variant


_CONV_CASES = [
    _Case("slide 'Standard': 4x4 input, 3x3 filter, stride 1, 'valid'", (4, 3, 1, "valid"), public=True),
    _Case("slide 'Stride': 5x5 input, 3x3 filter, stride 2, 'valid'", (5, 3, 2, "valid"), public=True),
    _Case("slide 'Padding': 5x5 input, 3x3 filter, stride 1, 'same'", (5, 3, 1, "same"), public=True),
    _Case("7 pixels, 3x3 filter, stride 2, 'same' (rounds up)", (7, 3, 2, "same"), public=True),
    _Case("10 pixels, kernel 3, stride 3, 'valid'", (10, 3, 3, "valid")),
    _Case("9 pixels, kernel 4, stride 2, 'valid'", (9, 4, 2, "valid")),
    _Case("12 pixels, kernel 4, stride 1, 'same' (even kernel)", (12, 4, 1, "same")),
    _Case("13 pixels, kernel 5, stride 4, 'same'", (13, 5, 4, "same")),
    _Case("8 pixels, 2x2 pooling window, stride 2, 'valid'", (8, 2, 2, "valid")),
    _Case("6 pixels, kernel 1, stride 1, 'valid'", (6, 1, 1, "valid")),
]

_CONV_CHECK = _Check(
    "conv_output_size", _CONV_CASES, _conv_size_reference,
    mistakes=[
        _Mistake("missing_plus_one", "the '+ 1' of the 'valid' formula is missing", (
            "Count the positions of the window by hand for the slide's 4x4 input and 3x3 filter.",
            "A window of k pixels fits at positions 0, s, 2s, ... as long as it ends inside "
            "the input: that is one more position than (n - k) // s.",
            "valid: (n - k) // s + 1. The '+ 1' counts the first position, at 0.",
        ), _matches(_conv_size_variant(lambda n, k, s: (n - k) // s, lambda n, k, s: -(-n // s)))),
        _Mistake("same_rounds_down", "'same' rounds down instead of up", (
            "Try 7 pixels with stride 2 and 'same': Keras pads so that no pixel is lost.",
            "Keras' 'same' gives ceil(n / s); n // s rounds down.",
            "In integer arithmetic ceil(n / s) == -(-n // s) == (n + s - 1) // s.",
        ), _matches(_conv_size_variant(lambda n, k, s: (n - k) // s + 1, lambda n, k, s: n // s))),
        _Mistake("same_ignores_stride", "'same' returns the input size whatever the stride", (
            "'same' keeps the size only for stride 1; what does a stride of 2 do?",
            "With 'same' the output has ceil(n / s) pixels.",
        ), _matches(_conv_size_variant(lambda n, k, s: (n - k) // s + 1, lambda n, k, s: n))),
        _Mistake("same_as_half_padding", "'same' computed as padding k // 2 on both sides", (
            "Your 'same' is right for odd kernels only: try an even kernel with stride 1.",
            "Keras' 'same' does not pad k // 2 on each side; it pads whatever makes the "
            "output ceil(n / s), whatever the kernel size.",
        ), _matches(_conv_size_variant(lambda n, k, s: (n - k) // s + 1,
                                       lambda n, k, s: (n + 2 * (k // 2) - k) // s + 1))),
        _Mistake("ceil_in_valid", "'valid' rounds up", (
            "With 'valid' a window that would stick out of the input is dropped.",
            "valid: floor((n - k) / s) + 1, so use // and not a ceiling.",
        ), _matches(_conv_size_variant(lambda n, k, s: -(-(n - k) // s) + 1,
                                       lambda n, k, s: -(-n // s)))),
        _Mistake("stride_ignored", "the stride is ignored in 'valid'", (
            "Compare the slides 'Standard' and 'Stride': the stride changes the output.",
            "valid: (n - k) // s + 1; divide by the stride.",
        ), _matches(_conv_size_variant(lambda n, k, s: n - k + 1, lambda n, k, s: -(-n // s)))),
        _Mistake("float_division", "a true division '/' gives fractional sizes", (
            "Sizes are whole pixels: look at the type and value of what you return.",
            "Use integer division '//' (or math.floor/math.ceil) so that the result is an int.",
        ), lambda cases, outputs, expected: any(isinstance(o, float) and o != int(o) for o in outputs
                                      if not isinstance(o, _Raised))),
        _Mistake("not_int", "the result is right but not an int", (
            "Return a Python int (or a NumPy integer), not a float: sizes are whole pixels.",
        ), _values_right()),
    ],
    generic_hints=(
        "Check both paddings separately against the formulas in the text above the exercise.",
        "valid: floor((n - k) / s) + 1. same: ceil(n / s), independent of the kernel.",
    ),
    output_ok=_is_int,
)


def check_conv_output_size(conv_output_size, assignment=None, quiet=False):
    """Check ``conv_output_size(input_size, kernel_size, stride=1, padding="valid")``.

    Diagnoses: a missing '+ 1', 'same' rounding down or ignoring the stride, 'same' as
    padding k // 2 (wrong for even kernels), a ceiling in 'valid', an ignored stride,
    float sizes.
    """
    return _run_check(_CONV_CHECK, conv_output_size, assignment, quiet)


def _accepts(function, parameter):
    try:
        return parameter in inspect.signature(function).parameters
    except (TypeError, ValueError):
        return False


def _transpose_reference(n, k, s=1, padding="valid", output_padding=None):
    return shapes.conv_transpose_output_size(n, k, stride=s, padding=padding,
                                             output_padding=output_padding)


def _transpose_variant(valid=None, same=None, same_with_output_padding=None,
                       valid_with_output_padding=None):
    """The reference with some of its branches replaced by wrong formulas."""

    def variant(n, k, s=1, padding="valid", output_padding=None):
        if padding == "valid" and output_padding is None and valid:
            return valid(n, k, s)
        if padding == "same" and output_padding is None and same:
            return same(n, k, s)
        if padding == "same" and output_padding is not None and same_with_output_padding:
            return same_with_output_padding(n, k, s, output_padding)
        if padding == "valid" and output_padding is not None and valid_with_output_padding:
            return valid_with_output_padding(n, k, s, output_padding)
        return _transpose_reference(n, k, s, padding, output_padding)

    return variant


_TRANSPOSE_CASES = [
    _Case("slide 'Standard': 2x2 input, 3x3 filter, stride 1, 'valid'", (2, 3, 1, "valid"), public=True),
    _Case("slide 'Stride': 2x2 input, 3x3 filter, stride 2, 'valid'", (2, 3, 2, "valid"), public=True),
    _Case("slide 'Padding': 5x5 input, 3x3 filter, stride 1, 'same'", (5, 3, 1, "same"), public=True),
    _Case("16 pixels, 3x3, stride 2, 'same' (the FCN decoder)", (16, 3, 2, "same"), public=True),
    _Case("3 pixels, kernel 2 < stride 3, 'valid'", (3, 2, 3, "valid"), public=True),
    _Case("4 pixels, kernel 2, stride 2, 'valid'", (4, 2, 2, "valid")),
    _Case("3 pixels, kernel 5, stride 2, 'valid'", (3, 5, 2, "valid")),
    _Case("6 pixels, kernel 1 < stride 3, 'valid'", (6, 1, 3, "valid")),
    _Case("7 pixels, kernel 4, stride 3, 'same'", (7, 4, 3, "same")),
    _Case("1 pixel, kernel 3, stride 1, 'valid'", (1, 3, 1, "valid")),
]
_OUTPUT_PADDING_CASES = [
    _Case("2 pixels, 3x3, stride 2, 'valid', output_padding=1", (2, 3, 2, "valid", 1), public=True),
    _Case("4 pixels, 3x3, stride 2, 'same', output_padding=0", (4, 3, 2, "same", 0), public=True),
    _Case("4 pixels, 3x3, stride 2, 'same', output_padding=1", (4, 3, 2, "same", 1), public=True),
    _Case("3 pixels, 3x3, stride 2, 'valid', output_padding=0", (3, 3, 2, "valid", 0)),
    _Case("5 pixels, kernel 4, stride 3, 'same', output_padding=2", (5, 4, 3, "same", 2)),
    _Case("3 pixels, kernel 2 < stride 3, 'valid', output_padding=0", (3, 2, 3, "valid", 0)),
]


def _transpose_mistakes():
    return [
        _Mistake("n_times_s_plus_k", "n * s + k instead of (n - 1) * s + k", (
            "Draw the slide's 2x2 -> 5x5 example: where does the last stamp start?",
            "The first stamp starts at 0, the last one at (n - 1) * s; it is k pixels long.",
            "valid (stride <= kernel): (n - 1) * s + k. Only n - 1 steps lie between n stamps.",
        ), _matches(_transpose_variant(valid=lambda n, k, s: n * s + k))),
        _Mistake("minus_one", "(n - 1) * s + k - 1: one pixel short", (
            "Check the slide 'Standard' (2x2 input, 3x3 filter, stride 1): count the output pixels.",
            "The last stamp starts at (n - 1) * s and covers k pixels, up to and including "
            "pixel (n - 1) * s + k - 1: so the size is one more than that index.",
        ), _matches(_transpose_variant(valid=lambda n, k, s: (n - 1) * s + k - 1))),
        _Mistake("missing_max", "the case stride > kernel is missing", (
            "Try a kernel smaller than the stride, e.g. kernel 2 and stride 3.",
            "When s > k the stamps leave gaps, and Keras keeps the gap after the last stamp "
            "too: the last stamp is padded to s pixels.",
            "valid: (n - 1) * s + max(k, s).",
        ), _matches(_transpose_variant(valid=lambda n, k, s: (n - 1) * s + k))),
        _Mistake("conv_formula", "the convolution formula instead of the transposed one", (
            "A transposed convolution makes the image larger (stride s: about s times).",
            "Run the convolution's arithmetic backwards: which input size does a valid "
            "convolution map to n pixels?",
        ), _matches(_transpose_variant(valid=lambda n, k, s: (n - k) // s + 1,
                                       same=lambda n, k, s: -(-n // s)))),
        _Mistake("same_as_half_padding", "'same' computed as cropping k // 2 pixels on each side", (
            "Check the FCN decoder case: 16 pixels, 3x3, stride 2, 'same' must double the size.",
            "With output_padding=None Keras' 'same' is simply n * s; the k // 2 cropping "
            "(n - 1) * s + k - 2 * (k // 2) loses a pixel when s > 1.",
        ), _matches(_transpose_variant(same=lambda n, k, s: (n - 1) * s + k - 2 * (k // 2)))),
        _Mistake("same_ignores_stride", "'same' returns the input size", (
            "'same' keeps the size only for stride 1; a transposed convolution with stride s "
            "up-samples by s.",
            "With output_padding=None, 'same' gives n * s.",
        ), _matches(_transpose_variant(same=lambda n, k, s: n))),
        _Mistake("output_padding_zero_as_none", "output_padding=0 is treated like None", (
            "Look at the cases with output_padding=0: is 0 handled like 'no output padding given'?",
            "`if output_padding:` is False for 0 as well as for None; test "
            "`if output_padding is None:` instead.",
        ), _matches(_transpose_variant(
            same_with_output_padding=lambda n, k, s, p: (
                n * s if p == 0 else (n - 1) * s + k % 2 + p),
            valid_with_output_padding=lambda n, k, s, p: (
                (n - 1) * s + max(k, s) if p == 0 else (n - 1) * s + k + p)))),
        _Mistake("output_padding_ignored", "output_padding is ignored", (
            "Compare the cases with and without output_padding: your results do not change.",
            "output_padding=p adds p pixels at the end: valid (n - 1) * s + k + p, "
            "same (n - 1) * s + (k % 2) + p.",
        ), _matches(_transpose_variant(
            same_with_output_padding=lambda n, k, s, p: n * s,
            valid_with_output_padding=lambda n, k, s, p: (n - 1) * s + max(k, s)))),
        _Mistake("not_int", "the result is right but not an int", (
            "Return a Python int (or a NumPy integer): sizes are whole pixels.",
        ), _values_right()),
    ]


def check_conv_transpose_output_size(conv_transpose_output_size, assignment=None, quiet=False):
    """Check ``conv_transpose_output_size(input_size, kernel_size, stride=1, padding="valid"[,
    output_padding=None])``; the output_padding cases run only if your function takes it.

    Diagnoses: n * s + k, (n - 1) * s + k - 1, the missing max(k, s) for stride > kernel,
    the convolution formula, 'same' as k // 2 cropping or without the stride,
    output_padding=0 treated as None, output_padding ignored, float sizes.
    """
    cases = list(_TRANSPOSE_CASES)
    if _accepts(conv_transpose_output_size, "output_padding"):
        cases += _OUTPUT_PADDING_CASES
    check = _Check("conv_transpose_output_size", cases, _transpose_reference,
                   _transpose_mistakes(),
                   generic_hints=(
                       "Check 'valid' and 'same' separately against the table in the text.",
                       "Before cropping the stamps cover (n - 1) * s + k pixels; 'valid' keeps "
                       "at least (n - 1) * s + s, 'same' with output_padding=None is n * s.",
                   ), output_ok=_is_int)
    return _run_check(check, conv_transpose_output_size, assignment, quiet)


def _fcn_shapes_reference(height, width, num_classes):
    shapes_after = []
    h, w = height, width
    for filters, _ in ((40, 3), (40, 4), (80, 4)):
        shapes_after.append((h, w, filters))
        h, w = h // 2, w // 2
        shapes_after.append((h, w, filters))
    h, w = 8 * h, 8 * w
    return shapes_after + [(h, w, 80), (h, w, num_classes), (h, w, num_classes)]


def _fcn_shapes_variant(pool, upscale_to_input=False):
    def variant(height, width, num_classes):
        result, h, w = [], height, width
        for filters in (40, 40, 80):
            result.append((h, w, filters))
            h, w = pool(h), pool(w)
            result.append((h, w, filters))
        h, w = (height, width) if upscale_to_input else (8 * h, 8 * w)
        return result + [(h, w, 80), (h, w, num_classes), (h, w, num_classes)]

    return variant


def _as_shape_list(output):
    try:
        return [tuple(int(v) for v in shape) for shape in output]
    except (TypeError, ValueError):
        return None


_FCN_SHAPES_CHECK = _Check(
    "fcn_upscaling_shapes",
    [
        _Case("a 256x256 page, 4 classes", (256, 256, 4)),
        _Case("a 72x40 page, 2 classes", (72, 40, 2)),
        _Case("a 100x36 page (not multiples of 8), 3 classes", (100, 36, 3)),
        _Case("a 13x21 page, 5 classes", (13, 21, 5)),
    ],
    _fcn_shapes_reference,
    mistakes=[
        _Mistake("wrong_length", "the list does not have one shape per layer", (
            "Count the layers in the docstring: every one of them gets an entry, pooling, "
            "up-scaling and softmax included, the input does not.",
            "Nine entries: conv, pool, conv, pool, conv, pool, up-sampling, 1x1 conv, softmax.",
        ), lambda cases, outputs, expected: any(isinstance(o, _Raised) or _as_shape_list(o) is None
                                      or len(o) != 9 for o in outputs)),
        _Mistake("pool_rounds_up", "the poolings round up", (
            "Try a page whose sides are not multiples of 8: what does a 'valid' 2x2 pooling "
            "do with an odd row?",
            "A 'valid' pooling drops the last odd row: use conv_output_size(h, 2, 2, 'valid').",
        ), _matches(_fcn_shapes_variant(lambda n: -(-n // 2)))),
        _Mistake("float_sizes", "the sizes are divided with '/' (floats)", (
            "Sizes are whole pixels: use your conv_output_size, which rounds like Keras.",
        ), _matches(_fcn_shapes_variant(lambda n: n / 2))),
        _Mistake("upscale_to_input", "the up-scaling gives back the page size", (
            "Try a page whose sides are not multiples of 8.",
            "The up-scaling multiplies the pooled size by 8: 100 -> 12 -> 96, the pixels the "
            "poolings dropped do not come back.",
        ), _matches(_fcn_shapes_variant(lambda n: n // 2, upscale_to_input=True))),
        _Mistake("channels", "the heights and widths are right, some channel counts are not", (
            "Compare the channels entry by entry with the layers in the docstring.",
            "A pooling and the up-scaling keep the channels of the layer before them; the "
            "1x1 convolution and the softmax have num_classes channels.",
        ), lambda cases, outputs, expected: all(
            _as_shape_list(o) is not None and len(o) == 9
            and [s[:2] for s in _as_shape_list(o)]
            == [s[:2] for s in _fcn_shapes_reference(*c.args)]
            for c, o in zip(cases, outputs))),
    ],
    generic_hints=(
        "Compute the shapes layer by layer with your conv_output_size: 'same' convolutions "
        "(stride 1), 'valid' 2x2 poolings with stride 2.",
        "The up-scaling multiplies the pooled height and width by 8; channels change only "
        "at the convolutions.",
    ),
)


def check_fcn_upscaling_shapes(fcn_upscaling_shapes, assignment=None, quiet=False):
    """Check ``fcn_upscaling_shapes(height, width, num_classes)`` (nine shapes).

    Diagnoses: a wrong number of entries, poolings rounding up, float sizes, an
    up-scaling back to the page size, wrong channel counts.
    """
    return _run_check(_FCN_SHAPES_CHECK, fcn_upscaling_shapes, assignment, quiet)


# --- Dice and IoU --------------------------------------------------------------------------

_MASK_A = np.array([[1, 1, 0], [0, 1, 0], [0, 0, 0]])
_MASK_B = np.array([[1, 0, 0], [0, 1, 1], [0, 0, 0]])


def _random_masks(seed, shape, dtype):
    rng = np.random.default_rng(seed)
    return ((rng.random(shape) < 0.4).astype(dtype), (rng.random(shape) < 0.5).astype(dtype))


def _mask_cases(example_is_public):
    """Masks for Dice and IoU; the 3x3 example's value is shown in the Dice notebook only."""
    empty = np.zeros((4, 4), dtype=np.uint8)
    example = "the notebook's 3x3 example" if example_is_public else "the 3x3 example"
    return [
        _Case(f"{example} (|A| = 3, |B| = 3, |A and B| = 2)", (_MASK_A, _MASK_B),
              public=example_is_public),
        _Case("a mask compared with itself", (_MASK_A, _MASK_A), public=True),
        _Case("disjoint masks", (_MASK_A, 1 - _MASK_A), public=True),
        _Case("random bool masks of shape (5, 7)", _random_masks(1, (5, 7), bool)),
        _Case("random uint8 masks of shape (2, 6, 6) (a batch)", _random_masks(2, (2, 6, 6), np.uint8)),
        _Case("random float32 masks of shape (9,)", _random_masks(3, (9,), np.float32)),
        _Case("an empty ground truth and a full prediction", (empty, np.ones((4, 4), np.uint8))),
        _Case("two empty masks (nothing to find, nothing predicted)", (empty, empty)),
    ]


def _counts(y_true, y_pred):
    t, p = np.asarray(y_true).astype(bool), np.asarray(y_pred).astype(bool)
    return int((t & p).sum()), int(t.sum()), int(p.sum()), int((t | p).sum())


def _overlap_variant(formula, empty_value=1.0):
    def variant(y_true, y_pred):
        intersection, true_size, pred_size, union = _counts(y_true, y_pred)
        if union == 0:
            return empty_value
        return float(formula(intersection, true_size, pred_size, union))

    return variant


def _empty_case_output(cases, outputs):
    return outputs[[c.description.startswith("two empty") for c in cases].index(True)]


def _others_right(reference):
    """Detector helper: every non-empty case right."""

    def right(cases, outputs, expected):
        return all(_same(o, _run(reference, c)) for c, o in zip(cases, outputs)
                   if not c.description.startswith("two empty"))

    return right


def _empty_mistakes(score_name, reference):
    others_right = _others_right(reference)

    def nan_or_error(cases, outputs, expected):
        output = _empty_case_output(cases, outputs)
        is_nan = not isinstance(output, _Raised) and _same(output, float("nan"))
        return (isinstance(output, _Raised) or is_nan) and others_right(cases, outputs, expected)

    def zero(cases, outputs, expected):
        return _same(_empty_case_output(cases, outputs), 0.0) and others_right(cases, outputs, expected)

    return [
        _Mistake("nan_for_empty", "two empty masks give nan or an error (0 / 0)", (
            "What does your function do when both masks are empty?",
            f"Then |A| + |B| = 0 and the formula divides 0 by 0. The exercise text says which "
            f"{score_name} to return in that case.",
            "Check the denominator before dividing and return the documented value for two "
            "empty masks (nothing to find and nothing found is a perfect prediction).",
        ), nan_or_error),
        _Mistake("zero_for_empty", "two empty masks give 0", (
            "Read the convention for two empty masks in the exercise text again.",
            "Predicting nothing where there is nothing is a perfect prediction.",
        ), zero),
    ]


def _dice_reference(y_true, y_pred):
    return metrics.dice_coefficient(np.asarray(y_true).astype(bool), np.asarray(y_pred).astype(bool))


def _iou_reference(y_true, y_pred):
    return metrics.iou_score(np.asarray(y_true).astype(bool), np.asarray(y_pred).astype(bool))


def _float_masks_fail(cases, outputs, expected):
    # `a & b` is not defined for float arrays: only the float32 case raises.
    return any(isinstance(o, _Raised) and "float32" in c.description
               for c, o in zip(cases, outputs))


_FLOAT_MASK_HINTS = (
    "Your function fails for float masks (values 0.0 and 1.0).",
    "`&` (bitwise and) is not defined for floats: convert first, e.g. "
    "`np.asarray(y_true).astype(bool)`, or use np.logical_and.",
)

_DICE_CHECK = _Check(
    "dice_coefficient", _mask_cases(example_is_public=True), _dice_reference,
    mistakes=[
        *_empty_mistakes("Dice", _dice_reference),
        _Mistake("float_masks", "float masks make your function fail", _FLOAT_MASK_HINTS,
                 _float_masks_fail),
        _Mistake("iou_instead_of_dice", "you compute the IoU (|A and B| / |A or B|), not Dice", (
            "Compare your formula with the Dice formula of the exercise: numerator and denominator.",
            "Dice divides by |A| + |B| (the union counts the overlap only once, so it is "
            "IoU's denominator).",
            "Dice = 2 |A and B| / (|A| + |B|).",
        ), _matches(_overlap_variant(lambda i, a, b, u: i / u))),
        _Mistake("missing_factor_two", "the factor 2 in the numerator is missing", (
            "A mask compared with itself must give 1: does yours?",
            "|A| + |B| counts the overlap twice, so the numerator needs 2 |A and B|.",
        ), _matches(_overlap_variant(lambda i, a, b, u: i / (a + b)))),
        _Mistake("union_denominator", "the denominator is the union instead of |A| + |B|", (
            "Your value can exceed 1: check the denominator.",
            "Dice = 2 |A and B| / (|A| + |B|): the sizes of both masks, added.",
        ), _matches(_overlap_variant(lambda i, a, b, u: 2 * i / u))),
        _Mistake("smoothing", "a smoothing constant is added", (
            "The Dice coefficient of binary masks is exact: no smoothing term.",
            "Smoothing (+1) belongs to the soft Dice *loss*; here handle the empty case "
            "explicitly instead.",
        ), _matches(_overlap_variant(lambda i, a, b, u: (2 * i + 1) / (a + b + 1)))),
        _Mistake("loss_not_score", "you return 1 - Dice (a loss), not the coefficient", (
            "A perfect prediction must give 1, not 0.",
            "Return the coefficient 2 |A and B| / (|A| + |B|) itself.",
        ), _matches(_overlap_variant(lambda i, a, b, u: 1 - 2 * i / (a + b), empty_value=0.0))),
        _Mistake("pixel_accuracy", "you compute the fraction of equal pixels (pixel accuracy)", (
            "Dice ignores the pixels that are background in both masks.",
            "Count the overlap |A and B| and the mask sizes |A|, |B|, not equal pixels.",
        ), _matches(lambda t, p: float(np.mean(np.asarray(t).astype(bool) == np.asarray(p).astype(bool))))),
        _Mistake("not_python_float", "the values are right but the type is not a Python float", (
            "The visible test wants a Python float: wrap your result in float(...).",
        ), _values_right()),
    ],
    generic_hints=(
        "Check your counts on the 3x3 example by hand: |A|, |B| and |A and B|.",
        "Convert both masks to bool first, then Dice = 2 |A and B| / (|A| + |B|), with the "
        "documented value for two empty masks.",
    ),
    output_ok=_is_python_float,
)


def check_dice(dice_coefficient, assignment=None, quiet=False):
    """Check ``dice_coefficient(y_true, y_pred)`` on binary masks of several shapes and dtypes.

    Diagnoses: nan/errors or 0 for two empty masks, failure on float masks, IoU instead
    of Dice, a missing factor 2, the union as denominator, smoothing, 1 - Dice, pixel
    accuracy, a result that is not a Python float.
    """
    return _run_check(_DICE_CHECK, dice_coefficient, assignment, quiet)


_IOU_CHECK = _Check(
    "iou_score", _mask_cases(example_is_public=False), _iou_reference,
    mistakes=[
        *_empty_mistakes("IoU", _iou_reference),
        _Mistake("float_masks", "float masks make your function fail", _FLOAT_MASK_HINTS,
                 _float_masks_fail),
        _Mistake("dice_instead_of_iou", "you compute Dice, not the IoU", (
            "IoU is never larger than Dice; compare the two formulas of the lecture.",
            "IoU = |A and B| / |A or B|: no factor 2, and the union as denominator.",
        ), _matches(_overlap_variant(lambda i, a, b, u: 2 * i / (a + b)))),
        _Mistake("sum_denominator", "the denominator is |A| + |B| instead of the union", (
            "A mask compared with itself must give 1: does yours?",
            "|A| + |B| counts the overlap twice: the union is |A| + |B| - |A and B|.",
        ), _matches(_overlap_variant(lambda i, a, b, u: i / (a + b)))),
        _Mistake("smoothing", "a smoothing constant is added", (
            "The IoU of binary masks is exact: no smoothing term; handle the empty case "
            "explicitly instead.",
        ), _matches(_overlap_variant(lambda i, a, b, u: (i + 1) / (u + 1)))),
        _Mistake("not_python_float", "the values are right but the type is not a Python float", (
            "Return a Python float: wrap your result in float(...).",
        ), _values_right()),
    ],
    generic_hints=(
        "Check your counts on the 3x3 example by hand: |A and B| and |A or B|.",
        "IoU = |A and B| / |A or B| = TP / (TP + FP + FN), with the documented value for two "
        "empty masks.",
    ),
    output_ok=_is_python_float,
)


def check_iou(iou_score, assignment=None, quiet=False):
    """Check ``iou_score(y_true, y_pred)`` on binary masks of several shapes and dtypes.

    Diagnoses: nan/errors or 0 for two empty masks, failure on float masks, Dice instead
    of IoU, |A| + |B| as denominator, smoothing, a result that is not a Python float.
    """
    return _run_check(_IOU_CHECK, iou_score, assignment, quiet)


# --- Soft Dice loss --------------------------------------------------------------------------


def _softmax(logits, axis=-1):
    shifted = np.exp(logits - np.max(logits, axis=axis, keepdims=True))
    return shifted / shifted.sum(axis=axis, keepdims=True)


def _soft_dice_numpy(y_true, y_pred, smooth=1.0, axes=(1, 2), squares=True,
                     smooth_in_numerator=True, reduce_axis=-1, mean_over_pixels=False):
    """The soft Dice loss in NumPy, with switches that reproduce common mistakes."""
    t, p = np.asarray(y_true, np.float64), np.asarray(y_pred, np.float64)
    total = np.mean if mean_over_pixels else np.sum
    intersection = total(t * p, axis=axes)
    denominator = (total(t ** 2, axis=axes) + total(p ** 2, axis=axes) if squares
                   else total(t, axis=axes) + total(p, axis=axes))
    numerator = 2 * intersection + (smooth if smooth_in_numerator else 0.0)
    loss = 1.0 - numerator / (denominator + smooth)
    return loss if reduce_axis is None else np.mean(loss, axis=reduce_axis)


def _soft_dice_cases():
    labels = np.array([[[0, 1], [2, 1]], [[2, 2], [0, 0]]])
    one_hot = np.eye(3, dtype="float32")[labels]
    rng = np.random.default_rng(5)
    random_labels = rng.integers(0, 4, size=(3, 5, 6))
    random_one_hot = np.eye(4, dtype="float32")[random_labels]
    random_probabilities = _softmax(rng.normal(size=(3, 5, 6, 4)) * 2).astype("float32")
    empty_class = np.zeros((2, 4, 4, 2), dtype="float32")
    empty_class[..., 0] = 1.0  # class 1 is absent from target and prediction
    return [
        _Case("the notebook's perfect prediction (2 images, 3 classes)", (one_hot, one_hot), public=True),
        _Case("random probabilities, 3 images of 5x6 pixels, 4 classes",
              (random_one_hot, random_probabilities)),
        _Case("the same with smooth=0.001",
              (random_one_hot, random_probabilities), {"smooth": 1e-3}),
        _Case("a class absent from target and prediction", (empty_class, empty_class)),
        _Case("the notebook's uniform prediction (every class 1/3)",
              (one_hot, np.full_like(one_hot, 1 / 3))),
    ]


def _shape_is(shape_of_case):
    def detect(cases, outputs, expected):
        return any(not isinstance(o, _Raised) and _to_numpy(o).shape == shape_of_case(c)
                   and _to_numpy(o).shape != (c.args[0].shape[0],)
                   for c, o in zip(cases, outputs))

    return detect


def _nan_where_class_absent(cases, outputs, expected):
    for case, output in zip(cases, outputs):
        if case.description.startswith("a class absent") and not isinstance(output, _Raised):
            return bool(np.any(np.isnan(_to_numpy(output))))
    return False


_SOFT_DICE_CHECK = _Check(
    "soft_dice_loss", _soft_dice_cases(), _soft_dice_numpy,
    mistakes=[
        _Mistake("scalar_not_per_image", "one number for the whole batch instead of one per image", (
            "The loss must have shape (batch,): one value per image.",
            "Average over the classes only (the last axis); leave the batch axis alone, Keras "
            "averages over the batch itself.",
        ), _shape_is(lambda case: ())),
        _Mistake("mean_over_batch", "you average over the batch axis instead of the classes", (
            "Your result has one value per class, not one per image.",
            "The sums run over the pixel axes (1, 2); the final mean over the class axis (-1).",
        ), _shape_is(lambda case: (case.args[0].shape[-1],))),
        _Mistake("missing_smoothing", "no smoothing: an absent class gives 0 / 0 = nan", (
            "Look at an image where a class is absent from both target and prediction.",
            "Then all three sums are 0 for that class. The smoothing constant belongs in the "
            "numerator *and* the denominator.",
        ), _nan_where_class_absent),
        _Mistake("smooth_only_in_denominator", "smooth is added to the denominator only", (
            "For a class absent from target and prediction the loss should be 0: is it?",
            "(2 * intersection + smooth) / (denominator + smooth): smooth on both sides.",
        ), _matches(lambda t, p, smooth=1.0: _soft_dice_numpy(t, p, smooth, smooth_in_numerator=False),
                    rtol=1e-4, atol=1e-5)),
        _Mistake("smooth_argument_ignored", "the smooth argument is ignored", (
            "Your result does not change when smooth changes.",
            "Use the parameter `smooth`, not a fixed 1.0, in the formula.",
        ), _matches(lambda t, p, smooth=1.0: _soft_dice_numpy(t, p, 1.0), rtol=1e-4, atol=1e-5)),
        _Mistake("one_dice_over_all_classes", "one Dice over pixels and classes together", (
            "The Dice is computed for each class separately, then averaged.",
            "Sum over the pixel axes (1, 2) only; then average the per-class losses over axis -1.",
        ), _matches(lambda t, p, smooth=1.0: _soft_dice_numpy(t, p, smooth, axes=(1, 2, 3),
                                                              reduce_axis=None),
                    rtol=1e-4, atol=1e-5)),
        _Mistake("no_squares", "the denominator sums y_true and y_pred, not their squares", (
            "Compare the denominator with the lecture's formula.",
            "The lecture's soft Dice squares both: sum(y_true ** 2) + sum(y_pred ** 2).",
        ), _matches(lambda t, p, smooth=1.0: _soft_dice_numpy(t, p, smooth, squares=False),
                    rtol=1e-4, atol=1e-5)),
        _Mistake("softmax_applied_twice", "a softmax applied to probabilities (twice)", (
            "y_pred already holds probabilities (the model ends in a softmax).",
            "Remove the softmax inside the loss: applying it again flattens the probabilities.",
        ), _matches(lambda t, p, smooth=1.0: _soft_dice_numpy(t, _softmax(np.asarray(p, np.float64)), smooth),
                    rtol=1e-4, atol=1e-5)),
        _Mistake("mean_over_pixels", "the pixel sums are means", (
            "The formula sums over the pixels; a mean changes how much `smooth` weighs.",
            "Use ops.sum over axes (1, 2), not ops.mean.",
        ), _matches(lambda t, p, smooth=1.0: _soft_dice_numpy(t, p, smooth, mean_over_pixels=True),
                    rtol=1e-4, atol=1e-5)),
        _Mistake("dice_not_loss", "you return the soft Dice coefficient, not 1 - coefficient", (
            "A perfect prediction must give a loss of 0.",
            "loss = 1 - (2 * intersection + smooth) / (denominator + smooth).",
        ), _matches(lambda t, p, smooth=1.0: 1 - _soft_dice_numpy(t, p, smooth),
                    rtol=1e-4, atol=1e-5)),
    ],
    generic_hints=(
        "Write the three sums (intersection, sum of squared targets, sum of squared "
        "predictions) for every image and class, with shape (batch, classes).",
        "Sum over the pixel axes (1, 2), compute 1 - (2 I + s) / (T + P + s) per class, then "
        "average over the class axis (-1).",
    ),
    rtol=1e-4, atol=1e-5,  # float32 computations
)


def _is_tensor(value):
    """A backend tensor (what keras.ops returns), not a NumPy array or a Python number."""
    if isinstance(value, (np.ndarray, np.generic, int, float, list, tuple, _Raised)):
        return False
    keras = sys.modules.get("keras")
    return bool(keras.ops.is_tensor(value)) if keras is not None else hasattr(value, "shape")


def _requiring_tensor(check):
    """``check`` whose outputs must also be tensors (losses written with keras.ops)."""
    not_a_tensor = _Mistake("not_a_tensor", "the values are right but the result is not a tensor", (
        "The loss must train a Keras model: write it with keras.ops (ops.sum, ops.log, ...), "
        "not NumPy, so that it returns a tensor.",
        "Replace np.* by ops.* and do not convert to NumPy (no np.asarray, no .numpy()).",
    ), _values_right(check.rtol, check.atol))
    return _Check(check.name, check.cases, check.reference, [not_a_tensor, *check.mistakes],
                  check.generic_hints, output_ok=_is_tensor, rtol=check.rtol, atol=check.atol)


def check_soft_dice(soft_dice_loss, assignment=None, quiet=False, require_tensor=False):
    """Check ``soft_dice_loss(y_true, y_pred, smooth=1.0)`` (one value per image).

    Diagnoses: a scalar instead of per-image values, a mean over the batch instead of
    the classes, missing smoothing (nan), smooth only in the denominator or ignored, one
    Dice over all classes, no squares in the denominator, a softmax applied twice, means
    instead of sums, the coefficient instead of the loss.
    """
    check = _requiring_tensor(_SOFT_DICE_CHECK) if require_tensor else _SOFT_DICE_CHECK
    return _run_check(check, soft_dice_loss, assignment, quiet)


# --- Weighted cross-entropy -----------------------------------------------------------------

_PROBABILITY_FLOOR = 1e-7  # Keras clips probabilities to [1e-7, 1 - 1e-7] before the log


def _weighted_ce_numpy(y_true, y_pred, class_weights, normalize=False, reduce="mean",
                       weights_ignored=False, sign=1.0):
    """Per-image mean over pixels of ``w[true class] * -log p[true class]`` (one-hot y_true)."""
    t, p = np.asarray(y_true, np.float64), np.asarray(y_pred, np.float64)
    weights = np.ones(t.shape[-1]) if weights_ignored else np.asarray(class_weights, np.float64)
    p = np.clip(p, _PROBABILITY_FLOOR, 1.0 - _PROBABILITY_FLOOR)
    pixel_weights = np.sum(t * weights, axis=-1)
    pixel_losses = -sign * pixel_weights * np.sum(t * np.log(p), axis=-1)
    axes = tuple(range(1, pixel_losses.ndim))
    if normalize:
        return pixel_losses.sum(axis=axes) / pixel_weights.sum(axis=axes)
    return pixel_losses.sum(axis=axes) if reduce == "sum" else pixel_losses.mean(axis=axes)


def _weighted_ce_cases(sparse_labels):
    rng = np.random.default_rng(9)
    labels = rng.integers(0, 3, size=(2, 4, 5))
    one_hot = np.eye(3, dtype="float32")[labels]
    probabilities = _softmax(rng.normal(size=(2, 4, 5, 3)) * 1.5).astype("float32")
    confident = np.eye(3, dtype="float32")[labels]  # exact 0 for every other class
    confident = np.where(confident == 1, 0.9, 0.0).astype("float32")
    confident[..., 0] += np.where(labels == 0, 0.1, 0.0)
    confident[..., 1] += np.where(labels != 0, 0.1, 0.0)
    wrong = confident.copy()  # pixel (0, 0) of image 0: probability 0 for its true class
    wrong[0, 0, 0] = np.eye(3, dtype="float32")[(labels[0, 0, 0] + 1) % 3]
    true = labels if sparse_labels else one_hot
    return [
        _Case("random probabilities, weights [1, 1, 1]", (true, probabilities, [1.0, 1.0, 1.0])),
        _Case("random probabilities, weights [0.2, 1, 5]", (true, probabilities, [0.2, 1.0, 5.0])),
        _Case("confident predictions with exact zeros for the other classes, weights [1, 2, 3]",
              (true, confident, [1.0, 2.0, 3.0])),
        _Case("a pixel whose true class has probability 0, weights [1, 2, 3]", (true, wrong, [1.0, 2.0, 3.0])),
    ]


def check_weighted_crossentropy(weighted_crossentropy, sparse_labels=False, assignment=None,
                                quiet=False, require_tensor=False):
    """Check ``weighted_crossentropy(y_true, y_pred, class_weights)``.

    Convention (as ``course_utils.losses.pixelwise_crossentropy``): for every pixel
    ``class_weights[true class] * -log(p[true class])``, then the plain mean over the
    pixels of each image; result shape ``(batch,)``. ``y_true`` is one-hot
    ``(batch, h, w, classes)``, or integer labels ``(batch, h, w)`` with
    ``sparse_labels=True``; ``y_pred`` holds probabilities.

    ``require_tensor=True`` (as the losses_metrics notebook asks): the result must also be
    a tensor (keras.ops code). The same option exists for :func:`check_soft_dice`.

    Diagnoses: a scalar instead of per-image values, nan from log(0), weights ignored,
    a mean normalised by the weights, a missing minus sign, a sum instead of a mean over
    the pixels, a softmax applied twice.
    """

    def as_one_hot(y_true, num_classes):
        return np.eye(num_classes)[y_true] if sparse_labels else y_true

    def variant(**options):
        def loss(y_true, y_pred, class_weights):
            return _weighted_ce_numpy(as_one_hot(y_true, len(class_weights)), y_pred,
                                      class_weights, **options)

        return loss

    def nan_or_inf(cases, outputs, expected):
        return any(not isinstance(o, _Raised) and not np.all(np.isfinite(_to_numpy(o)))
                   for o in outputs)

    def softmax_twice(y_true, y_pred, class_weights):
        return _weighted_ce_numpy(as_one_hot(y_true, len(class_weights)),
                                  _softmax(np.asarray(y_pred, np.float64)), class_weights)

    check = _Check(
        "weighted_crossentropy", _weighted_ce_cases(sparse_labels), variant(),
        mistakes=[
            _Mistake("scalar_not_per_image", "one number for the whole batch instead of one per image", (
                "The loss must have shape (batch,): one value per image.",
                "Average over the pixel axes only, e.g. axis=(1, 2); Keras averages the batch.",
            ), _shape_is(lambda case: ())),
            _Mistake("log_of_zero", "nan or inf where a probability is exactly 0", (
                "Look at predictions with exact zeros: 0 * log(0) is nan in floating point.",
                "Clip the probabilities before the log, e.g. np.clip(p, 1e-7, 1 - 1e-7) or "
                "ops.clip, or take only the true class's probability.",
            ), nan_or_inf),
            _Mistake("weights_ignored", "the class weights are ignored", (
                "Your result is the same with weights [1, 1, 1] and [0.2, 1, 5].",
                "Multiply each pixel's loss by the weight of its *true* class.",
            ), _matches(variant(weights_ignored=True), rtol=1e-4, atol=1e-5)),
            _Mistake("normalized_by_weights", "the mean is divided by the sum of the weights", (
                "This course averages the weighted pixel losses plainly over the pixels.",
                "Divide by the number of pixels, not by the sum of the pixel weights.",
            ), _matches(variant(normalize=True), rtol=1e-4, atol=1e-5)),
            _Mistake("missing_minus", "the minus sign is missing (the loss is negative)", (
                "A loss must be >= 0; log of a probability is <= 0.",
                "Cross-entropy is -sum(y_true * log(y_pred)).",
            ), _matches(variant(sign=-1.0), rtol=1e-4, atol=1e-5)),
            _Mistake("sum_over_pixels", "a sum over the pixels instead of the mean", (
                "The lecture averages the pixel losses: larger images must not give larger losses.",
                "Use a mean over the pixel axes.",
            ), _matches(variant(reduce="sum"), rtol=1e-4, atol=1e-5)),
            _Mistake("softmax_applied_twice", "a softmax applied to probabilities (twice)", (
                "y_pred already holds probabilities.",
                "Remove the softmax inside the loss (or pass logits and use from_logits).",
            ), _matches(softmax_twice, rtol=1e-4, atol=1e-5)),
        ],
        generic_hints=(
            "Compute the loss of one pixel by hand: -log of the probability of its true class, "
            "times the weight of that class.",
            "Per image: the mean over all pixels of weight[true class] * -log(p[true class]).",
        ),
        rtol=1e-4, atol=1e-5,
    )
    return _run_check(_requiring_tensor(check) if require_tensor else check, weighted_crossentropy,
                      assignment, quiet)


# --- The FCN model -------------------------------------------------------------------------


def _fcn_model_check(build_fcn_upscaling):
    """Runs the model checks in order; returns (failing case text, mistake, output text)."""
    import keras

    try:
        model = build_fcn_upscaling(3)
    except NotImplementedError:
        raise
    except Exception as error:
        return "building the model with num_classes=3", "build_fails", str(_Raised(error))
    if not isinstance(model, keras.Model):
        return ("build_fcn_upscaling(3)", "not_a_model",
                f"an object of type {type(model).__name__}")
    input_shape = getattr(model, "input_shape", None)
    if isinstance(input_shape, tuple) and any(size is not None for size in input_shape[1:3]):
        # Keras may still run other sizes (with a warning), but the model is not an FCN.
        return "the model's input shape", "fixed_input_size", f"input shape {input_shape}"
    try:
        output = _to_numpy(model(np.zeros((1, 64, 48, 1), dtype="float32")))
    except Exception as error:
        return ("a (1, 64, 48, 1) page", "fixed_input_size", str(_Raised(error)))
    if output.shape[:3] != (1, 64, 48) and output.ndim == 4 and output.shape[1] * 48 == output.shape[2] * 64:
        return "a (1, 64, 48, 1) page", "wrong_upscaling", f"shape {output.shape}"
    if output.shape != (1, 64, 48, 3):
        return "a (1, 64, 48, 1) page, 3 classes", "wrong_output_shape", f"shape {output.shape}"
    if not np.allclose(output.sum(-1), 1.0, atol=1e-4):
        return "the sum of the class probabilities per pixel", "missing_softmax", (
            f"sums from {output.sum(-1).min():.3g} to {output.sum(-1).max():.3g}")
    convolutions = [layer for layer in model.layers if isinstance(layer, keras.layers.Conv2D)]
    kernels = [tuple(layer.kernel_size) for layer in convolutions]
    if len(kernels) >= 3 and kernels[:3] == [(3, 3)] * 3:
        return "the encoder's kernel sizes", "all_3x3", f"kernels {kernels}"
    filters = [layer.filters for layer in convolutions]
    if filters[:3] != [40, 40, 80]:
        return "the encoder's filters", "wrong_filters", f"filters {filters}"
    upsampling = [layer for layer in model.layers if isinstance(layer, keras.layers.UpSampling2D)]
    if upsampling and getattr(upsampling[0], "interpolation", "nearest") != "nearest":
        return "the up-sampling's interpolation", "not_nearest", upsampling[0].interpolation
    last_activation = getattr(convolutions[-1], "activation", None) if convolutions else None
    if last_activation is not None and getattr(last_activation, "__name__", "") == "relu":
        return "the 1x1 convolution's activation", "relu_before_softmax", "relu"
    reference_params = (9 * 40 + 40) + (16 * 40 * 40 + 40) + (16 * 40 * 80 + 80) + (80 * 3 + 3)
    if model.count_params() != reference_params:
        return "the number of parameters", "wrong_parameter_count", f"{model.count_params()} parameters"
    if _accepts(build_fcn_upscaling, "num_channels"):
        try:
            output = _to_numpy(build_fcn_upscaling(2, num_channels=3)(
                np.zeros((1, 16, 24, 3), dtype="float32")))
        except Exception as error:
            return ("num_channels=3 with a (1, 16, 24, 3) page", "fixed_input_size",
                    str(_Raised(error)))
        if output.shape != (1, 16, 24, 2):
            return ("num_channels=3 with a (1, 16, 24, 3) page", "wrong_output_shape",
                    f"shape {output.shape}")
    return None


_FCN_MISTAKES = {
    "build_fails": ("building the model fails", (
        "Read the error: which line of your function raises it?",
        "Build the layers in the order of the table with keras.Sequential([...]) or the "
        "functional API, starting with keras.Input(shape=(None, None, 1)).",
    )),
    "not_a_model": ("the function does not return a keras.Model", (
        "Return the model itself (keras.Sequential(...) or keras.Model(inputs, outputs)), "
        "not a layer, a list or None.",
    )),
    "fixed_input_size": ("the model refuses a 64x48 page", (
        "An FCN takes pages of any size: check the shape of your keras.Input.",
        "Use keras.Input(shape=(None, None, 1)): None lets height and width vary.",
    )),
    "wrong_upscaling": ("the up-scaling factor does not undo the three poolings", (
        "Compare the output height with the input height.",
        "Three 2x2 poolings divide by 2 * 2 * 2: the up-scaling must multiply by the same.",
    )),
    "wrong_output_shape": ("the output shape is not (batch, height, width, num_classes)", (
        "The last convolution needs one filter per class.",
        "Conv2D(num_classes, (1, 1)) after the up-scaling, then the softmax.",
    )),
    "missing_softmax": ("the class probabilities do not sum to 1 (no softmax)", (
        "The model must end with probabilities, not logits.",
        "Add keras.layers.Activation('softmax') after the 1x1 convolution.",
    )),
    "all_3x3": ("all three encoder convolutions are 3x3", (
        "The slide's pseudo-code and its Keras code differ: follow the table of the exercise.",
        "Only the first convolution is 3x3; the second and third are 4x4.",
    )),
    "wrong_filters": ("the encoder's filter counts differ from the slide", (
        "Compare the filters of your three convolutions with the table.",
    )),
    "not_nearest": ("the up-scaling does not use nearest-neighbour interpolation", (
        "The slide's UpSampling2D uses interpolation='nearest' (the Keras default).",
    )),
    "relu_before_softmax": ("the 1x1 convolution has a ReLU", (
        "The 1x1 convolution computes logits: negative values are allowed.",
        "Leave out activation='relu' on the 1x1 convolution; the softmax comes after it.",
    )),
    "wrong_parameter_count": ("the number of parameters differs from the slide's network", (
        "Compare every layer with the table: filters, kernel sizes and use_bias.",
        "Only the four convolutions have parameters; count kh * kw * in * out + out for each.",
    )),
}


def check_fcn_upscaling(build_fcn_upscaling, assignment=None, quiet=False):
    """Check ``build_fcn_upscaling(num_classes[, num_channels])`` (needs Keras).

    The checks run in order and stop at the first problem: build errors, a non-model
    result, a fixed input size, a wrong up-scaling factor, a wrong output shape, a
    missing softmax, 3x3 kernels everywhere, wrong filters, non-nearest interpolation, a
    ReLU before the softmax, a wrong parameter count; then, if the function takes
    ``num_channels``, a 3-channel page.
    """
    return _run_model_check("build_fcn_upscaling", _fcn_model_check, build_fcn_upscaling,
                            _FCN_MISTAKES, assignment, quiet)


# --- Max pooling with argmax and unpooling ------------------------------------------------------


def _pool_reference(x, pool_size=2):
    x = np.asarray(x)
    b, h, w, c = x.shape
    p = pool_size
    windows = x.reshape(b, h // p, p, w // p, p, c).transpose(0, 1, 3, 5, 2, 4)
    windows = windows.reshape(b, h // p, w // p, c, p * p)
    return windows.max(-1), windows.argmax(-1)


def _pool_column_major(x, pool_size=2):
    x = np.asarray(x)
    b, h, w, c = x.shape
    p = pool_size
    windows = x.reshape(b, h // p, p, w // p, p, c).transpose(0, 1, 3, 5, 4, 2)
    windows = windows.reshape(b, h // p, w // p, c, p * p)
    return windows.max(-1), windows.argmax(-1)


def _pool_last_on_ties(x, pool_size=2):
    pooled, _ = _pool_reference(x, pool_size)
    x = np.asarray(x)
    b, h, w, c = x.shape
    p = pool_size
    windows = x.reshape(b, h // p, p, w // p, p, c).transpose(0, 1, 3, 5, 2, 4)
    windows = windows.reshape(b, h // p, w // p, c, p * p)[..., ::-1]
    return pooled, p * p - 1 - windows.argmax(-1)


_EXAMPLE_4X4 = np.array([[1, 5, 0, 2], [3, 2, 9, 9], [7, 0, 4, 4], [1, 8, 4, 4]],
                        dtype=np.float32).reshape(1, 4, 4, 1)


def _pool_cases():
    rng = np.random.default_rng(3)
    return [
        _Case("the notebook's 4x4 example", (_EXAMPLE_4X4,), {"pool_size": 2}, public=True),
        _Case("random integers with ties, batch 2, 3 channels, 2x2",
              (rng.integers(0, 4, size=(2, 4, 6, 3)).astype(np.float32),), {"pool_size": 2}),
        _Case("random values, 3x3 windows on 6x9 pixels",
              (rng.normal(size=(1, 6, 9, 2)).astype(np.float32),), {"pool_size": 3}),
    ]


def check_max_pool_with_argmax(max_pool_with_argmax, assignment=None, quiet=False):
    """Check ``max_pool_with_argmax(x, pool_size=2)`` -> ``(pooled, argmax)``.

    Diagnoses: row and column swapped in the position (column * p + row), the last
    maximum winning on ties, positions that are not integers.
    """

    def integer_positions(output):
        return (isinstance(output, (tuple, list)) and len(output) == 2
                and np.issubdtype(_to_numpy(output[1]).dtype, np.integer))

    check = _Check(
        "max_pool_with_argmax", _pool_cases(), _pool_reference,
        mistakes=[
            _Mistake("column_major", "row and column are swapped in the position", (
                "Check the notebook's example: 5 is top-right in its window, position 1.",
                "Positions count row by row: row * pool_size + column. Put the window's row "
                "axis before its column axis when you flatten.",
            ), _matches(_pool_column_major)),
            _Mistake("last_on_ties", "the last maximum wins on ties", (
                "Look at windows with two equal maxima.",
                "np.argmax returns the first maximum: use it on the windows flattened row by row.",
            ), _matches(_pool_last_on_ties)),
            _Mistake("positions_not_int", "the positions are right but not integers", (
                "argmax must be an integer array: .astype(int) or use np.argmax directly.",
            ), _values_right()),
        ],
        generic_hints=(
            "Check the shapes: both arrays (batch, H / p, W / p, C).",
            "Reshape to (b, H/p, p, W/p, p, C), move the two window axes to the end in the "
            "order (row, column), flatten them and take max and argmax over that axis.",
        ),
        output_ok=integer_positions,
    )
    return _run_check(check, max_pool_with_argmax, assignment, quiet)


def _unpool_reference(values, argmax, pool_size=2):
    values, argmax = np.asarray(values), np.asarray(argmax)
    b, h, w, c = values.shape
    p = pool_size
    out = np.zeros((b, h * p, w * p, c), dtype=values.dtype)
    for index in np.ndindex(b, h, w, c):
        row, col = divmod(int(argmax[index]), p)
        out[index[0], index[1] * p + row, index[2] * p + col, index[3]] = values[index]
    return out


def _unpool_swapped(values, argmax, pool_size=2):
    col, row = np.divmod(np.asarray(argmax), pool_size)
    return _unpool_reference(values, row * pool_size + col, pool_size)


def _unpool_cases():
    rng = np.random.default_rng(4)
    return [
        _Case("the notebook's hand-made values and positions",
              (np.array([[10, 20], [30, 40]], dtype=np.float32).reshape(1, 2, 2, 1),
               np.array([[0, 3], [1, 2]]).reshape(1, 2, 2, 1)), public=True),
        _Case("random values and positions, batch 2, 3 channels, 2x2",
              (rng.normal(size=(2, 2, 3, 3)).astype(np.float32),
               rng.integers(0, 4, size=(2, 2, 3, 3)))),
        _Case("random values and positions, 3x3 windows",
              (rng.normal(size=(1, 2, 2, 2)).astype(np.float32),
               rng.integers(0, 9, size=(1, 2, 2, 2))), {"pool_size": 3}),
    ]


def check_max_unpool(max_unpool, assignment=None, quiet=False):
    """Check ``max_unpool(values, argmax, pool_size=2)``.

    Diagnoses: row and column swapped (argmax % p as the row), a re-pooling of the
    values instead of using the given positions, a wrong output shape.
    """

    def repooled(values, argmax, pool_size=2):
        # Ignores the given positions: every value at the top-left of its window.
        return _unpool_reference(values, np.zeros_like(np.asarray(argmax)), pool_size)

    check = _Check(
        "max_unpool", _unpool_cases(), _unpool_reference,
        mistakes=[
            _Mistake("row_column_swapped", "row and column inside the window are swapped", (
                "Check the notebook's example: position 1 is the top-right pixel of a window.",
                "Row = argmax // pool_size, column = argmax % pool_size.",
            ), _matches(_unpool_swapped)),
            _Mistake("positions_ignored", "the given positions are not used", (
                "Every value must go where its argmax says, not to a fixed place in the window.",
                "Use the positions you are given: row i * p + argmax // p, column "
                "j * p + argmax % p.",
            ), _matches(repooled)),
            _Mistake("wrong_shape", "the output shape is not (batch, h * p, w * p, C)", (
                "Start from np.zeros((b, h * p, w * p, C), dtype=values.dtype).",
            ), lambda cases, outputs, expected: any(
                not isinstance(o, _Raised) and _to_numpy(o).shape
                != _unpool_reference(*c.args, **(c.kwargs or {})).shape
                for c, o in zip(cases, outputs))),
        ],
        generic_hints=(
            "Write the loop version first: for every (b, i, j, c) put values[b, i, j, c] at "
            "its position; compare with the notebook's example.",
        ),
    )
    return _run_check(check, max_unpool, assignment, quiet)



# --- Small helpers for the checks below ---------------------------------------------------------


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


# --- Assignment "dimensions": pooling, up-scaling, bottleneck, parameters -------------------------


def _pool_size_reference(n, pool_size=2, strides=None, padding="valid"):
    return shapes.pool_output_size(n, pool_size, strides, padding)


_POOL_CHECK = _variant_check(
    "pool_output_size",
    [_Case("the notebook's 2x2 pooling (strides=None) of 256 pixels", (256, 2), public=True),
     _Case("255 pixels, 2x2 pooling, 'valid'", (255, 2, None, "valid")),
     _Case("255 pixels, 2x2 pooling, 'same'", (255, 2, None, "same")),
     _Case("10 pixels, 3x3 pooling, strides=None", (10, 3)),
     _Case("10 pixels, 3x3 pooling, strides 1", (10, 3, 1, "valid")),
     _Case("9 pixels, 2x2 pooling, strides 3, 'same'", (9, 2, 3, "same"))],
    _pool_size_reference,
    [("strides_none_as_one", "strides=None is treated as stride 1", (
        "What does Keras' MaxPooling2D do when you give no strides?",
        "strides=None means strides = pool_size (windows side by side, no overlap).",
    ), lambda n, p=2, s=None, padding="valid": shapes.pool_output_size(n, p, s or 1, padding)),
     ("same_rounds_down", "'same' rounds down", (
         "With 'same' no pixel is lost: 255 pixels pooled by 2 give 128.",
         "'same': ceil(n / s) == -(-n // s).",
     ), lambda n, p=2, s=None, padding="valid": (
         shapes.pool_output_size(n, p, s, "valid") if padding == "valid" else n // (s or p))),
     ("missing_plus_one", "the '+ 1' of the 'valid' formula is missing", (
         "Count the window positions of a 3-pixel window with stride 3 on 10 pixels by hand.",
         "valid: (n - p) // s + 1.",
     ), lambda n, p=2, s=None, padding="valid": (
         (n - p) // (s or p) if padding == "valid" else -(-n // (s or p))))],
    ("A pooling is a convolution without weights: use your conv_output_size with kernel = "
     "pool_size and stride = strides (or pool_size if strides is None).",),
    output_ok=_is_int, extra_mistakes=[_int_values_right()])


def check_pool_output_size(pool_output_size, assignment=None, quiet=False):
    """Check ``pool_output_size(input_size, pool_size=2, strides=None, padding="valid")``.

    Diagnoses: strides=None taken as 1, 'same' rounding down, a missing '+ 1', float sizes.
    """
    return _run_check(_POOL_CHECK, pool_output_size, assignment, quiet)


_UPSCALING_CHECK = _variant_check(
    "upscaling_output_size",
    [_Case("the notebook's UpSampling 8x8 of 32 pixels", (32, 8), public=True), _Case("7 pixels, factor 2", (7, 2)),
     _Case("13 pixels, factor 3", (13, 3)), _Case("1 pixel, factor 16", (1, 16))],
    lambda n, factor: n * factor,
    [("divides", "the size is divided by the factor", (
        "UpSampling2D makes the image larger: each pixel becomes factor x factor pixels.",
    ), lambda n, factor: n // factor),
     ("adds_factor", "the factor is added instead of multiplied", (
         "Each pixel is repeated factor times: n pixels become n * factor.",
     ), lambda n, factor: n + factor)],
    ("UpSampling2D(size=factor) repeats every row and column factor times.",),
    output_ok=_is_int, extra_mistakes=[_int_values_right()])


def check_upscaling_output_size(upscaling_output_size, assignment=None, quiet=False):
    """Check ``upscaling_output_size(input_size, factor)``."""
    return _run_check(_UPSCALING_CHECK, upscaling_output_size, assignment, quiet)


def _bottleneck_reference(height, width, k, num_pools=4, pool_padding="valid"):
    for _ in range(num_pools):
        height = shapes.pool_output_size(height, 2, 2, pool_padding)
        width = shapes.pool_output_size(width, 2, 2, pool_padding)
    return (height, width, k)


def _decoded_reference(height, width, num_classes, num_pools=4, pool_padding="valid"):
    h, w, _ = _bottleneck_reference(height, width, 1, num_pools, pool_padding)
    return (h * 2 ** num_pools, w * 2 ** num_pools, num_classes)


def _padded_reference(size, num_pools=4):
    multiple = 2 ** num_pools
    return -(-size // multiple) * multiple


_BOTTLENECK_CASES = [
    _Case("the notebook's bottleneck_shape(256, 512, k=64)", (256, 512, 64), public=True),
    _Case("a 100 x 60 page, k = 3", (100, 60, 3)),
    _Case("a 100 x 60 page, k = 3, 'same' poolings", (100, 60, 3, 4, "same")),
    _Case("a 37 x 90 page, k = 5, 3 poolings", (37, 90, 5, 3)),
    _Case("a 37 x 90 page, k = 5, 2 poolings, 'same'", (37, 90, 5, 2, "same")),
]

_BOTTLENECK_CHECK = _variant_check(
    "bottleneck_shape", _BOTTLENECK_CASES, _bottleneck_reference,
    [("pool_padding_ignored", "pool_padding is ignored", (
        "Compare 'valid' and 'same' poolings of an odd size: 'same' keeps the last odd row.",
        "Pass pool_padding on to pool_output_size at every stage.",
    ), lambda h, w, k, num_pools=4, pool_padding="valid": _bottleneck_reference(h, w, k, num_pools)),
     ("rounds_up", "the poolings round up ('valid' drops the last odd row)", (
         "A 'valid' 2x2 pooling of 25 rows gives 12 rows, not 13.",
     ), lambda h, w, k, num_pools=4, pool_padding="valid": _bottleneck_reference(h, w, k, num_pools, "same")),
     ("num_pools_ignored", "num_pools is ignored (always 4 poolings)", (
         "Use the argument num_pools for the number of stages.",
     ), lambda h, w, k, num_pools=4, pool_padding="valid": _bottleneck_reference(h, w, k, 4, pool_padding))],
    ("Apply the pooling rule stage by stage (num_pools times) to height and width; the 1x1 "
     "convolution only sets the channels to k.",),
    output_ok=lambda output: _as_shape_list([output]) is not None)


def check_bottleneck_shape(bottleneck_shape, assignment=None, quiet=False):
    """Check ``bottleneck_shape(height, width, k, num_pools=4, pool_padding="valid")``."""
    return _run_check(_BOTTLENECK_CHECK, bottleneck_shape, assignment, quiet)


_DECODED_CHECK = _variant_check(
    "decoded_shape",
    [_Case("the notebook's decoded_shape(100, 100, num_classes=4)", (100, 100, 4), public=True),
     *_BOTTLENECK_CASES[1:]], _decoded_reference,
    [("keeps_page_size", "the decoder gives back the page size", (
        "Try a page whose sides are not multiples of 2**num_pools.",
        "The up-scaling multiplies the bottleneck size by 2**num_pools: the rows the poolings "
        "dropped do not come back (100 -> 6 -> 96).",
    ), lambda h, w, c, num_pools=4, pool_padding="valid": (h, w, c)),
     ("pool_padding_ignored", "pool_padding is ignored", (
         "With 'same' poolings the bottleneck is larger: pass pool_padding on.",
     ), lambda h, w, c, num_pools=4, pool_padding="valid": _decoded_reference(h, w, c, num_pools))],
    ("decoded = bottleneck size * 2**num_pools, with num_classes channels.",),
    output_ok=lambda output: _as_shape_list([output]) is not None)


def check_decoded_shape(decoded_shape, assignment=None, quiet=False):
    """Check ``decoded_shape(height, width, num_classes, num_pools=4, pool_padding="valid")``."""
    return _run_check(_DECODED_CHECK, decoded_shape, assignment, quiet)


_PADDED_CHECK = _variant_check(
    "padded_size",
    [_Case("the notebook's padded_size(256) (already a multiple)", (256,), public=True), _Case("100 pixels", (100,)),
     _Case("33 pixels, 3 poolings", (33, 3)), _Case("64 pixels, 3 poolings", (64, 3)), _Case("1 pixel", (1,))],
    _padded_reference,
    [("full_extra_block", "a whole block is added to sizes that already fit", (
        "A size that is already a multiple must stay as it is.",
        "size + m - size % m adds m when size % m == 0; round up with -(-size // m) * m.",
    ), lambda size, num_pools=4: size + 2 ** num_pools - size % 2 ** num_pools),
     ("rounds_down", "the size is rounded down", (
         "Padding makes the page larger, never smaller.",
     ), lambda size, num_pools=4: size // 2 ** num_pools * 2 ** num_pools)],
    ("The smallest multiple of 2**num_pools that is >= size.",),
    output_ok=_is_int, extra_mistakes=[_int_values_right()])


def check_padded_size(padded_size, assignment=None, quiet=False):
    """Check ``padded_size(size, num_pools=4)``."""
    return _run_check(_PADDED_CHECK, padded_size, assignment, quiet)


def _kernel_area(kernel_size):
    if isinstance(kernel_size, (int, np.integer)):
        return int(kernel_size) ** 2
    return int(kernel_size[0]) * int(kernel_size[1])


def _conv_params_reference(kernel_size, in_channels, filters, use_bias=True):
    return _kernel_area(kernel_size) * in_channels * filters + (filters if use_bias else 0)


_PARAM_CASES = [
    _Case("the notebook's conv2d_params(4, in_channels=40, filters=80)", (4, 40, 80), public=True),
    _Case("3x3, 1 -> 40 channels", (3, 1, 40)),
    _Case("kernel (3, 5), 7 -> 2 channels", ((3, 5), 7, 2)),
    _Case("1x1, 160 -> 4 channels, no bias", (1, 160, 4, False)),
]

_PARAM_VARIANTS = [
    ("forget_in_channels", "the input channels are missing", (
        "A filter has one kh x kw kernel per input channel.",
        "weights = kh * kw * in_channels * filters.",
    ), lambda k, i, f, use_bias=True: _kernel_area(k) * f + (f if use_bias else 0)),
    ("always_bias", "use_bias=False still counts a bias", (
        "Look at the case without bias.",
        "Add filters biases only if use_bias is True.",
    ), lambda k, i, f, use_bias=True: _kernel_area(k) * i * f + f),
    ("bias_per_input", "one bias per input channel instead of per filter", (
        "Each filter (output channel) has one bias.",
    ), lambda k, i, f, use_bias=True: _kernel_area(k) * i * f + (i if use_bias else 0)),
    ("square_kernel_only", "a (kh, kw) kernel is not handled", (
        "kernel_size may be an int or a pair (kh, kw): handle both.",
    ), lambda k, i, f, use_bias=True: (k if isinstance(k, int) else k[0]) ** 2 * i * f + (f if use_bias else 0)),
]


def _params_check(name):
    return _variant_check(name, _PARAM_CASES, _conv_params_reference, _PARAM_VARIANTS,
                          ("Count the weights (kh * kw * in_channels * filters) and the biases "
                           "(filters, if use_bias) separately.",),
                          output_ok=_is_int, extra_mistakes=[_int_values_right()])


_CONV_PARAMS_CHECK = _params_check("conv2d_params")
_CONV_TRANSPOSE_PARAMS_CHECK = _params_check("conv2d_transpose_params")


def check_conv2d_params(conv2d_params, assignment=None, quiet=False):
    """Check ``conv2d_params(kernel_size, in_channels, filters, use_bias=True)``."""
    return _run_check(_CONV_PARAMS_CHECK, conv2d_params, assignment, quiet)


def check_conv2d_transpose_params(conv2d_transpose_params, assignment=None, quiet=False):
    """Check ``conv2d_transpose_params(kernel_size, in_channels, filters, use_bias=True)``
    (the same count as a convolution: the kernel is only used the other way round)."""
    return _run_check(_CONV_TRANSPOSE_PARAMS_CHECK, conv2d_transpose_params, assignment, quiet)


_DENSE_CHECK = _variant_check(
    "dense_params",
    [_Case("the notebook's dense_params(1280, 100)", (1280, 100), public=True), _Case("10 -> 3", (10, 3)),
     _Case("7 -> 5, no bias", (7, 5, False))],
    lambda i, u, use_bias=True: i * u + (u if use_bias else 0),
    [("always_bias", "use_bias=False still counts a bias", (
        "Add units biases only if use_bias is True.",
    ), lambda i, u, use_bias=True: i * u + u),
     ("bias_per_input", "one bias per input instead of per unit", (
         "Each unit has one bias.",
     ), lambda i, u, use_bias=True: i * u + (i if use_bias else 0))],
    ("in_features * units weights, plus units biases if use_bias.",),
    output_ok=_is_int, extra_mistakes=[_int_values_right()])


def check_dense_params(dense_params, assignment=None, quiet=False):
    """Check ``dense_params(in_features, units, use_bias=True)``."""
    return _run_check(_DENSE_CHECK, dense_params, assignment, quiet)


def _skip_table_reference(height, width, num_classes, in_channels=1, decoder="upscaling",
                          fuse_channels="both"):
    """(name, (h, w, c), params) rows of the slide's skip FCN; ``fuse_channels``: 'first'
    and ``decoder`` switches reproduce mistakes."""
    rows, shape = [], {}

    def add(name, hwc, params):
        shape[name] = hwc
        rows.append((name, hwc, params))

    def conv(name, source, filters, kernel):
        h, w, c = shape[source] if source else (height, width, in_channels)
        add(name, (h, w, filters), kernel * kernel * c * filters + filters)

    def pool(name, source):
        h, w, c = shape[source]
        add(name, (h // 2, w // 2, c), 0)

    def up(name, source, filters):
        h, w, c = shape[source]
        if decoder == "upscaling":
            add(name, (2 * h, 2 * w, c), 0)
        else:
            add(name, (2 * h, 2 * w, filters), 9 * c * filters + filters)

    def fuse(name, first, second):
        h, w, c1 = shape[first]
        add(name, (h, w, c1 + (shape[second][2] if fuse_channels == "both" else 0)), 0)

    conv("conv1", None, 40, 3)
    pool("pool1", "conv1")
    conv("conv2", "pool1", 80, 4)
    pool("pool2", "conv2")
    conv("conv3", "pool2", 80, 4)
    pool("pool3", "conv3")
    conv("fc4", "pool3", 160, 1)
    conv("fc5", "fc4", 160, 1)
    for up_name, source, filters, fuse_name, skip in (("up1", "fc5", 80, "fuse2", "conv3"),
                                                      ("up2", "fuse2", 80, "fuse3", "conv2"),
                                                      ("up3", "fuse3", 40, "fuse4", "conv1")):
        up(up_name, source, filters)
        fuse(fuse_name, up_name, skip)
    conv("logits", "fuse4", num_classes, 1)
    add("softmax", shape["logits"], 0)
    return rows


def _table_numbers(rows):
    """A table as an int array (rows, 4): h, w, c, params; the output itself if it has
    another form (then it fails the comparison and the message shows what it is)."""
    try:
        return np.array([[*(int(v) for v in hwc), int(params)] for _, hwc, params in rows])
    except (TypeError, ValueError):
        return rows


def _table_check_variant(table_function):
    return lambda *args: _table_numbers(table_function(*args))


_SKIP_TABLE_CHECK = _variant_check(
    "skip_fcn_table",
    [_Case("a 64 x 64 page, 4 classes, up-scaling decoder", (64, 64, 4)),
     _Case("a 48 x 80 page, 3 classes, 2 channels", (48, 80, 3, 2)),
     _Case("a 64 x 64 page, 4 classes, transposed decoder", (64, 64, 4, 1, "transposed")),
     _Case("a 32 x 24 page, 2 classes, 3 channels, transposed decoder", (32, 24, 2, 3, "transposed"))],
    _table_check_variant(_skip_table_reference),
    [("transposed_as_upscaling", "decoder='transposed' gives the up-scaling table", (
        "Compare the rows up1, up2, up3 of both decoders: a transposed convolution has "
        "filters and parameters.",
        "Conv2DTranspose(filters, 3, strides=2, padding='same'): output filters channels, "
        "9 * in_channels * filters + filters parameters.",
    ), _table_check_variant(lambda h, w, k, c=1, decoder="upscaling": _skip_table_reference(h, w, k, c))),
     ("fuse_keeps_first_channels", "a concatenation keeps only the channels of its first input", (
         "Concatenation joins the channel axis: the channels add up.",
         "fuse = (h, w, c_up + c_skip), no parameters.",
     ), _table_check_variant(lambda h, w, k, c=1, decoder="upscaling": _skip_table_reference(
         h, w, k, c, decoder, "first")))],
    ("Go through the slide's layers in order: conv1, pool1, conv2, pool2, conv3, pool3, fc4, "
     "fc5, then up / fuse three times, logits, softmax: 16 rows of (name, (h, w, c), params).",))


def check_skip_fcn_table(skip_fcn_table, assignment=None, quiet=False):
    """Check ``skip_fcn_table(height, width, num_classes, in_channels=1, decoder="upscaling")``
    (the shapes and parameter counts of its 16 rows).

    Diagnoses: the transposed decoder computed as the up-scaling one, concatenations that
    keep only the first input's channels.
    """
    return _run_check(_SKIP_TABLE_CHECK, _table_check_variant(skip_fcn_table), assignment, quiet)


# --- Assignment "sliding_window_vs_fcn": patches, sliding window, whole-page FCN -------------------


def _patches_reference(page, patch_size, stride, before=None):
    """Patches centred on every stride-th pixel; ``before``: zero rows/columns before the
    centre (patch_size // 2; other values reproduce mistakes)."""
    page = np.asarray(page, dtype=np.float32)
    page = page[:, :, None] if page.ndim == 2 else page
    height, width = page.shape[:2]
    before = patch_size // 2 if before is None else before
    padded = np.pad(page, ((before, patch_size), (before, patch_size), (0, 0)))
    centers = [(r, c) for r in range(0, height, stride) for c in range(0, width, stride)]
    patches = np.stack([padded[r:r + patch_size, c:c + patch_size] for r, c in centers])
    return patches, np.array(centers)


def _patch_cases():
    rng = np.random.default_rng(11)
    return [
        _Case("a 5x5 page, 3x3 patches, stride 2", (np.arange(25, dtype=np.float32).reshape(5, 5), 3, 2)),
        _Case("a random 7x9 page with 3 channels, 4x4 patches (even), stride 3",
              (rng.random((7, 9, 3)).astype(np.float32), 4, 3)),
        _Case("a random 6x5 page, 5x5 patches, stride 1", (rng.random((6, 5)).astype(np.float32), 5, 1)),
    ]


_PATCHES_CHECK = _variant_check(
    "extract_patches", _patch_cases(), _patches_reference,
    [("no_padding", "the patches start at the pixel instead of being centred on it", (
        "Look at the first patch: its centre must be pixel (0, 0), so it sticks out of the page.",
        "Pad patch_size // 2 zeros before the page (and enough after), then cut the patch "
        "starting at (r, c) of the padded page.",
    ), lambda page, ps, s: _patches_reference(page, ps, s, before=0)),
     ("even_size_centre", "the centre of an even-sized patch is off by one", (
         "For an even patch size the centre is the pixel just right of / below the middle.",
         "Pad patch_size // 2 zeros before the page, not (patch_size - 1) // 2.",
     ), lambda page, ps, s: _patches_reference(page, ps, s, before=(ps - 1) // 2)),
     ("centers_swapped", "the centres are (col, row) instead of (row, col)", (
         "centers[i] = (row, col) of patch i, rows first.",
     ), lambda page, ps, s: (lambda p, c: (p, c[:, ::-1]))(*_patches_reference(page, ps, s)))],
    ("Centres: every stride-th row and column, row-major; each patch is zero-padded at the "
     "borders and always patch_size x patch_size x C.",))


def check_extract_patches(extract_patches, assignment=None, quiet=False):
    """Check ``extract_patches(page, patch_size, stride)`` -> ``(patches, centers)``.

    Diagnoses: patches anchored at their top-left pixel (no centring), an off-by-one
    centre for even patch sizes, (col, row) centres.
    """
    return _run_check(_PATCHES_CHECK, extract_patches, assignment, quiet)


class _CentreClassifier:
    """A fake classifier: the class of a patch is int(its centre pixel) % 4; records the batch sizes."""

    def __init__(self):
        self.batch_sizes = []

    def __call__(self, patches):
        patches = np.asarray(patches)
        self.batch_sizes.append(len(patches))
        centre = patches[:, patches.shape[1] // 2, patches.shape[2] // 2, 0].astype(int) % 4
        return np.eye(4, dtype=np.float32)[centre]


def _sliding_reference(page, patch_size, stride, upsample=True):
    page = np.asarray(page, dtype=np.float32)
    patches, centers = _patches_reference(page, patch_size, stride)
    labels = _CentreClassifier()(patches).argmax(-1).astype(np.uint8)
    coarse = labels.reshape(-(-page.shape[0] // stride), -(-page.shape[1] // stride))
    if not upsample:
        return coarse
    return np.repeat(np.repeat(coarse, stride, 0), stride, 1)[:page.shape[0], :page.shape[1]]


def _sliding_cases():
    rng = np.random.default_rng(12)
    return [(rng.integers(0, 4, size=(9, 13)).astype(np.float32), 5, 4),
            (rng.integers(0, 4, size=(8, 8)).astype(np.float32), 3, 2),
            (rng.integers(0, 4, size=(5, 11)).astype(np.float32), 4, 3)]


def check_predict_sliding_window(predict_sliding_window, assignment=None, quiet=False):
    """Check ``predict_sliding_window(classify, page, patch_size, stride, batch_size=256)``
    with a fake classifier (the class of a patch is its centre pixel's value).

    Diagnoses: the coarse grid returned without up-sampling, a wrong shape, batches larger
    than batch_size, labels that are not integers.
    """
    return _run_model_check("predict_sliding_window", _sliding_window_problem, predict_sliding_window,
                            _SLIDING_WINDOW_MISTAKES, assignment, quiet)


def _sliding_window_problem(predict_sliding_window):
    problem = None
    if True:
        for page, patch_size, stride in _sliding_cases():
            described = f"a {page.shape[0]}x{page.shape[1]} page, {patch_size}x{patch_size} patches, stride {stride}"
            classify = _CentreClassifier()
            try:
                got = _to_numpy(predict_sliding_window(classify, page, patch_size, stride, batch_size=5))
            except NotImplementedError:
                raise
            except Exception as error:
                problem = (described, "raises", str(_Raised(error)))
                break
            if got.shape == _sliding_reference(page, patch_size, stride, upsample=False).shape != page.shape:
                problem = (described, "coarse_grid", f"shape {got.shape}")
            elif got.shape != page.shape:
                problem = (described, "wrong_shape", f"shape {got.shape}")
            elif classify.batch_sizes and max(classify.batch_sizes) > 5:
                problem = (described + " with batch_size=5", "batch_size_ignored",
                           f"batches of {max(classify.batch_sizes)} patches")
            elif not np.array_equal(got, _sliding_reference(page, patch_size, stride)):
                problem = (described, "wrong_labels", "other labels")
            elif got.dtype.kind not in "iu":
                problem = (described, "not_integer", f"dtype {got.dtype}")
            if problem:
                break
    return problem


_SLIDING_WINDOW_MISTAKES = {
        "raises": ("the function raises an error", (
            "Read the error: which line raises it? Call classify on batches of patches, "
            "shape (B, patch_size, patch_size, C).",)),
        "coarse_grid": ("the coarse grid of patch labels is returned, not a full-size map", (
            "One label per stride x stride cell: repeat each label stride times along both axes.",
            "np.repeat(np.repeat(coarse, stride, axis=0), stride, axis=1), then crop to (H, W).",
        )),
        "wrong_shape": ("the output does not have the page's shape (H, W)", (
            "After repeating the labels, crop to the page's height and width.",)),
        "batch_size_ignored": ("classify gets more than batch_size patches at once", (
            "Loop over the patches in slices of batch_size: patches[start:start + batch_size].",)),
        "wrong_labels": ("the labels are at the wrong places", (
            "The label of the patch centred on (r, c) covers rows r .. r + stride - 1 and "
            "columns c .. c + stride - 1.",
            "Take the argmax of the scores per patch, reshape to (ceil(H / s), ceil(W / s)) "
            "in row-major order, then repeat.",
        )),
        "not_integer": ("the labels are not integers", ("Return a uint8 array: .astype(np.uint8).",)),
}


class _PositionalNetwork:
    """A fake FCN: class of a pixel = (int(value) + row + 2 * col) % 5; it refuses sizes that
    are not multiples of 8 (the real FCN would crop them) and, when ``page_shape`` is set,
    more padding than needed."""

    page_shape = None

    def __call__(self, batch):
        batch = np.asarray(batch, dtype=np.float32)
        if batch.shape[1] % 8 or batch.shape[2] % 8:
            raise ValueError(f"the FCN needs multiples of 8, got {batch.shape[1:3]}")
        if self.page_shape is not None:
            needed = tuple(-(-size // 8) * 8 for size in self.page_shape[:2])
            if tuple(batch.shape[1:3]) != needed:
                raise ValueError(f"padded to {batch.shape[1:3]}, larger than needed {needed}")
        rows = np.arange(batch.shape[1])[:, None]
        cols = np.arange(batch.shape[2])[None, :]
        return np.eye(5, dtype=np.float32)[(batch[..., 0].astype(int) + rows + 2 * cols) % 5]


def _predict_fcn_reference(page, multiple=8, pad_before=False):
    page = np.asarray(page, dtype=np.float32)
    page = page[:, :, None] if page.ndim == 2 else page
    h, w = page.shape[:2]
    ph, pw = -h % multiple, -w % multiple
    padding = ((ph // 2, ph - ph // 2), (pw // 2, pw - pw // 2), (0, 0)) if pad_before else ((0, ph), (0, pw), (0, 0))
    scores = _PositionalNetwork()(np.pad(page, padding)[None])[0]
    top, left = (ph // 2, pw // 2) if pad_before else (0, 0)
    return scores[top:top + h, left:left + w].argmax(-1).astype(np.uint8)


def _predict_fcn_cases():
    rng = np.random.default_rng(13)
    return [
        _Case("a 13x21 page of labels", (rng.integers(0, 5, size=(13, 21)).astype(np.float32),)),
        _Case("a 16x24 page (already multiples of 8)", (rng.integers(0, 5, size=(16, 24)).astype(np.float32),)),
        _Case("a 10x7x2 page", (rng.integers(0, 5, size=(10, 7, 2)).astype(np.float32),)),
    ]


def check_predict_fcn(predict_fcn, assignment=None, quiet=False):
    """Check ``predict_fcn(predict, page, multiple=8)`` with a fake FCN that needs multiples
    of 8 and whose answer depends on the pixel position.

    Diagnoses: no padding, a whole extra block of padding, padding split over both sides,
    scores returned instead of labels, the padded size returned.
    """
    network = _PositionalNetwork()
    check = _variant_check(
        "predict_fcn", _predict_fcn_cases(), lambda page: _predict_fcn_reference(page),
        [("pads_both_sides", "the padding is split over both sides of the page", (
            "The positions of the pixels must not move: pad at the bottom and the right only.",
            "np.pad(page, ((0, -H % m), (0, -W % m), (0, 0))).",
        ), lambda page: _predict_fcn_reference(page, pad_before=True)),
         ("not_cropped", "the result keeps the padded size", (
             "Crop the prediction back to the page's height and width.",
         ), lambda page: network(np.pad(np.asarray(page, np.float32).reshape(*np.shape(page)[:2], -1),
                                        ((0, -np.shape(page)[0] % 8), (0, -np.shape(page)[1] % 8), (0, 0)))[None])
             [0].argmax(-1).astype(np.uint8))],
        ("Pad the page with zeros at the bottom and right to multiples of `multiple`, run the "
         "network once on a batch of one page, crop back to (H, W) and take the argmax.",),
        extra_mistakes=[_Mistake("no_padding", "the page is not padded to a multiple of 8", (
            "The network refuses sizes that are not multiples of 8: read the error.",
            "-H % multiple rows and -W % multiple columns of zeros make the size a multiple.",
        ), lambda cases, outputs, expected: any(isinstance(o, _Raised) and "multiples of 8" in str(o)
                                               for o in outputs)),
            _Mistake("full_extra_block", "a page that already fits gets a whole block of padding", (
                "A 16 x 24 page needs no padding: -H % multiple is 0 then.",
                "Pad -H % multiple rows, not multiple - H % multiple.",
            ), lambda cases, outputs, expected: any(isinstance(o, _Raised) and "larger than needed" in str(o)
                                                   for o in outputs)),
            _Mistake("scores_not_labels", "the scores are returned, not the class labels", (
                "Return one class per pixel, shape (H, W): argmax over the last axis.",
            ), lambda cases, outputs, expected: any(not isinstance(o, _Raised) and _to_numpy(o).ndim == 3
                                                   for o in outputs))])
    def run(page):
        network.page_shape = np.shape(page)
        try:
            return predict_fcn(network, page)
        finally:
            network.page_shape = None

    return _run_check(check, run, assignment, quiet)


# --- Assignment "skip_fcns": transposed convolution in NumPy and the two skip FCNs ----------------


def _transpose_numpy_reference(inputs, kernel, strides=1, padding="valid", crop="centre"):
    """Keras' Conv2DTranspose(use_bias=False) by scatter-add; ``crop`` reproduces mistakes:
    'end' crops 'same' at the end only, 'none' does not crop at all."""
    x, k = np.asarray(inputs, np.float64), np.asarray(kernel, np.float64)
    sh, sw = (strides, strides) if np.isscalar(strides) else strides
    b, h, w, _ = x.shape
    kh, kw, c_out, _ = k.shape
    full = np.zeros((b, (h - 1) * sh + kh, (w - 1) * sw + kw, c_out))
    for i in range(h):
        for j in range(w):
            full[:, i * sh:i * sh + kh, j * sw:j * sw + kw] += np.einsum("bc,hwoc->bhwo", x[:, i, j], k)
    if crop == "none":
        return full
    sizes = []
    for n, kk, s, length in ((h, kh, sh, full.shape[1]), (w, kw, sw, full.shape[2])):
        out = n * s if padding == "same" else (n - 1) * s + max(kk, s)
        start = (max(length - out, 0) // 2 if crop == "centre" else 0) if padding == "same" else 0
        sizes.append((out, start))
    (oh, top), (ow, left) = sizes
    result = np.zeros((b, oh, ow, c_out))
    part = full[:, top:top + oh, left:left + ow]
    result[:, :part.shape[1], :part.shape[2]] = part
    return result


def _transpose_numpy_cases():
    rng = np.random.default_rng(14)
    slide_kernel = np.array([[1.0, 10.0], [100.0, 1000.0]]).reshape(2, 2, 1, 1)
    return [
        _Case("the notebook's 2x2 kernel, stride 2 (no overlap)",
              (np.array([[1.0, 2.0], [3.0, 4.0]]).reshape(1, 2, 2, 1), slide_kernel, 2), public=True),
        _Case("random 3x3 input, 3x3 kernel, stride 2, 'valid'",
              (rng.normal(size=(1, 3, 3, 2)), rng.normal(size=(3, 3, 3, 2)), 2, "valid")),
        _Case("random 3x4 input, 3x3 kernel, stride 2, 'same'",
              (rng.normal(size=(2, 3, 4, 1)), rng.normal(size=(3, 3, 2, 1)), 2, "same")),
        _Case("random 2x3 input, 4x4 kernel, stride 2, 'same'",
              (rng.normal(size=(1, 2, 3, 2)), rng.normal(size=(4, 4, 1, 2)), 2, "same")),
        _Case("random 2x2 input, 2x2 kernel, stride 3 (gaps), 'valid'",
              (rng.normal(size=(1, 2, 2, 1)), rng.normal(size=(2, 2, 1, 1)), 3, "valid")),
    ]


_TRANSPOSE_NUMPY_CHECK = _variant_check(
    "conv2d_transpose_numpy", _transpose_numpy_cases(), _transpose_numpy_reference,
    [("same_without_crop", "'same' is not cropped", (
        "With 'same' the output has n * s pixels per axis: crop the scattered result.",
        "Crop (length - n * s) // 2 pixels at the start, the rest at the end.",
    ), lambda x, k, s=1, padding="valid": _transpose_numpy_reference(x, k, s, padding, crop="none")
        if padding == "same" else _transpose_numpy_reference(x, k, s, padding)),
     ("crop_at_end", "'same' crops only at the end", (
         "Keras crops (length - n * s) // 2 pixels at the start and the rest at the end.",
     ), lambda x, k, s=1, padding="valid": _transpose_numpy_reference(x, k, s, padding, crop="end")),
     ("no_gap_after_last_stamp", "the gap after the last stamp is missing (stride > kernel)", (
         "Try a kernel smaller than the stride: Keras keeps (n - 1) * s + max(k, s) pixels.",
     ), lambda x, k, s=1, padding="valid": _transpose_numpy_reference(x, k, s, padding, crop="none")
         if padding == "valid" else _transpose_numpy_reference(x, k, s, padding)),
     ("kernel_layout", "the kernel's channel axes are swapped", (
         "The Keras Conv2DTranspose kernel is (kh, kw, C_out, C_in): the last axis matches the input.",
     ), lambda x, k, s=1, padding="valid": _transpose_numpy_reference(
         x, np.swapaxes(np.asarray(k), 2, 3), s, padding))],
    ("Scatter-add: input pixel (i, j) adds inputs[:, i, j] @ kernel into the output at rows "
     "i*s .. i*s+kh-1 and columns j*s .. j*s+kw-1; then crop for the padding.",),
    rtol=1e-5, atol=1e-6)


def check_conv2d_transpose_numpy(conv2d_transpose_numpy, assignment=None, quiet=False):
    """Check ``conv2d_transpose_numpy(inputs, kernel, strides=1, padding="valid")`` against
    a scatter-add reference equal to Keras' Conv2DTranspose(use_bias=False).

    Diagnoses: 'same' not cropped or cropped at the end only, the missing gap for
    stride > kernel, swapped kernel channel axes.
    """
    return _run_check(_TRANSPOSE_NUMPY_CHECK, conv2d_transpose_numpy, assignment, quiet)


def _built_model_problem(build, described, page, num_classes):
    """Build a model with ``build()`` and run it on ``page``.

    Returns ``(problem, model, output)``: problem is ``(checked, key, got)`` for a build
    error, a non-model, a refused page, a wrong output shape or a missing softmax, else None.
    """
    import keras

    try:
        model = build()
    except NotImplementedError:
        raise
    except Exception as error:
        return (described, "build_fails", str(_Raised(error))), None, None
    if not isinstance(model, keras.Model):
        return ("the returned object", "not_a_model", type(model).__name__), None, None
    try:
        output = _to_numpy(model(page))
    except Exception as error:
        return (f"a {page.shape} page", "fixed_input_size", str(_Raised(error))), model, None
    if output.shape != page.shape[:3] + (num_classes,):
        return (f"a {page.shape} page, {num_classes} classes", "wrong_output_shape", f"shape {output.shape}"), model, None
    if not np.allclose(output.sum(-1), 1.0, atol=1e-4):
        return ("the sum of the class probabilities per pixel", "missing_softmax", "other sums"), model, output
    return None, model, output


def _same_weights_problem(model, reference, page, output, what):
    """Compare ``model`` with ``reference``: parameter count, weight shapes, then the outputs
    with the model's weights copied into the reference (catches wrong connections)."""
    if model.count_params() != reference.count_params():
        return "the number of parameters", "wrong_parameter_count", f"{model.count_params()} parameters"
    if [w.shape for w in model.get_weights()] != [w.shape for w in reference.get_weights()]:
        return "the shapes of the weights, layer by layer", "wrong_connections", "other shapes"
    reference.set_weights(model.get_weights())
    if not np.allclose(output, _to_numpy(reference(page)), atol=1e-4):
        return f"the outputs with your weights in {what}", "wrong_connections", "other values"
    return None


def _skip_model_problem(build, transposed):
    """The first difference of ``build(num_classes, num_channels)`` from the slide's network."""
    from course_utils import models

    reference_builder = models.build_fcn_transposed_skip if transposed else models.build_fcn_skip_upscaling
    page = np.random.default_rng(15).random((1, 16, 24, 2)).astype("float32")
    problem, model, output = _built_model_problem(
        lambda: build(3, 2), "building the model with num_classes=3, num_channels=2", page, 3)
    if problem is not None:
        return problem
    return _same_weights_problem(model, reference_builder(num_classes=3, num_channels=2), page, output,
                                 "the slide's network")


_SKIP_MODEL_MISTAKES = {
    **{key: _FCN_MISTAKES[key] for key in ("build_fails", "not_a_model", "fixed_input_size", "missing_softmax")},
    "wrong_output_shape": ("the output shape is not (batch, height, width, num_classes)", (
        "Three poolings and three 2x up-samplings: the output has the page's size.",
        "The last layer is Conv2D(num_classes, 1), followed by the softmax.",
    )),
    "wrong_parameter_count": ("the number of parameters differs from the slide's network", (
        "Compare filters and kernel sizes layer by layer with the slide's table.",
        "The skips join the encoder convolutions conv3, conv2, conv1 (before pooling); the "
        "concatenations add their channels.",
    )),
    "wrong_connections": ("the same layers compute something else: a connection differs", (
        "Check what each concatenation joins, and in which order.",
        "Concatenate([up-sampled, encoder conv of the same resolution]) along the channels: "
        "the up-sampled tensor first; each up-sampling takes the previous fusion.",
        "No activation on the transposed convolutions (as on the slide); ReLU on conv1 ... fc5.",
    )),
}


def check_fcn_skip_upscaling(build_fcn_skip_upscaling, assignment=None, quiet=False):
    """Check ``build_fcn_skip_upscaling(num_classes, num_channels=1)`` against the slide's
    network (course_utils.models): output, softmax, parameters, and the outputs with the
    same weights (which catches swapped or wrong skip connections)."""
    return _run_model_check("build_fcn_skip_upscaling", lambda b: _skip_model_problem(b, False),
                            build_fcn_skip_upscaling, _SKIP_MODEL_MISTAKES, assignment, quiet)


def check_fcn_transposed_skip(build_fcn_transposed_skip, assignment=None, quiet=False):
    """Check ``build_fcn_transposed_skip(num_classes, num_channels=1)`` like
    :func:`check_fcn_skip_upscaling`, with transposed convolutions."""
    return _run_model_check("build_fcn_transposed_skip", lambda b: _skip_model_problem(b, True),
                            build_fcn_transposed_skip, _SKIP_MODEL_MISTAKES, assignment, quiet)


# --- Assignment "unet" ---------------------------------------------------------------------------


def _unet_bottleneck_reference(height, width, depth):
    if depth < 1:
        raise ValueError(f"depth must be at least 1, got {depth}")
    multiple = 2 ** depth
    for side, size in (("height", height), ("width", width)):
        if size % multiple:
            raise ValueError(f"{side} {size} is not a multiple of 2**{depth} = {multiple}")
    return height // multiple, width // multiple


def _raises_value_error_naming_the_side(cases, outputs, expected):
    """Detector: an error case returns a value, or raises without naming side, size, multiple."""
    for case, output, right in zip(cases, outputs, expected):
        if isinstance(right, _Raised) and not isinstance(output, _Raised):
            return True
    return False


def check_unet_bottleneck_size(unet_bottleneck_size, assignment=None, quiet=False):
    """Check ``unet_bottleneck_size(height, width, depth)``: the size at the bottleneck, or a
    ValueError naming the side, its size and the multiple.

    Diagnoses: errors for sizes that fit (2 * depth instead of 2**depth), no ValueError
    for sizes that do not fit, float sizes, messages that do not name the side, its size and the multiple.
    """
    name = "unet_bottleneck_size"
    cases = [_Case("the notebook's 64 x 64, depth 2", (64, 64, 2), public=True),
             _Case("the notebook's 64 x 48, depth 3", (64, 48, 3), public=True),
             _Case("the notebook's 96 x 160, depth 5", (96, 160, 5), public=True), _Case("40 x 56, depth 3", (40, 56, 3)),
             _Case("36 x 64, depth 3 (the height does not fit)", (36, 64, 3)),
             _Case("64 x 100, depth 3 (the width does not fit)", (64, 100, 3)),
             _Case("64 x 64, depth 0", (64, 64, 0))]
    check = _variant_check(
        name, cases, _unet_bottleneck_reference,
        [],
        ("Check depth >= 1 first; then each side must be a multiple of 2**depth, else raise "
         "ValueError naming the side, its size and the multiple; return (height // m, width // m).",),
        output_ok=lambda output: isinstance(output, _Raised) or (
            isinstance(output, (tuple, list)) and all(_is_int(v) for v in output)),
        extra_mistakes=[
            _Mistake("raises_for_fitting_sizes", "a size that fits raises an error", (
                "64 x 48 with depth 3 fits: both are multiples of 8.",
                "The multiple is 2**depth (depth poolings, each halving the size), not 2 * depth.",
            ), lambda cases, outputs, expected: any(
                isinstance(o, _Raised) and not isinstance(e, _Raised) for o, e in zip(outputs, expected))),
            _Mistake("no_value_error", "sizes that do not fit give no ValueError", (
                "A side that is not a multiple of 2**depth cannot go down and up again: raise.",
                "raise ValueError(f\"height {height} is not a multiple of {multiple}\") (and the "
                "same for the width, and for depth < 1).",
            ), _raises_value_error_naming_the_side),
            _Mistake("float_sizes", "the sizes are floats", (
                "Use integer division //: sizes are whole pixels.",
            ), lambda cases, outputs, expected: any(
                isinstance(o, (tuple, list)) and any(isinstance(v, float) for v in o) for o in outputs))])
    result = _run_check(check, unet_bottleneck_size, assignment, quiet=True)
    if result.passed:   # the messages of the errors, which _same does not compare
        for case in cases[4:6]:
            height, width, depth = case.args
            side, size = ("height", height) if height % 2 ** depth else ("width", width)
            try:
                unet_bottleneck_size(*case.args)
            except ValueError as error:
                if not (side in str(error) and str(size) in str(error) and str(2 ** depth) in str(error)):
                    result = _report_failure(
                        name, "an error message is incomplete.",
                        f"  First failing case: {case.description}: your message was {str(error)!r}.",
                        _Mistake("message", "the error message does not name the side, its size and the multiple", (
                            "Say which side does not fit, its size, and the multiple it must be.",
                        ), None), assignment, True)
                    break
    if not quiet:
        print(result.message)
    return result


def _double_conv_problem(double_conv):
    import keras

    inputs = keras.Input((None, None, 3))
    try:
        block = keras.Model(inputs, double_conv(inputs, 16))
    except NotImplementedError:
        raise
    except Exception as error:
        return "double_conv(keras.Input((None, None, 3)), 16)", "build_fails", str(_Raised(error))
    convs = [layer for layer in block.layers if isinstance(layer, keras.layers.Conv2D)]
    if len(convs) != 2:
        return "the Conv2D layers between input and output", "not_two_convs", f"{len(convs)} of them"
    settings = [(c.filters, tuple(c.kernel_size), c.padding, getattr(c.activation, "__name__", "")) for c in convs]
    if any(s[2] != "same" for s in settings):
        return "the padding", "valid_padding", str([s[2] for s in settings])
    if any(s[1] != (3, 3) for s in settings):
        return "the kernel sizes", "kernel_size", str([s[1] for s in settings])
    if any(s[3] != "relu" for s in settings):
        return "the activations", "missing_relu", str([s[3] for s in settings])
    if block.count_params() != 9 * 3 * 16 + 16 + 9 * 16 * 16 + 16:
        return "the number of parameters", "wrong_filters", f"{block.count_params()} parameters"
    return None


_DOUBLE_CONV_MISTAKES = {
    "build_fails": ("calling the block fails", (
        "Apply each layer to a tensor: y = layers.Conv2D(...)(x), then the second to y.",)),
    "not_two_convs": ("the output does not go through exactly two convolutions", (
        "The second convolution must be applied to the output of the first, and its output "
        "returned (a layer whose output is not used is not part of the block).",)),
    "valid_padding": ("a convolution uses 'valid' padding", (
        "The U-Net of this assignment keeps the size: padding='same'.",)),
    "kernel_size": ("the kernels are not 3x3", ("Conv2D(filters, (3, 3), ...).",)),
    "missing_relu": ("a convolution has no ReLU", ("Both convolutions: activation='relu'.",)),
    "wrong_filters": ("the filter counts differ", ("Both convolutions have `filters` filters.",)),
}


def check_double_conv(double_conv, assignment=None, quiet=False):
    """Check ``double_conv(x, filters)`` on a ``keras.Input`` with 3 channels and 16 filters."""
    return _run_model_check("double_conv", _double_conv_problem, double_conv, _DOUBLE_CONV_MISTAKES,
                            assignment, quiet)


def _reference_unet(num_classes, depth, base_filters, num_channels=1):
    """The assignment's U-Net ('same' padding, 2x2 transposed convolutions), for comparisons."""
    import keras

    layers = keras.layers
    inputs = keras.Input((None, None, num_channels))
    x, skips = inputs, []
    for level in range(depth + 1):
        for _ in range(2):
            x = layers.Conv2D(base_filters * 2 ** level, 3, padding="same", activation="relu")(x)
        if level < depth:
            skips.append(x)
            x = layers.MaxPooling2D(2)(x)
    for level in reversed(range(depth)):
        x = layers.Conv2DTranspose(base_filters * 2 ** level, 2, strides=2)(x)
        x = layers.Concatenate()([x, skips[level]])
        for _ in range(2):
            x = layers.Conv2D(base_filters * 2 ** level, 3, padding="same", activation="relu")(x)
    return keras.Model(inputs, layers.Conv2D(num_classes, 1, activation="softmax")(x))


def _unet_problem(build_unet):
    page = np.random.default_rng(16).random((1, 16, 12, 2)).astype("float32")
    problem, model, output = _built_model_problem(
        lambda: build_unet(num_classes=3, depth=2, base_filters=4, num_channels=2),
        "build_unet(num_classes=3, depth=2, base_filters=4, num_channels=2)", page, 3)
    if problem is not None:
        return problem
    kinds = [type(layer).__name__ for layer in model.layers]
    if kinds.count("Conv2DTranspose") != 2:
        return "the number of Conv2DTranspose layers", "no_transposed_conv", str(kinds.count("Conv2DTranspose"))
    return _same_weights_problem(model, _reference_unet(3, 2, 4, 2), page, output, "the reference U-Net")


_UNET_MISTAKES = {
    **{key: _FCN_MISTAKES[key] for key in ("build_fails", "not_a_model", "missing_softmax")},
    "fixed_input_size": ("the model refuses a 16 x 12 page", (
        "keras.Input((None, None, num_channels)): height and width may vary.",)),
    "wrong_output_shape": ("the output shape is not (batch, height, width, num_classes)", (
        "Every pooling needs its up-sampling back (depth of each), and a 1x1 convolution "
        "with num_classes filters at the end.",)),
    "no_transposed_conv": ("the decoder does not up-sample with Conv2DTranspose", (
        "Each decoder level: Conv2DTranspose(filters, (2, 2), strides=2), then concatenate, "
        "then double_conv.",)),
    "wrong_parameter_count": ("the number of parameters differs from the formula of Part 4", (
        "Count per level: two 3x3 convolutions, a 2x2 transposed convolution, and the "
        "double convolution after the concatenation (2 * filters input channels).",
        "Filters base_filters * 2**level; the bottleneck has base_filters * 2**depth.",
    )),
    "wrong_connections": ("the same layers compute something else: a skip connection differs", (
        "Check what each concatenation joins, and in which order.",
        "Keep the encoder output of each level BEFORE pooling; concatenate [up-sampled, skip] "
        "(up-sampled first), deepest level first.",
    )),
}


def check_build_unet(build_unet, assignment=None, quiet=False):
    """Check ``build_unet(num_classes, depth, base_filters, num_channels=1)`` against the
    assignment's U-Net: output, softmax, transposed convolutions, parameters, and the outputs
    with the same weights (which catches swapped or wrong skip connections)."""
    return _run_model_check("build_unet", _unet_problem, build_unet, _UNET_MISTAKES, assignment, quiet)


def _train_unet_problem(train_unet, seconds):
    import keras

    from course_utils.data import make_page_dataset

    images, labels = make_page_dataset(96, seed=71, height=64, width=64)
    test_images, test_labels = make_page_dataset(8, seed=72, height=64, width=64)
    keras.utils.set_random_seed(0)
    try:
        model = train_unet(images, labels, num_classes=4, seconds=seconds)
    except NotImplementedError:
        raise
    except Exception as error:
        return "train_unet on 96 pages", "train_fails", str(_Raised(error))
    if not isinstance(model, keras.Model):
        return "the returned object", "not_a_model", type(model).__name__
    probabilities = _to_numpy(model(test_images))
    score = metrics.mean_iou(test_labels, probabilities.argmax(-1), num_classes=4)
    if score < 0.45:
        return f"the mean IoU on 8 held-out pages after {seconds} s", "not_trained", f"{score:.2f}"
    confidence = float(probabilities.max(-1).mean())
    if confidence <= 0.48:   # right classes, flat probabilities
        return "the mean probability of the most likely class", "softmax_twice", f"{confidence:.2f}"
    return None


_TRAIN_UNET_MISTAKES = {
    "train_fails": ("training fails", (
        "Read the error. compile(optimizer, loss='sparse_categorical_crossentropy') and "
        "fit_for(model, images, labels, seconds=seconds, batch_size=4).",)),
    "not_a_model": ("train_unet does not return the trained model", ("Return the model.",)),
    "softmax_twice": ("the probabilities are flat: a softmax applied twice?", (
        "build_unet already ends with a softmax: add no second one.",
        "A softmax of 4 probabilities is never above 0.48; use loss='sparse_categorical_crossentropy' "
        "without from_logits=True.",
    )),
    "not_trained": ("the model has not learned enough", (
        "Is fit_for called with seconds=seconds on the images and labels?",
        "Depth 2, 8 base filters, Adam with learning rate 3e-3, batch size 4: see the hints of Part 5.",
    )),
}


def check_train_unet(train_unet, seconds=20, assignment=None, quiet=False):
    """Check ``train_unet(images, labels, num_classes, seconds)``: trains for ``seconds`` on
    96 synthetic pages (as the visible test) and looks at the predictions on 8 others (takes
    about ``seconds``).

    Diagnoses: training errors, no model returned, flat probabilities (a softmax applied
    twice), too low a mean IoU.
    """
    return _run_model_check("train_unet", lambda t: _train_unet_problem(t, seconds), train_unet,
                            _TRAIN_UNET_MISTAKES, assignment, quiet, seconds=max(_check_seconds(), 4 * seconds))


# --- Assignment "losses_metrics": mean IoU and class weights -------------------------------------


def _mean_iou_reference(y_true, y_pred, num_classes, ignore_label=None):
    return metrics.mean_iou(np.asarray(y_true), np.asarray(y_pred), num_classes, ignore_label=ignore_label)


def _mean_iou_variant(count_ignored=False, absent_as_zero=False, drop_only_predicted=False):
    def variant(y_true, y_pred, num_classes, ignore_label=None):
        t, p = np.asarray(y_true).ravel(), np.asarray(y_pred).ravel()
        if ignore_label is not None and not count_ignored:
            t, p = t[t != ignore_label], p[t != ignore_label]
        scores = []
        for c in range(num_classes):
            union = np.count_nonzero((t == c) | (p == c))
            if drop_only_predicted and not np.any(t == c):
                continue
            if union:
                scores.append(np.count_nonzero((t == c) & (p == c)) / union)
            elif absent_as_zero:
                scores.append(0.0)
        return float(np.mean(scores)) if scores else float("nan")

    return variant


def _mean_iou_cases():
    rng = np.random.default_rng(17)
    t = np.array([[0, 0, 1], [0, 1, 1], [2, 2, 255]])
    p = np.array([[0, 1, 1], [0, 1, 1], [2, 0, 1]])
    random_t = rng.choice([0, 1, 3], size=(2, 6, 7))
    random_p = np.where(rng.random((2, 6, 7)) < 0.6, random_t, rng.integers(0, 4, size=(2, 6, 7)))
    return [
        _Case("the notebook's 3x3 maps, ignore_label=255", (t, p, 4, 255), public=True),
        _Case("random maps, class 2 absent from the truth", (random_t, random_p, 5)),
        _Case("random maps with ignored pixels", (np.where(rng.random((2, 6, 7)) < 0.2, 9, random_t),
                                                  random_p, 4, 9)),
        _Case("a class that is only predicted", (np.zeros((2, 2), int), np.array([[0, 1], [0, 0]]), 3)),
        _Case("every pixel ignored", (np.full((2, 2), 255), np.zeros((2, 2), int), 4, 255)),
    ]


_MEAN_IOU_CHECK = _variant_check(
    "mean_iou", _mean_iou_cases(), _mean_iou_reference,
    [("ignore_counted", "the ignored pixels are counted", (
        "Drop the pixels whose true label is ignore_label from both maps first.",
        "keep = y_true != ignore_label; y_true, y_pred = y_true[keep], y_pred[keep].",
    ), _mean_iou_variant(count_ignored=True)),
     ("absent_as_zero", "classes absent from both maps count as 0", (
         "A class that is neither true nor predicted anywhere has no IoU: leave it out of the mean.",
     ), _mean_iou_variant(absent_as_zero=True)),
     ("only_predicted_dropped", "classes absent from the truth are left out even when predicted", (
         "A class that is predicted but not there is a mistake: its IoU is 0 and counts.",
         "Leave a class out only when its union is empty.",
     ), _mean_iou_variant(drop_only_predicted=True))],
    ("Per class c: |true == c and pred == c| / |true == c or pred == c|; the mean over the "
     "classes with a non-empty union; nan if none is left.",),
    output_ok=_is_python_float)


def check_mean_iou(mean_iou, assignment=None, quiet=False):
    """Check ``mean_iou(y_true, y_pred, num_classes, ignore_label=None)``.

    Diagnoses: ignored pixels counted, absent classes counted as 0, predicted-only classes
    left out, a result that is not a Python float.
    """
    return _run_check(_MEAN_IOU_CHECK, mean_iou, assignment, quiet)


def _class_weights_reference(frequencies):
    f = np.asarray(frequencies, np.float64)
    present = f > 0
    weights = np.zeros_like(f)
    weights[present] = np.median(f[present]) / f[present]
    return weights


_CLASS_WEIGHTS_CHECK = _variant_check(
    "class_weights_from_frequencies",
    [_Case("the notebook's four frequencies", (np.array([0.5, 0.3, 0.15, 0.05]),), public=True),
     _Case("the notebook's pixel counts 5000, 3000, 1500, 500 (a list)", ([5000, 3000, 1500, 500],), public=True),
     _Case("five frequencies, odd count", (np.array([0.4, 0.1, 0.2, 0.25, 0.05]),)),
     _Case("an absent class", (np.array([0.6, 0.0, 0.3, 0.1]),)),
     _Case("counts with two absent classes", (np.array([900, 0, 50, 0, 30, 20]),))],
    _class_weights_reference,
    [("inverted", "frequency / median instead of median / frequency", (
        "Rare classes must get LARGE weights.",
        "w_c = median / f_c.",
    ), lambda f: np.where(np.asarray(f, float) > 0, np.asarray(f, float) / np.median(
        np.asarray(f, float)[np.asarray(f, float) > 0]), 0.0)),
     ("median_with_zeros", "the absent classes are included in the median", (
         "Take the median over the present classes only (f > 0).",
     ), lambda f: np.where(np.asarray(f, float) > 0, np.median(np.asarray(f, float)) / np.where(
         np.asarray(f, float) > 0, np.asarray(f, float), 1.0), 0.0)),
     ("mean_not_median", "the mean instead of the median", (
         "Median frequency balancing uses the median (the mean of the two middle values for "
         "an even count).",
     ), lambda f: np.where(np.asarray(f, float) > 0, np.mean(np.asarray(f, float)[np.asarray(f, float) > 0]) / np.where(
         np.asarray(f, float) > 0, np.asarray(f, float), 1.0), 0.0))],
    ("w_c = median(frequencies of the present classes) / f_c, and 0 where f_c == 0.",),
    extra_mistakes=[_Mistake("inf_for_absent", "an absent class gets inf or nan (division by 0)", (
        "Frequency 0: do not divide; that class gets weight 0.",
    ), lambda cases, outputs, expected: any(not isinstance(o, _Raised) and not np.all(np.isfinite(_to_numpy(o)))
                                           for o in outputs))])


def check_class_weights(class_weights_from_frequencies, assignment=None, quiet=False):
    """Check ``class_weights_from_frequencies(frequencies)`` (median frequency balancing).

    Diagnoses: inverted weights, absent classes in the median, the mean instead of the
    median, inf or nan for absent classes.
    """
    return _run_check(_CLASS_WEIGHTS_CHECK, class_weights_from_frequencies, assignment, quiet)
