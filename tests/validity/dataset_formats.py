"""Validity variants of ``dataset_formats``: correct answers written differently, common wrong
answers, the students of its real sandboxed batch and its "library-answers" student
(what each field means: tests/validity/variant.py)."""

from __future__ import annotations

from tests.validity.variant import Variant

VARIANTS = [
    Variant("label-ids-compare-per-class", "label_ids", code='''
def label_ids_to_train_ids(label_ids):
    ids = np.asarray(label_ids)
    out = np.full(ids.shape, 255)
    for label_id, train_id in CITYSCAPES_TRAIN_IDS.items():
        out[ids == label_id] = train_id     # masks of the ORIGINAL values: no chains
    return out
'''),
    Variant("label-ids-zero-default", "label_ids",
            {"test_label_ids_visible": "ego vehicle 255", "test_label_ids_hidden": "wrong trainIds"},
            edits=[("table = np.full(256, IGNORE, dtype=np.int64)", "table = np.zeros(256, dtype=np.int64)")]),
    Variant("label-ids-table-of-34", "label_ids", {"test_label_ids_hidden": "values above 33"},
            edits=[("table = np.full(256, IGNORE, dtype=np.int64)", "table = np.full(34, IGNORE, dtype=np.int64)")]),
    Variant("label-ids-in-place-chain", "label_ids",
            {"test_label_ids_visible": "car 13", "test_label_ids_hidden": "convert from the original values"},
            code='''
def label_ids_to_train_ids(label_ids):
    out = np.asarray(label_ids).astype(np.int64)
    out[~np.isin(out, list(CITYSCAPES_TRAIN_IDS))] = 255
    for label_id, train_id in sorted(CITYSCAPES_TRAIN_IDS.items(), reverse=True):
        out[out == label_id] = train_id     # car 26 -> 13, then 13 (fence) -> 4
    return out
'''),
    Variant("palette-vectorised", "palette", code='''
def voc_palette(num_colours=256):
    index = np.arange(num_colours)
    palette = np.zeros((num_colours, 3), dtype=np.uint8)
    for j in range(8):
        for channel in range(3):
            palette[:, channel] |= (((index >> (3 * j + channel)) & 1) << (7 - j)).astype(np.uint8)
    return palette
'''),
    Variant("palette-low-bits", "palette", {"test_palette_visible": "Index 1 should be (128, 0, 0)",
                                           "test_palette_hidden": "colours are wrong"},
            edits=[("<< (7 - j)", "<< j")]),
    Variant("palette-red-blue-swapped", "palette", {"test_palette_visible": "Index 1 should be (128, 0, 0)",
                                                   "test_palette_hidden": "colours are wrong"},
            edits=[("palette[index] = red, green, blue", "palette[index] = blue, green, red")]),
    Variant("decode-compare-channels", "decode", code='''
def decode_palette(rgb, palette):
    rgb = np.asarray(rgb)
    out = np.full(rgb.shape[:-1], 255)
    for index, colour in enumerate(np.asarray(palette)):
        out[np.all(rgb == colour, axis=-1)] = index
    return out
'''),
    Variant("decode-channel-sum", "decode", {"test_decode_visible": "index of its colour",
                                            "test_decode_hidden": "wrong indices"}, code='''
def decode_palette(rgb, palette):
    sums = np.asarray(rgb).astype(np.int64).sum(axis=-1)
    out = np.full(sums.shape, 255)
    for index, colour in enumerate(np.asarray(palette).astype(np.int64)):
        out[sums == colour.sum()] = index
    return out
'''),
    Variant("decode-uint8-shift", "decode", {"test_decode_visible": "index of its colour",
                                            "test_decode_hidden": "wrong indices"},
            edits=[("rgb = np.asarray(rgb).astype(np.int64)\n", "rgb = np.asarray(rgb)\n"),
                   ("codes = rgb[..., 0] * 65536 + rgb[..., 1] * 256 + rgb[..., 2]",
                    "codes = (rgb[..., 0] << 16) | (rgb[..., 1] << 8) | rgb[..., 2]")]),
    Variant("decode-unknown-zero", "decode", {"test_decode_visible": "unknown colour 255",
                                             "test_decode_hidden": "wrong indices"},
            edits=[("indices = np.full(codes.shape, IGNORE, dtype=np.int64)",
                    "indices = np.zeros(codes.shape, dtype=np.int64)")]),
    Variant("frequencies-per-class-loop", "frequencies", code='''
def class_frequencies(labels, num_classes, ignore_index):
    labels = np.asarray(labels)
    valid = labels != ignore_index
    if np.any((labels[valid] < 0) | (labels[valid] >= num_classes)):
        raise ValueError("a label is outside the classes")
    total = int(valid.sum())
    return np.array([np.sum(labels == c) / total if total else 0.0 for c in range(num_classes)])
'''),
    Variant("frequencies-divide-by-all-pixels", "frequencies",
            {"test_frequencies_visible": "18 of the 24 pixels are labelled", "test_frequencies_hidden": "wrong values"},
            edits=[("return counts / counted.size if counted.size else counts",
                    "return counts / values.size if counted.size else counts")]),
    Variant("frequencies-no-minlength", "frequencies",
            {"test_frequencies_visible": "one entry per class", "test_frequencies_hidden": "one entry per class"},
            edits=[("np.bincount(counted, minlength=num_classes)", "np.bincount(counted)")]),
    Variant("frequencies-no-range-check", "frequencies", {"test_frequencies_hidden": "should raise ValueError"},
            edits=[("    if counted.size and (counted.min() < 0 or counted.max() >= num_classes):\n"
                    "        raise ValueError(f\"labels must be in 0..{num_classes - 1} or {ignore_index}, \"\n"
                    "                         f\"found {counted.min()}..{counted.max()}\")\n", "")]),
]


# Students of the real sandboxed batch (variants of different cells, see variant.py).
BATCH_STUDENTS = {
"alt-correct": ["label-ids-compare-per-class", "palette-vectorised", "decode-compare-channels",
                "frequencies-per-class-loop"],
"wrong-a": ["label-ids-zero-default", "palette-low-bits", "decode-channel-sum", "frequencies-no-range-check"],
"wrong-b": ["label-ids-table-of-34", "palette-red-blue-swapped", "decode-unknown-zero",
            "frequencies-divide-by-all-pixels"],
}


# Every solution cell answered through the course library (the "library-answers" student).
# The library answers import inside the functions: in the grading edition the package
# course_utils.datasets itself cannot be imported (bit_palette makes VOC's palette at import).
LIBRARY_ANSWERS = {
    "label_ids": '''
def label_ids_to_train_ids(label_ids):
    from course_utils.datasets import cityscapes
    return cityscapes.label_ids_to_train_ids(label_ids)
''',
    "palette": '''
def voc_palette(num_colours=256):
    from course_utils.datasets.common import bit_palette
    return bit_palette(num_colours)
''',
    "decode": '''
def decode_palette(rgb, palette):
    from course_utils.datasets import common
    return common.decode_palette(rgb, palette)
''',
    "frequencies": '''
def class_frequencies(labels, num_classes, ignore_index):
    from course_utils import data
    values = np.asarray(labels).ravel()
    return data.class_frequencies(values[values != ignore_index], num_classes)
''',
}

