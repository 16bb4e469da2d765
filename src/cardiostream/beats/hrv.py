"""Time-domain heart rate variability from R-peak positions.

The four classic time-domain measures (Task Force of the ESC and NASPE, 1996) and the mean
heart rate, computed with numpy over the RR intervals between consecutive R peaks. By
default, ectopic beats and detection errors are kept out of the measures by an interval
filter (see :func:`accepted_rr`), because a single premature beat and its compensatory pause
add two large successive differences that dominate RMSSD and pNN50 in a short window.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt
from numpy.lib.stride_tricks import sliding_window_view

from cardiostream.errors import InputError

__all__ = [
    "RR_MAX_MS",
    "RR_MIN_MS",
    "RR_NEIGHBOURS",
    "RR_TOLERANCE",
    "accepted_rr",
    "hrv",
]

#: Shortest RR interval accepted as a heartbeat, in ms (200 bpm).
RR_MIN_MS = 300.0
#: Longest RR interval accepted as a heartbeat, in ms (30 bpm).
RR_MAX_MS = 2000.0
#: Intervals on each side of an interval that form its neighbourhood (11 intervals in all).
RR_NEIGHBOURS = 5
#: Largest accepted relative deviation of an interval from its local reference.
RR_TOLERANCE = 0.2


def _local_median(x: npt.NDArray[np.float64], half: int) -> npt.NDArray[np.float64]:
    """Median of ``x[i - half : i + half + 1]``; near the ends, of the first or last full window.

    Padding the ends (by repetition or reflection) would let one premature beat near the
    edge of a short window weigh several times in its own neighbourhood; a window that
    stays inside the data keeps every value's weight equal.
    """
    width = 2 * half + 1
    if x.size <= width:
        # The common case of a short live window: sorting directly skips np.median's overhead.
        ordered = np.sort(x)
        mid = x.size // 2
        if x.size == 0:
            return ordered
        middle = ordered[mid] if x.size % 2 else 0.5 * (ordered[mid - 1] + ordered[mid])
        return np.full(x.size, middle)
    core = np.median(sliding_window_view(x, width), axis=1)
    return np.concatenate([np.full(half, core[0]), core, np.full(half, core[-1])])


def accepted_rr(rr_ms: npt.ArrayLike) -> npt.NDArray[np.bool_]:
    """Mark the RR intervals that count as normal-to-normal (NN) intervals.

    An interval is accepted when both hold:

    1. it lies within physiological bounds, ``RR_MIN_MS <= rr <= RR_MAX_MS``
       (300 ms to 2000 ms): missed and spurious detections mostly fall outside;
    2. it differs by at most ``RR_TOLERANCE`` (20 %) from a local reference: the median,
       over the ``2 * RR_NEIGHBOURS + 1`` (11) positions centred on it, of the mean of each
       in-bounds interval and the next one (the first or last 11 near the ends; all of them
       when there are fewer). This is the percentage filter of Malik et al. (1989) and
       Kamath & Fallen (1995) with a robust reference. A premature beat's short coupling
       interval and the compensatory pause after it both fail, while gradual changes of
       heart rate pass. Averaging pairs first keeps the reference at the sinus interval
       even in sustained bigeminy, where a plain median of alternating short and long
       intervals would be one of the two and accept half the ectopic intervals.

    Parameters
    ----------
    rr_ms : array_like of float
        RR intervals in milliseconds, in time order.

    Returns
    -------
    ndarray of bool
        ``True`` for accepted intervals, same length as ``rr_ms``.

    Notes
    -----
    The filter sees only timing: a late-coupled premature beat whose intervals differ by less
    than 20 % from the reference passes. In atrial fibrillation, whose intervals are
    irregular by nature, it also drops the most irregular of them (about a third of the
    intervals on MITDB 201 and 203); pass ``correct_ectopics=False`` to :func:`hrv` to
    measure the irregularity itself.
    """
    rr = np.asarray(rr_ms, dtype=np.float64)
    in_bounds = (rr >= RR_MIN_MS) & (rr <= RR_MAX_MS)
    kept = rr[in_bounds]
    if kept.size >= 2:
        pairs = 0.5 * (kept[:-1] + kept[1:])
        pairs = np.append(pairs, pairs[-1])  # one value per interval
    else:
        pairs = kept
    reference = _local_median(pairs, RR_NEIGHBOURS)
    accepted = in_bounds.copy()
    accepted[in_bounds] = np.abs(kept - reference) <= RR_TOLERANCE * reference
    return accepted


def _validate(rpeaks: npt.ArrayLike, fs: float) -> npt.NDArray[np.float64]:
    if not isinstance(fs, int | float | np.integer | np.floating) or not math.isfinite(fs):
        raise InputError(f"fs: sampling frequency must be a positive number, got {fs!r}")
    if fs <= 0:
        raise InputError(f"fs: sampling frequency must be positive, got {fs!r}")
    peaks = np.asarray(rpeaks)
    if peaks.ndim != 1:
        raise InputError(f"rpeaks: expected a 1-D array of sample indices, got shape {peaks.shape}")
    if peaks.size and peaks.dtype.kind not in "iuf":
        raise InputError(f"rpeaks: expected numeric sample indices, got dtype {peaks.dtype}")
    peaks = peaks.astype(np.float64)
    if not np.isfinite(peaks).all():
        raise InputError("rpeaks: sample indices must be finite")
    if (peaks[1:] < peaks[:-1]).any():
        raise InputError("rpeaks: sample indices must be in increasing order")
    return peaks


def hrv(rpeaks: npt.ArrayLike, fs: float, *, correct_ectopics: bool = True) -> dict[str, float]:
    """Compute time-domain HRV and heart rate from R-peak sample indices.

    Parameters
    ----------
    rpeaks : array_like of int or float
        Sample indices of successive R peaks, in increasing order (as returned by
        :func:`cardiostream.detect_rpeaks`). Empty input is allowed.
    fs : float
        Sampling frequency of the indices in Hz.
    correct_ectopics : bool
        If ``True`` (default), only intervals marked by :func:`accepted_rr` enter the
        measures, and a successive difference is taken only between two accepted intervals
        that follow each other directly (an interval next to a rejected one starts no
        difference across the gap). If ``False``, every interval is used as it is.

    Returns
    -------
    dict of str to float
        ``mean_rr_ms``
            Mean NN interval in ms.
        ``sdnn_ms``
            Sample standard deviation (``ddof=1``) of the NN intervals in ms.
        ``rmssd_ms``
            Root mean square of the successive differences of NN intervals in ms.
        ``pnn50``
            Fraction (0 to 1) of successive differences larger than 50 ms. Its denominator
            is the number of successive differences (as in Kubios); NeuroKit2's ``pNN50``
            divides by the number of intervals, one more, and is in percent.
        ``heart_rate_bpm``
            Beats per minute, ``60000`` over the mean of the RR intervals within the
            physiological bounds, ectopic ones included: a premature beat is still a beat,
            and in bigeminy, where no NN interval is left, the rate stays defined. Equal to
            ``60000 / mean_rr_ms`` when ``correct_ectopics`` is ``False`` (then over every
            interval) or when nothing is rejected.
        ``n_intervals``
            Number of NN intervals used (an integer).
        ``n_rejected``
            Number of RR intervals left out by the filter (an integer; 0 when
            ``correct_ectopics`` is ``False``).

        With fewer than two NN intervals the four HRV measures are NaN, and so is the heart
        rate with fewer than two intervals to average; ``rmssd_ms`` and ``pnn50`` are also NaN
        when no two NN intervals are adjacent. Empty input gives NaN throughout.

    Raises
    ------
    InputError
        If ``fs`` is not a positive finite number, or ``rpeaks`` is not a 1-D increasing
        sequence of finite numbers.

    Examples
    --------
    >>> out = hrv([0, 250, 500, 750, 1000], fs=250.0)
    >>> out["mean_rr_ms"], out["sdnn_ms"], out["heart_rate_bpm"]
    (1000.0, 0.0, 60.0)
    """
    peaks = _validate(rpeaks, fs)
    # Same operation order as NeuroKit2 (diff, then / fs * 1000), so results agree to rounding.
    rr = np.diff(peaks) / fs * 1000.0
    ok = accepted_rr(rr) if correct_ectopics else np.ones(rr.size, dtype=np.bool_)
    nn = rr[ok]
    out: dict[str, float] = {
        "mean_rr_ms": math.nan,
        "sdnn_ms": math.nan,
        "rmssd_ms": math.nan,
        "pnn50": math.nan,
        "heart_rate_bpm": math.nan,
        "n_intervals": int(nn.size),
        "n_rejected": int(rr.size - nn.size),
    }
    beats = rr[(rr >= RR_MIN_MS) & (rr <= RR_MAX_MS)] if correct_ectopics else rr
    # Sums and dot products instead of np.mean / np.std: a live window holds a dozen beats,
    # where the generic reductions' call overhead is most of the cost.
    if beats.size >= 2:
        out["heart_rate_bpm"] = 60_000.0 * beats.size / float(beats.sum())
    if nn.size < 2:
        return out
    mean_rr = float(nn.sum()) / nn.size
    deviation = nn - mean_rr
    out["mean_rr_ms"] = mean_rr
    out["sdnn_ms"] = math.sqrt(float(deviation @ deviation) / (nn.size - 1))
    successive = (rr[1:] - rr[:-1])[ok[:-1] & ok[1:]]
    if successive.size:
        out["rmssd_ms"] = math.sqrt(float(successive @ successive) / successive.size)
        out["pnn50"] = float(np.count_nonzero(np.abs(successive) > 50.0)) / successive.size
    return out
