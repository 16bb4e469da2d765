"""The compiled per-beat core of the quality gate and of the pacing-spike detector.

:class:`cardiostream.beats.gate.BeatQualityGate` computed its indices per beat with a dozen
numpy and scipy calls on a 2 s span: the work was small, the call overhead was not (about
0.4 ms a beat). These kernels do the same arithmetic in one compiled pass per beat, with the
same definitions as :mod:`cardiostream.dsp.quality` (missing samples filled by linear
interpolation, runs of equal samples and of samples at the extremes, 0.25 s block ranges,
the forward-backward 0.5-40 Hz band-pass started in the steady state of its first sample).
Only the spectrum of ``hf_ratio`` stays with numpy's FFT, batched over the beats.
"""

from __future__ import annotations

import numba as nb
import numpy as np
import numpy.typing as npt

#: Columns of the metric array :func:`span_metrics` fills.
M_NAN = 0
M_CONSTANT = 1
M_PTP = 2
M_CLIP = 3
M_HF = 4  # left NaN here: the gate's FFT fills it
M_SNR = 5
N_METRICS = 6

#: The integer parameters of :func:`batch_metrics`, one array (fewer arguments to check at
#: every call: a stream calls it for every chunk).
P_PRE = 0  # span before the R peak, samples
P_POST = 1  # span after it
P_BLOCK = 2  # block of the flat test
P_LONG_RUN = 3  # a constant run this long is lead off; a clipped run is shorter
P_MIN_RUN = 4  # the shortest clipped run
P_HALF = 5  # half-width of the beat's window for qrs_snr
N_PARAMS = 6


@nb.njit(cache=True)
def _sum(x: npt.NDArray[np.float64], absolute: bool) -> float:
    """The sum of ``x`` (or of its magnitudes) in four interleaved partial sums: one running
    sum waits on the adder's latency at every sample, four keep it busy."""
    n = x.size
    s0 = s1 = s2 = s3 = 0.0
    i = 0
    if absolute:
        while i + 4 <= n:
            s0 += abs(x[i])
            s1 += abs(x[i + 1])
            s2 += abs(x[i + 2])
            s3 += abs(x[i + 3])
            i += 4
        for j in range(i, n):
            s0 += abs(x[j])
    else:
        while i + 4 <= n:
            s0 += x[i]
            s1 += x[i + 1]
            s2 += x[i + 2]
            s3 += x[i + 3]
            i += 4
        for j in range(i, n):
            s0 += x[j]
    return (s0 + s1) + (s2 + s3)


@nb.njit(cache=True)
def _fill(x: npt.NDArray[np.float64], out: npt.NDArray[np.float64]) -> int:
    """Copy ``x`` into ``out`` with NaN filled as ``np.interp`` does; return the NaN count.

    Nothing is copied where nothing is missing.

    Before the first finite sample and after the last one the nearest finite value is held
    (``np.interp`` clamps); between two the line through them, with ``np.interp``'s formula.
    """
    n = x.size
    missing = 0
    for i in range(n):
        if not np.isfinite(x[i]):
            missing += 1
    if missing == 0:  # the usual case: nothing to fill, nothing copied
        return 0
    prev = -1
    missing = 0
    for i in range(n):
        v = x[i]
        if np.isfinite(v):
            if prev < i - 1:
                # Fill the gap prev+1 .. i-1.
                for j in range(prev + 1, i):
                    if prev < 0:
                        out[j] = v
                    else:
                        slope = (v - x[prev]) / (i - prev)
                        out[j] = slope * (j - prev) + x[prev]
            out[i] = v
            prev = i
        else:
            missing += 1
    if prev < 0:
        return n
    for j in range(prev + 1, n):
        out[j] = x[prev]
    return missing


@nb.njit(cache=True)
def _biquads(
    sos: npt.NDArray[np.float64],
    zi_unit: npt.NDArray[np.float64],
    y: npt.NDArray[np.float64],
    reverse: bool,
) -> None:
    """Filter ``y`` in place (forwards or backwards), each section started in the steady
    state of the first sample it sees: the same operations in the same order as
    ``dsp._kernels.sos_kernel`` on a finite signal, so the result is the quality module's."""
    n = y.size
    first = y[n - 1] if reverse else y[0]
    for s in range(sos.shape[0]):
        b0, b1, b2 = sos[s, 0], sos[s, 1], sos[s, 2]
        a1, a2 = sos[s, 4], sos[s, 5]
        z0 = zi_unit[s, 0] * first
        z1 = zi_unit[s, 1] * first
        for t in range(n):
            i = n - 1 - t if reverse else t
            v = y[i]
            out = b0 * v + z0
            z0 = b1 * v - a1 * out + z1
            z1 = b2 * v - a2 * out
            y[i] = out


@nb.njit(cache=True)
def _biquads_lanes(
    sos: npt.NDArray[np.float64],
    zi_unit: npt.NDArray[np.float64],
    w: npt.NDArray[np.float64],
    reverse: bool,
) -> None:
    """:func:`_biquads` of each column of ``w`` (``[samples, lanes]``) at once.

    The biquad recursion is a chain of dependent multiply-adds: one signal at a time waits on
    it at every sample. Running several beats' spans side by side keeps the processor busy;
    each lane does exactly the operations of :func:`_biquads`, so the results are identical.
    """
    n, lanes = w.shape
    e = n - 1 if reverse else 0
    step = -1 if reverse else 1
    first = w[e].copy()
    z0 = np.empty(lanes)
    z1 = np.empty(lanes)
    for s in range(sos.shape[0]):
        b0, b1, b2 = sos[s, 0], sos[s, 1], sos[s, 2]
        a1, a2 = sos[s, 4], sos[s, 5]
        for lane in range(lanes):
            z0[lane] = zi_unit[s, 0] * first[lane]
            z1[lane] = zi_unit[s, 1] * first[lane]
        i = e
        for _ in range(n):
            row = w[i]
            for lane in range(lanes):
                v = row[lane]
                out = b0 * v + z0[lane]
                z0[lane] = b1 * v - a1 * out + z1[lane]
                z1[lane] = b2 * v - a2 * out
                row[lane] = out
            i += step


@nb.njit(cache=True)
def _simple_metrics(
    x: npt.NDArray[np.float64],
    block: int,
    long_run: int,
    min_run: int,
    filled: npt.NDArray[np.float64],
    m: npt.NDArray[np.float64],
) -> bool:
    """The indices of a span ``x`` but ``qrs_snr`` into ``m``; where samples are missing
    (``m[M_NAN] > 0``), the span filled into ``filled``. Returns whether the band-passed
    and spectral indices are to be computed (some range and at least 8 samples), as the
    quality gate does."""
    n = x.size
    m[M_NAN] = 1.0
    m[M_CONSTANT] = 0.0
    m[M_PTP] = 0.0
    m[M_CLIP] = 0.0
    m[M_HF] = np.nan
    m[M_SNR] = 0.0
    if n == 0:
        return False
    missing = _fill(x, filled)
    m[M_NAN] = 1.0 - (n - missing) / n
    if missing == n:
        return False
    f = filled[:n] if missing else x
    # The largest range of a 0.25 s block (the last block may be shorter), and the
    # span's extremes, which are its blocks'.
    ptp = 0.0
    top = bottom = f[0]
    for a in range(0, n, block):
        # Two interleaved pairs of running extremes, for the same reason as in _sum.
        lo_b = hi_b = lo2 = hi2 = f[a]
        b = min(a + block, n)
        i = a + 1
        while i + 2 <= b:
            lo_b = min(lo_b, f[i])
            hi_b = max(hi_b, f[i])
            lo2 = min(lo2, f[i + 1])
            hi2 = max(hi2, f[i + 1])
            i += 2
        if i < b:
            lo_b = min(lo_b, f[i])
            hi_b = max(hi_b, f[i])
        lo_b = min(lo_b, lo2)
        hi_b = max(hi_b, hi2)
        ptp = max(ptp, hi_b - lo_b)
        top = max(top, hi_b)
        bottom = min(bottom, lo_b)
    # Exactly constant runs: a run of k equal samples is k - 1 zero differences. Without
    # branches: quantised samples repeat often and at random, which a branch mispredicts.
    constant = 0
    run = 1
    for i in range(1, n):
        same = 1 if f[i] == f[i - 1] else 0
        constant += run * (1 - same) * (1 if run >= long_run else 0)
        run = run * same + 1
    if run >= long_run:
        constant += run
    m[M_CONSTANT] = constant / n
    m[M_PTP] = ptp
    # Runs at the extremes of 10 ms to 0.5 s: clipping.
    if top != bottom:
        tol = 1e-6 * (top - bottom)
        hi = top - tol
        lo = bottom + tol
        clipped = 0
        run = 0
        for i in range(n):
            if f[i] >= hi or f[i] <= lo:
                run += 1
            else:
                if min_run <= run < long_run:
                    clipped += run
                run = 0
        if min_run <= run < long_run:
            clipped += run
        m[M_CLIP] = clipped / n
    return ptp > 0 and n >= 8


@nb.njit(cache=True)
def _snr(c: npt.NDArray[np.float64], k: int, half: int) -> float:
    """The largest magnitude of the band-passed span ``c`` within ``half`` of ``k`` over
    its mean magnitude (0 where the mean is 0)."""
    n = c.size
    base = _sum(c, True) / n
    a = max(k - half, 0)
    b = min(k + half + 1, n)
    if b <= a or not base > 0:
        return 0.0
    near = 0.0
    for i in range(a, b):
        near = max(near, abs(c[i]))
    return near / base


#: Beats band-passed side by side (see :func:`_biquads_lanes`).
LANES = 8


@nb.njit(cache=True)
def batch_metrics(
    buf: npt.NDArray[np.float64],
    start: int,
    n_total: int,
    rs: npt.NDArray[np.int64],
    params: npt.NDArray[np.int64],
    sos: npt.NDArray[np.float64],
    zi_unit: npt.NDArray[np.float64],
    window: npt.NDArray[np.float64],
    m: npt.NDArray[np.float64],
    rows: npt.NDArray[np.float32],
    sizes: npt.NDArray[np.int64],
) -> None:
    """The gate's indices of the beats at R peaks ``rs``, whose samples lie in ``buf`` from
    the stream index ``start`` on (``n_total`` samples seen so far); ``params`` holds the
    ``P_*`` lengths.

    ``m[j]`` gets beat ``j``'s indices (columns ``M_*``). Where ``hf_ratio`` is to be
    computed, ``sizes[j]`` is the span's length and ``rows[j, :sizes[j]]`` its filled
    samples centred and multiplied by a Hann window (``window`` for a full span of ``pre +
    post`` samples), ready for the periodogram; ``sizes[j]`` is 0 where it is not. The rows
    are single precision: the ratio of two band powers needs no more, and the FFT of half
    the bytes is about twice as fast.
    """
    pre, post, half = params[P_PRE], params[P_POST], params[P_HALF]
    block, long_run, min_run = params[P_BLOCK], params[P_LONG_RUN], params[P_MIN_RUN]
    full = pre + post
    lanes = np.empty((full, LANES))
    waiting = np.empty(LANES, np.int64)
    peaks = np.empty(LANES, np.int64)
    filled = np.empty(full)
    count = 0
    for j in range(rs.size):
        r = rs[j]
        a0 = max(r - pre, 0, start)
        a = a0 - start
        b = max(min(r + post, n_total) - start, a)
        sizes[j] = 0
        if not _simple_metrics(buf[a:b], block, long_run, min_run, filled, m[j]):
            continue
        n = b - a
        sizes[j] = n
        f = filled[:n] if m[j, M_NAN] > 0 else buf[a:b]
        mean = _sum(f, False) / n
        if n < full:
            # A span cut at the stream's start: on its own, with its own window (the
            # formula of np.hanning).
            for i in range(n):
                w = 0.5 - 0.5 * np.cos(2.0 * np.pi * i / (n - 1))
                rows[j, i] = (f[i] - mean) * w
            c = f.copy()
            _biquads(sos, zi_unit, c, False)
            _biquads(sos, zi_unit, c, True)
            m[j, M_SNR] = _snr(c, r - a0, half)
            continue
        for i in range(full):
            rows[j, i] = (f[i] - mean) * window[i]
        lanes[:, count] = f
        waiting[count] = j
        peaks[count] = r - a0
        count += 1
        if count == LANES:
            _band_pass_lanes(sos, zi_unit, lanes, count, waiting, peaks, half, m)
            count = 0
    if count:
        _band_pass_lanes(sos, zi_unit, lanes, count, waiting, peaks, half, m)


@nb.njit(cache=True)
def _band_pass_lanes(
    sos: npt.NDArray[np.float64],
    zi_unit: npt.NDArray[np.float64],
    lanes: npt.NDArray[np.float64],
    count: int,
    waiting: npt.NDArray[np.int64],
    peaks: npt.NDArray[np.int64],
    half: int,
    m: npt.NDArray[np.float64],
) -> None:
    """The zero-phase band-pass and ``qrs_snr`` of the ``count`` spans waiting in ``lanes``."""
    w = lanes[:, :count]
    _biquads_lanes(sos, zi_unit, w, False)
    _biquads_lanes(sos, zi_unit, w, True)
    for lane in range(count):
        m[waiting[lane], M_SNR] = _snr(w[:, lane].copy(), peaks[lane], half)


@nb.njit(cache=True)
def band_ratios(
    spectrum: npt.NDArray[np.complex64],
    q0: int,
    q1: int,
    h0: int,
    h1: int,
    out: npt.NDArray[np.float64],
) -> None:
    """``hf_ratio`` of each row of an rFFT ``spectrum``: the power of bins ``h0 .. h1 - 1``
    over that of ``q0 .. q1 - 1``, summed in double precision; with no power in the second
    band, infinite if there is any in the first, else NaN (the quality module's rules)."""
    for j in range(spectrum.shape[0]):
        qrs = 0.0
        for k in range(q0, q1):
            v = spectrum[j, k]
            qrs += float(v.real) ** 2 + float(v.imag) ** 2
        high = 0.0
        for k in range(h0, h1):
            v = spectrum[j, k]
            high += float(v.real) ** 2 + float(v.imag) ** 2
        if qrs > 0:
            out[j] = high / qrs
        else:
            out[j] = np.inf if high > 0 else np.nan
