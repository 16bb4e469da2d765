"""Reviewers' annotations beside a record: checks, atomic saves, rewrites, CSV and WFDB."""

from __future__ import annotations

import csv
import io
import json
import os
import signal
import subprocess
import sys
import zlib
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import wfdb

from cardiostream import read
from cardiostream.errors import InputError
from cardiostream.io import ParquetStore
from cardiostream.io import user_annotations as ua
from cardiostream.io.wfdb_checks import decode_annotations
from tests.io.conftest import make_record, write_wfdb

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


def test_changes_are_appended_to_a_journal_beside_the_record(store: ParquetStore) -> None:
    first = ua.add(store, "r1", _fields(), "alice")
    journal = store.partition_dir("r1") / "user_annotations.journal"
    assert ua.journal_path(store, "r1") == journal
    assert ua.annotation_path(store, "r1") == store.partition_dir("r1") / "user_annotations.json"
    one = journal.read_bytes()
    second = ua.add(store, "r1", _fields(start_s=3.0, end_s=4.0), "bob")
    ua.remove(store, "r1", first.id)
    lines = journal.read_bytes().splitlines(keepends=True)
    # Each change appends one line and leaves the earlier bytes as they were.
    assert len(lines) == 3 and journal.read_bytes().startswith(one)
    size, crc, payload = lines[1].rstrip(b"\n").split(b" ", 2)
    assert int(size) == len(payload) and int(crc, 16) == zlib.crc32(payload)
    assert json.loads(payload) == {"op": "put", "annotation": second.to_dict()}
    assert json.loads(lines[2].split(b" ", 2)[2]) == {"op": "del", "id": first.id}
    assert not ua.annotation_path(store, "r1").exists()  # no snapshot until the journal folds
    assert sorted(p.name for p in journal.parent.iterdir() if p.name.startswith(".")) == []
    assert ua.load(ParquetStore(store.path), "r1") == [second]


def test_the_journal_folds_into_a_snapshot(store: ParquetStore) -> None:
    added = [
        ua.add(store, "r1", _fields(start_s=i * 0.01, end_s=9.0), "a")
        for i in range(ua.COMPACT_AFTER + 5)
    ]
    snapshot = json.loads(ua.annotation_path(store, "r1").read_text(encoding="utf-8"))
    # Folded when the journal reached COMPACT_AFTER lines; 5 more lines since.
    assert [a["id"] for a in snapshot["annotations"]] == [a.id for a in added[: ua.COMPACT_AFTER]]
    assert len(ua.journal_path(store, "r1").read_bytes().splitlines()) == 5
    assert ua.load(ParquetStore(store.path), "r1") == added


def test_a_snapshot_of_the_earlier_format_is_read_and_kept(store: ParquetStore) -> None:
    old = ua.add(store, "r1", _fields(), "alice")
    ua.save(store, "r1", [old])  # user_annotations.json alone, as before the journal
    assert ua.journal_path(store, "r1").read_bytes() == b""
    new = ua.add(store, "r1", _fields(start_s=4.0, end_s=5.0), "bob")
    assert ua.load(ParquetStore(store.path), "r1") == [old, new]


def test_replaying_the_journal_over_a_newer_snapshot_changes_nothing(store: ParquetStore) -> None:
    """A crash between writing the snapshot and emptying the journal replays the journal
    over a snapshot that already holds it: puts and deletes are idempotent."""
    a = ua.add(store, "r1", _fields(), "alice")
    b = ua.add(store, "r1", _fields(start_s=3.0, end_s=4.0), "bob")
    b2 = ua.update(store, "r1", b.id, _fields(start_s=3.0, end_s=4.5), "carol")
    ua.remove(store, "r1", a.id)
    journal = ua.journal_path(store, "r1").read_bytes()
    ua.save(store, "r1", [b2])
    ua.journal_path(store, "r1").write_bytes(journal)  # as if the crash kept it
    assert ua.load(ParquetStore(store.path), "r1") == [b2]


def _history(store: ParquetStore, n: int) -> list[list[ua.UserAnnotation]]:
    """``n`` changes; the annotations after each."""
    states = []
    for i in range(n):
        ua.add(store, "r1", _fields(start_s=float(i), end_s=i + 0.5, note="é" * i), "a")
        states.append(ua.load(store, "r1"))
    return states


def test_a_torn_last_line_is_left_out_and_cut_by_the_next_change(store: ParquetStore) -> None:
    """A write killed at any byte of the last line: the earlier annotations all load, the
    torn one is left out, and the next change is whole (not glued to the torn bytes)."""
    states = _history(store, 3)
    journal = ua.journal_path(store, "r1")
    whole = journal.read_bytes()
    last_start = whole.rindex(b"\n", 0, len(whole) - 1) + 1
    for cut in range(last_start, len(whole)):
        journal.write_bytes(whole[:cut])
        fresh = ParquetStore(store.path)
        assert ua.load(fresh, "r1") == states[1], cut
        added = ua.add(fresh, "r1", _fields(start_s=9.0, end_s=9.5), "b")
        assert ua.load(ParquetStore(store.path), "r1") == [*states[1], added], cut
        assert journal.read_bytes().startswith(whole[:last_start]), cut


def test_a_bad_line_inside_the_journal_is_corruption(store: ParquetStore) -> None:
    _history(store, 3)
    journal = ua.journal_path(store, "r1")
    lines = journal.read_bytes().splitlines(keepends=True)
    lines[1] = lines[1].replace(b'"a"', b'"b"')  # the checksum no longer holds
    journal.write_bytes(b"".join(lines))
    with pytest.raises(ua.AnnotationStoreError, match=r"journal of record 'r1'.*line 2"):
        ua.load(ParquetStore(store.path), "r1")
    with pytest.raises(ua.AnnotationStoreError, match="repair or remove"):
        ua.add(ParquetStore(store.path), "r1", _fields(), "alice")
    assert journal.read_bytes() == b"".join(lines)


def test_a_failed_append_leaves_the_earlier_annotations_whole(
    store: ParquetStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    kept = ua.add(store, "r1", _fields(), "alice")
    journal = ua.journal_path(store, "r1")
    before = journal.read_bytes()
    real_write = os.write

    def half_then_full(fd: int, data: Any) -> int:
        real_write(fd, bytes(data[: len(data) // 2]))  # half a line, then the disk is full
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(ua.os, "write", half_then_full)
    with pytest.raises(ua.AnnotationStoreError, match="cannot save"):
        ua.add(store, "r1", _fields(start_s=3.0, end_s=4.0), "bob")
    monkeypatch.undo()
    assert journal.read_bytes() == before
    assert ua.load(ParquetStore(store.path), "r1") == [kept]


@pytest.mark.parametrize("failing", ["replace", "dump"])
def test_a_failed_fold_leaves_the_old_files_whole(
    store: ParquetStore, monkeypatch: pytest.MonkeyPatch, failing: str
) -> None:
    kept = ua.add(store, "r1", _fields(), "alice")
    journal = ua.journal_path(store, "r1")
    before = journal.read_bytes()

    def fail(*args: Any, **kwargs: Any) -> None:
        if failing == "dump":
            args[1].write('{"version": 1, "annot')  # half a file, then the disk is full
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(ua.os if failing == "replace" else ua.json, failing, fail)
    with pytest.raises(ua.AnnotationStoreError, match="cannot save"):
        ua.save(store, "r1", [])
    monkeypatch.undo()
    assert journal.read_bytes() == before and not ua.annotation_path(store, "r1").exists()
    assert [p.name for p in journal.parent.iterdir() if p.name.startswith(".")] == []
    assert ua.load(ParquetStore(store.path), "r1") == [kept]


_WRITER = """
import sys
from cardiostream.io import ParquetStore
from cardiostream.io import user_annotations as ua
store = ParquetStore(sys.argv[1])
i = 0
while True:
    a = ua.add(store, "r1", {"kind": "af", "start_s": (i % 900) / 100, "end_s": 9.5,
                              "note": "x" * (i % 300)}, "writer")
    print(a.id, flush=True)
    i += 1
"""


def test_a_writer_killed_mid_write_loses_no_acknowledged_annotation(
    store: ParquetStore,
) -> None:
    """kill -9 a process that adds annotations as fast as it can (so the kill lands in the
    middle of some write), several times over, the journal folding on the way: every
    annotation it reported added is there, and the files read without error."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    reported: list[str] = []
    for round_ in range(3):
        writer = subprocess.Popen(
            [sys.executable, "-c", _WRITER, str(store.path)],
            stdout=subprocess.PIPE, text=True, env=env,
        )  # fmt: skip
        assert writer.stdout is not None
        for _ in range(60 + 100 * round_):
            reported.append(writer.stdout.readline().strip())
        os.kill(writer.pid, signal.SIGKILL)
        writer.wait()
        reported += [line.strip() for line in writer.stdout if line.strip()]
        ids = {a.id for a in ua.load(ParquetStore(store.path), "r1")}
        assert set(reported) <= ids, round_
    assert len(reported) > ua.COMPACT_AFTER  # the journal folded at least once
    # A kill during a fold may leave its temporary file; cleaning the store removes it only.
    left = {p.name for p in store.partition_dir("r1").iterdir() if p.name.startswith(".")}
    assert all(name.startswith(".user_annotations.json.") for name in left), left
    store.clean_stale(older_than_s=-1)
    assert not any(p.name.startswith(".") for p in store.partition_dir("r1").iterdir())
    assert set(reported) <= {a.id for a in ua.load(ParquetStore(store.path), "r1")}


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


def _rhythm(ann: Any) -> list[tuple[int, str]]:
    """The rhythm changes of an annotation file read back, as (sample, aux note)."""
    read = zip(ann.sample.tolist(), ann.symbol, ann.aux_note, strict=True)
    return [(sample, note) for sample, symbol, note in read if symbol == "+"]


def _span(
    kind: str, start_s: float, end_s: float, status: str = "marked", **more: Any
) -> ua.UserAnnotation:
    fields: dict[str, Any] = {
        "id": os.urandom(16).hex(), "note": "", "event": None, "author": "a",
        "created": "2026-01-01T00:00:00.000Z", "updated": "2026-01-01T00:00:00.000Z",
    }  # fmt: skip
    fields.update(more)
    return ua.UserAnnotation(kind=kind, status=status, start_s=start_s, end_s=end_s, **fields)


def test_wfdb_export_reads_back_with_rdann(store: ParquetStore, tmp_path: Path) -> None:
    annotations = _sample_annotations(store)
    ann = _read_wfdb(tmp_path, ua.to_wfdb(annotations, "r1", FS))
    assert ann.fs == FS
    # AF 1-2 s runs into noise 2-3 s (no close between), the rejected 4-5 s is no episode,
    # and the normal 6-8 s changes nothing after the (N at 3 s.
    assert _rhythm(ann) == [(250, "(AFIB"), (500, "(NOISE"), (750, "(N")]
    # Every annotation has its comment at its start, the rejected one too.
    notes = ua.read_comments(ann.sample.tolist(), ann.aux_note)
    assert [(n["sample"], n["status"], n["kind"], n["author"], n["note"]) for n in notes] == [
        (250, "confirmed", "af", "alice", 'says "AF", then, a comma'),
        (500, "marked", "noise", "bob", ""),
        (1000, "rejected", "other", "bob", ""),
        (1500, "marked", "normal", "carol", "=1+1"),
    ]
    assert [n["start_s"] for n in notes] == [1.0, 2.0, 4.0, 6.0]
    assert set(ann.symbol) == {"+", '"'} and np.all(np.diff(ann.sample) >= 0)


def test_wfdb_nested_span_gives_the_enclosing_rhythm_back() -> None:
    # A confirmed AF episode with an "other" mark inside it: AF again after the mark, and
    # normal only where the episode ends.
    annotations = [_span("af", 0.0, 60.0, "confirmed"), _span("other", 12.5, 21.0)]
    assert ua.rhythm_changes(annotations, FS) == [
        (0, "(AFIB"), (3125, "(OTHER"), (5250, "(AFIB"), (15000, "(N"),
    ]  # fmt: skip
    # Three deep, and in any order.
    deep = [_span("af", 0, 60, "confirmed"), _span("noise", 10, 50), _span("other", 20, 30)]
    expected = [(0, "(AFIB"), (10, "(NOISE"), (20, "(OTHER"), (30, "(NOISE"), (50, "(AFIB"),
                (60, "(N")]  # fmt: skip
    assert ua.rhythm_changes(deep, 1.0) == ua.rhythm_changes(deep[::-1], 1.0) == expected


def test_wfdb_overlapping_spans_precedence() -> None:
    # Overlapping: the later start holds from its start to its end, then whoever covers.
    crossing = [_span("af", 0, 30, "confirmed"), _span("other", 20, 40)]
    assert ua.rhythm_changes(crossing, 1.0) == [(0, "(AFIB"), (20, "(OTHER"), (40, "(N")]
    under = [_span("af", 0, 30), _span("noise", 10, 20), _span("other", 15, 25)]
    assert ua.rhythm_changes(under, 1.0) == [
        (0, "(AFIB"), (10, "(NOISE"), (15, "(OTHER"), (25, "(AFIB"), (30, "(N"),
    ]  # fmt: skip
    # Equal starts: the one that ends sooner, then the other one.
    same_start = [_span("af", 5, 30), _span("other", 5, 10)]
    assert ua.rhythm_changes(same_start, 1.0) == [(5, "(OTHER"), (10, "(AFIB"), (30, "(N")]
    # Equal spans: confirmed over marked, then the later change, whatever the order given.
    old, new = "2026-01-01T00:00:00.000Z", "2026-02-01T00:00:00.000Z"
    tied = [_span("af", 5, 10, "confirmed", updated=old), _span("other", 5, 10, updated=new)]
    assert ua.rhythm_changes(tied, 1.0) == ua.rhythm_changes(tied[::-1], 1.0) == [
        (5, "(AFIB"), (10, "(N"),
    ]  # fmt: skip
    both = [_span("af", 5, 10, updated=old), _span("other", 5, 10, updated=new)]
    assert ua.rhythm_changes(both, 1.0) == ua.rhythm_changes(both[::-1], 1.0) == [
        (5, "(OTHER"), (10, "(N"),
    ]  # fmt: skip
    # A rejected verdict overrides nothing.
    rejected = [_span("af", 0, 30, "confirmed"), _span("other", 10, 20, "rejected")]
    assert ua.rhythm_changes(rejected, 1.0) == [(0, "(AFIB"), (30, "(N")]


def test_wfdb_adjacent_spans() -> None:
    adjacent = [_span("af", 0, 10), _span("other", 10, 20), _span("af", 20, 30)]
    assert ua.rhythm_changes(adjacent, 1.0) == [
        (0, "(AFIB"), (10, "(OTHER"), (20, "(AFIB"), (30, "(N"),
    ]  # fmt: skip
    # Two spans of one rhythm back to back are one episode: no change between them.
    assert ua.rhythm_changes([_span("af", 0, 10), _span("af", 10, 20)], 1.0) == [
        (0, "(AFIB"), (20, "(N"),
    ]  # fmt: skip
    # A gap of one sample is normal rhythm.
    assert ua.rhythm_changes([_span("af", 0, 10), _span("af", 11, 20)], 1.0) == [
        (0, "(AFIB"), (10, "(N"), (11, "(AFIB"), (20, "(N"),
    ]  # fmt: skip


def test_wfdb_span_at_the_record_end(tmp_path: Path) -> None:
    n = 2500  # 10 s
    annotations = [_span("af", 8.0, 10.0, "confirmed"), _span("noise", 9.9999, 10.0)]
    # The record's length known: no change at its end (nothing follows to be normal), and a
    # span that rounds to the end keeps its last sample.
    assert ua.rhythm_changes(annotations, FS, n) == [(2000, "(AFIB"), (2499, "(NOISE")]
    assert ua.rhythm_changes(annotations, FS) == [(2000, "(AFIB"), (2500, "(NOISE"), (2501, "(N")]
    ann = _read_wfdb(tmp_path, ua.to_wfdb(annotations, "r1", FS, n))
    assert ann.sample.max() < n
    assert [n["sample"] for n in ua.read_comments(ann.sample.tolist(), ann.aux_note)] == [
        2000, 2499,
    ]  # fmt: skip


def test_wfdb_overlaps_and_tiny_episodes(store: ParquetStore, tmp_path: Path) -> None:
    ua.add(store, "r1", _fields(kind="af", start_s=1.0, end_s=5.0), "a")
    ua.add(store, "r1", _fields(kind="other", start_s=2.0, end_s=3.0), "a")
    ua.add(store, "r1", _fields(kind="noise", start_s=7.0, end_s=7.001), "a")
    ann = _read_wfdb(tmp_path, ua.to_wfdb(ua.load(store, "r1"), "odd.name+1", FS))
    assert _rhythm(ann) == [
        (250, "(AFIB"), (500, "(OTHER"), (750, "(AFIB"), (1250, "(N"), (1750, "(NOISE"),
        (1751, "(N"),
    ]  # fmt: skip
    assert np.all(np.diff(ann.sample) >= 0)


def test_wfdb_notes_are_sanitised_and_read_back(tmp_path: Path) -> None:
    note = 'Vorhofflimmern bestätigt, 100 % sicher\nzweite Zeile\tmit Tab ♥ "zitiert"'
    annotation = _span("af", 2.0, 4.0, "confirmed", note=note, author="Dr. Ärztin")
    text = ua.comment_text(annotation)
    # One line of printable ASCII; spaces kept in the note, the author's encoded.
    assert text.isascii() and text.isprintable()
    assert text.startswith("status=confirmed kind=af start_s=2.0 end_s=4.0 author=Dr.%20%C3")
    assert "best%C3%A4tigt, 100 %25 sicher%0Azweite Zeile%09mit Tab %E2%99%A5" in text
    ann = _read_wfdb(tmp_path, ua.to_wfdb([annotation], "r1", FS))
    (back,) = ua.read_comments(ann.sample.tolist(), ann.aux_note)
    assert (back["note"], back["author"], back["sample"]) == (note, "Dr. Ärztin", 500)


def test_wfdb_long_notes_are_cut_and_joined(tmp_path: Path) -> None:
    # The longest note, all escapes (6 characters each): many aux notes of 255 at most.
    notes = ["ä" * ua.MAX_NOTE, "x " * (ua.MAX_NOTE // 2), "%" * 7 + "y" * 300]
    annotations = [_span("other", 1.0, 2.0, note=n) for n in notes]
    data = ua.to_wfdb(annotations, "r1", FS)
    ann = _read_wfdb(tmp_path, data)
    comments = [a for a, y in zip(ann.aux_note, ann.symbol, strict=True) if y == '"']
    assert len(comments) > 3 and max(len(c) for c in comments) <= ua.MAX_AUX
    back = ua.read_comments(ann.sample.tolist(), ann.aux_note)
    assert sorted(b["note"] for b in back) == sorted(notes)


def _wfdb_round_trip(tmp_path: Path, annotations: list[ua.UserAnnotation]) -> None:
    """Write the export beside a WFDB record of 120 s, read it back three ways and check
    every rhythm change and every note."""
    fs, n = 250.0, 30_000
    write_wfdb(tmp_path, "rt", np.zeros((n, 1), dtype=np.int64), fs=fs)
    data = ua.to_wfdb(annotations, "rt", fs, n)
    (tmp_path / "rt.usr").write_bytes(data)
    changes = ua.rhythm_changes(annotations, fs, n)
    expected_notes = sorted(
        (max(round(a.start_s * fs), 1), a.status, a.kind, a.author, a.note) for a in annotations
    )

    for ann in (  # wfdb's own reader, then ours
        wfdb.rdann(str(tmp_path / "rt"), "usr"),
        decode_annotations(tmp_path / "rt.usr", data),
    ):
        samples = np.asarray(ann.sample).tolist()
        assert _rhythm(ann) == changes
        back = ua.read_comments(samples, ann.aux_note)
        got = sorted((b["sample"], b["status"], b["kind"], b["author"], b["note"]) for b in back)
        assert got == expected_notes

    # And as rhythm intervals of the record: the changes, each running to the next.
    rhythms = read(tmp_path / "rt.hea", annotator="usr").annotations.rhythms
    starts = [s for s, _ in changes]
    assert rhythms.start.tolist() == starts
    assert rhythms.end.tolist() == [*starts[1:], n]
    assert rhythms.label.tolist() == [code[1:] for _, code in changes]


def test_wfdb_round_trip(tmp_path: Path) -> None:
    _wfdb_round_trip(tmp_path, [
        _span("af", 0.0, 60.0, "confirmed", note="paroxysmal, onset at 0 s", author="dr-x"),
        _span("other", 12.5, 21.0, note="flutter?\nask the cardiologist", author="dr-y"),
        _span("noise", 15.0, 25.0, note="électrode décollée ⚡"),
        _span("af", 70.0, 80.0, "rejected", note="artefact, not AF"),
        _span("normal", 90.0, 95.0),
        _span("af", 100.0, 120.0, note="to the end " * 40),
    ])  # fmt: skip


def test_wfdb_export_without_annotations_is_a_valid_file(tmp_path: Path) -> None:
    data = ua.to_wfdb([], "r1", 360.0)
    assert b"no user annotations" in data  # a comment, for WFDB tools
    ann = _read_wfdb(tmp_path, data)  # wfdb-python hides comments at sample 0
    assert ann.sample.tolist() == [] and ann.fs == 360.0


def test_changes_leave_no_temporary_files(store: ParquetStore) -> None:
    for i in range(ua.COMPACT_AFTER + 5):
        ua.add(store, "r1", _fields(start_s=i / 100, end_s=9.0), "a")
    names = os.listdir(store.partition_dir("r1"))
    assert sorted(n for n in names if "user" in n) == [
        "user_annotations.journal", "user_annotations.json"
    ]  # fmt: skip
