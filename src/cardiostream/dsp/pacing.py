"""Pacemaker spikes: narrow, very steep pulses of the raw signal, found as it streams.

A pacing stimulus lasts about 0.5 ms. Recorded through an ECG front end it becomes a pulse a
few milliseconds wide, far narrower than any QRS complex: a QRS rises over 20 ms or more, a
spike over one to three samples and falls back as fast. So a spike is a sample ``k`` of the
raw signal (a low-pass would erase it) where, with ``w1`` = 8 ms and ``w2`` = 22 ms,

* the signal stands out of both its neighbours ``w1`` away, on the same side: the pulse
  height ``p1 = |x[k] - (x[k - w1] + x[k + w1]) / 2|`` is at least
  :attr:`PacingConfig.min_height_mv` (0.6 mV), and the smaller of the two drops is at least
  :attr:`PacingConfig.min_symmetry` (0.5) times the larger: it goes up and comes back, where
  a QRS upstroke keeps rising;
* ``p1`` is the largest within ``± w2`` (one report per spike);
* the pulse is narrow: ``p1`` is at least :attr:`PacingConfig.min_narrowness` (0.7) times
  (the largest ``p2`` within ``± 50 ms`` plus 0.05 mV), ``p2`` being the same height at the
  broader scale ``w2``. A spike keeps most of its height at 8 ms, a QRS apex far less.

Every test looks at a fixed span of samples around ``k`` (``± (50 ms + w2)``), so the spikes
are the same for any chunking; a spike is reported that span after it. Missing samples in
the span rule it out.

The thresholds were set on the MIT-BIH Arrhythmia Database, whose paced records (360 Hz,
recorded with a 0.1-100 Hz band) keep their spikes only as pulses 3-5 samples wide, against
its 44 other records (the figures are in ``docs/decisions.md``): where the spike stands
apart from the QRS (records 102 and 104) nearly every paced beat is found; where it runs into
the QRS upstroke (107, 217) it cannot be told from a steep R wave at that bandwidth, and is
missed rather than risk calling normal beats paced. Amplitudes are in millivolts.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from cardiostream.dsp._pacing_kernel import pacing_spikes_kernel, push_kernel
from cardiostream.errors import InputError


@dataclass(frozen=True)
class PacingConfig:
    """Thresholds of the spike detector (see the module notes)."""

    min_height_mv: float = 0.6
    min_symmetry: float = 0.5
    min_narrowness: float = 0.7
    narrow_s: float = 0.008
    broad_s: float = 0.022
    context_s: float = 0.05
    floor_mv: float = 0.05


DEFAULT_PACING = PacingConfig()


class PacingSpikeDetector:
    """Streaming pacemaker-spike detector at the native rate, identical for any chunking.

    Parameters
    ----------
    fs : float
        Sampling rate in Hz.
    config : PacingConfig, optional
        Thresholds; :data:`DEFAULT_PACING` by default. Amplitudes in mV.
    """

    def __init__(self, fs: float, config: PacingConfig | None = None) -> None:
        self.fs = float(fs)
        if not np.isfinite(self.fs) or self.fs <= 0:
            raise InputError(f"fs: expected a positive sampling rate, got {fs}")
        self.config = config or DEFAULT_PACING
        cfg = self.config
        self._w1 = max(round(cfg.narrow_s * self.fs), 1)
        self._w2 = max(round(cfg.broad_s * self.fs), self._w1 + 1)
        self._ctx = max(round(cfg.context_s * self.fs), self._w2)
        # The span a centre k needs: k - reach .. k + reach.
        self._reach = self._ctx + self._w2
        self.reset()

    @property
    def delay_samples(self) -> int:
        """How long after a spike it is reported, in samples."""
        return self._reach

    @property
    def _tail(self) -> npt.NDArray[np.float64]:
        """The samples kept: the last ``2 reach`` of the stream (fewer at its start)."""
        return self._buf[: self._size]

    @_tail.setter
    def _tail(self, x: npt.NDArray[np.float64]) -> None:
        self._buf = np.array(x, np.float64)
        self._size = self._buf.size

    def reset(self) -> None:
        """Forget everything: the next sample starts a new stream."""
        self._tail = np.zeros(0, np.float64)
        self._n = 0

    def push(self, chunk: npt.ArrayLike) -> npt.NDArray[np.int64]:
        """Feed samples; return the spikes now found (sample indices of their apex)."""
        x = np.asarray(chunk, np.float64).reshape(-1)
        start = self._n - self._size  # global index of the first sample kept
        need = self._size + x.size
        # Room for the tail and the chunk (shrunk again after a long chunk).
        if need > self._buf.size or self._buf.size > 4 * need + 2 * self._reach:
            buf = np.empty(max(need, 2 * self._reach + x.size))
            buf[: self._size] = self._buf[: self._size]
            self._buf = buf
        cfg = self.config
        # One compiled call: append, judge the new centres, keep the tail (in place).
        found = push_kernel(
            self._buf, self._size, x, start, self._w1, self._w2, self._ctx,
            cfg.min_height_mv, cfg.min_symmetry, cfg.min_narrowness, cfg.floor_mv
        )  # fmt: skip
        self._n += x.size
        self._size = min(self._size + x.size, 2 * self._reach)
        return found

    def _judge(self, x: npt.NDArray[np.float64], first: int, last: int) -> npt.NDArray[np.int64]:
        """The spikes among the centres ``first`` .. ``last - 1`` of ``x``."""
        cfg = self.config
        # A spike is the strict maximum within +- w2: spikes lie more than w2 apart.
        out = np.empty((last - first) // (self._w2 + 1) + 1, np.int64)
        # One compiled pass: the vectorised tests cost ~60 ns a sample in temporaries.
        count = pacing_spikes_kernel(
            x,
            first,
            last,
            self._w1,
            self._w2,
            self._ctx,
            cfg.min_height_mv,
            cfg.min_symmetry,
            cfg.min_narrowness,
            cfg.floor_mv,
            out,
        )
        return out[:count]

    def state_dict(self) -> dict[str, Any]:
        """The full state as plain Python data (JSON-serialisable; NaN as None)."""
        return {
            "fs": self.fs,
            "tail": [None if not np.isfinite(v) else float(v) for v in self._tail],
            "n": self._n,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore a state produced by :meth:`state_dict` of a detector with the same fs."""
        try:
            if float(state["fs"]) != self.fs:
                raise InputError("state: fs differs from this pacing detector's")
            self._tail = np.array(
                [np.nan if v is None else float(v) for v in state["tail"]], np.float64
            )
            self._n = int(state["n"])
        except (KeyError, TypeError, ValueError) as exc:
            raise InputError(f"state: not a pacing-detector state ({exc})") from exc


def pacing_spikes(
    signal: npt.ArrayLike, fs: float, config: PacingConfig | None = None
) -> npt.NDArray[np.int64]:
    """The pacemaker spikes of a whole single-lead signal (mV), as sample indices.

    Equal to :class:`PacingSpikeDetector` fed the signal in any chunks.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.zeros(1000)
    >>> x[500] = 1.5  # a 1.5 mV pulse one sample wide at 360 Hz
    >>> pacing_spikes(x, 360.0).tolist()
    [500]
    """
    return PacingSpikeDetector(fs, config).push(signal)
