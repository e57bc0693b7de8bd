"""Process settings for training and encoding on the CPU: torch's thread count and how glibc recycles freed memory;
and whether the CPU computes bfloat16 natively.

The malloc setting changes no number that training computes (same seed, same weights, bit for bit). The thread count
can: torch splits reductions by thread, so a gradient computed on 1 thread differs in its last bits from one on 2
(2e-6 at most in one mnist_conv step), and :func:`configure_threads` lowers torch's default to the CPUs this
process may use (:func:`vaeinfo.io.available_cpus`). Same seed and same thread count give the same weights; the
cache key does not hold the thread count, so a model trained (or resumed) under another count is read as the same
model. :func:`configure_cpu` applies both; :func:`vaeinfo.training.train.train` and
:func:`vaeinfo.training.encode.encode` call it, and so does ``benchmarks/train_throughput.py``.
:func:`warn_if_bf16_emulated` warns when ``precision="bf16"`` would run emulated (many times slower than FP32).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import os
import warnings

import torch

from ..io import available_cpus

M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3  # glibc's mallopt parameters (malloc.h)
MMAP_THRESHOLD_BYTES = 64 * 2**20  # blocks below this come from the heap and are reused ...
TRIM_THRESHOLD_BYTES = 256 * 2**20  # ... and up to this much free memory at the heap's top stays with the process
USER_MALLOC_SETTINGS = ("GLIBC_TUNABLES", "MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_")
OPT_OUT = "VAEINFO_SYSTEM_MALLOC"  # set to 1: leave malloc as it is


def configure_cpu() -> int:
    """:func:`configure_threads` and :func:`retain_freed_memory`; returns the thread count in use."""
    retain_freed_memory()
    return configure_threads()


def configure_threads() -> int:
    """Cap torch's intra-op threads at :func:`available_cpus` (containers often report the host's cores).

    Never raises the count, and leaves it alone when ``OMP_NUM_THREADS`` or ``MKL_NUM_THREADS`` is set
    (the user's choice). Returns the thread count in use.
    """
    if not any(os.environ.get(v) for v in ("OMP_NUM_THREADS", "MKL_NUM_THREADS")):
        n = available_cpus()
        if torch.get_num_threads() > n:
            torch.set_num_threads(n)
    return torch.get_num_threads()


@functools.cache
def retain_freed_memory() -> bool:
    """Let glibc's malloc keep freed blocks of up to 64 MiB for reuse instead of handing them back to the kernel.

    A training step allocates and frees its activations and gradients, a few MB each. With glibc's defaults such
    blocks are mapped from the kernel when allocated and unmapped (or trimmed off the heap) when freed, so every
    step page-faults them in again, zero-filled: about 3,500 page faults (14 MB) per step of the paper's MNIST
    model at batch 100, a fifth of its time on 2 cores (``benchmarks/train_throughput.py``). This sets
    ``M_MMAP_THRESHOLD`` to 64 MiB and ``M_TRIM_THRESHOLD`` to 256 MiB (process-wide, once): at most 256 MiB of
    freed memory stays with the process, and blocks of 64 MiB and more (data sets) are still mapped and unmapped.

    Returns whether it applied: False off glibc (macOS, musl), when the user configured malloc through
    ``GLIBC_TUNABLES`` / ``MALLOC_MMAP_THRESHOLD_`` / ``MALLOC_TRIM_THRESHOLD_``, or when ``VAEINFO_SYSTEM_MALLOC=1``.
    """
    if os.environ.get(OPT_OUT, "") not in ("", "0") or any(os.environ.get(v) for v in USER_MALLOC_SETTINGS):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
        libc.gnu_get_libc_version  # glibc only: musl has mallopt too, with other parameters
    except (OSError, AttributeError):
        return False
    return bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES)) and bool(mallopt(M_TRIM_THRESHOLD,
                                                                                  TRIM_THRESHOLD_BYTES))


def native_bf16() -> bool | None:
    """Whether this CPU computes bfloat16 products in hardware: AVX512_BF16 or AMX tiles (Intel Cooper Lake and
    Sapphire Rapids on, AMD Zen 4 on). None when this torch cannot tell (its private ``torch.cpu`` probes are gone).

    Without either, oneDNN does not take bfloat16 and torch's own kernels convert every operand: ``precision="bf16"``
    then trains mnist_conv about 13x slower than FP32 (measured on 2 cores of an AMD EPYC Zen 3, AVX2 only).
    """
    probes = [getattr(torch.cpu, name, None) for name in ("_is_avx512_bf16_supported", "_is_amx_tile_supported")]
    if not all(probes):
        return None
    return any(probe() for probe in probes)


def warn_if_bf16_emulated(precision: str, device: torch.device) -> bool:
    """Warn (RuntimeWarning) when ``precision`` is ``"bf16"`` on a CPU without native bfloat16 (:func:`native_bf16`);
    returns whether it warned. The results are still correct, only slow: the fix is ``precision="fp32"``."""
    if precision != "bf16" or device.type != "cpu" or native_bf16() is not False:
        return False
    warnings.warn('precision="bf16": this CPU has no native bfloat16 (neither AVX512_BF16 nor AMX), so every '
                  "bfloat16 product is emulated and training runs about 13x slower than in FP32 (the results are "
                  'correct). Use precision="fp32" (the default) on this machine.', RuntimeWarning, stacklevel=3)
    return True
