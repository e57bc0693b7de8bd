"""VAE architectures behind one contract, rebuilt from a plain JSON-able config.

Members of :class:`VAE`, which satisfies :class:`vaeinfo.models.contract.VAEModel` (d = ``model.latent_dim``,
``model.input_shape`` = (C, H, W) or (D,)):

- ``encode(x)``: x (n, *input_shape) -> (mu, logvar), each (n, d): the factorised Gaussian posterior
  q(z|x) = N(mu, diag(exp(logvar))).
- ``decode(z)``: z (n, d) -> likelihood parameters (n, *input_shape): the mean for ``"gaussian"`` (with
  one learned scalar standard deviation, see below), the logits for ``"bernoulli"``.
- ``log_likelihood(x, params)``: log p(x|z) per example, summed over pixels, in nats, shape (n,).
- ``config``: the normalised config dict (:func:`normalize_model_config`); ``build_model(model.config)`` rebuilds
  it.

Architectures (``config["architecture"]``):

- ``mnist_conv`` -- the paper's MNIST model (Liu et al. 2020, from the authors' TF2 notebook):
  Conv(32, k4, s2, ReLU) -> Conv(32, k4, s2, ReLU) -> Flatten -> Dense 256 ReLU -> Dense 2d;
  Dense 256 ReLU -> Dense 7*7*32 ReLU -> ConvT(32, k4, s2, ReLU) -> ConvT(1, k4, s2) (+ ReLU in the authors'
  notebook: ``output_activation="relu"``). Padding 1 on every (transposed) convolution reproduces TF 'same':
  28 -> 14 -> 7 and 7 -> 14 -> 28. Latent 128.
- ``conv64`` -- the 64x64 layout of the beta-VAE / beta-TCVAE reference code: four Conv(k4, s2) with
  32, 32, 64, 64 channels -> FC 256 -> 2d, mirrored decoder. Latent 32, RGB input.
- ``mlp`` -- fully connected, for flat or small inputs (8x8 digits, EEG features): Flatten -> hidden
  layers with ReLU (or softplus: ``activation="softplus"``) -> 2d; mirrored decoder. ``input_shape`` is required.
  ``{"architecture": "mlp", "input_shape": [1, 28, 28], "hidden": [500, 500], "activation": "softplus",
  "likelihood": "bernoulli"}`` is the MI-regularised VAE of Ducau & Trénous (fducau/infoVAE): MLP 784-500-500
  with softplus to (mu, log sigma^2), the mirrored decoder with a sigmoid (Bernoulli) output, Xavier-uniform
  weights and zero biases. (Their code has separate output matrices for mu and log sigma^2, Xavier-initialised
  with fan-out d each; here one 500 x 2d layer, fan-out 2d: a bound of sqrt(6 / (500 + 2d)) instead of
  sqrt(6 / (500 + d)), 1 % smaller for d = 10.)

The Gaussian likelihood's scalar standard deviation sigma (shared by all pixels) is learned with the weights, in
one of two parameterisations (``sigma_parameterisation``):

- ``"log_sigma"`` (default): the parameter ``log_sigma`` (initial value ``init_log_sigma``), sigma = exp(log_sigma)
  stays positive;
- ``"sigma"``: the parameter ``sigma`` itself (initial value ``init_sigma``, no constraint), as the authors' TF2
  notebook does (``tf.Variable(1.0)``); the log-likelihood takes log(sigma) of it like their loss
  (``tf.math.log(model.sigma)``), so a step that made sigma <= 0 would give a NaN loss, as in TF, which stops the
  training loop with :class:`vaeinfo.training.train.TrainingDivergedError`. (Below the optimum, sigma^2 = the mean
  squared error per pixel, the loss's gradient D / sigma - ||x - mean||^2 / sigma^3 is negative and pushes sigma
  back up; Adam's steps, about lr = 1e-3 each, are small against the sigma of about 0.1 that MNIST's error gives.)

Weights get Glorot-uniform initialisation with zero biases (the Keras defaults of the paper's code),
drawn from a generator seeded by ``build_model(config, seed)`` (or ``VAE(config, seed)``).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from ..checks import as_number, is_integer

LIKELIHOODS = ("gaussian", "bernoulli")
SIGMA_PARAMETERISATIONS = ("log_sigma", "sigma")
OUTPUT_ACTIVATIONS = ("linear", "relu")
ACTIVATIONS = {"relu": nn.ReLU, "softplus": nn.Softplus}  # the hidden layers' activation (mlp); the first is default
_COMMON_KEYS = ("architecture", "input_shape", "latent_dim", "hidden", "likelihood", "output_activation")
_INIT_KEYS = {"log_sigma": "init_log_sigma", "sigma": "init_sigma"}  # each parameterisation's initial value
_DEFAULTS = {
    "mnist_conv": {"input_shape": [1, 28, 28], "latent_dim": 128, "channels": [32, 32], "hidden": [256]},
    "conv64": {"input_shape": [3, 64, 64], "latent_dim": 32, "channels": [32, 32, 64, 64], "hidden": [256]},
    "mlp": {"input_shape": None, "latent_dim": 10, "hidden": [512, 256]},
}
ARCHITECTURES = tuple(_DEFAULTS)
LOG_2PI = math.log(2 * math.pi)


def normalize_model_config(config: dict) -> dict:
    """Check a model config and fill in the defaults of its architecture; returns a new plain dict.

    Keys: ``architecture`` (one of :data:`ARCHITECTURES`), ``input_shape`` (list of ints: [C, H, W] for the
    conv models, H and W divisible by 2**len(channels); any shape for ``mlp``), ``latent_dim``, ``hidden``
    (widths of the dense layers, encoder order), ``channels`` (conv models only), ``likelihood`` (one of
    :data:`LIKELIHOODS`, default ``"gaussian"``), ``output_activation`` (the decoder's last activation, one of
    :data:`OUTPUT_ACTIVATIONS`, default ``"linear"``; ``"relu"`` for a gaussian likelihood only) and, gaussian
    only, ``sigma_parameterisation`` (one of :data:`SIGMA_PARAMETERISATIONS`, default ``"log_sigma"``) with its
    initial value: ``init_log_sigma`` (default 0.0) for ``"log_sigma"``, ``init_sigma`` (> 0, default 1.0) for
    ``"sigma"``; ``mlp`` only, ``activation`` (the hidden layers' activation, one of :data:`ACTIVATIONS`, default
    ``"relu"``). The defaults are filled in, except those of ``output_activation``, ``sigma_parameterisation`` and
    ``activation``, which are left out: a config written before these options existed normalises (and so enters
    cache keys) exactly as it did.

    Raises
    ------
    ValueError
        Unknown architecture, likelihood, option or key (the message lists the valid ones), or a bad size.
    """
    if not isinstance(config, dict) or "architecture" not in config:
        raise ValueError(f"a model config is a dict with an 'architecture' key (one of {ARCHITECTURES}), "
                         f"got {config!r}")
    arch = config["architecture"]
    if arch not in _DEFAULTS:
        raise ValueError(f"unknown architecture {arch!r}; choose one of {ARCHITECTURES}")
    likelihood = _choice(config, "likelihood", LIKELIHOODS)
    sigma = _choice(config, "sigma_parameterisation", SIGMA_PARAMETERISATIONS) if likelihood == "gaussian" else None
    valid = set(_COMMON_KEYS) | set(_DEFAULTS[arch]) | ({"activation"} if arch == "mlp" else set())
    if sigma is not None:
        valid |= {"sigma_parameterisation", _INIT_KEYS[sigma]}
    unknown = sorted(set(config) - valid)
    if unknown:
        raise ValueError(f"unknown key(s) {unknown} in the {arch} config ({likelihood} likelihood"
                         f"{f', {sigma} parameterisation' if sigma else ''}); valid keys: {sorted(valid)}")
    cfg = {"architecture": arch, **_DEFAULTS[arch], "likelihood": likelihood, **config}
    if _choice(config, "output_activation", OUTPUT_ACTIVATIONS) == "linear":
        cfg.pop("output_activation", None)  # the default stays out (docstring)
    elif likelihood != "gaussian":
        raise ValueError(f"output_activation 'relu' is for a gaussian likelihood's mean; the {likelihood} "
                         f"likelihood's logits need 'linear'")
    if _choice(config, "activation", tuple(ACTIVATIONS)) == "relu":
        cfg.pop("activation", None)  # the default stays out (docstring)
    if sigma is not None:
        cfg.pop("sigma_parameterisation", None)
        cfg.update(_sigma_entry(config, sigma))
    if cfg["input_shape"] is None:
        raise ValueError(f"the {arch} architecture needs 'input_shape', e.g. [1, 8, 8] or [n_features]")
    for key in ("input_shape", "hidden", "channels"):
        if key in cfg:
            cfg[key] = _positive_ints(cfg[key], key)
    cfg["latent_dim"] = _positive_ints([cfg["latent_dim"]], "latent_dim")[0]
    if "channels" in cfg:
        _check_conv_shape(cfg)
    return cfg


class VAE(nn.Module):
    """A VAE built from a config (see :func:`normalize_model_config`); the contract is in the module docstring.

    ``VAE(config, seed)`` draws Glorot-uniform weights and zero biases from a generator seeded by ``seed``
    (a fresh nondeterministic seed when None): the same config and seed give bitwise identical weights.
    The global torch RNG is neither used nor changed.

    Attributes
    ----------
    config : the normalised config dict.
    latent_dim : d, the number of latent factors.
    input_shape : shape of one example, e.g. (1, 28, 28).
    likelihood : ``"gaussian"`` or ``"bernoulli"``.
    sigma_parameterisation : ``"log_sigma"`` or ``"sigma"`` (gaussian), None (bernoulli).
    log_sigma : learned scalar log of the Gaussian likelihood's standard deviation (gaussian, ``"log_sigma"``
        parameterisation).
    sigma : learned scalar standard deviation itself (gaussian, ``"sigma"`` parameterisation).
    """

    def __init__(self, config: dict, seed: int | None = 0):
        super().__init__()
        cfg = normalize_model_config(config)
        self.config = cfg
        self.latent_dim = cfg["latent_dim"]
        self.input_shape = tuple(cfg["input_shape"])
        self.likelihood = cfg["likelihood"]
        gaussian = self.likelihood == "gaussian"
        self.sigma_parameterisation = cfg.get("sigma_parameterisation", "log_sigma") if gaussian else None
        with torch.random.fork_rng(devices=[]):  # the layers' default initialisation draws from the global RNG
            self.encoder, self.decoder = _BUILDERS[cfg["architecture"]](cfg)
        if self.sigma_parameterisation == "log_sigma":
            self.log_sigma = nn.Parameter(torch.tensor(cfg["init_log_sigma"]))
        elif self.sigma_parameterisation == "sigma":
            self.sigma = nn.Parameter(torch.tensor(cfg["init_sigma"]))
        _glorot_init(self, seed)

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """x (n, *input_shape) -> (mu, logvar), each (n, latent_dim)."""
        if tuple(x.shape[1:]) != self.input_shape:
            raise ValueError(f"{self.config['architecture']} model expects input of shape (n, "
                             f"{', '.join(map(str, self.input_shape))}), got {tuple(x.shape)}")
        return self.encoder(x).chunk(2, dim=1)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """z (n, latent_dim) -> likelihood parameters (n, *input_shape): Gaussian mean or Bernoulli logits."""
        if z.ndim != 2 or z.shape[1] != self.latent_dim:
            raise ValueError(f"decode expects latent codes of shape (n, {self.latent_dim}), got {tuple(z.shape)}")
        return self.decoder(z)

    def forward(self, x: torch.Tensor, generator: torch.Generator | None = None):
        """Encode, sample z with :func:`reparameterize`, decode: returns (params, mu, logvar)."""
        mu, logvar = self.encode(x)
        return self.decode(reparameterize(mu, logvar, generator)), mu, logvar

    def log_likelihood(self, x: torch.Tensor, params: torch.Tensor) -> torch.Tensor:
        """log p(x|z) per example in nats, summed over pixels: (n,). ``params`` comes from :meth:`decode`."""
        if self.likelihood == "bernoulli":
            return bernoulli_log_likelihood(x, params)
        if self.sigma_parameterisation == "sigma":
            return gaussian_log_likelihood_sigma(x, params, self.sigma)
        return gaussian_log_likelihood(x, params, self.log_sigma)

    def mean(self, params: torch.Tensor) -> torch.Tensor:
        """E[x|z] from the decoder output: the Gaussian mean itself, or sigmoid(logits) for Bernoulli."""
        return params if self.likelihood == "gaussian" else torch.sigmoid(params)


def build_model(config: dict, seed: int | None = 0) -> VAE:
    """Build a :class:`VAE` from ``config`` with weights drawn from ``seed`` (see :class:`VAE`)."""
    return VAE(config, seed)


def reparameterize(mu: torch.Tensor, logvar: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """z = mu + exp(logvar / 2) * eps, eps ~ N(0, I) drawn from ``generator`` (on mu's device). Shapes (n, d)."""
    eps = torch.randn(mu.shape, generator=generator, device=mu.device, dtype=mu.dtype)
    return torch.addcmul(mu, eps, torch.exp(0.5 * logvar))


def gaussian_log_likelihood(x: torch.Tensor, mean: torch.Tensor, log_sigma: torch.Tensor) -> torch.Tensor:
    """Sum over pixels of log N(x; mean, sigma^2) with a scalar sigma = exp(log_sigma): (n,) nats.

    = -||x - mean||^2 / (2 sigma^2) - D (log sigma + log(2 pi) / 2), D the number of pixels per example.
    """
    dims = x[0].numel()
    squared = (x - mean).square().flatten(1).sum(1)
    return -0.5 * squared * torch.exp(-2.0 * log_sigma) - dims * (log_sigma + 0.5 * LOG_2PI)


def gaussian_log_likelihood_sigma(x: torch.Tensor, mean: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
    """Sum over pixels of log N(x; mean, sigma^2) for a scalar ``sigma`` given directly: (n,) nats.

    = -||x - mean||^2 / (2 sigma^2) - D (log sigma + log(2 pi) / 2), as the authors' TF2 loss writes it
    (``(x - x_rec)**2 / (2 sigma**2) + log(sigma) + log(2 pi) / 2`` summed over pixels): NaN for sigma <= 0
    (the log of a negative number; inf - inf at 0), as in TF.
    """
    dims = x[0].numel()
    squared = (x - mean).square().flatten(1).sum(1)
    return -0.5 * squared / sigma.square() - dims * (torch.log(sigma) + 0.5 * LOG_2PI)


def bernoulli_log_likelihood(x: torch.Tensor, logits: torch.Tensor) -> torch.Tensor:
    """Sum over pixels of x log p + (1 - x) log(1 - p), p = sigmoid(logits): (n,) nats (= -BCE).

    For x in [0, 1] that is not binary this is the usual cross-entropy, not a normalised density.
    """
    return -F.binary_cross_entropy_with_logits(logits, x, reduction="none").flatten(1).sum(1)


# ----------------------------------------------------------------------------- architectures


def _conv_vae(cfg: dict) -> tuple[nn.Sequential, nn.Sequential]:
    """Stride-2 k4 conv stack -> dense layers -> 2d, and its mirror image (mnist_conv, conv64)."""
    in_channels, height, width = cfg["input_shape"]
    channels, hidden, latent = cfg["channels"], cfg["hidden"], cfg["latent_dim"]
    shrink = 2 ** len(channels)
    bottom = (channels[-1], height // shrink, width // shrink)
    widths = [in_channels, *channels]
    encoder = nn.Sequential(
        *[layer for c_in, c_out in zip(widths, widths[1:]) for layer in (nn.Conv2d(c_in, c_out, 4, 2, 1), nn.ReLU())],
        nn.Flatten(),
        *_dense([math.prod(bottom), *hidden]),
        nn.Linear(hidden[-1], 2 * latent),
    )
    up = [layer for c_in, c_out in zip(widths[:0:-1], widths[-2::-1])
          for layer in (UpConv(c_in, c_out, 4, 2, 1), nn.ReLU())]
    decoder = nn.Sequential(
        *_dense([latent, *hidden[::-1], math.prod(bottom)]),
        nn.Unflatten(1, bottom),
        *up[:-1],  # the last transposed convolution, without its ReLU ...
        *_output_activation(cfg),  # ... which the config may put back
    )
    return encoder, decoder


class UpConv(nn.ConvTranspose2d):
    """The conv decoders' transposed convolution: ``nn.ConvTranspose2d`` itself (same parameters, state_dict and
    function), with a faster CPU forward for the one case oneDNN handles badly: a single output channel (the last
    layer of mnist_conv and of conv64 on dSprites). There :func:`_single_channel_up` computes the forward as one
    matrix product and a scatter-add, and the backward is the native transposed convolution's: 1.5 ms instead of
    3.9 ms forward + backward for mnist_conv's 32 -> 1 layer at batch 100 on 2 cores (oneDNN's deconvolution with
    one output channel reaches ~7 GFLOP/s). Under bfloat16 autocast (training precision ``"bf16"``) this layer
    still computes in the weights' dtype (FP32), which is faster than oneDNN's bf16 deconvolution here, and returns
    FP32. With more output channels the native layer is faster and is used.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        plain = self.groups == 1 and self.dilation == (1, 1) and self.output_padding == (0, 0)
        if self.out_channels == 1 and plain and x.device.type == "cpu" and x.ndim == 4:
            with torch.autocast("cpu", enabled=False):  # a bf16 x under autocast is cast up to the weights' dtype
                return _SingleChannelUp.apply(x.to(self.weight.dtype), self.weight, self.bias, self.stride,
                                              self.padding)
        return super().forward(x)


class _SingleChannelUp(torch.autograd.Function):
    """conv_transpose2d(x, weight, bias, stride, padding) for one output channel: forward by GEMM + col2im, backward
    by ``aten.convolution_backward`` (the native transposed convolution's gradients)."""

    @staticmethod
    def forward(ctx, x, weight, bias, stride, padding):
        ctx.save_for_backward(x, weight)
        ctx.geometry = (stride, padding)
        return _single_channel_up(x, weight, bias, stride, padding)

    @staticmethod
    def backward(ctx, grad):
        x, weight = ctx.saved_tensors
        stride, padding = ctx.geometry
        grads = torch.ops.aten.convolution_backward(grad, x, weight, [1], list(stride), list(padding), [1, 1], True,
                                                    [0, 0], 1, list(ctx.needs_input_grad[:3]))
        return (*grads, None, None)


def _single_channel_up(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor, stride, padding) -> torch.Tensor:
    """Transposed convolution to one channel: x (n, C, h, w), weight (C, 1, kh, kw) -> (n, 1, H, W) with H = (h - 1)
    stride - 2 padding + kh (W likewise). Each input pixel's kh x kw contribution is a row of x @ weight; one
    ``index_add_`` sums the overlapping ones into the output (col2im, in a fixed order: deterministic)."""
    n, c, h, w = x.shape
    kh, kw = weight.shape[-2:]
    cols = x.permute(0, 2, 3, 1).reshape(n * h * w, c) @ weight.reshape(c, kh * kw)  # (n h w, kh kw)
    index, (height, width) = _col2im_index(h, w, kh, kw, tuple(stride), tuple(padding))
    out = cols.new_zeros(n, height * width + 1).index_add_(1, index, cols.view(n, -1))
    return (out[:, :-1] + bias).view(n, 1, height, width)


@functools.lru_cache(maxsize=32)
def _col2im_index(h: int, w: int, kh: int, kw: int, stride: tuple, padding: tuple):
    """For the rows of x @ weight in :func:`_single_channel_up`, flattened as (h, w, kh, kw): the flat output
    pixel each contribution lands on, or H W (a slot that is dropped) where the tap falls into the padding.
    Returns (index (h w kh kw,) int64, (H, W))."""
    height = (h - 1) * stride[0] - 2 * padding[0] + kh
    width = (w - 1) * stride[1] - 2 * padding[1] + kw
    rows = (torch.arange(h) * stride[0] - padding[0]).view(h, 1, 1, 1) + torch.arange(kh).view(1, 1, kh, 1)
    cols = (torch.arange(w) * stride[1] - padding[1]).view(1, w, 1, 1) + torch.arange(kw).view(1, 1, 1, kw)
    inside = (rows >= 0) & (rows < height) & (cols >= 0) & (cols < width)
    return torch.where(inside, rows * width + cols, height * width).flatten(), (height, width)


def _mlp_vae(cfg: dict) -> tuple[nn.Sequential, nn.Sequential]:
    """Flatten -> hidden layers (ReLU or softplus) -> 2d, and its mirror image ending in a linear layer (+ the
    output activation)."""
    shape, hidden, latent = cfg["input_shape"], cfg["hidden"], cfg["latent_dim"]
    size, activation = math.prod(shape), ACTIVATIONS[cfg.get("activation", "relu")]
    encoder = nn.Sequential(nn.Flatten(), *_dense([size, *hidden], activation), nn.Linear(hidden[-1], 2 * latent))
    decoder = nn.Sequential(*_dense([latent, *hidden[::-1]], activation), nn.Linear(hidden[0], size),
                            nn.Unflatten(1, tuple(shape)), *_output_activation(cfg))
    return encoder, decoder


def _output_activation(cfg: dict) -> list[nn.Module]:
    """The layers after the decoder's last linear map: none for ``"linear"``, a ReLU for ``"relu"``."""
    return [nn.ReLU()] if cfg.get("output_activation", "linear") == "relu" else []


def _glorot_init(model: nn.Module, seed: int | None) -> None:
    """Glorot-uniform weights and zero biases for every dense and (transposed) convolution layer (Keras defaults)."""
    generator = torch.Generator()
    if seed is None:
        generator.seed()
    else:
        generator.manual_seed(seed)
    for module in model.modules():
        if isinstance(module, (nn.Linear, nn.Conv2d, nn.ConvTranspose2d)):
            nn.init.xavier_uniform_(module.weight, generator=generator)
            nn.init.zeros_(module.bias)


def _dense(widths: list[int], activation: Callable[[], nn.Module] = nn.ReLU) -> list[nn.Module]:
    """Linear + ``activation()`` (default ReLU) for each consecutive pair of widths."""
    return [layer for a, b in zip(widths, widths[1:]) for layer in (nn.Linear(a, b), activation())]


_BUILDERS: dict[str, Callable[[dict], tuple[nn.Sequential, nn.Sequential]]] = {
    "mnist_conv": _conv_vae,
    "conv64": _conv_vae,
    "mlp": _mlp_vae,
}


def _choice(config: dict, key: str, choices: tuple[str, ...]) -> str:
    """``config[key]`` (default ``choices[0]``), or a ValueError listing the choices."""
    value = config.get(key, choices[0])
    if value not in choices:
        raise ValueError(f"unknown {key} {value!r}; choose one of {choices}")
    return value


def _sigma_entry(config: dict, parameterisation: str) -> dict:
    """The gaussian likelihood's sigma keys: the initial value, and the parameterisation unless the default."""
    if parameterisation == "log_sigma":
        init = _real(config.get("init_log_sigma", 0.0), "init_log_sigma", "log sigma, e.g. 0.0 for sigma = 1")
        return {"init_log_sigma": init}
    init = _real(config.get("init_sigma", 1.0), "init_sigma", "positive: the likelihood takes its log")
    if not init > 0:
        raise ValueError(f"init_sigma must be a positive number (the likelihood takes its log), got {init}")
    return {"sigma_parameterisation": "sigma", "init_sigma": init}


def _real(value, key: str, meaning: str) -> float:
    """``value`` as a finite float, or a ValueError naming ``key`` and ``meaning`` (a bool is not a number here)."""
    number = as_number(value)
    if not math.isfinite(number):
        raise ValueError(f"{key} must be a finite number ({meaning}), got {value!r}")
    return number


def _positive_ints(values, key: str) -> list[int]:
    """``values`` as a list of positive ints, or a ValueError naming ``key`` (a bool or a float such as 2.0 is not
    an integer: :func:`vaeinfo.checks.is_integer`)."""
    try:
        out = list(values)
    except TypeError:
        raise ValueError(f"{key} must be a list of positive integers, got {values!r}") from None
    if not out or not all(is_integer(v) and v >= 1 for v in out):
        raise ValueError(f"{key} must be a non-empty list of positive integers, got {values!r}")
    return [int(v) for v in out]


def _check_conv_shape(cfg: dict) -> None:
    """A conv model needs input [C, H, W] with H and W divisible by 2**len(channels)."""
    shape, shrink = cfg["input_shape"], 2 ** len(cfg["channels"])
    if len(shape) != 3 or shape[1] % shrink or shape[2] % shrink:
        raise ValueError(f"{cfg['architecture']} needs input_shape [C, H, W] with H and W divisible by {shrink} "
                         f"({len(cfg['channels'])} stride-2 layers), got {shape}")
