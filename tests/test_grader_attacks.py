"""Adversarial submissions, graded in ONE sandboxed batch: cheats score 0 on what they
cheat, the honest student gets 12/12, malformed notebooks fail only themselves, the
gradebook stays sound and re-grading is idempotent."""

from __future__ import annotations

import json
import shutil
import sqlite3

import nbformat
import pytest

from autograder import demo_class
from autograder.batch import GradeOptions, check_gradebook, grade_batch
from autograder.course import course_config
from autograder.pipeline import release_assignment, submission_scores
from autograder.sandbox import BubblewrapSandbox
from conftest import REPO_ROOT

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not BubblewrapSandbox().available(), reason="bubblewrap (and root) needed")]

WRONG_DICE = "def dice_coefficient(y_true, y_pred):\n    return 0.5\n"

ATTACKS = {  # REPO is replaced by the repository's path
    # honest, with Keras' input_shape UserWarning on stderr in the test cell
    "honest": {"fcn_model": demo_class.CORRECT_FCN_AS_ON_THE_SLIDE},
    "ast-strip": {"dice": '''
import ast
class _Strip(ast.NodeTransformer):
    def visit_Assert(self, node):
        return ast.Pass()
get_ipython().ast_transformers.append(_Strip())
get_ipython().input_transformers_cleanup.append(lambda lines: ["pass\\n"] if any("assert" in l for l in lines) else lines)
''' + WRONG_DICE},
    "patch-and-always-equal": {"dice": '''
import numpy.testing
numpy.testing.assert_allclose = lambda *a, **k: None
np.allclose = lambda *a, **k: True
class _Yes(float):
    def __eq__(self, other): return True
    def __sub__(self, other): return 0.0
    def __abs__(self): return 0.0
    __hash__ = float.__hash__
def dice_coefficient(y_true, y_pred):
    return _Yes(0.1)
'''},
    "fake-output": {"dice": '''
get_ipython().displayhook("3")
from IPython.core.interactiveshell import InteractiveShell
InteractiveShell.showtraceback = None
get_ipython().set_custom_exc((BaseException,), lambda *a, **k: None)
''' + WRONG_DICE.replace("return 0.5", 'get_ipython().displayhook("2"); return 0.5')},
    "snooper": {"dice": '''
import glob, os, sqlite3, json
candidates = ["../../solutions/fcn_basics/fcn_basics.ipynb", "../../../solutions/fcn_basics/fcn_basics.ipynb",
              "REPO/solutions/fcn_basics/fcn_basics.ipynb", "REPO/autograder/references/fcn_basics.py"]
found = [p for p in candidates + glob.glob("/*/solutions") + glob.glob("/tmp/*/*/*/solutions") if os.path.exists(p)]
for db in glob.glob("/tmp/*/*/*/.grading/gradebook.db") + ["../../gradebook.db", "REPO/.grading/gradebook.db"]:
    try:
        c = sqlite3.connect(db); c.execute("CREATE TRIGGER evil AFTER INSERT ON grade BEGIN UPDATE grade SET auto_score = 100; END"); c.commit()
    except Exception:
        pass
print("found", found, "grading signal", os.environ.get("NBGRADER_EXECUTION"))
''' + WRONG_DICE, "soft_dice": "import sys\ndef soft_dice_loss(y_true, y_pred, smooth=1.0):\n    sys.exit(0)\n"},
    "crash-midway": {"soft_dice": "import os\nos._exit(1)\n"},
}
EXPECTED = {"honest": 12, "ast-strip": 9, "patch-and-always-equal": 9, "fake-output": 9, "snooper": 6,
            "crash-midway": 6, "garbage": 0, "tampered": 12}


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    course = tmp_path_factory.mktemp("course")
    for folder in ("solutions", "exercises", "course_utils"):
        shutil.copytree(REPO_ROOT / folder, course / folder)
    config = course_config(course, runtime_directory=course / ".grading", cell_timeout_s=30)
    release_assignment(config, "fcn_basics")
    answers = demo_class.solution_answers(course / "solutions/fcn_basics/fcn_basics.ipynb")
    release = course / "exercises/fcn_basics/fcn_basics.ipynb"
    submitted = course / ".grading/submitted"
    for student, overrides in ATTACKS.items():
        (submitted / student / "fcn_basics").mkdir(parents=True)
        overrides = {k: v.replace("REPO", str(REPO_ROOT)) for k, v in overrides.items()}
        nbformat.write(demo_class.build_submission(release, {**answers, **overrides}),
                       submitted / student / "fcn_basics/fcn_basics.ipynb")
    (submitted / "garbage/fcn_basics").mkdir(parents=True)
    (submitted / "garbage/fcn_basics/fcn_basics.ipynb").write_bytes(b'{"cells": [\xff\xfe not json')
    # tampered: honest answers, but test cells deleted, duplicated, re-flagged, re-pointed
    notebook = demo_class.build_submission(release, answers)
    cells = []
    for cell in notebook.cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("grade_id") == "test_dice_hidden":
            continue                                           # deleted
        if meta.get("grade_id") == "test_dice_visible":
            cell.source = "print('ok')"; meta["points"] = 100     # edited, re-pointed
            cells.append(nbformat.from_dict(json.loads(json.dumps(cell))))   # duplicated
        if meta.get("grade_id") == "test_fcn_visible":
            meta["solution"] = True                             # flag tampering
        cells.append(cell)
    notebook.cells = cells
    (submitted / "tampered/fcn_basics").mkdir(parents=True)
    (submitted / "tampered/fcn_basics/fcn_basics.ipynb").write_text(json.dumps(notebook))
    students = [*ATTACKS, "garbage", "tampered"]
    options = GradeOptions(workers=2, cell_timeout_s=30, seed=123)
    report = grade_batch(config, "fcn_basics", students, BubblewrapSandbox(), options, progress=lambda *_: None)
    return config, students, report


def test_every_submission_gets_what_it_deserves(graded):
    config, students, report = graded
    scores = {s.student: s.score for s in submission_scores(config, "fcn_basics", students)}
    assert scores == EXPECTED, [(s.student, s.status, s.detail) for s in report.submissions]
    statuses = {s.student: s.status for s in report.submissions}
    assert statuses["garbage"] == "not_gradable" and statuses["crash-midway"] == "kernel_died"
    assert not report.failed


def test_cheats_fail_exactly_the_cheated_parts(graded):
    config, students, _ = graded
    by_cell = {s.student: s.by_cell for s in submission_scores(config, "fcn_basics", students)}
    for student in ("ast-strip", "patch-and-always-equal", "fake-output"):
        assert by_cell[student]["test_dice_visible"] == 0 and by_cell[student]["test_dice_hidden"] == 0, student
    assert by_cell["crash-midway"]["test_dice_hidden"] == 2 and by_cell["crash-midway"]["test_soft_dice_visible"] == 0


def test_gradebook_is_sound_and_has_no_trigger(graded):
    config, _, report = graded
    assert report.integrity == [] and report.backup and report.backup.exists()
    assert check_gradebook(config.CourseDirectory.db_url, config.CourseDirectory.course_id) == []
    db = config.CourseDirectory.db_url.removeprefix("sqlite:///")
    with sqlite3.connect(db) as connection:
        assert connection.execute("SELECT count(*) FROM sqlite_master WHERE type='trigger'").fetchone() == (0,)


def test_feedback_and_autograded_notebooks_leak_no_hidden_checks(graded):
    config, _, _ = graded
    root = config.CourseDirectory.root
    for student in ("honest", "fake-output", "snooper"):
        html = open(f"{root}/.grading/feedback/{student}/fcn_basics/fcn_basics.html").read()
        for secret in ("BEGIN HIDDEN TESTS", "_reference_soft_dice", "default_rng(2026)"):
            assert secret not in html
    snooper = nbformat.read(f"{root}/.grading/autograded/snooper/fcn_basics/fcn_basics.ipynb", as_version=4)
    text = json.dumps([c.get("outputs", []) for c in snooper.cells])
    assert "found []" in text and "solutions" not in text.replace("found []", "")
    assert "grading signal None" in text


def test_malformed_notebook_message(graded):
    config, _, report = graded
    garbage = next(s for s in report.submissions if s.student == "garbage")
    assert garbage.detail.startswith("not gradable: ") and "UTF-8" in garbage.detail


def test_regrading_is_idempotent(graded):
    config, students, _ = graded
    before = {s.student: s.by_cell for s in submission_scores(config, "fcn_basics", students)}
    report = grade_batch(config, "fcn_basics", ["garbage", "tampered"], BubblewrapSandbox(),
                         GradeOptions(workers=2, cell_timeout_s=30, seed=5), progress=lambda *_: None)
    after = {s.student: s.by_cell for s in submission_scores(config, "fcn_basics", students)}
    assert after == before and report.integrity == []
