"""Emotion-relevant VAE factors on DEAP EEG (the paper's Fig. 2b, Fig. 5 and emotion classification table).

The experiment of notebook 06: window features of every subject (:func:`vaeinfo.deap.source_features`),
standardised with the statistics of the VAE's training subjects, an ``mlp`` β-VAE trained on the training
subjects' windows (labels never reach it), and the encodings of every window. Then, all as pure functions of
arrays:

- :func:`label_mi`: I(Z_h; Y) between each factor and a discrete label (high/low valence or arousal), in nats,
  from the encoder posteriors; :func:`label_mi_null` gives its distribution under labels shuffled by whole
  trials within each subject (:func:`shuffled_trial_labels`), and :func:`relevant_factors` the factors above it;
- :func:`topk_classification`: logistic regression on the top-k factors, cross-validated with whole subjects
  held out (:func:`leave_subjects_out_predict`), scored by balanced accuracy (chance 0.5 whatever the class
  balance) and accuracy (chance: the majority class, :func:`majority_accuracy`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch
from sklearn.dummy import DummyClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, balanced_accuracy_score
from sklearn.model_selection import GroupKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from .data import DataSource
from .deap import ENV_VAR, DeapSource, Features, available_subjects, deap_source, high_low, source_features
from .deap_synthetic import cached_synthetic
from .mi import as_posterior, factor_mi
from .pipeline import vae_config
from .train import TrainResult, encode, train

EMOTIONS = ("valence", "arousal")  # the rating columns 0 and 1 of DEAP's labels


# ----------------------------------------------------------------------------- data and the VAE
def resolve_source(deap_dir: str | os.PathLike | None = None, *, n_subjects: int = 32, n_trials: int = 40,
                   video_s: float = 60.0, seed: int = 0, cache_dir: str | os.PathLike | None = None) -> DeapSource:
    """The DEAP folder: ``deap_dir`` > ``$VAEINFO_DEAP`` > a cached synthetic set (``n_subjects`` x ``n_trials``
    videos of ``video_s`` seconds, ``seed``; see :func:`vaeinfo.deap_synthetic.cached_synthetic`).

    A folder that is named but missing or empty is a DataError (:func:`vaeinfo.deap.deap_source`), never a
    silent switch to synthetic data.
    """
    if (deap_dir is not None and str(deap_dir) != "") or os.environ.get(ENV_VAR):
        return deap_source(deap_dir)
    return cached_synthetic(n_subjects, n_trials, video_s, seed, cache_dir=cache_dir)


def data_banner(source: DeapSource) -> str:
    """A one-paragraph markdown banner saying which data the results come from."""
    if source.synthetic:
        return (f"**SYNTHETIC DATA — not real EEG.** No DEAP folder is configured (parameter `deap_dir` or "
                f"`${ENV_VAR}`), so these results come from synthetic files in DEAP's formats with a planted emotion "
                f"signal (valence: frontal alpha asymmetry; arousal: beta/alpha ratio), seed {source.seed}, "
                f"{source.n_trials} trials of {source.video_s:g} s per subject, in `{source.root}`.")
    return f"Data: DEAP from `{source.root}` (via {source.origin})."


def data_record(source: DeapSource, features: Features) -> DataSource:
    """The DataSource record of the results JSON: name ``"DEAP-synthetic"`` or ``"DEAP"``; n = windows."""
    name = "DEAP-synthetic" if source.synthetic else "DEAP"
    return DataSource(name, str(source.root), len(features.X), "all subjects", (len(features.names),))


@dataclass
class Inputs:
    """The VAE's inputs: standardised features and which rows train it.

    Attributes
    ----------
    x : float32 (n_rows, n_features), standardised with the training subjects' mean and SD.
    train : bool (n_rows,), rows of the training subjects; the others are the held-out (validation) subjects.
    train_subjects, validation_subjects : subject numbers.
    """

    x: np.ndarray
    train: np.ndarray
    train_subjects: list[int]
    validation_subjects: list[int]


def split_inputs(features: Features, n_validation_subjects: int) -> Inputs:
    """Hold out the last ``n_validation_subjects`` subjects and standardise every row with the others' statistics."""
    subjects = sorted(set(features.subject.tolist()))
    if not 1 <= n_validation_subjects < len(subjects):
        raise ValueError(f"n_validation_subjects must be in 1..{len(subjects) - 1} for {len(subjects)} subjects, got "
                         f"{n_validation_subjects}; use more subjects or hold out fewer")
    held_out = subjects[-n_validation_subjects:]
    train_rows = ~np.isin(features.subject, held_out)
    return Inputs(standardize(features.X, features.X[train_rows]), train_rows, subjects[:-n_validation_subjects],
                  held_out)


@dataclass
class DeapExperiment:
    """Notebook 06's VAE and its encodings.

    Attributes
    ----------
    features : the window features of every subject used.
    inputs : their standardised values and the train / validation split by subject.
    run : the training result (cached by config and data).
    mu, logvar : float64 (n_rows, d) encodings of every window.
    mi : (d,) I(X; Z_h) in nats over the validation subjects' windows.
    """

    features: Features
    inputs: Inputs
    run: TrainResult
    mu: np.ndarray
    logvar: np.ndarray
    mi: np.ndarray


def deap_experiment(source: DeapSource, *, n_subjects: int | None = None, n_validation_subjects: int = 1,
                    latent_dim: int = 32, beta: float = 2.0, epochs: int = 150, init_sigma: float = 0.5, seed: int = 0,
                    cache_dir: str | os.PathLike | None = None) -> DeapExperiment:
    """Features of the first ``n_subjects`` subjects (all when None), then train or reuse the mlp β-VAE on the
    training subjects, encode every window, and estimate I(X; Z_h) on the validation subjects' windows."""
    features = source_features(source, _first_subjects(source, n_subjects))
    if features.labels is None:
        raise ValueError(f"{source.root} has no ratings; the emotion analysis needs them")
    inputs = split_inputs(features, n_validation_subjects)
    config = vae_config((inputs.x.shape[1],), latent_dim=latent_dim, beta=beta, epochs=epochs, seed=seed,
                        init_sigma=init_sigma)
    x = torch.as_tensor(inputs.x)
    run = train(config, x[inputs.train], x[~inputs.train], cache_dir=cache_dir)
    mu, logvar = encode(run.model, x)
    return DeapExperiment(features, inputs, run, mu, logvar, factor_mi(mu[~inputs.train], logvar[~inputs.train]))


def _first_subjects(source: DeapSource, n: int | None) -> list[int] | None:
    """The first ``n`` subject numbers present (None: all)."""
    subjects = available_subjects(source)
    if n is not None and not 1 <= n <= len(subjects):
        raise ValueError(f"n_subjects={n}, but {source.root} holds {len(subjects)} subjects")
    return subjects if n is None else subjects[:n]


def emotion_labels(features: Features) -> dict[str, np.ndarray]:
    """High/low labels (bool, n_rows) of valence and arousal: rating > 5."""
    return {name: high_low(features.labels[:, i]) for i, name in enumerate(EMOTIONS)}


# ----------------------------------------------------------------------------- pure functions
def standardize(x: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """(x - mean) / SD per column, with the mean and SD (ddof 0) of ``reference``.

    x : (n, p); reference : (m, p), e.g. the training subjects' rows. A column that is constant in the
    reference is only centred (SD taken as 1). Returns float32 (n, p).
    """
    x, reference = np.asarray(x, dtype=np.float64), np.asarray(reference, dtype=np.float64)
    if x.ndim != 2 or reference.ndim != 2 or x.shape[1] != reference.shape[1] or len(reference) == 0:
        raise ValueError(f"standardize needs x (n, p) and a non-empty reference (m, p), got {x.shape} and "
                         f"{reference.shape}")
    sd = reference.std(axis=0)
    return ((x - reference.mean(axis=0)) / np.where(sd > 0, sd, 1.0)).astype(np.float32)


def label_mi(mu: np.ndarray, logvar: np.ndarray, y: np.ndarray, method: str = "grid") -> np.ndarray:
    """I(Z_h; Y) between each factor and a discrete label, in nats, under the empirical distribution.

    With q(z_h) = (1/N) sum_i N(mu_ih, sigma_ih^2) and q(z_h | y) the same mixture over the examples with
    label y, I(Z_h; Y) = H(q(z_h)) - sum_y p(y) H(q(z_h | y)). Since Y is a function of X, this equals
    I(X; Z_h) - sum_y p(y) I(X; Z_h | Y = y) (chain rule), computed with :func:`vaeinfo.mi.factor_mi`.
    0 <= I(Z_h; Y) <= H(Y) (log 2 = 0.693 nats for balanced binary labels), up to the estimator's error
    (about 1e-3 nats per term for ``grid``).

    Parameters
    ----------
    mu, logvar : (N, d) encoder means and log-variances.
    y : (N,) labels of any hashable dtype (e.g. bool high/low); each class needs at least one example.
    method : factor_mi's estimator.

    Returns
    -------
    (d,) float64, nats.
    """
    mu, logvar = as_posterior(mu, logvar)
    y = np.asarray(y)
    if y.shape != (len(mu),):
        raise ValueError(f"y must hold one label per row of mu, shape ({len(mu)},), got {y.shape}")
    classes, counts = np.unique(y, return_counts=True)
    within = sum(count / len(y) * factor_mi(mu[y == c], logvar[y == c], method) for c, count in zip(classes, counts))
    return factor_mi(mu, logvar, method) - within


def trial_index(subject: np.ndarray, trial: np.ndarray) -> np.ndarray:
    """Index (n_rows,) of each row's (subject, trial) pair among the sorted distinct pairs."""
    pairs = np.stack([np.asarray(subject), np.asarray(trial)], axis=1)
    return np.unique(pairs, axis=0, return_inverse=True)[1].reshape(-1)


def per_trial(values: np.ndarray, subject: np.ndarray, trial: np.ndarray) -> np.ndarray:
    """Mean of ``values`` (n_rows, ...) over the rows of each trial -> (n_trials, ...), trials sorted by
    (subject, trial)."""
    index = trial_index(subject, trial)
    values = np.asarray(values, dtype=np.float64)
    sums = np.zeros((index.max() + 1, *values.shape[1:]))
    np.add.at(sums, index, values)
    return sums / np.bincount(index).reshape(-1, *([1] * (values.ndim - 1)))


def shuffled_trial_labels(y: np.ndarray, subject: np.ndarray, trial: np.ndarray,
                          rng: np.random.Generator) -> np.ndarray:
    """Labels permuted by whole trials within each subject: every window of a trial gets the label of another
    trial of the same subject (each subject keeps its class counts). y, subject, trial: (n_rows,).

    Raises ValueError when a trial's windows do not share one label.
    """
    y = np.asarray(y)
    index = trial_index(subject, trial)
    first = np.unique(index, return_index=True)[1]
    trial_label, trial_subject = y[first], np.asarray(subject)[first]
    if not np.array_equal(trial_label[index], y):
        raise ValueError("the windows of a trial have different labels; shuffle labels that are per trial")
    shuffled = trial_label.copy()
    for s in np.unique(trial_subject):
        rows = np.flatnonzero(trial_subject == s)
        shuffled[rows] = trial_label[rng.permutation(rows)]
    return shuffled[index]


def label_mi_null(mu: np.ndarray, logvar: np.ndarray, y: np.ndarray, subject: np.ndarray, trial: np.ndarray,
                  n_permutations: int, seed: int | np.random.Generator = 0) -> np.ndarray:
    """:func:`label_mi` under ``n_permutations`` label shuffles (:func:`shuffled_trial_labels`), (n_permutations, d)
    nats: what I(Z_h; Y) looks like when the factors carry no label information."""
    rng = np.random.default_rng(seed)
    return np.stack([label_mi(mu, logvar, shuffled_trial_labels(y, subject, trial, rng))
                     for _ in range(n_permutations)])


def relevant_factors(mi_label: np.ndarray, null: np.ndarray, level: float = 0.05) -> tuple[np.ndarray, float]:
    """Factors whose I(Z_h; Y) exceeds the (1 - level) quantile of the largest shuffled-label value over all
    factors (a threshold controlling the family-wise error over the d factors).

    mi_label : (d,) nats; null : (n_permutations, d) nats from :func:`label_mi_null`.
    Returns the factor indices by decreasing I(Z_h; Y), and the threshold in nats.
    """
    mi_label, null = np.asarray(mi_label, dtype=np.float64), np.asarray(null, dtype=np.float64)
    if null.ndim != 2 or null.shape[1] != len(mi_label) or len(null) == 0:
        raise ValueError(f"null must be (n_permutations >= 1, {len(mi_label)}), got {null.shape}")
    threshold = float(np.quantile(null.max(axis=1), 1 - level))
    order = np.argsort(-mi_label, kind="stable")
    return order[mi_label[order] > threshold], threshold


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
    folds = n_subjects if n_folds is None else min(n_folds, n_subjects)
    predicted = np.empty_like(y)
    for fit, held_out in GroupKFold(folds).split(z, y, subject):
        model = (DummyClassifier(strategy="most_frequent") if z.shape[1] == 0 else
                 make_pipeline(StandardScaler(), LogisticRegression(C=C, max_iter=1000)))
        predicted[held_out] = model.fit(z[fit], y[fit]).predict(z[held_out])
    return predicted


def topk_classification(z: np.ndarray, y: np.ndarray, subject: np.ndarray, order: np.ndarray, ks: Sequence[int], *,
                        n_folds: int | None = None, C: float = 1.0) -> dict[str, list[float]]:
    """Leave-subjects-out scores with only the factors ``order[:k]`` as features, for each k in ``ks``.

    z : (n, d) encoder means; y : (n,) binary labels; order : (d,) factors by decreasing influence.
    Returns ``{"k": ks (capped at d), "balanced_accuracy": [...], "accuracy": [...]}``, pooled over the folds'
    predictions (balanced accuracy: the mean recall of the two classes; 0.5 is chance for any class balance).
    """
    z = np.asarray(z)
    ks = [min(int(k), z.shape[1]) for k in ks]
    scores = {"k": ks, "balanced_accuracy": [], "accuracy": []}
    for k in ks:
        predicted = leave_subjects_out_predict(z[:, np.asarray(order[:k], dtype=np.int64)], y, subject,
                                               n_folds=n_folds, C=C)
        scores["balanced_accuracy"].append(float(balanced_accuracy_score(y, predicted)))
        scores["accuracy"].append(float(accuracy_score(y, predicted)))
    return scores


def majority_accuracy(y: np.ndarray) -> float:
    """Accuracy of always predicting the more frequent class: max(p, 1 - p) for binary y (n,)."""
    _, counts = np.unique(np.asarray(y), return_counts=True)
    return float(counts.max() / counts.sum())
