"""CSV records: round trip, time columns, units, and bad files."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from cardiostream.errors import InputError
from cardiostream.io import read, read_csv, write_csv
from cardiostream.io.csv_format import decimal_comma, header_delimiter
from tests.io.conftest import make_record


def test_round_trip(tmp_path: Path) -> None:
    record = make_record(fs=360.0, leads=("MLII", "V5"))
    record.signal[5, 1] = np.nan
    path = write_csv(record, tmp_path / "rec.csv")
    back = read(path)
    np.testing.assert_array_equal(back.signal, record.signal)  # float32 text is exact
    assert back.signal.dtype == np.float32
    assert back.fs == 360.0
    assert back.leads == ["MLII", "V5"]
    assert back.name == "rec"
    np.testing.assert_array_equal(back.annotations.beats.sample, record.annotations.beats.sample)
    np.testing.assert_array_equal(back.annotations.beats.symbol, record.annotations.beats.symbol)
    np.testing.assert_array_equal(back.annotations.rhythms.start, record.annotations.rhythms.start)
    np.testing.assert_array_equal(back.annotations.rhythms.end, record.annotations.rhythms.end)
    np.testing.assert_array_equal(back.annotations.rhythms.label, record.annotations.rhythms.label)


def test_round_trip_fractional_rate(tmp_path: Path) -> None:
    record = make_record(n_samples=1000, fs=128.5, with_annotations=False)
    back = read(write_csv(record, tmp_path / "frac.csv"))
    assert back.fs == 128.5
    assert not back.annotations
    assert not (tmp_path / "frac.annotations.csv").exists()


def test_units_from_header_suffix(tmp_path: Path) -> None:
    path = tmp_path / "units.csv"
    path.write_text("t,I_mV,II (uV),III [V],aVR\n0,1,1000,0.001,2\n0.004,2,2000,0.002,3\n")
    record = read(path)
    assert record.leads == ["I", "II", "III", "aVR"]
    np.testing.assert_allclose(record.signal, [[1, 1, 1, 2], [2, 2, 2, 3]], rtol=1e-6)
    assert record.fs == 250.0
    assert record.meta["units"] == ["mV", "uV", "V", "mV"]


def test_rounded_time_stamps_and_milliseconds(tmp_path: Path) -> None:
    times = np.round(np.arange(3600) / 360.0, 3)  # 3 decimals: steps of 2 and 3 ms
    path = tmp_path / "rounded.csv"
    path.write_text("time_s,II\n" + "".join(f"{t:.3f},{i % 7}\n" for i, t in enumerate(times)))
    assert read(path).fs == 360.0
    path = tmp_path / "ms.csv"
    path.write_text("time_ms,II\n" + "".join(f"{4 * i},{i % 7}\n" for i in range(100)))
    assert read(path).fs == 250.0


def test_sample_index_needs_fs(tmp_path: Path) -> None:
    path = tmp_path / "idx.csv"
    path.write_text("sample,II\n" + "".join(f"{i},{i % 5}\n" for i in range(50)))
    with pytest.raises(InputError, match=r"idx\.csv.*fs"):
        read(path)
    record = read(path, fs=500)
    assert record.fs == 500.0
    assert record.leads == ["II"]


def test_explicit_fs_must_agree(tmp_path: Path) -> None:
    path = write_csv(make_record(fs=250.0), tmp_path / "rec.csv")
    assert read_csv(path, fs=250.0).fs == 250.0
    with pytest.raises(InputError, match=r"rec\.csv.*fs=500"):
        read_csv(path, fs=500.0)


def test_semicolon_and_tab(tmp_path: Path) -> None:
    path = tmp_path / "semi.csv"
    path.write_text("t;II\n0;1\n0.5;2\n1.0;3\n")
    assert read(path).fs == 2.0
    path = tmp_path / "tab.tsv"
    path.write_text("t\tII\n0\t1\n0.5\t2\n1.0\t3\n")
    assert read(path).signal[:, 0].tolist() == [1, 2, 3]


def test_spreadsheet_exports(tmp_path: Path) -> None:
    # A byte-order mark before the header; semicolons with decimal commas.
    path = tmp_path / "bom.csv"
    path.write_text("\ufefft,II\n0,1\n0.5,2\n1.0,3\n", encoding="utf-8")
    assert read(path).fs == 2.0
    path = tmp_path / "comma.csv"
    path.write_text("t;II\n0;1,5\n0,5;-2,25\n1,0;3\n")
    record = read(path)
    assert record.fs == 2.0 and record.signal[:, 0].tolist() == [1.5, -2.25, 3.0]
    path.write_text("t;II\n0;0\n0,5;-2,25\n1,0;3\n")  # the first row shows no decimal mark
    assert read(path).signal[:, 0].tolist() == [0.0, -2.25, 3.0]


def test_annotation_side_file_saved_with_semicolons(tmp_path: Path) -> None:
    record = make_record(fs=360.0, leads=("MLII",))
    path = write_csv(record, tmp_path / "rec.csv")
    side = tmp_path / "rec.annotations.csv"
    side.write_text(side.read_text().replace(",", ";"))
    back = read(path)
    np.testing.assert_array_equal(back.annotations.beats.sample, record.annotations.beats.sample)
    np.testing.assert_array_equal(back.annotations.rhythms.label, record.annotations.rhythms.label)


def test_delimiter_and_decimal_mark() -> None:
    assert header_delimiter("t;II") == ";" and header_delimiter("t\tII") == "\t"
    assert header_delimiter("t,II;x") == "," and header_delimiter("II") == ","
    assert decimal_comma("0;1,5", ";") and decimal_comma("-,5\t2", "\t")
    assert not decimal_comma("0,1", ",") and not decimal_comma("0;1.5", ";")


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("t,II\n0,1\n0.004,2\n0.012,3\n0.016,4\n", "not uniformly sampled"),
        ("t,II\n0,1\n0,2\n", "does not increase"),
        ("t,II\n0,1\n0.1,x\n", "'II' is not numeric"),
        ("t,II\n", "at least two"),
        ("t,II\n0,\n0.1,\n0.2,\n", "no finite"),
        ("II,V1\n1,2\n3,4\n", "fs unknown"),
        ("0,1\n1,2\n", "header"),
        ("", "error reading CSV"),
        ("t\n0\n1\n", "no lead columns"),
    ],
)
def test_bad_csv(tmp_path: Path, text: str, match: str) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(text)
    with pytest.raises(InputError, match=rf"bad\.csv.*{match}"):
        read(path)


@pytest.mark.parametrize("fs", [0, -1, float("nan")])
def test_bad_explicit_fs(tmp_path: Path, fs: float) -> None:
    path = tmp_path / "idx.csv"
    path.write_text("sample,II\n0,1\n1,2\n")
    with pytest.raises(InputError, match=r"idx\.csv.*fs"):
        read(path, fs=fs)


def test_missing_csv(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"absent\.csv"):
        read(tmp_path / "absent.csv")


def test_bad_annotation_side_file(tmp_path: Path) -> None:
    path = write_csv(make_record(), tmp_path / "rec.csv")
    (tmp_path / "rec.annotations.csv").write_text("kind,sample,end,label\nbeat,5,6,Z\n")
    with pytest.raises(InputError, match=r"rec\.annotations\.csv"):
        read(path)


@pytest.mark.parametrize("column", ["II_kV", "II (kV)", "temp_degC", "skin [\u00b0C]"])
def test_units_that_are_no_ecg_are_refused(tmp_path: Path, column: str) -> None:
    path = tmp_path / "units.csv"
    path.write_text(f"t,{column}\n0,1\n0.004,2\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"units\.csv: column .*is not an ECG unit"):
        read(path)


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("latin.csv", "t,II_µV\n0,1\n0.004,2\n"),
        ("latin.tsv", "t\tII_µV\n0\t1\n0.004\t2\n"),
        ("rec.annotations.csv", "kind,sample,end,label_µ\n"),
    ],
)
def test_header_not_utf8(tmp_path: Path, name: str, text: str) -> None:
    path = write_csv(make_record(), tmp_path / "rec.csv")
    (tmp_path / name).write_bytes(text.encode("latin-1"))
    if name.startswith("latin"):
        path = tmp_path / name
    with pytest.raises(InputError, match=re.escape(name) + ": the header is not UTF-8"):
        read(path)
