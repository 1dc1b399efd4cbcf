"""Self-checks of the dataset label formats: Cityscapes ``labelIds`` to ``trainIds``, the
Pascal VOC colour map, decoding colour-coded labels, and class frequencies with an ignore id.

Assignment ``dataset_formats``. Each exercise's known-wrong versions come from one factory
whose flags name the mistake (with no flag set it is the right answer, so the student kit
answers it from stored outputs).
"""

import numpy as np

from .engine import _Case, _Mistake, _Raised, _run_check, _same, _variant_check

__all__ = ["check_label_ids_to_train_ids", "check_voc_palette", "check_decode_palette", "check_class_frequencies"]

IGNORE = 255  # the ignore id of Cityscapes, VOC, COCO-Stuff and BDD100K

# Cityscapes: labelId -> trainId of the 19 evaluated classes (the notebook's CITYSCAPES_TRAIN_IDS).
_TRAIN_IDS = {7: 0, 8: 1, 11: 2, 12: 3, 13: 4, 17: 5, 19: 6, 20: 7, 21: 8, 22: 9, 23: 10, 24: 11, 25: 12,
              26: 13, 27: 14, 28: 15, 31: 16, 32: 17, 33: 18}


def _integer_array(output):
    return isinstance(output, _Raised) or np.asarray(output).dtype.kind in "iu"


def _right_but_not_integers():
    return _Mistake("not_integers", "the values are right but not integers", (
        "Ids and class indices are whole numbers: build the table or the result with an integer dtype "
        "(np.full(..., 255, dtype=np.int64)).",
    ), lambda cases, outputs, expected: all(_same(o, e) for o, e in zip(outputs, expected)))


def _raises_index_error(cases, outputs, expected):
    """Detector: a call that should return raised an IndexError (a table too short)."""
    return any(isinstance(o, _Raised) and isinstance(o.error, IndexError) and not isinstance(e, _Raised)
               for o, e in zip(outputs, expected))


# --- Part 1: labelIds -> trainIds --------------------------------------------------------------


def _train_ids_variant(default=IGNORE, table_size=256, chained=False):
    """``label_ids_to_train_ids`` with a known mistake: another default than 255, a table of
    ``table_size`` entries, or the classes replaced one after the other in place."""

    def variant(label_ids):
        ids = np.asarray(label_ids).astype(np.int64)
        if chained:      # out[out == 26] = 13, then out[out == 13] = 4, ...: later classes rewrite earlier ones
            converted = np.where(np.isin(ids, list(_TRAIN_IDS)), ids, IGNORE)
            for label_id in sorted(_TRAIN_IDS, reverse=True):
                converted[converted == label_id] = _TRAIN_IDS[label_id]
            return converted
        lookup = np.full(table_size, default, dtype=np.int64)
        lookup[list(_TRAIN_IDS)] = list(_TRAIN_IDS.values())
        return lookup[ids]

    return variant


def _train_ids_cases():
    rng = np.random.default_rng(61)
    scene = np.array([[23, 23, 23, 23, 11, 11], [23, 23, 17, 23, 11, 11], [7, 7, 26, 26, 9, 8], [1] * 6], np.uint8)
    return [_Case("the notebook's 4x6 street scene", (scene,), public=True),
            _Case("the notebook's labelIds 0-33", (np.arange(34),), public=True),
            _Case("random labelIds 0-33 of shape (2, 5, 7), uint8", (rng.integers(0, 34, (2, 5, 7)).astype(np.uint8),)),
            _Case("values 0-255 (above 33: not Cityscapes), int64", (rng.integers(0, 256, (6, 9)),))]


_TRAIN_IDS_CHECK = _variant_check(
    "label_ids_to_train_ids", _train_ids_cases(), _train_ids_variant(),
    [("zero_default", "ids not in the table become 0 (road), not 255", (
        "Which trainId does the ego vehicle (labelId 1) get? 0 is road.",
        "Start the table with np.full(256, 255), not with zeros: every id not in the table is ignored.",
     ), _train_ids_variant(default=0)),
     ("chained_replacement", "classes replaced one after the other in place: some pixels are mapped twice", (
         "A car (26) becomes 13, and 13 is also the labelId of fence: is it then converted again?",
         "Convert from the original values in one step: table[label_ids] with a table of 256 entries.",
     ), _train_ids_variant(chained=True))],
    ("Make a table of 256 entries filled with 255, set table[label_id] = train_id for the 19 classes, "
     "return table[label_ids].",),
    output_ok=_integer_array,
    extra_mistakes=[
        _Mistake("table_too_small", "values above 33 raise an IndexError", (
            "An 8-bit label file can hold any value 0-255: the table needs all 256 entries.",
            "np.full(256, 255), not np.full(34, 255): values above 33 must give 255.",
        ), _raises_index_error),
        _right_but_not_integers()])


def check_label_ids_to_train_ids(label_ids_to_train_ids, assignment=None, quiet=False):
    """Check ``label_ids_to_train_ids(label_ids)`` on the notebook's scene, every labelId and
    random maps (values above 33 included).

    Diagnoses: 0 instead of 255 for ids not in the table, a table of 34 entries, classes
    replaced in place one after the other, non-integer results.
    """
    return _run_check(_TRAIN_IDS_CHECK, label_ids_to_train_ids, assignment, quiet)


# --- Part 2: the VOC colour map ----------------------------------------------------------------


def _palette_variant(low_bits=False, red_blue_swapped=False):
    """``voc_palette`` with a known mistake: the bits go to the lowest bits of each channel,
    or red and blue change places."""

    def variant(num_colours=256):
        colours = np.zeros((num_colours, 3), dtype=np.uint8)
        for index in range(num_colours):
            for bit in range(8):
                channel, level = bit % 3, bit // 3
                if (index >> bit) & 1:
                    colours[index, channel] |= 1 << (level if low_bits else 7 - level)
        return colours[:, ::-1].copy() if red_blue_swapped else colours

    return variant


_PALETTE_CHECK = _variant_check(
    "voc_palette", [_Case("voc_palette()", ()), _Case("voc_palette(21)", (21,)), _Case("voc_palette(1)", (1,))],
    _palette_variant(),
    [("low_bits", "the index's bits go to the lowest bits of each channel", (
        "Index 1 is (128, 0, 0): the first group of bits goes to bit 7 of each channel.",
        "Shift by 7 - j in round j, not by j.",
     ), _palette_variant(low_bits=True)),
     ("red_blue_swapped", "red and blue are swapped", (
        "Index 1 is red (128, 0, 0) and index 4 is blue (0, 0, 128): bit 0 goes to red, bit 2 to blue.",
     ), _palette_variant(red_blue_swapped=True))],
    ("Row i: bits 0, 3, 6 of i become bits 7, 6, 5 of red; bits 1, 4, 7 of green; bits 2, 5 bits 7, 6 of blue.",),
    output_ok=lambda output: isinstance(output, _Raised) or np.asarray(output).dtype == np.uint8,
    extra_mistakes=[_Mistake("not_uint8", "the colours are right but not uint8", (
        "Return dtype=np.uint8: colours are bytes 0-255.",
    ), lambda cases, outputs, expected: all(_same(o, e) for o, e in zip(outputs, expected)))])


def check_voc_palette(voc_palette, assignment=None, quiet=False):
    """Check ``voc_palette(num_colours=256)``: all 256 colours, and 21 and 1 rows.

    Diagnoses: the bits in the lowest bits of the channels, red and blue swapped, not uint8.
    """
    return _run_check(_PALETTE_CHECK, voc_palette, assignment, quiet)


# --- Part 3: decoding colour-coded labels ------------------------------------------------------


def _decode_variant(channel_sum=False, uint8_shift=False, unknown=IGNORE):
    """``decode_palette`` with a known mistake: colours compared by the sum of their
    channels, packed with shifts in uint8 (red and green overflow to 0), or unknown colours
    given ``unknown``."""

    def variant(rgb, palette):
        pixels, colours = np.asarray(rgb), np.asarray(palette).astype(np.int64)
        if channel_sum:
            keys, wanted = pixels.astype(np.int64).sum(-1), colours.sum(-1)
        else:
            red, green = ((0, 0) if uint8_shift and pixels.dtype == np.uint8
                          else (pixels[..., 0].astype(np.int64) << 16, pixels[..., 1].astype(np.int64) << 8))
            keys = red | green | pixels[..., 2].astype(np.int64)
            wanted = (colours[:, 0] << 16) | (colours[:, 1] << 8) | colours[:, 2]
        result = np.full(keys.shape, unknown, dtype=np.int64)
        for index, key in enumerate(wanted):
            result[keys == key] = index
        return result

    return variant


def _decode_cases():
    rng = np.random.default_rng(73)
    voc = np.array([[0, 0, 0], [128, 0, 0], [0, 128, 0], [128, 128, 0], [0, 0, 128], [192, 128, 128],
                    [224, 224, 192]])
    labels = np.array([[0, 1, 1, 6], [2, 2, 5, 5], [0, 5, 6, 4]])
    image = voc[labels].astype(np.uint8)
    image[2, 3] = (10, 20, 30)
    codes = rng.choice(256 ** 3, size=12, replace=False)
    palette = np.stack([codes >> 16, (codes >> 8) & 255, codes & 255], axis=1)
    palette[:3] = [[200, 10, 0], [10, 200, 0], [0, 10, 200]]      # equal sums, different colours
    batch = palette[rng.integers(0, 12, (2, 4, 5))].astype(np.uint8)
    batch[0, 0, :2] = (1, 2, 3)
    return [_Case("VOC colours (background, aeroplane, bicycle, person, void) and an unknown colour",
                  (image, voc)),
            _Case("a batch (2, 4, 5, 3) with a random palette of 12 colours (3 with equal sums)", (batch, palette))]


_DECODE_CHECK = _variant_check(
    "decode_palette", _decode_cases(), _decode_variant(),
    [("channel_sum", "colours compared by the sum of their channels", (
        "(128, 0, 0) and (0, 128, 0) have the same sum but are different classes.",
        "Compare all three channels: np.all(rgb == colour, axis=-1), or pack r * 65536 + g * 256 + b.",
     ), _decode_variant(channel_sum=True)),
     ("uint8_overflow", "the colours are packed in uint8: red and green overflow to 0", (
        "In uint8, r << 16 and g << 8 are 0: only blue is left of each colour.",
        "Convert to a wide integer type first: np.asarray(rgb).astype(np.int64).",
     ), _decode_variant(uint8_shift=True)),
     ("unknown_zero", "unknown colours become 0 (background), not 255", (
        "Start the result filled with 255 (np.full(shape, 255)): a colour not in the palette is ignored.",
     ), _decode_variant(unknown=0))],
    ("For each palette row k, the pixels whose three channels equal it get k; all other pixels 255.",),
    output_ok=_integer_array, extra_mistakes=[_right_but_not_integers()])


def check_decode_palette(decode_palette, assignment=None, quiet=False):
    """Check ``decode_palette(rgb, palette)`` on VOC colours and a batch with a random palette.

    Diagnoses: colours compared by channel sums, uint8 overflow when packing, unknown colours
    as 0, non-integer results.
    """
    return _run_check(_DECODE_CHECK, decode_palette, assignment, quiet)


# --- Part 4: class frequencies with an ignore id -----------------------------------------------


def _frequencies_variant(divide_by_all=False, no_minlength=False, range_check=True):
    """``class_frequencies`` with a known mistake: divided by every pixel, counted without
    ``minlength``, or no ValueError for values outside the classes."""

    def variant(labels, num_classes, ignore_index):
        flat = np.asarray(labels).reshape(-1)
        kept = flat[flat != ignore_index].astype(np.int64)
        if range_check and kept.size and not (0 <= kept.min() and kept.max() < num_classes):
            raise ValueError("a label is outside the classes")
        counts = np.bincount(kept, minlength=0 if no_minlength else num_classes).astype(np.float64)
        if not kept.size:
            return counts
        return counts / (flat.size if divide_by_all else kept.size)

    return variant


def _frequencies_cases():
    rng = np.random.default_rng(89)
    camvid = np.array([[11] * 6, [0, 0, 0, 1, 1, 1], [3, 3, 3, 3, 8, 1], [3, 3, 4, 4, 8, 8]])
    street = rng.integers(0, 17, (3, 6, 7))        # 19 classes, the last two absent
    street[rng.random(street.shape) < 0.3] = 255
    return [_Case("the notebook's CamVid map (11 = unlabelled)", (camvid, 11, 11), public=True),
            _Case("random labels of 19 classes, the last two absent, 30% ignored (255)", (street, 19, 255)),
            _Case("every pixel ignored", (np.full((3, 3), 255), 4, 255)),
            _Case("a value outside the classes (12 with 11 classes)", (np.array([[0, 1], [12, 255]]), 11, 255))]


_FREQUENCIES_CHECK = _variant_check(
    "class_frequencies", _frequencies_cases(), _frequencies_variant(),
    [("divided_by_all_pixels", "divided by all pixels, ignored ones included", (
        "Do your frequencies sum to 1 when some pixels are ignored?",
        "Divide by the number of pixels that are not ignore_index, not by labels.size.",
     ), _frequencies_variant(divide_by_all=True)),
     ("no_minlength", "the result is too short when the last classes do not occur", (
        "One entry per class: np.bincount(values, minlength=num_classes).",
     ), _frequencies_variant(no_minlength=True)),
     ("no_range_check", "no ValueError for a value outside the classes", (
        "A value that is neither ignore_index nor a class (e.g. 12 of 11 classes) is an error.",
        "After removing the ignored pixels, raise ValueError if a value is < 0 or >= num_classes.",
     ), _frequencies_variant(range_check=False))],
    ("Remove the ignored pixels, check the range, np.bincount(..., minlength=num_classes) / the count kept; "
     "zeros if every pixel is ignored.",))


def check_class_frequencies(class_frequencies, assignment=None, quiet=False):
    """Check ``class_frequencies(labels, num_classes, ignore_index)`` on the notebook's CamVid
    map, random labels, an all-ignored map and a value outside the classes.

    Diagnoses: division by all pixels, missing ``minlength``, no ValueError out of range.
    """
    return _run_check(_FREQUENCIES_CHECK, class_frequencies, assignment, quiet)
