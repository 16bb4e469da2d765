"""Beat-by-beat matching and R-peak scores on hand-made cases."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.sparse import csr_array
from scipy.sparse.csgraph import maximum_bipartite_matching

from cardiostream.errors import InputError
from cardiostream.evaluate import (
    BEAT_SYMBOLS_NO_FLUTTER,
    BeatScore,
    gross_score,
    match_beats,
    reference_beats,
    score_records,
    score_rpeaks,
    score_table,
)
from cardiostream.record import Annotations, BeatTable

FS = 360.0  # 150 ms is exactly 54 samples


def test_exact_match() -> None:
    ref = np.array([100, 500, 900, 1300])
    m = match_beats(ref, ref.copy(), FS)
    assert (m.tp, m.fp, m.fn) == (4, 0, 0)
    np.testing.assert_array_equal(m.reference_index, np.arange(4))
    np.testing.assert_array_equal(m.detected_index, np.arange(4))
    assert m.score.se == m.score.ppv == m.score.f1 == 1.0


@pytest.mark.parametrize("offset", [-54, -30, 0, 17, 54])
def test_within_tolerance_is_matched(offset: int) -> None:
    ref = np.array([1000, 2000, 3000])
    m = match_beats(ref, ref + offset, FS, tolerance_s=0.15)
    assert (m.tp, m.fp, m.fn) == (3, 0, 0)


@pytest.mark.parametrize("offset", [-55, 55, 100])
def test_just_outside_tolerance_is_fp_and_fn(offset: int) -> None:
    ref = np.array([1000, 2000, 3000])
    m = match_beats(ref, ref + offset, FS, tolerance_s=0.15)
    assert (m.tp, m.fp, m.fn) == (0, 3, 3)
    assert m.reference_index.size == m.detected_index.size == 0


def test_tolerance_scales_with_fs() -> None:
    # 20 samples is 80 ms at 250 Hz (inside 150 ms) but 200 ms at 100 Hz (outside).
    assert match_beats([500], [520], 250.0).tp == 1
    assert match_beats([500], [520], 100.0).tp == 0


def test_double_detection_counts_once_and_keeps_the_nearest() -> None:
    ref = np.array([1000, 2000])
    det = np.array([1000, 1990, 2000, 2000])
    m = match_beats(ref, det, FS)
    assert (m.tp, m.fp, m.fn) == (2, 2, 0)
    assert det[m.detected_index[1]] == 2000  # exact partner rather than the one 10 samples off
    assert len(set(m.detected_index.tolist())) == m.tp


def test_duplicate_reference_beats_need_two_detections() -> None:
    m = match_beats([1000, 1000], [1000], FS)
    assert (m.tp, m.fp, m.fn) == (1, 0, 1)


def test_one_detection_between_two_beats_serves_only_one() -> None:
    # Both beats are within 150 ms of the detection, which may vouch for one of them only.
    m = match_beats([1000, 1080], [1040], FS)
    assert (m.tp, m.fp, m.fn) == (1, 0, 1)


def test_pairing_maximises_matches_rather_than_nearest_neighbour() -> None:
    # The detection at 60 is nearest to the beat at 80, but pairing them would leave the beat
    # at 0 without a partner; the best pairing is 0-60 and 80-120.
    m = match_beats([0, 80], [60, 120], fs=1.0, tolerance_s=60.0)
    assert (m.tp, m.fp, m.fn) == (2, 0, 0)
    np.testing.assert_array_equal(m.detected_index, [0, 1])


def test_unsorted_inputs_give_positions_in_the_given_arrays() -> None:
    ref = np.array([3000, 1000, 2000])
    det = np.array([2010, 5000, 995, 3003])
    m = match_beats(ref, det, FS)
    assert (m.tp, m.fp, m.fn) == (3, 1, 0)
    # Pairs in time order of the reference: 1000-995, 2000-2010, 3000-3003.
    np.testing.assert_array_equal(m.reference_index, [1, 2, 0])
    np.testing.assert_array_equal(m.detected_index, [2, 0, 3])


@pytest.mark.parametrize(
    ("ref", "det", "counts"),
    [([], [], (0, 0, 0)), ([], [10, 20], (0, 2, 0)), ([10, 20, 30], [], (0, 0, 3))],
)
def test_empty_inputs(ref: list[int], det: list[int], counts: tuple[int, int, int]) -> None:
    m = match_beats(np.array(ref, dtype=np.int64), np.array(det, dtype=np.int64), FS)
    assert (m.tp, m.fp, m.fn) == counts
    assert m.reference_index.dtype == np.int64
    assert m.reference_index.size == 0


def test_empty_ratios_are_nan_and_json_null() -> None:
    s = score_rpeaks([], [], FS)
    assert math.isnan(s.se) and math.isnan(s.ppv) and math.isnan(s.f1)
    assert json.loads(json.dumps(s.to_dict())) == {
        "tp": 0,
        "fp": 0,
        "fn": 0,
        "se": None,
        "ppv": None,
        "f1": None,
    }
    only_fp = score_rpeaks([], [5], FS)
    assert only_fp.ppv == 0.0 and math.isnan(only_fp.se) and only_fp.f1 == 0.0


def test_dense_detections_use_the_sweep_and_stay_correct() -> None:
    # A detector firing on every sample forms one huge cluster (too big for the assignment).
    ref = np.arange(20) * 250 + 100
    det = np.arange(5000)
    m = match_beats(ref, det, FS)
    assert (m.tp, m.fp, m.fn) == (20, 4980, 0)
    assert np.all(np.abs(det[m.detected_index] - ref[m.reference_index]) <= 54)


@settings(max_examples=200, deadline=None)
@given(
    ref=st.lists(st.integers(0, 2000), max_size=40),
    det=st.lists(st.integers(0, 2000), max_size=40),
    tol=st.integers(0, 120),
)
def test_match_count_is_the_maximum_matching(ref: list[int], det: list[int], tol: int) -> None:
    m = match_beats(ref, det, fs=1.0, tolerance_s=float(tol))
    r, d = np.array(ref, dtype=np.int64), np.array(det, dtype=np.int64)
    # Pairs are one to one and within the tolerance.
    assert len(set(m.reference_index.tolist())) == m.tp
    assert len(set(m.detected_index.tolist())) == m.tp
    assert np.all(np.abs(r[m.reference_index] - d[m.detected_index]) <= tol)
    # The count equals a maximum bipartite matching computed independently.
    if r.size and d.size:
        adj = csr_array((np.abs(r[:, None] - d[None, :]) <= tol).astype(np.int8))
        best = int(np.sum(maximum_bipartite_matching(adj, perm_type="column") >= 0))
    else:
        best = 0
    assert m.tp == best
    assert m.tp + m.fn == r.size and m.tp + m.fp == d.size


def test_scores_from_counts() -> None:
    s = BeatScore(tp=90, fp=5, fn=10)
    assert s.se == pytest.approx(0.9)
    assert s.ppv == pytest.approx(90 / 95)
    assert s.f1 == pytest.approx(2 * s.se * s.ppv / (s.se + s.ppv))
    assert (s.n_reference, s.n_detected) == (100, 95)


def test_gross_sums_counts_before_ratios() -> None:
    a, b = BeatScore(tp=10, fp=0, fn=10), BeatScore(tp=990, fp=0, fn=10)
    g = gross_score([a, b])
    assert (g.tp, g.fp, g.fn) == (1000, 0, 20)
    assert g.se == pytest.approx(1000 / 1020)  # not the mean of 0.5 and 0.99
    assert gross_score([]) == BeatScore(0, 0, 0)


def test_reference_beats_keep_only_heartbeat_symbols() -> None:
    table = BeatTable(
        np.array([10, 20, 30, 40, 50, 60, 70], dtype=np.int64),
        np.array(["N", "+", "V", "~", "|", "Q", "/"]),
    )
    np.testing.assert_array_equal(reference_beats(table), [10, 30, 60, 70])
    np.testing.assert_array_equal(reference_beats(Annotations(beats=table)), [10, 30, 60, 70])
    np.testing.assert_array_equal(reference_beats(table, symbols="NV"), [10, 30])
    assert reference_beats(Annotations()).size == 0
    # Non-beat annotations never count as missed beats.
    s = score_rpeaks(Annotations(beats=table), [10, 30, 60, 70], fs=1000.0)
    assert (s.tp, s.fp, s.fn) == (4, 0, 0)


def test_flutter_waves_are_beats_unless_left_out() -> None:
    table = BeatTable(np.array([10, 20, 30], dtype=np.int64), np.array(["N", "!", "["]))
    np.testing.assert_array_equal(reference_beats(table), [10, 20])
    np.testing.assert_array_equal(reference_beats(table, BEAT_SYMBOLS_NO_FLUTTER), [10])


def test_score_records_and_table() -> None:
    per = score_records(
        {"a": [100, 500], "b": [100, 500, 900]},
        {"a": [100, 520], "b": [100, 2000]},
        fs={"a": 250.0, "b": 250.0},
    )
    assert per["a"] == BeatScore(2, 0, 0)
    assert per["b"] == BeatScore(1, 1, 2)
    rows = score_table(per)
    assert [r["record"] for r in rows] == ["a", "b", "gross"]
    assert rows[-1]["tp"] == 3 and rows[-1]["se"] == pytest.approx(3 / 5)
    with pytest.raises(InputError, match="c"):
        score_records({"c": [1]}, {"a": [1]}, fs=250.0)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"reference": [[1, 2]], "detected": [1]}, "reference"),
        ({"reference": [1], "detected": [np.nan]}, "detected"),
        ({"reference": ["a"], "detected": [1]}, "reference"),
        ({"reference": [1], "detected": [1], "fs": 0.0}, "fs"),
        ({"reference": [1], "detected": [1], "tolerance_s": -0.1}, "tolerance_s"),
    ],
)
def test_bad_input_names_the_field(kwargs: dict[str, object], field: str) -> None:
    args: dict[str, object] = {"fs": FS, **kwargs}
    with pytest.raises(InputError, match=field):
        match_beats(**args)  # type: ignore[arg-type]
