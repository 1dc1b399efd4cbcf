"""The class-scale grading benchmark: its class, its arguments, and a 3-submission run."""

from __future__ import annotations

import collections
import json
import os
import subprocess
import sys

import pytest

from autograder import demo_class
from autograder.sandbox import BubblewrapSandbox
from benchmarks import grading_class
from tests import REPO_ROOT

needs_bwrap = pytest.mark.skipif(not BubblewrapSandbox().available(), reason="bubblewrap (and root) needed")


def test_a_class_of_100_has_the_mix_and_starts_with_one_of_each():
    variants = grading_class.class_variants(100)
    assert collections.Counter(variants) == dict(grading_class.CLASS_MIX)
    names = [name for name, _ in grading_class.CLASS_MIX]
    assert variants[:len(names)] == names
    # spread through the class, not in blocks: each tenth has mostly correct work and a wrong one
    for start in range(0, 100, 10):
        tenth = collections.Counter(variants[start:start + 10])
        assert 5 <= tenth["correct"] <= 8 and tenth["correct"] < 10, (start, tenth)


def test_each_variant_differs_from_the_solution_where_the_demo_class_says():
    solution = demo_class.solution_answers(REPO_ROOT / "solutions" / demo_class.ASSIGNMENT / demo_class.NOTEBOOK)
    answers = grading_class.variant_answers(solution)
    changed = {name: {g for g in solution if answers[name][g] != solution[g]} for name in answers}
    overrides = demo_class.ANSWER_OVERRIDES
    assert changed["partly-wrong"] == {g for g, text in overrides["demo-partial"].items() if text != solution[g]}
    assert changed["partly-wrong"] and changed["exception"] == set(overrides["demo-crash"])
    assert changed["loop"] == set(overrides["demo-infinite-loop"])
    killed = next(iter(overrides["demo-crash"]))
    assert "SIGKILL" in answers["kernel-death"][killed] and "SIGKILL" not in answers["correct"][killed]
    assert all("SIGKILL" not in text for name, a in answers.items() if name != "kernel-death" for text in a.values())


@pytest.mark.parametrize("count", [0, -3])
def test_a_class_without_submissions_is_a_usage_error(count, capsys):
    with pytest.raises(SystemExit) as exit_info:
        grading_class.main(["--submissions", str(count)])
    assert exit_info.value.code == 2
    assert f"--submissions must be at least 1, not {count}" in capsys.readouterr().err
    with pytest.raises(ValueError, match="at least 1"):
        grading_class.class_variants(count)


@pytest.mark.slow
@needs_bwrap
def test_three_submissions_graded_three_ways(tmp_path):
    output = tmp_path / "grading_class.json"
    result = subprocess.run([sys.executable, "-m", "benchmarks.grading_class", "--submissions", "3", "--output",
                             str(output)], cwd=REPO_ROOT, capture_output=True, text=True, timeout=1500,
                            env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"})
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    data = json.loads(output.read_text())
    assert data["submissions"] == 3 and data["class"]["correct"] == 1 and data["class"]["partly-wrong"] == 1
    for grader in ("stock", "segcourse", "floor"):
        figures = data["graders"][grader]
        assert figures["total_s"] > 0 and figures["cpu_s_per_submission"] > 0, (grader, figures)
        assert figures["s_per_submission"] == pytest.approx(figures["total_s"] / 3, abs=0.05)  # total_s: 0.1 s
    assert data["speedup_over_stock"] == pytest.approx(
        data["graders"]["stock"]["total_s"] / data["graders"]["segcourse"]["total_s"], rel=0.02)
    assert data["floor_speedup_over_stock"] == pytest.approx(
        data["graders"]["stock"]["total_s"] / data["graders"]["floor"]["total_s"], rel=0.02)
    assert data["honest_scores_identical"] is True and data["scores_differ_for"] == {}
    points = {row["variant"]: (row["stock_points"], row["segcourse_points"]) for row in data["per_submission"]}
    assert all(stock == ours for stock, ours in points.values()), points
    full = sum(demo_class.EXPECTED_POINTS["demo-correct"].values())
    assert points["correct"][1] == full and points["partly-wrong"][1] < full and points["exception"][1] < full
    assert {"cells", "kernel_start", "record"} <= set(data["segcourse_mean_stage_s"])
    assert {"cells", "kernel_start"} <= set(data["floor_mean_stage_s"])
    assert data["segcourse_integrity"] == []
