"""The metrics that sample observations: the BetaVAE score (Higgins et al. 2017) and the FactorVAE score (Kim & Mnih
2018), with disentanglement_lib's definitions and defaults (batches of 64, 10,000 training and 5,000 evaluation
points, FactorVAE's global variances from 10,000 points and dimensions with std < 0.05 pruned).

Both take ``represent(factors) -> codes``: a function from (n, K) integer factor classes to (n, L) codes. On
dSprites it renders the images of those factors and encodes them; on the synthetic world "observation = factors"
of disentanglement_lib's tests it is the identity (or a function of the factors). Factors are drawn uniformly and
independently from ``factor_sizes`` with a numpy Generator; the draws do not depend on ``rows_per_call`` (how many
rows go to ``represent`` at once), so the same seed gives the same score on any memory budget.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.linear_model import LogisticRegression

from ...checks import check_integer, is_real
from ...io import progress_bar
from .inputs import Represent, check_factor_sizes, represented, uniform_factors, uniform_index

BATCH_SIZE, N_TRAIN, N_EVAL = 64, 10_000, 5_000
N_VARIANCE, PRUNE_STD = 10_000, 0.05
ROWS_PER_CALL = 4096
LOGISTIC_MAX_ITER = 1000  # sklearn's default of 100 stops lbfgs short of the optimum on entangled codes


@dataclass(frozen=True)
class BetaVAEScore:
    """The BetaVAE score: accuracy of a logistic regression that names the factor held fixed within a pair of
    batches from the mean absolute difference of their codes (chance 1 / K).

    Attributes: train_accuracy, eval_accuracy (the score).
    """

    train_accuracy: float
    eval_accuracy: float


@dataclass(frozen=True)
class FactorVAEScore:
    """The FactorVAE score: accuracy of the majority-vote classifier from "code with the least normalised variance
    within a batch that shares one factor" to that factor (chance 1 / K).

    Attributes
    ----------
    train_accuracy, eval_accuracy : eval_accuracy is the score; both 0 when every dimension is pruned.
    n_active : codes kept (global std >= the pruning threshold). disentanglement_lib reports
        ``len(active_dims)`` of its boolean mask, always L.
    votes : (K, L) int64 training votes: how often code j had the least normalised variance with factor k fixed,
        by code index (disentanglement_lib files a vote under the code's position among the active codes; the
        relabelling is consistent, so the accuracies are the same).
    """

    train_accuracy: float
    eval_accuracy: float
    n_active: int
    votes: np.ndarray


def beta_vae_score(represent: Represent, factor_sizes: Any, seed: int | np.random.Generator = 0, *,
                   batch_size: int = BATCH_SIZE, n_train: int = N_TRAIN, n_eval: int = N_EVAL,
                   rows_per_call: int = ROWS_PER_CALL, progress: bool = False) -> BetaVAEScore:
    """The BetaVAE score of a representation.

    Each point: a factor k uniform in [0, K); two batches of ``batch_size`` factor settings that share factor k;
    feature = mean over the batch of |represent(batch 1) - represent(batch 2)| (L,), label k. A
    ``LogisticRegression`` is fitted on ``n_train`` points and scored on ``n_eval`` new ones: sklearn's default
    model (multinomial, L2 penalty, C = 1, lbfgs) run to convergence (``max_iter`` 1000 instead of 100).
    disentanglement_lib called ``LogisticRegression()`` under scikit-learn 0.20, whose default was one-vs-rest
    liblinear: another way its published numbers depend on the scikit-learn version.

    Parameters
    ----------
    represent : (n, K) int64 factor classes -> (n, L) codes.
    factor_sizes : (K,) values per factor, each >= 2; K >= 2.
    seed : int or numpy Generator.
    rows_per_call : most factor rows passed to ``represent`` at once (whole points at a time, at least one).
    progress : a progress bar on stderr.

    Returns
    -------
    :class:`BetaVAEScore`; identity-like representations score ~1, a constant one 1 / K.
    """
    _check_counts(batch_size, n_train, n_eval, rows_per_call, least_batch=1)
    sizes, rng = check_factor_sizes(factor_sizes), np.random.default_rng(seed)
    if len(sizes) < 2:
        raise ValueError(f"the BetaVAE score predicts which of K >= 2 factors was fixed; factor_sizes "
                         f"{sizes.tolist()} has {len(sizes)}")
    x_train, y_train = _beta_vae_points(represent, sizes, rng, batch_size, n_train, rows_per_call, progress)
    x_eval, y_eval = _beta_vae_points(represent, sizes, rng, batch_size, n_eval, rows_per_call, progress)
    model = LogisticRegression(max_iter=LOGISTIC_MAX_ITER).fit(x_train, y_train)
    return BetaVAEScore(float(model.score(x_train, y_train)), float(model.score(x_eval, y_eval)))


def factor_vae_score(represent: Represent, factor_sizes: Any, seed: int | np.random.Generator = 0, *,
                     batch_size: int = BATCH_SIZE, n_train: int = N_TRAIN, n_eval: int = N_EVAL,
                     n_variance: int = N_VARIANCE, prune_std: float = PRUNE_STD, rows_per_call: int = ROWS_PER_CALL,
                     progress: bool = False) -> FactorVAEScore:
    """The FactorVAE score of a representation.

    Global variances Var(z_j) (ddof 1) from ``n_variance`` random factor settings; codes with std < ``prune_std``
    are pruned, and constant ones even at ``prune_std=0``. Each point: a factor k uniform in [0, K), a batch of
    ``batch_size`` settings all sharing the first one's value of k, and the vote (k, argmin over the active codes of
    Var_batch(z_j) / Var(z_j)). The classifier maps each code to the factor that won most of its training votes;
    accuracy = votes it gets right / all votes.

    Parameters
    ----------
    represent, factor_sizes, seed, rows_per_call, progress : as :func:`beta_vae_score`.
    batch_size : >= 2 (a variance needs two points).
    n_variance : points for the global variances (>= 2).
    prune_std : codes whose global standard deviation is below this are ignored (disentanglement_lib: 0.05).

    Returns
    -------
    :class:`FactorVAEScore`; identity-like representations score ~1, a constant one 0 (every code pruned).
    """
    _check_counts(batch_size, n_train, n_eval, rows_per_call, least_batch=2)
    check_integer(n_variance, "n_variance", low=2, meaning="points for the global variances")
    if not (is_real(prune_std) and np.isfinite(prune_std) and prune_std >= 0):
        raise ValueError(f"prune_std must be a finite standard deviation >= 0 (disentanglement_lib: 0.05), got "
                         f"{prune_std}")
    sizes, rng = check_factor_sizes(factor_sizes), np.random.default_rng(seed)
    codes = [represented(represent, uniform_factors(rng, sizes, m))
             for _, m in _blocks(n_variance, rows_per_call, "FactorVAE variances", progress)]
    variance = np.concatenate(codes).var(axis=0, ddof=1)
    active = (np.sqrt(variance) >= prune_std) & (variance > 0)  # a constant code's ratio would be 0 / 0
    if not active.any():
        return FactorVAEScore(0.0, 0.0, 0, np.zeros((len(sizes), len(variance)), dtype=np.int64))
    train = _factor_vae_votes(represent, sizes, rng, batch_size, n_train, variance, active, rows_per_call, progress)
    evaluation = _factor_vae_votes(represent, sizes, rng, batch_size, n_eval, variance, active, rows_per_call,
                                   progress)
    classifier = np.argmax(train, axis=0)
    columns = np.arange(train.shape[1])
    return FactorVAEScore(float(train[classifier, columns].sum() / train.sum()),
                          float(evaluation[classifier, columns].sum() / evaluation.sum()), int(active.sum()), train)


def _beta_vae_points(represent: Represent, sizes: np.ndarray, rng: np.random.Generator, batch_size: int,
                     count: int, rows_per_call: int, progress: bool) -> tuple[np.ndarray, np.ndarray]:
    """``count`` BetaVAE points: features (count, L) float64 and labels (count,) int64 (the shared factor)."""
    k = len(sizes)
    labels = uniform_index(rng, k, count)
    features = []
    for start, m in _blocks(count, rows_per_call // (2 * batch_size), "BetaVAE score", progress):
        pairs = uniform_factors(rng, sizes, m * 2 * batch_size).reshape(m, 2, batch_size, k)
        shared = labels[start:start + m]
        pairs[np.arange(m), 1, :, shared] = pairs[np.arange(m), 0, :, shared]
        codes = represented(represent, pairs.reshape(-1, k), None if not features else features[0].shape[1])
        codes = codes.reshape(m, 2, batch_size, -1)
        features.append(np.abs(codes[:, 0] - codes[:, 1]).mean(axis=1))
    return np.concatenate(features), labels


def _factor_vae_votes(represent: Represent, sizes: np.ndarray, rng: np.random.Generator, batch_size: int,
                      count: int, variance: np.ndarray, active: np.ndarray, rows_per_call: int,
                      progress: bool) -> np.ndarray:
    """(K, L) int64 votes of ``count`` FactorVAE points (see :func:`factor_vae_score`)."""
    k = len(sizes)
    labels = uniform_index(rng, k, count)
    votes = np.zeros((k, len(variance)), dtype=np.int64)
    active_index = np.flatnonzero(active)
    for start, m in _blocks(count, rows_per_call // batch_size, "FactorVAE score", progress):
        batch = uniform_factors(rng, sizes, m * batch_size).reshape(m, batch_size, k)
        shared = labels[start:start + m]
        batch[np.arange(m), :, shared] = batch[np.arange(m), :1, shared]
        codes = represented(represent, batch.reshape(-1, k), len(variance)).reshape(m, batch_size, -1)
        ratio = codes[:, :, active].var(axis=1, ddof=1) / variance[active]
        np.add.at(votes, (shared, active_index[np.argmin(ratio, axis=1)]), 1)
    return votes


def _blocks(count: int, per_block: int, desc: str, progress: bool):
    """(start, size) of consecutive blocks of ``max(per_block, 1)`` points covering ``count``, with a progress bar."""
    per_block = max(per_block, 1)
    with progress_bar(total=count, desc=desc, unit="points", enabled=progress) as bar:
        for start in range(0, count, per_block):
            m = min(per_block, count - start)
            yield start, m
            bar.update(m)


def _check_counts(batch_size: int, n_train: int, n_eval: int, rows_per_call: int, *, least_batch: int) -> None:
    """Raise unless each is an integer: ``batch_size`` >= ``least_batch`` (2 where a point is a variance), the
    others >= 1."""
    check_integer(batch_size, "batch_size", low=least_batch, meaning="factor rows per point")
    check_integer(n_train, "n_train", low=1, meaning="training points")
    check_integer(n_eval, "n_eval", low=1, meaning="evaluation points")
    check_integer(rows_per_call, "rows_per_call", low=1, meaning="factor rows per call of represent")
