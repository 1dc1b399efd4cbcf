"""Which stderr output is log noise, so that it never fails a correct answer.

nbgrader fails a test cell that writes anything to stderr. TensorFlow's C++ logging,
absl, and Python warnings (Keras' ``UserWarning``s among them) all write there, so a
correct answer could score 0. nbgrader's ``IgnorePattern`` preprocessor drops each
stderr stream output in which this pattern matches; errors (failed asserts,
exceptions) are separate ``error`` outputs and are never dropped.
"""

import re

LOG_NOISE_PATTERN = "(?m)^(?:" + "|".join([
    # Python warnings: "/path/to/module.py:123: UserWarning: message"
    r"\S.*:\d+: \w*Warning: ",
    # TensorFlow C++ log lines: "2026-11-25 16:40:00.123456: I tensorflow/... ] message"
    r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+: [IWEF] ",
    # absl/glog log lines: "W0000 00:00:1732550400.123456   12345 file.cc:42] message"
    r"[IWEF]\d{4} \d\d:\d\d:\d+\.\d+\s+\d+ \S+:\d+\]",
    # absl's notice printed before its logging is initialised
    r"WARNING: All log messages before absl::InitializeLog\(\) is called",
]) + ")"


def is_log_noise(stderr_text: str) -> bool:
    """True when ``stderr_text`` holds a log or warning line (as IgnorePattern decides)."""
    return re.search(LOG_NOISE_PATTERN, stderr_text) is not None
