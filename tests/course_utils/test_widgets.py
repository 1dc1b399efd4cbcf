"""Tests of course_utils.widgets: explorers build, draw the right numbers and follow their sliders.

Runs without a widget front end (Agg backend, no kernel): the widget functions are
called with ``static=True`` (or the default, which resolves to static here).
"""

import matplotlib

matplotlib.use("Agg")

import ipywidgets
import matplotlib.pyplot as plt
import numpy as np
import pytest

from course_utils import metrics, widgets
from course_utils.shapes import conv_output_size, conv_transpose_output_size

SMALL_PAGE = np.zeros((40, 48), dtype=np.float32)  # avoids synthesizing a page (about 1 s)


@pytest.fixture(autouse=True)
def close_figures(monkeypatch):
    monkeypatch.delenv("SEGCOURSE_WIDGETS", raising=False)
    yield
    plt.close("all")


def axes(count=1):
    figure, all_axes = plt.subplots(1, count, squeeze=False)
    return all_axes[0][0] if count == 1 else list(all_axes[0])


def sliders(explorer):
    return {name: (c.min, c.max, c.value) for name, c in explorer.controls.items()}


# --- Widget construction ----------------------------------------------------------------


@pytest.mark.parametrize("make, expected_ranges", [
    (lambda: widgets.transposed_conv_widget(static=True),
     {"input_size": (1, 6, 2), "kernel_size": (1, 5, 3), "stride": (1, 4, 2),
      "padding": (0, 3, 0), "highlight": (0, 3, 0)}),
    (lambda: widgets.conv_and_transposed_widget(static=True),
     {"input_size": (1, 8, 5), "kernel_size": (1, 5, 3), "stride": (1, 3, 2),
      "padding": (0, 2, 0), "highlight": (0, 63, 0)}),
    (lambda: widgets.sliding_window_widget(SMALL_PAGE, static=True),
     {"patch_size": (8, 64, 32), "stride": (1, 64, 16)}),
    (lambda: widgets.unpooling_widget(static=True),
     {"seed": (0, 20, 0), "pool_size": (2, 3, 2)}),
    (lambda: widgets.metric_playground_widget(static=True),
     {"top": (0, 9, 3), "left": (0, 9, 3), "height": (0, 10, 5), "width": (0, 10, 4)}),
    (lambda: widgets.threshold_widget(static=True), {"threshold": (0.0, 1.0, 0.5)}),
])
def test_widgets_construct_with_their_slider_ranges(make, expected_ranges):
    explorer = make()
    assert isinstance(explorer, ipywidgets.VBox)
    assert sliders(explorer) == expected_ranges
    assert all(isinstance(c, (ipywidgets.IntSlider, ipywidgets.FloatSlider))
               for c in explorer.controls.values())
    assert explorer.output in explorer.children and explorer.summary in explorer.children
    assert explorer.summary.value  # the numbers are shown as text too
    assert explorer.result


def test_sliding_window_patch_slider_steps_in_multiples_of_eight():
    explorer = widgets.sliding_window_widget(SMALL_PAGE, static=True)
    assert explorer.controls["patch_size"].step == 8


# --- Static mode ----------------------------------------------------------------------------


def test_static_mode_draws_a_figure_of_the_initial_values():
    explorer = widgets.transposed_conv_widget(input_size=2, kernel_size=3, stride=2, static=True)
    assert not explorer.live
    figure = explorer.static_figure
    assert isinstance(figure, matplotlib.figure.Figure)
    assert "2x2 input -> 5x5 output" in figure.axes[0].get_title()


def test_default_mode_is_static_without_a_front_end():
    assert not widgets.widget_front_end_available()
    explorer = widgets.metric_playground_widget()
    assert not explorer.live and explorer.static_figure is not None


def test_environment_variable_forces_live_mode(monkeypatch):
    monkeypatch.setenv("SEGCOURSE_WIDGETS", "live")
    assert widgets.widget_front_end_available()
    explorer = widgets.unpooling_widget()
    assert explorer.live and explorer.static_figure is None


def test_live_mode_draws_no_static_figure():
    explorer = widgets.threshold_widget(static=False)
    assert explorer.live and explorer.static_figure is None
    assert plt.get_fignums() == []


def test_repr_is_a_one_line_summary_for_static_notebooks():
    explorer = widgets.conv_and_transposed_widget(static=True)
    assert repr(explorer).startswith("Convolution and transposed convolution: convolution 5 -> 2")


# --- Changing a control updates the numbers -------------------------------------------------------


def test_transposed_conv_output_follows_the_stride_slider():
    explorer = widgets.transposed_conv_widget(input_size=2, kernel_size=3, stride=1, static=True)
    assert explorer.result["output_size"] == 4  # slide "Standard"
    explorer.controls["stride"].value = 2  # the observer runs synchronously
    assert explorer.result["output_size"] == 5  # slide "Stride"
    assert "5x5" in explorer.summary.value


def test_transposed_conv_highlight_range_follows_the_input_size():
    explorer = widgets.transposed_conv_widget(input_size=2, static=True)
    explorer.controls["input_size"].value = 4
    assert explorer.controls["highlight"].max == 15


def test_padding_that_crops_everything_gives_no_output():
    explorer = widgets.transposed_conv_widget(input_size=1, kernel_size=1, stride=1, static=True)
    explorer.controls["padding"].value = 1
    assert explorer.result["output_size"] is None
    assert "crops every pixel" in explorer.summary.value


def test_conv_and_transposed_reports_the_output_padding_needed():
    explorer = widgets.conv_and_transposed_widget(input_size=5, kernel_size=3, stride=2,
                                                  static=True)
    assert explorer.result["output_padding_needed"] == 0
    explorer.controls["input_size"].value = 6  # also maps to 2x2, transposed gives 5
    assert explorer.result["conv_size"] == 2
    assert explorer.result["transposed_size"] == 5
    assert explorer.result["output_padding_needed"] == 1


def test_sliding_window_count_and_cost_follow_the_stride():
    explorer = widgets.sliding_window_widget(SMALL_PAGE, patch_size=32, stride=16, static=True)
    assert explorer.result["num_patches"] == 3 * 3
    explorer.controls["stride"].value = 4
    assert explorer.result["num_patches"] == 10 * 12
    assert explorer.result["sliding_multiply_adds"] == 120 * explorer.result["patch_multiply_adds"]


def test_metric_playground_scores_follow_the_predicted_rectangle():
    explorer = widgets.metric_playground_widget(size=10, true_box=(2, 2, 5, 4),
                                                pred_box=(2, 2, 5, 4), static=True)
    assert explorer.result["dice"] == 1.0 and explorer.result["iou"] == 1.0
    explorer.controls["left"].value = 4  # shift by 2 of 4 columns: half overlaps
    assert explorer.result["tp"] == 10 and explorer.result["fp"] == 10
    assert explorer.result["dice"] == pytest.approx(0.5)
    assert explorer.result["iou"] == pytest.approx(1 / 3)


def test_threshold_slider_changes_dice():
    explorer = widgets.threshold_widget(static=True)
    at_half = explorer.result["dice"]
    explorer.controls["threshold"].value = 0.98
    assert explorer.result["dice"] < at_half
    explorer.controls["threshold"].value = 0.0
    assert explorer.result["fn"] == 0  # everything above 0 is predicted


def test_update_recomputes_from_the_current_values():
    explorer = widgets.unpooling_widget(static=True)
    explorer.controls["pool_size"].value = 3
    assert explorer.update()["unpooled"].shape == (6, 6)


# --- Draw functions put the right numbers on the figure ----------------------------------------


@pytest.mark.parametrize("n, k, s, p, out", [
    (2, 3, 1, 0, 4), (2, 3, 2, 0, 5), (5, 3, 1, 1, 5), (3, 2, 3, 0, 9),
])
def test_draw_transposed_conv_titles_the_lecture_sizes(n, k, s, p, out):
    ax = axes()
    result = widgets.draw_transposed_conv(ax, n, k, s, p)
    keras_padding = "valid" if p == 0 else p  # the widget's padding 0 is Keras' "valid"
    assert result["output_size"] == out == conv_transpose_output_size(
        n, k, stride=s, padding=keras_padding)
    assert f"{n}x{n} input -> {out}x{out} output" in ax.get_title()
    assert f"kernel {k}, stride {s}, padding {p}" in ax.get_title()


def test_transposed_conv_overlap_counts_and_stamp_positions():
    result = widgets.compute_transposed_conv(2, 3, 2)
    # Stamps of rows 0 and 1 cover output rows 0-2 and 2-4: they overlap in row 2.
    assert result["stamp_rows"] == [(0, 3), (2, 5)]
    assert result["overlap"][2, 2] == 4 and result["overlap"][0, 0] == 1
    assert result["overlap"].sum() == 2 * 2 * 3 * 3  # every stamp pixel lands somewhere
    ax = axes()
    widgets.draw_transposed_conv(ax, 2, 3, 2)
    texts = [t.get_text() for t in ax.texts]
    assert texts.count("4") == 1 and "output 5x5" in texts


def test_transposed_conv_keeps_the_gap_when_the_stride_exceeds_the_kernel():
    result = widgets.compute_transposed_conv(3, 2, 3)
    assert result["full_size"] == 8 and result["output_size"] == 9
    assert result["overlap"][:, 8].sum() == 0  # the gap after the last stamp


def test_transposed_conv_padding_crops_the_stamps():
    result = widgets.compute_transposed_conv(3, 3, 1, padding=1)
    assert result["full_size"] == 5 and result["output_size"] == 3
    assert result["stamp_rows"] == [(0, 2), (0, 3), (1, 3)]
    assert result["overlap"][1, 1] == 9


def test_draw_conv_and_transposed_titles_both_sizes():
    ax_conv, ax_transposed = axes(2)
    result = widgets.draw_conv_and_transposed((ax_conv, ax_transposed), 6, 3, 2, 0, highlight=3)
    assert result["conv_size"] == conv_output_size(6, 3, stride=2) == 2
    assert result["highlight"] == (1, 1)
    assert ax_conv.get_title().startswith("Convolution: 6x6 -> 2x2")
    assert ax_transposed.get_title().startswith("Transposed: 2x2 -> 5x5")
    assert "output_padding=1" in ax_transposed.get_xlabel()


def test_draw_conv_and_transposed_when_the_kernel_does_not_fit():
    result = widgets.draw_conv_and_transposed(axes(2), 2, 5, 1, 0)
    assert result["conv_size"] is None


def test_sliding_window_cost_counts_the_lecture_networks():
    cost = widgets.compute_sliding_window_cost(64, 64, patch_size=32, stride=8)
    assert cost["num_patches"] == 64
    patch = (32 * 32 * 9 * 40 + 16 * 16 * 16 * 40 * 40 + 8 * 8 * 16 * 40 * 80
             + 4 * 4 * 80 * 100 + 100 * 4)
    assert cost["patch_multiply_adds"] == patch
    fcn = 64 * 64 * 9 * 40 + 32 * 32 * 16 * 40 * 40 + 16 * 16 * 16 * 40 * 80 + 64 * 64 * 80 * 4
    assert cost["fcn_multiply_adds"] == fcn
    assert cost["speedup"] == pytest.approx(64 * patch / fcn)


def test_draw_sliding_window_titles_patches_and_cost():
    ax = axes()
    result = widgets.draw_sliding_window(ax, SMALL_PAGE, patch_size=16, stride=8)
    assert result["num_patches"] == 5 * 6
    assert ax.get_title() == "16x16 windows, stride 8: 30 patches"
    assert "multiply-adds" in ax.get_xlabel() and f"{result['speedup']:.0f}x" in ax.get_xlabel()
    assert len(ax.patches) == 30  # few patches: all outlined


def test_draw_sliding_window_outlines_only_neighbours_of_many_patches():
    ax = axes()
    widgets.draw_sliding_window(ax, SMALL_PAGE, patch_size=16, stride=2)
    assert len(ax.patches) == 9


def test_unpooling_positions_of_the_notebook_example():
    array = np.array([[1, 5, 0, 2], [3, 2, 9, 9], [7, 0, 4, 4], [1, 8, 4, 4]])
    ax_list = axes(3)
    result = widgets.draw_unpooling(ax_list, array, pool_size=2)
    assert result["pooled"].tolist() == [[5, 9], [8, 4]]
    assert result["argmax"].tolist() == [[1, 2], [3, 0]]  # first maximum on ties
    assert result["unpooled"].tolist() == [[0, 5, 0, 0], [0, 0, 9, 0], [0, 0, 4, 0], [0, 8, 0, 0]]
    assert "max pooling -> 2x2" in ax_list[1].get_title()
    assert "pos 2" in [t.get_text() for t in ax_list[1].texts]


def test_draw_metric_playground_titles_dice_and_iou():
    y_true = widgets.rectangle_mask(6, 1, 1, 3, 3)
    y_pred = widgets.rectangle_mask(6, 2, 2, 3, 3)
    ax = axes()
    result = widgets.draw_metric_playground(ax, y_true, y_pred)
    assert (result["tp"], result["fp"], result["fn"]) == (4, 5, 5)
    assert result["dice"] == pytest.approx(metrics.dice_coefficient(y_true, y_pred))
    assert ax.get_title() == f"Dice {8 / 18:.3f}   IoU {4 / 14:.3f}"
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend == ["TP 4", "FP 5", "FN 5"]


def test_rectangle_mask_is_cut_at_the_border():
    mask = widgets.rectangle_mask(4, 2, 3, 5, 5)
    assert mask.sum() == 2 and mask[2:, 3].all()


def test_draw_threshold_marks_the_best_threshold():
    y_true, probabilities = widgets.make_probability_map(size=32, seed=1)
    ax_list = axes(3)
    result = widgets.draw_threshold(ax_list, y_true, probabilities, 0.5)
    curve = widgets.compute_threshold_curve(y_true, probabilities)
    assert result["best_dice"] == pytest.approx(curve["dice"].max())
    assert result["dice"] == pytest.approx(metrics.dice_coefficient(y_true, probabilities > 0.5))
    assert f"Dice {result['dice']:.3f}" in ax_list[1].get_title()
    labels = [t.get_text() for t in ax_list[2].get_legend().get_texts()]
    assert f"best Dice {result['best_dice']:.3f} at {result['best_threshold']:.2f}" in labels
    assert np.all(curve["iou"] <= curve["dice"] + 1e-12)  # IoU never exceeds Dice
