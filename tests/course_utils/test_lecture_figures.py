"""Tests of course_utils.lecture_figures: each figure draws what it says it draws (Agg backend)."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pytest
from matplotlib.patches import FancyArrowPatch, Rectangle

from course_utils import lecture_figures, shapes
from course_utils import transposed_conv as tc


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def _rectangles(ax):
    return [p for p in ax.patches if isinstance(p, Rectangle)]


# --- the traffic-light scene and its windows ---------------------------------------------


def test_scene_has_one_traffic_light_where_the_docstring_says():
    image, light = lecture_figures.make_traffic_light_scene()
    assert image.shape == (400, 600, 3) and image.dtype == np.float32
    assert 0 <= image.min() and image.max() <= 1
    rows, cols = np.nonzero(light)
    assert (rows.min(), rows.max() + 1, cols.min(), cols.max() + 1) == (80, 180, 390, 430)
    assert image[light].mean() < image[~light].mean()   # a dark housing with lamps
    small, small_light = lecture_figures.make_traffic_light_scene(40, 60)
    assert small.shape == (40, 60, 3) and small_light.sum() == 10 * 4


@pytest.mark.parametrize("window, stride, per_axis, boxes, sees", [
    (200, 100, (3, 5), [(0, 0, 200, 200), (0, 100, 200, 300), (0, 200, 200, 400), (0, 300, 200, 500),
                        (0, 400, 200, 600)],
     ["none", "none", "part", "whole", "part", "none", "none", "part", "part", "part"] + ["none"] * 5),
    (200, 50, (5, 9), None, None),
    (400, 100, (1, 3), [(0, 0, 400, 400), (0, 100, 400, 500), (0, 200, 400, 600)], ["part", "whole", "whole"]),
])
def test_windows_their_boxes_and_what_each_sees(window, stride, per_axis, boxes, sees):
    image, light = lecture_figures.make_traffic_light_scene()
    fig, ax = plt.subplots()
    drawn = lecture_figures.draw_sliding_windows(ax, image, window, stride, light)
    # a window is a kernel position: as many per axis as a valid convolution's outputs
    assert per_axis == (shapes.conv_output_size(400, window, stride), shapes.conv_output_size(600, window, stride))
    assert drawn["windows_per_axis"] == per_axis
    assert drawn["num_windows"] == per_axis[0] * per_axis[1] == len(drawn["boxes"]) == len(drawn["sees"])
    if boxes is not None:
        assert drawn["boxes"][:len(boxes)] == boxes
    if sees is not None:
        assert drawn["sees"] == sees
    for (y0, x0, y1, x1), seen in zip(drawn["boxes"], drawn["sees"]):
        inside = light[y0:y1, x0:x1].sum()
        assert y1 - y0 == x1 - x0 == window
        assert seen == ("whole" if inside == light.sum() else "part" if inside else "none")
    outlines = _rectangles(ax)
    assert len(outlines) == drawn["num_windows"]
    red = matplotlib.colors.to_rgba("#d62728")
    assert sum(o.get_edgecolor() == red for o in outlines) == drawn["sees"].count("whole")
    assert sorted(t.get_text() for t in ax.texts) == sorted(str(i) for i in range(drawn["num_windows"]))
    assert f"{drawn['num_windows']} windows" in ax.get_title()


def test_crop_panels_show_what_each_window_sees():
    image, light = lecture_figures.make_traffic_light_scene()
    fig, axes = plt.subplots(1, 16)
    drawn = lecture_figures.draw_sliding_windows(axes[0], image, 200, 100, light, crop_axes=axes[1:])
    for crop_ax, (y0, x0, y1, x1) in zip(axes[1:], drawn["boxes"]):
        np.testing.assert_array_equal(crop_ax.get_images()[0].get_array(), image[y0:y1, x0:x1])
    assert [ax.get_title() for ax in axes[1:6]] == ["0: background", "1: background", "2: part of it",
                                                   "3: traffic light", "4: part of it"]


@pytest.mark.parametrize("window, stride, crops, message", [
    (401, 100, None, "does not fit the 400 x 600 image"),
    (0, 100, None, "window_size must be an int >= 1"),
    (200, 2.5, None, "stride must be an int >= 1"),
    (200, 100, 3, "one Axes per window"),
])
def test_sliding_windows_refuse_bad_arguments(window, stride, crops, message):
    image, light = lecture_figures.make_traffic_light_scene()
    fig, axes = plt.subplots(1, 4)
    with pytest.raises(ValueError, match=message):
        lecture_figures.draw_sliding_windows(axes[0], image, window, stride, light,
                                             crop_axes=None if crops is None else axes[1:1 + crops])


def test_sliding_windows_refuse_a_mask_of_another_size():
    image, _ = lecture_figures.make_traffic_light_scene()
    fig, ax = plt.subplots()
    with pytest.raises(ValueError, match="object_mask must have the image's height and width"):
        lecture_figures.draw_sliding_windows(ax, image, 200, 100, np.zeros((400, 400), bool))


# --- padding ------------------------------------------------------------------------------


@pytest.mark.parametrize("n, k", [(5, 3), (4, 3), (6, 5), (3, 1)])
def test_padding_modes_draw_each_grid_and_one_centre_per_output_pixel(n, k):
    fig, axes = plt.subplots(1, 3)
    drawn = lecture_figures.draw_padding_modes(axes, n, k)
    assert {mode: d["padding"] for mode, d in drawn.items()} == {"full": k - 1, "valid": 0, "same": k // 2}
    assert drawn["full"]["output_size"] == n + k - 1
    assert drawn["valid"]["output_size"] == shapes.conv_output_size(n, k, 1, "valid")
    assert drawn["same"]["output_size"] == shapes.conv_output_size(n, k, 1, "same") == n
    for ax, d in zip(axes, drawn.values()):
        grid = n + 2 * d["padding"]
        cells = [r for r in _rectangles(ax) if r.get_label() in ("input", "padding")]
        assert sum(r.get_label() == "input" for r in cells) == n * n
        assert sum(r.get_label() == "padding" for r in cells) == grid * grid - n * n
        kernels = [r for r in _rectangles(ax) if r.get_label() == "kernel"]
        assert [(r.get_width(), r.get_height()) for r in kernels] == [(k, k), (k, k)]
        assert max(r.get_x() + k for r in kernels) == grid   # the last position touches the far border
        (dots,) = [line for line in ax.lines if line.get_label() == "kernel centres"]
        assert len(dots.get_xdata()) == d["output_size"] ** 2 == len(d["kernel_centres"])
        assert f"{n}x{n} -> {d['output_size']}x{d['output_size']}" in ax.get_title()


@pytest.mark.parametrize("n, k, axes_count, message", [
    (5, 4, 3, "kernel_size must be odd"), (3, 5, 3, "at most input_size"), (5, 3, 2, "three Axes"),
    (0, 1, 3, "input_size must be an int >= 1"),
])
def test_padding_modes_refuse_bad_arguments(n, k, axes_count, message):
    fig, axes = plt.subplots(1, 3)
    with pytest.raises(ValueError, match=message):
        lecture_figures.draw_padding_modes(axes[:axes_count], n, k)


# --- transposed convolution ---------------------------------------------------------------


@pytest.mark.parametrize("stride", [1, 2, 3])
def test_spread_figure_sums_to_the_transposed_convolution(stride):
    inputs = np.array([[1.0, -2.0], [3.0, 0.5]])
    kernel = np.array([[1.0, 0.0, -1.0], [2.0, 1.0, 0.0], [0.0, 1.0, 1.0]])
    fig, axes = plt.subplots(1, 5)
    drawn = lecture_figures.draw_transposed_conv_spread(axes, inputs, kernel, stride)
    expected = tc.conv2d_transpose_scatter(inputs[..., None], kernel[:, :, None, None], strides=stride)[..., 0]
    np.testing.assert_allclose(drawn["output"], expected)
    for number, (i, j) in enumerate(np.ndindex(2, 2)):
        copy = drawn["contributions"][number]
        np.testing.assert_allclose(copy[i * stride:i * stride + 3, j * stride:j * stride + 3], inputs[i, j] * kernel)
        assert np.count_nonzero(copy) == np.count_nonzero(kernel) * (inputs[i, j] != 0)
        (frame,) = _rectangles(axes[number])
        assert (frame.get_x() + 0.5, frame.get_y() + 0.5) == (j * stride, i * stride)
        assert len(axes[number].texts) == 9
    shown = [float(t.get_text()) for t in axes[-1].texts]
    np.testing.assert_allclose(shown, expected.ravel())
    assert f"2x2 -> {stride + 3}x{stride + 3}" in axes[-1].get_title()


def test_spread_figure_refuses_bad_arguments():
    fig, axes = plt.subplots(1, 5)
    with pytest.raises(ValueError, match="one Axes per input pixel plus one"):
        lecture_figures.draw_transposed_conv_spread(axes[:4], np.ones((2, 2)), np.ones((2, 2)), 2)
    with pytest.raises(ValueError, match="kernel \\(k, k\\)"):
        lecture_figures.draw_transposed_conv_spread(axes, np.ones((2, 2)), np.ones((2, 3)), 2)
    with pytest.raises(ValueError, match="stride must be an int >= 1"):
        lecture_figures.draw_transposed_conv_spread(axes, np.ones((2, 2)), np.ones((2, 2)), 0)


# --- U-Net --------------------------------------------------------------------------------


def test_unet_diagram_shows_every_level_with_its_shape_and_the_skips():
    from course_utils import models

    unet = models.build_unet(num_classes=3, depth=2, base_filters=4)
    fig, ax = plt.subplots()
    drawn = lecture_figures.draw_unet_diagram(ax, unet, input_size=32)
    assert [(level["name"], level["shape"]) for level in drawn["levels"]] == [
        ("input", (32, 32, 1)), ("enc1", (32, 32, 4)), ("enc2", (16, 16, 8)), ("bottleneck", (8, 8, 16)),
        ("dec2", (16, 16, 8)), ("dec1", (32, 32, 4)), ("output", (32, 32, 3))]
    assert drawn["skips"] == [("enc1", "dec1"), ("enc2", "dec2")]
    texts = [t.get_text() for t in ax.texts]
    for level in drawn["levels"]:
        assert level["name"] in texts and "x".join(map(str, level["shape"])) in texts
    arrows = [p for p in ax.patches if isinstance(p, FancyArrowPatch)]
    assert len(arrows) == len(drawn["levels"]) - 1 + len(drawn["skips"])
    assert texts.count("max pool 2x2") == 2 and texts.count("up-conv 2x2, s 2") == 2
    assert texts.count("copy + concatenate") == 2
    boxes = {t.get_text(): t.get_position() for t in ax.texts}
    for encoder, decoder in drawn["skips"]:   # a skip joins two boxes at the same height: the U
        assert boxes[encoder][1] == boxes[decoder][1]
    assert boxes["bottleneck"][1] < boxes["enc2"][1] < boxes["enc1"][1]


def test_unet_diagram_refuses_another_network():
    from course_utils import models

    fig, ax = plt.subplots()
    with pytest.raises(ValueError, match="not a U-Net of course_utils.models.build_unet"):
        lecture_figures.draw_unet_diagram(ax, models.build_fcn_upscaling(num_classes=3), input_size=32)
