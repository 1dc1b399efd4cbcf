"""The gradebook's safety: checks before and after a batch, verified backups, restore.

- ``check_before_batch``: a gradebook that is empty (0 bytes), not SQLite, fails
  ``PRAGMA integrity_check`` or lacks nbgrader's tables stops the batch before any sandbox
  runs (``GradebookDamaged``, one line naming the latest good backup and the command that
  restores it). A missing file is a new course (nbgrader creates it).
- ``backup_gradebook``: ``VACUUM INTO`` a temporary file beside the gradebook, verified
  (non-zero size, integrity check, nbgrader's tables) before it is renamed to
  ``gradebook.backup-<time>-<hex>.db``; a backup that fails is an error and never
  replaces or prunes a good one; the newest ``keep`` (10) good backups are kept.
- ``restore_gradebook``: verify a backup (default: the newest good one), move the current
  file (and its journal) aside as ``gradebook.damaged-<time>.db``, copy the backup in
  through a temporary file and a rename. Nothing is deleted.
- ``check_gradebook``: the after-batch check (integrity, no triggers or views, every
  score the sum of its grades, no autograded cell without a score).

Recording one student all or nothing is ``autograder.student_recorder``; one batch per
course, ``autograder.course_lock``.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import sqlite3
import time
from pathlib import Path

from autograder.atomic_files import fsync_file, remove_quietly, replace_durably
from autograder.course import db_path_of
from autograder.gradebook_errors import GradebookError, describe_gradebook_error

SQLITE_HEADER = b"SQLite format 3\x00"
# The tables of nbgrader 0.9's gradebook (alembic revision of nbgrader 0.9.x).
GRADEBOOK_TABLES = frozenset({
    "student", "course", "assignment", "notebook", "submitted_assignment", "base_cell", "source_cell",
    "submitted_notebook", "grade_cells", "solution_cells", "task_cells", "grade", "comment", "alembic_version",
})
BACKUPS_KEPT = 10
BUSY_TIMEOUT_S = 5.0


class GradebookDamaged(GradebookError):
    """The gradebook cannot be used (empty, not SQLite, malformed, not nbgrader's); the
    message is one line naming the latest good backup and how to restore it."""


# ----------------------------------------------------------------------------- verification
def gradebook_problem(path: Path, *, read_only: bool = True) -> str | None:
    """Why the SQLite file at ``path`` is not a usable nbgrader gradebook (None when it is).

    ``read_only=False`` for the live gradebook: a journal left by a killed writer is then
    rolled back by this connection, as SQLite does on every open.
    """
    path = Path(path)
    try:
        size = path.stat().st_size
        if size == 0:
            return "the file is empty (0 bytes)"
        with open(path, "rb") as handle:
            if handle.read(16) != SQLITE_HEADER:
                return "file is not a database (no SQLite header)"
    except FileNotFoundError:
        return "the file does not exist"
    except OSError as error:
        return f"cannot read the file ({error.strerror})"
    uri = f"file:{path}?mode=ro" if read_only else f"file:{path}?mode=rw"
    try:
        connection = sqlite3.connect(uri, uri=True, timeout=BUSY_TIMEOUT_S)
        try:
            result = connection.execute("PRAGMA integrity_check").fetchall()
            if result != [("ok",)]:
                return f"integrity_check failed: {'; '.join(str(r[0]) for r in result[:3])[:200]}"
            tables = {name for (name,) in connection.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        finally:
            connection.close()
    except sqlite3.OperationalError as error:
        if "locked" in str(error) or "busy" in str(error):
            raise                      # not damage: the caller says who is writing it
        return str(error)
    except sqlite3.DatabaseError as error:
        return str(error)
    missing = sorted(GRADEBOOK_TABLES - tables)
    if missing:
        return f"not an nbgrader gradebook (missing tables: {', '.join(missing)})"
    return None


def list_backups(db_path: Path) -> list[Path]:
    """The backups beside the gradebook, newest first."""
    db_path = Path(db_path)
    found = [p for p in db_path.parent.glob(f"{db_path.stem}.backup-*.db") if p.is_file() and not p.is_symlink()]
    return sorted(found, key=lambda p: (p.stat().st_mtime_ns, p.name), reverse=True)


def latest_good_backup(db_path: Path) -> Path | None:
    for backup in list_backups(db_path):
        if gradebook_problem(backup) is None:
            return backup
    return None


def restore_hint(db_path: Path, command: str = "segcourse restore-gradebook") -> str:
    """How to get a sound gradebook back, for the end of a one-line message."""
    backup = latest_good_backup(db_path)
    if backup is None:
        return (f"no good backup beside it ({Path(db_path).stem}.backup-*.db); move it away to start an empty "
                f"gradebook (grades are then recorded anew)")
    return (f"latest good backup: {backup}; restore it with `{command}` "
            f"(the damaged file is kept aside)")


def check_before_batch(db_path: Path, command: str = "segcourse restore-gradebook") -> None:
    """Raise ``GradebookDamaged`` (one line) if the gradebook at ``db_path`` cannot be used.

    A missing file is fine (nbgrader creates it); a gradebook that does not know the
    assignment yet is fine (``segcourse grade`` brings it in line with solutions/). A
    gradebook another process holds locked raises ``GradebookError`` naming the lock.
    """
    db_path = Path(db_path)
    if not db_path.exists() and not db_path.is_symlink():
        return
    try:
        problem = gradebook_problem(db_path, read_only=False)
    except sqlite3.Error as error:
        raise GradebookError(describe_gradebook_error(error, db_path)) from None
    if problem is not None:
        raise GradebookDamaged(f"gradebook error {db_path}: {problem} (the file is damaged; nothing was graded): "
                               f"{restore_hint(db_path, command)}")


# ----------------------------------------------------------------------------- backups
def backup_gradebook(db_path: Path, keep: int = BACKUPS_KEPT) -> Path | None:
    """A verified copy of the gradebook beside it (None when there is no gradebook yet).

    Written to a temporary file and renamed only once verified; raises ``GradebookError``
    (one line) if the copy cannot be made or fails verification, removing that copy. Then
    keeps the newest ``keep`` good backups (a backup that fails verification is never
    counted, and never deleted either).
    """
    db_path = Path(db_path)
    if not db_path.exists():
        return None
    stamp = time.strftime("%Y%m%d-%H%M%S")
    backup = db_path.with_name(f"{db_path.stem}.backup-{stamp}-{secrets.token_hex(3)}.db")
    partial = db_path.with_name(f".{backup.name}.partial")
    try:
        connection = sqlite3.connect(db_path, timeout=BUSY_TIMEOUT_S)
        try:
            connection.execute("VACUUM INTO ?", (str(partial),))
        finally:
            connection.close()
        problem = gradebook_problem(partial)
        if problem is not None:
            raise GradebookError(f"gradebook error {db_path}: its backup {backup.name} failed verification "
                                 f"({problem}); nothing was graded")
        fsync_file(partial)
        replace_durably(partial, backup)
    except sqlite3.Error as error:
        raise GradebookError(f"cannot back up the gradebook, nothing was graded: "
                             f"{describe_gradebook_error(error, db_path)}") from None
    except OSError as error:
        raise GradebookError(f"cannot back up the gradebook {db_path} to {backup.name}, nothing was graded: "
                             f"{error.strerror or error}") from None
    finally:
        remove_quietly(partial)
    _prune_backups(db_path, keep)
    return backup


def _prune_backups(db_path: Path, keep: int) -> None:
    good = [b for b in list_backups(db_path) if gradebook_problem(b) is None]
    for old in good[keep:]:
        remove_quietly(old)


def restore_gradebook(db_path: Path, backup: Path | None = None) -> tuple[Path, Path | None]:
    """Put a verified backup in place of the gradebook. Returns (the backup, where the
    previous gradebook was moved: ``gradebook.damaged-<time>.db``, None if there was none).

    Raises ``GradebookError`` (one line) if the backup is missing or fails verification;
    the gradebook is then left as it is. The backup itself is kept. Hold ``course_lock``.
    """
    db_path = Path(db_path)
    if backup is None:
        backup = latest_good_backup(db_path)
        if backup is None:
            raise GradebookError(f"no good backup of {db_path} ({db_path.stem}.backup-*.db beside it)")
    backup = Path(backup)
    problem = gradebook_problem(backup)
    if problem is not None:
        raise GradebookError(f"backup {backup} cannot be restored: {problem}")
    incoming = db_path.with_name(f".{db_path.name}.restoring-{secrets.token_hex(3)}")
    aside = None
    try:
        shutil.copyfile(backup, incoming)
        fsync_file(incoming)
        if gradebook_problem(incoming) is not None:
            raise GradebookError(f"the copy of {backup} failed verification; nothing was changed")
        aside = db_path.with_name(f"{db_path.stem}.damaged-{time.strftime('%Y%m%d-%H%M%S')}-{secrets.token_hex(2)}.db")
        moved = False
        # a journal left by a killed writer belongs to the old file: it goes aside with it
        for suffix in ("", "-journal", "-wal", "-shm"):
            side = db_path.with_name(db_path.name + suffix)
            if side.exists() or side.is_symlink():
                os.rename(side, aside.with_name(aside.name + suffix))
                moved = moved or suffix == ""
        aside = aside if moved else None
        replace_durably(incoming, db_path)
    except OSError as error:
        raise GradebookError(f"cannot restore {db_path} from {backup}: {error.strerror or error}") from None
    finally:
        remove_quietly(incoming)
    return backup, aside


# ----------------------------------------------------------------------------- after the batch
def check_gradebook(db_url: str, course_id: str) -> list[str]:
    """Problems of the gradebook (empty when it is sound): integrity, triggers or views,
    a score that is not the sum of its grades, an autograded cell without a score."""
    db_path = db_path_of(db_url)
    problems = []
    problem = gradebook_problem(db_path, read_only=False)
    if problem is not None:
        return [problem]
    with contextlib.closing(sqlite3.connect(db_path, timeout=BUSY_TIMEOUT_S)) as connection:
        for kind, name in connection.execute("SELECT type, name FROM sqlite_master WHERE type IN ('trigger', 'view')"):
            problems.append(f"unexpected {kind} {name!r} in the gradebook")
        for student, assignment, notebook, cell in connection.execute(UNSCORED_GRADES.format(s="")):
            problems.append(f"{student}/{assignment}/{notebook}: grade cell {cell!r} has no score "
                            f"(recording was interrupted: grade this student again)")
    from nbgrader.api import Gradebook
    with Gradebook(db_url, course_id) as gradebook:
        for assignment in gradebook.assignments:
            for submission in assignment.submissions:
                total = sum(grade.score for nb in submission.notebooks for grade in nb.grades)
                if abs(total - submission.score) > 1e-9:
                    problems.append(f"{submission.student_id}/{assignment.name}: score {submission.score} "
                                    f"!= sum of grades {total}")
    return problems


# Autograded cells (a grade cell of code that is not also a solution cell) with neither an
# automatic nor a manual score. Cells graded by hand may legitimately wait for a score.
UNSCORED_GRADES = """
SELECT sa.student_id, a.name, nb.name, cell.name
FROM {s}grade g
JOIN {s}submitted_notebook sn ON sn.id = g.notebook_id
JOIN {s}submitted_assignment sa ON sa.id = sn.assignment_id
JOIN {s}assignment a ON a.id = sa.assignment_id
JOIN {s}notebook nb ON nb.id = sn.notebook_id
JOIN {s}base_cell cell ON cell.id = g.cell_id
JOIN {s}grade_cells gc ON gc.id = cell.id
WHERE g.auto_score IS NULL AND g.manual_score IS NULL AND gc.cell_type = 'code'
  AND NOT EXISTS (SELECT 1 FROM {s}base_cell other JOIN {s}solution_cells s ON s.id = other.id
                  WHERE other.notebook_id = cell.notebook_id AND other.name = cell.name)
ORDER BY sa.student_id, a.name, nb.name, cell.name
"""
