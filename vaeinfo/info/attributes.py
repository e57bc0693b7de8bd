"""Which labelled attributes a latent factor tracks: the ROC AUC of each factor for each binary attribute.

For a factor z_h and a binary attribute y, AUC(h, y) = P(z_h of a random positive > z_h of a random negative)
+ ½ P(tie): 0.5 when the factor ignores the attribute, 1 (or 0) when it separates the two groups perfectly
in increasing (or decreasing) direction. Unlike a correlation it is invariant to any monotone transform of
the factor, and unlike MI it needs no density estimate; ``|AUC - 0.5|`` is the strength of the association,
the sign its direction.
"""

from __future__ import annotations

import numpy as np
from scipy.stats import rankdata


def factor_attribute_auc(codes: np.ndarray, attributes: np.ndarray) -> np.ndarray:
    """ROC AUC of every factor for every binary attribute (Mann-Whitney U / (n1 n0), ties counted ½).

    Parameters
    ----------
    codes : (n, k) factor values, e.g. encoder means of the top-k factors.
    attributes : (n, a) binary labels in {0, 1}.

    Returns
    -------
    (k, a) float64 AUC in [0, 1]; NaN for an attribute that takes a single value over the n examples.

    Raises
    ------
    ValueError
        Mismatched shapes, NaN/inf codes, or labels other than 0/1.
    """
    codes, labels = _checked(codes, attributes)
    ranks = rankdata(codes, axis=0)  # (n, k), average ranks for ties
    positives = labels.sum(axis=0)  # (a,)
    negatives = labels.shape[0] - positives
    rank_sums = ranks.T @ labels  # (k, a): sum of the positives' ranks
    u = rank_sums - positives * (positives + 1) / 2
    with np.errstate(invalid="ignore", divide="ignore"):
        auc = u / (positives * negatives)
    auc[:, (positives == 0) | (negatives == 0)] = np.nan
    return auc


def auc_standard_error(codes: np.ndarray, attributes: np.ndarray) -> np.ndarray:
    """DeLong's standard error of each AUC of :func:`factor_attribute_auc`, estimated from the same data.

    DeLong, DeLong & Clarke-Pearson (Biometrics 1988): with the placement values V10_i (share of negatives
    below positive i, ties ½) and V01_j (share of positives above negative j), whose means are the AUC,
    Var(AUC) ≈ Var(V10) / n1 + Var(V01) / n0 (sample variances). Nonparametric, so it suits a factor of
    any distribution; it says how far an AUC from few positives (a rare attribute) can be trusted.

    Parameters
    ----------
    codes : (n, k) factor values; attributes : (n, a) binary labels in {0, 1}.

    Returns
    -------
    (k, a) float64 standard errors (AUC units); NaN for an attribute with fewer than 2 examples in a class.
    """
    codes, labels = _checked(codes, attributes)
    ranks = rankdata(codes, axis=0)
    se = np.full((codes.shape[1], labels.shape[1]), np.nan)
    for j, positive in enumerate(labels.T.astype(bool)):
        n1, n0 = int(positive.sum()), int((~positive).sum())
        if min(n1, n0) < 2:
            continue
        # rank among all minus rank within the own class = examples of the other class below (ties ½)
        v10 = (ranks[positive] - rankdata(codes[positive], axis=0)) / n0  # (n1, k)
        v01 = 1 - (ranks[~positive] - rankdata(codes[~positive], axis=0)) / n1  # (n0, k)
        se[:, j] = np.sqrt(v10.var(axis=0, ddof=1) / n1 + v01.var(axis=0, ddof=1) / n0)
    return se


def strongest_attributes(auc: np.ndarray, names: list[str] | tuple[str, ...]) -> list[tuple[str, float]]:
    """For each factor (row of ``auc``, (k, a)), the attribute with the largest |AUC - 0.5| and its AUC.

    Attributes with NaN AUC are ignored; a row that is all NaN gives ``("", nan)``.
    """
    auc = np.asarray(auc, dtype=np.float64)
    if auc.ndim != 2 or auc.shape[1] != len(names):
        raise ValueError(f"auc must be (k, {len(names)}) for {len(names)} attribute names, got shape {auc.shape}")
    strength = np.where(np.isnan(auc), -1.0, np.abs(auc - 0.5))
    best = strength.argmax(axis=1)
    return [("", float("nan")) if strength[r, j] < 0 else (names[j], float(auc[r, j])) for r, j in enumerate(best)]


def _checked(codes: np.ndarray, attributes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Validate and convert to float64 (n, k) codes and (n, a) 0/1 labels."""
    codes = np.asarray(codes, dtype=np.float64)
    labels = np.asarray(attributes)
    if codes.ndim != 2 or labels.ndim != 2 or codes.shape[0] != labels.shape[0]:
        raise ValueError(f"codes (n, k) and attributes (n, a) must be 2-D with the same n, got {codes.shape} "
                         f"and {labels.shape}")
    if not np.all(np.isfinite(codes)):
        raise ValueError("codes contain NaN or inf values; encode finite images first")
    if not np.all((labels == 0) | (labels == 1)):
        raise ValueError("attributes must be binary labels in {0, 1} (CelebA's -1 mapped to 0)")
    return codes, labels.astype(np.float64)
