"""Temperature scaling (Guo et al. 2017): one scalar that divides the logits."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from scipy.optimize import minimize_scalar
from scipy.special import log_softmax, softmax


def fit_temperature(logits: npt.ArrayLike, truth: npt.ArrayLike) -> float:
    """The temperature minimising the negative log-likelihood of ``truth``.

    Parameters
    ----------
    logits : array_like, shape (n, n_classes)
        Out-of-fold logits (log-probabilities work as well).
    truth : array_like of int, shape (n,)
        The true classes.
    """
    z = np.asarray(logits, np.float64)
    t = np.asarray(truth, np.int64)

    def nll(log_temp: float) -> float:
        lp = log_softmax(z / np.exp(log_temp), axis=1)
        return float(-lp[np.arange(t.size), t].mean())

    res = minimize_scalar(nll, bounds=(np.log(0.05), np.log(20.0)), method="bounded")
    return float(np.exp(res.x))


def calibrated(logits: npt.ArrayLike, temperature: float) -> npt.NDArray[np.float64]:
    """Probabilities after temperature scaling."""
    return np.asarray(softmax(np.asarray(logits, np.float64) / temperature, axis=1))


def choose_threshold(
    probabilities: npt.ArrayLike,
    truth: npt.ArrayLike,
    target_accuracy: float = 0.9,
    bounds: tuple[float, float] = (0.5, 0.8),
) -> float:
    """The lowest confidence threshold whose confident verdicts reach ``target_accuracy``.

    Verdicts with a calibrated top probability at or above the threshold keep their label; the
    rest become ``uncertain``. The threshold is the smallest value (on a 0.01 grid within
    ``bounds``) at which the kept verdicts of the out-of-fold data are right at least
    ``target_accuracy`` of the time; the upper bound if none is.
    """
    p = np.asarray(probabilities, np.float64)
    t = np.asarray(truth, np.int64)
    conf = p.max(1)
    right = p.argmax(1) == t
    for threshold in np.arange(bounds[0], bounds[1] + 1e-9, 0.01):
        kept = conf >= threshold
        if kept.any() and right[kept].mean() >= target_accuracy:
            return float(round(threshold, 2))
    return float(bounds[1])
