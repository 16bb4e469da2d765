"""Recordings of live streams that survive a crash: append-only segments, then Parquet.

While a stream records, every frame's samples are appended (float32, raw) to the segment file
of the stream's current part in ``<store>/.live/`` *before* the frame is acknowledged, so an
engine or server that is killed loses none of them: the operating system has the bytes. A
:class:`Syncer` thread forces the store's file system to disk every ``record_sync_s``
(``syncfs``: one call for every stream, where one ``fsync`` per stream would not keep up),
so within about that long they survive a power cut too. When a part is complete (every
``record_part_s``, at ``stop``, at expiry and at shutdown) its segment becomes a record of
the Parquet store and is deleted.

A segment left behind by a crash is either continued (the stream is restored by the
supervised engine, see :mod:`cardiostream.serve.batcher`) or, at the next start, turned into
a record of its own (``meta.recovered``) by :func:`recover_orphans`.
"""

from __future__ import annotations

import contextlib
import ctypes
import glob
import json
import logging
import os
import queue
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from cardiostream.record import Record

log = logging.getLogger(__name__)

#: The folder of open segments, inside the store.
LIVE_DIR = ".live"
_DATA, _META = ".f32", ".json"


@dataclass(frozen=True)
class Part:
    """One part of one stream's recording: where its segment is and what it holds."""

    owner: str
    stream_id: str
    fs: float
    leads: tuple[str, ...]
    lead: int  # the analysed one
    number: int
    start: int  # the stream's sample index of the part's first row
    #: When the stream began (UTC, to the millisecond): a stream id used again after its
    #: state was lost (a server restart) records under new names, never over the old ones.
    began: str = ""

    @property
    def name(self) -> str:
        """The record id the part gets in the store."""
        from cardiostream.io.store import safe_record_id

        began = f"-{self.began}" if self.began else ""
        return safe_record_id(f"{self.owner}-{self.stream_id}{began}-part{self.number:04d}")

    def meta(self) -> dict[str, Any]:
        return {
            "owner": self.owner,
            "stream_id": self.stream_id,
            "fs": self.fs,
            "leads": list(self.leads),
            "lead": self.lead,
            "number": self.number,
            "start": self.start,
            "began": self.began,
        }

    @classmethod
    def from_meta(cls, meta: dict[str, Any]) -> Part:
        return cls(
            str(meta["owner"]),
            str(meta["stream_id"]),
            float(meta["fs"]),
            tuple(str(x) for x in meta["leads"]),
            int(meta["lead"]),
            int(meta["number"]),
            int(meta["start"]),
            str(meta.get("began", "")),
        )


class Segments:
    """The open segments of a store's live recordings (engine process only)."""

    def __init__(self, store: Any) -> None:
        self.store = store  # a ParquetStore
        self.folder = Path(store.path) / LIVE_DIR
        self.written = threading.Event()  # set by every append; the Syncer clears it
        #: Parts whose description is on disk: an append needs no look at the folder then.
        self._described: set[str] = set()

    def _paths(self, part: Part) -> tuple[Path, Path]:
        base = self.folder / part.name
        return base.with_name(base.name + _DATA), base.with_name(base.name + _META)

    def append(self, part: Part, rows: npt.NDArray[np.float32]) -> None:
        """Append rows (samples × leads) to the part's segment, creating it if needed."""
        data, meta = self._paths(part)
        if part.name not in self._described:
            if not meta.exists():
                self.folder.mkdir(parents=True, exist_ok=True)
                tmp = meta.with_name(meta.name + ".tmp")
                tmp.write_text(json.dumps(part.meta()), encoding="utf-8")
                os.replace(tmp, meta)
            self._described.add(part.name)
        with open(data, "ab") as f:
            f.write(np.ascontiguousarray(rows, dtype="<f4").tobytes())
        self.written.set()

    def rows(self, part: Part) -> int:
        """Rows the part's segment holds (whole rows: a torn last one is not counted)."""
        data, _ = self._paths(part)
        try:
            size = data.stat().st_size
        except FileNotFoundError:
            return 0
        return size // (4 * len(part.leads))

    def truncate(self, part: Part, n_rows: int) -> None:
        """Cut the part's segment back to its first ``n_rows`` rows (a restored stream's
        checkpoint); later parts of the stream, written after it, are removed."""
        data, _ = self._paths(part)
        if data.exists():
            with open(data, "r+b") as f:
                f.truncate(min(n_rows * 4 * len(part.leads), data.stat().st_size))
        # Only this stream's own parts (same owner, id and start) share the name's stem.
        stem = part.name.rsplit("-part", 1)[0]
        for path in self.folder.glob(f"{glob.escape(stem)}-part*{_META}"):
            try:
                other = Part.from_meta(json.loads(path.read_text(encoding="utf-8")))
            except (OSError, ValueError, KeyError, TypeError):
                continue
            if other.name.rsplit("-part", 1)[0] == stem and other.number > part.number:
                self._remove(other)

    def resume(self, part: Part, consumed: int) -> None:
        """Make the part's segment hold exactly the rows up to sample ``consumed`` again, as a
        stream restored from a checkpoint expects (see :meth:`truncate`). A part finished
        after the checkpoint (its record written, its segment gone) is reopened from the
        store."""
        want = consumed - part.start
        if self.rows(part) < want:
            if part.name in self.store:
                signal = self.store.read(part.name).signal[:want]
                self._remove(part)
                self.append(part, signal.astype(np.float32))
            else:
                log.warning("segment %s: %d rows short of its checkpoint", part.name, want)
        self.truncate(part, want)

    def finish(self, part: Part, final: bool, recovered: bool = False) -> str | None:
        """Write the part's segment into the store as a record and delete it; the record id,
        or None when the segment is empty."""
        data, _ = self._paths(part)
        try:
            raw = np.fromfile(data, dtype="<f4")
        except FileNotFoundError:
            raw = np.empty(0, np.float32)
        n_leads = len(part.leads)
        n = raw.size // n_leads
        if n == 0:
            self._remove(part)
            return None
        meta: dict[str, Any] = {
            "stream_id": part.stream_id,
            "owner": part.owner,
            "final": final,
            "analysed_lead": part.leads[part.lead],
            "start_sample": part.start,
            "began": part.began,
        }
        if recovered:
            meta["recovered"] = True
        record = Record(
            signal=raw[: n * n_leads].reshape(n, n_leads),
            fs=part.fs,
            leads=list(part.leads),
            name=part.name,
            meta=meta,
        )
        # The store writes a hidden temporary partition and renames it into place, so a crash
        # never leaves a half-written record visible; the segment goes only after that.
        record_id: str = self.store.write(record, part.name)
        self._remove(part)
        return record_id

    def _remove(self, part: Part) -> None:
        self._described.discard(part.name)
        for path in self._paths(part):
            path.unlink(missing_ok=True)

    def tidy(self) -> None:
        """Remove the segments' folder if it is empty (a quiet store has nothing hidden)."""
        with contextlib.suppress(OSError):
            self.folder.rmdir()

    def _meta_files(self) -> list[Path]:
        if not self.folder.is_dir():
            return []
        return sorted(self.folder.glob("*" + _META))

    def open_parts(self) -> list[Part]:
        """The parts whose segments are on disk (a broken description is skipped, logged)."""
        parts = []
        for path in self._meta_files():
            try:
                parts.append(Part.from_meta(json.loads(path.read_text(encoding="utf-8"))))
            except (OSError, ValueError, KeyError, TypeError) as exc:
                log.warning("%s: unreadable segment description (%s)", path.name, exc)
        return parts


def recover_orphans(segments: Segments, live: dict[tuple[str, str, str], int]) -> list[str]:
    """Write the segments that no live stream is writing into the store; their record ids.

    ``live`` maps each live stream (owner, stream id, when it began) to the part it writes.
    Its earlier parts still on disk were finished but not yet written when an engine died:
    they become the records they were to be. Every other segment belongs to a stream that is
    gone, and becomes a record of its own marked ``recovered``.
    """
    found = []
    for part in segments.open_parts():
        current = live.get((part.owner, part.stream_id, part.began))
        if current is not None and part.number >= current:
            continue
        try:
            if current is not None:
                record_id = segments.finish(part, final=False)
            else:
                record_id = segments.finish(part, final=True, recovered=True)
        except Exception as exc:  # one bad segment must not stop the server or the others
            log.warning("segment %s: not recovered (%s)", part.name, exc)
            continue
        if record_id is not None:
            found.append(record_id)
    segments.tidy()
    return found


class Finisher(threading.Thread):
    """Writes finished parts into the store away from the engine's loop: a part's record
    takes tens of milliseconds, and thousands of streams expiring together must not stall
    the live ones. Until it is written, a part stays in its segment (a crash loses nothing)."""

    def __init__(self, segments: Segments) -> None:
        super().__init__(name="cardiostream-finisher", daemon=True)
        self.segments = segments
        self.queue: queue.Queue[tuple[Part, bool]] = queue.Queue()

    def finish(self, part: Part, final: bool) -> None:
        """Write the part into the store soon."""
        self.queue.put((part, final))

    def run(self) -> None:
        while True:
            part, final = self.queue.get()
            try:
                self.segments.finish(part, final=final)
            except Exception as exc:  # the segment stays; the next start recovers it
                log.error("segment %s: not written into the store (%s)", part.name, exc)
            finally:
                self.queue.task_done()

    def drain(self) -> None:
        """Wait until every part handed over is written."""
        self.queue.join()


class Syncer(threading.Thread):
    """Forces the store's file system to disk every ``every_s`` while segments are written."""

    def __init__(self, segments: Segments, every_s: float) -> None:
        super().__init__(name="cardiostream-syncer", daemon=True)
        self.segments, self.every_s = segments, every_s
        self.stopped = threading.Event()
        self.syncs = 0

    def run(self) -> None:
        while not self.stopped.wait(self.every_s):
            if self.segments.written.is_set():
                self.segments.written.clear()
                self.sync()

    def sync(self) -> None:
        """One sync of the store's file system (``syncfs`` where there is one)."""
        folder = self.segments.store.path
        fd = os.open(folder, os.O_RDONLY)
        try:
            if _syncfs is None or _syncfs(fd) != 0:
                os.sync()
        finally:
            os.close(fd)
        self.syncs += 1

    def stop(self) -> None:
        self.stopped.set()


def _load_syncfs() -> Any:
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.syncfs
    except (OSError, AttributeError):  # not Linux: os.sync does the same, for every disk
        return None


_syncfs = _load_syncfs()
