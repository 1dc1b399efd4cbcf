"""Building the student kit: exactly what an enrolled student receives (threat model row 45).

    build_student_kit(course_root, destination)      # what `segcourse student-kit DIR` runs

The kit is written next to the destination and moved there when complete; a last audit
refuses any nbgrader marker and any entry but ``KIT_TOP_LEVEL``.
"""

from __future__ import annotations

import ast
import json
import os
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from autograder.student_kit.errors import DestinationError, KitError
from autograder.student_kit.project_files import STORE_TABLE, kit_pyproject, kit_readme
from autograder.student_kit.recording import STORE_SOURCE, record_expected_values, verify_kit_edition
from autograder.student_kit.selfcheck_edition import (
    SELFCHECK_FOLDER,
    STORED_FACTORIES,
    STORED_REFERENCES,
    UNAVAILABLE_REFERENCES,
    inline_reference_names,
    kit_edition,
    read_selfcheck_sources,
)

# Top-level entries of the kit, and nothing else.
KIT_TOP_LEVEL = ("README.md", "course_utils", "exercises", "lectures", "pyproject.toml")
STORE_MODULE = "_selfcheck_store.py"   # the text of autograder/student_kit/store.py

_MARKERS = ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS", "END HIDDEN TESTS")


@dataclass
class KitReport:
    """What build_student_kit wrote: where, how many files and bytes, how long it took, the
    references stored and those not available, and the number of stored values."""

    destination: Path
    files: int
    size_bytes: int
    seconds: float
    stored: tuple[str, ...]
    unavailable: tuple[str, ...]
    stored_values: int


def _library_version(course_root: Path) -> str:
    """``course_utils.__version__``, read from the source (the version is declared there once)."""
    tree = ast.parse((Path(course_root) / "course_utils" / "__init__.py").read_text(encoding="utf-8"))
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", "") == "__version__" for t in node.targets):
            return ast.literal_eval(node.value)
    raise KitError("course_utils/__init__.py declares no __version__")


def _files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file())


def _copy_library(course_root: Path, target: Path) -> None:
    source = course_root / "course_utils"
    for path in _files(source):
        relative = path.relative_to(source)
        if "__pycache__" in relative.parts or ".ipynb_checkpoints" in relative.parts:
            continue
        if path.suffix == ".py" or (relative.parts[0] == "weights" and path.suffix in (".h5", ".json")):
            (target / relative).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, target / relative)


def _copy_notebooks(course_root: Path, kit: Path) -> tuple[list[str], list[str]]:
    assignments = sorted(p.name for p in (course_root / "solutions").iterdir()
                         if p.is_dir() and any(p.glob("*.ipynb")))
    for assignment in assignments:
        release = course_root / "exercises" / assignment
        if not any(release.glob("*.ipynb")):
            raise KitError(f"exercises/{assignment} has no release notebook: run `segcourse release {assignment}`")
        for path in _files(release):
            relative = path.relative_to(release)
            if any(part.startswith(".") or part == "__pycache__" for part in relative.parts):
                continue
            (kit / "exercises" / assignment / relative).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, kit / "exercises" / assignment / relative)
    lectures = sorted(p.name for p in (course_root / "lectures").glob("*.ipynb"))
    (kit / "lectures").mkdir()
    for name in lectures:
        shutil.copy2(course_root / "lectures" / name, kit / "lectures" / name)
    return assignments, [name.removesuffix(".ipynb") for name in lectures]


def _audit(kit: Path) -> None:
    """Last line of defence: no nbgrader marker in any file, only the kit's entries."""
    extra = sorted(p.name for p in kit.iterdir() if p.name not in KIT_TOP_LEVEL)
    if extra:
        raise KitError(f"unexpected entries in the kit: {', '.join(extra)}")
    for path in _files(kit):
        if path.suffix in (".h5",):
            continue
        text = path.read_text(encoding="utf-8", errors="replace")
        for marker in _MARKERS:
            if marker in text:
                raise KitError(f"{path.relative_to(kit)} holds '{marker}': it must not reach students")


def check_destination(course_root: Path, destination: Path, force: bool) -> Path:
    """The absolute destination, or DestinationError saying why it cannot be used."""
    course_root, destination = Path(course_root).resolve(), Path(destination).expanduser().resolve()
    if destination == course_root or destination.is_relative_to(course_root):
        raise DestinationError(f"{destination} is inside the course repository; choose a folder outside it")
    if course_root.is_relative_to(destination) or destination == Path.home().resolve():
        raise DestinationError(f"{destination} holds the course repository or your home folder; "
                               "choose a folder of its own")
    if destination.exists() and not destination.is_dir():
        raise DestinationError(f"{destination} exists and is not a folder")
    if destination.is_dir() and any(destination.iterdir()) and not force:
        raise DestinationError(f"{destination} exists and is not empty; choose an empty folder, "
                               "or pass --force to replace it")
    return destination


def build_student_kit(course_root: Path, destination: Path, force: bool = False) -> KitReport:
    """Write the student kit to ``destination`` (replaced if ``force``); see the module doc."""
    started = time.perf_counter()
    course_root = Path(course_root).resolve()
    destination = check_destination(course_root, destination, force)
    recording = record_expected_values(course_root)
    table = recording.values
    selfcheck_sources = read_selfcheck_sources(course_root)
    kit_sources = kit_edition(selfcheck_sources)
    verify_kit_edition(course_root, kit_sources, recording)
    version = _library_version(course_root)

    try:
        destination.parent.mkdir(parents=True, exist_ok=True)
        building = Path(tempfile.mkdtemp(prefix=f".{destination.name}.building-", dir=destination.parent))
    except OSError as error:
        raise DestinationError(f"cannot write next to {destination}: {error.strerror or error}") from None
    try:
        _copy_library(course_root, building / "course_utils")
        for module, text in kit_sources.items():
            (building / SELFCHECK_FOLDER / f"{module}.py").write_text(text, encoding="utf-8")
        (building / "course_utils" / STORE_MODULE).write_text(STORE_SOURCE, encoding="utf-8")
        (building / "course_utils" / STORE_TABLE).write_text(
            json.dumps({"version": 1, "values": table}, sort_keys=True, separators=(",", ":")) + "\n",
            encoding="utf-8")
        assignments, lectures = _copy_notebooks(course_root, building)
        (building / "pyproject.toml").write_text(kit_pyproject(course_root), encoding="utf-8")
        (building / "README.md").write_text(kit_readme(assignments, lectures, version), encoding="utf-8")
        _audit(building)
        if destination.exists():
            shutil.rmtree(destination)
        os.replace(building, destination)
    finally:
        shutil.rmtree(building, ignore_errors=True)
    files = _files(destination)
    return KitReport(destination, len(files), sum(p.stat().st_size for p in files),
                     time.perf_counter() - started,
                     (*STORED_REFERENCES, *STORED_FACTORIES,
                      *(f"the inline reference of {name}" for name in inline_reference_names(selfcheck_sources))),
                     tuple(UNAVAILABLE_REFERENCES), len(table))
