"""Beat-level pieces of the streaming engine: the network's RR inputs and each window's HRV.

Both are compiled loops whose result does not depend on how the stream was cut into chunks.

RR inputs
    The RR and RR-change channels of :mod:`cardiostream.rhythm.features`, built sample by
    sample as the detector confirms beats, with the same arithmetic, so the streamed network
    input equals the offline one exactly.
Window HRV
    A window ending at ``t_end`` takes the beats of the 10 s (``window_s``) ending one second
    earlier, ``t_end - 1``: the R-peak detector confirms a beat one second after it (its fixed
    delay), so these are the latest beats known when the window is emitted. Its intervals are
    those between consecutive beats of that span within the physiological bounds of
    :mod:`cardiostream.beats.hrv` (300-2000 ms); successive differences pair adjacent accepted
    intervals. No ectopic correction: ten seconds hold too few beats for it, and in AF the
    irregularity is the finding. ``heart_rate_bpm`` is ``60000 / mean_rr_ms``; with fewer than
    two intervals every measure is NaN (``null`` in JSON).
"""

from __future__ import annotations

import numba
import numpy as np
import numpy.typing as npt

from cardiostream.beats.hrv import RR_MAX_MS, RR_MIN_MS
from cardiostream.rhythm.features import RR_DELAY, RR_RANGE
from cardiostream.rhythm.preprocess import MODEL_FS

# Carried state of the RR channels: last beat, last interval (s, 0 before), channel values.
R_PREV, R_RR, R_CH_RR, R_CH_CHANGE = range(4)
# Columns of window_hrv's output.
H_BEATS, H_AMP, H_MEAN, H_SDNN, H_RMSSD, H_PNN50, H_RATE = range(7)
N_HRV = 7


def initial_rr_state() -> npt.NDArray[np.float64]:
    """RR channel state before the first beat (channels at 0, as offline)."""
    return np.array([-1.0, 0.0, 0.0, 0.0])


@numba.njit(cache=True)
def fill_rr(
    n0: int,
    peaks: npt.NDArray[np.int64],
    st: npt.NDArray[np.float64],
    rr: npt.NDArray[np.float32],
    change: npt.NDArray[np.float32],
) -> None:  # pragma: no cover - compiled
    """Write the RR channels of samples ``n0 .. n0 + rr.size - 1`` given the beats that the
    detector confirmed within them (each enters at its sample ``p + RR_DELAY``)."""
    n = rr.size
    pos = 0
    lo, hi = RR_RANGE
    for p in peaks:
        a = min(max(p + RR_DELAY - n0, 0), n)
        for t in range(pos, a):
            rr[t] = st[R_CH_RR]
            change[t] = st[R_CH_CHANGE]
        pos = max(pos, a)
        if st[R_PREV] >= 0:
            r = min(max((p - st[R_PREV]) / MODEL_FS, lo), hi)
            if st[R_RR] > 0:
                st[R_CH_CHANGE] = np.float32(min(abs(r - st[R_RR]) / r, 2.0))
            st[R_RR] = r
            st[R_CH_RR] = np.float32(r)
        st[R_PREV] = p
    for t in range(pos, n):
        rr[t] = st[R_CH_RR]
        change[t] = st[R_CH_CHANGE]


@numba.njit(cache=True)
def window_hrv(
    peaks: npt.NDArray[np.int64],
    amps: npt.NDArray[np.float64],
    lo: npt.NDArray[np.int64],
    hi: npt.NDArray[np.int64],
    out: npt.NDArray[np.float64],
) -> None:  # pragma: no cover - compiled
    """Beat count, median amplitude and HRV of the beats in ``[lo[w], hi[w])`` (250 Hz samples)
    for every window ``w``; ``peaks`` sorted, ``amps`` their cleaned amplitudes (mV)."""
    for w in range(lo.size):
        a = np.searchsorted(peaks, lo[w])
        b = np.searchsorted(peaks, hi[w])
        o = out[w]
        o[:] = np.nan
        o[H_BEATS] = b - a
        if b - a > 0:
            o[H_AMP] = np.median(amps[a:b])
        n_ok = 0
        total = 0.0
        for i in range(a, b - 1):
            r = (peaks[i + 1] - peaks[i]) / MODEL_FS * 1000.0
            if RR_MIN_MS <= r <= RR_MAX_MS:
                n_ok += 1
                total += r
        if n_ok < 2:
            continue
        mean = total / n_ok
        dev = 0.0
        sq = 0.0
        n_succ = 0
        n50 = 0
        prev = -1.0
        for i in range(a, b - 1):
            r = (peaks[i + 1] - peaks[i]) / MODEL_FS * 1000.0
            if RR_MIN_MS <= r <= RR_MAX_MS:
                dev += (r - mean) ** 2
                if prev > 0:
                    d = r - prev
                    sq += d * d
                    n_succ += 1
                    if abs(d) > 50.0:
                        n50 += 1
                prev = r
            else:
                prev = -1.0
        o[H_MEAN] = mean
        o[H_SDNN] = np.sqrt(dev / (n_ok - 1))
        if n_succ:
            o[H_RMSSD] = np.sqrt(sq / n_succ)
            o[H_PNN50] = n50 / n_succ
        o[H_RATE] = 60_000.0 / mean
