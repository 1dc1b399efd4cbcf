"""``segcourse demo``: release fcn_basics, grade the demo's four sample students
(``autograder.demo_class``) in the sandbox, write feedback and grades, and print each
score beside the expected one.

The parser, the exit codes and the grading steps shared with ``segcourse grade`` are in
``autograder.cli``, which imports this module when the command runs.
"""

from __future__ import annotations

import os
import shutil
import sys
import time
from pathlib import Path

from autograder.cli import (
    EXIT_CHECK_FAILED,
    EXIT_GRADEBOOK,
    EXIT_OK,
    format_score_table,
    grade_with_sandbox,
    with_course_lock,
)
from autograder.course import CourseError, course_config


def run_demo(course_root: Path, args) -> int:
    """The demo in ``--output-dir`` (relative: under the course), holding its course lock;
    exit 0 when every score is the expected one, 1 otherwise, 4 for a gradebook failure."""
    output_dir = args.output_dir if args.output_dir.is_absolute() else course_root / args.output_dir
    if output_dir.resolve() == course_root or course_root.is_relative_to(output_dir.resolve()):
        raise CourseError(f"--output-dir {output_dir} would hold the course itself; choose a folder of its own")
    return with_course_lock(output_dir, "segcourse demo", lambda: _run_demo_locked(course_root, output_dir, args))


def _clear_folder(folder: Path) -> None:
    """Empty ``folder`` but for the course lock held on it."""
    from autograder.course_lock import LOCK_NAME
    for entry in folder.iterdir() if folder.is_dir() else []:
        if entry.name != LOCK_NAME:
            shutil.rmtree(entry, ignore_errors=True) if entry.is_dir() and not entry.is_symlink() else entry.unlink()


def _shown_path(path: Path, course_root: Path) -> str:
    """``path`` relative to the course when it is inside it (--output-dir may be anywhere)."""
    path = Path(os.path.normpath(path))
    return str(path.relative_to(course_root)) if path.is_relative_to(course_root) else str(path)


def _run_demo_locked(course_root: Path, output_dir: Path, args) -> int:
    from autograder import demo_class
    from autograder.nbgrader_api import export_grades, release_assignment, submission_scores

    started = time.perf_counter()
    _clear_folder(output_dir)           # all but the lock this demo holds
    config = course_config(course_root, runtime_directory=output_dir, cell_timeout_s=args.cell_timeout)
    assignment = demo_class.ASSIGNMENT

    print(f"1. releasing {assignment}: solutions/{assignment} -> exercises/{assignment}")
    release_assignment(config, assignment)
    submitted = course_root / config.CourseDirectory.submitted_directory
    students = demo_class.write_demo_submissions(course_root, submitted)
    print(f"2. wrote {len(students)} sample submissions under {_shown_path(submitted, course_root)}/")
    print(f"3. autograding in a sandbox, scored outside the students' kernels, recorded by nbgrader "
          f"(per-cell time limit {args.cell_timeout} s), and writing feedback")
    # the release above brought the demo's fresh gradebook in line with solutions/
    from autograder.gradebook_errors import GradebookError
    try:
        failed, report = grade_with_sandbox(config, assignment, students, args, sync_gradebook=False)
    except GradebookError as error:
        print(f"segcourse: error: {error}", file=sys.stderr)
        return EXIT_GRADEBOOK
    if report.integrity:
        return EXIT_GRADEBOOK
    grades_csv = export_grades(config, output_dir / "grades.csv")
    feedback_dir = course_root / config.CourseDirectory.feedback_directory
    notebook = demo_class.NOTEBOOK.removesuffix(".ipynb")
    print(f"4. feedback: {_shown_path(feedback_dir, course_root)}/<student>/{assignment}/{notebook}.html")
    print(f"   grades:   {_shown_path(grades_csv, course_root)}\n")

    scores = submission_scores(config, assignment, students)
    print(format_score_table(scores, demo_class.EXPECTED_POINTS))
    as_expected = not failed and all(s.graded and s.by_cell == demo_class.EXPECTED_POINTS[s.student] for s in scores)
    verdict = "All scores are the ones these submissions deserve." if as_expected else \
        "SOME SCORES DIFFER FROM THE EXPECTED ONES."
    print(f"\n{verdict} ({time.perf_counter() - started:.0f} s)")
    return EXIT_OK if as_expected else EXIT_CHECK_FAILED
