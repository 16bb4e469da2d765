"""Beat-time streams: windows, AF episodes, gaps, chunking, state and bad input."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cardiostream.beats.af_rr import af_from_beats
from cardiostream.errors import InputError
from cardiostream.stream.beat_stream import (
    BEAT_GAP,
    FEW_BEATS,
    BeatStreamProcessor,
    beat_stream_messages,
)
from cardiostream.stream.events import af_episodes


def regular_beats(n: int, rr_s: float = 0.8, seed: int = 0, t0: float = 0.0) -> np.ndarray:
    """Sinus-like beats: RR near ``rr_s`` with 2.5 % jitter."""
    rng = np.random.default_rng(seed)
    return t0 + np.cumsum(np.r_[0.0, rr_s * (1 + 0.025 * rng.standard_normal(n - 1))])


def af_like_beats(seed: int = 1) -> np.ndarray:
    """80 s regular, 240 s irregularly irregular (uniform RR 0.35-1.1 s), 120 s regular."""
    rng = np.random.default_rng(seed)
    rr = np.r_[
        0.8 * (1 + 0.025 * rng.standard_normal(100)),
        rng.uniform(0.35, 1.1, 330),
        0.8 * (1 + 0.025 * rng.standard_normal(150)),
    ]
    return np.cumsum(np.r_[0.0, rr])


def pulse_timed_beats(seed: int = 5) -> np.ndarray:
    """120 bpm sinus, 240 s of AF, sinus again, every beat timed with 30 ms of noise as a
    pulse sensor's: the ECG model calls the noisy sinus AF, the pulse model does not."""
    rng = np.random.default_rng(seed)
    rr = np.r_[
        0.5 * (1 + 0.02 * rng.standard_normal(200)),
        rng.uniform(0.35, 1.1, 330),
        0.5 * (1 + 0.02 * rng.standard_normal(200)),
    ]
    t = np.cumsum(np.r_[1.0, rr])
    return np.sort(t + rng.normal(0.0, 0.03, t.size))


def windows(lines: list[Any]) -> list[dict[str, Any]]:
    return [w for w in lines if w["type"] == "window"]


def as_json(lines: list[Any]) -> list[Any]:
    return [json.loads(json.dumps(line, allow_nan=False)) for line in lines]


def test_a_regular_series_gives_normal_windows_every_second_and_no_episode() -> None:
    t = regular_beats(200)
    lines = beat_stream_messages(t)
    ws = windows(lines)
    ends = [w["t_end"] for w in ws]
    assert ends == [float(s) for s in range(10, int(t[-1]) + 1)]
    assert all(w["t_start"] == w["t_end"] - 10 for w in ws)
    labels = Counter(w["label"] for w in ws)
    assert labels["af"] == 0 and labels["normal"] > 0.9 * len(ws)
    assert [x for x in lines if x["type"] != "window"] == []
    w = ws[40]
    assert w["source"] == "beats" and w["quality"] == {"usable": True, "reasons": [], "score": 1.0}
    assert 70 < w["heart_rate_bpm"] < 80  # 0.8 s intervals: 75 bpm
    assert w["n_beats"] in (12, 13, 14)
    assert 700 < w["hrv"]["mean_rr_ms"] < 900 and w["hrv"]["sdnn_ms"] < 60
    assert w["probabilities"]["normal"] + w["probabilities"]["af"] == pytest.approx(1.0)
    assert w["beat_classes"] == {"N": 0, "S": 0, "V": 0, "F": 0, "Q": 0}


def test_an_irregular_stretch_gives_af_windows_and_one_episode_around_it() -> None:
    t = af_like_beats()
    lines = beat_stream_messages(t)
    ws = windows(lines)
    events = [x for x in lines if x["type"] == "event"]
    opens = [x for x in lines if x["type"] == "event_open"]
    assert len(events) == 1 and len(opens) == 1
    onset, offset = float(t[100]), float(t[430])
    assert events[0]["kind"] == "af" and opens[0]["start_s"] == events[0]["start_s"]
    assert onset - 5 <= events[0]["start_s"] <= onset + 40
    assert offset - 5 <= events[0]["end_s"] <= offset + 40
    inside = [w for w in ws if onset + 40 < w["t_end"] < offset]
    assert Counter(w["label"] for w in inside)["af"] > 0.9 * len(inside)
    # The window's AF probability is its last beat's, as the RR detector gives it.
    ref = af_from_beats(t)
    w = inside[50]
    last = int(np.searchsorted(t, w["t_end"], "right")) - 1
    assert w["probabilities"]["af"] == round(float(ref.p_af[last]), 6)
    # The same episodes as the tracker run offline over the windows.
    offline = af_episodes(
        np.array([w["t_end"] for w in ws]),
        [w["label"] for w in ws],
        np.array([w["probabilities"]["af"] for w in ws]),
    )
    assert events == offline


def test_the_first_windows_are_uncertain_until_the_detector_has_16_intervals() -> None:
    ws = windows(beat_stream_messages(regular_beats(60, rr_s=1.0)))
    first = ws[0]
    assert first["t_end"] == 10.0
    assert first["label"] == "uncertain" and FEW_BEATS in first["quality"]["reasons"]
    assert first["heart_rate_bpm"] is None and first["hrv"]["mean_rr_ms"] is None
    assert not first["quality"]["usable"] and first["n_beats"] in (9, 10)
    # Beats at 0, 1, 2 ... s (with jitter): the beat near 16 s has 16 intervals behind it.
    assert all(w["label"] == "uncertain" for w in ws if w["t_end"] <= 15)
    assert all(w["label"] == "normal" for w in ws if w["t_end"] >= 18)


def test_a_gap_in_the_beats_makes_its_windows_uncertain_and_restarts_the_detector() -> None:
    before = regular_beats(60)
    after = regular_beats(60, t0=float(before[-1]) + 8.0, seed=2)
    ws = windows(beat_stream_messages(np.r_[before, after]))
    gap_ends = [w["t_end"] for w in ws if BEAT_GAP in w["quality"]["reasons"]]
    assert gap_ends, "no window saw the 8 s gap"
    assert min(gap_ends) > before[-1] and max(gap_ends) < after[0] + 10
    # No window is skipped: a gap under RESTART_S keeps the windows every second.
    ends = [w["t_end"] for w in ws]
    assert ends == [float(s) for s in range(int(ends[0]), int(ends[-1]) + 1)]
    # The detector starts afresh after the gap: 16 intervals before a window is usable.
    resumed = [w for w in ws if w["t_end"] >= after[0] + 10]
    assert resumed[0]["label"] == "uncertain"
    assert FEW_BEATS in resumed[0]["quality"]["reasons"]
    assert any(w["label"] == "normal" for w in resumed)


def test_a_long_silence_restarts_the_stream_with_a_gap_line() -> None:
    before = regular_beats(100, rr_s=0.5)
    after = regular_beats(60, t0=1000.0)
    af = af_like_beats()[:300]  # into AF before the silence
    first = af[-1] + 1.0 + before
    lines = beat_stream_messages(np.r_[af, first, after])
    gaps = [x for x in lines if x["type"] == "gap"]
    assert gaps == [
        {"type": "gap", "t_start": round(float(first[-1]), 3), "t_end": 1000.0,
         "action": "restart"}
    ]  # fmt: skip
    ws = windows(lines)
    assert not [w for w in ws if first[-1] + 1 < w["t_end"] < 1010]
    assert next(w for w in ws if w["t_end"] >= 1010)["t_end"] == 1010.0


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.integers(0, 60), min_size=1, max_size=30))
def test_any_chunking_gives_the_same_messages(sizes: list[int]) -> None:
    t = np.r_[af_like_beats(3)[:260], af_like_beats(3)[259] + 5.0 + regular_beats(40)]
    whole = beat_stream_messages(t)
    proc = BeatStreamProcessor()
    out: list[Any] = []
    i = 0
    for n in sizes * (len(t) // max(sum(sizes), 1) + 1):
        out += proc.push(t[i : i + n])
        i += n
        if i >= len(t):
            break
    out += proc.push(t[i:])
    out += proc.flush()
    assert out == whole
    assert any(x["type"] == "event" for x in whole)


def test_a_restored_processor_continues_exactly() -> None:
    t = af_like_beats(4)
    whole = beat_stream_messages(t)
    for cut in (5, 137, 260):
        proc = BeatStreamProcessor()
        head = proc.push(t[:cut])
        state = json.loads(json.dumps(proc.state_dict()))
        again = BeatStreamProcessor()
        again.load_state_dict(state)
        assert again.beats_seen == cut
        assert head + again.push(t[cut:]) + again.flush() == whole


def test_pulse_timing_picks_the_pulse_model_and_its_state_says_so() -> None:
    t = pulse_timed_beats()
    ecg, pulse = beat_stream_messages(t), beat_stream_messages(t, timing="pulse")
    starts = {k: [e["start_s"] for e in m if e["type"] == "event"] for k, m in
              (("ecg", ecg), ("pulse", pulse))}  # fmt: skip
    assert len(starts["ecg"]) == 2 and starts["ecg"][0] < 10  # the noisy sinus taken for AF
    assert len(starts["pulse"]) == 1 and starts["pulse"][0] > 80  # only the AF
    proc = BeatStreamProcessor(timing="pulse")
    head = proc.push(t[:300])
    state = json.loads(json.dumps(proc.state_dict()))
    again = BeatStreamProcessor(timing="pulse")
    again.load_state_dict(state)
    assert head + again.push(t[300:]) + again.flush() == pulse
    with pytest.raises(InputError, match="'pulse'-timed beats, not 'ecg'"):
        BeatStreamProcessor().load_state_dict(state)
    del state["timing"]  # a state saved before streams said their timing: ECG-timed
    with pytest.raises(InputError, match="'ecg'-timed beats, not 'pulse'"):
        BeatStreamProcessor(timing="pulse").load_state_dict(state)
    BeatStreamProcessor().load_state_dict(state)


def test_bad_beat_times_are_refused_before_any_state_changes() -> None:
    proc = BeatStreamProcessor()
    proc.push([1.0, 2.0])
    state = proc.state_dict()
    for bad, match in [
        ([3.0, float("nan")], "finite"),
        ([3.0, float("inf")], "finite"),
        ([3.0, 3.0], "increase strictly"),
        ([4.0, 3.5], "increase strictly"),
        ([1.5], "not after the last beat"),
        ([2.0], "not after the last beat"),
        ([2e9], "outside 0 to"),
        ([[3.0, 4.0]], "1-D"),
    ]:
        with pytest.raises(InputError, match=match):
            proc.push(bad)
        assert proc.state_dict() == state
    with pytest.raises(InputError, match="outside 0 to"):
        BeatStreamProcessor().push([-1.0, 2.0])
    with pytest.raises(InputError, match="not a BeatStreamProcessor state"):
        proc.load_state_dict({"type": "StreamProcessor"})
    with pytest.raises(InputError, match="malformed"):
        proc.load_state_dict({**state, "run": "x"})
    assert proc.state_dict() == state


def test_the_last_push_gives_rr_and_af_per_beat_for_the_tachogram() -> None:
    proc = BeatStreamProcessor()
    proc.push([0.0, 0.8, 1.6])
    assert proc.last_beats == ([0.0, 0.8, 1.6], [None, 800.0, 800.0], [False, False, False])
    proc.push([2.5, 7.0])  # 4.5 s: a gap, no interval drawn across it
    assert proc.last_beats[1] == [900.0, None]
    t = af_like_beats()
    proc = BeatStreamProcessor()
    calls = []
    for i in range(0, t.size, 37):  # windows drop old beats between pushes
        proc.push(t[i : i + 37])
        calls += proc.last_beats[2]
    assert calls == af_from_beats(t).af.tolist() and any(calls)


def test_windows_are_plain_json() -> None:
    lines = beat_stream_messages(af_like_beats())
    assert as_json(lines) == lines


def test_the_shortest_af_event_is_the_processors_to_set() -> None:
    from cardiostream.stream.events import EventConfig

    t = af_like_beats()

    def af_events(proc: BeatStreamProcessor) -> list[Any]:
        lines = [*proc.push(t), *proc.flush()]
        return [e for e in lines if e["type"] == "event" and e["kind"] == "af"]

    default = af_events(BeatStreamProcessor())
    assert len(default) == 1 and default == af_events(BeatStreamProcessor(events=EventConfig()))
    # About 240 s of AF: none of 400 s, and its hop and window stay the processor's.
    proc = BeatStreamProcessor(events=EventConfig(min_duration_s=400.0, hop_s=5, window_s=60))
    assert (proc.tracker.config.hop_s, proc.tracker.config.window_s) == (1.0, 10.0)
    assert af_events(proc) == []
