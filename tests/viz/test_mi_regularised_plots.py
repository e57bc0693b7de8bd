"""vaeinfo.viz.mi_regularised.bound_curves: which curve goes to which panel, in which style."""

from __future__ import annotations

from matplotlib.colors import to_hex

from vaeinfo.viz.mi_regularised import CURVE_PANELS, bound_curves


def test_bound_curves_put_each_term_in_its_panel_validation_solid_training_dashed():
    """Model "plain" lacks the bound terms (λ = 0 logs none): its lines are only in the KL panels."""
    epochs = [1, 2, 3]
    regularised = {"epoch": epochs, **{f"{split}_{term}": [i, i + 1.0, i + 2.0]
                                       for i, (term, _) in enumerate(CURVE_PANELS) for split in ("val", "train")}}
    plain = {"epoch": epochs, "val_kl_c": [7.0, 8.0, 9.0], "val_kl_z": [4.0, 5.0, 6.0]}
    fig = bound_curves({"λ = 1": regularised, "plain": plain}, title="t")
    panels = {ax.get_ylabel(): ax for ax in fig.axes}
    assert list(panels) == [label for _, label in CURVE_PANELS]
    for i, (term, label) in enumerate(CURVE_PANELS):
        lines = panels[label].get_lines()
        styles = [(line.get_label(), line.get_linestyle(), to_hex(line.get_color())) for line in lines]
        expected = [("λ = 1 (validation)", "-", to_hex("C2")), ("λ = 1 (training)", "--", to_hex("C2"))]
        if term.startswith("kl"):
            expected.append(("plain (validation)", "-", to_hex("C3")))
        assert styles == expected, label
        assert lines[0].get_ydata().tolist() == [i, i + 1.0, i + 2.0] and lines[0].get_xdata().tolist() == epochs
    assert panels[CURVE_PANELS[2][1]].get_lines()[2].get_ydata().tolist() == [7.0, 8.0, 9.0]
    assert fig._suptitle.get_text() == "t"
