"""Beat-time streams in real Chromium: the tile and the detail view draw an RR tachogram (RR
interval against time, AF intervals tinted) where an ECG tile draws its trace, and say "beat
times" where the lead would be.

Set ``CARDIOSTREAM_DOCS_MEDIA=1`` to write the screenshots into ``docs/media/``.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

from cardiostream.io import read
from cardiostream.samples import sample_path
from cardiostream.serve import ServeConfig
from cardiostream.sim.beat_sender import send_beats

from .browser import PageLog, run_in_thread
from .browser import wait_until as _wait
from .conftest import Live, start_server
from .feeder import Feeder

TOKEN = "beats-token"
MEDIA = Path(__file__).resolve().parents[2] / "docs" / "media"
WRITE_DOCS = os.environ.get("CARDIOSTREAM_DOCS_MEDIA") == "1"
VIEWPORT = {"width": 1400, "height": 900}
PROBE = "(id) => window.cardiostreamTrace ? window.cardiostreamTrace.probe(id) : null"
#: Seconds of beats sent at once before the paced ones: the detail view's kept minutes.
HISTORY_S = 150.0


def _af_beats(seed: int, seconds: float, t0: float = 0.0) -> np.ndarray:
    """Irregularly irregular beats (RR uniform in 0.35-1.1 s) from ``t0``."""
    rr = np.random.default_rng(seed).uniform(0.35, 1.1, int(seconds / 0.7) + 1)
    return t0 + np.cumsum(np.r_[0.0, rr])


def _sinus_beats(seed: int, seconds: float, t0: float = 0.0, rr_s: float = 0.85) -> np.ndarray:
    rng = np.random.default_rng(seed)
    n = int(seconds / rr_s) + 1
    rr = rr_s * (1 + 0.03 * np.sin(np.arange(n) / 3) + 0.01 * rng.standard_normal(n))
    return t0 + np.cumsum(np.r_[0.0, rr])


def _strap(
    live: Live, stream_id: str, history: np.ndarray, paced: np.ndarray, timing: str = "ecg"
) -> Any:
    """A beats stream: ``history`` at once, then ``paced`` at real time (looping)."""
    url = live.ws + "/v1/stream"

    async def run() -> None:
        await send_beats(history, url, token=TOKEN, stream_id=stream_id, speed=float("inf"),
                         stop=False, timing=timing)  # fmt: skip
        # The paced beats go on in the same stream.
        await send_beats(paced, url, token=TOKEN, stream_id=stream_id, loop=True, timing=timing)

    loop = asyncio.new_event_loop()
    task = loop.create_task(run())
    return loop, task, run_in_thread(loop, task)


@pytest.fixture(scope="module")
def ward() -> Iterator[Live]:
    server, thread, live = start_server(ServeConfig(tokens=[TOKEN], batch_wait_ms=1.0))
    yield live
    server.should_exit = True
    thread.join(10)


@pytest.fixture(scope="module")
def page(browser: Any, ward: Live) -> Iterator[Any]:
    """The ward with an ECG bed, a strap in AF and a watch (pulse-timed beats) in sinus
    rhythm, opened before the beats start, so that the server keeps them for the detail
    view."""
    context = browser.new_context(viewport=VIEWPORT)
    page = context.new_page()
    page.set_default_timeout(20_000)
    page.log = PageLog()
    page.log.attach(page)
    page.goto(f"{ward.url}/?token={TOKEN}#/live")
    page.locator("[data-testid=live-count], .live-head").first.wait_for()
    nsr = read(sample_path("mitdb-100-nsr"))
    ecg = Feeder(ward.ws, TOKEN, "bed-ecg", nsr.signal[:, 0].astype(np.float32), nsr.fs).start()
    # The AF strap: sinus, then AF from 60 s on; its paced part goes on in AF.
    history = np.r_[_sinus_beats(1, 60.0), _af_beats(2, HISTORY_S - 61.0, t0=61.0)]
    sinus = _sinus_beats(4, HISTORY_S)
    straps = [
        _strap(ward, "strap-af", history, _af_beats(3, 120.0, t0=float(history[-1]) + 0.8)),
        _strap(
            ward,
            "watch-nsr",
            sinus,
            _sinus_beats(5, 120.0, t0=float(sinus[-1]) + 0.85),
            timing="pulse",
        ),
    ]
    _wait(lambda: page.locator("[data-testid=tile]").count() == 3, 30, "3 tiles")
    yield page
    for loop, task, runner in straps:
        loop.call_soon_threadsafe(task.cancel)
        runner.join(10)
    ecg.stop()
    assert page.log.errors == []
    context.close()


def _tile(page: Any, sid: str) -> Any:
    return page.locator(f"[data-testid=tile][data-stream='{sid}']")


def _probe(page: Any, sid: str) -> dict[str, Any]:
    found: dict[str, Any] = page.evaluate(PROBE, sid)
    return found


def _kept(page: Any, sid: str) -> list[list[Any]]:
    """The stream's beats as the server keeps them (``[time, rr_ms, af]``)."""
    url = page.url.split("/#")[0].split("/?")[0]
    doc = httpx.get(f"{url}/v1/streams/{sid}/trace?seconds=60",
                    headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30).json()  # fmt: skip
    rr: list[list[Any]] = doc["rr"]
    return rr


def test_a_beats_tile_draws_an_rr_tachogram_with_af_tinted(page: Any, tmp_path: Path) -> None:
    af = _wait(lambda: (p := _probe(page, "strap-af")) and len(p["beats"]) >= 4 and p, 30,
               "the AF strap's beats on its tachogram")  # fmt: skip
    assert af["kind"] == "rr"
    # A minute across the tile (an ECG trace of the same height sweeps a few seconds at
    # 25 mm/s): enough beats to see the rhythm.
    ecg = _wait(lambda: _probe(page, "bed-ecg"), 30, "the ECG trace")
    assert af["span"] == 60 and af["h"] == ecg["h"] and ecg["span"] < 15
    # Each beat at the height of its interval: a longer RR higher up, inside the axis.
    beats = np.array([[rr, y] for _, rr, _, y in af["beats"]])
    order = np.argsort(beats[:, 0])
    assert np.all(np.diff(beats[order, 1]) <= 0)
    assert np.all((beats[:, 1] > 0) & (beats[:, 1] < af["h"]))
    assert beats[:, 0].max() - beats[:, 0].min() > 150  # irregularly irregular
    # In AF for a minute and more: its beats are called AF; the sinus strap's are not.
    _wait(lambda: any(b[2] for b in _probe(page, "strap-af")["beats"]), 30, "AF beats drawn")
    # Every beat the server has between the first and the last drawn is drawn (none missed,
    # a late one included), at its own interval.
    for _ in range(3):
        drawn = _probe(page, "strap-af")["beats"]
        kept = _kept(page, "strap-af")
        # The tile shows a minute, as long as the server keeps: compare where both reach.
        first = max(drawn[0][0], kept[0][0]) - 1e-3
        drawn = [b for b in drawn if b[0] >= first]
        between = [b for b in kept if first <= b[0] <= drawn[-1][0] + 1e-3]
        assert [round(b[0], 3) for b in drawn] == [round(b[0], 3) for b in between]
        np.testing.assert_allclose([b[1] for b in drawn], [b[1] for b in between], atol=0.01)
        assert [b[2] for b in drawn] == [b[2] for b in between]
        time.sleep(1.3)
    nsr = _wait(lambda: (p := _probe(page, "watch-nsr")) and len(p["beats"]) >= 3 and p, 30,
                "the sinus strap's beats")  # fmt: skip
    assert not any(b[2] for b in nsr["beats"])
    assert all(700 < b[1] < 1000 for b in nsr["beats"])
    # "beat times" where an ECG tile names its lead; no gain button on a tachogram.
    tile = _tile(page, "strap-af")
    assert tile.locator("[data-testid=lead-note]").inner_text() == "beat times"
    assert tile.locator("[data-testid=gain]").count() == 0
    assert _tile(page, "bed-ecg").locator("[data-testid=lead-note]").count() == 0
    watch = _tile(page, "watch-nsr").locator("[data-testid=lead-note]")
    assert watch.inner_text() == "pulse beat times" and "pulse sensor" in watch.get_attribute(
        "title"
    )
    # Its HRV carries the pulse sensor's timing noise, and says so; the strap's does not.
    for k in ("rmssd", "sdnn", "pnn50"):
        row = _tile(page, "watch-nsr").locator(f"[data-testid=pulse-hrv-{k}]")
        assert row.locator("dt").inner_text().endswith("*")
        assert "timing noise" in row.get_attribute("title")
    assert tile.locator(".pulse-hrv").count() == 0
    # The rate and the rhythm come from the beats.
    _wait(lambda: tile.locator("[data-testid=hr]").inner_text() not in ("---", ""), 30, "HR")
    _wait(lambda: "AF" in tile.locator("[data-testid=badge]").inner_text().upper(), 60,
          "the AF strap's badge saying AF")  # fmt: skip
    # The ECG bed beside them for the picture, once its first windows are in.
    ecg_hr = _tile(page, "bed-ecg").locator("[data-testid=hr]")
    _wait(lambda: ecg_hr.inner_text() not in ("---", ""), 40, "the ECG bed's rate")
    # The window's verdict is read whole ("normal 100 %"); only the "rhythm:" prefix may
    # give way where the line is short.
    for sid in ("bed-ecg", "strap-af", "watch-nsr"):
        label = _tile(page, sid).locator("[data-testid=window-label]")
        _wait(lambda label=label: "%" in label.inner_text(), 30, f"{sid}'s verdict")
        assert label.evaluate(VERDICT_INSIDE), (sid, label.inner_text())
    box = page.locator(".tiles").bounding_box()
    path = MEDIA / "beats-ward.png" if WRITE_DOCS else tmp_path / "beats-ward.png"
    page.screenshot(
        path=str(path),
        clip={"x": 0, "y": 0, "width": VIEWPORT["width"], "height": box["y"] + box["height"] + 8},
    )
    tile.screenshot(path=str(tmp_path / "beats-tile.png"))


def test_the_detail_view_shows_minutes_of_tachogram(page: Any, tmp_path: Path) -> None:
    _tile(page, "strap-af").locator(".sid").click()
    detail = page.locator("[data-testid=detail]")
    detail.wait_for(state="visible")
    assert "RR tachogram" in detail.locator(".strip-head h3").inner_text()
    assert detail.locator("[data-testid=detail-gain]").is_hidden()
    strips = detail.locator("[data-testid=detail-strips]")
    # The server's kept beats fill the rows at once: two minutes hold well over 100 beats,
    # the AF ones among them.
    _wait(lambda: int(strips.get_attribute("data-beats") or 0) > 100, 30, "kept beats drawn")
    n_af = int(strips.get_attribute("data-af") or 0)
    assert 0 < n_af < int(strips.get_attribute("data-beats") or 0)
    path = MEDIA / "beats-detail.png" if WRITE_DOCS else tmp_path / "beats-detail.png"
    strips.screenshot(path=str(path))
    detail.locator("[data-testid=detail-close]").click()


VERDICT_INSIDE = """(label) => {
  const text = [...label.childNodes].find((n) => n.nodeType === Node.TEXT_NODE);
  const range = document.createRange();
  range.selectNodeContents(text);
  const r = range.getBoundingClientRect(), box = label.getBoundingClientRect();
  return r.left >= box.left - 0.5 && r.right <= box.right + 0.5;
}"""


LATE_BEAT = """async () => {
  const { BeatRing, Tachogram } = await import("/static/tachogram.js");
  const box = document.createElement("div");
  box.style.cssText = "position:relative;width:400px;height:120px";
  const paper = document.createElement("canvas");
  const pen = document.createElement("canvas");
  for (const c of [paper, pen]) c.style.cssText = "width:400px;height:120px";
  box.append(paper, pen);
  document.body.append(box);
  const ring = new BeatRing(60);
  const tacho = new Tachogram(paper, pen);
  ring.push([10.0, 10.8, 11.6], [null, 800, 800], [false, false, false]);
  tacho.advance(ring, [], 0, "#7ee787");           // anchored 1.5 s behind 11.6: at 10.1
  tacho.advance(ring, [], 2000, "#7ee787");        // the pen at 12.1, past every beat
  ring.push([12.0], [400], [true]);                // a beat the pen has passed already
  tacho.advance(ring, [], 2100, "#7ee787");
  ring.push([12.9], [900], [true]);
  tacho.advance(ring, [], 3000, "#7ee787");
  const probe = tacho.probe();
  box.remove();
  return probe;
}"""


def test_a_beat_that_comes_after_the_pen_passed_its_time_is_drawn(page: Any) -> None:
    probe = page.evaluate(LATE_BEAT)
    drawn = [(round(t, 3), rr, af) for t, rr, af, _ in probe["beats"]]
    assert drawn == [(10.8, 800.0, False), (11.6, 800.0, False), (12.0, 400.0, True),
                     (12.9, 900.0, True)]  # fmt: skip
    ys = {round(t, 3): y for t, _, _, y in probe["beats"]}
    assert ys[12.9] < ys[10.8] < ys[12.0]  # a longer interval higher up
