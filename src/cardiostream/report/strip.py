"""A printed rhythm strip: one lead on ECG paper, true to scale at 25 mm/s and 10 mm/mV.

:func:`render_strip` draws a stretch of signal as a PNG, PDF or SVG whose figure is sized in
real millimetres: printed at 100 % (or viewed at 100 % zoom on a screen that knows its
resolution), one second of signal is ``mm_per_s`` millimetres wide and one millivolt
``mm_per_mv`` millimetres tall, with 1 mm small squares and 5 mm large ones behind it.

The whole page is one matplotlib axes whose data units are the page's millimetres (its
limits are the page size, and it covers the figure edge to edge), so every position below
is computed in millimetres and nothing in matplotlib's layout can rescale it.

Layout: rows of ``row_s`` seconds (10 s by default: 250 mm of trace, an A4 landscape page
wide), each opening with a 1 mV calibration pulse; up to ``rows_per_page`` rows (60 s) on a
page. A PDF starts a new page after that; a PNG or SVG is one image, as tall as its rows
need. PDF pages are A4 landscape (297 × 210 mm) unless the rows need more room.
"""

from __future__ import annotations

import io
import math
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from cardiostream.errors import InputError

#: Output formats and their media types.
MEDIA_TYPES: dict[str, str] = {
    "png": "image/png",
    "pdf": "application/pdf",
    "svg": "image/svg+xml",
}

#: A4 landscape, in mm: the page of a PDF strip (wider or taller only when the rows need it).
A4_LANDSCAPE_MM = (297.0, 210.0)
#: Millimetres per inch: the only conversion between the page and matplotlib.
MM_PER_INCH = 25.4

#: The classic paper: small squares light, large squares darker.
MINOR_COLOUR = "#f7c6c6"
MAJOR_COLOUR = "#e07070"
TRACE_COLOUR = "black"
#: Beat letters worth a technician's eye (N, the usual beat, is left unmarked).
BEAT_COLOURS: dict[str, str] = {"V": "#c00000", "S": "#0050c0", "F": "#8000a0", "Q": "#606060"}

_HEADER_MM = 22.0  # title and the lines under it
_FOOTER_MM = 8.0
_MARGIN_MM = 10.0  # least margin left and right of the paper
_CAL_PULSE_S = 0.2  # the calibration pulse is 0.2 s wide, 1 mV tall
_CLIP_MARGIN_MM = 0.5  # a clipped trace stops this far inside its row
_LOCK = threading.Lock()


@dataclass(frozen=True)
class _Layout:
    """Where everything goes on a page, in mm from the page's bottom-left corner."""

    page_w: float
    page_h: float
    paper_x0: float  # left edge of the paper (the calibration pulse is drawn on it)
    trace_x0: float  # where each row's signal starts
    trace_w: float
    row_h: float
    baseline_mm: float  # height of a row's 0 mV line above the row's bottom edge
    rows: int  # rows on this page
    row_s: float
    mm_per_s: float
    mm_per_mv: float

    @property
    def paper_w(self) -> float:
        return self.trace_x0 + self.trace_w - self.paper_x0

    @property
    def rows_top(self) -> float:
        return self.page_h - _HEADER_MM

    def row_bottom(self, i: int) -> float:
        return self.rows_top - (i + 1) * self.row_h


def render_strip(
    samples: npt.ArrayLike,
    fs: float,
    t0_s: float = 0.0,
    *,
    title: str = "",
    clock_start: datetime | None = None,
    heart_rate_bpm: float | None = None,
    rhythm: str | None = None,
    beats: Sequence[tuple[float, str]] = (),
    peaks: Sequence[float] = (),
    fmt: Literal["png", "pdf", "svg"] = "png",
    mm_per_s: float = 25.0,
    mm_per_mv: float = 10.0,
    row_s: float = 10.0,
    rows_per_page: int = 6,
    dpi: int = 200,
    subtitle: str = "",
    timebase: str = "stream time",
) -> bytes:
    """Draw one lead as a rhythm strip on ECG paper, true to scale.

    Parameters
    ----------
    samples : array_like of float
        The signal in mV, 1-D; NaN marks a missing sample (drawn as a gap).
    fs : float
        Its sampling rate in Hz.
    t0_s : float
        Time of ``samples[0]`` in seconds on the clock of ``beats`` and ``peaks`` (stream or
        record time); printed when there is no ``clock_start``.
    title : str
        What the strip is of: the bed or record name (and lead).
    clock_start : datetime or None
        Wall-clock time of ``samples[0]``. Printed with its time zone (a naive datetime is
        said to have none); None prints ``t0_s`` instead.
    heart_rate_bpm : float or None
        Heart rate to print; None or NaN: from the median R-R interval of ``peaks`` when
        there are at least two, else a dash.
    rhythm : str or None
        Rhythm label to print (a dash when None).
    beats : sequence of (float, str)
        Classified beats: R-peak time (same clock as ``t0_s``) and letter. V, S, F and Q are
        printed above their R peaks; N and unknown letters are not.
    peaks : sequence of float
        R-peak times (same clock as ``t0_s``): used only for the heart rate when none is given.
    fmt : {"png", "pdf", "svg"}
        Output format.
    mm_per_s : float
        Paper speed (25 mm/s is the standard; 50 mm/s spreads the complexes out).
    mm_per_mv : float
        Gain (10 mm/mV is the standard).
    row_s : float
        Seconds per row.
    rows_per_page : int
        Rows on a PDF page before the next page starts.
    dpi : int
        Resolution of a PNG (100 to 600); the size in mm does not depend on it.
    subtitle : str
        Printed after the title (the lead), or empty.
    timebase : str
        What ``t0_s`` counts, printed with it when there is no clock: ``stream time``,
        ``record time``.

    Returns
    -------
    bytes
        The file's contents.

    Raises
    ------
    InputError
        Empty or non 1-D samples, a rate, speed, gain or row length that is not a positive
        finite number, or an unknown format.
    ModuleNotFoundError
        matplotlib is not installed (the ``plot`` extra).
    """
    x = _check(samples, fs, t0_s, fmt, mm_per_s, mm_per_mv, row_s, rows_per_page, dpi)
    if heart_rate_bpm is None or not math.isfinite(heart_rate_bpm):
        heart_rate_bpm = _rate_from_peaks(peaks)

    import matplotlib
    from matplotlib.backends.backend_pdf import PdfPages
    from matplotlib.figure import Figure

    n_rows = max(1, math.ceil(x.size / (row_s * fs) - 1e-9))
    per_page = n_rows if fmt != "pdf" else rows_per_page
    pages = [range(p, min(p + per_page, n_rows)) for p in range(0, n_rows, per_page)]
    duration = x.size / fs
    header = _header_lines(title, subtitle, clock_start, t0_s, timebase, duration,
                           heart_rate_bpm, rhythm, mm_per_s, mm_per_mv)  # fmt: skip
    out = io.BytesIO()
    # Text as text (searchable, selectable); settings changed for this drawing only, one
    # drawing at a time (rc_context changes matplotlib's global settings while it lasts).
    rc: Any = {"svg.fonttype": "none", "pdf.fonttype": 42, "svg.hashsalt": "cardiostream"}
    with _LOCK, matplotlib.rc_context(rc):
        figures = []
        for number, rows in enumerate(pages, 1):
            layout = _layout(len(rows), fmt, mm_per_s, mm_per_mv, row_s, rows_per_page)
            fig = Figure(figsize=(layout.page_w / MM_PER_INCH, layout.page_h / MM_PER_INCH))
            ax = fig.add_axes((0.0, 0.0, 1.0, 1.0))
            ax.set_xlim(0.0, layout.page_w)
            ax.set_ylim(0.0, layout.page_h)
            ax.set_axis_off()
            page_note = f"page {number} of {len(pages)}" if len(pages) > 1 else ""
            _draw_header(ax, layout, header, page_note)
            _draw_paper(ax, layout)
            for i, row in enumerate(rows):
                _draw_row(ax, layout, i, row, x, fs, t0_s, clock_start, beats)
            figures.append(fig)
        if fmt == "pdf":
            info = {"Title": title or "ECG strip", "Creator": "cardiostream"}
            with PdfPages(out, metadata=info) as pdf:
                for fig in figures:
                    pdf.savefig(fig)
        else:
            metadata: dict[str, Any] = {"Software": "cardiostream"} if fmt == "png" else {}
            if fmt == "svg":
                metadata = {"Date": None, "Title": title or "ECG strip"}
            figures[0].savefig(out, format=fmt, dpi=dpi, metadata=metadata)
    return out.getvalue()


def _check(
    samples: npt.ArrayLike,
    fs: float,
    t0_s: float,
    fmt: str,
    mm_per_s: float,
    mm_per_mv: float,
    row_s: float,
    rows_per_page: int,
    dpi: int,
) -> npt.NDArray[np.float64]:
    """The samples as float64, after every argument is checked (InputError naming the one
    at fault)."""
    if fmt not in MEDIA_TYPES:
        raise InputError(f"fmt: expected one of {', '.join(MEDIA_TYPES)}, got {fmt!r}")
    for name, value in (("fs", fs), ("mm_per_s", mm_per_s), ("mm_per_mv", mm_per_mv),
                        ("row_s", row_s)):  # fmt: skip
        if not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
            raise InputError(f"{name}: must be a positive finite number, got {value!r}")
    if not isinstance(t0_s, (int, float)) or not math.isfinite(t0_s):
        raise InputError(f"t0_s: must be a finite number, got {t0_s!r}")
    if not isinstance(rows_per_page, int) or rows_per_page < 1:
        raise InputError(f"rows_per_page: must be a whole number >= 1, got {rows_per_page!r}")
    if not isinstance(dpi, int) or not 50 <= dpi <= 600:
        raise InputError(f"dpi: must be a whole number from 50 to 600, got {dpi!r}")
    try:
        x = np.asarray(samples, dtype=np.float64)
    except (TypeError, ValueError):
        raise InputError("samples: expected numbers (mV)") from None
    if x.ndim != 1:
        raise InputError(f"samples: expected one lead (1-D), got shape {x.shape}")
    if x.size == 0:
        raise InputError("samples: empty, nothing to draw")
    return np.where(np.isfinite(x), x, np.nan)


def _rate_from_peaks(peaks: Sequence[float]) -> float | None:
    t = np.sort(np.asarray(list(peaks), dtype=np.float64))
    rr = np.diff(t[np.isfinite(t)])
    rr = rr[(rr >= 0.2) & (rr <= 3.0)]  # 20-300 bpm: anything else is no interval of a beat
    return 60.0 / float(np.median(rr)) if rr.size else None


def _layout(
    rows: int, fmt: str, mm_per_s: float, mm_per_mv: float, row_s: float, rows_per_page: int
) -> _Layout:
    # Room for -1 to +2 mV at the standard gain (the baseline on a 5 mm line, 10 mm up).
    row_h = 5.0 * math.ceil(max(30.0, 3.0 * mm_per_mv) / 5.0)
    baseline = 5.0 * round(0.4 * row_h / 5.0)
    cal_w = 5.0 * math.ceil((3.0 + _CAL_PULSE_S * mm_per_s + 2.0) / 5.0)
    trace_w = row_s * mm_per_s
    paper_w = cal_w + trace_w
    page_w = max(A4_LANDSCAPE_MM[0], paper_w + 2 * _MARGIN_MM)
    needed_h = _HEADER_MM + rows * row_h + _FOOTER_MM
    if fmt == "pdf":  # every page of a PDF the same size: A4, or what a full page needs
        page_h = max(A4_LANDSCAPE_MM[1], _HEADER_MM + rows_per_page * row_h + _FOOTER_MM)
        page_w = max(page_w, A4_LANDSCAPE_MM[0])
    else:
        page_h = needed_h
    paper_x0 = round((page_w - paper_w) / 2.0, 1)
    return _Layout(
        page_w=page_w,
        page_h=page_h,
        paper_x0=paper_x0,
        trace_x0=paper_x0 + cal_w,
        trace_w=trace_w,
        row_h=row_h,
        baseline_mm=baseline,
        rows=rows,
        row_s=row_s,
        mm_per_s=mm_per_s,
        mm_per_mv=mm_per_mv,
    )


def _fmt_clock(when: datetime, date: bool) -> str:
    return when.strftime("%Y-%m-%d %H:%M:%S" if date else "%H:%M:%S")


def _zone(when: datetime) -> str:
    """The time zone of ``when``: its name and UTC offset (``CET (UTC+01:00)``, ``UTC``)."""
    offset = when.utcoffset()
    if offset is None:
        return "(no time zone given)"
    minutes = round(offset.total_seconds() / 60)
    sign = "+" if minutes >= 0 else "-"
    utc = f"UTC{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}" if minutes else "UTC"
    name = when.tzname() or ""
    if not name or name == utc or (name.startswith(("UTC", "GMT")) and name != "GMT"):
        return utc
    return f"{name} ({utc})"


def _header_lines(
    title: str,
    subtitle: str,
    clock_start: datetime | None,
    t0_s: float,
    timebase: str,
    duration: float,
    heart_rate_bpm: float | None,
    rhythm: str | None,
    mm_per_s: float,
    mm_per_mv: float,
) -> tuple[str, str, str, str]:
    """Title, time span, measurements, and the scale."""
    if clock_start is not None:
        end = clock_start + timedelta(seconds=duration)
        same_day = end.date() == clock_start.date()
        span = (f"{_fmt_clock(clock_start, True)} – {_fmt_clock(end, not same_day)} "
                f"{_zone(clock_start)}")  # fmt: skip
    else:
        span = f"{timebase} {t0_s:.1f} s – {t0_s + duration:.1f} s (no clock time)"
    span += f"  ·  {duration:.1f} s"
    hr = "—" if heart_rate_bpm is None else f"{heart_rate_bpm:.0f} bpm"
    measures = f"HR {hr}    Rhythm: {rhythm or '—'}"
    scale = f"{mm_per_s:g} mm/s · {mm_per_mv:g} mm/mV"
    name = title or "ECG strip"
    if subtitle:
        name = f"{name}    {subtitle}"
    return name, span, measures, scale


def _draw_header(
    ax: Any, layout: _Layout, lines: tuple[str, str, str, str], page_note: str
) -> None:
    name, span, measures, scale = lines
    left = layout.paper_x0
    right = layout.paper_x0 + layout.paper_w
    top = layout.page_h - 6.0
    ax.text(left, top, name, fontsize=11, fontweight="bold", va="baseline", gid="title")
    ax.text(right, top, scale, fontsize=10, fontweight="bold", ha="right", va="baseline",
            gid="scale")  # fmt: skip
    ax.text(left, top - 5.5, span, fontsize=8.5, va="baseline", gid="time")
    ax.text(left, top - 10.5, measures, fontsize=9.5, va="baseline", gid="measures")
    if page_note:
        ax.text(right, top - 5.5, page_note, fontsize=8, ha="right", va="baseline")
    ax.text(right, layout.row_bottom(layout.rows - 1) - 4.5,
            "Each row opens with a 1 mV calibration pulse.  Print at 100 % (actual size).",
            fontsize=6.5, ha="right", va="baseline", color="0.35")  # fmt: skip


def _draw_paper(ax: Any, layout: _Layout) -> None:
    """1 mm and 5 mm squares over every row, from the paper's top-left corner."""
    from matplotlib.collections import LineCollection

    x0, x1 = layout.paper_x0, layout.paper_x0 + layout.paper_w
    y1 = layout.rows_top
    y0 = y1 - layout.rows * layout.row_h
    nx = round(layout.paper_w)
    ny = round(y1 - y0)
    xs = x0 + np.arange(nx + 1, dtype=np.float64)
    ys = y1 - np.arange(ny + 1, dtype=np.float64)
    minor = [[(x, y0), (x, y1)] for i, x in enumerate(xs) if i % 5] + [
        [(x0, y), (x1, y)] for i, y in enumerate(ys) if i % 5
    ]
    major = [[(x, y0), (x, y1)] for i, x in enumerate(xs) if not i % 5] + [
        [(x0, y), (x1, y)] for i, y in enumerate(ys) if not i % 5
    ]
    ax.add_collection(LineCollection(minor, colors=MINOR_COLOUR, linewidths=0.25, gid="grid-minor"))
    ax.add_collection(LineCollection(major, colors=MAJOR_COLOUR, linewidths=0.6, gid="grid-major"))


def _draw_row(
    ax: Any,
    layout: _Layout,
    i: int,
    row: int,
    x: npt.NDArray[np.float64],
    fs: float,
    t0_s: float,
    clock_start: datetime | None,
    beats: Sequence[tuple[float, str]],
) -> None:
    """Row ``row`` of the strip, drawn in place ``i`` of its page."""
    bottom = layout.row_bottom(i)
    top = bottom + layout.row_h
    base = bottom + layout.baseline_mm
    g = layout.mm_per_mv

    # The calibration pulse: 1 mV for 0.2 s, from the baseline.
    c0 = layout.paper_x0 + 2.0
    w = _CAL_PULSE_S * layout.mm_per_s
    ax.plot(
        [c0 - 2.0, c0, c0, c0 + w, c0 + w, layout.trace_x0],
        [base, base, base + g, base + g, base, base],
        color=TRACE_COLOUR,
        lw=0.8,
        solid_joinstyle="miter",
        gid=f"calibration-{row}",
    )

    lo = round(row * layout.row_s * fs)
    hi = min(x.size, round((row + 1) * layout.row_s * fs))
    seg = x[lo:hi]
    if seg.size == 0:
        return
    finite = seg[np.isfinite(seg)]
    # The row's median is drawn on its baseline: a constant offset moved, the gain untouched.
    offset = float(np.median(finite)) if finite.size else 0.0
    xs = layout.trace_x0 + (np.arange(seg.size) / fs) * layout.mm_per_s
    ys = base + (seg - offset) * g
    y_hi, y_lo = top - _CLIP_MARGIN_MM, bottom + _CLIP_MARGIN_MM
    with np.errstate(invalid="ignore"):
        over, under = ys > y_hi, ys < y_lo
    ys = np.where(over, y_hi, np.where(under, y_lo, ys))
    ax.plot(xs, ys, color=TRACE_COLOUR, lw=0.7, solid_joinstyle="round", gid=f"trace-{row}")
    for mask, y, marker in ((over, y_hi, "v"), (under, y_lo, "^")):
        starts = np.flatnonzero(mask & ~np.concatenate(([False], mask[:-1])))
        if starts.size:  # a small triangle where the trace leaves the row
            ax.plot(xs[starts], np.full(starts.size, y + (-1.2 if marker == "v" else 1.2)),
                    linestyle="none", marker=marker, ms=3.0, color="#c00000",
                    gid=f"clipped-{row}")  # fmt: skip

    # When the row starts, at its left, in the margin.
    row_t = lo / fs
    if clock_start is not None:
        label = (clock_start + timedelta(seconds=row_t)).strftime("%H:%M:%S")
    else:
        label = f"{t0_s + row_t:.1f} s"
    ax.text(layout.paper_x0 - 1.0, base, label, fontsize=6, ha="right", va="center",
            color="0.25", gid=f"row-time-{row}")  # fmt: skip

    # Beat letters above their R peaks.
    t_lo, t_hi = t0_s + lo / fs, t0_s + hi / fs
    half = max(1, round(0.06 * fs))
    for t, letter in beats:
        if letter not in BEAT_COLOURS or not (t_lo <= t < t_hi):
            continue
        k = round((t - t_lo) * fs)
        near = ys[max(0, k - half) : k + half + 1]
        near = near[np.isfinite(near)]
        peak = float(near.max()) if near.size else base
        y = min(peak + 1.5, top - 3.5)
        ax.text(
            xs[min(k, xs.size - 1)],
            y,
            letter,
            fontsize=8,
            fontweight="bold",
            ha="center",
            va="bottom",
            color=BEAT_COLOURS[letter],
            gid=f"beat-{letter}-{t:.3f}",
        )
