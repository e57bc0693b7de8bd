"""benchmarks/train_throughput.py's reckoning of the CPU's peak FP32 rate (the rest is measurement)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

PATH = Path(__file__).resolve().parents[1] / "benchmarks" / "train_throughput.py"


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("train_throughput", PATH)
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("train_throughput", module)
    spec.loader.exec_module(module)
    return module


def cpuinfo(cores: list[tuple[int, int]]) -> str:
    """/proc/cpuinfo text with one block per logical CPU at the given (physical id, core id)."""
    return "\n\n".join(f"processor\t: {i}\nvendor_id\t: AuthenticAMD\ncpu family\t: 25\nphysical id\t: {p}\n"
                       f"core id\t\t: {c}\ncpu MHz\t\t: 2600.000\nflags\t\t: fpu avx2 fma" for i, (p, c) in
                       enumerate(cores)) + "\n"


def test_smt_siblings_count_as_one_core(bench):
    smt = cpuinfo([(0, 0), (0, 1), (0, 0), (0, 1)])  # CPUs 2 and 3 are the second threads of cores 0 and 1
    assert bench.physical_cores(smt, {0, 1, 2, 3}) == 2
    assert bench.physical_cores(smt, {0, 2}) == 1  # two threads of one core
    assert bench.physical_cores(smt, {0, 1}) == 2
    two_sockets = cpuinfo([(0, 0), (1, 0)])  # the same core id on two sockets: two cores
    assert bench.physical_cores(two_sockets, {0, 1}) == 2
    assert bench.physical_cores("processor\t: 0\n\nprocessor\t: 1\n", {0, 1}) == 2  # no topology fields: CPUs
    assert [b["processor"] for b in bench.processors(smt)] == ["0", "1", "2", "3"]


def test_peak_counts_cores_not_threads(bench, monkeypatch):
    monkeypatch.setattr(bench, "_cpuinfo_text", lambda: cpuinfo([(0, 0), (0, 0)]))  # 2 threads of one core
    peak, how = bench.peak_gflops(2, {0, 1})
    assert peak == pytest.approx(1 * 2.6 * 32) and how.startswith("1 cores (2 CPUs) x 2.60 GHz x 32")
    monkeypatch.setattr(bench, "_cpuinfo_text", lambda: cpuinfo([(0, c) for c in range(8)]))
    assert bench.peak_gflops(2, set(range(8)))[0] == pytest.approx(2 * 2.6 * 32)  # a quota of 2 CPUs caps it
