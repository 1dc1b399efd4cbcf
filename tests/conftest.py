"""Shared test setup: the repository root, and kernels from this environment."""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

import pytest

from tests import REPO_ROOT

# Kernels start from this interpreter's environment; keep TensorFlow's INFO lines out.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# Notebooks shorten their training cells, as under autograding (benchmarks.notebooks times
# them without it, as a self-learner runs them).
os.environ.setdefault("COURSE_FAST", "1")
# The notebooks' self-check cells record progress: keep it out of the user's home folder.
os.environ.setdefault("SEGCOURSE_PROGRESS_FILE",
                      str(Path(tempfile.gettempdir()) / f"segcourse-test-progress-{os.getpid()}.json"))
os.environ["PATH"] = str(Path(sys.executable).parent) + os.pathsep + os.environ.get("PATH", "")


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO_ROOT
