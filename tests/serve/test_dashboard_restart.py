"""A ward across a restart: in real Chromium, against a real server with a store. The server
that comes back has lost the stream, which starts afresh on its own clock; the AF alarm
raised before is not carried on as if the outage never happened, nor lost: it is in the log,
ended at the last time known with the reason ``restarted``, and the fresh engine raises a new
one once it finds the AF again."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx

from cardiostream.io import read
from cardiostream.samples import sample_path
from cardiostream.serve import ServeConfig

from .browser import PageLog
from .browser import wait_until as _wait
from .conftest import start_server
from .feeder import Feeder

TOKEN = "restart-token"
BED = "bed-af"


def test_an_af_alarm_from_before_a_restart_is_ended_as_restarted_and_raised_anew(
    browser: Any, tmp_path: Path
) -> None:
    rec = read(sample_path("mitdb-201-af"))
    config = ServeConfig(tokens=[TOKEN], store=tmp_path, batch_wait_ms=1.0)
    server, thread, live = start_server(config)
    feeder = Feeder(live.ws, TOKEN, BED, rec.signal[:, 0], rec.fs, speed=4.0).start()
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    log = PageLog()
    log.attach(page)
    try:
        page.goto(f"{live.url}/?token={TOKEN}#/live")
        badge = page.locator(f"[data-testid=tile][data-stream='{BED}'] [data-testid=badge]")
        _wait(lambda: badge.get_attribute("data-priority") == "medium", 90, "the AF alarm")
        alarm_id = badge.get_attribute("data-alarm-id")
        assert alarm_id and badge.get_attribute("data-status") == "af"
    finally:
        feeder.drop.set()  # the connection drops, as it would when the server goes down
        feeder.thread.join(10)  # (stop() would send a stop message: an ended stream)
        server.should_exit = True
        thread.join(10)

    server, thread, live = start_server(config)
    try:
        feeder = Feeder(live.ws, TOKEN, BED, rec.signal[:, 0], rec.fs, speed=4.0).start()
        page.goto(f"{live.url}/?token={TOKEN}#/live")  # a new server: the page reloads
        log.errors.clear()  # the old page's retries while the server was down
        badge = page.locator(f"[data-testid=tile][data-stream='{BED}'] [data-testid=badge]")
        _wait(lambda: badge.get_attribute("data-priority") == "medium", 90, "a new AF alarm")
        assert badge.get_attribute("data-alarm-id") != alarm_id
        alarms = httpx.get(
            f"{live.url}/v1/alarms",
            params={"stream_id": BED},
            headers={"Authorization": f"Bearer {TOKEN}"},
            timeout=30,
        ).json()
        by_id = {str(a["id"]): a for a in alarms["alarms"]}  # fmt: skip
        before = by_id[alarm_id]
        assert before["state"] == "ended" and before["detail"]["end_reason"] == "restarted"
        assert before["ended_at"] is not None
        page.locator("[data-testid=open-log]").click()
        rows = page.locator(f"[data-testid=log-rows] tr[data-stream='{BED}']")
        _wait(lambda: rows.filter(has_text="AF").count() >= 2, 10, "both AF alarms in the log")
        texts = rows.all_inner_texts()
        assert sum("AF" in t and "active" in t for t in texts) == 1, texts
        assert not log.errors, log.errors
        feeder.stop()
    finally:
        server.should_exit = True
        thread.join(10)
