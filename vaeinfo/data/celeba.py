"""CelebA read from its own on-disk layout, preprocessed once into a uint8 cache.

Layout under the data folder (see :func:`vaeinfo.data.resolve_data_dir`)::

    celeba/img_align_celeba/000001.jpg ...   aligned faces, 178x218 (or a uniformly scaled copy)
    celeba/list_attr_celeba.txt              count line, 40 attribute names, then "name  +-1 x 40" rows
    celeba/list_eval_partition.txt           "name k" rows, k = 0 train, 1 validation, 2 test

torchvision's ``CelebA`` class checks the md5 sums of the full release and refuses partial copies, so
the files are read directly.

Partial copies. The images present must be exactly the *first* K images listed in
``list_eval_partition.txt`` (a prefix, e.g. the first 10,000); both annotation files must list those K
names in the same order and may list more (the extra rows are ignored, and a one-line note on stderr
says how many of the listed images are present). A listed image missing while later ones are present
(a hole), a JPEG the partition file does not list, or annotation files that disagree are errors.
Splits are the official partition restricted to the present images, so a prefix copy may hold no
validation or test images (the first 162,770 images are all official train); asking for an empty split
is an error that says so.

Preprocessing (the usual one for 64x64 CelebA VAEs): a centred square crop of side 148/178 of the
image width (148 px on the 178x218 originals, 74 px on a half-resolution copy), then an antialiased
bilinear resize to ``size`` x ``size`` RGB. On the originals this is exactly torchvision's
``CenterCrop(148)`` + ``Resize(64)``; the crop is placed with sub-pixel accuracy, so a scaled copy of
an image gives nearly the same output.

Cache. Decoding every JPEG is done once per folder and preprocessing: the result, a uint8 array
(K, 3, size, size) in partition order, is saved atomically as ``.npy`` in the cache folder (argument >
``$VAEINFO_CACHE`` > ``~/.cache/vaeinfo``) and memory-mapped on later loads, by any process. Its file
name carries a fingerprint of the JPEGs' names, sizes and mtimes, the two annotation files' contents,
the preprocessing and :data:`CACHE_VERSION`; any change makes a new cache (and the stale one of the
same folder and size is deleted).
"""

from __future__ import annotations

import builtins
import hashlib
import json
import math
import os
import re
import sys
import tempfile
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from contextlib import nullcontext
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path

import numpy as np
import PIL
import torch
from PIL import Image

from ..checks import check_integer
from ..io import (
    CACHE_ENV,
    atomic_open,
    available_cpus,
    display_path,
    progress_bar,
    resolve_cache_dir,
)
from . import (
    SPLITS,
    DataError,
    DataRoot,
    DataSource,
    ImageData,
    absent,
    check_split,
    resolve_data_dir,
)

CACHE_VERSION = 1
CELEBA_DIR = "celeba"
IMAGE_DIR = "img_align_celeba"
ATTR_FILE = "list_attr_celeba.txt"
PARTITION_FILE = "list_eval_partition.txt"
N_ATTRIBUTES = 40
CROP_FRACTION = 148 / 178  # side of the square crop / image width (148 px on the 178-px-wide originals)
RESAMPLE = Image.Resampling.BILINEAR  # antialiased in PIL when downscaling, as torchvision's Resize
DECODE_CHUNK = 256  # images per task when decoding in worker processes
PARTITION_ROW = re.compile(r"^[ \t]*(\S+)[ \t]+([012])[ \t]*$", re.M)
ATTR_ROW = re.compile(rf"^[ \t]*(\S+)((?:[ \t]+-?1){{{N_ATTRIBUTES}}})[ \t]*$", re.M)
GET_CELEBA_HINT = (
    "download the aligned CelebA (img_align_celeba.zip, list_attr_celeba.txt, list_eval_partition.txt) from "
    "https://mmlab.ie.cuhk.edu.hk/projects/CelebA.html and unpack it as <data_dir>/celeba/img_align_celeba/*.jpg "
    "with the two text files beside that folder"
)


@dataclass(frozen=True)
class CelebAIndex:
    """The present CelebA images with their official split and attributes, in partition order.

    Attributes
    ----------
    folder : the ``celeba`` folder.
    files : (K,) image file names, e.g. ``"000001.jpg"``.
    partition : int64 array (K,), 0 train, 1 validation, 2 test.
    attributes : int64 array (K, 40) in {0, 1} (the file's -1 is 0).
    attribute_names : the 40 names from the attribute file's header, in column order.
    n_listed : images listed in the partition file (more than K for a partial copy).
    stats : (K, 2) int64 array of each JPEG's size in bytes and mtime in ns (for the cache fingerprint).
    """

    folder: Path
    files: tuple[str, ...]
    partition: np.ndarray
    attributes: np.ndarray
    attribute_names: tuple[str, ...]
    n_listed: int
    stats: np.ndarray

    def split_counts(self) -> dict[str, int]:
        """Number of present images per split, e.g. ``{"train": 10000, "validation": 0, "test": 0}``."""
        return {split: int(np.sum(self.partition == k)) for k, split in enumerate(SPLITS)}


@dataclass(frozen=True)
class CelebAData(ImageData):
    """One split of CelebA.

    Attributes
    ----------
    images : float32 tensor (n, 3, size, size), pixel values in [0, 1]; or uint8 pixels 0-255 when asked
        for (``train_uint8=True`` of :func:`load_celeba_train_validation`: a quarter of the memory;
        :func:`vaeinfo.training.train.train` takes them as they are).
    labels : int64 tensor (n, 40), the attributes in {0, 1}, columns named by ``attribute_names``.
    source : the DataSource record (name ``"CelebA"``).
    attribute_names : the 40 attribute names.
    files : (n,) the image file names the rows came from.
    """

    attribute_names: tuple[str, ...]
    files: tuple[str, ...]


def load_celeba(
    split: str = "train",
    data_dir: str | os.PathLike | None = None,
    *,
    n: int | None = None,
    size: int = 64,
    cache_dir: str | os.PathLike | None = None,
    progress: bool = True,
    workers: int | None = None,
) -> CelebAData:
    """Load one official split of CelebA, centre-cropped and resized to ``size`` x ``size`` RGB.

    Parameters
    ----------
    split : ``"train"``, ``"validation"`` or ``"test"`` (the official partition, restricted to the images
        present).
    data_dir : folder holding ``celeba/``; see :func:`vaeinfo.data.resolve_data_dir`.
    n : keep only the first ``n`` images of the split (deterministic subset), or all when None.
    size : output side in pixels.
    cache_dir : folder for the decoded-image cache; see :func:`resolve_cache_dir`.
    progress : show a tqdm bar on stderr while decoding (the first load only).
    workers : processes that decode the JPEGs on a cache miss (default: one per available CPU).

    Returns
    -------
    CelebAData with images (n, 3, size, size) float32 in [0, 1] and labels (n, 40) int64 in {0, 1}.
    Memory: 4 * 3 * size**2 bytes per image (48 KiB at 64 px; 0.5 GB for 10,000 images).

    Raises
    ------
    DataError
        Missing folder or file, malformed annotation file, hole in the images, unreadable JPEG (named),
        unwritable cache folder, or an empty split.
    ValueError
        Unknown split, non-positive ``n``, ``size`` or ``workers``.
    """
    check_split(split)
    check_integer(n, "n", low=1, meaning="images", none="the whole split")
    check_integer(size, "size", low=1, meaning="output side in pixels")
    check_integer(workers, "workers", low=1, meaning="decoding processes", none="one per available CPU")
    root = resolve_data_dir(data_dir)
    index = _index(root)
    rows = np.flatnonzero(index.partition == SPLITS.index(split))
    if rows.size == 0:
        raise DataError(
            f"CelebA in {index.folder} has no {split} images: the {len(index.files)} images present are "
            f"{index.split_counts()} by the official partition. Fix: use the full release for the official "
            f"validation/test splits, or hold out part of split='train' yourself."
        )
    pixels = celeba_pixels(index, size=size, cache_dir=cache_dir, progress=progress, workers=workers)
    return _select(index, pixels, rows[:n], DataSource("CelebA", display_path(root.path), 0, split, (3, size, size)))


def load_celeba_train_validation(
    data_dir: str | os.PathLike | None = None,
    *,
    n_train: int | None = None,
    n_validation: int | None = None,
    holdout: float = 0.1,
    size: int = 64,
    cache_dir: str | os.PathLike | None = None,
    progress: bool = True,
    train_uint8: bool = False,
) -> tuple[CelebAData, CelebAData]:
    """Training and validation images: the official splits, or a held-out tail of train when there is no validation.

    A copy with official validation images (the full release) gives train[:n_train] and validation[:n_validation].
    A copy without them (e.g. a prefix of the first 162,770 images, such as the 10,000-image subset) holds out
    the *last* images of train as validation -- ``n_validation`` of them, or the fraction ``holdout`` when None
    -- and trains on the first ``n_train`` of the rest; a line on stderr says so, and the validation
    DataSource's split reads ``"train (held out)"``. The two sets never share an image.
    ``train_uint8`` returns the training images as uint8 pixels (the full release's 162,770 faces take 2 GB
    instead of 8 GB); the validation images are float32 in [0, 1].

    Returns
    -------
    (train, validation) CelebAData, images (n, 3, size, size) float32 in [0, 1].

    Raises
    ------
    DataError
        As :func:`load_celeba`, or too few train images to hold out a validation set and keep one for training.
    ValueError
        Non-positive ``n_train``/``n_validation``/``size``, or ``holdout`` outside (0, 1).
    """
    check_integer(n_train, "n_train", low=1, meaning="training images", none="all")
    check_integer(n_validation, "n_validation", low=1, meaning="validation images", none="all, or the holdout")
    check_integer(size, "size", low=1, meaning="output side in pixels")
    if not 0 < holdout < 1:
        raise ValueError(f"holdout is the fraction of train held out as validation, in (0, 1); got {holdout}")
    root = resolve_data_dir(data_dir)
    index = _index(root)
    train_rows = np.flatnonzero(index.partition == SPLITS.index("train"))
    validation_rows = np.flatnonzero(index.partition == SPLITS.index("validation"))
    validation_split = "validation"
    if validation_rows.size == 0:
        train_rows, validation_rows = _hold_out(train_rows, n_validation, holdout, index.folder)
        validation_split = "train (held out)"
    pixels = celeba_pixels(index, size=size, cache_dir=cache_dir, progress=progress)
    shape = (3, size, size)
    return (_select(index, pixels, train_rows[:n_train], DataSource("CelebA", display_path(root.path), 0, "train", shape),
                    uint8=train_uint8),
            _select(index, pixels, validation_rows[:n_validation],
                    DataSource("CelebA", display_path(root.path), 0, validation_split, shape)))


def _hold_out(rows: np.ndarray, n_validation: int | None, holdout: float, folder: Path) -> tuple[np.ndarray, np.ndarray]:
    """Split train ``rows`` into (kept, held out): the held-out ones are the last, announced on stderr."""
    n_out = n_validation if n_validation is not None else int(math.ceil(holdout * rows.size))
    if rows.size < 2 or n_out >= rows.size:
        raise DataError(
            f"CelebA in {folder} has no official validation images and only {rows.size} train images, too few to "
            f"hold out {n_out} for validation. Fix: ask for fewer validation images (n_validation) or add images."
        )
    print(f"vaeinfo: CelebA in {display_path(folder)} has no official validation images; holding out the last {n_out} of its "
          f"{rows.size} train images as validation", file=sys.stderr)
    return rows[:-n_out], rows[-n_out:]


def _select(index: CelebAIndex, pixels: np.ndarray, rows: np.ndarray, source: DataSource, *,
            uint8: bool = False) -> CelebAData:
    """CelebAData of the given rows of the decoded ``pixels`` (float32 in [0, 1], or uint8 as decoded);
    ``source.n`` is set to the row count."""
    images = torch.from_numpy(pixels[rows])
    images = images if uint8 else images.to(torch.float32).div_(255.0)
    return CelebAData(images, torch.from_numpy(index.attributes[rows]), replace(source, n=int(rows.size)),
                      index.attribute_names, tuple(index.files[i] for i in rows))


def celeba_index(data_dir: str | os.PathLike | None = None) -> CelebAIndex:
    """Read and cross-check the annotation files and the image folder; see the module docstring for the rules.

    Raises
    ------
    DataError
        Missing ``celeba`` folder, image folder or annotation file; malformed annotation file; images
        that are not a prefix of the partition list; annotation files that disagree.
    """
    return _index(resolve_data_dir(data_dir))


def check_celeba(data_dir: str | os.PathLike | None = None) -> bool:
    """Whether the data folder holds CelebA: False when it has no ``celeba/`` folder, True when ``celeba/`` passes
    every check of :func:`celeba_index` (a DataError, naming the problem and the fix, when it does not)."""
    root = resolve_data_dir(data_dir)
    if not (root.path / CELEBA_DIR).exists():
        return False
    _index(root)
    return True


def _index(root: DataRoot) -> CelebAIndex:
    """:func:`celeba_index` of a resolved data folder."""
    folder = _celeba_folder(root)
    image_dir = folder / IMAGE_DIR
    listed, partition = _read_partition(folder / PARTITION_FILE)
    attr_files, attributes, attribute_names = _read_attributes(folder / ATTR_FILE)
    present = _jpeg_stats(image_dir)
    k = _present_prefix(listed, present, image_dir)
    _check_same_files(listed[:k], attr_files, folder)
    if k < len(listed):
        _announce_partial(folder, k, len(listed))
    files = tuple(listed[:k])
    stats = np.array([present[name] for name in files], dtype=np.int64).reshape(k, 2)
    return CelebAIndex(folder, files, partition[:k], attributes[:k], attribute_names, len(listed), stats)


def celeba_pixels(
    index: CelebAIndex, *, size: int = 64, cache_dir=None, progress: bool = True, workers: int | None = None
) -> np.ndarray:
    """All present images preprocessed, as a uint8 array (K, 3, size, size) in partition order.

    Memory-mapped read-only from the cache when its fingerprint matches; else decoded, saved atomically
    (the stale caches of the same folder and size are removed) and returned from memory.
    """
    path = cache_path(index, size, resolve_cache_dir(cache_dir))
    cached = _read_cache(path, (len(index.files), 3, size, size))
    if cached is not None:
        return cached
    _check_writable(path)  # before minutes of decoding, not after
    paths = [str(index.folder / IMAGE_DIR / name) for name in index.files]
    pixels = decode_images(paths, size, progress=progress, workers=workers)
    _write_cache(path, pixels)
    return pixels


def cache_path(index: CelebAIndex, size: int, cache_root: Path) -> Path:
    """``<cache_root>/celeba-<folder hash>-<size>px-<fingerprint>.npy``.

    The fingerprint hashes the names, sizes and mtimes of the JPEGs, the contents of the annotation
    files, the preprocessing parameters, :data:`CACHE_VERSION` and Pillow's version (its JPEG decoder and
    resampling decide the pixels).
    """
    digest = hashlib.sha256()
    preprocessing = {"version": CACHE_VERSION, "size": size, "crop": CROP_FRACTION, "resample": RESAMPLE.name,
                     "pillow": PIL.__version__}
    digest.update(json.dumps(preprocessing, sort_keys=True).encode())
    for name in (ATTR_FILE, PARTITION_FILE):
        digest.update((index.folder / name).read_bytes())
    digest.update("\n".join(index.files).encode())
    digest.update(np.ascontiguousarray(index.stats).tobytes())
    return cache_root / f"{_cache_prefix(index.folder, size)}{digest.hexdigest()[:16]}.npy"


def decode_images(paths: list[str], size: int, *, progress: bool = True, workers: int | None = None) -> np.ndarray:
    """Decode and preprocess JPEGs into uint8 (len(paths), 3, size, size), with a tqdm bar on stderr.

    Chunks of :data:`DECODE_CHUNK` images are decoded by ``workers`` processes (default: one per
    available CPU; in this process when that is 1 or there is a single chunk).
    """
    out = np.empty((len(paths), 3, size, size), dtype=np.uint8)
    starts = range(0, len(paths), DECODE_CHUNK)
    chunks = [paths[i : i + DECODE_CHUNK] for i in starts]
    workers = min(workers or available_cpus(), len(chunks))
    with (progress_bar(total=len(paths), desc="decoding CelebA", unit="img", enabled=progress) as bar,
          _executor(workers) as pool):
        for start, block in zip(starts, pool.map(partial(_decode_chunk, size=size), chunks)):
            out[start : start + len(block)] = block
            bar.update(len(block))
    return out


def preprocess(image: Image.Image, size: int = 64) -> np.ndarray:
    """Centre-crop a square of side ``CROP_FRACTION`` x width and resize it (antialiased) to ``size``.

    The image is cut to the smallest whole-pixel box that holds :func:`crop_box`, and that box is
    resampled with the sub-pixel crop as PIL's source ``box``: no pixel outside the cut contributes, a
    scaled copy gives nearly the same output, and on the 178x218 originals (whole-pixel crop) this is
    exactly torchvision's ``CenterCrop(148)`` then ``Resize(64)``.

    Parameters
    ----------
    image : PIL image of any mode, width W and height H >= CROP_FRACTION * W pixels.
    size : output side in pixels.

    Returns
    -------
    uint8 array (3, size, size), RGB.
    """
    left, top, right, bottom = crop_box(*image.size)
    cut = (math.floor(left), math.floor(top), math.ceil(right), math.ceil(bottom))
    face = image.crop(cut).convert("RGB")
    box = (left - cut[0], top - cut[1], right - cut[0], bottom - cut[1])
    return np.ascontiguousarray(np.asarray(face.resize((size, size), RESAMPLE, box=box)).transpose(2, 0, 1))


def crop_box(width: int, height: int) -> tuple[float, float, float, float]:
    """The centred square crop (left, top, right, bottom) in pixels, side ``CROP_FRACTION * width``.

    For the 178x218 originals this is (15, 35, 163, 183), the usual 148-px centre crop.
    """
    side = CROP_FRACTION * width
    if side > height:
        raise ValueError(f"a {width}x{height} image is too wide for the {side:.1f}-px CelebA face crop")
    left, top = (width - side) / 2, (height - side) / 2
    return (left, top, left + side, top + side)


def _executor(workers: int):
    """A pool of ``workers`` processes, or for 1 a stand-in whose ``map`` is the built-in (in this process)."""
    return ProcessPoolExecutor(workers) if workers > 1 else nullcontext(builtins)


def _decode_chunk(paths: list[str], size: int) -> np.ndarray:
    """Decode and preprocess a list of JPEGs into uint8 (len(paths), 3, size, size)."""
    return np.stack([_decode_file(path, size) for path in paths])


def _decode_file(path: str, size: int) -> np.ndarray:
    """One JPEG through :func:`preprocess`; an unreadable or odd-shaped file is a DataError naming it."""
    try:
        with Image.open(path) as image:
            return preprocess(image, size)
    except (OSError, ValueError, SyntaxError) as exc:
        raise DataError(
            f"cannot read CelebA image {path} ({type(exc).__name__}: {exc}). Fix: replace it with the file "
            f"from the CelebA release (re-extract img_align_celeba.zip)."
        ) from None


def _celeba_folder(root: DataRoot) -> Path:
    """``<root>/celeba`` after checking that it holds the image folder and both annotation files."""
    folder = root.path / CELEBA_DIR
    if not folder.is_dir():
        raise DataError(f"CelebA not found: {folder} {absent(folder)} (data folder {root.describe()}). "
                        f"Fix: {GET_CELEBA_HINT}.")
    kinds = {IMAGE_DIR: Path.is_dir, ATTR_FILE: Path.is_file, PARTITION_FILE: Path.is_file}
    missing = [name for name, is_kind in kinds.items() if not is_kind(folder / name)]
    if missing:
        raise DataError(f"CelebA is incomplete in {folder}: missing {missing} ({IMAGE_DIR} is the folder of JPEGs, "
                        f"the others text files). Fix: {GET_CELEBA_HINT}.")
    return folder


def _read_partition(path: Path) -> tuple[list[str], np.ndarray]:
    """Parse ``list_eval_partition.txt``: file names (in order) and int64 partition codes in {0, 1, 2}."""
    rows = _match_rows(path, _text_rows(path), PARTITION_ROW, first_line=1, expected="'<name>.jpg 0|1|2'")
    names = [name for name, _ in rows]
    _check_unique(names, path)
    return names, np.array([int(code) for _, code in rows], dtype=np.int64)


def _read_attributes(path: Path) -> tuple[list[str], np.ndarray, tuple[str, ...]]:
    """Parse ``list_attr_celeba.txt``: file names, int64 (rows, 40) attributes in {0, 1}, attribute names.

    The first line is the number of rows, the second the 40 names, then ``name`` and 40 values +-1 per row.
    """
    lines = _text_rows(path)
    if len(lines) < 2 or not lines[0].strip().isdigit():
        raise DataError(f"{path} does not start with a row count and the attribute names. "
                        f"Fix: use the {ATTR_FILE} of the CelebA release.")
    names = tuple(lines[1].split())
    if len(names) != N_ATTRIBUTES:
        raise DataError(f"{path} names {len(names)} attributes on line 2, expected {N_ATTRIBUTES}. "
                        f"Fix: use the {ATTR_FILE} of the CelebA release.")
    count = int(lines[0])
    if count != len(lines) - 2:
        raise DataError(f"{path} declares {count} rows on line 1 but has {len(lines) - 2}: truncated or edited. "
                        f"Fix: restore the file (or set line 1 to the number of rows that follow).")
    rows = _match_rows(path, lines[2:], ATTR_ROW, first_line=3,
                       expected=f"'<name>.jpg' and {N_ATTRIBUTES} values 1 or -1")
    files = [name for name, _ in rows]
    _check_unique(files, path)
    values = np.fromstring(" ".join(v for _, v in rows), dtype=np.int64, sep=" ").reshape(count, N_ATTRIBUTES)
    return files, (values + 1) // 2, names


def _text_rows(path: Path) -> list[str]:
    """The non-blank lines of a text annotation file."""
    try:
        text = path.read_text(encoding="ascii")
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"cannot read {path} ({type(exc).__name__}: {exc}). Fix: {GET_CELEBA_HINT}.") from None
    return [line for line in text.splitlines() if line.strip()]


def _match_rows(path: Path, rows: list[str], pattern: re.Pattern, *, first_line: int, expected: str) -> list[tuple]:
    """The regex groups of every row (one C-level pass); the first row that does not match is a DataError."""
    matches = pattern.findall("\n".join(rows))
    if len(matches) != len(rows):
        bad = next(i for i, row in enumerate(rows) if not pattern.fullmatch(row))
        raise DataError(f"{path} line {first_line + bad} is malformed: {rows[bad][:80]!r} (expected {expected}). "
                        f"Fix: restore the file from the CelebA release.")
    return matches


def _check_unique(names: list[str], path: Path) -> None:
    """A file name listed twice in an annotation file is a DataError."""
    if len(set(names)) != len(names):
        dups = sorted(name for name, count in Counter(names).items() if count > 1)
        raise DataError(f"{path} lists {dups[0]} ({len(dups)} names in all) more than once. "
                        f"Fix: restore the file from the CelebA release.")


def _jpeg_stats(image_dir: Path) -> dict[str, tuple[int, int]]:
    """``{file name: (size in bytes, mtime in ns)}`` of the ``.jpg`` files in the image folder."""
    with os.scandir(image_dir) as entries:
        stats = {entry.name: entry.stat() for entry in entries if entry.name.endswith(".jpg")}
    return {name: (st.st_size, st.st_mtime_ns) for name, st in stats.items()}


def _present_prefix(listed: list[str], present: dict, image_dir: Path) -> int:
    """K such that the JPEGs present are exactly ``listed[:K]``; a hole or an unlisted JPEG is a DataError."""
    if not present:
        raise DataError(f"{image_dir} holds no .jpg images. Fix: {GET_CELEBA_HINT}.")
    k = 0
    while k < len(listed) and listed[k] in present:
        k += 1
    if k == len(present):
        return k
    unlisted = sorted(set(present) - set(listed))
    if unlisted:
        raise DataError(f"{len(unlisted)} JPEG(s) in {image_dir} are not in {PARTITION_FILE}, e.g. {unlisted[0]}. "
                        f"Fix: use the annotation files that belong to these images, or remove the extra files.")
    raise DataError(f"{listed[k]} is listed in {PARTITION_FILE} but missing from {image_dir}, while later images "
                    f"are present: the copy has a hole. Fix: re-extract img_align_celeba.zip (a partial copy must "
                    f"hold the first K images listed).")


def _check_same_files(expected: list[str], attr_files: list[str], folder: Path) -> None:
    """The attribute file must list the present images first, in partition order."""
    if len(attr_files) < len(expected):
        raise DataError(f"{folder / ATTR_FILE} has {len(attr_files)} rows but {len(expected)} images are present. "
                        f"Fix: use the {ATTR_FILE} that belongs to these images.")
    if attr_files[: len(expected)] != expected:
        i = next(i for i, (a, b) in enumerate(zip(attr_files, expected)) if a != b)
        raise DataError(f"{ATTR_FILE} row {i + 1} is {attr_files[i]} but {PARTITION_FILE} row {i + 1} is "
                        f"{expected[i]} in {folder}. Fix: use annotation files from the same CelebA release.")


_announced: set[Path] = set()


def _announce_partial(folder: Path, k: int, n_listed: int) -> None:
    """Say once per process and folder, on stderr, that only a prefix of the listed images is present."""
    if folder in _announced:
        return
    _announced.add(folder)
    print(f"vaeinfo: note: {display_path(folder / IMAGE_DIR)} holds the first {k:,} of the {n_listed:,} images listed in "
          f"{PARTITION_FILE}; using those.", file=sys.stderr, flush=True)


def _cache_prefix(folder: Path, size: int) -> str:
    """The cache name up to the fingerprint: the same for every version of one folder at one size."""
    return f"celeba-{hashlib.sha256(str(folder.resolve()).encode()).hexdigest()[:12]}-{size}px-"


def _read_cache(path: Path, shape: tuple[int, ...]) -> np.ndarray | None:
    """The memory-mapped cache, or None when it is absent, unreadable or of the wrong shape or dtype."""
    try:
        pixels = np.load(path, mmap_mode="r")
    except (OSError, ValueError):
        return None
    return pixels if pixels.shape == tuple(shape) and pixels.dtype == np.uint8 else None


def _check_writable(path: Path) -> None:
    """DataError (:func:`_cannot_write`) unless a file can be created in the folder of the cache file ``path``."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=path.parent):
            pass
    except OSError as exc:
        raise _cannot_write(path, exc) from None


def _cannot_write(path: Path, exc: OSError) -> DataError:
    """The error for a CelebA cache that cannot be written, naming the fix."""
    return DataError(f"cannot write the CelebA cache {path} ({exc}). "
                     f"Fix: pass cache_dir= or set ${CACHE_ENV} to a writable folder.")


def _write_cache(path: Path, pixels: np.ndarray) -> None:
    """Save atomically, then delete the caches of the same folder and size with another fingerprint."""
    try:
        with atomic_open(path, "wb") as fh:
            np.save(fh, pixels)
    except OSError as exc:
        raise _cannot_write(path, exc) from None
    prefix = path.name[: path.name.rindex("-") + 1]
    for stale in path.parent.glob(f"{prefix}*.npy"):
        if stale != path:
            stale.unlink(missing_ok=True)
