"""The Separated Attribute Predictability score (Kumar et al. 2018), as disentanglement_lib computes it.

A score matrix S (L, K) says how well each single code j predicts each factor k; SAP is the mean over the factors
of the gap between the best and the second-best code, S_(1)k - S_(2)k:

- discrete factors (disentanglement_lib's ``unsupervised_study_v1`` setting): S_jk = held-out accuracy of a
  ``LinearSVC(C=0.01, class_weight="balanced")`` trained on code j alone. A linear one-vs-rest classifier on one
  number separates few classes of a many-valued factor: on 10-valued factors even the identity representation
  scores only about 0.2, and for balanced binary factors the ceiling is 1 - 0.5 (top-1 accuracy 1, chance 0.5);
- continuous factors: S_jk = corr(z_j, v_k)^2 on the training points (0 for a constant code), so the identity
  representation scores 1.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.svm import LinearSVC

from .inputs import check_codes, check_factors, check_train_test, check_varying

SVC_C = 0.01  # disentanglement_lib's LinearSVC regularisation


@dataclass(frozen=True)
class SAP:
    """A SAP score and its score matrix.

    Attributes
    ----------
    score : mean over the factors of (best - second-best code's score).
    matrix : (L, K) predictability of factor k from code j alone (accuracy, or squared correlation).
    """

    score: float
    matrix: np.ndarray


def sap(codes: Any, factors: Any, codes_test: Any = None, factors_test: Any = None, *, continuous: bool = False,
        seed: int = 0) -> SAP:
    """SAP of a representation (module docstring).

    Parameters
    ----------
    codes, factors : (n, L) representations, L >= 2, and (n, K) integer ground-truth classes (each factor with >= 2
        values) of the training points (disentanglement_lib: 10,000).
    codes_test, factors_test : (m, L), (m, K) held-out points (disentanglement_lib: 5,000); needed when
        ``continuous`` is False, unused otherwise.
    continuous : treat the factors as continuous (squared correlation) instead of discrete (linear classifiers).
    seed : the classifiers' ``random_state``: liblinear's coordinate order in the dual solver. scikit-learn's
        ``dual="auto"`` picks the primal solver for one feature and more points than features (always here), which
        does not use it; kept so that a dual solve would be seeded (disentanglement_lib's scikit-learn 0.20 solved
        the dual: the same held-out accuracy, measured).

    Returns
    -------
    :class:`SAP`. Time (discrete): L x K linear SVMs on one feature, one-vs-rest over the factor's classes.
    """
    if continuous:
        codes = check_codes(codes, min_codes=2)
        factors = check_factors(factors, len(codes))
        check_varying(factors)
        return _gap(_squared_correlation(codes, factors))
    if codes_test is None or factors_test is None:
        raise ValueError("discrete SAP scores held-out accuracy: pass codes_test and factors_test (or "
                         "continuous=True)")
    codes, factors, codes_test, factors_test = check_train_test(codes, factors, codes_test, factors_test)
    matrix = np.zeros((codes.shape[1], factors.shape[1]))
    for j in range(codes.shape[1]):
        for k in range(factors.shape[1]):
            model = LinearSVC(C=SVC_C, class_weight="balanced", random_state=seed)
            model.fit(codes[:, j:j + 1], factors[:, k])
            matrix[j, k] = np.mean(model.predict(codes_test[:, j:j + 1]) == factors_test[:, k])
    return _gap(matrix)


def _squared_correlation(codes: np.ndarray, factors: np.ndarray) -> np.ndarray:
    """(L, K) corr(code j, factor k)^2, 0 where the code's variance is <= 1e-12 (as disentanglement_lib)."""
    z = codes - codes.mean(axis=0)
    v = factors - factors.mean(axis=0)
    var_z, var_v = (z * z).sum(axis=0), (v * v).sum(axis=0)
    cov = z.T @ v
    ok = var_z / (len(codes) - 1) > 1e-12
    return np.where(ok[:, None], cov**2 / (np.where(ok, var_z, 1.0)[:, None] * var_v[None, :]), 0.0)


def _gap(matrix: np.ndarray) -> SAP:
    """SAP of a score matrix: mean over the columns of the top-1 minus the top-2 entry."""
    top = np.sort(matrix, axis=0)
    return SAP(float(np.mean(top[-1] - top[-2])), matrix)
