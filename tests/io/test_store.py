"""The Parquet store: round trip, slices, ids, atomic writes, and convert."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from cardiostream.errors import InputError
from cardiostream.io import ParquetStore, convert, read, write_csv, write_edf, write_store
from cardiostream.io import store as store_module
from cardiostream.record import Record
from tests.io.conftest import make_record, write_wfdb


def _assert_same(a: Record, b: Record) -> None:
    np.testing.assert_array_equal(a.signal, b.signal)
    assert a.signal.dtype == b.signal.dtype == np.float32
    assert a.fs == b.fs
    assert a.leads == b.leads
    assert a.name == b.name
    for x, y in [
        (a.annotations.beats.sample, b.annotations.beats.sample),
        (a.annotations.beats.symbol, b.annotations.beats.symbol),
        (a.annotations.rhythms.start, b.annotations.rhythms.start),
        (a.annotations.rhythms.end, b.annotations.rhythms.end),
        (a.annotations.rhythms.label, b.annotations.rhythms.label),
    ]:
        np.testing.assert_array_equal(x, y)


def test_round_trip_and_layout(tmp_path: Path) -> None:
    record = make_record(n_samples=40_000, fs=250.0, leads=("I", "II"), name="r1")
    record.signal[7, 0] = np.nan
    store_dir = tmp_path / "store"
    assert write_store([record], store_dir) == ["r1"]
    partition = store_dir / "record=r1"
    assert sorted(p.name for p in partition.iterdir()) == [
        "annotations.parquet",
        "meta.json",
        "part-0.parquet",
    ]
    parquet = pq.ParquetFile(partition / "part-0.parquet")
    assert parquet.schema_arrow.names == ["sample", "I", "II"]
    assert str(parquet.schema_arrow.field("I").type) == "float"
    assert parquet.metadata.row_group(0).column(1).compression == "ZSTD"
    # 60 s row groups at 250 Hz: 15000 samples each.
    assert [parquet.metadata.row_group(i).num_rows for i in range(3)] == [15000, 15000, 10000]

    store = ParquetStore(store_dir)
    _assert_same(store.read("r1"), record)
    _assert_same(read(partition), record)
    _assert_same(read(store_dir, record="r1"), record)
    _assert_same(read(partition / "part-0.parquet"), record)
    (listed,) = store.list()
    assert listed["id"] == "r1"
    assert listed["fs"] == 250.0
    assert listed["leads"] == ["I", "II"]
    assert listed["n_samples"] == 40_000
    assert listed["n_beats"] == len(record.annotations.beats)


@pytest.mark.shared_data
def test_round_trip_mitdb(tmp_path: Path, shared_data: Path) -> None:
    record = read(shared_data / "mitdb" / "201.hea")
    write_store([record], tmp_path)
    back = read(tmp_path / "record=201")
    _assert_same(back, record)
    assert back.meta["source"].endswith("201.hea")


def test_slices(tmp_path: Path) -> None:
    record = make_record(n_samples=100_000, fs=360.0, leads=("MLII", "V5"), name="s")
    store = ParquetStore(tmp_path)
    store.write(record, row_group_seconds=10.0)
    fs = record.fs
    cases: list[tuple[int | str, int]] = [(0, 0), ("V5", 1), (-1, 1)]
    for lead, column in cases:
        for start_s in [0.0, 9.99, 10.0, 33.3, 250.0]:
            values, got_fs = store.read_slice("s", lead, start_s, 15.0)
            start = round(start_s * fs)
            assert got_fs == fs
            assert values.dtype == np.float32
            np.testing.assert_array_equal(values, record.signal[start : start + 5400, column])
    # A slice running past the end stops at the end.
    tail, _ = store.read_slice("s", 0, 270.0, 15.0)
    np.testing.assert_array_equal(tail, record.signal[round(270.0 * fs) :, 0])


def test_slice_reads_only_its_row_groups(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    record = make_record(n_samples=360_000, fs=250.0, name="long", with_annotations=False)
    store = ParquetStore(tmp_path)
    store.write(record)
    part = store._partition("long")
    assert len(part.row_starts) == 24
    calls: list[list[int]] = []
    original = pq.ParquetFile.read_row_groups

    def spy(self: pq.ParquetFile, row_groups: list[int], **kwargs: object) -> object:
        calls.append(list(row_groups))
        return original(self, row_groups, **kwargs)

    monkeypatch.setattr(pq.ParquetFile, "read_row_groups", spy)
    store.read_slice("long", 0, 125.0, 15.0)  # inside row group 2
    store.read_slice("long", 0, 170.0, 15.0)  # straddles row groups 2 and 3
    assert calls == [[2], [2, 3]]


@pytest.mark.parametrize(
    ("lead", "start_s", "duration_s", "match"),
    [
        (5, 0.0, 1.0, "lead"),
        ("aVR", 0.0, 1.0, "lead"),
        (0, -1.0, 1.0, "start_s"),
        (0, 1e6, 1.0, "start_s"),
        (0, 0.0, 0.0, "duration_s"),
        (0, float("nan"), 1.0, "start_s"),
        (0, 1e308, 1.0, "start_s"),
        (0, float("inf"), 1.0, "start_s"),
        (0, 0.0, float("inf"), "duration_s"),
    ],
)
def test_bad_slices(
    tmp_path: Path, lead: int | str, start_s: float, duration_s: float, match: str
) -> None:
    store = ParquetStore(tmp_path)
    store.write(make_record(name="r"))
    with pytest.raises(InputError, match=match):
        store.read_slice("r", lead, start_s, duration_s)


@pytest.mark.parametrize(
    "bad_id",
    ["..", "../evil", "a/b", "a\\b", "/abs", ".hidden", "a..b", "", "x" * 201, "a b", "a\n", "é"],
)
def test_record_ids_are_checked(tmp_path: Path, bad_id: str) -> None:
    store = ParquetStore(tmp_path / "store")
    with pytest.raises(InputError, match="record id"):
        store.write(make_record(), bad_id)
    with pytest.raises(InputError, match="record id"):
        store.read(bad_id)
    with pytest.raises(InputError, match="record id"):
        store.read_slice(bad_id, 0, 0.0, 1.0)
    with pytest.raises(InputError, match="record id"):
        read(tmp_path / "store", record=bad_id)
    assert sorted(p.name for p in tmp_path.iterdir()) in ([], ["store"])
    assert not (tmp_path / "store").exists() or not any((tmp_path / "store").iterdir())


def test_missing_record_and_store(tmp_path: Path) -> None:
    store = ParquetStore(tmp_path)
    store.write(make_record(name="here"))
    with pytest.raises(InputError, match="'gone'"):
        store.read("gone")
    with pytest.raises(InputError, match="'gone'"):
        store.read_slice("gone", 0, 0.0, 1.0)
    with pytest.raises(InputError, match="no such store"):
        ParquetStore(tmp_path / "nowhere").list()
    with pytest.raises(InputError, match="store folder"):
        read(tmp_path)


def test_failed_write_leaves_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = ParquetStore(tmp_path)
    original = make_record(name="r", seed=1)
    store.write(original)

    def crash(*args: object, **kwargs: object) -> None:
        raise OSError("disk full")

    # The signal file is written, then the write fails before the partition is complete.
    monkeypatch.setattr(store_module, "_write_meta", crash)
    with pytest.raises(OSError, match="disk full"):
        store.write(make_record(name="new"))
    with pytest.raises(OSError, match="disk full"):
        store.write(make_record(name="r", seed=2))  # an overwrite that fails
    monkeypatch.undo()
    assert store.ids() == ["r"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["record=r"]
    _assert_same(store.read("r"), original)


def test_crash_leftovers_are_invisible(tmp_path: Path) -> None:
    store = ParquetStore(tmp_path)
    store.write(make_record(name="r"))
    # What a killed writer leaves: a hidden temporary partition, half written.
    leftover = tmp_path / ".tmp-x-0123"
    leftover.mkdir()
    (leftover / "part-0.parquet").write_bytes(b"PAR1 half")
    assert store.ids() == ["r"]
    assert convert([tmp_path], tmp_path / "copy") == ["r"]


def test_overwrite_replaces(tmp_path: Path) -> None:
    store = ParquetStore(tmp_path)
    store.write(make_record(name="r", seed=1))
    first, _ = store.read_slice("r", 0, 0.0, 1.0)
    newer = make_record(name="r", seed=2, n_samples=5000)
    store.write(newer)
    _assert_same(store.read("r"), newer)
    second, _ = store.read_slice("r", 0, 0.0, 1.0)
    np.testing.assert_array_equal(second, newer.signal[:250, 0])
    assert not np.array_equal(first, second)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["record=r"]


def test_duplicate_lead_names(tmp_path: Path) -> None:
    record = make_record(leads=("ECG", "ECG"), name="dup")
    write_store([record], tmp_path)
    _assert_same(read(tmp_path / "record=dup"), record)
    values, _ = ParquetStore(tmp_path).read_slice("dup", 1, 0.0, 1.0)
    np.testing.assert_array_equal(values, record.signal[:250, 1])
    with pytest.raises(InputError, match="same name"):
        write_store([record, record], tmp_path / "again")


def test_convert_files_and_folders(tmp_path: Path) -> None:
    src = tmp_path / "src"
    (src / "sub").mkdir(parents=True)
    write_csv(make_record(name="a"), src / "a.csv")
    write_edf(make_record(name="b", n_samples=2500), src / "sub" / "b.edf")
    write_wfdb(src / "sub", "c", np.arange(1000).reshape(500, 2) % 40)
    (src / "REFERENCE.csv").write_text("A00001,N\nA00002,A\n")
    loose = make_record(name="loose file")
    write_csv(loose, tmp_path / "loose file.csv")
    skipped: list[Path] = []
    progress: list[tuple[int, int]] = []
    ids = convert(
        [src, tmp_path / "loose file.csv"],
        tmp_path / "store",
        on_skip=lambda path, reason: skipped.append(path),
        progress=lambda done, total, path: progress.append((done, total)),
    )
    assert ids == ["a", "b", "c", "loose_file"]  # folder records by sorted path, then the file
    assert skipped == [src / "REFERENCE.csv"]
    assert progress == [(i, 5) for i in range(1, 6)]
    store = ParquetStore(tmp_path / "store")
    assert store.ids() == sorted(ids)
    assert store.read("c").fs == 250.0
    np.testing.assert_array_equal(store.read("loose_file").signal, loose.signal)
    # A file named directly must be a record.
    with pytest.raises(InputError, match=r"REFERENCE\.csv"):
        convert([src / "REFERENCE.csv"], tmp_path / "store")
    # Two records that would share an id.
    write_csv(make_record(name="a"), src / "sub" / "a.csv")
    with pytest.raises(InputError, match="'a' already taken"):
        convert([src], tmp_path / "other")


def test_huge_duration_stops_at_the_end(tmp_path: Path) -> None:
    store = ParquetStore(tmp_path)
    rec = make_record(name="r")
    store.write(rec)
    values, _ = store.read_slice("r", 0, 1.0, 1e308)
    assert len(values) == rec.signal.shape[0] - round(rec.fs)


def _age_by(path: Path, seconds: float) -> None:
    """Set back the modification times of ``path`` and what is directly in it."""
    for p in [path, *(path.iterdir() if path.is_dir() else [])]:
        st = p.stat()
        os.utime(p, (st.st_atime - seconds, st.st_mtime - seconds))


def test_stale_leftovers_of_killed_writes_are_cleaned(tmp_path: Path) -> None:
    store = ParquetStore(tmp_path)
    store.write(make_record(n_samples=500, name="kept"))
    store.write(make_record(n_samples=500, name="lost"))
    # What a write killed at each step leaves: a half-written partition, a partition
    # swapped out by a rewrite that finished (the record is in place) or did not (it is not),
    # and a half-written user-annotation save.
    half = tmp_path / ".tmp-kept-0123"
    half.mkdir()
    (half / "part-0.parquet").write_bytes(b"PAR1 torn")
    swapped = tmp_path / ".old-kept-4567"
    shutil.copytree(store.partition_dir("kept"), swapped)
    os.replace(store.partition_dir("lost"), tmp_path / ".old-lost-89ab")
    torn = store.partition_dir("kept") / ".user_annotations.json.x1y2"
    torn.write_text('{"version": 1, "annot')
    fresh = tmp_path / ".tmp-kept-cdef"  # a write going on now, in another process
    fresh.mkdir()
    for path in (half, swapped, tmp_path / ".old-lost-89ab", torn):
        _age_by(path, 2 * store_module.STALE_AFTER_S)

    done = store.clean_stale()

    assert sorted(done) == sorted([
        ".tmp-kept-0123", ".old-kept-4567", ".old-lost-89ab -> record=lost",
        "record=kept/.user_annotations.json.x1y2",
    ])  # fmt: skip
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        ".tmp-kept-cdef", "record=kept", "record=lost"
    ]  # fmt: skip
    assert store.ids() == ["kept", "lost"] and store.read("lost").n_samples == 500
    assert sorted(p.name for p in store.partition_dir("kept").iterdir()) == [
        "annotations.parquet", "meta.json", "part-0.parquet"
    ]  # fmt: skip
    assert store.clean_stale() == []
