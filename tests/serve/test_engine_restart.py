"""An engine killed mid-stream comes back with every stream: nothing lost, nothing doubled."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import websockets

from cardiostream.io import ParquetStore
from cardiostream.serve import ServeConfig
from cardiostream.stream.processor import StreamProcessor

from .conftest import TOKEN, Live, start_server
from .test_app import AF, SIGNAL

AUTH = {"Authorization": f"Bearer {TOKEN}"}
N_STREAMS = 50
FRAME = 180  # 0.5 s at 360 Hz
N_FRAMES = 64  # 32 s per stream: three windows' worth of checkpoints, and events
OFFSETS = [int(k * 97 * AF.fs) % (SIGNAL.size - FRAME * N_FRAMES) for k in range(5)]


def _signal(i: int) -> np.ndarray:
    lo = OFFSETS[i % len(OFFSETS)]
    return SIGNAL[lo : lo + FRAME * N_FRAMES].astype(np.float32)


def _expected(x: np.ndarray) -> list[dict[str, Any]]:
    """What one uninterrupted processor gives for the same frames, then a flush."""
    proc = StreamProcessor(AF.fs)
    out: list[Any] = []
    for k in range(N_FRAMES):
        out += proc.push(x[k * FRAME : (k + 1) * FRAME].astype(np.float64))
    out += proc.flush()
    return json.loads(json.dumps(out))


async def _patient(live: Live, i: int, killed: asyncio.Event, at: int) -> dict[str, Any]:
    x = _signal(i)
    got: list[dict[str, Any]] = []
    async with websockets.connect(
        live.ws + "/v1/stream", additional_headers=AUTH, open_timeout=30
    ) as ws:
        await ws.send(json.dumps({"type": "start", "stream_id": f"bed{i:02d}", "fs": AF.fs}))
        json.loads(await ws.recv())
        acked = 0
        for k in range(N_FRAMES):
            if k == at:
                await killed.wait()  # every stream has frames acknowledged before the kill
            await ws.send(x[k * FRAME : (k + 1) * FRAME].tobytes())
            lines = [json.loads(line) for line in (await ws.recv(decode=False)).split(b"\n")]
            ack = lines.pop()
            assert ack == {"type": "ack", "samples": acked + FRAME}
            acked = ack["samples"]
            got += lines
        await ws.send(json.dumps({"type": "stop"}))
        end: list[dict[str, Any]] = []
        try:
            while True:
                end += [json.loads(line) for line in (await ws.recv()).split("\n")]
        except websockets.ConnectionClosed:
            pass
    assert end[-1] == {"type": "end", "samples": FRAME * N_FRAMES}
    return {"objects": got + end[:-1], "acked": acked}


def test_an_engine_killed_mid_stream_loses_no_window_event_or_sample(tmp_path: Path) -> None:
    config = ServeConfig(tokens=[TOKEN], store=tmp_path, record=True, checkpoint_s=3.0,
                         record_part_s=12.0, batch_wait_ms=2.0)  # fmt: skip
    server, thread, live = start_server(config)
    batcher: Any = live.app.state.batcher  # type: ignore[attr-defined]
    health: list[int] = []
    old_pid = [0]

    async def run() -> list[dict[str, Any]]:
        killed = asyncio.Event()
        # Streams pause at different frames, so the kill finds them at every distance from
        # their last checkpoint (some in a recording part's first seconds, some near its end).
        tasks = [
            asyncio.create_task(_patient(live, i, killed, at=7 + (i * 5) % 40))
            for i in range(N_STREAMS)
        ]
        await asyncio.sleep(0)
        async with httpx.AsyncClient() as http:
            while batcher.ledger.entries.__len__() < N_STREAMS:
                await asyncio.sleep(0.05)
            await asyncio.sleep(1.0)  # frames in flight, checkpoints taken
            old = old_pid[0] = batcher.engine_pid
            os.kill(old, signal.SIGKILL)  # as an out-of-memory kill would
            killed.set()
            deadline = time.monotonic() + 300
            while True:
                r = await http.get(live.url + "/healthz")
                health.append(r.status_code)
                if r.status_code == 200 and 503 in health:
                    break
                assert time.monotonic() < deadline, "the engine did not come back"
                await asyncio.sleep(0.05)
        return await asyncio.gather(*tasks)

    try:
        results = asyncio.run(run())
        # /healthz said degraded (at the first poll the kill may not have landed yet), then
        # ok once the engine was back.
        assert 503 in health[:20] and health[-1] == 200
        assert batcher.engine_pid != old_pid[0]
        metrics = httpx.get(live.url + "/metrics", headers=AUTH).text
        assert "cardiostream_engine_restarts_total 1.0" in metrics
    finally:
        server.should_exit = True
        thread.join(30)

    expected = {i: _expected(_signal(i)) for i in range(len(OFFSETS))}
    for i, result in enumerate(results):
        want = expected[i % len(OFFSETS)]
        assert [o["type"] for o in want].count("window") >= 2
        assert result["objects"] == want, f"stream bed{i:02d} differs from an unbroken run"

    # Every acknowledged sample is in the recordings, once, in order.
    store = ParquetStore(tmp_path)
    for i in range(N_STREAMS):
        parts = sorted(r for r in store.ids() if f"-bed{i:02d}-" in r)
        signal_ = np.concatenate([store.read(r).lead(0) for r in parts])
        np.testing.assert_array_equal(signal_, _signal(i), err_msg=f"bed{i:02d}")
    assert not (tmp_path / ".live").exists()


def test_a_reply_the_client_missed_is_given_when_it_resumes() -> None:
    server, thread, live = start_server(ServeConfig(tokens=[TOKEN]))
    x = SIGNAL[:15000].astype("<f4")
    start = json.dumps({"type": "start", "stream_id": "bed9", "fs": AF.fs})

    async def run() -> tuple[dict[str, Any], list[dict[str, Any]]]:
        ws = await websockets.connect(live.ws + "/v1/stream", additional_headers=AUTH)
        await ws.send(start)
        await ws.recv()
        await ws.send(x[:5000].tobytes())
        await ws.recv()
        await ws.send(x[5000:].tobytes())
        ws.transport.abort()  # gone while its 28 s frame is analysed
        await asyncio.sleep(0.5)
        async with websockets.connect(live.ws + "/v1/stream", additional_headers=AUTH) as again:
            await again.send(start)
            ready = json.loads(await again.recv())
            missed = [json.loads(line) for line in (await again.recv()).split("\n")]
        return ready, missed

    try:
        ready, missed = asyncio.run(run())
    finally:
        server.should_exit = True
        thread.join(10)
    assert ready["resumed"] and ready["samples"] == 15000
    assert missed[-1] == {"type": "ack", "samples": 15000}
    proc = StreamProcessor(AF.fs)
    proc.push(x[:5000].astype(np.float64))
    want = json.loads(json.dumps(proc.push(x[5000:].astype(np.float64))))
    assert missed[:-1] == want


def test_streams_the_engine_drops_leave_the_listing_too() -> None:
    server, thread, live = start_server(ServeConfig(tokens=[TOKEN], max_streams=2))
    frame = SIGNAL[:360].astype("<f4").tobytes()

    async def visit(stream_id: str, stay: bool = False) -> None:
        ws = await websockets.connect(live.ws + "/v1/stream", additional_headers=AUTH)
        await ws.send(json.dumps({"type": "start", "stream_id": stream_id, "fs": AF.fs}))
        await ws.recv()
        await ws.send(frame)
        await ws.recv()
        if not stay:
            await ws.close()  # dropped without stop: kept for resuming, up to the limit
            await asyncio.sleep(0.2)

    async def run() -> set[str]:
        for i in range(5):
            await visit(f"s{i}")
        await visit("probe", stay=True)
        r = httpx.get(live.url + "/v1/streams", headers=AUTH)
        return {s["stream_id"] for s in r.json()["streams"]}

    try:
        listed = asyncio.run(run())
    finally:
        server.should_exit = True
        thread.join(10)
    # The engine keeps the two most recent dropped ids; the listing shows what it keeps.
    assert listed == {"s3", "s4", "probe"}


def test_a_dashboard_keeps_drawing_after_an_engine_restart() -> None:
    server, thread, live = start_server(ServeConfig(tokens=[TOKEN]))
    batcher: Any = live.app.state.batcher  # type: ignore[attr-defined]
    x = SIGNAL[: int(20 * AF.fs)].astype("<f4")
    step = int(AF.fs)

    async def run() -> list[float]:
        watch = await websockets.connect(f"{live.ws}/v1/watch?token={TOKEN}")
        await watch.recv()  # the streams listing
        ws = await websockets.connect(live.ws + "/v1/stream", additional_headers=AUTH)
        await ws.send(json.dumps({"type": "start", "stream_id": "bed1", "fs": AF.fs}))
        await ws.recv()
        for k in range(20):
            if k == 10:
                os.kill(batcher.engine_pid, signal.SIGKILL)
            await ws.send(x[k * step : (k + 1) * step].tobytes())
            await ws.recv()
        drawn: list[float] = []
        with contextlib.suppress(TimeoutError):
            while True:
                for line in (await asyncio.wait_for(watch.recv(), 2.0)).split("\n"):
                    item = json.loads(line)
                    if item["type"] == "display":
                        drawn.append(item["t"])
        await ws.close()
        await watch.close()
        return drawn

    try:
        drawn = asyncio.run(run())
    finally:
        server.should_exit = True
        thread.join(10)
    # Every second was drawn, those after the restart included.
    assert len(drawn) == 20 and max(drawn) > 18.0


def test_a_client_that_says_its_last_ack_gets_every_reply_after_it() -> None:
    server, thread, live = start_server(ServeConfig(tokens=[TOKEN]))
    x = SIGNAL[:15000].astype("<f4")
    start = {"type": "start", "stream_id": "bed8", "fs": AF.fs}

    async def resume(acked: int | None) -> list[str]:
        async with websockets.connect(live.ws + "/v1/stream", additional_headers=AUTH) as ws:
            await ws.send(json.dumps(start | ({} if acked is None else {"acked": acked})))
            json.loads(await ws.recv())
            got: list[str] = []
            with contextlib.suppress(TimeoutError):
                while True:
                    got.append(await asyncio.wait_for(ws.recv(), 1.0))
            return got

    async def run() -> tuple[list[str], list[str]]:
        async with websockets.connect(live.ws + "/v1/stream", additional_headers=AUTH) as ws:
            await ws.send(json.dumps(start))
            await ws.recv()
            await ws.send(x[:5000].tobytes())
            await ws.recv()
            await ws.send(x[5000:].tobytes())
            await asyncio.sleep(1.0)  # its reply was sent, and never read
        silent = await resume(None)  # the server cannot know the client lost it
        told = await resume(5000)
        return silent, told

    try:
        silent, told = asyncio.run(run())
    finally:
        server.should_exit = True
        thread.join(10)
    assert silent == []
    (reply,) = told
    lines = [json.loads(line) for line in reply.split("\n")]
    assert lines[-1] == {"type": "ack", "samples": 15000}
    proc = StreamProcessor(AF.fs)
    proc.push(x[:5000].astype(np.float64))
    assert lines[:-1] == json.loads(json.dumps(proc.push(x[5000:].astype(np.float64))))
