"""Temperature scaling recovers the temperature that made logits overconfident."""

from __future__ import annotations

import numpy as np

from cardiostream.evaluate.classification import expected_calibration_error
from cardiostream.training.calibrate import calibrated, fit_temperature


def test_recovers_a_known_temperature() -> None:
    rng = np.random.default_rng(0)
    n, k = 20_000, 4
    true_logits = rng.normal(0, 1.5, (n, k))
    p = np.exp(true_logits) / np.exp(true_logits).sum(1, keepdims=True)
    truth = np.array([rng.choice(k, p=row) for row in p])
    sharpened = 2.5 * true_logits
    t = fit_temperature(sharpened, truth)
    assert abs(t - 2.5) < 0.15
    before = expected_calibration_error(calibrated(sharpened, 1.0), truth)
    after = expected_calibration_error(calibrated(sharpened, t), truth)
    assert after < 0.02 < before
