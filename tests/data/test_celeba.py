"""vaeinfo.data.celeba: the shared real CelebA subset, bad inputs, the decode cache, the crop geometry."""

from __future__ import annotations

import os
import shutil
from io import BytesIO
from pathlib import Path

import numpy as np
import pytest
import torch
import torchvision.transforms as T
from PIL import Image

from vaeinfo.data import DataError, celeba
from vaeinfo.data.celeba import (
    CelebAData,
    celeba_index,
    crop_box,
    load_celeba,
    load_celeba_train_validation,
    preprocess,
)
from vaeinfo.io import display_path, resolve_cache_dir

N_FAKE = 8


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch) -> Path:
    """Every test caches into its own folder, never into ~/.cache."""
    monkeypatch.setenv("VAEINFO_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


@pytest.fixture(scope="module")
def shared_cache(tmp_path_factory) -> Path:
    """One cache folder for the shared subset, so that it is decoded once in this module."""
    return tmp_path_factory.mktemp("shared-cache")


@pytest.fixture(scope="module")
def train(celeba_root, shared_cache) -> CelebAData:
    """The whole train split of the shared subset."""
    return load_celeba("train", celeba_root, cache_dir=shared_cache, progress=False)


def _raw_rows(path: Path) -> list[list[str]]:
    return [line.split() for line in path.read_text().splitlines() if line.strip()]


# ----------------------------------------------------------------------------- the shared real subset
def test_split_counts_are_the_official_partition_of_the_present_images(celeba_root):
    folder = celeba_root / "celeba"
    present = set(os.listdir(folder / "img_align_celeba"))
    codes = [int(code) for name, code in _raw_rows(folder / "list_eval_partition.txt") if name in present]
    expected = {split: codes.count(k) for k, split in enumerate(("train", "validation", "test"))}
    index = celeba_index(celeba_root)
    assert index.split_counts() == expected
    # The shared subset is the first 10,000 images, all of them official train (train ends at 162770.jpg).
    assert expected == {"train": 10000, "validation": 0, "test": 0}
    assert index.files[0] == "000001.jpg" and index.files[-1] == "010000.jpg"


def test_train_images_shape_dtype_range(train, celeba_root):
    assert isinstance(train.images, torch.Tensor) and train.images.dtype == torch.float32
    assert tuple(train.images.shape) == (10000, 3, 64, 64)
    assert float(train.images.min()) >= 0.0 and float(train.images.max()) <= 1.0
    assert float(train.images.max()) > 0.99 and float(train.images.min()) < 0.01  # real faces use the range
    assert train.labels.dtype == torch.int64 and tuple(train.labels.shape) == (10000, 40)
    assert set(train.labels.unique().tolist()) == {0, 1}
    assert train.source.to_dict() == {"name": "CelebA", "path": display_path(celeba_root), "n": 10000,
                                      "split": "train", "image_shape": (3, 64, 64), "fallback": False}


@pytest.mark.parametrize("row", [0, 1, 4999, 9999])
def test_attributes_match_the_raw_lines(train, celeba_root, row):
    raw = _raw_rows(celeba_root / "celeba" / "list_attr_celeba.txt")
    assert train.attribute_names == tuple(raw[1])
    assert train.attribute_names[0] == "5_o_Clock_Shadow" and train.attribute_names[-1] == "Young"
    name, *values = raw[2 + row]
    assert train.files[row] == name == f"{row + 1:06d}.jpg"
    assert train.labels[row].tolist() == [1 if v == "1" else 0 for v in values]


def test_images_are_the_preprocessed_jpegs_in_file_order(train, celeba_root):
    for row in (0, 1234, 9999):
        with Image.open(celeba_root / "celeba" / "img_align_celeba" / train.files[row]) as image:
            expected = torch.from_numpy(preprocess(image)).float() / 255.0
        assert torch.equal(train.images[row], expected)


def test_first_n(celeba_root, train, shared_cache):
    d = load_celeba("train", celeba_root, n=5, cache_dir=shared_cache, progress=False)
    assert len(d) == 5 and d.files == train.files[:5] and d.source.n == 5
    assert torch.equal(d.images, train.images[:5]) and torch.equal(d.labels, train.labels[:5])


@pytest.mark.parametrize("split", ["validation", "test"])
def test_empty_split_of_a_partial_copy_is_a_clear_error(celeba_root, split):
    with pytest.raises(DataError, match=rf"no {split} images.*'train': 10000.*Fix: use the full release"):
        load_celeba(split, celeba_root)


def test_unknown_split_and_bad_sizes(tmp_path):
    with pytest.raises(ValueError, match="unknown split 'valid'"):
        load_celeba("valid", tmp_path)
    for bad, message in (({"n": 0}, r"n must be an integer >= 1 \(images\) or None \(the whole split\), got 0"),
                         ({"size": 0}, r"size must be an integer >= 1"),
                         ({"workers": -1}, r"workers must be an integer"),
                         ({"n": True}, r"got True"),  # was 1 image
                         ({"n": 2.5}, r"got 2.5"), ({"workers": 1.5}, r"got 1.5"), ({"n": "3"}, r"got '3'")):
        with pytest.raises(ValueError, match=message):
            load_celeba("train", tmp_path, **bad)


# ----------------------------------------------------------------------------- a small fake CelebA
@pytest.fixture()
def fake(celeba_root, tmp_path) -> Path:
    """A data folder with the first 8 real images and their annotation rows; partition edited to 4/2/2."""
    src, dst = celeba_root / "celeba", tmp_path / "data" / "celeba"
    (dst / "img_align_celeba").mkdir(parents=True)
    names = [f"{i:06d}.jpg" for i in range(1, N_FAKE + 1)]
    for name in names:
        shutil.copy(src / "img_align_celeba" / name, dst / "img_align_celeba" / name)
    attr = src.joinpath("list_attr_celeba.txt").read_text().splitlines()
    _write_attr(dst, attr[1], attr[2 : 2 + N_FAKE])
    codes = [0, 0, 0, 0, 1, 1, 2, 2]
    (dst / "list_eval_partition.txt").write_text("".join(f"{n} {c}\n" for n, c in zip(names, codes)))
    return tmp_path / "data"


def test_a_cache_folder_that_cannot_be_written_is_named_before_any_decoding(fake, tmp_path, monkeypatch):
    """The images were all decoded (minutes on the full release) before the write of the cache failed."""
    def never(*args, **kwargs):
        raise AssertionError("decoded before the cache folder was checked")

    monkeypatch.setattr(celeba, "decode_images", never)
    (tmp_path / "a-file").write_bytes(b"")
    with pytest.raises(DataError, match=r"cannot write the CelebA cache .*a-file/.*Fix: pass cache_dir= or set"):
        load_celeba("train", fake, cache_dir=tmp_path / "a-file", progress=False)


def _write_attr(folder: Path, header: str, rows: list[str], count: int | None = None) -> None:
    count = len(rows) if count is None else count
    (folder / "list_attr_celeba.txt").write_text(f"{count}\n{header}\n" + "\n".join(rows) + "\n")


def _attr_rows(fake: Path) -> tuple[str, list[str]]:
    lines = (fake / "celeba" / "list_attr_celeba.txt").read_text().splitlines()
    return lines[1], lines[2:]


def test_fake_splits_follow_the_partition_file(fake):
    parts = {s: load_celeba(s, fake, progress=False) for s in ("train", "validation", "test")}
    assert {s: d.files for s, d in parts.items()} == {
        "train": ("000001.jpg", "000002.jpg", "000003.jpg", "000004.jpg"),
        "validation": ("000005.jpg", "000006.jpg"),
        "test": ("000007.jpg", "000008.jpg"),
    }
    assert all(d.source.split == s and tuple(d.images.shape) == (len(d), 3, 64, 64) for s, d in parts.items())


def test_train_validation_uses_the_official_splits_when_present(fake, capsys):
    train, validation = load_celeba_train_validation(fake, progress=False)
    assert train.files == ("000001.jpg", "000002.jpg", "000003.jpg", "000004.jpg")
    assert validation.files == ("000005.jpg", "000006.jpg") and validation.source.split == "validation"
    assert "holding out" not in capsys.readouterr().err
    train, validation = load_celeba_train_validation(fake, n_train=3, n_validation=1, progress=False)
    assert (len(train), len(validation), train.source.n, validation.source.n) == (3, 1, 3, 1)


def test_train_validation_holds_out_the_tail_of_train_without_validation(celeba_root, shared_cache, train, capsys):
    kept, held = load_celeba_train_validation(celeba_root, cache_dir=shared_cache, progress=False)
    assert "holding out the last 1000 of its 10000 train images" in capsys.readouterr().err
    assert (len(kept), len(held)) == (9000, 1000) and held.source.split == "train (held out)"
    assert kept.files[-1] == "009000.jpg" and held.files[0] == "009001.jpg" and not set(kept.files) & set(held.files)
    assert torch.equal(held.images, train.images[9000:]) and torch.equal(held.labels, train.labels[9000:])
    small, held = load_celeba_train_validation(celeba_root, n_train=50, n_validation=20, cache_dir=shared_cache,
                                               progress=False, train_uint8=True)
    assert small.files == train.files[:50] and held.files == train.files[-20:]
    assert small.images.dtype == torch.uint8 and held.images.dtype == torch.float32
    assert torch.equal(small.images.to(torch.float32) / 255, train.images[:50])


def test_train_validation_bad_arguments(fake, tmp_path):
    with pytest.raises(DataError, match="too few to hold out 4 for validation"):
        load_celeba_train_validation(_without_validation(fake), n_validation=4, progress=False)
    for bad, match in (({"holdout": 1.0}, "holdout"), ({"holdout": 0.0}, "holdout"),
                       ({"n_train": 0}, r"n_train must be an integer >= 1"), ({"n_train": 2.0}, r"got 2.0"),
                       ({"n_validation": 0}, r"n_validation must be an integer >= 1")):
        with pytest.raises(ValueError, match=match):
            load_celeba_train_validation(fake, progress=False, **bad)


def _without_validation(fake: Path) -> Path:
    """The fake copy with its partition file rewritten to four train then four test images."""
    path = fake / "celeba" / "list_eval_partition.txt"
    rows = path.read_text().splitlines()
    path.write_text("".join(f"{row.split()[0]} {0 if i < 4 else 2}\n" for i, row in enumerate(rows)))
    return fake


def test_missing_celeba_folder(tmp_path):
    with pytest.raises(DataError, match=r"CelebA not found: .*celeba does not exist.*Fix: download the aligned"):
        load_celeba("train", tmp_path)


@pytest.mark.parametrize("name", ["img_align_celeba", "list_attr_celeba.txt", "list_eval_partition.txt"])
def test_missing_part(fake, name):
    path = fake / "celeba" / name
    is_dir = path.is_dir()
    shutil.rmtree(path) if is_dir else path.unlink()
    with pytest.raises(DataError, match=rf"CelebA is incomplete in .*missing \['{name}'\].*Fix"):
        load_celeba("train", fake)
    path.mkdir() if not is_dir else path.write_bytes(b"PK")  # the wrong kind: a folder for a file and vice versa
    with pytest.raises(DataError, match=rf"missing \['{name}'\] \(img_align_celeba is the folder of JPEGs"):
        load_celeba("train", fake)


def test_a_celeba_path_that_is_a_file(tmp_path):
    (tmp_path / "celeba").write_bytes(b"")
    with pytest.raises(DataError, match=r"CelebA not found: .*celeba is a file, not a folder"):
        load_celeba("train", tmp_path)


def test_attribute_header_count_disagrees_with_rows(fake):
    header, rows = _attr_rows(fake)
    _write_attr(fake / "celeba", header, rows, count=10000)
    with pytest.raises(DataError, match=r"declares 10000 rows on line 1 but has 8: truncated"):
        load_celeba("train", fake)


def test_attribute_file_shorter_than_the_images(fake):
    header, rows = _attr_rows(fake)
    _write_attr(fake / "celeba", header, rows[:5])
    with pytest.raises(DataError, match=r"list_attr_celeba.txt has 5 rows but 8 images are present"):
        load_celeba("train", fake)


@pytest.mark.parametrize(
    "edit, line",
    [
        (lambda row: row.rsplit(" ", 1)[0], 4),  # 39 values
        (lambda row: row.replace("-1", " 0", 1), 4),  # a value that is not +-1
        (lambda row: row.split()[0], 4),  # a name alone
    ],
)
def test_malformed_attribute_row_names_the_line(fake, edit, line):
    header, rows = _attr_rows(fake)
    rows[1] = edit(rows[1])
    _write_attr(fake / "celeba", header, rows)
    with pytest.raises(DataError, match=rf"list_attr_celeba.txt line {line} is malformed.*Fix"):
        load_celeba("train", fake)


def test_malformed_partition_row_and_disagreeing_files(fake):
    part = fake / "celeba" / "list_eval_partition.txt"
    good = part.read_text()
    part.write_text(good.replace("000003.jpg 0", "000003.jpg 3"))
    with pytest.raises(DataError, match=r"list_eval_partition.txt line 3 is malformed: '000003.jpg 3'"):
        load_celeba("train", fake)
    header, rows = _attr_rows(fake)
    _write_attr(fake / "celeba", header, [rows[1], rows[0], *rows[2:]])
    part.write_text(good)
    with pytest.raises(DataError, match=r"row 1 is 000002.jpg but list_eval_partition.txt row 1 is 000001.jpg"):
        load_celeba("train", fake)


def test_hole_and_unlisted_images(fake):
    images = fake / "celeba" / "img_align_celeba"
    shutil.move(images / "000004.jpg", fake / "000004.jpg")
    with pytest.raises(DataError, match=r"000004.jpg is listed .* missing .* hole.*Fix: re-extract"):
        load_celeba("train", fake)
    shutil.move(fake / "000004.jpg", images / "000009.jpg")
    with pytest.raises(DataError, match=r"1 JPEG\(s\) in .* are not in list_eval_partition.txt, e.g. 000009.jpg"):
        load_celeba("train", fake)


def test_partial_copy_uses_the_present_prefix_and_says_so(fake, monkeypatch, capsys):
    monkeypatch.setattr(celeba, "_announced", set())
    for name in ("000007.jpg", "000008.jpg"):
        (fake / "celeba" / "img_align_celeba" / name).unlink()
    index = celeba_index(fake)
    assert index.split_counts() == {"train": 4, "validation": 2, "test": 0} and index.n_listed == N_FAKE
    load_celeba("validation", fake, progress=False)
    assert capsys.readouterr().err.count("holds the first 6 of the 8 images listed") == 1
    with pytest.raises(DataError, match="no test images"):
        load_celeba("test", fake)


@pytest.mark.parametrize("workers", [1, 2])
@pytest.mark.parametrize(
    "content, reason",
    [
        (lambda real: real[: len(real) // 2], "truncated"),
        (lambda real: b"not a jpeg at all", "cannot identify image file"),
        (lambda real: _jpeg_bytes(Image.new("RGB", (120, 60))), "too wide"),
    ],
)
def test_unreadable_jpeg_is_named(fake, monkeypatch, workers, content, reason):
    monkeypatch.setattr(celeba, "DECODE_CHUNK", 3)  # 3 chunks, so workers=2 really uses a process pool
    path = fake / "celeba" / "img_align_celeba" / "000005.jpg"
    path.write_bytes(content(path.read_bytes()))
    with pytest.raises(DataError, match=rf"cannot read CelebA image .*000005\.jpg .*{reason}.*Fix: replace"):
        load_celeba("train", fake, progress=False, workers=workers)


def _jpeg_bytes(image: Image.Image) -> bytes:
    buf = BytesIO()
    image.save(buf, "JPEG")
    return buf.getvalue()


# ----------------------------------------------------------------------------- the decode cache
@pytest.fixture()
def decodes(monkeypatch) -> list[str]:
    """Record every JPEG decoded in this process."""
    calls: list[str] = []
    real = celeba._decode_file

    def counting(path, size):
        calls.append(Path(path).name)
        return real(path, size)

    monkeypatch.setattr(celeba, "_decode_file", counting)
    return calls


def test_cache_is_reused_without_decoding(fake, private_cache, monkeypatch, capsys):
    first = load_celeba("train", fake)
    assert "decoding CelebA" in capsys.readouterr().err  # the tqdm bar, on stderr
    assert len(list(private_cache.glob("celeba-*-64px-*.npy"))) == 1

    def fail(path, size):
        raise AssertionError(f"decoded {path} although the cache is valid")

    monkeypatch.setattr(celeba, "_decode_file", fail)
    for split in ("train", "validation", "test"):
        again = load_celeba(split, fake)
        assert isinstance(again, CelebAData)
    assert torch.equal(load_celeba("train", fake).images, first.images)
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize(
    "change",
    ["replace a jpeg", "touch a jpeg", "edit the partition", "edit the attributes", "other size", "other Pillow"],
)
def test_cache_is_invalidated_by_a_change(fake, private_cache, decodes, change, monkeypatch):
    folder = fake / "celeba"
    before = load_celeba("train", fake, progress=False)
    assert len(decodes) == N_FAKE
    size = 64
    if change == "replace a jpeg":
        shutil.copy(folder / "img_align_celeba" / "000005.jpg", folder / "img_align_celeba" / "000002.jpg")
    elif change == "touch a jpeg":
        os.utime(folder / "img_align_celeba" / "000002.jpg", ns=(1_000_000_000, 1_000_000_000))
    elif change == "edit the partition":
        part = folder / "list_eval_partition.txt"
        part.write_text(part.read_text().replace("000005.jpg 1", "000005.jpg 0"))
    elif change == "edit the attributes":
        header, rows = _attr_rows(fake)
        _write_attr(folder, header, [rows[0].replace("-1", " 1", 1), *rows[1:]])
    elif change == "other Pillow":  # its JPEG decoder and resampling decide the pixels
        monkeypatch.setattr(celeba.PIL, "__version__", "0.0.1")
    else:
        size = 32
    after = load_celeba("train", fake, size=size, progress=False)
    assert len(decodes) == 2 * N_FAKE
    assert len(list(private_cache.glob(f"celeba-*-{size}px-*.npy"))) == 1  # the stale one of that size is gone
    if change == "replace a jpeg":
        assert torch.equal(after.images[1], load_celeba("validation", fake).images[0])
        assert not torch.equal(after.images[1], before.images[1])
    load_celeba("train", fake, size=size, progress=False)
    assert len(decodes) == 2 * N_FAKE  # and the new cache is reused


def test_corrupt_cache_is_rebuilt(fake, private_cache, decodes):
    load_celeba("train", fake, progress=False)
    (cache,) = private_cache.glob("*.npy")
    cache.write_bytes(cache.read_bytes()[:1000])
    assert len(load_celeba("train", fake, progress=False)) == 4
    assert len(decodes) == 2 * N_FAKE
    assert cache.stat().st_size > 1000


def test_cache_dir_resolution(tmp_path, monkeypatch):
    monkeypatch.setenv("VAEINFO_CACHE", str(tmp_path / "env"))
    assert resolve_cache_dir(tmp_path / "arg") == tmp_path / "arg"
    assert resolve_cache_dir() == tmp_path / "env"
    monkeypatch.delenv("VAEINFO_CACHE")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert resolve_cache_dir() == tmp_path / ".cache" / "vaeinfo"


def test_worker_processes_give_the_same_pixels(fake, monkeypatch):
    monkeypatch.setattr(celeba, "DECODE_CHUNK", 3)
    paths = [str(p) for p in sorted((fake / "celeba" / "img_align_celeba").glob("*.jpg"))]
    serial = celeba.decode_images(paths, 64, progress=False, workers=1)
    assert serial.shape == (N_FAKE, 3, 64, 64) and serial.dtype == np.uint8
    assert np.array_equal(celeba.decode_images(paths, 64, progress=False, workers=2), serial)


# ----------------------------------------------------------------------------- crop geometry
def test_crop_box_is_148_px_on_the_originals_and_scales():
    assert crop_box(178, 218) == (15.0, 35.0, 163.0, 183.0)
    assert crop_box(89, 109) == (7.5, 17.5, 81.5, 91.5)
    with pytest.raises(ValueError, match="too wide"):
        crop_box(218, 178)


def test_originals_match_torchvision_center_crop_then_resize():
    image = Image.fromarray(np.random.default_rng(0).integers(0, 256, (218, 178, 3), dtype=np.uint8))
    expected = np.asarray(T.Resize(64)(T.CenterCrop(148)(image))).transpose(2, 0, 1)
    assert np.array_equal(preprocess(image), expected)


@pytest.mark.parametrize("scale", [1, 2])
def test_frame_outside_the_crop_is_cut_and_a_ring_inside_is_kept(scale):
    """A red frame outside the crop never reaches the output; a green ring just inside it does."""
    width, height = 178 // scale, 218 // scale
    left, top, right, bottom = crop_box(width, height)
    cut = (int(np.floor(left)), int(np.floor(top)), int(np.ceil(right)), int(np.ceil(bottom)))
    pixels = np.full((height, width, 3), (255, 0, 0), dtype=np.uint8)
    pixels[cut[1] : cut[3], cut[0] : cut[2]] = (128, 128, 128)
    out = preprocess(Image.fromarray(pixels))
    assert out.shape == (3, 64, 64) and np.all(out == 128)
    ring = 2 * (cut[2] - cut[0]) // 64  # two output pixels wide
    pixels[cut[1] : cut[3], cut[0] : cut[0] + ring] = (0, 255, 0)
    out = preprocess(Image.fromarray(pixels))
    assert out[1, :, 0].min() > 200 and np.all(out[:, :, 8:] == 128)  # left edge green, the rest untouched


def test_full_and_half_resolution_give_nearly_the_same_output():
    y, x = np.mgrid[0:218, 0:178]
    smooth = np.stack([128 + 100 * np.sin(x / 9), 128 + 100 * np.cos(y / 11), 128 + 60 * np.sin((x + y) / 15)], -1)
    full = Image.fromarray(smooth.astype(np.uint8))
    half = full.reduce(2)  # 89x109, as the shared subset
    diff = np.abs(preprocess(full).astype(int) - preprocess(half).astype(int))
    assert diff.mean() < 1.0 and diff.max() <= 3
    # Placing the half-resolution crop at whole pixels (as CenterCrop(74) does) would be half a pixel off:
    shifted = np.asarray(T.Resize(64)(T.CenterCrop(74)(half))).transpose(2, 0, 1)
    assert np.abs(preprocess(full).astype(int) - shifted).mean() > 3 * diff.mean()
