"""Every numbered notebook runs headlessly through papermill under the smoke profile, on real MNIST."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted(p for p in (REPO / "notebooks").glob("[0-9][0-9]_*.ipynb") if not p.name.startswith("00_"))


@pytest.fixture(scope="session")
def shared_cache(tmp_path_factory) -> Path:
    """One training cache for the whole session, so the MNIST notebooks train their VAE once."""
    return tmp_path_factory.mktemp("vaeinfo-cache")


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs_under_smoke(notebook, mnist_root, shared_cache, tmp_path):
    out = tmp_path / "out"
    result = subprocess.run(
        [sys.executable, "-m", "vaeinfo.reproduce", "--profile", "smoke", "--only", notebook.name[:2],
         "--data-dir", str(mnist_root), "--out", str(out)],
        capture_output=True, text=True, cwd=REPO, timeout=900, stdin=subprocess.DEVNULL,
        env={**os.environ, "VAEINFO_CACHE": str(shared_cache)},
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    record = json.loads((out / "results" / f"{notebook.stem}.json").read_text())
    assert record["profile"] == "smoke" and record["summary"]
    assert not any(d["fallback"] for d in record["data"])
    assert (out / f"{notebook.stem}.png").stat().st_size > 1000
