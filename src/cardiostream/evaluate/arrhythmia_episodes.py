"""Arrhythmia events scored against MITDB's rhythm annotations, EC57 style.

The engine's events (``{"type": "event", "kind": "vt", "start_s", "end_s", ...}``) of each
kind are compared with the reference episodes of the matching MIT-BIH rhythm label by
:func:`~cardiostream.evaluate.af_episodes.score_episodes`: episode sensitivity (reference
episodes overlapped by a detected one), episode positive predictivity (detected episodes
overlapping a reference one) and the duration figures. Ventricular flutter (``(VFL``) is left
out of the ventricular kinds on both sides, as EC57 leaves VF out of ventricular ectopy
scoring. Contiguous reference intervals of one label form one episode.

The rules that make the events are clinical definitions fixed in advance
(:mod:`cardiostream.stream.arrhythmia`); nothing here is tuned on the records scored. The
events that the beat classifier drives (VT, SVT, bigeminy, trigeminy, idioventricular rhythm)
are the test on DS2, the half of MITDB the classifier never saw; DS1 figures are reported
beside them for development only.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cardiostream.evaluate.af_episodes import EpisodeScore, gross, score_episodes
from cardiostream.evaluate.beat_classes import DS1, DS2
from cardiostream.evaluate.reference import rhythm_intervals
from cardiostream.record import Record

#: Engine event kind -> MIT-BIH rhythm label (``aux_note`` without its parenthesis).
REFERENCE_LABELS: dict[str, str] = {
    "vt": "VT",
    "svt": "SVTA",
    "ventricular_bigeminy": "B",
    "ventricular_trigeminy": "T",
    "idioventricular_rhythm": "IVR",
    "bradycardia": "SBR",
}
#: Labels left out of scoring, by kind.
EXCLUDED_LABELS: dict[str, tuple[str, ...]] = {
    "vt": ("VFL",),
    "ventricular_bigeminy": ("VFL",),
    "ventricular_trigeminy": ("VFL",),
    "idioventricular_rhythm": ("VFL",),
}


def detected_intervals(events: Iterable[Mapping[str, Any]], kind: str) -> list[tuple[float, float]]:
    """The ``(start_s, end_s)`` of the closed events of one kind."""
    return [
        (float(e["start_s"]), float(e["end_s"]))
        for e in events
        if e.get("type") == "event" and e.get("kind") == kind
    ]


def score_record(
    record: Record, events: Sequence[Mapping[str, Any]], duration_s: float
) -> dict[str, EpisodeScore]:
    """Per kind of :data:`REFERENCE_LABELS`: the record's events scored against its
    reference."""
    out = {}
    for kind, label in REFERENCE_LABELS.items():
        excluded = [
            iv for lab in EXCLUDED_LABELS.get(kind, ()) for iv in rhythm_intervals(record, lab)
        ]
        out[kind] = score_episodes(
            rhythm_intervals(record, label),
            detected_intervals(events, kind),
            duration_s=duration_s,
            excluded=excluded,
        )
    return out


@dataclass
class ArrhythmiaBenchmark:
    """Per-record and gross episode scores of each kind, for DS1 and DS2."""

    records: dict[str, dict[str, EpisodeScore]]

    def gross(self, names: Iterable[str]) -> dict[str, EpisodeScore]:
        """Sums over the named records, kind by kind."""
        names = [n for n in names if n in self.records]
        return {k: gross(self.records[n][k] for n in names) for k in REFERENCE_LABELS}

    def document(self) -> dict[str, Any]:
        """Everything as plain JSON data."""
        return {
            "ds2": {k: v.to_dict() for k, v in self.gross(DS2).items()},
            "ds1": {k: v.to_dict() for k, v in self.gross(DS1).items()},
            "records": {n: {k: v.to_dict() for k, v in s.items()} for n, s in self.records.items()},
        }

    def markdown(self) -> str:
        """The gross tables (DS2 first) and the records that hold reference episodes."""

        def pct(v: float) -> str:
            return "–" if v != v else f"{100 * v:.1f}"

        lines = ["## Arrhythmia events on MITDB (EC57 episode scoring, lead 0)", ""]
        for title, names in (("DS2 (test)", DS2), ("DS1 (development)", DS1)):
            lines += [
                f"### {title}",
                "",
                "| kind | MITDB label | reference episodes | detected | episode Se % | "
                "episode +P % | duration Se % | duration +P % |",
                "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |",
            ]
            for kind, s in self.gross(names).items():
                lines.append(
                    f"| {kind} | ({REFERENCE_LABELS[kind]} | {s.n_ref} | {s.n_det} | "
                    f"{pct(s.episode_se)} | {pct(s.episode_ppv)} | {pct(s.duration_se)} | "
                    f"{pct(s.duration_ppv)} |"
                )
            lines.append("")
        lines += [
            "### Per record (kinds with a reference or a detected episode)",
            "",
            "| record | kind | reference | detected | Se hits | +P hits |",
            "| --- | --- | ---: | ---: | ---: | ---: |",
        ]
        for name, scores in self.records.items():
            for kind, s in scores.items():
                if s.n_ref or s.n_det:
                    lines.append(
                        f"| {name} | {kind} | {s.n_ref} | {s.n_det} | {s.tp_se} | {s.tp_ppv} |"
                    )
        return "\n".join(lines) + "\n"


def run_arrhythmia_benchmark(
    data: Path,
    names: Sequence[str] = (*DS2, *DS1),
    on_step: Callable[[str], None] | None = None,
) -> ArrhythmiaBenchmark:
    """Run the engine over each named MITDB record (lead 0) and score its events."""
    from cardiostream.io import read
    from cardiostream.stream.analyze import analyze

    out: dict[str, dict[str, EpisodeScore]] = {}
    for name in names:
        record = read(data / f"{name}.hea")
        result = analyze(record)
        out[name] = score_record(record, result.events, record.signal.shape[0] / record.fs)
        if on_step is not None:
            on_step(name)
    return ArrhythmiaBenchmark(out)
