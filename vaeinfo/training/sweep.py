"""Sweeps and ensembles: train many configs with the cached, resumable :func:`~vaeinfo.training.train.train`,
in this process or on a Dask distributed cluster -- one code path from a laptop to a cluster.

::

    from vaeinfo.data.spec import DataSpec
    from vaeinfo.training.sweep import run_many

    configs = [{**base, "objective": {"beta": beta}, "seed": seed} for beta in (1, 4, 10) for seed in range(5)]
    runs = run_many(configs, DataSpec("mnist", "train"), validation=DataSpec("mnist", "validation"))
    model = runs[0].model()                      # loaded from the cache when asked for

Where the runs train (:func:`run_many`): ``workers=1`` in this process, one after the other, no cluster; ``client=``
an existing ``distributed.Client``; ``scheduler="tcp://host:8786"`` the cluster of a running ``dask scheduler``; by
default a ``LocalCluster`` of ``workers`` single-threaded worker processes (default: one per available CPU,
:func:`vaeinfo.io.available_cpus`), dashboard off, closed at the end.

What travels. A worker gets the config and a :class:`~vaeinfo.data.spec.DataSpec` and loads the data itself (once
per worker process and spec); it sends back a small :class:`RunResult` (config, cache key, run folder, history,
error), never the model: :meth:`RunResult.model` loads the weights from the cache folder when they are wanted.

The cache is the source of truth. Every run goes through ``train``: a config already trained (same config, data and
training code) is loaded, not retrained; an interrupted one resumes from its last epoch. ``cache_dir`` is resolved
here, in the calling process, and every worker writes there: on a cluster of several machines it must be a folder
of a shared file system, mounted at the same path everywhere. Checkpoints are replaced atomically (temp file +
rename), and ``train`` holds a lock on its run's key (``<cache>/locks/<key>.lock``, ``fcntl.flock``) while it trains:
a second worker given the same run (the same config twice, or two sweeps at once) waits and then loads the finished
model instead of training it again and writing its earlier epochs over the finished checkpoint. On a shared file
system without working ``flock`` (some NFS setups) the lock holds within one machine only.

Determinism. Each run trains with one torch thread, whatever the mode, so a run's weights do not depend on where
it ran: on the same CPU type a config gives bitwise the same weights serially and on a cluster (GPU kernels are
not bitwise reproducible; pass ``device="cpu"`` to a GPU machine's sweep to keep this).

Failures. A run that raises (a diverged loss, a bad config, missing data) or whose worker dies is a
:class:`RunResult` with ``error`` set; the other runs go on and are kept. At the end :func:`run_many` raises
:class:`SweepError` listing the failed configs and their errors (its ``results`` hold every run), unless
``on_error="keep"``, which returns the failures in the list. Running the same sweep again trains only what is
missing. A worker killed mid-run: the scheduler retries the run elsewhere (it resumes from its last checkpoint)
until the task has killed ``distributed.scheduler.allowed-failures`` workers (default 3); then it is a failure.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import torch

from ..checks import check_integer
from ..data.spec import DataSpec
from ..io import SCHEDULER_ADDRESS, available_cpus, progress_bar, resolve_cache_dir, torch_threads
from ..models.contract import VAEModel
from .checkpoint import CHECKPOINT, cache_key, load_model
from .train import train

ON_ERROR = ("raise", "keep")
CONNECT_TIMEOUT_S = 30  # seconds to reach a scheduler before giving up with a clear error
# A local cluster's scheduler still serves its health/metrics routes over HTTP (the dashboard is off): on a free
# port of localhost, instead of trying 8787 and warning "Port 8787 is already in use" beside another cluster.
LOCAL_HTTP = "127.0.0.1:0"
# Dask's statistical profiler samples every thread of a worker every 10 ms: with one worker per core it takes
# ~30 % of each run's CPU time (measured by benchmarks/sweep_scaling.py: 8 runs on 2 cores, 20.0 s with it,
# 14.3 s without, as fast as two plain processes). Our workers run it off; start your own workers the same way
# (README, "Sweeps on a cluster").
WORKER_CONFIG = {"distributed.worker.profile.enabled": False}


@dataclass
class RunResult:
    """One run of a sweep: small and picklable (no model); what workers send back.

    Attributes
    ----------
    config : the training config as given to :func:`run_many`.
    key : the run's cache key (None when it could not be computed: a bad config, data that did not load, a lost
        worker).
    path : the run folder ``<cache>/models/<key>/`` (None with ``key``).
    cached : True when the finished run was loaded from the cache and no training step ran.
    history : one dict per epoch (see :class:`~vaeinfo.training.train.TrainResult`); empty for a failure.
    error : None, or ``"<ExceptionType>: <message>"`` of the failure.
    epochs_trained : epochs trained by this call (0 when cached; fewer than ``epochs`` after a resume).
    seconds : wall time of the run on its worker (s), data loading included.
    source : the training data's :class:`~vaeinfo.data.DataSource` as a dict (``fallback`` says whether the digits
        stood in for MNIST), or None when it did not load.
    """

    config: dict
    key: str | None
    path: Path | None
    cached: bool = False
    history: list[dict] = field(default_factory=list)
    error: str | None = None
    epochs_trained: int = 0
    seconds: float = 0.0
    source: dict | None = None

    @property
    def ok(self) -> bool:
        """True when the run finished (trained or loaded from the cache)."""
        return self.error is None

    def model(self, device: str | torch.device = "cpu") -> VAEModel:
        """The trained model (eval mode), loaded from the run folder with
        :func:`~vaeinfo.training.checkpoint.load_model`; RuntimeError for a failed run."""
        if self.error is not None or self.path is None:
            raise RuntimeError(f"this run failed ({self.error}); it has no trained model. Fix its config or data and "
                               f"run the sweep again")
        checkpoint = Path(self.path) / CHECKPOINT
        if not checkpoint.is_file():
            raise FileNotFoundError(f"the run trained, but its checkpoint {checkpoint} is not found here: the cache "
                                    f"folder was deleted since, or the workers wrote to another disk (on a cluster of "
                                    f"several machines the cache folder must be a shared file system at the same path "
                                    f"everywhere: set VAEINFO_CACHE, or cache_dir=, to such a folder); run the sweep "
                                    f"again")
        return load_model(self.path, device=device)


class SweepError(RuntimeError):
    """Some runs of :func:`run_many` failed. ``results`` holds every :class:`RunResult` in the order of the
    configs (the finished ones are in the cache as well)."""

    def __init__(self, results: list[RunResult]):
        self.results = results
        failed = [(i, r) for i, r in enumerate(results) if not r.ok]
        lines = [f"  run {i}: config {_compact(r.config)}\n    {_first_line(r.error)}" for i, r in failed]
        super().__init__(
            f"{len(failed)} of {len(results)} runs failed; the other {len(results) - len(failed)} finished and are "
            f"in the cache:\n" + "\n".join(lines) + "\nFix the configs (or the data) and run the sweep again: it "
            "trains only what is missing. Pass on_error='keep' to get the failures back in the list instead.")


def run_many(configs: Sequence[dict], data_spec: DataSpec, *, client=None, scheduler: str | None = None,
             workers: int | None = None, cache_dir: str | os.PathLike | None = None,
             validation: DataSpec | None = None, on_error: str = "raise", device: str | None = None,
             progress: bool = True) -> list[RunResult]:
    """Train every config on the data of ``data_spec`` (or reuse it from the cache); results in the order of
    ``configs``.

    Parameters
    ----------
    configs : training configs of built-in architectures (:mod:`vaeinfo.training.train`).
    data_spec : the training data, loaded by each worker (:class:`~vaeinfo.data.spec.DataSpec`).
    client : a ``distributed.Client`` to run on (left open).
    scheduler : the address of a running Dask scheduler, e.g. ``"tcp://host:8786"`` (a client is opened and closed
        here).
    workers : without ``client`` and ``scheduler``: 1 trains in this process, one run after the other, without
        any cluster; N > 1 starts a ``LocalCluster`` of N single-threaded worker processes for this call; None
        (default) one per available CPU (:func:`vaeinfo.io.available_cpus`; in this process when that is 1).
    cache_dir : the training cache (:func:`vaeinfo.io.resolve_cache_dir`), resolved here; shared by all workers.
    validation : validation data evaluated after every epoch (a DataSpec), or None.
    on_error : ``"raise"`` (default): raise :class:`SweepError` at the end when a run failed; ``"keep"``: return
        the failures as results with ``error`` set.
    device : the training device of every run (``"cpu"``, ``"cuda"``); default CUDA where available, else the CPU.
    progress : a text progress bar on stderr: runs finished of the total, and how many are running and failed.

    Raises
    ------
    SweepError
        A run failed and ``on_error="raise"``; its ``results`` hold every run.
    ValueError
        Bad arguments: ``client`` with ``scheduler``, ``workers`` with either, ``workers < 1``, an unknown
        ``on_error``, a spec that is not a DataSpec, a config that is not a dict.
    ConnectionError
        No scheduler answered at ``scheduler`` within :data:`CONNECT_TIMEOUT_S` seconds.
    """
    configs = list(configs)
    _check_arguments(configs, data_spec, validation, client, scheduler, workers, on_error)
    cache = str(resolve_cache_dir(cache_dir))
    specs = (data_spec, validation)
    if not configs:
        return []
    local = workers or available_cpus()  # the size of a local cluster, when neither client nor scheduler is given
    with progress_bar(total=len(configs), desc="sweep", unit="run", enabled=progress) as bar:
        if client is None and scheduler is None and local == 1:
            results = _run_serial(configs, specs, cache, device, bar)
        else:
            with _client(client, scheduler, local) as active:
                results = _run_on_cluster(active, configs, specs, cache, device, bar)
    if on_error == "raise" and not all(r.ok for r in results):
        raise SweepError(results)
    return results


# ----------------------------------------------------------------------------- what a worker runs


def train_one(config: dict, specs: tuple[DataSpec, DataSpec | None], cache_dir: str,
              device: str | None = None) -> RunResult:
    """Train (or load from the cache) one config on the data of ``specs`` (training, validation or None); never
    raises for a failed run (a RunResult with ``error``). This is the task a worker runs.

    Sets torch's intra-op threads of this process to 1 and leaves them so: a worker process that runs several tasks
    at once (``dask worker --nthreads 4``) must not have one run raise the count under another. The in-process
    mode restores the caller's count after the sweep (:func:`_run_serial`)."""
    start = time.perf_counter()
    torch.set_num_threads(1)
    data = source = None
    try:
        data, validation = _load(specs)
        source = data.source.to_dict()
        run = train(config, data, validation, cache_dir=cache_dir, device=device, progress=False)
        return RunResult(config, run.key, run.path, run.cached, run.history, None, run.epochs_trained,
                         time.perf_counter() - start, source)
    except Exception as exc:  # noqa: BLE001 -- any failure of one run is reported with its config, not raised here
        key = _key_or_none(config, data, specs)
        path = None if key is None else Path(cache_dir) / "models" / key
        error = _describe(exc)
        return RunResult(config, key, path, error=error, seconds=time.perf_counter() - start, source=source)


@functools.lru_cache(maxsize=1)
def _load(specs: tuple[DataSpec, DataSpec | None]):
    """(training, validation or None) ImageData of ``specs``, loaded once per process for a sweep's runs and dropped
    when the sweep ends (:func:`_run_serial`, :func:`_release_data`)."""
    data_spec, validation = specs
    return data_spec.load(), None if validation is None else validation.load()


def _key_or_none(config: dict, data, specs: tuple[DataSpec, DataSpec | None]) -> str | None:
    """The cache key of a failed run when the config and data allow one (e.g. a diverged run), else None."""
    if data is None:
        return None
    try:
        return cache_key(config, data, _load(specs)[1])
    except Exception:  # noqa: BLE001 -- a bad config has no key; the run's error already says why
        return None


# ----------------------------------------------------------------------------- serial and cluster execution


def _run_serial(configs: list[dict], specs, cache: str, device: str | None, bar) -> list[RunResult]:
    """Every run in this process, in order; the caller's torch thread count is restored and the loaded data
    released afterwards."""
    results = []
    try:
        with torch_threads(None):  # train_one sets 1 thread; the caller's count comes back
            for config in configs:
                _show(bar, running=1, failed=sum(not r.ok for r in results))
                results.append(train_one(config, specs, cache, device))
                bar.update()
    finally:
        _load.cache_clear()
    _show(bar, running=0, failed=sum(not r.ok for r in results))
    return results


def _run_on_cluster(client, configs: list[dict], specs, cache: str, device: str | None, bar) -> list[RunResult]:
    """Submit every run to the cluster of ``client``; collect them as they finish (in any order)."""
    from distributed import as_completed

    tag = os.urandom(6).hex()  # task keys unique to this call, readable on a dashboard
    futures = [client.submit(train_one, config, specs, cache, device, pure=False, key=f"vaeinfo-run-{tag}-{i}")
               for i, config in enumerate(configs)]
    index = {future.key: i for i, future in enumerate(futures)}
    results: list[RunResult | None] = [None] * len(configs)
    failed = 0
    _show(bar, running=min(len(configs), _slots(client)), failed=0)
    for future in as_completed(futures, loop=client.loop):
        i = index[future.key]
        results[i] = _collect(future, configs[i])
        failed += not results[i].ok
        bar.update()
        _show(bar, running=min(len(configs) - bar.n, _slots(client)), failed=failed)
    _release_data(client)
    return results


def _release_data(client) -> None:
    """Make every worker drop the data it loaded for this sweep (:func:`_load`): a long-lived cluster then neither
    holds it in memory between sweeps (about 3 GB a worker for the full dSprites grid) nor hands a later sweep data
    that changed on disk since, e.g. the digits fallback after MNIST was downloaded."""
    try:
        client.run(_forget_data)
    except Exception:  # noqa: BLE001 -- a worker that died took its data with it; the results are already in
        pass


def _forget_data() -> None:
    """Run on each worker by :func:`_release_data`."""
    _load.cache_clear()


def _collect(future, config: dict) -> RunResult:
    """A finished future's RunResult; a run lost with its worker or cancelled (KilledWorker, CancelledError)
    becomes a failed RunResult naming that."""
    try:
        return future.result()
    except Exception as exc:  # noqa: BLE001 -- the task itself never raises, so this is the cluster losing it
        return RunResult(config, None, None, error=f"{_describe(exc)} (the run was lost by the cluster: a worker "
                                                   f"died or the cluster restarted; run the sweep again to finish it)")


def _slots(client) -> int:
    """Runs the cluster can train at once: its worker threads (0 while no worker is connected)."""
    try:
        return sum(client.nthreads().values())
    except Exception:  # noqa: BLE001 -- only the progress display needs it
        return 0


@contextmanager
def _client(client, scheduler: str | None, workers: int) -> Iterator[object]:
    """The client to submit to: the caller's (left open), one connected to ``scheduler``, or a fresh LocalCluster
    of single-threaded worker processes (closed on exit)."""
    if client is not None:
        yield client
        return
    from distributed import Client

    if scheduler is not None:
        try:
            connected = Client(scheduler, timeout=CONNECT_TIMEOUT_S)
        except (OSError, TimeoutError) as exc:
            raise ConnectionError(
                f"no Dask scheduler answered at {scheduler!r} within {CONNECT_TIMEOUT_S} s ({_describe(exc)}). Fix: "
                f"start one with `dask scheduler` and workers with `dask worker {scheduler} --nthreads 1`, or pass "
                f"scheduler=None for a local cluster") from None
        with connected:
            if not connected.nthreads():
                print(f"vaeinfo: no worker is connected to the scheduler at {scheduler} yet; the sweep waits for "
                      f"one (start it with `dask worker {scheduler} --nthreads 1`)", file=sys.stderr, flush=True)
            yield connected
        return
    with local_cluster(workers) as cluster, Client(cluster) as local:
        yield local


@contextmanager
def local_cluster(workers: int) -> Iterator[object]:
    """A ``distributed.LocalCluster`` of ``workers`` single-threaded worker processes as :func:`run_many` starts
    it: dashboard off, the workers' profiler off (:data:`WORKER_CONFIG`), closed on exit without the nanny's
    "Worker process still alive after 4.0 seconds, killing" warnings (a worker slow to exit after the sweep holds
    nothing: every result is in the cache)."""
    import dask
    from distributed import LocalCluster

    try:
        with dask.config.set(WORKER_CONFIG):
            cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None,
                                   scheduler_kwargs={"dashboard_address": LOCAL_HTTP})
    except RuntimeError as exc:
        raise RuntimeError(
            f"could not start a local Dask cluster of {workers} worker processes ({_describe(exc)}). In a script, "
            f"the code that starts it must run under `if __name__ == \"__main__\":` (the workers are new processes "
            f"that import the script); or pass workers=1 to train in this process") from exc
    try:
        yield cluster
    finally:
        nanny = logging.getLogger("distributed.nanny")
        nanny.addFilter(_still_alive)
        try:
            cluster.close()
        finally:
            nanny.removeFilter(_still_alive)


def _still_alive(record: logging.LogRecord) -> bool:
    """False for the nanny's warning that it kills a worker slow to exit (see :func:`local_cluster`)."""
    return not record.getMessage().startswith("Worker process still alive")


# ----------------------------------------------------------------------------- small helpers


def _check_arguments(configs: list, data_spec, validation, client, scheduler, workers, on_error: str) -> None:
    if on_error not in ON_ERROR:
        raise ValueError(f"on_error must be one of {ON_ERROR}, got {on_error!r}")
    if client is not None and scheduler is not None:
        raise ValueError("give client= or scheduler=, not both (a client is already connected to its scheduler)")
    if scheduler is not None and not (isinstance(scheduler, str) and SCHEDULER_ADDRESS.fullmatch(scheduler)):
        raise ValueError(f"scheduler= takes a Dask scheduler address such as tcp://HOST:8786, got {scheduler!r}")
    check_integer(workers, "workers", low=1, meaning="worker processes of the local cluster",
                  none="one per available CPU")
    if workers is not None:
        if client is not None or scheduler is not None:
            raise ValueError("workers= sizes a local cluster; with client= or scheduler= the cluster has its own "
                             "workers (start more with `dask worker`)")
    for name, spec in (("data_spec", data_spec), ("validation", validation)):
        if not isinstance(spec, DataSpec) and not (name == "validation" and spec is None):
            raise ValueError(f"{name} must be a vaeinfo.data.spec.DataSpec (workers load the data themselves), "
                             f"got {type(spec).__name__}")
    bad = [i for i, config in enumerate(configs) if not isinstance(config, dict)]
    if bad:
        raise ValueError(f"every config must be a dict (a training config); the ones at {bad} are not")


def _show(bar, *, running: int, failed: int) -> None:
    bar.set_postfix_str(f"running {running}, failed {failed}", refresh=False)


def _describe(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _first_line(text: str | None) -> str:
    return (text or "").strip().splitlines()[0] if (text or "").strip() else "unknown error"


def _compact(config: dict, limit: int = 300) -> str:
    """A config as one line of JSON, shortened to ``limit`` characters."""
    text = json.dumps(config, sort_keys=True, default=str)
    return text if len(text) <= limit else text[:limit - 3] + "..."
