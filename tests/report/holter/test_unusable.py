"""A recording that is mostly or wholly unanalysable says so and gives null, not numbers."""

from __future__ import annotations

import numpy as np
import pytest

from cardiostream.errors import InputError
from cardiostream.record import Record
from cardiostream.report.holter import holter_report
from cardiostream.sim.ecgsyn import ecgsyn

FS = 250.0


def _noise(seconds: float, seed: int) -> np.ndarray:
    # Far below 0 dB: muscle-like broadband noise of 2 mV RMS.
    return 2.0 * np.random.default_rng(seed).standard_normal(round(seconds * FS))


def _record(x: np.ndarray) -> Record:
    return Record(signal=x.astype(np.float32)[:, None], fs=FS, leads=["ECG"], name="bad")


def test_mostly_unusable_recording_says_so() -> None:
    clean, _ = ecgsyn(300.0, FS, hr_bpm=70.0, seed=3)
    x = np.concatenate([clean, _noise(1500.0, 1)])  # 5 clean minutes of 30
    rep = holter_report(_record(x)).report
    rec = rep["record"]
    assert 240 <= rec["analysable_s"] <= 300
    assert rec["unusable_by_reason"]["high_frequency_noise"] >= 1400
    assert rep["findings"][0].startswith("Only 4 min of 30 min analysable")
    assert "high frequency noise" in rep["findings"][0]
    # The rate comes from the clean minutes only; the noisy ones have none.
    hr = rep["heart_rate"]
    assert hr["mean_bpm"] == pytest.approx(70, abs=3)
    assert hr["max_bpm"] is not None and hr["max_bpm"] <= 80
    assert all(v is None for t, v in zip(hr["trend_t_s"], hr["trend_bpm"], strict=True) if t >= 330)
    assert rep["ventricular"]["total"] == 0 and rep["pauses"]["n_2s"] == 0
    assert hr["total_beats"] <= 300 * 75 / 60


def test_wholly_unusable_recording_gives_null() -> None:
    rep = holter_report(_record(_noise(600.0, 2))).report
    assert rep["record"]["analysable_s"] == 0
    hr = rep["heart_rate"]
    assert hr["min_bpm"] is None and hr["mean_bpm"] is None and hr["max_bpm"] is None
    assert hr["total_beats"] == 0
    assert all(v is None for v in hr["trend_bpm"])
    assert rep["af"]["burden"] is None and rep["af"]["episodes"] == []
    h = rep["hrv"]
    assert h["n_nn"] == 0 and h["sdnn_ms"] is None and h["lf_hf"] is None
    row = rep["hourly"][0]
    assert row["analysable_s"] == 0 and row["af_burden"] is None and row["mean_bpm"] is None
    assert rep["strips"] == []
    assert rep["findings"][0].startswith("Only 0 s of 10 min analysable")
    assert len(rep["findings"]) == 1  # not even "no pause": nothing was seen


def test_too_short_recording_is_refused() -> None:
    clean, _ = ecgsyn(30.0, FS, seed=1)
    with pytest.raises(InputError, match="at least 60 s"):
        holter_report(_record(clean))
