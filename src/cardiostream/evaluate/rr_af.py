"""Scoring of AF from beat times (:func:`cardiostream.af_from_beats`): the Long-Term AF
Database's beat series (read here for training and for the speed test), beat-level Se, Sp and
+P, the external test on MITDB and the report of ``cardiostream bench rr-af``.

Beat-level figures count beats: a beat is AF in the reference when it lies inside an
``(AFIB`` rhythm interval. In LTAFDB, beats before the first rhythm annotation and inside
atrial flutter (``(AFL``) are left out, as in training. In MITDB atrial flutter counts as not
AF (the strict reading; its beats are also reported left out). Gross figures sum the counts
over records; per-record Se is given where a record has AF beats, Sp where it has others.
"""

from __future__ import annotations

import time
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from cardiostream.beats import _af_rr_kernel as kernel
from cardiostream.beats.af_rr import FEATURES, RRAFModel, af_from_beats
from cardiostream.errors import InputError

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
Progress = Callable[[str, int, int], None]

#: Beat symbols (WFDB) that are beats.
BEAT_SYMBOLS = frozenset("NLRBAaJSVrFejnE/fQ?")
AF_RHYTHM = "(AFIB"
EXCLUDED_RHYTHMS = frozenset({"(AFL"})


@dataclass
class BeatSeries:
    """One record's beats: times (s), labels (1 AF, 0 not AF, -1 left out) and features."""

    time_s: FloatArray
    label: IntArray
    features: FloatArray


@dataclass
class LtafRecord:
    """A Long-Term AF Database record's reviewed (``atr``) and automated (``qrs``) beats."""

    name: str
    atr: BeatSeries
    qrs: BeatSeries


def features_of(t: FloatArray, restart_beats: int = 0) -> FloatArray:
    """The feature rows of every beat of a series; with ``restart_beats``, as if the series
    started afresh every that many beats (a stream's start: the first windows short)."""
    if restart_beats > 0 and t.size > restart_beats:
        parts = [features_of(t[i : i + restart_beats]) for i in range(0, t.size, restart_beats)]
        return np.concatenate(parts)
    x = np.empty((t.size, len(FEATURES)))
    kernel.rr_features(np.ascontiguousarray(t, np.float64), 0, x)
    return x


def noisy_times(
    t: FloatArray, sigma_s: float, rng: np.random.Generator
) -> tuple[FloatArray, IntArray]:
    """Beat times with Gaussian noise of ``sigma_s`` on each (the timing error of a pulse
    sensor or of a coarse beat detector), in increasing order, and which beat each one is."""
    noisy = t + rng.normal(0.0, sigma_s, t.size)
    order = np.argsort(noisy, kind="stable")
    return noisy[order], order


def jittered(
    series: BeatSeries, sigma_s: float, rng: np.random.Generator, restart_beats: int = 0
) -> BeatSeries:
    """The series with :func:`noisy_times`; labels stay the beats' own. ``restart_beats``: see
    :func:`features_of`."""
    t, order = noisy_times(series.time_s, sigma_s, rng)
    return BeatSeries(t, series.label[order], features_of(t, restart_beats))


#: Beat-time noise (s, standard deviation) of the jitter test, out of fold on LTAFDB and on
#: MITDB: a pulse sensor's timing.
JITTER_S = (0.01, 0.02, 0.03)
#: A stream's start, measured: MITDB's beats cut into streams of this many beats, each judged
#: from its own first beat, and scored on its beats :data:`~._af_rr_kernel.MIN_RR` to
#: :data:`~._af_rr_kernel.LONG` (the first with a verdict, before the long window is full).
START_EVERY = 200


def rhythm_labels(change_s: FloatArray, rhythm: Sequence[str], t: FloatArray) -> IntArray:
    """The label at each time ``t`` of a series of rhythm changes."""
    idx = np.searchsorted(change_s, t, side="right") - 1
    codes = np.array(
        [1 if r == AF_RHYTHM else -1 if r in EXCLUDED_RHYTHMS else 0 for r in rhythm] + [-1],
        np.int64,
    )
    return codes[np.where(idx >= 0, idx, len(rhythm))]


def read_ltafdb_record(folder: Path, name: str) -> LtafRecord:
    """One LTAFDB record's two beat series with labels and features."""
    import wfdb

    base = str(folder / name)
    try:
        atr = wfdb.rdann(base, "atr")
        qrs = wfdb.rdann(base, "qrs")
    except (OSError, ValueError) as exc:
        raise InputError(f"{base}: cannot read its .atr or .qrs ({exc})") from None
    fs = float(atr.fs or 128.0)
    changes = [
        (s, note.strip("\x00").strip())
        for s, note in zip(atr.sample.tolist(), atr.aux_note, strict=True)
        if note and note.startswith("(")
    ]
    change_s = np.array([s for s, _ in changes], np.float64) / fs
    rhythm = [r for _, r in changes]

    def series(ann: Any) -> BeatSeries:
        keep = np.array([s in BEAT_SYMBOLS for s in ann.symbol], bool)
        samples = np.unique(np.asarray(ann.sample, np.int64)[keep])
        t = samples / fs
        return BeatSeries(t, rhythm_labels(change_s, rhythm, t), features_of(t))

    return LtafRecord(name, series(atr), series(qrs))


def ltafdb_records(folder: Path) -> list[str]:
    """The record names of an LTAFDB folder (its ``RECORDS`` file, else the ``.atr`` files)."""
    if not folder.is_dir():
        raise InputError(f"{folder}: no such folder")
    listing = folder / "RECORDS"
    if listing.is_file():
        names = [n.strip() for n in listing.read_text().split() if n.strip()]
    else:
        names = sorted(p.stem for p in folder.glob("*.atr"))
    names = [
        n for n in names if (folder / f"{n}.atr").is_file() and (folder / f"{n}.qrs").is_file()
    ]
    if not names:
        raise InputError(f"{folder}: no record with both .atr and .qrs annotations")
    return names


def scores(label: IntArray, af: npt.NDArray[np.bool_]) -> dict[str, Any]:
    """Beat-level counts and Se, Sp, +P (percent; None where undefined) of labelled beats."""
    ok = label >= 0
    ref = label[ok] == 1
    hyp = af[ok]
    counts = {
        "tp": int((ref & hyp).sum()),
        "fn": int((ref & ~hyp).sum()),
        "fp": int((~ref & hyp).sum()),
        "tn": int((~ref & ~hyp).sum()),
    }
    return gross([counts])


def gross(rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Scores of summed counts."""
    tp, fn, fp, tn = (sum(int(r[k]) for r in rows) for k in ("tp", "fn", "fp", "tn"))
    return {
        "tp": tp,
        "fn": fn,
        "fp": fp,
        "tn": tn,
        "se": 100.0 * tp / (tp + fn) if tp + fn else None,
        "sp": 100.0 * tn / (tn + fp) if tn + fp else None,
        "ppv": 100.0 * tp / (tp + fp) if tp + fp else None,
    }


# MITDB: the external test.

#: Published beat-level figures of RR-interval AF detectors (Se, Sp in percent).
ANCHORS: tuple[tuple[str, str, float, float], ...] = (
    ("Petrėnas et al. 2015", "AFDB", 97.1, 98.3),
    ("Zhou et al. 2015", "LTAFDB", 96.1, 95.7),
    ("Zhou et al. 2015", "MITDB", 97.8, 87.4),
    ("Tateno & Glass 2001", "AFDB", 94.4, 97.2),
)
#: Least AF a record must hold (s, summed) for the record-level AF call.
RECORD_AF_S = 30.0


def _mitdb_labels(ann: Any, fs: float, t: FloatArray, afl_as: int) -> IntArray:
    changes = [
        (s, note.strip("\x00").strip())
        for s, note in zip(ann.sample.tolist(), ann.aux_note, strict=True)
        if note and note.startswith("(")
    ]
    change_s = np.array([s for s, _ in changes], np.float64) / fs
    rhythm = [r for _, r in changes]
    idx = np.searchsorted(change_s, t, side="right") - 1
    codes = np.array(
        [1 if r == AF_RHYTHM else afl_as if r in EXCLUDED_RHYTHMS else 0 for r in rhythm] + [0],
        np.int64,
    )
    return codes[np.where(idx >= 0, idx, len(rhythm))]


def _af_seconds(t: FloatArray, af: npt.NDArray[np.bool_]) -> float:
    if t.size < 2:
        return 0.0
    return float(np.diff(t)[af[1:]].sum())


def evaluate_mitdb_record(
    folder: Path, name: str, model: RRAFModel | None = None
) -> dict[str, Any]:
    """One MITDB record: scores on the reference beats and on the engine's own beats
    (:func:`cardiostream.detect_rpeaks` on lead 0), AF seconds in reference and output."""
    import wfdb

    from cardiostream.beats.detector import detect_rpeaks

    base = folder / name
    try:
        ann = wfdb.rdann(str(base), "atr")
        rec = wfdb.rdrecord(str(base), channels=[0])
    except (OSError, ValueError) as exc:
        raise InputError(f"{base}: cannot read the record ({exc})") from None
    fs = float(rec.fs)
    keep = np.array([s in BEAT_SYMBOLS for s in ann.symbol], bool)
    t_ref = np.unique(np.asarray(ann.sample, np.int64)[keep]) / fs
    signal = np.asarray(rec.p_signal[:, 0], np.float64)
    t_det = np.asarray(detect_rpeaks(signal, fs), np.float64) / fs
    row: dict[str, Any] = {"record": name, "duration_s": signal.size / fs}
    for src, t in (("reference", t_ref), ("detected", t_det)):
        out = af_from_beats(t, model)
        label = _mitdb_labels(ann, fs, t, 0)
        strict = scores(label, out.af)
        no_afl = scores(_mitdb_labels(ann, fs, t, -1), out.af)
        row[src] = {
            **strict,
            "beats": int(t.size),
            "af_beats": int((label == 1).sum()),
            "afl_left_out": no_afl,
            "af_s": _af_seconds(t, label == 1),
            "called_af_s": _af_seconds(t, out.af),
        }
    # The reference beats again with noise on their times, from a generator of the record's.
    label_ref = _mitdb_labels(ann, fs, t_ref, 0)
    row["reference_jitter"] = []
    row["reference_start"] = [{"sigma_ms": 0.0, **start_scores(t_ref, label_ref, model)}]
    for k, sigma in enumerate(JITTER_S):
        t, order = noisy_times(t_ref, sigma, np.random.default_rng([zlib.crc32(name.encode()), k]))
        out = af_from_beats(t, model)
        row["reference_jitter"].append(
            {"sigma_ms": round(1000 * sigma, 3), **scores(label_ref[order], out.af)}
        )
        row["reference_start"].append(
            {"sigma_ms": round(1000 * sigma, 3), **start_scores(t, label_ref[order], model)}
        )
    return row


def start_scores(t: FloatArray, label: IntArray, model: RRAFModel | None = None) -> dict[str, Any]:
    """Scores of a stream's first beats: the series cut into streams of :data:`START_EVERY`
    beats, each judged afresh, scored on its beats ``MIN_RR`` to ``LONG`` (its first verdicts,
    made on fewer intervals than the detector's window)."""
    af = np.concatenate(
        [af_from_beats(t[k : k + START_EVERY], model).af for k in range(0, t.size, START_EVERY)]
    )
    return scores(np.where(first_verdicts(t.size), label, -1), af)


def first_verdicts(n: int) -> npt.NDArray[np.bool_]:
    """Which of ``n`` beats, cut into streams of :data:`START_EVERY`, are a stream's first
    verdicts: its beats ``MIN_RR`` to ``LONG`` (from 0), judged on fewer intervals than the
    detector's window."""
    pos = np.arange(n) % START_EVERY
    return (pos >= kernel.MIN_RR) & (pos < kernel.LONG)


def mitdb_records(folder: Path) -> list[str]:
    """The records of a MITDB folder (its ``RECORDS`` file, else its headers)."""
    if not folder.is_dir():
        raise InputError(f"{folder}: no such folder")
    listing = folder / "RECORDS"
    if listing.is_file():
        return [n.strip() for n in listing.read_text().split() if n.strip()]
    return sorted(p.stem for p in folder.glob("*.hea"))


def record_level(rows: Sequence[dict[str, Any]], src: str) -> dict[str, Any]:
    """AF-record-level counts: a record is AF in the reference when it holds any AF beat, and
    called AF when the detector's AF sums to :data:`RECORD_AF_S` or more."""
    ref = np.array([r[src]["af_beats"] > 0 for r in rows])
    hyp = np.array([r[src]["called_af_s"] >= RECORD_AF_S for r in rows])
    tp = int((ref & hyp).sum())
    return {
        "af_records": int(ref.sum()),
        "found": tp,
        "false_records": [
            r["record"] for r, h, f in zip(rows, hyp, ref, strict=True) if h and not f
        ],
        "missed_records": [
            r["record"] for r, h, f in zip(rows, hyp, ref, strict=True) if f and not h
        ],
        "other_records": int((~ref).sum()),
        "called_other": int((hyp & ~ref).sum()),
    }


def evaluate_mitdb(
    folder: Path,
    model: RRAFModel | None = None,
    records: Sequence[str] | None = None,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Every MITDB record's scores, gross figures and the record-level test."""
    names = list(records) if records else mitdb_records(folder)
    rows = []
    for i, name in enumerate(names):
        if progress:
            progress(f"MITDB {name}", i, len(names))
        rows.append(evaluate_mitdb_record(folder, name, model))
    doc: dict[str, Any] = {"per_record": rows, "gross": {}, "record_level": {}}
    for src in ("reference", "detected"):
        doc["gross"][src] = gross([r[src] for r in rows])
        doc["gross"][f"{src}_afl_left_out"] = gross([r[src]["afl_left_out"] for r in rows])
        doc["record_level"][src] = record_level(rows, src)
    doc["gross"]["reference_jitter"] = [
        {"sigma_ms": round(1000 * sigma, 3), **gross([r["reference_jitter"][k] for r in rows])}
        for k, sigma in enumerate(JITTER_S)
    ]
    doc["gross"]["reference_start"] = [
        {"sigma_ms": round(1000 * sigma, 3), **gross([r["reference_start"][k] for r in rows])}
        for k, sigma in enumerate((0.0, *JITTER_S))
    ]
    return doc


def measure_speed(
    folder: Path, names: Sequence[str], model: RRAFModel | None = None, chunk: int = 1
) -> dict[str, Any]:
    """Speed of :func:`af_from_beats` over the reviewed beats of LTAFDB records (whole
    series) and of :class:`AFBeatDetector` fed ``chunk`` beats a push; the best of three."""
    import wfdb

    from cardiostream.beats.af_rr import AFBeatDetector

    series = []
    for name in names:
        ann = wfdb.rdann(str(folder / name), "atr")
        keep = np.array([s in BEAT_SYMBOLS for s in ann.symbol], bool)
        series.append(np.unique(np.asarray(ann.sample, np.int64)[keep]) / float(ann.fs or 128.0))
    beats = sum(t.size for t in series)
    seconds = sum(float(t[-1] - t[0]) for t in series)
    af_from_beats(series[0][:200], model)  # compiled before timing
    best = np.inf
    for _ in range(3):
        t0 = time.perf_counter()
        for t in series:
            af_from_beats(t, model)
        best = min(best, time.perf_counter() - t0)
    t = series[0][: min(series[0].size, 20000)]
    live = np.inf
    for _ in range(3):
        det = AFBeatDetector(model)
        t0 = time.perf_counter()
        for k in range(0, t.size, chunk):
            det.push(t[k : k + chunk])
        live = min(live, time.perf_counter() - t0)
    return {
        "records": list(names),
        "beats": beats,
        "signal_s": seconds,
        "offline_s": best,
        "beats_per_s": beats / best,
        "x_real_time": seconds / best,
        "live_chunk_beats": chunk,
        "live_us_per_push": 1e6 * live / max(1, (t.size + chunk - 1) // chunk),
        "live_x_real_time": float(t[-1] - t[0]) / live,
    }


def _f(x: float | None, digits: int = 1) -> str:
    return "–" if x is None else f"{x:.{digits}f}"


def _table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(" --- " for _ in header) + "|"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return lines


def _jitter_rows(cv: dict[str, Any], mitdb: dict[str, Any]) -> dict[float, list[str]]:
    """Se and Sp by beat-time noise (ms; 0: as annotated), LTAFDB out of fold and MITDB."""
    ltaf = {row["sigma_ms"]: row for row in cv.get("jitter", [])}
    mit = {row["sigma_ms"]: row for row in mitdb["gross"].get("reference_jitter", [])}
    out = {0.0: [cv["gross"]["atr"], mitdb["gross"]["reference"]]}
    for sigma in sorted(set(ltaf) | set(mit)):
        out[sigma] = [ltaf.get(sigma, {}), mit.get(sigma, {})]
    return {k: [_f(d.get(m)) for d in v for m in ("se", "sp")] for k, v in out.items()}


def _trained_on(config: dict[str, Any]) -> str:
    """What a model's training report says of its size and of what it learned from, beyond
    the beats as annotated."""
    size = f"{config['hidden']} hidden units, " if config.get("hidden") else ""
    copies = config.get("jitter_ms") or []
    if not copies:
        return size + "trained on the beats as annotated"
    restart = config.get("restart_beats")
    noisy = [v for v in copies if v]
    text = size + "trained with " + ("a copy" if len(copies) == 1 else "copies")
    text += " of each record's reviewed beats"
    if noisy:
        text += " at " + " and ".join(f"{v:g}" for v in noisy) + " ms of noise"
        if len(noisy) < len(copies):
            text += " and without"
    if restart:
        text += ", starting" if len(copies) == 1 else ", each starting"
        text += f" afresh every {restart:,} beats"
    return text


def _jitter_section(
    cv: dict[str, Any], mitdb: dict[str, Any], pulse: dict[str, Any] | None
) -> list[str]:
    """The table of beat-time noise: LTAFDB out of fold and MITDB reference beats, for the ECG
    model and (where given) the pulse model."""
    if not cv.get("jitter") and not mitdb["gross"].get("reference_jitter"):
        return []
    ecg = _jitter_rows(cv, mitdb)
    header = ["beat-time noise (ms)", "LTAFDB Se", "LTAFDB Sp", "MITDB Se", "MITDB Sp"]
    rows = [[f"{k:g}" if k else "0 (as annotated)", *v] for k, v in ecg.items()]
    text = 'the ECG model (`timing="ecg"`, ' + _trained_on(cv["config"]) + ")"
    if pulse is not None:
        pul = _jitter_rows(pulse["cv"], pulse["mitdb"])
        header = [header[0]] + [f"{h}, ECG model" for h in header[1:]]
        header += [f"{h}, pulse model" for h in ("LTAFDB Se", "LTAFDB Sp", "MITDB Se", "MITDB Sp")]
        rows = [[*row, *pul.get(k, ["–"] * 4)] for row, k in zip(rows, ecg, strict=True)]
        text += (
            ' and the pulse model (`timing="pulse"`, ' + _trained_on(pulse["cv"]["config"]) + ")"
        )
    return [
        "## Beat times from a pulse sensor",
        "",
        "A PPG watch or a pulse oximeter times each beat from the pulse wave, 10-30 ms less "
        "exactly than an ECG's R peak; noise that size on every beat time makes a regular "
        "rhythm's successive differences look like AF's. Here every beat time gets Gaussian "
        "noise of the given standard deviation: the LTAFDB reviewed beats of the held-out "
        f"records (out of fold) and MITDB's reference beats (external), for {text}.",
        "",
        *_table(header, rows),
        "",
    ]


def _start_rows(cv: dict[str, Any], mitdb: dict[str, Any]) -> dict[float, list[str]]:
    """Se and Sp of a stream's first beats by beat-time noise: LTAFDB out of fold (where the
    report has them) and MITDB."""
    ltaf = {r["sigma_ms"]: r for r in cv.get("start", [])}
    mit = {r["sigma_ms"]: r for r in mitdb["gross"].get("reference_start", [])}
    return {
        sigma: [_f(d.get(sigma, {}).get(m)) for d in (ltaf, mit) for m in ("se", "sp")]
        for sigma in sorted(set(ltaf) | set(mit))
    }


def _start_section(
    cv: dict[str, Any], mitdb: dict[str, Any], pulse: dict[str, Any] | None
) -> list[str]:
    """The table of a stream's first beats, by beat-time noise, for each model."""
    ecg = _start_rows(cv, mitdb)
    if not ecg:
        return []
    cols = ["LTAFDB Se", "LTAFDB Sp", "MITDB Se", "MITDB Sp"]
    header = ["beat-time noise (ms)", *(f"{c}, ECG model" for c in cols)]
    pul: dict[float, list[str]] = {}
    if pulse is not None:
        pul = _start_rows(pulse["cv"], pulse["mitdb"])
        header += [f"{c}, pulse model" for c in cols]
    rows = []
    for sigma, v in ecg.items():
        row = [f"{sigma:g}" if sigma else "0 (as annotated)", *v]
        if pulse is not None:
            row += pul.get(sigma, ["–"] * 4)
        rows.append(row)
    return [
        "## A stream's first beats",
        "",
        f"A stream's first {kernel.LONG} beats, and those after a gap, are judged on fewer "
        f"intervals than the detector's window ({kernel.MIN_RR} at the least). Here the beats "
        f"(with the noise of the table above, where given) are cut into streams of "
        f"{START_EVERY} beats, each judged from its own first beat, and scored on the "
        f"{kernel.LONG - kernel.MIN_RR} beats from the {kernel.MIN_RR + 1}th to the "
        f"{kernel.LONG}th of each: the first verdicts a stream gets. LTAFDB: "
        "the reviewed beats of the held-out records, out of fold; MITDB: the reference beats.",
        "",
        *_table(header, rows),
        "",
    ]


def to_markdown(
    cv: dict[str, Any],
    mitdb: dict[str, Any],
    speed: dict[str, Any],
    pulse: dict[str, Any] | None = None,
) -> str:
    """The report ``docs/rhythm/rr_af.md``; ``pulse`` holds the pulse model's ``cv`` report and
    ``mitdb`` results."""
    g = cv["gross"]
    m = mitdb["gross"]
    lines = [
        "# AF from beat times",
        "",
        "Written by `cardiostream bench rr-af`. The detector is "
        "`cardiostream.af_from_beats` (causal: a beat is decided from itself and the "
        f"{kernel.LONG} intervals before it, delay 0 beats); its design is in "
        'docs/decisions.md ("AF from beat times"). Beat-level figures, in percent. '
        "Unless a row names the pulse model, the figures are the ECG model's (the default, "
        "for R peaks).",
        "",
        "## Summary",
        "",
    ]

    def row(label: str, d: dict[str, Any]) -> list[str]:
        return [label, _f(d["se"]), _f(d["sp"]), _f(d["ppv"])]

    rows = [
        row(
            "this detector, LTAFDB 56 records, cross-validated by record, reviewed beats", g["atr"]
        ),
        row("the same, the automated detector's beats (.qrs)", g["qrs"]),
        row("MITDB (never trained on), reference beats", m["reference"]),
        row("MITDB, the engine's own beats (`detect_rpeaks`, lead 0)", m["detected"]),
    ]
    if pulse is not None:
        pg, pm = pulse["cv"]["gross"], pulse["mitdb"]["gross"]
        rows += [
            row('the pulse model (`timing="pulse"`), LTAFDB, reviewed beats', pg["atr"]),
            row("the pulse model, LTAFDB, the automated detector's beats", pg["qrs"]),
            row("the pulse model, MITDB, reference beats", pm["reference"]),
        ]
    rows += [
        [f"{who}, {db} (published)", f"{se:.1f}", f"{sp:.1f}", "–"] for who, db, se, sp in ANCHORS
    ]
    lines += _table(["", "Se", "Sp", "+P"], rows)
    lines += [
        "",
        "Target, judged on AF databases that were never trained or tuned on: Se ≥ 97, "
        "Sp ≥ 98.5. The published figures are other databases' or other splits' and are "
        "given as anchors, not as a head-to-head comparison.",
        "",
        f"Speed, one process: {speed['beats_per_s']:,.0f} beats/s over "
        f"{len(speed['records'])} LTAFDB records ({speed['beats']:,} beats, "
        f"{speed['signal_s'] / 3600:.0f} h): {speed['x_real_time']:,.0f}× real time offline; "
        f"live, {speed['live_chunk_beats']} beat a push, {speed['live_us_per_push']:.0f} µs a "
        f"push ({speed['live_x_real_time']:,.0f}× real time).",
        "",
    ]
    lines += _jitter_section(cv, mitdb, pulse)
    lines += _start_section(cv, mitdb, pulse)
    lines += [
        "## LTAFDB cross-validation (out of fold)",
        "",
        f"{cv['config']['folds']} folds of whole records (seed {cv['config']['seed']}); the "
        f"smoothing (α = {cv['alpha']:g}) and the threshold ({cv['threshold']:.2f}) were chosen "
        "on these same out-of-fold outputs (largest Se + Sp over the reviewed beats), so the "
        "figures are slightly optimistic by those two numbers. Beats before the first rhythm "
        "annotation and in atrial flutter are left out. A record's Se or Sp over a few "
        "hundred beats (the edges of a rhythm that fills the rest of the record) mostly "
        "measures the causal window's lag at those edges.",
        "",
    ]
    per = cv["per_record"]
    rows = []
    for r in sorted(per, key=lambda r: r["record"]):
        a, q = r["atr"], r["qrs"]
        rows.append(
            [
                r["record"],
                a["beats"],
                a["af_beats"],
                _f(a["se"]),
                _f(a["sp"]),
                _f(q["se"]),
                _f(q["sp"]),
            ]
        )
    rows.append(
        [
            "**gross**",
            sum(r["atr"]["beats"] for r in per),
            sum(r["atr"]["af_beats"] for r in per),
            _f(g["atr"]["se"]),
            _f(g["atr"]["sp"]),
            _f(g["qrs"]["se"]),
            _f(g["qrs"]["sp"]),
        ]
    )
    lines += _table(
        ["record", "beats", "AF beats", "Se (.atr)", "Sp (.atr)", "Se (.qrs)", "Sp (.qrs)"], rows
    )
    with_af = [r for r in per if (r["atr"]["af_beats"] or 0) >= 1000]
    se_vals = sorted((r["atr"]["se"], r["record"]) for r in with_af if r["atr"]["se"] is not None)
    sp_vals = sorted(
        (r["atr"]["sp"], r["record"])
        for r in per
        if r["atr"]["sp"] is not None and r["atr"]["tn"] + r["atr"]["fp"] >= 1000
    )
    if se_vals and sp_vals:
        lines += [
            "",
            f"Per record (reviewed beats): median Se {np.median([v for v, _ in se_vals]):.1f} "
            f"over the {len(se_vals)} records with 1,000 AF beats or more, lowest "
            + ", ".join(f"{n} {v:.1f}" for v, n in se_vals[:3])
            + f"; median Sp {np.median([v for v, _ in sp_vals]):.1f} over the {len(sp_vals)} "
            "records with 1,000 other beats or more, lowest "
            + ", ".join(f"{n} {v:.1f}" for v, n in sp_vals[:3])
            + ".",
        ]
    lines += [
        "",
        "## MITDB, external test",
        "",
        "Never trained or tuned on. Reference beats: the `.atr` beats; detected beats: "
        "`cardiostream.detect_rpeaks` on lead 0, each labelled by the reference rhythm at "
        "its time. Atrial flutter counts as not AF; the gross figures with it left out are "
        f"Se {_f(m['reference_afl_left_out']['se'])} / Sp "
        f"{_f(m['reference_afl_left_out']['sp'])} (reference beats) and "
        f"{_f(m['detected_afl_left_out']['se'])} / {_f(m['detected_afl_left_out']['sp'])} "
        "(detected beats).",
        "",
    ]
    rows = []
    for r in mitdb["per_record"]:
        a, d = r["reference"], r["detected"]
        if a["af_beats"] == 0 and a["fp"] == 0 and d["fp"] == 0:
            continue
        rows.append(
            [
                r["record"],
                a["beats"],
                a["af_beats"],
                _f(a["se"]),
                _f(a["sp"]),
                a["fp"],
                _f(d["se"]),
                _f(d["sp"]),
                d["fp"],
            ]
        )
    lines += _table(
        [
            "record",
            "beats",
            "AF beats",
            "Se (ref.)",
            "Sp (ref.)",
            "false AF beats (ref.)",
            "Se (det.)",
            "Sp (det.)",
            "false AF beats (det.)",
        ],
        rows,
    )
    clean = len(mitdb["per_record"]) - len(rows)
    lines += [
        "",
        f"The {clean} records not listed have no AF and no beat called AF, on either series.",
        "",
    ]
    rows = []
    for src in ("reference", "detected"):
        gs = m[src]
        rl = mitdb["record_level"][src]
        rows.append(
            [
                src,
                _f(gs["se"]),
                _f(gs["sp"]),
                _f(gs["ppv"]),
                f"{rl['found']} of {rl['af_records']}",
                f"{rl['called_other']} of {rl['other_records']}"
                + (f" ({', '.join(rl['false_records'])})" if rl["false_records"] else ""),
            ]
        )
    lines += _table(
        [
            "beats",
            "Se",
            "Sp",
            "+P",
            "AF records found",
            f"records without AF called AF (≥ {RECORD_AF_S:.0f} s)",
        ],
        rows,
    )
    lines += [
        "",
        "Data: the Long-Term AF Database (Petrutiu et al. 2007) and the MIT-BIH Arrhythmia "
        "Database (Moody & Mark 2001), PhysioNet (Goldberger et al. 2000), ODC-By 1.0.",
        "",
    ]
    return "\n".join(lines)
