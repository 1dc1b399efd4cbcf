"""Self-checks of the mask encodings of lecture 01: label map to one-hot, class scores to
label map, multi-label masks of non-exclusive classes and their decoding by threshold.

Assignment ``fcn_basics``.
"""

import numpy as np

from .engine import _Case, _run_check, _variant_check

__all__ = ["check_labels_to_one_hot", "check_labels_from_scores", "check_multi_label_mask",
           "check_decode_multi_label"]

# The visible tests' examples (their expected values are shown in the notebook).
_LABEL_MAP = np.array([[0, 2, 1], [1, 1, 0]])
_SCORES = np.array([[[0.1, 0.7, 0.2], [2.0, -1.0, 0.5]]])
_EXTENDED_LABELS = np.array([[1, 5, 0], [2, 4, 3]])
_LECTURE_CHANNELS = [[1, 5], [5], [2, 4], [4], [3]]      # text, heading, figure or table, table, separator
_PROBABILITIES = np.array([[[0.9, 0.8, 0.1], [0.2, 0.1, 0.3], [0.4, 0.7, 0.6]]])


def _one_hot_reference(labels, num_classes):
    labels = np.asarray(labels)
    if np.any((labels < 0) | (labels >= num_classes)):
        raise ValueError(f"labels must be in [0, {num_classes})")
    return np.eye(num_classes, dtype=np.float32)[labels]


def _labels_from_scores_reference(scores):
    return np.argmax(np.asarray(scores), axis=-1)


def _multi_label_reference(labels, channel_classes):
    labels = np.asarray(labels)
    return np.stack([np.isin(labels, classes) for classes in channel_classes], axis=-1).astype(np.float32)


def _decode_multi_label_reference(probabilities, threshold=0.5):
    return (np.asarray(probabilities) > threshold).astype(np.float32)


# --- Part 1: one-hot and back --------------------------------------------------------------------


def _one_hot_wrapping_negatives(labels, num_classes):
    """No range check: NumPy indexing wraps -1 to the last class (and fails on too large labels)."""
    labels = np.asarray(labels)
    if labels.size and labels.max() >= num_classes:
        raise IndexError(f"index {labels.max()} is out of bounds for axis 0 with size {num_classes}")
    return _one_hot_reference(np.where(labels < 0, labels + num_classes, labels), num_classes)


def _one_hot_cases():
    rng = np.random.default_rng(31)
    return [
        _Case("the notebook's 2x3 label map, 3 classes", (_LABEL_MAP, 3), public=True),
        _Case("a batch of 2 label maps 3x4, 5 classes (class 4 absent)", (rng.integers(0, 4, size=(2, 3, 4)), 5)),
        _Case("a 4x5 uint8 label map, 6 classes", (rng.integers(0, 6, size=(4, 5)).astype(np.uint8), 6)),
        _Case("a label map with the label -1, 3 classes", (np.array([[0, -1], [2, 1]]), 3)),
        _Case("a label map with the label 3, 3 classes", (np.array([[0, 3]]), 3)),
    ]


_ONE_HOT_CHECK = _variant_check(
    "labels_to_one_hot", _one_hot_cases(), _one_hot_reference,
    variants=[
        ("classes_first", "the class axis comes first, not last", (
            "Compare the shape of your result with (height, width, num_classes).",
            "np.stack([...]) and np.array([...]) of per-class masks put the classes first; "
            "stack along axis=-1, or index np.eye(num_classes) with the label map.",
        ), lambda labels, num_classes: np.moveaxis(_one_hot_reference(labels, num_classes), -1, 0)),
        ("channels_from_the_map", "the number of channels comes from the labels, not from num_classes", (
            "A class absent from the map still needs its channel.",
            "Use num_classes for the number of channels, not labels.max() + 1 or np.unique(labels).",
        ), lambda labels, num_classes: _one_hot_reference(labels, int(np.max(labels)) + 1)),
        ("negative_labels_wrap", "a label outside [0, num_classes) does not raise ValueError", (
            "What does your function do with the label -1?",
            "NumPy indexing wraps -1 to the last class without an error: check "
            "(labels < 0) | (labels >= num_classes) first and raise ValueError.",
        ), _one_hot_wrapping_negatives),
    ],
    generic_hints=(
        "Channel k of the result is 1 where the label is k and 0 elsewhere, with the class axis last.",
        "Print your result for the notebook's 2x3 label map, channel by channel (result[..., k]).",
    ),
)


def check_labels_to_one_hot(labels_to_one_hot, assignment=None, quiet=False):
    """Check ``labels_to_one_hot(labels, num_classes)``.

    Diagnoses: the class axis first, the channels counted from the map, labels outside
    [0, num_classes) not raising ValueError.
    """
    return _run_check(_ONE_HOT_CHECK, labels_to_one_hot, assignment, quiet)


def _scores_cases():
    rng = np.random.default_rng(32)
    return [
        _Case("the notebook's 1x2 scores, 3 classes", (_SCORES,), public=True),
        _Case("the notebook's one-hot mask (of its 2x3 label map)", (np.eye(3)[_LABEL_MAP],), public=True),
        _Case("random logits of shape (3, 4, 5)", (rng.normal(size=(3, 4, 5)),)),
        _Case("random probabilities of shape (2, 3, 4, 6)", (rng.dirichlet(np.ones(6), size=(2, 3, 4)),)),
    ]


_SCORES_CHECK = _variant_check(
    "labels_from_scores", _scores_cases(), _labels_from_scores_reference,
    variants=[
        ("argmax_first_axis", "the argmax runs over the first axis, not the class axis", (
            "Which axis holds the classes? The shape is (..., num_classes).",
            "np.argmax(scores, axis=-1): the last axis.",
        ), lambda scores: _labels_from_scores_reference(np.moveaxis(np.asarray(scores), 0, -1))),
        ("highest_score_not_class", "the result is the highest score, not its class", (
            "A label map holds class ids (ints), not probabilities.",
            "np.max gives the score; np.argmax gives the index of the class.",
        ), lambda scores: np.max(np.asarray(scores), axis=-1)),
        ("argmax_flattened", "the argmax runs over the whole array", (
            "Without axis=..., np.argmax flattens the array and returns one number.",
        ), lambda scores: np.argmax(np.asarray(scores))),
    ],
    generic_hints=(
        "The label of a pixel is the index of its highest score along the last axis.",
    ),
)


def check_labels_from_scores(labels_from_scores, assignment=None, quiet=False):
    """Check ``labels_from_scores(scores)``.

    Diagnoses: the argmax over the wrong axis or over the whole array, the highest score
    returned instead of its class.
    """
    return _run_check(_SCORES_CHECK, labels_from_scores, assignment, quiet)


# --- Part 2: multi-label masks ---------------------------------------------------------------------


def _multi_label_cases():
    rng = np.random.default_rng(33)
    return [
        _Case("the notebook's 2x3 label map with the lecture's five channels", (_EXTENDED_LABELS, _LECTURE_CHANNELS),
              public=True),
        _Case("a random 6x7 label map with the lecture's five channels",
              (rng.integers(0, 6, size=(6, 7)), _LECTURE_CHANNELS)),
        _Case("a batch of 2 random 4x5 label maps, channels [[0], [1, 2, 3], [3, 4, 5]]",
              (rng.integers(0, 6, size=(2, 4, 5)), [[0], [1, 2, 3], [3, 4, 5]])),
        _Case("a random 3x3 label map, channels [[5, 1], [2]]", (rng.integers(0, 6, size=(3, 3)), [[5, 1], [2]])),
    ]


_MULTI_LABEL_CHECK = _variant_check(
    "multi_label_mask", _multi_label_cases(), _multi_label_reference,
    variants=[
        ("first_class_only", "each channel uses only the first class of its list", (
            "A heading pixel (5) belongs to the text channel [1, 5] too.",
            "Test every class of channel_classes[j] (np.isin(labels, channel_classes[j])), not only the first.",
        ), lambda labels, channel_classes: _multi_label_reference(labels, [c[:1] for c in channel_classes])),
        ("channel_is_class_id", "channel j is the class j, whatever channel_classes says", (
            "The channels are defined by channel_classes, not by the class ids.",
            "Channel j is 1 where the label is one of channel_classes[j].",
        ), lambda labels, channel_classes: _multi_label_reference(labels, [[j] for j in range(len(channel_classes))])),
        ("channels_first", "the channel axis comes first, not last", (
            "Compare the shape of your result with labels.shape + (len(channel_classes),).",
            "np.stack(..., axis=-1) puts the channels last.",
        ), lambda labels, channel_classes: np.moveaxis(_multi_label_reference(labels, channel_classes), -1, 0)),
    ],
    generic_hints=(
        "Channel j is 1 exactly where the pixel's class is one of channel_classes[j]; a pixel may have several 1s.",
    ),
)


def check_multi_label_mask(multi_label_mask, assignment=None, quiet=False):
    """Check ``multi_label_mask(labels, channel_classes)``.

    Diagnoses: only the first class of each channel, channels taken as class ids, the
    channel axis first.
    """
    return _run_check(_MULTI_LABEL_CHECK, multi_label_mask, assignment, quiet)


def _with_values_at(probabilities, threshold, seed):
    """``probabilities`` with about a fifth of the values set exactly to ``threshold``."""
    probabilities = probabilities.copy()
    probabilities[np.random.default_rng(seed).random(probabilities.shape) < 0.2] = threshold
    return probabilities


def _decode_multi_label_cases():
    rng = np.random.default_rng(34)
    return [
        _Case("the notebook's 1x3 pixels, threshold 0.5", (_PROBABILITIES,), public=True),
        _Case("the notebook's 1x3 pixels, threshold 0.75", (_PROBABILITIES,), {"threshold": 0.75}, public=True),
        _Case("random probabilities (4, 5, 3), some equal to the threshold 0.5",
              (_with_values_at(rng.random((4, 5, 3)), 0.5, 1),)),
        _Case("random probabilities (2, 3, 4, 5), threshold 0.25, some equal to it",
              (_with_values_at(rng.random((2, 3, 4, 5)), 0.25, 2),), {"threshold": 0.25}),
    ]


def _decoded_by_argmax(probabilities, threshold=0.5):
    probabilities = np.asarray(probabilities)
    return np.eye(probabilities.shape[-1], dtype=np.float32)[np.argmax(probabilities, axis=-1)]


_DECODE_CHECK = _variant_check(
    "decode_multi_label", _decode_multi_label_cases(), _decode_multi_label_reference,
    variants=[
        ("argmax", "the decoding keeps one label per pixel (an argmax)", (
            "A pixel can have two labels (a heading is text), or none: the channels are independent.",
            "Compare every probability with the threshold; an argmax (what a softmax output needs) keeps "
            "exactly one class.",
        ), _decoded_by_argmax),
        ("threshold_inclusive", "a probability equal to the threshold counts as on", (
            "'Strictly above' the threshold: what does your function give for a probability of exactly 0.5?",
            "Use > threshold, not >= threshold.",
        ), lambda probabilities, threshold=0.5: _decode_multi_label_reference(probabilities, threshold)
            + (np.asarray(probabilities) == threshold)),
        ("threshold_ignored", "the threshold argument is ignored", (
            "Use the threshold you are given, not a fixed 0.5.",
        ), lambda probabilities, threshold=0.5: _decode_multi_label_reference(probabilities, 0.5)),
    ],
    generic_hints=(
        "Each channel is on (1) where its probability is above the threshold, off (0) elsewhere; the shape stays.",
    ),
)


def check_decode_multi_label(decode_multi_label, assignment=None, quiet=False):
    """Check ``decode_multi_label(probabilities, threshold=0.5)``.

    Diagnoses: an argmax (one label per pixel), a probability equal to the threshold
    counted as on, the threshold ignored.
    """
    return _run_check(_DECODE_CHECK, decode_multi_label, assignment, quiet)
