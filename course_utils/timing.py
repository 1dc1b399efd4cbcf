"""Wall-clock timing of a function call (e.g. one prediction)."""

import time


def best_time(function, repeats=3, warmup=1):
    """Seconds taken by the fastest of ``repeats`` calls of ``function()``.

    The ``warmup`` calls run first and are not timed: the first call of a Keras model
    traces and compiles its graph, which is not the cost of a prediction. The best (not
    the mean) of the timed calls is returned because other processes and caches only ever
    make a call slower: the minimum is the least noisy estimate of the call's own cost.

    Args:
        function: callable taking no arguments (wrap arguments with a lambda).
        repeats: number of timed calls, int >= 1.
        warmup: number of untimed calls before, int >= 0.

    Returns:
        float: the shortest wall-clock time of one call, in seconds.

    Raises:
        ValueError: if ``repeats`` < 1 or ``warmup`` < 0.
    """
    if repeats < 1:
        raise ValueError(f"repeats must be >= 1, got {repeats}")
    if warmup < 0:
        raise ValueError(f"warmup must be >= 0, got {warmup}")
    for _ in range(warmup):
        function()
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        best = min(best, time.perf_counter() - start)
    return best
