"""Training on a time budget, so notebooks and benchmarks take predictable time.

``fit`` counts epochs; a laptop, a CI runner and a grading server differ several-fold in
speed. ``TimeBudget`` stops training after a number of seconds instead, so "the same
budget" means the same wall-clock time for every network being compared.
"""

from __future__ import annotations

import time

import keras


class TimeBudget(keras.callbacks.Callback):
    """Stop ``fit`` once ``seconds`` of training have passed (checked after each batch).

    The clock starts after the first batch: that batch traces and compiles the model,
    which takes from a second to a minute depending on the network and the backend and
    is not training. Its duration is reported as ``warmup_s``.

    Args:
        seconds: wall-clock budget in seconds, > 0.

    Attributes:
        elapsed_s: seconds trained after the first batch (set when training ends).
        warmup_s: seconds of the first batch (tracing and compilation included).
        batches: number of batches trained, the first one included.
    """

    def __init__(self, seconds):
        super().__init__()
        if not seconds > 0:
            raise ValueError(f"seconds must be > 0, got {seconds!r}")
        self.seconds = float(seconds)
        self.elapsed_s = 0.0
        self.warmup_s = 0.0
        self.batches = 0

    def on_train_begin(self, logs=None):
        self._begin = time.perf_counter()
        self._start = None
        self.batches = 0

    def on_train_batch_end(self, batch, logs=None):
        self.batches += 1
        now = time.perf_counter()
        if self._start is None:
            self._start = now
            self.warmup_s = now - self._begin
        elif now - self._start >= self.seconds:
            self.model.stop_training = True

    def on_train_end(self, logs=None):
        self.elapsed_s = time.perf_counter() - (self._start if self._start is not None else self._begin)


def fit_for(model, x, y, seconds, batch_size=8, max_epochs=10_000, **fit_kwargs):
    """Train a compiled ``model`` on ``(x, y)`` for about ``seconds`` of wall-clock time.

    Args:
        model: a compiled Keras model.
        x: inputs, e.g. pages of shape (N, H, W, C); or a ``keras.utils.PyDataset``
            yielding (inputs, targets) batches, with ``y=None``.
        y: targets, e.g. labels of shape (N, H, W); None when ``x`` is a dataset.
        seconds: training budget in seconds (the last batch may run past it).
        batch_size: images per batch (ignored for a dataset, which batches itself).
        max_epochs: upper bound on epochs, in case the budget is generous.
        **fit_kwargs: passed on to ``model.fit`` (e.g. ``verbose=0``).

    Returns:
        The ``TimeBudget`` callback, holding ``elapsed_s``, ``warmup_s`` and ``batches``.
    """
    budget = TimeBudget(seconds)
    callbacks = list(fit_kwargs.pop("callbacks", [])) + [budget]
    fit_kwargs.setdefault("verbose", 0)
    if y is None:
        model.fit(x, epochs=max_epochs, callbacks=callbacks, **fit_kwargs)
    else:
        model.fit(x, y, batch_size=batch_size, epochs=max_epochs, callbacks=callbacks, **fit_kwargs)
    return budget
