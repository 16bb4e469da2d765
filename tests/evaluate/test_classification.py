"""Classification scores and calibration error on hand-made cases."""

from __future__ import annotations

import numpy as np
import pytest

from cardiostream.errors import InputError
from cardiostream.evaluate.classification import (
    expected_calibration_error,
    reliability,
    score_classification,
)


def test_f1_and_cinc_score_by_hand() -> None:
    truth = [0, 0, 0, 1, 1, 2, 2, 3]
    pred = [0, 0, 1, 1, 1, 2, 0, 3]
    s = score_classification(truth, pred)
    # normal: tp 2, fp 1, fn 1 -> 0.667; af: tp 2, fp 1, fn 0 -> 0.8; other: tp 1, fn 1 -> 0.667
    np.testing.assert_allclose(s.f1, [2 / 3, 0.8, 2 / 3, 1.0])
    assert s.cinc == pytest.approx((2 / 3 + 0.8 + 2 / 3) / 3)
    assert s.matrix.sum() == 8 and s.matrix[2, 0] == 1
    assert s.accuracy == pytest.approx(6 / 8)


def test_bad_labels_are_refused() -> None:
    with pytest.raises(InputError):
        score_classification([0, 1], [0])
    with pytest.raises(InputError):
        score_classification([0, 5], [0, 1])


def test_calibration_error_of_perfect_and_overconfident_models() -> None:
    rng = np.random.default_rng(0)
    n = 20_000
    conf = rng.uniform(0.3, 1.0, n)
    truth = np.where(rng.random(n) < conf, 0, 1)
    calibrated = np.stack([conf, 1 - conf], axis=1)
    assert expected_calibration_error(calibrated, truth) < 0.02
    overconfident = np.stack([np.ones(n) * 0.99, np.ones(n) * 0.01], axis=1)
    assert expected_calibration_error(overconfident, truth) > 0.2
    mean_conf, accuracy, counts = reliability(calibrated, truth, n_bins=10)
    assert counts.sum() == n
    ok = counts > 100
    np.testing.assert_allclose(mean_conf[ok], accuracy[ok], atol=0.05)
