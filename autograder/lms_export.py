"""Grades out to the learning-management system: the gradebook as Canvas's or Moodle's
grade-import CSV, or as nbgrader's own CSV (``segcourse export --format canvas|moodle|csv``).

**Canvas** (Gradebook > Import; Canvas Instructor Guide, "How do I import grades in the
Gradebook?", https://community.canvaslms.com/t5/Instructor-Guide/How-do-I-import-grades-in-the-Gradebook/ta-p/807;
the required columns as one university's guide lists them,
https://teaching.resources.osu.edu/toolsets/carmencanvas/guides/calculating-final-grades/import-csv-file-carmen-grades):
the columns ``Student, ID, SIS User ID, SIS Login ID, Section``, then one column per
assignment (a name Canvas does not know creates that assignment); the second row is
``Points Possible`` with each assignment's maximum, as Canvas's own gradebook export writes it.
Canvas finds a student by ``ID`` (the Canvas user id), ``SIS User ID`` or ``SIS Login ID``;
only one is needed. Filled from nbgrader's Student records:

    Student        "last_name, first_name" (the nbgrader id when both are missing)
    ID             lms_user_id (the Canvas user id an LTI launch gives); empty when missing
    SIS User ID    empty (nbgrader keeps none)
    SIS Login ID   the nbgrader student id (the hub's user name): never empty
    Section        empty (nbgrader keeps none)

**Moodle** (Grades > Import > CSV file; MoodleDocs "Grade import",
https://docs.moodle.org/27/en/Grade_import, and the importer itself,
``grade/import/csv/classes/load_data.php``): at import the instructor maps one column to
the user (``Map from`` a column, ``Map to`` userid, username, useridnumber or useremail) and
each grade column to a grade item (or a new one), and may map feedback columns. A row whose
mapped user field is empty or unknown stops the whole import; an empty grade (or ``-``) is
read as no grade. Columns here: ``First name, Last name, Username, ID number, Email
address``, then per assignment its grade column (named as the assignment) and
``Feedback: <assignment>``. Username is the nbgrader id (never empty: map it when e-mail
addresses are missing); ID number is lms_user_id; Email address is the Student's email.

**csv**: nbgrader's own export (the columns and values of ``CsvExportPlugin``, one row per
student and assignment, a missing submission scoring 0 as nbgrader writes it), but quoted
as RFC 4180 asks (nbgrader joins fields with commas unquoted, so a name with a comma
shifts the columns); ``segcourse grade``'s ``grades.csv`` is written the same way.

In the LMS formats a student without a submission has an EMPTY grade (both LMSs read it as
no grade; a 0 would record a zero). In every format a score is the gradebook's total (manual grades included
once given) less nbgrader's late penalty, and points still waiting for a manual grade count
nothing yet: ``export_gradebook`` returns a warning naming them. A missing identifier leaves
its cell empty (the specs allow it) and a warning names the students and the field.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from pathlib import Path

from traitlets.config import Config

FORMATS = ("canvas", "moodle", "csv")
CANVAS_IDENTITY = ["Student", "ID", "SIS User ID", "SIS Login ID", "Section"]
CANVAS_POINTS_ROW = "Points Possible"
MOODLE_IDENTITY = ["First name", "Last name", "Username", "ID number", "Email address"]


def add_export_command(commands) -> None:
    """``segcourse export``'s options, on the CLI's subcommands (``autograder.cli``)."""
    export = commands.add_parser(
        "export", help="the gradebook as Canvas's or Moodle's grade-import CSV, or nbgrader's CSV",
        description="Write the gradebook's grades in a learning-management system's grade-import format "
                    "(columns and identifiers: autograder/lms_export.py). A student without a submission gets an "
                    "empty grade (no grade), not 0; written answers not graded yet are named on stderr.")
    export.add_argument("--format", required=True, choices=FORMATS, help="canvas, moodle or csv (nbgrader's own)")
    export.add_argument("--assignment", action="append", default=None, metavar="NAME",
                        help="export this assignment (repeat for several; default: every graded assignment)")
    export.add_argument("--out", type=Path, default=None, metavar="FILE",
                        help="where to write (default: <runtime>/grades-FORMAT.csv)")
    export.add_argument("--runtime-dir", type=Path, default=Path(".grading"),
                        help="folder holding the gradebook (default: .grading)")


@dataclass
class ExportResult:
    """Where the export went, how many students and assignments it holds, and what the
    instructor should know before importing it (missing identifiers, pending manual grades)."""

    path: Path
    students: int
    assignments: list[str]
    warnings: list[str] = field(default_factory=list)


@dataclass
class _Student:
    id: str
    first_name: str
    last_name: str
    email: str
    lms_user_id: str


def export_gradebook(config: Config, fmt: str, destination: Path, assignments: list[str] | None = None) -> ExportResult:
    """Write the gradebook of ``config`` to ``destination`` in ``fmt`` (``FORMATS``), for the
    assignments named (default: every assignment of the gradebook, in nbgrader's order).

    Raises ``ValueError`` for an unknown format or an assignment the gradebook does not hold
    (the message lists the known ones); the file is written to a temporary file and renamed
    (``autograder.atomic_files``), so a failure leaves the previous file as it was.
    """
    from nbgrader.api import Gradebook, MissingEntry

    from autograder.nbgrader_api import waits_for_instructor

    if fmt not in FORMATS:
        raise ValueError(f"unknown export format {fmt!r}: expected one of {', '.join(FORMATS)}")
    with Gradebook(config.CourseDirectory.db_url, config.CourseDirectory.course_id) as gradebook:
        known = [a.name for a in gradebook.assignments]
        chosen = list(assignments or known)
        unknown = [a for a in chosen if a not in known]
        if unknown:
            raise ValueError(f"the gradebook has no assignment {', '.join(unknown)}; it has: "
                             f"{', '.join(known) or 'none'} (grade one first: segcourse grade NAME)")
        if fmt == "csv":
            path = write_csv(Path(destination), nbgrader_csv_rows(gradebook, chosen))
            return ExportResult(path, len(gradebook.students), chosen)
        students = [_Student(s.id, s.first_name or "", s.last_name or "", s.email or "", s.lms_user_id or "")
                    for s in sorted(gradebook.students, key=lambda s: s.id)]
        max_points = {a: gradebook.find_assignment(a).max_score for a in chosen}
        scores: dict[tuple[str, str], float | None] = {}
        pending: dict[tuple[str, str], float] = {}
        for assignment in chosen:
            for student in students:
                try:
                    submission = gradebook.find_submission(assignment, student.id)
                except MissingEntry:
                    scores[student.id, assignment] = None
                    continue
                penalty = submission.late_submission_penalty or 0.0
                scores[student.id, assignment] = max(submission.score - penalty, 0.0)
                waiting = sum(g.max_score for nb in submission.notebooks for g in nb.grades if waits_for_instructor(g))
                if waiting:
                    pending[student.id, assignment] = waiting
    rows, warnings = (_canvas_rows if fmt == "canvas" else _moodle_rows)(students, chosen, max_points, scores, pending)
    if pending:
        names = ", ".join(f"{s}/{a}" for s, a in sorted(pending))
        warnings.append(f"{len(pending)} submissions have written answers not graded yet ({names}): their "
                        f"{sum(pending.values()):g} points are not in this export; grade them in the formgrader "
                        f"(segcourse status lists them) and export again")
    path = write_csv(Path(destination), rows)
    return ExportResult(path, len(students), chosen, warnings)


def _score_text(score: float | None) -> str:
    return "" if score is None else f"{score:g}"


def _missing(students: list[_Student], attribute: str) -> list[str]:
    return [s.id for s in students if not getattr(s, attribute)]


def _canvas_rows(students, assignments, max_points, scores, pending):
    rows = [CANVAS_IDENTITY + assignments,
            [CANVAS_POINTS_ROW, "", "", "", ""] + [f"{max_points[a]:g}" for a in assignments]]
    for s in students:
        name = ", ".join(part for part in (s.last_name, s.first_name) if part) or s.id
        rows.append([name, s.lms_user_id, "", s.id, ""] + [_score_text(scores[s.id, a]) for a in assignments])
    warnings = []
    if no_id := _missing(students, "lms_user_id"):
        warnings.append(f"canvas: ID is empty for {', '.join(no_id)} (no lms_user_id in the gradebook): Canvas "
                        f"matches them by SIS Login ID, their nbgrader id, which must then be their Canvas login")
    return rows, warnings


def _moodle_rows(students, assignments, max_points, scores, pending):
    rows = [MOODLE_IDENTITY + [column for a in assignments for column in (a, f"Feedback: {a}")]]
    for s in students:
        row = [s.first_name, s.last_name, s.id, s.lms_user_id, s.email]
        for a in assignments:
            score = scores[s.id, a]
            if score is None:
                feedback = "no submission"
            elif (s.id, a) in pending:
                feedback = (f"{score:g}/{max_points[a]:g} so far; {pending[s.id, a]:g} points of written answers "
                            f"not graded yet")
            else:
                feedback = f"{score:g}/{max_points[a]:g}"
            row += [_score_text(score), feedback]
        rows.append(row)
    warnings = []
    if no_email := _missing(students, "email"):
        warnings.append(f"moodle: Email address is empty for {', '.join(no_email)} (no email in the gradebook): "
                        f"at import map 'Username' to username (or 'ID number' to useridnumber), not the e-mail")
    return rows, warnings


NBGRADER_CSV_COLUMNS = ["assignment", "duedate", "timestamp", "student_id", "last_name", "first_name", "email",
                       "raw_score", "late_submission_penalty", "score", "max_score"]


def nbgrader_csv_rows(gradebook, assignments: list[str] | None = None) -> list[list[str]]:
    """The rows of nbgrader's ``CsvExportPlugin`` (header first; values as it writes them,
    ``str()`` of each, '' for None; a missing submission scores 0.0), for ``assignments``
    (default: all), to be written with ``csv`` (quoted where needed)."""
    from nbgrader.api import MissingEntry

    rows = [NBGRADER_CSV_COLUMNS]
    for assignment in gradebook.assignments:
        if assignments and assignment.name not in assignments:
            continue
        for student in gradebook.students:
            row = dict(assignment=assignment.name, duedate=assignment.duedate, student_id=student.id,
                       last_name=student.last_name, first_name=student.first_name, email=student.email,
                       max_score=assignment.max_score)
            try:
                submission = gradebook.find_submission(assignment.name, student.id)
            except MissingEntry:
                row.update(timestamp="", raw_score=0.0, late_submission_penalty=0.0, score=0.0)
            else:
                penalty = submission.late_submission_penalty
                row.update(timestamp=submission.timestamp, raw_score=submission.score,
                           late_submission_penalty=penalty, score=max(0.0, submission.score - penalty))
            rows.append(["" if row[key] is None else str(row[key]) for key in NBGRADER_CSV_COLUMNS])
    return rows


def write_csv(path: Path, rows: list[list[str]]) -> Path:
    """Write ``rows`` to ``path`` as UTF-8 CSV with RFC 4180 quoting (a field with a comma,
    quote or line break is quoted, quotes doubled) and CRLF line ends; through a temporary
    file and a rename (``autograder.atomic_files``: a failure is ``OutputError``, one line)."""
    from autograder.atomic_files import write_atomically

    text = io.StringIO()
    csv.writer(text, lineterminator="\r\n").writerows(rows)
    return write_atomically(Path(path), lambda temporary: temporary.write_bytes(text.getvalue().encode("utf-8")))
