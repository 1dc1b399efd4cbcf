"""The library benchmark's own arithmetic (the benchmark itself runs on demand)."""

import numpy as np

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
