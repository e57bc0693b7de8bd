"""vaeinfo.viz.plots: figures are built from arrays, validated, and saved as PNG + PDF."""

from __future__ import annotations

import time
import warnings

import matplotlib
import numpy as np
import pytest

matplotlib.use("Agg")

import matplotlib.pyplot as plt
from matplotlib.colors import to_hex

from vaeinfo.viz import plots
from vaeinfo.viz.channels import bound_versus_exact
from vaeinfo.viz.disentanglement import mi_pulses
from vaeinfo.viz.mi_regularised import split_pulse


def test_save_figure_writes_png_and_pdf(tmp_path):
    fig = plots.image_grid(np.random.default_rng(0).random((5, 1, 8, 8)), ncols=3)
    png, pdf = plots.save_figure(fig, tmp_path / "sub" / "grid")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and pdf.read_bytes()[:5] == b"%PDF-"
    assert len(fig.axes) == 6  # 2 rows x 3 columns, the last cell empty


def test_pdf_is_reproducible(tmp_path):
    fig = plots.curves(np.arange(3), {"a": np.arange(3)}, "x", "y")
    first = plots.save_figure(fig, tmp_path / "a")[1].read_bytes()
    time.sleep(1.1)  # a creation date (1 s resolution) would now differ
    second = plots.save_figure(fig, tmp_path / "b")[1].read_bytes()
    assert first == second


def test_mi_pulse_refuses_a_variance_of_another_length():
    with pytest.raises(ValueError, match=r"mi_pulse needs mi \(d,\) and variance \(d,\) or None, got shapes \(4,\) "
                                         r"and \(1,\)"):
        plots.mi_pulse(np.ones(4), variance=np.ones(1))


def test_curves_styles_replace_the_defaults_of_their_series_only():
    fig = plots.curves(np.arange(3), {"a": np.arange(3), "b": np.ones(3)}, "x", "y",
                       styles={"b": {"color": "k", "linestyle": ":", "marker": ""}})
    a, b = fig.axes[0].get_lines()
    assert (a.get_linestyle(), a.get_marker(), to_hex(a.get_color())) == ("-", "o", to_hex("C0"))
    assert (b.get_linestyle(), b.get_marker(), to_hex(b.get_color())) == (":", "", "#000000")
    assert [t.get_text() for t in fig.axes[0].get_legend().get_texts()] == ["a", "b"]


def test_mi_pulse_counts_the_influential_factors():
    mi = np.array([0.0, 0.6, 0.49, 2.0])
    fig = plots.mi_pulse(mi, variance=np.ones(4), threshold=0.5)
    assert fig.axes[0].get_title(loc="left") == "2 of 4 factors carry ≥ 0.5 nats (red)"
    assert len(fig.axes) == 2


@pytest.mark.parametrize("shape", [(4, 8, 8), (4, 2, 8, 8)])
def test_image_grid_rejects_bad_shapes(shape):
    with pytest.raises(ValueError, match=r"\(n, C, H, W\)"):
        plots.image_grid(np.zeros(shape))


def test_image_grid_needs_one_title_per_image():
    with pytest.raises(ValueError, match=r"one title per image \(3\), got 2"):
        plots.image_grid(np.zeros((3, 1, 4, 4)), titles=["a", "b"])


def test_labelled_grid_checks_labels():
    images = np.zeros((2, 3, 1, 4, 4))
    fig = plots.labelled_grid(images, ["a", "b"], ["1", "2", "3"])
    assert len(fig.axes) == 6
    with pytest.raises(ValueError, match="need as many labels"):
        plots.labelled_grid(images, ["a"], None)


def test_heatmap_is_centred_and_checks_labels():
    values = np.array([[0.5, 0.9, np.nan], [0.2, 0.5, 0.6]])
    fig = plots.heatmap(values, ["z1", "z2"], ["a", "b", "c"], center=0.5, colorbar_label="AUC", title="AUC")
    ax, bar = fig.axes
    (mesh,) = ax.collections  # seaborn's heatmap: one QuadMesh, row 0 at the top
    assert mesh.get_clim() == pytest.approx((0.1, 0.9))  # symmetric about 0.5 by the largest distance, 0.4
    assert mesh.get_cmap().name == "RdBu_r" and bar.get_ylabel() == "AUC" and ax.get_title(loc="left") == "AUC"
    assert np.ma.getmaskarray(mesh.get_array()).tolist() == [[False, False, True], [False, False, False]]  # NaN: blank
    assert ax.yaxis_inverted()
    assert [t.get_text() for t in ax.get_xticklabels()] == ["a", "b", "c"]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["z1", "z2"]
    assert [t.get_rotation() for t in ax.get_xticklabels() + ax.get_yticklabels()] == [90] * 3 + [0] * 2
    matplotlib.pyplot.close(fig)
    with pytest.raises(ValueError, match="row and column labels"):
        plots.heatmap(values, ["z1"], ["a", "b", "c"])


def test_emotion_figures_label_their_axes():
    fig = plots.label_mi_bars({"valence": np.array([0.1, 0.02]), "arousal": np.array([0.0, 0.3])},
                        {"valence": 0.05, "arousal": 0.05})
    assert [ax.get_ylabel() for ax in fig.axes] == ["I(Z_h; valence) [nats]", "I(Z_h; arousal) [nats]"]
    assert "1 factors above" in fig.axes[0].get_title(loc="left")
    matplotlib.pyplot.close(fig)
    values, ratings = np.array([[0.0, 1.0], [1.0, 0.0], [2.0, 1.0]]), np.array([[1.0, 9.0], [5.0, 5.0], [9.0, 1.0]])
    fig = plots.factors_vs_ratings(values, ratings, ["z3 (I=1.00 nats)", "z7 (I=0.60 nats)"], ["valence", "arousal"])
    assert len(fig.axes) == 4 and "r = +1.00" in fig.axes[0].get_title() and "r = -1.00" in fig.axes[2].get_title()
    assert fig.axes[0].get_ylabel() == "valence rating"
    matplotlib.pyplot.close(fig)


@pytest.mark.parametrize("draw, message", [
    (lambda: plots.variance_vs_mi(np.ones(3), np.ones(4)),
     r"variance, mi must be \(d,\) arrays, one value per factor, of one d; got \{'variance': \(3,\), 'mi': \(4,\)\}"),
    (lambda: plots.stacked_bars({"a": [1, 2]}, ["x", "y", "z"], "nats"),
     r"every part needs one value per label \(3\), got lengths \{'a': 2\}"),
    (lambda: plots.label_mi_bars({"valence": np.ones(3)}, {"arousal": 0.1}),
     r"a threshold for each; none for \['valence'\]"),
    (lambda: plots.factors_vs_ratings(np.ones((5, 2)), np.ones((4, 1)), ["a", "b"], ["valence"]),
     r"values \(n, k\) and ratings \(n, r\) need the same n >= 2.*got \(5, 2\), \(4, 1\), \['a', 'b'\] and"),
    (lambda: plots.factors_vs_ratings(np.ones((5, 2)), np.ones((5, 1)), ["a"], ["valence"]),
     r"got \(5, 2\), \(5, 1\), \['a'\] and \['valence'\]"),
    (lambda: plots.factors_vs_ratings(np.ones((5, 1)), np.ones((5, 1)), [""], ["valence"]),  # was an IndexError
     r"non-empty factor_labels"),
    (lambda: plots.curves(np.arange(3), {"a": np.ones(4)}, "x", "y"),  # was matplotlib's "same first dimension"
     r"curves needs x \(m,\) and at least one series of shape \(m,\), got x \(3,\) and series \{'a': \(4,\)\}"),
    (lambda: plots.curves(np.arange(3), {}, "x", "y"), r"series none"),
    (lambda: plots.image_grid(np.zeros((2, 1, 4, 4)), ncols=0), r"ncols must be an integer >= 1"),  # ZeroDivision
    (lambda: plots.label_mi_bars({"valence": np.ones(3), "arousal": np.ones(4)}, {"valence": 0.1, "arousal": 0.1}),
     r"one \(d,\) array per label, the same d"),
    (lambda: split_pulse({}, [0]), r"split_pulse needs the MI of at least one model"),
    (lambda: split_pulse({"a": np.ones(4), "b": np.ones(3)}, [0]), r"a, b must be \(d,\) arrays"),
    (lambda: bound_versus_exact(np.ones(3), np.ones(2)), r"kt_bits, exact_bits must be \(d,\) arrays"),
    (lambda: bound_versus_exact(np.ones(3), np.ones(3), kept=[3]),
     r"kept must be distinct factor indices in \[0, 3\)"),
    (lambda: mi_pulses({"m": np.ones((2, 2))}), r"mi\['m'\] must be \(d,\) arrays"),
])
def test_bad_figure_input_is_one_error_before_any_figure_is_made(draw, message):
    """Each of these failed deep in numpy or matplotlib (IndexError, StopIteration, 'facecolor must be a valid
    color'), after its figure was created: the figure stayed open."""
    plt.close("all")
    with pytest.raises(ValueError, match=message):
        draw()
    assert plt.get_fignums() == []


def test_bound_versus_exact_accepts_no_kept_channel():
    """kept=[] (every channel dropped) was an IndexError: an empty list indexed as floats."""
    fig = bound_versus_exact(np.array([0.1, 0.5]), np.array([0.2, 0.6]), kept=[])
    assert len(fig.axes[0].collections[1].get_offsets()) == 0  # the "kept" scatter is empty
    plt.close(fig)


def test_split_pulse_draws_c_and_z_in_their_colours_with_their_sums():
    """Factors 0 and 2 are c: their bars take c's colour and heights, the others z's; the title gives both sums."""
    from vaeinfo.viz.mi_regularised import C_COLOUR, Z_COLOUR

    fig = split_pulse({"m": np.array([1.0, 0.25, 2.0, 0.5])}, [0, 2], bounds={"m": 2.5})
    ax = fig.axes[0]
    bars = {(round(p.get_x() + p.get_width() / 2), to_hex(p.get_facecolor())): p.get_height() for p in ax.patches}
    assert bars == {(0, to_hex(C_COLOUR)): 1.0, (2, to_hex(C_COLOUR)): 2.0, (1, to_hex(Z_COLOUR)): 0.25,
                    (3, to_hex(Z_COLOUR)): 0.5}
    assert ax.get_title(loc="left") == "m: Σ_c I = 3.00, Σ_z I = 0.75 nats; bound Î(c; x′) = 2.50"
    plt.close(fig)


def test_lambda_sweep_colours_each_half_and_dashes_bounds():
    from vaeinfo.viz.mi_regularised import C_COLOUR, Z_COLOUR, lambda_sweep

    series = {"Σ_c I(X; Z_h)": [1, 2], "Î(c; x′), bound": [0.5, 1.5], "Σ_z I(X; Z_h)": [3, 2], "−ELBO": [9, 8]}
    fig = lambda_sweep([0, 4], {"nats": series})
    lines = {line.get_label(): line for line in fig.axes[0].get_lines()}
    assert [to_hex(lines[name].get_color()) for name in series] == [to_hex(C_COLOUR), to_hex(C_COLOUR),
                                                                     to_hex(Z_COLOUR), to_hex("C5")]
    assert [lines[name].get_linestyle() for name in series] == ["-", "--", "-", "-"]
    np.testing.assert_array_equal(lines["−ELBO"].get_ydata(), [9, 8])
    plt.close(fig)


def test_variance_vs_mi_splits_the_factors_at_the_threshold():
    fig = plots.variance_vs_mi(np.array([0.1, 0.9, 0.5]), np.array([0.2, 1.0, 0.5]), threshold=0.5)
    weak, influential = (c.get_offsets().tolist() for c in fig.axes[0].collections)
    assert weak == [[0.1, 0.2]] and influential == [[0.9, 1.0], [0.5, 0.5]]  # I >= threshold is influential
    plt.close(fig)


def test_stacked_bars_stack_each_part_on_the_previous_ones():
    fig = plots.stacked_bars({"a": [1.0, 2.0], "b": [0.5, 0.25]}, ["x", "y"], "nats")
    tops = [(p.get_y(), p.get_height()) for p in fig.axes[0].patches]
    assert tops == [(0.0, 1.0), (0.0, 2.0), (1.0, 0.5), (2.0, 0.25)]
    plt.close(fig)


def test_a_constant_factor_or_rating_has_no_correlation_in_its_title():
    """np.corrcoef of a constant column gave 'r = +nan' with RuntimeWarnings."""
    values, ratings = np.c_[np.zeros(6), np.arange(6.0)], np.arange(6.0)[:, None]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fig = plots.factors_vs_ratings(values, ratings, ["z1 flat", "z2 ramp"], ["valence"])
    titles = [ax.get_title() for ax in fig.axes]
    plt.close(fig)
    assert titles == ["z1 flat  r = undefined (constant)", "z2 ramp  r = +1.00"]


def test_the_red_marks_are_the_factors_at_or_above_the_threshold():
    """mi_pulse marks factors with I >= threshold (the paper's count), label_mi_bars those strictly above the
    shuffled-label level (relevant_factors' rule); only the counts in the titles were checked before."""
    mi = np.array([0.2, 0.5, 0.9, 0.49])
    fig = plots.mi_pulse(mi, variance=np.ones(4), threshold=0.5)
    red = fig.axes[0].lines[-2]  # the red markers, drawn before the threshold line
    assert red.get_xdata().tolist() == [1, 2] and to_hex(red.get_color()) == to_hex("C3")
    assert [to_hex(bar.get_facecolor()) for bar in fig.axes[1].patches] == [to_hex("0.6"), to_hex("C3"),
                                                                            to_hex("C3"), to_hex("0.6")]
    bars = plots.label_mi_bars({"valence": np.array([0.1, 0.3, 0.2])}, {"valence": 0.2})
    assert [to_hex(bar.get_facecolor()) for bar in bars.axes[0].patches] == [to_hex("0.6"), to_hex("C3"),
                                                                             to_hex("0.6")]
