"""FactorVAE (vaeinfo.models.objectives.factorvae): the dimension permutation, the terms against closed forms (a
blind discriminator; the total correlation of a correlated Gaussian read off a trained one), and training through
the loop with its discriminator: logged terms, determinism, and a resume that ends bitwise where an uninterrupted
run ends, discriminator included. Every tolerance is stated beside its assert."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from vaeinfo.data.mnist import load_digits
from vaeinfo.models import objectives as obj
from vaeinfo.models.objectives.base import Batch
from vaeinfo.models.objectives.factorvae import discriminator, factor_vae_terms, permute_dims
from vaeinfo.training.checkpoint import CHECKPOINT, read_checkpoint
from vaeinfo.training.train import _seeds, evaluate, train

CONFIG = {"model": {"architecture": "mlp", "input_shape": [1, 8, 8], "latent_dim": 3, "hidden": [32]},
          "objective": {"name": "factor_vae", "gamma": 10.0}, "epochs": 2, "batch_size": 60, "seed": 4}


def batch_of(z: torch.Tensor, net: nn.Module | None, seed: int = 0) -> Batch:
    """A Batch around codes z (n, d) with posteriors N(z, 1) and a log-likelihood of -1 per example."""
    n = len(z)
    return Batch(None, torch.zeros(n, 1), z.clone(), torch.zeros_like(z), z, -torch.ones(n),
                 torch.Generator().manual_seed(seed), n, net)


class Blind(nn.Module):
    """A discriminator that cannot tell anything: logits (0, 0) for every code."""

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return torch.zeros(len(z), 2) + 0.0 * z.sum()


def test_permute_dims_permutes_each_column_independently_and_reproducibly():
    z = torch.arange(40.0).reshape(10, 4)
    a = permute_dims(z, torch.Generator().manual_seed(1))
    for j in range(4):
        assert sorted(a[:, j].tolist()) == z[:, j].tolist()  # every column keeps its values
    assert not torch.equal(a, z)
    assert len({tuple((a[:, j] - j).tolist()) for j in range(4)}) == 4  # four different permutations
    assert torch.equal(a, permute_dims(z, torch.Generator().manual_seed(1)))


def test_a_blind_discriminator_gives_zero_tc_log_2_loss_and_the_elbo():
    z = torch.randn(50, 3, generator=torch.Generator().manual_seed(0))
    terms = factor_vae_terms(batch_of(z, Blind()), gamma=7.0)
    assert terms["tc"].item() == 0.0
    assert terms["discriminator_loss"].item() == pytest.approx(math.log(2), abs=1e-6)
    assert terms["discriminator_accuracy"].item() == 0.5  # ties go to "joint": right on half the 2n codes
    assert torch.equal(terms["loss"], terms["neg_elbo"])
    # the ELBO part is the beta-VAE's at beta = 1: recon 1, KL of N(z, 1) against N(0, 1) = z^2 / 2
    assert terms["recon"].item() == 1.0
    assert terms["kl"].item() == pytest.approx((z.square().sum(1) / 2).mean().item(), rel=1e-6)


def test_gamma_weighs_the_discriminators_tc_and_only_the_critic_loss_reaches_the_critic():
    g = torch.Generator().manual_seed(3)
    net = discriminator(3, g, hidden=16, layers=2)
    z = torch.randn(40, 3, generator=g).requires_grad_()
    terms = factor_vae_terms(batch_of(z, net), gamma=5.0)
    assert terms["loss"].item() == pytest.approx((terms["neg_elbo"] + 5.0 * terms["tc"]).item(), rel=1e-6)
    grad_z, = torch.autograd.grad(terms["discriminator_loss"], z, allow_unused=True, retain_graph=True)
    assert grad_z is None  # the critic's loss reads detached codes: it cannot move the encoder
    assert all(p.grad is None for p in net.parameters())
    terms["discriminator_loss"].backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in net.parameters())


def test_a_trained_discriminator_reads_off_the_tc_of_a_correlated_gaussian():
    # z ~ N(0, [[1, rho], [rho, 1]]): TC = KL(q(z) || q(z1) q(z2)) = -1/2 log(1 - rho^2) = 0.5108 nats at rho 0.8.
    rho, g = 0.8, torch.Generator().manual_seed(5)
    net = discriminator(2, g, hidden=64, layers=2)
    optimiser = torch.optim.Adam(net.parameters(), lr=2e-3)
    mix = torch.tensor([[1.0, rho], [0.0, math.sqrt(1 - rho**2)]])
    for step in range(1500):
        z = torch.randn(512, 2, generator=g) @ mix
        optimiser.zero_grad()
        factor_vae_terms(batch_of(z, net, seed=step), gamma=1.0)["discriminator_loss"].backward()
        optimiser.step()
    with torch.no_grad():
        z = torch.randn(20000, 2, generator=g) @ mix
        terms = factor_vae_terms(batch_of(z, net, seed=9), gamma=1.0)
    assert terms["tc"].item() == pytest.approx(-0.5 * math.log(1 - rho**2), abs=0.06)  # a learned ratio: 0.06 nats
    assert terms["discriminator_accuracy"].item() > 0.6  # correlated codes are told from shuffled ones


def test_evaluating_without_the_discriminator_is_a_clear_error():
    with pytest.raises(ValueError, match=r"factor_vae objective needs its discriminator"):
        factor_vae_terms(batch_of(torch.zeros(4, 2), None), gamma=1.0)


def test_config_defaults_and_registry():
    assert obj.normalize_objective_config({"name": "factor_vae"}) == {"name": "factor_vae", "gamma": 40.0}
    assert obj.logged_terms({"name": "factor_vae"}) == ("tc", "discriminator_loss", "discriminator_accuracy")
    assert obj.min_batch({"name": "factor_vae"}) == 2
    assert obj.auxiliary_spec({"name": "factor_vae"}).loss_term == "discriminator_loss"
    assert obj.auxiliary_spec({"name": "beta_vae"}) is None
    with pytest.raises(ValueError, match="gamma must be a non-negative number"):
        obj.normalize_objective_config({"name": "factor_vae", "gamma": -1})
    net = discriminator(10, torch.Generator().manual_seed(0))
    widths = [m.out_features for m in net if isinstance(m, nn.Linear)]
    assert widths == [1000] * 6 + [2]  # Kim & Mnih's critic
    assert all(m.negative_slope == 0.2 for m in net if isinstance(m, nn.LeakyReLU))


# ----------------------------------------------------------------------------- through the training loop


@pytest.fixture(scope="module")
def digits():
    return load_digits("train", n=300), load_digits("validation", n=100)


def critic_state(path) -> dict:
    return read_checkpoint(path / CHECKPOINT)["auxiliary"]


def test_trains_with_its_discriminator_and_logs_its_terms(digits, tmp_path):
    data, val = digits
    run = train(CONFIG, data, val, cache_dir=tmp_path, progress=False)
    last = run.history[-1]
    for key in ("train_tc", "train_discriminator_loss", "train_discriminator_accuracy", "val_tc",
                "val_discriminator_loss", "gamma"):
        assert math.isfinite(last[key]), key
    assert last["gamma"] == 10.0
    assert last["train_loss"] == pytest.approx(last["train_neg_elbo"] + 10.0 * last["train_tc"], rel=1e-5)
    # the critic trained: its weights left their initial values and its optimiser took 2 epochs of 5 steps
    critic = critic_state(run.path)
    initial = discriminator(3, torch.Generator().manual_seed(_seeds(CONFIG["seed"])["auxiliary"])).state_dict()
    assert any(not torch.equal(critic["model"][k], initial[k]) for k in initial)
    assert [s["step"].item() for s in critic["optimizer"]["state"].values()][0] == 10
    assert critic["optimizer"]["param_groups"][0]["lr"] == 1e-4
    assert critic["optimizer"]["param_groups"][0]["betas"] == (0.5, 0.9)
    again = train(CONFIG, data, val, cache_dir=tmp_path / "other", progress=False)  # same seed, fresh cache
    assert all(torch.equal(a, b) for a, b in zip(run.model.state_dict().values(), again.model.state_dict().values()))
    assert all(torch.equal(critic["model"][k], critic_state(again.path)["model"][k]) for k in critic["model"])


def test_a_resumed_run_ends_bitwise_where_an_uninterrupted_one_ends(digits, tmp_path, stopped_in_epoch_2):
    data, val = digits
    whole = train(CONFIG, data, val, cache_dir=tmp_path / "whole", progress=False)
    with stopped_in_epoch_2():
        train(CONFIG, data, val, cache_dir=tmp_path / "resumed", progress=False)
    resumed = train(CONFIG, data, val, cache_dir=tmp_path / "resumed", progress=False)
    assert resumed.epochs_trained == 1
    assert all(torch.equal(a, b) for a, b in zip(whole.model.state_dict().values(),
                                                 resumed.model.state_dict().values()))
    a, b = critic_state(whole.path), critic_state(resumed.path)
    assert all(torch.equal(a["model"][k], b["model"][k]) for k in a["model"])
    timeless = [[{k: v for k, v in r.items() if k != "seconds"} for r in run.history] for run in (whole, resumed)]
    assert timeless[0] == timeless[1]


def test_evaluate_takes_the_discriminator(digits, tmp_path):
    data, val = digits
    run = train(CONFIG, data, val, cache_dir=tmp_path, progress=False)
    net = discriminator(3, torch.Generator().manual_seed(0))
    net.load_state_dict(critic_state(run.path)["model"])
    scores = evaluate(run.model, val, CONFIG["objective"], auxiliary=net, seed=7)
    assert math.isfinite(scores["tc"]) and 0 <= scores["discriminator_accuracy"] <= 1
    with pytest.raises(ValueError, match="pass evaluate\\(..., auxiliary=net\\)"):
        evaluate(run.model, val, CONFIG["objective"])
