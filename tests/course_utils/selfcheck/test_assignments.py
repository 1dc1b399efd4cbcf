"""Tests of course_utils.selfcheck.assignments: the assignments and exercises read from the
release, and which assignment a check counts for."""

import json

from course_utils import selfcheck
from tests.course_utils.selfcheck.students import conv_output_size, conv_transpose_output_size, max_unpool


def _write_notebook(path, *sources):
    """A notebook whose answer cells (nbgrader solution cells) hold ``sources``."""
    cells = [{"cell_type": "code", "metadata": {"nbgrader": {"solution": True}}, "source": source}
             for source in sources]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"cells": cells}))


def test_show_progress_discovers_new_assignments(tmp_path, capsys):
    _write_notebook(tmp_path / "exercises" / "unet" / "unet.ipynb",
                    ["def _helper():\n", "    pass\n", "def build_unet(depth=4):\n",
                     "    raise NotImplementedError()\n"])
    rows = selfcheck.show_progress(course_root=tmp_path)
    assert ("unet", "build_unet", "not attempted") in rows
    assert not any(exercise == "_helper" for _, exercise, _ in rows)
    assert {assignment for assignment, _, _ in rows} == {"unet"}  # what this course releases, no built-in list


def test_the_release_comes_first_then_the_source_notebook(tmp_path):
    _write_notebook(tmp_path / "solutions" / "unet" / "unet.ipynb", "def build_unet(depth):\n    return 1\n")
    _write_notebook(tmp_path / "solutions" / "dimensions" / "dimensions.ipynb", "def padded_size(n):\n    return n\n")
    _write_notebook(tmp_path / "exercises" / "unet" / "unet.ipynb", "def double_conv(x):\n    pass\n")
    _write_notebook(tmp_path / "exercises" / "unet" / "notes.ipynb", "def not_an_exercise():\n    pass\n")
    assert selfcheck.assignment_exercises(tmp_path) == {"dimensions": ["padded_size"], "unet": ["double_conv"]}


def test_every_assignment_of_the_course_is_listed_in_course_order():
    from tests import REPO_ROOT

    table = selfcheck.assignment_exercises()
    assert set(table) == {p.name for p in (REPO_ROOT / "solutions").iterdir() if p.is_dir()}
    assert list(table) == list(selfcheck.COURSE_ORDER)   # a new assignment needs its place in COURSE_ORDER


def test_assignment_comes_from_argument_environment_or_folder(monkeypatch, tmp_path):
    selfcheck.check_conv_output_size(conv_output_size, assignment="dimensions", quiet=True)
    monkeypatch.setenv("SEGCOURSE_ASSIGNMENT", "skip_fcns")
    selfcheck.check_max_unpool(max_unpool, quiet=True)
    monkeypatch.delenv("SEGCOURSE_ASSIGNMENT")
    folder = tmp_path / "exercises" / "dimensions"
    folder.mkdir(parents=True)
    monkeypatch.chdir(folder)  # Jupyter runs a notebook in its own folder
    selfcheck.check_conv_transpose_output_size(conv_transpose_output_size, quiet=True)
    assert set(selfcheck.load_progress()) == {
        "dimensions/conv_output_size", "skip_fcns/max_unpool",
        "dimensions/conv_transpose_output_size"}


def test_course_order_follows_the_readme_course_table():
    """COURSE_ORDER lists the assignments as the README's course table pairs them with the
    lectures, row by row (a reordered table or tuple fails)."""
    from course_site.pages import readme_course_table
    from tests import REPO_ROOT

    assert list(readme_course_table(REPO_ROOT)) == list(selfcheck.COURSE_ORDER)
