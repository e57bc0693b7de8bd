"""Cost of the disentanglement metrics of ``vaeinfo.info.disentanglement`` at disentanglement_lib's sizes.

A synthetic representation of dSprites' factor grid (shape 3, scale 6, orientation 40, posX 32, posY 32; colour,
constant, left out as disentanglement_lib does): 10 codes, the first five each a monotone function of one factor
with a little of the next factor mixed in (posterior std 0.1), the other five collapsed (posterior N(~0, 1)).
Observations are the factors themselves, so the times are the metrics' own, not an encoder's. Every metric runs
at disentanglement_lib's sizes (``unsupervised_study_v1``): MIG on 10,000 points; SAP and DCI on 10,000 training
and 5,000 test points; BetaVAE and FactorVAE scores on 10,000 / 5,000 points of batches of 64 (FactorVAE's global
variances from 10,000 more). Both MIGs also run on the whole grid (737,280 points), the population that the
10,000-point sample stands for: a MIG on the sample minus the same MIG on the grid is its sampling error. The
reference, timed in the same run, is the histogram MIG on 10,000 points.

DCI's gradient boosting (100 stages, each one depth-3 tree per class of the factor: 113 trees a stage here) is by
far the costliest; its time is linear in the stages, so it runs ``--dci-stages`` (default 10) and its time is
extrapolated to 100 (marked in the table; ``--dci-stages 100`` measures it all, minutes on 2 cores).

Writes ``figures/results/metrics_cost.{json,md}`` (``--quick``: a tenth of the points, DCI with 10 stages, not
extrapolated, ``metrics_cost_quick.{json,md}``; no whole-grid row).
Run:  python benchmarks/metrics_cost.py [--quick] [--out PATH_WITHOUT_EXTENSION]
"""

from __future__ import annotations

import argparse
import platform
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import sklearn

from vaeinfo import __version__
from vaeinfo.info import disentanglement as dis
from vaeinfo.io import atomic_write_json, atomic_write_text, available_cpus

SIZES = np.array([3, 6, 40, 32, 32])  # dSprites without colour
N_CODES = 10


def posterior(factors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Deterministic (mu, logvar), each (n, 10), of the synthetic encoder for (n, 5) factor classes."""
    scaled = 4.0 * (factors / (SIZES - 1) - 0.5)  # (n, 5) in [-2, 2]
    mixed = 0.3 * np.sin(3.0 * np.roll(scaled, -1, axis=1))
    collapsed = 0.02 * np.sin(factors @ np.arange(1.0, 6.0)[:, None] + np.arange(5.0))
    mu = np.hstack([scaled + mixed, collapsed])
    logvar = np.hstack([np.full(scaled.shape, 2 * np.log(0.1)), np.zeros(collapsed.shape)])
    return mu, logvar


def represent(factors: np.ndarray) -> np.ndarray:
    """The posterior means: what disentanglement_lib's metrics see."""
    return posterior(factors)[0]


def timed(fn: Callable[[], object]) -> tuple[object, float]:
    """fn()'s result and its wall time (s)."""
    start = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - start


def run(n_train: int, n_test: int, n_estimators: int, dci_stages: int, whole_grid: bool, seed: int) -> list[dict]:
    """Time every metric; one row each: metric, points, time_s, score, extrapolated (DCI run with ``dci_stages`` of
    its ``n_estimators`` stages, time scaled by n_estimators / dci_stages)."""
    rng = np.random.default_rng(seed)
    train = rng.integers(0, SIZES, (n_train, len(SIZES)))
    test = rng.integers(0, SIZES, (n_test, len(SIZES)))
    mu, logvar = posterior(train)
    mu_test = represent(test)
    sampled = {"n_train": n_train, "n_eval": n_test}
    jobs: list[tuple[str, str, Callable[[], object], Callable[[object], float]]] = [
        ("mig_histogram (reference)", f"{n_train}", lambda: dis.mig_histogram(mu, train), lambda r: r.score),
        ("mig (ours, grid)", f"{n_train}", lambda: dis.mig(mu, logvar, train), lambda r: r.score),
        ("sap (discrete)", f"{n_train} + {n_test}", lambda: dis.sap(mu, train, mu_test, test), lambda r: r.score),
        ("sap (continuous)", f"{n_train}", lambda: dis.sap(mu, train, continuous=True), lambda r: r.score),
        (f"dci ({n_estimators} stages)", f"{n_train} + {n_test}",
         lambda: dis.dci(mu, train, mu_test, test, n_estimators=dci_stages, seed=seed),
         lambda r: r.disentanglement),
        ("beta_vae_score", f"({n_train} + {n_test}) x 2 x 64",
         lambda: dis.beta_vae_score(represent, SIZES, seed, **sampled), lambda r: r.eval_accuracy),
        ("factor_vae_score", f"{n_train} + ({n_train} + {n_test}) x 64",
         lambda: dis.factor_vae_score(represent, SIZES, seed, n_variance=n_train, **sampled),
         lambda r: r.eval_accuracy),
    ]
    if whole_grid:
        grid = np.indices(SIZES).reshape(len(SIZES), -1).T
        jobs += [("mig_histogram on the whole grid", f"{len(grid)}",
                  lambda: dis.mig_histogram(represent(grid), grid), lambda r: r.score),
                 ("mig (ours, grid) on the whole grid", f"{len(grid)}",
                  lambda: dis.mig(*posterior(grid), grid, factor_sizes=SIZES), lambda r: r.score)]
    rows = []
    for name, points, job, score in jobs:
        result, seconds = timed(job)
        scale = n_estimators / dci_stages if name.startswith("dci") else 1.0
        rows.append({"metric": name, "points": points, "time_s": seconds * scale, "score": score(result),
                     "extrapolated": scale != 1.0, "stages_run": dci_stages if name.startswith("dci") else None})
        print(f"{name:<40} {points:>28} {seconds * scale:9.2f} s  score {score(result):.4f}"
              + (f"  (time of {dci_stages} stages x {scale:g})" if scale != 1.0 else ""), flush=True)
    reference = rows[0]["time_s"]
    for row in rows:
        row["time_vs_reference"] = row["time_s"] / reference
    return rows


def markdown(rows: list[dict], meta: dict) -> str:
    """The table and its provenance as Markdown."""
    lines = ["# Disentanglement metrics: cost", "",
             f"{meta['cpus']} CPU(s), {meta['platform']}; numpy {meta['numpy']}, scikit-learn {meta['sklearn']}, "
             f"vaeinfo {meta['vaeinfo']}. Synthetic codes of dSprites' factor grid (sizes {meta['sizes']}), "
             f"{N_CODES} codes; sizes of disentanglement_lib" + (" divided by 10 (--quick)" if meta["quick"] else "")
             + f"; DCI with {meta['n_estimators']} boosting stages. 'x reference' = time / the histogram MIG's "
             "time in the same run. Score: MIG, SAP, DCI's disentanglement, or the eval accuracy. * DCI ran "
             f"{meta['dci_stages']} stages: its time is scaled to {meta['n_estimators']} (boosting time is linear "
             "in the stages) and its score is that of the shorter run.", "",
             "| metric | points | time (s) | x reference | score |", "|---|---|---:|---:|---:|"]
    lines += [f"| {r['metric']} | {r['points']} | {r['time_s']:.3g}{' *' if r['extrapolated'] else ''} | "
              f"{r['time_vs_reference']:.3g} | {r['score']:.4f} |" for r in rows]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a tenth of the points, 10 boosting stages")
    parser.add_argument("--out", default=None, help="output path without extension (default: "
                        "figures/results/metrics_cost, or metrics_cost_quick with --quick)")
    parser.add_argument("--dci-stages", type=int, default=10, help="boosting stages DCI runs (its time is "
                        "extrapolated to 100; default 10)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    n_train, n_test, stages = (1000, 500, 10) if args.quick else (10_000, 5_000, 100)
    dci_stages = min(stages, args.dci_stages)
    meta = {"cpus": available_cpus(), "platform": platform.platform(), "numpy": np.__version__,
            "sklearn": sklearn.__version__, "vaeinfo": __version__, "quick": args.quick, "seed": args.seed,
            "sizes": SIZES.tolist(), "n_estimators": stages, "dci_stages": dci_stages}
    rows = run(n_train, n_test, stages, dci_stages, not args.quick, args.seed)
    text = markdown(rows, meta)
    print("\n" + text)
    out = Path(args.out or "figures/results/metrics_cost" + ("_quick" if args.quick else ""))
    atomic_write_json(out.with_suffix(".json"), {"meta": meta, "rows": rows})
    atomic_write_text(out.with_suffix(".md"), text)
    print(f"wrote {out.with_suffix('.json')} and {out.with_suffix('.md')}")


if __name__ == "__main__":
    main()
