"""The sender: against the real server, and against a small fake one that drops connections
and sends control lines."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import numpy as np
import pytest
from websockets.asyncio.server import ServerConnection, serve

from cardiostream.sim import MODES, Simulator, TokenRefused, send
from cardiostream.sim.playback import Playback
from tests.serve.conftest import Live

from .conftest import TOKEN

FS = 250.0


def test_a_simulator_streams_to_the_server_and_windows_come_back(server: Live) -> None:
    items: list[dict[str, Any]] = []
    sim = Simulator(FS, "nsr", hr_bpm=72, seed=1)
    result = asyncio.run(
        send(
            sim,
            server.ws + "/v1/stream",
            token=TOKEN,
            stream_id="sim-a",
            fs=FS,
            speed=10,
            stop_after_s=15,
            controls=list(MODES),
            on_item=items.append,
        )
    )
    windows = [x for x in items if x["type"] == "window"]
    assert result.sent == result.acknowledged == 15 * 250
    assert result.ended and result.connections == 1
    assert len(windows) >= 5
    assert windows[-1]["heart_rate_bpm"] == pytest.approx(72, abs=4)
    assert items[-1]["type"] == "end" and items[-1]["samples"] == 15 * 250


def test_a_refused_token_raises_at_once(server: Live) -> None:
    statuses: list[str] = []

    async def run() -> None:
        await asyncio.wait_for(
            send(
                Simulator(FS),
                server.ws + "/v1/stream",
                token="wrong",
                stream_id="sim-b",
                on_status=statuses.append,
            ),
            10,
        )

    with pytest.raises(TokenRefused, match="token") as info:
        asyncio.run(run())
    assert info.value.code == 1008
    assert "a valid bearer token is required" in info.value.reason
    assert not any("reconnecting" in s for s in statuses)


def test_playback_of_several_leads_streams_too(server: Live) -> None:
    items: list[dict[str, Any]] = []
    source = Playback("mitdb-100-nsr", fs=250, lead=None)
    result = asyncio.run(
        send(
            source,
            server.ws + "/v1/stream",
            token=TOKEN,
            stream_id="sim-c",
            speed=float("inf"),
            stop_after_s=12,
            on_item=items.append,
        )
    )
    assert result.acknowledged == 12 * 250
    labels = {x["label"] for x in items if x["type"] == "window"}
    assert labels <= {"normal", "uncertain"} and "normal" in labels


class FakeServer:
    """Enough of /v1/stream to test the client: consumes float32 frames, acks them, can drop
    the connection at a chosen frame and put control lines in replies."""

    def __init__(
        self,
        drop_at: int | None = None,
        consume_dropped: bool = False,
        controls: dict[int, dict[str, Any]] | None = None,
        forget: bool = False,
    ) -> None:
        self.drop_at = drop_at
        self.consume_dropped = consume_dropped
        self.forget = forget
        self.controls = controls or {}
        self.received: list[np.ndarray] = []
        self.consumed = 0
        self.frames = 0
        self.starts: list[dict[str, Any]] = []
        self.stopped = False

    async def handler(self, ws: ServerConnection) -> None:
        self.starts.append(json.loads(await ws.recv()))
        if self.forget:  # as a restarted server: a new stream, counted from 0
            self.consumed = 0
        await ws.send(
            json.dumps({"type": "ready", "samples": self.consumed, "resumed": self.consumed > 0})
        )
        async for message in ws:
            if isinstance(message, str):
                assert json.loads(message) == {"type": "stop"}
                self.stopped = True
                await ws.send(json.dumps({"type": "end", "samples": self.consumed}))
                return
            self.frames += 1
            x = np.frombuffer(message, "<f4")
            if self.frames == self.drop_at:
                if self.consume_dropped:  # consumed, but the ack is lost
                    self.received.append(x)
                    self.consumed += len(x)
                ws.transport.abort()
                return
            self.received.append(x)
            self.consumed += len(x)
            lines = (
                [json.dumps({"type": "control", **self.controls[self.frames]})]
                if (self.frames in self.controls)
                else []
            )
            lines.append(json.dumps({"type": "ack", "samples": self.consumed}))
            await ws.send("\n".join(lines))


async def _against(fake: FakeServer, source: Any, **kwargs: Any) -> Any:
    async with serve(fake.handler, "127.0.0.1", 0) as srv:
        port = srv.sockets[0].getsockname()[1]
        return await send(
            source, f"ws://127.0.0.1:{port}/v1/stream", token=TOKEN, stream_id="fake", **kwargs
        )


@pytest.mark.parametrize(
    ("consume_dropped", "forget"), [(False, False), (True, False), (False, True)]
)
def test_a_dropped_connection_resumes_without_losing_or_repeating(
    consume_dropped: bool, forget: bool
) -> None:
    fake = FakeServer(drop_at=5, consume_dropped=consume_dropped, forget=forget)
    statuses: list[str] = []
    result = asyncio.run(
        _against(
            fake,
            Simulator(FS, seed=2),
            speed=float("inf"),
            stop_after_s=4,
            on_status=statuses.append,
        )
    )
    expected = Simulator(FS, seed=2).read(1000)
    np.testing.assert_array_equal(np.concatenate(fake.received), expected)
    assert result.connections == 2 and result.acknowledged == 1000 and fake.stopped
    assert any("reconnecting" in s for s in statuses)
    assert any(("new stream" if forget else "resumed at sample") in s for s in statuses)
    assert fake.starts[0]["lead"] == "II" and fake.starts[0]["fs"] == FS


def test_a_reconnect_gives_the_clock_time_of_its_first_unacknowledged_sample() -> None:
    """A server that restarted starts the stream afresh from the first sample it has not
    acknowledged: the start message says when that sample was taken."""
    from datetime import datetime

    fake = FakeServer(drop_at=5, forget=True)
    result = asyncio.run(_against(fake, Simulator(FS, seed=2), speed=20.0, stop_after_s=4))
    assert result.connections == 2
    first, second = (datetime.fromisoformat(s["start_time"]) for s in fake.starts)
    acknowledged = sum(len(x) for x in fake.received[:4])  # the frames before the drop
    assert fake.starts[1]["acked"] == acknowledged
    assert abs((second - first).total_seconds() - acknowledged / FS) < 2e-3


def test_control_lines_switch_the_simulator() -> None:
    fake = FakeServer(
        controls={
            3: {"mode": "af", "real_af": False},
            5: {"mode": "vfib"},
            6: {"mode": "rate", "hr_bpm": 999},
        }
    )
    sim = Simulator(FS)
    seen: list[dict[str, Any]] = []
    statuses: list[str] = []
    asyncio.run(
        _against(
            fake,
            sim,
            speed=float("inf"),
            stop_after_s=3,
            controls=list(MODES),
            on_item=seen.append,
            on_status=statuses.append,
        )
    )
    assert fake.starts[0]["controls"] == list(MODES)
    assert sim.mode == "af" and sim.describe()["rhythm"] == "af"
    assert [x["mode"] for x in seen if x["type"] == "control"] == ["af", "vfib", "rate"]
    assert any("'vfib' ignored" in s for s in statuses)
    assert any("'rate' refused" in s and "hr_bpm" in s for s in statuses)


def test_cancelling_the_sender_sends_stop() -> None:
    fake = FakeServer()

    async def run() -> None:
        task = asyncio.create_task(_against(fake, Simulator(FS), speed=20))
        await asyncio.sleep(1.0)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(run())
    assert fake.stopped and fake.frames > 2


def test_a_control_posted_to_the_server_switches_the_simulator(server: Live) -> None:
    import httpx

    paths = {getattr(route, "path", "") for route in server.app.routes}  # type: ignore[attr-defined]
    if "/v1/streams/{stream_id}/control" not in paths:
        pytest.skip("this server has no control endpoint")
    sim = Simulator(FS, "nsr", hr_bpm=70, seed=4)
    windows: list[dict[str, Any]] = []

    def on_item(item: dict[str, Any]) -> None:
        if item["type"] == "window":
            windows.append(item)

    async def run() -> None:
        task = asyncio.create_task(
            send(
                sim,
                server.ws + "/v1/stream",
                token=TOKEN,
                stream_id="sim-ctl",
                speed=10,
                stop_after_s=45,
                controls=list(MODES),
                on_item=on_item,
            )
        )
        while len(windows) < 3:
            await asyncio.sleep(0.05)
        async with httpx.AsyncClient() as client:
            answer = await client.post(
                server.url + "/v1/streams/sim-ctl/control",
                json={"mode": "af"},
                headers={"Authorization": f"Bearer {TOKEN}"},
            )
        assert answer.status_code == 202, answer.text
        await task

    asyncio.run(run())
    assert sim.mode == "af" and sim.describe()["rhythm"] == "af_real"
    assert windows[0]["label"] in ("normal", "uncertain")
    last = [w["label"] for w in windows[-10:]]
    assert last.count("af") >= 6, last
