"""Notebook 08's experiment: the MI-regularised VAE of Ducau & Trénous against the plain VAE, measured factor by
factor with the exact I(X; Z_h).

Each latent layout (d dimensions, the first ``n_c`` of them forming c) is trained twice at equal settings: the
plain VAE (lambda = 0, whose loss is exactly the ELBO's, :mod:`vaeinfo.models.objectives.mi_regularised`) and the
MI-regularised VAE (lambda > 0); the first layout also over a sweep of lambdas. Every model is the authors'
architecture (:func:`infovae_config`: MLP 784-500-500 softplus, Bernoulli decoder, Adam 1e-3, batch 100) and every
run goes through :func:`vaeinfo.training.sweep.run_many` (in this process, on a local Dask cluster or on a running
one), cached like any training run. Each trained model is then measured on the validation images
(:func:`measure`): I(X; Z_h) of every factor (``grid`` estimator, nats) summed over c and over the other
dimensions, the Barber-Agakov bounds I^(c; x') and I^(z; x') and the KL halves from its training history, the
negative ELBO, and the reconstruction error.

Without MNIST the digits fallback (8x8, :func:`vaeinfo.data.mnist.load_digits`) is used with the same settings
(the input layer shrinks to 64 pixels), announced by the loader and recorded in the result's ``source``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from ..checks import check_integer, is_integer
from ..data import DataSource, ImageData
from ..data.mnist import load_mnist
from ..data.spec import mnist_spec
from ..info.influence import reconstruction_mse, topk_reconstructions, traversal_images, traversal_values
from ..info.mi import factor_mi
from ..models.contract import VAEModel
from ..models.objectives.mi_regularised import code_split
from ..training.encode import encode
from ..training.sweep import RunResult, run_many

INFOVAE_HIDDEN = (500, 500)  # fducau/infoVAE: n_hidden_recog_1/2 and n_hidden_gener_1/2
TRAVERSAL = (-2.5, 2.5, 0.5)  # start, stop, step of the c traversals (their report: -2.5 ... 2.5)


@dataclass(frozen=True)
class Layout:
    """A latent layout: ``latent_dim`` dimensions, of which the first ``n_c`` form c (the regularised code)."""

    latent_dim: int
    n_c: int

    def __post_init__(self) -> None:
        if not (is_integer(self.latent_dim) and is_integer(self.n_c) and 1 <= self.n_c <= self.latent_dim):
            raise ValueError(f"a layout needs integers 1 <= n_c <= latent_dim, got latent_dim {self.latent_dim!r}, n_c "
                             f"{self.n_c!r}; e.g. Layout(10, 5)")

    @property
    def c_dims(self) -> list[int]:
        """The latent indices of c: 0 .. n_c - 1."""
        return list(range(self.n_c))

    def describe(self) -> str:
        """E.g. ``"10 dims (5 in c)"`` (no "|": it goes into markdown tables)."""
        return f"{self.latent_dim} dims ({self.n_c} in c)"


def _layout(pair) -> Layout:
    """A Layout from a ``(latent_dim, n_c)`` pair, e.g. an entry of the ``mireg_layouts`` parameter."""
    try:
        latent_dim, n_c = pair
    except (TypeError, ValueError):
        raise ValueError(f"a layout is a pair (latent_dim, n_c), e.g. [10, 5]; got {pair!r}") from None
    return Layout(latent_dim, n_c)


@dataclass
class ModelReport:
    """One trained model, measured on the validation images (all information in nats, per image).

    Attributes
    ----------
    layout, lam : its latent layout and lambda (0: the plain VAE).
    run : the sweep's :class:`~vaeinfo.training.sweep.RunResult` (config, cache key, history).
    model : the trained model (eval mode, CPU).
    mu, logvar : (n_validation, d) float64 encodings of the validation images.
    mi : (d,) I(X; Z_h) of every factor (``grid``).
    mi_c, mi_z : the sum of ``mi`` over c and over the other dimensions.
    bound_c, bound_z : I^(c; x') and I^(z; x') of the last epoch's validation pass (one prior draw per
        validation image).
    kl_c, kl_z : the KL term over c and over the other dimensions (last validation pass).
    neg_elbo, recon_bce : -ELBO and the Bernoulli reconstruction term -E log p(x|z) (last validation pass; for
        grey-level pixels a cross-entropy, not a normalised likelihood).
    mse : mean squared error per pixel between the validation images and the decoded means of their encoder means.
    """

    layout: Layout
    lam: float
    run: RunResult
    model: VAEModel
    mu: np.ndarray
    logvar: np.ndarray
    mi: np.ndarray
    mi_c: float
    mi_z: float
    bound_c: float
    bound_z: float
    kl_c: float
    kl_z: float
    neg_elbo: float
    recon_bce: float
    mse: float

    @property
    def name(self) -> str:
        """E.g. ``"plain VAE"`` or ``"MI-regularised (λ = 1)"``."""
        return "plain VAE" if self.lam == 0 else f"MI-regularised (λ = {self.lam:g})"

    def numbers(self) -> dict:
        """The JSON-able numbers of this model (what a results file records)."""
        return {"latent_dim": self.layout.latent_dim, "n_c": self.layout.n_c, "lambda": self.lam,
                "model_key": self.run.key, "mi_nats": self.mi, "mi_c_nats": self.mi_c, "mi_z_nats": self.mi_z,
                "bound_c_nats": self.bound_c, "bound_z_nats": self.bound_z, "kl_c_nats": self.kl_c,
                "kl_z_nats": self.kl_z, "val_neg_elbo": self.neg_elbo, "val_recon_bce": self.recon_bce,
                "mse_per_pixel": self.mse, "history": curves(self.run.history)}


@dataclass
class MiRegExperiment:
    """Every model of notebook 08, measured.

    Attributes
    ----------
    layouts : the latent layouts, in the order given.
    lam : the lambda of the MI-regularised model of each layout.
    lambdas : the sweep's lambdas (first layout).
    reports : (layout index, lambda) -> :class:`ModelReport`.
    train_source, validation : the training images' DataSource (as the sweep's workers loaded them), and the
        validation images.
    """

    layouts: list[Layout]
    lam: float
    lambdas: list[float]
    reports: dict[tuple[int, float], ModelReport]
    train_source: DataSource
    validation: ImageData

    def pair(self, i: int) -> tuple[ModelReport, ModelReport]:
        """(plain VAE, MI-regularised VAE) of layout ``i``."""
        return self.reports[(i, 0.0)], self.reports[(i, self.lam)]

    def sweep(self) -> list[ModelReport]:
        """The first layout's models in the order of :attr:`lambdas`."""
        return [self.reports[(0, lam)] for lam in self.lambdas]


def infovae_config(image_shape: tuple[int, ...], layout: Layout, *, lam: float, beta: float = 1.0, epochs: int,
                   seed: int) -> dict:
    """Training config of the authors' MI-regularised VAE (lambda = 0: the plain VAE at the same settings).

    MLP 784-500-500 with softplus, Bernoulli decoder, Xavier-uniform initialisation (``mlp`` with
    ``activation="softplus"``); objective ``mi_regularised`` with c = the first ``layout.n_c`` dimensions; Adam
    1e-3, batch 100 (fducau/infoVAE, ``vae_half.py``).
    """
    return {
        "model": {"architecture": "mlp", "input_shape": list(image_shape), "latent_dim": layout.latent_dim,
                  "hidden": list(INFOVAE_HIDDEN), "activation": "softplus", "likelihood": "bernoulli"},
        "objective": {"name": "mi_regularised", "lambda": float(lam), "beta": float(beta), "c_dims": layout.c_dims},
        "optimizer": {"name": "adam", "lr": 1e-3},
        "batch_size": 100,
        "epochs": int(epochs),
        "seed": int(seed),
    }


def mi_regularised_experiment(*, data_dir=None, download: bool = False, allow_fallback: bool = True,
                              n_train: int | None = None, n_validation: int | None = None,
                              layouts=((10, 5), (20, 10)), lam: float = 1.0, lambdas=(0.0, 0.5, 1.0, 2.0, 5.0),
                              beta: float = 1.0, epochs: int = 25, seed: int = 0, cache_dir=None,
                              scheduler: str | None = None, workers: int | None = None) -> MiRegExperiment:
    """Train (or reuse) every model of notebook 08 through :func:`~vaeinfo.training.sweep.run_many`, then measure it.

    Parameters
    ----------
    layouts : (latent_dim, n_c) pairs; each is trained with lambda = 0 and ``lam``.
    lam : lambda of the MI-regularised model of each layout (> 0; the authors: 1).
    lambdas : the sweep's lambdas, on the first layout (0 and ``lam`` are added when missing).
    beta : weight of the KL term, the same for every model (the authors: 1).
    scheduler, workers : where the runs train (:func:`~vaeinfo.training.sweep.run_many`): a Dask scheduler address,
        or the size of a local cluster (1: in this process).
    The other parameters are those of :func:`vaeinfo.data.mnist.load_mnist` and of the training config.

    Raises
    ------
    ValueError
        No layout, ``lam`` <= 0, or a negative lambda.
    """
    layouts = [_layout(pair) for pair in layouts]
    lambdas = sorted({float(v) for v in (*lambdas, 0.0, lam)})
    if not layouts or not lam > 0 or not all(math.isfinite(v) and v >= 0 for v in lambdas):  # NaN fails both
        raise ValueError(f"notebook 08 needs at least one layout, a finite lam > 0 and finite lambdas >= 0; got "
                         f"layouts {layouts}, "
                         f"lam {lam}, lambdas {lambdas}")
    validation = load_mnist("validation", data_dir, n=n_validation, download=download, allow_fallback=allow_fallback)
    fallback = validation.source.fallback
    specs = [mnist_spec(split, data_dir, n, fallback=fallback)
             for split, n in (("train", n_train), ("validation", n_validation))]
    wanted = [(0, v) for v in lambdas] + [(i, v) for i in range(1, len(layouts)) for v in (0.0, float(lam))]
    shape = tuple(validation.images.shape[1:])
    configs = [infovae_config(shape, layouts[i], lam=v, beta=beta, epochs=epochs, seed=seed) for i, v in wanted]
    runs = run_many(configs, specs[0], validation=specs[1], cache_dir=cache_dir, scheduler=scheduler,
                    workers=workers)
    reports = {(i, v): measure(run, layouts[i], v, validation) for (i, v), run in zip(wanted, runs)}
    return MiRegExperiment(layouts, float(lam), lambdas, reports, DataSource(**runs[0].source), validation)


def measure(run: RunResult, layout: Layout, lam: float, validation: ImageData) -> ModelReport:
    """Load the model of ``run`` and measure it on ``validation`` (see :class:`ModelReport`)."""
    model = run.model()
    mu, logvar = encode(model, validation)
    mi = factor_mi(mu, logvar)
    c, rest = code_split(layout.c_dims, layout.latent_dim)
    last = run.history[-1]
    return ModelReport(layout, float(lam), run, model, mu, logvar, mi, float(mi[c].sum()), float(mi[rest].sum()),
                       last["val_mi_bound_c"], last["val_mi_bound_z"], last["val_kl_c"], last["val_kl_z"],
                       last["val_neg_elbo"], last["val_recon"], _mse(model, mu, validation.images))


def _mse(model: VAEModel, mu: np.ndarray, images: torch.Tensor) -> float:
    """Mean squared error per pixel between ``images`` and the decoded means of their encoder means ``mu``."""
    every = np.arange(mu.shape[1])
    return float(reconstruction_mse(images, topk_reconstructions(model, mu, every, (len(every),)))[0])


def curves(history: list[dict]) -> dict[str, list[float]]:
    """The per-epoch curves of a training history: ``epoch`` and, for train_ and val_, the bounds I^(c; x'),
    I^(z; x'), the KL halves and -ELBO (nats), as lists (absent keys, e.g. no validation, are left out)."""
    keys = [f"{split}_{name}" for split in ("train", "val")
            for name in ("mi_bound_c", "mi_bound_z", "kl_c", "kl_z", "neg_elbo")]
    return {"epoch": [r["epoch"] for r in history],
            **{k: [r[k] for r in history] for k in keys if all(k in r for r in history)}}


def c_traversals(reports: list[ModelReport], validation: ImageData, base_image: int = 0,
                 values: np.ndarray | None = None) -> tuple[torch.Tensor, list[str], np.ndarray]:
    """Traversals of every c factor of each model around the code of validation image ``base_image``.

    Returns (images (rows, len(values), *shape) in [0, 1], one label per row naming the model and the factor with
    its I(X; Z_h), the values); the rows of ``reports[0]`` come first. ``values`` default: -2.5 ... 2.5 in steps
    of 0.5.
    """
    values = traversal_values(*TRAVERSAL) if values is None else np.asarray(values, dtype=float)
    check_integer(base_image, "base_image", low=0, high=len(validation) - 1, meaning="a validation image")
    grids, labels = [], []
    for report in reports:
        dims = np.asarray(report.layout.c_dims)
        grids.append(traversal_images(report.model, report.mu[base_image], dims, values))
        tag = "plain" if report.lam == 0 else f"λ={report.lam:g}"
        labels += [f"{tag} c{h}  {report.mi[h]:.2f}" for h in dims]
    return torch.cat(grids).clamp(0, 1), labels, values
