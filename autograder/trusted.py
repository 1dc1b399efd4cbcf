"""The trusted side of grading: sanitize a submission, stage probes, judge results, and
hand the verdicts to nbgrader.

1. ``rebuild_submission``: the notebook to run is the RELEASE notebook (tests, metadata,
   kernelspec always the instructor's) with the student's solution-cell sources taken by
   grade_id (first occurrence; missing -> the release stub) and the student's own extra
   cells (no grade_id of the release) kept in place. Anything unreadable raises
   ``NotGradable``.
2. ``write_probes``: each grade cell's probe inputs, drawn from a seed chosen here.
3. ``judge_submission``: reads what the harness sent on its results channel (one JSON
   record per cell and per probe, the first of each kept; arrays with
   ``allow_pickle=False``; types derived from the data, see ``references.Results.kind``)
   and decides each grade cell. Files the sandbox leaves in its work folder are ignored.
4. ``TrustedVerdicts``: an nbgrader preprocessor that replaces ``Execute`` in
   ``Autograde.autograde_preprocessors``: it writes each verdict as that grade cell's
   outputs (pass: one stdout line; fail: an ``error`` output) and restores the (sanitized)
   outputs of the other cells; nbgrader's ``SaveAutoGrades`` then stores the grades.
"""

from __future__ import annotations

import base64
import copy
import io
import json
import re
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path

import nbformat
import numpy as np
from nbgrader.preprocessors import NbGraderPreprocessor
from traitlets import Unicode

from autograder.harness_protocol import (
    MAX_CELL_OUTPUT_BYTES,
    MAX_RESULT_BYTES,
    PROBE_INPUTS,
    PROBE_SPEC,
    TIME_LIMIT_ERROR,
    CellStatus,
    Event,
    ProbeStatus,
)
from autograder.references import Fail, Results, load_checks

MAX_NOTEBOOK_BYTES = 20 * 1024 * 1024
STAGED_SUFFIX = ".verdicts.json"
SAFE_MIMETYPES = {"text/plain", "image/png", "image/jpeg"}     # no HTML/JS from student kernels


class NotGradable(Exception):
    """A submission that cannot be read; the message says why."""


@dataclass
class Verdict:
    passed: bool
    message: str
    points: float = 0.0


@dataclass
class StagedResult:
    """What a sandbox run produced, after trusted judging (JSON on disk)."""

    student: str
    notebook: str
    status: str                                     # ok | not_gradable | kernel_died | time_limit | infra_error
    detail: str = ""
    verdicts: dict[str, dict] = field(default_factory=dict)
    outputs: dict[str, list] = field(default_factory=dict)   # cell id -> outputs (non-grade cells)
    wall_s: float = 0.0
    timing: dict[str, float] = field(default_factory=dict)   # seconds per stage (see HarnessRecords.stage_seconds)
    notes: list[str] = field(default_factory=list)           # for the student: misplaced notebooks (autograder.late)

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(asdict(self)))

    @classmethod
    def load(cls, path: Path) -> StagedResult:
        return cls(**json.loads(Path(path).read_text()))


# ----------------------------------------------------------------------------- sanitize
def nbgrader_metadata(cell) -> dict:
    """The cell's ``metadata.nbgrader`` (grade_id, points, solution...); {} when absent or malformed."""
    meta = cell.get("metadata") if isinstance(cell, dict) else None
    meta = meta.get("nbgrader") if isinstance(meta, dict) else None
    return meta if isinstance(meta, dict) else {}


def grade_points(notebook) -> dict[str, float]:
    """grade_id -> points of every grade cell of ``notebook``."""
    return {nbgrader_metadata(c)["grade_id"]: float(nbgrader_metadata(c).get("points", 0)) for c in notebook.cells
            if nbgrader_metadata(c).get("grade") and nbgrader_metadata(c).get("grade_id")}


def _source(cell) -> str:
    source = cell.get("source", "")
    if isinstance(source, list):
        source = "".join(s for s in source if isinstance(s, str))
    return source if isinstance(source, str) else ""


def read_student_cells(path: Path) -> list[dict]:
    """The student's cells as plain dicts; ``NotGradable`` if the file cannot be read."""
    try:
        size = Path(path).stat().st_size
    except OSError as error:
        raise NotGradable(f"cannot read the notebook ({error.strerror})") from None
    if size > MAX_NOTEBOOK_BYTES:
        raise NotGradable(f"the notebook is {size / 1e6:.0f} MB, more than {MAX_NOTEBOOK_BYTES / 1e6:.0f} MB")
    raw = Path(path).read_bytes()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise NotGradable(f"the file is not UTF-8 text (byte {error.start})") from None
    try:
        data = json.loads(text)
    except (json.JSONDecodeError, RecursionError) as error:
        raise NotGradable(f"the file is not valid JSON ({getattr(error, 'msg', 'too deeply nested')})") from None
    if not isinstance(data, dict) or not isinstance(data.get("cells"), list):
        raise NotGradable("the file is not a Jupyter notebook (no list of cells)")
    if data.get("nbformat") != 4:
        raise NotGradable(f"unsupported notebook format {data.get('nbformat')!r} (expected nbformat 4)")
    return [c for c in data["cells"] if isinstance(c, dict)]


def rebuild_submission(release_notebook: Path, student_notebook: Path):
    """The notebook to grade: the release notebook with the student's answers."""
    release = nbformat.read(release_notebook, as_version=4)
    cells = read_student_cells(student_notebook)
    solution_ids = {nbgrader_metadata(c).get("grade_id") for c in release.cells if nbgrader_metadata(c).get("solution")}
    release_ids = {nbgrader_metadata(c).get("grade_id") for c in release.cells if nbgrader_metadata(c).get("grade_id")}
    release_cell_ids = {c.get("id") for c in release.cells}
    answers: dict[str, str] = {}
    extras: dict[str | None, list] = {}
    anchor = None
    for cell in cells:
        grade_id = nbgrader_metadata(cell).get("grade_id")
        if grade_id in release_ids:
            if grade_id in solution_ids and grade_id not in answers:
                answers[grade_id] = _source(cell)
            anchor = grade_id
            continue
        if cell.get("id") in release_cell_ids:      # a release cell stripped of its metadata: skip
            continue
        kind = cell.get("cell_type")
        if kind not in ("code", "markdown"):
            continue
        new = (nbformat.v4.new_code_cell if kind == "code" else nbformat.v4.new_markdown_cell)(_source(cell))
        new["id"] = f"student-{uuid.uuid4().hex[:12]}"
        extras.setdefault(anchor, []).append(new)
    built = copy.deepcopy(release)
    built.cells = list(extras.get(None, []))
    for cell in release.cells:
        cell = copy.deepcopy(cell)
        grade_id = nbgrader_metadata(cell).get("grade_id")
        if grade_id in answers:
            cell.source = answers[grade_id]
        built.cells.append(cell)
        if grade_id:
            built.cells.extend(extras.get(grade_id, []))
    return built


# ----------------------------------------------------------------------------- probes
def write_probes(assignment: str, notebook, folder: Path, seed: int, course_root: Path | None = None) -> dict:
    """Write each grade cell's probe (``spec.json`` + ``inputs.npz``) under ``folder``;
    returns the trusted ``Probe`` objects by grade_id (judges included). ``course_root``:
    where a check table outside this package lives (``load_checks``)."""
    checks = load_checks(assignment, course_root)
    probes = {}
    for index, cell in enumerate(notebook.cells):
        grade_id = nbgrader_metadata(cell).get("grade_id")
        if not (nbgrader_metadata(cell).get("grade") and grade_id in checks):
            continue
        rng = np.random.default_rng([seed, index])
        probe = checks[grade_id](rng)
        probes[grade_id] = probe
        target = folder / f"{len(probes):02d}-{re.sub(r'[^A-Za-z0-9_-]', '_', grade_id)}"
        target.mkdir(parents=True)
        spec = {"grade_id": grade_id, "calls": [c.to_json() for c in probe.calls]}
        (target / PROBE_SPEC).write_text(json.dumps(spec))
        np.savez(target / PROBE_INPUTS, **probe.arrays)
    return probes


@dataclass
class HarnessRecords:
    """What the harness sent on its results channel (autograder/harness.py ``_Channel``):
    the first record of each cell and of each probe; later duplicates are ignored."""

    started: bool = False
    finished: bool = False
    cells: dict[int, dict] = field(default_factory=dict)     # cell index -> {"status", "outputs", ...}
    probes: dict[str, dict] = field(default_factory=dict)    # grade_id -> {"status", "meta", "arrays", ...}
    timing: dict[str, float] = field(default_factory=dict)

    def stage_seconds(self, sandbox_started: float) -> dict[str, float]:
        """Seconds spent in each stage of the run, for the instructor's timing report (as the
        sandbox reported its clock: informational, never used to decide a point).

        ``harness_start``: sandbox start to harness start; ``kernel_start``: harness start to
        kernel ready; ``cells``: kernel ready to the last cell; ``probes``: the checks' calls
        (included in ``cells``)."""
        marks = [("harness_start", sandbox_started, self.timing.get("harness_started")),
                 ("kernel_start", self.timing.get("harness_started"), self.timing.get("kernel_ready")),
                 ("cells", self.timing.get("kernel_ready"), self.timing.get("cells_done"))]
        seconds = {name: round(end - start, 2) for name, start, end in marks
                   if start is not None and end is not None and 0 <= end - start < 86_400}
        probe_seconds = [p["seconds"] for p in self.probes.values() if isinstance(p.get("seconds"), (int, float))]
        seconds["probes"] = round(sum(probe_seconds), 2)
        return seconds

    @property
    def dead_at(self) -> int | None:
        return next((i for i, c in sorted(self.cells.items()) if c.get("status") == CellStatus.DEAD), None)

    @property
    def stuck_at(self) -> int | None:
        return next((i for i, c in sorted(self.cells.items()) if c.get("status") == CellStatus.STUCK), None)


def read_channel(data: bytes) -> HarnessRecords:
    """Parse the harness's channel (one JSON record per line); malformed lines are skipped."""
    records = HarnessRecords()
    for line in data.splitlines():
        try:
            record = json.loads(line)
        except (ValueError, RecursionError):
            continue
        if not isinstance(record, dict):
            continue
        event = record.get("event")
        if event == Event.START and not records.started:
            records.started = True
            if isinstance(record.get("started"), (int, float)):
                records.timing["harness_started"] = float(record["started"])
        elif event == Event.KERNEL_READY and isinstance(record.get("at"), (int, float)):
            records.timing.setdefault("kernel_ready", float(record["at"]))
        elif event == Event.CELL and isinstance(record.get("index"), int):
            records.cells.setdefault(record["index"], record)
        elif event == Event.PROBE and isinstance(record.get("grade_id"), str):
            records.probes.setdefault(record["grade_id"], record)
        elif event == Event.FINISHED and not records.finished:
            records.finished = True
            if isinstance(record.get("at"), (int, float)):
                records.timing["cells_done"] = float(record["at"])
    return records


def _load_results(record: dict) -> tuple[dict, dict]:
    """A probe record's results: the JSON metadata and the arrays (``allow_pickle=False``)."""
    meta, encoded = record.get("meta"), record.get("arrays")
    if not isinstance(meta, dict) or not isinstance(encoded, str):
        raise ValueError("results are malformed")
    if len(encoded) > MAX_RESULT_BYTES * 4 // 3 + 4:
        raise ValueError("results are too large")
    raw = io.BytesIO(base64.b64decode(encoded, validate=True))
    with np.load(raw, allow_pickle=False) as data:
        arrays = {key: np.array(data[key]) for key in data.files}
    return meta, arrays


def _sanitize_outputs(outputs, limit: int = MAX_CELL_OUTPUT_BYTES) -> list:
    clean, used = [], 0
    for output in outputs if isinstance(outputs, list) else []:
        if not isinstance(output, dict):
            continue
        kind = output.get("output_type")
        if kind == "stream" and output.get("name") in ("stdout", "stderr"):
            new = {"output_type": "stream", "name": output["name"], "text": _source({"source": output.get("text", "")})}
        elif kind == "error":
            new = {"output_type": "error", "ename": str(output.get("ename", ""))[:200],
                   "evalue": str(output.get("evalue", ""))[:2000],
                   "traceback": [str(t)[:4000] for t in output.get("traceback", [])][:50]
                   if isinstance(output.get("traceback"), list) else []}
        elif kind in ("display_data", "execute_result"):
            data = output.get("data") if isinstance(output.get("data"), dict) else {}
            data = {k: v for k, v in data.items() if k in SAFE_MIMETYPES and isinstance(v, (str, list))}
            if not data:
                continue
            new = {"output_type": "display_data", "data": data, "metadata": {}}
        else:
            continue
        size = len(json.dumps(new))
        if used + size > limit:
            clean.append({"output_type": "stream", "name": "stdout", "text": "[... output truncated ...]\n"})
            break
        used += size
        clean.append(new)
    return clean


def judge_submission(notebook, probes: dict, records: HarnessRecords,
                     grading_points: dict[str, float]) -> tuple[str, str, dict, dict]:
    """Decide every grade cell from what the harness sent on its channel (``read_channel``;
    never from files the sandbox left behind).

    Returns (status, detail, verdicts by grade_id, outputs by cell id)."""
    status, detail = _run_status(records)
    verdicts, outputs = {}, {}
    for index, cell in enumerate(notebook.cells):
        grade_id = nbgrader_metadata(cell).get("grade_id")
        if grade_id not in probes:
            if cell.cell_type == "code" and index in records.cells:
                outputs[cell.id] = _sanitize_outputs(records.cells[index].get("outputs"))
            continue
        record = records.probes.get(grade_id, {})
        try:
            verdict = _verdict(probes[grade_id], record, records, status, grading_points.get(grade_id, 0.0))
        except Fail as failure:
            verdict = Verdict(False, str(failure))
        except Exception as error:   # malformed results: never trust, never crash the batch
            verdict = Verdict(False, f"The checks' results could not be read ({type(error).__name__}).")
        verdicts[grade_id] = asdict(verdict)
    return status, detail, verdicts, outputs


def _run_status(records: HarnessRecords) -> tuple[str, str]:
    """How the run ended: ok, kernel_died or time_limit, and a detail for the instructor."""
    if records.dead_at is not None:
        return "kernel_died", f"kernel died at cell {records.dead_at}"
    if records.stuck_at is not None:
        reason = next((o.get("evalue") for o in records.cells[records.stuck_at].get("outputs", [])
                       if isinstance(o, dict) and o.get("ename") == TIME_LIMIT_ERROR), None)
        because = f": {reason}" if isinstance(reason, str) else ""
        return "time_limit", f"time limit at cell {records.stuck_at}{because}"
    if not records.finished:
        return "time_limit", "the notebook did not finish within the time limit"
    return "ok", ""


def _verdict(probe, record: dict, records: HarnessRecords, status: str, points: float) -> Verdict:
    """One grade cell's verdict from its probe's record; the probe's judge raises ``Fail``."""
    ran = record.get("status")
    if ran == ProbeStatus.RAN:
        meta, arrays = _load_results(record)
        return Verdict(True, str(probe.judge(Results(meta, arrays, probe.hidden))), points)
    if ran == ProbeStatus.TIMEOUT:
        return Verdict(False, "Time limit: the checked function did not return in time.")
    if ran == ProbeStatus.TIMEOUT_EARLIER:
        names = [str(n)[:80] for n in record.get("functions", []) if isinstance(n, str)][:5]
        return Verdict(False, f"Not checked: {', '.join(names) or 'the checked function'} timed out "
                              "earlier (time limit), so it is not called again.")
    if ran in (ProbeStatus.DEAD, None) and records.dead_at is not None:
        return Verdict(False, f"Not checked: the kernel died at cell {records.dead_at}.")
    if ran in (ProbeStatus.STUCK, None) and (records.stuck_at is not None or status == "time_limit"):
        return Verdict(False, "Not checked: time limit (the notebook stopped responding).")
    return Verdict(False, f"Not checked: {str(ran)[:300] if ran else 'the checks did not run'}.")


def not_gradable_result(student: str, notebook_name: str, reason: str, grade_ids: list[str]) -> StagedResult:
    message = f"not gradable: {reason}"
    return StagedResult(student, notebook_name, "not_gradable", message,
                        verdicts={g: asdict(Verdict(False, message)) for g in grade_ids})


# ----------------------------------------------------------------------------- nbgrader
def verdict_outputs(verdict: dict) -> list:
    if verdict.get("passed"):
        return [nbformat.v4.new_output("stream", name="stdout", text=f"✓ {verdict.get('message', 'passed')}\n")]
    message = str(verdict.get("message", "failed"))
    return [nbformat.v4.new_output("error", ename="CheckFailed", evalue=message, traceback=[f"CheckFailed: {message}"])]


class TrustedVerdicts(NbGraderPreprocessor):
    """Replaces nbgrader's ``Execute``: outputs come from the staged, trusted verdicts."""

    staging_directory = Unicode("", help="folder of <student>/<assignment>/<notebook>.verdicts.json").tag(config=True)

    def preprocess(self, nb, resources):
        info = resources.get("nbgrader", {})
        folder = Path(self.staging_directory) / info["student"] / info["assignment"]
        staged = StagedResult.load(folder / f"{info['notebook']}{STAGED_SUFFIX}")
        for cell in nb.cells:
            meta = nbgrader_metadata(cell)
            if cell.cell_type != "code":
                continue
            cell.execution_count = None
            if meta.get("grade") and meta.get("grade_id") in staged.verdicts:
                cell.outputs = [nbformat.from_dict(o) for o in verdict_outputs(staged.verdicts[meta["grade_id"]])]
            elif meta.get("grade"):
                cell.outputs = [nbformat.from_dict(o) for o in verdict_outputs(
                    {"passed": False, "message": staged.detail or "not checked: this test has no trusted check"})]
            else:
                cell.outputs = [nbformat.from_dict(o) for o in staged.outputs.get(cell.get("id"), [])]
        if staged.notes:    # misplaced notebooks: said at the top of the graded notebook and its feedback
            from autograder.late import notes_markdown
            nb.cells.insert(0, nbformat.v4.new_markdown_cell(notes_markdown(staged.notes)))
        return nb, resources
