"""`segcourse new-assignment NAME`: a bad or taken name writes nothing (usage, exit 2); a new one
gets its source notebook, check table, validity variants and library-answers entry, which
pass ruff, judge the scaffolded variants as declared, and grade end to end in the sandbox."""

from __future__ import annotations

import ast
import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from autograder import demo_class
from autograder.cli import EXIT_OK, EXIT_USAGE, main
from autograder.references import load_checks
from autograder.sandbox import BubblewrapSandbox
from tests import REPO_ROOT

NAME = "pixel_metrics"
WRITTEN = [f"solutions/{NAME}/{NAME}.ipynb", f"autograder/references/{NAME}.py", f"tests/validity/{NAME}.py"]
REGISTRY = "course_utils/library_answers.py"
POINTS = {"test_accuracy_visible": 1.0, "test_accuracy_hidden": 2.0}


def make_course(root: Path, with_library: bool = True) -> Path:
    """A course folder that is not this checkout, as an instructor keeps one: solutions/
    (one assignment), nbgrader_config.py and, ``with_library``, the course library (its
    registry and the grading edition's source); without it, as with the wheel installed,
    grading uses the installed ``course_utils``."""
    shutil.copytree(REPO_ROOT / "solutions" / "dimensions", root / "solutions" / "dimensions")
    if with_library:
        shutil.copytree(REPO_ROOT / "course_utils", root / "course_utils",
                        ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(REPO_ROOT / "nbgrader_config.py", root / "nbgrader_config.py")
    return root


def snapshot(root: Path) -> dict[str, bytes | None]:
    """Every file's bytes and every folder (None) under ``root``."""
    return {str(p.relative_to(root)): p.read_bytes() if p.is_file() else None for p in sorted(root.rglob("*"))}


def new_assignment(course: Path, name: str = NAME) -> int:
    return main(["--course-dir", str(course), "new-assignment", name])


def load_file(path: Path, module_name: str):
    spec = importlib.util.spec_from_file_location(module_name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def scaffold_and_release(course: Path) -> Path:
    assert new_assignment(course) == EXIT_OK
    assert main(["--course-dir", str(course), "release", NAME]) == EXIT_OK
    return course


@pytest.fixture(scope="module")
def scaffolded(tmp_path_factory) -> Path:
    """A course with the new assignment scaffolded and released (once)."""
    return scaffold_and_release(make_course(tmp_path_factory.mktemp("course")))


@pytest.fixture(scope="module")
def scaffolded_without_library(tmp_path_factory) -> Path:
    """The same in a course folder without its own course_utils (the wheel installed)."""
    return scaffold_and_release(make_course(tmp_path_factory.mktemp("course"), with_library=False))


# ----------------------------------------------------------------------------- bad names
@pytest.mark.parametrize("name, message", [
    ("PixelMetrics", "the name must be a lowercase Python identifier"),
    ("pixel-metrics", "the name must be a lowercase Python identifier"),
    ("2d_metrics", "the name must be a lowercase Python identifier"),
    ("_private", "the name must be a lowercase Python identifier"),
    ("", "the name must be a lowercase Python identifier"),
    ("class", "the name must be a lowercase Python identifier"),
    ("test_metrics", "a name starting with test_ or ending with _test would make tests/validity/test_metrics.py "
                     "a test module"),
    ("metrics_test", "a name starting with test_ or ending with _test"),
    ("dimensions", "it exists already (solutions/dimensions, autograder.references.dimensions (installed), "
                   "LIBRARY_ANSWERS['dimensions']"),
    ("fcn_basics", "it exists already (autograder.references.fcn_basics (installed)"),
    ("orphan", "it exists already (tests/validity/orphan.py)"),
])
def test_a_bad_or_taken_name_gives_usage_and_exit_2_and_writes_nothing(tmp_path, capsys, name, message):
    course = make_course(tmp_path)
    (course / "tests" / "validity").mkdir(parents=True)
    (course / "tests" / "validity" / "orphan.py").write_text("VARIANTS = []\n")
    before = snapshot(course)
    assert new_assignment(course, name) == EXIT_USAGE
    err = capsys.readouterr().err
    assert "usage: segcourse" in err and f"segcourse: error: cannot create assignment {name!r}: {message}" in err
    assert "Traceback" not in err
    assert snapshot(course) == before


def test_a_failed_write_leaves_the_course_as_it_was(tmp_path, monkeypatch):
    course = make_course(tmp_path)
    before = snapshot(course)
    real_write = Path.write_text

    def write_until_the_registry(self, text, *args, **kwargs):
        if self.name == "library_answers.py":
            raise OSError(28, "No space left on device", str(self))
        return real_write(self, text, *args, **kwargs)
    monkeypatch.setattr(Path, "write_text", write_until_the_registry)
    assert new_assignment(course) == 1           # main: an OSError is one line, exit 1
    monkeypatch.undo()
    assert snapshot(course) == before
    assert not (course / "solutions" / NAME).exists()


# ----------------------------------------------------------------------------- what is written
def test_scaffolding_writes_the_three_files_registers_and_prints_the_checklist(tmp_path, capsys):
    course = make_course(tmp_path)
    registry_before = (course / REGISTRY).read_text()
    assert new_assignment(course) == EXIT_OK
    out = capsys.readouterr().out
    for path in [*WRITTEN, REGISTRY]:
        assert path in out, path
    for step in (f"segcourse release {NAME}", f"segcourse check-release {NAME}", f"pytest tests/validity -k {NAME}",
                 f"segcourse grade {NAME}"):
        assert step in out, step
    assert all((course / path).is_file() for path in WRITTEN)

    notebook = nbformat.read(course / WRITTEN[0], as_version=4)
    nbformat.validate(notebook)
    meta = [cell.metadata.get("nbgrader", {}) for cell in notebook.cells]
    assert [m["grade_id"] for m in meta if m.get("solution")] == ["accuracy"]
    assert {m["grade_id"]: m["points"] for m in meta if m.get("grade")} == POINTS
    assert "**Your own code.**" in notebook.cells[0].source     # the library-answers rule
    hidden = next(c for c in notebook.cells if c.metadata["nbgrader"].get("grade_id") == "test_accuracy_hidden")
    assert hidden.source.startswith('"""') and "### BEGIN HIDDEN TESTS" in hidden.source

    assert sorted(load_checks(NAME, course)) == sorted(POINTS)     # found in the course folder, by file path
    # the visible test cell's cases are the visible check's (as tests/validity/test_case_tables.py compares them)
    from tests.validity.test_case_tables import table_value
    visible = next(c for c in notebook.cells if c.metadata["nbgrader"].get("grade_id") == "test_accuracy_visible")
    cases = next(node.value for node in ast.walk(ast.parse(visible.source))
                 if isinstance(node, ast.Assign) and ast.unparse(node.targets[0]) == "cases")
    references = load_file(course / WRITTEN[1], "scaffolded_references")
    assert [(y_true, y_pred, what) for y_true, y_pred, _, what in table_value(cases)] == references.VISIBLE_CASES
    registry = load_file(course / REGISTRY, "scaffolded_library_answers")
    assert registry.LIBRARY_ANSWERS[NAME] == {"accuracy": ["course_utils.metrics:pixel_accuracy"]}
    entry = f'    "{NAME}": {{\n        "accuracy": ["course_utils.metrics:pixel_accuracy"],\n    }},\n'
    assert (course / REGISTRY).read_text().replace(entry, "") == registry_before     # only the entry added

    ruff = Path(sys.executable).parent / "ruff"
    if not ruff.is_file():
        pytest.skip("ruff is not installed in this environment")
    lint = subprocess.run([str(ruff), "check", "--config", str(REPO_ROOT / "pyproject.toml"),
                           *(str(course / path) for path in WRITTEN)], capture_output=True, text=True)
    assert lint.returncode == 0, lint.stdout + lint.stderr


def test_the_checks_judge_the_scaffolded_variants_as_declared(scaffolded, monkeypatch):
    """tests/validity's in-process judge and the notebook's own tests, pointed at the course."""
    pytest.importorskip("keras")
    from tests.validity import test_grading_validity as validity

    monkeypatch.setattr(validity, "REPO_ROOT", scaffolded)
    monkeypatch.setattr(validity, "load_checks", lambda assignment: load_checks(assignment, scaffolded))
    variants = load_file(scaffolded / WRITTEN[2], "scaffolded_variants").VARIANTS
    assert {bool(v.fails) for v in variants} == {True, False}       # a correct and a wrong answer
    problems = validity.check_verdicts(validity.judge_in_process(NAME, []), {}, POINTS, "solution")
    for variant in variants:
        problems += validity.check_verdicts(validity.judge_in_process(NAME, [variant]),
                                            validity.expected_failures([variant]), POINTS, variant.name)
        failed = {g for g, (ok, _) in validity.notebook_verdicts(NAME, [variant]).items() if not ok}
        if failed != set(variant.fails):
            problems.append(f"{variant.name}: the notebook's own tests fail {sorted(failed)}")
    assert not problems, "\n".join(problems)


# ----------------------------------------------------------------------------- no course_utils of its own
def test_without_a_library_the_check_table_declares_the_library_answers(scaffolded_without_library, tmp_path):
    """A course folder without course_utils (the wheel installed): the installed registry
    cannot be edited, so the scaffolded check table declares LIBRARY_ANSWERS, and the grading
    edition built from the installed library stubs those functions; with neither, grading
    refuses and names both places."""
    from autograder.library_edition import EditionError, grading_edition
    from autograder.references import course_library_answers

    course = scaffolded_without_library
    assert not (course / "course_utils").exists()
    declared = course_library_answers(NAME, course)
    assert declared == {"accuracy": ["course_utils.metrics:pixel_accuracy"]}
    assert course_library_answers("dimensions", course) is None          # the package's own assignment
    edition = grading_edition(REPO_ROOT / "course_utils", NAME, cache_dir=tmp_path / "editions",
                              course_answers=declared)
    metrics_source = (edition / "metrics.py").read_text()
    stub = metrics_source[metrics_source.index("def pixel_accuracy("):].split("\ndef ", 1)[0]
    assert "LibraryAnswerError" in stub and "np.mean" not in stub
    with pytest.raises(EditionError, match=f"LIBRARY_ANSWERS in the course's autograder/references/{NAME}.py"):
        grading_edition(REPO_ROOT / "course_utils", NAME, cache_dir=tmp_path / "editions")


# ----------------------------------------------------------------------------- end to end
@pytest.mark.slow
@pytest.mark.skipif(not BubblewrapSandbox().available(), reason="bubblewrap (and root) needed")
@pytest.mark.parametrize("course_kind", ["scaffolded", "scaffolded_without_library"])
def test_a_scaffolded_assignment_releases_and_grades_in_the_sandbox(course_kind, request, tmp_path, capsys):
    """Scaffold, release, check the release, submit four notebooks, `segcourse grade`: the
    correct answers earn every point, the wrong one loses exactly its hidden cell, an answer
    through the course library scores 0 (the scaffolded registry entry at work, or, in a
    course folder without course_utils, the check table's LIBRARY_ANSWERS)."""
    from nbgrader.api import Gradebook

    course = tmp_path / "course"
    shutil.copytree(request.getfixturevalue(course_kind), course, symlinks=True)
    assert main(["--course-dir", str(course), "check-release", NAME]) == EXIT_OK
    variants = {v.name: v for v in load_file(course / WRITTEN[2], "scaffolded_variants_e2e").VARIANTS}
    library_answer = load_file(course / WRITTEN[2], "scaffolded_library_e2e").LIBRARY_ANSWERS["accuracy"]
    solution = demo_class.solution_answers(course / WRITTEN[0])["accuracy"]
    answers = {"correct": solution,
               "alt-correct": variants["accuracy-count-nonzero"].answer(solution),
               "wrong-a": variants["accuracy-one-map-only"].answer(solution),
               "library-answers": library_answer}
    expected = {"correct": POINTS, "alt-correct": POINTS,
                "wrong-a": {**POINTS, "test_accuracy_hidden": 0.0},
                "library-answers": {grade_id: 0.0 for grade_id in POINTS}}
    release = course / "exercises" / NAME / f"{NAME}.ipynb"
    for student, answer in answers.items():
        folder = course / ".grading" / "submitted" / student / NAME
        folder.mkdir(parents=True)
        nbformat.write(demo_class.build_submission(release, {"accuracy": answer}), folder / f"{NAME}.ipynb")
        (folder / "timestamp.txt").write_text("2026-11-25 12:00:00.000000 UTC")
    capsys.readouterr()

    status = main(["--course-dir", str(course), "grade", NAME, "--workers", "2", "--seed", "5"])
    out = capsys.readouterr().out
    assert status == EXIT_OK, out
    with Gradebook(f"sqlite:///{course / '.grading' / 'gradebook.db'}") as gradebook:
        points = {student: {grade.name: grade.score for notebook in gradebook.find_submission(NAME, student).notebooks
                            for grade in notebook.grades} for student in answers}
    assert points == expected
    assert (course / ".grading" / "grades.csv").is_file()
    feedback = {student: (course / ".grading" / "feedback" / student / NAME / f"{NAME}.html").read_text()
                for student in answers}
    assert "a batch of label maps" in feedback["wrong-a"]        # the hidden check's message says what failed
    assert "answered through the course library scores 0" in feedback["library-answers"]
