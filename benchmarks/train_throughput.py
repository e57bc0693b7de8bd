"""Training speed of vaeinfo on this machine's CPU, against the authors' TF2/Keras step and a plain PyTorch loop.

For each architecture (batch 100, synthetic images in [0, 1]: speed does not depend on the pixel values; the
authors' loss: Gaussian likelihood with sigma itself learned, beta = 6, Adam 1e-3 with epsilon 1e-7):

- ``vaeinfo``: the training epoch of :func:`vaeinfo.training.train.train` itself (``_train_epoch`` after the same
  process set-up as ``train()``: :func:`vaeinfo.training.cpu.configure_cpu`, threads and glibc's malloc).
- ``tf2``: the authors' model and step in TF2/Keras (``benchmarks/tf_anchor.py``: Keras Sequential, ``@tf.function``
  step under GradientTape, tf.data shuffle + batch, TF's default threads), conv layouts only. The row says "not
  installed" without TensorFlow (``pip install -e .[bench]``); a number is never carried over from another run.
  TF's oneDNN kernels follow TF's default (on only on CPUs with AVX512_VNNI, AVX512_BF16 or AMX: Zen 4, not Zen 3;
  its Eigen kernels otherwise) unless ``TF_ENABLE_ONEDNN_OPTS`` is set; the table says which ran.
- ``vaeinfo_bf16``: the same with the training config's ``precision="bf16"`` (mixed precision: the networks
  under bfloat16 autocast, the loss, weights and Adam FP32; not the default, see README "Speed work" for what it
  changes).
- ``reference``: the straightforward PyTorch loop -- ``DataLoader(TensorDataset(x), batch_size=100,
  shuffle=True)``, the default (for-loop) Adam, NCHW tensors, ``loss.item()`` every step.

Every loop runs in its own child process (TensorFlow and torch crash when both run ops in one process here, and a
process-wide setting of one side must not leak into another): a warm-up epoch each, then ``--repeats`` rounds in
which each child trains one epoch in turn while the others wait, so background load hits all alike. The table gives
the median and the best epoch of each; the TF2 ratio is vaeinfo's best over TF2's best (the issue's criterion) with
the median ratio beside it.

FLOPs per image: ``torch.utils.flop_counter.FlopCounterMode`` over one training step at batch 100 (forward, loss,
backward; it counts matrix products and convolutions -- 2 FLOPs per multiply-add -- including the backward's
input and weight gradients, and skips element-wise work, a few per cent). Both sides compute the same products.
Peak FP32 rate: physical cores x clock x FLOPs per cycle per core (the cores under the available CPUs, SMT
siblings counted once), the clock from ``/proc/cpuinfo`` (the nominal clock: a
core boosting above it makes the fraction an overestimate) and FLOPs per cycle from the CPU's vector units (AMD
family 25 = Zen 3/4: two 256-bit FMA pipes = 32; family 26 = Zen 5 and Intel with AVX-512: two 512-bit FMA = 64;
other AVX2 + FMA: 32); ``--peak-gflops`` overrides it.

Also: encoding (the MI estimator's input), :func:`vaeinfo.training.encode.encode` against a DataLoader loop with
autograd on; and, from the mnist_conv numbers, one epoch of the paper (50,000 training images + the 10,000-image
validation pass) and the paper's 100 epochs, extrapolated, next to one real ``train()`` call of one such epoch.
``--profile`` prints where vaeinfo's mnist_conv step spends its time, per phase and per operator (torch.profiler).

What was tried on mnist_conv (2 cores of an AMD EPYC Zen 4, torch 2.14.1; img/s of 3,000-image epochs):
see the section "Speed work" of README.md, which this benchmark's table backs.

Writes ``figures/results/train_throughput.{json,md}``.
Run:  python benchmarks/train_throughput.py [--repeats 9] [--only mnist_conv] [--profile] [--out PATH]
"""

from __future__ import annotations

import argparse
import functools
import importlib.util
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader, TensorDataset
from torch.utils.flop_counter import FlopCounterMode
from tqdm import tqdm

from vaeinfo import __version__
from vaeinfo.io import allowed_cpus, atomic_write_json, atomic_write_text, available_cpus
from vaeinfo.models.architectures import build_model, reparameterize
from vaeinfo.models.objectives import beta_vae_terms
from vaeinfo.training import encode as enc
from vaeinfo.training import train as tr
from vaeinfo.training.config import normalize_config
from vaeinfo.training.cpu import configure_cpu, configure_threads, native_bf16

HERE = Path(__file__).resolve().parent
BATCH = 100
BETA = 6.0
MNIST_TRAIN, MNIST_VALIDATION, PAPER_EPOCHS = 50_000, 10_000, 100
AUTHORS = {"sigma_parameterisation": "sigma"}  # sigma itself learned, as the authors' tf.Variable(1.0)
ARCHITECTURES = {  # name: (model config, images per timed epoch)
    "mnist_conv": ({"architecture": "mnist_conv", "output_activation": "relu", **AUTHORS}, 3000),
    "conv64": ({"architecture": "conv64", **AUTHORS}, 500),
    "mlp": ({"architecture": "mlp", "input_shape": [1, 28, 28], **AUTHORS}, 10000),
}
TF_ARCHITECTURES = ("mnist_conv", "conv64")  # the anchor rebuilds the conv layouts only
SIDES = ("vaeinfo", "vaeinfo_bf16", "tf2", "reference")
TORCH_SIDES = tuple(side for side in SIDES if side != "tf2")  # the sides served by this script's children
BF16_HARDWARE = {True: "native (AVX512_BF16 or AMX)", None: "not known",
                 False: "emulated (no AVX512_BF16 or AMX: the bf16 column is many times slower)"}


def config_for(model: dict, precision: str = "fp32") -> dict:
    """A normalised training config (the authors' settings: Adam 1e-3, epsilon 1e-7, batch 100) around ``model``."""
    return normalize_config({"model": model, "objective": {"name": "beta_vae", "beta": BETA, "warmup_epochs": 0.0},
                             "batch_size": BATCH, "epochs": 1, "optimizer": {"lr": 1e-3, "eps": 1e-7},
                             "precision": precision})


def images(n: int, shape, seed: int) -> torch.Tensor:
    """n synthetic images of ``shape`` (C, H, W), uniform in [0, 1], float32."""
    return torch.rand(n, *shape, generator=torch.Generator().manual_seed(seed))


# ----------------------------------------------------------------------------- the loops (run in child processes)


def vaeinfo_epoch(cfg: dict, x: torch.Tensor) -> Callable[[], None]:
    """One epoch of vaeinfo's own training loop over ``x`` (state kept between calls), set up as train() does."""
    configure_cpu()
    state = tr._fresh(cfg, torch.device("cpu"))
    bar = tqdm(disable=True)
    return lambda: tr._train_epoch(state, cfg, x, bar)


def reference_epoch(cfg: dict, x: torch.Tensor) -> Callable[[], None]:
    """One epoch of the plain loop: DataLoader, default Adam, NCHW, loss.item() every step."""
    model = build_model(cfg["model"])
    optimizer = torch.optim.Adam(model.parameters(), lr=cfg["optimizer"]["lr"], eps=cfg["optimizer"]["eps"])
    loader = DataLoader(TensorDataset(x), batch_size=cfg["batch_size"], shuffle=True)

    def epoch() -> None:
        losses = []
        for (batch,) in loader:
            mu, logvar = model.encode(batch)
            params = model.decode(reparameterize(mu, logvar))
            loss = beta_vae_terms(model.log_likelihood(batch, params), mu, logvar, BETA)["loss"]
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            losses.append(loss.item())

    return epoch


def serve(side: str, arch: str, n: int, seed: int) -> None:
    """Child process: build one loop, print a JSON 'ready' line, then per 'epoch' line on stdin train one epoch and
    print its wall time in seconds."""
    cfg = config_for(ARCHITECTURES[arch][0], "bf16" if side == "vaeinfo_bf16" else "fp32")
    x = images(n, cfg["model"]["input_shape"], seed)
    epoch = (reference_epoch if side == "reference" else vaeinfo_epoch)(cfg, x)
    print(json.dumps({"ready": True, "torch": torch.__version__, "intra_op_threads": torch.get_num_threads()}),
          flush=True)
    for line in sys.stdin:
        if line.strip() != "epoch":
            break
        start = time.perf_counter()
        epoch()
        print(time.perf_counter() - start, flush=True)


class Child:
    """One training loop in its own process, trained one epoch at a time on request (see :func:`serve`)."""

    def __init__(self, command: list[str]):
        self.process = subprocess.Popen([sys.executable, *command], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                        stderr=subprocess.PIPE, text=True, cwd=HERE.parent)
        self.info = json.loads(self._line())

    def _line(self) -> str:
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError(f"benchmark child {self.process.args[1:4]} died:\n{self.process.stderr.read()[-3000:]}")
        return line

    def epoch(self) -> float:
        """Wall time (s) of one epoch, measured inside the child."""
        self.process.stdin.write("epoch\n")
        self.process.stdin.flush()
        return float(self._line())

    def close(self) -> None:
        self.process.stdin.close()
        self.process.wait(timeout=60)


def start(side: str, arch: str, n: int, seed: int) -> Child:
    """The child process of one side for one architecture."""
    if side == "tf2":
        cfg = config_for(ARCHITECTURES[arch][0])
        return Child([str(HERE / "tf_anchor.py"), "serve", "--n", str(n), "--beta", str(BETA), "--seed", str(seed),
                      "--model", json.dumps(cfg["model"])])
    return Child([str(Path(__file__).resolve()), "serve", "--side", side, "--arch", arch, "--n", str(n),
                  "--seed", str(seed)])


def interleaved(epochs: dict[str, Callable[[], float]], repeats: int) -> dict[str, list[float]]:
    """Epoch times (s) of each loop: one warm-up epoch each, then ``repeats`` rounds in turn."""
    for epoch in epochs.values():
        epoch()
    times: dict[str, list[float]] = {name: [] for name in epochs}
    for _ in tqdm(range(repeats), desc="rounds", file=sys.stderr, leave=False):
        for name, epoch in epochs.items():
            times[name].append(epoch())
    return times


# ----------------------------------------------------------------------------- FLOPs and peak


def training_flops_per_image(cfg: dict) -> float:
    """FLOPs of one training step (forward, loss, backward) per image, counted by FlopCounterMode at batch 100."""
    model = build_model(cfg["model"])
    x = images(BATCH, cfg["model"]["input_shape"], 0)
    with FlopCounterMode(display=False) as counter:
        mu, logvar = model.encode(x)
        params = model.decode(reparameterize(mu, logvar))
        beta_vae_terms(model.log_likelihood(x, params), mu, logvar, BETA)["loss"].backward()
    return counter.get_total_flops() / BATCH


@functools.cache
def _cpuinfo_text() -> str:
    """/proc/cpuinfo, or "" where there is none (read once per process)."""
    try:
        return Path("/proc/cpuinfo").read_text()
    except OSError:
        return ""


def processors(text: str) -> list[dict[str, str]]:
    """The fields of each processor block of /proc/cpuinfo ``text``, in order."""
    blocks = []
    for block in text.strip().split("\n\n"):
        fields = {}
        for line in block.splitlines():
            key, _, value = line.partition(":")
            fields[key.strip()] = value.strip()
        if fields:
            blocks.append(fields)
    return blocks


def first_processor(text: str) -> dict[str, str]:
    """The first processor's fields of /proc/cpuinfo ``text`` (empty where there is none)."""
    return (processors(text) or [{}])[0]


def physical_cores(text: str, cpus: set[int]) -> int:
    """How many physical cores the logical CPUs ``cpus`` sit on, from /proc/cpuinfo ``text``: the distinct
    (physical id, core id) pairs of their blocks, so that SMT siblings count once; ``len(cpus)`` where a block or
    field is missing."""
    blocks = {b.get("processor"): b for b in processors(text)}
    pairs = set()
    for cpu in cpus:
        block = blocks.get(str(cpu), {})
        if "physical id" not in block or "core id" not in block:
            return len(cpus)
        pairs.add((block["physical id"], block["core id"]))
    return len(pairs)


def flops_per_cycle(info: dict[str, str]) -> int:
    """Peak FP32 FLOPs per cycle per core from the CPU's vendor, family and flags (module docstring)."""
    flags = set(info.get("flags", "").split())
    vendor, family = info.get("vendor_id", ""), int(info.get("cpu family", "0") or 0)
    if vendor == "AuthenticAMD" and family >= 26 and "avx512f" in flags:
        return 64
    if vendor == "GenuineIntel" and "avx512f" in flags:
        return 64
    return 32 if {"avx2", "fma"} <= flags else 16


def matmul_gflops(size: int = 2048, repeats: int = 5) -> float:
    """The best FP32 rate torch reaches here on a large matrix product (size x size x size), in GFLOP/s: what
    this CPU attains in practice, against which the nominal peak's clock can be checked."""
    configure_threads()
    a, b = images(2, (size, size), 0)
    best = float("inf")
    for _ in range(repeats + 1):
        start = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - start)
    return 2 * size ** 3 / best / 1e9


def peak_gflops(cpus: int, allowed: set[int]) -> tuple[float, str]:
    """The peak FP32 rate in GFLOP/s, and how it was reckoned, of ``cpus`` usable CPUs (:func:`available_cpus`)
    among the logical CPUs ``allowed`` (the affinity mask): at most the physical cores under them, since two SMT
    threads of one core share its vector units."""
    text = _cpuinfo_text()
    info = first_processor(text)
    mhz, per_cycle = float(info.get("cpu MHz", "0") or 0), flops_per_cycle(info)
    cores = min(cpus, physical_cores(text, allowed))
    how = f"{cores} cores ({cpus} CPUs) x {mhz / 1000:.2f} GHz x {per_cycle} FLOP/cycle"
    return cores * mhz / 1000 * per_cycle, how


# ----------------------------------------------------------------------------- the table


def train_rows(archs: list[str], repeats: int, seed: int, peak: float) -> list[dict]:
    """One row per architecture: img/s (median and best) of each side, ratios and fractions of peak."""
    tf_installed = importlib.util.find_spec("tensorflow") is not None
    rows = []
    for arch in archs:
        model_cfg, n = ARCHITECTURES[arch]
        cfg = config_for(model_cfg)
        sides = [s for s in SIDES if s != "tf2" or (tf_installed and arch in TF_ARCHITECTURES)]
        children = {side: start(side, arch, n, seed) for side in sides}
        try:
            times = interleaved({side: child.epoch for side, child in children.items()}, repeats)
        finally:
            for child in children.values():
                child.close()
        flops = training_flops_per_image(cfg)
        row = {"architecture": arch, "input_shape": cfg["model"]["input_shape"],
               "latent_dim": cfg["model"]["latent_dim"], "images_per_epoch": n,
               "parameters": sum(p.numel() for p in build_model(cfg["model"]).parameters()),
               "train_gflop_per_image": flops / 1e9, "epoch_s": times,
               "threads": {side: child.info.get("intra_op_threads") for side, child in children.items()},
               "tf2_onednn": children["tf2"].info.get("onednn") if "tf2" in children else None,
               "tf2": ("measured" if "tf2" in times else "not installed" if not tf_installed
                       else "not built for this architecture")}
        for side, t in times.items():
            row[f"{side}_median_images_per_s"] = n / statistics.median(t)
            row[f"{side}_best_images_per_s"] = n / min(t)
            row[f"{side}_fraction_of_peak"] = row[f"{side}_median_images_per_s"] * flops / 1e9 / peak
        for ours, prefix in (("vaeinfo", ""), ("vaeinfo_bf16", "bf16_")):
            for other in ("tf2", "reference"):
                if other in times:
                    row |= {f"{prefix}vs_{other}_{k}": v for k, v in ratios(times[ours], times[other]).items()}
        rows.append(row)
        print(_line(row), flush=True)
    return rows


def ratios(ours: list[float], other: list[float]) -> dict:
    """How many times faster ``ours`` is than ``other`` from their epoch times: best over best, median over median,
    and the range over the rounds (each round's epochs ran one right after the other)."""
    pairs = [b / a for a, b in zip(ours, other)]
    return {"best": min(other) / min(ours), "median": statistics.median(other) / statistics.median(ours),
            "pairs": [min(pairs), max(pairs)]}


def reference_encode(model, x: torch.Tensor) -> np.ndarray:
    """Plain encoding: DataLoader of 100, autograd on, per-batch numpy conversion, concatenation."""
    mus = [model.encode(batch)[0].detach().numpy() for (batch,) in DataLoader(TensorDataset(x), batch_size=BATCH)]
    return np.concatenate(mus)


def timed(fns: dict[str, Callable[[], object]], repeats: int) -> dict[str, float]:
    """Median wall time (s) of each function in this process: a warm-up call each, then ``repeats`` rounds."""
    def clocked(fn):
        def run() -> float:
            start = time.perf_counter()
            fn()
            return time.perf_counter() - start
        return run
    return {name: statistics.median(t) for name, t in interleaved({k: clocked(f) for k, f in fns.items()},
                                                                  repeats).items()}


def mnist_epoch(train_row: dict, repeats: int, seed: int) -> dict:
    """Encoding speed and the paper's MNIST epoch: extrapolated from the mnist_conv row, and one real train() call."""
    configure_threads()
    cfg = config_for(ARCHITECTURES["mnist_conv"][0])
    model = build_model(cfg["model"])
    x = images(MNIST_VALIDATION, cfg["model"]["input_shape"], seed)
    encode = timed({"vaeinfo": lambda: enc.encode(model, x), "reference": lambda: reference_encode(model, x)},
                   repeats)
    evaluate_s = timed({"vaeinfo": lambda: tr.evaluate(model, x, cfg["objective"])}, max(2, repeats // 2))["vaeinfo"]
    epoch = {side: MNIST_TRAIN / train_row[f"{side}_median_images_per_s"] + evaluate_s
             for side in SIDES if f"{side}_median_images_per_s" in train_row}
    return {"encode_images_per_s": {k: MNIST_VALIDATION / v for k, v in encode.items()},
            "train_images": MNIST_TRAIN, "validation_images": MNIST_VALIDATION, "validation_pass_s": evaluate_s,
            "epoch_s": epoch, "paper_100_epochs_min": {k: v * PAPER_EPOCHS / 60 for k, v in epoch.items()},
            "measured_train_call_s": measured_epoch(cfg, x, seed)}


def measured_epoch(cfg: dict, validation: torch.Tensor, seed: int) -> float:
    """Wall time (s) of one real ``train()`` call: 1 epoch on 50,000 images with validation, hashing, checkpoint."""
    x = images(MNIST_TRAIN, cfg["model"]["input_shape"], seed + 1)
    with tempfile.TemporaryDirectory() as cache:
        start = time.perf_counter()
        tr.train(cfg, x, validation, cache_dir=cache, device="cpu", progress=False)
        return time.perf_counter() - start


def _line(r: dict) -> str:
    parts = [f"{r['architecture']:<11}"]
    for side in SIDES:
        key = f"{side}_median_images_per_s"
        parts.append(f"{side} {r[key]:6.0f}/{r[f'{side}_best_images_per_s']:6.0f}" if key in r else f"{side} -")
    for prefix in ("", "bf16_"):
        if f"{prefix}vs_tf2_best" in r:
            parts.append(f"{prefix}vs tf2 x{r[f'{prefix}vs_tf2_best']:.2f} (median x{r[f'{prefix}vs_tf2_median']:.2f})")
    return "   ".join(parts) + "   img/s median/best"


def _cell(value: float | None, fmt: str) -> str:
    return "" if value is None else format(value, fmt)


def markdown(rows: list[dict], mnist: dict | None, meta: dict) -> str:
    """The tables as Markdown."""
    lines = ["# Training throughput (CPU)", "",
             f"{meta['cpu']}; {meta['cpus']} CPU(s) available; torch {meta['torch']} ({meta['threads']} intra-op "
             f"threads), TensorFlow {meta['tensorflow']}; vaeinfo {meta['vaeinfo']}. Batch {BATCH}, the authors' "
             f"loss (Gaussian, sigma learned, beta {BETA:g}), Adam 1e-3. Each loop in its own process, "
             f"{meta['repeats']} interleaved epochs after a warm-up; img/s as median / best epoch. Peak FP32: "
             f"{meta['peak_gflops']:.0f} GFLOP/s ({meta['peak_how']}); a 2048^3 matrix product reaches "
             f"{meta['matmul_gflops']:.0f} GFLOP/s here. torch's CPU kernels: {meta['cpu_capability']}; "
             f"bfloat16: {BF16_HARDWARE[meta['native_bf16']]}.", "",
             "| architecture | FLOPs/img (train) | vaeinfo | vaeinfo bf16 | TF2 (authors' step) | plain PyTorch | "
             "vaeinfo / TF2, best (median) [pairs] | vaeinfo bf16 / TF2 | vaeinfo / plain | % of peak: vaeinfo, "
             "TF2 |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        def ips(side: str) -> str:
            key = f"{side}_median_images_per_s"
            if key not in r:
                return r["tf2"] if side == "tf2" else ""
            return f"{r[key]:,.0f} / {r[f'{side}_best_images_per_s']:,.0f}"
        def tf_ratio(prefix: str) -> str:
            if f"{prefix}vs_tf2_best" not in r:
                return ""
            lo, hi = r[f"{prefix}vs_tf2_pairs"]
            return f"**{r[f'{prefix}vs_tf2_best']:.2f}** ({r[f'{prefix}vs_tf2_median']:.2f}) [{lo:.2f}-{hi:.2f}]"
        peak = f"{100 * r['vaeinfo_fraction_of_peak']:.0f} %"
        if "tf2_fraction_of_peak" in r:
            peak += f", {100 * r['tf2_fraction_of_peak']:.0f} %"
        lines.append(f"| {r['architecture']} ({'x'.join(map(str, r['input_shape']))}, latent {r['latent_dim']}) | "
                     f"{r['train_gflop_per_image'] * 1000:.1f} M | {ips('vaeinfo')} | {ips('vaeinfo_bf16')} | "
                     f"{ips('tf2')} | {ips('reference')} | {tf_ratio('')} | {tf_ratio('bf16_')} | "
                     f"{r['vs_reference_median']:.2f} | {peak} |")
    onednn = {r["tf2_onednn"] for r in rows if r.get("tf2_onednn") is not None}
    if len(onednn) == 1:
        setting = meta.get("tf_enable_onednn_opts")
        how = (f"TF_ENABLE_ONEDNN_OPTS={setting}" if setting else "TF's default on this CPU: on only with AVX512_VNNI, "
               "AVX512_BF16 or AMX; TF_ENABLE_ONEDNN_OPTS=1 or 0 decides otherwise")
        lines += ["", f"TensorFlow's oneDNN kernels: {'on' if onednn.pop() else 'off'} ({how})."]
    if mnist:
        epoch, total = mnist["epoch_s"], mnist["paper_100_epochs_min"]
        enc_ips = mnist["encode_images_per_s"]
        lines += ["", f"Encoding (mnist_conv, 10,000 images): vaeinfo {enc_ips['vaeinfo']:,.0f} img/s, plain "
                  f"DataLoader loop with autograd {enc_ips['reference']:,.0f} img/s.", "",
                  f"The paper's MNIST setup, extrapolated from the medians: one epoch = {MNIST_TRAIN:,} training "
                  f"images + a {MNIST_VALIDATION:,}-image validation pass ({mnist['validation_pass_s']:.1f} s).", "",
                  "| loop | one epoch (s) | 100 epochs (min) |", "|---|---:|---:|"]
        lines += [f"| {side} | {epoch[side]:.1f} | {total[side]:.0f} |" for side in epoch]
        lines += ["", f"Measured: one `vaeinfo.training.train.train` call of 1 epoch on {MNIST_TRAIN:,} images with "
                  f"a {MNIST_VALIDATION:,}-image validation set (data hashing, validation, checkpoint included): "
                  f"{mnist['measured_train_call_s']:.1f} s.", ""]
    return "\n".join(lines)


# ----------------------------------------------------------------------------- profile


def profile(steps: int = 30) -> str:
    """Where vaeinfo's mnist_conv training step spends its time: per phase, per layer, per operator.

    Phases and layers are timed with ``time.perf_counter`` (ops run synchronously on the CPU; a layer's backward is
    the time between its full-backward pre-hook and hook), the operators with torch.profiler, whose own bookkeeping
    between ops inflates the small element-wise ones: read those against the phase and layer times.
    """
    from torch.profiler import ProfilerActivity
    from torch.profiler import profile as torch_profile

    configure_cpu()
    cfg = config_for(ARCHITECTURES["mnist_conv"][0])
    state = tr._fresh(cfg, torch.device("cpu"))
    x = images(steps * BATCH, cfg["model"]["input_shape"], 0)
    bar = tqdm(disable=True)
    tr._train_epoch(state, cfg, x, bar)  # warm-up
    phases = _phase_times(state, cfg, x, steps)
    total = sum(phases.values())
    out = [f"mnist_conv training step, batch {BATCH}, {torch.get_num_threads()} threads: {total:.1f} ms "
           f"({BATCH * 1000 / total:,.0f} img/s)"]
    out += [f"  {name:<16} {ms:6.2f} ms  {100 * ms / total:4.0f} %" for name, ms in phases.items()]
    out.append("per layer (ms per step): forward, backward")
    out += [f"  {name:<28} {fwd:6.2f} {bwd:6.2f}" for name, (fwd, bwd) in _layer_times(state, cfg, x, steps).items()]
    with torch_profile(activities=[ProfilerActivity.CPU], record_shapes=True) as prof:
        tr._train_epoch(state, cfg, x, bar)
    out.append(prof.key_averages(group_by_input_shape=True).table(
        sort_by="self_cpu_time_total", row_limit=25, max_name_column_width=32, max_shapes_column_width=60))
    return "\n".join(out)


def _phase_times(state, cfg: dict, x: torch.Tensor, steps: int) -> dict[str, float]:
    """Mean ms per step of forward + loss, backward and the optimizer step over ``steps`` batches of ``x``."""
    phases = {"forward + loss": 0.0, "backward": 0.0, "optimizer": 0.0}
    for b in range(steps):
        batch = x[b * BATCH:(b + 1) * BATCH]
        t0 = time.perf_counter()
        terms = tr._batch_terms(state.model, batch, cfg["objective"], 0.0, state.noise, len(x))
        t1 = time.perf_counter()
        state.optimizer.zero_grad(set_to_none=True)
        terms["loss"].backward()
        t2 = time.perf_counter()
        state.optimizer.step()
        t3 = time.perf_counter()
        for name, dt in zip(phases, (t1 - t0, t2 - t1, t3 - t2)):
            phases[name] += dt * 1000 / steps
    return phases


def _layer_times(state, cfg: dict, x: torch.Tensor, steps: int) -> dict[str, tuple[float, float]]:
    """Mean ms per step of each encoder/decoder layer's forward and backward, timed by module hooks."""
    layers = {f"{net}[{i}] {type(m).__name__}": m for net in ("encoder", "decoder")
              for i, m in enumerate(getattr(state.model, net))}
    clock: dict[str, float] = {}
    spent = {name: [0.0, 0.0] for name in layers}
    hooks = []
    for name, m in layers.items():
        def start(*_, key=name):
            clock[key] = time.perf_counter()

        def stop(i, key):
            def hook(*_):
                spent[key][i] += time.perf_counter() - clock[key]
            return hook
        hooks += [m.register_forward_pre_hook(start), m.register_forward_hook(stop(0, name)),
                  m.register_full_backward_pre_hook(start), m.register_full_backward_hook(stop(1, name))]
    try:
        _phase_times(state, cfg, x, steps)
    finally:
        for h in hooks:
            h.remove()
    return {name: (1000 * f / steps, 1000 * b / steps) for name, (f, b) in spent.items()}


# ----------------------------------------------------------------------------- main


def _cpu_name() -> str:
    return first_processor(_cpuinfo_text()).get("model name") or platform.processor() or platform.machine()


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "serve":
        child = argparse.ArgumentParser()
        child.add_argument("serve")
        child.add_argument("--side", choices=TORCH_SIDES, required=True)
        child.add_argument("--arch", choices=tuple(ARCHITECTURES), required=True)
        child.add_argument("--n", type=int, required=True)
        child.add_argument("--seed", type=int, default=0)
        a = child.parse_args()
        serve(a.side, a.arch, a.n, a.seed)
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=9, help="timed epochs per loop (median and best reported)")
    parser.add_argument("--only", nargs="+", choices=tuple(ARCHITECTURES), help="architectures to time")
    parser.add_argument("--peak-gflops", type=float, help="the CPUs' peak FP32 rate, if the estimate is wrong")
    parser.add_argument("--profile", action="store_true", help="print the mnist_conv step's profile and exit")
    parser.add_argument("--out", default="figures/results/train_throughput", help="output path without extension")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    if args.profile:
        print(profile())
        return
    cpus = available_cpus()
    peak, how = peak_gflops(cpus, allowed_cpus())
    if args.peak_gflops:
        peak, how = args.peak_gflops, "given with --peak-gflops"
    tf_spec = importlib.util.find_spec("tensorflow")
    meta = {"cpu": _cpu_name(), "cpus": cpus, "threads": configure_threads(), "torch": torch.__version__,
            "matmul_gflops": matmul_gflops(),
            "tensorflow": "not installed" if tf_spec is None else _tf_version(), "vaeinfo": __version__,
            "platform": platform.platform(), "repeats": args.repeats, "seed": args.seed, "batch_size": BATCH,
            "device": "cpu", "peak_gflops": peak, "peak_how": how,
            "cpu_capability": torch.backends.cpu.get_cpu_capability(), "native_bf16": native_bf16(),
            "tf_enable_onednn_opts": os.environ.get("TF_ENABLE_ONEDNN_OPTS")}
    start_time = time.perf_counter()
    archs = args.only or list(ARCHITECTURES)
    rows = train_rows(archs, args.repeats, args.seed, peak)
    mnist = next((mnist_epoch(r, args.repeats, args.seed) for r in rows if r["architecture"] == "mnist_conv"), None)
    meta["benchmark_s"] = time.perf_counter() - start_time
    text = markdown(rows, mnist, meta)
    print("\n" + text)
    out = Path(args.out)
    atomic_write_json(out.with_suffix(".json"), {"meta": meta, "rows": rows, "mnist": mnist})
    atomic_write_text(out.with_suffix(".md"), text)
    print(f"wrote {out.with_suffix('.json')} and {out.with_suffix('.md')} in {meta['benchmark_s']:.0f} s")


def _tf_version() -> str:
    """TensorFlow's version from its package metadata (importing it here would share the process with torch)."""
    from importlib.metadata import PackageNotFoundError, version

    for dist in ("tensorflow-cpu", "tensorflow"):
        try:
            return version(dist)
        except PackageNotFoundError:
            continue
    return "installed"


if __name__ == "__main__":
    main()
