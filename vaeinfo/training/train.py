"""The training loop: seeded, resumable, and cached by a hash of (config, data, training code).

A training config is a plain JSON-able dict::

    {"model": {"architecture": "mnist_conv", "latent_dim": 128},        # see vaeinfo.models.architectures
     "objective": {"name": "beta_vae", "beta": 6.0, "warmup_epochs": 0},  # see vaeinfo.models.objectives
     "optimizer": {"name": "adam", "lr": 1e-3, "eps": 1e-8},
     "batch_size": 100, "epochs": 100, "seed": 0, "precision": "fp32"}

Everything but ``model`` has the defaults shown (the paper's settings; beta defaults to 1); ``precision="bf16"``
trains in mixed precision (:mod:`vaeinfo.training.config`).

Custom models. ``train(config, data, model=m)`` trains any ``torch.nn.Module`` of the model contract
(:mod:`vaeinfo.models.contract`, with ``log_likelihood``) instead of a built-in architecture: training starts from
a deep copy of ``m`` (``m`` itself is never modified), the config's ``model`` entry may be omitted (it is ``m``'s
description, :func:`vaeinfo.training.config.describe_model`), and the key also hashes ``m``'s initial weights.
Resuming and reusing a run copy the checkpoint's weights into a fresh deep copy of ``m``;
``load_model(key, model=m)`` loads a finished run the same way.

Randomness. Three generators are derived from ``seed``: the initial weights (of a built-in model), the data
order (a fresh permutation per epoch) and the reparameterisation noise; validation uses a fourth, reseeded for
each evaluation, so the validation loss of one set of weights is always the same number; an objective's auxiliary
network (FactorVAE's discriminator) draws its initial weights from a fifth. The global torch and
numpy RNGs are neither used nor changed. On the CPU the same config and data give bitwise identical
weights (with the same number of threads); CUDA kernels are not bitwise reproducible.

Cache and resume. Each run lives in ``<cache>/models/<key>/`` (cache folder: argument > ``$VAEINFO_CACHE`` >
``~/.cache/vaeinfo``), where the key hashes the normalised config, a fingerprint of the training and validation data
(shape, dtype, BLAKE2b of the bytes), a SHA-256 of the code of the training modules (the model and its contract, the
objective, the config, the batch conversion, this loop and the checkpoints,
:data:`vaeinfo.training.checkpoint.TRAINING_CODE`: an edit of their code trains anew instead of reusing the old
code's weights; comments and docstrings are left out) and a custom model's initial weights.
After every epoch ``checkpoint.pt`` is replaced atomically; it holds the model and optimizer ``state_dict``, the
generators' states, the history and the config, and is read with ``torch.load(..., weights_only=True)``. A finished
run is reused without training; an interrupted one resumes from its last epoch and ends with exactly the weights of
an uninterrupted run. A checkpoint that cannot be read or does not match the run raises :class:`CheckpointError` and
is left in place; ``force=True`` deletes it and trains from scratch. ``config.json`` beside it records the key's
ingredients for humans. A call holds a lock on its run (``<cache>/locks/<key>.lock``, ``fcntl.flock``) from the
cache lookup to the last checkpoint: a second process or thread given the same run (a notebook opened by hand during
``./reproduce.sh``, a sweep's workers) waits, then reuses the finished model instead of writing its own earlier
epochs over it. The checkpoint records the CPU thread count; resuming with another warns (see Randomness).
"""

from __future__ import annotations

import copy
import json
import math
import os
import sys
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from ..io import atomic_write_json, display_path, file_lock, resolve_cache_dir
from ..models.architectures import build_model, reparameterize
from ..models.contract import VAEModel, check_model, device_of, evaluating, input_shape
from ..models.objectives import (
    Batch,
    auxiliary_spec,
    batch_terms,
    check_min_batch,
    logged_terms,
    min_batch,
    normalize_objective_config,
    schedule_values,
)
from .checkpoint import (
    CHECKPOINT,
    CONFIG_JSON,
    FIX,
    CheckpointError,
    TrainState,
    key_ingredients,
    load_weights,
    model_name,
    read_checkpoint,
    run_key,
    save_checkpoint,
)
from .config import ADAM_EPS, normalize_config
from .cpu import configure_cpu, warn_if_bf16_emulated
from .encode import as_images, to_unit

PROGRESS_INTERVAL_S = 30.0  # seconds between progress-bar refreshes: a few lines per epoch in papermill logs
_SUMMED = ("loss", "recon", "kl", "neg_elbo")  # the scalar terms averaged over an epoch (+ the objective's logged)


class TrainingDivergedError(FloatingPointError):
    """The loss became NaN or infinite; the message names the step and how to avoid it."""


@dataclass
class TrainResult:
    """What :func:`train` returns.

    Attributes
    ----------
    model : the trained model, in eval mode, on the training device: a built-in VAE, or a trained deep copy of
        ``train``'s ``model``.
    history : one dict per epoch: ``epoch``, ``seconds``, the schedule values, ``train_*`` and ``val_*``
        terms (loss, recon, kl, neg_elbo and the objective's logged terms, e.g. a total correlation: batch means in
        nats) and ``val_kl_per_factor`` (list of d).
    config : the normalised training config.
    key : the cache key; ``load_model(key)`` (``load_model(key, model=...)`` for a custom model) loads it again.
    path : the run folder holding ``checkpoint.pt`` and ``config.json``.
    cached : True when the finished run was loaded from the cache and no training step ran.
    epochs_trained : epochs trained by this call (0 when cached; fewer than ``epochs`` after a resume).
    """

    model: VAEModel
    history: list[dict]
    config: dict
    key: str
    path: Path
    cached: bool
    epochs_trained: int


# ----------------------------------------------------------------------------- training


def train(config: dict, data, validation=None, *, model: VAEModel | None = None,
          cache_dir: str | os.PathLike | None = None, force: bool = False, device: str | torch.device | None = None,
          progress: bool = True) -> TrainResult:
    """Train a VAE, or reuse the cached run with the same config, data, initial model and training code.

    Parameters
    ----------
    config : training config (module docstring); its ``model`` entry may be omitted when ``model`` is given.
    data : training images: ImageData, or a tensor/array (n, *input_shape): float with values in [0, 1], or
        uint8 pixels 0-255, kept as uint8 in memory (4x less than float32) and divided by 255 batch by batch
        (the same numbers as converting first, so the same weights; the cache key differs).
    validation : validation images (same kinds), evaluated after every epoch; or None.
    model : a custom model of the contract to train (a ``torch.nn.Module`` with ``log_likelihood``), or None for
        the built-in architecture of ``config["model"]``. Training starts from a deep copy of it.
    cache_dir : cache folder (see :func:`resolve_cache_dir`).
    force : delete this run's checkpoint (corrupt or not) and train from scratch.
    device : ``"cuda"``/``"cpu"``/torch.device; default CUDA when available, else the CPU.
    progress : a tqdm bar and one summary line per epoch on stderr.

    Raises
    ------
    CheckpointError
        The run's checkpoint is unreadable or does not match (left in place; the message ends with the fix,
        :data:`vaeinfo.training.checkpoint.FIX`).
    TrainingDivergedError
        The loss became NaN/inf; the message names the step.
    ValueError
        Bad config, or data of the wrong shape, with NaN/inf values or with fewer examples than one batch of the
        objective holds at least (:func:`vaeinfo.models.objectives.min_batch`).
    TypeError
        ``model`` does not satisfy the contract for training; the message names what it lacks.
    """
    if model is not None:
        check_model(model, trainable=True)
    cfg = normalize_config(config, model)
    shape, name = tuple(cfg["model"]["input_shape"]) if model is None else input_shape(model), model_name(cfg["model"])
    x = _checked_images(data, shape, name, "data", cfg["objective"])
    x_val = None if validation is None else _checked_images(validation, shape, name, "validation", cfg["objective"])
    ingredients = key_ingredients(cfg, x, x_val, model)
    key = run_key(cfg, ingredients)
    cache = resolve_cache_dir(cache_dir)
    folder = cache / "models" / key
    path = folder / CHECKPOINT
    device = _pick_device(device)
    waiting = f"vaeinfo: waiting for another process that is training {display_path(folder)}" if progress else None
    with file_lock(cache / "locks" / f"{key}.lock", waiting):  # one writer per run: a second caller then reuses it
        if force:
            path.unlink(missing_ok=True)
        if path.exists():
            state = _resume(path, key, cfg, device, model)
            if state.epoch >= cfg["epochs"]:
                _say(progress, f"vaeinfo: reusing the trained model in {display_path(folder)} "
                               f"(pass force=True to retrain)")
                return TrainResult(state.model.eval(), state.history, cfg, key, folder, True, 0)
            _say(progress, f"vaeinfo: resuming {display_path(folder)} after epoch {state.epoch}/{cfg['epochs']}")
        else:
            state = _fresh(cfg, device, model)
            atomic_write_json(folder / CONFIG_JSON, {"key": key, **ingredients})
        cpu_threads = configure_cpu()
        state.threads = _resumed_threads(state, cpu_threads if device.type == "cpu" else None, path)
        warn_if_bf16_emulated(cfg.get("precision", "fp32"), device)
        first = state.epoch
        _run_epochs(state, cfg, x.to(device), None if x_val is None else x_val.to(device), key, path, progress)
    return TrainResult(state.model.eval(), state.history, cfg, key, folder, False, cfg["epochs"] - first)


def _resumed_threads(state: TrainState, now: int | None, path: Path) -> int | None:
    """The thread count to record for the run: ``now`` for a fresh run or one resumed with the count its first
    epochs had; None (mixed) otherwise, with a warning when a CPU run resumes with another intra-op thread count:
    reductions split by thread may round differently, so the weights need not be bitwise an uninterrupted run's."""
    if state.epoch == 0 or state.threads == now:
        return now
    if state.threads is not None and now is not None:
        warnings.warn(f"{display_path(path)}: its first epochs trained with {state.threads} CPU thread(s), this "
                      f"process resumes it with {now}; the weights may differ in their last bits from an "
                      f"uninterrupted run (set OMP_NUM_THREADS={state.threads} before starting Python to resume "
                      f"bitwise)", stacklevel=3)
    return None


def _run_epochs(state: TrainState, cfg: dict, x: torch.Tensor, x_val: torch.Tensor | None, key: str, path: Path,
                progress: bool) -> None:
    """Train from ``state.epoch`` to ``cfg["epochs"]``, appending to the history and checkpointing each epoch."""
    steps = len(batch_slices(len(x), cfg["batch_size"], min_batch(cfg["objective"])))
    val_seed = _seeds(cfg["seed"])["validation"]
    with tqdm(total=cfg["epochs"] * steps, initial=state.epoch * steps, desc=key[:-12],
              unit="batch", file=sys.stderr, mininterval=PROGRESS_INTERVAL_S, ncols=100,
              disable=not progress) as bar:
        while state.epoch < cfg["epochs"]:
            start = time.perf_counter()
            record = {"epoch": state.epoch + 1}
            record |= _prefixed("train_", _train_epoch(state, cfg, x, bar), cfg["objective"])
            if x_val is not None:
                val = evaluate(state.model, x_val, cfg["objective"], t=state.epoch + 1, seed=val_seed,
                               auxiliary=state.auxiliary)
                record |= _prefixed("val_", val, cfg["objective"])
            record["seconds"] = time.perf_counter() - start
            state.history.append(record)
            state.epoch += 1
            save_checkpoint(path, state, key, cfg)
            if progress:
                bar.write(_summary(record, cfg["epochs"]), file=sys.stderr)


def _train_epoch(state: TrainState, cfg: dict, x: torch.Tensor, bar: tqdm) -> dict:
    """One pass over ``x`` in a fresh random order; returns the mean terms and the schedule values at its end.

    Step b (from 0) of epoch e takes the objective's schedules (a beta warm-up) at progress e + (b + 1) / steps
    epochs, as Chen et al.'s ``anneal_kl`` counts the iteration before its step: the first step of a warm-up of
    W steps trains with beta / W, the epoch's last step with the value the history records for the epoch.
    """
    model, optimizer = state.model, state.optimizer
    model.train()
    slices = batch_slices(len(x), cfg["batch_size"], min_batch(cfg["objective"]))
    steps = len(slices)
    order = torch.randperm(len(x), generator=state.order).to(x.device)
    summed = _summed(cfg["objective"])
    sums = torch.zeros(len(summed), dtype=torch.float64, device=x.device)
    for b, idx in enumerate(order[s] for s in slices):
        batch = to_unit(x[idx])
        terms = _batch_terms(model, batch, cfg["objective"], state.epoch + (b + 1) / steps, state.noise, len(x),
                             state.auxiliary, cfg.get("precision", "fp32"))
        if not torch.isfinite(terms["loss"]):
            raise TrainingDivergedError(_divergence_message(terms, cfg, state.epoch, b, steps))
        optimizer.zero_grad(set_to_none=True)
        terms["loss"].backward()
        optimizer.step()
        if state.auxiliary is not None:  # after the VAE's step, on the same batch (objectives.base.Auxiliary)
            state.auxiliary_optimizer.zero_grad(set_to_none=True)
            terms[auxiliary_spec(cfg["objective"]).loss_term].backward()
            state.auxiliary_optimizer.step()
        sums += torch.stack([terms[k].detach() for k in summed]) * len(idx)
        bar.update()
    means = dict(zip(summed, (sums / len(x)).tolist()))
    return {**means, **schedule_values(cfg["objective"], state.epoch + 1)}


def _batch_terms(model: VAEModel, x: torch.Tensor, objective: dict, t: float, noise: torch.Generator,
                 dataset_size: int, auxiliary_net: torch.nn.Module | None = None, precision: str = "fp32") -> dict:
    """Objective terms of one batch: encode, sample z with ``noise``, decode, log-likelihood, the objective.

    ``precision`` (:mod:`vaeinfo.training.config`): with ``"bf16"`` the networks -- the model's ``encode`` and
    ``decode`` and the auxiliary network, wherever the objective calls them too -- run under bfloat16 autocast and
    hand float32 outputs on (:class:`_MixedPrecision`), so z, the log-likelihood and the objective's terms are FP32
    arithmetic; ``"fp32"`` runs everything as it is.
    """
    if precision == "bf16":
        model = _MixedPrecision(model, x.device.type)
        auxiliary_net = None if auxiliary_net is None else _MixedPrecision(auxiliary_net, x.device.type)
    mu, logvar = model.encode(x)
    z = reparameterize(mu, logvar, noise)
    log_lik = model.log_likelihood(x, model.decode(z))
    return batch_terms(objective, Batch(model, x, mu, logvar, z, log_lik, noise, dataset_size, auxiliary_net), t)


class _MixedPrecision:
    """A network seen through bfloat16 autocast: its forward passes (``encode``, ``decode``, a call) run under
    ``torch.autocast(dtype=torch.bfloat16)`` on ``device_type`` and return float32 tensors; every other attribute
    (``latent_dim``, ``mean``, ``log_likelihood``, ...) is the network's own and runs in FP32."""

    def __init__(self, net, device_type: str):
        self._net, self._device_type = net, device_type

    def __getattr__(self, name: str):
        return getattr(self._net, name)

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        return self._forward(self._net.encode, x)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return self._forward(self._net.decode, z)

    def __call__(self, *args: torch.Tensor) -> torch.Tensor:
        return self._forward(self._net, *args)

    def _forward(self, function, *args: torch.Tensor):
        """``function(*args)`` under bfloat16 autocast; its tensor (or tuple of tensors) cast to float32."""
        with torch.autocast(self._device_type, dtype=torch.bfloat16):
            out = function(*args)
        return tuple(t.float() for t in out) if isinstance(out, (tuple, list)) else out.float()


def batch_slices(n: int, size: int, least: int = 1) -> list[slice]:
    """Consecutive slices of ``range(n)``, ``size`` long; a last one shorter than ``least`` joins the one before."""
    bounds = [*range(0, n, size), n]
    if len(bounds) > 2 and bounds[-1] - bounds[-2] < least:
        del bounds[-2]
    return [slice(a, b) for a, b in zip(bounds, bounds[1:])]


def _summed(objective: dict) -> tuple[str, ...]:
    """The scalar terms averaged over an epoch: loss, recon, kl, neg_elbo and the objective's logged terms."""
    return (*_SUMMED, *logged_terms(objective))


def evaluate(model: VAEModel, data, objective: dict, *, t: float = math.inf, batch_size: int = 256,
             seed: int = 0, auxiliary: torch.nn.Module | None = None) -> dict:
    """Mean objective terms over ``data`` without training, under :func:`vaeinfo.models.contract.evaluating`.

    ``model`` is a built-in VAE or any model of the contract with ``log_likelihood`` (a ``torch.nn.Module``).
    ``objective`` is an objective config, its schedules taken at progress ``t`` epochs (default: their
    end). z is sampled with a generator seeded by ``seed``, so the result is a deterministic function of
    the weights. Returns floats ``loss``, ``recon``, ``kl``, ``neg_elbo`` (nats per example), the schedule
    values, and ``kl_per_factor`` as a list of d floats. ``auxiliary`` is the network the objective trains beside
    the VAE (FactorVAE's discriminator), which its terms need. A ValueError when ``data`` or ``batch_size`` holds
    fewer examples than a batch of the objective needs (:func:`vaeinfo.models.objectives.min_batch`).
    """
    objective = normalize_objective_config(objective)
    device = device_of(check_model(model, trainable=True))
    x = as_images(data)
    if len(x) == 0:
        raise ValueError("evaluate needs at least one example")
    check_min_batch(objective, len(x), "len(data)")
    check_min_batch(objective, batch_size, "batch_size")
    noise = torch.Generator(device=device).manual_seed(seed)
    summed = _summed(objective)
    sums = torch.zeros(len(summed), dtype=torch.float64, device=device)
    kl_sum = torch.zeros(model.latent_dim, dtype=torch.float64, device=device)
    with evaluating(model):
        for part in batch_slices(len(x), batch_size, min_batch(objective)):
            batch = to_unit(x[part].to(device))
            terms = _batch_terms(model, batch, objective, t, noise, len(x), auxiliary)
            sums += torch.stack([terms[k] for k in summed]) * len(batch)
            kl_sum += terms["kl_per_factor"] * len(batch)
    means = dict(zip(summed, (sums / len(x)).tolist()))
    return {**means, **schedule_values(objective, t), "kl_per_factor": (kl_sum / len(x)).tolist()}


# ----------------------------------------------------------------------------- state, checkpoints


def _seeds(seed: int) -> dict[str, int]:
    """Independent seeds for the weights, the data order, the noise and validation, derived from ``seed``."""
    states = np.random.SeedSequence(seed).generate_state(5, dtype=np.uint32)  # a prefix of a longer draw is
    return dict(zip(("weights", "order", "noise", "validation", "auxiliary"), map(int, states)))  # the same draw


def _fresh(cfg: dict, device: torch.device, template: VAEModel | None = None) -> TrainState:
    """A new model (built from the config, or a deep copy of ``template``), Adam and seeded generators at epoch 0."""
    seeds = _seeds(cfg["seed"])
    model = build_model(cfg["model"], seed=seeds["weights"]) if template is None else copy.deepcopy(template)
    model = model.to(device)
    if len(input_shape(model)) == 3:
        model = model.to(memory_format=torch.channels_last)  # 10-20 % faster convolutions on the CPU
    optimizer = torch.optim.Adam(model.parameters(), lr=cfg["optimizer"]["lr"],
                                 eps=cfg["optimizer"].get("eps", ADAM_EPS), fused=True)  # fused: one kernel per step
    order = torch.Generator().manual_seed(seeds["order"])
    noise = torch.Generator(device=device).manual_seed(seeds["noise"])
    spec = auxiliary_spec(cfg["objective"])
    if spec is None:
        return TrainState(model, optimizer, order, noise, [], 0)
    net = spec.build(cfg["objective"], model.latent_dim, torch.Generator().manual_seed(seeds["auxiliary"]))
    net = net.to(device)
    return TrainState(model, optimizer, order, noise, [], 0, net, spec.optimizer(cfg["objective"], net.parameters()))


def _resume(path: Path, key: str, cfg: dict, device: torch.device, template: VAEModel | None) -> TrainState:
    """The run's checkpoint in a fresh state (:func:`_fresh`), after checking that it belongs to this run."""
    payload = read_checkpoint(path)
    if payload["key"] != key or json.loads(payload["config"]) != cfg:
        raise CheckpointError(f"{path} belongs to a different run (key {payload['key']}, expected {key}): it was "
                              f"copied or edited by hand. {FIX}")
    state = _fresh(cfg, device, template)
    load_weights(state.model, payload, path)
    state.epoch, state.history = int(payload["epoch"]), list(payload["history"])
    state.threads = payload.get("threads")
    if state.epoch < cfg["epochs"]:
        if payload["device"] != device.type:
            raise CheckpointError(f"{path} was interrupted on {payload['device']}; resume it there "
                                  f"(device={payload['device']!r}). {FIX}")
        try:
            state.optimizer.load_state_dict(payload["optimizer"])
            state.order.set_state(payload["rng"]["order"])
            state.noise.set_state(payload["rng"]["noise"])
            if state.auxiliary is not None:
                state.auxiliary.load_state_dict(payload["auxiliary"]["model"])
                state.auxiliary_optimizer.load_state_dict(payload["auxiliary"]["optimizer"])
        except (RuntimeError, ValueError, KeyError, TypeError) as exc:
            raise CheckpointError(f"{path} has an optimizer or RNG state that does not fit ({exc}). {FIX}") from None
    return state


# ----------------------------------------------------------------------------- small helpers


def _pick_device(device: str | torch.device | None) -> torch.device:
    if device is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def _checked_images(data, shape: tuple[int, ...], model: str, name: str, objective: dict) -> torch.Tensor:
    """``data`` as images (:func:`as_images`) (n, *shape), finite, n >= 1 and at least one batch of ``objective``
    (:func:`min_batch`); else a ValueError naming ``model`` or the objective."""
    x = as_images(data)
    if tuple(x.shape[1:]) != shape or len(x) == 0:
        raise ValueError(f"{name} must be a non-empty batch of shape (n, {', '.join(map(str, shape))}) for the "
                         f"{model} model, got {tuple(x.shape)}")
    check_min_batch(objective, len(x), f"len({name})")
    if x.is_floating_point() and not torch.isfinite(x).all():
        raise ValueError(f"{name} contains NaN or inf values")
    return x


def _prefixed(prefix: str, terms: dict, objective: dict) -> dict:
    """Prefix the loss terms (not the schedule values) with ``prefix``."""
    keys = {*_summed(objective), "kl_per_factor"}
    return {(prefix + k if k in keys else k): v for k, v in terms.items()}


def _summary(record: dict, epochs: int) -> str:
    """One log line per epoch, e.g. ``epoch 3/100  loss 95.1 (recon 70.2, kl 4.1)  val 96.0 ...``."""
    line = (f"epoch {record['epoch']}/{epochs}  loss {record['train_loss']:.2f} (recon {record['train_recon']:.2f}, "
            f"kl {record['train_kl']:.2f})")
    if "val_loss" in record:
        line += f"  val loss {record['val_loss']:.2f} (recon {record['val_recon']:.2f}, kl {record['val_kl']:.2f})"
    schedule = "  ".join(f"{k} {record[k]:g}" for k in ("beta", "gamma", "capacity") if k in record)
    return f"{line}  {schedule}  {record['seconds']:.1f} s"


def _divergence_message(terms: dict, cfg: dict, epoch: int, b: int, steps: int) -> str:
    """The TrainingDivergedError text: where it happened, the terms, and what to change."""
    loss, recon, kl = (terms[k].item() for k in ("loss", "recon", "kl"))
    return (f"training diverged: the loss is {loss} at epoch {epoch + 1}, step {b + 1}/{steps} (global step "
            f"{epoch * steps + b + 1}; recon {recon:.4g}, kl {kl:.4g}). Fix: lower the learning rate (now "
            f"{cfg['optimizer']['lr']:g}) or beta/gamma, add a warm-up (objective warmup_epochs), or check that "
            f"the pixel values lie in [0, 1]. Checkpoints of finished epochs, if any, are kept.")


def _say(progress: bool, message: str) -> None:
    if progress:
        print(message, file=sys.stderr, flush=True)
