"""The report's pictures: strips true to scale (25 mm/s, 10 mm/mV), the trend's gaps and
nights, the hourly bars."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import numpy as np
import pytest

from cardiostream.report.holter.contract import StripSignal
from cardiostream.report.holter.strips import strip_svg
from cardiostream.report.holter.svg import hourly_bars_svg, night_spans, trend_svg
from cardiostream.report.holter.text import Clock
from cardiostream.report.strip import BEAT_COLOURS

SVG = "{http://www.w3.org/2000/svg}"
FS = 250.0


def parse(svg: str) -> ET.Element:
    return ET.fromstring(svg)


def points(line: ET.Element) -> np.ndarray:
    return np.array([[float(v) for v in p.split(",")] for p in line.get("points", "").split()])


def of_class(root: ET.Element, tag: str, cls: str) -> list[ET.Element]:
    return [e for e in root.iter(SVG + tag) if cls in (e.get("class") or "").split()]


def steps(seconds: float = 10.0, fs: float = FS) -> np.ndarray:
    """Mostly 0 mV (the row's median), 1 mV from 2 to 3 s, 0.5 mV from 6 to 6.5 s."""
    x = np.zeros(round(seconds * fs), dtype=np.float32)
    x[round(2 * fs) : round(3 * fs)] = 1.0
    x[round(6 * fs) : round(6.5 * fs)] = 0.5
    return x


def signal(x: np.ndarray, fs: float = FS, beats: tuple[tuple[float, str], ...] = ()) -> StripSignal:
    return StripSignal(
        samples=x.astype(np.float32),
        fs=fs,
        beat_s=np.array([b[0] for b in beats], dtype=np.float64),
        beat_class=[b[1] for b in beats],
    )


@pytest.mark.parametrize("fs", [250.0, 360.0, 1000.0])
def test_ten_seconds_are_250_mm_and_a_millivolt_is_10_mm(fs: float) -> None:
    root = parse(strip_svg(signal(steps(fs=fs), fs)))
    # One drawing unit is one millimetre: the size says mm, the viewBox counts the same.
    assert root.get("width") == "260mm" and root.get("height") == "30mm"
    assert root.get("viewBox") == "0 0 260 30"
    [trace] = of_class(root, "polyline", "trace")
    xy = points(trace)
    assert xy[-1, 0] - xy[0, 0] + 25.0 / fs == pytest.approx(250.0, abs=0.01)
    base = float(np.median(xy[:, 1]))
    at = {t: xy[round(t * fs), 1] for t in (2.5, 6.2, 8.0)}
    assert base - at[2.5] == pytest.approx(10.0, abs=0.01)  # 1 mV, upwards
    assert base - at[6.2] == pytest.approx(5.0, abs=0.01)
    assert at[8.0] == pytest.approx(base)
    # One second apart on the trace is 25 mm.
    assert xy[round(3 * fs), 0] - xy[round(2 * fs), 0] == pytest.approx(25.0, abs=0.01)


def test_each_row_opens_with_a_1_mv_pulse_on_a_1_and_5_mm_grid() -> None:
    root = parse(strip_svg(signal(steps(30.0)), ["a", "b", "c"]))
    assert root.get("height") == "90mm"
    pulses = of_class(root, "path", "calibration")
    assert len(pulses) == 3
    for pulse in pulses:
        ys = [float(v) for v in re.findall(r"V(-?[\d.]+)", pulse.get("d", ""))]
        hs = [float(v) for v in re.findall(r"H(-?[\d.]+)", pulse.get("d", ""))]
        assert ys[1] - ys[0] == pytest.approx(10.0)  # 1 mV at 10 mm/mV
        assert hs[1] - hs[0] == pytest.approx(5.0)  # 0.2 s at 25 mm/s
    [minor] = of_class(root, "path", "grid-minor")
    [major] = of_class(root, "path", "grid-major")
    xs_minor = {int(v) for v in re.findall(r"M(\d+) 0V", minor.get("d", ""))}
    xs_major = {int(v) for v in re.findall(r"M(\d+) 0V", major.get("d", ""))}
    assert xs_major == set(range(0, 261, 5))
    assert xs_minor == set(range(261)) - xs_major
    assert [t.text for t in of_class(root, "text", "row-time")] == ["a", "b", "c"]


def test_non_n_beats_are_lettered_in_their_colours_and_gaps_break_the_trace() -> None:
    x = steps()
    x[1000:1100] = np.nan
    beats = ((1.0, "N"), (2.5, "V"), (5.0, "S"), (12.0, "V"))  # the last is past the strip
    root = parse(strip_svg(signal(x, beats=beats)))
    letters = [(t.text, t.get("fill")) for t in of_class(root, "text", "beat")]
    assert letters == [("V", BEAT_COLOURS["V"]), ("S", BEAT_COLOURS["S"])]
    assert len(of_class(root, "polyline", "trace")) == 2


def test_a_trace_that_leaves_its_row_is_clipped_and_marked() -> None:
    x = steps()
    x[100:120] = 5.0  # 5 mV: 50 mm, beyond the row's 2 mV of room
    root = parse(strip_svg(signal(x)))
    [trace] = of_class(root, "polyline", "trace")
    assert points(trace)[:, 1].min() >= 0.0
    assert of_class(root, "path", "clipped")


def test_the_trend_has_gaps_where_minutes_are_null_and_shades_the_night() -> None:
    t = [60.0 * i for i in range(1440)]
    bpm: list[float | None] = [70.0] * 1440
    bpm[600:660] = [None] * 60
    clock = Clock.parse("2026-03-02T08:15:00")
    root = parse(
        trend_svg(
            t, bpm, clock, 86400.0,
            af_spans=[(1000.0, 4000.0), (9000.0, 9100.0)],
            marks=[(120.0, 70.0, "min 70"), (None, None, "max —")],
        )
    )  # fmt: skip
    assert len(of_class(root, "polyline", "hr")) == 2
    assert len(of_class(root, "rect", "night")) == 1
    assert len(of_class(root, "rect", "af")) == 2
    assert len(of_class(root, "circle", "mark")) == 1
    labels = [e.text for e in root.iter(SVG + "text")]
    assert "10:00" in labels and "00:00" in labels
    # No start: elapsed hours, no night.
    root = parse(trend_svg(t, bpm, Clock(None), 86400.0))
    assert not of_class(root, "rect", "night")
    assert "+2 h" in [e.text for e in root.iter(SVG + "text")]


def test_nights_are_22_to_6_by_the_clock() -> None:
    start = Clock.parse("2026-03-02T08:15:00").start
    assert start is not None
    spans = night_spans(start, 2 * 86400.0)
    assert spans == [(13.75 * 3600, 21.75 * 3600), (37.75 * 3600, 45.75 * 3600)]
    late = Clock.parse("2026-03-02T23:00:00").start
    assert late is not None
    assert night_spans(late, 3600.0 * 10) == [(0.0, 7 * 3600.0)]


def test_bars_draw_one_bar_per_hour_with_a_value() -> None:
    clock = Clock.parse("2026-03-02T08:15:00")
    starts = [3600.0 * h for h in range(24)]
    values: list[float | None] = [float(h) for h in range(24)]
    values[5] = None
    root = parse(hourly_bars_svg(starts, values, clock, 86400.0, colour="#c00000", label="V"))
    bars = [r for r in root.iter(SVG + "rect") if r.get("fill") == "#c00000"]
    assert len(bars) == 22  # hour 0 has no beats, hour 5 no value
