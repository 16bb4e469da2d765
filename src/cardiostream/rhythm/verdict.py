"""The one rule that turns a rhythm model's probabilities into the label a user sees.

Every place that reports a label calls :func:`decide` (one verdict) or :func:`decide_many`
(a row per window): the streaming engine's windows, :class:`~cardiostream.rhythm.RhythmModel`'s
records, the evaluation of MITDB and the command line.

The rule
    ``raw_label`` is the most probable of :data:`CLASSES` (the first on a tie). ``label`` is
    ``raw_label`` when the signal is usable, the top probability reaches the threshold, and at
    least ``min_beats`` R peaks were found; otherwise it is :data:`UNCERTAIN`.
Reasons
    The quality reasons the caller passes, then :data:`LOW_CONFIDENCE` when the top probability
    is below the threshold, then ``beats_reason`` (when the caller names one) when there are
    fewer than ``min_beats`` beats.

The minimum number of beats is the caller's, and visible at each call: a 10 s window of the
engine needs :data:`MIN_BEATS_WINDOW` (an RR interval), a whole record
:data:`MIN_BEATS_RECORD`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

#: The model's classes, in the order of its outputs.
CLASSES: tuple[str, ...] = ("normal", "af", "other", "noise")
#: Number of classes.
N_CLASSES = len(CLASSES)
#: The label of a verdict the signal does not support.
UNCERTAIN = "uncertain"
#: Every label a user can see: the classes, then :data:`UNCERTAIN`.
LABELS: tuple[str, ...] = (*CLASSES, UNCERTAIN)
#: Reason given when the top probability is below the threshold.
LOW_CONFIDENCE = "low_confidence"
#: Reason given for a record without R peaks.
NO_BEATS = "no_beats"
#: Beats a label needs: a 10 s window of the engine one RR interval, a whole record one beat.
MIN_BEATS_WINDOW, MIN_BEATS_RECORD = 2, 1


@dataclass(frozen=True)
class Verdict:
    """One decision.

    Attributes
    ----------
    label : str
        One of :data:`LABELS`.
    raw_label : str
        The most probable class, one of :data:`CLASSES`.
    confident : bool
        Whether the top probability reaches the threshold.
    reasons : list of str
        The quality reasons passed in, then those of the rule (see the module notes).
    """

    label: str
    raw_label: str
    confident: bool
    reasons: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Verdicts:
    """Decisions on many windows, as arrays (see :func:`decide_many`).

    Attributes
    ----------
    top : ndarray of int64
        Index in :data:`CLASSES` of each row's most probable class (``raw_label``).
    confident : ndarray of bool
        Whether each row's top probability reaches the threshold.
    committed : ndarray of bool
        Whether each row's label is its top class (else :data:`UNCERTAIN`).
    """

    top: npt.NDArray[np.int64]
    confident: npt.NDArray[np.bool_]
    committed: npt.NDArray[np.bool_]

    def labels(self) -> list[str]:
        """Each row's label."""
        return [
            CLASSES[t] if ok else UNCERTAIN
            for t, ok in zip(self.top.tolist(), self.committed.tolist(), strict=True)
        ]

    def raw_labels(self) -> list[str]:
        """Each row's most probable class."""
        return [CLASSES[t] for t in self.top.tolist()]


def decide_many(
    probabilities: npt.ArrayLike,
    threshold: float,
    *,
    min_beats: int,
    n_beats: npt.ArrayLike | None = None,
    usable: npt.ArrayLike | None = None,
) -> Verdicts:
    """The rule on each row of ``probabilities`` (``[n, 4]``, in :data:`CLASSES` order).

    Parameters
    ----------
    probabilities : array_like, shape (n, 4)
        Calibrated probabilities.
    threshold : float
        The lowest top probability that commits to a class.
    min_beats : int
        The fewest R peaks a label needs (0: none).
    n_beats : array_like of int, shape (n,), optional
        R peaks per row; needed when ``min_beats`` is above 0.
    usable : array_like of bool, shape (n,), optional
        Signal quality per row; all usable when left out.
    """
    p = np.asarray(probabilities, dtype=np.float64)
    if p.ndim != 2 or p.shape[1] != N_CLASSES:
        raise ValueError(f"probabilities: expected shape (n, {N_CLASSES}), got {p.shape}")
    n = p.shape[0]
    top = np.argmax(p, axis=1).astype(np.int64)
    confident = p[np.arange(n), top] >= threshold
    committed = confident.copy()
    if usable is not None:
        committed &= np.asarray(usable, dtype=np.bool_)
    if min_beats > 0:
        if n_beats is None:
            raise ValueError("n_beats: needed when min_beats is above 0")
        committed &= np.asarray(n_beats) >= min_beats
    return Verdicts(top, confident, committed)


def decide(
    probabilities: npt.ArrayLike,
    threshold: float,
    *,
    min_beats: int,
    n_beats: int = 0,
    usable: bool = True,
    reasons: Sequence[str] = (),
    beats_reason: str | None = None,
) -> Verdict:
    """The rule on one verdict (see the module notes).

    Parameters
    ----------
    probabilities : array_like, shape (4,)
        Calibrated probabilities in :data:`CLASSES` order.
    threshold : float
        The lowest top probability that commits to a class.
    min_beats : int
        The fewest R peaks a label needs (0: none).
    n_beats : int
        R peaks found.
    usable : bool
        Whether the signal is usable.
    reasons : sequence of str
        Quality reasons, kept first and in order.
    beats_reason : str, optional
        Reason to add when there are fewer than ``min_beats`` beats (unless already given).
    """
    row = np.asarray(probabilities, dtype=np.float64).reshape(1, -1)
    v = decide_many(row, threshold, min_beats=min_beats, n_beats=[n_beats], usable=[usable])
    confident = bool(v.confident[0])
    out = list(reasons)
    if not confident:
        out.append(LOW_CONFIDENCE)
    if beats_reason is not None and n_beats < min_beats and beats_reason not in out:
        out.append(beats_reason)
    return Verdict(v.labels()[0], v.raw_labels()[0], confident, out)
