"""TimeBudget stops training by wall-clock time, on a fake clock (no real timing in tests)."""

import keras
import numpy as np
import pytest

from course_utils import training


class FakeClock:
    def __init__(self, step_s):
        self.now, self.step_s = 0.0, step_s

    def perf_counter(self):
        self.now += self.step_s
        return self.now


def tiny_model():
    model = keras.Sequential([keras.Input((4, 4, 1)), keras.layers.Conv2D(2, 1, activation="softmax")])
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    return model


def test_fit_for_stops_when_the_budget_is_spent(monkeypatch):
    # Each clock reading advances 1 s: training begins at 1, batch k ends at k + 1. The
    # budget starts after the first (compiling) batch, at 2, and is spent at batch 6 (7 - 2 = 5).
    monkeypatch.setattr(training.time, "perf_counter", FakeClock(1.0).perf_counter)
    x = np.zeros((64, 4, 4, 1), "float32")
    y = np.zeros((64, 4, 4), "int32")
    budget = training.fit_for(tiny_model(), x, y, seconds=5, batch_size=8)
    assert budget.batches == 6
    assert budget.warmup_s == pytest.approx(1.0)
    assert budget.elapsed_s == pytest.approx(6.0)


def test_fit_for_respects_max_epochs(monkeypatch):
    monkeypatch.setattr(training.time, "perf_counter", FakeClock(1e-6).perf_counter)
    x = np.zeros((16, 4, 4, 1), "float32")
    y = np.zeros((16, 4, 4), "int32")
    budget = training.fit_for(tiny_model(), x, y, seconds=1000, batch_size=8, max_epochs=3)
    assert budget.batches == 6


@pytest.mark.parametrize("seconds", [0, -1, None])
def test_budget_must_be_positive(seconds):
    with pytest.raises((ValueError, TypeError)):
        training.TimeBudget(seconds)
