"""WFDB files that wfdb reads wrongly or never finishes reading: refused with the file named."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import wfdb

import cardiostream.samples
from cardiostream.errors import InputError
from cardiostream.io import read
from tests.io.conftest import write_wfdb

_SAMPLES = Path(cardiostream.samples.__file__).parent / "data"


def _sample(tmp_path: Path, name: str, extensions: tuple[str, ...]) -> Path:
    for extension in extensions:
        shutil.copy(_SAMPLES / f"{name}.{extension}", tmp_path / f"{name}.{extension}")
    return tmp_path / f"{name}.hea"


def _with_record_line(hea: Path, line: str) -> Path:
    lines = hea.read_text().splitlines()
    hea.write_text("\n".join([line, *lines[1:]]) + "\n")
    return hea


@pytest.mark.parametrize("fs", ["+360", "1e3", "3.6e2", "1e9", "360Hz", "0x168", "-360", "nan"])
def test_record_line_fs_refused(tmp_path: Path, fs: str) -> None:
    hea = _sample(tmp_path, "mitdb-201-af", ("hea", "dat"))
    _with_record_line(hea, f"mitdb-201-af 2 {fs} 21600")
    with pytest.raises(InputError, match=r"mitdb-201-af\.hea: record line: fs"):
        read(hea)


@pytest.mark.parametrize("fs", ["360", "360.", "360.0", "360/100", "360/100(5)"])
def test_record_line_fs_accepted(tmp_path: Path, fs: str) -> None:
    hea = _sample(tmp_path, "mitdb-201-af", ("hea", "dat"))
    _with_record_line(hea, f"mitdb-201-af 2 {fs} 21600 12:00:00 01/02/2003")
    assert read(hea).fs == 360.0


def test_record_line_zero_fs_and_extra_fields(tmp_path: Path) -> None:
    hea = _sample(tmp_path, "mitdb-201-af", ("hea", "dat"))
    _with_record_line(hea, "mitdb-201-af 2 0 21600")
    with pytest.raises(InputError, match=r"mitdb-201-af\.hea: record line: fs must be positive"):
        read(hea)
    _with_record_line(hea, "mitdb-201-af 2 360/x 21600")
    with pytest.raises(InputError, match=r"counter frequency"):
        read(hea)
    _with_record_line(hea, "mitdb-201-af 2 360 21600 0:0:0 1/1/2000 extra")
    with pytest.raises(InputError, match=r"record line has 7 fields"):
        read(hea)


@pytest.mark.parametrize(
    ("gain", "problem"),
    [("nan", "not a number"), ("inf", "not a number"), ("abc", "not a number"),
     ("-200", "negative"), ("1e999", "not finite")],
)  # fmt: skip
def test_lying_gain_refused(tmp_path: Path, gain: str, problem: str) -> None:
    hea = _sample(tmp_path, "mitdb-201-af", ("hea", "dat"))
    text = hea.read_text()
    hea.write_text(text.replace("16 200.0(1024)/mV", f"16 {gain}(1024)/mV", 1))
    with pytest.raises(InputError, match=rf"mitdb-201-af\.hea: lead 'MLII': adc gain .*{problem}"):
        read(hea)


def test_zero_gain_is_uncalibrated(tmp_path: Path) -> None:
    hea = write_wfdb(tmp_path, "zero", np.arange(10).reshape(10, 1) * 10, gain=50.0)
    hea.write_text(hea.read_text().replace(" 50.0(0)/mV", " 0(0)/mV", 1))
    record = read(hea)
    np.testing.assert_allclose(record.signal[:, 0], np.arange(10) * 10 / 200.0, rtol=1e-6)


def _hanging_annotations(tmp_path: Path) -> Path:
    hea = _sample(tmp_path, "A00004", ("hea", "mat"))
    wfdb.wrann(
        "A00004",
        "atr",
        sample=np.array([0]),
        symbol=['"'],
        aux_note=["## hello"],
        write_dir=str(tmp_path),
    )
    return hea


def test_annotations_that_hang_wfdb_refused(tmp_path: Path) -> None:
    hea = _hanging_annotations(tmp_path)
    assert (tmp_path / "A00004.atr").stat().st_size == 14
    with pytest.raises(InputError, match=r"A00004\.atr: annotations: definition note '## hello'"):
        read(hea)


def test_annotations_that_hang_wfdb_exit_2(tmp_path: Path) -> None:
    hea = _hanging_annotations(tmp_path)
    result = subprocess.run(
        [sys.executable, "-m", "cardiostream", "info", str(hea)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "A00004.atr" in result.stderr


def test_truncated_annotations_refused(tmp_path: Path) -> None:
    hea = _sample(tmp_path, "mitdb-100-nsr", ("hea", "dat", "atr"))
    atr = tmp_path / "mitdb-100-nsr.atr"
    full = atr.read_bytes()
    assert len(read(hea).annotations.beats) == 74
    for size in (104, 190, 2):
        atr.write_bytes(full[:size])
        with pytest.raises(InputError, match=r"mitdb-100-nsr\.atr: annotations: .*truncated"):
            read(hea)
    atr.write_bytes(full[:103])
    with pytest.raises(InputError, match=r"mitdb-100-nsr\.atr: annotations: odd length"):
        read(hea)
    atr.write_bytes(b"")
    with pytest.raises(InputError, match=r"mitdb-100-nsr\.atr: annotations: no end marker"):
        read(hea)


def test_malformed_annotations_refused(tmp_path: Path) -> None:
    hea = _sample(tmp_path, "mitdb-100-nsr", ("hea", "dat", "atr"))
    atr = tmp_path / "mitdb-100-nsr.atr"
    full = atr.read_bytes()
    atr.write_bytes(full + b"\x05\x04\x00\x00")
    with pytest.raises(InputError, match=r"malformed at byte 190 \(4 bytes after the end marker"):
        read(hea)
    # An AUX field (code 63) of 200 bytes, then the end marker.
    atr.write_bytes(full[:-2] + (63 << 10 | 200).to_bytes(2, "little") + b"\x00\x00")
    with pytest.raises(InputError, match=r"malformed at byte 190 \(a 200-byte note runs past"):
        read(hea)
    atr.write_bytes((60 << 10).to_bytes(2, "little") + b"\x00\x00")
    with pytest.raises(InputError, match=r"malformed at byte 0 \(field code 60"):
        read(hea)
    atr.write_bytes((59 << 10).to_bytes(2, "little") + b"\x00\x00" * 3)
    with pytest.raises(InputError, match=r"malformed at byte 0 \(a skip"):
        read(hea)


def test_annotations_with_skip_and_fields_read(tmp_path: Path) -> None:
    write_wfdb(tmp_path, "long", np.zeros((5000, 1), np.int64) + 1)
    samples = np.array([0, 10, 3000, 4500])
    wfdb.wrann(
        "long",
        "atr",
        samples,
        symbol=["+", "N", "V", "N"],
        subtype=np.array([0, 1, 0, 2]),
        chan=np.array([0, 0, 1, 0]),
        num=np.array([0, 3, 0, 0]),
        aux_note=["(N", "", "", "x"],
        write_dir=str(tmp_path),
    )
    record = read(tmp_path / "long")
    assert record.annotations.beats.sample.tolist() == [10, 3000, 4500]
    assert record.annotations.rhythms.label.tolist() == ["N"]


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("seg1 2 360 1800", "seg1 2 +360 1800", r"seg1\.hea: record line: fs '\+360' is not valid"),
        ("seg1 2 360 1800", "seg1 2 250 1800", r"seg1\.hea: sampling frequency 250 Hz, the record"),
        ("200.0(0)/mV", "abc(0)/mV", r"seg1\.hea: lead 'MLII': adc gain 'abc' is not a number"),
        ("200.0(0)/mV", "-200(0)/mV", r"seg1\.hea: lead 'MLII': adc gain '-200' is negative"),
    ],
)
def test_segment_headers_checked_as_strictly(
    tmp_path: Path, old: str, new: str, message: str
) -> None:
    # wfdb read these segments without the lead, at the record's rate, or with the sign flipped.
    from cardiostream.evaluate.bench.fuzz import write_seeds

    write_seeds(tmp_path / "seeds")
    folder = tmp_path / "seeds" / "wfdb-multi"
    assert read(folder / "multi.hea").signal.shape == (3600, 2)
    segment = folder / "seg1.hea"
    assert old in segment.read_text()
    segment.write_text(segment.read_text().replace(old, new, 1))
    with pytest.raises(InputError, match=message):
        read(folder / "multi.hea")


@pytest.mark.parametrize(
    ("line", "field"),
    [
        ("mitdb-201-af.dat 16 200.0(1024)/mV 1e3 0 0 0 0 MLII", "adc resolution '1e3'"),
        ("mitdb-201-af.dat 16 200.0(1024)/mV 16 0 x 0 0 MLII", "initial value 'x'"),
        ("mitdb-201-af.dat 16 200.0(1024)/mV 16 nan 0 0 0 MLII", "adc zero 'nan'"),
        ("mitdb-201-af.dat 16 200.0(1024)/mV 16 0 0 1.5 0 MLII", "checksum '1.5'"),
        ("mitdb-201-af.dat 16 200.0(1024)/mV 16 0 0 0 -1 MLII", "block size '-1'"),
        ("mitdb-201-af.dat 16 200.0(1e3)/mV 16 0 0 0 0 MLII", "adc gain '200.0(1e3)/mV'"),
        ("mitdb-201-af.dat 16 200.0(1024)/m«V 16 0 0 0 0 MLII", "adc gain '200.0(1024)/m«V'"),
        ("mitdb-201-af.dat 16x 200.0(1024)/mV 16 0 0 0 0 MLII", "format '16x'"),
        # The gain deleted: every later field moves one place left.
        ("mitdb-201-af.dat 16 16 0 1024 0 0 MLII", "block size 'MLII'"),
    ],
)
def test_signal_line_fields_refused(tmp_path: Path, line: str, field: str) -> None:
    # wfdb's parser matches every field optionally: a field it cannot read shifts the rest of
    # the line into the lead's name and leaves the baseline at its default.
    hea = _sample(tmp_path, "mitdb-201-af", ("hea", "dat"))
    lines = hea.read_text().splitlines()
    lines[1] = line
    hea.write_text("\n".join(lines) + "\n", encoding="latin-1")
    with pytest.raises(InputError, match=rf"mitdb-201-af\.hea: lead .*: {re.escape(field)}"):
        read(hea)


@pytest.mark.parametrize("line", ["seg1 1800x", "seg1 1800 7", "seg1", "seg.1 1800", "seg1 -1800"])
def test_segment_lines_refused(tmp_path: Path, line: str) -> None:
    from cardiostream.evaluate.bench.fuzz import write_seeds

    write_seeds(tmp_path / "seeds")
    master = tmp_path / "seeds" / "wfdb-multi" / "multi.hea"
    master.write_text(master.read_text().replace("seg1 1800", line, 1))
    with pytest.raises(InputError, match=rf"multi\.hea: segment line {re.escape(repr(line))}"):
        read(master)


@pytest.mark.parametrize("count", ["4294967296", "3", "1", "0"])
def test_segment_count_must_match_the_segment_lines(tmp_path: Path, count: str) -> None:
    # Found by the fuzzer (seed 3): wfdb made room for 2**32 segments (MemoryError).
    from cardiostream.evaluate.bench.fuzz import write_seeds

    write_seeds(tmp_path / "seeds")
    master = tmp_path / "seeds" / "wfdb-multi" / "multi.hea"
    master.write_text(master.read_text().replace("multi/2 ", f"multi/{count} ", 1))
    with pytest.raises(
        InputError, match=rf"multi\.hea: the record line declares {count} segments, 2 segment"
    ):
        read(master)


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        # Found by the fuzzer (seed 4): wfdb made room for 2**32 signals (MemoryError).
        ("multi/2 2 ", "multi/2 4294967296 ", r"multi\.hea: the record line declares 4294967296 "),
        ("multi/2 2 ", "multi/2 3 ", r"multi\.hea: the record line declares 3 signals, its seg"),
        ("multi/2 2 ", "multi/2 1 ", r"seg1\.hea: 2 signals, the record \(multi\.hea\) declares 1"),
    ],
)
def test_record_signals_must_match_the_segments(
    tmp_path: Path, old: str, new: str, message: str
) -> None:
    from cardiostream.evaluate.bench.fuzz import write_seeds

    write_seeds(tmp_path / "seeds")
    master = tmp_path / "seeds" / "wfdb-multi" / "multi.hea"
    master.write_text(master.read_text().replace(old, new, 1))
    with pytest.raises(InputError, match=message):
        read(master)
