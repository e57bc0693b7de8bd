"""Known answers for the factor-attribute AUC (perfect separation, reversal, ties, invariance, sklearn agreement)
and its DeLong standard error (pairwise definition, spread over repeated samples, limits)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import norm
from sklearn.metrics import roc_auc_score

from vaeinfo.info.attributes import (
    auc_standard_error,
    factor_attribute_auc,
    strongest_attributes,
)


def test_perfect_reversed_and_uninformative_factors():
    labels = np.array([[0], [0], [1], [1]])
    codes = np.array([[1.0, 4.0, 5.0], [2.0, 3.0, 5.0], [3.0, 2.0, 5.0], [4.0, 1.0, 5.0]])
    # increasing: 1, decreasing: 0, constant (all tied): exactly 0.5
    np.testing.assert_array_equal(factor_attribute_auc(codes, labels), [[1.0], [0.0], [0.5]])


def test_matches_sklearn_with_ties_and_is_invariant_to_monotone_maps():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, size=(500, 3))
    codes = np.round(rng.normal(size=(500, 2)) + labels[:, :2], 1)  # rounding makes ties
    auc = factor_attribute_auc(codes, labels)
    expected = [[roc_auc_score(labels[:, a], codes[:, k]) for a in range(3)] for k in range(2)]
    np.testing.assert_allclose(auc, expected, rtol=0, atol=1e-12)
    np.testing.assert_allclose(factor_attribute_auc(np.exp(codes), labels), auc, rtol=0, atol=1e-12)
    np.testing.assert_allclose(factor_attribute_auc(-codes, labels), 1 - auc, rtol=0, atol=1e-12)
    assert auc[0, 0] > 0.7 and auc[1, 1] > 0.7 and abs(auc[0, 2] - 0.5) < 0.1  # planted vs unrelated


def test_single_class_attribute_is_nan_and_ignored_by_strongest():
    codes = np.array([[0.0], [1.0], [2.0]])
    labels = np.array([[1, 0, 0], [1, 0, 1], [1, 0, 1]])
    auc = factor_attribute_auc(codes, labels)
    assert np.isnan(auc[0, 0]) and np.isnan(auc[0, 1]) and auc[0, 2] == 1.0
    assert strongest_attributes(auc, ["a", "b", "c"]) == [("c", 1.0)]
    assert strongest_attributes(np.full((1, 2), np.nan), ["a", "b"])[0][0] == ""


def test_strongest_takes_the_largest_distance_from_one_half():
    auc = np.array([[0.6, 0.1, 0.8], [0.5, 0.55, 0.45]])
    assert strongest_attributes(auc, ["x", "y", "z"]) == [("y", 0.1), ("y", 0.55)]


@pytest.mark.parametrize("codes, labels, match", [
    (np.zeros((3, 2)), np.zeros((4, 1)), "same n"),
    (np.array([[np.nan], [0.0]]), np.array([[0], [1]]), "NaN"),
    (np.zeros((2, 1)), np.array([[-1], [1]]), "binary"),
])
def test_bad_input(codes, labels, match):
    with pytest.raises(ValueError, match=match):
        factor_attribute_auc(codes, labels)
    with pytest.raises(ValueError, match="auc must be"):
        strongest_attributes(np.zeros((2, 3)), ["a", "b"])


def _delong_by_pairs(scores: np.ndarray, labels: np.ndarray) -> float:
    """DeLong's SE from its definition: the O(n1 n0) table of pairwise comparisons (1, ½ for ties, 0)."""
    x, y = scores[labels == 1], scores[labels == 0]
    psi = (x[:, None] > y[None, :]) + 0.5 * (x[:, None] == y[None, :])
    v10, v01 = psi.mean(axis=1), psi.mean(axis=0)
    return float(np.sqrt(v10.var(ddof=1) / len(x) + v01.var(ddof=1) / len(y)))


def test_delong_se_equals_its_pairwise_definition_with_ties():
    rng = np.random.default_rng(1)
    labels = rng.integers(0, 2, size=(300, 2))
    codes = np.round(rng.normal(size=(300, 3)) + 0.8 * labels[:, :1], 1)  # rounding makes ties
    se = auc_standard_error(codes, labels)
    expected = [[_delong_by_pairs(codes[:, k], labels[:, a]) for a in range(2)] for k in range(3)]
    np.testing.assert_allclose(se, expected, rtol=1e-12, atol=0)


@pytest.mark.parametrize("target, n1, n0", [(0.75, 30, 970), (0.6, 100, 400), (0.5, 25, 475)])
def test_delong_se_matches_the_spread_of_auc_over_repeated_samples(target, n1, n0):
    """Binormal scores with AUC = Phi(d / sqrt 2): over 3,000 samples the SD of the empirical AUC equals the
    mean DeLong SE within 4 % (the Monte Carlo SD of an SD from 3,000 draws is ~1.3 %; DeLong's own bias at
    n1 = 25..100 is a few %)."""
    rng = np.random.default_rng(2)
    labels = (np.arange(n1 + n0) < n1).astype(int)[:, None]
    codes = rng.standard_normal((n1 + n0, 3000)) + np.sqrt(2) * norm.ppf(target) * labels
    auc = factor_attribute_auc(codes, labels)[:, 0]
    se = auc_standard_error(codes, labels)[:, 0]
    assert abs(auc.mean() - target) < 0.005
    assert se.mean() == pytest.approx(auc.std(), rel=0.04)


def test_delong_se_limits():
    labels = np.array([[0, 1], [0, 0], [1, 0], [1, 0]])
    codes = np.array([[1.0], [2.0], [3.0], [4.0]])  # attribute 0 separated perfectly: SE 0; attribute 1: 1 positive
    se = auc_standard_error(codes, labels)
    assert se[0, 0] == 0.0 and np.isnan(se[0, 1])
