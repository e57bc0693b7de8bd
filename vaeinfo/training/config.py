"""The training config: a plain JSON-able dict, checked and completed with the defaults.

    {"model": {"architecture": "mnist_conv", "latent_dim": 128},        # see vaeinfo.models.architectures
     "objective": {"name": "beta_vae", "beta": 6.0, "warmup_epochs": 0},  # see vaeinfo.models.objectives
     "optimizer": {"name": "adam", "lr": 1e-3},
     "batch_size": 100, "epochs": 100, "seed": 0}

Everything but ``model`` has the defaults shown (the paper's settings; beta defaults to 1).
"""

from __future__ import annotations

import numbers

from ..models.architectures import normalize_model_config
from ..models.objectives import normalize_objective_config

OPTIMIZERS = ("adam",)
_DEFAULTS = {"objective": {}, "optimizer": {"name": "adam", "lr": 1e-3}, "batch_size": 100, "epochs": 100, "seed": 0}


def normalize_config(config: dict) -> dict:
    """Check a training config and fill in defaults (module docstring); returns a new plain dict.

    Raises
    ------
    ValueError
        Missing ``model``, unknown keys or optimizer (the valid ones are listed), non-positive sizes.
    """
    if not isinstance(config, dict) or "model" not in config:
        raise ValueError(f"a training config is a dict with a 'model' entry, got {config!r}")
    unknown = sorted(set(config) - {"model", *_DEFAULTS})
    if unknown:
        raise ValueError(f"unknown training config key(s) {unknown}; valid keys: {['model', *_DEFAULTS]}")
    cfg = {**_DEFAULTS, **config}
    optimizer = {**_DEFAULTS["optimizer"], **cfg["optimizer"]}
    if optimizer["name"] not in OPTIMIZERS or set(optimizer) != {"name", "lr"}:
        raise ValueError(f"optimizer must be {{'name': one of {OPTIMIZERS}, 'lr': float}}, got {cfg['optimizer']!r}")
    out = {
        "model": normalize_model_config(cfg["model"]),
        "objective": normalize_objective_config(cfg["objective"]),
        "optimizer": {"name": optimizer["name"], "lr": float(optimizer["lr"])},
    }
    for key, least in (("batch_size", 1), ("epochs", 1), ("seed", 0)):
        value = cfg[key]
        if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < least:
            raise ValueError(f"{key} must be an integer >= {least}, got {value!r}")
        out[key] = int(value)
    if not out["optimizer"]["lr"] > 0:
        raise ValueError(f"the learning rate must be positive, got {out['optimizer']['lr']}")
    return out
