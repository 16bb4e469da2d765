"""The quick look of ``cardiostream report``: heart rate and HRV from usable windows only."""

from __future__ import annotations

import math

import numpy as np

from cardiostream import read
from cardiostream.record import Record
from cardiostream.report.quicklook import quicklook, usable_beats
from cardiostream.samples import sample_path


def test_noise_gives_no_heart_rate_or_hrv() -> None:
    x = np.random.default_rng(0).normal(0.0, 1.0, 60 * 250)
    look = quicklook(Record(signal=x[:, None], fs=250.0, leads=["ECG"], name="noise"), rhythm=False)
    assert look.rpeaks.size > 50  # the detector finds "beats" in noise
    assert not any(w.usable for w in look.windows)
    measures = ("heart_rate_bpm", "mean_rr_ms", "sdnn_ms", "rmssd_ms", "pnn50")
    assert all(math.isnan(look.hrv[k]) for k in measures)
    assert look.hrv["n_intervals"] == 0


def test_clean_record_keeps_its_figures_and_drops_a_noisy_stretch() -> None:
    rec = read(sample_path("mitdb-100-nsr"))
    clean = quicklook(rec, rhythm=False)
    assert 60 < clean.hrv["heart_rate_bpm"] < 90
    x = rec.lead(0).astype(np.float64)
    noise = np.random.default_rng(0).normal(0.0, 1.0, x.size)
    joined = Record(signal=np.concatenate([x, noise])[:, None], fs=rec.fs, leads=["MLII"],
                    name="joined")  # fmt: skip
    mixed = quicklook(joined, rhythm=False)
    trusted = usable_beats(mixed.rpeaks, mixed.windows, x.size * 2, rec.fs)
    assert trusted.any() and not trusted[mixed.rpeaks >= x.size + 10 * rec.fs].any()
    assert abs(mixed.hrv["heart_rate_bpm"] - clean.hrv["heart_rate_bpm"]) < 2
