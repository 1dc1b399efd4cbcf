"""``segcourse data fetch``: the table of sources pointed at a local server on 127.0.0.1."""

from __future__ import annotations

import socket

import pytest

from autograder.cli import EXIT_CHECK_FAILED, EXIT_OK, EXIT_USAGE, main
from course_utils.datasets import fetch
from tests.autograder.test_cli import run_cli
from tests.course_utils.local_archive_server import ArchiveServer, pets_archives, pets_source


@pytest.fixture
def local_pets(monkeypatch):
    """The oxford-pets entry of the table served from 127.0.0.1."""
    with ArchiveServer(pets_archives()) as server:
        monkeypatch.setitem(fetch.SOURCES, "oxford-pets", pets_source(server.url, server.files))
        yield server


def test_fetch_then_validate_then_fetch_again(local_pets, tmp_path, capsys):
    root = tmp_path / "pets"
    assert main(["data", "fetch", "oxford-pets", "--to", str(root)]) == EXIT_OK
    out, err = capsys.readouterr()
    assert f"folder: {root}" in out and "downloaded and verified images.tar.gz, annotations.tar.gz" in out
    assert f'datasets.load("pets", "{root}"' in out and f"segcourse validate-dataset pets {root}" in out
    assert "images.tar.gz [" in err and "100%" in err             # the progress bar, on stderr
    checked = run_cli("validate-dataset", "pets", str(root))
    assert checked.returncode == 0 and "no problems found" in checked.stdout, checked.stdout + checked.stderr
    local_pets.requests.clear()
    assert main(["data", "fetch", "oxford-pets", "--to", str(root)]) == EXIT_OK
    assert "already fetched and verified; nothing downloaded" in capsys.readouterr().out
    assert local_pets.requests == []


def test_wrong_checksum_is_one_line(local_pets, tmp_path, capsys, monkeypatch):
    source = pets_source(local_pets.url, local_pets.files, md5s={"annotations.tar.gz": "f" * 32})
    monkeypatch.setitem(fetch.SOURCES, "oxford-pets", source)
    assert main(["data", "fetch", "oxford-pets", "--to", str(tmp_path)]) == EXIT_CHECK_FAILED
    error = capsys.readouterr().err.rsplit("\r", 1)[-1].strip().splitlines()[-1]
    assert error.startswith("segcourse: error: annotations.tar.gz: wrong checksum (expected MD5 " + "f" * 32)
    assert not (tmp_path / "annotations").exists() and (tmp_path / "images").is_dir()


def test_offline_says_synthetic_data_stay_the_default(tmp_path, capsys, monkeypatch):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setitem(fetch.SOURCES, "oxford-pets", pets_source(f"http://127.0.0.1:{port}", pets_archives()))
    assert main(["data", "fetch", "oxford-pets", "--to", str(tmp_path)]) == EXIT_CHECK_FAILED
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(f"segcourse: offline: cannot reach 127.0.0.1:{port}")
    assert "synthetic data stay the default" in err and "segcourse data fetch oxford-pets" in err


@pytest.mark.parametrize("args, message", [
    (["data", "fetch", "kitti"], "invalid choice: 'kitti' (choose from 'camvid', 'oxford-pets')"),
    (["data", "fetch"], "required: DATASET"),
    (["data"], "required: ACTION"),
])
def test_bad_usage_exits_2(args, message):
    result = run_cli(*args)
    assert result.returncode == EXIT_USAGE and "usage:" in result.stderr and message in result.stderr, result.stderr
    assert "Traceback" not in result.stderr
