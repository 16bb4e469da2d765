"""The gateway mode of the server (``cardiostream serve --redis URL``).

:class:`RedisGateway` stands where :class:`~cardiostream.serve.batcher.EngineClient` stands
for the WebSocket ingest: an ECG stream's frames are appended to its shard in Redis
(:mod:`cardiostream.serve.redis_bus`) instead of going to the embedded engine, and the
workers' results come back through one relay task that follows the result streams, drops
the copies a takeover repeats (:class:`~cardiostream.serve.redis_bus.Dedupe`), and hands
each stream's lines to its next frame's reply, so the stream's client, the alarms and the
dashboard's status get them exactly as from the embedded engine. While a dashboard of the
stream's owner is open, the gateway adds the frame's display line itself (:class:`_Display`:
the samples drawn need no analysis). Everything else (beat-time streams, ``/v1/predict``)
stays with the embedded engine.

Differences from the embedded mode
    A window reaches the client with the reply to the frame after the one that completed it
    (the worker works while the next frame is on its way); ``stop`` waits for the worker to
    finish the stream, so its last lines come with ``end``. A reconnect starts the stream
    afresh (a new epoch) rather than resuming it. The display lines carry the trace of every
    lead (the same band, rate and clock as the embedded engine's) but no R peaks or beat
    letters: those come from the analysis, on a worker.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from cardiostream import wire
from cardiostream.serve.batcher import EngineClient
from cardiostream.serve.display import DISPLAY_STEP, DisplayFilter, display_json, display_values
from cardiostream.serve.redis_bus import (
    GROUP,
    Producer,
    ResultReader,
    ckpt_key,
    in_key,
    shard_of,
)
from cardiostream.serve.rpc import Lines, Opened

#: How long ``stop`` waits for the worker to finish a stream.
CLOSE_TIMEOUT_S = 30.0


class _Display:
    """The display lines of one gateway-routed stream, drawn from the frames it appends.

    The trace is what :meth:`~cardiostream.serve.session.Session.display_line` draws: every
    lead resampled to 250 Hz exactly (as the processor resamples the analysed lead) and
    through the display's own band, every other sample from an even 250 Hz index, ``t`` on
    the stream clock. ``peaks`` and ``beats`` stay empty (they are the analysis's).

    Parameters
    ----------
    fs : float
        The stream's rate.
    leads : tuple of str
        Its lead labels.
    lead : int
        The index of the analysed lead (named in the line).
    n0 : int
        The 250 Hz index of the first sample to come: 0 from the start of the stream, else
        the consumed samples at 250 Hz (a dashboard opened on a running stream).
    """

    def __init__(self, fs: float, leads: tuple[str, ...], lead: int, n0: int) -> None:
        self.leads, self.lead, self.n0 = leads, lead, n0
        self.filters = [DisplayFilter(fs) for _ in leads]

    def line(self, x: npt.NDArray[np.float64]) -> str:
        """The display line of one frame (``[n, leads]`` samples)."""
        ys = [f.process(x[:, i]) for i, f in enumerate(self.filters)]
        size = ys[self.lead].size
        offset = (-self.n0) % DISPLAY_STEP  # even indexes only: chunks join seamlessly
        leads = {label: display_values(np.pad(y, (0, max(size - y.size, 0)))[:size], offset)
                 for label, y in zip(self.leads, ys, strict=True)}  # fmt: skip
        t = (self.n0 + offset) / 250.0
        self.n0 += size
        return display_json(t, self.leads[self.lead], leads)


@dataclass
class _Stream:
    epoch: int
    fs: float
    leads: tuple[str, ...]
    lead: int
    consumed: int = 0
    lines: Lines = field(default_factory=list)  # results not yet handed to a reply
    display: _Display | None = None  # while its owner is watched

    @property
    def n_leads(self) -> int:
        return len(self.leads)


class RedisGateway:
    """The engine client of the gateway mode (see the module notes).

    Parameters
    ----------
    embedded : EngineClient
        The embedded engine, for what does not go through Redis.
    url : str
        The Redis URL.
    n_shards : int
        Shards of the deployment (as the workers were started with).
    """

    def __init__(self, embedded: EngineClient, url: str, n_shards: int) -> None:
        import redis

        self.embedded = embedded
        self.redis = redis.Redis.from_url(url)
        self.producer = Producer(self.redis, n_shards)
        self.reader = ResultReader(redis.Redis.from_url(url), range(n_shards))
        self.streams: dict[str, _Stream] = {}
        #: Owners with a dashboard open: their Redis-routed streams' frames give display lines.
        self.watched: set[str] = set()
        self._task: asyncio.Task[None] | None = None
        self._reads = 0  # reads of the result streams done by the relay

    def __getattr__(self, name: str) -> Any:
        # predict, watch, expire and the reply ledger are the embedded engine's.
        return getattr(self.embedded, name)

    async def watch(self, owner: str, on: bool) -> None:
        """Start or stop the display lines of ``owner``'s streams (the embedded engine's
        beat-time streams too)."""
        if on:
            self.watched.add(owner)
        else:
            self.watched.discard(owner)
            prefix = self._sid(owner, "")
            for sid, stream in self.streams.items():
                if sid.startswith(prefix):
                    stream.display = None
        await self.embedded.watch(owner, on)

    @staticmethod
    def _sid(owner: str, stream_id: str) -> str:
        return f"{owner}:{stream_id}"

    async def start(self) -> None:
        """Start following the result streams."""
        await asyncio.to_thread(self.redis.ping)
        self._task = asyncio.create_task(self._relay())

    async def stop(self) -> None:
        """Stop following them and close the connections."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self.redis.close()
        self.reader.redis.close()

    async def _relay(self) -> None:
        while True:
            for result in await asyncio.to_thread(self.reader.read, 200):
                stream = self.streams.get(result.stream_id)
                if stream is not None and result.epoch == stream.epoch:
                    line = json.dumps(result.message, allow_nan=False)
                    stream.lines.append((result.message["type"], line))
            self._reads += 1

    async def open(
        self,
        owner: str,
        stream_id: str,
        fs: float,
        leads: tuple[str, ...],
        lead: int,
        source: str = "ecg",
    ) -> Opened:
        """Start a stream: an ECG stream goes to Redis, a beat-time stream to the embedded
        engine. Raises InputError for a bad rate (checked by a processor, as a worker
        would)."""
        if source != "ecg":
            return await self.embedded.open(owner, stream_id, fs, leads, lead, source)
        from cardiostream.stream.processor import StreamProcessor

        proc = StreamProcessor(fs)  # refuses what a worker could not analyse, now
        sid = self._sid(owner, stream_id)
        self.reader.dedupe.forget(sid)
        self.streams[sid] = _Stream(time.time_ns() // 1000, proc.fs, tuple(leads), lead)
        return Opened(0, False, proc.hop_s, proc.window_s, "")

    async def push(self, owner: str, stream_id: str, samples: bytes) -> tuple[Lines, int]:
        """Append one frame; returns the lines arrived since the last frame."""
        stream = self.streams.get(self._sid(owner, stream_id))
        if stream is None:
            return await self.embedded.push(owner, stream_id, samples)
        rows = np.frombuffer(samples, np.float64).reshape(-1, stream.n_leads)
        x = rows[:, stream.lead]
        await asyncio.to_thread(self.producer.append, self._sid(owner, stream_id),
                                stream.epoch, stream.consumed, stream.fs, x)  # fmt: skip
        lines, stream.lines = stream.lines, []
        if owner in self.watched:
            if stream.display is None:
                n0 = round(stream.consumed * 250.0 / stream.fs)
                stream.display = _Display(stream.fs, stream.leads, stream.lead, n0)
            lines.append((wire.DISPLAY, stream.display.line(rows)))
        stream.consumed += x.size
        return lines, stream.consumed

    async def close(self, owner: str, stream_id: str) -> tuple[Lines, int]:
        """End a stream: waits until its worker has finished it; returns its last lines."""
        sid = self._sid(owner, stream_id)
        stream = self.streams.get(sid)
        if stream is None:
            return await self.embedded.close(owner, stream_id)
        entry = await asyncio.to_thread(self.producer.end, sid, stream.epoch)
        shard = shard_of(sid, self.producer.n_shards)
        deadline = time.monotonic() + CLOSE_TIMEOUT_S
        while time.monotonic() < deadline and not await asyncio.to_thread(
            self._finished, shard, sid, entry
        ):
            await asyncio.sleep(0.02)
        # The worker published before it acknowledged: a read begun now has everything.
        reads = self._reads
        while self._reads < reads + 2 and self._task is not None and not self._task.done():
            await asyncio.sleep(0.01)
        del self.streams[sid]
        self.reader.dedupe.forget(sid)
        return stream.lines, stream.consumed

    def _finished(self, shard: int, sid: str, entry: bytes) -> bool:
        """Whether the worker has read ``entry`` (the end) and acknowledged it."""
        groups = self.redis.xinfo_groups(in_key(shard))
        delivered = next((g["last-delivered-id"] for g in groups if g["name"] == GROUP.encode()
                          or g["name"] == GROUP), b"0-0")  # fmt: skip
        if _id(delivered) < _id(entry):
            return False
        pending = self.redis.xpending_range(in_key(shard), GROUP, min=entry, max=entry, count=1)
        return not pending and not self.redis.hexists(ckpt_key(shard), sid)

    async def disconnect(self, owner: str, stream_id: str) -> None:
        """The client went away: the worker ends the stream (closing an open episode); a
        reconnect starts it afresh (module notes)."""
        sid = self._sid(owner, stream_id)
        stream = self.streams.pop(sid, None)
        if stream is None:
            await self.embedded.disconnect(owner, stream_id)
        else:
            await asyncio.to_thread(self.producer.end, sid, stream.epoch)


def _id(entry_id: bytes | str) -> tuple[int, int]:
    text = entry_id.decode() if isinstance(entry_id, bytes) else entry_id
    ms, _, seq = text.partition("-")
    return int(ms), int(seq or 0)
