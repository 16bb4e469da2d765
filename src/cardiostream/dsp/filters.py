"""Stream-exact ECG filters: Butterworth band-pass, notch, baseline high-pass, FIR band-pass,
moving average, and the :class:`ECGCleaner` chain.

Every filter exists twice: a function over a whole signal and a stateful class whose
``process(chunk)`` takes chunks of any size (empty and one-sample chunks included). The
function runs the class over one chunk, and the class carries its complete state between
calls, so any split of a signal into chunks gives the same output as one pass.

Conventions shared by all filters
---------------------------------
Shape
    A 1-D chunk is one lead and gives a 1-D output; a 2-D chunk is ``[n_samples, n_leads]``
    and gives the same shape. The number of leads is fixed by the first non-empty chunk.
dtype
    Computed in float64 and returned as float64, whatever the input dtype.
Start-up
    Each lead starts in the steady state of its first finite sample, as if the signal had been
    constant at that value forever, so a DC offset causes no start-up transient.
Missing samples
    A non-finite input (NaN, ±inf) is replaced by the lead's last finite value for the state
    update, and its output is NaN. The state never holds a NaN, so filtering recovers as soon as
    the missing run ends (after the filter's ordinary response to the step between the held
    value and the new one). Samples before a lead's first finite one give NaN.
Delay
    ``delay_samples`` is the group delay in samples: exact for the linear-phase filters (FIR and
    moving average, ``(numtaps - 1) / 2``); for IIR filters the group delay at ``ref_freq``
    (10 Hz, the middle of the QRS band, unless given), since it varies with frequency.
State
    ``state_dict()`` returns plain Python values (lists, floats, ints, bools, str) that survive
    JSON; ``load_state_dict()`` restores them into a filter built with the same parameters.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from functools import lru_cache
from typing import Any, ClassVar, Literal

import numpy as np
import numpy.typing as npt
from scipy import signal as sps

from cardiostream.dsp import _kernels
from cardiostream.errors import InputError

FloatArray = npt.NDArray[np.float64]

#: Above this many multiply-adds per chunk the FIR filter convolves by FFT instead of directly.
_FFT_MIN_WORK = 4_000_000
#: More leads than this in a [n_samples, n_leads] array is an array the wrong way round.
MAX_ARRAY_LEADS = 64


def check_lead_axis(shape: tuple[int, ...], what: str = "chunk") -> None:
    """InputError for a 2-D ``shape`` with more than :data:`MAX_ARRAY_LEADS` leads: an
    ``[n_leads, n_samples]`` array given where ``[n_samples, n_leads]`` is expected."""
    if len(shape) == 2 and shape[1] > MAX_ARRAY_LEADS:
        raise InputError(
            f"{what}: shape {shape} reads as {shape[1]} leads of {shape[0]} samples; expected "
            f"[n_samples, n_leads] (at most {MAX_ARRAY_LEADS} leads): transpose it"
        )


#: Frequency (Hz) at which the group delay of IIR filters is reported.
QRS_REF_FREQ = 10.0


BType = Literal["lowpass", "highpass", "bandpass", "bandstop"]


@lru_cache(maxsize=256)
def _butter_cached(
    order: int, cutoff: float | tuple[float, float], btype: BType, fs: float
) -> FloatArray:
    wn = list(cutoff) if isinstance(cutoff, tuple) else cutoff
    sos = np.asarray(sps.butter(order, wn, btype=btype, fs=fs, output="sos"), np.float64)
    sos.setflags(write=False)
    return sos


def butter_sos(order: int, cutoff: float | Sequence[float], btype: BType, fs: float) -> FloatArray:
    """Butterworth second-order sections, designed once per set of arguments.

    A live server builds a filter chain per stream; the design (``scipy.signal.butter``) is
    most of that cost, so designs are cached (the returned array is read-only: copy to edit).
    """
    if isinstance(cutoff, int | float):
        return _butter_cached(int(order), float(cutoff), btype, float(fs))
    lo, hi = (float(c) for c in cutoff)
    return _butter_cached(int(order), (lo, hi), btype, float(fs))


def _check_fs(fs: float, name: str = "fs") -> float:
    fs = float(fs)
    if not np.isfinite(fs) or fs <= 0:
        raise InputError(f"{name}: sampling rate must be a positive number, got {fs}")
    return fs


def _check_band(fs: float, low: float | None, high: float | None) -> None:
    nyq = fs / 2
    if low is not None and not 0 < low < nyq:
        raise InputError(f"low: cut-off must lie in (0, fs/2 = {nyq:g}) Hz, got {low}")
    if high is not None and not 0 < high < nyq:
        raise InputError(f"high: cut-off must lie in (0, fs/2 = {nyq:g}) Hz, got {high}")
    if low is not None and high is not None and low >= high:
        raise InputError(f"low: cut-off {low} Hz must be below high = {high} Hz")


def _check_order(order: int) -> int:
    if int(order) != order or not 1 <= order <= 8:
        raise InputError(f"order: must be an integer in 1..8, got {order}")
    return int(order)


class StreamFilter(ABC):
    """Base of the stateful filters: shape handling, lead count and state (de)serialisation.

    Subclasses implement :meth:`_allocate` (create the state arrays for ``n_leads``) and
    :meth:`_run` (process a non-empty float64 ``[n, n_leads]`` chunk) and list the names of
    their state attributes in ``_state_names``.
    """

    _state_names: ClassVar[tuple[str, ...]] = ()

    def __init__(self) -> None:
        self._n_leads: int | None = None

    @property
    @abstractmethod
    def config(self) -> dict[str, Any]:
        """The constructor parameters, as plain Python values."""

    @property
    @abstractmethod
    def delay_samples(self) -> float:
        """Group delay in samples of the output rate (see the module notes)."""

    @abstractmethod
    def _allocate(self, n_leads: int) -> None: ...

    @abstractmethod
    def _run(self, x: FloatArray) -> FloatArray: ...

    def process(self, chunk: npt.ArrayLike) -> FloatArray:
        """Filter the next chunk of samples.

        Parameters
        ----------
        chunk : array_like, shape (n,) or (n, n_leads)
            The next samples; ``n`` may be 0.

        Returns
        -------
        ndarray of float64
            The filtered samples, 1-D for a 1-D chunk, ``[m, n_leads]`` otherwise (``m = n``
            for filters, the number of new output samples for a resampler).
        """
        x = np.asarray(chunk, dtype=np.float64)
        one_d = x.ndim == 1
        if one_d:
            x = x.reshape(-1, 1)
        elif x.ndim != 2:
            raise InputError(
                f"chunk: expected a 1-D or 2-D [n_samples, n_leads] array, got {x.ndim}-D"
            )
        check_lead_axis(x.shape)
        if self._n_leads is None:
            if x.shape[0] == 0:
                return np.zeros((0,) if one_d else (0, x.shape[1]), np.float64)
            if x.shape[1] == 0:
                raise InputError("chunk: has no leads (shape [n, 0])")
            self._n_leads = x.shape[1]
            self._allocate(x.shape[1])
        elif x.shape[1] != self._n_leads:
            raise InputError(
                f"chunk: has {x.shape[1]} leads but this filter was started with {self._n_leads}"
            )
        y = self._run(np.ascontiguousarray(x)) if x.shape[0] else np.zeros((0, x.shape[1]))
        return y[:, 0] if one_d else y

    def reset(self) -> None:
        """Forget all state: the next chunk is treated as the start of a new signal."""
        self._n_leads = None
        for name in self._state_names:
            if hasattr(self, name):
                delattr(self, name)

    @property
    def n_leads(self) -> int | None:
        """Number of leads, fixed by the first non-empty chunk (None before it)."""
        return self._n_leads

    def state_dict(self) -> dict[str, Any]:
        """Return the complete state as plain Python values (JSON-serialisable)."""
        state: dict[str, Any] = {
            "type": type(self).__name__,
            "config": self.config,
            "n_leads": self._n_leads,
        }
        if self._n_leads is not None:
            for name in self._state_names:
                value = getattr(self, name)
                state[name] = value.tolist() if isinstance(value, np.ndarray) else value
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore a state returned by :meth:`state_dict` of a filter with the same parameters.

        Raises
        ------
        InputError
            If the state belongs to another filter type or parameters, or is malformed.
        """
        kind = state.get("type")
        if kind != type(self).__name__:
            raise InputError(f"state_dict: type {kind!r} does not match {type(self).__name__}")
        if state.get("config") != self.config:
            raise InputError(f"state_dict: config {state.get('config')} differs from {self.config}")
        n_leads = state.get("n_leads")
        self.reset()
        if n_leads is None:
            return
        if not isinstance(n_leads, int) or n_leads < 1:
            raise InputError(f"state_dict: n_leads must be a positive integer, got {n_leads!r}")
        self._n_leads = n_leads
        self._allocate(n_leads)
        for name in self._state_names:
            if name not in state:
                self.reset()
                raise InputError(f"state_dict: missing field {name!r}")
            current = getattr(self, name)
            if isinstance(current, np.ndarray):
                value = np.array(state[name], dtype=current.dtype)
                if value.shape != current.shape:
                    self.reset()
                    raise InputError(
                        f"state_dict: field {name!r} has shape {value.shape}, "
                        f"expected {current.shape}"
                    )
                setattr(self, name, value)
            else:
                setattr(self, name, type(current)(state[name]))


def hold_fill(
    x: FloatArray, hold: FloatArray, started: npt.NDArray[np.bool_]
) -> tuple[FloatArray, npt.NDArray[np.bool_] | None, npt.NDArray[np.int64]]:
    """Apply the missing-sample policy to a chunk, updating ``hold`` and ``started``.

    Returns
    -------
    filled : ndarray
        ``x`` with missing samples held at the last finite value (and a lead's samples before
        its first finite one back-filled with it).
    missing : ndarray of bool or None
        Where ``x`` is not finite; None when every sample is finite.
    start_at : ndarray of int64
        Per lead, the index where it started in this chunk, or -1.
    """
    if started.all() and np.isfinite(x).all():
        hold[:] = x[-1]
        return x, None, np.full(x.shape[1], -1, dtype=np.int64)
    filled = np.empty_like(x)
    missing = np.empty(x.shape, dtype=np.bool_)
    start_at = np.empty(x.shape[1], dtype=np.int64)
    _kernels.hold_fill_kernel(x, hold, started, filled, missing, start_at)
    return filled, missing, start_at


class SOSFilter(StreamFilter):
    """Any IIR filter given as second-order sections, run with carried state.

    Parameters
    ----------
    sos : array_like, shape (n_sections, 6)
        Second-order sections as returned by ``scipy.signal.butter(..., output="sos")``.
    fs : float
        Sampling rate in Hz (used for ``delay_samples``).
    ref_freq : float, optional
        Frequency at which ``delay_samples`` is evaluated; 10 Hz (or fs/4 if that is lower) by
        default.
    """

    _state_names = ("_zi", "_hold", "_started")

    def __init__(self, sos: npt.ArrayLike, fs: float, ref_freq: float | None = None) -> None:
        super().__init__()
        self.fs = _check_fs(fs)
        sos_arr = np.array(sos, dtype=np.float64, ndmin=2)
        if sos_arr.ndim != 2 or sos_arr.shape[1] != 6 or sos_arr.shape[0] == 0:
            raise InputError(f"sos: expected shape (n_sections, 6), got {sos_arr.shape}")
        if not np.all(np.isfinite(sos_arr)) or np.any(sos_arr[:, 3] == 0):
            raise InputError("sos: coefficients must be finite with a0 != 0")
        self.sos = np.ascontiguousarray(sos_arr / sos_arr[:, 3:4])
        self._zi_unit = np.ascontiguousarray(sps.sosfilt_zi(self.sos))
        self.ref_freq = float(ref_freq) if ref_freq is not None else min(QRS_REF_FREQ, fs / 4)

    @property
    def config(self) -> dict[str, Any]:
        """The sections and sampling rate."""
        return {"sos": self.sos.tolist(), "fs": self.fs}

    @property
    def delay_samples(self) -> float:
        """Group delay in samples at ``ref_freq``."""
        return self.delay_at(self.ref_freq)

    def delay_at(self, freq: float) -> float:
        """Group delay in samples at ``freq`` Hz (the sum over the sections)."""
        total = 0.0
        for sec in self.sos:
            _, gd = sps.group_delay((sec[:3], sec[3:]), w=[freq], fs=self.fs)
            total += float(gd[0])
        return total

    def frequency_response(self, freqs: npt.ArrayLike) -> FloatArray:
        """Magnitude response ``|H(f)|`` at the frequencies ``freqs`` (Hz)."""
        _, h = sps.sosfreqz(self.sos, worN=np.asarray(freqs, dtype=np.float64), fs=self.fs)
        return np.abs(h)

    def _allocate(self, n_leads: int) -> None:
        self._zi = np.zeros((self.sos.shape[0], 2, n_leads))
        self._hold = np.zeros(n_leads)
        self._started = np.zeros(n_leads, dtype=np.bool_)

    def _run(self, x: FloatArray) -> FloatArray:
        y = np.empty_like(x)
        _kernels.sos_kernel(self.sos, self._zi_unit, x, self._zi, self._hold, self._started, y)
        return y


class BandpassFilter(SOSFilter):
    """Butterworth band-pass (zero-pole design as second-order sections).

    Parameters
    ----------
    fs : float
        Sampling rate in Hz.
    low, high : float
        Cut-off frequencies (-3 dB) in Hz; default 0.5-40 Hz, the diagnostic-quality monitoring
        band without mains interference.
    order : int
        Butterworth order of each edge (the filter has ``2 * order`` poles); 2 to 4 are usual.
    """

    def __init__(self, fs: float, low: float = 0.5, high: float = 40.0, order: int = 2) -> None:
        fs = _check_fs(fs)
        _check_band(fs, low, high)
        self.low, self.high, self.order = float(low), float(high), _check_order(order)
        sos = butter_sos(self.order, (self.low, self.high), "bandpass", fs)
        super().__init__(sos, fs)

    @property
    def config(self) -> dict[str, Any]:
        """Constructor parameters."""
        return {"fs": self.fs, "low": self.low, "high": self.high, "order": self.order}


class NotchFilter(SOSFilter):
    """Mains-interference notch (``scipy.signal.iirnotch``).

    Parameters
    ----------
    fs : float
        Sampling rate in Hz.
    freq : float
        Frequency to remove, 50 or 60 Hz.
    q : float
        Quality factor: the -3 dB width is ``freq / q`` (30 gives ~1.7 Hz at 50 Hz).
    """

    def __init__(self, fs: float, freq: float = 50.0, q: float = 30.0) -> None:
        fs = _check_fs(fs)
        if not 0 < freq < fs / 2:
            raise InputError(f"freq: notch frequency must lie in (0, {fs / 2:g}) Hz, got {freq}")
        if not q > 0:
            raise InputError(f"q: quality factor must be positive, got {q}")
        self.freq, self.q = float(freq), float(q)
        b, a = sps.iirnotch(self.freq, self.q, fs=fs)
        super().__init__(sps.tf2sos(b, a), fs)

    @property
    def config(self) -> dict[str, Any]:
        """Constructor parameters."""
        return {"fs": self.fs, "freq": self.freq, "q": self.q}


class BaselineFilter(SOSFilter):
    """Baseline-wander removal by a causal Butterworth high-pass.

    A 0.5 Hz order-2 high-pass removes respiration and electrode drift while keeping the heart
    rate's fundamental (> 0.67 Hz above 40 bpm); being causal and non-linear-phase it bends the
    ST segment slightly, which matters for ST analysis but not for beat detection or rhythm.

    Parameters
    ----------
    fs : float
        Sampling rate in Hz.
    cutoff : float
        -3 dB cut-off in Hz.
    order : int
        Butterworth order.
    """

    def __init__(self, fs: float, cutoff: float = 0.5, order: int = 2) -> None:
        fs = _check_fs(fs)
        _check_band(fs, cutoff, None)
        self.cutoff, self.order = float(cutoff), _check_order(order)
        sos = butter_sos(self.order, self.cutoff, "highpass", fs)
        super().__init__(sos, fs)

    @property
    def config(self) -> dict[str, Any]:
        """Constructor parameters."""
        return {"fs": self.fs, "cutoff": self.cutoff, "order": self.order}


class ECGCleaner(SOSFilter):
    """The shared ECG conditioning chain: baseline high-pass, low-pass, optional mains notch.

    All stages are cascaded into one set of second-order sections, so the chain costs a single
    kernel call per chunk.

    Parameters
    ----------
    fs : float
        Sampling rate in Hz.
    low : float
        Baseline high-pass cut-off in Hz.
    high : float or None
        Low-pass cut-off in Hz; None (or a value at or above 0.45 fs, for low sampling rates)
        leaves the top of the band to the anti-aliasing of the source.
    order : int
        Butterworth order of the high-pass and of the low-pass.
    notch : float or None
        Mains frequency to notch out (50 or 60), or None for no notch.
    notch_q : float
        Quality factor of the notch.
    """

    def __init__(
        self,
        fs: float,
        low: float = 0.5,
        high: float | None = 40.0,
        order: int = 2,
        notch: float | None = None,
        notch_q: float = 30.0,
    ) -> None:
        fs = _check_fs(fs)
        if high is not None and high >= 0.45 * fs:
            high = None
        _check_band(fs, low, high)
        self.low, self.order = float(low), _check_order(order)
        self.high = None if high is None else float(high)
        self.notch = None if notch is None else float(notch)
        self.notch_q = float(notch_q)
        parts = [butter_sos(self.order, self.low, "highpass", fs)]
        if self.high is not None:
            parts.append(butter_sos(self.order, self.high, "lowpass", fs))
        if self.notch is not None:
            parts.append(NotchFilter(fs, self.notch, self.notch_q).sos)
        super().__init__(np.vstack(parts), fs)

    @property
    def config(self) -> dict[str, Any]:
        """Constructor parameters (``high`` after the low-sampling-rate rule)."""
        return {
            "fs": self.fs,
            "low": self.low,
            "high": self.high,
            "order": self.order,
            "notch": self.notch,
            "notch_q": self.notch_q,
        }


class FIRBandpassFilter(StreamFilter):
    """Linear-phase FIR band-pass (``scipy.signal.firwin``), run causally.

    The output is delayed by exactly ``(numtaps - 1) / 2`` samples at every frequency, so the
    waveform keeps its shape (no ST bending) at the price of a longer delay than IIR filters.

    Parameters
    ----------
    fs : float
        Sampling rate in Hz.
    low, high : float
        Band edges (-6 dB) in Hz.
    numtaps : int or None
        Filter length, odd. Default: the odd number nearest to ``fs``, a 0.5 s delay, whose
        Hamming transition band is ~3.3 Hz wide: the 0.5 Hz edge is soft (full pass from
        ~2 Hz); use ``numtaps ~ 3.3 * fs / low`` for a sharp low edge.
    window : str
        Window passed to ``firwin``.
    """

    _state_names = ("_tail", "_hold", "_started")

    def __init__(
        self,
        fs: float,
        low: float = 0.5,
        high: float = 40.0,
        numtaps: int | None = None,
        window: str = "hamming",
    ) -> None:
        super().__init__()
        self.fs = _check_fs(fs)
        _check_band(self.fs, low, high)
        if numtaps is None:
            numtaps = 2 * round(self.fs / 2) + 1
        if int(numtaps) != numtaps or numtaps < 3 or numtaps % 2 == 0:
            raise InputError(f"numtaps: must be an odd integer >= 3, got {numtaps}")
        self.low, self.high, self.numtaps = float(low), float(high), int(numtaps)
        self.window = window
        self.taps = sps.firwin(
            self.numtaps, [self.low, self.high], pass_zero=False, window=window, fs=self.fs
        ).astype(np.float64)

    @property
    def config(self) -> dict[str, Any]:
        """Constructor parameters."""
        return {
            "fs": self.fs,
            "low": self.low,
            "high": self.high,
            "numtaps": self.numtaps,
            "window": self.window,
        }

    @property
    def delay_samples(self) -> float:
        """Exact group delay ``(numtaps - 1) / 2``."""
        return (self.numtaps - 1) / 2

    def frequency_response(self, freqs: npt.ArrayLike) -> FloatArray:
        """Magnitude response ``|H(f)|`` at the frequencies ``freqs`` (Hz)."""
        _, h = sps.freqz(self.taps, worN=np.asarray(freqs, dtype=np.float64), fs=self.fs)
        return np.abs(h)

    def _allocate(self, n_leads: int) -> None:
        self._tail = np.zeros((self.numtaps - 1, n_leads))
        self._hold = np.zeros(n_leads)
        self._started = np.zeros(n_leads, dtype=np.bool_)

    def _run(self, x: FloatArray) -> FloatArray:
        xf, missing, start_at = hold_fill(x, self._hold, self._started)
        for c in np.flatnonzero(start_at >= 0):
            self._tail[:, c] = xf[start_at[c], c]
        ext = np.concatenate([self._tail, xf])
        if x.shape[0] * self.numtaps >= _FFT_MIN_WORK:
            y = np.column_stack(
                [sps.oaconvolve(ext[:, c], self.taps, mode="valid") for c in range(x.shape[1])]
            )
        else:
            y = np.empty_like(x)
            _kernels.fir_kernel(self.taps, ext, y)
        if missing is not None:
            y[missing] = np.nan
        self._tail = np.ascontiguousarray(ext[ext.shape[0] - (self.numtaps - 1) :])
        return y


class MovingAverage(StreamFilter):
    """Causal moving average over the last ``width`` samples (a boxcar FIR).

    Parameters
    ----------
    width : int
        Window length in samples (``round(seconds * fs)``); ``delay_samples`` is
        ``(width - 1) / 2``.
    """

    _state_names = ("_buf", "_pos", "_acc", "_hold", "_started")

    def __init__(self, width: int) -> None:
        super().__init__()
        if int(width) != width or width < 1:
            raise InputError(f"width: moving-average length must be an integer >= 1, got {width}")
        self.width = int(width)
        self._pos = 0

    @property
    def config(self) -> dict[str, Any]:
        """Constructor parameters."""
        return {"width": self.width}

    @property
    def delay_samples(self) -> float:
        """Exact group delay ``(width - 1) / 2``."""
        return (self.width - 1) / 2

    def reset(self) -> None:
        """Forget all state."""
        super().reset()
        self._pos = 0

    def _allocate(self, n_leads: int) -> None:
        self._buf = np.zeros((self.width, n_leads))
        self._pos = 0
        self._acc = np.zeros(n_leads)
        self._hold = np.zeros(n_leads)
        self._started = np.zeros(n_leads, dtype=np.bool_)

    def _run(self, x: FloatArray) -> FloatArray:
        y = np.empty_like(x)
        self._pos = int(
            _kernels.moving_average_kernel(
                x, self._buf, self._pos, self._acc, self._hold, self._started, y
            )
        )
        return y


def bandpass(
    signal: npt.ArrayLike, fs: float, low: float = 0.5, high: float = 40.0, order: int = 2
) -> FloatArray:
    """Causal Butterworth band-pass of a whole signal (see :class:`BandpassFilter`)."""
    return BandpassFilter(fs, low, high, order).process(signal)


def notch(signal: npt.ArrayLike, fs: float, freq: float = 50.0, q: float = 30.0) -> FloatArray:
    """Mains notch of a whole signal (see :class:`NotchFilter`)."""
    return NotchFilter(fs, freq, q).process(signal)


def remove_baseline(
    signal: npt.ArrayLike, fs: float, cutoff: float = 0.5, order: int = 2
) -> FloatArray:
    """Causal high-pass baseline-wander removal of a whole signal (see :class:`BaselineFilter`)."""
    return BaselineFilter(fs, cutoff, order).process(signal)


def fir_bandpass(
    signal: npt.ArrayLike,
    fs: float,
    low: float = 0.5,
    high: float = 40.0,
    numtaps: int | None = None,
    window: str = "hamming",
) -> FloatArray:
    """Causal linear-phase FIR band-pass of a whole signal (see :class:`FIRBandpassFilter`)."""
    return FIRBandpassFilter(fs, low, high, numtaps, window).process(signal)


def moving_average(signal: npt.ArrayLike, width: int) -> FloatArray:
    """Causal moving average over ``width`` samples of a whole signal (see
    :class:`MovingAverage`)."""
    return MovingAverage(width).process(signal)


def clean_ecg(
    signal: npt.ArrayLike,
    fs: float,
    low: float = 0.5,
    high: float | None = 40.0,
    order: int = 2,
    notch: float | None = None,
    notch_q: float = 30.0,
) -> FloatArray:
    """Run the :class:`ECGCleaner` chain over a whole signal."""
    return ECGCleaner(fs, low, high, order, notch, notch_q).process(signal)
