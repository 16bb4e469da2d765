"""The summary sentences at the top of the Holter report, most important first.

Every sentence is written from the report's own numbers, so that it cannot disagree with
the tables. A recording that is mostly unanalysable says so first, with its analysable
time; a figure that is null is left out rather than written as zero.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta

from cardiostream.report.holter.contract import Ectopy, HolterReport

#: Below this share of analysable time the report opens with a warning.
LOW_ANALYSABLE = 0.5


def duration(seconds: float) -> str:
    """``3 h 12 min``, ``14 min``, ``45 s``."""
    s = round(seconds)
    if s < 60:
        return f"{s} s"
    h, m = divmod(s // 60, 60)
    return f"{h} h {m} min" if h else f"{m} min"


def clock(report: HolterReport, t_s: float) -> str:
    """``at 14:32:05`` when the recording's start is known, else ``at 3 h 12 min`` (elapsed)."""
    start = report["record"]["start"]
    if start:
        try:
            first = datetime.fromisoformat(start)
        except ValueError:  # a time of day alone
            first = datetime.combine(datetime(2000, 1, 1), time.fromisoformat(start))
        return f"at {first + timedelta(seconds=t_s):%H:%M:%S}"
    return f"at {duration(t_s)}"


def _count(n: int, one: str, many: str) -> str:
    return f"{n:,} {one if n == 1 else many}"


def _ectopy(e: Ectopy, beat: str, beats: str, run_name: str) -> str:
    text = _count(e["total"], beat, beats)
    parts = []
    if e["couplets"]:
        parts.append(_count(e["couplets"], "couplet", "couplets"))
    if e["runs"]:
        runs = _count(e["runs"], f"run of {run_name}", f"runs of {run_name}")
        longest = e["longest_run"]
        if longest is not None:
            runs += f", the longest {longest['n_beats']} beats at {longest['rate_bpm']:.0f} bpm"
        parts.append(runs)
    return ", ".join([text, *parts])


def findings(report: HolterReport) -> list[str]:
    """The sentences (see the module notes)."""
    rec = report["record"]
    out: list[str] = []
    share = rec["analysable_s"] / rec["duration_s"] if rec["duration_s"] > 0 else 0.0
    if share < LOW_ANALYSABLE:
        reasons = sorted(rec["unusable_by_reason"].items(), key=lambda kv: -kv[1])
        why = f" (mostly {reasons[0][0].replace('_', ' ')})" if reasons else ""
        out.append(
            f"Only {duration(rec['analysable_s'])} of {duration(rec['duration_s'])} analysable"
            f"{why}: the figures cover that time only"
        )
    af = report["af"]
    if af["burden"] is not None:
        if af["af_s"] > 0:
            text = f"AF burden {100 * af['burden']:.0f} %"
            if af["longest"] is not None:
                text += f", longest episode {duration(af['longest']['duration_s'])}"
                if af["longest"]["mean_rate_bpm"] is not None:
                    text += f" at {af['longest']['mean_rate_bpm']:.0f} bpm"
            out.append(text)
        else:
            out.append("no AF")
    if rec["analysable_s"] <= 0:
        return out  # nothing was seen: no count, not even "no pause", can be claimed
    v = report["ventricular"]
    vt = [r for r in v["run_list"] if r["rate_bpm"] >= 100]
    sustained = [r for r in vt if r["end_s"] - r["start_s"] >= 30]
    name = "VT" if sustained else "NSVT"
    out.append(_ectopy(v, "VEB", "VEBs", name if len(vt) == len(v["run_list"]) else "V beats"))
    for n, words in ((v["bigeminy_episodes"], "bigeminy"), (v["trigeminy_episodes"], "trigeminy")):
        if n:
            out.append(
                _count(n, f"episode of ventricular {words}", f"episodes of ventricular {words}")
            )
    sv = report["supraventricular"]
    fast = all(r["rate_bpm"] >= 100 for r in sv["run_list"])
    out.append(_ectopy(sv, "SVEB", "SVEBs", "SVT" if fast else "S beats"))
    p = report["pauses"]
    if p["longest"] is not None:
        text = _count(p["n_2s"], "pause ≥ 2 s", "pauses ≥ 2 s")
        text += f" ({p['n_3s']} ≥ 3 s), the longest {p['longest']['rr_s']:.1f} s "
        text += clock(report, p["longest"]["at_s"])
        out.append(text)
    else:
        out.append("no pause ≥ 2 s")
    if p["n_3s"] == 0 and p["longest"] is not None:
        out.append("no pause ≥ 3 s")
    hr = report["heart_rate"]
    if hr["mean_bpm"] is not None and hr["min_bpm"] is not None and hr["max_bpm"] is not None:
        out.append(
            f"heart rate {hr['min_bpm']:.0f}-{hr['max_bpm']:.0f} bpm, mean {hr['mean_bpm']:.0f} bpm"
        )
    for kind, words in (
        ("bradycardia", "bradycardia"),
        ("tachycardia", "tachycardia"),
        ("sinus_tachycardia", "sinus tachycardia"),
    ):
        eps = [e for e in report["rate_episodes"] if e["kind"] == kind]
        if eps:
            longest = max(eps, key=lambda e: e["end_s"] - e["start_s"])
            out.append(
                f"{_count(len(eps), f'episode of {words}', f'episodes of {words}')}, the longest "
                f"{duration(longest['end_s'] - longest['start_s'])}"
            )
    return out
