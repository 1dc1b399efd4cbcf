"""Benchmark: the pretrained page encoder against training from scratch, few labels.

    python -m benchmarks.transfer                    # 2 labelled pages, 40 s per network, 3 seeds
    python -m benchmarks.transfer --labelled 4 --budget 60 --repeats 2
    python -m benchmarks.transfer --quick            # smoke run (tiny budget, 1 seed)

Both networks are ``transfer.build_page_fcn`` (same architecture, 131 k parameters) and
train on random 64 x 64 crops of the same ``--labelled`` synthetic pages for the same
wall-clock budget:

- **pretrained**: encoder from ``course_utils/weights/page_encoder.weights.h5``; half
  the budget trains the decoder with the encoder frozen, half fine-tunes everything with
  a 3x smaller learning rate (``transfer.fine_tune_in_two_phases``);
- **scratch**: random weights, the whole budget at the decoder's learning rate.

Score: mean IoU over the 4 classes on 8 held-out 256 x 256 pages (other seeds), the
mean over ``--repeats`` runs with different seeds (which pages are labelled, the
initialization and the crops). Writes the key ``transfer`` of
``benchmarks/results/beyond.json`` (read-modify-write: other keys are kept). Budgets are
wall-clock: on a busy machine both networks train fewer batches; the load average is
recorded.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import sys
from functools import partial
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras
import numpy as np

from course_utils import data, metrics, pipeline, transfer

RESULTS = Path(__file__).resolve().parent / "results" / "beyond.json"
NUM_CLASSES = len(data.CLASS_NAMES)


def heldout_miou(model, pages, labels):
    """Mean IoU (over classes present) of ``model``'s argmax on ``pages``."""
    predicted = keras.ops.convert_to_numpy(model.predict(pages, batch_size=4, verbose=0)).argmax(-1)
    return float(metrics.mean_iou(labels, predicted, NUM_CLASSES))


def run_once(seed, labelled, budget_s, test_pages, test_labels):
    """One comparison; returns its row (mIoU and batches of both networks)."""
    pages, labels = data.make_page_dataset(labelled, seed=500 + seed)
    crops = pipeline.SegmentationSequence(
        pages, labels, batch_size=8, seed=seed,
        augment=[partial(pipeline.random_crop, height=64, width=64)])
    keras.utils.set_random_seed(seed)
    pretrained = transfer.build_page_fcn(NUM_CLASSES, encoder_weights="pretrained")
    phases = transfer.fine_tune_in_two_phases(pretrained, crops, budget_s)
    keras.utils.set_random_seed(seed)
    scratch = transfer.build_page_fcn(NUM_CLASSES, encoder_weights=None)
    scratch_budget = transfer.train_for(scratch, crops, 3e-3, budget_s)
    return {
        "seed": seed,
        "pretrained_miou": round(heldout_miou(pretrained, test_pages, test_labels), 4),
        "scratch_miou": round(heldout_miou(scratch, test_pages, test_labels), 4),
        "pretrained_batches": phases["head"].batches + phases["fine_tune"].batches,
        "scratch_batches": scratch_budget.batches,
    }


def run(labelled=2, budget_s=40.0, repeats=3, out=RESULTS, progress=print):
    """Run the comparison ``repeats`` times and merge the ``transfer`` key into ``out``."""
    load_before = os.getloadavg()[0]
    test_pages, test_labels = data.make_page_dataset(8, seed=900)
    rows = []
    for seed in range(repeats):
        rows.append(run_once(seed, labelled, budget_s, test_pages, test_labels))
        progress(json.dumps(rows[-1]))
    result = {
        "pretrained_miou": round(float(np.mean([r["pretrained_miou"] for r in rows])), 4),
        "scratch_miou": round(float(np.mean([r["scratch_miou"] for r in rows])), 4),
        "labelled_images": labelled,
        "budget_s": budget_s,
        "repeats": repeats,
        "pretrained_wins": sum(r["pretrained_miou"] > r["scratch_miou"] for r in rows),
        "runs": rows,
        "setup": ("build_page_fcn (130,732 parameters) on random 64x64 crops (batch 8) of the "
                  "labelled 256x256 synthetic pages; pretrained: encoder from "
                  "course_utils/weights/page_encoder.weights.h5, half the budget decoder only "
                  "(Adam 3e-3), half fine-tuning all (Adam 1e-3); scratch: random init, the "
                  "whole budget at Adam 3e-3; mIoU over 4 classes on 8 held-out 256x256 pages"),
        "pretraining": json.loads(transfer.PAGE_ENCODER_WEIGHTS.with_name("page_encoder.json").read_text()),
        "command": "python -m benchmarks.transfer " + " ".join(sys.argv[1:]),
        "measured_at": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPU cores",
        "load_average_before_after": [round(load_before, 2), round(os.getloadavg()[0], 2)],
        "note": ("Wall-clock budgets on a shared machine loaded by other jobs: both networks train "
                 "fewer batches than on an idle one (see *_batches); compare within a run."),
        "keras": keras.__version__, "backend": keras.backend.backend(),
    }
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    # read-modify-write: other benchmarks write other keys of the same file
    merged = json.loads(out.read_text()) if out.is_file() else {}
    merged["transfer"] = result
    out.write_text(json.dumps(merged, indent=2) + "\n")
    return result


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m benchmarks.transfer",
                                     description="Pretrained page encoder against from scratch, few labels.")
    parser.add_argument("--labelled", type=int, default=2, help="labelled training pages (default 2)")
    parser.add_argument("--budget", type=float, default=40.0, help="seconds of training per network (default 40)")
    parser.add_argument("--repeats", type=int, default=3, help="runs with different seeds (default 3)")
    parser.add_argument("--quick", action="store_true", help="smoke run: 4 s budget, 1 seed")
    parser.add_argument("--out", type=Path, default=RESULTS, help="JSON file to update (default: %(default)s)")
    args = parser.parse_args(argv)
    if args.labelled < 1 or args.budget <= 0 or args.repeats < 1:
        parser.error("--labelled and --repeats must be >= 1 and --budget > 0")
    budget, repeats = (4.0, 1) if args.quick else (args.budget, args.repeats)
    result = run(args.labelled, budget, repeats, args.out)
    print(f"pretrained mIoU {result['pretrained_miou']:.3f} | scratch mIoU {result['scratch_miou']:.3f} | "
          f"{args.labelled} labelled pages, {budget:g} s each, {repeats} seeds -> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
