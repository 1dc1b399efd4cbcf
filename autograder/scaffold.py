"""``segcourse new-assignment NAME``: a new assignment with one graded function, ready to edit.

Writes, from the templates in ``autograder/templates/new_assignment/``:

- ``solutions/NAME/NAME.ipynb``: the nbgrader source notebook: an intro that states the
  library-answers rule, one graded function (``pixel_accuracy``: stub and solution), a visible
  test cell (1 point) and a hidden test cell (2 points);
- ``autograder/references/NAME.py``: the trusted checks of those two grade cells
  (``load_checks`` finds it in the package, or in a course folder outside this checkout);
- ``tests/validity/NAME.py``: one correct and one known-wrong variant of the answer;

and lists the library function that computes the answer (the grading edition of the library
stubs it, so an answer that calls it scores 0): in ``course_utils/library_answers.py`` when the
course folder has one (this checkout), else as ``LIBRARY_ANSWERS`` in the new check table (a
course folder with the wheel installed, whose registry cannot be edited). Nothing is written
unless NAME is valid and new; a failed write removes what was written. ``next_steps`` is the
checklist printed afterwards.
"""

from __future__ import annotations

import ast
import importlib.util
import json
import keyword
import re
from dataclasses import dataclass
from pathlib import Path

from autograder.course import RELEASE_DIRECTORY, SOURCE_DIRECTORY, CourseError

TEMPLATES = Path(__file__).parent / "templates" / "new_assignment"
NAME_PATTERN = re.compile(r"[a-z][a-z0-9_]*")
# Replaced in the templates: the assignment's name, and the title of the notebook's intro.
ASSIGNMENT_PLACEHOLDER, TITLE_PLACEHOLDER = "__ASSIGNMENT__", "__TITLE__"
# The templates' solution cell and the course_utils functions that compute its answer.
TEMPLATE_LIBRARY_ANSWERS = {"accuracy": ["course_utils.metrics:pixel_accuracy"]}
REGISTRY = Path("course_utils") / "library_answers.py"
# Where a course folder without its own course_utils (the wheel installed) lists them instead.
COURSE_LIBRARY_ANSWERS = """

# The course_utils functions that compute each answer (solution grade_id -> "module:function"):
# the grading edition of the library replaces them by stubs, so an answer that calls one scores 0.
# Declared here because this course folder has no course_utils/library_answers.py of its own.
LIBRARY_ANSWERS = {entries}
"""


@dataclass
class ScaffoldedFile:
    path: Path          # relative to the course root
    text: str
    what: str           # one line for the checklist


def check_new_name(course_root: Path, name: str) -> None:
    """Raise ``CourseError`` (one line) unless ``name`` can name a new assignment: a lowercase
    Python identifier that no assignment, check table, validity module or registry entry uses."""
    if not NAME_PATTERN.fullmatch(name) or keyword.iskeyword(name):
        raise CourseError(f"cannot create assignment {name!r}: the name must be a lowercase Python identifier "
                          f"(letters, digits and _, starting with a letter), e.g. pixel_metrics")
    if name.startswith("test_") or name.endswith("_test"):      # tests/validity/NAME.py would be a test module
        raise CourseError(f"cannot create assignment {name!r}: a name starting with test_ or ending with _test "
                          f"would make tests/validity/{name}.py a test module")
    taken = [f"{SOURCE_DIRECTORY}/{name}", f"{RELEASE_DIRECTORY}/{name}", f"autograder/references/{name}.py",
             f"tests/validity/{name}.py"]
    existing = [path for path in taken if (course_root / path).exists()]
    if importlib.util.find_spec(f"autograder.references.{name}") is not None:     # a wheel's own check table
        existing.append(f"autograder.references.{name} (installed)")
    if name in _registered_assignments(course_root / REGISTRY):
        existing.append(f"LIBRARY_ANSWERS[{name!r}] in {REGISTRY}")
    if existing:
        raise CourseError(f"cannot create assignment {name!r}: it exists already ({', '.join(existing)})")


def render(name: str, title: str | None = None) -> list[ScaffoldedFile]:
    """The three files of assignment ``name`` (not written)."""
    import nbformat

    title = title or name.replace("_", " ").capitalize()
    notebook = nbformat.read(TEMPLATES / "notebook.ipynb", as_version=4)
    for cell in notebook.cells:
        cell.source = cell.source.replace(TITLE_PLACEHOLDER, title).replace(ASSIGNMENT_PLACEHOLDER, name)
    python = {template: (TEMPLATES / template).read_text(encoding="utf-8").replace(ASSIGNMENT_PLACEHOLDER, name)
              for template in ("references.py", "validity.py")}
    return [
        ScaffoldedFile(Path(SOURCE_DIRECTORY, name, f"{name}.ipynb"), nbformat.writes(notebook) + "\n",
                       "the source notebook: intro, pixel_accuracy (stub + solution), a visible test (1 point) "
                       "and a hidden test (2 points)"),
        ScaffoldedFile(Path("autograder", "references", f"{name}.py"), python["references.py"],
                       "the trusted checks of its two grade cells (they decide the points)"),
        ScaffoldedFile(Path("tests", "validity", f"{name}.py"), python["validity.py"],
                       "one correct and one known-wrong answer that the checks must tell apart"),
    ]


def scaffold_assignment(course_root: Path, name: str, title: str | None = None) -> list[ScaffoldedFile]:
    """Write assignment ``name`` into ``course_root`` and register its library answers.

    Returns the files written, the registry last when it was changed (absent when the course
    has no ``course_utils/library_answers.py``: the check table then declares ``LIBRARY_ANSWERS``).
    Raises ``CourseError`` for a bad or taken name, before anything is written."""
    course_root = Path(course_root)
    check_new_name(course_root, name)
    files = render(name, title)
    registry = course_root / REGISTRY
    if registry.is_file():
        registry_text = registry.read_text(encoding="utf-8")
        files.append(ScaffoldedFile(REGISTRY, register_library_answers(registry_text, name, TEMPLATE_LIBRARY_ANSWERS),
                                    f"LIBRARY_ANSWERS[{name!r}]: the library function that computes its answer"))
    else:       # the installed library's registry cannot be edited: the check table declares them
        files[1].text += COURSE_LIBRARY_ANSWERS.format(entries=json.dumps(TEMPLATE_LIBRARY_ANSWERS))
    written: list[Path] = []
    new_folders = [folder for file in files for folder in reversed((course_root / file.path).parents)
                   if folder.is_relative_to(course_root) and not folder.exists()]
    try:
        for file in files:
            target = course_root / file.path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(file.text, encoding="utf-8")
            written.append(target)
    except BaseException:           # a full disk, no permission, Ctrl-C: leave the course as it was
        for target in written:
            if target == registry:
                target.write_text(registry_text, encoding="utf-8")
            else:
                target.unlink(missing_ok=True)
        for folder in sorted(set(new_folders), key=lambda f: len(f.parts), reverse=True):   # deepest first
            if folder.is_dir() and not any(folder.iterdir()):
                folder.rmdir()
        raise
    return files


def _registry_dict(tree: ast.Module) -> ast.Dict | None:
    """The ``LIBRARY_ANSWERS = {...}`` literal of the registry module."""
    for node in tree.body:
        if isinstance(node, ast.Assign):
            targets = node.targets
        elif isinstance(node, ast.AnnAssign):
            targets = [node.target]
        else:
            continue
        named = any(isinstance(target, ast.Name) and target.id == "LIBRARY_ANSWERS" for target in targets)
        if named and isinstance(node.value, ast.Dict):
            return node.value
    return None


def _registered_assignments(registry: Path) -> set[str]:
    if not registry.is_file():
        return set()
    found = _registry_dict(ast.parse(registry.read_text(encoding="utf-8")))
    return {key.value for key in (found.keys if found else []) if isinstance(key, ast.Constant)}


def register_library_answers(text: str, name: str, entries: dict[str, list[str]]) -> str:
    """The registry module's ``text`` with ``LIBRARY_ANSWERS[name] = entries`` added as the
    last item of its dict literal (the rest of the file unchanged). CourseError when the
    literal cannot be found or does not end as the course writes it (a ``}`` on a line of its
    own after a trailing comma)."""
    found = _registry_dict(ast.parse(text))
    lines = text.splitlines(keepends=True)
    closing = found.end_lineno - 1 if found else -1
    before = "".join(lines[:closing]).rstrip()
    if found is None or lines[closing].strip() != "}" or not before.endswith((",", "{")):
        raise CourseError(f"cannot register {name!r} in {REGISTRY}: its LIBRARY_ANSWERS literal was not found "
                          f"or does not end with a trailing comma and a '}}' of its own")
    items = "".join(f"        {json.dumps(cell)}: {json.dumps(functions)},\n" for cell, functions in entries.items())
    lines.insert(closing, f"    {json.dumps(name)}: {{\n{items}    }},\n")
    return "".join(lines)


def next_steps(course_root: Path, name: str, files: list[ScaffoldedFile]) -> str:
    """What the command prints: the files written and the checklist of what to do next."""
    width = max(len(str(file.path)) for file in files)
    lines = [f"new assignment {name} in {course_root}:"]
    lines += [f"  {str(file.path).ljust(width)}  {file.what}" for file in files]
    registered = any(file.path == REGISTRY for file in files)
    lines += [
        "next steps:",
        "  1. Edit the three files, keeping their grade_ids in step:",
        f"       {files[0].path}: your text, your function (its solution between ### BEGIN SOLUTION and "
        "### END SOLUTION), its visible and hidden tests",
        f"       {files[1].path}: one check per grade cell",
        f"       {files[2].path}: a correct and a wrong variant per solution cell",
        "  2. List the course_utils functions that compute each answer: "
        + (f"LIBRARY_ANSWERS[{name!r}] in {REGISTRY}" if registered else f"LIBRARY_ANSWERS in {files[1].path}"),
    ]
    commands = [(f"segcourse release {name}", f"writes exercises/{name}/, the students' version"),
                (f"segcourse check-release {name}", f"exercises/{name}/ is in sync with solutions/{name}/"),
                (f"pytest tests/validity -k {name}", "the checks give the correct variants full marks, "
                                                     "the wrong ones lose their cells"),
                (f"segcourse grade {name}", f"grades .grading/submitted/<student>/{name}/")]
    command_width = max(len(command) for command, _ in commands)
    lines += [f"  {step}. {command.ljust(command_width)}  {why}" for step, (command, why) in enumerate(commands, 3)]
    return "\n".join(lines)
