"""dSprites (Matthey et al. 2017, Apache-2.0): the ground-truth grid, a procedural renderer, the official file, and
the factor sampling that disentanglement metrics need.

The grid is exactly the official file's (``dsprites_ndarray_co1sh3sc6or40x32y32_64x64.npz``): 737,280 binary 64x64
images, one per combination of six latents in this order -- colour (1 value: white), shape (1 square, 2 ellipse,
3 heart), scale (``linspace(0.5, 1, 6)``), orientation (``linspace(0, 2*pi, 40)``: 0 and 2*pi both present, so those
two give the same image), posX and posY (``linspace(0, 1, 32)`` each). Image ``i`` has the latent classes
``np.unravel_index(i, LATENT_SIZES)`` (posY varies fastest; flat index = classes . LATENT_BASES), the same
``latents_values`` (float64, shape as 1/2/3) and ``latents_classes`` (int64) arrays as the official file.

Two sources of pixels, the same latents:

* ``"official"``: the official npz, when the data folder holds it at ``<data_dir>/dsprites/`` (the layout of
  disentanglement_lib). Its fields are checked (names, shapes, dtypes, latents equal to the grid, pixels 0/1); its
  pickled ``metadata`` is only checked for presence, never unpickled (a pickle can run code).
* ``"procedural"``: rendered here, deterministically, by sampling each pixel centre against the exact shape
  (binary, no antialiasing, like the official images, which the dSprites author rasterised with Love2D without
  antialiasing). Geometry, in pixels of the 64x64 image (x to the right = columns, y down = rows, as Love2D):
  the shape's area centroid sits at ``(16 + 32 posX, 16 + 32 posY)``, so one position step moves it by 32/31 =
  1.032 px; ``orientation`` turns it clockwise on screen (Love2D's positive angle, y pointing down) about that
  centroid; ``scale`` multiplies its size. At scale 1 the square has side 20.9 px, the ellipse semi-axes 10.45 px
  (horizontal at orientation 0) and 5.225 px, and the heart is 20.9 px wide: a square of side 20.9/(1+sqrt 2) =
  8.66 px turned 45 degrees (one corner pointing down) with a disc of diameter that side centred on each of its two
  upper edges (the classic two-lobe heart, upright at orientation 0). The one thing known about the official
  pixels, their mean over the whole grid (0.042494; :data:`OFFICIAL_MEAN_PIXEL`), fixes the overall size: 20.9 px
  gives 0.0421 (21 px would put the square's edges exactly on pixel centres at the extreme positions, where the
  last bit of a cosine decides the pixel); the relative sizes of the three shapes, the ellipse's aspect ratio, the
  heart's outline, the direction of rotation and the exact position range are this module's choices: the pixels
  approximate the official ones, and results compared with published dSprites numbers must say so (the
  DataSource records ``fallback=True``).

Cache: :func:`open_dsprites` keeps the whole grid's pixels as one bit-packed uint8 array (737,280 x 64 x 8 bytes =
377 MB, ``np.packbits`` along each row) in the cache folder (argument > ``$VAEINFO_CACHE`` > ``~/.cache/vaeinfo``),
written atomically, in chunks of 1,024 images (bounded memory) with a progress bar, and memory-mapped by later
runs. Without the cache the procedural source renders the images asked for on demand.

Factors: the five that vary (shape, scale, orientation, posX, posY; colour is constant), as class indices,
as in disentanglement_lib's ``dsprites_full``: :func:`sample_factors`, :func:`sample_factor_pairs`,
:func:`factors_to_indices`, and :meth:`DSprites.sample_observations_from_factors`.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import sys
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ..checks import check_integer, is_integer
from ..io import CACHE_ENV, atomic_open, display_path, file_lock, progress_bar, resolve_cache_dir
from ..sourcecode import code_of
from . import DataError, DataSource, ImageData, resolve_data_dir

NPZ_NAME = "dsprites_ndarray_co1sh3sc6or40x32y32_64x64.npz"
DSPRITES_DIR = "dsprites"
OFFICIAL_MD5 = "7da33b31b13a06f4b04a70402ce90c2e"  # of the npz at github.com/deepmind/dsprites-dataset@fa310c6
OFFICIAL_MEAN_PIXEL = 0.042494423521889584  # mean of the official imgs over the whole grid
IMAGE_SIZE = 64
LATENT_NAMES = ("color", "shape", "scale", "orientation", "posX", "posY")
LATENT_SIZES = (1, 3, 6, 40, 32, 32)
LATENT_BASES = (737280, 245760, 40960, 1024, 32, 1)  # flat index = sum(class_i * base_i)
N_IMAGES = 737280
FACTOR_NAMES = LATENT_NAMES[1:]  # the five latents that vary: the ground-truth factors of the metrics
FACTOR_SIZES = LATENT_SIZES[1:]
SHAPE_NAMES = ("square", "ellipse", "heart")  # shape values 1, 2, 3 (classes 0, 1, 2)
NPZ_FIELDS = {  # member of the npz: (shape, dtype); "metadata" is a pickled dict, checked for presence only
    "imgs": ((N_IMAGES, IMAGE_SIZE, IMAGE_SIZE), np.dtype(np.uint8)),
    "latents_values": ((N_IMAGES, len(LATENT_NAMES)), np.dtype(np.float64)),
    "latents_classes": ((N_IMAGES, len(LATENT_NAMES)), np.dtype(np.int64)),
}
GET_DSPRITES_HINT = (
    f"download {NPZ_NAME} (26 MB, Apache-2.0) from https://github.com/deepmind/dsprites-dataset into "
    f"<data_dir>/{DSPRITES_DIR}/, or use source='procedural'"
)

# --- procedural geometry, in pixels at scale 1 (see the module docstring) ---
SQUARE_SIDE = 20.9  # not 21: at posX or posY 0 and 1 its edges would fall exactly on pixel centres (ties)
ELLIPSE_SEMI_AXES = (10.45, 5.225)  # along the shape's own x (horizontal at orientation 0) and y
HEART_WIDTH = 20.9
POSITION_RANGE = (16.0, 48.0)  # centroid in pixels at pos 0 and pos 1 (pixel j covers [j, j + 1))
CHUNK = 1024  # images per rendering / packing step
_WINDOW = 36  # side of the square of pixels evaluated around each centroid (holds every shape at scale 1)
_PAD = 4  # margin of the canvas the windows are pasted into (a window may start up to 2 px left of the image)

_announced: set[str] = set()


# ----------------------------------------------------------------------------------------------- the grid
def latents_possible_values() -> dict[str, np.ndarray]:
    """The values of each latent, as in the official metadata: ``{"color": [1.], "shape": [1., 2., 3.], ...}``
    (float64 arrays of LATENT_SIZES lengths)."""
    return {
        "color": np.ones(1),
        "shape": np.arange(1.0, 4.0),
        "scale": np.linspace(0.5, 1.0, 6),
        "orientation": np.linspace(0.0, 2 * np.pi, 40),
        "posX": np.linspace(0.0, 1.0, 32),
        "posY": np.linspace(0.0, 1.0, 32),
    }


def index_to_classes(indices) -> np.ndarray:
    """Latent classes (n, 6) int64 of flat grid indices (n,) (0 <= index < 737,280); a ValueError when out of range."""
    indices = _as_int_array(indices, "indices", ndim=1)
    if indices.size and (indices.min() < 0 or indices.max() >= N_IMAGES):
        raise ValueError(f"dSprites indices must lie in [0, {N_IMAGES}); got {indices.min()}..{indices.max()}")
    return np.stack(np.unravel_index(indices, LATENT_SIZES), axis=1).astype(np.int64)


def classes_to_index(classes) -> np.ndarray:
    """Flat grid indices (n,) int64 of latent classes (n, 6): ``classes @ LATENT_BASES``."""
    classes = _check_classes(classes, LATENT_SIZES, LATENT_NAMES)
    return classes @ np.asarray(LATENT_BASES, dtype=np.int64)


def classes_to_values(classes) -> np.ndarray:
    """Latent values (n, 6) float64 of latent classes (n, 6), as the official ``latents_values``."""
    classes = _check_classes(classes, LATENT_SIZES, LATENT_NAMES)
    grid = latents_possible_values()
    return np.stack([grid[name][classes[:, k]] for k, name in enumerate(LATENT_NAMES)], axis=1)


def grid_latents() -> tuple[np.ndarray, np.ndarray]:
    """The official file's ``(latents_values, latents_classes)``: float64 and int64 arrays (737,280, 6), row i the
    latents of image i (35 MB each)."""
    classes = index_to_classes(np.arange(N_IMAGES))
    return classes_to_values(classes), classes


def factors_to_indices(factors) -> np.ndarray:
    """Flat grid indices (n,) of factor classes (n, 5) in FACTOR_NAMES order (colour, the constant latent, is 0)."""
    factors = _check_classes(factors, FACTOR_SIZES, FACTOR_NAMES)
    return factors @ np.asarray(LATENT_BASES[1:], dtype=np.int64)


def indices_to_factors(indices) -> np.ndarray:
    """Factor classes (n, 5) int64 in FACTOR_NAMES order of flat grid indices (n,)."""
    return index_to_classes(indices)[:, 1:]


def factor_index(factor: int | str) -> int:
    """Column of a factor in FACTOR_NAMES order, from its position (0-4) or its name (``"scale"``)."""
    if isinstance(factor, str):
        if factor not in FACTOR_NAMES:
            raise ValueError(f"unknown dSprites factor {factor!r}; choose one of {FACTOR_NAMES}")
        return FACTOR_NAMES.index(factor)
    if not (is_integer(factor) and 0 <= factor < len(FACTOR_NAMES)):
        raise ValueError(f"a dSprites factor is a name in {FACTOR_NAMES} or a position 0-{len(FACTOR_NAMES) - 1}; "
                         f"got {factor!r}")
    return int(factor)


# ----------------------------------------------------------------------------------------------- sampling
def sample_factors(num: int, rng, *, fixed: dict | None = None) -> np.ndarray:
    """``num`` factor settings drawn uniformly from the grid: int64 (num, 5) classes in FACTOR_NAMES order.

    ``rng`` is a seed or a ``numpy.random.Generator``. ``fixed`` maps factors (name or position) to the class every
    row gets, e.g. ``{"scale": 5}``; the FactorVAE score fixes one factor at a random class this way.
    """
    num = check_integer(num, "num", low=0, meaning="factor settings drawn")
    rng = _generator(rng)
    factors = np.stack([rng.integers(size, size=num) for size in FACTOR_SIZES], axis=1).astype(np.int64)
    for factor, value in (fixed or {}).items():
        k = factor_index(factor)
        if not (is_integer(value) and 0 <= value < FACTOR_SIZES[k]):
            raise ValueError(f"fixed class of {FACTOR_NAMES[k]} must be an integer in [0, {FACTOR_SIZES[k]}); "
                             f"got {value!r}")
        factors[:, k] = value
    return factors


def _generator(rng) -> np.random.Generator:
    """``numpy.random.default_rng(rng)`` of a seed or a Generator; ValueError for None (other draws on every call)."""
    if rng is None:
        raise ValueError("rng must be a seed or a numpy Generator, got None (it would draw other factors on every "
                         "call)")
    return np.random.default_rng(rng)


def sample_factor_pairs(num: int, factor: int | str, rng) -> tuple[np.ndarray, np.ndarray]:
    """Two batches of ``num`` random factor settings that agree, row by row, on ``factor`` and are drawn
    independently otherwise (the BetaVAE score's pairs): int64 (num, 5) each."""
    k = factor_index(factor)
    rng = _generator(rng)
    first, second = sample_factors(num, rng), sample_factors(num, rng)
    second[:, k] = first[:, k]
    return first, second


# ----------------------------------------------------------------------------------------------- rendering
def render(values) -> np.ndarray:
    """Render latent values (n, 6) -- rows (color, shape, scale, orientation, posX, posY) as in ``latents_values``,
    any real orientation, scale in (0, 1], positions in [0, 1] -- as binary uint8 images (n, 64, 64) in {0, 1}.

    Pure and deterministic: pixel (row r, column c) is 1 iff its centre (c + 0.5, r + 0.5) lies in the closed
    shape; see the module docstring for the geometry. Rendered in chunks of CHUNK images.
    """
    values = _check_values(values)
    out = np.empty((len(values), IMAGE_SIZE, IMAGE_SIZE), dtype=np.uint8)
    for start in range(0, len(values), CHUNK):
        out[start : start + CHUNK] = _render_chunk(values[start : start + CHUNK])
    return out


def render_indices(indices) -> np.ndarray:
    """The procedural images (n, 64, 64) uint8 in {0, 1} of flat grid indices (n,)."""
    return render(classes_to_values(index_to_classes(indices)))


def shape_mask(shape: int, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Whether points lie in the closed shape at scale 1 (``shape`` 1 square, 2 ellipse, 3 heart).

    ``u``, ``v``: coordinates in pixels relative to the shape's area centroid, in the shape's own frame (u to the
    right, v down at orientation 0), any equal shapes. Returns a boolean array of that shape.
    """
    if shape == 1:
        return np.maximum(np.abs(u), np.abs(v)) <= SQUARE_SIDE / 2
    if shape == 2:
        a, b = ELLIPSE_SEMI_AXES
        return (u / a) ** 2 + (v / b) ** 2 <= 1.0
    if shape == 3:
        return _heart_mask(u, v)
    raise ValueError(f"shape must be 1 (square), 2 (ellipse) or 3 (heart), got {shape!r}")


def heart_geometry() -> dict[str, float]:
    """The heart at scale 1, in pixels: ``d`` the half-diagonal of its turned square (whose side is d*sqrt 2),
    ``radius`` of its two discs (centred at (+-d/2, d/2) above the square's centre), ``centroid`` the height of the
    area centroid above the square's centre, and ``area``."""
    d = HEART_WIDTH / (1 + math.sqrt(2))
    lobe_area = math.pi * d**2 / 4  # each disc adds the half outside the square: a half-disc of radius d / sqrt 2
    lobe_height = d / 2 + 2 * d / (3 * math.pi)  # its centroid: 4r/(3 pi) beyond the edge, along the 45-degree normal
    area = 2 * d**2 + 2 * lobe_area
    return {"d": d, "radius": d / math.sqrt(2), "centroid": 2 * lobe_area * lobe_height / area, "area": area}


def _heart_mask(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """The heart of :func:`heart_geometry`: a square turned 45 degrees (corner down) and two discs on its upper
    edges; (u, v) relative to the area centroid, v down."""
    geo = heart_geometry()
    d = geo["d"]
    x, y = np.abs(u), geo["centroid"] - v  # y up, from the square's centre; the heart is mirror-symmetric in x
    in_square = x + np.abs(y) <= d
    # the two discs: centre (+-d/2, d/2), radius d/sqrt 2. With x = |u| only the near disc is tested, which is exact:
    # the part of the left disc right of the axis lies in the square (that disc touches the line of the square's
    # upper-right edge only at the top corner, and reaches down to y = -0.21 d), and likewise mirrored.
    in_disc = (x - d / 2) ** 2 + (y - d / 2) ** 2 <= d**2 / 2
    return in_square | in_disc


def _render_chunk(values: np.ndarray) -> np.ndarray:
    """:func:`render` of at most CHUNK rows: each shape evaluated on a _WINDOW-pixel square around its centroid."""
    n = len(values)
    centre = POSITION_RANGE[0] + (POSITION_RANGE[1] - POSITION_RANGE[0]) * values[:, 4:6]  # (n, 2) x, y in px
    first = np.floor(centre).astype(np.int64) - _WINDOW // 2  # first window column, row (>= -2 for pos >= 0)
    offsets = first[:, :, None] + (np.arange(_WINDOW) + 0.5) - centre[:, :, None]  # (n, 2, W) pixel centres - centroid
    dx, dy = offsets[:, 0, None, :], offsets[:, 1, :, None]  # (n, 1, W) along columns, (n, W, 1) along rows
    cos, sin = np.cos(values[:, 3])[:, None, None], np.sin(values[:, 3])[:, None, None]
    scale = values[:, 2][:, None, None]
    # the shape is turned by +orientation clockwise on screen: its own frame is the pixel offset turned back
    u, v = (cos * dx + sin * dy) / scale, (cos * dy - sin * dx) / scale
    window = np.zeros((n, _WINDOW, _WINDOW), dtype=np.uint8)
    for shape in np.unique(values[:, 1]).astype(int):
        rows = values[:, 1] == shape
        window[rows] = shape_mask(shape, u[rows], v[rows])
    canvas = np.zeros((n, IMAGE_SIZE + 2 * _PAD, IMAGE_SIZE + 2 * _PAD), dtype=np.uint8)
    span = np.arange(_WINDOW)
    canvas[np.arange(n)[:, None, None], (first[:, 1, None, None] + _PAD + span[:, None]),
           (first[:, 0, None, None] + _PAD + span[None, :])] = window
    return canvas[:, _PAD : _PAD + IMAGE_SIZE, _PAD : _PAD + IMAGE_SIZE]


# the functions that decide the procedural pixels of a grid index: their code is part of the pixel cache's key
_RENDERER = (render_indices, index_to_classes, classes_to_values, render, shape_mask, heart_geometry, _heart_mask,
             _render_chunk)


# ----------------------------------------------------------------------------------------------- the source
@dataclass(frozen=True, eq=False)
class DSprites:
    """The dSprites grid with its pixels: a packed memory map (cache or official file) or the renderer on demand.

    Attributes
    ----------
    kind : ``"official"`` or ``"procedural"``.
    npz : the official file, or None.
    packed : bit-packed pixels uint8 (737,280, 64, 8) (``np.packbits`` along rows), memory-mapped; None to render
        each request (procedural only).

    Also usable where disentanglement_lib expects ``ground_truth_data`` (num_factors, factors_num_values,
    sample_factors, sample_observations_from_factors), with torch's image layout (n, 1, 64, 64).
    """

    kind: str
    npz: Path | None = None
    packed: np.ndarray | None = None

    @property
    def num_factors(self) -> int:
        """5: shape, scale, orientation, posX, posY."""
        return len(FACTOR_NAMES)

    @property
    def factors_num_values(self) -> list[int]:
        """Classes per factor: [3, 6, 40, 32, 32]."""
        return list(FACTOR_SIZES)

    def images(self, indices) -> np.ndarray:
        """Binary images (n, 64, 64) uint8 in {0, 1} of flat grid indices (n,), in the order given."""
        indices = _as_int_array(indices, "indices", ndim=1)
        if self.packed is None:
            return render_indices(indices)
        index_to_classes(indices)  # range check
        order = np.argsort(indices, kind="stable")  # read the memory map in file order
        out = np.empty((len(indices), IMAGE_SIZE, IMAGE_SIZE), dtype=np.uint8)
        out[order] = np.unpackbits(self.packed[indices[order]], axis=-1)
        return out

    def observations(self, factors) -> np.ndarray:
        """float32 images (n, 1, 64, 64) in {0, 1} of factor classes (n, 5) in FACTOR_NAMES order."""
        return self.images(factors_to_indices(factors))[:, None].astype(np.float32)

    def sample_factors(self, num: int, random_state) -> np.ndarray:
        """disentanglement_lib's name for :func:`sample_factors` (``random_state``: a seed or Generator)."""
        return sample_factors(num, random_state)

    def sample_observations_from_factors(self, factors, random_state=None) -> np.ndarray:
        """disentanglement_lib's name for :meth:`observations` (dSprites needs no randomness here)."""
        return self.observations(factors)

    def source(self, n: int) -> DataSource:
        """The DataSource of ``n`` of these images; the procedural pixels are flagged ``fallback=True``."""
        if self.kind == "official":
            return DataSource("dSprites", display_path(self.npz.parent.parent), n, "train", (1, IMAGE_SIZE, IMAGE_SIZE))
        return DataSource("dSprites-procedural", "procedural", n, "train", (1, IMAGE_SIZE, IMAGE_SIZE), True)


@dataclass(frozen=True)
class DSpritesData(ImageData):
    """Images of the dSprites grid with their factors.

    Attributes
    ----------
    images : float32 tensor (n, 1, 64, 64) in {0, 1}; or uint8 pixels 0/255 when asked for (``uint8=True``: a
        quarter of the memory; :func:`vaeinfo.training.train.train` divides uint8 by 255 batch by batch).
    labels : int64 tensor (n, 5), the factor classes in FACTOR_NAMES order (shape, scale, orientation, posX, posY).
    source : the DataSource record: ``"dSprites"`` with the data folder as path, or ``"dSprites-procedural"``
        (path ``"procedural"``) with ``fallback=True``.
    indices : int64 array (n,), the flat grid indices of the images.
    values : float64 array (n, 6), their latent values as in ``latents_values``.
    """

    indices: np.ndarray
    values: np.ndarray

    @property
    def factor_names(self) -> tuple[str, ...]:
        """Names of the label columns."""
        return FACTOR_NAMES


def open_dsprites(data_dir: str | os.PathLike | None = None, *, source: str = "auto", cache: bool = True,
                  cache_dir: str | os.PathLike | None = None, progress: bool = True) -> DSprites:
    """The dSprites grid's pixels.

    Parameters
    ----------
    data_dir : folder that may hold ``dsprites/`` + NPZ_NAME; see :func:`vaeinfo.data.resolve_data_dir`.
    source : ``"official"`` (the npz; a DataError when absent), ``"procedural"``, or ``"auto"``: the npz when it is
        there, else the renderer, said once on stderr.
    cache : keep the whole grid packed in the cache folder (built on the first call: procedural about a minute on
        one CPU core, official the time to inflate and check 3 GB). False: the procedural images are rendered on
        each request (no disk, no start-up cost); the official file always goes through the cache.
    cache_dir : see :func:`vaeinfo.io.resolve_cache_dir`.
    progress : show a progress bar while building the cache.

    Raises
    ------
    DataError
        ``source="official"`` without the npz; a wrong or corrupt npz (the message names the field); an unwritable
        cache folder.
    ValueError
        An unknown ``source``.
    """
    if source not in ("auto", "official", "procedural"):
        raise ValueError(f"source must be 'auto', 'official' or 'procedural', got {source!r}")
    npz = None
    if source != "procedural":
        root = resolve_data_dir(data_dir)
        candidate = root.path / DSPRITES_DIR / NPZ_NAME
        if candidate.is_file():
            npz = candidate
        elif source == "official":
            raise DataError(f"the official dSprites file {candidate} does not exist (data folder {root.describe()}). "
                            f"Fix: {GET_DSPRITES_HINT}.")
        else:
            _announce_procedural(candidate)
    if npz is not None:
        return DSprites("official", npz, _official_pixels(npz, resolve_cache_dir(cache_dir), progress))
    if not cache:
        return DSprites("procedural")
    return DSprites("procedural", None, _procedural_pixels(resolve_cache_dir(cache_dir), progress))


def load_dsprites(n: int | None = None, data_dir: str | os.PathLike | None = None, *, seed: int = 0,
                  source: str = "auto", cache: bool | None = None, cache_dir: str | os.PathLike | None = None,
                  uint8: bool = False, progress: bool = True) -> DSpritesData:
    """Images of the grid for training: all 737,280 in grid order (``n=None``), or ``n`` distinct ones drawn with
    ``numpy.random.default_rng(seed)`` (the same ``n`` and seed give the same images, official or procedural).

    ``cache=None`` builds the packed cache only for the whole grid (or reuses one that exists) and renders a
    subsample on demand; True/False force it. ``uint8=True`` returns pixels 0/255 as uint8 (the whole grid: 3 GB
    instead of 12 GB as float32). Other parameters as :func:`open_dsprites`.

    Returns
    -------
    DSpritesData with images (n, 1, 64, 64) and labels (n, 5), the factor classes.

    Raises
    ------
    ValueError
        ``n`` not in 1..737,280, or a bad ``source``. DataError: as :func:`open_dsprites`.
    """
    if n is not None and not (is_integer(n) and 1 <= n <= N_IMAGES):
        raise ValueError(f"n must be a number of images in 1..{N_IMAGES} or None (the whole grid), got {n!r}")
    check_integer(seed, "seed", low=0, meaning="of the subsample")  # None would draw other images on every call
    if cache not in (None, True, False):
        raise ValueError(f"cache must be True, False or None (only for the whole grid), got {cache!r}")
    if not isinstance(uint8, (bool, np.bool_)):  # "false" (a string from a config) was true
        raise ValueError(f"uint8 must be True or False, got {uint8!r}")
    if cache is None:
        cache = n is None or _procedural_cache_path(resolve_cache_dir(cache_dir)).is_file()
    data = open_dsprites(data_dir, source=source, cache=cache, cache_dir=cache_dir, progress=progress)
    indices = np.arange(N_IMAGES) if n is None else np.random.default_rng(seed).choice(N_IMAGES, n, replace=False)
    pixels = torch.from_numpy(data.images(indices)[:, None])
    images = pixels.mul_(255) if uint8 else pixels.to(torch.float32)
    return DSpritesData(images, torch.from_numpy(indices_to_factors(indices)), data.source(len(indices)),
                        indices.astype(np.int64), classes_to_values(index_to_classes(indices)))


def source_kind(source: DataSource) -> str:
    """The ``source=`` of :func:`load_dsprites` that reads the images ``source`` describes (what a process found
    with ``"auto"``): ``"procedural"`` for the renderer's (flagged ``fallback``), else ``"official"``."""
    return "procedural" if source.fallback else "official"


def check_dsprites(data_dir: str | os.PathLike | None = None) -> bool:
    """Whether the data folder holds the official npz: False when ``dsprites/`` + NPZ_NAME is absent, True when its
    fields pass :func:`check_official_npz` (a DataError naming the problem otherwise). The pixels are checked when
    the file is first opened (:func:`open_dsprites`)."""
    path = resolve_data_dir(data_dir).path / DSPRITES_DIR / NPZ_NAME
    if not path.is_file():
        return False
    check_official_npz(path)
    return True


# ----------------------------------------------------------------------------------------------- the official npz
_DAMAGED_ZIP = (zipfile.BadZipFile, zlib.error, EOFError)  # what reading a damaged member of a zip raises


def check_official_npz(path: str | os.PathLike) -> None:
    """Check an official dSprites npz without reading its pixels: a zip holding ``imgs``, ``latents_values``,
    ``latents_classes`` and ``metadata``, of the shapes and dtypes in NPZ_FIELDS, whose latents equal the grid
    (classes exactly, values to 1e-6).

    Raises
    ------
    DataError
        Naming the file, the first wrong field and the fix.
    """
    path = Path(path)
    fix = f"Fix: replace {path} with the official file ({GET_DSPRITES_HINT})."
    try:
        with zipfile.ZipFile(path) as zf:
            members = set(zf.namelist())
            missing = [name for name in [*NPZ_FIELDS, "metadata"] if f"{name}.npy" not in members]
            if missing:
                raise DataError(f"{path} lacks the field(s) {missing} of the official dSprites file "
                                f"(it holds {sorted(m.removesuffix('.npy') for m in members)}). {fix}")
            for name, (shape, dtype) in NPZ_FIELDS.items():
                with zf.open(f"{name}.npy") as fh:
                    _check_npy_header(fh, f"{path}:{name}", shape, dtype, fix)
    except (*_DAMAGED_ZIP, OSError) as exc:
        raise DataError(f"{path} is not a readable npz file ({type(exc).__name__}: {exc}). {fix}") from None
    try:
        with np.load(path, allow_pickle=False) as npz:
            values, classes = npz["latents_values"], npz["latents_classes"]
    except (*_DAMAGED_ZIP, OSError, ValueError) as exc:
        raise DataError(f"{path}: its latents are corrupt ({type(exc).__name__}: {exc}). {fix}") from None
    _check_latents(values, classes, path, fix)


def _check_latents(values: np.ndarray, classes: np.ndarray, path: Path, fix: str) -> None:
    """The npz's latents must be the grid's: classes equal, values within 1e-6; else a DataError naming a row."""
    grid_values, grid_classes = grid_latents()
    bad = np.flatnonzero(np.any(classes != grid_classes, axis=1))
    if bad.size:
        i = bad[0]
        raise DataError(f"{path}: latents_classes row {i} is {classes[i].tolist()}, expected "
                        f"{grid_classes[i].tolist()} ({bad.size} rows differ): not the dSprites grid in order. {fix}")
    error = np.abs(values - grid_values)
    if not np.all(error <= 1e-6):
        i = int(np.nanargmax(np.where(np.isnan(error), np.inf, error).max(axis=1)))
        raise DataError(f"{path}: latents_values row {i} is {values[i].tolist()}, expected "
                        f"{np.round(grid_values[i], 6).tolist()}: not the dSprites grid. {fix}")


def _check_npy_header(fh, name: str, shape: tuple, dtype: np.dtype, fix: str) -> None:
    """Read an .npy header from ``fh`` (left just after it) and check shape, dtype and C order."""
    readers = {(1, 0): np.lib.format.read_array_header_1_0, (2, 0): np.lib.format.read_array_header_2_0}
    try:
        version = np.lib.format.read_magic(fh)
        if version not in readers:
            raise ValueError(f"unsupported .npy format version {version}")
        found_shape, fortran, found_dtype = readers[version](fh)
    except ValueError as exc:
        raise DataError(f"{name} is not a valid .npy array ({exc}). {fix}") from None
    if tuple(found_shape) != shape or found_dtype != dtype or fortran:
        raise DataError(f"{name} has shape {tuple(found_shape)} and dtype {found_dtype}"
                        f"{' (Fortran order)' if fortran else ''}, expected {shape} and {dtype}. {fix}")


def pack_npy_images(fh, n: int, out, *, name: str, fix: str, progress: bool = True) -> None:
    """Stream ``n`` binary 64x64 uint8 images from a file object ``fh`` positioned after an .npy header, and write
    them bit-packed (``np.packbits`` along rows: 512 bytes an image) to the binary file ``out``, CHUNK at a time.

    Raises
    ------
    DataError
        Fewer bytes than ``n`` images (truncated), or a pixel other than 0 or 1 (the first such image is named).
    """
    size = IMAGE_SIZE * IMAGE_SIZE
    with progress_bar(total=n, desc="checking and packing dSprites", unit="img", enabled=progress) as bar:
        for start in range(0, n, CHUNK):
            count = min(CHUNK, n - start)
            raw = fh.read(count * size)
            if len(raw) != count * size:
                raise DataError(f"{name} is truncated: image {start + len(raw) // size} of {n} is incomplete. {fix}")
            block = np.frombuffer(raw, dtype=np.uint8).reshape(count, IMAGE_SIZE, IMAGE_SIZE)
            if block.max(initial=0) > 1:
                bad = start + int(np.flatnonzero(block.reshape(count, -1).max(axis=1) > 1)[0])
                raise DataError(f"{name}: image {bad} has pixel values other than 0 and 1 (max "
                                f"{int(block[bad - start].max())}): not the binary dSprites images. {fix}")
            out.write(np.packbits(block, axis=-1).tobytes())
            bar.update(count)


def _official_pixels(npz: Path, cache_root: Path, progress: bool) -> np.ndarray:
    """The npz's pixels packed in the cache (checked and converted on the first call), memory-mapped."""
    stat = npz.stat()
    folder = hashlib.sha256(str(npz.resolve()).encode()).hexdigest()[:12]
    version = hashlib.sha256(json.dumps([stat.st_size, stat.st_mtime_ns]).encode()).hexdigest()[:16]
    path = cache_root / f"dsprites-official-{folder}-{version}.npy"

    def build() -> None:
        check_official_npz(npz)
        _note_md5(npz)
        fix = f"Fix: replace {npz} with the official file ({GET_DSPRITES_HINT})."
        try:
            with zipfile.ZipFile(npz) as zf, zf.open("imgs.npy") as fh:
                _check_npy_header(fh, f"{npz}:imgs", *NPZ_FIELDS["imgs"], fix)
                _write_packed(path, lambda out: pack_npy_images(fh, N_IMAGES, out, name=f"{npz}:imgs", fix=fix,
                                                                progress=progress))
        except _DAMAGED_ZIP as exc:
            raise DataError(f"{npz}: imgs is corrupt ({type(exc).__name__}: {exc}). {fix}") from None
        _remove_stale(path, f"dsprites-official-{folder}-")

    return _cached_or_built(path, build)


def _note_md5(npz: Path) -> None:
    """Say on stderr when the npz is not byte for byte the published file (its fields may still be right)."""
    digest = hashlib.md5(npz.read_bytes()).hexdigest()
    if digest != OFFICIAL_MD5:
        print(f"vaeinfo: note: {display_path(npz)} has md5 {digest}, not the published file's {OFFICIAL_MD5}; its "
              f"fields match the dSprites grid, so it is used.", file=sys.stderr, flush=True)


# ----------------------------------------------------------------------------------------------- the cache
def _procedural_cache_path(cache_root: Path) -> Path:
    """``<cache>/dsprites-procedural-<fingerprint of the renderer's geometry, latent values and code>.npy``: a change
    of the renderer's functions' code (:data:`_RENDERER`; not of their comments or docstrings: a re-render takes
    about a minute) or of numpy's version makes a new cache instead of serving the old pixels."""
    geometry = {"square": SQUARE_SIDE, "ellipse": ELLIPSE_SEMI_AXES, "heart": HEART_WIDTH,
                "position": POSITION_RANGE, "size": IMAGE_SIZE, "window": _WINDOW, "pad": _PAD, "numpy": np.__version__,
                "values": {k: v.tolist() for k, v in latents_possible_values().items()},
                "code": hashlib.sha256("".join(_renderer_code(f) for f in _RENDERER).encode()).hexdigest()}
    key = hashlib.sha256(json.dumps(geometry, sort_keys=True).encode()).hexdigest()[:16]
    return cache_root / f"dsprites-procedural-{key}.npy"


def _renderer_code(function) -> str:
    """The code of one renderer function (:func:`vaeinfo.sourcecode.code_of`); DataError where it has no source."""
    code = code_of(function)
    if code is None:
        raise DataError(f"the dSprites renderer's {function.__qualname__} has no source file to fingerprint the pixel "
                        "cache with (an install without .py files?). Fix: install vaeinfo with its sources, or use "
                        "the official npz (source='official')")
    return code


def _procedural_pixels(cache_root: Path, progress: bool) -> np.ndarray:
    """The whole grid rendered and packed into the cache (on the first call; older renderers' caches removed)."""
    path = _procedural_cache_path(cache_root)

    def write(out) -> None:
        with progress_bar(total=N_IMAGES, desc="rendering dSprites", unit="img", enabled=progress) as bar:
            for start in range(0, N_IMAGES, CHUNK):
                out.write(np.packbits(render_indices(np.arange(start, start + CHUNK)), axis=-1).tobytes())
                bar.update(CHUNK)

    def build() -> None:
        _write_packed(path, write)
        _remove_stale(path, "dsprites-procedural-")

    return _cached_or_built(path, build)


def _cached_or_built(path: Path, build: Callable[[], None]) -> np.ndarray:
    """The packed pixels at ``path``, written by ``build()`` first where absent. One process builds while the others
    (a sweep's workers on their first dSprites load) wait for it under ``<cache>/locks/`` and then read its file."""
    cached = _read_packed(path)
    if cached is not None:
        return cached
    with file_lock(path.parent / "locks" / f"{path.stem}.lock",
                   waiting=f"vaeinfo: waiting for another process writing {display_path(path)}"):
        cached = _read_packed(path)
        if cached is None:
            build()
            cached = _read_packed(path)
    return cached


def _remove_stale(path: Path, prefix: str) -> None:
    """Delete the caches beside ``path`` whose names start with ``prefix`` (older renderers or file versions), and
    their lock files."""
    for stale in [*path.parent.glob(f"{prefix}*.npy"), *(path.parent / "locks").glob(f"{prefix}*.lock")]:
        if stale.stem != path.stem:
            stale.unlink(missing_ok=True)


def _write_packed(path: Path, fill) -> None:
    """Write an .npy of shape (N_IMAGES, 64, 8) uint8 atomically: its header, then ``fill(file)`` writes the rows."""
    header = {"descr": "|u1", "fortran_order": False, "shape": (N_IMAGES, IMAGE_SIZE, IMAGE_SIZE // 8)}
    try:
        with atomic_open(path, "wb") as fh:
            np.lib.format.write_array_header_1_0(fh, header)
            fill(fh)
    except OSError as exc:
        raise DataError(f"cannot write the dSprites cache {path} ({exc}). "
                        f"Fix: pass cache_dir= or set ${CACHE_ENV} to a writable folder with 400 MB free.") from None


def _read_packed(path: Path) -> np.ndarray | None:
    """The memory-mapped packed pixels, or None when absent, unreadable or of the wrong shape or dtype."""
    try:
        packed = np.load(path, mmap_mode="r")
    except (OSError, ValueError):
        return None
    expected = (N_IMAGES, IMAGE_SIZE, IMAGE_SIZE // 8)
    return packed if packed.shape == expected and packed.dtype == np.uint8 else None


# ----------------------------------------------------------------------------------------------- checks
def _as_int_array(x, name: str, *, ndim: int) -> np.ndarray:
    """``x`` as an int64 array of ``ndim`` dimensions; a ValueError naming ``name`` otherwise."""
    arr = np.asarray(x)
    if arr.ndim != ndim or not (np.issubdtype(arr.dtype, np.integer) or arr.size == 0):
        raise ValueError(f"{name} must be a {ndim}-D integer array, got dtype {arr.dtype} and shape {arr.shape}")
    return arr.astype(np.int64, copy=False)


def _check_classes(classes, sizes: tuple, names: tuple) -> np.ndarray:
    """Class indices (n, len(sizes)) int64, each column k in [0, sizes[k]); a ValueError naming the column."""
    classes = _as_int_array(classes, "classes", ndim=2)
    if classes.shape[1] != len(sizes):
        raise ValueError(f"classes must have {len(sizes)} columns {names}, got shape {classes.shape}")
    for k, (size, name) in enumerate(zip(sizes, names)):
        if classes.size and (classes[:, k].min() < 0 or classes[:, k].max() >= size):
            raise ValueError(f"class of {name} (column {k}) must lie in [0, {size}), "
                             f"got {classes[:, k].min()}..{classes[:, k].max()}")
    return classes


def _check_values(values) -> np.ndarray:
    """Latent values (n, 6) float64 that the renderer can draw; a ValueError naming the column otherwise."""
    values = np.asarray(values, dtype=np.float64)
    if values.ndim != 2 or values.shape[1] != len(LATENT_NAMES):
        raise ValueError(f"latent values must have shape (n, 6), columns {LATENT_NAMES}; got {values.shape}")
    if not np.all(np.isfinite(values)):
        raise ValueError("latent values must be finite (no NaN or inf)")
    checks = ((0, values[:, 0] == 1, "color must be 1 (white)"),
              (1, np.isin(values[:, 1], (1, 2, 3)), "shape must be 1 (square), 2 (ellipse) or 3 (heart)"),
              (2, (values[:, 2] > 0) & (values[:, 2] <= 1), "scale must lie in (0, 1]"),
              (4, (values[:, 4] >= 0) & (values[:, 4] <= 1), "posX must lie in [0, 1]"),
              (5, (values[:, 5] >= 0) & (values[:, 5] <= 1), "posY must lie in [0, 1]"))
    for column, ok, message in checks:
        if not np.all(ok):
            row = int(np.flatnonzero(~ok)[0])
            raise ValueError(f"{message}; row {row} has {LATENT_NAMES[column]} = {values[row, column]}")
    return values


def _announce_procedural(missing: Path) -> None:
    """Say once per process and path, on stderr, that the grid is rendered because the npz is absent."""
    if str(missing) in _announced:
        return
    _announced.add(str(missing))
    print(f"vaeinfo: note: no official dSprites file at {display_path(missing)}; rendering the grid procedurally "
          f"(exact latents, approximate pixels: see vaeinfo.data.dsprites). To use the official one: "
          f"{GET_DSPRITES_HINT}.", file=sys.stderr, flush=True)
