"""Self-checks of the U-Net assignment: the bottleneck size, the double convolution, the
configurable U-Net and its training.

Assignment ``unet``.
"""

import numpy as np

from course_utils import metrics
from course_utils.settings import check_seconds

from .engine import (
    _Case,
    _is_int,
    _Mistake,
    _Raised,
    _report_failure,
    _run_check,
    _run_model_check,
    _to_numpy,
    _variant_check,
)
from .models import _FCN_MISTAKES, _built_model_problem, _same_weights_problem

__all__ = ["check_unet_bottleneck_size", "check_double_conv", "check_build_unet", "check_train_unet"]


def _unet_bottleneck_reference(height, width, depth):
    if depth < 1:
        raise ValueError(f"depth must be at least 1, got {depth}")
    multiple = 2 ** depth
    for side, size in (("height", height), ("width", width)):
        if size % multiple:
            raise ValueError(f"{side} {size} is not a multiple of 2**{depth} = {multiple}")
    return height // multiple, width // multiple


def _returns_where_it_must_raise(cases, outputs, expected):
    """Detector: a case whose size does not fit returned a value instead of raising (the
    error messages are checked after the cases, by check_unet_bottleneck_size)."""
    return any(isinstance(right, _Raised) and not isinstance(output, _Raised)
               for output, right in zip(outputs, expected))


def check_unet_bottleneck_size(unet_bottleneck_size, assignment=None, quiet=False):
    """Check ``unet_bottleneck_size(height, width, depth)``: the size at the bottleneck, or a
    ValueError naming the side, its size and the multiple.

    Diagnoses: errors for sizes that fit (2 * depth instead of 2**depth), no ValueError
    for sizes that do not fit, float sizes, messages that do not name the side, its size and the multiple.
    """
    name = "unet_bottleneck_size"
    cases = [_Case("the notebook's 64 x 64, depth 2", (64, 64, 2), public=True),
             _Case("the notebook's 64 x 48, depth 3", (64, 48, 3), public=True),
             _Case("the notebook's 96 x 160, depth 5", (96, 160, 5), public=True),
             _Case("40 x 56, depth 3", (40, 56, 3)),
             _Case("36 x 64, depth 3 (the height does not fit)", (36, 64, 3)),
             _Case("64 x 100, depth 3 (the width does not fit)", (64, 100, 3)),
             _Case("64 x 64, depth 0", (64, 64, 0))]
    check = _variant_check(
        name, cases, _unet_bottleneck_reference,
        [],
        ("Check depth >= 1 first; then each side must be a multiple of 2**depth, else raise "
         "ValueError naming the side, its size and the multiple; return (height // m, width // m).",),
        output_ok=lambda output: isinstance(output, _Raised) or (
            isinstance(output, (tuple, list)) and all(_is_int(v) for v in output)),
        extra_mistakes=[
            _Mistake("raises_for_fitting_sizes", "a size that fits raises an error", (
                "64 x 48 with depth 3 fits: both are multiples of 8.",
                "The multiple is 2**depth (depth poolings, each halving the size), not 2 * depth.",
            ), lambda cases, outputs, expected: any(
                isinstance(o, _Raised) and not isinstance(e, _Raised) for o, e in zip(outputs, expected))),
            _Mistake("no_value_error", "sizes that do not fit give no ValueError", (
                "A side that is not a multiple of 2**depth cannot go down and up again: raise.",
                "raise ValueError(f\"height {height} is not a multiple of {multiple}\") (and the "
                "same for the width, and for depth < 1).",
            ), _returns_where_it_must_raise),
            _Mistake("float_sizes", "the sizes are floats", (
                "Use integer division //: sizes are whole pixels.",
            ), lambda cases, outputs, expected: any(
                isinstance(o, (tuple, list)) and any(isinstance(v, float) for v in o) for o in outputs))])
    result = _run_check(check, unet_bottleneck_size, assignment, quiet=True)
    if result.passed:   # the messages of the errors, which _same does not compare
        for case in cases[4:6]:
            height, width, depth = case.args
            side, size = ("height", height) if height % 2 ** depth else ("width", width)
            try:
                unet_bottleneck_size(*case.args)
            except ValueError as error:
                if not (side in str(error) and str(size) in str(error) and str(2 ** depth) in str(error)):
                    result = _report_failure(
                        name, "an error message is incomplete.",
                        f"  First failing case: {case.description}: your message was {str(error)!r}.",
                        _Mistake("message", "the error message does not name the side, its size and the multiple", (
                            "Say which side does not fit, its size, and the multiple it must be.",
                        ), None), assignment, True)
                    break
    if not quiet:
        print(result.message)
    return result


def _double_conv_problem(double_conv):
    import keras

    inputs = keras.Input((None, None, 3))
    try:
        block = keras.Model(inputs, double_conv(inputs, 16))
    except NotImplementedError:
        raise
    except Exception as error:
        return "double_conv(keras.Input((None, None, 3)), 16)", "build_fails", str(_Raised(error))
    convs = [layer for layer in block.layers if isinstance(layer, keras.layers.Conv2D)]
    if len(convs) != 2:
        return "the Conv2D layers between input and output", "not_two_convs", f"{len(convs)} of them"
    settings = [(c.filters, tuple(c.kernel_size), c.padding, getattr(c.activation, "__name__", "")) for c in convs]
    if any(s[2] != "same" for s in settings):
        return "the padding", "valid_padding", str([s[2] for s in settings])
    if any(s[1] != (3, 3) for s in settings):
        return "the kernel sizes", "kernel_size", str([s[1] for s in settings])
    if any(s[3] != "relu" for s in settings):
        return "the activations", "missing_relu", str([s[3] for s in settings])
    if block.count_params() != 9 * 3 * 16 + 16 + 9 * 16 * 16 + 16:
        return "the number of parameters", "wrong_filters", f"{block.count_params()} parameters"
    return None


_DOUBLE_CONV_MISTAKES = {
    "build_fails": ("calling the block fails", (
        "Apply each layer to a tensor: y = layers.Conv2D(...)(x), then the second to y.",)),
    "not_two_convs": ("the output does not go through exactly two convolutions", (
        "The second convolution must be applied to the output of the first, and its output "
        "returned (a layer whose output is not used is not part of the block).",)),
    "valid_padding": ("a convolution uses 'valid' padding", (
        "The U-Net of this assignment keeps the size: padding='same'.",)),
    "kernel_size": ("the kernels are not 3x3", ("Conv2D(filters, (3, 3), ...).",)),
    "missing_relu": ("a convolution has no ReLU", ("Both convolutions: activation='relu'.",)),
    "wrong_filters": ("the filter counts differ", ("Both convolutions have `filters` filters.",)),
}


def check_double_conv(double_conv, assignment=None, quiet=False):
    """Check ``double_conv(x, filters)`` on a ``keras.Input`` with 3 channels and 16 filters."""
    return _run_model_check("double_conv", _double_conv_problem, double_conv, _DOUBLE_CONV_MISTAKES,
                            assignment, quiet)


def _reference_unet(num_classes, depth, base_filters, num_channels=1):
    """The assignment's U-Net ('same' padding, 2x2 transposed convolutions), for comparisons."""
    import keras

    layers = keras.layers
    inputs = keras.Input((None, None, num_channels))
    x, skips = inputs, []
    for level in range(depth + 1):
        for _ in range(2):
            x = layers.Conv2D(base_filters * 2 ** level, 3, padding="same", activation="relu")(x)
        if level < depth:
            skips.append(x)
            x = layers.MaxPooling2D(2)(x)
    for level in reversed(range(depth)):
        x = layers.Conv2DTranspose(base_filters * 2 ** level, 2, strides=2)(x)
        x = layers.Concatenate()([x, skips[level]])
        for _ in range(2):
            x = layers.Conv2D(base_filters * 2 ** level, 3, padding="same", activation="relu")(x)
    return keras.Model(inputs, layers.Conv2D(num_classes, 1, activation="softmax")(x))


def _unet_problem(build_unet):
    page = np.random.default_rng(16).random((1, 16, 12, 2)).astype("float32")
    problem, model, output = _built_model_problem(
        lambda: build_unet(num_classes=3, depth=2, base_filters=4, num_channels=2),
        "build_unet(num_classes=3, depth=2, base_filters=4, num_channels=2)", page, 3)
    if problem is not None:
        return problem
    kinds = [type(layer).__name__ for layer in model.layers]
    if kinds.count("Conv2DTranspose") != 2:
        return "the number of Conv2DTranspose layers", "no_transposed_conv", str(kinds.count("Conv2DTranspose"))
    swapped = _concatenation_inputs_problem(model)
    if swapped is not None:
        return swapped
    return _same_weights_problem(model, _reference_unet(3, 2, 4, 2), page, output, "the reference U-Net")


def _concatenation_inputs_problem(model):
    """The skip connections by their layers (no reference model needed, so the student kit
    checks them too): each concatenation joins a Conv2DTranspose output, then a Conv2D one."""
    import keras

    for concatenation in (layer for layer in model.layers if isinstance(layer, keras.layers.Concatenate)):
        try:
            inputs = concatenation._inbound_nodes[0].input_tensors
            sources = [type(tensor._keras_history[0]).__name__ for tensor in inputs]
        except (AttributeError, IndexError):   # another Keras's internals: the same-weights comparison decides
            return None
        if sources == ["Conv2D", "Conv2DTranspose"]:
            return "the inputs of each concatenation, in order", "swapped_skip_inputs", " + ".join(sources)
    return None


_UNET_MISTAKES = {
    **{key: _FCN_MISTAKES[key] for key in ("build_fails", "not_a_model", "missing_softmax")},
    "fixed_input_size": ("the model refuses a 16 x 12 page", (
        "keras.Input((None, None, num_channels)): height and width may vary.",)),
    "wrong_output_shape": ("the output shape is not (batch, height, width, num_classes)", (
        "Every pooling needs its up-sampling back (depth of each), and a 1x1 convolution "
        "with num_classes filters at the end.",)),
    "no_transposed_conv": ("the decoder does not up-sample with Conv2DTranspose", (
        "Each decoder level: Conv2DTranspose(filters, (2, 2), strides=2), then concatenate, "
        "then double_conv.",)),
    "wrong_parameter_count": ("the number of parameters differs from the formula of Part 4", (
        "Count per level: two 3x3 convolutions, a 2x2 transposed convolution, and the "
        "double convolution after the concatenation (2 * filters input channels).",
        "Filters base_filters * 2**level; the bottleneck has base_filters * 2**depth.",
    )),
    "swapped_skip_inputs": ("the skip inputs are swapped: a concatenation takes the skip connection first", (
        "Same shapes, same parameters, another network: the order of the concatenated tensors matters.",
        "Concatenate(axis=-1)([up_sampled, skip]): the Conv2DTranspose output first, then the encoder's "
        "double convolution of the same level.",
    )),
    "wrong_connections": ("the same layers compute something else: a skip connection differs", (
        "Check what each concatenation joins, and in which order.",
        "Keep the encoder output of each level BEFORE pooling; concatenate [up-sampled, skip] "
        "(up-sampled first), deepest level first.",
    )),
}


def check_build_unet(build_unet, assignment=None, quiet=False):
    """Check ``build_unet(num_classes, depth, base_filters, num_channels=1)`` against the
    assignment's U-Net: output, softmax, transposed convolutions, parameters, and the outputs
    with the same weights (which catches swapped or wrong skip connections)."""
    return _run_model_check("build_unet", _unet_problem, build_unet, _UNET_MISTAKES, assignment, quiet)


def _train_unet_problem(train_unet, seconds):
    import keras

    from course_utils.data import make_page_dataset

    images, labels = make_page_dataset(96, seed=71, height=64, width=64)
    test_images, test_labels = make_page_dataset(8, seed=72, height=64, width=64)
    keras.utils.set_random_seed(0)
    try:
        model = train_unet(images, labels, num_classes=4, seconds=seconds)
    except NotImplementedError:
        raise
    except Exception as error:
        return "train_unet on 96 pages", "train_fails", str(_Raised(error))
    if not isinstance(model, keras.Model):
        return "the returned object", "not_a_model", type(model).__name__
    probabilities = _to_numpy(model(test_images))
    confusion = _logits_confusion_problem(model, probabilities, test_images, test_labels)
    if confusion is not None:
        return confusion
    score = metrics.mean_iou(test_labels, probabilities.argmax(-1), num_classes=4)
    if score < 0.45:
        return f"the mean IoU on 8 held-out pages after {seconds} s", "not_trained", f"{score:.2f}"
    confidence = float(probabilities.max(-1).mean())
    if confidence <= 0.48:   # right classes, flat probabilities
        return "the mean probability of the most likely class", "softmax_twice", f"{confidence:.2f}"
    return None


def _logits_confusion_problem(model, probabilities, images, labels):
    """The logits/probabilities confusion, both ways: raw scores trained with the
    probabilities' loss (the outputs are no probabilities), or ``from_logits=True`` on the
    softmax output (the compiled loss is not the cross-entropy of the outputs)."""
    if probabilities.min() < -1e-6 or not np.allclose(probabilities.sum(-1), 1.0, atol=1e-3):
        return "the sums of the outputs per pixel", "logits_without_from_logits", "values that are no probabilities"
    if not getattr(model, "compiled", False):   # a model wrapped after training: nothing to compare
        return None
    import keras

    # The compiled loss applied to the outputs outside the model: Keras on TensorFlow quietly
    # uses a softmax layer's input when from_logits=True inside fit/evaluate; other backends do not.
    loss = keras.losses.get(model.loss)
    compiled = float(np.mean(_to_numpy(loss(labels, probabilities))))
    picked = np.take_along_axis(probabilities.astype(np.float64), labels[..., None].astype(int), -1)
    cross_entropy = float(np.mean(-np.log(np.clip(picked, 1e-7, 1.0))))
    if not abs(compiled - cross_entropy) <= 0.02 + 0.05 * cross_entropy:
        return ("the compiled loss against the cross-entropy of the outputs", "from_logits_on_softmax",
                f"{compiled:.3f} against {cross_entropy:.3f}")
    return None


_TRAIN_UNET_MISTAKES = {
    "train_fails": ("training fails", (
        "Read the error. compile(optimizer, loss='sparse_categorical_crossentropy') and "
        "fit_for(model, images, labels, seconds=seconds, batch_size=4).",)),
    "not_a_model": ("train_unet does not return the trained model", ("Return the model.",)),
    "softmax_twice": ("the probabilities are flat: a softmax applied twice?", (
        "build_unet already ends with a softmax: add no second one.",
        "A softmax of 4 probabilities is never above 0.48; use loss='sparse_categorical_crossentropy' "
        "without from_logits=True.",
    )),
    "from_logits_on_softmax": ("from_logits=True on a softmax output", (
        "The compiled loss is not the cross-entropy of your model's probabilities: the loss takes a "
        "softmax of what is already a softmax.",
        "build_unet ends with a softmax: compile with loss='sparse_categorical_crossentropy' "
        "(from_logits=False), not SparseCategoricalCrossentropy(from_logits=True).",
    )),
    "logits_without_from_logits": ("raw scores (logits) trained with the loss of probabilities", (
        "The model you return does not output probabilities (>= 0, summing to 1 per pixel).",
        "'sparse_categorical_crossentropy' expects probabilities: train and return the model of "
        "build_unet, which ends with a softmax (or, for logits, from_logits=True and a softmax added "
        "to the model you return).",
    )),
    "not_trained": ("the model has not learned enough", (
        "Is fit_for called with seconds=seconds on the images and labels?",
        "Depth 2, 8 base filters, Adam with learning rate 3e-3, batch size 4: see the hints of Part 5.",
    )),
}


def check_train_unet(train_unet, seconds=20, assignment=None, quiet=False):
    """Check ``train_unet(images, labels, num_classes, seconds)``: trains for ``seconds`` on
    96 synthetic pages (as the visible test) and looks at the predictions on 8 others (takes
    about ``seconds``).

    Diagnoses: training errors, no model returned, outputs that are no probabilities (logits
    trained with the probabilities' loss), a compiled loss that is not the cross-entropy of the
    outputs (``from_logits=True`` on a softmax), too low a mean IoU, flat probabilities (a
    softmax applied twice).
    """
    return _run_model_check("train_unet", lambda t: _train_unet_problem(t, seconds), train_unet,
                            _TRAIN_UNET_MISTAKES, assignment, quiet, seconds=max(check_seconds(), 4 * seconds))
