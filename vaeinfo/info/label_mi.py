"""How much each factor tells about a discrete label, and the controls that make it a finding.

- :func:`label_mi`: I(Z_h; Y) between each factor and a label, in nats, from the encoder posteriors (exact for the
  empirical mixture, through :func:`vaeinfo.info.mi.factor_mi`);
- :func:`label_mi_null`: its distribution under labels shuffled by whole trials within each subject
  (:func:`shuffled_trial_labels`), and :func:`relevant_factors` the factors above it;
- :func:`trial_index`, :func:`per_trial`: rows grouped by (subject, trial).
"""

from __future__ import annotations

import math

import numpy as np

from ..checks import check_integer, check_labels
from .mi import as_posterior, factor_mi
from .mi.api import require_consistent


def label_mi(mu: np.ndarray, logvar: np.ndarray, y: np.ndarray, method: str = "grid") -> np.ndarray:
    """I(Z_h; Y) between each factor and a discrete label, in nats, under the empirical distribution.

    With q(z_h) = (1/N) sum_i N(mu_ih, sigma_ih^2) and q(z_h | y) the same mixture over the examples with
    label y, I(Z_h; Y) = H(q(z_h)) - sum_y p(y) H(q(z_h | y)). Since Y is a function of X, this equals
    I(X; Z_h) - sum_y p(y) I(X; Z_h | Y = y) (chain rule), computed with :func:`vaeinfo.info.mi.factor_mi`.
    0 <= I(Z_h; Y) <= H(Y) (log 2 = 0.693 nats for balanced binary labels), up to the estimator's error
    (about 1e-3 nats per term for ``grid``).

    A class with a single example adds 0 (one posterior's mixture is itself: I(X; Z_h | Y = y) = 0 exactly).

    Parameters
    ----------
    mu, logvar : (N, d) encoder means and log-variances.
    y : (N,) labels of any sortable dtype (e.g. bool high/low).
    method : a consistent estimator of :func:`~vaeinfo.info.mi.factor_mi`, ``"grid"``, ``"mc"`` or ``"quad"``
        (the difference of two bounds is no bound; ValueError otherwise).

    Returns
    -------
    (d,) float64, nats.
    """
    require_consistent(method, "label_mi")
    mu, logvar = as_posterior(mu, logvar)
    y = np.asarray(y)
    if y.shape != (len(mu),):
        raise ValueError(f"y must hold one label per row of mu, shape ({len(mu)},), got {y.shape}")
    check_labels(y)  # a NaN label was a class of one, skipped
    classes, counts = np.unique(y, return_counts=True)
    within = sum(count / len(y) * factor_mi(mu[y == c], logvar[y == c], method)
                 for c, count in zip(classes, counts) if count > 1)
    return factor_mi(mu, logvar, method) - within


def trial_index(subject: np.ndarray, trial: np.ndarray) -> np.ndarray:
    """Index (n_rows,) of each row's (subject, trial) pair among the distinct pairs sorted by subject, then trial.

    Each column is sorted in its own dtype (string subject IDs beside integer trials keep trials 2 < 10).
    No rows give an empty index.
    """
    subject, trial = np.asarray(subject), np.asarray(trial)
    if subject.ndim != 1 or subject.shape != trial.shape:
        raise ValueError(f"subject and trial must be 1-D with one entry per row, got shapes {subject.shape} and "
                         f"{trial.shape}")
    (_, subject_rank), (trials, trial_rank) = (np.unique(ids, return_inverse=True) for ids in (subject, trial))
    pair_rank = subject_rank.reshape(-1) * len(trials) + trial_rank.reshape(-1)
    return np.unique(pair_rank, return_inverse=True)[1].reshape(-1)


def per_trial(values: np.ndarray, subject: np.ndarray, trial: np.ndarray) -> np.ndarray:
    """Mean of ``values`` (n_rows, ...) over the rows of each trial -> (n_trials, ...), trials sorted by
    (subject, trial)."""
    index = trial_index(subject, trial)
    values = np.asarray(values, dtype=np.float64)
    if len(values) != len(index):
        raise ValueError(f"values must have one row per (subject, trial) entry, {len(index)}, got {len(values)}")
    counts = np.bincount(index)
    sums = np.zeros((len(counts), *values.shape[1:]))
    np.add.at(sums, index, values)
    return sums / counts.reshape(-1, *([1] * (values.ndim - 1)))


def shuffled_trial_labels(y: np.ndarray, subject: np.ndarray, trial: np.ndarray,
                          rng: np.random.Generator) -> np.ndarray:
    """Labels permuted by whole trials within each subject: every window of a trial gets the label of another
    trial of the same subject (each subject keeps its class counts). y, subject, trial: (n_rows,).

    Raises ValueError when a trial's windows do not share one label.
    """
    y = np.asarray(y)
    index = trial_index(subject, trial)
    first = np.unique(index, return_index=True)[1]
    trial_label, trial_subject = y[first], np.asarray(subject)[first]
    if not np.array_equal(trial_label[index], y):
        raise ValueError("the windows of a trial have different labels; shuffle labels that are per trial")
    shuffled = trial_label.copy()
    for s in np.unique(trial_subject):
        rows = np.flatnonzero(trial_subject == s)
        shuffled[rows] = trial_label[rng.permutation(rows)]
    return shuffled[index]


def label_mi_null(mu: np.ndarray, logvar: np.ndarray, y: np.ndarray, subject: np.ndarray, trial: np.ndarray,
                  n_permutations: int, seed: int | np.random.Generator = 0, method: str = "grid") -> np.ndarray:
    """:func:`label_mi` (with the same ``method``) under ``n_permutations`` label shuffles
    (:func:`shuffled_trial_labels`), (n_permutations, d) nats: what I(Z_h; Y) looks like when the factors carry no
    label information."""
    check_integer(n_permutations, "n_permutations", low=1, meaning="label shuffles")
    rng = np.random.default_rng(seed)
    return np.stack([label_mi(mu, logvar, shuffled_trial_labels(y, subject, trial, rng), method)
                     for _ in range(n_permutations)])


def relevant_factors(mi_label: np.ndarray, null: np.ndarray, level: float = 0.05) -> tuple[np.ndarray, float]:
    """Factors significant in a max-statistic permutation test at family-wise error ``level`` over the d factors.

    With n shuffles and m_1 >= ... >= m_n the largest shuffled-label value over all factors in each, factor h's
    p-value is (1 + #{k : m_k >= I(Z_h; Y)}) / (1 + n) (the observed labelling counted as one of the equally likely
    labellings; Phipson & Smyth 2010), and h is relevant when that is <= ``level``: when I(Z_h; Y) exceeds the
    threshold m_(j+1), j = floor(level (n + 1)) - 1 (with 50 shuffles at level 0.05: the second largest maximum).

    mi_label : (d,) nats; null : (n_permutations, d) nats from :func:`label_mi_null`.
    Returns the factor indices by decreasing I(Z_h; Y), and the threshold in nats.
    Raises ValueError when no factor could reach ``level`` (fewer than 1 / level - 1 shuffles), naming how many
    are needed.
    """
    mi_label, null = np.asarray(mi_label, dtype=np.float64), np.asarray(null, dtype=np.float64)
    if null.ndim != 2 or null.shape[1] != len(mi_label) or len(null) == 0:
        raise ValueError(f"null must be (n_permutations >= 1, {len(mi_label)}), got {null.shape}")
    if not (np.isfinite(mi_label).all() and np.isfinite(null).all() and 0 < level < 1):
        raise ValueError(f"relevant_factors needs finite mi_label and null (NaN: {int(np.isnan(mi_label).sum())} and "
                         f"{int(np.isnan(null).sum())}) and 0 < level < 1 (got {level})")
    exceeded = min(math.floor(level * (len(null) + 1) + 1e-9), len(null)) - 1  # maxima a relevant one may be below
    if exceeded < 0:
        raise ValueError(f"{len(null)} label shuffles cannot show significance at level {level}: the smallest "
                         f"permutation p-value is 1/(n + 1); use at least {math.ceil(1 / level - 1 - 1e-9)} shuffles")
    threshold = float(np.sort(null.max(axis=1))[::-1][exceeded])
    order = np.argsort(-mi_label, kind="stable")
    return order[mi_label[order] > threshold], threshold
