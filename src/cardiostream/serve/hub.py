"""The live streams of the server, in the engine process: their registry and recordings.

The :class:`Hub` keys every stream by (token owner, stream id), keeps a disconnected one for
``resume_ttl_s`` so that the same id can resume it, and writes what the streams send into the
Parquet store when recording is on. It implements :class:`~cardiostream.serve.rpc.Engine`:
:mod:`cardiostream.serve.engine` serves it to the web process.
"""

from __future__ import annotations

import ctypes
import gc
import json
import pickle
import time
import zlib
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from cardiostream import wire
from cardiostream.beats.af_rr import as_timing
from cardiostream.errors import InputError
from cardiostream.serve.config import ServeConfig
from cardiostream.serve.recording import Finisher, Segments, Syncer
from cardiostream.serve.rpc import Lines, Open, Opened, Pushed, check_resume
from cardiostream.serve.session import Key, Processor, Session
from cardiostream.stream.beat_stream import BeatStreamProcessor
from cardiostream.stream.events import EventConfig
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
        #: Owners with a dashboard open: their streams' display lines draw every lead.
        self.watched: set[str] = set()
        #: Whether every frame gives a display line, watched or not: the web process keeps
        #: each stream's last minutes of trace (``disclosure_s``), which must be whole when a
        #: dashboard opens on a bed after an alarm. Unwatched, the line has the analysed lead
        #: only, all that is kept.
        self.keeps_trace = config.disclosure_s > 0
        self._gone: list[Key] = []
        #: Long predictions between their parts: processor and when it was last used.
        self._predictions: dict[str, tuple[StreamProcessor, float]] = {}
        self._last_expiry = self._last_release = time.monotonic()
        self._dropped = 0  # streams dropped since the memory was last given back
        self._segments: Segments | None = None
        self._syncer: Syncer | None = None
        self._finisher: Finisher | None = None
        if config.record and config.store is not None:
            from cardiostream.io import ParquetStore

            self._segments = Segments(ParquetStore(config.store))
            self._syncer = Syncer(self._segments, config.record_sync_s)
            self._syncer.start()
            self._finisher = Finisher(self._segments)
            self._finisher.start()

    def n_connected(self) -> int:
        """Streams connected now (not those kept for resuming)."""
        return sum(1 for s in self.sessions.values() if s.connected)

    def watch(self, owner: str, on: bool) -> None:
        """Start or stop drawing every lead of ``owner``'s streams (their display lines, with
        no trace kept: see :attr:`keeps_trace`)."""
        if on:
            self.watched.add(owner)
        else:
            self.watched.discard(owner)
            for s in self.sessions.values():
                if s.owner == owner:
                    s.display.clear()

    def open(
        self,
        owner: str,
        stream_id: str,
        fs: float,
        leads: tuple[str, ...],
        lead: int,
        source: str = "ecg",
        timing: str = "ecg",
    ) -> Opened:
        """Start or resume a stream: the samples (a beats stream: beats) consumed so far,
        whether resumed, and the processor's hop and window.

        ``source`` is ``ecg`` (samples, a :class:`StreamProcessor`) or ``beats`` (beat times,
        a :class:`~cardiostream.stream.beat_stream.BeatStreamProcessor`; ``fs`` is 0), whose
        ``timing`` (``ecg`` or ``pulse``) picks its AF model.

        Raises
        ------
        InputError
            When the stream is already connected, or its source, rate or leads differ.
        OverflowError
            When the server is at its stream limit.
        """
        self.expire()
        old = self.sessions.get((owner, stream_id))
        if old is not None:
            check_resume(old, stream_id, source, fs, leads, lead, timing)
            old.connected = True
            proc = old.processor
            return Opened(old.consumed, True, proc.hop_s, proc.window_s, old.began)
        if self.n_connected() >= self.config.max_streams:
            raise OverflowError("the server is at its stream limit")
        proc = self._processor(source, fs, lead, timing)
        now = time.time()
        began = time.strftime("%Y%m%dT%H%M%S", time.gmtime(now)) + f"{now % 1:.3f}"[1:]
        session = Session(owner, stream_id, _rate(proc), proc, leads=tuple(leads), lead=lead,
                          connected=True, began=began.replace(".", "_"),
                          source=source, timing=timing)  # fmt: skip
        # Streams started together would all checkpoint in the same batch; a phase of their
        # own, fixed by the id, spreads them over the interval.
        phase = zlib.crc32(stream_id.encode()) % 1000 / 1000
        session.checkpoint_at = -int(phase * self._checkpoint_n(session))
        self.sessions[(owner, stream_id)] = session
        return Opened(0, False, proc.hop_s, proc.window_s, session.began)

    def _processor(self, source: str, fs: float, lead: int, timing: str = "ecg") -> Processor:
        events = EventConfig(min_duration_s=self.config.af_min_s)
        if source == "beats":
            return BeatStreamProcessor(events=events, timing=as_timing(timing))
        if source != "ecg":
            raise InputError(f"format: unknown stream source {source!r}")
        if timing != "ecg":
            raise InputError("timing: only a beats stream says how its beats were timed")
        return StreamProcessor(fs, model=self.config.model, lead=lead, events=events)

    def push(self, owner: str, stream_id: str, samples: bytes) -> Pushed:
        """Process one frame (float64 bytes): its output lines, the samples consumed, and a
        checkpoint every ``checkpoint_s`` of signal (and whenever a recording part ends)."""
        session = self.sessions[(owner, stream_id)]
        watched = owner in self.watched
        lines, new_part = self._push(session, samples, display=watched or self.keeps_trace,
                                     every_lead=watched)  # fmt: skip
        checkpoint = None
        if new_part or session.consumed - session.checkpoint_at >= self._checkpoint_n(session):
            checkpoint = self._checkpoint(session)
        return Pushed(lines, session.consumed, checkpoint)

    def _push(
        self, session: Session, samples: bytes, display: bool, every_lead: bool = True
    ) -> tuple[Lines, bool]:
        x = np.frombuffer(samples, np.float64)
        if len(session.leads) > 1:
            x = x.reshape(-1, len(session.leads))  # the web process checked the size
        out = session.processor.push(x)  # refuses bad samples before any state changes
        session.consumed += x.shape[0]
        lines = _lines(out)
        if display:
            lines.append((wire.DISPLAY, session.display_line(x, every_lead)))
        new_part = False
        if self._segments is not None and session.records:
            # On disk (the OS has it) before the frame is acknowledged: a crash loses nothing.
            self._segments.append(session.recording_part(), x.astype(np.float32))
            if session.consumed - session.part_start >= self.config.record_part_s * session.fs:
                self._finish(session, final=False)
                session.part += 1
                session.part_start = session.consumed
                new_part = True
        return lines, new_part

    def _checkpoint_n(self, session: Session) -> float:
        # A beats stream counts beats: about one a second.
        return self.config.checkpoint_s * (session.fs if session.records else 1.0)

    def _checkpoint(self, session: Session) -> bytes:
        session.checkpoint_at = session.consumed
        state = {
            "processor": session.processor.state_dict(),
            "consumed": session.consumed,
            "part": session.part,
            "part_start": session.part_start,
        }
        return pickle.dumps(state, protocol=pickle.HIGHEST_PROTOCOL)

    def restore(
        self,
        open: Open,
        checkpoint: bytes | None,
        frames: Sequence[bytes],
        connected: bool,
        began: str = "",
    ) -> int:
        """Bring back a stream after an engine crash: its state at ``checkpoint`` (None: its
        start), then the frames pushed since, replayed without output (the client has it).
        Its recording is cut back to the checkpoint first, so the replay writes each sample
        once. Returns the samples consumed."""
        owner, stream_id, fs, leads, lead, source, timing = open
        proc = self._processor(source, fs, lead, timing)
        session = Session(owner, stream_id, _rate(proc), proc, leads=tuple(leads), lead=lead,
                          began=began, source=source, timing=timing)  # fmt: skip
        if checkpoint is not None:
            state = pickle.loads(checkpoint)  # from the web process, which this one trusts
            proc.load_state_dict(state["processor"])
            session.consumed = session.checkpoint_at = int(state["consumed"])
            session.part, session.part_start = int(state["part"]), int(state["part_start"])
        if self._segments is not None and session.records:
            self._segments.resume(session.recording_part(), session.consumed)
        for frame in frames:
            self._push(session, frame, display=False)
        session.connected = connected
        session.left_at = time.monotonic()
        self.sessions[(owner, stream_id)] = session
        return session.consumed

    def recover(self) -> list[str]:
        """Turn the recordings left by streams that are not live into records of their own."""
        if self._segments is None:
            return []
        from cardiostream.serve.recording import recover_orphans

        live = {(s.owner, s.stream_id, s.began): s.part for s in self.sessions.values()}
        return recover_orphans(self._segments, live)

    def gone(self) -> list[tuple[str, str]]:
        """The streams dropped since the last call (their resume window passed)."""
        gone, self._gone = self._gone, []
        return gone

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

    def predict(
        self, fs: float, samples: bytes, job: str = "", part: int = 0, last: bool = True
    ) -> list[Window]:
        """The windows of a stretch of signal through a fresh processor.

        A long stretch comes in parts, one per batch, so that the live streams' batches run
        between them: ``job`` names the stretch, ``part`` counts from 0, ``last`` ends it.
        A job whose first parts this engine never saw (it was restarted) raises.
        """
        if not job:
            proc = StreamProcessor(fs, model=self.config.model)
        elif part == 0:
            proc = StreamProcessor(fs, model=self.config.model)
            self._predictions[job] = (proc, time.monotonic())
        elif job in self._predictions:
            proc = self._predictions[job][0]
            self._predictions[job] = (proc, time.monotonic())
        else:
            raise RuntimeError("the prediction was lost with the engine; ask again")
        try:
            out = proc.push(np.frombuffer(samples, np.float64))
        finally:
            if job and last:
                self._predictions.pop(job, None)
        return [i for i in out if i["type"] == wire.WINDOW]

    def expire(self) -> None:
        """Drop disconnected streams older than the resume window (saving their recording)."""
        now = time.monotonic()
        self._last_expiry = now
        left = [(s.left_at, k) for k, s in self.sessions.items() if not s.connected]
        # Kept for resuming, but never more of them than streams may be live: a client that
        # opens and drops ids by the thousand does not get to fill the engine's memory.
        over = len(left) - self.config.max_streams
        doomed = sorted(left)[:over] if over > 0 else []
        doomed += [(t, k) for t, k in left if now - t > self.config.resume_ttl_s]
        for _, key in doomed:
            session = self.sessions.pop(key, None)
            if session is not None:
                self._save_recording(session, final=True)
                self._gone.append(key)
                self._dropped += 1

    def tick(self) -> None:
        """Expire streams once a second, and give the memory of dropped ones back every few
        seconds (called after every batch)."""
        now = time.monotonic()
        if now - self._last_expiry >= 1.0:
            self.expire()
        for job, (_, used) in list(self._predictions.items()):
            if now - used > 60.0:  # its client went away between parts
                del self._predictions[job]
        # A full collection: too slow to run for every dropped stream, and needed now and
        # then anyway for the reference cycles of objects the engine froze.
        stale = now - self._last_release >= FULL_COLLECTION_S
        if (self._dropped and now - self._last_release >= 5.0) or stale:
            release_memory()
            self._dropped, self._last_release = 0, now

    def save_all(self) -> None:
        """Save what every stream has recorded and not yet written (at shutdown)."""
        for s in list(self.sessions.values()):
            self._save_recording(s, final=True)
        if self._finisher is not None:
            self._finisher.drain()
        if self._segments is not None:
            self._segments.tidy()
        if self._syncer is not None:
            self._syncer.stop()
            self._syncer.sync()

    def _save_recording(self, session: Session, final: bool) -> None:
        self._finish(session, final)

    def _finish(self, session: Session, final: bool) -> None:
        if self._finisher is not None and session.records:
            self._finisher.finish(session.recording_part(), final)


def _rate(proc: Processor) -> float:
    """A stream's sampling rate (0 for beat times)."""
    return proc.fs if isinstance(proc, StreamProcessor) else 0.0


#: Seconds between full collections when no stream is dropped (each one pauses the engine
#: for tens of milliseconds with a thousand streams).
FULL_COLLECTION_S = 600.0


def release_memory() -> None:
    """Collect the dropped streams now and hand the freed heap back to the system (glibc's
    allocator keeps it otherwise, and the process would stay at its largest). Objects the
    engine froze after a batch are unfrozen first, so that their cycles are collected too."""
    gc.unfreeze()
    gc.collect()
    if _malloc_trim is not None:
        _malloc_trim(0)


def _load_malloc_trim() -> Any:
    try:
        return ctypes.CDLL(None).malloc_trim
    except (OSError, AttributeError):  # not glibc
        return None


_malloc_trim = _load_malloc_trim()
