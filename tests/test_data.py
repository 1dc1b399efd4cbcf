"""Tests of course_utils.data: synthetic document pages and their labels."""

import numpy as np
import pytest

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


def test_line_height_sets_text_line_height():
    _, labels = data.make_page(5, height=256, width=256, line_height=10)
    # Height of the first (title) text line = run of TEXT rows in its column range.
    text_rows = np.flatnonzero((labels == data.TEXT).any(axis=1))
    first_run = np.split(text_rows, np.flatnonzero(np.diff(text_rows) > 1) + 1)[0]
    assert len(first_run) == 10


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

