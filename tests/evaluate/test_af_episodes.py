"""AF episodes from per-second verdicts, and EC57-style episode scoring, on hand-made cases."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from cardiostream.errors import InputError
from cardiostream.evaluate.af_episodes import (
    EpisodeScore,
    frames_to_episodes,
    gross,
    score_episodes,
)


def frames(n: int, af_ends: list[range]) -> tuple[np.ndarray, np.ndarray]:
    """Frame times 1..n s and AF flags for the frames whose end lies in the given ranges."""
    end_s = np.arange(1, n + 1, dtype=np.float64)
    is_af = np.zeros(n, dtype=bool)
    for r in af_ends:
        is_af[np.isin(end_s, list(r))] = True
    return end_s, is_af


# --------------------------------------------------------------------------- frames_to_episodes


def test_verdict_goes_to_the_centre_second_of_its_window() -> None:
    end_s, is_af = frames(100, [range(20, 40)])  # 20 frames, windows ending at 20..39 s
    assert frames_to_episodes(end_s, is_af) == [(14.5, 34.5)]
    # A 4 s window moves the attribution 3 s later.
    assert frames_to_episodes(end_s, is_af, window_s=4.0) == [(17.5, 37.5)]


def test_episodes_are_clipped_at_time_zero() -> None:
    end_s, is_af = frames(60, [range(1, 61)])
    assert frames_to_episodes(end_s, is_af) == [(0.0, 55.5)]


def test_gaps_shorter_than_close_gap_are_closed() -> None:
    end_s, is_af = frames(200, [range(20, 40), range(45, 65)])  # gap of 5 s
    assert frames_to_episodes(end_s, is_af) == [(14.5, 59.5)]
    end_s, is_af = frames(200, [range(20, 40), range(50, 70)])  # gap of exactly 10 s
    assert frames_to_episodes(end_s, is_af) == [(14.5, 34.5), (44.5, 64.5)]
    assert frames_to_episodes(end_s, is_af, close_gap_s=10.5) == [(14.5, 64.5)]


def test_touching_segments_join_without_gap_closing() -> None:
    end_s, is_af = frames(100, [range(20, 40), range(42, 60)])
    out = frames_to_episodes(end_s, is_af, close_gap_s=0.0, min_duration_s=0.0)
    assert out == [(14.5, 34.5), (36.5, 54.5)]


def test_short_episodes_are_dropped_after_closing_gaps() -> None:
    end_s, is_af = frames(200, [range(20, 29)])  # 9 s of AF
    assert frames_to_episodes(end_s, is_af) == []
    end_s, is_af = frames(200, [range(20, 30)])  # 10 s of AF
    assert frames_to_episodes(end_s, is_af) == [(14.5, 24.5)]
    # Two 4 s bits 3 s apart make one 11 s episode, which is kept.
    end_s, is_af = frames(200, [range(20, 24), range(27, 31)])
    assert frames_to_episodes(end_s, is_af) == [(14.5, 25.5)]
    assert frames_to_episodes(end_s, is_af, close_gap_s=2.0) == []


def test_no_af_frames_give_no_episodes() -> None:
    end_s, is_af = frames(50, [])
    assert frames_to_episodes(end_s, is_af) == []
    assert frames_to_episodes([], []) == []


@pytest.mark.parametrize(
    ("end_s", "is_af", "kwargs", "field"),
    [
        ([1.0, 2.0], [True], {}, "end_s, is_af"),
        ([2.0, 1.0], [True, True], {}, "end_s"),
        ([1.0, math.nan], [True, True], {}, "end_s"),
        ([1.0, 2.0], [True, True], {"window_s": 0.0}, "window_s"),
        ([1.0, 2.0], [True, True], {"close_gap_s": -1.0}, "close_gap_s"),
        ([1.0, 2.0], [True, True], {"min_duration_s": math.inf}, "min_duration_s"),
    ],
)
def test_frames_to_episodes_rejects_bad_input(
    end_s: list[float], is_af: list[bool], kwargs: dict[str, float], field: str
) -> None:
    with pytest.raises(InputError, match=f"^{field}:"):
        frames_to_episodes(end_s, is_af, **kwargs)


# --------------------------------------------------------------------------- score_episodes


def test_overlap_counting_on_both_sides() -> None:
    s = score_episodes([(0, 100), (200, 300)], [(50, 150), (400, 450)], duration_s=500)
    assert (s.tp_se, s.n_ref, s.tp_ppv, s.n_det) == (1, 2, 1, 2)
    assert (s.ref_s, s.det_s, s.overlap_s, s.scored_s) == (200, 150, 50, 500)
    assert s.episode_se == 0.5
    assert s.episode_ppv == 0.5
    assert s.duration_se == 0.25
    assert s.duration_ppv == pytest.approx(1 / 3)


def test_one_detection_can_cover_several_references() -> None:
    s = score_episodes([(0, 10), (20, 30)], [(5, 25)], duration_s=40)
    assert (s.tp_se, s.n_ref, s.tp_ppv, s.n_det) == (2, 2, 1, 1)
    assert s.overlap_s == 10


def test_touching_episodes_do_not_overlap() -> None:
    s = score_episodes([(0, 10)], [(10, 20)], duration_s=30)
    assert (s.tp_se, s.tp_ppv, s.overlap_s) == (0, 0, 0)
    assert s.episode_se == 0 and s.duration_ppv == 0


def test_overlapping_episodes_of_one_side_are_joined() -> None:
    s = score_episodes([(0, 50)], [(10, 30), (20, 40), (40, 45)], duration_s=60)
    assert s.n_det == 1
    assert s.det_s == 35


def test_flutter_time_is_removed_from_both_sides() -> None:
    s = score_episodes([(0, 100)], [(80, 200)], duration_s=300, excluded=[(90, 150)])
    assert s.ref_s == 90  # [0, 90)
    assert s.det_s == 60  # [80, 90) and [150, 200), still one episode
    assert (s.n_det, s.tp_ppv, s.overlap_s) == (1, 1, 10)
    assert s.scored_s == 240


def test_an_episode_split_by_flutter_stays_one() -> None:
    s = score_episodes([(0, 100)], [(70, 80)], duration_s=100, excluded=[(40, 60)])
    assert (s.n_ref, s.tp_se, s.ref_s) == (1, 1, 80)


def test_episodes_wholly_in_flutter_are_dropped() -> None:
    s = score_episodes([(10, 20)], [(100, 120)], duration_s=300, excluded=[(0, 30), (90, 150)])
    assert (s.n_ref, s.n_det, s.ref_s, s.det_s) == (0, 0, 0, 0)
    assert math.isnan(s.episode_se) and math.isnan(s.episode_ppv)
    # Without the exclusion the detection is a false positive.
    s = score_episodes([], [(100, 120)], duration_s=300)
    assert (s.n_det, s.tp_ppv) == (1, 0)
    assert s.episode_ppv == 0


def test_episodes_are_clipped_to_the_record() -> None:
    s = score_episodes([(-5, 10)], [(90, 120)], duration_s=100)
    assert (s.ref_s, s.det_s) == (10, 10)
    s = score_episodes([], [(100, 120)], duration_s=100)
    assert s.n_det == 0


def test_undefined_ratios_are_nan_and_json_null() -> None:
    s = score_episodes([], [], duration_s=60)
    assert s == EpisodeScore(scored_s=60)
    for x in (s.episode_se, s.episode_ppv, s.duration_se, s.duration_ppv):
        assert math.isnan(x)
    d = s.to_dict()
    assert d["episode_se"] is None and d["duration_ppv"] is None
    json.dumps(d, allow_nan=False)
    s = score_episodes([(0, 10)], [], duration_s=60)
    assert s.episode_se == 0 and s.duration_se == 0 and math.isnan(s.episode_ppv)


def test_gross_sums_counts_before_taking_ratios() -> None:
    a = score_episodes([(0, 100)], [(0, 100)], duration_s=200)
    b = score_episodes([(0, 10), (20, 30), (40, 50)], [(100, 130)], duration_s=200)
    total = gross([a, b])
    assert total == a + b
    assert (total.tp_se, total.n_ref, total.tp_ppv, total.n_det) == (1, 4, 1, 2)
    assert total.episode_se == 0.25  # not the mean of 1.0 and 0.0
    assert total.duration_se == pytest.approx(100 / 130)
    assert total.duration_ppv == pytest.approx(100 / 130)
    assert total.scored_s == 400
    assert gross([]) == EpisodeScore()


def test_sensitivity_by_reference_length() -> None:
    # References of 4 s, 9.99 s, 10 s, 29 s, 30 s and 200 s; the detection meets the 4 s,
    # the 29 s and the 200 s ones. A reference split by excluded time is one episode whose
    # length is what is left of it (40 s less 15 s of flutter: 25 s, "10-30 s").
    reference = [(0, 4), (10, 19.99), (30, 40), (50, 79), (100, 130), (200, 400), (500, 540)]
    detected = [(2, 3), (60, 61), (300, 301)]
    s = score_episodes(reference, detected, duration_s=600, excluded=[(510, 525)])
    assert s.found_by_length("short") == (1, 2)
    assert s.found_by_length("mid") == (1, 3)
    assert s.found_by_length("long") == (1, 2)
    assert (s.tp_se, s.n_ref) == (3, 7)
    total = gross([s, s])
    assert total.found_by_length("mid") == (2, 6)


@pytest.mark.parametrize(
    ("reference", "detected", "excluded", "field"),
    [
        ([(10, 5)], [], [], "reference"),
        ([], [(0, math.inf)], [], "detected"),
        ([], [], [(1, 2, 3)], "excluded"),
        ([], [(0, "a")], [], "detected"),
    ],
)
def test_score_episodes_rejects_bad_intervals(
    reference: list[tuple[float, float]],
    detected: list[tuple[float, float]],
    excluded: list[tuple[float, ...]],
    field: str,
) -> None:
    with pytest.raises(InputError, match=f"^{field}:"):
        score_episodes(reference, detected, duration_s=100, excluded=excluded)


def test_score_episodes_rejects_bad_duration() -> None:
    with pytest.raises(InputError, match=r"^duration_s:"):
        score_episodes([], [], duration_s=-1)


def test_frames_and_scoring_together() -> None:
    """Frames that call AF exactly when their centre second is AF find the episode to 0.5 s."""
    end_s = np.arange(1, 301, dtype=np.float64)
    centre = end_s - 5.0  # the second each frame is attributed to
    is_af = (centre >= 100) & (centre < 160)
    detected = frames_to_episodes(end_s, is_af)
    assert detected == [(99.5, 159.5)]
    s = score_episodes([(100, 160)], detected, duration_s=300)
    assert (s.episode_se, s.episode_ppv) == (1, 1)
    assert s.overlap_s == pytest.approx(59.5)
