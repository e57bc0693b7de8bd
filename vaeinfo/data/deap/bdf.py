"""BioSemi BDF files: header, 24-bit samples, the Status channel, and a writer.

Format (BioSemi's 24-bit variant of EDF): a 256-byte general header, then 256 bytes per signal, then
data records. The general header holds, in fixed-width ASCII fields: the identification (byte 0xFF
followed by ``"BIOSEMI"``), patient and recording ids (80 bytes each), start date ``dd.mm.yy`` and time
``hh.mm.ss`` (8 each), the header size in bytes (8), a reserved field that reads ``"24BIT"`` (44), the
number of data records (8), the duration of a record in seconds (8) and the number of signals (4). The
signal header lists, field by field for all signals: label (16), transducer (80), physical dimension
(8), physical minimum and maximum (8 each), digital minimum and maximum (8 each), prefiltering (80),
samples per record (8) and a reserved field (32). Each data record holds, signal after signal, that
signal's samples of the record as 24-bit little-endian two's-complement integers. A digital value d maps
to the physical value ``pmin + (d - dmin) * (pmax - pmin) / (dmax - dmin)`` in the signal's unit.

The ``Status`` channel is a bit field: the low 16 bits carry the trigger codes sent by the stimulus
computer, bits 16-23 BioSemi system flags (new epoch, speed mode, CMS in range, battery low, MK2). Read
it unsigned with :func:`read_status` and mask it with :func:`find_events` before interpreting codes.
This module works on any BDF file; the DEAP-specific layer is :mod:`vaeinfo.data.deap`.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Sequence

import numpy as np

from ...io import atomic_open
from .. import DataError

IDENTIFICATION = b"\xffBIOSEMI"
RESERVED = "24BIT"
GENERAL_HEADER_BYTES = 256
SIGNAL_HEADER_BYTES = 256
BYTES_PER_SAMPLE = 3
FIRST_YEAR = 1985  # EDF's clipping date: two-digit years 85-99 are 1985-1999, 00-84 are 2000-2084
DIGITAL_MIN, DIGITAL_MAX = -(2**23), 2**23 - 1
TRIGGER_MASK = 2**16 - 1  # the low 16 bits of Status; bits 16-23 are BioSemi system flags
# (field name, width in bytes) of the signal header, in file order
SIGNAL_FIELDS = (
    ("label", 16), ("transducer", 80), ("unit", 8), ("physical_min", 8), ("physical_max", 8),
    ("digital_min", 8), ("digital_max", 8), ("prefilter", 80), ("samples_per_record", 8), ("reserved", 32),
)


@dataclass(frozen=True)
class BDFChannel:
    """One signal of a BDF file.

    ``physical_min``/``physical_max`` are in ``unit`` (BioSemi EEG: -262144..262143 uV, i.e. 1/32 uV per
    digital step); ``digital_min``/``digital_max`` are the 24-bit integer range they map to.
    """

    label: str
    samples_per_record: int
    unit: str = "uV"
    physical_min: float = -262144.0
    physical_max: float = 262143.0
    digital_min: int = DIGITAL_MIN
    digital_max: int = DIGITAL_MAX
    transducer: str = "Active Electrode"
    prefilter: str = "HP: DC; LP: 104 Hz"

    @property
    def lsb(self) -> float:
        """Physical size of one digital step, in ``unit``."""
        return (self.physical_max - self.physical_min) / (self.digital_max - self.digital_min)


def status_channel(samples_per_record: int, label: str = "Status") -> BDFChannel:
    """The BioSemi Status channel: digital value = physical value over the full signed 24-bit range."""
    return BDFChannel(label, samples_per_record, "Boolean", float(DIGITAL_MIN), float(DIGITAL_MAX),
                      transducer="Triggers and Status", prefilter="No filtering")


@dataclass(frozen=True)
class BDFHeader:
    """The header of a BDF file.

    Attributes
    ----------
    channels : the signals, in file order.
    n_records : number of data records.
    record_s : duration of one data record, seconds.
    start : recording start (second resolution; the format's two-digit year covers 1985-2084, EDF's rule).
    patient, recording : the free-text id fields (ASCII, at most 80 characters each).
    """

    channels: tuple[BDFChannel, ...]
    n_records: int
    record_s: float = 1.0
    start: datetime = datetime(2000, 1, 1)
    patient: str = "X"
    recording: str = "X"

    @property
    def labels(self) -> list[str]:
        """Channel labels in file order."""
        return [ch.label for ch in self.channels]

    @property
    def sfreq(self) -> float:
        """The common sampling rate in Hz; DataError if the channels' rates differ."""
        rates = {ch.samples_per_record for ch in self.channels}
        if len(rates) != 1:
            raise DataError(f"BDF channels have different sampling rates ({sorted(rates)} samples per record); "
                            "this reader handles uniformly sampled files (all BioSemi recordings are).")
        return rates.pop() / self.record_s

    @property
    def n_samples(self) -> int:
        """Samples per channel in the file."""
        return self.n_records * self.channels[0].samples_per_record

    @property
    def header_bytes(self) -> int:
        """Size of the full header (general + per-signal), bytes."""
        return GENERAL_HEADER_BYTES + SIGNAL_HEADER_BYTES * len(self.channels)

    def index(self, label: str) -> int:
        """Position of the channel named ``label``; DataError naming the file's labels if absent, or if the label
        is not unique (which of them would be a guess)."""
        labels = self.labels
        where = [i for i, x in enumerate(labels) if x == label]
        if not where:
            raise DataError(f"no channel {label!r} in this BDF file; it has {labels}")
        if len(where) > 1:
            raise DataError(f"the channel label {label!r} appears {len(where)} times in this BDF file (at {where}): "
                            f"ambiguous. Fix: rename the duplicates in the signal headers")
        return where[0]


# ----------------------------------------------------------------------------- reading
def read_header(path: str | os.PathLike) -> BDFHeader:
    """Parse and check the header of a BDF file.

    Raises
    ------
    DataError
        Missing file, not a BioSemi BDF (identification), unparsable fields, or a file size that does not
        match the header (truncated download). The reserved field is not checked: ActiView writes
        ``"24BIT"`` there, but other writers leave it blank (e.g. MNE's ``test_bdf_stim_channel.bdf``).
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"BDF file {path} does not exist. Fix: check the path (and the data folder setting).")
    with open(path, "rb") as fh:
        general = fh.read(GENERAL_HEADER_BYTES)
        if len(general) < GENERAL_HEADER_BYTES or general[:8] != IDENTIFICATION:
            raise DataError(f"{path} is not a BioSemi BDF file (it does not start with 0xFF 'BIOSEMI'). "
                            "Fix: pass a .bdf file written by BioSemi ActiView (or vaeinfo.data.deap.bdf.write_bdf).")
        n_channels = _field_int(general[252:256], path, "number of signals")
        if n_channels < 1:
            raise DataError(f"{path}: its header gives {n_channels} signals; corrupt header. Fix: copy or download "
                            f"it again.")
        signal_block = fh.read(SIGNAL_HEADER_BYTES * n_channels)
    header = BDFHeader(
        channels=_parse_channels(signal_block, n_channels, path),
        n_records=_field_int(general[236:244], path, "number of data records"),
        record_s=_field_float(general[244:252], path, "record duration"),
        start=_parse_start(general[168:184], path),
        patient=general[8:88].decode("ascii", "replace").strip(),
        recording=general[88:168].decode("ascii", "replace").strip(),
    )
    if _field_int(general[184:192], path, "header size") != header.header_bytes:
        raise DataError(f"{path}: header size field disagrees with its {n_channels} signals; corrupt header. "
                        f"Fix: copy or download it again.")
    if header.n_records < 0:
        raise DataError(f"{path}: its header gives {header.n_records} data records (BDF's 'unknown', left by a "
                        f"recording that was not closed). Fix: repair the header's record count (bytes 236-243).")
    _check_channels(header.channels, path)
    if not header.record_s > 0:
        raise DataError(f"{path}: its header gives a record duration of {header.record_s:g} s; corrupt header. "
                        f"Fix: copy or download it again.")
    expected = header.header_bytes + header.n_records * _record_bytes(header)
    if path.stat().st_size != expected:
        raise DataError(f"{path} is {path.stat().st_size} bytes but its header describes {expected} "
                        f"({header.n_records} records): truncated or corrupt. Fix: copy or download it again.")
    return header


def read_digital(path: str | os.PathLike, picks: Sequence[str] | None = None,
                 header: BDFHeader | None = None) -> np.ndarray:
    """The raw 24-bit values of some channels, sign-extended.

    Parameters
    ----------
    path : the BDF file.
    picks : channel labels to read, in the order wanted; all channels when None.
    header : the file's header if already read.

    Returns
    -------
    int32 array (n_picks, n_samples) of digital values in [-2**23, 2**23 - 1].
    """
    header = header or read_header(path)
    labels = header.labels if picks is None else list(picks)
    spr = round(header.sfreq * header.record_s)
    records = np.memmap(path, np.uint8, "r", offset=header.header_bytes,
                        shape=(header.n_records, _record_bytes(header)))
    out = np.empty((len(labels), header.n_samples), np.int32)
    for row, label in enumerate(labels):
        first = header.index(label) * spr * BYTES_PER_SAMPLE
        raw = records[:, first:first + spr * BYTES_PER_SAMPLE].reshape(-1, BYTES_PER_SAMPLE).astype(np.int32)
        out[row] = raw[:, 0] | (raw[:, 1] << 8) | (raw[:, 2] << 16)
    return (out << 8) >> 8  # sign-extend bit 23


def read_status(path: str | os.PathLike, label: str = "Status") -> np.ndarray:
    """The Status channel as unsigned 24-bit integers: int64 (n_samples,), trigger codes plus system flags."""
    return read_digital(path, [label])[0].astype(np.int64) & 0xFFFFFF


def to_physical(digital: np.ndarray, channels: Sequence[BDFChannel]) -> np.ndarray:
    """Digital values (n_channels, n_samples) -> float64 physical values in each channel's unit."""
    dmin, scale, pmin = _affine(channels)
    return (digital - dmin) * scale + pmin


def to_digital(physical: np.ndarray, channels: Sequence[BDFChannel]) -> np.ndarray:
    """Physical values (n_channels, n_samples) -> int32 digital values, rounded to the nearest step.

    Raises
    ------
    ValueError
        A value outside a channel's physical range (it would be clipped; widen the range).
    """
    if not np.isfinite(physical).all():
        raise ValueError("physical values contain NaN or infinity; BDF stores finite samples only")
    dmin, scale, pmin = _affine(channels)
    digital = np.rint((physical - pmin) / scale + dmin)
    dmax = np.array([ch.digital_max for ch in channels], float)[:, None]
    bad = np.flatnonzero(((digital < dmin) | (digital > dmax)).any(axis=1))
    if bad.size:
        names = [channels[i].label for i in bad]
        raise ValueError(f"values of channels {names} fall outside their physical range; widen physical_min/max")
    return digital.astype(np.int32)


def find_events(status: np.ndarray, mask: int = TRIGGER_MASK) -> np.ndarray:
    """Trigger events of a Status channel: every change to a non-zero masked value.

    Like ``mne.find_events(raw, mask=mask, mask_type="and", consecutive=True)``: a value already present
    at sample 0 is not an event.

    Parameters
    ----------
    status : (n_samples,) integer Status values (raw, flags included).
    mask : bits that carry codes; the default keeps the low 16 bits (BioSemi trigger inputs).

    Returns
    -------
    int64 array (n_events, 3): sample index, previous masked value, new masked value (the code).
    """
    codes = np.asarray(status, np.int64) & mask
    onsets = np.flatnonzero(np.diff(codes)) + 1
    onsets = onsets[codes[onsets] != 0]
    return np.column_stack([onsets, codes[onsets - 1], codes[onsets]]).astype(np.int64)


# ----------------------------------------------------------------------------- writing
def write_bdf(path: str | os.PathLike, digital: np.ndarray, header: BDFHeader) -> Path:
    """Write a BDF file atomically: the header, then ``digital`` (n_channels, n_samples) as 24-bit records.

    The sample count must be ``header.n_records`` times the samples per record; use
    :func:`to_digital` (and, for Status, the raw code | flags values) to make ``digital``. The same inputs
    give identical bytes. ``digital`` must be integers, each channel within its ``digital_min``..``digital_max``
    (a Status channel, unit ``Boolean``: up to 2^24 - 1, the unsigned code | flags), and the start year within
    1985-2084 (the years a two-digit year can name); ValueError otherwise, and DataError (from
    :attr:`BDFHeader.sfreq`) when the channels' sampling rates differ.
    """
    if not FIRST_YEAR <= header.start.year < FIRST_YEAR + 100:
        raise ValueError(f"the header's start year {header.start.year} cannot be written: BDF's two-digit year covers "
                         f"{FIRST_YEAR}-{FIRST_YEAR + 99}")
    digital = np.asarray(digital)
    if digital.shape != (len(header.channels), header.n_samples):
        raise ValueError(f"digital data has shape {digital.shape}; the header describes "
                         f"({len(header.channels)}, {header.n_samples}) = channels x (records x samples per record)")
    if not np.issubdtype(digital.dtype, np.integer):
        raise ValueError(f"digital data must be integers (dtype {digital.dtype} would be truncated); use to_digital")
    for row, channel in zip(digital, header.channels):
        top = 2**24 - 1 if channel.unit == "Boolean" else channel.digital_max
        if row.size and (row.min() < channel.digital_min or row.max() > top):
            raise ValueError(f"channel {channel.label}'s digital values lie in {row.min()}..{row.max()}, outside "
                             f"its {channel.digital_min}..{top}; use to_digital")
    spr = round(header.sfreq * header.record_s)
    le = digital.astype("<i4").reshape(len(header.channels), header.n_records, spr).transpose(1, 0, 2)
    samples = np.ascontiguousarray(le).view(np.uint8).reshape(header.n_records, -1, 4)[:, :, :BYTES_PER_SAMPLE]
    with atomic_open(path, "wb") as fh:
        fh.write(_header_bytes(header))
        fh.write(np.ascontiguousarray(samples).tobytes())
    return Path(path)


def _header_bytes(header: BDFHeader) -> bytes:
    """The general and signal headers as bytes."""
    general = (
        _ascii(header.patient, 80) + _ascii(header.recording, 80)
        + header.start.strftime("%d.%m.%y%H.%M.%S")
        + _ascii(_number(header.header_bytes), 8) + _ascii(RESERVED, 44)
        + _ascii(_number(header.n_records), 8) + _ascii(_number(header.record_s), 8)
        + _ascii(_number(len(header.channels)), 4)
    )
    signals = "".join(_ascii(_signal_field(ch, name), width) for name, width in SIGNAL_FIELDS for ch in header.channels)
    return IDENTIFICATION + general.encode("ascii") + signals.encode("ascii")


def _signal_field(channel: BDFChannel, name: str) -> str:
    """The text of one signal-header field (the reserved field is left blank)."""
    value = "" if name == "reserved" else getattr(channel, name)
    return value if isinstance(value, str) else _number(value)


def _ascii(text: str, width: int) -> str:
    """Left-justify ``text`` in a field of ``width`` ASCII characters; ValueError if it does not fit."""
    if len(text) > width or not text.isascii():
        raise ValueError(f"BDF header field {text!r} must be ASCII of at most {width} characters")
    return text.ljust(width)


def _number(value: float) -> str:
    """A number as BDF writes it: integers without a decimal point, others in the shortest form."""
    return str(int(value)) if float(value).is_integer() else repr(float(value))


# ----------------------------------------------------------------------------- header parsing helpers
def _parse_channels(block: bytes, n: int, path: Path) -> tuple[BDFChannel, ...]:
    """Split the signal header block into BDFChannel records."""
    if len(block) < SIGNAL_HEADER_BYTES * n:
        raise DataError(f"{path}: header truncated (expected {n} signal headers). Fix: copy the file again.")
    fields, offset = {}, 0
    for name, width in SIGNAL_FIELDS:
        fields[name] = [block[offset + i * width: offset + (i + 1) * width].decode("ascii", "replace").strip()
                        for i in range(n)]
        offset += width * n
    return tuple(
        BDFChannel(
            label=fields["label"][i],
            samples_per_record=_field_int(fields["samples_per_record"][i], path, "samples per record"),
            unit=fields["unit"][i],
            physical_min=_field_float(fields["physical_min"][i], path, "physical minimum"),
            physical_max=_field_float(fields["physical_max"][i], path, "physical maximum"),
            digital_min=_field_int(fields["digital_min"][i], path, "digital minimum"),
            digital_max=_field_int(fields["digital_max"][i], path, "digital maximum"),
            transducer=fields["transducer"][i],
            prefilter=fields["prefilter"][i],
        )
        for i in range(n)
    )


def _parse_start(field: bytes, path: Path) -> datetime:
    """Start date and time from ``dd.mm.yyhh.mm.ss``; the two-digit year by EDF's rule: 85-99 -> 19yy, 00-84 -> 20yy
    (``strptime`` alone reads 69-84 as 1969-1984)."""
    try:
        moment = datetime.strptime(field.decode("ascii"), "%d.%m.%y%H.%M.%S")
    except (UnicodeDecodeError, ValueError):
        raise DataError(f"{path}: unreadable start date/time {field!r} in the header; corrupt file.") from None
    return moment.replace(year=FIRST_YEAR + (moment.year - FIRST_YEAR) % 100)


def _check_channels(channels: Sequence[BDFChannel], path: Path) -> None:
    """DataError naming the channel and field unless every channel has samples and an invertible scaling."""
    for ch in channels:
        if ch.samples_per_record < 1:
            problem = f"{ch.samples_per_record} samples per record"
        elif ch.digital_max <= ch.digital_min:
            problem = f"digital range [{ch.digital_min}, {ch.digital_max}] (the maximum must exceed the minimum)"
        elif ch.physical_max == ch.physical_min:
            problem = f"physical range [{ch.physical_min:g}, {ch.physical_max:g}] (empty: no scaling to volts)"
        else:
            continue
        raise DataError(f"{path}: channel {ch.label!r} has {problem}; corrupt header. Fix: copy or download it "
                        f"again.")


def _field_int(field: bytes | str, path: Path, what: str) -> int:
    """An integer header field; DataError naming the field when it is not one."""
    value = _field_float(field, path, what)
    if not value.is_integer():
        raise DataError(f"{path}: header field '{what}' is {value}, not an integer; corrupt header.")
    return int(value)


def _field_float(field: bytes | str, path: Path, what: str) -> float:
    """A numeric header field; DataError naming the field when it does not parse."""
    text = field.decode("ascii", "replace") if isinstance(field, bytes) else field
    try:
        value = float(text.strip())
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        raise DataError(f"{path}: header field '{what}' reads {text.strip()!r}, not a finite number; corrupt header.")
    return value


def _record_bytes(header: BDFHeader) -> int:
    """Bytes in one data record."""
    return BYTES_PER_SAMPLE * sum(ch.samples_per_record for ch in header.channels)


def _affine(channels: Sequence[BDFChannel]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-channel (digital_min, physical step, physical_min) as (n_channels, 1) columns."""
    column = lambda values: np.array(values, float)[:, None]  # noqa: E731
    return (column([ch.digital_min for ch in channels]), column([ch.lsb for ch in channels]),
            column([ch.physical_min for ch in channels]))
