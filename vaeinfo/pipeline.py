"""The experiments the notebooks share: data, one trained β-VAE, and its validation encodings with their MI.

Every MNIST notebook (01-04, 07) calls :func:`mnist_experiment` with the profile's parameters; the training
cache (:mod:`vaeinfo.train`) makes the first notebook train and the others reuse the same model. Notebook 05
does the same on CelebA with :func:`celeba_experiment`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .celeba import load_celeba_train_validation
from .data import ImageData, load_mnist
from .mi import factor_mi
from .train import TrainResult, encode, train


@dataclass
class Experiment:
    """A trained VAE with its data and validation encodings.

    Attributes
    ----------
    train_data, validation : the images used (MNIST or the digits fallback; CelebA with its attributes).
    run : the training result (model, history, cache key, whether it was cached).
    mu, logvar : (n_validation, d) float64 encodings of the validation images.
    mi : (d,) I(X; Z_h) in nats over the validation images (``grid`` estimator).
    """

    train_data: ImageData
    validation: ImageData
    run: TrainResult
    mu: np.ndarray
    logvar: np.ndarray
    mi: np.ndarray


def vae_config(image_shape: tuple[int, ...], *, latent_dim: int, beta: float, epochs: int, seed: int,
               init_sigma: float) -> dict:
    """Training config of a β-VAE with a Gaussian decoder (learned scalar σ), Adam 1e-3, batch 100.

    The architecture follows the image shape: ``mnist_conv`` for 28x28 (the paper's MNIST model), ``conv64``
    for 64x64 (CelebA), ``mlp`` otherwise (the 8x8 digits fallback).
    """
    architecture = {(28, 28): "mnist_conv", (64, 64): "conv64"}.get(tuple(image_shape[-2:]), "mlp")
    return {
        "model": {"architecture": architecture, "input_shape": list(image_shape), "latent_dim": latent_dim,
                  "likelihood": "gaussian", "init_log_sigma": math.log(init_sigma)},
        "objective": {"name": "beta_vae", "beta": beta},
        "optimizer": {"name": "adam", "lr": 1e-3},
        "batch_size": 100,
        "epochs": epochs,
        "seed": seed,
    }


def mnist_experiment(*, data_dir=None, download: bool = False, allow_fallback: bool = True,
                     n_train: int | None = None, n_validation: int | None = None, latent_dim: int = 128,
                     beta: float = 10.0, epochs: int = 100, init_sigma: float = 0.1, seed: int = 0,
                     cache_dir=None) -> Experiment:
    """Load MNIST (paper split), train or reuse the β-VAE, encode the validation images, estimate per-factor MI."""
    data = load_mnist("train", data_dir, n=n_train, download=download, allow_fallback=allow_fallback)
    validation = load_mnist("validation", data_dir, n=n_validation, download=download, allow_fallback=allow_fallback)
    config = vae_config(tuple(data.images.shape[1:]), latent_dim=latent_dim, beta=beta, epochs=epochs, seed=seed,
                        init_sigma=init_sigma)
    return _experiment(data, validation, config, cache_dir)


def celeba_experiment(*, data_dir=None, n_train: int | None = None, n_validation: int | None = None,
                      holdout: float = 0.1, latent_dim: int = 32, beta: float = 40.0, epochs: int = 20,
                      init_sigma: float = 0.1, seed: int = 0, cache_dir=None) -> Experiment:
    """Load CelebA (official train/validation, or a held-out tail of train; see
    :func:`vaeinfo.celeba.load_celeba_train_validation`), train or reuse the β-VAE, encode the validation
    images, estimate per-factor MI. The training images stay uint8 in memory (2 GB for the full release)."""
    data, validation = load_celeba_train_validation(data_dir, n_train=n_train, n_validation=n_validation,
                                                    holdout=holdout, cache_dir=cache_dir, train_uint8=True)
    config = vae_config(tuple(data.images.shape[1:]), latent_dim=latent_dim, beta=beta, epochs=epochs, seed=seed,
                        init_sigma=init_sigma)
    return _experiment(data, validation, config, cache_dir)


def _experiment(data: ImageData, validation: ImageData, config: dict, cache_dir) -> Experiment:
    """Train (or reuse) the VAE of ``config`` on ``data``, then encode ``validation`` and estimate its MI."""
    run = train(config, data, validation, cache_dir=cache_dir)
    mu, logvar = encode(run.model, validation)
    return Experiment(data, validation, run, mu, logvar, factor_mi(mu, logvar))
