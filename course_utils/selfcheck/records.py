"""The self-checks' records: the progress file, and the table of every exercise's status.

Every check records its result in a small JSON file, ``~/.segcourse/progress.json`` (or
the path in ``$SEGCOURSE_PROGRESS_FILE``: :func:`course_utils.settings.progress_file`)::

    {"version": 1, "exercises": {"fcn_basics/dice_coefficient": {"status": "passed", ...}}}

:func:`show_progress` prints every exercise of every assignment: passed, not yet (with the
last hint level), or not attempted.
"""

import json
import os
import tempfile
from pathlib import Path

from course_utils.settings import progress_file

from .assignments import _assignment_table

__all__ = ["load_progress", "progress_file", "show_progress"]

PASSED, NOT_YET, NOT_ATTEMPTED = "passed", "not yet", "not attempted"


def load_progress(path=None):
    """The recorded progress: ``{"assignment/exercise": {...}}``; empty if there is none.

    A damaged file is treated as empty (and replaced on the next check) rather than
    breaking the notebook.
    """
    path = Path(path) if path is not None else progress_file()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    exercises = data.get("exercises") if isinstance(data, dict) else None
    return exercises if isinstance(exercises, dict) else {}


def _save_progress(exercises, path=None):
    path = Path(path) if path is not None else progress_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    # Write a temporary file and rename it: a crash never leaves half a JSON file.
    with tempfile.NamedTemporaryFile("w", encoding="utf-8", dir=path.parent, delete=False,
                                     suffix=".tmp") as handle:
        json.dump({"version": 1, "exercises": exercises}, handle, indent=2, sort_keys=True)
    os.replace(handle.name, path)


def _status_text(entry):
    if entry is None:
        return NOT_ATTEMPTED
    if entry.get("status") == PASSED:
        return PASSED
    level = entry.get("hint_level", 0)
    return f"{NOT_YET} (hint {level})" if level else NOT_YET


def show_progress(path=None, course_root=None):
    """Print a table of every exercise of every assignment and its self-check status.

    Args:
        path: the progress file; :func:`progress_file` if None.
        course_root: folder holding ``exercises/``; the course's if None
            (:func:`course_utils.selfcheck.assignments.course_root`).

    Returns:
        The rows as ``(assignment, exercise, status)`` tuples.
    """
    recorded = load_progress(path)
    table = _assignment_table(course_root, recorded)
    rows = [(assignment, exercise, _status_text(recorded.get(f"{assignment}/{exercise}")))
            for assignment, exercises in table.items() for exercise in exercises]
    widths = [max(len(header), *(len(row[i]) for row in rows))
              for i, header in enumerate(("assignment", "exercise", "status"))]
    lines = ["  ".join(h.ljust(w) for h, w in zip(("assignment", "exercise", "status"), widths)),
             "  ".join("-" * w for w in widths)]
    previous = None
    for assignment, exercise, status in rows:
        shown = assignment if assignment != previous else ""  # the name once per block
        previous = assignment
        lines.append("  ".join(v.ljust(w) for v, w in zip((shown, exercise, status), widths)))
    passed = sum(status == PASSED for *_, status in rows)
    lines.append(f"\n{passed} of {len(rows)} exercises pass their self-check.")
    print("\n".join(lines))
    return rows
