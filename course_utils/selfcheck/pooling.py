"""Self-checks of max pooling that also returns the positions of the maxima, and of the
max-unpooling that puts values back at those positions.

Assignment ``skip_fcns``.
"""

import numpy as np

from .engine import (
    _Case,
    _Check,
    _matches,
    _Mistake,
    _Raised,
    _run_check,
    _to_numpy,
    _values_right,
)

__all__ = ["check_max_pool_with_argmax", "check_max_unpool"]


def _pool_reference(x, pool_size=2):
    x = np.asarray(x)
    b, h, w, c = x.shape
    p = pool_size
    windows = x.reshape(b, h // p, p, w // p, p, c).transpose(0, 1, 3, 5, 2, 4)
    windows = windows.reshape(b, h // p, w // p, c, p * p)
    return windows.max(-1), windows.argmax(-1)


def _pool_column_major(x, pool_size=2):
    x = np.asarray(x)
    b, h, w, c = x.shape
    p = pool_size
    windows = x.reshape(b, h // p, p, w // p, p, c).transpose(0, 1, 3, 5, 4, 2)
    windows = windows.reshape(b, h // p, w // p, c, p * p)
    return windows.max(-1), windows.argmax(-1)


def _pool_last_on_ties(x, pool_size=2):
    pooled, _ = _pool_reference(x, pool_size)
    x = np.asarray(x)
    b, h, w, c = x.shape
    p = pool_size
    windows = x.reshape(b, h // p, p, w // p, p, c).transpose(0, 1, 3, 5, 2, 4)
    windows = windows.reshape(b, h // p, w // p, c, p * p)[..., ::-1]
    return pooled, p * p - 1 - windows.argmax(-1)


_EXAMPLE_4X4 = np.array([[1, 5, 0, 2], [3, 2, 9, 9], [7, 0, 4, 4], [1, 8, 4, 4]],
                        dtype=np.float32).reshape(1, 4, 4, 1)


def _pool_cases():
    rng = np.random.default_rng(3)
    return [
        _Case("the notebook's 4x4 example", (_EXAMPLE_4X4,), {"pool_size": 2}, public=True),
        _Case("random integers with ties, batch 2, 3 channels, 2x2",
              (rng.integers(0, 4, size=(2, 4, 6, 3)).astype(np.float32),), {"pool_size": 2}),
        _Case("random values, 3x3 windows on 6x9 pixels",
              (rng.normal(size=(1, 6, 9, 2)).astype(np.float32),), {"pool_size": 3}),
    ]


def check_max_pool_with_argmax(max_pool_with_argmax, assignment=None, quiet=False):
    """Check ``max_pool_with_argmax(x, pool_size=2)`` -> ``(pooled, argmax)``.

    Diagnoses: row and column swapped in the position (column * p + row), the last
    maximum winning on ties, positions that are not integers.
    """

    def integer_positions(output):
        return (isinstance(output, (tuple, list)) and len(output) == 2
                and np.issubdtype(_to_numpy(output[1]).dtype, np.integer))

    check = _Check(
        "max_pool_with_argmax", _pool_cases(), _pool_reference,
        mistakes=[
            _Mistake("column_major", "row and column are swapped in the position", (
                "Check the notebook's example: 5 is top-right in its window, position 1.",
                "Positions count row by row: row * pool_size + column. Put the window's row "
                "axis before its column axis when you flatten.",
            ), _matches(_pool_column_major)),
            _Mistake("last_on_ties", "the last maximum wins on ties", (
                "Look at windows with two equal maxima.",
                "np.argmax returns the first maximum: use it on the windows flattened row by row.",
            ), _matches(_pool_last_on_ties)),
            _Mistake("positions_not_int", "the positions are right but not integers", (
                "argmax must be an integer array: .astype(int) or use np.argmax directly.",
            ), _values_right()),
        ],
        generic_hints=(
            "Check the shapes: both arrays (batch, H / p, W / p, C).",
            "Reshape to (b, H/p, p, W/p, p, C), move the two window axes to the end in the "
            "order (row, column), flatten them and take max and argmax over that axis.",
        ),
        output_ok=integer_positions,
    )
    return _run_check(check, max_pool_with_argmax, assignment, quiet)


def _unpool_reference(values, argmax, pool_size=2):
    values, argmax = np.asarray(values), np.asarray(argmax)
    b, h, w, c = values.shape
    p = pool_size
    out = np.zeros((b, h * p, w * p, c), dtype=values.dtype)
    for index in np.ndindex(b, h, w, c):
        row, col = divmod(int(argmax[index]), p)
        out[index[0], index[1] * p + row, index[2] * p + col, index[3]] = values[index]
    return out


def _unpool_swapped(values, argmax, pool_size=2):
    col, row = np.divmod(np.asarray(argmax), pool_size)
    return _unpool_reference(values, row * pool_size + col, pool_size)


def _unpool_cases():
    rng = np.random.default_rng(4)
    return [
        _Case("the notebook's hand-made values and positions",
              (np.array([[10, 20], [30, 40]], dtype=np.float32).reshape(1, 2, 2, 1),
               np.array([[0, 3], [1, 2]]).reshape(1, 2, 2, 1)), public=True),
        _Case("random values and positions, batch 2, 3 channels, 2x2",
              (rng.normal(size=(2, 2, 3, 3)).astype(np.float32),
               rng.integers(0, 4, size=(2, 2, 3, 3)))),
        _Case("random values and positions, 3x3 windows",
              (rng.normal(size=(1, 2, 2, 2)).astype(np.float32),
               rng.integers(0, 9, size=(1, 2, 2, 2))), {"pool_size": 3}),
    ]


def check_max_unpool(max_unpool, assignment=None, quiet=False):
    """Check ``max_unpool(values, argmax, pool_size=2)``.

    Diagnoses: row and column swapped (argmax % p as the row), a re-pooling of the
    values instead of using the given positions, a wrong output shape.
    """

    def repooled(values, argmax, pool_size=2):
        # Ignores the given positions: every value at the top-left of its window.
        return _unpool_reference(values, np.zeros_like(np.asarray(argmax)), pool_size)

    check = _Check(
        "max_unpool", _unpool_cases(), _unpool_reference,
        mistakes=[
            _Mistake("row_column_swapped", "row and column inside the window are swapped", (
                "Check the notebook's example: position 1 is the top-right pixel of a window.",
                "Row = argmax // pool_size, column = argmax % pool_size.",
            ), _matches(_unpool_swapped)),
            _Mistake("positions_ignored", "the given positions are not used", (
                "Every value must go where its argmax says, not to a fixed place in the window.",
                "Use the positions you are given: row i * p + argmax // p, column "
                "j * p + argmax % p.",
            ), _matches(repooled)),
            _Mistake("wrong_shape", "the output shape is not (batch, h * p, w * p, C)", (
                "Start from np.zeros((b, h * p, w * p, C), dtype=values.dtype).",
            ), lambda cases, outputs, expected: any(
                not isinstance(o, _Raised) and _to_numpy(o).shape
                != _unpool_reference(*c.args, **(c.kwargs or {})).shape
                for c, o in zip(cases, outputs))),
        ],
        generic_hints=(
            "Write the loop version first: for every (b, i, j, c) put values[b, i, j, c] at "
            "its position; compare with the notebook's example.",
        ),
    )
    return _run_check(check, max_unpool, assignment, quiet)
