"""The built wheel is complete: installed alone in a clean virtualenv (no checkout on the
path), it grades the demo class. Marked ``long`` (`make test-long`): it installs
TensorFlow and the rest into a new environment (minutes, from pip's cache when warm).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile

import pytest

from autograder.sandbox import BubblewrapSandbox
from tests import REPO_ROOT

pytestmark = [pytest.mark.slow, pytest.mark.long,
              pytest.mark.skipif(not BubblewrapSandbox().available(), reason="bubblewrap (and root) needed")]


def _build_wheel(out) -> str:
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                    "-w", str(out), str(REPO_ROOT)], check=True, timeout=600)
    (wheel,) = out.glob("segcourse-*.whl")
    return str(wheel)


def test_wheel_holds_every_package_and_the_trusted_checks(tmp_path):
    names = zipfile.ZipFile(_build_wheel(tmp_path)).namelist()
    for needed in ("autograder/harness.py", "autograder/harness_protocol.py", "autograder/references/fcn_basics.py",
                   "autograder/references/harness_data.py", "autograder/references/numpy_reference.py",
                   "course_utils/datasets/__init__.py", "course_utils/weights/page_encoder.weights.h5",
                   "course_utils/library_answers.py", "course_utils/selfcheck/__init__.py",
                   "course_utils/widgets/__init__.py", "autograder/student_kit/__init__.py",
                   "autograder/templates/new_assignment/notebook.ipynb", "autograder/kernel_forkserver.py",
                   "autograder/warm_sandbox.py"):
        assert needed in names, needed


def test_wheel_grades_the_demo_class_from_a_clean_virtualenv(tmp_path):
    wheel = _build_wheel(tmp_path / "dist")
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    subprocess.run([str(venv / "bin/python"), "-m", "pip", "install", "-q", wheel], check=True, timeout=1800)
    course = tmp_path / "course"          # the course's notebooks only: the code comes from the wheel
    for folder in ("solutions", "exercises"):
        shutil.copytree(REPO_ROOT / folder, course / folder)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["PATH"] = f"{venv / 'bin'}:/usr/local/bin:/usr/bin:/bin"
    where = subprocess.run([str(venv / "bin/python"), "-c", "import autograder, course_utils; "
                            "print(autograder.__file__, course_utils.__file__)"],
                           capture_output=True, text=True, cwd=tmp_path, env=env, check=True)
    assert str(REPO_ROOT) not in where.stdout and str(venv) in where.stdout, where.stdout
    demo = subprocess.run([str(venv / "bin/segcourse"), "--course-dir", str(course), "demo"],
                          capture_output=True, text=True, cwd=tmp_path, env=env, timeout=1800)
    assert demo.returncode == 0, demo.stdout[-3000:] + demo.stderr[-3000:]
    assert "All scores are the ones these submissions deserve." in demo.stdout
    # graded on warm kernels: the server script is mounted from the wheel's install, not the checkout
    assert "warm-kernel server" not in demo.stderr, demo.stderr[-3000:]
