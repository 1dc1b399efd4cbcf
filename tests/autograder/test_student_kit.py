"""The student kit (threat model row 45): what an enrolled student receives holds no
solution, no hidden test, no trusted check and no self-check reference, installs with
pip, and its self-checks still work from stored expected values.

The scan of the kit (``_answers_in``) is tested itself on a kit with planted answers, so
that it cannot pass by finding nothing.
"""

from __future__ import annotations

import ast
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from autograder import student_kit
from autograder.cli import EXIT_OK, EXIT_USAGE, main
from autograder.student_kit.recording import store_module
from tests import REPO_ROOT

EXPECTED_TOP_LEVEL = {"README.md", "pyproject.toml", "course_utils", "exercises", "lectures"}
MARKERS = ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS", "END HIDDEN TESTS")
REGION = re.compile(r"### (BEGIN SOLUTION|BEGIN HIDDEN TESTS)\n(.*?)### (?:END SOLUTION|END HIDDEN TESTS)", re.S)

# Lines that a solution or hidden test shares with kit code for a reason other than a
# leak. Each one is named with that reason; anything else found fails the test.
SHARED_ON_PURPOSE = {
    # The hidden tests of sliding_window_vs_fcn hand predict_fcn a fake network built like
    # the self-check's fixture selfcheck._PositionalNetwork (a fake, not an answer).
    "batch = np.asarray(batch, dtype=np.float32)": "selfcheck._PositionalNetwork fixture",
    "rows = np.arange(batch.shape[1])[:, None]": "selfcheck._PositionalNetwork fixture",
    "cols = np.arange(batch.shape[2])[None, :]": "selfcheck._PositionalNetwork fixture",
    # The self-checks' public cases are the notebooks' worked examples, as the trusted
    # visible checks are (the release shows them too, written a little differently).
    "t = np.array([[0, 0, 1], [0, 1, 1], [2, 2, 255]])": "selfcheck._mean_iou_cases: the notebook's example",
    "p = np.array([[0, 1, 1], [0, 1, 1], [2, 0, 1]])": "selfcheck._mean_iou_cases: the notebook's example",
    "labels = np.array([[[0, 1], [2, 1]], [[2, 2], [0, 0]]])": "selfcheck._soft_dice_cases: the notebook's example",
    'one_hot = np.eye(3, dtype="float32")[labels]': "selfcheck._soft_dice_cases: the notebook's example",
    "except (TypeError, ValueError):": "plain Python",
}


def _meaningful(line: str) -> str | None:
    """A line long and specific enough that finding it elsewhere is no coincidence."""
    stripped = line.strip()
    return stripped if len(stripped) >= 20 and not stripped.startswith("#") else None


def _code_lines(text: str) -> set[str]:
    return {m for m in map(_meaningful, text.splitlines()) if m}


def _cell_text(cell: dict) -> str:
    parts = ["".join(cell.get("source", ""))]
    for output in cell.get("outputs", []):
        parts.append("".join(output.get("text", "")))
        parts.extend("".join(v) if isinstance(v, list) else str(v) for v in output.get("data", {}).values())
    return "\n".join(parts)


def _readable(path: Path) -> str:
    """A file's text: notebooks as their cells' sources and outputs, other files as they are."""
    text = path.read_text(encoding="utf-8", errors="replace")
    if path.suffix == ".ipynb":
        return text + "\n" + "\n".join(_cell_text(cell) for cell in json.loads(text)["cells"])
    return text


SELFCHECK = REPO_ROOT / "course_utils" / "selfcheck"


def _selfcheck_sources() -> dict[str, str]:
    """module file name -> source, of the package course_utils/selfcheck/."""
    return {p.name: p.read_text(encoding="utf-8") for p in sorted(SELFCHECK.glob("*.py"))}


def _public_lines() -> set[str]:
    """Lines of the public library (course_utils without the self-checks): shipped on purpose."""
    return set().union(*(_code_lines(p.read_text(encoding="utf-8")) for p in (REPO_ROOT / "course_utils").rglob("*.py")
                         if not p.is_relative_to(SELFCHECK)))


def _solution_notebooks() -> tuple[dict[str, str], set[str]]:
    """(line -> where, given lines): the lines of every solution region and hidden test
    of solutions/, and the lines those notebooks show outside them (given code, visible
    tests: the release holds them on purpose)."""
    secret, given = {}, set()
    for notebook in sorted((REPO_ROOT / "solutions").glob("*/*.ipynb")):
        for cell in json.loads(notebook.read_text(encoding="utf-8"))["cells"]:
            source = "".join(cell["source"])
            for match in REGION.finditer(source):
                for line in _code_lines(match.group(2)):
                    secret.setdefault(line, f"{notebook.parent.name}: {match.group(1).lower()}")
            given |= _code_lines(REGION.sub("", source))
    assert len(secret) > 300, "the solution regions were not found"
    return secret, given


def _definition_lines(source: str, node: ast.AST) -> set[str]:
    """The body's lines of a function or class, less its docstring."""
    body = node.body
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
        body = body[1:]
    if not body:
        return set()
    lines = source.splitlines()[body[0].lineno - 1:node.end_lineno]
    return _code_lines("\n".join(lines))


def _autograder_secrets() -> tuple[set[str], set[str], dict[str, str]]:
    """(names of the trusted checks, names of their helpers, body line -> function) of
    autograder/references/*.py."""
    check_names, helpers, lines = set(), set(), {}
    for module in sorted((REPO_ROOT / "autograder" / "references").glob("*.py")):
        source = module.read_text(encoding="utf-8")
        tree = ast.parse(source)
        for node in tree.body:
            if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
                helpers.add(node.name)
                for line in _definition_lines(source, node):
                    lines.setdefault(line, f"autograder/references/{module.name}:{node.name}")
            if isinstance(node, ast.Assign) and any(getattr(t, "id", "") == "CHECKS" for t in node.targets):
                for value in node.value.values:     # make or make_factory(...)
                    function = value.func if isinstance(value, ast.Call) else value
                    check_names |= {function.id} if isinstance(function, ast.Name) else set()
    assert len(check_names) > 40 and len(lines) > 300, "the trusted checks were not found"
    return check_names, helpers, lines


def _selfcheck_reference_lines() -> dict[str, str]:
    """body line -> name, of every self-check reference the kit replaces, and of every
    private selfcheck function named like a reference (whatever the builder's lists say)."""
    replaced = {*student_kit.STORED_REFERENCES, *student_kit.STORED_FACTORIES, *student_kit.UNAVAILABLE_REFERENCES}
    lines = {}
    for source in _selfcheck_sources().values():
        for node in ast.parse(source).body:
            is_definition = isinstance(node, (ast.FunctionDef, ast.ClassDef))
            if is_definition and (node.name in replaced or "reference" in node.name):
                for line in _definition_lines(source, node):
                    lines.setdefault(line, f"selfcheck.{node.name}")
    assert len(lines) > 60
    return lines


def _inline_reference_texts() -> list[str]:
    """The source of each inline reference formula (a lambda calling nothing) of a check."""
    texts = []
    for source in _selfcheck_sources().values():
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) in ("_Check", "_variant_check"):
                reference = node.args[2] if len(node.args) > 2 else None
                if isinstance(reference, ast.Lambda) and not any(isinstance(n, ast.Call)
                                                                 for n in ast.walk(reference.body)):
                    texts.append(ast.get_source_segment(source, reference))
    assert len(texts) >= 2
    return texts


def _answers_in(kit: Path) -> list[str]:
    """Everything in ``kit`` that must not reach students, one line each."""
    found = []
    public = _public_lines()
    secret_lines, given = _solution_notebooks()
    secret_lines.update(_selfcheck_reference_lines())
    check_names, helpers, autograder_lines = _autograder_secrets()
    secret_lines.update(autograder_lines)
    secret_lines = {line: where for line, where in secret_lines.items()
                    if line not in public and line not in given and line not in SHARED_ON_PURPOSE}
    # Helper names the course library or the notebooks define themselves are no sign.
    defined = set(re.findall(r"^\s*(?:def|class) (\w+)", "\n".join(given), re.M))
    for module in (REPO_ROOT / "course_utils").rglob("*.py"):
        defined |= set(re.findall(r"^\s*(?:def|class) (\w+)", module.read_text(encoding="utf-8"), re.M))
    helpers = helpers - defined
    word = re.compile(r"\b(" + "|".join(sorted(map(re.escape, check_names))) + r")\b")
    definition = re.compile(r"^\s*(?:def|class) (" + "|".join(sorted(map(re.escape, helpers))) + r")\b", re.M)
    inline = _inline_reference_texts()
    for path in sorted(p for p in kit.rglob("*")):
        relative = path.relative_to(kit).as_posix()
        if "autograder" in path.relative_to(kit).parts or "solutions" in path.relative_to(kit).parts:
            found.append(f"{relative}: a path of the instructor's repository")
        if not path.is_file() or path.suffix == ".h5":
            continue
        text = _readable(path)
        found += [f"{relative}: marker {marker!r}" for marker in MARKERS if marker in text]
        found += [f"{relative}: {where}: {line!r}" for line in _code_lines(text)
                  for where in [secret_lines.get(line)] if where]
        found += [f"{relative}: names the trusted check {m.group(1)}" for m in word.finditer(text)]
        found += [f"{relative}: defines {m.group(1)} of autograder/references" for m in definition.finditer(text)]
        imports = re.finditer(r"^\s*(?:from|import) autograder\b", text, re.M)
        found += [f"{relative}: imports autograder" for _ in imports]
        found += [f"{relative}: the inline reference {text_!r}" for text_ in inline if text_ in text]
    return found


@pytest.fixture(scope="module")
def kit(tmp_path_factory) -> Path:
    destination = tmp_path_factory.mktemp("student-kit") / "kit"
    student_kit.build_student_kit(REPO_ROOT, destination)
    return destination


def test_kit_holds_no_answers(kit):
    assert {p.name for p in kit.iterdir()} == EXPECTED_TOP_LEVEL
    assignments = {p.name for p in (REPO_ROOT / "solutions").iterdir() if any(p.glob("*.ipynb"))}
    assert {p.name for p in (kit / "exercises").iterdir()} == assignments
    assert sorted(p.name for p in (kit / "lectures").iterdir()) == sorted(
        p.name for p in (REPO_ROOT / "lectures").glob("*.ipynb"))
    for notebook in (kit / "exercises").glob("*/*.ipynb"):   # the release, byte for byte
        assert notebook.read_bytes() == (REPO_ROOT / "exercises" / notebook.relative_to(kit / "exercises")).read_bytes()
    library = {p.relative_to(kit / "course_utils").as_posix() for p in (kit / "course_utils").rglob("*") if p.is_file()}
    repo_library = {p.relative_to(REPO_ROOT / "course_utils").as_posix()
                    for p in (REPO_ROOT / "course_utils").rglob("*") if p.is_file() and "__pycache__" not in p.parts}
    assert library == repo_library | {"_selfcheck_store.py", "_selfcheck_store.json"}
    for name in repo_library:      # the public library as it is (the self-checks' references are replaced)
        if not name.startswith("selfcheck/"):
            assert (kit / "course_utils" / name).read_bytes() == (REPO_ROOT / "course_utils" / name).read_bytes(), name
    assert _answers_in(kit) == []
    # Every replaced reference is a stub in the kit's selfcheck package.
    stubs = {}
    for module in (kit / "course_utils" / "selfcheck").glob("*.py"):
        tree = ast.parse(module.read_text(encoding="utf-8"))
        stubs.update({node.name: ast.unparse(node) for node in tree.body if isinstance(node, ast.FunctionDef)})
    for name in (*student_kit.STORED_REFERENCES, *student_kit.STORED_FACTORIES):
        assert "_kit_stored_" in stubs[name] and len(stubs[name].splitlines()) == 3, name
    for name in student_kit.UNAVAILABLE_REFERENCES:
        assert "raise _SelfCheckNotInKit(" in stubs[name], name


def test_the_scan_finds_planted_answers(kit, tmp_path):
    """_answers_in is not vacuous: answers planted in a copy of the kit are all found."""
    planted = shutil.copytree(kit, tmp_path / "kit")
    solution = json.loads((REPO_ROOT / "solutions" / "fcn_basics" / "fcn_basics.ipynb").read_text(encoding="utf-8"))
    lecture = planted / "lectures" / "01_overview.ipynb"
    notebook = json.loads(lecture.read_text(encoding="utf-8"))
    for marker in ("SOLUTION", "HIDDEN TESTS"):
        cell = next(c for c in solution["cells"] if f"### BEGIN {marker}" in "".join(c["source"]))
        stripped = "".join(cell["source"]).replace(f"### BEGIN {marker}", "").replace(f"### END {marker}", "")
        notebook["cells"].append({**cell, "source": stripped, "metadata": {}})
    lecture.write_text(json.dumps(notebook), encoding="utf-8")
    (planted / "autograder").mkdir()
    references = (REPO_ROOT / "autograder" / "references" / "unet.py").read_text(encoding="utf-8")
    (planted / "course_utils" / "extra.py").write_text(
        references + "\n" + "\n".join(_selfcheck_sources().values()), encoding="utf-8")
    (planted / "exercises" / "fcn_basics" / "notes.txt").write_text("### BEGIN HIDDEN TESTS\n", encoding="utf-8")
    found = "\n".join(_answers_in(planted))
    assert "lectures/01_overview.ipynb: fcn_basics: begin solution" in found
    assert "lectures/01_overview.ipynb: fcn_basics: begin hidden tests" in found
    assert "autograder: a path of the instructor's repository" in found
    assert "course_utils/extra.py: defines" in found and "names the trusted check" in found
    assert "autograder/references/unet.py:" in found
    assert "selfcheck._soft_dice_numpy" in found and "selfcheck._reference_unet" in found
    assert "the inline reference" in found
    assert "exercises/fcn_basics/notes.txt: marker 'BEGIN HIDDEN TESTS'" in found


CHILD = r"""
import importlib, importlib.util, json, sys
site, modules, repo = sys.argv[1], json.loads(sys.argv[2]), sys.argv[3]
# Nothing of the repository: no editable finder, no repository or working folder on the
# path; the installed kit first, then the environment's packages.
sys.meta_path[:] = [f for f in sys.meta_path if "__editable__" not in getattr(f, "__module__", "")]
sys.path[:] = [site] + [p for p in sys.path if p not in ("", ".", repo)]
import numpy as np
import course_utils
from course_utils import selfcheck
assert course_utils.__file__.startswith(site), course_utils.__file__
assert importlib.util.find_spec("autograder") is None
results = {}

def dice(t, p):
    t, p = np.asarray(t).astype(bool), np.asarray(p).astype(bool)
    total = t.sum() + p.sum()
    return 1.0 if total == 0 else float(2 * (t & p).sum() / total)

def dice_as_iou(t, p):
    t, p = np.asarray(t).astype(bool), np.asarray(p).astype(bool)
    union = (t | p).sum()
    return 1.0 if union == 0 else float((t & p).sum() / union)

def conv(n, k, s=1, padding="valid"):
    return (n - k) // s + 1 if padding == "valid" else -(-n // s)

def conv_without_plus_one(n, k, s=1, padding="valid"):
    return (n - k) // s if padding == "valid" else -(-n // s)

def soft_dice(y_true, y_pred, smooth=1.0, squares=True):
    t, p = np.asarray(y_true, np.float64), np.asarray(y_pred, np.float64)
    inter = (t * p).sum(axis=(1, 2))
    den = (((t ** 2).sum(axis=(1, 2)) + (p ** 2).sum(axis=(1, 2))) if squares
           else t.sum(axis=(1, 2)) + p.sum(axis=(1, 2)))
    return (1 - (2 * inter + smooth) / (den + smooth)).mean(axis=-1)

def mean_iou_counting_ignored(y_true, y_pred, num_classes, ignore_label=None):
    t, p = np.asarray(y_true).ravel(), np.asarray(y_pred).ravel()
    scores = [np.count_nonzero((t == c) & (p == c)) / np.count_nonzero((t == c) | (p == c))
              for c in range(num_classes) if np.count_nonzero((t == c) | (p == c))]
    return float(np.mean(scores)) if scores else float("nan")

def one_hot(labels, num_classes):
    labels = np.asarray(labels)
    if np.any(labels < 0) or np.any(labels >= num_classes):
        raise ValueError("label outside the classes")
    return (labels[..., None] == np.arange(num_classes)).astype(np.float32)

def one_hot_wrapping_negatives(labels, num_classes):
    return np.eye(num_classes)[np.asarray(labels)]

for key, check, function in [
        ("one_hot", selfcheck.check_labels_to_one_hot, one_hot),
        ("one_hot_wrong", selfcheck.check_labels_to_one_hot, one_hot_wrapping_negatives),
        ("dice", selfcheck.check_dice, dice), ("dice_wrong", selfcheck.check_dice, dice_as_iou),
        ("conv", selfcheck.check_conv_output_size, conv),
        ("conv_wrong", selfcheck.check_conv_output_size, conv_without_plus_one),
        ("soft_dice", selfcheck.check_soft_dice, soft_dice),
        ("soft_dice_wrong", selfcheck.check_soft_dice, lambda t, p, smooth=1.0: soft_dice(t, p, smooth, squares=False)),
        ("mean_iou_wrong", selfcheck.check_mean_iou, mean_iou_counting_ignored)]:
    result = check(function, quiet=True)
    results[key] = [result.passed, result.mistake, result.message]

for name in modules:
    importlib.import_module(name)
from course_utils import transfer
assert transfer.PAGE_ENCODER_WEIGHTS.exists()
import keras

def build_unet(num_classes, depth, base_filters, num_channels=1):   # a student's own, right
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
        x = layers.Concatenate()([layers.Conv2DTranspose(base_filters * 2 ** level, 2, strides=2)(x), skips[level]])
        for _ in range(2):
            x = layers.Conv2D(base_filters * 2 ** level, 3, padding="same", activation="relu")(x)
    return keras.Model(inputs, layers.Conv2D(num_classes, 1, activation="softmax")(x))

result = selfcheck.check_build_unet(build_unet, quiet=True)
results["build_unet"] = [result.passed, result.mistake, result.message]
print(json.dumps(results))
"""


def _lecture_and_exercise_modules(kit: Path) -> list[str]:
    """The course_utils modules the kit's notebooks import."""
    modules = set()
    for notebook in [*kit.glob("lectures/*.ipynb"), *kit.glob("exercises/*/*.ipynb")]:
        for cell in json.loads(notebook.read_text(encoding="utf-8"))["cells"]:
            if cell["cell_type"] != "code":
                continue
            source = "".join(cell["source"])
            imports = r"^\s*from (course_utils[\w.]*) import ([\w, ()\n]+?)(?:\s+as \w+)?$"
            for match in re.finditer(imports, source, re.M):
                package = match.group(1)
                modules.add(package)
                if package == "course_utils":
                    names = match.group(2).replace("(", "").replace(")", "").split(",")
                    modules |= {f"course_utils.{n.strip()}" for n in names if n.strip()}
            modules |= set(re.findall(r"^\s*import (course_utils[\w.]*)", source, re.M))
    return sorted(modules)


def test_kit_installs_and_self_checks_work(kit, tmp_path):
    copy = shutil.copytree(kit, tmp_path / "kit")   # pip builds inside the folder it installs
    site = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "--no-build-isolation", "--no-compile",
                    "--quiet", "--disable-pip-version-check", "--target", str(site), str(copy)],
                   check=True, capture_output=True, text=True, timeout=300)
    assert (site / "course_utils" / "_selfcheck_store.json").is_file()
    assert (site / "course_utils" / "weights" / "page_encoder.weights.h5").is_file()
    modules = _lecture_and_exercise_modules(kit)
    assert {"course_utils.selfcheck", "course_utils.widgets", "course_utils.datasets", "course_utils.transfer",
            "course_utils.maskrcnn"} <= set(modules)
    environment = {"PATH": str(Path(sys.executable).parent), "HOME": str(tmp_path), "TF_CPP_MIN_LOG_LEVEL": "2",
                   "SEGCOURSE_PROGRESS_FILE": str(tmp_path / "progress.json"), "MPLBACKEND": "Agg",
                   **{key: os.environ[key] for key in ("KERAS_BACKEND",) if key in os.environ}}
    child = subprocess.run([sys.executable, "-c", CHILD, str(site), json.dumps(modules), str(REPO_ROOT)], cwd=tmp_path,
                           env=environment, capture_output=True, text=True, timeout=300)
    assert child.returncode == 0, child.stderr[-3000:]
    results = json.loads(child.stdout.strip().splitlines()[-1])
    for key in ("one_hot", "dice", "conv", "soft_dice"):
        assert results[key][:2] == [True, None], results[key]
    assert results["one_hot_wrong"][:2] == [False, "negative_labels_wrap"]
    assert results["dice_wrong"][:2] == [False, "iou_instead_of_dice"]
    assert "Hint 1/3" in results["dice_wrong"][2]
    assert results["conv_wrong"][:2] == [False, "missing_plus_one"]
    assert results["soft_dice_wrong"][:2] == [False, "no_squares"]
    assert results["mean_iou_wrong"][:2] == [False, "ignore_counted"]   # a stored known-wrong variant
    passed, mistake, message = results["build_unet"]
    assert not passed and mistake == "check_failed"
    assert "not available in the student kit" in message and "visible test" in message


def test_kit_readme_says_what_is_left_out(kit):
    readme = (kit / "README.md").read_text(encoding="utf-8")
    for text in ("pip install", "jupyter lab", "exercises/fcn_basics/fcn_basics.ipynb", "Validate",
                 "Submit", "does not contain", "No worked solutions", "hidden tests", "whole course repository"):
        assert text in readme, text


def test_cli_refuses_a_used_folder_or_one_in_the_repository(tmp_path, capsys):
    destination = tmp_path / "kit"
    destination.mkdir()
    (destination / "old-notes.txt").write_text("mine\n", encoding="utf-8")
    assert main(["--course-dir", str(REPO_ROOT), "student-kit", str(destination)]) == EXIT_USAGE
    errors = [line for line in capsys.readouterr().err.splitlines() if line.startswith("segcourse: error:")]
    assert len(errors) == 1 and "not empty" in errors[0] and "--force" in errors[0]
    assert (destination / "old-notes.txt").exists()

    inside = REPO_ROOT / ".grading" / "student-kit-test"
    assert main(["--course-dir", str(REPO_ROOT), "student-kit", str(inside)]) == EXIT_USAGE
    assert "inside the course repository" in capsys.readouterr().err
    assert not inside.exists()

    assert main(["--course-dir", str(REPO_ROOT), "student-kit", str(destination), "--force"]) == EXIT_OK
    assert "student kit written to" in capsys.readouterr().out
    assert {p.name for p in destination.iterdir()} == EXPECTED_TOP_LEVEL
    assert not [p for p in tmp_path.iterdir() if p.name != "kit"]   # no half-built folder left


@pytest.mark.slow
@pytest.mark.parametrize("assignment", ["fcn_basics", "sliding_window_vs_fcn", "dimensions", "skip_fcns", "unet",
                                        "losses_metrics", "dataset_formats", "instance_panoptic",
                                        "transfer_learning"])
def test_worked_solutions_pass_the_kits_self_checks(kit, tmp_path, assignment):
    """The instructor's solution notebook, run on the kit's library: every self-check cell
    passes from the stored values (about 10-40 s each)."""
    from tests.notebooks.executing import cell_errors, execute_notebook

    folder = shutil.copytree(kit, tmp_path / "kit") / "exercises" / assignment
    notebook = json.loads((REPO_ROOT / "solutions" / assignment / f"{assignment}.ipynb").read_text(encoding="utf-8"))
    notebook["cells"].append({"cell_type": "code", "id": "kit-library-path", "metadata": {}, "outputs": [],
                              "execution_count": None,
                              "source": "import course_utils\nprint('library:', course_utils.__file__)"})
    path = folder / f"{assignment}_solved.ipynb"
    path.write_text(json.dumps(notebook), encoding="utf-8")
    executed = execute_notebook(path, env={"PYTHONPATH": str(tmp_path / "kit"), "COURSE_FAST": "1",
                                           "SEGCOURSE_PROGRESS_FILE": str(tmp_path / "progress.json")})
    assert cell_errors(executed) == []
    lines = [line for cell in executed.cells for output in cell.get("outputs", [])
             for line in output.get("text", "").splitlines()]
    assert f"library: {tmp_path / 'kit' / 'course_utils' / '__init__.py'}" in lines
    calls = sum(len(re.findall(r"selfcheck\.check_\w+\(", "".join(c["source"]))) for c in notebook["cells"]
                if c["cell_type"] == "code")
    passed = [line for line in lines if line.startswith("✓")]
    failed = [line for line in lines if line.startswith("✗")]
    assert all(line.startswith("✗ build_unet:") and "not available in the student kit" in line
               for line in failed), failed
    skipped = [line for line in lines if "self-check skipped in fast mode" in line]   # train_unet
    assert calls > 0 and len(passed) + len(failed) + len(skipped) == calls, (passed, failed)


def test_stored_values_survive_rounding_and_say_when_missing():
    """A float input that differs from the recorded one by rounding (another CPU or NumPy)
    finds its value; another input stops the check with a clear message; a recorded error
    is raised again."""
    import numpy as np

    store = store_module({})
    x = np.random.default_rng(0).normal(size=(3, 4)).astype(np.float32)
    table = {}
    for args, entry in [((x, 2), {"value": store.encode(np.float64(1.5))}),
                        ((36, 64, 3), {"raises": ["ValueError", "height 36 is not a multiple of 8"]})]:
        exact, structure, numbers = store.argument_key("_ref", args, {})
        table[exact] = {"structure": structure, "numbers": numbers, **entry}
    store._TABLE = table
    assert store.stored_value("_ref", (x, 2), {}) == 1.5
    assert store.stored_value("_ref", (np.nextafter(x, np.float32(np.inf)), 2), {}) == 1.5
    with pytest.raises(store.StoredValueMissing, match="no stored expected value .* visible test"):
        store.stored_value("_ref", (x * 1.01, 2), {})
    with pytest.raises(store.StoredValueMissing):
        store.stored_value("_ref", (x, 3), {})          # integers are compared exactly
    with pytest.raises(ValueError, match="height 36"):
        store.stored_value("_ref", (36, 64, 3), {})
