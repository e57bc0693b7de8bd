"""What every objective is: a batch of one training step (:class:`Batch`) and an :class:`Objective` spec.

The training loop builds a :class:`Batch` per step (encode, one reparameterised sample of z, decode,
log-likelihood) and hands it to the objective, which returns batch means in nats. An objective that needs more than
the ELBO's ingredients (the model itself to decode prior samples, the data-set size N of a minibatch estimator of
q(z), further noise) finds them in the batch.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import torch

from ...checks import as_number

REQUIRED_TERMS = ("loss", "recon", "kl", "neg_elbo", "kl_per_factor")  # what every objective's terms hold


@dataclass(frozen=True)
class Batch:
    """One training (or evaluation) step's ingredients.

    Attributes
    ----------
    model : the model of the contract being trained (:mod:`vaeinfo.models.contract`); in mixed precision a view
        of it whose ``encode`` and ``decode`` run in bfloat16 and return float32, as the auxiliary network's call
        does (``vaeinfo.training.train._MixedPrecision``): the objective's own arithmetic is FP32 either way.
    x : (n, *input_shape) the batch, pixel values in [0, 1].
    mu, logvar : (n, d) the posterior q(z|x) = N(mu, diag(exp(logvar))).
    z : (n, d) one reparameterised sample of q(z|x) per example.
    log_lik : (n,) log p(x|z) in nats, summed over pixels.
    noise : the generator that drew z; an objective that needs more noise draws it from here, after z.
    dataset_size : N, the number of examples the batch was drawn from (an epoch's size).
    auxiliary : the network an objective trains beside the VAE (:class:`Auxiliary`, e.g. FactorVAE's
        discriminator), or None.
    """

    model: torch.nn.Module
    x: torch.Tensor
    mu: torch.Tensor
    logvar: torch.Tensor
    z: torch.Tensor
    log_lik: torch.Tensor
    noise: torch.Generator
    dataset_size: int
    auxiliary: torch.nn.Module | None = None


@dataclass(frozen=True)
class Auxiliary:
    """A network that an objective trains beside the VAE, e.g. FactorVAE's discriminator.

    The training loop builds it once per run (its initial weights from a seed of their own), steps its own
    optimiser after every VAE step on the objective's term ``loss_term`` (a logged term whose graph reaches only the
    auxiliary network's parameters), and keeps both in the checkpoint, so that a resumed run continues exactly.

    Attributes
    ----------
    build : (normalised config, latent dimension d, torch.Generator) -> the network (a torch.nn.Module).
    optimizer : (normalised config, its parameters) -> its optimiser.
    loss_term : the name of the term its optimiser minimises.
    """

    build: Callable[[dict, int, torch.Generator], torch.nn.Module]
    optimizer: Callable[[dict, object], torch.optim.Optimizer]
    loss_term: str


@dataclass(frozen=True)
class Objective:
    """An objective's spec: its options, schedules and terms.

    Attributes
    ----------
    name : the config's ``name``.
    defaults : option -> default (``None`` for the ``required`` options). Options whose default is a number, and
        the required ones, are non-negative floats; those in ``choices`` are strings; ``check`` converts any other.
    schedule : (normalised config, progress t in epochs) -> the schedule values at t, e.g. ``{"beta": 4.0}``.
    terms : (normalised config, schedule values, Batch) -> batch means in nats: every key of
        :data:`REQUIRED_TERMS` (``kl_per_factor`` of shape (d,)) plus the schedule values and any ``logged`` terms.
    choices : option -> its allowed string values (the first is the default, which ``defaults`` repeats).
    required : the options a config must give.
    check : (options dict) -> the options with the non-float ones checked and converted; raises ValueError.
    logged : the names of extra scalar terms that the training history records per epoch (``train_<name>``,
        ``val_<name>``), e.g. a total correlation or a mutual-information bound.
    min_batch : the fewest examples a batch may hold (a minibatch estimator of q(z) needs 2); the training config's
        ``batch_size`` and the data must reach it, and the training loop and ``evaluate`` join a shorter last batch
        of an epoch to the one before it.
    auxiliary : a network trained beside the VAE (:class:`Auxiliary`), or None.
    fit_latent : (normalised config, latent dimension d) -> the config with the options that depend on d made
        explicit (mi_regularised's ``c_dims`` None -> the first half), so that one model has one config; raises
        ValueError when the options do not fit a code of d dimensions (e.g. latent indices). None when any d fits.
    """

    name: str
    defaults: dict
    schedule: Callable[[dict, float], dict]
    terms: Callable[[dict, dict, Batch], dict]
    choices: dict = field(default_factory=dict)
    required: tuple[str, ...] = ()
    check: Callable[[dict], dict] | None = None
    logged: tuple[str, ...] = ()
    min_batch: int = 1
    auxiliary: Auxiliary | None = None
    fit_latent: Callable[[dict, int], dict] | None = None

    def normalize(self, config: dict) -> dict:
        """``config`` checked and completed with the defaults; a ValueError names a bad or missing option."""
        unknown = sorted(set(config) - {"name", *self.defaults})
        if unknown:
            raise ValueError(f"unknown key(s) {unknown} for the {self.name} objective; valid keys: "
                             f"{['name', *self.defaults]}")
        cfg = {"name": self.name, **self.defaults, **config}
        for key in self.defaults:
            if key in self.required and cfg[key] is None:
                raise ValueError(f"the {self.name} objective needs {key!r} (e.g. {key}=50)")
            if key in self.choices:
                if cfg[key] not in self.choices[key]:
                    raise ValueError(f"unknown {key} {cfg[key]!r} for the {self.name} objective; choose one of "
                                     f"{self.choices[key]}")
            elif isinstance(self.defaults[key], (int, float)) or key in self.required:
                cfg[key] = checked_number(cfg[key], key)
        return cfg if self.check is None else self.check(cfg)


def checked_number(value, key: str, *, positive: bool = False) -> float:
    """``value`` as a finite float >= 0 (> 0 when ``positive``), else a ValueError naming ``key`` (a bool, e.g.
    ``beta=True``, is not a number here)."""
    number = as_number(value)
    if not (0 < number if positive else 0 <= number) or number == math.inf:
        raise ValueError(f"{key} must be a {'positive' if positive else 'non-negative'} number, got {value!r}")
    return number
