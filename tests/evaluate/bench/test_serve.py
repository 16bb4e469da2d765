"""The load test's client speaks the shared wire constants (against a fake server)."""

from __future__ import annotations

import asyncio
import json
from typing import Any
from urllib.parse import parse_qs, urlsplit

import numpy as np
from websockets.asyncio.server import ServerConnection, serve

from cardiostream import wire
from cardiostream.evaluate.bench import serve as bench


class Fake:
    """Acks float32 frames the way the server does; records what the client sent."""

    def __init__(self) -> None:
        self.start: dict[str, Any] = {}
        self.frames: list[np.ndarray] = []
        self.auth = ""
        self.query: dict[str, list[str]] = {}
        self.stopped = False

    async def handler(self, ws: ServerConnection) -> None:
        assert ws.request is not None
        path = urlsplit(ws.request.path)
        if path.path == "/v1/watch":
            self.query = parse_qs(path.query)
            await ws.send(json.dumps({"type": "streams", "streams": []}))
            return
        self.auth = ws.request.headers.get(wire.TOKEN_HEADER, "")
        self.start = json.loads(await ws.recv())
        await ws.send(json.dumps({"type": wire.READY, "samples": 0, "resumed": False}))
        consumed = 0
        async for message in ws:
            if isinstance(message, str):
                self.stopped = json.loads(message) == {"type": wire.STOP}
                await ws.send(json.dumps({"type": wire.END, "samples": consumed}))
                await ws.close(wire.CLOSE_NORMAL)
                return
            x = np.frombuffer(message, wire.FRAME_DTYPE)
            self.frames.append(x)
            consumed += x.size
            await ws.send(json.dumps({"type": wire.ACK, "samples": consumed}))


def test_a_bench_stream_and_dashboard_speak_the_wire_protocol() -> None:
    fake = Fake()
    x = np.arange(1000, dtype=np.float32)

    async def run() -> tuple[int, int]:
        async with serve(fake.handler, "127.0.0.1", 0) as srv:
            port = srv.sockets[0].getsockname()[1]
            base = f"ws://127.0.0.1:{port}/v1"
            await bench._dashboard(base + "/watch", [0])
            rtts: list[float] = []
            return await bench._one_stream(
                base + "/stream", 0, 1, x, 2, 0.0, rtts, token=bench.TOKEN
            )

    sent, acked = asyncio.run(run())
    assert sent == acked == 500 and fake.stopped
    assert fake.start["type"] == wire.START
    assert wire.bearer_token(fake.auth) == bench.TOKEN
    assert fake.query == {wire.TOKEN_QUERY: [bench.WARD_TOKEN]}
    np.testing.assert_array_equal(np.concatenate(fake.frames), x[:500])
