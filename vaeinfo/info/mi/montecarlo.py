"""Nested Monte Carlo estimate of I(X; Z_h): the slow, unbiased reference (as beta-TCVAE's ``estimate_entropies``)."""

from __future__ import annotations

import numpy as np

from ...checks import check_integer
from .mixture import (
    component_params,
    conditional_entropy,
    log_marginals,
    sample_mixture,
    slices,
    stderr,
)


def nested_mc_mi(mu: np.ndarray, logvar: np.ndarray, n_samples: int = 10_000, seed: int | np.random.Generator = 0,
           chunk: int = 2**22) -> np.ndarray:
    """Nested Monte Carlo I (see :func:`.api.mc_mi`); (d,), nats."""
    return mc_entropy(mu, logvar, n_samples, seed, chunk)[0] - conditional_entropy(logvar)


def mc_entropy(mu, logvar, n_samples, seed, chunk) -> tuple[np.ndarray, np.ndarray]:
    """Monte Carlo H(q(z_h)) and its standard error, each (d,)."""
    n_samples = check_integer(n_samples, "n_samples", low=2, meaning="samples of z per factor")
    z = sample_mixture(mu, logvar, n_samples, np.random.default_rng(seed))
    log_q = np.empty_like(z)
    n, d = mu.shape
    width = max(1, min(d, chunk // n))  # factors per block
    for lo in range(0, d, width):
        cols = slice(lo, lo + width)
        params = component_params(mu[:, cols], logvar[:, cols])
        for rows in slices(n_samples, n * width, chunk):
            log_q[rows, cols] = log_marginals(z[rows, cols].T, *params).T
    return -log_q.mean(axis=0), stderr(log_q)
