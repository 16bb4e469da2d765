"""Ectopic beats of one family: isolated beats, couplets and runs.

A family is the V beats, or the S beats outside AF (see
:mod:`cardiostream.report.holter.summary`). Sequences of a family are cut by any other beat,
an unanalysable beat or a break in the signal; sequences of one or two are the isolated
beats and the couplets. Runs of three or more are the engine's events where it raises them
(``vt``, ``idioventricular_rhythm``, ``svt``); the slower S runs, which the engine only
counts, are found here.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from cardiostream.report.holter.contract import Ectopy, Run
from cardiostream.stream.messages import Event


def sequences(
    ectopic: npt.NDArray[np.bool_], breaks: npt.NDArray[np.bool_]
) -> list[tuple[int, int]]:
    """``[a, b)`` index spans of consecutive ectopic beats, cut where ``breaks``."""
    out: list[tuple[int, int]] = []
    a = -1
    for i, (e, brk) in enumerate(zip(ectopic.tolist(), breaks.tolist(), strict=True)):
        if a >= 0 and (not e or brk):
            out.append((a, i))
            a = -1
        if e and a < 0:
            a = i
    if a >= 0:
        out.append((a, ectopic.size))
    return out


def make_run(start: float, end: float, n: int, rate: float | None) -> Run:
    """A run from its first and last beat; ``rate`` None: its mean rate over its beats."""
    if rate is None:
        rate = 60.0 * (n - 1) / (end - start) if end > start else 0.0
    return {
        "start_s": round(start, 3),
        "end_s": round(end, 3),
        "n_beats": n,
        "rate_bpm": round(rate, 1),
    }


def event_run(e: Event) -> Run:
    """A run from one of the engine's run events (its ``detail``)."""
    d: dict[str, Any] = dict(e.get("detail") or {})
    rate = d.get("rate_bpm")
    return make_run(
        e["start_s"], e["end_s"], int(d.get("n_beats", 0)), None if rate is None else float(rate)
    )


def ectopy(
    family: npt.NDArray[np.bool_],
    t: npt.NDArray[np.float64],
    breaks: npt.NDArray[np.bool_],
    runs: list[Run],
    events: Sequence[Event],
    hours: int,
) -> Ectopy:
    """The ectopy of one family.

    Parameters
    ----------
    family : ndarray of bool
        Per analysable beat: is of the family.
    t : ndarray of float64
        Time of each analysable beat.
    breaks : ndarray of bool
        A sequence may not run across the beat (the signal broke before it, or a beat next
        to it is not analysable).
    runs : list of Run
        The family's runs of three or more.
    events : sequence of Event
        The engine's events, for the bigeminy and trigeminy episodes.
    hours : int
        Hours of the recording, for the busiest hour.
    """
    spans = sequences(family, breaks)
    lengths = [b - a for a, b in spans]
    per_hour = np.bincount((t[family] // 3600.0).astype(np.int64), minlength=hours)
    runs = sorted(runs, key=lambda r: r["start_s"])
    kinds = Counter(e["kind"] for e in events)
    return {
        "total": int(np.count_nonzero(family)),
        "isolated": lengths.count(1),
        "couplets": lengths.count(2),
        "runs": len(runs),
        "longest_run": max(
            runs, key=lambda r: (r["n_beats"], r["end_s"] - r["start_s"]), default=None
        ),
        "fastest_run": max(runs, key=lambda r: r["rate_bpm"], default=None),
        "run_list": runs,
        "bigeminy_episodes": kinds.get("ventricular_bigeminy", 0),
        "trigeminy_episodes": kinds.get("ventricular_trigeminy", 0),
        "per_hour_max": int(per_hour.max()) if per_hour.size else 0,
    }


def slow_s_runs(
    s: npt.NDArray[np.bool_],
    t: npt.NDArray[np.float64],
    breaks: npt.NDArray[np.bool_],
    svt: list[Run],
) -> list[Run]:
    """S runs of three or more that no ``svt`` event covers (the engine only counts them)."""
    out = []
    for a, b in sequences(s, breaks):
        if b - a < 3:
            continue
        start, end = float(t[a]), float(t[b - 1])
        if any(r["start_s"] - 0.05 <= start <= r["end_s"] + 0.05 for r in svt):
            continue
        out.append(make_run(start, end, b - a, None))
    return out
