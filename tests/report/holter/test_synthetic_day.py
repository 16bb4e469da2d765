"""The reports of a scripted day, a full 24 h and a two-hour one, state what the script put in.

Tolerances, and why:
- AF seconds: the engine labels a window ``af`` once the AF fills enough of its 10 s, so
  each episode loses up to ~10 s at either edge, and a few windows of real AF are left
  ``uncertain``: the report may miss up to 12 % of the scripted AF seconds and may not find
  more than 1 % extra (the sinus rhythm around it is regular).
- VEBs: the beat classifier's V sensitivity target is 90 %; a synthetic V beat at 150 bpm
  right after a rate change is sometimes called S. The count must be within 10 % of the
  scripted one.
- Pauses: the engine measures them between its own R peaks, which sit within a few samples
  of the generator's: times and lengths within 50 ms.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from cardiostream.record import Record
from cardiostream.report.holter import SCHEMA, HolterResult, holter_report
from cardiostream.report.holter.contract import report_json
from cardiostream.sim.holter_day import HolterDay, holter_day


@pytest.fixture(scope="module", params=[(86_400.0, 0), (7200.0, 1)], ids=["24h", "2h"])
def day(request: pytest.FixtureRequest) -> tuple[HolterDay, HolterResult]:
    duration_s, seed = request.param
    d = holter_day(duration_s, seed=seed)
    rec = Record(
        signal=d.signal[:, None],
        fs=d.fs,
        leads=["ECG"],
        name="day",
        meta={"start": d.start.isoformat(), "device": "simulated"},
    )
    return d, holter_report(rec)


def _overlap(a: tuple[float, float], b: tuple[float, float]) -> float:
    return max(0.0, min(a[1], b[1]) - max(a[0], b[0]))


def test_af_seconds_and_episodes(day: tuple[HolterDay, HolterResult]) -> None:
    d, result = day
    af = result.report["af"]
    truth_s = d.truth["af_s"]
    assert 0.88 * truth_s <= af["af_s"] <= 1.01 * truth_s
    assert len(af["episodes"]) == len(d.truth["af_episodes"])
    for ep, (a, b) in zip(af["episodes"], d.truth["af_episodes"], strict=True):
        assert abs(ep["start_s"] - a) <= 15 and abs(ep["end_s"] - b) <= 15
        assert ep["mean_rate_bpm"] is not None and 60 <= ep["mean_rate_bpm"] <= 130
    analysable = result.report["record"]["analysable_s"]
    assert af["burden"] == pytest.approx(af["af_s"] / analysable, abs=1e-4)
    assert af["longest"] == max(af["episodes"], key=lambda e: e["duration_s"])


def test_veb_count(day: tuple[HolterDay, HolterResult]) -> None:
    d, result = day
    v = result.report["ventricular"]
    assert abs(v["total"] - d.truth["veb"]) <= 0.10 * d.truth["veb"]
    assert v["total"] == sum(h["v_beats"] for h in result.report["hourly"])
    # Runs of 8 and 4 VT beats at 150 bpm (the 5-beat run after the bradycardia may be
    # called S, see the module notes).
    runs = {(r["n_beats"], round(r["rate_bpm"])) for r in v["run_list"]}
    assert (8, 150) in runs and (4, 150) in runs
    assert v["longest_run"] is not None and v["longest_run"]["n_beats"] == 8


def test_pauses_at_their_times(day: tuple[HolterDay, HolterResult]) -> None:
    d, result = day
    p = result.report["pauses"]
    truth = d.truth["pauses"]
    assert p["n_2s"] == len(truth)
    assert p["n_3s"] == sum(rr >= 3.0 for _, rr in truth)
    for found, (at, rr) in zip(p["pause_list"], truth, strict=True):
        assert found["at_s"] == pytest.approx(at, abs=0.05)
        assert found["rr_s"] == pytest.approx(rr, abs=0.05)
    assert p["longest"] is not None and p["longest"]["rr_s"] == pytest.approx(max(PAUSES), abs=0.05)


PAUSES = (2.4, 3.2, 3.6)


def test_bradycardia_episode(day: tuple[HolterDay, HolterResult]) -> None:
    d, result = day
    a, b = d.truth["brady"]
    brady = [e for e in result.report["rate_episodes"] if e["kind"] == "bradycardia"]
    assert len(brady) == 1
    e = brady[0]
    assert _overlap((e["start_s"], e["end_s"]), (a, b)) >= 0.8 * (b - a)
    assert e["extreme_bpm"] is not None and e["extreme_bpm"] <= 45
    hr = result.report["heart_rate"]
    assert hr["min_bpm"] is not None and 35 <= hr["min_bpm"] <= 45
    assert hr["min_at_s"] is not None and a <= hr["min_at_s"] <= b


def test_noisy_stretch_gives_no_figure(day: tuple[HolterDay, HolterResult]) -> None:
    d, result = day
    rep = result.report
    a, b = d.truth["noise"]
    assert rep["record"]["unusable_by_reason"].get("high_frequency_noise", 0) >= 0.9 * (b - a)
    assert rep["record"]["analysable_s"] <= rep["record"]["duration_s"] - 0.9 * (b - a)
    hr = rep["heart_rate"]
    for t, bpm in zip(hr["trend_t_s"], hr["trend_bpm"], strict=True):
        if a + 30 <= t and t + 60 <= b - 30:
            assert bpm is None
    assert all(not (a < p["at_s"] < b) for p in rep["pauses"]["pause_list"])
    for ectopy in (rep["ventricular"], rep["supraventricular"]):
        assert all(not (a < r["start_s"] < b) for r in ectopy["run_list"])


def test_json_strips_and_findings(day: tuple[HolterDay, HolterResult]) -> None:
    d, result = day
    rep = result.report
    doc = json.loads(report_json(rep))
    assert doc["schema"] == SCHEMA
    assert doc["record"]["start"] == "2026-01-05T08:00:00"
    assert doc["record"]["device"] == "simulated"
    ids = [s["id"] for s in rep["strips"]]
    assert len(ids) == len(set(ids)) == len(result.strips)
    assert {"af-first", "pause-longest", "heart_rate-min_hr", "heart_rate-max_hr"} <= set(ids)
    for s in rep["strips"]:
        sig = result.strips[s["id"]]
        assert 10.0 <= s["duration_s"] <= 30.0
        assert sig.samples.size == round(s["duration_s"] * sig.fs)
        assert np.all((sig.beat_s >= 0) & (sig.beat_s < s["duration_s"]))
        assert len(sig.beat_class) == sig.beat_s.size
    text = " | ".join(rep["findings"])
    assert "AF burden" in text and "VEBs" in text and "pauses ≥ 2 s" in text
    assert len(rep["hourly"]) == round(d.signal.size / d.fs / 3600)
    assert rep["hrv"]["sdnn_ms"] is not None and rep["hrv"]["segments"] >= 5
