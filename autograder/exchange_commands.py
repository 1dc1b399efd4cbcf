"""The ``segcourse`` commands that use nbgrader's exchange, the folder through which
students fetch releases and feedback and hand in submissions:

    segcourse status                  the settings in use (and where each came from), the exchange
                                      checked, and the written answers waiting for a grade
    segcourse release [--to-exchange] regenerate exercises/; with --to-exchange, release to the students
    segcourse collect NAME            the students' submissions into <runtime>/submitted
    segcourse release-feedback NAME   the feedback into the exchange for each student to fetch

The parser, the exit codes and the helpers shared with other commands are in
``autograder.cli``, which imports this module when one of these commands runs.
"""

from __future__ import annotations

import sys
from pathlib import Path

from autograder.cli import EXIT_CHECK_FAILED, EXIT_OK, runtime_config, selected_assignments
from autograder.course import check_assignment, course_config, db_path_of, describe_course_settings, exchange_ready


def run_release(course_root: Path, args) -> int:
    """``segcourse release [NAME ...] [--to-exchange]``; exit 1 when nbgrader refuses a release
    to the exchange (its reason on stderr)."""
    from autograder.nbgrader_api import GradingStepError, exchange_step, release_assignment

    config = course_config(course_root)
    if args.to_exchange:
        print(exchange_ready(config, args.course_dir))
    for assignment in selected_assignments(course_root, args.assignments):
        folder = release_assignment(config, assignment)
        print(f"released {assignment} -> {folder.relative_to(course_root)}/")
        if args.to_exchange:
            try:
                print(f"released {assignment} to the students: {exchange_step(config, 'release', assignment)}")
            except GradingStepError as error:
                print(f"segcourse: error: {error}", file=sys.stderr)
                return EXIT_CHECK_FAILED
    return EXIT_OK


def run_exchange_step(course_root: Path, args) -> int:
    """``segcourse collect NAME`` and ``segcourse release-feedback NAME``."""
    from autograder.nbgrader_api import GradingStepError, exchange_step

    assignment = check_assignment(course_root, args.assignment)
    config = runtime_config(course_root, args)
    print(exchange_ready(config, args.course_dir))
    step = {"collect": "collect", "release-feedback": "feedback"}[args.command]
    try:
        print(f"{args.command} {assignment}: {exchange_step(config, step, assignment)}")
    except GradingStepError as error:       # nbgrader's reason, e.g. nothing released yet
        print(f"segcourse: error: {error}", file=sys.stderr)
        return EXIT_CHECK_FAILED
    return EXIT_OK


def run_status(course_root: Path, args) -> int:
    """The settings in use, and the written answers waiting for a grade; exit 2 when the
    exchange cannot be used."""
    from autograder.batch_report import format_written_answers
    from autograder.gradebook_errors import gradebook_errors_as_one_line
    from autograder.nbgrader_api import written_answers

    config = runtime_config(course_root, args)
    print(describe_course_settings(config, args.course_dir))
    if db_path_of(config.CourseDirectory.db_url).exists():
        with gradebook_errors_as_one_line(db_path_of(config.CourseDirectory.db_url)):
            print(format_written_answers(written_answers(config)))
    exchange_ready(config, args.course_dir)     # ExchangeUnusable: one line, exit 2
    return EXIT_OK
