"""Live streams over Redis Streams: the keys, the producer side and the consumer's dedupe.

Layout in Redis
    ``cs:in:{shard}``
        One Redis stream per shard. A stream id goes to shard ``crc32(id) % n_shards`` (stable
        across processes and machines); each entry carries ``sid`` (the stream id), ``ep``
        (the stream's epoch: a new start of the same id has a larger one), ``n0`` (index of
        its first sample), ``fs``, ``fmt`` (``f4``: ``x`` holds little-endian float32
        samples), ``ts`` (append time, ns) and, while a dashboard draws the stream, ``d`` = 1
        (the entry's R peaks and beat letters are wanted); or ``end`` = 1 to end the stream.
        A beat-time stream's entries say ``src`` = ``beats``: ``x`` holds its beat times (s,
        ``fmt`` ``f8``, little-endian float64), ``n0`` counts beats and ``fs`` is 0.
    ``cs:ckpt:{shard}``
        A hash: stream id -> the processor's checkpoint (JSON, :mod:`cardiostream.packing`
        holds its arrays) with the id of the last entry it covers.
    ``cs:lease:{shard}``
        The worker that owns the shard and its fencing token (``name#token``), with an expiry
        the owner keeps renewing.
    ``cs:fence:{shard}``
        A counter: each take of the shard's lease draws the next token from it, so a later
        owner always holds a larger one (``docs/decisions.md``).
    ``cs:out:{shard}``
        The results: each engine message (``window``, ``event_open``, ``event``, ``gap``) as
        its JSON with ``sid``, ``ep``, ``n`` (the stream's sample index after the entry that
        produced it), ``end`` (1 for what ending the stream produced), ``i`` (its place in
        that entry's output), ``k`` (how many messages the entry gave: the last one is whole
        once seen) and ``ts`` (the entry's append time). A *progress marker* has an
        empty ``msg``: the worker publishes one for every entry that produced no message, so
        a consumer learns that the stream was processed up to ``n`` (its ``i`` is the count of
        the entry's messages, 0). An entry that asked for ``d`` has a marker even with
        messages (``i`` after theirs), with ``pk``: the entry's new R peaks and beat letters
        as the dashboards draw them (JSON ``{"peaks": [...], "beats": [...]}``; for a beats
        stream ``{"times": [...], "rr_ms": [...], "af": [...]}``).

Consumer groups give no key affinity, so one Redis stream per shard keeps a patient's
samples in order on one worker. Delivery is at least once: after a takeover the new owner
replays from the checkpoint and publishes some results again, identical to the first copies
and under the same ``(ep, n, end, i)``; :class:`Dedupe` drops them (markers included: the
replay of an entry gives the same messages, so the same marker key).
"""

from __future__ import annotations

import json
import time
import zlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

#: The consumer group every worker reads the shard streams through.
GROUP = "workers"
#: Shards a deployment has unless told otherwise.
DEFAULT_SHARDS = 8
#: Results a shard's result stream keeps at most, approximately (a consumer that falls
#: further behind misses some). Shard streams of samples are never cut by length: their
#: owner trims what its checkpoints cover (:meth:`~cardiostream.serve.worker.Worker.trim`).
MAXLEN = 200_000


def shard_of(stream_id: str, n_shards: int) -> int:
    """The shard of ``stream_id``: stable across processes (``hash()`` is salted)."""
    return zlib.crc32(stream_id.encode()) % n_shards


def in_key(shard: int) -> str:
    """The Redis stream of a shard's samples."""
    return f"cs:in:{shard}"


def out_key(shard: int) -> str:
    """The Redis stream of a shard's results."""
    return f"cs:out:{shard}"


def ckpt_key(shard: int) -> str:
    """The hash of a shard's checkpoints, one field per stream id."""
    return f"cs:ckpt:{shard}"


def lease_key(shard: int) -> str:
    """The key naming the worker that owns a shard."""
    return f"cs:lease:{shard}"


def fence_key(shard: int) -> str:
    """The counter of a shard's fencing tokens."""
    return f"cs:fence:{shard}"


def parse_shards(text: str) -> list[int]:
    """``"0,1,3"`` as shard numbers.

    Raises
    ------
    ValueError
        If an item is not a whole number of at least 0, or the list is empty.
    """
    try:
        shards = sorted({int(s) for s in text.split(",") if s.strip()})
    except ValueError:
        raise ValueError(f"shards: expected numbers separated by commas, got {text!r}") from None
    if not shards or shards[0] < 0:
        raise ValueError(f"shards: expected numbers of at least 0, got {text!r}")
    return shards


class Producer:
    """Appends live streams' samples to their shards (what the gateway's ingest does).

    Parameters
    ----------
    redis : redis.Redis
        A client (``decode_responses`` off).
    n_shards : int
        Shards of the deployment: every producer and the workers must agree on it.
    """

    def __init__(self, redis: Any, n_shards: int = DEFAULT_SHARDS) -> None:
        if n_shards < 1:
            raise ValueError(f"n_shards: expected at least 1, got {n_shards}")
        self.redis = redis
        self.n_shards = n_shards

    def fields(
        self,
        stream_id: str,
        epoch: int,
        n0: int,
        fs: float,
        samples: npt.ArrayLike,
        marks: bool = False,
        source: str = "ecg",
        timing: str = "ecg",
    ) -> dict[str, Any]:
        """One entry's fields for ``samples`` (mV) starting at sample ``n0``; ``marks`` asks
        for the entry's R peaks and beat letters (for a dashboard). A ``beats`` stream's
        samples are beat times (s), kept as float64: float32 would round them to the
        millisecond within hours; its ``timing`` (``pulse``: a pulse sensor's) picks the
        worker's AF model."""
        fmt = "f8" if source == "beats" else "f4"
        x = np.ascontiguousarray(samples, dtype=f"<{fmt}").ravel()
        fields = {"sid": stream_id, "ep": epoch, "n0": n0, "fs": repr(float(fs)), "fmt": fmt,
                  "x": x.tobytes(), "ts": time.time_ns()}  # fmt: skip
        if source != "ecg":
            fields["src"] = source
        if timing != "ecg":
            fields["tm"] = timing
        if marks:
            fields["d"] = 1
        return fields

    def append(
        self,
        stream_id: str,
        epoch: int,
        n0: int,
        fs: float,
        samples: npt.ArrayLike,
        marks: bool = False,
        source: str = "ecg",
        timing: str = "ecg",
    ) -> bytes:
        """Append one chunk; returns the entry id."""
        shard = shard_of(stream_id, self.n_shards)
        fields = self.fields(stream_id, epoch, n0, fs, samples, marks, source, timing)
        return bytes(self.redis.xadd(in_key(shard), fields))

    def end(self, stream_id: str, epoch: int) -> bytes:
        """End a stream: its worker flushes it (closing an open episode) and forgets it."""
        shard = shard_of(stream_id, self.n_shards)
        fields = {"sid": stream_id, "ep": epoch, "end": 1, "ts": time.time_ns()}
        return bytes(self.redis.xadd(in_key(shard), fields))


@dataclass(frozen=True)
class Result:
    """One engine message as a worker published it, or a progress marker (``message``
    None)."""

    stream_id: str
    epoch: int
    n: int  # the stream's sample index after the entry that produced it
    end: bool  # produced by ending the stream
    i: int  # its place in that entry's output
    ts: int  # the entry's append time, ns since the epoch
    message: dict[str, Any] | None
    marks: dict[str, Any] | None = None  # a marker's R peaks and beat letters, if asked
    last: bool = True  # the last of its entry's output (a marker always is)

    @property
    def key(self) -> tuple[int, int, int, int]:
        """Where the message stands in its stream: replays repeat keys, never reorder them."""
        return (self.epoch, self.n, int(self.end), self.i)

    @classmethod
    def from_fields(cls, fields: Mapping[bytes, bytes]) -> Result:
        """A result from a ``cs:out`` entry's fields."""
        msg, marks, i = fields[b"msg"], fields.get(b"pk"), int(fields[b"i"])
        k = int(fields.get(b"k", i + 1))
        return cls(fields[b"sid"].decode(), int(fields[b"ep"]), int(fields[b"n"]),
                   fields[b"end"] == b"1", i, int(fields[b"ts"]),
                   json.loads(msg) if msg else None,
                   json.loads(marks) if marks else None, i + 1 >= k)  # fmt: skip


def result_fields(
    stream_id: str,
    epoch: int,
    n: int,
    end: bool,
    i: int,
    ts: int,
    line: str,
    marks: str | None = None,
    k: int | None = None,
) -> dict[str, Any]:
    """A ``cs:out`` entry's fields (``line``: the message's JSON, empty for a progress
    marker; ``marks``: a marker's R peaks and beat letters, as JSON; ``k``: the messages
    of the entry, for a message)."""
    fields = {"sid": stream_id, "ep": epoch, "n": n, "end": int(end), "i": i, "ts": ts,
              "msg": line}  # fmt: skip
    if k is not None:
        fields["k"] = k
    if marks is not None:
        fields["pk"] = marks
    return fields


class Dedupe:
    """Drops results delivered again after a takeover: keeps, per stream id, the key of the
    last result passed on, and passes a result only if its key is later.

    A stream's results reach its shard's result stream in order (one owner at a time), and a
    replay publishes the same messages under the same keys, so a high-water mark per stream
    id is all it needs.
    """

    def __init__(self) -> None:
        self._mark: dict[str, tuple[int, int, int, int]] = {}

    def accept(self, result: Result) -> bool:
        """Whether ``result`` is new (and, if so, remember it)."""
        mark = self._mark.get(result.stream_id)
        if mark is not None and result.key <= mark:
            return False
        self._mark[result.stream_id] = result.key
        return True

    def forget(self, stream_id: str) -> None:
        """Drop a stream's mark (it ended and nothing more of its epoch is wanted)."""
        self._mark.pop(stream_id, None)


class ResultReader:
    """Follows shards' result streams from now (or from ``start``) and yields new results.

    Parameters
    ----------
    redis : redis.Redis
        A client (``decode_responses`` off).
    shards : iterable of int
        The shards to follow.
    start : str
        ``$`` (results published from now on) or ``0`` (everything still kept).
    """

    def __init__(self, redis: Any, shards: Iterable[int], start: str = "$") -> None:
        self.redis = redis
        self.dedupe = Dedupe()
        self._last: dict[str, bytes | str] = {out_key(s): start for s in shards}
        if start == "$":
            # "$" in every XREAD would mean "after whatever is last at this call": a result
            # landing between two reads on a shard that has had none since would be missed.
            # Anchored once, at the id last now, each read goes on from where the last left.
            for key in self._last:
                tail = redis.xrevrange(key, count=1)
                self._last[key] = tail[0][0] if tail else "0-0"
        #: Messages dropped as copies (markers are not counted).
        self.duplicates = 0

    def read(self, block_ms: int = 200, count: int = 1000, markers: bool = False) -> list[Result]:
        """The new results (duplicates dropped), waiting up to ``block_ms`` for the first;
        progress markers among them only with ``markers``."""
        reply = self.redis.xread(self._last, count=count, block=block_ms) or []
        out: list[Result] = []
        for key, entries in reply:
            name = key.decode() if isinstance(key, bytes) else key
            for entry_id, fields in entries:
                self._last[name] = entry_id
                result = Result.from_fields(fields)
                if self.dedupe.accept(result):
                    if markers or result.message is not None:
                        out.append(result)
                elif result.message is not None:
                    self.duplicates += 1
        return out
