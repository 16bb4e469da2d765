"""EDF/EDF+ records: round trip, channel choice, annotations, and broken files."""

from __future__ import annotations

from pathlib import Path

import edfio
import numpy as np
import numpy.typing as npt
import pytest

from cardiostream.errors import InputError
from cardiostream.io import read, read_edf, write_edf
from cardiostream.record import Record
from tests.io.conftest import make_record


def _quantum(signal: npt.NDArray[np.float32]) -> npt.NDArray[np.float64]:
    """One 16-bit step of each lead's physical range (the precision EDF keeps)."""
    span = np.nanmax(signal, axis=0).astype(np.float64) - np.nanmin(signal, axis=0)
    return np.asarray(span / 65535.0, dtype=np.float64)


@pytest.mark.parametrize("n_samples", [2500, 2613])  # whole data records, and padded
def test_round_trip(tmp_path: Path, n_samples: int) -> None:
    record = make_record(n_samples=n_samples, fs=250.0, leads=("I", "II"))
    path = write_edf(record, tmp_path / "rec.edf")
    back = read(path)
    assert back.signal.dtype == np.float32
    assert back.signal.shape == record.signal.shape
    assert back.fs == 250.0
    assert back.leads == ["I", "II"]
    assert back.name == "rec"
    error = np.abs(back.signal - record.signal).max(axis=0)
    assert (error <= _quantum(record.signal)).all()
    beats, rhythms = back.annotations.beats, back.annotations.rhythms
    np.testing.assert_array_equal(beats.sample, record.annotations.beats.sample)
    np.testing.assert_array_equal(beats.symbol, record.annotations.beats.symbol)
    np.testing.assert_array_equal(rhythms.start, record.annotations.rhythms.start)
    np.testing.assert_array_equal(rhythms.end, record.annotations.rhythms.end)
    np.testing.assert_array_equal(rhythms.label, record.annotations.rhythms.label)


@pytest.mark.shared_data
def test_round_trip_mitdb(tmp_path: Path, shared_data: Path) -> None:
    record = read(shared_data / "mitdb" / "201.hea")
    back = read(write_edf(record, tmp_path / "201.edf"))
    assert back.fs == 360.0
    assert back.signal.shape == (650000, 2)
    assert (np.abs(back.signal - record.signal).max(axis=0) <= _quantum(record.signal)).all()
    assert len(back.annotations.beats) == len(record.annotations.beats)
    np.testing.assert_array_equal(back.annotations.rhythms.label, record.annotations.rhythms.label)


def test_fractional_rate_and_nan(tmp_path: Path) -> None:
    record = make_record(n_samples=514, fs=128.5, with_annotations=False)
    record.signal[3, 0] = np.nan
    back = read(write_edf(record, tmp_path / "frac.edf"))
    assert back.fs == 128.5
    assert back.signal.shape == (514, 2)
    assert back.signal[3, 0] == pytest.approx(0.0, abs=float(_quantum(record.signal)[0]))


def _write_mixed(path: Path) -> None:
    """EDF+ with ECG at 256 Hz (2 leads), one ECG at 512 Hz, an EEG in uV and a resp channel."""
    t = np.arange(2560) / 256
    ecg = np.sin(2 * np.pi * t)
    signals = [
        edfio.EdfSignal(ecg, 256, label="ECG I", physical_dimension="uV"),
        edfio.EdfSignal(2 * ecg, 256, label="ECG II", physical_dimension="mV"),
        edfio.EdfSignal(np.zeros(5120), 512, label="ECG fast", physical_dimension="mV"),
        edfio.EdfSignal(ecg, 256, label="EEG C3-A2", physical_dimension="uV"),
        edfio.EdfSignal(np.zeros(320), 32, label="Resp", physical_dimension="L/min"),
    ]
    annotations = [
        edfio.EdfAnnotation(1.0, None, "N"),
        edfio.EdfAnnotation(2.0, 3.0, "(AFIB"),
        edfio.EdfAnnotation(4.5, None, "Lights off"),
    ]
    edfio.Edf(signals, annotations=annotations).write(path)


def test_channel_choice_and_annotations(tmp_path: Path) -> None:
    path = tmp_path / "mixed.edf"
    _write_mixed(path)
    record = read_edf(path)
    assert record.leads == ["ECG I", "ECG II"]
    assert record.fs == 256.0
    # ECG I was in uV: one thousandth of the mV values.
    np.testing.assert_allclose(record.signal[:, 0] * 2000, record.signal[:, 1], atol=1e-3)
    dropped = " ".join(record.meta["dropped_signals"])
    assert "ECG fast" in dropped and "EEG" in dropped and "Resp" in dropped
    assert record.annotations.beats.sample.tolist() == [256]
    assert record.annotations.rhythms.start.tolist() == [512]
    assert record.annotations.rhythms.end.tolist() == [512 + 768]
    assert record.annotations.rhythms.label.tolist() == ["AFIB"]
    assert record.meta["edf_annotations"] == [
        {"onset": 4.5, "duration": None, "text": "Lights off"}
    ]


def test_no_voltage_channel(tmp_path: Path) -> None:
    path = tmp_path / "resp.edf"
    edfio.Edf([edfio.EdfSignal(np.arange(100.0), 10, label="Resp", physical_dimension="")]).write(
        path
    )
    with pytest.raises(InputError, match=r"resp\.edf.*voltage"):
        read(path)


def test_truncated_and_lying_header(tmp_path: Path) -> None:
    data = write_edf(make_record(n_samples=2500), tmp_path / "ok.edf").read_bytes()
    truncated = tmp_path / "short.edf"
    truncated.write_bytes(data[:-500])
    with pytest.raises(InputError, match=r"short\.edf.*truncated"):
        read(truncated)
    lying = bytearray(data)
    lying[236:244] = b"99      "  # number of data records
    (tmp_path / "lie.edf").write_bytes(bytes(lying))
    with pytest.raises(InputError, match=r"lie\.edf.*declares 99"):
        read(tmp_path / "lie.edf")
    (tmp_path / "stub.edf").write_bytes(data[:100])
    with pytest.raises(InputError, match=r"stub\.edf"):
        read(tmp_path / "stub.edf")


def test_empty_record(tmp_path: Path) -> None:
    data = bytearray(write_edf(make_record(n_samples=250), tmp_path / "one.edf").read_bytes())
    header_bytes = int(data[184:192])
    data[236:244] = b"0       "
    (tmp_path / "empty.edf").write_bytes(bytes(data[:header_bytes]))
    with pytest.raises(InputError, match=r"empty\.edf"):
        read(tmp_path / "empty.edf")


@pytest.mark.parametrize("duration", [b"0       ", b"-1      ", b"x       "])
def test_bad_record_duration(tmp_path: Path, duration: bytes) -> None:
    data = bytearray(write_edf(make_record(n_samples=500), tmp_path / "ok.edf").read_bytes())
    data[244:252] = duration  # fs = samples per data record / duration
    (tmp_path / "bad.edf").write_bytes(bytes(data))
    with pytest.raises(InputError, match=r"bad\.edf.*data record duration"):
        read(tmp_path / "bad.edf")


def test_edf_detected_by_content(tmp_path: Path) -> None:
    path = write_edf(make_record(n_samples=500), tmp_path / "rec.edf")
    renamed = tmp_path / "rec.bin"
    path.rename(renamed)
    assert read(renamed).signal.shape == (500, 2)


def _signal_field(data: bytearray, field: int, signal: int) -> slice:
    """The bytes of one per-signal header field (0: physical min ... 3: digital max)."""
    ns = int(data[252:256])
    start = 256 + ns * (16 + 80 + 8) + ns * 8 * field + 8 * signal
    return slice(start, start + 8)


@pytest.mark.parametrize(
    ("field", "value", "match"),
    [
        (0, b"abc", "physical min is not a finite number"),
        (1, b"inf", "physical max is not a finite number"),
        (2, b"x", "digital min is not a finite number"),
        (3, b"nan", "digital max is not a finite number"),
        (1, b"COPY", "physical minimum equals physical maximum"),
        (2, b"32767", "digital minimum 32767 is not below"),
        (3, b"-32768", "digital minimum -32768 is not below"),
    ],
)
def test_lying_signal_ranges(tmp_path: Path, field: int, value: bytes, match: str) -> None:
    data = bytearray(write_edf(make_record(n_samples=500), tmp_path / "ok.edf").read_bytes())
    if value == b"COPY":
        value = bytes(data[_signal_field(data, 0, 0)]).strip()
    data[_signal_field(data, field, 0)] = value.ljust(8)
    (tmp_path / "bad.edf").write_bytes(bytes(data))
    with pytest.raises(InputError, match=rf"bad\.edf: signal 'I': {match}"):
        read(tmp_path / "bad.edf")


def test_inverted_physical_range_is_read(tmp_path: Path) -> None:
    record = make_record(n_samples=500)
    data = bytearray(write_edf(record, tmp_path / "ok.edf").read_bytes())
    low, high = data[_signal_field(data, 0, 0)], data[_signal_field(data, 1, 0)]
    data[_signal_field(data, 0, 0)], data[_signal_field(data, 1, 0)] = high, low
    (tmp_path / "flip.edf").write_bytes(bytes(data))
    back = read(tmp_path / "flip.edf")
    q = float(_quantum(record.signal)[0])
    # Swapping the ends maps x to (low + high) - x.
    mirrored = float(low) + float(high) - record.signal[:, 0]
    np.testing.assert_allclose(back.signal[:, 0], mirrored, atol=2 * q)


def test_start_time_and_device_round_trip(tmp_path: Path) -> None:
    signal = np.sin(np.arange(2500) / 20.0)[:, None].astype(np.float32)
    meta = {"start": "2026-01-05T22:15:30", "device": "Acme Patch 3"}
    rec = Record(signal=signal, fs=250.0, leads=["ECG"], name="day", meta=meta)
    back = read(write_edf(rec, tmp_path / "day.edf"))
    assert back.meta["start"] == "2026-01-05T22:15:30"
    assert back.meta["device"] == "Acme Patch 3"
    # Without them the file says nothing, rather than a made-up date or device.
    plain = read(write_edf(Record(signal=signal, fs=250.0, leads=["ECG"], name="p"),
                           tmp_path / "plain.edf"))  # fmt: skip
    assert "start" not in plain.meta and "device" not in plain.meta
    bad = Record(signal=signal, fs=250.0, leads=["ECG"], name="b", meta={"start": "yesterday"})
    with pytest.raises(InputError, match="ISO 8601"):
        write_edf(bad, tmp_path / "bad.edf")
