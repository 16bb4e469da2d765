"""Streaming beat pieces: RR channels equal to the offline ones, and each window's HRV."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pytest

from cardiostream import hrv
from cardiostream.rhythm.features import (
    RR_DELAY,
    RR_RANGE,
    rr_change_from_peaks,
    rr_channel_from_peaks,
)
from cardiostream.stream.window_beats import (
    H_AMP,
    H_BEATS,
    H_MEAN,
    H_PNN50,
    H_RATE,
    H_RMSSD,
    H_SDNN,
    N_HRV,
    fill_rr,
    initial_rr_state,
    window_hrv,
)

IntArray = npt.NDArray[np.int64]
FS = 250.0


def peak_train(seed: int, n_samples: int) -> IntArray:
    """Increasing R peaks with intervals from 0.1 s to 4 s, so both clip bounds are hit."""
    rng = np.random.default_rng(seed)
    gaps = rng.choice(
        [25, 40, 50, 150, 180, 200, 201, 260, 400, 750, 800, 1000], size=n_samples // 25
    )
    gaps = np.where(rng.random(gaps.size) < 0.5, rng.integers(60, 400, gaps.size), gaps)
    peaks = int(rng.integers(0, 300)) + np.cumsum(gaps)
    return peaks[peaks < n_samples].astype(np.int64)


def stream_rr(
    peaks: IntArray, n_samples: int, sizes: list[int]
) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]]:
    """Feed ``fill_rr`` chunk by chunk with the beats that become known in each chunk."""
    st = initial_rr_state()
    rr_parts, change_parts = [], []
    n0, i = 0, 0
    while n0 < n_samples:
        size = min(sizes[i % len(sizes)], n_samples - n0)
        known = peaks + RR_DELAY
        new = peaks[(known >= n0) & (known < n0 + size)]
        rr = np.full(size, np.nan, np.float32)
        change = np.full(size, np.nan, np.float32)
        fill_rr(n0, new, st, rr, change)
        rr_parts.append(rr)
        change_parts.append(change)
        n0 += size
        i += 1
    return np.concatenate(rr_parts), np.concatenate(change_parts)


def test_initial_state() -> None:
    st = initial_rr_state()
    np.testing.assert_array_equal(st, [-1.0, 0.0, 0.0, 0.0])
    assert RR_DELAY == 250 and RR_RANGE == (0.2, 3.0)


@pytest.mark.parametrize("seed", range(6))
def test_streamed_rr_channels_equal_the_offline_ones(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(3_000, 30_000))
    peaks = peak_train(seed, n)
    assert peaks.size > 10
    offline_rr = rr_channel_from_peaks(peaks, n)
    offline_change = rr_change_from_peaks(peaks, n)
    # The train exercises both clip bounds of the RR channel and the cap of the change.
    assert offline_rr.max() == np.float32(3.0) or offline_rr.min() == np.float32(0.2)
    for sizes in (
        [n],
        [250],
        [1],
        list(rng.integers(0, 700, 20)),
        list(rng.choice([0, 1, 249, 250, 251, 5000], 15)),
    ):
        if not any(sizes):
            continue
        rr, change = stream_rr(peaks, n, [int(s) for s in sizes])
        assert rr.dtype == change.dtype == np.float32
        assert np.array_equal(rr, offline_rr), sizes
        assert np.array_equal(change, offline_change), sizes


def test_rr_channels_of_a_known_train() -> None:
    peaks = np.array([100, 350, 550, 1400], np.int64)  # intervals 1.0, 0.8, 3.4 -> 3.0 s
    rr, change = stream_rr(peaks, 2000, [333])
    expected_rr = np.zeros(2000, np.float32)
    expected_rr[350 + RR_DELAY :] = 1.0
    expected_rr[550 + RR_DELAY :] = np.float32(0.8)
    expected_rr[1400 + RR_DELAY :] = 3.0
    np.testing.assert_array_equal(rr, expected_rr)
    expected_change = np.zeros(2000, np.float32)
    expected_change[550 + RR_DELAY :] = np.float32(0.2 / 0.8)
    expected_change[1400 + RR_DELAY :] = np.float32(2.2 / 3.0)
    np.testing.assert_allclose(change, expected_change, rtol=1e-6)


def test_no_beats_or_one_beat_gives_zero_channels() -> None:
    for peaks in (np.zeros(0, np.int64), np.array([10], np.int64)):
        rr, change = stream_rr(peaks, 1000, [300])
        assert not rr.any() and not change.any()


def test_the_change_channel_is_capped_at_two() -> None:
    peaks = np.array([0, 750, 800, 1550], np.int64)  # 3.0 s, then 0.2 s: change 14 -> 2
    _, change = stream_rr(peaks, 2500, [100])
    np.testing.assert_array_equal(change, rr_change_from_peaks(peaks, 2500))
    assert change[800 + RR_DELAY] == 2.0


# ---------------------------------------------------------------------- window HRV
def run_hrv(
    peaks: IntArray, lo: list[int], hi: list[int], amps: npt.NDArray[np.float64] | None = None
) -> npt.NDArray[np.float64]:
    if amps is None:
        amps = np.ones(peaks.size)
    out = np.full((len(lo), N_HRV), -99.0)
    window_hrv(peaks, amps, np.array(lo, np.int64), np.array(hi, np.int64), out)
    return out


def physiological_train(seed: int, n: int) -> IntArray:
    """Intervals of 300-2000 ms only (75-500 samples), some successive jumps over 50 ms."""
    rng = np.random.default_rng(seed)
    gaps = rng.integers(75, 501, n)
    return (np.cumsum(gaps) + 17).astype(np.int64)


@pytest.mark.parametrize("seed", range(5))
def test_window_hrv_equals_hrv_without_ectopic_correction(seed: int) -> None:
    peaks = physiological_train(seed, 200)
    rng = np.random.default_rng(seed + 50)
    lo = rng.integers(0, int(peaks[-1]), 40)
    hi = lo + rng.integers(1, 4000, 40)
    amps = rng.uniform(0.3, 2.0, peaks.size)
    out = run_hrv(peaks, list(lo), list(hi), amps)
    checked = 0
    for w in range(lo.size):
        mask = (peaks >= lo[w]) & (peaks < hi[w])
        inside = peaks[mask]
        assert out[w, H_BEATS] == inside.size
        if inside.size:
            assert out[w, H_AMP] == np.median(amps[mask])
        else:
            assert np.isnan(out[w, H_AMP])
        ref = hrv(inside, FS, correct_ectopics=False)
        for col, key in (
            (H_MEAN, "mean_rr_ms"),
            (H_SDNN, "sdnn_ms"),
            (H_RMSSD, "rmssd_ms"),
            (H_PNN50, "pnn50"),
            (H_RATE, "heart_rate_bpm"),
        ):
            if inside.size < 3:
                assert np.isnan(out[w, col]), (w, key)
            else:
                np.testing.assert_allclose(out[w, col], ref[key], rtol=1e-9, atol=1e-9)
        checked += inside.size >= 3
    assert checked > 20


def test_window_hrv_of_a_known_train() -> None:
    # Intervals of 1000, 800, 1000 and 1200 ms.
    peaks = np.array([0, 250, 450, 700, 1000], np.int64)
    out = run_hrv(peaks, [0], [1001], np.array([1.0, 2.0, 3.0, 4.0, 9.0]))[0]
    assert out[H_BEATS] == 5 and out[H_AMP] == 3.0
    assert out[H_MEAN] == pytest.approx(1000.0)
    assert out[H_SDNN] == pytest.approx(np.std([1000, 800, 1000, 1200], ddof=1))
    assert out[H_RMSSD] == pytest.approx(np.sqrt((200**2 * 3) / 3))
    assert out[H_PNN50] == pytest.approx(1.0)
    assert out[H_RATE] == pytest.approx(60.0)


def test_fewer_than_two_intervals_give_nan() -> None:
    peaks = np.array([100, 350, 600, 850], np.int64)
    out = run_hrv(peaks, [0, 0, 0, 101, 0], [100, 101, 351, 600, 601])
    np.testing.assert_array_equal(out[:, H_BEATS], [0, 1, 2, 1, 3])
    for w in range(4):
        assert np.isnan(out[w, [H_MEAN, H_SDNN, H_RMSSD, H_PNN50, H_RATE]]).all()
    assert np.isnan(out[0, H_AMP]) and out[1, H_AMP] == 1.0
    assert out[4, H_MEAN] == pytest.approx(1000.0) and out[4, H_RATE] == pytest.approx(60.0)


def test_beats_are_counted_in_a_half_open_span() -> None:
    peaks = np.array([100, 200, 300, 400, 500], np.int64)
    out = run_hrv(peaks, [100, 101, 100, 0, 500, 501, 250], [500, 500, 501, 100, 501, 900, 250])
    np.testing.assert_array_equal(out[:, H_BEATS], [4, 3, 5, 0, 1, 0, 0])


def test_intervals_outside_the_physiological_bounds_are_skipped() -> None:
    # Intervals (samples): 250, 74 (296 ms, out), 250, 200, 501 (2004 ms, out), 75 (300 ms,
    # in), 500 (2000 ms, in), 300.
    gaps = [250, 74, 250, 200, 501, 75, 500, 300]
    peaks = np.concatenate([[0], np.cumsum(gaps)]).astype(np.int64)
    out = run_hrv(peaks, [0], [int(peaks[-1]) + 1])[0]
    assert out[H_BEATS] == 9
    rr = np.array(gaps) / FS * 1000.0
    ok = (rr >= 300.0) & (rr <= 2000.0)
    assert ok.tolist() == [True, False, True, True, False, True, True, True]
    nn = rr[ok]
    # Successive differences only between accepted intervals that follow each other.
    succ = np.array([rr[3] - rr[2], rr[6] - rr[5], rr[7] - rr[6]])
    np.testing.assert_allclose(out[H_MEAN], nn.mean(), rtol=1e-12)
    np.testing.assert_allclose(out[H_SDNN], nn.std(ddof=1), rtol=1e-12)
    np.testing.assert_allclose(out[H_RMSSD], np.sqrt(np.mean(succ**2)), rtol=1e-12)
    np.testing.assert_allclose(out[H_PNN50], np.mean(np.abs(succ) > 50.0), rtol=1e-12)
    np.testing.assert_allclose(out[H_RATE], 60_000.0 / nn.mean(), rtol=1e-12)


def test_two_accepted_intervals_that_are_not_adjacent_have_no_successive_difference() -> None:
    gaps = [250, 60, 250]  # 1000 ms, 240 ms (out), 1000 ms
    peaks = np.concatenate([[0], np.cumsum(gaps)]).astype(np.int64)
    out = run_hrv(peaks, [0], [1000])[0]
    assert out[H_MEAN] == pytest.approx(1000.0) and out[H_SDNN] == 0.0
    assert np.isnan(out[H_RMSSD]) and np.isnan(out[H_PNN50])
    assert out[H_RATE] == pytest.approx(60.0)


def test_only_one_accepted_interval_gives_nan() -> None:
    peaks = np.array([0, 250, 1000], np.int64)  # 1000 ms, then 3000 ms (out)
    out = run_hrv(peaks, [0], [1001])[0]
    assert out[H_BEATS] == 3
    assert np.isnan(out[[H_MEAN, H_SDNN, H_RMSSD, H_PNN50, H_RATE]]).all()


def test_windows_do_not_depend_on_each_other() -> None:
    peaks = physiological_train(9, 100)
    lo = list(range(0, int(peaks[-1]), 997))
    hi = [x + 2500 for x in lo]
    together = run_hrv(peaks, lo, hi)
    for w in range(len(lo)):
        assert np.array_equal(run_hrv(peaks, [lo[w]], [hi[w]])[0], together[w], equal_nan=True)
