"""Grading at class scale: 100 fcn_basics submissions, stock nbgrader, ``segcourse`` and the floor.

    python -m benchmarks.grading_class                      # 100 submissions (about 40 min on 2 quiet cores)
    python -m benchmarks.grading_class --submissions 10     # a smaller class

The class is built from the solution's answers and ``autograder.demo_class``'s wrong ones:
mostly correct, some partly wrong, some raising an exception, some killing their kernel
(as running out of memory does), a few looping forever (``CLASS_MIX``). It is graded three
times on the same machine, one grader after the other:

- **stock**: nbgrader's own autograde (``Execute`` in the student's kernel, hidden tests
  restored from the source), one ``nbgrader autograde NAME --student ID`` call per student,
  as instructors run it (``benchmarks.grading``);
- **segcourse**: ``autograder.batch.grade_batch`` in one run, 2 workers, the sandbox
  ``segcourse grade`` uses (bubblewrap with warm kernels: each notebook's kernel forked
  from a server per worker that imported TensorFlow once, ``autograder.warm_sandbox``),
  trusted checks and nbgrader recording (no feedback HTML: stock writes none);
- **floor**: the least a sandboxed grader that starts a fresh kernel per submission must
  spend: per submission, one bubblewrap sandbox, a bare Jupyter kernel that imports
  TensorFlow and runs the release notebook's cells with the student's answers (same cell
  time limit, nbclient, no checks, no recording), 2 at a time. Warm kernels skip that
  import, so segcourse can go below it (``cpu_over_floor`` under 1).

Each grader runs in its own child process; its CPU seconds are that process's rusage with
every process it waited for (the sandboxes, kernels and ``nbgrader`` calls). Writes
``benchmarks/results/grading_class.json``: total wall time, seconds and CPU seconds per
submission for each, the speedup of segcourse over stock, segcourse's CPU per submission
over the floor's, segcourse's mean seconds per stage, and each student's scores under
both graders (identical on the honest submissions; the others' differences explained).
Targets, reported and never asserted: at least 4x stock, CPU within 1.5x of the floor.
``floor_speedup_over_stock`` is the floor's own speedup: what a grader with no overhead at
all, running every notebook once in a fresh kernel on the same cores, would reach.
segcourse's figures include starting its warm-kernel servers (one per worker).
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

DRIVER_STARTED_AT = time.time()     # inside the sandbox: when the floor's driver started
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

REPO_ROOT = Path(__file__).resolve().parent.parent
RESULTS = REPO_ROOT / "benchmarks" / "results" / "grading_class.json"
ASSIGNMENT = "fcn_basics"
WORKERS = 2                 # segcourse's workers and the floor's kernels at once
SEED = 2026                 # segcourse's probe inputs
FIRST_SLOT = {"segcourse": 40, "floor": 44}   # own sandbox uids: tests may grade meanwhile
FLOOR_DRIVER_TARGET = "/grader/floor_driver.py"
TARGET_SPEEDUP, TARGET_CPU_RATIO = 4.0, 1.5

# (variant, share of the class in percent); the first submissions take one of each
CLASS_MIX = [("correct", 70), ("partly-wrong", 12), ("exception", 10), ("kernel-death", 5), ("loop", 3)]
HONEST = ("correct", "partly-wrong", "exception")     # both graders must agree on these
# Why the graders may differ on the others (checked against what was measured, see run()).
EXPLAINED = {
    "kernel-death": "the kernel dies in a solution cell. Stock nbgrader's Execute gives up on the dead kernel and "
                    "scores every grade cell 0; segcourse's harness records the dead kernel, ends the notebook "
                    "there and keeps the points of the grade cells that ran before it.",
    "loop": "a function loops forever. Both interrupt its first test cell at the cell time limit; segcourse "
            "then replaces the looping function by a stand-in that raises TimedOutEarlier, so its later "
            "test cells fail at once, while stock nbgrader runs them again into the time limit (same 0 "
            "points, one more time limit of wall time per looping test cell).",
}


# ------------------------------------------------------------------ the class
def class_variants(count: int) -> list[str]:
    """The variant of each of ``count`` submissions: one of each first, then each variant as
    far behind its share of ``CLASS_MIX`` as any other (a smooth round robin)."""
    if count < 1:
        raise ValueError(f"--submissions must be at least 1, not {count}")
    chosen = [name for name, _ in CLASS_MIX][:count]
    while len(chosen) < count:
        position = len(chosen) + 1
        behind = {name: share * position / 100 - chosen.count(name) for name, share in CLASS_MIX}
        chosen.append(max(behind, key=behind.get))
    return chosen


def variant_answers(solution_answers: dict[str, str]) -> dict[str, dict[str, str]]:
    """Each variant's answers by solution grade_id, from the solution and ``demo_class``
    (no part named here: the wrong answers are the demo class's)."""
    from autograder import demo_class

    overrides = demo_class.ANSWER_OVERRIDES
    killed = next(iter(overrides["demo-crash"]))        # the cell the crashing demo student gets wrong
    kill = ("\n\nimport os as _os, signal as _signal\n"
            "_os.kill(_os.getpid(), _signal.SIGKILL)   # the kernel dies, as when it runs out of memory\n")
    correct = {**solution_answers, **overrides["demo-correct"]}
    return {
        "correct": correct,
        "partly-wrong": {**solution_answers, **overrides["demo-partial"]},
        "exception": {**solution_answers, **overrides["demo-crash"]},
        "kernel-death": {**correct, killed: correct[killed] + kill},
        "loop": {**solution_answers, **overrides["demo-infinite-loop"]},
    }


def write_class(course: Path, variants: list[str]) -> dict[str, str]:
    """Write one submission per entry of ``variants`` under ``course``; student id -> variant."""
    import nbformat

    from autograder import demo_class

    answers = variant_answers(demo_class.solution_answers(course / "solutions" / ASSIGNMENT / demo_class.NOTEBOOK))
    release = course / "exercises" / ASSIGNMENT / demo_class.NOTEBOOK
    students = {}
    for number, variant in enumerate(variants, start=1):
        student = f"student-{number:03d}"
        folder = course / ".grading" / "submitted" / student / ASSIGNMENT
        folder.mkdir(parents=True)
        nbformat.write(demo_class.build_submission(release, answers[variant]), folder / demo_class.NOTEBOOK)
        (folder / "timestamp.txt").write_text("2026-11-25 12:00:00.000000 UTC")
        students[student] = variant
    return students


# ------------------------------------------------------------------ the three graders (child processes)
def phase_stock(course: Path, students: list[str]) -> dict:
    """One ``nbgrader autograde`` call per student (``benchmarks.grading.grade_stock``)."""
    from benchmarks.grading import grade_stock

    _, per_student = grade_stock(course, students)
    return {"per_submission_s": per_student}


def phase_segcourse(course: Path, students: list[str]) -> dict:
    """``grade_batch`` on 2 workers; each submission's status and seconds per stage."""
    from autograder.batch import GradeOptions, grade_batch
    from autograder.course import course_config
    from autograder.sandbox import detect_sandbox

    # as `segcourse grade` does: bubblewrap, kernels forked from a warm-kernel server per worker
    report = grade_batch(course_config(course), ASSIGNMENT, students, detect_sandbox("bwrap"),
                         GradeOptions(workers=WORKERS, seed=SEED, feedback=False, first_slot=FIRST_SLOT["segcourse"]),
                         progress=lambda line: print("  segcourse " + line, flush=True))
    import resource
    own = resource.getrusage(resource.RUSAGE_SELF)      # the trusted side: reading, probes, judging, recording
    return {"per_submission_s": {s.student: round(s.run_s + s.grade_s, 2) for s in report.submissions},
            "trusted_side_cpu_s": round(own.ru_utime + own.ru_stime, 1),
            "status": {s.student: s.status for s in report.submissions},
            "stages_s": {s.student: s.timing for s in report.submissions},
            "integrity": report.integrity}


def phase_floor(course: Path, students: list[str]) -> dict:
    """Each submission's notebook in a bare sandboxed kernel, ``WORKERS`` at a time."""
    from autograder.course import CELL_TIMEOUT_S
    from autograder.sandbox import BubblewrapSandbox
    from autograder.sandboxed_run import _course_utils_mount, _matplotlib_font_cache

    sandbox = BubblewrapSandbox()
    library = _course_utils_mount(course, ASSIGNMENT)        # the library segcourse's kernels see
    font_cache = _matplotlib_font_cache()                    # as segcourse: built once, copied per job
    free_slots: queue.Queue[int] = queue.Queue()
    for slot in range(WORKERS):
        free_slots.put(FIRST_SLOT["floor"] + slot)

    def run_one(student: str) -> tuple[str, float, dict]:
        import shutil

        from autograder.sandbox import Job, Mount
        slot = free_slots.get()
        try:
            with tempfile.TemporaryDirectory(prefix="segcourse-floor-") as scratch:
                workdir = Path(scratch) / "work"
                workdir.mkdir()
                notebook = course / ".grading" / "submitted" / student / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
                shutil.copy(notebook, workdir / notebook.name)
                env = {"CUDA_VISIBLE_DEVICES": "", "COURSE_FAST": "1"}
                if font_cache is not None:
                    shutil.copytree(font_cache, workdir / ".matplotlib")
                    env["MPLCONFIGDIR"] = "/sandbox/.matplotlib"
                job = Job(argv=[sys.executable, FLOOR_DRIVER_TARGET, "--floor-driver", notebook.name, "--cell-timeout",
                                str(CELL_TIMEOUT_S.default)],
                          workdir=workdir, env=env, slot=slot,
                          mounts=[Mount(Path(__file__).resolve(), FLOOR_DRIVER_TARGET), library,
                                  Mount(course / "exercises" / ASSIGNMENT, "/course/release")])
                outcome = sandbox.run(job)
            lines = [line for line in outcome.stdout.splitlines() if line.startswith("{")]
            stages = json.loads(lines[-1]) if lines else {"error": outcome.stderr[-300:]}
            return student, outcome.wall_s, stages
        finally:
            free_slots.put(slot)

    with ThreadPoolExecutor(WORKERS) as pool:
        done = list(pool.map(run_one, students))
    for student, wall_s, stages in done:
        print(f"  floor {student}: {wall_s:.1f} s {stages}", flush=True)
    return {"per_submission_s": {s: round(w, 2) for s, w, _ in done}, "stages_s": {s: st for s, _, st in done}}


def floor_driver(argv: list[str]) -> int:
    """INSIDE the sandbox: run a notebook's code cells in one bare kernel (as the harness
    does, without probes or records) and print the seconds to the kernel and of the cells.
    Imports nothing of this repository."""
    sys.modules.setdefault("rfc3987_syntax", None)      # as the harness: jsonschema's slow optional import
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import DeadKernelError

    parser = argparse.ArgumentParser()
    parser.add_argument("notebook")
    parser.add_argument("--cell-timeout", type=int, required=True)
    parser.add_argument("--started-at", type=float, required=True, help="epoch seconds the driver started")
    args = parser.parse_args(argv)
    notebook = nbformat.read(args.notebook, as_version=4)
    client = NotebookClient(notebook, timeout=args.cell_timeout, interrupt_on_timeout=True, allow_errors=True,
                            kernel_name="python3", resources={"metadata": {"path": os.getcwd()}},
                            shutdown_kernel="immediate",
                            extra_arguments=["--HistoryManager.hist_file=:memory:", "--IPKernelApp.log_level=ERROR"])
    stages = {}
    with open(os.devnull, "wb") as devnull, client.setup_kernel(stdout=devnull, stderr=devnull):
        # as the harness's kernel_start: from the driver's start (its imports included)
        stages["kernel_start"] = round(time.time() - args.started_at, 2)
        started = time.perf_counter()
        for index, cell in enumerate(notebook.cells):
            if cell.cell_type != "code":
                continue
            try:
                client.execute_cell(cell, index)
            except DeadKernelError:
                stages["ended"] = "kernel died"
                break
            except Exception as error:        # a cell that ignored the interrupt (nbclient gives up)
                stages["ended"] = type(error).__name__
                break
        stages["cells"] = round(time.perf_counter() - started, 2)
    print(json.dumps(stages), flush=True)
    return 0


PHASES = {"stock": phase_stock, "segcourse": phase_segcourse, "floor": phase_floor}


def run_phase(name: str, course: Path, students: list[str], folder: Path) -> dict:
    """Run grader ``name`` in a child process; its result, wall time and CPU seconds (the
    child's rusage, with every process it waited for)."""
    students_file, result_file = folder / f"{name}-students.json", folder / f"{name}-result.json"
    students_file.write_text(json.dumps(students))
    print(f"{name}: {len(students)} submissions", flush=True)
    with CpuAccount(f"segcourse-bench-{name}-{os.getpid()}") as account:
        started = time.perf_counter()
        process = subprocess.Popen([sys.executable, "-m", "benchmarks.grading_class", "--phase", name, "--course",
                                    str(course), "--students", str(students_file), "--phase-output",
                                    str(result_file)], cwd=REPO_ROOT, preexec_fn=account.join)
        _, status, usage = os.wait4(process.pid, 0)
        process.returncode = os.waitstatus_to_exitcode(status)
        wall_s = time.perf_counter() - started
        cpu_s = account.seconds(usage)
    if process.returncode != 0:
        raise SystemExit(f"the {name} grader failed (exit {process.returncode}); see its output above")
    result = json.loads(result_file.read_text())
    count = len(students)
    result.update(total_s=round(wall_s, 1), s_per_submission=round(wall_s / count, 2), cpu_s=round(cpu_s, 1),
                  cpu_s_per_submission=round(cpu_s / count, 2), cpu_measured_by=account.method)
    return result


class CpuAccount:
    """CPU seconds of a child process and everything it starts.

    A control group (``cpuacct``, cgroup v1, or cgroup v2's ``cpu.stat``) when this process
    may create one (root): it counts every process of the group, those in the sandboxes'
    PID namespaces included. Else the child's rusage with the processes it waited for,
    which misses processes reaped inside a sandbox's PID namespace (``method`` says which).
    """

    V1, V2 = Path("/sys/fs/cgroup/cpuacct"), Path("/sys/fs/cgroup")

    def __init__(self, name: str):
        self.group: Path | None = None
        self.method = "rusage"
        for root, method in ((self.V1, "cgroup cpuacct"), (self.V2, "cgroup v2")):
            if method == "cgroup v2" and not (root / "cgroup.controllers").exists():
                continue
            try:
                (root / name).mkdir()
            except OSError:
                continue
            self.group, self.method = root / name, method
            break

    def __enter__(self) -> CpuAccount:
        return self

    def join(self) -> None:
        """In the child, before it runs: move it into the group (its children follow)."""
        if self.group is not None:
            (self.group / "cgroup.procs").write_text(str(os.getpid()))

    def seconds(self, usage) -> float:
        if self.group is None:
            return usage.ru_utime + usage.ru_stime
        if self.method == "cgroup cpuacct":
            return int((self.group / "cpuacct.usage").read_text()) / 1e9
        stat = dict(line.split() for line in (self.group / "cpu.stat").read_text().splitlines())
        return int(stat["usage_usec"]) / 1e6

    def __exit__(self, *exc) -> None:
        if self.group is not None:
            try:
                self.group.rmdir()
            except OSError:         # a process of the group still exits: the empty group stays
                pass


# ------------------------------------------------------------------ the run
def make_courses(folder: Path) -> tuple[Path, Path]:
    """Two copies of the course, fcn_basics released: stock's (nbgrader's own autograde
    put back in its config) and segcourse's."""
    from benchmarks.grading import make_course

    make_course(folder / "stock")
    make_course(folder / "segcourse")
    # the segcourse copy grades as the course does: drop the stock autograde lines again
    from benchmarks.grading import STOCK_AUTOGRADE
    config = folder / "segcourse" / "nbgrader_config.py"
    config.write_text(config.read_text().replace(STOCK_AUTOGRADE, ""))
    return folder / "stock", folder / "segcourse"


def mean_stages(stages: dict[str, dict]) -> dict[str, float]:
    """Mean seconds of each stage over the submissions that report it."""
    names = sorted({name for timing in stages.values() for name, v in timing.items() if isinstance(v, (int, float))})
    return {name: round(sum(t[name] for t in stages.values() if isinstance(t.get(name), (int, float)))
                        / max(1, sum(isinstance(t.get(name), (int, float)) for t in stages.values())), 2)
            for name in names}


def run(count: int, output: Path) -> dict:
    from autograder.course import CELL_TIMEOUT_S, course_config
    from autograder.nbgrader_api import submission_scores
    from autograder.sandbox import BubblewrapSandbox
    from benchmarks.grading import machine_facts, write_result

    if not BubblewrapSandbox().available():
        raise SystemExit("this benchmark needs bubblewrap and root (apt-get install -y bubblewrap)")
    with tempfile.TemporaryDirectory(prefix="segcourse-class-bench-") as tmp:
        stock_course, our_course = make_courses(Path(tmp))
        variants = write_class(stock_course, class_variants(count))
        write_class(our_course, list(variants.values()))
        students = list(variants)
        graders = {name: run_phase(name, course, students, Path(tmp))
                   for name, course in (("stock", stock_course), ("segcourse", our_course), ("floor", our_course))}
        scores = {name: {s.student: s.by_cell for s in submission_scores(course_config(course), ASSIGNMENT, students)}
                  for name, course in (("stock", stock_course), ("segcourse", our_course))}
    stock, ours, floor = graders["stock"], graders["segcourse"], graders["floor"]
    differ = sorted(s for s in students if scores["stock"][s] != scores["segcourse"][s])
    result = {
        "assignment": ASSIGNMENT,
        "submissions": count,
        "class": {name: list(variants.values()).count(name) for name, _ in CLASS_MIX},
        "workers": WORKERS,
        "cores": os.cpu_count(),
        "cell_timeout_s": CELL_TIMEOUT_S.default,
        "graders": {name: {key: graders[name][key] for key in ("total_s", "s_per_submission", "cpu_s",
                                                                 "cpu_s_per_submission")} for name in graders},
        "speedup_over_stock": round(stock["total_s"] / ours["total_s"], 2),
        "cpu_over_floor": round(ours["cpu_s_per_submission"] / floor["cpu_s_per_submission"], 2),
        # the floor's own speedup: what any grader that runs each notebook once in a fresh
        # kernel on these cores could reach at most, overhead-free
        "floor_speedup_over_stock": round(stock["total_s"] / floor["total_s"], 2),
        "targets": {"speedup_over_stock": TARGET_SPEEDUP, "cpu_over_floor": TARGET_CPU_RATIO},
        "honest_scores_identical": not [s for s in differ if variants[s] in HONEST],
        "scores_differ_for": {s: {"variant": variants[s], "stock": scores["stock"][s], "segcourse":
                                  scores["segcourse"][s], "why": EXPLAINED.get(variants[s], "not explained")}
                              for s in differ},
        "segcourse_mean_stage_s": mean_stages(ours["stages_s"]),
        # of segcourse's CPU per submission, what its own process spent (imports included)
        "segcourse_trusted_side_cpu_s_per_submission": round(ours["trusted_side_cpu_s"] / count, 2),
        "floor_mean_stage_s": mean_stages(floor["stages_s"]),
        "segcourse_integrity": ours["integrity"],
        "per_submission": [
            {"student": s, "variant": variants[s], "stock_s": stock["per_submission_s"].get(s),
             "segcourse_s": ours["per_submission_s"].get(s), "floor_s": floor["per_submission_s"].get(s),
             "segcourse_status": ours["status"].get(s), "segcourse_stages_s": ours["stages_s"].get(s),
             "floor_stages_s": floor["stages_s"].get(s),
             "stock_points": sum(scores["stock"][s].values()), "segcourse_points": sum(scores["segcourse"][s].values())}
            for s in students],
        "machine": machine_facts(),
    }
    return write_result(output, result)


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--floor-driver"]:      # as the harness counts it: from the driver's start
        return floor_driver([*argv[1:], "--started-at", str(DRIVER_STARTED_AT)])
    parser = argparse.ArgumentParser(prog="python -m benchmarks.grading_class", description=__doc__.split("\n\n")[0])
    parser.add_argument("--submissions", type=int, default=100, help="class size (default: 100)")
    parser.add_argument("--output", type=Path, default=RESULTS, help=f"result file (default: {RESULTS})")
    parser.add_argument("--phase", choices=sorted(PHASES), help=argparse.SUPPRESS)    # the child processes
    parser.add_argument("--course", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--students", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--phase-output", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.phase:
        result = PHASES[args.phase](args.course, json.loads(args.students.read_text()))
        args.phase_output.write_text(json.dumps(result))
        return 0
    if args.submissions < 1:
        parser.error(f"--submissions must be at least 1, not {args.submissions}")
    result = run(args.submissions, args.output)
    graders = result["graders"]
    print("\n" + "\n".join(f"{name:>9}: {g['total_s']:.0f} s, {g['s_per_submission']:.1f} s and "
                           f"{g['cpu_s_per_submission']:.1f} CPU s per submission" for name, g in graders.items()))
    print(f"segcourse over stock: {result['speedup_over_stock']:.2f}x faster (target {TARGET_SPEEDUP:g}x); "
          f"CPU per submission {result['cpu_over_floor']:.2f}x the floor's (target {TARGET_CPU_RATIO:g}x); "
          f"honest scores identical: {result['honest_scores_identical']}\nwritten: {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
