"""``segcourse``: the instructor's command.

    segcourse demo                 release, grade a sample class, write feedback and grades
    segcourse status               the course folder, course id and exchange in use, and where each came from
    segcourse release [NAME ...]   regenerate exercises/ from solutions/ (--to-exchange: and release to students)
    segcourse check-release        fail if exercises/ differs from a fresh release
    segcourse collect NAME         collect the students' submissions from the exchange (nbgrader collect)
    segcourse grade NAME           autograde submissions, write feedback and grades.csv
    segcourse release-feedback NAME
                                   put the feedback in the exchange for students to fetch
    segcourse export --format canvas|moodle|csv [--assignment NAME ...] [--out FILE]
                                   the gradebook as Canvas's or Moodle's grade-import CSV, or nbgrader's CSV
    segcourse student-kit DIR      write what an enrolled student receives (no answers)
    segcourse new-assignment NAME  scaffold a new assignment: source notebook, trusted checks, validity variants
    segcourse restore-gradebook [BACKUP]
                                   put the latest verified backup (or BACKUP) in place of the gradebook
    segcourse validate-dataset KIND FOLDER
                                   check a dataset folder (CamVid, Cityscapes, VOC, ...) file by file
    segcourse data fetch oxford-pets [--to DIR]
                                   download a public dataset from its official source, verified

The exchange root, course id and course folder are the instructor's nbgrader configuration's
when it sets them (/etc/jupyter/nbgrader_config.py on a hub, ~/.jupyter/nbgrader_config.py,
JUPYTER_CONFIG_DIR, JUPYTER_CONFIG_PATH), else .grading/exchange, the course's own id and
the current folder (``autograder.course.course_settings``).

This module holds the parser, the dispatch table ``COMMANDS`` and the steps that several
commands share; ``segcourse demo`` is implemented in ``autograder.demo_command``, and status,
release, collect and release-feedback in ``autograder.exchange_commands``.

Grading runs every submission in a sandbox (bubblewrap by default) and decides every
grade cell outside the student's kernel (``autograder.trusted``); nbgrader keeps the
gradebook, the feedback and the export. Where the sandboxes run:

    segcourse grade NAME --workers 4                   threads on this machine (default)
    segcourse grade NAME --gpus auto                   one worker per GPU, CPU fallback
    segcourse grade NAME --engine dask --workers 4     a Dask LocalCluster of 4 processes
    segcourse grade NAME --engine dask --scheduler tcp://10.0.0.5:8786
                                                       the workers of a running scheduler
In every case this process is the gradebook's only writer.

Exit codes: 0 success; 1 a check failed (scores differ from the expected ones, the
release drifted, a submission could not be graded because of a grading-machinery
error); 2 bad usage (unknown option, assignment or course folder; --scheduler without
--engine dask; a Dask scheduler that cannot be reached);
3 no sandbox available and --allow-unsandboxed not given; 4 the gradebook is damaged
(checked before any sandbox runs; the message names the latest good backup and
`segcourse restore-gradebook`), another batch holds the course's lock (its pid is named),
or the gradebook failed its after-batch integrity check (a backup was written before the batch).
"""

from __future__ import annotations

import argparse
import importlib
import sys
from pathlib import Path

from autograder.course import (
    CELL_TIMEOUT_S,
    DEFAULT_RUNTIME_DIRECTORY,
    ENGINE,
    GPUS,
    LATE_PENALTY,
    NOTEBOOK_TIMEOUT_S,
    SANDBOX,
    WORKERS,
    CourseError,
    ExchangeUnusable,
    check_assignment,
    check_course_root,
    course_config,
    course_dir_setting,
    db_path_of,
    describe_course_settings,
    find_assignments,
    runtime_directory_of,
)
from autograder.sandbox import SandboxUnavailable
from autograder.text_table import text_table

EXIT_OK, EXIT_CHECK_FAILED, EXIT_USAGE, EXIT_NO_SANDBOX, EXIT_GRADEBOOK = 0, 1, 2, 3, 4
EXIT_INTERRUPTED = 130                  # Ctrl-C or SIGTERM (autograder.stopping)


def _positive_count(unit: str):
    """An argparse type: a positive whole number of ``unit`` (seconds, workers); the
    message names the unit."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number of {unit}, got {text!r}") from None
        if value <= 0:
            raise argparse.ArgumentTypeError(f"expected a positive number of {unit}, got {value}")
        return value
    parse.__name__ = f"number of {unit}"
    return parse


_positive_int = _positive_count("seconds")          # --cell-timeout, --notebook-timeout
_positive_workers = _positive_count("workers")      # --workers


def _late_policy(text: str) -> str:
    from autograder.late import parse_late_policy
    try:
        parse_late_policy(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None
    return text


def _due_date(text: str):
    from autograder.late import parse_due_date
    try:
        return ("set", parse_due_date(text))
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _check_runtime_dir(course_root: Path, runtime_dir: Path) -> Path:
    """The runtime folder of --runtime-dir (relative: under the course root). It must be a
    folder that exists, except the course's default (.grading), which is created: a
    mistyped folder is never created (nor its exchange). CourseError names it otherwise."""
    import difflib

    folder = runtime_dir if runtime_dir.is_absolute() else course_root / runtime_dir
    if folder.resolve() == (course_root / DEFAULT_RUNTIME_DIRECTORY).resolve():
        return folder
    if folder.exists() and not folder.is_dir():
        raise CourseError(f"--runtime-dir {runtime_dir} is a file, not a folder: pass the folder that holds "
                          f"submitted/ and the gradebook")
    if not folder.is_dir():
        parent = folder.parent
        siblings = [p.name for p in parent.iterdir() if p.is_dir()] if parent.is_dir() else []
        close = difflib.get_close_matches(folder.name, siblings, n=1)
        hint = f"did you mean {parent / close[0]}? " if close else ""
        raise CourseError(f"--runtime-dir {runtime_dir} does not exist: {hint}create it first "
                          f"(mkdir -p {folder}) or leave the option out to use {DEFAULT_RUNTIME_DIRECTORY}")
    return folder


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="segcourse",
        description="Instructor tools of the course 'Image Segmentation with Fully Convolutional "
                    "Networks': release assignments and grade them with nbgrader.",
        epilog="Exit codes: 0 success, 1 a check or grading step failed, 2 bad usage, "
               "3 no sandbox (see --allow-unsandboxed), 4 gradebook damaged, locked by another batch, or "
               "its integrity check failed.",
    )
    parser.add_argument("--course-dir", default=None, type=Path,
                        help="root of the course repository (holds solutions/ and exercises/); default: "
                             "CourseDirectory.root of the instructor's nbgrader config, else .")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    demo = commands.add_parser(
        "demo", help="release fcn_basics, autograde four sample students, write feedback and grades.csv",
        description="Regenerate the release of fcn_basics, create four sample submissions (correct, "
                    "partly wrong, crashing, looping forever), autograde them with nbgrader, write "
                    "HTML feedback and a grades CSV, and print the scores beside the expected ones.")
    demo.add_argument("--output-dir", type=Path, default=Path(DEFAULT_RUNTIME_DIRECTORY) / "demo",
                      help="runtime folder for the demo's submissions, gradebook, feedback and grades "
                           "(emptied first; default: .grading/demo)")
    _add_cell_timeout(demo)
    _add_grading_options(demo)

    release = commands.add_parser("release", help="regenerate exercises/ from solutions/")
    release.add_argument("assignments", nargs="*", metavar="NAME", help="assignments to release (default: all)")
    release.add_argument("--to-exchange", action="store_true",
                         help="also release them to the students through the exchange (nbgrader release_assignment)")

    status = commands.add_parser(
        "status", help="the course folder, course id and exchange in use (and where each came from), "
                       "and the written answers waiting for a grade",
        description="Print the course folder, course id, exchange root and runtime folder in use, each with "
                    "where it came from (a config file, an option or the default), check that the exchange "
                    "can be written to, and list per assignment the manually graded points still pending. "
                    "Exit 0: usable; 2: the exchange cannot be used.")
    _add_runtime_dir(status)
    from autograder.lms_export import add_export_command
    add_export_command(commands)
    for name, what in (("collect", "copy the students' submissions of NAME from the exchange into "
                                   "<runtime>/submitted (nbgrader collect)"),
                       ("release-feedback", "put the feedback of NAME (written by segcourse grade) in the "
                                            "exchange for each student to fetch (nbgrader release_feedback)")):
        step = commands.add_parser(name, help=what, description=what[0].upper() + what[1:] + ".")
        step.add_argument("assignment", metavar="NAME", help="the assignment")
        _add_runtime_dir(step)

    check = commands.add_parser("check-release", help="exit 1 if exercises/ is out of sync with solutions/")
    from course_utils.datasets import KINDS
    validate = commands.add_parser(
        "validate-dataset", help="check a dataset folder file by file; exit 1 if anything is wrong",
        description="Check the layout and every image and label file of a dataset folder in one of the lecture's "
                    "formats (missing folders, unmatched files, unreadable PNGs, wrong image modes, label values "
                    "outside the format, size mismatches) and list each problem with its file. "
                    "Exit 0: valid; 1: problems found; 2: bad usage.")
    validate.add_argument("kind", choices=KINDS, metavar="KIND", help=f"dataset format: {', '.join(KINDS)}")
    validate.add_argument("folder", type=Path, metavar="FOLDER", help="the dataset's root folder")
    validate.add_argument("--split", action="append", default=None, metavar="SPLIT",
                          help="check only this split (repeat for several; default: the format's main splits)")
    check.add_argument("assignments", nargs="*", metavar="NAME", help="assignments to check (default: all)")

    from course_utils.datasets.fetch import SOURCES
    data = commands.add_parser("data", help="public datasets: fetch one from its official source").add_subparsers(
        dest="data_command", required=True, metavar="ACTION")
    fetch = data.add_parser(
        "fetch", help="download, verify (MD5) and unpack a dataset; resumes an interrupted download",
        description="Download a dataset's official archives with a progress bar, resume an interrupted download, "
                    "verify the published MD5s and unpack into the layout course_utils.datasets reads. A second "
                    "run downloads nothing. Offline, the course's synthetic data stay the default. "
                    "Exit 0: fetched (or already there); 1: the download or its check failed; 2: bad usage.")
    fetch.add_argument("dataset", choices=sorted(SOURCES), metavar="DATASET", help=f"one of {', '.join(SOURCES)}")
    fetch.add_argument("--to", type=Path, default=None, metavar="DIR",
                       help="the folder to unpack into (default: ~/.segcourse/data/DATASET)")

    grade = commands.add_parser(
        "grade", help="autograde submitted notebooks, write feedback and grades.csv",
        description="Autograde the notebooks under <runtime>/submitted/<student>/<NAME>/ with nbgrader, "
                    "write HTML feedback and export every grade to <runtime>/grades.csv.")
    grade.add_argument("assignment", metavar="NAME", help="the assignment to grade")
    grade.add_argument("--student", action="append", default=None, metavar="ID",
                       help="grade only this student (repeat for several; default: every submission)")
    grade.add_argument("--runtime-dir", type=Path, default=Path(DEFAULT_RUNTIME_DIRECTORY),
                       help="folder holding submitted/, autograded/, feedback/ and the gradebook "
                            "(default: .grading)")
    _add_cell_timeout(grade)
    grade.add_argument("--due", type=_due_date, default=None, metavar="TIME",
                       help="the assignment's due date, stored in the gradebook as nbgrader's (e.g. 2026-12-01T23:59, "
                            "UTC unless a zone is given; 'none' clears it); default: the gradebook's, if any. "
                            "A submission whose timestamp.txt is later is late")
    grade.add_argument("--late-penalty", type=_late_policy, default=None, metavar="POLICY",
                       help="penalty of late work for this run: POINTS/UNIT (e.g. 1/hour: POINTS per started "
                            "minute, hour, day or week late, at most the score), zero, or none "
                            f"(default: LATE_PENALTY in autograder/course.py, {LATE_PENALTY.default!r})")
    _add_grading_options(grade)

    restore = commands.add_parser(
        "restore-gradebook", help="put a verified backup in place of the gradebook (the current file is kept aside)",
        description="Verify BACKUP (default: the newest good gradebook.backup-*.db beside the gradebook), move the "
                    "current gradebook aside as gradebook.damaged-<time>.db and copy the backup in. Deletes nothing. "
                    "Exit 0: restored; 4: no good backup, or a batch is running.")
    restore.add_argument("backup", nargs="?", type=Path, default=None, metavar="BACKUP",
                         help="the backup to restore (default: the newest one that passes verification)")
    restore.add_argument("--runtime-dir", type=Path, default=Path(DEFAULT_RUNTIME_DIRECTORY),
                         help="folder holding the gradebook (default: .grading)")

    kit = commands.add_parser(
        "student-kit", help="write what an enrolled student receives (no solutions, hidden tests or trusted checks)",
        description="Write the student kit to DIR: the release notebooks, the lectures, the library course_utils "
                    "(installable: pip install DIR) with its self-checks answering from stored expected values, "
                    "and a README for students. It holds no solution, hidden test, trusted check or self-check "
                    "reference. DIR must be empty (or new) and outside the repository.")
    kit.add_argument("directory", type=Path, metavar="DIR", help="the folder to write the kit to")
    kit.add_argument("--force", action="store_true", help="replace DIR even if it is not empty")

    new = commands.add_parser(
        "new-assignment", help="scaffold a new assignment with one graded function, and print the next steps",
        description="Write solutions/NAME/NAME.ipynb (one graded function, a visible and a hidden test cell), "
                    "its trusted checks autograder/references/NAME.py and its validity variants "
                    "tests/validity/NAME.py, register its library answer in course_utils/library_answers.py, "
                    "and print the checklist of what to edit and run next. Exit 2 (nothing written) when NAME "
                    "is not a lowercase Python identifier or exists already.")
    new.add_argument("name", metavar="NAME", help="the new assignment's name, e.g. pixel_metrics")
    new.add_argument("--title", default=None, help="the notebook's title (default: NAME in words)")
    return parser


def _add_runtime_dir(parser) -> None:
    parser.add_argument("--runtime-dir", type=Path, default=Path(DEFAULT_RUNTIME_DIRECTORY),
                        help="folder holding submitted/, autograded/, feedback/ and the gradebook "
                             "(default: .grading)")


def _default(setting) -> str:
    """A setting's help with its default, for ``--help``."""
    return f"{setting.help} (default: {setting.default})"


def _add_cell_timeout(parser) -> None:
    parser.add_argument("--cell-timeout", type=_positive_int, default=CELL_TIMEOUT_S.default,
                        help=_default(CELL_TIMEOUT_S))


def _add_grading_options(parser) -> None:
    parser.add_argument("--workers", type=_positive_workers, default=WORKERS.default, metavar="N",
                        help=WORKERS.help)
    parser.add_argument("--gpus", default=GPUS.default, metavar="auto|none|0,1", help=_default(GPUS))
    parser.add_argument("--sandbox", default=SANDBOX.default,
                        choices=["auto", "bwrap", "docker", "podman", "apptainer", "none"], help=_default(SANDBOX))
    parser.add_argument("--allow-unsandboxed", action="store_true",
                        help="accept running student code WITHOUT a sandbox when none is available (unsafe)")
    parser.add_argument("--fresh-kernels", action="store_true",
                        help="bwrap: one new sandbox and kernel per notebook instead of kernels forked from a "
                             "server that imported TensorFlow once (slower; for comparison)")
    parser.add_argument("--engine", default=ENGINE.default, choices=["local", "dask"],
                        help=f"{_default(ENGINE)}; with dask, a LocalCluster of --workers processes, "
                             "or the workers of --scheduler")
    parser.add_argument("--scheduler", default=None, metavar="ADDRESS",
                        help="with --engine dask: a running Dask scheduler (e.g. tcp://10.0.0.5:8786) whose "
                             "workers have this project installed; default: start a LocalCluster here")
    parser.add_argument("--notebook-timeout", type=_positive_int, default=NOTEBOOK_TIMEOUT_S.default,
                        help=_default(NOTEBOOK_TIMEOUT_S))
    parser.add_argument("--seed", type=int, default=None,
                        help="seed of the checks' inputs (default: fresh for every run)")


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "validate-dataset":      # needs no course folder
        return _run_validate_dataset(parser, args)
    if args.command == "data":                  # needs no course folder either
        return _run_data_fetch(args)
    try:
        args.course_dir = course_dir_setting(args.course_dir)
        course_root = check_course_root(args.course_dir.value)
        return COMMANDS[args.command](course_root, args)
    except ExchangeUnusable as error:   # a configuration to fix, not a command to retype: one line
        print(f"segcourse: error: {error}", file=sys.stderr)
        return EXIT_USAGE
    except CourseError as error:
        parser.print_usage(sys.stderr)
        print(f"segcourse: error: {error}", file=sys.stderr)
        return EXIT_USAGE
    except SandboxUnavailable as error:     # none found, and --allow-unsandboxed not given
        print(f"segcourse: error: {error}", file=sys.stderr)
        return EXIT_NO_SANDBOX
    except KeyboardInterrupt:
        print("segcourse: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except OSError as error:            # a full disk, no permission, a read-only folder: one line
        print(f"segcourse: error: {describe_os_error(error)}", file=sys.stderr)
        return EXIT_CHECK_FAILED


def describe_os_error(error: OSError) -> str:
    """One line: what failed, on which file, and what to do."""
    import errno

    where = f": {error.filename}" if error.filename else ""
    hint = {errno.ENOSPC: "the disk is full: free some space and run again",
            errno.EDQUOT: "the disk quota is used up: free some space and run again",
            errno.EACCES: "no permission: check the owner and mode of the file and its folder",
            errno.EPERM: "not permitted: check the owner and mode of the file and its folder",
            errno.EROFS: "the file system is read-only: use a writable folder"}.get(error.errno)
    return f"{error.strerror or type(error).__name__}{where}" + (f" ({hint})" if hint else "")


def grade_with_sandbox(config, assignment: str, students: list[str], args, sync_gradebook: bool = True):
    """Grade ``students`` through ``autograder.batch``; returns (failed students, report).

    With ``sync_gradebook`` the gradebook is first brought in line with ``solutions/``
    (``autograder.nbgrader_api.sync_gradebook``), before any sandbox runs; a gradebook that
    cannot be used raises ``GradebookError`` (one line)."""
    from autograder.batch import GradeOptions, grade_batch
    from autograder.engines import EngineError
    from autograder.gradebook_errors import gradebook_errors_as_one_line

    sandbox = _ready_to_grade(config, assignment, args, sync_gradebook)
    _apply_late_policy(config, assignment, args)
    options = GradeOptions(workers=args.workers, gpus=args.gpus, cell_timeout_s=args.cell_timeout,
                           notebook_timeout_s=args.notebook_timeout, seed=args.seed,
                           engine=args.engine, scheduler=args.scheduler)
    try:
        with gradebook_errors_as_one_line(db_path_of(config.CourseDirectory.db_url)):
            report = grade_batch(config, assignment, students, sandbox, options)
    except (ValueError, EngineError) as error:     # a bad --gpus list, an unreachable scheduler
        raise CourseError(str(error)) from None
    _print_batch_summary(config, assignment, report)
    return report.failed, report


def _ready_to_grade(config, assignment: str, args, sync_gradebook: bool):
    """The sandbox to grade in, once the options, the trusted checks and the gradebook are
    known to be usable (``CourseError``, ``SandboxUnavailable``, ``GradebookError``)."""
    from autograder.gradebook import check_before_batch
    from autograder.references import load_checks
    from autograder.sandbox import detect_sandbox

    if args.scheduler and args.engine != "dask":
        raise CourseError("--scheduler needs --engine dask")
    try:
        load_checks(assignment, config.CourseDirectory.root)
    except ModuleNotFoundError:
        raise CourseError(f"{assignment} has no trusted checks yet: write autograder/references/{assignment}.py "
                          "(see autograder/references/fcn_basics.py)") from None
    sandbox = detect_sandbox(args.sandbox, allow_unsandboxed=args.allow_unsandboxed,
                             warm_kernels=not args.fresh_kernels)
    check_before_batch(db_path_of(config.CourseDirectory.db_url), _restore_command(config))
    if sync_gradebook:
        from autograder.nbgrader_api import sync_gradebook as sync
        drift = sync(config, assignment)
        if drift:
            raise CourseError(f"exercises/{assignment} is out of sync with solutions/{assignment} "
                              f"({', '.join(drift[:5])}): run `segcourse release {assignment}` first")
    return sandbox


def _print_batch_summary(config, assignment: str, report) -> None:
    """The summary table, the workers' events, where the JSON report went, and a failed
    integrity check (on stderr, naming the backup made before the batch)."""
    from autograder import batch_report
    from autograder.nbgrader_api import written_answers

    graded = {s.student for s in report.submissions}
    answers = [a for a in written_answers(config, assignment) if a.student in graded]
    report.written = [batch_report.written_answer_record(a) for a in answers]
    print("\n" + batch_report.format_summary(report) + f"\n(batch: {report.wall_s:.0f} s)\n")
    if answers:
        print(batch_report.format_written_answers(answers) + "\n")
    for event in report.events:
        print(f"note: {event}")
    print(f"timing and status of each submission: "
          f"{batch_report.write_batch_report(report, assignment, runtime_directory_of(config))}")
    if report.integrity:
        print("GRADEBOOK INTEGRITY CHECK FAILED:\n  " + "\n  ".join(report.integrity)
              + f"\n  backup before this batch: {report.backup}", file=sys.stderr)


def _apply_late_policy(config, assignment: str, args) -> None:
    """Store --due in the gradebook (nbgrader's ``Assignment.duedate``) and say the policy
    in force; nbgrader's autograde then marks late work and applies the penalty
    (``autograder.late``). Gradebook failures are one line (``GradebookError``)."""
    from autograder.gradebook_errors import gradebook_errors_as_one_line
    from autograder.late import due_date_of, parse_late_policy, set_due_date

    with gradebook_errors_as_one_line(db_path_of(config.CourseDirectory.db_url)):
        if getattr(args, "due", None) is not None:
            set_due_date(config, assignment, args.due[1])
        due = due_date_of(config, assignment)
    policy = parse_late_policy(config.PenaltyPerTimeUnit.policy)
    if due is None:
        if getattr(args, "late_penalty", None) and policy.method != "none":
            raise CourseError(f"--late-penalty {args.late_penalty} needs a due date: pass --due TIME "
                              f"(e.g. --due 2026-12-01T23:59; it is stored in the gradebook)")
        return
    print(f"due date of {assignment}: {due:%Y-%m-%d %H:%M} UTC (gradebook); late penalty: {policy.describe()}")


def selected_assignments(course_root: Path, names: list[str]) -> list[str]:
    """The assignments ``names`` (each checked: CourseError), or every assignment when none is named."""
    return [check_assignment(course_root, name) for name in names] or find_assignments(course_root)


def runtime_config(course_root: Path, args):
    """The course's nbgrader config with ``--runtime-dir`` (checked first: CourseError)."""
    _check_runtime_dir(course_root, args.runtime_dir)
    return course_config(course_root, runtime_directory=args.runtime_dir)


def _run_export(course_root: Path, args) -> int:
    from autograder.gradebook_errors import gradebook_errors_as_one_line
    from autograder.lms_export import export_gradebook

    config = runtime_config(course_root, args)
    db_path = db_path_of(config.CourseDirectory.db_url)
    if not db_path.exists():
        raise CourseError(f"no gradebook at {db_path}: grade an assignment first (segcourse grade NAME)")
    out = args.out or runtime_directory_of(config) / f"grades-{args.format}.csv"
    try:
        with gradebook_errors_as_one_line(db_path):
            result = export_gradebook(config, args.format, out, args.assignment)
    except ValueError as error:         # an assignment the gradebook does not hold
        raise CourseError(str(error)) from None
    for warning in result.warnings:
        print(f"segcourse: warning: {warning}", file=sys.stderr)
    print(f"{args.format} grades of {result.students} students, {', '.join(result.assignments)}: {result.path}")
    return EXIT_OK


def _run_check_release(course_root: Path, args) -> int:
    from autograder.nbgrader_api import release_drift

    status = EXIT_OK
    for assignment in selected_assignments(course_root, args.assignments):
        differing = release_drift(course_root, assignment)
        if differing:
            status = EXIT_CHECK_FAILED
            print(f"exercises/{assignment} is out of sync with solutions/{assignment}: {', '.join(differing)}\n"
                  f"  regenerate it with: segcourse release {assignment}")
        else:
            print(f"exercises/{assignment} is in sync with solutions/{assignment}")
    return status


def _part_of(grade_id: str) -> str:
    return grade_id.removeprefix("test_").removesuffix("_visible").removesuffix("_hidden")


def format_score_table(scores, expected: dict[str, dict[str, float]] | None = None,
                       penalties: dict[str, float] | None = None) -> str:
    """A text table: one row per student, points per part, total (less a late penalty,
    from ``penalties``), and the expected total."""
    parts: list[str] = []
    for score in scores:
        for grade_id in score.by_cell:
            if _part_of(grade_id) not in parts:
                parts.append(_part_of(grade_id))
    header = ["student", *parts, "total"] + (["expected", "ok"] if expected is not None else [])
    rows = [header]
    for score in scores:
        per_part = {part: sum(v for k, v in score.by_cell.items() if _part_of(k) == part) for part in parts}
        penalty = (penalties or {}).get(score.student, 0.0)
        total = (f"{score.score - penalty:g}/{score.max_score:g} (late -{penalty:g})" if penalty
                 else f"{score.score:g}/{score.max_score:g}")
        if score.pending:
            total += f" ({score.pending:g} to grade by hand)"
        row = [score.student, *(f"{per_part[p]:g}" for p in parts), total if score.graded else "not graded"]
        if expected is not None:
            want = expected.get(score.student, {})
            row += [f"{sum(want.values()):g}", "yes" if score.graded and score.by_cell == want else "NO"]
        rows.append(row)
    return text_table(rows)


def with_course_lock(runtime: Path, what: str, run) -> int:
    """``run()`` holding the course's lock (one batch per runtime folder); a held lock, a
    damaged gradebook or an output that cannot be written is one line."""
    from autograder.atomic_files import OutputError
    from autograder.course_lock import course_lock
    from autograder.gradebook_errors import GradebookError
    try:
        with course_lock(runtime, what):
            return run()
    except GradebookError as error:     # CourseLocked, GradebookDamaged, a failed backup
        print(f"segcourse: error: {error}", file=sys.stderr)
        return EXIT_GRADEBOOK
    except OutputError as error:        # grades.csv on a full disk: the previous file is unchanged
        print(f"segcourse: error: {error}", file=sys.stderr)
        return EXIT_CHECK_FAILED


def _restore_command(config) -> str:
    """The `segcourse restore-gradebook` command for this course, for messages."""
    root = Path(config.CourseDirectory.root)
    runtime = runtime_directory_of(config)
    course = "" if Path.cwd().resolve() == root.resolve() else f" --course-dir {root}"
    return (f"segcourse{course} restore-gradebook"
            + ("" if runtime == root / DEFAULT_RUNTIME_DIRECTORY else f" --runtime-dir {runtime}"))


def _run_restore_gradebook(course_root: Path, args) -> int:
    from autograder.gradebook import restore_gradebook

    runtime = _check_runtime_dir(course_root, args.runtime_dir).resolve()
    db_path = runtime / "gradebook.db"

    backup = args.backup
    if backup is not None and not backup.exists() and (runtime / backup.name).exists():
        backup = runtime / backup.name     # a backup named as listed beside the gradebook

    def restore() -> int:
        backup_used, aside = restore_gradebook(db_path, backup)
        print(f"restored {db_path} from {backup_used}" + (f"; the previous file is kept as {aside}" if aside else ""))
        return EXIT_OK
    return with_course_lock(runtime, "segcourse restore-gradebook", restore)


def _run_grade(course_root: Path, args) -> int:
    check_assignment(course_root, args.assignment)
    _check_runtime_dir(course_root, args.runtime_dir)   # before the lock, which would create it
    return with_course_lock((course_root / args.runtime_dir).resolve(), f"segcourse grade {args.assignment}",
                            lambda: _run_grade_locked(course_root, args))


def _run_grade_locked(course_root: Path, args) -> int:
    from autograder.nbgrader_api import export_grades, submission_scores

    assignment = check_assignment(course_root, args.assignment)
    config = course_config(course_root, runtime_directory=args.runtime_dir, cell_timeout_s=args.cell_timeout,
                           late_penalty=args.late_penalty)
    print(describe_course_settings(config, args.course_dir))
    submitted = course_root / config.CourseDirectory.submitted_directory
    # a symbolic link counts as a submission too: grading says it is not gradable
    available = sorted(p.parent.name for p in submitted.glob(f"*/{assignment}") if p.is_dir() or p.is_symlink())
    students = args.student or available
    missing = sorted(set(students) - set(available))
    if missing:
        raise CourseError(f"no submission of {assignment} for: {', '.join(missing)} (looked in {submitted})")
    if not students:
        raise CourseError(f"no submissions of {assignment} under {submitted}/<student>/{assignment}/")
    from autograder.gradebook_errors import GradebookError, describe_gradebook_error
    db_path = db_path_of(config.CourseDirectory.db_url)
    try:
        failed, report = grade_with_sandbox(config, assignment, students, args)
        if report.integrity:
            return EXIT_GRADEBOOK
        grades_csv = export_grades(config, db_path.parent / "grades.csv")
        print(format_score_table(submission_scores(config, assignment, students),
                                 penalties={s.student: s.penalty for s in report.submissions if s.penalty}))
    except GradebookError as error:
        print(f"segcourse: error: {error}", file=sys.stderr)
        return EXIT_GRADEBOOK
    except Exception as error:      # SQLAlchemy/sqlite3 errors of the export: one line, not a traceback
        line = describe_gradebook_error(error, db_path)
        if line is None:
            raise
        print(f"segcourse: error: {line}", file=sys.stderr)
        return EXIT_GRADEBOOK
    print(f"\ngrades: {grades_csv}")
    if report.stopped:
        print("segcourse: stopped (Ctrl-C or SIGTERM): the submissions above marked 'stopped' were not graded",
              file=sys.stderr)
        return EXIT_INTERRUPTED
    return EXIT_CHECK_FAILED if failed else EXIT_OK


def _run_validate_dataset(parser, args) -> int:
    from course_utils.datasets import validate_dataset

    if not args.folder.is_dir():
        parser.print_usage(sys.stderr)
        print(f"segcourse: error: dataset folder not found: {args.folder}", file=sys.stderr)
        return EXIT_USAGE
    try:
        report = validate_dataset(args.kind, args.folder, splits=args.split)
    except ValueError as error:                 # an unknown split
        parser.print_usage(sys.stderr)
        print(f"segcourse: error: {error}", file=sys.stderr)
        return EXIT_USAGE
    except OSError as error:                    # a folder that cannot be listed: one line
        print(f"segcourse: error: {describe_os_error(error)}", file=sys.stderr)
        return EXIT_CHECK_FAILED
    print(report)
    return EXIT_OK if report.ok else EXIT_CHECK_FAILED


def _run_data_fetch(args) -> int:
    from course_utils.datasets import fetch

    try:
        report = fetch.fetch(args.dataset, args.to, progress=fetch.TextProgress(sys.stderr))
    except fetch.OfflineError as error:
        print(f"segcourse: offline: {error}. The course's synthetic data stay the default; fetch later with "
              f"`segcourse data fetch {args.dataset}`.", file=sys.stderr)
        return EXIT_CHECK_FAILED
    except fetch.FetchError as error:
        print(f"segcourse: error: {error}", file=sys.stderr)
        return EXIT_CHECK_FAILED
    except OSError as error:                    # a full disk, a folder that cannot be written: one line
        print(f"segcourse: error: {describe_os_error(error)}", file=sys.stderr)
        return EXIT_CHECK_FAILED
    print(fetch.describe_result(report, fetch.SOURCES[args.dataset]))
    return EXIT_OK


def _run_new_assignment(course_root: Path, args) -> int:
    from autograder.scaffold import next_steps, scaffold_assignment

    print(next_steps(course_root, args.name, scaffold_assignment(course_root, args.name, title=args.title)))
    return EXIT_OK


def _run_student_kit(course_root: Path, args) -> int:
    from autograder.student_kit import DestinationError, KitError, build_student_kit

    try:
        report = build_student_kit(course_root, args.directory, force=args.force)
    except DestinationError as error:
        raise CourseError(str(error)) from None
    except KitError as error:
        print(f"segcourse: student kit not written: {error}", file=sys.stderr)
        return EXIT_CHECK_FAILED
    print(f"student kit written to {report.destination}: {report.files} files, "
          f"{report.size_bytes / 1e6:.1f} MB, in {report.seconds:.1f} s\n"
          f"  self-checks: {len(report.stored)} references replaced by {report.stored_values} stored values; "
          f"not available in the kit: {', '.join(report.unavailable) or 'none'}\n"
          f"  no solutions, hidden tests, trusted checks or self-check references; see {report.destination}/README.md")
    return EXIT_OK


def _command_in(module: str, function: str):
    """``autograder.<module>.<function>(course_root, args)``, imported when the command runs:
    that module imports the helpers it shares with the other commands from this one."""
    def run(course_root: Path, args) -> int:
        return getattr(importlib.import_module(f"autograder.{module}"), function)(course_root, args)
    return run


COMMANDS = {"demo": _command_in("demo_command", "run_demo"),
            "release": _command_in("exchange_commands", "run_release"), "check-release": _run_check_release,
            "grade": _run_grade, "student-kit": _run_student_kit, "restore-gradebook": _run_restore_gradebook,
            "new-assignment": _run_new_assignment, "status": _command_in("exchange_commands", "run_status"),
            "collect": _command_in("exchange_commands", "run_exchange_step"),
            "release-feedback": _command_in("exchange_commands", "run_exchange_step"), "export": _run_export}

if __name__ == "__main__":
    sys.exit(main())
