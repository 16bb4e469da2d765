"""The synthetic rhythm source of the simulator: ECGSYN-like beats, respiratory baseline
wander, and f waves when in atrial fibrillation.

Sinus rhythm and synthetic AF are the same source with other parameters: a change applies
to the beats not begun yet (the next beat boundary), and the f waves fade in or out over a
second, so switching between them never makes a jump.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from cardiostream.sim.ecgsyn import NORMAL, Beat, BeatTrain, make_beat
from cardiostream.sim.fwaves import FibrillatoryWaves
from cardiostream.sim.rr import RESP_HZ, AfRR, HeartRate, SinusRR

Float64Array = npt.NDArray[np.float64]

#: Peak of the respiratory baseline wander, mV.
BASELINE_MV = 0.05
#: Depth of the respiratory modulation of the QRS amplitude.
RESP_GAIN = 0.04
#: Seconds over which the f waves fade in or out.
F_FADE_S = 1.0


@dataclass(frozen=True)
class AfSettings:
    """Synthetic AF: mean ventricular rate, RR coefficient of variation, f-wave amplitude."""

    hr_bpm: float = 100.0
    cv: float = 0.25
    f_amplitude_mv: float = 0.1


class SyntheticRhythm:
    """Synthetic ECG from ``start`` (a sample index) on, sinus or AF.

    Parameters
    ----------
    fs : float
        Sampling rate.
    rng : numpy.random.Generator
        Source of the RR intervals and f waves.
    start : int
        First sample; the first R peak comes half a second or so later, after its P wave.
    rate : HeartRate
        Sinus rate over time.
    af : AfSettings or None
        AF instead of sinus rhythm.
    baseline_phase : float
        Phase of the respiratory baseline wander, shared by every source of one simulator.
    """

    def __init__(
        self,
        fs: float,
        rng: np.random.Generator,
        start: int,
        rate: HeartRate,
        af: AfSettings | None = None,
        baseline_phase: float = 0.0,
    ) -> None:
        self.fs = fs
        self.rng = rng
        self.start = start
        self.baseline_phase = baseline_phase
        self.sinus = SinusRR(rng, rate)
        self.af: AfSettings | None = None
        self.af_rr = AfRR(rng)
        # Its own generator: the knots are drawn as time goes, the RR intervals beat by beat.
        self.fwaves = FibrillatoryWaves(np.random.default_rng(int(rng.integers(2**63))))
        # The f-wave gain: g0 at t0, then rising (+1) or falling (-1) by 1 per F_FADE_S.
        self._fade = (start / fs, 0.0, -1.0)
        self.train = BeatTrain(fs, self._make_beat)
        self._set_af(start / fs, af)

    @property
    def label(self) -> str:
        """``af`` or ``sinus``."""
        return "af" if self.af is not None else "sinus"

    def _rr(self, t_s: float) -> float:
        return self.af_rr(t_s) if self.af is not None else self.sinus(t_s)

    def _make_beat(self, last_r_s: float | None) -> Beat:
        morphology = NORMAL.without_p() if self.af is not None else NORMAL
        if last_r_s is None:
            rr = self.af_rr.mean_at(0) if self.af is not None else self.sinus.mean_at(0)
            # The first P wave begins just after the start.
            offset = -morphology.angles[0] / (2 * np.pi) * rr**0.75
            r_s = self.start / self.fs + offset + 4 * 0.25 / (2 * np.pi) * math.sqrt(rr) + 0.05
        else:
            rr = self._rr(last_r_s)
            r_s = last_r_s + rr
        gain = 1.0 + RESP_GAIN * math.sin(2 * math.pi * RESP_HZ * r_s + self.baseline_phase)
        return make_beat(r_s, rr, morphology, gain)

    def _fade_gain(self, t_s: Float64Array) -> Float64Array:
        t0, g0, direction = self._fade
        gain: Float64Array = np.clip(g0 + direction * (t_s - t0) / F_FADE_S, 0.0, 1.0)
        return gain

    def _set_af(self, t_s: float, af: AfSettings | None) -> None:
        g_now = float(self._fade_gain(np.asarray([t_s]))[0])
        self._fade = (t_s, g_now, 1.0 if af is not None else -1.0)
        self.af = af
        if af is not None:
            self.af_rr = AfRR(self.rng, af.hr_bpm, af.cv)
            self.fwaves.amplitude_mv = af.f_amplitude_mv

    def set_rhythm(self, a: int, rate: HeartRate, af: AfSettings | None) -> None:
        """From sample ``a`` (the next to render) on: sinus at ``rate``, or AF."""
        self.train.discard_from(a / self.fs)
        self.sinus.rate = rate
        self._set_af(a / self.fs, af)

    def stop(self, a: int) -> int:
        """Make no beat that has not begun by sample ``a``; return the sample where the last
        one has ended (the boundary where another source may take over)."""
        end = self.train.discard_from(a / self.fs)
        self.train.stopped = True
        return a if end is None else max(a, math.ceil(end * self.fs))

    def render(self, a: int, b: int) -> Float64Array:
        """Samples ``a`` to ``b - 1`` in mV; calls come in order."""
        out = self.train.render(a, b)
        t = np.arange(a, b) / self.fs
        out += BASELINE_MV * np.sin(2 * np.pi * RESP_HZ * t + self.baseline_phase)
        gain = self._fade_gain(t)
        if gain.any():
            out += gain * self.fwaves.at(t)
        return out
