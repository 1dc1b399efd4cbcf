"""The library benchmark's own arithmetic (the benchmark itself runs on demand)."""

import json

import numpy as np
import pytest

from benchmarks import library


def test_boundary_accuracy_counts_only_the_band_around_class_borders():
    truth = np.zeros((20, 20), dtype=np.uint8)
    truth[:, 10:] = 1                       # one vertical border between columns 9 and 10
    prediction = truth.copy()
    prediction[0, 0] = 1                    # far from the border: not counted
    assert library.boundary_accuracy(truth, prediction, width=2) == 1.0
    prediction[:, 10] = 0                   # the first column right of the border is wrong
    band_columns = 5                        # the edge is marked at column 9; the band is columns 7..11
    assert np.isclose(library.boundary_accuracy(truth, prediction, width=2), 1 - 1 / band_columns)


def test_fcn_flops_match_the_layer_arithmetic():
    # 8x8 page: conv1 8*8*9*40, conv2 4*4*16*40*40, conv3 2*2*16*40*80, classifier 8*8*80*4 multiply-adds
    assert library.fcn_flops(8, 8, num_classes=4) == 2 * (23040 + 409600 + 204800 + 20480)


def test_markdown_report_lists_every_architecture_and_target():
    results = {
        "machine": {"keras": "3", "backend": "tensorflow", "cpus": 2},
        "budget": {"train_seconds": 1, "train_pages": 2, "test_pages": 1, "page_size": 64},
        "sliding_vs_fcn": {"page_size": 128, "stride": 4, "sliding_s": 3.0, "fcn_s": 0.1, "ratio": 30.0,
                           "sliding_iou": 0.5, "fcn_iou": 0.6},
        "architectures": [{"name": "unet", "params": 10, "train_s": 1.0, "batches": 3, "mean_iou": 0.9,
                           "dice": 0.9, "fgpa": 0.95, "boundary_acc": 0.8, "infer_1024_s": 0.5}],
        "fcn_flops_per_s": 2e9, "matmul_peak_flops_per_s": 4e9, "fcn_fraction_of_peak": 0.5,
        "targets": {"fcn_at_least_25x_faster_than_sliding_stride_4": True, "unet_mean_iou_at_least_0.90": False},
    }
    report = library.markdown_report(results)
    assert "| unet | 10 | 1.0 | 3 | 0.9 |" in report
    assert "- met: fcn_at_least_25x_faster_than_sliding_stride_4" in report
    assert "- NOT met: unet_mean_iou_at_least_0.90" in report
    assert "30.0x" in report


def _row(name, **scores):
    row = {"name": name, "params": 10, "train_s": 180.5, "warmup_s": 2.0, "batches": 100, "mean_iou": 0.5,
           "dice": 0.6, "fgpa": 0.7, "boundary_acc": 0.6, "boundary_iou": 0.4, "infer_1024_s": 1.0}
    return {**row, **scores}


def test_unet_target_needs_both_quality_bars_within_the_budget():
    good = _row("unet", mean_iou=0.92, fgpa=0.96)
    assert library.compute_targets({"architectures": [good]})["unet_trained_within_180_s"] is True
    # Fast enough but not good enough: the old definition (time only) called this met.
    for worse in ({"mean_iou": 0.85}, {"fgpa": 0.94}):
        assert library.compute_targets({"architectures": [{**good, **worse}]})["unet_trained_within_180_s"] is False
    # Good enough but trained far past 3 minutes (batches of about 1.8 s).
    slow = {**good, "train_s": 185.0}
    assert library.compute_targets({"architectures": [slow]})["unet_trained_within_180_s"] is False
    assert library.compute_targets({"architectures": []})["unet_trained_within_180_s"] is None


def test_boundary_target_prefers_boundary_iou_and_needs_every_rival():
    rows = [_row("fcn_upscaling", boundary_iou=0.3), _row("fcn_skip_upscaling", boundary_iou=0.5),
            _row("fcn_transposed_skip", boundary_iou=0.6), _row("unet", boundary_iou=0.7)]
    targets = library.compute_targets({"architectures": rows})
    assert targets["skip_and_unet_beat_upscaling_on_boundaries"] is True
    rows[3]["boundary_iou"] = 0.2
    assert library.compute_targets({"architectures": rows})["skip_and_unet_beat_upscaling_on_boundaries"] is False
    del rows[1]["boundary_iou"]             # a row from before boundary IoU was measured
    assert library.boundary_metric({"architectures": rows}) == "boundary_acc"
    rows[1]["boundary_acc"] = 0.5           # falls back to boundary accuracy (upscaling: 0.6)
    assert library.compute_targets({"architectures": rows})["skip_and_unet_beat_upscaling_on_boundaries"] is False
    del rows[1]
    assert library.compute_targets({"architectures": rows})["skip_and_unet_beat_upscaling_on_boundaries"] is None


def test_only_reruns_one_network_and_merges_its_row(tmp_path):
    budget = {"train_seconds": 0.5, "train_pages": 2, "test_pages": 1, "page_size": 64}
    previous = {
        "machine": {"keras": "3", "backend": "tensorflow", "cpus": 2}, "budget": budget,
        "architectures": [_row("sliding_window_patch_cnn"), _row("fcn_upscaling", mean_iou=0.123),
                          _row("unet", mean_iou=0.95, fgpa=0.99)],
        "sliding_vs_fcn": {"page_size": 128, "stride": 4, "sliding_s": 3.0, "fcn_s": 0.1, "ratio": 30.0,
                           "sliding_iou": 0.5, "fcn_iou": 0.6},
        "targets": {},
    }
    (tmp_path / "library.json").write_text(json.dumps(previous))
    results = library.run(0.5, 2, 1, 64, 128, tmp_path, only=["fcn_upscaling"])

    written = json.loads((tmp_path / "library.json").read_text())
    assert written == json.loads(json.dumps(results))
    names = [entry["name"] for entry in written["architectures"]]
    assert names == ["sliding_window_patch_cnn", "fcn_upscaling", "unet"]   # order kept, no duplicate
    rerun = written["architectures"][1]
    assert rerun["mean_iou"] != 0.123 and rerun["batches"] >= 1 and "load_avg_before" in rerun
    assert written["architectures"][2]["mean_iou"] == 0.95                  # untouched rows kept
    assert written["sliding_vs_fcn"]["ratio"] == 30.0                       # not rerun: kept
    assert written["targets"]["fcn_at_least_25x_faster_than_sliding_stride_4"] is True
    report = (tmp_path / "library.md").read_text()
    assert "| unet | 10 |" in report and "| fcn_upscaling |" in report and "## Runs" in report
    with np.load(tmp_path / "library_predictions.npz") as stored:
        assert stored.files == ["fcn_upscaling"] and stored["fcn_upscaling"].shape == (64, 64)


def test_only_rejects_unknown_names_and_missing_or_other_budget_results(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        library.main(["--quick", "--only", "unet,resnet", "--out", str(tmp_path)])
    assert exit_info.value.code == 2 and "resnet" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_info:
        library.main(["--quick", "--only", "unet", "--out", str(tmp_path)])
    assert exit_info.value.code == 2 and "run the full benchmark" in capsys.readouterr().err
    (tmp_path / "library.json").write_text(json.dumps({"budget": {"train_seconds": 180.0}}))
    with pytest.raises(SystemExit) as exit_info:
        library.main(["--quick", "--only", "unet", "--out", str(tmp_path)])
    assert exit_info.value.code == 2 and "budget" in capsys.readouterr().err


def test_unet_steps_scores_the_benchmark_unet_along_training(tmp_path):
    from benchmarks import unet_steps

    results = unet_steps.run(2, 1, 2, 1, 64, tmp_path)   # 2 pages of 64 px: one batch per epoch
    assert [row["batches"] for row in results["curve"]] == [2]
    assert results["model_options"] == library.ARCHITECTURES["unet"][2]
    assert 0 <= results["curve"][0]["mean_iou"] <= 1 and results["curve"][0]["cpu_s_per_batch"] > 0
    assert json.loads((tmp_path / "unet_steps.json").read_text())["curve"] == results["curve"]
    report = (tmp_path / "unet_steps.md").read_text()
    assert "| 2 |" in report
    good = {**results, "curve": [{**results["curve"][0], "batches": 96, "mean_iou": 0.91, "fgpa": 0.96}],
            "first_batches_meeting_targets": 96}
    assert "first met after 96 batches" in unet_steps.markdown_report(good)
