"""Raw DEAP recordings (``data_original/sNN.bdf``) processed as the release was (see the package docstring).
"""

from __future__ import annotations

import csv
import os
from pathlib import Path

import mne
import numpy as np

from .. import DataError
from .bdf import BDFHeader, find_events, read_header, read_status
from .format import (
    BASELINE_S,
    CODE_VIDEO,
    GENEVA,
    MARGIN_S,
    N_TRIALS,
    PASSBAND,
    RATING_NAMES,
    RATING_RANGE,
    RAW_EOG,
    RAW_MISC,
    RAW_SFREQ,
    SFREQ,
    STATUS,
    EEGTrials,
    source_for,
    subject_of,
)


def load_raw(path: str | os.PathLike, ratings_csv: str | os.PathLike | None = None) -> EEGTrials:
    """Cut a raw DEAP recording ``data_original/sNN.bdf`` into trials processed like the release.

    Parameters
    ----------
    path : the ``sNN.bdf`` file (512 Hz; 32 EEG channels in Twente or Geneva order, EXG1-8, GSR1-2,
        Erg1-2, Resp, Plet, Temp, Status).
    ratings_csv : ``participant_ratings.csv``; when given, trials are put in video order and labelled.

    Returns
    -------
    EEGTrials with samples float64 (n_trials, 32, 63 * 128) in uV, Geneva channel order, 128 Hz. See the
    module docstring for what differs from the release (no EOG artefact removal).

    Raises
    ------
    DataError
        Not a DEAP recording (channels, rate), a video-start count other than the expected trials, a
        trial too close to the recording's edge, or a ratings file without this subject.
    """
    path = Path(path)
    source, subject = source_for(path), subject_of(path)
    header = read_header(path)
    _check_raw_header(header, path)
    onsets = video_onsets(read_status(path), source.n_trials, path)
    raw = _read_raw_mne(path)
    segments = (trial_bounds(onset, header.n_samples, source.video_s, path) for onset in onsets)
    samples = np.stack([release_eeg(raw.get_data(list(GENEVA), start, stop) * 1e6, RAW_SFREQ, source.video_s)
                        for start, stop in segments])  # MNE gives volts
    number, labels, order = np.arange(1, len(onsets) + 1), None, "presentation"
    if ratings_csv is not None:
        video, labels = read_ratings(ratings_csv, subject, len(onsets))
        by_video = np.argsort(video)
        samples, number, labels, order = samples[by_video], video[by_video], labels[by_video], "video"
    return EEGTrials(subject, number, GENEVA, samples, SFREQ, labels, order, source=str(path),
                     synthetic=source.synthetic)


def _read_raw_mne(path: Path):
    """The recording through MNE with the documented channel types (not preloaded)."""
    return mne.io.read_raw_bdf(path, eog=list(RAW_EOG), misc=list(RAW_MISC), stim_channel=STATUS, preload=False,
                               verbose="error")


def _check_raw_header(header: BDFHeader, path: Path) -> None:
    """DataError unless the file has DEAP's channels and rate."""
    missing = [name for name in GENEVA + RAW_EOG + RAW_MISC + (STATUS,) if name not in header.labels]
    if missing or header.sfreq != RAW_SFREQ:
        raise DataError(f"{path} is not a raw DEAP recording: {header.sfreq:g} Hz with channels {header.labels} "
                        f"(missing {missing}); DEAP's are 512 Hz with 32 EEG, EXG1-8, GSR1-2, Erg1-2, Resp, Plet, "
                        f"Temp, Status. Fix: pass data_original/sNN.bdf (use vaeinfo.data.deap.bdf for other BDF files).")


def video_onsets(status: np.ndarray, n_trials: int, where: Path | str = "Status") -> np.ndarray:
    """Sample indices (n_trials,) of the video starts: code 4 in the low 16 bits of the raw ``status``.

    DataError naming ``where`` unless there are exactly ``n_trials``.
    """
    events = find_events(status)
    onsets = events[events[:, 2] == CODE_VIDEO, 0]
    if len(onsets) != n_trials:
        raise DataError(f"{where}: {len(onsets)} video starts (Status code {CODE_VIDEO}), expected {n_trials}. "
                        f"Fix: check that this is a complete DEAP recording.")
    return onsets


def trial_bounds(onset: int, n_samples: int, video_s: float, path: Path) -> tuple[int, int]:
    """(start, stop) raw samples of a trial (baseline + video) with MARGIN_S on both sides, at 512 Hz."""
    start = onset - round((BASELINE_S + MARGIN_S) * RAW_SFREQ)
    stop = onset + round((video_s + MARGIN_S) * RAW_SFREQ)
    if start < 0 or stop > n_samples:
        raise DataError(f"{path}: the trial at sample {onset} needs {BASELINE_S + MARGIN_S:g} s before and "
                        f"{video_s + MARGIN_S:g} s after its video start; the recording is too short there.")
    return start, stop


def downsample(segment: np.ndarray, sfreq: float) -> np.ndarray:
    """(n_channels, n) at ``sfreq`` -> (n_channels, n * 128 / sfreq) at 128 Hz (MNE's FFT resampling)."""
    return mne.filter.resample(segment, down=sfreq / SFREQ, npad="auto", verbose=False)


def release_eeg(segment: np.ndarray, sfreq: float, video_s: float) -> np.ndarray:
    """EEG segment from :func:`trial_bounds`, uV (32, n) -> one release trial (32, (3 + video_s) * 128).

    Downsample to 128 Hz, band-pass 4-45 Hz, re-reference to the common average, drop the margins.
    """
    x = mne.filter.filter_data(downsample(segment, sfreq), SFREQ, *PASSBAND, verbose=False)
    x -= x.mean(axis=0)
    return trim_margins(x, video_s)


def trim_margins(x: np.ndarray, video_s: float) -> np.ndarray:
    """Drop the MARGIN_S margins of a 128-Hz segment: (..., n) -> (..., (3 + video_s) * 128)."""
    first = round(MARGIN_S * SFREQ)
    return x[..., first:first + round((BASELINE_S + video_s) * SFREQ)]


def read_ratings(csv_path: str | os.PathLike, subject: int, n_trials: int = N_TRIALS) -> tuple[np.ndarray, np.ndarray]:
    """One subject's rows of ``participant_ratings.csv``, in presentation (Trial) order.

    Returns
    -------
    video : int (n_trials,) Experiment_id (1-based video number) of each presented trial.
    ratings : float (n_trials, 4) valence, arousal, dominance, liking in 1..9.
    """
    path = Path(csv_path)
    if not path.is_file():
        raise DataError(f"ratings file {path} does not exist. Fix: unzip DEAP's metadata_csv.zip (or pass None).")
    fix = "Fix: use DEAP's metadata_csv/participant_ratings.csv."
    columns = ["Participant_id", "Trial", "Experiment_id"] + [name.capitalize() for name in RATING_NAMES]
    with open(path, newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        missing = [c for c in columns if c not in (reader.fieldnames or [])]
        rows = [] if missing else [row for row in (_rating_row(r, columns, path, fix) for r in reader)
                                   if row[0] == subject]
    found = f"missing columns {missing}" if missing else f"{len(rows)} rows"
    if missing or len(rows) != n_trials:
        raise DataError(f"{path}: expected columns {columns} and {n_trials} rows for participant {subject}; found "
                        f"{found}. {fix}")
    rows.sort(key=lambda row: row[1])
    trials, video = [row[1] for row in rows], np.array([row[2] for row in rows])
    distinct_videos = len(set(video)) == n_trials and 1 <= video.min() and video.max() <= N_TRIALS
    if trials != list(range(1, n_trials + 1)) or not distinct_videos:
        raise DataError(f"{path}: participant {subject}'s Trial must be 1..{n_trials} once each (found {trials}) "
                        f"and Experiment_id distinct videos in 1..{N_TRIALS} (found {video.tolist()}). {fix}")
    ratings = np.array([row[3] for row in rows])
    if not (np.isfinite(ratings).all() and RATING_RANGE[0] <= ratings.min() and ratings.max() <= RATING_RANGE[1]):
        raise DataError(f"{path}: participant {subject}'s ratings are not all within 1..9. {fix}")
    return video, ratings


def _rating_row(row: dict, columns: list[str], path: Path, fix: str) -> tuple[int, int, int, list[float]]:
    """(participant, trial, video, [valence, arousal, dominance, liking]) of one CSV row; DataError naming the
    line and the value that does not parse."""
    try:
        return (int(row[columns[0]]), int(row[columns[1]]), int(row[columns[2]]),
                [float(row[c]) for c in columns[3:]])
    except (TypeError, ValueError) as exc:
        raise DataError(f"{path}: a row does not parse ({exc}): {row}. {fix}") from None
