"""Tests of course_utils.viz: label overlays with legends (Agg backend, no display)."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pytest

from course_utils import data, viz


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def test_overlay_mask_returns_axes_with_class_legend():
    page, labels = data.make_page(0, height=64, width=64)
    ax = viz.overlay_mask(page, labels, data.CLASS_NAMES, title="page 0")
    assert isinstance(ax, matplotlib.axes.Axes)
    legend = ax.get_legend()
    assert legend is not None
    assert [t.get_text() for t in legend.get_texts()] == list(data.CLASS_NAMES)
    assert ax.get_title() == "page 0"
    assert len(ax.get_images()) == 2  # page, then mask


def test_overlay_mask_colours_and_transparent_background():
    image = np.zeros((2, 2, 1), dtype=np.float32)
    labels = np.array([[0, 1], [2, 3]], dtype=np.uint8)
    fig, ax = plt.subplots()
    assert viz.overlay_mask(image, labels, data.CLASS_NAMES, ax=ax, alpha=0.4) is ax
    mask_rgba = ax.get_images()[1].get_array()
    assert mask_rgba[0, 0, 3] == 0.0  # background transparent
    np.testing.assert_allclose(mask_rgba[0, 1], matplotlib.colors.to_rgba(viz.CLASS_COLORS[1], 0.4))
    np.testing.assert_allclose(mask_rgba[1, 1, 3], 0.4)


def test_overlay_mask_custom_colours():
    labels = np.array([[0, 1]], dtype=np.uint8)
    ax = viz.overlay_mask(np.zeros((1, 2)), labels, ("bg", "fg"), colors=("white", "red"))
    np.testing.assert_allclose(ax.get_images()[1].get_array()[0, 1], (1.0, 0.0, 0.0, 0.5))


def test_overlay_mask_shape_mismatch_raises():
    with pytest.raises(ValueError, match="same height and width"):
        viz.overlay_mask(np.zeros((4, 5)), np.zeros((5, 4), dtype=np.uint8), data.CLASS_NAMES)


def test_overlay_mask_too_few_colours_raises():
    with pytest.raises(ValueError, match="colour"):
        viz.overlay_mask(np.zeros((2, 2)), np.zeros((2, 2), int), ("a", "b", "c"), colors=("r", "g"))


def test_show_segmentation_one_panel_per_prediction():
    page, labels = data.make_page(1, height=64, width=64)
    predictions = {"Sliding window": labels, "FCN": np.zeros_like(labels)}
    fig = viz.show_segmentation(page, labels, predictions, data.CLASS_NAMES)
    titles = [ax.get_title() for ax in fig.axes]
    assert titles == ["Input", "Ground truth", "Sliding window", "FCN"]
    assert fig.axes[0].get_legend() is None and fig.axes[3].get_legend() is not None
