"""The ELBO and its two classic reweightings: the beta-VAE objective with a linear beta warm-up, and the capacity
objective.

All terms are batch means of per-example quantities in nats:

- ``recon`` = -E_q log p(x|z) (one sample of z per example), ``kl`` = KL(q(z|x) || N(0, I)) (analytic),
  ``kl_per_factor`` (d,) its per-factor parts (their sum is ``kl``), ``neg_elbo`` = recon + kl.
- beta-VAE (Higgins et al. 2017): ``loss`` = recon + beta(t) * kl, with beta(t) rising linearly from 0 to
  beta over ``warmup_epochs`` (constant beta when 0).
- capacity (Burgess et al. 2018): ``loss`` = recon + gamma * |kl - C(t)|, with C(t) rising linearly from 0
  to ``capacity_max`` nats over ``capacity_epochs``.

The schedules are functions of the training progress t in epochs (fractional: step / steps per epoch).
"""

from __future__ import annotations

import torch

from .base import Objective


def kl_per_factor(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(N(mu, exp(logvar)) || N(0, 1)) per example and factor, in nats: (n, d) -> (n, d)."""
    return 0.5 * (mu.square() + logvar.exp() - 1.0 - logvar)


def linear_ramp(t: float, length: float) -> float:
    """min(t / length, 1) for t >= 0: 0 at the start, 1 from t = length on; 1 throughout when length is 0."""
    return 1.0 if length <= 0 else min(max(t, 0.0) / length, 1.0)


def beta_schedule(t: float, beta: float, warmup_epochs: float) -> float:
    """beta at progress t (epochs): beta * t / warmup_epochs during the warm-up, then beta."""
    return beta * linear_ramp(t, warmup_epochs)


def capacity_schedule(t: float, capacity_max: float, capacity_epochs: float) -> float:
    """The KL target C at progress t (epochs), in nats: capacity_max * t / capacity_epochs, then capacity_max."""
    return capacity_max * linear_ramp(t, capacity_epochs)


def beta_vae_terms(log_lik: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor, beta: float) -> dict:
    """beta-VAE terms for a batch: log_lik (n,) nats, mu and logvar (n, d); ``loss`` = recon + beta * kl."""
    terms = elbo_terms(log_lik, mu, logvar)
    return {**terms, "loss": terms["recon"] + beta * terms["kl"], "beta": float(beta)}


def capacity_terms(log_lik: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor, gamma: float,
                   capacity: float) -> dict:
    """Capacity terms for a batch: ``loss`` = recon + gamma * |kl - capacity| (capacity in nats)."""
    terms = elbo_terms(log_lik, mu, logvar)
    loss = terms["recon"] + gamma * (terms["kl"] - capacity).abs()
    return {**terms, "loss": loss, "gamma": float(gamma), "capacity": float(capacity)}


def elbo_terms(log_lik: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor) -> dict:
    """Batch means: recon = -mean log p(x|z), kl, kl_per_factor (d,), neg_elbo = recon + kl (nats)."""
    if log_lik.ndim != 1 or mu.shape != logvar.shape or mu.shape[:1] != log_lik.shape:
        raise ValueError(f"expected log_lik (n,) and mu, logvar (n, d), got {tuple(log_lik.shape)}, "
                         f"{tuple(mu.shape)}, {tuple(logvar.shape)}")
    recon = -log_lik.mean()
    per_factor = kl_per_factor(mu, logvar).mean(0)
    kl = per_factor.sum()
    return {"recon": recon, "kl": kl, "kl_per_factor": per_factor, "neg_elbo": recon + kl}


BETA_VAE = Objective(
    name="beta_vae",
    defaults={"beta": 1.0, "warmup_epochs": 0.0},
    schedule=lambda cfg, t: {"beta": beta_schedule(t, cfg["beta"], cfg["warmup_epochs"])},
    terms=lambda cfg, values, batch: beta_vae_terms(batch.log_lik, batch.mu, batch.logvar, values["beta"]),
)

CAPACITY = Objective(
    name="capacity",
    defaults={"gamma": 1000.0, "capacity_max": 25.0, "capacity_epochs": None},
    required=("capacity_epochs",),
    schedule=lambda cfg, t: {"gamma": cfg["gamma"],
                             "capacity": capacity_schedule(t, cfg["capacity_max"], cfg["capacity_epochs"])},
    terms=lambda cfg, values, batch: capacity_terms(batch.log_lik, batch.mu, batch.logvar, values["gamma"],
                                                    values["capacity"]),
)
