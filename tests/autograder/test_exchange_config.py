"""The exchange root, course id and course folder come from the instructor's nbgrader
configuration when it sets them (issue 14, item 1); the repository's ``.grading/`` is the
single-machine default.

Each test points Jupyter's config search at temporary folders: ``JUPYTER_CONFIG_PATH`` plays
a hub's system config (``/etc/jupyter``), ``JUPYTER_CONFIG_DIR`` the instructor's own
(``~/.jupyter``); this machine's own system folders (``/etc/jupyter``, where a hub recipe
may have written a config) are left out of the search in this process. The course is a
temporary copy of ``fcn_basics`` with the repository's ``nbgrader_config.py``, so nothing
is released into this checkout.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from autograder.cli import EXIT_OK, EXIT_USAGE, main
from autograder.course import COURSE_ID, course_config, course_settings, instructor_config_dirs
from tests import REPO_ROOT

ASSIGNMENT = "fcn_basics"
VENV_BIN = Path(sys.executable).parent


def write_config(folder: Path, **settings: str) -> Path:
    """``folder/nbgrader_config.py`` setting ``Section.trait = value`` for each
    ``Section__trait=value``, as an administrator writes one."""
    folder.mkdir(parents=True, exist_ok=True)
    lines = ["c = get_config()  # noqa: F821"]
    lines += [f"c.{key.replace('__', '.')} = {value!r}" for key, value in settings.items()]
    path = folder / "nbgrader_config.py"
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture
def config_dirs(tmp_path, monkeypatch):
    """(system, user): empty config folders, the only ones Jupyter searches in this process."""
    system, user = tmp_path / "etc-jupyter", tmp_path / "home-jupyter"
    system.mkdir()
    user.mkdir()
    monkeypatch.setenv("JUPYTER_CONFIG_PATH", str(system))
    monkeypatch.setenv("JUPYTER_CONFIG_DIR", str(user))
    monkeypatch.delenv("JUPYTER_NO_CONFIG", raising=False)
    monkeypatch.setattr("jupyter_core.paths.SYSTEM_CONFIG_PATH", [])     # /etc/jupyter, /usr/local/etc/jupyter
    monkeypatch.setattr("jupyter_core.paths.ENV_CONFIG_PATH", [])        # <sys.prefix>/etc/jupyter
    monkeypatch.setattr("site.ENABLE_USER_SITE", False)                  # ~/.local/etc/jupyter
    return system, user


@pytest.fixture
def course(tmp_path) -> Path:
    root = tmp_path / "course"
    for folder in ("solutions", "exercises"):
        shutil.copytree(REPO_ROOT / folder / ASSIGNMENT, root / folder / ASSIGNMENT)
    shutil.copy(REPO_ROOT / "nbgrader_config.py", root / "nbgrader_config.py")
    return root


# ----------------------------------------------------------------------------- which settings
def test_nothing_configured_means_the_repositorys_grading_folder(config_dirs, course):
    assert instructor_config_dirs() == [str(d) for d in config_dirs]     # JUPYTER_CONFIG_PATH first
    config = course_config(course)
    assert config.Exchange.root == str(course / ".grading" / "exchange")
    assert Path(config.Exchange.root).is_dir()
    assert config.CourseDirectory.course_id == COURSE_ID
    settings = course_settings(course, course / ".grading")
    assert settings.exchange.source.startswith("default")
    assert settings.course_id.source.startswith("default")


def test_a_system_config_sets_the_exchange_and_course_id(config_dirs, course, tmp_path):
    system, _ = config_dirs
    exchange = tmp_path / "srv-exchange"
    config_file = write_config(system, Exchange__root=str(exchange), CourseDirectory__course_id="fcn101")
    config = course_config(course)
    assert config.Exchange.root == str(exchange)
    assert config.CourseDirectory.course_id == "fcn101"
    assert not exchange.exists(), "a configured exchange is the hub's: never created by the course config"
    assert not (course / ".grading" / "exchange").exists()
    settings = course_settings(course, course / ".grading")
    assert settings.exchange.describe() == f"{exchange} (from {config_file})"
    assert settings.course_id.describe() == f"fcn101 (from {config_file})"


def test_the_higher_priority_file_wins_and_is_named(config_dirs, course, tmp_path):
    system, user = config_dirs
    write_config(user, Exchange__root=str(tmp_path / "user-exchange"))
    # JUPYTER_CONFIG_PATH comes before the user's folder in Jupyter's search path
    winner = write_config(system, Exchange__root=str(tmp_path / "path-exchange"))
    settings = course_settings(course, course / ".grading")
    assert settings.exchange.value == str(tmp_path / "path-exchange")
    assert settings.exchange.source == str(winner)


def test_other_exchange_settings_go_with_the_root(config_dirs, course, tmp_path):
    system, _ = config_dirs
    write_config(system, Exchange__root=str(tmp_path / "x"), Exchange__path_includes_course=True)
    assert course_config(course).Exchange.path_includes_course is True


def test_a_user_config_that_loads_the_course_config_keeps_the_systems_exchange(config_dirs, course, tmp_path):
    """The formgrader started outside the course folder reads the course's config through the
    instructor's own (``load_subconfig``): the course config must not put its default back."""
    system, user = config_dirs
    write_config(system, Exchange__root=str(tmp_path / "srv"), CourseDirectory__course_id="fcn101")
    (user / "nbgrader_config.py").write_text(
        f"c = get_config()  # noqa: F821\nload_subconfig({str(course / 'nbgrader_config.py')!r})  # noqa: F821\n")
    from nbgrader.apps.baseapp import NbGrader

    app = NbGrader()
    app.load_cwd_config = False
    app.load_config_file()
    assert app.config.Exchange.root == str(tmp_path / "srv")
    assert app.config.CourseDirectory.course_id == "fcn101"
    assert app.config.CourseDirectory.root == str(course)
    # the course's own settings came with it: autograde goes through the sandbox
    assert "SandboxedGrading" in str(app.config.Autograde.autograde_preprocessors)


# ----------------------------------------------------------------------------- release lands there
def test_nbgrader_release_assignment_writes_to_the_configured_exchange(config_dirs, course, tmp_path):
    system, _ = config_dirs
    exchange = tmp_path / "srv-exchange"
    exchange.mkdir()
    write_config(system, Exchange__root=str(exchange), CourseDirectory__course_id="fcn101")
    env = {**os.environ, "PATH": str(VENV_BIN) + os.pathsep + os.environ.get("PATH", "")}
    result = subprocess.run([str(VENV_BIN / "nbgrader"), "release_assignment", ASSIGNMENT], cwd=course, env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert (exchange / "fcn101" / "outbound" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb").is_file()
    assert not (course / ".grading" / "exchange").exists(), "released into the course folder"


def test_segcourse_release_to_exchange_says_where_and_why(config_dirs, course, tmp_path, monkeypatch, capsys):
    system, _ = config_dirs
    exchange = tmp_path / "srv-exchange"
    exchange.mkdir()
    config_file = write_config(system, Exchange__root=str(exchange), CourseDirectory__course_id="fcn101")
    monkeypatch.chdir(course)
    assert main(["release", ASSIGNMENT, "--to-exchange"]) == EXIT_OK
    out = capsys.readouterr().out
    assert f"exchange: {exchange} (from {config_file})" in out
    assert f"course id: fcn101 (from {config_file})" in out
    assert f"course directory: {course} (default: the current folder)" in out
    assert (exchange / "fcn101" / "outbound" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb").is_file()
    assert not (course / ".grading" / "exchange").exists()


def test_the_course_folder_can_come_from_the_config(config_dirs, course, tmp_path, monkeypatch, capsys):
    _, user = config_dirs
    config_file = write_config(user, CourseDirectory__root=str(course))
    monkeypatch.chdir(tmp_path)                 # not a course folder
    assert main(["status"]) == EXIT_OK
    out = capsys.readouterr().out
    assert f"course directory: {course} (from {config_file})" in out
    assert f"exchange: {course / '.grading' / 'exchange'} (default" in out


# ----------------------------------------------------------------------------- a bad configured root
@pytest.mark.parametrize("problem", ["missing", "a file", "not writable"])
def test_an_unusable_configured_exchange_is_one_line(config_dirs, course, tmp_path, monkeypatch, capsys, problem):
    system, _ = config_dirs
    exchange = tmp_path / "srv-exchange"
    if problem == "a file":
        exchange.write_text("")
    elif problem == "not writable":
        exchange.mkdir()
        exchange.chmod(0o555)
        if os.geteuid() == 0:           # root writes anywhere: ask as a user without the right would
            real_access = os.access
            monkeypatch.setattr("autograder.course.os.access",
                                lambda path, mode: False if Path(path) == exchange else real_access(path, mode))
    config_file = write_config(system, Exchange__root=str(exchange))
    for command in (["release", ASSIGNMENT, "--to-exchange"], ["collect", ASSIGNMENT], ["status"]):
        assert main(["--course-dir", str(course), *command]) == EXIT_USAGE, command
        err = capsys.readouterr().err
        lines = err.strip().splitlines()
        assert len(lines) == 1 and "Traceback" not in err, err
        assert lines[0].startswith(f"segcourse: error: exchange root {exchange} (from {config_file})"), err
        expected = {"missing": "does not exist", "a file": "is not a folder", "not writable": "is not writable"}
        assert expected[problem] in lines[0]
    assert not (exchange.is_dir() and any(exchange.iterdir())), "nothing may be released into it"
    assert not (course / ".grading" / "exchange").exists(), "no fallback to the course folder"
