"""The compiled beat statistics agree with a plain numpy statement of the same definitions."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pytest

from cardiostream.io import read
from cardiostream.rhythm.infer import prepare_record
from cardiostream.rhythm.record_head import (
    P_MIN_RR,
    P_WINDOW,
    QRS_WINDOW,
    RR_FEATURES,
    RR_RANGE,
    morphology_features,
    rr_features,
)
from cardiostream.samples import sample_path

F = npt.NDArray[np.float64]


def _corr(a: F, b: F) -> float:
    sa, sb = a.std(), b.std()
    if a.size < 3 or sa < 1e-9 or sb < 1e-9:
        return 0.0
    return float(np.mean((a - a.mean()) * (b - b.mean())) / (sa * sb))


def _reference_rr(p: npt.NDArray[np.int64], fs: float, duration: float) -> F:
    rr = np.clip(np.diff(p) / fs, *RR_RANGE)
    med = float(np.median(rr))
    drr = np.diff(rr)
    dev = rr - med
    sd1 = np.std(drr) / np.sqrt(2)
    sd2 = np.sqrt(max(2 * float(np.var(rr)) - float(np.var(drr)) / 2, 1e-12))
    values = {
        "log_median_rr": np.log(med),
        "rr_cv": rr.std() / rr.mean(),
        "rmssd_rel": np.sqrt(np.mean(drr**2)) / med,
        "median_drr_rel": np.median(np.abs(drr)) / med,
        "pnn50": np.mean(np.abs(drr) > 0.05),
        "outlier_share": np.mean(np.abs(dev) > 0.2 * med),
        "sd1_sd2": min(sd1 / sd2, 3.0),
        "log_max_rr_rel": np.log(rr.max() / med),
        "log_min_rr_rel": np.log(rr.min() / med),
        "lag1_corr": _corr(dev[:-1], dev[1:]),
        "lag2_corr": _corr(dev[:-2], dev[2:]),
        "beats_per_rr": min(p.size * med / duration, 3.0),
        "log_duration": np.log(duration),
        "few_beats": 0.0,
    }
    return np.array([values[name] for name in RR_FEATURES])


def _corr_with(rows: F, template: F) -> F:
    a = rows - rows.mean(1, keepdims=True)
    b = template - template.mean()
    return np.asarray(a @ b / (np.sqrt((a * a).sum(1) * (b * b).sum()) + 1e-12))


def _segments(x: F, at: npt.NDArray[np.int64], before: int, after: int) -> F:
    keep = at[(at - before >= 0) & (at + after <= x.size)]
    if keep.size == 0:
        return np.zeros((0, before + after))
    return np.stack([x[i - before : i + after] for i in keep])


def _reference_morphology(x: F, p: npt.NDArray[np.int64], fs: float) -> F:
    out = np.zeros(6)
    q = _segments(x, p, round(QRS_WINDOW[0] * fs), round(QRS_WINDOW[1] * fs))
    if q.shape[0] < 4:
        return out
    q_template = np.median(q, 0)
    q_corr = _corr_with(q, q_template)
    out[0], out[1] = np.median(q_corr), np.mean(q_corr < 0.8)
    after_long = p[1:][np.diff(p) >= P_MIN_RR * fs]
    start, end = round(P_WINDOW[0] * fs), round(P_WINDOW[1] * fs)
    w = _segments(x, after_long, start, 0)[:, : start - end]
    if w.shape[0] < 4:
        return out
    w = w - w.mean(1, keepdims=True)
    p_template = np.median(w, 0)
    p_corr = _corr_with(w, p_template)
    out[2], out[3] = np.median(p_corr), np.mean(p_corr > 0.5)
    out[4] = np.log(p_template.std() / (q_template.std() + 1e-9) + 1e-4)
    out[5] = np.log(p_template.var() / ((w - p_template).var() + 1e-12) + 1e-4)
    return out


@pytest.mark.parametrize("name", ["mitdb-201-af", "mitdb-119-pvc", "cinc2017-A00020"])
def test_kernels_match_the_numpy_definitions_on_real_beats(name: str) -> None:
    record = read(sample_path(name))
    prep = prepare_record(record.lead(0), record.fs, 2, pad=False, quality=False)
    ecg, peaks = prep.ecg.astype(np.float64), prep.peaks
    n_checked = 0
    for end in range(2500, ecg.size + 1, 1000):
        lo = end - 2500
        p = peaks[(peaks >= lo) & (peaks < end - 250)] - lo
        seg = ecg[lo:end]
        want = _reference_morphology(seg, p, 250.0)
        np.testing.assert_allclose(morphology_features(seg, p, 250.0), want, 1e-9, 1e-12)
        if p.size >= 4:
            want = _reference_rr(p, 250.0, 10.0)
            np.testing.assert_allclose(rr_features(p, 250.0, 10.0), want, 1e-9, 1e-12)
            n_checked += 1
    assert n_checked >= 5


def test_kernels_on_edge_cases() -> None:
    # Four beats: one RR pair for the lag-2 correlation (size 1: no correlation).
    p = np.array([0, 200, 450, 640])
    np.testing.assert_allclose(rr_features(p, 250.0, 3.0), _reference_rr(p, 250.0, 3.0))
    # Beats too close to the edges for a QRS window, and a flat signal.
    x = np.zeros(500)
    assert (morphology_features(x, np.array([3, 5, 495, 499]), 250.0) == 0).all()
    p = np.arange(50, 500, 100)
    np.testing.assert_allclose(morphology_features(x, p, 250.0), _reference_morphology(x, p, 250.0))


@pytest.mark.parametrize("n_trees", [1, 3, 4, 5, 7, 8, 13])
def test_tree_walk_gives_the_trees_scores_for_any_number_of_trees(n_trees: int) -> None:
    pytest.importorskip("sklearn", reason="fitting trees needs the train extra")
    from cardiostream.rhythm._beat_kernels import tree_scores
    from cardiostream.rhythm.record_trees import RecordTrees
    from cardiostream.training.record_trees_fit import WINDOW_PARAMS, fit_trees

    rng = np.random.default_rng(5)
    names = tuple(f"x{i}" for i in range(6))
    x = rng.normal(size=(500, len(names)))
    y = (x[:, 0] > 0).astype(int) + 2 * (x[:, 1] - x[:, 2] > 0.3).astype(int)
    params = {**WINDOW_PARAMS, "max_iter": 4, "min_samples_leaf": 5}
    full = fit_trees(x, y, names=names, params=params)
    # The first n trees (the four walked side by side, then the rest one by one).
    trees = RecordTrees(
        full.feature,
        full.number,
        full.left,
        full.roots[:n_trees],
        full.tree_class[:n_trees],
        full.baseline,
        full.depth,
        names,
    )
    rows = rng.normal(size=(60, len(names)))
    rows[::7, 0] = np.nan  # goes right, as in scikit-learn
    arrays = (
        trees.feature.astype(np.int32),
        trees.number,
        trees.left.astype(np.int32),
        trees.roots,
        trees.tree_class,
        trees.baseline,
    )
    out = np.empty(trees.baseline.size)
    want = trees.scores(rows)
    for row, expected in zip(rows, want, strict=True):
        tree_scores(row, arrays, out)
        np.testing.assert_allclose(out, expected, rtol=0, atol=1e-12)
