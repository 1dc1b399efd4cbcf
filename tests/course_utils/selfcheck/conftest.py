"""Every self-check test gets a fresh progress file and a working folder that is no assignment."""

import pytest


@pytest.fixture(autouse=True)
def progress_path(tmp_path, monkeypatch):
    """A fresh progress file per test, and a working folder that is no assignment."""
    path = tmp_path / "progress" / "progress.json"
    monkeypatch.setenv("SEGCOURSE_PROGRESS_FILE", str(path))
    monkeypatch.delenv("SEGCOURSE_ASSIGNMENT", raising=False)
    monkeypatch.chdir(tmp_path)
    return path
