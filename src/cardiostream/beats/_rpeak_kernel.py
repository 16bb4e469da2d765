"""The compiled sample-by-sample core of the R-peak detector.

All state lives in plain numpy arrays owned by :class:`cardiostream.beats.detector.RPeakDetector`,
so the kernel is a pure function of (state, samples): feeding a signal in one call or in any
number of chunks walks through exactly the same sequence of states. The layout of the state
arrays is described by the index constants below; ``detector.py`` allocates them.
"""

from __future__ import annotations

import numba as nb
import numpy as np
import numpy.typing as npt

# Float state (``fv``).
F_XLAST = 0  # last finite input sample, held through NaN runs
F_MWI_SUM = 1  # running sum of the moving-window integrator
F_CUR_MAX = 2  # height of the rising MWI peak being tracked
F_PEND_H = 3  # height of the candidate held during pre-blanking
F_LAST_SLOPE = 4  # maximum slope of the last accepted QRS
F_QL = 5  # median QRS height
F_NL = 6  # median noise height
F_RR = 7  # median RR interval in samples (0 while unknown)
F_QSLOPE = 8  # median slope of the recent QRS complexes
N_FV = 9

# Integer state (``iv``).
I_N = 0  # absolute index of the next sample
I_CUR_MAX_T = 1
I_PEND_T = 2  # MWI peak time of the held candidate
I_PEND_CNT = 3  # samples left in pre-blanking, 0 when nothing is held
I_LAST_R = 4  # last accepted R peak, -1 before the first
I_INVALID_UNTIL = 5  # samples before this index are inside or just after a NaN run
I_INIT = 6  # 1 once the thresholds are learned
I_NQ = 7  # number of QRS heights seen (caps at the buffer length)
I_NN = 8  # number of noise heights seen
I_NRR = 9  # number of RR intervals seen
I_NCAND = 10  # candidates kept for search-back (or for the learning replay)
I_QHEAD = 11  # confirmed-peak queue: read position
I_QTAIL = 12  # confirmed-peak queue: write position
I_STARTED = 13  # 1 once the first finite sample has set the filter state
I_SLOT = 14  # write position in the integrator's ring
I_NS = 15  # number of QRS slopes seen
I_RR_PUSHED = 16  # 1 if the last accepted QRS put an RR interval into its buffer
I_ANCHOR_R = 17  # where the open RR interval starts: I_LAST_R unless that QRS was T-like
N_IV = 18

# Float parameters (``pf``).
P_TH_COEF = 0
P_SB_COEF = 1  # search-back threshold, as a fraction of the detection threshold
P_SB_RR = 2  # search-back after this many mean RR intervals without a QRS
P_T_SLOPE = 3  # a candidate this close after a QRS is a T wave if its slope is below this share
P_DECAY_PER_S = 4  # threshold decay per second once no QRS has been seen for a while
P_SB_SLOPE = 5  # a search-back beat is at least this steep relative to the last QRS
P_REPLACE_SLOPE = 6  # a QRS this much steeper than the last, unreported one
P_REPLACE_STEEP = 7  # or this steep relative to the median QRS may replace it:
P_REPLACE_WEAK = 8  # within Q_REPLACE, if the last was less steep than this share of the median
P_MERGE_WEAK = 9  # later, if the last was less steep than this share of the median,
P_MERGE_RR = 10  # the RR interval without it is below this many mean RR intervals
P_MERGE_SPREAD = 11  # and the recent RR intervals lie within this ratio of each other
P_T_RR = 12  # at slow rates, the late T-wave window lasts this share of the mean RR interval
P_T_SLOPE_LATE = 13  # in it, a candidate is a T wave if its slope is below this share
N_PF = 14

# Integer parameters (``pi``).
Q_DIFF = 0  # derivative lag
Q_MWI = 1  # moving-window width
Q_FALL = 2  # an MWI maximum not exceeded for this long is a peak
Q_BLANK = 3  # pre-blanking: a peak must stay the largest for this long
Q_TWAVE = 4  # T-wave discrimination window after a QRS, at an RR interval of one second
Q_REFRACT = 5  # no two QRS closer than this
Q_DELAY = 6  # fixed output delay: a peak at r is reported once sample r + delay is in
Q_LEARN = 7  # learning period at the start of the stream
Q_SEARCH = 8  # how far before the MWI peak the R peak is looked for
Q_GROUP_DELAY = 9  # bandpass group delay, subtracted from the located extremum
Q_SETTLE = 10  # samples after a NaN run during which no peak is taken
Q_STALL = 11  # without a QRS for this long, the threshold starts to decay
Q_RR_DEFAULT = 12  # mean RR assumed before any RR interval is known
Q_FS = 13
Q_REPLACE = 14  # a QRS this soon after a weak one may replace it whatever the rhythm
Q_TWAVE_MIN = 15  # bounds of the T-wave window at fast and slow rates
Q_TWAVE_MAX = 16
N_PI = 17

# Rounding noise of the filters on a constant signal is ~1e-16 of its level: anything below
# this share of the signal's level is no peak, whatever the signal's scale.
FLOOR = 1e-10

# "Never" and, negated, "at once", for the sample at which the candidate logic is next due.
NEVER = 1 << 62

N_BUF = 8  # QRS heights, noise heights, RR intervals and QRS slopes kept for the levels
# Until this many RR intervals are in, the T-wave window is at least the default RR's: at the
# start one interval is often from a T wave or a settling baseline taken for a beat, and a
# short estimate would narrow the window and let the next T wave through.
N_RR_KNOWN = 3
B_QRS, B_NOISE, B_RR, B_SLOPE = 0, 1, 2, 3
I_COUNT = (7, 8, 9, 15)  # the integer-state slot counting the values put in each buffer
CAND_T, CAND_H, CAND_SLOPE = 0, 1, 2


@nb.njit(cache=True, inline="always")
def _median(bufs: npt.NDArray[np.float64], which: int, count: int) -> float:
    """The median of the values in one of the level buffers."""
    # The row is read in place: a view of it costs two reference-count updates per call.
    n = min(count, bufs.shape[1])
    if n == 0:
        return 0.0
    # The values at sorted positions n // 2 - 1 and n // 2 (NaN last, as np.sort puts it), by
    # counting for each value the values before it and equal to it: for at most N_BUF values
    # this beats sorting a copy, whose allocation alone costs more.
    hi = n // 2
    lo = hi - 1 if n % 2 == 0 else hi
    v_lo = v_hi = 0.0
    for i in range(n):
        v = bufs[which, i]
        before = 0
        same = 0
        for j in range(n):
            w = bufs[which, j]
            if v != v:
                before += w == w
                same += w != w
            else:
                before += w < v
                same += w == v
        if before <= lo < before + same:
            v_lo = v
        if before <= hi < before + same:
            v_hi = v
    if n % 2:
        return float(v_hi)
    return float(0.5 * (v_lo + v_hi))


@nb.njit(cache=True)
def _threshold(
    n: int,
    fv: npt.NDArray[np.float64],
    iv: npt.NDArray[np.int64],
    pf: npt.NDArray[np.float64],
    pi: npt.NDArray[np.int64],
) -> float:
    ql = fv[F_QL]
    nl = fv[F_NL]
    return float((nl + pf[P_TH_COEF] * (ql - nl)) * _decay(n, iv, pf, pi))


@nb.njit(cache=True)
def _decay(
    n: int, iv: npt.NDArray[np.int64], pf: npt.NDArray[np.float64], pi: npt.NDArray[np.int64]
) -> float:
    """After a long silence the levels may simply be wrong (a gain change, a new electrode
    position): let the thresholds sink so that the beats are found again."""
    if iv[I_LAST_R] < 0:
        return 1.0
    idle = n - iv[I_LAST_R] - pi[Q_STALL]
    if idle <= 0:
        return 1.0
    return float(pf[P_DECAY_PER_S] ** (idle / pi[Q_FS]))


@nb.njit(cache=True)
def _push(
    bufs: npt.NDArray[np.float64], which: int, iv: npt.NDArray[np.int64], value: float
) -> float:
    """Put a value into one of the level buffers and return the buffer's new median."""
    slot = I_COUNT[which]
    bufs[which, iv[slot] % N_BUF] = value
    iv[slot] += 1
    return _median(bufs, which, iv[slot])


@nb.njit(cache=True)
def _mean_rr(fv: npt.NDArray[np.float64], default: int) -> float:
    return fv[F_RR] if fv[F_RR] > 0.0 else float(default)


@nb.njit(cache=True)
def _twave_slope(
    since: int,
    fv: npt.NDArray[np.float64],
    iv: npt.NDArray[np.int64],
    pf: npt.NDArray[np.float64],
    pi: npt.NDArray[np.int64],
) -> float:
    """The slope below which a candidate ``since`` samples after the last QRS is a T wave.

    The T wave ends with the QT interval, which shortens with the RR interval roughly as its
    square root (Bazett): a fixed window would miss early beats at fast rates and take late T
    waves for beats at slow ones. Within that window a candidate must be at least
    ``P_T_SLOPE`` as steep as the last QRS. At slow rates, and where the QT interval is long,
    the T wave reaches further: up to a share ``P_T_RR`` of the RR interval (at most
    ``Q_TWAVE_MAX``) a candidate must still be ``P_T_SLOPE_LATE`` as steep, a lower bar that
    premature beats of another shape clear but the smooth T wave, whose energy lies below the
    band-pass, does not.
    """
    rr = _mean_rr(fv, pi[Q_RR_DEFAULT])
    if iv[I_NRR] < N_RR_KNOWN:
        rr = max(rr, float(pi[Q_RR_DEFAULT]))
    window = min(max(pi[Q_TWAVE] * np.sqrt(rr / pi[Q_FS]), pi[Q_TWAVE_MIN]), pi[Q_TWAVE_MAX])
    if since < window:
        return float(pf[P_T_SLOPE] * fv[F_LAST_SLOPE])
    if since < min(pf[P_T_RR] * rr, pi[Q_TWAVE_MAX]):
        return float(pf[P_T_SLOPE_LATE] * fv[F_LAST_SLOPE])
    return 0.0


@nb.njit(cache=True)
def _push_rr(
    rr: int,
    part: int,
    fv: npt.NDArray[np.float64],
    bufs: npt.NDArray[np.float64],
    iv: npt.NDArray[np.int64],
    pi: npt.NDArray[np.int64],
) -> int:
    """Put an RR interval into its buffer unless it is too long; return 1 if it went in.

    A beat found after a long gap does not define the rhythm: the RR estimate is not dragged
    up by pauses, missed beats and signal drop-outs. An interval that spans a T-like QRS is
    also compared with the longer of its two parts, ``part``: the RR estimate may be the one
    that T waves taken for beats have halved.
    """
    limit = 1.8 * max(_mean_rr(fv, pi[Q_RR_DEFAULT]), float(part))
    if iv[I_NRR] == 0 or rr < limit:
        fv[F_RR] = _push(bufs, B_RR, iv, float(rr))
        return 1
    return 0


@nb.njit(cache=True)
def _count_rr(
    r: int,
    t_like: bool,
    fv: npt.NDArray[np.float64],
    iv: npt.NDArray[np.int64],
    bufs: npt.NDArray[np.float64],
    pi: npt.NDArray[np.int64],
) -> None:
    """Count the RR intervals that a QRS at ``r`` settles, once there is a last QRS.

    A QRS that comes within the longest T-wave window after the last one and is less than
    ``P_T_SLOPE`` as steep as it (``t_like``: it would have failed the half-slope rule had the
    window reached it) may be a T wave that an RR estimate too short let through. Its
    interval waits for the next QRS: if the T-like one lies in the first part of the interval
    between its neighbours, as a T wave does, the two intervals count as one, the interval
    between the QRS complexes around it. Otherwise T waves taken for beats would halve the RR
    estimate, which shortens the T-wave window, which lets the next T wave through: a state
    the detector would never leave. A T-like QRS in the second part of the interval (a small
    beat after a large premature one) counts as usual.
    """
    last = iv[I_LAST_R]
    anchor = iv[I_ANCHOR_R]
    start = last
    part = 0
    if anchor != last:
        # The last QRS was T-like and its interval is still open.
        if last - anchor < r - last:
            start = anchor
            part = max(last - anchor, r - last)
        else:
            _push_rr(last - anchor, 0, fv, bufs, iv, pi)
    iv[I_RR_PUSHED] = 0
    if t_like:
        iv[I_ANCHOR_R] = start
        return
    iv[I_RR_PUSHED] = _push_rr(r - start, part, fv, bufs, iv, pi)
    iv[I_ANCHOR_R] = r


@nb.njit(cache=True)
def _accept(
    r: int,
    h: float,
    slope: float,
    fv: npt.NDArray[np.float64],
    iv: npt.NDArray[np.int64],
    bufs: npt.NDArray[np.float64],
    queue: npt.NDArray[np.int64],
    pf: npt.NDArray[np.float64],
    pi: npt.NDArray[np.int64],
) -> None:
    """Take a QRS at ``r``: into the output queue, its levels and RR interval into the buffers."""
    last = iv[I_LAST_R]
    iv[I_RR_PUSHED] = 0
    if last >= 0 and r - last > pi[Q_STALL]:
        # The first beat after a stall (a gap, a lead change, a gain change) sets the levels
        # afresh: the old ones are what made the detector miss everything since.
        for j in range(N_BUF):
            bufs[B_QRS, j] = h
            bufs[B_SLOPE, j] = slope
        iv[I_NQ] = N_BUF
        iv[I_NS] = N_BUF
        fv[F_QL] = h
        fv[F_QSLOPE] = slope
        fv[F_LAST_SLOPE] = slope
        iv[I_LAST_R] = r
        iv[I_ANCHOR_R] = r
        queue[iv[I_QTAIL] % queue.size] = r
        iv[I_QTAIL] += 1
        iv[I_NCAND] = 0
        return
    if last < 0:
        iv[I_ANCHOR_R] = r
    else:
        t_like = r - last < pi[Q_TWAVE_MAX] and slope < pf[P_T_SLOPE] * fv[F_LAST_SLOPE]
        _count_rr(r, t_like, fv, iv, bufs, pi)
    fv[F_QL] = _push(bufs, B_QRS, iv, h)
    fv[F_QSLOPE] = _push(bufs, B_SLOPE, iv, slope)
    fv[F_LAST_SLOPE] = slope
    iv[I_LAST_R] = r
    queue[iv[I_QTAIL] % queue.size] = r
    iv[I_QTAIL] += 1
    iv[I_NCAND] = 0


@nb.njit(cache=True)
def _regular(bufs: npt.NDArray[np.float64], iv: npt.NDArray[np.int64], spread: float) -> bool:
    """Whether the RR intervals before the last QRS all lie within ``spread`` of each other."""
    if iv[I_NRR] < N_BUF:
        return False
    skip = (iv[I_NRR] - 1) % N_BUF if iv[I_RR_PUSHED] == 1 else -1
    lo = np.inf
    hi = 0.0
    for j in range(N_BUF):
        if j != skip:
            lo = min(lo, bufs[B_RR, j])
            hi = max(hi, bufs[B_RR, j])
    return bool(hi < spread * lo)


@nb.njit(cache=True)
def _replaces_last(
    r: int,
    slope: float,
    fv: npt.NDArray[np.float64],
    iv: npt.NDArray[np.int64],
    bufs: npt.NDArray[np.float64],
    queue: npt.NDArray[np.int64],
    pf: npt.NDArray[np.float64],
    pi: npt.NDArray[np.int64],
) -> bool:
    """Whether a QRS-sized candidate shows that the last QRS, still unreported, was not one.

    A tall P wave or a burst of noise passes the threshold but is much less steep than the
    QRS complexes around it. When a much steeper candidate, or one as steep as a typical QRS,
    follows shortly after it (where a QRS follows a P wave), or where dropping it leaves the
    RR interval of a regular rhythm, the steeper one is the beat. Premature beats of any shape
    still stand: they shorten the interval, and they are not much less steep than the median
    QRS. The stream's first beat, found in the learning second, is compared with no QRS but
    itself: it is dropped for any candidate more than twice as steep (``1 / P_T_SLOPE``), as a
    settling baseline taken for a beat is.
    """
    last_slope = fv[F_LAST_SLOPE]
    steeper = slope > pf[P_REPLACE_SLOPE] * last_slope or slope > pf[P_REPLACE_STEEP] * fv[F_QSLOPE]
    if iv[I_QHEAD] == iv[I_QTAIL] or not steeper:
        return False
    since = r - iv[I_LAST_R]
    if since < pi[Q_REPLACE] and last_slope < pf[P_REPLACE_WEAK] * fv[F_QSLOPE]:
        return True
    first = iv[I_QTAIL] == 1 and iv[I_LAST_R] < pi[Q_LEARN]
    if first and slope * pf[P_T_SLOPE] > last_slope:
        return True
    if iv[I_QTAIL] < 2 or last_slope >= pf[P_MERGE_WEAK] * fv[F_QSLOPE]:
        return False
    before = queue[(iv[I_QTAIL] - 2) % queue.size]
    merged = r - before < pf[P_MERGE_RR] * _mean_rr(fv, pi[Q_RR_DEFAULT])
    return merged and _regular(bufs, iv, pf[P_MERGE_SPREAD])


@nb.njit(cache=True)
def _replace_last(
    r: int,
    h: float,
    slope: float,
    fv: npt.NDArray[np.float64],
    iv: npt.NDArray[np.int64],
    bufs: npt.NDArray[np.float64],
    queue: npt.NDArray[np.int64],
    pi: npt.NDArray[np.int64],
) -> None:
    """Move the last accepted QRS, not yet reported, to ``r``, and its levels with it."""
    queue[(iv[I_QTAIL] - 1) % queue.size] = r
    bufs[B_QRS, (iv[I_NQ] - 1) % N_BUF] = h
    bufs[B_SLOPE, (iv[I_NS] - 1) % N_BUF] = slope
    fv[F_QL] = _median(bufs, B_QRS, iv[I_NQ])
    fv[F_QSLOPE] = _median(bufs, B_SLOPE, iv[I_NS])
    if iv[I_RR_PUSHED] == 1:
        # The interval ending at the dropped QRS becomes the one ending at its successor.
        bufs[B_RR, (iv[I_NRR] - 1) % N_BUF] += r - iv[I_LAST_R]
        fv[F_RR] = _median(bufs, B_RR, iv[I_NRR])
        iv[I_ANCHOR_R] = r
    elif iv[I_ANCHOR_R] == iv[I_LAST_R]:
        iv[I_ANCHOR_R] = r
    else:
        # The dropped QRS was T-like and its interval still open: its successor, steeper,
        # ends the interval that began before it.
        iv[I_LAST_R] = iv[I_ANCHOR_R]
        _count_rr(r, False, fv, iv, bufs, pi)
    fv[F_LAST_SLOPE] = slope
    iv[I_LAST_R] = r
    iv[I_NCAND] = 0


@nb.njit(cache=True)
def _classify(
    n: int,
    r: int,
    h: float,
    slope: float,
    fv: npt.NDArray[np.float64],
    iv: npt.NDArray[np.int64],
    bufs: npt.NDArray[np.float64],
    cand: npt.NDArray[np.float64],
    queue: npt.NDArray[np.int64],
    pf: npt.NDArray[np.float64],
    pi: npt.NDArray[np.int64],
) -> None:
    last = iv[I_LAST_R]
    since = r - last if last >= 0 else 1 << 40
    is_qrs = False
    above = h > _threshold(n, fv, iv, pf, pi)
    if above and last >= 0 and _replaces_last(r, slope, fv, iv, bufs, queue, pf, pi):
        _replace_last(r, h, slope, fv, iv, bufs, queue, pi)
        return
    if since >= pi[Q_REFRACT] and above:
        is_qrs = slope >= _twave_slope(since, fv, iv, pf, pi)
    if is_qrs:
        _accept(r, h, slope, fv, iv, bufs, queue, pf, pi)
        return
    fv[F_NL] = _push(bufs, B_NOISE, iv, h)
    # Search-back looks only beyond the T-wave window at a one-second RR, whatever the rate:
    # at fast rates the T waves of wide beats still reach that far.
    if since >= pi[Q_TWAVE]:
        k = iv[I_NCAND]
        if k == cand.shape[0]:
            cand[:-1] = cand[1:]
            k -= 1
        cand[k, CAND_T] = r
        cand[k, CAND_H] = h
        cand[k, CAND_SLOPE] = slope
        iv[I_NCAND] = k + 1


@nb.njit(cache=True)
def _search_back(
    n: int,
    fv: npt.NDArray[np.float64],
    iv: npt.NDArray[np.int64],
    bufs: npt.NDArray[np.float64],
    cand: npt.NDArray[np.float64],
    queue: npt.NDArray[np.int64],
    pf: npt.NDArray[np.float64],
    pi: npt.NDArray[np.int64],
) -> None:
    limit = pf[P_SB_COEF] * _threshold(n, fv, iv, pf, pi)
    best = -1
    best_h = limit
    oldest = n - pi[Q_DELAY]  # a peak older than the output delay can no longer be reported
    min_slope = pf[P_SB_SLOPE] * fv[F_LAST_SLOPE] * _decay(n, iv, pf, pi)
    for k in range(iv[I_NCAND]):
        if (
            cand[k, CAND_H] > best_h
            and cand[k, CAND_T] > oldest
            and cand[k, CAND_SLOPE] >= min_slope
        ):
            best = k
            best_h = cand[k, CAND_H]
    if best < 0:
        return
    r = int(cand[best, CAND_T])
    slope = cand[best, CAND_SLOPE]
    # Keep the later candidates: a second missed beat may follow the one recovered here.
    keep = 0
    for k in range(best + 1, iv[I_NCAND]):
        if cand[k, CAND_T] - r >= pi[Q_TWAVE]:
            cand[keep] = cand[k]
            keep += 1
    _accept(r, best_h, slope, fv, iv, bufs, queue, pf, pi)
    iv[I_NCAND] = keep


@nb.njit(cache=True)
def _initialise(
    n: int,
    fv: npt.NDArray[np.float64],
    iv: npt.NDArray[np.int64],
    bufs: npt.NDArray[np.float64],
    cand: npt.NDArray[np.float64],
    queue: npt.NDArray[np.int64],
    pf: npt.NDArray[np.float64],
    pi: npt.NDArray[np.int64],
) -> None:
    """Set the levels from the learning period, then replay its candidates through them."""
    count = iv[I_NCAND]  # at least one: the callers wait for a candidate
    top_k = 0
    for k in range(count):
        if cand[k, CAND_H] > cand[top_k, CAND_H]:
            top_k = k
    top = cand[top_k, CAND_H]
    # One height, not a full buffer of it: the learning second is often the electrode
    # settling, and the first real QRS complexes should set the level within a beat or two.
    bufs[B_QRS, 0] = top
    iv[I_NQ] = 1
    iv[I_NN] = 0
    fv[F_QL] = top
    fv[F_NL] = 0.0
    iv[I_INIT] = 1
    saved = cand[:count].copy()
    iv[I_NCAND] = 0
    for k in range(count):
        # The stream may start on the T or P wave of a beat it never saw. The largest
        # candidate of the learning period is taken as a QRS; anything before it that is much
        # less steep is not one.
        if k < top_k and saved[k, CAND_SLOPE] < pf[P_T_SLOPE] * saved[top_k, CAND_SLOPE]:
            fv[F_NL] = _push(bufs, B_NOISE, iv, saved[k, CAND_H])
            continue
        _classify(
            n,
            int(saved[k, CAND_T]),
            saved[k, CAND_H],
            saved[k, CAND_SLOPE],
            fv,
            iv,
            bufs,
            cand,
            queue,
            pf,
            pi,
        )


@nb.njit(cache=True)
def _finalise_candidate(
    n: int,
    fv: npt.NDArray[np.float64],
    iv: npt.NDArray[np.int64],
    ring: npt.NDArray[np.float64],
    bufs: npt.NDArray[np.float64],
    cand: npt.NDArray[np.float64],
    queue: npt.NDArray[np.int64],
    pf: npt.NDArray[np.float64],
    pi: npt.NDArray[np.int64],
) -> None:
    t_mwi = iv[I_PEND_T]
    h = fv[F_PEND_H]
    iv[I_PEND_CNT] = 0
    fv[F_PEND_H] = 0.0
    mask = ring.size - 1
    oldest = max(n - ring.size + 2, 1)
    lo = max(t_mwi - pi[Q_SEARCH], oldest)
    slope = 0.0
    peak = t_mwi
    best_a = -1.0
    for j in range(lo, t_mwi + 1):
        v = ring[j & mask]
        if abs(v) > best_a:
            best_a = abs(v)
            peak = j
        s = abs(v - ring[(j - 1) & mask])
        if s > slope:
            slope = s
    r = max(peak - pi[Q_GROUP_DELAY], 0)
    if r < iv[I_INVALID_UNTIL] or t_mwi < iv[I_INVALID_UNTIL]:
        return
    if iv[I_INIT] == 0:
        k = iv[I_NCAND]
        if k < cand.shape[0]:
            cand[k, CAND_T] = r
            cand[k, CAND_H] = h
            cand[k, CAND_SLOPE] = slope
            iv[I_NCAND] = k + 1
        return
    _classify(n, r, h, slope, fv, iv, bufs, cand, queue, pf, pi)


@nb.njit(cache=True)
def _first_above(limit: float) -> int:
    """The smallest integer ``k`` with ``k > limit``, ``k`` taken as float64 as in ``n - r > x``."""
    if not abs(limit) < 2.0**52:
        # NaN and +inf are above every integer, -inf below; beyond 2**52 no sample index gets.
        return NEVER if not limit < 0.0 else -NEVER
    # Stepping from the truncation settles any doubt about rounding.
    k = int(limit)
    while float(k) <= limit:
        k += 1
    while float(k - 1) > limit:
        k -= 1
    return k


@nb.njit(cache=True)
def process(
    x: npt.NDArray[np.float64],
    sos: npt.NDArray[np.float64],
    zi_unit: npt.NDArray[np.float64],
    zi: npt.NDArray[np.float64],
    ring: npt.NDArray[np.float64],
    mring: npt.NDArray[np.float64],
    fv: npt.NDArray[np.float64],
    iv: npt.NDArray[np.int64],
    bufs: npt.NDArray[np.float64],
    cand: npt.NDArray[np.float64],
    queue: npt.NDArray[np.int64],
    pf: npt.NDArray[np.float64],
    pi: npt.NDArray[np.int64],
    out: npt.NDArray[np.int64],
    final: bool,
) -> int:
    """Advance the detector over ``x``; write the peaks now due into ``out``, return their count."""
    n_sections = sos.shape[0]
    mask = ring.size - 1
    # Both rings hold a power of two of slots: a mask instead of a modulo, which costs an
    # integer division on every sample.
    qmask = queue.size - 1
    width = mring.size
    inv_width = 1.0 / width
    q_diff = pi[Q_DIFF]
    q_fall = pi[Q_FALL]
    q_blank = pi[Q_BLANK]
    q_settle = pi[Q_SETTLE]
    q_learn = pi[Q_LEARN]
    q_delay = pi[Q_DELAY]
    q_rr_default = pi[Q_RR_DEFAULT]
    sb_rr = pf[P_SB_RR]
    # The per-sample state lives in locals, which the compiler keeps in registers: through the
    # arrays every sample would store and reload it, as the arrays may alias one another.
    n = iv[I_N]
    xlast = fv[F_XLAST]
    invalid_until = iv[I_INVALID_UNTIL]
    started = iv[I_STARTED]
    slot = iv[I_SLOT]
    mwi_sum = fv[F_MWI_SUM]
    cur_max = fv[F_CUR_MAX]
    cur_max_t = iv[I_CUR_MAX_T]
    pend_h = fv[F_PEND_H]
    pend_t = iv[I_PEND_T]
    pend_cnt = iv[I_PEND_CNT]
    # The default band-pass is two sections: those get their coefficients and state in
    # registers too, any other order runs through the arrays.
    two = n_sections == 2
    b00 = b01 = b02 = a01 = a02 = b10 = b11 = b12 = a11 = a12 = 0.0
    z00 = z01 = z10 = z11 = 0.0
    if two:
        b00, b01, b02, a01, a02 = sos[0, 0], sos[0, 1], sos[0, 2], sos[0, 4], sos[0, 5]
        b10, b11, b12, a11, a12 = sos[1, 0], sos[1, 1], sos[1, 2], sos[1, 4], sos[1, 5]
        z00, z01, z10, z11 = zi[0, 0], zi[0, 1], zi[1, 0], zi[1, 1]
    # Search-back that found nothing finds nothing until the thresholds start to decay: its
    # candidates and thresholds stay as they are, only the oldest candidates drop out.
    quiet_until = -NEVER
    # The sample at which the candidate logic below is next due; the first sample finds out.
    due = -NEVER
    n_out = 0
    for i in range(x.size):
        v = x[i]
        if np.isfinite(v):
            xlast = v
            valid = True
        else:
            v = xlast
            invalid_until = n + q_settle
            valid = False
        if started == 0:
            if not valid:
                n += 1
                continue
            # Start the filter as if the first sample had always been there: no step transient.
            if two:
                z00, z01 = zi_unit[0, 0] * v, zi_unit[0, 1] * v
                z10, z11 = zi_unit[1, 0] * v, zi_unit[1, 1] * v
            else:
                for s in range(n_sections):
                    zi[s, 0] = zi_unit[s, 0] * v
                    zi[s, 1] = zi_unit[s, 1] * v
            started = 1
            # The signal's slope at the first sample still makes a filter transient.
            invalid_until = n + q_settle
        if two:
            y = b00 * v + z00
            z00 = b01 * v - a01 * y + z01
            z01 = b02 * v - a02 * y
            v = b10 * y + z10
            z10 = b11 * y - a11 * v + z11
            z11 = b12 * y - a12 * v
        else:
            for s in range(n_sections):
                y = sos[s, 0] * v + zi[s, 0]
                zi[s, 0] = sos[s, 1] * v - sos[s, 4] * y + zi[s, 1]
                zi[s, 1] = sos[s, 2] * v - sos[s, 5] * y
                v = y
        ring[n & mask] = v
        a = abs(v - ring[(n - q_diff) & mask]) if valid else 0.0
        mwi_sum += a - mring[slot]
        mring[slot] = a
        slot = slot + 1 if slot + 1 < width else 0
        mwi = mwi_sum * inv_width
        if mwi <= FLOOR * abs(xlast):
            mwi = 0.0

        # Peak finding: a maximum of the integrator counts once the signal has fallen to half
        # of it or has not exceeded it for a while.
        peak_h = 0.0
        peak_t = -1
        if mwi > cur_max:
            cur_max = mwi
            cur_max_t = n
        elif cur_max > 0.0 and (mwi < 0.5 * cur_max or n - cur_max_t >= q_fall):
            peak_h = cur_max
            peak_t = cur_max_t
            cur_max = 0.0

        # Pre-blanking: the largest peak within the blanking time wins.
        finalise = False
        if peak_t >= 0 and (pend_cnt == 0 or peak_h > pend_h):
            pend_h = peak_h
            pend_t = peak_t
            pend_cnt = q_blank
        elif pend_cnt > 0:
            pend_cnt -= 1
            finalise = pend_cnt == 0

        if finalise or n >= due:
            iv[I_INVALID_UNTIL] = invalid_until
            fv[F_PEND_H] = pend_h
            iv[I_PEND_T] = pend_t
            iv[I_PEND_CNT] = pend_cnt
            if finalise:
                _finalise_candidate(n, fv, iv, ring, bufs, cand, queue, pf, pi)
                quiet_until = -NEVER
            if iv[I_INIT] == 0:
                if n >= q_learn and iv[I_NCAND] > 0:
                    _initialise(n, fv, iv, bufs, cand, queue, pf, pi)
                    quiet_until = -NEVER
            elif (
                iv[I_LAST_R] >= 0
                and iv[I_NCAND] > 0
                and n - iv[I_LAST_R] > sb_rr * _mean_rr(fv, q_rr_default)
            ):
                tail = iv[I_QTAIL]
                _search_back(n, fv, iv, bufs, cand, queue, pf, pi)
                # Every accepted beat enters the queue: an unchanged tail means none.
                stall_end = iv[I_LAST_R] + pi[Q_STALL]
                found = iv[I_QTAIL] != tail
                quiet_until = stall_end + 1 if not found and n <= stall_end else -NEVER
            while iv[I_QHEAD] < iv[I_QTAIL] and queue[iv[I_QHEAD] & qmask] + q_delay <= n:
                out[n_out] = queue[iv[I_QHEAD] & qmask]
                n_out += 1
                iv[I_QHEAD] += 1
            pend_h = fv[F_PEND_H]
            pend_cnt = iv[I_PEND_CNT]
            # Until the first sample at which one of the tests above can pass, every sample may
            # skip them: nothing they read changes outside this block, and each of them only
            # turns true as the sample index grows.
            due = NEVER
            if iv[I_INIT] == 0:
                if iv[I_NCAND] > 0:
                    due = q_learn
            elif iv[I_LAST_R] >= 0 and iv[I_NCAND] > 0:
                sb_due = iv[I_LAST_R] + _first_above(sb_rr * _mean_rr(fv, q_rr_default))
                due = max(sb_due, quiet_until)
            if iv[I_QHEAD] < iv[I_QTAIL]:
                due = min(due, queue[iv[I_QHEAD] & qmask] + q_delay)
        n += 1

    iv[I_N] = n
    fv[F_XLAST] = xlast
    iv[I_INVALID_UNTIL] = invalid_until
    iv[I_STARTED] = started
    iv[I_SLOT] = slot
    fv[F_MWI_SUM] = mwi_sum
    fv[F_CUR_MAX] = cur_max
    iv[I_CUR_MAX_T] = cur_max_t
    fv[F_PEND_H] = pend_h
    iv[I_PEND_T] = pend_t
    iv[I_PEND_CNT] = pend_cnt
    if two:
        zi[0, 0], zi[0, 1], zi[1, 0], zi[1, 1] = z00, z01, z10, z11
    if final:
        n = iv[I_N]
        if fv[F_CUR_MAX] > 0.0:
            if iv[I_PEND_CNT] == 0 or fv[F_CUR_MAX] > fv[F_PEND_H]:
                fv[F_PEND_H] = fv[F_CUR_MAX]
                iv[I_PEND_T] = iv[I_CUR_MAX_T]
                iv[I_PEND_CNT] = 1
            fv[F_CUR_MAX] = 0.0
        if iv[I_PEND_CNT] > 0:
            _finalise_candidate(n, fv, iv, ring, bufs, cand, queue, pf, pi)
        if iv[I_INIT] == 0 and iv[I_NCAND] > 0:
            _initialise(n, fv, iv, bufs, cand, queue, pf, pi)
        if iv[I_INIT] == 1 and iv[I_LAST_R] >= 0 and iv[I_NCAND] > 0:
            mean_rr = _mean_rr(fv, pi[Q_RR_DEFAULT])
            if n - iv[I_LAST_R] > pf[P_SB_RR] * mean_rr:
                _search_back(n, fv, iv, bufs, cand, queue, pf, pi)
        while iv[I_QHEAD] < iv[I_QTAIL]:
            out[n_out] = queue[iv[I_QHEAD] % queue.size]
            n_out += 1
            iv[I_QHEAD] += 1
    return n_out
