"""The window head: the features of one frame's 10 s, and the fitted head's calibrated output."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("threadpoolctl", reason="fitting a head needs the train extra")

from cardiostream.rhythm.record_head import RR_FEATURES
from cardiostream.rhythm.window_head import (
    BEAT_DELAY,
    LOG_P_FLOOR,
    WINDOW_FEATURES,
    WindowHead,
    confirmed_peaks,
    record_window_features,
    window_features,
    window_rows_at,
)
from cardiostream.training.record_head_fit import fit_head


def _beats(rr_s: np.ndarray, fs: float = 250.0, n: int = 15000) -> tuple[np.ndarray, np.ndarray]:
    """A synthetic conditioned ECG (narrow QRS, a P wave 160 ms before) and its R peaks."""
    peaks = np.round(np.cumsum(rr_s) * fs).astype(np.int64)
    peaks = peaks[peaks < n - 30]
    t = np.arange(n)
    ecg = np.zeros(n)
    for r in peaks:
        ecg += np.exp(-0.5 * ((t - r) / 4.0) ** 2) + 0.15 * np.exp(-0.5 * ((t - r + 40) / 8.0) ** 2)
    return ecg, peaks


def test_confirmed_peaks_leave_out_the_last_second_and_what_came_before() -> None:
    peaks = np.array([100, 2000, 2600, 4000, 4849, 4850, 4900])
    lo, rel = confirmed_peaks(peaks, 5100)
    assert lo == 2600
    # 4850 is exactly BEAT_DELAY before the end: the detector has not reported it yet.
    assert BEAT_DELAY == 5100 - 4850
    assert rel.tolist() == [0, 1400, 2249]
    lo, rel = confirmed_peaks(peaks, 1500)  # a young stream: its 10 s start at 0
    assert lo == 0 and rel.tolist() == [100]


def test_features_of_a_regular_rhythm() -> None:
    ecg, peaks = _beats(np.full(20, 0.8))
    lo, rel = confirmed_peaks(peaks, 2500)
    f = window_features([2.0, -1.0, 0.0, -40.0], ecg[lo:2500], rel)
    assert f.shape == (len(WINDOW_FEATURES),) and np.isfinite(f).all()
    named = dict(zip(WINDOW_FEATURES, f, strict=True))
    # The frame's log-softmax, floored at a probability of 1e-7.
    assert np.exp([named[f"log_p_{c}"] for c in ("normal", "af", "other")]).sum() <= 1.0
    assert named["log_p_noise"] == LOG_P_FLOOR
    assert named["rr_cv"] == pytest.approx(0.0, abs=1e-9)
    assert named["log_median_rr"] == pytest.approx(np.log(0.8), abs=0.01)
    assert named["qrs_corr"] > 0.99 and named["p_corr"] > 0.9
    assert "log_duration" not in WINDOW_FEATURES and "few_beats" in RR_FEATURES


def test_an_irregular_rhythm_differs() -> None:
    rng = np.random.default_rng(0)
    ecg, peaks = _beats(rng.uniform(0.4, 1.1, 30))
    lo, rel = confirmed_peaks(peaks, 2500)
    named = dict(zip(WINDOW_FEATURES, window_features(np.zeros(4), ecg[lo:2500], rel), strict=True))
    assert named["rr_cv"] > 0.15 and named["pnn50"] > 0.5


def test_record_rows_are_the_frames_features() -> None:
    ecg, peaks = _beats(np.full(20, 0.75))
    logits = np.random.default_rng(1).normal(size=(4, 60))
    at = np.array([9, 12, 59])
    rows = record_window_features(logits, ecg, peaks, at)
    for row, j in zip(rows, at, strict=True):
        end = 250 * (j + 1)
        lo, rel = confirmed_peaks(peaks, end)
        np.testing.assert_array_equal(row, window_features(logits[:, j], ecg[lo:end], rel))


def test_fitted_head_round_trips_and_refuses_other_features() -> None:
    rng = np.random.default_rng(2)
    x = rng.normal(size=(400, len(WINDOW_FEATURES)))
    y = (x[:, 0] > 0).astype(np.int64) + 2 * (x[:, 1] > 1)
    head = fit_head(x, y, 1e-2, names=WINDOW_FEATURES)
    data = {**head.to_dict(), "temperature": 2.0, "threshold": 0.6}
    window = WindowHead(data)
    lp = window.log_probabilities(x[:5])
    np.testing.assert_allclose(np.exp(lp).sum(1), 1.0)
    np.testing.assert_allclose(
        lp,
        head.logits(x[:5]) / 2.0 - np.log(np.exp(head.logits(x[:5]) / 2.0).sum(1, keepdims=True)),
    )
    assert window.threshold == 0.6
    with pytest.raises(ValueError, match="features differ"):
        WindowHead({**data, "features": data["features"][:-1]})
    with pytest.raises(ValueError, match="names"):
        fit_head(x[:, :-1], y, 1e-2, names=WINDOW_FEATURES)


@pytest.mark.parametrize("with_trees", [False, True])
def test_one_call_verdicts_equal_features_then_head(with_trees: bool) -> None:
    rng = np.random.default_rng(3)
    x = rng.normal(size=(300, len(WINDOW_FEATURES)))
    y = rng.integers(0, 4, 300)
    head = fit_head(x, y, 1e-2, names=WINDOW_FEATURES)
    trees = None
    if with_trees:
        pytest.importorskip("sklearn", reason="fitting trees needs the train extra")
        from cardiostream.training.record_trees_fit import WINDOW_PARAMS, fit_trees

        params = {**WINDOW_PARAMS, "max_iter": 5, "min_samples_leaf": 5}
        trees = fit_trees(x, y, names=WINDOW_FEATURES, params=params).to_dict()
    window = WindowHead({**head.to_dict(), "temperature": 1.5, "threshold": 0.6}, trees)
    ecg, peaks = _beats(rng.uniform(0.5, 1.0, 40))
    ecg32 = ecg.astype(np.float32)
    logits = rng.normal(size=(20, 4)).astype(np.float32)
    ends = 250 * (np.arange(9, 29) + 1)
    want = window.log_probabilities(window_rows_at(logits, ecg32, 0, peaks, ends))
    np.testing.assert_allclose(window.verdicts(logits, ecg32, 0, peaks, ends), want, atol=1e-12)
    # From a later origin (a stream keeps only the last 10 s), the same values.
    origin = ends[5] - 2500
    got = window.verdicts(logits[5:], ecg32[origin:], origin, peaks, ends[5:])
    np.testing.assert_array_equal(got, window.verdicts(logits[5:], ecg32, 0, peaks, ends[5:]))
    with pytest.raises(ValueError, match="does not cover"):
        window.verdicts(logits, ecg32[origin:], origin, peaks, ends)


def test_trees_move_the_verdict_by_their_blend() -> None:
    pytest.importorskip("sklearn", reason="fitting trees needs the train extra")
    from cardiostream.rhythm.record_trees import blend
    from cardiostream.training.record_trees_fit import WINDOW_PARAMS, fit_trees

    rng = np.random.default_rng(4)
    x = rng.normal(size=(400, len(WINDOW_FEATURES)))
    # A class the trees can cut on one input where the head's single layer draws a plane.
    y = np.where(np.abs(x[:, 5]) > 1.0, 1, rng.choice([0, 2, 3], 400))
    head = fit_head(x, y, 1e-2, names=WINDOW_FEATURES).to_dict()
    params = {**WINDOW_PARAMS, "max_iter": 20, "min_samples_leaf": 10}
    trees = fit_trees(x, y, names=WINDOW_FEATURES, params=params)
    alone = WindowHead({**head, "temperature": 1.0, "threshold": 0.6})
    both = WindowHead({**head, "temperature": 1.0, "threshold": 0.6}, trees.to_dict())
    want = blend(alone.head.logits(x), trees.log_probabilities(x))
    want -= np.log(np.exp(want).sum(1, keepdims=True))
    np.testing.assert_allclose(both.log_probabilities(x), want, atol=1e-12)
    assert (both.log_probabilities(x).argmax(1) == y).mean() > (
        alone.log_probabilities(x).argmax(1) == y
    ).mean()
    with pytest.raises(ValueError, match="features differ"):
        WindowHead({**head, "threshold": 0.6}, {**trees.to_dict(), "features": ["a"]})
