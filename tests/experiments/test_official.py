"""params/official.yaml is the authors' TF2 notebook, setting by setting, built through the package as the MNIST
notebooks build it (VAESettings -> vae_config -> normalize_config -> the training loop's model and Adam):
sigma itself learned from 1.0, a ReLU on the decoder's output, beta = 6, Adam eps 1e-7, a Glorot-uniform probe and
the authors' numbers of factors kept. The paper profile has the same options but the paper's beta = 10."""

from __future__ import annotations

from dataclasses import asdict, fields
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from torch import nn

from vaeinfo.data.mnist import load_digits
from vaeinfo.experiments.mnist import DIGITS_FALLBACK, VAESettings, vae_settings
from vaeinfo.experiments.vae import vae_config
from vaeinfo.info.classify import train_probe
from vaeinfo.info.influence import percent_to_k
from vaeinfo.models.objectives import schedule_values
from vaeinfo.training import train as tr
from vaeinfo.training.config import normalize_config

PARAMS = Path(__file__).resolve().parents[2] / "params"
OFFICIAL = yaml.safe_load((PARAMS / "official.yaml").read_text())
PAPER = yaml.safe_load((PARAMS / "paper.yaml").read_text())


@pytest.fixture(scope="module")
def official():
    """(settings, normalised training config, the training loop's fresh state) of the official profile on MNIST."""
    settings = VAESettings(**{f.name: OFFICIAL[f.name] for f in fields(VAESettings)})
    config = normalize_config(vae_config((1, 28, 28), seed=OFFICIAL["seed"], **asdict(settings)))  # as mnist_experiment
    return settings, config, tr._fresh(config, torch.device("cpu"))


def test_sigma_starts_at_one_and_is_itself_the_trained_parameter(official):
    settings, config, state = official
    model = state.model
    assert config["model"]["sigma_parameterisation"] == "sigma" and config["model"]["init_sigma"] == 1.0
    assert model.sigma.item() == 1.0 and not hasattr(model, "log_sigma")
    assert "sigma" in dict(model.named_parameters()) and "log_sigma" not in dict(model.named_parameters())
    assert any(p is model.sigma for group in state.optimizer.param_groups for p in group["params"])
    x = torch.rand(8, 1, 28, 28, generator=torch.Generator().manual_seed(0))
    mean = model.decode(model.encode(x)[0])
    expected = torch.distributions.Normal(mean, 1.0).log_prob(x).flatten(1).sum(1)  # log N with sigma = 1
    torch.testing.assert_close(model.log_likelihood(x, mean), expected, rtol=1e-5, atol=1e-3)
    terms = tr._batch_terms(model, x, config["objective"], 0.0, state.noise, len(x))  # one step of the loop
    state.optimizer.zero_grad()
    terms["loss"].backward()
    state.optimizer.step()
    assert model.sigma.item() == pytest.approx(1.0 - 1e-3, abs=1e-6)  # Adam's first step: lr * sign(gradient)


def test_decoder_output_is_relu(official):
    _, config, state = official
    decoder = state.model.decoder
    assert config["model"]["output_activation"] == "relu"
    assert isinstance(decoder[-1], nn.ReLU) and isinstance(decoder[-2], nn.ConvTranspose2d)
    assert (decoder[-2].in_channels, decoder[-2].out_channels) == (32, 1)
    with torch.no_grad():
        out = state.model.decode(3 * torch.randn(16, 128, generator=torch.Generator().manual_seed(0)))
    assert out.shape == (16, 1, 28, 28) and out.min() == 0 and (out > 0).any()


def test_beta_is_six_without_warmup(official):
    _, config, _ = official
    assert config["objective"] == {"name": "beta_vae", "beta": 6.0, "warmup_epochs": 0.0}
    assert schedule_values(config["objective"], 0.0) == {"beta": 6.0}


def test_adam_eps_is_keras_and_the_rest_of_the_run(official):
    _, config, state = official
    [group] = state.optimizer.param_groups
    assert isinstance(state.optimizer, torch.optim.Adam)
    assert (group["lr"], group["eps"], group["betas"]) == (1e-3, 1e-7, (0.9, 0.999))
    assert (config["batch_size"], config["epochs"], config["model"]["latent_dim"]) == (100, 100, 128)
    assert OFFICIAL["n_train"] is None and OFFICIAL["n_validation"] is None and OFFICIAL["n_test"] is None


def test_probe_is_glorot_uniform():
    assert OFFICIAL["probe_init"] == "glorot" and OFFICIAL["probe_epochs"] == 20
    x = np.random.default_rng(0).standard_normal((50, 128)).astype(np.float32)
    probe = train_probe(x, np.arange(50) % 10, n_classes=10, epochs=0, init=OFFICIAL["probe_init"],
                        eps=OFFICIAL["adam_eps"], seed=0)
    for layer in (probe[0], probe[2]):
        limit = np.sqrt(6 / (layer.in_features + layer.out_features))
        w = layer.weight.detach().numpy()
        assert np.abs(w).max() <= limit and w.std() == pytest.approx(limit / np.sqrt(3), rel=0.05)
        assert not layer.bias.detach().any()


def test_factors_kept_per_ratio_are_the_authors():
    assert OFFICIAL["percents"] == [100, 50, 10, 7, 5, 4, 3, 2, 1, 0]
    ks = [percent_to_k(r, 128, OFFICIAL["k_rounding"]) for r in OFFICIAL["percents"]]
    assert ks == [128, 64, 13, 9, 7, 6, 4, 3, 2, 0]


def test_paper_profile_differs_only_in_beta():
    options = ("latent_dim", "init_sigma", "sigma_parameterisation", "output_activation", "adam_eps", "epochs",
               "probe_init", "k_rounding", "compare_rankings")
    assert {k: PAPER[k] for k in options} == {k: OFFICIAL[k] for k in options}
    assert (OFFICIAL["beta"], PAPER["beta"]) == (6.0, 10.0)


def test_the_digits_fallback_keeps_its_own_settings_under_the_official_profile(official):
    settings, _, _ = official
    assert vae_settings(load_digits("train", n=4), settings) is DIGITS_FALLBACK
    assert settings.describe() == ("128 factors, β = 6, 100 epochs, initial σ 1, σ learned directly, ReLU output, "
                                   "Adam ε 1e-07")
