"""The grading edition of the course library: ``course_utils`` without the graded answers.

While an assignment is graded, the sandbox mounts this edition where the real
``course_utils`` is imported from. It is a copy of the package's sources and package data
(never ``__pycache__`` or ``.pyc`` files, which would hold the original code) in which

- every function or class that ``course_utils/library_answers.py`` registers for the
  assignment is replaced by a stub of the same name that raises ``LibraryAnswerError``
  with the rule ("... is not available while <assignment> is graded: graded answers must
  be your own code ..."), and
- the package ``course_utils/selfcheck/`` is replaced by a stub package: every module keeps
  its public names (``check_*``, ``show_progress``, ...) as functions that print one line,
  "self-checks are off while your work is graded", and return None, and the constant tables
  (``EXERCISE_CHECKS``, ``COURSE_ORDER``); the private references registered for the
  assignment are stubs that raise ``LibraryAnswerError``. No check, case or reference
  answer of the real package survives.

Editions are cached per assignment and content hash (of the library's files and of this
module) under ``$SEGCOURSE_EDITION_CACHE``, else ``<tmp>/segcourse-editions-<uid>``;
files are world-readable (the sandbox's user reads them) and the folder is mounted
read-only.

Old editions are pruned. Each call that finds an edition in the cache sets its folder's
mtime to now (grading calls once per submission, so a running batch keeps its edition
fresh). When a new edition is built, the other editions of the same assignment are sorted
by that mtime: the ``EDITIONS_KEPT`` (2) most recently used stay, and of the others only
those unused for ``UNUSED_BEFORE_REMOVAL_S`` (24 hours, far above the default 15-minute
time limit of one submission) are removed, so a batch still running on an older edition
is never pulled from under it. Only real folders owned by this user and named as the builder names
them (``<assignment>-<20 hex digits>``) are removed; symbolic links, files and other
folders are left alone, and nothing is followed out of the cache. A removed edition is
first renamed to ``.removing-...`` (so a half-removed one is never taken for a cached
edition), then deleted; ``.removing-...`` and ``.building-...`` folders left by a process
killed midway are deleted by a later pruning once unused for as long. Pruning errors are
logged as warnings and never fail grading.

    package_dir = grading_edition(Path("course_utils"), "fcn_basics")   # .../<key>/course_utils
"""

from __future__ import annotations

import ast
import hashlib
import importlib.util
import logging
import os
import re
import shutil
import stat
import tempfile
import threading
import time
from pathlib import Path

from autograder.source_rewrite import definitions, replace_definitions

PACKAGE = "course_utils"
SELFCHECK = "selfcheck"  # the self-checks' package inside course_utils: replaced as a whole
SELFCHECK_OFF = "self-checks are off while your work is graded"
_SKIPPED_NAMES = ("__pycache__",)
_SKIPPED_SUFFIXES = (".pyc", ".pyo")
# One build at a time in this process: grading workers are threads, and CPython 3.11's
# ast.parse is not safe in two threads at once ("AST constructor recursion depth mismatch").
_BUILD_LOCK = threading.Lock()
EDITIONS_KEPT = 2                        # per assignment, the most recently used, whatever their age
UNUSED_BEFORE_REMOVAL_S = 24 * 3600      # an edition used more recently than this is never removed
_HASH_DIGITS = 20
_BUILDING_PREFIX = ".building-"
_REMOVING_PREFIX = ".removing-"
_log = logging.getLogger(__name__)


class EditionError(ValueError):
    """The library source or the assignment cannot make a grading edition (the message says why)."""


def grading_edition(course_utils_source: Path, assignment: str, cache_dir: Path | None = None,
                    course_answers: dict[str, list[str]] | None = None) -> Path:
    """The folder of the ``course_utils`` package of ``assignment``'s grading edition.

    Args:
        course_utils_source: the real package folder (holding ``__init__.py`` and
            ``library_answers.py``, whose registry is used).
        assignment: an assignment of that registry, or one that ``course_answers`` declares.
        course_answers: for an assignment the registry does not know (a course folder's own,
            with the wheel installed): grade_id -> registry entries, as its check table's
            ``LIBRARY_ANSWERS`` declares them. Ignored when the registry knows the assignment.
        cache_dir: where editions are kept; default ``$SEGCOURSE_EDITION_CACHE`` or
            ``<tmp>/segcourse-editions-<uid>``.
    Returns:
        ``<cache>/<assignment>-<hash>/course_utils`` (its parent goes first on
        ``sys.path`` to import it). Built once; later calls return the cached folder.
    Raises:
        EditionError: not a package folder, no registry, an unknown assignment, a
            registered name the source does not define, or a cache folder not owned by
            this user.
    """
    with _BUILD_LOCK:
        return _grading_edition(Path(course_utils_source), assignment, cache_dir, course_answers)


def _grading_edition(source: Path, assignment: str, cache_dir: Path | None,
                     course_answers: dict[str, list[str]] | None) -> Path:
    if not (source / "__init__.py").is_file():
        raise EditionError(f"{source} is not the {PACKAGE} package folder (no __init__.py)")
    if not (source / "library_answers.py").is_file():
        raise EditionError(f"{source} has no library_answers.py: its registry of library answers is needed")
    registry = _load_registry(source / "library_answers.py")       # a private copy: safe to extend
    if assignment not in registry.LIBRARY_ANSWERS and course_answers:
        registry.LIBRARY_ANSWERS[assignment] = {cell: list(entries) for cell, entries in course_answers.items()}
    if assignment not in registry.LIBRARY_ANSWERS:
        raise EditionError(f"no library answers registered for assignment {assignment!r} in "
                           f"{source / 'library_answers.py'} (known: {', '.join(sorted(registry.LIBRARY_ANSWERS))}) "
                           f"nor as LIBRARY_ANSWERS in the course's autograder/references/{assignment}.py")
    files = _package_files(source)
    digest = hashlib.sha256()
    digest.update(Path(__file__).read_bytes())
    digest.update(assignment.encode())
    digest.update(repr(sorted(registry.LIBRARY_ANSWERS[assignment].items())).encode())
    for relative in files:
        digest.update(relative.as_posix().encode() + b"\0" + (source / relative).read_bytes() + b"\0")
    root = _cache_root(cache_dir)
    final = root / f"{assignment}-{digest.hexdigest()[:_HASH_DIGITS]}"
    _mark_used(final)                       # before the check: a concurrent pruning then keeps it
    if (final / PACKAGE / "__init__.py").is_file():
        return final / PACKAGE
    building = Path(tempfile.mkdtemp(prefix=_BUILDING_PREFIX, dir=root))
    try:
        package = building / PACKAGE
        for relative in files:
            (package / relative).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source / relative, package / relative)
        _remove_answers(package, assignment, registry)
        removed: dict[str, dict[str, str]] = {}
        for entry in registry.registered_entries(assignment):
            module, qualname = registry.split_entry(entry)
            if _is_selfcheck(module):
                removed.setdefault(module, {})[qualname] = registry.rule_message(entry, assignment)
        shutil.rmtree(package / SELFCHECK)
        for relative, text in selfcheck_stub_package(source / SELFCHECK, removed).items():
            (package / SELFCHECK / relative).parent.mkdir(parents=True, exist_ok=True)
            (package / SELFCHECK / relative).write_text(text, encoding="utf-8")
        _make_readable(building)
        try:
            os.rename(building, final)
        except OSError:                     # another worker built it first
            if not (final / PACKAGE / "__init__.py").is_file():
                raise
    finally:
        shutil.rmtree(building, ignore_errors=True)
    _mark_used(final)
    try:
        prune_editions(root, assignment, keep=final.name)
    except Exception as error:          # pruning is housekeeping: it must never fail grading
        _log.warning("pruning the grading edition cache %s failed: %s", root, error)
    return final / PACKAGE


def _mark_used(edition: Path) -> None:
    """Set the edition folder's mtime to now: pruning removes the least recently used."""
    try:
        os.utime(edition, follow_symlinks=False)
    except OSError:
        pass                                # not built yet, or gone: the caller builds it


def _owned_folder(path: Path) -> os.stat_result | None:
    """``path``'s lstat if it is a real folder (no symlink) owned by this user, else None."""
    try:
        info = path.lstat()
    except OSError:
        return None
    return info if stat.S_ISDIR(info.st_mode) and info.st_uid == os.getuid() else None


def prune_editions(root: Path, assignment: str, keep: str | None = None,
                   kept: int = EDITIONS_KEPT, unused_s: float = UNUSED_BEFORE_REMOVAL_S) -> list[str]:
    """Remove ``assignment``'s old editions from the cache folder ``root`` (rule: module docstring).

    Args:
        root: the edition cache (as ``grading_edition`` uses it).
        assignment: whose editions (``<assignment>-<20 hex digits>``) are considered.
        keep: the name of an edition never removed (the one just built).
        kept: how many of the most recently used (folder mtime) stay whatever their age.
        unused_s: seconds since its last use before an edition beyond ``kept`` is removed.
    Returns:
        The names of the editions removed. Errors are logged as warnings, never raised.
    """
    removed: list[str] = []
    try:
        names = os.listdir(root)
    except OSError as error:
        _log.warning("could not list the edition cache %s to prune it: %s", root, error)
        return removed
    cutoff = time.time() - unused_s
    pattern = re.compile(rf"{re.escape(assignment)}-[0-9a-f]{{{_HASH_DIGITS}}}")
    editions = []
    for name in names:
        info = _owned_folder(root / name)
        if info is None:
            continue
        if name.startswith((_REMOVING_PREFIX, _BUILDING_PREFIX)) and info.st_mtime < cutoff:
            _delete(root / name)            # an interrupted removal, or a build killed long ago
        elif pattern.fullmatch(name):
            editions.append((info.st_mtime, name))
    editions.sort(reverse=True)             # most recently used first
    for mtime, name in editions[kept:]:
        if name != keep and mtime < cutoff and _remove_edition(root, name, cutoff):
            removed.append(name)
    return removed


def _remove_edition(root: Path, name: str, cutoff: float) -> bool:
    """Rename the edition out of the way (atomically: no one takes a half-removed edition
    for a cached one), then delete it; put it back if it was used meanwhile."""
    removing = root / f"{_REMOVING_PREFIX}{name}-{os.getpid()}-{threading.get_ident()}"
    try:
        os.rename(root / name, removing)
    except OSError as error:
        _log.warning("could not remove the old grading edition %s: %s", root / name, error)
        return False
    info = _owned_folder(removing)
    if info is None:
        return False
    if info.st_mtime >= cutoff:             # a grading run marked it used between the listing and the rename
        try:
            os.rename(removing, root / name)
            return False
        except OSError:                     # rebuilt meanwhile under its name: this copy is not needed
            pass
    return _delete(removing)


def _delete(folder: Path) -> bool:
    """Delete a folder of the cache without following symbolic links; warn on failure."""
    try:
        shutil.rmtree(folder)               # refuses a symlink; never follows one inside
        return True
    except OSError as error:
        _log.warning("could not delete %s from the grading edition cache: %s", folder, error)
        return False


def _load_registry(path: Path):
    """The registry module of this library source (only names and the standard library)."""
    spec = importlib.util.spec_from_file_location(f"_segcourse_library_answers_{abs(hash(str(path)))}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _package_files(source: Path) -> list[Path]:
    """Sources and package data, relative to ``source``, sorted; never caches or compiled code."""
    found = []
    for folder, names, filenames in os.walk(source):
        names[:] = sorted(n for n in names if n not in _SKIPPED_NAMES and not n.startswith("."))
        for name in sorted(filenames):
            path = Path(folder, name)
            if name.endswith(_SKIPPED_SUFFIXES) or name.startswith(".") or path.is_symlink() or not path.is_file():
                continue
            found.append(path.relative_to(source))
    return found


def _cache_root(cache_dir: Path | None) -> Path:
    configured = cache_dir or os.environ.get("SEGCOURSE_EDITION_CACHE")
    root = Path(configured) if configured else Path(tempfile.gettempdir()) / f"segcourse-editions-{os.getuid()}"
    root.mkdir(parents=True, exist_ok=True, mode=0o755)
    info = root.lstat()
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid() or info.st_mode & 0o022:
        raise EditionError(f"the edition cache {root} must be a folder owned by this user and writable by no one "
                           "else (set SEGCOURSE_EDITION_CACHE to another folder)")
    return root


def _make_readable(folder: Path) -> None:
    for path, _folders, filenames in os.walk(folder):
        os.chmod(path, 0o755)
        for name in filenames:
            os.chmod(Path(path, name), 0o644)


def _is_selfcheck(module: str) -> bool:
    return module == f"{PACKAGE}.{SELFCHECK}" or module.startswith(f"{PACKAGE}.{SELFCHECK}.")


def _remove_answers(package: Path, assignment: str, registry) -> None:
    """Replace every registered definition of ``assignment`` (but selfcheck's) by a stub."""
    by_module: dict[str, list[str]] = {}
    for entry in registry.registered_entries(assignment):
        module, qualname = registry.split_entry(entry)
        by_module.setdefault(module, []).append(qualname)
    for module, qualnames in by_module.items():
        if _is_selfcheck(module):          # the whole package is replaced
            continue
        relative = Path(*module.split(".")[1:])
        path = package / relative.with_suffix(".py")
        if not path.is_file():
            path = package / relative / "__init__.py"
        if not path.is_file():
            raise EditionError(f"registered module {module} has no source file in the library")
        text = path.read_text(encoding="utf-8")
        found = definitions(text)
        missing = [q for q in qualnames if q not in found]
        if missing:
            raise EditionError(f"{module} does not define the registered {', '.join(missing)}")
        stubs = {q: _stub(found[q].name, registry.rule_message(f"{module}:{q}", assignment),
                          is_class=isinstance(found[q], ast.ClassDef)) for q in qualnames}
        path.write_text(replace_definitions(text, stubs), encoding="utf-8")


def _stub(name: str, message: str, is_class: bool = False) -> str:
    """Code that stands in for one definition: same name, raises LibraryAnswerError(message)."""
    raise_it = (f"    from {PACKAGE}.library_answers import LibraryAnswerError\n"
                f"    raise LibraryAnswerError({message!r})\n")
    doc = '    """Not available while this assignment is graded (course_utils.library_answers)."""\n'
    if is_class:
        return (f"class {name}:\n{doc}\n"
                f"    def __init__(self, *args, **kwargs):\n" + "".join("    " + line for line in
                                                                          raise_it.splitlines(keepends=True)))
    return f"def {name}(*args, **kwargs):\n{doc}{raise_it}"


def selfcheck_names(selfcheck_source: str) -> list[str]:
    """The public names of a self-check module (its ``__all__``, else its public
    top-level functions, classes and assignments)."""
    tree = ast.parse(selfcheck_source)
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "__all__" for t in node.targets):
            return [str(v) for v in ast.literal_eval(node.value)]
    names = []
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            names.append(node.name)
        elif isinstance(node, ast.Assign):
            names += [t.id for t in node.targets if isinstance(t, ast.Name)]
    return [n for n in names if not n.startswith("_")]


def _literal_constants(source: str) -> dict:
    """The public names a module assigns a literal value (tables such as ``EXERCISE_CHECKS``)."""
    constants = {}
    for node in ast.parse(source).body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            name = node.targets[0].id
            if not name.startswith("_"):
                try:
                    constants[name] = ast.literal_eval(node.value)
                except ValueError:
                    pass
    return constants


def selfcheck_stub(selfcheck_source: str, removed: dict[str, str] | None = None,
                   module: str = f"{PACKAGE}.{SELFCHECK}", constants: dict | None = None,
                   submodules: tuple[str, ...] = ()) -> str:
    """The grading edition of one module of the self-checks: the same public names, no checks.

    Functions print SELFCHECK_OFF and return None; ``CheckResult`` stays a plain record;
    constant tables keep their literal values (those of ``selfcheck_source``, and
    ``constants``: the package's, for names a module imports); any other public name asked
    for is such a function too. ``removed``: private references registered for the
    assignment (name -> rule message): stubs that raise ``LibraryAnswerError`` (no
    reference's code is here); other private names do not exist. ``submodules``: stub
    modules of the package that this one (``__init__``) imports, as the real one does.
    """
    constants = {**(constants or {}), **_literal_constants(selfcheck_source)}
    names = selfcheck_names(selfcheck_source)
    lines = [f'"""Self-checks, grading edition: {SELFCHECK_OFF} (no check runs, no reference is here)."""',
             "", "from dataclasses import dataclass", ""]
    lines += [f"from . import {name}  # noqa: F401" for name in submodules]
    lines += ["", f"__all__ = {names!r}", "", "",
              "@dataclass(frozen=True)", "class CheckResult:",
              '    """What one run of a self-check found (none runs while your work is graded)."""', "",
              "    name: str", "    passed: bool", "    message: str", "    hint_level: int",
              "    mistake: str | None = None", "", "",
              "def _off(*args, **kwargs):", f"    print({SELFCHECK_OFF!r})", "    return None", ""]
    for name in names:
        if name == "CheckResult":
            continue
        if name in constants:
            lines.append(f"{name} = {constants[name]!r}")
        else:
            lines += ["", f"def {name}(*args, **kwargs):", f"    print({SELFCHECK_OFF!r})", "    return None", ""]
    for name, message in sorted((removed or {}).items()):
        lines += ["", _stub(name, message).rstrip("\n"), ""]
    lines += ["", "def __getattr__(name):",
              '    if name.startswith("_"):',
              f'        raise AttributeError(f"module {module} has no attribute {{name!r}}")',
              "    return _off", ""]
    return "\n".join(lines)


def selfcheck_stub_package(selfcheck_folder: Path, removed: dict[str, dict[str, str]] | None = None) -> dict[str, str]:
    """The grading edition of the package ``course_utils/selfcheck/``: file name -> text.

    One stub module (:func:`selfcheck_stub`) for each module of the real package, with the
    same public names; ``removed``: ``{module: {private reference: rule message}}`` of the
    assignment, e.g. ``{"course_utils.selfcheck.overlap": {"_dice_reference": "..."}}``.
    """
    folder = Path(selfcheck_folder)
    sources = {path.stem: path.read_text(encoding="utf-8") for path in sorted(folder.glob("*.py"))}
    if "__init__" not in sources:
        raise EditionError(f"{folder} is not the {SELFCHECK} package (no __init__.py)")
    constants = {}
    for source in sources.values():
        constants.update(_literal_constants(source))
    package = f"{PACKAGE}.{SELFCHECK}"
    stubs = {}
    for stem, source in sources.items():
        module = package if stem == "__init__" else f"{package}.{stem}"
        submodules = tuple(s for s in sources if s != "__init__") if stem == "__init__" else ()
        stubs[f"{stem}.py"] = selfcheck_stub(source, (removed or {}).get(module), module, constants, submodules)
    unknown = sorted(set(removed or {}) - {package, *(f"{package}.{s}" for s in sources)})
    if unknown:
        raise EditionError(f"registered self-check modules {', '.join(unknown)} are not in {folder}")
    return stubs
