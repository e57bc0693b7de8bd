"""The aggregate posterior of a factor as a 1-D Gaussian mixture q(z_h) = (1/N) sum_i N(mu_ih, sigma_ih^2):
its log-density, samples from it, and the mean entropy of its components. Arrays are float64; nats."""

from __future__ import annotations

import math

import numpy as np

from ...checks import check_integer

LOG_2PIE = math.log(2.0 * math.pi * math.e)


def conditional_entropy(logvar: np.ndarray) -> np.ndarray:
    """(1/N) sum_i H(N(mu_ih, sigma_ih^2)) = mean_i 1/2 log(2 pi e sigma_ih^2), shape (d,), nats."""
    return 0.5 * (LOG_2PIE + np.mean(logvar, axis=0))


def sample_mixture(mu, logvar, n_samples, rng) -> np.ndarray:
    """(S, d) draws from q(z): row i stratified (each row S // N times, the rest without replacement).
    ValueError unless S = ``n_samples`` is an integer >= 2 (not a float such as 1e3, not a bool)."""
    check_integer(n_samples, "n_samples", low=2, meaning="samples of z")
    n = mu.shape[0]
    rows = np.concatenate([np.tile(np.arange(n), n_samples // n), rng.choice(n, n_samples % n, replace=False)])
    return mu[rows] + np.exp(0.5 * logvar[rows]) * rng.standard_normal((n_samples, mu.shape[1]))


def slices(total: int, size: int, chunk: int) -> list[slice]:
    """Slices of range(total), each of at most max(1, chunk // size) items (so that items x size <= chunk)."""
    step = max(1, chunk // size)
    return [slice(lo, lo + step) for lo in range(0, total, step)]


def component_params(mu, logvar) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per factor (rows) and component (columns): mu, 1 / sigma^2 and -1/2 log(2 pi sigma^2); each (d, N)."""
    return mu.T, np.exp(-logvar.T), -0.5 * (logvar.T + math.log(2.0 * math.pi))


def log_components(z, mu, inv_var, log_norm) -> np.ndarray:
    """log N(z_hs; mu_hi, sigma_hi^2), shape (d, S, N), for z (d, S) and component parameters (d, N)."""
    out = z[:, :, None] - mu[:, None, :]
    out *= out
    out *= (-0.5 * inv_var)[:, None, :]
    out += log_norm[:, None, :]
    return out


def log_mean_exp(values: np.ndarray) -> np.ndarray:
    """log mean exp along the last axis (overwrites ``values``)."""
    peak = values.max(axis=-1, keepdims=True)
    values -= peak
    np.exp(values, out=values)
    return np.log(values.mean(axis=-1)) + peak[..., 0]


def log_marginals(z, mu, inv_var, log_norm) -> np.ndarray:
    """log q(z_hs) = log (1/N) sum_i N(z_hs; mu_hi, sigma_hi^2), shape (d, S), for z (d, S)."""
    return log_mean_exp(log_components(z, mu, inv_var, log_norm))


def stderr(values: np.ndarray) -> np.ndarray:
    """Standard error of the mean along axis 0."""
    return values.std(axis=0, ddof=1) / math.sqrt(values.shape[0])
