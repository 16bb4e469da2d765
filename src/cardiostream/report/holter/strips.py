"""ECG strips as inline SVG on ECG paper, true to scale: 25 mm/s and 10 mm/mV.

The ``<svg>`` is sized in millimetres and its ``viewBox`` counts millimetres too, so one
drawing unit is one millimetre on paper: a 10 s row is 250 mm of trace, a 1 mV deflection
10 mm, the small squares 1 mm and the large ones 5 mm. Printed at 100 % (the PDF's strip
pages are A4 landscape, 297 mm wide, so a 10 s row fits unscaled) the strip can be measured
with calipers like any paper strip.

The conventions follow :mod:`cardiostream.report.strip` (the matplotlib strip): each row
opens with a 1 mV, 0.2 s calibration pulse; the row's median sits on its baseline (an offset
moved, the gain untouched); a trace that leaves its row is clipped at the edge with a red
mark; non-N beats are lettered above their R peaks in that module's colours.
"""

from __future__ import annotations

import math
from html import escape

import numpy as np
import numpy.typing as npt

from cardiostream.report.holter.contract import StripSignal
from cardiostream.report.strip import BEAT_COLOURS, MAJOR_COLOUR, MINOR_COLOUR, TRACE_COLOUR

MM_PER_S = 25.0
MM_PER_MV = 10.0
#: Seconds of signal per row: 250 mm of trace, what A4 landscape holds at 25 mm/s.
ROW_S = 10.0
ROW_H_MM = 30.0  # -1 to +2 mV around the baseline
BASELINE_MM = 20.0  # from the row's top: 2 mV of room above, 1 mV below
CAL_W_MM = 10.0  # the paper left of the trace, where the calibration pulse stands
_CAL_PULSE_S = 0.2
_CLIP_MM = 0.4


def _grid(width: float, height: float) -> str:
    """1 mm and 5 mm lines over the whole paper, as two paths (light under dark)."""
    minor: list[str] = []
    major: list[str] = []
    for i in range(round(width) + 1):
        (major if i % 5 == 0 else minor).append(f"M{i} 0V{height:g}")
    for j in range(round(height) + 1):
        (major if j % 5 == 0 else minor).append(f"M0 {j}H{width:g}")
    return (
        f'<path class="grid-minor" d="{"".join(minor)}" stroke="{MINOR_COLOUR}" '
        f'stroke-width="0.1" fill="none"/>'
        f'<path class="grid-major" d="{"".join(major)}" stroke="{MAJOR_COLOUR}" '
        f'stroke-width="0.22" fill="none"/>'
    )


def _calibration(top: float) -> str:
    """The 1 mV pulse, 0.2 s wide, standing on the row's baseline."""
    base = top + BASELINE_MM
    a = 2.5
    b = a + _CAL_PULSE_S * MM_PER_S
    peak = base - MM_PER_MV
    return (
        f'<path class="calibration" d="M0 {base:g}H{a:g}V{peak:g}H{b:g}V{base:g}'
        f'H{CAL_W_MM:g}" stroke="{TRACE_COLOUR}" stroke-width="0.3" fill="none" '
        f'stroke-linejoin="miter"/>'
    )


def _polylines(xs: npt.NDArray[np.float64], ys: npt.NDArray[np.float64]) -> list[str]:
    """One polyline per run of finite samples (a NaN is a gap in the trace)."""
    ok = np.isfinite(ys)
    out = []
    edges = np.flatnonzero(np.diff(np.concatenate(([0], ok.astype(np.int8), [0]))))
    for lo, hi in zip(edges[::2], edges[1::2], strict=True):
        if hi - lo < 2:
            continue
        pts = " ".join(f"{x:.2f},{y:.2f}" for x, y in zip(xs[lo:hi], ys[lo:hi], strict=True))
        out.append(
            f'<polyline class="trace" points="{pts}" fill="none" stroke="{TRACE_COLOUR}" '
            f'stroke-width="0.28" stroke-linejoin="round"/>'
        )
    return out


def _row(
    x: npt.NDArray[np.float64],
    fs: float,
    top: float,
    beats: list[tuple[float, str]],
    row_t0: float,
    time_label: str,
) -> list[str]:
    """One row's calibration, trace, clip marks, beat letters and start time."""
    parts = [_calibration(top)]
    base = top + BASELINE_MM
    finite = x[np.isfinite(x)]
    offset = float(np.median(finite)) if finite.size else 0.0
    xs = CAL_W_MM + np.arange(x.size, dtype=np.float64) / fs * MM_PER_S
    ys = base - (x - offset) * MM_PER_MV
    y_hi, y_lo = top + _CLIP_MM, top + ROW_H_MM - _CLIP_MM
    with np.errstate(invalid="ignore"):
        over, under = ys < y_hi, ys > y_lo
    ys = np.where(over, y_hi, np.where(under, y_lo, ys))
    parts.extend(_polylines(xs, ys))
    for mask in (over, under):
        starts = np.flatnonzero(mask & ~np.concatenate(([False], mask[:-1])))
        for j in starts:  # a small red bar where the trace leaves the row
            parts.append(f'<path class="clipped" d="M{xs[j] - 0.8:.2f} {ys[j]:.2f}'
                         f'h1.6" stroke="#c00000" stroke-width="0.6"/>')  # fmt: skip
    if time_label:
        parts.append(f'<text class="row-time" x="{CAL_W_MM + 1.0:g}" y="{top + 3.0:g}" '
                     f'font-size="2.4" fill="#555">{escape(time_label)}</text>')  # fmt: skip
    half = max(1, round(0.06 * fs))
    for t, letter in beats:
        k = round((t - row_t0) * fs)
        if letter not in BEAT_COLOURS or not 0 <= k < x.size:
            continue
        near = ys[max(0, k - half) : k + half + 1]
        near = near[np.isfinite(near)]
        peak = float(near.min()) if near.size else base
        # On one line above the usual R wave, higher only for a taller beat: the letters
        # read as a row, as on a Holter printout, and never sit on the trace.
        y = max(top + 3.2, min(peak - 1.2, base - 1.3 * MM_PER_MV))
        parts.append(
            f'<text class="beat beat-{letter}" x="{xs[k]:.2f}" y="{y:.2f}" font-size="3.2" '
            f'font-weight="bold" text-anchor="middle" fill="{BEAT_COLOURS[letter]}">'
            f"{letter}</text>"
        )
    return parts


def strip_svg(
    signal: StripSignal, row_labels: list[str] | None = None, label: str = "ECG strip"
) -> str:
    """One strip on ECG paper, true to scale, rows of 10 s.

    Parameters
    ----------
    signal : StripSignal
        The samples (mV), their rate, and the beats (seconds from the strip's start, AAMI
        letters).
    row_labels : list of str or None
        Printed at the top left of each row (its clock time); None or short: no label.
    label : str
        The picture's accessible name.

    Returns
    -------
    str
        An ``<svg>`` element whose width and height are in mm, one drawing unit a millimetre:
        ``10 + 250`` mm wide, 30 mm tall per 10 s row.
    """
    x = np.asarray(signal.samples, dtype=np.float64).ravel()
    fs = float(signal.fs)
    per_row = max(1, round(ROW_S * fs))
    n_rows = max(1, math.ceil(x.size / per_row))
    width = CAL_W_MM + ROW_S * MM_PER_S
    height = n_rows * ROW_H_MM
    beats = list(zip((float(t) for t in signal.beat_s), signal.beat_class, strict=False))
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="strip" role="img" '
        f'aria-label="{escape(label)}" width="{width:g}mm" height="{height:g}mm" '
        f'viewBox="0 0 {width:g} {height:g}" data-mm-per-s="{MM_PER_S:g}" '
        f'data-mm-per-mv="{MM_PER_MV:g}" font-family="DejaVu Sans, Liberation Sans, '
        f'sans-serif">',
        '<rect width="100%" height="100%" fill="#fff"/>',
        _grid(width, height),
    ]
    labels = row_labels or []
    for r in range(n_rows):
        seg = x[r * per_row : (r + 1) * per_row]
        text = labels[r] if r < len(labels) else ""
        parts.extend(_row(seg, fs, r * ROW_H_MM, beats, r * ROW_S, text))
    parts.append("</svg>")
    return "".join(parts)
