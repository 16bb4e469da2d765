"""The AF event tracker: hysteresis, durations, confidence, gaps, flush, state and bad input."""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np
import pytest

from cardiostream.errors import InputError
from cardiostream.stream import EventConfig, EventTracker
from cardiostream.stream.events import LABELS, af_episodes, episode_count, episode_seconds

Events = list[dict[str, Any]]
# No minimum duration, so that the hysteresis alone decides when an episode opens.
QUICK = EventConfig(min_duration_s=0.0)


def feed(
    tracker: EventTracker, labels: list[str], p: float | list[float] = 0.9, t0: float = 10.0
) -> list[Events]:
    """The events of each window, the windows ending at t0, t0 + 1, ..."""
    probs = p if isinstance(p, list) else [p] * len(labels)
    return [
        tracker.update(t0 + i, lab, q) for i, (lab, q) in enumerate(zip(labels, probs, strict=True))
    ]


def flat(per_window: list[Events]) -> Events:
    return [e for events in per_window for e in events]


def random_stream(seed: int, n: int) -> tuple[list[float], list[str], list[float]]:
    """Sticky random labels with uncertain windows, NaN probabilities and a few gaps."""
    rng = np.random.default_rng(seed)
    t, labels, probs, label, now = [], [], [], "normal", 10.0
    for _ in range(n):
        if rng.random() < 0.06:
            label = str(rng.choice(["normal", "af", "af", "other", "noise"]))
        now += 6.0 if rng.random() < 0.003 else 1.0
        t.append(now)
        labels.append("uncertain" if rng.random() < 0.1 else label)
        probs.append(math.nan if rng.random() < 0.05 else float(rng.random()))
    return t, labels, probs


# Hysteresis


def test_two_af_windows_open_nothing() -> None:
    tracker = EventTracker(QUICK)
    assert flat(feed(tracker, ["af", "af", "normal", "af", "af", "other"])) == []
    assert tracker.flush() == []


def test_three_af_windows_open_an_episode() -> None:
    out = feed(EventTracker(QUICK), ["af", "af", "af"])
    assert out[:2] == [[], []]
    assert out[2] == [{"type": "event_open", "kind": "af", "start_s": 0.0, "confidence": 0.9}]


def test_closing_needs_five_consecutive_non_af_windows() -> None:
    tracker = EventTracker(QUICK)
    labels = ["af"] * 3 + ["normal", "other", "noise", "normal", "af"] + ["normal"] * 4
    assert flat(feed(tracker, labels))[1:] == []  # only the event_open
    close = tracker.update(22.0, "noise", 0.1)
    # The episode ends at the last AF window (t_end 17), not at the closing window.
    assert close == [
        {"type": "event", "kind": "af", "start_s": 0.0, "end_s": 17.0, "confidence": 0.9}
    ]


# Uncertain windows


def test_uncertain_neither_counts_nor_resets_the_opening_run() -> None:
    out = feed(EventTracker(QUICK), ["af", "uncertain", "af", "uncertain", "uncertain", "af"])
    assert [len(e) for e in out] == [0, 0, 0, 0, 0, 1]
    assert flat(feed(EventTracker(QUICK), ["af", "af", *["uncertain"] * 20, "normal", "af"])) == []


def test_uncertain_neither_counts_nor_resets_the_closing_run() -> None:
    labels = ["af"] * 3 + ["normal"] * 2 + ["uncertain"] * 30 + ["normal"] * 2
    tracker = EventTracker(QUICK)
    assert len(flat(feed(tracker, labels))) == 1  # still open: 4 non-AF windows only
    close = tracker.update(47.0, "normal", 0.0)  # the fifth non-AF window
    assert close[0]["end_s"] == 12.0 and "reason" not in close[0]


def test_uncertain_windows_alone_never_close_and_do_not_enter_the_confidence() -> None:
    tracker = EventTracker(QUICK)
    feed(tracker, ["af"] * 3 + ["uncertain"] * 200, [0.8] * 3 + [0.0] * 200)
    (event,) = tracker.flush()
    assert (event["end_s"], event["confidence"], event["reason"]) == (12.0, 0.8, "end_of_stream")


# Minimum and maximum duration


def test_short_episode_emits_nothing_at_all() -> None:
    tracker = EventTracker()  # min_duration_s = 30
    # Windows end at 10..29: the episode spans 0..29 s, one second short.
    assert flat(feed(tracker, ["af"] * 20 + ["normal"] * 10)) == []
    assert flat(feed(tracker, ["af"] * 20, t0=40.0)) == []
    assert tracker.flush() == []


def test_open_event_once_the_minimum_duration_is_reached() -> None:
    out = feed(EventTracker(), ["af"] * 25 + ["normal"] * 5)
    assert [i for i, e in enumerate(out) if e] == [20, 29]  # t_end 30: 30 s from start 0
    assert out[20][0]["type"] == "event_open"
    assert out[29][0] == {
        "type": "event",
        "kind": "af",
        "start_s": 0.0,
        "end_s": 34.0,
        "confidence": 0.9,
    }


def test_max_duration_segments_an_episode() -> None:
    tracker = EventTracker(EventConfig(max_duration_s=60.0))
    out = feed(tracker, ["af"] * 200)  # windows end at 10..209, the episode starts at 0
    out.append(tracker.flush())
    events = flat(out)
    closed = [(e["start_s"], e["end_s"], e.get("reason")) for e in events if e["type"] == "event"]
    assert closed == [
        (0.0, 60.0, "max_duration"),
        (60.0, 120.0, "max_duration"),
        (120.0, 180.0, "max_duration"),
        # The last segment is shorter than min_duration_s but continues a reported episode.
        (180.0, 209.0, "end_of_stream"),
    ]
    # The split happens at the window that would exceed the limit, with the next open event.
    assert [e["type"] for e in out[51]] == ["event", "event_open"]
    opens = [e["start_s"] for e in events if e["type"] == "event_open"]
    assert opens == [0.0, 60.0, 120.0, 180.0]
    # Every later segment names the episode it continues, in its open and closed events.
    assert [e.get("episode_start_s") for e in events] == [None, None] + [0.0] * 6
    closed_events = [e for e in events if e["type"] == "event"]
    assert episode_count(closed_events) == 1
    assert episode_seconds(closed_events) == 209.0


def test_two_hours_of_af_are_one_episode_by_default() -> None:
    n = 2 * 3600
    events = af_episodes(10.0 + np.arange(n), ["af"] * n, [0.9] * n)
    assert len(events) == 1
    assert (events[0]["start_s"], events[0]["end_s"]) == (0.0, n + 9.0)
    assert events[0]["reason"] == "end_of_stream"
    assert "episode_start_s" not in events[0]


def test_two_hours_of_af_with_an_hourly_cap_link_their_segments() -> None:
    n = 2 * 3600
    config = EventConfig(max_duration_s=3600.0)
    segments = af_episodes(10.0 + np.arange(n), ["af"] * n, [0.9] * n, config)
    assert [(e["start_s"], e["end_s"]) for e in segments] == [
        (0.0, 3600.0),
        (3600.0, 7200.0),
        (7200.0, n + 9.0),
    ]
    assert [e.get("episode_start_s") for e in segments] == [None, 0.0, 0.0]
    assert episode_count(segments) == 1
    # A later, separate episode is counted again, and its segments name their own start.
    t = np.concatenate([10.0 + np.arange(n), n + 100.0 + np.arange(n)])
    labels = (["af"] * n + ["normal"] * 20 + ["af"] * (n - 20))[: t.size]
    both = af_episodes(t, labels, [0.9] * t.size, config)
    assert episode_count(both) == 2
    assert {e.get("episode_start_s") for e in both} == {None, 0.0, n + 100.0 + 20 - 10.0}


# Confidence


@pytest.mark.parametrize(("mode", "expected"), [("mean", 0.55), ("peak", 1.0), ("p90", 0.9)])
def test_confidence_modes(mode: str, expected: float) -> None:
    # Ten AF windows with p 0.1 .. 1.0 in shuffled order, plus ones that must not count: a NaN
    # AF window, and uncertain and normal windows with other probabilities.
    probs = [0.3, 1.0, 0.1, math.nan, 0.7, 0.5, 0.2, 0.9, 0.0, 0.6, 0.4, 0.8, 0.95, 0.95]
    labels = ["af"] * 8 + ["uncertain"] + ["af"] * 3 + ["normal"] * 2
    tracker = EventTracker(EventConfig(min_duration_s=0.0, confidence=mode))
    out = flat([*feed(tracker, labels, probs), tracker.flush()])
    assert out[-1]["confidence"] == pytest.approx(expected, abs=0) and out[-1]["type"] == "event"
    # The open event carries the value so far: the first three probabilities.
    assert out[0]["confidence"] == {"mean": 0.4667, "peak": 1.0, "p90": 1.0}[mode]


def test_p90_uses_the_nearest_rank_on_a_grid_of_1_200() -> None:
    # 20 values: the 18th smallest is 0.9012, reported on the 1/200 grid as 0.9.
    probs = [0.5] * 17 + [0.9012, 0.99, 0.99]
    tracker = EventTracker(EventConfig(min_duration_s=0.0, confidence="p90"))
    feed(tracker, ["af"] * 20, probs)
    assert tracker.flush()[0]["confidence"] == 0.9


def test_confidence_is_none_without_a_finite_probability() -> None:
    tracker = EventTracker(QUICK)
    assert feed(tracker, ["af"] * 3, math.nan)[2][0]["confidence"] is None
    assert tracker.flush()[0]["confidence"] is None


# Gaps, flush, times


def test_gap_closes_the_episode_at_its_last_af_window() -> None:
    tracker = EventTracker()
    feed(tracker, ["af"] * 40)  # windows end at 10..49
    gap = tracker.update(60.0, "af", 0.9)
    assert gap == [
        {
            "type": "event",
            "kind": "af",
            "start_s": 0.0,
            "end_s": 49.0,
            "confidence": 0.9,
            "reason": "gap",
        }
    ]
    # The window after the gap is the first of a new run: it opens only with two more.
    tracker2 = EventTracker(QUICK)
    assert flat(feed(tracker2, ["af", "af"])) == []
    assert tracker2.update(20.0, "af", 0.9) == []
    assert tracker2.update(21.0, "af", 0.9) == []
    assert tracker2.update(22.0, "af", 0.9)[0]["start_s"] == 10.0


def test_gap_drops_a_short_episode_and_small_jumps_are_not_gaps() -> None:
    tracker = EventTracker()
    feed(tracker, ["af"] * 10)
    assert tracker.update(30.0, "af", 0.9) == []
    tracker = EventTracker(QUICK)
    feed(tracker, ["af"] * 3)
    assert tracker.update(13.5, "af", 0.9) == []  # 1.5 hops: still the same stream
    assert tracker.update(15.1, "normal", 0.0)[0]["reason"] == "gap"


def test_flush_closes_and_resets() -> None:
    tracker = EventTracker(QUICK)
    feed(tracker, ["af"] * 5 + ["normal"] * 2)
    with pytest.raises(InputError, match="t_end"):
        tracker.flush(15.0)
    (event,) = tracker.flush(20.0)
    assert (event["start_s"], event["end_s"], event["reason"]) == (0.0, 14.0, "end_of_stream")
    assert tracker.flush() == []
    # A new stream may start again from zero.
    assert feed(tracker, ["af"] * 3, t0=0.5)[2][0]["start_s"] == 0.0


def test_start_and_end_times() -> None:
    tracker = EventTracker(QUICK)
    # Start: the start of the first AF window of the opening run, the uncertain one skipped.
    out = feed(tracker, ["normal", "uncertain", "af", "af", "af", "af", "uncertain"], t0=12.3456)
    assert out[4][0]["start_s"] == 4.346  # 14.3456 - 10, rounded to 3 decimals
    close = flat(feed(tracker, ["normal"] * 5, t0=19.3456))
    assert close[0]["end_s"] == 17.346  # the last AF window, not the closing one
    # A first AF window ending before window_s starts the episode at 0.
    assert feed(EventTracker(QUICK), ["af"] * 3, t0=3.0)[2][0]["start_s"] == 0.0


def test_every_event_has_exactly_one_open_event_before_it() -> None:
    t, labels, probs = random_stream(7, 5000)
    tracker = EventTracker(EventConfig(max_duration_s=120.0))
    events = [
        e for x in zip(t, labels, probs, strict=True) for e in tracker.update(*x)
    ] + tracker.flush()
    kinds = [e["type"] for e in events]
    assert kinds.count("event") > 5
    assert kinds == ["event_open", "event"] * (len(events) // 2)
    for opened, closed in zip(events[::2], events[1::2], strict=True):
        assert opened["start_s"] == closed["start_s"] < closed["end_s"]


# State


@pytest.mark.parametrize("mode", ["mean", "peak", "p90"])
def test_state_round_trip_mid_episode(mode: str) -> None:
    config = EventConfig(min_duration_s=20.0, max_duration_s=150.0, confidence=mode)
    t, labels, probs = random_stream(2024, 4000)
    reference = EventTracker(config)
    expected = [reference.update(*x) for x in zip(t, labels, probs, strict=True)] + [
        reference.flush()
    ]
    assert sum(len(e) for e in expected) > 10
    splits = 0
    for k in range(100, 4000, 199):
        first = EventTracker(config)
        head = [first.update(*x) for x in zip(t[:k], labels[:k], probs[:k], strict=True)]
        state = json.loads(json.dumps(first.state_dict()))
        splits += state["open"] and state["announced"] and state["non_af_run"] > 0
        second = EventTracker(config)
        second.load_state_dict(state)
        tail = [second.update(*x) for x in zip(t[k:], labels[k:], probs[k:], strict=True)]
        assert head + tail + [second.flush()] == expected
    assert splits > 0  # some splits fell inside an episode that was already closing


def test_state_stays_bounded() -> None:
    rng = np.random.default_rng(5)
    tracker = EventTracker(EventConfig(max_duration_s=1e9, confidence="p90"))
    probs = rng.random(100_000)
    events = flat([tracker.update(10.0 + i, "af", float(p)) for i, p in enumerate(probs)])
    assert [e["type"] for e in events] == ["event_open"]
    assert len(json.dumps(tracker.state_dict())) < 4096
    (event,) = tracker.flush()
    assert event["confidence"] == pytest.approx(np.quantile(probs, 0.9), abs=0.003)


def test_state_keeps_the_start_of_a_segmented_episode() -> None:
    config = EventConfig(max_duration_s=60.0)
    reference = EventTracker(config)
    expected = flat([reference.update(10.0 + i, "af", 0.9) for i in range(200)])
    expected += reference.flush()
    first = EventTracker(config)
    head = flat([first.update(10.0 + i, "af", 0.9) for i in range(130)])
    state = json.loads(json.dumps(first.state_dict()))
    assert state["episode_start"] == 0.0
    second = EventTracker(config)
    second.load_state_dict(state)
    tail = flat([second.update(10.0 + i, "af", 0.9) for i in range(130, 200)])
    assert head + tail + second.flush() == expected
    # A state saved before segments were linked (no "episode_start") still loads.
    del state["episode_start"]
    older = EventTracker(config)
    older.load_state_dict(state)
    (event,) = older.flush()
    assert event["start_s"] == 120.0 and "episode_start_s" not in event


def test_load_state_rejects_a_foreign_or_broken_state() -> None:
    state = EventTracker().state_dict()
    with pytest.raises(InputError, match="config"):
        EventTracker(QUICK).load_state_dict(state)
    del state["hist"]
    with pytest.raises(InputError, match="hist"):
        EventTracker().load_state_dict(state)


# Bad input


@pytest.mark.parametrize(
    ("call", "field"),
    [
        (lambda tr: tr.update(20.0, "atrial", 0.5), "label"),
        (lambda tr: tr.update(11.0, "af", 0.5), "t_end"),
        (lambda tr: tr.update(12.0, "af", 0.5), "t_end"),
        (lambda tr: tr.update(math.inf, "af", 0.5), "t_end"),
        (lambda tr: tr.update(20.0, "af", 1.5), "p_af"),
    ],
)
def test_bad_window_raises_and_changes_nothing(call: Any, field: str) -> None:
    tracker, reference = EventTracker(QUICK), EventTracker(QUICK)
    feed(tracker, ["af", "af", "normal"])
    feed(reference, ["af", "af", "normal"])
    with pytest.raises(InputError, match=f"^{field}:"):
        call(tracker)
    assert tracker.state_dict() == reference.state_dict()


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"confidence": "median"}, "confidence"),
        ({"open_after": 0}, "open_after"),
        ({"close_after": 0}, "close_after"),
        ({"hop_s": 0.0}, "hop_s"),
        ({"min_duration_s": -1.0}, "min_duration_s"),
        ({"max_duration_s": 10.0}, "max_duration_s"),
        ({"max_duration_s": math.nan}, "max_duration_s"),
    ],
)
def test_bad_config_raises(kwargs: dict[str, Any], field: str) -> None:
    with pytest.raises(InputError, match=f"^{field}:"):
        EventConfig(**kwargs)


# Offline form


def test_af_episodes_equals_feeding_the_tracker() -> None:
    t, labels, probs = random_stream(99, 3000)
    tracker = EventTracker()
    by_hand = [
        e for x in zip(t, labels, probs, strict=True) for e in tracker.update(*x)
    ] + tracker.flush()
    closed = [e for e in by_hand if e["type"] == "event"]
    assert len(closed) > 3
    assert af_episodes(t, labels, probs) == closed
    assert af_episodes(np.array(t), np.array(labels), np.array(probs)) == closed
    with pytest.raises(InputError, match="labels"):
        af_episodes(t, labels[:-1], probs)


def test_labels_are_the_rhythm_verdicts() -> None:
    assert set(LABELS) == {"normal", "af", "other", "noise", "uncertain"}
