"""Rules that keep artefacts and AF from making runs: supraventricular beats in atrial
fibrillation are the rhythm, not ectopy, and a run of unlikely V beats is held back."""

from __future__ import annotations

from cardiostream.stream.arrhythmia import BeatBatch, arrhythmia_events


def _run(label: str) -> tuple[list[dict], dict]:
    # A fast, irregular run of S beats, delivered window by window.
    times = [1.0 + 0.45 * i + (0.05 if i % 2 else 0.0) for i in range(40)]
    ends = [float(t) for t in range(10, 25)]
    events, counts = arrhythmia_events(
        ends,
        BeatBatch(times, ["S"] * len(times), [0.8] * len(times)),
        usable=[True] * len(ends),
        reasons=[[] for _ in ends],
        heart_rate_bpm=[130.0] * len(ends),
        labels=[label] * len(ends),
    )
    return [dict(e) for e in events], counts


def test_s_runs_are_svt_in_sinus_context_but_not_in_af() -> None:
    events, counts = _run("other")
    assert any(e["kind"] == "svt" for e in events)
    events, counts = _run("af")
    assert not any(e["kind"] == "svt" for e in events)
    assert counts["beats"]["S"] == 40  # still counted as the classifier gave them
    assert counts["sveb_isolated"] == 0 and counts["sveb_runs"] == 0


def test_a_run_of_unlikely_v_beats_is_held_until_its_beats_are_likely() -> None:
    times = [5.0 + 0.4 * i for i in range(8)]
    ends = [float(t) for t in range(10, 20)]

    def events(p: list[float]) -> list[dict]:
        out, _ = arrhythmia_events(
            ends,
            BeatBatch(times, ["V"] * len(times), p),
            usable=[True] * len(ends),
            reasons=[[] for _ in ends],
            heart_rate_bpm=[150.0] * len(ends),
            labels=["other"] * len(ends),
        )
        return [dict(e) for e in out if e["kind"] == "vt"]

    assert not events([0.2] * 8)  # a run of doubtful V: counted, not raised
    late = events([0.2, 0.2, 0.2, 0.9, 0.9, 0.9, 0.9, 0.9])
    assert len(late) == 1 and late[0]["start_s"] == 5.0  # raised once likely, from its start
    assert len(events([0.9] * 8)) == 1
