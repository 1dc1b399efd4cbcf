"""Benchmark of the course library: sliding window against FCN, and every architecture
of the lecture trained on the same synthetic pages with the same time budget.

    python -m benchmarks.library            # full run (about 20 minutes on 2 CPU cores)
    python -m benchmarks.library --quick    # smoke run with tiny budgets (about 2 minutes)

Writes ``benchmarks/results/library.json``, ``library.md`` (tables and targets) and
``library_predictions.png`` (the lecture's comparison slides, reproduced). Targets are
checked here and reported in the files, never asserted in tests.
"""

from __future__ import annotations

import argparse
import functools
import json
import logging
import os
import platform
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
from scipy import ndimage  # noqa: E402

from course_utils import data, metrics, models, pipeline, sliding_window, timing, training, viz  # noqa: E402

# Predicting pages of several sizes retraces the graph; TensorFlow warns about it each time.
logging.getLogger("tensorflow").setLevel(logging.ERROR)

RESULTS_DIR = Path(__file__).resolve().parent / "results"
NUM_CLASSES = len(data.CLASS_NAMES)
PATCH_SIZE = 32


def boundary_accuracy(true_labels, predicted, width=3):
    """Pixel accuracy on the band of ``width`` pixels around the true class boundaries.

    Args:
        true_labels, predicted: (H, W) int label maps.
        width: half-width of the band in pixels.
    Returns:
        float in [0, 1]; higher means crisper region borders.
    """
    edges = np.zeros(true_labels.shape, dtype=bool)
    edges[:-1, :] |= true_labels[:-1, :] != true_labels[1:, :]
    edges[:, :-1] |= true_labels[:, :-1] != true_labels[:, 1:]
    band = ndimage.binary_dilation(edges, iterations=width)
    return float(np.mean(true_labels[band] == predicted[band]))


def evaluate(predict, pages, labels):
    """Mean IoU, mean Dice, FgPA and boundary accuracy of ``predict`` over held-out pages
    (each averaged over pages, as in Wick & Puppe)."""
    scores = {"mean_iou": [], "dice": [], "fgpa": [], "boundary_acc": []}
    for page, truth in zip(pages, labels):
        predicted = predict(page)
        scores["mean_iou"].append(metrics.mean_iou(truth, predicted, NUM_CLASSES))
        scores["dice"].append(metrics.mean_dice(truth, predicted, NUM_CLASSES))
        scores["fgpa"].append(metrics.foreground_pixel_accuracy(truth, predicted, data.ink_mask(page)))
        scores["boundary_acc"].append(boundary_accuracy(truth, predicted))
    return {name: round(float(np.mean(values)), 4) for name, values in scores.items()}


def fcn_flops(height, width, num_classes=NUM_CLASSES):
    """Floating-point operations (2 per multiply-add) of the lecture FCN on an H x W page."""
    multiply_adds = (height * width * 3 * 3 * 1 * 40
                     + (height // 2) * (width // 2) * 4 * 4 * 40 * 40
                     + (height // 4) * (width // 4) * 4 * 4 * 40 * 80
                     + height * width * 80 * num_classes)
    return 2 * multiply_adds


def matmul_peak_flops_per_s(size=2048, repeats=5):
    """FLOP/s of a float32 ``size`` x ``size`` matrix product through ``keras.ops``."""
    rng = np.random.default_rng(0)
    a = keras.ops.convert_to_tensor(rng.random((size, size), dtype=np.float32))
    b = keras.ops.convert_to_tensor(rng.random((size, size), dtype=np.float32))
    seconds = timing.best_time(lambda: keras.ops.convert_to_numpy(keras.ops.matmul(a, b)), repeats=repeats)
    return 2 * size**3 / seconds


ARCHITECTURES = {
    "fcn_upscaling": lambda: models.build_fcn_upscaling(NUM_CLASSES),
    "fcn_skip_upscaling": lambda: models.build_fcn_skip_upscaling(NUM_CLASSES),
    "fcn_transposed_skip": lambda: models.build_fcn_transposed_skip(NUM_CLASSES),
    "unet": lambda: models.build_unet(NUM_CLASSES, depth=4, base_filters=16, padding="same"),
    "deconvnet": lambda: models.build_deconvnet(NUM_CLASSES),
}


def run(train_seconds, num_train_pages, num_test_pages, page_size, sliding_page_size, out_dir):
    keras.utils.set_random_seed(0)
    started = time.perf_counter()
    train_x, train_y = data.make_page_dataset(num_train_pages, seed=0, height=page_size, width=page_size)
    test_x, test_y = data.make_page_dataset(num_test_pages, seed=10_000, height=page_size, width=page_size)
    test_pages = test_x[..., 0]
    big_page, big_labels = data.make_page(seed=20_000, height=sliding_page_size, width=sliding_page_size)

    results = {"machine": {"python": platform.python_version(), "keras": keras.__version__,
                           "backend": keras.backend.backend(), "cpus": os.cpu_count()},
               "budget": {"train_seconds": train_seconds, "train_pages": num_train_pages,
                          "test_pages": num_test_pages, "page_size": page_size},
               "architectures": []}
    predictions_for_figure = {}

    # The sliding-window patch CNN, trained on balanced patches for the same budget.
    patch_cnn = models.build_patch_cnn(PATCH_SIZE, NUM_CLASSES)
    patch_cnn.compile(optimizer=keras.optimizers.Adam(1e-3), loss="sparse_categorical_crossentropy",
                      jit_compile=False)
    patches, centre_classes = sliding_window.patch_training_set(train_x, train_y, PATCH_SIZE, 20_000, seed=1)
    budget = training.fit_for(patch_cnn, patches, centre_classes, train_seconds, batch_size=128)
    print(f"patch_cnn: trained {budget.elapsed_s:.0f} s", flush=True)

    def sliding(page):
        return sliding_window.predict_sliding_window(patch_cnn, page, PATCH_SIZE, stride=4)

    scores = evaluate(sliding, test_pages, test_y)
    predictions_for_figure["sliding window"] = sliding(test_pages[0])
    sliding_s = timing.best_time(lambda: sliding(big_page), repeats=1, warmup=0)
    big_sliding = sliding(big_page)
    results["architectures"].append({"name": "sliding_window_patch_cnn", "params": patch_cnn.count_params(),
                                     "train_s": round(budget.elapsed_s, 1), "warmup_s": round(budget.warmup_s, 1),
                                     "batches": budget.batches, **scores, "infer_1024_s": round(sliding_s, 3)})

    # Whole-page networks train on random crops (more updates per second than whole pages).
    crop = min(128, page_size)
    augment = [functools.partial(pipeline.random_crop, height=crop, width=crop), pipeline.random_flip]
    for name, build in ARCHITECTURES.items():
        model = build()
        # XLA compilation (jit_compile) costs up to a minute per network on a CPU and buys little here.
        model.compile(optimizer=keras.optimizers.Adam(3e-3), loss="sparse_categorical_crossentropy",
                      jit_compile=False)
        crops = pipeline.SegmentationSequence(train_x, train_y, batch_size=8, augment=augment, seed=0)
        budget = training.fit_for(model, crops, None, train_seconds)

        def predict(page, model=model):
            return sliding_window.predict_fcn(model, page, multiple=16)

        scores = evaluate(predict, test_pages, test_y)
        infer_s = timing.best_time(lambda: predict(big_page), repeats=3, warmup=1)
        predictions_for_figure[name] = predict(test_pages[0])
        results["architectures"].append({"name": name, "params": model.count_params(),
                                         "train_s": round(budget.elapsed_s, 1), "warmup_s": round(budget.warmup_s, 1),
                                         "batches": budget.batches, **scores, "infer_1024_s": round(infer_s, 3)})
        print(f"{name}: trained {budget.elapsed_s:.0f} s, {scores}, 1024x1024 in {infer_s:.3f} s", flush=True)
        if name == "fcn_upscaling":
            fcn, fcn_s = model, infer_s

    big_fcn = sliding_window.predict_fcn(fcn, big_page)
    results["sliding_vs_fcn"] = {
        "page_size": sliding_page_size, "stride": 4, "sliding_s": round(sliding_s, 3), "fcn_s": round(fcn_s, 4),
        "ratio": round(sliding_s / fcn_s, 1),
        "sliding_iou": round(metrics.mean_iou(big_labels, big_sliding, NUM_CLASSES), 4),
        "fcn_iou": round(metrics.mean_iou(big_labels, big_fcn, NUM_CLASSES), 4),
        "lecture": {"sliding_s": 6.0, "fcn_s": 0.9, "ratio": 6.7},
    }
    flops = fcn_flops(sliding_page_size, sliding_page_size)
    results["fcn_flops"] = flops
    results["fcn_flops_per_s"] = round(flops / fcn_s)
    results["matmul_peak_flops_per_s"] = round(matmul_peak_flops_per_s())
    results["fcn_fraction_of_peak"] = round(results["fcn_flops_per_s"] / results["matmul_peak_flops_per_s"], 3)

    by_name = {entry["name"]: entry for entry in results["architectures"]}
    results["targets"] = {
        "fcn_at_least_25x_faster_than_sliding_stride_4": results["sliding_vs_fcn"]["ratio"] >= 25,
        "unet_mean_iou_at_least_0.90": by_name["unet"]["mean_iou"] >= 0.90,
        "unet_fgpa_at_least_0.95": by_name["unet"]["fgpa"] >= 0.95,
        "unet_trained_within_180_s": by_name["unet"]["train_s"] + by_name["unet"]["warmup_s"] <= 180 + 15,
        "skip_and_unet_beat_upscaling_on_boundaries": all(
            by_name[name]["boundary_acc"] > by_name["fcn_upscaling"]["boundary_acc"]
            for name in ("fcn_skip_upscaling", "fcn_transposed_skip", "unet")),
    }
    results["total_s"] = round(time.perf_counter() - started, 1)

    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "library.json").write_text(json.dumps(results, indent=2) + "\n")
    (out_dir / "library.md").write_text(markdown_report(results))
    figure = viz.show_segmentation(test_pages[0], test_y[0], predictions_for_figure, data.CLASS_NAMES, panel_size=3.5)
    figure.savefig(out_dir / "library_predictions.png", dpi=80, bbox_inches="tight")
    return results


def markdown_report(results):
    """The results as markdown tables."""
    comparison = results["sliding_vs_fcn"]
    lines = [
        "# Library benchmark", "",
        f"Keras {results['machine']['keras']} on {results['machine']['backend']}, "
        f"{results['machine']['cpus']} CPU cores; every network trained {results['budget']['train_seconds']} s "
        f"on {results['budget']['train_pages']} synthetic {results['budget']['page_size']}px pages, "
        f"scored on {results['budget']['test_pages']} held-out pages.", "",
        "## Sliding window against FCN", "",
        "| page | stride | sliding window (s) | FCN (s) | ratio | sliding mean IoU | FCN mean IoU |",
        "|---|---|---|---|---|---|---|",
        f"| {comparison['page_size']}x{comparison['page_size']} | {comparison['stride']} | {comparison['sliding_s']} "
        f"| {comparison['fcn_s']} | {comparison['ratio']}x | {comparison['sliding_iou']} | {comparison['fcn_iou']} |",
        "", "The lecture: 6 s against 0.9 s (6.7x).", "",
        "## Architectures", "",
        "| network | params | train (s) | batches | mean IoU | Dice | FgPA | boundary acc. | 1024x1024 inference (s) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for entry in results["architectures"]:
        lines.append(f"| {entry['name']} | {entry['params']:,} | {entry['train_s']} | {entry['batches']} | {entry['mean_iou']} "
                     f"| {entry['dice']} | {entry['fgpa']} | {entry['boundary_acc']} | {entry['infer_1024_s']} |")
    lines += ["", f"FCN inference: {results['fcn_flops_per_s'] / 1e9:.1f} GFLOP/s; matmul peak "
              f"{results['matmul_peak_flops_per_s'] / 1e9:.1f} GFLOP/s ({results['fcn_fraction_of_peak']:.0%}).",
              "", "## Targets", ""]
    lines += [f"- {'met' if met else 'NOT met'}: {name}" for name, met in results["targets"].items()]
    lines += ["", "![predictions](library_predictions.png)", ""]
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m benchmarks.library", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="tiny budgets: checks the benchmark runs (about 2 min)")
    parser.add_argument("--train-seconds", type=float, default=180.0, help="training budget per network (default 180)")
    parser.add_argument("--out", type=Path, default=RESULTS_DIR, help="output folder (default benchmarks/results)")
    args = parser.parse_args(argv)
    if args.quick:
        results = run(3, 4, 2, 64, 128, args.out)
    else:
        results = run(args.train_seconds, 48, 8, 256, 1024, args.out)
    print((args.out / "library.md").read_text())
    return 0 if results else 1


if __name__ == "__main__":
    sys.exit(main())
