"""The grading-edition cache is pruned (``autograder/library_edition.py``, module docstring).

When a new edition is built, the other editions of that assignment beyond the
``EDITIONS_KEPT`` most recently used go, but only those unused for
``UNUSED_BEFORE_REMOVAL_S``; symlinks, files and folders not named as the builder names
editions are never touched, nor anything a symlink points to; pruning errors are warnings.
"""

from __future__ import annotations

import logging
import os
import shutil
import time
from pathlib import Path

import pytest

from autograder import library_edition
from autograder.library_edition import EDITIONS_KEPT, UNUSED_BEFORE_REMOVAL_S, grading_edition
from tests import REPO_ROOT

ASSIGNMENT = "fcn_basics"
OTHER_ASSIGNMENT = "losses_metrics"
LONG_AGO = time.time() - 2 * UNUSED_BEFORE_REMOVAL_S     # unused for two grace periods


@pytest.fixture
def library(tmp_path) -> Path:
    """A private copy of ``course_utils`` whose files a test may change between builds."""
    source = tmp_path / "library" / "course_utils"
    shutil.copytree(REPO_ROOT / "course_utils", source, ignore=shutil.ignore_patterns("__pycache__"))
    return source


@pytest.fixture
def cache(tmp_path) -> Path:
    folder = tmp_path / "cache"
    folder.mkdir(mode=0o755)
    os.chmod(folder, 0o755)
    return folder


def _version(library: Path, number: int) -> None:
    """Make the library's content (so its edition's hash) that of version ``number``."""
    (library / "metrics.py").write_text((REPO_ROOT / "course_utils" / "metrics.py").read_text()
                                        + f"\n# library version {number}\n")


def _build(library: Path, cache: Path, number: int, assignment: str = ASSIGNMENT) -> Path:
    """Build (or reuse) the edition of library version ``number``; its ``<assignment>-<hash>`` folder."""
    _version(library, number)
    edition = grading_edition(library, assignment, cache_dir=cache).parent
    assert f"# library version {number}" in (edition / "course_utils" / "metrics.py").read_text()
    return edition


def _age(path: Path, when: float = LONG_AGO) -> None:
    os.utime(path, (when, when), follow_symlinks=False)


def _editions(cache: Path) -> set[str]:
    return {p.name for p in cache.iterdir() if not p.name.startswith(".")}


def test_old_editions_go_and_the_newest_stay(library, cache):
    assert EDITIONS_KEPT == 2
    other = _build(library, cache, 0, assignment=OTHER_ASSIGNMENT)   # another assignment's, old: not ours to prune
    _age(other)
    first = _build(library, cache, 1)
    _age(first)
    second = _build(library, cache, 2)
    _age(second, LONG_AGO + 60)                                      # used after the first
    assert _editions(cache) == {other.name, first.name, second.name}    # two editions: nothing to prune
    third = _build(library, cache, 3)
    assert _editions(cache) == {other.name, second.name, third.name}    # the oldest went; the other two stay
    assert (second / "course_utils" / "__init__.py").is_file() and (third / "course_utils" / "__init__.py").is_file()
    assert not any(p.name.startswith(".") for p in cache.iterdir())  # no .building- or .removing- leftovers


def test_a_recently_used_edition_is_kept(library, cache):
    first = _build(library, cache, 1)
    second = _build(library, cache, 2)
    third = _build(library, cache, 3)
    # The first is beyond the two most recent but was used within the grace period: a
    # batch may still be running on it.
    assert _editions(cache) == {first.name, second.name, third.name}
    for edition in (first, second, third):
        _age(edition)
    assert _build(library, cache, 1) == first            # using an edition marks it used ...
    assert first.stat().st_mtime > LONG_AGO + UNUSED_BEFORE_REMOVAL_S
    fourth = _build(library, cache, 4)
    # ... so the two unused for long go, the one used just now stays with the new one.
    assert _editions(cache) == {first.name, fourth.name}


def test_symlinks_and_foreign_folders_are_left_alone(library, cache, tmp_path):
    outside = tmp_path / "outside"
    (outside / "course_utils").mkdir(parents=True)
    (outside / "course_utils" / "__init__.py").write_text("# not the cache's\n")
    hash_like = "0123456789abcdef0123"
    link = cache / f"{ASSIGNMENT}-{hash_like}"                  # named as an edition, but a symlink out
    link.symlink_to(outside, target_is_directory=True)
    foreign = [cache / f"{ASSIGNMENT}-notanedition", cache / f"{ASSIGNMENT}-{hash_like}0",
               cache / f"{ASSIGNMENT}_extra-{'f' * 20}", cache / "somebody-elses"]
    for folder in foreign:
        folder.mkdir()
        (folder / "keep.txt").write_text("mine\n")
    as_file = cache / f"{ASSIGNMENT}-{'e' * 20}"                # named as an edition, but a file
    as_file.write_text("not a folder\n")
    first = _build(library, cache, 1)
    (first / "course_utils" / "escape").symlink_to(outside, target_is_directory=True)   # a link out, inside
    for path in (link, outside, as_file, first, *foreign):
        _age(path)
    second = _build(library, cache, 2)
    _age(second, LONG_AGO + 60)
    third = _build(library, cache, 3)
    assert not first.exists()                                     # pruning ran ...
    assert {second.name, third.name} <= _editions(cache)
    assert link.is_symlink() and (outside / "course_utils" / "__init__.py").read_text() == "# not the cache's\n"
    assert as_file.read_text() == "not a folder\n"                # ... and touched nothing else
    for folder in foreign:
        assert (folder / "keep.txt").read_text() == "mine\n"


def test_a_pruning_error_is_a_warning_not_a_failure(library, cache, monkeypatch, caplog):
    first = _build(library, cache, 1)
    _age(first)
    second = _build(library, cache, 2)
    _age(second, LONG_AGO + 60)

    real_rmtree = shutil.rmtree

    def failing_rmtree(path, *args, **kwargs):
        if Path(path).name.startswith(".removing-"):
            raise PermissionError(13, "Permission denied", str(path))
        return real_rmtree(path, *args, **kwargs)

    monkeypatch.setattr(library_edition.shutil, "rmtree", failing_rmtree)
    with caplog.at_level(logging.WARNING, logger="autograder.library_edition"):
        third = _build(library, cache, 3)
    assert (third / "course_utils" / "__init__.py").is_file()
    assert "could not delete" in caplog.text and first.name in caplog.text
    assert not first.exists()                  # renamed out of the way: never taken for a cached edition
    monkeypatch.undo()
    leftovers = [p for p in cache.iterdir() if p.name.startswith(".removing-")]
    assert len(leftovers) == 1
    _age(leftovers[0])
    _age(third)
    _build(library, cache, 4)                  # the next pruning deletes the leftover
    assert not any(p.name.startswith(".removing-") for p in cache.iterdir())


def test_an_edition_used_while_it_is_removed_is_put_back(library, cache):
    """The race the rename guards against: a grading run marks the edition used after the
    pruning listed it as old; the removal sees the fresh mtime after its rename and undoes it."""
    edition = _build(library, cache, 1)                      # just used
    cutoff = time.time() - UNUSED_BEFORE_REMOVAL_S
    assert library_edition._remove_edition(cache, edition.name, cutoff) is False
    assert (edition / "course_utils" / "__init__.py").is_file()
    assert _editions(cache) == {edition.name} and not any(p.name.startswith(".") for p in cache.iterdir())
    _age(edition)
    assert library_edition._remove_edition(cache, edition.name, cutoff) is True
    assert not any(cache.iterdir())
