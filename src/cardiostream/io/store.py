"""The Parquet store: one partition per record, sliced by row groups without reading it all.

Layout::

    store/
      record=<id>/
        part-0.parquet       sample (int64) + one float32 column per lead, zstd,
                             one row group per ``row_group_seconds`` of signal
        annotations.parquet  kind (beat | rhythm), sample, end, label
        meta.json            fs, leads, columns, n_samples, source, the record's meta
        user_annotations.json     reviewers' annotations: a snapshot and a journal of the
        user_annotations.journal  changes since (:mod:`cardiostream.io.user_annotations`)

A partition appears at once or not at all: it is written into a hidden temporary folder
in the store and renamed into place. Writing a record again keeps its reviewers'
annotations, which are not part of the record's data.
"""

from __future__ import annotations

import bisect
import json
import logging
import math
import os
import re
import shutil
import time as _time
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.parquet as pq

from cardiostream.errors import InputError
from cardiostream.io.annotation_table import annotation_table, annotations_from_table
from cardiostream.io.checks import foreign_errors
from cardiostream.io.layout import (
    ANNOTATION_FILE,
    KEPT_FILES,
    META_FILE,
    PARTITION_PREFIX,
    SIGNAL_FILE,
    USER_ANNOTATION_FILE,
)
from cardiostream.record import Annotations, Record

_log = logging.getLogger(__name__)

SAMPLE_COLUMN = "sample"
#: Seconds of signal per Parquet row group: a slice reads the row groups it overlaps.
ROW_GROUP_SECONDS = 60.0
#: Version of the partition layout, written to meta.json.
LAYOUT_VERSION = 1
#: Seconds after which what a killed write left in the store counts as stale.
STALE_AFTER_S = 3600.0

_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+-]{0,199}")
_UNSAFE = re.compile(r"[^A-Za-z0-9._+-]+")


def validate_record_id(record_id: str) -> str:
    """Return ``record_id`` when it is a safe partition name, else raise InputError.

    Safe names are 1 to 200 letters, digits and ``. _ + -``, starting with a letter or digit
    and never containing ``..``, so no id can reach outside the store.
    """
    if not isinstance(record_id, str) or not _ID.fullmatch(record_id) or ".." in record_id:
        raise InputError(
            f"record id {record_id!r}: must be letters, digits and . _ + - (no '/', no '..')"
        )
    return record_id


def safe_record_id(name: str) -> str:
    """Turn a record name (e.g. a file stem) into a valid record id by replacing odd characters."""
    candidate = _UNSAFE.sub("_", name).strip("._")
    candidate = re.sub(r"\.{2,}", ".", candidate)[:200]
    return validate_record_id(candidate or "record")


@dataclass(frozen=True)
class _Partition:
    """What a reader needs to know about one partition, cached per file version."""

    meta: dict[str, Any]
    metadata: Any  # pyarrow.parquet.FileMetaData
    row_starts: list[int]
    version: tuple[int, int]


class ParquetStore:
    """A folder of records as partitioned Parquet.

    Parameters
    ----------
    store_dir : str or Path
        The store's folder. Reading needs it to exist; writing creates it.

    Notes
    -----
    The store keeps each partition's Parquet footer once read, so repeated slices of a
    record read only the row groups they overlap. A rewritten partition is noticed by its
    modification time and read afresh.
    """

    def __init__(self, store_dir: str | Path) -> None:
        self.path = Path(store_dir)
        self._cache: dict[str, _Partition] = {}

    # -- writing -------------------------------------------------------------------------

    def write(
        self,
        record: Record,
        record_id: str | None = None,
        *,
        row_group_seconds: float = ROW_GROUP_SECONDS,
    ) -> str:
        """Write one record as a partition, replacing any partition of the same id.

        Parameters
        ----------
        record : Record
            The record.
        record_id : str, optional
            The partition's id; the record's name by default. Must be a safe id.
        row_group_seconds : float
            Seconds of signal per row group.

        Returns
        -------
        str
            The record id.
        """
        record_id = validate_record_id(record.name if record_id is None else record_id)
        if not row_group_seconds > 0:
            raise InputError(f"row_group_seconds must be positive, got {row_group_seconds}")
        self.path.mkdir(parents=True, exist_ok=True)
        final = self.partition_dir(record_id)
        tmp = self.path / f".tmp-{record_id}-{uuid.uuid4().hex}"
        tmp.mkdir()
        try:
            _write_signal(record, record_id, tmp / SIGNAL_FILE, row_group_seconds)
            _write_annotations(record, tmp / ANNOTATION_FILE)
            _write_meta(record, record_id, tmp / META_FILE, row_group_seconds)
            _publish(tmp, final)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        self._cache.pop(record_id, None)
        return record_id

    # -- reading -------------------------------------------------------------------------

    def partition_dir(self, record_id: str) -> Path:
        """Return the folder of a record's partition (it may not exist)."""
        return self.path / f"{PARTITION_PREFIX}{validate_record_id(record_id)}"

    def ids(self) -> list[str]:
        """Return the ids of the records in the store, sorted."""
        if not self.path.is_dir():
            raise InputError(f"{self.path}: no such store folder")
        found = []
        for entry in self.path.iterdir():
            record_id = entry.name[len(PARTITION_PREFIX) :]
            if (
                entry.name.startswith(PARTITION_PREFIX)
                and _ID.fullmatch(record_id)
                and ".." not in record_id
                and (entry / META_FILE).is_file()
            ):
                found.append(record_id)
        return sorted(found)

    def clean_stale(self, older_than_s: float = STALE_AFTER_S) -> list[str]:
        """Remove what killed writes left behind: temporary partition folders, partitions
        swapped out by a rewrite, and temporary files of user-annotation saves.

        Only what has not changed for ``older_than_s`` seconds goes, so that a write in
        progress in another process is left alone. A swapped-out partition whose record is
        missing (a rewrite killed between its two renames) is put back rather than removed.

        Parameters
        ----------
        older_than_s : float
            Age, from the newest modification time in it, past which a leftover is stale.

        Returns
        -------
        list of str
            The names (relative to the store) of what was removed or put back.
        """
        if not self.path.is_dir():
            return []
        now = _time.time()
        done: list[str] = []
        for entry in sorted(self.path.iterdir()):
            name = entry.name
            if name.startswith(PARTITION_PREFIX) and entry.is_dir():
                for tmp in entry.glob(f".{USER_ANNOTATION_FILE}.*"):
                    if _age(tmp, now) > older_than_s and _remove(tmp):
                        done.append(f"{name}/{tmp.name}")
                continue
            if not name.startswith((".tmp-", ".old-")) or _age(entry, now) <= older_than_s:
                continue
            if name.startswith(".old-"):
                record_id = name[len(".old-") :].rpartition("-")[0]
                final = self.path / f"{PARTITION_PREFIX}{record_id}"
                if _ID.fullmatch(record_id) and not final.exists():
                    os.replace(entry, final)
                    done.append(f"{name} -> {final.name}")
                    continue
            if _remove(entry):
                done.append(name)
        for what in done:
            _log.warning("store %s: cleaned up after a killed write: %s", self.path, what)
        return done

    def list(self) -> list[dict[str, Any]]:
        """Return one dict per record: ``id``, ``name``, ``fs``, ``leads``, ``n_samples``,
        ``duration_s``, ``source``, ``n_beats``, ``n_rhythms`` and the record's ``meta``.

        A record whose ``meta.json`` cannot be read (corrupt, not an object) is left out and
        logged as a warning, so that one broken record does not hide all the others; reading
        it by id still raises.
        """
        found = []
        for record_id in self.ids():
            try:
                found.append(self.meta(record_id))
            except InputError as exc:
                _log.warning("store %s: record %r left out of the listing: %s",
                             self.path, record_id, exc)  # fmt: skip
        return found

    def __contains__(self, record_id: object) -> bool:
        return isinstance(record_id, str) and record_id in self.ids()

    def meta(self, record_id: str) -> dict[str, Any]:
        """Return the metadata of one record (the contents of its ``meta.json``)."""
        path = self.partition_dir(record_id) / META_FILE
        if not path.is_file():
            raise InputError(f"{self.path}: no record {record_id!r} in the store")
        with foreign_errors(path, "reading store metadata"):
            meta = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(meta, dict):
            raise InputError(f"{path}: not a metadata object")
        _check_meta(meta, path)
        return meta

    def read(self, record_id: str) -> Record:
        """Read a whole record back."""
        part = self._partition(record_id)
        meta = part.meta
        signal_path = self.partition_dir(record_id) / SIGNAL_FILE
        with foreign_errors(signal_path, "reading the signal"):
            table = pq.read_table(signal_path, columns=list(meta["columns"]))
            n = table.num_rows
            signal = np.empty((n, len(meta["columns"])), np.float32)
            for j, column in enumerate(meta["columns"]):
                signal[:, j] = table.column(column).to_numpy()
        info = dict(meta.get("meta") or {})
        info["store"] = {"path": str(self.path), "id": record_id}
        return Record(
            signal=signal,
            fs=float(meta["fs"]),
            leads=list(meta["leads"]),
            name=str(meta["name"]),
            annotations=self.annotations(record_id),
            meta=info,
        )

    def annotations(self, record_id: str) -> Annotations:
        """Read a record's beats and rhythm intervals."""
        meta = self.meta(record_id)
        path = self.partition_dir(record_id) / ANNOTATION_FILE
        if not path.is_file():
            return Annotations()
        with foreign_errors(path, "reading annotations"):
            table = pq.read_table(path)
        return annotations_from_table(table, path, int(meta["n_samples"]))

    def read_slice(
        self, record_id: str, lead: int | str, start_s: float, duration_s: float
    ) -> tuple[npt.NDArray[np.float32], float]:
        """Read ``duration_s`` seconds of one lead from ``start_s``, touching only its row groups.

        Parameters
        ----------
        record_id : str
            The record.
        lead : int or str
            The lead, by index or by name.
        start_s : float
            Start in seconds from the record's beginning, rounded to the nearest sample.
        duration_s : float
            Length in seconds; a slice reaching past the end stops at the end.

        Returns
        -------
        signal : ndarray of float32
            The samples, in mV.
        fs : float
            The sampling rate.
        """
        part = self._partition(record_id)
        meta = part.meta
        fs = float(meta["fs"])
        n = int(meta["n_samples"])
        column = _column_for(meta, lead, record_id)
        if not np.isfinite(start_s) or start_s < 0:
            raise InputError(f"start_s: must be a finite time >= 0, got {start_s}")
        # Compare in seconds before turning times into sample counts: a huge but finite time
        # (1e308) overflows to inf when multiplied by fs, and round(inf) raises OverflowError.
        length_s = n / fs
        if start_s >= length_s:
            raise InputError(
                f"start_s: {start_s} s is past the end of {record_id!r} ({length_s:g} s)"
            )
        if not np.isfinite(duration_s) or duration_s <= 0:
            raise InputError(f"duration_s: must be a finite time > 0, got {duration_s}")
        start = round(start_s * fs)
        if start >= n:
            raise InputError(
                f"start_s: {start_s} s is past the end of {record_id!r} ({length_s:g} s)"
            )
        stop = min(n, start + max(1, round(min(duration_s, length_s) * fs)))
        first = bisect.bisect_right(part.row_starts, start) - 1
        last = bisect.bisect_right(part.row_starts, stop - 1) - 1
        path = self.partition_dir(record_id) / SIGNAL_FILE
        with foreign_errors(path, "reading a slice"), self._open(path) as source:
            parquet = pq.ParquetFile(source, metadata=part.metadata)
            table = parquet.read_row_groups(list(range(first, last + 1)), columns=[column])
        values = table.column(0).to_numpy()
        offset = start - part.row_starts[first]
        return np.ascontiguousarray(values[offset : offset + stop - start], np.float32), fs

    def _open(self, path: Path) -> BinaryIO:
        """Open a partition's signal file; a seam for measuring what a slice reads."""
        try:
            return path.open("rb")
        except OSError as exc:
            raise InputError(f"{path}: cannot open: {exc.strerror}") from None

    def _partition(self, record_id: str) -> _Partition:
        path = self.partition_dir(record_id) / SIGNAL_FILE
        try:
            st = path.stat()
        except OSError:
            raise InputError(f"{self.path}: no record {record_id!r} in the store") from None
        version = (st.st_mtime_ns, st.st_size)
        cached = self._cache.get(record_id)
        if cached is not None and cached.version == version:
            return cached
        meta = self.meta(record_id)
        with foreign_errors(path, "reading the Parquet footer"), self._open(path) as source:
            metadata = pq.read_metadata(source)
        starts = [0]
        for i in range(metadata.num_row_groups):
            starts.append(starts[-1] + metadata.row_group(i).num_rows)
        if starts[-1] != int(meta["n_samples"]):
            raise InputError(
                f"{path}: holds {starts[-1]} samples, {META_FILE} says {meta['n_samples']}"
            )
        part = _Partition(meta=meta, metadata=metadata, row_starts=starts[:-1], version=version)
        self._cache[record_id] = part
        return part


def _age(path: Path, now: float) -> float:
    """Seconds since ``path``, or anything directly in it, last changed."""
    try:
        newest = path.stat().st_mtime
        if path.is_dir():
            for child in path.iterdir():
                newest = max(newest, child.stat().st_mtime)
    except OSError:
        return 0.0  # gone meanwhile, or not ours to look at: leave it
    return now - newest


def _remove(path: Path) -> bool:
    try:
        if path.is_dir():
            shutil.rmtree(path)
        else:
            path.unlink()
    except OSError as exc:
        _log.warning("cannot remove %s: %s", path, exc)
        return False
    return True


def _check_meta(meta: dict[str, Any], path: Path) -> None:
    """Raise InputError unless the fields that reading needs are present and of their type.

    Parameters
    ----------
    meta : dict
        The parsed ``meta.json``.
    path : Path
        The file, named in errors.
    """
    for key in ("name", "fs", "leads", "columns", "n_samples"):
        if key not in meta:
            raise InputError(f"{path}: field {key!r} is missing")
    fs, n = meta["fs"], meta["n_samples"]
    if isinstance(fs, bool) or not isinstance(fs, int | float) or not 0 < fs < math.inf:
        raise InputError(f"{path}: field 'fs' must be a positive number, got {fs!r}")
    if isinstance(n, bool) or not isinstance(n, int) or n < 0:
        raise InputError(f"{path}: field 'n_samples' must be a whole number >= 0, got {n!r}")
    if not isinstance(meta["name"], str):
        raise InputError(f"{path}: field 'name' must be text")
    leads, columns = meta["leads"], meta["columns"]
    for key, value in (("leads", leads), ("columns", columns)):
        if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
            raise InputError(f"{path}: field {key!r} must be a non-empty list of names")
    if len(leads) != len(columns):
        raise InputError(f"{path}: {len(leads)} leads but {len(columns)} columns")
    if "meta" in meta and not isinstance(meta["meta"], dict | None):
        raise InputError(f"{path}: field 'meta' must be an object")


def _column_for(meta: dict[str, Any], lead: int | str, record_id: str) -> str:
    leads: list[str] = list(meta["leads"])
    columns: list[str] = list(meta["columns"])
    if isinstance(lead, str):
        if lead not in leads:
            raise InputError(f"lead: {record_id!r} has no lead {lead!r}; leads are {leads}")
        return columns[leads.index(lead)]
    if not -len(leads) <= int(lead) < len(leads):
        raise InputError(f"lead: index {lead} out of range 0..{len(leads) - 1} for {record_id!r}")
    return columns[int(lead)]


def _column_names(leads: Sequence[str]) -> list[str]:
    """Name columns after leads when the names are usable, else ``lead_<i>``."""
    names = list(leads)
    usable = len(set(names)) == len(names) and all(
        name and name != SAMPLE_COLUMN and not name.startswith("__") for name in names
    )
    return names if usable else [f"lead_{j}" for j in range(len(names))]


def _write_signal(record: Record, record_id: str, path: Path, row_group_seconds: float) -> None:
    columns = _column_names(record.leads)
    arrays: dict[str, Any] = {SAMPLE_COLUMN: pa.array(np.arange(record.n_samples, dtype=np.int64))}
    for j, name in enumerate(columns):
        arrays[name] = pa.array(record.signal[:, j])
    table = pa.table(arrays).replace_schema_metadata(
        {"cardiostream": json.dumps({"id": record_id, "fs": record.fs, "leads": record.leads})}
    )
    encodings = {SAMPLE_COLUMN: "DELTA_BINARY_PACKED"}
    # Byte-stream split lines up the exponent bytes of neighbouring samples, which zstd
    # then compresses far better than plain float32.
    encodings.update({name: "BYTE_STREAM_SPLIT" for name in columns})
    pq.write_table(
        table,
        path,
        row_group_size=max(1, round(row_group_seconds * record.fs)),
        compression="zstd",
        use_dictionary=False,
        column_encoding=encodings,
        write_statistics=[SAMPLE_COLUMN],
    )


def _write_annotations(record: Record, path: Path) -> None:
    pq.write_table(annotation_table(record.annotations), path, compression="zstd")


def _write_meta(record: Record, record_id: str, path: Path, row_group_seconds: float) -> None:
    meta = {
        "id": record_id,
        "name": record.name,
        "fs": record.fs,
        "leads": list(record.leads),
        "columns": _column_names(record.leads),
        "units": "mV",
        "n_samples": record.n_samples,
        "duration_s": record.duration,
        "row_group_samples": max(1, round(row_group_seconds * record.fs)),
        "source": str(record.meta.get("source", "")),
        "n_beats": len(record.annotations.beats),
        "n_rhythms": len(record.annotations.rhythms),
        "layout_version": LAYOUT_VERSION,
        "meta": _jsonable(record.meta),
    }
    with path.open("w", encoding="utf-8") as f:
        json.dump(meta, f, indent=1, allow_nan=False)
        f.flush()
        os.fsync(f.fileno())


def _publish(tmp: Path, final: Path) -> None:
    """Move a finished partition into place; an older one is swapped out, then removed."""
    for child in tmp.iterdir():
        with child.open("rb") as f:
            os.fsync(f.fileno())
    if not final.exists():
        os.replace(tmp, final)
        return
    old = final.with_name(f".old-{final.name[len(PARTITION_PREFIX) :]}-{uuid.uuid4().hex}")
    os.replace(final, old)
    try:
        # Copied only once the old folder is out of the way: a user-annotation save racing
        # this rewrite then either lands before the copy or fails (its folder is gone),
        # never silently into the discarded folder.
        _carry_over(old, tmp)
        os.replace(tmp, final)
    except BaseException:
        os.replace(old, final)
        raise
    shutil.rmtree(old, ignore_errors=True)


def _carry_over(old: Path, tmp: Path) -> None:
    for name in KEPT_FILES:
        if (old / name).is_file():
            shutil.copy2(old / name, tmp / name)
            with (tmp / name).open("rb") as f:
                os.fsync(f.fileno())


def _jsonable(value: Any) -> Any:
    """Turn record metadata into JSON values (numbers, strings, lists, dicts; NaN -> None)."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return _jsonable(value.tolist())
    if isinstance(value, np.generic):
        return _jsonable(value.item())
    if isinstance(value, float):
        return value if np.isfinite(value) else None
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    return str(value)


def write_store(
    records: Iterable[Record],
    store_dir: str | Path,
    *,
    row_group_seconds: float = ROW_GROUP_SECONDS,
) -> list[str]:
    """Write records into a store, one partition each, named by their record names.

    Parameters
    ----------
    records : iterable of Record
        The records; their names must be valid record ids and distinct.
    store_dir : str or Path
        The store's folder, created when missing.
    row_group_seconds : float
        Seconds of signal per row group.

    Returns
    -------
    list of str
        The record ids written, in order.
    """
    store = ParquetStore(store_dir)
    written: list[str] = []
    for record in records:
        record_id = validate_record_id(record.name)
        if record_id in written:
            raise InputError(f"record id {record_id!r}: two records with the same name")
        written.append(store.write(record, record_id, row_group_seconds=row_group_seconds))
    return written


def read_partition(path: str | Path, record: str | None = None) -> Record:
    """Read a record from a partition folder (``store/record=<id>``) or from a store and an id.

    Parameters
    ----------
    path : str or Path
        A partition folder, its ``part-0.parquet``, or the store folder when ``record`` is given.
    record : str, optional
        The record id, when ``path`` is the store folder.
    """
    path = Path(path)
    if record is not None:
        return ParquetStore(path).read(record)
    if path.is_file() and path.name == SIGNAL_FILE:
        path = path.parent
    if not path.name.startswith(PARTITION_PREFIX):
        raise InputError(f"{path}: not a store partition (expected a record=<id> folder)")
    return ParquetStore(path.parent).read(path.name[len(PARTITION_PREFIX) :])
