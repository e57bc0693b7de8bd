"""vaeinfo.emotion: factor-label MI, label shuffles, leave-subjects-out classification (known answers), the data
source of notebook 06, and recovery of the planted emotion signal by the whole pipeline on synthetic DEAP."""

from __future__ import annotations

import math

import matplotlib.pyplot as plt
import numpy as np
import pytest
import scipy.integrate
import scipy.stats

from vaeinfo.data import DataError
from vaeinfo.data.deap.features import Features
from vaeinfo.data.deap.synthetic import cached_synthetic
from vaeinfo.experiments import emotion
from vaeinfo.info import classify
from vaeinfo.info import label_mi as lm
from vaeinfo.info.influence import rank_factors
from vaeinfo.viz.plots import factors_vs_ratings, label_mi_bars


# ----------------------------------------------------------------------------- standardize, per_trial
def test_standardize_uses_the_reference_statistics():
    reference = np.array([[1.0, 5.0], [2.0, 5.0], [3.0, 5.0]])  # column 0: mean 2, SD sqrt(2/3); column 1 constant
    out = emotion.standardize(np.array([[2.0, 7.0], [3.0, 5.0]]), reference)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, [[0.0, 2.0], [1 / math.sqrt(2 / 3), 0.0]], rtol=1e-6)  # constant: only centred
    with pytest.raises(ValueError, match=r"x \(n, p\) and a non-empty reference"):
        emotion.standardize(np.zeros((2, 3)), reference)


def test_per_trial_means_rows_of_each_trial():
    subject, trial = np.array([2, 1, 1, 2, 1]), np.array([1, 3, 3, 1, 4])
    values = np.array([[10.0], [1.0], [3.0], [20.0], [7.0]])
    np.testing.assert_allclose(lm.per_trial(values, subject, trial), [[2.0], [7.0], [15.0]])  # (1,3) (1,4) (2,1)


# ----------------------------------------------------------------------------- label_mi: known answers
def _posterior(mu: np.ndarray, sigma: float) -> tuple[np.ndarray, np.ndarray]:
    return mu, np.full_like(mu, 2 * math.log(sigma))


@pytest.mark.parametrize("p_high", [0.5, 0.25])
def test_label_mi_of_separated_classes_is_the_label_entropy(p_high):
    """Factor 0 puts the classes 10 apart with sigma 0.01: I(Z; Y) = H(Y) (log 2 for balanced labels); factor 1
    ignores the label (same posterior for every example): 0. Tolerance 2e-3 nats (the grid estimator's error,
    < 1e-3 per term, enters three terms)."""
    rng = np.random.default_rng(0)
    y = np.arange(2000) < p_high * 2000
    mu = np.stack([10.0 * y + 0.01 * rng.standard_normal(2000), np.zeros(2000)], axis=1)
    mi = lm.label_mi(*_posterior(mu, 0.01), y)
    entropy = -(p_high * math.log(p_high) + (1 - p_high) * math.log(1 - p_high))
    np.testing.assert_allclose(mi, [entropy, 0.0], atol=2e-3)


def test_label_mi_of_two_gaussians_matches_quadrature():
    """Posteriors N(a y, s^2), y = +-1 balanced: I(Z; Y) = H(0.5 N(-a, s^2) + 0.5 N(a, s^2)) - H(N(0, s^2)),
    computed here by adaptive quadrature (to 1e-9); tolerance 2e-3 nats."""
    a, s = 0.8, 1.0
    y = np.repeat([-1.0, 1.0], 1000)
    mi = lm.label_mi(*_posterior((a * y)[:, None], s), y > 0)

    def integrand(z):
        q = 0.5 * scipy.stats.norm.pdf(z, -a, s) + 0.5 * scipy.stats.norm.pdf(z, a, s)
        return -q * math.log(q) if q > 0 else 0.0

    mixture_entropy = scipy.integrate.quad(integrand, -a - 12 * s, a + 12 * s, epsabs=1e-11, limit=200)[0]
    expected = mixture_entropy - 0.5 * math.log(2 * math.pi * math.e * s**2)
    assert 0.1 < expected < math.log(2)
    np.testing.assert_allclose(mi, [expected], atol=2e-3)


def test_label_mi_is_zero_when_the_classes_have_the_same_posteriors():
    """Each class holds the same 500 posteriors: q(z | y) = q(z) exactly, so I(Z; Y) = 0 (to 2e-3 nats)."""
    rng = np.random.default_rng(1)
    mu, logvar = rng.standard_normal((500, 3)), rng.uniform(-3, 0, (500, 3))
    y = np.repeat([False, True], 500)
    mi = lm.label_mi(np.vstack([mu, mu]), np.vstack([logvar, logvar]), y)
    np.testing.assert_allclose(mi, 0.0, atol=2e-3)


def test_label_mi_rejects_a_label_per_wrong_row():
    with pytest.raises(ValueError, match=r"one label per row of mu, shape \(4,\)"):
        lm.label_mi(np.zeros((4, 2)), np.zeros((4, 2)), np.zeros(3))


# ----------------------------------------------------------------------------- shuffles and the null
def _trial_design(n_subjects=3, n_trials=10, n_windows=4, seed=0):
    """subject, trial, per-trial labels repeated over windows (n_subjects * n_trials * n_windows rows)."""
    subject = np.repeat(np.arange(1, n_subjects + 1), n_trials * n_windows)
    trial = np.tile(np.repeat(np.arange(1, n_trials + 1), n_windows), n_subjects)
    y = np.repeat(np.random.default_rng(seed).random(n_subjects * n_trials) > 0.5, n_windows)
    return subject, trial, y


def test_shuffled_trial_labels_move_whole_trials_within_subjects():
    subject, trial, y = _trial_design()
    a = lm.shuffled_trial_labels(y, subject, trial, np.random.default_rng(5))
    b = lm.shuffled_trial_labels(y, subject, trial, np.random.default_rng(5))
    c = lm.shuffled_trial_labels(y, subject, trial, np.random.default_rng(6))
    np.testing.assert_array_equal(a, b)  # seeded
    assert not np.array_equal(a, c) and not np.array_equal(a, y)
    for s in (1, 2, 3):
        assert a[subject == s].sum() == y[subject == s].sum()  # each subject keeps its class counts
    assert np.all(a.reshape(-1, 4) == a.reshape(-1, 4)[:, :1])  # one label per trial
    y_bad = y.copy()
    y_bad[1] = ~y_bad[1]
    with pytest.raises(ValueError, match="windows of a trial have different labels"):
        lm.shuffled_trial_labels(y_bad, subject, trial, np.random.default_rng(0))


def test_relevant_factors_threshold_is_the_quantile_of_the_null_maxima():
    null = np.array([[0.1, 0.2], [0.3, 0.0]])  # maxima 0.2, 0.3; their median is 0.25
    relevant, threshold = lm.relevant_factors(np.array([0.26, 0.25]), null, level=0.5)
    assert threshold == pytest.approx(0.25) and relevant.tolist() == [0]
    relevant, _ = lm.relevant_factors(np.array([0.4, 0.9]), null, level=0.5)
    assert relevant.tolist() == [1, 0]  # by decreasing I(Z_h; Y)
    with pytest.raises(ValueError, match=r"null must be \(n_permutations >= 1, 3\)"):
        lm.relevant_factors(np.zeros(3), null)


def test_label_mi_null_finds_only_the_informative_factor():
    """Factor 0 = label + noise per trial; factors 1, 2 noise: only factor 0 beats the shuffled-label level."""
    subject, trial, y = _trial_design(n_subjects=4, n_trials=20)
    rng = np.random.default_rng(2)
    per_trial_noise = np.repeat(rng.standard_normal((80, 3)), 4, axis=0)
    mu = per_trial_noise + np.stack([2.0 * y, 0 * y, 0 * y], axis=1)
    logvar = np.full_like(mu, math.log(0.1**2))
    null = lm.label_mi_null(mu, logvar, y, subject, trial, 20, seed=0)
    assert null.shape == (20, 3) and np.all(null > -2e-3)
    np.testing.assert_array_equal(null, lm.label_mi_null(mu, logvar, y, subject, trial, 20, seed=0))
    relevant, threshold = lm.relevant_factors(lm.label_mi(mu, logvar, y), null)
    assert relevant.tolist() == [0] and 0 < threshold < 0.2


# ----------------------------------------------------------------------------- leave-subjects-out classification
def test_topk_classification_known_answers():
    """Factor 0 carries the label (separable), factor 1 is independent noise: balanced accuracy 1.0 with it,
    0.5 +- 0.06 (about 3 SDs for 1,200 rows) without it."""
    rng = np.random.default_rng(3)
    subject = np.repeat(np.arange(6), 200)
    y = rng.random(1200) > 0.4
    z = np.stack([np.where(y, 1.0, -1.0) + 0.1 * rng.standard_normal(1200), rng.standard_normal(1200)], axis=1)
    scores = classify.topk_classification(z, y, subject, np.array([0, 1]), [1, 2, 5])
    assert scores["k"] == [1, 2, 2] and scores["balanced_accuracy"][:2] == [1.0, 1.0] and scores["accuracy"][0] == 1.0
    noise = classify.topk_classification(z, y, subject, np.array([1, 0]), [1])
    assert abs(noise["balanced_accuracy"][0] - 0.5) < 0.06


def test_classifier_never_sees_the_held_out_subject():
    """Two subjects with opposite label mappings: a model fitted on one predicts the other exactly wrong, so the
    leave-subjects-out balanced accuracy is 0 (any leak of the held-out subject would raise it)."""
    z = np.array([[-1.0], [1.0], [-1.0], [1.0]] * 10)
    subject = np.repeat([1, 2], 20)
    y = np.where(subject == 1, z[:, 0] > 0, z[:, 0] < 0)
    assert classify.topk_classification(z, y, subject, np.array([0]), [1])["balanced_accuracy"] == [0.0]


def test_k0_predicts_the_training_majority_and_chance_levels():
    z, subject = np.zeros((6, 1)), np.array([1, 1, 1, 2, 2, 2])
    y = np.array([True, True, False, False, False, True])
    predicted = classify.leave_subjects_out_predict(z[:, :0], y, subject)
    np.testing.assert_array_equal(predicted, [False] * 3 + [True] * 3)  # each fold: the other subject's majority
    assert classify.majority_accuracy(y) == 0.5
    assert classify.majority_accuracy(np.array([1, 1, 0])) == pytest.approx(2 / 3)
    with pytest.raises(ValueError, match="at least 2 subjects"):
        classify.leave_subjects_out_predict(z, y, np.ones(6))


# ----------------------------------------------------------------------------- splitting and the data source
def _features(subjects=(1, 2, 3), rows=4) -> Features:
    n = len(subjects) * rows
    X = np.arange(n * 2, dtype=np.float32).reshape(n, 2) ** 1.5
    return Features(X, ("a", "b"), np.repeat(subjects, rows), np.tile(np.arange(rows), len(subjects)),
                    np.zeros(n, int), np.full((n, 4), 5.0))


def test_split_inputs_standardises_with_the_training_subjects_only():
    inputs = emotion.split_inputs(_features(), n_validation_subjects=1)
    assert inputs.train_subjects == [1, 2] and inputs.validation_subjects == [3]
    assert inputs.train.tolist() == [True] * 8 + [False] * 4
    np.testing.assert_allclose(inputs.x[inputs.train].mean(axis=0), 0, atol=1e-6)
    np.testing.assert_allclose(inputs.x[inputs.train].std(axis=0), 1, atol=1e-6)
    assert inputs.x[~inputs.train].mean() > 1  # the held-out rows are not re-centred
    with pytest.raises(ValueError, match="n_validation_subjects must be in 1..2 for 3 subjects"):
        emotion.split_inputs(_features(), n_validation_subjects=3)


def test_resolve_source_synthetic_default_is_cached_and_named_folders_never_fall_back(tmp_path, monkeypatch):
    monkeypatch.delenv("VAEINFO_DEAP", raising=False)
    source = emotion.resolve_source(None, n_subjects=2, n_trials=2, video_s=4, seed=3, cache_dir=tmp_path)
    assert source.synthetic and source.origin == "synthetic default" and source.root.parent.parent == tmp_path
    assert "SYNTHETIC DATA" in emotion.data_banner(source)
    stamp = (source.root / "synthetic_deap.json").stat().st_mtime_ns
    again = emotion.resolve_source(None, n_subjects=2, n_trials=2, video_s=4, seed=3, cache_dir=tmp_path)
    assert again.root == source.root and (source.root / "synthetic_deap.json").stat().st_mtime_ns == stamp  # reused
    other = emotion.resolve_source(None, n_subjects=2, n_trials=2, video_s=4, seed=4, cache_dir=tmp_path)
    assert other.root != source.root and other.seed == 4
    monkeypatch.setenv("VAEINFO_DEAP", str(tmp_path / "missing"))
    with pytest.raises(DataError, match="does not exist"):
        emotion.resolve_source(None, cache_dir=tmp_path)
    monkeypatch.setenv("VAEINFO_DEAP", str(source.root))  # a folder named explicitly is used, synthetic or not
    assert emotion.resolve_source(None, cache_dir=tmp_path).origin == "VAEINFO_DEAP"


# ----------------------------------------------------------------------------- the figures
def test_emotion_figures_label_their_axes():
    fig = label_mi_bars({"valence": np.array([0.1, 0.02]), "arousal": np.array([0.0, 0.3])},
                        {"valence": 0.05, "arousal": 0.05})
    assert [ax.get_ylabel() for ax in fig.axes] == ["I(Z_h; valence) [nats]", "I(Z_h; arousal) [nats]"]
    assert "1 factors above" in fig.axes[0].get_title(loc="left")
    plt.close(fig)
    values, ratings = np.array([[0.0, 1.0], [1.0, 0.0], [2.0, 1.0]]), np.array([[1.0, 9.0], [5.0, 5.0], [9.0, 1.0]])
    fig = factors_vs_ratings(values, ratings, ["z3 (I=1.00 nats)", "z7 (I=0.60 nats)"], ["valence", "arousal"])
    assert len(fig.axes) == 4 and "r = +1.00" in fig.axes[0].get_title() and "r = -1.00" in fig.axes[2].get_title()
    assert fig.axes[0].get_ylabel() == "valence rating"
    plt.close(fig)


# ----------------------------------------------------------------------------- the whole pipeline
@pytest.fixture(scope="module")
def pipeline(tmp_path_factory):
    """Synthetic DEAP (5 subjects x 16 videos of 8 s) -> features -> mlp β-VAE (8 factors, 30 epochs) -> codes."""
    cache = tmp_path_factory.mktemp("emotion-cache")
    source = cached_synthetic(5, 16, 8, seed=1, cache_dir=cache)
    return emotion.deap_experiment(source, n_validation_subjects=1, latent_dim=8, beta=2.0, epochs=30,
                                   init_sigma=0.5, seed=0, cache_dir=cache)


@pytest.mark.parametrize("rating", emotion.EMOTIONS)
def test_pipeline_recovers_the_planted_signal(pipeline, rating):
    """The top-3 factors by I(X; Z_h) classify high/low valence and arousal of unseen subjects with balanced
    accuracy >= 0.70 (560 windows of 80 trials); with labels shuffled by trial within subject the mean over 10
    shuffles is within 0.5 +- 0.1 (a single shuffle's SD is about 0.07 here: 80 trials)."""
    features = pipeline.features
    assert pipeline.inputs.validation_subjects == [5] and len(features.X) == 5 * 16 * 7
    y = emotion.emotion_labels(features)[rating]
    order = rank_factors(pipeline.mi)
    assert classify.topk_classification(pipeline.mu, y, features.subject, order, [3])["balanced_accuracy"][0] >= 0.70
    rng = np.random.default_rng(0)
    shuffled = [classify.topk_classification(pipeline.mu, lm.shuffled_trial_labels(y, features.subject,
                                                                                       features.trial, rng),
                                            features.subject, order, [3])["balanced_accuracy"][0] for _ in range(10)]
    assert abs(np.mean(shuffled) - 0.5) < 0.1
