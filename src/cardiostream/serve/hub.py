"""Live streams of the server: one StreamProcessor each, processed in batches off the loop.

Each WebSocket handler submits one frame at a time and waits for its results before reading
the next frame, so a client that sends faster than the server computes is slowed down by TCP
flow control instead of filling memory (backpressure). The :class:`Batcher` collects the
frames of all streams that arrive within ``batch_wait_ms`` of each other (at most
``batch_max``) and runs them in one call on a worker thread, so the event loop only moves
bytes and the per-frame cost of waking the worker is shared.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from cardiostream.errors import InputError
from cardiostream.record import Record
from cardiostream.serve.config import ServeConfig
from cardiostream.serve.metrics import Metrics
from cardiostream.stream.processor import StreamProcessor


@dataclass
class Session:
    """One live stream: its processor, what it has consumed, its recording buffer."""

    owner: str
    stream_id: str
    fs: float
    processor: StreamProcessor
    lead: str = "ECG"
    consumed: int = 0  # samples processed and acknowledged
    connected: bool = False
    left_at: float = 0.0  # monotonic time of the last disconnect
    recorded: list[npt.NDArray[np.float32]] = field(default_factory=list)
    recorded_n: int = 0
    part: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


class Hub:
    """All live streams, keyed by (token owner, stream id)."""

    def __init__(self, config: ServeConfig, metrics: Metrics) -> None:
        self.config = config
        self.metrics = metrics
        self.sessions: dict[tuple[str, str], Session] = {}
        self._store: Any = None
        if config.store is not None:
            from cardiostream.io import ParquetStore

            self._store = ParquetStore(config.store)

    def open(self, owner: str, stream_id: str, fs: float, lead: str) -> tuple[Session, bool]:
        """The session for a start message: a new one, or the same id's to resume.

        Raises
        ------
        InputError
            When the stream is already connected, its rate differs, or the server is full.
        """
        self.expire()
        key = (owner, stream_id)
        old = self.sessions.get(key)
        if old is not None:
            if old.connected:
                raise InputError(f"stream_id: {stream_id!r} is already connected")
            if old.fs != fs:
                raise InputError(f"fs: {stream_id!r} was started at {old.fs:g} Hz, not {fs:g}")
            old.connected = True
            return old, True
        if sum(1 for s in self.sessions.values() if s.connected) >= self.config.max_streams:
            raise OverflowError("the server is at its stream limit")
        proc = StreamProcessor(fs, model=self.config.model)
        session = Session(owner, stream_id, proc.fs, proc, lead=lead, connected=True)
        self.sessions[key] = session
        self.metrics.streams.set(self.n_connected())
        return session, False

    def n_connected(self) -> int:
        return sum(1 for s in self.sessions.values() if s.connected)

    def disconnect(self, session: Session) -> None:
        """The client went away without ``stop``: keep the state for ``resume_ttl_s``."""
        session.connected = False
        session.left_at = time.monotonic()
        self.metrics.streams.set(self.n_connected())

    def close(self, session: Session) -> list[dict[str, Any]]:
        """``stop``: flush the processor, save the recording, forget the stream."""
        with session.lock:
            out = session.processor.flush()
            self._save_recording(session, final=True)
        self.sessions.pop((session.owner, session.stream_id), None)
        self.metrics.streams.set(self.n_connected())
        return out

    def expire(self) -> None:
        """Drop disconnected streams older than the resume window (saving their recording)."""
        now = time.monotonic()
        for key, s in list(self.sessions.items()):
            if not s.connected and now - s.left_at > self.config.resume_ttl_s:
                with s.lock:
                    self._save_recording(s, final=True)
                del self.sessions[key]

    def process(self, session: Session, samples: npt.NDArray[np.float64]) -> list[dict[str, Any]]:
        """Push one frame (on the worker thread)."""
        with session.lock:
            out = session.processor.push(samples)
            session.consumed += samples.size
            if self.config.record:
                session.recorded.append(samples.astype(np.float32))
                session.recorded_n += samples.size
                if session.recorded_n >= self.config.record_part_s * session.fs:
                    self._save_recording(session, final=False)
        return out

    def _save_recording(self, session: Session, final: bool) -> None:
        if not self.config.record or self._store is None or not session.recorded:
            return
        from cardiostream.io.store import safe_record_id

        signal = np.concatenate(session.recorded)[:, None]
        session.recorded, session.recorded_n = [], 0
        name = safe_record_id(f"{session.owner}-{session.stream_id}-part{session.part:04d}")
        session.part += 1
        record = Record(
            signal=signal,
            fs=session.fs,
            leads=[session.lead],
            name=name,
            meta={"stream_id": session.stream_id, "owner": session.owner, "final": final},
        )
        # The store writes a hidden temporary partition and renames it into place, so a crash
        # never leaves a half-written record visible.
        self._store.write(record, name)


@dataclass
class _Job:
    session: Session
    samples: npt.NDArray[np.float64]
    future: asyncio.Future[list[dict[str, Any]]]
    arrived: float


class Batcher:
    """Runs stream pushes in batches on one worker thread (see the module notes)."""

    def __init__(self, hub: Hub, metrics: Metrics, batch_max: int, wait_ms: float) -> None:
        self.hub, self.metrics = hub, metrics
        self.batch_max, self.wait_s = batch_max, wait_ms / 1000.0
        self._queue: asyncio.Queue[_Job] = asyncio.Queue()
        self._worker = ThreadPoolExecutor(1, thread_name_prefix="cardiostream-batch")
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self._worker.shutdown(wait=True)

    async def submit(
        self, session: Session, samples: npt.NDArray[np.float64]
    ) -> list[dict[str, Any]]:
        """Queue one frame of one stream; return what the processor emitted for it."""
        loop = asyncio.get_running_loop()
        job = _Job(session, samples, loop.create_future(), time.perf_counter())
        await self._queue.put(job)
        return await job.future

    async def run_call(self, func: Callable[[], Any]) -> Any:
        """Run ``func`` on the worker thread, in turn with the batches."""
        return await asyncio.get_running_loop().run_in_executor(self._worker, func)

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            batch = [await self._queue.get()]
            deadline = loop.time() + self.wait_s
            while len(batch) < self.batch_max:
                timeout = deadline - loop.time()
                if timeout <= 0:
                    break
                try:
                    batch.append(await asyncio.wait_for(self._queue.get(), timeout))
                except TimeoutError:
                    break
            while len(batch) < self.batch_max and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            self.metrics.batch_size.observe(len(batch))
            results = await loop.run_in_executor(self._worker, self._process, batch)
            for job, result in zip(batch, results, strict=True):
                if job.future.done():
                    continue
                if isinstance(result, BaseException):
                    job.future.set_exception(result)
                else:
                    job.future.set_result(result)

    def _process(self, batch: list[_Job]) -> list[list[dict[str, Any]] | BaseException]:
        out: list[list[dict[str, Any]] | BaseException] = []
        for job in batch:
            try:
                out.append(self.hub.process(job.session, job.samples))
            except Exception as exc:  # one stream's failure must not stop the others
                out.append(exc)
        return out
