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
from numpy.lib.stride_tricks import sliding_window_view

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

    def reset(self) -> None:
        """Forget everything: the next sample starts a new stream."""
        self._tail = np.zeros(0, np.float64)
        self._n = 0

    def push(self, chunk: npt.ArrayLike) -> npt.NDArray[np.int64]:
        """Feed samples; return the spikes now found (sample indices of their apex)."""
        x = np.asarray(chunk, np.float64).reshape(-1)
        x = np.where(np.isfinite(x), x, np.nan)  # inf is as missing as NaN
        start = self._n - self._tail.size  # global index of buf[0]
        buf = np.concatenate([self._tail, x])
        self._n += x.size
        reach = self._reach
        # Centres up to tail.size - reach - 1 were judged by the previous push; the tail
        # keeps exactly what the next centres need.
        first = max(reach, self._tail.size - reach)
        found = np.zeros(0, np.int64)
        if buf.size - reach > first:
            found = self._judge(buf, np.arange(first, buf.size - reach)) + start
        self._tail = buf[-2 * reach :]
        return found

    def _judge(
        self, x: npt.NDArray[np.float64], centres: npt.NDArray[np.int64]
    ) -> npt.NDArray[np.int64]:
        cfg = self.config
        w1, w2, ctx = self._w1, self._w2, self._ctx
        n = x.size
        left = np.full(n, np.nan)
        right = np.full(n, np.nan)
        left[w1 : n - w1] = x[w1 : n - w1] - x[: n - 2 * w1]
        right[w1 : n - w1] = x[w1 : n - w1] - x[2 * w1 :]
        p1 = np.abs(left + right) / 2
        p2 = np.full(n, np.nan)
        p2[w2 : n - w2] = np.abs(x[w2 : n - w2] - (x[: n - 2 * w2] + x[2 * w2 :]) / 2)
        with np.errstate(invalid="ignore"):
            small = np.minimum(np.abs(left), np.abs(right))
            large = np.maximum(np.abs(left), np.abs(right))
            pulse = (
                (np.sign(left) == np.sign(right))
                & (p1 >= cfg.min_height_mv)
                & (small >= cfg.min_symmetry * large)
            )
        cand: npt.NDArray[np.int64] = np.asarray(centres[pulse[centres]], np.int64)
        if cand.size == 0:
            return cand
        around = sliding_window_view(p1, 2 * w2 + 1)[cand - w2]
        peak = p1[cand]
        # The highest within the span: strictly above those before, at least those after,
        # so that a flat top of two equal samples is reported once. NaN fails both.
        top = np.all(around[:, :w2] < peak[:, None], axis=1) & np.all(
            around[:, w2 + 1 :] <= peak[:, None], axis=1
        )
        broad = sliding_window_view(p2, 2 * ctx + 1)[cand - ctx].max(axis=1)
        with np.errstate(invalid="ignore"):
            narrow = peak >= cfg.min_narrowness * (broad + cfg.floor_mv)
        out: npt.NDArray[np.int64] = cand[top & narrow]
        return out

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
