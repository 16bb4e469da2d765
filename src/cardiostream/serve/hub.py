"""The live streams of the server, in the engine process: their registry and recordings.

The :class:`Hub` keys every stream by (token owner, stream id), keeps a disconnected one for
``resume_ttl_s`` so that the same id can resume it, and writes what the streams send into the
Parquet store when recording is on. It implements :class:`~cardiostream.serve.rpc.Engine`:
:mod:`cardiostream.serve.engine` serves it to the web process.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from cardiostream import wire
from cardiostream.errors import InputError
from cardiostream.record import Record
from cardiostream.serve.config import ServeConfig
from cardiostream.serve.rpc import Lines, Opened
from cardiostream.serve.session import Key, Session
from cardiostream.stream.messages import Window
from cardiostream.stream.processor import StreamProcessor


def _lines(items: Sequence[Mapping[str, Any]]) -> Lines:
    """The emitted objects as (type, JSON text): serialised in the engine, not the web loop."""
    return [(item["type"], json.dumps(item, allow_nan=False)) for item in items]


class Hub:
    """All live streams, keyed by (token owner, stream id); lives in the engine process."""

    def __init__(self, config: ServeConfig) -> None:
        self.config = config
        self.sessions: dict[Key, Session] = {}
        #: Owners with a dashboard open: their streams' frames also give a display line.
        self.watched: set[str] = set()
        self._store: Any = None
        if config.store is not None:
            from cardiostream.io import ParquetStore

            self._store = ParquetStore(config.store)

    def n_connected(self) -> int:
        """Streams connected now (not those kept for resuming)."""
        return sum(1 for s in self.sessions.values() if s.connected)

    def watch(self, owner: str, on: bool) -> None:
        """Start or stop the display lines of ``owner``'s streams."""
        if on:
            self.watched.add(owner)
        else:
            self.watched.discard(owner)
            for s in self.sessions.values():
                if s.owner == owner:
                    s.display.clear()

    def open(
        self, owner: str, stream_id: str, fs: float, leads: tuple[str, ...], lead: int
    ) -> Opened:
        """Start or resume a stream: the samples consumed so far, whether resumed, and the
        processor's hop and window.

        Raises
        ------
        InputError
            When the stream is already connected or its rate differs.
        OverflowError
            When the server is at its stream limit.
        """
        self.expire()
        old = self.sessions.get((owner, stream_id))
        if old is not None:
            if old.connected:
                raise OverflowError(f"stream_id: {stream_id!r} is already connected")
            if old.fs != fs:
                raise InputError(f"fs: {stream_id!r} was started at {old.fs:g} Hz, not {fs:g}")
            if old.leads != tuple(leads) or old.lead != lead:
                raise InputError(f"leads: {stream_id!r} was started with other leads")
            old.connected = True
            return Opened(old.consumed, True, old.processor.hop_s, old.processor.window_s)
        if self.n_connected() >= self.config.max_streams:
            raise OverflowError("the server is at its stream limit")
        proc = StreamProcessor(fs, model=self.config.model, lead=lead)
        self.sessions[(owner, stream_id)] = Session(
            owner, stream_id, proc.fs, proc, leads=tuple(leads), lead=lead, connected=True
        )
        return Opened(0, False, proc.hop_s, proc.window_s)

    def push(self, owner: str, stream_id: str, samples: bytes) -> tuple[Lines, int]:
        """Process one frame (float64 bytes); return its output lines and the samples consumed."""
        session = self.sessions[(owner, stream_id)]
        x = np.frombuffer(samples, np.float64)
        if len(session.leads) > 1:
            x = x.reshape(-1, len(session.leads))  # the web process checked the size
        out = session.processor.push(x)  # refuses bad samples before any state changes
        n = x.shape[0]
        session.consumed += n
        lines = _lines(out)
        if owner in self.watched:
            lines.append((wire.DISPLAY, session.display_line(x)))
        if self.config.record:
            session.recorded.append(x.astype(np.float32))
            session.recorded_n += n
            if session.recorded_n >= self.config.record_part_s * session.fs:
                self._save_recording(session, final=False)
        return lines, session.consumed

    def disconnect(self, owner: str, stream_id: str) -> None:
        """The client went away without ``stop``: keep the state for ``resume_ttl_s``."""
        session = self.sessions.get((owner, stream_id))
        if session is not None:
            session.connected = False
            session.left_at = time.monotonic()

    def close(self, owner: str, stream_id: str) -> tuple[Lines, int]:
        """``stop``: flush the processor, save the recording, forget the stream."""
        session = self.sessions.pop((owner, stream_id))
        out = session.processor.flush()
        self._save_recording(session, final=True)
        return _lines(out), session.consumed

    def predict(self, fs: float, samples: bytes) -> list[Window]:
        """The windows of a stretch of signal through a fresh processor."""
        proc = StreamProcessor(fs, model=self.config.model)
        out = proc.push(np.frombuffer(samples, np.float64))
        return [i for i in out if i["type"] == wire.WINDOW]

    def expire(self) -> None:
        """Drop disconnected streams older than the resume window (saving their recording)."""
        now = time.monotonic()
        for key, s in list(self.sessions.items()):
            if not s.connected and now - s.left_at > self.config.resume_ttl_s:
                self._save_recording(s, final=True)
                del self.sessions[key]

    def save_all(self) -> None:
        """Save what every stream has recorded and not yet written (at shutdown)."""
        for s in list(self.sessions.values()):
            self._save_recording(s, final=True)

    def _save_recording(self, session: Session, final: bool) -> None:
        if not self.config.record or self._store is None or not session.recorded:
            return
        from cardiostream.io.store import safe_record_id

        signal = np.concatenate(session.recorded).reshape(-1, len(session.leads))
        session.recorded, session.recorded_n = [], 0
        name = safe_record_id(f"{session.owner}-{session.stream_id}-part{session.part:04d}")
        session.part += 1
        record = Record(
            signal=signal,
            fs=session.fs,
            leads=list(session.leads),
            name=name,
            meta={
                "stream_id": session.stream_id,
                "owner": session.owner,
                "final": final,
                "analysed_lead": session.leads[session.lead],
            },
        )
        # The store writes a hidden temporary partition and renames it into place, so a crash
        # never leaves a half-written record visible.
        self._store.write(record, name)
