"""Offline analysis: a whole recording through the streaming engine.

:func:`analyze` pushes a recording through one :class:`~cardiostream.stream.StreamProcessor`
in blocks of ``block_s`` seconds and collects what it emits. The processor's results do not
depend on how its input is cut, so this gives exactly the windows and events that a live
stream of the same samples gives, in whatever chunks they arrive; the blocks only bound the
memory (about 60 MB a 10-minute block at 360 Hz) and pace the progress bar.

Summaries
    ``af_burden`` is the share of the analysed windows whose reported ``label`` is ``af``,
    each window weighing its hop (the seconds it stands for), so a 30 s recording with ten AF
    windows has a burden above zero even though no episode (at least 30 s) formed.
    ``af_episodes`` counts the AF episodes of the event rules
    (:mod:`cardiostream.stream.events`), an episode cut into segments by ``max_duration_s``
    once, and ``af_episode_s`` is the seconds inside them.
"""

from __future__ import annotations

import gc
import json
import math
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from cardiostream.beats.classes import CLASSES as BEAT_CLASSES
from cardiostream.dsp.filters import check_lead_axis
from cardiostream.errors import InputError
from cardiostream.record import Record
from cardiostream.rhythm.verdict import LABELS
from cardiostream.stream.arrhythmia import KINDS as ARRHYTHMIA_KINDS
from cardiostream.stream.events import EventConfig, episode_count, episode_seconds
from cardiostream.stream.messages import (
    Event,
    Hrv,
    Message,
    Probabilities,
    Window,
    as_dicts,
)
from cardiostream.stream.processor import STAGES, StreamProcessor

#: Columns of the per-window CSV of ``cardiostream analyze --format csv``: a window's keys,
#: flattened (``probabilities`` as ``p_<class>``, ``hrv`` and ``quality`` by their keys).
CSV_COLUMNS = (
    "record",
    "t_start",
    "t_end",
    "label",
    "raw_label",
    *(f"p_{c}" for c in Probabilities.__annotations__),
    "heart_rate_bpm",
    *Hrv.__annotations__,
    "usable",
    "reasons",
)


@dataclass
class Analysis:
    """What the engine emitted for one recording, in order, with its timing.

    Attributes
    ----------
    name : str
        The record's name.
    fs : float
        Its sampling rate.
    duration_s : float
        Seconds of signal analysed.
    lines : list of Message
        Every emitted object (windows, events, gap notices), in the order emitted.
    processing_s : float
        Wall-clock seconds spent in the engine (reading the file not included).
    hop_s : float
        Seconds between windows: the time each window stands for in the AF burden.
    stage_seconds : dict of str to float
        Where that time went (see :data:`cardiostream.stream.processor.STAGES`).
    counts : dict
        The arrhythmia tracker's counts (:meth:`ArrhythmiaTracker.counts
        <cardiostream.stream.arrhythmia.ArrhythmiaTracker.counts>`): beats by class,
        isolated and coupled ectopic beats, runs and pauses, over the beats decided by the
        last window (the last ~3 s of a recording are not in them).
    """

    name: str
    fs: float
    duration_s: float
    lines: list[Message] = field(default_factory=list)
    processing_s: float = 0.0
    hop_s: float = 1.0
    stage_seconds: dict[str, float] = field(default_factory=dict)
    counts: dict[str, Any] = field(default_factory=dict)

    @property
    def windows(self) -> list[Window]:
        """The ``window`` objects."""
        return [x for x in self.lines if x["type"] == "window"]

    @property
    def closed_events(self) -> list[Event]:
        """The closed episodes (``event`` objects): AF and arrhythmias."""
        return [x for x in self.lines if x["type"] == "event"]

    @property
    def events(self) -> list[dict[str, Any]]:
        """:attr:`closed_events` as plain dicts, for callers that store them as such."""
        return as_dicts(self.closed_events)

    def summary(self) -> dict[str, Any]:
        """Per-record figures: duration, processing time, real-time factor, AF burden (share of
        the windows labelled ``af``, see the module notes), AF episodes and their seconds,
        mean heart rate (over usable windows only), usable share, labels."""
        return _summary(self.name, [self])


def _ratio(a: float, b: float) -> float | None:
    return round(a / b, 4) if b > 0 and math.isfinite(a / b) else None


def total_summary(analyses: list[Analysis]) -> dict[str, Any]:
    """The figures of :meth:`Analysis.summary` over many recordings (durations summed, AF
    burden weighted by each window's hop, heart rate by window)."""
    return _summary("total", analyses)


#: Columns of the summary file, before one count per label (``n_normal``, ...).
SUMMARY_COLUMNS = (
    "record",
    "duration_s",
    "processing_s",
    "real_time_factor",
    "windows",
    "usable_fraction",
    "af_burden",
    "af_episodes",
    "af_episode_s",
    "mean_hr_bpm",
    *(f"beats_{c}" for c in BEAT_CLASSES),
    "v_burden",
    "s_burden",
    "veb_couplets",
    "sveb_couplets",
    "longest_run_beats",
    "pauses",
    "longest_pause_s",
)


def csv_line(row: list[Any]) -> str:
    """One CSV line without its newline; None is an empty cell."""
    return ",".join("" if v is None else str(v) for v in row)


def write_summary(path: Path, totals: list[dict[str, Any]]) -> None:
    """Write summaries (:meth:`Analysis.summary`, :func:`total_summary`) as CSV or JSON.

    Parameters
    ----------
    path : Path
        A ``.json`` file gets the summaries as they are; any other gets CSV: the
        :data:`SUMMARY_COLUMNS`, then the windows of each label.
    totals : list of dict
        One summary per row.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".json":
        path.write_text(json.dumps(totals, indent=1) + "\n")
        return
    lines = [",".join([*SUMMARY_COLUMNS, *(f"n_{k}" for k in LABELS)])]
    for t in totals:
        row = [t["beats"][c[6:]] if c.startswith("beats_") else t[c] for c in SUMMARY_COLUMNS]
        lines.append(csv_line(row + [t["labels"][k] for k in LABELS]))
    path.write_text("\n".join(lines) + "\n")


def _summary(name: str, analyses: list[Analysis]) -> dict[str, Any]:
    duration = sum(a.duration_s for a in analyses)
    processing = sum(a.processing_s for a in analyses)
    windows = [w for a in analyses for w in a.windows]
    closed = [e for a in analyses for e in a.closed_events]
    events = [e for e in closed if e["kind"] == "af"]
    # Usable windows only (the engine gives an unusable one no rate; the test holds here too).
    rates = [
        w["heart_rate_bpm"]
        for w in windows
        if w["heart_rate_bpm"] is not None and w["quality"]["usable"]
    ]
    # Each window stands for its hop; the AF burden is the time labelled af over the time
    # analysed (the windows of one recording all have the same hop).
    analysed_s = sum(a.hop_s * len(a.windows) for a in analyses)
    af_s = sum(a.hop_s * sum(w["label"] == "af" for w in a.windows) for a in analyses)
    labels = Counter[str](w["label"] for w in windows)
    return {
        "record": name,
        "duration_s": round(duration, 3),
        "processing_s": round(processing, 4),
        "real_time_factor": _ratio(duration, processing),
        "windows": len(windows),
        "usable_fraction": _ratio(sum(w["quality"]["usable"] for w in windows), len(windows)),
        "af_burden": _ratio(af_s, analysed_s),
        "af_episodes": episode_count(events),
        "af_episode_s": round(episode_seconds(events), 3),
        "mean_hr_bpm": round(float(np.mean(rates)), 1) if rates else None,
        "labels": {k: labels.get(k, 0) for k in LABELS},
        **_beat_summary(analyses, closed),
    }


def _beat_summary(analyses: list[Analysis], closed: list[Event]) -> dict[str, Any]:
    """Beats by class, ectopy burden (share of the classified beats), couplets, the longest
    run and pauses, and the arrhythmia episodes by kind."""
    beats = {c: sum(a.counts.get("beats", {}).get(c, 0) for a in analyses) for c in BEAT_CLASSES}
    total = sum(beats.values())

    def count(key: str) -> int:
        return sum(int(a.counts.get(key, 0)) for a in analyses)

    runs = [
        int(e.get("detail", {}).get("n_beats", 0))
        for e in closed
        if e["kind"] in ("vt", "svt", "idioventricular_rhythm")
    ]
    pauses = [float(e.get("detail", {}).get("rr_s", 0.0)) for e in closed if e["kind"] == "pause"]
    episodes = Counter[str](e["kind"] for e in closed if e["kind"] != "af")
    return {
        "beats": beats,
        "v_burden": _ratio(beats["V"], total),
        "s_burden": _ratio(beats["S"], total),
        "veb_couplets": count("veb_couplets"),
        "sveb_couplets": count("sveb_couplets"),
        "longest_run_beats": max(runs, default=0),
        "pauses": len(pauses),
        "longest_pause_s": round(max(pauses), 3) if pauses else None,
        "arrhythmias": {k: episodes.get(k, 0) for k in ARRHYTHMIA_KINDS},
    }


def analyze(
    record: Record | str | Path | npt.ArrayLike,
    fs: float | None = None,
    *,
    lead: int | str = 0,
    hop_s: int = 1,
    window_s: int = 10,
    model: str | Path | None = None,
    events: EventConfig | None = None,
    block_s: float = 600.0,
    progress: Callable[[float], None] | None = None,
) -> Analysis:
    """Run a whole recording through the streaming engine.

    Parameters
    ----------
    record : Record, path or array
        A :class:`~cardiostream.record.Record`, a file that :func:`cardiostream.read` reads,
        or one lead as a 1-D array (then ``fs`` is required).
    fs : float, optional
        Sampling rate of an array.
    lead : int or str
        Lead index or name of a record.
    hop_s, window_s, model, events
        As for :class:`~cardiostream.stream.StreamProcessor`.
    block_s : float
        Seconds pushed at a time (memory and progress only; the results do not depend on it).
    progress : callable, optional
        Called with the seconds done after every block.

    Returns
    -------
    Analysis
    """
    if isinstance(record, str | Path):
        from cardiostream.io import read

        record = read(record)
    if isinstance(record, Record):
        name, rate, signal = record.name, record.fs, record.lead(lead)
    else:
        if fs is None:
            raise InputError("fs: required when the signal is an array")
        name, rate, signal = "signal", float(fs), np.asarray(record)
        if signal.ndim == 2:
            check_lead_axis(signal.shape, "signal")
            signal = signal[:, int(lead)]
    if signal.ndim != 1:
        raise InputError(f"signal: expected one lead, got shape {signal.shape}")
    if not block_s > 0:
        raise InputError(f"block_s: must be positive, got {block_s!r}")
    proc = StreamProcessor(rate, hop_s=hop_s, window_s=window_s, model=model, events=events)
    step = max(int(block_s * proc.fs), 1)
    out = Analysis(name, proc.fs, signal.size / proc.fs, hop_s=float(hop_s))
    # The emitted dicts hold no cycles; with the collector on, its passes over the growing
    # list of results cost more than the engine (a 24 h recording makes 86,400 windows).
    collecting = gc.isenabled()
    gc.disable()
    started = time.perf_counter()
    try:
        for lo in range(0, signal.size, step):
            out.lines += proc.push(signal[lo : lo + step])
            if progress is not None:
                progress(min(lo + step, signal.size) / proc.fs)
        out.counts = proc.arrhythmia.counts()
        out.lines += proc.flush()
    finally:
        out.processing_s = time.perf_counter() - started
        if collecting:
            gc.enable()
    out.stage_seconds = {k: proc.stage_seconds[k] for k in STAGES}
    return out


def window_rows(analysis: Analysis) -> list[list[Any]]:
    """The per-window rows of :data:`CSV_COLUMNS` (None where a measure is missing)."""
    rows = []
    for w in analysis.windows:
        # Mappings: the keys are walked, as for CSV_COLUMNS.
        p: Mapping[str, object] = w["probabilities"]
        h: Mapping[str, object] = w["hrv"]
        rows.append(
            [
                analysis.name,
                w["t_start"],
                w["t_end"],
                w["label"],
                w["raw_label"],
                *(p[c] for c in Probabilities.__annotations__),
                w["heart_rate_bpm"],
                *(h[k] for k in Hrv.__annotations__),
                w["quality"]["usable"],
                ";".join(w["quality"]["reasons"]),
            ]
        )
    return rows
