"""Causal R-peak detection: one streaming detector, and the offline function built on it.

The method follows Hamilton and Tompkins' adaptive-threshold detector (the design behind
EP Limited's open-source OSEA): a Butterworth bandpass, the absolute derivative, a moving-window
integrator, peaks that must stay the largest for a blanking time, thresholds between the median
QRS and noise levels, T-wave rejection by slope (within a window that scales with the square root
of the RR interval, as the QT interval does), and a search-back for missed beats after a long
RR interval. Every time is in seconds, every level is relative, so the result does not depend
on the sampling rate or the amplitude or polarity of the signal.

At slow rates the T wave reaches beyond that window: 0.36 to 0.6 s after the QRS at 45 bpm,
where a tall T wave on a lead with a small QRS passes the threshold. Up to ``twave_rr`` mean RR
intervals after a QRS (at most ``twave_max_s``) a candidate must therefore still be
``twave_slope_late`` as steep as the last QRS: the band-pass leaves a smooth T wave little slope,
while premature beats keep most of theirs. A QRS that passes although it came within
``twave_max_s`` of the last and is less than ``twave_slope`` as steep (it would fail the
half-slope rule had the window been long enough) does not end an RR interval if it lies in the
first part of the interval between its neighbours, as a T wave does: T waves taken for beats
would otherwise halve the RR estimate, shorten the windows and let every later T wave through.

One rule is added to that design, made possible by the output delay: an accepted QRS that is
still unreported is replaced by a steeper one that follows it (much steeper, or as steep as a
typical QRS), if it was itself clearly less steep than the median QRS and either the new one
comes within ``replace_s`` (a tall P wave before its QRS) or, in a regular rhythm, dropping it
leaves a normal RR interval (noise between two beats).

Causality and delay
-------------------
The detector sees each sample once, in order. A beat whose R peak is at sample ``r`` is decided
using samples up to ``r + delay`` at most, and :meth:`RPeakDetector.push` reports it as soon as
sample ``r + delay`` has been pushed: ``delay`` (``delay_s``, 1.0 s by default) is the fixed,
documented latency of the detector. Search-back can only recover, and the replacement rule can
only move, beats younger than that delay.
:func:`detect_rpeaks` runs the same detector over the whole signal and flushes it, so chunked
and whole-signal results are identical by construction.

Gaps
----
NaN or infinite samples are held at the last finite value for the filters, contribute nothing to
the integrator, and no peak is taken inside them or for 0.3 s after them.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy.signal import butter, group_delay, sosfilt_zi

from cardiostream.beats import _rpeak_kernel as k
from cardiostream.errors import InputError

#: The fixed output delay by default, in seconds (see the module notes).
DEFAULT_DELAY_S = 1.0
MIN_FS = 50.0
MAX_FS = 20_000.0


@dataclass(frozen=True)
class DetectorParams:
    """Tuning of the R-peak detector; every time is in seconds.

    The defaults were chosen by cross-checking MIT-BIH lead 0 against its lead 1 and the
    noise-stress records, not by fitting MITDB lead 0 alone.
    """

    band_hz: tuple[float, float] = (5.0, 22.0)
    filter_order: int = 2
    diff_s: float = 0.01
    mwi_s: float = 0.12
    fall_s: float = 0.095
    blank_s: float = 0.2
    twave_s: float = 0.4
    twave_min_s: float = 0.28
    twave_max_s: float = 0.65
    refractory_s: float = 0.2
    learn_s: float = 1.0
    search_s: float = 0.15
    settle_s: float = 0.3
    stall_s: float = 3.0
    rr_default_s: float = 1.0
    threshold_coef: float = 0.3125
    searchback_coef: float = 0.5
    searchback_rr: float = 1.5
    twave_slope: float = 0.5
    # At slow rates the T wave reaches beyond the square-root window: up to ``twave_rr`` mean
    # RR intervals after a QRS (at most ``twave_max_s``) a candidate less steep than
    # ``twave_slope_late`` times the last QRS is a T wave. A QRS within ``twave_max_s`` of the
    # last and less steep than ``twave_slope`` times it is T-like: it ends no RR interval if it
    # lies in the first part of the one between its neighbours (see the module notes).
    twave_rr: float = 0.45
    twave_slope_late: float = 0.3
    decay_per_s: float = 0.5
    searchback_slope: float = 0.5
    # Replacing a weak QRS by a steeper successor (see the module notes): the successor is at
    # least ``replace_slope`` times as steep or ``replace_steep`` times the median QRS slope;
    # within ``replace_s`` the replaced one is less steep than ``replace_weak`` times the median,
    # later less than ``merge_weak`` times, the RR interval without it is below ``merge_rr`` mean
    # RR intervals and the last RR intervals lie within a ratio of ``merge_spread``.
    replace_slope: float = 1.5
    replace_steep: float = 0.8
    replace_weak: float = 0.7
    replace_s: float = 0.27
    merge_weak: float = 0.8
    merge_rr: float = 1.2
    merge_spread: float = 1.5


def _check_fs(fs: float) -> float:
    try:
        value = float(fs)
    except (TypeError, ValueError):
        raise InputError(f"fs: sampling rate must be a number, got {fs!r}") from None
    if not np.isfinite(value) or value <= 0:
        raise InputError(f"fs: sampling rate must be positive, got {fs!r}")
    if not MIN_FS <= value <= MAX_FS:
        raise InputError(f"fs: sampling rate {value:g} Hz is outside {MIN_FS:g}..{MAX_FS:g} Hz")
    return value


class RPeakDetector:
    """Streaming causal R-peak detector.

    Parameters
    ----------
    fs : float
        Sampling rate in Hz (50 to 10,000).
    delay_s : float
        Fixed output delay in seconds: a peak at sample ``r`` is returned by the :meth:`push`
        that brings in sample ``r + round(delay_s * fs)``. At least the learning time.
    params : DetectorParams, optional
        Tuning; the defaults suit adult ECG from 100 to 1000 Hz.

    Examples
    --------
    >>> det = RPeakDetector(fs=250)
    >>> peaks = [det.push(chunk) for chunk in chunks]  # doctest: +SKIP
    >>> peaks.append(det.flush())  # doctest: +SKIP
    """

    def __init__(
        self, fs: float, *, delay_s: float = DEFAULT_DELAY_S, params: DetectorParams | None = None
    ) -> None:
        self.fs = _check_fs(fs)
        self.params = params or DetectorParams()
        p = self.params
        if delay_s < p.learn_s:
            raise InputError(f"delay_s: must be at least the learning time {p.learn_s} s")
        self.delay_s = float(delay_s)
        sos, zi_unit, gd = _design(self.fs, p.band_hz, p.filter_order)
        self._sos, self._zi_unit = sos.copy(), zi_unit.copy()

        def samples(seconds: float) -> int:
            return max(1, round(seconds * self.fs))

        self._pi = np.zeros(k.N_PI, np.int64)
        self._pi[k.Q_DIFF] = samples(p.diff_s)
        self._pi[k.Q_MWI] = samples(p.mwi_s)
        self._pi[k.Q_FALL] = samples(p.fall_s)
        self._pi[k.Q_BLANK] = samples(p.blank_s)
        self._pi[k.Q_TWAVE] = samples(p.twave_s)
        self._pi[k.Q_TWAVE_MIN] = samples(p.twave_min_s)
        self._pi[k.Q_TWAVE_MAX] = samples(p.twave_max_s)
        self._pi[k.Q_REFRACT] = samples(p.refractory_s)
        self._pi[k.Q_DELAY] = samples(self.delay_s)
        self._pi[k.Q_LEARN] = samples(p.learn_s)
        self._pi[k.Q_SEARCH] = samples(p.search_s) + self._pi[k.Q_MWI]
        self._pi[k.Q_GROUP_DELAY] = round(gd)
        self._pi[k.Q_SETTLE] = samples(p.settle_s)
        self._pi[k.Q_STALL] = samples(p.stall_s)
        self._pi[k.Q_RR_DEFAULT] = samples(p.rr_default_s)
        self._pi[k.Q_FS] = round(self.fs)
        self._pi[k.Q_REPLACE] = samples(p.replace_s)
        self._pf = np.zeros(k.N_PF, np.float64)
        self._pf[k.P_TH_COEF] = p.threshold_coef
        self._pf[k.P_SB_COEF] = p.searchback_coef
        self._pf[k.P_SB_RR] = p.searchback_rr
        self._pf[k.P_T_SLOPE] = p.twave_slope
        self._pf[k.P_T_RR] = p.twave_rr
        self._pf[k.P_T_SLOPE_LATE] = p.twave_slope_late
        self._pf[k.P_DECAY_PER_S] = p.decay_per_s
        self._pf[k.P_SB_SLOPE] = p.searchback_slope
        self._pf[k.P_REPLACE_SLOPE] = p.replace_slope
        self._pf[k.P_REPLACE_STEEP] = p.replace_steep
        self._pf[k.P_REPLACE_WEAK] = p.replace_weak
        self._pf[k.P_MERGE_WEAK] = p.merge_weak
        self._pf[k.P_MERGE_RR] = p.merge_rr
        self._pf[k.P_MERGE_SPREAD] = p.merge_spread
        # The ring must hold the search window behind a candidate that waited out blanking.
        span = (
            self._pi[k.Q_SEARCH]
            + self._pi[k.Q_GROUP_DELAY]
            + self._pi[k.Q_BLANK]
            + self._pi[k.Q_FALL]
            + 4
        )
        self._ring_size = 1 << int(np.ceil(np.log2(span + 1)))
        self._queue_size = 1 << int(np.ceil(np.log2(self.delay_s / p.refractory_s + 64)))
        self.reset()

    @property
    def delay_samples(self) -> int:
        """The fixed output delay in samples."""
        return int(self._pi[k.Q_DELAY])

    def reset(self) -> None:
        """Forget everything: the next sample starts a new stream."""
        self._zi = np.zeros((self._sos.shape[0], 2), np.float64)
        self._ring = np.zeros(self._ring_size, np.float64)
        self._mring = np.zeros(int(self._pi[k.Q_MWI]), np.float64)
        self._fv = np.zeros(k.N_FV, np.float64)
        self._iv = np.zeros(k.N_IV, np.int64)
        self._iv[k.I_LAST_R] = -1
        self._iv[k.I_ANCHOR_R] = -1
        self._bufs = np.zeros((4, k.N_BUF), np.float64)
        self._cand = np.zeros((64, 3), np.float64)
        self._queue = np.zeros(self._queue_size, np.int64)

    @property
    def n_samples(self) -> int:
        """Samples pushed so far."""
        return int(self._iv[k.I_N])

    def _run(self, chunk: npt.ArrayLike, final: bool) -> npt.NDArray[np.int64]:
        x = np.ascontiguousarray(chunk, dtype=np.float64)
        if x.ndim == 2 and x.shape[1] == 1:
            x = x[:, 0]
        if x.ndim != 1:
            raise InputError(f"signal: expected a 1-D array of samples, got shape {x.shape}")
        cap = x.size // int(self._pi[k.Q_REFRACT]) + self._queue_size + 2
        out = np.empty(cap, np.int64)
        n = k.process(
            x,
            self._sos,
            self._zi_unit,
            self._zi,
            self._ring,
            self._mring,
            self._fv,
            self._iv,
            self._bufs,
            self._cand,
            self._queue,
            self._pf,
            self._pi,
            out,
            final,
        )
        return out[:n].copy()

    def push(self, chunk: npt.ArrayLike) -> npt.NDArray[np.int64]:
        """Feed samples; return the absolute indices of the peaks now due (sorted, int64)."""
        return self._run(chunk, final=False)

    def flush(self) -> npt.NDArray[np.int64]:
        """End the stream: decide what is pending, return the remaining peaks, then reset."""
        peaks = self._run(np.zeros(0), final=True)
        self.reset()
        return peaks

    def state_dict(self) -> dict[str, Any]:
        """The full state as plain Python data (JSON-serialisable)."""
        return {
            "fs": self.fs,
            "delay_s": self.delay_s,
            "zi": self._zi.tolist(),
            "ring": self._ring.tolist(),
            "mring": self._mring.tolist(),
            "fv": self._fv.tolist(),
            "iv": self._iv.tolist(),
            "bufs": self._bufs.tolist(),
            "cand": self._cand.tolist(),
            "queue": self._queue.tolist(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore a state produced by :meth:`state_dict` of a detector with the same settings."""
        if float(state.get("fs", -1)) != self.fs or float(state.get("delay_s", -1)) != self.delay_s:
            raise InputError("state: fs or delay_s differ from this detector's")
        for name in ("zi", "ring", "mring", "fv", "iv", "bufs", "cand", "queue"):
            current = getattr(self, f"_{name}")
            value = np.asarray(state[name], dtype=current.dtype)
            if name == "iv" and value.shape == (k.I_ANCHOR_R,):
                # A state saved before the T-like QRS was tracked: its last QRS was not one.
                value = np.append(value, value[k.I_LAST_R])
            if value.shape != current.shape:
                raise InputError(
                    f"state: field {name!r} has shape {value.shape}, expected {current.shape}"
                )
            setattr(self, f"_{name}", np.ascontiguousarray(value))


@functools.lru_cache(maxsize=32)
def _design(
    fs: float, band_hz: tuple[float, float], order: int
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64], float]:
    """The band-pass, its unit steady state and its group delay in samples.

    Cached: designing costs about a millisecond, as much as detecting 2 min of ECG.
    """
    lo, hi = band_hz
    hi = min(hi, 0.45 * fs)
    nyq = 0.5 * fs
    sos = np.ascontiguousarray(
        butter(order, [lo / nyq, hi / nyq], btype="band", output="sos"), np.float64
    )
    zi_unit = np.ascontiguousarray(sosfilt_zi(sos), np.float64)
    return sos, zi_unit, _sos_group_delay(sos, float(np.sqrt(lo * hi)), fs)


def _sos_group_delay(sos: npt.NDArray[np.float64], freq: float, fs: float) -> float:
    total = 0.0
    for section in sos:
        _, gd = group_delay((section[:3], section[3:]), w=[freq], fs=fs)
        total += float(gd[0])
    return total


def detect_rpeaks(
    signal: npt.ArrayLike,
    fs: float,
    *,
    delay_s: float = DEFAULT_DELAY_S,
    params: DetectorParams | None = None,
) -> npt.NDArray[np.int64]:
    """Detect R peaks causally in a single-lead ECG.

    Parameters
    ----------
    signal : array_like, shape (n_samples,)
        The ECG, any unit and polarity; NaN marks missing samples.
    fs : float
        Sampling rate in Hz.
    delay_s : float
        The detector's fixed delay (see the module notes); it changes which late search-back
        beats can still be recovered and which accepted beats can still be replaced, nothing
        else.
    params : DetectorParams, optional
        Tuning.

    Returns
    -------
    ndarray of int64
        Sample indices of the R peaks, sorted. Equal to the concatenated output of
        :class:`RPeakDetector` fed the same signal in any chunks and flushed.
    """
    x = np.asarray(signal)
    if x.ndim == 2 and x.shape[1] == 1:
        x = x[:, 0]
    if x.ndim != 1:
        raise InputError(f"signal: expected a 1-D array of samples, got shape {x.shape}")
    det = RPeakDetector(fs, delay_s=delay_s, params=params)
    first = det.push(x)
    return np.concatenate([first, det.flush()])
