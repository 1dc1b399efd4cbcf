"""What a grading batch reports: each submission's status, score and timing, as the
summary table printed at the end and as ``grading-report-<assignment>.json``; and the
written answers that wait for the instructor's grade (``format_written_answers``, also
shown by ``segcourse status``)."""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

FAILED_STATUSES = ("infra_error", "nbgrader_error")    # the grading machinery failed, not the student


@dataclass
class SubmissionReport:
    """One submission of the batch. ``status``: ok, not_gradable, kernel_died, time_limit,
    infra_error, nbgrader_error or stopped; ``timing``: seconds per stage (harness_start,
    kernel_start, cells, probes, record)."""

    student: str
    status: str
    detail: str = ""
    score: float | None = None
    max_score: float | None = None
    run_s: float = 0.0
    grade_s: float = 0.0
    timing: dict[str, float] = field(default_factory=dict)
    late_s: float = 0.0                 # seconds after the gradebook's due date (autograder.late)
    penalty: float = 0.0                # nbgrader's late-submission penalty, points
    notes: list[str] = field(default_factory=list)   # misplaced notebooks, an empty timestamp.txt
    recorded: bool = True               # False: nothing was written to the gradebook (a rejected timestamp)


@dataclass
class BatchReport:
    submissions: list[SubmissionReport]
    backup: Path | None
    integrity: list[str]
    wall_s: float
    stopped: bool = False               # Ctrl-C or SIGTERM: the running submissions finished, no new one started
    events: list[str] = field(default_factory=list)   # what happened to the workers (a Dask worker that died)
    written: list[dict] = field(default_factory=list)  # written answers (nbgrader_api.WrittenAnswer) to grade by hand

    @property
    def failed(self) -> list[str]:
        return [s.student for s in self.submissions if s.status in FAILED_STATUSES]


def progress_bar(done: int, total: int, width: int = 20) -> str:
    """``[#########-----------]  9/20``: submissions graded so far, as a text bar."""
    filled = done * width // max(total, 1)
    return f"[{'#' * filled}{'-' * (width - filled)}] {done:>{len(str(total))}}/{total}"


def progress_line(done: int, total: int, report: SubmissionReport) -> str:
    """One line per submission as it is recorded: the bar, the status, the first line of
    the detail, and the seconds it took."""
    detail = f" ({report.detail.splitlines()[0][:120]})" if report.detail else ""
    return (f"{progress_bar(done, total)} {report.student}: {report.status}{detail}"
            f" run {report.run_s:.0f} s, record {report.grade_s:.1f} s")


def write_batch_report(report: BatchReport, assignment: str, folder: Path) -> Path:
    """Write ``<folder>/grading-report-<assignment>.json`` (beside grades.csv; kept after the
    run): each submission's status, detail, score, sandbox seconds and seconds per stage.
    Written to a temporary file and renamed, so an old report is never left half-written."""
    from autograder.atomic_files import write_text_atomically  # a failure: OutputError, one line, no leftover

    path = Path(folder) / f"grading-report-{assignment}.json"
    data = {"assignment": assignment, "finished": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "wall_s": round(report.wall_s, 1), "integrity": report.integrity,
            "submissions": [asdict(s) for s in report.submissions], "written_answers": report.written}
    return write_text_atomically(path, json.dumps(data, indent=1))


TIMING_COLUMNS = [("kernel s", "kernel_start"), ("cells s", "cells"), ("probes s", "probes"), ("record s", "record")]


def format_summary(report: BatchReport) -> str:
    """The batch as a text table: status, score and where each submission's time went."""
    from autograder.late import describe_delay
    from autograder.text_table import text_table

    rows = [["student", "status", "score", "late", "run s", *(title for title, _ in TIMING_COLUMNS), "detail"]]
    for s in report.submissions:
        score = f"{s.score:g}/{s.max_score:g}" if s.score is not None else "-"
        stages = [f"{s.timing[key]:.1f}" if key in s.timing else "-" for _, key in TIMING_COLUMNS]
        late = f"{describe_delay(s.late_s)}, -{s.penalty:g}" if s.late_s > 0 else "-"
        detail = (s.detail.splitlines() or s.notes or [""])[0]
        rows.append([s.student, s.status, score, late, f"{s.run_s:.0f}", *stages, detail[:70]])
    notes = [f"  {s.student}: {note}" for s in report.submissions for note in s.notes]
    notes += [f"  {s.student}: {s.detail.splitlines()[0]}" for s in report.submissions
              if not s.recorded and s.detail]
    return "\n".join([text_table(rows)] + (["notes:", *notes] if notes else []))


def written_answer_record(answer) -> dict:
    """A written answer (``nbgrader_api.WrittenAnswer``) for the JSON report: who, which cell,
    its points (None: waiting for the instructor), whether it is blank, and its text."""
    return {"student": answer.student, "notebook": answer.notebook, "grade_id": answer.grade_id,
            "max_points": answer.max_points, "score": answer.score, "pending": answer.pending,
            "blank": answer.blank, "text": answer.text}


def format_written_answers(answers) -> str:
    """The written answers (``nbgrader_api.WrittenAnswer``) as text: those still waiting for a
    grade in the formgrader (blank ones flagged) and the points they hold back; a line saying
    they are all graded otherwise."""
    from autograder.text_table import text_table

    if not answers:
        return "written answers: none submitted"
    pending = [a for a in answers if a.pending]
    if not pending:
        return f"written answers: all {len(answers)} graded"
    rows = [["assignment", "student", "cell", "points", "answer"]]
    for a in pending:
        first_line = " ".join(_plain_text(a.text).split())[:60]
        shown = "BLANK: no answer written (the release's text is unchanged or empty)" if a.blank else first_line
        rows.append([a.assignment, a.student, a.grade_id, f"{a.max_points:g}", shown])
    blank = sum(a.blank for a in pending)
    return (f"written answers to grade by hand in the formgrader (Manual Grading): {len(pending)} of "
            f"{len(answers)}, {sum(a.max_points for a in pending):g} points pending"
            + (f", {blank} blank" if blank else "") + "\n" + text_table(rows))


def _plain_text(html: str) -> str:
    import html as html_module
    import re
    return html_module.unescape(re.sub(r"<[^>]*>", " ", html))
