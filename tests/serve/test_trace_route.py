"""Full disclosure over REST: the last seconds of a watched stream's drawn trace."""

from __future__ import annotations

import asyncio

import httpx
import numpy as np
import websockets

from cardiostream import read
from cardiostream.samples import sample_path

from .conftest import OTHER, TOKEN, Live
from .test_alarms_api import _collect, _send, _window_at
from .test_watch import _open

AUTH = {"Authorization": f"Bearer {TOKEN}"}


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
