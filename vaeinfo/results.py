"""Results files: the numbers behind each figure, with their provenance.

Every notebook writes ``<out_dir>/results/<NN>_<name>.json`` through :func:`save_results`; it records
the profile, seed, data sources and package versions beside the numbers, and a one-line ``summary``
that ``reproduce.sh`` prints in its closing table.
"""

from __future__ import annotations

import platform
from pathlib import Path
from typing import Any, Iterable

from . import __version__
from .data import DataSource
from .io import atomic_write_json


def versions() -> dict[str, str]:
    """Versions of Python, vaeinfo and the numeric packages the results depend on."""
    import numpy
    import torch

    return {"python": platform.python_version(), "vaeinfo": __version__, "numpy": numpy.__version__,
            "torch": torch.__version__}


def save_results(
    name: str,
    numbers: dict[str, Any],
    *,
    out_dir: str | Path,
    profile: str,
    seed: int,
    sources: Iterable[DataSource],
    summary: str,
) -> Path:
    """Write ``<out_dir>/results/<name>.json`` atomically and return its path.

    Parameters
    ----------
    name : notebook stem, e.g. ``"01_mi_pulse"``.
    numbers : JSON-able numbers behind the figure (numpy arrays are converted to lists).
    out_dir : the run's output folder (``figures/`` for the quick profile).
    profile, seed : the run's parameters.
    sources : the DataSource records of the data used.
    summary : one line with the key number, shown in reproduce.sh's summary table.
    """
    record = {"name": name, "summary": summary, "profile": profile, "seed": seed,
              "data": [s.to_dict() for s in sources], "versions": versions(), "results": numbers}
    return atomic_write_json(Path(out_dir) / "results" / f"{name}.json", record)
