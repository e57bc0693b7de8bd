"""Synthetic DEAP: files in exactly the release's formats, with a known, planted emotion signal.

DEAP is licence-restricted, so tests, CI and the default notebook run use data written here instead.
:func:`make_synthetic` simulates, per subject, a continuous 512-Hz recording (pink background, alpha and
beta rhythms, DC offsets, DEAP's Status codes and timing) in which valence shifts frontal alpha
asymmetry and arousal the beta/alpha ratio, and writes it as ``data_original/sNN.bdf`` (BioSemi BDF,
:mod:`vaeinfo.data.deap.bdf`), ``data_preprocessed_python/sNN.dat`` (processed by the same code as
:func:`vaeinfo.data.deap.raw.load_raw`, pickled like the release's Python 2 files),
``metadata_csv/participant_ratings.csv`` and the manifest ``synthetic_deap.json`` that marks the folder as
synthetic. :func:`cached_synthetic` keeps one such folder per set of arguments in the vaeinfo cache.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import shutil
import struct
import tempfile
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Sequence

import numpy as np
import scipy
import scipy.signal

from ... import __version__
from ...checks import check_integer
from ...io import (
    atomic_open,
    atomic_write_json,
    atomic_write_text,
    progress_bar,
    resolve_cache_dir,
)
from ...sourcecode import file_code
from . import bdf as bdf_module
from . import format as format_module
from . import raw as raw_module
from .bdf import (
    BDFChannel,
    BDFHeader,
    status_channel,
    to_digital,
    to_physical,
    write_bdf,
)
from .format import (
    CODE_AFTER,
    CODE_END,
    CODE_FIXATION,
    CODE_START,
    CODE_SYNC,
    CODE_VIDEO,
    FRONTAL_PAIRS,
    GENEVA,
    LAST_TWENTE_SUBJECT,
    MANIFEST,
    N_SUBJECTS,
    N_TRIALS,
    PREPROCESSED_DIR,
    RATING_RANGE,
    RATINGS_CSV,
    RAW_DIR,
    RAW_EOG,
    RAW_MISC,
    RAW_SFREQ,
    SFREQ,
    TWENTE,
    VIDEO_S,
    DeapSource,
    check_subjects,
    source_at,
)
from .raw import downsample, release_eeg, trial_bounds, trim_margins

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
SYNTHETIC_CACHE = "deap-synthetic"  # folder of cached_synthetic sets in the vaeinfo cache
SYNTHETIC_ORIGIN = "synthetic default"  # DeapSource.origin of those sets
SYNTHETIC_WHAT = "synthetic DEAP written by vaeinfo.data.deap.synthetic.make_synthetic (not real EEG)"
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
                   subjects: Sequence[int] | None = None, video_s: float = VIDEO_S,
                   progress: bool = True) -> DeapSource:
    """Write a synthetic DEAP folder in the real formats, with a planted emotion signal.

    For each subject a continuous 512-Hz recording is simulated -- pink (1/f) background, an alpha
    (8-12 Hz) and a beta (15-25 Hz) rhythm, DC offsets, Status triggers with DEAP's codes and timing --
    where, during each video, valence shifts frontal alpha asymmetry (:data:`VALENCE_ASYMMETRY`) and
    arousal the beta/alpha ratio (:data:`AROUSAL_BETA_ALPHA`). From it are written:

    - ``data_original/sNN.bdf``: 48 channels (EEG in Twente order for s01-s22, Geneva order after),
      1-s records, Status with system flags in bits 16-23 for s23 on (``"raw"`` in ``formats``);
    - ``data_preprocessed_python/sNN.dat``: the recording processed like the release (the same code as
      :func:`vaeinfo.data.deap.raw.load_raw`), in video order, as a Python 2 pickle (protocol 2, numpy 1.x globals, float64;
      load with ``encoding="latin1"``) (``"preprocessed"`` in ``formats``);
    - ``metadata_csv/participant_ratings.csv`` and the manifest ``synthetic_deap.json`` (always).

    The defaults match the release (32 subjects x 40 trials of 60 s): per subject about 10 s on one core,
    a 230 MB BDF and a 103 MB pickle. A folder that holds DEAP files but no manifest (real data) is never
    written into; in a synthetic folder the previous set (``sNN`` files and ratings) is removed first and the
    manifest says ``"complete": false`` until the last file is written, so an interrupted run leaves a folder
    that loads with an error, never one that mixes two sets.

    Parameters
    ----------
    directory : output folder (created).
    n_subjects : subjects s01..sNN, unless ``subjects`` lists the numbers (1..32).
    n_trials : trials (videos) per subject, 1..40.
    seed : the same seed gives byte-identical files.
    video_s : video length in seconds (DEAP: 60); shorter values make small test sets.
    progress : a progress bar over the subjects on stderr.

    Returns
    -------
    The folder's DeapSource (synthetic, with n_trials and video_s).
    """
    if subjects is None:
        subjects = tuple(range(1, check_integer(n_subjects, "n_subjects", low=1, high=N_SUBJECTS) + 1))
    _check_synthetic_args(tuple(subjects), n_trials, seed, formats, video_s)
    subjects = tuple(int(s) for s in subjects)
    root = Path(directory)
    _clear_synthetic(root)
    atomic_write_json(root / MANIFEST, {"what": SYNTHETIC_WHAT, "complete": False})
    rows = []
    for subject in progress_bar(subjects, desc="writing synthetic DEAP", unit="subject", enabled=progress):
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
        "what": SYNTHETIC_WHAT, "complete": True, "seed": seed, "subjects": list(subjects), "n_trials": n_trials,
        "video_s": video_s, "formats": sorted(formats),
        "planted": {"valence_alpha_asymmetry": VALENCE_ASYMMETRY, "arousal_beta_alpha": AROUSAL_BETA_ALPHA,
                    "frontal_pairs": [list(p) for p in FRONTAL_PAIRS], "state_jitter": STATE_JITTER},
    })
    return source_at(root.resolve(), "argument")


def cached_synthetic(n_subjects: int, n_trials: int, video_s: float, seed: int = 0, *,
                     formats: Sequence[str] = ("preprocessed",),
                     cache_dir: str | os.PathLike | None = None) -> DeapSource:
    """A synthetic DEAP folder for these :func:`make_synthetic` arguments, written once and then reused.

    It lives in ``<cache>/deap-synthetic/<key>/`` (cache folder: argument > ``$VAEINFO_CACHE`` >
    ``~/.cache/vaeinfo``), the key hashing the arguments, ``vaeinfo.__version__`` and the generator's code
    (:func:`generator_code`: an edit of it writes a new set instead of reading the old one). It is written into a
    temporary sibling folder (a new one per call) and renamed when complete; an interrupted write removes it, so
    nothing half-written is left (only a killed process can leave a ``<key>.tmp-*`` folder, which is never read).

    Returns
    -------
    Its DeapSource, synthetic, with origin ``"synthetic default"``.
    """
    n_subjects = check_integer(n_subjects, "n_subjects", low=1, high=N_SUBJECTS)
    _check_synthetic_args(tuple(range(1, n_subjects + 1)), n_trials, seed, formats, video_s)
    settings = {"subjects": list(range(1, n_subjects + 1)), "n_trials": int(n_trials), "video_s": float(video_s),
                "seed": int(seed), "formats": sorted(formats)}
    libraries = {"numpy": np.__version__, "scipy": scipy.__version__}  # the random streams and the filters
    text = json.dumps({**settings, "vaeinfo": __version__, "code": generator_code(), "libraries": libraries},
                      sort_keys=True)
    root = resolve_cache_dir(cache_dir) / SYNTHETIC_CACHE / hashlib.sha256(text.encode()).hexdigest()[:16]
    if not _written_with(root, settings):
        root.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f"{root.name}.tmp-", dir=root.parent))
        try:
            make_synthetic(staging, n_trials=n_trials, seed=seed, formats=formats, subjects=settings["subjects"],
                           video_s=video_s)
        except BaseException:  # an error or Ctrl-C mid-write: leave no half-written folder behind
            shutil.rmtree(staging, ignore_errors=True)
            raise
        try:
            staging.rename(root)
        except OSError:  # another process finished the same folder first: keep theirs
            shutil.rmtree(staging)
    return source_at(root.resolve(), SYNTHETIC_ORIGIN)


@lru_cache(maxsize=1)
def generator_code() -> str:
    """SHA-256 (hex) of the code of the files that decide a synthetic set's bytes: this module and the DEAP format,
    BDF and raw-recording modules it writes with (comments and docstrings left out: :func:`file_code`)."""
    digest = hashlib.sha256()
    for module in (__file__, bdf_module.__file__, format_module.__file__, raw_module.__file__):
        digest.update(file_code(module).encode())
    return digest.hexdigest()


def _written_with(root: Path, settings: dict) -> bool:
    """True when ``root`` holds a complete synthetic set with these settings (its manifest is written last)."""
    manifest = root / MANIFEST
    if not manifest.is_file():
        return False
    try:
        meta = json.loads(manifest.read_text(encoding="utf-8"))
    except ValueError:  # unreadable: written again (a folder that cannot be replaced then fails in source_at)
        return False
    return (isinstance(meta, dict) and meta.get("complete") is not False  # no key: written before the flag, whole
            and all(meta.get(key) == value for key, value in settings.items()))


def _check_synthetic_args(subjects, n_trials, seed, formats, video_s) -> None:
    """ValueError naming the bad argument of make_synthetic (before anything in the folder is touched)."""
    check_subjects(subjects)
    check_integer(n_trials, "n_trials", low=1, high=N_TRIALS, meaning="videos per subject")
    check_integer(seed, "seed", low=0)
    if not formats or set(formats) - {"preprocessed", "raw"}:
        raise ValueError(f"formats must be a non-empty subset of ('preprocessed', 'raw'), got {formats}")
    if video_s < 2 or not float(video_s * SFREQ).is_integer():
        raise ValueError(f"video_s must be >= 2 s and a whole number of 1/128 s, got {video_s}")


def _clear_synthetic(root: Path) -> None:
    """Remove the ``sNN`` files and ratings of a previous synthetic set in ``root``; ValueError if not synthetic
    (any of them, the ratings file alone included, without a manifest)."""
    old = [file for folder in (PREPROCESSED_DIR, RAW_DIR) for file in sorted((root / folder).glob("s[0-9][0-9].*"))]
    found = old + [root / RATINGS_CSV] * (root / RATINGS_CSV).is_file()
    if found and not (root / MANIFEST).is_file():
        raise ValueError(f"{root} holds DEAP files ({found[0].relative_to(root)}, ...) but no {MANIFEST}: it may be "
                         f"real data, which make_synthetic never overwrites. Choose an empty folder.")
    for file in old:
        file.unlink()
    (root / RATINGS_CSV).unlink(missing_ok=True)


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
    """The release's ``data`` (n_trials, 40, n) float64 from a recording: EEG as in :func:`vaeinfo.data.deap.raw.load_raw`,
    peripheral channels as bipolar/single derivations downsampled to 128 Hz; trials in video order."""
    header, rows = recording.header, {label: i for i, label in enumerate(recording.header.labels)}

    def physical(names, start, stop):
        picks = [rows[name] for name in names]
        return to_physical(recording.digital[picks, start:stop], [header.channels[i] for i in picks])

    trials = []
    for onset in recording.events[recording.events[:, 1] == CODE_VIDEO, 0]:
        start, stop = trial_bounds(onset, header.n_samples, video_s, Path("synthetic recording"))
        pairs = [physical(names, start, stop) for names in PERIPHERAL_SOURCES.values()]
        peripheral = np.stack([p[0] - p[1] if len(p) == 2 else p[0] for p in pairs])
        trials.append(np.concatenate([release_eeg(physical(GENEVA, start, stop), RAW_SFREQ, video_s),
                                      trim_margins(downsample(peripheral, RAW_SFREQ), video_s)]))
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
