"""Alarms on the server: raised from a real AF record, lead-off as its own technical alarm,
acknowledgement, silence, pause and limits over REST, and a log that survives a restart."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import websockets

from cardiostream import read
from cardiostream.samples import sample_path
from cardiostream.serve import ServeConfig
from cardiostream.serve.alarms import AlarmDesk
from cardiostream.sim.simulator import Simulator

from .conftest import OTHER, TOKEN, Live, start_server
from .test_watch import _lines, _open

AUTH = {"Authorization": f"Bearer {TOKEN}"}


async def _send(ws: Any, x: np.ndarray, step: int) -> list[dict[str, Any]]:
    got: list[dict[str, Any]] = []
    for i in range(0, x.size, step):
        await ws.send(x[i : i + step].astype(np.float32).tobytes())
        got += _lines(await ws.recv())
    return got


async def _collect(
    ws: Any, stream_id: str, done: Any, timeout: float = 60.0
) -> list[dict[str, Any]]:
    """A watch socket's lines about ``stream_id`` until ``done(line)`` holds for one of them
    (whatever the machine's load: nothing is timed)."""
    got: list[dict[str, Any]] = []
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        left = deadline - asyncio.get_running_loop().time()
        items = _lines(await asyncio.wait_for(ws.recv(), max(left, 0.01)))
        items = [i for i in items if i.get("stream_id") == stream_id]
        got += items
        if any(done(i) for i in items):
            return got


def _window_at(t: float) -> Any:
    return lambda i: i["type"] == "window" and i["t_end"] == t


def _af() -> tuple[np.ndarray, float]:
    record = read(sample_path("mitdb-201-af"))
    return record.signal[:, 0].astype(np.float64), record.fs


def test_af_record_raises_one_af_alarm_with_clock_time(live: Live) -> None:
    x, fs = _af()

    async def go() -> None:
        watch = await websockets.connect(f"{live.ws}/v1/watch?token={TOKEN}")
        await watch.recv()
        ws = await _open(live, "alarm-af", fs, start_time="2026-12-06T08:00:00+00:00")
        await _send(ws, x[: int(40 * fs)], int(fs))
        seen = await _collect(watch, "alarm-af", _window_at(40.0))
        alarms = [i["alarm"] for i in seen if i["type"] == "alarm"]
        assert [(a["kind"], a["priority"], a["state"]) for a in alarms] == [
            ("af", "medium", "active")
        ]
        af = alarms[0]
        assert af["text"] == "AF"
        # Clock time is the stream's start_time plus its seconds, in the server's zone.
        from datetime import datetime

        began = datetime.fromisoformat(af["started_at"]).timestamp()
        assert abs(began - (datetime.fromisoformat("2026-12-06T08:00:00+00:00").timestamp()
                            + af["start_s"])) < 1e-3  # fmt: skip
        listing = httpx.get(f"{live.url}/v1/streams", headers=AUTH).json()["streams"]
        mine = next(s for s in listing if s["stream_id"] == "alarm-af")
        assert [e["kind"] for e in mine["open_events"]] == ["af"]
        assert [a["kind"] for a in mine["alarms"]] == ["af"] and mine["inop"] is None
        assert mine["start_time"].startswith("2026-12-06")
        log = httpx.get(f"{live.url}/v1/alarms", params={"stream_id": "alarm-af"},
                        headers=AUTH).json()  # fmt: skip
        assert [a["id"] for a in log["alarms"]] == [af["id"]]
        # Another token sees none of it.
        other = httpx.get(f"{live.url}/v1/alarms", headers={"Authorization": f"Bearer {OTHER}"})
        assert af["id"] not in [a["id"] for a in other.json()["alarms"]]
        await ws.send(json.dumps({"type": "stop"}))
        await ws.recv()
        ended = await _collect(watch, "alarm-af", lambda i: i["type"] == "alarm")
        assert [(i["alarm"]["id"], i["alarm"]["state"]) for i in ended if i["type"] == "alarm"] == [
            (af["id"], "ended")
        ]
        for w in (ws, watch):
            await w.close()

    asyncio.run(go())


def test_lead_off_is_a_technical_alarm_and_hides_the_numerics(live: Live) -> None:
    fs = 250
    sim = Simulator(fs, mode="nsr", hr_bpm=74, seed=4)
    sinus = sim.read(fs * 20)
    sim.set_mode("leadoff")
    off = sim.read(fs * 6)

    async def go() -> None:
        watch = await websockets.connect(f"{live.ws}/v1/watch?token={TOKEN}")
        await watch.recv()
        ws = await _open(live, "alarm-leadoff", fs)
        await _send(ws, sinus, fs // 4)
        await _collect(watch, "alarm-leadoff", _window_at(20.0))
        await _send(ws, off[: 2 * fs], fs // 4)  # two seconds of lead-off
        seen = await _collect(watch, "alarm-leadoff", _window_at(22.0))
        tech = [i["alarm"] for i in seen if i["type"] == "alarm"]
        assert [(a["kind"], a["priority"], a["text"]) for a in tech] == [
            ("leads_off", "technical", "Leads off")
        ]
        windows = [i for i in seen if i["type"] == "window"]
        assert windows and windows[-1]["heart_rate_bpm"] is None
        listing = httpx.get(f"{live.url}/v1/streams", headers=AUTH).json()["streams"]
        mine = next(s for s in listing if s["stream_id"] == "alarm-leadoff")
        assert mine["inop"] == "Leads off"
        await ws.close()
        await _collect(
            watch, "alarm-leadoff",
            lambda i: i["type"] == "alarm" and i["alarm"]["kind"] == "disconnected",
        )  # fmt: skip
        listing = httpx.get(f"{live.url}/v1/streams", headers=AUTH).json()["streams"]
        mine = next(s for s in listing if s["stream_id"] == "alarm-leadoff")
        assert {a["kind"] for a in mine["alarms"]} == {"leads_off", "disconnected"}
        await watch.close()

    asyncio.run(go())


def test_limits_ack_silence_and_pause_over_rest(live: Live) -> None:
    fs = 250
    sim = Simulator(fs, mode="nsr", hr_bpm=75, seed=2)
    x = sim.read(fs * 30)

    async def go() -> None:
        ws = await _open(live, "alarm-limits", fs)
        await _send(ws, x[: 12 * fs], fs)
        r = httpx.put(f"{live.url}/v1/streams/alarm-limits/limits", headers=AUTH,
                      json={"hr_low": 40, "hr_high": 60, "by": "nurse kim"})  # fmt: skip
        assert r.status_code == 200 and r.json()["hr_high"] == 60
        bad = httpx.put(f"{live.url}/v1/streams/alarm-limits/limits", headers=AUTH,
                        json={"hr_low": 80, "hr_high": 60})  # fmt: skip
        assert bad.status_code == 422 and "hr_low" in bad.json()["detail"]
        assert httpx.put(f"{live.url}/v1/streams/nobody/limits", headers=AUTH,
                         json={"hr_high": 60}).status_code == 404  # fmt: skip
        await _send(ws, x[12 * fs :], fs)
        log = httpx.get(f"{live.url}/v1/alarms", params={"stream_id": "alarm-limits"},
                        headers=AUTH).json()["alarms"]  # fmt: skip
        (high,) = [a for a in log if a["kind"] == "hr_high"]
        assert high["priority"] == "medium" and high["text"].endswith("> 60")
        ack = httpx.post(f"{live.url}/v1/alarms/{high['id']}/ack", headers=AUTH,
                         json={"by": "nurse kim"})  # fmt: skip
        assert ack.status_code == 200 and ack.json()["acknowledged"]
        assert ack.json()["ack_by"].startswith("nurse kim (")
        assert httpx.post(f"{live.url}/v1/alarms/999999/ack", headers=AUTH).status_code == 404
        s = httpx.post(f"{live.url}/v1/alarms/silence", headers=AUTH,
                       json={"stream_id": "alarm-limits", "minutes": 2})  # fmt: skip
        assert s.status_code == 200 and s.json()["silenced_until"] is not None
        p = httpx.post(f"{live.url}/v1/alarms/pause", headers=AUTH, json={"minutes": 1})
        assert p.status_code == 200 and p.json()["paused_until"] is not None
        assert httpx.post(f"{live.url}/v1/alarms/pause", headers=AUTH,
                          json={"minutes": -1}).status_code == 422  # fmt: skip
        lifted = httpx.post(f"{live.url}/v1/alarms/pause", headers=AUTH, json={"minutes": 0})
        assert lifted.json()["paused_until"] is None
        metrics = httpx.get(f"{live.url}/metrics", headers=AUTH).text
        assert 'cardiostream_alarms_total{kind="hr_high",priority="medium"}' in metrics
        assert "cardiostream_alarm_acks_total" in metrics
        await ws.close()

    asyncio.run(go())


def test_an_alarm_id_past_sqlite_integers_is_an_unknown_id(live: Live) -> None:
    # SQLite cannot even bind an integer past 64 bits: that was a plain-text 500.
    for alarm_id in (2**63, 99999999999999999999999, -(2**63) - 1):
        r = httpx.post(f"{live.url}/v1/alarms/{alarm_id}/ack", headers=AUTH, json={"by": "x"})
        assert r.status_code == 404, r.text
        assert r.json() == {"detail": f"no alarm {alarm_id} for this token"}
    desk = AlarmDesk()
    assert desk.log(TOKEN, alarm_id=2**64) == []


def test_after_a_restart_the_log_survives_and_a_new_stream_has_its_own_clock(
    tmp_path: Path,
) -> None:
    """The server is stopped without the stream's disconnection closing its AF alarm (as a
    crash leaves it); the sender comes back to the new server as a new stream, counted from
    sample 0, with the clock time of its first sample."""
    from datetime import datetime

    x, fs = _af()
    config = ServeConfig(tokens=[TOKEN], store=tmp_path, batch_wait_ms=1.0)
    began = "2026-12-06T08:00:00+00:00"
    again_at = "2026-12-06T08:05:00+00:00"

    async def first(live: Live) -> int:
        ws = await _open(live, "bed-af", fs, start_time=began)
        await _send(ws, x[: int(40 * fs)], int(fs))
        log = httpx.get(f"{live.url}/v1/alarms", headers=AUTH).json()["alarms"]
        return next(a["id"] for a in log if a["kind"] == "af")

    server, thread, live = start_server(config)
    try:
        af_id = asyncio.run(first(live))
    finally:
        server.should_exit = True
        thread.join(10)
    server, thread, live = start_server(config)
    try:
        log = httpx.get(f"{live.url}/v1/alarms", headers=AUTH).json()["alarms"]
        assert af_id in [a["id"] for a in log]

        async def again() -> None:
            ws = await _open(live, "bed-af", fs, start_time=again_at)
            listing = httpx.get(f"{live.url}/v1/streams", headers=AUTH).json()["streams"]
            mine = next(s for s in listing if s["stream_id"] == "bed-af")
            # The engine starts the stream afresh: its clock is the new start_time, and the
            # episode and alarm of the stream before are not carried into it.
            assert datetime.fromisoformat(mine["start_time"]) == datetime.fromisoformat(again_at)
            assert mine["open_events"] == [] and mine["alarms"] == []
            await ws.close()

        asyncio.run(again())
        log = httpx.get(f"{live.url}/v1/alarms", headers=AUTH).json()["alarms"]
        af = next(a for a in log if a["id"] == af_id)
        assert af["state"] == "ended" and af["detail"]["end_reason"] == "restarted"
        # It ends within the stream's 40 s, on the first stream's clock.
        assert af["start_s"] <= af["end_s"] <= 40.0
        end = datetime.fromisoformat(af["ended_at"])
        assert (end - datetime.fromisoformat(began)).total_seconds() == af["end_s"]
    finally:
        server.should_exit = True
        thread.join(10)
