"""Fitting the record head (:class:`~cardiostream.rhythm.record_head.RecordHead`): the
penalised maximum-likelihood fit and the cross-fit that gives honest out-of-fold logits."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy.optimize import minimize
from scipy.special import log_softmax

from cardiostream.rhythm._beat_kernels import head_hidden, head_nll
from cardiostream.rhythm.record_head import FEATURES, HIDDEN, FloatArray, RecordHead
from cardiostream.rhythm.verdict import CLASSES
from cardiostream.training.parallel import map_shared


def fit_head(
    features: npt.ArrayLike,
    truth: npt.ArrayLike,
    l2: float,
    seed: int = 0,
    names: tuple[str, ...] = FEATURES,
) -> RecordHead:
    """Maximum-likelihood fit of the head (L-BFGS) with an L2 penalty on the weights.

    ``l2`` multiplies the sum of squared weights, relative to the mean log-likelihood;
    ``names`` are the columns of ``features``.
    """
    x = np.asarray(features, np.float64)
    y = np.asarray(truth, np.int64)
    if x.ndim != 2 or x.shape[1] != len(names):
        raise ValueError(f"fit_head: features of shape {x.shape} for {len(names)} names")
    n_classes = len(CLASSES)
    mean = x.mean(0)
    # A near-constant input (a fold network that barely varies) must not be blown up.
    scale = np.maximum(x.std(0), 0.05)
    z = np.ascontiguousarray((x - mean) / scale)
    n, d = z.shape
    h = HIDDEN
    shapes = [(d, h), (h,), (h, n_classes), (n_classes,)]
    sizes = [int(np.prod(sh)) for sh in shapes]
    hidden = np.empty((n, h))
    grads = (np.empty((d, h)), np.empty(h), np.empty((n_classes, h)), np.empty(n_classes))

    def unpack(theta: FloatArray) -> list[FloatArray]:
        parts = np.split(theta, np.cumsum(sizes)[:-1])
        return [p.reshape(sh) for p, sh in zip(parts, shapes, strict=True)]

    def loss(theta: FloatArray) -> tuple[float, FloatArray]:
        w1, b1, w2, b2 = unpack(theta)
        head_hidden(z, w1, b1, hidden)
        np.tanh(hidden, out=hidden)
        nll = head_nll(z, y, hidden, np.ascontiguousarray(w2.T), b2, grads)
        g1, gb1, g2t, gb2 = grads
        value = nll + l2 * float((w1 * w1).sum() + (w2 * w2).sum())
        parts = [g1 + 2 * l2 * w1, gb1, g2t.T + 2 * l2 * w2, gb2]
        return value, np.concatenate([g.ravel() for g in parts])

    rng = np.random.default_rng(seed)
    prior = np.log(np.bincount(y, minlength=n_classes) + 1.0)
    init = [
        rng.normal(0, 1 / np.sqrt(d), (d, h)),
        np.zeros(h),
        np.zeros((h, n_classes)),
        prior - prior.mean(),
    ]
    theta0 = np.concatenate([p.ravel() for p in init])
    # Small matrices: BLAS threads only fight each other (and a training run) here. Fitting is
    # part of training, so threadpoolctl comes with the train extra.
    from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]

    with threadpool_limits(1):
        res = minimize(loss, theta0, jac=True, method="L-BFGS-B", options={"maxiter": 1000})
    w1, b1, w2, b2 = unpack(res.x)
    return RecordHead(mean, scale, w1, b1, w2, b2, float(l2), tuple(names))


#: Candidate L2 penalties, chosen by inner cross-validation. On out-of-fold evidence of two
#: folds, 1e-3 overfitted (CinC 0.76, below the plain mean's 0.78), 3e-2 gave 0.80, 1e-1 0.74.
L2_GRID = (3e-3, 1e-2, 3e-2, 1e-1)


def _nll(logits: FloatArray, truth: npt.NDArray[np.int64]) -> float:
    return float(-log_softmax(logits, axis=1)[np.arange(truth.size), truth].mean())


def cross_fit(
    features: npt.ArrayLike,
    truth: npt.ArrayLike,
    folds: npt.ArrayLike,
    l2_grid: tuple[float, ...] = L2_GRID,
    names: tuple[str, ...] = FEATURES,
    workers: int = 1,
    step: Callable[[int, int], None] | None = None,
) -> tuple[FloatArray, float]:
    """Out-of-fold logits of the head, and the penalty for the final fit.

    Each fold's rows are predicted by a head fitted on the other folds, with the penalty that
    had the lowest log-loss in an inner cross-validation over those other folds alone, so the
    logits are honest out-of-fold estimates. The returned penalty is the one with the lowest
    log-loss over all outer folds. With two folds there is no inner split and the middle of
    the grid is used. ``workers`` processes share the fits, which are independent and
    deterministic: the result does not depend on it. ``step(done, total)`` follows the fits.
    """
    x = np.asarray(features, np.float64)
    y = np.asarray(truth, np.int64)
    f = np.asarray(folds, np.int64)
    ids = [int(i) for i in np.unique(f)]
    # The inner fit that leaves out folds a and b serves both (a, b) and (b, a), so each
    # is made once.
    left_outs = [frozenset({held}) for held in ids]
    if len(ids) > 2:
        left_outs += [frozenset({a, b}) for n, a in enumerate(ids) for b in ids[n + 1 :]]
    keys = [(left_out, l2) for left_out in left_outs for l2 in l2_grid]
    fits = dict(zip(keys, _fit_all(x, y, f, keys, names, workers, step), strict=True))

    outer: dict[tuple[int, float], FloatArray] = {}
    for held in ids:
        for l2 in l2_grid:
            outer[(held, l2)] = fits[(frozenset({held}), l2)].logits(x[f == held])
    oof = np.zeros((y.size, len(CLASSES)))
    for held in ids:
        inner_ids = [i for i in ids if i != held]
        choice = l2_grid[len(l2_grid) // 2]
        if len(inner_ids) > 1:
            losses = {}
            for l2 in l2_grid:
                scores = []
                for inner in inner_ids:
                    head = fits[(frozenset({held, inner}), l2)]
                    scores.append(_nll(head.logits(x[f == inner]), y[f == inner]))
                losses[l2] = float(np.mean(scores))
            choice = min(losses, key=lambda k: losses[k])
        oof[f == held] = outer[(held, choice)]
    overall = {l2: float(np.mean([_nll(outer[(h, l2)], y[f == h]) for h in ids])) for l2 in l2_grid}
    return oof, min(overall, key=lambda k: overall[k])


#: The rows a worker process fits on, set once per process by :func:`_share`.
_SHARED: dict[str, Any] = {}


def _share(
    x: FloatArray, y: npt.NDArray[np.int64], f: npt.NDArray[np.int64], names: tuple[str, ...]
) -> None:
    _SHARED.update(x=x, y=y, f=f, names=names)


def _fit_without(key: tuple[frozenset[int], float]) -> RecordHead:
    left_out, l2 = key
    train = ~np.isin(_SHARED["f"], list(left_out))
    return fit_head(_SHARED["x"][train], _SHARED["y"][train], l2, names=_SHARED["names"])


def _fit_all(
    x: FloatArray,
    y: npt.NDArray[np.int64],
    f: npt.NDArray[np.int64],
    keys: list[tuple[frozenset[int], float]],
    names: tuple[str, ...],
    workers: int,
    step: Callable[[int, int], None] | None,
) -> list[RecordHead]:
    """The heads fitted without each key's folds at its penalty, in ``workers`` processes."""
    shared = (x, y, f, names)
    return map_shared(_fit_without, keys, workers, _share, shared, _SHARED.clear, step)


__all__ = ["L2_GRID", "cross_fit", "fit_head"]
