"""ELBO variants: the beta-VAE objective with a linear beta warm-up, and the capacity objective.

All terms are batch means of per-example quantities in nats:

- ``recon`` = -E_q log p(x|z) (one sample of z per example), ``kl`` = KL(q(z|x) || N(0, I)) (analytic),
  ``kl_per_factor`` (d,) its per-factor parts (their sum is ``kl``), ``neg_elbo`` = recon + kl.
- beta-VAE (Higgins et al. 2017): ``loss`` = recon + beta(t) * kl, with beta(t) rising linearly from 0 to
  beta over ``warmup_epochs`` (constant beta when 0).
- capacity (Burgess et al. 2018): ``loss`` = recon + gamma * |kl - C(t)|, with C(t) rising linearly from 0
  to ``capacity_max`` nats over ``capacity_epochs``.

The schedules are functions of the training progress t in epochs (fractional: step / steps per epoch).
An objective config is a plain dict, e.g. ``{"name": "beta_vae", "beta": 6.0, "warmup_epochs": 10}``.
"""

from __future__ import annotations

import torch

_DEFAULTS = {
    "beta_vae": {"beta": 1.0, "warmup_epochs": 0.0},
    "capacity": {"gamma": 1000.0, "capacity_max": 25.0, "capacity_epochs": None},
}
OBJECTIVES = tuple(_DEFAULTS)


def normalize_objective_config(config: dict) -> dict:
    """Check an objective config and fill in defaults; returns a new dict of floats plus ``name``.

    ``beta_vae``: beta (default 1), warmup_epochs (default 0). ``capacity``: gamma (default 1000, Burgess
    et al.), capacity_max in nats (default 25), capacity_epochs (required).

    Raises
    ------
    ValueError
        Unknown objective name or key (the valid ones are listed), a missing or negative value.
    """
    name = config.get("name", "beta_vae") if isinstance(config, dict) else None
    if name not in _DEFAULTS:
        raise ValueError(f"unknown objective {name!r} in {config!r}; choose one of {OBJECTIVES}")
    unknown = sorted(set(config) - {"name", *_DEFAULTS[name]})
    if unknown:
        raise ValueError(f"unknown key(s) {unknown} for the {name} objective; valid keys: "
                         f"{['name', *_DEFAULTS[name]]}")
    cfg = {"name": name, **_DEFAULTS[name], **config}
    for key in _DEFAULTS[name]:
        if cfg[key] is None:
            raise ValueError(f"the {name} objective needs {key!r} (e.g. {key}=50)")
        cfg[key] = float(cfg[key])
        if not cfg[key] >= 0:
            raise ValueError(f"{key} must be a non-negative number, got {cfg[key]}")
    return cfg


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


def schedule_values(config: dict, t: float) -> dict[str, float]:
    """The schedule values of the objective ``config`` (normalised) at progress t (epochs).

    ``{"beta": ...}`` for beta_vae; ``{"gamma": ..., "capacity": ...}`` for capacity.
    """
    if config["name"] == "beta_vae":
        return {"beta": beta_schedule(t, config["beta"], config["warmup_epochs"])}
    capacity = capacity_schedule(t, config["capacity_max"], config["capacity_epochs"])
    return {"gamma": config["gamma"], "capacity": capacity}


def objective_terms(config: dict, log_lik: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor, t: float) -> dict:
    """The terms of the objective ``config`` (normalised) at progress t (epochs), schedules applied."""
    values = schedule_values(config, t)
    if config["name"] == "beta_vae":
        return beta_vae_terms(log_lik, mu, logvar, values["beta"])
    return capacity_terms(log_lik, mu, logvar, values["gamma"], values["capacity"])
