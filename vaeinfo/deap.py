"""DEAP EEG (Koelstra et al., IEEE TAC 2012): where the data is, loaders and emotion features.

DEAP is licence-restricted: users sign its EULA, download it, and point ``VAEINFO_DEAP`` (or a path
argument) at the folder that holds ``data_preprocessed_python/sNN.dat`` and/or ``data_original/sNN.bdf``
(and ``metadata_csv/participant_ratings.csv``). Without it, :func:`vaeinfo.deap_synthetic.make_synthetic`
writes files in exactly those formats with a planted emotion signal; a ``synthetic_deap.json`` manifest
beside them marks the folder as synthetic (it is recorded in every result) and gives its trial count and
length.

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
import json
import os
import pickle
import re
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Sequence

import mne
import numpy as np
import scipy.signal

from .bdf import BDFHeader, find_events, read_header, read_status
from .data import DataError
from .io import progress_bar

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
    synthetic : True for files written by :func:`vaeinfo.deap_synthetic.make_synthetic` (its manifest is
        present).
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
            return (f"regenerate the synthetic files with vaeinfo.deap_synthetic.make_synthetic('{self.root}', ...) "
                    f"and the arguments recorded in {self.root / MANIFEST}")
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
            f"generate synthetic files in the same formats with vaeinfo.deap_synthetic.make_synthetic(folder) and "
            f"pass that folder."
        )
    if not root.is_dir():
        raise DataError(f"DEAP folder {root} (from {origin}) does not exist. Fix: point {ENV_VAR} or the argument "
                        f"at the folder holding {PREPROCESSED_DIR}/ and/or {RAW_DIR}/.")
    if not ((root / PREPROCESSED_DIR).is_dir() or (root / RAW_DIR).is_dir()):
        raise DataError(f"DEAP folder {root} holds neither {PREPROCESSED_DIR}/ nor {RAW_DIR}/. Fix: unzip the DEAP "
                        f"downloads there, or run vaeinfo.deap_synthetic.make_synthetic('{root}').")
    return source_at(root, origin)


def _source_for(path: Path) -> DeapSource:
    """The DeapSource of a file, its data folder or the root: the root is where the manifest is, if any."""
    folder = path if path.is_dir() else path.parent
    root = folder.parent if folder.name in (PREPROCESSED_DIR, RAW_DIR) else folder
    return source_at(root.resolve(), "argument")


def source_at(root: Path, origin: str) -> DeapSource:
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
    synthetic : True for files written by :func:`vaeinfo.deap_synthetic.make_synthetic`.
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


# ----------------------------------------------------------------------------- a whole folder
def available_subjects(source: DeapSource) -> list[int]:
    """Subject numbers with a file in the folder: ``data_preprocessed_python/`` when it exists, else
    ``data_original/`` (DataError when there is none)."""
    folder, suffix = _folder_of(source)
    subjects = sorted(_subject_of(file) for file in folder.glob(f"s[0-9][0-9].{suffix}"))
    if not subjects:
        raise DataError(f"no s01.{suffix} .. s32.{suffix} files in {folder}. Fix: {source.fix()}.")
    return subjects


def load_subject(source: DeapSource, subject: int) -> EEGTrials:
    """One subject's labelled trials: the preprocessed release when the folder has it (the normal case), else
    the raw recording through :func:`load_raw` with ``metadata_csv/participant_ratings.csv`` for the labels and
    the video order (DataError when that file is missing)."""
    folder, suffix = _folder_of(source)
    file = folder / f"s{int(subject):02d}.{suffix}"
    if suffix == "dat":
        return load_preprocessed(file)[0]
    ratings = source.root / RATINGS_CSV
    if not ratings.is_file():
        raise DataError(f"{ratings} is missing: raw recordings need it for the ratings and the video order. Fix: "
                        f"unzip DEAP's metadata_csv.zip into {source.root}.")
    return load_raw(file, ratings)


def _folder_of(source: DeapSource) -> tuple[Path, str]:
    """The data folder to read and its file suffix: preprocessed first, raw otherwise."""
    if (source.root / PREPROCESSED_DIR).is_dir():
        return source.root / PREPROCESSED_DIR, "dat"
    return source.root / RAW_DIR, "bdf"


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
    return _concatenate([_subject_features(t, bands, pairs, window_s, step_s, segment_s) for t in subjects])


def source_features(source: DeapSource, subjects: Sequence[int] | None = None, *, progress: bool = True,
                    **options) -> Features:
    """:func:`extract_features` of the subjects of a DEAP folder (all when None), loading one subject at a time
    (the full preprocessed release is 3.3 GB in memory, its features 45 MB), with a progress bar over the
    subjects on stderr unless ``progress`` is False. ``options`` go to extract_features.
    """
    subjects = available_subjects(source) if subjects is None else list(subjects)
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
