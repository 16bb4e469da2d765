"""The Holter report's pictures as inline SVG: the heart-rate trend and the per-hour bars.

Plain strings, no plotting library: a day's trend is 1,440 points and a report has a few
pictures, so writing the SVG directly costs milliseconds where a figure library costs
seconds. Each picture is sized in millimetres (the PDF's portrait text width) with a
``viewBox`` in drawing units, so that it prints at a known size and scales in a browser.
The ECG strips, drawn true to scale, are in :mod:`cardiostream.report.holter.strips`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime, timedelta
from html import escape

from cardiostream.report.holter.text import Clock

#: Printed width of a picture: A4 portrait less its margins.
WIDTH_MM = 180.0
#: Drawing units across a picture (its ``viewBox`` width).
_VB_W = 1000.0
_LEFT, _RIGHT, _TOP, _BOTTOM = 52.0, 24.0, 14.0, 30.0
_FONT = 15.0  # drawing units: about 2.7 mm printed
_NIGHT = (22, 6)  # the night shaded on the trend, by clock hour
_INK, _GRID, _NIGHT_FILL = "#222", "#d0d0d0", "#e3e8f4"
HR_COLOUR = "#b01818"
AF_COLOUR = "#d08000"


def _svg_open(height: float, label: str, css_class: str) -> str:
    h_mm = WIDTH_MM * height / _VB_W
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="{css_class}" role="img" '
        f'aria-label="{escape(label)}" width="{WIDTH_MM:g}mm" height="{h_mm:.1f}mm" '
        f'viewBox="0 0 {_VB_W:g} {height:g}" font-family="DejaVu Sans, Liberation Sans, '
        f'sans-serif" font-size="{_FONT:g}">'
    )


def _text(x: float, y: float, s: str, anchor: str = "middle", extra: str = "") -> str:
    return f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}"{extra}>{escape(s)}</text>'


def nice_ceiling(x: float) -> float:
    """The smallest of 1, 2, 5 × 10^k at or above ``x`` (an axis' top); 1 for nothing."""
    if not math.isfinite(x) or x <= 0:
        return 1.0
    power = 10.0 ** math.floor(math.log10(x))
    for step in (1.0, 2.0, 5.0, 10.0):
        if step * power >= x - 1e-9:
            return step * power
    return 10.0 * power


def _label_step_h(duration_s: float) -> int:
    """Hours between labelled ticks: every 2 h for a day, 3 h for two, 6 h beyond."""
    hours = duration_s / 3600.0
    return 1 if hours <= 8 else 2 if hours <= 26 else 3 if hours <= 50 else 6


def hour_ticks(clock: Clock, duration_s: float) -> list[tuple[float, str, bool]]:
    """Ticks on the clock's whole hours (elapsed hours without a start): seconds from the
    start, label, and whether the tick is labelled."""
    step = _label_step_h(duration_s)
    ticks: list[tuple[float, str, bool]] = []
    if clock.start is None:
        for k in range(math.floor(duration_s / 3600.0) + 1):
            ticks.append((k * 3600.0, f"+{k} h", k % step == 0))
        return ticks
    start = clock.start
    first = start.replace(minute=0, second=0, microsecond=0)
    if first < start:
        first += timedelta(hours=1)
    t = (first - start).total_seconds()
    while t <= duration_s + 1e-6:
        when = start + timedelta(seconds=t)
        ticks.append((t, when.strftime("%H:%M"), when.hour % step == 0))
        t += 3600.0
    return ticks


def night_spans(start: datetime, duration_s: float) -> list[tuple[float, float]]:
    """The nights (22:00-06:00 by the clock) within the recording, as seconds from its start."""
    evening, morning = _NIGHT
    spans = []
    day = datetime.combine(start.date() - timedelta(days=1), datetime.min.time(), start.tzinfo)
    end = start + timedelta(seconds=duration_s)
    while day < end:
        lo = (day.replace(hour=evening) - start).total_seconds()
        hi = (day.replace(hour=morning) + timedelta(days=1) - start).total_seconds()
        lo, hi = max(lo, 0.0), min(hi, duration_s)
        if hi > lo:
            spans.append((lo, hi))
        day += timedelta(days=1)
    return spans


def _x_axis(
    clock: Clock, duration_s: float, x_of: float, scale: float, y_top: float, y_bottom: float
) -> list[str]:
    """Hour ticks along the bottom, labelled in clock time (or elapsed hours)."""
    out = []
    for t, label, labelled in hour_ticks(clock, duration_s):
        x = x_of + t * scale
        tick = 6.0 if labelled else 3.0
        out.append(f'<line x1="{x:.1f}" y1="{y_bottom:.1f}" x2="{x:.1f}" '
                   f'y2="{y_bottom + tick:.1f}" stroke="{_INK}" stroke-width="1"/>')  # fmt: skip
        if labelled:
            out.append(f'<line x1="{x:.1f}" y1="{y_top:.1f}" x2="{x:.1f}" y2="{y_bottom:.1f}" '
                       f'stroke="{_GRID}" stroke-width="0.8"/>')  # fmt: skip
            out.append(_text(x, y_bottom + 6.0 + _FONT, label))
    return out


def trend_svg(
    t_s: Sequence[float],
    bpm: Sequence[float | None],
    clock: Clock,
    duration_s: float,
    *,
    af_spans: Sequence[tuple[float, float]] = (),
    marks: Sequence[tuple[float | None, float | None, str]] = (),
) -> str:
    """The heart-rate trend over the whole recording: one point a minute, gaps where null.

    Parameters
    ----------
    t_s : sequence of float
        Minute starts, seconds from the recording's start.
    bpm : sequence of float or None
        Each minute's mean rate; None where the minute is not analysable (drawn as a gap).
    clock : Clock
        Turns the hour ticks into clock times; nights are shaded when it knows the start.
    duration_s : float
        The recording's length: the x axis.
    af_spans : sequence of (float, float)
        AF episodes (start and end, seconds), drawn as a band along the bottom.
    marks : sequence of (float or None, float or None, str)
        Minutes to point out (the minimum and maximum rate): minute start, rate, label.

    Returns
    -------
    str
        An ``<svg>`` element, 180 mm wide.
    """
    height = 300.0
    x0, x1 = _LEFT, _VB_W - _RIGHT
    y0, y1 = _TOP, height - _BOTTOM
    span = max(duration_s, 60.0)
    scale = (x1 - x0) / span
    values = [v for v in bpm if v is not None and math.isfinite(v)]
    lo = min(40.0, 20.0 * math.floor(min(values) / 20.0)) if values else 40.0
    hi = max(140.0, 20.0 * math.ceil(max(values) / 20.0)) if values else 140.0
    hi = min(hi, 300.0)
    lo = max(lo, 0.0)

    def y_of(v: float) -> float:
        return y1 - (min(max(v, lo), hi) - lo) / (hi - lo) * (y1 - y0)

    parts = [_svg_open(height, "Heart rate trend", "trend")]
    if clock.start is not None:
        for a, b in night_spans(clock.start, duration_s):
            parts.append(f'<rect class="night" x="{x0 + a * scale:.1f}" y="{y0:.1f}" '
                         f'width="{(b - a) * scale:.1f}" height="{y1 - y0:.1f}" '
                         f'fill="{_NIGHT_FILL}"/>')  # fmt: skip
    step = 20.0 if hi - lo <= 160 else 40.0
    v = lo
    while v <= hi + 1e-9:
        y = y_of(v)
        parts.append(f'<line x1="{x0}" y1="{y:.1f}" x2="{x1}" y2="{y:.1f}" stroke="{_GRID}" '
                     f'stroke-width="0.8"/>')  # fmt: skip
        parts.append(_text(x0 - 6.0, y + _FONT / 3.0, f"{v:.0f}", "end"))
        v += step
    parts.extend(_x_axis(clock, duration_s, x0, scale, y0, y1))
    parts.append(_text(14.0, (y0 + y1) / 2.0, "bpm", extra=' transform="rotate(-90 14 '
                       f'{(y0 + y1) / 2.0:.1f})"'))  # fmt: skip

    # One polyline per analysable stretch; a lone minute is a dot.
    run: list[str] = []
    for t, v_ in [*zip(t_s, bpm, strict=False), (math.nan, None)]:
        if v_ is not None and math.isfinite(v_) and math.isfinite(t):
            run.append(f"{x0 + (t + 30.0) * scale:.1f},{y_of(v_):.1f}")
            continue
        if len(run) > 1:
            parts.append(f'<polyline class="hr" points="{" ".join(run)}" fill="none" '
                         f'stroke="{HR_COLOUR}" stroke-width="1.6" '
                         f'stroke-linejoin="round"/>')  # fmt: skip
        elif run:
            cx, cy = run[0].split(",")
            parts.append(f'<circle class="hr" cx="{cx}" cy="{cy}" r="1.6" fill="{HR_COLOUR}"/>')
        run = []
    for a, b in af_spans:
        xa, xb = x0 + max(a, 0.0) * scale, x0 + min(b, span) * scale
        w = max(xb - xa, 1.5)
        parts.append(f'<rect class="af" x="{xa:.1f}" y="{y1 - 7.0:.1f}" width="{w:.1f}" '
                     f'height="6" fill="{AF_COLOUR}"/>')  # fmt: skip
    for at_s, rate, label in marks:
        if at_s is None or rate is None:
            continue
        x, y = x0 + (at_s + 30.0) * scale, y_of(rate)
        # Beside the point, on the side with room: the trace runs through above and below.
        right = x < x1 - 90.0
        tx, anchor = (x + 8.0, "start") if right else (x - 8.0, "end")
        ty = min(max(y + _FONT / 3.0, y0 + _FONT), y1 - 4.0)
        parts.append(f'<circle class="mark" cx="{x:.1f}" cy="{y:.1f}" r="4" fill="none" '
                     f'stroke="{_INK}" stroke-width="1.2"/>')  # fmt: skip
        parts.append(_text(tx, ty, label, anchor, ' font-weight="bold"'))
    if not values:
        parts.append(_text((x0 + x1) / 2.0, (y0 + y1) / 2.0, "No analysable minute"))
    parts.append(f'<rect x="{x0}" y="{y0}" width="{x1 - x0:.1f}" height="{y1 - y0:.1f}" '
                 f'fill="none" stroke="{_INK}" stroke-width="1"/>')  # fmt: skip
    parts.append("</svg>")
    return "".join(parts)


def hourly_bars_svg(
    start_s: Sequence[float],
    values: Sequence[float | None],
    clock: Clock,
    duration_s: float,
    *,
    colour: str,
    label: str,
    top: float | None = None,
    unit: str = "",
) -> str:
    """A bar a recording hour (V beats, S beats, AF burden), on the trend's time axis.

    Parameters
    ----------
    start_s : sequence of float
        Each hour's start, seconds from the recording's start.
    values : sequence of float or None
        Each hour's value; None draws no bar (the hour had no analysable time).
    clock : Clock
        For the hour ticks.
    duration_s : float
        The recording's length: the x axis.
    colour : str
        The bars' fill.
    label : str
        What the bars count, printed at the top left.
    top : float or None
        The y axis' top; None: a round number at or above the largest value.
    unit : str
        Appended to the y axis' labels (``%``).

    Returns
    -------
    str
        An ``<svg>`` element, 180 mm wide.
    """
    height = 190.0
    x0, x1 = _LEFT, _VB_W - _RIGHT
    y0, y1 = _TOP + 14.0, height - _BOTTOM
    span = max(duration_s, 60.0)
    scale = (x1 - x0) / span
    finite = [v for v in values if v is not None and math.isfinite(v)]
    # At least 2, so that the axis' middle label of a count is a whole number.
    y_top = top if top is not None else nice_ceiling(max([*finite, 2.0]))
    parts = [_svg_open(height, label, "bars")]
    for frac in (0.0, 0.5, 1.0):
        y = y1 - frac * (y1 - y0)
        v = frac * y_top
        text = f"{v:,.0f}" if v == round(v) else f"{v:,.1f}"
        parts.append(f'<line x1="{x0}" y1="{y:.1f}" x2="{x1}" y2="{y:.1f}" stroke="{_GRID}" '
                     f'stroke-width="0.8"/>')  # fmt: skip
        parts.append(_text(x0 - 6.0, y + _FONT / 3.0, f"{text}{unit}", "end"))
    parts.extend(_x_axis(clock, duration_s, x0, scale, y0, y1))
    for i, (s, value) in enumerate(zip(start_s, values, strict=False)):
        if value is None or not math.isfinite(value) or value <= 0:
            continue
        end = start_s[i + 1] if i + 1 < len(start_s) else min(s + 3600.0, span)
        xa, xb = x0 + s * scale, x0 + max(end, s) * scale
        h = min(value, y_top) / y_top * (y1 - y0)
        parts.append(f'<rect x="{xa + 1.0:.1f}" y="{y1 - h:.1f}" '
                     f'width="{max(xb - xa - 2.0, 1.0):.1f}" height="{h:.1f}" '
                     f'fill="{colour}"/>')  # fmt: skip
    parts.append(_text(x0, _TOP + 6.0, label, "start", ' font-weight="bold"'))
    parts.append(f'<line x1="{x0}" y1="{y1}" x2="{x1}" y2="{y1}" stroke="{_INK}" '
                 f'stroke-width="1"/>')  # fmt: skip
    parts.append("</svg>")
    return "".join(parts)
