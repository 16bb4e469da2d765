"""Analysable time on a one-second grid, and which beats fall in it.

Each engine window stands for its hop: the window ending at ``t_end`` for the seconds
``(t_end - hop_s, t_end]``. Seconds that no window stands for (the first ``window_s - hop_s``
of the recording, a last partial second) are not analysable.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from cardiostream.report.holter.collect import Collected
from cardiostream.rhythm.verdict import LABELS

AF_CODE = LABELS.index("af")


@dataclass
class Timeline:
    """Per hop of the recording: covered by a window, usable, AF, heart rate.

    Attributes
    ----------
    hop_s : float
        Length of a slot, seconds.
    usable, af : ndarray of bool
        Per slot ``k`` (the time ``(k hop_s, (k + 1) hop_s]``): its window is usable; is
        labelled ``af``.
    hr : ndarray of float64
        Its window's heart rate (NaN where none).
    """

    hop_s: float
    usable: npt.NDArray[np.bool_]
    af: npt.NDArray[np.bool_]
    hr: npt.NDArray[np.float64]

    @classmethod
    def of(cls, c: Collected) -> Timeline:
        """The timeline of a pass of the engine."""
        n = int(np.ceil(c.duration_s / c.hop_s))
        usable = np.zeros(n, bool)
        af = np.zeros(n, bool)
        hr = np.full(n, np.nan)
        k = np.round(c.t_end / c.hop_s).astype(np.int64) - 1
        inside = (k >= 0) & (k < n)
        k = k[inside]
        usable[k] = c.usable[inside]
        af[k] = (c.label[inside] == AF_CODE) & c.usable[inside]
        hr[k] = np.where(c.usable[inside], c.hr[inside], np.nan)
        return cls(c.hop_s, usable, af, hr)

    def slot(self, t: npt.ArrayLike) -> npt.NDArray[np.int64]:
        """Slot of each time (clipped to the grid)."""
        k = np.ceil(np.asarray(t, np.float64) / self.hop_s).astype(np.int64) - 1
        return np.clip(k, 0, max(self.usable.size - 1, 0))

    def analysable(self, t: npt.ArrayLike) -> npt.NDArray[np.bool_]:
        """Whether each time lies in analysable time."""
        times = np.asarray(t, np.float64)
        if not self.usable.size:
            return np.zeros(times.shape, bool)
        out: npt.NDArray[np.bool_] = self.usable[self.slot(times)] & (times > 0)
        return out & (times <= self.usable.size * self.hop_s)

    def in_af(self, t: npt.ArrayLike) -> npt.NDArray[np.bool_]:
        """Whether each time lies in a window labelled ``af``."""
        times = np.asarray(t, np.float64)
        if not self.af.size:
            return np.zeros(times.shape, bool)
        out: npt.NDArray[np.bool_] = self.af[self.slot(times)]
        return out

    def seconds(self, mask: npt.NDArray[np.bool_], start_s: float, end_s: float) -> float:
        """Seconds of ``mask`` (a per-slot array) between two times on the grid."""
        a = round(start_s / self.hop_s)
        b = round(end_s / self.hop_s)
        return float(np.count_nonzero(mask[a:b])) * self.hop_s
