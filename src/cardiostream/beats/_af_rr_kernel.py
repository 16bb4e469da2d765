"""The compiled core of :mod:`cardiostream.beats.af_rr`: RR features of a beat's past window
and the small network that turns them into a probability of AF.

Every row is a pure function of the beat times in its window (the beat and the
:data:`LONG` intervals before it), computed by the same loops whatever else is in the call,
so a stream cut into any chunks gives the same rows bit for bit as the whole series. No
reduction is shared between rows and no BLAS call is made: the network's products are plain
loops, so the result of a row does not depend on how many rows a call holds.
"""

from __future__ import annotations

import math

import numba
import numpy as np
import numpy.typing as npt

from cardiostream.beats._select_kernel import select

FloatArray = npt.NDArray[np.float64]

#: Intervals in the long and the short window (the short one is the long one's most recent end).
LONG = 64
SHORT = 16
#: Fewest intervals a window needs for its features; a beat with fewer gets p_af 0.
MIN_RR = 16
#: Tolerance of the sample entropy (s), as the coefficient of sample entropy uses.
SAMPEN_R_S = 0.03

#: Names of the per-window features, in column order (each window gives all of them).
WINDOW_FEATURES: tuple[str, ...] = (
    "log_median_rr",  # log of the median RR (s)
    "rmssd_rel",  # RMSSD / mean RR
    "median_abs_drr_rel",  # median |ΔRR| / median RR: robust to a few ectopic beats
    "q75_abs_drr_rel",  # 75th percentile of |ΔRR| / median RR
    "frac_drr_gt_8pct",  # share of |ΔRR| above 8 % of the median RR
    "pnn50",  # share of |ΔRR| above 50 ms
    "turning_points",  # share of turning points among the inner intervals
    "sd1_sd2",  # Poincaré SD1 / SD2
    "acf1",  # autocorrelation of RR at lag 1 (bigeminy: near -1)
    "acf2",  # at lag 2 (bigeminy: near +1; AF: near 0)
    "short_long",  # share of intervals that are short followed by a long one (ectopy)
    "filtered_rmssd_rel",  # RMSSD / mean RR after the short-long pairs are removed
    "drr_entropy",  # Shannon entropy of ΔRR / median RR in bins of 4 %, over log(n)
    "rel_dev_gt_15pct",  # share of intervals further than 15 % from the median
)
N_WINDOW = len(WINDOW_FEATURES)
#: Every column: the long window's, the short window's, then the short window's sample entropy.
FEATURES: tuple[str, ...] = (
    *(f"{name}_{LONG}" for name in WINDOW_FEATURES),
    *(f"{name}_{SHORT}" for name in WINDOW_FEATURES),
    f"sampen_{SHORT}",
)
N_FEATURES = len(FEATURES)


@numba.njit(cache=True)
def _quantile(a: FloatArray, n: int, q: float) -> float:  # pragma: no cover - compiled
    """The ``q`` quantile (linear interpolation) of ``a[:n]``, after :func:`_median` of it
    (positions from the median's on are selected among the values it left after it)."""
    pos = q * (n - 1)
    lo = math.floor(pos)
    hi = min(lo + 1, n - 1)
    frac = pos - lo
    s_lo = select(a, (n - 1) // 2, n, lo)
    s_hi = _next_up(a, lo, n) if hi > lo else s_lo
    return float(s_lo + (s_hi - s_lo) * frac)


@numba.njit(cache=True)
def _next_up(a: FloatArray, k: int, n: int) -> float:  # pragma: no cover - compiled
    """The value after ``a[k]`` in sorted order, ``a[:n]`` as
    :func:`~cardiostream.beats._select_kernel.select` left it for ``k``: the smallest of those
    after it."""
    v = a[k + 1]
    for i in range(k + 2, n):
        v = min(v, a[i])
    return float(v)


@numba.njit(cache=True)
def _median(a: FloatArray, n: int) -> float:  # pragma: no cover - compiled
    """The median of ``a[:n]`` (the mean of the middle two when ``n`` is even), by selection;
    ``a[:n]`` is reordered."""
    if n % 2 == 1:
        return select(a, 0, n, n // 2)
    low = select(a, 0, n, n // 2 - 1)
    return float(0.5 * (low + _next_up(a, n // 2 - 1, n)))


@numba.njit(cache=True)
def _window(
    rr: FloatArray,
    n: int,
    out: FloatArray,
    col: int,
    work: FloatArray,
    counts: npt.NDArray[np.int64],
) -> None:  # pragma: no cover - compiled
    """The :data:`WINDOW_FEATURES` of ``rr[:n]`` into ``out[col:col + N_WINDOW]``."""
    for k in range(n):
        work[k] = rr[k]
    med = _median(work, n)
    total = 0.0
    for k in range(n):
        total += rr[k]
    mean = total / n
    out[col + 0] = math.log(med)
    nd = n - 1
    ssd = 0.0
    big8 = 0
    big50 = 0
    for k in range(nd):
        d = rr[k + 1] - rr[k]
        ssd += d * d
        ad = abs(d)
        work[k] = ad
        if ad > 0.08 * med:
            big8 += 1
        if ad > 0.05:
            big50 += 1
    out[col + 1] = math.sqrt(ssd / nd) / mean
    out[col + 2] = _median(work, nd) / med
    # The 75th percentile's order statistics lie above the median's, where selection left
    # the larger half.
    out[col + 3] = _quantile(work, nd, 0.75) / med
    out[col + 4] = big8 / nd
    out[col + 5] = big50 / nd
    tp = 0
    for k in range(1, n - 1):
        if (rr[k] - rr[k - 1]) * (rr[k + 1] - rr[k]) < 0.0:
            tp += 1
    out[col + 6] = tp / max(n - 2, 1)
    # Poincaré: SD1 from the successive differences, SD2 from the sums.
    sx = 0.0
    sy = 0.0
    for k in range(nd):
        sx += rr[k + 1] - rr[k]
        sy += rr[k + 1] + rr[k]
    mx = sx / nd
    my = sy / nd
    vx = 0.0
    vy = 0.0
    for k in range(nd):
        a = rr[k + 1] - rr[k] - mx
        b = rr[k + 1] + rr[k] - my
        vx += a * a
        vy += b * b
    sd1 = math.sqrt(vx / (2 * nd))
    sd2 = math.sqrt(vy / (2 * nd))
    out[col + 7] = sd1 / (sd2 + 1e-6)
    # Autocorrelation of the deviations from the mean at lags 1 and 2.
    var = 0.0
    for k in range(n):
        var += (rr[k] - mean) ** 2
    for lag in (1, 2):
        c = 0.0
        if n > lag + 1 and var > 1e-12:
            for k in range(n - lag):
                c += (rr[k] - mean) * (rr[k + lag] - mean)
            c /= var
        out[col + 7 + lag] = c
    # Short-long pairs: an early beat and its compensatory pause.
    pairs = 0
    for k in range(nd):
        if rr[k] < 0.88 * med and rr[k + 1] > 1.06 * med:
            pairs += 1
    out[col + 10] = pairs / nd
    # RMSSD of the intervals that are not part of a short-long pair.
    fss = 0.0
    fcount = 0
    fsum = 0.0
    fn = 0
    k = 0
    prev = -1.0
    while k < n:
        if k < nd and rr[k] < 0.88 * med and rr[k + 1] > 1.06 * med:
            prev = -1.0
            k += 2
            continue
        if prev > 0.0:
            d = rr[k] - prev
            fss += d * d
            fcount += 1
        prev = rr[k]
        fsum += rr[k]
        fn += 1
        k += 1
    if fcount > 0 and fn > 0:
        out[col + 11] = math.sqrt(fss / fcount) / (fsum / fn)
    else:
        out[col + 11] = out[col + 1]
    # Entropy of ΔRR relative to the median, bins of 4 % from -60 % to +60 % plus two tails.
    counts[:] = 0
    for k in range(nd):
        x = (rr[k + 1] - rr[k]) / med
        b = math.floor((x + 0.6) / 0.04) + 1
        if b < 0:
            b = 0
        elif b > 31:
            b = 31
        counts[b] += 1
    h = 0.0
    for b in range(32):
        if counts[b] > 0:
            p = counts[b] / nd
            h -= p * math.log(p)
    out[col + 12] = h / math.log(max(nd, 2))
    dev = 0
    for k in range(n):
        if abs(rr[k] - med) > 0.15 * med:
            dev += 1
    out[col + 13] = dev / n


@numba.njit(cache=True)
def _sampen(rr: FloatArray, n: int, r: float) -> float:  # pragma: no cover - compiled
    """Sample entropy (m = 1) of ``rr[:n]``, matches counted with one added to each count."""
    a = 0
    b = 0
    for i in range(n - 1):
        for j in range(i + 1, n - 1):
            if abs(rr[i] - rr[j]) <= r:
                b += 1
                if abs(rr[i + 1] - rr[j + 1]) <= r:
                    a += 1
    return -math.log((a + 1.0) / (b + 1.0))


@numba.njit(cache=True)
def rr_features(t: FloatArray, first: int, out: FloatArray) -> None:  # pragma: no cover - compiled
    """Features of beats ``first..len(t) - 1`` of beat times ``t`` into ``out`` (one row each).

    Beat ``i``'s long window is the intervals ``t[k] - t[k - 1]`` for ``k`` from
    ``max(1, i - LONG + 1)`` to ``i``; its short window is the last :data:`SHORT` of them.
    A row whose window holds fewer than :data:`MIN_RR` intervals is left as NaN.
    """
    rr = np.empty(LONG)
    work = np.empty(LONG)
    counts = np.zeros(32, np.int64)
    for i in range(first, t.size):
        row = i - first
        lo = max(1, i - LONG + 1)
        n = i - lo + 1
        if n < MIN_RR:
            for c in range(out.shape[1]):
                out[row, c] = np.nan
            continue
        for k in range(n):
            rr[k] = t[lo + k] - t[lo + k - 1]
        _window(rr, n, out[row], 0, work, counts)
        ns = min(n, SHORT)
        short = rr[n - ns : n]
        _window(short, ns, out[row], N_WINDOW, work, counts)
        out[row, 2 * N_WINDOW] = _sampen(short, ns, SAMPEN_R_S)


@numba.njit(cache=True)
def network(
    x: FloatArray,
    mean: FloatArray,
    std: FloatArray,
    w1: FloatArray,
    b1: FloatArray,
    w2: FloatArray,
    b2: float,
    out: FloatArray,
) -> None:  # pragma: no cover - compiled
    """The logit of AF of each row of ``x``: standardise, clip to ±8, one tanh layer (none
    when ``w1`` has no columns: then ``w2`` weighs the inputs), a linear output. A row with
    NaN gives NaN."""
    d = x.shape[1]
    hidden = w1.shape[1]
    z = np.empty(d)
    h = np.empty(max(hidden, 1))
    for i in range(x.shape[0]):
        bad = False
        for j in range(d):
            v = x[i, j]
            if math.isnan(v):
                bad = True
                break
            v = (v - mean[j]) / std[j]
            z[j] = min(8.0, max(-8.0, v))
        if bad:
            out[i] = np.nan
            continue
        acc = b2
        if hidden == 0:
            for j in range(d):
                acc += z[j] * w2[j]
        else:
            for k in range(hidden):
                s = b1[k]
                for j in range(d):
                    s += z[j] * w1[j, k]
                h[k] = math.tanh(s)
            for k in range(hidden):
                acc += h[k] * w2[k]
        out[i] = acc


@numba.njit(cache=True)
def smooth(
    logit: FloatArray, alpha: float, ema: float, weight: float, out: FloatArray
) -> tuple[float, float]:  # pragma: no cover - compiled
    """The causal exponential average of the logits (NaN ones skipped, their p 0) through the
    logistic function into ``out``; starts from ``ema`` and its ``weight`` (0: no logit yet),
    returns both after the last logit.

    The average is bias-corrected: ``weight`` is the share of an exponential average's total
    weight that the logits so far hold (1 - (1 - alpha)^n after n of them), and each logit
    moves the average by ``alpha / weight`` of its distance. The first logits are thus
    averaged evenly, as a plain mean, rather than the first one standing for all the history
    the stream does not have; after a few times 1 / alpha logits it is the usual average.
    """
    for i in range(logit.size):
        z = logit[i]
        if math.isnan(z):
            out[i] = 0.0
            continue
        weight += alpha * (1.0 - weight)
        ema = z if math.isnan(ema) else ema + (alpha / weight) * (z - ema)
        out[i] = 1.0 / (1.0 + math.exp(-ema))
    return ema, weight
