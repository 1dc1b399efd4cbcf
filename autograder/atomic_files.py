"""Output files replaced atomically: written to a temporary file in the same folder,
flushed to disk and renamed over the old one.

A failure (a full disk, no permission) leaves the old file as it was and is one line
(``OutputError``) naming the file and the cause; no temporary file is left behind.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable
from pathlib import Path


class OutputError(RuntimeError):
    """An output file could not be written (one line naming the file and the cause); the
    previous file, if any, is left as it was."""


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
        fsync_file(temporary)
        replace_durably(temporary, path)
    except OSError as error:
        raise OutputError(f"cannot write {path}: {error.strerror or error} (the previous file is unchanged)") from None
    finally:
        remove_quietly(temporary)
    return path


def replace_durably(source: Path, target: Path) -> None:
    """Rename ``source`` over ``target`` (atomic in one folder) and flush the folder, so
    the rename survives a crash."""
    os.replace(source, target)
    fsync_folder(Path(target).parent)


def remove_quietly(path: Path) -> None:
    """Remove ``path`` if it can be (a temporary file a failure left, an old backup)."""
    with contextlib.suppress(OSError):
        Path(path).unlink()


def write_text_atomically(path: Path, text: str) -> Path:
    """``write_atomically`` of a text file."""
    return write_atomically(path, lambda temporary: temporary.write_text(text))


def fsync_file(path: Path) -> None:
    """Flush the file's content to disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_folder(folder: Path) -> None:
    """Flush the folder's entries (a rename in it) to disk; best effort."""
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
