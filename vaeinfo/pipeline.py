"""The MNIST experiment that notebooks 01-04 share: data, one trained β-VAE, and its encodings.

Every MNIST notebook calls :func:`mnist_experiment` with the profile's parameters; the training cache
(:mod:`vaeinfo.train`) makes the first notebook train and the others reuse the same model.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .data import ImageData, load_mnist
from .mi import factor_mi
from .train import TrainResult, encode, train


@dataclass
class MnistExperiment:
    """A trained VAE with its data and validation encodings.

    Attributes
    ----------
    train_data, validation : the images used (MNIST, or the digits fallback).
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
    """Training config of the paper's MNIST β-VAE (``mlp`` for the 8x8 digits fallback)."""
    architecture = "mnist_conv" if tuple(image_shape[-2:]) == (28, 28) else "mlp"
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
                     cache_dir=None) -> MnistExperiment:
    """Load MNIST (paper split), train or reuse the β-VAE, encode the validation images, estimate per-factor MI."""
    data = load_mnist("train", data_dir, n=n_train, download=download, allow_fallback=allow_fallback)
    validation = load_mnist("validation", data_dir, n=n_validation, download=download, allow_fallback=allow_fallback)
    config = vae_config(tuple(data.images.shape[1:]), latent_dim=latent_dim, beta=beta, epochs=epochs, seed=seed,
                        init_sigma=init_sigma)
    run = train(config, data, validation, cache_dir=cache_dir)
    mu, logvar = encode(run.model, validation)
    return MnistExperiment(data, validation, run, mu, logvar, factor_mi(mu, logvar))
