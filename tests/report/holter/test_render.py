"""The Holter report as HTML and PDF: the numbers as specified, self-contained, A4 pages with
landscape strips true to scale, the same figures in the PDF's text, and a mostly unusable
recording that says so."""

from __future__ import annotations

import builtins
import re
import shutil
import struct
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cardiostream.errors import InputError
from cardiostream.report.holter import render
from cardiostream.report.holter.contract import HolterReport, StripSignal
from cardiostream.report.holter.render import render_html, render_pdf
from tests.report.holter.sample_report import holter_report, strip_signals, unusable_report

pytest.importorskip("jinja2")

MM = 96.0 / 25.4  # CSS pixels per millimetre


@pytest.fixture(scope="module")
def report() -> HolterReport:
    return holter_report(hours=24, n_strips=6)


@pytest.fixture(scope="module")
def strips(report: HolterReport) -> dict[str, StripSignal]:
    return strip_signals(report)


@pytest.fixture(scope="module")
def html(report: HolterReport, strips: dict[str, StripSignal]) -> str:
    return render_html(report, strips)


@pytest.fixture(scope="module")
def pdf(report: HolterReport, strips: dict[str, StripSignal]) -> bytes:
    pytest.importorskip("weasyprint")
    return render_pdf(report, strips)


def plain(html: str) -> str:
    """The HTML's text without tags or pictures, whitespace collapsed."""
    body = re.sub(r"<svg.*?</svg>", " ", html, flags=re.S)
    body = re.sub(r"<style.*?</style>", " ", body, flags=re.S)
    body = re.sub(r"<[^>]+>", " ", body).replace("&lt;", "<").replace("&gt;", ">")
    return re.sub(r"\s+", " ", body.replace("&amp;", "&"))


#: Figures of the sample report as the report must print them, in HTML and PDF alike.
KEY_FIGURES = ["4.9 %", "12,345", "47 bpm", "141 bpm", "132 ms", "103,482"]


def test_the_html_prints_the_numbers_as_specified(html: str) -> None:
    text = plain(html)
    for expected in [
        "Holter report holter-0042",
        "2026-03-02 08:15:00",
        "Acme PatchRec 3",
        "I, II, V5 (analysed: II, 250 Hz)",
        "24 h 0 min",  # recording
        "22 h 48 min (95.0 %)",  # analysable
        "Lead off 1 h 0 min",  # unusable, by reason
        "Noise 12 min",
        "rhythm model rhythm-3f9a2c",
        "Total beats 103,482",
        "47 bpm at day 2 00:56:00",  # minimum, past midnight
        "141 bpm at 11:35:00",
        "Mean 72 bpm",
        "Total 12,345 1,204",  # V and S totals
        "7 beats at 171 bpm, 19:21:40",  # longest and fastest V run
        "Pauses ≥ 2.0 s 2",
        "of which ≥ 3.0 s 1",
        "3.42 s at day 2 00:21:43",
        "Bradycardia day 2 00:38:20 day 2 01:11:40 33 min 20 s 44 bpm",
        "AF burden 4.9 %",
        "AF time 1 h 7 min",
        "45 min, 11:18:20 – 12:03:20",  # the longest episode
        "1 11:18:20 12:03:20 45 min 112 bpm 93 % confirmed AF; patient felt palpitations",
        "3 day 2 03:41:40 day 2 03:49:10 7 min 30 s — —",  # nulls of an episode
        "SDNN 132 ms",
        "SDANN 119 ms",
        "SDNN index 54 ms",
        "RMSSD 32 ms",
        "pNN50 8.7 %",
        "LF 612 ms²",
        "HF 242 ms²",
        "LF/HF 2.53",
        "on 91,877 NN intervals",
        "over 262 five-minute segments",
        "dizzy <after> stairs",
        "Reviewed by",
        "Signature",
        "AF, longest episode · 11:18:20 – 11:18:30 · HR 112 bpm · 10 s",
        "25 mm/s · 10 mm/mV",
    ]:
        assert expected in text, expected
    for figure in KEY_FIGURES:  # what the PDF's text is checked for too
        assert figure in text, figure
    # The findings open the report, before any section's figures.
    assert text.index("Paroxysmal atrial fibrillation") < text.index("Total beats")
    # The hourly table: one row an hour, the unusable hour all dashes.
    assert "day 2 02:15 — — — — — — — — — day 2 03:15 59 min" in text
    assert "nan" not in text.lower() and "None" not in text


def test_the_html_is_self_contained_and_escapes_what_it_prints(html: str) -> None:
    assert html.startswith("<!DOCTYPE html>")
    for outside in ("<script", "src=", "href=", "url(", "@import", "<link"):
        assert outside not in html, outside
    assert "dizzy &lt;after&gt; stairs" in html
    assert html.count('<svg xmlns="http://www.w3.org/2000/svg" class="strip"') == 6
    assert html.count('class="trend"') == 1
    assert html.count('class="bars"') == 3  # V, S, AF burden


def test_without_a_start_times_are_elapsed_and_the_trend_says_why(
    report: HolterReport, strips: dict[str, StripSignal]
) -> None:
    undated: Any = {**report, "record": {**report["record"], "start": None}}
    text = plain(render_html(undated, strips))
    assert "times are elapsed from the start" in text
    assert "47 bpm at +16:41:00" in text
    assert "no night is shaded" in text
    assert "day 2" not in text


def test_a_strip_without_samples_is_listed_with_a_note(
    report: HolterReport, strips: dict[str, StripSignal]
) -> None:
    some = {k: v for k, v in strips.items() if k != "af-longest"}
    html = render_html(report, some)
    assert "AF, longest episode" in html
    assert "Signal not available for this strip." in html


def test_a_mostly_unusable_recording_says_so_and_prints_no_numbers_for_nulls() -> None:
    text = plain(render_html(unusable_report(), {}))
    top = text[: text.index("Findings")]
    assert "Not enough analysable signal: 40 s of 24 h 0 min could be analysed" in top
    assert "Unusable: noise 16 h 40 min; lead off 7 h 19 min" in top
    for label in ("Total beats", "Minimum", "Mean", "Maximum", "AF burden", "SDNN", "RMSSD"):
        after = text[text.index(label) + len(label) :].lstrip()
        assert after.startswith("— (Not enough analysable signal)"), label
    # No count, rate or share of nothing: only dashes where the figures would be.
    section = text[text.index("Ectopy") : text.index("Pauses and rate episodes")]
    assert not re.search(r"\d", section.replace("1,000", "").replace("Runs (3 or more)", ""))
    assert "0 bpm" not in text and "0.0 %" not in text.replace("40 s (0.0 %)", "")


def test_half_a_day_of_noise_is_mostly_unusable(
    report: HolterReport, strips: dict[str, StripSignal]
) -> None:
    noisy: Any = {**report, "record": {**report["record"], "analysable_s": 30000.0}}
    text = plain(render_html(noisy, strips))
    assert "Mostly unusable recording: only 8 h 20 min of 24 h 0 min (34.7 %)" in text


def test_a_missing_pdf_engine_names_the_extra(
    report: HolterReport, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_import = builtins.__import__

    def no_weasyprint(name: str, *args: Any, **kwargs: Any) -> Any:
        if name == "weasyprint":
            raise ModuleNotFoundError("No module named 'weasyprint'", name="weasyprint")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_weasyprint)
    with pytest.raises(InputError, match=re.escape("pip install 'cardiostream[report]'")):
        render.render_pdf(report, {})


def test_the_pdf_is_a4_with_strips_on_landscape_pages_true_to_scale(
    report: HolterReport, strips: dict[str, StripSignal]
) -> None:
    weasyprint = pytest.importorskip("weasyprint")
    document = weasyprint.HTML(string=render_html(report, strips)).render()
    portrait = (round(210 * MM, 1), round(297 * MM, 1))
    sizes = [(round(p.width, 1), round(p.height, 1)) for p in document.pages]
    assert sizes[0] == portrait
    strip_pages = [p for p in document.pages if (round(p.width, 1), round(p.height, 1))
                   == portrait[::-1]]  # fmt: skip
    assert strip_pages and sizes[-1] == portrait[::-1]

    def boxes(box: Any) -> Iterator[Any]:  # WeasyPrint's laid-out boxes, depth first
        yield box
        for child in getattr(box, "children", None) or []:
            yield from boxes(child)

    laid_out = [
        b
        for page in strip_pages
        for b in boxes(page._page_box)
        if str(getattr(b, "element_tag", "")).endswith("svg")
    ]
    assert len(laid_out) == 6
    for box in laid_out:  # 10 mm of calibration and 250 mm for 10 s, unscaled
        assert box.width == pytest.approx(260 * MM, abs=0.05)
        assert box.height == pytest.approx(30 * MM * round(box.height / (30 * MM)), abs=0.05)


def test_the_pdf_has_page_numbers_the_record_and_the_same_figures(pdf: bytes) -> None:
    assert pdf.startswith(b"%PDF")
    if shutil.which("pdftotext") is None:
        pytest.skip("pdftotext (poppler-utils) is not installed: cannot read the PDF's text")
    text = subprocess.run(
        ["pdftotext", "-layout", "-", "-"], input=pdf, capture_output=True, check=True
    ).stdout.decode()
    pages = text.split("\f")
    n = len([p for p in pages if p.strip()])
    assert n >= 4
    assert f"Page 1 of {n}" in pages[0] and f"Page {n} of {n}" in pages[n - 1]
    assert all("holter-0042" in p for p in pages if p.strip())
    flat = re.sub(r"\s+", " ", text)
    for figure in KEY_FIGURES:
        assert figure in flat, figure
    assert "ECG strips" in flat


def test_the_pdf_pages_render_as_images(pdf: bytes, tmp_path: Path) -> None:
    if shutil.which("pdftoppm") is None:
        pytest.skip("pdftoppm (poppler-utils) is not installed: cannot render the PDF's pages")
    path = tmp_path / "report.pdf"
    path.write_bytes(pdf)
    subprocess.run(["pdftoppm", "-r", "30", "-png", str(path), str(tmp_path / "p")], check=True)
    pngs = sorted(tmp_path.glob("p-*.png"))
    assert len(pngs) >= 4

    def size(png: Path) -> tuple[int, int]:
        data = png.read_bytes()
        assert data.startswith(b"\x89PNG")
        return struct.unpack(">II", data[16:24])  # IHDR: width, height

    first, last = size(pngs[0]), size(pngs[-1])
    assert first[0] < first[1]  # page 1: portrait
    assert last[0] > last[1]  # a strip page: landscape


def test_the_unusable_pdf_says_so_on_its_first_page() -> None:
    pytest.importorskip("weasyprint")
    if shutil.which("pdftotext") is None:
        pytest.skip("pdftotext (poppler-utils) is not installed: cannot read the PDF's text")
    pdf = render_pdf(unusable_report(), {})
    text = subprocess.run(
        ["pdftotext", "-f", "1", "-l", "1", "-", "-"], input=pdf, capture_output=True, check=True
    ).stdout.decode()
    flat = re.sub(r"\s+", " ", text)
    assert "Not enough analysable signal: 40 s of 24 h 0 min could be analysed" in flat
    assert "Total beats — (Not enough analysable signal)" in flat
    assert "bpm at" not in flat and "nan" not in flat.lower()
