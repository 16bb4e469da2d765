"""Fixtures for the dsp tests: a synthetic ECG."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

# (amplitude mV, offset s from the R peak, width s) of the P, Q, R, S and T waves.
_WAVES = (
    (0.15, -0.20, 0.025),
    (-0.10, -0.03, 0.010),
    (1.00, 0.00, 0.012),
    (-0.25, 0.03, 0.010),
    (0.30, 0.25, 0.060),
)


def synthetic_ecg(
    fs: float, duration: float, hr_bpm: float = 72.0, seed: int = 0, noise_mv: float = 0.01
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.int64]]:
    """A clean ECG (sum of Gaussian waves per beat, slight RR variability) and its R peaks."""
    rng = np.random.default_rng(seed)
    n = round(duration * fs)
    t = np.arange(n) / fs
    beats = []
    r = 0.4
    while r < duration:
        beats.append(r)
        r += 60.0 / hr_bpm * (1 + 0.03 * rng.standard_normal())
    x = noise_mv * rng.standard_normal(n)
    for r in beats:
        for amp, offset, width in _WAVES:
            centre = r + offset
            lo, hi = np.searchsorted(t, [centre - 5 * width, centre + 5 * width])
            x[lo:hi] += amp * np.exp(-0.5 * ((t[lo:hi] - centre) / width) ** 2)
    return x, np.round(np.array(beats) * fs).astype(np.int64)
