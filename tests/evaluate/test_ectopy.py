"""Premature beats put into beat times: where they go, what they look like, what is left alone."""

from __future__ import annotations

import numpy as np

from cardiostream.evaluate.ectopy import BLOCK, ectopic_times


def _rhythm(n: int = 3000, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    rr = 0.8 * (1 + rng.normal(0, 0.01, n))
    label = np.zeros(n, np.int64)
    label[1000:1600] = 1  # AF: irregular, left as it is
    rr[1000:1600] = np.clip(rng.lognormal(np.log(0.6), 0.22, 600), 0.3, 1.6)
    label[2000:2100] = -1  # left out (flutter)
    return np.cumsum(rr), label


def test_one_time_per_beat_still_increasing_and_af_untouched() -> None:
    t, label = _rhythm()
    out = ectopic_times(t, label, np.random.default_rng(1))
    assert out.shape == t.shape
    assert np.all(np.diff(out) > 0.1)
    # AF and left-out beats keep their intervals (their times may move with an earlier reset).
    for lo, hi in ((1001, 1600), (2001, 2100)):
        assert np.allclose(np.diff(out[lo - 1 : hi]), np.diff(t[lo - 1 : hi]))
    # A lot of the beats outside AF are now premature: intervals under 0.85 of the cycle.
    rr = np.diff(out)
    sinus = (label[1:] == 0) & (label[:-1] == 0)
    premature = rr[sinus] < 0.85 * 0.8
    assert 0.05 < premature.mean() < 0.5


def test_premature_beats_have_the_patterns_of_ectopy() -> None:
    t, label = _rhythm(30 * BLOCK, seed=3)
    label[:] = 0
    t = np.cumsum(np.full(t.size, 0.8))
    out = ectopic_times(t, label, np.random.default_rng(5))
    rr = np.diff(out)
    short = rr < 0.7
    # Every premature interval is 0.4-0.85 of the cycle; the pause after a single one ends no
    # sooner than one cycle later (atrial) and when the sinus beat was due (ventricular): two
    # cycles after the beat before it.
    assert np.all(rr[short] > 0.3)
    single = ~short[:-2] & short[1:-1] & ~short[2:]
    pause = rr[2:][single]
    before = rr[1:-1][single]
    assert np.all(pause >= 0.8 - 1e-9) and np.all(pause + before <= 2 * 0.8 + 1e-9)
    # Bigeminy somewhere: a block of strictly alternating short and long intervals.
    alternating = short[:-1] != short[1:]
    runs = np.convolve(alternating, np.ones(100), "valid")
    assert runs.max() == 100
    # Couplets somewhere: two short intervals in a row.
    assert np.any(short[:-1] & short[1:])
    # And blocks left regular.
    assert np.convolve(short, np.ones(BLOCK), "valid").min() == 0


def test_same_generator_same_beats() -> None:
    t, label = _rhythm()
    a = ectopic_times(t, label, np.random.default_rng(7))
    b = ectopic_times(t, label, np.random.default_rng(7))
    assert np.array_equal(a, b)
    assert ectopic_times(t[:2], label[:2], np.random.default_rng(0)).size == 2
