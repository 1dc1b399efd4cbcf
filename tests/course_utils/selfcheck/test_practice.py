"""Tests of course_utils.selfcheck.practice: each lecture practice check passes the right
answer, names each usual mistake, and records nothing in the progress file."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pytest

from course_utils import data, models
from course_utils import transposed_conv as tc
from course_utils.selfcheck import practice

# --- lecture 01 ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def extended_page():
    _, labels = data.make_page(seed=3, classes=data.EXTENDED_CLASS_NAMES)
    index = {name: i for i, name in enumerate(data.EXTENDED_CLASS_NAMES)}
    right = np.stack([np.isin(labels, [index["text"], index["heading"]]),
                      np.isin(labels, [index["figure"], index["table"]]), labels != index["background"]], -1)
    assert right.sum(-1).max() == 2, "the page needs a heading or a table for these tests"
    return labels, right, index


def test_multi_label_right_answer_passes_and_prints(extended_page, capsys):
    labels, right, _ = extended_page
    result = practice.check_multi_label_practice(right.astype(np.uint8), labels)
    assert result.passed and result.mistake is None
    assert "multi-label mask: right" in capsys.readouterr().out


@pytest.mark.parametrize("mistake", ["channels_first", "shape", "not_binary", "exclusive", "headings_not_text",
                                     "tables_not_figure", "background_channel", "unknown"])
def test_multi_label_names_each_mistake(extended_page, mistake):
    labels, right, index = extended_page
    wrong = right.astype(int)
    if mistake == "channels_first":
        wrong = np.moveaxis(wrong, -1, 0)
    elif mistake == "shape":
        wrong = wrong[..., :2]
    elif mistake == "not_binary":
        wrong = wrong * 2
    elif mistake == "exclusive":
        wrong[..., 2] = labels == index["separator"]   # only what no other channel has: one-hot thinking
    elif mistake == "headings_not_text":
        wrong[..., 0] = labels == index["text"]
    elif mistake == "tables_not_figure":
        wrong[..., 1] = labels == index["figure"]
    elif mistake == "background_channel":
        wrong[..., 2] = labels == index["background"]
    else:
        wrong[0, 0, 1] = 1 - wrong[0, 0, 1]
    result = practice.check_multi_label_practice(wrong, labels, quiet=True)
    assert not result.passed and result.mistake == mistake, result.message


# --- lecture 02 ---------------------------------------------------------------------------


@pytest.mark.parametrize("count, chosen, mistake", [
    (45, [16, 15, 14, 7, 6, 5], None), (5, [5], "per_axis"), (9, [5], "per_axis"), (96, [5], "sticking_out"),
    (6, [5], "no_overlap"), (44, [5], "unknown"),
    (45, [6, 7, 8, 15, 16, 17], "one_based"), (45, [25, 26, 30, 31, 35, 36], "column_major"),
    (45, [0], "unknown"), (0, [], "not_started"),
])
def test_traffic_light_windows(count, chosen, mistake):
    result = practice.check_traffic_light_practice(count, chosen, quiet=True)
    assert result.passed == (mistake is None) and result.mistake == mistake, result.message


def test_traffic_light_names_windows_that_see_only_part_of_the_light():
    from course_utils import lecture_figures

    image, light = lecture_figures.make_traffic_light_scene()
    fig, ax = plt.subplots()
    drawn = lecture_figures.draw_sliding_windows(ax, image, 200, 50, light)
    plt.close(fig)
    seeing_some = [n for n, seen in enumerate(drawn["sees"]) if seen != "none"]
    assert len(seeing_some) > 6
    result = practice.check_traffic_light_practice(45, seeing_some, quiet=True)
    assert result.mistake == "part_counts" and "only part" in result.message


def test_traffic_light_follows_the_window_and_stride():
    assert practice.check_traffic_light_practice(15, [3], window_size=200, stride=100, quiet=True).passed
    assert practice.check_traffic_light_practice(3, [1, 2], window_size=400, stride=100, quiet=True).passed
    assert not practice.check_traffic_light_practice(45, [3], window_size=200, stride=100, quiet=True).passed


# --- lecture 04 ---------------------------------------------------------------------------


def test_compression_right_answer_is_the_library_ratio():
    _, encoder, _ = models.build_autoencoder(filters=(16, 32, 64), code_channels=2)
    code_shape = tuple(encoder.compute_output_shape((1, 256, 256, 1))[1:])
    ratio = models.compression_ratio((256, 256), code_shape, input_bits=8, code_bits=32)
    result = practice.check_compression_practice(code_shape, ratio, quiet=True)
    assert result.passed, result.message
    assert "compresses" in result.message


@pytest.mark.parametrize("code_shape, ratio, mistake", [
    ((64, 64, 2), 8.0, "poolings"), ((32, 32, 1), 8.0, "code_shape"), ((32, 32, 2), 0.125, "inverted"),
    ((32, 32, 2), 32.0, "values_not_bits"), ((32, 32, 2), 16.0, "code_channels_forgotten"),
    ((32, 32, 2), 1.0, "binary_input"), ((32, 32, 2), 3.0, "unknown"), ((0, 0, 0), 0.0, "not_started"),
])
def test_compression_names_each_mistake(code_shape, ratio, mistake):
    result = practice.check_compression_practice(code_shape, ratio, quiet=True)
    assert not result.passed and result.mistake == mistake, result.message


# --- lecture 05 ---------------------------------------------------------------------------


@pytest.fixture
def convolution():
    rng = np.random.default_rng(1)
    kernel, g = rng.normal(size=(3, 3)), rng.normal(size=(3, 3))
    return kernel, g, tc.convolution_matrix((7, 7), kernel, strides=2)


def test_conv_gradient_matrix_and_transposed_convolution_pass(convolution):
    kernel, g, matrix = convolution
    by_matrix = (matrix.T @ g.ravel()).reshape(7, 7)
    by_scatter = tc.conv2d_transpose_scatter(g[..., None], kernel[:, :, None, None], strides=2)[..., 0]
    for gradient in (by_matrix, by_scatter):
        assert practice.check_conv_gradient_practice(gradient, kernel, g, 2, (7, 7), quiet=True).passed


@pytest.mark.parametrize("mistake", ["output_shape", "shape", "flipped_kernel", "ones_not_g", "unknown",
                                     "not_started"])
def test_conv_gradient_names_each_mistake(convolution, mistake):
    kernel, g, matrix = convolution
    wrong = {
        "output_shape": (matrix @ np.ones(49)).reshape(3, 3),
        "shape": np.zeros((5, 5)),
        "flipped_kernel": (tc.convolution_matrix((7, 7), kernel[::-1, ::-1], strides=2).T @ g.ravel()).reshape(7, 7),
        "ones_not_g": (matrix.T @ np.ones(9)).reshape(7, 7),
        "unknown": (matrix.T @ g.ravel()).reshape(7, 7) + np.eye(7),
        "not_started": np.zeros((7, 7)),
    }[mistake]
    result = practice.check_conv_gradient_practice(wrong, kernel, g, 2, (7, 7), quiet=True)
    assert not result.passed and result.mistake == mistake, result.message


IMAGE = np.array([[2, 8, 1, 0], [6, 3, 4, 5], [0, 1, 7, 2], [9, 4, 3, 6]], float)


def test_unpooling_right_answer_passes():
    right = np.zeros((4, 4))
    right[0, 1], right[1, 3], right[3, 0], right[2, 2] = 8, 5, 9, 7
    assert practice.check_unpooling_practice(right, IMAGE, quiet=True).passed


@pytest.mark.parametrize("mistake", ["pooled_only", "shape", "upscaled", "top_left", "kept_everything", "unknown",
                                     "not_started"])
def test_unpooling_names_each_mistake(mistake):
    pooled = np.array([[8, 5], [9, 7]], float)
    top_left = np.zeros((4, 4))
    top_left[::2, ::2] = pooled
    wrong = {"pooled_only": pooled, "shape": np.zeros((4, 2)), "upscaled": np.kron(pooled, np.ones((2, 2))),
             "top_left": top_left, "kept_everything": IMAGE, "unknown": np.eye(4),
             "not_started": np.zeros((4, 4))}[mistake]
    result = practice.check_unpooling_practice(wrong, IMAGE, quiet=True)
    assert not result.passed and result.mistake == mistake, result.message


# --- lecture 08 ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def mask_rcnn():
    from course_utils import maskrcnn

    return maskrcnn.MaskRCNN(num_classes=3, image_size=64, width=16, mask_width=8)


RIGHT_SHAPES = {"features": (16, 16, 16), "box_features": (5, 7, 7, 16), "mask_features": (5, 14, 14, 16),
                "class_logits": (5, 4), "mask_logits": (5, 28, 28, 3)}


def test_mask_rcnn_right_shapes_pass(mask_rcnn):
    assert practice.check_mask_rcnn_shapes_practice(RIGHT_SHAPES, mask_rcnn, num_rois=5, quiet=True).passed


@pytest.mark.parametrize("key, shape, message", [
    ("features", (4, 4, 16), "output stride 16"), ("box_features", (7, 7, 16), "one entry per RoI"),
    ("class_logits", (5, 3), "include the background"), ("mask_logits", (5, 28, 28, 4), "none for the background"),
    ("mask_logits", (5, 14, 14, 3), "doubles that to 28 x 28"), ("mask_features", (5, 28, 28, 16), "samples 14 x 14"),
    ("box_features", (5, 9, 9, 16), "is not its shape"),
])
def test_mask_rcnn_names_each_mistake(mask_rcnn, key, shape, message):
    result = practice.check_mask_rcnn_shapes_practice({**RIGHT_SHAPES, key: shape}, mask_rcnn, num_rois=5,
                                                      quiet=True)
    assert not result.passed and result.mistake == f"wrong_{key}" and message in result.message, result.message


def test_mask_rcnn_names_an_untouched_answer(mask_rcnn):
    untouched = {key: (0,) * len(shape) for key, shape in RIGHT_SHAPES.items()}
    result = practice.check_mask_rcnn_shapes_practice(untouched, mask_rcnn, num_rois=5, quiet=True)
    assert result.mistake == "not_started" and "starting value" in result.message


def test_mask_rcnn_names_missing_keys(mask_rcnn):
    answer = {k: v for k, v in RIGHT_SHAPES.items() if k != "mask_features"}
    result = practice.check_mask_rcnn_shapes_practice(answer, mask_rcnn, num_rois=5, quiet=True)
    assert result.mistake == "missing" and "mask_features" in result.message


# --- no progress record ----------------------------------------------------------------------


def test_practice_checks_write_no_progress_file(tmp_path, monkeypatch):
    progress = tmp_path / "progress.json"
    monkeypatch.setenv("SEGCOURSE_PROGRESS_FILE", str(progress))
    practice.check_traffic_light_practice(9, [1, 2], quiet=True)
    practice.check_unpooling_practice(np.zeros((4, 4)), IMAGE, quiet=True)
    assert not progress.exists()
