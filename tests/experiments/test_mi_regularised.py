"""vaeinfo.experiments.mi_regularised (notebook 08): the authors' config, and every model measured as stated --
on the 8x8 digits (the offline fallback), one epoch, in this process."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from vaeinfo.data import DataSource
from vaeinfo.experiments import mi_regularised as mx
from vaeinfo.info.mi import factor_mi
from vaeinfo.models.contract import decode_mean
from vaeinfo.training.config import normalize_config
from vaeinfo.training.encode import encode


def test_layout_and_the_authors_config():
    """MLP 784-500-500 softplus, Bernoulli, c = the first n_c dimensions, Adam 1e-3 (torch's eps), batch 100."""
    layout = mx.Layout(10, 5)
    assert layout.c_dims == [0, 1, 2, 3, 4] and layout.describe() == "10 dims (5 in c)"
    config = normalize_config(mx.infovae_config((1, 28, 28), layout, lam=1.0, epochs=25, seed=0))
    assert config["model"] == {"architecture": "mlp", "input_shape": [1, 28, 28], "latent_dim": 10,
                               "hidden": [500, 500], "likelihood": "bernoulli", "activation": "softplus"}
    assert config["objective"] == {"name": "mi_regularised", "lambda": 1.0, "beta": 1.0, "warmup_epochs": 0.0,
                                   "c_dims": [0, 1, 2, 3, 4]}
    assert config["optimizer"] == {"name": "adam", "lr": 1e-3} and config["batch_size"] == 100
    for bad in ((4, 0), (4, 5), (10.0, 5.0), (10, True)):  # floats reached range() as a bare TypeError
        with pytest.raises(ValueError, match="needs integers 1 <= n_c <= latent_dim"):
            mx.Layout(*bad)
    for bad in ([10], 10, [10, 5, 1]):  # a malformed mireg_layouts entry
        with pytest.raises(ValueError, match=r"a layout is a pair \(latent_dim, n_c\), e.g. \[10, 5\]"):
            mx._layout(bad)
    assert mx._layout([10, 5]) == layout


@pytest.mark.parametrize("kwargs", [dict(lambdas=(float("nan"), -1.0)), dict(lam=float("nan")),
                                    dict(lambdas=(float("inf"),)), dict(lam=0.0), dict(lambdas=(-0.5,))])
def test_a_nan_infinite_or_negative_lambda_is_refused_before_any_data_is_read(tmp_path, kwargs):
    with pytest.raises(ValueError, match="a finite lam > 0 and finite lambdas >= 0"):  # NaN sorted past -1 before
        mx.mi_regularised_experiment(data_dir=tmp_path / "absent", **kwargs)


def test_split_pulse_refuses_c_dims_outside_the_factors():
    from vaeinfo.viz.mi_regularised import split_pulse

    for bad in ([4], [-1], [1.0]):  # were dropped silently: a panel titled with sum_c I = 0
        with pytest.raises(ValueError, match=r"c_dims must be an integer in \[0, 3\] \(factor indices of c\)"):
            split_pulse({"m": np.ones(4)}, bad)


@pytest.fixture(scope="module")
def digits_experiment(tmp_path_factory):
    root = tmp_path_factory.mktemp("empty-data")  # no MNIST here: the digits stand in (announced)
    kwargs = dict(data_dir=root, allow_fallback=True, n_train=200, n_validation=100, layouts=[(4, 2)], lam=1.0,
                  lambdas=[2.0, 0.0], epochs=1, seed=0, cache_dir=tmp_path_factory.mktemp("cache"), workers=1)
    return mx.mi_regularised_experiment(**kwargs), kwargs


def test_every_model_is_measured_as_stated(digits_experiment):
    """mi = factor_mi of the validation encodings; its c and z sums; the bounds and KL halves of the last validation
    pass; MSE per pixel of the decoded means, by hand."""
    exp, _ = digits_experiment
    assert isinstance(exp.train_source, DataSource) and exp.train_source.fallback and exp.train_source.split == "train"
    assert exp.validation.source.name == "digits"
    assert sorted(exp.reports) == [(0, 0.0), (0, 1.0), (0, 2.0)] and [r.lam for r in exp.sweep()] == [0.0, 1.0, 2.0]
    assert exp.pair(0) == (exp.reports[(0, 0.0)], exp.reports[(0, 1.0)])
    for report in exp.reports.values():
        mu, logvar = encode(report.model, exp.validation)
        np.testing.assert_array_equal(report.mu, mu)
        np.testing.assert_allclose(report.mi, factor_mi(mu, logvar), rtol=0, atol=1e-12)
        assert report.mi_c == pytest.approx(report.mi[:2].sum(), abs=1e-12)
        assert report.mi_z == pytest.approx(report.mi[2:].sum(), abs=1e-12)
        last = report.run.history[-1]
        assert (report.bound_c, report.bound_z) == (last["val_mi_bound_c"], last["val_mi_bound_z"])
        assert (report.kl_c, report.kl_z, report.neg_elbo) == (last["val_kl_c"], last["val_kl_z"], last["val_neg_elbo"])
        with torch.no_grad():
            decoded = decode_mean(report.model, torch.as_tensor(mu, dtype=torch.float32))
        assert report.mse == pytest.approx(float((decoded - exp.validation.images).square().mean()), rel=1e-5)
        numbers = report.numbers()
        assert numbers["lambda"] == report.lam and len(numbers["history"]["val_mi_bound_c"]) == 1


def test_traversals_and_the_cache(digits_experiment):
    """c_traversals: every c factor of each model, -2.5 ... 2.5 (11 values); a second call trains nothing."""
    exp, kwargs = digits_experiment
    images, labels, values = mx.c_traversals(list(exp.pair(0)), exp.validation, base_image=3)
    np.testing.assert_allclose(values, np.linspace(-2.5, 2.5, 11), atol=1e-12)
    assert images.shape == (4, 11, 1, 8, 8) and images.min() >= 0 and images.max() <= 1
    assert labels[0].startswith("plain c0") and labels[3].startswith("λ=1 c1")
    for bad in (100, -1, 2.0):
        with pytest.raises(ValueError, match=rf"base_image must be an integer in \[0, 99\] \(a validation image\), "
                                             rf"got {bad}"):
            mx.c_traversals(list(exp.pair(0)), exp.validation, base_image=bad)
    again = mx.mi_regularised_experiment(**kwargs)
    assert all(r.run.cached for r in again.reports.values())
    np.testing.assert_array_equal(again.reports[(0, 1.0)].mi, exp.reports[(0, 1.0)].mi)
