"""No answers from the course library while an assignment is graded (threat model row 40).

- the registry (``course_utils/library_answers.py``) names real functions and every
  solution cell of every assignment;
- the grading edition (``autograder/library_edition.py``) of each assignment has every
  registered function replaced by a stub that raises ``LibraryAnswerError`` naming the
  rule, holds no compiled code and none of the removed bodies, and its ``selfcheck`` keeps
  the names the notebooks use;
- the trusted judge names the rule, never the student-controlled error text of a hidden check;
- the self-checks flag an alias and a wrapper of a library function, not an honest answer;
- without the edition the "library-answers" student (tests/validity/variants.py) earns the
  points: the sandboxed batch, where it must score 0 on every grade cell, is
  ``tests/validity/test_grading_validity.py::test_real_batch``.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import nbformat
import numpy as np
import pytest

from autograder.library_edition import SELFCHECK_OFF, EditionError, grading_edition, selfcheck_stub_package
from autograder.references import Fail, Results
from course_utils import library_answers
from course_utils.library_answers import LIBRARY_ANSWERS, LibraryAnswerError, registered_entries, resolve, split_entry
from tests import REPO_ROOT

SOURCE = REPO_ROOT / "course_utils"
ASSIGNMENTS = sorted(LIBRARY_ANSWERS)
RULE = "graded answers must be your own code (a part answered through the course library scores 0)"


def _solution_cells(assignment: str, cell_type: str = "code") -> list[str]:
    """grade_ids of the solution cells of ``cell_type`` ("code": answers a program can
    take from the library; "markdown": written answers, graded by hand)."""
    notebook = nbformat.read(REPO_ROOT / f"solutions/{assignment}/{assignment}.ipynb", as_version=4)
    return [c.metadata["nbgrader"]["grade_id"] for c in notebook.cells
            if c.metadata.get("nbgrader", {}).get("solution") and c.cell_type == cell_type]


@pytest.fixture(scope="module")
def editions(tmp_path_factory) -> dict[str, Path]:
    cache = tmp_path_factory.mktemp("editions")
    os.chmod(cache, 0o755)
    return {assignment: grading_edition(SOURCE, assignment, cache_dir=cache) for assignment in ASSIGNMENTS}


# ----------------------------------------------------------------------------- the registry
def test_registry_covers_every_solution_cell_of_every_assignment():
    assignments = sorted(p.name for p in (REPO_ROOT / "solutions").iterdir() if (p / f"{p.name}.ipynb").is_file())
    assert ASSIGNMENTS == assignments
    assert _solution_cells("losses_metrics", "markdown") == ["part7_answer"]   # left out of the registry
    for assignment in ASSIGNMENTS:
        # every code answer is registered, and nothing else: a written answer (markdown,
        # graded by hand) has no library function that computes it
        assert sorted(LIBRARY_ANSWERS[assignment]) == sorted(_solution_cells(assignment)), assignment
        assert all(LIBRARY_ANSWERS[assignment].values()), assignment


def test_every_registry_entry_resolves_to_a_function_of_the_full_library():
    pytest.importorskip("keras")
    for assignment in ASSIGNMENTS:
        for entry in registered_entries(assignment):
            module, qualname = split_entry(entry)
            target = resolve(entry)
            assert inspect.isfunction(target) or inspect.isclass(target), entry
            assert (target.__module__, target.__qualname__) == (module, qualname), entry


def test_registry_entries_and_assignments_are_checked():
    for bad in ("dice_coefficient", "numpy:sum", "course_utils.metrics:", "course_utils.metrics:a-b"):
        with pytest.raises(ValueError, match="course_utils.module:qualified.name"):
            split_entry(bad)
    with pytest.raises(KeyError, match="known: dataset_formats"):
        registered_entries("no_such_assignment")
    assert library_answers.rule_message("course_utils.metrics:dice_coefficient", "losses_metrics") == (
        f"course_utils.metrics.dice_coefficient is not available while losses_metrics is graded: {RULE}")


def test_course_utils_never_imports_autograder():
    for path in SOURCE.rglob("*.py"):
        assert not re.search(r"^\s*(from|import)\s+autograder", path.read_text(), re.M), path


# ----------------------------------------------------------------------------- the grading edition
_PROBE = textwrap.dedent('''
    import importlib, inspect, json, sys
    import course_utils
    assert course_utils.__file__.startswith(sys.argv[1]), course_utils.__file__
    out = {}
    for entry in json.loads(sys.argv[2]):
        module, qualname = entry.split(":")
        try:
            target = importlib.import_module(module)
            for part in qualname.split("."):
                target = getattr(target, part)
        except Exception as error:        # a module that calls a stub at import
            out[entry] = {"import_error": type(error).__name__, "message": str(error)}
            continue
        try:
            target()
            raised, message = None, ""
        except Exception as error:
            raised, message = type(error).__name__, str(error)
        out[entry] = {"raised": raised, "message": message, "source": inspect.getsource(target)}
    print(json.dumps(out))
''')


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_edition_replaces_every_registered_function_by_a_stub(assignment, editions):
    pytest.importorskip("keras")
    package = editions[assignment]
    entries = registered_entries(assignment)
    env = {**os.environ, "PYTHONPATH": str(package.parent), "TF_CPP_MIN_LOG_LEVEL": "3"}
    run = subprocess.run([sys.executable, "-c", _PROBE, str(package), json.dumps(entries)], cwd=package.parent,
                         env=env, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    found = json.loads(run.stdout.strip().splitlines()[-1])
    for entry in entries:
        result = found[entry]
        if "import_error" in result:
            # only dataset_formats: VOC's palette is made at import by the stubbed bit_palette
            assert assignment == "dataset_formats" and entry.startswith("course_utils.datasets."), (entry, result)
            assert result["import_error"] == "LibraryAnswerError" and RULE in result["message"], result
            continue
        assert result["raised"] == "LibraryAnswerError", (entry, result)
        assert result["message"] == library_answers.rule_message(entry, assignment), (entry, result)
        assert "raise LibraryAnswerError" in result["source"] and len(result["source"].splitlines()) <= 6, result


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_edition_holds_no_compiled_code_and_none_of_the_removed_bodies(assignment, editions):
    package = editions[assignment]
    assert not [p for p in package.rglob("*") if p.name == "__pycache__" or p.suffix in (".pyc", ".pyo")]
    assert (package / "weights" / "page_encoder.weights.h5").is_file()          # package data kept
    texts = {p: p.read_text() for p in package.rglob("*.py")}
    for entry in registered_entries(assignment):
        module, qualname = split_entry(entry)
        relative = Path(*module.split(".")[1:])
        original = (SOURCE / relative.with_suffix(".py")).read_text()
        node = _definition(original, qualname)
        body = ast.get_source_segment(original, node).split("\n", 1)[1]       # everything after the def line
        body_lines = [line.strip() for line in body.splitlines() if line.strip() and not line.strip().startswith('"""')]
        assert body_lines, entry
        for path, text in texts.items():
            assert textwrap.dedent(body) not in text and body not in text, (entry, path)
        holder = texts[package / relative.with_suffix(".py")]
        edition_node = _definition(holder, qualname)
        assert "LibraryAnswerError" in ast.get_source_segment(holder, edition_node), entry
    # nothing of the self-checks' machinery is left: no reference, no case, no mistake
    stubs = {path: text for path, text in texts.items() if path.parent == package / "selfcheck"}
    assert {path.name for path in stubs} == {path.name for path in (SOURCE / "selfcheck").glob("*.py")}
    for stub in stubs.values():
        assert len(stub) < 12_000 and "_Check(" not in stub and "np." not in stub and SELFCHECK_OFF in stub


def _definition(source: str, qualname: str):
    from autograder.source_rewrite import definitions
    return definitions(source)[qualname]


def test_edition_is_cached_per_assignment_and_content(tmp_path):
    source = tmp_path / "course_utils"
    source.mkdir()
    for name in ("__init__.py", "library_answers.py", "metrics.py", "shapes.py",
                 "losses.py", "models.py", "transposed_conv.py"):
        (source / name).write_bytes((SOURCE / name).read_bytes())
    for package in ("widgets", "selfcheck"):
        shutil.copytree(SOURCE / package, source / package, ignore=shutil.ignore_patterns("__pycache__"))
    (source / "__pycache__").mkdir()
    (source / "__pycache__" / "metrics.cpython-311.pyc").write_bytes(b"original code")
    cache = tmp_path / "cache"
    first = grading_edition(source, "fcn_basics", cache_dir=cache)
    assert grading_edition(source, "fcn_basics", cache_dir=cache) == first
    assert not (first / "__pycache__").exists()
    assert oct(first.stat().st_mode & 0o777) == "0o755"
    assert oct((first / "metrics.py").stat().st_mode & 0o777) == "0o644"
    (source / "metrics.py").write_text((source / "metrics.py").read_text() + "\n# changed\n")
    second = grading_edition(source, "fcn_basics", cache_dir=cache)
    assert second != first and "# changed" in (second / "metrics.py").read_text()


def test_edition_bad_input_gets_clear_errors(tmp_path):
    with pytest.raises(EditionError, match="not the course_utils package folder"):
        grading_edition(tmp_path, "fcn_basics", cache_dir=tmp_path / "cache")
    unknown = "no library answers registered for assignment 'nope'.*known: dataset_formats"
    with pytest.raises(EditionError, match=unknown):
        grading_edition(SOURCE, "nope", cache_dir=tmp_path / "cache")
    open_cache = tmp_path / "open"
    open_cache.mkdir()
    os.chmod(open_cache, 0o777)
    with pytest.raises(EditionError, match="writable by no one else"):
        grading_edition(SOURCE, "fcn_basics", cache_dir=open_cache)
    broken = tmp_path / "broken" / "course_utils"
    broken.mkdir(parents=True)
    shutil.copytree(SOURCE / "selfcheck", broken / "selfcheck", ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("__init__.py", "library_answers.py"):
        (broken / name).write_bytes((SOURCE / name).read_bytes())
    (broken / "metrics.py").write_text("def something_else():\n    pass\n")
    with pytest.raises(EditionError, match="course_utils.metrics does not define the registered dice_coefficient"):
        grading_edition(broken, "losses_metrics", cache_dir=tmp_path / "cache")


def test_selfcheck_stub_keeps_the_names_the_notebooks_use(tmp_path, capsys):
    submodules = {path.stem for path in (SOURCE / "selfcheck").glob("*.py")} - {"__init__"}
    used, used_in_submodules = set(), set()      # names; (submodule, name) as in `practice.check_x(`
    for notebook in [*REPO_ROOT.glob("solutions/*/*.ipynb"), *REPO_ROOT.glob("exercises/*/*.ipynb"),
                     *REPO_ROOT.glob("lectures/*.ipynb")]:
        text = notebook.read_text()
        used |= set(re.findall(r"selfcheck\.(\w+)", text))
        imported = re.findall(r"from course_utils\.selfcheck import ([\w, ]+)", text)
        used |= {n.strip() for names in imported for n in names.split(",")}
        for submodule in submodules & used:
            used_in_submodules |= {(submodule, n) for n in re.findall(rf"\b{submodule}\.(\w+)\(", text)}
    assert {"show_progress", "check_dice", "check_train_unet"} <= used
    assert ("practice", "check_traffic_light_practice") in used_in_submodules   # the lectures' practice cells
    entry = "course_utils.selfcheck.overlap:_dice_reference"
    removed = {"course_utils.selfcheck.overlap": {"_dice_reference": library_answers.rule_message(entry,
                                                                                                 "losses_metrics")}}
    name = "segcourse_selfcheck_stub_under_test"
    (tmp_path / name).mkdir()
    for file_name, text in selfcheck_stub_package(SOURCE / "selfcheck", removed).items():
        (tmp_path / name / file_name).write_text(text)
    sys.path.insert(0, str(tmp_path))
    try:
        module = importlib.import_module(name)     # the stub package, imported as `course_utils.selfcheck` is
        for name_used in sorted(used):
            if name_used in submodules:     # `from course_utils.selfcheck import practice`: the stub module
                assert getattr(module, name_used) is sys.modules[f"{name}.{name_used}"], name_used
            else:
                assert getattr(module, name_used)(lambda *a: None) is None, name_used
        for submodule, name_used in sorted(used_in_submodules):
            assert getattr(getattr(module, submodule), name_used)(lambda *a: None) is None, (submodule, name_used)
        printed = capsys.readouterr().out.splitlines()
        assert printed == [SELFCHECK_OFF] * (len(used - submodules) + len(used_in_submodules))
        assert module.EXERCISE_CHECKS["build_unet"] == "check_build_unet"
        assert module.COURSE_ORDER[0] == "fcn_basics" and module.overlap.check_dice(None) is None
        capsys.readouterr()
        with pytest.raises(AttributeError):
            module.__getattr__("_iou_reference")
        with pytest.raises(Exception,
                           match="_dice_reference is not available while losses_metrics is graded") as raised:
            module.overlap._dice_reference([1], [1])
        assert type(raised.value).__name__ == "LibraryAnswerError"
    finally:
        sys.path.remove(str(tmp_path))
        for loaded in [key for key in sys.modules if key.split(".")[0] == name]:
            del sys.modules[loaded]


# ----------------------------------------------------------------------------- the trusted judge
def test_judge_names_the_rule_and_never_echoes_the_hidden_error_text():
    """Any call of a probe that reached a stub decides the probe, however its judge reads
    the results (some judges read error entries themselves); the evalue is never shown."""
    from autograder.references import load_checks

    error = {"status": "error", "ename": "LibraryAnswerError", "evalue": "SECRET <b>student text</b>"}
    for hidden in (True, False):
        with pytest.raises(Fail) as failure:
            Results({"r": error}, {}, hidden).entry("r", "dice_coefficient on random masks")
        assert RULE in str(failure.value) and "SECRET" not in str(failure.value)
    for assignment in ASSIGNMENTS:
        for grade_id, make in load_checks(assignment).items():
            probe = make(np.random.default_rng(0))
            meta = {call.name: {"status": "ok", "json": None} for call in probe.calls}
            meta[probe.calls[-1].name] = error
            with pytest.raises(Fail) as failure:
                probe.judge(Results(meta, {}, probe.hidden))
            assert RULE in str(failure.value) and "SECRET" not in str(failure.value), (assignment, grade_id)
    other = {"r": {"status": "error", "ename": "ValueError", "evalue": "SECRET"}}
    with pytest.raises(Fail) as failure:
        Results(other, {}, True).entry("r", "x")
    assert "course library" not in str(failure.value)


# ----------------------------------------------------------------------------- the self-checks
@pytest.fixture
def progress_file(tmp_path, monkeypatch):
    monkeypatch.setenv("SEGCOURSE_PROGRESS_FILE", str(tmp_path / "progress.json"))
    return tmp_path / "progress.json"


def test_selfcheck_flags_an_alias_and_a_wrapper_of_a_library_function(progress_file, capsys):
    import numpy as np

    from course_utils import metrics, selfcheck

    def wrapper(y_true, y_pred):
        return float(metrics.dice_coefficient(y_true, y_pred))

    def lazy_private_reference(y_true, y_pred):
        from course_utils.selfcheck.overlap import _dice_reference
        return _dice_reference(y_true, y_pred)

    for function, name in [(metrics.dice_coefficient, "course_utils.metrics.dice_coefficient"),
                           (wrapper, "course_utils.metrics.dice_coefficient"),
                           (lazy_private_reference, "course_utils.selfcheck.overlap._dice_reference")]:
        result = selfcheck.check_dice(function, assignment="losses_metrics")
        assert not result.passed and result.mistake == "library_answer", result
        assert f"{name} is not available while losses_metrics is graded" in result.message and RULE in result.message
    assert json.loads(progress_file.read_text())["exercises"]["losses_metrics/dice_coefficient"]["status"] == "not yet"

    def honest(y_true, y_pred):
        a, b = np.asarray(y_true, dtype=bool), np.asarray(y_pred, dtype=bool)
        total = a.sum() + b.sum()
        return 1.0 if total == 0 else float(2 * (a & b).sum() / total)

    assert selfcheck.check_dice(honest, assignment="losses_metrics").passed
    assert selfcheck.check_dice(honest).passed          # the assignment found from the exercise
    # another assignment's registry: the unet self-check does not flag metrics.dice_coefficient
    assert library_answers.LibraryAnswerWatch("unet").entry_of(metrics.dice_coefficient) is None
    capsys.readouterr()


def test_selfcheck_flags_a_model_builder_from_the_library(progress_file):
    pytest.importorskip("keras")
    from course_utils import models, selfcheck

    def build(num_classes, num_channels=1):
        return models.build_fcn_upscaling(num_classes, num_channels)

    result = selfcheck.check_fcn_upscaling(build, assignment="fcn_basics")
    assert not result.passed and "course_utils.models.build_fcn_upscaling is not available" in result.message
    from course_utils.losses import SoftDiceLoss
    instance = selfcheck.check_soft_dice(SoftDiceLoss(), assignment="losses_metrics")   # a callable instance
    assert not instance.passed and "course_utils.losses.SoftDiceLoss is not available" in instance.message


# ----------------------------------------------------------------------------- the threat is real
# Without the grading edition the library-answers student earns the points (in-process,
# the real library); only these grade cells differ from the notebook's network anyway.
DIFFERENT_ANYWAY = {"unet": {"test_double_conv_visible", "test_double_conv_hidden", "test_unet_architecture_hidden"}}


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_library_answers_earn_points_with_the_full_library(assignment):
    pytest.importorskip("keras")
    from tests.validity.test_grading_validity import judge_in_process
    from tests.validity.variants import library_answer_variants

    verdicts = judge_in_process(assignment, library_answer_variants(assignment))
    failed = {grade_id for grade_id, (passed, _) in verdicts.items() if not passed}
    assert verdicts and failed == DIFFERENT_ANYWAY.get(assignment, set()), {g: verdicts[g][1] for g in failed}


def test_library_answer_error_is_a_runtime_error():
    assert issubclass(LibraryAnswerError, RuntimeError)
