"""MNIST with the paper's split, and scikit-learn's 8x8 digits as the offline fallback.

MNIST is read with torchvision's IDX readers from its standard layout ``<root>/MNIST/raw/*-ubyte``
with the paper's split (train = official train[10000:], validation = train[:10000], test = official
test). It is downloaded (with torchvision's md5 checksums) only when the caller passes
``download=True``. When MNIST is absent and the caller passes ``allow_fallback=True``, scikit-learn's
real 8x8 handwritten digits (1,797 images, shipped inside scikit-learn) are used instead, and a loud
one-line message on stderr says so and how to get MNIST. The data folder is resolved by
:func:`vaeinfo.data.resolve_data_dir`.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np
import torch

from ..io import display_path
from . import DataError, DataRoot, DataSource, ImageData, check_count, check_split, resolve_data_dir

MNIST_FILES = {
    # file name: (IDX magic number, shape)
    "train-images-idx3-ubyte": (0x0803, (60000, 28, 28)),
    "train-labels-idx1-ubyte": (0x0801, (60000,)),
    "t10k-images-idx3-ubyte": (0x0803, (10000, 28, 28)),
    "t10k-labels-idx1-ubyte": (0x0801, (10000,)),
}
MNIST_N_VALIDATION = 10000
DIGITS_N_VALIDATION = 300
DIGITS_N_TEST = 300
DIGITS_SPLIT_SEED = 0
GET_MNIST_HINT = (
    "get MNIST with `./reproduce.sh --download` (or `vaeinfo.data.mnist.load_mnist(..., download=True)`), "
    "or copy the four IDX files into <data_dir>/MNIST/raw/"
)


def load_mnist(
    split: str = "train",
    data_dir: str | os.PathLike | None = None,
    *,
    n: int | None = None,
    download: bool = False,
    allow_fallback: bool = False,
) -> ImageData:
    """Load one split of MNIST with the paper's split, or the digits fallback.

    Parameters
    ----------
    split : ``"train"`` (50,000: official train[10000:]), ``"validation"`` (10,000: official
        train[:10000]) or ``"test"`` (official 10,000).
    data_dir : folder holding ``MNIST/raw/``; see :func:`resolve_data_dir`.
    n : keep only the first ``n`` examples of the split (deterministic subset), or all when None.
    download : allow torchvision to download MNIST (md5-checked) into ``<data_dir>/MNIST/raw``.
    allow_fallback : when MNIST is absent, use scikit-learn's 8x8 digits instead (announced on stderr).

    Returns
    -------
    ImageData with images (n, 1, 28, 28) float32 in [0, 1] (or (n, 1, 8, 8) for the fallback).

    Raises
    ------
    DataError
        Missing folder, missing MNIST (without fallback), corrupt or truncated IDX file, failed download.
    ValueError
        Unknown split or a non-positive ``n``.
    """
    check_split(split)
    check_count(n)
    root = resolve_data_dir(data_dir)
    raw = root.path / "MNIST" / "raw"
    if download and not all((raw / name).is_file() for name in MNIST_FILES):
        _download_mnist(root.path)
    if not _check_mnist(root):
        if allow_fallback:
            _announce_fallback(root)
            return load_digits(split, n=n)
        raise DataError(f"MNIST not found: {raw} has none of {sorted(MNIST_FILES)}. Fix: {GET_MNIST_HINT}.")
    images, labels = _read_mnist(root.path, train=split != "test")
    if split == "train":
        images, labels = images[MNIST_N_VALIDATION:], labels[MNIST_N_VALIDATION:]
    elif split == "validation":
        images, labels = images[:MNIST_N_VALIDATION], labels[:MNIST_N_VALIDATION]
    return _image_data(images, labels, "MNIST", display_path(root.path), split, n, fallback=False)


def check_mnist(data_dir: str | os.PathLike | None = None) -> bool:
    """Whether the data folder holds MNIST: True when all four IDX files are there and valid, False when none is.

    Raises
    ------
    DataError
        Some of the files are missing, still gzip-compressed (LeCun's downloads), directly in the data folder rather
        than in ``MNIST/raw/``, or one is truncated or corrupt (the message names it and the fix).
    """
    return _check_mnist(resolve_data_dir(data_dir))


def _check_mnist(root: DataRoot) -> bool:
    """:func:`check_mnist` of a resolved data folder."""
    raw = root.path / "MNIST" / "raw"
    present = [name for name in MNIST_FILES if (raw / name).is_file()]
    missing = sorted(set(MNIST_FILES) - set(present))
    compressed = [name for name in missing if (raw / f"{name}.gz").is_file()]
    if compressed:
        raise DataError(f"MNIST in {raw} is still compressed: {[f'{name}.gz' for name in compressed]} (vaeinfo reads "
                        f"the IDX files themselves). Fix: decompress them, e.g. `gunzip -k {raw}/*-ubyte.gz`.")
    if not present:
        if any((root.path / name).is_file() or (root.path / f"{name}.gz").is_file() for name in MNIST_FILES):
            raise DataError(f"MNIST's files are directly in {root.path}, which is read as the data folder. Fix: "
                            f"point the data folder at the one above MNIST/raw/, or move the files into "
                            f"{root.path}/MNIST/raw/.")
        return False
    if missing:
        raise DataError(f"MNIST is incomplete in {raw}: missing {missing}. Fix: {GET_MNIST_HINT}.")
    for name, (magic, shape) in MNIST_FILES.items():
        _check_idx(raw / name, magic, shape)
    return True


def load_digits(split: str = "train", *, n: int | None = None) -> ImageData:
    """scikit-learn's 8x8 handwritten digits (1,797 real images), split like MNIST.

    A fixed permutation (seed 0) assigns 300 images to validation, 300 to test and 1,197 to train.
    Pixel values 0..16 are scaled to [0, 1]. Returns images (n, 1, 8, 8) float32.
    """
    from sklearn.datasets import load_digits as sklearn_digits

    check_split(split)
    check_count(n)
    bunch = sklearn_digits()
    order = np.random.default_rng(DIGITS_SPLIT_SEED).permutation(len(bunch.target))
    bounds = {
        "validation": order[:DIGITS_N_VALIDATION],
        "test": order[DIGITS_N_VALIDATION : DIGITS_N_VALIDATION + DIGITS_N_TEST],
        "train": order[DIGITS_N_VALIDATION + DIGITS_N_TEST :],
    }
    idx = bounds[split]
    images = torch.from_numpy(bunch.images[idx].astype(np.float32) / 16.0)
    labels = torch.from_numpy(bunch.target[idx].astype(np.int64))
    return _image_data(images, labels, "digits", "scikit-learn", split, n, fallback=True)


def _image_data(images, labels, name, path, split, n, *, fallback) -> ImageData:
    """Subset to the first ``n``, add the channel axis, scale uint8 to [0, 1] and wrap with a DataSource."""
    images, labels = images[:n], labels[:n]
    if images.dtype == torch.uint8:
        images = images.to(torch.float32) / 255.0
    images = images.unsqueeze(1).contiguous()
    source = DataSource(name, path, int(images.shape[0]), split, tuple(images.shape[1:]), fallback)
    return ImageData(images, labels.to(torch.int64), source)


_announced: set[Path] = set()


def _announce_fallback(root: DataRoot) -> None:
    """Say once per process and data folder, on stderr, that the digits stand in for MNIST."""
    if root.path in _announced:
        return
    _announced.add(root.path)
    print(
        f"vaeinfo: WARNING: MNIST not found in {root.describe()}; using scikit-learn's 8x8 digits "
        f"(1,797 real images) instead. To use MNIST: {GET_MNIST_HINT}.",
        file=sys.stderr,
        flush=True,
    )


def _check_idx(path: Path, magic: int, shape: tuple[int, ...]) -> None:
    """Check an uncompressed IDX file's header and size, so that corruption gives a clear error."""
    fix = f"Fix: delete {path.parent} and get MNIST again ({GET_MNIST_HINT})."
    expected = 4 + 4 * len(shape) + int(np.prod(shape))
    with open(path, "rb") as fh:
        header = fh.read(4 + 4 * len(shape))
    if len(header) < 4 or int.from_bytes(header[:4], "big") != magic:
        raise DataError(f"{path} is not an MNIST IDX file (bad magic number). {fix}")
    dims = tuple(int.from_bytes(header[4 + 4 * i : 8 + 4 * i], "big") for i in range(len(shape)))
    if dims != shape:
        raise DataError(f"{path} has shape {dims} in its header, expected {shape}. {fix}")
    size = path.stat().st_size
    if size != expected:
        raise DataError(f"{path} is truncated or corrupt: {size} bytes, expected {expected}. {fix}")


def _read_mnist(root: Path, *, train: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """Read one official MNIST part from its checked IDX files with torchvision's readers; returns uint8
    (n, 28, 28) and labels (n,). Not through ``torchvision.datasets.MNIST``: it prefers a legacy
    ``MNIST/processed/*.pt`` cache, when one is there, to the raw files that were checked."""
    from torchvision.datasets.mnist import read_image_file, read_label_file

    raw, part = root / "MNIST" / "raw", "train" if train else "t10k"
    images, labels = read_image_file(str(raw / f"{part}-images-idx3-ubyte")), read_label_file(
        str(raw / f"{part}-labels-idx1-ubyte"))
    if int(labels.min()) < 0 or int(labels.max()) > 9:
        raise DataError(f"MNIST labels in {root / 'MNIST' / 'raw'} fall outside 0..9: corrupt file. "
                        f"Fix: get MNIST again ({GET_MNIST_HINT}).")
    return images, labels


def _download_mnist(root: Path) -> None:
    """Download MNIST with torchvision (md5-checked); turn network failures into one DataError."""
    from torchvision.datasets import MNIST

    print(f"vaeinfo: downloading MNIST into {root / 'MNIST' / 'raw'} (md5-checked) ...", file=sys.stderr, flush=True)
    try:
        MNIST(root=str(root), train=True, download=True)
        MNIST(root=str(root), train=False, download=True)
    except Exception as exc:  # torchvision raises RuntimeError/URLError/OSError with multi-line text
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DataError(
            f"could not download MNIST into {root} ({first}). Fix: check the internet connection, or copy "
            f"train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte and "
            f"t10k-labels-idx1-ubyte into {root / 'MNIST' / 'raw'}."
        ) from None
