"""The ensemble experiment of notebook 10 (vaeinfo.experiments.ensembles): member configs, fingerprint points, the
channel analysis and its sign alignment on a planted ensemble with known answers, and a real 2-member ensemble
trained on the digits fallback through the sweep runner."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest
import torch

from vaeinfo.data import DataSource, ImageData
from vaeinfo.data.spec import DataSpec, mnist_spec
from vaeinfo.experiments import ensembles as ens
from vaeinfo.info import fingerprints as fp
from vaeinfo.info.influence import traversal_images
from vaeinfo.training.encode import encode

SETTINGS = ens.EnsembleSettings(members=4, latent_dim=3, beta=4.0, epochs=2, seed=5)


# ----------------------------------------------------------------------------- configs and fingerprint points


def test_members_differ_only_in_their_seed():
    configs = ens.member_configs(SETTINGS, (1, 28, 28))
    assert [c["seed"] for c in configs] == [5, 6, 7, 8]
    assert all({k: v for k, v in c.items() if k != "seed"} == {k: v for k, v in configs[0].items() if k != "seed"}
               for c in configs)
    assert configs[0]["model"] == {"architecture": "mnist_conv", "input_shape": [1, 28, 28], "latent_dim": 3,
                                   "likelihood": "bernoulli"}
    assert configs[0]["objective"] == {"name": "beta_vae", "beta": 4.0} and configs[0]["batch_size"] == 100


def test_small_images_train_an_mlp_and_a_gaussian_member_starts_at_sigma_0_1():
    settings = ens.EnsembleSettings(members=1, likelihood="gaussian")
    model = ens.member_configs(settings, (1, 8, 8))[0]["model"]
    assert model["architecture"] == "mlp" and math.exp(model["init_log_sigma"]) == pytest.approx(0.1, abs=1e-12)
    with pytest.raises(ValueError, match="at least one member"):
        ens.member_configs(ens.EnsembleSettings(members=0), (1, 28, 28))


def test_fingerprint_points_are_distinct_sorted_and_seeded():
    rows = ens.fingerprint_indices(50, 20, seed=1)
    assert len(set(rows.tolist())) == 20 and np.all(np.diff(rows) > 0) and rows.max() < 50
    assert np.array_equal(rows, ens.fingerprint_indices(50, 20, seed=1))
    assert not np.array_equal(rows, ens.fingerprint_indices(50, 20, seed=2))
    assert np.array_equal(ens.fingerprint_indices(7, 7, seed=0), np.arange(7))  # all of them
    with pytest.raises(ValueError, match="need 2 <= fingerprint points <= 50"):
        ens.fingerprint_indices(50, 51, seed=0)


def test_the_driver_decides_the_fallback_for_every_worker(tmp_path):
    assert mnist_spec("train", tmp_path, 100, fallback=False) == DataSpec("mnist", "train", str(tmp_path), 100)
    assert mnist_spec("validation", None, None, fallback=False) == DataSpec("mnist", "validation")
    assert mnist_spec("train", tmp_path, 100, fallback=True) == DataSpec("digits", "train", None, 100)


# ----------------------------------------------------------------------------- a planted ensemble


def planted(members: int = 4, n: int = 300, seed: int = 3) -> tuple[ens.Ensemble, np.ndarray, np.ndarray]:
    """An ensemble without models: each member has channels 0 and 1 copying features A and B with a random sign
    (and its own small noise) and channel 2 collapsed. Labels are the sign of feature A. Returns the ensemble, the
    planted sign of each column (0 for collapsed) and the feature of each column (-1: collapsed)."""
    rng = np.random.default_rng(seed)
    features = rng.normal(0, 1, (n, 2))
    mu, logvar, sign, feature = [], [], [], []
    for _ in range(members):
        for k in range(3):
            if k < 2:
                s = int(rng.choice([-1, 1]))
                mu.append(s * features[:, k] + rng.normal(0, 0.05, n))
                logvar.append(np.full(n, 2 * math.log(0.1)))
            else:
                s = 0
                mu.append(rng.normal(0, 1e-3, n))
                logvar.append(np.zeros(n))
            sign.append(s)
            feature.append(k if k < 2 else -1)
    labels = torch.as_tensor((features[:, 0] > 0).astype(np.int64))
    source = DataSource("planted", "none", n, "validation", (1, 1, 1))
    points = ImageData(torch.zeros(n, 1, 1, 1), labels, source)
    settings = ens.EnsembleSettings(members=members, latent_dim=3)
    ensemble = ens.Ensemble(settings, [], [], points, np.stack(mu, 1), np.stack(logvar, 1),
                            np.repeat(np.arange(members), 3), np.tile(np.arange(3), members), points)
    return ensemble, np.array(sign), np.array(feature)


def test_the_analysis_finds_one_hotspot_per_planted_feature_covering_every_member():
    ensemble, _, feature = planted()
    analysis = ens.analyse_channels(ensemble)
    assert sorted(feature[analysis.kept]) == [0, 0, 0, 0, 1, 1, 1, 1]  # the collapsed channels carry < 0.01 bits
    assert np.all(analysis.info[feature == -1] < 0.01) and np.all(analysis.info[feature >= 0] > 1.0)
    assert analysis.hotspots.count == 2 and analysis.hotspots.coverage().tolist() == [4, 4]
    for h in range(2):
        assert len(set(feature[analysis.kept[analysis.hotspots.channels(h)]])) == 1
    # feature A decides the label: its channels share ~1 bit with it, feature B's nearly nothing
    on_a = feature[analysis.kept] == 0
    assert analysis.label_info == pytest.approx(1.0, abs=0.01)
    assert analysis.label_nmi[on_a].min() > 5 * analysis.label_nmi[~on_a].max()
    assert np.all(analysis.bounds.kt_bits <= analysis.bounds.exact_bits + 1e-9)  # the KT estimate is a lower bound
    assert analysis.distance.shape == (8, 8) and analysis.distance_kind == "nmi"


def test_the_permutation_null_has_no_hotspot_as_coherent_as_the_planted_ones():
    ensemble, _, _ = planted(members=6)
    analysis = ens.analyse_channels(ensemble)
    real = fp.hotspot_within_nmi(analysis.channel_nmi, analysis.hotspots)
    null = ens.null_hotspots(ensemble, analysis, seed=1)
    assert real.min() > 0.9 and null.background < 0.2 and len(null.within_nmi) == null.hotspots.count
    assert np.all(null.within_nmi < 0.3)  # whatever OPTICS returns there is not shared information
    assert null.hotspots.min_samples == analysis.hotspots.min_samples
    again = ens.null_hotspots(ensemble, analysis, seed=1)
    assert np.array_equal(again.hotspots.labels, null.hotspots.labels) and again.background == null.background


def test_several_null_draws_are_independent_seeded_and_below_the_planted_hotspots():
    ensemble, _, _ = planted(members=6)
    analysis = ens.analyse_channels(ensemble)
    real = fp.hotspot_within_nmi(analysis.channel_nmi, analysis.hotspots)
    null = ens.permutation_null(ensemble, analysis, draws=3, seed=2)
    assert len(null.draws) == 3 and null.counts == [d.hotspots.count for d in null.draws]
    assert len({d.background for d in null.draws}) == 3  # three different shuffles
    ceiling = max(float(np.max(d.within_nmi)) for d in null.draws if d.hotspots.count)
    assert null.ceiling == ceiling and ceiling < 0.3  # the largest null within-NMI over every draw
    assert real.min() > 0.9 and null.above(real).all()
    assert null.above([ceiling, ceiling + 1e-6]).tolist() == [False, True]
    again = ens.permutation_null(ensemble, analysis, draws=3, seed=2)
    assert again.to_dict()["hotspots"] == null.counts and again.ceiling == null.ceiling
    assert ens.permutation_null(ensemble, analysis, draws=3, seed=3).ceiling != null.ceiling
    assert null.describe().startswith("permutation null (3 draws") and f"at most {ceiling:.3f}" in null.describe()
    with pytest.raises(ValueError, match=r"draws must be an integer >= 1 \(shuffles of the permutation null\)"):
        ens.permutation_null(ensemble, analysis, draws=0)


def test_without_null_hotspots_every_real_one_is_above_the_null():
    empty = ens.PermutationNull([ens.NullHotspots(None, np.array([]), 0.01)])
    assert math.isnan(empty.ceiling) and empty.above(np.array([0.2, np.nan])).tolist() == [True, False]


def test_min_samples_follows_the_ensemble_size_when_members_collapse():
    ensemble, _, feature = planted(members=8)
    collapsed = np.isin(ensemble.member, [5, 6, 7]) & (feature >= 0)  # members 5-7 keep no channel
    ensemble.mu[:, collapsed], ensemble.logvar[:, collapsed] = 0.0, 0.0
    analysis = ens.analyse_channels(ensemble)
    assert set(ensemble.member[analysis.kept]) == set(range(5))
    assert analysis.hotspots.min_samples == fp.optics_min_samples(8) == 3  # was scaled to the 5 members left: 2


@pytest.mark.parametrize("kwargs, message", [
    (dict(threshold=-1.0), r"threshold must be a finite number of bits >= 0 \(the authors: 0.01\), got -1.0"),
    (dict(threshold=float("nan")), r"threshold must be a finite number of bits >= 0"),
    (dict(distance="kl"), r"unknown distance 'kl'; choose one of \('vi', 'nmi'\)"),
    (dict(min_samples=1), r"min_samples must be an integer >= 2 \(OPTICS min_samples\), got 1"),
])
def test_bad_analysis_options_are_refused_before_any_estimate(kwargs, message):
    ensemble, _, _ = planted()
    with pytest.raises(ValueError, match=message):  # a negative threshold kept the collapsed channels as a hotspot
        ens.analyse_channels(ensemble, **kwargs)


def test_hotspot_numbers_points_and_bases_are_checked():
    ensemble, _, _ = planted()
    analysis = ens.analyse_channels(ensemble)
    for bad in (-1, 2, 0.5):  # -1 returned the channels in no hotspot
        with pytest.raises(ValueError, match=r"hotspot must be an integer in \[0, 1\] \(hotspot number, 0-based\)"):
            ens.hotspot_representatives(ensemble, analysis, bad)
    for bad in (-100, 1):  # -100 dropped points from the end
        with pytest.raises(ValueError, match=rf"points must be an integer >= 2 \(evaluation images fused\), got {bad}"):
            ens.fuse_hotspots(ensemble, analysis, points=bad, steps=1)
    for kwargs, message in ((dict(base=-1), r"base must be an integer in \[0, 299\]"),
                            (dict(per_hotspot=0), r"per_hotspot must be an integer >= 1")):
        with pytest.raises(ValueError, match=message):
            ens.hotspot_traversals(ensemble, analysis, np.array([0.0]), **kwargs)


def test_hotspot_factor_nmi_names_the_factor_of_each_hotspot():
    ensemble, _, feature = planted()
    analysis = ens.analyse_channels(ensemble)
    assert analysis.factor_nmi.shape == (1, 8) and analysis.factor_info.shape == (1,)
    np.testing.assert_array_equal(analysis.label_nmi, analysis.factor_nmi[0])
    assert analysis.channel_nmi.shape == (8, 8)
    np.testing.assert_allclose(np.diag(analysis.channel_nmi), 1.0, atol=1e-9)  # each channel with itself
    np.testing.assert_array_equal(analysis.channel_nmi, analysis.similarity.nmi[:8, :8])
    table = analysis.hotspot_factor_nmi()
    assert table.shape == (2, 1)
    on_a = [int(feature[analysis.kept[analysis.hotspots.channels(h)]][0]) == 0 for h in range(2)]
    assert table[on_a.index(True), 0] > 5 * table[on_a.index(False), 0]  # the label is sign(A): A's hotspot


def test_several_label_columns_each_get_their_own_nmi():
    ensemble, _, feature = planted()
    labels = ensemble.points.labels.numpy()
    both = np.stack([labels, 1 - labels, np.arange(len(labels)) % 2], axis=1)  # the label, its mirror, noise
    two = ens.Ensemble(**{**vars(ensemble), "points": ImageData(ensemble.points.images, torch.as_tensor(both),
                                                                ensemble.points.source),
                          "label_names": ("a", "not a", "parity")})
    analysis, single = ens.analyse_channels(two), ens.analyse_channels(ensemble)
    assert analysis.factor_nmi.shape == (3, 8)
    np.testing.assert_allclose(analysis.factor_nmi[0], single.label_nmi, atol=1e-12)
    np.testing.assert_allclose(analysis.factor_nmi[1], single.label_nmi, atol=1e-12)  # relabelling changes nothing
    assert analysis.factor_nmi[2].max() < 0.05  # index parity: unrelated to every channel
    np.testing.assert_allclose(analysis.similarity.nmi[:8, :8], single.similarity.nmi[:8, :8], atol=1e-12)
    assert analysis.hotspots.count == 2 and analysis.hotspot_factor_nmi().shape == (2, 3)


def test_representatives_are_one_channel_per_member_with_signs_aligned_to_the_first():
    ensemble, sign, _ = planted()
    analysis = ens.analyse_channels(ensemble)
    for h in range(analysis.hotspots.count):
        reps = ens.hotspot_representatives(ensemble, analysis, h)
        columns = [c for c, _ in reps]
        assert sorted(ensemble.member[columns].tolist()) == [0, 1, 2, 3]
        first = columns[0]
        assert [s for _, s in reps] == [int(sign[c] * sign[first]) for c in columns]
        info = analysis.info[columns]
        assert np.all(np.diff(info) <= 0)  # members by decreasing information
        assert len(ens.hotspot_representatives(ensemble, analysis, h, limit=2)) == 2
    for bad in (0, -1, 1.5, 2.0):  # 0 was an IndexError, -1 silently dropped the last member
        with pytest.raises(ValueError, match=rf"limit must be an integer >= 1 \(members shown per hotspot\) "
                                             rf"or None \(all members\), got {bad}"):
            ens.hotspot_representatives(ensemble, analysis, 0, limit=bad)


def test_hotspot_factor_nmi_without_hotspots_is_an_empty_table():
    ensemble, _, _ = planted()
    analysis = ens.analyse_channels(ensemble)
    none = replace(analysis, hotspots=replace(analysis.hotspots, labels=np.full_like(analysis.hotspots.labels, -1)))
    assert none.hotspots.count == 0 and none.hotspot_factor_nmi().shape == (0, 1)


def test_flipping_one_members_channel_flips_only_its_sign():
    ensemble, sign, feature = planted()
    analysis = ens.analyse_channels(ensemble)
    flipped_column = 4  # member 1, channel 1 (feature B)
    mirrored = ens.Ensemble(**{**vars(ensemble), "mu": ensemble.mu.copy()})
    mirrored.mu[:, flipped_column] *= -1
    again = ens.analyse_channels(mirrored)
    np.testing.assert_allclose(again.info, analysis.info, atol=1e-12)  # information ignores the sign
    np.testing.assert_allclose(again.similarity.nmi, analysis.similarity.nmi, atol=1e-12)
    h = int(analysis.hotspots.labels[list(analysis.kept).index(flipped_column)])
    before = dict(ens.hotspot_representatives(ensemble, analysis, h))
    after = dict(ens.hotspot_representatives(mirrored, again, h))
    assert set(before) == set(after)
    first = next(iter(before))
    for column in before:
        expected = -before[column] if (column == flipped_column) != (first == flipped_column) else before[column]
        assert after[column] == expected


def test_too_few_informative_channels_is_a_clear_error():
    ensemble, _, _ = planted(members=1)
    ensemble.mu[:, 1] = 0.0  # member 0's only other informative channel goes
    with pytest.raises(ValueError, match=r"only 1 channel\(s\) carry >= 0.01 bits; hotspots need at least 2"):
        ens.analyse_channels(ensemble)


# ----------------------------------------------------------------------------- a real ensemble on the digits fallback


@pytest.fixture(scope="module")
def digits_run(tmp_path_factory) -> tuple[ens.Ensemble, object, object]:
    """A 2-member ensemble trained where there is no MNIST (the 8x8 digits stand in), its data folder and cache."""
    empty, cache = tmp_path_factory.mktemp("no-mnist"), tmp_path_factory.mktemp("cache")
    settings = ens.EnsembleSettings(members=2, latent_dim=4, epochs=1, seed=0)
    return ens.train_ensemble(settings, data_dir=empty, n_points=100, workers=1, cache_dir=cache), empty, cache


def test_the_digits_fallback_trains_gaussian_mlp_members(digits_run):
    e = digits_run[0]
    assert e.settings.epochs == ens.DIGITS_EPOCHS and e.settings.likelihood == "gaussian"
    assert e.train_data.source.fallback and all(r.ok and r.source["name"] == "digits" for r in e.runs)
    assert [r.config["seed"] for r in e.runs] == [0, 1] and len(e.runs[0].history) == ens.DIGITS_EPOCHS
    assert e.mu.shape == e.logvar.shape == (100, 8) and e.points.images.shape == (100, 1, 8, 8)
    assert e.member.tolist() == [0] * 4 + [1] * 4 and e.channel.tolist() == [0, 1, 2, 3] * 2
    assert e.name(6) == "m1 z2"


def test_member_columns_are_each_models_own_encoding(digits_run):
    e = digits_run[0]
    for m, model in enumerate(e.models):
        mu, logvar = encode(model, e.points.images)
        np.testing.assert_array_equal(e.mu[:, 4 * m:4 * (m + 1)], mu)
        np.testing.assert_array_equal(e.logvar[:, 4 * m:4 * (m + 1)], logvar)
    assert not np.allclose(e.mu[:, :4], e.mu[:, 4:])  # different seeds, different members


def test_a_second_call_reuses_the_cache_and_gives_the_same_numbers(digits_run, capfd):
    e, empty, cache = digits_run
    again = ens.train_ensemble(ens.EnsembleSettings(members=2, latent_dim=4, epochs=1, seed=0), data_dir=empty,
                               n_points=100, workers=1, cache_dir=cache)
    assert "the ensemble trains on the digits fallback" in capfd.readouterr().err
    assert all(r.cached and r.epochs_trained == 0 for r in again.runs)
    np.testing.assert_array_equal(again.mu, e.mu)
    np.testing.assert_array_equal(again.logvar, e.logvar)


def test_traversal_rows_follow_their_representatives_sign(digits_run):
    e = digits_run[0]
    analysis = ens.analyse_channels(e, min_samples=2)
    assert analysis.hotspots.count >= 1
    values = np.linspace(-2, 2, 5)  # symmetric: a flipped row is the same row read backwards
    images, labels = ens.hotspot_traversals(e, analysis, values, per_hotspot=2)
    reps = [rep for h in range(analysis.hotspots.count) for rep in ens.hotspot_representatives(e, analysis, h, 2)]
    assert images.shape == (len(reps), 5, 1, 8, 8) and len(labels) == len(reps)
    for row, (column, sign) in zip(images, reps):
        m, z = int(e.member[column]), int(e.channel[column])
        plain = traversal_images(e.models[m], e.mu[0, 4 * m:4 * (m + 1)], np.array([z]), values)[0]
        torch.testing.assert_close(row, plain if sign > 0 else plain.flip(0), rtol=0, atol=1e-6)


# ----------------------------------------------------------------------------- a real ensemble on dSprites


def test_a_dsprites_ensemble_is_notebook_09s_beta_vaes_with_factor_labels(tmp_path, monkeypatch):
    from vaeinfo.data.dsprites import FACTOR_NAMES
    from vaeinfo.experiments.disentanglement import DSpritesSettings

    training = DSpritesSettings(n_train=300, hidden=(32,), epochs=1, batch_size=100, warmup_iterations=2,
                                betas=(1.0,), seeds=(9,), objectives=("beta_tcvae",))
    settings = ens.EnsembleSettings(members=2, latent_dim=3, beta=4.0, epochs=99, seed=1, likelihood="gaussian")
    specs, real = [], ens.run_many
    monkeypatch.setattr(ens, "run_many", lambda configs, spec, **kw: specs.append(spec) or real(configs, spec, **kw))
    e = ens.train_dsprites_ensemble(settings, training, n_points=40, workers=1, cache_dir=tmp_path)
    assert [s.kwargs["source"] for s in specs] == ["procedural"]  # what this process found (no official file here)
    assert e.settings.epochs == 1 and e.settings.likelihood == "bernoulli" and e.label_names == FACTOR_NAMES
    expected = replace(training, betas=(4.0,), seeds=(1, 2), latent_dim=3, objectives=("beta_vae",))
    assert [r.config for r in e.runs] == [expected.config("beta_vae", 4.0, s) for s in (1, 2)]
    assert e.points.labels.shape == (40, 5) and e.mu.shape == (40, 6) and len(e.train_data.images) == 300
    again = ens.train_dsprites_ensemble(settings, training, n_points=40, workers=1, cache_dir=tmp_path)
    assert all(r.cached for r in again.runs) and np.array_equal(again.mu, e.mu)


def test_fused_axis_is_the_dimension_that_follows_the_channels():
    """Channels that follow the fused space's second axis (one of them flipped): axis 1, whatever the sign; a 1-D
    fusion has only axis 0; mismatched point counts are refused."""
    rng = np.random.default_rng(0)
    fused = rng.normal(size=(50, 2))
    members = np.stack([fused[:, 1] + 0.1 * rng.normal(size=50), -fused[:, 1] + 0.1 * rng.normal(size=50)])
    assert ens.fused_axis(fused, members) == 1
    assert ens.fused_axis(fused[:, ::-1], members) == 0
    assert ens.fused_axis(fused[:, :1], members) == 0
    with pytest.raises(ValueError, match="fused means of 50 points against channel means of 49"):
        ens.fused_axis(fused, members[:, 1:])


def test_fusion_into_two_dimensions_as_the_authors():
    """fuse_hotspots(dim=2), the paper profile's: one fusion per hotspot on the first `points` images, (points, 2)
    posteriors agreeing with the hotspot's channels, one history entry per step plus the end; the same again."""
    ensemble, _, _ = planted()
    analysis = ens.analyse_channels(ensemble)
    kwargs = dict(points=60, dim=2, similarity="vi", optimizer="adam", lr=0.05, steps=100, seed=0)
    fused = ens.fuse_hotspots(ensemble, analysis, **kwargs)
    assert len(fused) == analysis.hotspots.count == 2
    for h, fusion in enumerate(fused):
        assert fusion.mu.shape == fusion.logvar.shape == (60, 2) and fusion.history.shape == (101,)
        assert len(fusion.nmi) == len(analysis.hotspots.channels(h)) and np.all(fusion.nmi > 0.8)
    again = ens.fuse_hotspots(ensemble, analysis, **kwargs)
    for first, second in zip(fused, again, strict=True):
        np.testing.assert_array_equal(first.mu, second.mu)


def test_the_planted_hotspots_stand_out_from_matched_random_groups():
    """Each planted feature's four channels agree (NMI ~1 across members); a random group of one kept channel per
    member mixes the two features unless all four draws pick the same one (1/16 each). The hotspot of the more coherent
    feature ties only its own group: p ~ 1/16; the other is also beaten by that one: p ~ 2/16 (binomial sd <= 0.01)."""
    ensemble, _, _ = planted()
    analysis = ens.analyse_channels(ensemble)
    test = fp.matched_group_test(analysis.channel_nmi, analysis.hotspots, draws=1000, seed=0)
    assert np.all(test.observed > 0.9)
    np.testing.assert_allclose(np.sort(test.p_value), [1 / 16, 2 / 16], atol=0.03)

