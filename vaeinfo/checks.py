"""Argument checks shared by every level of the package: whole numbers, real numbers, and class labels without NaN.

Level 0 (imports nothing from vaeinfo). An integer argument is a Python ``int`` or a numpy integer; a bool (an
``int`` subclass in Python) and a float, even ``2.0``, are refused, so that ``k=True`` or ``n_bins=2.5`` fails
where it is passed rather than deep inside numpy or as a silently truncated count.
"""
from __future__ import annotations

import math
import numbers

import numpy as np

_BOOLS = (bool, np.bool_)


def is_integer(value) -> bool:
    """True for a Python or numpy integer; False for a bool, a float (even 2.0) and anything else."""
    return isinstance(value, numbers.Integral) and not isinstance(value, _BOOLS)


def is_real(value) -> bool:
    """True for a Python or numpy real number (integers included); False for a bool, a string and anything else."""
    return isinstance(value, numbers.Real) and not isinstance(value, _BOOLS)


def as_number(value) -> float:
    """``value`` as a float (what ``float()`` accepts, e.g. 3, np.float32(0.5) or a YAML string "1e-3"); NaN for a
    bool (``beta=True`` is not 1.0) and for anything ``float()`` refuses, so that one range check can refuse all."""
    if isinstance(value, _BOOLS):
        return math.nan
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def check_integer(value, name: str, *, low: int, high: int | None = None, meaning: str = "",
                  none: str | None = None) -> int | None:
    """``value`` as an ``int``, or None where ``none`` says what None means and ``value`` is None.

    Raises one ValueError naming ``name``, the allowed range [``low``, ``high``] (``high`` None: no upper bound),
    ``meaning`` (what the number counts) and the value given, unless :func:`is_integer` holds and it is in range.
    """
    if value is None and none is not None:
        return None
    if is_integer(value) and low <= value and (high is None or value <= high):
        return int(value)
    bound = f">= {low}" if high is None else f"in [{low}, {high}]"
    meaning = f" ({meaning})" if meaning else ""
    alternative = f" or None ({none})" if none is not None else ""
    raise ValueError(f"{name} must be an integer {bound}{meaning}{alternative}, got {value!r}")


def check_labels(y: np.ndarray) -> None:
    """Raise ValueError for labels unequal to themselves (NaN): each would be a class of its own (in a fingerprint
    its coefficient with itself would be 0, its information infinite; in I(Z; Y) a class of one)."""
    missing = ~(y == y)
    if missing.any():
        raise ValueError(f"labels hold {int(missing.sum())} NaN value(s); drop those points or give them a class of "
                         "their own")
