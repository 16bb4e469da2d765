"""The Redis bus, the worker's checkpoints and takeover, and the dedupe, on fakeredis."""

from __future__ import annotations

import json
import zlib
from typing import Any

import fakeredis
import numpy as np
import pytest

from cardiostream.io import read
from cardiostream.samples import sample_path
from cardiostream.serve.redis_bus import (
    GROUP,
    Dedupe,
    Producer,
    Result,
    ResultReader,
    ckpt_key,
    in_key,
    lease_key,
    parse_shards,
    shard_of,
)
from cardiostream.serve.worker import Worker
from cardiostream.stream.beat_stream import BeatStreamProcessor
from cardiostream.stream.processor import StreamProcessor

FS = 360.0


@pytest.fixture(scope="module")
def signal() -> np.ndarray:
    x = read(sample_path("mitdb-201-af")).lead(0)[: int(45 * FS)]
    return x.astype(np.float32)


@pytest.fixture(scope="module")
def reference(signal: np.ndarray) -> list[dict[str, Any]]:
    proc = StreamProcessor(FS)
    out = proc.push(signal.astype(np.float64))
    out += proc.flush()
    return json.loads(json.dumps(out))


def feed(producer: Producer, sid: str, x: np.ndarray, start: int, stop: int) -> None:
    for n0 in range(start, stop, int(FS)):
        producer.append(sid, 1, n0, FS, x[n0 : min(n0 + int(FS), stop)])


def drain(worker: Worker) -> None:
    while worker.step(block_ms=1):
        pass


def test_shards_are_stable_and_parsed() -> None:
    assert shard_of("patient-7", 8) == zlib.crc32(b"patient-7") % 8
    assert {shard_of(f"p{i}", 4) for i in range(100)} == {0, 1, 2, 3}
    assert shard_of("abc", 5) == shard_of("abc", 5)
    assert parse_shards("3,0, 1") == [0, 1, 3]
    for bad in ("", "a", "-1"):
        with pytest.raises(ValueError, match="shards"):
            parse_shards(bad)


def test_dedupe_drops_repeats_and_older_keys() -> None:
    def r(n: int, i: int = 0, end: bool = False, ep: int = 1, sid: str = "a") -> Result:
        return Result(sid, ep, n, end, i, 0, {})

    d = Dedupe()
    assert [d.accept(x) for x in (r(360), r(360, 1), r(360), r(360, 1), r(720))] == [
        True, True, False, False, True]  # fmt: skip
    assert d.accept(r(720, 0, end=True)) and not d.accept(r(720, 0))
    assert d.accept(r(0, ep=2)) and not d.accept(r(99_999, ep=1))
    assert d.accept(r(0, sid="b"))


def test_worker_gives_the_single_process_messages(
    signal: np.ndarray, reference: list[dict[str, Any]]
) -> None:
    server = fakeredis.FakeServer()
    client = fakeredis.FakeRedis(server=server)
    producer = Producer(client, n_shards=2)
    shard = shard_of("p1", 2)
    reader = ResultReader(client, [0, 1], start="0")
    worker = Worker(client, [0, 1], name="w1", checkpoint_s=5.0)
    feed(producer, "p1", signal, 0, signal.size)
    producer.end("p1", 1)
    drain(worker)
    got = [r.message for r in reader.read(block_ms=1, count=10_000)]
    assert got == reference
    # Ended: the checkpoint is gone and every entry is acknowledged.
    assert client.hget(ckpt_key(shard), "p1") is None
    assert client.xpending(in_key(shard), GROUP)["pending"] == 0


def test_checkpoint_and_acknowledgement_go_together(signal: np.ndarray) -> None:
    client = fakeredis.FakeRedis()
    producer = Producer(client, n_shards=1)
    worker = Worker(client, [0], name="w1", checkpoint_s=10.0)
    feed(producer, "p1", signal, 0, int(25 * FS))
    drain(worker)
    ckpt = json.loads(client.hget(ckpt_key(0), "p1"))
    assert ckpt["consumed"] == int(20 * FS)
    # Acknowledged: exactly the entries up to the checkpoint's; pending: the 5 after it.
    pending = client.xpending_range(in_key(0), GROUP, min="-", max="+", count=100)
    assert len(pending) == 5
    ids = [e[0] for e in client.xrange(in_key(0))]
    assert ids[19].decode() == ckpt["last_id"]
    assert [p["message_id"] for p in pending] == ids[20:]


def test_takeover_replays_after_the_checkpoint_and_the_consumer_sees_each_once(
    signal: np.ndarray, reference: list[dict[str, Any]]
) -> None:
    server = fakeredis.FakeServer()
    producer = Producer(fakeredis.FakeRedis(server=server), n_shards=1)
    reader = ResultReader(fakeredis.FakeRedis(server=server), [0], start="0")
    first = Worker(fakeredis.FakeRedis(server=server), [0], name="w1", checkpoint_s=10.0)
    feed(producer, "p1", signal, 0, int(27 * FS))
    drain(first)
    seen = reader.read(block_ms=1, count=10_000)
    # The first worker dies (its state is lost) and its lease lapses.
    del first
    server_client = fakeredis.FakeRedis(server=server)
    server_client.delete(lease_key(0))
    feed(producer, "p1", signal, int(27 * FS), signal.size)
    producer.end("p1", 1)
    second = Worker(fakeredis.FakeRedis(server=server), [0], name="w2", checkpoint_s=10.0)
    drain(second)
    seen += reader.read(block_ms=1, count=10_000)
    assert reader.duplicates == 7  # the windows ending at 21..27 s, published twice
    assert [r.message for r in seen] == reference
    assert server_client.xpending(in_key(0), GROUP)["pending"] == 0


def test_a_worker_leaves_a_shard_it_does_not_hold(signal: np.ndarray) -> None:
    client = fakeredis.FakeRedis()
    client.set(lease_key(0), "someone-else", px=60_000)
    producer = Producer(client, n_shards=1)
    worker = Worker(client, [0], name="w1")
    feed(producer, "p1", signal, 0, int(3 * FS))
    assert worker.step(block_ms=1) == 0
    assert worker.owned == {}


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (["--redis", "redis://127.0.0.1:1", "--shards", "x"], "--shards"),
        (["--redis", "nope", "--shards", "0"], "--redis"),
        (["--redis", "redis://127.0.0.1:1", "--shards", "0", "--lease-s", "0"], "--lease-s"),
        (["--redis", "redis://127.0.0.1:1", "--shards", "0", "--af-min-s", "-1"], "--af-min-s"),
    ],
)
def test_the_worker_command_refuses_bad_input_in_one_line(args: list[str], said: str) -> None:
    from typer.testing import CliRunner

    from cardiostream.cli import app

    result = CliRunner().invoke(app, ["worker", *args])
    assert result.exit_code == 2
    assert said in result.output and "Traceback" not in result.output


def test_the_owner_trims_only_what_checkpoints_cover(signal: np.ndarray) -> None:
    client = fakeredis.FakeRedis()
    producer = Producer(client, n_shards=1)
    worker = Worker(client, [0], name="w1", checkpoint_s=10.0)
    feed(producer, "p1", signal, 0, int(25 * FS))
    drain(worker)
    ids = [e[0] for e in client.xrange(in_key(0))]
    worker.trim()
    assert [e[0] for e in client.xrange(in_key(0))] == ids[20:]  # the five pending stay
    worker.checkpoint(force=True)
    worker.trim()
    assert client.xlen(in_key(0)) == 0
    feed(producer, "p1", signal, int(25 * FS), int(26 * FS))  # not yet read: kept
    worker.trim()
    assert client.xlen(in_key(0)) == 1


def test_a_worker_gives_its_streams_the_shortest_af_event() -> None:
    from cardiostream.stream.events import EventConfig

    worker = Worker(fakeredis.FakeRedis(), [0], name="w1", af_min_s=12.0)
    ecg = worker._processor("ecg", FS)
    beats = worker._processor("beats", 0.0)
    assert isinstance(ecg, StreamProcessor) and isinstance(beats, BeatStreamProcessor)
    assert ecg.event_config.min_duration_s == beats.tracker.config.min_duration_s == 12.0
    default = Worker(fakeredis.FakeRedis(), [0], name="w2")._processor("ecg", FS)
    assert isinstance(default, StreamProcessor)
    assert default.event_config.min_duration_s == EventConfig().min_duration_s
