"""Data sets: the shared types, and where the data folder is.

Resolution of the data folder (first match wins):

1. an explicit ``data_dir`` argument (``--data-dir`` of ``reproduce.sh``),
2. the ``VAEINFO_DATA`` environment variable,
3. ``./data`` relative to the current directory.

An explicit folder or ``VAEINFO_DATA`` that does not exist is an error (a typo must never silently
switch data sets). The default ``./data`` may be absent: then a data set in it counts as missing.

The loaders live in the submodules: :mod:`vaeinfo.data.mnist` (MNIST and the 8x8 digits fallback),
:mod:`vaeinfo.data.celeba`, :mod:`vaeinfo.data.dsprites` (the dSprites grid: official npz or rendered), and
:mod:`vaeinfo.data.deap` (DEAP EEG: the release, raw BDF recordings, features, synthetic files in the real formats).
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

from ..checks import is_integer

ENV_VAR = "VAEINFO_DATA"
SPLITS = ("train", "validation", "test")


class DataError(RuntimeError):
    """A data set is missing, incomplete or corrupt; the message names the problem and the fix."""


@dataclass(frozen=True)
class DataRoot:
    """The resolved data folder and which rule chose it (``"argument"``, ``"VAEINFO_DATA"`` or ``"default"``)."""

    path: Path
    origin: str

    def describe(self) -> str:
        """Human-readable origin, e.g. ``"/data (from VAEINFO_DATA)"``."""
        label = {"argument": "the data_dir argument", "VAEINFO_DATA": f"${ENV_VAR}", "default": "the default ./data"}
        return f"{self.path} (from {label[self.origin]})"


@dataclass(frozen=True)
class DataSource:
    """Where a loaded array came from; notebooks write ``to_dict()`` into their results JSON.

    Attributes
    ----------
    name : data set name, e.g. ``"MNIST"`` or ``"digits"``.
    path : folder read from, as :func:`vaeinfo.io.display_path` writes it (``"$VAEINFO_DATA"``, ``"~/data"``, ...:
        results files are committed and carry no absolute local paths); ``"scikit-learn"`` for the packaged digits.
    n : number of examples returned.
    split : ``"train"``, ``"validation"`` or ``"test"``.
    image_shape : (channels, height, width).
    fallback : True when this is the offline stand-in for the data set that was asked for.
    """

    name: str
    path: str
    n: int
    split: str
    image_shape: tuple[int, int, int]
    fallback: bool = False

    def to_dict(self) -> dict:
        """JSON-ready dict of the fields."""
        return asdict(self)


@dataclass(frozen=True)
class ImageData:
    """Images with labels and their provenance.

    Attributes
    ----------
    images : float32 tensor (n, C, H, W), pixel values in [0, 1].
    labels : int64 tensor (n,), class indices.
    source : the DataSource record.
    """

    images: torch.Tensor
    labels: torch.Tensor
    source: DataSource

    def __len__(self) -> int:
        return int(self.images.shape[0])


def resolve_data_dir(data_dir: str | os.PathLike | None = None) -> DataRoot:
    """Resolve the data folder: explicit argument > ``$VAEINFO_DATA`` > ``./data``.

    Raises
    ------
    DataError
        If the folder came from the argument or ``VAEINFO_DATA`` and does not exist.
    """
    if data_dir is not None and str(data_dir) != "":
        root = DataRoot(Path(data_dir).expanduser().resolve(), "argument")
    elif os.environ.get(ENV_VAR):
        root = DataRoot(Path(os.environ[ENV_VAR]).expanduser().resolve(), "VAEINFO_DATA")
    else:
        return DataRoot(Path("data").resolve(), "default")
    if not root.path.is_dir():
        raise DataError(
            f"data directory {root.describe()} {absent(root.path)}. Fix: point it at the folder that holds "
            f"MNIST/raw/ (and celeba/ ...), e.g. `export {ENV_VAR}=/path/to/data` or `--data-dir /path/to/data`."
        )
    return root


def absent(folder: Path) -> str:
    """Why ``folder`` is not a folder, for an error message: "is a file, not a folder" or "does not exist"."""
    return "is a file, not a folder" if folder.exists() else "does not exist"


def check_split(split: str) -> None:
    """Raise ValueError naming the valid splits unless ``split`` is one of SPLITS."""
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; choose one of {SPLITS}")


def check_count(n, what: str = "n") -> None:
    """Raise ValueError unless ``n`` is None or a positive whole number of examples (int or numpy integer)."""
    if n is not None and not (is_integer(n) and n >= 1):
        raise ValueError(f"{what} must be a positive number of examples or None, got {n!r}")
