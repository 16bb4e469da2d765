"""Arrhythmia events against MITDB-style rhythm annotations."""

from __future__ import annotations

import numpy as np

from cardiostream.evaluate.arrhythmia_episodes import (
    ArrhythmiaBenchmark,
    detected_intervals,
    score_record,
)
from cardiostream.evaluate.reference import rhythm_intervals
from cardiostream.record import Annotations, Record, RhythmTable


def _record() -> Record:
    fs = 100.0
    start = np.array([0, 1000, 1500, 2000, 4000, 4500], np.int64)
    end = np.array([1000, 1500, 2000, 4000, 4500, 6000], np.int64)
    label = np.array(["N", "VT", "VT", "N", "VFL", "B"])
    return Record(
        signal=np.zeros((6000, 1), np.float32),
        fs=fs,
        leads=["MLII"],
        name="x",
        annotations=Annotations(rhythms=RhythmTable(start, end, label)),
    )


def test_contiguous_reference_intervals_join_and_events_are_picked_by_kind() -> None:
    rec = _record()
    assert rhythm_intervals(rec, "VT") == [(10.0, 20.0)]
    events = [
        {"type": "event", "kind": "vt", "start_s": 12.0, "end_s": 13.0},
        {"type": "event_open", "kind": "vt", "start_s": 30.0},
        {"type": "event", "kind": "af", "start_s": 1.0, "end_s": 5.0},
    ]
    assert detected_intervals(events, "vt") == [(12.0, 13.0)]


def test_scores_count_hits_misses_and_false_episodes() -> None:
    rec = _record()
    events = [
        {"type": "event", "kind": "vt", "start_s": 12.0, "end_s": 13.0},  # a hit
        {"type": "event", "kind": "vt", "start_s": 30.0, "end_s": 32.0},  # false
        {"type": "event", "kind": "vt", "start_s": 41.0, "end_s": 44.0},  # inside VFL: left out
        {"type": "event", "kind": "ventricular_bigeminy", "start_s": 50.0, "end_s": 55.0},
    ]
    scores = score_record(rec, events, 60.0)
    vt = scores["vt"]
    assert (vt.n_ref, vt.tp_se, vt.n_det, vt.tp_ppv) == (1, 1, 2, 1)
    bi = scores["ventricular_bigeminy"]
    assert (bi.n_ref, bi.tp_se, bi.n_det, bi.tp_ppv) == (1, 1, 1, 1)
    svt = scores["svt"]
    assert (svt.n_ref, svt.n_det) == (0, 0)
    bench = ArrhythmiaBenchmark({"100": scores})
    text = bench.markdown()
    assert "| vt | (VT | 1 | 2 | 100.0 | 50.0 |" in text
    assert bench.document()["ds2"]["vt"]["n_ref"] == 1
