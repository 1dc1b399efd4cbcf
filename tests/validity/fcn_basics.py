"""Validity variants of ``fcn_basics``: correct answers written differently, common wrong
answers, the students of its real sandboxed batch and its "library-answers" student
(what each field means: tests/validity/variant.py)."""

from __future__ import annotations

from autograder import demo_class
from tests.validity.variant import Variant

VARIANTS = [
    # Part 1: encoding a mask
    Variant("one-hot-by-comparison", "encoding", code='''
def labels_to_one_hot(labels, num_classes):
    labels = np.asarray(labels)
    if labels.size and (labels.min() < 0 or labels.max() >= num_classes):
        raise ValueError(f"labels must be in [0, {num_classes}), got {labels.min()} to {labels.max()}")
    return (labels[..., None] == np.arange(num_classes)).astype(np.float32)


def labels_from_scores(scores):
    return np.asarray(scores).argmax(-1)
'''),
    Variant("one-hot-classes-first", "encoding",
            {"test_encoding_visible": "the class axis last", "test_encoding_hidden": "the class axis last"},
            edits=[("return np.eye(num_classes, dtype=np.float32)[labels]",
                    "return np.stack([labels == k for k in range(num_classes)]).astype(np.float32)")]),
    Variant("one-hot-classes-from-the-map", "encoding",
            {"test_encoding_hidden": "num_classes long|also one absent from the map"},
            edits=[("return np.eye(num_classes, dtype=np.float32)[labels]",
                    "return np.eye(labels.max() + 1, dtype=np.float32)[labels]")]),
    # The wrong answers the demo class shares: autograder/demo_class.py.
    Variant("one-hot-without-negative-check", "encoding", {"test_encoding_hidden": "for a negative label"},
            code=demo_class.ONE_HOT_WITHOUT_NEGATIVE_CHECK),
    Variant("argmax-over-the-first-axis", "encoding",
            {"test_encoding_visible": "argmax over the last axis",
             "test_encoding_hidden": "labels_from_scores is wrong"},
            edits=[("return np.argmax(np.asarray(scores), axis=-1)", "return np.argmax(np.asarray(scores), axis=0)")]),
    # Part 2: non-exclusive classes
    Variant("multi-label-by-loops", "multi_label", code='''
def multi_label_mask(labels, channel_classes):
    labels = np.asarray(labels)
    mask = np.zeros(labels.shape + (len(channel_classes),), dtype=np.float32)
    for j, classes in enumerate(channel_classes):
        for class_id in classes:
            mask[..., j] += labels == class_id
    return mask


def decode_multi_label(probabilities, threshold=0.5):
    return np.where(np.asarray(probabilities) > threshold, 1.0, 0.0)
'''),
    Variant("multi-label-as-booleans", "multi_label",
            edits=[("for classes in channel_classes], axis=-1).astype(np.float32)",
                    "for classes in channel_classes], axis=-1)"),
                   ("return (np.asarray(probabilities) > threshold).astype(np.float32)",
                    "return np.asarray(probabilities) > threshold")]),
    Variant("multi-label-decoded-with-argmax", "multi_label",
            {"test_multi_label_visible": "an argmax keeps exactly one",
             "test_multi_label_hidden": "decode_multi_label is wrong"},
            edits=[("return (np.asarray(probabilities) > threshold).astype(np.float32)",
                    "probabilities = np.asarray(probabilities)\n"
                    "    return np.eye(probabilities.shape[-1], dtype=np.float32)[probabilities.argmax(-1)]")]),
    Variant("multi-label-first-class-only", "multi_label",
            {"test_multi_label_visible": "the heading pixel (0, 1) should be 1 in the text",
             "test_multi_label_hidden": "multi_label_mask is wrong"},
            edits=[("np.isin(labels, classes)", "labels == classes[0]")]),
    Variant("multi-label-channels-first", "multi_label",
            {"test_multi_label_visible": "the channel axis last", "test_multi_label_hidden": "the channel axis last"},
            edits=[("for classes in channel_classes], axis=-1)", "for classes in channel_classes])")]),
    Variant("multi-label-threshold-inclusive", "multi_label",
            {"test_multi_label_hidden": "equal to the threshold is not above it"},
            edits=[("np.asarray(probabilities) > threshold", "np.asarray(probabilities) >= threshold")]),
    Variant("multi-label-with-a-typo", "multi_label",
            {"test_multi_label_visible": "AttributeError", "test_multi_label_hidden": "AttributeError"},
            code=demo_class.MULTI_LABEL_WITH_A_TYPO),
    # Part 3: the FCN's layer shapes
    Variant("shapes-by-powers-of-two", "layer_shapes", code='''
def fcn_upscaling_shapes(height, width, num_classes):
    sizes = [(height // 2 ** k, width // 2 ** k) for k in range(4)]      # after 0, 1, 2, 3 poolings
    encoder = [(*sizes[k + after], filters) for k, filters in enumerate((40, 40, 80)) for after in (0, 1)]
    up_h, up_w = 8 * sizes[3][0], 8 * sizes[3][1]
    return encoder + [(up_h, up_w, 80), (up_h, up_w, num_classes), (up_h, up_w, num_classes)]
'''),
    Variant("shapes-back-to-the-page-size", "layer_shapes", {"test_layer_shapes_hidden": "100 // 8 * 8"},
            code=demo_class.SHAPES_BACK_TO_THE_PAGE_SIZE),
    Variant("shapes-pooling-rounds-up", "layer_shapes", {"test_layer_shapes_hidden": "wrong for some page sizes"},
            edits=[('conv_output_size(h, 2, 2, "valid"), conv_output_size(w, 2, 2, "valid")',
                    'conv_output_size(h, 2, 2, "same"), conv_output_size(w, 2, 2, "same")')]),
    Variant("shapes-without-the-pooling-entries", "layer_shapes",
            {"test_layer_shapes_visible": "9 shapes", "test_layer_shapes_hidden": "wrong for some page sizes"},
            edits=[("        shapes.append((h, w, filters))\n    h, w = h * 8", "    h, w = h * 8")]),
    # Part 4: the FCN
    Variant("fcn-functional", "fcn_model", code='''
def build_fcn_upscaling(num_classes):
    L = keras.layers
    x = inputs = keras.Input((None, None, 1))
    for filters, size in ((40, 3), (40, 4), (80, 4)):
        x = L.MaxPooling2D(2)(L.Conv2D(filters, size, padding="same", activation="relu")(x))
    x = L.Conv2D(num_classes, 1)(L.UpSampling2D(8)(x))
    return keras.Model(inputs, L.Activation("softmax")(x))
'''),
    Variant("fcn-softmax-on-the-classifier", "fcn_model",
            edits=[("layers.Conv2D(num_classes, (1, 1)),\n        layers.Activation(\"softmax\"),\n",
                    "layers.Conv2D(num_classes, (1, 1), activation=\"softmax\"),\n")]),
    Variant("fcn-upscaling-4x", "fcn_model", {"test_fcn_visible": "must multiply by 8",
                                             "test_fcn_hidden": "keep their size"},
            code=demo_class.FCN_UPSCALING_4X),
    Variant("fcn-softmax-twice", "fcn_model", {"test_fcn_visible": "softmax applied twice",
                                              "test_fcn_hidden": "differ from the slide's network"},
            code=demo_class.FCN_WITH_SOFTMAX_TWICE),
    Variant("fcn-all-3x3", "fcn_model",
            {"test_fcn_visible": "has kernel (3, 3), the slide's FCN uses (4, 4)",
             "test_fcn_hidden": "kernel sizes or padding of the encoder"},
            edits=[("layers.Conv2D(40, (4, 4)", "layers.Conv2D(40, (3, 3)"),
                   ("layers.Conv2D(80, (4, 4)", "layers.Conv2D(80, (3, 3)")]),
    Variant("fcn-without-softmax", "fcn_model", {"test_fcn_visible": "sum to 1 (softmax)",
                                                "test_fcn_hidden": "differ from the slide's network"},
            edits=[('        layers.Activation("softmax"),\n', "")]),
]


# Students of the real sandboxed batch (variants of different cells, see variant.py).
BATCH_STUDENTS = {
    "alt-correct": ["one-hot-by-comparison", "multi-label-by-loops", "shapes-by-powers-of-two", "fcn-functional"],
    "wrong-a": ["one-hot-classes-first", "multi-label-decoded-with-argmax", "shapes-back-to-the-page-size",
                "fcn-softmax-twice"],
    "wrong-b": ["one-hot-without-negative-check", "multi-label-threshold-inclusive",
                "shapes-without-the-pooling-entries", "fcn-all-3x3"],
}


# Every solution cell answered through the course library (the "library-answers" student).
LIBRARY_ANSWERS = {
    "encoding": '''
from course_utils.selfcheck.masks import _labels_from_scores_reference as labels_from_scores
from course_utils.selfcheck.masks import _one_hot_reference as labels_to_one_hot
''',
    "multi_label": '''
from course_utils.selfcheck import masks

def multi_label_mask(labels, channel_classes):
    return masks._multi_label_reference(labels, channel_classes)

def decode_multi_label(probabilities, threshold=0.5):
    return masks._decode_multi_label_reference(probabilities, threshold)
''',
    "layer_shapes": "from course_utils.selfcheck.sizes import _fcn_shapes_reference as fcn_upscaling_shapes\n",
    "fcn_model": "from course_utils.models import build_fcn_upscaling\n",
}
