"""The nbgrader course configuration, declared once.

``solutions/<assignment>/`` is nbgrader's source directory and ``exercises/<assignment>/``
its release directory; both are committed. Everything nbgrader writes while grading
(submissions, autograded copies, feedback, the gradebook database) lives under one
runtime folder, ``.grading/`` by default, which git ignores.

The exchange root, the course id and the course directory come from the instructor's
nbgrader configuration when it sets them (``instructor_settings``: the system and user
config files nbgrader reads, e.g. ``/etc/jupyter/nbgrader_config.py`` on a hub,
``~/.jupyter/nbgrader_config.py``, or the folders of ``JUPYTER_CONFIG_DIR`` and
``JUPYTER_CONFIG_PATH``); ``.grading/exchange``, ``COURSE_ID`` and the current folder are
the single-machine defaults. ``course_settings`` says which is used and where it came from.
"""

from __future__ import annotations

import logging
import os
import threading
from dataclasses import dataclass
from pathlib import Path

from traitlets.config import Config

COURSE_ID = "image-segmentation-fcn"
SOURCE_DIRECTORY = "solutions"
RELEASE_DIRECTORY = "exercises"
DEFAULT_RUNTIME_DIRECTORY = ".grading"
GIB = 1024 ** 3
MIB = 1024 ** 2


@dataclass(frozen=True)
class Setting:
    """A grading default and the one line that explains it (``segcourse --help``, nbgrader's
    config help). Every module reads the default from here: ``CELL_TIMEOUT_S.default``."""

    default: object
    help: str


# ----------------------------------------------------------------------------- grading defaults
# 60 s: `import keras` alone can take 30 s in a sandboxed kernel on a busy 2-core runner.
CELL_TIMEOUT_S = Setting(60, "seconds a cell may run before it is interrupted and scores 0")
INTERRUPT_GRACE_S = Setting(10.0, "seconds an interrupted cell has to stop before its kernel is killed "
                                  "(which ends the notebook)")
NOTEBOOK_TIMEOUT_S = Setting(900, "seconds one submission may run in its sandbox before it is killed")
WORKERS = Setting(None, "submissions run in parallel (default: one per CPU core, or one per GPU)")
GPUS = Setting("none", "auto: one worker per visible GPU (CUDA_VISIBLE_DEVICES pinned, CPU fallback); "
                       "none: CPU only; 0,1: these GPUs")
SANDBOX = Setting("auto", "where student code runs: auto = bubblewrap, else podman, docker, apptainer")
ENGINE = Setting("local", "local: a pool of threads on this machine; dask: Dask distributed workers")
CONTAINER_IMAGE = Setting("segcourse-grader:latest", "image of the docker/podman sandbox (this Python "
                                                     "environment at the same paths)")
# Resource limits of one sandboxed job (autograder.sandbox.Limits).
MEMORY_BYTES = Setting(6 * GIB, "address space of each sandboxed process, bytes (RLIMIT_AS; TF's CPU import "
                                "reserves ~1.8 GiB; not set for GPU jobs)")
PROCESSES = Setting(512, "processes and threads of one sandboxed job (RLIMIT_NPROC)")
FILE_SIZE_BYTES = Setting(256 * MIB, "largest file a sandboxed job may write, bytes (RLIMIT_FSIZE)")
OPEN_FILES = Setting(1024, "open files of each sandboxed process (RLIMIT_NOFILE)")
TMP_BYTES = Setting(512 * MIB, "size of the sandbox's /tmp (a tmpfs), bytes")
# nbgrader's own autograde (autograder.grading_path) may run while nobody runs `segcourse grade`;
# its jobs still get uids of their own.
NBGRADER_FIRST_SLOT = Setting(900, "sandbox uid offset of nbgrader's own autograde "
                                   "(apart from segcourse grade's slots 0, 1, ...)")
# The course's late policy (autograder/late.py). Every grading path uses it (`segcourse grade`,
# `nbgrader autograde`, the formgrader); `segcourse grade --late-penalty` overrides it for one run.
# The due date itself is nbgrader's, in the gradebook (`segcourse grade NAME --due ...`).
LATE_PENALTY = Setting("none", "none (nbgrader's default), zero (nbgrader's own: a late notebook scores 0), or "
                               "POINTS/UNIT such as 1/hour (POINTS per started UNIT late, at most the score)")


class CourseError(Exception):
    """A course folder or assignment that cannot be used, with a message for humans."""


class ExchangeUnusable(CourseError):
    """The exchange root the configuration names cannot be used (missing, not a folder, not
    writable); the message names it, the file that set it and the fix."""


def find_assignments(course_root: Path) -> list[str]:
    """Names of the assignments in ``course_root/solutions`` (sorted)."""
    source = Path(course_root) / SOURCE_DIRECTORY
    return sorted(p.name for p in source.iterdir() if p.is_dir() and any(p.glob("*.ipynb")))


def check_course_root(course_root: Path) -> Path:
    """Return the absolute course root, or raise ``CourseError`` saying what is missing."""
    root = Path(course_root).resolve()
    if not root.is_dir():
        raise CourseError(f"course folder not found: {root} (expected the root of the course repository)")
    if not (root / SOURCE_DIRECTORY).is_dir():
        raise CourseError(
            f"{root} is not a course folder: it has no '{SOURCE_DIRECTORY}/' directory "
            f"(expected the repository root, which holds solutions/, exercises/ and nbgrader_config.py)"
        )
    return root


def check_assignment(course_root: Path, assignment: str) -> str:
    """Return ``assignment`` if it exists in the course, else raise ``CourseError``."""
    known = find_assignments(course_root)
    if assignment not in known:
        raise CourseError(f"unknown assignment '{assignment}'; this course has: {', '.join(known) or 'none'}")
    return assignment


def course_config(
    course_root: Path,
    runtime_directory: Path | None = None,
    cell_timeout_s: int = CELL_TIMEOUT_S.default,
    late_penalty: str | None = None,
    settings: CourseSettings | None = None,
) -> Config:
    """The traitlets ``Config`` that nbgrader runs with for this course.

    Args:
        course_root: the repository root (holds ``solutions/`` and ``exercises/``).
        runtime_directory: where submissions, grades, feedback and the gradebook go;
            ``<course_root>/.grading`` when None. Relative paths are under the root.
        cell_timeout_s: seconds a cell may run under autograding before it is
            interrupted (the cell then scores 0 and grading goes on).
        late_penalty: the late policy (``autograder.late.parse_late_policy``);
            ``LATE_PENALTY.default`` when None.
        settings: the exchange root and course id (``course_settings``); read from the
            instructor's nbgrader configuration when None.

    Creates the runtime folder if it does not exist, and the exchange too when it is the
    default one inside it (a configured exchange is the hub's: never created here).
    """
    from autograder.grading_path import SandboxedGrading
    from autograder.late import parse_late_policy
    from autograder.nbgrader_steps import autograde_steps, feedback_steps, release_steps
    from autograder.noise import LOG_NOISE_PATTERN

    root = Path(course_root).resolve()
    runtime = Path(runtime_directory) if runtime_directory else root / DEFAULT_RUNTIME_DIRECTORY
    runtime = (root / runtime).resolve() if not runtime.is_absolute() else runtime
    c = Config()
    _set_directories(c, root, runtime, settings or course_settings(root, runtime))
    # Execution: a per-cell time limit; a timed-out cell is interrupted and scores 0.
    c.Execute.timeout = int(cell_timeout_s)
    c.Execute.interrupt_on_timeout = True
    # TensorFlow/Keras log lines on stderr must not fail a correct answer (nbgrader fails
    # any test cell with stderr output).
    c.IgnorePattern.enabled = True
    c.IgnorePattern.pattern = LOG_NOISE_PATTERN
    # Quiet kernels: their own log (e.g. ipykernel's TCP notice) is not the student's output.
    c.Execute.extra_arguments = ["--HistoryManager.hist_file=:memory:", "--IPKernelApp.log_level=ERROR"]
    # One grading path (threat row 44): nbgrader's own autograde (the formgrader's Autograde
    # button, `nbgrader autograde`) runs each submission in the sandbox and scores it with the
    # trusted checks, exactly as `segcourse grade`; never student code in an instructor's kernel.
    # (`segcourse grade` swaps SandboxedGrading for TrustedVerdicts: nbgrader_steps.grading_config.)
    c.Autograde.autograde_preprocessors = autograde_steps(SandboxedGrading)
    c.SandboxedGrading.cell_timeout_s = int(cell_timeout_s)
    # Late work: nbgrader's AssignLatePenalties (an autograde step) asks this plugin for the
    # penalty of a notebook submitted after the gradebook's due date.
    policy = LATE_PENALTY.default if late_penalty is None else late_penalty
    parse_late_policy(policy)           # a bad policy fails here, with what is expected
    c.AssignLatePenalties.plugin_class = "autograder.late.PenaltyPerTimeUnit"
    c.PenaltyPerTimeUnit.policy = str(policy)
    # The release: hidden-test cells end with a statement (see release_steps).
    c.GenerateAssignment.preprocessors = release_steps()
    # Feedback shows each hidden test's docstring and failure message, not its code.
    c.GenerateFeedback.preprocessors = feedback_steps()
    return c


def _set_directories(c: Config, root: Path, runtime: Path, settings: CourseSettings) -> None:
    """nbgrader's folders: the source and release under the course root; everything it writes
    while grading under ``runtime``, which is created; the exchange and course id of ``settings``."""
    # nbgrader joins these step names onto the root, so runtime folders are given relative to it.
    runtime_rel = os.path.relpath(runtime, root)
    # The gradebook's folder must exist before nbgrader opens the database.
    runtime.mkdir(parents=True, exist_ok=True)
    c.CourseDirectory.root = str(root)
    c.CourseDirectory.source_directory = SOURCE_DIRECTORY
    c.CourseDirectory.release_directory = RELEASE_DIRECTORY
    c.CourseDirectory.submitted_directory = os.path.join(runtime_rel, "submitted")
    c.CourseDirectory.autograded_directory = os.path.join(runtime_rel, "autograded")
    c.CourseDirectory.feedback_directory = os.path.join(runtime_rel, "feedback")
    c.CourseDirectory.solution_directory = os.path.join(runtime_rel, "solution")
    c.CourseDirectory.source_with_tests_directory = os.path.join(runtime_rel, "source_with_tests")
    c.CourseDirectory.db_url = f"sqlite:///{runtime / 'gradebook.db'}"
    if settings.exchange is None:       # being read as part of the instructor's config: theirs stands
        return
    c.CourseDirectory.course_id = settings.course_id.value
    # The instructor's other exchange settings (e.g. Exchange.path_includes_course) go with its root.
    for section in EXCHANGE_SECTIONS:
        if section in settings.instructor_config:
            c[section].merge(settings.instructor_config[section])
    c.Exchange.root = settings.exchange.value
    if settings.exchange.source.startswith(DEFAULT_SOURCE):
        # The exchange of this machine. The formgrader needs it to exist and be writable by
        # the instructor, so it is made here owner-writable only (0755): grading never needs
        # more. Students on a shared machine need it writable by all, and nbgrader itself makes
        # it so (0777) when the instructor first runs `nbgrader release_assignment`; an
        # existing exchange is never changed here.
        exchange = Path(settings.exchange.value)
        if not exchange.exists():
            exchange.mkdir(mode=0o755)


# ----------------------------------------------------------------------------- the instructor's nbgrader config
# What a hub's (or an instructor's) nbgrader configuration may set for this course, by name.
INSTRUCTOR_TRAITS = {"exchange": ("Exchange", "root"), "course_id": ("CourseDirectory", "course_id"),
                     "course_dir": ("CourseDirectory", "root")}
EXCHANGE_SECTIONS = ("Exchange", "ExchangeFactory")
DEFAULT_SOURCE = "default"
_loading = threading.local()            # instructor_settings runs a config file that may load the course's
_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Configured:
    """A course setting and where it came from: the config file that set it, a command-line
    option, or ``default: ...`` (the single-machine default)."""

    value: str
    source: str

    def describe(self) -> str:
        return f"{self.value} ({'' if self.source.startswith(DEFAULT_SOURCE) else 'from '}{self.source})"


@dataclass(frozen=True)
class CourseSettings:
    """The exchange root and course id nbgrader uses for this course (``exchange`` is None
    while the instructor's own configuration is being read: it then decides both)."""

    exchange: Configured | None
    course_id: Configured
    instructor_config: Config


def instructor_config_dirs() -> list[str]:
    """The folders nbgrader reads ``nbgrader_config.py``/``.json`` from, highest priority
    first, except the current folder: those of ``JUPYTER_CONFIG_PATH``, the user's
    (``JUPYTER_CONFIG_DIR``, default ``~/.jupyter``), the environment's and the system's
    (``/etc/jupyter``). As ``jupyter_core.application.JupyterApp.config_file_paths``."""
    from jupyter_core.paths import jupyter_config_dir, jupyter_config_path

    paths = jupyter_config_path()
    if jupyter_config_dir() not in paths:
        paths.insert(0, jupyter_config_dir())
    return paths


def instructor_settings(config_dirs: list[str] | None = None, exclude: Path | None = None
                        ) -> tuple[dict[str, Configured], Config]:
    """What the instructor's nbgrader configuration sets of ``INSTRUCTOR_TRAITS``, each with
    the file that set it, and that whole configuration.

    Loads ``jupyter_config`` then ``nbgrader_config`` (``.py`` and ``.json``) from
    ``config_dirs`` (default ``instructor_config_dirs()``) with traitlets' own loader, lowest
    priority first, as nbgrader does; a later file overrides an earlier one. The folder
    ``exclude`` (the course root, whose ``nbgrader_config.py`` is this course's) is skipped.
    A config file that fails is logged and skipped, as nbgrader skips it.
    """
    from traitlets.config.application import Application

    paths = instructor_config_dirs() if config_dirs is None else list(config_dirs)
    if exclude is not None:
        paths = [p for p in paths if Path(p).resolve() != Path(exclude).resolve()]
    merged, found = Config(), {}
    _loading.depth = getattr(_loading, "depth", 0) + 1
    try:
        for base in ("jupyter_config", "nbgrader_config"):    # as JupyterApp.load_config_file, in order
            # traitlets' own loader, file by file (lowest priority first), so each value's file is known
            for loaded, filename in Application._load_config_files(base, path=paths, log=_log):
                merged.merge(loaded)
                for name, (section, trait) in INSTRUCTOR_TRAITS.items():
                    if section in loaded and trait in loaded[section]:
                        value = str(loaded[section][trait])
                        # nbgrader reads a relative folder from the current one
                        found[name] = Configured(value if name == "course_id" else os.path.abspath(value), filename)
    finally:
        _loading.depth -= 1
    return found, merged


def course_settings(course_root: Path, runtime: Path) -> CourseSettings:
    """The exchange root and course id for the course at ``course_root`` whose runtime
    folder is ``runtime``: the instructor's configuration's when it sets them
    (``instructor_settings``), else ``<runtime>/exchange`` and ``COURSE_ID``."""
    if getattr(_loading, "depth", 0):   # the course's config, loaded from the instructor's: theirs decides
        return CourseSettings(None, Configured(COURSE_ID, DEFAULT_SOURCE), Config())
    found, config = instructor_settings(exclude=course_root)
    default_exchange = Configured(str(Path(runtime) / "exchange"),
                                  f"{DEFAULT_SOURCE}: the runtime folder; no nbgrader config sets Exchange.root")
    default_id = Configured(COURSE_ID, f"{DEFAULT_SOURCE}: COURSE_ID in autograder/course.py")
    return CourseSettings(found.get("exchange", default_exchange), found.get("course_id", default_id), config)


def course_dir_setting(option: Path | None) -> Configured:
    """The course folder: ``option`` (``--course-dir``), else ``CourseDirectory.root`` of the
    instructor's configuration, else the current folder; with where it came from."""
    if option is not None:
        return Configured(str(option), "--course-dir")
    return instructor_settings()[0].get("course_dir") or Configured(".", f"{DEFAULT_SOURCE}: the current folder")


def describe_course_settings(config: Config, course_dir: Configured) -> str:
    """Where a ``course_config``'s course folder, course id, exchange and runtime folder are,
    each with where it came from (``course_dir``: ``course_dir_setting``'s answer), e.g.
    ``exchange: /srv/nbgrader/exchange (from /etc/jupyter/nbgrader_config.py)``."""
    root, runtime = Path(config.CourseDirectory.root), runtime_directory_of(config)
    settings = course_settings(root, runtime)
    return "\n".join([f"course directory: {Configured(str(root), course_dir.source).describe()}",
                      f"course id: {settings.course_id.describe()}",
                      f"exchange: {settings.exchange.describe()}",
                      f"runtime folder: {runtime} (submissions, gradebook, feedback)"])


def exchange_ready(config: Config, course_dir: Configured) -> str:
    """``describe_course_settings``, once the exchange is known to be usable
    (``check_exchange``: ``ExchangeUnusable``, one line, otherwise)."""
    check_exchange(course_settings(Path(config.CourseDirectory.root), runtime_directory_of(config)).exchange)
    return describe_course_settings(config, course_dir)


def check_exchange(exchange: Configured) -> None:
    """Raise ``CourseError`` (one line) unless the exchange root is a folder this user can
    write to. The default one is created by ``course_config``; a configured one belongs to
    the hub's administrator, who creates it (nbgrader's docs: ``chmod ugo+rw``)."""
    root = Path(exchange.value)
    where = f"exchange root {exchange.describe()}"
    fix = (f"create it for everyone (sudo mkdir -p {root} && sudo chmod 1777 {root}) or set Exchange.root "
           f"in that file to a folder that exists")
    if not root.exists():
        raise ExchangeUnusable(f"{where} does not exist: {fix}")
    if not root.is_dir():
        raise ExchangeUnusable(f"{where} is not a folder: {fix}")
    if not os.access(root, os.W_OK | os.X_OK):
        raise ExchangeUnusable(f"{where} is not writable by this user ({_user_name()}): "
                          f"let instructors and students write there (sudo chmod 1777 {root})")


def _user_name() -> str:
    import getpass
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return f"uid {os.getuid()}"


def db_path_of(db_url: str) -> Path:
    """The file of an SQLite gradebook URL (``sqlite:///<path>``)."""
    return Path(db_url.removeprefix("sqlite:///"))


def runtime_directory_of(config: Config) -> Path:
    """The runtime folder a ``course_config`` points at (the gradebook's folder)."""
    return db_path_of(config.CourseDirectory.db_url).parent
