"""The MNIST experiment of notebooks 01-04 and 07: the paper's β-VAE on MNIST (or the digits fallback)."""

from __future__ import annotations

from ..data.mnist import load_mnist
from .vae import Experiment, trained_experiment, vae_config


def mnist_experiment(*, data_dir=None, download: bool = False, allow_fallback: bool = True,
                     n_train: int | None = None, n_validation: int | None = None, latent_dim: int = 128,
                     beta: float = 10.0, epochs: int = 100, init_sigma: float = 0.1, seed: int = 0,
                     cache_dir=None) -> Experiment:
    """Load MNIST (paper split), train or reuse the β-VAE, encode the validation images, estimate per-factor MI."""
    data = load_mnist("train", data_dir, n=n_train, download=download, allow_fallback=allow_fallback)
    validation = load_mnist("validation", data_dir, n=n_validation, download=download, allow_fallback=allow_fallback)
    config = vae_config(tuple(data.images.shape[1:]), latent_dim=latent_dim, beta=beta, epochs=epochs, seed=seed,
                        init_sigma=init_sigma)
    return trained_experiment(data, validation, config, cache_dir)
