"""Checked inputs of the disentanglement metrics: codes, ground-truth factors, factor sizes, and the seeded draws of
factor settings that the sampled metrics (BetaVAE and FactorVAE scores) feed to a representation.

Every check raises one ValueError that names the problem and the fix.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

Represent = Callable[[np.ndarray], Any]
"""``represent(factors: (n, K) int64 classes) -> codes (n, L)``: observations generated from the factors, encoded."""


def check_codes(codes: Any, name: str = "codes", min_codes: int = 1, min_rows: int = 2) -> np.ndarray:
    """``codes`` as a float64 (n, L) array with n >= ``min_rows`` rows, L >= ``min_codes`` columns, finite."""
    arr = np.asarray(codes)
    if not (np.issubdtype(arr.dtype, np.floating) or np.issubdtype(arr.dtype, np.integer)
            or arr.dtype == np.bool_):
        raise ValueError(f"{name} must be real-valued, got dtype {arr.dtype}")
    if arr.ndim != 2 or arr.shape[0] < min_rows or arr.shape[1] < min_codes:
        raise ValueError(f"{name} must be 2-D (n >= {min_rows} points, L >= {min_codes} codes), got shape "
                         f"{arr.shape}")
    arr = arr.astype(np.float64)
    bad = ~np.isfinite(arr)
    if bad.any():
        rows, cols = np.nonzero(bad)
        raise ValueError(f"{name} has NaN or inf in code(s) {_few(np.unique(cols))} at row(s) "
                         f"{_few(np.unique(rows))}; check the encoder outputs")
    return arr


def check_factors(factors: Any, n: int, name: str = "factors") -> np.ndarray:
    """``factors`` as an int64 (n, K) array of class indices, one row per code row.

    Integer (or bool) arrays, and float arrays whose entries are all whole numbers, are accepted.
    """
    arr = np.asarray(factors)
    if arr.ndim != 2 or arr.shape[0] != n or arr.shape[1] < 1:
        raise ValueError(f"{name} must be 2-D with one row per code row, shape ({n}, K >= 1), got {arr.shape}")
    if np.issubdtype(arr.dtype, np.integer) or arr.dtype == np.bool_:
        return arr.astype(np.int64)
    if (np.issubdtype(arr.dtype, np.floating) and np.isfinite(arr).all() and (arr == np.round(arr)).all()
            and (np.abs(arr) < 2.0**53).all()):  # beyond 2^53 a float is not one integer (and int64 wraps at 2^63)
        return arr.astype(np.int64)
    raise ValueError(f"{name} must hold integer class indices (e.g. dSprites' latents_classes, not its "
                     f"latents_values), got dtype {arr.dtype} with non-integer or huge (>= 2^53) entries")


def check_varying(factors: np.ndarray, name: str = "factors") -> None:
    """Raise unless every factor (column) takes at least two values."""
    constant = [k for k in range(factors.shape[1]) if np.all(factors[:, k] == factors[0, k])]
    if constant:
        raise ValueError(f"{name} {constant} take a single value, so nothing can be predicted or measured about "
                         "them; drop those columns (e.g. dSprites' colour)")


def check_train_test(codes: Any, factors: Any, codes_test: Any,
                     factors_test: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Training points (codes (n, L >= 2), factors (n, K), each factor varying) and held-out points (m, L), (m, K)
    with the same columns, checked and converted (float64 codes, int64 factors)."""
    codes = check_codes(codes, min_codes=2)
    factors = check_factors(factors, len(codes))
    check_varying(factors)
    codes_test = check_codes(codes_test, "codes_test", min_rows=1)
    factors_test = check_factors(factors_test, len(codes_test), "factors_test")
    if codes_test.shape[1] != codes.shape[1] or factors_test.shape[1] != factors.shape[1]:
        raise ValueError(f"the test points must have the training points' columns: codes {codes.shape} vs "
                         f"{codes_test.shape}, factors {factors.shape} vs {factors_test.shape}")
    return codes, factors, codes_test, factors_test


def check_factor_sizes(factor_sizes: Any) -> np.ndarray:
    """``factor_sizes`` as an int64 (K,) array, every factor with at least two values."""
    sizes = np.asarray(factor_sizes)
    if sizes.ndim != 1 or len(sizes) < 1 or not np.issubdtype(sizes.dtype, np.integer):
        raise ValueError(f"factor_sizes must be a 1-D sequence of integers (values per factor), got {sizes!r}")
    if (sizes < 2).any():
        raise ValueError(f"factor_sizes {sizes.tolist()}: every factor needs at least 2 values; drop the constant "
                         "ones (e.g. dSprites' colour)")
    return sizes.astype(np.int64)


def uniform_factors(rng: np.random.Generator, sizes: np.ndarray, count: int) -> np.ndarray:
    """(count, K) int64 factor settings, each factor uniform over its ``sizes[k]`` classes, independently.

    Built from ``rng.random`` (one double per entry), so splitting a draw into consecutive smaller draws gives the
    same classes: the metrics' results do not depend on how many rows go to ``represent`` at a time.
    """
    u = rng.random((count, len(sizes)))
    return np.minimum((u * sizes).astype(np.int64), sizes - 1)


def uniform_index(rng: np.random.Generator, size: int, count: int) -> np.ndarray:
    """(count,) int64 indices uniform in [0, size), drawn like :func:`uniform_factors`."""
    return uniform_factors(rng, np.array([size]), count)[:, 0]


def represented(represent: Represent, factors: np.ndarray, n_codes: int | None = None) -> np.ndarray:
    """``represent(factors)`` checked: a finite float64 (len(factors), L) array, L = ``n_codes`` when given."""
    codes = np.asarray(represent(factors.copy()))
    if codes.ndim != 2 or codes.shape[0] != len(factors) or (n_codes is not None and codes.shape[1] != n_codes):
        expected = f"({len(factors)}, {'L' if n_codes is None else n_codes})"
        raise ValueError(f"represent must return one code row per factor row, shape {expected}, got {codes.shape}")
    return check_codes(codes, "represent's codes", min_rows=1)


def _few(indices: np.ndarray, shown: int = 5) -> str:
    """'[1, 4, 7]' or '[1, 4, 7, 9, 11, ... (12 in all)]'."""
    head = ", ".join(str(i) for i in indices[:shown])
    return f"[{head}]" if len(indices) <= shown else f"[{head}, ... ({len(indices)} in all)]"
