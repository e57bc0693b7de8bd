"""Classifiers on frozen VAE factors: how much of a label the top-k factors carry.

- :func:`train_probe` / :func:`accuracy`: the paper's MLP probe (its classification-with-top-k-factors table);
- :func:`topk_classification`: logistic regression on the top-k factors, cross-validated with whole subjects held
  out (:func:`leave_subjects_out_predict`), scored by balanced accuracy (chance 0.5 whatever the class balance) and
  accuracy (chance: the majority class, :func:`majority_accuracy`) -- the DEAP emotion table.

The probe:

The probe is an MLP d -> 256 ReLU -> n_classes trained with Adam (lr 1e-3) and cross-entropy on the
encoder means of the training images (the VAE stays frozen). At test time all factors but a chosen set
are zeroed (the prior mean) *without retraining*, to measure how much of the class information the
kept factors carry. Its initial weights (``init``, one of :data:`PROBE_INITS`) are torch's defaults
(``"torch"``: weights and biases uniform in +-1/sqrt(fan_in)) or Keras' defaults as in the authors' notebook
(``"glorot"``: Glorot-uniform weights in +-sqrt(6 / (fan_in + fan_out)), zero biases).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import torch
from sklearn.dummy import DummyClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, balanced_accuracy_score
from sklearn.model_selection import GroupKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from torch import nn

from ..checks import check_integer
from .influence import factor_indices, top_factors, zero_outside

PROBE_INITS = ("torch", "glorot")


def train_probe(
    features: np.ndarray,
    labels: np.ndarray,
    *,
    n_classes: int | None = None,
    hidden: int = 256,
    epochs: int = 20,
    batch_size: int = 100,
    lr: float = 1e-3,
    eps: float = 1e-8,
    init: str = "torch",
    seed: int = 0,
) -> nn.Sequential:
    """Train the MLP probe on (features, labels); returns the model in eval mode (on the CPU).

    Parameters
    ----------
    features : (n, d) float array, e.g. encoder means.
    labels : (n,) integer class indices in [0, n_classes).
    n_classes : number of classes (default: max label + 1).
    lr, eps : Adam's learning rate and epsilon (torch's default 1e-8; Keras' 1e-7 in the authors' notebook).
    init : initial weights, ``"torch"`` or ``"glorot"`` (module docstring).
    seed : seeds the initial weights and the batch order; the same seed gives the same probe on CPU.
    """
    x, y = _features_and_labels(features, labels)
    if not torch.isfinite(x).all():
        raise ValueError("features contain NaN or inf; check the encoder outputs")
    if init not in PROBE_INITS:
        raise ValueError(f"unknown probe init {init!r}; choose one of {PROBE_INITS}")
    n_classes = int(y.max()) + 1 if n_classes is None else n_classes
    _check_classes(y, n_classes)
    gen = torch.Generator().manual_seed(seed)
    with torch.random.fork_rng(devices=[]):  # seeds the initial weights without resetting the caller's global RNG
        torch.manual_seed(seed)
        model = nn.Sequential(nn.Linear(x.shape[1], hidden), nn.ReLU(), nn.Linear(hidden, n_classes))
        if init == "glorot":
            glorot_init(model)
    opt = torch.optim.Adam(model.parameters(), lr=lr, eps=eps)
    loss_fn = nn.CrossEntropyLoss()
    for _ in range(epochs):
        for idx in torch.randperm(len(x), generator=gen).split(batch_size):
            opt.zero_grad(set_to_none=True)
            loss_fn(model(x[idx]), y[idx]).backward()
            opt.step()
    return model.eval()


def _features_and_labels(features: np.ndarray, labels: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
    """(n, d) float32 features and (n,) int64 labels (bool: 0, 1), n >= 1; ValueError for other shapes or labels
    that are not whole numbers."""
    x, y = torch.as_tensor(np.asarray(features), dtype=torch.float32), np.asarray(labels)
    if x.ndim != 2 or y.shape != (x.shape[0],) or len(y) == 0:
        raise ValueError(f"features must be (n >= 1, d) and labels (n,), got {tuple(x.shape)} and {y.shape}")
    if y.dtype != bool and (not np.issubdtype(y.dtype, np.number) or not np.array_equal(y, np.round(y))):
        raise ValueError(f"labels must be integer class indices, got dtype {y.dtype} (e.g. {y[:3].tolist()}); "
                         "map the classes to 0, 1, ... first")
    return x, torch.as_tensor(y.astype(np.int64))


def _check_classes(y: torch.Tensor, n_classes: int) -> None:
    """Raise unless every label lies in [0, n_classes)."""
    if int(y.min()) < 0 or int(y.max()) >= n_classes:
        raise ValueError(f"labels must lie in [0, {n_classes}) (the probe's classes), got {int(y.min())} ... "
                         f"{int(y.max())}")


def glorot_init(model: nn.Module) -> None:
    """Glorot-uniform weights and zero biases for every linear layer of ``model`` (in place; Keras' defaults),
    drawn from the global torch RNG."""
    for layer in model.modules():
        if isinstance(layer, nn.Linear):
            nn.init.xavier_uniform_(layer.weight)
            nn.init.zeros_(layer.bias)


def accuracy(model: nn.Module, features: np.ndarray, labels: np.ndarray, keep: np.ndarray | None = None) -> float:
    """Fraction of correct predictions with every factor outside ``keep`` set to 0 (all kept when None).

    features : (n, d); labels : (n,) integer class indices in [0, the probe's number of outputs); keep : distinct
    factor indices in [0, d) (:func:`vaeinfo.info.influence.factor_indices`; not a boolean mask)."""
    x, y = _features_and_labels(features, labels)
    if keep is not None:
        x = zero_outside(x, factor_indices(keep, x.shape[1], "keep"))
    with torch.inference_mode():
        logits = model(x)
    _check_classes(y, logits.shape[1])
    return float((logits.argmax(dim=1) == y).double().mean())


def leave_subjects_out_predict(z: np.ndarray, y: np.ndarray, subject: np.ndarray, *, n_folds: int | None = None,
                               C: float = 1.0) -> np.ndarray:
    """Cross-validated predictions (n,) of a standardised logistic regression (L2, strength 1/C) on ``z`` (n, k),
    each subject's rows predicted by a model fitted on other subjects only.

    n_folds : subjects are split into this many folds (sklearn's GroupKFold, deterministic); None or at least
        the number of subjects: one subject per fold. With k = 0 columns the model predicts the training folds'
        majority class.
    """
    z, y, subject = np.asarray(z, dtype=np.float64), np.asarray(y), np.asarray(subject)
    if z.ndim != 2 or y.shape != (len(z),) or subject.shape != (len(z),):
        raise ValueError(f"z must be (n, k) with y and subject (n,), got {z.shape}, {y.shape}, {subject.shape}")
    n_subjects = len(np.unique(subject))
    if n_subjects < 2:
        raise ValueError("leave-subjects-out cross-validation needs at least 2 subjects")
    n_folds = check_integer(n_folds, "n_folds", low=2, meaning="folds of subjects", none="one subject per fold")
    folds = n_subjects if n_folds is None else min(n_folds, n_subjects)
    predicted = np.empty_like(y)
    for fit, held_out in GroupKFold(folds).split(z, y, subject):
        if len(np.unique(y[fit])) < 2 and z.shape[1]:
            raise ValueError(f"the training folds without subject(s) {np.unique(subject[held_out]).tolist()} hold one "
                             f"class only ({np.unique(y[fit]).tolist()}); a classifier needs two. Fix: use fewer "
                             f"folds (n_folds) or labels that vary within the other subjects")
        model = (DummyClassifier(strategy="most_frequent") if z.shape[1] == 0 else
                 make_pipeline(StandardScaler(), LogisticRegression(C=C, max_iter=1000)))
        predicted[held_out] = model.fit(z[fit], y[fit]).predict(z[held_out])
    return predicted


def topk_classification(z: np.ndarray, y: np.ndarray, subject: np.ndarray, order: np.ndarray, ks: Sequence[int], *,
                        n_folds: int | None = None, C: float = 1.0) -> dict[str, list[float]]:
    """Leave-subjects-out scores with only the factors ``order[:k]`` as features, for each k in ``ks``.

    z : (n, d) encoder means; y : (n,) binary labels; order : factors by decreasing influence, its first max(ks)
    distinct indices in [0, d) (:func:`vaeinfo.info.influence.top_factors`).
    Returns ``{"k": ks (capped at d), "balanced_accuracy": [...], "accuracy": [...]}``, pooled over the folds'
    predictions (balanced accuracy: the mean recall of the two classes; 0.5 is chance for any class balance).
    """
    z = np.asarray(z)
    ks = [min(check_integer(k, "every k", low=0, meaning="factors kept"), z.shape[1]) for k in ks]
    scores = {"k": ks, "balanced_accuracy": [], "accuracy": []}
    for k in ks:
        predicted = leave_subjects_out_predict(z[:, top_factors(order, k, z.shape[1])], y, subject,
                                               n_folds=n_folds, C=C)
        scores["balanced_accuracy"].append(float(balanced_accuracy_score(y, predicted)))
        scores["accuracy"].append(float(accuracy_score(y, predicted)))
    return scores


def majority_accuracy(y: np.ndarray) -> float:
    """Accuracy of always predicting the more frequent class: max(p, 1 - p) for binary y (n,)."""
    _, counts = np.unique(np.asarray(y), return_counts=True)
    return float(counts.max() / counts.sum())
