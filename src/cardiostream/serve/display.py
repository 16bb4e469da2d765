"""What dashboards draw of a stream: every lead filtered for display at 125 Hz, and the new
R peaks.

The display has its own filter, not the analysis's: the analysis cleans with a 0.5 Hz
second-order high-pass, which suits beat detection but bends the trace after any beat with a
large one-sided area. After each PVC of MITDB 119 (a deep S wave for 0.3 s) it drew a shelf
about 0.5 mV above where the signal is, for the 0.9 s up to the next beat. The display uses
the diagnostic low edge instead: a first-order 0.05 Hz high-pass (no overshoot, no visible
tilt over a QRS or an ST segment) and the same 40 Hz low-pass.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from cardiostream import wire

DISPLAY_FS = 125.0
DISPLAY_STEP = 2  # 250 Hz / DISPLAY_FS
#: The display's band: a first-order high-pass at the diagnostic 0.05 Hz, a 40 Hz low-pass.
DISPLAY_LOW_HZ = 0.05
DISPLAY_HIGH_HZ = 40.0


class DisplayCleaner:
    """The display's band-pass on 250 Hz samples (NaN kept where samples are missing)."""

    def __init__(self) -> None:
        from cardiostream.dsp.filters import SOSFilter, butter_sos

        sos = np.vstack([butter_sos(1, DISPLAY_LOW_HZ, "highpass", 250.0),
                         butter_sos(2, DISPLAY_HIGH_HZ, "lowpass", 250.0)])  # fmt: skip
        self.filter = SOSFilter(sos, 250.0)

    def process(self, x: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        out: npt.NDArray[np.float64] = self.filter.process(x)
        return out


class DisplayFilter:
    """A lead that is shown but not analysed: resampled to 250 Hz and filtered for display."""

    def __init__(self, fs: float) -> None:
        from cardiostream.dsp.resample import Resampler

        self.resampler = Resampler(fs, 250.0, exact=True)
        self.cleaner = DisplayCleaner()

    def process(self, x: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        """The next stretch of the lead, resampled to 250 Hz and filtered for display."""
        return self.cleaner.process(self.resampler.process(x))


def display_values(x: npt.NDArray[np.float64], offset: int) -> list[float | None]:
    """Every other sample from ``offset``, rounded to the µV, with null for a gap (NaN)."""
    kept = np.round(x[offset::DISPLAY_STEP], 3)
    return [None if v != v else v for v in kept.tolist()]


def display_json(
    t: float,
    lead: str,
    leads: dict[str, list[float | None]],
    peaks: Sequence[float] = (),
    beats: Sequence[Sequence[object]] = (),
) -> str:
    """A trace's display line as dashboards receive it: ``t`` the stream time of its first
    sample, ``leads`` each lead's values at :data:`DISPLAY_FS`, the new R peaks and the
    ``[time, letter]`` beats whose class was decided."""
    return json.dumps(
        {"type": wire.DISPLAY, "t": round(t, 4), "fs": DISPLAY_FS, "lead": lead,
         "leads": leads, "peaks": list(peaks), "beats": list(beats)},
        allow_nan=False,
    )  # fmt: skip
