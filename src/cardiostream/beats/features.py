"""Causal features of each detected beat: its RR context and its shape against the patient's
own running template.

Every beat found by :class:`~cardiostream.beats.detector.RPeakDetector` gets one row of
:data:`FEATURES`:

RR context
    The RR interval before the beat (pre), the one after it (post, capped at ``post_cap_s``),
    the local mean RR over the ten beats before it, a long-term mean RR (exponential, about
    100 beats), their log ratios, and how irregular the local rhythm is (the coefficient of
    variation of the last ten RR intervals, high in atrial fibrillation where an early beat
    is not a sign of ectopy). After the shape columns, six more: the prematurity in seconds
    (pre less the local mean), the log ratios of the pre and the post RR to the mean of the
    last 32 RR intervals of beats that were not premature (the patient's own normal rhythm,
    which a run of ectopy does not drag), of the previous beat's pre RR to the local mean
    and of the pre RR to it, and of the pre RR to the median of the last ten. Last, the
    P-wave span against the template's: the log ratios of its peak-to-peak amplitude and
    energy, and its residual energy. Then how unlike their template the patient's beats
    usually are: running means (weight 0.05, about the last 20 beats) of the QRS correlation
    and of the residual, and the beat's own less them.
Shape
    The beat, band-passed (0.5-40 Hz, causal), sampled at fixed times from -0.25 s to +0.45 s
    around its R peak, is compared with the template: the element-wise median of the recent
    beats that were not premature (pre RR at least 0.9 times the local RR; all recent beats
    while there are fewer than three). The comparisons: correlation over the QRS (-0.1 to
    +0.12 s), over the whole window and over the P-wave span (-0.25 to -0.08 s); the log
    ratios of peak-to-peak amplitude, energy and area of the QRS; the QRS width (the time
    between 10 % and 90 % of its cumulative energy) and its log ratio to the template's; the
    residual energy; and the polarity of each (where the QRS sits between its minimum and
    maximum).

Causality and delay
-------------------
A beat is decided when the next beat is reported by the detector (its post RR is then known),
or when the detector has gone ``post_cap_s`` past it without one (the post RR is then
``post_cap_s``): at most ``delay_s + post_cap_s`` after its R peak, 1.0 + 2.0 s by default.
Every quantity is updated beat by beat, in order, so the rows are identical live and offline
and for any chunking; :meth:`BeatFeatureExtractor.flush` decides the last beat with its post
RR at ``post_cap_s``.

Precision
---------
The band-passed signal is kept at single precision and the recent windows that make the
template on a 1 uV grid (MITDB's resolution is 5 uV), so that a saved state holds them
exactly in a few kilobytes: the engine checkpoints every stream's state.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
from scipy.signal import butter, sosfilt_zi

from cardiostream.beats import _feature_kernel as kernel
from cardiostream.beats.detector import DEFAULT_DELAY_S, RPeakDetector, _check_fs
from cardiostream.errors import InputError
from cardiostream.packing import pack, unpack

#: The names of the feature columns, in order.
FEATURES: tuple[str, ...] = (
    "pre_rr_s",
    "post_rr_s",
    "local_rr_s",
    "log_pre_local",
    "log_post_local",
    "log_pre_post",
    "log_local_long",
    "log_pre_long",
    "rr_cv",
    "corr_qrs",
    "corr_window",
    "corr_p",
    "log_amp_ratio",
    "log_energy_ratio",
    "log_area_ratio",
    "qrs_width_s",
    "log_width_ratio",
    "residual",
    "polarity",
    "polarity_template",
    "pre_minus_local_s",
    "log_pre_nref",
    "log_post_nref",
    "log_prepre_local",
    "log_pre_prepre",
    "log_pre_median",
    "log_p_amp_ratio",
    "log_p_energy_ratio",
    "p_residual",
    "ema_corr_qrs",
    "ema_residual",
    "corr_qrs_less_ema",
    "residual_less_ema",
)
assert len(FEATURES) == kernel.N_ROW

#: Sampling step of the beat window, in seconds.
STEP_S = 0.004
#: The beat window around the R peak, in seconds.
WINDOW_S = (-0.25, 0.45)
_T = np.round(np.arange(WINDOW_S[0], WINDOW_S[1] + 1e-9, STEP_S), 6)
_QRS = (_T >= -0.1) & (_T <= 0.12)
_P = (_T >= -0.25) & (_T <= -0.08)


def _span(mask: npt.NDArray[np.bool_]) -> tuple[int, int]:
    idx = np.flatnonzero(mask)
    assert idx.size == idx[-1] - idx[0] + 1, "the kernel takes contiguous spans"
    return int(idx[0]), int(idx[-1]) + 1


_QRS_SPAN = _span(_QRS)
_P_SPAN = _span(_P)
assert _T.size <= kernel.PSUM_MAX
_RECENT = 20
_LOCAL = 10
_NREF = 32
_EMA_ALPHA = 0.05  # the running means of the shape: about the last 20 beats
_LONG_ALPHA = 0.01
_RR_DEFAULT_S = 0.8
_PREMATURE = 0.9  # a beat is premature if its pre RR is below this share of the local RR


class BeatFeatureExtractor:
    """Streaming R-peak detection and beat features (see the module notes).

    Parameters
    ----------
    fs : float
        Sampling rate in Hz.
    delay_s : float
        The R-peak detector's delay.
    post_cap_s : float
        The longest post RR waited for; a beat is decided at most ``delay_s + post_cap_s``
        after its R peak.
    detect : bool
        Whether to find the R peaks with an own :class:`RPeakDetector`; without, the caller
        passes them to :meth:`push` as a detector with ``delay_s`` reports them (a peak at
        ``r`` with the push that brings in sample ``r + delay_s * fs``).
    """

    def __init__(
        self,
        fs: float,
        *,
        delay_s: float = DEFAULT_DELAY_S,
        post_cap_s: float = 2.0,
        detect: bool = True,
    ) -> None:
        self.fs = _check_fs(fs)
        self.delay_s = float(delay_s)
        self.post_cap_s = float(post_cap_s)
        self.detector = RPeakDetector(self.fs, delay_s=self.delay_s) if detect else None
        self._delay = round(self.delay_s * self.fs)
        high = min(40.0, 0.45 * self.fs)
        self._sos = butter(2, (0.5, high), btype="bandpass", fs=self.fs, output="sos")
        self._offsets = np.round(_T * self.fs).astype(np.int64)
        self._keep = int(np.ceil((self.delay_s + 1.0) * self.fs)) + int(-self._offsets[0]) + 8
        self.reset()

    @property
    def delay_samples(self) -> int:
        """The longest time from an R peak to its row, in samples."""
        return self._delay + round(self.post_cap_s * self.fs)

    def reset(self) -> None:
        """Forget everything: the next sample starts a new stream."""
        if self.detector is not None:
            self.detector.reset()
        self._zi: npt.NDArray[np.float64] | None = None
        self._last = 0.0
        self._tail = np.zeros(0, np.float64)
        self._n = 0
        self._reset_beats()

    def _reset_beats(self) -> None:
        self._rrs = np.zeros(_LOCAL, np.float64)
        self._nrefs = np.zeros(_NREF, np.float64)
        self._recent = np.zeros((_RECENT, _T.size), np.float64)
        self._ok = np.zeros(_RECENT, np.bool_)
        self._good = np.zeros((_RECENT, _T.size), np.float64)
        self._iv = np.zeros(kernel.N_IV, np.int64)
        self._iv[kernel.I_PREV_R] = -1
        self._fv = np.full(kernel.N_FV, np.nan)
        self._pending: tuple[int, list[float]] | None = None

    @property
    def n_samples(self) -> int:
        """Samples pushed so far."""
        return self._n

    def _filter(self, x: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        y = np.empty(x.size, np.float64)
        if x.size == 0:
            return y
        if self._zi is None:
            first = x[0] if np.isfinite(x[0]) else self._last
            self._zi = sosfilt_zi(self._sos) * first
        self._last = float(kernel.band_pass(self._sos, x, self._zi, self._last, y))
        return y

    def _beats(self, peaks: npt.NDArray[np.int64]) -> npt.NDArray[np.float64]:
        """The half rows (``kernel.H_*``: the RR context and shape, before the post RR is
        known) of the beats at ``peaks``; updates the running state."""
        half = np.empty((peaks.size, kernel.N_HALF), np.float64)
        kernel.beat_kernel(
            peaks,
            self._tail,
            self._n - self._tail.size,
            self._offsets,
            self.fs,
            _QRS_SPAN,
            _P_SPAN,
            STEP_S,
            (_PREMATURE, _LONG_ALPHA, _RR_DEFAULT_S),
            self._rrs,
            self._nrefs,
            self._recent,
            self._ok,
            self._good,
            self._iv,
            self._fv,
            half,
        )
        for col in kernel.H_LOG:
            np.log(half[:, col], out=half[:, col])
        np.log1p(half[:, kernel.H_LOG1P], out=half[:, kernel.H_LOG1P])
        kernel.shape_context(half, _EMA_ALPHA, self._fv)
        return half

    def _due(self, r: int | None = None) -> bool:
        """Whether the beat at ``r`` (the pending one by default) has waited ``post_cap_s``."""
        if r is None:
            if self._pending is None:
                return False
            r = self._pending[0]
        return self._n - self._delay > r + self.post_cap_s * self.fs

    def _run(
        self, chunk: npt.ArrayLike, final: bool, given: npt.ArrayLike | None
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]:
        x = np.asarray(chunk, dtype=np.float64)
        if x.ndim == 2 and x.shape[1] == 1:
            x = x[:, 0]
        if x.ndim != 1:
            raise InputError(f"signal: expected a 1-D array of samples, got shape {x.shape}")
        if self.detector is not None:
            if given is not None:
                raise InputError("peaks: this extractor finds its own R peaks")
            peaks = self.detector.flush() if final else self.detector.push(x)
        else:
            peaks = np.asarray([] if given is None else given, np.int64).reshape(-1)
            prev = self._pending[0] if self._pending is not None else -1
            if peaks.size and (
                (np.diff(peaks) <= 0).any() or peaks[0] <= prev or peaks[-1] >= self._n + x.size
            ):
                raise InputError("peaks: expected increasing samples after the last beat")
        # Kept at single precision (far finer than any ECG), so that a saved state holds the
        # tail exactly in half the bytes.
        y = self._filter(x).astype(np.float32)
        self._tail = np.concatenate([self._tail, y.astype(np.float64)])
        self._n += x.size
        if peaks.size == 0 and not final and not self._due():
            # Most chunks of a stream decide no beat: they skip the array calls below.
            self._tail = self._tail[-self._keep :]
            return np.zeros(0, np.int64), np.zeros((0, len(FEATURES)), np.float64)
        rs = np.asarray(peaks, np.int64)
        half = self._beats(rs)
        if self._pending is not None:
            rs = np.concatenate(([self._pending[0]], rs))
            half = np.concatenate((np.asarray([self._pending[1]], np.float64), half))
        # Each beat but the last is decided by the next; the last waits for its post RR
        # unless it has waited post_cap_s already.
        n_done = max(rs.size - 1, 0)
        if rs.size and (final or self._due(int(rs[-1]))):
            n_done = rs.size
        rows = np.empty((n_done, len(FEATURES)), np.float64)
        kernel.finish_rows(rs, half, n_done, self.fs, self.post_cap_s, rows)
        np.log(rows[:, kernel.R_LOG], out=rows[:, kernel.R_LOG])
        np.log(rows[:, kernel.R_LOG2], out=rows[:, kernel.R_LOG2])
        np.log(rows[:, kernel.R_LOG3], out=rows[:, kernel.R_LOG3])
        np.log1p(rows[:, kernel.R_LOG1P2], out=rows[:, kernel.R_LOG1P2])
        self._pending = (int(rs[-1]), half[-1].tolist()) if n_done < rs.size else None
        self._tail = self._tail[-self._keep :]
        out_r = rs[:n_done].copy()
        if final:
            self.reset()
        return out_r, rows

    def push(
        self, chunk: npt.ArrayLike, peaks: npt.ArrayLike | None = None
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]:
        """Feed samples (and, without an own detector, the R peaks reported with them);
        return the beats now decided: their R-peak samples, and one row of :data:`FEATURES`
        each."""
        return self._run(chunk, False, peaks)

    def flush(
        self, peaks: npt.ArrayLike | None = None
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]:
        """End the stream: return the remaining beats, then reset."""
        return self._run(np.zeros(0), True, peaks)

    def state_dict(self) -> dict[str, Any]:
        """The full state as plain Python data (JSON-serialisable)."""
        iv = self._iv
        rr_order = (iv[kernel.I_RR_HEAD] + np.arange(iv[kernel.I_RR_COUNT])) % _LOCAL
        rec_order = (iv[kernel.I_REC_HEAD] + np.arange(iv[kernel.I_REC_COUNT])) % _RECENT
        nref_order = (iv[kernel.I_NREF_HEAD] + np.arange(iv[kernel.I_NREF_COUNT])) % _NREF
        long = float(self._fv[kernel.F_LONG])
        prev_pre = float(self._fv[kernel.F_PREV_PRE])
        ema = self._fv[[kernel.F_EMA_CORR, kernel.F_EMA_RESIDUAL]]
        return {
            "fs": self.fs,
            "delay_s": self.delay_s,
            "post_cap_s": self.post_cap_s,
            "detector": None if self.detector is None else self.detector.state_dict(),
            "zi": None if self._zi is None else self._zi.tolist(),
            "last": self._last,
            "tail": pack(self._tail.astype(np.float32)),
            "n": self._n,
            "rrs": self._rrs[rr_order].tolist(),
            "long": None if not np.isfinite(long) else long,
            "nrefs": self._nrefs[nref_order].tolist(),
            "prev_pre": None if not np.isfinite(prev_pre) else prev_pre,
            "shape_ema": None if not np.isfinite(ema).all() else ema.tolist(),
            "prev_r": int(iv[kernel.I_PREV_R]),
            # On the kernel's grid, so exact as integers.
            "recent": pack(np.round(self._recent[rec_order] * kernel.WINDOW_GRID).astype(np.int16)),
            "ok": self._ok[rec_order].tolist(),
            "pending": None if self._pending is None else [self._pending[0], self._pending[1]],
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore a state produced by :meth:`state_dict` of an extractor with the same
        settings."""
        same = (float(state.get(k, -1)) for k in ("fs", "delay_s", "post_cap_s"))
        if tuple(same) != (self.fs, self.delay_s, self.post_cap_s):
            raise InputError("state: fs, delay_s or post_cap_s differ from this extractor's")
        try:
            if self.detector is not None:
                self.detector.load_state_dict(state["detector"])
            elif state["detector"] is not None:
                raise ValueError("a state with a detector, for an extractor without")
            zi = None if state["zi"] is None else np.asarray(state["zi"], np.float64)
            last = float(state["last"])
            tail = unpack(state["tail"], np.float32, (-1,)).astype(np.float64)
            n = int(state["n"])
            # As the deques of earlier versions kept them: the newest, at most their length.
            rrs = np.asarray([float(v) for v in state["rrs"]], np.float64)[-_LOCAL:]
            long = float("nan") if state["long"] is None else float(state["long"])
            nrefs = np.asarray([float(v) for v in state["nrefs"]], np.float64)[-_NREF:]
            prev_pre = float("nan") if state["prev_pre"] is None else float(state["prev_pre"])
            ema = state["shape_ema"]
            ema = [float("nan")] * 2 if ema is None else [float(ema[0]), float(ema[1])]
            prev_r = int(state["prev_r"])
            grid = unpack(state["recent"], np.int16, (-1, _T.size))
            oks = [bool(v) for v in state["ok"]]
            if len(oks) != grid.shape[0]:
                raise ValueError("recent windows and their flags differ in number")
            recent = [
                (w.astype(np.float64) / kernel.WINDOW_GRID, ok)
                for w, ok in zip(grid, oks, strict=True)
            ][-_RECENT:]
            if any(w.shape != (_T.size,) for w, _ in recent):
                raise ValueError(f"recent windows must have {_T.size} samples")
            p = state["pending"]
            pending = None if p is None else (int(p[0]), [float(v) for v in p[1]])
            if pending is not None and len(pending[1]) != kernel.N_HALF:
                raise ValueError("pending row of the wrong length")
        except (KeyError, TypeError, ValueError) as exc:
            raise InputError(f"state: not a beat-feature state ({exc})") from exc
        self._reset_beats()
        self._zi, self._last, self._tail, self._n = zi, last, tail, n
        self._rrs[: rrs.size] = rrs
        self._iv[kernel.I_RR_COUNT] = rrs.size
        self._fv[kernel.F_LONG] = long
        self._nrefs[: nrefs.size] = nrefs
        self._iv[kernel.I_NREF_COUNT] = nrefs.size
        self._fv[kernel.F_PREV_PRE] = prev_pre
        self._fv[kernel.F_EMA_CORR], self._fv[kernel.F_EMA_RESIDUAL] = ema
        self._iv[kernel.I_PREV_R] = prev_r
        for i, (w, ok) in enumerate(recent):
            self._recent[i] = w
            self._ok[i] = ok
        self._iv[kernel.I_REC_COUNT] = len(recent)
        kernel.sort_good(self._recent, self._ok, self._iv, self._good)
        self._pending = pending


def beat_features(
    signal: npt.ArrayLike, fs: float, *, delay_s: float = DEFAULT_DELAY_S
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]:
    """R peaks and their feature rows for a whole single-lead signal.

    Parameters
    ----------
    signal : array_like, shape (n_samples,)
        The ECG; NaN marks missing samples.
    fs : float
        Sampling rate in Hz.
    delay_s : float
        The R-peak detector's delay.

    Returns
    -------
    samples : ndarray of int64
        The R peaks, sorted.
    features : ndarray of float64, shape (n_beats, len(FEATURES))
        One row per beat; equal to :class:`BeatFeatureExtractor` fed the signal in any
        chunks and flushed.
    """
    ext = BeatFeatureExtractor(fs, delay_s=delay_s)
    r1, f1 = ext.push(signal)
    r2, f2 = ext.flush()
    return np.concatenate([r1, r2]), np.concatenate([f1, f2])
