"""The quality gate of each beat: is the signal around it good enough to name its class.

A beat classifier guesses a class for whatever the R-peak detector hands it, noise and a
lead coming off included. :class:`BeatQualityGate` sees the same samples as the classifier
and judges, for each decided beat at R peak ``r``, the raw signal from ``pre_s`` before to
``post_s`` after it (1 s and 1 s: the detector reports a peak 1 s after it, so that span is
always complete when the beat is decided, and the verdict does not depend on the chunking).
It keeps the last few seconds of raw samples and computes, per beat, the indices of
:mod:`cardiostream.dsp.quality` on that 2 s span, with the same definitions:

====================  ===========================================================  ========
reason                metric (key of :meth:`BeatQualityGate.metrics`)              flagged
====================  ===========================================================  ========
missing_samples       ``nan_fraction``: share of non-finite samples                > 0.1
lead_off              ``constant_fraction``: share of samples in runs of exactly   > 0.2
                      equal values lasting 0.5 s or more
flat                  ``flat_ptp_mv``: the largest peak-to-peak range of the       < 0.1 mV
                      span's 0.25 s blocks (no block with a QRS in it)
clipping              ``clip_fraction``: share of samples in runs of 10 ms (and 3  > 0.02
                      samples) to 0.5 s at the span's maximum or minimum
high_frequency_noise  ``hf_ratio``: power 40-100 Hz over power 5-15 Hz (the QRS    > 0.5
                      band); NaN, never flagged, when fs < 90 Hz
no_beats              ``qrs_snr``: the beat's height (largest magnitude of the     < 2.25
                      0.5-40 Hz band-passed span within 40 ms of the R peak) over
                      the span's mean magnitude: the "beat" does not stand out
                      from the noise around it
====================  ===========================================================  ========

A beat gets the first reason flagged in that order; the pacing test of
:mod:`cardiostream.dsp.pacing` (reason ``"paced"``) comes after them, in
:class:`~cardiostream.beats.classes.BeatClassifier`. The thresholds are the quality module's
except ``qrs_snr``, which has no 2 s counterpart there (the streaming SQI's 10 s median of
the same ratio is flagged below 2.75; one beat's ratio scatters more, so its threshold is
lower). How they were checked on MITDB and NSTDB is in ``docs/decisions.md``. Amplitudes are
in millivolts.

The gate runs on every beat of every stream, so its indices are computed in one compiled
pass per beat (:mod:`cardiostream.beats._gate_kernel`), the zero-phase band-pass of eight
beats side by side, and one batched FFT over the beats judged together; the periodogram of
``hf_ratio`` is taken in single precision (the ratio moves by about 1e-6). That is some 40 ms
per 30-minute record at 360 Hz, against 0.5-0.9 s computing each index with numpy and scipy.
A live push decides one beat or two, where the FFT's and numpy's fixed cost dominated
(some 70 us a push): up to :data:`_FEW` beats are judged in one compiled call, ``hf_ratio``
from the DFT at the bins of its two bands only, the reasons as codes (some 15-25 us a beat
at 250 Hz). Both ways give the same reason for every beat of the 48 MITDB records and the
NSTDB records checked. A saved state packs its 4.5 s of samples (:func:`pack_samples`); the
samples are kept in a buffer that a push appends to in place.
"""

from __future__ import annotations

import base64
import binascii
import zlib
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import scipy.fft

from cardiostream.beats import _gate_kernel as _gk
from cardiostream.dsp.quality import DEFAULT_CONFIG, _band_design
from cardiostream.errors import InputError

FloatArray = npt.NDArray[np.float64]

#: The keys of :meth:`BeatQualityGate.metrics`, in the order of the tests.
_COLUMNS: tuple[str, ...] = (
    "nan_fraction",
    "constant_fraction",
    "flat_ptp_mv",
    "clip_fraction",
    "hf_ratio",
    "qrs_snr",
)

#: The reasons a beat can be gated for, in the order they are tested.
GATE_REASONS: tuple[str, ...] = (
    "missing_samples",
    "lead_off",
    "flat",
    "clipping",
    "high_frequency_noise",
    "no_beats",
    "paced",
)


#: The reasons by code (``_gate_kernel.R_*``).
_REASONS = np.array(("", *GATE_REASONS[:6]), dtype="<U20")

#: Up to this many beats a call (a live push decides one or two), ``hf_ratio`` is the DFT at
#: its bands' bins, in the same compiled call as the other indices
#: (:func:`~cardiostream.beats._gate_kernel.judge_few`): about 6 us a beat at 250 Hz and
#: 2 s spans, in proportion to fs, against 60-70 us of fixed cost for the batched FFT and
#: the numpy around it. More beats (offline, long chunks) take the batched FFT, cheaper a
#: beat. The two agree to about 1e-6 in ``hf_ratio``; a batched beat within
#: :data:`_HF_TIE` of the threshold is decided by the DFT, so every beat gets the same reason
#: whatever the chunking.
_FEW = 8
#: Within this of its threshold, a batched ``hf_ratio`` is recomputed the live way (far more
#: than the two methods' 1e-6 disagreement).
_HF_TIE = 1e-4

#: The DFT tables of :func:`_dft_tables`, by span length and rate.
_TABLES: dict[tuple[int, float], tuple[npt.NDArray[np.float32], npt.NDArray[np.float32], int]] = {}


@dataclass(frozen=True)
class GateConfig:
    """The span judged around each beat and the thresholds (see the module notes)."""

    pre_s: float = 1.0
    post_s: float = 1.0
    nan_max: float = DEFAULT_CONFIG.nan_max
    constant_run_s: float = DEFAULT_CONFIG.constant_run_s
    constant_max: float = DEFAULT_CONFIG.constant_max
    flat_block_s: float = 0.25
    flat_ptp_mv: float = DEFAULT_CONFIG.flat_ptp_mv
    clip_run_s: float = DEFAULT_CONFIG.clip_run_s
    clip_max: float = DEFAULT_CONFIG.clip_max
    hf_max: float = DEFAULT_CONFIG.hf_max
    beat_half_width_s: float = 0.04
    qrs_snr_min: float = 2.25


DEFAULT_GATE = GateConfig()


class BeatQualityGate:
    """Streaming per-beat quality verdicts, identical for any chunking.

    Push it every sample the classifier gets (:meth:`push`), then ask about the beats the
    classifier decided (:meth:`judge`). It keeps ``history_s`` seconds of samples besides the
    span before a beat: a beat decided up to that long after its R peak can still be judged.

    Parameters
    ----------
    fs : float
        Sampling rate in Hz.
    config : GateConfig, optional
        Span and thresholds; :data:`DEFAULT_GATE` by default.
    history_s : float
        The longest time from an R peak to the moment the beat is judged.
    """

    def __init__(
        self, fs: float, config: GateConfig | None = None, *, history_s: float = 4.0
    ) -> None:
        self.fs = float(fs)
        if not np.isfinite(self.fs) or self.fs <= 0:
            raise InputError(f"fs: expected a positive sampling rate, got {fs}")
        self.config = config or DEFAULT_GATE
        self._pre = round(self.config.pre_s * self.fs)
        self._post = round(self.config.post_s * self.fs)
        self._keep = self._pre + int(np.ceil(history_s * self.fs)) + 1
        cfg = self.config
        params = np.zeros(_gk.N_PARAMS, np.int64)
        params[_gk.P_PRE] = self._pre
        params[_gk.P_POST] = self._post
        params[_gk.P_BLOCK] = max(round(cfg.flat_block_s * self.fs), 1)
        params[_gk.P_LONG_RUN] = max(round(cfg.constant_run_s * self.fs), 2)
        params[_gk.P_MIN_RUN] = max(round(cfg.clip_run_s * self.fs), 3)
        params[_gk.P_HALF] = max(round(cfg.beat_half_width_s * self.fs), 1)
        self._params = params
        self._sos, self._zi = _band_design(self.fs, 0.5, 40.0)
        self._window = np.hanning(self._pre + self._post)
        self._bins = _band_bins(self._pre + self._post, self.fs)
        self._twiddle, self._phase, self._n_qrs = _dft_tables(self._pre + self._post, self.fs)
        self._thresholds = np.array(
            [cfg.nan_max, cfg.constant_max, cfg.flat_ptp_mv, cfg.clip_max, cfg.hf_max,
             cfg.qrs_snr_min]
        )  # fmt: skip
        self._codes = np.zeros(_FEW, np.int64)
        self.reset()

    @property
    def _tail(self) -> FloatArray:
        """The samples kept: the last ``keep`` before the last chunk, and that chunk."""
        return self._buf[: self._size]

    @_tail.setter
    def _tail(self, x: FloatArray) -> None:
        self._buf = np.array(x, np.float64)
        self._size = self._buf.size

    def reset(self) -> None:
        """Forget everything: the next sample starts a new stream."""
        self._tail = np.zeros(0, np.float64)
        self._n = 0

    def push(self, chunk: npt.ArrayLike) -> None:
        """Feed samples (the same as the classifier's, in order)."""
        x = np.asarray(chunk, np.float64).reshape(-1)
        # Trimmed before appending, so that every beat decided from this chunk, however
        # long it is, still has its span here. In place: a buffer with room for the last
        # ``keep`` samples and a chunk, grown when a chunk does not fit (and shrunk after a
        # long one).
        kept = min(self._size, self._keep)
        need = kept + x.size
        if need > self._buf.size or self._buf.size > 4 * need + 2 * self._keep:
            buf = np.empty(max(need, 2 * self._keep))
            buf[:kept] = self._buf[self._size - kept : self._size]
            self._buf, self._size = buf, kept
        self._size = _gk.append_samples(self._buf, self._size, self._keep, x)
        self._n += x.size

    def span(self, r: int) -> npt.NDArray[np.float64]:
        """The raw samples judged for the beat at ``r`` (cut at the stream's ends)."""
        start = self._n - self._tail.size
        a = max(r - self._pre, 0, start) - start
        b = min(r + self._post, self._n) - start
        return self._tail[a:b] if b > a else np.zeros(0)

    def _metrics(self, rs: npt.NDArray[np.int64], want_hf: bool | None) -> FloatArray:
        """The indices of the beats at ``rs``, one row each, in :data:`_COLUMNS` order.

        ``hf_ratio`` is computed for every beat with ``want_hf=True``; with ``None`` only
        for those that no earlier test flags (the others do not need it for a reason).
        """
        m = np.empty((rs.size, _gk.N_METRICS))
        # Zeros (not garbage) in the rows not filled: the FFT runs over all of them.
        full = self._pre + self._post
        rows = np.zeros((rs.size, max(full, 1)), np.float32)
        sizes = np.zeros(rs.size, np.int64)
        start = self._n - self._tail.size
        _gk.batch_metrics(
            self._tail, start, self._n, rs, self._params, self._sos, self._zi, self._window,
            m, rows, sizes
        )  # fmt: skip
        if self.fs < 90:  # 100 Hz is past Nyquist: hf_ratio stays NaN, never flagged
            return m
        need = sizes > 0
        if not want_hf:
            cfg = self.config
            need &= ~(
                (m[:, _gk.M_NAN] > cfg.nan_max)
                | (m[:, _gk.M_CONSTANT] > cfg.constant_max)
                | (m[:, _gk.M_PTP] < cfg.flat_ptp_mv)
                | (m[:, _gk.M_CLIP] > cfg.clip_max)
            )
        sel = need & (sizes == full)
        if sel.any():
            # All rows at once: selecting the few that need no FFT would cost a copy of the
            # rest, more than their transforms. Centred and windowed already.
            m[sel, _gk.M_HF] = _band_ratio(rows, self._bins)[sel]
        cut = need & (sizes != full)
        if cut.any():  # spans cut at the stream's start: one FFT per length
            for size in np.unique(sizes[cut]):
                sel = need & (sizes == size)
                bins = _band_bins(int(size), self.fs)
                m[sel, _gk.M_HF] = _band_ratio(rows[sel, :size], bins)
        return m

    def metrics(self, r: int) -> dict[str, float]:
        """The quality indices of the span of the beat at ``r`` (see the module notes)."""
        row = self._metrics(np.array([r], np.int64), True)[0]
        return {name: float(v) for name, v in zip(_COLUMNS, row, strict=True)}

    def reason(self, r: int) -> str:
        """Why the beat at ``r`` is not to be classified, or ``""`` when it may be."""
        return str(self.judge([r])[0])

    def judge(self, samples: npt.ArrayLike) -> npt.NDArray[np.str_]:
        """The :meth:`reason` of each beat, as a string array (``""``: usable)."""
        rs = np.asarray(samples, np.int64).reshape(-1)
        if rs.size == 0:
            return _REASONS[:0].copy()
        if rs.size <= _FEW:
            # A live push: one compiled call, the reasons as codes (see _FEW).
            codes = self._codes[: rs.size]
            start = self._n - self._size
            if _gk.judge_few(
                self._buf, start, self._n, rs, self._params, self._sos, self._zi,
                self._window, self._twiddle, self._phase, self._n_qrs, self._thresholds, codes
            ):  # fmt: skip
                return _REASONS[codes]
        out = np.full(rs.size, "", dtype="<U20")
        cfg = self.config
        m = self._metrics(rs, None)
        # Comparisons with NaN are False without a warning: a NaN hf_ratio is never flagged.
        flags = (
            ("missing_samples", m[:, _gk.M_NAN] > cfg.nan_max),
            ("lead_off", m[:, _gk.M_CONSTANT] > cfg.constant_max),
            ("flat", m[:, _gk.M_PTP] < cfg.flat_ptp_mv),
            ("clipping", m[:, _gk.M_CLIP] > cfg.clip_max),
            ("high_frequency_noise", m[:, _gk.M_HF] > cfg.hf_max),
            ("no_beats", m[:, _gk.M_SNR] < cfg.qrs_snr_min),
        )
        # Last to first, so that the first reason flagged is the one left.
        for name, bad in reversed(flags):
            out[bad] = name
        # The batched FFT and the compiled DFT agree to about 1e-6 in hf_ratio: a beat this
        # near the threshold is decided by the DFT, as a live push decides it, so that the
        # reasons do not depend on how many beats a call brings.
        near = np.flatnonzero(np.abs(m[:, _gk.M_HF] - cfg.hf_max) < _HF_TIE)
        start = self._n - self._size
        for i in near.tolist():
            codes = self._codes[:1]
            if _gk.judge_few(
                self._buf, start, self._n, rs[i : i + 1], self._params, self._sos, self._zi,
                self._window, self._twiddle, self._phase, self._n_qrs, self._thresholds, codes
            ):  # fmt: skip
                out[i] = _REASONS[codes[0]]
        return out

    def state_dict(self) -> dict[str, Any]:
        """The full state as plain JSON data; the samples packed (see :func:`pack_samples`)."""
        # Only what the next push keeps: a long last chunk is not carried along.
        return {"fs": self.fs, "tail": pack_samples(self._tail[-self._keep :]), "n": self._n}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore a state produced by :meth:`state_dict` of a gate with the same fs."""
        try:
            if float(state["fs"]) != self.fs:
                raise InputError("state: fs differs from this quality gate's")
            self._tail = unpack_samples(state["tail"])
            self._n = int(state["n"])
        except (KeyError, TypeError, ValueError, binascii.Error, zlib.error) as exc:
            raise InputError(f"state: not a quality-gate state ({exc})") from exc


def pack_samples(x: npt.NDArray[np.float64]) -> dict[str, str]:
    """Samples as compact, exact JSON data: their bytes, deflated, in base64.

    The gate keeps 4.5 s of samples, as a JSON list of floats some 36 KiB at 360 Hz, and an
    engine's whole state is to stay under 64 KiB a stream. Single precision is used where it
    holds every sample exactly (a float32 stream, the usual case: half the bytes), double
    otherwise; NaN is kept as it is.
    """
    x = np.asarray(x, np.float64)
    single = x.astype("<f4")
    exact = np.array_equal(single.astype(np.float64), x, equal_nan=True)
    raw = single.tobytes() if exact else x.astype("<f8").tobytes()
    data = base64.b64encode(zlib.compress(raw, 6)).decode("ascii")
    return {"dtype": "<f4" if exact else "<f8", "data": data}


def unpack_samples(packed: Any) -> npt.NDArray[np.float64]:
    """The samples of :func:`pack_samples` (or of a plain list, NaN as None)."""
    if isinstance(packed, list):  # the states saved before the samples were packed
        return np.array([np.nan if v is None else float(v) for v in packed], np.float64)
    dtype = np.dtype(packed["dtype"])
    if dtype not in (np.dtype("<f4"), np.dtype("<f8")):
        raise ValueError(f"dtype {packed['dtype']!r}")
    raw = zlib.decompress(base64.b64decode(packed["data"], validate=True))
    return np.frombuffer(raw, dtype).astype(np.float64)


def _dft_tables(n: int, fs: float) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float32], int]:
    """The tables of :func:`~cardiostream.beats._gate_kernel.dft_ratio` for a full span of
    ``n`` samples, and its number of 5-15 Hz bins; no bins below 90 Hz (no ``hf_ratio``).
    Shared by the gates of one span and rate."""
    key = (n, fs)
    if key not in _TABLES:
        if fs < 90 or n < 1:
            bins = np.zeros(0, np.int64)
            n_qrs = 0
        else:
            qrs, high = _band_bins(n, fs)
            bins = np.r_[np.arange(qrs.start, qrs.stop), np.arange(high.start, high.stop)]
            n_qrs = qrs.stop - qrs.start
        twiddle, phase = _gk.dft_tables(max(n, 1), bins.astype(np.int64))
        twiddle.setflags(write=False)
        phase.setflags(write=False)
        _TABLES[key] = (twiddle, phase, n_qrs)
    return _TABLES[key]


def _band_bins(n: int, fs: float) -> tuple[slice, slice]:
    """The rFFT bins of a span of ``n`` samples in 5-15 Hz and in 40-100 Hz."""
    freqs = np.fft.rfftfreq(n, 1.0 / fs)

    def band(lo: float, hi: float) -> slice:
        k = np.flatnonzero((freqs >= lo) & (freqs < hi))
        return slice(int(k[0]), int(k[-1]) + 1) if k.size else slice(0, 0)

    return band(5.0, 15.0), band(40.0, 100.0)


def _band_ratio(xw: npt.NDArray[np.floating[Any]], bins: tuple[slice, slice]) -> FloatArray:
    """``hf_ratio`` of each row of ``xw`` (spans of one length, centred and Hann-windowed;
    fs >= 90 Hz): the power 40-100 Hz over 5-15 Hz of the periodogram, as in
    :mod:`cardiostream.dsp.quality`; ``bins`` from :func:`_band_bins`."""
    spectrum = scipy.fft.rfft(xw, axis=1)  # single precision in, single out
    out = np.empty(xw.shape[0])
    qrs, high = bins
    _gk.band_ratios(
        spectrum.astype(np.complex64, copy=False), qrs.start, qrs.stop, high.start, high.stop, out
    )
    return out
