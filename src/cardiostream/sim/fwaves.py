"""Fibrillatory (f) waves: the atrial activity that replaces P waves in atrial fibrillation.

A quasi-periodic wave of 4-9 Hz, a fundamental and a smaller second harmonic (the sawtooth
look of coarse AF), whose frequency and amplitude wander: both are set at knots one second
apart by a bounded random walk and interpolated linearly in between. With the frequency
linear between knots the phase has a closed form, so the wave is an exact function of time:
the same at any chunking and any sampling rate.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

Float64Array = npt.NDArray[np.float64]

#: Seconds between the knots of the frequency and amplitude walks.
KNOT_S = 1.0
F_LOW_HZ, F_HIGH_HZ = 4.5, 8.5


class FibrillatoryWaves:
    """f waves as a function of time.

    Parameters
    ----------
    rng : numpy.random.Generator
        Source of the walks (used in order, one knot at a time).
    amplitude_mv : float
        Typical amplitude; it wanders between half and 1.5 times this.
    """

    def __init__(self, rng: np.random.Generator, amplitude_mv: float = 0.1) -> None:
        self.rng = rng
        self.amplitude_mv = amplitude_mv
        self.freq = [float(rng.uniform(5.5, 7.0))]
        self.amp = [amplitude_mv]
        self.phase = [float(rng.uniform(0, 2 * np.pi))]
        self._arrays = self._as_arrays()

    def _as_arrays(self) -> tuple[Float64Array, Float64Array, Float64Array]:
        return np.asarray(self.freq), np.asarray(self.amp), np.asarray(self.phase)

    def _extend(self, knots: int) -> None:
        if len(self.freq) >= knots:
            return
        while len(self.freq) < knots:
            f = float(np.clip(self.freq[-1] + 0.4 * self.rng.standard_normal(), F_LOW_HZ,
                              F_HIGH_HZ))  # fmt: skip
            a = float(np.clip(self.amp[-1] * np.exp(0.15 * self.rng.standard_normal()),
                              0.5 * self.amplitude_mv, 1.5 * self.amplitude_mv))  # fmt: skip
            # Phase at the new knot: the integral of the linear frequency over the segment.
            self.phase.append(self.phase[-1] + np.pi * KNOT_S * (self.freq[-1] + f))
            self.freq.append(f)
            self.amp.append(a)
        self._arrays = self._as_arrays()

    def at(self, t_s: Float64Array) -> Float64Array:
        """The f waves in mV at times ``t_s`` (seconds, not negative)."""
        if t_s.size == 0:
            return np.zeros(0)
        k = np.floor(t_s / KNOT_S).astype(np.int64)
        self._extend(int(k.max()) + 2)
        freq, amp, phase = self._arrays
        tau = t_s - k * KNOT_S
        f0, df = freq[k], (freq[k + 1] - freq[k]) / KNOT_S
        phi = phase[k] + 2 * np.pi * (f0 * tau + 0.5 * df * tau**2)
        a = amp[k] + (amp[k + 1] - amp[k]) * tau / KNOT_S
        result: Float64Array = a * (np.sin(phi) + 0.3 * np.sin(2 * phi + 0.8)) / 1.2
        return result
