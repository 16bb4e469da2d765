"""A worker: owns shards of the live streams in Redis and runs their processors (a
:class:`~cardiostream.stream.processor.StreamProcessor` for samples, a
:class:`~cardiostream.stream.beat_stream.BeatStreamProcessor` for beat times).

``cardiostream worker --redis URL --shards 0,1`` runs :class:`Worker` (keys and entry fields
are in :mod:`cardiostream.serve.redis_bus`).

Ownership
    A shard is owned through a lease key with an expiry that the owner renews; another worker
    (or the same one restarted) takes it once the lease has lapsed. Taking it draws a fencing
    token (``INCR cs:fence:{shard}``), kept in the lease's value with the worker's name. All
    workers read the shard streams through one consumer group, so every entry not yet
    acknowledged stays in the group's pending list, whoever read it.
Checkpoints
    Every ``checkpoint_s`` seconds of a stream's signal (or after ``idle_s`` without a new
    entry) its processor's ``state_dict()`` is written, as JSON, together with the id of the
    last entry it covers, and the entries it covers are acknowledged, in one MULTI/EXEC: an
    acknowledged entry is always inside a checkpoint. Results are published before that
    transaction, so nothing a checkpoint covers can be lost.
Fencing
    The transaction that writes a shard's checkpoints and acknowledgements (or deletes an
    ended stream's checkpoint) WATCHes the shard's lease and runs only if the lease still
    holds this worker's name and token. An owner that stalled past its lease (a long pause,
    SIGSTOP) and wakes after another worker took the shard over is refused: it drops the
    shard's streams instead of writing over its successor's checkpoints.
Progress
    For every entry that produced no message the worker publishes a progress marker (and,
    for an entry that asks, the R peaks and beat letters a dashboard draws), so a consumer
    knows how far each stream was processed: the gateway replies to a frame once its entry
    was (:mod:`cardiostream.serve.gateway`).
Takeover
    The new owner loads the shard's checkpoints, claims the pending entries (XAUTOCLAIM from
    the start), skips those a checkpoint covers and replays the rest, then reads new entries.
    What the replay emits again carries the same keys as the first copies; consumers drop it
    (:class:`~cardiostream.serve.redis_bus.Dedupe`).
"""

from __future__ import annotations

import json
import logging
import os
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from cardiostream.beats.af_rr import as_timing
from cardiostream.errors import InputError
from cardiostream.serve.redis_bus import (
    GROUP,
    MAXLEN,
    ckpt_key,
    fence_key,
    in_key,
    lease_key,
    out_key,
    result_fields,
)
from cardiostream.serve.session import push_marks
from cardiostream.stream.beat_stream import BeatStreamProcessor
from cardiostream.stream.events import EventConfig
from cardiostream.stream.processor import StreamProcessor

log = logging.getLogger(__name__)


def _id(entry_id: bytes | str) -> tuple[int, int]:
    """A stream entry id, comparable."""
    text = entry_id.decode() if isinstance(entry_id, bytes) else entry_id
    ms, _, seq = text.partition("-")
    return int(ms), int(seq or 0)


@dataclass
class Live:
    """One patient stream on this worker."""

    shard: int
    epoch: int
    fs: float  # 0 for beat times
    processor: StreamProcessor | BeatStreamProcessor
    consumed: int = 0  # samples pushed (the index of the next one)
    last_id: tuple[int, int] = (0, 0)  # the last entry processed
    unacked: list[bytes] = field(default_factory=list)  # processed since the checkpoint
    since: int = 0  # samples since the checkpoint
    touched: float = field(default_factory=time.monotonic)  # last entry, monotonic s

    @property
    def per_s(self) -> float:
        """Samples a second of the stream: its rate, or about a beat for beat times."""
        return self.fs or 1.0

    @property
    def source(self) -> str:
        return "beats" if isinstance(self.processor, BeatStreamProcessor) else "ecg"

    @property
    def timing(self) -> str:
        """How a beats stream's beats were timed (``ecg`` for every ECG stream)."""
        proc = self.processor
        return proc.timing if isinstance(proc, BeatStreamProcessor) else "ecg"


class Worker:
    """Runs the processors of the streams in ``shards`` (see the module notes).

    Parameters
    ----------
    redis : redis.Redis
        A client (``decode_responses`` off).
    shards : list of int
        The shards to own.
    name : str, optional
        The consumer name in the group; host and process id by default.
    model : path, optional
        The processors' model folder (the shipped one by default).
    checkpoint_s : float
        Seconds of a stream's signal between checkpoints.
    idle_s : float
        Wall seconds after which a stream that received nothing is checkpointed anyway.
    lease_s : float
        How long a lease lasts unrenewed: how soon a dead worker's shards are taken over.
    af_min_s : float
        The shortest AF event of its streams (ECG and beat times), 30 s by default; every
        worker of a deployment should have the same, since a stream moves between them.
    """

    def __init__(
        self,
        redis: Any,
        shards: list[int],
        *,
        name: str | None = None,
        model: str | Path | None = None,
        checkpoint_s: float = 5.0,
        idle_s: float = 30.0,
        lease_s: float = 5.0,
        af_min_s: float = 30.0,
    ) -> None:
        self.redis = redis
        self.events = EventConfig(min_duration_s=af_min_s)
        self.shards = list(shards)
        self.name = name or f"{socket.gethostname()}-{os.getpid()}"
        self.model = model
        self.checkpoint_s, self.idle_s = checkpoint_s, idle_s
        self.lease_ms = max(int(lease_s * 1000), 100)
        self.owned: dict[int, float] = {}  # shard -> monotonic time of the last renewal
        self.tokens: dict[int, int] = {}  # shard -> the fencing token of its lease
        self.streams: dict[str, Live] = {}
        self._outbox: list[tuple[int, dict[str, Any]]] = []
        self._ended: list[tuple[str, int, list[bytes]]] = []  # (id, shard, entries to ack)
        self.entries = 0  # entries processed, replays included
        self.fenced = 0  # transactions refused because the lease had moved on
        self._trimmed = time.monotonic()

    # ---------------------------------------------------------------- leases
    def _setup(self, shard: int) -> None:
        try:
            self.redis.xgroup_create(in_key(shard), GROUP, id="0", mkstream=True)
        except Exception as exc:  # the group exists already: the usual case
            if "BUSYGROUP" not in str(exc):
                raise

    def holder(self, shard: int) -> str:
        """The lease value that says this worker owns ``shard``: its name and token."""
        return f"{self.name}#{self.tokens.get(shard, 0)}"

    def _holds(self, pipe: Any, shard: int) -> bool:
        # On a pipeline that WATCHes the lease: the check before a fenced transaction.
        value = pipe.get(lease_key(shard))
        return value is not None and bytes(value).decode() == self.holder(shard)

    def _acquire(self, shard: int) -> bool:
        """Take a free lease with a new fencing token (a token drawn for a lease another
        worker took first is simply never used)."""
        if self.redis.exists(lease_key(shard)):
            return False
        token = int(self.redis.incr(fence_key(shard)))
        value = f"{self.name}#{token}"
        if not self.redis.set(lease_key(shard), value, nx=True, px=self.lease_ms):
            return False
        self.tokens[shard] = token
        return True

    def _renew(self, shard: int) -> bool:
        # Only the holder may extend a lease: WATCH makes the check and the extension one step.
        with self.redis.pipeline() as pipe:
            try:
                pipe.watch(lease_key(shard))
                if not self._holds(pipe, shard):
                    return False
                pipe.multi()
                pipe.pexpire(lease_key(shard), self.lease_ms)
                pipe.execute()
                return True
            except Exception as exc:
                if type(exc).__name__ == "WatchError":
                    return False
                raise

    def leases(self) -> None:
        """Renew the leases held, drop the shards lost, take over the shards now free."""
        now = time.monotonic()
        for shard in self.shards:
            if shard in self.owned:
                if now - self.owned[shard] < self.lease_ms / 3000:
                    continue
                if self._renew(shard):
                    self.owned[shard] = now
                else:  # another worker owns it now: its state here is stale
                    self.drop(shard)
            elif self._acquire(shard):
                self.owned[shard] = now
                self._setup(shard)
                self.take_over(shard)

    def drop(self, shard: int) -> None:
        """Forget a shard this worker no longer owns, and its streams' state."""
        self.owned.pop(shard, None)
        self.tokens.pop(shard, None)
        for sid in [s for s, live in self.streams.items() if live.shard == shard]:
            del self.streams[sid]
        self._outbox = [(k, f) for k, f in self._outbox if k != shard]
        self._ended = [e for e in self._ended if e[1] != shard]

    def release(self) -> None:
        """Checkpoint everything and give the leases back (a clean stop)."""
        self.checkpoint(force=True)
        for shard in list(self.owned):
            if self._renew(shard):
                self.redis.delete(lease_key(shard))
            self.owned.pop(shard, None)
            self.tokens.pop(shard, None)

    # -------------------------------------------------------------- takeover
    def take_over(self, shard: int) -> None:
        """Restore the shard's checkpoints and replay what they do not cover."""
        for sid, text in (self.redis.hgetall(ckpt_key(shard)) or {}).items():
            self._restore(shard, sid.decode(), json.loads(text))
        start: bytes | str = "0-0"
        while True:
            reply = self.redis.xautoclaim(in_key(shard), GROUP, self.name, min_idle_time=0,
                                          start_id=start, count=500)  # fmt: skip
            start, entries = reply[0], reply[1]
            for entry_id, fields in entries:
                if fields and shard in self.owned:  # trimmed entries come back empty
                    self.handle(shard, entry_id, fields)
            self.flush()
            if _id(start) == (0, 0) or shard not in self.owned:
                return

    def _processor(
        self, source: str, fs: float, timing: str = "ecg"
    ) -> StreamProcessor | BeatStreamProcessor:
        if source == "beats":
            return BeatStreamProcessor(events=self.events, timing=as_timing(timing))
        return StreamProcessor(fs, model=self.model, events=self.events)

    def _restore(self, shard: int, sid: str, ckpt: dict[str, Any]) -> None:
        proc = self._processor(str(ckpt.get("source", "ecg")), float(ckpt["fs"]),
                               str(ckpt.get("timing", "ecg")))  # fmt: skip
        proc.load_state_dict(ckpt["state"])
        self.streams[sid] = Live(shard, int(ckpt["epoch"]), float(ckpt["fs"]), proc,
                                 consumed=int(ckpt["consumed"]),
                                 last_id=_id(ckpt["last_id"]))  # fmt: skip

    # ------------------------------------------------------------ processing
    def step(self, block_ms: int = 200) -> int:
        """One round: leases, a read of new entries, their results, due checkpoints.

        Returns the entries read.
        """
        self.leases()
        if not self.owned:
            time.sleep(block_ms / 1000)
            return 0
        keys = {in_key(s): ">" for s in self.owned}
        reply = self.redis.xreadgroup(GROUP, self.name, keys, count=500, block=block_ms)
        n = 0
        for key, entries in reply or []:
            shard = int((key.decode() if isinstance(key, bytes) else key).rpartition(":")[2])
            for entry_id, fields in entries:
                if shard in self.owned:  # a fenced checkpoint may have dropped it meanwhile
                    self.handle(shard, entry_id, fields)
                n += 1
        self.flush()
        return n

    def handle(self, shard: int, entry_id: bytes, fields: dict[bytes, bytes]) -> None:
        """Process one entry of ``shard``: its results go to the outbox."""
        sid, epoch, ts = fields[b"sid"].decode(), int(fields[b"ep"]), int(fields[b"ts"])
        live = self.streams.get(sid)
        if live is not None and (epoch < live.epoch or (
                epoch == live.epoch and _id(entry_id) <= live.last_id)):  # fmt: skip
            # Stale, or covered by the checkpoint: acknowledging it loses nothing.
            self.redis.xack(in_key(shard), GROUP, entry_id)
            return
        self.entries += 1
        if fields.get(b"end") == b"1":
            if live is None or epoch > live.epoch:
                # Nothing to end (no sample came): the marker still tells the ending's
                # consumer it is done.
                self._outbox.append((shard, result_fields(sid, epoch, 0, True, 0, ts, "")))
                self.redis.xack(in_key(shard), GROUP, entry_id)
                return
            out = live.processor.flush()
            self._publish(shard, sid, live, ts, out, end=True)
            del self.streams[sid]
            self._ended.append((sid, shard, [*live.unacked, entry_id]))
            return
        fs = float(fields[b"fs"])
        if live is None or epoch > live.epoch:
            # A new stream (or a new start of the id): what the old one left is acknowledged
            # with the new one's first checkpoint.
            old = live.unacked if live is not None else []
            source = fields.get(b"src", b"ecg").decode()
            timing = fields.get(b"tm", b"ecg").decode()
            live = Live(shard, epoch, fs, self._processor(source, fs, timing), unacked=old)
            self.streams[sid] = live
        dtype = "<f8" if fields.get(b"fmt") == b"f8" else "<f4"
        x = np.frombuffer(fields[b"x"], dtype).astype(np.float64)
        n0 = int(fields[b"n0"])
        end = n0 + x.size
        live.last_id = _id(entry_id)
        live.unacked.append(entry_id)
        live.touched = time.monotonic()
        if end <= live.consumed:  # appended twice: the processor has it
            return
        if n0 < live.consumed:
            x = x[live.consumed - n0 :]
        try:
            if isinstance(live.processor, BeatStreamProcessor):
                out = live.processor.push(x)
            elif n0 > live.consumed:  # samples never appended: the processor fills the gap
                out = live.processor.push(x, live.processor.t0 + n0 / fs)
            else:
                out = live.processor.push(x)
        except InputError as exc:
            # The gateway checks what it appends; an entry refused anyway is skipped rather
            # than stopping the worker (and every worker after it) on the same entry.
            log.error("stream %s: entry %r skipped: %s", sid, entry_id, exc)
            out = []
        live.consumed = end
        live.since += x.size
        self._publish(shard, sid, live, ts, out, end=False, marks=fields.get(b"d") == b"1")
        if live.since >= self.checkpoint_s * live.per_s:
            # Checkpoint where it falls due, not at the end of the batch: a takeover then
            # replays at most checkpoint_s of each stream, however large the batches.
            self.flush()

    def _publish(
        self,
        shard: int,
        sid: str,
        live: Live,
        ts: int,
        out: list[Any],
        *,
        end: bool,
        marks: bool = False,
    ) -> None:
        k = len(out) + int(marks)  # with marks asked, the marker comes last
        for i, message in enumerate(out):
            line = json.dumps(message, allow_nan=False)
            fields = result_fields(sid, live.epoch, live.consumed, end, i, ts, line, k=k)
            self._outbox.append((shard, fields))
        if out and not marks:
            return  # the messages say how far the stream got: no marker needed
        drawn = None
        if marks and isinstance(live.processor, BeatStreamProcessor):
            times, rr, af = live.processor.last_beats
            drawn = json.dumps({"times": times, "rr_ms": rr, "af": af}, allow_nan=False)
        elif marks and isinstance(live.processor, StreamProcessor):
            peaks, beats = push_marks(live.processor)
            drawn = json.dumps({"peaks": peaks, "beats": beats}, allow_nan=False)
        # The marker's key follows the entry's messages: a replay gives the same one.
        fields = result_fields(sid, live.epoch, live.consumed, end, len(out), ts, "", drawn)
        self._outbox.append((shard, fields))

    def flush(self) -> None:
        """Publish the outbox, then finish ended streams and write due checkpoints."""
        if self._outbox:
            pipe = self.redis.pipeline(transaction=False)
            for shard, fields in self._outbox:
                pipe.xadd(out_key(shard), fields, maxlen=MAXLEN, approximate=True)
            pipe.execute()
            self._outbox.clear()
        ended, self._ended = self._ended, []
        for shard in sorted({e[1] for e in ended}):
            mine = [(sid, ids) for sid, s, ids in ended if s == shard]

            def queue(pipe: Any, shard: int = shard, mine: list[Any] = mine) -> None:
                for sid, ids in mine:
                    pipe.hdel(ckpt_key(shard), sid)
                    pipe.xack(in_key(shard), GROUP, *ids)

            self._fenced(shard, queue)
        self.checkpoint()
        if time.monotonic() - self._trimmed >= self.checkpoint_s:
            self.trim()

    def trim(self) -> None:
        """Drop the owned shards' entries that every checkpoint covers: those before the
        oldest pending entry (or, with none pending, up to the last one delivered). Entries
        are never dropped by length, so a shard without an owner for a while loses none."""
        self._trimmed = time.monotonic()
        for shard in self.owned:
            key = in_key(shard)
            summary = self.redis.xpending(key, GROUP)
            if summary["pending"]:
                oldest = summary["min"]
            else:
                groups = self.redis.xinfo_groups(key)
                oldest = next(g["last-delivered-id"] for g in groups
                              if g["name"] in (GROUP, GROUP.encode()))  # fmt: skip
                ms, seq = _id(oldest)
                oldest = f"{ms}-{seq + 1}"  # MINID keeps its own id: keep none delivered
            self.redis.xtrim(key, minid=oldest)

    def checkpoint(self, force: bool = False) -> int:
        """Write the due checkpoints (all with ``force``); returns how many were written.

        Each is one MULTI/EXEC: the state and its last entry id, and the acknowledgement of
        the entries it covers.
        """
        now = time.monotonic()
        due: dict[int, list[tuple[str, Live]]] = {}
        for sid, live in self.streams.items():
            if not live.unacked:
                continue
            if (force or live.since >= self.checkpoint_s * live.per_s
                    or now - live.touched >= self.idle_s):  # fmt: skip
                due.setdefault(live.shard, []).append((sid, live))
        written = 0
        for shard, items in due.items():
            states = []
            for sid, live in items:
                ms, seq = live.last_id
                state = {"epoch": live.epoch, "fs": live.fs, "consumed": live.consumed,
                         "last_id": f"{ms}-{seq}", "source": live.source,
                         "timing": live.timing,
                         "state": live.processor.state_dict()}  # fmt: skip
                states.append((sid, json.dumps(state), list(live.unacked)))

            def queue(pipe: Any, shard: int = shard, states: list[Any] = states) -> None:
                for sid, text, ids in states:
                    pipe.hset(ckpt_key(shard), sid, text)
                    pipe.xack(in_key(shard), GROUP, *ids)

            if self._fenced(shard, queue):
                for _, live in items:
                    live.unacked, live.since = [], 0
                written += len(items)
        return written

    def _fenced(self, shard: int, queue: Callable[[Any], Any]) -> bool:
        """Run what ``queue`` puts on a transaction only while this worker's lease (name and
        token) holds ``shard``; refused, the shard is dropped (another worker owns it).

        Returns whether the transaction ran.
        """
        with self.redis.pipeline() as pipe:
            try:
                pipe.watch(lease_key(shard))
                if self._holds(pipe, shard):
                    pipe.multi()
                    queue(pipe)
                    pipe.execute()
                    return True
            except Exception as exc:
                if type(exc).__name__ != "WatchError":
                    raise
        self.fenced += 1
        self.drop(shard)
        return False

    def run(self, stop: Callable[[], bool]) -> None:
        """Work until ``stop()`` is true, then checkpoint and release the leases."""
        try:
            while not stop():
                self.step()
        finally:
            self.release()
