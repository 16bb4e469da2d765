"""The gateway mode of the server (``cardiostream serve --redis URL``).

:class:`RedisGateway` stands where :class:`~cardiostream.serve.batcher.EngineClient` stands
for the WebSocket ingest: a stream's frames (samples of its analysed lead, or a beat-time
stream's beat times) are appended to its shard in Redis (:mod:`cardiostream.serve.redis_bus`)
instead of going to the embedded engine, and the
workers' results come back through one relay task that follows the result streams and drops
the copies a takeover repeats (:class:`~cardiostream.serve.redis_bus.Dedupe`).

A frame's reply waits until a worker has processed the frame: the worker publishes, with an
entry's messages or, for an entry that gave none, a progress marker, how far the stream was
processed, and the relay wakes the reply once that reaches the frame's end. So the reply to
frame N carries what frame N produced, as from the embedded engine, and the stream's client,
the alarms and the dashboard's status get the same lines at the same frames. The wait is
bounded (:data:`PUSH_WAIT_S`): with no worker answering, the reply goes with what has come,
and the late lines come with a later reply (none is lost). ``stop`` waits for the worker to
end the stream, so its last lines come with ``end``.

A client that leaves without ``stop`` keeps its stream (same epoch, same state at the
worker) for ``resume_ttl_s``: a reconnect with its id resumes it (``ready`` says
``resumed`` and the samples consumed) and is sent the replies it missed, as the embedded
engine's streams are (:class:`~cardiostream.serve.ledger.Ledger`). Past that window the
stream is ended at its worker (an open AF episode closes there). ``max_streams`` counts the
streams connected through the gateway, and turns new ones away as the embedded engine does.

The gateway adds the frame's display line itself (:class:`_Display`: the samples drawn need
no analysis), as the embedded engine does: every lead while a dashboard of the stream's
owner is open, else the analysed lead only, for the trace the web process keeps (none with
``disclosure_s`` 0); the frame's entry then asks its worker for the R peaks and beat
letters (:func:`~cardiostream.serve.session.push_marks`), which come with its progress
marker (a beat-time stream's: its beats' RR intervals and AF calls, for the tachogram): one
marker more per frame in the result stream. ``/v1/predict`` stays with the embedded
engine. A beat-time stream's frames are checked against its last beat here, as the
embedded engine checks them, so that nothing a worker would refuse is appended.

Differences from the embedded mode
    A reply takes a round trip through Redis and a worker more. A reply that gave up waiting
    (:data:`PUSH_WAIT_S`) leaves its frame's lines to a later reply, and the frame's display
    line goes without its R peaks and beat letters. The streams routed through Redis are not
    recorded into the store (``record``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from cardiostream import wire
from cardiostream.errors import InputError
from cardiostream.serve.batcher import EngineClient
from cardiostream.serve.config import ServeConfig
from cardiostream.serve.display import DISPLAY_STEP, DisplayFilter, display_json, display_values
from cardiostream.serve.ledger import Entry, Key, Ledger
from cardiostream.serve.protocol import BEATS_LEAD
from cardiostream.serve.redis_bus import Producer, Result, ResultReader
from cardiostream.serve.rpc import Lines, Open, Opened, check_resume
from cardiostream.serve.session import beats_display_json

log = logging.getLogger(__name__)

#: How long a frame's reply waits for a worker to have processed the frame: past it, the
#: reply goes with what has come, and the frame's late lines go with a later reply.
PUSH_WAIT_S = 2.0
#: How long ``stop`` waits for the worker to finish a stream.
CLOSE_TIMEOUT_S = 30.0
#: Seconds between two looks for disconnected streams whose resume window has passed.
EXPIRY_S = 1.0


class _Display:
    """The display lines of one gateway-routed stream, drawn from the frames it appends.

    The trace is what :meth:`~cardiostream.serve.session.Session.display_line` draws: every
    lead resampled to 250 Hz exactly (as the processor resamples the analysed lead) and
    through the display's own band, every other sample from an even 250 Hz index, ``t`` on
    the stream clock. ``peaks`` and ``beats`` are the analysis's: the worker publishes them
    with the frame's progress marker (:func:`~cardiostream.serve.session.push_marks`).

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
        self.fs, self.leads, self.lead, self.n0 = fs, leads, lead, n0
        self.filters: list[DisplayFilter | None] = [DisplayFilter(fs) for _ in leads]

    def line(
        self,
        x: npt.NDArray[np.float64],
        marks: dict[str, Any] | None = None,
        every_lead: bool = True,
    ) -> str:
        """The display line of one frame (``[n, leads]`` samples), with the R peaks and beat
        letters the worker found in it (``marks``; none if it has not said); ``every_lead``
        False: the analysed lead only (no dashboard watches, the trace is kept)."""
        ys: dict[int, npt.NDArray[np.float64]] = {}
        for i in range(len(self.leads)):
            if not every_lead and i != self.lead:
                self.filters[i] = None  # it misses these samples: afresh when drawn again
                continue
            filt = self.filters[i]
            if filt is None:
                filt = self.filters[i] = DisplayFilter(self.fs)
            ys[i] = filt.process(x[:, i])
        size = ys[self.lead].size
        offset = (-self.n0) % DISPLAY_STEP  # even indexes only: chunks join seamlessly
        leads = {self.leads[i]: display_values(np.pad(y, (0, max(size - y.size, 0)))[:size],
                                               offset)
                 for i, y in ys.items()}  # fmt: skip
        t = (self.n0 + offset) / 250.0
        self.n0 += size
        marks = marks or {}
        return display_json(t, self.leads[self.lead], leads, marks.get("peaks", ()),
                            marks.get("beats", ()))  # fmt: skip


@dataclass
class _Stream:
    owner: str
    stream_id: str
    epoch: int
    fs: float
    leads: tuple[str, ...]
    lead: int
    hop_s: int
    window_s: int
    source: str = "ecg"  # or "beats": beat times
    timing: str = "ecg"  # a beats stream's: "pulse" for beats timed by a pulse sensor
    consumed: int = 0  # samples (beats) appended
    last_beat: float | None = None  # a beats stream's last beat time appended
    done: int = 0  # samples a worker has processed (its results and markers say)
    ended: bool = False  # a worker has ended it (all of its last lines are in)
    lines: Lines = field(default_factory=list)  # results not yet handed to a reply
    marks: dict[int, dict[str, Any]] = field(default_factory=dict)  # per entry end: marks
    display: _Display | None = None  # while it is drawn (watched, or its trace kept)
    connected: bool = True
    left_at: float = 0.0  # monotonic time of the last disconnect
    #: A reply (or ``stop``) waiting for the worker: its condition and the future to wake.
    waiter: tuple[Callable[[], bool], asyncio.Future[None]] | None = None

    @property
    def n_leads(self) -> int:
        return len(self.leads)

    def take(self, result: Result) -> None:
        """One result of this stream's epoch, from the relay."""
        if result.message is not None:
            line = json.dumps(result.message, allow_nan=False)
            self.lines.append((result.message["type"], line))
        if result.marks is not None:
            self.marks[result.n] = result.marks
        if result.last:  # the entry's output is all in: the stream got that far
            self.done = max(self.done, result.n)
            self.ended = self.ended or result.end

    def wake(self) -> None:
        if self.waiter is not None:
            ready, future = self.waiter
            if not future.done() and ready():
                future.set_result(None)


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
    config : ServeConfig, optional
        The server's settings: ``max_streams`` and ``resume_ttl_s`` apply to the streams
        routed through Redis as the embedded engine applies them to its own.
    on_gone : callable, optional
        Told of the streams whose resume window passed (the watch's listing forgets them).
    """

    def __init__(
        self,
        embedded: EngineClient,
        url: str,
        n_shards: int,
        config: ServeConfig | None = None,
        on_gone: Callable[[list[Key]], None] | None = None,
    ) -> None:
        import redis

        self.embedded = embedded
        self.config = config or ServeConfig()
        self.on_gone = on_gone
        self.url, self.n_shards = url, n_shards
        self.redis = redis.Redis.from_url(url)
        self.producer = Producer(self.redis, n_shards)
        self.reader = ResultReader(None, ())  # follows the shards from start()
        self.streams: dict[str, _Stream] = {}
        #: The Redis-routed streams' replies, for a resume (as the embedded engine keeps its
        #: own streams' in the batcher's ledger).
        self.ledger = Ledger()
        #: Owners with a dashboard open: their Redis-routed streams' display lines draw every
        #: lead.
        self.watched: set[str] = set()
        #: Whether every frame gives a display line, watched or not (see
        #: :attr:`Hub.keeps_trace <cardiostream.serve.hub.Hub.keeps_trace>`).
        self.keeps_trace = self.config.disclosure_s > 0
        self._task: asyncio.Task[None] | None = None
        self._expiry: asyncio.Task[None] | None = None

    def __getattr__(self, name: str) -> Any:
        # predict and anything else not routed here is the embedded engine's.
        return getattr(self.embedded, name)

    async def watch(self, owner: str, on: bool) -> None:
        """Start or stop drawing every lead of ``owner``'s streams (their display lines, with
        no trace kept)."""
        if on:
            self.watched.add(owner)
        else:
            self.watched.discard(owner)
            for stream in self.streams.values():
                if stream.owner == owner and not self.keeps_trace:
                    stream.display = None
        await self.embedded.watch(owner, on)

    @staticmethod
    def _sid(owner: str, stream_id: str) -> str:
        return f"{owner}:{stream_id}"

    async def start(self) -> None:
        """Start following the result streams (from their ends now)."""
        import redis

        await asyncio.to_thread(self.redis.ping)
        client = redis.Redis.from_url(self.url)
        self.reader = await asyncio.to_thread(ResultReader, client, range(self.n_shards))
        self._task = asyncio.create_task(self._relay())
        self._expiry = asyncio.create_task(self._expire_often())

    async def stop(self) -> None:
        """Stop following them and close the connections."""
        for task in (self._expiry, self._task):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        self.redis.close()
        if self.reader.redis is not None:
            self.reader.redis.close()

    async def _relay(self) -> None:
        import redis

        while True:
            touched: dict[str, _Stream] = {}
            try:
                results = await asyncio.to_thread(self.reader.read, 200, 1000, True)
            except redis.RedisError as exc:
                # Redis away for a moment: replies wait (bounded) meanwhile; read again soon.
                log.warning("reading the workers' results failed (%s); retrying", exc)
                await asyncio.sleep(0.5)
                continue
            for result in results:
                stream = self.streams.get(result.stream_id)
                if stream is not None and result.epoch == stream.epoch:
                    stream.take(result)
                    touched[result.stream_id] = stream
            for stream in touched.values():
                stream.wake()

    async def _until(self, stream: _Stream, ready: Callable[[], bool], timeout: float) -> bool:
        """Wait until the relay makes ``ready()`` true (woken by it, no polling), at most
        ``timeout`` seconds; returns whether it came true."""
        if ready():
            return True
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        stream.waiter = (ready, future)
        try:
            await asyncio.wait_for(future, timeout)
            return True
        except TimeoutError:
            return False
        finally:
            stream.waiter = None

    def n_connected(self) -> int:
        """Streams connected through this gateway."""
        return sum(s.connected for s in self.streams.values())

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
        """Start or resume a stream (``source``: ``ecg`` or ``beats``, a beats stream's
        ``timing``: ``ecg`` or ``pulse``), analysed by a worker.

        Raises
        ------
        InputError
            For a bad rate (checked by a processor, as a worker would), source or timing,
            or a resume with another source, timing, rate or leads.
        OverflowError
            When the stream is already connected, or the server is at its stream limit.
        """
        await self.expire()
        key = (owner, stream_id)
        sid = self._sid(owner, stream_id)
        old = self.streams.get(sid)
        if old is not None:
            check_resume(old, stream_id, source, fs, leads, lead, timing)
            old.connected = True
            return Opened(old.consumed, True, old.hop_s, old.window_s, "")
        if self.n_connected() >= self.config.max_streams:
            raise OverflowError("the server is at its stream limit")
        if source == "beats":
            from cardiostream.beats.af_rr import as_timing
            from cardiostream.stream.beat_stream import BeatStreamProcessor as Beats

            as_timing(timing)
            rate, hop_s, window_s = 0.0, Beats.hop_s, Beats.window_s
            leads, lead = (BEATS_LEAD,), 0
        elif timing != "ecg":
            raise InputError("timing: only a beats stream says how its beats were timed")
        elif source == "ecg":
            from cardiostream.stream.processor import StreamProcessor

            proc = StreamProcessor(fs)  # refuses what a worker could not analyse, now
            rate, hop_s, window_s = proc.fs, proc.hop_s, proc.window_s
        else:
            raise InputError(f"format: unknown stream source {source!r}")
        self.reader.dedupe.forget(sid)
        self.streams[sid] = _Stream(owner, stream_id, time.time_ns() // 1000, rate,
                                    tuple(leads), lead, hop_s, window_s, source,
                                    timing)  # fmt: skip
        self.ledger.entries[key] = Entry(Open(owner, stream_id, fs, tuple(leads), lead, source,
                                              timing))  # fmt: skip
        return Opened(0, False, hop_s, window_s, "")

    async def push(self, owner: str, stream_id: str, samples: bytes) -> tuple[Lines, int]:
        """Append one frame and wait (up to :data:`PUSH_WAIT_S`) until a worker has processed
        it; returns the lines that came meanwhile: the frame's, as the embedded engine
        gives them, and any late ones of earlier frames."""
        sid = self._sid(owner, stream_id)
        stream = self.streams.get(sid)
        if stream is None:
            return await self.embedded.push(owner, stream_id, samples)
        rows = np.frombuffer(samples, np.float64).reshape(-1, stream.n_leads)
        x = rows[:, stream.lead]
        if stream.source == "beats" and x.size:
            # The web process checked the frame on its own; its order against the beats
            # before is checked here, as the embedded engine does, before anything is sent.
            if stream.last_beat is not None and not x[0] > stream.last_beat:
                raise InputError(f"beat_times_s: {x[0]:g} s is not after the last beat "
                                 f"({stream.last_beat:g} s)")  # fmt: skip
            stream.last_beat = float(x[-1])
        watched = owner in self.watched
        drawn = watched or self.keeps_trace
        await asyncio.to_thread(self.producer.append, sid, stream.epoch, stream.consumed,
                                stream.fs, x, drawn, stream.source,
                                stream.timing)  # fmt: skip
        n0, stream.consumed = stream.consumed, stream.consumed + x.size
        end = stream.consumed
        await self._until(stream, lambda: stream.done >= end, PUSH_WAIT_S)
        lines, stream.lines = stream.lines, []
        marks = stream.marks.pop(end, None)
        stream.marks.clear()  # any older ones came too late for their frame's line
        if drawn and stream.source == "beats":
            beats = marks or {"times": [], "rr_ms": [], "af": []}
            line = beats_display_json(beats["times"], beats["rr_ms"], beats["af"])
            lines.append((wire.DISPLAY, line))
        elif drawn:
            if stream.display is None:
                stream.display = _Display(stream.fs, stream.leads, stream.lead,
                                          round(n0 * 250.0 / stream.fs))  # fmt: skip
            lines.append((wire.DISPLAY, stream.display.line(rows, marks, watched)))
        return lines, stream.consumed

    async def close(self, owner: str, stream_id: str) -> tuple[Lines, int]:
        """End a stream: waits until its worker has finished it; returns its last lines."""
        sid = self._sid(owner, stream_id)
        stream = self.streams.get(sid)
        if stream is None:
            return await self.embedded.close(owner, stream_id)
        await asyncio.to_thread(self.producer.end, sid, stream.epoch)
        await self._until(stream, lambda: stream.ended, CLOSE_TIMEOUT_S)
        self._forget(stream)
        return stream.lines, stream.consumed

    def _forget(self, stream: _Stream) -> None:
        sid = self._sid(stream.owner, stream.stream_id)
        self.streams.pop(sid, None)
        self.ledger.entries.pop((stream.owner, stream.stream_id), None)
        self.reader.dedupe.forget(sid)

    async def disconnect(self, owner: str, stream_id: str) -> None:
        """The client went away without ``stop``: the stream is kept for ``resume_ttl_s``
        (a reconnect with its id resumes it), then ended at its worker."""
        stream = self.streams.get(self._sid(owner, stream_id))
        if stream is None:
            await self.embedded.disconnect(owner, stream_id)
        else:
            stream.connected = False
            stream.left_at = time.monotonic()

    async def expire(self) -> None:
        """End, at their workers, the disconnected streams whose resume window has passed
        (and the oldest ones beyond ``max_streams``, as the embedded engine does)."""
        now = time.monotonic()
        ttl, limit = self.config.resume_ttl_s, self.config.max_streams
        left_streams = sorted((s.left_at, sid) for sid, s in self.streams.items()
                              if not s.connected)  # fmt: skip
        over = len(left_streams) - limit
        doomed = [sid for t, sid in left_streams[: max(over, 0)]]
        doomed += [sid for t, sid in left_streams if now - t > ttl]
        gone: list[Key] = []
        for sid in doomed:
            stream = self.streams.get(sid)
            if stream is None or stream.connected:
                continue
            # Ended at the worker (an open episode closes there); nobody is left to read
            # its last lines.
            self._forget(stream)
            gone.append((stream.owner, stream.stream_id))
            await asyncio.to_thread(self.producer.end, sid, stream.epoch)
        if gone and self.on_gone is not None:
            self.on_gone(gone)

    async def _expire_often(self) -> None:
        while True:
            await asyncio.sleep(EXPIRY_S)
            try:
                await self.expire()
            except Exception:  # Redis away for a moment: the next round tries again
                log.exception("expiring the gateway's disconnected streams failed")

    # The replies kept for a resume: the gateway's own for Redis-routed streams.
    def keep_unsent(self, owner: str, stream_id: str, message: str) -> None:
        """A reply the client did not get: sent again when the stream resumes."""
        if (owner, stream_id) in self.ledger.entries:
            self.ledger.keep_unsent((owner, stream_id), message)
        else:
            self.embedded.keep_unsent(owner, stream_id, message)

    def keep_reply(self, owner: str, stream_id: str, before: int, message: str) -> None:
        """A reply being sent (to the frame that began at sample ``before``)."""
        if (owner, stream_id) in self.ledger.entries:
            self.ledger.keep_reply((owner, stream_id), before, message)
        else:
            self.embedded.keep_reply(owner, stream_id, before, message)

    def take_unsent(self, owner: str, stream_id: str, acked: int | None) -> list[str]:
        """The replies to send a resumed stream after its ``ready``."""
        if (owner, stream_id) in self.ledger.entries:
            return self.ledger.take_unsent((owner, stream_id), acked)
        return self.embedded.take_unsent(owner, stream_id, acked)
