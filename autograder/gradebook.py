"""The gradebook's safety: checks, verified backups, restore, all-or-nothing recording of
each student, one batch per course, and output files replaced atomically.

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
- ``StudentRecorder``: nbgrader's ``SaveAutoGrades`` commits after every cell, so a kill
  in the middle of a student left a submission with empty grades. The batch has nbgrader
  record each student into a scratch copy of the gradebook (``VACUUM INTO``), checks that
  copy (every autograded cell has a score), and then replaces that student's rows in the
  real gradebook in ONE SQLite transaction (``BEGIN IMMEDIATE`` ... ``COMMIT``, the copy
  ATTACHed). SQLite's rollback journal makes that commit atomic: a kill -9 at any point
  leaves the old grades (the real file is untouched until the commit; a hot journal is
  rolled back by the next connection) or the new ones.
- ``check_gradebook``: the after-batch check (integrity, no triggers or views, every
  score the sum of its grades, no autograded cell without a score).
- ``course_lock``: ``fcntl.flock`` on ``<runtime>/.segcourse.lock`` (holding the pid and
  the command) for the whole batch; a second batch refuses at once naming the holder; a
  lock left by a dead process is taken over with a message (the kernel released it).
- ``write_atomically``: outputs (grades.csv, ...) go to a temporary file in the same
  folder, are flushed to disk and renamed; a failure leaves the old file as it was and is
  one line (``OutputError``) naming the file and the cause.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import secrets
import shutil
import sqlite3
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from autograder.grading_path import GradebookError, describe_gradebook_error

SQLITE_HEADER = b"SQLite format 3\x00"
# The tables of nbgrader 0.9's gradebook (alembic revision of nbgrader 0.9.x).
GRADEBOOK_TABLES = frozenset({
    "student", "course", "assignment", "notebook", "submitted_assignment", "base_cell", "source_cell",
    "submitted_notebook", "grade_cells", "solution_cells", "task_cells", "grade", "comment", "alembic_version",
})
BACKUPS_KEPT = 10
LOCK_NAME = ".segcourse.lock"
BUSY_TIMEOUT_S = 5.0


class GradebookDamaged(GradebookError):
    """The gradebook cannot be used (empty, not SQLite, malformed, not nbgrader's); the
    message is one line naming the latest good backup and how to restore it."""


class CourseLocked(GradebookError):
    """Another segcourse batch holds this course's lock (the message names its pid)."""


class RecordingError(RuntimeError):
    """A student's grades could not be recorded; the gradebook keeps the previous ones."""


class OutputError(RuntimeError):
    """An output file could not be written (one line naming the file and the cause); the
    previous file, if any, is left as it was."""


def db_path_of(db_url: str) -> Path:
    return Path(db_url.removeprefix("sqlite:///"))


def _fault_point(stage: str) -> None:
    """Does nothing: the fault-injection tests replace it to kill the process at ``stage``."""


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
        _fsync(partial)
        os.replace(partial, backup)
        _fsync_folder(backup.parent)
    except sqlite3.Error as error:
        raise GradebookError(f"cannot back up the gradebook, nothing was graded: "
                             f"{describe_gradebook_error(error, db_path)}") from None
    except OSError as error:
        raise GradebookError(f"cannot back up the gradebook {db_path} to {backup.name}, nothing was graded: "
                             f"{error.strerror or error}") from None
    finally:
        with contextlib.suppress(OSError):
            partial.unlink()
    _prune_backups(db_path, keep)
    return backup


def _prune_backups(db_path: Path, keep: int) -> None:
    good = [b for b in list_backups(db_path) if gradebook_problem(b) is None]
    for old in good[keep:]:
        with contextlib.suppress(OSError):
            old.unlink()


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
        _fsync(incoming)
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
        os.replace(incoming, db_path)
        _fsync_folder(db_path.parent)
    except OSError as error:
        raise GradebookError(f"cannot restore {db_path} from {backup}: {error.strerror or error}") from None
    finally:
        with contextlib.suppress(OSError):
            incoming.unlink()
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
        for student, assignment, notebook, cell in connection.execute(_UNSCORED_GRADES.format(s="")):
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
_UNSCORED_GRADES = """
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


# ----------------------------------------------------------------------------- one student, all or nothing
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
            recorded = connection.execute(
                "SELECT sa.id FROM rec.submitted_assignment sa JOIN rec.assignment a ON a.id = sa.assignment_id "
                "WHERE a.name = ? AND sa.student_id = ?", (assignment, student)).fetchall()
            if not recorded:
                raise RecordingError(f"nbgrader recorded no submission of {assignment} for {student}; "
                                     f"the previous grades are kept")
            (new_id,), = recorded
            unscored = [cell for who, _, _, cell in connection.execute(_UNSCORED_GRADES.format(s="rec."))
                        if who == student]
            if unscored:
                raise RecordingError(f"nbgrader left {len(unscored)} grade cell(s) of {student} without a score "
                                     f"({', '.join(unscored[:3])}); the previous grades are kept")
            connection.execute("BEGIN IMMEDIATE")
            try:
                old_ids = [row[0] for row in connection.execute(
                    "SELECT sa.id FROM main.submitted_assignment sa JOIN main.assignment a ON a.id = sa.assignment_id "
                    "WHERE a.name = ? AND sa.student_id = ?", (assignment, student))]
                for old_id in old_ids:
                    for table in ("grade", "comment"):
                        connection.execute(f"DELETE FROM main.{table} WHERE notebook_id IN "
                                           f"(SELECT id FROM main.submitted_notebook WHERE assignment_id = ?)", (old_id,))
                    connection.execute("DELETE FROM main.submitted_notebook WHERE assignment_id = ?", (old_id,))
                    connection.execute("DELETE FROM main.submitted_assignment WHERE id = ?", (old_id,))
                _fault_point("merging")
                connection.execute("INSERT OR IGNORE INTO main.student SELECT * FROM rec.student WHERE id = ?",
                                   (student,))
                connection.execute("INSERT INTO main.submitted_assignment SELECT * FROM rec.submitted_assignment "
                                   "WHERE id = ?", (new_id,))
                connection.execute("INSERT INTO main.submitted_notebook SELECT * FROM rec.submitted_notebook "
                                   "WHERE assignment_id = ?", (new_id,))
                for table in ("grade", "comment"):
                    connection.execute(f"INSERT INTO main.{table} SELECT * FROM rec.{table} WHERE notebook_id IN "
                                       f"(SELECT id FROM rec.submitted_notebook WHERE assignment_id = ?)", (new_id,))
                _fault_point("before-commit")
                connection.execute("COMMIT")
            except BaseException:
                if connection.in_transaction:
                    connection.execute("ROLLBACK")
                raise
        _fault_point("committed")


# ----------------------------------------------------------------------------- one batch per course
_HELD: dict[str, list] = {}     # lock file -> [open file, depth]: nested takes in one process


@contextlib.contextmanager
def course_lock(runtime: Path, what: str, announce: Callable[[str], None] | None = None):
    """Hold ``<runtime>/.segcourse.lock`` (``fcntl.flock``) for a batch; raise ``CourseLocked``
    at once if another process holds it. Re-entrant within one process."""
    runtime = Path(runtime)
    runtime.mkdir(parents=True, exist_ok=True)
    path = runtime / LOCK_NAME
    key = str(path.resolve())
    if key in _HELD:
        _HELD[key][1] += 1
        try:
            yield path
        finally:
            _HELD[key][1] -= 1
        return
    handle = open(path, "a+")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = _read_holder(path)
        handle.close()
        raise CourseLocked(f"another segcourse batch is running on {runtime} ({holder}): it was not started; "
                           f"wait for it to finish (lock: {path})") from None
    previous = _read_holder(path, raw=True)
    if previous:
        pid = _pid_of(previous)
        if pid is not None and pid != os.getpid():
            (announce or _stderr)(f"segcourse: taking over the lock on {runtime} left by pid {pid} "
                                  f"({'no longer running' if not _alive(pid) else 'not holding it any more'})")
    try:
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()} {what} since {time.strftime('%Y-%m-%d %H:%M:%S')}\n")
        handle.flush()
    except OSError:
        pass                       # a full disk: the lock holds all the same, unnamed
    _HELD[key] = [handle, 1]
    try:
        yield path
    finally:
        del _HELD[key]
        with contextlib.suppress(OSError):
            handle.seek(0)
            handle.truncate()
        handle.close()            # releases the flock


def _stderr(message: str) -> None:
    import sys
    print(message, file=sys.stderr)


def _read_holder(path: Path, raw: bool = False) -> str:
    try:
        text = path.read_text(errors="replace").strip()
    except OSError:
        text = ""
    if raw:
        return text
    pid = _pid_of(text)
    return f"pid {pid}: {text.split(' ', 2)[2]}" if pid is not None and text.count(" ") >= 2 else \
        (text or "pid unknown")


def _pid_of(text: str) -> int | None:
    parts = text.split()
    if len(parts) >= 2 and parts[0] == "pid" and parts[1].isdigit():
        return int(parts[1])
    return None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


# ----------------------------------------------------------------------------- outputs
def write_atomically(path: Path, produce: Callable[[Path], None]) -> Path:
    """Have ``produce(temporary_path)`` write the file, then flush it to disk and rename it
    over ``path``. Any failure removes the temporary file, leaves ``path`` as it was and
    raises ``OutputError`` (one line naming ``path`` and the cause)."""
    path = Path(path)
    try:
        fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as error:
        raise OutputError(f"cannot write {path}: {error.strerror or error}") from None
    os.close(fd)
    temporary = Path(name)
    try:
        produce(temporary)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(temporary, 0o666 & ~umask)
        _fsync(temporary)
        os.replace(temporary, path)
        _fsync_folder(path.parent)
    except OSError as error:
        raise OutputError(f"cannot write {path}: {error.strerror or error} (the previous file is unchanged)") from None
    finally:
        with contextlib.suppress(OSError):
            temporary.unlink()
    return path


def write_text_atomically(path: Path, text: str) -> Path:
    return write_atomically(path, lambda temporary: temporary.write_text(text))


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_folder(folder: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
