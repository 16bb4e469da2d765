"""Which ECG strips the report shows, and their samples.

For each kind of event present: its first, longest and fastest episode (a kind without a
rate has no fastest; an episode already shown for the kind is not shown twice); then the
minute of the lowest and of the highest heart rate, at the usable window of that minute
with the extreme rate. A strip is 10 s, or the episode with 2 s either side up to 30 s (a
longer episode shows its onset).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from cardiostream.record import Record
from cardiostream.report.holter.collect import Collected
from cardiostream.report.holter.contract import HolterReport, Strip, StripSignal, StripWhich
from cardiostream.stream.messages import Event

STRIP_S = 10.0
MAX_STRIP_S = 30.0
MARGIN_S = 2.0
#: What a strip of each kind shows, in words.
NAMES = {
    "af": "AF",
    "vt": "ventricular tachycardia",
    "svt": "supraventricular tachycardia",
    "idioventricular_rhythm": "idioventricular rhythm",
    "ventricular_bigeminy": "ventricular bigeminy",
    "ventricular_trigeminy": "ventricular trigeminy",
    "pause": "pause",
    "asystole": "asystole",
    "bradycardia": "bradycardia",
    "tachycardia": "tachycardia",
    "sinus_tachycardia": "sinus tachycardia",
    "paced_rhythm": "paced rhythm",
}
_WHICH_WORDS = {
    "first": "first episode",
    "longest": "longest episode",
    "fastest": "fastest episode",
}


def _rate(e: Event, c: Collected) -> float | None:
    d: dict[str, Any] = dict(e.get("detail") or {})
    if "rate_bpm" in d:
        return float(d["rate_bpm"])
    sel = (c.t_end > e["start_s"]) & (c.t_end <= e["end_s"]) & c.usable & np.isfinite(c.hr)
    return float(c.hr[sel].mean()) if sel.any() and e["kind"] == "af" else None


def _span(start: float, end: float, duration: float) -> tuple[float, float]:
    length = min(max(end - start + 2 * MARGIN_S, STRIP_S), MAX_STRIP_S)
    if end - start + 2 * MARGIN_S <= STRIP_S:
        a = (start + end) / 2 - STRIP_S / 2  # a short event is centred
    else:
        a = start - MARGIN_S
    a = min(max(a, 0.0), max(duration - length, 0.0))
    return round(a, 3), round(min(length, duration), 3)


def select_strips(
    report: HolterReport, c: Collected, record: Record, events: Sequence[Event]
) -> tuple[list[Strip], dict[str, StripSignal]]:
    """The strips of the report and their samples (see the module notes)."""
    strips: list[Strip] = []
    by_kind: dict[str, list[Event]] = {}
    for e in sorted(events, key=lambda e: e["start_s"]):
        by_kind.setdefault(e["kind"], []).append(e)
    for kind, evs in by_kind.items():
        picks: list[tuple[StripWhich, Event]] = [
            ("first", evs[0]),
            ("longest", max(evs, key=lambda e: e["end_s"] - e["start_s"])),
        ]
        rated = [(r, e) for e in evs if (r := _rate(e, c)) is not None]
        if rated and kind != "bradycardia":  # the "fastest" bradycardia shows nothing
            picks.append(("fastest", max(rated, key=lambda x: x[0])[1]))
        shown: set[float] = set()
        for which, e in picks:
            if e["start_s"] in shown:
                continue
            shown.add(e["start_s"])
            a, n = _span(e["start_s"], e["end_s"], c.duration_s)
            rate = _rate(e, c)
            strips.append(
                {
                    "id": f"{kind}-{which}",
                    "finding": f"{NAMES.get(kind, kind)}, {_WHICH_WORDS[which]}",
                    "kind": kind,
                    "which": which,
                    "start_s": a,
                    "duration_s": n,
                    "hr_bpm": None if rate is None else round(rate, 1),
                }
            )
    hr = report["heart_rate"]
    for which, at, high in (("min_hr", hr["min_at_s"], False), ("max_hr", hr["max_at_s"], True)):
        if at is None:
            continue
        # The windows inside the minute: the strip shows the 10 s of the extreme rate.
        sel = (c.t_end >= at + STRIP_S) & (c.t_end <= at + 60.0) & c.usable & np.isfinite(c.hr)
        if not sel.any():
            continue
        idx = np.flatnonzero(sel)
        k = idx[np.argmax(c.hr[idx])] if high else idx[np.argmin(c.hr[idx])]
        a = max(float(c.t_end[k]) - STRIP_S, 0.0)
        strips.append(
            {
                "id": f"heart_rate-{which}",
                "finding": "highest heart rate" if high else "lowest heart rate",
                "kind": "heart_rate",
                "which": which,
                "start_s": round(a, 3),
                "duration_s": STRIP_S,
                "hr_bpm": round(float(c.hr[k]), 1),
            }
        )
    lead = record.lead(record.leads.index(c.lead) if c.lead in record.leads else 0)
    signals = {}
    for s in strips:
        a = round(s["start_s"] * record.fs)
        b = min(round((s["start_s"] + s["duration_s"]) * record.fs), lead.size)
        inside = (c.beat_t >= s["start_s"]) & (c.beat_t < s["start_s"] + s["duration_s"])
        signals[s["id"]] = StripSignal(
            samples=np.asarray(lead[a:b], np.float32),
            fs=float(record.fs),
            beat_s=c.beat_t[inside] - s["start_s"],
            beat_class=c.beat_label[inside].tolist(),
        )
    return strips, signals
