"""Training of the RR-interval AF detector (:mod:`cardiostream.beats.af_rr`) on the Long-Term AF
Database, cross-validated by record.

Each record gives two beat series: the reviewed beats of ``.atr`` and the automated detector's
beats of ``.qrs`` (with its misses and extra beats), both labelled by the reviewed rhythm at
their time: AF inside ``(AFIB`` intervals, not AF inside any other rhythm, left out before the
first rhythm annotation and inside atrial flutter (``(AFL``, neither clearly AF nor not). The
network trains on every ``stride``-th beat of both series of the training records (neighbouring
beats share 63 of their 64 intervals), classes weighted equally. Out-of-fold logits of every
beat of the held-out records choose the smoothing and the threshold (the pair with the largest
Se + Sp over the reviewed beats); the final model is fitted on every record.

A pulse sensor times its beats 10-30 ms less exactly than an ECG's R peak, and noise that size
on every beat time makes a regular rhythm's successive differences look like AF's. For the
pulse model each training record also gives its reviewed beats with Gaussian noise of
:attr:`FitConfig.jitter_s` on their times; whichever model is trained, the held-out records
are scored with such noise too (:data:`~cardiostream.evaluate.rr_af.JITTER_S`). A stream's
first 64 beats are judged on fewer intervals, which 24 h records hardly teach: the noisy
copies can start afresh every :attr:`FitConfig.restart_beats` beats; the held-out records
are also scored as streams of :data:`~cardiostream.evaluate.rr_af.START_EVERY` beats, on each
one's first verdicts (the report's ``start``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy.optimize import minimize

from cardiostream.beats import _af_rr_kernel as kernel
from cardiostream.beats.af_rr import RRAFModel
from cardiostream.evaluate.ectopy import ectopic_times
from cardiostream.evaluate.rr_af import (
    JITTER_S,
    START_EVERY,
    BeatSeries,
    LtafRecord,
    features_of,
    first_verdicts,
    gross,
    jittered,
    scores,
)

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

#: Smoothing weights and thresholds tried on the out-of-fold logits.
ALPHAS = (1.0, 0.5, 0.25, 0.1, 0.05)
THRESHOLDS = tuple(float(v) for v in np.round(np.arange(0.05, 0.96, 0.01), 2))

Progress = Callable[[str, int, int], None]
#: Seed of the premature beats every model is scored on out of fold.
ECTOPY_TEST_SEED = 2017


# The network: binary cross-entropy, L-BFGS.


def _unpack(theta: FloatArray, d: int, hidden: int) -> tuple[FloatArray, ...]:
    if hidden == 0:
        return np.zeros((d, 0)), np.zeros(0), theta[:d], theta[d : d + 1]
    i = d * hidden
    w1 = theta[:i].reshape(d, hidden)
    b1 = theta[i : i + hidden]
    w2 = theta[i + hidden : i + 2 * hidden]
    return w1, b1, w2, theta[i + 2 * hidden : i + 2 * hidden + 1]


def fit_network(
    z: FloatArray,
    y: FloatArray,
    weight: FloatArray,
    *,
    hidden: int,
    l2: float,
    seed: int,
    maxiter: int,
) -> tuple[FloatArray, FloatArray, FloatArray, float]:
    """Fit the network on standardised rows ``z`` (labels 0/1, row weights)."""
    d = z.shape[1]
    rng = np.random.default_rng(seed)
    n_par = d + 1 if hidden == 0 else d * hidden + 2 * hidden + 1
    theta0 = np.zeros(n_par)
    if hidden:
        theta0[: d * hidden] = rng.normal(0, 1 / np.sqrt(d), d * hidden)
        theta0[d * hidden + hidden : d * hidden + 2 * hidden] = rng.normal(
            0, 1 / np.sqrt(hidden), hidden
        )
    sw = weight / weight.sum()

    def loss(theta: FloatArray) -> tuple[float, FloatArray]:
        w1, b1, w2, b2 = _unpack(theta, d, hidden)
        if hidden:
            h = np.tanh(z @ w1 + b1)
            logit = h @ w2 + b2[0]
        else:
            logit = z @ w2 + b2[0]
        # log(1 + exp(-s·logit)) computed stably.
        s = 2 * y - 1
        m = -s * logit
        value = float((sw * np.logaddexp(0.0, m)).sum())
        g = sw * (1.0 / (1.0 + np.exp(-logit)) - y)
        if hidden:
            gw2 = h.T @ g + l2 * w2
            gb2 = np.array([g.sum()])
            dh = np.outer(g, w2) * (1 - h * h)
            gw1 = z.T @ dh + l2 * w1
            gb1 = dh.sum(axis=0)
            grad = np.concatenate([gw1.ravel(), gb1, gw2, gb2])
            value += 0.5 * l2 * float((w1 * w1).sum() + (w2 * w2).sum())
        else:
            grad = np.concatenate([z.T @ g + l2 * w2, [g.sum()]])
            value += 0.5 * l2 * float((w2 * w2).sum())
        return value, grad

    res = minimize(loss, theta0, jac=True, method="L-BFGS-B", options={"maxiter": maxiter})
    w1, b1, w2, b2 = _unpack(np.asarray(res.x, np.float64), d, hidden)
    return np.ascontiguousarray(w1), b1.copy(), w2.copy(), float(b2[0])


def training_rows(
    records: Sequence[LtafRecord],
    stride: int,
    seed: int,
    extra: Mapping[str, Sequence[BeatSeries]] | None = None,
) -> tuple[FloatArray, FloatArray]:
    """Every ``stride``-th labelled beat of both series of the records and of their ``extra``
    series by record name (random phase)."""
    rng = np.random.default_rng(seed)
    xs, ys = [], []
    for rec in records:
        more = extra.get(rec.name, ()) if extra else ()
        for series in (rec.atr, rec.qrs, *more):
            ok = (series.label >= 0) & np.isfinite(series.features).all(axis=1)
            idx = np.flatnonzero(ok)
            idx = idx[int(rng.integers(stride)) :: stride]
            xs.append(series.features[idx])
            ys.append(series.label[idx].astype(np.float64))
    return np.concatenate(xs), np.concatenate(ys)


@dataclass(frozen=True)
class FitConfig:
    """The network's size and fitting."""

    hidden: int = 12
    l2: float = 1e-4
    maxiter: int = 400
    stride: int = 24
    seed: int = 0
    #: Beat-time noise (s) of the extra copies of each record's reviewed beats (0: a copy
    #: without noise): (0.0,) for the shipped ECG model, (0.01, 0.025) for the pulse model.
    jitter_s: tuple[float, ...] = ()
    #: The extra copies start afresh every this many beats (0: never), so that the model
    #: learns a stream's first windows, shorter than 64 intervals, and under their noise;
    #: both shipped models use 1000.
    restart_beats: int = 0
    #: Extra copies of each record's reviewed beats with premature beats put into their
    #: stretches outside AF (:mod:`cardiostream.evaluate.ectopy`), starting afresh as the
    #: noisy copies do.
    ectopy: int = 0


def ectopic_copies(
    records: Sequence[LtafRecord], copies: int, seed: int, stream: int, restart_beats: int = 0
) -> dict[str, list[BeatSeries]]:
    """``copies`` series of each record's reviewed beats with premature beats
    (:func:`~cardiostream.evaluate.ectopy.ectopic_times`), each from a generator of its own."""
    out: dict[str, list[BeatSeries]] = {}
    for i, rec in enumerate(records):
        out[rec.name] = []
        for k in range(copies):
            rng = np.random.default_rng([seed, stream, i, k])
            t = ectopic_times(rec.atr.time_s, rec.atr.label, rng)
            out[rec.name].append(BeatSeries(t, rec.atr.label, features_of(t, restart_beats)))
    return out


def jittered_copies(
    records: Sequence[LtafRecord],
    sigmas: Sequence[float],
    seed: int,
    stream: int = 0,
    restart_beats: int = 0,
) -> dict[str, list[BeatSeries]]:
    """Each record's reviewed beats with noise of each of ``sigmas`` on their times, from a
    generator of its own (``seed``, ``stream``, the record's place); ``restart_beats``: see
    :func:`~cardiostream.evaluate.rr_af.features_of`."""
    return {
        rec.name: [
            jittered(rec.atr, s, np.random.default_rng([seed, stream, i, k]), restart_beats)
            for k, s in enumerate(sigmas)
        ]
        for i, rec in enumerate(records)
    }


def fit_model(
    records: Sequence[LtafRecord],
    cfg: FitConfig,
    extra: Mapping[str, Sequence[BeatSeries]] | None = None,
) -> RRAFModel:
    """Fit a model (no smoothing, threshold 0.5) on the records and their ``extra`` series."""
    x, y = training_rows(records, cfg.stride, cfg.seed, extra)
    mean = x.mean(axis=0)
    std = x.std(axis=0) + 1e-6
    z = np.clip((x - mean) / std, -8.0, 8.0)
    pos = y.mean()
    weight = np.where(y > 0, 0.5 / pos, 0.5 / (1 - pos))
    w1, b1, w2, b2 = fit_network(
        z, y, weight, hidden=cfg.hidden, l2=cfg.l2, seed=cfg.seed, maxiter=cfg.maxiter
    )
    return RRAFModel(mean=mean, std=std, w1=w1, b1=b1, w2=w2, b2=b2)


def smoothed_p(logit: FloatArray, alpha: float) -> FloatArray:
    """The detector's causal smoothing and logistic function over one series' logits."""
    p = np.empty(logit.size)
    kernel.smooth(np.ascontiguousarray(logit, np.float64), alpha, float("nan"), 0.0, p)
    return p


@dataclass
class TrainResult:
    """The final model, the cross-validation report and the out-of-fold logits by record."""

    model: RRAFModel
    report: dict[str, Any]
    oof: dict[str, dict[str, FloatArray]]


def _jitter_key(sigma: float) -> str:
    return f"atr_jitter_{round(1000 * sigma, 3):g}ms"


def _start_series(rec: LtafRecord, noisy: Sequence[BeatSeries]) -> list[tuple[str, BeatSeries]]:
    """The series a stream's start is scored on: the reviewed beats, and their noisy test
    copies (one per :data:`JITTER_S`)."""
    return [("atr", rec.atr), *zip(map(_jitter_key, JITTER_S), noisy, strict=True)]


def start_scores(
    logit: FloatArray, label: IntArray, alpha: float, threshold: float
) -> dict[str, Any]:
    """Scores of a stream's first verdicts: ``logit`` of a series cut into streams of
    :data:`START_EVERY` beats (features and smoothing afresh in each), scored on beats
    ``MIN_RR`` to ``LONG`` of each, as :func:`~cardiostream.evaluate.rr_af.start_scores`."""
    af = np.concatenate(
        [
            smoothed_p(logit[k : k + START_EVERY], alpha) >= threshold
            for k in range(0, logit.size, START_EVERY)
        ]
    )
    return scores(np.where(first_verdicts(logit.size), label, -1), af)


def _folds(names: Sequence[str], k: int, seed: int) -> list[list[str]]:
    order = np.random.default_rng(seed).permutation(len(names))
    return [[names[i] for i in order[f::k]] for f in range(k)]


def train_rr_af(
    records: Sequence[LtafRecord],
    *,
    folds: int = 5,
    cfg: FitConfig | None = None,
    progress: Progress | None = None,
) -> TrainResult:
    """Cross-validate by record, choose smoothing and threshold out of fold, fit the final
    model on every record."""
    cfg = cfg or FitConfig()
    names = [r.name for r in records]
    by_name = {r.name: r for r in records}
    groups = _folds(names, folds, cfg.seed)
    if progress:
        progress("jittering beat times", 0, folds + 1)
    extra = jittered_copies(records, cfg.jitter_s, cfg.seed, restart_beats=cfg.restart_beats)
    if cfg.ectopy:
        more = ectopic_copies(records, cfg.ectopy, cfg.seed, 2, cfg.restart_beats)
        extra = {n: [*extra[n], *more[n]] for n in names}
    tests = jittered_copies(records, JITTER_S, cfg.seed, stream=1)
    # Every model is scored on the same premature beats (a seed of their own).
    ectopic = {n: s[0] for n, s in ectopic_copies(records, 1, ECTOPY_TEST_SEED, 3).items()}
    oof: dict[str, dict[str, FloatArray]] = {}
    for f, held in enumerate(groups):
        if progress:
            progress("cross-validation", f, folds + 1)
        train = [by_name[n] for n in names if n not in held]
        model = fit_model(train, cfg, extra)
        for n in held:
            rec = by_name[n]
            oof[n] = {
                "atr": model.logits(rec.atr.features),
                "qrs": model.logits(rec.qrs.features),
            }
            for sigma, noisy in zip(JITTER_S, tests[n], strict=True):
                oof[n][_jitter_key(sigma)] = model.logits(noisy.features)
            oof[n]["atr_ectopy"] = model.logits(ectopic[n].features)
            # The same beats as streams of START_EVERY beats, each from its own first beat.
            for key, beats in _start_series(rec, tests[n]):
                oof[n][f"{key}_start"] = model.logits(features_of(beats.time_s, START_EVERY))
    # Smoothing and threshold: the largest Se + Sp over the reviewed beats out of fold.
    best: tuple[float, float, float] | None = None
    grid: list[dict[str, Any]] = []
    for alpha in ALPHAS:
        ps = [smoothed_p(oof[r.name]["atr"], alpha) for r in records]
        labels = [r.atr.label for r in records]
        p_all = np.concatenate(ps)
        l_all = np.concatenate(labels)
        ok = l_all >= 0
        p_ok, ref = p_all[ok], l_all[ok] == 1
        for thr in THRESHOLDS:
            hyp = p_ok >= thr
            se = float((hyp & ref).sum() / max(ref.sum(), 1))
            sp = float((~hyp & ~ref).sum() / max((~ref).sum(), 1))
            grid.append({"alpha": alpha, "threshold": thr, "se": 100 * se, "sp": 100 * sp})
            if best is None or se + sp > best[0]:
                best = (se + sp, alpha, thr)
    assert best is not None
    _, alpha, threshold = best
    per_record: list[dict[str, Any]] = []
    for r in records:
        row: dict[str, Any] = {"record": r.name}
        for src in ("atr", "qrs"):
            series: BeatSeries = getattr(r, src)
            p = smoothed_p(oof[r.name][src], alpha)
            row[src] = scores(series.label, p >= threshold)
            row[src]["beats"] = int(series.time_s.size)
            row[src]["af_beats"] = int((series.label == 1).sum())
        per_record.append(row)
    jitter = []
    for k, sigma in enumerate(JITTER_S):
        rows = []
        for r in records:
            p = smoothed_p(oof[r.name][_jitter_key(sigma)], alpha)
            rows.append(scores(tests[r.name][k].label, p >= threshold))
        jitter.append({"sigma_ms": round(1000 * sigma, 3), **gross(rows)})
    ectopy = gross(
        [
            scores(r.atr.label, smoothed_p(oof[r.name]["atr_ectopy"], alpha) >= threshold)
            for r in records
        ]
    )
    start = []
    for sigma, key in zip((0.0, *JITTER_S), ("atr", *map(_jitter_key, JITTER_S)), strict=True):
        rows = []
        for r in records:
            label = dict(_start_series(r, tests[r.name]))[key].label
            rows.append(start_scores(oof[r.name][f"{key}_start"], label, alpha, threshold))
        start.append({"sigma_ms": round(1000 * sigma, 3), **gross(rows)})
    if progress:
        progress("final model", folds, folds + 1)
    final = fit_model(records, cfg, extra)
    meta = {
        "trained_on": "Long-Term AF Database (PhysioNet), "
        f"{len(records)} records, reviewed (.atr) and automated (.qrs) beats",
        "window_beats": kernel.LONG,
        "short_window_beats": kernel.SHORT,
        "decision_delay_beats": 0,
        "hidden": cfg.hidden,
        "l2": cfg.l2,
        "stride": cfg.stride,
        "seed": cfg.seed,
        "folds": folds,
        "jitter_ms": [round(1000 * v, 3) for v in cfg.jitter_s],
        # Only when used: a model trained without restarts keeps the file it had before.
        **({"restart_beats": cfg.restart_beats} if cfg.restart_beats else {}),
        **({"ectopy": cfg.ectopy} if cfg.ectopy else {}),
    }
    model = RRAFModel(
        mean=final.mean,
        std=final.std,
        w1=final.w1,
        b1=final.b1,
        w2=final.w2,
        b2=final.b2,
        alpha=alpha,
        threshold=threshold,
        meta=meta,
    )
    report = {
        "folds": groups,
        "config": meta,
        "alpha": alpha,
        "threshold": threshold,
        "gross": {src: gross([row[src] for row in per_record]) for src in ("atr", "qrs")},
        "per_record": per_record,
        "jitter": jitter,
        "ectopy": ectopy,
        "start": start,
        "grid": grid,
    }
    if progress:
        progress("done", folds + 1, folds + 1)
    return TrainResult(model, report, oof)
