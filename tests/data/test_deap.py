"""vaeinfo.data.deap (bdf, format, release, raw, features, synthetic): the BDF reader on real BioSemi files, the BDF writer,
DEAP's two formats on synthetic files written in them, features with known answers, and recovery of the planted
emotion signal."""

from __future__ import annotations

import filecmp
import os
import pickle
import pickletools
import re
import shutil
from dataclasses import replace
from datetime import datetime
from pathlib import Path

import mne
import numpy as np
import pytest
import scipy.signal
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GroupKFold, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from vaeinfo.data import DataError
from vaeinfo.data.deap import bdf
from vaeinfo.data.deap import features as deap_features
from vaeinfo.data.deap import folder as deap_folder
from vaeinfo.data.deap import format as deap_format
from vaeinfo.data.deap import raw as deap_raw
from vaeinfo.data.deap import release as deap_release
from vaeinfo.data.deap import synthetic as deap_synthetic
from vaeinfo.data.deap.format import GENEVA, TWENTE, EEGTrials

REAL_BDF = {  # file: (channels, Hz, samples, events as (sample, code))
    "test.bdf": (73, 2048.0, 2048, [(589, 128)]),
    "test_bdf_stim_channel.bdf": (4, 500.0, 5000, None),
}
RAW_TRIALS = 4  # trials per subject of the raw synthetic set
RELEASE_SAMPLES = 63 * 128


# ----------------------------------------------------------------------------- fixtures
@pytest.fixture(scope="session")
def bdf_dir(data_root) -> Path:
    """``<VAEINFO_DATA>/bdf`` with MNE's two real BioSemi test files."""
    folder = data_root / "bdf"
    assert all((folder / name).is_file() for name in REAL_BDF), f"{folder} lacks {sorted(REAL_BDF)}"
    return folder


@pytest.fixture(scope="session")
def raw_set(tmp_path_factory) -> deap_format.DeapSource:
    """Both formats, full 60-s videos: s01 (Twente channel order) and s23 (Geneva order, Status flags)."""
    return deap_synthetic.make_synthetic(tmp_path_factory.mktemp("deap-raw"), n_trials=RAW_TRIALS, subjects=(1, 23),
                                         seed=7)


@pytest.fixture(scope="session")
def classification_set(tmp_path_factory) -> deap_format.DeapSource:
    """Preprocessed files only: 3 subjects x 20 trials with 15-s videos, enough to see the planted signal."""
    return deap_synthetic.make_synthetic(tmp_path_factory.mktemp("deap-clf"), n_subjects=3, n_trials=20, seed=0,
                                         formats=("preprocessed",), video_s=15)


@pytest.fixture(scope="session")
def preprocessed(raw_set) -> dict[int, EEGTrials]:
    return {t.subject: t for t in deap_release.load_preprocessed(raw_set.root)}


@pytest.fixture(scope="session")
def raw_trials(raw_set) -> dict[int, EEGTrials]:
    """Raw recordings cut into trials, put in video order with participant_ratings.csv."""
    return {s: deap_raw.load_raw(raw_set.root / deap_format.RAW_DIR / f"s{s:02d}.bdf", raw_set.root / deap_format.RATINGS_CSV)
            for s in (1, 23)}


# ----------------------------------------------------------------------------- BDF reader on real files
@pytest.mark.parametrize("name", sorted(REAL_BDF))
def test_real_bdf_header_matches_mne(bdf_dir, name):
    n_channels, sfreq, n_samples, _ = REAL_BDF[name]
    header = bdf.read_header(bdf_dir / name)
    raw = mne.io.read_raw_bdf(bdf_dir / name, preload=False, verbose="error")
    assert (len(header.channels), header.sfreq, header.n_samples) == (n_channels, sfreq, n_samples)
    assert header.labels == raw.ch_names and raw.info["sfreq"] == sfreq and raw.n_times == n_samples
    assert header.labels[-1] == "Status"


@pytest.mark.parametrize("name", sorted(REAL_BDF))
def test_real_status_upper_bits_are_masked(bdf_dir, name):
    """The raw Status carries BioSemi system flags in bits 16-23; the events keep only the low 16 bits and
    equal MNE's find_events with the same mask."""
    status = bdf.read_status(bdf_dir / name)
    assert status.min() >= 0 and status.max() < 2**24
    assert np.all(status >> 16 != 0), "these files are chosen for their non-zero upper Status bits"
    events = bdf.find_events(status)
    assert len(events) and np.all((events[:, 1:] >= 0) & (events[:, 1:] < 2**16)) and np.all(events[:, 2] != 0)
    raw = mne.io.read_raw_bdf(bdf_dir / name, preload=True, verbose="error")
    expected = mne.find_events(raw, mask=2**16 - 1, mask_type="and", consecutive=True, shortest_event=1,
                               verbose="error")
    np.testing.assert_array_equal(events, expected)
    known = REAL_BDF[name][3]
    if known is not None:
        assert [tuple(e) for e in events[:, [0, 2]]] == known
    assert set(np.unique(events[:, 2])) <= ({128} if name == "test.bdf" else {1, 2, 4})


@pytest.mark.parametrize("name", sorted(REAL_BDF))
def test_real_bdf_samples_match_mne(bdf_dir, name):
    header = bdf.read_header(bdf_dir / name)
    picks = [label for label in header.labels if label != "Status"][:8]
    ours = bdf.to_physical(bdf.read_digital(bdf_dir / name, picks), [header.channels[header.index(p)] for p in picks])
    raw = mne.io.read_raw_bdf(bdf_dir / name, preload=True, verbose="error")
    np.testing.assert_allclose(ours * 1e-6, raw.get_data(picks=picks), rtol=0, atol=1e-12)  # uV vs V


# ----------------------------------------------------------------------------- BDF writer
def _small_recording(seed: int = 0) -> tuple[bdf.BDFHeader, np.ndarray, np.ndarray]:
    """Header, physical EEG (3, 1536) in uV spanning the full range, and Status codes with system flags."""
    channels = (bdf.BDFChannel("Fp1", 512), bdf.BDFChannel("AF3", 512), bdf.BDFChannel("EXG1", 512, unit="uV",
                physical_min=-1000.0, physical_max=1000.0), bdf.status_channel(512))
    header = bdf.BDFHeader(channels, n_records=3, record_s=1.0, start=datetime(2012, 5, 6, 7, 8, 9),
                           patient="s99", recording="round trip")
    rng = np.random.default_rng(seed)
    physical = np.stack([rng.uniform(-262144, 262143, 1536), 30 * rng.standard_normal(1536),
                         rng.uniform(-1000, 1000, 1536)])
    physical[0, :2] = [-262144, 262143]  # the extremes of the physical range
    codes = np.zeros(1536, np.int64)
    codes[[100, 700, 1300]] = [4, 5, 255]
    return header, physical, codes | (0x19 << 16)


def _write_small(path: Path) -> tuple[bdf.BDFHeader, np.ndarray, np.ndarray, np.ndarray]:
    header, physical, status = _small_recording()
    digital = np.vstack([bdf.to_digital(physical, header.channels[:3]), status[None].astype(np.int32)])
    bdf.write_bdf(path, digital, header)
    return header, physical, status, digital


def test_bdf_writer_layout(tmp_path):
    header, *_ = _write_small(tmp_path / "w.bdf")
    raw = (tmp_path / "w.bdf").read_bytes()
    assert raw[:8] == b"\xffBIOSEMI" and raw[192:197] == b"24BIT"
    assert int(raw[184:192]) == 256 * (1 + 4) == header.header_bytes and int(raw[252:256]) == 4
    assert raw[168:184] == b"06.05.1207.08.09" and int(raw[236:244]) == 3 and int(raw[244:252]) == 1
    assert len(raw) == header.header_bytes + 3 * 4 * 512 * 3  # records x channels x samples x 3 bytes


@pytest.mark.parametrize("year", [1985, 1999, 2000, 2012, 2084])
def test_bdf_start_year_follows_edf_clipping_rule(tmp_path, year):
    header, physical, status = _small_recording()
    header = replace(header, start=header.start.replace(year=year))
    digital = np.vstack([bdf.to_digital(physical, header.channels[:3]), status[None].astype(np.int32)])
    bdf.write_bdf(tmp_path / "y.bdf", digital, header)
    assert (tmp_path / "y.bdf").read_bytes()[174:176] == f"{year % 100:02d}".encode()
    assert bdf.read_header(tmp_path / "y.bdf").start.year == year  # 70-84 were read as 1970-1984


@pytest.mark.parametrize("year", [1984, 2085])
def test_bdf_writer_refuses_a_year_two_digits_cannot_name(tmp_path, year):
    header, physical, status = _small_recording()
    header = replace(header, start=header.start.replace(year=year))
    digital = np.vstack([bdf.to_digital(physical, header.channels[:3]), status[None].astype(np.int32)])
    with pytest.raises(ValueError, match=f"start year {year} cannot be written: .* covers 1985-2084"):
        bdf.write_bdf(tmp_path / "y.bdf", digital, header)
    assert not (tmp_path / "y.bdf").exists()


def test_bdf_writer_round_trips_through_own_reader(tmp_path):
    header, physical, status, digital = _write_small(tmp_path / "w.bdf")
    assert bdf.read_header(tmp_path / "w.bdf") == header
    np.testing.assert_array_equal(bdf.read_digital(tmp_path / "w.bdf"), digital)
    back = bdf.to_physical(bdf.read_digital(tmp_path / "w.bdf", header.labels[:3]), header.channels[:3])
    lsb = np.array([ch.lsb for ch in header.channels[:3]])[:, None]
    assert np.all(np.abs(back - physical) <= lsb / 2 + 1e-9)  # rounding to the nearest 24-bit step
    np.testing.assert_array_equal(bdf.read_status(tmp_path / "w.bdf"), status)


def test_bdf_writer_round_trips_through_mne(tmp_path):
    header, physical, status, _ = _write_small(tmp_path / "w.bdf")
    raw = mne.io.read_raw_bdf(tmp_path / "w.bdf", stim_channel="Status", preload=True, verbose="error")
    assert raw.ch_names == header.labels and raw.info["sfreq"] == 512 and raw.n_times == 1536
    lsb = np.array([ch.lsb for ch in header.channels[:3]])[:, None]
    assert np.all(np.abs(raw.get_data(picks=header.labels[:3]) * 1e6 - physical) <= lsb)  # within one 24-bit step
    events = mne.find_events(raw, mask=2**16 - 1, mask_type="and", consecutive=True, shortest_event=1, verbose="error")
    np.testing.assert_array_equal(events[:, [0, 2]], [[100, 4], [700, 5], [1300, 255]])
    np.testing.assert_array_equal(bdf.find_events(status), events)


def _signal_field(name: str, channel: int, n: int = 4) -> slice:
    """Where field ``name`` of signal ``channel`` lies in a header of ``n`` signals (bytes)."""
    offset = bdf.GENERAL_HEADER_BYTES
    for field, width in bdf.SIGNAL_FIELDS:
        if field == name:
            return slice(offset + channel * width, offset + (channel + 1) * width)
        offset += width * n
    raise KeyError(name)


@pytest.mark.parametrize("subjects, error", [
    ([], "subjects must be distinct integers in 1..32, got []"),
    ([1, 1], "subjects must be distinct integers in 1..32, got [1, 1]"),
    ([1.7], "subjects must be distinct integers in 1..32, got [1.7]"),
    ([33], "subjects must be distinct integers in 1..32, got [33]"),
])
def test_a_bad_subject_list_is_a_clear_error(raw_set, subjects, error):
    """An empty list returned nothing, a repeated subject was loaded twice and 1.7 read s01."""
    with pytest.raises(ValueError, match=re.escape(error)):
        deap_release.load_preprocessed(raw_set.root, subjects=subjects)


@pytest.mark.parametrize("where, value, error", [
    # each was accepted and failed late (NaN volts, ZeroDivisionError, 'cannot convert float NaN', a raw ValueError)
    (_signal_field("physical_min", 0), "nan", r"'physical minimum' reads 'nan', not a finite number"),
    (_signal_field("digital_max", 0), str(bdf.DIGITAL_MIN), r"channel 'Fp1' has digital range \[-8388608, -8388608\]"),
    (_signal_field("physical_max", 2), "-1000", r"channel 'EXG1' has physical range \[-1000, -1000\] \(empty"),
    (_signal_field("samples_per_record", 1), "0", r"channel 'AF3' has 0 samples per record"),
    (slice(244, 252), "inf", r"'record duration' reads 'inf', not a finite number"),
    (slice(252, 256), "-1", r"gives -1 signals; corrupt header"),
])
def test_impossible_header_numbers_are_clear_errors(tmp_path, where, value, error):
    _write_small(tmp_path / "w.bdf")
    damaged = bytearray((tmp_path / "w.bdf").read_bytes())
    damaged[where] = value.ljust(where.stop - where.start).encode()
    (tmp_path / "damaged.bdf").write_bytes(bytes(damaged))
    with pytest.raises(DataError, match=error):
        bdf.read_header(tmp_path / "damaged.bdf")


def test_a_duplicated_channel_label_is_ambiguous(tmp_path):
    _write_small(tmp_path / "w.bdf")
    damaged = bytearray((tmp_path / "w.bdf").read_bytes())
    damaged[_signal_field("label", 1)] = b"Fp1".ljust(16)
    (tmp_path / "damaged.bdf").write_bytes(bytes(damaged))
    header = bdf.read_header(tmp_path / "damaged.bdf")
    with pytest.raises(DataError, match=r"the channel label 'Fp1' appears 2 times .* \(at \[0, 1\]\): ambiguous"):
        header.index("Fp1")
    assert header.index("EXG1") == 2


def test_read_header_errors(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        bdf.read_header(tmp_path / "none.bdf")
    (tmp_path / "edf.bdf").write_bytes(b"0       " + b" " * 248)
    with pytest.raises(DataError, match="not a BioSemi BDF"):
        bdf.read_header(tmp_path / "edf.bdf")
    _write_small(tmp_path / "w.bdf")
    (tmp_path / "truncated.bdf").write_bytes((tmp_path / "w.bdf").read_bytes()[:-100])
    with pytest.raises(DataError, match="is 19612 bytes but its header describes 19712.*truncated or corrupt"):
        bdf.read_header(tmp_path / "truncated.bdf")
    for field, value, error in ((slice(236, 244), b"-1      ", "gives -1 data records.*Fix: repair"),
                                (slice(244, 252), b"0       ", "record duration of 0 s.*Fix: copy")):
        damaged = bytearray((tmp_path / "w.bdf").read_bytes())
        damaged[field] = value
        (tmp_path / "damaged.bdf").write_bytes(bytes(damaged))
        with pytest.raises(DataError, match=error):
            bdf.read_header(tmp_path / "damaged.bdf")


def test_bdf_writer_rejects_bad_input(tmp_path):
    header, physical, _ = _small_recording()
    with pytest.raises(ValueError, match=r"channels \['EXG1'\] fall outside their physical range"):
        bdf.to_digital(physical * np.array([[1], [1], [2]]), header.channels[:3])
    with pytest.raises(ValueError, match="NaN"):
        bdf.to_digital(np.full((3, 4), np.nan), header.channels[:3])
    with pytest.raises(ValueError, match=r"shape \(3, 1536\).*\(4, 1536\)"):
        bdf.write_bdf(tmp_path / "bad.bdf", np.zeros((3, 1536), np.int32), header)
    good = np.zeros((4, 1536), np.int32)
    with pytest.raises(ValueError, match=r"channel Status's digital values lie in 16777216..16777216, outside its "
                                         r"-8388608..16777215"):
        bdf.write_bdf(tmp_path / "bad.bdf", np.where(np.arange(4)[:, None] == 3, 2**24, good), header)
    with pytest.raises(ValueError, match=r"channel Fp1's digital values lie in 8388608..8388608, outside its "
                                         r"-8388608..8388607"):  # 2^23 was written and read back as -2^23
        bdf.write_bdf(tmp_path / "bad.bdf", np.where(np.arange(4)[:, None] == 0, 2**23, good), header)
    with pytest.raises(ValueError, match=r"digital data must be integers \(dtype float64 would be truncated\)"):
        bdf.write_bdf(tmp_path / "bad.bdf", good + 0.7, header)  # 1.7 was written as 1, NaN as 0
    assert not (tmp_path / "bad.bdf").exists()
    bdf.write_bdf(tmp_path / "edges.bdf", np.where(np.arange(4)[:, None] == 3, 2**24 - 1, good), header)
    assert bdf.read_status(tmp_path / "edges.bdf").max() == 2**24 - 1  # Status: unsigned code | flags


# ----------------------------------------------------------------------------- where DEAP is
def test_deap_source_resolution(tmp_path, monkeypatch, raw_set):
    monkeypatch.delenv("VAEINFO_DEAP", raising=False)
    with pytest.raises(DataError, match="VAEINFO_DEAP.*make_synthetic"):
        deap_format.deap_source()
    monkeypatch.setenv("VAEINFO_DEAP", str(raw_set.root))
    source = deap_format.deap_source()
    assert (source.root, source.origin, source.synthetic, source.n_trials) == (raw_set.root, "VAEINFO_DEAP", True, 4)
    (tmp_path / deap_format.PREPROCESSED_DIR).mkdir()
    real = deap_format.deap_source(tmp_path)  # the argument wins; no manifest: the release's shapes
    assert (real.origin, real.synthetic, real.n_trials, real.n_samples) == ("argument", False, 40, 8064)
    with pytest.raises(DataError, match="does not exist"):
        deap_format.deap_source(tmp_path / "typo")
    (tmp_path / "deap.zip").write_bytes(b"PK")
    with pytest.raises(DataError, match=r"deap.zip \(from argument\) is a file, not a folder\. Fix"):
        deap_format.deap_source(tmp_path / "deap.zip")
    with pytest.raises(DataError, match="holds neither"):
        deap_format.deap_source(tmp_path / deap_format.PREPROCESSED_DIR)


def test_subject_numbers_outside_the_release_and_no_subjects_are_refused(tmp_path, raw_set):
    folder = tmp_path / deap_format.PREPROCESSED_DIR
    folder.mkdir()
    for name in ("s01.dat", "s77.dat"):  # s00 and s77 were listed as subjects 0 and 77
        (folder / name).write_bytes(b"")
    with pytest.raises(DataError, match=r"s77.dat: DEAP files are named sNN.dat / sNN.bdf \(NN = subject 01..32\)"):
        deap_folder.available_subjects(deap_format.deap_source(tmp_path))
    with pytest.raises(ValueError, match=r"source_features needs at least one subject"):
        deap_features.source_features(raw_set, [])


def test_an_empty_preprocessed_folder_does_not_hide_the_recordings(tmp_path, raw_set):
    shutil.copytree(raw_set.root / deap_format.RAW_DIR, tmp_path / deap_format.RAW_DIR)
    (tmp_path / deap_format.PREPROCESSED_DIR).mkdir()  # e.g. an unzip not yet done
    source = deap_format.deap_source(tmp_path)
    # recordings without their ratings file: refused with the subjects (the inventory), not at notebook 06's load
    with pytest.raises(DataError, match=r"participant_ratings.csv is missing: raw recordings need it.*Fix: unzip"):
        deap_folder.available_subjects(source)
    (tmp_path / deap_format.RATINGS_CSV).parent.mkdir()
    shutil.copy(raw_set.root / deap_format.RATINGS_CSV, tmp_path / deap_format.RATINGS_CSV)
    assert deap_folder.available_subjects(source) == [1, 23]
    for bad in (1.7, 0, 33, True):  # 1.7 loaded subject 1
        with pytest.raises(ValueError, match=r"subject must be an integer in \[1, 32\] \(DEAP's participants\)"):
            deap_folder.load_subject(source, bad)
    (tmp_path / deap_format.PREPROCESSED_DIR / "s01.dat").write_bytes(b"")  # any preprocessed file: that folder wins
    assert deap_folder.available_subjects(source) == [1]


def test_synthetic_is_byte_identical_for_a_seed(tmp_path):
    kwargs = dict(n_trials=2, subjects=(23,), video_s=4)
    for folder, seed in (("a", 3), ("b", 3), ("c", 4)):
        deap_synthetic.make_synthetic(tmp_path / folder, seed=seed, **kwargs)
    files = sorted(str(p.relative_to(tmp_path / "a")) for p in (tmp_path / "a").rglob("*") if p.is_file())
    assert len(files) == 4
    match, mismatch, errors = filecmp.cmpfiles(tmp_path / "a", tmp_path / "b", files, shallow=False)
    assert (mismatch, errors) == ([], [])
    _, mismatch, _ = filecmp.cmpfiles(tmp_path / "a", tmp_path / "c", files, shallow=False)
    assert set(mismatch) >= {"data_original/s23.bdf", "data_preprocessed_python/s23.dat"}


def test_synthetic_never_overwrites_real_data_and_replaces_its_own(tmp_path):
    real = tmp_path / "real" / deap_format.RAW_DIR / "s01.bdf"
    real.parent.mkdir(parents=True)
    real.write_bytes(b"precious")
    with pytest.raises(ValueError, match="no synthetic_deap.json: it may be real data"):
        deap_synthetic.make_synthetic(tmp_path / "real", subjects=(1,), n_trials=1, video_s=4)
    assert real.read_bytes() == b"precious"
    ratings = tmp_path / "ratings-only" / deap_format.RATINGS_CSV  # the licence-covered ratings alone: real too
    ratings.parent.mkdir(parents=True)
    ratings.write_text("Participant_id,Trial,Experiment_id\n")
    with pytest.raises(ValueError, match=r"metadata_csv/participant_ratings.csv, ...\) but no synthetic_deap.json"):
        deap_synthetic.make_synthetic(tmp_path / "ratings-only", subjects=(1,), n_trials=1, video_s=4)
    assert ratings.read_text() == "Participant_id,Trial,Experiment_id\n"
    deap_synthetic.make_synthetic(tmp_path / "synth", subjects=(1, 2), n_trials=1, video_s=4, formats=("preprocessed",))
    deap_synthetic.make_synthetic(tmp_path / "synth", subjects=(3,), n_trials=2, video_s=4, formats=("preprocessed",))
    assert [t.subject for t in deap_release.load_preprocessed(tmp_path / "synth")] == [3]


@pytest.mark.parametrize("kwargs, message", [
    ({"subjects": (1.9,)}, r"subjects must be distinct integers in 1..32, got \[1.9\]"),  # was written as s01
    ({"subjects": (1,), "n_trials": True}, r"n_trials must be an integer in \[1, 40\]"),
    ({"subjects": (1,), "n_trials": 2.0}, r"n_trials must be an integer in \[1, 40\]"),
    ({"subjects": (1,), "seed": True}, r"seed must be an integer >= 0, got True"),
    ({"n_subjects": 0}, r"n_subjects must be an integer in \[1, 32\], got 0"),
])
def test_bad_synthetic_arguments_are_refused_before_the_old_set_is_touched(tmp_path, kwargs, message):
    deap_synthetic.make_synthetic(tmp_path, subjects=(2,), n_trials=1, video_s=4, formats=("preprocessed",))
    before = sorted(p.name for p in tmp_path.rglob("*"))
    with pytest.raises(ValueError, match=message):
        deap_synthetic.make_synthetic(tmp_path, video_s=4, formats=("preprocessed",), **kwargs)
    assert sorted(p.name for p in tmp_path.rglob("*")) == before
    assert [t.subject for t in deap_release.load_preprocessed(tmp_path)] == [2]


def _interrupt_at_second_subject(monkeypatch) -> list[int]:
    """Make make_synthetic raise KeyboardInterrupt while it simulates its second subject; the subjects asked for."""
    real, calls = deap_synthetic._synthetic_recording, []

    def interrupted(subject, *args):
        calls.append(subject)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(subject, *args)

    monkeypatch.setattr(deap_synthetic, "_synthetic_recording", interrupted)
    return calls


def test_interrupted_synthetic_rewrite_never_mixes_two_sets(tmp_path, monkeypatch):
    """Rewriting a synthetic folder with another seed, interrupted: the folder refuses to load, then is rewritten."""
    folder, kwargs = tmp_path / "synth", dict(subjects=(1, 2), n_trials=2, video_s=4, formats=("preprocessed",))
    deap_synthetic.make_synthetic(folder, seed=0, **kwargs)
    with monkeypatch.context() as patch:
        _interrupt_at_second_subject(patch)
        with pytest.raises(KeyboardInterrupt):
            deap_synthetic.make_synthetic(folder, seed=5, **kwargs)
    assert not (folder / deap_format.RATINGS_CSV).exists()  # seed 0's ratings are gone with its files
    with pytest.raises(DataError, match="incomplete synthetic DEAP set.*Fix: write it again"):
        deap_format.source_at(folder, "argument")
    source = deap_synthetic.make_synthetic(folder, seed=5, **kwargs)
    assert source.seed == 5 and [t.subject for t in deap_release.load_preprocessed(folder)] == [1, 2]


def test_unreadable_synthetic_manifest_is_a_clear_error(tmp_path):
    deap_synthetic.make_synthetic(tmp_path, subjects=(1,), n_trials=1, video_s=4, formats=("preprocessed",))
    (tmp_path / deap_format.MANIFEST).write_text('{"seed": 0,', encoding="utf-8")
    with pytest.raises(DataError, match="not a readable synthetic DEAP manifest.*JSONDecodeError"):
        deap_format.source_at(tmp_path, "argument")


# ----------------------------------------------------------------------------- preprocessed release format
def test_interrupted_cached_synthetic_leaves_nothing_and_is_written_next_time(tmp_path, monkeypatch):
    """Ctrl-C while the second subject is simulated: no folder (staging or final) is left in the cache."""
    with monkeypatch.context() as patch:
        calls = _interrupt_at_second_subject(patch)
        with pytest.raises(KeyboardInterrupt):
            deap_synthetic.cached_synthetic(2, 1, 4, cache_dir=tmp_path)
    assert calls == [1, 2] and list((tmp_path / deap_synthetic.SYNTHETIC_CACHE).iterdir()) == []
    source = deap_synthetic.cached_synthetic(2, 1, 4, cache_dir=tmp_path)
    assert [t.subject for t in deap_release.load_preprocessed(source.root)] == [1, 2]


def test_cached_synthetic_ignores_a_staging_folder_left_by_a_killed_process(tmp_path):
    """A SIGKILL leaves ``<key>.tmp-<pid>`` behind with files but no manifest; the next process (often with the same
    pid in a container) must not mistake it for real data."""
    first = deap_synthetic.cached_synthetic(1, 1, 4, cache_dir=tmp_path)
    leftover = first.root.with_name(f"{first.root.name}.tmp-{os.getpid()}")
    shutil.copytree(first.root / deap_format.PREPROCESSED_DIR, leftover / deap_format.PREPROCESSED_DIR)
    shutil.rmtree(first.root)
    again = deap_synthetic.cached_synthetic(1, 1, 4, cache_dir=tmp_path)
    assert again.root == first.root and [t.subject for t in deap_release.load_preprocessed(again.root)] == [1]


def test_cached_synthetic_is_rewritten_when_the_generator_changes(tmp_path, monkeypatch):
    """The key hashed the arguments and the package version only: an edit of the generator (its planted signal, its
    noise) read the old set. Its code's hash is in the key now."""
    first = deap_synthetic.cached_synthetic(1, 1, 4, cache_dir=tmp_path)
    assert deap_synthetic.cached_synthetic(1, 1, 4, cache_dir=tmp_path).root == first.root  # the same code: kept
    assert len(deap_synthetic.generator_code()) == 64  # a SHA-256 of the modules' bytes
    monkeypatch.setattr(deap_synthetic, "generator_code", lambda: "an edited generator")
    edited = deap_synthetic.cached_synthetic(1, 1, 4, cache_dir=tmp_path)
    assert edited.root != first.root and [t.subject for t in deap_release.load_preprocessed(edited.root)] == [1]
    monkeypatch.setattr(deap_synthetic.scipy, "__version__", "0.0.1")  # its filters shape the signals
    assert deap_synthetic.cached_synthetic(1, 1, 4, cache_dir=tmp_path).root not in (first.root, edited.root)


def test_the_generator_hash_follows_code_not_documentation(tmp_path, monkeypatch):
    """It hashed the modules' bytes: a docstring edit of the BDF module wrote a new synthetic set (and moved the
    folder recorded in notebook 06's results)."""
    source = Path(deap_synthetic.raw_module.__file__).read_text(encoding="utf-8")
    copies = {"documented": '"""An edited module docstring."""\n# a comment\n' + source.split('"""', 2)[2],
              "edited": source + "\nEXTRA = 1\n"}
    digests = {"unedited": deap_synthetic.generator_code()}
    for name, text in copies.items():
        path = tmp_path / f"raw_{name}.py"
        path.write_text(text, encoding="utf-8")
        monkeypatch.setattr(deap_synthetic.raw_module, "__file__", str(path))
        deap_synthetic.generator_code.cache_clear()
        digests[name] = deap_synthetic.generator_code()
    deap_synthetic.generator_code.cache_clear()
    assert digests["documented"] == digests["unedited"] != digests["edited"]


def test_synthetic_pickle_is_a_python2_protocol2_pickle(raw_set):
    raw = (raw_set.root / deap_format.PREPROCESSED_DIR / "s01.dat").read_bytes()
    assert raw[:2] == b"\x80\x02"
    globals_ = {arg for op, arg, _ in pickletools.genops(raw) if op.name == "GLOBAL"}
    assert globals_ == {"numpy.core.multiarray _reconstruct", "numpy ndarray", "numpy dtype"}  # numpy 1.x names
    with pytest.raises(UnicodeDecodeError):  # Python 2 str content: as with the real files, latin1 is needed
        pickle.loads(raw)
    content = pickle.loads(raw, encoding="latin1")
    assert sorted(content) == ["data", "labels"]
    assert (content["data"].shape, content["data"].dtype) == ((RAW_TRIALS, 40, RELEASE_SAMPLES), np.float64)
    assert (content["labels"].shape, content["labels"].dtype) == ((RAW_TRIALS, 4), np.float64)


def test_load_preprocessed(raw_set, preprocessed):
    assert sorted(preprocessed) == [1, 23]
    trials = preprocessed[23]
    assert trials.ch_names == deap_format.PREPROCESSED_CHANNELS and trials.ch_names[:32] == GENEVA
    assert trials.samples.shape == (RAW_TRIALS, 40, RELEASE_SAMPLES) and trials.sfreq == 128
    assert trials.order == "video" and trials.synthetic and list(trials.trial) == [1, 2, 3, 4]
    assert trials.labels.shape == (RAW_TRIALS, 4) and 1 <= trials.labels.min() <= trials.labels.max() <= 9
    eeg = trials.pick(GENEVA).samples
    assert 3 < eeg.std() < 50  # uV, EEG-like after the 4-45 Hz band-pass
    one = deap_release.load_preprocessed(raw_set.root / deap_format.PREPROCESSED_DIR / "s23.dat")
    np.testing.assert_array_equal(one[0].samples, trials.samples)
    assert [t.subject for t in deap_release.load_preprocessed(raw_set.root, subjects=[23])] == [23]


def test_synthetic_defaults_have_the_release_shapes(tmp_path):
    source = deap_synthetic.make_synthetic(tmp_path, subjects=(5,), formats=("preprocessed",))
    assert (source.n_trials, source.video_s, source.n_samples) == (40, 60.0, 8064)
    (trials,) = deap_release.load_preprocessed(tmp_path)
    assert trials.samples.shape == (40, 40, 8064) and trials.samples.dtype == np.float64
    assert trials.labels.shape == (40, 4) and trials.subject == 5


def _release_folder(tmp_path: Path, content: object, manifest_from: Path | None = None) -> Path:
    """A DEAP folder with one s01.dat holding ``content`` (pickled by Python 3, protocol 2)."""
    folder = tmp_path / "deap"
    (folder / deap_format.PREPROCESSED_DIR).mkdir(parents=True)
    (folder / deap_format.PREPROCESSED_DIR / "s01.dat").write_bytes(pickle.dumps(content, protocol=2))
    if manifest_from is not None:
        shutil.copy(manifest_from / deap_format.MANIFEST, folder / deap_format.MANIFEST)
    return folder


def _release(n_trials=40, n_channels=40, n_samples=8064, low=1.0, high=9.0, dtype=np.float32) -> dict:
    labels = np.linspace(low, high, n_trials * 4).reshape(n_trials, 4)
    return {"data": np.zeros((n_trials, n_channels, n_samples), dtype), "labels": labels}


def test_release_shapes_load_even_from_python3_pickles(tmp_path):
    (trials,) = deap_release.load_preprocessed(_release_folder(tmp_path, _release()))
    assert trials.samples.shape == (40, 40, 8064) and trials.samples.dtype == np.float32 and not trials.synthetic


@pytest.mark.parametrize("make, message", [
    (lambda: _release(n_channels=32), r"'data' has shape \(40, 32, 8064\), expected \(40, 40, 8064\)"),
    (lambda: _release(n_trials=39), r"has shape \(39, 40, 8064\)"),
    (lambda: {**_release(), "extra": 1}, r"keys \['data', 'labels'\]"),
    (lambda: [1, 2], r"holds list"),
    (lambda: {**_release(), "labels": np.ones((40, 4), np.int16)}, "'labels' is int16, expected a float32"),
    (lambda: _release(low=0.0, high=10.0), "ratings span 0..10, outside DEAP's 1..9"),
    (lambda: {**_release(), "data": np.full((40, 40, 8064), np.nan, np.float32)}, "NaN or infinite"),
], ids=["channels", "trials", "keys", "not a dict", "dtype", "ratings", "nan"])
def test_wrong_release_content_is_a_clear_error(tmp_path, make, message):
    folder = _release_folder(tmp_path, make())
    with pytest.raises(DataError, match=message) as err:
        deap_release.load_preprocessed(folder)
    assert "s01.dat" in str(err.value) and "Fix: download DEAP again" in str(err.value)


def test_synthetic_manifest_sets_the_expected_shape(tmp_path, raw_set):
    folder = _release_folder(tmp_path, _release(), manifest_from=raw_set.root)
    with pytest.raises(DataError, match=r"expected \(4, 40, 8064\).*Fix: regenerate the synthetic files"):
        deap_release.load_preprocessed(folder)


class _Exploit:
    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return os.mkdir, (str(self.marker),)


@pytest.mark.parametrize("corruption", ["truncated", "garbage", "empty", "foreign code"])
def test_corrupt_pickles_are_clear_errors(tmp_path, raw_set, corruption):
    good = (raw_set.root / deap_format.PREPROCESSED_DIR / "s01.dat").read_bytes()
    marker = tmp_path / "exploited"
    content = {"truncated": good[: len(good) // 2], "garbage": b"\x00\x01 not a pickle" * 100, "empty": b"",
               "foreign code": pickle.dumps({"data": _Exploit(marker), "labels": 0}, protocol=2)}[corruption]
    folder = tmp_path / "deap" / deap_format.PREPROCESSED_DIR
    folder.mkdir(parents=True)
    (folder / "s01.dat").write_bytes(content)
    with pytest.raises(DataError, match=r"s01\.dat is not a readable DEAP pickle.*corrupt, truncated.*Fix:"):
        deap_release.load_preprocessed(folder.parent)
    assert not marker.exists()  # nothing but numpy arrays is unpickled


def test_missing_preprocessed_files_are_clear_errors(tmp_path, raw_set):
    with pytest.raises(DataError, match=r"missing \['s02.dat'\].*Fix: regenerate"):
        deap_release.load_preprocessed(raw_set.root, subjects=[1, 2])
    with pytest.raises(DataError, match="does not exist"):
        deap_release.load_preprocessed(tmp_path / "nowhere")
    (tmp_path / deap_format.PREPROCESSED_DIR).mkdir()
    with pytest.raises(DataError, match=r"no sNN\.dat files.*Fix: download DEAP again"):
        deap_release.load_preprocessed(tmp_path)


# ----------------------------------------------------------------------------- raw recordings
def test_synthetic_bdf_has_deap_channels_and_status(raw_set):
    for subject, order, flags in ((1, TWENTE, 0), (23, GENEVA, 0x19)):
        path = raw_set.root / deap_format.RAW_DIR / f"s{subject:02d}.bdf"
        header = bdf.read_header(path)
        assert header.labels == list(order + deap_format.RAW_EOG + deap_format.RAW_MISC) + ["Status"]
        assert len(header.labels) == 48 and header.sfreq == 512 and header.record_s == 1
        status = bdf.read_status(path)
        assert set(np.unique(status >> 16)) == {flags}
        events = bdf.find_events(status)
        assert set(events[:, 2]) == {1, 2, 3, 4, 5, 7} and np.sum(events[:, 2] == 4) == RAW_TRIALS
        mne_raw = mne.io.read_raw_bdf(path, eog=list(deap_format.RAW_EOG), misc=list(deap_format.RAW_MISC), stim_channel="Status",
                                      preload=False, verbose="error")
        types = dict(zip(mne_raw.ch_names, mne_raw.get_channel_types()))
        expected = {"Fp1": "eeg", "EXG1": "eog", "EXG5": "misc", "Temp": "misc", "Status": "stim"}
        assert {name: types[name] for name in expected} == expected


def test_raw_to_trials(raw_trials, preprocessed):
    """Raw -> 63-s trials at 128 Hz in Geneva order (s01 was recorded in Twente order) equal the release files,
    which make_synthetic builds from the same recording by channel *position*, with known video starts."""
    for subject, trials in raw_trials.items():
        assert trials.samples.shape == (RAW_TRIALS, 32, RELEASE_SAMPLES) and trials.sfreq == 128
        assert trials.ch_names == GENEVA and trials.order == "video" and list(trials.trial) == [1, 2, 3, 4]
        release = preprocessed[subject]
        np.testing.assert_allclose(trials.samples, release.pick(GENEVA).samples, rtol=0, atol=1e-6)  # uV
        np.testing.assert_array_equal(trials.labels, release.labels)


def test_raw_trials_match_an_independent_pipeline(raw_set, raw_trials):
    """Our reader + scipy (polyphase resampling, Butterworth band-pass, CAR) on the Twente-ordered s01 give the
    same trials as load_raw (MNE) up to the filters' different transition bands: the channels line up by name."""
    path = raw_set.root / deap_format.RAW_DIR / "s01.bdf"
    header = bdf.read_header(path)
    events = bdf.find_events(bdf.read_status(path))
    video, _ = deap_raw.read_ratings(raw_set.root / deap_format.RATINGS_CSV, 1, RAW_TRIALS)
    onset = events[events[:, 2] == 4, 0][np.flatnonzero(video == 1)[0]]  # the presented trial showing video 1
    channels = [header.channels[header.index(name)] for name in GENEVA]
    segment = bdf.to_physical(bdf.read_digital(path, GENEVA, header)[:, onset - 7 * 512: onset + 64 * 512], channels)
    x = scipy.signal.resample_poly(segment, 1, 4, axis=1)
    x = scipy.signal.sosfiltfilt(scipy.signal.butter(4, [4, 45], "bandpass", fs=128, output="sos"), x, axis=1)
    x = (x - x.mean(axis=0))[:, 4 * 128: 4 * 128 + RELEASE_SAMPLES]
    ours = raw_trials[1].samples[0]
    corr = np.corrcoef(x, ours)[:32, 32:]
    assert np.diag(corr).min() > 0.95
    assert np.abs(corr - np.diag(np.diag(corr))).max() < 0.3  # a swapped channel would show here


def test_raw_without_ratings_stays_in_presentation_order(raw_set, raw_trials):
    path = raw_set.root / deap_format.RAW_DIR / "s23.bdf"
    presented = deap_raw.load_raw(path)
    assert presented.order == "presentation" and presented.labels is None and list(presented.trial) == [1, 2, 3, 4]
    video, ratings = deap_raw.read_ratings(raw_set.root / deap_format.RATINGS_CSV, 23, RAW_TRIALS)
    np.testing.assert_array_equal(presented.samples, raw_trials[23].samples[video - 1])
    np.testing.assert_array_equal(ratings, raw_trials[23].labels[video - 1])


def test_load_raw_rejects_other_recordings(tmp_path, bdf_dir):
    shutil.copy(bdf_dir / "test.bdf", tmp_path / "s01.bdf")
    with pytest.raises(DataError, match=r"not a raw DEAP recording: 2048 Hz.*Fix: pass data_original/sNN\.bdf"):
        deap_raw.load_raw(tmp_path / "s01.bdf")


def test_raw_recording_without_status_is_a_clear_error(tmp_path, raw_set):
    """s01 rewritten with every channel but Status: load_raw names the missing channel, never reads on."""
    source = raw_set.root / deap_format.RAW_DIR / "s01.bdf"
    header = bdf.read_header(source)
    keep = [label for label in header.labels if label != "Status"]
    without = replace(header, channels=tuple(header.channels[header.index(label)] for label in keep))
    bdf.write_bdf(tmp_path / "s01.bdf", bdf.read_digital(source, keep, header), without)
    with pytest.raises(DataError, match=r"s01\.bdf is not a raw DEAP recording.*missing \['Status'\]"):
        deap_raw.load_raw(tmp_path / "s01.bdf")


def test_truncated_raw_recording_is_a_clear_error(tmp_path, raw_set):
    """A download cut short: load_raw says the file is truncated (from the header's size), before any decoding."""
    data = (raw_set.root / deap_format.RAW_DIR / "s01.bdf").read_bytes()
    (tmp_path / "s01.bdf").write_bytes(data[: len(data) // 2])
    with pytest.raises(DataError, match=r"s01\.bdf is \d+ bytes but its header describes \d+.*truncated or corrupt"):
        deap_raw.load_raw(tmp_path / "s01.bdf")


def test_wrong_trial_counts_are_clear_errors(raw_set):
    status = bdf.read_status(raw_set.root / deap_format.RAW_DIR / "s01.bdf")
    with pytest.raises(DataError, match=r"4 video starts \(Status code 4\), expected 40"):
        deap_raw.video_onsets(status, 40)
    with pytest.raises(DataError, match="expected columns.*40 rows for participant 1; found 4 rows"):
        deap_raw.read_ratings(raw_set.root / deap_format.RATINGS_CSV, 1, 40)


def _ratings_csv(folder: Path, rows: list[str]) -> Path:
    path = folder / "participant_ratings.csv"
    path.write_text("Participant_id,Trial,Experiment_id,Start_time,Valence,Arousal,Dominance,Liking,Familiarity\n"
                    + "".join(f"{row}\n" for row in rows))
    return path


@pytest.mark.parametrize("rows, message", [
    # a duplicated or out-of-range video was accepted, and load_raw's argsort then gave trials the wrong labels
    (["1,1,2,0,5,5,5,5,1", "1,2,2,0,5,5,5,5,1"], r"Experiment_id distinct videos in 1..40 \(found \[2, 2\]\)"),
    (["1,1,7,0,5,5,5,5,1", "1,2,99,0,5,5,5,5,1"], r"found \[7, 99\]"),
    (["1,1,1,0,5,5,5,5,1", "1,1,2,0,5,5,5,5,1"], r"Trial must be 1..2 once each \(found \[1, 1\]\)"),
    (["1,1,1,0,,5,5,5,1", "1,2,2,0,5,5,5,5,1"], r"a row does not parse \(could not convert string to float: ''\)"),
    (["x,1,1,0,5,5,5,5,1", "1,2,2,0,5,5,5,5,1"], r"a row does not parse \(invalid literal for int"),
])
def test_a_ratings_file_that_does_not_describe_one_session_is_refused(tmp_path, rows, message):
    with pytest.raises(DataError, match=message):
        deap_raw.read_ratings(_ratings_csv(tmp_path, rows), 1, 2)


def test_ratings_come_back_in_presentation_order(tmp_path):
    path = _ratings_csv(tmp_path, ["2,1,1,0,9,9,9,9,1", "1,2,5,0,2,3,4,5,1", "1,1,40,0,1,1.5,2,2.5,1"])
    video, ratings = deap_raw.read_ratings(path, 1, 2)
    assert video.tolist() == [40, 5] and ratings.tolist() == [[1, 1.5, 2, 2.5], [2, 3, 4, 5]]


# ----------------------------------------------------------------------------- features: known answers
FS = 128.0


def test_sine_at_10_hz_puts_its_power_in_alpha():
    t = np.arange(int(60 * FS)) / FS
    x = 20 * np.sin(2 * np.pi * 10 * t) + 0.01 * np.random.default_rng(0).standard_normal(t.size)
    power = deap_features.band_log_power(x, FS)
    assert np.argmax(power) == list(deap_features.BANDS).index("alpha")
    assert power[1] - np.delete(power, 1).max() > 10  # nats: > 20000-fold
    assert power[1] == pytest.approx(np.log(20**2 / 2), abs=0.01)  # a sine of amplitude A has power A^2 / 2


@pytest.mark.parametrize("sigma", [1.0, 5.0])
def test_white_noise_band_power_is_its_share_of_the_variance(sigma):
    """White noise of variance s^2 has one-sided PSD 2 s^2 / fs, so band power = 2 s^2 (hi - lo) / fs."""
    x = sigma * np.random.default_rng(1).standard_normal(int(600 * FS))
    power = deap_features.band_log_power(x, FS)
    expected = [np.log(2 * sigma**2 * (hi - lo) / FS) for lo, hi in deap_features.BANDS.values()]
    np.testing.assert_allclose(power, expected, atol=0.05)  # nats; 0.05 is > 3 SDs of the estimate over 600 s


def test_band_power_is_welchs_estimate():
    x = np.random.default_rng(2).standard_normal((3, 256))
    freqs, psd = scipy.signal.welch(x, fs=FS, nperseg=128, noverlap=64)
    alpha = (freqs >= 8) & (freqs < 13)
    expected = np.log(psd[:, alpha].sum(axis=1) * (freqs[1] - freqs[0]))
    np.testing.assert_allclose(deap_features.band_log_power(x, FS)[:, 1], expected, rtol=1e-12)


def test_welch_segments_that_do_not_fit_are_refused():
    """A 1-s segment in 0.5-s windows was scipy's 'noverlap=64 must be less than nperseg=64'; a 4-s segment on the
    3-s baseline a warning, and the baseline estimated with shorter segments than the windows."""
    trials = _trials(lambda name, t: _bin_centred_sines(t))
    for options, length in (({"window_s": 0.5, "step_s": 0.5}, "0.5 s"), ({"segment_s": 4.0, "window_s": 4.0}, "3 s")):
        with pytest.raises(ValueError, match=rf"segment_s = .* must fit the signal, {length}, .*choose segment_s <="):
            deap_features.extract_features(trials, **options)
    with pytest.raises(ValueError, match=r"\(1 samples\) must fit the signal"):
        deap_features.band_log_power(np.zeros(256), FS, segment_s=0.005)


def _trials(signal_of_channel) -> EEGTrials:
    """One subject, 2 trials of 3 s baseline + 10 s video at 128 Hz; channel c = signal_of_channel(name, t)."""
    t = np.arange(int(13 * FS)) / FS
    samples = np.stack([np.stack([signal_of_channel(name, t) for name in GENEVA])] * 2)
    return EEGTrials(7, np.array([3, 9]), GENEVA, samples, FS, np.array([[6.0, 2, 5, 5], [5.0, 8, 5, 5]]), "video")


def _bin_centred_sines(t: np.ndarray, alpha_gain: np.ndarray | float = 1.0) -> np.ndarray:
    """Sines at 6, 10, 20 and 38 Hz (one per band, whole cycles per 1-s Welch segment): constant band power."""
    return (3 * np.sin(2 * np.pi * 6 * t) + 5 * alpha_gain * np.sin(2 * np.pi * 10 * t + 1)
            + 2 * np.sin(2 * np.pi * 20 * t + 2) + np.sin(2 * np.pi * 38 * t + 3))


def test_feature_layout_and_row_indices():
    features = deap_features.extract_features(_trials(lambda name, t: _bin_centred_sines(t)))
    n_windows = 10 - 2 + 1  # 2-s windows every 1 s over a 10-s video
    assert features.X.dtype == np.float32 and features.X.shape == (2 * n_windows, 4 * 32 + 4 * 5)
    assert features.names[:2] == ("theta:Fp1", "theta:AF3") and "alpha:Fp2-Fp1" in features.names
    assert features.names[-1] == "gamma:FC6-FC5" and len(set(features.names)) == len(features.names)
    np.testing.assert_array_equal(features.trial, np.repeat([3, 9], n_windows))
    np.testing.assert_array_equal(features.window, np.tile(np.arange(n_windows), 2))
    assert set(features.subject) == {7} and features.labels[n_windows, 1] == 8
    np.testing.assert_array_equal(deap_features.high_low(features.labels[:, 0]), np.repeat([True, False], n_windows))


def test_baseline_correction_of_constant_power_is_zero():
    features = deap_features.extract_features(_trials(lambda name, t: _bin_centred_sines(t)))
    assert np.abs(features.X).max() < 1e-4  # nats (float32 features)


def test_asymmetry_is_right_minus_left_of_corrected_power():
    """Symmetric signals give 0; doubling F3's alpha amplitude in the video gives alpha:F3 = ln 4 and
    alpha:F4-F3 = -ln 4, and nothing in the other bands."""
    def signal(name, t):
        return _bin_centred_sines(t, np.where((t >= 3) & (name == "F3"), 2.0, 1.0))

    features = deap_features.extract_features(_trials(signal))
    column = {name: features.X[:, i] for i, name in enumerate(features.names)}
    np.testing.assert_allclose(column["alpha:F3"], np.log(4), atol=1e-4)
    np.testing.assert_allclose(column["alpha:F4-F3"], -np.log(4), atol=1e-4)
    assert np.abs(column["alpha:F4"]).max() < 1e-4
    for pair in ("alpha:Fp2-Fp1", "alpha:F8-F7", "beta:F4-F3", "theta:F4-F3", "gamma:F4-F3"):
        assert np.abs(column[pair]).max() < 1e-4


def test_high_low_threshold_is_strictly_above_five():
    np.testing.assert_array_equal(deap_features.high_low(np.array([1.0, 4.99, 5.0, 5.01, 9.0])), [0, 0, 0, 1, 1])


# ----------------------------------------------------------------------------- the planted signal
def _cv_accuracy(features: deap_features.Features, y: np.ndarray) -> float:
    """Balanced accuracy of a logistic regression, 5-fold cross-validated with whole trials held out."""
    groups = features.subject * 100 + features.trial
    model = make_pipeline(StandardScaler(), LogisticRegression(C=0.1, max_iter=2000))
    return cross_val_score(model, features.X, y, groups=groups, cv=GroupKFold(5), scoring="balanced_accuracy").mean()


@pytest.mark.parametrize("rating", ["valence", "arousal"])
def test_planted_emotion_signal_is_recoverable(classification_set, rating):
    """Valence (frontal alpha asymmetry) and arousal (beta/alpha) separate high/low well above chance
    (balanced accuracy >= 0.70 on 60 trials); the same model on labels shuffled across trials stays at chance
    (mean of 5 shuffles within 0.5 +- 0.1, about 3 SDs for 60 trials)."""
    features = deap_features.extract_features(deap_release.load_preprocessed(classification_set.root))
    y = deap_features.high_low(features.labels[:, deap_format.RATING_NAMES.index(rating)])
    assert 0.3 < y.mean() < 0.7
    assert _cv_accuracy(features, y) >= 0.70
    per_trial = y.reshape(-1, features.window.max() + 1)[:, 0]
    rng = np.random.default_rng(0)
    shuffled = [_cv_accuracy(features, np.repeat(rng.permutation(per_trial), features.window.max() + 1))
                for _ in range(5)]
    assert abs(np.mean(shuffled) - 0.5) < 0.1
