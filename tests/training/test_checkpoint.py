"""vaeinfo.training.checkpoint: the cache key hashes the source of the training code, not a version string.

No training: a key needs only a config and the data's fingerprint (tiny tensors). The key of a copy of the package
is computed in a fresh isolated interpreter (``python -I``, the copy first on ``sys.path``): the editable install
would map ``vaeinfo`` to the repository even with ``PYTHONPATH``.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import vaeinfo
from vaeinfo.training import checkpoint
from vaeinfo.training.checkpoint import (
    TRAINING_CODE,
    cache_key,
    code_fingerprint,
    key_ingredients,
)
from vaeinfo.training.config import normalize_config

CONFIG = {"model": {"architecture": "mlp", "input_shape": [4], "latent_dim": 2, "hidden": [4]}, "epochs": 1}
SHAPES = {"data": [3, 4], "validation": [2, 4]}
PACKAGE = Path(vaeinfo.__file__).parent

# Runs in `python -I -c`: for each folder of argv[3:] (each holding a vaeinfo package), imports vaeinfo afresh with
# only that folder first on sys.path and prints the key of CONFIG on zero tensors, the code fingerprint and where
# vaeinfo came from; one JSON list. One interpreter for all copies: torch is imported once.
KEY_SCRIPT = """
import importlib, json, sys
import torch
config, shapes = json.loads(sys.argv[1]), json.loads(sys.argv[2])
answers = []
for root in sys.argv[3:]:
    for name in [name for name in sys.modules if name == "vaeinfo" or name.startswith("vaeinfo.")]:
        del sys.modules[name]
    sys.path.insert(0, root)
    importlib.invalidate_caches()
    import vaeinfo
    from vaeinfo.training.checkpoint import cache_key, code_fingerprint
    key = cache_key(config, torch.zeros(shapes["data"]), torch.zeros(shapes["validation"]))
    answers.append({"key": key, "code": code_fingerprint(), "package": vaeinfo.__file__})
    sys.path.remove(root)
print(json.dumps(answers))
"""

# Copies of the package, each with one line of one module edited: (name, module, old line, new line, key changes?).
EDITS = [
    ("objectives", "models/objectives/elbo.py", "from .base import Objective\n",
     "from .base import Objective as Objective\n", True),
    ("objectives-init", "models/objectives/__init__.py", "OBJECTIVES = tuple(REGISTRY)\n",
     "OBJECTIVES = tuple(REGISTRY.keys())\n", True),
    ("architectures", "models/architectures.py", "LOG_2PI = math.log(2 * math.pi)\n",
     "LOG_2PI = math.log(2.0 * math.pi)\n", True),
    ("train", "training/train.py", "PROGRESS_INTERVAL_S = 30.0", "PROGRESS_INTERVAL_S = 30.5", True),
    ("contract", "models/contract.py", "from typing import Any, Protocol, runtime_checkable\n",
     "from typing import Any, Protocol, cast, runtime_checkable\n", True),  # decode_mean builds mi_regularised's x'
    # the documentation of the training code: the code is the same, so is every key
    ("comment", "models/objectives/elbo.py", "from .base import Objective\n",
     "from .base import Objective  # edited\n\n", False),
    ("docstring", "training/train.py",
     '    """Train a VAE, or reuse the cached run with the same config, data, initial model and training code.\n',
     '    """Train a VAE (edited), or reuse the cached run with the same config, data, model and training code.\n',
     False),
    ("plots", "viz/plots.py", "from ..io import atomic_open\n", "from ..io import atomic_open, display_path\n", False),
    ("mnist", "data/mnist.py", "from __future__ import annotations\n",
     "from __future__ import annotations\nimport os\n", False),
]


def key_here() -> str:
    return cache_key(CONFIG, torch.zeros(SHAPES["data"]), torch.zeros(SHAPES["validation"]))


def keys_in_subprocess(roots: list[Path]) -> list[dict]:
    """The key of CONFIG computed by the vaeinfo package in each of ``roots`` (folders holding ``vaeinfo/``)."""
    result = subprocess.run([sys.executable, "-I", "-c", KEY_SCRIPT, json.dumps(CONFIG), json.dumps(SHAPES),
                             *map(str, roots)], capture_output=True, text=True, cwd=roots[0], timeout=300, check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    answers = json.loads(result.stdout.strip().splitlines()[-1])
    for root, answer in zip(roots, answers, strict=True):
        assert Path(answer["package"]).resolve() == (root / "vaeinfo" / "__init__.py").resolve()  # the copy ran
    return answers


def copy_package(root: Path) -> Path:
    """A copy of the vaeinfo package under ``root`` (without bytecode); returns ``root``."""
    shutil.copytree(PACKAGE, root / "vaeinfo", ignore=shutil.ignore_patterns("__pycache__"))
    return root


def edit_line(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert text.count(old) == 1, f"{old!r} is not one line of {path}"
    path.write_text(text.replace(old, new), encoding="utf-8")


@pytest.fixture(scope="module")
def copies(tmp_path_factory) -> dict[str, dict]:
    """name -> the answer of KEY_SCRIPT for: an unedited copy, each copy of EDITS, one with CRLF line endings and one
    with a byte-order mark."""
    base = tmp_path_factory.mktemp("copies")
    roots = {"unedited": copy_package(base / "unedited")}
    for name, module, old, new, _ in EDITS:
        roots[name] = copy_package(base / name)
        edit_line(roots[name] / "vaeinfo" / module, old, new)
    roots["crlf"] = copy_package(base / "crlf")
    path = roots["crlf"] / "vaeinfo" / "models" / "objectives" / "elbo.py"
    path.write_bytes(path.read_bytes().replace(b"\n", b"\r\n"))
    roots["bom"] = copy_package(base / "bom")  # a byte-order mark, as some Windows editors write
    path = roots["bom"] / "vaeinfo" / "training" / "train.py"
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())
    return dict(zip(roots, keys_in_subprocess(list(roots.values())), strict=True))


def test_the_key_hashes_the_training_code_and_records_it():
    code = code_fingerprint()
    assert code["files"] == [f"vaeinfo.{name}" for name in TRAINING_CODE]
    assert {"vaeinfo.models.architectures", "vaeinfo.models.contract", "vaeinfo.models.objectives",
            "vaeinfo.training.train", "vaeinfo.training.config"} <= set(code["files"])
    assert len(code["sha256"]) == 64 and int(code["sha256"], 16) >= 0
    cfg = normalize_config(CONFIG)
    ingredients = key_ingredients(cfg, torch.zeros(SHAPES["data"]), None)
    assert ingredients["code"] == code and "vaeinfo" not in ingredients  # no version string any more
    assert json.loads(json.dumps(ingredients)) == ingredients  # config.json records it as it is


def test_the_key_is_stable_within_a_process_and_hashed_once():
    checkpoint._code_digest.cache_clear()
    first, fingerprint = key_here(), code_fingerprint()
    fingerprint["files"].append("mutated by a caller")  # a copy: the cached value is not changed
    assert key_here() == first and code_fingerprint() != fingerprint
    info = checkpoint._code_digest.cache_info()
    assert info.misses == 1 and info.hits >= 2


def test_a_copy_of_the_package_gives_the_same_key_in_another_process(copies):
    assert copies["unedited"]["key"] == key_here() and copies["unedited"]["code"] == code_fingerprint()


@pytest.mark.parametrize("name, module, changes", [(name, module, changes) for name, module, *_, changes in EDITS])
def test_editing_the_copied_training_code_changes_its_key(copies, name, module, changes):
    """One edited line of a copied module: a new key for the training code, the same key for any other module."""
    answer, unedited = copies[name], copies["unedited"]
    assert (answer["key"] != unedited["key"]) is changes, module
    assert (answer["code"]["sha256"] != unedited["code"]["sha256"]) is changes, module
    assert answer["key"].startswith("mlp-") and answer["code"]["files"] == unedited["code"]["files"]


def test_windows_line_endings_give_the_same_key(copies):
    assert copies["crlf"]["key"] == copies["unedited"]["key"]


def test_a_byte_order_mark_gives_the_same_key(copies):
    assert copies["bom"]["key"] == copies["unedited"]["key"]
