"""vaeinfo.io: atomic writes keep the old file on failure and give normal permissions; progress bars."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

from vaeinfo.io import atomic_open, atomic_write_json, atomic_write_text, progress_bar


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


def test_json_converts_numpy_and_paths(tmp_path):
    path = atomic_write_json(tmp_path / "r.json", {"b": np.arange(3), "a": np.float64(0.5), "p": tmp_path})
    assert json.loads(path.read_text()) == {"a": 0.5, "b": [0, 1, 2], "p": str(tmp_path)}


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
