"""The MNIST experiment of notebooks 01-04 and 07: the paper's β-VAE on MNIST (or the digits fallback).

On MNIST the β-VAE trains with the profile's settings. On the offline fallback (scikit-learn's 8x8 digits,
:func:`vaeinfo.data.mnist.load_digits`) it trains with :data:`DIGITS_FALLBACK` instead, whatever the profile says
(the σ parameterisation, output activation and Adam ε included), and one line on stderr says so;
``MnistExperiment.settings`` holds the settings used.
"""

from __future__ import annotations

import sys
from dataclasses import asdict, dataclass

from ..data import ImageData
from ..data.mnist import load_mnist
from .vae import Experiment, trained_experiment, vae_config


@dataclass(frozen=True)
class VAESettings:
    """The β-VAE settings a profile chooses for the MNIST experiment.

    Attributes
    ----------
    latent_dim : number of latent factors d.
    beta : weight of the KL term of the β-VAE objective.
    epochs : passes over the training images (Adam 1e-3, batches of 100).
    init_sigma : initial value of the Gaussian decoder's learned scalar σ (pixel values in [0, 1]).
    sigma_parameterisation : ``"log_sigma"`` (log σ is learned) or ``"sigma"`` (σ itself, the authors' notebook).
    output_activation : the decoder's last activation, ``"linear"`` or ``"relu"`` (the authors' notebook).
    adam_eps : Adam's ε (torch's 1e-8, or Keras' 1e-7 of the authors' notebook).
    precision : the training step's arithmetic, ``"fp32"`` or ``"bf16"`` (mixed; :mod:`vaeinfo.training.config`).
    """

    latent_dim: int
    beta: float
    epochs: int
    init_sigma: float
    sigma_parameterisation: str = "log_sigma"
    output_activation: str = "linear"
    adam_eps: float = 1e-8
    precision: str = "fp32"

    def describe(self) -> str:
        """E.g. ``"32 factors, β = 4, 100 epochs, initial σ 0.1"``; options other than the defaults are appended,
        e.g. ``"..., initial σ 1, σ learned directly, ReLU output, Adam ε 1e-07"``."""
        options = []
        if self.sigma_parameterisation == "sigma":
            options.append("σ learned directly")
        if self.output_activation == "relu":
            options.append("ReLU output")
        if self.adam_eps != 1e-8:
            options.append(f"Adam ε {self.adam_eps:g}")
        if self.precision != "fp32":
            options.append(f"{self.precision} mixed precision")
        return ", ".join([f"{self.latent_dim} factors, β = {self.beta:g}, {self.epochs} epochs, "
                          f"initial σ {self.init_sigma:g}", *options])


# The 8x8 digits fallback's own settings. With MNIST's (128 factors, β = 10; 5 epochs in the quick profile) every
# factor collapses on the digits (0 of 128 with I >= 0.5 nats, max 0.01): 1,197 images give only 12 Adam steps per
# epoch (60 in 5 epochs, against 2,500 on MNIST), and an image of 64 pixels instead of 784 has a reconstruction
# term about 12 times smaller to pay for the KL cost of the information a factor carries. Hence 32 factors (half
# the pixel count, room enough for most of them to collapse); β = 4, lowered with the reconstruction term (measured
# on 32 factors and 100 epochs: β = 1 keeps half of them active, β = 10 leaves 3 barely above 0.5 nats); 60 epochs
# (720 steps, about 5 s on 2 CPU cores): the pulse has formed, and longer training only pushes the collapsed
# factors from about 0.02 nats further towards 0; σ as on MNIST. Seeds 0-2: 7-8 of 32 factors with I >= 0.5 nats
# (0.5-1.2 nats each), the next one at most 0.33 nats, the median 0.02-0.03 nats.
DIGITS_FALLBACK = VAESettings(latent_dim=32, beta=4.0, epochs=60, init_sigma=0.1)


@dataclass
class MnistExperiment(Experiment):
    """An :class:`~vaeinfo.experiments.vae.Experiment` with the settings its β-VAE was trained with."""

    settings: VAESettings


def vae_settings(data: ImageData, profile: VAESettings) -> VAESettings:
    """The settings to train on ``data`` with: :data:`DIGITS_FALLBACK` for the digits fallback, else ``profile``."""
    return DIGITS_FALLBACK if data.source.fallback else profile


def mnist_experiment(*, data_dir=None, download: bool = False, allow_fallback: bool = True,
                     n_train: int | None = None, n_validation: int | None = None, latent_dim: int = 128,
                     beta: float = 10.0, epochs: int = 100, init_sigma: float = 0.1,
                     sigma_parameterisation: str = "log_sigma", output_activation: str = "linear",
                     adam_eps: float = 1e-8, precision: str = "fp32", seed: int = 0,
                     cache_dir=None) -> MnistExperiment:
    """Load MNIST (paper split), train or reuse the β-VAE, encode the validation images, estimate per-factor MI.

    ``latent_dim``, ``beta``, ``epochs``, ``init_sigma``, ``sigma_parameterisation``, ``output_activation``,
    ``adam_eps`` and ``precision`` are the profile's settings (:class:`VAESettings`); on the digits fallback
    :data:`DIGITS_FALLBACK` replaces them (:func:`vae_settings`, announced on stderr). The result's ``settings`` are
    the ones used.
    """
    data = load_mnist("train", data_dir, n=n_train, download=download, allow_fallback=allow_fallback)
    validation = load_mnist("validation", data_dir, n=n_validation, download=download, allow_fallback=allow_fallback)
    profile = VAESettings(latent_dim, beta, epochs, init_sigma, sigma_parameterisation, output_activation, adam_eps,
                          precision)
    settings = vae_settings(data, profile)
    if settings != profile:
        print(f"vaeinfo: the {data.source.name} fallback trains with its own settings ({settings.describe()}) "
              f"instead of the profile's ({profile.describe()})", file=sys.stderr, flush=True)
    config = vae_config(tuple(data.images.shape[1:]), seed=seed, **asdict(settings))
    experiment = trained_experiment(data, validation, config, cache_dir)
    return MnistExperiment(**vars(experiment), settings=settings)

