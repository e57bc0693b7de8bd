"""Figure functions: each returns a matplotlib Figure; :func:`save_figure` writes PNG + PDF atomically."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import torch

from ..checks import check_integer
from ..io import atomic_open


def per_factor(**arrays) -> list[np.ndarray]:
    """The given arrays as float (d,) arrays of one value per factor, all of the same d; ValueError naming them
    otherwise (checked before a figure is made, so that a bad call leaves no half-drawn figure open)."""
    values = [np.asarray(a, dtype=float) for a in arrays.values()]
    shapes = {name: v.shape for name, v in zip(arrays, values)}
    if any(v.ndim != 1 for v in values) or len(set(shapes.values())) != 1:
        raise ValueError(f"{', '.join(arrays)} must be (d,) arrays, one value per factor, of one d; got {shapes}")
    return values


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
    ncols = check_integer(ncols, "ncols", low=1, meaning="images per row")
    n = arr.shape[0]
    if titles is not None and len(titles) != n:
        raise ValueError(f"titles must give one title per image ({n}), got {len(titles)}")
    nrows = max(1, -(-n // ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(ncols * cell_inches, nrows * cell_inches), squeeze=False)
    for k, ax in enumerate(axes.flat):
        ax.axis("off")
        if k >= n:
            continue
        _show(ax, arr[k])
        if titles is not None:
            ax.set_title(titles[k], fontsize=8)
    fig.tight_layout(pad=0.2)
    return fig


def _show(ax: plt.Axes, image: np.ndarray) -> None:
    """Draw one (C, H, W) image in [0, 1] (grey for C = 1) on ``ax``."""
    img = image.transpose(1, 2, 0)
    ax.imshow(img[..., 0] if img.shape[-1] == 1 else img.clip(0, 1), cmap="gray", vmin=0, vmax=1,
              interpolation="nearest")


def save_figure(fig: plt.Figure, stem: str | Path, dpi: int = 120) -> list[Path]:
    """Save ``fig`` as ``<stem>.png`` and ``<stem>.pdf`` (atomic writes, reproducible PDF metadata)."""
    paths = []
    for ext, metadata in (("png", {"Software": None}), ("pdf", {"CreationDate": None, "Producer": None})):
        path = Path(f"{stem}.{ext}")
        with atomic_open(path, "wb") as fh:
            fig.savefig(fh, format=ext, dpi=dpi, metadata=metadata, bbox_inches="tight")
        paths.append(path)
    return paths


def labelled_grid(images: torch.Tensor | np.ndarray, row_labels: list[str], col_labels: list[str] | None = None,
                  cell_inches: float = 0.8) -> plt.Figure:
    """A rows x cols grid of images with a label left of each row and optionally above each column.

    Parameters
    ----------
    images : (rows, cols, C, H, W) with C in {1, 3}, values in [0, 1].
    row_labels : one label per row (e.g. "z17  I=2.31 nats").
    col_labels : one label per column (e.g. the traversal value), or None.
    """
    arr = images.detach().cpu().numpy() if isinstance(images, torch.Tensor) else np.asarray(images)
    if arr.ndim != 5 or arr.shape[2] not in (1, 3):
        raise ValueError(f"labelled_grid expects (rows, cols, C, H, W) with C = 1 or 3, got shape {arr.shape}")
    rows, cols = arr.shape[:2]
    if len(row_labels) != rows or (col_labels is not None and len(col_labels) != cols):
        raise ValueError(f"labelled_grid: {rows} rows x {cols} columns need as many labels, "
                         f"got {len(row_labels)} and {None if col_labels is None else len(col_labels)}")
    fig, axes = plt.subplots(rows, cols, figsize=(cols * cell_inches + 1.2, rows * cell_inches + 0.3), squeeze=False)
    for r in range(rows):
        for c in range(cols):
            ax = axes[r, c]
            _show(ax, arr[r, c])
            ax.set_xticks([]), ax.set_yticks([])
            if c == 0:
                ax.set_ylabel(row_labels[r], rotation=0, ha="right", va="center", fontsize=8)
            if r == 0 and col_labels is not None:
                ax.set_title(col_labels[c], fontsize=8)
    fig.subplots_adjust(wspace=0.05, hspace=0.05)
    return fig


def mi_pulse(mi: np.ndarray, variance: np.ndarray | None = None, threshold: float = 0.5,
             title: str = "") -> plt.Figure:
    """The paper's "pulse" plot: per-factor MI I(X; Z_h) in nats against the factor index.

    Parameters
    ----------
    mi : (d,) MI per factor, nats.
    variance : optional (d,) aggregate variance Var(z_h), drawn in a second panel beneath.
    threshold : MI level (nats) drawn as a dashed line; factors above it are the influential ones.
    title : figure title.
    """
    mi = np.asarray(mi, dtype=float)
    if mi.ndim != 1 or (variance is not None and np.shape(variance) != mi.shape):
        raise ValueError(f"mi_pulse needs mi (d,) and variance (d,) or None, got shapes {mi.shape} and "
                         f"{None if variance is None else np.shape(variance)}")
    index = np.arange(len(mi))
    active = mi >= threshold
    panels = 1 if variance is None else 2
    fig, axes = plt.subplots(panels, 1, figsize=(10, 2.6 * panels), sharex=True, squeeze=False)
    ax = axes[0, 0]
    markers, stems, _ = ax.stem(index, mi, basefmt=" ")
    plt.setp(stems, linewidth=1.0, color="0.5")
    plt.setp(markers, markersize=3, color="0.5")
    ax.plot(index[active], mi[active], "o", color="C3", markersize=5)
    ax.axhline(threshold, color="C3", linestyle="--", linewidth=0.8)
    ax.set_ylabel("I(X; Z_h) [nats]")
    ax.set_title(f"{int(active.sum())} of {len(mi)} factors carry ≥ {threshold} nats (red)", fontsize=9, loc="left")
    if variance is not None:
        vax = axes[1, 0]
        vax.bar(index, np.asarray(variance, dtype=float), color=np.where(active, "C3", "0.6"), width=0.8)
        vax.axhline(1.0, color="k", linestyle=":", linewidth=0.8)
        vax.set_ylabel("Var(z_h)")
    axes[-1, 0].set_xlabel("factor index h")
    axes[-1, 0].set_xlim(-1, len(mi))
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def variance_vs_mi(variance: np.ndarray, mi: np.ndarray, threshold: float = 0.5, title: str = "") -> plt.Figure:
    """Scatter of aggregate variance Var(z_h) against MI (nats), one point per factor."""
    variance, mi = per_factor(variance=variance, mi=mi)
    fig, ax = plt.subplots(figsize=(5, 4))
    active = mi >= threshold
    ax.scatter(variance[~active], mi[~active], s=14, color="0.5", label="collapsed / weak")
    ax.scatter(variance[active], mi[active], s=22, color="C3", label=f"influential (I ≥ {threshold} nats)")
    ax.axhline(threshold, color="C3", linestyle="--", linewidth=0.8)
    ax.set_xlabel("aggregate variance Var(z_h)")
    ax.set_ylabel("I(X; Z_h) [nats]")
    ax.legend(fontsize=8)
    if title:
        ax.set_title(title)
    fig.tight_layout()
    return fig


def stacked_bars(parts: dict[str, np.ndarray], labels: list[str], ylabel: str, title: str = "") -> plt.Figure:
    """Stacked bars, one bar per label, one stacked segment per entry of ``parts`` (each an array of len(labels))."""
    parts = dict(zip(parts, per_factor(**parts))) if parts else {}
    wrong = {name: len(values) for name, values in parts.items() if len(values) != len(labels)}
    if wrong:
        raise ValueError(f"every part needs one value per label ({len(labels)}), got lengths {wrong}")
    fig, ax = plt.subplots(figsize=(max(5, 0.35 * len(labels) + 2), 3.5))
    bottom = np.zeros(len(labels))
    for name, values in parts.items():
        values = np.asarray(values, dtype=float)
        ax.bar(labels, values, bottom=bottom, label=name, width=0.8)
        bottom += values
    ax.set_ylabel(ylabel)
    ax.tick_params(axis="x", labelrotation=90, labelsize=7)
    ax.legend(fontsize=8)
    if title:
        ax.set_title(title)
    fig.tight_layout()
    return fig


def curves(x: np.ndarray, ys: dict[str, np.ndarray], xlabel: str, ylabel: str, title: str = "",
           logx: bool = False, styles: dict[str, dict] | None = None) -> plt.Figure:
    """Line plot of several named series over the same x (markers at the points).

    styles : optional series name -> matplotlib line properties (e.g. ``{"color": "C0", "linestyle": "--"}``)
        that replace the defaults of that series (solid line, round markers, the next colour of the cycle).
    ValueError, before any figure is made, for no series or a series that is not one value per x.
    """
    ys = {name: np.asarray(y, dtype=float) for name, y in ys.items()}
    wrong = {name: y.shape for name, y in ys.items() if y.shape != np.shape(x)}
    if np.ndim(x) != 1 or not ys or wrong:
        raise ValueError(f"curves needs x (m,) and at least one series of shape (m,), got x {np.shape(x)} and series "
                         f"{wrong or 'none'}")
    fig, ax = plt.subplots(figsize=(5.5, 3.8))
    for name, y in ys.items():
        ax.plot(x, y, **{"marker": "o", "markersize": 4, **(styles or {}).get(name, {})},
                label=name)
    if logx:
        ax.set_xscale("symlog", linthresh=1)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    if title:
        ax.set_title(title)
    fig.tight_layout()
    return fig


def heatmap(values: np.ndarray, row_labels: list[str], col_labels: list[str], *, center: float = 0.0,
            colorbar_label: str = "", title: str = "") -> plt.Figure:
    """A (rows, cols) matrix as a seaborn heatmap, diverging colours centred on ``center`` (NaN cells left blank).

    Parameters
    ----------
    values : (rows, cols) numbers, e.g. the AUC of each factor for each attribute (center 0.5).
    row_labels, col_labels : one label per row / column (columns are written vertically).
    """
    values = np.asarray(values, dtype=float)
    if values.ndim != 2 or values.shape != (len(row_labels), len(col_labels)):
        raise ValueError(f"heatmap: values of shape {values.shape} need {values.shape[0] if values.ndim else 0} row "
                         f"and column labels, got {len(row_labels)} and {len(col_labels)}")
    spread = np.nanmax(np.abs(values - center)) if np.isfinite(values).any() else 1.0
    rows, cols = values.shape
    fig, ax = plt.subplots(figsize=(max(5.0, 0.24 * cols + 2.0), max(2.0, 0.35 * rows + 1.6)))
    import seaborn as sns  # here, not at the top: it loads scipy.stats (~1.3 s), and only the heatmap uses it

    sns.heatmap(values, ax=ax, cmap="RdBu_r", vmin=center - spread, vmax=center + spread, xticklabels=col_labels,
                yticklabels=row_labels, cbar_kws={"label": colorbar_label, "fraction": 0.03, "pad": 0.01})
    ax.tick_params(axis="x", labelrotation=90, labelsize=7)
    ax.tick_params(axis="y", labelrotation=0, labelsize=8)
    if title:
        ax.set_title(title, fontsize=9, loc="left")
    fig.tight_layout()
    return fig


def label_mi_bars(label_mi: dict[str, np.ndarray], thresholds: dict[str, float], title: str = "") -> plt.Figure:
    """One panel per label: I(Z_h; Y) in nats per factor, with a dashed significance threshold.

    Parameters
    ----------
    label_mi : label name -> (d,) MI between each factor and that label, nats.
    thresholds : label name -> level (nats) above which a factor is called relevant (drawn dashed; bars above
        it in red).
    """
    missing = [name for name in label_mi if name not in thresholds]
    if not label_mi or missing:
        raise ValueError(f"label_mi needs at least one label and a threshold for each; none for {missing}")
    shapes = {name: np.shape(values) for name, values in label_mi.items()}
    if len(set(shapes.values())) != 1 or len(next(iter(shapes.values()))) != 1:
        raise ValueError(f"label_mi needs one (d,) array per label, the same d for every label; got {shapes}")
    fig, axes = plt.subplots(len(label_mi), 1, figsize=(10, 2.4 * len(label_mi)), sharex=True, squeeze=False)
    for ax, (name, values) in zip(axes[:, 0], label_mi.items()):
        values = np.asarray(values, dtype=float)
        above = values > thresholds[name]
        ax.bar(np.arange(len(values)), values, color=np.where(above, "C3", "0.6"), width=0.8)
        ax.axhline(thresholds[name], color="C3", linestyle="--", linewidth=0.8)
        ax.set_ylabel(f"I(Z_h; {name}) [nats]")
        ax.set_title(f"{name}: {int(above.sum())} factors above the shuffled-label level "
                     f"{thresholds[name]:.3f} nats (red)", fontsize=9, loc="left")
    axes[-1, 0].set_xlabel("factor index h")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def factors_vs_ratings(values: np.ndarray, ratings: np.ndarray, factor_labels: list[str], rating_names: list[str],
                       threshold: float = 5.0, title: str = "") -> plt.Figure:
    """A grid of scatter plots: factor values (columns) against ratings (rows), one point per trial.

    Parameters
    ----------
    values : (n, k) e.g. each trial's mean encoder value of k factors.
    ratings : (n, r) the trials' ratings (DEAP: 1..9).
    factor_labels, rating_names : k column titles and r rating names.
    threshold : rating level drawn dotted (DEAP's high/low split at 5); each panel is titled with Pearson's r.
    """
    values, ratings = np.asarray(values, dtype=float), np.asarray(ratings, dtype=float)
    if values.ndim != 2 or ratings.ndim != 2 or len(values) != len(ratings) or len(values) < 2 or \
            (len(factor_labels), len(rating_names)) != (values.shape[1], ratings.shape[1]) or \
            not all(factor_labels) or not all(rating_names):
        raise ValueError(f"values (n, k) and ratings (n, r) need the same n >= 2, k non-empty factor_labels and r "
                         f"non-empty rating_names; got {values.shape}, {ratings.shape}, {list(factor_labels)} and "
                         f"{list(rating_names)}")
    k, r = values.shape[1], ratings.shape[1]
    fig, axes = plt.subplots(r, k, figsize=(3.2 * k, 2.8 * r), squeeze=False)
    for i in range(r):
        for j in range(k):
            ax = axes[i, j]
            ax.scatter(values[:, j], ratings[:, i], s=10, alpha=0.6, color=f"C{j}")
            ax.axhline(threshold, color="k", linestyle=":", linewidth=0.8)
            constant = np.ptp(values[:, j]) == 0 or np.ptp(ratings[:, i]) == 0
            corr = "undefined (constant)" if constant else f"{np.corrcoef(values[:, j], ratings[:, i])[0, 1]:+.2f}"
            ax.set_title(f"{factor_labels[j]}  r = {corr}", fontsize=9)
            ax.set_xlabel(f"{factor_labels[j].split()[0]} (trial mean of μ)", fontsize=8)
            ax.set_ylabel(f"{rating_names[i]} rating", fontsize=8)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig
