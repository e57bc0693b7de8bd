"""Checkpoints and the training cache: the run's key, atomic saves, checked loads.

Each run lives in ``<cache>/models/<key>/`` (cache folder: argument > ``$VAEINFO_CACHE`` > ``~/.cache/vaeinfo``),
where the key hashes the normalised config, a fingerprint of the training and validation data (shape, dtype,
BLAKE2b of the bytes) and a SHA-256 of the code of the training modules (:data:`TRAINING_CODE`,
:func:`code_fingerprint`: their source without comments and docstrings), so a change to the model, the objective or
the loop trains anew instead of reusing weights of the old code, and an edit of their documentation does not; for
a custom model of the contract (:mod:`vaeinfo.models.contract`) also a BLAKE2b of its initial ``state_dict`` (its
class is in the config) and a SHA-256 of its classes' code (:func:`class_fingerprint`), so two different models never
share a run and an edit of a custom model's ``forward`` or ``decode`` trains anew. ``checkpoint.pt``
holds the model and optimizer ``state_dict``, the generators' states, the history and the config; it is replaced
atomically and read with ``torch.load(..., weights_only=True)``. A checkpoint that cannot be read or does not
match its run raises :class:`CheckpointError`. ``config.json`` beside it records the key's ingredients for humans.
"""

from __future__ import annotations

import copy
import functools
import hashlib
import importlib
import json
import os
import warnings
from dataclasses import dataclass
from pathlib import Path

import torch

from ..io import atomic_open, display_path, resolve_cache_dir
from ..models.architectures import build_model
from ..models.contract import VAEModel, check_model
from ..sourcecode import code_of, file_code
from .config import describe_model, normalize_config
from .encode import as_images

CHECKPOINT = "checkpoint.pt"
CONFIG_JSON = "config.json"
CHECKPOINT_FORMAT = 1
_CHECKPOINT_KEYS = {"format", "key", "config", "epoch", "device", "model", "optimizer", "rng", "history"}

# The modules whose source decides the weights a run ends with, relative to the package root; their code enters the
# key (:func:`code_fingerprint`). Not among them: the data pipeline (the key fingerprints the images themselves) and
# io (file writes; its CPU count only changes the thread count, like the machine).
TRAINING_CODE = (
    "models.architectures",  # layers, Glorot initialisation, reparameterisation, log-likelihoods
    "models.contract",  # decode_mean: the x' = E[x|z~] that the mi_regularised objective trains on
    "models.objectives",  # the losses and their schedules (a package: every module of it)
    "training.config",  # defaults and how a config is read
    "training.encode",  # as_images/to_unit: every training batch passes through them (uint8 -> [0, 1])
    "training.train",  # the loop: seeds, data order, Adam, validation, resume
    "training.checkpoint",  # what a checkpoint saves and restores (a resumed run's weights), and the key itself
)


class CheckpointError(RuntimeError):
    """A checkpoint cannot be read or does not belong to the run; the message names the file and ends with
    :data:`FIX`."""


# The fix every CheckpointError ends with: one that train() and a sweep (run_many, which has no force=) both follow.
FIX = ("Fix: delete the run's folder and run again (train() or the sweep retrains that run only), or pass force=True "
       "to train().")


@dataclass
class TrainState:
    """Everything that changes during training and goes into a checkpoint."""

    model: VAEModel  # a torch.nn.Module
    optimizer: torch.optim.Optimizer
    order: torch.Generator  # data order, on the CPU
    noise: torch.Generator  # reparameterisation noise, on the training device
    history: list[dict]
    epoch: int  # epochs finished
    auxiliary: torch.nn.Module | None = None  # a network the objective trains beside the VAE (FactorVAE's critic)
    auxiliary_optimizer: torch.optim.Optimizer | None = None
    threads: int | None = None  # torch's intra-op CPU threads that trained the checkpointed epochs (None: unknown)


def data_fingerprint(data) -> dict:
    """Shape, dtype and BLAKE2b digest of the bytes of a data set (ImageData, tensor or array)."""
    x = as_images(data).detach().cpu().contiguous()
    digest = hashlib.blake2b(x.view(torch.uint8).numpy(), digest_size=16).hexdigest() if x.numel() else ""
    return {"shape": list(x.shape), "dtype": str(x.dtype).removeprefix("torch."), "blake2b": digest}


def weights_fingerprint(model: VAEModel) -> dict:
    """Number of tensors and BLAKE2b digest of a model's ``state_dict`` (names, dtypes, shapes and bytes)."""
    state = check_model(model, trainable=True).state_dict()
    digest = hashlib.blake2b(digest_size=16)
    for name, tensor in state.items():
        t = tensor.detach().cpu().contiguous().reshape(-1)
        digest.update(f"{name}:{str(t.dtype).removeprefix('torch.')}:{list(tensor.shape)};".encode())
        digest.update(t.view(torch.uint8).numpy().tobytes())
    return {"tensors": len(state), "blake2b": digest.hexdigest()}


def class_fingerprint(model: VAEModel) -> dict:
    """``{"sha256": ..., "classes": [qualified names]}`` of a custom model: the code
    (:func:`vaeinfo.sourcecode.code_of`) of the classes of the model and of its submodules and of their base classes,
    except torch's and Python's own
    (``torch.nn.Linear``, ``torch.nn.Module``; TorchScript modules, compiled, enter by their weights only).

    The code is read from the classes' source files as they are on disk (edit a model's file and the next call's key
    changes, even before the module is reloaded). A class whose source Python cannot find (one defined in a notebook
    cell or an interactive session) enters by its name only, listed under ``"no_source"``, with a warning: an edit
    of it is then not seen by the key (put it in a .py file, or pass ``force=True`` to ``train`` after an edit).
    """
    classes = {base for m in model.modules() for base in type(m).__mro__
               if base.__module__.split(".")[0] not in ("torch", "builtins")}
    code = {f"{c.__module__}.{c.__qualname__}": code_of(c) for c in classes}
    names = sorted(code)
    digest = hashlib.sha256()
    for name in names:
        digest.update(f"{name}:{len(code[name] or '')}:{code[name] or ''}".encode())
    missing = [name for name in names if code[name] is None]
    if missing:
        warnings.warn(f"no source file for {missing}: the cache key cannot see edits of their code (define them in a "
                      f".py file, or pass force=True to train() after an edit)", stacklevel=3)
    return {"sha256": digest.hexdigest(), "classes": names, **({"no_source": missing} if missing else {})}


def code_fingerprint() -> dict:
    """``{"sha256": ..., "files": [module names]}``: SHA-256 of the code of the :data:`TRAINING_CODE` modules.

    The files are found from the imported modules' ``__file__`` (a copy of the package hashes its own files; a
    package enters with every module in its folder) and hashed once per process. Each enters as its module name,
    its length and its code (:func:`vaeinfo.sourcecode.file_code`): comments, docstrings, blank lines and trailing
    spaces are left out, so an edit of the documentation keeps every key; line endings do not matter (a Windows
    checkout gives the same key).
    """
    digest, names = _code_digest()
    return {"sha256": digest, "files": list(names)}


@functools.cache
def _code_digest() -> tuple[str, tuple[str, ...]]:
    root = __name__.split(".")[0]
    digest, names = hashlib.sha256(), tuple(f"{root}.{name}" for name in TRAINING_CODE)
    for name, path in ((n, p) for module in names for n, p in _sources(module)):
        code = file_code(path).encode()
        digest.update(f"{name}:{len(code)}:".encode())
        digest.update(code)
    return digest.hexdigest(), names


def _sources(name: str) -> list[tuple[str, Path]]:
    """(module name, file) of module ``name``, or of every module of package ``name`` (sorted by file name)."""
    module = importlib.import_module(name)
    if not hasattr(module, "__path__"):
        return [(name, Path(module.__file__))]
    files = sorted(Path(module.__file__).parent.glob("*.py"))
    return [(name if f.name == "__init__.py" else f"{name}.{f.stem}", f) for f in files]


def cache_key(config: dict, data, validation=None, *, model: VAEModel | None = None) -> str:
    """The run's cache key, e.g. ``"mnist_conv-3f2a..."``: hash of config, data fingerprints and training code.

    ``model``: the custom model of ``train(..., model=model)`` (its class and initial weights enter the key).
    """
    cfg = normalize_config(config, model)
    return run_key(cfg, key_ingredients(cfg, data, validation, model))


def key_ingredients(cfg: dict, data, validation, model: VAEModel | None = None) -> dict:
    """What the key hashes (and ``config.json`` records); ``weights`` and ``classes`` only for a custom model.

    ``code`` is :func:`code_fingerprint`: the SHA-256 of the training code and the modules it covers.
    """
    fingerprint = None if validation is None else data_fingerprint(validation)
    ingredients = {"config": cfg, "data": data_fingerprint(data), "validation": fingerprint, "code": code_fingerprint()}
    if model is None:
        return ingredients
    return {**ingredients, "weights": weights_fingerprint(model), "classes": class_fingerprint(model)}


def run_key(cfg: dict, ingredients: dict) -> str:
    text = json.dumps(ingredients, sort_keys=True, separators=(",", ":"))
    return f"{model_name(cfg['model'])}-{hashlib.sha256(text.encode()).hexdigest()[:20]}"


def model_name(model_cfg: dict) -> str:
    """A model's name in keys and messages: its architecture, or the class name of a custom model."""
    return model_cfg["custom"].rpartition(".")[2] if "custom" in model_cfg else model_cfg["architecture"]


def save_checkpoint(path: Path, state: TrainState, key: str, cfg: dict) -> None:
    """Write the checkpoint atomically (temp file + fsync + rename)."""
    payload = {
        "format": CHECKPOINT_FORMAT, "key": key, "config": json.dumps(cfg, sort_keys=True), "epoch": state.epoch,
        "device": state.noise.device.type, "threads": state.threads, "model": state.model.state_dict(),
        "optimizer": state.optimizer.state_dict(), "history": state.history,
        "rng": {"order": state.order.get_state(), "noise": state.noise.get_state()},
    }
    if state.auxiliary is not None:
        payload["auxiliary"] = {"model": state.auxiliary.state_dict(),
                                "optimizer": state.auxiliary_optimizer.state_dict()}
    with atomic_open(path, "wb") as fh:
        torch.save(payload, fh)


def read_checkpoint(path: Path) -> dict:
    """Load a checkpoint onto the CPU with ``weights_only=True``; any failure is a CheckpointError naming the file.

    On the CPU because generator states must stay there; ``load_state_dict`` copies weights and optimizer
    state to the device of the parameters.
    """
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 -- torch raises RuntimeError, EOFError, UnpicklingError, ...: damaged
        reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise CheckpointError(f"{path} cannot be read ({reason}): it is truncated or corrupt. {FIX}") from None
    valid = isinstance(payload, dict) and payload.get("format") == CHECKPOINT_FORMAT
    if not (valid and _CHECKPOINT_KEYS <= set(payload)):
        raise CheckpointError(f"{path} is not a vaeinfo checkpoint (format {CHECKPOINT_FORMAT}). {FIX}")
    return payload


def load_weights(model: VAEModel, payload: dict, path: Path) -> None:
    """Copy the checkpoint's weights into ``model``; missing, extra or misshapen tensors are a CheckpointError."""
    try:
        model.load_state_dict(payload["model"])
    except RuntimeError as exc:
        detail = " ".join(str(exc).split())
        name = model_name(json.loads(payload["config"])["model"])
        raise CheckpointError(f"{path} does not fit the {name} model of its config "
                              f"({detail[:500]}). {FIX}") from None


def load_model(path_or_key: str | os.PathLike, *, cache_dir: str | os.PathLike | None = None,
               device: str | torch.device = "cpu", model: VAEModel | None = None) -> VAEModel:
    """Load a trained model (eval mode) from a run folder, its ``checkpoint.pt``, or a cache key.

    A key is looked up in ``<cache>/models/`` (see :func:`resolve_cache_dir`). A run of a built-in
    architecture is rebuilt from its config; a run of a custom model needs ``model``, a template of the
    same class and config (``train``'s ``model=``): the weights are loaded into a deep copy of it, which is
    returned (the template is not modified). A checkpoint of an unfinished run loads with a warning.

    Raises
    ------
    FileNotFoundError, CheckpointError
        No checkpoint there; an unreadable one, or weights that do not fit.
    ValueError
        A custom run without a template, a template that does not match the run, or a template for a built-in run.
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
    model = _empty_model(cfg["model"], model, path)
    load_weights(model, payload, path)
    model = model.to(device)
    if payload["epoch"] < cfg["epochs"]:
        warnings.warn(f"{display_path(path)} is from an unfinished run ({payload['epoch']}/{cfg['epochs']} epochs)",
                      stacklevel=2)
    return model.eval()


def _empty_model(model_cfg: dict, template: VAEModel | None, path: Path) -> VAEModel:
    """The model to load a run's weights into: built from its config, or a deep copy of the template."""
    if "custom" not in model_cfg:
        if template is not None:
            raise ValueError(f"{path} is a run of the built-in {model_cfg['architecture']} architecture: "
                             f"load it without model=")
        return build_model(model_cfg)
    if template is None:
        raise ValueError(f"{path} is a run of the custom model {model_cfg['custom']}: pass model=<an instance of "
                         f"it with the same config> to load_model; its weights are loaded into a copy of it")
    if describe_model(template) != model_cfg:
        raise ValueError(f"model= does not match the run {path}: it is described by {describe_model(template)}, "
                         f"the run by {model_cfg}")
    return copy.deepcopy(check_model(template, trainable=True))
