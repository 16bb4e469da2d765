"""Reviewers' annotations ("user annotations"), kept beside each record in the store.

A reviewer either gives a verdict on an episode the engine detected (``status`` confirmed
or rejected, with the detected ``event`` as the client saw it) or marks an episode by hand
(``status`` marked). The annotations of a record live in its partition folder
(``store/record=<id>/``), in two files:

``user_annotations.journal``
    Every change appended as one line, ``<bytes> <crc32> <json>``, where the JSON is
    ``{"op": "put", "annotation": {...}}`` or ``{"op": "del", "id": ...}``, fsynced before
    the change is answered. A change costs one short write however many annotations the
    record holds (rewriting the whole list made each change slower as it grew). A crash
    can only tear the last line: its length or checksum then fails, it is left out when
    read, and the next change cuts it off before appending.
``user_annotations.json``
    A snapshot, ``{"version": 1, "annotations": [...]}`` sorted by start, that the journal
    is replayed over. Once the journal holds more lines than the record has annotations (and
    at least :data:`COMPACT_AFTER`) it is folded in: a new snapshot is written to a temporary
    file, fsynced and renamed over the old one, then the journal is emptied. Both operations
    are idempotent, so a crash between the two replays a journal the snapshot already holds,
    to the same annotations. A record annotated before the journal existed has only this file.

:meth:`ParquetStore.write <cardiostream.io.store.ParquetStore.write>` carries both files
over when a record is written again; a change that races the rewrite is appended again to
the new files. What a killed fold leaves (its temporary file) is removed by
:meth:`ParquetStore.clean_stale <cardiostream.io.store.ParquetStore.clean_stale>`.

Changes (:func:`add`, :func:`update`, :func:`remove`) hold a lock per store folder, so the
threads of one server never lose each other's changes; each record's annotations are kept in
memory between changes and read again when its files change. Other processes writing the
same files are not coordinated.

A file that cannot be read or written raises :class:`AnnotationStoreError`: the server
answers 500 with its message, and refuses to overwrite a corrupt file (which would lose
what it holds) until someone repairs or removes it.
"""

from __future__ import annotations

import contextlib
import csv
import heapq
import io
import json
import logging
import math
import os
import re
import tempfile
import threading
import uuid
import zlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import numpy as np

from cardiostream.errors import InputError
from cardiostream.io.layout import USER_ANNOTATION_FILE, USER_ANNOTATION_JOURNAL
from cardiostream.io.store import ParquetStore

_log = logging.getLogger(__name__)

KINDS = ("af", "other", "noise", "normal")
STATUSES = ("confirmed", "rejected", "marked")
#: Longest note, in characters.
MAX_NOTE = 2000
#: Most annotations one record may hold: bounds what a listing or a fold reads and writes.
MAX_ANNOTATIONS = 10_000
#: Aux notes of the WFDB rhythm changes. ``(AFIB`` and ``(N`` are PhysioNet's rhythm codes;
#: PhysioNet has none for noise or other rhythms, so these two are our own.
RHYTHM_CODES = {"af": "(AFIB", "normal": "(N", "noise": "(NOISE", "other": "(OTHER"}
CSV_COLUMNS = (
    "id", "kind", "status", "start_s", "end_s", "note", "author", "created", "updated",
    "event_start_s", "event_end_s", "event_confidence",
)  # fmt: skip
FILE_VERSION = 1

_ANNOTATION_ID = re.compile(r"[0-9a-f]{32}")
#: Journal lines after which a change folds the journal into a new snapshot (more when the
#: record has more annotations: the snapshot's size, so a fold costs O(1) per change).
COMPACT_AFTER = 256
_locks: dict[Path, threading.RLock] = {}
_locks_guard = threading.Lock()


class AnnotationStoreError(InputError):
    """A record's ``user_annotations.json`` cannot be read (corrupt) or written."""


class NoSuchAnnotation(LookupError):
    """No annotation of that id in the record."""


@dataclass(frozen=True)
class ReviewedEvent:
    """The detected event a verdict is about, as the client gave it."""

    start_s: float
    end_s: float
    confidence: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"start_s": self.start_s, "end_s": self.end_s, "confidence": self.confidence}


@dataclass(frozen=True)
class UserAnnotation:
    """One reviewer's annotation of a stretch of a record (times in seconds from its start)."""

    id: str
    kind: str
    status: str
    start_s: float
    end_s: float
    note: str
    event: ReviewedEvent | None
    author: str
    created: str
    updated: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id, "kind": self.kind, "status": self.status,
            "start_s": self.start_s, "end_s": self.end_s, "note": self.note,
            "event": None if self.event is None else self.event.to_dict(),
            "author": self.author, "created": self.created, "updated": self.updated,
        }  # fmt: skip


# -- validation ----------------------------------------------------------------------------


def validate_annotation_id(annotation_id: Any) -> str:
    """Return ``annotation_id`` when it is 32 lower-case hex digits (a uuid4 hex), else raise."""
    if not isinstance(annotation_id, str) or not _ANNOTATION_ID.fullmatch(annotation_id):
        raise InputError("id: an annotation id is 32 lower-case hex digits")
    return annotation_id


def _time(value: Any, field: str) -> float:
    # bool is an int to Python, but true is no time.
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InputError(f"{field}: expected a number of seconds")
    try:
        seconds = float(value)
    except OverflowError:  # an integer past the float range
        seconds = math.inf
    if not math.isfinite(seconds) or seconds < 0:
        raise InputError(f"{field}: must be a finite time >= 0, got {seconds}")
    return seconds


def _text(value: Any, field: str, longest: int) -> str:
    if not isinstance(value, str):
        raise InputError(f"{field}: expected a string")
    if len(value) > longest:
        raise InputError(f"{field}: at most {longest} characters, got {len(value)}")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate from a JSON escape: no response could hold it
        raise InputError(f"{field}: not valid Unicode text") from None
    return value


def _choice(value: Any, field: str, allowed: Sequence[str]) -> str:
    if value not in allowed:
        raise InputError(f"{field}: {str(value)[:40]!r} is not one of {', '.join(allowed)}")
    return str(value)


def _event(value: Any) -> ReviewedEvent | None:
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise InputError("event: expected null or {start_s, end_s, confidence}")
    unknown = set(value) - {"start_s", "end_s", "confidence"}
    if unknown:
        raise InputError(f"event: unknown field(s) {', '.join(sorted(map(str, unknown)))}")
    start = _time(value.get("start_s"), "event.start_s")
    end = _time(value.get("end_s"), "event.end_s")
    if end < start:
        raise InputError(f"event.end_s: {end} is before event.start_s {start}")
    confidence = value.get("confidence")
    if confidence is not None:
        if isinstance(confidence, bool) or not isinstance(confidence, int | float):
            raise InputError("event.confidence: expected null or a number in [0, 1]")
        if not 0 <= confidence <= 1:  # NaN fails this too
            raise InputError("event.confidence: must be in [0, 1]")
        confidence = float(confidence)
    return ReviewedEvent(start, end, confidence)


def check_fields(fields: Mapping[str, Any], duration_s: float | None = None) -> dict[str, Any]:
    """Check what a client sets on an annotation; return the fields, normalised.

    Parameters
    ----------
    fields : mapping
        ``kind``, ``status`` (default ``marked``), ``start_s``, ``end_s``, ``note`` (default
        empty) and ``event`` (default null). Other keys are refused.
    duration_s : float, optional
        The record's length: ``end_s`` may not pass it.

    Returns
    -------
    dict
        The same keys, with ``event`` a :class:`ReviewedEvent` or None.

    Raises
    ------
    InputError
        Naming the field at fault.
    """
    allowed = {"kind", "status", "start_s", "end_s", "note", "event"}
    unknown = set(fields) - allowed
    if unknown:
        raise InputError(f"{', '.join(sorted(map(str, unknown)))}: unknown field(s)")
    start, end = _time(fields.get("start_s"), "start_s"), _time(fields.get("end_s"), "end_s")
    if not start < end:
        raise InputError(f"end_s: {end} must be after start_s {start}")
    if duration_s is not None and end > duration_s:
        raise InputError(f"end_s: {end} is past the end of the record ({duration_s:g} s)")
    return {
        "kind": _choice(fields.get("kind"), "kind", KINDS),
        "status": _choice(fields.get("status", "marked"), "status", STATUSES),
        "start_s": start,
        "end_s": end,
        "note": _text(fields.get("note", ""), "note", MAX_NOTE),
        "event": _event(fields.get("event")),
    }


def from_dict(doc: Any) -> UserAnnotation:
    """Read one stored annotation (as :meth:`UserAnnotation.to_dict` gives it), checked."""
    if not isinstance(doc, Mapping):
        raise InputError("annotation: expected an object")
    server = ("id", "author", "created", "updated")
    fields = check_fields({k: v for k, v in doc.items() if k not in server})
    return UserAnnotation(
        id=validate_annotation_id(doc.get("id")),
        author=_text(doc.get("author"), "author", 200),
        created=_text(doc.get("created"), "created", 64),
        updated=_text(doc.get("updated"), "updated", 64),
        **fields,
    )


# -- load and save -------------------------------------------------------------------------


def annotation_path(store: ParquetStore, record_id: str) -> Path:
    """The snapshot ``user_annotations.json`` of a record (it may not exist)."""
    return store.partition_dir(record_id) / USER_ANNOTATION_FILE


def journal_path(store: ParquetStore, record_id: str) -> Path:
    """The journal ``user_annotations.journal`` of a record (it may not exist)."""
    return store.partition_dir(record_id) / USER_ANNOTATION_JOURNAL


def _order(annotations: Iterable[UserAnnotation]) -> list[UserAnnotation]:
    return sorted(annotations, key=lambda a: (a.start_s, a.end_s, a.created, a.id))


@dataclass
class _State:
    """A record's annotations as its snapshot and journal last gave them."""

    by_id: dict[str, UserAnnotation]
    #: (inode, size, mtime) of the snapshot and of the journal when read (None: no file).
    signature: tuple[tuple[int, int, int] | None, tuple[int, int, int] | None]
    #: Bytes of the journal up to the end of its last whole line: past them is a torn line.
    whole: int
    #: Lines in the journal.
    entries: int


#: The annotations of each record read lately, by (store folder, record id); they are read
#: again whenever the files change (another process, a rewrite of the record).
_states: dict[tuple[Path, str], _State] = {}


def _signature(path: Path) -> tuple[int, int, int] | None:
    try:
        st = path.stat()
    except FileNotFoundError:
        return None
    return (st.st_ino, st.st_size, st.st_mtime_ns)


def _state(store: ParquetStore, record_id: str) -> _State:
    """The record's annotations, read again only when its files changed (hold the lock)."""
    snapshot, journal = annotation_path(store, record_id), journal_path(store, record_id)
    signature = (_signature(snapshot), _signature(journal))
    key = (store.path.resolve(), record_id)
    cached = _states.get(key)
    if cached is not None and cached.signature == signature:
        return cached
    by_id = {a.id: a for a in _read_snapshot(snapshot, record_id)}
    data = _read_bytes(journal, record_id)
    lines, whole = _journal_lines(data, journal, record_id)
    for number, op in enumerate(lines, 1):
        try:
            _apply(by_id, op)
        except (ValueError, RecursionError) as exc:
            why = f"line {number}: {str(exc).splitlines()[0]}"
            raise _corrupt(journal, record_id, why) from None
    state = _State(by_id, signature, whole, len(lines))
    _states[key] = state
    return state


def _read_bytes(path: Path, record_id: str) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return b""
    except OSError as exc:
        raise _corrupt(path, record_id, f"cannot read it ({exc.strerror or exc})") from None


def _read_snapshot(path: Path, record_id: str) -> list[UserAnnotation]:
    data = _read_bytes(path, record_id)
    if not data:
        return []
    try:
        doc = json.loads(data.decode("utf-8"))
        if not isinstance(doc, dict) or not isinstance(doc.get("annotations"), list):
            raise InputError('expected {"version": 1, "annotations": [...]}')
        return [from_dict(item) for item in doc["annotations"]]
    except (ValueError, RecursionError) as exc:  # InputError, JSON and UTF-8 errors among them
        raise _corrupt(path, record_id, str(exc).splitlines()[0]) from None


def _encode(op: dict[str, Any]) -> bytes:
    """One journal line: ``<bytes> <crc32> <json>\\n`` (JSON escapes every newline)."""
    payload = json.dumps(op, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    data = payload.encode("utf-8")
    return b"%d %08x " % (len(data), zlib.crc32(data)) + data + b"\n"


def _decode(line: bytes) -> dict[str, Any] | None:
    """A journal line's operation; None when its length or checksum does not hold."""
    parts = line.split(b" ", 2)
    if len(parts) != 3 or not parts[0].isdigit() or len(parts[1]) != 8:
        return None
    size, crc, payload = parts
    try:
        if int(size) != len(payload) or int(crc, 16) != zlib.crc32(payload):
            return None
        op = json.loads(payload.decode("utf-8"))
    except (ValueError, RecursionError):
        return None
    return op if isinstance(op, dict) else None


def _journal_lines(data: bytes, path: Path, record_id: str) -> tuple[list[dict[str, Any]], int]:
    """The operations of a journal and the bytes they take. The last line may be torn (a
    write cut short by a crash): it is left out. A bad line before it is corruption."""
    ops: list[dict[str, Any]] = []
    start = 0
    while start < len(data):
        end = data.find(b"\n", start)
        op = None if end < 0 else _decode(data[start:end])
        if op is None:
            if end < 0 or end + 1 == len(data):
                _log.warning("%s: a torn last line (%d bytes) left out", path, len(data) - start)
                break
            raise _corrupt(path, record_id, f"line {len(ops) + 1}: bad length or checksum")
        ops.append(op)
        start = end + 1
    return ops, start


def _apply(by_id: dict[str, UserAnnotation], op: dict[str, Any]) -> None:
    """Apply one journal operation. Both are idempotent: replaying a journal over a snapshot
    that already holds it changes nothing."""
    if op.get("op") == "put":
        annotation = from_dict(op.get("annotation"))
        by_id[annotation.id] = annotation
    elif op.get("op") == "del":
        by_id.pop(validate_annotation_id(op.get("id")), None)
    else:
        raise InputError('expected {"op": "put" | "del", ...}')


def load(store: ParquetStore, record_id: str) -> list[UserAnnotation]:
    """Read a record's annotations, sorted by start; none when it has none.

    Raises
    ------
    InputError
        When the store has no such record.
    AnnotationStoreError
        When the snapshot or the journal is corrupt (a torn last journal line is not).
    """
    store.meta(record_id)  # the record must exist, whether or not it has annotations
    with _lock(store):
        return _order(_state(store, record_id).by_id.values())


def _corrupt(path: Path, record_id: str, why: str) -> AnnotationStoreError:
    _log.error("%s: unreadable user annotations: %s", path, why)
    return AnnotationStoreError(
        f"{path.name} of record {record_id!r} is unreadable ({why}); repair or remove the file"
    )


def _cannot_save(path: Path, record_id: str, exc: OSError) -> AnnotationStoreError:
    # Also what a change meets when the record is rewritten under it (its folder is swapped
    # out): trying again then reads the carried-over files.
    return AnnotationStoreError(
        f"{path.name} of record {record_id!r}: cannot save ({exc.strerror or exc}); try again"
    )


def save(store: ParquetStore, record_id: str, annotations: Iterable[UserAnnotation]) -> None:
    """Replace a record's annotations, atomically: a new snapshot, then an empty journal.

    The snapshot is written to a temporary file, fsynced and renamed over the old one; a
    crash before the journal is emptied leaves a journal that replays to the same state
    (its operations are idempotent).

    Raises
    ------
    InputError
        When the store has no such record.
    AnnotationStoreError
        When a file cannot be written.
    """
    store.meta(record_id)
    with _lock(store):
        _save(store, record_id, list(annotations))


def _save(store: ParquetStore, record_id: str, annotations: list[UserAnnotation]) -> None:
    path = annotation_path(store, record_id)
    doc = {"version": FILE_VERSION, "annotations": [a.to_dict() for a in _order(annotations)]}
    tmp: str | None = None
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{USER_ANNOTATION_FILE}.", dir=path.parent)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(doc, f, indent=1, allow_nan=False)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
        tmp = None
        _fsync_dir(path.parent)  # makes the rename itself survive a power cut
        journal = journal_path(store, record_id)
        if journal.exists():
            with journal.open("r+b") as f:
                f.truncate(0)
                os.fsync(f.fileno())
    except OSError as exc:
        raise _cannot_save(path, record_id, exc) from None
    finally:
        if tmp is not None:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
    _states.pop((store.path.resolve(), record_id), None)


def _append(store: ParquetStore, record_id: str, op: dict[str, Any], state: _State) -> None:
    """Append one operation to the record's journal, fsynced, after cutting a torn last
    line; the journal is folded into a new snapshot once it holds more lines than the record
    has annotations (and at least :data:`COMPACT_AFTER`)."""
    path = journal_path(store, record_id)
    line = _encode(op)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    except OSError as exc:
        raise _cannot_save(path, record_id, exc) from None
    try:
        size = os.fstat(fd).st_size
        if size > state.whole:  # a torn line from a crash: cut, or the next line joins it
            os.ftruncate(fd, state.whole)
            size = state.whole
        try:
            _write_all(fd, line)
            os.fsync(fd)
        except OSError as exc:
            with contextlib.suppress(OSError):
                os.ftruncate(fd, size)  # else read as a torn line and cut by the next append
            raise _cannot_save(path, record_id, exc) from None
        if size == 0:
            _fsync_dir(path.parent)  # a new file: its name must survive a power cut too
        moved = _moved(fd, path)
    finally:
        os.close(fd)
    _states.pop((store.path.resolve(), record_id), None)
    if moved:
        # The record was rewritten while this line was written: its folder was swapped out,
        # and the line may have missed the copy. Operations are idempotent: append it again.
        _append(store, record_id, op, _state(store, record_id))
        return
    _apply(state.by_id, op)
    state.signature = (_signature(annotation_path(store, record_id)), _signature(path))
    state.whole = size + len(line)
    state.entries += 1
    _states[(store.path.resolve(), record_id)] = state
    if state.entries >= max(COMPACT_AFTER, len(state.by_id)):
        _save(store, record_id, list(state.by_id.values()))
        # What was just written is what this state holds: no need to read it back.
        state.signature = (_signature(annotation_path(store, record_id)), _signature(path))
        state.whole = state.entries = 0
        _states[(store.path.resolve(), record_id)] = state


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _moved(fd: int, path: Path) -> bool:
    """Whether the file open as ``fd`` is no longer the one at ``path``."""
    try:
        return os.stat(path).st_ino != os.fstat(fd).st_ino
    except FileNotFoundError:
        return True


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _lock(store: ParquetStore) -> threading.RLock:
    key = store.path.resolve()
    with _locks_guard:
        return _locks.setdefault(key, threading.RLock())


def _duration(store: ParquetStore, record_id: str) -> float:
    meta = store.meta(record_id)
    if meta.get("duration_s") is not None:
        return float(meta["duration_s"])
    return float(meta["n_samples"]) / float(meta["fs"])


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


# -- changes -------------------------------------------------------------------------------


def add(
    store: ParquetStore, record_id: str, fields: Mapping[str, Any], author: str
) -> UserAnnotation:
    """Check ``fields`` (see :func:`check_fields`) and add them as a new annotation.

    Returns
    -------
    UserAnnotation
        The stored annotation, with a fresh id, ``author`` and the time.
    """
    checked = check_fields(fields, _duration(store, record_id))
    now = _now()
    new = UserAnnotation(id=uuid.uuid4().hex, author=author, created=now, updated=now, **checked)
    with _lock(store):
        state = _state(store, record_id)
        if len(state.by_id) >= MAX_ANNOTATIONS:
            raise InputError(f"record {record_id!r}: already {MAX_ANNOTATIONS} annotations")
        _append(store, record_id, {"op": "put", "annotation": new.to_dict()}, state)
    return new


def update(
    store: ParquetStore,
    record_id: str,
    annotation_id: str,
    fields: Mapping[str, Any],
    author: str,
) -> UserAnnotation:
    """Replace what a client sets on an annotation; it keeps its id and creation time, and
    ``author`` becomes whoever changed it last.

    Raises
    ------
    NoSuchAnnotation
        When the record has no annotation ``annotation_id``.
    """
    validate_annotation_id(annotation_id)
    checked = check_fields(fields, _duration(store, record_id))
    with _lock(store):
        state = _state(store, record_id)
        old = _find(state.by_id, annotation_id, record_id)
        new = replace(old, author=author, updated=_now(), **checked)
        _append(store, record_id, {"op": "put", "annotation": new.to_dict()}, state)
    return new


def remove(store: ParquetStore, record_id: str, annotation_id: str) -> None:
    """Delete one annotation.

    Raises
    ------
    NoSuchAnnotation
        When the record has no annotation ``annotation_id``.
    """
    validate_annotation_id(annotation_id)
    store.meta(record_id)
    with _lock(store):
        state = _state(store, record_id)
        _find(state.by_id, annotation_id, record_id)
        _append(store, record_id, {"op": "del", "id": annotation_id}, state)


def _find(
    by_id: Mapping[str, UserAnnotation], annotation_id: str, record_id: str
) -> UserAnnotation:
    if annotation_id in by_id:
        return by_id[annotation_id]
    raise NoSuchAnnotation(f"record {record_id!r} has no annotation {annotation_id}")


# -- export --------------------------------------------------------------------------------


def _cell(text: str) -> str:
    # A spreadsheet runs a cell that starts like a formula; notes come from other tokens.
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def to_csv(annotations: Iterable[UserAnnotation]) -> str:
    """The annotations as CSV (RFC 4180 quoting), one row each, columns :data:`CSV_COLUMNS`.

    Rejected verdicts are rows too. The event columns are empty without an event. A note or
    author starting with ``= + - @`` (or a tab or carriage return) gets a leading ``'``,
    so that spreadsheets show it rather than run it as a formula.
    """
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    for a in annotations:
        event = a.event
        writer.writerow([
            a.id, a.kind, a.status, repr(a.start_s), repr(a.end_s), _cell(a.note),
            _cell(a.author), a.created, a.updated,
            "" if event is None else repr(event.start_s),
            "" if event is None else repr(event.end_s),
            "" if event is None or event.confidence is None else repr(event.confidence),
        ])  # fmt: skip
    return out.getvalue()


#: Standing of a status where overlapping spans tie on start and end: confirmed outranks marked.
_STANDING = {"confirmed": 1, "marked": 0}
#: Longest aux note a WFDB annotation holds: its length is one byte.
MAX_AUX = 255
#: How a comment that continues the one before it (at the same sample) begins.
CONTINUED = "..."


def _span(a: UserAnnotation, fs: float, n_samples: int | None) -> tuple[int, int]:
    """The samples ``[start, end)`` of an annotation: at least one sample, inside the record
    when its length is known (rounding may put an end a sample past it)."""
    start, end = round(a.start_s * fs), round(a.end_s * fs)
    if n_samples is not None:
        start = min(start, max(n_samples - 1, 0))
        end = min(end, n_samples)
    return start, max(end, start + 1)


def rhythm_changes(
    annotations: Iterable[UserAnnotation], fs: float, n_samples: int | None = None
) -> list[tuple[int, str]]:
    """The WFDB rhythm changes ``(sample, aux note)`` of the confirmed and marked annotations.

    Each annotation is a span ``[start, end)`` of samples (at least one) with a rhythm code
    (:data:`RHYTHM_CODES`). At every sample the rhythm is that of the covering span that
    takes precedence, and a change is written wherever that rhythm differs from the one
    before. Rejected verdicts are left out: they say that there was no episode.

    Precedence, among the spans covering a sample:

    1. the span that starts later wins, so a span nested in another (a mark inside a
       confirmed episode) holds inside itself, and the enclosing rhythm comes back at its
       end;
    2. on equal starts, the span that ends sooner (the narrower statement) wins;
    3. on equal starts and ends, a confirmed episode wins over a marked one;
    4. then the annotation changed last (``updated``), then the greater id, so that the
       export never depends on the order the annotations come in.

    ``(N`` is written only where a span ends and no other span covers the sample (or for a
    span of kind ``normal``): the end of a span never declares normal rhythm inside another
    span that goes on. Before the first span nothing is written (no one said what the
    rhythm was).

    Parameters
    ----------
    annotations : iterable of UserAnnotation
        The annotations, in any order.
    fs : float
        The record's sampling rate.
    n_samples : int, optional
        The record's length: spans are cut at its end and no change is written there (a
        span that reaches the end runs to it, as rhythms do in WFDB files). Without it, a
        span ending at the record's end is closed by ``(N`` at that sample.

    Returns
    -------
    list of (int, str)
        The changes, in sample order, one per sample at most, each different from the one
        before.

    Examples
    --------
    A confirmed AF episode over 0-60 s with an "other" mark over 12.5-21 s, at 1 Hz:
    ``[(0, "(AFIB"), (12, "(OTHER"), (21, "(AFIB"), (60, "(N")]`` (12.5 s rounds to 12).
    """
    spans = [
        (*_span(a, fs, n_samples), _STANDING[a.status], a.updated, a.id, RHYTHM_CODES[a.kind])
        for a in annotations
        if a.status != "rejected"
    ]
    # In the order of precedence above, so a span's index is its rank (the greatest wins);
    # starts come first in that order, so it is also the order in which spans open.
    ranked = sorted(spans, key=lambda s: (s[0], -s[1], s[2], s[3], s[4]))
    boundaries = sorted({s for span in ranked for s in span[:2]})
    # The open spans, as a heap on their negated rank: the top one holds the rhythm. A span
    # that has ended is dropped once it reaches the top (below it, it decides nothing).
    heap: list[tuple[int, int, str]] = []
    changes: list[tuple[int, str]] = []
    following = 0
    for at in boundaries:
        if n_samples is not None and at >= n_samples:
            break  # a change at the record's end would state nothing about any sample
        while following < len(ranked) and ranked[following][0] == at:
            heapq.heappush(heap, (-following, ranked[following][1], ranked[following][5]))
            following += 1
        while heap and heap[0][1] <= at:
            heapq.heappop(heap)
        code = heap[0][2] if heap else "(N"
        if not changes or changes[-1][1] != code:
            changes.append((at, code))
    return changes


def _escape(text: str, *, spaces: bool) -> str:
    """Percent-encode (UTF-8) what an aux note cannot hold as it is: ``%``, control
    characters (newlines, tabs), anything outside ASCII, and spaces unless ``spaces``.

    WFDB aux notes are bytes that tools print as one line of ASCII (``wfdb`` writes a
    character per byte and fails past code 255), so this keeps every note intact and
    readable where it is plain text; :func:`urllib.parse.unquote` gives it back.
    """
    kept = []
    for ch in text:
        if ch == "%" or not ("!" <= ch <= "~" or (spaces and ch == " ")):
            kept.append("".join(f"%{b:02X}" for b in ch.encode("utf-8")))
        else:
            kept.append(ch)
    return "".join(kept)


def comment_text(a: UserAnnotation) -> str:
    """What the WFDB comment of an annotation says, before it is cut to aux-note length.

    ``status=<s> kind=<k> start_s=<t> end_s=<t> author=<a> note=<n>``: the fields hold no
    spaces (the author's are percent-encoded), the note comes last and keeps its spaces;
    see :func:`_escape` for what is encoded. It never starts with ``(``, so no reader takes
    it for a rhythm.
    """
    return (
        f"status={a.status} kind={a.kind} start_s={a.start_s!r} end_s={a.end_s!r} "
        f"author={_escape(a.author, spaces=False)} note={_escape(a.note, spaces=True)}"
    )


def _chunks(text: str) -> list[str]:
    """Cut a comment into aux notes of at most :data:`MAX_AUX` characters, never inside a
    ``%XX`` escape; every one after the first begins with :data:`CONTINUED`."""
    chunks: list[str] = []
    rest = text
    while True:
        room = MAX_AUX - (len(CONTINUED) if chunks else 0)
        cut = len(rest) if len(rest) <= room else room
        percent = rest.rfind("%", max(cut - 2, 0), cut)
        if cut < len(rest) and percent >= 0:
            cut = percent  # an escape is 3 characters: keep it whole
        chunks.append((CONTINUED if chunks else "") + rest[:cut])
        rest = rest[cut:]
        if not rest:
            return chunks


def comments(
    annotations: Iterable[UserAnnotation], fs: float, n_samples: int | None = None
) -> list[tuple[int, str]]:
    """The WFDB comments ``(sample, aux note)`` that carry every annotation's status, kind,
    times, author and note, rejected verdicts included.

    Each annotation gets one comment at its first sample (see :func:`comment_text`), or
    several in a row when it is longer than an aux note holds (:data:`MAX_AUX`). A span
    that starts at sample 0 has its comment at sample 1: ``wfdb.rdann`` (and
    :func:`~cardiostream.io.wfdb_checks.decode_annotations`) take every comment at sample
    0 for a definition of the file and hide it. The comment states the exact times anyway.
    """
    found: list[tuple[int, str]] = []
    for a in annotations:
        start = max(_span(a, fs, n_samples)[0], 1)
        found.extend((start, chunk) for chunk in _chunks(comment_text(a)))
    return found


def read_comments(samples: Iterable[int], aux_notes: Iterable[str | None]) -> list[dict[str, Any]]:
    """Read back the annotations' comments from a WFDB annotation file (as ``wfdb.rdann``
    or :func:`~cardiostream.io.wfdb_checks.decode_annotations` give its samples and notes).

    Returns
    -------
    list of dict
        One per annotation, in file order: ``sample``, ``status``, ``kind``, ``start_s``,
        ``end_s``, ``author`` and ``note``, decoded. Notes that are no comment of ours
        (rhythm changes, other comments) are left out.
    """
    texts: list[tuple[int, str]] = []
    for sample, aux in zip(samples, aux_notes, strict=True):
        if not aux:
            continue
        if aux.startswith(CONTINUED) and texts and texts[-1][0] == sample:
            texts[-1] = (sample, texts[-1][1] + aux[len(CONTINUED) :])
        elif aux.startswith("status="):
            texts.append((int(sample), aux))
    read: list[dict[str, Any]] = []
    for sample, text in texts:
        head, _, note = text.partition(" note=")
        fields = dict(item.partition("=")[::2] for item in head.split(" "))
        read.append({
            "sample": sample, "status": fields.get("status"), "kind": fields.get("kind"),
            "start_s": float(fields.get("start_s", "nan")),
            "end_s": float(fields.get("end_s", "nan")),
            "author": unquote(fields.get("author", "")), "note": unquote(note),
        })  # fmt: skip
    return read


def to_wfdb(
    annotations: Iterable[UserAnnotation],
    record_name: str,
    fs: float,
    n_samples: int | None = None,
) -> bytes:
    """The annotations as a WFDB annotation file (``<record>.usr``).

    It holds the rhythm changes of :func:`rhythm_changes` (``+`` annotations whose aux
    notes are ``(AFIB``, ``(N``, ``(NOISE`` or ``(OTHER``) and, for every annotation, a
    comment (``"``) with its status, kind, times, author and note (:func:`comments`; read
    them back with :func:`read_comments`). Where both fall on one sample the rhythm change
    comes first. With nothing to write, the file holds one comment at sample 0, since
    ``wfdb.wrann`` writes no empty file (``wfdb.rdann`` reads that back as no annotations).

    Parameters
    ----------
    annotations : iterable of UserAnnotation
        The annotations.
    record_name : str
        The record; only names the file while it is written (the bytes do not hold it).
    fs : float
        The record's sampling rate, written into the file.
    n_samples : int, optional
        The record's length (see :func:`rhythm_changes`).
    """
    import wfdb  # pandas comes with it: import only when a WFDB file is written

    annotations = list(annotations)
    # Sorted by sample only (stable): rhythm changes before comments, comments in the
    # annotations' order, and a long comment's pieces in a row.
    written = sorted(
        [(s, "+", note) for s, note in rhythm_changes(annotations, fs, n_samples)]
        + [(s, '"', note) for s, note in comments(annotations, fs, n_samples)],
        key=lambda item: item[0],
    )
    if not written:
        written = [(0, '"', "no user annotations")]
    # wfdb accepts letters, digits, - and _ in record names.
    name = re.sub(r"[^A-Za-z0-9_-]", "_", record_name) or "record"
    with tempfile.TemporaryDirectory(prefix="cardiostream-wfdb-") as folder:
        wfdb.wrann(
            name,
            "usr",
            sample=np.asarray([s for s, _, _ in written], dtype=np.int64),
            symbol=[symbol for _, symbol, _ in written],
            aux_note=[note for _, _, note in written],
            fs=fs,
            write_dir=folder,
        )
        return (Path(folder) / f"{name}.usr").read_bytes()
