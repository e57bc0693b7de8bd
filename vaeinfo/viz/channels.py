"""Figures of notebook 10 (channels of a VAE ensemble, :mod:`vaeinfo.info.fingerprints`): each returns a matplotlib
Figure; save with :func:`vaeinfo.viz.plots.save_figure`."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from ..info.influence import factor_indices
from .plots import per_factor

HOTSPOT_COLOURS = plt.get_cmap("tab10").colors


def hotspot_colour(hotspot: int) -> tuple[float, float, float]:
    """The colour of hotspot ``hotspot`` (0, 1, ...) in every figure of the notebook."""
    return HOTSPOT_COLOURS[hotspot % len(HOTSPOT_COLOURS)]


def channel_info_grid(info: np.ndarray, threshold: float = 0.01, title: str = "") -> plt.Figure:
    """Information of every channel of every member, bits: an (M, d) heatmap annotated with the values; channels
    below ``threshold`` bits are shaded grey (dropped before clustering).

    Parameters
    ----------
    info : (M, d) I(U; X) in bits of channel h of member m.
    threshold : bits.
    """
    info = np.asarray(info, dtype=float)
    if info.ndim != 2:
        raise ValueError(f"channel_info_grid expects (members, channels), got shape {info.shape}")
    members, channels = info.shape
    fig, ax = plt.subplots(figsize=(0.55 * channels + 2.0, 0.32 * members + 1.4))
    import seaborn as sns  # here, not at the top: it loads scipy.stats (~1.3 s)

    sns.heatmap(np.where(info >= threshold, info, np.nan), ax=ax, cmap="viridis", vmin=0, annot=members <= 30,
                fmt=".2f", annot_kws={"fontsize": 6}, xticklabels=[f"z{h}" for h in range(channels)],
                yticklabels=[f"m{m}" for m in range(members)], cbar_kws={"label": "I(U; X) [bits]", "pad": 0.01})
    ax.set_facecolor("0.85")
    ax.tick_params(axis="y", labelrotation=0, labelsize=7)
    ax.tick_params(axis="x", labelsize=7)
    ax.set_xlabel("channel")
    ax.set_ylabel("member")
    kept = int((info >= threshold).sum())
    ax.set_title(title or f"{kept} of {info.size} channels carry ≥ {threshold:g} bits (grey: dropped)", fontsize=9,
                 loc="left")
    fig.tight_layout()
    return fig


def hotspot_structure(nmi: np.ndarray, ordering: np.ndarray, reachability: np.ndarray, labels: np.ndarray,
                      label_nmi: np.ndarray | None = None, title: str = "",
                      label_name: str = "class label") -> plt.Figure:
    """The authors' figure: the OPTICS reachability profile (hotspots shaded), the NMI matrix of the kept channels
    in OPTICS order and, left, each channel's NMI with a label (``label_name`` on the axis).

    Parameters
    ----------
    nmi : (K, K) NMI between the kept channels (NaN drawn as 0).
    ordering : (K,) OPTICS order of the channels.
    reachability : (K,) reachability distances in OPTICS order (the first, +inf, is drawn at the top of the axis).
    labels : (K,) hotspot of each channel (-1: none), indexed like ``nmi``.
    label_nmi : optional (K,) NMI of each channel with the label, indexed like ``nmi``.
    label_name : what ``label_nmi`` is with, e.g. "the digit" or "its best factor" (the axis reads "NMI with ...").
    """
    nmi, ordering, labels = np.asarray(nmi, dtype=float), np.asarray(ordering), np.asarray(labels)
    k = len(ordering)
    if nmi.shape != (k, k) or len(reachability) != k or len(labels) != k:
        raise ValueError(f"hotspot_structure: nmi {nmi.shape}, ordering ({k},), reachability ({len(reachability)},) "
                         f"and labels ({len(labels)},) must describe the same K channels")
    fig = plt.figure(figsize=(7.0, 6.4))
    grid = fig.add_gridspec(2, 3, width_ratios=[1, 6, 0.25], height_ratios=[1, 6], hspace=0.06, wspace=0.05)
    top, matrix = fig.add_subplot(grid[0, 1]), fig.add_subplot(grid[1, 1])
    reach = np.asarray(reachability, dtype=float)
    finite = reach[np.isfinite(reach)]
    ceiling = 1.05 * finite.max() if len(finite) else 1.0
    reach = np.where(np.isfinite(reach), reach, ceiling)
    x = np.arange(k)
    ordered_labels = labels[ordering]
    for h in sorted(set(ordered_labels.tolist()) - {-1}):
        span = x[ordered_labels == h]
        top.axvspan(span.min() - 0.5, span.max() + 0.5, color=hotspot_colour(h), alpha=0.6, lw=0)
        top.text(span.mean(), ceiling * 0.95, f"H{h + 1}", ha="center", va="top", fontsize=7)
    top.fill_between(x, reach, step="mid", color="0.25", zorder=3)
    top.set_xlim(-0.5, k - 0.5)
    top.set_ylim(0, ceiling)
    top.set_xticks([])
    top.set_ylabel("reachability", fontsize=8)
    image = matrix.imshow(np.nan_to_num(nmi[np.ix_(ordering, ordering)]), cmap="magma_r", vmin=0, vmax=1,
                          aspect="auto", interpolation="nearest")
    matrix.set_xticks([])
    matrix.set_yticks([])
    matrix.set_xlabel(f"{k} kept channels in OPTICS order")
    colorbar = fig.colorbar(image, cax=fig.add_subplot(grid[1, 2]))
    colorbar.set_label("NMI(U_i, U_j)")
    if label_nmi is not None:
        side = fig.add_subplot(grid[1, 0], sharey=matrix)
        side.plot(np.asarray(label_nmi, dtype=float)[ordering], x, color="k", lw=1)
        side.set_xlim(1, 0)
        side.set_xlabel(f"NMI with\n{label_name}", fontsize=8)
        side.tick_params(axis="y", left=False, labelleft=False)
    if title:
        fig.suptitle(title, fontsize=10)
    return fig


def hotspot_coverage(coverage: np.ndarray, sizes: np.ndarray, n_members: int, title: str = "") -> plt.Figure:
    """Bars: how many ensemble members have a channel in each hotspot (of ``n_members``), and how many channels the
    hotspot holds (more than members: a member with two channels there)."""
    coverage, sizes = np.asarray(coverage), np.asarray(sizes)
    if coverage.shape != sizes.shape:
        raise ValueError(f"hotspot_coverage: coverage {coverage.shape} and sizes {sizes.shape} must match")
    fig, ax = plt.subplots(figsize=(max(3.5, 0.6 * len(coverage) + 1.5), 3.0))
    x = np.arange(len(coverage))
    ax.bar(x - 0.2, coverage, width=0.4, color=[hotspot_colour(h) for h in x], label="members covered")
    ax.bar(x + 0.2, sizes, width=0.4, color="0.6", label="channels")
    ax.axhline(n_members, color="k", linestyle=":", linewidth=0.8)
    ax.set_xticks(x, [f"H{h + 1}" for h in x])
    ax.set_ylabel("count")
    ax.legend(fontsize=7, loc="lower right")
    ax.set_title(title or f"members covered per hotspot (dotted: all {n_members})", fontsize=9, loc="left")
    fig.tight_layout()
    return fig


def hotspot_factors(factor_nmi: np.ndarray, factor_names: tuple[str, ...] | list[str], coverage: np.ndarray,
                    n_members: int, title: str = "") -> plt.Figure:
    """Which ground-truth factor each hotspot is: an (H, L) heatmap of the mean NMI between a hotspot's channels
    and each factor, rows labelled with the members the hotspot covers.

    Parameters
    ----------
    factor_nmi : (H, L) mean NMI (:meth:`vaeinfo.experiments.ensembles.ChannelAnalysis.hotspot_factor_nmi`).
    factor_names : the L factor names.
    coverage : (H,) members with a channel in each hotspot.
    n_members : ensemble size.
    """
    nmi, coverage = np.asarray(factor_nmi, dtype=float), np.asarray(coverage)
    if nmi.ndim != 2 or nmi.shape[1] != len(factor_names) or len(coverage) != len(nmi):
        raise ValueError(f"hotspot_factors: factor_nmi {nmi.shape} must be (hotspots, {len(factor_names)} factors) "
                         f"with one coverage per hotspot ({len(coverage)} given)")
    import seaborn as sns  # here, not at the top: it loads scipy.stats (~1.3 s)

    fig, ax = plt.subplots(figsize=(0.9 * len(factor_names) + 2.6, 0.4 * max(len(nmi), 1) + 1.4))
    sns.heatmap(nmi, ax=ax, cmap="magma", vmin=0, annot=True, fmt=".2f", annot_kws={"fontsize": 7},
                xticklabels=list(factor_names), cbar_kws={"label": "mean NMI", "pad": 0.01},
                yticklabels=[f"H{h + 1} ({c} of {n_members})" for h, c in enumerate(coverage)])
    ax.tick_params(axis="y", labelrotation=0, labelsize=7)
    ax.tick_params(axis="x", labelsize=8)
    ax.set_xlabel("ground-truth factor")
    ax.set_ylabel("hotspot (members covered)")
    ax.set_title(title or "which factor each hotspot carries", fontsize=9, loc="left")
    fig.tight_layout()
    return fig


def bound_versus_exact(kt_bits: np.ndarray, exact_bits: np.ndarray, kept: np.ndarray | None = None,
                       title: str = "") -> plt.Figure:
    """Scatter of the fingerprint (Kolchinsky-Tracey) estimate against the exact I(X; Z_h), both in bits, one
    point per channel, with the diagonal: the bound lies on or below it."""
    kt_bits, exact_bits = per_factor(kt_bits=kt_bits, exact_bits=exact_bits)
    mask = np.zeros(len(kt_bits), dtype=bool)
    if kept is not None:
        mask[factor_indices(kept, len(kt_bits), "kept")] = True
    fig, ax = plt.subplots(figsize=(4.2, 4.0))
    ax.scatter(exact_bits[~mask], kt_bits[~mask], s=10, color="0.6", label="dropped")
    ax.scatter(exact_bits[mask], kt_bits[mask], s=12, color="C0", label="kept")
    top = max(exact_bits.max(), kt_bits.max(), 1e-3) * 1.05
    ax.plot([0, top], [0, top], "k--", lw=0.8, label="KT = exact")
    ax.set_xlim(0, top)
    ax.set_ylim(0, top)
    ax.set_xlabel("exact I(X; Z_h) [bits]")
    ax.set_ylabel("fingerprint I(U; X) [bits] (KT bound)")
    ax.legend(fontsize=7)
    ax.set_title(title or "the fingerprint estimate is a lower bound", fontsize=9, loc="left")
    fig.tight_layout()
    return fig


def fused_versus_members(fused_mu: list[np.ndarray], member_mu: list[np.ndarray], titles: list[str],
                         colour_by: np.ndarray | None = None) -> plt.Figure:
    """One panel per fused representation: each member channel's encoder mean (standardised, sign-aligned) against
    the fused mean, over the evaluation points.

    Parameters
    ----------
    fused_mu : per hotspot, (N,) the fused representation's means in one dimension (e.g.
        :func:`vaeinfo.experiments.ensembles.fused_axis`).
    member_mu : per hotspot, (n_h, N) the means of its channels.
    titles : one title per panel.
    colour_by : optional (N,) integer per point (e.g. the digit), for the colours.
    """
    if not (len(fused_mu) == len(member_mu) == len(titles)):
        raise ValueError("fused_versus_members: one fused mean, one stack of member means and one title per panel")
    panels = max(1, len(fused_mu))
    cols = min(panels, 4)
    rows = -(-panels // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.0 * cols, 2.8 * rows), squeeze=False)
    for ax in axes.flat[len(fused_mu):]:
        ax.axis("off")
    for ax, f, members, title in zip(axes.flat, fused_mu, member_mu, titles):
        f = _standardise(np.asarray(f, dtype=float))
        for m in np.atleast_2d(members):
            m = _standardise(np.asarray(m, dtype=float))
            m = m if np.corrcoef(f, m)[0, 1] >= 0 else -m
            colours = {} if colour_by is None else {"c": colour_by, "cmap": "tab10", "vmin": -0.5, "vmax": 9.5}
            ax.scatter(f, m, s=3, alpha=0.35, **colours)
        ax.set_title(title, fontsize=8)
        ax.set_xlabel("fused μ (standardised)", fontsize=7)
        ax.set_ylabel("member channel μ", fontsize=7)
        ax.tick_params(labelsize=6)
    fig.tight_layout()
    return fig


def _standardise(x: np.ndarray) -> np.ndarray:
    """(x - mean) / std (std 1 when x is constant)."""
    std = x.std()
    return (x - x.mean()) / (std if std > 0 else 1.0)
