"""Checks of function arguments shared by the library's modules.

Each raises ``ValueError`` with a message that names the argument, so a learner who
passes a wrong value sees which one and what is allowed. Not used by ``models`` (whose
check accepts Python ints only, not NumPy ones) nor by ``shapes`` and ``layers`` (whose checks
return the value, as a Python int), which keep their own.
"""

import numpy as np


def check_int(name, value, minimum, maximum=None):
    """Raise ValueError unless ``value`` is an int (Python or NumPy, not bool) in
    ``[minimum, maximum]`` (no upper bound when ``maximum`` is None)."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ValueError(f"{name} must be an integer, got {value!r}")
    if value < minimum or (maximum is not None and value > maximum):
        upper = "" if maximum is None else f" and <= {maximum}"
        raise ValueError(f"{name} must be >= {minimum}{upper}, got {value}")
