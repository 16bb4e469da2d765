"""read(): choosing the reader, plain Parquet tables, and inputs that are not records."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from cardiostream.errors import InputError
from cardiostream.io import detect_format, find_records, read, write_csv, write_edf, write_store
from tests.io.conftest import make_record, write_wfdb


def test_detect_format(tmp_path: Path) -> None:
    record = make_record(name="r")
    write_csv(record, tmp_path / "r.csv")
    write_edf(record, tmp_path / "r.edf")
    write_wfdb(tmp_path, "w", np.zeros((10, 1), np.int64) + 1)
    write_store([record], tmp_path / "store")
    assert detect_format(tmp_path / "r.csv") == "csv"
    assert detect_format(tmp_path / "r.edf") == "edf"
    assert detect_format(tmp_path / "w.hea") == "wfdb"
    assert detect_format(tmp_path / "w") == "wfdb"
    assert detect_format(tmp_path / "w.dat") == "wfdb"
    assert detect_format(tmp_path / "store" / "record=r") == "partition"
    assert detect_format(tmp_path / "store" / "record=r" / "part-0.parquet") == "parquet"
    assert find_records(tmp_path) == [
        tmp_path / "r.csv",
        tmp_path / "r.edf",
        tmp_path / "store" / "record=r",
        tmp_path / "w.hea",
    ]


def test_plain_parquet_table(tmp_path: Path) -> None:
    signal = np.random.default_rng(0).standard_normal((1000, 2)).astype(np.float32)
    table = pa.table({"time_s": np.arange(1000) / 500.0, "II_uV": signal[:, 0], "V1": signal[:, 1]})
    pq.write_table(table, tmp_path / "plain.parquet")
    record = read(tmp_path / "plain.parquet")
    assert record.fs == 500.0
    assert record.leads == ["II", "V1"]
    assert record.name == "plain"
    np.testing.assert_allclose(record.signal[:, 0], signal[:, 0] / 1000, rtol=1e-6)
    np.testing.assert_array_equal(record.signal[:, 1], signal[:, 1])
    pq.write_table(table.drop(["time_s"]), tmp_path / "nofs.parquet")
    with pytest.raises(InputError, match=r"nofs\.parquet.*fs"):
        read(tmp_path / "nofs.parquet")
    assert read(tmp_path / "nofs.parquet", fs=500).fs == 500.0


def test_fs_and_annotator_must_fit(tmp_path: Path) -> None:
    path = write_edf(make_record(), tmp_path / "r.edf")
    assert read(path, fs=250.0).fs == 250.0
    with pytest.raises(InputError, match=r"r\.edf.*fs=360"):
        read(path, fs=360.0)
    with pytest.raises(InputError, match=r"r\.edf.*annotator"):
        read(path, annotator="atr")


@pytest.mark.parametrize(
    ("name", "content", "match"),
    [
        ("notes.txt", b"hello, world\n", "unknown record format"),
        ("image.png", b"\x89PNG\r\n\x1a\n", "unknown record format"),
        ("empty.parquet", b"", "error reading Parquet"),
        ("broken.parquet", b"PAR1 not really", "error reading Parquet"),
        ("fake.edf", b"0       " + b"x" * 300, "fake.edf"),
        ("orphan.dat", b"\x00" * 10, "unknown record format"),
    ],
)
def test_not_a_record(tmp_path: Path, name: str, content: bytes, match: str) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(InputError, match=match) as info:
        read(path)
    assert name in str(info.value)
    assert "\n" not in str(info.value)


def test_missing_paths(tmp_path: Path) -> None:
    for name in ["none.hea", "none", "none.edf", "none.csv", "none.parquet", "none.xyz"]:
        with pytest.raises(InputError, match=name):
            read(tmp_path / name)
    with pytest.raises(InputError, match="a folder, not a record"):
        read(tmp_path)
