"""Live streams of the server, computed in an engine process of their own, in batches.

The web process only moves bytes: it decodes frames and forwards them, and the replies come
back as ready-made JSON text. The streams' processors live in one engine process (started
with ``spawn``), so their computation runs on another core than the event loop and never
holds its interpreter lock. The :class:`Batcher` gathers the requests of all streams that
arrive within ``batch_wait_ms`` of each other (at most ``batch_max``) and sends them to the
engine as one message; its reply carries every result.

Each WebSocket handler submits one frame at a time and waits for its results before reading
the next frame, so a client that sends faster than the engine computes is slowed down by TCP
flow control instead of filling memory (backpressure).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import multiprocessing as mp
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from cardiostream.errors import InputError
from cardiostream.record import Record
from cardiostream.serve.config import ServeConfig
from cardiostream.serve.metrics import Metrics
from cardiostream.stream.processor import StreamProcessor

Key = tuple[str, str]  # (token owner, stream id)


class EngineError(RuntimeError):
    """The engine process failed or went away."""


@dataclass
class Session:
    """One live stream: its processor, what it has consumed, its recording buffer."""

    owner: str
    stream_id: str
    fs: float
    processor: StreamProcessor
    leads: tuple[str, ...] = ("ECG",)
    lead: int = 0  # index in leads of the analysed one
    consumed: int = 0  # samples processed and acknowledged
    connected: bool = False
    left_at: float = 0.0  # monotonic time of the last disconnect
    recorded: list[npt.NDArray[np.float32]] = field(default_factory=list)
    recorded_n: int = 0
    part: int = 0
    display: dict[int, DisplayFilter] = field(default_factory=dict)  # the other leads'


def _lines(items: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """The emitted objects as (type, JSON text): serialised in the engine, not the web loop."""
    return [(item["type"], json.dumps(item, allow_nan=False)) for item in items]


DISPLAY_FS = 125.0
_DISPLAY_STEP = 2  # 250 Hz / DISPLAY_FS


class DisplayFilter:
    """A lead that is shown but not analysed: resampled to 250 Hz and cleaned like the
    analysed one, so dashboards draw every lead alike."""

    def __init__(self, fs: float) -> None:
        from cardiostream.dsp import ECGCleaner
        from cardiostream.dsp.resample import Resampler

        self.resampler = Resampler(fs, 250.0, exact=True)
        self.cleaner = ECGCleaner(250.0)

    def process(self, x: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        out: npt.NDArray[np.float64] = self.cleaner.process(self.resampler.process(x))
        return out


def _display_values(x: npt.NDArray[np.float64], offset: int) -> list[float | None]:
    kept = np.round(x[offset::_DISPLAY_STEP], 3)
    return [None if v != v else v for v in kept.tolist()]  # NaN (a gap) becomes null


def display_line(session: Session, x: npt.NDArray[np.float64]) -> str:
    """What dashboards draw of one frame: every lead cleaned at 125 Hz, and the new R peaks.

    ``t`` is the stream time of the first sample; peaks are stream times in seconds.
    """
    proc = session.processor
    n0, clean = proc.last_start, proc.last_clean
    offset = (-n0) % _DISPLAY_STEP  # keep samples of even index: chunks join seamlessly
    leads: dict[str, list[float | None]] = {}
    for i, label in enumerate(session.leads):
        if i == session.lead:
            y = clean
        else:
            filt = session.display.get(i)
            if filt is None:
                filt = session.display[i] = DisplayFilter(session.fs)
            y = filt.process(x[:, i])
            y = np.pad(y, (0, max(clean.size - y.size, 0)))[: clean.size]
        leads[label] = _display_values(y, offset)
    t = proc.t0 + (n0 + offset) / 250.0
    peaks = [round(proc.t0 + int(p) / 250.0, 3) for p in proc.last_peaks]
    return json.dumps(
        {"type": "display", "t": round(t, 4), "fs": DISPLAY_FS,
         "lead": session.leads[session.lead], "leads": leads, "peaks": peaks},
        allow_nan=False,
    )  # fmt: skip


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
    ) -> tuple[int, bool]:
        """Start or resume a stream; return the samples consumed so far and whether resumed.

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
            return old.consumed, True
        if self.n_connected() >= self.config.max_streams:
            raise OverflowError("the server is at its stream limit")
        proc = StreamProcessor(fs, model=self.config.model, lead=lead)
        self.sessions[(owner, stream_id)] = Session(
            owner, stream_id, proc.fs, proc, leads=tuple(leads), lead=lead, connected=True
        )
        return 0, False

    def push(self, owner: str, stream_id: str, samples: bytes) -> tuple[list[Any], int]:
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
            lines.append(("display", display_line(session, x)))
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

    def close(self, owner: str, stream_id: str) -> tuple[list[Any], int]:
        """``stop``: flush the processor, save the recording, forget the stream."""
        session = self.sessions.pop((owner, stream_id))
        out = session.processor.flush()
        self._save_recording(session, final=True)
        return _lines(out), session.consumed

    def predict(self, fs: float, samples: bytes) -> list[dict[str, Any]]:
        """The windows of a stretch of signal through a fresh processor."""
        proc = StreamProcessor(fs, model=self.config.model)
        return [i for i in proc.push(np.frombuffer(samples, np.float64)) if i["type"] == "window"]

    def expire(self) -> None:
        """Drop disconnected streams older than the resume window (saving their recording)."""
        now = time.monotonic()
        for key, s in list(self.sessions.items()):
            if not s.connected and now - s.left_at > self.config.resume_ttl_s:
                self._save_recording(s, final=True)
                del self.sessions[key]

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


def _warm_up(model: Path | None) -> None:
    """Compile every kernel before the first stream waits for one: 15 s of a real record
    (beats, windows, an episode) at a rate that needs resampling. On a fresh install numba
    compiles them here once (tens of seconds) and caches them; afterwards this takes well
    under a second."""
    from cardiostream.io import read
    from cardiostream.samples import sample_path

    rec = read(sample_path("mitdb-201-af"))
    proc = StreamProcessor(rec.fs, model=model)
    proc.push(rec.lead(0)[: int(15 * rec.fs)])
    proc.flush()


def _engine_main(conn: Connection, config: dict[str, Any]) -> None:  # pragma: no cover
    """The engine process: answer batches of (operation, arguments) until told to stop."""
    import signal

    # Ctrl-C reaches the whole process group; the web process decides when the engine stops
    # (after saving recordings), so the engine ignores it rather than dying mid-batch.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    paths = {
        k: Path(v) if v is not None else None for k, v in config.items() if k in ("store", "model")
    }
    hub = Hub(ServeConfig(**{**config, **paths}))
    _warm_up(hub.config.model)
    # Streams create no reference cycles worth hunting at every allocation burst; with a
    # thousand processors alive, frequent collections cost tens of milliseconds each.
    gc.freeze()
    gc.set_threshold(100_000, 50, 50)
    conn.send("ready")
    while True:
        try:
            batch = conn.recv()
        except EOFError:
            return
        if batch is None:
            for s in list(hub.sessions.values()):
                hub._save_recording(s, final=True)
            return
        replies: list[tuple[str, Any]] = []
        for op, args in batch:
            try:
                replies.append(("ok", getattr(hub, op)(*args)))
            except InputError as exc:
                replies.append(("input", str(exc)))
            except OverflowError as exc:
                replies.append(("busy", str(exc)))
            except Exception as exc:  # one stream's failure must not stop the others
                replies.append(("error", f"{type(exc).__name__}: {exc}"))
        conn.send((replies, hub.n_connected()))


@dataclass
class _Job:
    op: str
    args: tuple[Any, ...]
    future: asyncio.Future[Any]


class Batcher:
    """Sends requests to the engine process in batches (see the module notes)."""

    def __init__(self, config: ServeConfig, metrics: Metrics) -> None:
        self.config, self.metrics = config, metrics
        self.batch_max, self.wait_s = config.batch_max, config.batch_wait_ms / 1000.0
        self._queue: asyncio.Queue[_Job] = asyncio.Queue()
        self._pipe = ThreadPoolExecutor(1, thread_name_prefix="cardiostream-engine-pipe")
        self._task: asyncio.Task[None] | None = None
        self._conn: Connection | None = None
        self._proc: Any = None

    async def start(self) -> None:
        """Start the engine process and wait until it is ready."""
        ctx = mp.get_context("spawn")
        parent, child = ctx.Pipe()
        settings = asdict(self.config)
        settings = {k: str(v) if isinstance(v, Path) else v for k, v in settings.items()}
        self._proc = ctx.Process(target=_engine_main, args=(child, settings), daemon=True)
        self._proc.start()
        child.close()
        self._conn = parent
        loop = asyncio.get_running_loop()
        ready = await loop.run_in_executor(self._pipe, self._recv)
        if ready != "ready":
            raise EngineError("the engine process did not start")
        self._task = loop.create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._conn is not None:
            with contextlib.suppress(OSError, ValueError):
                self._conn.send(None)
        if self._proc is not None:
            self._proc.join(10)
            if self._proc.is_alive():
                self._proc.kill()
        self._pipe.shutdown(wait=False)

    def _recv(self) -> Any:
        assert self._conn is not None
        try:
            return self._conn.recv()
        except (EOFError, OSError) as exc:
            raise EngineError(f"the engine process went away ({exc})") from None

    def _exchange(self, batch: list[tuple[str, tuple[Any, ...]]]) -> Any:
        assert self._conn is not None
        try:
            self._conn.send(batch)
        except (OSError, ValueError) as exc:
            raise EngineError(f"the engine process went away ({exc})") from None
        return self._recv()

    async def call(self, op: str, *args: Any) -> Any:
        """Run one engine operation (``open``, ``push``, ``close``, ``disconnect``,
        ``predict``); raises InputError, OverflowError or EngineError as the engine says."""
        job = _Job(op, args, asyncio.get_running_loop().create_future())
        await self._queue.put(job)
        return await job.future

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
            try:
                replies, connected = await loop.run_in_executor(
                    self._pipe, self._exchange, [(j.op, j.args) for j in batch]
                )
            except EngineError as exc:
                for job in batch:
                    if not job.future.done():
                        job.future.set_exception(exc)
                continue
            self.metrics.streams.set(connected)
            for job, (status, value) in zip(batch, replies, strict=True):
                if job.future.done():
                    continue
                if status == "ok":
                    job.future.set_result(value)
                elif status == "input":
                    job.future.set_exception(InputError(value))
                elif status == "busy":
                    job.future.set_exception(OverflowError(value))
                else:
                    job.future.set_exception(EngineError(value))
