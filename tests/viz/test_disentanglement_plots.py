"""vaeinfo.viz.disentanglement: notebook 09's figures draw what they are given (means and seed spreads, bar heights,
heatmap cells, scatter points) and reject mismatched inputs."""

from __future__ import annotations

import matplotlib
import numpy as np
import pytest

matplotlib.use("Agg")

from vaeinfo.viz import disentanglement as vd  # noqa: E402


def test_metric_panels_draw_the_seed_mean_with_one_standard_deviation():
    betas = [1.0, 4.0, 8.0]
    seeds = np.array([[0.1, 0.3, 0.2], [0.3, 0.5, 0.6]])  # 2 seeds: mean 0.2, 0.4, 0.4; std (ddof 1) 0.141, .., 0.283
    fig = vd.metric_panels(betas, {"MIG": {"β-TCVAE": seeds, "β-VAE": np.array([[0.05, 0.1, 0.15]])},
                                   "SAP": {"β-VAE": np.zeros((1, 3))}}, ncols=1)
    mig, sap = fig.axes[0], fig.axes[1]
    line = mig.get_lines()[0]
    np.testing.assert_allclose(line.get_xdata(), betas)
    np.testing.assert_allclose(line.get_ydata(), [0.2, 0.4, 0.4])
    segments = mig.collections[0].get_segments()  # the error bars of the first series, one per beta
    np.testing.assert_allclose([s[1, 1] - s[0, 1] for s in segments], 2 * seeds.std(axis=0, ddof=1), rtol=1e-12)
    dots = [ln for ln in mig.get_lines() if ln.get_linestyle() == "None" and ln.get_marker() == "."]
    assert len(dots) == 1 and sorted(dots[0].get_ydata()) == sorted(seeds.ravel())
    assert len(mig.collections) == 1  # one seed: no error bars for β-VAE
    assert [t.get_text() for t in mig.get_legend().get_texts()] == ["β-TCVAE (2 seeds)", "β-VAE (1 seed)"]
    assert mig.get_ylabel() == "MIG" and sap.get_ylabel() == "SAP" and len(fig.axes) == 2
    with pytest.raises(ValueError, match=r"must be \(n_seeds, 3\)"):
        vd.metric_panels(betas, {"MIG": {"β-VAE": np.zeros(3)}})


def test_mi_pulses_one_panel_per_model_with_the_influential_in_red():
    mi = {"a": np.array([0.0, 1.2, 0.5, 0.49]), "b": np.array([2.0, 0.1, 0.0, 0.0])}
    fig = vd.mi_pulses(mi, threshold=0.5, ncols=3)
    assert len(fig.axes) == 2  # ncols is capped at the number of models: no empty panel
    heights = [p.get_height() for p in fig.axes[0].patches]
    np.testing.assert_allclose(heights, mi["a"])
    red = [p.get_height() for p in fig.axes[0].patches if p.get_facecolor() == matplotlib.colors.to_rgba("C3")]
    assert red == [1.2, 0.5]
    assert fig.axes[0].get_title(loc="left") == "a: 2 ≥ 0.5, Σ 2.19"
    fig = vd.mi_pulses({**mi, "c": np.zeros(4)}, ncols=2)
    assert [ax.axison for ax in fig.axes] == [True, True, True, False]  # the unused fourth panel is hidden


def test_factor_mi_heatmaps_show_each_matrix_on_one_scale():
    a = np.array([[0.5, 0.0], [0.1, 2.0], [0.0, 0.2]])
    fig = vd.factor_mi_heatmaps({"a": a, "b": a / 2}, ["posX", "posY"], ncols=2)
    meshes = [ax.collections[0] for ax in fig.axes if ax.get_title(loc="left") in ("a", "b")]
    np.testing.assert_allclose(np.asarray(meshes[0].get_array()).reshape(3, 2), a)
    np.testing.assert_allclose(np.asarray(meshes[1].get_array()).reshape(3, 2), a / 2)
    assert all(m.get_clim() == (0.0, 2.0) for m in meshes)  # one colour scale: 0 to the largest value
    assert [t.get_text() for t in fig.axes[0].get_xticklabels()] == ["posX", "posY"]
    assert [t.get_text() for t in fig.axes[0].get_yticklabels()] == ["z0", "z1", "z2"]
    assert [t.get_text() for t in fig.axes[0].texts][:2] == ["0.50", "0.00"]
    with pytest.raises(ValueError, match=r"must be \(L, 3\)"):
        vd.factor_mi_heatmaps({"a": a}, ["shape", "posX", "posY"])


def test_factor_mi_heatmaps_scale_ignores_a_nan_matrix():
    """An all-NaN matrix first (a model whose MI failed) must not make the shared scale NaN: 0 to 2.0 still."""
    a = np.array([[0.5, 0.0], [0.1, 2.0]])
    fig = vd.factor_mi_heatmaps({"failed": np.full((2, 2), np.nan), "a": a}, ["posX", "posY"], ncols=2)
    meshes = [ax.collections[0] for ax in fig.axes if ax.get_title(loc="left") in ("failed", "a")]
    assert len(meshes) == 2 and all(m.get_clim() == (0.0, 2.0) for m in meshes)


def test_closed_form_scatter_puts_exact_on_x_and_the_closed_form_on_y():
    exact = {"m1": np.array([0.1, 1.0]), "m2": np.array([3.4])}
    gaussian = {"m1": np.array([0.2, 1.1]), "m2": np.array([6.4])}
    fig = vd.closed_form_scatter(exact, gaussian)
    points = [c.get_offsets() for c in fig.axes[0].collections]
    np.testing.assert_allclose(points[0], [[0.1, 0.2], [1.0, 1.1]])
    np.testing.assert_allclose(points[1], [[3.4, 6.4]])
    diagonal = fig.axes[0].get_lines()[0]
    np.testing.assert_allclose(diagonal.get_xdata(), [0, 6.4])
    np.testing.assert_allclose(diagonal.get_ydata(), [0, 6.4])
    with pytest.raises(ValueError, match="same models"):
        vd.closed_form_scatter(exact, {"m1": gaussian["m1"]})
    with pytest.raises(ValueError, match="one shape"):
        vd.closed_form_scatter({"m": np.zeros(2)}, {"m": np.zeros(3)})
