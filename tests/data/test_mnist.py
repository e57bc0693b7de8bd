"""vaeinfo.data and vaeinfo.data.mnist: data-folder resolution, real MNIST with the paper's split, the digits fallback, bad input."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
import torch

from vaeinfo.data import SPLITS, DataError, resolve_data_dir
from vaeinfo.data import mnist as data
from vaeinfo.data.mnist import load_digits, load_mnist
from vaeinfo.io import display_path


# ----------------------------------------------------------------------------- resolution order
def test_explicit_argument_beats_environment(tmp_path, monkeypatch):
    explicit, env = tmp_path / "a", tmp_path / "b"
    explicit.mkdir(), env.mkdir()
    monkeypatch.setenv("VAEINFO_DATA", str(env))
    root = resolve_data_dir(explicit)
    assert (root.path, root.origin) == (explicit.resolve(), "argument")


def test_environment_beats_default(tmp_path, monkeypatch):
    monkeypatch.setenv("VAEINFO_DATA", str(tmp_path))
    monkeypatch.chdir(tmp_path)
    root = resolve_data_dir()
    assert (root.path, root.origin) == (tmp_path.resolve(), "VAEINFO_DATA")


def test_default_is_data_in_current_directory(tmp_path, monkeypatch):
    monkeypatch.delenv("VAEINFO_DATA", raising=False)
    monkeypatch.chdir(tmp_path)
    root = resolve_data_dir()
    assert (root.path, root.origin) == ((tmp_path / "data").resolve(), "default")


def test_empty_argument_means_not_given(tmp_path, monkeypatch):
    monkeypatch.setenv("VAEINFO_DATA", str(tmp_path))
    assert resolve_data_dir("").origin == "VAEINFO_DATA"


@pytest.mark.parametrize("via_env", [False, True])
def test_missing_data_dir_is_one_clear_error(tmp_path, monkeypatch, via_env):
    missing = tmp_path / "nope"
    monkeypatch.delenv("VAEINFO_DATA", raising=False)
    if via_env:
        monkeypatch.setenv("VAEINFO_DATA", str(missing))
    with pytest.raises(DataError, match=r"nope.*does not exist.*Fix") as err:
        load_mnist("train", None if via_env else missing, allow_fallback=True)  # a typo never falls back
    assert ("(from $VAEINFO_DATA)" if via_env else "(from the data_dir argument)") in str(err.value)


def test_a_data_dir_that_is_a_file_says_so(tmp_path):
    (tmp_path / "data.zip").write_bytes(b"PK")
    with pytest.raises(DataError, match=r"data.zip \(from the data_dir argument\) is a file, not a folder\. Fix"):
        load_mnist("train", tmp_path / "data.zip", allow_fallback=True)


# ----------------------------------------------------------------------------- real MNIST
@pytest.fixture(scope="module")
def mnist(mnist_root):
    return {split: load_mnist(split, mnist_root) for split in SPLITS}


def test_mnist_split_sizes_dtype_and_range(mnist):
    assert {s: len(d) for s, d in mnist.items()} == {"train": 50000, "validation": 10000, "test": 10000}
    for d in mnist.values():
        assert d.images.dtype == torch.float32 and d.labels.dtype == torch.int64
        assert tuple(d.images.shape[1:]) == (1, 28, 28)
        assert float(d.images.min()) == 0.0 and float(d.images.max()) == 1.0
        assert set(d.labels.unique().tolist()) == set(range(10))
        assert not d.source.fallback and d.source.name == "MNIST"


def test_mnist_split_is_the_papers(mnist, mnist_root):
    """validation = official train[:10000], train = official train[10000:] (first labels of the IDX files)."""
    raw = mnist_root / "MNIST" / "raw" / "train-labels-idx1-ubyte"
    official = np.frombuffer(raw.read_bytes()[8:], dtype=np.uint8)
    assert np.array_equal(mnist["validation"].labels.numpy(), official[:10000])
    assert np.array_equal(mnist["train"].labels.numpy(), official[10000:])
    # The first official test digit is a 7 and the first training digit a 5 (LeCun's files).
    assert int(mnist["test"].labels[0]) == 7 and int(mnist["validation"].labels[0]) == 5
    # Pixel sum of a known image is exact: uint8 / 255 -> float32.
    images = np.frombuffer((mnist_root / "MNIST/raw/train-images-idx3-ubyte").read_bytes()[16:], dtype=np.uint8)
    first = images[: 28 * 28].astype(np.float64).sum() / 255.0
    assert float(mnist["validation"].images[0].double().sum()) == pytest.approx(first, abs=1e-4)


def test_mnist_subset_and_source_record(mnist_root):
    d = load_mnist("validation", mnist_root, n=123)
    assert len(d) == 123 and d.source.n == 123
    assert d.source.to_dict() == {"name": "MNIST", "path": display_path(mnist_root), "n": 123, "split": "validation",
                                  "image_shape": (1, 28, 28), "fallback": False}


def test_unknown_split_and_bad_n(mnist_root):
    with pytest.raises(ValueError, match="unknown split 'valid'"):
        load_mnist("valid", mnist_root)
    with pytest.raises(ValueError, match="positive"):
        load_mnist("train", mnist_root, n=0)
    with pytest.raises(ValueError, match="n must be a positive number of examples or None, got -5"):
        load_digits("train", n=-5)  # not images[:-5]


# ----------------------------------------------------------------------------- fallback
def test_no_mnist_without_fallback_is_a_clear_error(tmp_path):
    with pytest.raises(DataError, match=r"MNIST not found.*Fix: get MNIST"):
        load_mnist("train", tmp_path)


def test_digits_fallback_is_announced_once(tmp_path, capsys):
    first = load_mnist("train", tmp_path, allow_fallback=True)
    load_mnist("test", tmp_path, allow_fallback=True)
    err = capsys.readouterr().err
    assert err.count("WARNING: MNIST not found") == 1
    assert "8x8 digits" in err and "--download" in err
    assert first.source.fallback and first.source.name == "digits"


def test_digits_split_is_disjoint_and_complete():
    splits = {s: load_digits(s) for s in SPLITS}
    assert {s: len(d) for s, d in splits.items()} == {"train": 1197, "validation": 300, "test": 300}
    rows = torch.cat([d.images.flatten(1) for d in splits.values()])
    assert rows.shape == (1797, 64)
    assert float(rows.min()) == 0.0 and float(rows.max()) == 1.0
    # Same seed, same split.
    assert torch.equal(load_digits("validation").images, splits["validation"].images)


# ----------------------------------------------------------------------------- corrupt MNIST
@pytest.fixture()
def mnist_copy(mnist_root, tmp_path):
    """A private MNIST folder: symlinks to the real image files, copies of the small label files."""
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for name in data.MNIST_FILES:
        src = mnist_root / "MNIST" / "raw" / name
        if "labels" in name:
            shutil.copy(src, raw / name)
        else:
            (raw / name).symlink_to(src)
    return tmp_path


def test_truncated_idx_file(mnist_copy):
    path = mnist_copy / "MNIST/raw/train-labels-idx1-ubyte"
    path.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(DataError, match=r"train-labels-idx1-ubyte is truncated or corrupt: 59908 bytes, expected 60008"):
        load_mnist("train", mnist_copy)


def test_idx_file_with_bad_magic(mnist_copy):
    path = mnist_copy / "MNIST/raw/t10k-labels-idx1-ubyte"
    path.write_bytes(b"\x00\x00\x08\x03" + path.read_bytes()[4:])
    with pytest.raises(DataError, match="not an MNIST IDX file"):
        load_mnist("test", mnist_copy)


def test_idx_labels_out_of_range(mnist_copy):
    path = mnist_copy / "MNIST/raw/train-labels-idx1-ubyte"
    raw = bytearray(path.read_bytes())
    raw[8] = 42
    path.write_bytes(bytes(raw))
    with pytest.raises(DataError, match="outside 0..9"):
        load_mnist("validation", mnist_copy)


def test_a_stale_torchvision_cache_is_not_read(mnist_copy):
    processed = mnist_copy / "MNIST" / "processed"  # torchvision's legacy cache, preferred by datasets.MNIST
    processed.mkdir()
    for name, n in (("training.pt", 60000), ("test.pt", 10000)):
        torch.save((torch.zeros(n, 28, 28, dtype=torch.uint8), torch.zeros(n, dtype=torch.int64)), processed / name)
    for split in ("validation", "test"):
        ours = load_mnist(split, mnist_copy, n=500)
        assert float(ours.images.sum()) > 1000 and len(set(ours.labels.tolist())) == 10  # the IDX files, not zeros


def test_incomplete_mnist_never_falls_back(mnist_copy):
    (mnist_copy / "MNIST/raw/t10k-images-idx3-ubyte").unlink()
    with pytest.raises(DataError, match=r"incomplete.*t10k-images-idx3-ubyte"):
        load_mnist("train", mnist_copy, allow_fallback=True)


def test_compressed_or_misplaced_mnist_is_named_never_a_silent_fallback(tmp_path):
    """LeCun's .gz downloads, or the files put directly in the data folder, counted as 'no MNIST': a run with
    allow_fallback trained on the 8x8 digits without saying why."""
    raw = tmp_path / "gz" / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for name in data.MNIST_FILES:
        (raw / f"{name}.gz").write_bytes(b"\x1f\x8b")
    with pytest.raises(DataError, match=r"still compressed: \['t10k-images-idx3-ubyte.gz', .*gunzip -k"):
        load_mnist("train", tmp_path / "gz", allow_fallback=True)
    with pytest.raises(DataError, match=r"still compressed"):  # the inventory stops the run before any notebook
        data.check_mnist(tmp_path / "gz")
    flat = tmp_path / "flat"
    flat.mkdir()
    (flat / "t10k-labels-idx1-ubyte").write_bytes(b"")
    with pytest.raises(DataError, match=r"directly in .*flat, which is read as the data folder.*MNIST/raw/"):
        load_mnist("test", flat, allow_fallback=True)


def test_failed_download_is_one_clear_error(tmp_path, monkeypatch):
    from torchvision.datasets import MNIST

    monkeypatch.setattr(MNIST, "mirrors", ["http://127.0.0.1:9/"])  # nothing listens on the discard port
    with pytest.raises(DataError, match=r"could not download MNIST.*Fix: check the internet"):
        load_mnist("train", tmp_path, download=True)
