"""Disentanglement, completeness and informativeness (Eastwood & Williams 2018), as disentanglement_lib computes
them.

One ``GradientBoostingClassifier`` per factor predicts the factor from all L codes; the importance matrix
R (L, K) holds |feature_importances_| (code j for factor k). With P_j. = R_j. / sum_k R_jk (code j's importance
spread over the factors), P_.k = R_.k / sum_j R_jk, and H_b the entropy in base b,

    D = sum_j rho_j (1 - H_K(P_j.)),   rho_j = sum_k R_jk / sum R      (each code captures at most one factor)
    C = sum_k tau_k (1 - H_L(P_.k)),   tau_k = sum_j R_jk / sum R      (each factor is captured by one code)

and informativeness is the classifiers' mean accuracy on held-out points (disentanglement_lib's
``informativeness_test``; the name is theirs: it is an accuracy, higher is better). A code (or factor) with no
importance has a uniform distribution (D_j = 0) and weight 0; an all-zero matrix gives D = C = 0, the limits of
disentanglement_lib's ``+1e-11`` smoothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.ensemble import GradientBoostingClassifier

from .inputs import check_train_test

N_ESTIMATORS = 100  # GradientBoostingClassifier's default, which disentanglement_lib uses


@dataclass(frozen=True)
class DCI:
    """DCI scores and the importance matrix behind them.

    Attributes
    ----------
    disentanglement, completeness : in [0, 1] (:func:`dci_from_importance`).
    informativeness_train, informativeness_test : mean accuracy over the factors of their classifiers on the
        training and the held-out points (chance: the majority class's frequency).
    importance : (L, K) |feature importance| of code j for factor k (each column sums to 1, or 0 when the
        factor's classifier found no useful split).
    """

    disentanglement: float
    completeness: float
    informativeness_train: float
    informativeness_test: float
    importance: np.ndarray


def dci(codes: Any, factors: Any, codes_test: Any, factors_test: Any, *, n_estimators: int = N_ESTIMATORS,
        seed: int = 0) -> DCI:
    """DCI of a representation from training points (codes, factors) and held-out points.

    Parameters
    ----------
    codes, codes_test : (n, L) and (m, L) representations (e.g. posterior means), L >= 2.
    factors, factors_test : (n, K >= 2) and (m, K) integer ground-truth classes; each training factor takes >= 2
        values.
        disentanglement_lib uses n = 10,000 and m = 5,000 independent samples.
    n_estimators : boosting stages per classifier (100, sklearn's default and disentanglement_lib's; fewer only to
        save time, e.g. in tests).
    seed : the classifiers' ``random_state`` (it orders the candidate features of each split, so it breaks ties).

    Returns
    -------
    :class:`DCI`. Time: K classifiers of ``n_estimators`` x (classes of the factor) depth-3 trees on n points.
    """
    codes, factors, codes_test, factors_test = check_train_test(codes, factors, codes_test, factors_test)
    if factors.shape[1] < 2:
        raise ValueError(f"DCI's disentanglement spreads each code's importance over K >= 2 factors; factors has "
                         f"{factors.shape[1]} column(s)")
    importance = np.zeros((codes.shape[1], factors.shape[1]))
    train_accuracy, test_accuracy = [], []
    for k in range(factors.shape[1]):
        model = GradientBoostingClassifier(n_estimators=n_estimators, random_state=seed)
        model.fit(codes, factors[:, k])
        importance[:, k] = np.abs(model.feature_importances_)
        train_accuracy.append(np.mean(model.predict(codes) == factors[:, k]))
        test_accuracy.append(np.mean(model.predict(codes_test) == factors_test[:, k]))
    disentanglement, completeness = dci_from_importance(importance)
    return DCI(disentanglement, completeness, float(np.mean(train_accuracy)), float(np.mean(test_accuracy)),
               importance)


def dci_from_importance(importance: Any) -> tuple[float, float]:
    """Disentanglement D and completeness C of an (L, K) importance matrix (L codes, K factors; module docstring).

    Closed forms: a diagonal (or permuted diagonal) matrix gives (1, 1); duplicating every code (L = 2K) gives
    D = 1 and C = 1 - log 2 / log L; one code per two factors gives D = 1 - log 2 / log K and C = 1. Invariant to
    scaling R and to permuting its rows or columns.

    Raises ValueError for a matrix that is not 2-D with L >= 2 and K >= 2, or has negative or non-finite entries.
    """
    r = np.asarray(importance, dtype=np.float64)
    if r.ndim != 2 or min(r.shape) < 2:
        raise ValueError(f"importance must be (L >= 2 codes, K >= 2 factors), got shape {r.shape}")
    if not np.isfinite(r).all() or (r < 0).any():
        raise ValueError("importance must be finite and non-negative (use |feature importances|)")
    total = r.sum()
    if total == 0:
        return 0.0, 0.0
    disentanglement = np.sum(r.sum(axis=1) / total * (1 - _normalised_entropy(r)))
    completeness = np.sum(r.sum(axis=0) / total * (1 - _normalised_entropy(r.T)))
    return float(disentanglement), float(completeness)


def _normalised_entropy(r: np.ndarray) -> np.ndarray:
    """(rows,) entropy of each row of ``r`` normalised to a distribution, in base = number of columns (a row of
    zeros counts as uniform: 1)."""
    sums = r.sum(axis=1, keepdims=True)
    p = np.where(sums > 0, r / np.where(sums > 0, sums, 1.0), 1.0 / r.shape[1])
    terms = np.where(p > 0, -p * np.log(np.where(p > 0, p, 1.0)), 0.0)
    return terms.sum(axis=1) / np.log(r.shape[1])
