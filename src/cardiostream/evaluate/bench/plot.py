"""The figure of an R-peak benchmark: per-record F1 of every detector, and speed."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from cardiostream.evaluate.bench.rpeaks import BenchResult

_COLOURS = ("tab:blue", "tab:orange", "tab:green", "tab:red", "tab:purple")


def plot_benchmark(result: BenchResult, path: str | Path) -> Path:
    """Draw per-record F1 (records sorted by the first detector's F1) and times real time.

    Parameters
    ----------
    result : BenchResult
        Output of :func:`cardiostream.evaluate.bench.rpeaks.run_rpeak_benchmark`.
    path : str or Path
        Where to write the figure; the suffix picks the format (PNG, SVG, PDF).

    Returns
    -------
    Path
        The file written.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(result.detectors)
    first = result.detectors[names[0]]
    order = sorted(result.records, key=lambda r: _f1(first.scores[r].f1))
    fig, (ax_f1, ax_speed) = plt.subplots(
        1, 2, figsize=(12, 4.5), gridspec_kw={"width_ratios": [3, 1]}, constrained_layout=True
    )
    x = np.arange(len(order))
    for i, name in enumerate(names):
        scores = result.detectors[name].scores
        f1 = [100 * _f1(scores[r].f1) for r in order]
        gross = result.detectors[name].gross
        ax_f1.plot(
            x,
            f1,
            "o-",
            ms=3,
            lw=0.8,
            color=_COLOURS[i % len(_COLOURS)],
            label=f"{name}: Se {100 * gross.se:.2f} %, PPV {100 * gross.ppv:.2f} %",
        )
    ax_f1.set_xticks(x)
    ax_f1.set_xticklabels(order, rotation=90, fontsize=7)
    ax_f1.set_ylabel("F1 per record (%)")
    ax_f1.set_ylim(max(80.0, ax_f1.get_ylim()[0]), 100.5)
    ax_f1.set_title(
        f"{result.database}, lead {result.lead}, ±{1000 * result.tolerance_s:.0f} ms "
        f"(records sorted by {names[0]}'s F1)"
    )
    ax_f1.grid(alpha=0.3)
    ax_f1.legend(loc="lower right", fontsize=8)

    speeds = [result.x_real_time(n) for n in names]
    base = 10.0 ** math.floor(math.log10(min(speeds) / 3))
    widths = [s - base for s in speeds]
    colours = [_COLOURS[i % len(_COLOURS)] for i in range(len(names))]
    ax_speed.barh(names, widths, left=base, color=colours)
    ax_speed.set_xscale("log")
    ax_speed.set_xlabel("× real time, one thread (log)")
    ax_speed.invert_yaxis()
    for i, s in enumerate(speeds):
        ax_speed.text(s, i, f" {s:,.0f}×", va="center", fontsize=8)
    ax_speed.set_xlim(base, max(speeds) * 8)
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out


def _f1(value: float) -> float:
    return 1.0 if math.isnan(value) else value
