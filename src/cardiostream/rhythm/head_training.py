"""Fitting the record head on out-of-fold evidence (needs torch: the train extra).

After cross-validation, every CinC record is run through the exact inference path of
:class:`cardiostream.rhythm.infer.RhythmModel` (raw file, conditioning, quality, the frames
that vote) by the network of the fold that did not see it. The resulting evidence
(:func:`cardiostream.rhythm.record_head.record_features`) is honest out-of-fold input for the
head, which is cross-fitted on the same folds (its out-of-fold figures are the ones reported),
temperature-scaled, given its threshold, and finally fitted on every record.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import torch
from scipy.special import softmax

from cardiostream.errors import InputError
from cardiostream.evaluate.classification import expected_calibration_error
from cardiostream.io import read
from cardiostream.rhythm.calibrate import calibrated, choose_threshold, fit_temperature
from cardiostream.rhythm.cv import fold_scores, fold_summary
from cardiostream.rhythm.infer import (
    _config_from_json,
    _prepare,
    batched_frame_logits,
    voting_frames,
)
from cardiostream.rhythm.model import NetConfig, RhythmNet
from cardiostream.rhythm.model_card import model_card
from cardiostream.rhythm.preprocess import MODEL_FS
from cardiostream.rhythm.record_head import (
    FEATURES,
    cross_fit,
    fit_head,
    record_features,
)

Step = Callable[[int, int], None]


def oof_evidence(
    data_dir: Path,
    names: list[str],
    folds: npt.NDArray[np.int64],
    training_dir: Path,
    step: Step | None = None,
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Record features and the plain record logits (log of the voting frames' mean
    probability), each from the network of the record's own fold."""
    meta = json.loads((training_dir / "training.json").read_text())
    cfg = NetConfig(**_config_from_json(meta["config"]["net"]))
    nets: dict[int, RhythmNet] = {}
    for fold_id in (int(f) for f in np.unique(folds)):
        path = training_dir / "folds" / f"fold{fold_id}.pt"
        if not path.is_file():
            raise InputError(f"{path}: missing (cardiostream train saves one network per fold)")
        net = RhythmNet(cfg)
        net.load_state_dict(torch.load(path, map_location="cpu"))
        nets[fold_id] = net.eval()
    prepared = []
    for i, name in enumerate(names):
        record = read(data_dir / f"{name}.hea")
        prepared.append(_prepare(record.lead(0), record.fs, cfg.inputs))
        if step is not None:
            step(i + 1, len(names))
    features = np.zeros((len(names), len(FEATURES)))
    plain = np.zeros((len(names), 4))
    for fold, net in nets.items():
        members = np.flatnonzero(folds == fold)

        def run(x: npt.NDArray[np.float32], net: RhythmNet = net) -> npt.NDArray[np.float32]:
            with torch.no_grad():
                out: npt.NDArray[np.float32] = net(torch.from_numpy(x)).numpy()
            return out

        # Batched exactly as RhythmModel batches, so the evidence is what inference sees.
        member_frames = batched_frame_logits([prepared[i] for i in members], run, cfg.inputs)
        for row, frames in zip(members, member_frames, strict=True):
            prep = prepared[row]
            z = frames.astype(np.float64)[:, voting_frames(frames.shape[-1], prep)]
            p = softmax(z, 0)
            features[row] = record_features(p.T, prep.peaks, MODEL_FS, prep.n_real, prep.ecg)
            plain[row] = np.log(np.clip(p.mean(1), 1e-12, None))
    return features, plain


def _scores(
    labels: npt.NDArray[np.int64], logits: npt.NDArray[np.float64], folds: npt.NDArray[np.int64]
) -> dict[str, Any]:
    return fold_summary(labels, logits, fold_scores(labels, logits, folds))


def fit_record_head(
    training_dir: str | Path,
    data_dir: str | Path,
    step: Step | None = None,
    evidence: tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]] | None = None,
) -> dict[str, Any]:
    """Fit the head from a training run's folds; update its ``model.json`` and
    ``training.json``; write ``head_oof.npz``. Returns the head's summary.

    ``evidence`` is the output of :func:`oof_evidence` for the run's records when it was
    already computed; otherwise it is computed here.
    """
    training_dir, data_dir = Path(training_dir), Path(data_dir)
    with np.load(training_dir / "oof.npz") as z:
        names = [str(n) for n in z["names"]]
        labels = np.asarray(z["labels"], np.int64)
        folds = np.asarray(z["folds"], np.int64)
    if evidence is None:
        evidence = oof_evidence(data_dir, names, folds, training_dir, step)
    features, plain = evidence
    head_oof, l2 = cross_fit(features, labels, folds)
    temperature = fit_temperature(head_oof, labels)
    probs = calibrated(head_oof, temperature)
    threshold = choose_threshold(probs, labels)
    kept = probs.max(1) >= threshold
    right = probs.argmax(1) == labels
    plain_t = fit_temperature(plain, labels)
    summary: dict[str, Any] = {
        **_scores(labels, head_oof, folds),
        "l2": l2,
        "temperature": temperature,
        "threshold": threshold,
        "coverage": float(kept.mean()),
        "confident_accuracy": float(right[kept].mean()) if kept.any() else float("nan"),
        "ece_before": expected_calibration_error(calibrated(head_oof, 1.0), labels),
        "ece_after": expected_calibration_error(probs, labels),
        "plain": {
            **_scores(labels, plain, folds),
            "ece_after": expected_calibration_error(calibrated(plain, plain_t), labels),
        },
    }
    np.savez_compressed(
        training_dir / "head_oof.npz",
        names=np.array(names),
        labels=labels,
        folds=folds,
        features=features,
        plain_logits=plain,
        head_logits=head_oof,
    )
    head = fit_head(features, labels, l2)
    meta_path = training_dir / "model.json"
    if meta_path.is_file():
        meta = json.loads(meta_path.read_text())
        meta["record_head"] = {
            **head.to_dict(),
            "temperature": temperature,
            "threshold": threshold,
            "cv": {k: summary[k] for k in ("cinc_mean", "cinc_sd", "f1_mean", "f1_sd")},
        }
        meta_path.write_text(json.dumps(meta, indent=2) + "\n")
    train_path = training_dir / "training.json"
    train_summary = json.loads(train_path.read_text())
    train_summary["record_head"] = summary
    train_path.write_text(json.dumps(train_summary, indent=2) + "\n")
    if "parameters" in train_summary:
        (training_dir / "MODEL_CARD.md").write_text(model_card(train_summary))
    return summary
