"""What a data folder holds, checked once before a run of the notebooks.

:func:`take_inventory` validates every data set that is present (a truncated MNIST file, a CelebA folder whose
annotation files disagree, a named DEAP folder without subject files: each is a DataError naming the problem and
the fix) and records which optional ones are absent, so that ``./reproduce.sh`` can stop before the first notebook
on bad data, and skip, saying why, the notebooks whose optional data set is absent.

Absent MNIST is not an error (the notebooks fall back to scikit-learn's 8x8 digits); absent CelebA makes notebook
05 skip; absent dSprites (the official npz) is not an error either (notebooks 09 and 10 render the grid); DEAP is
checked only when a folder is configured (``deap_dir`` or ``$VAEINFO_DEAP``), otherwise notebook 06
uses synthetic files.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from . import DataRoot, resolve_data_dir
from .celeba import GET_CELEBA_HINT, check_celeba
from .deap.folder import available_subjects
from .deap.format import ENV_VAR as DEAP_ENV_VAR
from .deap.format import deap_configured, deap_source
from .dsprites import GET_DSPRITES_HINT, check_dsprites
from .mnist import GET_MNIST_HINT, check_mnist, load_mnist

HINTS = {"MNIST": GET_MNIST_HINT, "CelebA": GET_CELEBA_HINT, "dSprites": GET_DSPRITES_HINT,
         "DEAP": f"set {DEAP_ENV_VAR} (or the deap_dir parameter) to your copy of DEAP"}


@dataclass(frozen=True)
class Inventory:
    """The data folder of a run and, per data set name (``MNIST``, ``CelebA``, ``dSprites``, ``DEAP``), whether it is
    present.

    A data set in ``present`` passed its loader's checks; DEAP is listed only when a folder was configured.
    """

    root: DataRoot
    present: dict[str, bool]

    def missing(self, names: list[str]) -> list[str]:
        """The data sets of ``names`` that are absent (an unknown name counts as absent)."""
        return [name for name in names if not self.present.get(name, False)]

    def reason(self, name: str) -> str:
        """Why a data set is absent and how to get it, e.g. ``"no CelebA in /data (download ...)"``."""
        where = self.root.path if name != "DEAP" else f"${DEAP_ENV_VAR} or deap_dir"
        return f"no {name} in {where} ({HINTS.get(name, 'see the README')})"


def take_inventory(data_dir: str | os.PathLike | None = None, deap_dir: str | os.PathLike | None = None, *,
                   download: bool = False) -> Inventory:
    """Resolve the data folder and validate every data set in it (and DEAP when a folder is configured).

    ``download=True`` first fetches MNIST's missing files (torchvision, md5-checked). The default ``./data`` may be
    missing: then no data set is present (``download=True`` creates it first).

    Raises
    ------
    DataError
        The folder does not exist, or a data set in it is incomplete or corrupt, or a configured DEAP folder
        is missing or holds no subject files.
    """
    root = resolve_data_dir(data_dir)
    if download:
        root.path.mkdir(parents=True, exist_ok=True)  # only the default can be missing here
        load_mnist("test", root.path, download=True)
    if root.path.is_dir():
        present = {"MNIST": check_mnist(root.path), "CelebA": check_celeba(root.path),
                   "dSprites": check_dsprites(root.path)}
    else:  # the default ./data, absent: nothing is there
        present = {"MNIST": False, "CelebA": False, "dSprites": False}
    if deap_configured(deap_dir):
        present["DEAP"] = bool(available_subjects(deap_source(deap_dir)))
    return Inventory(root, present)
