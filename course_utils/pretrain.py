"""Pretrain the page encoder shipped with the course (reproducible, seeded).

    python -m course_utils.pretrain                 # rewrites course_utils/weights/page_encoder.*
    python -m course_utils.pretrain --output /tmp/my_encoder.weights.h5 --epochs 2

The "pretraining task" is the lecture's sliding-window patch classifier
(``models.build_patch_cnn``): classify the centre pixel of 32 x 32 patches of synthetic
pages. Patch labels are cheap (one class per patch), so this stands in for ImageNet
classification. Only the encoder (``conv1``-``conv3``; the dense head fits 32 x 32
patches only) is saved, in Keras' ``.weights.h5`` format (about 0.3 MB), with a JSON
file beside it that records how it was made and the held-out patch accuracy.

Reproducible: fixed seeds for the pages, the patches and Keras; a fixed number of epochs
(not a time budget) and, on TensorFlow, deterministic ops. Rerunning gives the same
weights on the same machine and library versions (floating-point summation order can
differ between CPUs).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from pathlib import Path

DEFAULTS = {"seed": 0, "num_pages": 16, "num_patches": 12000, "epochs": 3, "batch_size": 64,
            "patch_size": 32, "learning_rate": 1e-3}


def pretrain_page_encoder(seed=0, num_pages=16, num_patches=12000, epochs=3, batch_size=64,
                          patch_size=32, learning_rate=1e-3, verbose=0):
    """Train the patch CNN on patches of synthetic pages; return ``(patch_cnn, report)``.

    Args:
        seed: seeds the pages (``make_page_dataset(num_pages, seed)``), the patches and
            Keras' initialization and shuffling.
        num_pages: 256 x 256 training pages.
        num_patches: class-balanced training patches drawn from them.
        epochs, batch_size, learning_rate: of ``fit`` with Adam.
        patch_size: side of the patches (32, as in the lecture).

    Returns:
        The trained ``models.build_patch_cnn`` model and a JSON-able dict: the settings,
        ``heldout_patch_accuracy`` (on 2000 patches of 4 pages with another seed) and
        ``train_s``.
    """
    import keras
    import numpy as np

    from course_utils import data, models, sliding_window

    keras.utils.set_random_seed(seed)
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        tf.config.experimental.enable_op_determinism()
    pages, labels = data.make_page_dataset(num_pages, seed=seed)
    patches, classes = sliding_window.patch_training_set(pages, labels, patch_size, num_patches,
                                                         seed=seed + 1)
    patch_cnn = models.build_patch_cnn(patch_size=patch_size, num_classes=len(data.CLASS_NAMES))
    patch_cnn.compile(optimizer=keras.optimizers.Adam(learning_rate),
                      loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    start = time.perf_counter()
    patch_cnn.fit(patches, classes, batch_size=batch_size, epochs=epochs, shuffle=True,
                  verbose=verbose)
    train_s = time.perf_counter() - start
    held_pages, held_labels = data.make_page_dataset(4, seed=seed + 1000)
    held, held_classes = sliding_window.patch_training_set(held_pages, held_labels, patch_size,
                                                           2000, seed=seed + 2)
    predicted = np.argmax(patch_cnn.predict(held, batch_size=256, verbose=0), axis=-1)
    report = {
        "task": "patch classification (class of the centre pixel) on synthetic pages",
        "seed": seed, "num_pages": num_pages, "num_patches": num_patches, "epochs": epochs,
        "batch_size": batch_size, "patch_size": patch_size, "learning_rate": learning_rate,
        "classes": list(data.CLASS_NAMES),
        "heldout_patch_accuracy": round(float(np.mean(predicted == held_classes)), 4),
        "train_s": round(train_s, 1),
        "keras": keras.__version__, "backend": keras.backend.backend(),
    }
    return patch_cnn, report


def save_page_encoder(patch_cnn, path):
    """Save the encoder layers (conv1..pool3) of a patch CNN as a Keras ``.weights.h5``.

    The saved model is ``transfer.page_encoder`` on a 1-channel page, with the patch
    CNN's weights copied in; ``transfer.build_page_fcn(encoder_weights=path)`` reads it.
    """
    import keras

    from course_utils import transfer

    page = keras.Input((None, None, patch_cnn.input_shape[-1]), name="page")
    encoder = keras.Model(page, transfer.page_encoder(page)[-1], name="page_encoder")
    for name in transfer.PAGE_ENCODER_LAYERS:
        encoder.get_layer(name).set_weights(patch_cnn.get_layer(name).get_weights())
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    encoder.save_weights(str(path))
    return path


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m course_utils.pretrain",
        description="Pretrain the course's page encoder (patch classifier on synthetic pages).")
    from course_utils.transfer import PAGE_ENCODER_WEIGHTS

    parser.add_argument("--output", type=Path, default=PAGE_ENCODER_WEIGHTS,
                        help="weights file to write, must end in .weights.h5 (default: %(default)s)")
    for name, value in DEFAULTS.items():
        parser.add_argument(f"--{name.replace('_', '-')}", type=type(value), default=value,
                            help=f"default: {value}")
    args = parser.parse_args(argv)
    if not str(args.output).endswith(".weights.h5"):
        parser.error(f"--output must end in .weights.h5 (Keras' weights format), got {args.output}")
    settings = {name: getattr(args, name) for name in DEFAULTS}
    patch_cnn, report = pretrain_page_encoder(**settings, verbose=2)
    path = save_page_encoder(patch_cnn, args.output)
    report["weights_file"] = path.name
    report["weights_bytes"] = path.stat().st_size
    report["sha256"] = hashlib.sha256(path.read_bytes()).hexdigest()
    report["command"] = "python -m course_utils.pretrain " + " ".join(argv if argv is not None else sys.argv[1:])
    path.with_name(path.name.replace(".weights.h5", ".json")).write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
