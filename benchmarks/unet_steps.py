"""U-Net quality against the number of training batches, independent of machine load.

    python -m benchmarks.unet_steps                 # 336 batches, scored every 48 (about 5 min on 2 idle cores)
    python -m benchmarks.unet_steps --batches 96 --every 24

The library benchmark gives every network the same wall-clock budget, so on a machine
shared with other jobs a network gets fewer batches than on an idle one. This script
trains the library benchmark's U-Net (same model, recipe and synthetic pages) for a fixed
number of batches, scores it on the held-out pages every ``--every`` batches, and records
the CPU seconds per batch. Together they tell how many batches the targets need and how
long those take on an idle machine: batches x CPU seconds per batch / cores used.

Writes ``benchmarks/results/unet_steps.json`` and ``unet_steps.md``.
"""

from __future__ import annotations

import argparse
import functools
import json
import sys
import time
from pathlib import Path

import keras

from benchmarks import library
from course_utils import data, models, pipeline, sliding_window


def run(num_batches, every, num_train_pages, num_test_pages, page_size, out_dir):
    """Train the benchmark's U-Net for ``num_batches`` batches (rounded up to whole epochs
    of the training pages), scoring it after every ``every`` batches (rounded likewise).

    Returns:
        The results dict written to unet_steps.json.
    """
    keras.utils.set_random_seed(0)
    train_x, train_y = data.make_page_dataset(num_train_pages, seed=0, height=page_size, width=page_size)
    test_x, test_y = data.make_page_dataset(num_test_pages, seed=10_000, height=page_size, width=page_size)
    _, overrides, options = library.ARCHITECTURES["unet"]
    recipe = {**library.DEFAULT_RECIPE, **overrides}
    model = models.build_unet(library.NUM_CLASSES, output="logits", **options)
    model.compile(optimizer=keras.optimizers.Adam(recipe["learning_rate"]),
                  loss=library._loss(recipe["dice_weight"], recipe["from_logits"]), jit_compile=False)
    crop = min(recipe["crop"], page_size)
    augment = [functools.partial(pipeline.random_crop, height=crop, width=crop), pipeline.random_flip]
    crops = pipeline.SegmentationSequence(train_x, train_y, batch_size=recipe["batch_size"], augment=augment, seed=0)
    batches_per_epoch = len(crops)
    epochs_per_score = max(1, round(every / batches_per_epoch))

    def predict(page):
        return sliding_window.predict_fcn(model, page, multiple=16)

    # The first epoch traces and compiles the model: not counted as training time.
    load_before = library._load_average()
    started = time.perf_counter()
    model.fit(crops, epochs=1, verbose=0)
    warmup_s = time.perf_counter() - started
    epoch, wall_s, cpu_s, curve = 1, 0.0, 0.0, []
    while epoch * batches_per_epoch < num_batches:
        wall_before, cpu_before = time.perf_counter(), time.process_time()
        model.fit(crops, initial_epoch=epoch, epochs=epoch + epochs_per_score, verbose=0)
        wall_s += time.perf_counter() - wall_before
        cpu_s += time.process_time() - cpu_before
        epoch += epochs_per_score
        timed_batches = (epoch - 1) * batches_per_epoch
        scores = library.evaluate(predict, test_x[..., 0], test_y)
        curve.append({"batches": epoch * batches_per_epoch, "wall_s": round(wall_s, 1),
                      "cpu_s_per_batch": round(cpu_s / timed_batches, 3), **scores})
        print(json.dumps(curve[-1]), flush=True)
    results = {
        "model_options": dict(options), "recipe": {**recipe, "crop": crop}, "params": model.count_params(),
        "budget": {"train_pages": num_train_pages, "test_pages": num_test_pages, "page_size": page_size},
        "warmup_s": round(warmup_s, 1), "measured_at": library._now_utc(),
        "load_avg_before": load_before, "load_avg_after": library._load_average(), "curve": curve,
        "first_batches_meeting_targets": next(
            (row["batches"] for row in curve if row["mean_iou"] >= 0.90 and row["fgpa"] >= 0.95), None),
    }
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "unet_steps.json").write_text(json.dumps(results, indent=2) + "\n")
    (out_dir / "unet_steps.md").write_text(markdown_report(results))
    return results


def markdown_report(results):
    """The curve as a markdown table."""
    options = ", ".join(f"{key}={value}" for key, value in results["model_options"].items())
    recipe = ", ".join(f"{key}={value}" for key, value in results["recipe"].items())
    lines = [
        "# U-Net quality against training batches", "",
        f"`build_unet({options})`, {results['params']:,} parameters; recipe {recipe}; "
        f"{results['budget']['train_pages']} training pages of {results['budget']['page_size']}px, "
        f"scored on {results['budget']['test_pages']} held-out pages. Measured {results['measured_at']}, "
        f"load average before {results['load_avg_before']}, after {results['load_avg_after']} "
        "(wall times depend on the load; batches and CPU seconds much less).", "",
        "| batches | wall (s) | CPU s per batch | mean IoU | Dice | FgPA | boundary acc. | boundary IoU |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for row in results["curve"]:
        lines.append(f"| {row['batches']} | {row['wall_s']} | {row['cpu_s_per_batch']} | {row['mean_iou']} "
                     f"| {row['dice']} | {row['fgpa']} | {row['boundary_acc']} | {row['boundary_iou']} |")
    first = results["first_batches_meeting_targets"]
    lines += ["", "Targets mean IoU >= 0.90 and FgPA >= 0.95: "
              + (f"first met after {first} batches." if first else "not met within these batches."), ""]
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m benchmarks.unet_steps", description=__doc__.split("\n\n")[0])
    parser.add_argument("--batches", type=int, default=336, help="training batches (default 336)")
    parser.add_argument("--every", type=int, default=48, help="score after every this many batches (default 48)")
    parser.add_argument("--out", type=Path, default=library.RESULTS_DIR,
                        help="output folder (default benchmarks/results)")
    args = parser.parse_args(argv)
    if args.batches < 1 or args.every < 1:
        parser.error(f"--batches and --every must be >= 1, got {args.batches} and {args.every}")
    run(args.batches, args.every, 48, 8, 256, args.out)
    print((args.out / "unet_steps.md").read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
