"""The compiled per-beat core of the quality gate and of the pacing-spike detector.

:class:`cardiostream.beats.gate.BeatQualityGate` computed its indices per beat with a dozen
numpy and scipy calls on a 2 s span: the work was small, the call overhead was not (about
0.4 ms a beat). These kernels do the same arithmetic in one compiled pass per beat, with the
same definitions as :mod:`cardiostream.dsp.quality` (missing samples filled by linear
interpolation, runs of equal samples and of samples at the extremes, 0.25 s block ranges,
the forward-backward 0.5-40 Hz band-pass started in the steady state of its first sample).
The spectrum of ``hf_ratio`` is scipy's FFT, batched over the beats, where many are judged
at once; for a live push's few beats it is the DFT at the two bands' bins
(:func:`dft_ratio`), and :func:`judge_few` does all of the gate's work, down to the
reasons as integer codes, in one call.
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
def _biquads_fused(
    sos: npt.NDArray[np.float64],
    zi_unit: npt.NDArray[np.float64],
    y: npt.NDArray[np.float64],
    reverse: bool,
) -> None:
    """Filter ``y`` in place (forwards or backwards), each section started in the steady
    state of the signal's first sample: the same operations on each value as
    ``dsp._kernels.sos_kernel`` on a finite signal, so the result is the quality module's. A
    sample goes through all sections at once, so that their recursions overlap instead of
    waiting one on the other."""
    n = y.size
    sections = sos.shape[0]
    first = y[n - 1] if reverse else y[0]
    z0 = np.empty(sections)
    z1 = np.empty(sections)
    for s in range(sections):
        z0[s] = zi_unit[s, 0] * first
        z1[s] = zi_unit[s, 1] * first
    for t in range(n):
        i = n - 1 - t if reverse else t
        v = y[i]
        for s in range(sections):
            out = sos[s, 0] * v + z0[s]
            z0[s] = sos[s, 1] * v - sos[s, 4] * out + z1[s]
            z1[s] = sos[s, 2] * v - sos[s, 5] * out
            v = out
        y[i] = v


@nb.njit(cache=True)
def _biquads_lanes(
    sos: npt.NDArray[np.float64],
    zi_unit: npt.NDArray[np.float64],
    w: npt.NDArray[np.float64],
    lanes: int,
    reverse: bool,
) -> None:
    """:func:`_biquads_fused` of each of the first ``lanes`` columns of ``w`` (``[samples,
    LANES]``) at once.

    The biquad recursion is a chain of dependent multiply-adds: one signal at a time waits on
    it at every sample. Running several beats' spans side by side keeps the processor busy;
    each lane does exactly the operations of :func:`_biquads_fused`, so the results are
    identical. A cascade of two sections (the gate's band-pass) takes each sample through
    both at once, which overlaps their recursions too.
    """
    n = w.shape[0]
    e = n - 1 if reverse else 0
    step = -1 if reverse else 1
    sections = sos.shape[0]
    z0 = np.empty((sections, LANES))
    z1 = np.empty((sections, LANES))
    for s in range(sections):
        for lane in range(lanes):
            z0[s, lane] = zi_unit[s, 0] * w[e, lane]
            z1[s, lane] = zi_unit[s, 1] * w[e, lane]
    if sections == 2:
        b00, b01, b02, a01, a02 = sos[0, 0], sos[0, 1], sos[0, 2], sos[0, 4], sos[0, 5]
        b10, b11, b12, a11, a12 = sos[1, 0], sos[1, 1], sos[1, 2], sos[1, 4], sos[1, 5]
        i = e
        for _ in range(n):
            for lane in range(lanes):
                v = w[i, lane]
                u = b00 * v + z0[0, lane]
                z0[0, lane] = b01 * v - a01 * u + z1[0, lane]
                z1[0, lane] = b02 * v - a02 * u
                out = b10 * u + z0[1, lane]
                z0[1, lane] = b11 * u - a11 * out + z1[1, lane]
                z1[1, lane] = b12 * u - a12 * out
                w[i, lane] = out
            i += step
        return
    for s in range(sections):
        b0, b1, b2 = sos[s, 0], sos[s, 1], sos[s, 2]
        a1, a2 = sos[s, 4], sos[s, 5]
        i = e
        for _ in range(n):
            for lane in range(lanes):
                v = w[i, lane]
                out = b0 * v + z0[s, lane]
                z0[s, lane] = b1 * v - a1 * out + z1[s, lane]
                z1[s, lane] = b2 * v - a2 * out
                w[i, lane] = out
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
    flat_block = False
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
        if b - a == block and not hi_b - lo_b > 0:
            flat_block = True
        top = max(top, hi_b)
        bottom = min(bottom, lo_b)
    # Exactly constant runs: a run of k equal samples is k - 1 zero differences. Without
    # branches: quantised samples repeat often and at random, which a branch mispredicts.
    # A run of at least 2 block - 1 equal samples holds a whole block, whose range is then 0:
    # where no block is flat, there is no such run to count (and its serial loop is skipped).
    constant = 0
    if flat_block or long_run < 2 * block - 1:
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

#: Calls with fewer beats band-pass each on its own (:func:`_biquads_fused`).
SOLO_BELOW = 4


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
    # A few beats (a live push) are filtered one by one: lanes only pay with enough of them.
    solo = rs.size < SOLO_BELOW
    lanes = np.empty((0 if solo else full, LANES))
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
            _biquads_fused(sos, zi_unit, c, False)
            _biquads_fused(sos, zi_unit, c, True)
            m[j, M_SNR] = _snr(c, r - a0, half)
            continue
        for i in range(full):
            rows[j, i] = (f[i] - mean) * window[i]
        if solo:
            c = f.copy()
            _biquads_fused(sos, zi_unit, c, False)
            _biquads_fused(sos, zi_unit, c, True)
            m[j, M_SNR] = _snr(c, r - a0, half)
            continue
        for i in range(full):
            lanes[i, count] = f[i]
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
    _biquads_lanes(sos, zi_unit, lanes, count, False)
    _biquads_lanes(sos, zi_unit, lanes, count, True)
    c = np.empty(lanes.shape[0])
    for lane in range(count):
        for i in range(c.size):
            c[i] = lanes[i, lane]
        m[waiting[lane], M_SNR] = _snr(c, peaks[lane], half)


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


#: The float parameters of :func:`judge_few` (the thresholds of the tests, in their order).
T_NAN = 0
T_CONSTANT = 1
T_FLAT = 2
T_CLIP = 3
T_HF = 4
T_SNR = 5
N_THRESHOLDS = 6

#: The reason codes of :func:`judge_few`: 0 usable, then the tests in their order.
R_NONE = 0
R_NAN = 1
R_CONSTANT = 2
R_FLAT = 3
R_CLIP = 4
R_HF = 5
R_SNR = 6


@nb.njit(cache=True)
def append_samples(
    buf: npt.NDArray[np.float64], size: int, keep: int, x: npt.NDArray[np.float64]
) -> int:
    """Keep the last ``keep`` of the ``size`` samples in ``buf``, moved to its start, and
    append ``x`` after them, non-finite samples as NaN; return the new count.

    ``buf`` must hold ``min(size, keep) + x.size`` samples.
    """
    kept = min(size, keep)
    shift = size - kept
    if shift > 0:
        for i in range(kept):  # forwards: the target lies before the source
            buf[i] = buf[shift + i]
    for i in range(x.size):
        v = x[i]
        buf[kept + i] = v if np.isfinite(v) else np.nan
    return kept + x.size


@nb.njit(cache=True, fastmath=True)
def dft_ratio(
    xw: npt.NDArray[np.float32],
    twiddle: npt.NDArray[np.float32],
    phase: npt.NDArray[np.float32],
    n_qrs: int,
    acc: npt.NDArray[np.float32],
) -> float:
    """``hf_ratio`` of one full span ``xw`` (centred and windowed) from its DFT at the bins
    of the two bands only (first the ``n_qrs`` of 5-15 Hz, then those of 40-100 Hz).

    The span is cut into blocks of ``B`` samples: ``X[k] = sum_b phase[b, k] * sum_j
    x[b B + j] twiddle[j, k]`` (:func:`dft_tables`), the bins side by side so that it
    vectorises; the tables are some 50 KiB at 250 Hz where one of every bin and sample would
    be 0.5 MiB, read from memory at every beat. ``acc`` is scratch of ``4 K`` values for
    ``K`` bins. Single precision, reassociated: about 1e-6 relative, as the FFT in single
    precision. The rules of :func:`band_ratios` for a band without power.
    """
    block = twiddle.shape[0]
    k2 = twiddle.shape[1]  # cosines then sines of the K bins
    bins = k2 // 2
    n = xw.size
    y = acc[:k2]
    x_acc = acc[k2:]
    x_acc[:] = 0.0
    for b in range(phase.shape[0]):
        y[:] = 0.0
        o = b * block
        m = min(block, n - o)
        j = 0
        while j + 4 <= m:  # four samples a pass over y: fewer loads and stores of it
            v0, v1, v2, v3 = xw[o + j], xw[o + j + 1], xw[o + j + 2], xw[o + j + 3]
            t0, t1, t2, t3 = twiddle[j], twiddle[j + 1], twiddle[j + 2], twiddle[j + 3]
            for k in range(k2):
                y[k] += (v0 * t0[k] + v1 * t1[k]) + (v2 * t2[k] + v3 * t3[k])
            j += 4
        for i in range(j, m):
            v = xw[o + i]
            t = twiddle[i]
            for k in range(k2):
                y[k] += v * t[k]
        for k in range(bins):
            pr = phase[b, k]
            pi = phase[b, bins + k]
            yr = y[k]
            yi = y[bins + k]
            x_acc[k] += pr * yr - pi * yi
            x_acc[bins + k] += pr * yi + pi * yr
    qrs = 0.0
    high = 0.0
    for k in range(bins):
        p = float(x_acc[k]) ** 2 + float(x_acc[bins + k]) ** 2
        if k < n_qrs:
            qrs += p
        else:
            high += p
    if qrs > 0:
        return high / qrs
    return np.inf if high > 0 else np.nan


def dft_tables(
    n: int, bins: npt.NDArray[np.int64]
) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]]:
    """The tables of :func:`dft_ratio` for a span of ``n`` samples and the rFFT ``bins``:
    ``twiddle[j]`` the cosines then sines of ``-2 pi k j / n`` for the ``B`` offsets ``j``
    in a block (``B`` about the square root of ``n``), ``phase[b]`` the same at the start
    ``b B`` of each block; computed in double precision with the phase reduced exactly."""
    block = max(int(np.ceil(np.sqrt(n))), 1)
    blocks = -(-n // block)

    def rotations(t: npt.NDArray[np.int64]) -> npt.NDArray[np.float32]:
        angle = (t[:, None] * bins[None, :]) % n * (-2.0 * np.pi / n)
        return np.concatenate([np.cos(angle), np.sin(angle)], axis=1).astype(np.float32)

    return rotations(np.arange(block)), rotations(np.arange(blocks) * block)


@nb.njit(cache=True)
def reason_code(m: npt.NDArray[np.float64], thresholds: npt.NDArray[np.float64]) -> int:
    """The first test that the indices ``m`` of a beat fail (``R_*``; NaN fails none)."""
    if m[M_NAN] > thresholds[T_NAN]:
        return R_NAN
    if m[M_CONSTANT] > thresholds[T_CONSTANT]:
        return R_CONSTANT
    if m[M_PTP] < thresholds[T_FLAT]:
        return R_FLAT
    if m[M_CLIP] > thresholds[T_CLIP]:
        return R_CLIP
    if m[M_HF] > thresholds[T_HF]:
        return R_HF
    if m[M_SNR] < thresholds[T_SNR]:
        return R_SNR
    return R_NONE


@nb.njit(cache=True)
def judge_few(
    buf: npt.NDArray[np.float64],
    start: int,
    n_total: int,
    rs: npt.NDArray[np.int64],
    params: npt.NDArray[np.int64],
    sos: npt.NDArray[np.float64],
    zi_unit: npt.NDArray[np.float64],
    window: npt.NDArray[np.float64],
    twiddle: npt.NDArray[np.float32],
    phase: npt.NDArray[np.float32],
    n_qrs: int,
    thresholds: npt.NDArray[np.float64],
    codes: npt.NDArray[np.int64],
) -> bool:
    """The reason codes (``R_*``) of the beats at ``rs`` into ``codes``, in one call: the
    indices of :func:`batch_metrics`, ``hf_ratio`` by :func:`dft_ratio` where no earlier
    test flags the beat (tables without bins: fs below 90 Hz, left NaN).

    Returns False, ``codes`` not complete, where a beat needing ``hf_ratio`` has a span cut
    at the stream's start: that one takes the FFT of its own length (the caller's).
    """
    full = params[P_PRE] + params[P_POST]
    m = np.empty((rs.size, N_METRICS))
    rows = np.empty((rs.size, max(full, 1)), np.float32)
    sizes = np.empty(rs.size, np.int64)
    batch_metrics(buf, start, n_total, rs, params, sos, zi_unit, window, m, rows, sizes)
    acc = np.empty(2 * twiddle.shape[1], np.float32)
    for j in range(rs.size):
        code = reason_code(m[j], thresholds)
        # hf_ratio still NaN: the code is R_SNR or R_NONE unless an earlier test flags it.
        if not R_NAN <= code <= R_CLIP and sizes[j] > 0 and twiddle.shape[1] > 0:
            if sizes[j] != full:
                return False
            m[j, M_HF] = dft_ratio(rows[j], twiddle, phase, n_qrs, acc)
            code = reason_code(m[j], thresholds)
        codes[j] = code
    return True
