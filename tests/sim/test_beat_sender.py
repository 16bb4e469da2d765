"""The beat-time sender and ``cardiostream play`` of a beats CSV: against the real server,
and against a small fake one that drops the connection."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from typer.testing import CliRunner
from websockets.asyncio.server import ServerConnection, serve

from cardiostream.cli import app
from cardiostream.cli.live import is_beats_csv
from cardiostream.sim.beat_sender import looped, send_beats
from cardiostream.stream.beat_stream import beat_stream_messages
from tests.serve.conftest import Live
from tests.stream.test_beat_stream import af_like_beats, pulse_timed_beats, regular_beats

from .conftest import TOKEN

runner = CliRunner()


def test_beats_stream_to_the_server_and_give_the_processor_s_windows(server: Live) -> None:
    t = af_like_beats()
    items: list[dict[str, Any]] = []
    result = asyncio.run(send_beats(t, server.ws + "/v1/stream", token=TOKEN, stream_id="bs-1",
                                    speed=float("inf"), on_item=items.append))  # fmt: skip
    assert result.sent == result.acknowledged == t.size and result.ended
    got = [x for x in items if x["type"] not in ("ack", "end")]
    assert got == json.loads(json.dumps(beat_stream_messages(t)))
    assert items[-1] == {"type": "end", "samples": t.size}


def test_paced_beats_go_one_a_frame(server: Live) -> None:
    t = regular_beats(30, rr_s=0.5)
    acks: list[int] = []

    def on_item(x: dict[str, Any]) -> None:
        if x["type"] == "ack":
            acks.append(x["samples"])

    asyncio.run(send_beats(t, server.ws + "/v1/stream", token=TOKEN, stream_id="bs-2",
                           speed=50.0, on_item=on_item))  # fmt: skip
    assert acks == list(range(1, t.size + 1))


def test_without_stop_a_second_sender_resumes_the_stream(server: Live) -> None:
    t = af_like_beats(5)
    url, items = server.ws + "/v1/stream", []
    first = asyncio.run(
        send_beats(
            t[:200],
            url,
            token=TOKEN,
            stream_id="bs-3",
            speed=float("inf"),
            stop=False,
            on_item=items.append,
        )
    )
    second = asyncio.run(send_beats(t[200:], url, token=TOKEN, stream_id="bs-3",
                                    speed=float("inf"), on_item=items.append))  # fmt: skip
    assert not first.ended and second.ended and first.acknowledged == 200
    got = [x for x in items if x["type"] not in ("ack", "end")]
    assert got == json.loads(json.dumps(beat_stream_messages(t)))


def test_a_loop_keeps_the_clock_going() -> None:
    t = np.array([0.0, 1.0, 2.0])
    it = looped(t, loop=True)
    assert [next(it) for _ in range(7)] == [0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0]
    assert list(looped(t, loop=False)) == [0.0, 1.0, 2.0]


class FakeBeatServer:
    """Enough of /v1/stream for the beat sender: acks float64 frames, drops once."""

    def __init__(self, drop_at: int, consume_dropped: bool) -> None:
        self.drop_at = drop_at
        self.consume_dropped = consume_dropped
        self.received: list[float] = []
        self.frames = 0
        self.starts: list[dict[str, Any]] = []
        self.dropped = False

    async def handler(self, ws: ServerConnection) -> None:
        self.starts.append(json.loads(await ws.recv()))
        resumed = bool(self.received)
        await ws.send(
            json.dumps(
                {
                    "type": "ready",
                    "stream_id": "fake",
                    "resumed": resumed,
                    "samples": len(self.received),
                    "hop_s": 1,
                    "window_s": 10,
                }
            )
        )
        async for message in ws:
            if isinstance(message, str):
                assert json.loads(message) == {"type": "stop"}
                await ws.send(json.dumps({"type": "end", "samples": len(self.received)}))
                return
            beats = np.frombuffer(message, "<f8").tolist()
            self.frames += 1
            if self.frames == self.drop_at and not self.dropped:
                self.dropped = True
                if self.consume_dropped:
                    self.received += beats
                await ws.close(1011, "dropped")
                return
            self.received += beats
            await ws.send(json.dumps({"type": "ack", "samples": len(self.received)}))


@pytest.mark.parametrize("consume_dropped", [False, True])
def test_a_dropped_connection_resumes_without_losing_or_repeating(consume_dropped: bool) -> None:
    fake = FakeBeatServer(drop_at=3, consume_dropped=consume_dropped)
    t = regular_beats(900)  # four frames at full speed

    async def run() -> Any:
        async with serve(fake.handler, "127.0.0.1", 0) as srv:
            port = srv.sockets[0].getsockname()[1]
            return await send_beats(t, f"ws://127.0.0.1:{port}/v1/stream", token=TOKEN,
                                    stream_id="fake", speed=float("inf"))  # fmt: skip

    result = asyncio.run(run())
    assert fake.received == t.tolist()
    assert result.connections == 2 and result.acknowledged == t.size
    assert fake.starts[0] == {"type": "start", "stream_id": "fake", "format": "beats"}


def _csv(path: Path, header: str, values: np.ndarray) -> Path:
    path.write_text(header + "\n" + "\n".join(f"{v:.4f}" for v in values) + "\n")
    return path


def test_play_finds_a_beats_csv_and_streams_it(server: Live, tmp_path: Path) -> None:
    rr = np.diff(af_like_beats()) * 1000
    path = _csv(tmp_path / "strap.csv", "rr_ms", rr)
    result = runner.invoke(
        app,
        ["play", str(path), "--to", server.ws + "/v1/stream", "--token", TOKEN,
         "--id", "cli-beats", "--speed", "inf"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert f"sent {rr.size + 1} beats, the server acknowledged {rr.size + 1}" in result.stderr
    lines = result.stdout.splitlines()
    assert any(" af " in f" {line} " for line in lines) and any("normal" in x for x in lines)


def test_play_sends_pulse_timed_beats_for_the_pulse_model(server: Live, tmp_path: Path) -> None:
    t = np.round(pulse_timed_beats(), 4)
    path = _csv(tmp_path / "watch.csv", "time_s", t)
    to = ["--to", server.ws + "/v1/stream", "--token", TOKEN, "--speed", "inf"]
    shown = {}
    for timing in ("ecg", "pulse"):
        result = runner.invoke(app, ["play", str(path), *to, "--id", f"cli-{timing}",
                                     "--timing", timing])  # fmt: skip
        assert result.exit_code == 0, result.output
        shown[timing] = [line for line in result.stdout.splitlines() if " s  HR " in line]
        want = [w["label"] for w in beat_stream_messages(t, timing=timing)  # type: ignore[arg-type]
                if w["type"] == "window"]  # fmt: skip
        assert [line.split("bpm")[1].split()[0] for line in shown[timing]] == want
    assert "(pulse-timed)" in result.stderr
    assert shown["pulse"] != shown["ecg"]
    result = runner.invoke(app, ["play", str(path), *to, "--timing", "ppg"])
    assert result.exit_code == 2 and "--timing: expected ecg or pulse" in result.stderr
    ecg = str(tmp_path / "ecg.csv")
    _csv(Path(ecg), "time_s,II_mV", np.arange(3.0))
    result = runner.invoke(app, ["play", ecg, *to, "--timing", "pulse"])
    assert result.exit_code == 2 and "only a CSV of beats" in result.stderr
    missing = str(tmp_path / "gone.csv")
    result = runner.invoke(app, ["play", missing, *to, "--timing", "pulse"])
    assert result.exit_code == 2 and f"{missing}: no such file" in result.stderr


def test_which_csv_is_beats(tmp_path: Path) -> None:
    assert is_beats_csv(_csv(tmp_path / "a.csv", "time_s", np.arange(3.0)))
    assert is_beats_csv(_csv(tmp_path / "b.csv", "time_s,af,p_af", np.arange(3.0)))
    assert not is_beats_csv(_csv(tmp_path / "c.csv", "time_s,II_mV", np.arange(3.0)))
    assert not is_beats_csv(tmp_path / "missing.csv")
    # Spreadsheet exports: a byte-order mark, semicolons, capitals.
    (tmp_path / "e.csv").write_text("\ufeffRR_ms;af\n800;0\n", encoding="utf-8")
    assert is_beats_csv(tmp_path / "e.csv")
    (tmp_path / "f.csv").write_text("time_s;II_mV\n0;1,5\n", encoding="utf-8")
    assert not is_beats_csv(tmp_path / "f.csv")
    no_beats = _csv(tmp_path / "d.csv", "II_mV", np.arange(3.0))
    to = ["--to", "ws://127.0.0.1:9/v1/stream"]
    result = runner.invoke(app, ["play", str(no_beats), "--beats", *to])
    assert result.exit_code == 2 and "no time_s or rr_ms column" in result.stderr
    result = runner.invoke(app, ["play", str(no_beats), str(no_beats), "--beats", *to])
    assert result.exit_code == 2 and "give one CSV" in result.stderr
