"""A ward survives a restart: in real Chromium, against a real server with a store, an AF
alarm and its episode in progress are there again after the server restarts and the page
reloads, before the engine could have found the AF again."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from cardiostream.io import read
from cardiostream.samples import sample_path
from cardiostream.serve import ServeConfig

from .browser import PageLog
from .browser import wait_until as _wait
from .conftest import start_server
from .feeder import Feeder

TOKEN = "restart-token"
BED = "bed-af"


def test_an_af_alarm_and_its_open_episode_survive_a_restart_and_a_reload(
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
        feeder = Feeder(live.ws, TOKEN, BED, rec.signal[:, 0], rec.fs, speed=1.0).start()
        began = time.monotonic()
        page.goto(f"{live.url}/?token={TOKEN}#/live")  # a new server: the page reloads
        log.errors.clear()  # the old page's retries while the server was down
        badge = page.locator(f"[data-testid=tile][data-stream='{BED}'] [data-testid=badge]")
        _wait(lambda: badge.get_attribute("data-priority") == "medium", 30, "the AF alarm again")
        # The same alarm, from the log, well before a fresh engine could find AF again (its
        # first AF episode needs several AF windows after 10 s of signal).
        assert badge.get_attribute("data-alarm-id") == alarm_id
        assert time.monotonic() - began < 10.0
        tile = page.locator(f"[data-testid=tile][data-stream='{BED}']")
        assert "ongoing" in tile.inner_text()
        page.locator("[data-testid=open-log]").click()
        rows = page.locator(f"[data-testid=log-rows] tr[data-stream='{BED}']")
        _wait(lambda: rows.filter(has_text="Disconnected").count() > 0, 10, "the log")
        # Newest first: the disconnection the restart caused, then the AF alarm, still active.
        texts = rows.all_inner_texts()
        assert sum("AF" in t and "active" in t for t in texts) == 1, texts
        assert not log.errors, log.errors
        feeder.stop()
    finally:
        server.should_exit = True
        thread.join(10)
