"""The ward's layout on the screens a ward uses (1366x768, an 820x1180 tablet) in real
Chromium: clip marks that no one takes for an alarm, bed names and alarm words that stay
readable in compact tiles, the tablet's detail header, an unreachable server, a disconnected
bed, and the detail strips' and tachograms' labels.

The beds here are fed to the page as the server's watch socket would (``handle``), with a
synthetic ECG, so that thirty of them cost the shared test machine nothing.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from typing import Any

import pytest

from cardiostream.evaluate.bench.serve import _free_port
from cardiostream.serve import ServeConfig

from .browser import PageLog
from .browser import wait_until as _wait
from .conftest import Live, start_server

TOKEN = "layout-token"
LAPTOP = {"width": 1366, "height": 768}
TABLET = {"width": 820, "height": 1180}
PROBE = "(id) => window.cardiostreamTrace ? window.cardiostreamTrace.probe(id) : null"

#: Feeds ``beds`` to the page as the server would: a ``streams`` snapshot, then a display
#: line per bed every 200 ms (125 Hz, a Gaussian QRS of ``mv`` millivolts at ``hr`` bpm, each
#: beat of class ``letter`` (N); a beats bed gets its beats and RR intervals). A bed: {id, mv?,
#: hr?, letter?, source?, state?, window?, alarms?}.
FAKE_WARD = """(beds) => {
  const live = window.cardiostreamLive;
  const now = Date.now() / 1000;
  live.handle({ type: "streams", streams: beds.map((b) => ({
    stream_id: b.id, fs: b.source === "beats" ? 0 : 250, leads: ["ECG"],
    lead: b.source === "beats" ? "beat times" : "ECG", source: b.source || "ecg", timing: "ecg",
    controls: [], mode: null, state: b.state || "live", since: now - 120,
    last_frame_age_s: b.age || 0, window: b.window || null, events: [], trend: [], history: [],
    alarms: b.alarms || [] })) });
  const t0 = performance.now() / 1000 - 60; // stream time 60 s at the start
  const sent = new Map(beds.map((b) => [b.id, 60]));
  const feed = () => {
    const t = performance.now() / 1000 - t0;
    for (const b of beds) {
      if ((b.state || "live") !== "live" || b.silent) continue;
      const from = sent.get(b.id);
      const rr = 60 / (b.hr || 70);
      const peaks = [];
      for (let k = Math.ceil((from - 0.3) / rr); k * rr + 0.3 < t; k++) peaks.push(k * rr + 0.3);
      if (b.source === "beats") {
        live.handle({ type: "display", stream_id: b.id, t: from, fs: 0, lead: "beat times",
          leads: {}, peaks, rr_ms: peaks.map((p) => 1000 * rr * (1 + 0.15 * Math.sin(p / 5))),
          af: peaks.map(() => false) });
      } else {
        const n = Math.floor((t - from) * 125);
        const samples = [];
        for (let i = 0; i < n; i++) {
          const s = from + i / 125;
          const d = ((s - 0.3) % rr + rr) % rr;
          const q = Math.min(d, rr - d);
          samples.push((b.mv || 1.2) * Math.exp(-(q * q) / (2 * 0.012 * 0.012)) - 0.05);
        }
        live.handle({ type: "display", stream_id: b.id, t: from, fs: 125, lead: "ECG",
          leads: { ECG: samples }, peaks, beats: peaks.map((p) => [p, b.letter || "N"]) });
        sent.set(b.id, from + n / 125);
        continue;
      }
      sent.set(b.id, t);
    }
  };
  feed();
  window.fakeBeds = beds;
  window.fakeWard = setInterval(feed, 200);
}"""


def _alarm(i: int, sid: str, kind: str, priority: str, text: str) -> dict[str, Any]:
    return {"id": 70000 + i, "stream_id": sid, "kind": kind, "priority": priority,
            "technical": priority == "technical", "text": text, "state": "active",
            "acknowledged": False, "start_s": 50.0, "end_s": None,
            "started_at": time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime()),
            "ended_at": None, "ack_by": None, "ack_at": None, "detail": {}}  # fmt: skip


def _window(label: str = "normal", p: float = 0.92, hr: float = 70.0) -> dict[str, Any]:
    rest = (1 - p) / 3
    probs = {k: (p if k == label else rest) for k in ("normal", "af", "other", "noise")}
    return {"t_end": 60.0, "label": label, "raw_label": label, "probabilities": probs,
            "heart_rate_bpm": hr, "findings": [], "hrv": {"rmssd_ms": 30, "sdnn_ms": 40,
            "pnn50": 0.1, "mean_rr_ms": 850}, "quality": {"usable": True, "score": 1.0,
            "reasons": []}}  # fmt: skip


#: Thirty beds as the audit saw them: AF, noisy, leads off, disconnected, long names, a
#: chest strap's beat times, the rest sinus rhythm.
def _thirty() -> list[dict[str, Any]]:
    beds: list[dict[str, Any]] = []
    special = [
        ("sim-02", "noise", "technical", "Noisy signal"),
        ("sim-03", "leads_off", "technical", "Leads off"),
        ("sim-05", "af", "medium", "AF"),
        ("sim-06", "disconnected", "technical", "Disconnected"),
        ("bed-3-noisy", "noise", "technical", "Noisy signal"),
        ("bed-8-watch-pulse", "disconnected", "technical", "Disconnected"),
        ("bed-9-asystole", "asystole", "high", "Asystole"),
    ]
    for i, (sid, kind, prio, text) in enumerate(special):
        bed: dict[str, Any] = {
            "id": sid,
            "window": _window(),
            "alarms": [_alarm(i, sid, kind, prio, text)],
        }
        if kind == "disconnected":
            bed["state"] = "disconnected"
        beds.append(bed)
    beds.append({"id": "bed-7-strap", "source": "beats", "window": _window()})
    for i in range(30 - len(beds)):
        beds.append({"id": f"sim-{10 + i:02d}", "mv": 1.4, "hr": 60 + i, "window": _window()})
    return beds


@pytest.fixture(scope="module")
def live() -> Iterator[Live]:
    """A server with no streams of its own: the page's beds are fed to it (FAKE_WARD)."""
    server, thread, info = start_server(ServeConfig(tokens=[TOKEN], batch_wait_ms=1.0))
    yield info
    server.should_exit = True
    thread.join(10)


def _open(browser: Any, live: Live, viewport: dict[str, int], beds: list[dict[str, Any]]) -> Any:
    context = browser.new_context(viewport=viewport)
    page = context.new_page()
    page.log = PageLog()
    page.log.attach(page)
    page.goto(f"{live.url}/?token={TOKEN}#/live")
    # The server's own (empty) list first: it would take the fed beds away again.
    _wait(lambda: page.locator("#conn").inner_text() == "live", 20, "the watch socket")
    page.evaluate(FAKE_WARD, beds)
    _wait(lambda: page.locator("[data-testid=tile]").count() == len(beds), 10, "the tiles")
    return page


def _tile(page: Any, sid: str) -> Any:
    return page.locator(f"[data-testid=tile][data-stream='{sid}']")


def _probe(page: Any, sid: str) -> dict[str, Any]:
    found: dict[str, Any] = page.evaluate(PROBE, sid)
    return found


#: Pixels of the trace canvas in the alarms' reds (high priority's badge, edge and text, the
#: old clip mark's), and in the clip mark's grey.
PIXELS = """(id) => {
  const c = document.querySelector(`[data-stream='${id}'] [data-testid=trace]`);
  const d = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
  let red = 0, grey = 0;
  for (let i = 0; i < d.length; i += 4) {
    if (d[i + 3] < 200) continue;
    if (d[i] > 180 && d[i + 1] < 130 && d[i + 2] < 130) red++;
    const near = (k, v) => Math.abs(d[i + k] - v) < 12;
    if (near(0, 0xaa) && near(1, 0xb6) && near(2, 0xc2)) grey++;
  }
  return { red, grey };
}"""


def test_a_cut_r_wave_is_not_marked_like_a_high_priority_alarm(browser: Any, live: Live) -> None:
    """A compact tile fits its R waves (auto gain, unless the viewer chose a gain); where a
    trace is cut all the same, its mark is grey, with no red and no triangle."""
    page = _open(browser, live, LAPTOP, _thirty())
    sid = "sim-12"
    assert page.evaluate("window.cardiostreamLive.ward().density") == "compact"
    _wait(lambda: (_probe(page, sid) or {}).get("head"), 10, "a trace")
    gain = _tile(page, sid).locator("[data-testid=gain]")
    assert gain.inner_text().startswith("auto ×"), gain.inner_text()
    time.sleep(_probe(page, sid)["span"] + 0.5)
    probe = _probe(page, sid)
    assert not any(c for *_, c in probe["samples"]), "auto gain still cuts a 1.4 mV R wave"
    assert page.evaluate(PIXELS, sid)["red"] == 0
    # The viewer's ×2 cuts it: the cut is capped grey, never in an alarm's red.
    page.evaluate("([id, g]) => window.cardiostreamTrace.setGain(id, g)", [sid, 2])
    time.sleep(probe["span"] + 0.8)
    probe = _probe(page, sid)
    assert probe["clips"] > 0 and any(c for *_, c in probe["samples"])
    pixels = page.evaluate(PIXELS, sid)
    assert pixels["red"] == 0, pixels
    assert pixels["grey"] > 10, pixels
    # The viewer's choice stays when the density changes; a bed without one follows it.
    page.locator("[data-testid=density]").select_option("comfortable")
    assert gain.inner_text() == "×2"
    assert _tile(page, "sim-13").locator("[data-testid=gain]").inner_text() == "×1"
    assert page.log.errors == []
    page.context.close()


#: Per tile: the name, badge word and Ack, whether each is cut or outside the header, and
#: the boxes of the trace, its LEADS OFF label, gain button and stale note.
TILE_TEXT = """(tile) => {
  const q = (s) => tile.querySelector(s);
  const box = (el) => {
    if (!el || el.hidden || !el.offsetParent) return null;
    const r = el.getBoundingClientRect();
    return { l: r.left, r: r.right, t: r.top, b: r.bottom };
  };
  const cut = (el) => el.scrollWidth > el.clientWidth + 0.5;
  const badge = q("[data-testid=badge]"), word = badge.querySelector(".word");
  return { id: tile.dataset.stream, priority: badge.dataset.priority || null, tile: box(tile),
    word: word.textContent, sidCut: cut(q(".sid")), wordCut: cut(word) || cut(badge),
    header: box(q("header")), sid: box(q(".sid")), badge: box(badge),
    ack: box(q("[data-testid=ack]")), trace: box(q(".trace")),
    leadsOff: box(q("[data-testid=leads-off]")), gain: box(q("[data-testid=gain]")),
    stale: box(q(".stale-note")), staleCut: !q(".stale-note").hidden && cut(q(".stale-note")),
    staleText: q(".stale-note").hidden ? "" : q(".stale-note").textContent };
}"""


def _inside(inner: dict[str, float], outer: dict[str, float]) -> bool:
    return (inner["l"] >= outer["l"] - 0.5 and inner["r"] <= outer["r"] + 0.5
            and inner["t"] >= outer["t"] - 0.5 and inner["b"] <= outer["b"] + 0.5)  # fmt: skip


def _overlap(a: dict[str, float], b: dict[str, float]) -> bool:
    return a["l"] < b["r"] and b["l"] < a["r"] and a["t"] < b["b"] and b["t"] < a["b"]


@pytest.mark.parametrize("viewport", [LAPTOP, TABLET], ids=["1366x768", "820x1180"])
def test_compact_tiles_keep_bed_names_and_alarm_words_whole(
    browser: Any, live: Live, viewport: dict[str, int]
) -> None:
    """Thirty beds, compact: every bed's name is whole (an alarming bed's above all), the
    alarm's word is read whole (a shorter word where the header is short), the Ack button is
    in the tile's foot; LEADS OFF and "no samples" stay inside the trace, clear of the gain
    button."""
    page = _open(browser, live, viewport, _thirty())
    assert page.evaluate("window.cardiostreamLive.ward().density") == "compact"
    _wait(lambda: _tile(page, "sim-03").locator("[data-testid=leads-off]").is_visible(), 10,
          "LEADS OFF on sim-03")  # fmt: skip
    page.evaluate("() => { clearInterval(window.fakeWard); }")  # sim-10 ... stall: "no samples"
    time.sleep(5.5)
    tiles = [
        page.evaluate(TILE_TEXT, t) for t in page.locator("[data-testid=tile]").element_handles()
    ]
    by_id = {t["id"]: t for t in tiles}
    for t in tiles:
        assert not t["sidCut"], t
        assert _inside(t["sid"], t["header"]), t
        if t["priority"]:
            assert t["ack"] is not None and _inside(t["ack"], t["tile"]), t
            assert not _overlap(t["ack"], t["header"]) and not _overlap(t["ack"], t["trace"]), t
            assert t["sid"]["r"] <= t["badge"]["l"] and _inside(t["badge"], t["header"]), t
    # The audit's beds: a word read whole, full or short, never cut mid-way.
    noise, gone = {"Noisy signal", "Noisy"}, {"Disconnected", "Disconn."}
    for sid, words in [("sim-02", noise), ("bed-3-noisy", noise), ("sim-06", gone),
                       ("sim-03", {"Leads off"}), ("sim-05", {"AF"}),
                       ("bed-9-asystole", {"Asystole"})]:  # fmt: skip
        assert by_id[sid]["word"] in words and not by_id[sid]["wordCut"], by_id[sid]
    # The full words are still there, for the eye (the rate's reason) and the ear.
    noisy = _tile(page, "sim-02")
    assert noisy.locator("[data-testid=hr-why]").inner_text() == "Noisy signal"
    assert "Noisy signal" in (noisy.get_attribute("aria-label") or "")
    leads = by_id["sim-03"]
    assert leads["leadsOff"] and _inside(leads["leadsOff"], leads["trace"]), leads
    assert not _overlap(leads["leadsOff"], leads["gain"]), leads
    stalled = by_id["sim-12"]
    assert "no samples for" in stalled["staleText"], stalled
    assert not stalled["staleCut"] and _inside(stalled["stale"], stalled["trace"]), stalled
    assert page.log.errors == []
    page.context.close()


#: The detail header's parts: whether the name wraps or is cut, the badge's word is cut, a
#: probability is broken over two lines, or anything leaves the header.
DETAIL_HEAD = """() => {
  const head = document.querySelector("[data-testid=detail] header");
  const h2 = head.querySelector("h2"), badge = head.querySelector(".badge");
  const lines = (el) => {
    const r = document.createRange();
    r.selectNodeContents(el);
    return new Set([...r.getClientRects()].map((x) => Math.round(x.top))).size;
  };
  const box = head.getBoundingClientRect();
  const out = [...head.querySelectorAll("*")].filter((el) => el.getClientRects().length)
    .some((el) => el.getBoundingClientRect().right > box.right + 0.5);
  const probs = [...head.querySelectorAll("[data-testid=detail-probs] .prob")];
  return { name: h2.textContent, nameLines: lines(h2),
    nameCut: h2.scrollWidth > h2.clientWidth + 0.5, word: badge.textContent,
    badgeCut: badge.scrollWidth > badge.clientWidth + 0.5,
    probs: probs.map((p) => [p.textContent, lines(p)]), out };
}"""


def test_the_tablet_detail_header_keeps_name_badge_and_values_whole(
    browser: Any, live: Live
) -> None:
    """820x1180: the bed's name on one line, its badge whole, each probability on one line."""
    beds = _thirty()
    page = _open(browser, live, TABLET, beds)
    for sid in ("bed-9-asystole", "sim-05", "sim-12"):
        _tile(page, sid).locator(".sid").click()
        page.locator("[data-testid=detail]").wait_for(state="visible")
        probs = page.locator("[data-testid=detail-probs]")
        _wait(lambda probs=probs: "%" in probs.inner_text(), 5, "the probabilities")
        head = page.evaluate(DETAIL_HEAD)
        assert head["name"] == sid and head["nameLines"] == 1 and not head["nameCut"], head
        assert not head["badgeCut"] and head["word"] in ("▲Asystole", "◆AF", "●Normal"), head
        assert [n for _, n in head["probs"]] == [1, 1, 1, 1], head
        assert not head["out"], head
        page.keyboard.press("Escape")
        page.locator("[data-testid=detail]").wait_for(state="detached")
    # The server does not know the fed beds: their kept trace and alarm log are 404s.
    assert [e for e in page.log.errors if "404" not in e] == []
    page.context.close()


def test_an_unreachable_server_is_one_offline_state_not_an_alarm_per_bed(browser: Any) -> None:
    """The server goes away: the bar says since when monitoring is offline and that its alarms
    are as last known; the ward is greyed; no bed turns into a technical alarm ("No signal")
    of its own; the trace's words stay inside it. Back again: all of it goes."""
    port = _free_port()
    config = ServeConfig(tokens=[TOKEN], batch_wait_ms=1.0)
    server, thread, live = start_server(config, port)
    page = _open(browser, live, LAPTOP, _thirty())
    try:
        _wait(lambda: (_probe(page, "sim-12") or {}).get("head"), 10, "a trace")
        server.should_exit = True
        thread.join(10)
        page.evaluate("() => clearInterval(window.fakeWard)")  # nothing comes any more
        offline = page.locator("[data-testid=offline]")
        _wait(lambda: offline.is_visible(), 10, "the offline state")
        assert re.search(r"Monitoring offline since \d\d:\d\d:\d\d", offline.inner_text())
        assert "last known" in offline.inner_text()
        bar = page.locator("[data-testid=alarm-bar]")
        assert "stale" in (bar.get_attribute("class") or "")
        assert page.locator("[data-testid=bar-count]").is_hidden()
        time.sleep(5)  # past the 4 s after which a live bed's trace is called stale
        tiles = [
            page.evaluate(TILE_TEXT, t)
            for t in page.locator("[data-testid=tile]").element_handles()
        ]
        statuses = page.evaluate(
            """() => [...document.querySelectorAll("[data-testid=badge]")]
                .map((b) => [b.dataset.status, b.dataset.priority || null, b.className])"""
        )
        calm = [s for s in statuses if s[1] is None]
        assert calm and all(s[0] == "offline" and "technical" not in s[2] for s in calm), statuses
        for t in tiles:
            assert t["staleText"] == "offline" and not t["staleCut"], t
            assert _inside(t["stale"], t["trace"]), t
        grey = page.evaluate(
            "() => getComputedStyle(document.querySelector('[data-testid=tile]')).filter"
        )
        assert "grayscale" in grey
        # Back: the offline state goes at once, with the server's own (empty) ward.
        server, thread, live = start_server(config, port)
        _wait(lambda: offline.count() == 0, 30, "monitoring again")
        assert "stale" not in (bar.get_attribute("class") or "")
    finally:
        server.should_exit = True
        thread.join(10)
    # The browser logs the failed WebSocket connections while the server is down.
    assert all("WebSocket" in e for e in page.log.errors), page.log.errors
    page.context.close()


def test_a_disconnected_bed_shows_nothing_from_before_and_since_when(
    browser: Any, live: Live
) -> None:
    """A bed whose source drops: its last verdict ("normal 92 %") and HRV go with its rate,
    and the tile says since when it is disconnected (the clock time of its alarm)."""
    beds = [{"id": f"bed-{i}", "window": _window(p=0.92)} for i in range(1, 4)]
    page = _open(browser, live, {"width": 1400, "height": 900}, beds)
    tile = _tile(page, "bed-2")
    label = tile.locator("[data-testid=window-label]")
    _wait(lambda: label.is_visible() and "92 %" in label.inner_text(), 10, "the verdict")
    page.evaluate("() => { window.fakeBeds.find((b) => b.id === 'bed-2').silent = true; }")
    left = time.time() - 65
    alarm = _alarm(9, "bed-2", "disconnected", "technical", "Disconnected")
    alarm["started_at"] = time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(left))
    info = {"stream_id": "bed-2", "fs": 250, "leads": ["ECG"], "lead": "ECG", "source": "ecg",
            "timing": "ecg", "controls": [], "mode": None, "state": "disconnected",
            "since": left - 60, "last_frame_age_s": 65.0, "window": _window(p=0.92),
            "events": [], "trend": [], "history": [], "alarms": [alarm]}  # fmt: skip
    page.evaluate("(m) => window.cardiostreamLive.handle(m)", {"type": "stream", "stream": info})
    badge = tile.locator("[data-testid=badge]")
    _wait(lambda: badge.get_attribute("data-status") == "disconnected", 5, "disconnected")
    note = tile.locator(".stale-note")
    _wait(lambda: note.is_visible(), 5, "the trace's note")
    since = time.strftime("%H:%M:%S", time.localtime(left))
    assert note.inner_text() == f"disconnected since {since}"
    assert tile.locator("[data-testid=hr]").inner_text() == "---"
    assert not label.is_visible()
    assert not tile.locator("[data-testid=quality]").is_visible()
    assert not tile.locator("[data-k=rmssd]").is_visible()
    # Nothing from before the drop is read as current (Playwright reads what is visible).
    assert "92 %" not in tile.inner_text()
    # Its detail view says no probabilities either.
    tile.locator(".sid").click()
    page.locator("[data-testid=detail]").wait_for(state="visible")
    time.sleep(1.2)
    assert page.locator("[data-testid=detail-probs]").inner_text() == ""
    assert [e for e in page.log.errors if "404" not in e] == []
    page.context.close()


#: Magenta pixels (a V beat's letter) of the detail strips' last row, in the first 1.5 s of the
#: row and in 1.5 s ten seconds later.
LETTERS = """() => {
  const c = document.querySelector("[data-testid=detail-strips]");
  const d = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
  const row = c.height / 4, x = (s) => Math.round((s / 30) * c.width);
  const count = (s0, s1) => {
    let n = 0;
    for (let j = Math.floor(3 * row); j < c.height; j++) {
      for (let i = x(s0); i < x(s1); i++) {
        const k = 4 * (j * c.width + i);
        if (d[k] > 220 && d[k + 1] < 130 && d[k + 2] > 150) n++;
      }
    }
    return n;
  };
  return { first: count(0, 1.5), later: count(10, 11.5) };
}"""

#: Pixels drawn on a tachogram's pen canvas left of its axis labels' gutter (30 css px).
GUTTER_INK = """(id) => {
  const c = document.querySelector(`[data-stream='${id}'] [data-testid=trace]`);
  const g = Math.floor(28 * (window.devicePixelRatio || 1));
  const d = c.getContext("2d").getImageData(0, 0, g, c.height).data;
  let n = 0;
  for (let i = 3; i < d.length; i += 4) if (d[i] > 0) n++;
  return n;
}"""


def test_strip_clock_labels_and_tachogram_axes_hide_no_beats(browser: Any, live: Live) -> None:
    """The detail strips' clock labels leave the letters of a row's first beats readable; a
    beats tile's tachogram draws no beat over its RR labels and says nothing of a signal
    quality it does not have."""
    beds = [{"id": "bed-v", "hr": 60, "letter": "V", "window": _window()},
            {"id": "strap", "source": "beats", "hr": 60, "window": _window()}]  # fmt: skip
    page = _open(browser, live, {"width": 1400, "height": 900}, beds)
    strap = _tile(page, "strap")
    _wait(lambda: (_probe(page, "strap") or {}).get("beats"), 10, "the tachogram's beats")
    # Its first beats (stream time 60.3 s on) fall at the left edge of the sweep.
    assert page.evaluate(GUTTER_INK, "strap") == 0
    assert not strap.locator("[data-testid=quality]").is_visible()
    assert "Signal" not in strap.inner_text()
    assert _tile(page, "bed-v").locator("[data-testid=quality]").is_visible()
    # The ECG bed's strips, once its row holds 12 s: a letter in its first 1.5 s is as
    # visible as one ten seconds later.
    time.sleep(12)
    _tile(page, "bed-v").locator(".sid").click()
    page.locator("[data-testid=detail]").wait_for(state="visible")
    time.sleep(1.5)
    seen = page.evaluate(LETTERS)
    assert seen["later"] > 20, seen
    assert seen["first"] >= 0.8 * seen["later"], seen
    assert [e for e in page.log.errors if "404" not in e] == []
    page.context.close()
