"""The demo's small class: four sample submissions and the scores they deserve.

Each student answers the ``fcn_basics`` assignment. Their answers are the solution
cells of ``solutions/fcn_basics`` with some cells replaced by the code below:

- ``demo-correct``: every part right. Part 4 copies the slide's ``Sequential`` code with
  ``input_shape=``, which makes Keras print a ``UserWarning`` to stderr inside the test
  cell: log noise that must not cost points.
- ``demo-partial``: Dice returns ``nan`` for two empty masks, the soft Dice loss sums
  ``y_pred`` instead of ``y_pred**2`` (both pass the visible tests and fail the hidden
  ones), and the FCN up-scales 4x instead of 8x (fails both tests).
- ``demo-crash``: Dice raises an ``AttributeError`` (a typo) whenever it is called.
- ``demo-infinite-loop``: the soft Dice loss never returns; its test cells hit the
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

DICE_WITHOUT_EMPTY_CONVENTION = '''
def dice_coefficient(y_true, y_pred):
    y_true = np.asarray(y_true, dtype=bool)
    y_pred = np.asarray(y_pred, dtype=bool)
    with np.errstate(invalid="ignore"):
        return float(2 * np.sum(y_true & y_pred) / (np.sum(y_true) + np.sum(y_pred)))
'''

SOFT_DICE_WITHOUT_SQUARES = '''
def soft_dice_loss(y_true, y_pred, smooth=1.0):
    intersection = ops.sum(y_true * y_pred, axis=(1, 2))
    denominator = ops.sum(y_true, axis=(1, 2)) + ops.sum(y_pred, axis=(1, 2))
    return ops.mean(1.0 - (2.0 * intersection + smooth) / (denominator + smooth), axis=-1)
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
# still sum to 1, so the visible test and the notebook's own hidden test pass; the trusted
# hidden check compares the outputs with the slide's network for the same weights and
# fails (10/12; stock nbgrader gives 12/12: tests/autograder/test_grading_paths.py).
FCN_WITH_SOFTMAX_TWICE = FCN_UPSCALING_4X.replace("UpSampling2D((4, 4))", "UpSampling2D((8, 8))").replace(
    'layers.Conv2D(num_classes, (1, 1), activation="softmax"),',
    'layers.Conv2D(num_classes, (1, 1), activation="softmax"),\n        layers.Activation("softmax"),')
assert FCN_WITH_SOFTMAX_TWICE.count("softmax") == 2 and "(8, 8)" in FCN_WITH_SOFTMAX_TWICE, "FCN_UPSCALING_4X changed"

DICE_WITH_A_TYPO = '''
def dice_coefficient(y_true, y_pred):
    y_true = np.asarray(y_true).astype(bool)
    y_pred = np.asarray(y_pred).astype(bool)
    total = y_true.sum() + y_pred.summ()
    return float(2 * (y_true & y_pred).sum() / total) if total else 1.0
'''

SOFT_DICE_THAT_NEVER_RETURNS = '''
def soft_dice_loss(y_true, y_pred, smooth=1.0):
    # "refine" the smoothing until the loss stops changing: it never does
    previous = None
    while True:
        intersection = ops.sum(y_true * y_pred, axis=(1, 2))
        denominator = ops.sum(y_true ** 2, axis=(1, 2)) + ops.sum(y_pred ** 2, axis=(1, 2))
        loss = ops.mean(1.0 - (2.0 * intersection + smooth) / (denominator + smooth), axis=-1)
        if previous is not None and previous is loss:
            return loss
        previous = loss
'''

# Replacement code per student, by nbgrader grade_id of the solution cell.
ANSWER_OVERRIDES: dict[str, dict[str, str]] = {
    "demo-correct": {"fcn_model": CORRECT_FCN_AS_ON_THE_SLIDE},
    "demo-partial": {
        "dice": DICE_WITHOUT_EMPTY_CONVENTION,
        "soft_dice": SOFT_DICE_WITHOUT_SQUARES,
        "fcn_model": FCN_UPSCALING_4X,
    },
    "demo-crash": {"dice": DICE_WITH_A_TYPO},
    "demo-infinite-loop": {"soft_dice": SOFT_DICE_THAT_NEVER_RETURNS},
}

# Points each student deserves, per grade cell (visible tests 1 point, hidden tests 2).
_FULL_MARKS = {
    "test_dimensions_visible": 1.0, "test_dimensions_hidden": 2.0,
    "test_dice_visible": 1.0, "test_dice_hidden": 2.0,
    "test_soft_dice_visible": 1.0, "test_soft_dice_hidden": 2.0,
    "test_fcn_visible": 1.0, "test_fcn_hidden": 2.0,
}
EXPECTED_POINTS: dict[str, dict[str, float]] = {
    "demo-correct": dict(_FULL_MARKS),
    "demo-partial": {**_FULL_MARKS, "test_dice_hidden": 0.0, "test_soft_dice_hidden": 0.0,
                     "test_fcn_visible": 0.0, "test_fcn_hidden": 0.0},
    "demo-crash": {**_FULL_MARKS, "test_dice_visible": 0.0, "test_dice_hidden": 0.0},
    "demo-infinite-loop": {**_FULL_MARKS, "test_soft_dice_visible": 0.0, "test_soft_dice_hidden": 0.0},
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
