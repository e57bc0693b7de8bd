"""DEAP EEG (Koelstra et al., IEEE TAC 2012): loaders, emotion features and synthetic files in the real formats.

DEAP is licence-restricted: users sign its EULA, download it, and point ``VAEINFO_DEAP`` (or a path
argument) at the folder that holds ``data_preprocessed_python/sNN.dat`` and/or ``data_original/sNN.bdf``
(and ``metadata_csv/participant_ratings.csv``). Without it, :func:`make_synthetic` writes files in
exactly those formats with a planted emotion signal; a ``synthetic_deap.json`` manifest beside them
marks the folder as synthetic (it is recorded in every result) and gives its trial count and length.

Both loaders return :class:`EEGTrials`: (trials, channels, samples) in uV at 128 Hz, each trial = 3 s
pre-trial baseline + the video (60 s in DEAP), EEG in Geneva order.

- :func:`load_preprocessed` reads the released Python 2 pickles (``pickle.load(f, encoding="latin1")``,
  restricted to the numpy globals such a file needs) and checks keys, shapes, dtype, finiteness and
  the 1..9 rating range.
- :func:`load_raw` reads a raw BioSemi recording (512 Hz, 48 channels) through ``mne.io.read_raw_bdf``,
  finds the video-start code 4 in the Status channel (masked to its low 16 bits; bits 16-23 are
  BioSemi system flags), reorders EEG by channel name to Geneva order (s01-s22 were recorded in Twente
  order) and reproduces the release's processing: 512 -> 128 Hz (MNE's FFT resampling), 4-45 Hz
  zero-phase FIR band-pass (MNE defaults), common-average reference, 63 s cut from 3 s before each
  video start. Each trial is processed on its own segment with :data:`MARGIN_S` of recording on both
  sides, longer than the filter's half-length. What differs from the release: the release also removed
  EOG artefacts (Koelstra et al., Sec. 6.1) -- not reproduced here, so raw-derived trials keep eye
  artefacts; its exact resampling and filter designs are not documented, so values differ numerically;
  only the 32 EEG channels are returned (the release's channels 33-40 are processed peripheral
  signals); and trials stay in presentation order unless ``participant_ratings.csv`` is given, which
  maps them to video (Experiment_id) order as in the release and supplies the labels.

Features (:func:`extract_features`): per EEG channel the log band power (theta 4-8, alpha 8-13, beta
13-30, gamma 30-45 Hz; natural log of uV^2, Welch with 1 s Hann segments, 50 % overlap) over sliding
windows (2 s, step 1 s) of the video part, minus the same quantity over the 3 s pre-trial baseline
(so a feature is the log power ratio to baseline), plus frontal asymmetries right - left of those
values for the pairs Fp1-Fp2, AF3-AF4, F3-F4, F7-F8, FC5-FC6. Binary labels: :func:`high_low` calls a
rating *high* when it is strictly above 5, as the DEAP convention does (the format doc: "high > 5"):
5 is the midpoint of the 1..9 scale, so a rating of exactly 5 (neutral) counts as low.
"""

from __future__ import annotations

import csv
import io
import json
import os
import pickle
import re
import struct
from dataclasses import asdict, dataclass, replace
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Sequence

import mne
import numpy as np
import scipy.signal

from .bdf import (BDFChannel, BDFHeader, find_events, read_header, read_status, status_channel, to_digital,
                  to_physical, write_bdf)
from .data import DataError
from .io import atomic_open, atomic_write_json, atomic_write_text

ENV_VAR = "VAEINFO_DEAP"
PREPROCESSED_DIR = "data_preprocessed_python"
RAW_DIR = "data_original"
RATINGS_CSV = "metadata_csv/participant_ratings.csv"
MANIFEST = "synthetic_deap.json"
N_SUBJECTS, N_TRIALS = 32, 40
SFREQ, RAW_SFREQ = 128.0, 512.0  # Hz: the release, the raw recordings
BASELINE_S, VIDEO_S = 3.0, 60.0  # seconds: pre-trial baseline, video
PASSBAND = (4.0, 45.0)  # Hz
MARGIN_S = 4.0  # seconds of recording processed on each side of a trial (filter and resampling transients)
RATING_NAMES = ("valence", "arousal", "dominance", "liking")
RATING_RANGE = (1.0, 9.0)
HIGH_THRESHOLD = 5.0
GENEVA = ("Fp1", "AF3", "F3", "F7", "FC5", "FC1", "C3", "T7", "CP5", "CP1", "P3", "P7", "PO3", "O1", "Oz", "Pz",
          "Fp2", "AF4", "Fz", "F4", "F8", "FC6", "FC2", "Cz", "C4", "T8", "CP6", "CP2", "P4", "P8", "PO4", "O2")
TWENTE = ("Fp1", "AF3", "F7", "F3", "FC1", "FC5", "T7", "C3", "CP1", "CP5", "P7", "P3", "Pz", "PO3", "O1", "Oz",
          "O2", "PO4", "P4", "P8", "CP6", "CP2", "C4", "T8", "FC6", "FC2", "F4", "F8", "AF4", "Fp2", "Fz", "Cz")
LAST_TWENTE_SUBJECT = 22  # s01-s22 were recorded in Twente order, s23-s32 in Geneva order
PERIPHERAL = ("hEOG", "vEOG", "zEMG", "tEMG", "GSR", "Respiration", "Plethysmograph", "Temperature")
PREPROCESSED_CHANNELS = GENEVA + PERIPHERAL
RAW_EOG = ("EXG1", "EXG2", "EXG3", "EXG4")
RAW_MISC = ("EXG5", "EXG6", "EXG7", "EXG8", "GSR1", "GSR2", "Erg1", "Erg2", "Resp", "Plet", "Temp")
STATUS = "Status"
CODE_START, CODE_SYNC, CODE_FIXATION, CODE_VIDEO, CODE_AFTER, CODE_END = 1, 2, 3, 4, 5, 7
BANDS = {"theta": (4.0, 8.0), "alpha": (8.0, 13.0), "beta": (13.0, 30.0), "gamma": (30.0, 45.0)}
FRONTAL_PAIRS = (("Fp1", "Fp2"), ("AF3", "AF4"), ("F3", "F4"), ("F7", "F8"), ("FC5", "FC6"))
_SUBJECT_FILE = re.compile(r"^s(\d{2})\.(dat|bdf)$")
_PICKLE_GLOBALS = {("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
                   ("numpy", "ndarray"), ("numpy", "dtype"), ("_codecs", "encode")}


# ----------------------------------------------------------------------------- where the data is
@dataclass(frozen=True)
class DeapSource:
    """A DEAP folder and what it holds; ``to_dict()`` goes into results JSON.

    Attributes
    ----------
    root : folder holding ``data_preprocessed_python/`` and/or ``data_original/``.
    origin : ``"argument"`` or ``"VAEINFO_DEAP"``.
    synthetic : True for files written by :func:`make_synthetic` (its manifest is present).
    n_trials : trials per subject (40 in DEAP).
    video_s : video length in seconds (60 in DEAP); a trial is ``BASELINE_S + video_s`` long.
    seed : the synthetic set's seed (None for real data).
    """

    root: Path
    origin: str = "argument"
    synthetic: bool = False
    n_trials: int = N_TRIALS
    video_s: float = VIDEO_S
    seed: int | None = None

    @property
    def n_samples(self) -> int:
        """Samples per trial at 128 Hz (8064 in DEAP)."""
        return round((BASELINE_S + self.video_s) * SFREQ)

    def fix(self) -> str:
        """How to replace a bad file of this folder."""
        if self.synthetic:
            return (f"regenerate the synthetic files with vaeinfo.deap.make_synthetic('{self.root}', ...) and the "
                    f"arguments recorded in {self.root / MANIFEST}")
        return (f"download DEAP again (after signing its EULA) and unzip data_preprocessed_python.zip / "
                f"data_original.zip into {self.root}")

    def to_dict(self) -> dict:
        """JSON-ready fields."""
        return {**asdict(self), "root": str(self.root)}


def deap_source(path: str | os.PathLike | None = None) -> DeapSource:
    """Resolve the DEAP folder: explicit ``path`` > ``$VAEINFO_DEAP``.

    Raises
    ------
    DataError
        Neither is set (the message says how to point at real DEAP or make synthetic files), the folder
        does not exist, or it holds neither ``data_preprocessed_python/`` nor ``data_original/``.
    """
    if path is not None and str(path) != "":
        root, origin = Path(path).expanduser().resolve(), "argument"
    elif os.environ.get(ENV_VAR):
        root, origin = Path(os.environ[ENV_VAR]).expanduser().resolve(), ENV_VAR
    else:
        raise DataError(
            f"no DEAP data configured. Fix: set {ENV_VAR}=/path/to/deap (the folder holding {PREPROCESSED_DIR}/ "
            f"and/or {RAW_DIR}/; DEAP is licence-restricted: sign its EULA and download your own copy), or "
            f"generate synthetic files in the same formats with vaeinfo.deap.make_synthetic(folder) and pass "
            f"that folder."
        )
    if not root.is_dir():
        raise DataError(f"DEAP folder {root} (from {origin}) does not exist. Fix: point {ENV_VAR} or the argument "
                        f"at the folder holding {PREPROCESSED_DIR}/ and/or {RAW_DIR}/.")
    if not ((root / PREPROCESSED_DIR).is_dir() or (root / RAW_DIR).is_dir()):
        raise DataError(f"DEAP folder {root} holds neither {PREPROCESSED_DIR}/ nor {RAW_DIR}/. Fix: unzip the DEAP "
                        f"downloads there, or run vaeinfo.deap.make_synthetic('{root}').")
    return _with_manifest(root, origin)


def _source_for(path: Path) -> DeapSource:
    """The DeapSource of a file, its data folder or the root: the root is where the manifest is, if any."""
    folder = path if path.is_dir() else path.parent
    root = folder.parent if folder.name in (PREPROCESSED_DIR, RAW_DIR) else folder
    return _with_manifest(root.resolve(), "argument")


def _with_manifest(root: Path, origin: str) -> DeapSource:
    """A DeapSource for ``root``, synthetic with the manifest's trial count and length when it has one."""
    manifest = root / MANIFEST
    if not manifest.is_file():
        return DeapSource(root, origin)
    meta = json.loads(manifest.read_text(encoding="utf-8"))
    return DeapSource(root, origin, True, int(meta["n_trials"]), float(meta["video_s"]), int(meta["seed"]))


def _subject_of(path: Path) -> int:
    """The subject number of ``sNN.dat`` / ``sNN.bdf``."""
    match = _SUBJECT_FILE.match(path.name)
    if not match:
        raise DataError(f"{path}: DEAP files are named sNN.dat / sNN.bdf (NN = subject 01..32). Fix: keep the "
                        f"release's file names.")
    return int(match.group(1))


# ----------------------------------------------------------------------------- trials
@dataclass(frozen=True)
class EEGTrials:
    """One subject's trials.

    Attributes
    ----------
    subject : DEAP subject number (1..32).
    trial : int (n_trials,), 1-based: video numbers (Experiment_id) when ``order == "video"``, else the
        presentation numbers.
    ch_names : channel names, length n_channels.
    samples : float (n_trials, n_channels, n_samples): EEG in uV (the release's peripheral channels 33-40
        in their own units). The first ``baseline_s`` seconds are the pre-trial baseline.
    sfreq : sampling rate, Hz.
    labels : float (n_trials, 4) ratings (valence, arousal, dominance, liking) in 1..9, or None if unknown.
    order : ``"video"`` (the release's order) or ``"presentation"``.
    baseline_s : pre-trial baseline, seconds.
    source : the file read.
    synthetic : True for files written by :func:`make_synthetic`.
    """

    subject: int
    trial: np.ndarray
    ch_names: tuple[str, ...]
    samples: np.ndarray
    sfreq: float
    labels: np.ndarray | None
    order: str
    baseline_s: float = BASELINE_S
    source: str = ""
    synthetic: bool = False

    def pick(self, names: Sequence[str]) -> "EEGTrials":
        """The same trials with only the channels ``names``, in that order (ValueError if one is absent)."""
        missing = [name for name in names if name not in self.ch_names]
        if missing:
            raise ValueError(f"channels {missing} are not in these trials (they have {list(self.ch_names)})")
        rows = [self.ch_names.index(name) for name in names]
        return replace(self, ch_names=tuple(names), samples=self.samples[:, rows])


# ----------------------------------------------------------------------------- preprocessed release
def load_preprocessed(path_or_dir: str | os.PathLike, subjects: Sequence[int] | None = None) -> list[EEGTrials]:
    """Load ``data_preprocessed_python/sNN.dat`` files.

    Parameters
    ----------
    path_or_dir : one ``sNN.dat`` file, the ``data_preprocessed_python`` folder, or the DEAP root above it.
    subjects : subject numbers to load (all files present when None; not allowed with a single file).

    Returns
    -------
    One EEGTrials per subject, in subject order: samples (40, 40, 8064) as stored (float64 or float32; EEG
    in uV), 128 Hz, labels (40, 4), video order, all 40 channels (``.pick(GENEVA)`` for the EEG).

    Raises
    ------
    DataError
        Missing file or folder, a file that is not a DEAP pickle (corrupt, truncated, foreign content),
        wrong keys, shapes, dtype, non-finite values or ratings outside 1..9; each names the file and the fix.
    """
    path = Path(path_or_dir)
    source = _source_for(path)
    return [_read_preprocessed(file, source) for file in _preprocessed_files(path, subjects)]


def _preprocessed_files(path: Path, subjects: Sequence[int] | None) -> list[Path]:
    """The ``sNN.dat`` files named by a file, the data folder or the root, optionally for some subjects."""
    if path.is_file():
        if subjects is not None:
            raise ValueError(f"subjects={list(subjects)} was given with the single file {path}; pass its folder")
        return [path]
    folder = path / PREPROCESSED_DIR if (path / PREPROCESSED_DIR).is_dir() else path
    if not folder.is_dir():
        raise DataError(f"{path} does not exist. Fix: point at a DEAP folder (holding {PREPROCESSED_DIR}/) or a file.")
    if subjects is None:
        files = sorted(folder.glob("s[0-9][0-9].dat"))
        if not files:
            raise DataError(f"no sNN.dat files in {folder}. Fix: {_source_for(path).fix()}.")
        return files
    files = [folder / f"s{int(s):02d}.dat" for s in subjects]
    missing = [f.name for f in files if not f.is_file()]
    if missing:
        raise DataError(f"missing {missing} in {folder}. Fix: {_source_for(path).fix()}.")
    return files


class _ReleaseUnpickler(pickle.Unpickler):
    """Unpickles only what a DEAP file holds (numpy arrays in a dict): no other code can run."""

    def find_class(self, module: str, name: str):
        if (module, name) not in _PICKLE_GLOBALS:
            raise pickle.UnpicklingError(f"it refers to {module}.{name}, which a DEAP file never does")
        return super().find_class(module, name)


def _read_preprocessed(file: Path, source: DeapSource) -> EEGTrials:
    """Read and check one ``sNN.dat``."""
    subject = _subject_of(file)
    try:
        with open(file, "rb") as fh:
            content = _ReleaseUnpickler(fh, encoding="latin1").load()
    except Exception as exc:  # a corrupt pickle raises any of a dozen types; all mean the same to the user
        raise DataError(f"{file} is not a readable DEAP pickle ({type(exc).__name__}: {exc}): corrupt, truncated "
                        f"or not a DEAP file. Fix: {source.fix()}.") from None
    data, labels = _check_release(content, file, source)
    return EEGTrials(subject, np.arange(1, source.n_trials + 1), PREPROCESSED_CHANNELS, data, SFREQ, labels,
                     "video", source=str(file), synthetic=source.synthetic)


def _check_release(content: object, file: Path, source: DeapSource) -> tuple[np.ndarray, np.ndarray]:
    """The (data, labels) arrays of a loaded pickle, after checking them against the release's format."""
    fix = f"Fix: {source.fix()}."
    if not isinstance(content, dict) or set(content) != {"data", "labels"}:
        keys = sorted(map(str, content)) if isinstance(content, dict) else type(content).__name__
        raise DataError(f"{file} holds {keys}; a DEAP file is a dict with keys ['data', 'labels']. {fix}")
    data, labels = content["data"], content["labels"]
    shapes = {"data": (source.n_trials, len(PREPROCESSED_CHANNELS), source.n_samples), "labels": (source.n_trials, 4)}
    for key, value in content.items():
        if not isinstance(value, np.ndarray) or value.dtype not in (np.float32, np.float64):
            raise DataError(f"{file}: '{key}' is {getattr(value, 'dtype', type(value).__name__)}, expected a "
                            f"float32/float64 array. {fix}")
        if value.shape != shapes[key]:
            raise DataError(f"{file}: '{key}' has shape {value.shape}, expected {shapes[key]}. {fix}")
        if not np.isfinite(value).all():
            raise DataError(f"{file}: '{key}' contains NaN or infinite values. {fix}")
    if labels.min() < RATING_RANGE[0] or labels.max() > RATING_RANGE[1]:
        raise DataError(f"{file}: ratings span {labels.min():g}..{labels.max():g}, outside DEAP's 1..9. {fix}")
    return data, labels


# ----------------------------------------------------------------------------- raw recordings
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
    source, subject = _source_for(path), _subject_of(path)
    header = read_header(path)
    _check_raw_header(header, path)
    onsets = video_onsets(read_status(path), source.n_trials, path)
    raw = _read_raw_mne(path)
    segments = (_segment(onset, header.n_samples, source.video_s, path) for onset in onsets)
    samples = np.stack([_release_eeg(raw.get_data(list(GENEVA), start, stop) * 1e6, RAW_SFREQ, source.video_s)
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
                        f"Temp, Status. Fix: pass data_original/sNN.bdf (use vaeinfo.bdf for other BDF files).")


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


def _segment(onset: int, n_samples: int, video_s: float, path: Path) -> tuple[int, int]:
    """(start, stop) raw samples of a trial (baseline + video) with MARGIN_S on both sides, at 512 Hz."""
    start = onset - round((BASELINE_S + MARGIN_S) * RAW_SFREQ)
    stop = onset + round((video_s + MARGIN_S) * RAW_SFREQ)
    if start < 0 or stop > n_samples:
        raise DataError(f"{path}: the trial at sample {onset} needs {BASELINE_S + MARGIN_S:g} s before and "
                        f"{video_s + MARGIN_S:g} s after its video start; the recording is too short there.")
    return start, stop


def _downsample(segment: np.ndarray, sfreq: float) -> np.ndarray:
    """(n_channels, n) at ``sfreq`` -> (n_channels, n * 128 / sfreq) at 128 Hz (MNE's FFT resampling)."""
    return mne.filter.resample(segment, down=sfreq / SFREQ, npad="auto", verbose=False)


def _release_eeg(segment: np.ndarray, sfreq: float, video_s: float) -> np.ndarray:
    """EEG segment from :func:`_segment`, uV (32, n) -> one release trial (32, (3 + video_s) * 128).

    Downsample to 128 Hz, band-pass 4-45 Hz, re-reference to the common average, drop the margins.
    """
    x = mne.filter.filter_data(_downsample(segment, sfreq), SFREQ, *PASSBAND, verbose=False)
    x -= x.mean(axis=0)
    return _trim(x, video_s)


def _trim(x: np.ndarray, video_s: float) -> np.ndarray:
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
    columns = ["Participant_id", "Trial", "Experiment_id"] + [name.capitalize() for name in RATING_NAMES]
    with open(path, newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        missing = [c for c in columns if c not in (reader.fieldnames or [])]
        rows = [] if missing else [r for r in reader if int(r["Participant_id"]) == subject]
    found = f"missing columns {missing}" if missing else f"{len(rows)} rows"
    if missing or len(rows) != n_trials:
        raise DataError(f"{path}: expected columns {columns} and {n_trials} rows for participant {subject}; found "
                        f"{found}. Fix: use DEAP's metadata_csv/participant_ratings.csv.")
    rows.sort(key=lambda r: int(r["Trial"]))
    ratings = np.array([[float(r[c]) for c in columns[3:]] for r in rows])
    if not (np.isfinite(ratings).all() and RATING_RANGE[0] <= ratings.min() and ratings.max() <= RATING_RANGE[1]):
        raise DataError(f"{path}: participant {subject}'s ratings are not all within 1..9. Fix: use DEAP's "
                        f"metadata_csv/participant_ratings.csv.")
    return np.array([int(r["Experiment_id"]) for r in rows]), ratings


# ----------------------------------------------------------------------------- features
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
    x : (..., n_samples) in uV, at least ``segment_s`` long.
    sfreq : sampling rate, Hz.
    bands : name -> (lo, hi) Hz.

    Returns
    -------
    (..., n_bands) natural log of band power in uV^2.
    """
    nperseg = round(segment_s * sfreq)
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
    parts = [_subject_features(t, bands, pairs, window_s, step_s, segment_s) for t in subjects]
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


# ----------------------------------------------------------------------------- synthetic DEAP
# The planted emotion signal lives in each trial's video part; the baseline and the rest of the recording
# are neutral. Valence v = (valence - 5) / 4 and arousal a = (arousal - 5) / 4 lie in [-1, 1].
BACKGROUND_PSD = 40.0  # uV^2/Hz at 1 Hz: the background is pink noise with PSD BACKGROUND_PSD / f
ALPHA_RHYTHM, BETA_RHYTHM = (8.0, 12.0), (15.0, 25.0)  # Hz, band-limited noise rhythms
ALPHA_UV, BETA_UV = 5.0, 3.0  # RMS of the neutral rhythms, uV
VALENCE_ASYMMETRY = 2.0  # ln(alpha rhythm power right / left) at the frontal pairs = VALENCE_ASYMMETRY * v
AROUSAL_BETA_ALPHA = 2.0  # ln(beta / alpha rhythm power) on every EEG channel = AROUSAL_BETA_ALPHA * a
STATE_JITTER = 0.3  # SD of per-trial ln-power changes of each rhythm that carry no emotion
SUBJECT_SPREAD = 0.3  # SD of per-subject, per-channel ln-amplitude gains
DC_UV = 20000.0  # SD of per-channel DC offsets (BioSemi records reference-free)
STATUS_FLAGS = 0x19 << 16  # system bits set in later subjects' Status (1638145 = 0x190001 for code 1)
PULSE_S = 0.02  # seconds a trigger code is held in Status
RATING_SCREEN_S = (4.0, 10.0)  # range of the rating screen's duration, seconds
PERIPHERAL_SOURCES = {"hEOG": ("EXG1", "EXG2"), "vEOG": ("EXG3", "EXG4"), "zEMG": ("EXG5", "EXG6"),
                      "tEMG": ("EXG7", "EXG8"), "GSR": ("GSR1",), "Respiration": ("Resp",),
                      "Plethysmograph": ("Plet",), "Temperature": ("Temp",)}
_PINK_B = (0.049922035, -0.095993537, 0.050612699, -0.004408786)  # 1/f filter (Kasdin; J. O. Smith)
_PINK_A = (1.0, -2.494956002, 2.017265875, -0.522189400)
_START = datetime(2010, 1, 1, 12, 0, 0)  # fixed header start time: same seed -> same bytes


@dataclass(frozen=True)
class _Recording:
    """One synthetic raw recording: the BDF content, the video starts and the ratings."""

    header: BDFHeader
    digital: np.ndarray  # int32 (48, n_samples)
    events: np.ndarray  # int64 (n_events, 2): sample, code
    video: np.ndarray  # int (n_trials,): Experiment_id of each presented trial
    ratings: np.ndarray  # float (n_trials, 4) in video (Experiment_id) order


def make_synthetic(directory: str | os.PathLike, n_subjects: int = N_SUBJECTS, n_trials: int = N_TRIALS,
                   seed: int = 0, formats: Sequence[str] = ("preprocessed", "raw"), *,
                   subjects: Sequence[int] | None = None, video_s: float = VIDEO_S) -> DeapSource:
    """Write a synthetic DEAP folder in the real formats, with a planted emotion signal.

    For each subject a continuous 512-Hz recording is simulated -- pink (1/f) background, an alpha
    (8-12 Hz) and a beta (15-25 Hz) rhythm, DC offsets, Status triggers with DEAP's codes and timing --
    where, during each video, valence shifts frontal alpha asymmetry (:data:`VALENCE_ASYMMETRY`) and
    arousal the beta/alpha ratio (:data:`AROUSAL_BETA_ALPHA`). From it are written:

    - ``data_original/sNN.bdf``: 48 channels (EEG in Twente order for s01-s22, Geneva order after),
      1-s records, Status with system flags in bits 16-23 for s23 on (``"raw"`` in ``formats``);
    - ``data_preprocessed_python/sNN.dat``: the recording processed like the release (the same code as
      :func:`load_raw`), in video order, as a Python 2 pickle (protocol 2, numpy 1.x globals, float64;
      load with ``encoding="latin1"``) (``"preprocessed"`` in ``formats``);
    - ``metadata_csv/participant_ratings.csv`` and the manifest ``synthetic_deap.json`` (always).

    The defaults match the release (32 subjects x 40 trials of 60 s): per subject about 10 s on one core,
    a 230 MB BDF and a 103 MB pickle. A folder that holds DEAP files but no manifest (real data) is never
    written into; in a synthetic
    folder the previous ``sNN`` files are removed first, so the folder always matches its manifest.

    Parameters
    ----------
    directory : output folder (created).
    n_subjects : subjects s01..sNN, unless ``subjects`` lists the numbers (1..32).
    n_trials : trials (videos) per subject, 1..40.
    seed : the same seed gives byte-identical files.
    video_s : video length in seconds (DEAP: 60); shorter values make small test sets.

    Returns
    -------
    The folder's DeapSource (synthetic, with n_trials and video_s).
    """
    subjects = tuple(range(1, n_subjects + 1)) if subjects is None else tuple(int(s) for s in subjects)
    _check_synthetic_args(subjects, n_trials, formats, video_s)
    root = Path(directory)
    _clear_synthetic(root)
    rows = []
    for subject in subjects:
        recording = _synthetic_recording(subject, n_trials, seed, video_s)
        if "raw" in formats:
            write_bdf(root / RAW_DIR / f"s{subject:02d}.bdf", recording.digital, recording.header)
        if "preprocessed" in formats:
            arrays = {"data": _release_from(recording, video_s), "labels": recording.ratings}
            with atomic_open(root / PREPROCESSED_DIR / f"s{subject:02d}.dat", "wb") as fh:
                fh.write(_py2_pickle(arrays))
        rows += _rating_rows(subject, recording, np.random.default_rng([seed, subject, 999]))
    atomic_write_text(root / RATINGS_CSV, _csv_text(rows))
    atomic_write_json(root / MANIFEST, {
        "what": "synthetic DEAP written by vaeinfo.deap.make_synthetic (not real EEG)", "seed": seed,
        "subjects": list(subjects), "n_trials": n_trials, "video_s": video_s, "formats": sorted(formats),
        "planted": {"valence_alpha_asymmetry": VALENCE_ASYMMETRY, "arousal_beta_alpha": AROUSAL_BETA_ALPHA,
                    "frontal_pairs": [list(p) for p in FRONTAL_PAIRS], "state_jitter": STATE_JITTER},
    })
    return _with_manifest(root.resolve(), "argument")


def _check_synthetic_args(subjects, n_trials, formats, video_s) -> None:
    """ValueError naming the bad argument of make_synthetic."""
    if not subjects or len(set(subjects)) != len(subjects) or not all(1 <= s <= N_SUBJECTS for s in subjects):
        raise ValueError(f"subjects must be distinct numbers in 1..{N_SUBJECTS}, got {subjects}")
    if not 1 <= n_trials <= N_TRIALS:
        raise ValueError(f"n_trials must be in 1..{N_TRIALS}, got {n_trials}")
    if not formats or set(formats) - {"preprocessed", "raw"}:
        raise ValueError(f"formats must be a non-empty subset of ('preprocessed', 'raw'), got {formats}")
    if video_s < 2 or not float(video_s * SFREQ).is_integer():
        raise ValueError(f"video_s must be >= 2 s and a whole number of 1/128 s, got {video_s}")


def _clear_synthetic(root: Path) -> None:
    """Remove the ``sNN`` files of a previous synthetic set in ``root``; ValueError if they are not synthetic."""
    old = [file for folder in (PREPROCESSED_DIR, RAW_DIR) for file in sorted((root / folder).glob("s[0-9][0-9].*"))]
    if old and not (root / MANIFEST).is_file():
        raise ValueError(f"{root} holds DEAP files ({old[0].name}, ...) but no {MANIFEST}: it may be real data, which "
                         f"make_synthetic never overwrites. Choose an empty folder.")
    for file in old:
        file.unlink()


def _synthetic_recording(subject: int, n_trials: int, seed: int, video_s: float) -> _Recording:
    """Simulate one subject's raw recording (see :func:`make_synthetic`)."""
    rng = np.random.default_rng([seed, subject])
    ratings = np.round(rng.uniform(*RATING_RANGE, size=(n_trials, 4)), 2)
    video = rng.permutation(n_trials) + 1
    events, n_samples = _timeline(rng, n_trials, video_s)
    onsets = events[events[:, 1] == CODE_VIDEO, 0]
    alpha_ln, beta_ln = _rhythm_log_power(rng, ratings[video - 1])
    eeg = GENEVA if subject > LAST_TWENTE_SUBJECT else TWENTE
    labels = eeg + RAW_EOG + RAW_MISC
    channels = tuple(BDFChannel(label, round(RAW_SFREQ)) for label in labels) + (status_channel(round(RAW_SFREQ)),)
    digital = np.empty((len(channels), n_samples), np.int32)
    for row, label in enumerate(labels):  # one noise stream per channel name: the file order does not matter
        noise = np.random.default_rng([seed, subject, (GENEVA + RAW_EOG + RAW_MISC).index(label) + 1])
        signal = _pink(noise, n_samples) + DC_UV * noise.standard_normal()
        if label in GENEVA:
            column = GENEVA.index(label)
            signal = _with_rhythms(signal, noise, onsets, video_s, alpha_ln[:, column], beta_ln[:, column])
        digital[row] = to_digital(signal[None], channels[row:row + 1])[0]
    digital[-1] = _status(events, n_samples, subject)
    header = BDFHeader(channels, n_samples // round(RAW_SFREQ), 1.0, _START, f"s{subject:02d} synthetic",
                       f"vaeinfo synthetic DEAP, seed {seed}")
    return _Recording(header, digital, events, video, ratings)


def _timeline(rng: np.random.Generator, n_trials: int, video_s: float) -> tuple[np.ndarray, int]:
    """DEAP's session at 512 Hz: start (1), 2-min baseline (1), sync (2), then per trial fixation 5 s (3),
    video (4), fixation 3 s (5), rating screen (1) of random length; sync (2) and end (7).

    Returns events int64 (n_events, 2) as (sample, code) and the recording length in samples (whole seconds).
    """
    schedule, t = [(1.0, CODE_START), (3.0, CODE_START), (123.0, CODE_SYNC)], 124.0
    for _ in range(n_trials):
        schedule += [(t, CODE_FIXATION), (t + 5, CODE_VIDEO), (t + 5 + video_s, CODE_AFTER),
                     (t + 8 + video_s, CODE_START)]
        t += 8 + video_s + rng.uniform(*RATING_SCREEN_S)
    schedule += [(t, CODE_SYNC), (t + 1, CODE_END)]
    events = np.array([(round(s * RAW_SFREQ), code) for s, code in schedule], np.int64)
    return events, round(np.ceil(t + 2) * RAW_SFREQ)


def _status(events: np.ndarray, n_samples: int, subject: int) -> np.ndarray:
    """Status digital values (n_samples,): each code held PULSE_S, plus system flags for s23 on."""
    status = np.zeros(n_samples, np.int32)
    for sample, code in events:
        status[sample:sample + round(PULSE_S * RAW_SFREQ)] = code
    return status | (STATUS_FLAGS if subject > LAST_TWENTE_SUBJECT else 0)


def _rhythm_log_power(rng: np.random.Generator, presented: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """ln-power changes (n_trials, 32) of the alpha and beta rhythms during each video.

    ``presented`` are the ratings (n_trials, 4) in presentation order.
    """
    v, a = (presented[:, 0:1] - 5) / 4, (presented[:, 1:2] - 5) / 4
    side = np.zeros(len(GENEVA))
    for left, right in FRONTAL_PAIRS:
        side[GENEVA.index(left)], side[GENEVA.index(right)] = -0.5, 0.5
    jitter = STATE_JITTER * rng.standard_normal((2, len(presented), 1))
    alpha = VALENCE_ASYMMETRY * v * side - AROUSAL_BETA_ALPHA * a / 2 + jitter[0]
    beta = AROUSAL_BETA_ALPHA * a / 2 + jitter[1] + np.zeros(len(GENEVA))
    return alpha, beta


def _with_rhythms(background: np.ndarray, rng: np.random.Generator, onsets: np.ndarray, video_s: float,
                  alpha_ln: np.ndarray, beta_ln: np.ndarray) -> np.ndarray:
    """An EEG channel (n,) in uV: background and alpha/beta rhythms, each with a per-subject gain; the rhythms'
    ln power changes by ``alpha_ln[k]`` / ``beta_ln[k]`` during video k."""
    gain, n = np.exp(SUBJECT_SPREAD * rng.standard_normal(3)), len(background)
    alpha = ALPHA_UV * gain[1] * _rhythm(rng, n, ALPHA_RHYTHM) * _envelope(n, onsets, video_s, alpha_ln)
    beta = BETA_UV * gain[2] * _rhythm(rng, n, BETA_RHYTHM) * _envelope(n, onsets, video_s, beta_ln)
    return gain[0] * background + alpha + beta


def _pink(rng: np.random.Generator, n: int) -> np.ndarray:
    """Pink noise (n,) in uV at 512 Hz with PSD BACKGROUND_PSD / f, from a stationary-started 1/f filter."""
    warmup = round(10 * RAW_SFREQ)
    x = scipy.signal.lfilter(_PINK_B, _PINK_A, rng.standard_normal(n + warmup))[warmup:]
    _, response = scipy.signal.freqz(_PINK_B, _PINK_A, worN=[10.0], fs=RAW_SFREQ)
    density_times_f = np.abs(response[0]) ** 2 * 2 / RAW_SFREQ * 10.0  # PSD * f of unit white noise
    return x * np.sqrt(BACKGROUND_PSD / density_times_f)


def _rhythm(rng: np.random.Generator, n: int, band: tuple[float, float]) -> np.ndarray:
    """Unit-variance noise band-limited to ``band`` Hz (4th-order Butterworth), (n,) at 512 Hz."""
    white_variance_kept = 2 * (band[1] - band[0]) / RAW_SFREQ
    return scipy.signal.sosfilt(_bandpass(band), rng.standard_normal(n)) / np.sqrt(white_variance_kept)


@lru_cache(maxsize=None)
def _bandpass(band: tuple[float, float]) -> np.ndarray:
    """Second-order sections of a 4th-order Butterworth band-pass at 512 Hz."""
    return scipy.signal.butter(4, band, btype="bandpass", fs=RAW_SFREQ, output="sos")


def _envelope(n: int, onsets: np.ndarray, video_s: float, log_power: np.ndarray) -> np.ndarray:
    """Amplitude gain (n,): exp(log_power[k] / 2) during video k, 1 elsewhere."""
    gain = np.ones(n)
    for onset, value in zip(onsets, log_power):
        gain[onset:onset + round(video_s * RAW_SFREQ)] = np.exp(value / 2)
    return gain


def _release_from(recording: _Recording, video_s: float) -> np.ndarray:
    """The release's ``data`` (n_trials, 40, n) float64 from a recording: EEG as in :func:`load_raw`, the
    peripheral channels as bipolar/single derivations downsampled to 128 Hz; trials in video order."""
    header, rows = recording.header, {label: i for i, label in enumerate(recording.header.labels)}

    def physical(names, start, stop):
        picks = [rows[name] for name in names]
        return to_physical(recording.digital[picks, start:stop], [header.channels[i] for i in picks])

    trials = []
    for onset in recording.events[recording.events[:, 1] == CODE_VIDEO, 0]:
        start, stop = _segment(onset, header.n_samples, video_s, Path("synthetic recording"))
        pairs = [physical(names, start, stop) for names in PERIPHERAL_SOURCES.values()]
        peripheral = np.stack([p[0] - p[1] if len(p) == 2 else p[0] for p in pairs])
        trials.append(np.concatenate([_release_eeg(physical(GENEVA, start, stop), RAW_SFREQ, video_s),
                                      _trim(_downsample(peripheral, RAW_SFREQ), video_s)]))
    return np.stack(trials)[np.argsort(recording.video)]


def _rating_rows(subject: int, recording: _Recording, rng: np.random.Generator) -> list[list]:
    """participant_ratings.csv rows of a subject, in presentation order; Start_time in microseconds from
    the start of the experiment (first Status event) to the video start; Familiarity 1..5."""
    onsets = recording.events[recording.events[:, 1] == CODE_VIDEO, 0] - recording.events[0, 0]
    return [[subject, k + 1, int(video), round(onset / RAW_SFREQ * 1e6),
             *(f"{r:.2f}" for r in recording.ratings[video - 1]), int(rng.integers(1, 6))]
            for k, (video, onset) in enumerate(zip(recording.video, onsets))]


def _csv_text(rows: list[list]) -> str:
    """participant_ratings.csv text (DEAP's columns)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["Participant_id", "Trial", "Experiment_id", "Start_time", "Valence", "Arousal", "Dominance",
                     "Liking", "Familiarity"])
    writer.writerows(rows)
    return out.getvalue()


def _py2_pickle(arrays: dict[str, np.ndarray]) -> bytes:
    """A dict of arrays as Python 2's cPickle (protocol 2) with numpy 1.x pickles it.

    Text and the raw array bytes are Python 2 ``str`` (BINSTRING opcodes), so Python 3 needs
    ``encoding="latin1"`` exactly as for the real files; arrays refer to ``numpy.core.multiarray._reconstruct``.
    """
    body = b"".join(_py2_str(key.encode("ascii")) + _py2_array(value) for key, value in arrays.items())
    return b"\x80\x02}(" + body + b"u."  # PROTO 2, EMPTY_DICT, MARK ... SETITEMS, STOP


def _py2_str(raw: bytes) -> bytes:
    """A Python 2 str: SHORT_BINSTRING below 256 bytes, else BINSTRING."""
    return (b"U" + bytes([len(raw)]) if len(raw) < 256 else b"T" + struct.pack("<i", len(raw))) + raw


def _py2_array(array: np.ndarray) -> bytes:
    """Opcodes rebuilding a little-endian C-ordered ``array``: _reconstruct(ndarray, (0,), 'b'), then
    ``__setstate__((1, shape, dtype, False, raw bytes))``."""
    array = np.ascontiguousarray(array, array.dtype.newbyteorder("<"))
    shape = b"(" + b"".join(b"J" + struct.pack("<i", dim) for dim in array.shape) + b"t"
    dtype = (b"cnumpy\ndtype\n" + _py2_str(array.dtype.str[1:].encode()) + b"K\x00K\x01\x87R"
             + b"(K\x03" + _py2_str(b"<") + b"NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK\x00tb")
    return (b"cnumpy.core.multiarray\n_reconstruct\ncnumpy\nndarray\nK\x00\x85" + _py2_str(b"b") + b"\x87R"
            + b"(K\x01" + shape + dtype + b"\x89" + _py2_str(array.tobytes()) + b"tb")
