"""The compiled beat features against a plain numpy statement of their definition."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.signal import butter, sosfilt, sosfilt_zi

from cardiostream.beats import FEATURES, beat_features
from cardiostream.beats.detector import RPeakDetector
from cardiostream.beats.features import STEP_S, WINDOW_S
from cardiostream.io import read
from cardiostream.samples import sample_path


def _corr(a: np.ndarray, b: np.ndarray) -> float:
    a = a - a.mean()
    b = b - b.mean()
    den = np.sqrt((a * a).sum() * (b * b).sum())
    return float((a * b).sum() / den) if den > 1e-12 else 0.0


def _width(q: np.ndarray) -> float:
    e = np.cumsum(q * q)
    if e[-1] <= 1e-18:
        return 0.0
    e = e / e[-1]
    return float((np.searchsorted(e, 0.9) - np.searchsorted(e, 0.1)) * STEP_S)


def _polarity(q: np.ndarray) -> float:
    span = q.max() - q.min()
    return float((q.max() + q.min()) / span) if span > 1e-12 else 0.0


def _lr(a: float, b: float) -> float:
    return float(np.log((a + 1e-9) / (b + 1e-9)))


def reference_features(x: np.ndarray, fs: float) -> tuple[np.ndarray, np.ndarray]:
    """The features of a finite signal, beat by beat with numpy, as the module notes define
    them (whole signal at once: no chunks, no state): the band-passed signal at single
    precision, the recent windows on a 1 uV grid."""
    det = RPeakDetector(fs)
    peaks = np.concatenate([det.push(x), det.flush()])
    sos = butter(2, (0.5, min(40.0, 0.45 * fs)), btype="bandpass", fs=fs, output="sos")
    y = sosfilt(sos, x, zi=sosfilt_zi(sos) * x[0])[0].astype(np.float32).astype(np.float64)
    t = np.round(np.arange(WINDOW_S[0], WINDOW_S[1] + 1e-9, STEP_S), 6)
    offsets = np.round(t * fs).astype(np.int64)
    qrs, p_wave = (t >= -0.1) & (t <= 0.12), (t >= -0.25) & (t <= -0.08)
    rrs: list[float] = []
    nrefs: list[float] = []
    prev_pre = np.nan
    recent: list[tuple[np.ndarray, bool]] = []
    long = np.nan
    prev = -1
    half = []
    for r in peaks:
        local = float(np.mean(rrs)) if rrs else 0.8
        pre = (r - prev) / fs if prev >= 0 else local
        long = local if np.isnan(long) else long
        cv = float(np.std(rrs) / local) if len(rrs) >= 2 else 0.0
        w = y[np.clip(r + offsets, 0, y.size - 1)]
        w = w - np.median(w)
        good = [v for v, ok in recent if ok]
        chosen = good if len(good) >= 3 else [v for v, _ in recent]
        tpl = np.median(np.stack(chosen), axis=0) if chosen else w
        q, tq = w[qrs], tpl[qrs]
        res = ((q - tq) ** 2).sum() / ((tq * tq).sum() + 1e-12)
        shape = [_corr(q, tq), _corr(w, tpl), _corr(w[p_wave], tpl[p_wave])]
        shape += [_lr(np.ptp(q), np.ptp(tq)), _lr((q * q).sum(), (tq * tq).sum())]
        shape += [_lr(np.abs(q).sum(), np.abs(tq).sum()), _width(q)]
        shape += [_lr(_width(q), _width(tq)), float(np.log1p(min(res, 1e6)))]
        shape += [_polarity(q), _polarity(tq)]
        pw, tp = w[p_wave], tpl[p_wave]
        p_res = ((pw - tp) ** 2).sum() / ((tp * tp).sum() + 1e-12)
        p_shape = [_lr(np.ptp(pw), np.ptp(tp)), _lr((pw * pw).sum(), (tp * tp).sum())]
        p_shape += [float(np.log1p(min(p_res, 1e6)))]
        med = float(np.median(rrs)) if rrs else 0.8
        nref = float(np.mean(nrefs)) if nrefs else local
        prepre = prev_pre if np.isfinite(prev_pre) else local
        half.append([pre, local, long, cv, prepre, nref, med, p_shape, *shape])
        kept = np.clip(np.round(w * 1000.0), -32767.0, 32767.0) / 1000.0  # 1 uV grid
        recent = [*recent, (kept, pre >= 0.9 * local)][-20:]
        if prev >= 0:
            rrs = [*rrs, pre][-10:]
            long += 0.01 * (pre - long)
            prev_pre = pre
            if pre >= 0.9 * local:
                nrefs = [*nrefs, pre][-32:]
        prev = int(r)
    rows = []
    ema = [np.nan, np.nan]
    for i, (pre, local, lg, cv, prepre, nref, med, p_shape, *shape) in enumerate(half):
        corr, res = shape[0], shape[8]
        ema = [corr, res] if i == 0 else ema
        ema_shape = [ema[0], ema[1], corr - ema[0], res - ema[1]]
        ema = [ema[0] + 0.05 * (corr - ema[0]), ema[1] + 0.05 * (res - ema[1])]
        post = min((peaks[i + 1] - peaks[i]) / fs if i + 1 < len(half) else 2.0, 2.0)
        logs = [_lr(pre, local), _lr(post, local), _lr(pre, post), _lr(local, lg), _lr(pre, lg)]
        more = [pre - local, _lr(pre, nref), _lr(post, nref), _lr(prepre, local)]
        more += [_lr(pre, prepre), _lr(pre, med)]
        rows.append([pre, post, local, *logs, cv, *shape, *more, *p_shape, *ema_shape])
    return peaks, np.asarray(rows).reshape(-1, len(FEATURES))


def _synthetic(fs: float) -> np.ndarray:
    """Beats of two shapes: a regular rhythm, premature wide beats, then a rhythm that
    speeds up beat after beat (every beat premature, so the template falls back to all the
    recent beats) and slows down again."""
    rr = [0.9] * 15 + [0.9, 0.55, 1.25] * 8 + [1.2 * 0.95**k for k in range(30)]
    rr += [0.26 / 0.95**k for k in range(30)] + [0.8] * 10
    rng = np.random.default_rng(3)
    t = np.arange(int((sum(rr) + 2) * fs)) / fs
    x = 0.05 * np.sin(2 * np.pi * 0.3 * t) + rng.normal(0, 0.01, t.size)
    at = 1.0
    for i, step in enumerate(rr):
        wide = 15 <= i < 39 and i % 3 == 1
        width, height = (0.035, -1.4) if wide else (0.012, 1.2)
        x += height * np.exp(-0.5 * ((t - at) / width) ** 2)
        x += 0.15 * np.exp(-0.5 * ((t - at - 0.25) / 0.04) ** 2)
        at += step
    return x


@pytest.mark.parametrize("which", ["synthetic", "mitdb-119-pvc"])
def test_the_compiled_features_equal_the_numpy_definition(which: str) -> None:
    if which == "synthetic":
        fs = 250.0
        x = _synthetic(fs)
    else:
        rec = read(sample_path(which))
        x, fs = rec.lead(0).astype(np.float64), rec.fs
    r, f = beat_features(x, fs)
    r_ref, f_ref = reference_features(x, fs)
    assert r.size > 60
    assert np.array_equal(r, r_ref)
    # The kernel repeats numpy's arithmetic (pairwise sums, median of two middle values), so
    # the rows are equal, not merely close.
    assert np.array_equal(f, f_ref)
