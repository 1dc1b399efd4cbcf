"""The tests of every graded part are themselves tested.

For every assignment with trusted references (``autograder/references/<assignment>.py``)
and every graded function, ``tests/validity/<assignment>.py`` keeps correct answers written
differently (each must earn full marks) and common wrong answers (each must lose the
grade cells it gets wrong, with a message that points at the mistake, and nothing else);
``tests/validity/variants.py`` collects them.

- ``test_references_judge_variants`` (fast): every variant, in-process: the answers are
  executed in one namespace, every grade cell's probe runs through the harness's own
  ``run_probe`` and the trusted judge decides.
- ``test_notebook_tests_agree`` (slow, long: ``make test-long``): the nbgrader source
  notebook's own visible and hidden tests, the whole notebook executed with each variant,
  fail exactly the same grade cells (up to the documented ``notebook_also`` dependencies).
  Its fast counterpart, run by ``make test``: test_notebook_agreement.py (the notebook once,
  then each variant's part); the visible cases written as tables in both places are
  compared by test_case_tables.py.
- ``test_real_batch`` (slow): one sandboxed ``grade_batch`` per assignment with the
  students of ``BATCH_STUDENTS`` (variants of different cells combined): per-student,
  per-grade-cell points in the gradebook, and the failure messages in the verdicts.

The references use the harness protocol's ``kind="tuple"`` and ``kind="json"`` results
and its ``{"tuple": ...}`` and ``{"fake": ...}`` arguments (``autograder/harness.py``).
"""

from __future__ import annotations

import contextlib
import io
import json
import shutil
import tempfile
from pathlib import Path

import nbformat
import numpy as np
import pytest

from autograder import demo_class
from autograder.references import Fail, Results, load_checks
from tests import REPO_ROOT
from tests.validity.variants import (
    BATCH_STUDENTS,
    LIBRARY_ANSWERS_STUDENT,
    LIBRARY_RULE_TEXT,
    VARIANTS,
    Variant,
    library_answer_variants,
)

ASSIGNMENTS = list(VARIANTS)
HARNESS = REPO_ROOT / "autograder/harness.py"
SKIPPED_CELLS = {"timing", "compare_losses"}          # not graded, slow
# Grade cells whose probes read the model that the visible test cell trains (``trained_unet``,
# TRAIN_SECONDS of training): judged only by the slow ``test_training_checks``, which runs
# the training cell in-process; the solution cell they grade.
TRAINING_CELLS = {"test_train_unet_visible", "test_train_unet_hidden",
                  "test_fine_tune_visible", "test_fine_tune_hidden"}
TRAINED_BY = {"test_train_unet_visible", "test_fine_tune_visible"}
TRAINING_SOLUTION_CELLS = {"train_unet", "fine_tune"}


def _harness_module():
    import importlib.util
    spec = importlib.util.spec_from_file_location("segcourse_harness_under_test", HARNESS)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _is_self_check(cell) -> bool:
    """A student self-check cell (course_utils.selfcheck; not graded, slow): not run here."""
    return str(cell.get("id", "")).startswith("selfcheck")


def _meta(cell) -> dict:
    return cell.metadata.get("nbgrader", {})


def _points(notebook) -> dict[str, float]:
    """Points of the autograded cells (a written answer, a markdown grade cell, waits for the instructor)."""
    return {_meta(c)["grade_id"]: float(_meta(c)["points"]) for c in notebook.cells
            if _meta(c).get("grade") and c.cell_type == "code"}


def answers_for(assignment: str, variants: list[Variant]) -> dict[str, str]:
    answers = demo_class.solution_answers(REPO_ROOT / f"solutions/{assignment}/{assignment}.ipynb")
    for variant in variants:
        answers[variant.cell] = variant.answer(answers[variant.cell])
    return answers


def expected_failures(variants: list[Variant], notebook: bool = False) -> dict[str, str]:
    """grade_id -> text its failure message must contain ('' for dependencies)."""
    out: dict[str, str] = {}
    hits: dict[str, int] = {}
    for variant in variants:
        for cell in variant.also_fails | (variant.notebook_also if notebook else set()) | set(variant.fails):
            hits[cell] = hits.get(cell, 0) + 1
            out[cell] = variant.fails.get(cell, "")
    # a cell that several combined variants break: the first mistake found is reported
    return {cell: (text if hits[cell] == 1 else "") for cell, text in out.items()}


def _variant(assignment: str, name: str) -> Variant:
    return next(v for v in [*VARIANTS[assignment], *library_answer_variants(assignment)] if v.name == name)


# ----------------------------------------------------------------------------- in-process judge
def judge_in_process(assignment: str, variants: list[Variant], seed: int = 7,
                     training: bool = False) -> dict[str, tuple[bool, str]]:
    """Every grade cell's verdict for the release notebook with these answers, probes run
    in this process by the harness's ``run_probe``. ``training``: also run the training
    test cells (``TRAINED_BY``) and judge the ``TRAINING_CELLS``; else they are left out."""
    harness = _harness_module()
    release = REPO_ROOT / f"exercises/{assignment}/{assignment}.ipynb"
    notebook = demo_class.build_submission(release, answers_for(assignment, variants))
    namespace: dict = {"__name__": "__main__"}
    checks = load_checks(assignment)
    verdicts = {}
    with contextlib.redirect_stdout(io.StringIO()), tempfile.TemporaryDirectory() as tmp:
        for index, cell in enumerate(notebook.cells):
            meta = _meta(cell)
            if cell.cell_type != "code" or meta.get("grade_id") in SKIPPED_CELLS or _is_self_check(cell):
                continue
            if not meta.get("grade"):
                try:
                    exec(compile(cell.source, f"<{meta.get('grade_id')}>", "exec"), namespace)
                except Exception:   # a broken answer: its probes report it
                    pass
                continue
            grade_id = meta["grade_id"]
            if grade_id in TRAINING_CELLS and not training:
                continue
            if grade_id in TRAINED_BY:      # defines the trained model its probes read
                try:
                    exec(compile(cell.source, f"<{grade_id}>", "exec"), namespace)
                except Exception:   # a failing assertion: the probes judge the model
                    pass
            probe = checks[grade_id](np.random.default_rng([seed, index]))
            folder = Path(tmp) / grade_id
            folder.mkdir()
            spec = {"grade_id": grade_id, "calls": [c.to_json() for c in probe.calls]}
            (folder / "spec.json").write_text(json.dumps(spec))
            np.savez(folder / "inputs.npz", **probe.arrays)
            try:
                harness.run_probe(str(folder), namespace)
                meta_out = json.loads((folder / "results.json").read_text())
                with np.load(folder / "results.npz", allow_pickle=False) as data:
                    arrays = {k: np.array(data[k]) for k in data.files}
                verdicts[grade_id] = (True, str(probe.judge(Results(meta_out, arrays, probe.hidden))))
            except Fail as failure:
                verdicts[grade_id] = (False, str(failure))
            except Exception as error:
                verdicts[grade_id] = (False, f"probe failed: {type(error).__name__}: {error}")
    return verdicts


def check_verdicts(verdicts: dict, want_fail: dict[str, str], all_cells, label: str) -> list[str]:
    problems = []
    for grade_id in all_cells:
        passed, message = verdicts.get(grade_id, (False, "no verdict"))
        if grade_id in want_fail:
            if passed:
                problems.append(f"{label}: {grade_id} passed, should fail")
            elif not any(text in message for text in want_fail[grade_id].split("|")):
                problems.append(f"{label}: {grade_id} message {message!r} lacks {want_fail[grade_id]!r}")
        elif not passed:
            problems.append(f"{label}: {grade_id} failed ({message[:200]}), should pass")
    return problems


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_references_judge_variants(assignment):
    pytest.importorskip("keras")
    cells = [cell for cell in load_checks(assignment) if cell not in TRAINING_CELLS]
    problems = check_verdicts(judge_in_process(assignment, []), {}, cells, "solution")
    assert not problems, problems          # the solutions first: full marks
    for variant in VARIANTS[assignment]:
        if variant.cell in TRAINING_SOLUTION_CELLS:     # test_training_checks
            continue
        problems += check_verdicts(judge_in_process(assignment, [variant]), expected_failures([variant]), cells,
                                   variant.name)
    assert not problems, "\n".join(problems)
    # every graded function has correct and wrong variants
    solution_cells = {v.cell for v in VARIANTS[assignment]}
    correct = {v.cell for v in VARIANTS[assignment] if not v.fails}
    wrong = {v.cell for v in VARIANTS[assignment] if v.fails}
    assert solution_cells == correct == wrong


@pytest.mark.slow
@pytest.mark.long      # the real batch (test_real_batch) grades the trained solutions already
@pytest.mark.parametrize("assignment", ["unet", "transfer_learning"])
def test_training_checks(monkeypatch, assignment):
    """The training checks (U-Net; transfer learning's fine-tuning): the solution and a
    correct variant pass, the wrong ones fail (e.g. an untrained model, a softmax applied
    twice, the whole encoder unfrozen); the model trained once per variant, with the
    autograder's shortened TRAIN_SECONDS."""
    pytest.importorskip("keras")
    monkeypatch.setenv("COURSE_FAST", "1")
    problems = []
    for variant in [None] + [v for v in VARIANTS[assignment] if v.cell in TRAINING_SOLUTION_CELLS]:
        chosen = [variant] if variant else []
        verdicts = judge_in_process(assignment, chosen, training=True)
        cells = sorted(TRAINING_CELLS & set(load_checks(assignment)))
        problems += check_verdicts(verdicts, expected_failures(chosen), cells,
                                   variant.name if variant else "solution")
    assert not problems, "\n".join(problems)


# Dice returning a numpy.float64 (2.0 * an int64 sum / an int64 sum), not a Python float.
NUMPY_FLOAT_DICE = Variant("dice-returns-numpy-float64", "dice", code='''
def dice_coefficient(y_true, y_pred):
    t, p = np.asarray(y_true).astype(bool), np.asarray(y_pred).astype(bool)
    total = t.sum() + p.sum()
    return 1.0 if total == 0 else 2.0 * np.logical_and(t, p).sum() / total
''')


def test_dice_returning_numpy_float_earns_full_marks():
    """numpy.float64 is a float (the notebook tests isinstance(got, float)): full marks
    (losses_metrics grades Dice)."""
    pytest.importorskip("keras")
    verdicts = judge_in_process("losses_metrics", [NUMPY_FLOAT_DICE])
    assert verdicts["test_dice_visible"][0] and verdicts["test_dice_hidden"][0], verdicts


def test_the_checks_can_fail():
    """A judge that is handed nothing passes nothing, and a wrong value is caught."""
    for assignment in ASSIGNMENTS:
        for grade_id, make in load_checks(assignment).items():
            probe = make(np.random.default_rng(0))
            with pytest.raises(Fail):
                probe.judge(Results({}, {}, probe.hidden))
            if probe.hidden:   # hidden messages never echo what came back from an error
                error = {c.name: {"status": "error", "ename": "ValueError", "evalue": "SECRET"} for c in probe.calls}
                with pytest.raises(Fail) as failure:
                    probe.judge(Results(error, {}, True))
                assert "SECRET" not in str(failure.value), grade_id


def test_validity_check_flags_a_lenient_reference():
    """check_verdicts itself: a wrong variant that passes, or a message without the hint, is reported."""
    cells = ["a", "b"]
    both_pass = {"a": (True, "ok"), "b": (True, "ok")}
    assert check_verdicts(both_pass, {"a": "hint"}, cells, "x") == ["x: a passed, should fail"]
    other_message = {"a": (False, "other"), "b": (True, "ok")}
    assert check_verdicts(other_message, {"a": "hint"}, cells, "x")[0].startswith("x: a message")
    assert check_verdicts({"a": (False, "no"), "b": (True, "ok")}, {}, cells, "x")[0].startswith("x: a failed")


# ----------------------------------------------------------------------------- NumPy references vs Keras
def test_numpy_references_match_keras():
    keras = pytest.importorskip("keras")
    from keras import ops

    from autograder.references import dimensions, skip_fcns
    from autograder.references import numpy_reference as ref

    rng = np.random.default_rng(3)
    configs = [(1, 3, 4, 2, 3, (3, 3), 2, "same"), (1, 4, 4, 1, 2, (4, 4), 2, "same"),
               (2, 2, 3, 2, 2, (2, 2), 3, "valid"), (1, 5, 4, 2, 2, (2, 3), (2, 1), "same"),
               (1, 2, 2, 4, 2, (4, 4), 3, "same"), (1, 3, 3, 1, 1, (1, 1), 3, "same")]
    for (b, h, w, cin, cout, ks, st, pad) in configs:
        x = rng.normal(size=(b, h, w, cin)).astype("float32")
        layer = keras.layers.Conv2DTranspose(cout, ks, strides=st, padding=pad, use_bias=False)
        want = ops.convert_to_numpy(layer(x))
        kernel = ops.convert_to_numpy(layer.kernel).astype(np.float64)
        got = ref.conv2d_transpose(x.astype(np.float64), kernel, st, pad)
        assert got.shape == want.shape and np.allclose(got, want, atol=1e-4), (ks, st, pad)
    for _ in range(40):
        n, k, s = int(rng.integers(1, 40)), int(rng.integers(1, 6)), int(rng.integers(1, 4))
        p = str(rng.choice(["valid", "same"]))
        op = None if rng.random() < 0.5 else int(rng.integers(0, s))
        layer = keras.layers.Conv2DTranspose(1, k, strides=s, padding=p, output_padding=op)
        assert ref.conv_transpose_output_size(n, k, s, p, op) == layer.compute_output_shape((1, n, n, 1))[1]
        if p == "same" or k <= n:
            layer = keras.layers.Conv2D(1, k, strides=s, padding=p)
            assert ref.conv_output_size(n, k, s, p) == layer.compute_output_shape((1, n, n, 1))[1]
            layer = keras.layers.MaxPooling2D(k, strides=s, padding=p)
            assert ref.pool_output_size(n, k, s, p) == layer.compute_output_shape((1, n, n, 1))[1]
    # the skip FCNs and the FCN, with the same weights
    for transposed, function in ((False, "build_fcn_skip_upscaling"), (True, "build_fcn_transposed_skip")):
        namespace = {}
        exec("import numpy as np\nimport keras\nfrom keras import ops\nlayers = keras.layers\n"
             + answers_for("skip_fcns", [])["skip_upscaling" if not transposed else "transposed_skip"], namespace)
        model = namespace[function](3, 2)
        weights = ref.random_weights(rng, skip_fcns.skip_weight_shapes(3, 2, transposed))
        model.set_weights(weights)
        page = rng.random((1, 16, 24, 2)).astype("float32")
        assert model.count_params() == skip_fcns.skip_params(3, 2, transposed)
        want = skip_fcns.skip_forward(page, weights, transposed)
        assert np.allclose(ops.convert_to_numpy(model(page)), want, atol=1e-4)
        table = dimensions.skip_table(16, 24, 3, 2, "transposed" if transposed else "upscaling")
        assert sum(row[2] for row in table) == model.count_params()
    assert sum(r[2] for r in dimensions.skip_table(64, 64, 4)) == 194324
    assert sum(r[2] for r in dimensions.skip_table(64, 64, 4, decoder="transposed")) == 481404
    assert ref.fcn_params(4, 1) == 80 * 4 + 4 + 400 + 25640 + 51280


# ----------------------------------------------------------------------------- the notebooks' own tests
def notebook_verdicts(assignment: str, variants: list[Variant]) -> dict[str, tuple[bool, str]]:
    """Execute the nbgrader SOURCE notebook (visible and hidden tests) with these answers."""
    source = nbformat.read(REPO_ROOT / f"solutions/{assignment}/{assignment}.ipynb", as_version=4)
    answers = answers_for(assignment, variants)
    namespace: dict = {"__name__": "__main__"}
    verdicts = {}
    with contextlib.redirect_stdout(io.StringIO()):
        for cell in source.cells:
            meta = _meta(cell)
            left_out = meta.get("grade_id") in SKIPPED_CELLS | TRAINING_CELLS or _is_self_check(cell)
            if cell.cell_type != "code" or left_out:
                continue
            code = answers.get(meta.get("grade_id"), cell.source) if meta.get("solution") else cell.source
            try:
                exec(compile(code, f"<{meta.get('grade_id')}>", "exec"), namespace)
                ok, message = True, "passed"
            except Exception as error:
                ok, message = False, f"{type(error).__name__}: {error}"
            if meta.get("grade"):
                verdicts[meta["grade_id"]] = (ok, message)
    return verdicts


@pytest.mark.slow
@pytest.mark.long      # the notebooks' own tests on every variant; the trusted references decide the points
@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_notebook_tests_agree(assignment):
    """Each wrong variant fails exactly the same grade cells in the notebook's own tests."""
    pytest.importorskip("keras")
    problems = []
    for variant in [None, *(v for v in VARIANTS[assignment] if v.cell not in TRAINING_SOLUTION_CELLS)]:
        chosen = [variant] if variant else []
        verdicts = notebook_verdicts(assignment, chosen)
        failed = {g for g, (ok, _) in verdicts.items() if not ok}
        want = set(expected_failures(chosen, notebook=True)) - TRAINING_CELLS
        if failed != want:
            problems.append(f"{variant.name if variant else 'solution'}: the notebook fails {sorted(failed)}, "
                            f"the references {sorted(want)}: "
                            + "; ".join(f"{g}: {verdicts[g][1][:150]}" for g in sorted(failed ^ want) if g in verdicts))
    assert not problems, "\n".join(problems)


# ----------------------------------------------------------------------------- the real grading path
@pytest.mark.slow
@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_real_batch(assignment, tmp_path):
    from autograder.batch import GradeOptions, grade_batch
    from autograder.course import course_config, runtime_directory_of
    from autograder.nbgrader_api import release_assignment, submission_scores
    from autograder.sandbox import BubblewrapSandbox, detect_sandbox
    from autograder.trusted import STAGED_SUFFIX

    if not BubblewrapSandbox().available():
        pytest.skip("bubblewrap (and root) needed")
    course = tmp_path / "course"
    for folder in ("solutions", "exercises", "course_utils"):
        shutil.copytree(REPO_ROOT / folder, course / folder)
    config = course_config(course, runtime_directory=course / ".grading", cell_timeout_s=90)
    release_assignment(config, assignment)
    release = course / f"exercises/{assignment}/{assignment}.ipynb"
    submitted = course / ".grading/submitted"
    students = BATCH_STUDENTS[assignment]
    for student, names in students.items():
        (submitted / student / assignment).mkdir(parents=True)
        answers = answers_for(assignment, [_variant(assignment, n) for n in names])
        notebook = demo_class.build_submission(release, answers)
        nbformat.write(notebook, submitted / student / assignment / f"{assignment}.ipynb")
    # the sandbox `segcourse grade` uses: kernels forked from a warm-kernel server per worker
    report = grade_batch(config, assignment, list(students), detect_sandbox("bwrap"),
                         GradeOptions(workers=2, cell_timeout_s=90, seed=11), progress=lambda *_: None)
    assert not report.failed and report.integrity == [], [(s.student, s.status, s.detail) for s in report.submissions]
    points = _points(nbformat.read(release, as_version=4))
    by_cell = {s.student: {g: v for g, v in s.by_cell.items() if g in points}
               for s in submission_scores(config, assignment, list(students))}
    staging = runtime_directory_of(config) / ".staging" / assignment / "verdicts"
    problems = []
    for student, names in students.items():
        want_fail = expected_failures([_variant(assignment, n) for n in names])
        if student == LIBRARY_ANSWERS_STUDENT:      # threat row 40: every part 0, the verdict names the rule
            want_fail = {g: "" if g in TRAINING_CELLS else LIBRARY_RULE_TEXT for g in points}
        want = {g: (0.0 if g in want_fail else p) for g, p in points.items()}
        if by_cell[student] != want:
            problems.append(f"{student}: points {by_cell[student]}, expected {want}")
        verdicts = StagedVerdicts.load(staging / student / assignment / f"{assignment}{STAGED_SUFFIX}")
        problems += check_verdicts(verdicts, want_fail, points, student)
    assert not problems, "\n".join(problems)


class StagedVerdicts:
    @staticmethod
    def load(path: Path) -> dict[str, tuple[bool, str]]:
        data = json.loads(Path(path).read_text())
        return {g: (bool(v.get("passed")), str(v.get("message", ""))) for g, v in data.get("verdicts", {}).items()}
