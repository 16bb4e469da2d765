"""ECG signal quality: is a stretch of one lead good enough to analyse, and why not.

:func:`signal_quality` computes standard signal-quality indices (SQIs) on 10 s windows. Each
gives a sub-score in [0, 1] and, past its threshold, a reason from a fixed vocabulary:

====================  ==============================================================  =======
reason                metric (key in ``SignalQuality.metrics``)                       flagged
====================  ==============================================================  =======
missing_samples       ``nan_fraction``: share of non-finite samples                   > 0.1
lead_off              ``constant_fraction``: share of samples in runs of exactly      > 0.2
                      constant value lasting 0.5 s or more
flat                  ``flat_fraction``: share of 1 s blocks whose peak-to-peak       >= 0.5
                      range is below 0.1 mV
clipping              ``clip_fraction``: share of samples in runs of 10 ms (and 3     > 0.02
                      samples) or more, but under 0.5 s, at the window's max or min
high_frequency_noise  ``hf_ratio``: power 40-100 Hz over power 5-15 Hz (the QRS       > 0.5
                      band); NaN, never flagged, when fs < 90 Hz
baseline_wander       ``bw_ratio``: power below 0.5 Hz over power below 40 Hz         > 0.85
no_beats              ``beat_rate_bpm`` below 12 (fewer than 2 beats in 10 s), or     see left
                      ``qrs_snr`` below 4: QRS complexes do not stand out from the
                      background (with given R peaks too: they are then noise)
too_short             ``duration_s`` below 3 s (nothing else is computed)             < 3 s
====================  ==============================================================  =======

The kurtosis of the 0.5-40 Hz band-passed signal (``kurtosis``, the kSQI: > 5 for ECG, 3 for
Gaussian noise) lowers the score without naming a reason. Beats are counted from ``rpeaks``
when given, else by a small QRS-energy detector (8-20 Hz zero-phase band-pass, 100 ms mean of
the magnitude, peaks at least 250 ms apart and above 30 % of the 99th percentile), which also
gives ``qrs_snr``: the median height of its peaks over the median energy. This is an evidence
count, not an R-peak detector: use :mod:`cardiostream.beats` for beat positions.

Sub-scores fall linearly from 1 at a "good" value through 0.5 at the threshold to 0, and the
``score`` is their product (1 = clean). A window is ``usable`` when no reason is flagged.

The thresholds were set on real recordings so that about 99 % of the 10 s windows of the
MIT-BIH Arrhythmia Database (lead 0) are usable, while the MIT-BIH Noise Stress Test noise
records ``bw`` and ``ma`` are not, nor the noisy stretches of record 118 at 0 dB SNR (those at
12 and 24 dB are); about half of the windows of the CinC 2017 "noisy" class are flagged.
Amplitudes are in millivolts.

Whole signals
-------------
A signal up to 1.5 windows long is one window. A longer one is cut into consecutive windows
of ``window_s`` seconds, the remainder joining the last window. The result has ``score`` =
mean of the window scores, ``usable`` = at least half of the windows usable, ``reasons`` =
every reason flagged in at least a quarter of the windows (and, for an unusable signal, at
least the most frequent one), and ``metrics`` = the median of each window metric plus
``n_windows`` and ``usable_fraction``.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
from scipy import signal as sps

from cardiostream.dsp import _kernels
from cardiostream.errors import InputError

Reason = Literal[
    "flat",
    "lead_off",
    "clipping",
    "high_frequency_noise",
    "baseline_wander",
    "no_beats",
    "missing_samples",
    "too_short",
]

#: The reasons, in the order they are reported.
REASONS: tuple[Reason, ...] = (
    "too_short",
    "missing_samples",
    "lead_off",
    "flat",
    "clipping",
    "high_frequency_noise",
    "baseline_wander",
    "no_beats",
)

FloatArray = npt.NDArray[np.float64]

#: Lowest sampling rate (Hz) the SQIs are defined for (the QRS band reaches 20 Hz).
MIN_FS = 50.0

#: Peak-to-peak range (mV) below which a window is taken as constant.
_NO_SIGNAL_MV = 1e-6


@dataclass(frozen=True)
class QualityConfig:
    """Thresholds of the SQIs; each ``*_good`` value scores 1 and each threshold 0.5."""

    min_duration_s: float = 3.0
    nan_max: float = 0.1
    flat_ptp_mv: float = 0.1
    flat_max: float = 0.5
    constant_run_s: float = 0.5
    constant_max: float = 0.2
    clip_run_s: float = 0.01
    clip_max: float = 0.02
    hf_good: float = 0.1
    hf_max: float = 0.5
    bw_good: float = 0.5
    bw_max: float = 0.85
    kurtosis_good: float = 5.0
    kurtosis_min: float = 3.0
    qrs_snr_good: float = 8.0
    qrs_snr_min: float = 4.0
    rate_good_bpm: float = 30.0
    rate_min_bpm: float = 12.0


DEFAULT_CONFIG = QualityConfig()


@dataclass
class SignalQuality:
    """Quality of a window or a whole signal.

    Attributes
    ----------
    usable : bool
        Whether the stretch is good enough for beat and rhythm analysis.
    score : float
        In [0, 1]; 1 is clean.
    reasons : list of str
        Problems found, from :data:`REASONS`; empty for a usable window.
    metrics : dict of str to float
        The numbers behind the verdict (NaN where not computable).
    """

    usable: bool
    score: float
    reasons: list[str] = field(default_factory=list)
    metrics: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """The JSON form: ``{"usable": ..., "reasons": [...], "score": ...}``."""
        return {"usable": self.usable, "reasons": list(self.reasons), "score": self.score}


def _ramp(value: float, good: float, threshold: float) -> float:
    """1 at ``good``, 0.5 at ``threshold``, 0 as far again past it; either direction."""
    if np.isnan(value):
        return 1.0
    return float(np.clip(1.0 - 0.5 * (value - good) / (threshold - good), 0.0, 1.0))


@lru_cache(maxsize=32)
def _band_design(fs: float, low: float, high: float) -> tuple[FloatArray, FloatArray]:
    """Order-2 Butterworth band-pass sections and their unit steady state."""
    high = min(high, 0.45 * fs)
    sos = np.asarray(sps.butter(2, [low, high], btype="bandpass", fs=fs, output="sos"))
    return np.ascontiguousarray(sos), np.ascontiguousarray(sps.sosfilt_zi(sos))


def _zero_phase(x: FloatArray, fs: float, low: float, high: float) -> FloatArray:
    """Forward-backward Butterworth band-pass, each pass started in the steady state of its
    first sample (much cheaper than ``sosfiltfilt`` with its padding)."""
    sos, zi_unit = _band_design(fs, low, high)
    out = np.ascontiguousarray(x, dtype=np.float64).reshape(-1, 1)
    for _ in range(2):
        y = np.empty_like(out)
        zi = np.zeros((sos.shape[0], 2, 1))
        hold, started = np.zeros(1), np.zeros(1, dtype=np.bool_)
        _kernels.sos_kernel(sos, zi_unit, out, zi, hold, started, y)
        out = np.ascontiguousarray(y[::-1])
    return out[:, 0]


def _run_bounds(mask: npt.NDArray[np.bool_]) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.intp]]:
    """Start and end (exclusive) indices of the runs of True in ``mask``."""
    edges = np.diff(mask.astype(np.int8), prepend=np.int8(0), append=np.int8(0))
    return np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)


def _fill_missing(x: FloatArray) -> tuple[FloatArray, float]:
    finite = np.isfinite(x)
    nan_fraction = 1.0 - float(finite.mean())
    if nan_fraction == 0.0 or nan_fraction == 1.0:
        return x, nan_fraction
    idx = np.arange(x.size)
    filled = x.copy()
    filled[~finite] = np.interp(idx[~finite], idx[finite], x[finite])
    return filled, nan_fraction


def _flat_fraction(x: FloatArray, fs: float, cfg: QualityConfig) -> float:
    """Share of 1 s blocks (the remainder joins the last) with a tiny peak-to-peak range."""
    block = max(round(fs), 1)
    n_blocks = max(x.size // block, 1)
    head = x[: (n_blocks - 1) * block].reshape(n_blocks - 1, block)
    ptp = np.append(np.ptp(head, axis=1) if n_blocks > 1 else [], np.ptp(x[head.size :]))
    return float(np.mean(ptp < cfg.flat_ptp_mv))


def _run_fractions(x: FloatArray, fs: float, cfg: QualityConfig) -> tuple[float, float]:
    """Share of samples in long constant runs, and in shorter runs at the extremes."""
    n = x.size
    long_run = max(round(cfg.constant_run_s * fs), 2)
    # A run of k equal samples is k - 1 zero differences.
    starts, ends = _run_bounds(np.diff(x) == 0)
    lengths = ends - starts + 1
    constant = float(lengths[lengths >= long_run].sum()) / n
    top, bottom = x.max(), x.min()
    if top == bottom:
        return constant, 0.0
    tol = 1e-6 * (top - bottom)
    starts, ends = _run_bounds((x >= top - tol) | (x <= bottom + tol))
    lengths = ends - starts
    min_run = max(round(cfg.clip_run_s * fs), 3)
    short = lengths[(lengths >= min_run) & (lengths < long_run)]
    return constant, float(short.sum()) / n


def _spectral_ratios(x: FloatArray, fs: float) -> tuple[float, float]:
    """``hf_ratio`` (40-100 Hz over 5-15 Hz) and ``bw_ratio`` (< 0.5 Hz over < 40 Hz)."""
    xw = (x - x.mean()) * np.hanning(x.size)
    power = np.abs(np.fft.rfft(xw)) ** 2
    freqs = np.fft.rfftfreq(x.size, 1.0 / fs)

    def band(lo: float, hi: float) -> float:
        return float(power[(freqs >= lo) & (freqs < hi)].sum())

    qrs = band(5.0, 15.0)
    high = band(40.0, 100.0)
    if fs < 90:
        hf = float("nan")
    elif qrs > 0:
        hf = high / qrs
    else:
        hf = float("inf") if high > 0 else float("nan")
    total = band(1e-9, 40.0)
    bw = band(1e-9, 0.5) / total if total > 0 else float("nan")
    return hf, bw


def _kurtosis(x: FloatArray, fs: float) -> float:
    clean = _zero_phase(x, fs, 0.5, 40.0)
    centred = clean - clean.mean()
    sq = centred * centred
    var = float(np.mean(sq))
    if var <= 0:
        return float("nan")
    return float(np.mean(sq * sq) / var**2)


def qrs_energy_peaks(x: FloatArray, fs: float) -> tuple[npt.NDArray[np.intp], float]:
    """Count QRS-like events: the internal beat evidence used when no R peaks are given.

    Returns
    -------
    peaks : ndarray of int
        Sample indices of the energy peaks (not precise R-peak positions).
    qrs_snr : float
        Median peak energy over median energy (0 with no peaks).
    """
    q = _zero_phase(x, fs, 8.0, 20.0)
    width = max(round(0.1 * fs), 1)
    energy = np.convolve(np.abs(q), np.full(width, 1.0 / width), mode="same")
    k = int(0.99 * (energy.size - 1))
    top = float(np.partition(energy, k)[k])
    if top <= 0:
        return np.zeros(0, np.intp), 0.0
    peaks, _ = sps.find_peaks(energy, height=0.3 * top, distance=max(int(0.25 * fs), 1))
    base = float(np.median(energy))
    if peaks.size == 0:
        return peaks, 0.0
    snr = float(np.median(energy[peaks])) / base if base > 0 else float("inf")
    return peaks, snr


def window_quality(
    signal: npt.ArrayLike,
    fs: float,
    rpeaks: npt.ArrayLike | None = None,
    config: QualityConfig | None = None,
) -> SignalQuality:
    """Quality of one stretch of one lead taken as a single window (no splitting).

    Parameters
    ----------
    signal : array_like, shape (n,)
        One lead in mV; NaN marks missing samples.
    fs : float
        Sampling rate in Hz.
    rpeaks : array_like of int, optional
        R-peak sample indices relative to the start of ``signal``; when given they decide
        ``no_beats`` instead of the internal QRS-energy count.
    config : QualityConfig, optional
        Thresholds; :data:`DEFAULT_CONFIG` by default.
    """
    cfg = config or DEFAULT_CONFIG
    x, fs = _check_signal(signal, fs)
    n = x.size
    duration = n / fs
    metrics: dict[str, float] = {"duration_s": duration}
    if duration < cfg.min_duration_s:
        return SignalQuality(False, 0.0, ["too_short"], metrics)
    x, nan_fraction = _fill_missing(x)
    metrics["nan_fraction"] = nan_fraction
    if nan_fraction == 1.0:
        return SignalQuality(False, 0.0, ["missing_samples"], metrics)

    flat = _flat_fraction(x, fs, cfg)
    constant, clip = _run_fractions(x, fs, cfg)
    if np.ptp(x) > _NO_SIGNAL_MV:
        hf, bw = _spectral_ratios(x, fs)
        kurt = _kurtosis(x, fs)
        peaks, qrs_snr = qrs_energy_peaks(x, fs)
    else:  # a constant: ratios of rounding noise would mean nothing
        hf = bw = kurt = float("nan")
        peaks, qrs_snr = np.zeros(0, np.intp), 0.0
    if rpeaks is None:
        n_beats = int(peaks.size)
    else:
        r = np.asarray(rpeaks)
        n_beats = int(np.count_nonzero((r >= 0) & (r < n)))
    rate = 60.0 * n_beats / duration
    metrics.update(
        flat_fraction=flat,
        constant_fraction=constant,
        clip_fraction=clip,
        hf_ratio=hf,
        bw_ratio=bw,
        kurtosis=kurt,
        qrs_snr=qrs_snr,
        n_beats=float(n_beats),
        beat_rate_bpm=rate,
    )

    return judge(metrics, cfg)


def judge(metrics: dict[str, float], config: QualityConfig | None = None) -> SignalQuality:
    """Turn the metrics of one window into sub-scores, reasons and a verdict.

    Parameters
    ----------
    metrics : dict
        As computed by :func:`window_quality` (all keys present).
    config : QualityConfig, optional
        Thresholds.
    """
    cfg = config or DEFAULT_CONFIG
    m = metrics
    subs = [
        _ramp(m["nan_fraction"], 0.0, cfg.nan_max),
        _ramp(m["constant_fraction"], 0.0, cfg.constant_max),
        _ramp(m["flat_fraction"], 0.0, cfg.flat_max),
        _ramp(m["clip_fraction"], 0.0, cfg.clip_max),
        _ramp(m["hf_ratio"], cfg.hf_good, cfg.hf_max),
        _ramp(m["bw_ratio"], cfg.bw_good, cfg.bw_max),
        _ramp(m["kurtosis"], cfg.kurtosis_good, cfg.kurtosis_min),
        _ramp(m["qrs_snr"], cfg.qrs_snr_good, cfg.qrs_snr_min),
        _ramp(m["beat_rate_bpm"], cfg.rate_good_bpm, cfg.rate_min_bpm),
    ]
    flags = {
        "missing_samples": m["nan_fraction"] > cfg.nan_max,
        "lead_off": m["constant_fraction"] > cfg.constant_max,
        "flat": m["flat_fraction"] >= cfg.flat_max,
        "clipping": m["clip_fraction"] > cfg.clip_max,
        "high_frequency_noise": m["hf_ratio"] > cfg.hf_max,
        "baseline_wander": m["bw_ratio"] > cfg.bw_max,
        # Detected "beats" in a window whose QRS complexes do not stand out from the
        # background are noise taken for beats: the energy test applies with given peaks too.
        "no_beats": m["beat_rate_bpm"] < cfg.rate_min_bpm or m["qrs_snr"] < cfg.qrs_snr_min,
    }
    reasons: list[str] = [r for r in REASONS if flags.get(r, False)]
    return SignalQuality(not reasons, float(np.prod(subs)), reasons, dict(metrics))


def window_bounds(n_samples: int, fs: float, window_s: float = 10.0) -> list[tuple[int, int]]:
    """``[start, end)`` sample bounds of the windows that :func:`signal_quality` uses.

    Raises
    ------
    InputError
        For a ``window_s`` that is not a positive number of seconds.
    """
    try:
        seconds = float(window_s)
    except (TypeError, ValueError):
        seconds = math.nan
    if not (math.isfinite(seconds) and seconds > 0):
        raise InputError(f"window_s: expected a positive number of seconds, got {window_s!r}")
    length = max(round(seconds * fs), 1)
    if n_samples <= 1.5 * length:
        return [(0, n_samples)]
    count = n_samples // length
    bounds = [(i * length, (i + 1) * length) for i in range(count)]
    bounds[-1] = (bounds[-1][0], n_samples)
    return bounds


def quality_windows(
    signal: npt.ArrayLike,
    fs: float,
    rpeaks: npt.ArrayLike | None = None,
    window_s: float = 10.0,
    config: QualityConfig | None = None,
) -> list[SignalQuality]:
    """Quality of each window of :func:`window_bounds` (see :func:`window_quality`)."""
    x, fs = _check_signal(signal, fs)
    r = None if rpeaks is None else np.asarray(rpeaks, dtype=np.int64)
    out = []
    for start, end in window_bounds(x.size, fs, window_s):
        win_peaks = None if r is None else r[(r >= start) & (r < end)] - start
        out.append(window_quality(x[start:end], fs, win_peaks, config))
    return out


def signal_quality(
    signal: npt.ArrayLike,
    fs: float,
    rpeaks: npt.ArrayLike | None = None,
    window_s: float = 10.0,
    config: QualityConfig | None = None,
) -> SignalQuality:
    """Quality of one lead: one window, or windows aggregated (see the module notes).

    Parameters
    ----------
    signal : array_like, shape (n,) or (n, 1)
        One lead in mV; NaN marks missing samples.
    fs : float
        Sampling rate in Hz.
    rpeaks : array_like of int, optional
        R-peak sample indices (relative to the start of ``signal``) from a detector; without
        them beats are counted by a simple internal QRS-energy detector.
    window_s : float
        Window length in seconds.
    config : QualityConfig, optional
        Thresholds.

    Returns
    -------
    SignalQuality

    Examples
    --------
    >>> import numpy as np
    >>> signal_quality(np.zeros(2500), 250.0).reasons
    ['lead_off', 'flat', 'no_beats']
    """
    windows = quality_windows(signal, fs, rpeaks, window_s, config)
    if len(windows) == 1:
        return windows[0]
    n = len(windows)
    usable_fraction = sum(w.usable for w in windows) / n
    counts = Counter(r for w in windows for r in w.reasons)
    reasons: list[str] = [r for r in REASONS if counts[r] >= 0.25 * n]
    usable = usable_fraction >= 0.5
    if not usable and not reasons:
        top = max(counts.values())
        reasons = [next(r for r in REASONS if counts[r] == top)]
    keys = sorted({k for w in windows for k in w.metrics})
    metrics: dict[str, float] = {}
    for key in keys:
        values = np.array([w.metrics.get(key, np.nan) for w in windows], dtype=np.float64)
        metrics[key] = float(np.nanmedian(values)) if np.isfinite(values).any() else float("nan")
    metrics["duration_s"] = float(sum(w.metrics["duration_s"] for w in windows))
    metrics["n_windows"] = float(n)
    metrics["usable_fraction"] = usable_fraction
    score = float(np.mean([w.score for w in windows]))
    return SignalQuality(usable, score, reasons, metrics)


def _check_signal(signal: npt.ArrayLike, fs: float) -> tuple[FloatArray, float]:
    x = np.asarray(signal, dtype=np.float64)
    if x.ndim == 2 and x.shape[1] == 1:
        x = x[:, 0]
    if x.ndim != 1:
        raise InputError(f"signal: expected one lead as a 1-D array, got shape {x.shape}")
    fs = float(fs)
    if not np.isfinite(fs) or fs < MIN_FS:
        raise InputError(
            f"fs: signal quality needs a sampling rate of at least {MIN_FS:g} Hz, got {fs}"
        )
    return x, fs
