"""The per-second verdict: the network's frame with the beats and their shape over its 10 s.

Every second the network gives a frame, its view of the 10 s that end there. Those 10 s also
hold a dozen beats whose timing and shape the record head (:mod:`cardiostream.rhythm.record_head`)
has shown to tell AF from other irregular rhythms: the P waves before the QRS complexes,
and the alternation of ectopic beats. The window head is the record head's small network
applied to one frame at a time, with the evidence of those 10 s (:data:`WINDOW_FEATURES`):

* the frame's log-probabilities (the network's own, before temperature scaling);
* the RR statistics of :func:`~cardiostream.rhythm.record_head.rr_features` over the beats
  the detector has confirmed by the frame's end (it reports a beat :data:`BEAT_DELAY` samples
  late, so the last second's beats are not yet known, live or offline);
* the shape statistics of :func:`~cardiostream.rhythm.record_head.morphology_features` over
  the conditioned signal of the 10 s.

It is fitted on out-of-fold frames of the CinC 2017 development split (every sixth second
with a full 10 s of context, each labelled with its record's class; see
:mod:`cardiostream.training.heads`), temperature-scaled, and given its own confidence
threshold. The streaming engine (:mod:`cardiostream.stream.processor`) and
:meth:`cardiostream.rhythm.infer.RhythmModel.window_probabilities` compute the same features
from the same samples, so live and offline verdicts agree.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from cardiostream.rhythm._beat_kernels import (
    TreeArrays,
    WindowParams,
    window_rows,
    window_verdicts,
)
from cardiostream.rhythm.features import RR_DELAY, RR_RANGE
from cardiostream.rhythm.preprocess import FRAME
from cardiostream.rhythm.record_head import (
    MORPHOLOGY_FEATURES,
    RR_FEATURES,
    RecordHead,
    shape_windows,
)
from cardiostream.rhythm.record_trees import TREE_WEIGHT, RecordTrees, blend
from cardiostream.rhythm.verdict import CLASSES

FloatArray = npt.NDArray[np.float64]

#: Seconds of signal behind one verdict (the network's receptive field).
WINDOW_S = 10
#: The detector's output delay in samples: beats younger than this are not known yet.
BEAT_DELAY = RR_DELAY
#: The RR statistics used: a window always lasts 10 s, so duration terms carry nothing.
#: (The last two of RR_FEATURES, which the compiled loop leaves out.)
WINDOW_RR: tuple[str, ...] = RR_FEATURES[:-2]
WINDOW_FEATURES: tuple[str, ...] = (
    tuple(f"log_p_{c}" for c in CLASSES) + WINDOW_RR + MORPHOLOGY_FEATURES
)
LOG_P_FLOOR = float(np.log(1e-7))


def window_features(
    logits: npt.ArrayLike, ecg: npt.ArrayLike, peaks: npt.ArrayLike, fs: float = 250.0
) -> FloatArray:
    """:data:`WINDOW_FEATURES` of one frame.

    Parameters
    ----------
    logits : array_like, shape (4,)
        The network's logits for the frame.
    ecg : array_like
        The conditioned signal of the frame's 10 s (fewer samples at the start of a stream),
        ending at the frame's end.
    peaks : array_like of int
        R peaks as sample indices into ``ecg``, confirmed by the frame's end (see
        :func:`confirmed_peaks`).
    fs : float
        Sampling rate of ``ecg``.
    """
    x = np.asarray(ecg, np.float64)
    z = np.asarray(logits, np.float64).reshape(1, len(CLASSES))
    # The peaks given are already the confirmed ones: no delay to apply again.
    p = np.sort(np.asarray(peaks, np.int64))
    p = p[p < x.size]
    row: FloatArray = window_rows_at(z, x, 0, p, np.array([x.size]), fs, delay=0)[0]
    return row


def confirmed_peaks(peaks: npt.ArrayLike, end: int) -> tuple[int, npt.NDArray[np.int64]]:
    """The start of the 10 s ending at sample ``end`` and, relative to it, the R peaks in
    them that the detector has reported by then (``peaks``: sorted sample indices)."""
    p = np.asarray(peaks, np.int64)
    lo = max(end - WINDOW_S * FRAME, 0)
    a, b = np.searchsorted(p, [lo, end - BEAT_DELAY])
    return lo, p[a:b] - lo


def _arguments(fs: float, delay: int = BEAT_DELAY) -> WindowParams:
    """The compiled loops' fixed arguments at rate ``fs``."""
    return (round(WINDOW_S * fs), int(delay), float(fs), LOG_P_FLOOR, RR_RANGE, *shape_windows(fs))


_AT_250 = _arguments(250.0)


def _check(ends: npt.NDArray[np.int64], window: int, origin: int, n: int) -> None:
    if ends.size and (max(int(ends[0]) - window, 0) < origin or int(ends[-1]) > origin + n):
        raise ValueError("window head: the signal does not cover the frames' 10 s")


def window_rows_at(
    logits: npt.ArrayLike,
    ecg: npt.ArrayLike,
    origin: int,
    peaks: npt.ArrayLike,
    ends: npt.ArrayLike,
    fs: float = 250.0,
    delay: int = BEAT_DELAY,
) -> FloatArray:
    """Feature rows of the frames ending at samples ``ends`` (increasing; one compiled loop
    for all).

    ``logits`` are their ``[n, 4]`` logits, ``ecg`` the conditioned signal from sample
    ``origin`` on (covering each frame's 10 s), ``peaks`` sorted R-peak sample indices on the
    same clock; a frame uses the peaks of its 10 s at least ``delay`` samples before its end
    (the detector's delay: the beats known by then).
    """
    z = np.ascontiguousarray(logits).reshape(-1, len(CLASSES))
    e = np.asarray(ends, np.int64).reshape(-1)
    x = np.ascontiguousarray(ecg)
    params = _arguments(fs, delay)
    _check(e, params[0], origin, x.size)
    out = np.zeros((e.size, len(WINDOW_FEATURES)))
    window_rows(z, x, int(origin), np.ascontiguousarray(peaks, np.int64), e, params, out)
    return out


def record_window_features(
    logits: npt.ArrayLike, ecg: npt.ArrayLike, peaks: npt.ArrayLike, frames: npt.ArrayLike
) -> FloatArray:
    """Feature rows ``[len(frames), n]`` of a whole record's frames.

    ``logits`` are the network's ``[4, n_frames]`` over ``ecg`` (the conditioned 250 Hz
    signal, frame ``j`` ending at sample ``250 (j + 1)``), ``peaks`` its R peaks from
    :func:`cardiostream.beats.detect_rpeaks`, ``frames`` the frame indices wanted.
    """
    idx = np.asarray(frames, np.int64)
    z = np.asarray(logits, np.float64)[:, idx].T
    return window_rows_at(z, ecg, 0, peaks, FRAME * (idx + 1))


class WindowHead:
    """A fitted window head with its calibration and threshold (``window_head`` in
    ``model.json``) and, where the model has them, boosted trees over the same inputs
    (``window_trees``): the verdict is then the blend of the two, as the record verdict is
    (:func:`~cardiostream.rhythm.record_trees.blend`), calibrated and thresholded as one."""

    def __init__(self, data: dict[str, Any], trees: dict[str, Any] | None = None) -> None:
        self.head = RecordHead.from_dict(data, WINDOW_FEATURES)
        self.trees = RecordTrees.from_dict(trees, WINDOW_FEATURES) if trees else None
        self.temperature = float(data.get("temperature", 1.0))
        self.threshold = float(data["threshold"])
        h = self.head

        def c(a: FloatArray) -> FloatArray:
            return np.ascontiguousarray(a, np.float64)

        self._arrays = (c(h.mean), c(h.scale), c(h.w1), c(h.b1), c(h.w2), c(h.b2))
        t = self.trees
        i32, i64 = np.zeros(0, np.int32), np.zeros(0, np.int64)
        self._trees: TreeArrays = (
            (i32, np.zeros(0), i32, i64, i64, np.zeros(len(CLASSES)))
            if t is None
            else (
                t.feature.astype(np.int32),
                c(t.number),
                t.left.astype(np.int32),
                np.ascontiguousarray(t.roots, np.int64),
                np.ascontiguousarray(t.tree_class, np.int64),
                c(t.baseline),
            )
        )

    def log_probabilities(self, features: npt.ArrayLike) -> FloatArray:
        """Calibrated log-probabilities ``[n, 4]`` of feature rows ``[n, n_features]``."""
        z = self.head.logits(features)
        if self.trees is not None:
            z = blend(z, self.trees.log_probabilities(features))
        z = z / self.temperature
        z -= z.max(1, keepdims=True)
        return np.asarray(z - np.log(np.exp(z).sum(1, keepdims=True)))

    def verdicts(
        self,
        logits: npt.NDArray[Any],
        ecg: npt.NDArray[Any],
        origin: int,
        peaks: npt.NDArray[np.int64],
        ends: npt.NDArray[np.int64],
    ) -> FloatArray:
        """Calibrated log-probabilities ``[n, 4]`` of the frames ending at samples ``ends``
        (250 Hz), from their logits ``[n, 4]``, the conditioned signal from sample ``origin``
        on and the R peaks (as :func:`window_rows_at`): features and head in one compiled
        call, the same values as :meth:`log_probabilities` of those rows."""
        _check(ends, _AT_250[0], origin, ecg.size)
        out = np.empty((ends.size, len(CLASSES)))
        window_verdicts(
            logits,
            ecg,
            origin,
            peaks,
            ends,
            _AT_250,
            self._arrays,
            self.temperature,
            self._trees,
            TREE_WEIGHT,
            out,
        )
        return out


__all__ = [
    "WINDOW_FEATURES",
    "WindowHead",
    "confirmed_peaks",
    "record_window_features",
    "window_features",
    "window_rows_at",
]
