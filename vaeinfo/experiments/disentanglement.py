"""Notebook 09's experiment: β-VAE against β-TCVAE on dSprites, over a range of β (and seeds), each trained model
measured by its per-factor MI I(X; Z_h), the ELBO decomposition and the disentanglement metrics.

Settings, Chen et al.'s (rtqichen/beta-tcvae ``vae_quant.py``, dSprites) and ours:

=========================  =============================================================  ========
setting                    value                                                          whose
=========================  =============================================================  ========
data                       the 737,280 images of the dSprites grid (``paper``; a seeded   theirs
                           random subsample in ``quick``/``smoke``), Bernoulli likelihood
latent dimensions          10                                                             theirs
encoder                    MLP 4096-1200-1200-2d, ReLU                                    theirs
decoder                    mirrored: d-1200-1200-4096, ReLU (theirs: d-1200-1200-1200-    ours
                           4096 with tanh)
optimiser, batch, epochs   Adam 1e-3, batches of 2,048, 50 epochs                         theirs
β annealing                linear from 0 over 7,000 iterations, for both objectives       theirs
                           (their ``--beta-anneal``), as epochs of ceil(N / B) steps
β-TCVAE estimator of q(z)  minibatch-stratified sampling with the correct weights         ours
                           (:mod:`vaeinfo.models.objectives.tcvae`); theirs runs
                           minibatch-weighted sampling unless given ``--mss`` (then with
                           the weights' bug), ``estimator="mws"`` here
β-VAE KL term              analytic (theirs: the single-sample estimate)                  ours
weights                    Glorot-uniform, zero biases (theirs: torch's defaults)         ours
β grid, seeds              profile (``paper``: 1, 2, 4, 6, 8, 10; seeds 0-2)              ours
=========================  =============================================================  ========

Measurements of each model (:func:`measure`), on ``n_eval`` evaluation images drawn from the grid with a seed of
their own (:data:`EVAL_SEED`; the whole grid when ``n_eval`` is None), every metric with disentanglement_lib's
random state 0, so that models differ only by their weights:

- I(X; Z_h) per latent dimension (the MI pulse), exact (``grid``) and by the authors' closed form (``gaussian``);
- the ELBO decomposition (index-code MI, total correlation, dimension-wise KL) on ``n_decomposition`` of the
  evaluation images (:func:`vaeinfo.info.decomposition.elbo_decomposition`);
- MIG, ours (I(z_j; v_k) exact for the encoder's Gaussian mixtures, normalised by log |V_k| as Chen et al.) and
  disentanglement_lib's 20-bin histogram variant, both on all evaluation images; SAP and DCI fitted on ``n_fit``
  evaluation images and tested on ``n_test`` others (a seeded random choice, :func:`measure`); the BetaVAE and
  FactorVAE scores on freshly rendered factor batches (:class:`MetricSettings`).

The training runs go through :func:`vaeinfo.training.sweep.run_many` (in this process, on a local Dask cluster or
on a running one) and its cache: each worker loads the training images itself from the spec
``DataSpec("dsprites", "train", data_dir, n_train, options={"uint8": True})``, i.e.
``load_dsprites(n_train, data_dir, uint8=True)`` (seed 0; pixels 0/255, a quarter of float32's memory).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch

from ..checks import check_integer
from ..data import DataSource
from ..data.dsprites import (
    FACTOR_NAMES,
    FACTOR_SIZES,
    DSprites,
    DSpritesData,
    load_dsprites,
    open_dsprites,
    source_kind,
)
from ..data.spec import DataSpec
from ..info import disentanglement as dis
from ..info.decomposition import ELBODecomposition, elbo_decomposition
from ..info.disentanglement.dci import N_ESTIMATORS
from ..info.influence import influential_factors, rank_factors, traversal_images, traversal_values
from ..info.mi import factor_mi
from ..io import progress_bar
from ..models.objectives import normalize_objective_config
from ..models.objectives.tcvae import iterations_to_epochs
from ..training.encode import encode
from ..training.sweep import run_many

INPUT_SHAPE = (1, 64, 64)
OBJECTIVES = ("beta_vae", "beta_tcvae")
OBJECTIVE_LABELS = {"beta_vae": "β-VAE", "beta_tcvae": "β-TCVAE"}
CHEN_HIDDEN = (1200, 1200)  # rtqichen/beta-tcvae MLPEncoder: 4096-1200-1200-2d
CHEN_WARMUP_ITERATIONS = 7000  # their anneal_kl for dSprites ("shapes")
EVAL_SEED = 1  # seed of the evaluation images' draw (the training subsample uses load_dsprites' seed 0)
METRIC_SEED = 0  # disentanglement_lib's random_seed of every metric
TRAVERSAL = (-2.0, 2.0, 0.5)  # start, stop, step of the traversals (Chen et al.'s latent walk: -2 ... 2)


@dataclass(frozen=True)
class DSpritesSettings:
    """How the models are trained: one per (objective, β, seed). The defaults are the ``paper`` profile's: Chen et
    al.'s settings (module docstring) on our β grid and seeds.

    Attributes
    ----------
    n_train : training images, a seeded random subsample of the grid (``load_dsprites(n_train, seed=0)``), or
        None for all 737,280.
    betas : the β grid (weight of the KL term for β-VAE, of the total correlation for β-TCVAE).
    seeds : one model per seed (the error bars).
    latent_dim : d.
    hidden : the MLP's hidden widths (encoder order; the decoder mirrors them).
    epochs, batch_size, lr : Adam's training.
    warmup_iterations : β rises linearly from 0 over this many training steps (0: no annealing).
    estimator : β-TCVAE's estimator of log q(z): ``"mss"`` or ``"mws"``.
    objectives : the objectives compared, a subset of :data:`OBJECTIVES`.
    """

    n_train: int | None = None
    betas: tuple[float, ...] = (1.0, 2.0, 4.0, 6.0, 8.0, 10.0)
    seeds: tuple[int, ...] = (0, 1, 2)
    latent_dim: int = 10
    hidden: tuple[int, ...] = CHEN_HIDDEN
    epochs: int = 50
    batch_size: int = 2048
    lr: float = 1e-3
    warmup_iterations: int = CHEN_WARMUP_ITERATIONS
    estimator: str = "mss"
    objectives: tuple[str, ...] = OBJECTIVES

    def __post_init__(self) -> None:
        for name in ("betas", "seeds", "hidden", "objectives"):
            object.__setattr__(self, name, tuple(getattr(self, name)))
        if not self.betas or not self.seeds or not self.objectives:
            raise ValueError("DSpritesSettings needs at least one beta, one seed and one objective")
        unknown = [o for o in self.objectives if o not in OBJECTIVES]
        if unknown:
            raise ValueError(f"unknown objective(s) {unknown}; choose from {OBJECTIVES}")
        if len(set(self.betas)) != len(self.betas) or len(set(self.seeds)) != len(self.seeds):
            raise ValueError(f"betas {list(self.betas)} and seeds {list(self.seeds)} must not repeat a value")
        n = self.n_images
        if self.batch_size < 2 or self.batch_size > n:
            raise ValueError(f"batch_size must lie in [2, {n}] (the training images), got {self.batch_size}")
        if "beta_tcvae" in self.objectives and n % self.batch_size == 1:
            raise ValueError(f"{n} training images in batches of {self.batch_size} leave a last batch of one image, "
                             f"which β-TCVAE's minibatch estimators join to the batch before and β-VAE does not: "
                             f"their steps per epoch would differ, so one warm-up length in epochs cannot serve "
                             f"both; change n_train or batch_size")
        for objective in self.objectives:  # the estimator, each β: refused here, not after other runs trained
            for beta in self.betas:
                normalize_objective_config(self.config(objective, beta, self.seeds[0])["objective"])

    @property
    def n_images(self) -> int:
        """Training images per epoch (737,280 for the whole grid)."""
        return math.prod(FACTOR_SIZES) if self.n_train is None else int(self.n_train)

    @property
    def warmup_epochs(self) -> float:
        """The annealing length in epochs of ceil(N / B) steps (Chen et al.'s 7,000 iterations on the whole grid
        in batches of 2,048: 19.44 epochs)."""
        return iterations_to_epochs(self.warmup_iterations, self.batch_size, self.n_images)

    def config(self, objective: str, beta: float, seed: int) -> dict:
        """The training config of one model: mlp on 64x64 images, Bernoulli likelihood, annealed β."""
        options = {"estimator": self.estimator} if objective == "beta_tcvae" else {}
        return {"model": {"architecture": "mlp", "input_shape": list(INPUT_SHAPE), "latent_dim": self.latent_dim,
                          "hidden": list(self.hidden), "likelihood": "bernoulli"},
                "objective": {"name": objective, "beta": float(beta), "warmup_epochs": self.warmup_epochs, **options},
                "optimizer": {"name": "adam", "lr": float(self.lr)}, "batch_size": self.batch_size,
                "epochs": self.epochs, "seed": int(seed)}

    def grid(self) -> list[tuple[str, float, int]]:
        """Every (objective, β, seed), objective slowest, seed fastest."""
        return [(o, float(b), int(s)) for o in self.objectives for b in self.betas for s in self.seeds]

    def data_spec(self, data_dir=None, cache_dir=None, source: str = "auto") -> DataSpec:
        """What a sweep's workers load: ``load_dsprites(n_train, data_dir, source=source, uint8=True,
        cache_dir=cache_dir)`` (seed 0; data_dir / cache_dir None: each worker's own ``$VAEINFO_DATA`` /
        ``$VAEINFO_CACHE``). Give the ``source`` the caller found (``"official"`` or ``"procedural"``), so that a
        worker without the official file fails instead of training on rendered images."""
        options = {"uint8": True, "source": source} | ({} if cache_dir is None else {"cache_dir": str(cache_dir)})
        return DataSpec("dsprites", "train", None if data_dir is None else str(data_dir), self.n_train,
                        options=options)

    def describe(self) -> str:
        """E.g. ``"10,000 images, MLP 4096-1200-1200, d = 10, 50 epochs, batch 2048, β annealed over 7000 steps"``."""
        images = "the whole grid" if self.n_train is None else f"{self.n_train:,} images"
        return (f"{images}, MLP {'-'.join(map(str, (4096, *self.hidden)))}, d = {self.latent_dim}, {self.epochs} "
                f"epochs, batch {self.batch_size}, β annealed over {self.warmup_iterations} steps")


@dataclass(frozen=True)
class MetricSettings:
    """How much data each measurement uses: the defaults are disentanglement_lib's sizes, and the whole grid for the
    MI pulse and the MIGs (Chen et al.'s MIG).

    Attributes
    ----------
    n_eval : evaluation images drawn from the grid with :data:`EVAL_SEED`, or None for the whole grid; the MI
        pulse and both MIGs use all of them.
    n_decomposition : evaluation images behind the ELBO decomposition (a seeded random choice, :func:`measure`).
    tc_samples : Monte-Carlo samples of its total correlation.
    n_fit, n_test : SAP's and DCI's training and held-out points, distinct evaluation images (likewise).
    dci_estimators : boosting stages of DCI's classifiers (100 in disentanglement_lib; fewer to save time).
    sampled_train, sampled_eval : training and evaluation points of the BetaVAE and FactorVAE scores.
    n_variance : FactorVAE's points for the global variances.
    """

    n_eval: int | None = None
    n_decomposition: int = 10_000
    tc_samples: int = 10_000
    n_fit: int = 10_000
    n_test: int = 5_000
    dci_estimators: int = N_ESTIMATORS
    sampled_train: int = 10_000
    sampled_eval: int = 5_000
    n_variance: int = 10_000

    def check(self, n_available: int) -> None:
        """Raise a ValueError unless the evaluation set holds what the metrics take from it."""
        if self.n_fit + self.n_test > n_available or self.n_decomposition > n_available:
            raise ValueError(f"the metrics take n_fit + n_test = {self.n_fit + self.n_test} and n_decomposition = "
                             f"{self.n_decomposition} of the {n_available} evaluation images; lower them or raise "
                             f"n_eval")


@dataclass
class TrainedModel:
    """One trained model of the sweep.

    Attributes
    ----------
    objective, beta, seed : what it was trained with.
    config : its training config (as given to the training loop).
    key : its cache key.
    history : one dict per epoch (:class:`vaeinfo.training.train.TrainResult`).
    cached : True when it was loaded from the cache, not trained now.
    model : the trained model (eval mode, CPU).
    source : the training images' DataSource (official or procedural pixels).
    """

    objective: str
    beta: float
    seed: int
    config: dict
    key: str
    history: list[dict]
    cached: bool
    model: torch.nn.Module
    source: DataSource

    @property
    def name(self) -> str:
        """E.g. ``"β-TCVAE β=4 s0"``."""
        return f"{OBJECTIVE_LABELS[self.objective]} β={self.beta:g} s{self.seed}"


def train_models(settings: DSpritesSettings, *, data_dir=None, scheduler: str | None = None,
                 workers: int | None = None, cache_dir=None, source: str = "auto") -> list[TrainedModel]:
    """Train (or reuse from the cache) every model of ``settings`` with
    :func:`~vaeinfo.training.sweep.run_many` (``scheduler``/``workers`` as there), in the order of
    :meth:`DSpritesSettings.grid`; the workers load ``load_dsprites(settings.n_train, data_dir, source=source,
    uint8=True)``."""
    grid = settings.grid()
    runs = run_many([settings.config(*entry) for entry in grid], settings.data_spec(data_dir, cache_dir, source),
                    scheduler=scheduler, workers=workers, cache_dir=cache_dir)
    return [TrainedModel(*entry, run.config, run.key, run.history, run.cached, run.model(), DataSource(**run.source))
            for entry, run in zip(grid, runs)]


@dataclass
class ModelReport:
    """One trained model measured on the evaluation images (information in nats).

    Attributes
    ----------
    trained : the model and how it was trained.
    mu, logvar : (n_eval, d) its encodings of the evaluation images.
    mi : (d,) I(X; Z_h), exact (``grid``); ``mi_gaussian`` (d,) the authors' closed form (an upper bound).
    decomposition : index-code MI, total correlation and dimension-wise KL on ``n_decomposition`` of the images.
    mig : our MIG (``mig.mi`` (d, 5): I(z_j; v_k), H(v_k) = log |V_k|); ``mig_histogram`` disentanglement_lib's.
    sap, dci, beta_vae, factor_vae : the other metrics.
    """

    trained: TrainedModel
    mu: np.ndarray
    logvar: np.ndarray
    mi: np.ndarray
    mi_gaussian: np.ndarray
    decomposition: ELBODecomposition
    mig: dis.MIG
    mig_histogram: dis.MIG
    sap: dis.SAP
    dci: dis.DCI
    beta_vae: dis.BetaVAEScore
    factor_vae: dis.FactorVAEScore

    @property
    def mig_without_shape(self) -> float:
        """Our MIG over scale, orientation, posX and posY only: Chen et al.'s dSprites MIG, which leaves shape out."""
        return float(np.delete(self.mig.gaps, FACTOR_NAMES.index("shape")).mean())

    def numbers(self, threshold: float = 0.5) -> dict:
        """The JSON-able numbers of this model (the results file's ``models`` entries)."""
        t, d = self.trained, self.decomposition
        last = t.history[-1]
        return {"objective": t.objective, "beta": t.beta, "seed": t.seed, "model_key": t.key, "cached": t.cached,
                "train_recon": last["train_recon"], "train_kl": last["train_kl"], "mi_nats": self.mi,
                "mi_gaussian_nats": self.mi_gaussian,
                "closed_form": closed_form_agreement(self.mi, self.mi_gaussian, threshold),
                "decomposition": {"expected_kl": d.expected_kl, "index_code_mi": d.index_code_mi,
                                  "total_correlation": d.total_correlation, "marginal_kl": d.marginal_kl,
                                  "tc_stderr": d.stderr},
                "mig": self.mig.score, "mig_without_shape": self.mig_without_shape, "mig_gaps": self.mig.gaps,
                "factor_mi_nats": self.mig.mi, "mig_histogram": self.mig_histogram.score,
                "mig_histogram_gaps": self.mig_histogram.gaps, "sap": self.sap.score,
                "dci_disentanglement": self.dci.disentanglement, "dci_completeness": self.dci.completeness,
                "dci_informativeness": self.dci.informativeness_test,
                "beta_vae_score": self.beta_vae.eval_accuracy, "factor_vae_score": self.factor_vae.eval_accuracy}


def represent_with(model: torch.nn.Module, grid: DSprites) -> Callable[[np.ndarray], np.ndarray]:
    """``represent(factors (n, 5) int) -> (n, d)`` encoder means of the grid's images of those factors, for the
    sampled metrics (:func:`vaeinfo.info.disentanglement.beta_vae_score`)."""

    def represent(factors: np.ndarray) -> np.ndarray:
        return encode(model, grid.observations(factors))[0]

    return represent


def measure(trained: TrainedModel, evaluation: DSpritesData, grid: DSprites, metrics: MetricSettings) -> ModelReport:
    """Every measurement of one model (module docstring); each metric with random state :data:`METRIC_SEED`.

    The decomposition's images and SAP's and DCI's training and held-out points are taken from the evaluation set
    in the order of a permutation drawn with :data:`METRIC_SEED` (the whole grid comes in grid order, whose first
    images all share one shape and scale)."""
    metrics.check(len(evaluation.images))
    mu, logvar = encode(trained.model, evaluation)
    factors = evaluation.labels.numpy()
    order = np.random.default_rng(METRIC_SEED).permutation(len(mu))  # the whole grid comes in grid order
    fit, test = order[:metrics.n_fit], order[metrics.n_fit:metrics.n_fit + metrics.n_test]
    part = order[:metrics.n_decomposition]
    represent = represent_with(trained.model, grid)
    return ModelReport(
        trained, mu, logvar, factor_mi(mu, logvar), factor_mi(mu, logvar, method="gaussian"),
        elbo_decomposition(mu[part], logvar[part], n_samples=metrics.tc_samples, seed=METRIC_SEED),
        dis.mig(mu, logvar, factors, factor_sizes=FACTOR_SIZES), dis.mig_histogram(mu, factors),
        dis.sap(mu[fit], factors[fit], mu[test], factors[test], seed=METRIC_SEED),
        dis.dci(mu[fit], factors[fit], mu[test], factors[test], n_estimators=metrics.dci_estimators,
                seed=METRIC_SEED),
        dis.beta_vae_score(represent, FACTOR_SIZES, METRIC_SEED, n_train=metrics.sampled_train,
                           n_eval=metrics.sampled_eval),
        dis.factor_vae_score(represent, FACTOR_SIZES, METRIC_SEED, n_train=metrics.sampled_train,
                             n_eval=metrics.sampled_eval, n_variance=metrics.n_variance))


def closed_form_agreement(exact: np.ndarray, gaussian: np.ndarray, threshold: float = 0.5) -> dict:
    """How the authors' closed form compares with the exact I(X; Z_h) of one model (both (d,), nats).

    Returns ``max_abs_difference`` and ``max_overestimate`` (max of gaussian - exact; >= 0 up to the grid's
    error, the closed form being an upper bound); ``influential`` and ``influential_gaussian``, the factors with
    I >= ``threshold`` nats by each, by decreasing value, and ``same_influential`` whether the two sets are equal;
    ``same_ranking``, whether the two rankings agree, in order, on their first k factors, k = the number of
    influential factors by the exact estimate (at least 1: the top factor).
    """
    exact, gaussian = np.asarray(exact, dtype=np.float64), np.asarray(gaussian, dtype=np.float64)
    if exact.ndim != 1 or exact.shape != gaussian.shape:
        raise ValueError(f"exact and gaussian must be (d,) arrays of one shape, got {exact.shape} and "
                         f"{gaussian.shape}")
    top, top_gaussian = influential_factors(exact, threshold), influential_factors(gaussian, threshold)
    k = max(len(top), 1)
    return {"max_abs_difference": float(np.abs(gaussian - exact).max()),
            "max_overestimate": float((gaussian - exact).max()), "influential": top,
            "influential_gaussian": top_gaussian, "same_influential": set(top) == set(top_gaussian),
            "same_ranking": bool(np.array_equal(rank_factors(gaussian)[:k], rank_factors(exact)[:k]))}


@dataclass
class DisentanglementExperiment:
    """Notebook 09's models and their measurements.

    Attributes
    ----------
    settings, metrics : how the models were trained and measured.
    train_source : the training images' DataSource (official or procedural pixels, how many).
    evaluation : the evaluation images (n_eval, with their factor classes as ``labels``).
    reports : one :class:`ModelReport` per model, in the order of :meth:`DSpritesSettings.grid`.
    """

    settings: DSpritesSettings
    metrics: MetricSettings
    train_source: DataSource
    evaluation: DSpritesData
    reports: list[ModelReport] = field(default_factory=list)

    def report(self, objective: str, beta: float, seed: int | None = None) -> ModelReport:
        """The model of ``objective`` and ``beta`` with ``seed`` (default: the first seed)."""
        seed = self.settings.seeds[0] if seed is None else seed
        for r in self.reports:
            if (r.trained.objective, r.trained.beta, r.trained.seed) == (objective, float(beta), seed):
                return r
        raise KeyError(f"no model ({objective}, beta {beta}, seed {seed}); the grid is {self.settings.grid()}")

    def first_seed(self) -> list[ModelReport]:
        """The models of the first seed, in grid order (one per objective and β)."""
        return [r for r in self.reports if r.trained.seed == self.settings.seeds[0]]

    def by_beta(self, value: Callable[[ModelReport], float]) -> dict[str, np.ndarray]:
        """``value`` of every model as objective -> (n_seeds, n_betas) array (rows by seed, columns by β)."""
        s = self.settings
        return {o: np.array([[value(self.report(o, b, seed)) for b in s.betas] for seed in s.seeds])
                for o in s.objectives}

    def numbers(self, threshold: float = 0.5) -> dict:
        """The results file's numbers: the settings, one entry per model, and the metrics by β."""
        series = {"mig": lambda r: r.mig.score, "mig_histogram": lambda r: r.mig_histogram.score}
        return {"settings": {**vars(self.settings), "warmup_epochs": self.settings.warmup_epochs},
                "metric_settings": vars(self.metrics), "betas": self.settings.betas, "seeds": self.settings.seeds,
                "objectives": self.settings.objectives, "factor_names": FACTOR_NAMES,
                "models": [r.numbers(threshold) for r in self.reports],
                **{name: {o: a for o, a in self.by_beta(f).items()} for name, f in series.items()}}


def disentanglement_experiment(settings: DSpritesSettings, metrics: MetricSettings, *, data_dir=None,
                               scheduler: str | None = None, workers: int | None = None, cache_dir=None,
                               progress: bool = True) -> DisentanglementExperiment:
    """Load the evaluation images, train every model (:func:`train_models`) and measure each (:func:`measure`)."""
    evaluation = load_dsprites(metrics.n_eval, data_dir, seed=EVAL_SEED, uint8=True, cache_dir=cache_dir,
                               progress=progress)
    metrics.check(len(evaluation.images))
    trained = train_models(settings, data_dir=data_dir, scheduler=scheduler, workers=workers, cache_dir=cache_dir,
                           source=source_kind(evaluation.source))  # what this process found: every worker too
    grid = open_dsprites(data_dir, cache=metrics.n_eval is None, cache_dir=cache_dir, progress=progress)
    reports = [measure(t, evaluation, grid, metrics)
               for t in progress_bar(trained, desc="measuring dSprites models", unit="model", enabled=progress)]
    return DisentanglementExperiment(settings, metrics, trained[0].source, evaluation, reports)


def factor_traversals(report: ModelReport, evaluation: DSpritesData, *, threshold: float = 0.5, base: int = 0,
                      values: np.ndarray | None = None) -> tuple[torch.Tensor, list[str], np.ndarray]:
    """Traversals of the latent dimensions with I(X; Z_h) >= ``threshold`` nats (the top one when none), by
    decreasing MI, around the encoder mean of evaluation image ``base``.

    Returns images (rows, len(values), 1, 64, 64) in [0, 1], one label per row -- the dimension, its I(X; Z_h) and
    the ground-truth factor it tells most about with I(z_j; v_k), e.g. ``"z3 2.10 | posX 0.41"`` (nats) -- and the
    traversal values (default :data:`TRAVERSAL`).
    """
    check_integer(base, "base", low=0, high=len(report.mu) - 1, meaning="an evaluation image")  # -1 was the last
    values = traversal_values(*TRAVERSAL) if values is None else np.asarray(values, dtype=np.float64)
    shown = influential_factors(report.mi, threshold)
    shown = shown if len(shown) else rank_factors(report.mi)[:1]
    images = traversal_images(report.trained.model, report.mu[base], shown, values)
    best = report.mig.mi.argmax(axis=1)
    labels = [f"z{h} {report.mi[h]:.2f} | {FACTOR_NAMES[best[h]]} {report.mig.mi[h, best[h]]:.2f}" for h in shown]
    return images, labels, values


def summary_line(experiment: DisentanglementExperiment, threshold: float = 0.5) -> str:
    """One line for the results table: MIG of both objectives at the largest β (mean over seeds), and how the
    closed form compares with the exact MI."""
    s = experiment.settings
    beta = max(s.betas)
    migs = experiment.by_beta(lambda r: r.mig.score)
    hists = experiment.by_beta(lambda r: r.mig_histogram.score)
    column = s.betas.index(beta)
    parts = [f"{OBJECTIVE_LABELS[o]} {migs[o][:, column].mean():.2f} (histogram {hists[o][:, column].mean():.2f})"
             for o in s.objectives]
    agreements = [closed_form_agreement(r.mi, r.mi_gaussian, threshold) for r in experiment.reports]
    worst = max(a["max_abs_difference"] for a in agreements)
    same = sum(a["same_ranking"] for a in agreements)
    source = experiment.train_source.name
    return (f"{source}, {s.n_images:,} images: MIG at β = {beta:g}: {', '.join(parts)}; closed form vs exact MI: "
            f"up to {worst:.2f} nats apart, same top ranking in {same} of {len(agreements)} models")

