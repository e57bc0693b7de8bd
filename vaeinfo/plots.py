"""Figure functions: each returns a matplotlib Figure; :func:`save_figure` writes PNG + PDF atomically."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import torch

from .io import atomic_open


def image_grid(images: torch.Tensor | np.ndarray, ncols: int = 8, titles: list[str] | None = None,
               cell_inches: float = 1.0) -> plt.Figure:
    """A grid of images.

    Parameters
    ----------
    images : (n, C, H, W) with C in {1, 3}, values in [0, 1].
    ncols : images per row.
    titles : optional one title per image.
    cell_inches : size of one cell in inches.
    """
    arr = images.detach().cpu().numpy() if isinstance(images, torch.Tensor) else np.asarray(images)
    if arr.ndim != 4 or arr.shape[1] not in (1, 3):
        raise ValueError(f"image_grid expects (n, C, H, W) with C = 1 or 3, got shape {arr.shape}")
    n = arr.shape[0]
    nrows = max(1, -(-n // ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(ncols * cell_inches, nrows * cell_inches), squeeze=False)
    for k, ax in enumerate(axes.flat):
        ax.axis("off")
        if k >= n:
            continue
        img = arr[k].transpose(1, 2, 0)
        ax.imshow(img[..., 0] if img.shape[-1] == 1 else img.clip(0, 1), cmap="gray", vmin=0, vmax=1,
                  interpolation="nearest")
        if titles is not None:
            ax.set_title(titles[k], fontsize=8)
    fig.tight_layout(pad=0.2)
    return fig


def save_figure(fig: plt.Figure, stem: str | Path, dpi: int = 120) -> list[Path]:
    """Save ``fig`` as ``<stem>.png`` and ``<stem>.pdf`` (atomic writes, reproducible PDF metadata)."""
    paths = []
    for ext, metadata in (("png", {"Software": None}), ("pdf", {"CreationDate": None, "Producer": None})):
        path = Path(f"{stem}.{ext}")
        with atomic_open(path, "wb") as fh:
            fig.savefig(fh, format=ext, dpi=dpi, metadata=metadata, bbox_inches="tight")
        paths.append(path)
    return paths
