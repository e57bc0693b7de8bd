"""Benchmark of the per-factor MI estimators of ``vaeinfo.info.mi``: time and error on VAE-like encoder outputs.

For each N in {1e3, 1e4, 6e4} and d in {10, 128} (``--quick``: N in {1e3, 1e4}, d = 10), every method's wall time
and its largest error over the factors against a reference computed in the same run: ``grid`` at tol = 1e-7.
The ``quad`` row (the exact mixture density on Gauss-Legendre nodes, ~1e-9 nats) is the check of that reference.
Slow methods (``mc``, ``quad``) run on the first k factors (k a multiple of 4, so every kind of factor is among
them) when all d would take too long; their time is extrapolated linearly in d (marked in the table).
Writes ``figures/results/mi_estimators.{json,md}`` (``--quick``: ``mi_estimators_quick.{json,md}``).

Inputs mimic a trained VAE: factor h % 4 == 0 active (multimodal means from 3-5 clusters, sigma log-uniform in
[0.02, 0.3]), h % 4 == 2 weak (mu ~ N(0, 0.3^2), sigma ~ U[0.5, 1]), the rest collapsed (mu ~ 0, sigma ~ 1).

Run:  python benchmarks/mi_estimators.py [--quick] [--out PATH_WITHOUT_EXTENSION]
"""

from __future__ import annotations

import argparse
import platform
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

import numpy as np

from vaeinfo import __version__, mi
from vaeinfo.io import atomic_write_json, atomic_write_text, available_cpus

KINDS = ("active", "collapsed", "weak", "collapsed")  # factor h has kind KINDS[h % 4]
REFERENCE_TOL = 1e-7
MC_SAMPLES = 2000
SLOW_BUDGET = 3e8  # component evaluations a slow method may spend per configuration before it is subsampled
METHODS = ("grid", "gaussian", "dimwise_kl", "kt_lower", "kt_upper", "mc", "quad")


def vae_like(n: int, d: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(mu, logvar), each (n, d): factor h drawn from its own seeded generator, kind KINDS[h % 4]."""
    mu, logvar = np.empty((n, d)), np.empty((n, d))
    for h in range(d):
        rng = np.random.default_rng([seed, h])
        kind = KINDS[h % 4]
        if kind == "active":
            centres = rng.uniform(-2, 2, rng.integers(3, 6))
            mu[:, h] = rng.choice(centres, n) + rng.normal(0, 0.25, n)
            logvar[:, h] = 2 * rng.uniform(np.log(0.02), np.log(0.3), n)
        elif kind == "weak":
            mu[:, h] = rng.normal(0, 0.3, n)
            logvar[:, h] = 2 * np.log(rng.uniform(0.5, 1.0, n))
        else:
            mu[:, h] = rng.normal(0, 0.01, n)
            logvar[:, h] = rng.normal(0, 0.01, n)
    return mu, logvar


def timed(fn: Callable[[], np.ndarray], repeat: int = 1) -> tuple[np.ndarray, float]:
    """Result of fn() and its best wall time over ``repeat`` runs (seconds)."""
    best, result = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
    return result, best


def slow_subset(n: int, d: int, per_factor_cost: float) -> int:
    """Number of leading factors (a multiple of 4, so all kinds appear) a slow method runs on."""
    fits = int(SLOW_BUDGET // max(per_factor_cost, 1.0))
    return d if fits >= d else min(d, max(4, fits - fits % 4))


def quad_nodes_estimate(mu: np.ndarray, logvar: np.ndarray) -> float:
    """Rough count of quad's Gauss-Legendre nodes for the costliest factor: 12 per panel of ~min sigma / 4."""
    sigma = np.exp(0.5 * logvar)
    return float(np.max(12 * 4 * (np.ptp(mu, axis=0) + 24 * sigma.max(axis=0)) / sigma.min(axis=0)))


def run_config(n: int, d: int, seed: int, mc_samples: int) -> tuple[list[dict], float]:
    """Time every method on one (N, d) configuration: table rows and the reference's own time."""
    mu, logvar = vae_like(n, d, seed)
    reference, reference_time = timed(lambda: mi.factor_mi(mu, logvar, tol=REFERENCE_TOL))
    cost = {"mc": mc_samples * n, "quad": n * quad_nodes_estimate(mu[:, :4], logvar[:, :4])}
    rows, grid_time = [], None
    for method in METHODS:
        options: dict = {"n_samples": mc_samples, "seed": seed + 1} if method == "mc" else {}
        k = slow_subset(n, d, cost.get(method, 0.0))
        run = partial(mi.factor_mi, mu[:, :k], logvar[:, :k], method=method, **options)
        value, seconds = timed(run, repeat=3 if method in ("grid", "gaussian", "dimwise_kl") else 1)
        seconds *= d / k
        grid_time = seconds if method == "grid" else grid_time
        error = value - reference[:k]
        rows.append({"N": n, "d": d, "method": method, "time_s": seconds, "time_vs_grid": seconds / grid_time,
                     "max_abs_error": float(np.max(np.abs(error))), "mean_error": float(np.mean(error)),
                     "factors_run": k, "extrapolated": k < d})
    return rows, reference_time


def markdown(rows: list[dict], reference_times: dict, meta: dict) -> str:
    """The results table and its provenance as Markdown."""
    lines = ["# MI estimators: time and error", "",
             f"{meta['cpus']} CPU(s), {meta['platform']}; numpy {meta['numpy']}, vaeinfo {meta['vaeinfo']}. "
             f"Reference: grid at tol = {REFERENCE_TOL:g}; error = max over factors of |estimate - reference| "
             f"(nats), mean error = signed mean. The quad row (exact density, ~1e-9) checks the reference. "
             f"mc uses {meta['mc_samples']} samples per factor. 'x grid' = time / grid's time (grid: default "
             "tol = 1e-3). Times marked * ran on the first k factors and were extrapolated linearly in d.", "",
             "| N | d | method | time (s) | x grid | max abs error | mean error |",
             "|---:|---:|---|---:|---:|---:|---:|"]
    for r in rows:
        mark = f" * (k={r['factors_run']})" if r["extrapolated"] else ""
        lines.append(f"| {r['N']} | {r['d']} | {r['method']} | {r['time_s']:.4g}{mark} | {r['time_vs_grid']:.3g} | "
                     f"{r['max_abs_error']:.2e} | {r['mean_error']:+.2e} |")
    lines += ["", "mc at equal error: its time scaled by (max abs error / 1e-3)^2 to reach 1e-3 (grid's errors are "
              "far smaller):", ""]
    for r in rows:
        if r["method"] == "mc":
            grid = next(g for g in rows if g["method"] == "grid" and (g["N"], g["d"]) == (r["N"], r["d"]))
            equal = r["time_s"] * (r["max_abs_error"] / 1e-3) ** 2
            lines.append(f"- N={r['N']}, d={r['d']}: ~{equal:.3g} s, {equal / grid['time_s']:.2g} x grid's time")
    reference = ", ".join(f"{k}: {v:.2f} s" for k, v in reference_times.items())
    lines += ["", f"Reference (grid, tol = 1e-7) time: {reference}", "",
              "gaussian and dimwise_kl are upper bounds of I, kt_lower a lower bound; kt_upper bounds the I of the "
              "2000-row subsample it runs on when N > 2000 (at most log 2000), not the I of all N rows: their "
              "'error' is their gap to I.", ""]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="N in {1e3, 1e4}, d = 10 only")
    parser.add_argument("--out", default=None, help="output path without extension (default: "
                        "figures/results/mi_estimators, or mi_estimators_quick with --quick)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    sizes = [(n, d) for n in ((1000, 10_000) if args.quick else (1000, 10_000, 60_000))
             for d in ((10,) if args.quick else (10, 128))]
    meta = {"cpus": available_cpus(),
            "platform": platform.platform(), "numpy": np.__version__, "vaeinfo": __version__,
            "mc_samples": MC_SAMPLES, "reference_tol": REFERENCE_TOL, "quick": args.quick, "seed": args.seed}
    rows, reference_times = [], {}
    for n, d in sizes:
        config_rows, reference_times[f"N={n}, d={d}"] = run_config(n, d, args.seed, MC_SAMPLES)
        rows += config_rows
        for r in config_rows:
            print(f"N={r['N']:>6} d={r['d']:>4} {r['method']:<11} {r['time_s']:10.4f} s  x{r['time_vs_grid']:<10.3g}"
                  f" max|err| {r['max_abs_error']:.2e}" + (f"  (k={r['factors_run']}, extrapolated)"
                                                           if r["extrapolated"] else ""), flush=True)
    text = markdown(rows, reference_times, meta)
    print("\n" + text)
    out = Path(args.out or "figures/results/mi_estimators" + ("_quick" if args.quick else ""))
    atomic_write_json(out.with_suffix(".json"), {"meta": meta, "rows": rows, "reference_time_s": reference_times})
    atomic_write_text(out.with_suffix(".md"), text)
    print(f"wrote {out.with_suffix('.json')} and {out.with_suffix('.md')}")


if __name__ == "__main__":
    main()
