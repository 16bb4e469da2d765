"""The watch forgets streams that end or outlive the resume window, as the engine does."""

from __future__ import annotations

import asyncio
import json
import time

import httpx
import pytest
import websockets

from cardiostream.serve import ServeConfig
from cardiostream.serve import watch as watch_module
from cardiostream.serve.watch import Watch

from .conftest import TOKEN, start_server

TTL = 300.0


class Clock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    c = Clock()
    monkeypatch.setattr(watch_module.time, "monotonic", c)
    return c


def _abandon(watch: Watch, owner: str, ids: range) -> None:
    for i in ids:
        watch.opened(owner, f"s{i}", 250.0, ("ECG",), 0)
        watch.frame(owner, f"s{i}", [("window", json.dumps({"type": "window", "t_end": 10.0}))])
        watch.left(owner, f"s{i}", ended=False)


def test_abandoned_streams_are_forgotten_after_the_resume_window(clock: Clock) -> None:
    watch = Watch(TTL)
    _abandon(watch, "a", range(2000))
    assert len(watch.streams) == len(watch.disconnected) == 2000
    clock.now += TTL / 2
    watch.opened("a", "s5", 250.0, ("ECG",), 0)  # resumed in time: kept
    _abandon(watch, "a", range(2000, 2010))  # left later: not yet due
    clock.now += TTL / 2 + 1
    # No listing: the next start is enough to forget the 1,999 that are due.
    watch.opened("a", "new", 250.0, ("ECG",), 0)
    assert set(watch.streams) == {("a", "s5"), ("a", "new")} | {
        ("a", f"s{i}") for i in range(2000, 2010)
    }
    assert set(watch.disconnected) == {("a", f"s{i}") for i in range(2000, 2010)}
    clock.now += TTL
    assert [s["stream_id"] for s in watch.listing("a")] == ["new", "s5"]
    assert not watch.disconnected and len(watch.streams) == 2


def test_dashboards_are_told_an_expired_stream_ended(clock: Clock) -> None:
    watch = Watch(TTL)
    dash, _ = watch.subscribe("a")
    _abandon(watch, "a", range(3))
    clock.now += TTL + 1
    watch.listing("a")
    states = []
    while not dash.queue.empty():
        message = json.loads(dash.queue.get_nowait())
        if message["type"] == "stream" and message["stream"]["stream_id"] == "s1":
            states.append(message["stream"]["state"])
    assert states == ["live", "disconnected", "ended"]


def test_a_stream_that_leaves_again_is_timed_from_its_last_leaving(clock: Clock) -> None:
    watch = Watch(TTL)
    _abandon(watch, "a", range(2))
    clock.now += TTL - 1
    _abandon(watch, "a", range(1))  # s0 resumes and leaves again
    clock.now += 2
    watch.listing("a")
    assert set(watch.streams) == set(watch.disconnected) == {("a", "s0")}
    clock.now += TTL
    watch.frame("a", "other", [])  # any frame is enough
    assert not watch.streams and not watch.disconnected


def test_ended_streams_leave_nothing_behind(clock: Clock) -> None:
    watch = Watch(TTL)
    _abandon(watch, "a", range(3))
    for i in range(3):
        watch.opened("a", f"s{i}", 250.0, ("ECG",), 0)
        watch.left("a", f"s{i}", ended=True)
    assert not watch.streams and not watch.disconnected


def test_the_streams_listing_drops_abandoned_ids_after_the_resume_window() -> None:
    config = ServeConfig(tokens=[TOKEN], resume_ttl_s=1.0, batch_wait_ms=1.0)
    server, thread, live = start_server(config)
    headers = {"Authorization": f"Bearer {TOKEN}"}
    try:

        async def abandon(i: int) -> None:
            async with websockets.connect(live.ws + "/v1/stream", additional_headers=headers) as ws:
                await ws.send(json.dumps({"type": "start", "stream_id": f"gone{i}", "fs": 250}))
                await ws.recv()
                await ws.send(json.dumps({"type": "samples", "samples": [0.0] * 250}))
            # Closed without "stop": kept for resume_ttl_s.

        async def go() -> None:
            await asyncio.gather(*(abandon(i) for i in range(20)))

        asyncio.run(go())
        listed = httpx.get(live.url + "/v1/streams", headers=headers).json()["streams"]
        assert {s["stream_id"] for s in listed} == {f"gone{i}" for i in range(20)}
        assert {s["state"] for s in listed} == {"disconnected"}
        time.sleep(1.5)
        assert httpx.get(live.url + "/v1/streams", headers=headers).json()["streams"] == []
    finally:
        server.should_exit = True
        thread.join(10)


def test_an_expired_stream_s_disconnection_lasts_until_it_expired_and_stays_latched(
    clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    from datetime import datetime

    wall = [time.time()]
    monkeypatch.setattr(time, "time", lambda: wall[0])
    began = wall[0]
    watch = Watch(TTL)
    watch.opened("a", "bed", 250.0, ("ECG",), 0, start_time=began)
    watch.frame("a", "bed", [("window", json.dumps({"type": "window", "t_end": 10.0}))])
    wall[0] += 10.0
    watch.left("a", "bed", ended=False)  # the monitor is unplugged; it never comes back
    clock.now += TTL + 1
    wall[0] += TTL + 1
    assert watch.listing("a") == []  # the bed left the ward
    (alarm,) = watch.desk.log("a", stream_id="bed")
    assert alarm["kind"] == "disconnected" and alarm["detail"]["end_reason"] == "expired"
    started = datetime.fromisoformat(alarm["started_at"]).timestamp()
    ended = datetime.fromisoformat(alarm["ended_at"]).timestamp()
    assert abs(started - (began + 10.0)) < 1e-3
    assert abs(ended - wall[0]) < 1e-3  # when the bed was removed, not when it started
    # Nobody acknowledged it: it stays in the active list until someone does.
    assert alarm["state"] == "latched" and not alarm["acknowledged"]
    assert [a["id"] for a in watch.desk.log("a", active=True)] == [alarm["id"]]
    acked = watch.desk.acknowledge("a", alarm["id"], "tech")
    assert acked["state"] == "ended" and acked["acknowledged"]
    assert watch.desk.log("a", active=True) == []
