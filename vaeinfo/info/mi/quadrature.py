"""I(X; Z_h) by composite Gauss-Legendre quadrature of the exact mixture density: the ~1e-9-nats reference."""

from __future__ import annotations

import numpy as np

from .mixture import component_params, conditional_entropy, log_marginals, slices


def quad_mi(mu: np.ndarray, logvar: np.ndarray, chunk: int = 2**22) -> np.ndarray:
    """I from H(q(z_h)) = -int q log q by composite Gauss-Legendre quadrature of the exact density; (d,), nats.

    Panels: the breakpoints mu_i + k sigma_i (k = -12..12), each rounded to a power-of-two lattice finer than
    sigma_i / 2, so every panel within 12 sigma_i of a component is at most 1.5 sigma_i wide; 12 nodes per
    panel; log q by log-sum-exp over all N rows. Error ~1e-9 nats. Time O(N P) per factor with
    P ~ 12 x (range / min sigma) x 4 nodes: a slow reference for small N or homogeneous sigma.
    """
    return np.array([quad_entropy(mu[:, h], logvar[:, h], chunk) for h in range(mu.shape[1])]) \
        - conditional_entropy(logvar)


def quad_entropy(mu: np.ndarray, logvar: np.ndarray, chunk: int) -> float:
    """-int q log q of one 1-D mixture (mu, logvar: (N,))."""
    sigma = np.exp(0.5 * logvar)
    lattice = np.exp2(np.floor(np.log2(sigma)) - 1.0)[:, None]
    breaks = np.unique(np.round((mu[:, None] + sigma[:, None] * np.arange(-12.0, 13.0)) / lattice) * lattice)
    x, w = np.polynomial.legendre.leggauss(12)
    half = 0.5 * np.diff(breaks)[:, None]
    nodes = ((breaks[:-1, None] + half) + half * x).ravel()
    weights = (half * w).ravel()
    params = component_params(mu[:, None], logvar[:, None])
    total = 0.0
    for rows in slices(len(nodes), len(mu), chunk):
        log_q = log_marginals(nodes[None, rows], *params)[0]
        total -= np.sum(weights[rows] * np.exp(log_q) * log_q)
    return total
