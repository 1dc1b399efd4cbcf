"""The batch loop without kernels: a fake sandbox stands in for the notebook run, so
these tests check the trusted side alone (one failing submission, seeds, time limits)."""

from __future__ import annotations

import json
import shutil
import sqlite3
import time
from pathlib import Path

import nbformat
import numpy as np
import pytest

from autograder import demo_class
from autograder.batch import GradeOptions, grade_batch
from autograder.batch_report import progress_bar
from autograder.course import course_config
from autograder.nbgrader_api import release_assignment, submission_scores
from autograder.sandbox import Job, Sandbox, SandboxResult
from autograder.trusted import rebuild_submission, write_probes
from tests import REPO_ROOT

ASSIGNMENT = "fcn_basics"


class RecordingSandbox(Sandbox):
    """Runs nothing: writes the state a finished notebook run leaves (no probe ran) and
    remembers each job, so tests can see the time limits it was given."""

    name = "fake"

    def __init__(self):
        self.jobs: list[Job] = []

    def available(self) -> bool:
        return True

    def run(self, job: Job) -> SandboxResult:
        self.jobs.append(job)
        notebook = nbformat.read(job.workdir / job.argv[2], as_version=4)
        now = time.time()
        records = [{"event": "start", "started": now}, {"event": "kernel_ready", "at": now + 2.5}]
        records += [{"event": "cell", "index": i, "id": c.get("id"), "status": "ok", "outputs": []}
                    for i, c in enumerate(notebook.cells) if c.cell_type == "code"]
        records.append({"event": "finished", "at": now + 6.0})
        return SandboxResult(0, "".join(json.dumps(r) + "\n" for r in records), "", False, 0.01)


@pytest.fixture
def small_class(tmp_path):
    """A course copy with fcn_basics released and three honest submissions."""
    for folder in ("solutions", "exercises"):
        shutil.copytree(REPO_ROOT / folder / ASSIGNMENT, tmp_path / folder / ASSIGNMENT)
    config = course_config(tmp_path, runtime_directory=tmp_path / ".grading", cell_timeout_s=60)
    release_assignment(config, ASSIGNMENT)
    answers = demo_class.solution_answers(tmp_path / "solutions" / ASSIGNMENT / demo_class.NOTEBOOK)
    release = tmp_path / "exercises" / ASSIGNMENT / demo_class.NOTEBOOK
    students = ["ada", "bob", "cyd"]
    for student in students:
        folder = tmp_path / ".grading" / "submitted" / student / ASSIGNMENT
        folder.mkdir(parents=True)
        nbformat.write(demo_class.build_submission(release, answers), folder / demo_class.NOTEBOOK)
    return config, students


def test_a_gradebook_error_fails_only_that_submission(small_class, monkeypatch):   # row 32
    config, students = small_class
    import autograder.nbgrader_api as nbgrader_api

    real_make_api = nbgrader_api.make_api

    def make_api_failing_for_bob(cfg):
        api = real_make_api(cfg)
        real_autograde = api.autograde

        def autograde(assignment, student, **kwargs):
            if student == "bob":
                raise sqlite3.OperationalError("database is locked")
            return real_autograde(assignment, student, **kwargs)

        api.autograde = autograde
        return api

    monkeypatch.setattr(nbgrader_api, "make_api", make_api_failing_for_bob)
    lines = []
    report = grade_batch(config, ASSIGNMENT, students, RecordingSandbox(),
                         GradeOptions(workers=2, seed=1, feedback=False), progress=lines.append)
    assert any(line.startswith("[" + "#" * 20 + "] 3/3 ") for line in lines), lines
    statuses = {s.student: s.status for s in report.submissions}
    assert statuses == {"ada": "ok", "bob": "infra_error", "cyd": "ok"}
    bob = next(s for s in report.submissions if s.student == "bob")
    assert "database is locked" in bob.detail and report.failed == ["bob"]
    graded = {s.student: s.graded for s in submission_scores(config, ASSIGNMENT, students)}
    assert graded == {"ada": True, "bob": False, "cyd": True} and report.integrity == []


def test_time_limits_are_per_cell_and_per_notebook(small_class):                   # row 39
    """Both budgets are the instructor's (set on the grading hardware) and reach the job."""
    config, students = small_class
    sandbox = RecordingSandbox()
    grade_batch(config, ASSIGNMENT, students[:1], sandbox,
                GradeOptions(workers=1, seed=1, feedback=False, cell_timeout_s=77, notebook_timeout_s=333),
                progress=lambda *_: None)
    (job,) = sandbox.jobs
    assert job.argv[job.argv.index("--cell-timeout") + 1] == "77"
    assert job.limits.wall_clock_s == 333


def _probe_inputs(folder: Path) -> dict[str, dict[str, np.ndarray]]:
    inputs = {}
    for probe in sorted(folder.iterdir()):
        with np.load(probe / "inputs.npz", allow_pickle=False) as data:
            inputs[probe.name] = {key: data[key] for key in data.files}
    return inputs


def test_probes_are_seeded(tmp_path):                                              # row 38
    release = REPO_ROOT / "exercises" / ASSIGNMENT / demo_class.NOTEBOOK
    notebook = rebuild_submission(release, release)
    runs = {}
    for name, seed in [("first", 7), ("again", 7), ("other", 8)]:
        write_probes(ASSIGNMENT, notebook, tmp_path / name, seed)
        runs[name] = _probe_inputs(tmp_path / name)
    assert runs["first"].keys() == runs["again"].keys() and any(runs["first"].values())

    def same(a, b):
        return all(a[p].keys() == b[p].keys() and all(np.array_equal(a[p][k], b[p][k]) for k in a[p]) for p in a)

    assert same(runs["first"], runs["again"])
    assert not same(runs["first"], runs["other"]), "a new seed must draw new probe inputs"


def test_progress_bar_fills_as_submissions_are_graded():
    assert progress_bar(0, 20) == "[--------------------]  0/20"
    assert progress_bar(9, 20) == "[#########-----------]  9/20"
    assert progress_bar(3, 3, width=6) == "[######] 3/3"


def test_timing_is_kept_in_the_summary_and_a_report(small_class):
    """Per-submission seconds (kernel start, cells, probes, recording) reach the summary
    table and grading-report-<assignment>.json beside grades.csv."""
    from autograder.batch_report import format_summary, write_batch_report
    from autograder.course import runtime_directory_of

    config, students = small_class
    report = grade_batch(config, ASSIGNMENT, students[:2], RecordingSandbox(),
                         GradeOptions(workers=1, seed=1, feedback=False), progress=lambda *_: None)
    for submission in report.submissions:
        assert submission.timing["kernel_start"] == 2.5 and submission.timing["cells"] == 3.5
        assert submission.timing["probes"] == 0 and submission.timing["record"] > 0
    summary = format_summary(report)
    assert "kernel s" in summary.splitlines()[0] and "record s" in summary.splitlines()[0]
    assert "2.5" in summary.splitlines()[2]
    path = write_batch_report(report, ASSIGNMENT, runtime_directory_of(config))
    saved = json.loads(path.read_text())
    assert path.parent == runtime_directory_of(config) and path.name == f"grading-report-{ASSIGNMENT}.json"
    assert [s["student"] for s in saved["submissions"]] == students[:2]
    assert saved["submissions"][0]["timing"]["cells"] == 3.5
