"""A classifier probe on frozen VAE features (the paper's classification-with-top-k-factors table).

The probe is an MLP d -> 256 ReLU -> n_classes trained with Adam (lr 1e-3) and cross-entropy on the
encoder means of the training images (the VAE stays frozen). At test time all factors but a chosen set
are zeroed (the prior mean) *without retraining*, to measure how much of the class information the
kept factors carry.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn


def train_probe(
    features: np.ndarray,
    labels: np.ndarray,
    *,
    n_classes: int | None = None,
    hidden: int = 256,
    epochs: int = 20,
    batch_size: int = 100,
    lr: float = 1e-3,
    seed: int = 0,
) -> nn.Sequential:
    """Train the MLP probe on (features, labels); returns the model in eval mode (on the CPU).

    Parameters
    ----------
    features : (n, d) float array, e.g. encoder means.
    labels : (n,) integer class indices in [0, n_classes).
    n_classes : number of classes (default: max label + 1).
    seed : seeds the initial weights and the batch order; the same seed gives the same probe on CPU.
    """
    x = torch.as_tensor(np.asarray(features), dtype=torch.float32)
    y = torch.as_tensor(np.asarray(labels), dtype=torch.int64)
    if x.ndim != 2 or y.shape != (x.shape[0],):
        raise ValueError(f"features must be (n, d) and labels (n,), got {tuple(x.shape)} and {tuple(y.shape)}")
    if not torch.isfinite(x).all():
        raise ValueError("features contain NaN or inf; check the encoder outputs")
    n_classes = int(y.max()) + 1 if n_classes is None else n_classes
    gen = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    model = nn.Sequential(nn.Linear(x.shape[1], hidden), nn.ReLU(), nn.Linear(hidden, n_classes))
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    loss_fn = nn.CrossEntropyLoss()
    for _ in range(epochs):
        for idx in torch.randperm(len(x), generator=gen).split(batch_size):
            opt.zero_grad(set_to_none=True)
            loss_fn(model(x[idx]), y[idx]).backward()
            opt.step()
    return model.eval()


def accuracy(model: nn.Module, features: np.ndarray, labels: np.ndarray, keep: np.ndarray | None = None) -> float:
    """Fraction of correct predictions with every factor outside ``keep`` set to 0 (all kept when None)."""
    x = torch.as_tensor(np.asarray(features), dtype=torch.float32)
    y = torch.as_tensor(np.asarray(labels), dtype=torch.int64)
    if keep is not None:
        mask = torch.zeros(x.shape[1], dtype=torch.bool)
        mask[torch.as_tensor(np.asarray(keep, dtype=np.int64))] = True
        x = x * mask
    with torch.inference_mode():
        return float((model(x).argmax(dim=1) == y).double().mean())
