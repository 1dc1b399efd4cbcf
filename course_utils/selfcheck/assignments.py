"""Which assignments the course has and which exercise functions each one asks for.

Read from what students receive: the release notebook ``exercises/<a>/<a>.ipynb`` of every
assignment (``solutions/<a>/<a>.ipynb`` where the release is missing), whose answer cells
(nbgrader ``solution`` cells) define the exercise functions. A new assignment appears
here as soon as it is released; nothing is listed by hand but the course order.

The course folder is the checkout that holds this library, else the first folder, from
the working folder up, that holds ``exercises/`` (a student kit installed without ``-e``:
Jupyter runs each notebook in ``exercises/<a>/``).
"""

import json
import re
from pathlib import Path

from course_utils.settings import assignment_override

__all__ = ["COURSE_ORDER", "assignment_exercises", "course_root"]

# The order of the lectures and their assignments: the README's course table, row by row
# (tests/course_utils/selfcheck/test_assignments.py compares them). Assignments not named
# here are listed after these, by name.
COURSE_ORDER = ("fcn_basics", "sliding_window_vs_fcn", "dimensions", "skip_fcns", "unet", "losses_metrics",
                "transfer_learning", "dataset_formats", "instance_panoptic")
RELEASE_FOLDER, SOURCE_FOLDER = "exercises", "solutions"
OTHER_ASSIGNMENT = "other"  # where a check records an exercise that no assignment asks for

# A public function defined in an answer cell (a leading underscore marks a given helper).
_EXERCISE_FUNCTION = re.compile(r"^def ([A-Za-z]\w*)\(", re.M)


def _holds_assignments(folder):
    return (folder / RELEASE_FOLDER).is_dir() or (folder / SOURCE_FOLDER).is_dir()


def course_root():
    """The course folder (holding ``exercises/``), or None if none is found."""
    checkout = Path(__file__).resolve().parents[2]  # course_utils/selfcheck/ -> the repository
    for folder in (checkout, Path.cwd(), *Path.cwd().parents):
        if _holds_assignments(folder):
            return folder
    return None


def _course_order(name):
    return (COURSE_ORDER.index(name) if name in COURSE_ORDER else len(COURSE_ORDER), name)


def _assignment_notebooks(root):
    """``{assignment: notebook path}``: the release notebook, else the source notebook."""
    found = {}
    for folder_name in (SOURCE_FOLDER, RELEASE_FOLDER):  # the release wins: it comes last
        for notebook in (root / folder_name).glob("*/*.ipynb"):
            if notebook.stem == notebook.parent.name:
                found[notebook.stem] = notebook
    return found


def _exercise_functions(notebook):
    """The exercise functions defined in a notebook's answer cells, in order (none if unreadable)."""
    try:
        cells = json.loads(notebook.read_text(encoding="utf-8"))["cells"]
    except (OSError, ValueError, KeyError):
        return []
    names = []
    for cell in cells:
        if cell.get("metadata", {}).get("nbgrader", {}).get("solution"):
            source = "".join(cell.get("source", ""))
            names += [name for name in _EXERCISE_FUNCTION.findall(source) if name not in names]
    return names


def assignment_exercises(root=None):
    """``{assignment: [exercise function names]}`` of the course in ``root`` (the folder
    holding ``exercises/``; :func:`course_root` if None), in course order. Assignments
    whose notebook defines no exercise function are left out."""
    root = Path(root) if root is not None else course_root()
    if root is None:
        return {}
    table = {name: _exercise_functions(notebook) for name, notebook in _assignment_notebooks(root).items()}
    return {name: table[name] for name in sorted(table, key=_course_order) if table[name]}


def _assignment_table(root=None, recorded=()):
    """:func:`assignment_exercises` plus every ``"assignment/exercise"`` key of ``recorded``
    (progress of an assignment no longer in the course stays visible)."""
    table = assignment_exercises(root)
    for key in recorded:
        assignment, _, exercise = key.partition("/")
        exercises = table.setdefault(assignment, [])
        if exercise not in exercises:
            exercises.append(exercise)
    return {name: table[name] for name in sorted(table, key=_course_order)}


def _resolve_assignment(exercise, assignment=None):
    """The assignment a check of ``exercise`` counts for: ``assignment`` if given, else
    ``$SEGCOURSE_ASSIGNMENT``, else the notebook's folder if that assignment has the
    exercise, else the first assignment that has it, else ``"other"``."""
    if assignment:
        return assignment
    override = assignment_override()
    if override:
        return override
    table = assignment_exercises()
    folder = Path.cwd().name  # Jupyter runs a notebook in its own folder
    if exercise in table.get(folder, ()):
        return folder
    return next((name for name, exercises in table.items() if exercise in exercises), OTHER_ASSIGNMENT)
