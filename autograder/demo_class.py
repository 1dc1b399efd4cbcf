"""The demo's small class: four sample submissions and the scores they deserve.

Each student answers the ``fcn_basics`` assignment. Their answers are the solution
cells of ``solutions/fcn_basics`` with some cells replaced by the code below:

- ``demo-correct``: every part right. Part 4 copies the slide's ``Sequential`` code with
  ``input_shape=``, which makes Keras print a ``UserWarning`` to stderr inside the test
  cell: log noise that must not cost points.
- ``demo-partial``: the one-hot encoding misses the convention for negative labels (NumPy
  wraps -1 to the last class instead of the ``ValueError``), the layer shapes up-scale
  back to the page's size instead of 8 times the pooled size (both pass the visible tests
  and fail the hidden ones), and the FCN up-scales 4x instead of 8x (fails both tests).
- ``demo-crash``: the multi-label decoding raises an ``AttributeError`` (a typo) whenever
  it is called.
- ``demo-infinite-loop``: the layer shapes never return; their test cells hit the
  per-cell time limit, are interrupted, and grading goes on.

The wrong answers are written here once: the validity variants of fcn_basics
(tests/validity/fcn_basics.py) use the same texts and check each failure's message.
"""

from __future__ import annotations

import re
from pathlib import Path

import nbformat

ASSIGNMENT = "fcn_basics"
NOTEBOOK = "fcn_basics.ipynb"

CORRECT_FCN_AS_ON_THE_SLIDE = '''
def build_fcn_upscaling(num_classes):
    from keras.layers import Activation, Conv2D, MaxPooling2D, UpSampling2D
    return keras.Sequential([
        Conv2D(40, (3, 3), padding='same', activation='relu', input_shape=(None, None, 1)),
        MaxPooling2D(pool_size=(2, 2), strides=2),
        Conv2D(40, (4, 4), padding='same', activation='relu'),
        MaxPooling2D(pool_size=(2, 2), strides=2),
        Conv2D(80, (4, 4), padding='same', activation='relu'),
        MaxPooling2D(pool_size=(2, 2), strides=2),
        UpSampling2D((8, 8), interpolation='nearest'),
        Conv2D(num_classes, (1, 1)),
        Activation('softmax'),
    ])
'''

ONE_HOT_WITHOUT_NEGATIVE_CHECK = '''
def labels_to_one_hot(labels, num_classes):
    labels = np.asarray(labels)
    if labels.max() >= num_classes:
        raise ValueError(f"label {labels.max()} is too large for {num_classes} classes")
    return np.eye(num_classes, dtype=np.float32)[labels]


def labels_from_scores(scores):
    return np.argmax(scores, axis=-1)
'''

# The encoder part of fcn_upscaling_shapes, as a student writes it (right in both answers below).
_SHAPES_THROUGH_THE_ENCODER = '''
def fcn_upscaling_shapes(height, width, num_classes):
    shapes = []
    h, w = height, width
    for filters, kernel in [(40, 3), (40, 4), (80, 4)]:
        h, w = conv_output_size(h, kernel, 1, "same"), conv_output_size(w, kernel, 1, "same")
        shapes.append((h, w, filters))
        h, w = conv_output_size(h, 2, 2, "valid"), conv_output_size(w, 2, 2, "valid")
        shapes.append((h, w, filters))
'''

SHAPES_BACK_TO_THE_PAGE_SIZE = _SHAPES_THROUGH_THE_ENCODER + '''\
    # the up-scaling "gives the page back": true only for multiples of 8
    shapes += [(height, width, 80), (height, width, num_classes), (height, width, num_classes)]
    return shapes
'''

FCN_UPSCALING_4X = '''
def build_fcn_upscaling(num_classes):
    layers = keras.layers
    return keras.Sequential([
        keras.Input(shape=(None, None, 1)),
        layers.Conv2D(40, (3, 3), padding="same", activation="relu"),
        layers.MaxPooling2D(2),
        layers.Conv2D(40, (4, 4), padding="same", activation="relu"),
        layers.MaxPooling2D(2),
        layers.Conv2D(80, (4, 4), padding="same", activation="relu"),
        layers.MaxPooling2D(2),
        layers.UpSampling2D((4, 4)),
        layers.Conv2D(num_classes, (1, 1), activation="softmax"),
    ])
'''

# The slide's FCN with a second softmax on top: right layers, right shape, outputs that
# still sum to 1; the visible test counts the softmax layers and names the mistake, the
# trusted hidden check compares the outputs with the slide's network for the same weights
# (9/12: tests/autograder/test_grading_paths.py).
FCN_WITH_SOFTMAX_TWICE = FCN_UPSCALING_4X.replace("UpSampling2D((4, 4))", "UpSampling2D((8, 8))").replace(
    'layers.Conv2D(num_classes, (1, 1), activation="softmax"),',
    'layers.Conv2D(num_classes, (1, 1), activation="softmax"),\n        layers.Activation("softmax"),')
assert FCN_WITH_SOFTMAX_TWICE.count("softmax") == 2 and "(8, 8)" in FCN_WITH_SOFTMAX_TWICE, "FCN_UPSCALING_4X changed"

# A second softmax the layers do not show: one activation function, named softmax, that
# applies it twice. The visible test and the notebook's own hidden test see one softmax
# layer and pass; the trusted hidden check compares the outputs with the slide's network
# for the same weights and fails (10/12; stock nbgrader gives 12/12:
# tests/autograder/test_grading_paths.py).
FCN_WITH_SOFTMAX_TWICE_IN_ONE_ACTIVATION = '''
def build_fcn_upscaling(num_classes):
    def softmax(x):          # "to be sure the probabilities sum to 1"
        return ops.softmax(ops.softmax(x))

    layers = keras.layers
    return keras.Sequential([
        keras.Input(shape=(None, None, 1)),
        layers.Conv2D(40, (3, 3), padding="same", activation="relu"),
        layers.MaxPooling2D(pool_size=(2, 2), strides=2),
        layers.Conv2D(40, (4, 4), padding="same", activation="relu"),
        layers.MaxPooling2D(pool_size=(2, 2), strides=2),
        layers.Conv2D(80, (4, 4), padding="same", activation="relu"),
        layers.MaxPooling2D(pool_size=(2, 2), strides=2),
        layers.UpSampling2D((8, 8), interpolation="nearest"),
        layers.Conv2D(num_classes, (1, 1)),
        layers.Activation(softmax),
    ])
'''

MULTI_LABEL_WITH_A_TYPO = '''
def multi_label_mask(labels, channel_classes):
    labels = np.asarray(labels)
    return np.stack([np.isin(labels, classes) for classes in channel_classes], axis=-1).astype(np.float32)


def decode_multi_label(probabilities, threshold=0.5):
    return (np.asarray(probabilities) > threshold).astpye(np.float32)
'''

SHAPES_THAT_NEVER_RETURN = _SHAPES_THROUGH_THE_ENCODER + '''\
    # "grow" back by doubling until the page size is reached: the product is never assigned
    up_h, up_w = h, w
    while up_h < h * 8:
        up_h * 2
    shapes += [(up_h, up_w * 8, 80), (up_h, up_w * 8, num_classes), (up_h, up_w * 8, num_classes)]
    return shapes
'''

# Replacement code per student, by nbgrader grade_id of the solution cell.
ANSWER_OVERRIDES: dict[str, dict[str, str]] = {
    "demo-correct": {"fcn_model": CORRECT_FCN_AS_ON_THE_SLIDE},
    "demo-partial": {
        "encoding": ONE_HOT_WITHOUT_NEGATIVE_CHECK,
        "layer_shapes": SHAPES_BACK_TO_THE_PAGE_SIZE,
        "fcn_model": FCN_UPSCALING_4X,
    },
    "demo-crash": {"multi_label": MULTI_LABEL_WITH_A_TYPO},
    "demo-infinite-loop": {"layer_shapes": SHAPES_THAT_NEVER_RETURN},
}

# Points each student deserves, per grade cell (visible tests 1 point, hidden tests 2).
_FULL_MARKS = {
    "test_encoding_visible": 1.0, "test_encoding_hidden": 2.0,
    "test_multi_label_visible": 1.0, "test_multi_label_hidden": 2.0,
    "test_layer_shapes_visible": 1.0, "test_layer_shapes_hidden": 2.0,
    "test_fcn_visible": 1.0, "test_fcn_hidden": 2.0,
}
EXPECTED_POINTS: dict[str, dict[str, float]] = {
    "demo-correct": dict(_FULL_MARKS),
    "demo-partial": {**_FULL_MARKS, "test_encoding_hidden": 0.0, "test_layer_shapes_hidden": 0.0,
                     "test_fcn_visible": 0.0, "test_fcn_hidden": 0.0},
    "demo-crash": {**_FULL_MARKS, "test_multi_label_visible": 0.0, "test_multi_label_hidden": 0.0},
    "demo-infinite-loop": {**_FULL_MARKS, "test_layer_shapes_visible": 0.0, "test_layer_shapes_hidden": 0.0},
}
STUDENTS = list(ANSWER_OVERRIDES)

_SOLUTION_REGION = re.compile(r"^[ \t]*### (BEGIN|END) SOLUTION[ \t]*\n", re.MULTILINE)


def solution_answers(source_notebook: Path) -> dict[str, str]:
    """The instructor's answer of every solution cell, markers removed, by grade_id."""
    notebook = nbformat.read(source_notebook, as_version=4)
    answers = {}
    for cell in notebook.cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("solution"):
            answers[meta["grade_id"]] = _SOLUTION_REGION.sub("", cell.source)
    return answers


def build_submission(release_notebook: Path, answers: dict[str, str]):
    """The released notebook with each solution cell's source replaced by ``answers``."""
    notebook = nbformat.read(release_notebook, as_version=4)
    for cell in notebook.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if cell.metadata.get("nbgrader", {}).get("solution") and grade_id in answers:
            cell.source = answers[grade_id].strip("\n")
    return notebook


def write_demo_submissions(course_root: Path, submitted_directory: Path) -> list[str]:
    """Write every demo student's notebook under ``submitted/<student>/fcn_basics/``.

    Returns the student ids, in table order.
    """
    answers = solution_answers(course_root / "solutions" / ASSIGNMENT / NOTEBOOK)
    release = course_root / "exercises" / ASSIGNMENT / NOTEBOOK
    for student, overrides in ANSWER_OVERRIDES.items():
        folder = submitted_directory / student / ASSIGNMENT
        folder.mkdir(parents=True, exist_ok=True)
        nbformat.write(build_submission(release, {**answers, **overrides}), folder / NOTEBOOK)
        (folder / "timestamp.txt").write_text("2026-11-25 12:00:00.000000 UTC")
    return list(STUDENTS)
