"""Compiled kernels of the heads (:mod:`cardiostream.rhythm.record_head`,
:mod:`cardiostream.rhythm.window_head`): beat statistics and the heads' small network.

The window head runs every second of every stream, over a dozen beats: in numpy, per-call
overhead made that ~0.5 ms a second, more than the network itself. These loops compute the
same statistics (to float rounding) in a few microseconds, and each output by the same
operations however many are asked for at once; the streaming engine and the offline path
both call them, so live and offline stay identical.
"""

from __future__ import annotations

import math

import numba
import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
Int32Array = npt.NDArray[np.int32]
#: The window loops' fixed arguments: window and detector delay (samples), rate (Hz), the
#: log-probability floor, the RR clip range (s), the QRS and P windows (samples before, after
#: / before, end before the R peak) and the shortest RR with a visible P wave (samples).
WindowParams = tuple[
    int, int, float, float, tuple[float, float], tuple[int, int], tuple[int, int], float
]


@numba.njit(cache=True)
def _corr(a: FloatArray, b: FloatArray) -> float:  # pragma: no cover - compiled
    """Pearson correlation of two series; 0 when too short or flat."""
    n = a.size
    if n < 3:
        return 0.0
    sa, sb = a.std(), b.std()
    if sa < 1e-9 or sb < 1e-9:
        return 0.0
    ma, mb = a.mean(), b.mean()
    total = 0.0
    for i in range(n):
        total += (a[i] - ma) * (b[i] - mb)
    return float(total / n / (sa * sb))


@numba.njit(cache=True)
def rr_values(
    peaks: IntArray, fs: float, duration: float, rr_range: tuple[float, float], out: FloatArray
) -> None:  # pragma: no cover - compiled
    """RR statistics of sorted ``peaks`` (at least four) into ``out``, in the order of
    :data:`cardiostream.rhythm.record_head.RR_FEATURES`."""
    rr = np.empty(peaks.size - 1)
    for i in range(rr.size):
        rr[i] = min(max((peaks[i + 1] - peaks[i]) / fs, rr_range[0]), rr_range[1])
    # np.median's value (an order statistic) by ranking: no copy, no sort of a dozen values.
    med = _sorted_median(rr, rr.size)
    drr = rr[1:] - rr[:-1]
    dev = rr - med
    sd1 = drr.std() / math.sqrt(2.0)
    sd2 = math.sqrt(max(2.0 * rr.var() - drr.var() / 2.0, 1e-12))
    abs_drr = np.abs(drr)
    out[0] = math.log(med)
    out[1] = rr.std() / rr.mean()
    # The means of squares and of booleans as numba's np.mean sums them, in order, without
    # their temporary arrays.
    squares = 0.0
    n_big = 0
    for i in range(drr.size):
        squares += drr[i] * drr[i]
        n_big += abs_drr[i] > 0.05
    n_far = 0
    for i in range(dev.size):
        n_far += abs(dev[i]) > 0.2 * med
    out[2] = math.sqrt(squares / drr.size) / med
    out[3] = _sorted_median(abs_drr, abs_drr.size) / med
    out[4] = n_big / drr.size
    out[5] = n_far / dev.size
    out[6] = min(sd1 / sd2, 3.0)
    out[7] = math.log(rr.max() / med)
    out[8] = math.log(rr.min() / med)
    out[9] = _corr(dev[:-1], dev[1:])
    out[10] = _corr(dev[:-2], dev[2:])
    out[11] = min(peaks.size * med / duration, 3.0)
    out[12] = math.log(duration)
    out[13] = 0.0


@numba.njit(cache=True)
def _segments(
    x: npt.NDArray[np.floating],
    base: int,
    size: int,
    at: IntArray,
    before: int,
    after: int,
    width: int,
    buf: FloatArray,
) -> FloatArray:  # pragma: no cover - compiled
    """Rows ``y[i - before : i - before + width]`` for the ``i`` of ``at`` whose span
    ``[i - before, i + after)`` lies in ``y = x[base : base + size]``, as float64, in the
    front of ``buf`` (a view of it): no copy of the signal, no allocation."""
    keep = 0
    for i in at:
        if i - before >= 0 and i + after <= size:
            keep += 1
    rows = buf[: keep * width].reshape((keep, width))
    k = 0
    for i in at:
        if i - before >= 0 and i + after <= size:
            o = base + i - before
            for t in range(width):
                rows[k, t] = float(x[o + t])
            k += 1
    return rows


@numba.njit(cache=True)
def _sorted_median(buf: FloatArray, n: int) -> float:  # pragma: no cover - compiled
    """Median of ``buf[:n]`` (the mean of the two middle values when ``n`` is even).

    By counting ranks: for each value, how many are below and equal, n comparisons without
    data-dependent branches, until both middle ranks are found. For a dozen values whose
    order the branch predictor cannot guess, that beats sorting them.
    """
    half = n // 2
    want_low = half - 1 if n % 2 == 0 else half
    low = high = 0.0
    found_low = found_high = False
    for i in range(n):
        v = buf[i]
        less = 0
        equal = 0
        for j in range(n):
            less += buf[j] < v
            equal += buf[j] == v
        if not found_low and less <= want_low < less + equal:
            low, found_low = v, True
        if not found_high and less <= half < less + equal:
            high, found_high = v, True
        if found_low and found_high:
            break
    return float(0.5 * (low + high))


@numba.njit(cache=True)
def _sort_columns(s: FloatArray) -> None:  # pragma: no cover - compiled
    """Sort each column of ``s`` (no NaN) in place by Batcher's merge exchange (Knuth's
    algorithm 5.2.2M): a fixed network of compare-exchanges between whole rows, which runs
    down the columns side by side without branches (about 40 for a dozen rows)."""
    n, m = s.shape
    if n < 2:
        return
    t = 1
    while (1 << t) < n:
        t += 1
    p = 1 << (t - 1)
    while p > 0:
        q = 1 << (t - 1)
        r = 0
        d = p
        while True:
            for i in range(n - d):
                if i & p == r:
                    # Indices into the rows, not row views: a view costs reference counting.
                    for c in range(m):
                        a = s[i, c]
                        b = s[i + d, c]
                        s[i, c] = a if a < b else b
                        s[i + d, c] = b if a < b else a
            if q == p:
                break
            d = q - p
            q >>= 1
            r = p
        p >>= 1


@numba.njit(cache=True)
def _first_equal(rows: FloatArray, c: int, v: float) -> float:  # pragma: no cover - compiled
    """The first value of column ``c`` equal to ``v``: ``v`` itself unless it is a zero, whose
    sign is the first such row's (what rank counting picks)."""
    if v != 0.0:
        return v
    for r in range(rows.shape[0]):
        if rows[r, c] == v:
            return float(rows[r, c])
    return v


@numba.njit(cache=True)
def _column_median(
    rows: FloatArray, work: FloatArray, out: FloatArray
) -> FloatArray:  # pragma: no cover - compiled
    """The median of each column of ``rows`` into the front of ``out`` (a view of it);
    ``work`` is scratch of at least ``rows.size`` values.

    The values of :func:`_sorted_median` down each column: with no NaN, the middle values of
    the sorted column (:func:`_sort_columns`, all columns at once, several times faster than
    ranking each column); a column with NaN is ranked as :func:`_sorted_median` does.
    """
    n, m = rows.shape
    s = work[: n * m].reshape((n, m))
    nan = False
    for r in range(n):
        for c in range(m):
            v = rows[r, c]
            nan |= v != v
            s[r, c] = v
    med = out[:m]
    if nan:
        buf = work[:n]
        for c in range(m):
            for r in range(n):
                buf[r] = rows[r, c]
            med[c] = _sorted_median(buf, n)
        return med
    _sort_columns(s)
    half = n // 2
    low = half - 1 if n % 2 == 0 else half
    for c in range(m):
        med[c] = 0.5 * (_first_equal(rows, c, s[low, c]) + _first_equal(rows, c, s[half, c]))
    return med


@numba.njit(cache=True)
def _corr_with(
    rows: FloatArray, template: FloatArray, buf: FloatArray
) -> FloatArray:  # pragma: no cover - compiled
    """Pearson correlation of each row with the template into the front of ``buf``."""
    n, m = rows.shape
    tm = template.mean()
    bb = 0.0
    for i in range(m):
        bb += (template[i] - tm) ** 2
    out = buf[:n]
    # Four rows side by side, each by the loops of one alone: the sums are chains of
    # dependent additions, and four of them keep the adder busy.
    r = 0
    while r + 4 <= n:
        m0 = m1 = m2 = m3 = 0.0
        for i in range(m):
            m0 += rows[r, i]
            m1 += rows[r + 1, i]
            m2 += rows[r + 2, i]
            m3 += rows[r + 3, i]
        m0 /= m
        m1 /= m
        m2 /= m
        m3 /= m
        ab0 = ab1 = ab2 = ab3 = 0.0
        aa0 = aa1 = aa2 = aa3 = 0.0
        for i in range(m):
            t = template[i] - tm
            a0 = rows[r, i] - m0
            a1 = rows[r + 1, i] - m1
            a2 = rows[r + 2, i] - m2
            a3 = rows[r + 3, i] - m3
            ab0 += a0 * t
            ab1 += a1 * t
            ab2 += a2 * t
            ab3 += a3 * t
            aa0 += a0 * a0
            aa1 += a1 * a1
            aa2 += a2 * a2
            aa3 += a3 * a3
        out[r] = ab0 / (math.sqrt(aa0 * bb) + 1e-12)
        out[r + 1] = ab1 / (math.sqrt(aa1 * bb) + 1e-12)
        out[r + 2] = ab2 / (math.sqrt(aa2 * bb) + 1e-12)
        out[r + 3] = ab3 / (math.sqrt(aa3 * bb) + 1e-12)
        r += 4
    for k in range(r, n):
        rm = 0.0
        for i in range(m):
            rm += rows[k, i]
        rm /= m
        ab = 0.0
        aa = 0.0
        for i in range(m):
            a = rows[k, i] - rm
            ab += a * (template[i] - tm)
            aa += a * a
        out[k] = ab / (math.sqrt(aa * bb) + 1e-12)
    return out


#: The scratch arrays of :func:`_shape_values` (see :func:`_shape_scratch`).
ShapeScratch = tuple[FloatArray, FloatArray, FloatArray, FloatArray, FloatArray, IntArray]


@numba.njit(cache=True)
def _shape_scratch(
    n_peaks: int, qrs: tuple[int, int], p_window: tuple[int, int]
) -> ShapeScratch:  # pragma: no cover - compiled
    """Scratch for :func:`_shape_values` of up to ``n_peaks`` beats: the QRS and the P rows,
    the sort's work, the two templates, the correlations and the beats after a long RR."""
    width = max(qrs[0] + qrs[1], p_window[0] - p_window[1], 1)
    rows = max(n_peaks, 1) * width
    return (
        np.empty(rows),
        np.empty(rows),
        np.empty(rows),
        np.empty(2 * width),
        np.empty(max(n_peaks, 1)),
        np.empty(max(n_peaks, 1), np.int64),
    )


@numba.njit(cache=True)
def _shape_values(
    x: npt.NDArray[np.floating],
    base: int,
    size: int,
    peaks: IntArray,
    qrs: tuple[int, int],
    p_window: tuple[int, int],
    p_min_rr: float,
    scratch: ShapeScratch,
    out: FloatArray,
) -> None:  # pragma: no cover - compiled
    """:func:`morphology_values` of ``x[base : base + size]``, read in place (float64 on use,
    which is exact), with ``scratch`` from :func:`_shape_scratch` for its arrays."""
    q_buf, w_buf, work, templates, corr_buf, after_long = scratch
    out[:] = 0.0
    q = _segments(x, base, size, peaks, qrs[0], qrs[1], qrs[0] + qrs[1], q_buf)
    if q.shape[0] < 4:
        return
    half = templates.size // 2
    q_template = _column_median(q, work, templates[:half])
    q_corr = _corr_with(q, q_template, corr_buf)
    n_odd = 0
    for r in range(q_corr.size):
        n_odd += q_corr[r] < 0.8
    out[1] = n_odd / q_corr.size  # np.mean of the booleans: their count over the size
    out[0] = _sorted_median(q_corr, q_corr.size)
    n_long = 0
    for i in range(1, peaks.size):
        if peaks[i] - peaks[i - 1] >= p_min_rr:
            after_long[n_long] = peaks[i]
            n_long += 1
    start, end = p_window
    w = _segments(x, base, size, after_long[:n_long], start, 0, start - end, w_buf)
    if w.shape[0] < 4:
        return
    n, m = w.shape
    for r in range(n):
        mean = 0.0
        for i in range(m):
            mean += w[r, i]
        mean /= m
        for i in range(m):
            w[r, i] -= mean
    p_template = _column_median(w, work, templates[half:])
    p_corr = _corr_with(w, p_template, corr_buf)
    n_p = 0
    for r in range(p_corr.size):
        n_p += p_corr[r] > 0.5
    out[3] = n_p / p_corr.size
    out[2] = _sorted_median(p_corr, p_corr.size)
    out[4] = math.log(p_template.std() / (q_template.std() + 1e-9) + 1e-4)
    # The variance of the residuals about the template, over every sample of every beat.
    total = 0.0
    for r in range(n):
        for i in range(m):
            total += w[r, i] - p_template[i]
    mean = total / (n * m)
    total = 0.0
    for r in range(n):
        for i in range(m):
            total += (w[r, i] - p_template[i] - mean) ** 2
    out[5] = math.log(p_template.var() / (total / (n * m) + 1e-12) + 1e-4)


@numba.njit(cache=True)
def morphology_values(
    x: FloatArray,
    peaks: IntArray,
    qrs: tuple[int, int],
    p_window: tuple[int, int],
    p_min_rr: float,
    out: FloatArray,
) -> None:  # pragma: no cover - compiled
    """Beat-shape statistics into ``out`` (zeros first), in the order of
    :data:`cardiostream.rhythm.record_head.MORPHOLOGY_FEATURES`; windows in samples."""
    scratch = _shape_scratch(peaks.size, qrs, p_window)
    _shape_values(x, 0, x.size, peaks, qrs, p_window, p_min_rr, scratch, out)


@numba.njit(cache=True)
def window_rows(
    logits: FloatArray,
    ecg: FloatArray,
    origin: int,
    peaks: IntArray,
    ends: IntArray,
    params: WindowParams,
    out: FloatArray,
) -> None:  # pragma: no cover - compiled
    """The window head's features of frames ending at samples ``ends`` into ``out`` rows.

    ``logits[k]`` are frame ``k``'s, ``ecg[i]`` is sample ``origin + i``, ``peaks`` are
    sorted sample indices. Each row: the log-softmax of the logits (floored at
    ``log_floor``), the RR statistics of the peaks in ``[end - window, end - delay)`` less the
    last two (duration terms), then the shape statistics of ``ecg`` over
    ``[end - window, end)`` with those peaks.
    """
    window, delay, fs, log_floor, rr_range, qrs, p_window, p_min_rr = params
    n_classes = logits.shape[1]
    n_rr = out.shape[1] - n_classes - 6
    rr = np.empty(n_rr + 2)
    shape = np.empty(6)
    most = 0
    for k in range(ends.size):
        lo = max(ends[k] - window, 0)
        most = max(most, np.searchsorted(peaks, ends[k] - delay) - np.searchsorted(peaks, lo))
    scratch = _shape_scratch(most, qrs, p_window)
    p_buf = np.empty(max(most, 1), np.int64)
    for k in range(ends.size):
        end = ends[k]
        top = -np.inf
        for c in range(n_classes):
            top = max(top, float(logits[k, c]))
        total = 0.0
        for c in range(n_classes):
            total += math.exp(float(logits[k, c]) - top)
        for c in range(n_classes):
            out[k, c] = max(float(logits[k, c]) - top - math.log(total), log_floor)
        lo = max(end - window, 0)
        a = np.searchsorted(peaks, lo)
        b = np.searchsorted(peaks, end - delay)
        p = p_buf[: max(b - a, 0)]
        for i in range(p.size):
            p[i] = peaks[a + i] - lo
        if p.size >= 4:
            rr_values(p, fs, window / fs, rr_range, rr)
        else:
            rr[:] = 0.0
        out[k, n_classes : n_classes + n_rr] = rr[:n_rr]
        # The window's samples are read in place, as far as ``ecg`` goes (as a slice would).
        size = max(min(end - origin, ecg.size) - (lo - origin), 0)
        _shape_values(ecg, lo - origin, size, p, qrs, p_window, p_min_rr, scratch, shape)
        out[k, n_classes + n_rr :] = shape


@numba.njit(cache=True)
def head_logits(
    x: FloatArray,
    mean: FloatArray,
    scale: FloatArray,
    w1: FloatArray,
    b1: FloatArray,
    w2: FloatArray,
    b2: FloatArray,
    out: FloatArray,
) -> None:  # pragma: no cover - compiled
    """``tanh(((x - mean) / scale) @ w1 + b1) @ w2 + b2`` row by row, each row by the same
    loops whatever the number of rows (a BLAS product may block differently), so that a
    stream's verdicts do not depend on how many seconds one push completes."""
    d, h = w1.shape
    z = np.empty(d)
    a = np.empty(h)
    for r in range(x.shape[0]):
        for i in range(d):
            z[i] = (x[r, i] - mean[i]) / scale[i]
        # The sums run over the inputs in order for each unit, all units side by side: the
        # same additions as one unit at a time, without waiting on one sum's latency.
        for j in range(h):
            a[j] = b1[j]
        for i in range(d):
            zi = z[i]
            for j in range(h):
                a[j] += zi * w1[i, j]
        for j in range(h):
            a[j] = math.tanh(a[j])
        for c in range(w2.shape[1]):
            out[r, c] = b2[c]
        for j in range(h):
            aj = a[j]
            for c in range(w2.shape[1]):
                out[r, c] += aj * w2[j, c]


#: Boosted trees as the compiled loops take them (see
#: :class:`~cardiostream.rhythm.record_trees.RecordTrees`): ``feature``, ``number``, ``left``
#: (the node arrays ``feature`` and ``left`` as int32: less to load on every step),
#: ``roots``, ``tree_class`` and ``baseline``; no trees at all is ``roots`` of size 0.
TreeArrays = tuple[Int32Array, FloatArray, Int32Array, IntArray, IntArray, FloatArray]


@numba.njit(cache=True)
def tree_scores(
    x: FloatArray, trees: TreeArrays, out: FloatArray
) -> None:  # pragma: no cover - compiled
    """Class scores of one feature row ``x`` into ``out``: each class's baseline plus the
    leaves its trees reach, added in the trees' order. A row goes left when its value is at
    most the threshold, so a NaN goes right (as in scikit-learn and ``RecordTrees.scores``).

    Four trees descend side by side: each step of one waits on the load before it, and
    four independent walks fill that wait."""
    feature, number, left, roots, tree_class, baseline = trees
    for k in range(baseline.size):
        out[k] = baseline[k]
    n = roots.size
    t = 0
    while t + 4 <= n:
        a, b, c, d = roots[t], roots[t + 1], roots[t + 2], roots[t + 3]
        while True:
            fa, fb, fc, fd = feature[a], feature[b], feature[c], feature[d]
            if fa < 0 and fb < 0 and fc < 0 and fd < 0:
                break
            if fa >= 0:
                a = left[a] + (0 if x[fa] <= number[a] else 1)
            if fb >= 0:
                b = left[b] + (0 if x[fb] <= number[b] else 1)
            if fc >= 0:
                c = left[c] + (0 if x[fc] <= number[c] else 1)
            if fd >= 0:
                d = left[d] + (0 if x[fd] <= number[d] else 1)
        out[tree_class[t]] += number[a]
        out[tree_class[t + 1]] += number[b]
        out[tree_class[t + 2]] += number[c]
        out[tree_class[t + 3]] += number[d]
        t += 4
    for u in range(t, n):
        node = roots[u]
        while feature[node] >= 0:
            node = left[node] + (0 if x[feature[node]] <= number[node] else 1)
        out[tree_class[u]] += number[node]


@numba.njit(cache=True)
def _log_softmax(z: FloatArray) -> None:  # pragma: no cover - compiled
    """``z`` minus its log-sum-exp, in place."""
    top = -np.inf
    for c in range(z.size):
        top = max(top, z[c])
    total = 0.0
    for c in range(z.size):
        total += math.exp(z[c] - top)
    log_total = top + math.log(total)
    for c in range(z.size):
        z[c] -= log_total


@numba.njit(cache=True)
def window_verdicts(
    logits: FloatArray,
    ecg: FloatArray,
    origin: int,
    peaks: IntArray,
    ends: IntArray,
    params: WindowParams,
    head: tuple[FloatArray, FloatArray, FloatArray, FloatArray, FloatArray, FloatArray],
    temperature: float,
    trees: TreeArrays,
    tree_weight: float,
    out: FloatArray,
) -> None:  # pragma: no cover - compiled
    """The window head's calibrated log-probabilities of the frames ending at ``ends``: the
    features of :func:`window_rows`, the head's network, then a log-softmax at
    ``temperature``, in one call (a stream makes one a second: call overhead counts).

    With ``trees`` the network's log-probabilities and the trees' are blended first, weighed
    ``1 - tree_weight`` and ``tree_weight`` (as ``record_trees.blend``)."""
    n_features = head[0].size
    rows = np.empty((ends.size, n_features))
    window_rows(logits, ecg, origin, peaks, ends, params, rows)
    mean, scale, w1, b1, w2, b2 = head
    head_logits(rows, mean, scale, w1, b1, w2, b2, out)
    if trees[3].size:
        own = np.empty(out.shape[1])
        for k in range(ends.size):
            _log_softmax(out[k])
            tree_scores(rows[k], trees, own)
            _log_softmax(own)
            for c in range(out.shape[1]):
                out[k, c] = (1.0 - tree_weight) * out[k, c] + tree_weight * own[c]
    for k in range(ends.size):
        for c in range(out.shape[1]):
            out[k, c] /= temperature
        _log_softmax(out[k])


@numba.njit(cache=True)
def head_hidden(
    z: FloatArray, w1: FloatArray, b1: FloatArray, out: FloatArray
) -> None:  # pragma: no cover - compiled
    """The heads' pre-activations ``z @ w1 + b1`` into ``out`` (for fitting, on every row)."""
    h = w1.shape[1]
    for r in range(z.shape[0]):
        for j in range(h):
            out[r, j] = b1[j]
        for i in range(z.shape[1]):
            zi = z[r, i]
            for j in range(h):
                out[r, j] += zi * w1[i, j]


@numba.njit(cache=True)
def head_nll(
    z: FloatArray,
    truth: IntArray,
    a: FloatArray,
    w2t: FloatArray,
    b2: FloatArray,
    grads: tuple[FloatArray, FloatArray, FloatArray, FloatArray],
) -> float:  # pragma: no cover - compiled
    """Mean negative log-likelihood of the heads' network from its hidden activations ``a``
    (``tanh`` of :func:`head_hidden`), and its gradient, unpenalised, into ``grads``
    (``w1``, ``b1``, ``w2`` transposed, ``b2``; ``w2t`` is ``w2`` transposed).

    Fitting makes ~500 evaluations over ~40,000 window rows; one pass over the rows costs
    about a third of numpy's temporaries. ``tanh`` stays with numpy, which vectorises it.
    """
    n = z.shape[0]
    k, h = w2t.shape
    g1, gb1, g2t, gb2 = grads
    g1[:] = 0.0
    gb1[:] = 0.0
    g2t[:] = 0.0
    gb2[:] = 0.0
    back = np.empty(h)
    logit = np.empty(k)
    total = 0.0
    for r in range(n):
        top = -np.inf
        for c in range(k):
            s = b2[c]
            for j in range(h):
                s += a[r, j] * w2t[c, j]
            logit[c] = s
            top = max(top, s)
        s = 0.0
        for c in range(k):
            s += math.exp(logit[c] - top)
        lse = top + math.log(s)
        total += lse - logit[truth[r]]
        for j in range(h):
            back[j] = 0.0
        for c in range(k):
            e = math.exp(logit[c] - lse) - (1.0 if c == truth[r] else 0.0)
            gb2[c] += e
            for j in range(h):
                g2t[c, j] += a[r, j] * e
                back[j] += e * w2t[c, j]
        for j in range(h):
            back[j] *= 1.0 - a[r, j] * a[r, j]
            gb1[j] += back[j]
        for i in range(z.shape[1]):
            zi = z[r, i]
            for j in range(h):
                g1[i, j] += zi * back[j]
    g1 /= n
    gb1 /= n
    g2t /= n
    gb2 /= n
    mean: float = total / n
    return mean


@numba.njit(cache=True)
def cosen_value(rr: FloatArray, tolerance: float) -> float:  # pragma: no cover - compiled
    """The coefficient of sample entropy of RR intervals ``rr`` (s) at ``tolerance`` (s).

    Sample entropy with templates of one and two intervals, ``-log(A / B)``, where ``B``
    counts the pairs of intervals within ``tolerance`` of each other and ``A`` the pairs of
    successive-interval pairs that are; each count gets 0.5 so that a short record with no
    match stays finite. COSEn adds ``log(2 * tolerance / mean RR)``, which makes the entropy
    comparable across heart rates (Lake and Moorman 2011)."""
    n = rr.size
    b = 0
    a = 0
    for i in range(n - 1):
        for j in range(i + 1, n - 1):
            if abs(rr[i] - rr[j]) <= tolerance:
                b += 1
                if abs(rr[i + 1] - rr[j + 1]) <= tolerance:
                    a += 1
    entropy = -math.log((a + 0.5) / (b + 0.5))
    return entropy + math.log(2.0 * tolerance / rr.mean())
