"""Full disclosure over REST: the last seconds of a watched stream's drawn trace."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import numpy as np
import websockets

from cardiostream import read
from cardiostream.samples import sample_path

from .conftest import OTHER, TOKEN, Live
from .test_alarms_api import _collect, _send, _window_at
from .test_watch import _open

AUTH = {"Authorization": f"Bearer {TOKEN}"}
#: A token no other test keeps a dashboard of: its streams are not watched.
UNWATCHED = {"Authorization": f"Bearer {OTHER}"}


async def _open_unwatched(live: Live, **start: Any) -> Any:
    ws = await websockets.connect(f"{live.ws}/v1/stream", additional_headers=UNWATCHED)
    await ws.send(json.dumps({"type": "start", **start}))
    assert json.loads(str(await ws.recv()).split("\n")[0])["type"] == "ready"
    return ws


def test_the_trace_of_a_watched_stream_is_kept_by_the_server(live: Live) -> None:
    record = read(sample_path("mitdb-100-nsr"))
    x = record.signal[: int(20 * record.fs), 0].astype(np.float64)

    async def go() -> None:
        watch = await websockets.connect(f"{live.ws}/v1/watch?token={TOKEN}")
        await watch.recv()
        ws = await _open(live, "trace-100", record.fs)
        await _send(ws, x, int(record.fs))
        await _collect(watch, "trace-100", _window_at(20.0))
        url = f"{live.url}/v1/streams/trace-100/trace"
        whole = httpx.get(url, headers=AUTH).json()
        assert whole["fs"] == 125.0 and abs(len(whole["samples"]) - 20 * 125) <= 130
        assert 15 <= len(whole["peaks"]) <= 30
        assert all(whole["t0"] <= p for p in whole["peaks"])
        last = httpx.get(url, params={"seconds": 5}, headers=AUTH).json()
        assert len(last["samples"]) == 5 * 125
        assert last["samples"] == whole["samples"][-5 * 125 :]
        other = httpx.get(url, headers={"Authorization": f"Bearer {OTHER}"})
        assert other.status_code == 404
        assert httpx.get(url, params={"seconds": 0}, headers=AUTH).status_code == 422
        await ws.close()
        await watch.close()

    asyncio.run(go())


def test_the_trace_is_kept_when_no_dashboard_was_ever_open(live: Live) -> None:
    """A bed opened after an alarm, with no dashboard before, still has its last minutes:
    the engine draws every stream's trace while the server keeps one (``disclosure_s``)."""
    record = read(sample_path("mitdb-201-af"))
    x = record.signal[:, 0].astype(np.float64)  # 60 s

    async def go() -> None:
        ws = await _open_unwatched(live, stream_id="unwatched-201", fs=record.fs)
        await _send(ws, x, int(record.fs))
        url = f"{live.url}/v1/streams/unwatched-201/trace"
        kept = httpx.get(url, params={"seconds": 120}, headers=UNWATCHED).json()
        assert kept["fs"] == 125.0
        assert abs(len(kept["samples"]) - 60 * 125) <= 130  # all of it, from the first frame
        assert kept["t0"] < 1.0
        assert sum(v is None for v in kept["samples"]) == 0
        assert len(kept["peaks"]) > 60 and len(kept["beats"]) > 50
        strip = httpx.get(f"{live.url}/v1/streams/unwatched-201/strip.png", headers=UNWATCHED)
        assert strip.status_code == 200
        await ws.close()

    asyncio.run(go())


def test_a_beats_streams_tachogram_is_kept_when_no_dashboard_was_ever_open(live: Live) -> None:
    from tests.stream.test_beat_stream import regular_beats

    t = regular_beats(100)  # 80 s of beats

    async def go() -> None:
        ws = await _open_unwatched(live, stream_id="unwatched-strap", format="beats")
        for lo in range(0, t.size, 10):
            await ws.send(t[lo : lo + 10].astype("<f8").tobytes())
            await ws.recv()
        url = f"{live.url}/v1/streams/unwatched-strap/trace"
        rr = httpx.get(url, params={"seconds": 120}, headers=UNWATCHED).json()["rr"]
        assert [b[0] for b in rr] == [round(float(v), 3) for v in t]
        assert rr[0][1] is None and all(b[1] is not None for b in rr[1:])
        await ws.close()

    asyncio.run(go())
