"""vaeinfo.training.sweep (run_many on Dask distributed) and vaeinfo.data.spec (the data a worker loads).

Tiny mlp VAEs on a few hundred of scikit-learn's real 8x8 digits. The cluster tests share one 2-worker LocalCluster
of processes (not threads); the README's cluster commands (`dask scheduler`, `dask worker`) run once as
subprocesses on localhost. The serial runs (``workers=1``, in this process) are the reference the cluster must
match bitwise.
"""

from __future__ import annotations

import logging
import os
import pickle
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from vaeinfo.data import DataError
from vaeinfo.data.mnist import load_digits, load_mnist
from vaeinfo.data.spec import LOADERS, DataSpec, Loader
from vaeinfo.training import sweep
from vaeinfo.training.checkpoint import CHECKPOINT, FIX, cache_key, load_model, read_checkpoint
from vaeinfo.training.sweep import RunResult, SweepError, run_many
from vaeinfo.training.train import train

REPO = Path(__file__).resolve().parents[2]
DIGITS = DataSpec("digits", "train", n=300)
VALIDATION = DataSpec("digits", "validation", n=100)


def tiny(seed: int, epochs: int = 4, lr: float = 1e-3) -> dict:
    """A tiny mlp VAE on 8x8 digits: 6 batches of 50 per epoch."""
    return {"model": {"architecture": "mlp", "input_shape": [1, 8, 8], "latent_dim": 4, "hidden": [32]},
            "objective": {"name": "beta_vae", "beta": 2.0}, "optimizer": {"name": "adam", "lr": lr},
            "batch_size": 50, "epochs": epochs, "seed": seed}


DIVERGES = tiny(7, lr=1e6)  # the loss is inf within the first epoch: TrainingDivergedError


def losses(history: list[dict]) -> list[dict]:
    """A run's history without the wall times (everything else is a deterministic function of the config)."""
    return [{k: v for k, v in record.items() if k != "seconds"} for record in history]


def same_weights(a, b) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return list(sa) == list(sb) and all(torch.equal(sa[k], sb[k]) for k in sa)


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    """Never touch the user's cache: $VAEINFO_CACHE points into the test's temporary folder."""
    monkeypatch.setenv("VAEINFO_CACHE", str(tmp_path / "env-cache"))


@pytest.fixture(scope="module")
def serial(tmp_path_factory) -> list[RunResult]:
    """tiny(0) and tiny(1) trained in this process (workers=1), with validation: the reference weights."""
    cache = tmp_path_factory.mktemp("serial-cache")
    return run_many([tiny(0), tiny(1)], DIGITS, validation=VALIDATION, workers=1, cache_dir=cache, progress=False)


@pytest.fixture(scope="module")
def cluster():
    """A real 2-worker LocalCluster of single-threaded processes, shared by the cluster tests. A task that kills
    its worker fails at once (allowed-failures 0) instead of being retried, so that the kill test sees it."""
    import dask
    from distributed import Client

    with dask.config.set({"distributed.scheduler.allowed-failures": 0}):
        with sweep.local_cluster(2) as local, Client(local) as client:
            yield client


@pytest.fixture(scope="module")
def cluster_runs(cluster, tmp_path_factory) -> tuple[list[RunResult], Path]:
    """tiny(0), a diverging config and tiny(1) on the cluster (on_error="keep"), and their cache folder."""
    cache = tmp_path_factory.mktemp("cluster-cache")
    runs = run_many([tiny(0), DIVERGES, tiny(1)], DIGITS, validation=VALIDATION, client=cluster, cache_dir=cache,
                    on_error="keep", progress=False)
    return runs, cache


# ----------------------------------------------------------------------------- data specs


def test_spec_loads_the_mnist_splits_of_the_experiments(mnist_root):
    loaded = {}
    for split in ("train", "validation"):
        loaded[split] = DataSpec("mnist", split, mnist_root, n=500).load()
        direct = load_mnist(split, mnist_root, n=500)
        assert torch.equal(loaded[split].images, direct.images) and torch.equal(loaded[split].labels, direct.labels)
        assert loaded[split].source == direct.source and direct.source.n == 500 and not direct.source.fallback
    # validation = official train[:10000], train = official train[10000:]: different images
    assert not torch.equal(loaded["train"].images, loaded["validation"].images)


def test_spec_falls_back_to_the_digits_only_when_allowed(tmp_path, monkeypatch):
    empty = tmp_path / "empty"
    empty.mkdir()
    data = DataSpec("mnist", "validation", empty, allow_fallback=True).load()
    assert data.source.fallback and data.source.name == "digits" and tuple(data.images.shape) == (300, 1, 8, 8)
    assert torch.equal(data.images, load_digits("validation").images)
    with pytest.raises(DataError, match="MNIST not found"):
        DataSpec("mnist", "train", empty).load()
    monkeypatch.chdir(tmp_path)
    assert DataSpec("mnist", data_dir="empty").data_dir == str(empty)  # made absolute where it is written


def test_spec_is_small_picklable_and_checked():
    spec = DataSpec("digits", "validation", n=10)
    again = pickle.loads(pickle.dumps(spec))
    assert again == spec and hash(again) == hash(spec) and len(pickle.dumps(spec)) < 300
    assert torch.equal(again.load().images, load_digits("validation", n=10).images)
    assert set(LOADERS) >= {"mnist", "digits"}
    with pytest.raises(ValueError, match=r"unknown data set 'mnits' in DataSpec; known: \['digits', 'dsprites', "
                                         r"'mnist'"):
        DataSpec("mnits")
    with pytest.raises(ValueError, match="n must be a positive number"):
        DataSpec("digits", n=0)
    numpy_n = DataSpec("digits", "validation", n=np.int64(10))  # e.g. from np.arange over subset sizes
    assert numpy_n == spec and type(numpy_n.n) is int
    with pytest.raises(ValueError, match="allow_fallback applies to 'mnist' only"):
        DataSpec("digits", allow_fallback=True)
    with pytest.raises(ValueError, match="DataSpec allow_fallback must be True or False, got 'no'"):  # was truthy
        DataSpec("mnist", allow_fallback="no")
    with pytest.raises(ValueError, match="unknown split 'dev'"):
        DataSpec("digits", "dev").load()
    with pytest.raises(ValueError, match=r"options \['seed'\] are not options of the 'digits' loader; it takes none"):
        DataSpec("digits", options={"seed": 1})


def test_a_registered_loader_gets_the_options_of_its_spec(monkeypatch):
    def first_k(spec: DataSpec):
        return load_digits(spec.split, n=spec.kwargs["k"])

    monkeypatch.setitem(LOADERS, "first_k", Loader(first_k, options=("k", "unused")))
    spec = DataSpec("first_k", "test", options={"k": 5})
    same = DataSpec("first_k", "test", options={"k": 5})
    assert spec.options == (("k", 5),) and spec.kwargs == {"k": 5} and spec == same and hash(spec) == hash(same)
    assert torch.equal(spec.load().images, load_digits("test", n=5).images)
    with pytest.raises(ValueError, match=r"options \['j'\] are not options of the 'first_k' loader; it takes \['k', "):
        DataSpec("first_k", options={"j": 1})
    with pytest.raises(ValueError, match="option values must be plain values"):
        DataSpec("first_k", options={"k": [5]})
    with pytest.raises(ValueError, match="options must be a mapping"):
        DataSpec("first_k", options=["k"])


def test_a_relative_cache_dir_option_is_made_absolute_like_data_dir(tmp_path, monkeypatch):
    """A worker runs in another folder: a relative cache_dir built a second pixel cache there."""
    monkeypatch.chdir(tmp_path)
    spec = DataSpec("dsprites", data_dir="rel-data", options={"cache_dir": "rel-cache", "seed": 3})
    assert spec.data_dir == str(tmp_path / "rel-data")
    assert spec.kwargs == {"cache_dir": str(tmp_path / "rel-cache"), "seed": 3}
    assert DataSpec("dsprites", options={"cache_dir": None}).kwargs == {"cache_dir": None}


# ----------------------------------------------------------------------------- in-process sweeps (workers=1)


def test_serial_sweep_equals_train_in_order_and_reuses_the_cache(serial, tmp_path):
    data, val = DIGITS.load(), VALIDATION.load()
    for run, seed in zip(serial, (0, 1)):
        assert run.ok and not run.cached and run.epochs_trained == 4 and len(run.history) == 4
        assert run.key == cache_key(tiny(seed), data, val) and run.path.name == run.key
        assert run.source["name"] == "digits" and run.source["n"] == 300
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(1)  # a sweep trains every run with one thread
        direct = train(tiny(1), data, val, cache_dir=tmp_path, progress=False)
    finally:
        torch.set_num_threads(threads)
    assert same_weights(serial[1].model(), direct.model) and losses(serial[1].history) == losses(direct.history)
    assert not same_weights(serial[0].model(), direct.model)
    again = run_many([tiny(1), tiny(0)], DIGITS, validation=VALIDATION, workers=1, cache_dir=serial[0].path.parents[1],
                     progress=False)
    assert [r.key for r in again] == [serial[1].key, serial[0].key]
    assert all(r.cached and r.epochs_trained == 0 for r in again) and again[0].history == serial[1].history


def test_failures_are_listed_with_their_configs_and_the_rest_kept(tmp_path, capsys, three_threads):
    bad = {**tiny(3), "model": {**tiny(3)["model"], "latent_dim": 0}}
    runs = run_many([tiny(0), DIVERGES, bad], DIGITS, workers=1, cache_dir=tmp_path, on_error="keep")
    assert torch.get_num_threads() == three_threads  # the runs trained with one thread; the caller's count restored
    assert [r.ok for r in runs] == [True, False, False]
    assert runs[1].error.startswith("TrainingDivergedError: training diverged") and runs[1].config == DIVERGES
    assert runs[1].key == cache_key(DIVERGES, DIGITS.load()) and runs[1].history == []
    assert runs[2].error.startswith("ValueError:") and "latent_dim" in runs[2].error and runs[2].key is None
    with pytest.raises(RuntimeError, match="this run failed"):
        runs[1].model()
    bar = capsys.readouterr().err.replace("\r", "\n").splitlines()
    assert any("vaeinfo: sweep" in line and "3/3" in line and "running 0, failed 2" in line for line in bar), bar

    with pytest.raises(SweepError) as raised:
        run_many([tiny(0), DIVERGES, bad], DIGITS, workers=1, cache_dir=tmp_path, progress=False)
    message = str(raised.value)
    assert message.startswith("2 of 3 runs failed; the other 1 finished and are in the cache:")
    assert '"lr": 1000000.0' in message and "run 1: config" in message and "run 2: config" in message
    assert "TrainingDivergedError" in message and "latent_dim" in message and "on_error='keep'" in message
    assert raised.value.results[0].ok and raised.value.results[0].cached  # the finished run was not retrained


def test_a_corrupt_checkpoint_in_a_sweep_says_the_fix_a_sweep_can_follow(tmp_path):
    """run_many has no force=: the error's fix (checkpoint.FIX) names deleting the run's folder, after which the
    same sweep retrains that run."""
    run = train(tiny(0, epochs=1), DIGITS.load(), cache_dir=tmp_path, progress=False)
    (run.path / CHECKPOINT).write_bytes(b"not a checkpoint")
    [failed] = run_many([tiny(0, epochs=1)], DIGITS, workers=1, cache_dir=tmp_path, on_error="keep", progress=False)
    assert failed.error.startswith("CheckpointError:") and "truncated or corrupt" in failed.error
    assert failed.error.endswith(FIX) and "delete the run's folder" in FIX and failed.path == run.path
    shutil.rmtree(failed.path)
    [again] = run_many([tiny(0, epochs=1)], DIGITS, workers=1, cache_dir=tmp_path, progress=False)
    assert again.ok and not again.cached and again.key == run.key


BAD_WORKERS = "workers must be an integer >= 1 (worker processes of the local cluster) or None (one per available CPU)"


def test_a_run_whose_checkpoint_is_not_on_this_disk_names_the_shared_cache_fix(tmp_path):
    """Workers on other machines with their own cache folders: the model was only 'no checkpoint at ...'."""
    run = RunResult({"epochs": 1}, "mlp-0", tmp_path / "models" / "mlp-0", False, [], None, 1, 1.0, None)
    with pytest.raises(FileNotFoundError, match=r"not found here: the cache folder was deleted since, or the workers "
                                                r"wrote to another disk .*shared file system.*set VAEINFO_CACHE"):
        run.model()


@pytest.mark.parametrize("kwargs, message", [
    ({"client": object(), "scheduler": "tcp://h:1"}, "give client= or scheduler=, not both"),
    ({"workers": 0}, BAD_WORKERS),
    ({"workers": True}, BAD_WORKERS),
    ({"workers": 2, "scheduler": "tcp://h:1"}, "workers= sizes a local cluster"),
    ({"on_error": "ignore"}, "on_error must be one of"),
    ({"validation": "validation"}, "validation must be a vaeinfo.data.spec.DataSpec"),
    ({"scheduler": ""}, "scheduler= takes a Dask scheduler address such as tcp://HOST:8786, got ''"),
    ({"scheduler": "127.0.0.1:notaport"}, "such as tcp://HOST:8786, got '127.0.0.1:notaport'"),
    ({"scheduler": 8786}, "such as tcp://HOST:8786, got 8786"),
])
def test_bad_arguments_are_one_clear_error_before_anything_runs(kwargs, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        run_many([tiny(0)], DIGITS, **kwargs)


def test_bad_specs_and_configs_are_errors_and_no_configs_is_no_work():
    with pytest.raises(ValueError, match="data_spec must be a vaeinfo.data.spec.DataSpec .* got ImageData"):
        run_many([tiny(0)], load_digits("train", n=10), workers=1)
    with pytest.raises(ValueError, match=r"the ones at \[1\] are not"):
        run_many([tiny(0), "beta=4"], DIGITS, workers=1)
    assert run_many([], DIGITS) == []  # nothing to train: no cluster is started


def test_the_default_is_one_single_threaded_worker_process_per_cpu(monkeypatch, tmp_path):
    import distributed

    made = []

    def local_cluster(**kwargs):  # records how run_many starts its cluster, and fails as a script without a guard
        made.append(kwargs)
        raise RuntimeError("Nanny failed to start.")

    monkeypatch.setattr(distributed, "LocalCluster", local_cluster)
    monkeypatch.setattr(sweep, "available_cpus", lambda: 3)
    expected = (r"could not start a local Dask cluster of 3 worker processes \(RuntimeError: Nanny failed to start.\)"
                r"\. In a script, .* `if __name__ == \"__main__\":`")
    with pytest.raises(RuntimeError, match=expected):
        run_many([tiny(0)], DIGITS, cache_dir=tmp_path, progress=False)
    assert made == [{"n_workers": 3, "threads_per_worker": 1, "processes": True, "dashboard_address": None,
                     "scheduler_kwargs": {"dashboard_address": "127.0.0.1:0"}}]
    monkeypatch.setattr(sweep, "available_cpus", lambda: 1)  # one CPU: in this process, no cluster
    assert run_many([tiny(0)], DIGITS, cache_dir=tmp_path, progress=False)[0].ok and len(made) == 1


def test_an_unreachable_scheduler_is_a_clear_error(monkeypatch):
    monkeypatch.setattr(sweep, "CONNECT_TIMEOUT_S", 1)
    with pytest.raises(ConnectionError, match=r"no Dask scheduler answered at 'tcp://127.0.0.1:\d+' within 1 s"):
        run_many([tiny(0)], DIGITS, scheduler=f"tcp://127.0.0.1:{free_port()}", progress=False)


# ----------------------------------------------------------------------------- a 2-worker LocalCluster


def test_the_local_workers_run_without_dasks_profiler_and_close_quietly(cluster, caplog):
    import dask

    assert set(cluster.run(lambda: dask.config.get("distributed.worker.profile.enabled")).values()) == {False}
    nanny = logging.getLogger("distributed.nanny")
    with caplog.at_level(logging.WARNING, logger="distributed.nanny"):
        nanny.addFilter(sweep._still_alive)
        try:
            nanny.warning("Worker process still alive after 4.0 seconds, killing")
            nanny.warning("Restarting worker")
        finally:
            nanny.removeFilter(sweep._still_alive)
    assert [r.getMessage() for r in caplog.records] == ["Restarting worker"]


def test_cluster_runs_equal_serial_ones_bitwise_and_a_failure_keeps_the_rest(cluster_runs, serial):
    runs, cache = cluster_runs
    assert [r.ok for r in runs] == [True, False, True]
    assert runs[1].error.startswith("TrainingDivergedError:") and runs[1].config == DIVERGES
    for run, reference in zip((runs[0], runs[2]), serial):
        assert run.key == reference.key and run.path == cache / "models" / run.key
        assert same_weights(run.model(), reference.model()) and losses(run.history) == losses(reference.history)


def test_a_second_cluster_call_loads_every_finished_run_from_the_cache(cluster, cluster_runs):
    runs, cache = cluster_runs
    again = run_many([tiny(1), tiny(0)], DIGITS, validation=VALIDATION, client=cluster, cache_dir=cache,
                     progress=False)
    assert [r.key for r in again] == [runs[2].key, runs[0].key]
    assert all(r.cached and r.epochs_trained == 0 for r in again)


def test_the_workers_drop_a_sweeps_data_when_it_ends(cluster, cluster_runs):
    """A long-lived cluster must not keep the data (memory; files changed on disk since) for the next sweep."""
    run_many([tiny(0)], DIGITS, validation=VALIDATION, client=cluster, cache_dir=cluster_runs[1], progress=False)
    assert list(cluster.run(lambda: sweep._load.cache_info().currsize).values()) == [0, 0]


def test_two_workers_given_one_config_train_it_once_and_leave_one_complete_checkpoint(cluster, serial, tmp_path):
    """Without the run lock both trained, and the later one wrote its early epochs over the finished checkpoint
    (a worker dying then left the finished run at epoch 1)."""
    runs = run_many([tiny(0), tiny(0)], DIGITS, validation=VALIDATION, client=cluster, cache_dir=tmp_path,
                    progress=False)
    assert runs[0].key == runs[1].key == serial[0].key
    assert sorted((r.cached, r.epochs_trained) for r in runs) == [(False, 4), (True, 0)]  # the second waited
    assert [p.name for p in (tmp_path / "models").iterdir()] == [serial[0].key]
    assert [p.name for p in (tmp_path / "locks").iterdir()] == [f"{serial[0].key}.lock"]
    assert sorted(p.name for p in runs[0].path.iterdir()) == ["checkpoint.pt", "config.json"]  # no temp file left
    assert read_checkpoint(runs[0].path / CHECKPOINT)["epoch"] == 4
    assert same_weights(load_model(serial[0].key, cache_dir=tmp_path), serial[0].model())


def test_a_killed_worker_loses_nothing_finished_and_a_rerun_completes_the_sweep(cluster, tmp_path):
    quick, slow = tiny(2, epochs=2), tiny(3, epochs=300)
    data = DIGITS.load()
    paths = [tmp_path / "models" / cache_key(c, data) / CHECKPOINT for c in (quick, slow)]
    killed: list[int] = []

    def kill_the_slow_runs_worker() -> None:
        """Once the quick run has finished and the slow one has checkpointed an epoch: SIGKILL the worker
        process that trains the slow one. The quick run's last checkpoint is written a moment before its task
        leaves the scheduler's books, so the watcher waits until exactly one worker is busy."""
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not killed:
            if paths[0].is_file() and paths[1].is_file() and read_checkpoint(paths[0])["epoch"] == 2:
                busy = [address for address, keys in cluster.processing().items() if keys]
                if len(busy) == 1:
                    pids = cluster.run(os.getpid, workers=busy)
                    for pid in pids.values():
                        os.kill(pid, signal.SIGKILL)
                    killed.extend(pids.values())
            time.sleep(0.02)

    watcher = threading.Thread(target=kill_the_slow_runs_worker, daemon=True)
    watcher.start()
    runs = run_many([quick, slow], DIGITS, client=cluster, cache_dir=tmp_path, on_error="keep", progress=False)
    watcher.join(timeout=10)
    assert len(killed) == 1, "the slow run's worker was never killed"
    assert runs[0].ok and runs[0].epochs_trained == 2
    assert not runs[1].ok and "KilledWorker" in runs[1].error and "run the sweep again" in runs[1].error
    assert runs[1].config == slow
    stopped_at = read_checkpoint(paths[1])["epoch"]
    assert 1 <= stopped_at < 300  # the killed run's finished epochs stay in the cache

    rerun = run_many([quick, slow], DIGITS, client=cluster, cache_dir=tmp_path, progress=False)
    assert rerun[0].cached and rerun[0].epochs_trained == 0
    assert rerun[1].ok and not rerun[1].cached and rerun[1].epochs_trained == 300 - stopped_at  # resumed
    assert len(rerun[1].history) == 300 and read_checkpoint(paths[1])["epoch"] == 300


# ----------------------------------------------------------------------------- the README's cluster commands


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def readme_commands() -> list[str]:
    """The `dask scheduler`, `dask worker` and `export` lines of the README's section "Sweeps on a cluster (Dask)"."""
    text = (REPO / "README.md").read_text(encoding="utf-8")
    section = text.split("## Sweeps on a cluster (Dask)", 1)[1].split("\n## ", 1)[0]
    lines = [line.split("#", 1)[0].strip() for line in section.splitlines()]
    return [line for line in lines if line.startswith(("dask scheduler", "dask worker", "export "))]


def test_the_readme_cluster_commands_run_a_sweep_on_localhost(serial, tmp_path):
    from distributed import Client

    commands = readme_commands()
    exports = dict(c.split()[1].split("=", 1) for c in commands if c.startswith("export "))
    assert exports == {"DASK_DISTRIBUTED__WORKER__PROFILE__ENABLED": "False",
                       "VAEINFO_CACHE": "/shared/vaeinfo-cache"}
    exports["VAEINFO_CACHE"] = str(tmp_path / "cache")  # the shared folder: here one disk
    commands = [c for c in commands if not c.startswith("export ")]
    assert [c.split()[:2] for c in commands] == [["dask", "scheduler"], ["dask", "worker"]], commands
    port = free_port()
    dask = str(Path(sys.executable).parent / "dask")
    local = [c.replace("tcp://HOST:8786", f"tcp://127.0.0.1:{port}").replace("--port 8786", f"--port {port}")
             .replace("--nworkers -1", "--nworkers 1")  # one worker process is enough here (each costs ~5 s CPU)
             for c in commands]
    extra = (["--host", "127.0.0.1", "--no-dashboard"], ["--no-dashboard", "--local-directory", str(tmp_path)])
    processes = []
    try:
        for command, more in zip(local, extra):
            processes.append(subprocess.Popen([dask, *command.split()[1:], *more], stdout=subprocess.DEVNULL,
                                              stderr=subprocess.DEVNULL, start_new_session=True,
                                              env={**os.environ, **exports}))
        runs = run_many([tiny(0), tiny(1)], DIGITS, validation=VALIDATION, scheduler=f"tcp://127.0.0.1:{port}",
                        cache_dir=exports["VAEINFO_CACHE"], progress=False)
        with Client(f"tcp://127.0.0.1:{port}") as client:  # the exported setting reached the worker
            profiling = client.run(lambda: __import__("dask").config.get("distributed.worker.profile.enabled"))
    finally:
        for process in reversed(processes):
            os.killpg(process.pid, signal.SIGTERM)
        for process in reversed(processes):
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
    assert list(profiling.values()) == [False]
    for run, reference in zip(runs, serial):
        assert run.ok and run.key == reference.key and same_weights(run.model(), reference.model())


def test_a_dsprites_spec_loads_what_load_dsprites_gives():
    from vaeinfo.data.dsprites import load_dsprites

    spec = DataSpec("dsprites", n=50, options={"seed": 3, "uint8": True})
    data = spec.load()
    expected = load_dsprites(50, seed=3, uint8=True, progress=False)
    assert np.array_equal(np.asarray(data.images), np.asarray(expected.images))
    assert data.images.shape == (50, 1, 64, 64)
    with pytest.raises(ValueError, match="dSprites has one split, 'train'"):
        DataSpec("dsprites", "validation", n=5).load()
