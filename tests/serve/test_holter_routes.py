"""The Holter report of a stored record over HTTP: ``/v1/records/{id}/report.{fmt}``."""

from __future__ import annotations

import threading
from typing import Any

import httpx
import pytest

from cardiostream.report.holter import HolterResult
from cardiostream.serve.holter_routes import ReportCache

from .conftest import HOLTER_ID, SHORT_ID, TOKEN, HolterLive

pytest.importorskip("jinja2")

AUTH = {"Authorization": f"Bearer {TOKEN}"}


def _get(h: HolterLive, path: str, **kw: Any) -> httpx.Response:
    kw.setdefault("headers", AUTH)
    return httpx.get(f"{h.live.url}/v1/records{path}", timeout=300, **kw)


@pytest.fixture(scope="module")
def report(holter_live: HolterLive) -> dict[str, Any]:
    """The day's JSON report, asked for twice at once: the server computes it once."""
    answers: list[httpx.Response] = []

    def ask() -> None:
        answers.append(_get(holter_live, f"/{HOLTER_ID}/report.json"))

    threads = [threading.Thread(target=ask) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [a.status_code for a in answers] == [200, 200], answers[0].text
    assert holter_live.calls == {"0": 1}
    assert answers[0].json() == answers[1].json()
    doc: dict[str, Any] = answers[0].json()
    return doc


def test_the_json_report_of_a_stored_day(holter_live: HolterLive, report: dict[str, Any]) -> None:
    truth = holter_live.truth
    assert report["schema"] == "cardiostream-holter-v1"
    assert report["record"]["duration_s"] == pytest.approx(1200.0)
    assert report["record"]["start"] == "2026-01-05T08:00:00"
    assert report["record"]["name"] == "Test day"
    # The record id, not the file the server keeps (nor the one the record came from).
    assert report["record"]["source"] == HOLTER_ID
    pauses = truth["pauses"]
    assert isinstance(pauses, list)
    assert report["pauses"]["n_2s"] == len(pauses)
    assert report["pauses"]["longest"]["rr_s"] == pytest.approx(max(p[1] for p in pauses), abs=0.1)
    assert len(report["af"]["episodes"]) >= 1
    r = _get(holter_live, f"/{HOLTER_ID}/report.json")
    assert r.headers["content-type"] == "application/json"
    assert r.headers["content-disposition"] == f'inline; filename="{HOLTER_ID}_holter.json"'
    assert str(holter_live.live.config.store) not in r.text and "day.edf" not in r.text
    assert holter_live.calls == {"0": 1}  # kept


def test_pdf_and_html(holter_live: HolterLive, report: dict[str, Any]) -> None:
    pytest.importorskip("weasyprint")
    pdf = _get(holter_live, f"/{HOLTER_ID}/report.pdf", params={"download": "true"})
    assert pdf.status_code == 200, pdf.text
    assert pdf.headers["content-type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF")
    assert pdf.headers["content-disposition"] == f'attachment; filename="{HOLTER_ID}_holter.pdf"'
    html = _get(holter_live, f"/{HOLTER_ID}/report.html")
    assert html.status_code == 200 and html.headers["content-type"].startswith("text/html")
    assert "Test day" in html.text and "2026-01-05" in html.text
    assert holter_live.calls == {"0": 1}


def test_reviewers_annotations_are_in_the_report(
    holter_live: HolterLive, report: dict[str, Any]
) -> None:
    episode = report["af"]["episodes"][0]
    body = {"kind": "af", "status": "confirmed", "start_s": episode["start_s"] + 5.0,
            "end_s": episode["start_s"] + 60.0, "note": "palpitations, diary 08:07"}  # fmt: skip
    base = f"{holter_live.live.url}/v1/records/{HOLTER_ID}/user-annotations"
    made = httpx.post(base, json=body, headers=AUTH, timeout=30)
    assert made.status_code == 201, made.text
    try:
        doc = _get(holter_live, f"/{HOLTER_ID}/report.json").json()
        label = f"AF confirmed by {made.json()['author']}"
        assert doc["annotations"] == [
            {"t_s": body["start_s"], "end_s": body["end_s"], "label": label, "note": body["note"]}
        ]
        assert doc["af"]["episodes"][0]["annotations"] == [body["note"]]
        assert doc["af"]["longest"]["annotations"] == (
            [body["note"]] if doc["af"]["longest"]["start_s"] == episode["start_s"] else []
        )
        html = _get(holter_live, f"/{HOLTER_ID}/report.html").text
        assert "palpitations, diary 08:07" in html
    finally:
        assert httpx.delete(f"{base}/{made.json()['id']}", headers=AUTH, timeout=30).is_success
    # Gone from the report as soon as it is gone from the store; not computed again.
    again = _get(holter_live, f"/{HOLTER_ID}/report.json").json()
    assert again["annotations"] == [] and again["af"]["episodes"][0]["annotations"] == []
    assert holter_live.calls == {"0": 1}


def test_errors(holter_live: HolterLive) -> None:
    assert _get(holter_live, f"/{HOLTER_ID}/report.pdf", headers={}).status_code == 401
    assert _get(holter_live, "/nope/report.pdf").status_code == 404
    assert _get(holter_live, "/..%2Fx/report.json").status_code == 404
    assert _get(holter_live, f"/{HOLTER_ID}/report.docx").status_code == 422
    bad = _get(holter_live, f"/{HOLTER_ID}/report.json", params={"lead": "5"})
    assert bad.status_code == 422 and "lead" in bad.json()["detail"], bad.text
    short = _get(holter_live, f"/{SHORT_ID}/report.pdf")
    assert short.status_code == 422 and "at least 60 s" in short.json()["detail"], short.text


def test_a_missing_report_extra_is_501(
    holter_live: HolterLive, report: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    from cardiostream.report.holter import render

    def missing(*_: object) -> bytes:
        raise render._missing("weasyprint")

    monkeypatch.setattr(render, "render_pdf", missing)
    r = _get(holter_live, f"/{HOLTER_ID}/report.pdf")
    assert r.status_code == 501 and "cardiostream[report]" in r.json()["detail"], r.text


def test_the_cache_makes_each_key_once_and_keeps_the_latest() -> None:
    made: list[str] = []
    gate = threading.Event()

    def make(name: str) -> HolterResult:
        made.append(name)
        gate.wait(5)
        return HolterResult({}, {})  # type: ignore[typeddict-item]

    cache = ReportCache(size=2)
    threads = [
        threading.Thread(target=cache.get, args=(("a", "0"), lambda: make("a"))) for _ in range(4)
    ]
    for t in threads:
        t.start()
    gate.set()
    for t in threads:
        t.join()
    assert made == ["a"]
    cache.get(("b", "0"), lambda: make("b"))
    cache.get(("a", "0"), lambda: make("a"))  # used: now the latest
    cache.get(("c", "0"), lambda: make("c"))  # b goes
    cache.get(("a", "0"), lambda: make("a"))
    cache.get(("b", "0"), lambda: make("b"))
    assert made == ["a", "b", "c", "b"]

    def fails() -> HolterResult:
        raise ValueError("no")

    with pytest.raises(ValueError):
        cache.get(("d", "0"), fails)
    cache.get(("d", "0"), lambda: make("d"))  # an error is not kept
    assert made[-1] == "d"
