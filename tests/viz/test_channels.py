"""vaeinfo.viz.channels: notebook 10's figures show what they are given, in the order given, and reject mismatches."""

from __future__ import annotations

import matplotlib
import numpy as np
import pytest

matplotlib.use("Agg")

from matplotlib.collections import PathCollection  # noqa: E402
from matplotlib.patches import Polygon, Rectangle  # noqa: E402

from vaeinfo.viz import channels  # noqa: E402


def test_channel_info_grid_blanks_the_dropped_channels():
    info = np.array([[0.5, 0.005, 1.2], [0.0, 0.3, 0.02]])
    fig = channels.channel_info_grid(info, threshold=0.01)
    mesh = fig.axes[0].collections[0]
    shown = np.ma.masked_invalid(mesh.get_array()).reshape(2, 3)
    assert shown.mask.tolist() == [[False, True, False], [True, False, False]]  # below 0.01 bits: not drawn
    assert [t.get_text() for t in fig.axes[0].texts] == ["0.50", "1.20", "0.30", "0.02"]
    assert "4 of 6 channels" in fig.axes[0].get_title(loc="left")
    with pytest.raises(ValueError, match="members, channels"):
        channels.channel_info_grid(np.zeros(3))


def test_hotspot_structure_draws_the_matrix_in_optics_order_with_one_span_per_hotspot():
    rng = np.random.default_rng(0)
    nmi = rng.random((6, 6))
    nmi = (nmi + nmi.T) / 2
    ordering = np.array([3, 0, 5, 1, 4, 2])
    labels = np.array([0, 1, -1, 0, 1, -1])  # channels 3, 0 (H1), 5 (none), 1, 4 (H2), 2 (none)
    reach = np.array([np.inf, 0.2, 0.9, 0.8, 0.1, 0.95])
    fig = channels.hotspot_structure(nmi, ordering, reach, labels, label_nmi=np.linspace(0, 1, 6),
                                     label_name="its best factor")
    top, matrix = fig.axes[0], fig.axes[1]
    np.testing.assert_array_equal(matrix.get_images()[0].get_array(), nmi[np.ix_(ordering, ordering)])
    spans = [p for p in top.patches if isinstance(p, (Rectangle, Polygon))]
    assert len(spans) == 2 and [t.get_text() for t in top.texts] == ["H1", "H2"]
    side = fig.axes[-1]
    np.testing.assert_allclose(side.get_lines()[0].get_xdata(), np.linspace(0, 1, 6)[ordering])
    assert side.get_xlabel() == "NMI with\nits best factor"
    with pytest.raises(ValueError, match="same K channels"):
        channels.hotspot_structure(nmi, ordering[:5], reach, labels)


def test_hotspot_coverage_bars_and_bound_scatter():
    fig = channels.hotspot_coverage(np.array([8, 5]), np.array([9, 5]), 8)
    heights = [p.get_height() for p in fig.axes[0].patches]
    assert heights == [8, 5, 9, 5]
    with pytest.raises(ValueError, match="must match"):
        channels.hotspot_coverage(np.array([1, 2]), np.array([1]), 3)
    fig = channels.bound_versus_exact(np.array([0.1, 0.5, 0.0]), np.array([0.2, 0.7, 0.01]), kept=[0, 1])
    dropped, kept = [c for c in fig.axes[0].collections if isinstance(c, PathCollection)]
    assert len(dropped.get_offsets()) == 1 and len(kept.get_offsets()) == 2
    np.testing.assert_allclose(kept.get_offsets(), [[0.2, 0.1], [0.7, 0.5]])  # (exact, KT)


def test_hotspot_factors_shows_each_hotspots_mean_nmi_per_factor():
    nmi = np.array([[0.9, 0.1, 0.0], [0.05, 0.02, 0.6]])
    fig = channels.hotspot_factors(nmi, ("shape", "scale", "posX"), np.array([8, 3]), 8)
    ax = fig.axes[0]
    np.testing.assert_allclose(np.asarray(ax.collections[0].get_array()).reshape(2, 3), nmi)
    assert [t.get_text() for t in ax.get_xticklabels()] == ["shape", "scale", "posX"]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["H1 (8 of 8)", "H2 (3 of 8)"]
    with pytest.raises(ValueError, match=r"must be \(hotspots, 2 factors\)"):
        channels.hotspot_factors(nmi, ("shape", "scale"), np.array([8, 3]), 8)


def test_fused_versus_members_aligns_signs():
    x = np.linspace(-1, 1, 50)
    fig = channels.fused_versus_members([x, x], [np.stack([x, -x]), x[None]], ["H1", "H2"])
    first = [c.get_offsets()[:, 1] for c in fig.axes[0].collections]
    np.testing.assert_allclose(first[0], first[1])  # the flipped channel is drawn flipped back
    assert [ax.get_title() for ax in fig.axes[:2]] == ["H1", "H2"]
    with pytest.raises(ValueError, match="one title per panel"):
        channels.fused_versus_members([x], [x[None]], [])
