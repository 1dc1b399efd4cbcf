"""Transfer learning: the shipped page encoder, freezing, fine-tuning, weight-file errors,
and keras.applications backbones read from local files (no download)."""

from __future__ import annotations

import json

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from course_utils import pretrain, transfer  # noqa: E402


@pytest.fixture(autouse=True)
def no_weights_dirs(tmp_path, monkeypatch):
    """Search only an empty folder for ImageNet files, whatever this machine has cached."""
    monkeypatch.setenv("SEGCOURSE_WEIGHTS", str(tmp_path / "weights"))
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras_home"))


def _pages(n=2, size=32, seed=0):
    rng = np.random.default_rng(seed)
    return (rng.random((n, size, size, 1)) > 0.7).astype("float32"), rng.integers(0, 4, (n, size, size))


def test_shipped_weights_are_small_and_documented():
    path = transfer.PAGE_ENCODER_WEIGHTS
    assert path.is_file() and path.stat().st_size < 1_000_000
    report = json.loads(path.with_name("page_encoder.json").read_text())
    assert report["weights_bytes"] == path.stat().st_size
    assert report["heldout_patch_accuracy"] > 0.5   # 4 balanced classes: chance is 0.25


def test_pretrained_encoder_loads_and_differs_from_scratch():
    keras.utils.set_random_seed(0)
    scratch = transfer.build_page_fcn(encoder_weights=None)
    pretrained = transfer.build_page_fcn(encoder_weights="pretrained")
    assert pretrained.count_params() == scratch.count_params() == 130732
    saved = transfer.read_keras_weights(transfer.PAGE_ENCODER_WEIGHTS)
    for name in transfer.PAGE_ENCODER_LAYERS:
        for got, want in zip(pretrained.get_layer(name).get_weights(), saved[name]):
            np.testing.assert_array_equal(got, want)
    assert not np.allclose(scratch.get_layer("conv1").get_weights()[0], saved["conv1"][0])


def test_frozen_encoder_is_not_updated_and_fine_tuning_updates_it():
    pages, labels = _pages()
    model = transfer.build_page_fcn(encoder_weights="pretrained", freeze_encoder=True)
    assert transfer.count_params(model) == (53412, 77320)
    report = dict((name, flag) for name, flag, _ in transfer.trainable_report(model))
    assert report["conv1"] is False and report["dec_conv1"] is True

    def step(learning_rate):
        model.compile(optimizer=keras.optimizers.SGD(learning_rate), loss="sparse_categorical_crossentropy")
        before = {layer.name: [w.copy() for w in layer.get_weights()] for layer in model.layers if layer.weights}
        model.train_on_batch(pages, labels)
        return {name: any(not np.array_equal(a, b) for a, b in zip(old, model.get_layer(name).get_weights()))
                for name, old in before.items()}

    changed = step(0.1)
    assert not any(changed[name] for name in transfer.PAGE_ENCODER_LAYERS)
    assert changed["dec_conv1"] and changed["logits"]
    transfer.unfreeze(model, transfer.PAGE_ENCODER_LAYERS)
    assert transfer.count_params(model) == (130732, 0)
    changed = step(0.1)
    assert all(changed[name] for name in transfer.PAGE_ENCODER_LAYERS)


def test_freeze_names_an_unknown_layer():
    model = transfer.build_page_fcn()
    with pytest.raises(ValueError, match="no layer 'conv9'.*conv1"):
        transfer.freeze(model, ["conv1", "conv9"])


def test_wrong_shapes_name_the_layer_and_both_shapes():
    # 3 input channels: conv1's kernel is (3, 3, 3, 40), the file's (3, 3, 1, 40).
    with pytest.raises(transfer.WeightsMismatchError,
                       match=r"layer 'conv1' expects weights of shapes \[\(3, 3, 3, 40\), \(40,\)\], "
                             r"the file has \[\(3, 3, 1, 40\), \(40,\)\]"):
        transfer.build_page_fcn(num_channels=3, encoder_weights="pretrained")


def test_file_without_the_layer_and_missing_file(tmp_path):
    page = keras.Input((None, None, 1))
    other = keras.Model(page, keras.layers.Conv2D(4, 3, name="something_else")(page))
    other.save_weights(str(tmp_path / "other.weights.h5"))
    with pytest.raises(transfer.WeightsMismatchError, match="no weights for layer 'conv1'.*something_else"):
        transfer.build_page_fcn(encoder_weights=tmp_path / "other.weights.h5")
    with pytest.raises(FileNotFoundError, match="nowhere.weights.h5 does not exist"):
        transfer.build_page_fcn(encoder_weights=tmp_path / "nowhere.weights.h5")


def test_pretrain_script_saves_a_loadable_encoder(tmp_path):
    keras.utils.set_random_seed(0)
    patch_cnn = __import__("course_utils.models", fromlist=["x"]).build_patch_cnn()
    path = pretrain.save_page_encoder(patch_cnn, tmp_path / "enc.weights.h5")
    model = transfer.build_page_fcn(encoder_weights=path)
    np.testing.assert_array_equal(model.get_layer("conv2").get_weights()[0],
                                  patch_cnn.get_layer("conv2").get_weights()[0])


def test_pretrain_cli_bad_output_prints_usage(capsys):
    with pytest.raises(SystemExit) as exit_info:
        pretrain.main(["--output", "encoder.h5"])
    assert exit_info.value.code == 2
    assert "usage" in capsys.readouterr().err


# ----------------------------------------------------------------------------- keras.applications
def test_missing_imagenet_file_message_says_what_where_and_how():
    with pytest.raises(transfer.WeightsNotFoundError) as error:
        transfer.build_backbone("mobilenet_v2", (96, 96))
    message = str(error.value)
    for part in ("mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_96_no_top.h5", "SEGCOURSE_WEIGHTS",
                 "~/.keras/models", "weights='imagenet'", "storage.googleapis.com", "weights=None"):
        assert part in message, part
    assert transfer.imagenet_weights_filename("resnet50") == "resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5"
    assert transfer.imagenet_weights_filename("vgg16") == "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5"
    assert transfer.imagenet_weights_filename("mobilenet_v2", 100).endswith("_1.0_224_no_top.h5")


def test_random_fallback_only_when_asked():
    with pytest.raises(transfer.WeightsNotFoundError):
        transfer.build_backbone_fcn("mobilenet_v2", 3, input_size=(64, 64))
    with pytest.warns(UserWarning, match="random weights"):
        model = transfer.build_backbone_fcn("mobilenet_v2", 3, input_size=(64, 64), allow_random_weights=True)
    out = keras.ops.convert_to_numpy(model(np.zeros((1, 64, 64, 1), "float32")))
    assert out.shape == (1, 64, 64, 3) and np.allclose(out.sum(-1), 1, atol=1e-5)
    trainable, frozen = transfer.count_params(model)
    assert frozen == model.get_layer("backbone").count_params() and trainable > 0


def test_local_imagenet_file_is_found_and_loaded(tmp_path, monkeypatch):
    """A file in the keras.applications layout (made here from random weights) under the
    official name in $SEGCOURSE_WEIGHTS is what weights='imagenet' loads."""
    keras.utils.set_random_seed(1)
    source = keras.applications.MobileNetV2(weights=None, include_top=False, input_shape=(96, 96, 3))
    folder = tmp_path / "weights"
    folder.mkdir()
    transfer.save_legacy_h5_weights(source, folder / transfer.imagenet_weights_filename("mobilenet_v2", 96))
    loaded = transfer.build_backbone("mobilenet_v2", (96, 96), weights="imagenet")
    for name in ("Conv1", "block_16_project", "Conv_1_bn"):
        for got, want in zip(loaded.get_layer(name).get_weights(), source.get_layer(name).get_weights()):
            np.testing.assert_array_equal(got, want)


def test_wrong_imagenet_file_names_the_layer(tmp_path):
    vgg = keras.applications.VGG16(weights=None, include_top=False, input_shape=(32, 32, 3))
    transfer.save_legacy_h5_weights(vgg, tmp_path / "vgg.h5")
    with pytest.raises(transfer.WeightsMismatchError, match="has 104 layers with weights, the file 13"):
        transfer.build_backbone("mobilenet_v2", (32, 32), weights=tmp_path / "vgg.h5")
    # same layers, other shapes: a VGG16 file whose first convolution has 32 filters
    page = keras.Input((32, 32, 3))
    x = page
    for layer in vgg.layers[1:]:
        config = layer.get_config()
        if layer.name == "block1_conv1":
            config["filters"] = 32
        x = type(layer).from_config(config)(x)
    transfer.save_legacy_h5_weights(keras.Model(page, x), tmp_path / "vgg_narrow.h5")
    with pytest.raises(transfer.WeightsMismatchError,
                       match=r"layer 'block1_conv1'.*expects weights of shapes \[\(3, 3, 3, 64\), \(64,\)\], "
                             r"the file has \[\(3, 3, 3, 32\), \(32,\)\]"):
        transfer.build_backbone("vgg16", (32, 32), weights=tmp_path / "vgg_narrow.h5")
