"""Causal features of each detected beat: its RR context and its shape against the patient's
own running template.

Every beat found by :class:`~cardiostream.beats.detector.RPeakDetector` gets one row of
:data:`FEATURES`:

RR context
    The RR interval before the beat (pre), the one after it (post, capped at ``post_cap_s``),
    the local mean RR over the ten beats before it, a long-term mean RR (exponential, about
    100 beats), their log ratios, and how irregular the local rhythm is (the coefficient of
    variation of the last ten RR intervals, high in atrial fibrillation where an early beat
    is not a sign of ectopy).
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
"""

from __future__ import annotations

from collections import deque
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy.signal import butter, sosfilt, sosfilt_zi

from cardiostream.beats.detector import DEFAULT_DELAY_S, RPeakDetector, _check_fs
from cardiostream.errors import InputError

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
)

#: Sampling step of the beat window, in seconds.
STEP_S = 0.004
#: The beat window around the R peak, in seconds.
WINDOW_S = (-0.25, 0.45)
_T = np.round(np.arange(WINDOW_S[0], WINDOW_S[1] + 1e-9, STEP_S), 6)
_QRS = (_T >= -0.1) & (_T <= 0.12)
_P = (_T >= -0.25) & (_T <= -0.08)
_RECENT = 20
_LOCAL = 10
_LONG_ALPHA = 0.01
_RR_DEFAULT_S = 0.8


def _corr(a: npt.NDArray[np.float64], b: npt.NDArray[np.float64]) -> float:
    a = a - a.mean()
    b = b - b.mean()
    den = float(np.sqrt((a * a).sum() * (b * b).sum()))
    return float((a * b).sum() / den) if den > 1e-12 else 0.0


def _width(q: npt.NDArray[np.float64]) -> float:
    e = np.cumsum(q * q)
    if e[-1] <= 1e-18:
        return 0.0
    e = e / e[-1]
    return float((np.searchsorted(e, 0.9) - np.searchsorted(e, 0.1)) * STEP_S)


def _polarity(q: npt.NDArray[np.float64]) -> float:
    span = float(q.max() - q.min())
    return float((q.max() + q.min()) / span) if span > 1e-12 else 0.0


def _log_ratio(a: float, b: float) -> float:
    return float(np.log((a + 1e-9) / (b + 1e-9)))


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
    """

    def __init__(
        self, fs: float, *, delay_s: float = DEFAULT_DELAY_S, post_cap_s: float = 2.0
    ) -> None:
        self.fs = _check_fs(fs)
        self.delay_s = float(delay_s)
        self.post_cap_s = float(post_cap_s)
        self.detector = RPeakDetector(self.fs, delay_s=self.delay_s)
        high = min(40.0, 0.45 * self.fs)
        self._sos = butter(2, (0.5, high), btype="bandpass", fs=self.fs, output="sos")
        self._offsets = np.round(_T * self.fs).astype(np.int64)
        self._keep = int(np.ceil((self.delay_s + 1.0) * self.fs)) + int(-self._offsets[0]) + 8
        self.reset()

    @property
    def delay_samples(self) -> int:
        """The longest time from an R peak to its row, in samples."""
        return self.detector.delay_samples + round(self.post_cap_s * self.fs)

    def reset(self) -> None:
        """Forget everything: the next sample starts a new stream."""
        self.detector.reset()
        self._zi: npt.NDArray[np.float64] | None = None
        self._last = 0.0
        self._tail = np.zeros(0, np.float64)
        self._n = 0
        self._rrs: deque[float] = deque(maxlen=_LOCAL)
        self._long = float("nan")
        self._prev_r = -1
        self._recent: deque[tuple[npt.NDArray[np.float64], bool]] = deque(maxlen=_RECENT)
        self._pending: tuple[int, list[float]] | None = None

    @property
    def n_samples(self) -> int:
        """Samples pushed so far."""
        return self._n

    def _filter(self, x: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        if x.size == 0:
            return x
        x = x.copy()
        for i in np.flatnonzero(~np.isfinite(x)):  # held at the last finite value
            x[i] = x[i - 1] if i > 0 else self._last
        if x.size:
            self._last = float(x[-1])
        if self._zi is None:
            self._zi = sosfilt_zi(self._sos) * x[0]
        y, self._zi = sosfilt(self._sos, x, zi=self._zi)
        return np.asarray(y, np.float64)

    def _window(self, r: int) -> npt.NDArray[np.float64]:
        start = self._n - self._tail.size
        idx = np.clip(r + self._offsets - start, 0, max(self._tail.size - 1, 0))
        if self._tail.size == 0:
            return np.zeros(_T.size)
        w = self._tail[idx]
        return w - np.median(w)

    def _template(self) -> npt.NDArray[np.float64] | None:
        if not self._recent:
            return None
        good = [w for w, ok in self._recent if ok]
        chosen = good if len(good) >= 3 else [w for w, _ in self._recent]
        return np.median(np.stack(chosen), axis=0)

    def _shape(self, w: npt.NDArray[np.float64]) -> list[float]:
        tpl = self._template()
        if tpl is None:
            tpl = w
        q, tq = w[_QRS], tpl[_QRS]
        width, twidth = _width(q), _width(tq)
        res = float(((q - tq) ** 2).sum() / ((tq * tq).sum() + 1e-12))
        return [
            _corr(q, tq),
            _corr(w, tpl),
            _corr(w[_P], tpl[_P]),
            _log_ratio(float(np.ptp(q)), float(np.ptp(tq))),
            _log_ratio(float((q * q).sum()), float((tq * tq).sum())),
            _log_ratio(float(np.abs(q).sum()), float(np.abs(tq).sum())),
            width,
            _log_ratio(width, twidth),
            float(np.log1p(min(res, 1e6))),
            _polarity(q),
            _polarity(tq),
        ]

    def _beat(self, r: int) -> tuple[int, list[float]]:
        """The pre-RR and shape part of the beat at ``r``; updates the running state."""
        local = float(np.mean(self._rrs)) if self._rrs else _RR_DEFAULT_S
        pre = (r - self._prev_r) / self.fs if self._prev_r >= 0 else local
        if not np.isfinite(self._long):
            self._long = local
        cv = float(np.std(self._rrs) / local) if len(self._rrs) >= 2 else 0.0
        w = self._window(r)
        shape = self._shape(w)
        row = [pre, local, self._long, cv, *shape]
        self._recent.append((w, pre >= 0.9 * local))
        if self._prev_r >= 0:
            self._rrs.append(pre)
            self._long += _LONG_ALPHA * (pre - self._long)
        self._prev_r = r
        return r, row

    def _finish(self, pending: tuple[int, list[float]], post: float) -> list[float]:
        _, (pre, local, long, cv, *shape) = pending
        post = min(post, self.post_cap_s)
        return [
            pre,
            post,
            local,
            _log_ratio(pre, local),
            _log_ratio(post, local),
            _log_ratio(pre, post),
            _log_ratio(local, long),
            _log_ratio(pre, long),
            cv,
            *shape,
        ]

    def _run(
        self, chunk: npt.ArrayLike, final: bool
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]:
        x = np.asarray(chunk, dtype=np.float64)
        if x.ndim == 2 and x.shape[1] == 1:
            x = x[:, 0]
        if x.ndim != 1:
            raise InputError(f"signal: expected a 1-D array of samples, got shape {x.shape}")
        peaks = self.detector.flush() if final else self.detector.push(x)
        y = self._filter(x)
        self._tail = np.concatenate([self._tail, y])
        self._n += x.size
        out_r: list[int] = []
        out_f: list[list[float]] = []
        for r in peaks.tolist():
            new = self._beat(int(r))
            if self._pending is not None:
                out_r.append(self._pending[0])
                out_f.append(self._finish(self._pending, (r - self._pending[0]) / self.fs))
            self._pending = new
        if self._pending is not None:
            due = self._n - self.detector.delay_samples if not final else None
            if final or (due is not None and due > self._pending[0] + self.post_cap_s * self.fs):
                out_r.append(self._pending[0])
                out_f.append(self._finish(self._pending, self.post_cap_s))
                self._pending = None
        self._tail = self._tail[-self._keep :]
        rows = np.asarray(out_f, np.float64).reshape(len(out_f), len(FEATURES))
        if final:
            self.reset()
        return np.asarray(out_r, np.int64), rows

    def push(self, chunk: npt.ArrayLike) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]:
        """Feed samples; return the beats now decided: their R-peak samples, and one row of
        :data:`FEATURES` each."""
        return self._run(chunk, final=False)

    def flush(self) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]:
        """End the stream: return the remaining beats, then reset."""
        return self._run(np.zeros(0), final=True)

    def state_dict(self) -> dict[str, Any]:
        """The full state as plain Python data (JSON-serialisable)."""
        return {
            "fs": self.fs,
            "delay_s": self.delay_s,
            "post_cap_s": self.post_cap_s,
            "detector": self.detector.state_dict(),
            "zi": None if self._zi is None else self._zi.tolist(),
            "last": self._last,
            "tail": self._tail.tolist(),
            "n": self._n,
            "rrs": list(self._rrs),
            "long": None if not np.isfinite(self._long) else self._long,
            "prev_r": self._prev_r,
            "recent": [[w.tolist(), ok] for w, ok in self._recent],
            "pending": None if self._pending is None else [self._pending[0], self._pending[1]],
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore a state produced by :meth:`state_dict` of an extractor with the same
        settings."""
        same = (float(state.get(k, -1)) for k in ("fs", "delay_s", "post_cap_s"))
        if tuple(same) != (self.fs, self.delay_s, self.post_cap_s):
            raise InputError("state: fs, delay_s or post_cap_s differ from this extractor's")
        try:
            self.detector.load_state_dict(state["detector"])
            self._zi = None if state["zi"] is None else np.asarray(state["zi"], np.float64)
            self._last = float(state["last"])
            self._tail = np.asarray(state["tail"], np.float64)
            self._n = int(state["n"])
            self._rrs = deque((float(v) for v in state["rrs"]), maxlen=_LOCAL)
            self._long = float("nan") if state["long"] is None else float(state["long"])
            self._prev_r = int(state["prev_r"])
            self._recent = deque(
                ((np.asarray(w, np.float64), bool(ok)) for w, ok in state["recent"]),
                maxlen=_RECENT,
            )
            p = state["pending"]
            self._pending = None if p is None else (int(p[0]), [float(v) for v in p[1]])
        except (KeyError, TypeError, ValueError) as exc:
            raise InputError(f"state: not a beat-feature state ({exc})") from exc


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
