"""Beat-time streams on the server: protocol, windows and AF episodes, alarms, listing,
dashboards' display lines, resume and engine restart."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import time
from typing import Any

import httpx
import numpy as np
import pytest
import websockets
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cardiostream.beats.af_rr import af_from_beats
from cardiostream.serve import ServeConfig
from cardiostream.stream.beat_stream import beat_stream_messages
from tests.stream.test_beat_stream import af_like_beats, pulse_timed_beats, regular_beats

from .conftest import TOKEN, Live, start_server
from .test_app import _stream
from .test_stream_fuzz import DEFINED, _close_code

AUTH = {"Authorization": f"Bearer {TOKEN}"}
BEATS = af_like_beats()


def _start(stream_id: str, **extra: Any) -> dict[str, Any]:
    return {"type": "start", "stream_id": stream_id, "format": "beats", **extra}


def _frames(t: np.ndarray, sizes: list[int]) -> list[bytes | str]:
    out: list[bytes | str] = []
    lo = 0
    while lo < t.size:
        n = sizes[len(out) % len(sizes)]
        out.append(t[lo : lo + n].astype("<f8").tobytes())
        lo += n
    return out


def _plain(lines: list[Any]) -> list[Any]:
    return json.loads(json.dumps(lines))


def test_a_beats_stream_gives_what_the_beat_processor_gives(live: Live) -> None:
    ready, got, code = asyncio.run(_stream(live, _frames(BEATS, [7, 1, 40, 13]), _start("strap-1")))
    assert ready["type"] == "ready" and ready["samples"] == 0 and not ready["resumed"]
    assert (ready["hop_s"], ready["window_s"]) == (1, 10)
    assert code == 1000
    assert got[-1] == {"type": "end", "samples": BEATS.size}
    assert got[:-1] == _plain(beat_stream_messages(BEATS))
    kinds = [x["type"] for x in got]
    assert kinds.count("event_open") == 1 and kinds.count("event") == 1


def test_fs_units_and_lead_are_ignored_and_acks_count_beats(live: Live) -> None:
    t = regular_beats(40)

    async def run() -> list[dict[str, Any]]:
        acks = []
        async with websockets.connect(live.ws + "/v1/stream", additional_headers=AUTH) as ws:
            await ws.send(json.dumps(_start("strap-2", fs=250, units="uV", lead="II")))
            await ws.recv()
            for frame in _frames(t, [15]):
                await ws.send(frame)
                acks.append(json.loads((await ws.recv()).split("\n")[-1]))
            await ws.send(json.dumps({"type": "stop"}))
            with pytest.raises(websockets.ConnectionClosed):
                while True:
                    await ws.recv()
        return acks

    assert asyncio.run(run()) == [{"type": "ack", "samples": n} for n in (15, 30, 40)]


async def _closed(live: Live, start: dict[str, Any], frames: list[bytes | str]) -> tuple[int, str]:
    async with websockets.connect(live.ws + "/v1/stream", additional_headers=AUTH) as ws:
        await ws.send(json.dumps(start))
        try:
            assert json.loads(await ws.recv())["type"] == "ready"
            for f in frames:
                await ws.send(f)
                await ws.recv()
        except websockets.ConnectionClosed as closed:
            assert closed.rcvd is not None
            return closed.rcvd.code, closed.rcvd.reason
    raise AssertionError("not closed")


def _f8(*values: float) -> bytes:
    return np.array(values, "<f8").tobytes()


@pytest.mark.parametrize(
    ("frames", "reason"),
    [
        ([_f8(0.5, float("nan"))], "not a finite number"),
        ([_f8(0.5, float("inf"))], "not a finite number"),
        ([_f8(-0.5, 1.0)], "outside 0 to 1e9"),
        ([_f8(1.0, 1.0)], "increase strictly"),
        ([_f8(1.0, 2.0), _f8(1.5)], "not after the last beat"),
        ([_f8(1.0)[:7]], "not a whole number of beats samples"),
        (['{"samples": [1.0, 2.0]}'], "expected binary samples"),
        ([np.array([1, 2, 3], "<f4").tobytes()], "not a whole number"),
    ],
)
def test_bad_beat_times_close_1003_with_a_reason(
    live: Live, frames: list[bytes | str], reason: str
) -> None:
    stream_id = f"bad-beats-{abs(hash(reason + repr(frames))) % 10**8}"
    code, said = asyncio.run(_closed(live, _start(stream_id), frames))
    assert code == 1003 and reason in said


async def _refused(live: Live, start: dict[str, Any]) -> tuple[int, str]:
    """The close code and reason of a start message the server refuses."""
    async with websockets.connect(live.ws + "/v1/stream", additional_headers=AUTH) as ws:
        await ws.send(json.dumps(start))
        try:
            await ws.recv()
        except websockets.ConnectionClosed as closed:
            assert closed.rcvd is not None
            return closed.rcvd.code, closed.rcvd.reason
    raise AssertionError("not closed")


def test_a_beats_start_with_leads_is_refused(live: Live) -> None:
    code, reason = asyncio.run(_refused(live, _start("bad-leads", leads=["I", "II"])))
    assert code == 1003 and "no leads" in reason


def test_an_ecg_stream_id_cannot_resume_as_beats(live: Live) -> None:
    signal_ = np.zeros(500, "<f4").tobytes()
    ecg = {"type": "start", "stream_id": "switch-1", "fs": 250}
    asyncio.run(_stream(live, [signal_], ecg, stop=False))
    code, reason = asyncio.run(_closed(live, _start("switch-1"), []))
    assert code == 1003 and "an ECG stream" in reason


def test_a_pulse_timed_stream_is_judged_by_the_pulse_model(live: Live) -> None:
    t = pulse_timed_beats()
    frames = _frames(t, [30, 11])
    half = len(frames) // 2
    start = _start("watch-1", timing="pulse")
    _, first, _ = asyncio.run(_stream(live, frames[:half], start, stop=False))
    listing = httpx.get(live.url + "/v1/streams", headers=AUTH, timeout=30).json()["streams"]
    info = next(s for s in listing if s["stream_id"] == "watch-1")
    assert (info["source"], info["timing"]) == ("beats", "pulse")
    code, reason = asyncio.run(_closed(live, _start("watch-1"), []))  # resumed as ECG-timed
    assert code == 1003 and "pulse-timed" in reason
    resumed, second, _ = asyncio.run(_stream(live, frames[half:], start))
    assert resumed["resumed"]
    pulse = _plain(beat_stream_messages(t, timing="pulse"))
    assert first + second[:-1] == pulse
    assert pulse != _plain(beat_stream_messages(t))  # the ECG model says otherwise


@pytest.mark.parametrize(
    ("start", "reason"),
    [
        (_start("tm-1", timing="ppg"), "timing: expected ecg or pulse"),
        (_start("tm-2", timing=1), "timing: expected ecg or pulse"),
        ({"type": "start", "stream_id": "tm-3", "fs": 250, "timing": "pulse"}, "only a beats"),
        ({"type": "start", "stream_id": "tm-4", "fs": 250, "timing": "ecg"}, "only a beats"),
    ],
)
def test_a_start_with_a_wrong_timing_is_refused(
    live: Live, start: dict[str, Any], reason: str
) -> None:
    code, said = asyncio.run(_refused(live, start))
    assert code == 1003 and reason in said


def test_resume_continues_the_beats_and_the_listing_shows_the_stream(live: Live) -> None:
    frames = _frames(BEATS[:300], [25])  # into the AF stretch, its episode open
    half = len(frames) // 2
    r1, first, _ = asyncio.run(_stream(live, frames[:half], _start("strap-3"), stop=False))
    r2, second, _ = asyncio.run(_stream(live, frames[half:], _start("strap-3"), stop=False))
    assert not r1["resumed"] and r2["resumed"] and r2["samples"] == 25 * half
    assert first + second == _plain(beat_stream_messages(BEATS)[: len(first + second)])

    listing = httpx.get(live.url + "/v1/streams", headers=AUTH, timeout=30).json()["streams"]
    info = next(s for s in listing if s["stream_id"] == "strap-3")
    assert info["source"] == "beats" and info["lead"] == "beat times" and info["fs"] == 0.0
    assert info["timing"] == "ecg"
    assert info["window"]["source"] == "beats"
    assert [e["kind"] for e in info["open_events"]] == ["af"]
    # The AF alarm is on; no technical alarm but the disconnection: the uncertain windows
    # of the first seconds (few_beats) are neither noise nor a lead off.
    kinds = sorted(a["kind"] for a in info["alarms"])
    assert kinds == ["af", "disconnected"]
    assert info["inop"] == "Disconnected"


def test_a_watching_dashboard_gets_beats_with_rr_and_af(live: Live) -> None:
    t = af_like_beats(7)

    async def run() -> list[dict[str, Any]]:
        seen: list[dict[str, Any]] = []
        async with websockets.connect(live.ws + "/v1/watch", additional_headers=AUTH) as dash:
            first = json.loads(await dash.recv())
            assert first["type"] == "streams"
            await _stream(live, _frames(t, [50]), _start("strap-4"), stop=False)
            deadline = time.monotonic() + 60
            while sum(len(d.get("peaks", [])) for d in seen) < t.size:
                assert time.monotonic() < deadline, "the display lines did not all come"
                for line in (await asyncio.wait_for(dash.recv(), 30)).split("\n"):
                    item = json.loads(line)
                    if item.get("stream_id") == "strap-4" and item["type"] == "display":
                        seen.append(item)
        return seen

    shown = asyncio.run(run())
    peaks = [p for d in shown for p in d["peaks"]]
    rr = [v for d in shown for v in d["rr_ms"]]
    af = [v for d in shown for v in d["af"]]
    assert peaks == [round(float(v), 3) for v in t]
    assert rr[0] is None
    np.testing.assert_allclose(rr[1:], np.round(np.diff(t) * 1000, 1), atol=0.06)
    assert af == af_from_beats(t).af.tolist()  # each beat's own call, as the detector's
    assert 0 < sum(af) < len(af)
    assert all(d["lead"] == "beat times" and d["leads"] == {} for d in shown)
    trace = httpx.get(live.url + "/v1/streams/strap-4/trace", headers=AUTH, timeout=30).json()
    assert trace["samples"] == []  # beat times give no samples to disclose
    strip = httpx.get(live.url + "/v1/streams/strap-4/strip.png", headers=AUTH, timeout=30)
    assert strip.status_code == 404 and "beat-time stream" in strip.json()["detail"]
    kept = [b for b in trace["rr"] if b[0] >= peaks[-1] - 120]
    assert kept == trace["rr"] and len(kept) > 100
    assert kept == [
        [p, r, a] for p, r, a in zip(peaks, rr, af, strict=True) if p >= peaks[-1] - 120
    ]


@pytest.mark.parametrize("timing", ["ecg", "pulse"])
def test_an_engine_killed_mid_beats_stream_loses_nothing(tmp_path: Any, timing: str) -> None:
    config = ServeConfig(tokens=[TOKEN], store=tmp_path, checkpoint_s=20.0, batch_wait_ms=2.0)
    server, thread, live = start_server(config)
    batcher: Any = live.app.state.batcher  # type: ignore[attr-defined]
    beats = BEATS if timing == "ecg" else pulse_timed_beats()
    frames = _frames(beats, [9])

    async def run() -> list[dict[str, Any]]:
        got: list[dict[str, Any]] = []
        async with websockets.connect(
            live.ws + "/v1/stream", additional_headers=AUTH, open_timeout=30
        ) as ws:
            await ws.send(json.dumps(_start("strap-k", timing=timing)))
            await ws.recv()
            for k, frame in enumerate(frames):
                if k == len(frames) // 2:
                    os.kill(batcher.engine_pid, signal.SIGKILL)
                await ws.send(frame)
                lines = [json.loads(x) for x in (await ws.recv()).split("\n")]
                assert lines.pop()["type"] == "ack"
                got += lines
            await ws.send(json.dumps({"type": "stop"}))
            try:
                while True:
                    got += [json.loads(x) for x in (await ws.recv()).split("\n")]
            except websockets.ConnectionClosed:
                pass
        return got

    old = batcher.engine_pid
    try:
        got = asyncio.run(run())
        assert batcher.engine_pid != old
    finally:
        server.should_exit = True
        thread.join(30)
    assert got[-1] == {"type": "end", "samples": beats.size}
    assert got[:-1] == _plain(beat_stream_messages(beats, timing=timing))  # type: ignore[arg-type]


BEAT_VALUES = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True, width=64),
    st.floats(0.0, 2000.0),
    st.sampled_from([0.0, -0.0, 1e9, 1e9 + 1, -1.0, 5e-324, 1e308]),
)


@st.composite
def beat_frames(draw: st.DrawFn) -> list[str | bytes]:
    """Frames of a beats stream: sound ones (increasing), garbled values, odd lengths, text."""
    out: list[str | bytes] = []
    t = draw(st.floats(0.0, 100.0))
    for _ in range(draw(st.integers(1, 5))):
        kind = draw(st.sampled_from(["good", "good", "values", "bytes", "text"]))
        if kind == "good":
            rr = draw(st.lists(st.floats(0.25, 2.0), min_size=0, max_size=40))
            times = (t + np.cumsum(rr)).tolist()
            t = times[-1] if times else t
            out.append(np.array(times, "<f8").tobytes())
        elif kind == "values":
            out.append(np.array(draw(st.lists(BEAT_VALUES, max_size=8)), "<f8").tobytes())
        elif kind == "bytes":
            out.append(draw(st.binary(max_size=40)))
        else:
            out.append(draw(st.sampled_from(['{"samples": [1, 2]}', "[", '{"type": "start"}'])))
    return out


def test_garbled_beat_frames_close_1003_never_1011(live: Live) -> None:
    codes: list[int] = []

    @given(sent=beat_frames(), n=st.integers(0, 10**6))
    @settings(max_examples=80, derandomize=True, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))  # fmt: skip
    def one_connection(sent: list[str | bytes], n: int) -> None:
        start = json.dumps(_start(f"fz-beats-{n}"))
        code = _close_code(live, start, sent)
        codes.append(code)
        assert code in DEFINED, (code, [f[:80] for f in sent])

    one_connection()
    assert codes.count(1003) > 10 and codes.count(1000) > 5
