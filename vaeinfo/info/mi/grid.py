"""The default estimator: I(X; Z_h) from the mixture entropy computed on FFT grids, error below ``tol`` nats.

See :func:`grid_mi` for the algorithm and its error budget."""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import scipy.fft
from numpy.polynomial import polynomial as npoly

from ...io import available_cpus
from .mixture import conditional_entropy
from .quadrature import quad_entropy

# --- grid method constants -----------------------------------------------------------------------------------
# The grid covers [min(mu - 8 sigma), max(mu + 8 sigma)]: the mass outside, and the wrap-around of the circular
# FFT convolution, are below exp(-8^2/2) ~ 1e-14 of a component.
_GRID_MARGIN = 8.0
# Components whose +-10 sigma supports do not overlap are treated as separate clusters (only when one grid
# cannot resolve the whole factor); the neglected overlap is below exp(-50).
_CLUSTER_MARGIN = 10.0
# Every component is deposited on a grid level whose spacing h_l satisfies s <= sigma / h_l < 2 s, with s = 4
# grid steps per sigma at tol >= ~1e-5 (more for tighter tol; see _resolution). The deposit stencil's own error
# is below _STENCIL_ERROR * (4 / s)^5 nats (measured: 2e-6 for 1-D Gaussian at the worst offset, 2.5e-7 for
# random mixtures at s = 4; 7e-9 at s = 8).
_STEPS_PER_SIGMA = 4.0
_STENCIL_ERROR = 3e-6
# Per component, the entropy error of the moment-matched deposit is below _GRID_ERROR_COEF * x^3, with x the
# relative variance mismatch within a sub-bin (calibrated on adversarial 2-4 component mixtures; see tests).
_GRID_ERROR_COEF = 0.2
_MIN_GRID = 64
_CHUNK_COMPONENTS = 2**19  # components deposited per chunk (bounds the working memory to ~100 MB)
_CACHE_COMPONENTS = 2**16  # components processed at once inside a chunk (their temporaries fit in cache)
_CHUNK_GRID = 2**23  # grid cells (deposit blocks) per chunk
# Clusters too fine for max_grid are integrated by quadrature while sum n_c^2 <= this (~1.5 s on one core: the
# quadrature costs ~300 n_c^2 density evaluations); larger ones are widened.
_QUAD_BUDGET = 1e6
_QUAD_CHUNK = 2**22

# Deposit nodes, relative to floor(position): a degree-5 Lagrange stencil.
_NODES = np.arange(-2, 4)
_NODE_OFFSETS = _NODES - _NODES[0]
_INVERSE_POWERS_OF_2 = np.exp2(-np.arange(64.0))  # 2^-level by table look-up (np.ldexp is ~10x slower)


def _stencil_table() -> np.ndarray:
    """Deposit-weight polynomials of the nodes -2, -1, 0 (the nodes 3, 2, 1 mirror them), shape (3, 12).

    The weight of node k for a component at fractional position u with extra variance 2a is
    E[L_k(u + Y)], Y ~ N(0, 2a) = L_k(u) + a L_k''(u) + a^2/2 L_k''''(u), with L_k the Lagrange basis
    polynomials on ``_NODES``; the deposit thus reproduces the moments 0..5 of N(u, 2a) exactly. Row k holds, in
    powers of v = u - 1/2 (the stencil is symmetric about v = 0, so L_{5-k}(v) = L_k(-v)), the coefficients of
    L_k (v^0..v^5), L_k'' (v^0..v^3) and L_k''''/2 (v^0..v^1).
    """
    centred = _NODES - 0.5
    table = np.zeros((len(_NODES) // 2, 12))
    for k in range(len(_NODES) // 2):
        basis = np.array([1.0])
        for other in np.delete(centred, k):
            basis = npoly.polymul(basis, [-other, 1.0]) / (centred[k] - other)
        table[k] = np.concatenate([basis, npoly.polyder(basis, 2), npoly.polyder(basis, 4) / 2.0])
    return table


_STENCIL = _stencil_table()


def grid_mi(mu: np.ndarray, logvar: np.ndarray, tol: float = 1e-3, max_grid: int = 2**21,
             workers: int | None = None) -> np.ndarray:
    """I from the mixture entropy computed on FFT grids; (d,), nats, absolute error <= tol (see below).

    Algorithm. Every component is assigned to a grid level l, with spacing h_l = 2^l h, where
    s <= sigma_i / h_l < 2 s (s = 4 grid steps per sigma at the default tol), and to one of n_sub sub-bins of
    log sigma within the level (n_sub and s chosen from tol).
    Its mean is deposited on 6 nodes of level l with weights that reproduce the first six moments of
    N(mu_i, sigma_i^2 - s_b^2) exactly (s_b: the sub-bin's kernel width; the weights carry the width mismatch,
    of either sign). Each (level, sub-bin) block is convolved with N(0, s_b^2) by FFT; the spectra of all levels
    are summed at their common frequencies (all levels share the period) and one inverse FFT gives q on the
    finest grid, where -int q log q is summed by the trapezoid rule (spectrally accurate at 4 points per
    sigma). Error budget, each part kept below tol / 2 by the choice of n_sub and s: (a) the width mismatch
    within a sub-bin, per component below _GRID_ERROR_COEF * x^3 with x the relative variance mismatch (a
    calibrated model: small mixtures of overlapping components of different widths are the worst case, large
    mixtures average it; tests check random adversarial cases against exact quadrature); (b) the stencil's own
    error, ~1e-6 at s = 4, decaying like s^-5; (c) truncation and wrap-around beyond 8 sigma, ~1e-14.
    Heterogeneous sigma costs one FFT per occupied (level, sub-bin), each on a grid no finer than its level
    needs; sigma over 4 decades in one factor is handled (M ~ 1e6). Factors that would need more than
    ``max_grid`` points are split into clusters of non-overlapping components (then H = sum over clusters, so
    narrow far-apart components cost nothing extra); a cluster that still needs more is integrated by quadrature
    (the ``quad`` method's, error ~1e-9 nats; ~1.5 s for 1,000 components) while the sum of its components' count
    squared over such clusters of the factor stays below 1e6; beyond that, the cluster is computed with its
    narrowest components widened to the grid's resolution, and a RuntimeWarning names the factor: there the error
    is no longer held below tol (measured before the quadrature step existed: 0.3-0.5 tol at tol = 1e-3 and up to
    ~1e3 tol at tol = 1e-6 for 30 components with sigma log-uniform in [1e-5, 3]; ~2 tol at tol = 1e-3 for 1,000
    components of which 2 % have sigma = 1e-6); raise ``max_grid`` or use ``quad`` for such a factor.

    Time O(N d) for the deposit (the bound in practice: ~80 ns per component on one core) plus
    O(n_sub M log M) per factor for the FFTs, M ~ 4 x range / min sigma; memory is bounded by chunking.
    """
    if not tol > 0:
        raise ValueError(f"tol must be > 0, got {tol}")
    res = _resolution(tol)
    smallest = int(2 ** math.ceil(math.log2(8 * _GRID_MARGIN * res.steps)))
    if max_grid < smallest or max_grid & (max_grid - 1):
        raise ValueError(f"max_grid must be a power of two >= {smallest} (at tol={tol}), got {max_grid}")
    lo, hi, min_logvar = _support(mu.min(axis=0), mu.max(axis=0), logvar.min(axis=0), logvar.max(axis=0))
    grid_size = _grid_size(lo, hi, min_logvar, res)
    entropy = np.empty(mu.shape[1])
    wide = grid_size > max_grid
    jobs = [(rows, _factor_job(mu, logvar, rows, lo, hi, grid_size, res))
            for rows in _factor_chunks(np.flatnonzero(~wide), grid_size, mu.shape[0], res)]
    jobs += [([h], _cluster_job(mu[:, h], logvar[:, h], max_grid, res, h)) for h in np.flatnonzero(wide)]
    with ThreadPoolExecutor(max_workers=workers or available_cpus()) as pool:
        results = list(pool.map(lambda job: job[1](), jobs))
    for (rows, _), values in zip(jobs, results, strict=True):
        entropy[rows] = values
    return entropy - conditional_entropy(logvar)


@dataclass(frozen=True)
class _Resolution:
    """Grid resolution: log-sigma sub-bins per octave and grid steps per sigma at the finest level."""

    n_sub: int
    steps: float

    def kernel_variances(self) -> np.ndarray:
        """Kernel variance (level units) of each sub-bin: the midpoint of its variance range, (n_sub,)."""
        edges = self.steps**2 * 4.0 ** (np.arange(self.n_sub + 1) / self.n_sub)
        return 0.5 * (edges[:-1] + edges[1:])


def _resolution(tol: float) -> _Resolution:
    """The coarsest resolution whose error bounds (width mismatch, stencil) are each below tol / 2."""
    steps = _STEPS_PER_SIGMA * max(1.0, (2.0 * _STENCIL_ERROR / tol) ** (1.0 / 5.0))
    for n_sub in range(1, 10_000):
        ratio = 4.0 ** (1.0 / n_sub)  # variance ratio across a sub-bin
        mismatch = (ratio - 1.0) / (ratio + 1.0)  # largest |sigma^2 - s_b^2| / s_b^2
        if _GRID_ERROR_COEF * mismatch**3 <= tol / 2:
            return _Resolution(n_sub, steps)
    raise ValueError(f"tol={tol} is below what the grid method can reach")


def _support(mu_min, mu_max, logvar_min, logvar_max):
    """Grid range [min mu - 8 max sigma, max mu + 8 max sigma] (covers every component's +-8 sigma) and min logvar.
    """
    reach = _GRID_MARGIN * np.exp(0.5 * logvar_max)
    return mu_min - reach, mu_max + reach, logvar_min


def _grid_size(lo, hi, min_logvar, res: _Resolution) -> np.ndarray:
    """Power-of-two number of fine-grid points with spacing <= min sigma / res.steps over [lo, hi]."""
    need = np.clip((hi - lo) * res.steps * np.exp(-0.5 * min_logvar), _MIN_GRID, 2.0**62)
    return np.exp2(np.ceil(np.log2(need))).astype(np.int64)


def _factor_chunks(factors: np.ndarray, grid_size: np.ndarray, n: int, res: _Resolution) -> list[np.ndarray]:
    """Groups of factors with the same grid size, each small enough for the working-memory budget."""
    chunks = []
    for size in np.unique(grid_size[factors]):
        same = factors[grid_size[factors] == size]
        step = max(1, min(_CHUNK_COMPONENTS // n, _CHUNK_GRID // (2 * res.n_sub * int(size))))
        chunks += [same[i:i + step] for i in range(0, len(same), step)]
    return chunks


def _factor_job(mu, logvar, rows, lo, hi, grid_size, res) -> Callable[[], np.ndarray]:
    """A closure computing the entropies of factors ``rows`` (same grid size), one grid each."""
    size = int(grid_size[rows[0]])
    owner = np.arange(len(rows))[:, None]
    return lambda: _gridded_entropy(mu.T[rows], logvar.T[rows], owner, lo[rows], (hi[rows] - lo[rows]) / size,
                                    size, 1.0 / mu.shape[0], res)


def _cluster_job(mu, logvar, max_grid, res, factor) -> Callable[[], float]:
    """A closure computing one factor's entropy as the sum over clusters of non-overlapping components.

    A cluster that needs more than ``max_grid`` points is integrated by quadrature (exact to ~1e-9 nats) while the
    sum of n_c^2 over such clusters stays within ``_QUAD_BUDGET`` (smallest first); beyond it, its narrowest
    components are widened to the grid's resolution and a RuntimeWarning names the factor.
    """
    order = np.argsort(mu, kind="stable")
    mu, logvar = mu[order], logvar[order]
    label = _cluster_labels(mu, np.exp(0.5 * logvar))
    starts = np.flatnonzero(np.r_[True, np.diff(label) > 0])
    lo, hi, min_logvar = _support(np.minimum.reduceat(mu, starts), np.maximum.reduceat(mu, starts),
                                  np.minimum.reduceat(logvar, starts), np.maximum.reduceat(logvar, starts))
    size = _grid_size(lo, hi, min_logvar, res)
    step = (hi - lo) / size
    exact = _quadrature_clusters(size > max_grid, np.diff(np.r_[starts, len(mu)]))
    clamped = (size > max_grid) & ~exact
    widening = 0.0
    if clamped.any():
        warnings.warn(f"factor {factor}: components too narrow for max_grid={max_grid} were widened to the grid's "
                      "resolution, with an isolated-spike entropy correction that is exact only where each such "
                      "component dominates q at that resolution (raise max_grid or use method='quad')",
                      RuntimeWarning, stacklevel=2)
        pad = _GRID_MARGIN * res.steps
        step[clamped] = (hi - lo)[clamped] / (max_grid - 2 * pad)
        lo[clamped] -= pad * step[clamped]
        size[clamped] = max_grid
        widened = np.where(clamped[label], np.maximum(logvar, 2.0 * np.log(res.steps * step[label])), logvar)
        widening = 0.5 * np.sum(logvar - widened) / len(mu)  # H of an isolated spike: 1/2 log sigma^2 per row
        logvar = widened

    def run() -> float:
        total = widening
        for cluster in np.flatnonzero(exact):
            sel = label == cluster
            mass = np.count_nonzero(sel) / len(mu)
            total += mass * (quad_entropy(mu[sel], logvar[sel], _QUAD_CHUNK) - math.log(mass))
        gridded = np.flatnonzero(~exact)
        for grid in np.unique(size[gridded]):
            clusters = gridded[size[gridded] == grid]
            per_part = max(1, _CHUNK_GRID // (2 * res.n_sub * int(grid)))
            for part in np.split(clusters, range(per_part, len(clusters), per_part)):
                sel = np.isin(label, part)
                owner = np.searchsorted(part, label[sel])[None, :]
                total += _gridded_entropy(mu[None, sel], logvar[None, sel], owner, lo[part], step[part], int(grid),
                                          1.0 / len(mu), res).sum()
        return total

    return run


def _quadrature_clusters(too_fine: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Which of the clusters that no grid resolves (``too_fine``, (C,) bool) to integrate by quadrature: the
    smallest first (by component count ``counts``, (C,)) while the sum of count^2 is within ``_QUAD_BUDGET``."""
    candidates = np.flatnonzero(too_fine)
    candidates = candidates[np.argsort(counts[candidates], kind="stable")]
    chosen = candidates[np.cumsum(counts[candidates].astype(float) ** 2) <= _QUAD_BUDGET]
    return np.isin(np.arange(len(counts)), chosen)


def _cluster_labels(mu_sorted: np.ndarray, sigma_sorted: np.ndarray) -> np.ndarray:
    """Cluster index per component (sorted by mu): a new cluster starts where no +-10 sigma support crosses."""
    right = np.maximum.accumulate(mu_sorted + _CLUSTER_MARGIN * sigma_sorted)
    left = np.minimum.accumulate((mu_sorted - _CLUSTER_MARGIN * sigma_sorted)[::-1])[::-1]
    return np.r_[0, np.cumsum(right[:-1] < left[1:])]


def _gridded_entropy(mu, logvar, owner, lo, step, size, mass, res: _Resolution) -> np.ndarray:
    """-int q_o log q_o for the sub-mixtures q_o (weight ``mass`` per component) of each owner o.

    Parameters
    ----------
    mu, logvar : (k, n) component arrays.
    owner : owner index in [0, n_owner) of each component: (k, 1) (one owner per row) or (1, n).
    lo, step : (n_owner,) grid origin and fine spacing of each owner; step <= min sigma / res.steps.
    size : fine-grid points M (a power of two), the same for all owners; M * step covers the owner's range.
    mass : weight of each component in the mixture (1/N).
    res : the grid resolution.

    Returns
    -------
    (n_owner,) values of -int q_o log q_o, nats (the sub-mixtures are unnormalised, so their sum over the
    owners that partition a factor is H(q)).
    """
    n_levels = max(1, int(math.log2(size / (2.0 * _GRID_MARGIN * res.steps))) + 1)  # sigma <= M h / 16
    blocks = size >> np.arange(n_levels)  # block length of each level
    spectrum = np.zeros((len(lo), size // 2 + 1), dtype=complex)
    group = max(1, _CHUNK_GRID // (2 * size * len(lo)))  # sub-bins deposited at once (bounds the cell memory)
    for first_sub in range(0, res.n_sub, group):
        subs = range(first_sub, min(first_sub + group, res.n_sub))
        level_start = np.r_[0, np.cumsum(len(lo) * len(subs) * blocks)]
        cells = _deposit(mu, logvar, owner, lo, step, level_start, size, res, subs)
        for level, length in enumerate(blocks):
            _add_blurred(spectrum, cells[level_start[level]:level_start[level + 1]].reshape(-1, length), res, subs)
    density = scipy.fft.irfft(spectrum, n=size, axis=1) * (mass / step)[:, None]
    positive = np.where(density > 0, density, 1.0)
    return -step * np.sum(density * np.log(positive), axis=1)


def _deposit(mu, logvar, owner, lo, step, level_start, size, res: _Resolution, subs: range) -> np.ndarray:
    """Sum of the deposit weights of the components of sub-bins ``subs`` in each cell of the (level, owner,
    sub-bin) blocks, concatenated.

    The per-component work runs on column blocks of ~_CACHE_COMPONENTS components (3x faster than whole arrays,
    which do not fit in cache); one bincount then adds all weights into the flat cell array.
    """
    n_levels = len(level_start) - 1
    per_owner = [np.take(values, owner) for values in (lo, 1.0 / step, np.log2(res.steps * step))]
    index = np.empty((len(_NODES),) + mu.shape, dtype=np.int64)
    weight = np.empty((len(_NODES),) + mu.shape)
    width = max(1, _CACHE_COMPONENTS // len(mu))
    for first in range(0, mu.shape[1], width):
        block = slice(first, first + width)
        own, origin, inv_step, log2_unit = (_columns(a, block) for a in [owner] + per_owner)
        level, sub, half_extra_var, position = _levels(mu[:, block], logvar[:, block], origin, inv_step,
                                                       log2_unit, n_levels - 1, res)
        base = position.astype(np.int64)
        position -= base
        _deposit_weights(position, half_extra_var, out=weight[:, :, block])
        if len(subs) < res.n_sub:
            sub -= subs.start
            outside = (sub < 0) | (sub >= len(subs))
            sub[outside] = 0
            weight[:, :, block][:, outside] = 0.0
        start = np.take(level_start, level) + (own * len(subs) + sub) * (size >> level) + base + _NODES[0]
        np.add(start, _NODE_OFFSETS[:, None, None], out=index[:, :, block])
    return np.bincount(index.ravel(), weight.ravel(), minlength=level_start[-1])


def _columns(values: np.ndarray, block: slice) -> np.ndarray:
    """values[:, block], or ``values`` itself when it has one column (broadcast along the components)."""
    return values if values.shape[1] == 1 else values[:, block]


def _add_blurred(spectrum, blocks, res: _Resolution, subs: range) -> None:
    """Add to ``spectrum`` (n_owner, M/2+1) the spectra of one level's blocks (n_owner * len(subs), M_l),
    each convolved with its sub-bin's Gaussian kernel; empty blocks are skipped."""
    used = np.flatnonzero(blocks.any(axis=1))
    if len(used) == 0:
        return
    freq = 2.0 * np.pi * np.arange(blocks.shape[1] // 2 + 1) / blocks.shape[1]
    kernel = np.exp(-0.5 * np.outer(res.kernel_variances()[subs.start + used % len(subs)], freq**2))
    blurred = scipy.fft.rfft(blocks[used], axis=1) * kernel
    first = np.flatnonzero(np.r_[True, np.diff(used // len(subs)) > 0])  # first used block of each owner
    spectrum[used[first] // len(subs), :len(freq)] += np.add.reduceat(blurred, first, axis=0)


def _levels(mu, logvar, lo, inv_step, log2_unit, max_level, res: _Resolution):
    """Grid level, sub-bin, half the extra variance and the position (both in level units) of each component.

    Level l = floor(log2(sigma / (s h))) with s = res.steps (``log2_unit`` = log2(s h)), so sigma / h_l is in
    [s, 2 s); the sub-bin splits that octave into n_sub equal parts of log sigma; extra variance =
    (sigma / h_l)^2 - (the sub-bin's kernel width)^2; position = (mu - lo) / h_l. ``max_level`` (which sigma
    <= M h / 16 never exceeds in exact arithmetic) guards against rounding.
    """
    octaves = logvar * (0.5 / math.log(2.0))
    octaves -= log2_unit
    level = octaves.astype(np.int64)  # floor: octaves >= 0 up to rounding, and trunc(-1e-16) = 0
    np.minimum(level, max_level, out=level)
    octaves -= level  # now the position within the octave, in [0, 1)
    sub = (octaves * res.n_sub).astype(np.int64)
    np.minimum(sub, res.n_sub - 1, out=sub)
    octaves *= 2.0
    half_extra_var = np.exp2(octaves, out=octaves)
    half_extra_var *= 0.5 * res.steps**2
    half_extra_var -= 0.5 * res.kernel_variances()[sub]
    position = mu - lo
    position *= inv_step
    position *= np.take(_INVERSE_POWERS_OF_2, level)
    return level, sub, half_extra_var, position


def _deposit_weights(frac: np.ndarray, half_extra_var: np.ndarray, out: np.ndarray) -> np.ndarray:
    """Weights on the 6 nodes ``_NODES`` (relative to floor(position)) of each component, written to ``out``
    (shape (6,) + frac.shape).

    They reproduce the moments 0..5 of N(frac, 2 * half_extra_var) (see ``_stencil_table``); evaluated as even
    and odd parts in v = frac - 1/2, which mirrored nodes share.
    """
    v = frac - 0.5
    square = v * v
    a2 = half_extra_var * half_extra_var
    even, odd, work = np.empty_like(v), np.empty_like(v), np.empty_like(v)
    for k, coef in enumerate(_STENCIL):
        _weight_part(even, work, square, half_extra_var, a2, coef[0:6:2], coef[6:10:2], coef[10])
        _weight_part(odd, work, square, half_extra_var, a2, coef[1:6:2], coef[7:10:2], coef[11])
        odd *= v
        np.add(even, odd, out=out[k])
        np.subtract(even, odd, out=out[-1 - k])
    return out


def _weight_part(out, work, square, a, a2, plain, second, fourth) -> None:
    """out = P(square; plain) + a P(square; second) + a2 fourth; P: polynomial, ascending coefficients."""
    _horner(out, square, plain)
    _horner(work, square, second)
    work *= a
    out += work
    np.multiply(a2, fourth, out=work)
    out += work


def _horner(out, x, coef) -> None:
    """out = sum_j coef[j] x^j (len(coef) >= 2), in place."""
    np.multiply(x, coef[-1], out=out)
    for c in coef[-2:0:-1]:
        out += c
        out *= x
    out += coef[0]
