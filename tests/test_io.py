"""vaeinfo.io: atomic writes keep the old file on failure and give normal permissions; progress bars."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

from vaeinfo import io as vio
from vaeinfo.io import (
    allowed_cpus,
    atomic_open,
    atomic_write_json,
    atomic_write_text,
    available_cpus,
    file_lock,
    progress_bar,
)


def test_failed_write_leaves_the_old_file_and_no_temporary(tmp_path):
    target = tmp_path / "results.json"
    target.write_text("old")
    with pytest.raises(RuntimeError, match="disk on fire"):
        with atomic_open(target, "w") as fh:
            fh.write("half of the new")
            raise RuntimeError("disk on fire")
    assert target.read_text() == "old"
    assert os.listdir(tmp_path) == ["results.json"]


def test_new_file_gets_umask_permissions_and_existing_file_keeps_its_mode(tmp_path):
    old = os.umask(0o022)
    try:
        fresh = atomic_write_text(tmp_path / "sub" / "new.txt", "x")
        assert fresh.stat().st_mode & 0o777 == 0o644
        kept = tmp_path / "kept.txt"
        kept.write_text("y")
        kept.chmod(0o640)
        atomic_write_text(kept, "z")
        assert kept.stat().st_mode & 0o777 == 0o640 and kept.read_text() == "z"
    finally:
        os.umask(old)


def test_umask_027_is_read_without_being_changed(tmp_path):
    from vaeinfo.io import _umask

    old = os.umask(0o027)
    try:
        assert _umask() == 0o027 and atomic_write_text(tmp_path / "n.txt", "x").stat().st_mode & 0o777 == 0o640
        assert os.umask(0o027) == 0o027  # still set
    finally:
        os.umask(old)


def test_a_symlinked_target_is_written_through_and_the_link_kept(tmp_path):
    real = tmp_path / "store" / "results.json"
    real.parent.mkdir()
    real.write_text("old")
    link = tmp_path / "results.json"
    link.symlink_to(real)
    atomic_write_text(link, "new")
    assert link.is_symlink() and real.read_text() == "new" and link.read_text() == "new"
    assert sorted(os.listdir(tmp_path / "store")) == ["results.json"]  # no temporary left beside the real file


def test_json_converts_numpy_and_paths(tmp_path):
    path = atomic_write_json(tmp_path / "r.json", {"b": np.arange(3), "a": np.float64(0.5), "p": tmp_path})
    assert json.loads(path.read_text()) == {"a": 0.5, "b": [0, 1, 2], "p": str(tmp_path)}


def test_json_writes_non_finite_numbers_as_null(tmp_path):
    """Standard JSON has no NaN or Infinity: a strict parser must read the file, with null in their place."""
    import torch

    record = {"nan": float("nan"), "inf": [np.inf, -np.inf, 1.5], "f32": np.float32("nan"),
              "array": np.array([[0.25, np.nan]]), "tensor": torch.tensor([np.inf, 2.0]), "n": np.int64(3),
              "flag": np.bool_(True), "nested": ({"x": (np.nan, 1)},)}
    text = atomic_write_json(tmp_path / "r.json", record).read_text()

    def refuse(constant):
        raise AssertionError(f"non-standard JSON constant {constant}")

    assert json.loads(text, parse_constant=refuse) == {
        "nan": None, "inf": [None, None, 1.5], "f32": None, "array": [[0.25, None]], "tensor": [None, 2.0], "n": 3,
        "flag": True, "nested": [{"x": [None, 1]}]}


def test_bad_mode_and_unserialisable_object(tmp_path):
    with pytest.raises(ValueError, match="mode must be"):
        with atomic_open(tmp_path / "x", "a"):
            pass
    with pytest.raises(TypeError, match="not JSON serialisable"):
        atomic_write_json(tmp_path / "x.json", {"x": object()})
    assert not (tmp_path / "x.json").exists()


def test_progress_bar_is_plain_text_on_stderr_or_silent(capsys):
    assert list(progress_bar(range(3), desc="counting", unit="step")) == [0, 1, 2]
    err = capsys.readouterr().err
    assert "vaeinfo: counting" in err and "3/3" in err and "step" in err
    assert list(progress_bar(range(3), desc="counting", unit="step", enabled=False)) == [0, 1, 2]
    assert capsys.readouterr().err == ""


def test_display_path_writes_no_local_folder_where_it_can(tmp_path, monkeypatch):
    from vaeinfo.io import display_path

    data, cache, repo = tmp_path / "data", tmp_path / "cache", tmp_path / "repo"
    (repo / "notebooks").mkdir(parents=True)
    monkeypatch.setenv("VAEINFO_DATA", str(data))
    monkeypatch.setenv("VAEINFO_CACHE", str(cache))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.chdir(repo / "notebooks")
    assert display_path(data / "celeba") == "$VAEINFO_DATA/celeba"
    assert display_path(data) == "$VAEINFO_DATA"
    assert display_path(cache / "models" / "k") == "$VAEINFO_CACHE/models/k"
    monkeypatch.setenv("VAEINFO_DEAP", str(tmp_path / "srv" / "deap"))  # a licensed copy outside home and repo
    licensed = tmp_path / "srv" / "deap" / "data_original" / "s01.bdf"
    assert display_path(licensed) == "$VAEINFO_DEAP/data_original/s01.bdf"
    assert display_path(repo / "notebooks" / "a.png") == "a.png"
    assert display_path(repo / "notebooks") == "."
    assert display_path(repo / "figures" / "x.png") == "../figures/x.png"
    assert display_path(tmp_path / "home" / ".cache" / "vaeinfo") == "~/.cache/vaeinfo"
    assert display_path("/elsewhere/file") == "/elsewhere/file"  # nothing to shorten it to: as it is
    monkeypatch.delenv("VAEINFO_DATA")
    assert display_path(data / "celeba") == str(data / "celeba")  # tmp_path is beside repo, not under its parent


def test_display_path_matches_a_symlinked_or_dotted_variable(tmp_path, monkeypatch):
    """$VAEINFO_CACHE a symlink and $VAEINFO_DATA a relative path with '..': the loaders pass resolved paths, which
    must still print as "$VAR/..." (they printed this machine's absolute folders)."""
    from vaeinfo.io import display_path

    real_cache, real_data, work = tmp_path / "real_cache", tmp_path / "shared" / "data", tmp_path / "repo" / "nb"
    for folder in (real_cache, real_data, work):
        folder.mkdir(parents=True)
    (tmp_path / "link_cache").symlink_to(real_cache)
    monkeypatch.chdir(work)
    monkeypatch.setenv("VAEINFO_CACHE", str(tmp_path / "link_cache"))
    monkeypatch.setenv("VAEINFO_DATA", "../../shared/data")
    assert display_path(real_cache / "models" / "mlp-abc") == "$VAEINFO_CACHE/models/mlp-abc"
    assert display_path(tmp_path / "link_cache" / "models") == "$VAEINFO_CACHE/models"
    assert display_path(real_data.resolve() / "deap") == "$VAEINFO_DATA/deap"


def test_torch_threads_sets_the_count_inside_and_restores_it_after(three_threads):
    import torch

    from vaeinfo.io import torch_threads

    before = torch.get_num_threads()
    assert before == three_threads
    with torch_threads(1):
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == before
    with pytest.raises(RuntimeError), torch_threads(None):
        assert torch.get_num_threads() == before  # None: left as it is
        torch.set_num_threads(1)
        raise RuntimeError("the block fails")
    assert torch.get_num_threads() == before  # restored, whatever the block set or raised


def test_allowed_cpus_is_the_affinity_mask_and_bounds_available_cpus(monkeypatch):
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 5, 7}, raising=False)
    assert allowed_cpus() == {0, 5, 7}
    assert 1 <= available_cpus() <= 3  # a cgroup quota can only lower it
    monkeypatch.delattr(os, "sched_getaffinity", raising=False)
    monkeypatch.setattr(os, "cpu_count", lambda: 4)
    assert allowed_cpus() == {0, 1, 2, 3}


def test_file_lock_excludes_a_second_holder_and_says_it_waits(tmp_path, capsys):
    import threading

    order, lock = [], tmp_path / "locks" / "run.lock"

    def second_holder():
        with file_lock(lock, "waiting"):
            order.append("second")

    with file_lock(lock):
        second = threading.Thread(target=second_holder)
        second.start()
        second.join(timeout=1)
        assert second.is_alive()  # blocked while the first holds the lock
        order.append("first")
    second.join(timeout=10)
    assert order == ["first", "second"] and "waiting" in capsys.readouterr().err


def test_file_lock_goes_on_without_a_lock_where_none_can_be_taken(tmp_path, monkeypatch):
    """A read-only cache (reusing finished models only) or a file system without locks must not stop a run."""
    (tmp_path / "a-file").write_text("x")
    with file_lock(tmp_path / "a-file" / "run.lock"):  # its folder cannot be made
        pass

    def no_locks(handle, operation):
        raise OSError(37, "No locks available")

    monkeypatch.setattr(vio.fcntl, "flock", no_locks)
    with file_lock(tmp_path / "run.lock"):
        pass
