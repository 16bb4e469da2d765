"""NN intervals and the Task Force measures against values worked out by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

from cardiostream.report.holter.hrv_nn import hrv_nn, nn_intervals


def test_time_domain_by_hand() -> None:
    # RR 1.0, 1.0, 1.1, 0.9, 1.0 s: deviations from 1000 ms of 0, 0, 100, -100, 0.
    nn = nn_intervals([0.0, 1.0, 2.0, 3.1, 4.0, 5.0], ["N"] * 6)
    assert nn.nn.tolist() == pytest.approx([1.0, 1.0, 1.1, 0.9, 1.0])
    h = hrv_nn(nn)
    assert h["n_nn"] == 5
    assert h["sdnn_ms"] == pytest.approx(math.sqrt(20000 / 4), abs=0.01)  # 70.71
    # Successive differences 0, 100, -200, 100 ms.
    assert h["rmssd_ms"] == pytest.approx(math.sqrt(60000 / 4), abs=0.01)  # 122.47
    assert h["pnn50"] == pytest.approx(0.75)
    assert h["lf_ms2"] is None and h["segments"] == 0  # far below 5 minutes


def test_ectopic_beats_and_the_beat_after_them_are_left_out() -> None:
    t = [0.0, 1.0, 1.5, 2.5, 3.5, 4.5, 5.5]
    labels = ["N", "N", "V", "N", "N", "N", "N"]
    nn = nn_intervals(t, labels)
    # 1.0-1.5 and 1.5-2.5 touch the V; 2.5-3.5 starts at the beat after it.
    assert nn.t.tolist() == [1.0, 4.5, 5.5]
    assert nn.successive.tolist() == [False, False, True]
    h = hrv_nn(nn)
    assert h["rmssd_ms"] == pytest.approx(0.0)  # only the pair 4.5-5.5 after 3.5-4.5


def test_range_breaks_and_unanalysable_beats() -> None:
    t = [0.0, 1.0, 3.5, 4.5, 5.5, 6.5, 7.5]
    nn = nn_intervals(
        t,
        ["N"] * 7,
        analysable=[True, True, True, True, True, False, True],
        broken=[False, False, False, False, True, False, False],
    )
    # 1.0-3.5 is 2.5 s (out of range); 4.5-5.5 crosses a break; 5.5 and 6.5 touch an
    # unanalysable beat.
    assert nn.t.tolist() == [1.0, 4.5]
    assert hrv_nn(nn)["rmssd_ms"] is None


def test_few_intervals_give_null() -> None:
    h = hrv_nn(nn_intervals([0.0, 1.0], ["N", "N"]))
    assert h["n_nn"] == 1
    assert h["sdnn_ms"] is None and h["rmssd_ms"] is None and h["sdann_ms"] is None


def test_spectrum_of_a_mayer_wave() -> None:
    # 20 min of RR = 1000 + 20 sin(2 pi 0.1 t) ms: a pure LF sinusoid of power 20^2 / 2.
    rr = [1.0]
    t = [0.0]
    while t[-1] < 1200:
        t.append(t[-1] + rr[-1])
        rr.append(1.0 + 0.02 * math.sin(2 * math.pi * 0.1 * t[-1]))
    nn = nn_intervals(np.asarray(t), ["N"] * len(t))
    h = hrv_nn(nn)
    assert h["segments"] >= 3
    assert h["lf_ms2"] == pytest.approx(200.0, rel=0.2)
    assert h["hf_ms2"] is not None and h["hf_ms2"] < 0.05 * 200.0
    assert h["lf_hf"] is not None and h["lf_hf"] > 10
    # Every 5-minute mean is ~1000 ms: SDANN near 0, SDNN near the sinusoid's 14 ms.
    assert h["sdann_ms"] is not None and h["sdann_ms"] < 2.0
    assert h["sdnn_ms"] == pytest.approx(20 / math.sqrt(2), rel=0.1)
