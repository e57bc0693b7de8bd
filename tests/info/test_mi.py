"""Known-answer tests of the per-factor MI estimators (vaeinfo.info.mi, through the vaeinfo.mi compatibility path); every tolerance is stated beside its assert.

Independent reference: ``reference_mi`` integrates -q log q of the exact mixture density with scipy's adaptive
``quad`` on the intervals between the breakpoints mu_i + k sigma_i (|k| <= 14), to ~1e-10 nats.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
import torch
from scipy import integrate
from scipy.stats import norm

from vaeinfo import mi
from vaeinfo.info.mi import grid as grid_module

TOL = 1e-3  # the grid method's default tolerance (nats)


def reference_mi(mu: np.ndarray, sigma: np.ndarray) -> float:
    """I of the 1-D mixture (1/N) sum N(mu_i, sigma_i^2) by adaptive quadrature of -q log q (small N only)."""
    log_norm = -np.log(sigma) - 0.5 * math.log(2 * math.pi) - math.log(len(mu))

    def integrand(x: float) -> float:
        log_terms = log_norm - 0.5 * ((x - mu) / sigma) ** 2
        peak = log_terms.max()
        log_q = peak + math.log(np.exp(log_terms - peak).sum())
        return -math.exp(log_q) * log_q

    breaks = np.unique((mu[:, None] + sigma[:, None] * np.arange(-14, 15)).ravel())
    entropy = sum(integrate.quad(integrand, a, b, epsabs=1e-13, epsrel=1e-11, limit=200)[0]
                  for a, b in zip(breaks[:-1], breaks[1:], strict=True))
    return entropy - np.mean(0.5 * np.log(2 * math.pi * math.e * sigma**2))


def column(values: np.ndarray) -> np.ndarray:
    """(N,) -> (N, 1)."""
    return np.asarray(values, dtype=float)[:, None]


def bimodal(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Two clusters at +-2 with heterogeneous sigma in [0.1, 0.5]: (mu, sigma), each (n,)."""
    rng = np.random.default_rng(seed)
    mu = np.where(np.arange(n) % 2 == 0, -2.0, 2.0) + rng.normal(0, 0.3, n)
    return mu, np.exp(rng.uniform(np.log(0.1), np.log(0.5), n))


def vae_like(n: int, d: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Half collapsed factors (mu ~ 0, sigma ~ 1), half active: multimodal mu, small heterogeneous sigma."""
    rng = np.random.default_rng(seed)
    mu = rng.normal(0, 0.02, (n, d))
    logvar = rng.normal(0, 0.02, (n, d))
    active = np.arange(d) % 2 == 1
    k = active.sum()
    centres = rng.choice([-1.5, 0.0, 1.5], size=(n, k))
    mu[:, active] = centres + rng.normal(0, 0.4, (n, k))
    logvar[:, active] = 2 * np.log(rng.uniform(0.03, 0.4, (n, k)))
    return mu, logvar


# --- known answers ------------------------------------------------------------------------------------------


def test_linear_gaussian_quantile_design_matches_exact_mixture_and_closed_form():
    # mu_i at the N quantiles of N(0, s^2), constant sigma: q(z) -> N(0, s^2 + sigma^2) and
    # I -> 1/2 log(1 + s^2 / sigma^2) with no sampling error, only an O(1/N) discretisation (3.4e-5 at N=20000).
    s, sigma, n = 1.0, 0.3, 20_000
    mu = s * norm.ppf((np.arange(n) + 0.5) / n)
    logvar = np.full(n, 2 * math.log(sigma))
    grid = mi.factor_mi(column(mu), column(logvar))[0]
    exact = mi.factor_mi(column(mu), column(logvar), method="quad")[0]  # exact density, ~1e-9
    assert abs(grid - exact) <= TOL  # the default tolerance
    assert abs(mi.factor_mi(column(mu), column(logvar), tol=1e-6)[0] - exact) <= 1e-6
    assert abs(grid - 0.5 * math.log(1 + s**2 / sigma**2)) <= 1e-4  # O(1/N) design error + grid error


def test_linear_gaussian_random_design_within_sampling_error():
    # mu_i ~ N(0, s^2) i.i.d.: H(q_N) fluctuates to first order as (mean mu^2 - s^2) / (2 V), V = s^2 + sigma^2,
    # with standard deviation s^2 / (V sqrt(2N)) = 0.0046 at N = 20000: allow 5 of them.
    s, sigma, n = 1.0, 0.3, 20_000
    mu = np.random.default_rng(7).normal(0, s, n)
    grid = mi.factor_mi(column(mu), np.full((n, 1), 2 * math.log(sigma)))[0]
    v = s**2 + sigma**2
    assert abs(grid - 0.5 * math.log(v / sigma**2)) <= 5 * s**2 / (v * math.sqrt(2 * n))


def test_collapsed_factor_is_zero():
    # mu = 0, sigma = 1 for every row: q(z_h) = N(0, 1) = every posterior, so I = 0 (grid: within 1e-4).
    mu, logvar = np.zeros((500, 3)), np.zeros((500, 3))
    assert np.all(np.abs(mi.factor_mi(mu, logvar)) <= 1e-4)
    for method in ("gaussian", "dimwise_kl", "kt_lower", "kt_upper"):
        assert np.all(np.abs(mi.factor_mi(mu, logvar, method=method)) <= 1e-12)  # closed forms: exact


@pytest.mark.parametrize("n, spacing, sigma", [(50, 1.0, 1e-2), (1000, 1.0, 1e-3), (300, 1e4, 1e-6)])
def test_separated_narrow_components_give_log_n(n, spacing, sigma):
    # Components many sigma apart: q is N disjoint bumps of mass 1/N, so I = log N (within 1e-4). The second and
    # third cases need more than max_grid points and go through the cluster split.
    mu = spacing * np.random.default_rng(3).permutation(n).astype(float)
    mi_value = mi.factor_mi(column(mu), np.full((n, 1), 2 * math.log(sigma)))[0]
    assert abs(mi_value - math.log(n)) <= 1e-4


def test_bimodal_mixture_matches_independent_quadrature():
    # Reference: scipy adaptive quadrature of -q log q (~1e-10). grid within tol at tol = 1e-3 and 1e-6;
    # the 'quad' method (Gauss-Legendre on the exact density) within 1e-8.
    mu, sigma = bimodal(40, seed=1)
    reference = reference_mi(mu, sigma)
    logvar = 2 * np.log(sigma)
    assert 0.5 < reference < math.log(40)
    assert abs(mi.factor_mi(column(mu), column(logvar))[0] - reference) <= TOL
    assert abs(mi.factor_mi(column(mu), column(logvar), tol=1e-6)[0] - reference) <= 1e-6
    assert abs(mi.factor_mi(column(mu), column(logvar), method="quad")[0] - reference) <= 1e-8


def test_sigma_spanning_four_orders_of_magnitude():
    # sigma log-uniform in [1e-4, 1] within one factor, overlapping components: grid (one grid level per octave)
    # within tol of the independent quadrature, at tol = 1e-3 and 1e-5.
    rng = np.random.default_rng(2)
    mu = rng.normal(0, 1, 40)
    sigma = np.exp(rng.uniform(np.log(1e-4), 0.0, 40))
    sigma[:2] = [1e-4, 1.0]
    reference = reference_mi(mu, sigma)
    logvar = 2 * np.log(sigma)
    assert abs(mi.factor_mi(column(mu), column(logvar))[0] - reference) <= TOL
    assert abs(mi.factor_mi(column(mu), column(logvar), tol=1e-5)[0] - reference) <= 1e-5


@pytest.mark.parametrize("tol", [1e-3, 1e-5])
def test_grid_error_below_tol_on_adversarial_small_mixtures(tol):
    # 2-5 overlapping components with sigma ratios up to 30 are the worst case of the grid's width-mismatch
    # error (a large mixture averages it). Every case within tol of 'quad' (exact density, ~1e-9).
    rng = np.random.default_rng(4)
    mu = rng.uniform(-1, 1, (5, 30)) * rng.choice([0.3, 1.0, 3.0], 30)
    logvar = 2 * np.log(0.3 * np.exp(rng.uniform(0, np.log(30), (5, 30))))
    for k in (2, 3, 5):
        exact = mi.factor_mi(mu[:k], logvar[:k], method="quad")
        assert np.max(np.abs(mi.factor_mi(mu[:k], logvar[:k], tol=tol) - exact)) <= tol


def test_grid_vectorises_over_factors():
    # Factors are independent problems: all at once equals one at a time (to rounding, 1e-12), and the thread
    # count does not change the result (exactly).
    mu, logvar = vae_like(300, 6, seed=5)
    together = mi.factor_mi(mu, logvar)
    alone = [mi.factor_mi(mu[:, [h]], logvar[:, [h]])[0] for h in range(6)]
    np.testing.assert_allclose(together, alone, rtol=0, atol=1e-12)
    np.testing.assert_array_equal(mi.factor_mi(mu, logvar, workers=1), together)


def test_invariance_to_shift_and_row_permutation():
    # I depends on neither the location of q(z_h) nor the order of rows (grid placement moves with the shift,
    # so the results agree to rounding: 1e-9). The paper's 'gaussian' closed form is NOT shift invariant.
    mu, logvar = vae_like(400, 4, seed=6)
    base = mi.factor_mi(mu, logvar)
    perm = np.random.default_rng(0).permutation(400)
    np.testing.assert_allclose(mi.factor_mi(mu + 123.25, logvar), base, rtol=0, atol=1e-9)
    np.testing.assert_allclose(mi.factor_mi(mu[perm], logvar[perm]), base, rtol=0, atol=1e-9)
    assert np.all(mi.factor_mi(mu + 3.0, logvar, method="gaussian") > mi.factor_mi(mu, logvar, method="gaussian"))


# --- bounds -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_bounds_bracket_the_grid_estimate(seed):
    # kt_lower <= I <= min(kt_upper, gaussian, dimwise_kl); N <= max_n so KT bounds use the whole mixture.
    # Slack: the grid's tolerance.
    rng = np.random.default_rng(seed)
    mu, logvar = vae_like(300, 6, seed=10 + seed)
    mu = mu * rng.uniform(0.2, 3, 6) + rng.normal(0, 1, 6)  # rescale and shift each factor
    grid = mi.factor_mi(mu, logvar)
    bounds = {m: mi.factor_mi(mu, logvar, method=m) for m in ("kt_lower", "kt_upper", "gaussian", "dimwise_kl")}
    assert np.all(bounds["kt_lower"] <= grid + TOL)
    for upper in ("kt_upper", "gaussian", "dimwise_kl"):
        assert np.all(grid <= bounds[upper] + TOL), upper
    assert np.all(grid >= -TOL) and np.all(grid <= math.log(300) + TOL)


@pytest.mark.parametrize("mu, var, upper, lower", [
    # Means 0 and 1, unit variances: KL = 1/2 both ways, D_B = 1/8: -log((1 + e^-1/2) / 2), -log((1 + e^-1/8) / 2).
    ((0.0, 1.0), (1.0, 1.0), 0.21907019637983863, 0.06054814524277621),
    # One mean, variances 1 and 4: KL(1||2) = (1/4 - 1 + log 4) / 2, KL(2||1) = (4 - 1 - log 4) / 2 (asymmetric),
    # D_B = 1/2 log(5/2) - 1/4 log 4.
    ((0.0, 0.0), (1.0, 4.0), 0.23532021698855587, 0.05423066159818522),
])
def test_kt_bounds_of_two_components_are_their_closed_forms(mu, var, upper, lower):
    mu, logvar = np.array(mu)[:, None], np.log(np.array(var))[:, None]
    np.testing.assert_allclose(mi.factor_mi(mu, logvar, method="kt_upper"), [upper], rtol=0, atol=1e-14)
    np.testing.assert_allclose(mi.factor_mi(mu, logvar, method="kt_lower"), [lower], rtol=0, atol=1e-14)


def test_kt_upper_on_a_subsample_bounds_the_subsample_only():
    """n < N: 5,000 disjoint components (I = log 5000) on a 2,000-row subsample give log 2000, below I: the
    documented limit of the subsampled 'upper' bound."""
    mu, logvar = np.arange(5000.0)[:, None], np.full((5000, 1), math.log(1e-4))
    np.testing.assert_allclose(mi.factor_mi(mu, logvar, method="kt_upper"), [math.log(2000)], atol=1e-9)
    np.testing.assert_allclose(mi.factor_mi(mu, logvar, method="kt_upper", max_n=5000), [math.log(5000)], atol=1e-9)


def test_gaussian_closed_form_gap_is_the_derived_kl():
    # gaussian - I = KL(q || N(m, V)) + 1/2 log(1 + m^2 / V), m = mean mu, V = aggregate variance, with
    # KL(q || N(m, V)) = 1/2 log(2 pi e V) - H(q). Both sides from the grid's H: agree within tol.
    mu, logvar = vae_like(500, 4, seed=8)
    mu = mu + np.array([0.0, 0.7, -2.0, 0.3])
    grid = mi.factor_mi(mu, logvar)
    entropy = grid + 0.5 * np.mean(np.log(2 * math.pi * math.e) + logvar, axis=0)
    m, v = mu.mean(axis=0), mi.aggregate_variance(mu, logvar)
    gap = 0.5 * np.log(2 * math.pi * math.e * v) - entropy + 0.5 * np.log1p(m**2 / v)
    np.testing.assert_allclose(mi.factor_mi(mu, logvar, method="gaussian") - grid, gap, rtol=0, atol=TOL)


def test_kt_bounds_on_a_subsample_depend_on_the_seed_only_when_subsampling():
    # N > max_n: a seeded subsample (reproducible, seed-dependent); N <= max_n: the full mixture.
    mu, logvar = vae_like(500, 2, seed=9)
    a = mi.factor_mi(mu, logvar, method="kt_lower", max_n=100, seed=0)
    np.testing.assert_array_equal(a, mi.factor_mi(mu, logvar, method="kt_lower", max_n=100, seed=0))
    assert not np.array_equal(a, mi.factor_mi(mu, logvar, method="kt_lower", max_n=100, seed=1))
    np.testing.assert_array_equal(mi.factor_mi(mu, logvar, method="kt_upper", seed=0),
                                  mi.factor_mi(mu, logvar, method="kt_upper", seed=1))


@pytest.mark.parametrize("method", ["kt_lower", "kt_upper"])
@pytest.mark.parametrize("max_n", [0, 1, 2.5, 3.0])
def test_kt_bounds_need_a_subsample_of_at_least_two_rows(method, max_n):
    # max_n = 0 divided by zero; max_n = 1 returned 0 for every factor, also from kt_upper (I = log 2 to 1e-5 here).
    mu, logvar = np.array([[-5.0], [5.0]]), np.zeros((2, 1))
    with pytest.raises(ValueError, match=rf"max_n must be an integer >= 2 .*got {max_n}"):
        mi.factor_mi(mu, logvar, method=method, max_n=max_n)


# --- Monte Carlo ---------------------------------------------------------------------------------------------


def test_grid_and_mc_agree_within_mc_error():
    # Unbiased MC with exact inner log-mean-exp: |grid - mc| <= 4 standard errors + tol (data and MC seeds differ).
    mu, logvar = vae_like(400, 4, seed=11)
    estimate = mi.mc_mi(mu, logvar, n_samples=20_000, seed=123)
    grid = mi.factor_mi(mu, logvar)
    assert np.all(np.abs(grid - estimate.value) <= 4 * estimate.stderr + TOL)
    assert estimate.n_samples == 20_000 and np.all(estimate.stderr < 0.02)


def test_mc_is_deterministic_given_a_seed():
    mu, logvar = vae_like(200, 3, seed=12)
    a = mi.factor_mi(mu, logvar, method="mc", n_samples=500, seed=5)
    np.testing.assert_array_equal(a, mi.factor_mi(mu, logvar, method="mc", n_samples=500, seed=5))
    np.testing.assert_array_equal(a, mi.factor_mi(mu, logvar, method="mc", n_samples=500, seed=5, chunk=1000))
    assert not np.array_equal(a, mi.factor_mi(mu, logvar, method="mc", n_samples=500, seed=6))


# --- decomposition, variance, total correlation ------------------------------------------------------------


def test_kl_decomposition_sums_to_the_dimensionwise_kl():
    # E KL(q(z|x) || N(0,1)) = I + KL(q(z) || N(0,1)): the closed-form E KL equals dimwise_kl (1e-12), the terms
    # sum to it (1e-12), marginal KL >= 0 (up to tol) and for the linear-Gaussian design it is
    # KL(N(0, V) || N(0,1)), V = mean(mu^2) + sigma^2 the design's variance (within 1e-4: q is Gaussian up to
    # the design's O(1/N) discreteness).
    n, s, sigma = 5000, 1.5, 0.4
    mu = np.stack([s * norm.ppf((np.arange(n) + 0.5) / n), np.zeros(n)], axis=1)
    logvar = np.stack([np.full(n, 2 * math.log(sigma)), np.zeros(n)], axis=1)
    parts = mi.kl_decomposition(mu, logvar)
    np.testing.assert_allclose(parts.expected_kl, mi.factor_mi(mu, logvar, method="dimwise_kl"), atol=1e-12)
    np.testing.assert_allclose(parts.mi + parts.marginal_kl, parts.expected_kl, rtol=0, atol=1e-12)
    assert np.all(parts.marginal_kl >= -TOL)
    v = np.mean(mu[:, 0] ** 2) + sigma**2
    assert abs(parts.marginal_kl[0] - 0.5 * (v - 1 - math.log(v))) <= 1e-4
    assert abs(parts.mi[1]) <= 1e-4 and abs(parts.marginal_kl[1]) <= 1e-4
    with pytest.raises(ValueError, match="consistent"):
        mi.kl_decomposition(mu, logvar, method="gaussian")


def test_aggregate_variance():
    # Var q(z_h) = mean(sigma^2) + var(mu) (exact to rounding, 1e-12); collapsed and active factors both ~1.
    mu, logvar = vae_like(300, 4, seed=13)
    expected = np.exp(logvar).mean(axis=0) + mu.var(axis=0)
    np.testing.assert_allclose(mi.aggregate_variance(mu, logvar), expected, rtol=1e-12)


def test_total_correlation_known_answers():
    # (a) A full factorial design (every pair of a 1-D design and a 2nd one) makes q(z) = q(z_1) q(z_2): the
    #     pointwise estimator is identically 0 (1e-10). (b) Duplicated far-apart narrow components: z_1 and
    #     z_2 identify the same row, TC = log N (1e-6). (c) Duplicated linear-Gaussian factors: (z_1, z_2)
    #     jointly Gaussian with correlation rho = s^2 / (s^2 + sigma^2), TC = -1/2 log(1 - rho^2), within
    #     4 standard errors + 0.01 (finite-N design).
    a, b = np.meshgrid(np.linspace(-2, 2, 12), np.linspace(-1, 3, 10), indexing="ij")
    sa, sb = np.meshgrid(np.linspace(0.2, 0.6, 12), np.linspace(0.3, 0.5, 10), indexing="ij")
    tc = mi.total_correlation(np.stack([a.ravel(), b.ravel()], 1),
                              2 * np.log(np.stack([sa.ravel(), sb.ravel()], 1)), n_samples=2000, seed=1)
    assert abs(float(tc.value)) <= 1e-10

    mu = np.repeat(column(np.arange(50) * 10.0), 2, axis=1)
    tc = mi.total_correlation(mu, np.full((50, 2), 2 * math.log(0.01)), n_samples=1000, seed=2)
    assert abs(float(tc.value) - math.log(50)) <= 1e-6

    n, s, sigma = 1000, 1.0, 0.5
    mu = np.repeat(column(s * norm.ppf((np.arange(n) + 0.5) / n)), 2, axis=1)
    tc = mi.total_correlation(mu, np.full((n, 2), 2 * math.log(sigma)), n_samples=4000, seed=3)
    rho = s**2 / (s**2 + sigma**2)
    assert abs(float(tc.value) + 0.5 * math.log(1 - rho**2)) <= 4 * float(tc.stderr) + 0.01


# --- inputs ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype, atol", [(torch.float32, 1e-7), (torch.float64, 0.0), (torch.float16, 1e-3),
                                         (torch.bfloat16, 1e-3)])
def test_torch_and_numpy_inputs_agree(dtype, atol):
    # The same values as a torch tensor (any float dtype) or a numpy array give identical results, and rounding the
    # float64 inputs to the dtype moves the MI by less than atol nats (measured: 4e-10, 0, 6e-5, 9e-5).
    mu, logvar = vae_like(200, 3, seed=14)
    mu_t, logvar_t = torch.tensor(mu, dtype=dtype), torch.tensor(logvar, dtype=dtype)
    expected = mi.factor_mi(mu_t.double().numpy(), logvar_t.double().numpy())
    np.testing.assert_array_equal(mi.factor_mi(mu_t, logvar_t), expected)
    np.testing.assert_allclose(mi.factor_mi(mu_t, logvar_t), mi.factor_mi(mu, logvar), rtol=0, atol=atol)
    if torch.cuda.is_available():
        np.testing.assert_array_equal(mi.factor_mi(mu_t.cuda(), logvar_t.cuda()), expected)


def test_invalid_inputs_raise_clear_errors():
    mu, logvar = np.zeros((10, 4)), np.zeros((10, 4))
    bad = mu.copy()
    bad[3, 1] = np.nan
    bad[7, 1] = np.inf
    with pytest.raises(ValueError, match=r"mu has non-finite.*factor\(s\) \[1\] at row\(s\) \[3, 7\]"):
        mi.factor_mi(bad, logvar)
    with pytest.raises(ValueError, match=r"logvar has non-finite.*factor\(s\) \[1\]"):
        mi.factor_mi(mu, bad)
    with pytest.raises(ValueError, match="shapes differ"):
        mi.factor_mi(mu, logvar[:, :3])
    with pytest.raises(ValueError, match="2-D"):
        mi.factor_mi(mu[:, 0], logvar[:, 0])
    with pytest.raises(ValueError, match="N >= 2"):
        mi.factor_mi(mu[:1], logvar[:1])
    with pytest.raises(ValueError, match=r"unknown method 'kde'.*grid.*mc"):
        mi.factor_mi(mu, logvar, method="kde")
    with pytest.raises(TypeError, match=r"unknown option\(s\) \['n_samples'\]"):
        mi.factor_mi(mu, logvar, method="grid", n_samples=10)
    with pytest.raises(TypeError, match=r"unknown option\(s\) \['tol'\]"):
        mi.factor_mi(mu, logvar, method="gaussian", tol=1e-3)
    with pytest.raises(ValueError, match="tol must be > 0"):
        mi.factor_mi(mu, logvar, tol=0.0)
    with pytest.raises(ValueError, match="max_grid must be a power of two"):
        mi.factor_mi(mu, logvar, max_grid=1000)


def test_a_cluster_too_fine_for_the_grid_is_integrated_by_quadrature():
    # Spikes (sigma = 1e-7) on wide components: one cluster needing ~7e8 > max_grid points. 55 components are within
    # the quadrature budget, so it is integrated exactly (the quad method's value to 1e-9), with no warning.
    mu = column(np.r_[np.zeros(5), np.linspace(-1, 1, 50)])
    logvar = column(np.r_[np.full(5, 2 * math.log(1e-7)), np.zeros(50)])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        value = mi.factor_mi(mu, logvar)
    assert abs(value[0] - mi.factor_mi(mu, logvar, method="quad")[0]) <= 1e-9


def test_sigma_over_five_decades_beyond_max_grid_is_exact_by_quadrature():
    # sigma log-uniform in [1e-5, 3] (30 overlapping components): at tol = 1e-6 the widened grid was ~1e3 tol off;
    # by quadrature it agrees with the independent scipy reference to 1e-8.
    rng = np.random.default_rng(5)
    mu, sigma = rng.normal(0, 1, 30), np.exp(rng.uniform(np.log(1e-5), np.log(3), 30))
    value = mi.factor_mi(column(mu), column(2 * np.log(sigma)), tol=1e-6, max_grid=2**12)[0]
    assert abs(value - reference_mi(mu, sigma)) <= 1e-8


def test_unresolvable_components_beyond_the_quadrature_budget_warn(monkeypatch):
    # The same spikes with the budget below 55^2: the spikes are widened to the grid's resolution with an
    # isolated-spike correction, and a warning says so; the result is degraded but still close to the exact value
    # here (within 2e-3), because the spikes dominate q at that resolution.
    monkeypatch.setattr(grid_module, "_QUAD_BUDGET", 50.0**2)
    mu = column(np.r_[np.zeros(5), np.linspace(-1, 1, 50)])
    logvar = column(np.r_[np.full(5, 2 * math.log(1e-7)), np.zeros(50)])
    with pytest.warns(RuntimeWarning, match="too narrow for max_grid"):
        value = mi.factor_mi(mu, logvar)
    exact = mi.factor_mi(mu, logvar, method="quad")[0]
    assert 1e-9 < abs(value[0] - exact) <= 2e-3


def test_quadrature_takes_the_smallest_clusters_within_the_budget(monkeypatch):
    monkeypatch.setattr(grid_module, "_QUAD_BUDGET", 1500.0)
    too_fine = np.array([True, False, True, True, True])
    counts = np.array([30, 5, 10, 20, 40])
    chosen = grid_module._quadrature_clusters(too_fine, counts)
    # 10^2 + 20^2 + 30^2 = 1400 <= 1500 < 1400 + 40^2; the cluster the grid resolves is never chosen
    assert chosen.tolist() == [True, False, True, True, False]


def test_clusters_by_quadrature_enter_with_their_mass():
    """Three clusters 1000 apart (a resolvable one of 50 components, two too fine: 55 and 30 components with
    sigma = 1e-7 spikes): each quadrature cluster adds m_c (H_c - log m_c), m_c its share of the rows, so the factor
    matches the quad method (to 1e-6; single-cluster tests have m_c = 1 and cannot see the weighting)."""
    mu = column(np.r_[np.linspace(-1, 1, 50), np.full(5, 1000.0), np.linspace(999, 1001, 50),
                      np.full(3, 2000.0), np.linspace(1999, 2001, 27)])
    logvar = column(np.r_[np.full(50, 2 * math.log(0.3)), np.full(5, 2 * math.log(1e-7)), np.zeros(50),
                          np.full(3, 2 * math.log(1e-7)), np.zeros(27)])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        value = mi.factor_mi(mu, logvar)[0]
    assert abs(value - mi.factor_mi(mu, logvar, method="quad")[0]) <= 1e-6


@pytest.mark.parametrize("centre, sigma", [(1.0, 1e-17), (1000.0, 1e-16), (1e5, 1e-13), (1e18, 1.0)])
def test_a_sigma_the_floats_cannot_resolve_at_its_mu_is_refused(centre, sigma):
    """Below one float64 step of |mu| the grid returned values above log N (0.91 > log 2) or an IndexError."""
    mu, logvar = np.array([[0.0], [centre]]), np.full((2, 1), 2 * math.log(sigma))
    for method in ("grid", "quad", "mc"):
        with pytest.raises(ValueError, match=r"sigma below 2\^10 float64 steps of the factor's largest \|mu\|"):
            mi.factor_mi(mu, logvar, method=method)
    resolved = np.full((2, 1), 2 * math.log(2**12 * np.spacing(centre)))  # 4x above the limit: log 2, separated
    assert mi.factor_mi(mu, resolved)[0] == pytest.approx(math.log(2), abs=1e-4)


def test_mc_n_samples_must_be_a_count():
    mu, logvar = np.array([[0.0], [1.0]]), np.zeros((2, 1))
    for bad in (1e3, 1, True):  # 1e3 was "'float' object cannot be interpreted as an integer"
        with pytest.raises(ValueError, match=rf"n_samples must be an integer >= 2 \(samples of z per factor\), "
                                             rf"got {bad}"):
            mi.factor_mi(mu, logvar, method="mc", n_samples=bad)
