"""The gateway mode: ``/v1/stream`` appends to Redis, a worker process analyses, the client
gets the single-process messages; the embedded mode is what runs without ``redis``.

One redis-server and one worker serve the module; each test starts its own gateway.
"""

from __future__ import annotations

import json
import subprocess
import threading
from collections.abc import Iterator
from typing import Any

import httpx
import numpy as np
import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from cardiostream.io import read
from cardiostream.samples import sample_path
from cardiostream.serve import ServeConfig, gateway
from cardiostream.serve.redis_bus import ResultReader
from cardiostream.stream.analyze import analyze
from tests.serve.browser import wait_until
from tests.serve.conftest import TOKEN, Live, start_server
from tests.serve.redis_server import redis_server, start_worker, stop

FS = 360.0
AUTH = {"Authorization": f"Bearer {TOKEN}"}
Reply = list[dict[str, Any]]


@pytest.fixture(scope="module")
def redis_url() -> Iterator[str]:
    yield from redis_server()


@pytest.fixture(scope="module")
def worker(redis_url: str) -> Iterator[subprocess.Popen[bytes]]:
    proc = start_worker(redis_url, "0,1", "--lease-s", "1")
    # Drained as it comes: a worker serving the whole module must never block on a full
    # pipe, whatever it logs.
    assert proc.stderr is not None
    drain = threading.Thread(target=proc.stderr.read, daemon=True)
    drain.start()
    yield proc
    stop(proc)
    drain.join(10)


@pytest.fixture(autouse=True)
def patient_replies(monkeypatch: pytest.MonkeyPatch) -> None:
    # A loaded test machine may keep the worker past the usual wait: the tests compare what
    # each reply carries, so they let every frame wait for its worker.
    monkeypatch.setattr(gateway, "PUSH_WAIT_S", 120.0)


@pytest.fixture
def served(request: pytest.FixtureRequest) -> Iterator[Any]:
    """Start servers (``served(config)``) and stop them all after the test."""
    running: list[Any] = []

    def serve(config: ServeConfig) -> Live:
        server, thread, live = start_server(config)
        running.append((server, thread))
        return live

    yield serve
    for server, thread in running:
        server.should_exit = True
        thread.join(30)


def signal(seconds: float) -> np.ndarray:
    return read(sample_path("mitdb-201-af")).lead(0)[: int(seconds * FS)].astype(np.float32)


def frames_of(x: np.ndarray, sizes: list[int]) -> list[np.ndarray]:
    """``x`` cut into frames of the given sizes, in turn."""
    out, n0, k = [], 0, 0
    while n0 < x.shape[0]:
        out.append(x[n0 : n0 + sizes[k % len(sizes)]])
        n0 += sizes[k % len(sizes)]
        k += 1
    return out


def start(sid: str, **extra: Any) -> str:
    return json.dumps({"type": "start", "stream_id": sid, "fs": FS, "format": "float32",
                       "leads": ["MLII"], **extra})  # fmt: skip


def parse(reply: str) -> Reply:
    return [json.loads(line) for line in reply.splitlines()]


def session(
    ws_url: str, first: str, frames: list[np.ndarray], stop_it: bool = True
) -> tuple[dict[str, Any], list[Reply], list[Reply]]:
    """One connection: ``ready``, the replies resent after it (until the first frame's), and
    one reply per frame (and the ``stop``'s)."""
    with connect(f"{ws_url}/v1/stream?token={TOKEN}") as ws:
        ws.send(first)
        ready = json.loads(ws.recv())
        assert ready["type"] == "ready", ready
        resent: list[Reply] = []
        replies: list[Reply] = []
        for frame in frames:
            ws.send(frame.tobytes())
            reply = parse(str(ws.recv()))
            # What a resume resends comes before the first frame's reply: an ack of samples
            # already consumed at ready.
            while not replies and reply[-1]["samples"] <= ready["samples"] and frame.size:
                resent.append(reply)
                reply = parse(str(ws.recv()))
            replies.append(reply)
        if stop_it:
            ws.send(json.dumps({"type": "stop"}))
            replies.append(parse(str(ws.recv())))
    return ready, resent, replies


def wait_disconnected(live: Live, sid: str) -> None:
    def state() -> str:
        listing = httpx.get(f"{live.url}/v1/streams", headers=AUTH).json()["streams"]
        return next((s["state"] for s in listing if s["stream_id"] == sid), "")

    wait_until(lambda: state() == "disconnected", 30, f"{sid} disconnected")


def messages(replies: list[Reply]) -> list[dict[str, Any]]:
    return [m for r in replies for m in r if m["type"] not in ("ack", "end")]


def test_a_stream_through_the_gateway_gets_the_single_process_messages(
    redis_url: str, worker: subprocess.Popen[bytes], served: Any
) -> None:
    x = signal(40)
    reference = json.loads(json.dumps(analyze(x.astype(np.float64), FS).lines))
    live = served(ServeConfig(tokens=[TOKEN], redis=redis_url, redis_shards=2))
    _, _, replies = session(live.ws, start("bed-3"), frames_of(x, [int(FS)]))
    assert replies[-1][-1] == {"type": "end", "samples": x.size}
    assert messages(replies) == reference


def test_each_reply_carries_what_its_frame_produced_as_in_the_embedded_mode(
    redis_url: str, worker: subprocess.Popen[bytes], served: Any
) -> None:
    """Frame by frame (uneven frames, the AF episode's opening and its closing at ``stop``
    included), the gateway's replies are the embedded engine's, line for line."""
    x = signal(45)
    frames = frames_of(x, [90, 360, 45, 500, 180, 1000])
    embedded = served(ServeConfig(tokens=[TOKEN]))
    through = served(ServeConfig(tokens=[TOKEN], redis=redis_url, redis_shards=2))
    _, _, want = session(embedded.ws, start("bed-4"), frames)
    _, _, got = session(through.ws, start("bed-4"), frames)
    kinds = {m["type"] for m in messages(want)}
    assert {"window", "event_open", "event"} <= kinds  # the comparison covers them all
    assert got == want


def test_a_reconnect_resumes_the_stream_and_gets_the_replies_it_missed(
    redis_url: str, worker: subprocess.Popen[bytes], served: Any
) -> None:
    """A client that leaves without ``stop`` and comes back with the same id within
    ``resume_ttl_s`` resumes where it was (same state at the worker: the messages are the
    single-process ones), and the replies after its ``acked`` are sent again."""
    x = signal(50)
    reference = json.loads(json.dumps(analyze(x.astype(np.float64), FS).lines))
    live = served(ServeConfig(tokens=[TOKEN], redis=redis_url, redis_shards=2))
    frames = frames_of(x, [int(FS)])
    ready, _, first = session(live.ws, start("bed-5"), frames[:35], stop_it=False)
    assert not ready["resumed"]
    wait_disconnected(live, "bed-5")
    # The client got the replies up to the 33rd frame's only.
    acked = first[32][-1]["samples"]
    ready, resent, second = session(live.ws, start("bed-5", acked=acked), frames[35:])
    assert ready["resumed"] and ready["samples"] == 35 * int(FS)
    assert resent == first[33:]
    assert messages(first + second) == reference


def test_a_stream_not_resumed_in_time_ends_at_its_worker(
    redis_url: str, worker: subprocess.Popen[bytes], served: Any
) -> None:
    """Past ``resume_ttl_s`` the worker ends the stream (its open AF episode closes, reason
    ``end_of_stream``), and the same id starts afresh."""
    import redis

    x = signal(40)
    reader = ResultReader(redis.Redis.from_url(redis_url), range(2))
    live = served(ServeConfig(tokens=[TOKEN], redis=redis_url, redis_shards=2, resume_ttl_s=1.0))
    _, _, replies = session(live.ws, start("bed-6"), frames_of(x, [int(FS)]), stop_it=False)
    assert [m["type"] for m in messages(replies) if m["type"] != "window"] == ["event_open"]
    closed: list[dict[str, Any]] = []

    def episode_closed() -> bool:
        closed.extend(r.message for r in reader.read(block_ms=200)
                      if r.stream_id.endswith(":bed-6") and r.end and r.message)  # fmt: skip
        return bool(closed)

    wait_until(episode_closed, 60, "the worker ending the stream")
    assert closed[0]["type"] == "event" and closed[0]["reason"] == "end_of_stream"
    ready, _, _ = session(live.ws, start("bed-6"), [])
    assert not ready["resumed"] and ready["samples"] == 0
    reader.redis.close()


def test_the_stream_limit_applies_to_streams_through_redis(
    redis_url: str, worker: subprocess.Popen[bytes], served: Any
) -> None:
    """``max_streams`` turns a new stream away (1013, as the embedded engine does); a
    disconnected one kept for resuming does not count, and its resume is let in."""
    live = served(ServeConfig(tokens=[TOKEN], redis=redis_url, redis_shards=2, max_streams=1))
    url = f"{live.ws}/v1/stream?token={TOKEN}"
    with connect(url) as one:
        one.send(start("one"))
        assert json.loads(one.recv())["type"] == "ready"
        with connect(url) as two:
            two.send(start("two"))
            with pytest.raises(ConnectionClosed) as refused:
                two.recv()
        assert refused.value.rcvd is not None
        assert refused.value.rcvd.code == 1013
        assert refused.value.rcvd.reason == "the server is at its stream limit"
    wait_disconnected(live, "one")
    ready, _, _ = session(live.ws, start("one"), [])
    assert ready["resumed"]


def watched(
    live: Live, sid: str, frames: list[np.ndarray], first: str | None = None
) -> tuple[list[Reply], list[Any]]:
    """Stream ``frames`` (two leads unless ``first`` says otherwise) with a dashboard open:
    the replies, and the display lines the dashboard got."""
    with connect(f"{live.ws}/v1/watch?token={TOKEN}") as dash:
        assert json.loads(dash.recv())["type"] == "streams"  # display lines are on now
        if first is None:
            first = json.dumps({"type": "start", "stream_id": sid, "fs": FS,
                                "format": "float32", "leads": ["MLII", "V1"]})  # fmt: skip
        _, _, replies = session(live.ws, first, frames)
        lines: list[Any] = []
        while len(lines) < len(frames):
            for line in str(dash.recv(timeout=60)).splitlines():
                message = json.loads(line)
                if message["type"] == "display" and message.get("stream_id") == sid:
                    lines.append(message)
    return replies, lines


def test_the_dashboard_gets_the_embedded_display_lines_through_redis(
    redis_url: str, worker: subprocess.Popen[bytes], served: Any
) -> None:
    """A watched two-lead stream: each frame's display line from the gateway (its trace, and
    the R peaks and beat letters from the worker) is the embedded engine's."""
    rec = read(sample_path("mitdb-201-af"))
    x = np.ascontiguousarray(rec.signal[: int(12 * FS)], dtype=np.float32)
    frames = frames_of(x, [90, 180, 45])
    embedded = served(ServeConfig(tokens=[TOKEN]))
    through = served(ServeConfig(tokens=[TOKEN], redis=redis_url, redis_shards=2))
    _, want = watched(embedded, "bed-7", frames)
    _, got = watched(through, "bed-7", frames)
    assert sum(len(line["peaks"]) for line in want) > 10
    assert sum(len(line["beats"]) for line in want) > 10
    assert got == want


def test_a_beats_stream_goes_through_redis_as_in_the_embedded_mode(
    redis_url: str, worker: subprocess.Popen[bytes], served: Any
) -> None:
    """A beat-time stream (an AF episode opens and closes in it) is analysed by a worker:
    frame by frame, the replies and the dashboard's RR display lines are the embedded
    engine's; a beat out of order is refused (1003) as there."""
    from tests.stream.test_beat_stream import af_like_beats

    beats = af_like_beats()
    frames = frames_of(beats, [7, 1, 40, 13])
    first = json.dumps({"type": "start", "stream_id": "strap-1", "format": "beats"})
    embedded = served(ServeConfig(tokens=[TOKEN]))
    through = served(ServeConfig(tokens=[TOKEN], redis=redis_url, redis_shards=2))
    want = watched(embedded, "strap-1", frames, first)
    got = watched(through, "strap-1", frames, first)
    kinds = [m["type"] for m in messages(want[0])]
    assert kinds.count("event_open") == 1 and kinds.count("event") == 1
    assert got == want

    def refused(live: Live) -> tuple[int, str]:
        with connect(f"{live.ws}/v1/stream?token={TOKEN}") as ws:
            ws.send(json.dumps({"type": "start", "stream_id": "strap-2", "format": "beats"}))
            assert json.loads(ws.recv())["type"] == "ready"
            ws.send(beats[5:10].tobytes())
            ws.recv()
            ws.send(beats[:3].tobytes())  # before the last beat
            with pytest.raises(ConnectionClosed) as closed:
                ws.recv()
        assert closed.value.rcvd is not None
        return closed.value.rcvd.code, closed.value.rcvd.reason

    assert refused(through) == refused(embedded)


def test_the_trace_is_kept_through_redis_with_no_dashboard_open(
    redis_url: str, worker: subprocess.Popen[bytes], served: Any
) -> None:
    """No dashboard was ever open: the gateway still draws the analysed lead (and asks the
    worker for its R peaks and beat letters), so the kept trace is the embedded engine's."""
    frames = frames_of(signal(30), [int(FS)])
    traces = []
    for config in (ServeConfig(tokens=[TOKEN]),
                   ServeConfig(tokens=[TOKEN], redis=redis_url, redis_shards=2)):  # fmt: skip
        live = served(config)
        session(live.ws, start("bed-9"), frames, stop_it=False)
        url = f"{live.url}/v1/streams/bed-9/trace"
        traces.append(httpx.get(url, params={"seconds": 120}, headers=AUTH).json())
    want, got = traces
    assert abs(len(want["samples"]) - 30 * 125) <= 130 and len(want["peaks"]) > 20
    assert got == want
