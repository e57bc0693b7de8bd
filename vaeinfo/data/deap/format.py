"""DEAP's on-disk format: folder and file names, recording constants, channel orders, trigger codes,
where a copy lives (:class:`DeapSource`) and the trials every loader returns (:class:`EEGTrials`).

The loaders: :mod:`.release` (the preprocessed Python pickles), :mod:`.raw` (BioSemi BDF recordings),
:mod:`.folder` (a whole folder, whichever format it holds); features in :mod:`.features`.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Sequence

import numpy as np

from ...checks import is_integer
from ...io import display_path
from .. import DataError, absent

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


@dataclass(frozen=True)
class DeapSource:
    """A DEAP folder and what it holds; ``to_dict()`` goes into results JSON.

    Attributes
    ----------
    root : folder holding ``data_preprocessed_python/`` and/or ``data_original/``.
    origin : ``"argument"`` or ``"VAEINFO_DEAP"``.
    synthetic : True for files written by :func:`vaeinfo.data.deap.synthetic.make_synthetic` (its manifest is
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
            return (f"regenerate the synthetic files with vaeinfo.data.deap.synthetic.make_synthetic('{self.root}', ...) "
                    f"and the arguments recorded in {self.root / MANIFEST}")
        return (f"download DEAP again (after signing its EULA) and unzip data_preprocessed_python.zip / "
                f"data_original.zip into {self.root}")

    def to_dict(self) -> dict:
        """JSON-ready fields; ``root`` as :func:`vaeinfo.io.display_path` writes it (no absolute local path)."""
        return {**asdict(self), "root": display_path(self.root)}


def deap_source(path: str | os.PathLike | None = None) -> DeapSource:
    """Resolve the DEAP folder: explicit ``path`` > ``$VAEINFO_DEAP``.

    Raises
    ------
    DataError
        Neither is set (the message says how to point at real DEAP or make synthetic files), the folder
        does not exist (:func:`deap_root`), or it holds neither ``data_preprocessed_python/`` nor ``data_original/``.
    """
    root, origin = deap_root(path)
    if not ((root / PREPROCESSED_DIR).is_dir() or (root / RAW_DIR).is_dir()):
        raise DataError(f"DEAP folder {root} holds neither {PREPROCESSED_DIR}/ nor {RAW_DIR}/. Fix: unzip the DEAP "
                        f"downloads there, or run vaeinfo.data.deap.synthetic.make_synthetic('{root}').")
    return source_at(root, origin)


def deap_configured(path: str | os.PathLike | None = None) -> bool:
    """Whether a DEAP folder is configured: ``path`` given (not None, not empty) or ``$VAEINFO_DEAP`` set."""
    return (path is not None and str(path) != "") or bool(os.environ.get(ENV_VAR))


def deap_root(path: str | os.PathLike | None = None) -> tuple[Path, str]:
    """The DEAP folder (absolute) and where it came from (``"argument"`` or ``$VAEINFO_DEAP``'s name), unchecked
    for content; a DataError when neither is set or the folder does not exist."""
    if path is not None and not isinstance(path, (str, os.PathLike)):
        raise DataError(f"the DEAP folder must be a path, got {path!r}. Fix: give the folder holding "
                        f"{PREPROCESSED_DIR}/ and/or {RAW_DIR}/ (deap_dir in a profile), or leave it unset.")
    if path is not None and str(path) != "":
        root, origin = Path(path).expanduser().resolve(), "argument"
    elif os.environ.get(ENV_VAR):
        root, origin = Path(os.environ[ENV_VAR]).expanduser().resolve(), ENV_VAR
    else:
        raise DataError(
            f"no DEAP data configured. Fix: set {ENV_VAR}=/path/to/deap (the folder holding {PREPROCESSED_DIR}/ "
            f"and/or {RAW_DIR}/; DEAP is licence-restricted: sign its EULA and download your own copy), or "
            f"generate synthetic files in the same formats with vaeinfo.data.deap.synthetic.make_synthetic(folder) and "
            f"pass that folder."
        )
    if not root.is_dir():
        raise DataError(f"DEAP folder {root} (from {origin}) {absent(root)}. Fix: point {ENV_VAR} or the argument "
                        f"at the folder holding {PREPROCESSED_DIR}/ and/or {RAW_DIR}/.")
    return root, origin


def source_for(path: Path) -> DeapSource:
    """The DeapSource of a file, its data folder or the root: the root is where the manifest is, if any."""
    folder = path if path.is_dir() else path.parent
    root = folder.parent if folder.name in (PREPROCESSED_DIR, RAW_DIR) else folder
    return source_at(root.resolve(), "argument")


def source_at(root: Path, origin: str) -> DeapSource:
    """A DeapSource for ``root``, synthetic with the manifest's trial count and length when it has one."""
    manifest = root / MANIFEST
    if not manifest.is_file():
        return DeapSource(root, origin)
    fix = "Fix: write it again with vaeinfo.data.deap.synthetic.make_synthetic, or delete the folder."
    try:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        meta = json.loads(manifest.read_text(encoding="utf-8"))
        if meta.get("complete") is not False:
            return DeapSource(root, origin, True, int(meta["n_trials"]), float(meta["video_s"]), int(meta["seed"]))
    except (AttributeError, KeyError, TypeError, ValueError) as exc:
        raise DataError(f"{manifest} is not a readable synthetic DEAP manifest ({type(exc).__name__}: {exc}). "
                        f"{fix}") from None
    raise DataError(f"{root} holds an incomplete synthetic DEAP set: writing it was interrupted ({MANIFEST} says "
                    f"complete: false). {fix}")


def check_subjects(subjects: Sequence[int]) -> list[int]:
    """``subjects`` as a list of ints; ValueError unless they are distinct integers in 1..N_SUBJECTS, at least one."""
    subjects = list(subjects)
    if (not subjects or len(set(subjects)) != len(subjects)
            or not all(is_integer(s) and 1 <= s <= N_SUBJECTS for s in subjects)):
        raise ValueError(f"subjects must be distinct integers in 1..{N_SUBJECTS}, got {subjects}")
    return [int(s) for s in subjects]


def subject_of(path: Path) -> int:
    """The subject number of ``sNN.dat`` / ``sNN.bdf``."""
    match = _SUBJECT_FILE.match(path.name)
    if not match or not 1 <= int(match.group(1)) <= N_SUBJECTS:
        raise DataError(f"{path}: DEAP files are named sNN.dat / sNN.bdf (NN = subject 01..32). Fix: keep the "
                        f"release's file names.")
    return int(match.group(1))


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
    synthetic : True for files written by :func:`vaeinfo.data.deap.synthetic.make_synthetic`.
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
