"""The ward in the gateway mode: streams analysed by a worker through a real ``redis-server``
still sweep on their tiles, and an AF patient's bed raises its AF alarm, as in the embedded
mode (``test_dashboard_ward.py``).

Set ``CARDIOSTREAM_SHOTS`` to a folder to keep a screenshot of the ward.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from cardiostream.io import read
from cardiostream.samples import sample_path
from cardiostream.serve import ServeConfig
from cardiostream.serve.gateway import _Display
from cardiostream.serve.redis_bus import Producer, ResultReader
from cardiostream.serve.session import Session
from cardiostream.serve.worker import Worker
from cardiostream.stream.processor import StreamProcessor

from .browser import PageLog
from .browser import wait_until as _wait
from .conftest import start_server
from .feeder import Feeder
from .redis_server import redis_server, start_worker, stop

TOKEN = "redis-ward-token"
AF_BED, SINUS_BED = "bed-1-af", "bed-2-sinus"


@pytest.fixture
def redis_url() -> Iterator[str]:
    yield from redis_server()


def _stream(page: Any, sid: str) -> dict[str, Any]:
    streams = page.evaluate("window.cardiostreamLive ? window.cardiostreamLive.streams() : []")
    return next((s for s in streams if s["id"] == sid), {})


def test_the_gateway_draws_what_the_embedded_engine_draws() -> None:
    """Frame by frame, the gateway's display line is the embedded engine's: both leads'
    trace (same times and values), and the R peaks and beat letters that a worker found in
    the frame and published with its progress marker."""
    import fakeredis

    rec = read(sample_path("mitdb-201-af"))
    # As a client sends them (float32), so that the worker and the engine analyse the same.
    x = rec.signal[: int(12 * rec.fs)].astype(np.float32).astype(np.float64)
    leads = ("MLII", "V1")
    session = Session("o", "s", rec.fs, StreamProcessor(rec.fs, lead=0), leads=leads, lead=0)
    client = fakeredis.FakeRedis()
    producer = Producer(client, n_shards=1)
    worker = Worker(client, [0], name="w1")
    reader = ResultReader(client, [0], start="0")
    display = _Display(rec.fs, leads, 0, 0)
    step = int(rec.fs / 4)
    peaks = beats = 0
    for n0 in range(0, x.shape[0], step):
        frame = x[n0 : n0 + step]
        session.processor.push(frame)
        embedded = json.loads(session.display_line(frame))
        producer.append("s", 1, n0, rec.fs, frame[:, 0], marks=True)
        while worker.step(block_ms=1):
            pass
        (marker,) = [r for r in reader.read(block_ms=1, markers=True) if r.message is None]
        assert marker.n == n0 + frame.shape[0]
        assert json.loads(display.line(frame, marker.marks)) == embedded
        peaks += len(embedded["peaks"])
        beats += len(embedded["beats"])
    assert peaks > 10 and beats > 10  # the marks were compared, not only empty lists


def test_the_ward_sweeps_and_alarms_for_streams_over_redis(browser: Any, redis_url: str) -> None:
    """An AF recording (two leads) and a sinus one through the gateway and a worker: both
    tiles sweep, the AF bed raises its AF alarm and the sinus bed none."""
    af = read(sample_path("mitdb-201-af"))
    sinus = read(sample_path("mitdb-100-nsr"))
    worker = start_worker(redis_url, "0,1", "--lease-s", "1")
    config = ServeConfig(tokens=[TOKEN], redis=redis_url, redis_shards=2, batch_wait_ms=1.0)
    server, thread, live = start_server(config)
    feeders = [
        Feeder(live.ws, TOKEN, AF_BED, af.signal.astype(np.float32), af.fs,
               leads=["MLII", "V1"], speed=2.0),
        Feeder(live.ws, TOKEN, SINUS_BED, sinus.signal[:, 0].astype(np.float32), sinus.fs,
               speed=2.0),
    ]  # fmt: skip
    try:
        page = browser.new_page(viewport={"width": 1280, "height": 800})
        log = PageLog()
        log.attach(page)
        page.goto(f"{live.url}/?token={TOKEN}#/live")
        for f in feeders:
            f.start()
        tiles = page.locator("[data-testid=tile]")
        _wait(lambda: tiles.count() == 2, 30, "two tiles")

        # Sweeping: the pen has drawn, and goes on drawing.
        for sid in (AF_BED, SINUS_BED):
            _wait(lambda sid=sid: _stream(page, sid).get("head") is not None, 30,
                  f"{sid}'s trace")  # fmt: skip
            head = _stream(page, sid)["head"]
            _wait(lambda sid=sid, head=head: _stream(page, sid)["head"] > head + 1.0, 10,
                  f"{sid}'s pen moving")  # fmt: skip
        assert _stream(page, AF_BED)["lead"] == "MLII"

        # The AF alarm, fed from the windows the worker published.
        badge = page.locator(f"[data-testid=tile][data-stream='{AF_BED}'] [data-testid=badge]")
        _wait(lambda: badge.get_attribute("data-priority") == "medium", 120, "the AF alarm")
        assert badge.get_attribute("data-status") == "af"
        assert any(a["kind"] == "af" for a in _stream(page, AF_BED)["alarms"])
        assert not _stream(page, SINUS_BED)["alarms"]
        assert _stream(page, SINUS_BED)["head"] is not None
        shots = os.environ.get("CARDIOSTREAM_SHOTS")
        if shots:
            Path(shots).mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(Path(shots) / "ward-redis.png"))
        assert not log.errors, log.errors
        for f in feeders:
            assert f.error is None, f.error
    finally:
        for f in feeders:
            f.stop()
        server.should_exit = True
        thread.join(30)
        stop(worker)
