"""beta-TCVAE (vaeinfo.models.objectives.tcvae): the MSS weights, both minibatch estimators of log q(z) against
closed forms and against q(z) computed exactly over a whole (tiny) data set, the loss identity at beta = 1, the
schedule, the registry and bad inputs; every tolerance is stated beside its assert.

Notation: a batch of B examples from a data set of N, one z_i ~ q(z|x_i) each, D latent dimensions; M = B - 1.
"""

from __future__ import annotations

import itertools
import math

import pytest
import torch

from vaeinfo.data.mnist import load_digits
from vaeinfo.models import objectives as obj
from vaeinfo.models.objectives.tcvae import (
    gaussian_log_density,
    iterations_to_epochs,
    log_qz_estimates,
    mss_weights,
    tcvae_terms,
)
from vaeinfo.training.train import batch_slices, train

F64 = torch.float64


def exact_log_q(z: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """log q(z_s) = log (1/N) sum_n N(z_s; mu_n, diag exp(logvar_n)) over ALL N rows of (mu, logvar): shape (S,)."""
    per_row = gaussian_log_density(z[:, None, :], mu[None], logvar[None]).sum(2)
    return torch.logsumexp(per_row, dim=1) - math.log(len(mu))


def reference_code_weights(batch_size: int, dataset_size: int) -> torch.Tensor:
    """The MSS weights as rtqichen/beta-tcvae builds them (vae_quant.py @ 1a3577db): the bug under test."""
    n, m = dataset_size, batch_size - 1
    w = torch.full((batch_size, batch_size), 1 / m, dtype=F64)
    w.view(-1)[::m + 1] = 1 / n  # stride M + 1 = B: a column; the diagonal needs M + 2 = B + 1
    w.view(-1)[1::m + 1] = (n - m) / (n * m)
    w[m - 1, 0] = (n - m) / (n * m)
    return w


def tiny_posteriors(n: int, d: int, seed: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(mu, logvar, z), each (n, d) float64: clustered means, sigma in [0.2, 0.7], one fixed z_n ~ q(z|x_n) per row."""
    g = torch.Generator().manual_seed(seed)
    centres = 2.0 * torch.randn(4, d, generator=g, dtype=F64)
    mu = centres[torch.randint(0, 4, (n,), generator=g)] + 0.3 * torch.randn(n, d, generator=g, dtype=F64)
    logvar = 2 * torch.log(0.2 + 0.5 * torch.rand(n, d, generator=g, dtype=F64))
    z = mu + torch.exp(0.5 * logvar) * torch.randn(n, d, generator=g, dtype=F64)
    return mu, logvar, z


# --- the weight matrix ------------------------------------------------------------------------------------------


def test_mss_weights_have_the_stated_entries_and_rows_summing_to_one():
    # B = 4, N = 10, M = 3: diagonal 1/10, the stratum entry (i, i+1 mod 4) (10 - 3) / 30 = 7/30, the rest 1/3.
    a, s, o = 1 / 10, 7 / 30, 1 / 3
    expected = torch.tensor([[a, s, o, o], [o, a, s, o], [o, o, a, s], [s, o, o, a]], dtype=F64)
    torch.testing.assert_close(mss_weights(4, 10), expected, rtol=0, atol=1e-15)
    for b, n in [(2, 2), (2, 50), (5, 5), (64, 1000), (257, 60_000)]:
        w = mss_weights(b, n)
        torch.testing.assert_close(w.sum(1), torch.ones(b, dtype=F64), rtol=0, atol=1e-12)  # rows sum to 1
        torch.testing.assert_close(w.diagonal(), torch.full((b,), 1 / n, dtype=F64), rtol=0, atol=1e-18)
    torch.testing.assert_close(mss_weights(2, 50), torch.tensor([[0.02, 0.98], [0.98, 0.02]], dtype=F64))
    assert mss_weights(3, 9, dtype=torch.float32).dtype == torch.float32


def test_the_reference_code_weights_put_one_pattern_on_every_row():
    # The reference's w.view(-1)[::M+1] steps by B through the flattened matrix: column 0 gets 1/N and column 1
    # the stratum weight in every row (then w[M-1, 0] the stratum weight too, so row M-1 sums to more than 1), and
    # example i's own posterior is weighted 1/M (B = 5, N = 10: 1/4, not 1/10) from row 2 on.
    buggy = reference_code_weights(5, 10)
    torch.testing.assert_close(buggy[[0, 1, 2, 4], 0], torch.full((4,), 0.1, dtype=F64), rtol=0, atol=1e-15)
    assert abs(buggy[3].sum().item() - 1.05) <= 1e-12  # (10 - 4) / 40 - 1/10 = 0.05 too much
    torch.testing.assert_close(buggy.diagonal()[2:], torch.full((3,), 0.25, dtype=F64), rtol=0, atol=1e-15)
    assert (buggy - mss_weights(5, 10)).abs().max() > 0.1


# --- identical standard-normal posteriors: the true TC is 0 ----------------------------------------------------


@pytest.mark.parametrize("dtype, tol", [(torch.float64, 1e-12), (torch.float32, 2e-5)])
def test_identical_standard_normal_posteriors(dtype, tol):
    """Every example has q(z|x_j) = N(0, I), so q(z) = N(0, I) = prod_d q(z_d): log q(z) = log phi(z), TC = 0.

    Then l_ijd = log phi(z_id) for every j, and

    - MSS: log q^(z_i) = logsumexp_j [log W_ij + log phi(z_i)] = log phi(z_i) + log sum_j W_ij = log phi(z_i)
      (rows sum to 1), and likewise per dimension: exact, TC = 0.
    - MWS: log q^(z_i) = log(B phi(z_i)) - log(N B) = log phi(z_i) - log N, and per dimension
      log phi(z_id) - log N, so log prod_d q^(z_id) = log phi(z_i) - D log N and TC^ = (D - 1) log N exactly.

    Tolerances: 1e-12 nats in float64 (rounding of a logsumexp of B terms), 2e-5 in float32 (values of ~10 nats).
    """
    b, d, n = 64, 5, 1000
    z = torch.randn(b, d, generator=torch.Generator().manual_seed(0), dtype=F64).to(dtype)
    zeros = torch.zeros(b, d, dtype=dtype)
    log_phi = gaussian_log_density(z, zeros, zeros).sum(1).double()
    log_qz, log_prod = (v.double() for v in log_qz_estimates(z, zeros, zeros, n, method="mss"))
    torch.testing.assert_close(log_qz, log_phi, rtol=0, atol=tol)
    torch.testing.assert_close(log_prod, log_phi, rtol=0, atol=tol)
    assert (log_qz - log_prod).abs().max().item() <= tol  # MSS TC = 0: float64 well inside the 1e-6
    log_qz, log_prod = (v.double() for v in log_qz_estimates(z, zeros, zeros, n, method="mws"))
    torch.testing.assert_close(log_qz, log_phi - math.log(n), rtol=0, atol=tol)
    torch.testing.assert_close(log_prod, log_phi - d * math.log(n), rtol=0, atol=tol)
    torch.testing.assert_close(log_qz - log_prod, torch.full((b,), (d - 1) * math.log(n), dtype=F64), rtol=0,
                               atol=tol)  # MWS's bias: (D - 1) log N = 27.63 nats


# --- a tiny data set whose q(z) is exact over all N points ------------------------------------------------------


def mean_over_every_minibatch(log_estimate, n: int, b: int) -> torch.Tensor:
    """(n,): for each example, the mean of exp(log_estimate(idx))[row] over every ordered minibatch idx of b of the
    n examples (all n!/(n-b)! of them) and every row that is that example."""
    batches = torch.tensor(list(itertools.permutations(range(n), b)))
    sums = torch.zeros(n, dtype=F64)
    for idx in batches:
        sums.index_add_(0, idx, log_estimate(idx).exp())
    return sums / (len(batches) * b / n)  # each example is a row of len * B / N batches


def test_every_minibatch_of_a_tiny_data_set_mss_is_unbiased_mws_is_not():
    """N = 6 examples, B = 4: all 6*5*4*3 = 360 ordered minibatches, each row an estimate for its own example.

    Averaged over every minibatch that holds example n (in each position), the MSS density estimate
    exp(log q^(z_n)) equals q(z_n) computed over all N (exact to 1e-12 relative), jointly and per dimension (each
    dimension alone is a 1-D model): E sum_j W_ij q(z|x_j) = q(z)/N + [(N-M)/(NM) + (M-1)/M] sum_{m != n} q(z|x_m)
    / (N-1) = q(z). MWS averages to q(z|x_n)/(NB) + (B-1)/(NB(N-1)) sum_{m != n} q(z|x_m) (same tolerance), far
    below q(z): its ratio to q(z) stays below 1/B + 1/N here. The reference code's weights (column 0 gets 1/N)
    average to more than q(z): 1.35-1.5 times it on this data set (asserted > 1.2 for every example).
    """
    n, d, b = 6, 2, 4
    mu, logvar, z = tiny_posteriors(n, d, seed=3)
    for dims in ([0, 1], [0], [1]):
        m_, lv, zz = mu[:, dims], logvar[:, dims], z[:, dims]
        exact = exact_log_q(zz, m_, lv).exp()
        mean = {method: mean_over_every_minibatch(
            lambda idx, method=method: log_qz_estimates(zz[idx], m_[idx], lv[idx], n, method)[0], n, b)
            for method in ("mss", "mws")}
        torch.testing.assert_close(mean["mss"], exact, rtol=1e-12, atol=0)
        own = gaussian_log_density(zz, m_, lv).sum(1).exp()  # q(z_n | x_n)
        mws_expected = own / (n * b) + (b - 1) / (n * b * (n - 1)) * (n * exact - own)
        torch.testing.assert_close(mean["mws"], mws_expected, rtol=1e-12, atol=0)
        assert torch.all(mean["mws"] / exact < 1 / b + 1 / n)
    log_w = reference_code_weights(b, n).log()
    buggy = mean_over_every_minibatch(lambda idx: torch.logsumexp(
        log_w + gaussian_log_density(z[idx][:, None], mu[idx][None], logvar[idx][None]).sum(2), dim=1), n, b)
    assert torch.all(buggy / exact_log_q(z, mu, logvar).exp() > 1.2)


def test_random_minibatches_mss_agrees_with_the_exact_q_mws_shows_its_bias():
    """N = 200 examples (4 clusters, D = 3), B = 32, 400 random minibatches (without replacement, random order).

    - Density: the mean of q^(z_i) / q(z_i) (q exact over all N) is 1 for MSS within 4 standard errors of the
      batch means; for MWS it is below 0.05 (here ~0.007: q(z_i|x_i) / (N B) and (B-1)/(N-1) of the rest).
    - Log scale: the mean TC estimate of MSS is within 0.1 nats of the exact TC (mean over all N points of
      log q(z_n) - sum_d log q(z_nd)); its gap is Jensen's, E log q^ < log E q^ (measured ~0.04 nats here, not
      a Monte-Carlo error: 400 batches give a standard error of ~0.007). MWS's is over 5 nats too high.
    """
    n, d, b, repeats = 200, 3, 32, 400
    mu, logvar, z = tiny_posteriors(n, d, seed=1)
    log_q = exact_log_q(z, mu, logvar)
    log_prod = sum(exact_log_q(z[:, [k]], mu[:, [k]], logvar[:, [k]]) for k in range(d))
    exact_tc = (log_q - log_prod).mean().item()
    g = torch.Generator().manual_seed(2)
    for method in ("mss", "mws"):
        ratios, tcs = [], []
        for _ in range(repeats):
            idx = torch.randperm(n, generator=g)[:b]
            est_q, est_prod = log_qz_estimates(z[idx], mu[idx], logvar[idx], n, method)
            ratios.append((est_q - log_q[idx]).exp().mean())
            tcs.append((est_q - est_prod).mean())
        ratios, tc = torch.stack(ratios), torch.stack(tcs).mean().item()
        ratio, se = ratios.mean().item(), ratios.std().item() / math.sqrt(repeats)
        if method == "mss":
            assert abs(ratio - 1) <= 4 * se and se < 0.02, (ratio, se)
            assert abs(tc - exact_tc) <= 0.1, (tc, exact_tc)
        else:
            assert ratio < 0.05, ratio
            assert tc > exact_tc + 5, (tc, exact_tc)


# --- the loss ---------------------------------------------------------------------------------------------------


def test_beta_one_gives_the_elbo_exactly_in_its_single_sample_form():
    """MI + TC + marginal KL telescope to log q(z|x) - log p(z) whatever the estimator of q(z), so with beta = 1
    ``loss`` = recon + mean[log q(z|x) - log p(z)] (1e-12 nats, float64), and for any beta
    loss(beta) = loss(1) + (beta - 1) TC^. Over 20,000 draws of z the single-sample KL averages to the analytic KL
    of the beta-VAE loss with beta = 1: within 5 standard errors.
    """
    g = torch.Generator().manual_seed(4)
    mu, logvar = torch.randn(16, 3, generator=g, dtype=F64), torch.randn(16, 3, generator=g, dtype=F64) - 1
    log_lik = -torch.rand(16, generator=g, dtype=F64) * 50
    vae = obj.beta_vae_terms(log_lik, mu, logvar, beta=1.0)
    for method in ("mss", "mws"):
        z = mu + torch.exp(0.5 * logvar) * torch.randn(16, 3, generator=g, dtype=F64)
        one = tcvae_terms(log_lik, mu, logvar, z, 500, beta=1.0, estimator=method)
        single = (gaussian_log_density(z, mu, logvar) - gaussian_log_density(z, 0 * z, 0 * z)).sum(1).mean()
        assert abs(one["loss"].item() - (vae["recon"] + single).item()) <= 1e-12
        assert abs((one["index_code_mi"] + one["total_correlation"] + one["marginal_kl"] - single).item()) <= 1e-12
        for key in ("recon", "kl", "neg_elbo"):
            assert one[key].item() == vae[key].item()
        six = tcvae_terms(log_lik, mu, logvar, z, 500, beta=6.0, estimator=method)
        assert abs(six["loss"].item() - one["loss"].item() - 5 * one["total_correlation"].item()) <= 1e-12
    eps = torch.randn(20_000, 16, 3, generator=g, dtype=F64)
    z = mu + torch.exp(0.5 * logvar) * eps
    draws = (gaussian_log_density(z, mu, logvar) - gaussian_log_density(z, 0 * z, 0 * z)).sum(2).mean(1)
    se = draws.std().item() / math.sqrt(len(draws))
    assert abs(draws.mean().item() - vae["kl"].item()) <= 5 * se


def test_the_loss_has_gradients_for_encoder_outputs():
    # Finite, non-zero gradients reach mu and logvar through the reparameterised z and the estimators (both).
    for method in ("mss", "mws"):
        mu = torch.tensor([[0.5, -1.0], [0.0, 0.3], [1.2, 0.4]], requires_grad=True)
        logvar = torch.tensor([[-1.0, 0.0], [-0.5, -2.0], [0.1, -0.3]], requires_grad=True)
        z = mu + torch.exp(0.5 * logvar) * torch.tensor([[0.1, -0.2], [1.0, 0.5], [-0.7, 0.0]])
        tcvae_terms(torch.zeros(3), mu, logvar, z, 100, beta=6.0, estimator=method)["loss"].backward()
        for grad in (mu.grad, logvar.grad):
            assert torch.isfinite(grad).all() and grad.abs().sum() > 0


# --- spec, schedule, registry, errors ---------------------------------------------------------------------------


def test_config_schedule_and_registry():
    # beta annealed linearly from 0 over warmup_epochs (Chen et al.), then constant; 7,000 iterations of 2,048 on
    # dSprites (360 steps per epoch) = 19.444 epochs (1e-12).
    cfg = obj.normalize_objective_config({"name": "beta_tcvae", "beta": 6})
    assert cfg == {"name": "beta_tcvae", "beta": 6.0, "warmup_epochs": 0.0, "estimator": "mss"}
    cfg = obj.normalize_objective_config({"name": "beta_tcvae", "beta": 6, "warmup_epochs": 10, "estimator": "mws"})
    assert [obj.schedule_values(cfg, t)["beta"] for t in (0, 2.5, 10, 40)] == [0.0, 1.5, 6.0, 6.0]
    assert obj.logged_terms(cfg) == ("index_code_mi", "total_correlation", "marginal_kl")
    assert abs(iterations_to_epochs(7000, 2048, 737_280) - 7000 / 360) <= 1e-12
    assert iterations_to_epochs(10, 3, 10) == 2.5  # ceil(10 / 3) = 4 steps per epoch
    assert iterations_to_epochs(10, 3, 10, least=2) == 10 / 3  # the 1-image last batch joins the one before
    assert iterations_to_epochs(10, 3, 11, least=2) == 2.5  # a last batch of 2 stays its own step
    for n, size in ((10, 3), (11, 3), (7, 7), (9, 4), (737_280, 2048)):  # the loop's own count of steps
        for least in (1, 2):
            assert iterations_to_epochs(12, size, n, least) == 12 / len(batch_slices(n, size, least))
    mu, logvar = torch.zeros(4, 2), torch.zeros(4, 2)
    batch = obj.Batch(None, None, mu, logvar, torch.ones(4, 2), torch.full((4,), -3.0), None, 100)
    terms = obj.batch_terms(cfg, batch, t=5.0)
    assert terms["beta"] == 3.0
    assert terms["loss"].item() == pytest.approx((terms["recon"] + terms["index_code_mi"] + 3 * terms[
        "total_correlation"] + terms["marginal_kl"]).item(), abs=1e-5)  # float32 rounding


def test_bad_inputs_raise_clear_errors():
    z = torch.zeros(4, 2)
    with pytest.raises(ValueError, match=r"unknown method 'exact'.*\('mss', 'mws'\)"):
        log_qz_estimates(z, z, z, 10, method="exact")
    with pytest.raises(ValueError, match=r"one shape \(B, d\), got \(4, 2\), \(4, 3\)"):
        log_qz_estimates(z, torch.zeros(4, 3), torch.zeros(4, 3), 10)
    with pytest.raises(ValueError, match=r"at least 2 examples \(another example to estimate q\(z\) from\), got 1; "
                                         r"pass a batch of 2 or more examples"):
        log_qz_estimates(z[:1], z[:1], z[:1], 10)
    with pytest.raises(ValueError, match=r"dataset_size N = 3 is smaller than the batch \(4\)"):
        mss_weights(4, 3)
    with pytest.raises(ValueError, match=r"unknown estimator 'mcmc' for the beta_tcvae objective"):
        obj.normalize_objective_config({"name": "beta_tcvae", "estimator": "mcmc"})
    with pytest.raises(ValueError, match=r"beta must be a non-negative number"):
        obj.normalize_objective_config({"name": "beta_tcvae", "beta": -2})


def test_trains_through_the_loop_and_logs_its_terms(tmp_path):
    # A tiny conv VAE on 300 real 8x8 digits, 2 epochs of batches of 50 (MSS): finite losses, the three logged
    # terms in the history for train and validation, and they sum to the single-sample KL, which averages to the
    # analytic one: |MI + TC + marginal KL - kl| below 0.5 nats per example on the 100 validation digits.
    config = {"model": {"architecture": "mnist_conv", "input_shape": [1, 8, 8], "channels": [4, 4], "hidden": [16],
                        "latent_dim": 4},
              "objective": {"name": "beta_tcvae", "beta": 4.0, "warmup_epochs": 1}, "batch_size": 50, "epochs": 2}
    result = train(config, load_digits("train", n=300), load_digits("validation", n=100), cache_dir=tmp_path,
                   progress=False)
    last = result.history[-1]
    for prefix in ("train_", "val_"):
        assert all(math.isfinite(last[prefix + k]) for k in ("loss", "index_code_mi", "total_correlation",
                                                             "marginal_kl"))
    assert [h["beta"] for h in result.history] == [4.0, 4.0]
    parts = last["val_index_code_mi"] + last["val_total_correlation"] + last["val_marginal_kl"]
    assert abs(parts - last["val_kl"]) <= 0.5
