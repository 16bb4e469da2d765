"""Fitting the record and window heads on out-of-fold evidence (needs torch: the train extra).

After cross-validation, every CinC record is run through the exact inference path of
:class:`cardiostream.rhythm.infer.RhythmModel` (raw file, conditioning, quality, the frames
that vote) by the network of the fold that did not see it. The resulting evidence
(:func:`cardiostream.rhythm.record_head.record_features`) is honest out-of-fold input for the
record head, which is cross-fitted on the same folds (its out-of-fold figures are the ones
reported), temperature-scaled, given its threshold, and finally fitted on every record.

The window head (:mod:`cardiostream.rhythm.window_head`) is fitted the same way on the same
out-of-fold frames: every :data:`WINDOW_STEP`-th second with a full 10 s of context, labelled
with its record's class, its folds those of its record.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from itertools import repeat
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt
import torch
from scipy.special import softmax

from cardiostream.beats.model_files import write_model_json
from cardiostream.errors import InputError
from cardiostream.evaluate.classification import (
    expected_calibration_error,
    fold_scores,
    fold_summary,
)
from cardiostream.io import read
from cardiostream.rhythm.bundle import config_from_json
from cardiostream.rhythm.infer import (
    PreparedRecord,
    batched_frame_logits,
    prepare_record,
    voting_frames,
)
from cardiostream.rhythm.model import NetConfig, RhythmNet
from cardiostream.rhythm.preprocess import MODEL_FS
from cardiostream.rhythm.record_head import FEATURES, SEQUENCE_FEATURES, record_features
from cardiostream.rhythm.record_trees import blend
from cardiostream.rhythm.verdict import CLASSES
from cardiostream.rhythm.window_head import WINDOW_FEATURES, WINDOW_S, record_window_features
from cardiostream.training.beat_sequence import cross_fit_sequence, fit_sequence
from cardiostream.training.calibrate import (
    af_rates,
    calibrated,
    choose_threshold,
    fit_temperature,
    group_means,
)
from cardiostream.training.model_card import model_card
from cardiostream.training.parallel import default_workers, process_map
from cardiostream.training.record_head_fit import L2_GRID, cross_fit, fit_head
from cardiostream.training.record_trees_fit import WINDOW_PARAMS, cross_fit_trees, fit_trees

Step = Callable[[int, int], None]
#: Seconds between the frames that train the window head: neighbouring frames share 9 s of
#: their 10. Every sixth second scored as every third did on the shipped run's cross-fit
#: (CinC 0.766 against 0.765, on all third seconds) at half the fitting time.
WINDOW_STEP = 6
#: Inner-CV penalties of the window head: it has ~8 times more rows than the record head, so
#: the grid reaches lower; on the first out-of-fold run 3e-3 was chosen from 3e-3 to 1e-1.
WINDOW_L2_GRID = (1e-3, 3e-3, 1e-2)


class Evidence(NamedTuple):
    """Out-of-fold evidence of every record, each from the network of its own fold."""

    features: npt.NDArray[np.float64]  # [records, FEATURES] for the record head
    plain: npt.NDArray[np.float64]  # [records, 4]: log of the voting frames' mean probability
    windows: npt.NDArray[np.float64]  # [windows, WINDOW_FEATURES] for the window head
    window_record: npt.NDArray[np.int64]  # the record of each window row
    # Each record's rows for the beat-sequence network; the record features' sequence
    # columns stay zero until fit_heads fills them out of fold.
    sequences: list[npt.NDArray[np.float64]]


def _prepare_file(path: Path, channels: int) -> PreparedRecord:
    record = read(path)
    return prepare_record(record.lead(0), record.fs, channels)


def oof_evidence(
    data_dir: Path,
    names: list[str],
    folds: npt.NDArray[np.int64],
    training_dir: Path,
    step: Step | None = None,
    workers: int = 1,
) -> Evidence:
    """Record and window features and the plain record logits, each record's from the
    network of its own fold; ``workers`` processes read and condition the records."""
    meta = json.loads((training_dir / "training.json").read_text())
    cfg = NetConfig(**config_from_json(meta["config"]["net"]))
    nets: dict[int, RhythmNet] = {}
    for fold_id in (int(f) for f in np.unique(folds)):
        path = training_dir / "folds" / f"fold{fold_id}.pt"
        if not path.is_file():
            raise InputError(f"{path}: missing (cardiostream train saves one network per fold)")
        net = RhythmNet(cfg)
        net.load_state_dict(torch.load(path, map_location="cpu"))
        nets[fold_id] = net.eval()
    paths = [data_dir / f"{name}.hea" for name in names]
    prepared: list[PreparedRecord] = []
    with process_map(workers, chunksize=32) as pool_map:
        for prep in pool_map(_prepare_file, paths, repeat(cfg.inputs)):
            prepared.append(prep)
            if step is not None:
                step(len(prepared), len(names))
    features = np.zeros((len(names), len(FEATURES)))
    no_sequence = np.zeros(len(SEQUENCE_FEATURES))
    plain = np.zeros((len(names), 4))
    windows: list[npt.NDArray[np.float64]] = [np.zeros((0, len(WINDOW_FEATURES)))] * len(names)
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
            features[row] = record_features(
                p.T, prep.peaks, MODEL_FS, prep.n_real, prep.ecg, prep.beats, no_sequence
            )
            plain[row] = np.log(np.clip(p.mean(1), 1e-12, None))
            # Frames of the real seconds only (a record under 10 s has none with full context).
            real = frames[:, frames.shape[-1] - prep.n_real :]
            at = np.arange(WINDOW_S - 1, prep.n_real, WINDOW_STEP)
            windows[row] = record_window_features(real, prep.ecg, prep.peaks, at)
    window_record = np.concatenate(
        [np.full(w.shape[0], i, np.int64) for i, w in enumerate(windows)]
    )
    sequences = [prep.sequence for prep in prepared]
    return Evidence(features, plain, np.concatenate(windows), window_record, sequences)


def _scores(
    labels: npt.NDArray[np.int64], logits: npt.NDArray[np.float64], folds: npt.NDArray[np.int64]
) -> dict[str, Any]:
    return fold_summary(labels, logits, fold_scores(labels, logits, folds))


def _fit(
    features: npt.NDArray[np.float64],
    labels: npt.NDArray[np.int64],
    folds: npt.NDArray[np.int64],
    baseline: npt.NDArray[np.float64],
    names: tuple[str, ...],
    l2_grid: tuple[float, ...],
    groups: npt.NDArray[np.int64] | None = None,
    workers: int = 1,
    step: Step | None = None,
    trees_oof: npt.NDArray[np.float64] | None = None,
) -> tuple[dict[str, Any], dict[str, Any], npt.NDArray[np.float64]]:
    """Cross-fit, calibrate and threshold one head, then fit it on every row: its summary,
    its ``model.json`` entry and its out-of-fold logits. ``baseline`` are the logits the head
    replaces, scored beside it. With ``groups`` (the record of each row) the threshold is
    chosen on each group's mean probabilities, where the labels hold (see
    :func:`~cardiostream.training.calibrate.group_means`). With ``trees_oof`` (boosted
    trees' out-of-fold log-probabilities) the verdict is the two blended
    (:func:`~cardiostream.rhythm.record_trees.blend`): the temperature, threshold and
    scores are the blend's, and the network's own scores are kept apart."""
    head_oof, l2 = cross_fit(features, labels, folds, l2_grid, names, workers, step)
    network_scores = None
    if trees_oof is not None:
        network_scores = _scores(labels, head_oof, folds)
        head_oof = blend(head_oof, trees_oof)
    temperature = fit_temperature(head_oof, labels)
    probs = calibrated(head_oof, temperature)
    if groups is None:
        threshold = choose_threshold(probs, labels)
    else:
        threshold = choose_threshold(*group_means(probs, labels, groups))
    kept = probs.max(1) >= threshold
    right = probs.argmax(1) == labels
    plain_t = fit_temperature(baseline, labels)
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
            **_scores(labels, baseline, folds),
            "ece_after": expected_calibration_error(calibrated(baseline, plain_t), labels),
        },
    }
    if trees_oof is not None:
        summary["network"] = network_scores
        summary["trees"] = _scores(labels, trees_oof, folds)
    head = fit_head(features, labels, l2, names=names)
    entry = {
        **head.to_dict(),
        "temperature": temperature,
        "threshold": threshold,
        "cv": {k: summary[k] for k in ("cinc_mean", "cinc_sd", "f1_mean", "f1_sd")},
    }
    return summary, entry, head_oof


def fit_heads(
    training_dir: str | Path,
    data_dir: str | Path,
    step: Callable[[str, int, int], None] | None = None,
    evidence: Evidence | None = None,
    workers: int | None = None,
) -> dict[str, Any]:
    """Fit the record and window heads from a training run's folds; update its
    ``model.json`` and ``training.json``; write ``head_oof.npz``, ``window_oof.npz`` and
    ``window_features.npz``.

    Returns ``{"record_head": summary, "window_head": summary}``. ``evidence`` is the output
    of :func:`oof_evidence` for the run's records when it was already computed; otherwise it
    is computed here. ``step(stage, done, total)`` reports progress; ``workers`` processes
    (one a core by default) share the work, which does not change the result.
    """
    workers = default_workers() if workers is None else workers

    def stage(name: str) -> Step | None:
        if step is None:
            return None
        return lambda done, total: step(name, done, total)

    training_dir, data_dir = Path(training_dir), Path(data_dir)
    with np.load(training_dir / "oof.npz") as z:
        names = [str(n) for n in z["names"]]
        labels = np.asarray(z["labels"], np.int64)
        folds = np.asarray(z["folds"], np.int64)
    if evidence is None:
        evidence = oof_evidence(
            data_dir, names, folds, training_dir, stage("heads: evidence"), workers
        )
    # The beat-sequence network's out-of-fold output is the record head's evidence like the
    # rest: each record's from members that never saw it.
    sequence_oof, sequence_members = cross_fit_sequence(
        evidence.sequences, labels, folds, workers=workers, step=stage("heads: sequence fold fits")
    )
    features = evidence.features.copy()
    first = FEATURES.index(SEQUENCE_FEATURES[0])
    features[:, first : first + len(SEQUENCE_FEATURES)] = sequence_oof
    ensemble, final_members = fit_sequence(
        evidence.sequences, labels, workers=workers, step=stage("heads: sequence final fits")
    )
    trees_oof = cross_fit_trees(features, labels, folds, step=stage("heads: tree fits"))
    record, record_entry, head_oof = _fit(
        features,
        labels,
        folds,
        evidence.plain,
        FEATURES,
        L2_GRID,
        workers=workers,
        step=stage("heads: record fits"),
        trees_oof=trees_oof,
    )
    trees = fit_trees(features, labels)
    np.savez_compressed(
        training_dir / "head_oof.npz",
        names=np.array(names),
        labels=labels,
        folds=folds,
        features=features,
        plain_logits=evidence.plain,
        head_logits=head_oof,
    )
    rows = evidence.window_record
    w_labels, w_folds = labels[rows], folds[rows]
    frame_logits = evidence.windows[:, : len(CLASSES)]
    window_trees_oof = cross_fit_trees(
        evidence.windows,
        w_labels,
        w_folds,
        names=WINDOW_FEATURES,
        step=stage("heads: window tree fits"),
        params=WINDOW_PARAMS,
    )
    window, window_entry, window_oof = _fit(
        evidence.windows,
        w_labels,
        w_folds,
        frame_logits,
        WINDOW_FEATURES,
        WINDOW_L2_GRID,
        rows,
        workers,
        stage("heads: window fits"),
        trees_oof=window_trees_oof,
    )
    window_trees = fit_trees(
        evidence.windows, w_labels, names=WINDOW_FEATURES, params=WINDOW_PARAMS
    )
    window["af_windows"] = {
        "frames": af_rates(frame_logits, w_labels),
        "head": af_rates(window_oof, w_labels),
    }
    window["n_windows"] = int(rows.size)
    window["step_s"] = WINDOW_STEP
    # The report needs the out-of-fold verdicts; the features (8 MB) only a refit.
    np.savez_compressed(
        training_dir / "window_oof.npz",
        record=rows.astype(np.int32),
        labels=w_labels.astype(np.int8),
        folds=w_folds.astype(np.int8),
        head_logits=window_oof.astype(np.float32),
    )
    np.savez_compressed(training_dir / "window_features.npz", features=evidence.windows)
    meta_path = training_dir / "model.json"
    if meta_path.is_file():
        meta = json.loads(meta_path.read_text())
        meta["record_head"] = record_entry
        meta["record_trees"] = trees.to_dict()
        meta["beat_sequence"] = ensemble.to_dict()
        meta["window_head"] = window_entry
        meta["window_trees"] = window_trees.to_dict()
        write_model_json(training_dir, meta_path.name, meta)
    train_path = training_dir / "training.json"
    train_summary = json.loads(train_path.read_text())
    record["sequence"] = {
        **_scores(labels, sequence_oof, folds),
        "folds": sequence_members,
        "final": final_members,
    }
    train_summary["record_head"] = record
    train_summary["window_head"] = window
    train_path.write_text(json.dumps(train_summary, indent=2) + "\n")
    if "parameters" in train_summary:
        (training_dir / "MODEL_CARD.md").write_text(model_card(train_summary))
    return {"record_head": record, "window_head": window}
