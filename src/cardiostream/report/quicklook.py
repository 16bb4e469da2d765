"""A first look at one lead of a record: cleaned trace, beats, heart rate, HRV, quality and
the rhythm verdict (the shipped model), with its probabilities second by second.

This is what ``cardiostream report`` prints and draws.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from rich.console import Console
from rich.table import Table

from cardiostream.beats import detect_rpeaks, hrv
from cardiostream.dsp import SignalQuality, clean_ecg, quality_windows, signal_quality
from cardiostream.dsp.quality import window_bounds
from cardiostream.errors import InputError
from cardiostream.record import Record
from cardiostream.rhythm.infer import Prediction, RhythmModel


@dataclass
class QuickLook:
    """Everything ``report`` shows about one lead."""

    record: Record
    lead: str
    cleaned: npt.NDArray[np.float64]
    rpeaks: npt.NDArray[np.int64]
    hrv: dict[str, float]  # over the beats of usable windows only (NaN: none)
    quality: SignalQuality
    windows: list[SignalQuality]
    rhythm: Prediction | None = None
    frame_end_s: npt.NDArray[np.float64] | None = None
    frame_probs: npt.NDArray[np.float64] | None = None
    threshold: float = float("nan")


def quicklook(record: Record, lead: int | str = 0, rhythm: bool = True) -> QuickLook:
    """Clean one lead, detect its R peaks, measure HRV and signal quality, classify the rhythm.

    Parameters
    ----------
    record : Record
        The recording.
    lead : int or str
        Lead index or name.
    rhythm : bool
        Run the rhythm model (needs at least 1 s of signal).

    Returns
    -------
    QuickLook
    """
    signal = record.lead(lead).astype(np.float64)
    if signal.size == 0:
        raise InputError(f"{record.name}: the signal is empty")
    if not np.isfinite(signal).any():
        raise InputError(f"{record.name}: every sample of lead {lead!r} is missing (NaN)")
    name = lead if isinstance(lead, str) else record.leads[lead]
    cleaned = clean_ecg(signal, record.fs)
    peaks = detect_rpeaks(signal, record.fs)
    windows = quality_windows(signal, record.fs, rpeaks=peaks)
    trusted = usable_beats(peaks, windows, signal.size, record.fs)
    look = QuickLook(
        record=record,
        lead=name,
        cleaned=cleaned,
        rpeaks=peaks,
        # Beats found in noise give a rate, but not the heart's: only usable windows count
        # (intervals across an unusable window fall outside hrv's 300-2000 ms and drop out).
        hrv=hrv(peaks[trusted], record.fs),
        quality=signal_quality(signal, record.fs, rpeaks=peaks),
        windows=windows,
    )
    if rhythm:
        model = RhythmModel()
        look.rhythm = model.predict(signal, record.fs)
        look.frame_end_s, look.frame_probs = model.window_probabilities(signal, record.fs)
        look.threshold = model.window_threshold
    return look


def usable_beats(
    peaks: npt.NDArray[np.int64], windows: list[SignalQuality], n_samples: int, fs: float
) -> npt.NDArray[np.bool_]:
    """Which beats lie in a usable window of :func:`quality_windows`.

    Parameters
    ----------
    peaks : ndarray of int64
        R-peak sample indices.
    windows : list of SignalQuality
        The windows' quality, as :func:`quality_windows` gives it for ``n_samples``.
    n_samples : int
        Length of the signal.
    fs : float
        Its sampling rate.

    Returns
    -------
    ndarray of bool
        One flag per peak.
    """
    keep = np.zeros(peaks.size, dtype=bool)
    for (start, end), window in zip(window_bounds(n_samples, fs), windows, strict=True):
        if window.usable:
            keep |= (peaks >= start) & (peaks < end)
    return keep


def _num(value: float, unit: str, digits: int = 1) -> str:
    return "—" if not np.isfinite(value) else f"{value:.{digits}f} {unit}".strip()


def print_quicklook(result: QuickLook, console: Console) -> None:
    """Print the figures of a :class:`QuickLook` as a table."""
    rec, h, q = result.record, result.hrv, result.quality
    table = Table(title=f"{rec.name} · lead {result.lead} · {rec.duration:.0f} s at {rec.fs:g} Hz")
    table.add_column("measure")
    table.add_column("value", justify="right")
    table.add_row("beats found", str(result.rpeaks.size))
    # Over the beats of usable windows only: none, and these rows read "—".
    table.add_row("heart rate", _num(h["heart_rate_bpm"], "bpm"))
    table.add_row("mean RR", _num(h["mean_rr_ms"], "ms", 0))
    table.add_row("SDNN", _num(h["sdnn_ms"], "ms"))
    table.add_row("RMSSD", _num(h["rmssd_ms"], "ms"))
    table.add_row("pNN50", _num(100 * h["pnn50"], "%"))
    usable = sum(w.usable for w in result.windows)
    verdict = "usable" if q.usable else "unusable"
    table.add_row("signal quality", f"{verdict}, score {q.score:.2f}")
    table.add_row("usable 10 s windows", f"{usable} of {len(result.windows)}")
    if q.reasons:
        table.add_row("problems", ", ".join(q.reasons))
    if result.rhythm is not None:
        r = result.rhythm
        probs = " · ".join(f"{c} {p:.2f}" for c, p in r.probabilities.items())
        label = r.label if r.label == r.raw_label else f"{r.label} (model: {r.raw_label})"
        table.add_row("rhythm", label)
        table.add_row("probabilities", probs)
        if r.basis == "windows":
            # A record over 61 s, judged from its per-second windows.
            burden = "–" if r.af_burden is None else f"{100 * r.af_burden:.1f} %"
            n = len(r.af_episodes or [])
            table.add_row("AF burden (windows)", f"{burden}, {n} episode{'s' * (n != 1)}")
    console.print(table)


def plot_quicklook(result: QuickLook, path: Path, seconds: float = 10.0) -> None:
    """Draw the cleaned trace with its beats on ECG paper, and the heart rate over time."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rec, fs = result.record, result.record.fs
    n = min(result.cleaned.size, int(seconds * fs))
    t = np.arange(n) / fs
    strip = result.frame_probs is not None and result.frame_end_s is not None
    fig, axes = plt.subplots(
        3 if strip else 2,
        1,
        figsize=(11, 8 if strip else 6),
        gridspec_kw={"height_ratios": [2, 1, 1] if strip else [2, 1]},
        constrained_layout=True,
    )
    ax_ecg, ax_hr = axes[0], axes[1]
    _paper(ax_ecg, seconds, result.cleaned[:n])
    ax_ecg.plot(t, result.cleaned[:n], color="black", lw=0.8)
    shown = result.rpeaks[result.rpeaks < n]
    ax_ecg.plot(shown / fs, result.cleaned[shown], "v", color="tab:blue", ms=6, label="R peak")
    ax_ecg.set_title(f"{rec.name}, lead {result.lead}: first {n / fs:.0f} s, cleaned")
    ax_ecg.set_xlabel("time (s)")
    ax_ecg.set_ylabel("mV")
    ax_ecg.legend(loc="upper right")

    peaks = result.rpeaks
    if peaks.size > 1:
        rr = np.diff(peaks) / fs
        # No rate is drawn where either beat of an interval lies in an unusable window.
        trusted = usable_beats(peaks, result.windows, result.cleaned.size, fs)
        both = trusted[1:] & trusted[:-1]
        ax_hr.plot(peaks[1:][both] / fs, 60.0 / rr[both], ".", ms=3, color="tab:red")
    bounds = window_bounds(result.cleaned.size, fs)
    for (start, end), window in zip(bounds, result.windows, strict=True):
        if not window.usable:
            ax_hr.axvspan(start / fs, end / fs, color="0.85", lw=0)
    h = result.hrv
    ax_hr.set_title(
        f"heart rate {_num(h['heart_rate_bpm'], 'bpm')} · SDNN {_num(h['sdnn_ms'], 'ms')} · "
        f"RMSSD {_num(h['rmssd_ms'], 'ms')} · grey: unusable 10 s windows (no rate drawn)"
    )
    ax_hr.set_xlabel("time (s)")
    ax_hr.set_ylabel("bpm")
    ax_hr.set_xlim(0, rec.duration)
    if strip:
        _rhythm_strip(axes[2], result, rec.duration)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _rhythm_strip(ax: Any, result: QuickLook, duration: float) -> None:
    """Each class's calibrated probability per second, and the uncertain threshold."""
    assert result.frame_probs is not None and result.frame_end_s is not None
    colours = {"normal": "tab:green", "af": "tab:red", "other": "tab:orange", "noise": "0.5"}
    for i, (name, colour) in enumerate(colours.items()):
        ax.plot(result.frame_end_s, result.frame_probs[:, i], color=colour, lw=1.2, label=name)
    ax.axhline(result.threshold, color="black", lw=0.8, ls="--", label="uncertain below")
    r = result.rhythm
    verdict = f": record verdict {r.label}" if r is not None else ""
    ax.set_title(f"rhythm, each second over the preceding 10 s{verdict}")
    ax.set_xlabel("time (s)")
    ax.set_ylabel("probability")
    ax.set_ylim(0, 1)
    ax.set_xlim(0, duration)
    ax.legend(loc="center left", bbox_to_anchor=(1.0, 0.5), fontsize=8)


def _paper(ax: Any, seconds: float, y: npt.NDArray[np.float64]) -> None:
    """ECG paper: 0.04 s by 0.1 mV small squares, 0.2 s by 0.5 mV large ones."""
    finite = y[np.isfinite(y)]
    lo = float(np.floor((finite.min() if finite.size else -1.0) * 2) / 2 - 0.5)
    hi = float(np.ceil((finite.max() if finite.size else 1.0) * 2) / 2 + 0.5)
    ax.set_xlim(0, seconds)
    ax.set_ylim(lo, hi)
    ax.set_xticks(np.arange(0, seconds + 1e-9, 1.0))
    ax.set_xticks(np.arange(0, seconds + 1e-9, 0.2), minor=True)
    ax.set_yticks(np.arange(lo, hi + 1e-9, 0.5))
    ax.set_yticks(np.arange(lo, hi + 1e-9, 0.1), minor=True)
    ax.grid(which="major", color="#f4a6a6", lw=0.8)
    ax.grid(which="minor", color="#fbdada", lw=0.4)
    ax.set_axisbelow(True)
