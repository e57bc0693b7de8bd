"""The package layout: imports point one way, every module imports on its own, ``import vaeinfo`` is light.

Levels (a module may import its own top-level subpackage and strictly lower levels, never a peer at the same
level, never upward; the package root ``vaeinfo`` itself, e.g. for ``__version__``, is allowed everywhere):

    0  vaeinfo.io, vaeinfo.checks, vaeinfo.sourcecode
    1  vaeinfo.data, vaeinfo.models
    2  vaeinfo.info, vaeinfo.training
    3  vaeinfo.experiments, vaeinfo.viz, vaeinfo.results
    4  vaeinfo.reproduce, vaeinfo.mi   (each top-level module is its own unit)

The checker reads the source with :mod:`ast` (nothing is imported), so it sees imports inside functions and
under ``if TYPE_CHECKING:`` as well, resolves relative imports against the importing module's package, and
resolves ``from pkg import name`` to the submodule ``pkg.name`` when that is a module of the package.
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
PACKAGE = REPO / "vaeinfo"
ROOT = "vaeinfo"

LEVELS = {
    "io": 0,
    "checks": 0,
    "sourcecode": 0,
    "data": 1,
    "models": 1,
    "info": 2,
    "training": 2,
    "experiments": 3,
    "viz": 3,
    "results": 3,  # results files and tables: beside the notebooks' other outputs; the driver reads them
    "reproduce": 4,
    "mi": 4,
}

# What a bare ``import vaeinfo`` must not pull in (each name also covers its submodules).
HEAVY = ("jupyter", "ipykernel", "IPython", "ipywidgets", "papermill", "mne", "torch")


@dataclass(frozen=True)
class Violation:
    module: str
    line: int
    target: str
    reason: str

    def __str__(self) -> str:
        return f"{self.module}:{self.line} imports {self.target} ({self.reason})"


def package_modules(package: Path = PACKAGE) -> dict[str, Path]:
    """Dotted name -> file of every module under the package (``__init__.py`` names its package)."""
    found = {}
    for path in sorted(package.rglob("*.py")):
        parts = path.relative_to(package.parent).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found[".".join(parts)] = path
    return found


def imported_modules(source: str, module: str, is_package: bool, known: set[str]) -> list[tuple[str, int]]:
    """(dotted target inside the package, line) for every import of ``vaeinfo`` code in ``source``.

    ``module`` is the importing module's dotted name; ``is_package`` says whether the source is its
    ``__init__.py`` (then relative imports start from the module itself, otherwise from its parent).
    ``known`` is the set of the package's module names, used to tell ``from pkg import submodule`` from
    ``from pkg import name``.
    """
    package = module.split(".") if is_package else module.split(".")[:-1]
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [(alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                if node.level > len(package):
                    raise ValueError(f"{module}:{node.lineno}: relative import beyond the top-level package")
                base = package[: len(package) - node.level + 1]
                origin = ".".join(base + ([node.module] if node.module else []))
            else:
                origin = node.module or ""
            for alias in node.names:
                sub = f"{origin}.{alias.name}"
                found.append((sub if sub in known else origin, node.lineno))
    return [(target, line) for target, line in found if target == ROOT or target.startswith(ROOT + ".")]


def unit(dotted: str) -> str:
    """The top-level subpackage (or top-level module) a dotted name belongs to: vaeinfo.info.mi.api -> 'info'."""
    return dotted.split(".")[1]


def check_source(source: str, module: str, is_package: bool = False, known: set[str] | None = None) -> list[Violation]:
    """The layering violations of one module's source text."""
    known = set(package_modules()) if known is None else known
    if unit(module) not in LEVELS:
        return [Violation(module, 0, module, "the module's subpackage has no level in LEVELS")]
    here = unit(module)
    found = []
    for target, line in imported_modules(source, module, is_package, known):
        if target == ROOT or unit(target) == here:
            continue
        there = unit(target)
        if there not in LEVELS:
            reason = "no level in LEVELS"
        elif LEVELS[there] > LEVELS[here]:
            reason = f"upward: level {LEVELS[here]} -> {LEVELS[there]}"
        elif LEVELS[there] == LEVELS[here]:
            reason = f"peer at level {LEVELS[here]}"
        else:
            continue
        found.append(Violation(module, line, target, reason))
    return found


def layout_violations() -> list[Violation]:
    modules = package_modules()
    known = set(modules)
    found = []
    for name, path in modules.items():
        if name == ROOT:
            continue
        found += check_source(path.read_text(), name, path.name == "__init__.py", known)
    return found


# ----------------------------------------------------------------------------------------------- the checker


KNOWN = set(package_modules())


def test_every_top_level_unit_has_a_level():
    units = {unit(name) for name in KNOWN if name != ROOT}
    missing, stale = sorted(units - set(LEVELS)), sorted(set(LEVELS) - units)
    assert not missing and not stale, f"give these a level: {missing}; levels of no module: {stale}"


def test_relative_imports_resolve():
    source = ("from . import api\nfrom .. import decomposition\n"
              "from ... import __version__\nfrom ...io import atomic_open\n")
    assert imported_modules(source, "vaeinfo.info.mi.grid", False, KNOWN) == [
        ("vaeinfo.info.mi.api", 1), ("vaeinfo.info.decomposition", 2), ("vaeinfo", 3), ("vaeinfo.io", 4)]
    # in an __init__.py the package is the module itself
    source = "from .api import factor_mi\nfrom . import grid\n"
    assert imported_modules(source, "vaeinfo.info.mi", True, KNOWN) == [
        ("vaeinfo.info.mi.api", 1), ("vaeinfo.info.mi.grid", 2)]
    # a name that is not a submodule resolves to the package that defines it
    found = imported_modules("from .. import DataError\n", "vaeinfo.data.deap.bdf", False, KNOWN)
    assert found == [("vaeinfo.data", 1)]
    with pytest.raises(ValueError, match="beyond"):
        imported_modules("from .... import x\n", "vaeinfo.info.mi.grid", False, KNOWN)


def test_checker_catches_an_upward_import():
    """The checker must fail on an upward import, wherever and however it is written."""
    upward = [
        "from ..experiments.vae import vae_config\n",
        "import vaeinfo.viz.plots\n",
        "from vaeinfo import results\n",
        "def late():\n    from .. import experiments\n",
    ]
    for source in upward:
        (found,) = check_source(source, "vaeinfo.info.classify", known=KNOWN)
        assert found.reason.startswith("upward") and found.module == "vaeinfo.info.classify", source
    (nested,) = check_source("def f():\n    x = 1\n    from ..viz import plots\n", "vaeinfo.info.classify", known=KNOWN)
    assert nested.line == 3 and nested.target == "vaeinfo.viz.plots"


def test_checker_catches_a_peer_import_and_allows_the_rest():
    (peer,) = check_source("from ..training.encode import encode\n", "vaeinfo.info.influence", known=KNOWN)
    assert peer.reason == "peer at level 2" and peer.target == "vaeinfo.training.encode"
    allowed = (
        "from .. import __version__\nimport vaeinfo\nfrom ..io import atomic_open\n"
        "from ..models.contract import VAEModel\n"
        "from .mi import factor_mi\nfrom .mi.api import as_posterior\nimport numpy\nfrom . import label_mi\n"
    )
    assert check_source(allowed, "vaeinfo.info.influence", known=KNOWN) == []


def test_imports_point_one_way():
    found = layout_violations()
    assert not found, "layering violations (module:line):\n" + "\n".join(map(str, found))


# ------------------------------------------------------------------------------------- imports in a fresh process


def _python(code: str) -> subprocess.CompletedProcess:
    """Run ``code`` in a fresh interpreter of this venv, from the repository root."""
    return subprocess.run([sys.executable, "-c", code], check=False, cwd=REPO, capture_output=True, text=True,
                          timeout=120)


# Run in a fresh interpreter: preload the slow third-party imports, then import each vaeinfo module first in a
# forked child, so that no vaeinfo module is loaded before it. Prints "name ok seconds" or "name FAIL message".
_FORK_EACH = r"""
import os, sys, time, traceback
import numpy, torch  # the shared ~1.5 s; never a vaeinfo module
assert not [m for m in sys.modules if m == "vaeinfo" or m.startswith("vaeinfo.")]
for name in sys.argv[1:]:
    start = time.perf_counter()
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read)
        try:
            __import__(name)
            message = "ok"
        except BaseException:
            message = "FAIL " + traceback.format_exc().strip().splitlines()[-1]
        os.write(write, message.encode())
        os._exit(0)
    os.close(write)
    with os.fdopen(read) as pipe:
        message = pipe.read() or "FAIL the child died"
    os.waitpid(pid, 0)
    print(name, message, f"{time.perf_counter() - start:.2f}", flush=True)
"""


def test_every_module_imports_on_its_own():
    """Each module imports first, in a process where no vaeinfo module was loaded before it.

    One fresh interpreter per module costs ~1.5 s of torch import each (over a minute on 2 cores for ~45
    modules), so one fresh interpreter imports numpy and torch and forks a child per module: every child starts
    without any vaeinfo module, which is what catches import-order dependencies and circular imports inside the
    package. Third-party modules other than numpy and torch are imported by the child itself.
    """
    names = sorted(KNOWN)
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", _FORK_EACH, *names], check=False, cwd=REPO, capture_output=True,
                          text=True, timeout=300, env={**os.environ, "MPLBACKEND": "Agg"})
    assert done.returncode == 0, done.stderr
    lines = [line.split(" ", 1) for line in done.stdout.splitlines()]
    assert [name for name, _ in lines] == names, done.stdout + done.stderr
    failed = [f"{name}: {rest}" for name, rest in lines if not rest.startswith("ok")]
    print(f"{len(names)} modules in {time.perf_counter() - start:.1f} s")
    assert not failed, "modules that do not import on their own:\n" + "\n".join(failed)


def test_the_import_check_catches_a_broken_module(tmp_path):
    """The fork-per-module driver must report a module that fails to import, not pass it."""
    (tmp_path / "broken_mod.py").write_text("import vaeinfo.no_such_module\n")
    (tmp_path / "fine_mod.py").write_text("import vaeinfo.io\n")
    done = subprocess.run([sys.executable, "-c", _FORK_EACH, "fine_mod", "broken_mod"], check=False, cwd=REPO,
                          capture_output=True, text=True, timeout=120, env={**os.environ, "PYTHONPATH": str(tmp_path)})
    assert done.returncode == 0, done.stderr
    fine, broken = done.stdout.splitlines()
    assert fine.startswith("fine_mod ok") and broken.startswith("broken_mod FAIL ModuleNotFoundError"), done.stdout


def test_import_vaeinfo_is_light():
    code = (
        "import sys, vaeinfo\n"
        f"heavy = {HEAVY!r}\n"
        "print(sorted({m.split('.')[0] for m in sys.modules if m.split('.')[0] in heavy}))\n"
        "print(vaeinfo.__file__)"
    )
    done = _python(code)
    assert done.returncode == 0, done.stderr
    loaded, where = done.stdout.split("\n")[:2]
    assert Path(where).resolve() == PACKAGE / "__init__.py"
    assert loaded == "[]", f"import vaeinfo loads {loaded}"
