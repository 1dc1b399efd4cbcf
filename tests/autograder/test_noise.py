"""Log noise is recognised (so it cannot zero a correct answer); student output is not."""

import pytest

from autograder.noise import is_log_noise

# Captured from kernels of this stack (TensorFlow 2.21, Keras 3.15) during autograding.
REAL_NOISE = [
    "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR\n",
    "I0000 00:00:1795624188.049056    4446 cpu_feature_guard.cc:227] This TensorFlow binary is optimized\n",
    "/work/main/.venv/lib/python3.11/site-packages/keras/src/layers/convolutional/base_conv.py:113: "
    "UserWarning: Do not pass an `input_shape`/`input_dim` argument to a layer.\n  super().__init__(**kwargs)\n",
    "2026-11-25 16:40:00.123456: I tensorflow/core/util/port.cc:153] oneDNN custom operations are on.\n",
    "E0000 00:00:1732550400.123456   12345 cuda_dnn.cc:8310] Unable to register cuDNN factory\n",
    "<ipython-input-3-abc>:4: RuntimeWarning: invalid value encountered in scalar divide\n",
]
NOT_NOISE = [
    "my debug print\n",
    "Traceback (most recent call last):\n  File \"x.py\", line 1\nAssertionError: Dice is wrong\n",
    "The result: I0000 looks odd\n",
]


@pytest.mark.parametrize("text", REAL_NOISE)
def test_recognises_library_logs_and_warnings(text):
    assert is_log_noise(text)


@pytest.mark.parametrize("text", NOT_NOISE)
def test_leaves_other_stderr_alone(text):
    assert not is_log_noise(text)
