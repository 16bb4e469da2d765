"""Gradient-boosted trees beside the record head (:mod:`cardiostream.rhythm.record_head`).

The record head is a small network over a record's evidence; boosted trees over the same
inputs err differently (they cut single features at thresholds where the network draws
smooth boundaries), and the mean of the two log-probabilities scored above either alone on
every CinC fold. The trees are fitted with scikit-learn
(:mod:`cardiostream.training.record_trees_fit`) and kept as plain arrays, so a verdict needs
neither scikit-learn nor pickles: every tree's nodes are numbered breadth first, with a
node's right child right after its left one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy.special import log_softmax

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

#: The trees' share of the record verdict's log-probabilities; fixed at an even blend
#: before looking at the blend's scores (see docs/decisions.md).
TREE_WEIGHT = 0.5


@dataclass(frozen=True)
class RecordTrees:
    """Boosted trees: class ``c``'s score is ``baseline[c]`` plus the leaf values reached in
    the trees of class ``c``; the probabilities are the softmax of the scores.

    ``feature[i]`` is the input node ``i`` splits on (-1 for a leaf), ``number[i]`` its
    threshold (a row goes left when its value is at most it) or a leaf's value, ``left[i]``
    its left child (the right one is ``left[i] + 1``). Tree ``t`` starts at node
    ``roots[t]`` and adds to class ``tree_class[t]``.
    """

    feature: IntArray
    number: FloatArray
    left: IntArray
    roots: IntArray
    tree_class: IntArray
    baseline: FloatArray
    depth: int
    #: The names of its inputs, in order.
    features: tuple[str, ...]

    def scores(self, x: npt.ArrayLike) -> FloatArray:
        """Class scores ``[n, n_classes]`` of feature rows ``[n, n_features]``."""
        rows = np.atleast_2d(np.asarray(x, np.float64))
        if rows.shape[1] != len(self.features):
            raise ValueError(f"trees: expected {len(self.features)} features, got {rows.shape[1]}")
        node = np.broadcast_to(self.roots, (rows.shape[0], self.roots.size)).copy()
        r = np.arange(rows.shape[0])[:, None]
        for _ in range(self.depth):
            f = self.feature[node]
            inner = f >= 0
            # A leaf stays where it is; a NaN input goes right, as comparisons with it fail.
            go_left = rows[r, np.maximum(f, 0)] <= self.number[node]
            node = np.where(inner, self.left[node] + (~go_left), node)
        leaf = self.number[node]
        out = np.tile(self.baseline, (rows.shape[0], 1))
        for c in range(self.baseline.size):
            out[:, c] += leaf[:, self.tree_class == c].sum(1)
        return out

    def log_probabilities(self, x: npt.ArrayLike) -> FloatArray:
        """Log-probabilities ``[n, n_classes]`` of feature rows."""
        out: FloatArray = log_softmax(self.scores(x), axis=1)
        return out

    def to_dict(self) -> dict[str, Any]:
        """Plain data for ``model.json``."""
        return {
            "features": list(self.features),
            "feature": self.feature.tolist(),
            "number": self.number.tolist(),
            "left": self.left.tolist(),
            "roots": self.roots.tolist(),
            "tree_class": self.tree_class.tolist(),
            "baseline": self.baseline.tolist(),
            "depth": self.depth,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any], features: tuple[str, ...]) -> RecordTrees:
        """Inverse of :meth:`to_dict`; refuses trees made for other ``features`` than this
        version computes, or whose nodes do not hold together."""
        if list(data.get("features", [])) != list(features):
            raise ValueError("trees: their features differ from this version's")
        feature = np.asarray(data["feature"], np.int64)
        number = np.asarray(data["number"], np.float64)
        left = np.asarray(data["left"], np.int64)
        roots = np.asarray(data["roots"], np.int64)
        tree_class = np.asarray(data["tree_class"], np.int64)
        baseline = np.asarray(data["baseline"], np.float64)
        n = feature.size
        inner = feature >= 0
        if (
            number.size != n
            or left.size != n
            or roots.size != tree_class.size
            or np.any(feature >= len(features))
            or np.any((left[inner] < 0) | (left[inner] + 1 >= n))
            or np.any((roots < 0) | (roots >= n))
            or np.any((tree_class < 0) | (tree_class >= baseline.size))
        ):
            raise ValueError("trees: inconsistent node arrays")
        return cls(feature, number, left, roots, tree_class, baseline, int(data["depth"]), features)


def blend(head_logits: npt.ArrayLike, tree_log_p: npt.ArrayLike) -> FloatArray:
    """The record verdict's logits: the head's log-probabilities and the trees', weighed
    ``1 - TREE_WEIGHT`` and :data:`TREE_WEIGHT`."""
    head = log_softmax(np.asarray(head_logits, np.float64), axis=-1)
    out: FloatArray = (1.0 - TREE_WEIGHT) * head + TREE_WEIGHT * np.asarray(tree_log_p)
    return out


__all__ = ["TREE_WEIGHT", "RecordTrees", "blend"]
