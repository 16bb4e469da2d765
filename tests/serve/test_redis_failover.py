"""A worker killed with SIGKILL mid-episode: another takes its shards over, and the consumer
sees exactly the single-process messages, each once (real redis-server, real processes). A
worker that stalls past its lease cannot write over its successor's checkpoint (fencing)."""

from __future__ import annotations

import json
import signal as signals
import time
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pytest

from cardiostream.io import read
from cardiostream.samples import sample_path
from cardiostream.serve.redis_bus import (
    GROUP,
    Producer,
    Result,
    ResultReader,
    ckpt_key,
    fence_key,
    in_key,
    lease_key,
    shard_of,
)
from cardiostream.serve.worker import Worker
from cardiostream.stream.analyze import analyze
from tests.serve.redis_server import redis_server, start_worker, stop

FS = 360.0
SID = "bed-12"
N_SHARDS = 2
WORKER = ("--checkpoint-s", "10", "--lease-s", "1")


@pytest.fixture
def redis_url() -> Iterator[str]:
    yield from redis_server()


def recording() -> np.ndarray:
    """Two minutes of AF, then one of sinus rhythm: the episode opens at ~29 s, closes at
    ~133 s."""
    af = read(sample_path("mitdb-201-af")).lead(0)
    nsr = read(sample_path("mitdb-100-nsr")).lead(0)
    return np.concatenate([af, af, nsr]).astype(np.float32)


def wait_for(
    reader: ResultReader, seen: list[Result], done: Callable[[], bool], what: str, workers: list
) -> None:
    deadline = time.monotonic() + 180
    while not done():
        for proc in workers:
            if proc.poll() is not None:
                raise AssertionError(f"worker exited: {proc.stderr.read().decode()[-2000:]}")
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}; last: {seen[-1:]}")
        seen += reader.read(block_ms=200)


def drain(worker: Worker) -> None:
    """Let an in-process worker take every entry there is."""
    while worker.step(block_ms=1):
        pass


def window_at(seen: list[Result], t_end: float) -> bool:
    return any(r.message["type"] == "window" and r.message["t_end"] == t_end for r in seen)


def test_a_killed_worker_loses_nothing_and_repeats_nothing(redis_url: str) -> None:
    import redis

    x = recording()
    reference: list[dict[str, Any]] = json.loads(
        json.dumps(analyze(x.astype(np.float64), FS).lines)
    )
    assert [m["type"] for m in reference if m["type"] != "window"] == ["event_open", "event"]
    client = redis.Redis.from_url(redis_url)
    producer = Producer(client, N_SHARDS)
    reader = ResultReader(client, range(N_SHARDS), start="0")
    shard = shard_of(SID, N_SHARDS)
    seen: list[Result] = []
    second = None

    def feed(start_s: int, stop_s: int) -> None:
        for s in range(start_s, stop_s):
            n0 = int(s * FS)
            producer.append(SID, 1, n0, FS, x[n0 : n0 + int(FS)])

    first = start_worker(redis_url, "0,1", *WORKER)
    try:
        feed(0, 45)
        wait_for(reader, seen, lambda: window_at(seen, 45.0), "the window ending at 45 s",
                 [first])  # fmt: skip
        assert any(r.message["type"] == "event_open" for r in seen)
        # Checkpoints fall at 10, 20, ..., 50 s of signal: five entries stay pending.
        feed(45, 55)
        wait_for(reader, seen, lambda: window_at(seen, 55.0), "the window ending at 55 s",
                 [first])  # fmt: skip
        assert client.xpending(in_key(shard), GROUP)["pending"] == 5
        first.send_signal(signals.SIGKILL)
        first.wait(timeout=30)
        assert not any(r.message["type"] == "event" for r in seen)  # mid-episode

        feed(55, 120)  # nobody is reading: it waits in the shard's stream
        second = start_worker(redis_url, "0,1", *WORKER)
        feed(120, int(x.size // FS))
        producer.end(SID, 1)
        wait_for(reader, seen, lambda: len(seen) >= len(reference), "every message",
                 [second])  # fmt: skip
        seen += reader.read(block_ms=500)  # anything extra would show here
    finally:
        stop(first)
        if second is not None:
            stop(second)
        client.close()
    assert reader.duplicates >= 5  # the replay of the five pending entries was published
    got = [r.message for r in seen]
    windows = [m for m in got if m["type"] == "window"]
    assert [w["t_end"] for w in windows] == sorted({w["t_end"] for w in windows})
    assert got == reference


def test_a_stalled_owner_cannot_write_over_its_successors_checkpoint(redis_url: str) -> None:
    """Worker A owns the shard; its lease lapses (as when A is paused past it), B takes the
    shard over with a larger fencing token and checkpoints; A's next checkpoint is refused,
    leaves B's intact, and A drops the shard."""
    import redis

    x = recording()[: int(12 * FS)]
    client = redis.Redis.from_url(redis_url)
    producer = Producer(client, 1)

    def feed(start_s: int, stop_s: int) -> None:
        for s in range(start_s, stop_s):
            producer.append(SID, 1, int(s * FS), FS, x[int(s * FS) : int((s + 1) * FS)])

    a = Worker(redis.Redis.from_url(redis_url), [0], name="A", checkpoint_s=2.0)
    b = Worker(redis.Redis.from_url(redis_url), [0], name="B", checkpoint_s=2.0)
    try:
        feed(0, 5)
        drain(a)  # checkpoints at 2 and 4 s; the fifth second is not in one yet
        assert a.owned.keys() == {0} and a.streams[SID].unacked
        token_a = a.tokens[0]
        assert client.get(lease_key(0)) == f"A#{token_a}".encode()

        client.delete(lease_key(0))  # A's lease lapses while A stands still
        feed(5, 8)
        drain(b)  # B takes over (restores 4 s, replays the rest), checkpoints at 8 s
        b.checkpoint(force=True)
        assert b.tokens[0] > token_a
        assert client.get(lease_key(0)) == f"B#{b.tokens[0]}".encode()
        assert int(client.get(fence_key(0))) == b.tokens[0]
        successor = client.hget(ckpt_key(0), SID)
        assert json.loads(successor)["consumed"] == int(8 * FS)

        # A wakes and writes the checkpoint that fell due while it stood still.
        assert a.checkpoint(force=True) == 0
        assert a.fenced == 1
        assert a.owned == {} and a.streams == {}
        assert client.hget(ckpt_key(0), SID) == successor
        assert client.xpending(in_key(0), GROUP)["pending"] == 0  # B's acks stand
        assert a.step(block_ms=1) == 0  # the lease is B's: A reads nothing
        assert a.owned == {} and b.owned.keys() == {0}
    finally:
        for worker in (a, b):
            worker.redis.close()
        client.close()


def test_a_pulse_timed_beats_stream_keeps_its_model_across_a_worker_takeover(
    redis_url: str,
) -> None:
    """A beats stream timed by a pulse sensor: the worker judges it with the pulse model,
    checkpoints its timing, and the worker that takes the shard over restores the stream
    with the same model: the messages are the offline pulse model's, each once."""
    import redis

    from cardiostream.stream.beat_stream import beat_stream_messages
    from tests.stream.test_beat_stream import pulse_timed_beats

    t = pulse_timed_beats()
    want = json.loads(json.dumps(beat_stream_messages(t, timing="pulse")))
    assert want != json.loads(json.dumps(beat_stream_messages(t)))
    client = redis.Redis.from_url(redis_url)
    producer = Producer(client, 1)
    reader = ResultReader(client, [0], start="0")

    def feed(lo: int, hi: int) -> None:
        for i in range(lo, hi, 20):
            chunk = t[i : min(i + 20, hi)]
            producer.append("watch-9", 1, i, 0.0, chunk, source="beats", timing="pulse")

    a = Worker(redis.Redis.from_url(redis_url), [0], name="A", checkpoint_s=100.0)
    b = Worker(redis.Redis.from_url(redis_url), [0], name="B", checkpoint_s=100.0)
    try:
        feed(0, 330)  # into the AF, its episode open
        drain(a)
        assert a.streams["watch-9"].processor.timing == "pulse"  # type: ignore[union-attr]
        assert json.loads(client.hget(ckpt_key(0), "watch-9"))["timing"] == "pulse"
        client.delete(lease_key(0))  # A is gone mid-stream
        feed(330, t.size)
        producer.end("watch-9", 1)
        drain(b)  # restores A's last checkpoint, replays the rest
        b.checkpoint(force=True)
        got = [r.message for r in reader.read(block_ms=500, count=10_000)]
    finally:
        for worker in (a, b):
            worker.redis.close()
        client.close()
    assert got == want
