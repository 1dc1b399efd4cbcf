"""Tests of course_utils.data: synthetic document pages and their labels."""

import numpy as np
import pytest
from scipy import ndimage

from course_utils import data


def test_class_constants_match_names():
    assert data.CLASS_NAMES == ("background", "text", "figure", "separator")
    assert [data.BACKGROUND, data.TEXT, data.FIGURE, data.SEPARATOR] == [0, 1, 2, 3]


def test_make_page_shapes_dtypes_and_values():
    page, labels = data.make_page(0, height=200, width=160)
    assert page.shape == (200, 160) and page.dtype == np.float32
    assert labels.shape == (200, 160) and labels.dtype == np.uint8
    assert set(np.unique(page)) <= {0.0, 1.0}
    assert labels.max() < len(data.CLASS_NAMES)


def test_same_seed_same_page():
    page_a, labels_a = data.make_page(7)
    page_b, labels_b = data.make_page(7)
    np.testing.assert_array_equal(page_a, page_b)
    np.testing.assert_array_equal(labels_a, labels_b)


def test_different_seeds_differ():
    page_a, labels_a = data.make_page(1)
    page_b, labels_b = data.make_page(2)
    assert not np.array_equal(page_a, page_b)
    assert not np.array_equal(labels_a, labels_b)


def test_every_page_has_text_figure_and_separator():
    for seed in range(4):
        _, labels = data.make_page(seed)
        assert set(np.unique(labels)) == {0, 1, 2, 3}, seed


def test_ink_is_mostly_labelled_foreground():
    for seed in range(3):
        page, labels = data.make_page(seed)
        ink = data.ink_mask(page)
        assert 0.05 < ink.mean() < 0.5
        assert (labels[ink] != data.BACKGROUND).mean() > 0.95


def test_page_has_paper_margins():
    page, labels = data.make_page(3)
    assert page[:4].sum() == 0 and page[:, :4].sum() == 0
    assert (labels[:4] == data.BACKGROUND).all()


def _vertical_runs(mask):
    """Lengths of the vertical runs of True in a 2-D mask, over all columns."""
    padded = np.pad(mask, ((1, 1), (0, 0))).astype(np.int8)
    steps = np.diff(padded, axis=0)
    starts = np.nonzero(steps.T == 1)
    ends = np.nonzero(steps.T == -1)
    return ends[1] - starts[1]


def _first_run(rows):
    return np.split(rows, np.flatnonzero(np.diff(rows) > 1) + 1)[0]


def test_line_height_sets_text_line_height():
    # The title became a heading twice the line height (labelled TEXT by default), so
    # look at the body lines: the most common height of a vertical run of TEXT.
    _, labels = data.make_page(5, height=256, width=256, line_height=10)
    runs = _vertical_runs(labels == data.TEXT)
    assert np.bincount(runs).argmax() == 10
    # The title (first TEXT rows) is twice as tall.
    assert len(_first_run(np.flatnonzero((labels == data.TEXT).any(axis=1)))) == 20


def test_make_page_dataset_shapes_and_determinism():
    images, labels = data.make_page_dataset(3, seed=4, height=96, width=128)
    assert images.shape == (3, 96, 128, 1) and images.dtype == np.float32
    assert labels.shape == (3, 96, 128) and labels.dtype == np.uint8
    again, _ = data.make_page_dataset(2, seed=4, height=96, width=128)
    np.testing.assert_array_equal(images[:2], again)
    assert not np.array_equal(images[0], images[1])
    other, _ = data.make_page_dataset(1, seed=5, height=96, width=128)
    assert not np.array_equal(images[0], other[0])


def test_ink_mask_accepts_channel_axis():
    page = np.array([[0.0, 1.0], [1.0, 0.0]], dtype=np.float32)
    expected = np.array([[False, True], [True, False]])
    np.testing.assert_array_equal(data.ink_mask(page), expected)
    np.testing.assert_array_equal(data.ink_mask(page[..., None]), expected)


@pytest.mark.parametrize(
    "kwargs, name",
    [
        ({"height": 0}, "height"),
        ({"width": -5}, "width"),
        ({"height": 32}, "height"),
        ({"width": 63}, "width"),
        ({"height": 100.0}, "height"),
        ({"line_height": 2}, "line_height"),
        ({"height": 64, "line_height": 9}, "line_height"),
    ],
)
def test_make_page_bad_arguments(kwargs, name):
    with pytest.raises(ValueError, match=name):
        data.make_page(0, **kwargs)


@pytest.mark.parametrize(
    "kwargs, name",
    [({"num_pages": 0}, "num_pages"), ({"num_pages": 1, "height": 10}, "height")],
)
def test_make_page_dataset_bad_arguments(kwargs, name):
    with pytest.raises(ValueError, match=name):
        data.make_page_dataset(**kwargs)



# ---- realistic pages: classes, headings, tables, figures, degradations, imbalance ----

EXTENDED = data.EXTENDED_CLASS_NAMES


def test_extended_class_constants():
    assert EXTENDED == ("background", "text", "figure", "separator", "table", "heading")
    assert EXTENDED.index("table") == data.TABLE and EXTENDED.index("heading") == data.HEADING


def test_same_seed_same_page_with_all_options():
    for options in ({"classes": EXTENDED}, {"degrade": True}, {"line_height": 8}):
        page_a, labels_a = data.make_page(11, **options)
        page_b, labels_b = data.make_page(11, **options)
        np.testing.assert_array_equal(page_a, page_b)
        np.testing.assert_array_equal(labels_a, labels_b)


def test_each_extended_class_appears_across_a_few_pages():
    _, labels = data.make_page_dataset(8, seed=0, classes=EXTENDED)
    assert labels.max() < len(EXTENDED)
    present = {int(k) for k in np.unique(labels)}
    assert present == set(range(len(EXTENDED)))
    for page_labels in labels:  # every page has a title heading
        assert (page_labels == data.HEADING).any()


def test_headings_and_tables_fall_back_to_text_and_figure():
    # The drawing does not depend on the classes asked for; only the labels do.
    page_4, labels_4 = data.make_page(0, classes=data.CLASS_NAMES)
    page_6, labels_6 = data.make_page(0, classes=EXTENDED)
    np.testing.assert_array_equal(page_4, page_6)
    assert (labels_6 == data.TABLE).any() and (labels_6 == data.HEADING).any()
    np.testing.assert_array_equal(labels_4[labels_6 == data.HEADING], data.TEXT)
    np.testing.assert_array_equal(labels_4[labels_6 == data.TABLE], data.FIGURE)
    same = labels_6 < data.TABLE
    np.testing.assert_array_equal(labels_4[same], labels_6[same])


def test_classes_may_add_only_one_extra_class_in_any_position():
    classes = ("background", "heading", "text", "figure", "separator")
    _, labels = data.make_page(0, classes=classes)
    _, reference = data.make_page(0, classes=EXTENDED)
    np.testing.assert_array_equal(labels == 1, reference == data.HEADING)
    np.testing.assert_array_equal(labels == 3, (reference == data.FIGURE) | (reference == data.TABLE))


def test_headings_are_taller_than_text_lines():
    _, labels = data.make_page(2, line_height=6, classes=EXTENDED)
    title_rows = _first_run(np.flatnonzero((labels == data.HEADING).any(axis=1)))
    assert len(title_rows) == 12
    assert np.bincount(_vertical_runs(labels == data.TEXT)).argmax() == 6


def test_table_box_holds_rules_and_cell_text():
    page, labels = data.make_page(0, classes=EXTENDED)
    rows, cols = np.nonzero(labels == data.TABLE)
    box = page[rows.min() : rows.max() + 1, cols.min() : cols.max() + 1]
    assert box[0].all() and box[-1].all(), "a table has a rule at its top and bottom"
    assert box[:, 0].all() and box[:, -1].all(), "and at its left and right"
    inner = box[2:-2, 2:-2]
    assert 0.05 < inner.mean() < 0.6, "cells hold some text"


def test_figures_are_dithered_photos():
    pages, labels = data.make_page_dataset(4, seed=1, classes=EXTENDED)
    for page, page_labels in zip(pages[..., 0], labels):
        figure = page[page_labels == data.FIGURE]
        assert set(np.unique(figure)) == {0.0, 1.0}
        assert 0.05 < figure.mean() < 0.95, "a halftone mixes ink and paper"
    # A photo has large light and dark areas: the ink density of 8x8 blocks varies much
    # more than in random noise of the same density (std about 0.5 / 8 = 0.06).
    for page, page_labels in zip(pages[..., 0], labels):
        regions, _ = ndimage.label(page_labels == data.FIGURE)
        biggest = np.bincount(regions.ravel())[1:].argmax() + 1
        rows, cols = np.nonzero(regions == biggest)
        box = page[rows.min() + 1 : rows.max(), cols.min() + 1 : cols.max()]
        blocks = box[: box.shape[0] // 8 * 8, : box.shape[1] // 8 * 8]
        block_density = blocks.reshape(blocks.shape[0] // 8, 8, -1, 8).mean(axis=(1, 3))
        assert block_density.std() > 0.09


def test_degraded_pages_keep_shapes_and_valid_labels():
    for seed in range(3):
        clean, clean_labels = data.make_page(seed, classes=EXTENDED)
        page, labels = data.make_page(seed, classes=EXTENDED, degrade=True)
        assert page.shape == clean.shape and page.dtype == np.float32
        assert labels.shape == clean_labels.shape and labels.dtype == np.uint8
        assert set(np.unique(page)) <= {0.0, 1.0}
        assert labels.max() < len(EXTENDED)
        assert not np.array_equal(page, clean)
        # Rotation by at most 2 degrees moves labels a little: they still mostly agree.
        assert 0.8 < (labels == clean_labels).mean() < 1.0
        # The labels follow the (rotated) content: ink is still mostly in regions.
        assert (labels[data.ink_mask(page)] != data.BACKGROUND).mean() > 0.8


def test_classes_are_imbalanced_like_real_pages():
    _, labels = data.make_page_dataset(12, seed=3, classes=EXTENDED)
    frequencies = data.class_frequencies(labels, len(EXTENDED))
    assert frequencies.argmax() == data.BACKGROUND
    assert frequencies[data.BACKGROUND] > 0.4
    assert 0.005 < frequencies[data.SEPARATOR] < 0.05
    assert frequencies[data.TEXT] > frequencies[data.SEPARATOR]
    np.testing.assert_allclose(frequencies.sum(), 1.0)


def test_class_frequencies_rejects_labels_beyond_num_classes():
    with pytest.raises(ValueError, match="num_classes"):
        data.class_frequencies(np.array([0, 4]), 4)


@pytest.mark.parametrize(
    "classes",
    [
        ("text", "background", "figure", "separator"),
        ("background", "text", "figure"),
        ("background", "text", "figure", "separator", "noise"),
        ("background", "text", "text", "figure", "separator"),
        "background",
    ],
)
def test_make_page_bad_classes(classes):
    with pytest.raises(ValueError, match="classes"):
        data.make_page(0, classes=classes)
