"""The message types against the engine: the same keys, labels and classes as it emits."""

from __future__ import annotations

from typing import Any, get_args

import numpy as np

from cardiostream import read
from cardiostream.dsp.quality import REASONS
from cardiostream.rhythm.verdict import CLASSES, LABELS, LOW_CONFIDENCE
from cardiostream.samples import sample_path
from cardiostream.stream import StreamProcessor, analyze
from cardiostream.stream import messages as m
from cardiostream.stream.analyze import CSV_COLUMNS
from cardiostream.stream.arrhythmia import KINDS as ARRHYTHMIA_KINDS
from cardiostream.stream.beat_stream import BEAT_GAP, FEW_BEATS
from cardiostream.stream.events import EventConfig, EventTracker
from cardiostream.stream.processor import PACED


def _keys(cls: Any) -> tuple[set[str], set[str]]:
    """All keys of a TypedDict, and the required ones."""
    return set(cls.__annotations__), set(cls.__required_keys__)


def _matches(item: dict[str, Any], cls: Any) -> bool:
    keys, required = _keys(cls)
    return required <= set(item) <= keys


def test_the_literals_are_the_engine_sets() -> None:
    assert get_args(m.Label) == LABELS
    assert get_args(m.RhythmClass) == CLASSES
    assert set(get_args(m.QualityReason)) == {*REASONS, LOW_CONFIDENCE, PACED, FEW_BEATS, BEAT_GAP}
    assert set(get_args(m.EventKind)) == {"af", *ARRHYTHMIA_KINDS}
    assert tuple(m.Probabilities.__annotations__) == CLASSES


def test_csv_columns_are_the_window_keys_flattened() -> None:
    assert CSV_COLUMNS == (
        "record", "t_start", "t_end", "label", "raw_label",
        "p_normal", "p_af", "p_other", "p_noise",
        "heart_rate_bpm", "mean_rr_ms", "sdnn_ms", "rmssd_ms", "pnn50",
        "usable", "reasons",
    )  # fmt: skip


def test_every_emitted_object_has_exactly_the_keys_of_its_type() -> None:
    result = analyze(sample_path("mitdb-201-af"))
    by_type = {"window": m.Window, "event_open": m.EventOpen, "event": m.Event, "gap": m.Gap}
    assert {x["type"] for x in result.lines} == {"window", "event_open", "event"}
    for item in result.lines:
        assert _matches(dict(item), by_type[item["type"]]), item
    w = result.windows[0]
    assert _matches(dict(w["probabilities"]), m.Probabilities)
    assert _matches(dict(w["hrv"]), m.Hrv)
    assert _matches(dict(w["quality"]), m.Quality)


def test_gap_notices_have_the_keys_of_gap() -> None:
    rec = read(sample_path("mitdb-201-af"))
    x, fs = rec.lead(0).astype(np.float64), rec.fs
    proc = StreamProcessor(fs, max_fill_s=5.0)
    out = proc.push(x[: int(35 * fs)], t=0.0)
    out += proc.push(x[int(37 * fs) :], t=37.0)
    gaps = [i for i in out if i["type"] == "gap"]
    assert gaps and all(_matches(g, m.Gap) for g in gaps)


def test_event_reasons_are_close_reasons() -> None:
    tracker = EventTracker(EventConfig(open_after=1, close_after=1, min_duration_s=0.0))
    out = tracker.update(10.0, "af", 0.9) + tracker.update(11.0, "normal", 0.1)
    out += tracker.update(12.0, "af", 0.9) + tracker.flush()
    closed = [e for e in out if e["type"] == "event"]
    assert "reason" not in closed[0] and closed[1].get("reason") == "end_of_stream"
    assert set(get_args(m.CloseReason)) == {"gap", "end_of_stream", "max_duration"}
    for e in out:
        assert _matches(dict(e), m.Event if e["type"] == "event" else m.EventOpen)


def test_event_key_order_is_unchanged() -> None:
    tracker = EventTracker(EventConfig(open_after=1, close_after=1, min_duration_s=0.0))
    opened, *_ = tracker.update(10.0, "af", 0.5)
    (closed,) = tracker.flush()
    assert list(opened) == ["type", "kind", "start_s", "confidence"]
    assert list(closed) == ["type", "kind", "start_s", "end_s", "confidence", "reason"]
