"""Benchmark of grading: stock ``nbgrader autograde`` against this grader, same class.

    python -m benchmarks.grading            # 20 submissions of fcn_basics
    python -m benchmarks.grading --quick    # 4 submissions (smoke test)

The class: honest variants from ``autograder.demo_class`` (mostly correct, some partly
wrong, some crashing; no infinite loops), in two copies of the course:

- stock: the course's nbgrader configuration with nbgrader's stock autograde steps put
  back (``Execute`` runs the notebook with the hidden tests restored from the source, in
  the student's kernel; the course itself grades through the sandbox), one
  ``nbgrader autograde NAME --student ID`` call per student, one after the other, as
  instructors run it;
- ours: ``autograder.batch.grade_batch`` in one run (the sandbox ``segcourse grade`` uses:
  bubblewrap with warm kernels; the default number of workers, trusted scoring and
  nbgrader recording; feedback HTML only with
  ``--feedback``, since stock ``nbgrader autograde`` writes none either).

Writes ``benchmarks/results/grading.json``: the wall-clock times, the speedup, each
submission's times, and whether both graders gave every submission the same points.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

REPO_ROOT = Path(__file__).resolve().parent.parent
RESULTS = REPO_ROOT / "benchmarks" / "results" / "grading.json"
ASSIGNMENT = "fcn_basics"
CELL_TIMEOUT_S = 60          # both graders; generous, because the machine may be shared
# (variant, how many out of 20): honest work of several qualities, no infinite loop
CLASS_MIX = [("demo-correct", 12), ("demo-partial", 4), ("demo-crash", 4)]


STOCK_AUTOGRADE = """
# benchmark only: nbgrader's stock autograde steps (Execute in the student's kernel)
from nbgrader.converters.autograde import Autograde
c.Autograde.autograde_preprocessors = Autograde.class_traits()["autograde_preprocessors"].default()
"""


def make_course(folder: Path):
    """A copy of the course with fcn_basics released; returns its nbgrader config."""
    from autograder.course import course_config
    from autograder.nbgrader_api import release_assignment

    for name in ("solutions", "exercises", "course_utils"):
        shutil.copytree(REPO_ROOT / name, folder / name)
    shutil.copy(REPO_ROOT / "nbgrader_config.py", folder / "nbgrader_config.py")
    # Stock: the course's config runs nbgrader's own autograde through our sandbox
    # (autograder.grading_path); the benchmark measures nbgrader as shipped, with Execute.
    with open(folder / "nbgrader_config.py", "a") as handle:
        handle.write(STOCK_AUTOGRADE)
    config = course_config(folder, cell_timeout_s=CELL_TIMEOUT_S)
    release_assignment(config, ASSIGNMENT)
    return config


def write_class(course: Path, count: int) -> dict[str, str]:
    """Write ``count`` submissions; returns student id -> demo variant."""
    import nbformat

    from autograder import demo_class

    variants = [variant for variant, n in CLASS_MIX for _ in range(n)]
    step = len(variants) / count
    chosen = [variants[int(i * step)] for i in range(count)]
    answers = demo_class.solution_answers(course / "solutions" / ASSIGNMENT / demo_class.NOTEBOOK)
    release = course / "exercises" / ASSIGNMENT / demo_class.NOTEBOOK
    students = {}
    for number, variant in enumerate(chosen, start=1):
        student = f"student-{number:02d}"
        folder = course / ".grading" / "submitted" / student / ASSIGNMENT
        folder.mkdir(parents=True)
        notebook = demo_class.build_submission(release, {**answers, **demo_class.ANSWER_OVERRIDES[variant]})
        nbformat.write(notebook, folder / demo_class.NOTEBOOK)
        (folder / "timestamp.txt").write_text("2026-11-25 12:00:00.000000 UTC")
        students[student] = variant
    return students


def grade_stock(course: Path, students: list[str]) -> tuple[float, dict[str, float]]:
    """One ``nbgrader autograde`` CLI call per student; returns (total s, s per student)."""
    nbgrader = Path(sys.executable).parent / "nbgrader"
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    per_student = {}
    started = time.perf_counter()
    for student in students:
        began = time.perf_counter()
        subprocess.run([str(nbgrader), "autograde", ASSIGNMENT, "--student", student, "--force"],
                       cwd=course, env=env, capture_output=True, text=True, timeout=1800)
        per_student[student] = round(time.perf_counter() - began, 2)
        print(f"  stock {student}: {per_student[student]:.0f} s", flush=True)
    return time.perf_counter() - started, per_student


def grade_ours(config, students: list[str], workers: int | None, feedback: bool):
    from autograder.batch import GradeOptions, grade_batch
    from autograder.sandbox import detect_sandbox

    started = time.perf_counter()
    # as `segcourse grade` does: bubblewrap, kernels forked from a warm-kernel server per worker
    report = grade_batch(config, ASSIGNMENT, students, detect_sandbox("bwrap"),
                         GradeOptions(workers=workers, cell_timeout_s=CELL_TIMEOUT_S, seed=2026, feedback=feedback,
                                      first_slot=40),   # own sandbox uids: tests may grade meanwhile
                         progress=lambda line: print("  ours " + line, flush=True))
    return time.perf_counter() - started, report


def run(count: int, workers: int | None, output: Path, feedback: bool = False) -> dict:
    from autograder.nbgrader_api import submission_scores
    from autograder.sandbox import BubblewrapSandbox

    if not BubblewrapSandbox().available():
        raise SystemExit("this benchmark needs bubblewrap and root (apt-get install -y bubblewrap)")
    with tempfile.TemporaryDirectory(prefix="segcourse-bench-") as tmp:
        stock_config = make_course(Path(tmp) / "stock")
        our_config = make_course(Path(tmp) / "ours")
        variants = write_class(Path(tmp) / "stock", count)
        write_class(Path(tmp) / "ours", count)
        students = list(variants)
        print(f"stock nbgrader: {count} submissions, one `nbgrader autograde` call each", flush=True)
        stock_s, stock_each = grade_stock(Path(tmp) / "stock", students)
        print(f"ours: {count} submissions in one batch", flush=True)
        ours_s, report = grade_ours(our_config, students, workers, feedback)
        stock_scores = {s.student: s.by_cell for s in submission_scores(stock_config, ASSIGNMENT, students)}
        our_scores = {s.student: s.by_cell for s in submission_scores(our_config, ASSIGNMENT, students)}
    from autograder.worker_slots import plan_workers
    different = sorted(s for s in students if stock_scores[s] != our_scores[s])
    result = {
        "submissions": count,
        "workers": len(plan_workers("none", workers, [])),
        "cores": os.cpu_count(),
        "stock_nbgrader_s": round(stock_s, 1),
        "ours_s": round(ours_s, 1),
        "speedup": round(stock_s / ours_s, 2),
        "honest_scores_identical": not different,
        "ours_includes_feedback": feedback,
        "scores_differ_for": {s: {"variant": variants[s], "stock": stock_scores[s], "ours": our_scores[s]}
                              for s in different},
        "per_submission": [
            {"student": s.student, "variant": variants[s.student], "stock_s": stock_each[s.student],
             "ours_sandbox_s": round(s.run_s, 2), "ours_record_s": round(s.grade_s, 2),
             "ours_status": s.status, "score": s.score}
            for s in report.submissions],
        "ours_time_split_s": {
            "sandboxed_runs_sum": round(sum(s.run_s for s in report.submissions), 1),
            "recording_and_feedback_sum": round(sum(s.grade_s for s in report.submissions), 1)},
        "machine": machine_facts(),
    }
    return write_result(output, result)


def machine_facts() -> dict:
    """What a result file records of the run: Python, the load when it ended, the date."""
    return {"python": platform.python_version(), "load_average_at_end": os.getloadavg(),
            "date": time.strftime("%Y-%m-%d %H:%M")}


def write_result(output: Path, result: dict) -> dict:
    """Write ``result`` as indented JSON to ``output`` (its folder made if needed); return it."""
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(result, indent=2) + "\n")
    return result


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.grading", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="4 submissions instead of 20 (smoke test)")
    parser.add_argument("--submissions", type=int, default=None, help="number of submissions (default: 20)")
    parser.add_argument("--workers", type=int, default=None, help="our workers (default: one per core)")
    parser.add_argument("--output", type=Path, default=RESULTS, help=f"result file (default: {RESULTS})")
    parser.add_argument("--feedback", action="store_true",
                        help="ours also writes feedback HTML (stock's `autograde` does not; off by default)")
    args = parser.parse_args(argv)
    count = args.submissions or (4 if args.quick else 20)
    result = run(count, args.workers, args.output, args.feedback)
    print(f"\nstock nbgrader {result['stock_nbgrader_s']:.0f} s, ours {result['ours_s']:.0f} s "
          f"({result['workers']} workers): speedup {result['speedup']:.2f}x; "
          f"same scores: {result['honest_scores_identical']}\nwritten: {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
