"""Training of the AAMI beat classifier on MITDB DS1, chosen by leave-records-out
cross-validation.

Every choice is made on out-of-fold outputs of DS1 records (folds hold whole records, so a
patient is never in the training and the validation side of a fold at once):

1. the network (:data:`GRID`: multinomial logistic regression; a tanh layer may be named)
   and its L2 penalty, by the mean F1 of S and V on the pooled out-of-fold labels;
2. the calibration: a temperature and one bias per class, fitted by unweighted negative
   log-likelihood on the out-of-fold logits of the chosen network;
3. the decision weights of S and V (the label is the class of the largest weighted
   probability), by the sum of the F1 of S and V on the calibrated out-of-fold
   probabilities.

The model reads :data:`MODEL_FEATURES` of the extractor's rows, and may stack an RR-only
model pretrained on LTAFDB's beat times (:func:`train_rr_model`). The shipped model is then
fitted on all of DS1 with the chosen settings. Training weights
each class by the inverse of its frequency (capped at :data:`WEIGHT_CAP`), so that the rare S,
V and F beats count. DS2 plays no part here.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy.optimize import minimize

from cardiostream.beats.classes import CLASSES, BeatModel, RRModel
from cardiostream.beats.features import FEATURES
from cardiostream.evaluate.beat_classes import RecordBeats, class_stats, confusion
from cardiostream.training.parallel import process_map

#: The features the model reads, by default: those of the first model and the running means
#: of the shape; the other features did not raise the DS1 cross-validated F1 of S and V
#: (docs/decisions.md, "Beat classes").
MODEL_FEATURES: tuple[str, ...] = (
    *FEATURES[:20],
    "ema_corr_qrs",
    "ema_residual",
    "corr_qrs_less_ema",
    "residual_less_ema",
)
#: The largest class weight (Q has a handful of beats in DS1).
WEIGHT_CAP = 30.0
#: The settings tried: (hidden units, L2 penalty). A 16-unit tanh layer lost to logistic
#: regression in every DS1 cross-validation (docs/decisions.md, "Beat classes").
GRID: tuple[tuple[int, float], ...] = ((0, 1e-3), (0, 1e-2))
DECISION_S = (1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0)
DECISION_V = (1.0, 2.0, 4.0, 8.0, 16.0)
_K = len(CLASSES)

Layers = tuple[tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]], ...]


def _shapes(d: int, hidden: int) -> list[tuple[int, int]]:
    return [(d, _K)] if hidden == 0 else [(d, hidden), (hidden, _K)]


def _unpack(theta: npt.NDArray[np.float64], d: int, hidden: int) -> Layers:
    out = []
    i = 0
    for a, b in _shapes(d, hidden):
        w = theta[i : i + a * b].reshape(a, b)
        i += a * b
        out.append((w, theta[i : i + b]))
        i += b
    return tuple(out)


def _forward(layers: Layers, x: npt.NDArray[np.float64]) -> list[npt.NDArray[np.float64]]:
    acts = [x]
    for i, (w, b) in enumerate(layers):
        z = acts[-1] @ w + b
        acts.append(np.tanh(z) if i < len(layers) - 1 else z)
    return acts


def fit_network(
    x: npt.NDArray[np.float64],
    y: npt.NDArray[np.int64],
    sample_weight: npt.NDArray[np.float64],
    *,
    hidden: int,
    l2: float,
    seed: int,
    maxiter: int = 300,
) -> Layers:
    """Fit the network on standardised rows by L-BFGS on the weighted cross-entropy."""
    d = x.shape[1]
    rng = np.random.default_rng(seed)
    parts = []
    for a, b in _shapes(d, hidden):
        parts += [rng.normal(0, 1 / np.sqrt(a), a * b), np.zeros(b)]
    theta0 = np.concatenate(parts)
    onehot = np.eye(_K)[y]
    sw = sample_weight / sample_weight.sum()

    def loss(theta: npt.NDArray[np.float64]) -> tuple[float, npt.NDArray[np.float64]]:
        layers = _unpack(theta, d, hidden)
        acts = _forward(layers, x)
        z = acts[-1] - acts[-1].max(axis=1, keepdims=True)
        logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
        value = -float((sw * (onehot * logp).sum(axis=1)).sum())
        delta = (np.exp(logp) - onehot) * sw[:, None]
        grads: list[npt.NDArray[np.float64]] = []
        for i in range(len(layers) - 1, -1, -1):
            w, _ = layers[i]
            gw = acts[i].T @ delta + l2 * w
            gb = delta.sum(axis=0)
            grads = [gw.ravel(), gb, *grads]
            if i > 0:
                delta = (delta @ w.T) * (1 - acts[i] ** 2)
        value += 0.5 * l2 * sum(float((w * w).sum()) for w, _ in layers)
        return value, np.concatenate(grads)

    res = minimize(loss, theta0, jac=True, method="L-BFGS-B", options={"maxiter": maxiter})
    return _unpack(np.asarray(res.x, np.float64), d, hidden)


def class_weights(y: npt.NDArray[np.int64]) -> npt.NDArray[np.float64]:
    """Inverse-frequency weights of the classes, the commonest at 1, capped."""
    counts = np.bincount(y, minlength=_K).astype(np.float64)
    w = np.where(counts > 0, counts.max() / np.maximum(counts, 1), 0.0)
    return np.minimum(w, WEIGHT_CAP)


def _standardise(x: npt.NDArray[np.float64]) -> tuple[npt.NDArray[np.float64], ...]:
    mean = np.nanmean(x, axis=0)
    std = np.nanstd(x, axis=0)
    return mean, np.where(std > 1e-9, std, 1.0)


def _fit_model(
    x: npt.NDArray[np.float64],
    y: npt.NDArray[np.int64],
    hidden: int,
    l2: float,
    seed: int,
    maxiter: int = 300,
) -> BeatModel:
    mean, std = _standardise(x)
    z = np.clip((np.nan_to_num(x) - mean) / std, -8.0, 8.0)
    weight = class_weights(y)[y]
    layers = fit_network(z, y, weight, hidden=hidden, l2=l2, seed=seed, maxiter=maxiter)
    return BeatModel(mean=mean, std=std, layers=layers)


def _fit_task(
    job: tuple[Any, ...],
) -> tuple[BeatModel, npt.NDArray[np.float64] | None]:
    """One fit of :func:`train_beat_model`: the model, and its logits of the held-out rows."""
    x, y, x_test, hidden, l2, seed, maxiter = job
    model = _fit_model(x, y, hidden, l2, seed, maxiter)
    return model, None if x_test is None else model.network_logits(x_test)


def calibrate(
    logits: npt.NDArray[np.float64], y: npt.NDArray[np.int64]
) -> tuple[float, npt.NDArray[np.float64]]:
    """Temperature and class biases minimising the negative log-likelihood of ``y``."""
    onehot = np.eye(_K)[y]

    def nll(p: npt.NDArray[np.float64]) -> float:
        z = logits / np.exp(p[0]) + p[1:]
        z = z - z.max(axis=1, keepdims=True)
        logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
        return -float((onehot * logp).sum(axis=1).mean())

    res = minimize(nll, np.zeros(1 + _K), method="Nelder-Mead", options={"maxiter": 4000})
    p = np.asarray(res.x, np.float64)
    return float(np.exp(p[0])), p[1:] - p[1:].mean()


@dataclass
class TrainResult:
    """The trained model and its cross-validation figures."""

    model: BeatModel
    report: dict[str, Any]


def _figures(y: npt.NDArray[np.int64], pred: npt.NDArray[np.int64]) -> dict[str, Any]:
    cm = confusion(y, pred)
    return {"confusion": cm.tolist(), "gross": class_stats(cm)}


def _sv_f1(cm: npt.NDArray[np.int64]) -> float:
    st = class_stats(cm)
    return sum(float(st[c]["f1"] or 0.0) for c in "SV") / 2


def train_beat_model(
    records: list[RecordBeats],
    *,
    folds: int = 11,
    seed: int = 0,
    grid: tuple[tuple[int, float], ...] = GRID,
    maxiter: int = 300,
    progress: Callable[[str, int, int], None] | None = None,
    features: tuple[str, ...] | None = None,
    rr_model: RRModel | None = None,
    workers: int | None = None,
) -> TrainResult:
    """Choose and fit the beat classifier on ``records`` (DS1) by leave-records-out CV.

    Parameters
    ----------
    records : list of RecordBeats
        The training records' paired features and reference classes.
    folds : int
        Folds of whole records.
    seed : int
        Seed of the folds and the initialisations.
    grid : tuple of (hidden, l2)
        The network settings tried.
    maxiter : int
        L-BFGS iterations per fit.
    progress : callable, optional
        Called as ``progress(stage, done, total)``.
    features : tuple of str, optional
        The columns of :data:`FEATURES` the model reads (:data:`MODEL_FEATURES` by default).
    rr_model : RRModel, optional
        A pretrained RR-only model (:func:`train_rr_model`) whose outputs are two more inputs
        (stacking); none by default.
    workers : int, optional
        Processes the fits run in (as many as CPUs by default); the results do not depend
        on it.

    Returns
    -------
    TrainResult
        The final model (fitted on all records) and the cross-validation report.
    """
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(records))
    fold_of = np.empty(len(records), np.int64)
    fold_of[order] = np.arange(len(records)) % folds
    names = MODEL_FEATURES if features is None else tuple(features)
    rr = rr_model
    shell = BeatModel(np.zeros(0), np.zeros(0), (), features=names, rr=rr)
    x = np.concatenate([shell.inputs(r.features) for r in records])
    y = np.concatenate([r.truth for r in records])
    group = np.concatenate([np.full(r.truth.size, i) for i, r in enumerate(records)])
    beat_fold = fold_of[group]
    # Every fold of every setting, and the final fit of every setting (the chosen one is
    # kept), are independent: they run in ``workers`` processes, with the same results.
    tasks = [(h, l2, f) for h, l2 in grid for f in range(folds)] + [(h, l2, -1) for h, l2 in grid]
    total = len(tasks)
    done = 0
    oof = {g: np.zeros((y.size, _K)) for g in grid}
    finals: dict[tuple[int, float], BeatModel] = {}
    n_workers = min(os.cpu_count() or 1, len(tasks)) if workers is None else workers
    jobs = [
        (
            x if f < 0 else x[beat_fold != f],
            y if f < 0 else y[beat_fold != f],
            None if f < 0 else x[beat_fold == f],
            h,
            l2,
            seed if f < 0 else seed + f,
            maxiter,
        )
        for h, l2, f in tasks
    ]
    with process_map(n_workers) as pmap:
        for (h, l2, f), (model, out) in zip(tasks, pmap(_fit_task, jobs), strict=True):
            if f < 0:
                finals[(h, l2)] = model
            else:
                oof[(h, l2)][beat_fold == f] = out
            done += 1
            if progress is not None:
                progress("cross-validation" if f >= 0 else "final fits", done, total)
    scores = {g: _sv_f1(confusion(y, oof[g].argmax(axis=1))) for g in grid}
    best = max(grid, key=lambda g: scores[g])
    logits = oof[best]
    temperature, bias = calibrate(logits, y)
    z = logits / temperature + bias
    p = np.exp(z - z.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    nll = -float(np.log(p[np.arange(y.size), y] + 1e-12).mean())
    choice = (1.0, 1.0)
    best_score = -1.0
    for ws in DECISION_S:
        for wv in DECISION_V:
            w = np.array([1.0, ws, wv, 1.0, 1.0])
            s = _sv_f1(confusion(y, np.argmax(p * w, axis=1)))
            if s > best_score:
                best_score, choice = s, (ws, wv)
    weights = np.array([1.0, choice[0], choice[1], 1.0, 1.0])
    final = finals[best]
    per_record = {}
    pred = np.argmax(p * weights, axis=1)
    for i, r in enumerate(records):
        sel = group == i
        per_record[r.name] = class_stats(confusion(y[sel], pred[sel]))
    # Reliability of the calibrated probabilities: mean predicted vs observed, by decile.
    top = p.max(axis=1)
    correct = p.argmax(axis=1) == y
    bins = np.minimum((top * 10).astype(int), 9)
    reliability = [
        [float(top[bins == b].mean()), float(correct[bins == b].mean()), int((bins == b).sum())]
        for b in range(10)
        if (bins == b).any()
    ]
    report = {
        "records": [r.name for r in records],
        "folds": folds,
        "seed": seed,
        "beats": {c: int((y == i).sum()) for i, c in enumerate(CLASSES)},
        "grid": [{"hidden": h, "l2": l2, "mean_f1_s_v": scores[(h, l2)]} for h, l2 in grid],
        "chosen": {"hidden": best[0], "l2": best[1]},
        "class_weights": class_weights(y).tolist(),
        "temperature": temperature,
        "bias": bias.tolist(),
        "oof_nll": nll,
        "decision_weights": weights.tolist(),
        "cv_argmax_uncalibrated": _figures(y, logits.argmax(axis=1)),
        "cv_calibrated_argmax": _figures(y, p.argmax(axis=1)),
        "cv": _figures(y, pred),
        "cv_per_record": per_record,
        "reliability": reliability,
        "features": list(names),
        "rr_model": None if rr is None else dict(rr.meta or {}),
    }
    meta = {
        "trained_on": "MITDB DS1 (22 records), lead 0",
        "chosen_by": f"{folds}-fold leave-records-out cross-validation on DS1, seed {seed}",
        "hidden": best[0],
        "l2": best[1],
        "cv_gross": report["cv"]["gross"],
    }
    model = BeatModel(
        mean=final.mean,
        std=final.std,
        layers=final.layers,
        temperature=temperature,
        bias=bias,
        weights=weights,
        meta=meta,
        features=names,
        rr=rr,
    )
    return TrainResult(model, report)


# --- The RR-only model, pretrained on other patients' beat times (LTAFDB) --------------------

#: LTAFDB reviewed beat symbols by class index (N, S, V); the rest are not trained on.
LTAF_CLASSES: dict[str, int] = {"N": 0, "A": 1, "V": 2}
#: The RR model's settings: tanh units, L2 penalty, normal beats sampled, L-BFGS iterations.
RR_HIDDEN = 16
RR_L2 = 1e-4
RR_NORMAL = 400_000
RR_MAXITER = 400


def rr_rows(times_s: npt.ArrayLike, post_cap_s: float = 2.0) -> npt.NDArray[np.float64]:
    """The :data:`~cardiostream.beats.classes.RR_FEATURES` of beats at ``times_s`` (sorted,
    in seconds), as :class:`~cardiostream.beats.features.BeatFeatureExtractor` computes them
    from its beats, whole arrays at once (a test checks the two agree)."""
    from cardiostream.beats import features as bf

    t = np.asarray(times_s, np.float64)
    n = t.size
    rr = np.diff(t)  # rr[j]: the pre RR of beat j + 1
    cs = np.concatenate(([0.0], np.cumsum(rr)))
    j = np.arange(n) - 1  # beat i's ring holds rr[max(0, i - 1 - 10) : i - 1]
    lo = np.maximum(j - bf._LOCAL, 0)
    local = np.full(n, bf._RR_DEFAULT_S)
    has = j >= 1
    local[has] = (cs[j[has]] - cs[lo[has]]) / (j[has] - lo[has])
    pre = np.concatenate(([local[0]], rr)) if n else np.zeros(0)
    pad = np.concatenate((np.full(bf._LOCAL - 1, np.nan), rr))
    win = np.lib.stride_tricks.sliding_window_view(pad, bf._LOCAL) if rr.size else None
    cv = np.zeros(n)
    med = np.full(n, bf._RR_DEFAULT_S)
    if win is not None:
        i2 = np.flatnonzero(j >= 2)
        cv[i2] = np.nanstd(win[j[i2] - 1], axis=1) / local[i2]
        i1 = np.flatnonzero(has)
        med[i1] = np.nanmedian(win[j[i1] - 1], axis=1)
    long = np.full(n, local[0] if n else 0.0)
    if n > 2:
        a = bf._LONG_ALPHA
        from scipy.signal import lfilter

        long[2:] = lfilter([a], [1, -(1 - a)], rr[:-1], zi=[(1 - a) * local[0]])[0]
    ok = pre[1:] >= bf._PREMATURE * local[1:]
    cs_ok = np.concatenate(([0.0], np.cumsum(rr[ok])))
    n_ok = np.concatenate(([0, 0], np.cumsum(ok)))[:n]
    lo_ok = np.maximum(n_ok - bf._NREF, 0)
    nref = np.where(n_ok > 0, (cs_ok[n_ok] - cs_ok[lo_ok]) / np.maximum(n_ok - lo_ok, 1), local)
    prepre = np.concatenate((local[:2], pre[1:-1]))[:n]
    post = np.minimum(np.append(pre[1:], post_cap_s), post_cap_s)

    def lr(a: npt.NDArray[np.float64], b: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        return np.asarray(np.log((a + 1e-9) / (b + 1e-9)), np.float64)

    return np.column_stack(
        [
            pre,
            post,
            local,
            lr(pre, local),
            lr(post, local),
            lr(pre, post),
            lr(local, long),
            lr(pre, long),
            cv,
            pre - local,
            lr(pre, nref),
            lr(post, nref),
            lr(prepre, local),
            lr(pre, prepre),
            lr(pre, med),
        ]
    )


def ltaf_rows(folder: Path) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.int64]]:
    """The RR rows and classes (N 0, S 1, V 2) of every reviewed beat of the LTAFDB records
    in ``folder`` (its ``RECORDS``); every beat of any class keeps its place in the RR
    sequence, only N, A and V beats are returned."""
    import wfdb

    xs, ys = [], []
    beat_symbols = set("NLRejAaJSVEFQ/f")
    for name in (folder / "RECORDS").read_text().split():
        ann = wfdb.rdann(str(folder / name), "atr")
        sym = np.asarray(ann.symbol)
        is_beat = np.isin(sym, sorted(beat_symbols))
        t = np.asarray(ann.sample, np.float64)[is_beat] / float(ann.fs)
        y = np.array([LTAF_CLASSES.get(s, -1) for s in sym[is_beat]], np.int64)
        x = rr_rows(t)
        xs.append(x[y >= 0])
        ys.append(y[y >= 0])
    return np.concatenate(xs), np.concatenate(ys)


def train_rr_model(folder: Path, *, seed: int = 0) -> RRModel:
    """The RR-only model (N, S, V) fitted on the LTAFDB records' reviewed beats in ``folder``:
    every S and V beat and :data:`RR_NORMAL` normal ones drawn at random, the classes weighted
    to count alike."""
    from cardiostream.beats.classes import RR_FEATURES

    x, y = ltaf_rows(folder)
    rng = np.random.default_rng(seed)
    normal = np.flatnonzero(y == 0)
    take = rng.choice(normal, min(RR_NORMAL, normal.size), replace=False)
    sel = np.sort(np.concatenate([take, np.flatnonzero(y > 0)]))
    x, y = x[sel], y[sel]
    mean, std = _standardise(x)
    z = np.clip((x - mean) / std, -8.0, 8.0)
    counts = np.bincount(y, minlength=_K).astype(np.float64)
    cw = np.where(counts > 0, counts.max() / np.maximum(counts, 1), 0.0)
    layers = fit_network(z, y, cw[y], hidden=RR_HIDDEN, l2=RR_L2, seed=seed, maxiter=RR_MAXITER)
    meta = {
        "trained_on": f"LTAFDB reviewed beats ({folder.name}/RECORDS), A as S",
        "beats": {c: int(counts[i]) for i, c in enumerate("NSV")},
        "hidden": RR_HIDDEN,
        "l2": RR_L2,
        "seed": seed,
    }
    return RRModel(features=RR_FEATURES, mean=mean, std=std, layers=layers, meta=meta)


def main(argv: list[str] | None = None) -> None:
    """``python -m cardiostream.training.beats LTAFDB_FOLDER OUT``: fit the RR-only model
    (:func:`train_rr_model`, seed 0) and write it as JSON (for
    :meth:`~cardiostream.beats.classes.RRModel.from_dict`)."""
    import json
    import sys

    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2:
        raise SystemExit(main.__doc__)
    model = train_rr_model(Path(args[0]))
    Path(args[1]).write_text(json.dumps(model.to_dict(), separators=(",", ":")) + "\n")
    print(f"wrote {args[1]}")


if __name__ == "__main__":
    main()
