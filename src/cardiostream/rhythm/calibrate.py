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
