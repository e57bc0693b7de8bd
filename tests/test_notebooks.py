"""Every numbered notebook runs headlessly through papermill under the smoke profile, on real MNIST."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import numpy as np
import pytest
import yaml

REPO = Path(__file__).resolve().parent.parent
EXPECTED_KEYS = {
    "01_mi_pulse": {"mi_nats", "aggregate_variance", "influential", "model_key"},
    "02_variance_vs_mi": {"mi_nats", "aggregate_variance", "expected_kl", "marginal_kl", "estimators", "mse_per_pixel"},
    "03_generation_topk": {"k", "mse_per_pixel", "order", "model_key"},
    "04_classification_topk": {"percent", "k", "accuracy", "model_key"},
    "05_celeba": {"mi_nats", "influential", "top3", "attribute_auc", "attribute_auc_se", "strongest_attribute",
                  "model_key"},
    "06_deap_emotion": {"data", "mi_nats", "influential", "label_mi_nats", "emotion_factors", "top3", "classification",
                        "chance", "model_key"},
    "07_live_traversal": {"mi_nats", "factors", "factor_mi_nats", "values", "k", "render_ms", "model_key"},
    "08_mi_regularised_vae": {"layouts", "lambdas", "models", "sweep", "mi_c_nats", "mi_z_nats", "bound_c_nats"},
    "09_disentanglement": {"settings", "betas", "seeds", "objectives", "models", "mig", "mig_histogram", "closed_form"},
    "10_ensemble_channels": {"channel_info_bits", "kept", "hotspots", "coverage", "kt_bits", "exact_bits", "label_nmi",
                             "model_keys", "dsprites"},
}
ALL_NOTEBOOKS = sorted((REPO / "notebooks").glob("[0-9][0-9]_*.ipynb"))
NOTEBOOKS = [p for p in ALL_NOTEBOOKS if not p.name.startswith("00_")]


@pytest.mark.parametrize("notebook", ALL_NOTEBOOKS, ids=lambda p: p.stem)
def test_papermill_reads_every_parameter(notebook):
    """Each assignment of the ``parameters`` cell is one papermill parameter (an '=' in a comment hides it)."""
    import papermill as pm

    cell = next(c for c in nbformat.read(notebook, as_version=4).cells if "parameters" in c.metadata.get("tags", []))
    assigned = [line.split("=")[0].strip() for line in cell.source.splitlines() if re.match(r"^\w+\s*=", line)]
    assert list(pm.inspect_notebook(str(notebook))) == assigned
    assert not any(c.get("outputs") or c.get("execution_count") for c in nbformat.read(notebook, as_version=4).cells
                   if c.cell_type == "code"), "commit source notebooks without outputs"


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
        env={**{k: v for k, v in os.environ.items() if k != "VAEINFO_DEAP"}, "VAEINFO_CACHE": str(shared_cache)},
    )  # without VAEINFO_DEAP, notebook 06 runs on its synthetic default
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    record = json.loads((out / "results" / f"{notebook.stem}.json").read_text())
    assert record["profile"] == "smoke" and record["summary"]
    # real data everywhere, except dSprites, rendered when the official npz is absent (as in the shared data)
    assert all(d["fallback"] == (d["name"] == "dSprites-procedural") for d in record["data"])
    assert (out / f"{notebook.stem}.png").stat().st_size > 1000
    assert EXPECTED_KEYS.get(notebook.stem, set()) <= set(record["results"])
    executed = nbformat.read(out / "executed" / notebook.name, as_version=4)
    assert "widgets" not in executed.metadata, "interactive: false shows no widget, so none of their state is kept"
    if notebook.stem == "06_deap_emotion":
        assert record["results"]["data"] == "synthetic" and record["results"]["deap_source"]["synthetic"]
        assert [d["name"] for d in record["data"]] == ["DEAP-synthetic"] and "synthetic" in record["summary"]
    if "mi_nats" in record["results"]:
        assert_mi_matches_the_checkpoint(notebook.stem, record["results"], mnist_root, shared_cache)


def assert_mi_matches_the_checkpoint(stem: str, results: dict, data_root: Path, cache: Path) -> None:
    """The MI in the results JSON equals a direct vaeinfo call on the cached checkpoint (to 1e-9 nats)."""
    from vaeinfo.mi import factor_mi
    from vaeinfo.training.checkpoint import load_model
    from vaeinfo.training.encode import encode

    model = load_model(results["model_key"], cache_dir=cache)
    mu, logvar = encode(model, _smoke_validation(stem, data_root, cache))
    np.testing.assert_allclose(results["mi_nats"], factor_mi(mu, logvar), rtol=0, atol=1e-9)


def _smoke_validation(stem: str, data_root: Path, cache: Path):
    """The validation images a notebook encodes under the smoke profile (CelebA for 05, else MNIST)."""
    from vaeinfo.data.celeba import load_celeba_train_validation
    from vaeinfo.data.mnist import load_mnist

    smoke = yaml.safe_load((REPO / "params" / "smoke.yaml").read_text())
    if stem == "06_deap_emotion":
        return _deap_smoke_validation(smoke, cache)
    if stem == "05_celeba":
        return load_celeba_train_validation(data_root, n_train=smoke["celeba_n_train"],
                                            n_validation=smoke["celeba_n_validation"], cache_dir=cache)[1]
    return load_mnist("validation", data_root, n=smoke["n_validation"])


def _deap_smoke_validation(smoke: dict, cache: Path):
    """Notebook 06's held-out windows under the smoke profile (its synthetic default), standardised as it does."""
    import torch

    from vaeinfo.data.deap.features import source_features
    from vaeinfo.data.deap.synthetic import cached_synthetic
    from vaeinfo.experiments.emotion import split_inputs

    source = cached_synthetic(smoke["deap_n_subjects"], smoke["deap_synthetic_trials"],
                              smoke["deap_synthetic_video_s"], smoke["seed"], cache_dir=cache)
    inputs = split_inputs(source_features(source), smoke["deap_validation_subjects"])
    return torch.as_tensor(inputs.x[~inputs.train])
