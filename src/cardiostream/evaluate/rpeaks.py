"""Beat-by-beat scoring of R-peak detections against reference annotations.

A detection counts as a true positive when it is paired with a reference beat no more than
``tolerance_s`` away (inclusive, ±150 ms by default as in ANSI/AAMI EC57). Pairing is one to one:
a reference beat takes at most one detection, so a second detection of the same beat is a false
positive, and a detection can never vouch for two beats. Among all one-to-one pairings the one
with the most pairs is used, and among those the one with the smallest total timing error.

Scores cover whole records: no learning period at the start and no margin at the ends is left
out, so a beat missed in the first second of a record counts as a false negative. Gross figures
over several records add up TP, FP and FN first and take the ratios last, so long records weigh
more than short ones.

Reference beats are the annotations whose symbol is a heartbeat
(:data:`cardiostream.record.BEAT_SYMBOLS`, the codes for which WFDB's ``isqrs`` is true);
rhythm changes, noise and other non-beat labels are not beats. That set includes ventricular
flutter waves (``!``, 472 of them in MITDB record 207); many published MITDB figures leave them
out (109,494 reference beats instead of 109,966), which :data:`BEAT_SYMBOLS_NO_FLUTTER`
reproduces.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy.optimize import linear_sum_assignment

from cardiostream.errors import InputError
from cardiostream.record import BEAT_SYMBOLS, Annotations, BeatTable

__all__ = [
    "BEAT_SYMBOLS_NO_FLUTTER",
    "BeatScore",
    "MatchResult",
    "gross_score",
    "match_beats",
    "reference_beats",
    "score_records",
    "score_rpeaks",
    "score_table",
]

#: Heartbeat symbols without ventricular flutter waves, the convention of many MITDB reports.
BEAT_SYMBOLS_NO_FLUTTER: frozenset[str] = BEAT_SYMBOLS - {"!"}

#: Components larger than this (references x detections) are paired by the greedy sweep
#: instead of the assignment solver, so that a detector firing on every sample stays cheap.
_MAX_ASSIGNMENT_CELLS = 4096


def _ratio(num: int, den: int) -> float:
    return num / den if den > 0 else math.nan


@dataclass(frozen=True)
class BeatScore:
    """Counts of a beat-by-beat comparison and the ratios derived from them.

    Ratios whose denominator is zero are NaN (for example Se of a record without beats).

    Attributes
    ----------
    tp : int
        Reference beats paired with a detection.
    fp : int
        Detections paired with no reference beat.
    fn : int
        Reference beats paired with no detection.
    """

    tp: int
    fp: int
    fn: int

    @property
    def se(self) -> float:
        """Sensitivity ``TP / (TP + FN)``, a fraction in [0, 1]."""
        return _ratio(self.tp, self.tp + self.fn)

    @property
    def ppv(self) -> float:
        """Positive predictive value ``TP / (TP + FP)``, a fraction in [0, 1]."""
        return _ratio(self.tp, self.tp + self.fp)

    @property
    def f1(self) -> float:
        """F1 score ``2 TP / (2 TP + FP + FN)``, the harmonic mean of Se and PPV."""
        return _ratio(2 * self.tp, 2 * self.tp + self.fp + self.fn)

    @property
    def n_reference(self) -> int:
        """Number of reference beats (``TP + FN``)."""
        return self.tp + self.fn

    @property
    def n_detected(self) -> int:
        """Number of detections (``TP + FP``)."""
        return self.tp + self.fp

    def __add__(self, other: BeatScore) -> BeatScore:
        return BeatScore(self.tp + other.tp, self.fp + other.fp, self.fn + other.fn)

    def to_dict(self) -> dict[str, Any]:
        """Return counts and ratios; NaN ratios become ``None`` so the dict is valid JSON."""

        def clean(x: float) -> float | None:
            return None if math.isnan(x) else x

        return {
            "tp": self.tp,
            "fp": self.fp,
            "fn": self.fn,
            "se": clean(self.se),
            "ppv": clean(self.ppv),
            "f1": clean(self.f1),
        }


@dataclass(frozen=True)
class MatchResult:
    """The pairing of detections with reference beats.

    Attributes
    ----------
    tp, fp, fn : int
        Counts, as in :class:`BeatScore`.
    reference_index : ndarray of int64
        Positions in the ``reference`` array given to :func:`match_beats` of the paired beats,
        in increasing time order.
    detected_index : ndarray of int64
        Positions in the ``detected`` array of their partners, element by element.
    """

    tp: int
    fp: int
    fn: int
    reference_index: npt.NDArray[np.int64]
    detected_index: npt.NDArray[np.int64]

    @property
    def score(self) -> BeatScore:
        """The counts as a :class:`BeatScore`."""
        return BeatScore(self.tp, self.fp, self.fn)


def _as_positions(x: npt.ArrayLike, field: str) -> npt.NDArray[np.float64]:
    arr = np.asarray(x)
    if arr.ndim != 1:
        raise InputError(f"{field}: expected a 1-D array of sample indices, got {arr.ndim}-D")
    if arr.size == 0:
        return np.zeros(0, np.float64)
    if not (np.issubdtype(arr.dtype, np.integer) or np.issubdtype(arr.dtype, np.floating)):
        raise InputError(f"{field}: expected numeric sample indices, got dtype {arr.dtype}")
    out = arr.astype(np.float64)
    if not np.all(np.isfinite(out)):
        raise InputError(f"{field}: sample indices must be finite")
    return out


def _greedy_pairs(
    ref: npt.NDArray[np.float64], det: npt.NDArray[np.float64], tol: float
) -> list[tuple[int, int]]:
    """Pair two sorted arrays in one sweep; the most pairs possible for a symmetric window.

    Whichever of the two leading events cannot reach the other's window is unmatchable for
    everything later too, so it is dropped; otherwise pairing the two leaders never loses a
    pair (an exchange argument, as in interval scheduling).
    """
    pairs: list[tuple[int, int]] = []
    i = j = 0
    while i < ref.size and j < det.size:
        if det[j] < ref[i] - tol:
            j += 1
        elif det[j] > ref[i] + tol:
            i += 1
        else:
            pairs.append((i, j))
            i += 1
            j += 1
    return pairs


def _best_pairs(
    ref: npt.NDArray[np.float64], det: npt.NDArray[np.float64], tol: float
) -> list[tuple[int, int]]:
    """Most pairs within ``tol``, then the smallest total timing error, for a small cluster."""
    if ref.size * det.size > _MAX_ASSIGNMENT_CELLS:
        return _greedy_pairs(ref, det, tol)
    dist = np.abs(ref[:, None] - det[None, :])
    # A penalty above any sum of allowed errors makes the solver maximise the pair count first.
    penalty = (min(ref.size, det.size) + 1) * (tol + 1.0)
    cost = np.where(dist <= tol, dist, penalty)
    rows, cols = linear_sum_assignment(cost)
    keep = dist[rows, cols] <= tol
    return list(zip(rows[keep].tolist(), cols[keep].tolist(), strict=True))


def match_beats(
    reference: npt.ArrayLike,
    detected: npt.ArrayLike,
    fs: float,
    tolerance_s: float = 0.15,
) -> MatchResult:
    """Pair detected beats with reference beats one to one within a tolerance.

    Parameters
    ----------
    reference : array_like of int
        Sample indices of the reference beats (any order; duplicates are separate beats).
    detected : array_like of int
        Sample indices of the detections (any order; a repeated index is a second detection).
    fs : float
        Sampling rate in Hz, to turn ``tolerance_s`` into samples.
    tolerance_s : float, optional
        Largest distance between partners in seconds, inclusive. Default 0.15 (EC57).

    Returns
    -------
    MatchResult
        Counts and the paired positions. The pairing has the most pairs possible and, among
        those, the smallest sum of absolute timing errors.

    Notes
    -----
    Both arrays are merged and sorted once (O(n log n)). Consecutive events more than the
    tolerance apart can never be partners across that gap, so the sorted sequence splits into
    independent clusters. Clusters of exactly one reference and one detection, nearly all of
    them for a working detector, are paired with array operations; the few larger clusters
    (a double detection, beats closer than the tolerance) are solved one by one.
    """
    if not (math.isfinite(fs) and fs > 0):
        raise InputError(f"fs: sampling rate must be positive, got {fs}")
    if not (math.isfinite(tolerance_s) and tolerance_s >= 0):
        raise InputError(f"tolerance_s: must be a non-negative number, got {tolerance_s}")
    ref = _as_positions(reference, "reference")
    det = _as_positions(detected, "detected")
    tol = tolerance_s * fs
    empty = np.zeros(0, np.int64)
    if ref.size == 0 or det.size == 0:
        return MatchResult(0, int(det.size), int(ref.size), empty, empty.copy())

    # Events in time order; at equal times references come first (stable sort of ref + det).
    times = np.concatenate([ref, det])
    is_det = np.concatenate([np.zeros(ref.size, bool), np.ones(det.size, bool)])
    origin = np.concatenate([np.arange(ref.size), np.arange(det.size)])
    order = np.argsort(times, kind="stable")
    times, is_det, origin = times[order], is_det[order], origin[order]

    # Cluster id of each event: a new cluster starts after every gap wider than the tolerance.
    cluster = np.concatenate([[0], np.cumsum(np.diff(times) > tol)])
    n_clusters = int(cluster[-1]) + 1
    n_det = np.bincount(cluster, weights=is_det, minlength=n_clusters).astype(np.int64)
    n_all = np.bincount(cluster, minlength=n_clusters)
    n_ref = n_all - n_det

    # Simple clusters: one reference then one detection (or the reverse) within the tolerance.
    starts = np.flatnonzero(np.concatenate([[True], cluster[1:] != cluster[:-1]]))
    simple = (n_ref == 1) & (n_det == 1)
    first = starts[simple]
    first_is_det = is_det[first]
    ref_pos = [np.where(first_is_det, origin[first + 1], origin[first])]
    det_pos = [np.where(first_is_det, origin[first], origin[first + 1])]

    # Mixed clusters with more than two events need a real assignment.
    for c in np.flatnonzero((n_ref > 0) & (n_det > 0) & ~simple):
        lo = int(starts[c])
        hi = lo + int(n_all[c])
        sel_det = is_det[lo:hi]
        c_times, c_origin = times[lo:hi], origin[lo:hi]
        pairs = _best_pairs(c_times[~sel_det], c_times[sel_det], tol)
        if pairs:
            r_idx, d_idx = np.array(pairs, dtype=np.int64).T
            ref_pos.append(c_origin[~sel_det][r_idx])
            det_pos.append(c_origin[sel_det][d_idx])

    ref_idx = np.concatenate(ref_pos).astype(np.int64)
    det_idx = np.concatenate(det_pos).astype(np.int64)
    by_time = np.argsort(ref[ref_idx], kind="stable")
    ref_idx, det_idx = ref_idx[by_time], det_idx[by_time]
    tp = int(ref_idx.size)
    return MatchResult(tp, int(det.size) - tp, int(ref.size) - tp, ref_idx, det_idx)


def reference_beats(
    annotations: Annotations | BeatTable, symbols: Iterable[str] = BEAT_SYMBOLS
) -> npt.NDArray[np.int64]:
    """Return the sample indices of the annotations that are heartbeats.

    Parameters
    ----------
    annotations : Annotations or BeatTable
        Reference annotations, for example ``record.annotations``.
    symbols : iterable of str, optional
        Symbols that count as beats; default :data:`cardiostream.record.BEAT_SYMBOLS`.

    Returns
    -------
    ndarray of int64
        Samples whose symbol is in ``symbols``, in file order.
    """
    beats = annotations.beats if isinstance(annotations, Annotations) else annotations
    if len(beats) == 0:
        return np.zeros(0, np.int64)
    is_beat = np.isin(beats.symbol, sorted(symbols))
    return np.asarray(beats.sample[is_beat], dtype=np.int64)


def score_rpeaks(
    reference: npt.ArrayLike | Annotations | BeatTable,
    detected: npt.ArrayLike,
    fs: float,
    tolerance_s: float = 0.15,
) -> BeatScore:
    """Score R-peak detections of one record against its reference beats.

    Parameters
    ----------
    reference : array_like of int, Annotations or BeatTable
        Reference beat samples, or annotations from which the heartbeats are taken
        (see :func:`reference_beats`).
    detected : array_like of int
        Detected R-peak samples.
    fs : float
        Sampling rate in Hz.
    tolerance_s : float, optional
        Matching window in seconds, inclusive. Default 0.15.

    Returns
    -------
    BeatScore
        TP, FP, FN with Se, PPV and F1.
    """
    if isinstance(reference, (Annotations, BeatTable)):
        reference = reference_beats(reference)
    return match_beats(reference, detected, fs, tolerance_s).score


def gross_score(scores: Iterable[BeatScore]) -> BeatScore:
    """Add up the counts of several records (gross statistics: sums first, ratios last)."""
    total = BeatScore(0, 0, 0)
    for s in scores:
        total = total + s
    return total


def score_records(
    references: Mapping[str, npt.ArrayLike | Annotations | BeatTable],
    detections: Mapping[str, npt.ArrayLike],
    fs: float | Mapping[str, float],
    tolerance_s: float = 0.15,
) -> dict[str, BeatScore]:
    """Score several records at once.

    Parameters
    ----------
    references : mapping of record name to reference beats or annotations
    detections : mapping of record name to detected samples; must name the same records
    fs : float or mapping of record name to float
        One sampling rate for all records, or one per record.
    tolerance_s : float, optional
        Matching window in seconds. Default 0.15.

    Returns
    -------
    dict of str to BeatScore
        Per-record scores in the order of ``references``; :func:`gross_score` of the values
        gives the gross figures.
    """
    missing = [name for name in references if name not in detections]
    if missing:
        raise InputError(f"detections: no detections for record(s) {', '.join(missing)}")
    out: dict[str, BeatScore] = {}
    for name, ref in references.items():
        rate = fs[name] if isinstance(fs, Mapping) else fs
        out[name] = score_rpeaks(ref, detections[name], rate, tolerance_s)
    return out


def score_table(per_record: Mapping[str, BeatScore]) -> list[dict[str, Any]]:
    """Rows of a per-record table, one dict per record plus a final ``gross`` row.

    Each row holds ``record``, ``tp``, ``fp``, ``fn``, ``se``, ``ppv`` and ``f1`` (fractions;
    ``None`` where undefined), ready for JSON, CSV or a table renderer.
    """
    rows = [{"record": name, **s.to_dict()} for name, s in per_record.items()]
    rows.append({"record": "gross", **gross_score(per_record.values()).to_dict()})
    return rows
