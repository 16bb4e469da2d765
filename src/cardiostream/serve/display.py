"""What dashboards draw of a stream: every lead cleaned at 125 Hz, and the new R peaks."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

DISPLAY_FS = 125.0
DISPLAY_STEP = 2  # 250 Hz / DISPLAY_FS


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
    kept = np.round(x[offset::DISPLAY_STEP], 3)
    return [None if v != v else v for v in kept.tolist()]
