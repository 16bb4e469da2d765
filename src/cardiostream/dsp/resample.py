"""Resampling between ECG sampling rates by rational polyphase filtering.

Two definitions are provided:

:func:`resample`
    Zero-phase (``scipy.signal.resample_poly``): output sample ``k`` lies at time ``k / fs_out``
    exactly, but each output depends on future inputs, so it cannot run live.
:func:`resample_causal` and :class:`Resampler`
    The same anti-aliasing filter run causally: output ``k`` is computed as soon as the input
    sample at or before time ``k / fs_out`` has arrived, and equals the zero-phase output
    ``k - delay_samples`` (a fixed delay of ``delay_samples`` output samples). The streaming
    class and the offline function are the same code, so they agree for any chunking.

The filter is ``resample_poly``'s default (Kaiser window, beta 5, cut-off at the lower Nyquist
rate) with its half length rounded up to a whole number of output samples: ten samples of the
lower rate, which is 40 ms when downsampling to 250 Hz (360, 300, 500, 1000 -> 250) and 80 ms
when upsampling 128 -> 250. Equal rates pass samples through unchanged with no delay.

Rates are related by ``fs_out / fs_in = up / down``, the fraction with denominator at most 1000
nearest to the ratio; ``Resampler.fs_out`` is the exact resulting rate.

Causal outputs use the streaming conventions of :mod:`cardiostream.dsp.filters`: float64,
1-D in gives 1-D out, ``[n, leads]`` gives ``[m, leads]``; before the first sample the input is
taken as constant at its first finite value; a missing (non-finite) input is held at the last
finite value for the filter and makes NaN every output whose delayed time falls next to it
(between the two input samples that bracket ``(k - delay_samples) / fs_out``).
"""

from __future__ import annotations

import math
from fractions import Fraction
from typing import Any, cast

import numpy as np
import numpy.typing as npt
from scipy import signal as sps

from cardiostream.dsp import _kernels
from cardiostream.dsp.filters import (
    FloatArray,
    StreamFilter,
    _check_fs,
    check_lead_axis,
    hold_fill,
)
from cardiostream.errors import InputError

#: Largest denominator accepted for the ratio fs_out / fs_in.
MAX_DENOMINATOR = 1000

#: Chunks at least this long are resampled by ``scipy.signal.upfirdn`` rather than the kernel.
_UPFIRDN_MIN_SAMPLES = 2048

#: Half length of the anti-aliasing filter, in samples of the lower of the two rates.
HALF_LENGTH_LOW_RATE = 10


def rational_ratio(fs_in: float, fs_out: float) -> tuple[int, int]:
    """Return ``(up, down)`` with ``fs_out / fs_in ~= up / down`` in lowest terms.

    Raises
    ------
    InputError
        If a rate is not positive, or the ratio is not within 1e-6 of a fraction whose
        denominator is at most 1000.
    """
    fs_in = _check_fs(fs_in, "fs_in")
    fs_out = _check_fs(fs_out, "fs_out")
    frac = Fraction(fs_out / fs_in).limit_denominator(MAX_DENOMINATOR)
    if frac.numerator == 0 or abs(float(frac) * fs_in - fs_out) > 1e-6 * fs_out:
        raise InputError(
            f"fs_out: ratio {fs_out:g}/{fs_in:g} Hz is not a fraction with a denominator "
            f"<= {MAX_DENOMINATOR}"
        )
    return frac.numerator, frac.denominator


def design_filter(up: int, down: int) -> tuple[FloatArray, int]:
    """Anti-aliasing filter for ``up / down`` resampling and its half length.

    Returns
    -------
    taps : ndarray of float64
        Symmetric FIR of odd length ``2 * half_len + 1`` at the rate ``up * fs_in``, scaled by
        ``up`` (the zero-stuffing gain).
    half_len : int
        A multiple of ``down``: the delay is ``half_len / down`` output samples.
    """
    if up == down == 1:
        return np.ones(1), 0
    max_rate = max(up, down)
    half_len = down * math.ceil(HALF_LENGTH_LOW_RATE * max_rate / down)
    taps = sps.firwin(2 * half_len + 1, 1.0 / max_rate, window=("kaiser", 5.0)) * up
    return np.asarray(taps, dtype=np.float64), half_len


def resample(signal: npt.ArrayLike, fs_in: float, fs_out: float) -> FloatArray:
    """Zero-phase polyphase resampling of a whole signal (``scipy.signal.resample_poly``).

    Parameters
    ----------
    signal : array_like, shape (n,) or (n, n_leads)
        Input samples; non-finite values spread over the filter's support, so use
        :func:`resample_causal` for signals with gaps.
    fs_in, fs_out : float
        Input and output sampling rates in Hz.

    Returns
    -------
    ndarray of float64, shape (ceil(n * up / down),) or (..., n_leads)
        Output sample ``k`` lies at time ``k / fs_out``. The ends are extended with the edge
        values, matching the causal version's start-up.
    """
    x = _as_signal(signal)
    up, down = rational_ratio(fs_in, fs_out)
    if up == down or x.shape[0] == 0:
        return x.copy()
    taps, _ = design_filter(up, down)
    # The stubs do not list FIR taps as a window, though resample_poly documents them.
    window = cast(Any, taps / up)
    out = sps.resample_poly(x, up, down, axis=0, window=window, padtype="edge")
    return np.asarray(out, dtype=np.float64)


def resample_causal(signal: npt.ArrayLike, fs_in: float, fs_out: float) -> FloatArray:
    """Causal polyphase resampling of a whole signal: exactly what :class:`Resampler` streams.

    Output ``k`` equals ``resample(signal, ...)[k - delay]`` away from the ends, with
    ``delay = Resampler(fs_in, fs_out).delay_samples``.
    """
    return Resampler(fs_in, fs_out).process(_as_signal(signal))


def _as_signal(signal: npt.ArrayLike) -> FloatArray:
    x = np.asarray(signal, dtype=np.float64)
    if x.ndim not in (1, 2):
        raise InputError(f"signal: expected a 1-D or 2-D [n_samples, n_leads] array, got {x.shape}")
    check_lead_axis(x.shape, "signal")
    return x


class Resampler(StreamFilter):
    """Streaming causal polyphase resampler with a fixed delay.

    ``process(chunk)`` returns every output sample whose time ``k / fs_out`` is at or before
    the last input sample received, so after ``n`` inputs in total exactly
    ``ceil(n * up / down)`` outputs have been returned, whatever the chunking.

    Parameters
    ----------
    fs_in, fs_out : float
        Input and output sampling rates in Hz.
    exact : bool
        Compute every output with the same kernel, so that any chunking gives bit-identical
        output; by default chunks of 2,048 samples or more go through
        ``scipy.signal.upfirdn``, equal to rounding.

    Attributes
    ----------
    up, down : int
        The rational ratio.
    fs_out : float
        The exact output rate ``fs_in * up / down``.
    taps : ndarray
        The anti-aliasing FIR at rate ``up * fs_in``.
    """

    _state_names = ("_hist", "_hist_missing", "_hold", "_started", "_n_in", "_n_out")

    def __init__(self, fs_in: float, fs_out: float, *, exact: bool = False) -> None:
        super().__init__()
        self.exact = bool(exact)
        self.up, self.down = rational_ratio(fs_in, fs_out)
        self.fs_in = float(fs_in)
        self.fs_out = self.fs_in * self.up / self.down
        self.taps, self.half_len = design_filter(self.up, self.down)
        n_phase_taps = -(-self.taps.size // self.up)
        padded = np.zeros(n_phase_taps * self.up)
        padded[: self.taps.size] = self.taps
        # phases[p, t] = taps[p + t * up]: the taps that meet input samples for phase p.
        self._phases = np.ascontiguousarray(padded.reshape(n_phase_taps, self.up).T)
        # One sample more than the taps span, for the NaN bracket of the oldest output.
        self._hist_len = n_phase_taps + 1
        self._n_in = 0
        self._n_out = 0

    @property
    def config(self) -> dict[str, Any]:
        """Constructor parameters."""
        return {"fs_in": self.fs_in, "fs_out": self.fs_out}

    @property
    def delay_samples(self) -> float:
        """Delay in output samples (an integer: 10 for downsampling to 250 Hz)."""
        return float(self.half_len // self.down)

    @property
    def delay_s(self) -> float:
        """Delay in seconds."""
        return self.delay_samples / self.fs_out

    @property
    def n_in(self) -> int:
        """Input samples received so far."""
        return self._n_in

    @property
    def n_out(self) -> int:
        """Output samples returned so far."""
        return self._n_out

    def reset(self) -> None:
        """Forget all state."""
        super().reset()
        self._n_in = 0
        self._n_out = 0

    def _allocate(self, n_leads: int) -> None:
        self._hist = np.zeros((self._hist_len, n_leads))
        self._hist_missing = np.zeros((self._hist_len, n_leads), dtype=np.bool_)
        self._hold = np.zeros(n_leads)
        self._started = np.zeros(n_leads, dtype=np.bool_)
        self._n_in = 0
        self._n_out = 0

    def _run(self, x: FloatArray) -> FloatArray:
        n, n_leads = x.shape
        xf, missing, start_at = hold_fill(x, self._hold, self._started)
        if missing is None:
            missing = np.zeros(x.shape, dtype=np.bool_)
        if self._n_in == 0:
            # Before the signal, each lead is as its first sample: present or missing.
            self._hist_missing[:] = missing[0]
        for c in np.flatnonzero(start_at >= 0):
            self._hist[:, c] = xf[start_at[c], c]
        ext = np.concatenate([self._hist, xf])
        ext_missing = np.concatenate([self._hist_missing, missing])
        first = self._n_in - self._hist_len
        total_in = self._n_in + n
        k0, k_end = self._n_out, -(-total_in * self.up // self.down)
        if n >= _UPFIRDN_MIN_SAMPLES and not self.exact:
            y = self._run_upfirdn(ext, ext_missing, first, k0, k_end)
        else:
            y = np.empty((k_end - k0, n_leads))
            _kernels.polyphase_kernel(
                self._phases, self.up, self.down, self.half_len, ext, ext_missing, first, k0, y
            )
        self._hist = np.ascontiguousarray(ext[-self._hist_len :])
        self._hist_missing = np.ascontiguousarray(ext_missing[-self._hist_len :])
        self._n_in = total_in
        self._n_out = k_end
        return y

    def _run_upfirdn(
        self,
        ext: FloatArray,
        ext_missing: npt.NDArray[np.bool_],
        first: int,
        k0: int,
        k_end: int,
    ) -> FloatArray:
        """The polyphase kernel's outputs computed by ``scipy.signal.upfirdn`` (faster on long
        chunks; equal to rounding). ``upfirdn`` starts its output grid at its first input, so
        the input is extended back to a global index that is a multiple of ``down``; the
        zeros put there only reach outputs before ``k0``, which are dropped."""
        start = (first // self.down) * self.down
        padded = np.concatenate([np.zeros((first - start, ext.shape[1])), ext])
        offset = start * self.up // self.down  # global index of upfirdn's output 0
        full = sps.upfirdn(self.taps, padded, self.up, self.down, axis=0)
        y = np.ascontiguousarray(full[k0 - offset : k_end - offset])
        if ext_missing.any():
            centre = np.arange(k0, k_end, dtype=np.int64) * self.down - self.half_len
            i0 = centre // self.up
            i1 = i0 + (centre % self.up != 0)
            y[ext_missing[i0 - first] | ext_missing[i1 - first]] = np.nan
        return y
