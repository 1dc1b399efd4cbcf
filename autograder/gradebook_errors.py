"""Gradebook (database) failures in one line that names the cause and what to do.

nbgrader and SQLAlchemy report a locked, damaged or foreign gradebook as a long traceback
or log; ``describe_gradebook_error`` finds the cause in either and says it in one line
(``GradebookError`` carries such a line); ``one_line_grading_error`` does the same for any
failed nbgrader step.
"""

from __future__ import annotations

import contextlib
import re
import sqlite3
from pathlib import Path


class GradebookError(RuntimeError):
    """The gradebook database could not be used; the message is one line naming the cause."""


_SQLALCHEMY_WRAPPED = re.compile(r"\((sqlite3\.\w+|psycopg2?\.\w+|pymysql\.\w+)\) ([^\n\[]+)")
_DRIVER_RAISED = re.compile(r"^(?:sqlite3\.)?(OperationalError|DatabaseError|IntegrityError|ProgrammingError)"
                            r": ([^\n]+)", re.MULTILINE)
_SQLALCHEMY_RAISED = re.compile(r"^sqlalchemy\.(?:\w+\.)*(\w+(?:Error|Found|Rows?))\b:? ?([^\n]*)", re.MULTILINE)
_UNKNOWN_ASSIGNMENT = re.compile(r"No assignment with ID '([^']*)' exists in the database")


def _why(cause: str) -> str:
    cause = cause.strip().rstrip(".")
    lowered = cause.lower()
    if "locked" in lowered or "busy" in lowered:
        return f"{cause} (another segcourse or nbgrader process is writing it; try again when it has finished)"
    if "not a database" in lowered or "malformed" in lowered or "corrupt" in lowered:
        return f"{cause} (the file is damaged: restore a backup, gradebook.backup-*.db beside it, or move it away)"
    if "no such table" in lowered or "no such column" in lowered:
        return f"{cause} (not an nbgrader gradebook of this version: restore a backup or run `nbgrader db upgrade`)"
    if "readonly" in lowered or "unable to open" in lowered:
        return f"{cause} (check that the gradebook's folder exists and is writable)"
    return cause


def describe_gradebook_error(error: BaseException | str, db_path: str | Path | None = None) -> str | None:
    """One line naming a gradebook failure in an exception or an nbgrader log; None if
    the text shows none."""
    text = error if isinstance(error, str) else f"{type(error).__module__}.{type(error).__name__}: {error}"
    where = f" {db_path}" if db_path else ""
    if isinstance(error, sqlite3.Error):
        return f"gradebook error{where}: {_why(str(error).splitlines()[0] if str(error) else type(error).__name__)}"
    for pattern in (_SQLALCHEMY_WRAPPED, _DRIVER_RAISED):
        match = pattern.search(text)
        if match:
            return f"gradebook error{where}: {_why(match.group(2))}"
    match = _UNKNOWN_ASSIGNMENT.search(text)
    if match:
        return (f"the gradebook does not know the assignment '{match.group(1)}': grade with "
                f"`segcourse grade {match.group(1)}` (it brings the gradebook in line with solutions/ first) "
                f"or run `segcourse release {match.group(1)}`")
    if "error accessing the nbgrader database" in text:
        return f"gradebook error{where}: nbgrader could not access the database"
    match = _SQLALCHEMY_RAISED.search(text)
    if match:
        cause = f": {_why(match.group(2))}" if match.group(2).strip() else ""
        return f"gradebook error{where}: {match.group(1)}{cause}"
    return None


def one_line_grading_error(text: str, limit: int = 2000) -> str:
    """The detail of a failed nbgrader step: a first line that names the cause, then (for
    failures other than the gradebook's) the end of nbgrader's log."""
    gradebook = describe_gradebook_error(text)
    if gradebook:
        return gradebook
    refused = re.search(r"GradingRefused: ([^\n]+)", text)
    if refused:
        return refused.group(1)
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    first = lines[0].rstrip(":") if lines else "nbgrader failed"
    raised = re.findall(r"^\s*(?:\[\w+\]\s*)?((?:\w+\.)*\w*(?:Error|Exception)\b: [^\n]+)", text, re.MULTILINE)
    if raised:
        first = f"{first}: {raised[-1].strip()[:300]}"
    return first + "\n" + text[-limit:]


@contextlib.contextmanager
def gradebook_errors_as_one_line(db_path: str | Path):
    """Inside: a database error (sqlite3, SQLAlchemy) becomes ``GradebookError``, one line."""
    from sqlalchemy.exc import SQLAlchemyError

    try:
        yield
    except (sqlite3.Error, SQLAlchemyError) as error:
        raise GradebookError(describe_gradebook_error(error, db_path)
                             or f"gradebook error: {type(error).__name__}") from None
