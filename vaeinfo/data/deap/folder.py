"""A whole DEAP folder: its subjects, and one subject's trials from whichever format it holds."""

from __future__ import annotations

from pathlib import Path

from ...checks import check_integer
from .. import DataError
from .format import (
    N_SUBJECTS,
    PREPROCESSED_DIR,
    RATINGS_CSV,
    RAW_DIR,
    DeapSource,
    EEGTrials,
    subject_of,
)
from .raw import load_raw
from .release import load_preprocessed


def available_subjects(source: DeapSource) -> list[int]:
    """Subject numbers with a file in the folder: ``data_preprocessed_python/`` when it holds any, else
    ``data_original/`` (DataError when there is none, or when raw recordings come without their ratings file)."""
    folder, suffix = _folder_of(source)
    subjects = sorted(subject_of(file) for file in folder.glob(f"s[0-9][0-9].{suffix}"))
    if not subjects:
        raise DataError(f"no s01.{suffix} .. s32.{suffix} files in {folder}. Fix: {source.fix()}.")
    if suffix == "bdf":
        _ratings(source)  # checked with the inventory, not at the first subject a notebook loads
    return subjects


def load_subject(source: DeapSource, subject: int) -> EEGTrials:
    """One subject's labelled trials: the preprocessed release when the folder has it (the normal case), else
    the raw recording through :func:`load_raw` with ``metadata_csv/participant_ratings.csv`` for the labels and
    the video order (DataError when that file is missing)."""
    subject = check_integer(subject, "subject", low=1, high=N_SUBJECTS, meaning="DEAP's participants")
    folder, suffix = _folder_of(source)
    file = folder / f"s{subject:02d}.{suffix}"
    if suffix == "dat":
        return load_preprocessed(file)[0]
    return load_raw(file, _ratings(source))


def _ratings(source: DeapSource) -> Path:
    """``metadata_csv/participant_ratings.csv`` of the folder, which raw recordings need (DataError when missing)."""
    ratings = source.root / RATINGS_CSV
    if not ratings.is_file():
        raise DataError(f"{ratings} is missing: raw recordings need it for the ratings and the video order. Fix: "
                        f"unzip DEAP's metadata_csv.zip into {source.root}.")
    return ratings


def _folder_of(source: DeapSource) -> tuple[Path, str]:
    """The data folder to read and its file suffix: preprocessed when it holds subject files (or there is no raw
    folder), raw otherwise -- an empty ``data_preprocessed_python/`` beside the recordings does not hide them."""
    preprocessed, raw = source.root / PREPROCESSED_DIR, source.root / RAW_DIR
    if any(preprocessed.glob("s[0-9][0-9].dat")) or not raw.is_dir():
        return preprocessed, "dat"
    return raw, "bdf"
