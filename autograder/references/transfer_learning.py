"""Trusted checks of ``transfer_learning``: one per grade cell.

The models come back as plain JSON (layer classes, names, configs with the ``trainable``
flags, the parameter count) and as their outputs on pages drawn here. The pretrained
encoder is checked against a NumPy forward pass with the course's shipped weights
(``course_utils/weights/page_encoder.weights.h5``, read here with h5py: a file of the
course, never one from the student); the full FCN with weights drawn here; the trained
network by the mean IoU of its predictions on held-out pages whose labels stay here.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np

from autograder.references import Call, Fail, Probe, Results
from autograder.references import numpy_reference as ref
from autograder.references.harness_data import activation, json_value, model_entry, pair_of, value

ENCODER = ("conv1", "conv2", "conv3")
ENCODER_PARAMS = 400 + 25640 + 51280
WEIGHTS_FILE = Path(__file__).resolve().parents[2] / "course_utils" / "weights" / "page_encoder.weights.h5"
MIOU_THRESHOLD = 0.35          # the notebook's quality threshold (Part 4)


# ----------------------------------------------------------------------------- references
@lru_cache(maxsize=1)
def pretrained_weights() -> dict[str, list[np.ndarray]]:
    """``{layer name: [kernel, bias]}`` of the course's page encoder file."""
    import h5py

    found = {}

    def visit(name, item):
        if isinstance(item, h5py.Group) and name.endswith("vars") and "name" in item.attrs:
            keys = sorted(item.keys(), key=int)
            if keys:
                found[str(item.attrs["name"])] = [np.asarray(item[k], dtype=np.float64) for k in keys]

    with h5py.File(WEIGHTS_FILE, "r") as handle:
        handle.visititems(visit)
    return found


def decoder_weight_shapes(classes):
    return [(1, 1, 80, 32), (32,), (3, 3, 32 + 80, 32), (32,), (3, 3, 32 + 40, 16), (16,),
            (3, 3, 16 + 40, 16), (16,), (1, 1, 16, classes), (classes,)]


def transfer_fcn_weight_shapes(classes):
    return ref.encoder_weight_shapes() + decoder_weight_shapes(classes)


def decoder_params(classes):
    return sum(int(np.prod(s)) for s in decoder_weight_shapes(classes))


def transfer_fcn_forward(page, weights):
    """``build_transfer_fcn`` in float64: the encoder, a 1x1 convolution to 32 channels, then
    three times (2x up-scaling, the encoder map of that size concatenated second, a 3x3
    'same' ReLU convolution), the 1x1 classifier and softmax."""
    w = [v.astype(np.float64) for v in weights]
    c1, c2, c3, pooled = ref.encoder_forward(page, w[:6])
    x = ref.relu(pooled @ w[6][0, 0] + w[7])
    rest = w[8:]
    for skip in (c3, c2, c1):
        up = ref.upscale(x, 2)
        x = ref.relu(ref.conv2d_same(np.concatenate([up, skip], axis=-1), rest[0], rest[1]))
        rest = rest[2:]
    return ref.softmax(x @ rest[0][0, 0] + rest[1])


def _layers(entry):
    return [layer for layer in entry["layers"] if layer.get("class") not in ("InputLayer",)]


def _trainable_by_name(entry):
    return {layer.get("config", {}).get("name"): bool(layer.get("config", {}).get("trainable", True))
            for layer in _layers(entry)}


def _check_encoder_layers(entry, what):
    core = _layers(entry)
    names = [layer.get("config", {}).get("name") for layer in core]
    missing = [n for n in ENCODER + ("pool1", "pool2", "pool3") if n not in names]
    if missing:
        raise Fail(f"{what}: no layer named {missing[0]!r}. The pretrained weights are loaded by layer name: "
                   "name the encoder's layers conv1, pool1, conv2, pool2, conv3, pool3.")
    convs = {layer["config"]["name"]: layer for layer in core if layer.get("config", {}).get("name") in ENCODER}
    settings = [(convs[n].get("class"), convs[n]["config"].get("filters"),
                 pair_of(convs[n]["config"].get("kernel_size")), convs[n]["config"].get("padding"),
                 activation(convs[n]["config"])) for n in ENCODER]
    if settings != [("Conv2D", 40, (3, 3), "same", "relu"), ("Conv2D", 40, (4, 4), "same", "relu"),
                    ("Conv2D", 80, (4, 4), "same", "relu")]:
        raise Fail(f"{what}: conv1, conv2, conv3 must be the patch CNN's convolutions: Conv2D 40 3x3, 40 4x4, "
                   "80 4x4, padding='same', ReLU.")


# ----------------------------------------------------------------------------- Part 1
def encoder_check(hidden):
    def make(rng) -> Probe:
        shape = (2, 40, 56, 1) if hidden else (1, 32, 32, 1)
        page = (rng.random(shape) > 0.6).astype("float32")
        calls = [Call("e", "build_encoder", [], {}, kind="keras_model", page="page")]

        def judge(r: Results) -> str:
            entry = model_entry(r, "e", "build_encoder()")
            _check_encoder_layers(entry, "build_encoder()")
            if entry.get("params") != ENCODER_PARAMS:
                raise Fail(f"The encoder (conv1 ... pool3, one input channel) has {ENCODER_PARAMS} parameters; "
                           f"yours has {entry.get('params')}.")
            frozen = _trainable_by_name(entry)
            if any(frozen[n] for n in ENCODER):
                raise Fail("conv1, conv2 and conv3 must be frozen (layer.trainable = False).")
            out = r.array("e", "The encoder's output on a page")
            want_shape = (shape[0], shape[1] // 8, shape[2] // 8, 80)
            if out.shape != want_shape:
                raise Fail(f"A page of shape {shape} should give features of shape {want_shape}"
                           + ("" if hidden else f", got {out.shape}") + ".")
            weights = pretrained_weights()
            want = ref.encoder_forward(page, [a for n in ENCODER for a in weights[n]])[-1]
            if not np.allclose(out, want, atol=1e-3):
                raise Fail("The encoder's features differ from those of the pretrained weights: load "
                           "PAGE_ENCODER_WEIGHTS into conv1, conv2 and conv3 (load_weights_by_name).")
            return f"Part 1 {'hidden' if hidden else 'visible'} checks passed."
        return Probe(calls, {"page": page}, judge, hidden=hidden)
    return make


# ----------------------------------------------------------------------------- Part 2
def fcn_visible(rng) -> Probe:
    calls = [Call("m", "build_transfer_fcn", [], {"num_classes": value(4)}, kind="keras_model", page="page")]

    def judge(r: Results) -> str:
        entry = model_entry(r, "m", "build_transfer_fcn(num_classes=4)")
        out = r.array("m", "The model's output on a (1, 64, 48, 1) page")
        if out.shape != (1, 64, 48, 4):
            raise Fail(f"A (1, 64, 48, 1) page should give (1, 64, 48, 4) probabilities, got {out.shape}.")
        if out.dtype.kind != "f" or not np.allclose(out.sum(-1), 1.0, atol=1e-5):
            raise Fail("The class probabilities of each pixel should sum to 1 (softmax).")
        want = ENCODER_PARAMS + decoder_params(4)
        if entry.get("params") != want:
            raise Fail(f"With 4 classes the network has {want} parameters ({ENCODER_PARAMS} in the encoder, "
                       f"{decoder_params(4)} in the decoder); yours has {entry.get('params')}.")
        frozen = _trainable_by_name(entry)
        if any(frozen.get(n, True) for n in ENCODER):
            raise Fail("conv1, conv2 and conv3 must be frozen in the FCN (trainable=False).")
        return "Part 2 visible checks passed."
    return Probe(calls, {"page": np.zeros((1, 64, 48, 1), dtype="float32")}, judge)


def fcn_hidden(rng) -> Probe:
    classes = int(rng.integers(2, 8))
    weights = ref.random_weights(rng, transfer_fcn_weight_shapes(classes))
    page = (rng.random((2, 40, 72, 1)) > 0.6).astype("float32")
    arrays = {f"w{i}": v for i, v in enumerate(weights)}
    arrays["page"] = page
    calls = [Call("m", "build_transfer_fcn", [], {"num_classes": value(classes)}, kind="keras_model",
                  weights=[f"w{i}" for i in range(len(weights))], page="page")]
    kinds = ["Conv2D", "MaxPooling2D", "Conv2D", "MaxPooling2D", "Conv2D", "MaxPooling2D", "Conv2D",
             "UpSampling2D", "Concatenate", "Conv2D", "UpSampling2D", "Concatenate", "Conv2D",
             "UpSampling2D", "Concatenate", "Conv2D", "Conv2D"]

    def judge(r: Results) -> str:
        entry = model_entry(r, "m", "build_transfer_fcn")
        _check_encoder_layers(entry, "build_transfer_fcn")
        core = [layer for layer in _layers(entry) if layer.get("class") != "Activation"]
        if [layer.get("class") for layer in core] != kinds:
            raise Fail("The layer kinds or their order differ from the network described in Part 2.")
        trainable = _trainable_by_name(entry)
        if any(trainable[n] for n in ENCODER):
            raise Fail("conv1, conv2 and conv3 must be frozen in the FCN (trainable=False).")
        decoder = [layer["config"]["name"] for layer in core[6:] if layer.get("class") == "Conv2D"]
        if not all(trainable[n] for n in decoder):
            raise Fail("The decoder's convolutions must stay trainable: only the encoder is frozen.")
        if entry.get("params") != ENCODER_PARAMS + decoder_params(classes):
            raise Fail("The number of parameters differs from the network described in Part 2.")
        out = r.array("m", "The model with the grader's weights")
        if out.shape != page.shape[:3] + (classes,):
            raise Fail("The model must accept non-square pages (multiples of 8), batches and num_classes.")
        if out.dtype.kind != "f" or not np.allclose(out.sum(-1), 1.0, atol=1e-5):
            raise Fail("The output must be softmax probabilities.")
        if not np.allclose(out, transfer_fcn_forward(page, weights), atol=1e-4):
            raise Fail("With the same weights, the outputs differ from the network of Part 2: check which encoder "
                       "map each concatenation takes (conv3, conv2, conv1: the un-pooled ones), the order "
                       "(up-sampled tensor first), and the filters and activations of the decoder.")
        return "Part 2 hidden checks passed."
    return Probe(calls, arrays, judge, hidden=True)


# ----------------------------------------------------------------------------- Part 3
def report_check(hidden):
    def make(rng) -> Probe:
        classes = int(rng.integers(2, 10)) if hidden else 4
        calls = [Call("p", "parameter_report", [], {"num_classes": value(classes)}, kind="json")]

        def judge(r: Results) -> str:
            got = json_value(r, "p", f"parameter_report(num_classes={classes})")
            if not isinstance(got, list) or len(got) != 3 or not isinstance(got[2], list):
                raise Fail("parameter_report should return a tuple (trainable, frozen, frozen_layers)"
                           + ("" if hidden else f", got {got!r}") + ".")
            trainable, frozen, frozen_layers = got
            want_trainable = decoder_params(classes)
            if frozen != ENCODER_PARAMS or trainable != want_trainable:
                detail = "" if hidden else (f" (expected {want_trainable} trainable and {ENCODER_PARAMS} frozen, "
                                            f"got {trainable!r} and {frozen!r})")
                raise Fail(f"parameter_report(num_classes={classes}): wrong parameter counts{detail}. Count the "
                           "parameters of model.trainable_weights and model.non_trainable_weights.")
            if frozen_layers != list(ENCODER):
                raise Fail(f"parameter_report(num_classes={classes}): frozen_layers should list the names of "
                           "the layers that have weights and are frozen, in the model's order"
                           + ("" if hidden else f"; got {frozen_layers!r}") + ".")
            return f"Part 3 {'hidden' if hidden else 'visible'} checks passed."
        return Probe(calls, {}, judge, hidden=hidden)
    return make


# ----------------------------------------------------------------------------- Part 4
def _synthetic_pages(count, seed, size):
    # The course's page generator (public code of the course, not the student's).
    from course_utils.data import make_page_dataset

    return make_page_dataset(count, seed=seed, height=size, width=size)


def fine_tune_check(hidden):
    """The visible test cell trains ``tuned = fine_tune(...)`` once, with the notebook's
    TRAIN_SECONDS, and defines ``fine_tuned_model()`` returning it; the probe reads that
    model's layers (trainable flags) and its output on pages drawn here."""
    def make(rng) -> Probe:
        seed = int(rng.integers(1000, 100_000))
        test_images, test_labels = _synthetic_pages(8, seed, 128)
        calls = [Call("t", "fine_tuned_model", [], {}, kind="keras_model", page="test_images")]

        def judge(r: Results) -> str:
            if r.meta.get("t", {}).get("status") == "missing":
                raise Fail("No fine-tuned model: the visible test of Part 4 did not get to train one "
                           "(did fine_tune raise an error?).")
            entry = model_entry(r, "t", "The model fine_tune returned")
            trainable = _trainable_by_name(entry)
            if any(n not in trainable for n in ENCODER):
                raise Fail("fine_tune should return the FCN of build_transfer_fcn (layers conv1, conv2, conv3).")
            if trainable["conv1"] or trainable["conv2"]:
                raise Fail("After fine-tuning conv1 and conv2 should still be frozen: unfreeze only the top "
                           "block of the encoder (conv3).")
            if not trainable["conv3"]:
                raise Fail("After fine-tuning conv3 (the top block of the encoder) should be trainable.")
            out = r.array("t", "The fine-tuned model's output on held-out pages")
            if out.shape != test_images.shape[:3] + (4,):
                raise Fail(f"The fine-tuned model should give (8, 128, 128, 4) probabilities on 8 held-out pages, "
                           f"got {out.shape}.")
            score = ref.mean_iou(test_labels, out.argmax(-1), 4)
            if not score >= MIOU_THRESHOLD:
                raise Fail(f"The mean IoU on {'other ' if hidden else ''}held-out pages is {score:.3f}, below the "
                           f"threshold {MIOU_THRESHOLD}: train both phases (decoder on the frozen encoder, then "
                           "fine-tuning) for the given seconds.")
            return f"Part 4 {'hidden' if hidden else 'visible'} checks passed (mean IoU {score:.2f})."
        return Probe(calls, {"test_images": test_images}, judge, hidden=hidden)
    return make


CHECKS = {
    "test_encoder_visible": encoder_check(False),
    "test_encoder_hidden": encoder_check(True),
    "test_transfer_fcn_visible": fcn_visible,
    "test_transfer_fcn_hidden": fcn_hidden,
    "test_parameter_report_visible": report_check(False),
    "test_parameter_report_hidden": report_check(True),
    "test_fine_tune_visible": fine_tune_check(False),
    "test_fine_tune_hidden": fine_tune_check(True),
}
