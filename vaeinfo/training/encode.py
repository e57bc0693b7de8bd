"""Encoding a data set with any model of the contract (:mod:`vaeinfo.models.contract`), and the tensor helpers
training shares with it."""

from __future__ import annotations

import numpy as np
import torch

from ..data import ImageData
from ..models.contract import VAEModel, check_model, device_of, evaluating
from .cpu import configure_cpu


def encode(model: VAEModel, data, *, batch_size: int = 256, dtype=np.float64) -> tuple[np.ndarray, np.ndarray]:
    """Encoder outputs for every example: (mu, logvar), numpy arrays (n, d) of ``dtype``.

    ``model`` is any model of the contract (checked with ``check_model``); ``data`` is ImageData, a tensor or
    an array (n, *input_shape). Runs in batches under :func:`evaluating` on the model's device (``device_of``).
    Batches of a few hundred keep the activations in the CPU caches (batches of 1,000 ran ~1.5-2x slower for
    mnist_conv on a 2-core CPU).
    """
    check_model(model)
    x = as_images(data)
    device = device_of(model)
    configure_cpu()
    mu = np.empty((len(x), model.latent_dim), dtype=dtype)
    logvar = np.empty_like(mu)
    with evaluating(model):
        for start in range(0, len(x), batch_size):
            m, lv = model.encode(to_unit(x[start:start + batch_size].to(device)))
            mu[start:start + len(m)] = m.cpu().numpy()
            logvar[start:start + len(m)] = lv.cpu().numpy()
    return mu, logvar


def as_images(data) -> torch.Tensor:
    """The images of ImageData, or a tensor/array: float32 (no copy when already one), or uint8 kept as it is."""
    x = data.images if isinstance(data, ImageData) else torch.as_tensor(data)
    if x.dtype == torch.uint8:
        return x
    if not x.is_floating_point():
        raise TypeError(f"images must be floating point with values in [0, 1], or uint8 pixels 0-255; got {x.dtype}")
    return x.to(torch.float32)


def to_unit(batch: torch.Tensor) -> torch.Tensor:
    """A batch as float32 in [0, 1]: uint8 pixels divided by 255 (a new tensor), float32 returned as it is."""
    return batch.to(torch.float32).div_(255.0) if batch.dtype == torch.uint8 else batch
