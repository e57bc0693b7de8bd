"""vaeinfo.info.classify: the probe learns separable classes, is seeded, and masking removes information; the
leave-subjects-out classifier against known answers."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from vaeinfo.info.classify import (
    PROBE_INITS,
    accuracy,
    leave_subjects_out_predict,
    majority_accuracy,
    topk_classification,
    train_probe,
)


def blobs(n=600, d=6, seed=0):
    """Three classes separated only along factor 2 (means -4, 0, 4, unit noise); other factors are noise."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)
    x = rng.standard_normal((n, d))
    x[:, 2] += 4.0 * (y - 1)
    return x.astype(np.float32), y


def test_probe_separates_classes_and_masking_the_informative_factor_drops_to_chance():
    x, y = blobs()
    xt, yt = blobs(seed=1)
    probe = train_probe(x, y, epochs=10, seed=0)
    # Bayes accuracy with unit noise and means 4 apart is Phi(2) on the outer classes ~ 0.95; allow for fit error.
    assert accuracy(probe, xt, yt) > 0.9
    assert accuracy(probe, xt, yt, keep=np.array([2])) > 0.85
    # Without factor 2 the features are independent of the label: accuracy near chance 1/3 (n=600: sd ~0.02).
    assert abs(accuracy(probe, xt, yt, keep=np.array([0, 1, 3, 4, 5])) - 1 / 3) < 0.1


def test_same_seed_same_probe():
    x, y = blobs(n=200)
    a, b = train_probe(x, y, epochs=2, seed=3), train_probe(x, y, epochs=2, seed=3)
    assert all(torch.equal(p, q) for p, q in zip(a.state_dict().values(), b.state_dict().values()))


def test_glorot_probe_has_keras_initial_weights(monkeypatch):
    """Glorot-uniform: weights uniform in +-sqrt(6 / (fan_in + fan_out)) (so SD limit / sqrt 3), zero biases; torch's
    default draws in +-1/sqrt(fan_in), biases too. Checked on the untrained probe (epochs=0), d = 128 as on MNIST."""
    x, y = blobs(n=50, d=128)
    glorot = train_probe(x, y, n_classes=10, epochs=0, init="glorot", seed=0)
    default = train_probe(x, y, n_classes=10, epochs=0, seed=0)
    assert PROBE_INITS == ("torch", "glorot")
    for layer, (fan_in, fan_out) in zip((glorot[0], glorot[2]), ((128, 256), (256, 10))):
        limit = np.sqrt(6 / (fan_in + fan_out))
        w = layer.weight.detach().numpy()
        assert w.shape == (fan_out, fan_in) and np.abs(w).max() <= limit and np.abs(w).max() > 0.98 * limit
        # SD of the uniform: limit / sqrt(3); n >= 2,560 weights give a relative SE below 1 %, tolerance 5 %
        assert w.std() == pytest.approx(limit / np.sqrt(3), rel=0.05)
        assert not layer.bias.detach().any()
    assert np.abs(default[0].weight.detach().numpy()).max() <= 1 / np.sqrt(128) < np.sqrt(6 / 384) * 0.98
    assert default[0].bias.detach().any()
    second = train_probe(x, y, n_classes=10, epochs=0, init="glorot", seed=0)
    assert all(torch.equal(p, q) for p, q in zip(glorot.state_dict().values(), second.state_dict().values()))


def test_probe_adam_gets_eps(monkeypatch):
    built = []

    class Spy(torch.optim.Adam):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            built.append(self.defaults["eps"])

    monkeypatch.setattr(torch.optim, "Adam", Spy)
    x, y = blobs(n=20)
    train_probe(x, y, epochs=1, seed=0)
    train_probe(x, y, epochs=1, eps=1e-7, seed=0)
    assert built == [1e-8, 1e-7]


def test_bad_inputs():
    with pytest.raises(ValueError, match=r"\(n >= 1, d\) and labels \(n,\)"):
        train_probe(np.zeros((4, 2)), np.zeros(3, dtype=int))
    with pytest.raises(ValueError, match="NaN"):
        train_probe(np.full((4, 2), np.nan), np.zeros(4, dtype=int))
    with pytest.raises(ValueError, match=r"unknown probe init 'keras'; choose one of \('torch', 'glorot'\)"):
        train_probe(np.zeros((4, 2)), np.zeros(4, dtype=int), init="keras")


@pytest.mark.parametrize("call, message", [
    (lambda p: train_probe(np.zeros((40, 2)), np.tile([0.3, 0.9], 20)), r"labels must be integer class indices"),
    (lambda p: train_probe(np.zeros((2, 2)), np.array([0, np.nan])), r"labels must be integer class indices"),
    (lambda p: train_probe(np.zeros((2, 2)), np.array(["a", "b"])), r"labels must be integer class indices"),
    (lambda p: train_probe(np.zeros((0, 2)), np.zeros(0, dtype=int)), r"features must be \(n >= 1, d\)"),
    (lambda p: train_probe(np.zeros((2, 2)), np.array([0, 3]), n_classes=3), r"labels must lie in \[0, 3\)"),
    (lambda p: train_probe(np.zeros((2, 2)), np.array([-1, 1])), r"labels must lie in \[0, 2\)"),
    (lambda p: accuracy(p, np.zeros((40, 2)), np.tile([0.3, 0.9], 20)), r"labels must be integer class indices"),
    (lambda p: accuracy(p, np.zeros((2, 2)), np.array([0, 2])), r"labels must lie in \[0, 2\)"),
    (lambda p: accuracy(p, np.zeros((0, 2)), np.zeros(0, dtype=int)), r"features must be \(n >= 1, d\)"),
    (lambda p: topk_classification(np.zeros((4, 2)), np.zeros(4), np.arange(4), np.arange(2), [-1]),
     r"every k must be an integer >= 0 \(factors kept\), got -1"),
    (lambda p: topk_classification(np.zeros((4, 2)), np.zeros(4), np.arange(4), np.arange(2), [1, 1.5]),
     r"every k must be an integer >= 0 \(factors kept\), got 1.5"),
])
def test_labels_outside_the_classes_and_negative_k_raise(call, message):
    """Float labels were truncated (0.3, 0.9 -> 0, accuracy 1.0), a label outside the classes was never predicted
    or an IndexError, k = -1 kept d - 1 factors."""
    probe = train_probe(np.zeros((4, 2)), np.array([0, 1, 0, 1]), epochs=0)
    with pytest.raises(ValueError, match=message):
        call(probe)


def test_accuracy_keeps_exactly_the_factors_named():
    """Factor 2 carries the class: keeping it gives the full accuracy, dropping it chance, whatever the dropped factors
    hold (an inf there made every logit NaN); a boolean mask (read as factors 0 and 1), a negative index (wrapped to
    the last factor) or a repeated one is refused."""
    x, y = blobs(n=600)
    probe = train_probe(x, y, epochs=30, seed=0)
    full = accuracy(probe, x, y)
    assert full > 0.9
    assert accuracy(probe, x, y, keep=[2]) == pytest.approx(accuracy(probe, np.where(np.arange(6) == 2, x, 0), y),
                                                            abs=0)
    broken = x.copy()
    broken[:, 4] = np.inf
    assert accuracy(probe, broken, y, keep=np.array([2])) == accuracy(probe, x, y, keep=np.array([2])) > 0.8
    assert accuracy(probe, x, y, keep=np.array([], dtype=np.int64)) < 0.5  # all dropped: one class predicted
    for keep, message in ((np.arange(6) == 2, "got a boolean mask"), ([-1], r"in \[0, 6\), got \[-1\]"),
                          ([2, 2], r"distinct factor indices in \[0, 6\), got \[2, 2\]"), ([6], r"got \[6\]"),
                          ([2.5], r"keep must be integer factor indices, got \[2.5\]")):
        with pytest.raises(ValueError, match=message):
            accuracy(probe, x, y, keep=keep)


def test_topk_classification_refuses_an_order_that_cannot_supply_k_factors():
    """An order of 1 factor gave rows labelled k = 2, 3 that used 1; a repeat or a negative index went through."""
    z, y, subject = np.zeros((8, 3)), np.tile([0, 1], 4), np.repeat([0, 1], 4)
    for order, message in (([1], r"order must rank at least 2 of the 3 factors"),
                           ([1, 1, 2], r"top 2 of order must be distinct factor indices in \[0, 3\)"),
                           ([-3, 1, 2], r"top 2 of order must be distinct factor indices in \[0, 3\)")):
        with pytest.raises(ValueError, match=message):
            topk_classification(z, y, subject, np.array(order), [0, 2])


def test_bool_labels_are_classes_0_and_1():
    x, y = blobs(n=200)
    probe = train_probe(x, y == 1, epochs=0, seed=0)
    as_int = train_probe(x, (y == 1).astype(np.int64), epochs=0, seed=0)
    assert probe[2].out_features == 2
    assert accuracy(probe, x, y == 1) == accuracy(as_int, x, (y == 1).astype(np.int64))  # bool = int classes 0/1
    trained = train_probe(x, y == 1, epochs=20, seed=0)
    assert accuracy(trained, x, y == 1) > 0.9  # class 1 vs the rest, separable along factor 2


def test_probe_leaves_the_global_rng_alone():
    """Seeding the probe (seed=5) does not reset the caller's torch RNG: the next global draw is what it would
    have been without the probe."""
    x, y = blobs(n=20)
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    train_probe(x, y, epochs=1, init="glorot", seed=5)
    torch.testing.assert_close(torch.rand(3), expected, rtol=0, atol=0)


# ----------------------------------------------------------------------------- leave-subjects-out classification
def test_topk_classification_known_answers():
    """Factor 0 carries the label (separable), factor 1 is independent noise: balanced accuracy 1.0 with it,
    0.5 +- 0.06 (about 3 SDs for 1,200 rows) without it."""
    rng = np.random.default_rng(3)
    subject = np.repeat(np.arange(6), 200)
    y = rng.random(1200) > 0.4
    z = np.stack([np.where(y, 1.0, -1.0) + 0.1 * rng.standard_normal(1200), rng.standard_normal(1200)], axis=1)
    scores = topk_classification(z, y, subject, np.array([0, 1]), [1, 2, 5])
    assert scores["k"] == [1, 2, 2] and scores["balanced_accuracy"][:2] == [1.0, 1.0] and scores["accuracy"][0] == 1.0
    noise = topk_classification(z, y, subject, np.array([1, 0]), [1])
    assert abs(noise["balanced_accuracy"][0] - 0.5) < 0.06


def test_classifier_never_sees_the_held_out_subject():
    """Two subjects with opposite label mappings: a model fitted on one predicts the other exactly wrong, so the
    leave-subjects-out balanced accuracy is 0 (any leak of the held-out subject would raise it)."""
    z = np.array([[-1.0], [1.0], [-1.0], [1.0]] * 10)
    subject = np.repeat([1, 2], 20)
    y = np.where(subject == 1, z[:, 0] > 0, z[:, 0] < 0)
    assert topk_classification(z, y, subject, np.array([0]), [1])["balanced_accuracy"] == [0.0]


def test_k0_predicts_the_training_majority_and_chance_levels():
    z, subject = np.zeros((6, 1)), np.array([1, 1, 1, 2, 2, 2])
    y = np.array([True, True, False, False, False, True])
    predicted = leave_subjects_out_predict(z[:, :0], y, subject)
    np.testing.assert_array_equal(predicted, [False] * 3 + [True] * 3)  # each fold: the other subject's majority
    assert majority_accuracy(y) == 0.5
    assert majority_accuracy(np.array([1, 1, 0])) == pytest.approx(2 / 3)
    with pytest.raises(ValueError, match="at least 2 subjects"):
        leave_subjects_out_predict(z, y, np.ones(6))


def test_a_one_class_training_fold_and_bad_fold_counts_name_the_fix():
    """sklearn's 'needs samples of at least 2 classes' and 'requires at least one train/test split' before."""
    z, subject = np.arange(6.0)[:, None], np.array([1, 1, 2, 2, 3, 3])
    y = np.array([0, 0, 0, 0, 1, 1])  # without subject 3, only class 0 remains
    with pytest.raises(ValueError, match=r"without subject\(s\) \[3\] hold one class only \(\[0\]\)"):
        leave_subjects_out_predict(z, y, subject)
    for bad in (0, 1, 2.5):
        with pytest.raises(ValueError, match=r"n_folds must be an integer >= 2 \(folds of subjects\)"):
            leave_subjects_out_predict(z, np.array([0, 1] * 3), subject, n_folds=bad)
