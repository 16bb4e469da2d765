"""What dashboards draw of a stream: every lead cleaned at 125 Hz, and the new R peaks."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from cardiostream import wire

if TYPE_CHECKING:
    from cardiostream.serve.session import Session

DISPLAY_FS = 125.0
_DISPLAY_STEP = 2  # 250 Hz / DISPLAY_FS


class DisplayFilter:
    """A lead that is shown but not analysed: resampled to 250 Hz and cleaned like the
    analysed one, so dashboards draw every lead alike."""

    def __init__(self, fs: float) -> None:
        from cardiostream.dsp import ECGCleaner
        from cardiostream.dsp.resample import Resampler

        self.resampler = Resampler(fs, 250.0, exact=True)
        self.cleaner = ECGCleaner(250.0)

    def process(self, x: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        """The next stretch of the lead, resampled to 250 Hz and cleaned."""
        out: npt.NDArray[np.float64] = self.cleaner.process(self.resampler.process(x))
        return out


def display_values(x: npt.NDArray[np.float64], offset: int) -> list[float | None]:
    """Every other sample from ``offset``, rounded to the µV, with null for a gap (NaN)."""
    kept = np.round(x[offset::_DISPLAY_STEP], 3)
    return [None if v != v else v for v in kept.tolist()]


def display_line(session: Session, x: npt.NDArray[np.float64]) -> str:
    """What dashboards draw of one frame: every lead cleaned at 125 Hz, and the new R peaks.

    ``t`` is the stream time of the first sample; peaks are stream times in seconds. The
    analysed lead is drawn as the processor cleaned it (its last push), so what a dashboard
    shows is what was analysed; the other leads go through a :class:`DisplayFilter` each.
    """
    proc = session.processor
    n0, clean, new_peaks = proc.last_push
    offset = (-n0) % _DISPLAY_STEP  # keep samples of even index: chunks join seamlessly
    leads: dict[str, list[float | None]] = {}
    for i, label in enumerate(session.leads):
        if i == session.lead:
            y = clean
        else:
            filt = session.display.get(i)
            if filt is None:
                filt = session.display[i] = DisplayFilter(session.fs)
            y = filt.process(x[:, i])
            y = np.pad(y, (0, max(clean.size - y.size, 0)))[: clean.size]
        leads[label] = display_values(y, offset)
    t = proc.t0 + (n0 + offset) / 250.0
    peaks = [round(proc.t0 + int(p) / 250.0, 3) for p in new_peaks]
    return json.dumps(
        {"type": wire.DISPLAY, "t": round(t, 4), "fs": DISPLAY_FS,
         "lead": session.leads[session.lead], "leads": leads, "peaks": peaks},
        allow_nan=False,
    )  # fmt: skip
