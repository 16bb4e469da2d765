"""Reference labels of annotated records: which windows are AF, normal or other by the
reference rhythm and beat annotations, and the reference AF and flutter episodes.

Window labels of annotated records
----------------------------------
:func:`rhythm_windows` labels a window ``[t - window_s, t)`` of a record from its reference
rhythm intervals (WFDB ``(AFIB``, ``(N``, ... aux notes) and beat symbols:

* ``af`` (1): the window lies entirely inside one ``AFIB`` interval (beats do not matter).
* ``normal`` (0): the window lies entirely inside one ``N`` (sinus rhythm) interval and has at
  least one beat, all of them in :data:`NORMAL_BEATS` (``N``, and the bundle-branch-block beats
  ``L`` and ``R``, which are conducted sinus beats with a wide QRS).
* ``other`` (2): the window lies entirely inside one interval of any other rhythm (``B``, ``T``,
  ``VT``, ``SVTA``, ``SBR``, ``BII``, ``IVR``, ``NOD``, ``P``, ``PREX``, ``VFL``, ``AB``, ...),
  or inside ``N`` with an ectopic or escape beat (``A``, ``V``, ``F``, ``J``, ``a``, ``S``,
  ``E``, ``e``, ``j``, ``n``, ``/``, ``f``, ``r``, ``!``, ``B``); such ``N`` windows have at
  least one beat.
* excluded (-1): the window overlaps atrial flutter (``AFL``, neither AF nor clearly other),
  spans a rhythm change or time before the first rhythm annotation, holds a missing sample in
  the chosen lead, is an ``N`` window without beats or with an unclassifiable beat (``Q``,
  ``?``) and no ectopic one.

``noise`` is never assigned: reference rhythm annotations do not grade signal quality.
Times are on the record's own clock; the model's output lags it by the preprocessing delay.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from cardiostream.errors import InputError
from cardiostream.record import Record
from cardiostream.rhythm.verdict import CLASSES

#: Label of a window that takes no part in scoring.
EXCLUDED = -1

#: Beat symbols that keep an ``N`` window normal: sinus beats, with or without bundle-branch
#: block.
NORMAL_BEATS: frozenset[str] = frozenset("NLR")

#: Beat symbols that say nothing about the rhythm: an ``N`` window with these (and no ectopic
#: beat) is excluded rather than called normal or other.
UNKNOWN_BEATS: frozenset[str] = frozenset("Q?")

#: Rhythm label of atrial fibrillation, of atrial flutter and of sinus rhythm in WFDB.
AF_RHYTHM, AFL_RHYTHM, NORMAL_RHYTHM = "AFIB", "AFL", "N"

Int64Array = npt.NDArray[np.int64]
Float64Array = npt.NDArray[np.float64]


@dataclass
class RhythmWindows:
    """Labelled windows of one record (see the module notes for the rules).

    Attributes
    ----------
    record : str
        The record's name.
    start_s, end_s : ndarray of float64
        Window bounds in seconds on the record's clock.
    label : ndarray of int64
        Class index (:data:`CLASSES`) or :data:`EXCLUDED`.
    af_fraction : ndarray of float64
        Fraction of the window inside ``AFIB`` intervals.
    """

    record: str
    start_s: Float64Array
    end_s: Float64Array
    label: Int64Array
    af_fraction: Float64Array = field(default_factory=lambda: np.zeros(0))

    def __len__(self) -> int:
        return int(self.end_s.size)

    def counts(self) -> dict[str, int]:
        """Number of windows per class name, and ``excluded``."""
        out = {name: int(np.sum(self.label == i)) for i, name in enumerate(CLASSES)}
        out["excluded"] = int(np.sum(self.label == EXCLUDED))
        return out


def rhythm_intervals(record: Record, label: str) -> list[tuple[float, float]]:
    """The ``(start_s, end_s)`` intervals of one rhythm label of a record; contiguous repeats
    form one episode."""
    rhythms = record.annotations.rhythms
    out: list[tuple[float, float]] = []
    for a, b, lab in zip(
        rhythms.start.tolist(), rhythms.end.tolist(), rhythms.label.tolist(), strict=True
    ):
        if lab != label or b <= a:
            continue
        if out and out[-1][1] == a / record.fs:
            out[-1] = (out[-1][0], b / record.fs)  # Contiguous repeats form one episode.
        else:
            out.append((a / record.fs, b / record.fs))
    return out


def af_episodes(record: Record) -> list[tuple[float, float]]:
    """AF episodes ``(start_s, end_s)`` from the record's ``AFIB`` rhythm intervals."""
    return rhythm_intervals(record, AF_RHYTHM)


def afl_intervals(record: Record) -> list[tuple[float, float]]:
    """Atrial flutter intervals ``(start_s, end_s)``, to leave out of AF scoring."""
    return rhythm_intervals(record, AFL_RHYTHM)


def _count_before(cumulative: Int64Array, positions: Int64Array, t: Int64Array) -> Int64Array:
    """Number of flagged items at sorted ``positions`` below each ``t`` (via a cumulative sum)."""
    return cumulative[np.searchsorted(positions, t, side="left")]


def rhythm_windows(
    record: Record,
    lead: int | str = 0,
    window_s: float = 10.0,
    hop_s: float | None = None,
) -> RhythmWindows:
    """Label the windows of an annotated record for rhythm evaluation.

    Parameters
    ----------
    record : Record
        A record with reference rhythm (and beat) annotations, such as an MITDB record.
    lead : int or str
        The lead whose missing samples exclude a window.
    window_s : float
        Window length in seconds.
    hop_s : float, optional
        Time between window ends; ``window_s`` (non-overlapping windows) by default, 1.0 for
        the model's frame rate.

    Returns
    -------
    RhythmWindows
        Windows ``[t - window_s, t)`` for ``t = window_s, window_s + hop_s, ...`` up to the
        record's end, labelled by the rules of the module notes.
    """
    if not np.isfinite(window_s) or window_s <= 0:
        raise InputError(f"window_s: must be a positive number of seconds, got {window_s}")
    hop = window_s if hop_s is None else hop_s
    if not np.isfinite(hop) or hop <= 0:
        raise InputError(f"hop_s: must be a positive number of seconds, got {hop_s}")
    fs = record.fs
    n_windows = int(np.floor((record.duration - window_s) / hop + 1e-9)) + 1
    n_windows = max(n_windows, 0)
    end_s = window_s + hop * np.arange(n_windows, dtype=np.float64)
    start_s = end_s - window_s
    a = np.round(start_s * fs).astype(np.int64)
    b = np.minimum(np.round(end_s * fs).astype(np.int64), record.n_samples)

    rhythms = record.annotations.rhythms
    order = np.argsort(rhythms.start, kind="stable")
    starts = rhythms.start[order].astype(np.int64)
    ends = rhythms.end[order].astype(np.int64)
    labels = np.asarray(rhythms.label, dtype=str)[order]
    # The first interval ending after sample a holds the window when it starts at or before a
    # and reaches b (intervals are disjoint; an interval per window, no change inside).
    window_rhythm = np.full(n_windows, "", dtype=labels.dtype if labels.size else "<U1")
    if starts.size:
        idx = np.minimum(np.searchsorted(ends, a, side="right"), starts.size - 1)
        inside = (starts[idx] <= a) & (ends[idx] >= b)
        window_rhythm[inside] = labels[idx[inside]]

    af = labels == AF_RHYTHM
    af_fraction = (_covered(starts[af], ends[af], b) - _covered(starts[af], ends[af], a)) / (
        np.maximum(b - a, 1)
    )

    beats = record.annotations.beats
    beat_pos = beats.sample.astype(np.int64)
    symbols = np.asarray(beats.symbol, dtype=str)
    unknown = np.isin(symbols, sorted(UNKNOWN_BEATS))
    ectopic = ~np.isin(symbols, sorted(NORMAL_BEATS)) & ~unknown
    n_beats = np.searchsorted(beat_pos, b) - np.searchsorted(beat_pos, a)
    cum_ectopic = np.concatenate([[0], np.cumsum(ectopic)]).astype(np.int64)
    cum_unknown = np.concatenate([[0], np.cumsum(unknown)]).astype(np.int64)
    n_ectopic = _count_before(cum_ectopic, beat_pos, b) - _count_before(cum_ectopic, beat_pos, a)
    n_unknown = _count_before(cum_unknown, beat_pos, b) - _count_before(cum_unknown, beat_pos, a)

    missing = ~np.isfinite(record.lead(lead))
    cum_missing = np.concatenate([[0], np.cumsum(missing)]).astype(np.int64)
    has_missing = cum_missing[b] > cum_missing[a]

    label = np.full(n_windows, EXCLUDED, dtype=np.int64)
    known = (window_rhythm != "") & ~has_missing & (window_rhythm != AFL_RHYTHM)
    label[known & (window_rhythm == AF_RHYTHM)] = CLASSES.index("af")
    sinus = known & (window_rhythm == NORMAL_RHYTHM) & (n_beats > 0)
    label[sinus & (n_ectopic == 0) & (n_unknown == 0)] = CLASSES.index("normal")
    label[sinus & (n_ectopic > 0)] = CLASSES.index("other")
    other_rhythm = known & ~np.isin(window_rhythm, [AF_RHYTHM, NORMAL_RHYTHM])
    label[other_rhythm] = CLASSES.index("other")
    return RhythmWindows(
        record=record.name,
        start_s=start_s,
        end_s=end_s,
        label=label,
        af_fraction=af_fraction,
    )


def _covered(starts: Int64Array, ends: Int64Array, t: Int64Array) -> Float64Array:
    """Samples before each ``t`` covered by the disjoint intervals ``[starts, ends)``."""
    if starts.size == 0:
        return np.zeros(t.shape, dtype=np.float64)
    order = np.argsort(starts)
    s, e = starts[order], ends[order]
    full = np.concatenate([[0], np.cumsum(e - s)])
    k = np.searchsorted(s, t, side="right")  # intervals starting at or before t
    last = np.maximum(k - 1, 0)
    covered = full[last] + np.clip(t - s[last], 0, e[last] - s[last])
    return np.where(k > 0, covered, 0).astype(np.float64)
