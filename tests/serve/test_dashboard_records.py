"""The recordings browser in real Chromium, against the session's server and its store.

Set ``CARDIOSTREAM_DOCS_MEDIA=1`` to write the screenshot into ``docs/figures/``.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

from cardiostream.io import ParquetStore, read
from cardiostream.record import Annotations, BeatTable, Record, RhythmTable
from cardiostream.samples import sample_path

from .browser import PageLog
from .conftest import TOKEN, Live

AF_ID = "mitdb-201-af"
#: NSR, AF, NSR, AF (60 s each, lead MLII): a record with two AF episodes to jump between.
MIXED_ID = "test-browse-mixed"
#: MITDB 119: ventricular bigeminy, its reference beats and the classifier's side by side.
PVC_ID = "mitdb-119-pvc"
FIGURE = Path(__file__).resolve().parents[2] / "docs" / "figures" / "dashboard_records.png"
WRITE_DOCS = os.environ.get("CARDIOSTREAM_DOCS_MEDIA") == "1"
VIEWPORT = {"width": 1400, "height": 900}
STATE = "window.cardiostreamRecords ? window.cardiostreamRecords.state() : null"


def _api(live: Live, method: str, path: str, **kw: Any) -> httpx.Response:
    headers = {"Authorization": f"Bearer {TOKEN}"}
    return httpx.request(method, f"{live.url}{path}", headers=headers, timeout=30, **kw)


def _annotations(live: Live, record: str) -> list[dict[str, Any]]:
    r = _api(live, "GET", f"/v1/records/{record}/user-annotations")
    assert r.status_code == 200, r.text
    found: list[dict[str, Any]] = r.json()["annotations"]
    return found


@pytest.fixture
def mine(live: Live) -> Iterator[Callable[[], list[dict[str, Any]]]]:
    """The annotations of AF_ID made during the test; deleted at its end, so the tests sharing
    the server see none of them."""
    before = {a["id"] for a in _annotations(live, AF_ID)}

    def made() -> list[dict[str, Any]]:
        return [a for a in _annotations(live, AF_ID) if a["id"] not in before]

    yield made
    for a in made():
        assert _api(live, "DELETE", f"/v1/records/{AF_ID}/user-annotations/{a['id']}").is_success


@pytest.fixture(scope="module")
def mixed(live: Live) -> Iterator[str]:
    """A 4-min record with two AF episodes, added to the session's store for this module."""
    nsr, af = read(sample_path("mitdb-100-nsr")), read(sample_path("mitdb-201-af"))
    parts, n = [nsr, af, nsr, af], nsr.n_samples
    assert af.n_samples == n
    beats = BeatTable(
        np.concatenate([p.annotations.beats.sample + i * n for i, p in enumerate(parts)]),
        np.concatenate([p.annotations.beats.symbol for p in parts]),
    )
    rhythms = RhythmTable(np.arange(4) * n, np.arange(1, 5) * n, np.array(["N", "AFIB"] * 2))
    signal = np.concatenate([p.signal[:, :1] for p in parts])
    record = Record(signal, nsr.fs, ["MLII"], MIXED_ID, Annotations(beats, rhythms))
    assert live.config.store is not None
    store = ParquetStore(live.config.store)
    store.write(record, MIXED_ID)
    yield MIXED_ID
    shutil.rmtree(store.partition_dir(MIXED_ID), ignore_errors=True)


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport=VIEWPORT, accept_downloads=True)
    page = context.new_page()
    page.set_default_timeout(30_000)
    yield page
    context.close()


def _open(page: Any, live: Live, record: str = AF_ID) -> PageLog:
    log = PageLog()
    log.attach(page)
    page.goto(f"{live.url}/?token={TOKEN}#/records/{record}")
    _drawn(page)
    return log


def _drawn(page: Any) -> dict[str, Any]:
    """Wait until the strip is drawn with its slice, beats and detected events."""
    page.wait_for_function(
        f"(() => {{ const s = {STATE}; return s && !s.loading && s.n_beats_drawn > 0"
        " && s.events_state === 'ready'; })()"
    )
    return _state(page)


def _state(page: Any) -> dict[str, Any]:
    state: dict[str, Any] = page.evaluate(STATE)
    return state


def _start(page: Any) -> float:
    text = page.get_by_test_id("view-start").inner_text()
    match = re.fullmatch(r"(\d+\.\d) s", text)
    assert match, text
    return float(match.group(1))


def _wait_start(page: Any, value: float) -> None:
    page.wait_for_function(f"Math.abs(({STATE}).start_s - {value}) < 0.06")


def _trace_pixels(page: Any) -> int:
    """How many pixels of the strip have the trace's green (the paper is red on dark)."""
    return int(
        page.evaluate(
            """() => {
              const c = document.querySelector("[data-testid=trace-canvas]");
              const d = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
              let n = 0;
              for (let i = 0; i < d.length; i += 4) if (d[i + 1] > 150 && d[i] < 160) n++;
              return n;
            }"""
        )
    )


def test_the_page_loads_without_errors_and_drops_the_token(page: Any, live: Live) -> None:
    log = _open(page, live)
    assert "token=" not in page.url
    assert page.url.split("#")[1].startswith(f"/records/{AF_ID}")
    assert page.get_by_test_id("records-error").is_hidden()
    assert log.errors == []


def test_a_record_shows_a_slice_with_its_overlays(page: Any, live: Live) -> None:
    log = _open(page, live)
    state = _state(page)
    assert state["record"] == AF_ID and state["lead"] == 0
    assert state["start_s"] == 0 and state["duration_s"] == 15
    # MITDB 201 runs at about 90/min here: 15 s holds some 20 beats.
    assert 15 <= state["n_beats_drawn"] <= 30
    assert abs(state["n_peaks_drawn"] - state["n_beats_drawn"]) <= 3
    assert state["n_events"] == 1
    assert _trace_pixels(page) > 1000
    assert page.get_by_test_id("lead-select").locator("option").all_inner_texts() == ["MLII", "V1"]
    assert page.get_by_test_id("event-list").locator("li").count() == 1

    page.get_by_test_id("lead-select").select_option("1")
    page.wait_for_function(f"({STATE}).lead === 1")
    assert _drawn(page)["n_beats_drawn"] > 10

    page.get_by_test_id("window-select").select_option("30")
    assert 35 <= _drawn(page)["n_beats_drawn"] <= 60

    page.get_by_test_id("record-select").select_option("mitdb-100-nsr")
    page.wait_for_function(f"({STATE}).record === 'mitdb-100-nsr'")
    state = _drawn(page)
    assert state["lead"] == 0 and state["n_events"] == 0 and state["n_beats_drawn"] > 25
    page.wait_for_function("location.hash === '#/records/mitdb-100-nsr/0/0.0/30'")
    assert log.errors == []


def test_zoom_and_pan_with_the_mouse_and_the_keys(page: Any, live: Live) -> None:
    log = _open(page, live)
    canvas = page.get_by_test_id("trace-canvas")
    box = canvas.bounding_box()
    assert box is not None
    page.keyboard.press("ArrowRight")  # by a quarter of the 15 s window
    _wait_start(page, 3.75)
    page.keyboard.press("End")
    _wait_start(page, 45.0)
    assert _start(page) == 45.0
    page.keyboard.press("Home")
    _wait_start(page, 0.0)

    # A drag to the left by half the strip moves the window half its length later.
    y = box["y"] + box["height"] / 2
    page.mouse.move(box["x"] + box["width"] * 0.75, y)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * 0.25, y, steps=8)
    page.mouse.up()
    assert abs(_state(page)["start_s"] - 7.5) < 0.2

    # The wheel zooms about the pointer: the time under it stays put.
    x = box["x"] + box["width"] * 0.5
    page.mouse.move(x, y)
    page.mouse.wheel(0, -300)
    page.wait_for_function(f"({STATE}).duration_s < 14")
    state = _state(page)
    assert abs(state["start_s"] + state["duration_s"] / 2 - 15.0) < 0.3
    page.keyboard.press("-")
    page.wait_for_function(f"({STATE}).duration_s > 14")
    assert page.get_by_test_id("window-select").input_value() == "custom"
    assert _drawn(page)["n_beats_drawn"] > 10
    assert log.errors == []


def test_next_and_previous_af_jump_between_episodes(page: Any, live: Live, mixed: str) -> None:
    log = _open(page, live, mixed)
    events = _api(live, "GET", f"/v1/records/{mixed}/events").json()["events"]
    assert _state(page)["n_events"] == len(events)
    # The engine's other kinds (an SVT run of 3 beats in the AF, here) are not AF episodes.
    onsets = [e["start_s"] for e in events if e["kind"] == "af"]
    assert len(onsets) == 2, events
    assert 50 < onsets[0] < 70 and 170 < onsets[1] < 190

    def shows(onset: float) -> bool:
        start = _start(page)
        return start < onset < start + 15

    page.get_by_test_id("next-af").click()
    page.wait_for_function(f"({STATE}).start_s > 40")
    assert shows(onsets[0])
    page.keyboard.press("n")
    page.wait_for_function(f"({STATE}).start_s > 160")
    assert shows(onsets[1])
    assert _drawn(page)["n_beats_drawn"] > 10
    page.get_by_test_id("next-af").click()
    page.get_by_text("No later AF episode").wait_for()
    page.keyboard.press("p")
    page.wait_for_function(f"({STATE}).start_s < 100")
    assert shows(onsets[0])

    # A record that is AF throughout: from its end, "previous" goes back to its onset.
    page.get_by_test_id("record-select").select_option(AF_ID)
    _drawn(page)
    page.keyboard.press("End")
    _wait_start(page, 45.0)
    page.get_by_test_id("prev-af").click()
    _wait_start(page, 0.0)
    assert log.errors == []


@pytest.fixture(scope="module")
def pvc(live: Live) -> Iterator[str]:
    """MITDB 119 in the session's store for this module."""
    assert live.config.store is not None
    store = ParquetStore(live.config.store)
    store.write(read(sample_path(PVC_ID)), PVC_ID)
    yield PVC_ID
    shutil.rmtree(store.partition_dir(PVC_ID), ignore_errors=True)


def test_classified_beats_and_find_next_v_and_next_episode_of_a_kind(
    page: Any, live: Live, pvc: str, tmp_path: Path
) -> None:
    beats = _api(live, "GET", f"/v1/records/{pvc}/beats", params={"lead": "0"}).json()
    assert set(beats) == {"record", "lead", "fs", "t_s", "label", "p"}
    assert beats["label"].count("V") > 10 and len(beats["t_s"]) == len(beats["label"])
    log = _open(page, live, pvc)
    page.wait_for_function(f"({STATE}).beats_state === 'ready'")
    state = _drawn(page)
    assert abs(state["n_classified_drawn"] - state["n_beats_drawn"]) <= 2

    # Next V (button, then the key): each lands on a beat the classifier and the reference
    # both call V, centred in the view.
    reference = _api(live, "GET", f"/v1/records/{pvc}/annotations").json()["beats"]
    ref_v = [n / 360.0 for n, sym in zip(reference["sample"], reference["symbol"], strict=True)
             if sym == "V"]  # fmt: skip
    seen = []
    for press in (lambda: page.get_by_test_id("next-v").click(), lambda: page.keyboard.press("v")):
        press()
        page.wait_for_function(f"(({STATE}).found || {{}}).t > {seen[-1] if seen else -1}")
        found = _state(page)["found"]
        assert found["cls"] == "V" and found["source"] == "classifier" and found["ref"] == "V"
        assert min(abs(t - found["t"]) for t in ref_v) < 0.1
        state = _state(page)
        centre = state["start_s"] + state["duration_s"] / 2
        assert abs(centre - found["t"]) < 0.05 or state["start_s"] == 0
        seen.append(found["t"])
    page.keyboard.press("Shift+V")
    page.wait_for_function(f"({STATE}).found.t < {seen[-1]}")
    assert _state(page)["found"]["t"] == seen[0]
    page.get_by_test_id("next-s").click()  # 119 has no S beat: said, not an error
    page.get_by_text("No later S beat (classifier).").wait_for()

    # The kind chooser lists what was detected; n goes to the next episode of that kind.
    events = _api(live, "GET", f"/v1/records/{pvc}/events").json()["events"]
    onsets = [e["start_s"] for e in events if e["kind"] == "ventricular_bigeminy"]
    assert len(onsets) >= 2
    options = page.get_by_test_id("event-kind").locator("option").all_inner_texts()
    assert options[0].startswith("AF") and f"Bigeminy ({len(onsets)})" in options
    page.get_by_test_id("event-kind").select_option("ventricular_bigeminy")
    page.keyboard.press("Home")
    _wait_start(page, 0.0)
    page.keyboard.press("n")
    later = next(t for t in onsets if t - 1.5 > 0.05)
    page.wait_for_function(f"({STATE}).start_s > 0.5")
    assert _start(page) < later < _start(page) + 15
    assert page.get_by_test_id("event-list").locator("li[data-kind=af]").count() == 0
    assert "Bigeminy" in page.get_by_test_id("event-list").inner_text()

    page.keyboard.press("Home")
    _wait_start(page, 0.0)
    page.get_by_test_id("next-v").click()
    page.wait_for_function(f"({STATE}).found && ({STATE}).found.t < {seen[0] + 0.01}")
    page.mouse.move(0, 0)
    page.wait_for_timeout(300)
    page.screenshot(path=str(tmp_path / "records_119.png"))
    assert log.errors == []


def test_calipers_measure_an_interval(page: Any, live: Live) -> None:
    log = _open(page, live)
    canvas = page.get_by_test_id("trace-canvas")
    box = canvas.bounding_box()
    assert box is not None
    readout = page.get_by_test_id("caliper-readout")
    page.get_by_test_id("caliper-toggle").click()
    assert page.get_by_test_id("caliper-toggle").get_attribute("aria-pressed") == "true"
    assert readout.inner_text() == "click two points"
    width = box["width"]
    canvas.click(position={"x": width * 0.2, "y": 150})
    canvas.click(position={"x": width * 0.25, "y": 150})
    text = readout.inner_text()
    match = re.fullmatch(r"Δt (\d+) ms · (\d+) bpm", text)
    assert match, text
    assert abs(int(match.group(1)) - 750) <= 15  # 5 % of 15 s
    assert abs(int(match.group(2)) - 80) <= 2
    # The mark form offers the calipers' interval.
    assert abs(float(page.get_by_test_id("mark-start").input_value()) - 3.0) < 0.05
    assert abs(float(page.get_by_test_id("mark-end").input_value()) - 3.75) < 0.05

    page.keyboard.press("Escape")
    assert readout.inner_text() == "click two points"
    page.keyboard.press("c")  # key c: the mode off again, no readout
    assert readout.inner_text() == ""
    # A drag measures too, and the calipers never pan the strip.
    page.keyboard.press("c")
    y = box["y"] + 150
    page.mouse.move(box["x"] + width * 0.5, y)
    page.mouse.down()
    page.mouse.move(box["x"] + width * 0.6, y, steps=5)
    page.mouse.up()
    match = re.fullmatch(r"Δt (\d+) ms · \d+ bpm", readout.inner_text())
    assert match and abs(int(match.group(1)) - 1500) <= 20
    assert _state(page)["start_s"] == 0
    assert log.errors == []


def test_annotations_are_saved_and_come_back_after_a_reload(
    page: Any, live: Live, mine: Callable[[], list[dict[str, Any]]], tmp_path: Path
) -> None:
    log = _open(page, live)
    users = page.get_by_test_id("user-annotation-list")
    page.get_by_text("None yet.").wait_for()

    # Mark an episode by hand.
    page.get_by_test_id("mark-start").fill("8")
    page.get_by_test_id("mark-end").fill("12.5")
    page.get_by_test_id("mark-kind").select_option("noise")
    page.get_by_test_id("mark-note").fill("electrode motion")
    page.get_by_test_id("mark-submit").click()
    users.locator("[data-annotation-id]").first.wait_for()
    assert "electrode motion" in users.inner_text()

    # Confirm the detected event.
    events = page.get_by_test_id("event-list")
    events.get_by_test_id("event-confirm").click()
    events.get_by_text("confirmed").wait_for()
    assert events.get_by_test_id("event-undo").count() == 1
    page.wait_for_function(f"({STATE}).n_user_annotations === 2")

    saved = mine()
    made = {a["status"]: a for a in saved}
    assert made.keys() == {"marked", "confirmed"}
    assert made["marked"]["kind"] == "noise" and made["marked"]["note"] == "electrode motion"
    assert (made["marked"]["start_s"], made["marked"]["end_s"]) == (8.0, 12.5)
    assert made["confirmed"]["kind"] == "af" and made["confirmed"]["event"]["start_s"] == 0.0

    page.reload()
    _drawn(page)
    page.wait_for_function(f"({STATE}).n_user_annotations === 2")
    ids = users.locator("[data-annotation-id]").evaluate_all(
        "rows => rows.map(r => r.dataset.annotationId)"
    )
    assert set(ids) >= {a["id"] for a in saved}
    assert page.get_by_test_id("event-list").get_by_text("confirmed").is_visible()

    # The README's picture: AF on the paper, the annotations, calipers over one RR interval.
    page.get_by_test_id("caliper-toggle").click()
    canvas = page.get_by_test_id("trace-canvas")
    box = canvas.bounding_box()
    assert box is not None
    peaks = _api(live, "GET", f"/v1/records/{AF_ID}/rpeaks", params={"start": 0}).json()
    rr = [p for p in peaks["peaks_s"] if 5 < p < 8][:2]
    for t in rr:
        canvas.click(position={"x": box["width"] * t / 15, "y": 200})
    assert page.get_by_test_id("caliper-readout").inner_text().startswith("Δt ")
    page.mouse.move(0, 0)
    page.wait_for_timeout(300)  # a frame for the last drawing
    page.screenshot(path=str(FIGURE if WRITE_DOCS else tmp_path / FIGURE.name))

    # Undo the review: it is deleted on the server too.
    page.get_by_test_id("event-list").get_by_test_id("event-undo").click()
    page.get_by_test_id("event-list").get_by_test_id("event-confirm").wait_for()
    assert [a["status"] for a in mine()] == ["marked"]
    assert log.errors == []


def test_reviews_can_be_rejected_edited_and_deleted(
    page: Any, live: Live, mine: Callable[[], list[dict[str, Any]]]
) -> None:
    log = _open(page, live)
    events = page.get_by_test_id("event-list")
    events.get_by_test_id("event-reject").click()
    events.get_by_text("rejected").wait_for()
    (rejected,) = mine()
    assert (rejected["status"], rejected["kind"]) == ("rejected", "af")

    page.get_by_test_id("mark-note").fill("before")
    page.get_by_test_id("mark-submit").click()
    page.wait_for_function(f"({STATE}).n_user_annotations === 2")
    (marked,) = [a for a in mine() if a["status"] == "marked"]
    row = page.locator(f"[data-annotation-id='{marked['id']}']")
    row.get_by_role("button", name="Edit").click()
    page.get_by_test_id("mark-note").fill("after")
    page.get_by_test_id("mark-submit").click()
    row.get_by_text("after").wait_for()
    (edited,) = [a for a in mine() if a["id"] == marked["id"]]
    assert edited["note"] == "after" and edited["start_s"] == marked["start_s"]

    for ann in (rejected, edited):
        row = page.locator(f"[data-annotation-id='{ann['id']}']")
        row.get_by_test_id("annotation-delete").click()
        row.wait_for(state="detached")
    assert mine() == []
    events.get_by_test_id("event-confirm").wait_for()
    assert log.errors == []


def test_export_downloads_csv_and_wfdb(
    page: Any, live: Live, mine: Callable[[], list[dict[str, Any]]], tmp_path: Path
) -> None:
    body = {"kind": "af", "status": "marked", "start_s": 2.0, "end_s": 9.0, "note": "export"}
    assert _api(live, "POST", f"/v1/records/{AF_ID}/user-annotations", json=body).status_code == 201
    log = _open(page, live)
    page.wait_for_function(f"({STATE}).n_user_annotations >= 1")
    with page.expect_download() as info:
        page.get_by_test_id("export-csv").click()
    download = info.value
    assert download.suggested_filename == f"{AF_ID}.csv"
    path = tmp_path / download.suggested_filename
    download.save_as(path)
    lines = path.read_text(encoding="utf-8").splitlines()
    assert lines[0].startswith("id,kind,status,start_s,end_s,note")
    assert len(lines) == 1 + len(_annotations(live, AF_ID))
    assert any(",export," in line for line in lines[1:])
    assert len(mine()) == 1

    with page.expect_download() as info:
        page.get_by_test_id("export-wfdb").click()
    download = info.value
    assert download.suggested_filename == f"{AF_ID}.usr"
    download.save_as(tmp_path / download.suggested_filename)
    assert (tmp_path / download.suggested_filename).stat().st_size > 0
    assert log.errors == []


def test_an_unknown_record_is_said_in_words(page: Any, live: Live) -> None:
    log = PageLog()
    log.attach(page)
    page.goto(f"{live.url}/?token={TOKEN}#/records/nope")
    error = page.get_by_test_id("records-error")
    error.wait_for()
    assert "“nope” is not in the store" in error.inner_text()
    page.get_by_test_id("record-list").locator(f"[data-record='{AF_ID}']").wait_for()
    assert page.url.endswith("#/records")
    # The browser logs the 404 itself; the page throws nothing.
    assert [e for e in log.errors if "404" not in e] == []

    page.get_by_test_id("record-list").get_by_text(AF_ID).click()
    _drawn(page)
    assert error.is_hidden()


def test_a_record_that_vanishes_while_shown(page: Any, live: Live) -> None:
    assert live.config.store is not None
    store = ParquetStore(live.config.store)
    store.write(read(sample_path("mitdb-100-nsr")), "test-browse-vanish")
    try:
        _open(page, live, "test-browse-vanish")
    finally:
        shutil.rmtree(store.partition_dir("test-browse-vanish"))
    page.keyboard.press("End")  # its last 20 s were not fetched yet
    error = page.get_by_test_id("records-error")
    error.wait_for()
    assert "“test-browse-vanish” is not in the store" in error.inner_text()
    page.get_by_test_id("record-list").locator(f"[data-record='{AF_ID}']").wait_for()


def test_an_unreachable_server_is_said_and_retried(page: Any, live: Live) -> None:
    _open(page, live)
    page.route("**/v1/records/**", lambda route: route.abort())
    page.keyboard.press("End")
    error = page.get_by_test_id("records-error")
    error.get_by_text("Server unreachable, retrying").wait_for()
    page.unroute("**/v1/records/**")
    error.wait_for(state="hidden", timeout=10_000)
    state = _drawn(page)
    assert state["start_s"] == 45.0 and state["n_beats_drawn"] > 10


def test_missing_r_peaks_are_a_hint_not_an_error(page: Any, live: Live) -> None:
    page.route(
        "**/rpeaks?*",
        lambda route: route.fulfill(status=404, json={"detail": "Not Found"}),
    )
    _open(page, live)
    page.get_by_text("R peaks unavailable").wait_for()
    state = _state(page)
    assert state["n_peaks_drawn"] == 0 and state["n_beats_drawn"] > 10
    assert page.get_by_test_id("records-error").is_hidden()


def test_a_strip_of_the_span_on_screen_or_the_calipers(page: Any, live: Live) -> None:
    """Strip PDF and PNG ask for the span on screen (then the calipers' span) with the token
    in the request, as every other fetch of the page (a plain link could not carry it)."""
    log = _open(page, live)
    with page.expect_response(re.compile(r"/strip\.pdf\?")) as answered:
        page.get_by_test_id("strip-pdf").click()
    request = answered.value.request
    assert answered.value.ok, answered.value.status
    assert answered.value.headers["content-type"] == "application/pdf"
    assert request.headers.get("authorization") == f"Bearer {TOKEN}"
    assert f"/v1/records/{AF_ID}/strip.pdf?start=0.000&end=15.000" in request.url
    note = page.get_by_test_id("strip-note")
    page.wait_for_function(
        "!/Preparing/.test(document.querySelector('[data-testid=strip-note]').textContent)"
    )
    assert "opened" in note.inner_text() or "blocked" in note.inner_text(), note.inner_text()
    # With both caliper points set, their span is printed instead (and as PNG too).
    canvas = page.get_by_test_id("trace-canvas")
    box = canvas.bounding_box()
    assert box is not None
    page.get_by_test_id("caliper-toggle").click()
    canvas.click(position={"x": box["width"] * 0.2, "y": 150})
    canvas.click(position={"x": box["width"] * 0.6, "y": 150})
    with page.expect_response(re.compile(r"/strip\.png\?")) as png:
        page.get_by_test_id("strip-png").click()
    assert png.value.ok and png.value.headers["content-type"] == "image/png"
    url = png.value.url
    match = re.search(r"start=([\d.]+)&end=([\d.]+)", url)
    assert match, url
    assert abs(float(match.group(1)) - 3.0) < 0.1 and abs(float(match.group(2)) - 9.0) < 0.1
    assert png.value.request.headers.get("authorization") == f"Bearer {TOKEN}"
    assert log.errors == []
