"""The model contract: what every part of vaeinfo needs from a VAE, as a ``typing.Protocol``.

Any object with these members works with :func:`vaeinfo.training.encode.encode`, :mod:`vaeinfo.info.influence`
(top-k reconstructions, traversals) and :mod:`vaeinfo.viz.widgets`; :func:`vaeinfo.training.train.train` also
needs ``log_likelihood`` and a ``torch.nn.Module`` (parameters to optimise, a ``state_dict`` to checkpoint).
The models of :mod:`vaeinfo.models.architectures` satisfy it, and so does a hand-written ``torch.nn.Module`` such as::

    class Tiny(nn.Module):
        latent_dim = 2
        config = {"input_shape": [4]}
        def __init__(self):
            super().__init__()
            self.enc, self.dec = nn.Linear(4, 4), nn.Linear(2, 4)
        def encode(self, x):                      # (n, 4) -> (mu, logvar), each (n, 2)
            return self.enc(x).chunk(2, dim=1)
        def decode(self, z):                      # (n, 2) -> (n, 4)
            return self.dec(z)

Members
-------
latent_dim : int, d.
config : JSON-able dict describing the model; it must hold ``"input_shape"``, the shape of one example.
encode(x) : x (n, *input_shape) -> (mu, logvar), each (n, d): q(z|x) = N(mu, diag(exp(logvar))).
decode(z) : z (n, d) -> likelihood parameters (n, *input_shape).

Optional members
----------------
mean(params) : E[x|z] from ``decode``'s output (default: the output itself, i.e. a Gaussian mean).
log_likelihood(x, params) : log p(x|z) per example in nats, (n,); needed for training.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Protocol, runtime_checkable

import torch


@runtime_checkable
class VAEModel(Protocol):
    """The members every vaeinfo function may use (see the module docstring)."""

    latent_dim: int
    config: dict

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]: ...

    def decode(self, z: torch.Tensor) -> torch.Tensor: ...


def check_model(model: Any, *, trainable: bool = False) -> VAEModel:
    """Return ``model`` if it satisfies the contract, else raise TypeError naming what it lacks.

    ``trainable=True`` also asks for ``log_likelihood`` and ``parameters()``, and for a ``torch.nn.Module``
    (what training needs: it checkpoints the ``state_dict`` and moves the model to the training device).
    """
    needed = ["latent_dim", "config", "encode", "decode"] + (["log_likelihood", "parameters"] if trainable else [])
    missing = [name for name in needed if not hasattr(model, name)]
    if not missing and trainable and not isinstance(model, torch.nn.Module):
        missing = ["torch.nn.Module as a base class"]
    if not missing and not isinstance(model.config, dict):
        missing = ["config (a dict)"]
    if not missing and "input_shape" not in model.config:
        missing = ['config["input_shape"]']
    if missing:
        raise TypeError(f"{type(model).__name__} does not satisfy the vaeinfo model contract: it lacks "
                        f"{', '.join(missing)}. See vaeinfo.models.contract for the members a model needs.")
    return model


def input_shape(model: VAEModel) -> tuple[int, ...]:
    """The shape of one example, ``tuple(model.config["input_shape"])``."""
    return tuple(int(s) for s in model.config["input_shape"])


def decode_mean(model: VAEModel, z: torch.Tensor) -> torch.Tensor:
    """E[x|z] for codes z (n, d): ``model.mean(model.decode(z))``, or ``model.decode(z)`` without ``mean``."""
    params = model.decode(z)
    return model.mean(params) if hasattr(model, "mean") else params


def device_of(model: VAEModel) -> torch.device:
    """The device of the model's first parameter (the CPU for a model without parameters)."""
    parameters = getattr(model, "parameters", None)
    first = next(iter(parameters()), None) if callable(parameters) else None
    return torch.device("cpu") if first is None else first.device


@contextmanager
def evaluating(model: VAEModel) -> Iterator[None]:
    """Inside the block: ``torch.inference_mode``, and a ``torch.nn.Module`` in eval mode.

    The train/eval mode of the module and of each of its submodules is restored afterwards (a model may hold a
    submodule in eval mode while training, e.g. a frozen part); a model that is not a module is left alone.
    """
    modes = [(m, m.training) for m in model.modules()] if isinstance(model, torch.nn.Module) else []
    if modes:
        model.eval()
    try:
        with torch.inference_mode():
            yield
    finally:
        if modes:
            model.train(modes[0][1])  # the root's own train(), with whatever an override of it does
            for module, training in modes[1:]:
                module.training = training
