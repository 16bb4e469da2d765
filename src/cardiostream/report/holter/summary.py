"""The numbers of the Holter report from one pass of the engine.

:func:`build_report` turns what :func:`~cardiostream.report.holter.collect.collect` gathered
into a :class:`~cardiostream.report.holter.contract.HolterReport`, with the definitions of
the contract's module notes. Choices within them:

- A beat is analysable when the window standing for its second is usable
  (:mod:`~cardiostream.report.holter.timeline`); counts, rates and shares use those only.
- Ectopy: V beats; S beats outside windows labelled ``af`` (there they are the fibrillating
  rhythm, as the engine treats them). Sequences of one family are cut by any other beat,
  an unanalysable beat or a break in the signal; runs of one or two are the isolated beats
  and couplets. Runs of three or more are the engine's ``vt`` and
  ``idioventricular_rhythm`` events (V), its ``svt`` events and the slower S runs of three
  or more that no ``svt`` covers (S).
- Pauses and asystole are the engine's own ``pause`` and ``asystole`` events (the interval
  from the beat that starts it), so the report and the live alarms agree; one that starts
  in unanalysable time is left out, and so is an asystole that the signal's loss or the
  end of the recording closed (no beat ended it: its length is not an RR interval).
- ``unusable_by_reason`` adds :data:`NOT_WINDOWED` for the first seconds of the recording,
  before the first window ends, so that every unanalysable second has a reason.
- HRV (:mod:`~cardiostream.report.holter.hrv_nn`) leaves out the beats of AF windows: NN
  intervals are sinus-to-sinus (Task Force 1996).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from datetime import time as dtime
from time import perf_counter
from typing import Any

import numpy as np
import numpy.typing as npt

import cardiostream
from cardiostream.record import Record
from cardiostream.report.holter.collect import REASON_BITS, Collected
from cardiostream.report.holter.contract import (
    SCHEMA,
    Af,
    AfEpisode,
    Annotation,
    HeartRate,
    HolterReport,
    HourRow,
    Pause,
    Pauses,
    RateEpisode,
    RecordInfo,
)
from cardiostream.report.holter.ectopy import ectopy, event_run, slow_s_runs
from cardiostream.report.holter.findings import findings
from cardiostream.report.holter.hrv_nn import hrv_nn, nn_intervals
from cardiostream.report.holter.notes import episode_notes
from cardiostream.report.holter.strip_choice import select_strips
from cardiostream.report.holter.timeline import Timeline
from cardiostream.stream.messages import Event

#: A minute's rate is given when at least this many of its seconds are analysable.
MIN_MINUTE_S = 30.0
#: Seconds no window stands for (the first seconds before the first window ends).
NOT_WINDOWED = "not_windowed"
#: Reasons that make a window uncertain but not unusable: not counted as unusable time.
_VERDICT_REASONS = frozenset({"low_confidence", "paced"})
V_RUN_KINDS = ("vt", "idioventricular_rhythm")
RATE_KINDS = ("bradycardia", "tachycardia", "sinus_tachycardia")


def _r(x: float | None, nd: int = 1) -> float | None:
    return None if x is None or not np.isfinite(x) else round(float(x), nd)


def iso_start(value: object) -> str | None:
    """A file's start as ISO 8601: a date and time, or a time of day alone (WFDB headers may
    give no date); None when there is none or it cannot be read."""
    if value is None:
        return None
    if isinstance(value, datetime | dtime):
        return value.isoformat()
    text = str(value).strip()
    for parse in (datetime.fromisoformat, dtime.fromisoformat):
        try:
            return parse(text).isoformat()
        except ValueError:
            continue
    return None


def _record_info(c: Collected, record: Record, tl: Timeline) -> RecordInfo:
    analysable = float(np.count_nonzero(tl.usable)) * tl.hop_s
    by_reason: dict[str, float] = {}
    for bits in c.reasons[~c.usable].tolist():
        for i, name in enumerate(REASON_BITS):
            if bits >> i & 1 and name not in _VERDICT_REASONS:
                by_reason[name] = by_reason.get(name, 0.0) + c.hop_s
    covered = min(c.t_end.size * c.hop_s, c.duration_s)
    if c.duration_s - covered > 0:
        by_reason[NOT_WINDOWED] = round(c.duration_s - covered, 3)
    meta = record.meta
    device = meta.get("device") or meta.get("equipment") or meta.get("recorder")
    start = meta.get("start")
    return {
        "name": c.name,
        "source": c.source,
        "fs": c.fs,
        "lead": c.lead,
        "leads": c.leads,
        "device": None if device is None else str(device),
        "start": iso_start(start),
        "duration_s": round(c.duration_s, 3),
        "analysable_s": analysable,
        "unusable_s": round(c.duration_s - analysable, 3),
        "unusable_by_reason": {k: round(v, 3) for k, v in sorted(by_reason.items())},
    }


def _minute_rates(
    beat_t: npt.NDArray[np.float64], tl: Timeline, duration_s: float
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64], npt.NDArray[np.int64]]:
    """Per minute: analysable seconds, mean rate (NaN below :data:`MIN_MINUTE_S`), beats."""
    n_min = max(int(np.ceil(duration_s / 60.0)), 1)
    per_slot = round(60.0 / tl.hop_s)
    secs = np.zeros(n_min * per_slot)
    secs[: tl.usable.size] = tl.usable
    ana_s = secs.reshape(n_min, per_slot).sum(axis=1) * tl.hop_s
    beats = np.bincount((beat_t // 60.0).astype(np.int64), minlength=n_min)[:n_min]
    with np.errstate(divide="ignore", invalid="ignore"):
        rate = np.where(ana_s >= MIN_MINUTE_S, beats * 60.0 / ana_s, np.nan)
    return ana_s, rate, beats


def _heart_rate(
    ana_s: npt.NDArray[np.float64], rate: npt.NDArray[np.float64], total: int
) -> HeartRate:
    ok = np.isfinite(rate)
    minutes = float(ana_s.sum()) / 60.0
    lo = int(np.nanargmin(rate)) if ok.any() else None
    hi = int(np.nanargmax(rate)) if ok.any() else None
    return {
        "total_beats": total,
        "min_bpm": None if lo is None else _r(rate[lo]),
        "min_at_s": None if lo is None else 60.0 * lo,
        "mean_bpm": _r(total / minutes) if minutes > 0 and ok.any() else None,
        "max_bpm": None if hi is None else _r(rate[hi]),
        "max_at_s": None if hi is None else 60.0 * hi,
        "trend_t_s": [60.0 * i for i in range(rate.size)],
        "trend_bpm": [None if not np.isfinite(v) else round(float(v), 1) for v in rate.tolist()],
    }


def _pauses(events: Sequence[Event], tl: Timeline) -> Pauses:
    found: list[Pause] = []
    for e in events:
        if e["kind"] not in ("pause", "asystole"):
            continue
        if e["kind"] == "asystole" and "reason" in e:
            continue  # closed by the signal or the end, not by a beat: no RR to report
        at = float(e["start_s"])
        if not tl.analysable([at])[0]:
            continue
        d: dict[str, Any] = dict(e.get("detail") or {})
        rr = float(d.get("rr_s", e["end_s"] - e["start_s"]))
        found.append({"at_s": round(at, 3), "rr_s": round(rr, 3)})
    found.sort(key=lambda p: p["at_s"])
    return {
        "n_2s": sum(p["rr_s"] >= 2.0 for p in found),
        "n_3s": sum(p["rr_s"] >= 3.0 for p in found),
        "longest": max(found, key=lambda p: p["rr_s"], default=None),
        "pause_list": found,
    }


def _window_extreme(c: Collected, start: float, end: float, high: bool) -> float | None:
    sel = (c.t_end > start) & (c.t_end <= end) & c.usable & np.isfinite(c.hr)
    if not sel.any():
        return None
    return _r(float(c.hr[sel].max() if high else c.hr[sel].min()))


def _rate_episodes(c: Collected) -> list[RateEpisode]:
    out: list[RateEpisode] = []
    for e in c.events:
        if e["kind"] in RATE_KINDS:
            high = e["kind"] != "bradycardia"
            out.append(
                {
                    "kind": e["kind"],  # type: ignore[typeddict-item]  # one of RATE_KINDS
                    "start_s": e["start_s"],
                    "end_s": e["end_s"],
                    "extreme_bpm": _window_extreme(c, e["start_s"], e["end_s"], high),
                }
            )
    return sorted(out, key=lambda r: r["start_s"])


def _af(c: Collected, tl: Timeline, analysable_s: float, notes: Sequence[Annotation]) -> Af:
    af_s = float(np.count_nonzero(tl.af)) * tl.hop_s
    joined: list[list[Any]] = []  # segments of one episode (max_duration) joined
    for e in sorted((e for e in c.events if e["kind"] == "af"), key=lambda e: e["start_s"]):
        if "episode_start_s" in e and joined and joined[-1][1] >= e["start_s"] - 1e-6:
            joined[-1][1] = e["end_s"]
        else:
            joined.append([e["start_s"], e["end_s"], e.get("confidence")])
    episodes: list[AfEpisode] = []
    for start, end, conf in joined:
        sel = (c.t_end > start) & (c.t_end <= end) & c.usable & np.isfinite(c.hr)
        episodes.append(
            {
                "start_s": start,
                "end_s": end,
                "duration_s": round(end - start, 3),
                "mean_rate_bpm": _r(float(c.hr[sel].mean())) if sel.any() else None,
                "confidence": None if conf is None else float(conf),
                "annotations": episode_notes(start, end, notes),
            }
        )
    return {
        "burden": round(af_s / analysable_s, 4) if analysable_s > 0 else None,
        "af_s": af_s,
        "episodes": episodes,
        "longest": max(episodes, key=lambda e: e["duration_s"], default=None),
    }


def _hourly(
    c: Collected,
    tl: Timeline,
    ana_min: npt.NDArray[np.float64],
    rate_min: npt.NDArray[np.float64],
    beat_t: npt.NDArray[np.float64],
    v: npt.NDArray[np.bool_],
    s: npt.NDArray[np.bool_],
    pauses: Pauses,
) -> list[HourRow]:
    hours = max(int(np.ceil(c.duration_s / 3600.0)), 1)
    rows: list[HourRow] = []
    pause_at = np.asarray([p["at_s"] for p in pauses["pause_list"]])
    for h in range(hours):
        a, b = 3600.0 * h, min(3600.0 * (h + 1), c.duration_s)
        ana = tl.seconds(tl.usable, a, b)
        in_h = (beat_t >= a) & (beat_t < b)
        mins = rate_min[60 * h : 60 * (h + 1)]
        ok = np.isfinite(mins)
        n = int(np.count_nonzero(in_h))
        minutes = float(ana_min[60 * h : 60 * (h + 1)].sum()) / 60.0
        rows.append(
            {
                "hour": h,
                "start_s": a,
                "analysable_s": ana,
                "beats": n,
                "min_bpm": _r(float(mins[ok].min())) if ok.any() else None,
                "mean_bpm": _r(n / minutes) if ok.any() else None,
                "max_bpm": _r(float(mins[ok].max())) if ok.any() else None,
                "v_beats": int(np.count_nonzero(in_h & v)),
                "s_beats": int(np.count_nonzero(in_h & s)),
                "af_burden": round(tl.seconds(tl.af, a, b) / ana, 4) if ana > 0 else None,
                "pauses": int(np.count_nonzero((pause_at >= a) & (pause_at < b))),
            }
        )
    return rows


def build_report(
    c: Collected,
    record: Record,
    *,
    annotations: Sequence[Annotation] = (),
    total_s: float | None = None,
) -> tuple[HolterReport, dict[str, Any]]:
    """The report's numbers and the strips' samples (see the module notes).

    Parameters
    ----------
    c : Collected
        One pass of the engine over ``record``.
    record : Record
        The recording (for its header and the strips' samples).
    annotations : sequence of Annotation
        A reviewer's notes, listed in the report and on the AF episodes they overlap.
    total_s : float, optional
        Seconds the whole job took so far (reading and engine); the summary's own time is
        added.

    Returns
    -------
    report : HolterReport
    strips : dict of str to StripSignal
    """
    started = perf_counter()
    tl = Timeline.of(c)
    info = _record_info(c, record, tl)
    ana = tl.analysable(c.beat_t)
    af_all = tl.in_af(c.beat_t)
    t = c.beat_t[ana]
    lab = c.beat_label[ana]
    in_af = af_all[ana]
    v = lab == "V"
    s = (lab == "S") & ~in_af
    hours = max(int(np.ceil(c.duration_s / 3600.0)), 1)
    # A sequence is cut at an unanalysable beat: indices over all beats, then kept ones.
    breaks_all = c.beat_broken | ~ana
    breaks_all[1:] |= ~ana[:-1]
    breaks = breaks_all[ana]
    ana_min, rate_min, _ = _minute_rates(t, tl, c.duration_s)
    events = [e for e in c.events if tl.analysable([e["start_s"]])[0] or e["kind"] == "af"]
    v_runs = [event_run(e) for e in events if e["kind"] in V_RUN_KINDS]
    svt = [event_run(e) for e in events if e["kind"] == "svt"]
    s_runs = svt + slow_s_runs(s, t, breaks, svt)
    pauses = _pauses(c.events, tl)
    nn = nn_intervals(c.beat_t, c.beat_label, ana & ~af_all, c.beat_broken)
    report: HolterReport = {
        "schema": SCHEMA,
        "software": {
            "version": cardiostream.__version__,
            "rhythm_model": c.models.get("rhythm_model", "unknown"),
            "beat_model": c.models.get("beat_model", "unknown"),
        },
        "record": info,
        "findings": [],
        "heart_rate": _heart_rate(ana_min, rate_min, int(t.size)),
        "hourly": _hourly(c, tl, ana_min, rate_min, t, v, s, pauses),
        "ventricular": ectopy(v, t, breaks, v_runs, events, hours),
        "supraventricular": ectopy(s, t, breaks, s_runs, (), hours),
        "pauses": pauses,
        "rate_episodes": _rate_episodes(c),
        "af": _af(c, tl, info["analysable_s"], annotations),
        "hrv": hrv_nn(nn),
        "strips": [],
        "annotations": list(annotations),
        "timing": {"engine_s": round(c.engine_s, 3), "total_s": 0.0},
    }
    report["strips"], signals = select_strips(report, c, record, events)
    report["findings"] = findings(report)
    spent = perf_counter() - started
    report["timing"]["total_s"] = round((total_s or c.engine_s) + spent, 3)
    return report, signals
