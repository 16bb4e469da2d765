"""The beat-interval AF detector's evidence fused into the per-second verdict.

The window head (:mod:`cardiostream.rhythm.window_head`) judges the 10 s that end at each
second. The RR-interval AF detector (:mod:`cardiostream.beats.af_rr`, trained on 1,300 h of
the Long-Term AF Database) judges each beat from the 16 and 64 intervals before it, with a
causal average over the last few tens of beats: it knows more of the past than 10 s hold, and
it has seen far more AF than the CinC 2017 records the window head learned from. The fusion
is a multinomial logistic layer over both (:data:`INPUTS`):

* the window head's calibrated log-probabilities of the four classes;
* the detector's smoothed logit of AF at the last beat confirmed by the window's end (the
  same beats the window head sees: :data:`~cardiostream.rhythm.window_head.BEAT_DELAY`
  samples before it), clipped to ±:data:`LOGIT_CLIP`, and whether the detector had its 16
  intervals by then (before, the logit is 0 and the flag 0).

Its weights start from the identity on the log-probabilities and are penalised towards it, so
with no RR evidence it leaves the window head's verdict nearly as it was. It is fitted on the
out-of-fold window verdicts of CinC 2017 (:mod:`cardiostream.training.rr_fusion`), cross-fitted
on the records' folds; MITDB stays the external test. :class:`RRFeed` feeds a stream's
confirmed beats to the detector and reads its answer at each window end; fed all beats at once
or a second at a time it gives the same values, so live and offline verdicts agree.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from cardiostream.beats.af_rr import AFBeatDetector, RRAFModel
from cardiostream.errors import InputError
from cardiostream.rhythm.preprocess import MODEL_FS
from cardiostream.rhythm.verdict import CLASSES

FloatArray = npt.NDArray[np.float64]

#: The fusion's inputs, in column order.
INPUTS: tuple[str, ...] = (*(f"log_p_{c}" for c in CLASSES), "rr_af_logit", "rr_af_known")
#: The detector's logit is clipped to this magnitude (its p_af to about 0.0003-0.9997).
LOGIT_CLIP = 8.0
#: Log-probabilities below this are clipped (a class the head all but excluded).
LOG_P_FLOOR = math.log(1e-7)
FORMAT = "cardiostream-rr-fusion/1"


def rr_inputs(p_af: npt.ArrayLike) -> FloatArray:
    """The two RR columns of :data:`INPUTS` from the detector's ``p_af`` at each window end
    (exactly 0 where it did not yet have its intervals)."""
    p = np.asarray(p_af, np.float64).reshape(-1)
    known = p > 0.0
    q = np.clip(p, 1e-12, 1.0 - 1e-12)
    logit = np.clip(np.log(q) - np.log1p(-q), -LOGIT_CLIP, LOGIT_CLIP)
    return np.stack([np.where(known, logit, 0.0), known.astype(np.float64)], 1)


def fusion_inputs(log_p: npt.ArrayLike, p_af: npt.ArrayLike) -> FloatArray:
    """Rows of :data:`INPUTS`: the head's calibrated log-probabilities ``[n, 4]`` and the
    detector's ``p_af`` ``[n]`` at the same window ends."""
    lp = np.maximum(np.asarray(log_p, np.float64).reshape(-1, len(CLASSES)), LOG_P_FLOOR)
    return np.concatenate([lp, rr_inputs(p_af)], 1)


@dataclass(frozen=True)
class RRFusion:
    """A fitted fusion (``window_fusion`` in ``model.json``): ``weights`` ``[4, len(INPUTS)]``,
    ``bias`` ``[4]`` and the confidence threshold of the fused verdict."""

    weights: FloatArray
    bias: FloatArray
    threshold: float

    def log_probabilities(self, log_p: npt.ArrayLike, p_af: npt.ArrayLike) -> FloatArray:
        """Fused calibrated log-probabilities ``[n, 4]`` (see the module notes)."""
        z = fusion_inputs(log_p, p_af) @ self.weights.T + self.bias
        z -= z.max(1, keepdims=True)
        out: FloatArray = z - np.log(np.exp(z).sum(1, keepdims=True))
        return out

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON data."""
        return {
            "format": FORMAT,
            "inputs": list(INPUTS),
            "weights": self.weights.tolist(),
            "bias": self.bias.tolist(),
            "threshold": self.threshold,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RRFusion:
        """Read :meth:`to_dict`'s data.

        Raises
        ------
        InputError
            If it is of another format, or its inputs or shapes are not these.
        """
        if data.get("format") != FORMAT or tuple(data.get("inputs", ())) != INPUTS:
            raise InputError(f"window_fusion: not a {FORMAT} entry with inputs {INPUTS}")
        weights = np.asarray(data["weights"], np.float64)
        bias = np.asarray(data["bias"], np.float64)
        if weights.shape != (len(CLASSES), len(INPUTS)) or bias.shape != (len(CLASSES),):
            raise InputError("window_fusion: weights or bias of the wrong shape")
        return cls(weights, bias, float(data["threshold"]))


class RRFeed:
    """A stream's confirmed beats fed to the RR AF detector, read at window ends.

    ``at(peaks, ends, delay)`` takes the stream's R peaks (sorted 250 Hz sample indices,
    including at least every peak not fed yet) and increasing window ends (samples); it feeds
    the peaks before ``ends[-1] - delay`` that it has not fed, and returns the detector's
    ``p_af`` at the last beat before ``end - delay`` for each end (0 before any beat). The
    detector decides each beat from the beats before it alone, so the values do not depend on
    how the ends are grouped into calls.
    """

    def __init__(self, model: RRAFModel | None = None) -> None:
        # The ECG engine has its own gaps; the fusion was fitted on every interval as rhythm.
        self.detector = AFBeatDetector(model, gap_s=None)
        self.reset()

    def reset(self) -> None:
        """Forget every beat."""
        self.detector.reset()
        self._fed_upto = -1  # sample of the last beat fed
        self._last_p = 0.0  # p_af at that beat

    def at(
        self, peaks: npt.NDArray[np.int64], ends: npt.NDArray[np.int64], delay: int
    ) -> FloatArray:
        """``p_af`` at each window end; see the class."""
        e = np.asarray(ends, np.int64).reshape(-1)
        if e.size == 0:
            return np.zeros(0)
        lo = int(np.searchsorted(peaks, self._fed_upto, side="right"))
        hi = int(np.searchsorted(peaks, int(e[-1]) - delay))
        new = peaks[lo:hi]
        p_new = np.zeros(0)
        if new.size:
            p_new = self.detector.push(new / MODEL_FS).p_af
        j = np.searchsorted(new, e - delay) - 1
        out = np.where(j >= 0, p_new[np.maximum(j, 0)] if new.size else 0.0, self._last_p)
        if new.size:
            self._fed_upto, self._last_p = int(new[-1]), float(p_new[-1])
        return np.asarray(out, np.float64)

    def state_dict(self) -> dict[str, Any]:
        """Plain JSON data (floats round-trip exactly)."""
        return {
            "detector": self.detector.state_dict(),
            "fed_upto": self._fed_upto,
            "last_p": self._last_p,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Continue from :meth:`state_dict` (raises InputError, KeyError or ValueError on a
        malformed one)."""
        self.detector.load_state_dict(state["detector"])
        self._fed_upto = int(state["fed_upto"])
        self._last_p = float(state["last_p"])
        if not 0.0 <= self._last_p <= 1.0:
            raise ValueError("rr feed: p_af out of range")


__all__ = ["INPUTS", "RRFeed", "RRFusion", "fusion_inputs", "rr_inputs"]
