"""Late work and misplaced work, through nbgrader's own mechanisms.

- **Due date**: nbgrader's ``Assignment.duedate`` in the gradebook (set with
  ``segcourse grade NAME --due 2026-12-01T23:59``, the formgrader's "Manage Assignments",
  or ``nbgrader db assignment add NAME --duedate ...``). nbgrader reads each submission's
  ``timestamp.txt`` in ``autograde`` and stores how late it is.
- **Penalty**: nbgrader's ``AssignLatePenalties`` calls a ``LateSubmissionPlugin`` for each
  late notebook. ``PenaltyPerTimeUnit`` (set by ``autograder.course.course_config``) takes
  a policy: ``none`` (nbgrader's default), ``zero`` (nbgrader's own: the score is lost), or
  ``POINTS/UNIT`` (e.g. ``1/hour``: POINTS for every started UNIT late, at most the
  notebook's score; nbgrader itself caps a penalty at the score).
- **Timestamps** (``read_timestamp``): parsed as nbgrader 0.9.6's
  ``CourseDirectory.get_existing_timestamp`` does (``nbgrader.utils.parse_utc``). An empty
  file counts as no timestamp (nbgrader warns and grades it as on time); a file that is
  not a time makes nbgrader's autograde of that submission fail (``Invalid timestamp
  string``; in 0.9.6 the call behind that message raises ``AttributeError``), so nothing is
  recorded: ``segcourse grade`` does the same (status ``not_gradable``, gradebook untouched,
  the reason and the fix in the summary).
- **Feedback** (``LateNotice``): a ``generate_feedback`` step that puts a note at the top of a
  late submission's feedback: when it was submitted, how late, the penalty and the policy.
  nbgrader's own feedback template adds "Late submission penalty (Score: -N)" to its list.
- **Misplaced notebooks** (``extra_notebooks``): notebooks in a student's folder that the
  release does not have (``fcn_basics-Copy1.ipynb``) are never graded; the summary and the
  student's feedback say so and name the file to rename.
"""

from __future__ import annotations

import difflib
import math
import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from nbgrader.plugins import LateSubmissionPlugin
from nbgrader.preprocessors import NbGraderPreprocessor
from traitlets import Unicode

UNITS = {"minute": 60, "hour": 3600, "day": 86400, "week": 604800}
_UNIT_ALIASES = {"min": "minute", "mins": "minute", "minute": "minute", "minutes": "minute", "m": "minute",
                 "h": "hour", "hr": "hour", "hour": "hour", "hours": "hour",
                 "d": "day", "day": "day", "days": "day", "w": "week", "week": "week", "weeks": "week"}
MAX_TIMESTAMP_BYTES = 1000


@dataclass(frozen=True)
class LatePolicy:
    """``none``, ``zero`` or ``per_unit`` (``points`` for each started ``unit`` late)."""

    method: str = "none"
    points: float = 0.0
    unit: str = ""

    def penalty(self, score: float, seconds_late: float) -> float | None:
        """The penalty of a notebook scoring ``score``, ``seconds_late`` after the due date
        (None: no penalty, as nbgrader's plugin returns)."""
        if seconds_late <= 0 or self.method == "none":
            return None
        if self.method == "zero":
            return score
        return min(score, self.points * math.ceil(seconds_late / UNITS[self.unit]))

    def describe(self) -> str:
        if self.method == "none":
            return "no penalty"
        if self.method == "zero":
            return "a late notebook scores 0"
        return f"{self.points:g} point{'s' if self.points != 1 else ''} per started {self.unit} late, at most the score"


def parse_late_policy(text: str) -> LatePolicy:
    """``none``, ``zero``, or ``POINTS/UNIT`` (unit: minute, hour, day, week); ValueError
    saying what is expected otherwise."""
    cleaned = str(text).strip().lower()
    if cleaned in ("none", "zero"):
        return LatePolicy(cleaned)
    match = re.fullmatch(r"(\d+(?:\.\d+)?)\s*(?:points?|pts?)?\s*(?:/|per\s+)\s*([a-z]+)", cleaned)
    unit = _UNIT_ALIASES.get(match.group(2)) if match else None
    if not match or unit is None or float(match.group(1)) <= 0:
        raise ValueError(f"expected a late penalty such as 1/hour, 2/day, 0.5/minute, zero or none, got {text!r}")
    return LatePolicy("per_unit", float(match.group(1)), unit)


def parse_due_date(text: str) -> datetime | None:
    """A due date as nbgrader stores it (naive UTC); ``none`` clears it. A time without a
    zone is UTC (as nbgrader's ``parse_utc``); an offset (``+01:00``) or a zone name as the
    third word (``2026-12-01 23:59 Europe/Berlin``) is converted. ValueError saying what is
    expected otherwise."""
    import warnings

    import dateutil.parser
    import dateutil.tz
    from nbgrader.utils import parse_utc

    text = str(text).strip()
    if text.lower() == "none":
        return None
    try:
        parts = text.split(" ")
        if len(parts) == 3 and dateutil.tz.gettz(parts[2]) is not None and parts[2][:1] not in "+-":
            return parse_utc(text)          # nbgrader's own form: DATE TIME ZONE-NAME
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # an unknown zone name is an error, not ignored
            return parse_utc(dateutil.parser.parse(text))   # nbgrader reads "+0100" as 100 seconds
    except (ValueError, OverflowError, Warning):
        raise ValueError(f"expected a due date such as 2026-12-01T23:59 (UTC) or "
                         f"'2026-12-01 23:59 Europe/Berlin', or none, got {text!r}") from None


def describe_delay(seconds: float) -> str:
    """``2 d 3 h``, ``3 h 10 min``, ``42 min``, ``15 s``."""
    seconds = int(round(seconds))
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days} d {hours} h"
    if hours:
        return f"{hours} h {minutes} min"
    return f"{minutes} min" if minutes else f"{secs} s"


class PenaltyPerTimeUnit(LateSubmissionPlugin):
    """nbgrader's late-submission plugin with one more method: POINTS per started UNIT late."""

    policy = Unicode("none", help="none, zero, or POINTS/UNIT (e.g. 1/hour): POINTS for each started "
                                  "UNIT (minute, hour, day, week) late, at most the notebook's score").tag(config=True)

    def late_submission_penalty(self, student_id: str, score: float, total_seconds_late: float):
        penalty = parse_late_policy(self.policy).penalty(score, total_seconds_late)
        self.log.info("Late submission penalty of %s (%s): %s", student_id, self.policy, penalty)
        return penalty


# ----------------------------------------------------------------------------- timestamps
@dataclass
class Timestamp:
    text: str | None = None        # the time to hand nbgrader (None: no timestamp)
    problem: str = ""              # why the submission cannot be graded (nbgrader rejects it too)
    note: str = ""                 # said in the summary, grading goes on


def read_timestamp(folder: Path) -> Timestamp:
    """The submission's ``timestamp.txt``, judged as nbgrader 0.9.6 judges it."""
    from nbgrader.utils import parse_utc

    path = Path(folder) / "timestamp.txt"
    if not path.exists() and not path.is_symlink():
        return Timestamp()
    fix = "correct it (e.g. 2026-12-01 23:59:00 UTC) or delete it, then grade again"
    if path.is_symlink() or not path.is_file():
        return Timestamp(problem=f"timestamp.txt is not a plain file: {fix}")
    try:
        size = path.stat().st_size
        if size > MAX_TIMESTAMP_BYTES:
            return Timestamp(problem=f"timestamp.txt holds {size} bytes, not a time (nbgrader rejects it: "
                                     f"Invalid timestamp string): {fix}")
        text = path.read_bytes().decode("utf-8", errors="replace").strip()
    except OSError as error:
        return Timestamp(problem=f"timestamp.txt cannot be read ({error.strerror}): {fix}")
    if not text:
        return Timestamp(note="timestamp.txt is empty: graded as on time (as nbgrader does)")
    try:
        parse_utc(text)
    except (ValueError, OverflowError):
        shown = text[:40].encode("ascii", "backslashreplace").decode()
        return Timestamp(problem=f"timestamp.txt holds {shown!r}, not a time (nbgrader rejects it: Invalid "
                                 f"timestamp string): {fix}")
    return Timestamp(text=text)


# ----------------------------------------------------------------------------- misplaced notebooks
def _shown_name(name: str) -> str:
    """A student-chosen file name, safe in markdown and HTML (odd characters become ?)."""
    return re.sub(r"[^A-Za-z0-9 ._()+=,-]", "?", name)[:120]


def extra_notebooks(folder: Path, release_names: list[str], limit: int = 5) -> list[str]:
    """One note per notebook in ``folder`` (or below, hidden folders such as
    ``.ipynb_checkpoints`` left out) that the release does not have."""
    folder = Path(folder)
    if not folder.is_dir() or folder.is_symlink():
        return []
    found = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*.ipynb")
                   if not any(part.startswith(".") for part in p.relative_to(folder).parts)
                   and p.relative_to(folder).as_posix() not in release_names)
    notes = []
    for name in found[:limit]:
        closest = difflib.get_close_matches(Path(name).name, release_names, n=1, cutoff=0.0)
        target = (closest or release_names or ["?"])[0]
        present = (folder / target).is_file()
        notes.append(f"{_shown_name(name)} is not graded; rename it to {target}"
                     + (f" if it holds your answers (only {target} is graded)" if present else ""))
    if len(found) > limit:
        notes.append(f"{len(found) - limit} more notebooks are not graded")
    return notes


def notes_markdown(notes: list[str]) -> str:
    return "**Grading notes**\n\n" + "\n".join(f"- {note}" for note in notes)


# ----------------------------------------------------------------------------- feedback
def _lateness(gradebook, assignment: str, student: str):
    from nbgrader.api import MissingEntry

    try:
        submission = gradebook.find_submission(assignment, student)
    except MissingEntry:
        return None
    return submission


class LateNotice(NbGraderPreprocessor):
    """``generate_feedback``: a late submission's feedback opens with when it was submitted,
    how late it was, its penalty and the policy (read from the gradebook)."""

    def preprocess(self, nb, resources):
        import nbformat
        from nbgrader.api import Gradebook

        info = resources["nbgrader"]
        with Gradebook(info["db_url"]) as gradebook:
            submission = _lateness(gradebook, info["assignment"], info["student"])
            if submission is None or not submission.total_seconds_late:
                return nb, resources
            late_s, stamp, due = submission.total_seconds_late, submission.timestamp, submission.duedate
        penalty = float(resources["nbgrader"].get("late_penalty") or 0)
        policy = parse_late_policy(self.config.PenaltyPerTimeUnit.get("policy", "none")
                                   if "PenaltyPerTimeUnit" in self.config else "none")
        text = (f"**Late submission.** Submitted {stamp:%Y-%m-%d %H:%M} UTC, {describe_delay(late_s)} after the "
                f"due date ({due:%Y-%m-%d %H:%M} UTC). Late penalty: {penalty:g} point{'s' if penalty != 1 else ''} "
                f"(policy: {policy.describe()}).")
        nb.cells.insert(0, nbformat.v4.new_markdown_cell(text))
        return nb, resources


def lateness_of(config, assignment: str, students: list[str]) -> dict[str, tuple[float, float]]:
    """``{student: (seconds late, penalty)}`` from the gradebook (students not in it left out)."""
    from nbgrader.api import Gradebook

    out = {}
    with Gradebook(config.CourseDirectory.db_url, config.CourseDirectory.course_id) as gradebook:
        for student in students:
            submission = _lateness(gradebook, assignment, student)
            if submission is not None:
                out[student] = (float(submission.total_seconds_late or 0),
                                float(submission.late_submission_penalty or 0))
    return out


def set_due_date(config, assignment: str, due: datetime | None) -> None:
    """Store ``due`` (None: no due date) as the assignment's due date in the gradebook."""
    from nbgrader.api import Gradebook

    with Gradebook(config.CourseDirectory.db_url, config.CourseDirectory.course_id) as gradebook:
        gradebook.update_or_create_assignment(assignment, duedate=due)


def due_date_of(config, assignment: str) -> datetime | None:
    from nbgrader.api import Gradebook, MissingEntry

    with Gradebook(config.CourseDirectory.db_url, config.CourseDirectory.course_id) as gradebook:
        try:
            return gradebook.find_assignment(assignment).duedate
        except MissingEntry:
            return None
