"""The checks of the lecture slide's FCN, ``build_fcn_upscaling``, graded by two assignments
(fcn_basics, sliding_window_vs_fcn): conv 40 3x3 - pool - conv 40 4x4 - pool - conv 80 4x4 -
pool (ReLU, 'same', 2x2) - 8x8 nearest up-scaling - 1x1 classifier - softmax."""

from __future__ import annotations

import numpy as np

from autograder.references import Call, Fail, Probe, Results
from autograder.references import numpy_reference as ref
from autograder.references.harness_data import activation, model_entry, pair_of, value

SLIDE_LAYERS = ["Conv2D", "MaxPooling2D", "Conv2D", "MaxPooling2D", "Conv2D", "MaxPooling2D", "UpSampling2D", "Conv2D"]
ENCODER_SETTINGS = [(40, (3, 3), "same"), (40, (4, 4), "same"), (80, (4, 4), "same")]


def fcn_visible_probe(page: np.ndarray, part: int, num_classes: int = 4) -> Probe:
    """A keras.Model whose output on ``page`` (1, H, W, 1) has shape (1, H, W, num_classes)
    and sums to 1 per pixel (softmax)."""
    arrays = {"page": np.asarray(page, dtype="float32")}
    calls = [Call("m", "build_fcn_upscaling", [], {"num_classes": value(num_classes)}, kind="keras_model",
                  page="page")]
    page_shape = tuple(arrays["page"].shape)
    want = page_shape[:3] + (num_classes,)

    def judge(r: Results) -> str:
        model_entry(r, "m", f"build_fcn_upscaling(num_classes={num_classes})")
        out = r.array("m", f"The model's output on a {page_shape} page")
        if out.shape != want:
            raise Fail(f"A {page_shape} page should give {want} probabilities, got {out.shape}. "
                       "Three 2x2 poolings divide by 8, so the up-scaling must multiply by 8.")
        if out.dtype.kind != "f" or not np.allclose(out.sum(axis=-1), 1.0, atol=1e-5):
            raise Fail("The class probabilities of each pixel should sum to 1 (softmax).")
        return f"Part {part} visible checks passed."
    return Probe(calls, arrays, judge)


def _check_every_setting(core: list[dict], num_classes: int) -> None:
    """Activations, classifier, poolings and up-scaling as on the slide (the layer kinds and
    the encoder's filters already checked)."""
    convs = [layer.get("config", {}) for layer in core if layer.get("class") == "Conv2D"]
    if any(activation(c) != "relu" for c in convs[:3]):
        raise Fail("The encoder's convolutions should use ReLU.")
    if (convs[3].get("filters"), pair_of(convs[3].get("kernel_size"))) != (num_classes, (1, 1)):
        raise Fail("The classifier should be a 1x1 convolution with num_classes filters.")
    pools = [layer.get("config", {}) for layer in core if layer.get("class") == "MaxPooling2D"]
    if any(pair_of(p.get("pool_size")) != (2, 2) or pair_of(p.get("strides")) != (2, 2) for p in pools):
        raise Fail("The poolings should be 2x2 with stride 2.")
    up = core[6].get("config", {})
    if pair_of(up.get("size")) != (8, 8) or up.get("interpolation") != "nearest":
        raise Fail("The up-scaling should be 8x8 with nearest interpolation.")


def fcn_hidden_probe(page: np.ndarray, weights: list[np.ndarray], num_classes: int, part: int,
                     num_channels: int | None = None, every_setting: bool = False) -> Probe:
    """The model built with ``num_classes`` (and ``num_channels`` when given), judged by its
    layer kinds, the encoder's filters, its parameter count and its outputs on ``page``
    (B, H, W, C) with the grader's ``weights`` against ``numpy_reference.fcn_forward``.
    ``every_setting``: also each layer's activation, pooling and up-scaling settings (the
    output comparison alone accepts e.g. ReLU written as separate Activation layers)."""
    arrays = {f"w{i}": w for i, w in enumerate(weights)}
    arrays["page"] = page
    kwargs = {"num_classes": value(num_classes)}
    if num_channels is not None:
        kwargs["num_channels"] = value(num_channels)
    calls = [Call("model", "build_fcn_upscaling", [], kwargs, kind="keras_model",
                  weights=[f"w{i}" for i in range(len(weights))], page="page")]
    accepts = "any size (multiples of 8), any batch size and num_channels" if num_channels else \
        "any size (multiples of 8) and keep their size"

    def judge(r: Results) -> str:
        entry = model_entry(r, "model", "build_fcn_upscaling")
        core = [layer for layer in entry["layers"] if layer.get("class") not in ("InputLayer", "Activation")]
        if [layer.get("class") for layer in core] != SLIDE_LAYERS:
            raise Fail("The layers are not those of the slide (kinds or order).")
        convs = [layer.get("config", {}) for layer in core if layer.get("class") == "Conv2D"]
        if [(c.get("filters"), pair_of(c.get("kernel_size")), c.get("padding")) for c in convs[:3]] != ENCODER_SETTINGS:
            raise Fail("Filters, kernel sizes or padding of the encoder differ from the slide.")
        if every_setting:
            _check_every_setting(core, num_classes)
        if entry.get("params") != ref.fcn_params(num_classes, num_channels or 1):
            raise Fail("The number of parameters differs from the slide's network.")
        out = r.array("model", "The model with the grader's weights")
        if out.shape != page.shape[:3] + (num_classes,):
            raise Fail(f"The model must accept pages of {accepts}.")
        if every_setting and (out.dtype.kind != "f" or not np.allclose(out.sum(-1), 1.0, atol=1e-5)):
            raise Fail("The output must be softmax probabilities.")
        if out.dtype.kind != "f" or not np.allclose(out, ref.fcn_forward(page, weights), atol=1e-4):
            raise Fail("With the same weights, the model's outputs differ from the slide's network "
                       "(check the activations, the pooling, the up-scaling and the final softmax).")
        return f"Part {part} hidden checks passed."
    return Probe(calls, arrays, judge, hidden=True)
