"""Bounds on I(X; Z_h) in closed form: the dimension-wise KL, the paper code's Gaussian closed form (both upper
bounds), and the Kolchinsky-Tracey pairwise bounds (Bhattacharyya lower, KL upper) on a seeded subsample.

For any density r, mean_i KL(q(z_h|x_i) || r) = I(X; Z_h) + KL(q(z_h) || r) >= I(X; Z_h): ``dimwise_kl`` takes
r = N(0, 1), ``gaussian_mi`` r = N(0, s*^2). Each function takes mu, logvar (N, d) float64 and returns (d,) nats.
"""

from __future__ import annotations

import numpy as np

from ...checks import check_integer


def dimwise_kl(mu: np.ndarray, logvar: np.ndarray) -> np.ndarray:
    """mean_i KL(N(mu_ih, sigma_ih^2) || N(0, 1)), shape (d,), nats. Upper bound: I + KL(q(z_h) || N(0,1))."""
    return 0.5 * np.mean(np.exp(logvar) + mu**2 - 1.0 - logvar, axis=0)


def gaussian_mi(mu: np.ndarray, logvar: np.ndarray) -> np.ndarray:
    """The paper code's closed form 1/2 [log s*^2 - mean log sigma^2], s*^2 = mean(sigma^2 + mu^2); (d,), nats.

    Equals mean_i KL(N(mu_i, sigma_i^2) || N(0, s*^2)) = I + KL(q(z_h) || N(m, V)) + 1/2 log(1 + m^2/V)
    (m = mean mu, V = aggregate variance): an upper bound on I, tight only for a centred Gaussian q(z_h).
    """
    second_moment = np.mean(np.exp(logvar) + mu**2, axis=0)
    return 0.5 * (np.log(second_moment) - np.mean(logvar, axis=0))


def kt_lower(mu: np.ndarray, logvar: np.ndarray, max_n: int = 2000, seed: int | np.random.Generator = 0,
              chunk: int = 2**22) -> np.ndarray:
    """Kolchinsky-Tracey lower bound with the Bhattacharyya distance; (d,), nats.

    I >= -(1/n) sum_i log (1/n) sum_j exp(-D_BC(p_i, p_j)) for the mixture of the n = min(N, max_n) rows of a
    seeded subsample (Kolchinsky & Tracey 2017). With n < N it bounds the subsample's mixture MI, whose
    expectation over subsamples is <= the full I (entropy is concave), so it stays a lower bound in
    expectation. Time O(n^2 d).
    """
    return _pairwise_mi(mu, logvar, _bhattacharyya, max_n, seed, chunk)


def kt_upper(mu: np.ndarray, logvar: np.ndarray, max_n: int = 2000, seed: int | np.random.Generator = 0,
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
    """-(1/n) sum_i log (1/n) sum_j exp(-distance(p_i, p_j)) per factor on a seeded row subsample; (d,).

    Raises ValueError unless ``max_n`` is an integer >= 2 (a subsample of one row would give 0, no bound).
    """
    max_n = check_integer(max_n, "max_n", low=2, meaning="rows in the pairwise bound's subsample")
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
