"""Channel fingerprints: how much each latent channel of a VAE ensemble tells about the data, and which channels
of different ensemble members carry the same information (Murphy, Dillavou & Bassett, "Comparing the information
content of probabilistic representation spaces", arXiv 2405.21042, TMLR 2025).

A *channel* is one latent dimension of one model. Over N evaluation points x_1 ... x_N it is the list of 1-D
Gaussian posteriors N(mu_i, sigma_i^2). Its *fingerprint* is the N x N matrix of Bhattacharyya distances

    D(i, j) = 1/8 (mu_i - mu_j)^2 / sbar^2 + 1/2 log(sbar^2 / (sigma_i sigma_j)),   sbar^2 = (sigma_i^2 + sigma_j^2) / 2

(nats; :func:`fingerprint`), and exp(-D(i, j)) in [0, 1] is how hard the channel finds x_i and x_j to tell apart.
From fingerprints, in **bits** (the authors' unit), with the Kolchinsky-Tracey (2017) Bhattacharyya bound:

    I(U; X)     = -(1/N) sum_i log2 (1/N) sum_j exp(-D_U(i, j))                 (0 <= I <= log2 N)
    I(U, V; X)  = the same with D_U + D_V  (the coefficients of independent channels multiply)
    I(U, U'; X) = the same with 2 D_U      (two independent looks through the same channel)
    I(U; V)     = I_U + I_V - I_UV,     H~(U) = 2 I_U - I_UU
    NMI(U, V)   = I(U; V) / sqrt(H~(U) H~(V)),     VI(U, V) = 2 I_UV - I_UU - I_VV            (bits)

(:func:`channel_info`, :func:`joint_info`, :func:`channel_similarity`). For one channel, I(U; X) is the
Kolchinsky-Tracey *lower* bound of the exact I(X; Z_h) of the mixture (1/N) sum_i N(mu_i, sigma_i^2) that
:func:`vaeinfo.info.mi.factor_mi` computes in nats; :func:`kt_versus_exact` sets the two side by side.
Since mean_j B^2 >= (mean_j B)^2 for every row, I_UU <= 2 I_U: H~(U) >= 0, with 0 only for a channel that
carries nothing (NMI is then undefined: NaN). A discrete label is a channel too (:func:`label_fingerprint`:
coefficient 1 within a class, 0 across), whose I(U; X) is the label's entropy H(Y).

Ensembles: channels carrying less than :data:`INFO_THRESHOLD_BITS` (0.01 bits) are dropped
(:func:`kept_channels`), the rest are clustered with scikit-learn's OPTICS on a precomputed distance, VI clipped at
0 or -log NMI (:func:`similarity_distance`), and the clusters are *hotspots*: information fragments that recur
across members (:func:`find_hotspots`; ``min_samples`` scaled to the ensemble size, :func:`optics_min_samples`).
OPTICS finds clusters even where there is no structure; :func:`cross_member_nmi` gives the background to read a
hotspot's NMI against.
:func:`fuse` synthesises one representation from a set of channels as the authors do: posteriors for the N
evaluation points, optimised by gradient descent to be as similar as possible to every channel of the set.

Where this differs from the authors' code (murphyka/representation-space-info-comparison @ 5760dde2), deliberately:

- their ``structure_from_trained_models.py`` imports ``dataset_helper_fns``, a module that the repository ships as
  ``save_fingerprint_sample.py`` (renamed), so the script does not run as published;
- their ``utils.monte_carlo_info`` calls ``compute_likelihoods``, which is not defined (``compute_likelihoods_mc``
  is); it also returns std / sqrt(number of samples) over samples that share their mixture draws per batch;
- their fingerprint sets of smallnorb and cars3d are drawn with ``np.random.choice`` *with replacement*, so an
  image can appear twice and inflate the coefficients; here the evaluation points are distinct (the caller samples
  without replacement: :mod:`vaeinfo.experiments.ensembles`);
- their fusion notebook's similarities use ``reduce_logsumexp`` without the ``- log N``: that leaves the
  "info" objective shifted by a constant and VI unchanged, but makes their NMI objective a different function
  (numerator and denominator shift by log N and -log N); :func:`fuse` normalises all three;
- their pairwise NMI/VI loops over channel pairs in Python and materialises every N x N fingerprint (C N^2 floats:
  4 GB at N = 1,000 and 500 channels); :func:`channel_similarity` never materialises them (below);
- their clustering uses ``min_samples = 20`` whatever the ensemble size (20 of 50 models in the paper's runs;
  the README's own example clusters 20 models with it); here it is scaled with the number of members.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from scipy.special import logsumexp
from sklearn.cluster import OPTICS

from ..checks import check_integer, check_labels
from ..io import progress_bar, torch_threads
from .mi import as_posterior, factor_mi
from .mi.api import require_consistent

LN2 = math.log(2.0)
INFO_THRESHOLD_BITS = 0.01  # the authors' threshold: channels carrying less are dropped before clustering
OPTICS_XI = 0.05  # scikit-learn's default, which the authors keep
AUTHORS_MIN_SAMPLES, AUTHORS_MEMBERS = 20, 50  # their OPTICS min_samples, for their ensembles of 50 models
NMI_FLOOR = 1e-4  # the authors clip NMI here before -log NMI
DISTANCES = ("vi", "nmi")
SIMILARITIES = ("info", "vi", "nmi")
OPTIMIZERS = ("sgd", "adam")
CHUNK_BYTES = 2**28  # working memory of one block of evaluation points in channel_similarity (256 MiB)
SMALL_FUSION = 2**22  # M N^2 below this: fuse on one torch thread (its small ops ran 4.6x slower on 2 threads)


def fingerprint(mu: Any, logvar: Any) -> np.ndarray:
    """The Bhattacharyya fingerprint of one channel: D(i, j) between the posteriors of the N points, nats.

    Parameters
    ----------
    mu, logvar : (N,) posterior means and log-variances of the channel (numpy, sequence or torch), N >= 2.

    Returns
    -------
    (N, N) float64, symmetric, >= 0, zero diagonal (exactly).
    """
    m, lv = _one_channel(mu, logvar)
    return bhattacharyya(m[:, None], lv[:, None], m[None, :], lv[None, :])


def bhattacharyya(mu_i, logvar_i, mu_j, logvar_j, xp=np):
    """Bhattacharyya distance between N(mu_i, sigma_i^2) and N(mu_j, sigma_j^2) (broadcasting), nats, >= 0.

    Written as 1/4 (mu_i - mu_j)^2 / (sigma_i^2 + sigma_j^2) + 1/2 log cosh((logvar_i - logvar_j) / 2), which equals
    the definition in the module docstring and is exactly 0 for identical posteriors. ``xp`` is ``numpy`` or
    ``torch`` (the same formula differentiates in :func:`fuse`).
    """
    half = 0.5 * (logvar_i - logvar_j)
    log_cosh = xp.logaddexp(half, -half) - LN2
    return 0.25 * (mu_i - mu_j) ** 2 / (xp.exp(logvar_i) + xp.exp(logvar_j)) + 0.5 * xp.clip(log_cosh, 0.0, None)


def label_fingerprint(labels: Any) -> np.ndarray:
    """The fingerprint of a discrete label seen as a channel: 0 within a class, +inf across (coefficient 1 or 0).

    The authors write -log(clip(1[y_i = y_j], 1e-10)), i.e. 23.03 instead of +inf; the exact 0 coefficient makes
    the label's I(U; X) exactly its entropy H(Y) in bits. ``labels``: (N,) of any comparable dtype, no NaN.
    """
    y = np.asarray(labels)
    if y.ndim != 1 or len(y) < 2:
        raise ValueError(f"labels must be one label per evaluation point, shape (N,) with N >= 2, got {y.shape}")
    check_labels(y)
    return np.where(y[:, None] == y[None, :], 0.0, np.inf)


def channel_info(distances: Any) -> np.ndarray | float:
    """I(U; X) in bits from fingerprints: -(1/N) sum_i log2 (1/N) sum_j exp(-D(i, j)).

    Parameters
    ----------
    distances : (..., N, N) fingerprints in nats (entries >= 0 or +inf, zero diagonal), e.g. one from
        :func:`fingerprint` or a stack of them.

    Returns
    -------
    float for one fingerprint, else (...,) float64 array; bits, 0 <= I <= log2 N.
    """
    d = _check_distances(distances)
    n = d.shape[-1]
    info = -np.mean(logsumexp(-d, axis=-1) - math.log(n), axis=-1) / LN2
    return float(info) if np.ndim(info) == 0 else info


def joint_info(distances: Sequence[Any]) -> float:
    """I(U_1, ..., U_k; X) in bits of a set of channels: :func:`channel_info` of the sum of their fingerprints.

    ``joint_info([D, D])`` is I(U, U'; X), two independent looks through the same channel.
    """
    if len(distances) == 0:
        raise ValueError("joint_info needs at least one fingerprint")
    mats = [_check_distances(d) for d in distances]
    if any(m.shape != mats[0].shape or m.ndim != 2 for m in mats):
        raise ValueError(f"joint_info: the fingerprints must all be (N, N) of one N, got {[m.shape for m in mats]}")
    return channel_info(sum(mats))


@dataclass(frozen=True)
class ChannelSimilarity:
    """Information of K channels and of every pair, in bits (:func:`channel_similarity`).

    Attributes
    ----------
    info : (K,) I(U; X).
    joint : (K, K) I(U, V; X), symmetric; its diagonal is I(U, U'; X) (two looks through one channel).
    nmi : (K, K) normalised mutual information, 1 on the diagonal, NaN for a channel that carries nothing.
    vi : (K, K) variation of information, bits, 0 on the diagonal.
    """

    info: np.ndarray
    joint: np.ndarray
    nmi: np.ndarray
    vi: np.ndarray


def nmi_and_vi(info: np.ndarray, joint: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """NMI and VI (bits) from the channels' I(U; X) (K,) and joint informations (K, K) with I_UU on the diagonal.

    NMI = (I_U + I_V - I_UV) / sqrt((2 I_U - I_UU)(2 I_V - I_VV)); VI = 2 I_UV - I_UU - I_VV. NMI is NaN where a
    channel's H~ = 2 I_U - I_UU is not positive (a channel without information).
    """
    info, joint = np.asarray(info, dtype=np.float64), np.asarray(joint, dtype=np.float64)
    self_joint = np.diag(joint)
    entropy = 2.0 * info - self_joint  # H~(U) >= 0 (module docstring)
    valid = entropy > 0
    with np.errstate(invalid="ignore", divide="ignore"):
        denominator = np.sqrt(np.outer(entropy, entropy))
        nmi = np.where(valid[:, None] & valid[None, :], (info[:, None] + info[None, :] - joint) / denominator, np.nan)
    vi = 2.0 * joint - self_joint[:, None] - self_joint[None, :]
    return nmi, vi


def channel_similarity(mu: Any, logvar: Any, labels: Any = None, *, chunk_bytes: int = CHUNK_BYTES,
                       progress: bool = False) -> ChannelSimilarity:
    """I(U; X), I(U, V; X), NMI and VI of every pair of C Gaussian channels (and L label channels), in bits.

    The C columns of ``mu``/``logvar`` are the channels, e.g. all latent dimensions of all ensemble members side by
    side, evaluated on the same N points in the same order. For each evaluation point i, the Bhattacharyya
    coefficients B_U(i, j) = exp(-D_U(i, j)) of all K = C + L channels form a K x N matrix b_i, and

        sum_j B_U(i, j) B_V(i, j) = (b_i b_i^T)[U, V]

    gives every pair's joint term at once (one matrix product per point; the diagonal is the 2 D_U term). The
    fingerprints are computed block by block of evaluation points and never stored whole.

    Cost: time O(N^2 K^2) multiply-adds (BLAS) plus O(N^2 K) exponentials; memory O(K^2) for the results plus
    about ``chunk_bytes`` for a block of points (at least one point: ~6 N K + K^2 float64). Example: N = 1,000
    and K = 500 is 2.5e11 multiply-adds (tens of seconds on 2 CPU cores) in 256 MiB blocks of ~10 points; the
    authors' approach stores every fingerprint first (K N^2 floats: 4 GB).

    Parameters
    ----------
    mu, logvar : (N, C) posterior means and log-variances (validated like :func:`vaeinfo.info.mi.factor_mi`).
    labels : None, or (N,) / (N, L) discrete labels appended as L more channels (:func:`label_fingerprint`).
    chunk_bytes : working memory of one block of evaluation points.
    progress : show a progress bar over the blocks.

    Returns
    -------
    ChannelSimilarity with (K,) and (K, K) arrays; channels in the order of the columns, then the labels.
    """
    mu, logvar = as_posterior(mu, logvar)
    y = _label_columns(labels, len(mu))
    n, k = len(mu), mu.shape[1] + y.shape[1]
    rows = max(1, int(chunk_bytes) // (8 * (6 * n * k + k * k)))
    info, joint = np.zeros(k), np.zeros((k, k))
    for lo in progress_bar(range(0, n, rows), desc="channel similarity", unit="block", enabled=progress):
        b = _coefficients(mu, logvar, y, slice(lo, lo + rows))  # (r, K, N)
        info -= np.log2(b.sum(axis=2) / n).sum(axis=0)
        joint -= np.log2(np.matmul(b, b.transpose(0, 2, 1)) / n).sum(axis=0)
    info, joint = info / n, joint / n
    joint = 0.5 * (joint + joint.T)  # exact in theory; BLAS rounding may differ in the last bit
    nmi, vi = nmi_and_vi(info, joint)
    np.fill_diagonal(vi, 0.0)
    return ChannelSimilarity(info, joint, nmi, vi)


def channel_information(mu: Any, logvar: Any, *, chunk_bytes: int = CHUNK_BYTES) -> np.ndarray:
    """I(U; X) in bits of each of the C channels (columns) of ``mu``/``logvar`` (N, C): (C,) float64.

    Time O(N^2 C) exponentials, memory about ``chunk_bytes`` (blocks of evaluation points, as
    :func:`channel_similarity`, without the pairs).
    """
    mu, logvar = as_posterior(mu, logvar)
    n, c = mu.shape
    rows = max(1, int(chunk_bytes) // (8 * 6 * n * c))
    total = np.zeros(c)
    for lo in range(0, n, rows):
        total -= np.log2(_coefficients(mu, logvar, None, slice(lo, lo + rows)).sum(axis=2) / n).sum(axis=0)
    return total / n


def kept_channels(info: np.ndarray, threshold: float = INFO_THRESHOLD_BITS) -> np.ndarray:
    """Indices of the channels with I(U; X) >= ``threshold`` bits (the authors keep those above 0.01 bits)."""
    check_threshold(threshold)
    return np.flatnonzero(np.asarray(info) >= threshold)


def check_threshold(threshold: float) -> None:
    """ValueError unless ``threshold`` is a finite number of bits >= 0 (a negative one keeps collapsed channels)."""
    if not (np.isfinite(threshold) and threshold >= 0):
        raise ValueError(f"threshold must be a finite number of bits >= 0 (the authors: {INFO_THRESHOLD_BITS}), "
                         f"got {threshold}")


def check_distance(kind: str) -> None:
    """ValueError unless ``kind`` is one of :data:`DISTANCES`."""
    if kind not in DISTANCES:
        raise ValueError(f"unknown distance {kind!r}; choose one of {DISTANCES}")


def similarity_distance(similarity: ChannelSimilarity, kind: str = "vi") -> np.ndarray:
    """The precomputed OPTICS distance between channels, as the authors form it: (K, K), >= 0, zero diagonal.

    ``"vi"``: VI in bits clipped at 0; ``"nmi"``: -log(max(NMI, 1e-4)) clipped at 0 (NMI estimates may pass 1).
    """
    check_distance(kind)
    if kind == "vi":
        dist = np.clip(similarity.vi, 0.0, None)
    else:
        nmi = np.nan_to_num(similarity.nmi, nan=0.0)
        dist = np.clip(-np.log(np.clip(nmi, NMI_FLOOR, None)), 0.0, None)
    dist = 0.5 * (dist + dist.T)
    np.fill_diagonal(dist, 0.0)
    return dist


def optics_min_samples(n_members: int) -> int:
    """OPTICS ``min_samples`` for an ensemble of ``n_members`` models: max(2, round(0.4 M)).

    The authors use 20 for their ensembles of 50 models (0.4 M), and 20 whatever the size (0.8 M for their MNIST
    ensembles of 25). A hotspot then needs at least that many channels (scikit-learn's ``min_cluster_size`` defaults
    to ``min_samples``): with one channel per member, it must recur in about 40 % of the members (rounding makes it
    33-50 % from 4 members up, more below; one member may give several channels). E.g. 25 members -> 10, 8 -> 3, 6 -> 2,
    50 -> 20.
    """
    n_members = check_integer(n_members, "n_members", low=1, meaning="models in the ensemble")
    return max(2, int(math.floor(AUTHORS_MIN_SAMPLES / AUTHORS_MEMBERS * n_members + 0.5)))


@dataclass(frozen=True)
class Hotspots:
    """OPTICS hotspots among K channels (:func:`find_hotspots`).

    Attributes
    ----------
    labels : (K,) hotspot of each channel, -1 for none; hotspots are numbered 0, 1, ... in OPTICS order.
    ordering : (K,) channel indices in OPTICS order (the order of the heatmaps and the reachability plot).
    reachability : (K,) reachability distance of each channel *in OPTICS order* (the first is +inf).
    members : (K,) ensemble member of each channel.
    min_samples : the OPTICS ``min_samples`` used.
    """

    labels: np.ndarray
    ordering: np.ndarray
    reachability: np.ndarray
    members: np.ndarray
    min_samples: int

    @property
    def count(self) -> int:
        """Number of hotspots."""
        return int(self.labels.max()) + 1 if len(self.labels) else 0

    def channels(self, hotspot: int) -> np.ndarray:
        """Indices (into the K channels) of the channels of one hotspot, in OPTICS order."""
        return self.ordering[self.labels[self.ordering] == hotspot]

    def coverage(self) -> np.ndarray:
        """(count,) number of distinct ensemble members with a channel in each hotspot."""
        return np.array([len(np.unique(self.members[self.labels == h])) for h in range(self.count)], dtype=np.int64)


def find_hotspots(distance: np.ndarray, members: Any, *, min_samples: int | None = None,
                  xi: float = OPTICS_XI) -> Hotspots:
    """Hotspots: OPTICS clusters (``metric="precomputed"``, ``cluster_method="xi"``) of the kept channels.

    Parameters
    ----------
    distance : (K, K) symmetric, >= 0, zero diagonal (:func:`similarity_distance`).
    members : (K,) integer member id of each channel; sets the default ``min_samples`` from the number of
        distinct members (:func:`optics_min_samples`) and the hotspots' coverage.
    min_samples : OPTICS ``min_samples``; None: scaled to the ensemble size. Capped at K.
    xi : OPTICS ξ (0.05, scikit-learn's default, kept by the authors).
    """
    dist = np.asarray(distance, dtype=np.float64)
    members = np.asarray(members)
    if dist.ndim != 2 or dist.shape[0] != dist.shape[1] or dist.shape[0] < 2:
        raise ValueError(f"distance must be a square (K, K) matrix with K >= 2 channels, got shape {dist.shape}; "
                         f"keep more channels (lower the information threshold or train more members)")
    if members.shape != (len(dist),):
        raise ValueError(f"members must give one member id per channel, shape ({len(dist)},), got {members.shape}")
    if not np.all(np.isfinite(dist)) or dist.min() < 0 or not np.allclose(dist, dist.T) or np.any(np.diag(dist)):
        raise ValueError("distance must be finite, >= 0, symmetric with a zero diagonal: build it with "
                         "similarity_distance")
    samples = check_integer(min_samples, "min_samples", low=2, meaning="channels in a hotspot's core",
                            none="scaled to the ensemble size")
    samples = optics_min_samples(len(np.unique(members))) if samples is None else samples
    samples = min(samples, len(dist))
    fit = OPTICS(min_samples=samples, metric="precomputed", xi=xi, cluster_method="xi").fit(dist)
    raw = fit.labels_
    first_seen = [lab for lab in dict.fromkeys(raw[fit.ordering_]) if lab >= 0]
    relabel = {old: new for new, old in enumerate(first_seen)}
    labels = np.array([relabel.get(lab, -1) for lab in raw], dtype=np.int64)
    return Hotspots(labels, fit.ordering_.astype(np.int64), fit.reachability_[fit.ordering_], members, samples)


def cross_member_nmi(nmi: Any, members: Any) -> float:
    """Mean NMI over the pairs of channels of *different* members (NaN pairs ignored): the background against which
    a hotspot's mean NMI within is read.

    OPTICS' ξ method finds clusters in any distance matrix, even a structureless one (uniform random distances, or
    distances between Gaussian points: at least one cluster in each of 600 such matrices, K = 40-200 channels), so a
    hotspot shows shared information only where its channels agree clearly more than channels of different members
    do in general. ``nmi`` : (K, K); ``members`` : (K,) member of each channel. NaN where no pair has a value.
    """
    nmi, members = np.asarray(nmi, dtype=np.float64), np.asarray(members)
    if nmi.ndim != 2 or nmi.shape != (len(members), len(members)):
        raise ValueError(f"nmi must be (K, K) with members (K,), got {nmi.shape} and {members.shape}")
    return _finite_mean(nmi[members[:, None] != members[None, :]])


def hotspot_within_nmi(nmi: Any, hotspots: Hotspots) -> np.ndarray:
    """(count,) mean NMI over the pairs of distinct channels of each hotspot (NaN pairs ignored); ``nmi`` (K, K)."""
    nmi = np.asarray(nmi, dtype=np.float64)
    blocks = (nmi[np.ix_(c, c)][~np.eye(len(c), dtype=bool)] for c in map(hotspots.channels, range(hotspots.count)))
    return np.array([_finite_mean(pairs) for pairs in blocks], dtype=np.float64)


def group_cross_member_nmi(nmi: np.ndarray, members: np.ndarray, channels: np.ndarray) -> float:
    """Mean NMI over the pairs of ``channels`` (indices into ``nmi`` (K, K)) that belong to *different* members
    (``members`` (K,)), NaN pairs ignored; NaN when the group has one member: what channels of different seeds share,
    without the pairs of one model's own channels. The channels are sorted first, so that a set of channels scores
    the same to the last bit whatever order it comes in (a random group equal to the hotspot ties it)."""
    channels = np.sort(channels)
    block = nmi[np.ix_(channels, channels)]
    own = members[channels]
    return _finite_mean(block[own[:, None] != own[None, :]])


@dataclass
class MatchedGroupTest:
    """Each hotspot against random groups of channels with its member make-up (:func:`matched_group_test`).

    Attributes
    ----------
    observed : (H,) mean NMI across members within each hotspot (:func:`group_cross_member_nmi`).
    null : (H, draws) the same statistic for each random group.
    p_value : (H,) (1 + #{null >= observed}) / (1 + draws); NaN for a hotspot of one member.
    """

    observed: np.ndarray
    null: np.ndarray
    p_value: np.ndarray


def matched_group_test(nmi: Any, hotspots: Hotspots, *, draws: int = 1000,
                       seed: int | np.random.Generator = 0) -> MatchedGroupTest:
    """Do a hotspot's channels agree more than random channels of the same members?

    For each hotspot with c_m channels of member m, ``draws`` random groups take c_m channels of each such member m
    (without replacement, among all K channels of that member in ``nmi``), and the mean NMI across members within the
    group is compared with the hotspot's (one-sided Monte Carlo p-value). Any channels of one data set share some
    information (the background of :func:`cross_member_nmi`), and a shuffled-points null
    (:func:`shuffled_channels`) removes all of it, so it rejects for any group; this null keeps that background.
    The hotspots were selected by OPTICS for their agreement, so the random groups are a lenient reference: a small p
    says a hotspot is a distinct block of channels that recur across members, not a test corrected for the selection.

    Parameters
    ----------
    nmi : (K, K) NMI of the channels the hotspots were found among; hotspots : :func:`find_hotspots`' result on them.
    draws : random groups per hotspot (>= 1). seed : int or numpy Generator.
    """
    nmi = np.asarray(nmi, dtype=np.float64)
    members = np.asarray(hotspots.members)
    if nmi.ndim != 2 or nmi.shape != (len(members), len(members)):
        raise ValueError(f"nmi must be (K, K) for the K = {len(members)} channels of the hotspots, got {nmi.shape}")
    draws = check_integer(draws, "draws", low=1, meaning="random groups per hotspot")
    rng = np.random.default_rng(seed)
    pools = {m: np.flatnonzero(members == m) for m in np.unique(members)}
    observed = np.empty(hotspots.count)
    null = np.full((hotspots.count, draws), np.nan)
    for h in range(hotspots.count):
        channels = hotspots.channels(h)
        observed[h] = group_cross_member_nmi(nmi, members, channels)
        make_up = dict(zip(*np.unique(members[channels], return_counts=True), strict=True))
        for t in range(draws):
            group = np.concatenate([rng.choice(pools[m], c, replace=False) for m, c in make_up.items()])
            null[h, t] = group_cross_member_nmi(nmi, members, group)
    exceed = (null >= observed[:, None]).sum(axis=1)
    p_value = np.where(np.isfinite(observed), (1.0 + exceed) / (1.0 + draws), np.nan)
    return MatchedGroupTest(observed, null, p_value)


def _finite_mean(values: np.ndarray) -> float:
    """Mean of the finite entries of ``values``; NaN when there is none."""
    values = values[np.isfinite(values)]
    return float(values.mean()) if len(values) else float("nan")


def shuffled_channels(mu: Any, logvar: Any, seed: int | np.random.Generator = 0) -> tuple[np.ndarray, np.ndarray]:
    """The permutation null of an ensemble's channels: each column of ``mu``/``logvar`` (N, C) with its N posteriors
    permuted across the evaluation points independently of the other columns (one seeded permutation per column,
    applied to mu and logvar alike).

    Each channel keeps its fingerprint up to a relabelling of the points, hence exactly its information I(U; X);
    what two channels share is destroyed. Hotspots that OPTICS still finds on the shuffled channels show what it
    returns without shared structure (:func:`cross_member_nmi` explains why it returns any).
    """
    mu, logvar = as_posterior(mu, logvar)
    rng = np.random.default_rng(seed)
    rows = np.stack([rng.permutation(mu.shape[0]) for _ in range(mu.shape[1])], axis=1)
    return np.take_along_axis(mu, rows, axis=0), np.take_along_axis(logvar, rows, axis=0)


@dataclass(frozen=True)
class BoundComparison:
    """The Kolchinsky-Tracey bound against the exact I(X; Z_h) of each channel's mixture, both in bits.

    Attributes
    ----------
    kt_bits : (C,) the fingerprint estimate I(U; X) (a lower bound).
    exact_bits : (C,) :func:`vaeinfo.info.mi.factor_mi` of the same N posteriors, converted from nats.
    method : the factor_mi estimator used.
    """

    kt_bits: np.ndarray
    exact_bits: np.ndarray
    method: str

    @property
    def gap_bits(self) -> np.ndarray:
        """(C,) exact - KT, bits (>= 0 up to the exact estimator's error)."""
        return self.exact_bits - self.kt_bits


def kt_versus_exact(mu: Any, logvar: Any, *, method: str = "grid", **options: Any) -> BoundComparison:
    """Each channel's fingerprint information beside the exact I(X; Z_h) of the same N points, in bits.

    Both describe the mixture (1/N) sum_i N(mu_ih, sigma_ih^2) of the N evaluation points. The KT value is a lower
    bound; ``method`` is a consistent estimator (ValueError otherwise): ``grid`` is accurate to about 1e-3 nats
    (0.0014 bits), ``quad`` to ~1e-9 (slow), ``mc`` to its standard error. ``options`` go to
    :func:`vaeinfo.info.mi.factor_mi`.
    """
    require_consistent(method, "kt_versus_exact")
    mu, logvar = as_posterior(mu, logvar)
    exact = factor_mi(mu, logvar, method, **options) / LN2
    return BoundComparison(channel_information(mu, logvar), exact, method)


@dataclass(frozen=True)
class Fusion:
    """A representation synthesised from a set of channels (:func:`fuse`).

    Attributes
    ----------
    mu, logvar : (N, dim) posteriors of the N evaluation points in the fused space.
    similarity : the similarity maximised (``"info"``, ``"vi"`` or ``"nmi"``).
    optimizer : ``"sgd"`` or ``"adam"``.
    history : (steps + 1,) mean similarity to the channels before each step and, last, of the returned
        posteriors (history[0]: at the start), in nats for "info"; exp(-VI in nats) for "vi"; NMI.
    info_bits : I(F; X) of the fused representation, bits.
    nmi : (M,) NMI between the fused representation and each channel of the set.
    """

    mu: np.ndarray
    logvar: np.ndarray
    similarity: str
    optimizer: str
    history: np.ndarray
    info_bits: float
    nmi: np.ndarray


def fuse(distances: Any, *, dim: int = 1, similarity: str = "vi", steps: int = 20_000, lr: float = 3.0,
         optimizer: str = "sgd", init_std: float = 0.05, seed: int = 0) -> Fusion:
    """Fuse M channels into one ``dim``-dimensional representation of the N evaluation points, as the authors do.

    Their fusion notebook (``Rep_space_fusion_SO(2).ipynb``) gives every evaluation point a free Gaussian posterior
    N(mu_i, diag sigma_i^2) in the fused space, mu_i ~ N(0, ``init_std``^2) and log sigma^2 = 0 at the start, and
    runs plain SGD (learning rate 3, 20,000 steps) on minus the mean similarity to the M channels' fingerprints:
    I(F; U) (``"info"``), exp(-VI(F, U)) (``"vi"``) or NMI(F, U) (``"nmi"``), all in nats here with the - log N
    normalisation their code leaves out (module docstring). The fused fingerprint is the sum over its dimensions
    of the 1-D Bhattacharyya distances (diagonal covariances). "info" is maximal for any F that tells all points
    apart, so it rewards information beyond the channels'; "vi" rewards agreement. "nmi" can be gamed: the
    estimate is not bounded by 1 for weak channels (fusing three copies of a 2.1-bit channel on NMI ended at a
    0.17-bit fused channel with "NMI" 1.21; on VI at 1.93 bits and NMI 0.99).

    Their start is a saddle: every point's posterior overlaps every other's, and the gradient is tiny. Plain SGD
    with their learning rate leaves it slowly (three copies of a 4-cluster channel, N = 48: 600 steps; eight
    channels of an MNIST hotspot, N = 200: exp(-VI) stays at its starting 0.444 for about 900 steps, then reaches
    0.795 by step 2,000, NMI 0.70-0.95 with the channels), so ``optimizer="adam"`` (ours; e.g. ``lr=0.05``) is
    offered: on that hotspot it reached exp(-VI) 0.78 and NMI 0.71-0.94 within 100 steps.

    Cost per step O(M N^2); memory M N^2 float64 for the channels' coefficients. Below M N^2 = 2^22 (e.g. N = 500,
    M = 16) the steps run on one torch thread: their small operations only lose time to a second one.

    Parameters
    ----------
    distances : (M, N, N) fingerprints (nats) of the channels to fuse, e.g. the channels of one hotspot.
    dim : dimension of the fused space.
    similarity : one of :data:`SIMILARITIES`.
    steps, lr, init_std : the optimisation (the authors': 20,000, 3.0, 0.05).
    optimizer : ``"sgd"`` (the authors') or ``"adam"``.
    seed : seeds the initial means.
    """
    d = _check_distances(distances)
    if d.ndim != 3:
        raise ValueError(f"fuse needs a stack of fingerprints (M, N, N), got shape {d.shape}")
    if similarity not in SIMILARITIES:
        raise ValueError(f"unknown similarity {similarity!r}; choose one of {SIMILARITIES}")
    if optimizer not in OPTIMIZERS:
        raise ValueError(f"unknown optimizer {optimizer!r}; choose one of {OPTIMIZERS}")
    dim = check_integer(dim, "dim", low=1, meaning="dimensions of the fused space")
    steps = check_integer(steps, "steps", low=1, meaning="optimiser steps")
    seed = check_integer(seed, "seed", low=0)
    if not lr > 0 or not init_std > 0:
        raise ValueError(f"need lr > 0 and init_std > 0 (all means 0 is a stationary point), got lr={lr}, "
                         f"init_std={init_std}")
    n = d.shape[-1]
    target = torch.as_tensor(d, dtype=torch.float64)
    info_u, info_uu = _info_nats(target), _info_nats(2.0 * target)  # constants of the objective
    generator = torch.Generator().manual_seed(int(seed))
    mu = (init_std * torch.randn(n, dim, generator=generator, dtype=torch.float64)).requires_grad_()
    logvar = torch.zeros(n, dim, dtype=torch.float64, requires_grad=True)
    step_rule = (torch.optim.SGD if optimizer == "sgd" else torch.optim.Adam)([mu, logvar], lr=lr)
    history = np.empty(steps + 1)
    with torch_threads(1 if target.numel() < SMALL_FUSION else None):
        for step in range(steps):
            step_rule.zero_grad()
            value = _similarity(_fused_distances(mu, logvar), target, info_u, info_uu, similarity).mean()
            (-value).backward()
            step_rule.step()
            history[step] = value.item()
    with torch.no_grad():
        fused = _fused_distances(mu, logvar)
        history[steps] = _similarity(fused, target, info_u, info_uu, similarity).mean().item()
        info_f, info_ff = _info_nats(fused), _info_nats(2.0 * fused)
        info_fu = _info_nats(fused + target)
        nmi = (info_f + info_u - info_fu) / torch.sqrt((2 * info_f - info_ff) * (2 * info_u - info_uu))
    return Fusion(mu.detach().numpy(), logvar.detach().numpy(), similarity, optimizer, history, float(info_f) / LN2,
                  nmi.numpy())


def _fused_distances(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """(N, N) Bhattacharyya distances of diagonal Gaussians (N, dim): the sum of the 1-D distances."""
    return bhattacharyya(mu[:, None, :], logvar[:, None, :], mu[None, :, :], logvar[None, :, :], xp=torch).sum(-1)


def _info_nats(d: torch.Tensor) -> torch.Tensor:
    """I(U; X) in nats of (..., N, N) fingerprints: log N - mean_i logsumexp_j(-D)."""
    return math.log(d.shape[-1]) - torch.logsumexp(-d, dim=-1).mean(dim=-1)


def _similarity(fused: torch.Tensor, target: torch.Tensor, info_u: torch.Tensor, info_uu: torch.Tensor,
                kind: str) -> torch.Tensor:
    """(M,) similarity of the fused fingerprint (N, N) to each of the M targets (M, N, N), nats."""
    info_f, info_fu = _info_nats(fused), _info_nats(fused + target)
    if kind == "info":
        return info_f + info_u - info_fu
    info_ff = _info_nats(2.0 * fused)
    if kind == "vi":
        return torch.exp(-(2.0 * info_fu - info_ff - info_uu))
    return (info_f + info_u - info_fu) / torch.sqrt((2.0 * info_f - info_ff) * (2.0 * info_u - info_uu))


def _coefficients(mu: np.ndarray, logvar: np.ndarray, labels: np.ndarray | None, rows: slice) -> np.ndarray:
    """Bhattacharyya coefficients of the evaluation points ``rows`` against all N, every channel: (r, K, N).

    exp(-D) = sqrt(2 sigma_i sigma_j / (sigma_i^2 + sigma_j^2)) exp(-1/4 (mu_i - mu_j)^2 / (sigma_i^2 + sigma_j^2)):
    one exponential per pair (the log-cosh form of :func:`bhattacharyya` costs about four times as much).
    """
    var_sum = np.exp(logvar[rows])[:, :, None] + np.exp(logvar).T[None]  # (r, C, N)
    b = np.square(mu[rows][:, :, None] - mu.T[None])
    b *= -0.25
    b /= var_sum
    np.exp(b, out=b)
    b *= np.sqrt(2.0 * np.exp(0.5 * (logvar[rows][:, :, None] + logvar.T[None])) / var_sum)  # exactly 1 for i = j
    if labels is not None and labels.shape[1]:
        same = (labels[rows][:, :, None] == labels.T[None]).astype(np.float64)  # (r, L, N)
        b = np.concatenate([b, same], axis=1)
    return b


def _label_columns(labels: Any, n: int) -> np.ndarray:
    """Labels as an (N, L) array (L = 0 for None)."""
    if labels is None:
        return np.empty((n, 0))
    y = np.asarray(labels)
    y = y[:, None] if y.ndim == 1 else y
    if y.ndim != 2 or len(y) != n:
        raise ValueError(f"labels must be (N,) or (N, L) with N = {n} evaluation points, got shape {np.shape(labels)}")
    check_labels(y)
    return y


def _one_channel(mu: Any, logvar: Any) -> tuple[np.ndarray, np.ndarray]:
    """Validated (N,) float64 mean and log-variance of one channel."""
    if np.ndim(mu) != 1 or np.ndim(logvar) != 1:
        raise ValueError(f"one channel is two (N,) arrays mu and logvar, got shapes {np.shape(mu)} and "
                         f"{np.shape(logvar)}; pass a column, e.g. mu[:, h]")
    m, lv = as_posterior(*(x.reshape(-1, 1) if isinstance(x, torch.Tensor) else np.asarray(x)[:, None]
                           for x in (mu, logvar)))
    return m[:, 0], lv[:, 0]


def _check_distances(distances: Any) -> np.ndarray:
    """(..., N, N) float64 fingerprints: entries >= 0 or +inf, a zero diagonal and symmetric, both to rounding
    (ValueError otherwise)."""
    d = distances.detach().cpu().double().numpy() if isinstance(distances, torch.Tensor) else \
        np.asarray(distances, dtype=np.float64)
    if d.ndim < 2 or d.shape[-1] != d.shape[-2] or d.shape[-1] < 2 or d.size == 0:
        raise ValueError(f"fingerprints are (..., N, N) with N >= 2, at least one, got shape {d.shape}")
    if np.isnan(d).any() or (d < 0).any() or np.isneginf(d).any():
        raise ValueError("fingerprints must be Bhattacharyya distances: >= 0 (or +inf), no NaN; build them with "
                         "fingerprint() or label_fingerprint()")
    square = d.reshape(-1, *d.shape[-2:])  # one fingerprint at a time: no copy of the whole stack
    if np.abs(np.diagonal(d, axis1=-2, axis2=-1)).max() > 1e-9 or not all(
            np.allclose(m, m.T, rtol=1e-9, atol=1e-12) for m in square):
        raise ValueError("fingerprints must be Bhattacharyya distances D(i, j) between the N points' posteriors: "
                         "symmetric with a zero diagonal (a similarity exp(-D) or a triangle is not one); build them "
                         "with fingerprint() or label_fingerprint()")
    return d
