"""What the image notebooks share: one β-VAE trained (or reused from the cache) on a data set, with the
encodings of its validation images and their per-factor MI.

Every MNIST notebook (01-04, 07) calls :func:`vaeinfo.experiments.mnist.mnist_experiment` with the profile's
parameters; the training cache (:mod:`vaeinfo.training.checkpoint`) makes the first notebook train and the others
reuse the same model. Notebook 05 does the same on CelebA with :func:`vaeinfo.experiments.celeba.celeba_experiment`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..data import ImageData
from ..info.mi import factor_mi
from ..training.encode import encode
from ..training.train import TrainResult, train


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
               init_sigma: float, sigma_parameterisation: str = "log_sigma", output_activation: str = "linear",
               adam_eps: float = 1e-8, precision: str = "fp32") -> dict:
    """Training config of a β-VAE with a Gaussian decoder (learned scalar σ), Adam 1e-3, batch 100.

    The architecture follows the image shape: ``mnist_conv`` for 28x28 (the paper's MNIST model), ``conv64``
    for 64x64 (CelebA), ``mlp`` otherwise (the 8x8 digits fallback).

    Parameters
    ----------
    init_sigma : initial σ of the decoder (pixel units), whatever the parameterisation.
    sigma_parameterisation : ``"log_sigma"`` (learn log σ, starting at log(init_sigma)) or ``"sigma"`` (learn σ
        itself, as the authors' notebook: ``tf.Variable(1.0)``); see :mod:`vaeinfo.models.architectures`.
    output_activation : the decoder's last activation, ``"linear"`` or ``"relu"`` (the authors' notebook).
    adam_eps : Adam's ε (torch's default 1e-8; Keras' 1e-7 in the authors' notebook).
    precision : the training step's arithmetic, ``"fp32"`` or ``"bf16"`` (mixed; :mod:`vaeinfo.training.config`).
    """
    architecture = {(28, 28): "mnist_conv", (64, 64): "conv64"}.get(tuple(image_shape[-2:]), "mlp")
    if isinstance(init_sigma, bool) or not (isinstance(init_sigma, (int, float)) and math.isfinite(init_sigma)
                                            and init_sigma > 0):
        raise ValueError(f"init_sigma (the decoder's initial σ, pixel units) must be a finite number > 0, got "
                         f"{init_sigma!r}")
    sigma = ({"init_log_sigma": math.log(init_sigma)} if sigma_parameterisation == "log_sigma"
             else {"init_sigma": init_sigma})
    return {
        "model": {"architecture": architecture, "input_shape": list(image_shape), "latent_dim": latent_dim,
                  "likelihood": "gaussian", "sigma_parameterisation": sigma_parameterisation, **sigma,
                  "output_activation": output_activation},
        "objective": {"name": "beta_vae", "beta": beta},
        "optimizer": {"name": "adam", "lr": 1e-3, "eps": adam_eps},
        "batch_size": 100,
        "epochs": epochs,
        "seed": seed,
        "precision": precision,
    }


def trained_experiment(data: ImageData, validation: ImageData, config: dict, cache_dir) -> Experiment:
    """Train (or reuse) the VAE of ``config`` on ``data``, then encode ``validation`` and estimate its MI."""
    run = train(config, data, validation, cache_dir=cache_dir)
    mu, logvar = encode(run.model, validation)
    return Experiment(data, validation, run, mu, logvar, factor_mi(mu, logvar))
