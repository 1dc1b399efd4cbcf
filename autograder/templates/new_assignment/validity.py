"""Validity variants of ``__ASSIGNMENT__``: correct answers written differently, common wrong
answers, the students of its real sandboxed batch and its "library-answers" student
(what each field means: tests/validity/variant.py).

Written by ``segcourse new-assignment`` for ``pixel_accuracy``: give every solution cell of
your notebook at least one correct and one wrong variant.
"""

from __future__ import annotations

from tests.validity.variant import Variant

VARIANTS = [
    Variant("accuracy-count-nonzero", "accuracy", code='''
def pixel_accuracy(y_true, y_pred):
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    return np.count_nonzero(y_true == y_pred) / y_true.size
'''),
    # right on one map, but a batch of maps does not unpack into (height, width)
    Variant("accuracy-one-map-only", "accuracy", {"test_accuracy_hidden": "a batch of label maps"}, code='''
def pixel_accuracy(y_true, y_pred):
    height, width = np.shape(y_true)
    right = sum(y_true[i][j] == y_pred[i][j] for i in range(height) for j in range(width))
    return float(right / (height * width))
'''),
]


# Students of the real sandboxed batch (variants of different cells, see variant.py).
BATCH_STUDENTS = {
    "alt-correct": ["accuracy-count-nonzero"],
    "wrong-a": ["accuracy-one-map-only"],
}


# Every solution cell answered through the course library (the "library-answers" student).
LIBRARY_ANSWERS = {
    "accuracy": "from course_utils.metrics import pixel_accuracy\n",
}
