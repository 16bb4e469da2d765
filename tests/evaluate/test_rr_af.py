"""Scoring of AF from beat times: labels from rhythm changes, beat counts, the report."""

from __future__ import annotations

import numpy as np

from cardiostream.evaluate.rr_af import (
    BeatSeries,
    features_of,
    gross,
    jittered,
    rhythm_labels,
    scores,
    start_scores,
    to_markdown,
)


def test_rhythm_labels_follow_the_changes() -> None:
    change = np.array([10.0, 20.0, 30.0])
    labels = rhythm_labels(change, ["(N", "(AFIB", "(AFL"], np.array([5.0, 15.0, 25.0, 35.0]))
    assert labels.tolist() == [-1, 0, 1, -1]


def test_scores_and_gross() -> None:
    label = np.array([1, 1, 0, 0, -1])
    s = scores(label, np.array([True, False, True, False, True]))
    assert (s["tp"], s["fn"], s["fp"], s["tn"]) == (1, 1, 1, 1)
    assert s["se"] == 50.0 and s["sp"] == 50.0 and s["ppv"] == 50.0
    g = gross([s, scores(np.array([0, 0]), np.array([False, False]))])
    assert g["tn"] == 3 and g["sp"] == 75.0
    assert scores(np.array([0]), np.array([False]))["se"] is None


def test_jittered_beats_keep_order_labels_and_the_noise_asked_for() -> None:
    t = np.cumsum(np.full(2000, 0.8))
    label = (np.arange(2000) >= 1000).astype(np.int64)
    noisy = jittered(BeatSeries(t, label, features_of(t)), 0.02, np.random.default_rng(0))
    assert np.all(np.diff(noisy.time_s) > 0)
    assert 0.018 < float(np.std(noisy.time_s - t)) < 0.022
    assert noisy.label.tolist() == label.tolist()
    assert noisy.features.shape == (2000, features_of(t[:20]).shape[1])
    # A regular rhythm's successive differences are those of the noise alone.
    assert 0.02 < float(np.std(np.diff(noisy.time_s, 2))) < 0.06


def test_features_can_restart_as_a_new_stream_would() -> None:
    t = np.cumsum(np.random.default_rng(3).uniform(0.4, 1.1, 2500))
    whole, restarted = features_of(t), features_of(t, restart_beats=1000)
    assert restarted.shape == whole.shape
    for start in (0, 1000, 2000):
        part = features_of(t[start : start + 1000])
        np.testing.assert_array_equal(restarted[start : start + part.shape[0]], part)
        assert np.isnan(restarted[start : start + 16]).all()  # too few intervals yet
    np.testing.assert_array_equal(restarted[:1000], whole[:1000])
    assert not np.array_equal(restarted[1000:1064], whole[1000:1064])  # short windows again
    noisy = jittered(BeatSeries(t, np.zeros(t.size, np.int64), whole), 0.02,
                     np.random.default_rng(0), restart_beats=1000)  # fmt: skip
    assert np.isnan(noisy.features[1000:1016]).all() and np.isfinite(noisy.features[1016]).all()


def _score(se: float, sp: float) -> dict[str, object]:
    return {"tp": 9, "fn": 1, "fp": 1, "tn": 2000, "se": se, "sp": sp, "ppv": 90.0}


def test_the_report_has_every_table() -> None:
    rec = {"atr": {**_score(90.0, 99.0), "beats": 2011, "af_beats": 10}}
    rec["qrs"] = rec["atr"]
    cv = {
        "gross": {"atr": _score(98.0, 98.0), "qrs": _score(97.0, 97.0)},
        "per_record": [{"record": "00", **rec}],
        "config": {"folds": 5, "seed": 0},
        "alpha": 0.05,
        "threshold": 0.7,
    }
    row = {
        **_score(95.0, 96.0),
        "beats": 2011,
        "af_beats": 10,
        "called_af_s": 40.0,
        "af_s": 30.0,
    }
    mitdb = {
        "per_record": [{"record": "201", "reference": row, "detected": row}],
        "gross": {
            k: _score(95.0, 96.0)
            for k in ("reference", "detected", "reference_afl_left_out", "detected_afl_left_out")
        },
        "record_level": {
            k: {
                "af_records": 1,
                "found": 1,
                "false_records": [],
                "other_records": 0,
                "called_other": 0,
            }
            for k in ("reference", "detected")
        },
    }
    speed = {
        "records": ["00"],
        "beats": 100000,
        "signal_s": 86400.0,
        "beats_per_s": 200000.0,
        "x_real_time": 170000.0,
        "live_chunk_beats": 1,
        "live_us_per_push": 12.0,
        "live_x_real_time": 60000.0,
    }
    text = to_markdown(cv, mitdb, speed)
    for part in ("## Summary", "## LTAFDB cross-validation", "## MITDB, external test", "Petrėnas"):
        assert part in text
    assert "pulse sensor" not in text  # no jitter figures, no table
    cv["jitter"] = [{**_score(97.0, 93.0), "sigma_ms": 20.0}]
    mitdb["gross"]["reference_jitter"] = [{**_score(94.0, 91.0), "sigma_ms": 20.0}]
    text = to_markdown(cv, mitdb, speed)
    assert "## Beat times from a pulse sensor" in text and "pulse model, MITDB" not in text
    assert "| 0 (as annotated) | 98.0 | 98.0 | 95.0 | 96.0 |\n" in text
    assert "| 20 | 97.0 | 93.0 | 94.0 | 91.0 |\n" in text
    # The pulse model's figures beside the ECG model's, and in the summary.
    pulse_cv = {**cv, "jitter": [{**_score(98.5, 97.5), "sigma_ms": 20.0}]}
    pulse_cv["config"] = {"folds": 5, "seed": 0, "jitter_ms": [10.0, 25.0]}
    pulse = {"cv": pulse_cv, "mitdb": mitdb}
    text = to_markdown(cv, mitdb, speed, pulse)
    assert "10 and 25 ms of noise)" in text and "the pulse model, MITDB, reference beats" in text
    pulse_cv["config"]["restart_beats"] = 1000
    text = to_markdown(cv, mitdb, speed, pulse)
    assert "10 and 25 ms of noise, each starting afresh every 1,000 beats)" in text
    assert 'the ECG model (`timing="ecg"`, trained on the beats as annotated)' in text
    cv["config"] = {**cv["config"], "jitter_ms": [0.0], "restart_beats": 1000}
    text = to_markdown(cv, mitdb, speed, pulse)
    assert (
        'the ECG model (`timing="ecg"`, trained with a copy of each record\'s reviewed beats, '
        "starting afresh every 1,000 beats)" in text
    )
    assert "| 20 | 97.0 | 93.0 | 94.0 | 91.0 | 98.5 | 97.5 | 94.0 | 91.0 |" in text
    pulse_cv["config"]["hidden"] = 24
    text = to_markdown(cv, mitdb, speed, pulse)
    assert '(`timing="pulse"`, 24 hidden units, trained with copies' in text
    assert "| 201 |" in text and "| 00 |" in text and "**gross**" in text
    assert "## A stream's first beats" not in text
    mitdb["gross"]["reference_start"] = [
        {**_score(96.0, 89.6), "sigma_ms": 0.0},
        {**_score(96.1, 67.1), "sigma_ms": 20.0},
    ]
    pulse_mitdb = {**mitdb, "gross": {**mitdb["gross"]}}
    pulse_mitdb["gross"]["reference_start"] = [{**_score(93.1, 87.9), "sigma_ms": 20.0}]
    text = to_markdown(cv, mitdb, speed, {"cv": pulse_cv, "mitdb": pulse_mitdb})
    assert "## A stream's first beats" in text
    assert "| 0 (as annotated) | – | – | 96.0 | 89.6 | – | – | – | – |\n" in text
    assert "| 20 | – | – | 96.1 | 67.1 | – | – | 93.1 | 87.9 |\n" in text
    # With the out-of-fold LTAFDB figures of the training reports beside them.
    cv["start"] = [{**_score(97.0, 93.0), "sigma_ms": 0.0}]
    pulse_cv["start"] = [{**_score(95.0, 94.0), "sigma_ms": 20.0}]
    text = to_markdown(cv, mitdb, speed, {"cv": pulse_cv, "mitdb": pulse_mitdb})
    assert "| 0 (as annotated) | 97.0 | 93.0 | 96.0 | 89.6 | – | – | – | – |\n" in text
    assert "| 20 | – | – | 96.1 | 67.1 | 95.0 | 94.0 | 93.1 | 87.9 |\n" in text


def test_training_scores_a_streams_start_as_the_benchmark_does() -> None:
    """The out-of-fold measure (logits of restarted features, smoothed afresh in each stream)
    equals the benchmark's (the detector run on each stream)."""
    from cardiostream.beats.af_rr import load_rr_af_model
    from cardiostream.evaluate.rr_af import START_EVERY
    from cardiostream.training.af_rr import start_scores as training_start_scores

    rng = np.random.default_rng(8)
    rr = np.where(np.arange(900) % 300 < 150, rng.uniform(0.4, 1.2, 900), 0.8)
    t = np.cumsum(rr + rng.normal(0, 0.01, 900))
    label = (np.arange(900) % 300 < 150).astype(np.int64)
    label[:5] = -1
    model = load_rr_af_model()
    logit = model.logits(features_of(t, START_EVERY))
    ours = training_start_scores(logit, label, model.alpha, model.threshold)
    theirs = start_scores(t, label, model)
    assert ours == theirs and ours["tp"] + ours["fn"] > 0 and ours["fp"] + ours["tn"] > 0


def test_start_scores_judge_each_stream_afresh_on_its_first_verdicts() -> None:
    """Beats 16-63 of every 200 are scored, each block judged as a new stream: AF throughout
    gives AF there, and a block whose AF ended just before scores its sinus as a new stream
    would (without the carried memory a whole-series detector has)."""
    rng = np.random.default_rng(5)
    af_rr = rng.uniform(0.4, 1.2, 600)
    t = np.cumsum(af_rr)
    label = np.ones(t.size, np.int64)
    s = start_scores(t, label)
    assert s["tp"] + s["fn"] == 3 * 48 and s["fp"] + s["tn"] == 0
    assert s["se"] > 90.0
    sinus = np.cumsum(0.8 + 0.02 * np.sin(np.arange(600) / 2.0))
    s = start_scores(sinus, np.zeros(600, np.int64))
    assert s["fp"] + s["tn"] == 3 * 48 and s["fp"] == 0
