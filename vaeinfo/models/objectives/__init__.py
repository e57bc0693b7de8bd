"""Training objectives, each a small spec (:class:`.base.Objective`) registered here by its config ``name``.

An objective config is a plain dict, e.g. ``{"name": "beta_vae", "beta": 6.0, "warmup_epochs": 10}``:

- ``beta_vae`` and ``capacity`` (:mod:`.elbo`): the ELBO reweighted, beta with a linear warm-up (Higgins et al.
  2017), or a KL target rising to ``capacity_max`` nats (Burgess et al. 2018).
- ``beta_tcvae`` (:mod:`.tcvae`): beta times the total correlation (Chen et al. 2018), q(z) by minibatch-
  stratified (``mss``) or -weighted (``mws``) sampling, beta annealed over ``warmup_epochs``.
- ``factor_vae`` (:mod:`.factorvae`): gamma times a total correlation estimated by a discriminator trained beside
  the VAE (Kim & Mnih 2018; the discriminator is an :class:`.base.Auxiliary`).
- ``mi_regularised`` (:mod:`.mi_regularised`): the ELBO minus lambda times the Barber-Agakov bound of I(c; x')
  between the dimensions ``c_dims`` of a prior code and the image generated from it (Ducau & Trénous).

Every objective returns batch means in nats: ``loss`` (what the optimiser minimises), ``recon`` = -E_q log p(x|z),
``kl`` = KL(q(z|x) || N(0, I)) with its per-factor parts ``kl_per_factor`` (d,), ``neg_elbo`` = recon + kl, the
schedule values at the step's progress t (epochs), and the extra terms it logs (:attr:`.base.Objective.logged`).
"""

from __future__ import annotations

from .base import REQUIRED_TERMS, Auxiliary, Batch, Objective
from .elbo import (
    BETA_VAE,
    CAPACITY,
    beta_schedule,
    beta_vae_terms,
    capacity_schedule,
    capacity_terms,
    elbo_terms,
    kl_per_factor,
    linear_ramp,
)
from .factorvae import FACTOR_VAE
from .mi_regularised import MI_REGULARISED
from .tcvae import BETA_TCVAE

REGISTRY: dict[str, Objective] = {spec.name: spec for spec in (BETA_VAE, CAPACITY, BETA_TCVAE, FACTOR_VAE,
                                                                MI_REGULARISED)}
OBJECTIVES = tuple(REGISTRY)

__all__ = ["OBJECTIVES", "REGISTRY", "REQUIRED_TERMS", "Auxiliary", "Batch", "Objective", "auxiliary_spec",
           "batch_terms", "beta_schedule", "beta_vae_terms", "capacity_schedule", "capacity_terms", "check_min_batch",
           "elbo_terms", "fit_latent_dim", "kl_per_factor", "linear_ramp", "logged_terms", "min_batch",
           "normalize_objective_config", "schedule_values"]


def normalize_objective_config(config: dict) -> dict:
    """Check an objective config and fill in its defaults; returns a new dict (``name`` plus the options).

    Raises
    ------
    ValueError
        Unknown objective name or key (the valid ones are listed), a missing, negative or unknown value.
    """
    name = config.get("name", "beta_vae") if isinstance(config, dict) else None
    if name not in REGISTRY:
        raise ValueError(f"unknown objective {name!r} in {config!r}; choose one of {OBJECTIVES}")
    return REGISTRY[name].normalize(config)


def schedule_values(config: dict, t: float) -> dict[str, float]:
    """The schedule values of the objective ``config`` (normalised) at progress t (epochs), e.g. ``{"beta": 4.0}``."""
    return REGISTRY[config["name"]].schedule(config, t)


def logged_terms(config: dict) -> tuple[str, ...]:
    """The extra scalar terms (beyond loss, recon, kl, neg_elbo) that the objective ``config`` reports."""
    return REGISTRY[config["name"]].logged


def min_batch(config: dict) -> int:
    """The fewest examples a batch of the objective ``config`` may hold (:attr:`.base.Objective.min_batch`)."""
    return REGISTRY[config["name"]].min_batch


def check_min_batch(config: dict, count: int, what: str) -> None:
    """A ValueError unless ``count`` (a batch size, or a number of examples, named by ``what``) reaches the
    :func:`min_batch` of the objective ``config``; the message names the objective, its minimum and the fix."""
    least = min_batch(config)
    if count < least:
        raise ValueError(f"the {config['name']} objective needs batches of at least {least} examples, but {what} is "
                         f"{count}; make {what} at least {least}")


def fit_latent_dim(config: dict, latent_dim: int) -> dict:
    """The objective ``config`` (normalised) for a latent code of ``latent_dim`` dimensions: its options that
    depend on the dimension made explicit, e.g. mi_regularised's ``c_dims`` (:attr:`.base.Objective.fit_latent`);
    a ValueError when they do not fit."""
    spec = REGISTRY[config["name"]]
    return config if spec.fit_latent is None else spec.fit_latent(config, latent_dim)


def auxiliary_spec(config: dict) -> Auxiliary | None:
    """The network the objective ``config`` trains beside the VAE (:class:`.base.Auxiliary`), or None."""
    return REGISTRY[config["name"]].auxiliary


def batch_terms(config: dict, batch: Batch, t: float) -> dict:
    """The terms of the objective ``config`` (normalised) for ``batch`` at progress t (epochs), schedules applied."""
    spec = REGISTRY[config["name"]]
    values = spec.schedule(config, t)
    terms = spec.terms(config, values, batch)
    missing = [k for k in (*REQUIRED_TERMS, *spec.logged) if k not in terms]
    if missing:
        raise RuntimeError(f"the {spec.name} objective returned no {missing}")
    return {**terms, **values}

