"""The Mutual Information Gap (Chen et al. 2018) in two variants: ours, from the encoder's Gaussian posteriors,
and disentanglement_lib's, from 20-bin histograms of the codes.

For ground-truth factors v_k and codes z_j, with I(z_j; v_k) in nats and j1, j2 the two codes with the most
information about v_k,

    MIG = (1/K) sum_k [I(z_j1; v_k) - I(z_j2; v_k)] / H(v_k)          (0 <= MIG <= 1).

:func:`mig` (ours) computes I(z_j; v_k) for the stochastic code z_j ~ q(z_j|x) that the decoder sees, as Chen et
al. define it, under the empirical distribution of the n points: q(z_j) = (1/n) sum_i N(mu_ij, sigma_ij^2) and
q(z_j | v_k = v) the same 1-D Gaussian mixture over the points with that factor value, so

    I(z_j; v_k) = H(q(z_j)) - sum_v p(v) H(q(z_j | v))

with each 1-D mixture entropy computed by :func:`vaeinfo.info.label_mi.label_mi` (the ``grid`` estimator of
:func:`vaeinfo.info.mi.factor_mi`, error < 1e-3 nats per entropy). Why it is the better one:

- no binning: the histogram variant's value depends on the number of bins and on the range of each code (one
  outlying point stretches the 20 bins and merges the rest), and it measures the posterior *mean* only, ignoring
  the noise that the posterior variance adds to the code;
- consistent: it converges to I(z_j; v_k) of the encoder as n grows, and on the whole ground-truth grid (all
  737,280 dSprites images, affordable here) it is Chen et al.'s quantity itself, not a nested Monte Carlo
  estimate of it;
- reproducible: numpy arithmetic only, no dependence on scikit-learn's ``mutual_info_score``, whose changes across
  versions moved disentanglement_lib's published MIGs (its issue #33).

On a sample of n points it is the exact MI of the sample's empirical distribution; like every plug-in estimate
it then exceeds the population value when the posteriors are narrow compared with the gaps between the points'
means (each point then identifies its factor value), so use many points, or the whole grid, for precise encoders.

The two agree in the limit where both are exact: codes that are deterministic (sigma -> 0), well-separated
functions of the factors that the 20 bins resolve; then both equal the plug-in discrete MI of the samples
(a test checks this).

Normalisation: H(v_k) is the empirical (plug-in) entropy of the factor over the n points by default, as in
disentanglement_lib; since I(z_j; v_k) <= H(v_k) under the same empirical distribution, MIG stays in [0, 1] (up to
the estimator's error). With ``factor_sizes``, H(v_k) = log |V_k| instead, Chen et al.'s normalisation for
factors uniform over a grid (the two agree on the whole grid).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.metrics import mutual_info_score

from ...checks import check_integer
from ..label_mi import label_mi
from ..mi.api import as_posterior, require_consistent
from .inputs import check_codes, check_factor_sizes, check_factors, check_varying

HISTOGRAM_BINS = 20  # disentanglement_lib's unsupervised_study_v1 setting


@dataclass(frozen=True)
class MIG:
    """A Mutual Information Gap with what it was computed from.

    Attributes
    ----------
    score : mean over the factors of ``gaps`` (the MIG).
    gaps : (K,) [I(z_j1; v_k) - I(z_j2; v_k)] / H(v_k) per factor.
    mi : (L, K) I(z_j; v_k), nats.
    entropy : (K,) H(v_k), nats (the normaliser).
    top : (K,) index j1 of the code with the most information about each factor.
    """

    score: float
    gaps: np.ndarray
    mi: np.ndarray
    entropy: np.ndarray
    top: np.ndarray


def mig(mu: Any, logvar: Any, factors: Any, *, factor_sizes: Any = None, method: str = "grid") -> MIG:
    """Our MIG: I(z_j; v_k) of the encoder's 1-D Gaussian mixtures, no bins, to ~1e-3 nats (module docstring).

    Parameters
    ----------
    mu, logvar : (n, L) encoder means and log-variances of n points, L >= 2 codes.
    factors : (n, K) integer ground-truth classes of the same points, each factor with >= 2 values.
    factor_sizes : (K,) numbers of values per factor; when given, H(v_k) = log |V_k| (factors uniform over a grid),
        else the empirical entropy of ``factors``.
    method : the mixture-entropy estimator of :func:`vaeinfo.info.mi.factor_mi`, a consistent one (``"grid"``,
        ``"mc"``, ``"quad"``; ValueError otherwise).

    Returns
    -------
    :class:`MIG`, with ``mi`` = :func:`posterior_mi_matrix` (nats).
    """
    require_consistent(method, "mig")
    mu, logvar = as_posterior(mu, logvar)
    if mu.shape[1] < 2:
        raise ValueError(f"MIG needs at least 2 codes (the gap is between the best two), got {mu.shape[1]}")
    factors = check_factors(factors, len(mu))
    entropy = factor_entropy(factors)
    if factor_sizes is not None:
        sizes = check_factor_sizes(factor_sizes)
        if sizes.shape != (factors.shape[1],) or (factors < 0).any() or (factors >= sizes).any():
            raise ValueError(f"factor_sizes {sizes.tolist()} must give one size per factor column and every "
                             "factor class must lie in [0, size)")
        entropy = np.log(sizes.astype(np.float64))
    return gap_score(posterior_mi_matrix(mu, logvar, factors, method), entropy)


def mig_histogram(codes: Any, factors: Any, *, n_bins: int = HISTOGRAM_BINS) -> MIG:
    """disentanglement_lib's MIG: each code cut into ``n_bins`` equal-width histogram bins over its range,
    I(z_j; v_k) = ``sklearn.metrics.mutual_info_score`` of the bin and factor labels, H(v_k) the empirical entropy.

    Parameters
    ----------
    codes : (n, L) representations (disentanglement_lib: the posterior means), L >= 2.
    factors : (n, K) integer ground-truth classes, each factor with >= 2 values.
    n_bins : histogram bins per code (disentanglement_lib: 20).

    Returns
    -------
    :class:`MIG`, with ``mi`` = :func:`histogram_mi_matrix` (nats).
    """
    codes = check_codes(codes, min_codes=2)
    factors = check_factors(factors, len(codes))
    return gap_score(histogram_mi_matrix(codes, factors, n_bins), factor_entropy(factors))


def gap_score(mi: np.ndarray, entropy: np.ndarray) -> MIG:
    """The MIG of an (L, K) matrix of I(z_j; v_k) and the (K,) factor entropies, both in nats (L >= 2)."""
    mi, entropy = np.asarray(mi, dtype=np.float64), np.asarray(entropy, dtype=np.float64)
    if mi.ndim != 2 or mi.shape[0] < 2 or entropy.shape != (mi.shape[1],):
        raise ValueError(f"mi must be (L >= 2, K) and entropy (K,), got {mi.shape} and {entropy.shape}")
    if not (entropy > 0).all():
        raise ValueError(f"factor entropies must be > 0, got {entropy.tolist()}; drop constant factors")
    order = np.argsort(-mi, axis=0, kind="stable")
    best = np.take_along_axis(mi, order[:2], axis=0)
    gaps = (best[0] - best[1]) / entropy
    return MIG(float(gaps.mean()), gaps, mi, entropy, order[0])


def posterior_mi_matrix(mu: Any, logvar: Any, factors: Any, method: str = "grid") -> np.ndarray:
    """(L, K) I(z_j; v_k) in nats between each stochastic code and each factor, from the Gaussian posteriors.

    Column k is :func:`vaeinfo.info.label_mi.label_mi` with the labels ``factors[:, k]`` (see the module docstring).
    mu, logvar : (n, L); factors : (n, K) integer classes (a value held by one point adds 0 to
    sum_v p(v) I(X; z_j | v): that point's posterior is its own mixture).
    """
    mu, logvar = as_posterior(mu, logvar)
    factors = check_factors(factors, len(mu))
    check_varying(factors)
    return np.stack([label_mi(mu, logvar, factors[:, k], method) for k in range(factors.shape[1])], axis=1)


def histogram_codes(codes: Any, n_bins: int = HISTOGRAM_BINS) -> np.ndarray:
    """(n, L) int64 bin index of each code value: ``np.digitize`` on the left edges of ``np.histogram``'s
    ``n_bins`` equal-width bins over the code's range (disentanglement_lib's histogram discretiser; 1..n_bins)."""
    codes = check_codes(codes)
    n_bins = check_integer(n_bins, "n_bins", low=2, meaning="equal-width bins per code")
    return np.stack([np.digitize(c, np.histogram(c, n_bins)[1][:-1]) for c in codes.T], axis=1)


def histogram_mi_matrix(codes: Any, factors: Any, n_bins: int = HISTOGRAM_BINS) -> np.ndarray:
    """(L, K) I(bin of z_j; v_k) in nats: ``mutual_info_score`` of :func:`histogram_codes` and each factor."""
    binned = histogram_codes(codes, n_bins)
    factors = check_factors(factors, len(binned))
    check_varying(factors)
    return np.array([[mutual_info_score(factors[:, k], binned[:, j]) for k in range(factors.shape[1])]
                     for j in range(binned.shape[1])])


def factor_entropy(factors: Any) -> np.ndarray:
    """(K,) plug-in entropy of each factor over the rows of ``factors`` (n, K) integer classes, nats."""
    factors = check_factors(factors, len(np.asarray(factors)))
    check_varying(factors)
    entropy = []
    for column in factors.T:
        p = np.unique(column, return_counts=True)[1] / len(column)
        entropy.append(float(-(p * np.log(p)).sum()))
    return np.array(entropy)
