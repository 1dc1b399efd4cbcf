"""Self-checks of the FCN models (Keras): the slide's FCN with up-scaling and the two skip
FCNs. Each check looks for the first difference from the exercise's network.

Assignments ``fcn_basics``, ``sliding_window_vs_fcn`` and ``skip_fcns``.
"""

import numpy as np

from .engine import (
    _accepts,
    _Raised,
    _run_model_check,
    _to_numpy,
)

__all__ = ["check_fcn_upscaling", "check_fcn_skip_upscaling", "check_fcn_transposed_skip"]


def _applies_softmax(layer):
    """Whether a Keras layer applies a softmax (a Softmax layer, or activation="softmax")."""
    import keras

    return isinstance(layer, keras.layers.Softmax) or getattr(getattr(layer, "activation", None),
                                                               "__name__", "") == "softmax"


def _fcn_model_check(build_fcn_upscaling):
    """Runs the model checks in order; returns (failing case text, mistake, output text)."""
    import keras

    try:
        model = build_fcn_upscaling(3)
    except NotImplementedError:
        raise
    except Exception as error:
        return "building the model with num_classes=3", "build_fails", str(_Raised(error))
    if not isinstance(model, keras.Model):
        return ("build_fcn_upscaling(3)", "not_a_model",
                f"an object of type {type(model).__name__}")
    input_shape = getattr(model, "input_shape", None)
    if isinstance(input_shape, tuple) and any(size is not None for size in input_shape[1:3]):
        # Keras may still run other sizes (with a warning), but the model is not an FCN.
        return "the model's input shape", "fixed_input_size", f"input shape {input_shape}"
    try:
        output = _to_numpy(model(np.zeros((1, 64, 48, 1), dtype="float32")))
    except Exception as error:
        return ("a (1, 64, 48, 1) page", "fixed_input_size", str(_Raised(error)))
    if output.shape[:3] != (1, 64, 48) and output.ndim == 4 and output.shape[1] * 48 == output.shape[2] * 64:
        return "a (1, 64, 48, 1) page", "wrong_upscaling", f"shape {output.shape}"
    if output.shape != (1, 64, 48, 3):
        return "a (1, 64, 48, 1) page, 3 classes", "wrong_output_shape", f"shape {output.shape}"
    if not np.allclose(output.sum(-1), 1.0, atol=1e-4):
        return "the sum of the class probabilities per pixel", "missing_softmax", (
            f"sums from {output.sum(-1).min():.3g} to {output.sum(-1).max():.3g}")
    softmaxes = [layer.name for layer in model.layers if _applies_softmax(layer)]
    if len(softmaxes) > 1:
        # a second softmax still sums to 1: only the layers show it
        return "the layers that apply a softmax", "softmax_twice", f"{len(softmaxes)} layers: {softmaxes}"
    convolutions = [layer for layer in model.layers if isinstance(layer, keras.layers.Conv2D)]
    kernels = [tuple(layer.kernel_size) for layer in convolutions]
    if len(kernels) >= 3 and kernels[:3] == [(3, 3)] * 3:
        return "the encoder's kernel sizes", "all_3x3", f"kernels {kernels}"
    filters = [layer.filters for layer in convolutions]
    if filters[:3] != [40, 40, 80]:
        return "the encoder's filters", "wrong_filters", f"filters {filters}"
    upsampling = [layer for layer in model.layers if isinstance(layer, keras.layers.UpSampling2D)]
    if upsampling and getattr(upsampling[0], "interpolation", "nearest") != "nearest":
        return "the up-sampling's interpolation", "not_nearest", upsampling[0].interpolation
    last_activation = getattr(convolutions[-1], "activation", None) if convolutions else None
    if last_activation is not None and getattr(last_activation, "__name__", "") == "relu":
        return "the 1x1 convolution's activation", "relu_before_softmax", "relu"
    reference_params = (9 * 40 + 40) + (16 * 40 * 40 + 40) + (16 * 40 * 80 + 80) + (80 * 3 + 3)
    if model.count_params() != reference_params:
        return "the number of parameters", "wrong_parameter_count", f"{model.count_params()} parameters"
    if _accepts(build_fcn_upscaling, "num_channels"):
        try:
            output = _to_numpy(build_fcn_upscaling(2, num_channels=3)(
                np.zeros((1, 16, 24, 3), dtype="float32")))
        except Exception as error:
            return ("num_channels=3 with a (1, 16, 24, 3) page", "fixed_input_size",
                    str(_Raised(error)))
        if output.shape != (1, 16, 24, 2):
            return ("num_channels=3 with a (1, 16, 24, 3) page", "wrong_output_shape",
                    f"shape {output.shape}")
    return None


_FCN_MISTAKES = {
    "build_fails": ("building the model fails", (
        "Read the error: which line of your function raises it?",
        "Build the layers in the order of the table with keras.Sequential([...]) or the "
        "functional API, starting with keras.Input(shape=(None, None, 1)).",
    )),
    "not_a_model": ("the function does not return a keras.Model", (
        "Return the model itself (keras.Sequential(...) or keras.Model(inputs, outputs)), "
        "not a layer, a list or None.",
    )),
    "fixed_input_size": ("the model refuses a 64x48 page", (
        "An FCN takes pages of any size: check the shape of your keras.Input.",
        "Use keras.Input(shape=(None, None, 1)): None lets height and width vary.",
    )),
    "wrong_upscaling": ("the up-scaling factor does not undo the three poolings", (
        "Compare the output height with the input height.",
        "Three 2x2 poolings divide by 2 * 2 * 2: the up-scaling must multiply by the same.",
    )),
    "wrong_output_shape": ("the output shape is not (batch, height, width, num_classes)", (
        "The last convolution needs one filter per class.",
        "Conv2D(num_classes, (1, 1)) after the up-scaling, then the softmax.",
    )),
    "missing_softmax": ("the class probabilities do not sum to 1 (no softmax)", (
        "The model must end with probabilities, not logits.",
        "Add keras.layers.Activation('softmax') after the 1x1 convolution.",
    )),
    "softmax_twice": ("softmax applied twice", (
        "Count the layers that apply a softmax: an Activation('softmax') layer, and a convolution "
        "with activation='softmax'.",
        "Apply the softmax once, after the 1x1 convolution: a second one still sums to 1 but "
        "flattens the probabilities towards uniform.",
    )),
    "all_3x3": ("all three encoder convolutions are 3x3", (
        "The slide's pseudo-code and its Keras code differ: follow the table of the exercise.",
        "Only the first convolution is 3x3; the second and third are 4x4.",
    )),
    "wrong_filters": ("the encoder's filter counts differ from the slide", (
        "Compare the filters of your three convolutions with the table.",
    )),
    "not_nearest": ("the up-scaling does not use nearest-neighbour interpolation", (
        "The slide's UpSampling2D uses interpolation='nearest' (the Keras default).",
    )),
    "relu_before_softmax": ("the 1x1 convolution has a ReLU", (
        "The 1x1 convolution computes logits: negative values are allowed.",
        "Leave out activation='relu' on the 1x1 convolution; the softmax comes after it.",
    )),
    "wrong_parameter_count": ("the number of parameters differs from the slide's network", (
        "Compare every layer with the table: filters, kernel sizes and use_bias.",
        "Only the four convolutions have parameters; count kh * kw * in * out + out for each.",
    )),
}


def check_fcn_upscaling(build_fcn_upscaling, assignment=None, quiet=False):
    """Check ``build_fcn_upscaling(num_classes[, num_channels])`` (needs Keras).

    The checks run in order and stop at the first problem: build errors, a non-model
    result, a fixed input size, a wrong up-scaling factor, a wrong output shape, a
    missing softmax, a softmax applied twice, 3x3 kernels everywhere, wrong filters,
    non-nearest interpolation, a ReLU before the softmax, a wrong parameter count; then, if the function takes
    ``num_channels``, a 3-channel page.
    """
    return _run_model_check("build_fcn_upscaling", _fcn_model_check, build_fcn_upscaling,
                            _FCN_MISTAKES, assignment, quiet)


def _built_model_problem(build, described, page, num_classes):
    """Build a model with ``build()`` and run it on ``page``.

    Returns ``(problem, model, output)``: problem is ``(checked, key, got)`` for a build
    error, a non-model, a refused page, a wrong output shape or a missing softmax, else None.
    """
    import keras

    try:
        model = build()
    except NotImplementedError:
        raise
    except Exception as error:
        return (described, "build_fails", str(_Raised(error))), None, None
    if not isinstance(model, keras.Model):
        return ("the returned object", "not_a_model", type(model).__name__), None, None
    try:
        output = _to_numpy(model(page))
    except Exception as error:
        return (f"a {page.shape} page", "fixed_input_size", str(_Raised(error))), model, None
    if output.shape != page.shape[:3] + (num_classes,):
        problem = (f"a {page.shape} page, {num_classes} classes", "wrong_output_shape", f"shape {output.shape}")
        return problem, model, None
    if not np.allclose(output.sum(-1), 1.0, atol=1e-4):
        return ("the sum of the class probabilities per pixel", "missing_softmax", "other sums"), model, output
    return None, model, output


def _same_weights_problem(model, reference, page, output, what):
    """Compare ``model`` with ``reference``: parameter count, weight shapes, then the outputs
    with the model's weights copied into the reference (catches wrong connections)."""
    if model.count_params() != reference.count_params():
        return "the number of parameters", "wrong_parameter_count", f"{model.count_params()} parameters"
    if [w.shape for w in model.get_weights()] != [w.shape for w in reference.get_weights()]:
        return "the shapes of the weights, layer by layer", "wrong_connections", "other shapes"
    reference.set_weights(model.get_weights())
    if not np.allclose(output, _to_numpy(reference(page)), atol=1e-4):
        return f"the outputs with your weights in {what}", "wrong_connections", "other values"
    return None


def _skip_model_problem(build, transposed):
    """The first difference of ``build(num_classes, num_channels)`` from the slide's network."""
    from course_utils import models

    reference_builder = models.build_fcn_transposed_skip if transposed else models.build_fcn_skip_upscaling
    page = np.random.default_rng(15).random((1, 16, 24, 2)).astype("float32")
    problem, model, output = _built_model_problem(
        lambda: build(3, 2), "building the model with num_classes=3, num_channels=2", page, 3)
    if problem is not None:
        return problem
    return _same_weights_problem(model, reference_builder(num_classes=3, num_channels=2), page, output,
                                 "the slide's network")


_SKIP_MODEL_MISTAKES = {
    **{key: _FCN_MISTAKES[key] for key in ("build_fails", "not_a_model", "fixed_input_size", "missing_softmax")},
    "wrong_output_shape": ("the output shape is not (batch, height, width, num_classes)", (
        "Three poolings and three 2x up-samplings: the output has the page's size.",
        "The last layer is Conv2D(num_classes, 1), followed by the softmax.",
    )),
    "wrong_parameter_count": ("the number of parameters differs from the slide's network", (
        "Compare filters and kernel sizes layer by layer with the slide's table.",
        "The skips join the encoder convolutions conv3, conv2, conv1 (before pooling); the "
        "concatenations add their channels.",
    )),
    "wrong_connections": ("the same layers compute something else: a connection differs", (
        "Check what each concatenation joins, and in which order.",
        "Concatenate([up-sampled, encoder conv of the same resolution]) along the channels: "
        "the up-sampled tensor first; each up-sampling takes the previous fusion.",
        "No activation on the transposed convolutions (as on the slide); ReLU on conv1 ... fc5.",
    )),
}


def check_fcn_skip_upscaling(build_fcn_skip_upscaling, assignment=None, quiet=False):
    """Check ``build_fcn_skip_upscaling(num_classes, num_channels=1)`` against the slide's
    network (course_utils.models): output, softmax, parameters, and the outputs with the
    same weights (which catches swapped or wrong skip connections)."""
    return _run_model_check("build_fcn_skip_upscaling", lambda b: _skip_model_problem(b, False),
                            build_fcn_skip_upscaling, _SKIP_MODEL_MISTAKES, assignment, quiet)


def check_fcn_transposed_skip(build_fcn_transposed_skip, assignment=None, quiet=False):
    """Check ``build_fcn_transposed_skip(num_classes, num_channels=1)`` like
    :func:`check_fcn_skip_upscaling`, with transposed convolutions."""
    return _run_model_check("build_fcn_transposed_skip", lambda b: _skip_model_problem(b, True),
                            build_fcn_transposed_skip, _SKIP_MODEL_MISTAKES, assignment, quiet)
