"""The rhythm model's input conditioning: causal resampling to 250 Hz, then the ECG cleaner.

Training data, offline analysis and live streams all go through this one chain, so the network
sees the same numbers in every setting:

1. :class:`cardiostream.dsp.Resampler` from the source rate to :data:`MODEL_FS` (a causal
   polyphase filter; skipped when the source is already at 250 Hz);
2. :class:`cardiostream.dsp.ECGCleaner` at 250 Hz with its defaults (0.5 Hz high-pass and
   40 Hz low-pass, Butterworth order 2, causal, no notch: the low-pass already removes mains);
3. conversion to float32, with missing samples set to 0.

Delay
    The output lags the input by the resampler's fixed delay (10 output samples, 40 ms, for
    every rate above 250 Hz; 0 at 250 Hz; 80 ms from 128 Hz) plus the cleaner's frequency-
    dependent group delay (a few samples in the QRS band). :attr:`Preprocessor.delay_s` gives
    the resampler part, the only one that shifts every frequency alike. Output sample ``k`` is
    computed from inputs up to time ``k / 250`` s, never later ones.
Missing samples
    The dsp chain outputs NaN where the input was missing (non-finite) and recovers right after
    (see :mod:`cardiostream.dsp.filters`). Here NaN becomes 0, the cleaned signal's mean, so a
    gap reads as a flat line; the ``valid`` mask of :func:`preprocess_with_mask` and
    :meth:`Preprocessor.process_with_mask` says which output samples were real.
Linearity
    Every stage is linear and starts in the steady state of its first sample, so
    ``preprocess(a + b) == preprocess(a) + preprocess(b)`` up to rounding when neither has
    gaps: noise can be added after preprocessing for augmentation.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from cardiostream.dsp import ECGCleaner, Resampler
from cardiostream.errors import InputError

#: Sampling rate of the rhythm model's input, in Hz.
MODEL_FS = 250.0
#: Samples per output frame of the network at :data:`MODEL_FS`: one verdict a second.
FRAME = round(MODEL_FS)

Float32Array = npt.NDArray[np.float32]
BoolArray = npt.NDArray[np.bool_]


class Preprocessor:
    """Stateful form of :func:`preprocess`: chunks of any size, same output as one pass.

    Parameters
    ----------
    fs : float
        Sampling rate of the input in Hz.

    Notes
    -----
    Chunks follow the dsp conventions: 1-D for one lead, ``[n, n_leads]`` for several, with
    the lead count fixed by the first non-empty chunk. Each chunk gives every output sample
    whose time is at or before its last input sample, so output lengths depend on the chunking
    but their concatenation does not (equal up to rounding: the resampler computes long chunks
    with ``scipy.signal.upfirdn`` and short ones with its own kernel).
    """

    def __init__(self, fs: float) -> None:
        # Raises InputError for a rate without a small rational ratio to 250 Hz.
        self.resampler = Resampler(fs, MODEL_FS)
        self.cleaner = ECGCleaner(MODEL_FS)
        self.fs = float(fs)

    @property
    def fs_out(self) -> float:
        """The output rate, :data:`MODEL_FS`."""
        return MODEL_FS

    @property
    def delay_s(self) -> float:
        """The resampler's fixed delay in seconds (0.04 s from rates above 250 Hz)."""
        return self.resampler.delay_s

    @property
    def config(self) -> dict[str, Any]:
        """Settings that decide the output: the input rate and the chain's filter settings."""
        return {
            "fs": self.fs,
            "fs_out": MODEL_FS,
            "resampler": self.resampler.config,
            "half_len": self.resampler.half_len,
            "cleaner": self.cleaner.config,
        }

    def process_with_mask(self, chunk: npt.ArrayLike) -> tuple[Float32Array, BoolArray]:
        """Condition the next chunk; return the samples and where they are valid.

        Parameters
        ----------
        chunk : array_like, shape (n,) or (n, n_leads)
            The next input samples at ``fs``; ``n`` may be 0. Non-finite values are missing.

        Returns
        -------
        signal : ndarray of float32, shape (m,) or (m, n_leads)
            The new output samples at 250 Hz, missing ones set to 0.
        valid : ndarray of bool, same shape
            False where the dsp chain gave NaN (near a missing input).
        """
        y = self.cleaner.process(self.resampler.process(chunk))
        valid = np.isfinite(y)
        out = y.astype(np.float32)
        out[~valid] = 0.0
        return out, valid

    def process(self, chunk: npt.ArrayLike) -> Float32Array:
        """Condition the next chunk (see :meth:`process_with_mask`; the mask is dropped)."""
        return self.process_with_mask(chunk)[0]

    def reset(self) -> None:
        """Forget all state: the next chunk starts a new signal."""
        self.resampler.reset()
        self.cleaner.reset()

    def state_dict(self) -> dict[str, Any]:
        """Return the complete state as plain Python values (JSON-serialisable)."""
        return {
            "type": type(self).__name__,
            "fs": self.fs,
            "resampler": self.resampler.state_dict(),
            "cleaner": self.cleaner.state_dict(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore a state from :meth:`state_dict` of a preprocessor with the same ``fs``.

        Raises
        ------
        InputError
            If the state is of another type or rate, or malformed.
        """
        if state.get("type") != type(self).__name__:
            raise InputError(f"state_dict: type {state.get('type')!r} is not Preprocessor")
        if state.get("fs") != self.fs:
            raise InputError(f"state_dict: fs {state.get('fs')!r} differs from {self.fs:g}")
        for key in ("resampler", "cleaner"):
            if not isinstance(state.get(key), dict):
                raise InputError(f"state_dict: missing field {key!r}")
        self.resampler.load_state_dict(state["resampler"])
        self.cleaner.load_state_dict(state["cleaner"])


def preprocess_with_mask(signal: npt.ArrayLike, fs: float) -> tuple[Float32Array, BoolArray]:
    """Condition a whole signal for the rhythm model and say which output samples are valid.

    Parameters
    ----------
    signal : array_like, shape (n,) or (n, n_leads)
        ECG in mV at ``fs``; non-finite values are missing samples.
    fs : float
        Sampling rate in Hz.

    Returns
    -------
    signal : ndarray of float32, shape (ceil(n * 250 / fs),) or (..., n_leads)
        The conditioned ECG at :data:`MODEL_FS`, missing samples set to 0.
    valid : ndarray of bool, same shape
        False at the samples that the chain marked missing.
    """
    return Preprocessor(fs).process_with_mask(signal)


def preprocess(signal: npt.ArrayLike, fs: float) -> Float32Array:
    """Condition a whole signal for the rhythm model: causal resampling to 250 Hz, the 0.5-40 Hz
    :class:`~cardiostream.dsp.ECGCleaner`, float32, missing samples as 0.

    Exactly what :class:`Preprocessor` computes over chunks (see the module notes on delay and
    missing samples).

    Examples
    --------
    >>> import numpy as np
    >>> preprocess(np.zeros(3000), 300.0).shape
    (2500,)
    """
    return Preprocessor(fs).process(signal)
