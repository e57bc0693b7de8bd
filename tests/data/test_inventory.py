"""vaeinfo.data.inventory: what a data folder holds, validated once before a run."""

from __future__ import annotations

import pytest

from vaeinfo.data import DataError
from vaeinfo.data.inventory import take_inventory


def test_an_empty_folder_holds_no_optional_data(tmp_path, monkeypatch):
    monkeypatch.delenv("VAEINFO_DEAP", raising=False)
    monkeypatch.delenv("VAEINFO_DATA", raising=False)
    inventory = take_inventory(tmp_path)
    assert inventory.present == {"MNIST": False, "CelebA": False, "dSprites": False}  # DEAP: only when configured
    assert inventory.missing(["CelebA", "MNIST"]) == ["CelebA", "MNIST"]
    reason = inventory.reason("CelebA")
    assert reason.startswith(f"no CelebA in {tmp_path} (download the aligned CelebA")


def test_a_missing_default_folder_holds_nothing(tmp_path, monkeypatch):
    """No data_dir and no $VAEINFO_DATA: the default ./data may be absent (it was an error naming the wrong source,
    'from the data_dir argument')."""
    monkeypatch.delenv("VAEINFO_DEAP", raising=False)
    monkeypatch.delenv("VAEINFO_DATA", raising=False)
    monkeypatch.chdir(tmp_path)
    inventory = take_inventory()
    assert inventory.root.origin == "default" and inventory.root.path == tmp_path / "data"
    assert inventory.present == {"MNIST": False, "CelebA": False, "dSprites": False}
    assert not (tmp_path / "data").exists()


def test_the_shared_folder_holds_mnist_and_celeba(data_root, monkeypatch):
    monkeypatch.delenv("VAEINFO_DEAP", raising=False)
    if not (data_root / "celeba").is_dir():
        pytest.skip("no CelebA in the data folder")
    inventory = take_inventory(data_root)
    assert inventory.present["MNIST"] and inventory.present["CelebA"] and inventory.missing(["CelebA"]) == []


def test_broken_data_is_an_error_naming_the_file(tmp_path, monkeypatch):
    monkeypatch.delenv("VAEINFO_DEAP", raising=False)
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    (raw / "train-images-idx3-ubyte").write_bytes(b"\0" * 16)
    with pytest.raises(DataError, match=r"MNIST is incomplete .*missing \['t10k-images-idx3-ubyte'"):
        take_inventory(tmp_path)
    (tmp_path / "MNIST" / "raw" / "train-images-idx3-ubyte").unlink()
    (tmp_path / "celeba").mkdir()
    with pytest.raises(DataError, match=r"CelebA is incomplete"):
        take_inventory(tmp_path)
    (tmp_path / "celeba").rmdir()
    npz = tmp_path / "dsprites" / "dsprites_ndarray_co1sh3sc6or40x32y32_64x64.npz"
    npz.parent.mkdir()
    npz.write_bytes(b"\x07" * 1000)  # was found only when notebook 09 ran, after 00-08
    with pytest.raises(DataError, match=r"dsprites_ndarray_co1sh3sc6or40x32y32_64x64.npz is not a readable npz file"):
        take_inventory(tmp_path)


def test_a_configured_deap_folder_must_hold_subject_files(tmp_path, monkeypatch):
    (tmp_path / "data").mkdir()
    monkeypatch.setenv("VAEINFO_DEAP", str(tmp_path / "deap-missing"))
    with pytest.raises(DataError, match=r"deap-missing .*does not exist"):
        take_inventory(tmp_path / "data")
    (tmp_path / "deap" / "data_preprocessed_python").mkdir(parents=True)
    with pytest.raises(DataError, match=r"no s01.dat .. s32.dat files"):
        take_inventory(tmp_path / "data", tmp_path / "deap")
