"""Validity variants of ``transfer_learning``: correct answers written differently, common wrong
answers, the students of its real sandboxed batch and its "library-answers" student
(what each field means: tests/validity/variant.py)."""

from __future__ import annotations

from tests.validity.variant import Variant

# The fine_tune cell's checks need a trained model: its variants run only in the slow
# test_training_checks (TRAINING_SOLUTION_CELLS of test_grading_validity).
VARIANTS = [
    Variant("encoder-keras-load-weights", "encoder", code='''
def build_encoder():
    page = keras.Input((None, None, 1))
    x = page
    for index, (filters, size) in enumerate(((40, 3), (40, 4), (80, 4)), start=1):
        x = layers.Conv2D(filters, size, padding="same", activation="relu", name=f"conv{index}")(x)
        x = layers.MaxPooling2D(2, name=f"pool{index}")(x)
    encoder = keras.Model(page, x)
    encoder.load_weights(PAGE_ENCODER_WEIGHTS)     # the file holds exactly this network
    for layer in encoder.layers:
        if layer.name.startswith("conv"):
            layer.trainable = False
    return encoder
'''),
    Variant("encoder-not-frozen", "encoder",
            {"test_encoder_visible": "must be frozen", "test_encoder_hidden": "must be frozen"},
            edits=[("        encoder.get_layer(name).trainable = False", "        pass")],
            also_fails={"test_transfer_fcn_visible", "test_transfer_fcn_hidden", "test_parameter_report_visible",
                        "test_parameter_report_hidden", "test_fine_tune_visible", "test_fine_tune_hidden"}),
    Variant("encoder-not-loaded", "encoder",
            {"test_encoder_visible": "pretrained weights", "test_encoder_hidden": "pretrained weights"},
            edits=[("    load_weights_by_name(encoder, PAGE_ENCODER_WEIGHTS, ENCODER_LAYERS)\n", "")]),
    Variant("fcn-decoder-unrolled", "transfer_fcn", code='''
def build_transfer_fcn(num_classes):
    encoder = build_encoder()
    get = lambda name: encoder.get_layer(name).output   # noqa: E731
    join = lambda x, name: layers.Concatenate(axis=-1)([layers.UpSampling2D(2)(x), get(name)])   # noqa: E731
    x = layers.Conv2D(32, 1, activation="relu")(encoder.output)
    x = layers.Conv2D(32, 3, padding="same", activation="relu")(join(x, "conv3"))
    x = layers.Conv2D(16, 3, padding="same", activation="relu")(join(x, "conv2"))
    x = layers.Conv2D(16, 3, padding="same", activation="relu")(join(x, "conv1"))
    return keras.Model(encoder.input, layers.Activation("softmax")(layers.Conv2D(num_classes, 1)(x)))
'''),
    Variant("fcn-concatenation-reversed", "transfer_fcn", {"test_transfer_fcn_hidden": "outputs differ"},
            edits=[("layers.Concatenate(name=f\"dec_fuse{level}\")([x, skip])",
                    "layers.Concatenate(name=f\"dec_fuse{level}\")([skip, x])")]),
    Variant("fcn-whole-model-frozen", "transfer_fcn",
            {"test_transfer_fcn_hidden": "decoder's convolutions must stay trainable"},
            edits=[("    return keras.Model(encoder.input, softmax, name=\"transfer_fcn\")",
                    "    model = keras.Model(encoder.input, softmax, name=\"transfer_fcn\")\n"
                    "    model.trainable = False\n    return model")],
            also_fails={"test_parameter_report_visible", "test_parameter_report_hidden"}),
    Variant("report-per-layer-counts", "parameter_report", code='''
def parameter_report(num_classes):
    model = build_transfer_fcn(num_classes)
    with_weights = [layer for layer in model.layers if layer.count_params() > 0]
    trainable = sum(layer.count_params() for layer in with_weights if layer.trainable)
    return trainable, model.count_params() - trainable, [l.name for l in with_weights if not l.trainable]
'''),
    Variant("report-swapped", "parameter_report",
            {"test_parameter_report_visible": "expected 53412 trainable",
             "test_parameter_report_hidden": "wrong parameter counts"},
            edits=[("    return trainable, frozen, frozen_layers", "    return frozen, trainable, frozen_layers")]),
    Variant("report-counts-weight-tensors", "parameter_report",
            {"test_parameter_report_visible": "wrong parameter counts",
             "test_parameter_report_hidden": "wrong parameter counts"},
            edits=[("trainable = sum(int(np.prod(w.shape)) for w in model.trainable_weights)",
                    "trainable = len(model.trainable_weights)"),
                   ("frozen = sum(int(np.prod(w.shape)) for w in model.non_trainable_weights)",
                    "frozen = len(model.non_trainable_weights)")]),
    Variant("fine-tune-loop-unfreeze", "fine_tune", code='''
def fine_tune(images, labels, seconds):
    model = build_transfer_fcn(4)
    for learning_rate in (3e-3, 1e-3):
        model.compile(optimizer=keras.optimizers.Adam(learning_rate), loss="sparse_categorical_crossentropy",
                      jit_compile=False)
        fit_for(model, images, labels, seconds=0.5 * seconds, batch_size=4)
        for layer in model.layers:
            if layer.name == "conv3":
                layer.trainable = True
    return model
'''),
    Variant("fine-tune-unfreezes-all", "fine_tune",
            {"test_fine_tune_visible": "should still be frozen", "test_fine_tune_hidden": "should still be frozen"},
            edits=[('    model.get_layer("conv3").trainable = True',
                    "    for layer in model.layers:\n        layer.trainable = True")]),
    Variant("fine-tune-never-unfreezes", "fine_tune",
            {"test_fine_tune_visible": "should be trainable", "test_fine_tune_hidden": "should be trainable"},
            edits=[('    model.get_layer("conv3").trainable = True\n', "")]),
    Variant("fine-tune-untrained", "fine_tune",
            {"test_fine_tune_visible": "below the threshold", "test_fine_tune_hidden": "below the threshold"},
            edits=[("    fit_for(model, images, labels, seconds=seconds / 2, batch_size=4)\n", "")]),
]


# Students of the real sandboxed batch (variants of different cells, see variant.py).
BATCH_STUDENTS = {
"alt-correct": ["encoder-keras-load-weights", "fcn-decoder-unrolled", "report-per-layer-counts",
                "fine-tune-loop-unfreeze"],
"wrong-a": ["fcn-concatenation-reversed", "report-swapped", "fine-tune-unfreezes-all"],
"wrong-b": ["encoder-not-frozen"],
}


# Every solution cell answered through the course library (the "library-answers" student).
LIBRARY_ANSWERS = {
    "encoder": '''
from course_utils.transfer import page_encoder

def build_encoder():
    page = keras.Input((None, None, 1))
    encoder = keras.Model(page, page_encoder(page)[-1], name="encoder")
    load_weights_by_name(encoder, PAGE_ENCODER_WEIGHTS, ENCODER_LAYERS)
    for name in ENCODER_LAYERS:
        encoder.get_layer(name).trainable = False
    return encoder
''',
    "transfer_fcn": '''
from course_utils.transfer import build_page_fcn

def build_transfer_fcn(num_classes):
    return build_page_fcn(num_classes, encoder_weights="pretrained", freeze_encoder=True)
''',
    "parameter_report": '''
from course_utils.transfer import count_params

def parameter_report(num_classes):
    model = build_transfer_fcn(num_classes)
    trainable, frozen = count_params(model)
    return trainable, frozen, [layer.name for layer in model.layers if layer.weights and not layer.trainable]
''',
    "fine_tune": '''
def fine_tune(images, labels, seconds):
    from course_utils.pipeline import SegmentationSequence
    from course_utils.transfer import fine_tune_in_two_phases
    model = build_transfer_fcn(4)
    fine_tune_in_two_phases(model, SegmentationSequence(images, labels, batch_size=4), seconds,
                            encoder_layers=("conv3",))
    return model
''',
}

