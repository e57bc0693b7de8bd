"""Data specs: a small, picklable description of a data set (which one, which split, where, how many) that loads
itself where it is used.

A sweep (:mod:`vaeinfo.training.sweep`) sends each worker a :class:`DataSpec`, never the arrays: the worker calls
``spec.load()`` and reads the data from its own disk (memory-mapped where the loader does so), so a run on another
machine needs the same data folder there, not a copy through the scheduler.

Adding a data set: write its loader in its own module (as ``vaeinfo/data/dsprites.py``), then add one adapter
function ``_name(spec) -> ImageData`` below and one entry to :data:`LOADERS`, naming the loader options a spec may
carry -- the single place a data set registers (see ``_dsprites`` and its entry).

Workers import this module afresh, so an entry added at run time (``LOADERS["x"] = ...`` in a notebook) would not
reach them; it must be in this file.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np

from . import ImageData, check_count
from .dsprites import load_dsprites
from .mnist import load_digits, load_mnist


@dataclass(frozen=True)
class DataSpec:
    """Which data to load, small enough to send to a worker; :meth:`load` reads it.

    Attributes
    ----------
    dataset : a name in :data:`LOADERS`: ``"mnist"`` (the paper's split, :func:`vaeinfo.data.mnist.load_mnist`) or
        ``"digits"`` (scikit-learn's 8x8 digits, :func:`vaeinfo.data.mnist.load_digits`) or ``"dsprites"``
        (:func:`vaeinfo.data.dsprites.load_dsprites`; options ``seed``, ``source``, ``uint8``, ``cache_dir``).
    split : ``"train"``, ``"validation"`` or ``"test"`` (checked by the loader).
    data_dir : the data folder, made absolute here; None: the loading process resolves it by the usual rules
        (``$VAEINFO_DATA``, else ``./data``, :func:`vaeinfo.data.resolve_data_dir`) -- on a cluster, each worker
        with its own environment.
    n : keep the first ``n`` examples of the split (a deterministic subset), or all when None; for ``"dsprites"``
        ``n`` distinct images of the grid drawn with the ``seed`` option (default 0), as ``load_dsprites`` draws.
    allow_fallback : ``"mnist"`` only: load the 8x8 digits when MNIST is absent (announced on stderr), as the
        notebooks do.
    options : further keyword arguments of the data set's loader, among those its :data:`LOADERS` entry names
        (none for ``"mnist"`` and ``"digits"``); a mapping, kept as sorted ``(name, value)`` pairs so that the
        spec stays hashable (a ``cache_dir`` is made absolute, as ``data_dir``). :attr:`kwargs` gives them back
        as a dict.
    """

    dataset: str
    split: str = "train"
    data_dir: str | None = None
    n: int | None = None
    allow_fallback: bool = False
    options: Mapping | tuple = ()

    def __post_init__(self) -> None:
        if self.dataset not in LOADERS:
            raise ValueError(f"unknown data set {self.dataset!r} in DataSpec; known: {sorted(LOADERS)} "
                             f"(a new one registers in LOADERS of {__name__})")
        if not isinstance(self.split, str):
            raise ValueError(f"DataSpec split must be a string such as 'train', got {self.split!r}")
        check_count(self.n, "DataSpec n")
        if self.n is not None:
            object.__setattr__(self, "n", int(self.n))  # a numpy integer (e.g. from a parameter grid) as a plain int
        if not isinstance(self.allow_fallback, (bool, np.bool_)):
            raise ValueError(f"DataSpec allow_fallback must be True or False, got {self.allow_fallback!r}")
        if self.allow_fallback and self.dataset != "mnist":
            raise ValueError(f"allow_fallback applies to 'mnist' only (the digits stand in for it), "
                             f"not to {self.dataset!r}")
        try:
            options = tuple(sorted((name, _absolute(value) if name in PATH_OPTIONS else value)
                                   for name, value in dict(self.options).items()))
        except (TypeError, ValueError):
            raise ValueError(f"DataSpec options must be a mapping of loader keyword arguments, got "
                             f"{self.options!r}") from None
        unknown = sorted(set(dict(options)) - set(LOADERS[self.dataset].options))
        if unknown:
            raise ValueError(f"DataSpec options {unknown} are not options of the {self.dataset!r} loader; it takes "
                             f"{list(LOADERS[self.dataset].options) or 'none'}")
        try:
            hash(options)
        except TypeError:
            raise ValueError(f"DataSpec option values must be plain values (str, number, bool, None), got "
                             f"{dict(options)!r}") from None
        object.__setattr__(self, "options", options)
        if self.data_dir is not None:
            if str(self.data_dir) == "":
                raise ValueError("DataSpec data_dir must be a folder or None (resolved where the data is loaded)")
            object.__setattr__(self, "data_dir", _absolute(self.data_dir))

    def load(self) -> ImageData:
        """The images (with labels and their :class:`~vaeinfo.data.DataSource`), read by the registered loader.

        Raises whatever the loader raises: :class:`~vaeinfo.data.DataError` for missing or corrupt data,
        ValueError for a bad split.
        """
        return LOADERS[self.dataset].load(self)

    @property
    def kwargs(self) -> dict:
        """The loader options as a dict."""
        return dict(self.options)


PATH_OPTIONS = ("cache_dir",)  # loader options that are folders: made absolute, as data_dir, for other processes


def _absolute(path):
    """A folder (``data_dir``, a folder option) as an absolute path string (None stays None): a worker runs in another
    working folder."""
    return None if path is None else os.path.abspath(os.path.expanduser(os.fspath(path)))


def mnist_spec(split: str, data_dir=None, n: int | None = None, *, fallback: bool) -> DataSpec:
    """The spec of MNIST's ``split`` as the calling process found it: ``"digits"`` when MNIST was absent there and
    the 8x8 digits stood in (``fallback``, i.e. ``data.source.fallback`` of what it loaded), else ``"mnist"`` read
    from ``data_dir`` (None: each worker's own ``$VAEINFO_DATA``).

    The driver decides the fallback once, so that every worker trains on the data the driver measures with: a
    worker that finds no MNIST fails with the loader's error instead of silently training on digits."""
    if fallback:
        return DataSpec("digits", split, None, n)
    return DataSpec("mnist", split, None if data_dir is None else os.fspath(data_dir), n)


@dataclass(frozen=True)
class Loader:
    """A registered data set: ``load(spec) -> ImageData``, and the names of the options a spec may pass it."""

    load: Callable[[DataSpec], ImageData]
    options: tuple[str, ...] = ()


def _mnist(spec: DataSpec) -> ImageData:
    """MNIST with the paper's split (train = official train[10000:], validation = train[:10000]), float32 [0, 1]."""
    return load_mnist(spec.split, spec.data_dir, n=spec.n, allow_fallback=spec.allow_fallback)


def _digits(spec: DataSpec) -> ImageData:
    """scikit-learn's 8x8 digits, split like MNIST (1,197 / 300 / 300); they ship with scikit-learn, no folder."""
    return load_digits(spec.split, n=spec.n)


def _dsprites(spec: DataSpec) -> ImageData:
    """dSprites (:func:`vaeinfo.data.dsprites.load_dsprites`): the official npz in the data folder, else rendered;
    ``n`` distinct images drawn with the ``seed`` option (default 0). It has one split, ``"train"``."""
    if spec.split != "train":
        raise ValueError(f"dSprites has one split, 'train' (metrics sample the whole grid), got {spec.split!r}")
    return load_dsprites(spec.n, spec.data_dir, progress=False, **spec.kwargs)


# The single place a data set registers: name -> its adapter from a DataSpec to ImageData and the options it takes
# (module docstring).
LOADERS: dict[str, Loader] = {
    "mnist": Loader(_mnist),
    "digits": Loader(_digits),
    "dsprites": Loader(_dsprites, options=("seed", "source", "uint8", "cache_dir")),
}
