"""Figures of the rhythm report: confusion matrix, reliability diagram, ablation trade-off."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from cardiostream.evaluate.classification import reliability
from cardiostream.rhythm.verdict import CLASSES


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(plt: Any, fig: Any, path: str | Path) -> Path:
    fig.tight_layout()
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out)
    plt.close(fig)
    return out


def plot_confusion(matrix: npt.ArrayLike, path: str | Path, title: str = "") -> Path:
    """Counts, shaded by the fraction of each true class (rows)."""
    plt = _pyplot()
    m = np.asarray(matrix, np.int64)
    rows = m / np.maximum(m.sum(1, keepdims=True), 1)
    fig, ax = plt.subplots(figsize=(4.8, 4.2), dpi=120)
    ax.imshow(rows, cmap="Blues", vmin=0, vmax=1)
    for i in range(m.shape[0]):
        for j in range(m.shape[1]):
            colour = "white" if rows[i, j] > 0.6 else "black"
            ax.text(j, i, f"{m[i, j]}\n{rows[i, j]:.0%}", ha="center", va="center", color=colour)
    ax.set_xticks(range(len(CLASSES)), CLASSES)
    ax.set_yticks(range(len(CLASSES)), CLASSES)
    ax.set_xlabel("predicted")
    ax.set_ylabel("reference")
    ax.set_title(title or "Out-of-fold confusion")
    return _save(plt, fig, path)


def plot_reliability(
    curves: Sequence[tuple[str, npt.NDArray[np.float64], float]],
    truth: npt.ArrayLike,
    path: str | Path,
    n_bins: int = 15,
) -> Path:
    """Reliability diagram: accuracy against confidence per bin, one line per ``(name, probs,
    ece)``, with the bins' counts underneath."""
    plt = _pyplot()
    fig, (ax, hist) = plt.subplots(
        2, 1, figsize=(4.8, 5.2), dpi=120, sharex=True, gridspec_kw={"height_ratios": [3, 1]}
    )
    ax.plot([0, 1], [0, 1], color="0.6", lw=1, ls="--", label="perfect")
    edges = np.linspace(0, 1, n_bins + 1)
    for name, probs, ece in curves:
        conf, acc, counts = reliability(probs, truth, n_bins)
        ok = counts > 0
        ax.plot(conf[ok], acc[ok], marker="o", ms=4, label=f"{name} (ECE {ece:.3f})")
        hist.stairs(counts, edges, label=name)
    ax.set_ylabel("accuracy")
    ax.set_xlim(0.2, 1)
    ax.set_ylim(0, 1)
    ax.legend(loc="upper left", fontsize=8)
    ax.set_title("Reliability of the top class (out-of-fold)")
    hist.set_xlabel("confidence (top-class probability)")
    hist.set_ylabel("records")
    return _save(plt, fig, path)


def plot_ablation(rows: Sequence[dict[str, Any]], path: str | Path) -> Path:
    """CinC score against ONNX latency per window; one line per window length."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(5.6, 4.0), dpi=120)
    for window, marker in ((10, "o"), (5, "s")):
        sel = sorted((r for r in rows if r["window_s"] == window), key=lambda r: r["onnx_ms"])
        if not sel:
            continue
        ax.plot(
            [r["onnx_ms"] for r in sel],
            [r["cinc"] for r in sel],
            marker=marker,
            label=f"{window} s window",
        )
        for r in sel:
            ax.annotate(
                f"x{r['width']:g} ({r['parameters'] / 1000:.0f}k)",
                (r["onnx_ms"], r["cinc"]),
                textcoords="offset points",
                xytext=(4, 4),
                fontsize=8,
            )
    ax.set_xlabel("ONNX Runtime latency per window, one thread (ms)")
    ax.set_ylabel("CinC score (held-out fold)")
    ax.set_title("Width and window length: accuracy against cost")
    ax.grid(alpha=0.3)
    if ax.get_lines():  # rows of other window lengths only: nothing to label
        ax.legend()
    return _save(plt, fig, path)
