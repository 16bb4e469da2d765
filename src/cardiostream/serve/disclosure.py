"""Full disclosure: the last minutes of a live stream's display signal, kept by the server.

A reload, a second screen or a printed strip needs the trace from before it connected. The
web process keeps, per stream, the analysed lead of the ``display`` lines (cleaned, 125 Hz,
in mV, NaN for a gap) in a ring of ``seconds`` and the R peaks and beat letters of that
span, so what it hands back is what the dashboards draw. The engine gives every stream's
frames a display line while a trace is kept, watched or not, so the ring is whole when the
first dashboard opens (after an alarm, say).
"""

from __future__ import annotations

import math
from bisect import bisect_left
from collections import deque
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

#: Seconds of trace kept per stream by default.
DISCLOSURE_S = 120.0


@dataclass(frozen=True)
class Trace:
    """A stretch of kept trace: ``samples`` from stream time ``t0`` at ``fs``, the R peaks
    (stream times) and the classified beats (``[time, letter]``) within it."""

    t0: float
    fs: float
    samples: npt.NDArray[np.float32]
    peaks: list[float]
    beats: list[tuple[float, str]]

    @property
    def duration_s(self) -> float:
        return self.samples.size / self.fs if self.fs else 0.0


class Disclosure:
    """The last ``seconds`` of one stream's analysed lead, from its ``display`` lines.

    The ring holds whole display lines' samples in order; a line whose start does not follow
    the last one (a reconnect, a dropped line) starts the ring afresh rather than drawing two
    stretches as one.
    """

    def __init__(self, seconds: float = DISCLOSURE_S) -> None:
        if not (math.isfinite(seconds) and seconds >= 0):
            raise ValueError(f"seconds: must be a non-negative number, got {seconds!r}")
        self.seconds = seconds
        self.fs = 0.0
        self.t0 = 0.0  # stream time of the ring's first sample
        self._n = 0
        self._buf = np.empty(0, np.float32)
        self._peaks: deque[float] = deque()
        self._beats: deque[tuple[float, str]] = deque()

    def add(self, line: dict[str, Any]) -> None:
        """One ``display`` line (as the engine sends it)."""
        if self.seconds <= 0:
            return
        fs = float(line.get("fs") or 0.0)
        values = (line.get("leads") or {}).get(line.get("lead"))
        if fs <= 0 or values is None:
            return
        t = float(line["t"])
        # numpy reads None as NaN in a float array: twice as fast as a comprehension, and this
        # runs in the web loop for every frame of every stream.
        x = np.array(values, np.float64).astype(np.float32)
        cap = round(self.seconds * fs)
        if fs != self.fs or self._buf.size != cap:
            self.fs, self._buf, self._n, self.t0 = fs, np.full(cap, np.nan, np.float32), 0, t
            self._peaks.clear()
            self._beats.clear()
        end = self.t0 + self._n / fs
        if self._n and abs(t - end) > 1.5 / fs:
            self._n, self.t0 = 0, t  # not contiguous: start again
            self._peaks.clear()
            self._beats.clear()
        if not self._n:
            self.t0 = t
        if x.size >= cap:
            self._buf[:] = x[-cap:]
            self.t0 = t + (x.size - cap) / fs
            self._n = cap
        else:
            over = self._n + x.size - cap
            if over > 0:  # drop the oldest samples
                self._buf[: self._n - over] = self._buf[over : self._n]
                self._n -= over
                self.t0 += over / fs
            self._buf[self._n : self._n + x.size] = x
            self._n += x.size
        self._peaks.extend(float(p) for p in line.get("peaks") or ())
        self._beats.extend((float(b[0]), str(b[1])) for b in line.get("beats") or ())
        while self._peaks and self._peaks[0] < self.t0:
            self._peaks.popleft()
        while self._beats and self._beats[0][0] < self.t0:
            self._beats.popleft()

    def last(self, seconds: float) -> Trace:
        """The last ``seconds`` kept (less when less is kept)."""
        fs = self.fs
        n = min(self._n, max(0, round(seconds * fs))) if fs else 0
        start = self._n - n
        t0 = self.t0 + start / fs if fs else self.t0
        peaks = list(self._peaks)
        beats = list(self._beats)
        return Trace(
            t0=t0,
            fs=fs,
            samples=self._buf[start : self._n].copy(),
            peaks=peaks[bisect_left(peaks, t0) :],
            beats=[b for b in beats if b[0] >= t0],
        )
