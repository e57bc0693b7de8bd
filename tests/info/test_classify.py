"""vaeinfo.classify: the probe learns separable classes, is seeded, and masking removes information."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from vaeinfo.info.classify import accuracy, train_probe


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


def test_bad_inputs():
    with pytest.raises(ValueError, match=r"\(n, d\)"):
        train_probe(np.zeros((4, 2)), np.zeros(3, dtype=int))
    with pytest.raises(ValueError, match="NaN"):
        train_probe(np.full((4, 2), np.nan), np.zeros(4, dtype=int))
