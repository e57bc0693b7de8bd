"""Checkpoints and the training cache: the run's key, atomic saves, checked loads.

Each run lives in ``<cache>/models/<key>/`` (cache folder: argument > ``$VAEINFO_CACHE`` > ``~/.cache/vaeinfo``),
where the key hashes the normalised config, a fingerprint of the training and validation data (shape, dtype,
BLAKE2b of the bytes) and ``vaeinfo.__version__``. ``checkpoint.pt`` holds the model and optimizer ``state_dict``,
the generators' states, the history and the config; it is replaced atomically and read with
``torch.load(..., weights_only=True)``. A checkpoint that cannot be read or does not match its run raises
:class:`CheckpointError`. ``config.json`` beside it records the key's ingredients for humans.
"""

from __future__ import annotations

import hashlib
import json
import os
import warnings
from dataclasses import dataclass
from pathlib import Path

import torch

from .. import __version__
from ..io import atomic_open, resolve_cache_dir
from ..models.architectures import VAE, build_model
from .config import normalize_config
from .encode import as_images

CHECKPOINT = "checkpoint.pt"
CONFIG_JSON = "config.json"
CHECKPOINT_FORMAT = 1
_CHECKPOINT_KEYS = {"format", "key", "config", "epoch", "device", "model", "optimizer", "rng", "history"}


class CheckpointError(RuntimeError):
    """A checkpoint cannot be read or does not belong to the run; the message names the file and the fix."""


@dataclass
class TrainState:
    """Everything that changes during training and goes into a checkpoint."""

    model: VAE
    optimizer: torch.optim.Optimizer
    order: torch.Generator  # data order, on the CPU
    noise: torch.Generator  # reparameterisation noise, on the training device
    history: list[dict]
    epoch: int  # epochs finished


def data_fingerprint(data) -> dict:
    """Shape, dtype and BLAKE2b digest of the bytes of a data set (ImageData, tensor or array)."""
    x = as_images(data).detach().cpu().contiguous()
    digest = hashlib.blake2b(x.view(torch.uint8).numpy(), digest_size=16).hexdigest() if x.numel() else ""
    return {"shape": list(x.shape), "dtype": str(x.dtype).removeprefix("torch."), "blake2b": digest}


def cache_key(config: dict, data, validation=None) -> str:
    """The run's cache key, e.g. ``"mnist_conv-3f2a..."``: hash of config, data fingerprints and version."""
    cfg = normalize_config(config)
    return run_key(cfg, key_ingredients(cfg, data, validation))


def key_ingredients(cfg: dict, data, validation) -> dict:
    fingerprint = None if validation is None else data_fingerprint(validation)
    return {"config": cfg, "data": data_fingerprint(data), "validation": fingerprint, "vaeinfo": __version__}


def run_key(cfg: dict, ingredients: dict) -> str:
    text = json.dumps(ingredients, sort_keys=True, separators=(",", ":"))
    return f"{cfg['model']['architecture']}-{hashlib.sha256(text.encode()).hexdigest()[:20]}"


def save_checkpoint(path: Path, state: TrainState, key: str, cfg: dict) -> None:
    """Write the checkpoint atomically (temp file + fsync + rename)."""
    payload = {
        "format": CHECKPOINT_FORMAT, "key": key, "config": json.dumps(cfg, sort_keys=True), "epoch": state.epoch,
        "device": state.noise.device.type, "model": state.model.state_dict(),
        "optimizer": state.optimizer.state_dict(), "history": state.history,
        "rng": {"order": state.order.get_state(), "noise": state.noise.get_state()},
    }
    with atomic_open(path, "wb") as fh:
        torch.save(payload, fh)


def read_checkpoint(path: Path) -> dict:
    """Load a checkpoint onto the CPU with ``weights_only=True``; any failure is a CheckpointError naming the file.

    On the CPU because generator states must stay there; ``load_state_dict`` copies weights and optimizer
    state to the device of the parameters.
    """
    fix = "Fix: delete it, or pass force=True to retrain."
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises RuntimeError, EOFError, UnpicklingError, ... for damaged files
        reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise CheckpointError(f"{path} cannot be read ({reason}): it is truncated or corrupt. {fix}") from None
    valid = isinstance(payload, dict) and payload.get("format") == CHECKPOINT_FORMAT
    if not (valid and _CHECKPOINT_KEYS <= set(payload)):
        raise CheckpointError(f"{path} is not a vaeinfo checkpoint (format {CHECKPOINT_FORMAT}). {fix}")
    return payload


def load_weights(model: VAE, payload: dict, path: Path) -> None:
    """Copy the checkpoint's weights into ``model``; missing, extra or misshapen tensors are a CheckpointError."""
    try:
        model.load_state_dict(payload["model"])
    except RuntimeError as exc:
        detail = " ".join(str(exc).split())
        raise CheckpointError(f"{path} does not fit the {model.config['architecture']} model of its config "
                              f"({detail[:500]}). Fix: delete it, or pass force=True to retrain.") from None


def load_model(path_or_key: str | os.PathLike, *, cache_dir: str | os.PathLike | None = None,
               device: str | torch.device = "cpu") -> VAE:
    """Load a trained VAE (eval mode) from a run folder, its ``checkpoint.pt``, or a cache key.

    A key is looked up in ``<cache>/models/`` (see :func:`resolve_cache_dir`). A checkpoint of an
    unfinished run loads with a warning. Raises FileNotFoundError or :class:`CheckpointError`.
    """
    path = Path(path_or_key).expanduser()
    if path.is_dir():
        path = path / CHECKPOINT
    elif not path.is_file():
        path = resolve_cache_dir(cache_dir) / "models" / str(path_or_key) / CHECKPOINT
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint at {path_or_key!r}: give a run folder, a checkpoint.pt file, "
                                f"or a cache key of a run in {resolve_cache_dir(cache_dir) / 'models'}")
    payload = read_checkpoint(path)
    cfg = json.loads(payload["config"])
    model = build_model(cfg["model"])
    load_weights(model, payload, path)
    model = model.to(device)
    if payload["epoch"] < cfg["epochs"]:
        warnings.warn(f"{path} is from an unfinished run ({payload['epoch']}/{cfg['epochs']} epochs)", stacklevel=2)
    return model.eval()
