"""The ECGSYN-like beats: wave shapes, rate scaling, exactness at any sampling rate."""

from __future__ import annotations

import numpy as np
import pytest

from cardiostream.beats import detect_rpeaks
from cardiostream.sim.ecgsyn import NORMAL, BeatTrain, ecgsyn, make_beat, render_beats
from cardiostream.sim.simulator import Simulator


def _mean_beat(x: np.ndarray, fs: float) -> np.ndarray:
    """The average beat from 0.35 s before each R peak to 0.45 s after it."""
    peaks = detect_rpeaks(x, fs)
    lo, hi = round(0.35 * fs), round(0.45 * fs)
    beats = [x[p - lo : p + hi] for p in peaks if p - lo >= 0 and p + hi <= len(x)]
    return np.asarray(np.mean(beats, axis=0))


def test_sinus_beats_have_an_r_peak_of_1_to_1_5_mv_and_a_p_wave() -> None:
    fs = 250.0
    x, r_times = ecgsyn(30, fs, hr_bpm=60)
    heights = x[np.round(r_times * fs).astype(int)]
    assert heights.min() > 1.0 and heights.max() < 1.5
    beat = _mean_beat(x, fs)
    r = round(0.35 * fs)
    p_region = beat[r - round(0.3 * fs) : r - round(0.1 * fs)]
    # The P wave: a bump of about 0.15 mV above the baseline of the TP segment.
    assert 0.08 < p_region.max() - beat[0] < 0.25
    t_region = beat[r + round(0.15 * fs) : r + round(0.45 * fs)]
    assert 0.2 < t_region.max() < 0.45  # the T wave


def test_af_beats_have_no_p_wave() -> None:
    fs = 250.0
    sim = Simulator(fs, mode="af", real_af=False, seed=3)
    sim.set_mode("af", real_af=False, f_amplitude_mv=0.0)  # no f waves: the P region bare
    x = sim.read(round(60 * fs))[round(5 * fs) :]
    beat = _mean_beat(x.astype(np.float64), fs)
    r = round(0.35 * fs)
    p_region = beat[r - round(0.25 * fs) : r - round(0.08 * fs)]
    # What is left there is the baseline wander and, after short intervals, a T wave.
    assert p_region.max() - np.median(beat[: round(0.1 * fs)]) < 0.06


def test_p_and_t_move_with_the_rate_and_the_qrs_does_not() -> None:
    slow, fast = make_beat(1.0, 1.2), make_beat(1.0, 0.5)
    p, q, r, s, t = range(5)
    assert slow.centres_s[t] - slow.r_s > fast.centres_s[t] - fast.r_s  # QT shortens
    assert slow.r_s - slow.centres_s[p] > fast.r_s - fast.centres_s[p]
    assert slow.widths_s[t] > fast.widths_s[t]
    for wave in (q, r, s):
        assert slow.widths_s[wave] == fast.widths_s[wave]
        assert slow.centres_s[wave] - slow.r_s == fast.centres_s[wave] - fast.r_s


@pytest.mark.parametrize("fs", [50.0, 128.0, 250.0, 360.0, 1000.0])
def test_any_rate_samples_the_same_function_of_time(fs: float) -> None:
    beats = [make_beat(0.6, 0.9), make_beat(1.5, 0.9)]
    x = render_beats(beats, 0, round(2.4 * fs), fs)
    fine = render_beats(beats, 0, round(2.4 * 2000), 2000.0)
    step = 2000 / fs
    if step == int(step):
        np.testing.assert_allclose(x, fine[:: int(step)][: len(x)], atol=1e-12)
    # The R peak is where it was put, whatever the rate.
    assert abs(np.argmax(x) / fs - 0.6) <= 1 / fs or abs(np.argmax(x) / fs - 1.5) <= 1 / fs
    assert NORMAL.amplitudes_mv[2] * 0.8 < x.max() < NORMAL.amplitudes_mv[2] * 1.1


def test_rendering_in_pieces_equals_rendering_at_once() -> None:
    fs = 250.0

    def train() -> BeatTrain:
        def make(last: float | None) -> object:
            r = 0.5 if last is None else last + 0.8
            return make_beat(r, 0.8)

        return BeatTrain(fs, make)  # type: ignore[arg-type]

    whole = train().render(0, 2500)
    pieces = train()
    parts = [pieces.render(a, min(a + 37, 2500)) for a in range(0, 2500, 37)]
    np.testing.assert_array_equal(whole, np.concatenate(parts))


def test_ecgsyn_gives_its_r_times() -> None:
    fs = 360.0
    x, r_times = ecgsyn(20, fs, hr_bpm=75, seed=2)
    found = detect_rpeaks(x, fs) / fs
    assert len(found) == len(r_times)
    assert np.max(np.abs(found - r_times)) < 0.02
