"""Recording the self-checks' expected values for the kit, and verifying the kit's edition.

The builder loads the recording edition of ``course_utils/selfcheck/``
(:func:`.selfcheck_edition.recording_edition`: each reference behind a wrapper that records
its outputs) in this process, under a private package name, and drives every self-check
so that each reference sees every input it can be given: each case, and each known-wrong
variant on each case. It also notes every check's verdict on every known mistake. Then it
loads the kit's edition the same way, with the recorded table, and requires every lookup
to find its value and every verdict to be the same.
"""

from __future__ import annotations

import builtins
import contextlib
import importlib
import importlib.abc
import importlib.util
import itertools
import sys
import types
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from autograder.student_kit import store
from autograder.student_kit.errors import KitError
from autograder.student_kit.selfcheck_edition import (
    _MODEL_CHECKS_WITHOUT_STORED_REFERENCES,
    SELFCHECK_FOLDER,
    STORED_FACTORIES,
    STORED_REFERENCES,
    _classify,
    inline_reference_names,
    read_selfcheck_sources,
    recording_edition,
)

STORE_SOURCE = Path(store.__file__).read_text(encoding="utf-8")  # shipped as course_utils/_selfcheck_store.py
_PACKAGE_NUMBERS = itertools.count()


def store_module(table: dict | None = None) -> types.ModuleType:
    """A fresh copy of :mod:`autograder.student_kit.store` (its own table, not registered in
    sys.modules), as the kit will run it; ``table``: its values."""
    module = types.ModuleType("segcourse_selfcheck_store")
    module.__file__ = "_selfcheck_store.py"        # the table is given, never read from there
    exec(compile(STORE_SOURCE, "<selfcheck store>", "exec"), module.__dict__)
    if table is not None:
        module._TABLE = table
    return module


class _Recorder:
    """Collects the outputs of the full library's references, keyed as the kit looks them up."""

    def __init__(self):
        self.store = store_module()
        self.values: dict[str, dict] = {}
        self.calls_by_name: dict[str, int] = {}
        # Kept here and raised after the recording: the checks' _run would swallow them.
        self.problems: list[str] = []

    def _add(self, name, args, kwargs, entry):
        try:
            exact, structure, numbers = self.store.argument_key(name, args, kwargs)
        except TypeError as error:
            self.problems.append(f"{name}: {error}")
            return
        entry = {"structure": structure, "numbers": numbers, **entry}
        previous = self.values.setdefault(exact, entry)
        if previous != entry:
            self.problems.append(f"{name} gave two different results for the same input: it cannot be stored")
        self.calls_by_name[name] = self.calls_by_name.get(name, 0) + 1

    def record(self, name, original, args, kwargs):
        try:
            value = original(*args, **kwargs)
        except Exception as error:
            if getattr(builtins, type(error).__name__, None) is type(error):
                self._add(name, args, kwargs, {"raises": [type(error).__name__, str(error)]})
            else:
                self.problems.append(f"{name} raised {type(error).__name__}, which the kit cannot raise again")
            raise
        try:
            encoded = self.store.encode(value)
        except TypeError as error:
            self.problems.append(f"{name}: {error}")
        else:
            self._add(name, args, kwargs, {"value": encoded})
        return value

    def recorded_function(self, name, original):
        def recording(*args, **kwargs):
            return self.record(name, original, args, kwargs)

        return recording


class _SourcePackage(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Imports a package from source texts: ``name`` from ``sources["__init__"]``,
    ``name.<module>`` from ``sources[module]``; ``injected``: globals every module starts
    with. Code objects name the real files, ``folder / <module>.py``."""

    def __init__(self, name: str, sources: dict[str, str], folder: Path, injected: dict):
        self.name, self.sources, self.folder, self.injected = name, sources, folder, injected

    def find_spec(self, fullname, path=None, target=None):
        if fullname == self.name:
            return importlib.util.spec_from_loader(fullname, self, origin=str(self.folder / "__init__.py"),
                                                   is_package=True)
        package, _, module = fullname.rpartition(".")
        if package == self.name and module in self.sources:
            return importlib.util.spec_from_loader(fullname, self, origin=str(self.folder / f"{module}.py"))
        return None

    def create_module(self, spec):
        return None

    def exec_module(self, module):
        stem = "__init__" if module.__name__ == self.name else module.__name__.rpartition(".")[2]
        module.__file__ = module.__spec__.origin
        module.__dict__.update(self.injected)
        exec(compile(self.sources[stem], module.__file__, "exec"), module.__dict__)


@dataclass
class LoadedSelfchecks:
    """A loaded edition of the self-checks: the package and its modules."""

    package: types.ModuleType
    modules: list[types.ModuleType]

    def find(self, name: str):
        """The object ``name`` in the first module that has it (a module imports what it uses)."""
        for module in self.modules:
            if hasattr(module, name):
                return getattr(module, name)
        raise KitError(f"the self-checks no longer define {name}: update autograder/student_kit/recording.py")

    @contextlib.contextmanager
    def patched(self, **replacements):
        """``name=object`` set in every module that has ``name``, for the time of the block."""
        saved = [(module, name, getattr(module, name)) for module in self.modules for name in replacements
                 if hasattr(module, name)]
        for module, name, _ in saved:
            setattr(module, name, replacements[name])
        try:
            yield
        finally:
            for module, name, original in saved:
                setattr(module, name, original)


@contextlib.contextmanager
def _loaded(sources: dict[str, str], course_root: Path, injected: dict, extra_modules: dict | None = None):
    """The package made of ``sources``, imported under a private name (registered while in
    use, as dataclasses need); ``extra_modules``: sys.modules entries for that time."""
    name = f"_segcourse_selfcheck_edition_{next(_PACKAGE_NUMBERS)}"
    finder = _SourcePackage(name, sources, Path(course_root) / SELFCHECK_FOLDER, injected)
    saved = {key: sys.modules.get(key) for key in (extra_modules or {})}
    sys.modules.update(extra_modules or {})
    sys.meta_path.insert(0, finder)
    try:
        package = importlib.import_module(name)
        modules = [importlib.import_module(f"{name}.{stem}") for stem in sources if stem != "__init__"]
        yield LoadedSelfchecks(package, [package, *modules])
    finally:
        sys.meta_path.remove(finder)
        for key in [key for key in sys.modules if key == name or key.startswith(f"{name}.")]:
            del sys.modules[key]
        for key, previous in saved.items():
            if previous is None:
                sys.modules.pop(key, None)
            else:
                sys.modules[key] = previous


# ---------------------------------------------------------------------------------------------
# Driving every self-check so that each reference sees every input it can be given.


@dataclass(frozen=True)
class _StubResult:
    """Stands in for a CheckResult while the recording drives the checks."""

    name: str
    passed: bool = False
    message: str = ""


def _variants_of(mistake) -> list:
    """The known-wrong functions a mistake's detector compares with (``_matches``)."""
    detect = getattr(mistake, "detect", None)
    code = getattr(detect, "__code__", None)
    if code is None or not detect.__closure__:
        return []
    cells = dict(zip(code.co_freevars, detect.__closure__))
    variant = cells.get("variant")
    return [variant.cell_contents] if variant is not None and callable(variant.cell_contents) else []


def _exercise_check(selfchecks: LoadedSelfchecks, check) -> None:
    """Call the reference and every known-wrong variant on every case, and every detector
    on the reference's and the variants' outputs (detectors may call the reference)."""
    run = selfchecks.find("_run")
    expected = [run(check.reference, case) for case in check.cases]
    output_sets = [expected]
    for mistake in check.mistakes:
        for variant in _variants_of(mistake):
            output_sets.append([run(variant, case) for case in check.cases])
    for mistake in check.mistakes:
        if mistake.detect is None:
            continue
        for outputs in output_sets:
            with _numpy_quiet(), contextlib.suppress(Exception):
                mistake.detect(check.cases, outputs, expected)


def _numpy_quiet():
    return np.errstate(all="ignore")       # a wrong version may divide by zero: that is data


def _drive_all_checks(selfchecks: LoadedSelfchecks, correct: dict) -> list:
    """Run every public check of the package so that each reference is called on all its
    inputs; ``correct``: name -> the original reference (a correct student function).
    Returns the checks (``_Check`` objects) that went through ``_run_check``."""
    captured = []

    def capture(check, function, assignment=None, quiet=False):
        captured.append(check)
        return _StubResult(check.name)

    def no_model(name, *args, **kwargs):
        return _StubResult(name)

    def accepts_output_padding(n, k, s=1, padding="valid", output_padding=None):
        return None

    package = selfchecks.package
    with selfchecks.patched(_run_check=capture, _run_model_check=no_model,
                            _save_progress=lambda *args, **kwargs: None):
        for name in package.__all__:
            if not name.startswith("check_") or name in _MODEL_CHECKS_WITHOUT_STORED_REFERENCES:
                continue
            function = getattr(package, name)
            calls = [((lambda *args, **kwargs: None,), {})]
            if name == "check_conv_transpose_output_size":
                calls.append(((accepts_output_padding,), {}))
            if name == "check_soft_dice":
                calls.append(((lambda *args, **kwargs: None,), {"require_tensor": True}))
            if name == "check_weighted_crossentropy":
                calls = [((lambda *args, **kwargs: None,), {"sparse_labels": sparse, "require_tensor": tensor})
                         for sparse in (False, True) for tensor in (False, True)]
            for args, kwargs in calls:
                function(*args, quiet=True, **kwargs)
        # The sliding-window check compares with _sliding_reference outside _run_check:
        # a correct function takes it through every case and comparison.
        sliding = correct["_sliding_reference"]
        selfchecks.find("_sliding_window_problem")(
            lambda classify, page, patch_size, stride, batch_size=256: sliding(page, patch_size, stride))
    for check in captured:
        _exercise_check(selfchecks, check)
    return captured


def _diagnoses(selfchecks: LoadedSelfchecks, checks) -> list[tuple]:
    """With the reference and each known-wrong variant as the student's function, for each
    check: (check, student, failing cases, diagnosed mistake), found as
    ``_run_check_unguarded`` finds them (without its progress file)."""
    rows = []
    run = selfchecks.find("_run")
    for check in checks:
        students = [check.reference, *(v for m in check.mistakes for v in _variants_of(m))]
        with _numpy_quiet():
            expected = check.expected()
            for index, student in enumerate(students):
                outputs = [run(student, case) for case in check.cases]
                failing = tuple(i for i, (o, e) in enumerate(zip(outputs, expected)) if not check.case_passes(o, e))
                mistake = next((m.key for m in check.mistakes if m.detect is not None
                                and m.detect(check.cases, outputs, expected)), None) if failing else None
                rows.append((check.name, index, failing, mistake))
    return rows


@dataclass
class Recording:
    """What the full library's references gave: the table the kit stores, the calls per
    reference, and the self-checks' verdicts on every known mistake (the kit must agree)."""

    values: dict
    calls_by_name: dict
    diagnoses: list


def record_expected_values(course_root: Path) -> Recording:
    """Run the full library's references on every self-check input."""
    sources = read_selfcheck_sources(course_root)
    _classify(sources)
    recorder = _Recorder()
    injected = {"_kit_record": recorder.record, "_kit_recorded_function": recorder.recorded_function,
                "_kit_factory_name": recorder.store.factory_name}
    with _loaded(recording_edition(sources), course_root, injected) as selfchecks:
        correct = {name: selfchecks.find(f"_kit_original_{name}") for name in STORED_REFERENCES}
        diagnoses = _diagnoses(selfchecks, _drive_all_checks(selfchecks, correct))
    if recorder.problems:
        raise KitError("; ".join(sorted(set(recorder.problems))))
    never = sorted(n for n in STORED_REFERENCES if n not in recorder.calls_by_name)
    never += sorted(n for n in STORED_FACTORIES if not any(k.startswith(f"{n}(") for k in recorder.calls_by_name))
    inline = [f"lambda:{name}" for name in inline_reference_names(sources)]
    never += sorted(n for n in inline if n not in recorder.calls_by_name)
    if never:
        raise KitError(f"no self-check called {', '.join(never)} while its values were recorded: "
                       "teach autograder/student_kit/recording.py (_drive_all_checks) how to run its check")
    return Recording(recorder.values, recorder.calls_by_name, diagnoses)


def verify_kit_edition(course_root: Path, kit_sources: dict[str, str], recording: Recording) -> None:
    """Run every check of the kit's edition the same way: each lookup must find its value,
    and every known mistake must get the verdict the full library gives it."""
    kit_store = store_module(recording.values)
    missing = []
    original_stored_value = kit_store.stored_value

    def counting(name, args, kwargs):
        try:
            return original_stored_value(name, args, kwargs)
        except kit_store.StoredValueMissing:
            missing.append(name)
            raise

    kit_store.stored_value = counting
    with _loaded(kit_sources, course_root, {}, {"course_utils._selfcheck_store": kit_store}) as selfchecks:
        correct = {"_sliding_reference": selfchecks.find("_sliding_reference")}
        try:
            diagnoses = _diagnoses(selfchecks, _drive_all_checks(selfchecks, correct))
        except kit_store.StoredValueMissing:
            diagnoses = None
    if missing:
        raise KitError(f"the kit's self-checks miss stored values of {', '.join(sorted(set(missing)))}")
    differing = sorted({row[0] for row, full in zip(diagnoses, recording.diagnoses) if row != full})
    if len(diagnoses) != len(recording.diagnoses) or differing:
        raise KitError(f"the kit's self-checks diagnose differently from the full library's: {', '.join(differing)}")
