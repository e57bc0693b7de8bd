"""The CelebA experiment of notebooks 05 and 07: the β-VAE (β = 40) on 64×64 faces."""

from __future__ import annotations

from ..data.celeba import load_celeba_train_validation
from .vae import Experiment, trained_experiment, vae_config


def celeba_experiment(*, data_dir=None, n_train: int | None = None, n_validation: int | None = None,
                      holdout: float = 0.1, latent_dim: int = 32, beta: float = 40.0, epochs: int = 20,
                      init_sigma: float = 0.1, seed: int = 0, cache_dir=None) -> Experiment:
    """Load CelebA (official train/validation, or a held-out tail of train; see
    :func:`vaeinfo.data.celeba.load_celeba_train_validation`), train or reuse the β-VAE, encode the validation
    images, estimate per-factor MI. The training images stay uint8 in memory (2 GB for the full release)."""
    data, validation = load_celeba_train_validation(data_dir, n_train=n_train, n_validation=n_validation,
                                                    holdout=holdout, cache_dir=cache_dir, train_uint8=True)
    config = vae_config(tuple(data.images.shape[1:]), latent_dim=latent_dim, beta=beta, epochs=epochs, seed=seed,
                        init_sigma=init_sigma)
    return trained_experiment(data, validation, config, cache_dir)
