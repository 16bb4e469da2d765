"""The scripted Holter day: deterministic, and its truth matches its beats."""

from __future__ import annotations

from datetime import datetime

import numpy as np
import pytest

from cardiostream.beats import detect_rpeaks
from cardiostream.errors import InputError
from cardiostream.sim.holter_day import (
    MIN_DURATION_S,
    PAUSES_S,
    RAMP_S,
    HolterDay,
    holter_day,
)


@pytest.fixture(scope="module")
def short_day() -> HolterDay:
    return holter_day(1800.0, seed=4)


def test_deterministic_by_seed(short_day: HolterDay) -> None:
    again = holter_day(1800.0, seed=4)
    assert np.array_equal(again.signal, short_day.signal)
    assert again.truth == short_day.truth
    other = holter_day(1800.0, seed=5)
    assert not np.array_equal(other.signal, short_day.signal)


def test_truth_is_consistent(short_day: HolterDay) -> None:
    d = short_day
    tr = d.truth
    assert d.signal.dtype == np.float32 and d.signal.size == round(1800 * d.fs)
    assert isinstance(d.start, datetime)
    t, lab = np.asarray(tr["beats_t"]), np.asarray(tr["beats_label"])
    n_v = int(np.count_nonzero(lab == "V"))
    assert tr["veb"] == n_v
    run_beats = sum(n for _, _, n in tr["vt_runs"])
    assert n_v == tr["veb_isolated"] + 2 * tr["veb_couplets"] + run_beats
    assert tr["af_s"] == pytest.approx(sum(b - a for a, b in tr["af_episodes"]))
    assert [rr for _, rr in tr["pauses"]] == list(PAUSES_S)
    for at, rr in tr["pauses"]:
        k = int(np.searchsorted(t, at))
        assert t[k] == pytest.approx(at, abs=1e-3)
        assert t[k + 1] - t[k] == pytest.approx(rr, abs=1e-3)
    a, b = tr["brady"]
    ramp = min(RAMP_S, (b - a) / 4)
    inside = t[(t > a + ramp) & (t < b - ramp) & (lab == "N")]
    assert 60 / np.median(np.diff(inside)) == pytest.approx(40, abs=2)
    # No beat is scripted in AF (the real excerpts play there) nor counted in the noise.
    for a, b in [*tr["af_episodes"], tr["noise"]]:
        assert not np.any((t > a + 1) & (t < b - 1))


def test_beats_are_where_the_truth_says(short_day: HolterDay) -> None:
    d = short_day
    t = np.asarray(d.truth["beats_t"])
    x = d.signal[: round(600 * d.fs)].astype(np.float64)
    peaks = detect_rpeaks(x, d.fs) / d.fs
    ref = t[t < 598]
    found = np.abs(peaks[np.searchsorted(peaks, ref).clip(0, peaks.size - 1)] - ref) < 0.1
    assert found.mean() > 0.99


def test_too_short_is_refused() -> None:
    with pytest.raises(InputError, match="duration_s"):
        holter_day(MIN_DURATION_S - 1)
