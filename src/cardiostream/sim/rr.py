"""RR interval series: sinus rhythm with its variability, and atrial fibrillation.

Sinus rhythm follows ECGSYN's two spectral peaks in a simpler form: the interval is the mean
interval at the moment's rate, modulated by respiration (respiratory sinus arrhythmia, the
HF peak at 0.25 Hz) and by the 0.1 Hz Mayer waves (the LF peak), plus a little white noise.
The default depths (3 % HF, 2 % LF) give an LF/HF power ratio of 0.44, near ECGSYN's 0.5,
and an RR coefficient of variation near 3 %. AF intervals are independent draws from a
log-normal distribution (irregularly irregular; no memory from beat to beat).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

#: Respiration rate in Hz: the HF peak of the RR spectrum, and the baseline wander.
RESP_HZ = 0.25
#: Frequency of the Mayer waves in Hz: the LF peak.
LF_HZ = 0.1
#: Shortest and longest RR interval produced, seconds.
RR_MIN_S = 0.2
RR_MAX_S = 3.5


@dataclass(frozen=True)
class HeartRate:
    """A heart rate that goes linearly from ``from_bpm`` to ``to_bpm`` over ``ramp_s``
    seconds starting at ``start_s``, and stays there."""

    start_s: float
    from_bpm: float
    to_bpm: float
    ramp_s: float = 0.0

    @classmethod
    def constant(cls, bpm: float) -> HeartRate:
        """A rate that never changes."""
        return cls(0.0, bpm, bpm, 0.0)

    def at(self, t_s: float) -> float:
        """The rate at time ``t_s`` in bpm."""
        if self.ramp_s <= 0 or t_s >= self.start_s + self.ramp_s:
            return self.to_bpm
        done = max(t_s - self.start_s, 0.0) / self.ramp_s
        return self.from_bpm + (self.to_bpm - self.from_bpm) * done


class SinusRR:
    """RR intervals of sinus rhythm (see the module notes).

    Parameters
    ----------
    rng : numpy.random.Generator
        Source of the phases and the beat-to-beat noise.
    rate : HeartRate
        The mean rate over time; may be replaced while running (:attr:`rate`).
    hf, lf : float
        Depth of the respiratory and Mayer-wave modulation, as a fraction of the interval.
    jitter : float
        Standard deviation of the white noise, as a fraction of the interval.
    """

    def __init__(
        self,
        rng: np.random.Generator,
        rate: HeartRate,
        hf: float = 0.03,
        lf: float = 0.02,
        jitter: float = 0.01,
    ) -> None:
        self.rng = rng
        self.rate = rate
        self.hf, self.lf, self.jitter = hf, lf, jitter
        self.phases = rng.uniform(0, 2 * np.pi, 2)

    def mean_at(self, t_s: float) -> float:
        """The mean interval at time ``t_s``, seconds."""
        return 60.0 / self.rate.at(t_s)

    def __call__(self, t_s: float) -> float:
        """The interval that follows a beat at ``t_s``, seconds."""
        hf = self.hf * math.sin(2 * math.pi * RESP_HZ * t_s + self.phases[0])
        lf = self.lf * math.sin(2 * math.pi * LF_HZ * t_s + self.phases[1])
        noise = self.jitter * float(self.rng.standard_normal())
        rr = self.mean_at(t_s) * (1.0 + hf + lf + noise)
        return min(max(rr, RR_MIN_S), RR_MAX_S)


class AfRR:
    """RR intervals of atrial fibrillation: independent log-normal draws.

    Parameters
    ----------
    rng : numpy.random.Generator
        Source of the draws.
    hr_bpm : float
        Mean ventricular rate.
    cv : float
        Coefficient of variation of the intervals (0.2-0.3 is typical of untreated AF).
    """

    def __init__(self, rng: np.random.Generator, hr_bpm: float = 100.0, cv: float = 0.25) -> None:
        self.rng = rng
        self.hr_bpm = hr_bpm
        self.cv = cv
        self.sigma = math.sqrt(math.log1p(cv**2))
        self.mu = math.log(60.0 / hr_bpm) - self.sigma**2 / 2

    def mean_at(self, t_s: float) -> float:
        """The mean interval, seconds (the same at any time)."""
        return 60.0 / self.hr_bpm

    def __call__(self, t_s: float) -> float:
        """The next interval, seconds (``t_s`` does not matter: AF has no memory)."""
        rr = math.exp(self.mu + self.sigma * float(self.rng.standard_normal()))
        return min(max(rr, RR_MIN_S * 1.5), RR_MAX_S)
