"""The public entry points of the per-factor MI estimators: :func:`factor_mi` (every method by name),
:func:`mc_mi` (with its standard error) and :func:`as_posterior` (validation of encoder outputs)."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from .bounds import dimwise_kl, gaussian_mi, kt_lower, kt_upper
from .grid import grid_mi
from .mixture import conditional_entropy
from .montecarlo import mc_entropy, nested_mc_mi
from .quadrature import quad_mi

LOGVAR_LIMIT = 600.0  # |logvar| above this overflows sigma^2 arithmetic; rejected by validation
RESOLUTION_STEPS = 2.0**10  # sigma must span this many float64 steps at its factor's largest |mu| (see as_posterior)


@dataclass(frozen=True)
class MCEstimate:
    """A Monte Carlo estimate with its standard error.

    Attributes
    ----------
    value : the estimate (nats); shape (d,) for :func:`mc_mi`, a 0-d array for
        :func:`vaeinfo.info.decomposition.total_correlation`.
    stderr : its standard error (nats), same shape.
    n_samples : number of samples z drawn.
    """

    value: np.ndarray
    stderr: np.ndarray
    n_samples: int


def factor_mi(mu: Any, logvar: Any, method: str = "grid", **options: Any) -> np.ndarray:
    """Mutual information I(X; Z_h) between the data and each latent factor, in nats.

    Parameters
    ----------
    mu, logvar : (N, d) encoder means and log-variances (numpy or torch, any float dtype, any device), N >= 2.
    method : one of ``METHODS`` (see the module docstring); ``"grid"`` is the consistent default.
    **options : method options:

        - grid: ``tol=1e-3`` (target absolute error, nats), ``max_grid=2**21`` (most grid points per cluster
          of overlapping components), ``workers=None`` (threads; default: the CPUs available).
        - mc: ``n_samples=10_000``, ``seed=0``, ``chunk=2**22`` (see :func:`mc_mi`).
        - quad: ``chunk=2**22`` (density evaluations held in memory at once).
        - kt_lower, kt_upper: ``max_n=2000`` (subsample size, >= 2), ``seed=0``, ``chunk=2**22``.
        - gaussian, dimwise_kl: none.

    Returns
    -------
    (d,) float64 array, nats. ``kt_lower`` <= I <= ``gaussian``, ``dimwise_kl``; ``kt_upper`` >= I of the
    subsample's mixture.

    Raises
    ------
    ValueError : bad shapes, non-finite values (the factors and rows are named), N < 2, unknown method.
    TypeError : an option the method does not take.
    """
    estimator = resolve_estimator(method, options, f"factor_mi(method={method!r})")
    mu_, logvar_ = as_posterior(mu, logvar)
    return estimator(mu_, logvar_, **options)


def mc_mi(mu: Any, logvar: Any, n_samples: int = 10_000, seed: int | np.random.Generator = 0,
          chunk: int = 2**22) -> MCEstimate:
    """Nested Monte Carlo estimate of I(X; Z_h) with its standard error (the slow reference).

    H(q(z_h)) = -E_{z ~ q}[log q(z)] is averaged over ``n_samples`` draws z = mu_ih + sigma_ih eps, the rows i
    stratified (every row n_samples // N times, the rest without replacement), and log q(z) is the exact
    log-mean-exp over all N components (as beta-TCVAE's ``estimate_entropies``). Unbiased; the standard error
    ``stderr`` = std(log q(z)) / sqrt(S) (conservative under stratification). Time O(S N d), memory O(chunk).

    Parameters
    ----------
    mu, logvar : (N, d).
    n_samples : S, samples of z per factor.
    seed : int or numpy Generator.
    chunk : most (sample, component, factor) log-densities held in memory at once.

    Returns
    -------
    MCEstimate with value and stderr of shape (d,), nats.
    """
    mu_, logvar_ = as_posterior(mu, logvar)
    h_q, stderr = mc_entropy(mu_, logvar_, n_samples, seed, chunk)
    return MCEstimate(h_q - conditional_entropy(logvar_), stderr, n_samples)


def as_posterior(mu: Any, logvar: Any) -> tuple[np.ndarray, np.ndarray]:
    """Validate encoder outputs and return them as float64 numpy arrays of shape (N, d).

    Accepts numpy arrays, sequences or torch tensors (any float dtype incl. float16/bfloat16, any device).
    Raises ValueError naming the factors and rows of non-finite entries, for shape mismatches, N < 2,
    |logvar| > LOGVAR_LIMIT, and a sigma below RESOLUTION_STEPS float64 steps of its factor's largest |mu| (about
    2e-13 at |mu| = 1, logvar < -58): there z - mu, which the consistent estimators evaluate, loses its digits
    (below one step the grid returned values above log N or failed; at a few hundred steps the quadrature was off by
    1e-3 nats; near the limit its error is about 1e-4 nats, far above its usual 1e-9).
    """
    arrays = {"mu": _to_float64(mu, "mu"), "logvar": _to_float64(logvar, "logvar")}
    for name, arr in arrays.items():
        if arr.ndim != 2:
            raise ValueError(f"{name} must be 2-D (N, d), got shape {arr.shape}")
    if arrays["mu"].shape != arrays["logvar"].shape:
        raise ValueError(f"mu and logvar shapes differ: {arrays['mu'].shape} vs {arrays['logvar'].shape}")
    n, d = arrays["mu"].shape
    if n < 2 or d < 1:
        raise ValueError(f"need N >= 2 rows and d >= 1 factors, got shape {(n, d)}")
    for name, arr in arrays.items():
        _check_entries(name, np.isfinite(arr), "non-finite (NaN or inf) values")
    _check_entries("logvar", np.abs(arrays["logvar"]) <= LOGVAR_LIMIT, f"|logvar| > {LOGVAR_LIMIT:g}")
    step = np.spacing(np.abs(arrays["mu"]).max(axis=0))  # (d,) float64 resolution at each factor's largest |mu|
    _check_entries("logvar", 0.5 * arrays["logvar"] >= np.log(RESOLUTION_STEPS * step),
                   "sigma below 2^10 float64 steps of the factor's largest |mu| (z - mu cannot be "
                   "resolved there; rescale the factor, or clip logvar from below)")
    return arrays["mu"], arrays["logvar"]


def _to_float64(x: Any, name: str) -> np.ndarray:
    """A float64 numpy array (a copy unless already float64 numpy) of an array, sequence or torch tensor."""
    if type(x).__module__.startswith("torch"):
        import torch

        if not torch.is_floating_point(x):
            raise ValueError(f"{name} must be a floating-point tensor, got {x.dtype}")
        return x.detach().to(device="cpu", dtype=torch.float64).numpy()
    arr = np.asarray(x)
    if not (np.issubdtype(arr.dtype, np.floating) or np.issubdtype(arr.dtype, np.integer)):
        raise ValueError(f"{name} must be real-valued, got dtype {arr.dtype}")
    return np.asarray(arr, dtype=np.float64)


def _check_entries(name: str, ok: np.ndarray, problem: str, shown: int = 5) -> None:
    """Raise ValueError naming the factors (columns) and rows where ``ok`` is False."""
    if ok.all():
        return
    rows, cols = np.nonzero(~ok)
    factors, bad_rows = np.unique(cols), np.unique(rows)
    raise ValueError(f"{name} has {problem} in factor(s) {_few(factors, shown)} at row(s) {_few(bad_rows, shown)}")


def _few(indices: np.ndarray, shown: int) -> str:
    """'[1, 4, 7]' or '[1, 4, 7, ... (12 in all)]'."""
    head = ", ".join(str(i) for i in indices[:shown])
    return f"[{head}]" if len(indices) <= shown else f"[{head}, ... ({len(indices)} in all)]"


def require_consistent(method: str, where: str) -> None:
    """Raise ValueError unless ``method`` is one of :data:`CONSISTENT_METHODS`.

    For the callers that subtract or compare estimates of I (``where`` names them in the message): the difference of
    two bounds bounds nothing, and ``dimwise_kl``, being linear in the rows, cancels exactly in such differences.
    """
    if method not in CONSISTENT_METHODS:
        raise ValueError(f"{where} needs a consistent estimate of I; method must be one of "
                         f"{CONSISTENT_METHODS}, got {method!r}")


def resolve_estimator(method: str, options: dict, where: str) -> Callable[..., np.ndarray]:
    """The estimator function of ``method``, after checking that it takes ``options``.

    Raises ValueError for an unknown method, TypeError (naming ``where`` and the valid options) for an option the
    method does not take.
    """
    if method not in _ESTIMATORS:
        raise ValueError(f"unknown method {method!r}; choose one of {METHODS}")
    estimator = _ESTIMATORS[method]
    valid = [p for p in inspect.signature(estimator).parameters if p not in ("mu", "logvar")]
    unknown = sorted(set(options) - set(valid))
    if unknown:
        raise TypeError(f"{where} got unknown option(s) {unknown}; valid options: {valid}")
    return estimator


# --- registry -----------------------------------------------------------------------------------------------

_ESTIMATORS: dict[str, Callable[..., np.ndarray]] = {
    "grid": grid_mi,
    "mc": nested_mc_mi,
    "quad": quad_mi,
    "gaussian": gaussian_mi,
    "kt_lower": kt_lower,
    "kt_upper": kt_upper,
    "dimwise_kl": dimwise_kl,
}
METHODS = tuple(_ESTIMATORS)
CONSISTENT_METHODS = ("grid", "mc", "quad")
