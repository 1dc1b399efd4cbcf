"""All-or-nothing recording of one student's grades (``StudentRecorder``).

nbgrader's ``SaveAutoGrades`` commits after every cell, so a kill in the middle of a
student left a submission with empty grades. The batch has nbgrader record each student
into a scratch copy of the gradebook (``VACUUM INTO``), checks that copy (every
autograded cell has a score), and then replaces that student's rows in the real gradebook
in ONE SQLite transaction (``BEGIN IMMEDIATE`` ... ``COMMIT``, the copy ATTACHed).
SQLite's rollback journal makes that commit atomic: a kill -9 at any point leaves the old
grades (the real file is untouched until the commit; a hot journal is rolled back by the
next connection) or the new ones.
"""

from __future__ import annotations

import contextlib
import sqlite3
from pathlib import Path

from autograder.gradebook import UNSCORED_GRADES


class RecordingError(RuntimeError):
    """A student's grades could not be recorded; the gradebook keeps the previous ones."""


def _fault_point(stage: str) -> None:
    """Does nothing: the fault-injection tests replace it to kill the process at ``stage``."""


class StudentRecorder:
    """Record one student at a time into a scratch copy, then move that student's rows into
    the gradebook in one transaction.

        recorder = StudentRecorder(db_path, scratch)   # api = make_api(config with recorder.url)
        recorder.prepare()                             # before each student: a fresh copy
        api.autograde(...)                             # nbgrader writes the copy only
        recorder.commit(assignment, student)           # verify, then one transaction
    """

    def __init__(self, db_path: Path, scratch: Path):
        self.db_path, self.scratch = Path(db_path), Path(scratch)

    @property
    def url(self) -> str:
        return f"sqlite:///{self.scratch}"

    def prepare(self) -> None:
        self.scratch.parent.mkdir(parents=True, exist_ok=True)
        self._remove_scratch()
        with contextlib.closing(sqlite3.connect(self.db_path, timeout=60)) as connection:
            connection.execute("VACUUM INTO ?", (str(self.scratch),))
        _fault_point("copied")

    def discard(self) -> None:
        self._remove_scratch()

    def _remove_scratch(self) -> None:
        for suffix in ("", "-journal", "-wal", "-shm"):
            with contextlib.suppress(FileNotFoundError):
                Path(str(self.scratch) + suffix).unlink()

    def commit(self, assignment: str, student: str) -> None:
        """Replace ``student``'s submission of ``assignment`` in the gradebook with the one
        nbgrader recorded in the copy, in one transaction; raise ``RecordingError`` (the
        gradebook keeping the previous grades) if the copy's grades are incomplete."""
        _fault_point("recorded")
        with contextlib.closing(sqlite3.connect(self.db_path, timeout=60, isolation_level=None)) as connection:
            connection.execute("ATTACH DATABASE ? AS rec", (str(self.scratch),))
            new_id = _checked_recording(connection, assignment, student)
            connection.execute("BEGIN IMMEDIATE")
            try:
                for old_id in _submission_ids(connection, "main", assignment, student):
                    _delete_submission(connection, old_id)
                _fault_point("merging")
                _copy_submission(connection, new_id, student)
                _fault_point("before-commit")
                connection.execute("COMMIT")
            except BaseException:
                if connection.in_transaction:
                    connection.execute("ROLLBACK")
                raise
        _fault_point("committed")


def _submission_ids(connection, schema: str, assignment: str, student: str) -> list[str]:
    """Ids of ``student``'s submissions of ``assignment`` in ``schema`` (main or rec)."""
    return [row[0] for row in connection.execute(
        f"SELECT sa.id FROM {schema}.submitted_assignment sa JOIN {schema}.assignment a ON a.id = sa.assignment_id "
        "WHERE a.name = ? AND sa.student_id = ?", (assignment, student))]


def _checked_recording(connection, assignment: str, student: str) -> str:
    """The id of the submission nbgrader recorded in the copy; ``RecordingError`` if there
    is none or a grade cell was left without a score."""
    recorded = _submission_ids(connection, "rec", assignment, student)
    if not recorded:
        raise RecordingError(f"nbgrader recorded no submission of {assignment} for {student}; "
                             f"the previous grades are kept")
    unscored = [cell for who, _, _, cell in connection.execute(UNSCORED_GRADES.format(s="rec.")) if who == student]
    if unscored:
        raise RecordingError(f"nbgrader left {len(unscored)} grade cell(s) of {student} without a score "
                             f"({', '.join(unscored[:3])}); the previous grades are kept")
    (new_id,) = recorded
    return new_id


def _delete_submission(connection, submission_id: str) -> None:
    """A submission's rows in the gradebook: its grades and comments, notebooks, itself."""
    notebooks = "(SELECT id FROM main.submitted_notebook WHERE assignment_id = ?)"
    for table in ("grade", "comment"):
        connection.execute(f"DELETE FROM main.{table} WHERE notebook_id IN {notebooks}", (submission_id,))
    connection.execute("DELETE FROM main.submitted_notebook WHERE assignment_id = ?", (submission_id,))
    connection.execute("DELETE FROM main.submitted_assignment WHERE id = ?", (submission_id,))


def _copy_submission(connection, submission_id: str, student: str) -> None:
    """The recorded submission's rows, from the copy (``rec``) into the gradebook."""
    connection.execute("INSERT OR IGNORE INTO main.student SELECT * FROM rec.student WHERE id = ?", (student,))
    connection.execute("INSERT INTO main.submitted_assignment SELECT * FROM rec.submitted_assignment WHERE id = ?",
                       (submission_id,))
    connection.execute("INSERT INTO main.submitted_notebook SELECT * FROM rec.submitted_notebook "
                       "WHERE assignment_id = ?", (submission_id,))
    notebooks = "(SELECT id FROM rec.submitted_notebook WHERE assignment_id = ?)"
    for table in ("grade", "comment"):
        connection.execute(f"INSERT INTO main.{table} SELECT * FROM rec.{table} WHERE notebook_id IN {notebooks}",
                           (submission_id,))
