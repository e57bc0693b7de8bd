"""Training and encoding speed of vaeinfo's VAEs on this machine's CPU, against a plain reference loop.

For each architecture (batch 100, synthetic images in [0, 1]; speed does not depend on the pixel values):

- ``vaeinfo``: the training epoch of :func:`vaeinfo.training.train.train` itself (``_train_epoch``: shuffled index
  batches from one tensor, channels_last convolutions, fused Adam, threads capped by ``configure_threads``).
- ``reference``: the straightforward loop -- ``DataLoader(TensorDataset(x), batch_size=100, shuffle=True)``
  (per-sample indexing and collation), the default (for-loop) Adam, NCHW tensors, and ``loss.item()``
  logged every step -- with the same model, objective and batch size.

Both run in this process, interleaved (a warm-up epoch, then ``--repeats`` timed epochs each; the median
counts), so background load hits both alike. Encoding (the MI estimator's input) compares
:func:`vaeinfo.training.encode.encode` (inference_mode, batches of 256, preallocated output) with a loop over a
DataLoader of 100 that keeps autograd on and concatenates. From the mnist_conv numbers: one epoch of the paper
(50,000 training images + a 10,000-image validation pass) and the paper's 100 epochs, extrapolated; and one
real ``train()`` call of one such epoch, measured.

Writes ``figures/results/train_throughput.{json,md}``.
Run:  python benchmarks/train_throughput.py [--repeats 9] [--out PATH_WITHOUT_EXTENSION]
"""

from __future__ import annotations

import argparse
import platform
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader, TensorDataset
from tqdm import tqdm

from vaeinfo import __version__
from vaeinfo.io import atomic_write_json, atomic_write_text, available_cpus
from vaeinfo.models.architectures import build_model, reparameterize
from vaeinfo.models.objectives import beta_vae_terms
from vaeinfo.training import encode as enc
from vaeinfo.training import train as tr
from vaeinfo.training.config import normalize_config

BATCH = 100
MNIST_TRAIN, MNIST_VALIDATION, PAPER_EPOCHS = 50_000, 10_000, 100
ARCHITECTURES = {  # name: (model config, images per timed epoch)
    "mnist_conv": ({"architecture": "mnist_conv"}, 1000),
    "mlp": ({"architecture": "mlp", "input_shape": [1, 28, 28]}, 3000),
    "conv64": ({"architecture": "conv64"}, 300),
}
OBJECTIVE = {"name": "beta_vae", "beta": 6.0, "warmup_epochs": 0.0}


def config_for(model: dict) -> dict:
    """A normalised training config (paper settings: Adam 1e-3, batch 100) around ``model``."""
    return normalize_config({"model": model, "objective": OBJECTIVE, "batch_size": BATCH, "epochs": 1})


def vaeinfo_epoch(cfg: dict, x: torch.Tensor) -> Callable[[], None]:
    """One epoch of vaeinfo's own training loop over ``x`` (state kept between calls)."""
    state = tr._fresh(cfg, torch.device("cpu"))
    bar = tqdm(disable=True)
    return lambda: tr._train_epoch(state, cfg, x, bar)


def reference_epoch(cfg: dict, x: torch.Tensor) -> Callable[[], None]:
    """One epoch of the plain loop: DataLoader, default Adam, NCHW, loss.item() every step."""
    model = build_model(cfg["model"])
    optimizer = torch.optim.Adam(model.parameters(), lr=cfg["optimizer"]["lr"])
    loader = DataLoader(TensorDataset(x), batch_size=cfg["batch_size"], shuffle=True)
    objective = cfg["objective"]

    def epoch() -> None:
        losses = []
        for (batch,) in loader:
            mu, logvar = model.encode(batch)
            params = model.decode(reparameterize(mu, logvar))
            loss = beta_vae_terms(model.log_likelihood(batch, params), mu, logvar, objective["beta"])["loss"]
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            losses.append(loss.item())

    return epoch


def reference_encode(model, x: torch.Tensor) -> np.ndarray:
    """Plain encoding: DataLoader of 100, autograd on, per-batch numpy conversion, concatenation."""
    mus = [model.encode(batch)[0].detach().numpy() for (batch,) in DataLoader(TensorDataset(x), batch_size=BATCH)]
    return np.concatenate(mus)


def interleaved(fns: dict[str, Callable[[], object]], repeats: int) -> dict[str, float]:
    """Median wall time (s) of each function: one warm-up call each, then ``repeats`` rounds in turn."""
    for fn in fns.values():
        fn()
    times: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(t) for name, t in times.items()}


def images(n: int, shape, seed: int) -> torch.Tensor:
    return torch.rand(n, *shape, generator=torch.Generator().manual_seed(seed))


def run(repeats: int, seed: int) -> tuple[list[dict], dict]:
    """Table rows for every architecture and for encoding, plus the MNIST epoch extrapolation."""
    rows = []
    for name, (model_cfg, n) in ARCHITECTURES.items():
        cfg = config_for(model_cfg)
        x = images(n, cfg["model"]["input_shape"], seed)
        medians = interleaved({"vaeinfo": vaeinfo_epoch(cfg, x), "reference": reference_epoch(cfg, x)}, repeats)
        n_params = sum(p.numel() for p in build_model(cfg["model"]).parameters())
        rows.append(_row(f"train step, {name}", cfg, n_params, n, medians))
        print(_line(rows[-1]), flush=True)
    cfg = config_for(ARCHITECTURES["mnist_conv"][0])
    model = build_model(cfg["model"])
    x = images(MNIST_VALIDATION, cfg["model"]["input_shape"], seed)
    medians = interleaved({"vaeinfo": lambda: enc.encode(model, x),
                           "reference": lambda: reference_encode(model, x)}, repeats)
    rows.append(_row("encode, mnist_conv", cfg, None, MNIST_VALIDATION, medians))
    print(_line(rows[-1]), flush=True)
    evaluate_s = interleaved({"vaeinfo": lambda: tr.evaluate(model, x, OBJECTIVE)}, max(2, repeats // 2))["vaeinfo"]
    train_row = rows[0]
    epoch = {side: MNIST_TRAIN / train_row[f"{side}_images_per_s"] + evaluate_s for side in ("vaeinfo", "reference")}
    mnist = {"train_images": MNIST_TRAIN, "validation_images": MNIST_VALIDATION, "validation_pass_s": evaluate_s,
             "epoch_s": epoch, "paper_100_epochs_min": {k: v * PAPER_EPOCHS / 60 for k, v in epoch.items()},
             "measured_train_call_s": measured_epoch(cfg, x, seed)}
    return rows, mnist


def measured_epoch(cfg: dict, validation: torch.Tensor, seed: int) -> float:
    """Wall time (s) of one real ``train()`` call: 1 epoch on 50,000 images with validation, hashing, checkpoint."""
    x = images(MNIST_TRAIN, cfg["model"]["input_shape"], seed + 1)
    with tempfile.TemporaryDirectory() as cache:
        start = time.perf_counter()
        tr.train(cfg, x, validation, cache_dir=cache, device="cpu", progress=False)
        return time.perf_counter() - start


def _row(what: str, cfg: dict, n_params: int | None, n: int, medians: dict) -> dict:
    ips = {side: n / medians[side] for side in medians}
    return {"what": what, "input_shape": cfg["model"]["input_shape"], "latent_dim": cfg["model"]["latent_dim"],
            "parameters": n_params, "images_per_epoch": n,
            "vaeinfo_images_per_s": ips["vaeinfo"], "reference_images_per_s": ips["reference"],
            "vaeinfo_ms_per_batch": 1000 * BATCH / ips["vaeinfo"], "speedup": ips["vaeinfo"] / ips["reference"]}


def _line(r: dict) -> str:
    return (f"{r['what']:<24} vaeinfo {r['vaeinfo_images_per_s']:8.0f} img/s   reference "
            f"{r['reference_images_per_s']:8.0f} img/s   x{r['speedup']:.2f}")


def markdown(rows: list[dict], mnist: dict, meta: dict) -> str:
    """The table and the MNIST extrapolation as Markdown."""
    lines = ["# Training throughput (CPU)", "",
             f"{meta['cpu']}; {meta['cpus']} CPU(s) available, torch {meta['torch']} with {meta['threads']} "
             f"intra-op threads (the reference ran with the same count, torch's default here); vaeinfo "
             f"{meta['vaeinfo']}. Batch {BATCH}, Adam 1e-3, beta-VAE loss, Gaussian likelihood. Median of "
             f"{meta['repeats']} interleaved epochs after a warm-up. 'reference' = DataLoader + default Adam + "
             f"NCHW + loss.item() per step (encode: autograd on, DataLoader of 100).", "",
             "| what | input | latent | parameters | vaeinfo (img/s) | reference (img/s) | speed-up | "
             "vaeinfo ms/batch |",
             "|---|---|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        params = f"{r['parameters']:,}" if r["parameters"] else ""
        lines.append(f"| {r['what']} | {'x'.join(map(str, r['input_shape']))} | {r['latent_dim']} | {params} | "
                     f"{r['vaeinfo_images_per_s']:,.0f} | {r['reference_images_per_s']:,.0f} | "
                     f"{r['speedup']:.2f} | {r['vaeinfo_ms_per_batch']:.1f} |")
    epoch, total = mnist["epoch_s"], mnist["paper_100_epochs_min"]
    lines += ["", f"Paper setup on MNIST (mnist_conv, latent 128), extrapolated from the rows above: one epoch = "
              f"{MNIST_TRAIN:,} training images + a {MNIST_VALIDATION:,}-image validation pass "
              f"({mnist['validation_pass_s']:.1f} s).", "",
              "| loop | one epoch (s) | 100 epochs (min) |", "|---|---:|---:|",
              f"| vaeinfo | {epoch['vaeinfo']:.1f} | {total['vaeinfo']:.0f} |",
              f"| reference | {epoch['reference']:.1f} | {total['reference']:.0f} |", "",
              f"Measured: one `vaeinfo.training.train.train` call of 1 epoch on {MNIST_TRAIN:,} images with a "
              f"{MNIST_VALIDATION:,}-image validation set (data hashing, validation, checkpoint included): "
              f"{mnist['measured_train_call_s']:.1f} s.", ""]
    return "\n".join(lines)


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=9, help="timed epochs per loop (median counts)")
    parser.add_argument("--out", default="figures/results/train_throughput", help="output path without extension")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    threads = enc.configure_threads()
    meta = {"cpu": _cpu_name(), "cpus": available_cpus(), "threads": threads, "torch": torch.__version__,
            "vaeinfo": __version__, "platform": platform.platform(), "repeats": args.repeats, "seed": args.seed,
            "batch_size": BATCH, "device": "cpu"}
    start = time.perf_counter()
    rows, mnist = run(args.repeats, args.seed)
    meta["benchmark_s"] = time.perf_counter() - start
    text = markdown(rows, mnist, meta)
    print("\n" + text)
    out = Path(args.out)
    atomic_write_json(out.with_suffix(".json"), {"meta": meta, "rows": rows, "mnist": mnist})
    atomic_write_text(out.with_suffix(".md"), text)
    print(f"wrote {out.with_suffix('.json')} and {out.with_suffix('.md')} in {meta['benchmark_s']:.0f} s")


if __name__ == "__main__":
    main()
