"""The RR channel: values, delay, and no look-ahead."""

from __future__ import annotations

import numpy as np

from cardiostream.io import read
from cardiostream.rhythm.features import RR_DELAY, _hold, rr_channel, rr_channel_from_peaks
from cardiostream.rhythm.preprocess import preprocess
from cardiostream.samples import sample_path


def test_each_interval_appears_one_delay_after_its_second_beat() -> None:
    peaks = [100, 350, 700]
    rr = rr_channel_from_peaks(peaks, 1300)
    assert rr[: 350 + RR_DELAY].max() == 0.0
    assert np.all(rr[350 + RR_DELAY : 700 + RR_DELAY] == np.float32(1.0))
    assert np.all(rr[700 + RR_DELAY :] == np.float32(1.4))


def test_fewer_than_two_beats_give_zeros() -> None:
    assert not rr_channel_from_peaks([5], 100).any()
    assert not rr_channel_from_peaks([], 100).any()


def test_intervals_are_clipped() -> None:
    rr = rr_channel_from_peaks([0, 2000, 2010], 3000)
    assert rr.max() <= 3.0 and rr[rr > 0].min() >= 0.2


def test_channel_of_a_real_record_never_looks_ahead() -> None:
    rec = read(sample_path("mitdb-201-af"))
    ecg = preprocess(rec.lead(0), rec.fs)
    full = rr_channel(ecg)
    cut = 30 * 250
    early = rr_channel(ecg[:cut])
    np.testing.assert_array_equal(early, full[:cut])
    irregular = full[full > 0]
    assert 0.3 < irregular.mean() < 1.2 and irregular.std() > 0.1


def test_held_values_are_the_latest_known_at_each_sample() -> None:
    # Against the definition: at sample s, the value of the last start <= s (0 before any);
    # starts may repeat, fall before the record or after its end.
    rng = np.random.default_rng(0)
    for _ in range(100):
        n = int(rng.integers(1, 1000))
        known_at = np.sort(rng.integers(-50, n + 100, int(rng.integers(0, 30))))
        values = rng.random(known_at.size).astype(np.float32)
        expected = np.zeros(n, np.float32)
        for s in range(n):
            latest = np.flatnonzero(known_at <= s)
            if latest.size:
                expected[s] = values[latest[-1]]
        np.testing.assert_array_equal(_hold(known_at, values, n), expected)
