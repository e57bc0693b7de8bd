"""The ensemble experiment of notebook 10: M β-VAEs with 10 latent channels trained on MNIST with different seeds
(through the sweep runner and its cache), their channels fingerprinted on held-out images, compared by NMI/VI and
clustered into hotspots (:mod:`vaeinfo.info.fingerprints`, after Murphy, Dillavou & Bassett, arXiv 2405.21042).

Settings, the authors' and ours (the authors' MNIST training code is not public; their repository analyses
disentanglement_lib's released models):

=========================  ====================================================  ========
setting                    value                                                 whose
=========================  ====================================================  ========
latent channels per model  10                                                    theirs
β                          4 (their MNIST demo model)                            theirs
members                    25 (``paper`` profile; fewer in ``quick``/``smoke``)   theirs
fingerprint points N       1,000 (``paper``)                                     theirs
information threshold      0.01 bits                                             theirs
OPTICS                     ``metric="precomputed"``, ξ = 0.05, "xi" method       theirs
OPTICS min_samples         max(2, round(0.4 M)) (theirs: 20, i.e. 0.4 of 50)     ours
OPTICS distance            -log NMI (they draw VI and NMI; VI, not normalised,   ours
                           put 18 of 20 channels of a 2-member test ensemble,
                           0.01 to 1.6 bits, into one cluster)
architecture               ``mnist_conv`` (Liu et al.'s encoder and decoder)     ours
likelihood                 Bernoulli (disentanglement_lib's, the library whose   ours
                           models their other ensembles are)
optimiser, batch           Adam 1e-3, batches of 100                             ours
epochs                     profile (``paper``: 30)                               ours
fingerprint images         validation images, drawn without replacement          ours
member seeds               ``seed``, ``seed + 1``, ..., ``seed + M - 1``           ours
fusion                     200 evaluation images, SGD lr 3, 20,000 steps         theirs
                           (``paper``); Adam 0.05, 300 steps (``quick``: their   ours
                           SGD needs ~1,000 steps to leave its start,
                           :func:`vaeinfo.info.fingerprints.fuse`)
fused space                2-D (``paper``; both of their fusion notebooks:       theirs
                           ``fusion_space_dimensionality = 2``,
                           ``re_emb_dim = 2``); 1-D (``quick``,                  ours
                           ``ensemble_fusion_dim``)
=========================  ====================================================  ========

On dSprites (:func:`train_dsprites_ensemble`) the members are notebook 09's β-VAEs (an MLP on the 64x64 images,
Bernoulli likelihood, β annealed; its profile's ``dsprites_*`` training settings) with the ensemble's β, channels
and seeds, and the fingerprint images carry the five ground-truth factors, so the NMI of each hotspot with each
factor names it. The authors' dSprites ensembles are disentanglement_lib's released convolutional models, which we
do not train here.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, replace

import numpy as np
import torch

from ..checks import check_integer
from ..data import ImageData
from ..data.dsprites import FACTOR_NAMES, load_dsprites, source_kind
from ..data.mnist import load_mnist
from ..data.spec import mnist_spec
from ..info import fingerprints as fp
from ..info.influence import traversal_images
from ..training.encode import encode
from ..training.sweep import RunResult, run_many
from .disentanglement import EVAL_SEED, DSpritesSettings

# On the 8x8 digits fallback (1,197 training images: 12 steps per epoch) 3 epochs leave every channel below
# 0.01 bits, and a Bernoulli likelihood on 64 pixels collapses every channel even after 60 epochs (KL 0.00 nats);
# so the members train as the digits' β-VAE of the MNIST notebooks (vaeinfo.experiments.mnist.DIGITS_FALLBACK):
# a Gaussian likelihood with a learned σ from 0.1, at least 60 epochs (720 steps, a few seconds per mlp member).
DIGITS_EPOCHS = 60


@dataclass(frozen=True)
class EnsembleSettings:
    """How the members are trained (module docstring says whose each setting is).

    Attributes
    ----------
    members : number of models M.
    latent_dim : channels per model.
    beta : weight of the KL term.
    epochs : passes over the training images.
    seed : member m trains with seed ``seed + m``.
    likelihood : ``"bernoulli"`` or ``"gaussian"`` (learned scalar σ from 0.1).
    """

    members: int = 8
    latent_dim: int = 10
    beta: float = 4.0
    epochs: int = 5
    seed: int = 0
    likelihood: str = "bernoulli"

    def describe(self) -> str:
        """E.g. ``"8 β-VAEs (10 channels, β = 4, Bernoulli, 5 epochs, seeds 0-7)"``."""
        last = self.seed + self.members - 1
        return (f"{self.members} β-VAEs ({self.latent_dim} channels, β = {self.beta:g}, "
                f"{self.likelihood.capitalize()}, {self.epochs} epochs, seeds {self.seed}-{last})")


def member_configs(settings: EnsembleSettings, image_shape: tuple[int, ...]) -> list[dict]:
    """One training config per member; they differ only in the seed. ``mnist_conv`` for 28x28 images, ``mlp`` for
    others (the 8x8 digits fallback)."""
    if settings.members < 1:
        raise ValueError(f"an ensemble needs at least one member, got members={settings.members}")
    architecture = "mnist_conv" if tuple(image_shape[-2:]) == (28, 28) else "mlp"
    model = {"architecture": architecture, "input_shape": list(image_shape), "latent_dim": settings.latent_dim,
             "likelihood": settings.likelihood}
    if settings.likelihood == "gaussian":
        model["init_log_sigma"] = float(np.log(0.1))
    return [{"model": model, "objective": {"name": "beta_vae", "beta": settings.beta},
             "optimizer": {"name": "adam", "lr": 1e-3}, "batch_size": 100, "epochs": settings.epochs,
             "seed": settings.seed + m} for m in range(settings.members)]


def fingerprint_indices(n_available: int, n_points: int, seed: int) -> np.ndarray:
    """``n_points`` distinct indices of ``range(n_available)``, drawn without replacement and sorted (the
    authors draw some fingerprint sets with replacement: :mod:`vaeinfo.info.fingerprints`)."""
    if not 2 <= n_points <= n_available:
        raise ValueError(f"need 2 <= fingerprint points <= {n_available} available images, got {n_points}; "
                         f"lower the number of fingerprint points or use more validation images")
    return np.sort(np.random.default_rng(seed).choice(n_available, size=n_points, replace=False))


@dataclass
class Ensemble:
    """A trained ensemble and its encodings of the fingerprint images.

    Attributes
    ----------
    settings : the members' settings.
    runs : one sweep result per member (cache key, history, ...).
    models : the trained members (eval mode, CPU).
    points : the fingerprint images with their labels: (N,) digits (a subset of MNIST's validation split) or
        (N, 5) dSprites factor classes (images drawn from the grid).
    mu, logvar : (N, M * d) encoder outputs; column m * d + h is channel h of member m.
    member, channel : (M * d,) member and channel index of each column.
    train_data : the training images' ImageData (its ``source`` says whether a fallback stood in).
    label_names : the name of each label column of ``points`` (``("digit",)`` or dSprites' factor names).
    """

    settings: EnsembleSettings
    runs: list[RunResult]
    models: list
    points: ImageData
    mu: np.ndarray
    logvar: np.ndarray
    member: np.ndarray
    channel: np.ndarray
    train_data: ImageData
    label_names: tuple[str, ...] = ("digit",)

    def name(self, column: int) -> str:
        """E.g. ``"m3 z7"``: member 3, channel 7."""
        return f"m{self.member[column]} z{self.channel[column]}"


def train_ensemble(settings: EnsembleSettings, *, data_dir=None, n_train: int | None = None,
                   n_validation: int | None = None, n_points: int = 1000, allow_fallback: bool = True,
                   scheduler: str | None = None, workers: int | None = None, cache_dir=None) -> Ensemble:
    """Train the M members with :func:`vaeinfo.training.sweep.run_many` (or reuse them from the cache) and encode
    ``n_points`` validation images with each.

    ``scheduler``/``workers`` choose where the members train (run_many: a Dask scheduler's cluster, a local
    cluster of ``workers`` processes, or ``workers=1`` in this process); ``n_train``/``n_validation`` keep the
    first images of each split. On the digits fallback the members train with a Gaussian likelihood for at least
    :data:`DIGITS_EPOCHS` epochs and the evaluation images are capped at the 300 validation digits (announced on
    stderr); the result's
    ``settings`` are the ones used.
    """
    data = load_mnist("train", data_dir, n=n_train, allow_fallback=allow_fallback)
    validation = load_mnist("validation", data_dir, n=n_validation, allow_fallback=allow_fallback)
    if data.source.fallback:
        settings = replace(settings, epochs=max(settings.epochs, DIGITS_EPOCHS), likelihood="gaussian")
        n_points = min(n_points, len(validation.images))
        print(f"vaeinfo: the ensemble trains on the {data.source.name} fallback: mlp members on 8x8 images, "
              f"Gaussian likelihood, {settings.epochs} epochs, {n_points} evaluation images", file=sys.stderr,
              flush=True)
    spec = mnist_spec("train", data_dir, n_train, fallback=data.source.fallback)
    configs = member_configs(settings, tuple(data.images.shape[1:]))
    runs = run_many(configs, spec, scheduler=scheduler, workers=workers, cache_dir=cache_dir)
    models = [run.model() for run in runs]
    rows = fingerprint_indices(len(validation.images), n_points, settings.seed)
    points = ImageData(validation.images[rows], validation.labels[rows], validation.source)
    mu, logvar, member, channel = encode_members(models, points)
    return Ensemble(settings, runs, models, points, mu, logvar, member, channel, data)


def train_dsprites_ensemble(settings: EnsembleSettings, training: DSpritesSettings, *, n_points: int = 500,
                            data_dir=None, scheduler: str | None = None, workers: int | None = None,
                            cache_dir=None) -> Ensemble:
    """M β-VAEs on dSprites, trained as notebook 09 trains its β-VAEs, fingerprinted on images whose ground-truth
    factors say what each hotspot is.

    ``training`` gives the images, MLP, epochs, batch, learning rate and β annealing
    (:meth:`DSpritesSettings.config`, Bernoulli likelihood); the ensemble's ``settings`` give β, the seeds
    (``seed + m``) and the channels, so member m is notebook 09's β-VAE of that β and seed (the same cache entry
    when the settings agree). The ``n_points`` evaluation images are drawn from the grid with notebook 09's seed
    (:data:`vaeinfo.experiments.disentanglement.EVAL_SEED`); their labels are the five varying factors'
    classes (:data:`vaeinfo.data.dsprites.FACTOR_NAMES`). The result's ``settings`` carry the epochs and likelihood
    used.
    """
    seeds = tuple(range(settings.seed, settings.seed + settings.members))
    training = replace(training, betas=(settings.beta,), seeds=seeds, latent_dim=settings.latent_dim,
                       objectives=("beta_vae",))
    settings = replace(settings, epochs=training.epochs, likelihood="bernoulli")
    points = load_dsprites(n_points, data_dir, seed=EVAL_SEED, uint8=True, cache_dir=cache_dir, progress=False)
    spec = training.data_spec(data_dir, cache_dir, source_kind(points.source))
    runs = run_many([training.config("beta_vae", settings.beta, s) for s in seeds], spec, scheduler=scheduler,
                    workers=workers, cache_dir=cache_dir)
    models = [run.model() for run in runs]
    mu, logvar, member, channel = encode_members(models, points)
    return Ensemble(settings, runs, models, points, mu, logvar, member, channel, spec.load(), FACTOR_NAMES)


def encode_members(models: list, images) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Every member's encoder outputs side by side: mu, logvar (N, sum of d), and the member and channel index of
    each column."""
    outputs = [encode(model, images) for model in models]
    member = np.concatenate([np.full(mu.shape[1], m) for m, (mu, _) in enumerate(outputs)])
    channel = np.concatenate([np.arange(mu.shape[1]) for mu, _ in outputs])
    return (np.concatenate([mu for mu, _ in outputs], axis=1), np.concatenate([lv for _, lv in outputs], axis=1),
            member, channel)


@dataclass
class ChannelAnalysis:
    """The channels of an ensemble compared (:func:`analyse_channels`).

    Attributes
    ----------
    info : (M * d,) I(U; X) of every channel, bits.
    kept : indices of the channels with I >= ``threshold`` bits (the columns of ``similarity``, in order).
    similarity : NMI/VI of the kept channels, then of the label columns of the fingerprint points as channels
        (:attr:`Ensemble.label_names`: the digit, or dSprites' five factors) in the rows/columns after them.
    distance : (K, K) the OPTICS distance between the kept channels.
    distance_kind : ``"vi"`` or ``"nmi"``.
    hotspots : OPTICS hotspots of the kept channels (indices into ``kept``).
    bounds : KT estimate vs exact I(X; Z_h) of every channel, bits.
    threshold : bits.
    """

    info: np.ndarray
    kept: np.ndarray
    similarity: fp.ChannelSimilarity
    distance: np.ndarray
    distance_kind: str
    hotspots: fp.Hotspots
    bounds: fp.BoundComparison
    threshold: float

    @property
    def channel_nmi(self) -> np.ndarray:
        """(K, K) NMI between the kept channels (without the label columns)."""
        k = len(self.kept)
        return self.similarity.nmi[:k, :k]

    @property
    def factor_nmi(self) -> np.ndarray:
        """(L, K) NMI of each kept channel with each label column of the fingerprint points
        (:attr:`Ensemble.label_names`: the digit, or dSprites' five factors)."""
        k = len(self.kept)
        return self.similarity.nmi[k:, :k]

    @property
    def factor_info(self) -> np.ndarray:
        """(L,) I(Y; X) = H(Y) of each label column of the fingerprint points, bits."""
        return self.similarity.info[len(self.kept):]

    @property
    def label_nmi(self) -> np.ndarray:
        """(K,) NMI of each kept channel with the first label column (MNIST: the digit)."""
        return self.factor_nmi[0]

    @property
    def label_info(self) -> float:
        """H(Y) in bits of the first label column (MNIST: the digit) on the fingerprint points."""
        return float(self.factor_info[0])

    def hotspot_factor_nmi(self) -> np.ndarray:
        """(H, L) mean NMI between the channels of each hotspot and each label column: which factor a hotspot is."""
        rows = [self.factor_nmi[:, self.hotspots.channels(h)].mean(axis=1) for h in range(self.hotspots.count)]
        return np.array(rows).reshape(self.hotspots.count, len(self.factor_nmi))


def analyse_channels(ensemble: Ensemble, *, threshold: float = fp.INFO_THRESHOLD_BITS, distance: str = "nmi",
                     min_samples: int | None = None) -> ChannelAnalysis:
    """Information of every channel, NMI/VI of the kept ones (and with each label column of the fingerprint
    points), OPTICS hotspots, and the KT bound against the exact per-channel MI.

    ``min_samples`` None: :func:`fp.optics_min_samples` of the ensemble's size (``settings.members``), whether or
    not every member still has a kept channel. ValueError up front for a threshold that is not a finite number of
    bits >= 0, an unknown distance or a bad min_samples."""
    fp.check_threshold(threshold)  # before the estimates, which take the time
    fp.check_distance(distance)
    min_samples = (fp.optics_min_samples(ensemble.settings.members) if min_samples is None else
                   check_integer(min_samples, "min_samples", low=2, meaning="OPTICS min_samples"))
    bounds = fp.kt_versus_exact(ensemble.mu, ensemble.logvar)
    info = bounds.kt_bits
    kept = fp.kept_channels(info, threshold)
    if len(kept) < 2:
        raise ValueError(f"only {len(kept)} channel(s) carry >= {threshold} bits; hotspots need at least 2. Train "
                         f"longer or more members, or lower the threshold")
    similarity = fp.channel_similarity(ensemble.mu[:, kept], ensemble.logvar[:, kept],
                                       labels=ensemble.points.labels.numpy())
    k = len(kept)
    channels_only = fp.ChannelSimilarity(similarity.info[:k], similarity.joint[:k, :k], similarity.nmi[:k, :k],
                                         similarity.vi[:k, :k])
    dist = fp.similarity_distance(channels_only, distance)
    hotspots = fp.find_hotspots(dist, ensemble.member[kept], min_samples=min_samples)
    return ChannelAnalysis(info, kept, similarity, dist, distance, hotspots, bounds, threshold)


@dataclass
class NullHotspots:
    """OPTICS on the permutation null of the kept channels (:func:`null_hotspots`).

    Attributes
    ----------
    hotspots : what OPTICS finds on the shuffled channels (same distance and ``min_samples`` as the analysis).
    within_nmi : (count,) mean NMI within each of those hotspots.
    background : mean NMI of the shuffled channels of different members (:func:`fp.cross_member_nmi`).
    """

    hotspots: fp.Hotspots
    within_nmi: np.ndarray
    background: float


def null_hotspots(ensemble: Ensemble, analysis: ChannelAnalysis, *,
                  seed: int | np.random.Generator = 0) -> NullHotspots:
    """Run the analysis' clustering again on its kept channels shuffled by :func:`fp.shuffled_channels` (each
    channel's information kept, what channels share destroyed): what OPTICS returns without shared structure, to
    read the real hotspots' NMI against. Costs one more :func:`fp.channel_similarity` of the kept channels."""
    mu, logvar = fp.shuffled_channels(ensemble.mu[:, analysis.kept], ensemble.logvar[:, analysis.kept], seed)
    similarity = fp.channel_similarity(mu, logvar)
    members = ensemble.member[analysis.kept]
    spots = fp.find_hotspots(fp.similarity_distance(similarity, analysis.distance_kind), members,
                             min_samples=analysis.hotspots.min_samples)
    return NullHotspots(spots, fp.hotspot_within_nmi(similarity.nmi, spots),
                        fp.cross_member_nmi(similarity.nmi, members))


@dataclass
class PermutationNull:
    """Several independent draws of :func:`null_hotspots` (:func:`permutation_null`).

    Attributes
    ----------
    draws : one NullHotspots per draw of the shuffle.
    """

    draws: list[NullHotspots]

    @property
    def counts(self) -> list[int]:
        """Hotspots OPTICS found in each draw."""
        return [d.hotspots.count for d in self.draws]

    @property
    def ceiling(self) -> float:
        """The largest mean NMI within any null hotspot of any draw: a real hotspot whose channels agree more than
        this is more coherent than everything the clustering returned without shared structure (NaN: no null
        hotspot in any draw). A weak reference: any channels of one data set share some information, so almost any
        group of real channels exceeds it; :func:`vaeinfo.info.fingerprints.matched_group_test` is the stronger one."""
        within = np.concatenate([d.within_nmi for d in self.draws])
        return float(np.nanmax(within)) if np.isfinite(within).any() else float("nan")

    def above(self, within_nmi: np.ndarray) -> np.ndarray:
        """(H,) bool: which real hotspots' mean NMI within exceeds :attr:`ceiling` (when it is NaN, no null hotspot:
        every hotspot with a finite mean NMI within)."""
        within_nmi = np.asarray(within_nmi, dtype=float)
        return within_nmi > self.ceiling if np.isfinite(self.ceiling) else np.isfinite(within_nmi)

    def describe(self) -> str:
        """One line: hotspots per draw, the ceiling and the null's background NMI (mean over the draws)."""
        background = np.mean([d.background for d in self.draws])
        return (f"permutation null ({len(self.draws)} draws, each channel's points shuffled): "
                f"{', '.join(map(str, self.counts))} hotspot(s) per draw, mean NMI within at most {self.ceiling:.3f}; "
                f"background {background:.3f}")

    def to_dict(self) -> dict:
        """A JSON-ready record: per draw the hotspot count, their mean NMI within and the background."""
        return {"draws": len(self.draws), "ceiling_nmi": self.ceiling,
                "hotspots": self.counts, "within_nmi": [d.within_nmi for d in self.draws],
                "background_nmi": [d.background for d in self.draws]}


def permutation_null(ensemble: Ensemble, analysis: ChannelAnalysis, *, draws: int = 5,
                     seed: int = 0) -> PermutationNull:
    """``draws`` independent :func:`null_hotspots` of the analysis, each shuffle seeded by its own child of
    ``np.random.SeedSequence(seed)`` (same seed, same draws). Costs ``draws`` :func:`fp.channel_similarity` runs
    of the kept channels."""
    draws = check_integer(draws, "draws", low=1, meaning="shuffles of the permutation null")
    seed = check_integer(seed, "seed", low=0)
    children = np.random.SeedSequence(seed).spawn(draws)
    return PermutationNull([null_hotspots(ensemble, analysis, seed=np.random.default_rng(c)) for c in children])


def hotspot_representatives(ensemble: Ensemble, analysis: ChannelAnalysis, hotspot: int,
                            limit: int | None = None) -> list[tuple[int, int]]:
    """One channel per member in a hotspot: (column of ``ensemble.mu``, sign) for its most informative channel
    there, members by decreasing information, at most ``limit``. The sign (+1/-1) aligns the channel with the
    first one (the sign of the correlation of their encoder means; NMI and VI ignore it)."""
    if analysis.hotspots.count == 0:
        raise ValueError("the analysis found no hotspot: there are no representatives to show")
    hotspot = check_integer(hotspot, "hotspot", low=0, high=analysis.hotspots.count - 1,
                            meaning="hotspot number, 0-based")
    limit = check_integer(limit, "limit", low=1, meaning="members shown per hotspot", none="all members")
    columns = analysis.kept[analysis.hotspots.channels(hotspot)]
    columns = columns[np.argsort(-analysis.info[columns], kind="stable")]
    first = {}
    for c in columns:
        first.setdefault(int(ensemble.member[c]), int(c))
    best = list(first.values())[:limit]
    reference = ensemble.mu[:, best[0]]
    return [(c, 1 if np.corrcoef(reference, ensemble.mu[:, c])[0, 1] >= 0 else -1) for c in best]


def hotspot_traversals(ensemble: Ensemble, analysis: ChannelAnalysis, values: np.ndarray, *, per_hotspot: int = 4,
                       base: int = 0) -> tuple[torch.Tensor, list[str]]:
    """Traversals of one channel per member from each hotspot: (rows, len(values), C, H, W) images and row labels.

    Row r decodes member m's encoder mean of fingerprint image ``base`` with its channel set to sign * value
    (:func:`hotspot_representatives`), so rows of one hotspot move in the same direction.
    """
    per_hotspot = check_integer(per_hotspot, "per_hotspot", low=1, meaning="members shown per hotspot")
    base = check_integer(base, "base", low=0, high=len(ensemble.mu) - 1, meaning="a fingerprint image")
    rows, labels = [], []
    for h in range(analysis.hotspots.count):
        for column, sign in hotspot_representatives(ensemble, analysis, h, per_hotspot):
            m, z = int(ensemble.member[column]), int(ensemble.channel[column])
            d = ensemble.settings.latent_dim
            z_base = ensemble.mu[base, m * d:(m + 1) * d]
            rows.append(traversal_images(ensemble.models[m], z_base, np.array([z]), sign * np.asarray(values))[0])
            labels.append(f"H{h + 1} {ensemble.name(column)}{'' if sign > 0 else ' (-)'}")
    if not rows:
        return torch.empty(0, len(values), *ensemble.points.images.shape[1:]), []
    return torch.stack(rows), labels


def fuse_hotspots(ensemble: Ensemble, analysis: ChannelAnalysis, *, points: int = 200, dim: int = 1,
                  similarity: str = "vi", optimizer: str = "sgd", steps: int = 20_000, lr: float = 3.0,
                  seed: int = 0) -> list[fp.Fusion]:
    """One fused representation per hotspot (:func:`vaeinfo.info.fingerprints.fuse`), from the fingerprints of all
    its channels on the first ``points`` evaluation images (the evaluation images are a seeded sample of the
    validation set, but their indices are sorted, so these are the sample's lowest-numbered images: MNIST's
    validation images are not ordered by class; the authors fuse on 200)."""
    points = check_integer(points, "points", low=2, meaning="evaluation images fused")
    rows = slice(0, min(points, len(ensemble.mu)))
    fusions = []
    for h in range(analysis.hotspots.count):
        columns = analysis.kept[analysis.hotspots.channels(h)]
        stack = np.stack([fp.fingerprint(ensemble.mu[rows, c], ensemble.logvar[rows, c]) for c in columns])
        fusions.append(fp.fuse(stack, dim=dim, similarity=similarity, optimizer=optimizer, steps=steps, lr=lr,
                               seed=seed + h))
    return fusions


def fused_axis(fused_mu: np.ndarray, member_mu: np.ndarray) -> int:
    """The dimension of a fused representation that follows its hotspot's channels best: the largest mean |Pearson
    r| between the fused means (N, dim) in that dimension and each channel's means (n_h, N). The fusion objective
    is the same under a swap or sign flip of the fused axes, so the first one need not be the one to draw."""
    fused, members = np.atleast_2d(np.asarray(fused_mu, dtype=float).T), np.atleast_2d(member_mu)
    if fused.shape[1] != members.shape[1]:
        raise ValueError(f"fused_axis: fused means of {fused.shape[1]} points against channel means of "
                         f"{members.shape[1]}")
    r = np.corrcoef(np.vstack([fused, members]))[: len(fused), len(fused):]
    return int(np.argmax(np.nan_to_num(np.abs(r)).mean(axis=1)))
