"""Real atrial fibrillation for the simulator: the bundled AF excerpts spliced into a loop.

A model trained on real AF is easily fooled by synthetic AF (and fools the demo in turn), so
``af`` mode plays real recordings by default. Each excerpt is resampled to the simulator's
rate (``scipy.signal.resample_poly``), its baseline taken out (zero-phase 0.5 Hz high-pass)
and its median R amplitude matched to the synthetic beats'. The excerpts are joined, last to
first as well, at quiet points between beats (60 % of the way from one R peak to the next)
with a 0.2 s linear cross-fade, into one seamless loop; the simulator enters and leaves it
at such quiet points too.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import numpy.typing as npt
from scipy import signal as sps

from cardiostream.sim.ecgsyn import NORMAL
from cardiostream.sim.playback import af_playlist, load_record

Float64Array = npt.NDArray[np.float64]
Int64Array = npt.NDArray[np.int64]

#: Cross-fade at every join, seconds.
FADE_S = 0.2
#: Where between two R peaks a join may fall (fraction of the RR interval).
QUIET_FRACTION = 0.6


@dataclass(frozen=True)
class AfLoop:
    """The spliced AF recordings at one rate.

    Attributes
    ----------
    signal : ndarray of float64
        The loop in mV; its last sample runs smoothly into its first.
    quiet : ndarray of int64
        Sorted indices of the quiet points between beats.
    hr_bpm : float
        Mean ventricular rate over the loop.
    """

    signal: Float64Array
    quiet: Int64Array
    hr_bpm: float


def _prepare(x: Float64Array, fs_in: float, fs: float) -> tuple[Float64Array, Int64Array, float]:
    from cardiostream.beats import detect_rpeaks
    from cardiostream.dsp.resample import resample

    x = resample(np.nan_to_num(x), fs_in, fs)
    sos = sps.butter(2, 0.5, "highpass", fs=fs, output="sos")
    x = sps.sosfiltfilt(sos, x)
    peaks = detect_rpeaks(x, fs)
    height = float(np.median(x[peaks]))
    x = x * (NORMAL.amplitudes_mv[2] / height)  # a negative height turns the excerpt over
    rr = np.diff(peaks)
    quiet = peaks[:-1] + np.round(QUIET_FRACTION * rr).astype(np.int64)
    return x, quiet, 60.0 * fs / float(np.mean(rr))


@lru_cache(maxsize=4)
def af_loop(fs: float, samples: tuple[str, ...] | None = None) -> AfLoop:
    """The bundled AF excerpts as one loop at ``fs`` (computed once per rate); ``samples``
    names the excerpts to use (default: all of :func:`af_playlist`)."""
    fade = max(round(FADE_S * fs), 1)
    bodies: list[Float64Array] = []
    tails: list[Float64Array] = []
    quiets: list[Int64Array] = []
    rates: list[float] = []
    if samples is None:
        paths = af_playlist()
    else:
        from cardiostream.samples import sample_path

        paths = [sample_path(name) for name in samples]
    for path in paths:
        rec = load_record(path)
        x, quiet, hr = _prepare(rec.lead(0).astype(np.float64), rec.fs, fs)
        quiet = quiet[(quiet >= round(0.5 * fs)) & (quiet < len(x) - fade - round(0.5 * fs))]
        first, last = int(quiet[0]), int(quiet[-1])
        bodies.append(x[first:last])
        tails.append(x[last : last + fade])
        quiets.append(quiet[quiet < last] - first)
        rates.append(hr)
    w = (np.arange(fade) + 0.5) / fade
    offset = 0
    for i, body in enumerate(bodies):
        body[:fade] = (1 - w) * tails[i - 1] + w * body[:fade]
        quiets[i] = quiets[i] + offset
        offset += len(body)
    signal = np.concatenate(bodies)
    signal.setflags(write=False)
    quiet = np.concatenate(quiets)
    quiet.setflags(write=False)
    return AfLoop(signal, quiet, float(np.mean(rates)))


class RealAF:
    """A source that plays :func:`af_loop`, entering and leaving it at quiet points.

    Parameters
    ----------
    fs : float
        Sampling rate.
    rng : numpy.random.Generator
        Chooses where in the loop the first episode starts.
    """

    label = "af_real"

    def __init__(self, fs: float, rng: np.random.Generator) -> None:
        self.loop = af_loop(fs)
        self.fade = max(round(FADE_S * fs), 1)
        self.pointer = int(rng.choice(self.loop.quiet))
        self.t0 = 0
        self.p0 = self.pointer

    def start(self, a: int) -> None:
        """Play from sample ``a`` on, from the next quiet point after the last episode."""
        q = self.loop.quiet
        i = int(np.searchsorted(q, self.pointer))
        self.t0, self.p0 = a, int(q[i % len(q)])

    def stop(self, a: int) -> int:
        """The first quiet point at or after sample ``a``; the next episode goes on from it."""
        n = len(self.loop.signal)
        pos = (self.p0 + a - self.t0) % n
        q = self.loop.quiet
        i = int(np.searchsorted(q, pos))
        wait = int(q[i]) - pos if i < len(q) else n - pos + int(q[0])
        self.pointer = (pos + wait) % n
        return a + wait

    def render(self, a: int, b: int) -> Float64Array:
        """Samples ``a`` to ``b - 1`` in mV."""
        idx = (self.p0 + np.arange(a, b) - self.t0) % len(self.loop.signal)
        out: Float64Array = self.loop.signal[idx]
        return out
