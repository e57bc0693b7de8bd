"""vaeinfo.experiments.mnist: the digits fallback trains with its own settings and shows the MI pulse; MNIST trains
with the profile's settings; the profile's ks are capped at the latent size."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from vaeinfo.data import DataSource, ImageData
from vaeinfo.data.mnist import load_digits
from vaeinfo.experiments import mnist
from vaeinfo.experiments.mnist import (
    DIGITS_FALLBACK,
    VAESettings,
    mnist_experiment,
    vae_settings,
)
from vaeinfo.experiments.vae import Experiment

QUICK = VAESettings(latent_dim=128, beta=10.0, epochs=5, init_sigma=0.1)  # params/quick.yaml


def _fake_mnist(n: int = 4) -> ImageData:
    """``n`` blank MNIST-shaped images, as load_mnist returns them when MNIST is present."""
    source = DataSource("MNIST", "/nowhere", n, "train", (1, 28, 28), fallback=False)
    return ImageData(torch.zeros(n, 1, 28, 28), torch.zeros(n, dtype=torch.int64), source)


def test_the_profile_settings_on_mnist_and_the_fallback_settings_on_the_digits():
    assert vae_settings(_fake_mnist(), QUICK) is QUICK
    assert vae_settings(load_digits("train", n=4), QUICK) is DIGITS_FALLBACK
    assert DIGITS_FALLBACK.describe() == "32 factors, β = 4, 60 epochs, initial σ 0.1"


def test_the_fallback_shows_the_mi_pulse(tmp_path, capsys):
    """Trained offline with the quick profile's MNIST settings passed, the digits get their own and a pulse."""
    empty = tmp_path / "data"
    empty.mkdir()
    exp = mnist_experiment(data_dir=empty, latent_dim=QUICK.latent_dim, beta=QUICK.beta, epochs=QUICK.epochs,
                           init_sigma=QUICK.init_sigma, seed=0, cache_dir=tmp_path / "cache")
    assert exp.train_data.source.fallback and exp.settings == DIGITS_FALLBACK
    assert exp.mu.shape == (300, DIGITS_FALLBACK.latent_dim) and exp.run.config["epochs"] == DIGITS_FALLBACK.epochs
    assert "the digits fallback trains with its own settings (32 factors" in capsys.readouterr().err
    mi = np.sort(exp.mi)[::-1]
    assert (mi >= 0.5).sum() >= 3, mi.round(2)
    assert mi[2] > 10 * np.median(mi), mi.round(2)  # a few factors carry information, the rest collapse


@pytest.mark.parametrize("fallback", [False, True])
def test_the_authors_options_reach_the_training_config(fallback, monkeypatch):
    """mnist_experiment passes sigma_parameterisation, output_activation and adam_eps on to the β-VAE's config on
    MNIST; the digits fallback trains with its own settings (log sigma, linear output, torch's eps) instead."""
    configs = []

    def no_training(data, validation, config, cache_dir):
        configs.append(config)
        return Experiment(data, validation, None, None, None, None)

    data = load_digits("train", n=4) if fallback else _fake_mnist()
    monkeypatch.setattr(mnist, "load_mnist", lambda split, *args, **kwargs: data)
    monkeypatch.setattr(mnist, "trained_experiment", no_training)
    exp = mnist_experiment(latent_dim=128, beta=6.0, epochs=100, init_sigma=1.0, sigma_parameterisation="sigma",
                           output_activation="relu", adam_eps=1e-7, seed=0)
    [config] = configs
    if fallback:
        assert exp.settings is DIGITS_FALLBACK and config["model"]["sigma_parameterisation"] == "log_sigma"
        assert config["model"]["output_activation"] == "linear" and config["optimizer"]["eps"] == 1e-8
    else:
        assert exp.settings == VAESettings(128, 6.0, 100, 1.0, "sigma", "relu", 1e-7)
        assert {k: config["model"][k] for k in ("sigma_parameterisation", "init_sigma", "output_activation")} == {
            "sigma_parameterisation": "sigma", "init_sigma": 1.0, "output_activation": "relu"}
        assert config["optimizer"]["eps"] == 1e-7 and config["objective"]["beta"] == 6.0 and config["epochs"] == 100

