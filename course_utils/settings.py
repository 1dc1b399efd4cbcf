"""The library's settings, each declared once with the environment variable that sets it.

| setting | environment variable | default |
|---|---|---|
| ``fast_mode()`` | ``COURSE_FAST=1``, or ``NBGRADER_EXECUTION`` set (nbgrader is grading) | off |
| ``progress_file()`` | ``SEGCOURSE_PROGRESS_FILE`` | ``~/.segcourse/progress.json`` |
| ``check_seconds()`` | ``SEGCOURSE_CHECK_SECONDS`` | 60 s, 15 s in fast mode |
| ``assignment_override()`` | ``SEGCOURSE_ASSIGNMENT`` | None (found from the notebook) |
| ``widget_mode()`` | ``SEGCOURSE_WIDGETS=live`` or ``static`` | None (detect the front end) |
| ``weights_search_dirs()`` | ``SEGCOURSE_WEIGHTS``, then Keras's ``KERAS_HOME`` | ``~/.keras/models`` |

Each setting is a function that reads the environment when called, so a variable set
after import (a test, a notebook cell) takes effect. This module imports only the
standard library: it stays cheap to import, and the grading edition of the library keeps it.

    from course_utils.settings import fast_mode
    FAST = fast_mode()      # shorter training in CI and under the autograder
"""

from __future__ import annotations

import os
from pathlib import Path

FAST_VARIABLE = "COURSE_FAST"
GRADING_VARIABLE = "NBGRADER_EXECUTION"  # set by nbgrader while it executes a notebook to grade it
PROGRESS_FILE_VARIABLE = "SEGCOURSE_PROGRESS_FILE"
CHECK_SECONDS_VARIABLE = "SEGCOURSE_CHECK_SECONDS"
ASSIGNMENT_VARIABLE = "SEGCOURSE_ASSIGNMENT"
WIDGETS_VARIABLE = "SEGCOURSE_WIDGETS"
WEIGHTS_VARIABLE = "SEGCOURSE_WEIGHTS"
KERAS_HOME_VARIABLE = "KERAS_HOME"  # Keras's own setting: where it caches downloaded weights

WIDGET_MODES = ("live", "static")
CHECK_SECONDS = 60.0
FAST_CHECK_SECONDS = 15.0


def fast_mode() -> bool:
    """True when notebooks should shorten their training: ``COURSE_FAST=1`` (CI, the
    course's autograder) or ``NBGRADER_EXECUTION`` set (any nbgrader grading run)."""
    return os.environ.get(FAST_VARIABLE) == "1" or bool(os.environ.get(GRADING_VARIABLE))


def progress_file() -> Path:
    """Path of the self-checks' progress file: ``$SEGCOURSE_PROGRESS_FILE`` or
    ``~/.segcourse/progress.json``."""
    configured = os.environ.get(PROGRESS_FILE_VARIABLE)
    if configured:
        return Path(configured).expanduser()
    return Path.home() / ".segcourse" / "progress.json"


def check_seconds() -> float:
    """Time limit of one self-check in seconds: ``$SEGCOURSE_CHECK_SECONDS``, else 60 s, or
    15 s in fast mode (CI and the autograder, where the graded tests follow anyway). A value
    that is not a number gives the default."""
    default = FAST_CHECK_SECONDS if fast_mode() else CHECK_SECONDS
    try:
        return float(os.environ.get(CHECK_SECONDS_VARIABLE, default))
    except ValueError:
        return default


def assignment_override() -> str | None:
    """The assignment the self-checks record progress under, if ``$SEGCOURSE_ASSIGNMENT``
    names one; None: they find it from the notebook's folder and exercise names."""
    return os.environ.get(ASSIGNMENT_VARIABLE) or None


def widget_mode() -> str | None:
    """``"live"`` or ``"static"`` when ``$SEGCOURSE_WIDGETS`` forces the widgets' mode
    (case and spaces ignored); None: the widgets detect whether a front end renders them."""
    forced = os.environ.get(WIDGETS_VARIABLE, "").strip().lower()
    return forced if forced in WIDGET_MODES else None


def weights_search_dirs() -> list[Path]:
    """Folders searched for ImageNet weight files, in order.

    1. ``$SEGCOURSE_WEIGHTS`` if set (the course's own folder for weight files),
    2. ``$KERAS_HOME/models`` if ``KERAS_HOME`` is set, else ``~/.keras/models`` (where
       Keras itself caches what it downloads).
    """
    folders = []
    if os.environ.get(WEIGHTS_VARIABLE):
        folders.append(Path(os.environ[WEIGHTS_VARIABLE]).expanduser())
    keras_home = os.environ.get(KERAS_HOME_VARIABLE)
    folders.append(Path(keras_home).expanduser() / "models" if keras_home else Path.home() / ".keras" / "models")
    return folders
