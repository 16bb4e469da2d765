"""WFDB records: PhysioNet data, units, missing samples, annotations, and broken files."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest
import wfdb

from cardiostream.errors import InputError
from cardiostream.io import read, read_wfdb
from cardiostream.record import BEAT_SYMBOLS
from tests.io.conftest import write_wfdb


@pytest.mark.shared_data
def test_mitdb_100(shared_data: Path) -> None:
    record = read(shared_data / "mitdb" / "100.hea")
    assert record.signal.dtype == np.float32
    assert record.signal.shape == (650000, 2)
    assert record.fs == 360.0
    assert record.leads == ["MLII", "V5"]
    assert record.name == "100"
    assert len(record.annotations.beats) == 2273
    assert set(record.annotations.beats.symbol.tolist()) <= BEAT_SYMBOLS
    # Same values as wfdb's own physical conversion, in mV.
    reference = wfdb.rdrecord(str(shared_data / "mitdb" / "100")).p_signal
    np.testing.assert_allclose(record.signal, reference, atol=1e-6)


@pytest.mark.shared_data
def test_mitdb_path_without_extension_and_dat(shared_data: Path) -> None:
    by_stem = read(shared_data / "mitdb" / "100")
    by_dat = read(shared_data / "mitdb" / "100.dat")
    assert by_stem.signal.shape == by_dat.signal.shape == (650000, 2)


@pytest.mark.shared_data
def test_mitdb_201_rhythms(shared_data: Path) -> None:
    record = read(shared_data / "mitdb" / "201.hea")
    rhythms = record.annotations.rhythms
    labels = rhythms.label.tolist()
    assert "AFIB" in labels
    assert all(not lab.startswith("(") and "\x00" not in lab for lab in labels)
    # Intervals tile the record from the first change to the end, with no repeats in a row.
    assert (rhythms.end[:-1] == rhythms.start[1:]).all()
    assert rhythms.end[-1] == record.n_samples
    assert all(a != b for a, b in itertools.pairwise(labels))
    afib = rhythms.label == "AFIB"
    assert (rhythms.end[afib] - rhythms.start[afib]).sum() / record.fs > 60


@pytest.mark.shared_data
def test_cinc2017_mat(shared_data: Path) -> None:
    record = read(shared_data / "cinc2017" / "A00004.hea")
    assert record.fs == 300.0
    assert record.signal.shape == (9000, 1)
    assert record.signal.dtype == np.float32
    assert record.name == "A00004"
    assert not record.annotations
    assert read(shared_data / "cinc2017" / "A00004.mat").signal.shape == (9000, 1)


def test_units_and_missing_samples(tmp_path: Path) -> None:
    digital = np.array([[0, 10], [200, -32768], [-400, 30]])
    hea = write_wfdb(tmp_path, "uv", digital, units=["uV", "mV"], gain=2.0)
    record = read(hea)
    np.testing.assert_allclose(record.signal[:, 0], [0.0, 0.1, -0.2], rtol=1e-6)
    assert record.signal[0, 1] == 5.0
    assert np.isnan(record.signal[1, 1])
    assert record.signal.dtype == np.float32


def test_format_212_missing_samples(tmp_path: Path) -> None:
    digital = np.array([[5, -2048, 7, 8]]).T
    record = read(write_wfdb(tmp_path, "f212", digital, fmt="212", gain=100.0))
    assert np.isnan(record.signal[1, 0])
    np.testing.assert_allclose(record.signal[[0, 2, 3], 0], [0.05, 0.07, 0.08], rtol=1e-6)


def test_non_voltage_channel_dropped(tmp_path: Path) -> None:
    digital = np.arange(20).reshape(10, 2)
    hea = write_wfdb(tmp_path, "bp", digital, units=["mV", "mmHg"], sig_name=["II", "ABP"])
    record = read(hea)
    assert record.leads == ["II"]
    assert "ABP" in record.meta["dropped_signals"][0]


def test_annotations_beats_and_rhythms(tmp_path: Path) -> None:
    digital = np.zeros((1000, 1), np.int64)
    digital[::7, 0] = 100
    write_wfdb(tmp_path, "ann", digital)
    wfdb.wrann(
        "ann",
        "atr",
        np.array([0, 100, 150, 300, 400, 600, 800]),
        symbol=["+", "N", "~", "V", "+", "+", "N"],
        aux_note=["(N", "", "", "", "(AFIB", "(AFIB", ""],
        write_dir=str(tmp_path),
    )
    record = read(tmp_path / "ann")
    assert record.annotations.beats.sample.tolist() == [100, 300, 800]
    assert record.annotations.beats.symbol.tolist() == ["N", "V", "N"]
    rhythms = record.annotations.rhythms
    assert rhythms.start.tolist() == [0, 400]
    assert rhythms.end.tolist() == [400, 1000]
    assert rhythms.label.tolist() == ["N", "AFIB"]


def test_choose_annotator(tmp_path: Path) -> None:
    write_wfdb(tmp_path, "rec", np.zeros((500, 1), np.int64) + 3)
    wfdb.wrann("rec", "qrs", np.array([10, 20]), symbol=["N", "N"], write_dir=str(tmp_path))
    assert len(read(tmp_path / "rec").annotations.beats) == 0  # No .atr: no annotations.
    assert len(read(tmp_path / "rec", annotator="qrs").annotations.beats) == 2
    with pytest.raises(InputError, match=r"rec\.ecg"):
        read_wfdb(tmp_path / "rec", annotator="ecg")


def _copy_record(tmp_path: Path) -> Path:
    digital = (np.arange(2000).reshape(1000, 2) % 50) + 1
    return write_wfdb(tmp_path, "base", digital)


def test_truncated_dat(tmp_path: Path) -> None:
    hea = _copy_record(tmp_path)
    dat = tmp_path / "base.dat"
    dat.write_bytes(dat.read_bytes()[:-100])
    with pytest.raises(InputError, match=r"base\.dat.*truncated"):
        read(hea)


def test_header_lies_about_length(tmp_path: Path) -> None:
    hea = _copy_record(tmp_path)
    text = hea.read_text()
    hea.write_text(text.replace("2 250 1000", "2 250 2000", 1))
    with pytest.raises(InputError, match=r"base\.dat"):
        read(hea)
    hea.write_text(text.replace("2 250 1000", "2 250 500", 1))
    with pytest.raises(InputError, match=r"base\.dat.*declares 500"):
        read(hea)


def test_header_lies_about_signal_count(tmp_path: Path) -> None:
    hea = _copy_record(tmp_path)
    lines = hea.read_text().splitlines()
    # One signal declared, two interleaved in the data file.
    hea.write_text("\n".join([lines[0].replace("base 2", "base 1"), lines[1]]) + "\n")
    with pytest.raises(InputError, match=r"base\.dat.*1 signal"):
        read(hea)
    # Two declared, one described.
    hea.write_text("\n".join([lines[0], lines[1]]) + "\n")
    with pytest.raises(InputError, match=r"base\.hea.*declares 2 signals"):
        read(hea)


def test_missing_files(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="nothing"):
        read(tmp_path / "nothing.hea")
    with pytest.raises(InputError, match="nothing"):
        read(tmp_path / "nothing")
    hea = _copy_record(tmp_path)
    (tmp_path / "base.dat").unlink()
    with pytest.raises(InputError, match=r"base\.dat"):
        read(hea)


def test_bad_sampling_rate(tmp_path: Path) -> None:
    hea = _copy_record(tmp_path)
    for fs in ("0", "-250"):
        hea.write_text(hea.read_text().replace(" 250 1000", f" {fs} 1000", 1))
        with pytest.raises(InputError, match=r"base\.hea"):
            read(hea)
        hea = _copy_record(tmp_path)


def test_empty_and_all_missing(tmp_path: Path) -> None:
    hea = write_wfdb(tmp_path, "nan", np.full((50, 1), -32768))
    with pytest.raises(InputError, match=r"nan\.hea.*no finite"):
        read(hea)
    hea = _copy_record(tmp_path)
    hea.write_text(hea.read_text().replace("2 250 1000", "2 250 0", 1))
    (tmp_path / "base.dat").write_bytes(b"")
    with pytest.raises(InputError, match=r"base\.hea.*0 samples"):
        read(hea)


def test_garbage_header(tmp_path: Path) -> None:
    hea = tmp_path / "junk.hea"
    hea.write_bytes(b"\x00\xff this is not a header\n")
    with pytest.raises(InputError, match=r"junk\.hea"):
        read(hea)
