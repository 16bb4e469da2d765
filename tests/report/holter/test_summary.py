"""The report's definitions on a hand-made pass of the engine, where every figure is known."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from cardiostream.record import Record
from cardiostream.report.holter.collect import REASON_BITS, Collected
from cardiostream.report.holter.findings import clock
from cardiostream.report.holter.summary import build_report, iso_start
from cardiostream.rhythm.verdict import LABELS

DURATION = 1200.0


def _event(kind: str, start: float, end: float, **detail: Any) -> dict[str, Any]:
    e: dict[str, Any] = {"type": "event", "kind": kind, "start_s": start, "end_s": end}
    e["confidence"] = None
    if detail:
        e["detail"] = detail
    return e


def _collected() -> Collected:
    t_end = np.arange(10.0, DURATION + 1)  # one window a second from 10 s
    label = np.full(t_end.size, LABELS.index("normal"), np.int8)
    af = (t_end > 300) & (t_end <= 420)  # 120 s of AF
    label[af] = LABELS.index("af")
    usable = ~((t_end > 900) & (t_end <= 1020))  # 120 s of noise
    hr = np.where(usable, 60.0, np.nan)
    reasons = np.where(usable, 0, 1 << REASON_BITS.index("high_frequency_noise"))
    beat_t = np.arange(0.5, DURATION, 1.0)  # 60 bpm
    lab = np.full(beat_t.size, "N", dtype="<U1")
    lab[[100, 500]] = "V"  # isolated
    lab[[200, 201]] = "V"  # a couplet
    lab[[600, 601, 602]] = "V"  # a run (the engine's vt event below)
    lab[[700]] = "S"  # isolated S
    lab[[350, 351, 352]] = "S"  # S in AF: the fibrillating rhythm, not ectopy
    lab[[950, 951]] = "V"  # in the noise: not counted
    events = [
        _event("af", 300.0, 420.0),
        _event("vt", 600.5, 602.5, n_beats=3, rate_bpm=120.0, sustained=False),
        _event("pause", 800.5, 803.5, rr_s=3.0, high=True),
        _event("pause", 960.5, 963.0, rr_s=2.5, high=False),  # in the noise
        _event("bradycardia", 1100.0, 1150.0, rate_bpm=45.0),
    ]
    return Collected(
        name="hand",
        source="hand",
        fs=250.0,
        lead="ECG",
        leads=["ECG"],
        duration_s=DURATION,
        hop_s=1.0,
        t_end=t_end,
        hr=hr,
        label=label,
        usable=usable,
        reasons=reasons.astype(np.int64),
        events=events,  # type: ignore[arg-type]
        beat_t=beat_t,
        beat_label=lab,
        beat_p=np.ones(beat_t.size),
        beat_broken=np.zeros(beat_t.size, bool),
        engine_s=0.5,
        models={"rhythm_model": "r", "beat_model": "b"},
    )


@pytest.fixture(scope="module")
def report() -> Any:
    rec = Record(
        signal=np.zeros((int(DURATION * 250), 1), np.float32), fs=250.0, leads=["ECG"], name="hand"
    )
    rep, strips = build_report(_collected(), rec)
    return rep, strips


def test_analysable_time_and_reasons(report: Any) -> None:
    rep, _ = report
    rec = rep["record"]
    assert rec["analysable_s"] == DURATION - 9 - 120
    assert rec["unusable_by_reason"] == {"high_frequency_noise": 120.0, "not_windowed": 9.0}


def test_heart_rate(report: Any) -> None:
    rep, _ = report
    hr = rep["heart_rate"]
    # Beats at x.5 s: the beats of analysable seconds, one a second.
    assert hr["total_beats"] == DURATION - 9 - 120
    assert hr["mean_bpm"] == pytest.approx(60.0)
    assert hr["min_bpm"] == pytest.approx(60.0) and hr["max_bpm"] == pytest.approx(60.0)
    assert hr["trend_bpm"][15] is None and hr["trend_bpm"][16] is None  # 900-1020 s
    assert hr["trend_bpm"][0] == pytest.approx(60.0)  # 51 analysable seconds


def test_ectopy_counts(report: Any) -> None:
    rep, _ = report
    v, s = rep["ventricular"], rep["supraventricular"]
    assert v["total"] == 7  # 2 isolated + 2 couplet + 3 run; the 2 in noise are not
    assert (v["isolated"], v["couplets"], v["runs"]) == (2, 1, 1)
    assert v["longest_run"] == {"start_s": 600.5, "end_s": 602.5, "n_beats": 3, "rate_bpm": 120.0}
    assert s["total"] == 1 and s["isolated"] == 1 and s["runs"] == 0
    assert [h["v_beats"] for h in rep["hourly"]] == [7]


def test_af_pauses_and_rates(report: Any) -> None:
    rep, _ = report
    af = rep["af"]
    assert af["af_s"] == 120.0
    assert af["burden"] == pytest.approx(120.0 / (DURATION - 129), abs=1e-4)
    assert af["episodes"][0]["duration_s"] == 120.0
    assert af["episodes"][0]["mean_rate_bpm"] == pytest.approx(60.0)
    p = rep["pauses"]
    assert p["pause_list"] == [{"at_s": 800.5, "rr_s": 3.0}]  # not the one in the noise
    assert (p["n_2s"], p["n_3s"]) == (1, 1)
    assert rep["rate_episodes"][0]["kind"] == "bradycardia"
    assert "1 pause ≥ 2 s (1 ≥ 3 s), the longest 3.0 s at 13 min" in rep["findings"]


def test_hrv_leaves_out_af_ectopy_and_noise(report: Any) -> None:
    rep, _ = report
    # Analysable beats outside AF: 9-299, 420-899, 1020-1199, so 290 + 479 + 179 intervals;
    # less those touching an ectopic beat or starting at the beat after one: 3 for each
    # isolated beat (V 100, V 500, S 700), 4 for the couplet, 5 for the run of three.
    h = rep["hrv"]
    assert h["n_nn"] == 290 + 479 + 179 - 3 * 3 - 4 - 5
    assert h["sdnn_ms"] == pytest.approx(0.0) and h["rmssd_ms"] == pytest.approx(0.0)


def test_strips(report: Any) -> None:
    rep, strips = report
    ids = {s["id"] for s in rep["strips"]}
    assert {"af-first", "vt-first", "pause-first", "bradycardia-first"} <= ids
    assert "pause-longest" not in ids  # the same pause as the first
    vt = next(s for s in rep["strips"] if s["id"] == "vt-first")
    assert vt["start_s"] <= 600.5 and vt["start_s"] + vt["duration_s"] >= 602.5
    assert strips["vt-first"].beat_class.count("V") == 3


@pytest.mark.parametrize(
    ("given", "iso", "said"),
    [
        ("2026-01-05 23:50:00", "2026-01-05T23:50:00", "at 00:03:20"),  # past midnight
        ("23:50:00", "23:50:00", "at 00:03:20"),  # a WFDB header without a date
        ("no date", None, "at 13 min"),
        (None, None, "at 13 min"),
    ],
)
def test_start_and_clock_times(given: str | None, iso: str | None, said: str) -> None:
    assert iso_start(given) == iso
    report: Any = {"record": {"start": iso}}
    assert clock(report, 800.0) == said
