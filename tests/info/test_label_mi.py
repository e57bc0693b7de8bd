"""vaeinfo.info.label_mi: I(Z_h; Y) against known answers, per-trial means, label shuffles within subjects and
the shuffled-label null that picks the relevant factors."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.integrate
import scipy.stats

from vaeinfo.info import label_mi as lm


# ----------------------------------------------------------------------------- per_trial
def test_per_trial_means_rows_of_each_trial():
    subject, trial = np.array([2, 1, 1, 2, 1]), np.array([1, 3, 3, 1, 4])
    values = np.array([[10.0], [1.0], [3.0], [20.0], [7.0]])
    np.testing.assert_allclose(lm.per_trial(values, subject, trial), [[2.0], [7.0], [15.0]])  # (1,3) (1,4) (2,1)


def test_per_trial_sorts_each_id_column_in_its_own_dtype():
    """String subject IDs beside integer trials: trials in numeric order (2 before 10), not as strings."""
    subject, trial = np.array(["s2", "s1", "s1", "s1", "s2"]), np.array([1, 10, 2, 2, 1])
    values = np.array([[10.0], [1.0], [3.0], [5.0], [20.0]])
    np.testing.assert_array_equal(lm.trial_index(subject, trial), [2, 1, 0, 0, 2])
    np.testing.assert_allclose(lm.per_trial(values, subject, trial), [[4.0], [1.0], [15.0]])  # (s1,2) (s1,10) (s2,1)


def test_per_trial_of_no_rows_is_empty():
    """No rows: an empty index and no trials (the limit of the rule, not an error)."""
    empty = np.array([], dtype=np.int64)
    assert lm.trial_index(empty, empty).shape == (0,)
    assert lm.per_trial(np.zeros((0, 3)), empty, empty).shape == (0, 3)


@pytest.mark.parametrize("call, message", [
    (lambda: lm.trial_index(np.array([1, 2]), np.array([1, 2, 3])), r"one entry per row, got shapes \(2,\) and \(3,\)"),
    (lambda: lm.trial_index(np.ones((2, 2)), np.ones((2, 2))), r"must be 1-D"),
    (lambda: lm.per_trial(np.zeros(3), np.array([1, 2]), np.array([1, 2])),
     r"one row per \(subject, trial\) entry, 2, got 3"),
])
def test_trial_ids_of_the_wrong_shape_raise(call, message):
    with pytest.raises(ValueError, match=message):
        call()


# ----------------------------------------------------------------------------- label_mi: known answers
def _posterior(mu: np.ndarray, sigma: float) -> tuple[np.ndarray, np.ndarray]:
    return mu, np.full_like(mu, 2 * math.log(sigma))


@pytest.mark.parametrize("p_high", [0.5, 0.25])
def test_label_mi_of_separated_classes_is_the_label_entropy(p_high):
    """Factor 0 puts the classes 10 apart with sigma 0.01: I(Z; Y) = H(Y) (log 2 for balanced labels); factor 1
    ignores the label (same posterior for every example): 0. Tolerance 2e-3 nats (the grid estimator's error,
    < 1e-3 per term, enters three terms)."""
    rng = np.random.default_rng(0)
    y = np.arange(2000) < p_high * 2000
    mu = np.stack([10.0 * y + 0.01 * rng.standard_normal(2000), np.zeros(2000)], axis=1)
    mi = lm.label_mi(*_posterior(mu, 0.01), y)
    entropy = -(p_high * math.log(p_high) + (1 - p_high) * math.log(1 - p_high))
    np.testing.assert_allclose(mi, [entropy, 0.0], atol=2e-3)


def test_label_mi_of_two_gaussians_matches_quadrature():
    """Posteriors N(a y, s^2), y = +-1 balanced: I(Z; Y) = H(0.5 N(-a, s^2) + 0.5 N(a, s^2)) - H(N(0, s^2)),
    computed here by adaptive quadrature (to 1e-9); tolerance 2e-3 nats."""
    a, s = 0.8, 1.0
    y = np.repeat([-1.0, 1.0], 1000)
    mi = lm.label_mi(*_posterior((a * y)[:, None], s), y > 0)

    def integrand(z):
        q = 0.5 * scipy.stats.norm.pdf(z, -a, s) + 0.5 * scipy.stats.norm.pdf(z, a, s)
        return -q * math.log(q) if q > 0 else 0.0

    mixture_entropy = scipy.integrate.quad(integrand, -a - 12 * s, a + 12 * s, epsabs=1e-11, limit=200)[0]
    expected = mixture_entropy - 0.5 * math.log(2 * math.pi * math.e * s**2)
    assert 0.1 < expected < math.log(2)
    np.testing.assert_allclose(mi, [expected], atol=2e-3)


def test_label_mi_is_zero_when_the_classes_have_the_same_posteriors():
    """Each class holds the same 500 posteriors: q(z | y) = q(z) exactly, so I(Z; Y) = 0 (to 2e-3 nats)."""
    rng = np.random.default_rng(1)
    mu, logvar = rng.standard_normal((500, 3)), rng.uniform(-3, 0, (500, 3))
    y = np.repeat([False, True], 500)
    mi = lm.label_mi(np.vstack([mu, mu]), np.vstack([logvar, logvar]), y)
    np.testing.assert_allclose(mi, 0.0, atol=2e-3)


@pytest.mark.parametrize("method, atol", [("grid", 3e-3), ("quad", 1e-6)])
def test_label_mi_with_a_one_example_class_is_the_label_entropy(method, atol):
    """Ten far-apart posteriors (sigma 0.01) identify the example, so I(Z; Y) = H(Y) for classes of 6, 3 and 1
    examples: the single example's class adds I(X; Z | Y = 2) = 0. Tolerance: 3 terms of the estimator's error
    (grid 1e-3 nats each; quad ~1e-9, 1e-6 allowed)."""
    y = np.array([0] * 6 + [1] * 3 + [2])
    mu = 10.0 * np.arange(10.0)[:, None]
    p = np.array([0.6, 0.3, 0.1])
    np.testing.assert_allclose(lm.label_mi(*_posterior(mu, 0.01), y, method), [-(p * np.log(p)).sum()], atol=atol)


@pytest.mark.parametrize("method", ["dimwise_kl", "gaussian", "kt_lower", "kt_upper"])
def test_label_mi_rejects_estimators_that_are_bounds(method):
    """A difference of bounds bounds nothing (gaussian: 4.26 nats > H(Y) = log 2 for classes at 0 and 100 with
    sigma 0.01, and 0 for the 0.63 nats of this test's classes) and dimwise_kl's terms cancel to 0 exactly: only
    the consistent estimators are accepted."""
    mu = np.repeat([[-1.0], [1.0]], 50, axis=0)
    with pytest.raises(ValueError, match=r"label_mi needs a consistent estimate of I; method must be one of "
                                         rf"\('grid', 'mc', 'quad'\), got '{method}'"):
        lm.label_mi(*_posterior(mu, 0.5), mu[:, 0] > 0, method)


def test_label_mi_rejects_a_label_per_wrong_row():
    with pytest.raises(ValueError, match=r"one label per row of mu, shape \(4,\)"):
        lm.label_mi(np.zeros((4, 2)), np.zeros((4, 2)), np.zeros(3))


# ----------------------------------------------------------------------------- shuffles and the null
def _trial_design(n_subjects=3, n_trials=10, n_windows=4, seed=0):
    """subject, trial, per-trial labels repeated over windows (n_subjects * n_trials * n_windows rows)."""
    subject = np.repeat(np.arange(1, n_subjects + 1), n_trials * n_windows)
    trial = np.tile(np.repeat(np.arange(1, n_trials + 1), n_windows), n_subjects)
    y = np.repeat(np.random.default_rng(seed).random(n_subjects * n_trials) > 0.5, n_windows)
    return subject, trial, y


def test_nan_labels_and_a_nan_null_are_refused():
    mu, logvar = np.array([[0.0], [1.0], [5.0]]), np.zeros((3, 1))
    for y in (np.array([0.0, 1.0, np.nan]), np.array([np.nan, np.nan, 1.0])):  # one NaN was a class of one, skipped
        with pytest.raises(ValueError, match=r"labels hold [12] NaN value\(s\)"):
            lm.label_mi(mu, logvar, y)
    for mi_label, null, level in ((np.ones(2), np.array([[0.1, np.nan]]), 0.05), (np.array([np.nan, 1.0]),
                                  np.zeros((3, 2)), 0.05), (np.ones(2), np.zeros((3, 2)), 1.5)):
        with pytest.raises(ValueError, match=r"relevant_factors needs finite mi_label and null .* and 0 < level < 1"):
            lm.relevant_factors(mi_label, null, level)
    with pytest.raises(ValueError, match=r"n_permutations must be an integer >= 1 \(label shuffles\), got 0"):
        lm.label_mi_null(mu, logvar, np.array([0, 1, 1]), np.zeros(3), np.arange(3), n_permutations=0)


def test_shuffled_trial_labels_move_whole_trials_within_subjects():
    subject, trial, y = _trial_design()
    a = lm.shuffled_trial_labels(y, subject, trial, np.random.default_rng(5))
    b = lm.shuffled_trial_labels(y, subject, trial, np.random.default_rng(5))
    c = lm.shuffled_trial_labels(y, subject, trial, np.random.default_rng(6))
    np.testing.assert_array_equal(a, b)  # seeded
    assert not np.array_equal(a, c) and not np.array_equal(a, y)
    for s in (1, 2, 3):
        assert a[subject == s].sum() == y[subject == s].sum()  # each subject keeps its class counts
    assert np.all(a.reshape(-1, 4) == a.reshape(-1, 4)[:, :1])  # one label per trial
    y_bad = y.copy()
    y_bad[1] = ~y_bad[1]
    with pytest.raises(ValueError, match="windows of a trial have different labels"):
        lm.shuffled_trial_labels(y_bad, subject, trial, np.random.default_rng(0))


def test_relevant_factors_is_the_max_statistic_permutation_test():
    """p = (1 + #{null maxima >= I}) / (1 + n) <= level: with 19 shuffles at 5 % a factor must beat every maximum;
    with 39, all but one. The maxima here are 0.01, 0.02, ..."""
    maxima = np.arange(1, 40) / 100
    null = np.stack([maxima, np.zeros(39)], axis=1)
    relevant, threshold = lm.relevant_factors(np.array([0.39, 0.385]), null[20:], level=0.05)
    assert threshold == pytest.approx(0.39) and relevant.tolist() == []  # equal to the largest: p = 2/20 > 0.05
    relevant, threshold = lm.relevant_factors(np.array([0.385, 0.3905]), null, level=0.05)
    assert threshold == pytest.approx(0.38) and relevant.tolist() == [1, 0]  # p = 2/40 and 1/40; by decreasing I
    relevant, threshold = lm.relevant_factors(np.array([0.375, 0.0]), null, level=0.05)
    assert threshold == pytest.approx(0.38) and relevant.tolist() == []  # p = 3/40
    for n, level in ((19, 0.05), (9, 0.1), (99, 0.01)):
        threshold = lm.relevant_factors(np.zeros(2), null[-n:] if n <= 39 else np.ones((n, 2)), level=level)[1]
        assert threshold == pytest.approx(0.39 if n <= 39 else 1.0)  # the smallest n allowed: the largest maximum
    assert lm.relevant_factors(np.zeros(2), null[:1], level=1 - 1e-12)[1] == pytest.approx(0.01)  # level ~1: n = 1
    with pytest.raises(ValueError, match=r"18 label shuffles cannot show significance at level 0.05: .* use at least "
                                         r"19 shuffles"):
        lm.relevant_factors(np.zeros(2), null[:18])
    with pytest.raises(ValueError, match=r"null must be \(n_permutations >= 1, 3\)"):
        lm.relevant_factors(np.zeros(3), null)


def test_label_mi_null_passes_its_method_on():
    subject, trial, y = _trial_design()
    mu = np.repeat(np.random.default_rng(1).standard_normal((len(y) // 4, 2)), 4, axis=0)
    logvar = np.full_like(mu, -2.0)
    grid = lm.label_mi_null(mu, logvar, y, subject, trial, 3, seed=4)
    quad = lm.label_mi_null(mu, logvar, y, subject, trial, 3, seed=4, method="quad")
    rng = np.random.default_rng(4)
    expected = [lm.label_mi(mu, logvar, lm.shuffled_trial_labels(y, subject, trial, rng), "quad")
                for _ in range(3)]
    np.testing.assert_array_equal(quad, np.stack(expected))
    assert not np.array_equal(grid, quad)


def test_label_mi_null_finds_only_the_informative_factor():
    """Factor 0 = label + noise per trial; factors 1, 2 noise: only factor 0 beats the shuffled-label level."""
    subject, trial, y = _trial_design(n_subjects=4, n_trials=20)
    rng = np.random.default_rng(2)
    per_trial_noise = np.repeat(rng.standard_normal((80, 3)), 4, axis=0)
    mu = per_trial_noise + np.stack([2.0 * y, 0 * y, 0 * y], axis=1)
    logvar = np.full_like(mu, math.log(0.1**2))
    null = lm.label_mi_null(mu, logvar, y, subject, trial, 20, seed=0)
    assert null.shape == (20, 3) and np.all(null > -2e-3)
    np.testing.assert_array_equal(null, lm.label_mi_null(mu, logvar, y, subject, trial, 20, seed=0))
    relevant, threshold = lm.relevant_factors(lm.label_mi(mu, logvar, y), null)
    assert relevant.tolist() == [0] and 0 < threshold < 0.2
