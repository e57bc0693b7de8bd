"""The preprocessed DEAP release: ``data_preprocessed_python/sNN.dat`` (Python 2 pickles).

Read with ``pickle.load(f, encoding="latin1")`` restricted to the numpy globals such a file needs; keys, shapes,
dtype, finiteness and the 1..9 rating range are checked.
"""

from __future__ import annotations

import os
import pickle
from pathlib import Path
from typing import Sequence

import numpy as np

from .. import DataError
from .format import (
    PREPROCESSED_CHANNELS,
    PREPROCESSED_DIR,
    RATING_RANGE,
    SFREQ,
    DeapSource,
    EEGTrials,
    check_subjects,
    source_for,
    subject_of,
)

_PICKLE_GLOBALS = {("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
                   ("numpy", "ndarray"), ("numpy", "dtype"), ("_codecs", "encode")}


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
    ValueError
        ``subjects`` given with a single file, or not distinct integers in 1..32.
    """
    path = Path(path_or_dir)
    source = source_for(path)
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
            raise DataError(f"no sNN.dat files in {folder}. Fix: {source_for(path).fix()}.")
        return files
    files = [folder / f"s{s:02d}.dat" for s in check_subjects(subjects)]
    missing = [f.name for f in files if not f.is_file()]
    if missing:
        raise DataError(f"missing {missing} in {folder}. Fix: {source_for(path).fix()}.")
    return files


class _ReleaseUnpickler(pickle.Unpickler):
    """Unpickles only what a DEAP file holds (numpy arrays in a dict): no other code can run."""

    def find_class(self, module: str, name: str):
        if (module, name) not in _PICKLE_GLOBALS:
            raise pickle.UnpicklingError(f"it refers to {module}.{name}, which a DEAP file never does")
        return super().find_class(module, name)


def _read_preprocessed(file: Path, source: DeapSource) -> EEGTrials:
    """Read and check one ``sNN.dat``."""
    subject = subject_of(file)
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
