"""How long every lecture and solution notebook takes, top to bottom on a fresh kernel.

    python -m benchmarks.notebooks            # as a self-learner runs them (full training)
    python -m benchmarks.notebooks --fast     # with COURSE_FAST=1, as CI and the autograder run them
    python -m benchmarks.notebooks --jobs 1   # one notebook at a time (default: 2 at once)

The course's budgets, for the 2-core CPU machine: each notebook at most 3 minutes, all
of them together (run one after the other) at most 15 minutes. Writes
``benchmarks/results/notebooks[_fast].json`` with each notebook's seconds, its errors,
and whether the budgets hold. Nothing here is asserted in tests (timings are noisy).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
RESULTS_DIR = REPO_ROOT / "benchmarks" / "results"
EACH_BUDGET_S = 180
TOTAL_BUDGET_S = 15 * 60


def course_notebooks() -> list[Path]:
    """Every lecture notebook, then every solution notebook, in course order."""
    return sorted((REPO_ROOT / "lectures").glob("*.ipynb")) + sorted((REPO_ROOT / "solutions").glob("*/*.ipynb"))


def time_notebook(path: Path, timeout_s: int) -> dict:
    """Execute ``path`` on a fresh kernel in its own folder; seconds and error cells."""
    import nbformat
    from nbclient import NotebookClient

    notebook = nbformat.read(path, as_version=4)
    started = time.perf_counter()
    failure = None
    try:
        NotebookClient(notebook, timeout=timeout_s, kernel_name="python3", allow_errors=True,
                       resources={"metadata": {"path": str(path.parent)}},
                       extra_arguments=["--IPKernelApp.log_level=ERROR"]).execute()   # no TCP notice
    except Exception as error:      # a timeout or a dead kernel: record it, time the others
        failure = f"{type(error).__name__}: {str(error)[:200]}"
    seconds = time.perf_counter() - started
    errors = [f"{cell.get('id')}: {output.ename}: {output.evalue[:120]}"
              for cell in notebook.cells if cell.cell_type == "code"
              for output in cell.get("outputs", []) if output.output_type == "error"]
    return {"notebook": str(path.relative_to(REPO_ROOT)), "seconds": round(seconds, 1),
            "within_budget": seconds <= EACH_BUDGET_S and not failure and not errors,
            "errors": errors + ([failure] if failure else [])}


def run(fast: bool, jobs: int, only: list[str] | None = None) -> dict:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if fast:
        os.environ["COURSE_FAST"] = "1"
    else:
        os.environ.pop("COURSE_FAST", None)
    notebooks = [p for p in course_notebooks() if not only or any(name in p.name for name in only)]
    load_before = os.getloadavg()
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        rows = list(pool.map(lambda path: time_notebook(path, timeout_s=4 * EACH_BUDGET_S), notebooks))
    for row in rows:
        print(f"{row['seconds']:7.1f} s  {'ok  ' if row['within_budget'] else 'OVER'}  {row['notebook']}"
              + (f"  errors: {row['errors']}" if row["errors"] else ""), flush=True)
    total = sum(row["seconds"] for row in rows)
    return {
        "course_fast": fast,
        "jobs": jobs,
        "notebooks": rows,
        "sum_s": round(total, 1),
        "wall_s": round(time.perf_counter() - started, 1),
        "budgets": {"each_s": EACH_BUDGET_S, "total_s": TOTAL_BUDGET_S},
        "targets_met": {"each_within_3_min": all(row["within_budget"] for row in rows),
                        "all_within_15_min": total <= TOTAL_BUDGET_S},
        "machine": {"cores": os.cpu_count(), "python": platform.python_version(),
                    "load_average_before": [round(x, 2) for x in load_before],
                    "load_average_after": [round(x, 2) for x in os.getloadavg()],
                    "date": time.strftime("%Y-%m-%d %H:%M")},
        "note": ("seconds are wall-clock per notebook; with jobs > 1 notebooks share the cores, "
                 "so each takes longer than alone and sum_s overstates the one-at-a-time total"),
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.notebooks", description=__doc__.split("\n\n")[0])
    parser.add_argument("--fast", action="store_true", help="set COURSE_FAST=1 (as CI and the autograder do)")
    parser.add_argument("--jobs", type=int, default=2, help="notebooks executed at once (default: 2)")
    parser.add_argument("--only", nargs="*", default=None, metavar="NAME",
                        help="only notebooks whose name contains NAME")
    args = parser.parse_args(argv)
    if args.jobs < 1:
        parser.error("--jobs must be at least 1")
    result = run(args.fast, args.jobs, args.only)
    output = RESULTS_DIR / ("notebooks_fast.json" if args.fast else "notebooks.json")
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(result, indent=2) + "\n")
    print(f"\n{len(result['notebooks'])} notebooks, {result['sum_s']:.0f} s in all ({result['wall_s']:.0f} s wall, "
          f"{args.jobs} at once); targets: {result['targets_met']}\nwritten: {output}")
    return 0 if all(not row["errors"] for row in result["notebooks"]) else 1


if __name__ == "__main__":
    sys.exit(main())
