"""Per-factor mutual information I(X; Z_h) of a VAE's factorised Gaussian encoder.

Under the empirical data distribution (N inputs x_i, each encoded as q(z|x_i) = prod_h N(mu_ih, sigma_ih^2))
the aggregate posterior of factor h is the 1-D Gaussian mixture q(z_h) = (1/N) sum_i N(mu_ih, sigma_ih^2), and

    I(X; Z_h) = H(q(z_h)) - (1/N) sum_i 1/2 log(2 pi e sigma_ih^2)        (nats, 0 <= I <= log N).

:func:`factor_mi` estimates it for all d factors at once. Methods (all return float64 arrays of shape (d,), nats):

============  ==========================================================  =========================  ==============
method        what it computes                                            relation to I              cost
============  ==========================================================  =========================  ==============
grid          mixture entropy by quadrature of the FFT-gridded density    consistent, error ~< tol   O(N d + d M log M)
mc            nested Monte Carlo: -mean log q(z), z ~ q (exact inner sum) unbiased, MC error         O(S N d)
quad          exact density on composite Gauss-Legendre nodes             reference, error ~1e-9     O(N P d)
gaussian      the paper code's mean_i KL(N(mu_i, s_i^2) || N(0, s*^2))     upper bound                O(N d)
kt_lower      Kolchinsky-Tracey, Bhattacharyya distance                   lower bound (subsample)    O(n^2 d)
kt_upper      Kolchinsky-Tracey, Kullback-Leibler divergence              upper bound (subsample)    O(n^2 d)
dimwise_kl    mean_i KL(N(mu_i, s_i^2) || N(0, 1))                         upper bound                O(N d)
============  ==========================================================  =========================  ==============

(M: grid points, about (range of z_h) / (min sigma_h / 4); S: Monte Carlo samples; P: quadrature nodes;
n = min(N, max_n).) Two identities explain the cheap bounds. For any density r,

    mean_i KL(q(z_h|x_i) || r) = I(X; Z_h) + KL(q(z_h) || r)  >=  I(X; Z_h),

so ``dimwise_kl`` (r = N(0, 1)) and ``gaussian`` (r = N(0, s*^2), s*^2 = mean(sigma^2 + mu^2)) are upper bounds.
``gaussian`` equals I + KL(q(z_h) || N(m, V)) + 1/2 log(1 + m^2 / V) with m = mean(mu), V the aggregate variance:
it is tight only when q(z_h) is Gaussian AND centred (m = 0); it is not invariant to shifting mu.
"""

from __future__ import annotations

import inspect
import math
import warnings
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.fft
from numpy.polynomial import polynomial as npoly

from .io import available_cpus

LOG_2PIE = math.log(2.0 * math.pi * math.e)
LOGVAR_LIMIT = 600.0  # |logvar| above this overflows sigma^2 arithmetic; rejected by validation

# --- grid method constants -----------------------------------------------------------------------------------
# The grid covers [min(mu - 8 sigma), max(mu + 8 sigma)]: the mass outside, and the wrap-around of the circular
# FFT convolution, are below exp(-8^2/2) ~ 1e-14 of a component.
_GRID_MARGIN = 8.0
# Components whose +-10 sigma supports do not overlap are treated as separate clusters (only when one grid
# cannot resolve the whole factor); the neglected overlap is below exp(-50).
_CLUSTER_MARGIN = 10.0
# Every component is deposited on a grid level whose spacing h_l satisfies s <= sigma / h_l < 2 s, with s = 4
# grid steps per sigma at tol >= ~1e-5 (more for tighter tol; see _resolution). The deposit stencil's own error
# is below _STENCIL_ERROR * (4 / s)^5 nats (measured: 2e-6 for 1-D Gaussian at the worst offset, 2.5e-7 for
# random mixtures at s = 4; 7e-9 at s = 8).
_STEPS_PER_SIGMA = 4.0
_STENCIL_ERROR = 3e-6
# Per component, the entropy error of the moment-matched deposit is below _GRID_ERROR_COEF * x^3, with x the
# relative variance mismatch within a sub-bin (calibrated on adversarial 2-4 component mixtures; see tests).
_GRID_ERROR_COEF = 0.2
_MIN_GRID = 64
_CHUNK_COMPONENTS = 2**19  # components deposited per chunk (bounds the working memory to ~100 MB)
_CACHE_COMPONENTS = 2**16  # components processed at once inside a chunk (their temporaries fit in cache)
_CHUNK_GRID = 2**23  # grid cells (deposit blocks) per chunk

# Deposit nodes, relative to floor(position): a degree-5 Lagrange stencil.
_NODES = np.arange(-2, 4)
_NODE_OFFSETS = _NODES - _NODES[0]
_INVERSE_POWERS_OF_2 = np.exp2(-np.arange(64.0))  # 2^-level by table look-up (np.ldexp is ~10x slower)


def _stencil_table() -> np.ndarray:
    """Deposit-weight polynomials of the nodes -2, -1, 0 (the nodes 3, 2, 1 mirror them), shape (3, 12).

    The weight of node k for a component at fractional position u with extra variance 2a is
    E[L_k(u + Y)], Y ~ N(0, 2a) = L_k(u) + a L_k''(u) + a^2/2 L_k''''(u), with L_k the Lagrange basis
    polynomials on ``_NODES``; the deposit thus reproduces the moments 0..5 of N(u, 2a) exactly. Row k holds, in
    powers of v = u - 1/2 (the stencil is symmetric about v = 0, so L_{5-k}(v) = L_k(-v)), the coefficients of
    L_k (v^0..v^5), L_k'' (v^0..v^3) and L_k''''/2 (v^0..v^1).
    """
    centred = _NODES - 0.5
    table = np.zeros((len(_NODES) // 2, 12))
    for k in range(len(_NODES) // 2):
        basis = np.array([1.0])
        for other in np.delete(centred, k):
            basis = npoly.polymul(basis, [-other, 1.0]) / (centred[k] - other)
        table[k] = np.concatenate([basis, npoly.polyder(basis, 2), npoly.polyder(basis, 4) / 2.0])
    return table


_STENCIL = _stencil_table()


# --- public API ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MCEstimate:
    """A Monte Carlo estimate with its standard error.

    Attributes
    ----------
    value : the estimate (nats); shape (d,) for :func:`mc_mi`, a 0-d array for :func:`total_correlation`.
    stderr : its standard error (nats), same shape.
    n_samples : number of samples z drawn.
    """

    value: np.ndarray
    stderr: np.ndarray
    n_samples: int


@dataclass(frozen=True)
class KLDecomposition:
    """Per-factor terms of E_x KL(q(z_h|x) || p(z_h)) = I(X; Z_h) + KL(q(z_h) || p(z_h)), p = N(0, 1).

    Attributes (each (d,) float64, nats)
    ----------
    expected_kl : E_x KL(q(z_h|x) || N(0, 1)), closed form (the dimension-wise KL of the ELBO).
    mi : I(X; Z_h), from the estimator chosen.
    marginal_kl : KL(q(z_h) || N(0, 1)) = cross-entropy(q, N(0,1)) - H(q(z_h)), with the estimator's H.
    """

    expected_kl: np.ndarray
    mi: np.ndarray
    marginal_kl: np.ndarray


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
        - kt_lower, kt_upper: ``max_n=2000`` (subsample size), ``seed=0``, ``chunk=2**22``.
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
    estimator = _method(method)
    _check_options(estimator, options, f"factor_mi(method={method!r})")
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
    h_q, stderr = _mc_entropy(mu_, logvar_, n_samples, seed, chunk)
    return MCEstimate(h_q - _conditional_entropy(logvar_), stderr, n_samples)


def total_correlation(mu: Any, logvar: Any, n_samples: int = 10_000, seed: int | np.random.Generator = 0,
                      chunk: int = 2**22) -> MCEstimate:
    """Total correlation TC = KL(q(z) || prod_h q(z_h)) of the d-dimensional aggregate posterior, in nats.

    q(z) = (1/N) sum_i prod_h N(z_h; mu_ih, sigma_ih^2). Estimated by Monte Carlo as the mean over z ~ q(z) of
    log q(z) - sum_h log q(z_h), with both log-densities evaluated exactly (log-mean-exp over all N rows), so the
    estimate is unbiased and exactly 0 whenever q(z) factorises. Time O(S N d).

    Parameters
    ----------
    mu, logvar : (N, d).
    n_samples : S, samples of z.
    seed : int or numpy Generator.
    chunk : most (sample, component, factor) log-densities held in memory at once.

    Returns
    -------
    MCEstimate with 0-d value and stderr (nats).
    """
    mu_, logvar_ = as_posterior(mu, logvar)
    rng = np.random.default_rng(seed)
    z = _sample_mixture(mu_, logvar_, n_samples, rng)
    params = _component_params(mu_, logvar_)
    pointwise = np.concatenate([_pointwise_tc(z[rows].T, *params) for rows in _slices(n_samples, mu_.size, chunk)])
    return MCEstimate(np.asarray(pointwise.mean()), np.asarray(_stderr(pointwise)), n_samples)


def kl_decomposition(mu: Any, logvar: Any, method: str = "grid", **options: Any) -> KLDecomposition:
    """Split the dimension-wise KL of the ELBO into information and marginal mismatch, per factor.

    E_x KL(q(z_h|x) || N(0,1)) = I(X; Z_h) + KL(q(z_h) || N(0,1)) (nats). The paper's "MI sparsity": the KL term
    penalises I(X; Z_h) directly.

    Parameters
    ----------
    mu, logvar : (N, d).
    method : a consistent estimator of I: ``"grid"``, ``"mc"`` or ``"quad"``.
    **options : passed to that method (see :func:`factor_mi`).

    Returns
    -------
    KLDecomposition of (d,) arrays. ``marginal_kl`` uses the same estimate of H(q(z_h)) as ``mi``, so the
    identity holds to rounding and ``marginal_kl`` carries the estimator's error (with the opposite sign).
    """
    if method not in _CONSISTENT_METHODS:
        raise ValueError(f"kl_decomposition needs a consistent estimate of I; method must be one of "
                         f"{_CONSISTENT_METHODS}, got {method!r}")
    mu_, logvar_ = as_posterior(mu, logvar)
    estimator = _method(method)
    _check_options(estimator, options, f"kl_decomposition(method={method!r})")
    mi = estimator(mu_, logvar_, **options)
    entropy = mi + _conditional_entropy(logvar_)
    cross_entropy = 0.5 * math.log(2.0 * math.pi) + 0.5 * np.mean(np.exp(logvar_) + mu_**2, axis=0)
    return KLDecomposition(_dimwise_kl(mu_, logvar_), mi, cross_entropy - entropy)


def aggregate_variance(mu: Any, logvar: Any) -> np.ndarray:
    """Variance of the aggregate posterior q(z_h): mean(sigma^2 + mu^2) - mean(mu)^2, shape (d,).

    The quantity the paper shows cannot tell influential from collapsed factors (both are ~1).
    """
    mu_, logvar_ = as_posterior(mu, logvar)
    return np.mean(np.exp(logvar_), axis=0) + np.var(mu_, axis=0)


def as_posterior(mu: Any, logvar: Any) -> tuple[np.ndarray, np.ndarray]:
    """Validate encoder outputs and return them as float64 numpy arrays of shape (N, d).

    Accepts numpy arrays, sequences or torch tensors (any float dtype incl. float16/bfloat16, any device).
    Raises ValueError naming the factors and rows of non-finite entries, for shape mismatches, N < 2, and
    |logvar| > LOGVAR_LIMIT.
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
    return arrays["mu"], arrays["logvar"]


# --- validation helpers -------------------------------------------------------------------------------------


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


def _check_options(estimator: Callable, options: dict, where: str) -> None:
    """TypeError naming options the estimator does not take."""
    valid = [p for p in inspect.signature(estimator).parameters if p not in ("mu", "logvar")]
    unknown = sorted(set(options) - set(valid))
    if unknown:
        raise TypeError(f"{where} got unknown option(s) {unknown}; valid options: {valid}")


def _method(method: str) -> Callable:
    """The estimator function of a method name."""
    if method not in _ESTIMATORS:
        raise ValueError(f"unknown method {method!r}; choose one of {METHODS}")
    return _ESTIMATORS[method]


# --- closed forms -------------------------------------------------------------------------------------------


def _conditional_entropy(logvar: np.ndarray) -> np.ndarray:
    """(1/N) sum_i H(N(mu_ih, sigma_ih^2)) = mean_i 1/2 log(2 pi e sigma_ih^2), shape (d,), nats."""
    return 0.5 * (LOG_2PIE + np.mean(logvar, axis=0))


def _dimwise_kl(mu: np.ndarray, logvar: np.ndarray) -> np.ndarray:
    """mean_i KL(N(mu_ih, sigma_ih^2) || N(0, 1)), shape (d,), nats. Upper bound: I + KL(q(z_h) || N(0,1))."""
    return 0.5 * np.mean(np.exp(logvar) + mu**2 - 1.0 - logvar, axis=0)


def _gaussian_mi(mu: np.ndarray, logvar: np.ndarray) -> np.ndarray:
    """The paper code's closed form 1/2 [log s*^2 - mean log sigma^2], s*^2 = mean(sigma^2 + mu^2); (d,), nats.

    Equals mean_i KL(N(mu_i, sigma_i^2) || N(0, s*^2)) = I + KL(q(z_h) || N(m, V)) + 1/2 log(1 + m^2/V)
    (m = mean mu, V = aggregate variance): an upper bound on I, tight only for a centred Gaussian q(z_h).
    """
    second_moment = np.mean(np.exp(logvar) + mu**2, axis=0)
    return 0.5 * (np.log(second_moment) - np.mean(logvar, axis=0))


# --- Kolchinsky-Tracey pairwise bounds ----------------------------------------------------------------------


def _kt_lower(mu: np.ndarray, logvar: np.ndarray, max_n: int = 2000, seed: int | np.random.Generator = 0,
              chunk: int = 2**22) -> np.ndarray:
    """Kolchinsky-Tracey lower bound with the Bhattacharyya distance; (d,), nats.

    I >= -(1/n) sum_i log (1/n) sum_j exp(-D_BC(p_i, p_j)) for the mixture of the n = min(N, max_n) rows of a
    seeded subsample (Kolchinsky & Tracey 2017). With n < N it bounds the subsample's mixture MI, whose
    expectation over subsamples is <= the full I (entropy is concave), so it stays a lower bound in
    expectation. Time O(n^2 d).
    """
    return _pairwise_mi(mu, logvar, _bhattacharyya, max_n, seed, chunk)


def _kt_upper(mu: np.ndarray, logvar: np.ndarray, max_n: int = 2000, seed: int | np.random.Generator = 0,
              chunk: int = 2**22) -> np.ndarray:
    """Kolchinsky-Tracey upper bound with the KL divergence; (d,), nats.

    I <= -(1/n) sum_i log (1/n) sum_j exp(-KL(p_i || p_j)) for the mixture of the n = min(N, max_n) rows of a
    seeded subsample. With n < N it bounds the subsample's mixture MI, not the full one (a subsample's MI is
    lower on average, so this can fall below the full I). Time O(n^2 d).
    """
    return _pairwise_mi(mu, logvar, _kl_divergence, max_n, seed, chunk)


def _bhattacharyya(mu_i, logvar_i, mu_j, logvar_j):
    """Bhattacharyya distance between N(mu_i, sigma_i^2) and N(mu_j, sigma_j^2) (broadcasting), nats."""
    var_sum = np.exp(logvar_i) + np.exp(logvar_j)
    return 0.25 * (mu_i - mu_j) ** 2 / var_sum + 0.5 * np.log(0.5 * var_sum) - 0.25 * (logvar_i + logvar_j)


def _kl_divergence(mu_i, logvar_i, mu_j, logvar_j):
    """KL(N(mu_i, sigma_i^2) || N(mu_j, sigma_j^2)) (broadcasting), nats."""
    return 0.5 * ((np.exp(logvar_i) + (mu_i - mu_j) ** 2) * np.exp(-logvar_j) - 1.0 + logvar_j - logvar_i)


def _pairwise_mi(mu, logvar, distance, max_n, seed, chunk) -> np.ndarray:
    """-(1/n) sum_i log (1/n) sum_j exp(-distance(p_i, p_j)) per factor on a seeded row subsample; (d,)."""
    n_total, d = mu.shape
    if n_total > max_n:
        rows = np.sort(np.random.default_rng(seed).choice(n_total, size=max_n, replace=False))
        mu, logvar = mu[rows], logvar[rows]
    n = mu.shape[0]
    out = np.empty(d)
    step = max(1, chunk // (n * n))
    for lo in range(0, d, step):
        cols = slice(lo, lo + step)
        m, lv = mu[:, cols].T, logvar[:, cols].T  # (k, n)
        similarity = np.exp(-distance(m[:, :, None], lv[:, :, None], m[:, None, :], lv[:, None, :]))  # (k, n, n)
        out[cols] = -np.mean(np.log(similarity.mean(axis=2)), axis=1)  # no underflow: the diagonal is exp(0)
    return out


# --- Monte Carlo ------------------------------------------------------------------------------------------


def _mc_mi(mu: np.ndarray, logvar: np.ndarray, n_samples: int = 10_000, seed: int | np.random.Generator = 0,
           chunk: int = 2**22) -> np.ndarray:
    """Nested Monte Carlo I (see :func:`mc_mi`); (d,), nats."""
    return _mc_entropy(mu, logvar, n_samples, seed, chunk)[0] - _conditional_entropy(logvar)


def _mc_entropy(mu, logvar, n_samples, seed, chunk) -> tuple[np.ndarray, np.ndarray]:
    """Monte Carlo H(q(z_h)) and its standard error, each (d,)."""
    z = _sample_mixture(mu, logvar, n_samples, np.random.default_rng(seed))
    log_q = np.empty_like(z)
    n, d = mu.shape
    width = max(1, min(d, chunk // n))  # factors per block
    for lo in range(0, d, width):
        cols = slice(lo, lo + width)
        params = _component_params(mu[:, cols], logvar[:, cols])
        for rows in _slices(n_samples, n * width, chunk):
            log_q[rows, cols] = _log_marginals(z[rows, cols].T, *params).T
    return -log_q.mean(axis=0), _stderr(log_q)


def _sample_mixture(mu, logvar, n_samples, rng) -> np.ndarray:
    """(S, d) draws from q(z): row i stratified (each row S // N times, the rest without replacement)."""
    if n_samples < 2:
        raise ValueError(f"n_samples must be >= 2, got {n_samples}")
    n = mu.shape[0]
    rows = np.concatenate([np.tile(np.arange(n), n_samples // n), rng.choice(n, n_samples % n, replace=False)])
    return mu[rows] + np.exp(0.5 * logvar[rows]) * rng.standard_normal((n_samples, mu.shape[1]))


def _slices(total: int, size: int, chunk: int) -> list[slice]:
    """Slices of range(total), each of at most max(1, chunk // size) items (so that items x size <= chunk)."""
    step = max(1, chunk // size)
    return [slice(lo, lo + step) for lo in range(0, total, step)]


def _component_params(mu, logvar) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per factor (rows) and component (columns): mu, 1 / sigma^2 and -1/2 log(2 pi sigma^2); each (d, N)."""
    return mu.T, np.exp(-logvar.T), -0.5 * (logvar.T + math.log(2.0 * math.pi))


def _log_components(z, mu, inv_var, log_norm) -> np.ndarray:
    """log N(z_hs; mu_hi, sigma_hi^2), shape (d, S, N), for z (d, S) and component parameters (d, N)."""
    out = z[:, :, None] - mu[:, None, :]
    out *= out
    out *= (-0.5 * inv_var)[:, None, :]
    out += log_norm[:, None, :]
    return out


def _log_mean_exp(values: np.ndarray) -> np.ndarray:
    """log mean exp along the last axis (overwrites ``values``)."""
    peak = values.max(axis=-1, keepdims=True)
    values -= peak
    np.exp(values, out=values)
    return np.log(values.mean(axis=-1)) + peak[..., 0]


def _log_marginals(z, mu, inv_var, log_norm) -> np.ndarray:
    """log q(z_hs) = log (1/N) sum_i N(z_hs; mu_hi, sigma_hi^2), shape (d, S), for z (d, S)."""
    return _log_mean_exp(_log_components(z, mu, inv_var, log_norm))


def _pointwise_tc(z, mu, inv_var, log_norm) -> np.ndarray:
    """log q(z_s) - sum_h log q(z_hs) for z (d, S), shape (S,)."""
    log_comp = _log_components(z, mu, inv_var, log_norm)
    log_joint = _log_mean_exp(log_comp.sum(axis=0))
    return log_joint - _log_mean_exp(log_comp).sum(axis=0)


def _stderr(values: np.ndarray) -> np.ndarray:
    """Standard error of the mean along axis 0."""
    return values.std(axis=0, ddof=1) / math.sqrt(values.shape[0])


# --- exact quadrature (reference) --------------------------------------------------------------------------


def _quad_mi(mu: np.ndarray, logvar: np.ndarray, chunk: int = 2**22) -> np.ndarray:
    """I from H(q(z_h)) = -int q log q by composite Gauss-Legendre quadrature of the exact density; (d,), nats.

    Panels: the breakpoints mu_i + k sigma_i (k = -12..12), each rounded to a power-of-two lattice finer than
    sigma_i / 2, so every panel within 12 sigma_i of a component is at most 1.5 sigma_i wide; 12 nodes per
    panel; log q by log-sum-exp over all N rows. Error ~1e-9 nats. Time O(N P) per factor with
    P ~ 12 x (range / min sigma) x 4 nodes: a slow reference for small N or homogeneous sigma.
    """
    return np.array([_quad_entropy(mu[:, h], logvar[:, h], chunk) for h in range(mu.shape[1])]) \
        - _conditional_entropy(logvar)


def _quad_entropy(mu: np.ndarray, logvar: np.ndarray, chunk: int) -> float:
    """-int q log q of one 1-D mixture (mu, logvar: (N,))."""
    sigma = np.exp(0.5 * logvar)
    lattice = np.exp2(np.floor(np.log2(sigma)) - 1.0)[:, None]
    breaks = np.unique(np.round((mu[:, None] + sigma[:, None] * np.arange(-12.0, 13.0)) / lattice) * lattice)
    x, w = np.polynomial.legendre.leggauss(12)
    half = 0.5 * np.diff(breaks)[:, None]
    nodes = ((breaks[:-1, None] + half) + half * x).ravel()
    weights = (half * w).ravel()
    params = _component_params(mu[:, None], logvar[:, None])
    total = 0.0
    for rows in _slices(len(nodes), len(mu), chunk):
        log_q = _log_marginals(nodes[None, rows], *params)[0]
        total -= np.sum(weights[rows] * np.exp(log_q) * log_q)
    return total


# --- grid -----------------------------------------------------------------------------------------------------


def _grid_mi(mu: np.ndarray, logvar: np.ndarray, tol: float = 1e-3, max_grid: int = 2**21,
             workers: int | None = None) -> np.ndarray:
    """I from the mixture entropy computed on FFT grids; (d,), nats, absolute error <= tol (see below).

    Algorithm. Every component is assigned to a grid level l, with spacing h_l = 2^l h, where
    s <= sigma_i / h_l < 2 s (s = 4 grid steps per sigma at the default tol), and to one of n_sub sub-bins of
    log sigma within the level (n_sub and s chosen from tol).
    Its mean is deposited on 6 nodes of level l with weights that reproduce the first six moments of
    N(mu_i, sigma_i^2 - s_b^2) exactly (s_b: the sub-bin's kernel width; the weights carry the width mismatch,
    of either sign). Each (level, sub-bin) block is convolved with N(0, s_b^2) by FFT; the spectra of all levels
    are summed at their common frequencies (all levels share the period) and one inverse FFT gives q on the
    finest grid, where -int q log q is summed by the trapezoid rule (spectrally accurate at 4 points per
    sigma). Error budget, each part kept below tol / 2 by the choice of n_sub and s: (a) the width mismatch
    within a sub-bin, per component below _GRID_ERROR_COEF * x^3 with x the relative variance mismatch (a
    calibrated model: small mixtures of overlapping components of different widths are the worst case, large
    mixtures average it; tests check random adversarial cases against exact quadrature); (b) the stencil's own
    error, ~1e-6 at s = 4, decaying like s^-5; (c) truncation and wrap-around beyond 8 sigma, ~1e-14.
    Heterogeneous sigma costs one FFT per occupied (level, sub-bin), each on a grid no finer than its level
    needs; sigma over 4 decades in one factor is handled (M ~ 1e6). Factors that would need more than
    ``max_grid`` points are split into clusters of non-overlapping components (then H = sum over clusters, so
    narrow far-apart components cost nothing extra); a cluster that still needs more is computed with its
    narrowest components widened to the grid's resolution, and a RuntimeWarning names the factor.

    Time O(N d) for the deposit (the bound in practice: ~80 ns per component on one core) plus
    O(n_sub M log M) per factor for the FFTs, M ~ 4 x range / min sigma; memory is bounded by chunking.
    """
    if not tol > 0:
        raise ValueError(f"tol must be > 0, got {tol}")
    res = _resolution(tol)
    smallest = int(2 ** math.ceil(math.log2(8 * _GRID_MARGIN * res.steps)))
    if max_grid < smallest or max_grid & (max_grid - 1):
        raise ValueError(f"max_grid must be a power of two >= {smallest} (at tol={tol}), got {max_grid}")
    lo, hi, min_logvar = _support(mu.min(axis=0), mu.max(axis=0), logvar.min(axis=0), logvar.max(axis=0))
    grid_size = _grid_size(lo, hi, min_logvar, res)
    entropy = np.empty(mu.shape[1])
    wide = grid_size > max_grid
    jobs = [(rows, _factor_job(mu, logvar, rows, lo, hi, grid_size, res))
            for rows in _factor_chunks(np.flatnonzero(~wide), grid_size, mu.shape[0], res)]
    jobs += [([h], _cluster_job(mu[:, h], logvar[:, h], max_grid, res, h)) for h in np.flatnonzero(wide)]
    with ThreadPoolExecutor(max_workers=workers or available_cpus()) as pool:
        results = list(pool.map(lambda job: job[1](), jobs))
    for (rows, _), values in zip(jobs, results, strict=True):
        entropy[rows] = values
    return entropy - _conditional_entropy(logvar)


@dataclass(frozen=True)
class _Resolution:
    """Grid resolution: log-sigma sub-bins per octave and grid steps per sigma at the finest level."""

    n_sub: int
    steps: float

    def kernel_variances(self) -> np.ndarray:
        """Kernel variance (level units) of each sub-bin: the midpoint of its variance range, (n_sub,)."""
        edges = self.steps**2 * 4.0 ** (np.arange(self.n_sub + 1) / self.n_sub)
        return 0.5 * (edges[:-1] + edges[1:])


def _resolution(tol: float) -> _Resolution:
    """The coarsest resolution whose error bounds (width mismatch, stencil) are each below tol / 2."""
    steps = _STEPS_PER_SIGMA * max(1.0, (2.0 * _STENCIL_ERROR / tol) ** (1.0 / 5.0))
    for n_sub in range(1, 10_000):
        ratio = 4.0 ** (1.0 / n_sub)  # variance ratio across a sub-bin
        mismatch = (ratio - 1.0) / (ratio + 1.0)  # largest |sigma^2 - s_b^2| / s_b^2
        if _GRID_ERROR_COEF * mismatch**3 <= tol / 2:
            return _Resolution(n_sub, steps)
    raise ValueError(f"tol={tol} is below what the grid method can reach")


def _support(mu_min, mu_max, logvar_min, logvar_max):
    """Grid range [min mu - 8 max sigma, max mu + 8 max sigma] (covers every component's +-8 sigma) and min logvar.
    """
    reach = _GRID_MARGIN * np.exp(0.5 * logvar_max)
    return mu_min - reach, mu_max + reach, logvar_min


def _grid_size(lo, hi, min_logvar, res: _Resolution) -> np.ndarray:
    """Power-of-two number of fine-grid points with spacing <= min sigma / res.steps over [lo, hi]."""
    need = np.clip((hi - lo) * res.steps * np.exp(-0.5 * min_logvar), _MIN_GRID, 2.0**62)
    return np.exp2(np.ceil(np.log2(need))).astype(np.int64)


def _factor_chunks(factors: np.ndarray, grid_size: np.ndarray, n: int, res: _Resolution) -> list[np.ndarray]:
    """Groups of factors with the same grid size, each small enough for the working-memory budget."""
    chunks = []
    for size in np.unique(grid_size[factors]):
        same = factors[grid_size[factors] == size]
        step = max(1, min(_CHUNK_COMPONENTS // n, _CHUNK_GRID // (2 * res.n_sub * int(size))))
        chunks += [same[i:i + step] for i in range(0, len(same), step)]
    return chunks


def _factor_job(mu, logvar, rows, lo, hi, grid_size, res) -> Callable[[], np.ndarray]:
    """A closure computing the entropies of factors ``rows`` (same grid size), one grid each."""
    size = int(grid_size[rows[0]])
    owner = np.arange(len(rows))[:, None]
    return lambda: _gridded_entropy(mu.T[rows], logvar.T[rows], owner, lo[rows], (hi[rows] - lo[rows]) / size,
                                    size, 1.0 / mu.shape[0], res)


def _cluster_job(mu, logvar, max_grid, res, factor) -> Callable[[], float]:
    """A closure computing one factor's entropy as the sum over clusters of non-overlapping components."""
    order = np.argsort(mu, kind="stable")
    mu, logvar = mu[order], logvar[order]
    label = _cluster_labels(mu, np.exp(0.5 * logvar))
    starts = np.flatnonzero(np.r_[True, np.diff(label) > 0])
    lo, hi, min_logvar = _support(np.minimum.reduceat(mu, starts), np.maximum.reduceat(mu, starts),
                                  np.minimum.reduceat(logvar, starts), np.maximum.reduceat(logvar, starts))
    size = _grid_size(lo, hi, min_logvar, res)
    step = (hi - lo) / size
    clamped = size > max_grid
    widening = 0.0
    if clamped.any():
        warnings.warn(f"factor {factor}: components too narrow for max_grid={max_grid} were widened to the grid's "
                      "resolution, with an isolated-spike entropy correction that is exact only where each such "
                      "component dominates q at that resolution (raise max_grid or use method='quad')",
                      RuntimeWarning, stacklevel=2)
        pad = _GRID_MARGIN * res.steps
        step[clamped] = (hi - lo)[clamped] / (max_grid - 2 * pad)
        lo[clamped] -= pad * step[clamped]
        size[clamped] = max_grid
        widened = np.maximum(logvar, 2.0 * np.log(res.steps * step[label]))
        widening = 0.5 * np.sum(logvar - widened) / len(mu)  # H of an isolated spike: 1/2 log sigma^2 per row
        logvar = widened

    def run() -> float:
        total = widening
        for grid in np.unique(size):
            clusters = np.flatnonzero(size == grid)
            per_part = max(1, _CHUNK_GRID // (2 * res.n_sub * int(grid)))
            for part in np.split(clusters, range(per_part, len(clusters), per_part)):
                sel = np.isin(label, part)
                owner = np.searchsorted(part, label[sel])[None, :]
                total += _gridded_entropy(mu[None, sel], logvar[None, sel], owner, lo[part], step[part], int(grid),
                                          1.0 / len(mu), res).sum()
        return total

    return run


def _cluster_labels(mu_sorted: np.ndarray, sigma_sorted: np.ndarray) -> np.ndarray:
    """Cluster index per component (sorted by mu): a new cluster starts where no +-10 sigma support crosses."""
    right = np.maximum.accumulate(mu_sorted + _CLUSTER_MARGIN * sigma_sorted)
    left = np.minimum.accumulate((mu_sorted - _CLUSTER_MARGIN * sigma_sorted)[::-1])[::-1]
    return np.r_[0, np.cumsum(right[:-1] < left[1:])]


def _gridded_entropy(mu, logvar, owner, lo, step, size, mass, res: _Resolution) -> np.ndarray:
    """-int q_o log q_o for the sub-mixtures q_o (weight ``mass`` per component) of each owner o.

    Parameters
    ----------
    mu, logvar : (k, n) component arrays.
    owner : owner index in [0, n_owner) of each component: (k, 1) (one owner per row) or (1, n).
    lo, step : (n_owner,) grid origin and fine spacing of each owner; step <= min sigma / res.steps.
    size : fine-grid points M (a power of two), the same for all owners; M * step covers the owner's range.
    mass : weight of each component in the mixture (1/N).
    res : the grid resolution.

    Returns
    -------
    (n_owner,) values of -int q_o log q_o, nats (the sub-mixtures are unnormalised, so their sum over the
    owners that partition a factor is H(q)).
    """
    n_levels = max(1, int(math.log2(size / (2.0 * _GRID_MARGIN * res.steps))) + 1)  # sigma <= M h / 16
    blocks = size >> np.arange(n_levels)  # block length of each level
    spectrum = np.zeros((len(lo), size // 2 + 1), dtype=complex)
    group = max(1, _CHUNK_GRID // (2 * size * len(lo)))  # sub-bins deposited at once (bounds the cell memory)
    for first_sub in range(0, res.n_sub, group):
        subs = range(first_sub, min(first_sub + group, res.n_sub))
        level_start = np.r_[0, np.cumsum(len(lo) * len(subs) * blocks)]
        cells = _deposit(mu, logvar, owner, lo, step, level_start, size, res, subs)
        for level, length in enumerate(blocks):
            _add_blurred(spectrum, cells[level_start[level]:level_start[level + 1]].reshape(-1, length), res, subs)
    density = scipy.fft.irfft(spectrum, n=size, axis=1) * (mass / step)[:, None]
    positive = np.where(density > 0, density, 1.0)
    return -step * np.sum(density * np.log(positive), axis=1)


def _deposit(mu, logvar, owner, lo, step, level_start, size, res: _Resolution, subs: range) -> np.ndarray:
    """Sum of the deposit weights of the components of sub-bins ``subs`` in each cell of the (level, owner,
    sub-bin) blocks, concatenated.

    The per-component work runs on column blocks of ~_CACHE_COMPONENTS components (3x faster than whole arrays,
    which do not fit in cache); one bincount then adds all weights into the flat cell array.
    """
    n_levels = len(level_start) - 1
    per_owner = [np.take(values, owner) for values in (lo, 1.0 / step, np.log2(res.steps * step))]
    index = np.empty((len(_NODES),) + mu.shape, dtype=np.int64)
    weight = np.empty((len(_NODES),) + mu.shape)
    width = max(1, _CACHE_COMPONENTS // len(mu))
    for first in range(0, mu.shape[1], width):
        block = slice(first, first + width)
        own, origin, inv_step, log2_unit = (_columns(a, block) for a in [owner] + per_owner)
        level, sub, half_extra_var, position = _levels(mu[:, block], logvar[:, block], origin, inv_step,
                                                       log2_unit, n_levels - 1, res)
        base = position.astype(np.int64)
        position -= base
        _deposit_weights(position, half_extra_var, out=weight[:, :, block])
        if len(subs) < res.n_sub:
            sub -= subs.start
            outside = (sub < 0) | (sub >= len(subs))
            sub[outside] = 0
            weight[:, :, block][:, outside] = 0.0
        start = np.take(level_start, level) + (own * len(subs) + sub) * (size >> level) + base + _NODES[0]
        np.add(start, _NODE_OFFSETS[:, None, None], out=index[:, :, block])
    return np.bincount(index.ravel(), weight.ravel(), minlength=level_start[-1])


def _columns(values: np.ndarray, block: slice) -> np.ndarray:
    """values[:, block], or ``values`` itself when it has one column (broadcast along the components)."""
    return values if values.shape[1] == 1 else values[:, block]


def _add_blurred(spectrum, blocks, res: _Resolution, subs: range) -> None:
    """Add to ``spectrum`` (n_owner, M/2+1) the spectra of one level's blocks (n_owner * len(subs), M_l),
    each convolved with its sub-bin's Gaussian kernel; empty blocks are skipped."""
    used = np.flatnonzero(blocks.any(axis=1))
    if len(used) == 0:
        return
    freq = 2.0 * np.pi * np.arange(blocks.shape[1] // 2 + 1) / blocks.shape[1]
    kernel = np.exp(-0.5 * np.outer(res.kernel_variances()[subs.start + used % len(subs)], freq**2))
    blurred = scipy.fft.rfft(blocks[used], axis=1) * kernel
    first = np.flatnonzero(np.r_[True, np.diff(used // len(subs)) > 0])  # first used block of each owner
    spectrum[used[first] // len(subs), :len(freq)] += np.add.reduceat(blurred, first, axis=0)


def _levels(mu, logvar, lo, inv_step, log2_unit, max_level, res: _Resolution):
    """Grid level, sub-bin, half the extra variance and the position (both in level units) of each component.

    Level l = floor(log2(sigma / (s h))) with s = res.steps (``log2_unit`` = log2(s h)), so sigma / h_l is in
    [s, 2 s); the sub-bin splits that octave into n_sub equal parts of log sigma; extra variance =
    (sigma / h_l)^2 - (the sub-bin's kernel width)^2; position = (mu - lo) / h_l. ``max_level`` (which sigma
    <= M h / 16 never exceeds in exact arithmetic) guards against rounding.
    """
    octaves = logvar * (0.5 / math.log(2.0))
    octaves -= log2_unit
    level = octaves.astype(np.int64)  # floor: octaves >= 0 up to rounding, and trunc(-1e-16) = 0
    np.minimum(level, max_level, out=level)
    octaves -= level  # now the position within the octave, in [0, 1)
    sub = (octaves * res.n_sub).astype(np.int64)
    np.minimum(sub, res.n_sub - 1, out=sub)
    octaves *= 2.0
    half_extra_var = np.exp2(octaves, out=octaves)
    half_extra_var *= 0.5 * res.steps**2
    half_extra_var -= 0.5 * res.kernel_variances()[sub]
    position = mu - lo
    position *= inv_step
    position *= np.take(_INVERSE_POWERS_OF_2, level)
    return level, sub, half_extra_var, position


def _deposit_weights(frac: np.ndarray, half_extra_var: np.ndarray, out: np.ndarray) -> np.ndarray:
    """Weights on the 6 nodes ``_NODES`` (relative to floor(position)) of each component, written to ``out``
    (shape (6,) + frac.shape).

    They reproduce the moments 0..5 of N(frac, 2 * half_extra_var) (see ``_stencil_table``); evaluated as even
    and odd parts in v = frac - 1/2, which mirrored nodes share.
    """
    v = frac - 0.5
    square = v * v
    a2 = half_extra_var * half_extra_var
    even, odd, work = np.empty_like(v), np.empty_like(v), np.empty_like(v)
    for k, coef in enumerate(_STENCIL):
        _weight_part(even, work, square, half_extra_var, a2, coef[0:6:2], coef[6:10:2], coef[10])
        _weight_part(odd, work, square, half_extra_var, a2, coef[1:6:2], coef[7:10:2], coef[11])
        odd *= v
        np.add(even, odd, out=out[k])
        np.subtract(even, odd, out=out[-1 - k])
    return out


def _weight_part(out, work, square, a, a2, plain, second, fourth) -> None:
    """out = P(square; plain) + a P(square; second) + a2 fourth; P: polynomial, ascending coefficients."""
    _horner(out, square, plain)
    _horner(work, square, second)
    work *= a
    out += work
    np.multiply(a2, fourth, out=work)
    out += work


def _horner(out, x, coef) -> None:
    """out = sum_j coef[j] x^j (len(coef) >= 2), in place."""
    np.multiply(x, coef[-1], out=out)
    for c in coef[-2:0:-1]:
        out += c
        out *= x
    out += coef[0]


# --- registry -----------------------------------------------------------------------------------------------

_ESTIMATORS: dict[str, Callable[..., np.ndarray]] = {
    "grid": _grid_mi,
    "mc": _mc_mi,
    "quad": _quad_mi,
    "gaussian": _gaussian_mi,
    "kt_lower": _kt_lower,
    "kt_upper": _kt_upper,
    "dimwise_kl": _dimwise_kl,
}
METHODS = tuple(_ESTIMATORS)
_CONSISTENT_METHODS = ("grid", "mc", "quad")
