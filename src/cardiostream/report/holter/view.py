"""What the Holter report prints, figure by figure: the template's input, all text.

:func:`build_view` turns the report's numbers into the strings, rows and pictures that the
template lays out, so the template holds no arithmetic and no formatting. A null figure
becomes a :class:`Figure` with a dash and, where the report lets us know, the reason.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from cardiostream.report.holter import text
from cardiostream.report.holter.contract import (
    AfEpisode,
    Ectopy,
    HolterReport,
    Hrv,
    Run,
    StripSignal,
)
from cardiostream.report.holter.strips import MM_PER_MV, MM_PER_S, ROW_S, strip_svg
from cardiostream.report.holter.svg import AF_COLOUR, hourly_bars_svg, trend_svg
from cardiostream.report.holter.text import DASH, Clock
from cardiostream.report.strip import BEAT_COLOURS

#: Below this share of analysable time the report opens by saying the recording is mostly
#: unusable: every figure then rests on less than half the day.
MOSTLY_UNUSABLE = 0.5
#: Less analysable time than one minute supports no rate at all.
NO_SIGNAL = "Not enough analysable signal"
#: Long lists (runs, pauses) stop here in the PDF; the JSON has them all.
LIST_MAX = 40


class Markup(str):
    """Text that is already HTML (our own SVG): the template prints it unescaped."""

    __slots__ = ()

    def __html__(self) -> str:
        return str(self)


@dataclass(frozen=True)
class Figure:
    """A figure as printed, and why it is missing when it is a dash."""

    value: str
    why: str = ""

    @classmethod
    def of(cls, value: str, why: str) -> Figure:
        """``value``, carrying ``why`` only when the value is a dash."""
        return cls(value, why if value == DASH else "")


def _reason(name: str) -> str:
    """A quality reason as words (``lead_off`` → ``Lead off``)."""
    words = name.replace("_", " ").strip()
    return words[:1].upper() + words[1:] if words else "Unspecified"


def _record(report: HolterReport, clock: Clock) -> dict[str, Any]:
    rec = report["record"]
    sw = report["software"]
    duration = rec["duration_s"]
    share = rec["analysable_s"] / duration if duration > 0 else 0.0
    unusable = sorted(rec["unusable_by_reason"].items(), key=lambda kv: -kv[1])
    leads = ", ".join(rec["leads"]) or DASH
    rows = [
        ("Record", rec["name"]),
        ("Source", rec["source"]),
        ("Device", rec["device"] or "not stated in the file"),
        ("Leads", f"{leads} (analysed: {rec['lead']}, {rec['fs']:g} Hz)"),
        (
            "Start",
            clock.date_time()
            if clock.known
            else "not stated in the file: times are elapsed from the start (+HH:MM:SS)",
        ),
        ("Recording", text.duration(duration)),
        ("Analysable", f"{text.duration(rec['analysable_s'])} ({text.percent(share)})"),
        (
            "Unusable",
            text.duration(rec["unusable_s"])
            + (
                ": " + "; ".join(f"{_reason(k)} {text.duration(v)}" for k, v in unusable)
                if unusable
                else ""
            ),
        ),
        (
            "Software",
            f"cardiostream {sw['version']} · rhythm model {sw['rhythm_model']} · "
            f"beat model {sw['beat_model']}",
        ),
    ]
    banner = ""
    if rec["analysable_s"] < 60.0:
        banner = (
            f"{NO_SIGNAL}: {text.duration(rec['analysable_s'])} of "
            f"{text.duration(duration)} could be analysed, too little for any figure."
        )
    elif share < MOSTLY_UNUSABLE:
        banner = (
            f"Mostly unusable recording: only {text.duration(rec['analysable_s'])} of "
            f"{text.duration(duration)} ({text.percent(share)}) could be analysed. "
            "Every figure below covers that time only."
        )
    if banner and unusable:
        banner += (
            " Unusable: "
            + "; ".join(f"{_reason(k).lower()} {text.duration(v)}" for k, v in unusable)
            + "."
        )
    return {"rows": rows, "banner": banner, "share": share}


def _heart_rate(report: HolterReport, clock: Clock, why: str) -> dict[str, Any]:
    hr = report["heart_rate"]
    duration = report["record"]["duration_s"]

    def at(bpm: float | None, t: float | None) -> Figure:
        value = text.number(bpm, 0, "bpm")
        return Figure.of(value if value == DASH else f"{value} at {clock.at(t)}", why)

    af_note = " Orange along the bottom: AF episodes." if report["af"]["episodes"] else ""
    if clock.known:
        note = f"Shaded: night, 22:00–06:00.{af_note}"
    else:
        note = ("The start's clock time is not known: hours are elapsed from the start, and "
                f"no night is shaded.{af_note}")  # fmt: skip
    trend = trend_svg(
        hr["trend_t_s"],
        hr["trend_bpm"],
        clock,
        duration,
        af_spans=[(e["start_s"], e["end_s"]) for e in report["af"]["episodes"]],
        marks=[
            (hr["min_at_s"], hr["min_bpm"], f"min {text.number(hr['min_bpm'])}"),
            (hr["max_at_s"], hr["max_bpm"], f"max {text.number(hr['max_bpm'])}"),
        ],
    )
    return {
        "total": Figure.of(text.count(hr["total_beats"]) if hr["total_beats"] else DASH, why),
        "min": at(hr["min_bpm"], hr["min_at_s"]),
        "mean": Figure.of(text.number(hr["mean_bpm"], 0, "bpm"), why),
        "max": at(hr["max_bpm"], hr["max_at_s"]),
        "trend": Markup(trend),
        "note": note,
    }


def _hourly(report: HolterReport, clock: Clock) -> list[list[str]]:
    rows = []
    for h in report["hourly"]:
        # An hour without analysable time counted nothing: its zeros are not findings.
        seen = h["analysable_s"] > 0

        def n(value: int, seen: bool = seen) -> str:
            return text.count(value) if seen else DASH

        rows.append(
            [
                clock.at(h["start_s"], seconds=False),
                text.duration(h["analysable_s"]) if seen else DASH,
                n(h["beats"]),
                text.number(h["min_bpm"]),
                text.number(h["mean_bpm"]),
                text.number(h["max_bpm"]),
                n(h["v_beats"]),
                n(h["s_beats"]),
                text.percent(h["af_burden"]),
                n(h["pauses"]),
            ]
        )
    return rows


def _run(run: Run | None, clock: Clock) -> str:
    if run is None:
        return "none"
    return (
        f"{run['n_beats']:,} beats at {text.number(run['rate_bpm'], 0, 'bpm')}, "
        f"{clock.at(run['start_s'])}"
    )


def _busiest(report: HolterReport, key: str, e: Ectopy, clock: Clock) -> str:
    """The busiest hour's count and, from the hourly table, when that hour began."""
    hours = [h for h in report["hourly"] if h.get(key) == e["per_hour_max"]]
    if not e["per_hour_max"] or not hours:
        return text.count(e["per_hour_max"])
    return f"{text.count(e['per_hour_max'])} (hour from {clock.at(hours[0]['start_s'], False)})"


def _ectopy(report: HolterReport, clock: Clock, why: str) -> dict[str, Any]:
    v, s = report["ventricular"], report["supraventricular"]
    beats = report["heart_rate"]["total_beats"]

    def both(get: Any) -> list[Figure]:
        # Without analysable signal the counts are zeros of nothing: dashes with the reason.
        return [Figure.of(DASH if why else get(e), why) for e in (v, s)]

    def per_1000(e: Ectopy) -> str:
        return text.number(1000.0 * e["total"] / beats, 1) if beats else DASH

    rows = [
        ("Total", both(lambda e: text.count(e["total"]) if beats else DASH)),
        ("Per 1,000 beats", both(per_1000)),
        ("Isolated", both(lambda e: text.count(e["isolated"]))),
        ("Couplets", both(lambda e: text.count(e["couplets"]))),
        ("Runs (3 or more)", both(lambda e: text.count(e["runs"]))),
        ("Longest run", both(lambda e: _run(e["longest_run"], clock))),
        ("Fastest run", both(lambda e: _run(e["fastest_run"], clock))),
        ("Bigeminy episodes", both(lambda e: text.count(e["bigeminy_episodes"]))),
        ("Trigeminy episodes", both(lambda e: text.count(e["trigeminy_episodes"]))),
        (
            "Busiest hour",
            [
                Figure.of(DASH if why else _busiest(report, key, e, clock), why)
                for key, e in (("v_beats", v), ("s_beats", s))
            ],
        ),
    ]
    hourly = report["hourly"]
    starts = [h["start_s"] for h in hourly]
    duration = report["record"]["duration_s"]
    bars = [
        Markup(
            hourly_bars_svg(
                starts,
                [h["v_beats" if family == "V" else "s_beats"] for h in hourly],
                clock,
                duration,
                colour=BEAT_COLOURS[family],
                label=f"{family} beats per hour",
            )
        )
        for family in ("V", "S")
    ]
    runs = []
    for family, e in (("V", v), ("S", s)):
        for r in e["run_list"]:
            runs.append(
                (
                    r["start_s"],
                    [
                        family,
                        clock.at(r["start_s"]),
                        clock.at(r["end_s"]),
                        text.count(r["n_beats"]),
                        text.number(r["rate_bpm"], 0, "bpm"),
                    ],
                )
            )
    runs.sort(key=lambda item: item[0])
    return {
        "rows": rows,
        "bars": bars,
        "runs": [row for _, row in runs[:LIST_MAX]],
        "runs_more": max(0, len(runs) - LIST_MAX),
    }


def _pauses(report: HolterReport, clock: Clock, why: str) -> dict[str, Any]:
    p = report["pauses"]
    longest = p["longest"]
    rows = [[clock.at(x["at_s"]), f"{x['rr_s']:.2f} s"] for x in p["pause_list"][:LIST_MAX]]
    episodes = [
        [
            e["kind"].replace("_", " ").capitalize(),
            clock.at(e["start_s"]),
            clock.at(e["end_s"]),
            text.duration(e["end_s"] - e["start_s"]),
            text.number(e["extreme_bpm"], 0, "bpm"),
        ]
        for e in report["rate_episodes"]
    ]
    return {
        "n_2s": Figure.of(text.count(p["n_2s"]) if not why else DASH, why),
        "n_3s": Figure.of(text.count(p["n_3s"]) if not why else DASH, why),
        "longest": DASH
        if why
        else "none"
        if longest is None
        else f"{longest['rr_s']:.2f} s at {clock.at(longest['at_s'])}",
        "rows": rows,
        "more": max(0, len(p["pause_list"]) - LIST_MAX),
        "episodes": episodes,
    }


def _episode(i: int, e: AfEpisode, clock: Clock) -> list[str]:
    return [
        str(i),
        clock.at(e["start_s"]),
        clock.at(e["end_s"]),
        text.duration(e["duration_s"]),
        text.number(e["mean_rate_bpm"], 0, "bpm"),
        text.percent(e["confidence"], 0),
        "; ".join(e["annotations"]),
    ]


def _af(report: HolterReport, clock: Clock, why: str) -> dict[str, Any]:
    af = report["af"]
    longest = af["longest"]
    hourly = report["hourly"]
    bars = hourly_bars_svg(
        [h["start_s"] for h in hourly],
        [None if h["af_burden"] is None else 100.0 * h["af_burden"] for h in hourly],
        clock,
        report["record"]["duration_s"],
        colour=AF_COLOUR,
        label="AF burden per hour",
        top=100.0,
        unit=" %",
    )
    return {
        "burden": Figure.of(text.percent(af["burden"]), why),
        "af_time": text.duration(af["af_s"]) if af["burden"] is not None else DASH,
        "n_episodes": DASH if why else text.count(len(af["episodes"])),
        "longest": DASH
        if why
        else "none"
        if longest is None
        else f"{text.duration(longest['duration_s'])}, {clock.at(longest['start_s'])} – "
        f"{clock.at(longest['end_s'])}",
        "episodes": [_episode(i, e, clock) for i, e in enumerate(af["episodes"], 1)],
        "bars": Markup(bars),
    }


def _hrv(report: HolterReport, why: str) -> dict[str, Any]:
    h: Hrv = report["hrv"]
    few = why or ("Fewer than two NN intervals" if h["n_nn"] < 2 else "")
    time_why = few or "Too few NN intervals"
    segment_why = few or "No 5-minute segment with 80 % of its time in NN intervals"
    rows = [
        ("SDNN", Figure.of(text.number(h["sdnn_ms"], 0, "ms"), time_why), "whole recording"),
        (
            "SDANN",
            Figure.of(text.number(h["sdann_ms"], 0, "ms"), segment_why),
            "SD of the 5-minute mean NN",
        ),
        (
            "SDNN index",
            Figure.of(text.number(h["sdnn_index_ms"], 0, "ms"), segment_why),
            "mean of the 5-minute SDNNs",
        ),
        ("RMSSD", Figure.of(text.number(h["rmssd_ms"], 0, "ms"), time_why), ""),
        ("pNN50", Figure.of(text.percent(h["pnn50"]), time_why), ""),
        ("LF", Figure.of(text.number(h["lf_ms2"], 0, "ms²"), segment_why), "0.04–0.15 Hz"),
        ("HF", Figure.of(text.number(h["hf_ms2"], 0, "ms²"), segment_why), "0.15–0.4 Hz"),
        ("LF/HF", Figure.of(text.number(h["lf_hf"], 2), segment_why), ""),
    ]
    return {"rows": rows, "n_nn": text.count(h["n_nn"]), "segments": text.count(h["segments"])}


def _strips(report: HolterReport, strips: dict[str, StripSignal], clock: Clock) -> list[Any]:
    out = []
    for s in report["strips"]:
        signal = strips.get(s["id"])
        svg = ""
        if signal is not None and len(signal.samples):
            n_rows = max(1, -(-len(signal.samples) // max(1, round(ROW_S * signal.fs))))
            labels = [clock.at(s["start_s"] + r * ROW_S) for r in range(n_rows)]
            svg = strip_svg(signal, labels if n_rows > 1 else None, s["finding"])
        out.append(
            {
                "id": s["id"],
                "finding": s["finding"],
                "time": clock.at(s["start_s"]),
                "end": clock.at(s["start_s"] + s["duration_s"]),
                "duration": text.duration(s["duration_s"]),
                "hr": text.number(s["hr_bpm"], 0, "bpm"),
                "svg": Markup(svg),
            }
        )
    return out


def _css_string(value: str) -> Markup:
    """``value`` as a CSS string literal, safe inside a ``<style>`` element."""
    body = (
        value.replace("\\", "\\\\")
        .replace('"', '\\"')
        .replace("\n", " ")
        .replace("<", "\\3C ")
        .replace(">", "\\3E ")
    )
    return Markup(f'"{body}"')


def build_view(report: HolterReport, strips: dict[str, StripSignal]) -> dict[str, Any]:
    """Everything the template prints, as text, rows and inline SVG.

    Parameters
    ----------
    report : HolterReport
        The report's numbers.
    strips : dict of str to StripSignal
        The strips' samples by ``Strip.id``.

    Returns
    -------
    dict
        The template's variables.
    """
    clock = Clock.parse(report["record"]["start"])
    record = _record(report, clock)
    why = NO_SIGNAL if report["record"]["analysable_s"] < 60.0 else ""
    name = report["record"]["name"]
    start = clock.date_time() if clock.known else "start time unknown"
    return {
        "title": f"Holter report — {name}",
        "name": name,
        "record": record,
        "findings": report["findings"],
        "hr": _heart_rate(report, clock, why),
        "hourly": _hourly(report, clock),
        "ectopy": _ectopy(report, clock, why),
        "pauses": _pauses(report, clock, why),
        "af": _af(report, clock, why),
        "hrv": _hrv(report, why),
        "strips": _strips(report, strips, clock),
        "annotations": [
            [
                clock.at(a["t_s"]),
                clock.at(a["end_s"]) if a["end_s"] is not None else "",
                a["label"],
                a["note"],
            ]
            for a in report["annotations"]
        ],
        "time_note": "clock time" if clock.known else "elapsed from the start",
        "scale": f"{MM_PER_S:g} mm/s · {MM_PER_MV:g} mm/mV",
        "css_header": _css_string(f"Holter report · {name}"),
        "css_start": _css_string(start),
        "css_footer": _css_string(
            f"cardiostream {report['software']['version']} · decision support, "
            "to be reviewed by a physician"
        ),
    }
