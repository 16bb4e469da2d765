"""Record-level stratified cross-validation of the rhythm network, then the final fit.

``run_training`` is what ``cardiostream train`` does: k folds, each trained on the other
folds and predicting its own records (out-of-fold logits); per-fold and mean ± sd scores;
a temperature fitted on all out-of-fold logits; then one network trained on every record,
saved with its temperature, its ONNX graph and a JSON summary.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import torch

from cardiostream.beats.model_files import write_model_json
from cardiostream.evaluate.classification import (
    expected_calibration_error,
    fold_summary,
    score_classification,
)
from cardiostream.rhythm.model import RhythmNet, count_parameters
from cardiostream.rhythm.verdict import CLASSES
from cardiostream.training.calibrate import calibrated, choose_threshold, fit_temperature
from cardiostream.training.datasets import CincDataset, stratified_folds
from cardiostream.training.model_card import model_card
from cardiostream.training.train import TrainConfig, record_logits, train_model

Progress = Callable[[str, int, int, float], None]


def cross_validate(
    data: CincDataset,
    cfg: TrainConfig,
    *,
    k: int = 5,
    noise: dict[str, npt.NDArray[np.float32]] | None = None,
    progress: Progress | None = None,
    save_dir: Path | None = None,
) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.int64], list[dict[str, Any]]]:
    """Out-of-fold record logits, the fold of each record, and per-fold scores.

    With ``save_dir``, each fold's network is saved there as ``fold<i>.pt`` (a state dict), so
    that out-of-fold outputs other than the record logits can be computed later.
    """
    folds = stratified_folds(data.labels, k=k, seed=cfg.seed)
    oof = np.zeros((len(data.names), len(CLASSES)), np.float32)
    per_fold = []
    for fold in range(k):
        train_idx = np.flatnonzero(folds != fold)
        test_idx = np.flatnonzero(folds == fold)

        def on_epoch(epoch: int, loss: float, fold: int = fold) -> None:
            if progress is not None:
                progress(f"fold {fold + 1}/{k}", epoch + 1, cfg.epochs, loss)

        model = train_model(*data.take(train_idx), cfg, noise=noise, on_epoch=on_epoch)
        if save_dir is not None:
            save_dir.mkdir(parents=True, exist_ok=True)
            torch.save(model.state_dict(), save_dir / f"fold{fold}.pt")
        oof[test_idx] = record_logits(model, [data.signals[i] for i in test_idx], cfg)
        s = score_classification(data.labels[test_idx], oof[test_idx].argmax(1))
        per_fold.append({"fold": fold, "f1": s.f1.tolist(), "cinc": s.cinc})
    return oof, folds, per_fold


def summarise(
    labels: npt.NDArray[np.int64],
    oof: npt.NDArray[np.float32],
    per_fold: list[dict[str, Any]],
    temperature: float,
) -> dict[str, Any]:
    """CV figures: per-fold, mean ± sd, pooled confusion, ECE before and after scaling."""
    return {
        "classes": list(CLASSES),
        **fold_summary(labels, oof, per_fold),
        "temperature": temperature,
        "ece_before": expected_calibration_error(calibrated(oof, 1.0), labels),
        "ece_after": expected_calibration_error(calibrated(oof, temperature), labels),
    }


def run_training(
    data: CincDataset,
    out_dir: str | Path,
    cfg: TrainConfig,
    *,
    k: int = 5,
    noise: dict[str, npt.NDArray[np.float32]] | None = None,
    progress: Progress | None = None,
    final: bool = True,
    raw_dir: str | Path | None = None,
) -> dict[str, Any]:
    """Cross-validate, calibrate, train the final model and write everything to ``out_dir``.

    With ``raw_dir`` (the CinC folder the dataset was read from), the record head is then
    fitted on the folds' out-of-fold evidence (:mod:`cardiostream.training.heads`).
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    oof, folds, per_fold = cross_validate(
        data, cfg, k=k, noise=noise, progress=progress, save_dir=out / "folds"
    )
    temperature = fit_temperature(oof, data.labels)
    summary = summarise(data.labels, oof, per_fold, temperature)
    probs = calibrated(oof, temperature)
    threshold = choose_threshold(probs, data.labels)
    kept = probs.max(1) >= threshold
    summary["threshold"] = threshold
    summary["coverage"] = float(kept.mean())
    right = probs.argmax(1) == data.labels
    summary["confident_accuracy"] = float(right[kept].mean()) if kept.any() else float("nan")
    np.savez_compressed(
        out / "oof.npz", names=np.array(data.names), labels=data.labels, logits=oof, folds=folds
    )
    summary["cv_seconds"] = time.perf_counter() - started
    summary["config"] = asdict(cfg)
    summary["class_counts"] = data.class_counts()
    if final:
        from cardiostream.training.export import export_fast, export_onnx

        def on_epoch(epoch: int, loss: float) -> None:
            if progress is not None:
                progress("final", epoch + 1, cfg.epochs, loss)

        model: RhythmNet = train_model(
            data.signals, data.labels, cfg, noise=noise, on_epoch=on_epoch
        )
        torch.save(model.state_dict(), out / "rhythm.pt")
        export_onnx(model, out / "rhythm.onnx")
        export_fast(model, out / "rhythm.npz")
        summary["parameters"] = count_parameters(model)
        meta = {
            "classes": list(CLASSES),
            "fs": 250.0,
            "temperature": temperature,
            "threshold": threshold,
            "net": cfg.net.to_dict(),
            "parameters": summary["parameters"],
            "cv": {key: summary[key] for key in ("cinc_mean", "cinc_sd", "f1_mean", "f1_sd")},
        }
        write_model_json(out, "model.json", meta)
        (out / "MODEL_CARD.md").write_text(model_card(summary))
    summary["seconds"] = time.perf_counter() - started
    (out / "training.json").write_text(json.dumps(summary, indent=2) + "\n")
    if final and raw_dir is not None:
        from cardiostream.training.heads import fit_heads

        def step(stage: str, done: int, total: int) -> None:
            if progress is not None:
                progress(stage, done, total, float("nan"))

        summary.update(fit_heads(out, raw_dir, step))
        from cardiostream.training.parallel import default_workers
        from cardiostream.training.rr_fusion import fit_rr_fusion

        summary["window_fusion"] = fit_rr_fusion(out, raw_dir, step=step, workers=default_workers())
        summary["seconds"] = time.perf_counter() - started
        (out / "training.json").write_text(json.dumps(summary, indent=2) + "\n")
    return summary
