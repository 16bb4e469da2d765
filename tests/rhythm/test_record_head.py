"""The record head: its RR evidence, its fit, its storage and its use by RhythmModel."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from scipy.special import log_softmax

from cardiostream.rhythm._beat_kernels import head_hidden, head_nll
from cardiostream.rhythm.record_head import (
    BEAT_FEATURES,
    ENTROPY_TOLERANCE,
    FEATURES,
    HIDDEN,
    MORPHOLOGY_FEATURES,
    RR_FEATURES,
    SEQUENCE_FEATURES,
    RecordHead,
    beat_class_features,
    entropy_features,
    frame_features,
    morphology_features,
    record_features,
    rr_features,
)
from cardiostream.training.record_head_fit import cross_fit, fit_head

FS = 250.0


def _peaks(rr_s: np.ndarray) -> np.ndarray:
    return np.round(np.concatenate([[0.5], 0.5 + np.cumsum(rr_s)]) * FS).astype(np.int64)


def _feature(values: np.ndarray, name: str) -> float:
    return float(values[RR_FEATURES.index(name)])


def test_rr_evidence_tells_regular_irregular_and_bigeminal_rhythms_apart() -> None:
    rng = np.random.default_rng(0)
    regular = rr_features(_peaks(np.full(40, 0.8) + rng.normal(0, 0.01, 40)), FS, 34)
    af = rr_features(_peaks(rng.uniform(0.4, 1.0, 50)), FS, 36)
    bigeminy = rr_features(_peaks(np.tile([0.5, 1.0], 20)), FS, 31)
    assert _feature(regular, "rr_cv") < 0.03 < 0.2 < _feature(af, "rr_cv")
    assert _feature(regular, "pnn50") < 0.1 < 0.5 < _feature(af, "pnn50")
    # Alternation: strongly negative lag-1 and positive lag-2 correlation; AF has neither.
    assert _feature(bigeminy, "lag1_corr") < -0.9
    assert _feature(bigeminy, "lag2_corr") > 0.9
    assert abs(_feature(af, "lag1_corr")) < 0.4
    assert _feature(regular, "log_median_rr") == pytest.approx(np.log(0.8), abs=0.02)
    assert _feature(regular, "few_beats") == 0.0


def test_rr_evidence_of_a_record_without_beats_is_neutral_and_flagged() -> None:
    values = rr_features(np.array([100, 400]), FS, 12)
    assert np.all(np.isfinite(values))
    assert _feature(values, "few_beats") == 1.0
    assert _feature(values, "log_duration") == pytest.approx(np.log(12))


def test_frame_evidence_is_log_mean_max_and_share() -> None:
    p = np.array([[0.7, 0.1, 0.1, 0.1], [0.1, 0.8, 0.05, 0.05], [0.6, 0.2, 0.1, 0.1]])
    values = frame_features(p)
    np.testing.assert_allclose(values[:4], np.log(p.mean(0)))
    np.testing.assert_allclose(values[4:8], p.max(0))
    np.testing.assert_allclose(values[8:], [2 / 3, 1 / 3, 0, 0])
    with pytest.raises(ValueError, match="no frames"):
        frame_features(np.zeros((0, 4)))
    peaks = _peaks(np.full(20, 0.8))
    ecg = np.zeros(int(17 * FS))
    beats = np.zeros(len(BEAT_FEATURES))
    sequence = np.arange(len(SEQUENCE_FEATURES), dtype=float)
    values = record_features(p, peaks, FS, 17, ecg, beats, sequence)
    assert values.size == len(FEATURES)
    assert values[-len(SEQUENCE_FEATURES) :].tolist() == sequence.tolist()


def _beats(
    peaks: np.ndarray, n: int, p_wave: bool, odd: set[int], rng: np.random.Generator
) -> np.ndarray:
    """A synthetic ECG: a narrow QRS at each peak (a wide, inverted one for the ``odd``
    beats), a P wave 160 ms before it when asked, else fibrillatory waves, and a little noise."""
    t = np.arange(n) / FS
    x = rng.normal(0, 0.01, n)
    if not p_wave:
        x += 0.05 * np.sin(2 * np.pi * 6.3 * t + rng.uniform(0, 6)) * (1 + 0.5 * np.sin(t))
    for i, r in enumerate(peaks / FS):
        if i in odd:
            x += -0.8 * np.exp(-(((t - r) / 0.04) ** 2))
        else:
            x += np.exp(-(((t - r) / 0.012) ** 2))
        if p_wave:
            x += 0.12 * np.exp(-(((t - r + 0.16) / 0.025) ** 2))
    return x


def _morph(values: np.ndarray, name: str) -> float:
    return float(values[MORPHOLOGY_FEATURES.index(name)])


def test_shape_evidence_sees_p_waves_and_odd_beats() -> None:
    rng = np.random.default_rng(1)
    peaks = _peaks(rng.uniform(0.55, 1.0, 30))
    n = int(peaks[-1] + FS)
    sinus = morphology_features(_beats(peaks, n, True, set(), rng), peaks, FS)
    af = morphology_features(_beats(peaks, n, False, set(), rng), peaks, FS)
    ectopic = morphology_features(_beats(peaks, n, True, {3, 9, 15, 21}, rng), peaks, FS)
    assert _morph(sinus, "p_corr") > 0.9 > 0.5 > _morph(af, "p_corr")
    assert _morph(sinus, "p_share") > 0.9 > 0.5 > _morph(af, "p_share")
    assert _morph(sinus, "log_p_snr") > _morph(af, "log_p_snr") + 2
    assert _morph(sinus, "log_p_qrs") > _morph(af, "log_p_qrs")
    assert _morph(sinus, "qrs_odd_share") == 0.0
    assert _morph(ectopic, "qrs_odd_share") == pytest.approx(4 / len(peaks), abs=0.01)
    assert _morph(af, "qrs_corr") > 0.95


def test_shape_evidence_without_beats_is_zero() -> None:
    assert not morphology_features(np.zeros(3000), np.array([100, 400, 700]), FS).any()
    assert not morphology_features(np.zeros(100), np.array([], np.int64), FS).any()


def _toy(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Four classes that a line cannot separate: the class is the quadrant of two features."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, len(FEATURES)))
    y = (x[:, 0] > 0).astype(np.int64) + 2 * (x[:, 0] * x[:, 1] > 0)
    return x, y


def test_the_head_learns_a_non_linear_rule_and_generalises() -> None:
    x, y = _toy(1200, 0)
    head = fit_head(x, y, l2=1e-4)
    x_new, y_new = _toy(600, 1)
    accuracy = float((head.logits(x_new).argmax(1) == y_new).mean())
    assert accuracy > 0.85  # chance is 0.25; a linear head stays near 0.5 on the XOR part


def test_cross_fit_predicts_each_fold_from_the_others() -> None:
    x, y = _toy(600, 2)
    folds = np.arange(600) % 3
    oof, l2 = cross_fit(x, y, folds, l2_grid=(1e-4, 1e-1))
    assert oof.shape == (600, 4)
    assert l2 == 1e-4  # the toy rule is clean: the weaker penalty fits it better
    assert float((oof.argmax(1) == y).mean()) > 0.75


def _cosen_by_definition(rr: np.ndarray, r: float) -> float:
    pairs = [(i, j) for i in range(rr.size - 1) for j in range(i + 1, rr.size - 1)]
    b = sum(abs(rr[i] - rr[j]) <= r for i, j in pairs)
    a = sum(abs(rr[i] - rr[j]) <= r and abs(rr[i + 1] - rr[j + 1]) <= r for i, j in pairs)
    return float(-np.log((a + 0.5) / (b + 0.5)) + np.log(2 * r / rr.mean()))


def test_cosen_matches_its_definition_and_tells_af_from_ectopy() -> None:
    rng = np.random.default_rng(6)
    af = rng.uniform(0.4, 1.1, 40)
    bigeminy = np.tile([0.55, 0.95], 20) + rng.normal(0, 0.005, 40)
    for rr in (af, bigeminy):
        (value,) = entropy_features(_peaks(rr), FS)
        # The peaks round to samples: the intervals the feature sees.
        seen = np.diff(_peaks(rr)) / FS
        assert value == pytest.approx(_cosen_by_definition(seen, ENTROPY_TOLERANCE), abs=1e-12)
    # Ectopy repeats its pattern, AF does not.
    assert entropy_features(_peaks(af), FS)[0] > entropy_features(_peaks(bigeminy), FS)[0] + 1
    assert not entropy_features(_peaks(np.full(4, 0.8)), FS).any()


def test_cross_fit_in_worker_processes_gives_the_same_result() -> None:
    x, y = _toy(300, 4)
    folds = np.arange(300) % 3
    done: list[tuple[int, int]] = []
    one = cross_fit(x, y, folds, l2_grid=(1e-3, 1e-1))
    two = cross_fit(x, y, folds, l2_grid=(1e-3, 1e-1), workers=2, step=lambda *a: done.append(a))
    np.testing.assert_array_equal(one[0], two[0])
    assert one[1] == two[1]
    # Three outer and three inner splits, two penalties each.
    assert done == [(i, 12) for i in range(1, 13)]


def test_fitting_loss_and_gradient_match_numpy() -> None:
    rng = np.random.default_rng(5)
    n, d, h = 50, 6, HIDDEN
    z = rng.normal(size=(n, d))
    y = rng.integers(0, 4, n)
    w1, b1 = rng.normal(size=(d, h)), rng.normal(size=h)
    w2, b2 = rng.normal(size=(h, 4)), rng.normal(size=4)
    a = np.empty((n, h))
    head_hidden(z, w1, b1, a)
    np.testing.assert_allclose(a, z @ w1 + b1, rtol=1e-12)
    np.tanh(a, out=a)
    grads = (np.empty((d, h)), np.empty(h), np.empty((4, h)), np.empty(4))
    nll = head_nll(z, y, a, np.ascontiguousarray(w2.T), b2, grads)
    lp = log_softmax(a @ w2 + b2, axis=1)
    assert nll == pytest.approx(-lp[np.arange(n), y].mean(), rel=1e-12)
    err = (np.exp(lp) - np.eye(4)[y]) / n
    back = (err @ w2.T) * (1 - a * a)
    for got, want in zip(grads, (z.T @ back, back.sum(0), (a.T @ err).T, err.sum(0)), strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-14)
    # And the gradient is the loss's: a finite difference along one weight of w1.
    step = 1e-6
    w1[2, 3] += step
    head_hidden(z, w1, b1, a)
    np.tanh(a, out=a)
    spare = tuple(np.empty_like(g) for g in grads)
    moved = head_nll(z, y, a, np.ascontiguousarray(w2.T), b2, spare)
    assert (moved - nll) / step == pytest.approx(grads[0][2, 3], rel=1e-4, abs=1e-9)


def test_head_round_trips_through_json_and_refuses_other_features() -> None:
    x, y = _toy(300, 3)
    head = fit_head(x, y, l2=1e-3)
    data = json.loads(json.dumps(head.to_dict()))
    again = RecordHead.from_dict(data)
    np.testing.assert_allclose(again.logits(x[:5]), head.logits(x[:5]))
    data["features"] = data["features"][:-1]
    with pytest.raises(ValueError, match="features differ"):
        RecordHead.from_dict(data)
    with pytest.raises(ValueError, match="expected"):
        head.logits(np.zeros((1, 3)))


def test_rhythm_model_uses_a_head_from_model_json(tmp_path: Path) -> None:
    from cardiostream import read, samples
    from cardiostream.rhythm.bundle import weights_dir
    from cardiostream.rhythm.infer import RhythmModel

    folder = tmp_path / "model"
    shutil.copytree(weights_dir(), folder)
    meta = json.loads((folder / "model.json").read_text())
    meta.pop("record_head", None)
    meta.pop("record_trees", None)  # they blend into a head's verdict and need one
    (folder / "model.json").write_text(json.dumps(meta))
    record = read(samples.sample_path("mitdb-201-af"))
    plain = RhythmModel(folder).predict(record.lead(0), record.fs)

    # A head that always says "noise" with certainty must take over the record verdict.
    d = len(FEATURES)
    head = RecordHead(
        np.zeros(d), np.ones(d), np.zeros((d, 2)), np.zeros(2),
        np.zeros((2, 4)), np.array([0.0, 0.0, 0.0, 20.0]), 1e-3,
    )  # fmt: skip
    meta["record_head"] = {**head.to_dict(), "temperature": 1.0, "threshold": 0.5}
    (folder / "model.json").write_text(json.dumps(meta))
    model = RhythmModel(folder)
    with_head = model.predict(record.lead(0), record.fs)
    assert model.head is not None
    assert with_head.raw_label == "noise"
    assert with_head.probabilities["noise"] > 0.99
    assert plain.raw_label == "af"
    assert sum(with_head.probabilities.values()) == pytest.approx(1.0)


def test_beat_class_evidence() -> None:
    labels = np.array(list("NNVNSSSNNQV"))
    reasons = np.array([""] * 9 + ["flat", ""])
    p = np.full((labels.size, 5), 0.1)
    p[np.arange(labels.size), 0] = [0.9, 0.9, 0.5, 0.9, 0.7, 0.7, 0.7, 0.9, 0.9, 0.2, 0.6]
    values = dict(zip(BEAT_FEATURES, beat_class_features(labels, p, reasons), strict=True))
    # Ten beats judged (the gated Q is not): two V, three S, no F.
    assert values["v_share"] == pytest.approx(2 / 10)
    assert values["s_share"] == pytest.approx(3 / 10)
    assert values["f_share"] == 0
    assert values["gated_share"] == pytest.approx(1 / 11)
    judged = np.r_[np.arange(9), 10]
    assert values["beat_confidence"] == pytest.approx(p[judged].max(1).mean())
    assert values["longest_s_run"] == pytest.approx(0.3)
    assert values["longest_v_run"] == pytest.approx(0.1)
    # A run longer than the cap counts as the cap.
    long_run = beat_class_features(np.array(["S"] * 25), np.full((25, 5), 0.2), np.full(25, ""))
    assert long_run[BEAT_FEATURES.index("longest_s_run")] == 1.0
    empty = beat_class_features(np.array([], str), np.zeros((0, 5)), np.array([], str))
    np.testing.assert_array_equal(empty, [0, 0, 0, 1, 1, 0, 0])
