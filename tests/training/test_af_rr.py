"""Training of the RR AF detector on synthetic records: folds by record, out-of-fold choice of
smoothing and threshold, a model that loads and separates the rhythms it saw."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from cardiostream.beats.af_rr import af_from_beats, load_rr_af_model
from cardiostream.evaluate.rr_af import BeatSeries, LtafRecord, features_of
from cardiostream.training.af_rr import FitConfig, train_rr_af


def _series(seed: int) -> BeatSeries:
    rng = np.random.default_rng(seed)
    sinus = 0.8 * (1 + 0.03 * np.sin(np.arange(600) / 0.7) + rng.normal(0, 0.01, 600))
    af = np.clip(rng.lognormal(np.log(0.6), 0.22, 600), 0.3, 1.6)
    rr = np.concatenate([sinus, af, sinus])
    t = np.cumsum(rr)
    label = np.r_[np.zeros(600), np.ones(600), np.zeros(600)].astype(np.int64)
    label[:5] = -1
    return BeatSeries(t, label, features_of(t))


def test_training_cross_validates_by_record_and_writes_a_model(tmp_path: Path) -> None:
    records = [LtafRecord(f"r{i}", _series(i), _series(100 + i)) for i in range(4)]
    steps: list[str] = []
    result = train_rr_af(
        records,
        folds=2,
        cfg=FitConfig(hidden=4, maxiter=40, stride=4, jitter_s=(0.01, 0.025)),
        progress=lambda stage, done, total: steps.append(stage),
    )
    report = result.report
    assert sorted(n for fold in report["folds"] for n in fold) == ["r0", "r1", "r2", "r3"]
    assert report["gross"]["atr"]["se"] > 90 and report["gross"]["atr"]["sp"] > 90
    assert {r["record"] for r in report["per_record"]} == {"r0", "r1", "r2", "r3"}
    assert set(result.oof) == {"r0", "r1", "r2", "r3"}
    assert "final model" in steps
    # The held-out records are scored again with noise on their beat times.
    assert [j["sigma_ms"] for j in report["jitter"]] == [10.0, 20.0, 30.0]
    labelled = sum(
        r["atr"]["tp"] + r["atr"]["fn"] + r["atr"]["fp"] + r["atr"]["tn"]
        for r in report["per_record"]
    )
    assert all(j["tp"] + j["fn"] + j["fp"] + j["tn"] == labelled for j in report["jitter"])
    # And as streams of 200 beats, on each one's first verdicts (beats 16-63): 9 streams of
    # 1,800 beats per record, 48 beats each, all labelled but the first stream's first five.
    assert [j["sigma_ms"] for j in report["start"]] == [0.0, 10.0, 20.0, 30.0]
    first = 4 * 9 * 48
    assert all(j["tp"] + j["fn"] + j["fp"] + j["tn"] == first for j in report["start"])
    assert report["config"]["jitter_ms"] == [10.0, 25.0]
    assert "restart_beats" not in report["config"]  # a model without restarts keeps its file
    path = result.model.save(tmp_path)
    model = load_rr_af_model(path)
    assert model.threshold == report["threshold"] and model.alpha == report["alpha"]
    out = af_from_beats(records[0].atr.time_s, model)
    assert out.af[700:1200].mean() > 0.9 and out.af[1300:].mean() < 0.1


def test_jittered_copies_teach_the_detector_a_pulse_sensors_timing() -> None:
    # The synthetic sinus rhythm varies by ~1 %; 20 ms of noise on each beat time makes its
    # successive differences as large as those of a slow AF.
    records = [LtafRecord(f"r{i}", _series(i), _series(100 + i)) for i in range(4)]

    def sp_at_20ms(jitter: tuple[float, ...]) -> float:
        cfg = FitConfig(hidden=4, maxiter=40, stride=4, jitter_s=jitter)
        report = train_rr_af(records, folds=2, cfg=cfg).report
        assert report["gross"]["atr"]["sp"] > 95
        (row,) = (j for j in report["jitter"] if j["sigma_ms"] == 20.0)
        assert row["se"] > 95
        return float(row["sp"])

    assert sp_at_20ms(()) < 80
    assert sp_at_20ms((0.01, 0.025)) > 95


def test_ectopic_copies_teach_the_detector_ectopy_from_af() -> None:
    # Premature beats make a regular rhythm's intervals as irregular as AF's; records that
    # never showed them leave the detector calling bigeminy and couplets AF.
    records = [LtafRecord(f"r{i}", _series(i), _series(100 + i)) for i in range(4)]

    def with_premature_beats(ectopy: int) -> dict[str, float]:
        cfg = FitConfig(hidden=4, maxiter=40, stride=4, ectopy=ectopy)
        report = train_rr_af(records, folds=2, cfg=cfg).report
        assert report["gross"]["atr"]["se"] > 90 and report["gross"]["atr"]["sp"] > 90
        assert report["config"].get("ectopy", 0) == ectopy
        return dict(report["ectopy"])

    without, with_ = with_premature_beats(0), with_premature_beats(1)
    assert with_["se"] > 95
    assert without["sp"] < 50
    assert with_["sp"] > without["sp"] + 30
