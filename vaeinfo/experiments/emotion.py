"""Emotion-relevant VAE factors on DEAP EEG (the paper's Fig. 2b, Fig. 5 and emotion classification table).

The experiment of notebook 06: window features of every subject (:func:`vaeinfo.data.deap.features.source_features`),
standardised with the statistics of the VAE's training subjects, an ``mlp`` β-VAE trained on the training
subjects' windows (labels never reach it), and the encodings of every window. The analyses are pure functions
of arrays elsewhere: the factors' information about the labels in :mod:`vaeinfo.info.label_mi`, the
leave-subjects-out classification in :mod:`vaeinfo.info.classify`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np
import torch

from ..data import DataSource
from ..data.deap.features import Features, high_low, source_features
from ..data.deap.folder import available_subjects
from ..data.deap.format import ENV_VAR, DeapSource, deap_source
from ..data.deap.synthetic import cached_synthetic
from ..info.mi import factor_mi
from ..io import display_path
from ..training.encode import encode
from ..training.train import TrainResult, train
from .vae import vae_config

EMOTIONS = ("valence", "arousal")  # the rating columns 0 and 1 of DEAP's labels


# ----------------------------------------------------------------------------- data and the VAE
def resolve_source(deap_dir: str | os.PathLike | None = None, *, n_subjects: int = 32, n_trials: int = 40,
                   video_s: float = 60.0, seed: int = 0, cache_dir: str | os.PathLike | None = None) -> DeapSource:
    """The DEAP folder: ``deap_dir`` > ``$VAEINFO_DEAP`` > a cached synthetic set (``n_subjects`` x ``n_trials``
    videos of ``video_s`` seconds, ``seed``; see :func:`vaeinfo.data.deap.synthetic.cached_synthetic`).

    A folder that is named but missing or empty is a DataError (:func:`vaeinfo.data.deap.format.deap_source`), never a
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
                f"{source.n_trials} trials of {source.video_s:g} s per subject, in `{display_path(source.root)}`.")
    return f"Data: DEAP from `{display_path(source.root)}` (via {source.origin})."


def data_record(source: DeapSource, features: Features) -> DataSource:
    """The DataSource record of the results JSON: name ``"DEAP-synthetic"`` or ``"DEAP"``; n = windows."""
    name = "DEAP-synthetic" if source.synthetic else "DEAP"
    return DataSource(name, display_path(source.root), len(features.X), "all subjects", (len(features.names),))


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
