"""Benchmark of the course library: sliding window against FCN, and every architecture
of the lecture trained on the same synthetic pages with the same time budget.

    python -m benchmarks.library            # full run (about 20 minutes on 2 CPU cores)
    python -m benchmarks.library --quick    # smoke run with tiny budgets (about 2 minutes)
    python -m benchmarks.library --only unet   # rerun one network, merge its row

Writes ``benchmarks/results/library.json``, ``library.md`` (tables and targets),
``library_predictions.png`` (the lecture's comparison slides, reproduced) and
``library_predictions.npz`` (the predicted label maps the figure draws, so that a
partial rerun can redraw it). Targets are checked here and reported in the files, never
asserted in tests.

``--only NAME[,NAME]`` trains only the named networks and merges their rows into the
existing ``library.json`` of the output folder (the other rows, and the sliding-window
comparison unless both ``sliding_window_patch_cnn`` and ``fcn_upscaling`` are rerun, are
kept as they were). Every row records when it was measured and the machine's load
average before and after, because other jobs on a shared machine slow training down.
"""

from __future__ import annotations

import argparse
import datetime
import functools
import json
import logging
import os
import platform
import sys
import time
from dataclasses import dataclass
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras
import numpy as np
from scipy import ndimage

from course_utils import data, losses, metrics, models, pipeline, sliding_window, timing, training, viz

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


# Band width (pixels) of the boundary metrics: half a text line (6 px) on either side.
BOUNDARY_WIDTH = 3


def evaluate(predict, pages, labels):
    """Mean IoU, mean Dice, FgPA, boundary accuracy and boundary IoU of ``predict`` over
    held-out pages (each averaged over pages, as in Wick & Puppe)."""
    scores = {"mean_iou": [], "dice": [], "fgpa": [], "boundary_acc": [], "boundary_iou": []}
    for page, truth in zip(pages, labels):
        predicted = predict(page)
        scores["mean_iou"].append(metrics.mean_iou(truth, predicted, NUM_CLASSES))
        scores["dice"].append(metrics.mean_dice(truth, predicted, NUM_CLASSES))
        scores["fgpa"].append(metrics.foreground_pixel_accuracy(truth, predicted, data.ink_mask(page)))
        scores["boundary_acc"].append(boundary_accuracy(truth, predicted, BOUNDARY_WIDTH))
        scores["boundary_iou"].append(metrics.mean_boundary_iou(truth, predicted, NUM_CLASSES, BOUNDARY_WIDTH))
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


# How the whole-page networks train: Adam, random crops of the training pages plus
# horizontal flips. An architecture may override any entry (see ARCHITECTURES).
DEFAULT_RECIPE = {"learning_rate": 3e-3, "batch_size": 8, "crop": 128, "dice_weight": 0.0, "from_logits": False}

# name -> (build function, recipe overrides, model options recorded in the results)
UNET_OPTIONS = {"depth": 3, "base_filters": 8, "padding": "same", "batch_norm": True, "batch_norm_momentum": 0.9}
ARCHITECTURES = {
    "fcn_upscaling": (lambda: models.build_fcn_upscaling(NUM_CLASSES), {}, {}),
    "fcn_skip_upscaling": (lambda: models.build_fcn_skip_upscaling(NUM_CLASSES), {}, {}),
    "fcn_transposed_skip": (lambda: models.build_fcn_transposed_skip(NUM_CLASSES), {}, {}),
    # A full-resolution U-Net with 16 base filters costs as much per batch as the FCNs; with
    # 8 (half the CPU time per batch) and batch normalization it learns fast per batch.
    # Momentum 0.9: the inference statistics forget the untrained first batches quickly.
    "unet": (lambda: models.build_unet(NUM_CLASSES, output="logits", **UNET_OPTIONS),
             {"learning_rate": 3e-3, "batch_size": 8, "crop": 128, "dice_weight": 0.0, "from_logits": True},
             UNET_OPTIONS),
    "deconvnet": (lambda: models.build_deconvnet(NUM_CLASSES), {}, {}),
}
PATCH_CNN = "sliding_window_patch_cnn"
NETWORK_NAMES = (PATCH_CNN, *ARCHITECTURES)


def _loss(dice_weight, from_logits):
    """Cross-entropy (+ ``dice_weight`` x soft Dice) for a model ending in softmax or logits."""
    if dice_weight:
        return losses.CombinedCrossEntropyDiceLoss(dice_weight=dice_weight, from_logits=from_logits)
    return keras.losses.SparseCategoricalCrossentropy(from_logits=from_logits)


def _now_utc():
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")


def _load_average():
    """1, 5 and 15 minute load averages (runnable processes; above the core count the
    machine is oversubscribed), or None where the OS does not report them."""
    try:
        return [round(value, 2) for value in os.getloadavg()]
    except (AttributeError, OSError):
        return None


def _budget(train_seconds, num_train_pages, num_test_pages, page_size):
    return {"train_seconds": train_seconds, "train_pages": num_train_pages,
            "test_pages": num_test_pages, "page_size": page_size}


@dataclass
class Pages:
    """The synthetic pages every network is trained and scored on.

    ``train_x`` (N, S, S, 1) float and ``train_y`` (N, S, S) int: training pages;
    ``test_pages`` (M, S, S) and ``test_y`` (M, S, S): held-out pages; ``big_page`` and
    ``big_labels`` (B, B): the large page timed for sliding window against FCN.
    """

    train_x: np.ndarray
    train_y: np.ndarray
    test_pages: np.ndarray
    test_y: np.ndarray
    big_page: np.ndarray
    big_labels: np.ndarray


@dataclass
class Measured:
    """One trained network: its result row, its prediction of the first test page (for
    the figure), the model and its seconds to predict the big page."""

    row: dict
    figure_prediction: np.ndarray
    model: keras.Model
    big_page_s: float


def make_pages(num_train_pages, num_test_pages, page_size, sliding_page_size):
    """The benchmark's pages (fixed seeds: every run and network sees the same ones)."""
    train_x, train_y = data.make_page_dataset(num_train_pages, seed=0, height=page_size, width=page_size)
    test_x, test_y = data.make_page_dataset(num_test_pages, seed=10_000, height=page_size, width=page_size)
    big_page, big_labels = data.make_page(seed=20_000, height=sliding_page_size, width=sliding_page_size)
    return Pages(train_x, train_y, test_x[..., 0], test_y, big_page, big_labels)


def _train_timed(model, inputs, labels, train_seconds, **options):
    """``training.fit_for`` and the CPU seconds this process used meanwhile."""
    cpu_before = time.process_time()
    budget = training.fit_for(model, inputs, labels, train_seconds, **options)
    return budget, time.process_time() - cpu_before


def _result_row(name, model, budget, train_cpu_s, scores, big_page_s):
    """The measured part of a row of library.json; the caller adds ``recipe`` (and
    ``model_options``) and ``_run_record``."""
    return {"name": name, "params": model.count_params(),
            "train_s": round(budget.elapsed_s, 1), "warmup_s": round(budget.warmup_s, 1),
            "batches": budget.batches, "train_cpu_s": round(train_cpu_s, 1), **scores,
            "infer_1024_s": round(big_page_s, 3)}


def _run_record(started):
    """When a row was measured and the load average around it; ``started``: ``(load
    average, UTC time)`` taken before its model was built."""
    load_before, measured_at = started
    return {"measured_at": measured_at, "load_avg_before": load_before, "load_avg_after": _load_average()}


def measure_patch_cnn(pages, train_seconds):
    """The sliding-window patch CNN, trained on balanced patches for ``train_seconds``."""
    started = _load_average(), _now_utc()
    patch_cnn = models.build_patch_cnn(PATCH_SIZE, NUM_CLASSES)
    patch_cnn.compile(optimizer=keras.optimizers.Adam(1e-3), loss="sparse_categorical_crossentropy",
                      jit_compile=False)
    patches, centre_classes = sliding_window.patch_training_set(pages.train_x, pages.train_y, PATCH_SIZE, 20_000,
                                                                seed=1)
    budget, train_cpu_s = _train_timed(patch_cnn, patches, centre_classes, train_seconds, batch_size=128)
    print(f"{PATCH_CNN}: trained {budget.elapsed_s:.0f} s", flush=True)

    def sliding(page):
        return sliding_window.predict_sliding_window(patch_cnn, page, PATCH_SIZE, stride=4)

    scores = evaluate(sliding, pages.test_pages, pages.test_y)
    figure_prediction = sliding(pages.test_pages[0])
    sliding_s = timing.best_time(lambda: sliding(pages.big_page), repeats=1, warmup=0)
    row = {**_result_row(PATCH_CNN, patch_cnn, budget, train_cpu_s, scores, sliding_s),
           "recipe": {"learning_rate": 1e-3, "batch_size": 128, "patches": 20_000}, **_run_record(started)}
    return Measured(row, figure_prediction, patch_cnn, sliding_s)


def measure_fcn(name, pages, train_seconds, page_size):
    """The whole-page network ``name`` of ``ARCHITECTURES``, trained on random crops."""
    build, overrides, options = ARCHITECTURES[name]
    recipe = {**DEFAULT_RECIPE, **overrides}
    started = _load_average(), _now_utc()
    model = build()
    # XLA compilation (jit_compile) costs up to a minute per network on a CPU and buys little here.
    model.compile(optimizer=keras.optimizers.Adam(recipe["learning_rate"]),
                  loss=_loss(recipe["dice_weight"], recipe["from_logits"]), jit_compile=False)
    # Whole-page networks train on random crops (more updates per second than whole pages).
    crop = min(recipe["crop"], page_size)
    augment = [functools.partial(pipeline.random_crop, height=crop, width=crop), pipeline.random_flip]
    crops = pipeline.SegmentationSequence(pages.train_x, pages.train_y, batch_size=recipe["batch_size"],
                                          augment=augment, seed=0)
    budget, train_cpu_s = _train_timed(model, crops, None, train_seconds)

    def predict(page):
        return sliding_window.predict_fcn(model, page, multiple=16)

    scores = evaluate(predict, pages.test_pages, pages.test_y)
    infer_s = timing.best_time(lambda: predict(pages.big_page), repeats=3, warmup=1)
    figure_prediction = predict(pages.test_pages[0])
    row = {**_result_row(name, model, budget, train_cpu_s, scores, infer_s),
           "recipe": {**recipe, "crop": crop}, "model_options": dict(options), **_run_record(started)}
    print(f"{name}: trained {budget.elapsed_s:.0f} s, {scores}, 1024x1024 in {infer_s:.3f} s", flush=True)
    return Measured(row, figure_prediction, model, infer_s)


def compare_sliding_with_fcn(patch_cnn, fcn, pages):
    """The sections of library.json comparing the patch CNN's sliding window with the FCN
    on the big page: times, mean IoUs, and the FCN's FLOP rate against a matmul's."""
    sliding_s, fcn_s = patch_cnn.big_page_s, fcn.big_page_s
    size = pages.big_page.shape[0]
    big_sliding = sliding_window.predict_sliding_window(patch_cnn.model, pages.big_page, PATCH_SIZE, stride=4)
    big_fcn = sliding_window.predict_fcn(fcn.model, pages.big_page)
    sections = {"sliding_vs_fcn": {
        "page_size": size, "stride": 4, "sliding_s": round(sliding_s, 3), "fcn_s": round(fcn_s, 4),
        "ratio": round(sliding_s / fcn_s, 1),
        "sliding_iou": round(metrics.mean_iou(pages.big_labels, big_sliding, NUM_CLASSES), 4),
        "fcn_iou": round(metrics.mean_iou(pages.big_labels, big_fcn, NUM_CLASSES), 4),
        "lecture": {"sliding_s": 6.0, "fcn_s": 0.9, "ratio": 6.7},
    }}
    flops = fcn_flops(size, size)
    sections["fcn_flops"] = flops
    sections["fcn_flops_per_s"] = round(flops / fcn_s)
    sections["matmul_peak_flops_per_s"] = round(matmul_peak_flops_per_s())
    sections["fcn_fraction_of_peak"] = round(sections["fcn_flops_per_s"] / sections["matmul_peak_flops_per_s"], 3)
    return sections


def write_outputs(out_dir, results, predictions, pages):
    """library.json, library.md, the stored predictions and (when every row has one) the figure."""
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "library.json").write_text(json.dumps(results, indent=2) + "\n")
    (out_dir / "library.md").write_text(markdown_report(results))
    # Figure panels in table order; rows measured before predictions were stored have none.
    panels = {entry["name"]: predictions[entry["name"]] for entry in results["architectures"]
              if entry["name"] in predictions}
    np.savez_compressed(out_dir / "library_predictions.npz", **panels)
    missing = [entry["name"] for entry in results["architectures"] if entry["name"] not in panels]
    if missing and (out_dir / "library_predictions.png").is_file():
        # Redrawing would drop those networks from the comparison: keep the older figure.
        print(f"library_predictions.png not redrawn: no stored predictions of {', '.join(missing)} "
              "(rerun them to redraw it)", flush=True)
    else:
        figure = viz.show_segmentation(pages.test_pages[0], pages.test_y[0], panels, data.CLASS_NAMES,
                                       panel_size=3.5)
        figure.savefig(out_dir / "library_predictions.png", dpi=80, bbox_inches="tight")


def run(train_seconds, num_train_pages, num_test_pages, page_size, sliding_page_size, out_dir, only=None):
    """Train and score the networks; write the result files into ``out_dir``.

    Args:
        train_seconds: training budget per network (seconds after the compiling first batch).
        num_train_pages, num_test_pages, page_size: the synthetic pages (square, pixels).
        sliding_page_size: side of the page timed for sliding window against FCN.
        out_dir: folder of library.json, library.md and the figure.
        only: None (every network) or names from ``NETWORK_NAMES``: train only those and
            merge their rows into the existing ``out_dir/library.json``, which must have
            been written with the same budget.

    Returns:
        The results dict written to library.json.
    """
    budget = _budget(train_seconds, num_train_pages, num_test_pages, page_size)
    selected = list(NETWORK_NAMES) if only is None else [name for name in NETWORK_NAMES if name in only]
    previous = None if only is None else load_previous(out_dir, budget)
    keras.utils.set_random_seed(0)
    started = time.perf_counter()
    pages = make_pages(num_train_pages, num_test_pages, page_size, sliding_page_size)

    measured = {}   # in NETWORK_NAMES order: the patch CNN first
    for name in selected:
        if name == PATCH_CNN:
            measured[name] = measure_patch_cnn(pages, train_seconds)
        else:
            measured[name] = measure_fcn(name, pages, train_seconds, page_size)
    results = {"machine": {"python": platform.python_version(), "keras": keras.__version__,
                           "backend": keras.backend.backend(), "cpus": os.cpu_count()},
               "budget": budget, "architectures": [entry.row for entry in measured.values()]}
    if PATCH_CNN in measured and "fcn_upscaling" in measured:
        results.update(compare_sliding_with_fcn(measured[PATCH_CNN], measured["fcn_upscaling"], pages))

    predictions = {}
    if previous is not None:
        results = merge_results(previous, results)
        predictions = load_predictions(out_dir)
    predictions.update({name: entry.figure_prediction for name, entry in measured.items()})
    results["targets"] = compute_targets(results)
    results["total_s"] = round(time.perf_counter() - started, 1)
    write_outputs(out_dir, results, predictions, pages)
    return results


def load_previous(out_dir, budget):
    """The results of an earlier run in ``out_dir``, checked to have the same ``budget``.

    Raises:
        ValueError: if there is no ``library.json`` or it was measured with another budget
            (rows from different budgets cannot be compared).
    """
    path = out_dir / "library.json"
    if not path.is_file():
        raise ValueError(f"--only merges into an existing {path}, but there is none: run the full "
                         "benchmark (without --only) first")
    previous = json.loads(path.read_text())
    if previous.get("budget") != budget:
        raise ValueError(f"{path} was measured with budget {previous.get('budget')}, this run has {budget}: "
                         "rerun every network (without --only) or pass the same budget")
    return previous


def load_predictions(out_dir):
    """Predicted label maps stored by an earlier run ({name: (H, W) uint8}), or {} if none."""
    path = out_dir / "library_predictions.npz"
    if not path.is_file():
        return {}
    with np.load(path) as stored:
        return {name: stored[name] for name in stored.files}


def merge_results(previous, new):
    """``previous`` results with the rows and sections of ``new`` replacing theirs.

    Rows keep the order of ``NETWORK_NAMES``; sections that ``new`` did not measure
    (e.g. ``sliding_vs_fcn`` when the patch CNN was not rerun) stay as in ``previous``.
    """
    merged = {**previous, **{key: value for key, value in new.items() if key != "architectures"}}
    rows = {entry["name"]: entry for entry in previous.get("architectures", [])}
    rows.update({entry["name"]: entry for entry in new["architectures"]})
    order = {name: index for index, name in enumerate(NETWORK_NAMES)}
    merged["architectures"] = sorted(rows.values(), key=lambda entry: order.get(entry["name"], len(order)))
    return merged


# A target is met within the budget only if training stopped at the budget: the last batch
# may end after it, so the clock may pass it by at most one batch (plus this slack).
_BUDGET_SLACK_S = 1.0
UNET_BUDGET_S = 180
BOUNDARY_RIVALS = ("fcn_skip_upscaling", "fcn_transposed_skip", "unet")


def _trained_within(entry, seconds):
    """True if ``entry`` trained no longer than ``seconds`` (warm-up compilation excluded)."""
    seconds_per_batch = entry["train_s"] / max(entry["batches"] - 1, 1)
    return entry["train_s"] <= seconds + seconds_per_batch + _BUDGET_SLACK_S


def compute_targets(results):
    """The issue's targets: True (met), False (not met) or None (not measured)."""
    by_name = {entry["name"]: entry for entry in results["architectures"]}
    targets = {}
    comparison = results.get("sliding_vs_fcn")
    targets["fcn_at_least_25x_faster_than_sliding_stride_4"] = (
        None if comparison is None else comparison["ratio"] >= 25)
    unet = by_name.get("unet")
    if unet is None:
        targets.update({"unet_mean_iou_at_least_0.90": None, "unet_fgpa_at_least_0.95": None,
                        "unet_trained_within_180_s": None})
    else:
        quality = unet["mean_iou"] >= 0.90 and unet["fgpa"] >= 0.95
        targets["unet_mean_iou_at_least_0.90"] = unet["mean_iou"] >= 0.90
        targets["unet_fgpa_at_least_0.95"] = unet["fgpa"] >= 0.95
        # The target: both quality bars reached within 3 minutes of CPU training.
        targets["unet_trained_within_180_s"] = bool(quality and _trained_within(unet, UNET_BUDGET_S))
    metric = boundary_metric(results)
    targets["skip_and_unet_beat_upscaling_on_boundaries"] = None if metric is None else all(
        by_name[name][metric] > by_name["fcn_upscaling"][metric] for name in BOUNDARY_RIVALS)
    return targets


def boundary_metric(results):
    """The metric the boundary target compares: ``"boundary_iou"`` (Boundary IoU, Cheng et
    al. 2021) when every row it needs has it, else ``"boundary_acc"`` (rows measured before
    boundary IoU was added have only that), else None (a row is missing)."""
    by_name = {entry["name"]: entry for entry in results["architectures"]}
    needed = [by_name.get(name) for name in ("fcn_upscaling", *BOUNDARY_RIVALS)]
    for metric in ("boundary_iou", "boundary_acc"):
        if all(entry is not None and metric in entry for entry in needed):
            return metric
    return None


def _cell(entry, key):
    return entry.get(key, "-")


def markdown_report(results):
    """The results as markdown tables."""
    comparison = results.get("sliding_vs_fcn")
    lines = [
        "# Library benchmark", "",
        f"Keras {results['machine']['keras']} on {results['machine']['backend']}, "
        f"{results['machine']['cpus']} CPU cores; every network trained {results['budget']['train_seconds']} s "
        f"(after its compiling first batch) on {results['budget']['train_pages']} synthetic "
        f"{results['budget']['page_size']}px pages, scored on {results['budget']['test_pages']} held-out pages.", "",
        "## Sliding window against FCN", "",
    ]
    if comparison is None:
        lines += ["Not measured (rerun with the patch CNN and fcn_upscaling).", ""]
    else:
        lines += [
            "| page | stride | sliding window (s) | FCN (s) | ratio | sliding mean IoU | FCN mean IoU |",
            "|---|---|---|---|---|---|---|",
            f"| {comparison['page_size']}x{comparison['page_size']} | {comparison['stride']} | "
            f"{comparison['sliding_s']} | {comparison['fcn_s']} | {comparison['ratio']}x | "
            f"{comparison['sliding_iou']} | {comparison['fcn_iou']} |",
            "", "The lecture: 6 s against 0.9 s (6.7x).", "",
        ]
    lines += [
        "## Architectures", "",
        f"Boundary metrics on bands of {BOUNDARY_WIDTH} px around the region borders: boundary acc. "
        "(pixel accuracy in the band around the true borders) and boundary IoU (Cheng et al. 2021, "
        "`course_utils.metrics.mean_boundary_iou`).", "",
        "| network | params | train (s) | batches | mean IoU | Dice | FgPA | boundary acc. | boundary IoU "
        "| 1024x1024 inference (s) |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for entry in results["architectures"]:
        lines.append(f"| {entry['name']} | {entry['params']:,} | {entry['train_s']} | {entry['batches']} "
                     f"| {entry['mean_iou']} | {entry['dice']} | {entry['fgpa']} | {entry['boundary_acc']} "
                     f"| {_cell(entry, 'boundary_iou')} | {entry['infer_1024_s']} |")
    lines += ["", "How the U-Net's quality grows with the number of training batches, whatever the "
              "machine's load: `python -m benchmarks.unet_steps` ([unet_steps.md](unet_steps.md))."]
    if "fcn_flops_per_s" in results:
        lines += ["", f"FCN inference: {results['fcn_flops_per_s'] / 1e9:.1f} GFLOP/s; matmul peak "
                  f"{results['matmul_peak_flops_per_s'] / 1e9:.1f} GFLOP/s ({results['fcn_fraction_of_peak']:.0%})."]
    runs = [entry for entry in results["architectures"] if "measured_at" in entry]
    if runs:
        lines += ["", "## Runs", "",
                  "Other jobs on the machine slow training down: a 1-minute load average above the "
                  "core count means the networks got less than the whole CPU. CPU share: CPU seconds "
                  "the benchmark process used while training (warm-up included) per wall-clock second; "
                  f"{results['machine']['cpus']} would be every core.", "",
                  "| network | measured | load average before (1, 5, 15 min) | after | CPU share | recipe "
                  "| model options |",
                  "|---|---|---|---|---|---|---|"]
        for entry in runs:
            recipe = ", ".join(f"{key}={value}" for key, value in entry.get("recipe", {}).items())
            options = ", ".join(f"{key}={value}" for key, value in entry.get("model_options", {}).items())
            wall_s = entry["train_s"] + entry["warmup_s"]
            share = f"{entry['train_cpu_s'] / wall_s:.2f}" if "train_cpu_s" in entry and wall_s > 0 else "-"
            lines.append(f"| {entry['name']} | {entry['measured_at']} | {entry['load_avg_before']} "
                         f"| {entry['load_avg_after']} | {share} | {recipe} | {options or '-'} |")
    lines += ["", "## Targets", ""]
    labels = {True: "met", False: "NOT met", None: "not measured"}
    lines += [f"- {labels[met]}: {name}" for name, met in results["targets"].items()]
    metric = boundary_metric(results)
    if metric is not None:
        lines += ["", f"The boundary target compares {metric.replace('_', ' ')}"
                  + ("" if metric == "boundary_iou" else
                     " (some of the rows it needs predate boundary IoU; rerun them with --only)") + "."]
    lines += ["", "![predictions](library_predictions.png)", ""]
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m benchmarks.library", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="tiny budgets: checks the benchmark runs (about 2 min)")
    parser.add_argument("--train-seconds", type=float, default=180.0, help="training budget per network (default 180)")
    parser.add_argument("--out", type=Path, default=RESULTS_DIR, help="output folder (default benchmarks/results)")
    parser.add_argument("--only", metavar="NAME[,NAME]",
                        help="rerun only these networks and merge their rows into OUT/library.json; "
                             f"names: {', '.join(NETWORK_NAMES)}")
    args = parser.parse_args(argv)
    only = None
    if args.only is not None:
        only = [name.strip() for name in args.only.split(",") if name.strip()]
        unknown = [name for name in only if name not in NETWORK_NAMES]
        if unknown or not only:
            parser.error(f"--only: unknown network {', '.join(unknown) or '(none given)'}; "
                         f"choose from {', '.join(NETWORK_NAMES)}")
    if not args.train_seconds > 0:
        parser.error(f"--train-seconds must be > 0, got {args.train_seconds}")
    sizes = (3, 4, 2, 64, 128) if args.quick else (args.train_seconds, 48, 8, 256, 1024)
    if only is not None:
        try:  # check before training that there is a comparable run to merge into
            load_previous(args.out, _budget(*sizes[:4]))
        except ValueError as error:
            parser.error(str(error))
    results = run(*sizes, args.out, only=only)
    print((args.out / "library.md").read_text())
    return 0 if results else 1


if __name__ == "__main__":
    sys.exit(main())
