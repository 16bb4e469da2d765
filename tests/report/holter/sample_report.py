"""A Holter report built by hand, as the engine would write it, and its strips' samples.

24 h from 2026-03-02 08:15:00, with AF episodes (one annotated), ventricular runs, pauses,
rate episodes, a night's unusable hour; :func:`unusable_report` is a day of mostly noise
whose figures are null.
"""

from __future__ import annotations

import copy
import math

import numpy as np

from cardiostream.report.holter.contract import (
    SCHEMA,
    AfEpisode,
    Ectopy,
    HolterReport,
    HourRow,
    Run,
    Strip,
    StripSignal,
)

START = "2026-03-02T08:15:00"
DAY_S = 86400.0
FS = 250.0


def _ectopy(total: int, runs: list[Run], per_hour_max: int) -> Ectopy:
    longest = max(runs, key=lambda r: r["n_beats"]) if runs else None
    fastest = max(runs, key=lambda r: r["rate_bpm"]) if runs else None
    return {
        "total": total,
        "isolated": total - 2 * 31 - sum(r["n_beats"] for r in runs),
        "couplets": 31,
        "runs": len(runs),
        "longest_run": longest,
        "fastest_run": fastest,
        "run_list": runs,
        "bigeminy_episodes": 4,
        "trigeminy_episodes": 2,
        "per_hour_max": per_hour_max,
    }


def _hourly(hours: int) -> list[HourRow]:
    rows: list[HourRow] = []
    for h in range(hours):
        night = 14 <= h <= 21  # 22:15-06:15 on the clock
        unusable = h == 18
        mean = 58.0 if night else 78.0 + 6 * math.sin(h)
        rows.append({
            "hour": h, "start_s": h * 3600.0, "analysable_s": 0.0 if unusable else 3540.0,
            "beats": 0 if unusable else round(mean * 59),
            "min_bpm": None if unusable else mean - 9, "mean_bpm": None if unusable else mean,
            "max_bpm": None if unusable else mean + 25, "v_beats": 0 if unusable else 40 + 7 * h,
            "s_beats": 0 if unusable else 12 + (h % 5), "pauses": 1 if h in (15, 16) else 0,
            "af_burden": None if unusable else (0.42 if h in (3, 4) else 0.0),
        })  # fmt: skip
    return rows


def _trend(hours: int) -> tuple[list[float], list[float | None]]:
    t = [60.0 * i for i in range(hours * 60)]
    bpm: list[float | None] = []
    for i, ti in enumerate(t):
        h = ti / 3600.0
        if 18 <= h < 19:
            bpm.append(None)  # the unusable hour
            continue
        base = 58.0 if 14 <= h < 22 else 78.0
        bpm.append(round(base + 8 * math.sin(i / 37.0) + (30 if 200 <= i < 230 else 0), 1))
    if hours >= 24:  # the report's minimum and maximum minutes
        bpm[200], bpm[1001] = 141.2, 47.3
    return t, bpm


def _strip(sid: str, finding: str, kind: str, start: float, hr: float, dur: float = 10.0) -> Strip:
    return {"id": sid, "finding": finding, "kind": kind, "which": "example",
            "start_s": start, "duration_s": dur, "hr_bpm": hr}  # fmt: skip


def holter_report(hours: int = 24, n_strips: int = 8) -> HolterReport:
    """The 24 h report (``hours`` long, ``n_strips`` strips)."""
    duration = hours * 3600.0
    t, bpm = _trend(hours)
    v_runs: list[Run] = [
        {"start_s": 5000.0, "end_s": 5002.1, "n_beats": 3, "rate_bpm": 142.0},
        {"start_s": 40000.5, "end_s": 40004.0, "n_beats": 7, "rate_bpm": 171.4},
        {"start_s": 61234.0, "end_s": 61236.0, "n_beats": 4, "rate_bpm": 155.0},
    ]
    s_runs: list[Run] = [{"start_s": 12000.0, "end_s": 12003.0, "n_beats": 5, "rate_bpm": 128.0}]
    episodes: list[AfEpisode] = [
        {"start_s": 11000.0, "end_s": 13700.0, "duration_s": 2700.0, "mean_rate_bpm": 112.4,
         "confidence": 0.93, "annotations": ["confirmed AF", "patient felt palpitations"]},
        {"start_s": 14400.0, "end_s": 15300.0, "duration_s": 900.0, "mean_rate_bpm": 98.0,
         "confidence": 0.81, "annotations": []},
        {"start_s": 70000.0, "end_s": 70450.0, "duration_s": 450.0, "mean_rate_bpm": None,
         "confidence": None, "annotations": []},
    ]  # fmt: skip
    strips = [
        _strip("af-longest", "AF, longest episode", "af", 11000.0, 112.0),
        _strip("vt-fastest", "Ventricular run, fastest (7 beats)", "vt", 39998.0, 171.0),
        _strip("pause-longest", "Pause, longest (3.42 s)", "pause", 58000.0, 44.0, 20.0),
        _strip("hr-min", "Minimum heart rate", "heart_rate", 60060.0, 47.0),
        _strip("hr-max", "Maximum heart rate", "heart_rate", 12000.0, 141.0),
    ]
    for i in range(len(strips), n_strips):
        strips.append(_strip(f"example-{i}", f"Example {i}", "heart_rate", 3600.0 * (i % 24), 72.0))
    report: HolterReport = {
        "schema": SCHEMA,
        "software": {
            "version": "0.1.0", "rhythm_model": "rhythm-3f9a2c", "beat_model": "beats-77e1",
        },
        "record": {
            "name": "holter-0042", "source": "/data/holter-0042.edf", "fs": FS, "lead": "II",
            "leads": ["I", "II", "V5"], "device": "Acme PatchRec 3", "start": START,
            "duration_s": duration, "analysable_s": duration - 3600.0 - 720.0,
            "unusable_s": 4320.0, "unusable_by_reason": {"lead_off": 3600.0, "noise": 720.0},
        },
        "findings": [
            "Paroxysmal atrial fibrillation, burden 4.9 %, longest episode 45 min.",
            "Frequent ventricular ectopy (12,345 beats), 3 runs, longest 7 beats at 171 bpm.",
            "2 pauses of 2.0 s or more, the longest 3.42 s at night.",
        ],
        "heart_rate": {
            "total_beats": 103_482, "min_bpm": 47.3, "min_at_s": 60060.0, "mean_bpm": 71.6,
            "max_bpm": 141.2, "max_at_s": 12000.0, "trend_t_s": t, "trend_bpm": bpm,
        },
        "hourly": _hourly(hours),
        "ventricular": _ectopy(12_345, v_runs, 201),
        "supraventricular": _ectopy(1_204, s_runs, 31),
        "pauses": {
            "n_2s": 2, "n_3s": 1, "longest": {"at_s": 58003.2, "rr_s": 3.42},
            "pause_list": [{"at_s": 55000.0, "rr_s": 2.31}, {"at_s": 58003.2, "rr_s": 3.42}],
        },
        "rate_episodes": [
            {"kind": "bradycardia", "start_s": 59000.0, "end_s": 61000.0, "extreme_bpm": 44.0},
            {"kind": "sinus_tachycardia", "start_s": 12000.0, "end_s": 12600.0,
             "extreme_bpm": 141.0},
        ],
        "af": {"burden": 0.0493, "af_s": 4050.0, "episodes": episodes, "longest": episodes[0]},
        "hrv": {
            "n_nn": 91_877, "sdnn_ms": 132.4, "sdann_ms": 118.9, "sdnn_index_ms": 54.2,
            "rmssd_ms": 31.7, "pnn50": 0.087, "lf_ms2": 612.3, "hf_ms2": 241.9,
            "lf_hf": 2.53, "segments": 262,
        },
        "strips": strips,
        "annotations": [
            {"t_s": 11000.0, "end_s": 13700.0, "label": "af", "note": "confirmed AF"},
            {"t_s": 80000.0, "end_s": None, "label": "symptom", "note": "dizzy <after> stairs"},
        ],
        "timing": {"engine_s": 8.1, "total_s": 10.4},
    }  # fmt: skip
    return report


def ecg(seconds: float, bpm: float, fs: float = FS, v_every: int = 0) -> StripSignal:
    """A crude ECG: 1 mV R waves on a slow wander, every ``v_every``-th beat a V."""
    n = round(seconds * fs)
    t = np.arange(n) / fs
    rr = 60.0 / bpm
    beats = np.arange(0.3, seconds - 0.1, rr)
    x = 0.05 * np.sin(2 * np.pi * 0.2 * t)
    classes = []
    for i, b in enumerate(beats):
        v = v_every and i % v_every == v_every - 1
        width, amp = (0.035, -0.9) if v else (0.012, 1.0)
        x += amp * np.exp(-0.5 * ((t - b) / width) ** 2)
        x += 0.15 * np.exp(-0.5 * ((t - b - 0.25) / 0.04) ** 2)  # a T wave
        classes.append("V" if v else "N")
    return StripSignal(samples=x.astype(np.float32), fs=fs, beat_s=beats, beat_class=classes)


def strip_signals(report: HolterReport) -> dict[str, StripSignal]:
    """Samples for every strip of ``report``."""
    out = {}
    for i, s in enumerate(report["strips"]):
        hr = s["hr_bpm"] or 70.0
        out[s["id"]] = ecg(s["duration_s"], hr, v_every=4 if i % 2 else 0)
    return out


def unusable_report() -> HolterReport:
    """A day of mostly noise: 40 s analysable, every figure that needs signal null."""
    report = copy.deepcopy(holter_report(hours=24, n_strips=0))
    rec = report["record"]
    rec["analysable_s"] = 40.0
    rec["unusable_s"] = DAY_S - 40.0
    rec["unusable_by_reason"] = {"noise": 60000.0, "lead_off": DAY_S - 60040.0}
    report["findings"] = ["Not enough analysable signal for any finding."]
    report["heart_rate"] = {
        "total_beats": 0, "min_bpm": None, "min_at_s": None, "mean_bpm": None, "max_bpm": None,
        "max_at_s": None, "trend_t_s": [60.0 * i for i in range(1440)], "trend_bpm": [None] * 1440,
    }  # fmt: skip
    for h in report["hourly"]:
        h.update(analysable_s=0.0, beats=0, min_bpm=None, mean_bpm=None, max_bpm=None,
                 v_beats=0, s_beats=0, af_burden=None, pauses=0)  # fmt: skip
    empty = _ectopy(0, [], 0)
    empty.update(isolated=0, couplets=0, bigeminy_episodes=0, trigeminy_episodes=0)
    report["ventricular"] = empty
    report["supraventricular"] = copy.deepcopy(empty)
    report["pauses"] = {"n_2s": 0, "n_3s": 0, "longest": None, "pause_list": []}
    report["rate_episodes"] = []
    report["af"] = {"burden": None, "af_s": 0.0, "episodes": [], "longest": None}
    report["hrv"] = {
        "n_nn": 0, "sdnn_ms": None, "sdann_ms": None, "sdnn_index_ms": None, "rmssd_ms": None,
        "pnn50": None, "lf_ms2": None, "hf_ms2": None, "lf_hf": None, "segments": 0,
    }  # fmt: skip
    report["annotations"] = []
    return report
