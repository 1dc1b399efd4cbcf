"""Tests of course_utils.settings: each setting follows its environment variable when read."""

from pathlib import Path

import pytest

from course_utils import settings


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch):
    for name in ("COURSE_FAST", "NBGRADER_EXECUTION", "SEGCOURSE_PROGRESS_FILE", "SEGCOURSE_CHECK_SECONDS",
                 "SEGCOURSE_ASSIGNMENT", "SEGCOURSE_WIDGETS", "SEGCOURSE_WEIGHTS", "KERAS_HOME"):
        monkeypatch.delenv(name, raising=False)


@pytest.mark.parametrize(("variables", "fast"), [
    ({}, False), ({"COURSE_FAST": "1"}, True), ({"COURSE_FAST": "0"}, False), ({"COURSE_FAST": "yes"}, False),
    ({"NBGRADER_EXECUTION": "autograde"}, True), ({"NBGRADER_EXECUTION": ""}, False),
])
def test_fast_mode_under_ci_and_under_nbgrader(monkeypatch, variables, fast):
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    assert settings.fast_mode() is fast


def test_progress_file_default_and_override(monkeypatch, tmp_path):
    monkeypatch.setenv("HOME", str(tmp_path))
    assert settings.progress_file() == tmp_path / ".segcourse" / "progress.json"
    monkeypatch.setenv("SEGCOURSE_PROGRESS_FILE", "~/elsewhere.json")
    assert settings.progress_file() == tmp_path / "elsewhere.json"


def test_check_seconds_default_fast_override_and_bad_value(monkeypatch):
    assert settings.check_seconds() == 60.0
    monkeypatch.setenv("COURSE_FAST", "1")
    assert settings.check_seconds() == 15.0
    monkeypatch.setenv("SEGCOURSE_CHECK_SECONDS", "0.5")
    assert settings.check_seconds() == 0.5
    monkeypatch.setenv("SEGCOURSE_CHECK_SECONDS", "soon")
    assert settings.check_seconds() == 15.0


def test_assignment_override(monkeypatch):
    assert settings.assignment_override() is None
    monkeypatch.setenv("SEGCOURSE_ASSIGNMENT", "unet")
    assert settings.assignment_override() == "unet"


@pytest.mark.parametrize(("value", "mode"), [("live", "live"), (" Static ", "static"), ("maybe", None), ("", None)])
def test_widget_mode(monkeypatch, value, mode):
    monkeypatch.setenv("SEGCOURSE_WIDGETS", value)
    assert settings.widget_mode() == mode


def test_weights_search_dirs(monkeypatch, tmp_path):
    monkeypatch.setenv("HOME", str(tmp_path))
    assert settings.weights_search_dirs() == [tmp_path / ".keras" / "models"]
    monkeypatch.setenv("SEGCOURSE_WEIGHTS", str(tmp_path / "weights"))
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras_home"))
    assert settings.weights_search_dirs() == [tmp_path / "weights", tmp_path / "keras_home" / "models"]


def test_settings_imports_only_the_standard_library():
    source = Path(settings.__file__).read_text()
    imported = [line.split()[1] for line in source.splitlines() if line.startswith(("import ", "from "))]
    assert set(imported) <= {"__future__", "os", "pathlib"}
