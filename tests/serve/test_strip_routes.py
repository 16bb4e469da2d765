"""Strips over HTTP: a span of a stored record, and the last seconds of a live bed."""

from __future__ import annotations

import asyncio
import io
import json
import re
import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Annotated, Any

import httpx
import numpy as np
import pytest
import websockets
from fastapi import Depends, FastAPI, Header, HTTPException
from fastapi.testclient import TestClient

from cardiostream.io import read
from cardiostream.samples import sample_path
from cardiostream.serve.strip_routes import add_strip_routes, clock_of, rhythm_in_span
from cardiostream.serve.watch import Watch

from .conftest import OTHER, TOKEN, Live

pytest.importorskip("matplotlib")

AUTH = {"Authorization": f"Bearer {TOKEN}"}
SVG = "{http://www.w3.org/2000/svg}"
PT_PER_MM = 72 / 25.4


def _texts(svg: bytes) -> str:
    root = ET.fromstring(svg)
    return "\n".join("".join(t.itertext()) for t in root.iter(SVG + "text"))


def _ids(svg: bytes, prefix: str) -> set[str]:
    root = ET.fromstring(svg)
    return {g.get("id", "") for g in root.iter(SVG + "g") if g.get("id", "").startswith(prefix)}


def _trace_width_mm(svg: bytes, row: int = 0) -> float:
    root = ET.fromstring(svg)
    found = next(g for g in root.iter(SVG + "g") if g.get("id") == f"trace-{row}")
    nums = [
        float(v)
        for path in found.iter(SVG + "path")
        for v in re.findall(r"-?\d+(?:\.\d+)?", path.get("d", ""))
    ]
    xs = nums[0::2]
    return (max(xs) - min(xs)) / PT_PER_MM


# ---------------------------------------------------------------- records


def test_a_record_span_as_png_pdf_and_svg(live: Live) -> None:
    url = f"{live.url}/v1/records/mitdb-201-af"
    png = httpx.get(url + "/strip.png", headers=AUTH, timeout=120)
    assert png.status_code == 200, png.text
    assert png.headers["content-type"] == "image/png"
    assert png.headers["content-disposition"] == 'inline; filename="mitdb-201-af_0-10s.png"'
    from PIL import Image

    image = Image.open(io.BytesIO(png.content))
    assert image.width / image.info["dpi"][0] * 25.4 == pytest.approx(297.0, abs=0.3)

    pdf = httpx.get(url + "/strip.pdf", params={"start": 5, "end": 75}, headers=AUTH, timeout=60)
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF")
    assert pdf.headers["content-disposition"].endswith('filename="mitdb-201-af_5-60s.pdf"')  # ends

    svg = httpx.get(url + "/strip.svg", params={"start": 20, "end": 30, "download": "true"},
                    headers=AUTH, timeout=60)  # fmt: skip
    assert svg.status_code == 200 and svg.headers["content-type"].startswith("image/svg+xml")
    assert svg.headers["content-disposition"].startswith("attachment;")
    text = _texts(svg.content)
    assert "mitdb-201-af" in text and "lead MLII" in text
    assert "record time 20.0 s – 30.0 s" in text
    assert "Rhythm: AF" in text and re.search(r"HR \d+ bpm", text)
    assert "25 mm/s · 10 mm/mV" in text
    assert _trace_width_mm(svg.content) == pytest.approx(250.0 - 25 / 360, abs=0.05)
    # The beat letters are the beat classifier's, as /beats gives them.
    beats = httpx.get(url + "/beats", headers=AUTH, timeout=60).json()
    expected = {
        f"beat-{c}-{t:.3f}"
        for t, c in zip(beats["t_s"], beats["label"], strict=True)
        if 20 <= t < 30 and c in "VSFQ"
    }
    assert _ids(svg.content, "beat-") == expected


def test_a_record_without_af_and_another_lead(live: Live) -> None:
    url = f"{live.url}/v1/records/mitdb-100-nsr/strip.svg"
    got = httpx.get(url, params={"lead": "V5", "end": 8}, headers=AUTH, timeout=120)
    assert got.status_code == 200, got.text
    text = _texts(got.content)
    assert "Rhythm: no AF episode" in text and "lead V5" in text and "– 8.0 s" in text


@pytest.mark.parametrize(
    ("path", "params", "status", "detail"),
    [
        ("/v1/records/no-such/strip.png", {}, 404, "no such record"),
        ("/v1/records/mitdb-201-af/strip.png", {"start": 0, "end": 400}, 422, "at most 300 s"),
        ("/v1/records/mitdb-201-af/strip.png", {"start": 10, "end": 5}, 422, "after start"),
        ("/v1/records/mitdb-201-af/strip.png", {"start": 100}, 422, "past the end"),
        ("/v1/records/mitdb-201-af/strip.png", {"start": -1}, 422, "start"),
        ("/v1/records/mitdb-201-af/strip.png", {"lead": "V9"}, 422, "V9"),
        ("/v1/records/mitdb-201-af/strip.gif", {}, 422, "fmt"),
        ("/v1/streams/no-such-bed/strip.png", {}, 404, "no live stream"),
        ("/v1/streams/no-such-bed/strip.png", {"seconds": 0}, 422, "seconds"),
        ("/v1/streams/no-such-bed/strip.png", {"seconds": 301}, 422, "seconds"),
    ],
)
def test_strip_errors(
    live: Live, path: str, params: dict[str, Any], status: int, detail: str
) -> None:
    got = httpx.get(live.url + path, params=params, headers=AUTH, timeout=60)
    assert got.status_code == status, got.text
    assert detail in got.json()["detail"]


def test_strips_need_a_token(live: Live) -> None:
    for path in ("/v1/records/mitdb-201-af/strip.png", "/v1/streams/x/strip.pdf"):
        assert httpx.get(live.url + path, timeout=30).status_code == 401


def test_rhythm_of_a_span_and_clock_of_a_start() -> None:
    events = [{"kind": "af", "start_s": 10.0, "end_s": 40.0}]
    assert rhythm_in_span(events, 15.0, 25.0) == "AF"
    assert rhythm_in_span(events, 35.0, 45.0) == "AF in part (5 s of 10 s)"
    assert rhythm_in_span(events, 50.0, 60.0) == "no AF episode"
    assert clock_of("2026-12-06T08:00:00Z") == datetime(2026, 12, 6, 8, tzinfo=UTC)
    assert clock_of(0.0) == datetime(1970, 1, 1, tzinfo=UTC)
    assert clock_of("yesterday") is None and clock_of(None) is None and clock_of(True) is None


# ---------------------------------------------------------------- live beds


def _display(t: float, values: list[float | None], peaks: list[float], beats: list[Any]) -> str:
    return json.dumps({"type": "display", "t": t, "fs": 125.0, "lead": "II",
                       "leads": {"II": values, "V1": [0.0] * len(values)},
                       "peaks": peaks, "beats": beats})  # fmt: skip


def _fed_watch(seconds: int = 12) -> Watch:
    """A watch with one bed, ``bed-4``, fed ``seconds`` one-second display lines (an R wave
    each second, a V beat at 7.5 s, a gap at 9.0-9.5 s) and a window."""
    watch = Watch(resume_ttl_s=60.0)
    watch.opened("alice", "bed-4", 250.0, ("II", "V1"), 0)
    watch.opened("alice", "bed-quiet", 250.0, ("II",), 0)
    t = np.arange(125) / 125
    wave = np.exp(-0.5 * ((t - 0.5) / 0.012) ** 2)
    for k in range(seconds):
        values: list[float | None] = [float(v) for v in wave]
        if k == 9:
            values[:63] = [None] * 63
        beats = [[k + 0.5, "V" if k == 7 else "N"]]
        window = {"type": "window", "t_end": k + 1.0, "heart_rate_bpm": 72.0, "label": "af"}
        watch.frame("alice", "bed-4", [("display", _display(k, values, [k + 0.5], beats)),
                                       ("window", json.dumps(window))])  # fmt: skip
    return watch


def _client(watch: Watch) -> TestClient:
    app = FastAPI()

    def who(x_owner: Annotated[str | None, Header()] = None) -> str:
        if not x_owner:
            raise HTTPException(401, "who?")
        return x_owner

    def no_store() -> Any:
        raise HTTPException(404, "no store")

    def known(record_id: str) -> str:
        raise HTTPException(404, "no such record")

    add_strip_routes(app, Annotated[str, Depends(who)], no_store, known, lambda: watch)
    return TestClient(app, headers={"X-Owner": "alice"})


def test_the_last_seconds_of_a_bed() -> None:
    watch = _fed_watch()
    info = watch.streams[("alice", "bed-4")]
    info.start_time = datetime(2026, 12, 6, 8, 0, 0, tzinfo=UTC)  # type: ignore[attr-defined]
    client = _client(watch)
    got = client.get("/v1/streams/bed-4/strip.svg", params={"seconds": 10})
    assert got.status_code == 200, got.text
    assert got.headers["content-disposition"] == 'inline; filename="bed-4_20261206-080002.svg"'
    text = _texts(got.content)
    assert "bed-4" in text and "lead II" in text
    assert "2026-12-06 08:00:02 – 08:00:12 UTC" in text
    assert "HR 72 bpm" in text and "Rhythm: AF" in text and "25 mm/s · 10 mm/mV" in text
    assert _ids(got.content, "beat-") == {"beat-V-7.500"}
    root = ET.fromstring(got.content)
    trace = next(g for g in root.iter(SVG + "g") if g.get("id") == "trace-0")
    assert sum(p.get("d", "").count("M ") for p in trace.iter(SVG + "path")) == 2  # the gap
    assert _trace_width_mm(got.content) == pytest.approx(250.0 - 25 / 125, abs=0.05)

    png = client.get("/v1/streams/bed-4/strip.png", params={"download": True})
    assert png.status_code == 200 and png.headers["content-type"] == "image/png"
    assert png.headers["content-disposition"].startswith('attachment; filename="bed-4_')
    pdf = client.get("/v1/streams/bed-4/strip.pdf", params={"seconds": 120})
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")  # 12 s: all there is


def test_a_bed_without_its_start_time_is_timed_from_when_the_server_saw_it() -> None:
    watch = _fed_watch()
    info = watch.streams[("alice", "bed-4")]
    info.since = 1_800_000_000.0
    watch.desk = SimpleNamespace(beds={})  # type: ignore[attr-defined]  # nor an alarm bed's
    info.window = json.dumps({"type": "window", "heart_rate_bpm": None, "label": "noise"})
    got = _client(watch).get("/v1/streams/bed-4/strip.svg", params={"seconds": 5})
    assert got.status_code == 200, got.text
    start = datetime.fromtimestamp(1_800_000_007.0, tz=UTC).astimezone()
    text = _texts(got.content)
    assert start.strftime("%Y-%m-%d %H:%M:%S") in text
    assert "HR —" in text and "Rhythm: noise" in text  # no rate from the peaks over it
    assert start.strftime("%Y%m%d-%H%M%S") in got.headers["content-disposition"]


def test_a_bed_is_timed_from_the_start_time_its_alarm_bed_keeps() -> None:
    watch = _fed_watch()
    bed = SimpleNamespace(start_time=1_700_000_000.0)
    watch.desk = SimpleNamespace(beds={("alice", "bed-4"): bed})  # type: ignore[attr-defined]
    got = _client(watch).get("/v1/streams/bed-4/strip.svg", params={"seconds": 10})
    assert got.status_code == 200, got.text
    start = datetime.fromtimestamp(1_700_000_002.0, tz=UTC).astimezone()
    assert start.strftime("%Y-%m-%d %H:%M:%S") in _texts(got.content)


def test_no_trace_kept_or_no_such_bed_is_404() -> None:
    client = _client(_fed_watch())
    quiet = client.get("/v1/streams/bed-quiet/strip.png")
    assert quiet.status_code == 404 and "no samples yet" in quiet.json()["detail"]
    assert client.get("/v1/streams/bed-9/strip.png").status_code == 404
    other = client.get("/v1/streams/bed-4/strip.png", headers={"X-Owner": "bob"})
    assert other.status_code == 404  # another token's bed is not there for it
    assert client.get("/v1/streams/bed-4/strip.png", headers={"X-Owner": ""}).status_code == 401


def test_a_live_bed_through_the_server_while_a_dashboard_is_open(live: Live) -> None:
    record = read(sample_path("mitdb-100-nsr"))
    x = record.signal[: int(12 * record.fs), 0].astype(np.float32)
    url = f"{live.url}/v1/streams/strip-100/strip"

    async def go() -> None:
        dash = await websockets.connect(f"{live.ws}/v1/watch?token={TOKEN}")
        await dash.recv()
        stream = await websockets.connect(live.ws + "/v1/stream", additional_headers=AUTH)
        await stream.send(json.dumps({"type": "start", "stream_id": "strip-100",
                                      "fs": record.fs}))  # fmt: skip
        await stream.recv()
        step = int(record.fs)
        for i in range(0, x.size, step):
            await stream.send(x[i : i + step].tobytes())
            await stream.recv()
        got = await asyncio.to_thread(httpx.get, url + ".svg", headers=AUTH, timeout=60)
        assert got.status_code == 200, got.text
        text = _texts(got.content)
        assert "strip-100" in text and "lead ECG" in text  # a stream not naming its lead
        # The rate and rhythm of the bed's last window.
        assert re.search(r"HR \d+ bpm", text) and re.search(r"Rhythm: [a-zA-Z]", text)
        assert 200.0 < _trace_width_mm(got.content) < 250.0
        # The other token has no such bed.
        other = {"Authorization": f"Bearer {OTHER}"}
        nope = await asyncio.to_thread(httpx.get, url + ".png", headers=other, timeout=60)
        assert nope.status_code == 404
        await stream.send(json.dumps({"type": "stop"}))
        await stream.recv()
        for ws in (stream, dash):
            await ws.close()

    asyncio.run(go())
