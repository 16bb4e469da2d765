"""Long-term heart rate variability on NN intervals (Task Force 1996).

NN intervals are the intervals between two consecutive N beats of analysable time, from
300 to 2000 ms, leaving out every interval that touches an ectopic (non-N) beat or the beat
after one, and every interval across a break in the signal (see the contract in
:mod:`cardiostream.report.holter.contract`).

Time domain: SDNN over all NN intervals; SDANN, the SD of the mean NN of the 5-minute
segments (by clock: segment ``k`` is ``[300 k, 300 (k + 1))`` s, an interval belonging to
the segment of its ending beat) that hold any; SDNN index, the mean of their SDs (segments
with at least two); RMSSD and pNN50 over pairs of successive NN intervals (both NN, sharing
a beat).

Frequency domain: per 5-minute segment with at least 80 % of its time covered by NN
intervals, the NN series (value at each interval's ending beat) is linearly interpolated at
4 Hz between its first and last beat (the gaps left by excluded intervals are bridged), its
mean and linear trend removed, and its spectrum estimated by Welch's method (Hann windows of
256 samples, 64 s, half overlapping); LF is the power in 0.04-0.15 Hz, HF in 0.15-0.4 Hz
(ms²). The report gives the means over the segments and LF/HF as the ratio of those means.

Reference: Task Force of the ESC and NASPE. Heart rate variability: standards of
measurement, physiological interpretation and clinical use. Circulation 1996;93:1043-65.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import numpy.typing as npt
from scipy import signal as sps

from cardiostream.report.holter.contract import Hrv

SEGMENT_S = 300.0
NN_MIN_S, NN_MAX_S = 0.3, 2.0
RESAMPLE_HZ = 4.0
MIN_COVER = 0.8
LF_BAND = (0.04, 0.15)
HF_BAND = (0.15, 0.4)
#: The classes of ectopic beats (Q, unclassifiable, is not ectopic but is not N either).
ECTOPIC = ("S", "V", "F")


class NN(NamedTuple):
    """NN intervals: ``t`` the time of each interval's ending beat (s), ``nn`` its length (s),
    ``successive`` whether it and the interval before it are both NN and share a beat."""

    t: npt.NDArray[np.float64]
    nn: npt.NDArray[np.float64]
    successive: npt.NDArray[np.bool_]


def nn_intervals(
    t: npt.ArrayLike,
    label: npt.ArrayLike,
    analysable: npt.ArrayLike | None = None,
    broken: npt.ArrayLike | None = None,
) -> NN:
    """The NN intervals of a beat series.

    Parameters
    ----------
    t : array_like of float
        Beat times in seconds, increasing.
    label : array_like of str
        AAMI letter of each beat.
    analysable : array_like of bool, optional
        Whether each beat lies in analysable time (default: all).
    broken : array_like of bool, optional
        Whether the signal was interrupted just before each beat (default: none).

    Returns
    -------
    NN
    """
    times = np.asarray(t, np.float64)
    labels = np.asarray(label)
    n = times.size
    ok = np.ones(n, bool) if analysable is None else np.asarray(analysable, bool)
    cut = np.zeros(n, bool) if broken is None else np.asarray(broken, bool)
    if n < 2:
        empty = np.zeros(0)
        return NN(empty, empty, np.zeros(0, bool))
    normal = (labels == "N") & ok
    # Interval i runs from beat i to beat i + 1: both N, and the beat before i not ectopic
    # either (the interval after an ectopic beat holds its compensatory pause).
    rr = np.diff(times)
    valid = normal[:-1] & normal[1:] & ~cut[1:] & (rr >= NN_MIN_S) & (rr <= NN_MAX_S)
    after_ectopic = np.zeros(n - 1, bool)
    after_ectopic[1:] = np.isin(labels[:-2], ECTOPIC)
    valid &= ~after_ectopic
    idx = np.flatnonzero(valid)
    successive = np.zeros(idx.size, bool)
    successive[1:] = np.diff(idx) == 1
    return NN(times[idx + 1], rr[idx], successive)


def _band(
    f: npt.NDArray[np.float64], p: npt.NDArray[np.float64], band: tuple[float, float]
) -> float:
    sel = (f >= band[0]) & (f < band[1])
    return float(np.trapezoid(p[sel], f[sel])) if sel.sum() > 1 else 0.0


def segment_spectrum(
    t: npt.NDArray[np.float64], nn_s: npt.NDArray[np.float64]
) -> tuple[float, float]:
    """LF and HF power (ms²) of one segment's NN series (see the module notes)."""
    grid = np.arange(t[0], t[-1], 1.0 / RESAMPLE_HZ)
    x = np.interp(grid, t, nn_s * 1000.0)
    x = sps.detrend(x, type="linear")
    f, p = sps.welch(x, fs=RESAMPLE_HZ, window="hann", nperseg=min(256, x.size), detrend=False)
    return _band(f, p, LF_BAND), _band(f, p, HF_BAND)


def hrv_nn(nn: NN) -> Hrv:
    """The report's HRV figures from NN intervals (null where too few)."""
    x_ms = nn.nn * 1000.0
    n = int(x_ms.size)
    out: Hrv = {
        "n_nn": n,
        "sdnn_ms": None,
        "sdann_ms": None,
        "sdnn_index_ms": None,
        "rmssd_ms": None,
        "pnn50": None,
        "lf_ms2": None,
        "hf_ms2": None,
        "lf_hf": None,
        "segments": 0,
    }
    if n < 2:
        return out
    out["sdnn_ms"] = round(float(np.std(x_ms, ddof=1)), 2)
    d = np.diff(x_ms)[nn.successive[1:]]
    if d.size:
        out["rmssd_ms"] = round(float(np.sqrt(np.mean(d * d))), 2)
        out["pnn50"] = round(float(np.mean(np.abs(d) > 50.0)), 4)
    seg = np.floor(nn.t / SEGMENT_S).astype(np.int64)
    bounds = np.flatnonzero(np.diff(seg)) + 1
    means, sds, lf, hf = [], [], [], []
    for part_t, part in zip(np.split(nn.t, bounds), np.split(x_ms, bounds), strict=True):
        means.append(float(part.mean()))
        if part.size >= 2:
            sds.append(float(np.std(part, ddof=1)))
        # Covered: the NN intervals' own time, at least 80 % of the 5 minutes.
        if part.sum() / 1000.0 >= MIN_COVER * SEGMENT_S and part.size >= 32:
            a, b = segment_spectrum(part_t, part / 1000.0)
            lf.append(a)
            hf.append(b)
    if len(means) >= 2:
        out["sdann_ms"] = round(float(np.std(means, ddof=1)), 2)
    if sds:
        out["sdnn_index_ms"] = round(float(np.mean(sds)), 2)
    if lf:
        lf_m, hf_m = float(np.mean(lf)), float(np.mean(hf))
        out["lf_ms2"], out["hf_ms2"] = round(lf_m, 1), round(hf_m, 1)
        out["lf_hf"] = round(lf_m / hf_m, 3) if hf_m > 0 else None
        out["segments"] = len(lf)
    return out
