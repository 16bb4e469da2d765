"""Scoring rhythm classification: per-class F1, the CinC 2017 score, confusion, calibration."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from cardiostream.errors import InputError
from cardiostream.rhythm.verdict import CLASSES

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]


def confusion(truth: npt.ArrayLike, predicted: npt.ArrayLike, n_classes: int) -> IntArray:
    """Confusion matrix: rows are the truth, columns the prediction."""
    t = np.asarray(truth, np.int64)
    p = np.asarray(predicted, np.int64)
    if t.shape != p.shape:
        raise InputError(f"labels: {t.size} true labels but {p.size} predictions")
    if t.size and (min(t.min(), p.min()) < 0 or max(t.max(), p.max()) >= n_classes):
        raise InputError(f"labels: class indices must lie in 0..{n_classes - 1}")
    m = np.zeros((n_classes, n_classes), np.int64)
    np.add.at(m, (t, p), 1)
    return m


def f1_per_class(matrix: IntArray) -> FloatArray:
    """F1 of each class from a confusion matrix (NaN for a class never true nor predicted)."""
    tp = np.diag(matrix).astype(np.float64)
    denom = matrix.sum(0) + matrix.sum(1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(denom > 0, 2 * tp / denom, np.nan)


@dataclass(frozen=True)
class ClassificationScore:
    """Per-class F1, the CinC 2017 score and the confusion matrix."""

    f1: FloatArray
    matrix: IntArray

    @property
    def cinc(self) -> float:
        """The PhysioNet/CinC 2017 score: mean F1 of normal, AF and other (classes 0, 1, 2)."""
        return float(np.mean(self.f1[:3]))

    @property
    def accuracy(self) -> float:
        """Share of correct verdicts."""
        total = self.matrix.sum()
        return float(np.trace(self.matrix) / total) if total else float("nan")


def score_classification(
    truth: npt.ArrayLike, predicted: npt.ArrayLike, n_classes: int = 4
) -> ClassificationScore:
    """Score verdicts against the truth."""
    m = confusion(truth, predicted, n_classes)
    return ClassificationScore(f1_per_class(m), m)


def expected_calibration_error(
    probabilities: npt.ArrayLike, truth: npt.ArrayLike, n_bins: int = 15
) -> float:
    """ECE of the top-class probability: the bin-weighted mean |accuracy - confidence|."""
    p = np.asarray(probabilities, np.float64)
    t = np.asarray(truth, np.int64)
    conf = p.max(1)
    correct = (p.argmax(1) == t).astype(np.float64)
    bins = np.minimum((conf * n_bins).astype(np.int64), n_bins - 1)
    ece = 0.0
    for b in range(n_bins):
        sel = bins == b
        if sel.any():
            ece += sel.mean() * abs(correct[sel].mean() - conf[sel].mean())
    return float(ece)


def reliability(
    probabilities: npt.ArrayLike, truth: npt.ArrayLike, n_bins: int = 15
) -> tuple[FloatArray, FloatArray, IntArray]:
    """Per confidence bin: mean confidence, accuracy and count (for a reliability diagram)."""
    p = np.asarray(probabilities, np.float64)
    t = np.asarray(truth, np.int64)
    conf = p.max(1)
    correct = (p.argmax(1) == t).astype(np.float64)
    bins = np.minimum((conf * n_bins).astype(np.int64), n_bins - 1)
    counts = np.bincount(bins, minlength=n_bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_conf = np.bincount(bins, conf, n_bins) / counts
        accuracy = np.bincount(bins, correct, n_bins) / counts
    return mean_conf, accuracy, counts.astype(np.int64)


def fold_scores(
    labels: npt.NDArray[np.int64], logits: npt.ArrayLike, folds: npt.NDArray[np.int64]
) -> list[dict[str, Any]]:
    """Per-fold F1 and CinC score of out-of-fold logits."""
    z = np.asarray(logits)
    out = []
    for fold in np.unique(folds):
        s = score_classification(labels[folds == fold], z[folds == fold].argmax(1))
        out.append({"fold": int(fold), "f1": s.f1.tolist(), "cinc": s.cinc})
    return out


def fold_summary(
    labels: npt.NDArray[np.int64], logits: npt.ArrayLike, per_fold: list[dict[str, Any]]
) -> dict[str, Any]:
    """Per-fold scores, their mean ± sd, and the pooled F1 and confusion of the logits."""
    f1 = np.array([f["f1"] for f in per_fold])
    cinc = np.array([f["cinc"] for f in per_fold])
    pooled = score_classification(labels, np.asarray(logits).argmax(1))
    return {
        "folds": per_fold,
        "f1_mean": f1.mean(0).tolist(),
        "f1_sd": f1.std(0, ddof=1).tolist() if len(per_fold) > 1 else [0.0] * len(CLASSES),
        "cinc_mean": float(cinc.mean()),
        "cinc_sd": float(cinc.std(ddof=1)) if len(per_fold) > 1 else 0.0,
        "pooled_f1": pooled.f1.tolist(),
        "pooled_cinc": pooled.cinc,
        "confusion": pooled.matrix.tolist(),
    }
