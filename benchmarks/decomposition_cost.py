"""Cost of the ELBO decomposition (``vaeinfo.info.decomposition.elbo_decomposition``) and of beta-TCVAE's minibatch
estimators of log q(z), with ratios to a reference measured in the same run.

Table 1, the decomposition of a whole data set (N examples, d = 10 factors as in Chen et al.'s dSprites models),
for N in {1e3, 1e4, 1e5} (``--quick``: {1e3, 1e4}) and S in {1e3, 1e4} samples of z (S = 1e4 only up to N = 1e4
unless ``--full``). Reference: the per-factor exact part alone, ``kl_decomposition`` (grid, tol 1e-3: I(X; Z_h) and
KL(q(z_h) || N(0, 1)) of every 1-D mixture), which the MI pulse computes anyway. Rows: that reference; the total
correlation by Monte Carlo with exact log-densities (O(S N d), the cost of Chen et al.'s ``estimate_entropies``
too); the whole ``elbo_decomposition``; with the TC's standard error and the identity's error |I + TC + dimension-wise
KL - E KL|. The costliest configuration's time per (sample x row x factor) extrapolates the full dSprites grid
(N = 737,280, S = 10,000), marked as such.

Table 2, one training step's objective terms for a batch of B (float32, d = 10, forward + backward through mu,
logvar and z) for B in {256, 2048}: beta-TCVAE with ``mss`` and ``mws`` against the reference, the beta-VAE terms
(analytic KL). Memory is O(B^2 d) for the pairwise log-densities.

Inputs mimic a dSprites encoder: 5 of the 10 factors active, their means mixtures of a 5-factor uniform grid turned
by a fixed rotation in pairs (so TC > 0), sigma log-uniform in [0.05, 0.3]; the other 5 collapsed (mu ~ 0, sigma ~ 1).

Writes ``figures/results/decomposition_cost.{json,md}`` (``--quick``: ``decomposition_cost_quick.{json,md}``).
Run:  python benchmarks/decomposition_cost.py [--quick] [--full] [--out PATH_WITHOUT_EXTENSION]
"""

from __future__ import annotations

import argparse
import platform
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from mi_estimators import timed  # the sibling benchmark's best-of-n timer (this folder is on sys.path)

from vaeinfo import __version__
from vaeinfo.info.decomposition import elbo_decomposition, kl_decomposition, total_correlation
from vaeinfo.io import atomic_write_json, atomic_write_text, available_cpus
from vaeinfo.models.objectives import beta_vae_terms
from vaeinfo.models.objectives.tcvae import tcvae_terms

D, ACTIVE = 10, 5
DSPRITES_N, DSPRITES_S = 737_280, 10_000


def encoder_like(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(mu, logvar), each (n, D): ACTIVE factors from a rotated uniform 5-factor grid, the rest collapsed."""
    rng = np.random.default_rng(seed)
    factors = rng.integers(0, 8, (n, ACTIVE)) / 7.0 * 4.0 - 2.0  # 8 values per ground-truth factor in [-2, 2]
    c, s = np.cos(0.5), np.sin(0.5)
    mixed = factors.copy()
    mixed[:, 0], mixed[:, 1] = c * factors[:, 0] - s * factors[:, 1], s * factors[:, 0] + c * factors[:, 1]
    mixed[:, 2], mixed[:, 3] = c * factors[:, 2] - s * factors[:, 3], s * factors[:, 2] + c * factors[:, 3]
    mu = np.concatenate([mixed + rng.normal(0, 0.05, (n, ACTIVE)), rng.normal(0, 0.01, (n, D - ACTIVE))], axis=1)
    logvar = np.concatenate([2 * rng.uniform(np.log(0.05), np.log(0.3), (n, ACTIVE)),
                             rng.normal(0, 0.01, (n, D - ACTIVE))], axis=1)
    return mu, logvar


def decomposition_rows(n: int, samples: tuple[int, ...], seed: int) -> list[dict]:
    """Table 1 rows for one N: the reference, then TC and the whole decomposition at each S."""
    mu, logvar = encoder_like(n, seed)
    _, reference = timed(lambda: kl_decomposition(mu, logvar), repeat=3)
    rows = [{"N": n, "S": None, "what": "kl_decomposition (reference: exact 1-D parts)", "time_s": reference,
             "ratio": 1.0, "tc": None, "stderr": None, "identity_error": None}]
    for s in samples:
        tc, tc_time = timed(lambda s=s: total_correlation(mu, logvar, n_samples=s, seed=seed))
        rows.append({"N": n, "S": s, "what": "total_correlation (Monte Carlo)", "time_s": tc_time,
                     "ratio": tc_time / reference, "tc": float(tc.value), "stderr": float(tc.stderr),
                     "identity_error": None, "ns_per_evaluation": 1e9 * tc_time / (s * n * D)})
        parts, full = timed(lambda s=s: elbo_decomposition(mu, logvar, n_samples=s, seed=seed))
        error = abs(parts.index_code_mi + parts.total_correlation + parts.marginal_kl - parts.expected_kl)
        rows.append({"N": n, "S": s, "what": "elbo_decomposition (all three terms)", "time_s": full,
                     "ratio": full / reference, "tc": parts.total_correlation, "stderr": parts.stderr,
                     "identity_error": error})
    return rows


def objective_rows(batch: int, seed: int, repeat: int) -> list[dict]:
    """Table 2 rows for one batch size: forward + backward of the beta-VAE terms and of beta-TCVAE (mss, mws)."""
    g = torch.Generator().manual_seed(seed)
    mu0 = torch.randn(batch, D, generator=g)
    logvar0 = -2 * torch.rand(batch, D, generator=g)
    eps, log_lik = torch.randn(batch, D, generator=g), -100 * torch.rand(batch, generator=g)

    def step(kind: str) -> Callable[[], None]:
        def run() -> None:
            mu, logvar = mu0.clone().requires_grad_(), logvar0.clone().requires_grad_()
            z = mu + torch.exp(0.5 * logvar) * eps
            if kind == "beta_vae":
                loss = beta_vae_terms(log_lik, mu, logvar, beta=6.0)["loss"]
            else:
                loss = tcvae_terms(log_lik, mu, logvar, z, DSPRITES_N, beta=6.0, estimator=kind)["loss"]
            loss.backward()
        return run

    _, reference = timed(step("beta_vae"), repeat)
    rows = [{"B": batch, "what": "beta_vae terms (reference)", "time_s": reference, "ratio": 1.0}]
    for kind in ("mss", "mws"):
        _, seconds = timed(step(kind), repeat)
        rows.append({"B": batch, "what": f"beta_tcvae terms, {kind}", "time_s": seconds, "ratio": seconds / reference})
    return rows


def markdown(decomposition: list[dict], objective: list[dict], extrapolated: dict, meta: dict) -> str:
    """Both tables and their provenance as Markdown."""
    lines = ["# ELBO decomposition and beta-TCVAE estimators: cost", "",
             f"{meta['cpus']} CPU(s), {meta['platform']}; numpy {meta['numpy']}, torch {meta['torch']}, vaeinfo "
             f"{meta['vaeinfo']}. d = {D} factors ({ACTIVE} active). Ratios are to the reference row of the same "
             "N (table 1) or B (table 2), measured in this run. TC and its standard error in nats; identity error "
             "= |I(X; Z) + TC + dimension-wise KL - E KL(q(z|x) || p(z))|.", "",
             "| N | S | computation | time (s) | x reference | TC (nats) | TC stderr | identity error |",
             "|---:|---:|---|---:|---:|---:|---:|---:|"]
    for r in decomposition:
        cells = ["" if r[k] is None else f"{r[k]:.4f}" for k in ("tc", "stderr")]
        identity = "" if r["identity_error"] is None else f"{r['identity_error']:.1e}"
        lines.append(f"| {r['N']} | {r['S'] or ''} | {r['what']} | {r['time_s']:.4g} | {r['ratio']:.3g} | "
                     f"{cells[0]} | {cells[1]} | {identity} |")
    lines += ["", f"Extrapolated (linear in S N d from the N = {extrapolated['from_N']}, S = {extrapolated['from_S']} "
              f"row, {extrapolated['ns_per_evaluation']:.2f} ns per sample x row x factor): the full dSprites grid, "
              f"N = {DSPRITES_N}, S = {DSPRITES_S}: ~{extrapolated['seconds']:.3g} s "
              f"({extrapolated['seconds'] / 60:.3g} min) for the total correlation.", "",
              "| B | objective terms (forward + backward) | time (s) | x reference |", "|---:|---|---:|---:|"]
    lines += [f"| {r['B']} | {r['what']} | {r['time_s']:.4g} | {r['ratio']:.3g} |" for r in objective]
    return "\n".join(lines + [""])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="N in {1e3, 1e4}, S = 1e3, B = 256 only")
    parser.add_argument("--full", action="store_true", help="also S = 1e4 at N = 1e5")
    parser.add_argument("--out", default=None, help="output path without extension (default: "
                        "figures/results/decomposition_cost, or decomposition_cost_quick with --quick)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    sizes = (1000, 10_000) if args.quick else (1000, 10_000, 100_000)
    meta = {"cpus": available_cpus(), "platform": platform.platform(), "numpy": np.__version__,
            "torch": torch.__version__, "vaeinfo": __version__, "quick": args.quick, "full": args.full,
            "seed": args.seed}
    decomposition = []
    for n in sizes:
        samples = (1000,) if args.quick else (1000, 10_000) if n <= 10_000 or args.full else (1000,)
        decomposition += decomposition_rows(n, samples, args.seed)
        print("\n".join(f"N={r['N']:>7} S={r['S'] or '':>6} {r['what']:<48} {r['time_s']:9.4f} s  "
                        f"x{r['ratio']:.3g}" for r in decomposition if r["N"] == n), flush=True)
    costliest = max((r for r in decomposition if "ns_per_evaluation" in r), key=lambda r: r["S"] * r["N"])
    extrapolated = {"from_N": costliest["N"], "from_S": costliest["S"],
                    "ns_per_evaluation": costliest["ns_per_evaluation"],
                    "seconds": costliest["ns_per_evaluation"] * 1e-9 * DSPRITES_N * DSPRITES_S * D}
    objective = []
    for batch in (256,) if args.quick else (256, 2048):
        objective += objective_rows(batch, args.seed, repeat=5)
    text = markdown(decomposition, objective, extrapolated, meta)
    print("\n" + text)
    out = Path(args.out or "figures/results/decomposition_cost" + ("_quick" if args.quick else ""))
    atomic_write_json(out.with_suffix(".json"), {"meta": meta, "decomposition": decomposition,
                                                 "extrapolated_dsprites": extrapolated, "objective": objective})
    atomic_write_text(out.with_suffix(".md"), text)
    print(f"wrote {out.with_suffix('.json')} and {out.with_suffix('.md')}")


if __name__ == "__main__":
    main()
