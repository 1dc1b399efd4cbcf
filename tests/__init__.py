"""The project's tests, one folder per package: ``course_utils/``, ``autograder/``,
``notebooks/`` (lectures, assignments, the release), ``validity/`` (each assignment's
right and wrong answers) and ``benchmarks/``."""

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
