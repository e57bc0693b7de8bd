"""EEG emotion features: baseline-corrected log band powers over sliding windows and frontal asymmetries.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import scipy.signal

from ...io import progress_bar
from .. import DataError
from .folder import available_subjects, load_subject
from .format import BANDS, FRONTAL_PAIRS, GENEVA, HIGH_THRESHOLD, DeapSource, EEGTrials


@dataclass(frozen=True)
class Features:
    """Windowed EEG features, one row per (subject, trial, window).

    Attributes
    ----------
    X : float32 (n_rows, n_features): baseline-corrected log band powers (natural log of the power ratio
        window / baseline) and right - left asymmetries of them.
    names : feature names, ``"alpha:Fp1"`` (band:channel) and ``"alpha:Fp2-Fp1"`` (band:right-left).
    subject, trial, window : int (n_rows,); window k starts k * step_s seconds after the video start.
    labels : float (n_rows, 4) ratings of each row's trial, or None if unknown.
    """

    X: np.ndarray
    names: tuple[str, ...]
    subject: np.ndarray
    trial: np.ndarray
    window: np.ndarray
    labels: np.ndarray | None


def high_low(ratings: np.ndarray, threshold: float = HIGH_THRESHOLD) -> np.ndarray:
    """Binary labels: True (high) where a rating is strictly above ``threshold`` (5: exactly 5 is low)."""
    return np.asarray(ratings) > threshold


def band_log_power(x: np.ndarray, sfreq: float, bands: dict[str, tuple[float, float]] = BANDS,
                   segment_s: float = 1.0) -> np.ndarray:
    """Log band power of signals along the last axis.

    Welch's PSD (``scipy.signal.welch``: Hann segments of ``segment_s``, 50 % overlap, one-sided density,
    uV^2/Hz) summed over the bins ``lo <= f < hi`` of each band times the bin width.

    Parameters
    ----------
    x : (..., n_samples) in uV, at least ``segment_s`` long (ValueError otherwise).
    sfreq : sampling rate, Hz.
    bands : name -> (lo, hi) Hz.

    Returns
    -------
    (..., n_bands) natural log of band power in uV^2.
    """
    nperseg = round(segment_s * sfreq)
    if not 2 <= nperseg <= x.shape[-1]:  # scipy would shorten the segment with a warning, or fail on the overlap
        raise ValueError(f"Welch segments of segment_s = {segment_s} s ({nperseg} samples) must fit the signal, "
                         f"{x.shape[-1] / sfreq:g} s, and hold 2 samples: choose segment_s <= the window and the "
                         f"baseline")
    freqs, psd = scipy.signal.welch(x, fs=sfreq, nperseg=nperseg, noverlap=nperseg // 2, axis=-1)
    df = freqs[1] - freqs[0]
    power = [psd[..., (freqs >= lo) & (freqs < hi)].sum(axis=-1) * df for lo, hi in bands.values()]
    return np.log(np.stack(power, axis=-1))


def sliding_windows(x: np.ndarray, sfreq: float, window_s: float, step_s: float) -> np.ndarray:
    """Windows of ``window_s`` every ``step_s`` seconds: (..., n) -> (..., n_windows, window samples), a view."""
    size, step = round(window_s * sfreq), round(step_s * sfreq)
    if step < 1 or not 1 <= size <= x.shape[-1]:
        raise ValueError(f"windows of {window_s} s every {step_s} s do not fit {x.shape[-1] / sfreq:g} s of signal")
    return np.lib.stride_tricks.sliding_window_view(x, size, axis=-1)[..., ::step, :]


def extract_features(trials: EEGTrials | Sequence[EEGTrials], *, bands: dict[str, tuple[float, float]] = BANDS,
                     pairs: Sequence[tuple[str, str]] = FRONTAL_PAIRS, window_s: float = 2.0, step_s: float = 1.0,
                     segment_s: float = 1.0) -> Features:
    """Baseline-corrected log band power per EEG channel and frontal asymmetries, per sliding window.

    Parameters
    ----------
    trials : one subject's EEGTrials or several; each needs the 32 EEG channels (Geneva names).
    bands : name -> (lo, hi) Hz; default theta 4-8, alpha 8-13, beta 13-30, gamma 30-45.
    pairs : (left, right) channel pairs; each gives ``band:right-left`` = corrected log power right - left.
    window_s, step_s : sliding windows over the video part (after the baseline), seconds.
    segment_s : Welch segment length within a window and within the baseline, seconds.

    Returns
    -------
    Features with 32 * n_bands + n_pairs * n_bands columns (148 by default), rows ordered by subject,
    trial, window. Values are natural-log power ratios (0 = same power as in the baseline).
    """
    subjects = [trials] if isinstance(trials, EEGTrials) else list(trials)
    if not subjects:
        raise ValueError("extract_features needs at least one EEGTrials")
    return _concatenate([_subject_features(t, bands, pairs, window_s, step_s, segment_s) for t in subjects])


def source_features(source: DeapSource, subjects: Sequence[int] | None = None, *, progress: bool = True,
                    **options) -> Features:
    """:func:`extract_features` of the subjects of a DEAP folder (all when None), loading one subject at a time
    (the full preprocessed release is 3.3 GB in memory, its features 45 MB), with a progress bar over the
    subjects on stderr unless ``progress`` is False. ``options`` go to extract_features.
    """
    subjects = available_subjects(source) if subjects is None else list(subjects)
    if not subjects:
        raise ValueError("source_features needs at least one subject (None: all of the folder's)")
    bar = progress_bar(subjects, desc="DEAP features", unit="subject", enabled=progress)
    return _concatenate([extract_features(load_subject(source, s), **options) for s in bar])


def _concatenate(parts: Sequence[Features]) -> Features:
    """Rows of several Features with the same columns, in order."""
    labels = None if any(p.labels is None for p in parts) else np.concatenate([p.labels for p in parts])
    return Features(np.concatenate([p.X for p in parts]), parts[0].names,
                    *(np.concatenate([getattr(p, key) for p in parts]) for key in ("subject", "trial", "window")),
                    labels)


def _subject_features(trials: EEGTrials, bands, pairs, window_s, step_s, segment_s) -> Features:
    """:func:`extract_features` for one subject."""
    eeg, sfreq = trials.pick(GENEVA).samples, trials.sfreq
    first = round(trials.baseline_s * sfreq)
    baseline = band_log_power(eeg[..., :first], sfreq, bands, segment_s)  # (n_trials, 32, n_bands)
    windows = np.stack([band_log_power(sliding_windows(trial[:, first:], sfreq, window_s, step_s), sfreq, bands,
                                       segment_s) for trial in eeg])  # (n_trials, 32, n_windows, n_bands)
    corrected = windows - baseline[:, :, None, :]
    left_rows, right_rows = ([GENEVA.index(pair[side]) for pair in pairs] for side in (0, 1))
    asymmetry = corrected[:, right_rows] - corrected[:, left_rows]
    columns = np.concatenate([corrected, asymmetry], axis=1)  # (n_trials, 32 + n_pairs, n_windows, n_bands)
    n_trials, n_columns, n_windows, n_bands = columns.shape
    X = columns.transpose(0, 2, 3, 1).reshape(n_trials * n_windows, n_bands * n_columns).astype(np.float32)
    if not np.isfinite(X).all():
        raise DataError(f"subject {trials.subject}: zero band power in some channel (a flat or missing signal); "
                        f"drop the channel's trials or fix the recording.")
    columns_names = list(GENEVA) + [f"{right}-{left}" for left, right in pairs]
    names = tuple(f"{band}:{column}" for band in bands for column in columns_names)
    labels = None if trials.labels is None else np.repeat(trials.labels, n_windows, axis=0)
    return Features(X, names, np.full(len(X), trials.subject), np.repeat(trials.trial, n_windows),
                    np.tile(np.arange(n_windows), n_trials), labels)
