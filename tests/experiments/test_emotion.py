"""vaeinfo.experiments.emotion: standardising and splitting by subject, the data source of notebook 06, its figures,
and recovery of the planted emotion signal by the whole pipeline on synthetic DEAP.

The label-MI tests are in tests/info/test_label_mi.py, the leave-subjects-out classifier's in
tests/info/test_classify.py."""

from __future__ import annotations

import math

import numpy as np
import pytest

from vaeinfo.data import DataError
from vaeinfo.data.deap.features import Features
from vaeinfo.data.deap.synthetic import cached_synthetic
from vaeinfo.experiments import emotion
from vaeinfo.info import classify
from vaeinfo.info import label_mi as lm
from vaeinfo.info.influence import rank_factors


# ----------------------------------------------------------------------------- standardize
def test_standardize_uses_the_reference_statistics():
    reference = np.array([[1.0, 5.0], [2.0, 5.0], [3.0, 5.0]])  # column 0: mean 2, SD sqrt(2/3); column 1 constant
    out = emotion.standardize(np.array([[2.0, 7.0], [3.0, 5.0]]), reference)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, [[0.0, 2.0], [1 / math.sqrt(2 / 3), 0.0]], rtol=1e-6)  # constant: only centred
    with pytest.raises(ValueError, match=r"x \(n, p\) and a non-empty reference"):
        emotion.standardize(np.zeros((2, 3)), reference)


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
