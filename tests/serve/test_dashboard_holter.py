"""The recordings browser's Holter report buttons, in real Chromium.

Screenshots of the page and of the report go to ``$CARDIOSTREAM_SHOTS`` when it names a
folder.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from .browser import PageLog
from .conftest import HOLTER_ID, SHORT_ID, TOKEN, HolterLive

pytest.importorskip("jinja2")

SHOTS = os.environ.get("CARDIOSTREAM_SHOTS")
STATE = "window.cardiostreamRecords ? window.cardiostreamRecords.state() : null"
NOTE = "document.querySelector('[data-testid=strip-note]').textContent"


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    page = context.new_page()
    page.set_default_timeout(120_000)
    yield page
    context.close()


def _open(page: Any, h: HolterLive, record: str) -> PageLog:
    log = PageLog()
    log.attach(page)
    page.goto(f"{h.live.url}/?token={TOKEN}#/records/{record}")
    page.wait_for_function(f"(() => {{ const s = {STATE}; return s && !s.loading; }})()")
    return log


def _shot(page: Any, name: str) -> None:
    if SHOTS:
        Path(SHOTS).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(SHOTS) / name))


def test_the_report_button_opens_the_pdf_of_the_record_and_lead(
    page: Any, holter_live: HolterLive
) -> None:
    pytest.importorskip("weasyprint")
    log = _open(page, holter_live, HOLTER_ID)
    button = page.get_by_test_id("report-pdf")
    assert button.inner_text() == "Holter report (PDF)" and button.is_enabled()
    with (
        page.context.expect_page() as tab,
        page.expect_response(re.compile(r"/report\.pdf")) as got,
    ):
        button.click()
        # Said at once, while the server works.
        page.wait_for_function(f"/Preparing the Holter report/.test({NOTE})")
    response = got.value
    assert response.ok, response.status
    assert response.headers["content-type"] == "application/pdf"
    assert response.request.headers.get("authorization") == f"Bearer {TOKEN}"
    assert response.url.endswith(f"/v1/records/{HOLTER_ID}/report.pdf?lead=0")
    page.wait_for_function(f"/opened in a new tab/.test({NOTE})")
    note = page.get_by_test_id("strip-note").inner_text()
    assert note == f"Holter report opened in a new tab ({HOLTER_ID}-ECG-holter.pdf).", note
    tab.value.wait_for_url(re.compile(r"^blob:"))
    _shot(page, "records-holter-button.png")
    assert log.errors == []


def test_the_html_report_opens_in_a_tab(page: Any, holter_live: HolterLive) -> None:
    log = _open(page, holter_live, HOLTER_ID)
    with page.context.expect_page() as tab:
        page.get_by_test_id("report-html").click()
    report = tab.value
    report.wait_for_url(re.compile(r"^blob:"))
    report.wait_for_load_state()
    assert "Test day" in report.content()
    report.set_viewport_size({"width": 1100, "height": 1400})
    _shot(report, "holter-report-html.png")
    assert log.errors == []


def test_a_record_too_short_is_said_in_words(page: Any, holter_live: HolterLive) -> None:
    _open(page, holter_live, SHORT_ID)
    page.get_by_test_id("report-pdf").click()
    page.wait_for_function(f"/Could not make/.test({NOTE})")
    note = page.get_by_test_id("strip-note").inner_text()
    assert "Could not make the Holter report" in note and "at least 60 s" in note, note
    assert len(page.context.pages) == 1  # the tab opened for it is closed again
