"""The dashboards' read-only view: /v1/watch, /v1/streams, multi-lead streams, AsyncAPI."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import httpx
import numpy as np
import pytest
import websockets

from cardiostream import analyze, read
from cardiostream.io import ParquetStore
from cardiostream.samples import sample_path
from cardiostream.serve import ServeConfig

from .conftest import OTHER, TOKEN, Live, start_server

AUTH = {"Authorization": f"Bearer {TOKEN}"}


def _lines(message: str | bytes) -> list[dict[str, Any]]:
    return [json.loads(line) for line in str(message).splitlines()]


async def _open(live: Live, stream_id: str, fs: float, **start: Any) -> Any:
    ws = await websockets.connect(live.ws + "/v1/stream", additional_headers=AUTH)
    await ws.send(json.dumps({"type": "start", "stream_id": stream_id, "fs": fs, **start}))
    assert _lines(await ws.recv())[0]["type"] == "ready"
    return ws


async def _until(
    ws: Any, kind: str, timeout: float = 20.0, stream_id: str | None = None
) -> list[dict[str, Any]]:
    """Messages from a watch socket until one holds an object of ``kind`` (about
    ``stream_id``, when given: other streams of the token may end meanwhile); all their
    lines, those about other streams left out."""
    seen: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        items = _lines(await asyncio.wait_for(ws.recv(), deadline - time.monotonic()))
        if stream_id is not None:
            items = [i for i in items if (i.get("stream") or i).get("stream_id") == stream_id]
        seen += items
        if any(i["type"] == kind for i in items):
            return seen
    raise AssertionError(f"no {kind} within {timeout} s")


def test_a_dashboard_sees_its_tokens_streams_samples_peaks_and_windows(live: Live) -> None:
    record = read(sample_path("mitdb-100-nsr"))
    x = record.signal[: int(20 * record.fs), 0].astype(np.float32)
    expected = analyze(x, record.fs).windows

    async def go() -> None:
        watch = await websockets.connect(f"{live.ws}/v1/watch?token={TOKEN}")
        first = _lines(await watch.recv())
        assert first[0]["type"] == "streams"
        other = await websockets.connect(f"{live.ws}/v1/watch?token={OTHER}")
        assert _lines(await other.recv())[0]["type"] == "streams"
        stream = await _open(live, "watched-100", record.fs)
        announced = await _until(watch, "stream", stream_id="watched-100")
        info = next(i for i in announced if i["type"] == "stream")["stream"]
        assert info["stream_id"] == "watched-100" and info["state"] == "live"
        step = int(record.fs)
        for i in range(0, x.size, step):
            await stream.send(x[i : i + step].tobytes())
            reply = _lines(await stream.recv())
            assert all(item["type"] != "display" for item in reply)  # dashboards' only
        got = await _until(watch, "window")
        while sum(i["type"] == "window" for i in got) < len(expected):
            got += await _until(watch, "window")
        display = [i for i in got if i["type"] == "display"]
        windows = [i for i in got if i["type"] == "window"]
        assert all(i["stream_id"] == "watched-100" for i in display + windows)
        # Every second of signal reached the dashboard at 125 Hz, in order, without a hole.
        samples = sum(len(d["leads"]["ECG"]) for d in display)
        assert abs(samples - 20 * 125) <= 3
        starts = [d["t"] for d in display]
        assert starts == sorted(starts)
        peaks = [p for d in display for p in d["peaks"]]
        assert 15 <= len(peaks) <= 30  # about 75 bpm over 20 s, reported a second late
        assert [w["t_end"] for w in windows] == [w["t_end"] for w in expected]
        assert [w["label"] for w in windows] == [w["label"] for w in expected]
        listing = httpx.get(f"{live.url}/v1/streams", headers=AUTH).json()["streams"]
        mine = next(s for s in listing if s["stream_id"] == "watched-100")
        assert mine["window"]["t_end"] == expected[-1]["t_end"]
        assert len(mine["trend"]) == len(expected)
        # The other token's dashboard saw nothing of this stream.
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(other.recv(), 0.5)
        await stream.send(json.dumps({"type": "stop"}))
        await stream.recv()
        ended = await _until(watch, "stream", stream_id="watched-100")
        assert any(i.get("stream", {}).get("state") == "ended" for i in ended)
        for ws in (watch, other, stream):
            await ws.close()

    asyncio.run(go())


def test_streams_listing_needs_a_token_and_watch_closes_without_one(live: Live) -> None:
    assert httpx.get(f"{live.url}/v1/streams").status_code == 401

    async def go() -> None:
        async with websockets.connect(f"{live.ws}/v1/watch?token=wrong") as ws:
            with pytest.raises(websockets.ConnectionClosed) as closed:
                await ws.recv()
            assert closed.value.rcvd is not None and closed.value.rcvd.code == 1008

    asyncio.run(go())


def test_a_dashboard_that_does_not_read_never_slows_a_stream(live: Live) -> None:
    record = read(sample_path("mitdb-100-nsr"))
    x = record.signal[:, 0].astype(np.float32)

    async def go() -> None:
        watch = await websockets.connect(
            f"{live.ws}/v1/watch?token={TOKEN}", max_queue=1, max_size=2**16
        )
        await asyncio.sleep(0.2)
        stream = await _open(live, "unread-100", record.fs)
        step = int(record.fs / 4)
        n = 0
        for i in range(0, x.size, step):  # 60 s of signal; the dashboard reads nothing
            await stream.send(x[i : i + step].tobytes())
            assert _lines(await stream.recv())[-1]["type"] == "ack"
            n += 1
        assert n == -(-x.size // step)
        await stream.send(json.dumps({"type": "stop"}))
        await stream.recv()
        await stream.close()
        await watch.close()

    asyncio.run(asyncio.wait_for(go(), 60))


def test_a_multi_lead_stream_analyses_one_lead_shows_all_and_records_all(
    tmp_path: Any,
) -> None:
    record = read(sample_path("mitdb-201-af"))  # MLII and V1
    x = record.signal[: int(15 * record.fs)].astype(np.float32)
    config = ServeConfig(tokens=[TOKEN], store=tmp_path, record=True, batch_wait_ms=1.0)
    server, thread, live = start_server(config)
    try:

        async def go() -> list[dict[str, Any]]:
            watch = await websockets.connect(f"{live.ws}/v1/watch?token={TOKEN}")
            await watch.recv()
            ws = await _open(live, "two-leads", record.fs, leads=["MLII", "V1"], lead="V1")
            out: list[dict[str, Any]] = []
            step = int(record.fs)
            for i in range(0, len(x), step):
                await ws.send(np.ascontiguousarray(x[i : i + step]).tobytes())
                out += _lines(await ws.recv())
            await ws.send(np.zeros(3, np.float32).tobytes())  # not whole rows of 2 leads
            with pytest.raises(websockets.ConnectionClosed) as closed:
                await ws.recv()
            assert closed.value.rcvd is not None and closed.value.rcvd.code == 1003
            got = await _until(watch, "window")
            display = next(i for i in got if i["type"] == "display")
            assert display["lead"] == "V1" and set(display["leads"]) == {"MLII", "V1"}
            assert len(display["leads"]["MLII"]) == len(display["leads"]["V1"])
            await watch.close()
            return out

        out = asyncio.run(go())
    finally:
        server.should_exit = True
        thread.join(10)
    windows = [w for w in out if w["type"] == "window"]
    expected = analyze(x[:, 1], record.fs).windows
    assert [w["probabilities"] for w in windows] == [w["probabilities"] for w in expected]
    stored = ParquetStore(tmp_path)
    [rid] = stored.ids()
    saved = stored.read(rid)
    assert saved.leads == ["MLII", "V1"] and saved.signal.shape[1] == 2
    assert np.array_equal(saved.signal[: len(x) - len(x) % int(record.fs)].astype(np.float32),
                          x[: len(x) - len(x) % int(record.fs)])  # fmt: skip


@pytest.mark.parametrize(
    "start",
    [
        {"leads": []},
        {"leads": ["I", "I"]},
        {"leads": ["I", "II"], "lead": "V1"},
        {"leads": "I"},
        {"leads": [f"L{i}" for i in range(13)]},
    ],
)
def test_bad_lead_lists_are_refused(live: Live, start: dict[str, Any]) -> None:
    async def go() -> None:
        async with websockets.connect(live.ws + "/v1/stream", additional_headers=AUTH) as ws:
            await ws.send(json.dumps({"type": "start", "stream_id": "bad-leads", "fs": 250,
                                      **start}))  # fmt: skip
            with pytest.raises(websockets.ConnectionClosed) as closed:
                await ws.recv()
            assert closed.value.rcvd is not None and closed.value.rcvd.code == 1003
            assert "lead" in closed.value.rcvd.reason

    asyncio.run(go())


def test_the_asyncapi_document_describes_both_sockets(live: Live) -> None:
    doc = httpx.get(f"{live.url}/v1/asyncapi.json").json()
    assert doc["asyncapi"].startswith("3.")
    assert {c["address"] for c in doc["channels"].values()} == {"/v1/stream", "/v1/watch"}
    assert "display" in doc["channels"]["watch"]["messages"]


def test_the_dashboard_is_served_from_the_package(live: Live) -> None:
    page = httpx.get(live.url + "/")
    assert page.status_code == 200 and "cardiostream" in page.text
    for name in (
        "app.js",
        "api.js",
        "live.js",
        "sweep.js",
        "arrhythmia.js",
        "records.js",
        "style.css",
    ):
        r = httpx.get(f"{live.url}/static/{name}")
        assert r.status_code == 200 and len(r.content) > 100, name
    assert httpx.get(f"{live.url}/static/../app.py").status_code == 404


def test_a_steerable_source_gets_control_lines_and_others_refuse_them(live: Live) -> None:
    async def go() -> None:
        sim = await _open(live, "steer-me", 250, controls=["nsr", "af"])
        plain = await _open(live, "not-steerable", 250)
        url = f"{live.url}/v1/streams"
        asked = httpx.post(f"{url}/steer-me/control", json={"mode": "af"}, headers=AUTH)
        assert asked.status_code == 202
        for ws in (sim, plain):
            await ws.send(np.zeros(250, np.float32).tobytes())
        reply = _lines(await sim.recv())
        assert {"type": "control", "mode": "af"} in reply and reply[-1]["type"] == "ack"
        assert all(i["type"] != "control" for i in _lines(await plain.recv()))
        await sim.send(np.zeros(250, np.float32).tobytes())  # delivered once
        assert all(i["type"] != "control" for i in _lines(await sim.recv()))
        for path, body, status in [
            ("steer-me", {"mode": "noise"}, 422),
            ("not-steerable", {"mode": "af"}, 422),
            ("nobody", {"mode": "af"}, 404),
            ("steer-me", {"mode": "af", "hr_bpm": 500}, 422),
        ]:
            r = httpx.post(f"{url}/{path}/control", json=body, headers=AUTH)
            assert r.status_code == status, (path, body, r.text)
        other = {"Authorization": f"Bearer {OTHER}"}
        assert httpx.post(f"{url}/steer-me/control", json={"mode": "af"},
                          headers=other).status_code == 404  # fmt: skip
        listed = httpx.get(url, headers=AUTH).json()["streams"]
        steer = next(s for s in listed if s["stream_id"] == "steer-me")
        assert steer["controls"] == ["nsr", "af"] and steer["mode"] == "af"
        for ws in (sim, plain):
            await ws.close()

    asyncio.run(go())


def test_the_control_command_steers_a_source_and_explains_refusals(live: Live) -> None:
    from typer.testing import CliRunner

    from cardiostream.cli import app

    async def go() -> None:
        sim = await _open(live, "cli-steer", 250, controls=["nsr", "af"])
        runner = CliRunner()
        args = ["control", "cli-steer", "--server", live.url, "--token", TOKEN]
        result = await asyncio.to_thread(runner.invoke, app, [*args, "--mode", "af"])
        assert result.exit_code == 0, result.output
        assert "uncertain" in result.output
        await sim.send(np.zeros(250, np.float32).tobytes())
        assert {"type": "control", "mode": "af"} in _lines(await sim.recv())
        refused = await asyncio.to_thread(runner.invoke, app, [*args, "--mode", "noise"])
        assert refused.exit_code != 0 and "accepts nsr, af" in refused.output
        await sim.close()

    asyncio.run(go())
