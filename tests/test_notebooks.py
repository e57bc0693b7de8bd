"""Every numbered notebook runs headlessly through papermill under the smoke profile, on real MNIST."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

REPO = Path(__file__).resolve().parent.parent
EXPECTED_KEYS = {
    "01_mi_pulse": {"mi_nats", "aggregate_variance", "influential", "model_key"},
    "02_variance_vs_mi": {"mi_nats", "aggregate_variance", "expected_kl", "marginal_kl", "estimators", "mse_per_pixel"},
    "03_generation_topk": {"k", "mse_per_pixel", "order", "model_key"},
    "04_classification_topk": {"percent", "k", "accuracy", "model_key"},
}
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
    assert EXPECTED_KEYS.get(notebook.stem, set()) <= set(record["results"])
    if "mi_nats" in record["results"]:
        assert_mi_matches_the_checkpoint(record["results"], mnist_root, shared_cache)


def assert_mi_matches_the_checkpoint(results: dict, mnist_root: Path, cache: Path) -> None:
    """The MI in the results JSON equals a direct vaeinfo call on the cached checkpoint (to 1e-9 nats)."""
    from vaeinfo.data import load_mnist
    from vaeinfo.mi import factor_mi
    from vaeinfo.train import encode, load_model

    smoke = yaml.safe_load((REPO / "params" / "smoke.yaml").read_text())
    model = load_model(results["model_key"], cache_dir=cache)
    mu, logvar = encode(model, load_mnist("validation", mnist_root, n=smoke["n_validation"]))
    np.testing.assert_allclose(results["mi_nats"], factor_mi(mu, logvar), rtol=0, atol=1e-9)
