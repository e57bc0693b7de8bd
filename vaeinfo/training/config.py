"""The training config: a plain JSON-able dict, checked and completed with the defaults.

    {"model": {"architecture": "mnist_conv", "latent_dim": 128},        # see vaeinfo.models.architectures
     "objective": {"name": "beta_vae", "beta": 6.0, "warmup_epochs": 0},  # see vaeinfo.models.objectives
     "optimizer": {"name": "adam", "lr": 1e-3, "eps": 1e-8},
     "batch_size": 100, "epochs": 100, "seed": 0, "precision": "fp32"}

Everything but ``model`` has the defaults shown (the paper's settings; beta defaults to 1). ``eps`` is Adam's
epsilon, added to sqrt(v_hat) in the denominator of each step: torch's default :data:`ADAM_EPS` = 1e-8, which the
normalised config leaves out (configs from before the option normalise, and enter cache keys, as they did). Keras
(the authors' notebook) uses 1e-7, added to sqrt(v) before the bias correction, i.e. torch's eps =
1e-7 / sqrt(1 - 0.999^t) at step t (3.2e-6 at the first step, within 10 % of 1e-7 from step 1,751 on: 3.5 epochs
of MNIST); ``eps`` here is always torch's.

``precision`` is the arithmetic of the training step's forward pass and loss: ``"fp32"`` (the default, which the
normalised config leaves out like ``eps``), or ``"bf16"``: mixed precision, the networks' forward passes (the
model's ``encode`` and ``decode``, an objective's auxiliary network) under ``torch.autocast(dtype=torch.bfloat16)`` --
convolutions and matrix products in bfloat16 (8 bits of mantissa, FP32's range) -- and their outputs cast to FP32:
the sample of z, the log-likelihood, the objective's terms and the loss are FP32 arithmetic, and so are the weights,
gradients and Adam's state -- about 1.25x the FP32 speed of mnist_conv on a CPU with AVX512_BF16 (README, "Speed
work"), results a little different from FP32's (README). On a CPU without native bfloat16 (neither AVX512_BF16 nor
AMX) it is emulated and many times slower: ``train()`` warns (:func:`vaeinfo.training.cpu.warn_if_bf16_emulated`).
The validation pass, encoding and the MI estimate stay FP32 whatever the training precision.

Training a model of one's own (any ``torch.nn.Module`` of the contract, :mod:`vaeinfo.models.contract`, passed
as ``train(..., model=...)``): the ``model`` entry may then be omitted; it is the model's description
(:func:`describe_model`), e.g. ``{"custom": "mypackage.nets.Tiny", "input_shape": [1, 4, 4]}``.
"""

from __future__ import annotations

import json
import numbers

from ..models.architectures import normalize_model_config
from ..models.contract import VAEModel, check_model
from ..models.objectives import check_min_batch, fit_latent_dim, normalize_objective_config
from ..models.objectives.base import checked_number

OPTIMIZERS = ("adam",)
PRECISIONS = ("fp32", "bf16")
ADAM_EPS = 1e-8  # torch's default
_DEFAULTS = {"objective": {}, "optimizer": {"name": "adam", "lr": 1e-3, "eps": ADAM_EPS}, "batch_size": 100,
             "epochs": 100, "seed": 0, "precision": "fp32"}


def normalize_config(config: dict, model: VAEModel | None = None) -> dict:
    """Check a training config and fill in defaults (module docstring); returns a new plain dict.

    With a custom ``model`` the ``model`` entry becomes :func:`describe_model` of it; a ``model`` entry given
    as well must equal that description (e.g. the ``config`` of an earlier run of the same model).

    Raises
    ------
    ValueError
        Missing ``model``, unknown keys or optimizer (the valid ones are listed), a learning rate or eps that is
        not a positive number, non-positive sizes, a ``batch_size`` below the objective's minimum batch, objective
        options that do not fit the latent code (mi_regularised's ``c_dims``), a ``model`` entry that does not
        describe the custom model, an unknown precision.
    TypeError
        A custom model that does not satisfy the contract, or whose ``config`` is not JSON-able.
    """
    if not isinstance(config, dict) or (model is None and "model" not in config):
        raise ValueError(f"a training config is a dict with a 'model' entry, got {config!r}")
    unknown = sorted(set(config) - {"model", *_DEFAULTS})
    if unknown:
        raise ValueError(f"unknown training config key(s) {unknown}; valid keys: {['model', *_DEFAULTS]}")
    cfg = {**_DEFAULTS, **config}
    optimizer = {**_DEFAULTS["optimizer"], **cfg["optimizer"]} if isinstance(cfg["optimizer"], dict) else {}
    if optimizer.get("name") not in OPTIMIZERS or set(optimizer) != {"name", "lr", "eps"}:
        raise ValueError(f"optimizer must be {{'name': one of {OPTIMIZERS}, 'lr': float, 'eps': float (optional)}}, "
                         f"got {cfg['optimizer']!r}")
    lr, eps = (checked_number(optimizer[key], f"optimizer {key} ({what})", positive=True)
               for key, what in (("lr", "the learning rate"), ("eps", "Adam's eps")))
    out = {
        "model": normalize_model_config(cfg["model"]) if model is None else _custom_entry(cfg, model),
        "objective": normalize_objective_config(cfg["objective"]),
        "optimizer": {"name": optimizer["name"], "lr": lr, "eps": eps},
    }
    if out["optimizer"]["eps"] == ADAM_EPS:
        del out["optimizer"]["eps"]  # the default stays out (module docstring)
    for key, least in (("batch_size", 1), ("epochs", 1), ("seed", 0)):
        value = cfg[key]
        if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < least:
            raise ValueError(f"{key} must be an integer >= {least}, got {value!r}")
        out[key] = int(value)
    check_min_batch(out["objective"], out["batch_size"], "batch_size")
    latent_dim = out["model"]["latent_dim"] if model is None else model.latent_dim
    out["objective"] = fit_latent_dim(out["objective"], latent_dim)
    if cfg["precision"] not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, got {cfg['precision']!r}")
    if cfg["precision"] != "fp32":
        out["precision"] = cfg["precision"]  # the default stays out (module docstring)
    return out


def describe_model(model: VAEModel) -> dict:
    """The config entry of a custom model, as plain JSON: ``model.config`` with ``"custom": "<module>.<qualname>"``."""
    cls = type(check_model(model))
    try:
        return json.loads(json.dumps({**model.config, "custom": f"{cls.__module__}.{cls.__qualname__}"}))
    except (TypeError, ValueError) as exc:
        raise TypeError(f"the config of a {cls.__name__} model must be JSON-able ({exc})") from None


def _custom_entry(cfg: dict, model: VAEModel) -> dict:
    """The ``model`` entry for a custom model: its description, which a given entry must equal."""
    description = describe_model(model)
    if cfg.get("model", description) != description:
        raise ValueError(f"with model=, the config's 'model' entry must be omitted or equal the model's description "
                         f"{description}, got {cfg['model']!r}")
    return description
