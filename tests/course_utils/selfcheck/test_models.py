"""Tests of course_utils.selfcheck.models: the FCN model check (needs Keras)."""

import pytest

from course_utils import selfcheck


def test_fcn_model_check_passes_the_slide_network_and_diagnoses_mistakes():
    keras = pytest.importorskip("keras")
    layers = keras.layers

    def build(num_classes, upscale=8, kernels=(3, 4, 4), softmax=True, input_shape=(None, None, 1),
              last_activation=None):
        stack = [keras.Input(shape=input_shape)]
        for filters, kernel in zip((40, 40, 80), kernels):
            stack += [layers.Conv2D(filters, kernel, padding="same", activation="relu"),
                      layers.MaxPooling2D(2, strides=2)]
        stack += [layers.UpSampling2D(upscale), layers.Conv2D(num_classes, 1, activation=last_activation)]
        if softmax:
            stack.append(layers.Activation("softmax"))
        return keras.Sequential(stack)

    assert selfcheck.check_fcn_upscaling(lambda n: build(n), quiet=True).passed
    diagnosed = {
        "wrong_upscaling": lambda n: build(n, upscale=2),
        "missing_softmax": lambda n: build(n, softmax=False),
        "fixed_input_size": lambda n: build(n, input_shape=(64, 64, 1)),
        "all_3x3": lambda n: build(n, kernels=(3, 3, 3)),
        "softmax_twice": lambda n: build(n, last_activation="softmax"),
        "relu_before_softmax": lambda n: build(n, last_activation="relu"),
        "not_a_model": lambda n: [build(n)],
    }
    for mistake, wrong_build in diagnosed.items():
        result = selfcheck.check_fcn_upscaling(wrong_build, quiet=True)
        assert not result.passed and result.mistake == mistake, result.message
        assert "parameters" not in result.message or mistake == "wrong_parameter_count"
