"""Atrial fibrillation episodes: from per-second verdicts to episodes, and EC57-style scoring.

From frames to episodes
-----------------------
The rhythm model gives one verdict per second, each judging the ~10 s window that ends at the
frame's time. :func:`frames_to_episodes` attributes a verdict to the one-second segment at the
centre of its window, ``[end - window_s/2 - 0.5, end - window_s/2 + 0.5)``, so a detected
episode is centred on the ECG that caused it rather than trailing it by half a window. AF
segments that touch form episodes; gaps shorter than ``close_gap_s`` are closed, then episodes
shorter than ``min_duration_s`` are dropped. Both default to 10 s because a 10 s window is the
unit of evidence: a gap or an episode shorter than one window is not something the model can
resolve. These rules are fixed in advance and are not tuned on any test database.

Scoring
-------
:func:`score_episodes` follows the AF measures of ANSI/AAMI EC57:

* episode sensitivity: the fraction of reference episodes overlapped by a detected episode;
* episode positive predictivity: the fraction of detected episodes overlapping a reference one;
* duration sensitivity: the time both call AF over the reference AF time;
* duration positive predictivity: the same overlap over the detected AF time.

Time inside ``excluded`` intervals (atrial flutter, which is neither AF nor clearly something
else) is taken out of both sides before scoring; an episode lying wholly inside excluded time
is dropped, and one split by it stays one episode. Overlaps count when they last longer than
zero seconds. :class:`EpisodeScore` keeps counts and durations, so gross figures over many
records are sums of counts with the ratios taken last (:func:`gross`).

Episode sensitivity is also counted by the reference episode's length (its time left after
exclusion): under 10 s, 10 to 30 s, and 30 s or more (:data:`LENGTH_BINS`). A verdict on
10 s windows cannot resolve an AF burst of a few seconds, and the engine's AF events start
at 30 s; the breakdown says which of the misses are of that kind.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, fields
from typing import Any

import numpy as np
import numpy.typing as npt

from cardiostream.errors import InputError

__all__ = [
    "LENGTH_BINS",
    "EpisodeScore",
    "Interval",
    "frames_to_episodes",
    "gross",
    "score_episodes",
]

#: An interval ``(start_s, end_s)`` in seconds.
Interval = tuple[float, float]

#: Lengths below this many seconds count as zero (float rounding of frame times).
_EPS = 1e-9

#: Length of the segment a frame's verdict is attributed to: the model's frame spacing.
FRAME_S = 1.0

#: Reference episode lengths of the sensitivity breakdown: under 10 s, 10-30 s, 30 s or more.
LENGTH_BINS: tuple[tuple[str, float, float], ...] = (
    ("short", 0.0, 10.0),
    ("mid", 10.0, 30.0),
    ("long", 30.0, math.inf),
)
#: How each bin of :data:`LENGTH_BINS` is written in tables.
LENGTH_NAMES = {"short": "under 10 s", "mid": "10-30 s", "long": "30 s or more"}


def frames_to_episodes(
    end_s: npt.ArrayLike,
    is_af: npt.ArrayLike,
    *,
    window_s: float = 10.0,
    close_gap_s: float = 10.0,
    min_duration_s: float = 10.0,
) -> list[Interval]:
    """Turn per-frame AF verdicts into AF episodes.

    Parameters
    ----------
    end_s : array_like of float, shape (n,)
        Time at which each frame's window ends, increasing (one frame a second).
    is_af : array_like of bool, shape (n,)
        Whether each frame calls AF.
    window_s : float
        Length of the window a frame judges; its verdict goes to the 1 s segment at the centre.
    close_gap_s : float
        Gaps between AF segments shorter than this are filled.
    min_duration_s : float
        Episodes shorter than this (after closing gaps) are dropped.

    Returns
    -------
    list of (float, float)
        Disjoint episodes ``(start_s, end_s)`` in increasing order, clipped at time 0 (frames
        early in a record see zeros before it, and their centres may fall before it).

    Raises
    ------
    InputError
        If the arrays differ in length, are not 1-D, ``end_s`` is not finite and increasing, or
        a setting is negative (``window_s`` must be positive).
    """
    ends = np.asarray(end_s, dtype=np.float64)
    flags = np.asarray(is_af)
    if ends.ndim != 1 or flags.ndim != 1 or ends.shape != flags.shape:
        raise InputError(
            f"end_s, is_af: expected 1-D arrays of one length, got {ends.shape} and {flags.shape}"
        )
    if not np.all(np.isfinite(ends)) or np.any(np.diff(ends) <= 0):
        raise InputError("end_s: frame times must be finite and increasing")
    if not np.isfinite(window_s) or window_s <= 0:
        raise InputError(f"window_s: must be a positive number of seconds, got {window_s}")
    for name, value in (("close_gap_s", close_gap_s), ("min_duration_s", min_duration_s)):
        if not np.isfinite(value) or value < 0:
            raise InputError(f"{name}: must be a non-negative number of seconds, got {value}")
    centre = ends[flags.astype(bool)] - window_s / 2
    starts, stops = centre - FRAME_S / 2, centre + FRAME_S / 2
    episodes: list[list[float]] = []
    for a, b in zip(starts.tolist(), stops.tolist(), strict=True):
        # Touching segments always join; a real gap joins only when shorter than close_gap_s.
        if episodes and (a - episodes[-1][1] <= _EPS or a - episodes[-1][1] < close_gap_s - _EPS):
            episodes[-1][1] = b
        else:
            episodes.append([a, b])
    out: list[Interval] = []
    for a, b in episodes:
        a = max(a, 0.0)
        if b - a > _EPS and b - a >= min_duration_s - _EPS:
            out.append((a, b))
    return out


@dataclass(frozen=True)
class EpisodeScore:
    """Counts and durations of an AF episode comparison; ratios are properties.

    Ratios whose denominator is zero are NaN (episode sensitivity of a record without AF, say).

    Attributes
    ----------
    tp_se : int
        Reference episodes overlapped by at least one detected episode.
    tp_ppv : int
        Detected episodes overlapping at least one reference episode.
    n_ref, n_det : int
        Reference and detected episodes left after removing excluded time.
    ref_s, det_s : float
        Reference and detected AF time in seconds, excluded time removed.
    overlap_s : float
        Time that both call AF, in seconds.
    scored_s : float
        Time that took part in scoring: the record's length less excluded time.
    n_ref_short, tp_se_short, n_ref_mid, tp_se_mid, n_ref_long, tp_se_long : int
        ``n_ref`` and ``tp_se`` by the reference episode's length (:data:`LENGTH_BINS`).
    """

    tp_se: int = 0
    tp_ppv: int = 0
    n_ref: int = 0
    n_det: int = 0
    ref_s: float = 0.0
    det_s: float = 0.0
    overlap_s: float = 0.0
    scored_s: float = 0.0
    n_ref_short: int = 0
    tp_se_short: int = 0
    n_ref_mid: int = 0
    tp_se_mid: int = 0
    n_ref_long: int = 0
    tp_se_long: int = 0

    def found_by_length(self, name: str) -> tuple[int, int]:
        """``(tp_se, n_ref)`` of the reference episodes in bin ``name`` of
        :data:`LENGTH_BINS`."""
        found: int = getattr(self, f"tp_se_{name}")
        total: int = getattr(self, f"n_ref_{name}")
        return found, total

    @property
    def episode_se(self) -> float:
        """Episode sensitivity ``tp_se / n_ref``."""
        return self.tp_se / self.n_ref if self.n_ref else math.nan

    @property
    def episode_ppv(self) -> float:
        """Episode positive predictivity ``tp_ppv / n_det``."""
        return self.tp_ppv / self.n_det if self.n_det else math.nan

    @property
    def duration_se(self) -> float:
        """Duration sensitivity ``overlap_s / ref_s``."""
        return self.overlap_s / self.ref_s if self.ref_s > 0 else math.nan

    @property
    def duration_ppv(self) -> float:
        """Duration positive predictivity ``overlap_s / det_s``."""
        return self.overlap_s / self.det_s if self.det_s > 0 else math.nan

    def __add__(self, other: EpisodeScore) -> EpisodeScore:
        return EpisodeScore(
            *(getattr(self, f.name) + getattr(other, f.name) for f in fields(EpisodeScore))
        )

    def to_dict(self) -> dict[str, Any]:
        """Counts, durations and ratios; NaN ratios become ``None`` so the dict is valid JSON."""
        out: dict[str, Any] = {f.name: getattr(self, f.name) for f in fields(EpisodeScore)}
        for key in ("episode_se", "episode_ppv", "duration_se", "duration_ppv"):
            value = getattr(self, key)
            out[key] = None if math.isnan(value) else value
        return out


def gross(scores: Iterable[EpisodeScore]) -> EpisodeScore:
    """Sum counts and durations over records; the ratios of the sum are the gross figures."""
    total = EpisodeScore()
    for score in scores:
        total = total + score
    return total


def _as_intervals(intervals: Iterable[Sequence[float]], field: str) -> list[Interval]:
    out: list[Interval] = []
    for item in intervals:
        try:
            a, b = (float(v) for v in item)
        except (TypeError, ValueError):
            raise InputError(f"{field}: expected (start_s, end_s) pairs, got {item!r}") from None
        if not (math.isfinite(a) and math.isfinite(b)) or b < a:
            raise InputError(f"{field}: interval ({a}, {b}) must be finite with start <= end")
        out.append((a, b))
    return out


def _merge(intervals: list[Interval]) -> list[Interval]:
    """Union of intervals as sorted disjoint ones (touching ones join)."""
    merged: list[list[float]] = []
    for a, b in sorted(intervals):
        if merged and a <= merged[-1][1] + _EPS:
            merged[-1][1] = max(merged[-1][1], b)
        else:
            merged.append([a, b])
    return [(a, b) for a, b in merged]


def _subtract(a: float, b: float, holes: list[Interval]) -> list[Interval]:
    """``[a, b)`` less the sorted disjoint ``holes``, as pieces longer than zero."""
    pieces: list[Interval] = []
    cursor = a
    for h0, h1 in holes:
        if h1 <= cursor or h0 >= b:
            continue
        if h0 - cursor > _EPS:
            pieces.append((cursor, h0))
        cursor = max(cursor, h1)
    if b - cursor > _EPS:
        pieces.append((cursor, b))
    return pieces


def _pieces(
    episodes: list[Interval], holes: list[Interval], duration_s: float
) -> tuple[list[Interval], list[int], int]:
    """Episodes clipped to the record and less excluded time: pieces, their episode ids, count.

    Episodes left empty are dropped and the ids renumbered, so ids run over ``range(count)``.
    """
    pieces: list[Interval] = []
    ids: list[int] = []
    count = 0
    for a, b in _merge(episodes):
        kept = _subtract(max(a, 0.0), min(b, duration_s), holes)
        if kept:
            pieces.extend(kept)
            ids.extend([count] * len(kept))
            count += 1
    return pieces, ids, count


def score_episodes(
    reference: Iterable[Sequence[float]],
    detected: Iterable[Sequence[float]],
    *,
    duration_s: float,
    excluded: Iterable[Sequence[float]] = (),
) -> EpisodeScore:
    """Score detected AF episodes against reference ones (see the module notes).

    Parameters
    ----------
    reference, detected : iterable of (float, float)
        Episodes ``(start_s, end_s)``; overlapping or touching ones within a list are joined,
        and all are clipped to ``[0, duration_s]``.
    duration_s : float
        Length of the record in seconds.
    excluded : iterable of (float, float)
        Intervals left out of scoring on both sides (atrial flutter).

    Returns
    -------
    EpisodeScore
        Counts and durations of this record.

    Raises
    ------
    InputError
        If an interval is not a finite ``(start, end)`` pair with ``start <= end``, or
        ``duration_s`` is negative or not finite.
    """
    if not math.isfinite(duration_s) or duration_s < 0:
        raise InputError(f"duration_s: must be a non-negative number of seconds, got {duration_s}")
    holes = _merge(_as_intervals(excluded, "excluded"))
    ref, ref_ids, n_ref = _pieces(_as_intervals(reference, "reference"), holes, duration_s)
    det, det_ids, n_det = _pieces(_as_intervals(detected, "detected"), holes, duration_s)
    # Both piece lists are sorted and disjoint, so one sweep finds every overlapping pair.
    hit_ref: set[int] = set()
    hit_det: set[int] = set()
    overlap = 0.0
    i = j = 0
    while i < len(ref) and j < len(det):
        length = min(ref[i][1], det[j][1]) - max(ref[i][0], det[j][0])
        if length > _EPS:
            overlap += length
            hit_ref.add(ref_ids[i])
            hit_det.add(det_ids[j])
        if ref[i][1] <= det[j][1]:
            i += 1
        else:
            j += 1
    scored = duration_s - sum(max(0.0, min(b, duration_s) - max(a, 0.0)) for a, b in holes)
    lengths = np.zeros(n_ref)
    np.add.at(lengths, np.asarray(ref_ids, np.int64), [b - a for a, b in ref])
    hit = np.isin(np.arange(n_ref), sorted(hit_ref))
    by_length: dict[str, int] = {}
    for name, lo, hi in LENGTH_BINS:
        in_bin = (lengths >= lo - _EPS) & (lengths < hi - _EPS)
        by_length[f"n_ref_{name}"] = int(in_bin.sum())
        by_length[f"tp_se_{name}"] = int((in_bin & hit).sum())
    return EpisodeScore(
        tp_se=len(hit_ref),
        tp_ppv=len(hit_det),
        n_ref=n_ref,
        n_det=n_det,
        ref_s=float(sum(b - a for a, b in ref)),
        det_s=float(sum(b - a for a, b in det)),
        overlap_s=float(overlap),
        scored_s=float(scored),
        **by_length,
    )
