"""Tests of course_utils.timing.best_time, on a fake clock (no real timing in tests)."""

import pytest

from course_utils import timing


class FakeClock:
    """perf_counter stand-in: each timed call advances the clock by the next duration."""

    def __init__(self, durations):
        self.now = 0.0
        self.durations = iter(durations)
        self.calls = 0

    def perf_counter(self):
        return self.now

    def work(self):
        self.calls += 1
        self.now += next(self.durations)


def test_best_time_returns_the_fastest_timed_call(monkeypatch):
    clock = FakeClock([9.0, 0.05, 0.01, 0.03])  # the first call is the untimed warm-up
    monkeypatch.setattr(timing.time, "perf_counter", clock.perf_counter)
    assert timing.best_time(clock.work, repeats=3, warmup=1) == pytest.approx(0.01)
    assert clock.calls == 4


def test_warmup_calls_are_not_timed(monkeypatch):
    clock = FakeClock([5.0, 5.0, 0.2, 0.3])
    monkeypatch.setattr(timing.time, "perf_counter", clock.perf_counter)
    assert timing.best_time(clock.work, repeats=2, warmup=2) == pytest.approx(0.2)


@pytest.mark.parametrize("kwargs", [{"repeats": 0}, {"warmup": -1}])
def test_best_time_bad_arguments(kwargs):
    with pytest.raises(ValueError, match=next(iter(kwargs))):
        timing.best_time(lambda: None, **kwargs)
