"""vaeinfo.training.cpu: the thread cap, and glibc keeping freed memory -- fewer page faults, the same numbers.

The malloc setting is process-wide and cannot be undone, so each case runs a short training loop of the paper's
MNIST model (batch 100) in a fresh Python process and reports its minor page faults per step and a hash of the
final weights.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import torch

from vaeinfo.io import available_cpus
from vaeinfo.training import cpu

LOOP = r"""
import hashlib, json, resource, sys
import torch
from vaeinfo.models.architectures import build_model, reparameterize
from vaeinfo.models.objectives import beta_vae_terms
from vaeinfo.training.cpu import configure_cpu, retain_freed_memory
configure_cpu()
model = build_model({"architecture": "mnist_conv"}, seed=0).to(memory_format=torch.channels_last)
optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
data = torch.rand(100, 1, 28, 28, generator=torch.Generator().manual_seed(0))
noise = torch.Generator().manual_seed(1)
def step():
    mu, logvar = model.encode(data)
    log_lik = model.log_likelihood(data, model.decode(reparameterize(mu, logvar, noise)))
    optimizer.zero_grad()
    beta_vae_terms(log_lik, mu, logvar, 1.0)["loss"].backward()
    optimizer.step()
for _ in range(10):
    step()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(10):
    step()
faults = (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) / 10
digest = hashlib.sha256(b"".join(p.detach().numpy().tobytes() for p in model.parameters())).hexdigest()
print(json.dumps({"applied": retain_freed_memory(), "faults_per_step": faults, "weights": digest}))
"""


def _run(**env) -> dict:
    environ = {k: v for k, v in os.environ.items() if k not in (*cpu.USER_MALLOC_SETTINGS, cpu.OPT_OUT)}
    run = subprocess.run([sys.executable, "-c", LOOP], capture_output=True, text=True, timeout=300,
                         env={**environ, "OMP_NUM_THREADS": "2", **env})
    assert run.returncode == 0, run.stderr[-3000:]
    return json.loads(run.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def runs() -> dict:
    return {"retained": _run(), "system": _run(**{cpu.OPT_OUT: "1"}), "tunables": _run(GLIBC_TUNABLES="")}


def test_glibc_keeps_freed_memory_and_the_weights_stay_bitwise_the_same(runs):
    if not runs["retained"]["applied"]:
        pytest.skip("not glibc: malloc is left alone")
    # measured on a 2-core EPYC: ~3,500 faults per step with glibc's defaults, 0 with the setting; a CI machine
    # gave 121 after 3 warm-up steps (its heap still growing), hence 10 warm-up steps and a ratio, not a count
    assert runs["system"]["faults_per_step"] > 500
    assert runs["retained"]["faults_per_step"] < 0.1 * runs["system"]["faults_per_step"]
    assert runs["retained"]["weights"] == runs["system"]["weights"]  # speed only: not one bit of the result


def test_the_users_malloc_settings_and_the_opt_out_are_respected(runs):
    assert not runs["system"]["applied"]
    assert not _run(GLIBC_TUNABLES="glibc.malloc.trim_threshold=1000000")["applied"]
    assert runs["tunables"]["applied"] == runs["retained"]["applied"]  # an empty variable is no setting


def test_threads_are_capped_but_a_users_choice_is_kept(monkeypatch):
    before = torch.get_num_threads()
    try:
        monkeypatch.setenv("OMP_NUM_THREADS", "1")
        torch.set_num_threads(64)
        assert cpu.configure_threads() == 64  # the user said so
        monkeypatch.delenv("OMP_NUM_THREADS")
        monkeypatch.delenv("MKL_NUM_THREADS", raising=False)
        assert cpu.configure_threads() == min(64, available_cpus())
    finally:
        torch.set_num_threads(before)


def _cpu_flags() -> set[str] | None:
    """The first CPU's feature flags from /proc/cpuinfo (Linux), or None."""
    try:
        text = open("/proc/cpuinfo").read()
    except OSError:
        return None
    return next((set(line.split(":", 1)[1].split()) for line in text.splitlines() if line.startswith("flags")), None)


def test_native_bf16_agrees_with_the_cpus_own_flags():
    """The kernel's flags name the hardware: avx512_bf16 (AVX-512 BF16) or amx_tile (AMX) <=> native bfloat16."""
    flags, native = _cpu_flags(), cpu.native_bf16()
    if flags is None or native is None:
        pytest.skip("no /proc/cpuinfo flags, or this torch cannot probe the CPU")
    assert native == bool({"avx512_bf16", "amx_tile"} & flags)


@pytest.mark.parametrize("native, precision, device, warns", [
    (False, "bf16", "cpu", True),
    (True, "bf16", "cpu", False),
    (None, "bf16", "cpu", False),  # cannot tell: no warning rather than a wrong one
    (False, "fp32", "cpu", False),
    (False, "bf16", "cuda", False),  # GPUs are not this check's business
])
def test_bf16_warns_only_where_it_would_be_emulated(monkeypatch, recwarn, native, precision, device, warns):
    monkeypatch.setattr(cpu, "native_bf16", lambda: native)
    assert cpu.warn_if_bf16_emulated(precision, torch.device(device)) is warns
    messages = [str(w.message) for w in recwarn if w.category is RuntimeWarning]
    assert len(messages) == warns
    if warns:
        assert 'Use precision="fp32"' in messages[0] and "AVX512_BF16" in messages[0]


def test_train_warns_about_emulated_bf16(monkeypatch, tmp_path):
    """train() itself passes its precision and device on (one epoch of a tiny MLP on 20 random images)."""
    from vaeinfo.training.train import train

    monkeypatch.setattr(cpu, "native_bf16", lambda: False)
    config = {"model": {"architecture": "mlp", "input_shape": [1, 4, 4], "hidden": [8], "latent_dim": 2},
              "epochs": 1, "batch_size": 10, "precision": "bf16"}
    x = torch.rand(20, 1, 4, 4, generator=torch.Generator().manual_seed(0))
    with pytest.warns(RuntimeWarning, match="no native bfloat16"):
        train(config, x, cache_dir=tmp_path, progress=False)
