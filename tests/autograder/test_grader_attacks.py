"""Adversarial submissions, graded in ONE sandboxed batch: cheats score 0 on what they
cheat, the honest student gets 12/12, malformed notebooks fail only themselves, the
gradebook stays sound and re-grading is idempotent.

Rows of the threat model (/work/shared/reference/grading-threat-model.md) covered here:
5/6 (copy-pasted test cells, duplicate cell ids), 7-13, 15 (forged results), 16, 17, 19 (network), 20 (tokens),
22 (SIGINT ignored), 23 (memory bomb), 24 (fork bomb), 25 (giant output), 26 (daemon),
28, 29, 31 (invalid JSON, nbformat 5), 33 (gradebook), 34 (other students' files),
35 (HTML/JS in feedback)."""

from __future__ import annotations

import json
import os
import pickle
import re
import shutil
import sqlite3
from pathlib import Path

import nbformat
import pytest

from autograder import demo_class
from autograder.batch import GradeOptions, grade_batch
from autograder.course import course_config
from autograder.gradebook import check_gradebook
from autograder.nbgrader_api import release_assignment, submission_scores
from autograder.sandbox import BubblewrapSandbox
from autograder.warm_sandbox import WarmBubblewrapSandbox
from tests import REPO_ROOT

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not BubblewrapSandbox().available(), reason="bubblewrap (and root) needed")]

WRONG_MULTI_LABEL = ("def multi_label_mask(labels, channel_classes):\n    return np.zeros((1,))\n"
                     "def decode_multi_label(probabilities, threshold=0.5):\n    return np.zeros((1,))\n")

ATTACKS = {  # REPO is replaced by the repository's path
    # honest, with Keras' input_shape UserWarning on stderr in the test cell
    "honest": {"fcn_model": demo_class.CORRECT_FCN_AS_ON_THE_SLIDE},
    "ast-strip": {"multi_label": '''
import ast
class _Strip(ast.NodeTransformer):
    def visit_Assert(self, node):
        return ast.Pass()
get_ipython().ast_transformers.append(_Strip())
get_ipython().input_transformers_cleanup.append(
    lambda lines: ["pass\\n"] if any("assert" in line for line in lines) else lines)
''' + WRONG_MULTI_LABEL},
    "patch-and-always-equal": {"multi_label": '''
import numpy.testing
numpy.testing.assert_allclose = lambda *a, **k: None
np.allclose = lambda *a, **k: True
np.array_equal = lambda *a, **k: True
class _Yes(np.ndarray):
    def __eq__(self, other): return True
def multi_label_mask(labels, channel_classes):
    return np.zeros(np.shape(labels) + (len(channel_classes),)).view(_Yes)
def decode_multi_label(probabilities, threshold=0.5):
    return np.zeros(np.shape(probabilities)).view(_Yes)
'''},
    "fake-output": {"multi_label": '''
get_ipython().displayhook("3")
from IPython.core.interactiveshell import InteractiveShell
InteractiveShell.showtraceback = None
get_ipython().set_custom_exc((BaseException,), lambda *a, **k: None)
''' + WRONG_MULTI_LABEL.replace("return np.zeros((1,))", 'get_ipython().displayhook("2"); return np.zeros((1,))')},
    "snooper": {"multi_label": '''
import glob, os, sqlite3, json
candidates = ["../../solutions/fcn_basics/fcn_basics.ipynb", "../../../solutions/fcn_basics/fcn_basics.ipynb",
              "REPO/solutions/fcn_basics/fcn_basics.ipynb", "REPO/autograder/references/fcn_basics.py"]
found = [p for p in candidates + glob.glob("/*/solutions") + glob.glob("/tmp/*/*/*/solutions") if os.path.exists(p)]
for db in glob.glob("/tmp/*/*/*/.grading/gradebook.db") + ["../../gradebook.db", "REPO/.grading/gradebook.db"]:
    try:
        c = sqlite3.connect(db)
        c.execute("CREATE TRIGGER evil AFTER INSERT ON grade BEGIN UPDATE grade SET auto_score = 100; END")
        c.commit()
    except Exception:
        pass
print("found", found, "grading signal", os.environ.get("NBGRADER_EXECUTION"))
''' + WRONG_MULTI_LABEL,
                "layer_shapes": "import sys\ndef fcn_upscaling_shapes(height, width, num_classes):\n    sys.exit(0)\n"},
    "crash-midway": {"layer_shapes": "import os\nos._exit(1)\n"},
    # 13: the grader's own code patched in the kernel; 15: forged results files, written
    # again and again by a thread (after the real probe wrote them)
    "forger": {"multi_label": """
import glob, json, os, threading, time
import numpy as np

def _forge_into(spec_folder, results_folder):
    with open(os.path.join(spec_folder, "spec.json")) as f:
        names = [c["name"] for c in json.load(f)["calls"]]
    os.makedirs(results_folder, exist_ok=True)
    np.savez(os.path.join(results_folder, "results.npz"), **{n: np.float64(1.0) for n in names})
    with open(os.path.join(results_folder, "results.json"), "w") as f:
        json.dump({n: {"status": "ok", "type": "builtins.float", "number": 1.0} for n in names}, f)

import segcourse_harness
_real_probe = segcourse_harness.run_probe
def _fake_probe(folder, namespace, results_folder=None):
    if "test_multi_label" in folder:
        _forge_into(folder, results_folder or folder)
    else:
        _real_probe(folder, namespace, results_folder)
segcourse_harness.run_probe = _fake_probe
print("harness patched")

def _keep_forging():
    while True:
        for results in glob.glob(".segcourse/results/*test_multi_label*"):
            try:
                _forge_into("/grader/probes/" + os.path.basename(results), results)
            except Exception:
                pass
        time.sleep(0.005)
threading.Thread(target=_keep_forging, daemon=True).start()
""" + WRONG_MULTI_LABEL},
}
# 41: every solution cell wrong, and the harness forged in each way a kernel can: the module
# swapped in sys.modules, its run_probe patched, a thread rewriting the results files (and
# trying the results channel, the probe inputs and the driver's descriptors). The forged
# values come from the course library (not available while graded) or are made up.
ALL_WRONG = {
    "encoding": "def labels_to_one_hot(labels, num_classes):\n    return np.ones((1,))\n"
                "def labels_from_scores(scores):\n    return np.ones((1,))\n",
    "multi_label": WRONG_MULTI_LABEL,
    "layer_shapes": "def fcn_upscaling_shapes(height, width, num_classes):\n    return [(1, 1, 1)] * 9\n",
    "fcn_model": "def build_fcn_upscaling(num_classes):\n    return keras.Sequential([keras.Input((None, None, 1)), "
                 "keras.layers.Conv2D(num_classes, 1)])\n",
}
FORGED_RUN_PROBE = """
import json, os, sys, types
import numpy as np

def _library_answer(function, args, kwargs):
    import importlib
    for module in ("course_utils.shapes", "course_utils.metrics", "course_utils.losses", "course_utils.models",
                   "course_utils.selfcheck"):
        try:
            found = getattr(importlib.import_module(module), function, None)
        except Exception:
            found = None
        if callable(found):
            return found(*args, **kwargs)
    return 1.0

def forged_run_probe(folder, namespace, results_folder=None):
    results_folder = results_folder or folder
    with open(os.path.join(folder, "spec.json")) as f:
        calls = json.load(f)["calls"]
    inputs = dict(np.load(os.path.join(folder, "inputs.npz")))
    results, arrays = {}, {}
    for call in calls:
        value = lambda a: inputs[a["array"]] if "array" in a else a.get("value", a.get("tuple"))
        try:
            got = _library_answer(call["function"], [value(a) for a in call.get("args", [])],
                                  {k: value(a) for k, a in call.get("kwargs", {}).items()})
            arrays[call["name"]] = np.asarray(got, dtype=float)
        except Exception:
            arrays[call["name"]] = np.float64(1.0)
        results[call["name"]] = {"status": "ok", "numpy": call["name"], "type": "builtins.float",
                                 "layers": [], "params": 0, "array": call["name"]}
    os.makedirs(results_folder, exist_ok=True)
    np.savez(os.path.join(results_folder, "results.npz"), **arrays)
    with open(os.path.join(results_folder, "results.json"), "w") as f:
        json.dump(results, f)
"""
FORGERS = {
    "forger-swapped-harness": FORGED_RUN_PROBE + """
fake = types.ModuleType("segcourse_harness")
fake.run_probe = forged_run_probe
fake.disable_timed_out = lambda *a, **k: []
sys.modules["segcourse_harness"] = fake
print("harness swapped")
""",
    "forger-patched-harness": FORGED_RUN_PROBE + """
import segcourse_harness
segcourse_harness.run_probe = forged_run_probe
print("harness patched")
""",
    "forger-rewriting-thread": FORGED_RUN_PROBE + """
import glob, threading, time
attempts = {"channel": 0, "inputs": 0}

def _record(grade_id):
    return (json.dumps({"event": "probe", "grade_id": grade_id, "status": "ran",
                        "meta": {"x": {"status": "ok", "number": 1.0}}, "arrays": ""}) + "\\n").encode()

def _keep_forging():
    while True:
        for results in glob.glob(".segcourse/results/*"):
            spec_folder = "/grader/probes/" + os.path.basename(results)
            try:
                forged_run_probe(spec_folder, {}, results)
            except Exception:
                pass
        for path in glob.glob("/proc/[0-9]*/fd/[0-9]*"):        # the driver's channel, if reachable
            try:
                with open(path, "ab") as f:
                    f.write(_record("test_multi_label_hidden")); attempts["channel"] += 1
            except OSError:
                pass
        for spec in glob.glob("/grader/probes/*/inputs.npz"):    # read-only
            try:
                open(spec, "ab").close(); attempts["inputs"] += 1
            except OSError:
                pass
        os.write(1, _record("test_fcn_hidden"))                  # the kernel's own stdout
        time.sleep(0.01)

threading.Thread(target=_keep_forging, daemon=True).start()
time.sleep(0.5)
print("rewriting thread started", attempts)
""",
}
FAKE_TOKEN = "ghp_segcourseFakeToken0123456789"      # set in the grader's environment during the batch
FIRST_SLOT = 20                                       # sandbox uids 61020-61021 for this module's batch

# Attacks that keep the honest answer ("{answer}") and add to it, by solution grade_id.
ADDED_TO_HONEST = {
    # 22: a loop that ignores SIGINT: the rest of the notebook scores 0 "time limit"
    "sigint-ignorer": {"layer_shapes": "{answer}\nimport signal, time\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\n"
                                    "while True:\n    time.sleep(0.05)\n"},
    # 23: a memory bomb in the checked function; 25: one 30 MB line of output
    "hog": {"multi_label": "def multi_label_mask(labels, channel_classes):\n    blocks = []\n    while True:\n"
                           "        blocks.append(bytes(256 * 1024 * 1024))  # calloc: address space, hardly any RAM\n",
            "encoding": "{answer}\nprint('x' * 30_000_000)\n"},
    # 43: an endless loop inside C code (builtin sum over an endless C iterator never checks
    # for signals): the interrupt cannot stop it, so the kernel is killed after the grace
    "c-loop": {"layer_shapes": "{answer}\nimport itertools\nsum(itertools.repeat(1, 10 ** 15))\n"},
    # 43: an interruptible endless loop in the checked function: one time limit, then the
    # function is never called again (not by the later cell below, nor by the probes)
    "slow-function": {"layer_shapes": "def fcn_upscaling_shapes(height, width, num_classes):\n    while True:\n"
                                      "        pass\n"},
}
# Cells the student adds at the end of the notebook (after the last test).
EXTRA_CELLS = {
    "slow-function": ["import time\nstarted = time.time()\ntry:\n    fcn_upscaling_shapes(8, 8, 2)\n"
                      "except Exception as error:\n"
                      "    print('called again:', type(error).__name__, round(time.time() - started))\n"],
    # 24: a fork bomb whose children sleep (they would outlive the kernel if nothing killed
    # them), by an otherwise honest student: the memory bomb may take the hog's kernel down
    "forker": ["""
import os, time
children = 0
try:
    for _ in range(5000):
        if os.fork() == 0:
            time.sleep(600); os._exit(0)
        children += 1
except OSError:
    pass
print("forked", children)
"""],
    # 19 network, 20 tokens, 26 daemon, 33 gradebook, 34 other students' files
    "spy": ["""
import os, socket, glob, time
for host in ("10.0.0.1", "8.8.8.8", "1.1.1.1"):
    s = socket.socket(); s.settimeout(2)
    try:
        s.connect((host, 53)); print("CONNECTED", host)
    except OSError as e:
        print("network blocked", host)
print("token visible", any("ghp_" in v for v in os.environ.values()), sorted(os.environ)[:40])
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        while True: time.sleep(1)
    os._exit(0)
""", """
import glob
targets = ["COURSE/.grading/gradebook.db", "COURSE/.grading/submitted/honest/fcn_basics/fcn_basics.ipynb",
           "COURSE/.grading/.staging", "COURSE/.grading/autograded", "../honest", "/tmp/segcourse-task-*"]
seen = [t for t in targets if glob.glob(t)]
written = []
for t in targets[:2]:
    try:
        open(t, "w").write("{}"); written.append(t)
    except OSError:
        pass
print("seen", seen, "written", written)
"""],
}
EXPECTED = {"honest": 12, "ast-strip": 9, "patch-and-always-equal": 9, "fake-output": 9, "snooper": 6, "forger": 9,
            "crash-midway": 6, "garbage": 0, "tampered": 12,
            "sigint-ignorer": 6, "hog": 9, "c-loop": 6, "slow-function": 9, "spy": 12, "forker": 12,
            "copy-paste": 12, "nbformat5": 0, "html": 12,
            **{forger: 0 for forger in FORGERS},
            "linked-folder": 0, "linked-student": 0, "linked-extra-file": 0, "linked-notebook": 0}
# 42: symbolic links in the submission tree -> what each points at ("COURSE" is the course copy)
LINKED = {"linked-folder": ("linked-folder/fcn_basics", "COURSE/solutions/fcn_basics"),
          "linked-student": ("linked-student", "COURSE/.grading/submitted/honest"),
          "linked-extra-file": ("linked-extra-file/fcn_basics/data.txt", "/etc/passwd"),
          "linked-notebook": ("linked-notebook/fcn_basics/fcn_basics.ipynb",
                              "COURSE/solutions/fcn_basics/fcn_basics.ipynb")}
SOLUTION_ONLY_LINE = "outside = labels[(labels < 0) | (labels >= num_classes)]"     # in solutions/, never in a release
HTML_ATTACK = '<script>alert(1)</script> <img src=x onerror="alert(2)">'
HONEST = ["honest", "tampered", "spy", "forker", "copy-paste", "html"]


@pytest.fixture(scope="module")
def graded(tmp_path_factory, request):
    """The class graded once per test run, even when pytest-xdist spreads this module's
    tests over several workers: two concurrent batches would share sandbox uids (and
    double the time). The first worker grades; the others wait and read its report."""
    import fcntl

    worker = getattr(request.config, "workerinput", {}).get("workerid")
    shared = tmp_path_factory.getbasetemp().parent if worker else tmp_path_factory.getbasetemp()
    with open(shared / "attacks-batch.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)         # released when the file closes
        saved = shared / "attacks-batch.pickle"
        if saved.exists():
            course, students, report = pickle.loads(saved.read_bytes())
        else:
            course, students, report = _grade_the_class(shared / "attacks-course")
            saved.write_bytes(pickle.dumps((course, students, report)))
    return course_config(course, runtime_directory=course / ".grading", cell_timeout_s=60), students, report


def _grade_the_class(course):
    course.mkdir()
    for folder in ("solutions", "exercises", "course_utils"):
        shutil.copytree(REPO_ROOT / folder, course / folder)
    config = course_config(course, runtime_directory=course / ".grading", cell_timeout_s=60)
    release_assignment(config, "fcn_basics")
    answers = demo_class.solution_answers(course / "solutions/fcn_basics/fcn_basics.ipynb")
    release = course / "exercises/fcn_basics/fcn_basics.ipynb"
    submitted = course / ".grading/submitted"
    for student, overrides in ATTACKS.items():
        (submitted / student / "fcn_basics").mkdir(parents=True)
        overrides = {k: v.replace("REPO", str(REPO_ROOT)) for k, v in overrides.items()}
        nbformat.write(demo_class.build_submission(release, {**answers, **overrides}),
                       submitted / student / "fcn_basics/fcn_basics.ipynb")
    for student, added in ADDED_TO_HONEST.items():
        (submitted / student / "fcn_basics").mkdir(parents=True)
        overrides = {k: v.replace("{answer}", answers[k]) for k, v in added.items()}
        notebook = demo_class.build_submission(release, {**answers, **overrides})
        notebook.cells += [nbformat.v4.new_code_cell(c.replace("COURSE", str(course)))
                           for c in EXTRA_CELLS.get(student, [])]
        nbformat.write(notebook, submitted / student / "fcn_basics/fcn_basics.ipynb")
    for student, forging in FORGERS.items():
        (submitted / student / "fcn_basics").mkdir(parents=True)
        wrong = {**ALL_WRONG, "encoding": ALL_WRONG["encoding"] + forging}
        nbformat.write(demo_class.build_submission(release, {**answers, **wrong}),
                       submitted / student / "fcn_basics/fcn_basics.ipynb")
    for student, (link, target) in LINKED.items():
        link, target = submitted / link, Path(target.replace("COURSE", str(course)))
        link.parent.mkdir(parents=True, exist_ok=True)
        if student == "linked-extra-file":      # an honest notebook beside the link
            nbformat.write(demo_class.build_submission(release, answers), link.parent / "fcn_basics.ipynb")
        link.symlink_to(target)
    for student in ("spy", "forker"):
        (submitted / student / "fcn_basics").mkdir(parents=True)
        notebook = demo_class.build_submission(release, answers)
        notebook.cells += [nbformat.v4.new_code_cell(c.replace("COURSE", str(course))) for c in EXTRA_CELLS[student]]
        nbformat.write(notebook, submitted / student / "fcn_basics/fcn_basics.ipynb")
    # 5/6: every test cell pasted twice (same grade_id, same cell id), a second, wrong multi-label answer
    notebook = demo_class.build_submission(release, answers)
    pasted = []
    for cell in notebook.cells:
        pasted.append(cell)
        if cell.metadata.get("nbgrader", {}).get("grade"):
            pasted.append(nbformat.from_dict(json.loads(json.dumps(cell))))
        if cell.metadata.get("nbgrader", {}).get("grade_id") == "multi_label":
            second = nbformat.from_dict(json.loads(json.dumps(cell)))
            second.source = WRONG_MULTI_LABEL
            pasted.append(second)
    notebook.cells = pasted
    (submitted / "copy-paste/fcn_basics").mkdir(parents=True)
    (submitted / "copy-paste/fcn_basics/fcn_basics.ipynb").write_text(json.dumps(notebook))
    # 31: a notebook of a format this grader does not read
    (submitted / "nbformat5/fcn_basics").mkdir(parents=True)
    (submitted / "nbformat5/fcn_basics/fcn_basics.ipynb").write_text(json.dumps({**notebook, "nbformat": 5}))
    # 35: HTML and JavaScript in a markdown cell and in display outputs
    notebook = demo_class.build_submission(release, answers)
    notebook.cells += [nbformat.v4.new_markdown_cell("## My notes\n\n" + HTML_ATTACK),
                       nbformat.v4.new_code_cell(f"from IPython.display import HTML, Javascript, display\n"
                                                 f"display(HTML({HTML_ATTACK!r}))\ndisplay(Javascript('alert(3)'))\n"
                                                 f"print({HTML_ATTACK!r})")]
    (submitted / "html/fcn_basics").mkdir(parents=True)
    nbformat.write(notebook, submitted / "html/fcn_basics/fcn_basics.ipynb")
    (submitted / "garbage/fcn_basics").mkdir(parents=True)
    (submitted / "garbage/fcn_basics/fcn_basics.ipynb").write_bytes(b'{"cells": [\xff\xfe not json')
    # tampered: honest answers, but test cells deleted, duplicated, re-flagged, re-pointed
    notebook = demo_class.build_submission(release, answers)
    cells = []
    for cell in notebook.cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("grade_id") == "test_multi_label_hidden":
            continue                                           # deleted
        if meta.get("grade_id") == "test_multi_label_visible":
            cell.source = "print('ok')"                          # edited
            meta["points"] = 100                                # re-pointed
            cells.append(nbformat.from_dict(json.loads(json.dumps(cell))))   # duplicated
        if meta.get("grade_id") == "test_fcn_visible":
            meta["solution"] = True                             # flag tampering
        cells.append(cell)
    notebook.cells = cells
    (submitted / "tampered/fcn_basics").mkdir(parents=True)
    (submitted / "tampered/fcn_basics/fcn_basics.ipynb").write_text(json.dumps(notebook))
    students = [*ATTACKS, "garbage", "tampered", *ADDED_TO_HONEST, "spy", "forker", "copy-paste", "nbformat5", "html",
                *FORGERS, *LINKED]
    # notebook_timeout: the SIGINT-ignoring kernel is killed with its sandbox after this long
    options = GradeOptions(workers=2, cell_timeout_s=60, notebook_timeout_s=240, seed=123, first_slot=FIRST_SLOT)
    os.environ["GITHUB_TOKEN"] = FAKE_TOKEN          # 20: a secret of the instructor's environment
    try:
        report = grade_batch(config, "fcn_basics", students, WarmBubblewrapSandbox(), options, progress=lambda *_: None)
    finally:
        del os.environ["GITHUB_TOKEN"]
    return course, students, report


def test_every_submission_gets_what_it_deserves(graded):
    config, students, report = graded
    scores = {s.student: s.score for s in submission_scores(config, "fcn_basics", students)}
    if scores.get("hog") in (3, 6):     # the memory bomb may take the kernel down (see the test below)
        scores["hog"] = EXPECTED["hog"]
    assert scores == EXPECTED, [(s.student, s.status, s.detail) for s in report.submissions]
    statuses = {s.student: s.status for s in report.submissions}
    assert statuses["garbage"] == "not_gradable" and statuses["crash-midway"] == "kernel_died"
    assert not report.failed


def test_cheats_fail_exactly_the_cheated_parts(graded):
    config, students, _ = graded
    by_cell = {s.student: s.by_cell for s in submission_scores(config, "fcn_basics", students)}
    for student in ("ast-strip", "patch-and-always-equal", "fake-output"):
        assert by_cell[student]["test_multi_label_visible"] == 0 and by_cell[student]["test_multi_label_hidden"] == 0, \
            student
    assert by_cell["crash-midway"]["test_multi_label_hidden"] == 2
    assert by_cell["crash-midway"]["test_layer_shapes_visible"] == 0


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
        for secret in ("BEGIN HIDDEN TESTS", "_want_decoded", "default_rng(2027)"):
            assert secret not in html
    snooper = nbformat.read(f"{root}/.grading/autograded/snooper/fcn_basics/fcn_basics.ipynb", as_version=4)
    text = json.dumps([c.get("outputs", []) for c in snooper.cells])
    assert "found []" in text and "solutions" not in text.replace("found []", "")
    assert "grading signal None" in text


def test_malformed_notebook_message(graded):
    config, _, report = graded
    garbage = next(s for s in report.submissions if s.student == "garbage")
    assert garbage.detail.startswith("not gradable: ") and "UTF-8" in garbage.detail


def _outputs_of(config, student: str) -> str:
    root = config.CourseDirectory.root
    notebook = nbformat.read(f"{root}/.grading/autograded/{student}/fcn_basics/fcn_basics.ipynb", as_version=4)
    return json.dumps([c.get("outputs", []) for c in notebook.cells])


def _verdicts(config, student: str) -> dict:
    root = config.CourseDirectory.root
    path = f"{root}/.grading/.staging/fcn_basics/verdicts/{student}/fcn_basics/fcn_basics.verdicts.json"
    return json.loads(open(path).read())["verdicts"]


def test_batch_invariants(graded):
    """Batch complete, honest grades equal the honest baseline, no sandbox process left."""
    config, students, report = graded
    assert [s.student for s in report.submissions] == students and not report.failed
    by_cell = {s.student: s.by_cell for s in submission_scores(config, "fcn_basics", students)}
    for student in HONEST:
        assert by_cell[student] == by_cell["honest"] == demo_class.EXPECTED_POINTS["demo-correct"], student
    survivors = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            uid = next(int(line.split()[1]) for line in open(f"/proc/{pid}/status") if line.startswith("Uid:"))
        except (OSError, StopIteration):
            continue
        if 61000 + FIRST_SLOT <= uid < 61000 + FIRST_SLOT + 2:
            survivors.append(pid)
    assert survivors == [], "sandbox processes (daemon, fork bomb) outlived the batch"


def test_patched_harness_and_forged_results_earn_nothing(graded):              # rows 13, 15
    config, _, _ = graded
    assert "harness patched" in _outputs_of(config, "forger"), "the attack did not run"
    verdicts = _verdicts(config, "forger")
    assert not verdicts["test_multi_label_visible"]["passed"] and not verdicts["test_multi_label_hidden"]["passed"]
    assert verdicts["test_layer_shapes_hidden"]["passed"] and verdicts["test_fcn_hidden"]["passed"]


def test_sigint_ignoring_loop_costs_only_the_rest_of_the_notebook(graded):    # row 22
    config, _, report = graded
    status = next(s for s in report.submissions if s.student == "sigint-ignorer")
    assert status.status == "time_limit" and "ignored the interrupt" in status.detail, status.detail
    verdicts = _verdicts(config, "sigint-ignorer")
    for grade_id in ("test_layer_shapes_visible", "test_layer_shapes_hidden", "test_fcn_visible", "test_fcn_hidden"):
        assert not verdicts[grade_id]["passed"] and "time limit" in verdicts[grade_id]["message"].lower()
    assert verdicts["test_multi_label_hidden"]["passed"]


def test_memory_fork_bombs_and_giant_output_are_confined(graded):               # rows 23, 24, 25
    config, students, _ = graded
    verdicts = _verdicts(config, "hog")
    assert not verdicts["test_multi_label_visible"]["passed"]
    assert "MemoryError" in verdicts["test_multi_label_visible"]["message"]
    assert verdicts["test_encoding_hidden"]["passed"]
    # After a MemoryError the kernel usually goes on (later parts pass), but it may also die
    # later: the bomb's blocks stay referenced, and what the last 256 MB block leaves below the
    # address-space limit (less than 256 MB, depending on the kernel's size) may not be enough
    # for TensorFlow to build the FCN. Confined to this student either way: the parts before
    # the death keep their points, every part after it is "kernel died".
    later = [verdicts[g] for g in ("test_layer_shapes_hidden", "test_fcn_hidden")]
    died = ["kernel died" in v["message"] for v in later]
    assert all(v["passed"] or dead for v, dead in zip(later, died)) and died == sorted(died), later
    forked = re.search(r"forked (\d+)", _outputs_of(config, "forker"))
    assert forked and int(forked.group(1)) < 512                 # RLIMIT_NPROC of the sandbox uid
    outputs = _outputs_of(config, "hog")
    root = config.CourseDirectory.root
    autograded = f"{root}/.grading/autograded/hog/fcn_basics/fcn_basics.ipynb"
    assert os.path.getsize(autograded) < 1_000_000 and "truncated" in outputs      # bytes capped
    assert "x" * 200_000 not in outputs


def test_spy_sees_no_network_secrets_or_other_students(graded):                  # rows 19, 20, 26, 33, 34
    config, students, _ = graded
    outputs = _outputs_of(config, "spy")
    assert outputs.count("network blocked") == 3 and "CONNECTED" not in outputs
    assert "token visible False" in outputs and FAKE_TOKEN not in outputs
    assert "seen [] written []" in outputs
    by_cell = {s.student: s.by_cell for s in submission_scores(config, "fcn_basics", students)}
    assert by_cell["honest"] == demo_class.EXPECTED_POINTS["demo-correct"]      # the victim is intact


def test_copy_pasted_tests_and_duplicate_ids_are_tolerated(graded):             # rows 5, 6
    config, _, report = graded
    status = next(s for s in report.submissions if s.student == "copy-paste")
    assert status.status == "ok", status.detail


def test_nbformat_5_is_not_gradable_with_a_message(graded):                      # row 31
    _, _, report = graded
    status = next(s for s in report.submissions if s.student == "nbformat5")
    assert status.status == "not_gradable" and "unsupported notebook format 5" in status.detail


def test_feedback_carries_no_student_script_or_event_handler(graded):            # row 35
    config, _, _ = graded
    root = config.CourseDirectory.root
    for path in (f"{root}/.grading/feedback/html/fcn_basics/fcn_basics.html",):
        html = open(path).read()
        assert "My notes" in html                                    # the student's markdown is shown...
        assert not re.search(r"<script[^>]*>[^<]*alert\(", html)    # ...without its scripts (code is shown as text)
        assert not re.search(r"<[^>]*\bonerror\s*=", html)
    autograded = nbformat.read(f"{root}/.grading/autograded/html/fcn_basics/fcn_basics.ipynb", as_version=4)
    markdown = " ".join(c.source for c in autograded.cells if c.cell_type == "markdown")
    assert "<script>" not in markdown and not re.search(r"<[^>]*\bonerror\s*=", markdown)


def test_regrading_is_idempotent(graded):
    config, students, _ = graded
    before = {s.student: s.by_cell for s in submission_scores(config, "fcn_basics", students)}
    report = grade_batch(config, "fcn_basics", ["garbage", "tampered"], WarmBubblewrapSandbox(),
                         GradeOptions(workers=2, cell_timeout_s=60, seed=5, first_slot=FIRST_SLOT),
                         progress=lambda *_: None)
    after = {s.student: s.by_cell for s in submission_scores(config, "fcn_basics", students)}
    assert after == before and report.integrity == []


def test_forged_harness_with_wrong_answers_earns_nothing(graded):                  # row 41
    config, students, report = graded
    scores = {s.student: s.score for s in submission_scores(config, "fcn_basics", students)}
    for student, signal in zip(FORGERS, ("harness swapped", "harness patched", "rewriting thread started")):
        assert signal in _outputs_of(config, student), f"{student}: the attack did not run"
        assert scores[student] == 0, (student, _verdicts(config, student))


def test_symbolic_links_make_a_submission_not_gradable(graded):                    # row 42
    config, _, report = graded
    root = config.CourseDirectory.root
    for student in LINKED:
        status = next(s for s in report.submissions if s.student == student)
        assert status.status == "not_gradable" and "symbolic link" in status.detail, (student, status.detail)
        for shown in (f"{root}/.grading/feedback/{student}/fcn_basics/fcn_basics.html",
                      f"{root}/.grading/autograded/{student}/fcn_basics/fcn_basics.ipynb"):
            if os.path.exists(shown):
                text = open(shown).read()
                assert SOLUTION_ONLY_LINE not in text and "root:x:0:0" not in text, shown


def test_cell_ignoring_the_interrupt_is_killed_after_a_grace(graded):              # row 43
    config, _, report = graded
    for student in ("sigint-ignorer", "c-loop"):
        status = next(s for s in report.submissions if s.student == student)
        assert status.status == "time_limit" and "ignored the interrupt" in status.detail, (student, status.detail)
        verdicts = _verdicts(config, student)
        assert verdicts["test_encoding_hidden"]["passed"] and verdicts["test_multi_label_hidden"]["passed"]
        assert not verdicts["test_fcn_hidden"]["passed"]


def test_timed_out_function_is_not_called_again(graded):                           # row 43
    config, _, report = graded
    verdicts = _verdicts(config, "slow-function")
    assert "Time limit" in verdicts["test_layer_shapes_visible"]["message"] or \
        "timed out earlier" in verdicts["test_layer_shapes_visible"]["message"]
    assert "timed out earlier" in verdicts["test_layer_shapes_hidden"]["message"]
    assert verdicts["test_fcn_hidden"]["passed"]
    assert "called again: TimedOutEarlier 0" in _outputs_of(config, "slow-function")
