"""How the alarms behave on real recordings and scripted scenarios (``cardiostream bench alarms``).

Each record goes through the engine (lead 0) and its messages, in order, through the
server's own :class:`~cardiostream.stream.alarms.AlarmModel` (no heart-rate limits, nothing
acknowledged). An alarm's *raise time* is the stream time of the window with which it was
announced (what a screen would show then).

On MITDB, against the reference rhythms and beats:

- alarm state changes (raised or ended) per hour, by the reference rhythm at the change:
  the toggling a ward would hear;
- per alarm kind with a reference (AF ``(AFIB``, VT ``(VT``, pauses of 2 s or more between
  annotated beats): the reference episodes, those alarmed (an alarm overlapping the episode;
  for a pause, the pause alarm that starts within 0.5 s of it), alarms per alarmed episode,
  those already alarmed at their onset (an alarm held from the episode just before), the
  delay from the onset to the alarm for the others (for a pause from the moment it had
  lasted 2 s), and false alarms (overlapping no reference episode) per hour;
- technical alarms per hour (MITDB's noise is in the signal, not in its annotations: these
  are reported, not scored).

Scripted scenarios (the simulator's sinus rhythm, AF, noise, lead-off and a sinus
tachycardia past the bed's limit of 120 bpm, and an asystole made of 6 s of baseline noise)
have known onsets: each expected alarm's delay, and any other alarm raised, are reported.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from cardiostream.evaluate.reference import rhythm_intervals
from cardiostream.record import BEAT_SYMBOLS, Record
from cardiostream.stream.alarms import AlarmModel

#: MITDB rhythm label of the alarm kinds scored against a reference.
REFERENCE = {"af": "AFIB", "vt": "VT"}
PAUSE_S = 2.0


@dataclass
class Raised:
    """One alarm as replayed: kind, priority, when its condition began, when it was raised
    (announced) and when it ended (None: still shown at the end)."""

    id: int
    kind: str
    priority: str
    start_s: float
    raised_s: float
    end_s: float | None = None


def replay(
    messages: Iterable[Mapping[str, Any]], hr_high: float | None = None
) -> tuple[list[Raised], list[float]]:
    """The engine's messages through an :class:`AlarmModel` (with a high heart-rate limit
    if given): the alarms, and the stream times of every state change (raised, ended,
    latched)."""
    model = AlarmModel(hr_high=hr_high)
    alarms: dict[int, Raised] = {}
    changes: list[float] = []
    for msg in messages:
        for a in model.update(msg):
            r = alarms.get(a.id)
            if r is None:
                alarms[a.id] = Raised(a.id, a.kind, a.priority, a.start_s, model.t)
                changes.append(model.t)
            elif a.state != "active" and r.end_s is None:
                r.end_s = a.end_s if a.end_s is not None else model.t
                changes.append(model.t)
    return list(alarms.values()), changes


def _messages(x: npt.NDArray[np.float64], fs: float) -> list[dict[str, Any]]:
    from cardiostream.stream.processor import StreamProcessor

    proc = StreamProcessor(fs)
    return [dict(m) for m in [*proc.push(x), *proc.flush()]]


def reference_pauses(record: Record) -> list[tuple[float, float]]:
    """Intervals of ``PAUSE_S`` or more between consecutive annotated beats."""
    beats = record.annotations.beats
    keep = np.isin(beats.symbol, list(BEAT_SYMBOLS))
    t = beats.sample[keep] / record.fs
    gaps = np.flatnonzero(np.diff(t) >= PAUSE_S)
    return [(float(t[i]), float(t[i + 1])) for i in gaps]


def _rhythm_at(record: Record, t: float) -> str:
    r = record.annotations.rhythms
    fs = record.fs
    for a, b, lab in zip(r.start.tolist(), r.end.tolist(), r.label.tolist(), strict=True):
        if a / fs <= t < b / fs:
            return str(lab)
    return "?"


@dataclass
class KindScore:
    """One alarm kind against its reference episodes."""

    n_ref: int = 0
    alarmed: int = 0
    alarms_on_episodes: int = 0
    delays: list[float] = field(default_factory=list)
    held: int = 0  # episodes whose alarm was already on at their onset
    false: int = 0
    free_h: float = 0.0  # hours without a reference episode of the kind

    def add(self, other: KindScore) -> None:
        self.n_ref += other.n_ref
        self.alarmed += other.alarmed
        self.alarms_on_episodes += other.alarms_on_episodes
        self.delays += other.delays
        self.held += other.held
        self.false += other.false
        self.free_h += other.free_h

    def row(self) -> dict[str, Any]:
        d = np.array(self.delays)
        return {
            "reference_episodes": self.n_ref,
            "alarmed": self.alarmed,
            "alarmed_pct": 100.0 * self.alarmed / self.n_ref if self.n_ref else None,
            "alarms_per_alarmed_episode": (
                self.alarms_on_episodes / self.alarmed if self.alarmed else None
            ),
            "already_on": self.held,
            "delay_median_s": float(np.median(d)) if d.size else None,
            "delay_p90_s": float(np.percentile(d, 90)) if d.size else None,
            "false_alarms": self.false,
            "false_per_hour": self.false / self.free_h if self.free_h else None,
        }


def _overlaps(a0: float, a1: float, b0: float, b1: float) -> bool:
    return a0 < b1 and b0 < a1


def score_kind(
    alarms: Sequence[Raised],
    episodes: Sequence[tuple[float, float]],
    duration_s: float,
    *,
    onset_after_s: float = 0.0,
    grace_s: float = 0.0,
    match_start_s: float | None = None,
) -> KindScore:
    """Alarms of one kind against reference episodes (see the module notes). With
    ``match_start_s`` an alarm belongs to an episode when their starts are that close (a
    pause is its own alarm; a held one must not take the next pause's credit)."""
    s = KindScore(n_ref=len(episodes))
    if match_start_s is not None:
        tol = match_start_s
        used: set[int] = set()
        for e0, _ in episodes:
            hits = [a for a in alarms if abs(a.start_s - e0) <= tol and a.id not in used]
            if hits:
                used.add(hits[0].id)
                s.alarmed += 1
                s.alarms_on_episodes += 1
                s.delays.append(hits[0].raised_s - (e0 + onset_after_s))
        s.false = len(alarms) - len(used)
        s.free_h = duration_s / 3600.0
        return s
    spans = [(a.start_s, a.end_s if a.end_s is not None else duration_s, a) for a in alarms]
    for e0, e1 in episodes:
        hits = [a for a0, a1, a in spans if _overlaps(a0, max(a1, a0 + 1e-3), e0, e1 + grace_s)]
        if hits:
            s.alarmed += 1
            s.alarms_on_episodes += len(hits)
            delay = min(a.raised_s for a in hits) - (e0 + onset_after_s)
            if delay <= 0:
                s.held += 1  # on already: held from an episode just before
            else:
                s.delays.append(delay)
    s.false = sum(
        not any(_overlaps(a0, max(a1, a0 + 1e-3), e0, e1 + grace_s) for e0, e1 in episodes)
        for a0, a1, _ in spans
    )
    covered = sum(e1 - e0 for e0, e1 in episodes)
    s.free_h = max(duration_s - covered, 0.0) / 3600.0
    return s


@dataclass
class RecordAlarms:
    """What one record's replay gave."""

    name: str
    hours: float
    kinds: dict[str, KindScore]
    changes_by_rhythm: Counter[str]
    hours_by_rhythm: dict[str, float]
    raised: Counter[str]


def score_record(
    record: Record, alarms: Sequence[Raised], changes: Sequence[float]
) -> RecordAlarms:
    duration = record.signal.shape[0] / record.fs
    kinds: dict[str, KindScore] = {}
    for kind, label in REFERENCE.items():
        mine = [a for a in alarms if a.kind == kind]
        kinds[kind] = score_kind(mine, rhythm_intervals(record, label), duration)
    pauses = [a for a in alarms if a.kind == "pause"]
    kinds["pause"] = score_kind(pauses, reference_pauses(record), duration,
                                onset_after_s=PAUSE_S, match_start_s=0.5)  # fmt: skip
    by_rhythm: Counter[str] = Counter(_rhythm_at(record, t) for t in changes)
    hours: dict[str, float] = {}
    r = record.annotations.rhythms
    for a, b, lab in zip(r.start.tolist(), r.end.tolist(), r.label.tolist(), strict=True):
        hours[str(lab)] = hours.get(str(lab), 0.0) + (b - a) / record.fs / 3600.0
    return RecordAlarms(record.name, duration / 3600.0, kinds, by_rhythm, hours,
                        Counter(a.kind for a in alarms))  # fmt: skip


# ------------------------------------------------------------------- scenarios
#: (name, seconds, what plays) of the scripted scenario, in order.
SCENARIO: tuple[tuple[str, float, str], ...] = (
    ("sinus 70", 120.0, "nsr"),
    ("AF", 120.0, "af"),
    ("sinus 70", 60.0, "nsr"),
    ("asystole 6 s", 6.0, "asystole"),
    ("sinus 70", 54.0, "nsr"),
    ("leads off 10 s", 10.0, "leadoff"),
    ("sinus 70", 50.0, "nsr"),
    ("noise 60 s (0 dB)", 60.0, "noise"),
    ("sinus 70", 60.0, "nsr"),
    ("sinus tachycardia 135, limit 120", 120.0, "rate"),
    ("sinus 70", 60.0, "nsr"),
)
#: The alarm each scripted stretch should raise (none for sinus rhythm).
EXPECTED = {"af": "af", "asystole": "asystole", "leadoff": "leads_off", "noise": "noise",
            "rate": "hr_high"}  # fmt: skip
#: The bed's high heart-rate limit in the scenario.
SCENARIO_HR_HIGH = 120.0


def scenario_signal(
    seed: int = 7, fs: float = 250.0
) -> tuple[npt.NDArray[np.float64], list[tuple[str, str, float, float]]]:
    """The scripted scenario's samples and its stretches ``(name, mode, start_s, end_s)``."""
    from cardiostream.sim.simulator import Simulator

    sim = Simulator(fs, mode="nsr", hr_bpm=70, seed=seed)
    rng = np.random.default_rng(seed)
    parts: list[npt.NDArray[np.float64]] = []
    spans: list[tuple[str, str, float, float]] = []
    t = 0.0
    for name, seconds, mode in SCENARIO:
        n = round(seconds * fs)
        if mode == "asystole":
            # No QRS, but a live lead: baseline noise around where the trace was.
            level = float(parts[-1][-1]) if parts else 0.0
            x = level + 0.01 * rng.standard_normal(n)
            sim.read(n)  # the rhythm underneath moves on
        else:
            if mode == "rate":
                # A sinus rate rises over a minute, not in a few beats.
                sim.set_mode("rate", hr_bpm=135, ramp_s=60)
            elif mode == "noise":
                sim.set_mode("noise", hr_bpm=70)
            elif mode == "af":
                sim.set_mode("af")
            elif mode == "leadoff":
                sim.set_mode("leadoff")
            else:
                sim.set_mode("nsr", hr_bpm=70)
            x = np.asarray(sim.read(n), np.float64)
        parts.append(x)
        spans.append((name, mode, t, t + seconds))
        t += seconds
    return np.concatenate(parts), spans


def score_scenario(
    alarms: Sequence[Raised], spans: Sequence[tuple[str, str, float, float]]
) -> list[dict[str, Any]]:
    """Per stretch: the expected alarm, its delay from the stretch's start, and the other
    alarms raised within it (the sinus stretches expect none)."""
    rows = []
    for name, mode, t0, t1 in spans:
        within = [a for a in alarms if t0 <= a.raised_s < t1 + (10.0 if mode != "nsr" else 0.0)]
        want = EXPECTED.get(mode)
        hit = [a for a in within if a.kind == want]
        # Alarms whose condition began in this stretch (one raised just after the stretch
        # before belongs to it).
        others = sorted({a.kind for a in within if a.kind != want and t0 <= a.start_s < t1})
        rows.append({
            "stretch": name, "start_s": t0, "expected": want,
            "raised": bool(hit) if want else None,
            "delay_s": round(hit[0].raised_s - t0, 1) if hit else None,
            "alarms_of_kind": len(hit), "other_alarms": others,
        })  # fmt: skip
    return rows


# ------------------------------------------------------------------ benchmark
@dataclass
class AlarmBenchmark:
    records: list[RecordAlarms]
    scenario: list[dict[str, Any]]

    def gross(self) -> dict[str, KindScore]:
        out: dict[str, KindScore] = {}
        for r in self.records:
            for k, s in r.kinds.items():
                out.setdefault(k, KindScore()).add(s)
        return out

    def rhythm_rows(self) -> list[dict[str, Any]]:
        changes: Counter[str] = Counter()
        hours: dict[str, float] = {}
        for r in self.records:
            changes.update(r.changes_by_rhythm)
            for k, h in r.hours_by_rhythm.items():
                hours[k] = hours.get(k, 0.0) + h
        return [
            {
                "rhythm": k,
                "hours": hours[k],
                "changes": changes[k],
                "per_hour": changes[k] / hours[k] if hours[k] else None,
            }
            for k in sorted(hours, key=lambda k: -hours[k])
            if hours[k] >= 0.05 or changes[k]
        ]

    def document(self) -> dict[str, Any]:
        hours = sum(r.hours for r in self.records)
        raised: Counter[str] = Counter()
        for r in self.records:
            raised.update(r.raised)
        return {
            "hours": hours,
            "kinds": {k: s.row() for k, s in self.gross().items()},
            "by_rhythm": self.rhythm_rows(),
            "raised_per_hour": {k: n / hours for k, n in sorted(raised.items())},
            "scenario": self.scenario,
            "records": {r.name: {k: s.row() for k, s in r.kinds.items()} for r in self.records},
        }

    def markdown(self) -> str:
        def f(v: Any, fmt: str = ".1f") -> str:
            return "–" if v is None else format(v, fmt)

        doc = self.document()
        title = f"## Alarms on MITDB ({len(self.records)} records, {doc['hours']:.1f} h, lead 0)"
        lines = [title, "",
                 "| alarm | reference episodes | alarmed % | alarms per alarmed episode | "
                 "already on at onset | onset to alarm, median s | p90 s | false alarms | "
                 "false per hour |",
                 "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]  # fmt: skip
        for k, row in doc["kinds"].items():
            lines.append(
                f"| {k} | {row['reference_episodes']} | {f(row['alarmed_pct'])} | "
                f"{f(row['alarms_per_alarmed_episode'], '.2f')} | {row['already_on']} | "
                f"{f(row['delay_median_s'])} | "
                f"{f(row['delay_p90_s'])} | {row['false_alarms']} | "
                f"{f(row['false_per_hour'], '.2f')} |"
            )
        lines += ["", "Alarm state changes per hour, by the reference rhythm at the change:", "",
                  "| rhythm | hours | changes | per hour |",
                  "| --- | ---: | ---: | ---: |"]  # fmt: skip
        for row in doc["by_rhythm"]:
            lines.append(f"| {row['rhythm']} | {row['hours']:.2f} | {row['changes']} | "
                         f"{f(row['per_hour'])} |")  # fmt: skip
        lines += ["", "Alarms raised per hour of recording, by kind:", "",
                  "| kind | per hour |", "| --- | ---: |"]  # fmt: skip
        lines += [f"| {k} | {v:.2f} |" for k, v in doc["raised_per_hour"].items()]
        lines += ["", "## Scripted scenario (simulator)", "",
                  "| stretch | starts at s | expected alarm | raised | onset to alarm s | "
                  "alarms of that kind | other alarms |",
                  "| --- | ---: | --- | --- | ---: | ---: | --- |"]  # fmt: skip
        for row in self.scenario:
            raised_text = "–" if row["raised"] is None else ("yes" if row["raised"] else "NO")
            lines.append(
                f"| {row['stretch']} | {row['start_s']:.0f} | {row['expected'] or '–'} | "
                f"{raised_text} | {f(row['delay_s'])} | {row['alarms_of_kind']} | "
                f"{', '.join(row['other_alarms']) or '–'} |"
            )
        return "\n".join(lines) + "\n"


def run_alarm_benchmark(
    data: Path, names: Sequence[str], on_step: Callable[[str], None] | None = None
) -> AlarmBenchmark:
    """Replay each named MITDB record (lead 0) and the scripted scenario."""
    from cardiostream.io import read

    records = []
    for name in names:
        record = read(data / f"{name}.hea")
        x = np.asarray(record.signal[:, 0], np.float64)
        alarms, changes = replay(_messages(x, record.fs))
        records.append(score_record(record, alarms, changes))
        if on_step is not None:
            on_step(name)
    x, spans = scenario_signal()
    alarms, _ = replay(_messages(x, 250.0), hr_high=SCENARIO_HR_HIGH)
    if on_step is not None:
        on_step("scenario")
    return AlarmBenchmark(records, score_scenario(alarms, spans))
