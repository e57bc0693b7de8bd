"""FactorVAE (Kim & Mnih 2018, "Disentangling by Factorising"): the ELBO plus gamma times a total correlation that
a discriminator estimates.

A discriminator D (:func:`discriminator`) reads a code z and gives two logits, "drawn from q(z)" and "drawn from
prod_j q(z_j)". Trained to tell the batch's codes from the same codes with each dimension permuted independently
across the batch (:func:`permute_dims`, samples of prod_j q(z_j)), its logit difference estimates the density ratio,
so that

    TC(z) = KL(q(z) || prod_j q(z_j)) ~ mean over the batch of  logit_joint(z) - logit_product(z).

Terms (batch means, nats): ``loss`` = recon + kl + gamma * tc (what the VAE's optimiser minimises),
``tc`` the discriminator's estimate above, ``discriminator_loss`` = the cross-entropy of D on the batch's codes
(class "joint") and on their permutation (class "product"), half each, computed on detached codes so that its
gradient reaches D only; the training loop steps D's own optimiser on it after every VAE step
(:class:`.base.Auxiliary`). ``discriminator_accuracy`` is the fraction of those 2n codes D classifies right (0.5:
it cannot tell q(z) from prod_j q(z_j), which a factorised code makes true).

Settings, as Kim & Mnih and disentanglement_lib (``factor_vae`` in ``vae.py``, ``make_discriminator``):
D is an MLP d-1000-1000-1000-1000-1000-1000-2 with LeakyReLU(0.2); its optimiser Adam, learning rate 1e-4,
betas (0.5, 0.9); gamma is the option (default 40, inside the sweep 10, 20, 30, 40, 50, 100 of disentanglement_lib's
study). One difference from Kim & Mnih, the
same as disentanglement_lib: the permuted codes come from the same batch as the VAE step (they draw a second
batch). D's initial weights are Glorot-uniform with zero biases, from a seed of the run's own.
"""

from __future__ import annotations

import torch
from torch import nn

from .base import Auxiliary, Batch, Objective
from .elbo import elbo_terms

HIDDEN, LAYERS, SLOPE = 1000, 6, 0.2  # Kim & Mnih's discriminator: 6 hidden layers of 1000 units, LeakyReLU(0.2)
LR, BETAS = 1e-4, (0.5, 0.9)  # its Adam


def discriminator(latent_dim: int, generator: torch.Generator, *, hidden: int = HIDDEN,
                  layers: int = LAYERS) -> nn.Sequential:
    """The discriminator: (n, d) codes -> (n, 2) logits (joint, product); Glorot-uniform weights from ``generator``,
    zero biases. torch's global random state is left as it was (the layers' own default initialisation, overwritten
    here, would draw from it)."""
    sizes = [latent_dim, *[hidden] * layers]
    modules: list[nn.Module] = []
    with torch.random.fork_rng(devices=[]):
        for a, b in zip(sizes, sizes[1:]):
            modules += [nn.Linear(a, b), nn.LeakyReLU(SLOPE)]
        modules.append(nn.Linear(sizes[-1], 2))
    net = nn.Sequential(*modules)
    with torch.no_grad():
        for layer in net:
            if isinstance(layer, nn.Linear):
                bound = (6.0 / (layer.in_features + layer.out_features)) ** 0.5
                layer.weight.uniform_(-bound, bound, generator=generator)
                layer.bias.zero_()
    return net


def permute_dims(z: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """(n, d) -> (n, d): each column permuted independently across the rows (samples of prod_j q(z_j) when the
    rows are samples of q(z)); the permutations are drawn from ``generator``, column by column."""
    n, d = z.shape
    rows = torch.stack([torch.randperm(n, generator=generator, device=generator.device) for _ in range(d)], dim=1)
    return torch.gather(z, 0, rows.to(z.device))


def factor_vae_terms(batch: Batch, gamma: float) -> dict:
    """FactorVAE terms for ``batch`` (module docstring); ``batch.auxiliary`` is the discriminator."""
    net = batch.auxiliary
    if net is None:
        raise ValueError("the factor_vae objective needs its discriminator (Batch.auxiliary); the training loop "
                         "builds it: evaluate a FactorVAE through train(...) or pass evaluate(..., auxiliary=net)")
    terms = elbo_terms(batch.log_lik, batch.mu, batch.logvar)
    logits = net(batch.z)
    tc = (logits[:, 0] - logits[:, 1]).mean()
    codes = batch.z.detach()
    shuffled = permute_dims(codes, batch.noise)
    joint, product = net(codes), net(shuffled)
    targets = torch.zeros(len(codes), dtype=torch.long, device=codes.device)
    loss_d = 0.5 * (nn.functional.cross_entropy(joint, targets) + nn.functional.cross_entropy(product, targets + 1))
    right = (joint.argmax(1) == 0).float().sum() + (product.argmax(1) == 1).float().sum()
    return {**terms, "loss": terms["neg_elbo"] + gamma * tc, "tc": tc, "discriminator_loss": loss_d,
            "discriminator_accuracy": right.detach() / (2 * len(codes))}


FACTOR_VAE = Objective(
    name="factor_vae",
    defaults={"gamma": 40.0},
    schedule=lambda cfg, t: {"gamma": cfg["gamma"]},
    terms=lambda cfg, values, batch: factor_vae_terms(batch, values["gamma"]),
    logged=("tc", "discriminator_loss", "discriminator_accuracy"),
    min_batch=2,  # a permutation of one code is the code itself
    auxiliary=Auxiliary(
        build=lambda cfg, d, generator: discriminator(d, generator),
        optimizer=lambda cfg, params: torch.optim.Adam(params, lr=LR, betas=BETAS),
        loss_term="discriminator_loss",
    ),
)
