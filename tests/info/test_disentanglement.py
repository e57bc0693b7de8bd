"""vaeinfo.info.disentanglement: known answers of every metric on the synthetic world "observation = factors"
(as disentanglement_lib's *_test.py: identity -> ~1, constant -> ~0, duplicated codes -> MIG 0), invariance to
permuting the codes, closed forms of DCI's D and C on hand-made importance matrices, our MIG against the
histogram MIG where both are exact, and one clear ValueError per bad input."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.integrate
import scipy.stats

from vaeinfo.info import disentanglement as dis
from vaeinfo.info.mi import factor_mi

SIGMA = 0.01  # posterior std of the "deterministic" codes in the MIG tests


def uniform_world(n: int, n_factors: int = 10, n_values: int = 10, seed: int = 0) -> np.ndarray:
    """(n, n_factors) int64 factors, each uniform over n_values classes (disentanglement_lib's dummy world)."""
    return np.random.default_rng(seed).integers(0, n_values, (n, n_factors))


def balanced_grid(sizes: tuple[int, ...], repeats: int) -> np.ndarray:
    """Every combination of the factor values exactly ``repeats`` times: (prod(sizes) * repeats, K) int64."""
    grid = np.indices(sizes).reshape(len(sizes), -1).T
    return np.repeat(grid, repeats, axis=0)


def sharp(codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Posteriors N(codes, SIGMA^2): codes that are (almost) deterministic."""
    codes = np.asarray(codes, dtype=np.float64)
    return codes, np.full_like(codes, 2 * math.log(SIGMA))


def identity(factors: np.ndarray) -> np.ndarray:
    return factors.astype(np.float64)


# ----------------------------------------------------------------------------- DCI: closed forms of D and C
LOG2_OVER_LOG10 = math.log(2) / math.log(10)


@pytest.mark.parametrize("matrix, expected", [
    (np.diag(5.0 * np.ones(5)), (1.0, 1.0)),
    (np.array([[1.0, 0.0], [0.0, 1.0], [0.0, 0.0]]), (1.0, 1.0)),  # an unused code has weight 0
    (np.zeros((10, 10)), (0.0, 0.0)),
    (np.vstack([np.diag(5.0 * np.ones(5))] * 2), (1.0, 1.0 - LOG2_OVER_LOG10)),  # each factor split over 2 of 10 codes
    (np.hstack([np.diag(5.0 * np.ones(5))] * 2), (1.0 - LOG2_OVER_LOG10, 1.0)),  # each code split over 2 of 10 factors
    (np.diag(5.0 * np.ones(5))[:2], (1.0, 1.0)),  # factors that no code captures have weight 0
    (np.ones((4, 3)), (0.0, 0.0)),  # every code for every factor
])
def test_dci_from_importance_closed_forms(matrix, expected):
    """disentanglement_lib's dci_test.py cases; its +1e-11 smoothing is the limit taken here, hence 1e-12."""
    np.testing.assert_allclose(dis.dci_from_importance(matrix), expected, atol=1e-12)


def test_dci_from_importance_of_a_hand_computed_matrix():
    """R = [[1, 1], [0, 2]]: code 0 splits evenly (D_0 = 0), code 1 is pure (D_1 = 1), weights 2/4 and 2/4, so
    D = 1/2; factor 0 is pure (C_0 = 1, weight 1/4), factor 1 is split 1/3 : 2/3 (C_1 = 1 - H_2(1/3)), weight 3/4.
    Scaling R and permuting its rows and columns change nothing."""
    h = -(1 / 3 * math.log2(1 / 3) + 2 / 3 * math.log2(2 / 3))
    expected = (0.5, 0.25 + 0.75 * (1 - h))
    assert abs(expected[1] - 0.311278) < 1e-6
    r = np.array([[1.0, 1.0], [0.0, 2.0]])
    np.testing.assert_allclose(dis.dci_from_importance(r), expected, rtol=1e-12)
    np.testing.assert_allclose(dis.dci_from_importance(7.5 * r[::-1, ::-1]), expected, rtol=1e-12)


@pytest.mark.parametrize("matrix, message", [
    (np.ones(5), r"\(L >= 2 codes, K >= 2 factors\)"),
    (np.ones((1, 4)), r"\(L >= 2 codes, K >= 2 factors\)"),
    (np.array([[1.0, -0.1], [0.0, 1.0]]), "non-negative"),
    (np.array([[1.0, np.nan], [0.0, 1.0]]), "finite"),
])
def test_dci_from_importance_rejects_bad_matrices(matrix, message):
    with pytest.raises(ValueError, match=message):
        dis.dci_from_importance(matrix)


# ----------------------------------------------------------------------------- DCI with gradient-boosted trees
@pytest.fixture(scope="module")
def dci_world():
    """5 factors x 10 values, 600 training and 300 test points (small, so that 10-stage boosting is fast)."""
    return uniform_world(600, 5, seed=1), uniform_world(300, 5, seed=2)


def test_dci_of_the_identity_is_one_and_of_a_constant_is_zero(dci_world):
    train, test = dci_world
    good = dis.dci(identity(train), train, identity(test), test, n_estimators=10)
    assert good.disentanglement > 0.99 and good.completeness > 0.99
    assert good.informativeness_test == 1.0 and good.importance.shape == (5, 5)
    np.testing.assert_allclose(good.importance.sum(axis=0), 1.0, atol=1e-9)
    bad = dis.dci(np.zeros((600, 5)), train, np.zeros((300, 5)), test, n_estimators=10)
    assert (bad.disentanglement, bad.completeness) == (0.0, 0.0)
    # a classifier that cannot split predicts the majority class: chance, about 1/10
    assert bad.informativeness_test < 0.2


def test_dci_of_duplicated_codes_halves_completeness(dci_world):
    """Each factor is captured equally by two of L = 10 codes: D = 1, C = 1 - log 2 / log 10 (the trees split the
    importance about evenly between the twins; tolerance 0.05)."""
    train, test = dci_world
    twice = dis.dci(np.hstack([identity(train)] * 2), train, np.hstack([identity(test)] * 2), test, n_estimators=10)
    assert twice.disentanglement > 0.99
    assert abs(twice.completeness - (1 - LOG2_OVER_LOG10)) < 0.05


def test_dci_is_invariant_to_permuting_the_codes(dci_world):
    """An entangled representation (a fixed rotation of the factors) scores in between, and about the same after
    the codes are permuted: splits on different codes that cut the training points alike tie, and the trees visit
    the codes in a seeded random order, so the first of the tied codes can change (tolerance 0.01)."""
    train, test = dci_world
    mixing = np.linalg.qr(np.random.default_rng(3).standard_normal((5, 5)))[0]
    mixing[:, 0] = np.eye(5)[0]  # code 0 stays pure, the rest mix
    first = dis.dci(train @ mixing, train, test @ mixing, test, n_estimators=10)
    perm = np.array([3, 0, 4, 1, 2])
    second = dis.dci((train @ mixing)[:, perm], train, (test @ mixing)[:, perm], test, n_estimators=10)
    assert 0.1 < first.disentanglement < 0.95
    np.testing.assert_allclose([second.disentanglement, second.completeness, second.informativeness_test],
                               [first.disentanglement, first.completeness, first.informativeness_test], atol=0.01)
    np.testing.assert_allclose(second.importance, first.importance[perm], atol=0.05)


# ----------------------------------------------------------------------------- MIG: histogram and ours
@pytest.fixture(scope="module")
def mig_world():
    """disentanglement_lib's test world: 10 factors x 10 values, 3,000 points."""
    return uniform_world(3000)


def test_mig_histogram_known_answers(mig_world):
    """Identity -> ~1 (the loss is the largest off-diagonal plug-in MI, each about 81 / (2 n) nats of bias);
    constant -> 0; duplicated codes -> exactly 0 (the two best codes tie); permuting the codes changes nothing."""
    f = mig_world
    good = dis.mig_histogram(identity(f), f)
    assert 0.98 < good.score < 1.0
    np.testing.assert_array_equal(good.top, np.arange(10))
    assert dis.mig_histogram(np.zeros((3000, 10)), f).score == 0.0
    assert dis.mig_histogram(np.hstack([identity(f)] * 2), f).score == 0.0
    perm = np.random.default_rng(0).permutation(10)
    permuted = dis.mig_histogram(identity(f)[:, perm], f)
    assert permuted.score == good.score
    np.testing.assert_array_equal(permuted.mi, good.mi[perm])


def test_mig_histogram_uses_disentanglement_libs_twenty_bins():
    """A 20-valued factor (50 points each) and its own code: 20 equal-width bins put each value in its own bin, so
    the MIG is exactly 1; 10 bins would merge pairs of values (0.77). No other test depends on the bin count."""
    v = np.repeat(np.arange(20), 50)[:, None]
    assert dis.mig_histogram(np.hstack([v.astype(float), np.zeros_like(v, dtype=float)]), v).score == \
        pytest.approx(1.0, abs=1e-12)


def test_mig_ours_known_answers(mig_world):
    """The same cases for our MIG from posteriors N(code, 0.01^2): identity -> ~1, the prior for every point ->
    0 (to the estimator's 1e-3 nats), duplicated -> 0, permuted codes -> the same (to 1e-12)."""
    f = mig_world
    good = dis.mig(*sharp(identity(f)), f)
    assert 0.98 < good.score < 1.0
    zeros = np.zeros((3000, 10))
    assert abs(dis.mig(zeros, zeros, f).score) < 1e-3
    assert abs(dis.mig(*sharp(np.hstack([identity(f)] * 2)), f).score) < 1e-12
    perm = np.random.default_rng(0).permutation(10)
    permuted = dis.mig(*sharp(identity(f)[:, perm]), f)
    assert abs(permuted.score - good.score) < 1e-12


def test_mig_ours_equals_the_histogram_limit_on_deterministic_codes(mig_world):
    """Deterministic (sigma = 0.01), well-separated codes that 20 bins resolve: both estimators are the plug-in
    discrete MI of the samples, so every I(z_j; v_k) agrees (to 1e-3 nats, the grid estimator's error) and so do
    the MIGs."""
    f = mig_world
    ours, histogram = dis.mig(*sharp(identity(f)), f), dis.mig_histogram(identity(f), f)
    np.testing.assert_allclose(ours.mi, histogram.mi, atol=1e-3)
    np.testing.assert_allclose(ours.entropy, histogram.entropy, rtol=1e-12)
    assert abs(ours.score - histogram.score) < 1e-3


def test_both_migs_give_one_half_when_a_code_keeps_one_bit_of_two():
    """v uniform over 4 values (exactly 1000 points each), z0 = v // 2, z1 = 0: I(z0; v) = log 2, H(v) = log 4,
    so MIG = 1/2 for both estimators (exactly for the histogram, to 1e-3 for ours)."""
    v = balanced_grid((4,), 1000)
    codes = np.hstack([v // 2, np.zeros_like(v)]).astype(np.float64)
    assert dis.mig_histogram(codes, v).score == pytest.approx(0.5, abs=1e-12)
    ours = dis.mig(*sharp(codes), v)
    assert abs(ours.score - 0.5) < 1e-3
    np.testing.assert_allclose(ours.mi[:, 0], [math.log(2), 0.0], atol=1e-3)


def test_mig_ours_of_noisy_codes_matches_quadrature():
    """Binary balanced v, posteriors N(2 v, 1) (code 0) and N(v / 2, 1) (code 1): I(z_j; v) = H(mixture of N(0, 1)
    and N(a_j, 1)) - H(N(0, 1)), computed by adaptive quadrature; MIG = (I_0 - I_1) / log 2. The histogram MIG of
    the means ignores the noise and reports 1 - 1 = 0 here (both means separate v perfectly)."""
    v = balanced_grid((2,), 1000)
    mu = np.hstack([2.0 * v, 0.5 * v])

    def information(a: float) -> float:
        def integrand(z):
            q = 0.5 * scipy.stats.norm.pdf(z) + 0.5 * scipy.stats.norm.pdf(z, a)
            return -q * math.log(q) if q > 0 else 0.0
        entropy = scipy.integrate.quad(integrand, -14, a + 14, epsabs=1e-11, limit=200)[0]
        return entropy - 0.5 * math.log(2 * math.pi * math.e)

    expected = (information(2.0) - information(0.5)) / math.log(2)
    assert 0.3 < expected < 0.7
    result = dis.mig(mu, np.zeros_like(mu), v)
    assert abs(result.score - expected) < 3e-3
    assert result.top.tolist() == [0]
    assert dis.mig_histogram(mu, v).score == 0.0


def test_posterior_mi_with_one_point_per_value_is_the_information_about_the_data():
    """Every point its own factor value (each value held by one point): v identifies x, so I(z_j; v) = I(X; z_j),
    factor_mi's exact value, to rounding (1e-12 nats); a second factor that pairs the points in twos gives less,
    and its one singleton value (n odd) adds 0."""
    rng = np.random.default_rng(3)
    mu, logvar = rng.standard_normal((41, 3)), rng.uniform(-2.0, 0.5, (41, 3))
    factors = np.stack([np.arange(41), np.arange(41) // 2], axis=1)
    mi = dis.posterior_mi_matrix(mu, logvar, factors)
    np.testing.assert_allclose(mi[:, 0], factor_mi(mu, logvar, "grid"), rtol=0, atol=1e-12)
    assert (mi[:, 1] < mi[:, 0] - 1e-3).all() and (mi[:, 1] > 0).all()


def test_mig_normalised_by_log_sizes_equals_empirical_on_the_whole_grid():
    """On every combination of the factor values (equally often), H(v_k) = log |V_k| exactly, so both
    normalisations agree; on a sample they differ, and the empirical one keeps MIG <= 1."""
    f = balanced_grid((3, 5, 4), 20)
    empirical, by_sizes = dis.mig(*sharp(identity(f)), f), dis.mig(*sharp(identity(f)), f, factor_sizes=[3, 5, 4])
    np.testing.assert_allclose(by_sizes.entropy, np.log([3, 5, 4]), rtol=1e-12)
    assert abs(by_sizes.score - empirical.score) < 1e-12
    assert by_sizes.score > 0.99
    sample = uniform_world(300, 3, 5, seed=10)  # a sample: H(v_k) < log 5, so dividing by log 5 gives less
    empirical, by_sizes = dis.mig(*sharp(identity(sample)), sample), dis.mig(*sharp(identity(sample)), sample,
                                                                             factor_sizes=[5, 5, 5])
    assert (empirical.entropy < np.log(5)).all() and by_sizes.score < empirical.score <= 1.0


def test_an_outlier_collapses_the_histogram_mig_but_not_ours(mig_world):
    """One code value 1000 away stretches the 20 bins of that code so all other points share one bin: the
    histogram MIG of the identity drops by about 1/10 (one factor of ten loses its code); ours is unaffected."""
    f = mig_world
    codes = identity(f)
    codes[0, 0] = 1000.0
    histogram, ours = dis.mig_histogram(codes, f), dis.mig(*sharp(codes), f)
    assert histogram.gaps[0] < 0.01 and histogram.score < 0.9
    assert ours.gaps[0] > 0.97 and ours.score > 0.98


# ----------------------------------------------------------------------------- SAP
def test_sap_continuous_known_answers(mig_world):
    """Squared correlations: identity -> ~1 (off-diagonal corr^2 ~ 1/n), constant -> 0, duplicated -> 0, and a
    hand-made case: balanced binary a, b (each combination equally often), z0 = a, z1 = a + b gives
    S = [[1, 0], [1/2, 1/2]], so SAP = ((1 - 1/2) + (1/2 - 0)) / 2 = 1/2 exactly."""
    f = mig_world
    assert dis.sap(identity(f), f, continuous=True).score > 0.99
    assert dis.sap(np.zeros((3000, 10)), f, continuous=True).score == 0.0
    assert dis.sap(np.hstack([identity(f)] * 2), f, continuous=True).score == pytest.approx(0.0, abs=1e-12)
    ab = balanced_grid((2, 2), 25)
    result = dis.sap(np.stack([ab[:, 0], ab[:, 0] + ab[:, 1]], axis=1), ab, continuous=True)
    np.testing.assert_allclose(result.matrix, [[1.0, 0.0], [0.5, 0.5]], atol=1e-12)
    assert result.score == pytest.approx(0.5, abs=1e-12)


def test_sap_discrete_on_binary_factors():
    """Linear SVMs on single codes, balanced binary factors: the matching code predicts its factor perfectly, the
    others at chance 1/2, so the identity scores 1/2 (the ceiling for binary factors); a constant and duplicated
    codes score exactly 0 (their best two tie); permuting the codes changes nothing."""
    train, test = uniform_world(1000, 4, 2, seed=4), uniform_world(1000, 4, 2, seed=5)
    good = dis.sap(identity(train), train, identity(test), test)
    np.testing.assert_allclose(np.diag(good.matrix), 1.0)
    assert abs(good.score - 0.5) < 0.05
    assert dis.sap(np.zeros((1000, 4)), train, np.zeros((1000, 4)), test).score == 0.0
    assert dis.sap(np.hstack([identity(train)] * 2), train, np.hstack([identity(test)] * 2), test).score == 0.0
    perm = np.array([2, 0, 3, 1])
    permuted = dis.sap(identity(train)[:, perm], train, identity(test)[:, perm], test)
    assert permuted.score == good.score
    np.testing.assert_array_equal(permuted.matrix, good.matrix[perm])


def test_sap_discrete_uses_disentanglement_libs_classifier_settings():
    """The identity on 10 factors of 10 values scores about 0.2 with LinearSVC(C=0.01, class_weight="balanced")
    (one code separates few of ten classes linearly); scikit-learn's defaults give 0.39, C=1 0.30, no weighting 0.29
    (measured on these draws), so the score pins both settings. Interval: +-0.05 around 0.198."""
    train, test = uniform_world(2000, 3), uniform_world(1000, 3, seed=1)
    assert abs(dis.sap(identity(train), train, identity(test), test).score - 0.198) <= 0.05


# ----------------------------------------------------------------------------- BetaVAE and FactorVAE scores
SIZES = np.full(10, 10)
SMALL = {"n_train": 300, "n_eval": 200}


def zeros(factors: np.ndarray) -> np.ndarray:
    return np.zeros(factors.shape)


def test_beta_vae_score_known_answers():
    """Identity -> 1 (the fixed factor's feature is exactly 0, the others ~3.3); a constant representation ->
    chance, 1/K = 0.1 (the logistic regression sees all-zero features)."""
    assert dis.beta_vae_score(identity, SIZES, 0, **SMALL).eval_accuracy == 1.0
    assert dis.beta_vae_score(zeros, SIZES, 0, **SMALL).eval_accuracy < 0.2


def test_beta_vae_score_of_an_entangled_representation_ignores_code_order_and_call_size():
    """A rotation of the factors scores below 1; permuting its codes gives the same score (the logistic
    regression's optimum is permutation-equivariant: to one evaluation point), and so does feeding represent in
    calls of 128 rows instead of 4096 (the draws do not depend on it: exactly)."""
    mixing = np.linalg.qr(np.random.default_rng(6).standard_normal((10, 10)))[0]
    perm = np.random.default_rng(7).permutation(10)
    first = dis.beta_vae_score(lambda f: f @ mixing, SIZES, 0, **SMALL)
    permuted = dis.beta_vae_score(lambda f: (f @ mixing)[:, perm], SIZES, 0, **SMALL)
    small_calls = dis.beta_vae_score(lambda f: f @ mixing, SIZES, 0, rows_per_call=128, **SMALL)
    assert first.eval_accuracy < 0.95
    assert abs(permuted.eval_accuracy - first.eval_accuracy) <= 1 / SMALL["n_eval"] + 1e-12
    assert small_calls == first


def test_factor_vae_score_known_answers():
    """Identity -> 1 (the fixed factor's code has variance 0 in its batch); a constant -> 0 with every code
    pruned; duplicated codes -> 1 (the vote goes to the first twin)."""
    good = dis.factor_vae_score(identity, SIZES, 0, n_variance=1000, **SMALL)
    assert (good.eval_accuracy, good.train_accuracy, good.n_active) == (1.0, 1.0, 10)
    assert good.votes.sum() == SMALL["n_train"] and np.count_nonzero(good.votes - np.diag(np.diag(good.votes))) == 0
    bad = dis.factor_vae_score(zeros, SIZES, 0, n_variance=1000, **SMALL)
    assert (bad.eval_accuracy, bad.n_active) == (0.0, 0)
    twice = dis.factor_vae_score(lambda f: np.hstack([identity(f)] * 2), SIZES, 0, n_variance=1000, **SMALL)
    assert twice.eval_accuracy == 1.0 and twice.n_active == 20
    # prune_std=0 keeps every varying code but never a constant one, whose 0/0 ratio took every vote (score 1/K)
    dead = dis.factor_vae_score(lambda f: np.hstack([identity(f), np.zeros((len(f), 1))]), SIZES, 0, prune_std=0.0,
                                n_variance=1000, **SMALL)
    assert (dead.eval_accuracy, dead.n_active) == (1.0, 10) and dead.votes[:, 10].sum() == 0
    for bad in (float("nan"), -1.0, "0.05", None):  # NaN pruned every code: a score of 0 without a word
        with pytest.raises(ValueError, match=r"prune_std must be a finite standard deviation >= 0"):
            dis.factor_vae_score(identity, SIZES, 0, prune_std=bad, n_variance=1000, **SMALL)


def test_factor_vae_score_passes_at_most_rows_per_call_rows_and_scores_the_same():
    """The global variances went to represent in one call of n_variance rows (10,000 rendered images on dSprites)
    whatever rows_per_call asked; the draws do not depend on it, so the score is exactly the same."""
    mixing = np.linalg.qr(np.random.default_rng(6).standard_normal((10, 10)))[0]
    calls = []

    def represent(f):
        calls.append(len(f))
        return f @ mixing

    small = dis.factor_vae_score(represent, SIZES, 0, n_variance=1000, rows_per_call=128, **SMALL)
    assert max(calls) <= 128
    whole = dis.factor_vae_score(lambda f: f @ mixing, SIZES, 0, n_variance=1000, **SMALL)
    assert (small.train_accuracy, small.eval_accuracy, small.n_active) == \
        (whole.train_accuracy, whole.eval_accuracy, whole.n_active)
    np.testing.assert_array_equal(small.votes, whole.votes)


def test_factor_vae_score_prunes_quiet_codes_and_ignores_code_order():
    """Code 0 scaled by 1e-3 (std ~0.003 < 0.05) is pruned: points that fix factor 0 vote for some other code and
    lose to that code's own factor, so the score is 1 - 1/K = 0.9 up to sampling (+-0.05); scaled by 0.035 (std
    0.10) it is kept. Permuting the codes permutes the votes exactly."""
    scale = np.ones(10)
    scale[0] = 1e-3
    pruned = dis.factor_vae_score(lambda f: f * scale, SIZES, 0, n_variance=1000, **SMALL)
    assert pruned.n_active == 9 and abs(pruned.eval_accuracy - 0.9) < 0.05
    assert pruned.votes[:, 0].sum() == 0
    scale[0] = 0.035  # std = 0.035 * std(0..9) = 0.10 >= 0.05: kept (the threshold is on the std, not the variance)
    kept = dis.factor_vae_score(lambda f: f * scale, SIZES, 0, n_variance=1000, **SMALL)
    assert kept.n_active == 10 and kept.eval_accuracy == 1.0
    scale[0] = 1e-3
    perm = np.random.default_rng(8).permutation(10)
    permuted = dis.factor_vae_score(lambda f: (f * scale)[:, perm], SIZES, 0, n_variance=1000, **SMALL)
    np.testing.assert_array_equal(permuted.votes, pruned.votes[:, perm])
    assert permuted.eval_accuracy == pruned.eval_accuracy


def test_sampled_metrics_are_seeded():
    """The same seed (int or Generator) gives the same score; the draws are checked to depend on it."""
    noisy = np.linalg.qr(np.random.default_rng(9).standard_normal((10, 10)))[0]
    a = dis.factor_vae_score(lambda f: f @ noisy, SIZES, 5, n_variance=500, **SMALL)
    b = dis.factor_vae_score(lambda f: f @ noisy, SIZES, np.random.default_rng(5), n_variance=500, **SMALL)
    c = dis.factor_vae_score(lambda f: f @ noisy, SIZES, 6, n_variance=500, **SMALL)
    np.testing.assert_array_equal(a.votes, b.votes)
    assert not np.array_equal(a.votes, c.votes)


# ----------------------------------------------------------------------------- bad input
F = uniform_world(50, 3, 4)
C = identity(F)


@pytest.mark.parametrize("call, message", [
    (lambda: dis.mig_histogram(C[:, 0], F), r"codes must be 2-D"),
    (lambda: dis.mig_histogram(C[:, :1], F), r"L >= 2 codes"),
    (lambda: dis.mig_histogram(np.where(np.arange(50)[:, None] == 3, np.nan, C), F),
     r"codes has NaN or inf in code\(s\) \[0, 1, 2\] at row\(s\) \[3\]"),
    (lambda: dis.mig_histogram(C, F[:40]), r"factors must be 2-D with one row per code row, shape \(50, K >= 1\)"),
    (lambda: dis.mig_histogram(C, F[:, 0]), r"one row per code row"),
    (lambda: dis.mig_histogram(C, F + 0.5), r"integer class indices .*latents_classes"),
    (lambda: dis.mig_histogram(C, np.where(np.arange(50)[:, None] == 0, 1e20, F)), r"huge \(>= 2\^53\) entries"),
    (lambda: dis.mig_histogram(C, np.hstack([F, np.zeros((50, 1), int)])), r"factors \[3\] take a single value"),
    (lambda: dis.mig(C, np.zeros((50, 2)), F), r"mu and logvar shapes differ"),
    (lambda: dis.mig(np.where(np.arange(50)[:, None] == 3, np.nan, C), np.zeros_like(C), F), r"non-finite"),
    (lambda: dis.mig(C, np.zeros_like(C), F, factor_sizes=[4, 4]), r"one size per factor column"),
    (lambda: dis.mig(C, np.zeros_like(C), F, factor_sizes=[4, 4, 3]), r"in \[0, size\)"),
    (lambda: dis.mig(C, np.zeros_like(C), F[:5], method="gaussian"),  # checked before the factors
     r"mig needs a consistent estimate of I; method must be one of \('grid', 'mc', 'quad'\), got 'gaussian'"),
    (lambda: dis.posterior_mi_matrix(C, np.zeros_like(C), F, method="dimwise_kl"),
     r"label_mi needs a consistent estimate of I; method must be one of \('grid', 'mc', 'quad'\)"),
    (lambda: dis.sap(C, F), r"pass codes_test and factors_test"),
    (lambda: dis.sap(C, F, C[:, :2], F), r"the test points must have the training points' columns"),
    (lambda: dis.dci(C, F, C, F[:, :2]), r"the test points must have the training points' columns"),
    (lambda: dis.dci(C, F.astype(float) / 3, C, F), r"integer class indices"),
    (lambda: dis.beta_vae_score(identity, [10, 1]), r"at least 2 values"),
    (lambda: dis.beta_vae_score(identity, [10]), r"which of K >= 2 factors was fixed; factor_sizes \[10\] has 1"),
    (lambda: dis.dci(C, F[:, :1], C, F[:, :1]), r"over K >= 2 factors; factors has 1 column"),
    (lambda: dis.beta_vae_score(identity, [[10, 10]]), r"1-D sequence of integers"),
    (lambda: dis.beta_vae_score(lambda f: f[:, :1].T, [10, 10]), r"one code row per factor row"),
    (lambda: dis.factor_vae_score(lambda f: np.where(f > 5, np.nan, f), [10, 10]), r"represent's codes has NaN"),
    (lambda: dis.factor_vae_score(identity, [10, 10], batch_size=1), r"batch_size must be an integer >= 2"),
    (lambda: dis.factor_vae_score(identity, [10, 10], n_variance=1), r"n_variance must be an integer >= 2"),
    (lambda: dis.beta_vae_score(identity, [10, 10], n_eval=0), r"n_eval must be an integer >= 1 \(evaluation"),
    (lambda: dis.beta_vae_score(identity, [10, 10], n_train=10.0), r"n_train must be an integer >= 1 .*got 10.0"),
    (lambda: dis.beta_vae_score(identity, [10, 10], rows_per_call=0), r"rows_per_call must be an integer >= 1"),
    (lambda: dis.mig_histogram(C, F, n_bins=1), r"n_bins must be an integer >= 2 \(equal-width bins per code\)"),
    (lambda: dis.mig_histogram(C, F, n_bins=20.0), r"n_bins must be an integer >= 2 .*got 20.0"),
])
def test_bad_input_raises_one_clear_error(call, message):
    with pytest.raises(ValueError, match=message):
        call()
