"""The compiled per-beat core of :class:`cardiostream.beats.features.BeatFeatureExtractor`.

All state lives in numpy arrays owned by the extractor (layout: the index constants below), so
the kernel is a pure function of (state, beats): any chunking walks through the same states.

The rows must equal those of the former numpy code bit for bit, so every reduction repeats
numpy's arithmetic: sums are numpy's pairwise summation (:func:`_psum`), a mean is that sum
divided by the count, a median of an even count is ``(a + b) / 2`` of the two middle values.
The logarithms are left to numpy (the caller applies them to whole chunks), because numpy's
vectorised ``log`` may differ from the C library's in the last bit.
"""

from __future__ import annotations

import numba as nb
import numpy as np
import numpy.typing as npt

from cardiostream.beats._select_kernel import select

# Integer state (``iv``).
I_RR_HEAD = 0  # ring of RR intervals: slot of the oldest
I_RR_COUNT = 1
I_REC_HEAD = 2  # ring of recent windows: slot of the oldest
I_REC_COUNT = 3
I_N_GOOD = 4  # recent windows of beats that were not premature
I_PREV_R = 5  # last beat's R peak, -1 before the first
I_NREF_HEAD = 6  # ring of the RR intervals of recent beats that were not premature
I_NREF_COUNT = 7
N_IV = 8

# Float state (``fv``).
F_LONG = 0  # long-term mean RR, NaN before the first beat
F_PREV_PRE = 1  # the last beat's pre RR, NaN before the second beat
F_EMA_CORR = 2  # running means of the QRS correlation and the residual, NaN before any beat
F_EMA_RESIDUAL = 3
N_FV = 4

#: Longest interval (s) taken as one between two beats. Sinus pauses and asystole last a few
#: seconds; a longer interval is signal that was lost (a lead-off, a gap), and counted as an
#: RR interval it would drag the long-term mean RR for hundreds of beats, which then all
#: look premature. The beat after it starts its RR context as a stream's first beat does.
GAP_S = 10.0

# Columns of the kernel's output, one row per beat: the beat's RR context and shape before its
# post RR is known. The columns ``H_LOG`` hold the arguments of the shape's log ratios and
# ``H_LOG1P`` that of the residual's log1p, which the caller takes with numpy.
H_PRE = 0
H_LOCAL = 1
H_LONG = 2
H_CV = 3
H_CORR_QRS = 4
H_CORR_WINDOW = 5
H_CORR_P = 6
H_AMP = 7
H_ENERGY = 8
H_AREA = 9
H_WIDTH = 10
H_WIDTH_RATIO = 11
H_RESIDUAL = 12
H_POLARITY = 13
H_POLARITY_TEMPLATE = 14
H_PREPRE = 15
H_NREF = 16
H_MED = 17
H_P_AMP = 18
H_P_ENERGY = 19
H_P_RESIDUAL = 20
H_EMA_CORR = 21  # filled by :func:`shape_context`, after the caller's logarithms
H_EMA_RESIDUAL = 22
N_HALF = 23
N_SHAPE = 11  # the shape columns, H_CORR_QRS to H_POLARITY_TEMPLATE
H_LOG = (H_AMP, H_ENERGY, H_AREA, H_WIDTH_RATIO)
H_LOG1P = H_RESIDUAL

# Columns of a finished row (``FEATURES``) that :func:`finish_rows` fills with the arguments of
# the RR log ratios, and where the half row's shape columns go.
R_LOG = slice(3, 8)
R_SHAPE = 9
R_EXTRA = 20  # the later RR columns: prematurity in seconds, then five log ratios
R_LOG2 = slice(21, 26)
R_P = 26  # the P-wave span against the template's: two log ratios, then a log1p
R_LOG3 = slice(26, 28)
R_LOG1P2 = 28
R_EMA = 29  # the running means of the QRS correlation and residual, and each beat's less them
N_ROW = 33


#: Longest array :func:`_psum` sums: numpy splits a sum once above this many values, twice
#: above about twice as many, and only the single split is repeated here.
PSUM_MAX = 240
_BLOCK = 128  # numpy's PW_BLOCKSIZE


#: Steps per mV of the stored recent windows (1 uV), within int16 up to +-32.767 mV.
WINDOW_GRID = 1000.0


@nb.njit(cache=True, inline="always")
def _psum_block(
    a: npt.NDArray[np.float64], lo: int, n: int
) -> float:  # pragma: no cover - compiled
    if n < 8:
        res = 0.0
        for i in range(lo, lo + n):
            res += a[i]
        return res
    r0, r1, r2, r3 = a[lo], a[lo + 1], a[lo + 2], a[lo + 3]
    r4, r5, r6, r7 = a[lo + 4], a[lo + 5], a[lo + 6], a[lo + 7]
    i = 8
    end = n - n % 8
    while i < end:
        j = lo + i
        r0 += a[j]
        r1 += a[j + 1]
        r2 += a[j + 2]
        r3 += a[j + 3]
        r4 += a[j + 4]
        r5 += a[j + 5]
        r6 += a[j + 6]
        r7 += a[j + 7]
        i += 8
    res = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7))
    while i < n:
        res += a[lo + i]
        i += 1
    return float(res)


@nb.njit(cache=True)
def _psum(a: npt.NDArray[np.float64], n: int) -> float:  # pragma: no cover - compiled
    """``a[:n].sum()`` as numpy computes it (pairwise), for ``n <= PSUM_MAX``."""
    if n <= _BLOCK:
        return _psum_block(a, 0, n)
    n2 = n // 2
    n2 -= n2 % 8
    return _psum_block(a, 0, n2) + _psum_block(a, n2, n - n2)


@nb.njit(cache=True)
def _corr(
    a: npt.NDArray[np.float64],
    b: npt.NDArray[np.float64],
    lo: int,
    hi: int,
    da: npt.NDArray[np.float64],
    db: npt.NDArray[np.float64],
    prod: npt.NDArray[np.float64],
) -> float:  # pragma: no cover - compiled
    """Pearson correlation of ``a[lo:hi]`` and ``b[lo:hi]``; 0 when either is flat."""
    n = hi - lo
    for i in range(n):
        da[i] = a[lo + i]
        db[i] = b[lo + i]
    ma = _psum(da, n) / n
    mb = _psum(db, n) / n
    for i in range(n):
        da[i] -= ma
        db[i] -= mb
    for i in range(n):
        prod[i] = da[i] * da[i]
    saa = _psum(prod, n)
    for i in range(n):
        prod[i] = db[i] * db[i]
    den = np.sqrt(saa * _psum(prod, n))
    if not den > 1e-12:
        return 0.0
    for i in range(n):
        prod[i] = da[i] * db[i]
    return float(_psum(prod, n) / den)


@nb.njit(cache=True)
def _width(
    q: npt.NDArray[np.float64], lo: int, hi: int, step: float
) -> float:  # pragma: no cover - compiled
    """Time between 10 % and 90 % of the cumulative energy of ``q[lo:hi]``."""
    total = 0.0
    for i in range(lo, hi):
        total += q[i] * q[i]
    if total <= 1e-18:
        return 0.0
    # The cumulative sum is rebuilt in the same order to test each prefix against its share.
    i10 = -1
    i90 = -1
    e = 0.0
    for i in range(lo, hi):
        e += q[i] * q[i]
        f = e / total
        if i10 < 0 and f >= 0.1:
            i10 = i
        if f >= 0.9:
            i90 = i
            break
    return (i90 - i10) * step


@nb.njit(cache=True)
def _median(
    w: npt.NDArray[np.float64], buf: npt.NDArray[np.float64]
) -> float:  # pragma: no cover - compiled
    """``np.median(w)`` of finite values; ``buf`` is scratch of the same size."""
    n = w.size
    buf[:] = w
    k = n // 2
    # Quickselect of the upper middle value; numba's np.median selects both middle values
    # and allocates, about twice the time.
    upper = select(buf, 0, n, k)
    if n % 2:
        return float(upper)
    # Everything before place k is at most the value there: the lower middle is their largest.
    lower = buf[0]
    for i in range(1, k):
        lower = max(lower, buf[i])
    return float((lower + upper) / 2)


@nb.njit(cache=True, inline="always")
def _ratio(a: float, b: float) -> float:  # pragma: no cover - compiled
    """The argument of a feature's log ratio, as ``np.log((a + 1e-9) / (b + 1e-9))`` has it."""
    return (a + 1e-9) / (b + 1e-9)


@nb.njit(cache=True)
def _extent(
    q: npt.NDArray[np.float64], lo: int, hi: int
) -> tuple[float, float]:  # pragma: no cover - compiled
    vmin = q[lo]
    vmax = q[lo]
    for i in range(lo + 1, hi):
        v = q[i]
        vmin = min(vmin, v)
        vmax = max(vmax, v)
    return vmin, vmax


# The template is the median of each window sample over the recent not-premature beats, so
# ``good`` keeps, for each window sample (column), those beats' values sorted down the rows: a
# beat changes one value per column, and the template is read off the middle rows.


@nb.njit(cache=True)
def _replace_rows(
    sets: npt.NDArray[np.float64],
    n: int,
    old: npt.NDArray[np.float64],
    new: npt.NDArray[np.float64],
    scratch: tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]],
) -> None:  # pragma: no cover - compiled
    """In each column ``c`` of the sorted ``sets[:n]``, replace the value ``old[c]`` by
    ``new[c]``, keeping the column sorted.

    An ``old`` of +inf at row ``n - 1`` inserts ``new``; a ``new`` of +inf removes ``old`` (to
    row ``n - 1``, then dropped). The values are finite, as the filtered signal is.
    """
    j_old, j_new = scratch
    m = old.size
    j_old[:] = 0
    j_new[:] = 0
    for t in range(n):
        for c in range(m):
            x = sets[t, c]
            j_old[c] += x < old[c]
            j_new[c] += x < new[c]
    for c in range(m):
        # Keeps a value absent from its column (impossible but for a non-finite signal) from
        # writing past the set.
        j_old[c] = min(j_old[c], n - 1)
    # Then only the values between the old value's row and the new one's move, by one row
    # towards the old one's: a third of the rows on average rather than all of them.
    for c in range(m):
        a = j_old[c]
        b = j_new[c]
        if b > a:
            for t in range(a, b - 1):
                sets[t, c] = sets[t + 1, c]
            sets[b - 1, c] = new[c]
        else:
            for t in range(a, b, -1):
                sets[t, c] = sets[t - 1, c]
            sets[b, c] = new[c]


@nb.njit(cache=True)
def _insert_row(
    sets: npt.NDArray[np.float64],
    n: int,
    v: npt.NDArray[np.float64],
    inf_row: npt.NDArray[np.float64],
    scratch: tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]],
) -> None:  # pragma: no cover - compiled
    sets[n] = inf_row
    _replace_rows(sets, n + 1, inf_row, v, scratch)


@nb.njit(cache=True)
def _median_rows(
    sets: npt.NDArray[np.float64], k: int, out: npt.NDArray[np.float64]
) -> None:  # pragma: no cover - compiled
    """Median of each column of the sorted ``sets[:k]``, as ``np.median(axis=0)`` gives it."""
    h = k // 2
    if k % 2:
        out[:] = sets[h]
    else:
        for c in range(out.size):
            out[c] = (sets[h - 1, c] + sets[h, c]) / 2


@nb.njit(cache=True)
def _sort_rows(sets: npt.NDArray[np.float64], k: int) -> None:  # pragma: no cover - compiled
    """Sort each column of ``sets[:k]`` (odd-even transposition: k passes over the rows).

    Used only while fewer than three recent beats are not premature; the passes go over the
    columns without branches, several times faster than sorting each column.
    """
    for p in range(k):
        for t in range(p % 2, k - 1, 2):
            for c in range(sets.shape[1]):
                lo = sets[t, c]
                hi = sets[t + 1, c]
                sets[t, c] = min(lo, hi)
                sets[t + 1, c] = max(lo, hi)


@nb.njit(cache=True)
def sort_good(
    recent: npt.NDArray[np.float64],
    ok: npt.NDArray[np.bool_],
    iv: npt.NDArray[np.int64],
    good: npt.NDArray[np.float64],
) -> None:  # pragma: no cover - compiled
    """Rebuild ``good`` from the ring of recent windows, as after a restored state."""
    cap = recent.shape[0]
    scratch = (np.empty(recent.shape[1], np.int64), np.empty(recent.shape[1], np.int64))
    inf_row = np.full(recent.shape[1], np.inf)
    n = 0
    for i in range(iv[I_REC_COUNT]):
        s = (iv[I_REC_HEAD] + i) % cap
        if ok[s]:
            _insert_row(good, n, recent[s], inf_row, scratch)
            n += 1
    iv[I_N_GOOD] = n


@nb.njit(cache=True)
def band_pass(
    sos: npt.NDArray[np.float64],
    x: npt.NDArray[np.float64],
    zi: npt.NDArray[np.float64],
    held: float,
    y: npt.NDArray[np.float64],
) -> float:  # pragma: no cover - compiled
    """``y, zi = scipy.signal.sosfilt(sos, x, zi=zi)`` (the same operations in the same
    order, so the same values), a non-finite sample replaced by the last finite one (``held``
    before the first); returns the last sample so replaced, for the next chunk.

    A scipy call costs tens of microseconds whatever its length, most of the time of a
    stream's one-second chunk.
    """
    n_sec = sos.shape[0]
    for n in range(x.size):
        v = x[n]
        if np.isfinite(v):
            held = v
        x_cur = held
        for s in range(n_sec):
            x_new = sos[s, 0] * x_cur + zi[s, 0]
            zi[s, 0] = sos[s, 1] * x_cur - sos[s, 4] * x_new + zi[s, 1]
            zi[s, 1] = sos[s, 2] * x_cur - sos[s, 5] * x_new
            x_cur = x_new
        y[n] = x_cur
    return held


@nb.njit(cache=True)
def beat_kernel(
    peaks: npt.NDArray[np.int64],
    tail: npt.NDArray[np.float64],
    start: int,
    offsets: npt.NDArray[np.int64],
    fs: float,
    qrs: tuple[int, int],
    p_span: tuple[int, int],
    step: float,
    params: tuple[float, float, float],
    rrs: npt.NDArray[np.float64],
    nrefs: npt.NDArray[np.float64],
    recent: npt.NDArray[np.float64],
    ok: npt.NDArray[np.bool_],
    good: npt.NDArray[np.float64],
    iv: npt.NDArray[np.int64],
    fv: npt.NDArray[np.float64],
    out: npt.NDArray[np.float64],
) -> None:  # pragma: no cover - compiled
    """The beats at ``peaks``, in order: one half row of ``out`` each (columns ``H_*``).

    ``tail`` holds the band-passed signal from sample ``start``; ``offsets`` are the window's
    sample offsets from the R peak; ``qrs`` and ``p_span`` are ``[lo, hi)`` index ranges of
    the window; ``params`` are the premature ratio, the long-term mean's weight and the RR
    assumed before any is known. ``rrs`` is a ring of the last RR intervals, ``nrefs`` one of
    the last RR intervals of beats that were not premature, ``recent`` one of the last
    windows (``ok`` marks those not premature) and ``good`` holds, per window sample, the
    values of the not-premature recent windows in ascending order.
    """
    premature, alpha, rr_default = params
    m = offsets.size
    n_rr_cap = rrs.size
    n_nref_cap = nrefs.size
    n_rec_cap = recent.shape[0]
    w = np.empty(m)
    tpl = np.empty(m)
    allset = np.empty((n_rec_cap, m))
    inf_row = np.full(m, np.inf)
    scratch = (np.empty(m, np.int64), np.empty(m, np.int64))
    da = np.empty(m)
    db = np.empty(m)
    prod = np.empty(m)
    wq = np.empty(m)
    last = tail.size - 1
    q0, q1 = qrs
    for b in range(peaks.size):
        r = peaks[b]
        row = out[b]

        # RR context.
        k = iv[I_RR_COUNT]
        for i in range(k):
            da[i] = rrs[(iv[I_RR_HEAD] + i) % n_rr_cap]
        local = _psum(da, k) / k if k else rr_default
        prev_r = iv[I_PREV_R]
        after_gap = prev_r >= 0 and (r - prev_r) / fs > GAP_S
        pre = (r - prev_r) / fs if prev_r >= 0 and not after_gap else local
        if not np.isfinite(fv[F_LONG]):
            fv[F_LONG] = local
        cv = 0.0
        if k >= 2:
            mean = _psum(da, k) / k
            for i in range(k):
                d = da[i] - mean
                prod[i] = d * d
            cv = np.sqrt(_psum(prod, k) / k) / local
        row[H_PRE] = pre
        row[H_LOCAL] = local
        row[H_LONG] = fv[F_LONG]
        row[H_CV] = cv
        row[H_MED] = _median(da[:k], db[:k]) if k else rr_default
        prev_pre = fv[F_PREV_PRE]
        row[H_PREPRE] = prev_pre if np.isfinite(prev_pre) else local
        kn = iv[I_NREF_COUNT]
        if kn:
            for i in range(kn):
                db[i] = nrefs[(iv[I_NREF_HEAD] + i) % n_nref_cap]
            row[H_NREF] = _psum(db, kn) / kn
        else:
            row[H_NREF] = local

        # The window, less its median.
        if last < 0:
            w[:] = 0.0
        else:
            for i in range(m):
                j = min(max(r + offsets[i] - start, 0), last)
                w[i] = tail[j]
            med = _median(w, prod)
            for i in range(m):
                w[i] -= med

        # The template.
        n_rec = iv[I_REC_COUNT]
        n_good = iv[I_N_GOOD]
        if n_good >= 3:
            _median_rows(good, n_good, tpl)
        elif n_rec > 0:
            for j in range(n_rec):
                allset[j] = recent[(iv[I_REC_HEAD] + j) % n_rec_cap]
            _sort_rows(allset, n_rec)
            _median_rows(allset, n_rec, tpl)
        else:
            tpl[:] = w

        # The shape against the template.
        row[H_CORR_QRS] = _corr(w, tpl, q0, q1, da, db, prod)
        row[H_CORR_WINDOW] = _corr(w, tpl, 0, m, da, db, prod)
        row[H_CORR_P] = _corr(w, tpl, p_span[0], p_span[1], da, db, prod)
        nq = q1 - q0
        vmin, vmax = _extent(w, q0, q1)
        tmin, tmax = _extent(tpl, q0, q1)
        row[H_AMP] = _ratio(vmax - vmin, tmax - tmin)
        span = vmax - vmin
        row[H_POLARITY] = (vmax + vmin) / span if span > 1e-12 else 0.0
        span = tmax - tmin
        row[H_POLARITY_TEMPLATE] = (tmax + tmin) / span if span > 1e-12 else 0.0
        for i in range(nq):
            prod[i] = w[q0 + i] * w[q0 + i]
        energy = _psum(prod, nq)
        for i in range(nq):
            prod[i] = tpl[q0 + i] * tpl[q0 + i]
        t_energy = _psum(prod, nq)
        row[H_ENERGY] = _ratio(energy, t_energy)
        for i in range(nq):
            prod[i] = abs(w[q0 + i])
        area = _psum(prod, nq)
        for i in range(nq):
            prod[i] = abs(tpl[q0 + i])
        row[H_AREA] = _ratio(area, _psum(prod, nq))
        width = _width(w, q0, q1, step)
        row[H_WIDTH] = width
        row[H_WIDTH_RATIO] = _ratio(width, _width(tpl, q0, q1, step))
        for i in range(nq):
            d = w[q0 + i] - tpl[q0 + i]
            prod[i] = d * d
        row[H_RESIDUAL] = min(_psum(prod, nq) / (t_energy + 1e-12), 1e6)
        p0, p1 = p_span
        npw = p1 - p0
        vmin, vmax = _extent(w, p0, p1)
        tmin, tmax = _extent(tpl, p0, p1)
        row[H_P_AMP] = _ratio(vmax - vmin, tmax - tmin)
        for i in range(npw):
            prod[i] = w[p0 + i] * w[p0 + i]
        p_energy = _psum(prod, npw)
        for i in range(npw):
            prod[i] = tpl[p0 + i] * tpl[p0 + i]
        tp_energy = _psum(prod, npw)
        row[H_P_ENERGY] = _ratio(p_energy, tp_energy)
        for i in range(npw):
            d = w[p0 + i] - tpl[p0 + i]
            prod[i] = d * d
        row[H_P_RESIDUAL] = min(_psum(prod, npw) / (tp_energy + 1e-12), 1e6)

        # This beat joins the recent windows, on a grid of 1 uV (far below any ECG's noise)
        # so that a saved state holds them exactly as 16-bit integers; the oldest leaves them
        # when the ring is full.
        for i in range(m):
            wq[i] = min(max(np.round(w[i] * WINDOW_GRID), -32767.0), 32767.0) / WINDOW_GRID
        is_ok = pre >= premature * local
        if n_rec < n_rec_cap:
            slot = (iv[I_REC_HEAD] + n_rec) % n_rec_cap
            iv[I_REC_COUNT] = n_rec + 1
            was_ok = False
        else:
            slot = iv[I_REC_HEAD]
            iv[I_REC_HEAD] = (slot + 1) % n_rec_cap
            was_ok = ok[slot]
        if was_ok and is_ok:
            _replace_rows(good, n_good, recent[slot], wq, scratch)
        elif was_ok:
            _replace_rows(good, n_good, recent[slot], inf_row, scratch)
            iv[I_N_GOOD] = n_good - 1
        elif is_ok:
            _insert_row(good, n_good, wq, inf_row, scratch)
            iv[I_N_GOOD] = n_good + 1
        recent[slot] = wq
        ok[slot] = is_ok

        if prev_r >= 0 and not after_gap:
            if k < n_rr_cap:
                rrs[(iv[I_RR_HEAD] + k) % n_rr_cap] = pre
                iv[I_RR_COUNT] = k + 1
            else:
                rrs[iv[I_RR_HEAD]] = pre
                iv[I_RR_HEAD] = (iv[I_RR_HEAD] + 1) % n_rr_cap
            fv[F_LONG] += alpha * (pre - fv[F_LONG])
            fv[F_PREV_PRE] = pre
            if is_ok:
                kn = iv[I_NREF_COUNT]
                if kn < n_nref_cap:
                    nrefs[(iv[I_NREF_HEAD] + kn) % n_nref_cap] = pre
                    iv[I_NREF_COUNT] = kn + 1
                else:
                    nrefs[iv[I_NREF_HEAD]] = pre
                    iv[I_NREF_HEAD] = (iv[I_NREF_HEAD] + 1) % n_nref_cap
        iv[I_PREV_R] = r


@nb.njit(cache=True)
def shape_context(
    half: npt.NDArray[np.float64], alpha: float, fv: npt.NDArray[np.float64]
) -> None:  # pragma: no cover - compiled
    """The running means (weight ``alpha``) of the QRS correlation and of the residual (after
    its log1p) before each beat, into the half rows' ``H_EMA_*`` columns; the first beat's
    own values start them. How unlike its template a patient's beats usually are: a noisy
    or changeable lead makes a poor correlation less of a sign of ectopy."""
    for b in range(half.shape[0]):
        row = half[b]
        corr = row[H_CORR_QRS]
        res = row[H_RESIDUAL]
        if not np.isfinite(fv[F_EMA_CORR]):
            fv[F_EMA_CORR] = corr
            fv[F_EMA_RESIDUAL] = res
        row[H_EMA_CORR] = fv[F_EMA_CORR]
        row[H_EMA_RESIDUAL] = fv[F_EMA_RESIDUAL]
        fv[F_EMA_CORR] += alpha * (corr - fv[F_EMA_CORR])
        fv[F_EMA_RESIDUAL] += alpha * (res - fv[F_EMA_RESIDUAL])


@nb.njit(cache=True)
def finish_rows(
    rs: npt.NDArray[np.int64],
    half: npt.NDArray[np.float64],
    n_done: int,
    fs: float,
    post_cap: float,
    out: npt.NDArray[np.float64],
) -> None:  # pragma: no cover - compiled
    """The rows of ``FEATURES`` of the first ``n_done`` beats at ``rs`` from their half rows:
    each beat's post RR runs to the next beat, or is ``post_cap`` for the last. Columns
    ``R_LOG`` get the arguments of the RR log ratios; the caller takes their log."""
    for i in range(n_done):
        pre = half[i, H_PRE]
        local = half[i, H_LOCAL]
        long = half[i, H_LONG]
        post = (rs[i + 1] - rs[i]) / fs if i + 1 < rs.size else post_cap
        post = min(post, post_cap)
        row = out[i]
        row[0] = pre
        row[1] = post
        row[2] = local
        row[3] = _ratio(pre, local)
        row[4] = _ratio(post, local)
        row[5] = _ratio(pre, post)
        row[6] = _ratio(local, long)
        row[7] = _ratio(pre, long)
        row[8] = half[i, H_CV]
        for j in range(N_SHAPE):
            row[R_SHAPE + j] = half[i, H_CORR_QRS + j]
        nref = half[i, H_NREF]
        prepre = half[i, H_PREPRE]
        row[R_EXTRA] = pre - local
        row[R_EXTRA + 1] = _ratio(pre, nref)
        row[R_EXTRA + 2] = _ratio(post, nref)
        row[R_EXTRA + 3] = _ratio(prepre, local)
        row[R_EXTRA + 4] = _ratio(pre, prepre)
        row[R_EXTRA + 5] = _ratio(pre, half[i, H_MED])
        row[R_P] = half[i, H_P_AMP]
        row[R_P + 1] = half[i, H_P_ENERGY]
        row[R_P + 2] = half[i, H_P_RESIDUAL]
        row[R_EMA] = half[i, H_EMA_CORR]
        row[R_EMA + 1] = half[i, H_EMA_RESIDUAL]
        row[R_EMA + 2] = half[i, H_CORR_QRS] - half[i, H_EMA_CORR]
        row[R_EMA + 3] = half[i, H_RESIDUAL] - half[i, H_EMA_RESIDUAL]
