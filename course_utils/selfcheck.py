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

import datetime
import inspect
import json
import os
import re
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from course_utils import metrics, shapes

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


def _run_check(check, function, assignment=None, quiet=False):
    """Run ``check`` on ``function``; diagnose, print, record and return a CheckResult."""
    name = check.name
    try:
        outputs = [_run(function, case) for case in check.cases]
    except NotImplementedError:
        return _not_implemented(name, assignment, quiet)
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


def check_soft_dice(soft_dice_loss, assignment=None, quiet=False):
    """Check ``soft_dice_loss(y_true, y_pred, smooth=1.0)`` (one value per image).

    Diagnoses: a scalar instead of per-image values, a mean over the batch instead of
    the classes, missing smoothing (nan), smooth only in the denominator or ignored, one
    Dice over all classes, no squares in the denominator, a softmax applied twice, means
    instead of sums, the coefficient instead of the loss.
    """
    return _run_check(_SOFT_DICE_CHECK, soft_dice_loss, assignment, quiet)


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
    true = labels if sparse_labels else one_hot
    return [
        _Case("random probabilities, weights [1, 1, 1]", (true, probabilities, [1.0, 1.0, 1.0])),
        _Case("random probabilities, weights [0.2, 1, 5]", (true, probabilities, [0.2, 1.0, 5.0])),
        _Case("confident predictions with exact zeros for the other classes, weights [1, 2, 3]",
              (true, confident, [1.0, 2.0, 3.0])),
    ]


def check_weighted_crossentropy(weighted_crossentropy, sparse_labels=False, assignment=None,
                                quiet=False):
    """Check ``weighted_crossentropy(y_true, y_pred, class_weights)``.

    Convention (as ``course_utils.losses.pixelwise_crossentropy``): for every pixel
    ``class_weights[true class] * -log(p[true class])``, then the plain mean over the
    pixels of each image; result shape ``(batch,)``. ``y_true`` is one-hot
    ``(batch, h, w, classes)``, or integer labels ``(batch, h, w)`` with
    ``sparse_labels=True``; ``y_pred`` holds probabilities.

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
    return _run_check(check, weighted_crossentropy, assignment, quiet)


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
    name = "build_fcn_upscaling"
    try:
        problem = _fcn_model_check(build_fcn_upscaling)
    except NotImplementedError:
        return _not_implemented(name, assignment, quiet)
    if problem is None:
        return _report_pass(name, 1, assignment, quiet)
    checked, key, got = problem
    title, hints = _FCN_MISTAKES[key]
    return _report_failure(name, "the model differs from the lecture's FCN.",
                           f"  Checked: {checked}; your model gave {got}.",
                           _Mistake(key, title, hints, None), assignment, quiet)


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

