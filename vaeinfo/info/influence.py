"""Influential factors: ranking by a per-factor score, keeping the top k, and traversing a factor.

The paper's recipe (Liu et al. 2020, sections 5-6): rank the factors by I(X; Z_h); a factor is
*influential* when I(X; Z_h) >= 0.5 nats; keep the top-k factors and set the others to the prior
mean 0 for generation and classification; traverse an influential factor from -3 to +2.4 in steps
of 0.6 around the encoder mean of a validation image.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from fractions import Fraction

import numpy as np
import torch

from ..checks import check_integer
from ..models.contract import check_model, decode_mean, device_of, evaluating, input_shape

PAPER_THRESHOLD = 0.5  # nats
PAPER_K = (128, 24, 12, 8, 6, 4, 3, 2, 1, 0)
PAPER_PERCENT = (100, 50, 10, 7, 5, 4, 3, 2, 1, 0)
K_ROUNDINGS = ("round", "authors")


def rank_factors(scores: np.ndarray) -> np.ndarray:
    """Factor indices sorted by decreasing score (ties keep index order). (d,) -> (d,) int64."""
    scores = np.asarray(scores, dtype=np.float64)
    if scores.ndim != 1:
        raise ValueError(f"scores must be one value per factor, shape (d,), got {scores.shape}")
    if not np.all(np.isfinite(scores)):
        raise ValueError(f"scores must be finite; factors {np.flatnonzero(~np.isfinite(scores)).tolist()} are not")
    return np.argsort(-scores, kind="stable").astype(np.int64)


def influential_factors(mi: np.ndarray, threshold: float = PAPER_THRESHOLD) -> np.ndarray:
    """Indices of the factors with I(X; Z_h) >= ``threshold`` nats, ordered by decreasing MI."""
    order = rank_factors(mi)
    return order[np.asarray(mi, dtype=np.float64)[order] >= threshold]


def clip_ks(ks: Iterable[int], latent_dim: int) -> list[int]:
    """Numbers of factors kept, each capped at ``latent_dim``, repeats dropped, in the given order.

    E.g. ``clip_ks([128, 24, 12, 8], 16) == [16, 12, 8]``: a profile's ks for a smaller latent space. Each k must
    be an integer >= 0 (ValueError otherwise).
    """
    return list(dict.fromkeys(min(check_integer(k, "ks", low=0, meaning="factors kept"), latent_dim) for k in ks))


def percent_to_k(percent: float, d: int, rounding: str = "round") -> int:
    """Number of factors kept for a percentage of ``d``.

    ``rounding`` (one of :data:`K_ROUNDINGS`): ``"round"`` rounds r * d half up (10 % of 128 -> 13, 5 % -> 6,
    1 % -> 1); ``"authors"`` is the authors' notebook, which zeroes the int((1 - r) * d) lowest factors and so
    keeps d - int((1 - r) * d) (10 % -> 13, 5 % -> 7, 1 % -> 2), with r = percent / 100 in floating point.
    ``"round"`` is exact (rational arithmetic on the percentage as written, e.g. 0.3 read as 3/10): 58 % of 25 =
    14.5 -> 15 and 0.3 % of 500 = 1.5 -> 2, where floating point gives 14.4999... and 1.4999...
    """
    if isinstance(percent, (bool, np.bool_)) or not 0 <= percent <= 100:
        raise ValueError(f"percent must be a number in [0, 100], got {percent!r}")
    d = check_integer(d, "d", low=0, meaning="the number of factors")
    if rounding not in K_ROUNDINGS:
        raise ValueError(f"unknown k rounding {rounding!r}; choose one of {K_ROUNDINGS}")
    if rounding == "authors":
        return d - int((1 - percent / 100) * d)
    exact = Fraction(str(percent)) if isinstance(percent, (float, np.floating)) else Fraction(percent)
    return math.floor(exact * d / 100 + Fraction(1, 2))


def ranking_agreement(order_a: np.ndarray, order_b: np.ndarray, ks) -> list[int]:
    """For each k in ``ks``, how many factors the top k of two rankings share: |set(a[:k]) & set(b[:k])|.

    order_a, order_b : (d,) factor indices by decreasing score (e.g. :func:`rank_factors` of two MI estimates).
    ks : numbers of top factors compared, each in [0, d]. Returns one int in [0, k] per k.
    """
    a, b = np.asarray(order_a, dtype=np.int64), np.asarray(order_b, dtype=np.int64)
    if a.ndim != 1 or a.shape != b.shape:
        raise ValueError(f"two rankings of the same factors are (d,) arrays, got {a.shape} and {b.shape}")
    ks = [check_integer(k, "every k", low=0, high=len(a), meaning="top factors compared") for k in ks]
    return [len(set(a[:k].tolist()) & set(b[:k].tolist())) for k in ks]


def factor_indices(indices, d: int, name: str) -> np.ndarray:
    """``indices`` as distinct factor indices (m,) int64, each in [0, d); ValueError naming ``name`` otherwise.

    Refused: a boolean mask (it would read as the indices 0 and 1; pass ``np.flatnonzero(mask)``), a fraction such
    as 1.5, a negative index (it would wrap to a factor from the end), an index >= d, a repeated index.
    """
    values = np.asarray(indices).reshape(-1)
    if values.dtype == bool:
        raise ValueError(f"{name} must be factor indices, got a boolean mask; pass np.flatnonzero(mask) instead")
    if values.size and (not np.issubdtype(values.dtype, np.number) or not np.array_equal(values, np.round(values))):
        raise ValueError(f"{name} must be integer factor indices, got {values[:8].tolist()}")
    kept = values.astype(np.int64)
    if (kept < 0).any() or (kept >= d).any() or len(np.unique(kept)) < len(kept):
        raise ValueError(f"{name} must be distinct factor indices in [0, {d}), got {kept[:8].tolist()}"
                         f"{' ...' if len(kept) > 8 else ''}")
    return kept


def top_factors(order, k: int, d: int) -> np.ndarray:
    """The first k entries of ``order`` (factor indices by decreasing influence) as (k,) int64, checked by
    :func:`factor_indices`; ValueError when ``order`` ranks fewer than k factors or k is not in [0, d]."""
    k = check_integer(k, "k", low=0, high=d, meaning="factors kept")
    ranked = np.asarray(order).reshape(-1)
    if len(ranked) < k:
        raise ValueError(f"order must rank at least {k} of the {d} factors to keep its top {k}, got {len(ranked)}")
    return factor_indices(ranked[:k], d, f"the top {k} of order")


def keep_top_k(z: torch.Tensor | np.ndarray, order: np.ndarray, k: int):
    """Copy of ``z`` (n, d) with every factor except ``order[:k]`` set to the prior mean 0 (whatever its value,
    inf or NaN included). order : factor indices by decreasing influence, its first k distinct and in [0, d)."""
    return zero_outside(z, top_factors(order, k, z.shape[-1]))


def zero_outside(z: torch.Tensor | np.ndarray, kept: np.ndarray):
    """Copy of ``z`` (n, d) with every factor outside ``kept`` (factor indices, e.g. :func:`factor_indices`) set to 0,
    whatever its value: an inf or NaN there is dropped too (multiplying by a 0/1 mask would give NaN)."""
    mask = np.zeros(z.shape[-1], dtype=bool)
    mask[kept] = True
    if isinstance(z, torch.Tensor):
        return torch.where(torch.as_tensor(mask, device=z.device), z, torch.zeros((), dtype=z.dtype, device=z.device))
    return np.where(mask, z, 0.0).astype(np.asarray(z).dtype)


def traversal_values(start: float = -3.0, stop: float = 2.4, step: float = 0.6) -> np.ndarray:
    """The traversal grid start, start + step, ... up to stop (included when the step divides the range, to 1e-9
    of a step): the paper's -3.0 ... 2.4 (10 values). ValueError unless step > 0 and stop >= start."""
    if not step > 0 or not stop >= start:
        raise ValueError(f"a traversal needs step > 0 and stop >= start, got start {start}, stop {stop}, step {step}")
    n = math.floor((stop - start) / step + 1e-9) + 1
    return start + step * np.arange(n)


def traversal_latents(z_base: torch.Tensor, factors: np.ndarray, values: np.ndarray) -> torch.Tensor:
    """Latent codes for a traversal: (len(factors), len(values), d).

    Row r, column c is ``z_base`` (d,) with factor ``factors[r]`` replaced by ``values[c]``; every factor an
    integer in [0, d) (ValueError otherwise: -1 edited the last factor, 1.7 factor 1).
    """
    if z_base.ndim != 1:
        raise ValueError(f"z_base must be one latent vector (d,), got shape {tuple(z_base.shape)}")
    d = z_base.shape[0]
    factors = [check_integer(h, "factors", low=0, high=d - 1, meaning="latent factor indices")
               for h in np.asarray(factors).reshape(-1).tolist()]
    z = z_base.expand(len(factors), len(values), -1).clone()
    vals = torch.as_tensor(np.asarray(values), dtype=z.dtype, device=z.device)
    for r, h in enumerate(factors):
        z[r, :, h] = vals
    return z


def topk_reconstructions(model, mu: np.ndarray, order: np.ndarray, ks: tuple[int, ...] = PAPER_K,
                         batch_size: int = 500) -> torch.Tensor:
    """Decoded means E[x|z] of the codes ``mu`` keeping only the top-k factors, for each k.

    Parameters
    ----------
    model : any model of the contract (:mod:`vaeinfo.models.contract`).
    mu : (n, d) encoder means.
    order : (d,) factor indices by decreasing influence (e.g. ``rank_factors(mi)``).
    ks : numbers of factors kept; the rest are set to the prior mean 0.

    Returns
    -------
    (len(ks), n, *input_shape) float32 tensor on the CPU.
    """
    check_model(model)
    z = torch.as_tensor(np.asarray(mu), dtype=torch.float32)
    device = device_of(model)
    out = torch.empty(len(ks), len(z), *input_shape(model))
    with evaluating(model):  # eval mode (dropout, batch norm) and inference mode, the modes restored after
        for i, k in enumerate(ks):
            kept = keep_top_k(z, order, min(k, z.shape[1]))
            for rows in torch.arange(len(z)).split(batch_size):
                out[i, rows] = decode_mean(model, kept[rows].to(device)).float().cpu()
    return out


def reconstruction_mse(images: torch.Tensor, reconstructions: torch.Tensor) -> np.ndarray:
    """Mean squared error per pixel between (n, ...) images and (m, n, ...) reconstructions -> (m,).

    ValueError unless ``reconstructions.shape[1:] == images.shape`` (a broadcast would compare every image with
    every reconstruction), or for integer images (uint8 pixels 0-255 against decoded means in [0, 1]).
    """
    _check_unit_images(images=images, reconstructions=reconstructions)
    if reconstructions.ndim < 2 or tuple(reconstructions.shape[1:]) != tuple(images.shape):
        raise ValueError(f"reconstructions must be (m, *images.shape) = (m, {', '.join(map(str, images.shape))}), got "
                         f"{tuple(reconstructions.shape)}")
    diff = reconstructions - images.unsqueeze(0)
    return diff.pow(2).flatten(2).mean(dim=2).mean(dim=1).double().numpy()


def traversal_images(model, z_base: torch.Tensor | np.ndarray, factors: np.ndarray, values: np.ndarray) -> torch.Tensor:
    """Decoded means E[x|z] of a traversal: (len(factors), len(values), *input_shape) float32 on the CPU.

    Image [r, c] decodes ``z_base`` (d,) (e.g. a validation image's encoder mean) with factor ``factors[r]`` set to
    ``values[c]`` (:func:`traversal_latents`); all codes are decoded in one batch in eval and inference mode
    (:func:`vaeinfo.models.contract.evaluating`) with :func:`vaeinfo.models.contract.decode_mean`, for any model of
    the contract. The result is an ordinary tensor (not an inference tensor), free to modify or concatenate.
    """
    check_model(model)
    z = traversal_latents(torch.as_tensor(z_base, dtype=torch.float32), factors, values)
    with evaluating(model):
        decoded = decode_mean(model, z.reshape(-1, z.shape[-1]).to(device_of(model)))
    return decoded.float().cpu().reshape(*z.shape[:2], *input_shape(model)).clone()  # clone: a normal tensor


def prepend_column(grid: torch.Tensor, image: torch.Tensor) -> torch.Tensor:
    """``image`` (*shape) put in front of every row of ``grid`` (rows, cols, *shape): (rows, cols + 1, *shape).

    E.g. the original image left of each traversal row of :func:`traversal_images`. ValueError for integer images
    (uint8 pixels 0-255 beside decoded means in [0, 1]).
    """
    _check_unit_images(image=torch.as_tensor(image))
    column = torch.as_tensor(image, dtype=grid.dtype).expand(len(grid), 1, *grid.shape[2:])
    return torch.cat([column, grid], dim=1)


def _check_unit_images(**tensors: torch.Tensor) -> None:
    """ValueError naming the first of ``tensors`` that is not floating point (images must be in [0, 1])."""
    for name, tensor in tensors.items():
        if not torch.is_floating_point(tensor):
            raise ValueError(f"{name} must be floating-point images in [0, 1], got dtype {tensor.dtype}; convert "
                             "uint8 pixels with vaeinfo.training.encode.to_unit (x / 255)")
