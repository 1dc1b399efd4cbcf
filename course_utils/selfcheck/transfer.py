"""Self-checks of the transfer-learning assignment: the pretrained encoder, frozen; the skip
decoder on it; the report of trainable and frozen parameters; the two-phase fine-tuning.

Assignment ``transfer_learning``. The model checks look at the built networks (layer names,
shapes, frozen flags, the pretrained weights, the skip connections) without a reference
network, so they run in the student kit too.
"""

import numpy as np

from course_utils import metrics

from .engine import _Case, _Raised, _run_check, _run_model_check, _to_numpy, _variant_check
from .models import _built_model_problem
from .unet import _logits_confusion_problem

__all__ = ["check_build_encoder", "check_build_transfer_fcn", "check_parameter_report", "check_fine_tune"]

ENCODER_LAYERS = ("conv1", "conv2", "conv3")          # the layers with pretrained weights
COMPILE_SECONDS = 30        # fine_tune's time limit beyond training: pages, two compilations, a busy machine
# The fine-tune check's pages: 64 x 64 (the visible test's are 128 x 128) make each step four
# times cheaper: the solution reaches a mean IoU near 0.95 in 3 s, 0.7 in 1 s (untrained: 0.04).
FINE_TUNE_PAGE_SIZE = 64
ENCODER_PARAMS = 400 + 25_640 + 51_280                # conv1 3x3x1x40, conv2 4x4x40x40, conv3 4x4x40x80
DECODER_PARAMS_BUT_CLASSIFIER = 53_412 - (16 * 4 + 4)  # the notebook's 53,412 trainable for 4 classes


# --- Part 1: the encoder ------------------------------------------------------------------------


def _frozen_flags(model):
    return {name: model.get_layer(name).trainable for name in ENCODER_LAYERS}


def _encoder_problem(build_encoder):
    import keras

    from course_utils.transfer import PAGE_ENCODER_WEIGHTS, read_keras_weights

    try:
        encoder = build_encoder()
    except NotImplementedError:
        raise
    except Exception as error:
        return "build_encoder()", "build_fails", str(_Raised(error))
    if not isinstance(encoder, keras.Model):
        return "the returned object", "not_a_model", type(encoder).__name__
    names = [layer.name for layer in encoder.layers]
    missing = [n for n in ("conv1", "pool1", "conv2", "pool2", "conv3", "pool3") if n not in names]
    if missing:
        return "the layer names", "layer_names", f"no layer named {missing[0]!r} (layers {names})"
    page = np.random.default_rng(7).random((1, 32, 24, 1)).astype("float32")
    try:
        features = _to_numpy(encoder(page))
    except Exception as error:
        return "a (1, 32, 24, 1) page", "wrong_input", str(_Raised(error))
    if features.shape != (1, 4, 3, 80):
        return "the features of a (1, 32, 24, 1) page", "wrong_output_shape", f"shape {features.shape}"
    if encoder.count_params() != ENCODER_PARAMS:
        return "the number of parameters", "wrong_parameter_count", str(encoder.count_params())
    saved = read_keras_weights(PAGE_ENCODER_WEIGHTS)
    for layer_name in ENCODER_LAYERS:
        mine, pretrained = encoder.get_layer(layer_name).get_weights(), saved[layer_name]
        if len(mine) != len(pretrained) or not all(np.allclose(a, b) for a, b in zip(mine, pretrained)):
            return f"the weights of {layer_name}", "not_pretrained", "other values than the pretrained file"
    trainable = [name for name, flag in _frozen_flags(encoder).items() if flag]
    if trainable:
        return "which encoder layers are frozen", "not_frozen", f"{trainable} still trainable"
    return None


_MODEL_MISTAKES = {
    "build_fails": ("building the model fails", (
        "Read the error: which line raises it? A WeightsMismatchError names the layer and the shapes.",)),
    "not_a_model": ("the function does not return a keras.Model", ("Return keras.Model(inputs, outputs).",)),
}

_ENCODER_MISTAKES = {
    **_MODEL_MISTAKES,
    "layer_names": ("a layer of the encoder is missing or named otherwise", (
        "The weights file stores the layers by name: name=\"conv1\", \"pool1\", ..., \"pool3\".",)),
    "wrong_input": ("the encoder refuses a one-channel page of 32 x 24", (
        "keras.Input((None, None, 1)): any size, one channel.",)),
    "wrong_output_shape": ("the features do not have the shape (batch, h/8, w/8, 80)", (
        "Three 2x2 poolings, and conv3 with 80 filters; 'same' padding keeps the sizes.",)),
    "wrong_parameter_count": ("the number of parameters is not 77,320", (
        "conv1 3x3 with 40 filters, conv2 4x4 with 40, conv3 4x4 with 80: 400 + 25,640 + 51,280.",)),
    "not_pretrained": ("the convolutions do not hold the pretrained weights", (
        "Load them after building the model: load_weights_by_name(model, PAGE_ENCODER_WEIGHTS, ENCODER_LAYERS).",)),
    "not_frozen": ("the pretrained layers are not frozen", (
        "model.get_layer(name).trainable = False for each of conv1, conv2 and conv3.",)),
}


def check_build_encoder(build_encoder, assignment=None, quiet=False):
    """Check ``build_encoder()``: layer names, output shape on a 32 x 24 page, parameters, the
    pretrained weights of conv1-conv3 and that they are frozen."""
    return _run_model_check("build_encoder", _encoder_problem, build_encoder, _ENCODER_MISTAKES, assignment, quiet)


# --- Part 2: the transfer FCN -------------------------------------------------------------------


def _skip_sources(model):
    """``[(first input's layer, second input's layer), ...]`` of each concatenation, in model order."""
    import keras

    pairs = []
    for layer in model.layers:
        if isinstance(layer, keras.layers.Concatenate):
            inputs = layer._inbound_nodes[0].input_tensors
            pairs.append(tuple(tensor._keras_history[0] for tensor in inputs))
    return pairs


def _transfer_fcn_problem(build_transfer_fcn):
    import keras

    page = np.random.default_rng(8).random((1, 32, 24, 1)).astype("float32")
    problem, model, _ = _built_model_problem(lambda: build_transfer_fcn(3), "build_transfer_fcn(3)", page, 3)
    if problem is not None:
        return problem
    if model.count_params() != ENCODER_PARAMS + DECODER_PARAMS_BUT_CLASSIFIER + 16 * 3 + 3:
        return "the number of parameters with 3 classes", "wrong_parameter_count", str(model.count_params())
    flags = _frozen_flags(model)
    if any(flags.values()):
        return "which encoder layers are frozen", "encoder_not_frozen", str(flags)
    decoder = [layer for layer in model.layers if layer.weights and layer.name not in ENCODER_LAYERS]
    if not all(layer.trainable for layer in decoder):
        return "the decoder's layers", "decoder_frozen", "some are frozen"
    try:
        pairs = _skip_sources(model)
    except (AttributeError, IndexError):      # another Keras's internals: nothing more to check here
        return None
    got = [tuple(layer.name if layer.name in ENCODER_LAYERS else type(layer).__name__ for layer in pair)
           for pair in pairs]
    want = [("UpSampling2D", "conv3"), ("UpSampling2D", "conv2"), ("UpSampling2D", "conv1")]
    if [pair[::-1] for pair in got] == want:
        return "the inputs of each concatenation, in order", "swapped_skip_inputs", str(got)
    if got != want:
        return "what each concatenation joins", "wrong_skips", str(got)
    if not all(isinstance(layer, keras.layers.Conv2D) for pair in pairs for layer in pair[1:]):
        return "the skip connections", "wrong_skips", str(got)
    return None


_TRANSFER_FCN_MISTAKES = {
    **_MODEL_MISTAKES,
    "fixed_input_size": ("the model refuses a 32 x 24 page", (
        "Build on encoder.input (keras.Input((None, None, 1))): any size that is a multiple of 8.",)),
    "wrong_output_shape": ("the output shape is not (batch, height, width, num_classes)", (
        "Three UpSampling2D((2, 2)) undo the three poolings; the classifier has num_classes filters.",)),
    "missing_softmax": ("the class probabilities do not sum to 1", (
        "End with Activation('softmax') on the logits.",)),
    "wrong_parameter_count": ("the number of parameters differs from the lecture's decoder", (
        "With 4 classes: 130,732 parameters, 77,320 of them in the encoder.",
        "Concatenate before each 3x3 convolution: it sees 112, 72 and 56 channels.",)),
    "encoder_not_frozen": ("the encoder's layers are not frozen in the FCN", (
        "Build the FCN on build_encoder(), which freezes conv1, conv2 and conv3.",)),
    "decoder_frozen": ("the decoder is frozen too", (
        "Do not set model.trainable = False: only the encoder's layers are frozen.",)),
    "swapped_skip_inputs": ("the skip inputs are swapped: a concatenation takes the encoder tensor first", (
        "Same shapes and parameters, another network: the order of the concatenated tensors matters.",
        "Concatenate()([x, conv3]): the up-sampled tensor first, then the encoder's convolution.",)),
    "wrong_skips": ("a concatenation joins other tensors than the up-sampled one and the encoder's convolution", (
        "Deepest first: conv3, then conv2, then conv1, each the output of the convolution (before pooling).",
        "encoder.get_layer(\"conv3\").output is the tensor conv3 computes.",)),
}


def check_build_transfer_fcn(build_transfer_fcn, assignment=None, quiet=False):
    """Check ``build_transfer_fcn(num_classes)`` with 3 classes: output and softmax on a 32 x 24
    page, parameters, the frozen encoder and trainable decoder, and every skip connection."""
    return _run_model_check("build_transfer_fcn", _transfer_fcn_problem, build_transfer_fcn,
                            _TRANSFER_FCN_MISTAKES, assignment, quiet)


# --- Part 3: the parameter report ---------------------------------------------------------------


def _report_numbers(report):
    """A report as numbers only (the checks compare numbers): ``(trainable, frozen, layers,
    python_types)``, each frozen layer as 1-3 for conv1-conv3 and 0 for any other name,
    ``python_types`` 1 if the counts are Python ints and the names a list of str, else 0. A
    result of another form is returned as it is, to fail the comparison."""
    if not (isinstance(report, (tuple, list)) and len(report) == 3 and isinstance(report[2], (tuple, list))):
        return report
    trainable, frozen, names = report
    try:
        codes = tuple(ENCODER_LAYERS.index(n) + 1 if n in ENCODER_LAYERS else 0 for n in map(str, names))
        python_types = int(type(trainable) is int and type(frozen) is int and isinstance(names, list)
                           and all(isinstance(n, str) for n in names))
        return int(trainable), int(frozen), codes, python_types
    except (TypeError, ValueError):
        return report


def _report_variant(swapped=False, tensor_counts=False, numpy_types=False):
    """``parameter_report`` of the lecture's network (as :func:`_report_numbers`) with a known
    mistake: trainable and frozen swapped, the numbers of weight tensors counted instead of
    their parameters, or NumPy integers instead of Python ints."""

    def variant(num_classes):
        if tensor_counts:          # 5 decoder convolutions and 3 encoder ones, a kernel and a bias each
            counts = (10, 6)
        else:
            counts = (DECODER_PARAMS_BUT_CLASSIFIER + 17 * num_classes, ENCODER_PARAMS)
        first, second = counts[::-1] if swapped else counts
        return first, second, (1, 2, 3), 0 if numpy_types else 1

    return variant


_REPORT_CHECK = _variant_check(
    "parameter_report", [_Case("the notebook's parameter_report(4)", (4,), public=True),
                         _Case("parameter_report(2)", (2,)), _Case("parameter_report(7)", (7,))],
    _report_variant(),
    [("swapped", "trainable and frozen are swapped", (
        "The frozen parameters are the encoder's 77,320; the trainable ones the decoder's.",
        "Return (trainable, frozen, frozen_layers), in this order.",
     ), _report_variant(swapped=True)),
     ("weight_tensors_counted", "the weight tensors are counted, not their parameters", (
        "len(model.trainable_weights) counts kernels and biases; each holds many parameters.",
        "sum(int(np.prod(w.shape)) for w in model.trainable_weights).",
     ), _report_variant(tensor_counts=True)),
     ("not_python_types", "the numbers are right but not Python ints and a list of str", (
        "Return int(...) numbers and a list of layer.name strings.",
     ), _report_variant(numpy_types=True))],
    ("trainable: the sum of the sizes of model.trainable_weights; frozen: of model.non_trainable_weights; "
     "frozen_layers: the names of the layers with weights that are not trainable. (The check shows your "
     "report as numbers: the frozen layers as 1-3 for conv1-conv3, 0 for other names, and last 1 if the "
     "types are Python int and str.)",))


def check_parameter_report(parameter_report, assignment=None, quiet=False):
    """Check ``parameter_report(num_classes)`` for 4, 2 and 7 classes (builds your FCN each time).

    Diagnoses: trainable and frozen swapped, weight tensors counted instead of parameters,
    results that are not Python ints and a list of str.
    """
    def as_numbers(num_classes):
        return _report_numbers(parameter_report(num_classes))

    return _run_check(_REPORT_CHECK, as_numbers, assignment, quiet)


# --- Part 4: fine-tuning ------------------------------------------------------------------------


def _fine_tune_problem(fine_tune, seconds):
    import keras

    from course_utils.data import make_page_dataset

    size = FINE_TUNE_PAGE_SIZE
    images, labels = make_page_dataset(4, seed=63, height=size, width=size)
    test_images, test_labels = make_page_dataset(8, seed=64, height=size, width=size)
    keras.utils.set_random_seed(0)
    try:
        model = fine_tune(images, labels, seconds=seconds)
    except NotImplementedError:
        raise
    except Exception as error:
        return "fine_tune on 4 pages", "train_fails", str(_Raised(error))
    if not isinstance(model, keras.Model):
        return "the returned object", "not_a_model", type(model).__name__
    try:
        flags = _frozen_flags(model)
    except ValueError as error:          # get_layer of a missing name
        return "the encoder's layers", "train_fails", str(_Raised(error))
    if flags["conv1"] or flags["conv2"]:
        return "the trainable flags after fine-tuning", "unfroze_too_much", str(flags)
    if not flags["conv3"]:
        return "the trainable flags after fine-tuning", "conv3_still_frozen", str(flags)
    probabilities = _to_numpy(model(test_images))
    confusion = _logits_confusion_problem(model, probabilities, test_images, test_labels)
    if confusion is not None:
        return confusion
    score = metrics.mean_iou(test_labels, probabilities.argmax(-1), num_classes=4)
    if score < 0.35:
        return f"the mean IoU on 8 held-out pages after {seconds} s", "not_trained", f"{score:.2f}"
    return None


_FINE_TUNE_MISTAKES = {
    "train_fails": ("fine-tuning fails", (
        "Read the error. build_transfer_fcn(4), compile, fit_for(..., seconds=seconds / 2, batch_size=4), twice.",)),
    "not_a_model": ("fine_tune does not return the trained model", ("Return the model.",)),
    "unfroze_too_much": ("conv1 or conv2 was unfrozen too", (
        "Only the top block is fine-tuned: model.get_layer(\"conv3\").trainable = True, nothing else.",
        "A loop over model.layers unfreezes every layer; conv1 and conv2 hold the most generic features.",)),
    "conv3_still_frozen": ("conv3 is still frozen after fine-tuning", (
        "Phase 2 unfreezes conv3 (trainable = True), then compiles again with learning rate 1e-3.",)),
    "from_logits_on_softmax": ("from_logits=True on a softmax output", (
        "build_transfer_fcn ends with a softmax: loss='sparse_categorical_crossentropy' (from_logits=False).",)),
    "logits_without_from_logits": ("raw scores (logits) trained with the loss of probabilities", (
        "Train and return the model of build_transfer_fcn, which ends with a softmax.",)),
    "not_trained": ("the model has not learned enough", (
        "Is fit_for called in both phases with seconds / 2 on the images and labels?",
        "Adam 3e-3 for the decoder, then 1e-3 with conv3 unfrozen; compile again after changing trainable.",)),
}


def check_fine_tune(fine_tune, seconds=2, assignment=None, quiet=False):
    """Check ``fine_tune(images, labels, seconds)``: trains for ``seconds`` on 4 synthetic
    64 x 64 pages and looks at the model: which encoder layers train, the compiled loss, and
    the mean IoU on 8 other pages (at least 0.35). Takes about ``seconds`` plus two
    compilations (about 4 s on 2 CPU cores)."""
    from course_utils.settings import check_seconds

    return _run_model_check("fine_tune", lambda f: _fine_tune_problem(f, seconds), fine_tune, _FINE_TUNE_MISTAKES,
                            assignment, quiet, seconds=max(check_seconds(), 4 * seconds) + COMPILE_SECONDS)
