"""vaeinfo.experiments.disentanglement (notebook 09): Chen et al.'s settings as configs, the closed-form comparison
on codes with known MI, and every model measured as stated -- tiny MLPs, one epoch on procedural dSprites."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from vaeinfo.data import DataError
from vaeinfo.data.dsprites import FACTOR_SIZES, load_dsprites
from vaeinfo.experiments import disentanglement as dx
from vaeinfo.info.disentanglement import posterior_mi_matrix
from vaeinfo.info.mi import factor_mi
from vaeinfo.training.checkpoint import cache_key
from vaeinfo.training.config import normalize_config
from vaeinfo.training.encode import encode


def test_the_paper_settings_are_chen_et_al_s():
    """Whole grid, MLP 4096-1200-1200, d = 10, Bernoulli, Adam 1e-3, batch 2048, 50 epochs, beta annealed over
    7,000 steps = 7000 / 360 epochs (737,280 / 2048 = 360 steps per epoch), MSS for beta-TCVAE."""
    settings = dx.DSpritesSettings()
    assert settings.n_images == 737_280 and settings.warmup_epochs == pytest.approx(7000 / 360, abs=1e-12)
    config = normalize_config(settings.config("beta_tcvae", 6, 2))
    assert config["model"] == {"architecture": "mlp", "input_shape": [1, 64, 64], "latent_dim": 10,
                               "hidden": [1200, 1200], "likelihood": "bernoulli"}
    assert config["objective"] == {"name": "beta_tcvae", "beta": 6.0, "warmup_epochs": pytest.approx(19.4444444),
                                   "estimator": "mss"}
    assert (config["batch_size"], config["epochs"], config["seed"], config["optimizer"]) == (2048, 50, 2,
                                                                                              {"name": "adam",
                                                                                               "lr": 1e-3})
    vae = normalize_config(settings.config("beta_vae", 6, 2))["objective"]
    assert vae == {"name": "beta_vae", "beta": 6.0, "warmup_epochs": pytest.approx(7000 / 360)}
    grid = settings.grid()
    assert len(grid) == 2 * 6 * 3 and grid[:2] == [("beta_vae", 1.0, 0), ("beta_vae", 1.0, 1)]


@pytest.mark.parametrize("kwargs, message", [
    ({"n_train": 1025, "batch_size": 1024}, "last batch of one image, which β-TCVAE's minibatch estimators join"),
    ({"estimator": "bogus"}, "estimator"),  # was accepted, and failed in the sweep after the other runs trained
    ({"betas": (-1.0,)}, "beta"),
    ({"n_train": 100, "batch_size": 200}, "batch_size must lie in"),
    ({"objectives": ("beta_vae", "factor_vae")}, "unknown objective"),
    ({"betas": (1.0, 1.0)}, "must not repeat"),
    ({"seeds": ()}, "at least one beta, one seed"),
])
def test_bad_settings_are_refused_with_the_fix(kwargs, message):
    with pytest.raises(ValueError, match=message):
        dx.DSpritesSettings(**kwargs)
    assert dx.DSpritesSettings(n_train=1025, batch_size=1024, objectives=("beta_vae",)).n_images == 1025  # no MSS


def test_closed_form_against_exact_on_codes_of_known_information():
    """Dimension 0 tells which of 32 evenly spaced positions (dSprites' posX) with sigma = 1e-3: exact I = log 32,
    while the closed form gives 1/2 log(1 + mean(mu^2) / sigma^2) = 6.39 nats. Dimension 1 has a Gaussian aggregate
    (mu ~ N(0, 1), sigma = 0.5): both give 1/2 log 5 = 0.805 nats."""
    rng = np.random.default_rng(0)
    positions = np.linspace(-1, 1, 32)
    mu = np.stack([np.tile(positions, 100), rng.normal(0.0, 1.0, 3200)], axis=1)
    logvar = np.log(np.stack([np.full(3200, 1e-6), np.full(3200, 0.25)], axis=1))
    exact, gaussian = factor_mi(mu, logvar), factor_mi(mu, logvar, method="gaussian")
    np.testing.assert_allclose(exact, [math.log(32), 0.5 * math.log(5)], atol=3e-3)
    agreement = dx.closed_form_agreement(exact, gaussian)
    gap = 0.5 * math.log(1 + np.mean(positions**2) / 1e-6) - math.log(32)
    assert agreement["max_overestimate"] == pytest.approx(gap, abs=2e-3) and gap > 2.9
    assert abs(gaussian[1] - exact[1]) < 0.01  # a Gaussian aggregate: the closed form is exact up to sampling
    assert agreement["influential"].tolist() == [0, 1] and agreement["same_ranking"] and agreement["same_influential"]


def test_closed_form_agreement_compares_rankings_and_sets():
    exact = np.array([0.1, 2.0, 0.7, 0.0])
    agreement = dx.closed_form_agreement(exact, np.array([0.2, 2.05, 0.9, 0.6]))
    assert agreement["max_abs_difference"] == pytest.approx(0.6) and agreement["max_overestimate"] == pytest.approx(0.6)
    assert agreement["influential"].tolist() == [1, 2] and agreement["influential_gaussian"].tolist() == [1, 2, 3]
    assert agreement["same_ranking"] and not agreement["same_influential"]  # top 2 in order; one more >= 0.5
    swapped = dx.closed_form_agreement(exact, np.array([0.1, 0.8, 0.9, 0.0]))
    assert not swapped["same_ranking"] and swapped["same_influential"]
    none = dx.closed_form_agreement(np.array([0.1, 0.3]), np.array([0.2, 0.1]))  # nothing influential: compare top 1
    assert none["influential"].tolist() == [] and not none["same_ranking"]
    with pytest.raises(ValueError, match="one shape"):
        dx.closed_form_agreement(exact, exact[:3])


TINY = dict(n_train=300, betas=(2.0,), seeds=(0,), hidden=(16,), epochs=1, batch_size=50, warmup_iterations=3)
TINY_METRICS = dx.MetricSettings(n_eval=400, n_decomposition=200, tc_samples=100, n_fit=200, n_test=100,
                                 dci_estimators=1, sampled_train=20, sampled_eval=10, n_variance=50)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    cache = tmp_path_factory.mktemp("cache")
    settings = dx.DSpritesSettings(**TINY)
    return dx.disentanglement_experiment(settings, TINY_METRICS, cache_dir=cache, workers=1, progress=False), cache


def test_every_model_is_measured_as_stated(tiny):
    """Encodings of the evaluation images (seed 1), exact MI, the decomposition's identity, our MIG from the exact
    matrix with log |V_k|, Chen et al.'s MIG without shape, and JSON-able numbers."""
    exp, _ = tiny
    assert [(r.trained.objective, r.trained.beta) for r in exp.reports] == [("beta_vae", 2.0), ("beta_tcvae", 2.0)]
    assert np.array_equal(exp.evaluation.indices, load_dsprites(400, seed=dx.EVAL_SEED, progress=False).indices)
    factors = exp.evaluation.labels.numpy()
    for report in exp.reports:
        mu, logvar = encode(report.trained.model, exp.evaluation)
        np.testing.assert_array_equal(report.mu, mu)
        np.testing.assert_allclose(report.mi, factor_mi(mu, logvar), rtol=0, atol=1e-12)
        np.testing.assert_allclose(report.mi_gaussian, factor_mi(mu, logvar, method="gaussian"), rtol=0, atol=1e-12)
        np.testing.assert_allclose(report.mig.mi, posterior_mi_matrix(mu, logvar, factors), rtol=0, atol=1e-12)
        np.testing.assert_allclose(report.mig.entropy, np.log(FACTOR_SIZES), rtol=1e-15)
        d = report.decomposition
        assert d.index_code_mi + d.total_correlation + d.marginal_kl == pytest.approx(d.expected_kl, abs=1e-9)
        assert d.n_samples == 100 and dx.FACTOR_NAMES[0] == "shape"
        assert report.mig_without_shape == pytest.approx(report.mig.gaps[1:].mean())
        assert report.dci.importance.shape == (10, 5) and 0 <= report.beta_vae.eval_accuracy <= 1
    numbers = json.loads(json.dumps(exp.numbers(), default=lambda o: o.tolist()))
    assert [m["objective"] for m in numbers["models"]] == ["beta_vae", "beta_tcvae"]
    assert numbers["mig"]["beta_tcvae"] == [[exp.reports[1].mig.score]]
    assert len(numbers["models"][1]["factor_mi_nats"]) == 10 and "train_kl" in numbers["models"][0]
    assert exp.report("beta_tcvae", 2.0) is exp.reports[1]
    with pytest.raises(KeyError, match="no model"):
        exp.report("beta_tcvae", 3.0)
    line = dx.summary_line(exp)
    assert line.startswith("dSprites-procedural, 300 images: MIG at β = 2: β-VAE ") and "of 2 models" in line


def test_traversals_of_the_most_informative_dimensions(tiny):
    exp, _ = tiny
    report = exp.reports[1]
    images, labels, values = dx.factor_traversals(report, exp.evaluation, threshold=0.0)
    assert images.shape == (10, 9, 1, 64, 64) and values.tolist() == [-2.0, -1.5, -1, -0.5, 0, 0.5, 1, 1.5, 2]
    order = np.argsort(-report.mi, kind="stable")
    assert [int(label.split()[0][1:]) for label in labels] == order.tolist()
    best = report.mig.mi[order[0]].argmax()
    assert labels[0].split(" | ")[1].split()[0] == ("shape", "scale", "orientation", "posX", "posY")[best]
    top_only, labels, _ = dx.factor_traversals(report, exp.evaluation, threshold=1e9)  # none influential: the top
    assert top_only.shape[0] == 1 and labels[0].startswith(f"z{order[0]} ")
    for bad in (-1, len(report.mu)):  # -1 silently used the last image, len(mu) was a bare IndexError
        with pytest.raises(ValueError, match=rf"base must be an integer in \[0, {len(report.mu) - 1}\]"):
            dx.factor_traversals(report, exp.evaluation, base=bad)


def test_the_models_train_through_the_sweep_runner_on_the_documented_images(tiny):
    """Each run's cache key is that of its config on load_dsprites(n_train, uint8=True) (seed 0): the images the
    workers load; a second sweep reuses every model from the cache."""
    exp, cache = tiny
    data = load_dsprites(300, uint8=True, progress=False)
    for report in exp.reports:
        assert report.trained.key == cache_key(report.trained.config, data)
        assert report.trained.source == data.source and report.trained.config["batch_size"] == 50
    again = dx.train_models(exp.settings, workers=1, cache_dir=cache)
    assert [t.key for t in again] == [r.trained.key for r in exp.reports] and all(t.cached for t in again)
    assert exp.train_source == data.source


def test_the_workers_train_on_the_dsprites_source_the_driver_found(tiny, tmp_path, monkeypatch):
    """With source "auto", a worker without the official file trained on rendered images while the driver measured
    on the official grid: the spec now carries what the driver found, and a worker that lacks it fails."""
    exp, cache = tiny
    assert exp.train_source.fallback  # no official file in the test data: the driver found the renderer
    specs, real = [], dx.run_many
    monkeypatch.setattr(dx, "run_many", lambda configs, spec, **kw: specs.append(spec) or real(configs, spec, **kw))
    dx.disentanglement_experiment(exp.settings, TINY_METRICS, cache_dir=cache, workers=1, progress=False)
    assert [s.kwargs["source"] for s in specs] == ["procedural"]  # was "auto": each worker decided for itself
    data = tmp_path / "data"
    data.mkdir()
    with pytest.raises(DataError, match=r"the official dSprites file .* does not exist"):
        exp.settings.data_spec(data, tmp_path / "cache", "official").load()


def test_the_workers_load_their_images_through_the_given_cache_folder(tmp_path, monkeypatch):
    """With cache_dir given, the workers' DataSpec passes it to load_dsprites (they built a second pixel cache under
    $VAEINFO_CACHE or ~/.cache, and failed where that is read-only); None leaves each worker's own default."""
    import vaeinfo.data.spec as spec_module

    settings = dx.DSpritesSettings(**TINY)
    assert settings.data_spec().kwargs == {"uint8": True, "source": "auto"}
    spec = settings.data_spec("/data", tmp_path, "official")
    assert spec.kwargs == {"uint8": True, "source": "official", "cache_dir": str(tmp_path)}
    assert spec.data_dir == "/data"
    seen = {}
    monkeypatch.setattr(spec_module, "load_dsprites", lambda n, data_dir, **kw: seen.update(kw, n=n) or "images")
    assert spec.load() == "images" and seen == {"n": 300, "uint8": True, "source": "official",
                                                "cache_dir": str(tmp_path), "progress": False}


def test_metric_sizes_beyond_the_evaluation_set_are_refused():
    with pytest.raises(ValueError, match="raise n_eval"):
        dx.MetricSettings(n_eval=100, n_fit=80, n_test=40).check(100)
    with pytest.raises(ValueError, match="raise n_eval"):
        dx.MetricSettings(n_eval=100, n_decomposition=101, n_fit=10, n_test=10).check(100)
    dx.MetricSettings(n_eval=100, n_decomposition=100, n_fit=60, n_test=40).check(100)
