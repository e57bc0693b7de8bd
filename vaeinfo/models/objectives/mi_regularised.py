"""The MI-regularised VAE (Ducau & Trénous, "Mutual information in variational autoencoders"; their code
fducau/infoVAE, ``vae_half.py``): the ELBO plus a reward for the mutual information between a subset c of the latent
code and the image generated from it, as InfoGAN does.

For a batch of n images, draw z~ ~ N(0, I) (n codes of all d dimensions), generate x' = E[x | z~] (the decoder's
mean: a sigmoid output for a Bernoulli decoder, not a sample), encode x' to q(z | x') = N(mu', diag(exp(logvar')))
and take its Gaussian on the dimensions c. The Barber-Agakov bound

    I^(c; x') = H(c) + E log q(c | x') <= I(c; x')          (nats)

with H(c) = |c| * log(2 pi e) / 2, the exact entropy of the standard normal prior on c (1.41894 nats per
dimension; the authors' code writes 1.4185, which shifts the reported bound by 0.00044 |c| nats and changes no
gradient). The loss is

    loss = recon + beta(t) * kl - lambda * I^(c; x')

(the authors: beta = 1, lambda = 1), every term a batch mean in nats. Gradients of the bound reach the decoder
(through x') and the encoder (through mu', logvar'), as in their code; z~ is drawn from the batch's noise generator
after z (never the global RNG). With lambda = 0 the loss is the beta-VAE loss itself (the bound is then computed
without a graph, only to be logged), so lambda = 0 is the plain VAE at equal settings.

Logged per epoch (``train_<name>``, ``val_<name>`` in the training history): ``mi_bound_c`` = I^(c; x'),
``mi_bound_z`` = the same bound for the other dimensions (the "z half"; 0 when c is every dimension),
``kl_c`` and ``kl_z`` = the KL term split between c and the other dimensions (their sum is ``kl``).

Which dimensions form c: ``c_dims``, a list of latent indices, or None for the first half, dimensions
0 .. ceil(d/2) - 1 (the authors' code regularises the second half; any split is a list away). A training config
(:func:`vaeinfo.training.config.normalize_config`) writes None out as that list, so both train one model under one
cache key.
"""

from __future__ import annotations

import math
import numbers

import torch

from ..contract import decode_mean
from .base import Batch, Objective
from .elbo import beta_schedule, beta_vae_terms

HALF_LOG_2PI_E = 0.5 * math.log(2 * math.pi * math.e)  # entropy of N(0, 1) in nats: 1.4189385...
LOGGED = ("mi_bound_c", "mi_bound_z", "kl_c", "kl_z")


def prior_entropy(n_dims: int) -> float:
    """H(c) of c ~ N(0, I) with ``n_dims`` dimensions, in nats: n_dims * log(2 pi e) / 2 (exact)."""
    if n_dims < 0:
        raise ValueError(f"the number of dimensions must be >= 0, got {n_dims}")
    return n_dims * HALF_LOG_2PI_E


def code_split(c_dims: list[int] | None, d: int) -> tuple[list[int], list[int]]:
    """(c, rest): the latent indices of c (``c_dims``, or the first ceil(d/2) when None) and the other ones, sorted.

    Raises
    ------
    ValueError
        An index of ``c_dims`` outside 0 .. d-1 (the message names d and the fix).
    """
    c = list(range((d + 1) // 2)) if c_dims is None else sorted(c_dims)
    if c and not 0 <= c[0] <= c[-1] < d:
        raise ValueError(f"c_dims {c_dims} do not fit a latent code of {d} dimensions; give indices in 0..{d - 1}")
    chosen = set(c)
    return c, [h for h in range(d) if h not in chosen]


def barber_agakov_bound(code: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor, dims: list[int]) -> torch.Tensor:
    """H(c) + mean_i log q(c_i | x'_i) over the dimensions ``dims``: a lower bound of I(c; x') in nats, 0-d tensor.

    Parameters
    ----------
    code : (n, d) the prior samples z~ ~ N(0, I) that generated x'.
    mu, logvar : (n, d) the encoder's Gaussian q(z | x') of each generated x'.
    dims : the latent indices of c (H(c) is that of the standard normal prior on them); empty: 0.
    """
    if code.shape != mu.shape or mu.shape != logvar.shape or code.ndim != 2:
        raise ValueError(f"expected code, mu, logvar all (n, d), got {tuple(code.shape)}, {tuple(mu.shape)}, "
                         f"{tuple(logvar.shape)}")
    if not dims:
        return code.new_zeros(())
    index = torch.as_tensor(dims, device=code.device)
    c, m, lv = code[:, index], mu[:, index], logvar[:, index]
    log_q = -0.5 * (math.log(2 * math.pi) + lv + (c - m).square() * torch.exp(-lv))  # log N(c; m, exp(lv))
    return prior_entropy(len(dims)) + log_q.sum(1).mean()


def prior_mi_bounds(model, n: int, noise: torch.Generator, c: list[int], rest: list[int], *,
                    like: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(I^(c; x'), I^(rest; x')) for n prior samples z~ drawn from ``noise``: x' = E[x | z~], encoded again.

    ``like`` gives the device and dtype of z~ (the batch's mu). Gradients (where enabled) reach the decoder
    through x' and the encoder through q(z | x').
    """
    code = torch.randn((n, model.latent_dim), generator=noise, device=like.device, dtype=like.dtype)
    mu, logvar = model.encode(decode_mean(model, code))
    return barber_agakov_bound(code, mu, logvar, c), barber_agakov_bound(code, mu, logvar, rest)


def mi_regularised_terms(cfg: dict, values: dict, batch: Batch) -> dict:
    """Batch means in nats: the beta-VAE terms with ``loss`` = recon + beta kl - lambda I^(c; x'), plus
    :data:`LOGGED` (module docstring). One prior sample per example of the batch, as the authors' code."""
    terms = beta_vae_terms(batch.log_lik, batch.mu, batch.logvar, values["beta"])
    c, rest = code_split(cfg["c_dims"], batch.mu.shape[1])
    lam = values["lambda"]
    with torch.set_grad_enabled(torch.is_grad_enabled() and lam > 0):  # lambda = 0: logged only, no graph
        mi_c, mi_z = prior_mi_bounds(batch.model, len(batch.x), batch.noise, c, rest, like=batch.mu)
    per_factor = terms["kl_per_factor"]
    loss = terms["loss"] - lam * mi_c if lam > 0 else terms["loss"]
    return {**terms, "loss": loss, "mi_bound_c": mi_c, "mi_bound_z": mi_z, "kl_c": per_factor[c].sum(),
            "kl_z": per_factor[rest].sum(), "lambda": float(lam)}


def _check(cfg: dict) -> dict:
    """``c_dims``: None, or a non-empty list of distinct non-negative integers (returned sorted)."""
    dims = cfg["c_dims"]
    if dims is None:
        return cfg
    example = "e.g. c_dims=[0, 1, 2, 3, 4], or None for the first half"
    if isinstance(dims, (str, bytes)) or not hasattr(dims, "__iter__"):
        raise ValueError(f"c_dims must be a list of latent indices ({example}), got {dims!r}")
    dims = list(dims)
    if not dims or any(isinstance(h, bool) or not isinstance(h, numbers.Integral) or h < 0 for h in dims):
        raise ValueError(f"c_dims must be a non-empty list of non-negative integers ({example}), got {cfg['c_dims']!r}")
    if len(set(dims)) != len(dims):
        raise ValueError(f"c_dims must not repeat an index, got {cfg['c_dims']!r}")
    return {**cfg, "c_dims": sorted(int(h) for h in dims)}


MI_REGULARISED = Objective(
    name="mi_regularised",
    defaults={"lambda": 1.0, "beta": 1.0, "warmup_epochs": 0.0, "c_dims": None},
    schedule=lambda cfg, t: {"beta": beta_schedule(t, cfg["beta"], cfg["warmup_epochs"]), "lambda": cfg["lambda"]},
    terms=mi_regularised_terms,
    check=_check,
    logged=LOGGED,
    fit_latent=lambda cfg, d: {**cfg, "c_dims": code_split(cfg["c_dims"], d)[0]},
)
