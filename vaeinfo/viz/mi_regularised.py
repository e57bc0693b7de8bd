"""Figures of notebook 08 (the MI-regularised VAE): training curves of the bounds and KL halves, the per-factor
MI split into c and z, and the lambda sweep. Each returns a matplotlib Figure (save it with
:func:`vaeinfo.viz.plots.save_figure`); the traversals use :func:`vaeinfo.viz.plots.labelled_grid`."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from ..checks import check_integer
from .plots import per_factor

C_COLOUR, Z_COLOUR = "C0", "C1"  # the regularised code c and the other dimensions z, in every figure
CURVE_PANELS = (("mi_bound_c", "Î(c; x′) [nats]"), ("mi_bound_z", "Î(z; x′) [nats]"),
                ("kl_c", "KL of the c half [nats]"), ("kl_z", "KL of the z half [nats]"))


def bound_curves(curves: dict[str, dict[str, list[float]]], title: str = "") -> plt.Figure:
    """Four panels over the training epochs: I^(c; x'), I^(z; x'), and the KL term of the c and z halves (nats).

    Parameters
    ----------
    curves : model name -> its curves (``epoch`` and ``train_<term>`` / ``val_<term>`` lists, as
        :func:`vaeinfo.experiments.mi_regularised.curves` returns); validation solid, training dashed, one colour
        per model. A term a model lacks is left out of its panel.
    """
    fig, axes = plt.subplots(2, 2, figsize=(10, 6), sharex=True)
    for (term, label), ax in zip(CURVE_PANELS, axes.flat):
        for i, (name, curve) in enumerate(curves.items()):
            for split, style in (("val", "-"), ("train", "--")):
                if f"{split}_{term}" in curve:
                    ax.plot(curve["epoch"], curve[f"{split}_{term}"], style, color=f"C{i + 2}", marker="o",
                            markersize=3, label=f"{name} ({'validation' if split == 'val' else 'training'})")
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
    for ax in axes[-1]:
        ax.set_xlabel("epoch")
    axes[0, 0].legend(fontsize=7)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def split_pulse(mi: dict[str, np.ndarray], c_dims: list[int], bounds: dict[str, float] | None = None,
                threshold: float = 0.5, title: str = "") -> plt.Figure:
    """One panel per model: I(X; Z_h) of every factor (nats), bars of c in one colour and of z in another.

    Parameters
    ----------
    mi : model name -> (d,) per-factor MI in nats (every model with the same d).
    c_dims : the factor indices of c.
    bounds : model name -> the Barber-Agakov bound I^(c; x') in nats, written beside the exact per-factor sums in
        the panel title; or None.
    threshold : the influential level (nats), drawn dashed.
    """
    if not mi:
        raise ValueError("split_pulse needs the MI of at least one model")
    d = len(per_factor(**mi)[0])
    c_dims = [check_integer(c, "c_dims", low=0, high=d - 1, meaning="factor indices of c") for c in c_dims]
    fig, axes = plt.subplots(len(mi), 1, figsize=(8, 2.3 * len(mi)), sharex=True, sharey=True, squeeze=False)
    for ax, (name, values) in zip(axes[:, 0], mi.items()):
        values = np.asarray(values, dtype=float)
        in_c = np.isin(np.arange(len(values)), c_dims)
        ax.bar(np.flatnonzero(in_c), values[in_c], color=C_COLOUR, width=0.8, label="c (regularised)")
        ax.bar(np.flatnonzero(~in_c), values[~in_c], color=Z_COLOUR, width=0.8, label="z")
        ax.axhline(threshold, color="k", linestyle="--", linewidth=0.8)
        bound = "" if bounds is None else f"; bound Î(c; x′) = {bounds[name]:.2f}"
        ax.set_title(f"{name}: Σ_c I = {values[in_c].sum():.2f}, Σ_z I = {values[~in_c].sum():.2f} nats{bound}",
                     fontsize=9, loc="left")
        ax.set_ylabel("I(X; Z_h) [nats]")
    axes[0, 0].legend(fontsize=8)
    axes[-1, 0].set_xlabel("factor index h")
    axes[-1, 0].set_xticks(np.arange(len(next(iter(mi.values())))))
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def lambda_sweep(lambdas: list[float], panels: dict[str, dict[str, list[float]]], title: str = "") -> plt.Figure:
    """One panel per entry of ``panels`` (y-axis label -> named series), each series against lambda (symlog axis).

    E.g. ``{"information [nats]": {"Σ_c I(X; Z_h)": ..., "Î(c; x′), bound": ...}, "nats per image": {"−ELBO":
    ...}}``. A series named with "Σ_c", "(c;" or "c half" is drawn in c's colour, "Σ_z", "(z;" or "z half" in z's,
    the others in the next colours; dashed when its name says "bound"."""
    fig, axes = plt.subplots(1, len(panels), figsize=(4.6 * len(panels), 3.8), squeeze=False)
    for ax, (ylabel, series) in zip(axes[0], panels.items()):
        for i, (name, values) in enumerate(series.items()):
            ax.plot(lambdas, values, marker="o", markersize=4, color=_half_colour(name, f"C{i + 2}"),
                    linestyle="--" if "bound" in name else "-", label=name)
        ax.set_xscale("symlog", linthresh=0.5)  # lambda = 0 (the plain VAE) and a few spread values
        ax.set(xticks=lambdas, xticklabels=[f"{v:g}" for v in lambdas], xlabel="λ", ylabel=ylabel)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle(title)  # "" draws none
    fig.tight_layout()
    return fig


def _half_colour(name: str, other: str) -> str:
    """c's colour for a series of the c half ("Σ_c", "(c;", "c half"), z's for the z half, else ``other``."""
    if any(mark in name for mark in ("Σ_c", "(c;", "c half")):
        return C_COLOUR
    return Z_COLOUR if any(mark in name for mark in ("Σ_z", "(z;", "z half")) else other
