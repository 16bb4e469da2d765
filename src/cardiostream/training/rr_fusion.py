"""Fitting the RR fusion (:mod:`cardiostream.rhythm.rr_fusion`) on CinC 2017.

The rows are the window head's out-of-fold verdicts of a training run (``window_oof.npz``:
every :data:`~cardiostream.training.heads.WINDOW_STEP`-th second with a full 10 s of context,
labelled with its record's class, in its record's fold), calibrated with the window head's
temperature. For each row the RR AF detector (trained on LTAFDB, never on CinC or MITDB)
gives its ``p_af`` at the last beat confirmed by the window's end, on the R peaks the
inference path finds in the record. The fusion is cross-fitted on the records' folds (its
out-of-fold verdicts are the ones reported, beside the window head's own), its penalty chosen
from :data:`L2_GRID` by the out-of-fold log-loss, its threshold by the window head's rule (the
90 % rule on each record's mean verdict), and it is finally fitted on every row.

Needs no torch: the window head's verdicts are read from the run's files.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from itertools import repeat
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy.optimize import minimize
from scipy.special import log_softmax, softmax

from cardiostream.beats.model_files import write_model_json
from cardiostream.errors import InputError
from cardiostream.evaluate.classification import (
    expected_calibration_error,
    fold_scores,
    fold_summary,
)
from cardiostream.io import read
from cardiostream.rhythm.infer import prepare_record
from cardiostream.rhythm.preprocess import FRAME
from cardiostream.rhythm.rr_fusion import INPUTS, RRFeed, RRFusion, fusion_inputs
from cardiostream.rhythm.verdict import CLASSES
from cardiostream.rhythm.window_head import BEAT_DELAY, WINDOW_S
from cardiostream.training.calibrate import af_rates, choose_threshold, group_means
from cardiostream.training.model_card import model_card
from cardiostream.training.parallel import process_map

FloatArray = npt.NDArray[np.float64]
Step = Callable[[str, int, int], None]
#: Penalties (on the weights' distance from the identity) tried by the cross-fit.
L2_GRID = (1e-4, 1e-3, 1e-2)


def _record_peaks(path: Path, channels: int) -> tuple[npt.NDArray[np.int64], int]:
    """The R peaks (250 Hz samples) and whole seconds of a record, as inference (and the
    window head's evidence) finds them."""
    record = read(path)
    prep = prepare_record(record.lead(0), record.fs, channels)
    return np.asarray(prep.peaks, np.int64), int(prep.n_real)


def window_p_af(peaks: npt.NDArray[np.int64], n_real: int, step: int) -> npt.NDArray[np.float64]:
    """The detector's ``p_af`` at the end of every ``step``-th second with a full 10 s of
    context (the rows of ``window_oof.npz`` for one record)."""
    at = np.arange(WINDOW_S - 1, n_real, step)
    return RRFeed().at(peaks, FRAME * (at + 1), BEAT_DELAY)


def fit_fusion(x: FloatArray, y: npt.NDArray[np.int64], l2: float) -> tuple[FloatArray, FloatArray]:
    """Penalised maximum likelihood (L-BFGS): weights ``[4, len(INPUTS)]`` and bias ``[4]``,
    ``l2`` times the squared distance of the weights from the identity on the
    log-probabilities (and from 0 on the RR inputs)."""
    n, d = x.shape
    k = len(CLASSES)
    prior = np.zeros((k, d))
    prior[:, :k] = np.eye(k)
    rows = np.arange(n)

    def loss(theta: FloatArray) -> tuple[float, FloatArray]:
        w, b = theta[: k * d].reshape(k, d), theta[k * d :]
        z = x @ w.T + b
        nll = -float(log_softmax(z, 1)[rows, y].mean())
        g = softmax(z, 1)
        g[rows, y] -= 1.0
        g /= n
        dw = w - prior
        grad = np.concatenate([(g.T @ x + 2 * l2 * dw).ravel(), g.sum(0)])
        return nll + l2 * float((dw * dw).sum()), grad

    theta0 = np.concatenate([prior.ravel(), np.zeros(k)])
    res = minimize(loss, theta0, jac=True, method="L-BFGS-B")
    return res.x[: k * d].reshape(k, d), res.x[k * d :]


def _cross_fit(
    x: FloatArray, y: npt.NDArray[np.int64], folds: npt.NDArray[np.int64], l2: float
) -> FloatArray:
    out = np.zeros((y.size, len(CLASSES)))
    for fold in np.unique(folds):
        test = folds == fold
        w, b = fit_fusion(x[~test], y[~test], l2)
        out[test] = x[test] @ w.T + b
    return out


def _log_loss(z: FloatArray, y: npt.NDArray[np.int64]) -> float:
    return -float(log_softmax(z, 1)[np.arange(y.size), y].mean())


def fit_rr_fusion(
    training_dir: str | Path,
    data_dir: str | Path,
    model_dirs: list[Path] | None = None,
    step: Step | None = None,
    workers: int = 1,
) -> dict[str, Any]:
    """Fit the fusion of a training run; write it into ``model.json`` of the run and of
    every folder of ``model_dirs``, its summary into ``training.json``, its out-of-fold
    verdicts into ``fusion_oof.npz``.

    Returns the summary: out-of-fold scores of the window head alone and fused, the penalty,
    calibration error, threshold, coverage, and the share of rows with RR evidence.
    """
    training_dir, data_dir = Path(training_dir), Path(data_dir)
    summary_path = training_dir / "training.json"
    if not (training_dir / "window_oof.npz").is_file() or not summary_path.is_file():
        raise InputError(f"{training_dir}: no window_oof.npz and training.json (fit-heads)")
    train_summary = json.loads(summary_path.read_text())
    window_summary = train_summary["window_head"]
    with np.load(training_dir / "head_oof.npz") as z:
        names = [str(n) for n in z["names"]]
    with np.load(training_dir / "window_oof.npz") as z:
        record = np.asarray(z["record"], np.int64)
        labels = np.asarray(z["labels"], np.int64)
        folds = np.asarray(z["folds"], np.int64)
        head_logits = np.asarray(z["head_logits"], np.float64)
    paths = [data_dir / f"{name}.hea" for name in names]
    stride = int(window_summary.get("step_s", 6))
    channels = int(train_summary["config"]["net"]["inputs"])
    p_af: list[FloatArray] = []
    with process_map(workers, chunksize=32) as pool_map:
        for peaks, n_real in pool_map(_record_peaks, paths, repeat(channels)):
            p_af.append(window_p_af(peaks, n_real, stride))
            if step is not None:
                step("fusion: beats", len(p_af), len(paths))
    rr = np.concatenate(p_af)
    if rr.size != record.size:
        raise InputError(
            f"{training_dir}: {record.size} window rows, but the records give {rr.size} "
            "(window_oof.npz is of another data folder or step)"
        )
    log_p = log_softmax(head_logits / float(window_summary["temperature"]), 1)
    x = fusion_inputs(log_p, rr)
    losses = {}
    oofs = {}
    for i, l2 in enumerate(L2_GRID):
        oofs[l2] = _cross_fit(x, labels, folds, l2)
        losses[l2] = _log_loss(oofs[l2], labels)
        if step is not None:
            step("fusion: cross-fit", i + 1, len(L2_GRID))
    l2 = min(L2_GRID, key=lambda v: losses[v])
    oof = oofs[l2]
    probs = softmax(oof, 1)
    threshold = choose_threshold(*group_means(probs, labels, record))
    kept = probs.max(1) >= threshold
    summary: dict[str, Any] = {
        **fold_summary(labels, oof, fold_scores(labels, oof, folds)),
        "head": fold_summary(labels, log_p, fold_scores(labels, log_p, folds)),
        "l2": l2,
        "log_loss": {str(k): v for k, v in losses.items()},
        "head_log_loss": _log_loss(log_p, labels),
        "threshold": threshold,
        "coverage": float(kept.mean()),
        "confident_accuracy": float((probs.argmax(1) == labels)[kept].mean()),
        "ece": expected_calibration_error(probs, labels),
        "rr_known": float((rr > 0).mean()),
        "af_windows": {"head": af_rates(log_p, labels), "fused": af_rates(oof, labels)},
        "n_windows": int(labels.size),
    }
    weights, bias = fit_fusion(x, labels, l2)
    entry = {
        **RRFusion(weights, bias, threshold).to_dict(),
        "cv": {k: summary[k] for k in ("cinc_mean", "cinc_sd", "f1_mean", "f1_sd")},
    }
    np.savez_compressed(
        training_dir / "fusion_oof.npz",
        rr_p_af=rr.astype(np.float32),
        logits=oof.astype(np.float32),
    )
    for folder in [training_dir, *(model_dirs or [])]:
        meta_path = folder / "model.json"
        if meta_path.is_file():
            meta = json.loads(meta_path.read_text())
            meta["window_fusion"] = entry
            write_model_json(folder, meta_path.name, meta)
    train_summary["window_fusion"] = summary
    summary_path.write_text(json.dumps(train_summary, indent=2) + "\n")
    if "parameters" in train_summary:
        for folder in [training_dir, *(model_dirs or [])]:
            if (folder / "model.json").is_file():
                (folder / "MODEL_CARD.md").write_text(model_card(train_summary))
    return summary


__all__ = ["INPUTS", "L2_GRID", "fit_fusion", "fit_rr_fusion", "window_p_af"]
