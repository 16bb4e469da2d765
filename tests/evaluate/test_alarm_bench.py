from __future__ import annotations

from cardiostream.evaluate.alarms import (
    EXPECTED,
    Raised,
    replay,
    scenario_signal,
    score_kind,
    score_scenario,
)
from cardiostream.evaluate.alarms import _messages as engine_messages


def test_score_kind_counts_alarmed_episodes_delays_and_false_alarms() -> None:
    alarms = [
        Raised(1, "af", "medium", 100.0, 112.0, 300.0),  # covers both episodes
        Raised(2, "af", "medium", 900.0, 905.0, 950.0),  # no episode there: false
    ]
    s = score_kind(alarms, [(98.0, 200.0), (210.0, 400.0)], 3600.0)
    row = s.row()
    assert row["reference_episodes"] == 2 and row["alarmed"] == 2
    assert row["alarms_per_alarmed_episode"] == 1.0
    # 14 s after the first onset; the second was already alarmed.
    assert s.delays == [14.0] and s.held == 1
    assert row["false_alarms"] == 1
    assert abs(row["false_per_hour"] - 1 / ((3600 - 292) / 3600)) < 1e-9


def test_replay_gives_raise_and_end_times() -> None:
    msgs = [
        {"type": "window", "t_end": 10.0, "label": "af", "heart_rate_bpm": 110.0,
         "quality": {"usable": True, "reasons": []}},
        {"type": "event_open", "kind": "af", "start_s": 2.0, "confidence": 0.9},
        {"type": "window", "t_end": 11.0, "label": "af", "heart_rate_bpm": 110.0,
         "quality": {"usable": True, "reasons": []}},
        {"type": "event", "kind": "af", "start_s": 2.0, "end_s": 11.0, "confidence": 0.9},
        {"type": "window", "t_end": 200.0, "label": "normal", "heart_rate_bpm": 70.0,
         "quality": {"usable": True, "reasons": []}},
    ]  # fmt: skip
    alarms, changes = replay(msgs)
    assert [(a.kind, a.start_s, a.raised_s, a.end_s) for a in alarms] == [("af", 2.0, 10.0, 11.0)]
    assert changes == [10.0, 200.0]


def test_the_scripted_scenario_raises_each_expected_alarm_and_none_in_sinus_rhythm() -> None:
    x, spans = scenario_signal()
    alarms, _ = replay(engine_messages(x, 250.0), hr_high=120.0)
    rows = score_scenario(alarms, spans)
    for row, (_, mode, _, _) in zip(rows, spans, strict=True):
        if mode in EXPECTED:
            assert row["raised"] and row["alarms_of_kind"] == 1, row
        else:
            assert row["other_alarms"] == [], row
    leads_off = next(r for r in rows if r["expected"] == "leads_off")
    assert leads_off["delay_s"] <= 2.0  # stream seconds from the flat line to the alarm
