"""The server-side history of a stream: a point a minute from its start, kept without any
dashboard open, alarms and open episodes in the listing."""

from __future__ import annotations

import json

from cardiostream.serve.watch import Watch


def _window(t: float, hr: float | None, label: str = "normal", usable: bool = True) -> str:
    quality = {"usable": usable, "reasons": []}
    totals = {"N": int(t), "S": 0, "V": int(t) // 30, "F": 0, "Q": 0}  # a V every 30 s
    window = {"type": "window", "t_start": t - 10, "t_end": t, "label": label,
              "heart_rate_bpm": hr, "quality": quality, "beat_totals": totals}  # fmt: skip
    return json.dumps(window)


def test_history_is_kept_from_the_start_without_a_dashboard() -> None:
    watch = Watch(60.0)
    watch.opened("o", "bed-1", 250.0, ("II",), 0)
    for t in range(10, 190):  # three minutes of windows, 1 s apart
        hr = 60.0 if t < 60 else 90.0
        label = "af" if 120 <= t < 180 and t % 4 else "normal"
        watch.frame("o", "bed-1", [("window", _window(float(t), hr, label, usable=t % 10 != 0))])
    (info,) = watch.listing("o")
    assert [p["t_end"] for p in info["history"]] == [60.0, 120.0, 180.0]
    first, second, third = info["history"]
    assert first["heart_rate_bpm"] == 60.0 and second["heart_rate_bpm"] == 90.0
    assert third["label"] == "af" and second["label"] == "normal"
    assert first["usable"] == round(45 / 50, 3)
    # Beats of each minute from the running totals: the first from the stream's start.
    assert first["beats"]["V"] == 1 and second["beats"]["V"] == 2 and third["beats"]["V"] == 2
    assert second["beats"]["N"] == 60
    assert len(info["trend"]) == 180  # the recent windows, without a dashboard ever open
    assert info["alarms"] == [] and info["open_events"] == [] and info["start_time"]


def test_an_open_episode_is_listed_until_it_closes() -> None:
    watch = Watch(60.0)
    watch.opened("o", "bed-2", 250.0, ("II",), 0)
    opened = json.dumps({"type": "event_open", "kind": "af", "start_s": 5.0, "confidence": 0.8})
    watch.frame("o", "bed-2", [("window", _window(15.0, 110.0, "af")), ("event_open", opened)])
    (info,) = watch.listing("o")
    assert [e["kind"] for e in info["open_events"]] == ["af"]
    assert [a["kind"] for a in info["alarms"]] == ["af"]
    closed = json.dumps({"type": "event", "kind": "af", "start_s": 5.0, "end_s": 40.0,
                         "confidence": 0.8})  # fmt: skip
    watch.frame("o", "bed-2", [("window", _window(45.0, 70.0)), ("event", closed)])
    (info,) = watch.listing("o")
    assert info["open_events"] == [] and [a["kind"] for a in info["alarms"]] == ["af"]  # held


def test_history_is_a_ring_of_the_last_minutes() -> None:
    from cardiostream.serve.watch import History

    h = History(minutes=3)
    for t in range(0, 5 * 60):
        h.add({"t_end": float(t), "label": "normal", "heart_rate_bpm": 60.0 + t // 60,
               "quality": {"usable": True}})  # fmt: skip
    points = h.points()
    assert [p["t_end"] for p in points] == [120.0, 180.0, 240.0]  # minutes 2-4 of 0-4
    assert [p["heart_rate_bpm"] for p in points] == [61.0, 62.0, 63.0]
    assert all(p["beats"] is None for p in points)  # no beat totals given
