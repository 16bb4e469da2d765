"""Reviewers' annotations beside a record: checks, atomic saves, rewrites, CSV and WFDB."""

from __future__ import annotations

import csv
import io
import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import wfdb

from cardiostream.errors import InputError
from cardiostream.io import ParquetStore
from cardiostream.io import user_annotations as ua
from tests.io.conftest import make_record

FS = 250.0  # make_record's rate; its records last 10 s


@pytest.fixture
def store(tmp_path: Path) -> ParquetStore:
    store = ParquetStore(tmp_path / "store")
    store.write(make_record(n_samples=2500, fs=FS, name="r1"))
    return store


def _fields(**changes: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {"kind": "af", "status": "marked", "start_s": 1.0, "end_s": 2.5}
    fields.update(changes)
    return fields


def test_add_update_remove_round_trip(store: ParquetStore) -> None:
    assert ua.load(store, "r1") == []
    later = ua.add(store, "r1", _fields(start_s=5.0, end_s=6.0, note="late"), "alice")
    first = ua.add(store, "r1", _fields(event={"start_s": 0.9, "end_s": 2.6}), "bob")
    assert len(first.id) == 32 and first.author == "bob" and first.created == first.updated
    assert first.created.endswith("Z") and first.event == ua.ReviewedEvent(0.9, 2.6, None)
    assert [a.id for a in ua.load(store, "r1")] == [first.id, later.id]  # sorted by start

    changed = ua.update(
        store, "r1", later.id, _fields(kind="noise", status="rejected", start_s=5, end_s=6), "carol"
    )
    assert (changed.id, changed.created, changed.author) == (later.id, later.created, "carol")
    assert changed.kind == "noise" and changed.note == "" and changed.updated >= later.updated
    assert ua.load(store, "r1") == [first, changed]

    ua.remove(store, "r1", first.id)
    assert ua.load(store, "r1") == [changed]
    with pytest.raises(ua.NoSuchAnnotation):
        ua.remove(store, "r1", first.id)
    with pytest.raises(ua.NoSuchAnnotation):
        ua.update(store, "r1", first.id, _fields(), "bob")


def test_the_file_sits_beside_the_record_as_json(store: ParquetStore) -> None:
    added = ua.add(store, "r1", _fields(), "alice")
    path = store.partition_dir("r1") / "user_annotations.json"
    assert ua.annotation_path(store, "r1") == path
    doc = json.loads(path.read_text(encoding="utf-8"))
    assert doc == {"version": 1, "annotations": [added.to_dict()]}
    assert sorted(p.name for p in path.parent.iterdir() if p.name.startswith(".")) == []
    assert ua.load(ParquetStore(store.path), "r1") == [added]


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"end_s": 0.5}, "end_s"),
        ({"end_s": 1.0}, "end_s"),
        ({"end_s": 10.5}, "end_s"),
        ({"start_s": -1.0}, "start_s"),
        ({"start_s": float("nan")}, "start_s"),
        ({"end_s": float("inf")}, "end_s"),
        ({"start_s": 10**400}, "start_s"),
        ({"start_s": True}, "start_s"),
        ({"start_s": "1"}, "start_s"),
        ({"kind": "vt"}, "kind"),
        ({"status": "maybe"}, "status"),
        ({"note": "x" * 2001}, "note"),
        ({"note": "\ud800"}, "note"),
        ({"note": 3}, "note"),
        ({"colour": "red"}, "colour"),
        ({"event": [1, 2]}, "event"),
        ({"event": {"start_s": 2.0, "end_s": 1.0}}, "event.end_s"),
        ({"event": {"start_s": 1.0, "end_s": 2.0, "confidence": 1.5}}, "event.confidence"),
        ({"event": {"start_s": 1.0, "end_s": 2.0, "extra": 1}}, "event"),
    ],
)
def test_bad_fields_are_refused_naming_the_field(
    store: ParquetStore, changes: dict[str, Any], field: str
) -> None:
    with pytest.raises(InputError, match=rf"^{field}: "):
        ua.add(store, "r1", _fields(**changes), "alice")
    assert ua.load(store, "r1") == []


def test_limits_that_hold(store: ParquetStore) -> None:
    added = ua.add(store, "r1", _fields(start_s=0, end_s=10.0, note="y" * 2000), "a")
    assert (added.start_s, added.end_s) == (0.0, 10.0) and added.status == "marked"
    assert ua.check_fields({"kind": "normal", "start_s": 0, "end_s": 1})["status"] == "marked"
    with pytest.raises(InputError, match=r"^id: "):
        ua.remove(store, "r1", "../meta.json")


def test_unknown_record(store: ParquetStore) -> None:
    with pytest.raises(InputError, match="no record"):
        ua.load(store, "nope")
    with pytest.raises(InputError, match="record id"):
        ua.load(store, "../r1")


@pytest.mark.parametrize(
    "text", ["{not json", '{"annotations": 3}', "[]", '{"annotations": [{"id": "x"}]}', "\xff"]
)
def test_a_corrupt_file_gives_a_clear_error_and_is_not_overwritten(
    store: ParquetStore, text: str
) -> None:
    path = ua.annotation_path(store, "r1")
    path.write_bytes(text.encode("latin-1"))
    with pytest.raises(ua.AnnotationStoreError, match=r"user_annotations\.json of record 'r1'"):
        ua.load(store, "r1")
    with pytest.raises(ua.AnnotationStoreError, match="repair or remove"):
        ua.add(store, "r1", _fields(), "alice")
    assert path.read_bytes() == text.encode("latin-1")


@pytest.mark.parametrize("failing", ["replace", "dump"])
def test_a_failed_save_leaves_the_old_file_whole(
    store: ParquetStore, monkeypatch: pytest.MonkeyPatch, failing: str
) -> None:
    kept = ua.add(store, "r1", _fields(), "alice")
    path = ua.annotation_path(store, "r1")
    before = path.read_bytes()

    def fail(*args: Any, **kwargs: Any) -> None:
        if failing == "dump":
            args[1].write('{"version": 1, "annot')  # half a file, then the disk is full
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(ua.os if failing == "replace" else ua.json, failing, fail)
    with pytest.raises(ua.AnnotationStoreError, match="cannot save"):
        ua.add(store, "r1", _fields(start_s=3.0, end_s=4.0), "bob")
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert [p.name for p in path.parent.iterdir() if p.name.startswith(".")] == []
    assert ua.load(store, "r1") == [kept]


def test_annotations_survive_a_rewrite_of_the_record(store: ParquetStore) -> None:
    kept = ua.add(store, "r1", _fields(), "alice")
    store.write(make_record(n_samples=5000, fs=FS, name="r1", seed=3))
    assert store.meta("r1")["n_samples"] == 5000
    assert ua.load(store, "r1") == [kept]
    assert [p.name for p in store.path.iterdir()] == ["record=r1"]  # nothing left behind


def test_a_failed_rewrite_keeps_the_old_partition_and_its_annotations(
    store: ParquetStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    from cardiostream.io import store as store_module

    kept = ua.add(store, "r1", _fields(), "alice")

    def fail(old: Path, tmp: Path) -> None:
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(store_module, "_carry_over", fail)
    with pytest.raises(OSError):
        store.write(make_record(n_samples=5000, fs=FS, name="r1"))
    assert store.meta("r1")["n_samples"] == 2500
    assert ua.load(store, "r1") == [kept]


def _sample_annotations(store: ParquetStore) -> list[ua.UserAnnotation]:
    ua.add(store, "r1", _fields(kind="af", status="confirmed", start_s=1.0, end_s=2.0,
                                event={"start_s": 1.1, "end_s": 2.1, "confidence": 0.9},
                                note='says "AF", then, a comma'), "alice")  # fmt: skip
    ua.add(store, "r1", _fields(kind="noise", start_s=2.0, end_s=3.0), "bob")
    ua.add(store, "r1", _fields(kind="other", status="rejected", start_s=4.0, end_s=5.0), "bob")
    ua.add(store, "r1", _fields(kind="normal", start_s=6.0, end_s=8.0, note="=1+1"), "carol")
    return ua.load(store, "r1")


def test_csv_export(store: ParquetStore) -> None:
    annotations = _sample_annotations(store)
    rows = list(csv.DictReader(io.StringIO(ua.to_csv(annotations))))
    assert tuple(rows[0]) == ua.CSV_COLUMNS
    assert [r["id"] for r in rows] == [a.id for a in annotations]
    assert [r["status"] for r in rows] == ["confirmed", "marked", "rejected", "marked"]
    first = rows[0]
    assert first["note"] == 'says "AF", then, a comma' and first["author"] == "alice"
    assert (first["start_s"], first["end_s"]) == ("1.0", "2.0")
    assert (first["event_start_s"], first["event_end_s"], first["event_confidence"]) == (
        "1.1", "2.1", "0.9",
    )  # fmt: skip
    assert rows[1]["event_start_s"] == rows[1]["event_confidence"] == ""
    assert rows[3]["note"] == "'=1+1"  # not a formula in a spreadsheet
    assert ua.to_csv([]).strip() == ",".join(ua.CSV_COLUMNS)


def _read_wfdb(tmp_path: Path, data: bytes) -> Any:
    (tmp_path / "back.usr").write_bytes(data)
    return wfdb.rdann(str(tmp_path / "back"), "usr")


def test_wfdb_export_reads_back_with_rdann(store: ParquetStore, tmp_path: Path) -> None:
    ann = _read_wfdb(tmp_path, ua.to_wfdb(_sample_annotations(store), "r1", FS))
    assert ann.fs == FS
    # AF 1-2 s runs into noise 2-3 s (no close between), the rejected 4-5 s is left out.
    assert ann.sample.tolist() == [250, 500, 750, 1500, 2000]
    assert ann.symbol == ["+"] * 5
    assert ann.aux_note == ["(AFIB", "(NOISE", "(N", "(N", "(N"]


def test_wfdb_overlaps_and_tiny_episodes(store: ParquetStore, tmp_path: Path) -> None:
    ua.add(store, "r1", _fields(kind="af", start_s=1.0, end_s=5.0), "a")
    ua.add(store, "r1", _fields(kind="other", start_s=2.0, end_s=3.0), "a")
    ua.add(store, "r1", _fields(kind="noise", start_s=7.0, end_s=7.001), "a")
    ann = _read_wfdb(tmp_path, ua.to_wfdb(ua.load(store, "r1"), "odd.name+1", FS))
    assert ann.sample.tolist() == [250, 500, 750, 1750, 1751]
    assert ann.aux_note == ["(AFIB", "(OTHER", "(N", "(NOISE", "(N"]
    assert np.all(np.diff(ann.sample) > 0)


def test_wfdb_export_without_episodes_is_a_valid_file(tmp_path: Path) -> None:
    data = ua.to_wfdb([], "r1", 360.0)
    assert b"no confirmed or marked user annotations" in data  # a comment, for WFDB tools
    ann = _read_wfdb(tmp_path, data)  # wfdb-python hides comments at sample 0
    assert ann.sample.tolist() == [] and ann.fs == 360.0


def test_saves_leave_no_temporary_files(store: ParquetStore) -> None:
    for i in range(5):
        ua.add(store, "r1", _fields(start_s=float(i), end_s=i + 0.5), "a")
    names = os.listdir(store.partition_dir("r1"))
    assert sorted(n for n in names if "user" in n) == ["user_annotations.json"]
