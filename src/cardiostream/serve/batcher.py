"""The web process's side of the engine: requests gathered into batches, and a typed client.

The web process only moves bytes: it decodes frames and forwards them, and the replies come
back as ready-made JSON text. The streams' processors live in one engine process
(:mod:`cardiostream.serve.engine`, started with ``spawn``), so their computation runs on
another core than the event loop and never holds its interpreter lock. The :class:`Batcher`
gathers the requests of all streams that arrive within ``batch_wait_ms`` of each other (at
most ``batch_max``) and sends them to the engine as one message; its reply carries every
result. :class:`EngineClient` is what handlers call: one typed method per request.

Each WebSocket handler submits one frame at a time and waits for its results before reading
the next frame, so a client that sends faster than the engine computes is slowed down by TCP
flow control instead of filling memory (backpressure).

The batcher also supervises the engine. Every reply passes through its
:class:`~cardiostream.serve.ledger.Ledger`, which keeps each stream's latest checkpoint and
the frames since. When the engine process dies (killed for memory, a native crash), the death
is noticed at once (the pipe closes; an idle engine is polled every 0.1 s), ``/healthz`` says
``degraded``, predictions get 503, and a new engine is started and given every stream back
(:class:`~cardiostream.serve.rpc.Restore`); then the batch in flight runs again. A client
sees its stream pause for the restart and go on where it was, nothing lost or repeated.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import multiprocessing as mp
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any, cast

from cardiostream.errors import InputError
from cardiostream.serve import engine
from cardiostream.serve.config import ServeConfig
from cardiostream.serve.ledger import Key, Ledger
from cardiostream.serve.metrics import Metrics
from cardiostream.serve.rpc import (
    Close,
    Disconnect,
    EngineError,
    Expire,
    Lines,
    Open,
    Opened,
    Predict,
    Push,
    Pushed,
    Recover,
    Reply,
    Request,
    Restore,
    Watch,
    unwrap,
)
from cardiostream.stream.messages import Window

log = logging.getLogger(__name__)


@dataclass
class _Job:
    request: Request
    future: asyncio.Future[Any]


class Batcher:
    """Sends requests to the engine process in batches, and keeps it alive (see the module
    notes)."""

    def __init__(
        self,
        config: ServeConfig,
        metrics: Metrics,
        on_gone: Callable[[list[Key]], None] | None = None,
    ) -> None:
        self.config, self.metrics = config, metrics
        #: Told of the streams the engine drops (the watch's listing forgets them too).
        self.on_gone = on_gone
        self.batch_max, self.wait_s = config.batch_max, config.batch_wait_ms / 1000.0
        self.ledger = Ledger()
        self._queue: asyncio.Queue[_Job] = asyncio.Queue()
        self._pipe = ThreadPoolExecutor(1, thread_name_prefix="cardiostream-engine-pipe")
        self._task: asyncio.Task[None] | None = None
        self._monitor: asyncio.Task[None] | None = None
        self._recovery: asyncio.Task[None] | None = None
        self._conn: Connection | None = None
        self._proc: Any = None
        self._supervised = False
        self._stopping = False
        #: Whether the engine is being restarted (streams wait; predictions get 503).
        self.restarting = False

    async def start(self) -> None:
        """Start the engine process, wait until it is ready, and watch over it: when it dies
        it is started again with every stream where the last acknowledgement left it."""
        self._supervised = True
        await self._spawn()
        await self._restore()
        loop = asyncio.get_running_loop()
        self._task = loop.create_task(self._run())
        self._monitor = loop.create_task(self._watch())

    async def _spawn(self) -> None:
        ctx = mp.get_context("spawn")
        parent, child = ctx.Pipe()
        settings = engine.settings_of(self.config)
        self._proc = ctx.Process(target=engine.main, args=(child, settings), daemon=True)
        self._proc.start()
        child.close()
        self._conn = parent
        loop = asyncio.get_running_loop()
        ready = await loop.run_in_executor(
            self._pipe, _recv, parent, self.config.engine_start_timeout_s
        )
        if ready != engine.READY:
            raise EngineError("the engine process did not start")

    async def _restore(self) -> None:
        """Bring every stream of the ledger back into a new engine, and the dashboards'
        display lines, then turn recordings left by streams that are gone into records."""
        loop = asyncio.get_running_loop()
        restores = self.ledger.restores()
        batch: list[Request] = [*restores, Recover()]
        replies, _, gone = await loop.run_in_executor(self._pipe, _exchange, self._conn, batch)
        self.ledger.forget(gone)
        for request, (status, value) in zip(restores, replies, strict=False):
            if status != "ok" and isinstance(request, Restore):  # its next request fails
                log.error("stream %r not restored: %s", request.open.stream_id, value)
                self.ledger.forget([(request.open.owner, request.open.stream_id)])

    async def attach(self, conn: Connection) -> None:
        """Batch over ``conn`` once the engine at its other end says it is ready.

        An engine served some other way (:func:`cardiostream.serve.engine.serve` in a
        thread, say) works alike, without the restarts of :meth:`start`.
        """
        self._conn = conn
        loop = asyncio.get_running_loop()
        ready = await loop.run_in_executor(self._pipe, _recv, conn, None)
        if ready != engine.READY:
            raise EngineError("the engine process did not start")
        self._task = loop.create_task(self._run())

    async def stop(self) -> None:
        """Stop the engine process (it saves the recordings first)."""
        self._stopping = True
        for task in (self._monitor, self._recovery, self._task):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, EngineError):
                    await task
        if self._conn is not None:
            with contextlib.suppress(OSError, ValueError):
                self._conn.send(None)
        if self._proc is not None:
            self._proc.join(10)
            if self._proc.is_alive():
                self._proc.kill()
        self._pipe.shutdown(wait=False)

    def engine_alive(self) -> bool:
        """Whether the engine process runs and answers (True for an engine this batcher did
        not start)."""
        if self._proc is None:
            return True
        return not self.restarting and bool(self._proc.is_alive())

    @property
    def engine_pid(self) -> int | None:
        """The engine process's id (None for an engine this batcher did not start)."""
        return None if self._proc is None else int(self._proc.pid)

    async def submit(self, request: Request) -> Any:
        """Run one request in the next batch; raises InputError, OverflowError or
        EngineError as the engine says.

        While the engine is restarted, a stream's request waits for it; a prediction is
        refused at once (EngineError), since its client can simply ask again.
        """
        if isinstance(request, Predict) and not self.engine_alive():
            raise EngineError("the engine process is restarting")
        job = _Job(request, asyncio.get_running_loop().create_future())
        await self._queue.put(job)
        return await job.future

    async def _watch(self) -> None:
        """Notice an engine that dies between batches (an idle server included) at once."""
        while True:
            await asyncio.sleep(0.1)
            if not self._proc.is_alive():
                await self._recover()

    async def _recover(self) -> None:
        """Restart the engine (once, however many callers notice its death)."""
        if self._recovery is None or self._recovery.done():
            self._recovery = asyncio.get_running_loop().create_task(self._restart())
        await asyncio.shield(self._recovery)

    async def _restart(self) -> None:
        self.restarting = True
        self.metrics.engine_restarts.inc()
        old = self._proc
        if old is not None:
            await asyncio.get_running_loop().run_in_executor(None, old.join, 1.0)
        code = old.exitcode if old is not None else None
        log.error("the engine process died (exit %s); restarting it with %d streams",
                  code, len(self.ledger))  # fmt: skip
        delay, tries = 0.5, 0
        while not self._stopping:
            tries += 1
            if tries == 4 and len(self.ledger):
                # Three engines died bringing the streams back: one of them kills it. The
                # server comes back without them rather than not at all.
                log.error("restoring the streams failed 3 times; starting without %d streams",
                          len(self.ledger))  # fmt: skip
                self.ledger.entries.clear()
            if self._proc is not None and self._proc.is_alive():
                self._proc.kill()
            if self._conn is not None:
                self._conn.close()
            try:
                await self._spawn()
                await self._restore()
            except EngineError as exc:
                log.error("engine restart failed (%s); trying again in %g s", exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10.0)
                continue
            log.warning("the engine is back with %d streams", len(self.ledger))
            break
        self.restarting = False

    async def _gather(self) -> list[_Job]:
        loop = asyncio.get_running_loop()
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
        return batch

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            batch = await self._gather()
            self.metrics.batch_size.observe(len(batch))
            for attempt in (1, 2):
                if self._recovery is not None and not self._recovery.done():
                    await asyncio.shield(self._recovery)  # never a batch on a starting engine
                try:
                    replies, connected, gone = await loop.run_in_executor(
                        self._pipe, _exchange, self._conn, [j.request for j in batch]
                    )
                    break
                except EngineError as exc:
                    # A supervised engine comes back with every stream as the ledger has
                    # it, and the batch runs again; one that dies on the same batch twice
                    # fails it (a request that kills the engine must not kill it forever).
                    if self._supervised and attempt == 1:
                        await self._recover()
                        continue
                    for job in batch:
                        if not job.future.done():
                            job.future.set_exception(exc)
                    replies = []
                    break
            if not replies:
                continue
            self.metrics.streams.set(connected)
            self.ledger.forget(gone)
            if gone and self.on_gone is not None:
                self.on_gone(gone)
            for job, reply in zip(batch, replies, strict=True):
                try:
                    result = unwrap(reply)
                except (InputError, OverflowError, EngineError) as exc:
                    if not job.future.done():
                        job.future.set_exception(exc)
                    continue
                self.ledger.record(job.request, result)
                if not job.future.done():
                    job.future.set_result(result)


def _recv(conn: Connection | None, timeout: float | None) -> Any:
    """The next message from the engine at the other end of ``conn``."""
    assert conn is not None
    try:
        if timeout is not None and not conn.poll(timeout):
            raise EngineError(f"the engine process did not answer within {timeout:g} s")
        return conn.recv()
    except (EOFError, OSError) as exc:
        raise EngineError(f"the engine process went away ({exc or 'pipe closed'})") from None


def _exchange(conn: Connection | None, batch: list[Request]) -> tuple[list[Reply], int, list[Key]]:
    """One batch sent over ``conn`` (fixed for the call: a restart replaces the batcher's)
    and its reply."""
    assert conn is not None
    try:
        conn.send(batch)
    except (OSError, ValueError) as exc:
        raise EngineError(f"the engine process went away ({exc})") from None
    reply: tuple[list[Reply], int, list[Key]] = _recv(conn, None)
    return reply


#: Bytes of a long prediction's part (32,768 float64 samples): about a millisecond of engine time.
PREDICT_PART_BYTES = 2**18


class EngineClient:
    """The engine as the web process calls it: each method is one request of a batch.

    The methods mirror :class:`~cardiostream.serve.rpc.Engine`'s (see
    :class:`~cardiostream.serve.hub.Hub` for what they do), awaited; each raises
    InputError, OverflowError or EngineError as the engine says.
    """

    def __init__(self, batcher: Batcher) -> None:
        self._batcher = batcher

    async def open(
        self,
        owner: str,
        stream_id: str,
        fs: float,
        leads: tuple[str, ...],
        lead: int,
        source: str = "ecg",
        timing: str = "ecg",
    ) -> Opened:
        """Start or resume a stream (``source``: ``ecg`` or ``beats``; ``timing``: a beats
        stream's, ``ecg`` or ``pulse``)."""
        request = Open(owner, stream_id, fs, leads, lead, source, timing)
        return cast(Opened, await self._batcher.submit(request))

    async def push(self, owner: str, stream_id: str, samples: bytes) -> tuple[Lines, int]:
        """One frame (float64 bytes): its output lines and the samples consumed."""
        result = cast(Pushed, await self._batcher.submit(Push(owner, stream_id, samples)))
        return result.lines, result.consumed

    async def close(self, owner: str, stream_id: str) -> tuple[Lines, int]:
        """End a stream: its closing lines and the samples consumed."""
        result = await self._batcher.submit(Close(owner, stream_id))
        return cast(tuple[Lines, int], result)

    def keep_unsent(self, owner: str, stream_id: str, message: str) -> None:
        """A reply the client did not get: sent again when the stream resumes."""
        self._batcher.ledger.keep_unsent((owner, stream_id), message)

    def keep_reply(self, owner: str, stream_id: str, before: int, message: str) -> None:
        """A reply being sent (to the frame that began at sample ``before``)."""
        self._batcher.ledger.keep_reply((owner, stream_id), before, message)

    def take_unsent(self, owner: str, stream_id: str, acked: int | None) -> list[str]:
        """The replies to send a resumed stream after its ``ready``."""
        return self._batcher.ledger.take_unsent((owner, stream_id), acked)

    async def disconnect(self, owner: str, stream_id: str) -> None:
        """The client went away without ``stop``."""
        await self._batcher.submit(Disconnect(owner, stream_id))

    async def expire(self) -> None:
        """Drop the disconnected streams whose resume window has passed."""
        await self._batcher.submit(Expire())

    async def predict(self, fs: float, samples: bytes) -> list[Window]:
        """The windows of a stretch of one lead (float64 bytes).

        A long stretch goes in parts of ``PREDICT_PART_BYTES``, one per batch: the engine
        processes them in turn with the live streams' batches between them, so that a 600 s
        request at 20 kHz (a third of a second of work) never stalls the streams for longer
        than one part takes. Any split gives the same windows.
        """
        if len(samples) <= PREDICT_PART_BYTES:
            return cast(list[Window], await self._batcher.submit(Predict(fs, samples)))
        job = uuid.uuid4().hex
        windows: list[Window] = []
        parts = range(0, len(samples), PREDICT_PART_BYTES)
        for k, lo in enumerate(parts):
            chunk = samples[lo : lo + PREDICT_PART_BYTES]
            request = Predict(fs, chunk, job, k, lo + PREDICT_PART_BYTES >= len(samples))
            windows += cast(list[Window], await self._batcher.submit(request))
        return windows

    async def watch(self, owner: str, on: bool) -> None:
        """Start or stop the display lines of ``owner``'s streams."""
        await self._batcher.submit(Watch(owner, on))
