"""The sender speaks the shared wire constants: start, frames, token and close codes."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import numpy as np
import pytest
from websockets.asyncio.server import ServerConnection, serve

from cardiostream import wire
from cardiostream.sim import Simulator, StreamRefused, TokenRefused, send

FS = 250.0


class Refuser:
    """Reads the start message and one frame, then closes with ``code`` (at once, before
    ``ready``, unless ``ready``)."""

    def __init__(self, code: int, ready: bool = True) -> None:
        self.code, self.ready = code, ready
        self.start: dict[str, Any] = {}
        self.auth = ""
        self.frame = np.zeros(0)

    async def handler(self, ws: ServerConnection) -> None:
        assert ws.request is not None
        self.auth = ws.request.headers.get(wire.TOKEN_HEADER, "")
        self.start = json.loads(await ws.recv())
        if not self.ready:
            await ws.close(self.code, "refused")
            return
        await ws.send(json.dumps({"type": wire.READY, "samples": 0, "resumed": False}))
        message = await ws.recv()
        assert isinstance(message, bytes)
        self.frame = np.frombuffer(message, wire.FRAME_DTYPE)
        await ws.close(self.code, "refused")


async def _against(fake: Refuser) -> Any:
    async with serve(fake.handler, "127.0.0.1", 0) as srv:
        port = srv.sockets[0].getsockname()[1]
        return await send(
            Simulator(FS, seed=3),
            f"ws://127.0.0.1:{port}/v1/stream",
            token="tok",
            stream_id="wire",
            speed=float("inf"),
            chunk_s=1.0,
            stop_after_s=5,
            max_retries=0,
        )


@pytest.mark.parametrize("code", sorted(wire.CLOSE_REFUSED))
def test_a_refusing_close_code_raises_with_that_code(code: int) -> None:
    fake = Refuser(code)
    with pytest.raises(StreamRefused) as info:
        asyncio.run(_against(fake))
    assert info.value.code == code and not isinstance(info.value, TokenRefused)
    assert fake.start["type"] == wire.START and fake.start["format"] == wire.FRAME_FORMAT
    assert wire.bearer_token(fake.auth) == "tok"
    np.testing.assert_array_equal(fake.frame, Simulator(FS, seed=3).read(250))


def test_the_policy_close_code_is_a_refused_token() -> None:
    with pytest.raises(TokenRefused) as info:
        asyncio.run(_against(Refuser(wire.CLOSE_POLICY)))
    assert info.value.code == wire.CLOSE_POLICY


def test_another_close_code_is_retried_then_given_up() -> None:
    with pytest.raises(StreamRefused) as info:
        asyncio.run(_against(Refuser(wire.CLOSE_TRY_LATER, ready=False)))
    assert info.value.code == wire.CLOSE_ABNORMAL  # gave up after max_retries
    assert str(wire.CLOSE_TRY_LATER) in str(info.value)
