"""The arrhythmia tracker: each kind on synthetic beats, signal quality, the event contract,
batching, gaps, state and bad input."""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pytest

from cardiostream.errors import InputError
from cardiostream.stream.arrhythmia import (
    KINDS,
    ArrhythmiaConfig,
    ArrhythmiaTracker,
    BeatBatch,
    arrhythmia_events,
)

Msgs = list[dict[str, Any]]
Per = Callable[[float], Any]


def const(value: Any) -> Per:
    return lambda _t: value


def feed(
    tracker: ArrhythmiaTracker,
    times: Sequence[float],
    letters: Sequence[str],
    probs: Sequence[float] | None = None,
    *,
    t0: float = 10.0,
    t1: float | None = None,
    lag: float | Sequence[float] = 1.0,
    usable: Per | None = None,
    reasons: Per | None = None,
    hr: Per | None = None,
    label: Per | None = None,
    flush: bool = True,
) -> tuple[list[list[dict[str, Any]]], Msgs]:
    """Windows ending at t0, t0 + 1, ... t1 (default: 3 s after the last beat); each beat
    goes to the first window at least ``lag`` after it (a lag per beat, or one for all)."""
    p = list(probs) if probs is not None else [0.9] * len(times)
    usable = usable or const(True)
    reasons = reasons or const([])
    hr = hr or const(70.0)
    label = label or const("normal")
    lags = [lag] * len(times) if isinstance(lag, float | int) else list(lag)
    due = [t + g for t, g in zip(times, lags, strict=True)]
    last_due = max(t0, max(times, default=t0) + 3.0, max(due, default=t0))
    end = t1 if t1 is not None else t0 + math.ceil(last_due - t0 - 1e-9)
    findings, events, i, t = [], [], 0, t0
    while t <= end + 1e-9:
        j = i
        # Beats are delivered in order: a beat waits for every earlier one.
        while j < len(times) and due[j] <= t + 1e-9 and times[j] <= t:
            j += 1
        f, ev = tracker.update(
            t,
            BeatBatch(list(times[i:j]), list(letters[i:j]), p[i:j]),
            usable=usable(t),
            reasons=reasons(t),
            heart_rate_bpm=hr(t),
            label=label(t),
        )
        findings.append(list(f))
        events += ev
        i, t = j, t + 1.0
    assert t1 is not None or i == len(times), "every beat delivered"
    if flush:
        events += tracker.flush()
    return findings, [dict(e) for e in events]


def regular(start: float, n: int, rr: float) -> list[float]:
    return [round(start + k * rr, 6) for k in range(n)]


def closed(events: Msgs, kind: str | None = None) -> Msgs:
    return [e for e in events if e["type"] == "event" and kind in (None, e["kind"])]


def kinds(events: Msgs) -> list[str]:
    return [e["kind"] for e in closed(events)]


def check_contract(events: Msgs) -> None:
    """Every event_open is followed by exactly one event of its kind and start, and no
    event comes without one; times on 3 decimals."""
    pending: dict[tuple[str, float], int] = {}
    for e in events:
        key = (e["kind"], e["start_s"])
        assert e["kind"] in KINDS
        assert e["start_s"] == round(e["start_s"], 3)
        if e["type"] == "event_open":
            assert key not in pending
            pending[key] = 1
        else:
            assert pending.pop(key) == 1
            assert e["end_s"] >= e["start_s"] and e["end_s"] == round(e["end_s"], 3)
    assert pending == {}


# Nothing from a normal rhythm


def test_normal_sinus_rhythm_raises_nothing() -> None:
    times = regular(1.0, 70, 60 / 70)
    tracker = ArrhythmiaTracker()
    findings, events = feed(tracker, times, ["N"] * 70)
    assert events == []
    assert all(f == [] for f in findings)


# Ventricular


def test_three_v_at_150_bpm_are_one_vt() -> None:
    times = [*regular(1.0, 10, 0.8), 9.0, 9.4, 9.8, *regular(10.8, 6, 0.8)]
    letters = ["N"] * 10 + ["V"] * 3 + ["N"] * 6
    probs = [0.9] * 10 + [0.9, 0.8, 0.7] + [0.9] * 6
    tracker = ArrhythmiaTracker()
    findings, events = feed(tracker, times, letters, probs)
    check_contract(events)
    assert [(e["type"], e["kind"]) for e in events] == [("event_open", "vt"), ("event", "vt")]
    assert events[1] == {
        "type": "event",
        "kind": "vt",
        "start_s": 9.0,
        "end_s": 9.8,
        "confidence": 0.8,
        "detail": {"n_beats": 3, "rate_bpm": 150.0, "sustained": False},
    }
    assert any(f["kind"] == "vt" for w in findings for f in w)


def test_vt_of_35_s_is_sustained() -> None:
    times = [*regular(1.0, 5, 0.8), *regular(5.0, 88, 0.4), *regular(40.0, 5, 0.8)]
    letters = ["N"] * 5 + ["V"] * 88 + ["N"] * 5
    findings, events = feed(ArrhythmiaTracker(), times, letters)
    (vt,) = closed(events)
    assert vt["kind"] == "vt" and vt["detail"]["sustained"] is True
    assert vt["detail"]["n_beats"] == 88 and vt["detail"]["rate_bpm"] == 150.0
    live = [f["detail"]["sustained"] for w in findings for f in w if f["kind"] == "vt"]
    assert live[0] is False and True in live  # said while it runs, once it passes 30 s


def test_slow_v_run_is_idioventricular() -> None:
    times = [*regular(1.0, 4, 1.0), *regular(5.0, 6, 1.0), *regular(11.0, 3, 1.0)]
    events = feed(ArrhythmiaTracker(), times, ["N"] * 4 + ["V"] * 6 + ["N"] * 3)[1]
    assert kinds(events) == ["idioventricular_rhythm"]
    assert closed(events)[0]["detail"]["rate_bpm"] == 60.0


def test_bigeminy_and_its_counts() -> None:
    times = regular(1.0, 16, 0.8)
    letters = ["N", "V"] * 6 + ["N"] * 4
    tracker = ArrhythmiaTracker()
    tracker_events = feed(tracker, times, letters, flush=False)[1]
    counts = tracker.counts()
    events = tracker_events + tracker.flush()
    check_contract(events)
    (bi,) = closed(events)
    assert bi["kind"] == "ventricular_bigeminy"
    assert (bi["start_s"], bi["end_s"]) == (1.0, times[11])
    assert bi["detail"] == {"n_beats": 12, "n_cycles": 6}
    assert counts["veb_isolated"] == 6 and counts["veb_couplets"] == 0
    assert counts["beats"]["V"] == 6 and counts["beats"]["N"] == 10


def test_bigeminy_starts_at_the_n_before_its_first_v() -> None:
    times = regular(1.0, 11, 0.8)
    events = feed(ArrhythmiaTracker(), times, list("NNNVNVNVNNN"))[1]
    (bi,) = closed(events)
    assert (bi["kind"], bi["start_s"], bi["end_s"]) == ("ventricular_bigeminy", times[2], times[7])


def test_two_bigeminy_cycles_are_not_an_episode() -> None:
    letters = ["N", "N", "V", "N", "V", "N", "N", "N"]
    assert feed(ArrhythmiaTracker(), regular(1.0, 8, 0.8), letters)[1] == []


def test_trigeminy() -> None:
    letters = ["N", "N", "V"] * 4 + ["N"] * 3
    events = feed(ArrhythmiaTracker(), regular(1.0, 15, 0.8), letters)[1]
    assert kinds(events) == ["ventricular_trigeminy"]
    assert closed(events)[0]["detail"] == {"n_beats": 12, "n_cycles": 4}


def test_couplet_is_counted_not_raised() -> None:
    tracker = ArrhythmiaTracker()
    findings, events = feed(tracker, regular(1.0, 8, 0.8), list("NNVVNNNN"), flush=False)
    assert events == []
    assert tracker.counts()["veb_couplets"] == 1 and tracker.counts()["veb_isolated"] == 0
    assert {"kind": "veb_couplet", "confidence": 0.9, "count": 1} in findings[-1]


def test_q_beats_break_runs() -> None:
    tracker = ArrhythmiaTracker()
    events = feed(tracker, regular(1.0, 9, 0.4), list("NVVQVVQVN"), flush=False)[1]
    assert events == []
    assert tracker.counts()["veb_couplets"] == 2


# Supraventricular


def test_svt_and_slow_atrial_run() -> None:
    fast = [*regular(1.0, 4, 0.8), 4.4, 4.8, 5.2, 5.6, *regular(6.4, 3, 0.8)]
    events = feed(ArrhythmiaTracker(), fast, list("NNNNSSSSNNN"))[1]
    assert kinds(events) == ["svt"] and closed(events)[0]["detail"]["n_beats"] == 4
    tracker = ArrhythmiaTracker()
    slow = regular(1.0, 9, 0.9)
    assert feed(tracker, slow, list("NNSSSNNSN"), flush=False)[1] == []
    counts = tracker.counts()
    assert (counts["sveb_runs"], counts["sveb_isolated"]) == (1, 1)


# Pause and asystole


@pytest.mark.parametrize(("rr", "high"), [(2.5, False), (3.5, True)])
def test_pause(rr: float, high: bool) -> None:
    times = [*regular(1.0, 5, 0.8), 4.2 + rr, *regular(5.0 + rr, 4, 0.8)]
    events = feed(ArrhythmiaTracker(), times, ["N"] * 10)[1]
    assert events == [
        {
            "type": "event_open",
            "kind": "pause",
            "start_s": 4.2,
            "confidence": None,
            "detail": {"rr_s": rr, "high": high},
        },
        {
            "type": "event",
            "kind": "pause",
            "start_s": 4.2,
            "end_s": round(4.2 + rr, 3),
            "confidence": None,
            "detail": {"rr_s": rr, "high": high},
        },
    ]


def test_rr_under_two_seconds_is_no_pause() -> None:
    times = [*regular(1.0, 5, 0.8), 6.1, *regular(6.9, 4, 0.8)]
    assert feed(ArrhythmiaTracker(), times, ["N"] * 10)[1] == []


def asystole_beats(gap: float) -> list[float]:
    return [*regular(1.0, 10, 0.8), 8.2 + gap, *regular(9.0 + gap, 6, 0.8)]


def test_five_seconds_without_beats_is_asystole() -> None:
    events = feed(ArrhythmiaTracker(), asystole_beats(5.0), ["N"] * 17)[1]
    assert [(e["type"], e["kind"]) for e in events] == [
        ("event_open", "asystole"),
        ("event", "asystole"),
    ]
    assert (events[1]["start_s"], events[1]["end_s"]) == (8.2, 13.2)
    assert "reason" not in events[1]


def test_asystole_opens_before_the_next_beat() -> None:
    times = asystole_beats(12.0)
    tracker, opened_at, sent = ArrhythmiaTracker(), None, 0
    for t in np.arange(10.0, 30.0):
        batch = [b for b in times[sent:] if b + 1.0 <= t]
        sent += len(batch)
        letters = ["N"] * len(batch)
        _, ev = tracker.update(
            t,
            BeatBatch(batch, letters, [0.9] * len(batch)),
            usable=True,
            reasons=[],
            heart_rate_bpm=None,
            label="uncertain",
        )
        if any(e["type"] == "event_open" for e in ev):
            opened_at = t
            break
    # 4 s without beats after 8.2 s, known once every beat up to t_end - 3 s is in: at the
    # first window from 15.2 s, while the next beat (20.2 s) is still to come.
    assert opened_at == 16.0


def test_a_run_ends_once_no_beat_can_follow_it() -> None:
    """A VT followed by silence closes when the horizon passes its last beat by pause_s, not
    when the next beat comes."""
    times = [*regular(1.0, 5, 0.8), 5.0, 5.4, 5.8, 30.0]
    tracker, sent, closed_at = ArrhythmiaTracker(), 0, None
    for t in np.arange(10.0, 34.0):
        batch = [b for b in times[sent:] if b + 3.0 <= t]  # the latest a beat may come
        letters = ["N"] * 5 + ["V"] * 3 + ["N"]
        _, ev = tracker.update(
            t,
            BeatBatch(batch, letters[sent : sent + len(batch)], [0.9] * len(batch)),
            usable=True,
            reasons=[],
            heart_rate_bpm=None,
            label="uncertain",
        )
        sent += len(batch)
        if closed_at is None and any(e["kind"] == "vt" and e["type"] == "event" for e in ev):
            closed_at = t
    assert closed_at == 11.0  # 5.8 + 2.0 + 3.0 = 10.8: the first window from then on


@pytest.mark.parametrize("why", [["flat"], ["no_beats"]])
def test_flat_and_no_beats_windows_are_still_asystole(why: list[str]) -> None:
    def quiet(t: float) -> bool:
        return 9.0 < t < 15.0

    events = feed(
        ArrhythmiaTracker(),
        asystole_beats(5.0),
        ["N"] * 17,
        usable=lambda t: not quiet(t),
        reasons=lambda t: why if quiet(t) else [],
    )[1]
    assert kinds(events) == ["asystole"]


@pytest.mark.parametrize("gap", [2.5, 5.0, 12.0])
def test_lead_off_is_neither_asystole_nor_pause(gap: float) -> None:
    def off(t: float) -> bool:
        return 8.2 < t <= 8.2 + gap

    events = feed(
        ArrhythmiaTracker(),
        asystole_beats(gap),
        ["N"] * 17,
        usable=lambda t: not off(t),
        reasons=lambda t: ["lead_off"] if off(t) else [],
    )[1]
    assert events == []


def test_lead_off_closes_an_open_asystole() -> None:
    def off(t: float) -> bool:
        return t >= 20.0

    times = asystole_beats(20.0)
    events = feed(
        ArrhythmiaTracker(),
        times,
        ["N"] * 17,
        usable=lambda t: not off(t),
        reasons=lambda t: ["lead_off"] if off(t) else [],
    )[1]
    check_contract(events)
    (asys,) = closed(events, "asystole")
    assert asys["reason"] == "signal_unusable" and asys["end_s"] == 16.0


# Unusable windows


def test_v_beats_in_unusable_windows_raise_nothing() -> None:
    times = regular(1.0, 40, 0.4)
    tracker = ArrhythmiaTracker()
    events = feed(
        tracker,
        times,
        ["V"] * 40,
        usable=const(False),
        reasons=const(["high_frequency_noise"]),
        hr=const(None),
        label=const("uncertain"),
        flush=False,
    )[1]
    assert events == []
    assert tracker.counts()["beats"]["Q"] == 40


def test_v_beats_of_an_unusable_span_delivered_later_raise_nothing() -> None:
    def bad(t: float) -> bool:
        return 16.0 <= t <= 25.0

    times = [*regular(1.0, 17, 0.8), *regular(15.0, 26, 0.4), *regular(26.0, 5, 0.8)]
    letters = ["N"] * 17 + ["V"] * 26 + ["N"] * 5
    events = feed(
        ArrhythmiaTracker(),
        times,
        letters,
        lag=3.0,  # the V beats of 22-25 s arrive with the usable windows of 26-28 s
        usable=lambda t: not bad(t),
        reasons=lambda t: ["high_frequency_noise"] if bad(t) else [],
    )[1]
    assert events == []


def test_an_unusable_window_ends_a_run() -> None:
    times = regular(5.0, 40, 0.4)
    events = feed(
        ArrhythmiaTracker(),
        times,
        ["V"] * 40,
        usable=lambda t: t != 14.0,
        reasons=lambda t: ["clipping"] if t == 14.0 else [],
    )[1]
    check_contract(events)
    first = closed(events)[0]
    assert first["kind"] == "vt" and first["reason"] == "signal_unusable"
    assert first["end_s"] == 11.8  # the last V delivered before the unusable window


# Window rates


def rate_stream(bpm: float, letter: str = "N", **kw: Per) -> Msgs:
    times = regular(1.0, int(60 * bpm / 60), 60.0 / bpm)
    return feed(ArrhythmiaTracker(), times, [letter] * len(times), hr=const(bpm), **kw)[1]


def test_regular_120_bpm_normal_is_sinus_tachycardia() -> None:
    events = rate_stream(120.0)
    check_contract(events)
    assert kinds(events) == ["sinus_tachycardia"]
    assert closed(events)[0]["start_s"] == 0.0 and closed(events)[0]["detail"]["rate_bpm"] == 120


def test_120_bpm_not_normal_is_tachycardia() -> None:
    # The rhythm network calls a regular sinus tachycardia "other": its N beats make it sinus.
    assert kinds(rate_stream(120.0, label=const("other"))) == ["sinus_tachycardia"]
    assert kinds(rate_stream(120.0, label=const("uncertain"))) == ["tachycardia"]
    assert "tachycardia" in kinds(rate_stream(120.0, "S"))


def test_40_bpm_is_bradycardia() -> None:
    events = rate_stream(40.0)
    assert kinds(events) == ["bradycardia"]
    # AF windows are neither: AF has its own episodes.
    assert rate_stream(40.0, label=const("af")) == []
    assert rate_stream(130.0, label=const("af")) == []


def test_rate_hysteresis() -> None:
    def hr(t: float) -> float:
        return 40.0 if t < 40 else 70.0

    tracker = ArrhythmiaTracker(ArrhythmiaConfig(rate_open_windows=5, rate_close_windows=3))
    times = regular(1.0, 50, 1.2)
    events = feed(tracker, times, ["N"] * 50, hr=hr, flush=False)[1]
    assert [e["type"] for e in events] == ["event_open", "event"]
    assert events[0]["kind"] == "bradycardia"
    assert (events[1]["start_s"], events[1]["end_s"]) == (0.0, 39.0)


@pytest.mark.parametrize(
    ("low", "high", "kind"), [(46.0, 52.0, "bradycardia"), (104.0, 97.0, "tachycardia")]
)
def test_rate_at_the_limit_is_one_episode(low: float, high: float, kind: str) -> None:
    # A rate that crosses the limit back and forth, within the dead band, stays one episode.
    def hr(t: float) -> float:
        return low if t < 40 or int(t) % 12 < 6 else high

    times = regular(1.0, 200, 60.0 / 70)
    tracker = ArrhythmiaTracker(ArrhythmiaConfig(rate_open_windows=5, rate_close_windows=3))
    events = feed(tracker, times, ["N"] * 200, hr=hr, label=const("uncertain"))[1]
    assert kinds(events) == [kind]
    # Without the dead band the same rates toggle.
    tracker = ArrhythmiaTracker(
        ArrhythmiaConfig(rate_open_windows=5, rate_close_windows=3, rate_hysteresis_bpm=0.0)
    )
    events = feed(tracker, times, ["N"] * 200, hr=hr, label=const("uncertain"))[1]
    assert kinds(events) == [kind] * len(closed(events)) and len(closed(events)) > 1


def test_rate_past_the_dead_band_closes() -> None:
    def hr(t: float) -> float:
        return 46.0 if t < 40 else 56.0

    tracker = ArrhythmiaTracker(ArrhythmiaConfig(rate_open_windows=5, rate_close_windows=3))
    events = feed(tracker, regular(1.0, 60, 1.2), ["N"] * 60, hr=hr, flush=False)[1]
    assert [e["type"] for e in events] == ["event_open", "event"]
    assert events[1]["end_s"] == 39.0


def test_noise_windows_are_neutral_for_rates() -> None:
    assert rate_stream(130.0, label=const("noise")) == []
    assert rate_stream(40.0, label=const("noise")) == []


def test_mostly_q_is_paced_rhythm_and_never_vt() -> None:
    events = rate_stream(150.0, "Q", label=const("other"))
    assert "paced_rhythm" in kinds(events)
    assert "vt" not in kinds(events)


# Contract, batching, gaps, state


def random_beats(seed: int, n: int) -> tuple[list[float], list[str], list[float]]:
    """Sticky random beat classes with pauses and long gaps."""
    rng = np.random.default_rng(seed)
    times, letters, probs, t, mode = [], [], [], 1.0, "N"
    for _ in range(n):
        if rng.random() < 0.08:
            mode = str(rng.choice(["N", "N", "V", "S", "NV", "NNV", "Q"]))
        t += float(rng.choice([0.4, 0.8, 1.0, 2.5, 3.5, 6.0], p=[0.3, 0.5, 0.12, 0.03, 0.03, 0.02]))
        times.append(round(t, 3))
        if mode in ("NV", "NNV"):
            letters.append(mode[len(letters) % len(mode)])
        else:
            letters.append(mode if rng.random() < 0.9 else str(rng.choice(list("NSVFQ"))))
        probs.append(round(float(rng.uniform(0.4, 1.0)), 3))
    return times, letters, probs


@pytest.mark.parametrize("seed", range(4))
def test_contract_on_random_streams(seed: int) -> None:
    times, letters, probs = random_beats(seed, 400)
    rng = np.random.default_rng(seed + 100)
    bad = set(np.flatnonzero(rng.random(int(times[-1]) + 20) < 0.05).tolist())
    events = feed(
        ArrhythmiaTracker(),
        times,
        letters,
        probs,
        usable=lambda t: int(t) not in bad,
        reasons=lambda t: ["lead_off"] if int(t) in bad else [],
        hr=lambda t: 40.0 + 2.0 * (int(t) % 60),
        label=lambda t: ["normal", "other", "af", "uncertain"][int(t) // 37 % 4],
    )[1]
    check_contract(events)
    assert {e["kind"] for e in events} >= {"vt", "pause", "asystole"}


@pytest.mark.parametrize("seed", range(3))
def test_same_events_however_the_beats_are_batched(seed: int) -> None:
    times, letters, probs = random_beats(seed, 300)
    rng = np.random.default_rng(seed)
    results = []
    for lag in (0.0, 1.0, 3.0, rng.uniform(0.0, 3.0, len(times)).tolist()):
        events = feed(ArrhythmiaTracker(), times, letters, probs, lag=lag, label=const("other"))[1]
        results.append(sorted(closed(events), key=lambda e: (e["start_s"], e["kind"])))
    assert results[0] == results[1] == results[2] == results[3]
    assert len(results[0]) > 10


def test_offline_equals_streamed() -> None:
    times, letters, probs = random_beats(7, 300)
    tracker = ArrhythmiaTracker()
    _, streamed = feed(tracker, times, letters, probs, lag=3.0, flush=False)
    streamed += tracker.flush()
    n = int(times[-1] + 3.0) - 10 + 1
    t_end = [10.0 + k for k in range(n)]
    offline, counts = arrhythmia_events(
        t_end,
        BeatBatch(times, letters, probs),
        usable=[True] * n,
        reasons=[[]] * n,
        heart_rate_bpm=[70.0] * n,
        labels=["normal"] * n,
    )
    assert offline == closed(streamed)
    assert sum(counts["beats"].values()) == len(times)


def composite_beats() -> tuple[list[float], list[str], list[float]]:
    """A beat of every pattern: bigeminy, trigeminy, VT, SVT, a pause, asystole, paced."""
    letters = list("NNNNVNVNVNVNNVNNVNNVNNVNNVVVVVNNSSSSNNN") + ["N"] * 3 + ["Q"] * 30 + ["N"] * 4
    times, t = [], 1.0
    for k, letter in enumerate(letters):
        fast = letter in "VS" and k + 1 < len(letters) and letters[k + 1] == letter
        t += 0.4 if fast or (k and letters[k - 1] in "VS" and letter == letters[k - 1]) else 0.8
        if k in (40, 44):
            t += 2.0 if k == 40 else 4.5  # a pause, then asystole
        times.append(round(t, 3))
    probs = [round(0.5 + 0.4 * k / len(letters), 3) for k in range(len(letters))]
    probs[5] = math.nan
    return times, letters, probs


def test_state_round_trip_at_every_window() -> None:
    times, letters, probs = composite_beats()
    windows = list(np.arange(10.0, times[-1] + 4.0))

    def run(split: int | None) -> tuple[list[Any], Msgs]:
        tracker, found, events = ArrhythmiaTracker(), [], []
        for k, t in enumerate(windows):
            if k == split:
                state = json.loads(json.dumps(tracker.state_dict(), allow_nan=False))
                tracker = ArrhythmiaTracker()
                tracker.load_state_dict(state)
            # Each beat with the first window at least 1 s after it.
            idx = [i for i, b in enumerate(times) if (k == 0 or b + 1.0 > t - 1.0) and b + 1.0 <= t]
            f, ev = tracker.update(
                float(t),
                BeatBatch(
                    [times[i] for i in idx], [letters[i] for i in idx], [probs[i] for i in idx]
                ),
                usable=int(t) != 60,
                reasons=["lead_off"] if int(t) == 60 else [],
                heart_rate_bpm=40.0 if t < 30 else 130.0,
                label="normal",
            )
            found.append(f)
            events += ev
        return found, events + tracker.flush()

    whole = run(None)
    check_contract(whole[1])
    expected = {"ventricular_bigeminy", "ventricular_trigeminy", "vt", "svt", "pause", "asystole"}
    assert {e["kind"] for e in whole[1]} >= expected | {"bradycardia", "paced_rhythm"}
    for split in range(1, len(windows)):
        assert run(split) == whole, split


def test_state_stays_bounded() -> None:
    tracker = ArrhythmiaTracker()
    sizes = []
    for k, n in enumerate((200, 2000)):
        times, letters, probs = random_beats(k, n)
        feed(tracker, times, letters, probs, flush=False)
        sizes.append(len(json.dumps(tracker.state_dict())))
        tracker.flush()
    assert max(sizes) < 20_000


def test_gap_and_end_of_stream_close_with_a_reason() -> None:
    tracker = ArrhythmiaTracker()
    times = regular(5.0, 20, 0.4)
    events = feed(tracker, times, ["V"] * 20, t1=12.0, flush=False)[1]
    assert [e["type"] for e in events] == ["event_open"]
    _, ev = tracker.update(
        20.0, BeatBatch([], [], []), usable=True, reasons=[], heart_rate_bpm=None, label="normal"
    )
    assert ev[0]["type"] == "event" and ev[0]["reason"] == "gap"
    events = feed(ArrhythmiaTracker(), times, ["V"] * 20, t1=12.0)[1]
    assert closed(events)[0]["reason"] == "end_of_stream"
    tracker = ArrhythmiaTracker()
    feed(tracker, times, ["V"] * 20, t1=12.0, flush=False)
    assert closed(tracker.interrupt())[0]["reason"] == "gap"
    assert tracker.interrupt() == []


# Bad input


def test_bad_input_changes_nothing() -> None:
    tracker = ArrhythmiaTracker()
    feed(tracker, regular(1.0, 10, 0.8), ["N"] * 10, flush=False)
    before = tracker.state_dict()
    last = 8.2
    bad: list[tuple[float, BeatBatch, str]] = [
        (20.0, BeatBatch([last], ["N"], [0.9]), "normal"),  # not after the last beat
        (20.0, BeatBatch([19.0, 18.0], ["N", "N"], [0.9, 0.9]), "normal"),
        (20.0, BeatBatch([19.0], ["X"], [0.9]), "normal"),
        (20.0, BeatBatch([19.0], ["N"], [1.5]), "normal"),
        (20.0, BeatBatch([21.0], ["N"], [0.9]), "normal"),  # after t_end
        (20.0, BeatBatch([19.0], ["N", "N"], [0.9]), "normal"),
        (20.0, BeatBatch([], [], []), "sinus"),
        (5.0, BeatBatch([], [], []), "normal"),
    ]
    for t, batch, lab in bad:
        with pytest.raises(InputError):
            tracker.update(t, batch, usable=True, reasons=[], heart_rate_bpm=70.0, label=lab)
        assert tracker.state_dict() == before
    with pytest.raises(InputError, match="config"):
        ArrhythmiaTracker(ArrhythmiaConfig(pause_s=1.5)).load_state_dict(before)
    with pytest.raises(InputError, match="missing"):
        ArrhythmiaTracker().load_state_dict({k: v for k, v in before.items() if k != "rates"})
    with pytest.raises(InputError, match="malformed"):
        ArrhythmiaTracker().load_state_dict({**before, "v": {"n": 1}})


@pytest.mark.parametrize(
    "field", [{"min_run": 1}, {"pause_s": 0.0}, {"asystole_s": 1.0}, {"sinus_n_share": 1.5}]
)
def test_config_is_checked(field: dict[str, Any]) -> None:
    with pytest.raises(InputError, match=next(iter(field))):
        ArrhythmiaConfig(**field)


def test_unchecked_updates_match_checked_ones() -> None:
    # check=False is the engine's trusted path: the same findings and events, state included.
    times, letters, probs = random_beats(3, 300)
    rng = np.random.default_rng(3)
    broken = (rng.random(len(times)) < 0.03).tolist()
    results = []
    for check in (True, False):
        tracker, out, i = ArrhythmiaTracker(), [], 0
        for k in range(int(times[-1]) + 5):
            t = 10.0 + k
            j = i
            while j < len(times) and times[j] + 1.0 <= t:
                j += 1
            batch = BeatBatch(times[i:j], letters[i:j], probs[i:j], broken[i:j])
            i = j
            bad = k % 41 == 0
            out.append(
                tracker.update(
                    t,
                    batch,
                    usable=not bad,
                    reasons=["lead_off"] if bad else [],
                    heart_rate_bpm=40.0 + 2.0 * (k % 60),
                    label=["normal", "other", "af"][k // 37 % 3],
                    check=check,
                )
            )
        results.append((out, tracker.state_dict()))
    assert results[0] == results[1]
    assert any(findings for findings, _ in results[0][0])


@pytest.mark.parametrize(
    "batch",
    [
        BeatBatch([9.0, math.nan], ["N", "N"], [0.9, 0.9]),
        BeatBatch([-math.inf, 9.0], ["N", "N"], [0.9, 0.9]),
        BeatBatch([9.0, 9.0], ["N", "N"], [0.9, 0.9]),
        BeatBatch([9.0, 9.5], ["N", "n"], [0.9, 0.9]),
        BeatBatch([9.0, 9.5], ["N", "N"], [0.9, -0.1]),
        BeatBatch([9.0, 9.5], ["N", "N"], [math.nan, 1.5]),
        BeatBatch([9.0, 9.5], ["N", "N"], [1.5, math.nan]),
        BeatBatch([9.0], ["N"], [0.9], [False, False]),
    ],
)
def test_bulk_checks_reject_what_the_beat_checks_did(batch: BeatBatch) -> None:
    tracker = ArrhythmiaTracker()
    with pytest.raises(InputError, match="beats"):
        tracker.update(10.0, batch, usable=True, reasons=[], heart_rate_bpm=70.0, label="normal")
    ok = BeatBatch([9.0, 9.5], ["N", "N"], [math.nan, 0.5], np.array([False, False]))
    tracker.update(10.0, ok, usable=True, reasons=(), heart_rate_bpm=70, label="normal")
