"""Figures of notebook 09 (β-VAE against β-TCVAE on dSprites): metrics against β with seeds as error bars, the MI
pulse of each model, heatmaps of I(z_j; v_k), and the authors' closed form against the exact MI. Each returns a
matplotlib Figure (save it with :func:`vaeinfo.viz.plots.save_figure`); the ELBO decomposition uses
:func:`vaeinfo.viz.plots.stacked_bars` and the traversals :func:`vaeinfo.viz.plots.labelled_grid`."""

from __future__ import annotations

import math

import matplotlib.pyplot as plt
import numpy as np

from .plots import per_factor


def metric_panels(betas, panels: dict[str, dict[str, np.ndarray]], ncols: int = 3, title: str = "") -> plt.Figure:
    """One panel per entry of ``panels`` (y-axis label -> named series), each series against β, ``ncols`` per row.

    Parameters
    ----------
    betas : (B,) the β grid (x axis).
    panels : ylabel -> {series name -> (n_seeds, B) values, one row per seed}. Drawn as the mean over the seeds with
        error bars of one standard deviation (ddof 1; none with one seed), and every seed's value as a small dot.
        A series named with "histogram" is dashed.
    """
    betas = np.asarray(betas, dtype=float)
    fig, axes = _panel_grid(len(panels), ncols, (4.4, 3.5))
    for ax, (ylabel, series) in zip(axes.flat, panels.items()):
        for i, (name, values) in enumerate(series.items()):
            values = np.asarray(values, dtype=float)
            if values.ndim != 2 or values.shape[1] != len(betas):
                raise ValueError(f"series {name!r} must be (n_seeds, {len(betas)}) values, got shape {values.shape}")
            spread = values.std(axis=0, ddof=1) if len(values) > 1 else None
            ax.errorbar(betas, values.mean(axis=0), yerr=spread, color=f"C{i}", marker="o", markersize=4,
                        capsize=3, linestyle="--" if "histogram" in name else "-",
                        label=f"{name} ({len(values)} seed{'s' if len(values) > 1 else ''})")
            if len(values) > 1:
                ax.plot(np.broadcast_to(betas, values.shape).ravel(), values.ravel(), ".", color=f"C{i}", alpha=0.4)
        ax.set(xlabel="β", ylabel=ylabel, xticks=betas, xticklabels=[f"{b:g}" for b in betas])
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    fig.suptitle(title)  # "" draws none
    fig.tight_layout()
    return fig


def mi_pulses(mi: dict[str, np.ndarray], threshold: float = 0.5, ncols: int = 3, title: str = "") -> plt.Figure:
    """One panel per model: I(X; Z_h) of every latent dimension in nats, the ones >= ``threshold`` in red.

    mi : model name -> (d,) per-dimension MI (nats); panels in this order, ``ncols`` per row, one shared y axis.
    """
    for name, values in mi.items():
        per_factor(**{f"mi[{name!r}]": values})
    fig, axes = _panel_grid(len(mi), ncols, (3.6, 2.4), sharey=True)
    for ax, (name, values) in zip(axes.flat, mi.items()):
        values = np.asarray(values, dtype=float)
        above = values >= threshold
        ax.bar(np.arange(len(values)), values, color=np.where(above, "C3", "0.6"), width=0.8)
        ax.axhline(threshold, color="C3", linestyle="--", linewidth=0.8)
        ax.set_title(f"{name}: {int(above.sum())} ≥ {threshold:g}, Σ {values.sum():.2f}", fontsize=8, loc="left")
        ax.set_xticks(np.arange(len(values)))
        ax.tick_params(labelsize=7)
    for ax in axes[:, 0]:
        ax.set_ylabel("I(X; Z_h) [nats]", fontsize=8)
    for ax in axes[-1]:
        ax.set_xlabel("latent dimension h", fontsize=8)
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def factor_mi_heatmaps(matrices: dict[str, np.ndarray], factor_names, ncols: int = 3, title: str = "") -> plt.Figure:
    """One seaborn heatmap per model of I(z_j; v_k) in nats: rows the latent dimensions, columns the ground-truth
    factors, one colour scale for all panels (0 to the largest value), each cell annotated.

    matrices : model name -> (L, K) I(z_j; v_k) in nats (every model with the same K = len(factor_names)).
    """
    factor_names = list(factor_names)
    arrays = {name: np.asarray(m, dtype=float) for name, m in matrices.items()}
    for name, m in arrays.items():
        if m.ndim != 2 or m.shape[1] != len(factor_names):
            raise ValueError(f"matrix {name!r} must be (L, {len(factor_names)}) (one column per factor), got {m.shape}")
    finite = np.concatenate([m[np.isfinite(m)] for m in arrays.values()] + [np.zeros(0)])
    top = float(finite.max()) if finite.size and finite.max() > 0 else 1.0  # NaN cells (e.g. a failed model) ignored
    rows = max((m.shape[0] for m in arrays.values()), default=1)
    fig, axes = _panel_grid(len(arrays), ncols, (3.5, 0.24 * rows + 1.0))
    ncols = axes.shape[1]
    import seaborn as sns  # here, not at the top: it loads scipy.stats (~1.3 s), and only the heatmaps use it

    for i, (ax, (name, m)) in enumerate(zip(axes.flat, arrays.items())):
        sns.heatmap(m, ax=ax, vmin=0.0, vmax=top, cmap="viridis", annot=True, fmt=".2f", annot_kws={"fontsize": 6},
                    xticklabels=factor_names, yticklabels=[f"z{j}" for j in range(len(m))],
                    cbar=i % ncols == ncols - 1 or i == len(arrays) - 1, cbar_kws={"label": "I(z_j; v_k) [nats]"})
        ax.set_title(name, fontsize=8, loc="left")
        ax.tick_params(axis="x", labelrotation=0, labelsize=7)
        ax.tick_params(axis="y", labelrotation=0, labelsize=7)
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def closed_form_scatter(exact: dict[str, np.ndarray], gaussian: dict[str, np.ndarray],
                        title: str = "") -> plt.Figure:
    """The authors' closed form against the exact I(X; Z_h), one point per latent dimension, one colour per model,
    with the diagonal y = x (the closed form is an upper bound, so its points lie on or above it).

    exact, gaussian : model name -> (d,) I(X; Z_h) in nats, the same names in both.
    """
    if list(exact) != list(gaussian):
        raise ValueError(f"exact and gaussian must name the same models in the same order, got {list(exact)} and "
                         f"{list(gaussian)}")
    fig, ax = plt.subplots(figsize=(5.2, 4.4))
    top = 0.0
    for i, name in enumerate(exact):
        x, y = np.asarray(exact[name], dtype=float), np.asarray(gaussian[name], dtype=float)
        if x.shape != y.shape:
            raise ValueError(f"model {name!r}: exact {x.shape} and gaussian {y.shape} must have one shape")
        ax.scatter(x, y, s=16, color=f"C{i % 10}", marker="os^D"[i // 10 % 4], label=name)
        top = max(top, float(x.max(initial=0)), float(y.max(initial=0)))
    ax.plot([0, top], [0, top], color="k", linewidth=0.8, linestyle=":", label="y = x")
    ax.set(xlabel="I(X; Z_h), exact [nats]", ylabel="closed form (authors') [nats]")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=6, ncol=2)
    if title:
        ax.set_title(title, fontsize=9)
    fig.tight_layout()
    return fig


def _panel_grid(count: int, ncols: int, cell: tuple[float, float], **kwargs) -> tuple[plt.Figure, np.ndarray]:
    """A figure of ``count`` panels, at most ``ncols`` per row, each ``cell`` (width, height) inches; the unused
    axes of the last row are hidden. Returns the figure and the (rows, cols) array of axes."""
    ncols = max(1, min(ncols, count))
    nrows = max(1, math.ceil(count / ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(cell[0] * ncols, cell[1] * nrows), squeeze=False, **kwargs)
    for ax in axes.flat[count:]:
        ax.axis("off")
    return fig, axes
