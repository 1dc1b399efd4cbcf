"""One student's submission, read on the trusted side into plain data (``SubmissionTask``).

``read_submission`` reads the release the submission answers and the student's notebooks
(never through a symbolic link: threat row 42), checks ``timestamp.txt`` as nbgrader does,
and notes misplaced notebooks (``autograder.late``). The task may be pickled to a Dask
worker on another machine; a worker grades it with ``autograder.sandboxed_run``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from autograder.course import RELEASE_DIRECTORY
from autograder.trusted import MAX_NOTEBOOK_BYTES

SECRET_MAX_BYTES = 1024   # nbgrader writes a 32-character hex secret


@dataclass
class SubmissionTask:
    """Everything a worker needs to grade one submission, as plain data (it may be pickled
    to a Dask worker on another machine): the release files and the student's notebooks."""

    assignment: str
    student: str
    course_root: str
    release_files: dict[str, bytes]            # file name -> content (notebooks and helper files)
    notebooks: dict[str, bytes]                # release notebook name -> the student's file
    unreadable: dict[str, str] = field(default_factory=dict)   # release notebook name -> why not
    links: list[str] = field(default_factory=list)             # symbolic links found: nothing is read
    timestamp: str | None = None               # timestamp.txt, checked as nbgrader checks it
    submission_secret: str | None = None       # submission_secret.txt: names the feedback files
    rejected: str = ""                         # why nothing is graded or recorded (timestamp.txt not a time)
    notes: list[str] = field(default_factory=list)             # misplaced notebooks, an empty timestamp


def symbolic_links(root: Path, submission: Path) -> list[str]:
    """Symbolic links in a submission (threat row 42), as paths relative to ``root``: the
    student's folder, the assignment folder, or anything below it. Never follows one."""
    links, here = [], Path(root)
    for part in submission.parts:                       # <student>, then <student>/<assignment>
        here = here / part
        if here.is_symlink():
            return [str(here.relative_to(root))]
    if not here.is_dir():
        return []
    for folder, subfolders, files in os.walk(here, followlinks=False):
        links += [str((Path(folder) / name).relative_to(root)) for name in sorted(subfolders + files)
                  if os.path.islink(os.path.join(folder, name))]
    return links


def read_submission(course_root: Path, assignment: str, student: str, submitted: Path) -> SubmissionTask:
    """Read one student's submission (and the release it answers) on the trusted side."""
    release_dir = course_root / RELEASE_DIRECTORY / assignment
    release_files = {p.name: p.read_bytes() for p in sorted(release_dir.iterdir()) if p.is_file()}
    task = SubmissionTask(assignment, student, str(course_root), release_files, {})
    folder = submitted / student / assignment
    task.links = symbolic_links(submitted, Path(student, assignment))
    if not task.links:                   # late and misplaced work: autograder.late
        from autograder.late import extra_notebooks, read_timestamp
        stamp = read_timestamp(folder)
        task.timestamp, task.rejected = stamp.text, stamp.problem
        extras = extra_notebooks(folder, [n for n in release_files if n.endswith(".ipynb")])
        task.notes = ([stamp.note] if stamp.note else []) + extras
        task.submission_secret = _submission_secret(folder)
    for name in (n for n in release_files if n.endswith(".ipynb")):
        try:
            task.notebooks[name] = _read_notebook(folder / name, task)
        except _Unreadable as why:       # one unreadable file fails only its own notebook
            task.unreadable[name] = str(why)
    return task


def _submission_secret(folder: Path) -> str | None:
    """The ``submission_secret.txt`` that ``nbgrader submit`` wrote (it hashes the names of
    the feedback files, so each student fetches only their own): kept as stock autograde
    keeps it when it is a small plain file of printable text, else None."""
    path = folder / "submission_secret.txt"
    if path.is_symlink() or not path.is_file() or path.stat().st_size > SECRET_MAX_BYTES:
        return None
    text = path.read_bytes().decode("ascii", errors="replace")
    return text if text.isprintable() else None


class _Unreadable(Exception):
    """Why a notebook of the submission is not read (the message is for the student)."""


def _read_notebook(path: Path, task: SubmissionTask) -> bytes:
    """The student's notebook at ``path``, or ``_Unreadable`` saying why not."""
    if task.links:                       # nothing behind a link is opened
        raise _Unreadable(f"the submission holds a symbolic link ({', '.join(task.links[:3])}); "
                          "submit the files themselves")
    if not path.is_file():
        misplaced = [note for note in task.notes if note.endswith(path.name)]
        raise _Unreadable(f"{path.name} is missing from the submission" + (f" ({'; '.join(misplaced)})"
                                                                           if misplaced else ""))
    if path.stat().st_size > MAX_NOTEBOOK_BYTES:
        raise _Unreadable(f"the notebook is {path.stat().st_size / 1e6:.0f} MB, "
                          f"more than {MAX_NOTEBOOK_BYTES / 1e6:.0f} MB")
    try:
        return path.read_bytes()
    except OSError as error:
        raise _Unreadable(f"cannot read the notebook ({error.strerror})") from None
