"""Fitting the boosted trees beside the record head
(:class:`~cardiostream.rhythm.record_trees.RecordTrees`) with scikit-learn, and their
out-of-fold log-probabilities."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import numpy.typing as npt

from cardiostream.rhythm.record_head import FEATURES
from cardiostream.rhythm.record_trees import RecordTrees
from cardiostream.rhythm.verdict import CLASSES

FloatArray = npt.NDArray[np.float64]

#: scikit-learn's ``HistGradientBoostingClassifier`` settings: shallow trees (8 leaves, at
#: least 40 records each), a slow rate over a fixed 300 rounds and half the features per
#: split, for ~5,000 training records. Of the three settings tried on the out-of-fold
#: evidence (docs/decisions.md) this had the lowest log-loss; no early stopping, so that a
#: fit does not hinge on a random validation split.
PARAMS: dict[str, Any] = {
    "learning_rate": 0.03,
    "max_iter": 300,
    "max_leaf_nodes": 8,
    "min_samples_leaf": 40,
    "l2_regularization": 1.0,
    "max_features": 0.5,
    "early_stopping": False,
}

#: The window head's trees (:mod:`cardiostream.rhythm.window_head`): they run every second
#: of every stream, so far fewer trees (60 rounds: 240 trees, a fifth of the record's) of up
#: to 32 leaves and depth 6 at a faster rate, for ~28,000 training windows. The depth limit
#: scored better out of fold than none (trees alone: CinC 0.7645 against 0.7624, log-loss
#: 0.522 against 0.526) and bounds a verdict's walk (docs/decisions.md).
WINDOW_PARAMS: dict[str, Any] = {
    **PARAMS,
    "learning_rate": 0.1,
    "max_iter": 60,
    "max_leaf_nodes": 32,
    "max_depth": 6,
}


def _export(model: Any, names: tuple[str, ...]) -> RecordTrees:
    """A fitted ``HistGradientBoostingClassifier``'s trees as :class:`RecordTrees`."""
    feature: list[int] = []
    number: list[float] = []
    left: list[int] = []
    roots: list[int] = []
    tree_class: list[int] = []
    depth = 0
    for round_trees in model._predictors:
        for c, predictor in enumerate(round_trees):
            nodes = predictor.nodes
            if nodes["is_categorical"].any():
                raise ValueError("trees: categorical splits are not supported")
            roots.append(len(feature))
            tree_class.append(c)
            # Breadth first, so that a node's two children get consecutive numbers.
            order = [0]
            at: dict[int, int] = {0: len(feature)}
            k = 0
            while k < len(order):
                node = nodes[order[k]]
                if not node["is_leaf"]:
                    for child in (int(node["left"]), int(node["right"])):
                        at[child] = len(feature) + len(order)
                        order.append(child)
                k += 1
            for i in order:
                node = nodes[i]
                depth = max(depth, int(node["depth"]))
                if node["is_leaf"]:
                    feature.append(-1)
                    number.append(float(node["value"]))
                    left.append(-1)
                else:
                    feature.append(int(node["feature_idx"]))
                    number.append(float(node["num_threshold"]))
                    left.append(at[int(node["left"])])
    baseline = np.asarray(model._baseline_prediction, np.float64).ravel()
    return RecordTrees(
        np.asarray(feature, np.int64),
        np.asarray(number, np.float64),
        np.asarray(left, np.int64),
        np.asarray(roots, np.int64),
        np.asarray(tree_class, np.int64),
        baseline,
        depth,
        names,
    )


def fit_trees(
    features: npt.ArrayLike,
    truth: npt.ArrayLike,
    seed: int = 0,
    names: tuple[str, ...] = FEATURES,
    params: dict[str, Any] | None = None,
) -> RecordTrees:
    """Boosted trees (``params``, :data:`PARAMS` by default) fitted on feature rows and their
    classes."""
    from sklearn.ensemble import HistGradientBoostingClassifier  # type: ignore[import-untyped]
    from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]

    x = np.asarray(features, np.float64)
    y = np.asarray(truth, np.int64)
    if x.ndim != 2 or x.shape[1] != len(names):
        raise ValueError(f"fit_trees: features of shape {x.shape} for {len(names)} names")
    if not np.isfinite(x).all():
        raise ValueError("fit_trees: non-finite features")
    model = HistGradientBoostingClassifier(**(params or PARAMS), random_state=seed)
    # OpenMP threads over ~5,000 rows fight each other (and a training run) more than help.
    with threadpool_limits(1):
        model.fit(x, y)
    if list(model.classes_) != list(range(len(CLASSES))):
        raise ValueError(f"fit_trees: every class ({', '.join(CLASSES)}) needs records")
    return _export(model, names)


def cross_fit_trees(
    features: npt.ArrayLike,
    truth: npt.ArrayLike,
    folds: npt.ArrayLike,
    seed: int = 0,
    names: tuple[str, ...] = FEATURES,
    step: Callable[[int, int], None] | None = None,
    params: dict[str, Any] | None = None,
) -> FloatArray:
    """Out-of-fold log-probabilities: each fold's rows from trees fitted on the others."""
    x = np.asarray(features, np.float64)
    y = np.asarray(truth, np.int64)
    f = np.asarray(folds, np.int64)
    ids = [int(i) for i in np.unique(f)]
    out = np.zeros((y.size, len(CLASSES)))
    for n, held in enumerate(ids):
        trees = fit_trees(x[f != held], y[f != held], seed, names, params)
        out[f == held] = trees.log_probabilities(x[f == held])
        if step is not None:
            step(n + 1, len(ids))
    return out


__all__ = ["PARAMS", "WINDOW_PARAMS", "cross_fit_trees", "fit_trees"]
