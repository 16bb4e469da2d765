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
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing as mp
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any, cast

from cardiostream.errors import InputError
from cardiostream.serve import engine
from cardiostream.serve.config import ServeConfig
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
    Reply,
    Request,
    Watch,
    unwrap,
)
from cardiostream.stream.messages import Window


@dataclass
class _Job:
    request: Request
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
        settings = engine.settings_of(self.config)
        self._proc = ctx.Process(target=engine.main, args=(child, settings), daemon=True)
        self._proc.start()
        child.close()
        await self.attach(parent)

    async def attach(self, conn: Connection) -> None:
        """Batch over ``conn`` once the engine at its other end says it is ready.

        :meth:`start` calls this with its engine process's pipe; an engine served some other
        way (:func:`cardiostream.serve.engine.serve` in a thread, say) works alike.
        """
        self._conn = conn
        loop = asyncio.get_running_loop()
        ready = await loop.run_in_executor(self._pipe, self._recv)
        if ready != engine.READY:
            raise EngineError("the engine process did not start")
        self._task = loop.create_task(self._run())

    async def stop(self) -> None:
        """Stop the engine process (it saves the recordings first)."""
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

    def engine_alive(self) -> bool:
        """Whether the engine process runs (True for an engine this batcher did not start)."""
        return self._proc is None or bool(self._proc.is_alive())

    def _recv(self) -> Any:
        assert self._conn is not None
        try:
            return self._conn.recv()
        except (EOFError, OSError) as exc:
            raise EngineError(f"the engine process went away ({exc})") from None

    def _exchange(self, batch: list[Request]) -> tuple[list[Reply], int]:
        assert self._conn is not None
        try:
            self._conn.send(batch)
        except (OSError, ValueError) as exc:
            raise EngineError(f"the engine process went away ({exc})") from None
        reply: tuple[list[Reply], int] = self._recv()
        return reply

    async def submit(self, request: Request) -> Any:
        """Run one request in the next batch; raises InputError, OverflowError or
        EngineError as the engine says."""
        job = _Job(request, asyncio.get_running_loop().create_future())
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
                    self._pipe, self._exchange, [j.request for j in batch]
                )
            except EngineError as exc:
                for job in batch:
                    if not job.future.done():
                        job.future.set_exception(exc)
                continue
            self.metrics.streams.set(connected)
            for job, reply in zip(batch, replies, strict=True):
                if job.future.done():
                    continue
                try:
                    job.future.set_result(unwrap(reply))
                except (InputError, OverflowError, EngineError) as exc:
                    job.future.set_exception(exc)


class EngineClient:
    """The engine as the web process calls it: each method is one request of a batch.

    The methods mirror :class:`~cardiostream.serve.rpc.Engine`'s (see
    :class:`~cardiostream.serve.hub.Hub` for what they do), awaited; each raises
    InputError, OverflowError or EngineError as the engine says.
    """

    def __init__(self, batcher: Batcher) -> None:
        self._batcher = batcher

    async def open(
        self, owner: str, stream_id: str, fs: float, leads: tuple[str, ...], lead: int
    ) -> Opened:
        """Start or resume a stream."""
        return cast(Opened, await self._batcher.submit(Open(owner, stream_id, fs, leads, lead)))

    async def push(self, owner: str, stream_id: str, samples: bytes) -> tuple[Lines, int]:
        """One frame (float64 bytes): its output lines and the samples consumed."""
        result = await self._batcher.submit(Push(owner, stream_id, samples))
        return cast(tuple[Lines, int], result)

    async def close(self, owner: str, stream_id: str) -> tuple[Lines, int]:
        """End a stream: its closing lines and the samples consumed."""
        result = await self._batcher.submit(Close(owner, stream_id))
        return cast(tuple[Lines, int], result)

    async def disconnect(self, owner: str, stream_id: str) -> None:
        """The client went away without ``stop``."""
        await self._batcher.submit(Disconnect(owner, stream_id))

    async def expire(self) -> None:
        """Drop the disconnected streams whose resume window has passed."""
        await self._batcher.submit(Expire())

    async def predict(self, fs: float, samples: bytes) -> list[Window]:
        """The windows of a stretch of one lead (float64 bytes)."""
        result = await self._batcher.submit(Predict(fs, samples))
        return cast(list[Window], result)

    async def watch(self, owner: str, on: bool) -> None:
        """Start or stop the display lines of ``owner``'s streams."""
        await self._batcher.submit(Watch(owner, on))
