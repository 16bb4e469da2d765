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
    "RR_ALPHA",
    "RR_DISPERSION_WINDOW",
    "RR_ECTOPIC_OFFSET",
    "RR_ECTOPIC_SLOPE",
    "RR_LONG_SHORT_LIMIT",
    "RR_MAX_MS",
    "RR_MIN_MS",
    "RR_NEIGHBOURS",
    "RR_PATTERN_LAGS",
    "RR_PATTERN_SCALE",
    "RR_THRESHOLD_FLOOR",
    "accepted_rr",
    "hrv",
]

#: Shortest RR interval accepted as a heartbeat, in ms (200 bpm).
RR_MIN_MS = 300.0
#: Longest RR interval accepted as a heartbeat, in ms (30 bpm).
RR_MAX_MS = 2000.0
#: Intervals on each side of an interval that form its median reference (11 intervals in all).
RR_NEIGHBOURS = 5
#: Number of values (interval changes or deviations) over which a local dispersion is taken.
RR_DISPERSION_WINDOW = 91
#: Detection thresholds in quartile deviations of the local dispersion.
RR_ALPHA = 5.2
#: Intervals on each side searched for a recurring interval of the same kind.
RR_PATTERN_LAGS = 3
#: Weight of the nearest-recurrence dispersion against that of the changes (equal in AF).
RR_PATTERN_SCALE = 4.0
#: Smallest threshold, as a fraction of the local median interval.
RR_THRESHOLD_FLOOR = 0.1
#: Slope ``c1`` of the ectopic decision boundary in the normalised (dRR, s12) plane.
RR_ECTOPIC_SLOPE = 0.13
#: Offset ``c2`` of the ectopic decision boundary, in thresholds.
RR_ECTOPIC_OFFSET = 0.17
#: Deviation from the local median, in thresholds, beyond which an interval is long or short.
RR_LONG_SHORT_LIMIT = 3.0


def _windows(x: npt.NDArray[np.float64], width: int) -> tuple[npt.NDArray[np.float64], int]:
    """Sorted windows of ``width`` values of ``x`` and the number of leading positions.

    Near the ends the first or last full window stands in for the centred one: padding the
    ends (by repetition or reflection) would let one premature beat near the edge of a short
    window weigh several times in its own neighbourhood. With ``width`` or fewer values there
    is one window, all of ``x``.
    """
    if x.size <= width:
        return np.sort(x)[np.newaxis, :], 0
    return np.sort(sliding_window_view(x, width), axis=1), (width - 1) // 2


def _quantile(ordered: npt.NDArray[np.float64], q: float) -> npt.NDArray[np.float64]:
    """Quantile ``q`` of each row of ``ordered`` (sorted rows), interpolated linearly."""
    position = q * (ordered.shape[1] - 1)
    low = math.floor(position)
    high = min(low + 1, ordered.shape[1] - 1)
    below: npt.NDArray[np.float64] = ordered[:, low]
    result: npt.NDArray[np.float64] = below + (position - low) * (ordered[:, high] - below)
    return result


def _spread(row: npt.NDArray[np.float64], size: int, head: int) -> npt.NDArray[np.float64]:
    """One value per position out of one value per window, the end windows repeated."""
    if row.size == 1:
        return np.full(size, row[0])
    return np.concatenate([np.full(head, row[0]), row, np.full(size - row.size - head, row[-1])])


def _local_median(x: npt.NDArray[np.float64], half: int) -> npt.NDArray[np.float64]:
    """Median of the ``2 * half + 1`` values centred on each value of ``x``."""
    ordered, head = _windows(x, 2 * half + 1)
    return _spread(_quantile(ordered, 0.5), x.size, head)


def _quartile_deviation(x: npt.NDArray[np.float64], size: int) -> npt.NDArray[np.float64]:
    """Local quartile deviation ``(Q3 - Q1) / 2`` of ``x``, spread over ``size`` positions."""
    ordered, head = _windows(x, RR_DISPERSION_WINDOW)
    return _spread(0.5 * (_quantile(ordered, 0.75) - _quantile(ordered, 0.25)), size, head)


def _nearest_recurrence(rr: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """Distance from each interval to the closest of the ``RR_PATTERN_LAGS`` on either side."""
    gaps = np.full((2 * RR_PATTERN_LAGS, rr.size), np.inf)
    for lag in range(1, min(RR_PATTERN_LAGS, rr.size - 1) + 1):
        step = np.abs(rr[lag:] - rr[:-lag])
        gaps[2 * lag - 2, :-lag] = step
        gaps[2 * lag - 1, lag:] = step
    return np.asarray(gaps.min(axis=0), dtype=np.float64)


def _artefacts(rr: npt.NDArray[np.float64]) -> npt.NDArray[np.bool_]:
    """Mark the intervals of ``rr`` (all in bounds) that :func:`accepted_rr` rejects."""
    bad = np.zeros(rr.size, dtype=np.bool_)
    if rr.size < 2:
        return bad
    median = _local_median(rr, RR_NEIGHBOURS)
    floor = RR_THRESHOLD_FLOOR * median

    # drr[k] is the change across the beat that ends rr[k] and starts rr[k + 1], in units of
    # the threshold Th1 there: wide in AF, which is irregular everywhere, narrow in sinus rhythm.
    drr = np.diff(rr)
    spread = np.minimum(
        _quartile_deviation(np.abs(drr), drr.size),
        RR_PATTERN_SCALE * _quartile_deviation(_nearest_recurrence(rr), drr.size),
    )
    drr /= np.maximum(RR_ALPHA * spread, floor[:-1])

    # Ectopic beats: a large change that a neighbouring change undoes (s12). A neighbour
    # missing at an end is left out.
    before = np.concatenate([[np.nan], drr[:-1]])
    after = np.concatenate([drr[1:], [np.nan]])
    rises = drr > 1.0
    falls = drr < -1.0
    s12 = np.where(rises, np.fmax(before, after), np.fmin(before, after))
    ectopic = (rises & (s12 < -RR_ECTOPIC_SLOPE * drr - RR_ECTOPIC_OFFSET)) | (
        falls & (s12 > -RR_ECTOPIC_SLOPE * drr + RR_ECTOPIC_OFFSET)
    )
    # With one neighbour, the beat next to a premature one looks ectopic too: the fall into
    # the coupling interval is undone by the rise into the pause. Inside the series the
    # change on its other side tells them apart; at an end, for a pair of flags alone (not a
    # run of bigeminy), the larger change is the one across the ectopic beat.
    if drr.size >= 2:
        for end, inner, beyond in ((0, 1, 2), (-1, -2, -3)):
            alone = drr.size == 2 or not ectopic[beyond]
            if ectopic[end] and ectopic[inner] and alone and abs(drr[end]) < abs(drr[inner]):
                ectopic[end] = False
    bad[:-1] |= ectopic  # the interval that ends at the ectopic beat
    bad[1:] |= ectopic  # and the one that starts there

    # Long and short intervals. A change across an ectopic beat says nothing about its
    # neighbours: in trigeminy the rise into each compensatory pause would otherwise make the
    # sinus interval before it "short".
    plain = np.where(ectopic, np.nan, drr)
    into = np.concatenate([[np.nan], plain])
    out1 = np.concatenate([plain, [np.nan]])
    out2 = np.concatenate([plain[1:], [np.nan, np.nan]])
    s22 = np.where(into >= 0.0, np.fmin(out1, out2), np.fmax(out1, out2))
    deviation = rr - median
    deviation[deviation < 0.0] *= 2.0
    limit = np.maximum(RR_ALPHA * _quartile_deviation(np.abs(deviation), rr.size), floor)
    short = ((into < -1.0) & (s22 > 1.0)) | (deviation < -RR_LONG_SHORT_LIMIT * limit)
    long = ((into > 1.0) & (s22 < -1.0)) | (deviation > RR_LONG_SHORT_LIMIT * limit)
    bad |= short | long
    # A spurious detection splits one interval in two that add up to the usual one.
    extra = short[:-1] & (np.abs(rr[:-1] + rr[1:] - median[:-1]) < limit[:-1])
    bad[1:] |= extra
    return bad


def accepted_rr(rr_ms: npt.ArrayLike) -> npt.NDArray[np.bool_]:
    """Mark the RR intervals that count as normal-to-normal (NN) intervals.

    A beat classification after Lipponen & Tarvainen (2019), the method of Kubios HRV's
    automatic correction, whose thresholds scale with the local dispersion of the rhythm: an
    isolated premature beat in a steady sinus rhythm stands out, while the irregularity of
    atrial fibrillation (AF) is kept. An interval is rejected when

    1. it lies outside the physiological bounds ``RR_MIN_MS`` to ``RR_MAX_MS`` (300 ms to
       2000 ms). The steps below see the intervals within them, in order.
    2. It touches an ectopic beat. Let ``dRR`` be the change from one interval to the next
       (the change across a beat), divided by the threshold ``Th1``. A beat is ectopic when
       ``dRR > 1`` and ``s12 < -c1 * dRR - c2``, with ``s12`` the larger of the changes
       before and after it (a short interval then a long one: a premature beat and its
       compensatory pause), or when ``dRR < -1`` and ``s12 > -c1 * dRR + c2``, with ``s12``
       the smaller (long-short); ``c1`` is ``RR_ECTOPIC_SLOPE`` (0.13), ``c2``
       ``RR_ECTOPIC_OFFSET`` (0.17). Both intervals around the beat go.
    3. It is short or long: the change into it is a fall (rise) beyond the threshold and one
       of the next two changes not across an ectopic beat a rise (fall) beyond it (``s22``),
       or its deviation ``mRR`` from the median of the ``2 * RR_NEIGHBOURS + 1`` (11)
       intervals centred on it, a shortening counted twice, exceeds ``RR_LONG_SHORT_LIMIT``
       (3) times ``Th2``. These are missed beats, spurious detections and other gross
       errors. When a short interval and the next one add up to the median within ``Th2``,
       the detection between them is spurious and the next interval goes too.

    ``Th2`` is ``RR_ALPHA`` (5.2) times the quartile deviation ``(Q3 - Q1) / 2`` of
    ``|mRR|`` over the ``RR_DISPERSION_WINDOW`` (91) positions centred on the interval (the
    first or last 91 near the ends; all of them when fewer). ``Th1`` is ``RR_ALPHA`` times
    the smaller of two dispersions over the same windows: the quartile deviation of
    ``|dRR|``, as in the original method, and ``RR_PATTERN_SCALE`` (4) times that of the
    distance from each interval to the closest of the ``RR_PATTERN_LAGS`` (3) intervals on
    either side. The second one stays small in bigeminy and trigeminy, where every interval
    recurs a beat or two later, but where the changes are large all the time and would
    otherwise raise ``Th1`` above the ectopic changes themselves; in AF, where no interval
    recurs, the two are about equal (hence the factor 4). Both thresholds are at least
    ``RR_THRESHOLD_FLOOR`` (10 %) of the local median interval, so that beat-to-beat changes
    of a very regular rhythm are never artefacts.

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
    The classification sees only timing. A premature beat whose changes stay within the
    threshold passes: one coupled late, one among many in an irregular stretch, or one in a
    rhythm with ectopy of several kinds mixed (MITDB 208, where about 40 % of the intervals
    touching a ventricular beat are caught). On MITDB AF episodes cut into 10 s windows, about
    10 % of the intervals go, a third to a half of them next to ventricular beats. Unlike
    Kubios, rejected intervals are dropped rather than replaced by interpolation;
    :func:`hrv` takes successive differences only between two accepted intervals.

    References
    ----------
    J. A. Lipponen and M. P. Tarvainen, "A robust algorithm for heart rate variability time
    series artefact correction using novel beat classification", Journal of Medical
    Engineering & Technology 43(3), 173-181, 2019.
    """
    rr = np.asarray(rr_ms, dtype=np.float64)
    in_bounds = (rr >= RR_MIN_MS) & (rr <= RR_MAX_MS)
    accepted = in_bounds.copy()
    accepted[in_bounds] = ~_artefacts(rr[in_bounds])
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
