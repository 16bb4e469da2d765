"""Signal quality of every sliding window at the cost of one pass: per-second sums, combined.

:func:`cardiostream.dsp.signal_quality` judges a 10 s window from scratch (an FFT, zero-phase
filters, run searches): about 0.6 ms a window, far too slow to redo every second. The
streaming engine computes the same kinds of indices from sufficient statistics of each
one-second block instead, kept for the last ``window_s`` blocks, so a window costs a few
additions. The reasons are those of :data:`cardiostream.dsp.REASONS`, the thresholds those of
:class:`cardiostream.dsp.QualityConfig`, and the score the same product of ramps; how each
index is obtained differs where a whole-window computation does not stream:

``nan_fraction``, ``flat_fraction``
    As in :mod:`cardiostream.dsp.quality`, on the raw input (share of missing samples; share of
    1 s blocks whose peak-to-peak range is under 0.1 mV).
``constant_fraction`` (lead off)
    Samples in runs of exactly equal values lasting 0.5 s or more, as in the quality module;
    a run is only known to be long once it has lasted 0.5 s, so its first 0.5 s are booked to
    the second in which that happens (at most that second's length). A window is also
    ``lead_off`` when one of its seconds is at least :data:`LEAD_OFF_BLOCK` such samples: a
    whole second of one exact value is no ECG, and this flags a lead-off within a second or
    two of its start (the share rule needs 2 s of it in the window) and keeps the windows
    that still hold a second of it after the lead returns from giving a heart rate.
``clip_fraction``
    Samples in runs of equal values of 10 ms (and 3 samples) to 0.5 s at the highest or lowest
    such run value of their block, when that is the block's maximum or minimum.
``hf_ratio``, ``bw_ratio``
    Power ratios from causal order-2 Butterworth filters on the signal resampled to 250 Hz
    instead of an FFT: 40 Hz high-pass over 5-15 Hz band-pass (QRS band), and the variance of
    a 0.5 Hz low-pass over itself plus that of the cleaned 0.5-40 Hz signal (the power below
    40 Hz).
``kurtosis``
    Of the cleaned (0.5-40 Hz) signal, from its first four power sums.
``qrs_snr``, ``beat_rate_bpm``
    From the R-peak detector's beats: the median height of the beats (the largest cleaned
    magnitude within 40 ms of each) over the window's mean absolute amplitude, and the beat
    count over the window's length. Its thresholds are :data:`STREAM_CONFIG`'s.

The blocks are seconds of the stream (input sample ``i`` is in block ``floor(i / fs)``), the
same seconds as the network's frames, so a window's quality and its rhythm verdict cover the
same span.
"""

from __future__ import annotations

from dataclasses import replace

import numba
import numpy as np
import numpy.typing as npt

from cardiostream.dsp.quality import DEFAULT_CONFIG, REASONS, QualityConfig

FloatArray = npt.NDArray[np.float64]

#: The thresholds of the streaming indices: those of the quality module, except for the beat
#: amplitude ratio (median R height over mean absolute amplitude), which runs lower than the
#: energy ratio there. On every other 10 s window of 24 MITDB records (lead 0) its median is
#: 7.5 and its 1st percentile 2.85; in the 0 dB noise stretches of NSTDB record 118e00 its
#: median is 2.5 and its 75th percentile 2.78, at 12 dB its 5th percentile 3.0.
STREAM_CONFIG = replace(DEFAULT_CONFIG, qrs_snr_good=4.5, qrs_snr_min=2.75)

# Columns of an input block row (the range is -1 for a block without a finite sample: it
# is missing, not flat).
B_N, B_MISSING, B_PTP, B_CONST, B_CLIP = range(5)
N_BLOCK = 5
# Columns of a frame row (sums over the 250 samples of a second at 250 Hz).
(
    F_VALID,
    F_QRS,
    F_HF,
    F_LOW_S1,
    F_LOW_S2,
    F_C1,
    F_C2,
    F_C3,
    F_C4,
    F_ABS,
) = range(10)
N_FRAME = 10
# The carried state of the input-block kernel.
(
    S_RUN_VAL,
    S_RUN_LEN,
    S_BLOCK,
    S_N,
    S_MISSING,
    S_MAX,
    S_MIN,
    S_CONST,
    S_HI_VAL,
    S_HI_N,
    S_LO_VAL,
    S_LO_N,
) = range(12)
N_STATE = 12

#: Share of a second's samples in long constant runs from which the window is ``lead_off``.
LEAD_OFF_BLOCK = 0.9

#: Metrics of a window, in the order of :func:`window_metrics`' columns.
METRICS = (
    "nan_fraction",
    "constant_fraction",
    "flat_fraction",
    "clip_fraction",
    "hf_ratio",
    "bw_ratio",
    "kurtosis",
    "qrs_snr",
    "beat_rate_bpm",
)


def initial_block_state() -> FloatArray:
    """State of the input-block kernel before the first sample."""
    st = np.zeros(N_STATE, np.float64)
    st[S_RUN_VAL] = np.nan
    _clear_block(st, 0)
    return st


@numba.njit(cache=True)
def _clear_block(st: FloatArray, block: int) -> None:  # pragma: no cover - compiled
    st[S_BLOCK] = block
    st[S_N] = 0.0
    st[S_MISSING] = 0.0
    st[S_MAX] = -np.inf
    st[S_MIN] = np.inf
    st[S_CONST] = 0.0
    st[S_HI_VAL] = -np.inf
    st[S_HI_N] = 0.0
    st[S_LO_VAL] = np.inf
    st[S_LO_N] = 0.0


@numba.njit(cache=True)
def _end_run(st: FloatArray, min_run: int, long_run: int) -> None:  # pragma: no cover
    """Book a finished run of equal values as a clipping candidate of the current block."""
    n = st[S_RUN_LEN]
    if n < min_run or n >= long_run:
        return
    v = st[S_RUN_VAL]
    tol = 1e-6 * max(st[S_MAX] - st[S_MIN], 0.0) if st[S_MAX] >= st[S_MIN] else 0.0
    if v > st[S_HI_VAL] + tol:
        st[S_HI_VAL], st[S_HI_N] = v, n
    elif abs(v - st[S_HI_VAL]) <= tol:
        st[S_HI_N] += n
    if v < st[S_LO_VAL] - tol:
        st[S_LO_VAL], st[S_LO_N] = v, n
    elif abs(v - st[S_LO_VAL]) <= tol:
        st[S_LO_N] += n


@numba.njit(cache=True)
def input_blocks(
    x: FloatArray,
    i0: int,
    up: int,
    den: int,
    min_run: int,
    long_run: int,
    st: FloatArray,
    out: FloatArray,
) -> int:  # pragma: no cover - compiled
    """Accumulate raw samples ``x`` (global indices from ``i0``) into one-second blocks.

    Sample ``i`` is in block ``(i * up) // den`` (``den = 250 * down`` for a stream resampled
    by ``up / down`` to 250 Hz). Each block that ends in ``x`` is written as a row of ``out``
    (``[n, n_missing, ptp, n_constant, n_clip]``); returns the number of rows written.
    """
    rows = 0
    for t in range(x.size):
        i = i0 + t
        v = x[t]
        st[S_N] += 1.0
        if not np.isfinite(v):
            st[S_MISSING] += 1.0
            _end_run(st, min_run, long_run)
            st[S_RUN_VAL], st[S_RUN_LEN] = np.nan, 0.0
        else:
            st[S_MAX] = max(st[S_MAX], v)
            st[S_MIN] = min(st[S_MIN], v)
            if v == st[S_RUN_VAL]:
                st[S_RUN_LEN] += 1.0
                if st[S_RUN_LEN] == long_run:
                    st[S_CONST] += long_run
                elif st[S_RUN_LEN] > long_run:
                    st[S_CONST] += 1.0
            else:
                _end_run(st, min_run, long_run)
                st[S_RUN_VAL], st[S_RUN_LEN] = v, 1.0
        if ((i + 1) * up) // den != st[S_BLOCK]:
            r = out[rows]
            r[B_N] = st[S_N]
            r[B_MISSING] = st[S_MISSING]
            r[B_PTP] = st[S_MAX] - st[S_MIN] if st[S_MAX] >= st[S_MIN] else -1.0
            r[B_CONST] = min(st[S_CONST], st[S_N])
            clip = 0.0
            tol = 1e-6 * max(r[B_PTP], 0.0)
            high = st[S_HI_N] > 0 and st[S_HI_VAL] >= st[S_MAX] - tol
            if high:
                clip += st[S_HI_N]
            # One run can be both the highest and the lowest (a block with a single run).
            low = st[S_LO_N] > 0 and st[S_LO_VAL] <= st[S_MIN] + tol
            if low and not (high and st[S_LO_VAL] == st[S_HI_VAL]):
                clip += st[S_LO_N]
            r[B_CLIP] = min(clip, st[S_N])
            rows += 1
            _clear_block(st, ((i + 1) * up) // den)
    return rows


@numba.njit(cache=True)
def frame_sums(
    raw: FloatArray,
    clean: FloatArray,
    qrs: FloatArray,
    high: FloatArray,
    low: FloatArray,
    out: FloatArray,
) -> None:  # pragma: no cover - compiled
    """Per-frame sums (``out`` rows, see the ``F_*`` columns) of whole 250-sample frames.

    A sample counts when both the resampled and the cleaned value are finite.
    """
    for f in range(out.shape[0]):
        r = out[f]
        r[:] = 0.0
        for t in range(f * 250, (f + 1) * 250):
            c = clean[t]
            if not (np.isfinite(raw[t]) and np.isfinite(c)):
                continue
            r[F_VALID] += 1.0
            r[F_QRS] += qrs[t] * qrs[t]
            r[F_HF] += high[t] * high[t]
            r[F_LOW_S1] += low[t]
            r[F_LOW_S2] += low[t] * low[t]
            c2 = c * c
            r[F_C1] += c
            r[F_C2] += c2
            r[F_C3] += c2 * c
            r[F_C4] += c2 * c2
            r[F_ABS] += abs(c)


@numba.njit(cache=True)
def window_metrics(
    blocks: FloatArray,
    frames: FloatArray,
    starts: npt.NDArray[np.int64],
    width: int,
    flat_ptp: float,
    beat_counts: FloatArray,
    beat_amp: FloatArray,
    has_hf: bool,
    out: FloatArray,
    const_block: FloatArray,
) -> None:  # pragma: no cover - compiled
    """The :data:`METRICS` of windows of ``width`` blocks: window ``w`` (row of ``out``) is made
    of rows ``starts[w] .. starts[w] + width - 1`` of ``blocks`` and ``frames``;
    ``beat_counts[w]`` and ``beat_amp[w]`` are its beat count and median beat amplitude (mV).
    ``const_block[w]`` is the largest share of long-constant samples of one of its blocks.
    Each window's sums run in the same order however many windows one call computes."""
    acc = np.zeros(N_FRAME)
    for w in range(out.shape[0]):
        n = miss = const = clip = flat = top = 0.0
        acc[:] = 0.0
        for b in range(starts[w], starts[w] + width):
            n += blocks[b, B_N]
            miss += blocks[b, B_MISSING]
            const += blocks[b, B_CONST]
            if blocks[b, B_N] > 0:
                top = max(top, blocks[b, B_CONST] / blocks[b, B_N])
            clip += blocks[b, B_CLIP]
            if 0.0 <= blocks[b, B_PTP] < flat_ptp:
                flat += 1.0
            for c in range(N_FRAME):
                acc[c] += frames[b, c]
        o = out[w]
        o[0] = miss / n
        o[1] = const / n
        o[2] = flat / width
        o[3] = clip / n
        m = acc[F_VALID]
        o[4] = o[5] = o[6] = o[7] = np.nan
        if m >= 2.0:
            if has_hf:
                o[4] = acc[F_HF] / acc[F_QRS] if acc[F_QRS] > 0 else np.nan
            var_low = max(acc[F_LOW_S2] / m - (acc[F_LOW_S1] / m) ** 2, 0.0)
            mu = acc[F_C1] / m
            e2, e3, e4 = acc[F_C2] / m, acc[F_C3] / m, acc[F_C4] / m
            var = max(e2 - mu * mu, 0.0)
            if var_low + var > 0:
                o[5] = var_low / (var_low + var)
            if var > 1e-12:
                m4 = e4 - 4.0 * mu * e3 + 6.0 * mu * mu * e2 - 3.0 * mu**4
                o[6] = m4 / (var * var)
            mean_abs = acc[F_ABS] / m
            if beat_counts[w] > 0:
                o[7] = beat_amp[w] / mean_abs if mean_abs > 0 else np.inf
            else:
                o[7] = 0.0
        o[8] = 60.0 * beat_counts[w] / width
        const_block[w] = top


@numba.njit(cache=True)
def _judge(
    metrics: FloatArray,
    goods: FloatArray,
    limits: FloatArray,
    const_block: FloatArray,
    score: FloatArray,
    flags: npt.NDArray[np.bool_],
) -> None:  # pragma: no cover - compiled
    """Scores (product of ramps; NaN scores 1) and flags of :data:`REASONS` for each row."""
    for w in range(metrics.shape[0]):
        m = metrics[w]
        total = 1.0
        for i in range(m.size):
            v = m[i]
            if v == v:
                r = 1.0 - 0.5 * (v - goods[i]) / (limits[i] - goods[i])
                total *= min(max(r, 0.0), 1.0)
        score[w] = total
        f = flags[w]
        f[0] = False  # too_short: windows are never shorter than 10 s
        f[1] = m[0] > limits[0]
        f[2] = m[1] > limits[1] or const_block[w] >= LEAD_OFF_BLOCK
        f[3] = m[2] >= limits[2]
        f[4] = m[3] > limits[3]
        f[5] = m[4] > limits[4]
        f[6] = m[5] > limits[5]
        f[7] = m[8] < limits[8] or m[7] < limits[7]


def judge_windows(
    metrics: FloatArray,
    config: QualityConfig | None = None,
    const_block: FloatArray | None = None,
) -> tuple[npt.NDArray[np.bool_], FloatArray, npt.NDArray[np.bool_]]:
    """Verdicts of many windows at once (as :func:`cardiostream.dsp.quality.judge`): each
    metric's sub-score falls from 1 at its "good" value through 0.5 at its threshold, the
    score is their product, and a metric past its threshold flags its reason; a window whose
    ``const_block`` (from :func:`window_metrics`) reaches :data:`LEAD_OFF_BLOCK` is
    ``lead_off`` too.

    Returns
    -------
    usable : ndarray of bool, shape (n,)
    score : ndarray of float, shape (n,)
    flags : ndarray of bool, shape (n, len(REASONS))
        Which of :data:`REASONS` each window is flagged for.
    """
    cfg = config or STREAM_CONFIG
    goods = np.array(
        [0.0, 0.0, 0.0, 0.0, cfg.hf_good, cfg.bw_good, cfg.kurtosis_good, cfg.qrs_snr_good,
         cfg.rate_good_bpm]
    )  # fmt: skip
    limits = np.array(
        [cfg.nan_max, cfg.constant_max, cfg.flat_max, cfg.clip_max, cfg.hf_max, cfg.bw_max,
         cfg.kurtosis_min, cfg.qrs_snr_min, cfg.rate_min_bpm]
    )  # fmt: skip
    m = np.ascontiguousarray(metrics, np.float64)
    score = np.empty(m.shape[0])
    flags = np.zeros((m.shape[0], len(REASONS)), np.bool_)
    blocks = (
        np.zeros(m.shape[0]) if const_block is None else np.ascontiguousarray(const_block, float)
    )
    _judge(m, goods, limits, blocks, score, flags)
    usable = np.logical_not(np.any(flags, axis=1))
    return usable, score, flags
