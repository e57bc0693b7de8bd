"""vaeinfo.models.objectives: analytic KL vs Monte Carlo, the schedules' known values, the losses, the registry."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from vaeinfo.models import objectives as obj


def test_analytic_kl_equals_monte_carlo():
    """KL(N(mu, s^2) || N(0, 1)) per factor vs the mean of log q(z) - log p(z) over 400,000 seeded samples.

    Tolerance: 5 Monte-Carlo standard errors per factor (all below 0.01 nats here) -- about a 1e-6 false-alarm rate.
    """
    mu = torch.tensor([[0.0, 1.5, -0.7, 0.2, 3.0]], dtype=torch.float64)
    logvar = torch.tensor([[0.0, math.log(0.3), math.log(2.5), math.log(0.01), 0.4]], dtype=torch.float64)
    n = 400_000
    eps = torch.randn(n, 5, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    z = mu + eps * torch.exp(0.5 * logvar)
    q = torch.distributions.Normal(mu, torch.exp(0.5 * logvar))
    log_ratio = q.log_prob(z) - torch.distributions.Normal(0.0, 1.0).log_prob(z)
    mc, se = log_ratio.mean(0), log_ratio.std(0) / math.sqrt(n)
    analytic = obj.kl_per_factor(mu, logvar)[0]
    assert analytic.shape == (5,)
    assert analytic[0] == 0  # N(0, 1) against itself
    assert torch.all(se < 0.01)
    assert torch.all((analytic - mc).abs() <= 5 * se + 1e-12), (analytic, mc, se)
    torch.testing.assert_close(analytic, torch.distributions.kl_divergence(q, torch.distributions.Normal(0.0, 1.0))[0])


def test_elbo_terms_are_batch_means_in_nats():
    log_lik = torch.tensor([-10.0, -20.0])
    mu = torch.tensor([[1.0, 0.0], [0.0, 2.0]])  # KL per example and factor: [[0.5, 0], [0, 2]]
    logvar = torch.zeros(2, 2)
    terms = obj.elbo_terms(log_lik, mu, logvar)
    assert terms["recon"].item() == 15.0
    torch.testing.assert_close(terms["kl_per_factor"], torch.tensor([0.25, 1.0]))
    assert terms["kl"].item() == 1.25 and terms["neg_elbo"].item() == 16.25


def test_beta_vae_and_capacity_losses():
    log_lik = torch.tensor([-10.0, -20.0])
    mu, logvar = torch.tensor([[1.0, 0.0], [0.0, 2.0]]), torch.zeros(2, 2)  # recon 15, kl 1.25
    terms = obj.beta_vae_terms(log_lik, mu, logvar, beta=4.0)
    assert terms["loss"].item() == 15.0 + 4.0 * 1.25 and terms["beta"] == 4.0
    cap = obj.capacity_terms(log_lik, mu, logvar, gamma=10.0, capacity=3.0)
    assert cap["loss"].item() == 15.0 + 10.0 * abs(1.25 - 3.0)
    assert (cap["gamma"], cap["capacity"]) == (10.0, 3.0)
    assert set(cap) == {"loss", "recon", "kl", "kl_per_factor", "neg_elbo", "gamma", "capacity"}


def test_loss_gradient_flows_to_mu_and_logvar():
    mu = torch.tensor([[1.0, -1.0]], requires_grad=True)
    logvar = torch.tensor([[0.5, -0.5]], requires_grad=True)
    obj.beta_vae_terms(torch.zeros(1), mu, logvar, beta=2.0)["loss"].backward()
    torch.testing.assert_close(mu.grad, 2.0 * mu.detach())  # d/dmu of beta * mu^2 / 2
    torch.testing.assert_close(logvar.grad, 2.0 * 0.5 * (logvar.detach().exp() - 1))


@pytest.mark.parametrize("t, expected", [(0.0, 0.0), (2.5, 1.5), (5.0, 3.0), (10.0, 6.0), (17.0, 6.0), (-1.0, 0.0)])
def test_beta_warmup_schedule(t, expected):
    assert obj.beta_schedule(t, beta=6.0, warmup_epochs=10.0) == pytest.approx(expected, abs=1e-15)


def test_no_warmup_is_constant_beta():
    assert [obj.beta_schedule(t, 6.0, 0.0) for t in (0.0, 0.5, 100.0)] == [6.0, 6.0, 6.0]


@pytest.mark.parametrize("t, expected", [(0.0, 0.0), (10.0, 5.0), (25.0, 12.5), (50.0, 25.0), (80.0, 25.0)])
def test_capacity_schedule(t, expected):
    assert obj.capacity_schedule(t, capacity_max=25.0, capacity_epochs=50.0) == pytest.approx(expected, abs=1e-15)


def batch_of(log_lik: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor) -> obj.Batch:
    """A Batch holding only what the ELBO objectives read (no model, images or noise)."""
    return obj.Batch(None, None, mu, logvar, mu, log_lik, None, 1000)


def test_batch_terms_apply_the_schedules():
    log_lik = torch.tensor([-10.0, -20.0])
    mu, logvar = torch.tensor([[1.0, 0.0], [0.0, 2.0]]), torch.zeros(2, 2)  # recon 15, kl 1.25
    beta_cfg = obj.normalize_objective_config({"name": "beta_vae", "beta": 4.0, "warmup_epochs": 10})
    terms = obj.batch_terms(beta_cfg, batch_of(log_lik, mu, logvar), t=2.5)
    assert terms["beta"] == 1.0 and terms["loss"].item() == 15.0 + 1.25
    cap_cfg = obj.normalize_objective_config({"name": "capacity", "gamma": 100, "capacity_epochs": 20})
    assert cap_cfg == {"name": "capacity", "gamma": 100.0, "capacity_max": 25.0, "capacity_epochs": 20.0}
    terms = obj.batch_terms(cap_cfg, batch_of(log_lik, mu, logvar), t=4.0)
    assert terms["capacity"] == 5.0 and terms["loss"].item() == pytest.approx(15.0 + 100.0 * 3.75)
    assert obj.schedule_values(cap_cfg, 40.0) == {"gamma": 100.0, "capacity": 25.0}
    assert obj.logged_terms(beta_cfg) == obj.logged_terms(cap_cfg) == ()


def test_an_objective_missing_a_required_term_is_an_error(monkeypatch):
    broken = obj.Objective("broken", {}, schedule=lambda cfg, t: {}, terms=lambda cfg, values, batch: {"loss": 0},
                           logged=("tc",))
    monkeypatch.setitem(obj.REGISTRY, "broken", broken)
    with pytest.raises(RuntimeError, match=r"the broken objective returned no \['recon', 'kl', 'neg_elbo', "
                                           r"'kl_per_factor', 'tc'\]"):
        obj.batch_terms({"name": "broken"}, batch_of(torch.zeros(1), torch.zeros(1, 1), torch.zeros(1, 1)), 0.0)


def test_objective_config_defaults_and_errors():
    assert obj.normalize_objective_config({}) == {"name": "beta_vae", "beta": 1.0, "warmup_epochs": 0.0}
    with pytest.raises(ValueError, match=r"unknown objective 'tcvae'.*choose one of \('beta_vae', 'capacity', "
                                         r"'beta_tcvae', 'factor_vae', 'mi_regularised'\)"):
        obj.normalize_objective_config({"name": "tcvae"})
    with pytest.raises(ValueError, match=r"unknown key\(s\) \['gamma'\] for the beta_vae objective"):
        obj.normalize_objective_config({"gamma": 3})
    with pytest.raises(ValueError, match=r"capacity objective needs 'capacity_epochs'"):
        obj.normalize_objective_config({"name": "capacity"})
    with pytest.raises(ValueError, match=r"beta must be a non-negative number"):
        obj.normalize_objective_config({"beta": -1})
    with pytest.raises(ValueError, match=r"beta must be a non-negative number, got True"):
        obj.normalize_objective_config({"beta": True})  # was read as 1.0
    with pytest.raises(ValueError, match=r"gamma must be a non-negative number, got np.True_"):
        obj.normalize_objective_config({"name": "factor_vae", "gamma": np.True_})
    with pytest.raises(ValueError, match=r"warmup_epochs must be a non-negative number, got 'soon'"):
        obj.normalize_objective_config({"warmup_epochs": "soon"})
    with pytest.raises(ValueError, match=r"expected log_lik \(n,\) and mu, logvar \(n, d\)"):
        obj.elbo_terms(torch.zeros(3), torch.zeros(2, 4), torch.zeros(2, 4))


@pytest.mark.parametrize("n, size, least, lengths", [
    (10, 4, 1, [4, 4, 2]), (9, 4, 1, [4, 4, 1]), (9, 4, 2, [4, 5]), (8, 4, 2, [4, 4]), (1, 4, 2, [1]),
    (5, 4, 2, [5]), (0, 4, 1, []),
])
def test_a_last_batch_shorter_than_the_objective_allows_joins_the_one_before(n, size, least, lengths):
    from vaeinfo.training.train import batch_slices

    slices = batch_slices(n, size, least)
    assert [s.stop - s.start for s in slices] == lengths
    assert [i for s in slices for i in range(n)[s]] == list(range(n))  # every example once, in order
    assert obj.min_batch({"name": "beta_tcvae"}) == 2 and obj.min_batch({"name": "beta_vae"}) == 1
