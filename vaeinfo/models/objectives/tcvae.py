"""The beta-TCVAE objective (Chen et al. 2018) and its minibatch estimators of log q(z) and log prod_j q(z_j).

With the aggregate posterior q(z) = (1/N) sum_n q(z|x_n) over the N training examples, the KL term of the ELBO
splits per example z ~ q(z|x) into (Chen et al.'s eq. 2, the terms of their code ``vae_quant.py``)::

    log q(z|x) - log p(z) = [log q(z|x) - log q(z)]              index-code MI
                          + [log q(z) - log prod_j q(z_j)]       total correlation (TC)
                          + [log prod_j q(z_j) - log p(z)]       dimension-wise KL ("marginal_kl" here)

and beta-TCVAE minimises ``loss`` = recon + MI + beta * TC + marginal_kl (batch means, nats; alpha = gamma = 1 as
in the paper). q(z) needs the whole data set; a minibatch of B examples (one z_i per example, ``dataset_size`` N)
estimates it from l_ijd = log q(z_id | x_j), the log-density of sample i's dimension d under example j's posterior:

- ``"mws"``, minibatch-weighted sampling: log q(z_i) ~ logsumexp_j sum_d l_ijd - log(N B), and
  log prod_d q(z_id) ~ sum_d [logsumexp_j l_ijd - log(N B)]. Biased: with identical posteriors for every example
  it gives log q(z) - log N and log prod_d q(z_d) - D log N, a total correlation of (D - 1) log N instead of 0.
- ``"mss"``, minibatch-stratified sampling (the default): log q(z_i) ~ logsumexp_j [log W_ij + sum_d l_ijd] and
  log prod_d q(z_id) ~ sum_d logsumexp_j [log W_ij + l_ijd] with the weights of :func:`mss_weights`. Unbiased
  for the densities q(z_i), q(z_id) over uniformly random batches (as the training loop's shuffled ones), not for
  their logarithms: Jensen's gap, E log q^ < log q, shrinks as B grows. The validation terms that training logs
  (``val_`` TC, MI, dimension-wise KL) run it on fixed consecutive batches, so they depend on the batch order (and
  with one batch of the whole set, N = B, MSS is not exact either: 0.02-0.10 nats off for N = B = 8).

The reference code builds W with the wrong stride (``W.view(-1)[::M+1]`` fills a column, not the diagonal;
rtqichen/beta-tcvae PR #1): column 0 gets 1/N and column 1 the stratum weight in every row, so from row 2 on the
example that drew z_i is weighted 1/M instead of 1/N, which overestimates q(z) (1.35-1.5 times it, on average over
every minibatch of the tiny data set of the tests), and its ``W[M-1, 0]`` makes row B - 2 sum to more than 1;
:func:`mss_weights` puts 1/N on the diagonal.

beta annealing as in Chen et al.: beta rises linearly from 0 to ``beta`` and stays there; the reference code counts
iterations (``warmup_iter`` = 7,000 for dSprites), here the length is in epochs, ``warmup_epochs``, like the
beta-VAE objective: convert with :func:`iterations_to_epochs` (7,000 iterations of batches of 2,048 on the
737,280 dSprites images = 7,000 / 360 = 19.44 epochs). Chen et al.'s optional lambda annealing of the
dimension-wise KL weight is not implemented.
"""

from __future__ import annotations

import math

import torch

from .base import Objective
from .elbo import beta_schedule, elbo_terms

ESTIMATORS = ("mss", "mws")
LOG_2PI = math.log(2.0 * math.pi)


def mss_weights(batch_size: int, dataset_size: int, dtype: torch.dtype = torch.float64,
                device: torch.device | str | None = None) -> torch.Tensor:
    """The minibatch-stratified-sampling weights W (B, B) for a batch of B examples from a data set of N.

    With M = B - 1: W_ii = 1/N (the example that drew z_i), W_i,(i+1) mod B = (N - M) / (N M) (the stratum of the
    N - M examples outside the batch), every other entry 1/M. Each row sums to 1, and for a batch drawn uniformly
    at random the expectation of sum_j W_ij q(z | x_j) is q(z) = (1/N) sum_n q(z | x_n).

    Raises
    ------
    ValueError : B < 2 (the estimator needs another example) or N < B.
    """
    _check_sizes(batch_size, dataset_size)
    n, m = float(dataset_size), float(batch_size - 1)
    weights = torch.full((batch_size, batch_size), 1.0 / m, dtype=dtype, device=device)
    rows = torch.arange(batch_size, device=weights.device)
    weights[rows, (rows + 1) % batch_size] = (n - m) / (n * m)
    weights[rows, rows] = 1.0 / n
    return weights


def log_qz_estimates(z: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor, dataset_size: int,
                     method: str = "mss") -> tuple[torch.Tensor, torch.Tensor]:
    """Minibatch estimates of log q(z_i) and log prod_d q(z_id) for each sample of a batch, in nats.

    Parameters
    ----------
    z : (B, d) one sample of q(z | x_i) per example of the batch.
    mu, logvar : (B, d) the batch's posteriors q(z | x_j) = N(mu_j, diag(exp(logvar_j))).
    dataset_size : N, the number of examples the batch was drawn from (N >= B >= 2).
    method : ``"mss"`` (minibatch-stratified, :func:`mss_weights`) or ``"mws"`` (minibatch-weighted); see the
        module docstring.

    Returns
    -------
    (log_qz, log_prod_qzj), each (B,), differentiable with respect to z, mu and logvar. Memory O(B^2 d).
    """
    if method not in ESTIMATORS:
        raise ValueError(f"unknown method {method!r} for log_qz_estimates; choose one of {ESTIMATORS}")
    if z.ndim != 2 or z.shape != mu.shape or mu.shape != logvar.shape:
        raise ValueError(f"expected z, mu and logvar of one shape (B, d), got {tuple(z.shape)}, {tuple(mu.shape)}, "
                         f"{tuple(logvar.shape)}")
    batch = z.shape[0]
    _check_sizes(batch, dataset_size)
    pairwise = gaussian_log_density(z[:, None, :], mu[None], logvar[None])  # (B, B, d): l_ijd
    if method == "mws":
        log_norm = math.log(dataset_size * batch)
        return (torch.logsumexp(pairwise.sum(2), dim=1) - log_norm,
                (torch.logsumexp(pairwise, dim=1) - log_norm).sum(1))
    log_w = mss_weights(batch, dataset_size, z.dtype, z.device).log()
    return (torch.logsumexp(log_w + pairwise.sum(2), dim=1),
            torch.logsumexp(log_w[:, :, None] + pairwise, dim=1).sum(1))


def gaussian_log_density(z: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """log N(z; mu, exp(logvar)) elementwise (broadcasting), nats; one fused multiply-add over the broadcast shape."""
    return torch.addcmul(-0.5 * (logvar + LOG_2PI), (z - mu).square(), torch.exp(-logvar), value=-0.5)


def tcvae_terms(log_lik: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor, z: torch.Tensor, dataset_size: int,
                beta: float, estimator: str = "mss") -> dict:
    """beta-TCVAE terms of a batch, batch means in nats.

    ``loss`` = recon + index_code_mi + beta * total_correlation + marginal_kl, each a mean over the batch of the
    single-sample terms of the module docstring (log q(z) and log prod_j q(z_j) by ``estimator``). The three sum to
    the single-sample KL estimate mean[log q(z|x) - log p(z)] whatever the estimator, so with beta = 1 ``loss`` is
    exactly recon + that estimate: the beta-VAE loss with beta = 1 (``neg_elbo``, analytic KL) in expectation over
    z. ``kl``, ``kl_per_factor`` and ``neg_elbo`` are the analytic ones of :func:`.elbo.elbo_terms`.

    Parameters
    ----------
    log_lik : (B,) log p(x|z), nats.
    mu, logvar, z : (B, d) posteriors and their samples.
    dataset_size : N.
    beta : the weight of the total correlation.
    estimator : ``"mss"`` or ``"mws"`` (:func:`log_qz_estimates`).
    """
    terms = elbo_terms(log_lik, mu, logvar)
    log_qz, log_prod_qzj = log_qz_estimates(z, mu, logvar, dataset_size, estimator)
    log_qz_x = gaussian_log_density(z, mu, logvar).sum(1)
    log_pz = gaussian_log_density(z, torch.zeros_like(z), torch.zeros_like(z)).sum(1)
    mi, tc, marginal = (log_qz_x - log_qz).mean(), (log_qz - log_prod_qzj).mean(), (log_prod_qzj - log_pz).mean()
    loss = terms["recon"] + mi + beta * tc + marginal
    return {**terms, "loss": loss, "beta": float(beta), "index_code_mi": mi, "total_correlation": tc,
            "marginal_kl": marginal}


def iterations_to_epochs(iterations: float, batch_size: int, dataset_size: int, least: int = 1) -> float:
    """A length in training steps as epochs of the training loop's steps (e.g. Chen et al.'s warmup_iter ->
    warmup_epochs): ceil(N / B) steps per epoch, one fewer when the last batch is shorter than ``least`` (the
    objective's :func:`~vaeinfo.models.objectives.min_batch`; 2 for beta-TCVAE) and the loop joins it to the one
    before."""
    if batch_size < 1 or dataset_size < 1 or least < 1:
        raise ValueError(f"batch_size, dataset_size and least must be >= 1, got {batch_size}, {dataset_size} and "
                         f"{least}")
    steps = math.ceil(dataset_size / batch_size)
    if steps > 1 and dataset_size % batch_size and dataset_size % batch_size < least:
        steps -= 1
    return iterations / steps


def _check_sizes(batch_size: int, dataset_size: int) -> None:
    """A ValueError unless 2 <= B <= N, naming the fix."""
    if batch_size < 2:
        raise ValueError(f"the minibatch estimators of q(z) need a batch of at least 2 examples (another example "
                         f"to estimate q(z) from), got {batch_size}; pass a batch of 2 or more examples")
    if dataset_size < batch_size:
        raise ValueError(f"dataset_size N = {dataset_size} is smaller than the batch ({batch_size}); pass the number "
                         f"of examples the batch was drawn from")


BETA_TCVAE = Objective(
    name="beta_tcvae",
    defaults={"beta": 1.0, "warmup_epochs": 0.0, "estimator": ESTIMATORS[0]},
    choices={"estimator": ESTIMATORS},
    schedule=lambda cfg, t: {"beta": beta_schedule(t, cfg["beta"], cfg["warmup_epochs"])},
    terms=lambda cfg, values, batch: tcvae_terms(batch.log_lik, batch.mu, batch.logvar, batch.z, batch.dataset_size,
                                                 values["beta"], cfg["estimator"]),
    logged=("index_code_mi", "total_correlation", "marginal_kl"),
    min_batch=2,  # a one-example batch has no other example to estimate q(z) from
)
