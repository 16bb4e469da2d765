"""Scoring of AAMI beat classes on MITDB: the inter-patient split, matching, the DS2 table.

The protocol is de Chazal et al. (2004)'s: models are trained and chosen on :data:`DS1`
only, and :data:`DS2` is scored once; the paced records (:data:`PACED`) are in neither.
Detected beats are paired one to one with the reference beats within ±150 ms
(:func:`~cardiostream.evaluate.rpeaks.match_beats`); each class's sensitivity (Se) and
positive predictivity (+P) are gross, over the paired beats whose reference is in one of the
five classes. Reference beats the detector missed are counted apart.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from cardiostream.beats.classes import AAMI, CLASSES, BeatModel, beat_features_of, classify_beats
from cardiostream.evaluate.rpeaks import match_beats

#: MITDB records of the training half (de Chazal 2004).
DS1: tuple[str, ...] = (
    "101",
    "106",
    "108",
    "109",
    "112",
    "114",
    "115",
    "116",
    "118",
    "119",
    "122",
    "124",
    "201",
    "203",
    "205",
    "207",
    "208",
    "209",
    "215",
    "220",
    "223",
    "230",
)
#: MITDB records of the test half, scored once with a frozen model.
DS2: tuple[str, ...] = (
    "100",
    "103",
    "105",
    "111",
    "113",
    "117",
    "121",
    "123",
    "200",
    "202",
    "210",
    "212",
    "213",
    "214",
    "219",
    "221",
    "222",
    "228",
    "231",
    "232",
    "233",
    "234",
)
#: The paced records, in neither half.
PACED: tuple[str, ...] = ("102", "104", "107", "217")

#: Published inter-patient results on DS2, Se / +P in %: (S Se, S +P, V Se, V +P).
ANCHORS: dict[str, tuple[float, float, float, float]] = {
    "de Chazal 2004": (75.9, 38.5, 77.7, 81.9),
    "Llamedo & Martínez 2011": (77.0, 39.0, 81.0, 87.0),
    "Zhang 2014": (79.1, 36.0, 85.5, 92.7),
    "Mar 2011": (83.2, 33.5, 86.8, 75.9),
}
#: The targets on DS2, in %: (S Se, S +P, V Se, V +P).
TARGETS: tuple[float, float, float, float] = (80.0, 60.0, 90.0, 95.0)


def reference_classes(
    samples: npt.NDArray[np.int64], symbols: npt.NDArray[np.str_]
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """The reference beats that have an AAMI class: their samples and class indices."""
    cls = np.array([CLASSES.index(AAMI[s]) if s in AAMI else -1 for s in symbols], np.int64)
    keep = cls >= 0
    return np.asarray(samples, np.int64)[keep], cls[keep]


@dataclass
class RecordBeats:
    """One record's detected beats paired with the reference.

    Attributes
    ----------
    name : str
        The record.
    features : ndarray, shape (n_paired, n_features)
        The feature rows of the paired beats (for training).
    truth : ndarray of int64
        The reference class index of each paired beat.
    missed : ndarray of int64
        Reference beats of each class that no detection was paired with.
    extra : int
        Detections not paired with a classed reference beat.
    """

    name: str
    features: npt.NDArray[np.float64]
    truth: npt.NDArray[np.int64]
    missed: npt.NDArray[np.int64]
    extra: int
    predicted: npt.NDArray[np.int64] = field(default_factory=lambda: np.zeros(0, np.int64))


def _pair(
    name: str,
    fs: float,
    ref_s: npt.NDArray[np.int64],
    ref_c: npt.NDArray[np.int64],
    det: npt.NDArray[np.int64],
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.int64], int]:
    m = match_beats(ref_s, det, fs, 0.15)
    ref_idx = np.asarray(m.reference_index, np.int64)
    det_idx = np.asarray(m.detected_index, np.int64)
    missed = np.bincount(np.delete(ref_c, ref_idx), minlength=len(CLASSES))
    return det_idx, ref_c[ref_idx], missed, int(det.size - det_idx.size)


def record_features(path: Path, lead: int = 0) -> RecordBeats:
    """Features of the detected beats of a WFDB record, paired with its reference classes."""
    from cardiostream.io import read

    rec = read(path)
    det, feats = beat_features_of(rec.lead(lead), rec.fs)
    ref_s, ref_c = reference_classes(rec.annotations.beats.sample, rec.annotations.beats.symbol)
    det_idx, truth, missed, extra = _pair(rec.name, rec.fs, ref_s, ref_c, det)
    return RecordBeats(rec.name, feats[det_idx], truth, missed, extra)


def load_records(
    data: Path, names: Iterable[str], on_step: Callable[[str], None] | None = None
) -> list[RecordBeats]:
    """:func:`record_features` of each named record of ``data``, in order."""
    out = []
    for name in names:
        out.append(record_features(data / f"{name}.hea"))
        if on_step is not None:
            on_step(name)
    return out


def confusion(truth: npt.ArrayLike, predicted: npt.ArrayLike) -> npt.NDArray[np.int64]:
    """The 5×5 confusion matrix, rows the reference class, columns the predicted one."""
    t = np.asarray(truth, np.int64)
    p = np.asarray(predicted, np.int64)
    k = len(CLASSES)
    return np.bincount(t * k + p, minlength=k * k).reshape(k, k)


def class_stats(cm: npt.NDArray[np.int64]) -> dict[str, dict[str, float | None]]:
    """Se, +P and F1 (in %) of each class of a confusion matrix (None where undefined)."""
    out: dict[str, dict[str, float | None]] = {}
    for i, c in enumerate(CLASSES):
        tp = float(cm[i, i])
        ref = float(cm[i].sum())
        pred = float(cm[:, i].sum())
        se = 100 * tp / ref if ref else None
        pp = 100 * tp / pred if pred else None
        f1 = 200 * tp / (ref + pred) if ref + pred else None
        out[c] = {"se": se, "ppv": pp, "f1": f1, "n": ref}
    return out


def _fmt(v: float | None) -> str:
    return "–" if v is None else f"{v:.1f}"


@dataclass
class BeatBenchmark:
    """The DS2 result: the confusion matrix, per-class and per-record figures."""

    records: list[RecordBeats]
    model_meta: dict[str, Any]

    @property
    def matrix(self) -> npt.NDArray[np.int64]:
        """The gross confusion matrix."""
        return sum(
            (confusion(r.truth, r.predicted) for r in self.records),
            np.zeros((len(CLASSES), len(CLASSES)), np.int64),
        )

    @property
    def missed(self) -> npt.NDArray[np.int64]:
        """Reference beats of each class that the detector missed."""
        out = np.zeros(len(CLASSES), np.int64)
        for r in self.records:
            out += r.missed
        return out

    def document(self) -> dict[str, Any]:
        """Everything as JSON data."""
        cm = self.matrix
        return {
            "protocol": (
                "MITDB inter-patient: trained and chosen on DS1, scored on DS2 with the "
                "frozen model"
            ),
            "records": list(DS2),
            "classes": list(CLASSES),
            "confusion": cm.tolist(),
            "gross": class_stats(cm),
            "missed_by_detector": self.missed.tolist(),
            "extra_detections": sum(r.extra for r in self.records),
            "per_record": {
                r.name: {
                    "confusion": confusion(r.truth, r.predicted).tolist(),
                    "stats": class_stats(confusion(r.truth, r.predicted)),
                }
                for r in self.records
            },
            "anchors": {k: list(v) for k, v in ANCHORS.items()},
            "targets": list(TARGETS),
            "model": self.model_meta,
        }

    def markdown(self) -> str:
        """The tables as Markdown."""
        cm = self.matrix
        st = class_stats(cm)
        lines = [
            "## AAMI beat classes on MITDB DS2 (inter-patient test, frozen model)",
            "",
            "| | S Se | S +P | V Se | V +P |",
            "|---|---:|---:|---:|---:|",
            f"| **cardiostream** | {_fmt(st['S']['se'])} | {_fmt(st['S']['ppv'])} "
            f"| {_fmt(st['V']['se'])} | {_fmt(st['V']['ppv'])} |",
        ]
        for name, anchor in ANCHORS.items():
            lines.append(f"| {name} | " + " | ".join(f"{v:.1f}" for v in anchor) + " |")
        lines += ["| target | " + " | ".join(f"≥ {v:.0f}" for v in TARGETS) + " |", ""]
        lines += ["| class | beats | Se % | +P % | F1 % |", "|---|---:|---:|---:|---:|"]
        for name in CLASSES:
            row = st[name]
            lines.append(
                f"| {name} | {int(row['n'] or 0)} | {_fmt(row['se'])} | {_fmt(row['ppv'])} "
                f"| {_fmt(row['f1'])} |"
            )
        lines += ["", "Confusion (rows: reference, columns: predicted)", ""]
        lines += ["| | " + " | ".join(CLASSES) + " |", "|---" + "|---:" * len(CLASSES) + "|"]
        for i, name in enumerate(CLASSES):
            lines.append(f"| **{name}** | " + " | ".join(str(int(v)) for v in cm[i]) + " |")
        missed = self.missed
        extra = sum(r.extra for r in self.records)
        lines += [
            "",
            "Reference beats missed by the R-peak detector (not in the matrix): "
            + ", ".join(f"{k} {int(v)}" for k, v in zip(CLASSES, missed, strict=True))
            + f"; detections without a classed reference beat: {extra}.",
            "",
            "Per record (beats, Se / +P %)",
            "",
            "| record | N | S | V | F | N Se/+P | S Se/+P | V Se/+P |",
            "|---|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for r in self.records:
            rs = class_stats(confusion(r.truth, r.predicted))
            lines.append(
                f"| {r.name} | "
                + " | ".join(str(int(rs[k]["n"] or 0)) for k in "NSVF")
                + " | "
                + " | ".join(f"{_fmt(rs[k]['se'])} / {_fmt(rs[k]['ppv'])}" for k in "NSV")
                + " |"
            )
        return "\n".join(lines) + "\n"


def run_beat_benchmark(
    data: Path,
    model: BeatModel,
    on_step: Callable[[str], None] | None = None,
) -> BeatBenchmark:
    """Classify every DS2 record with ``model`` and pair the beats with the reference."""
    from cardiostream.io import read

    out = []
    for name in DS2:
        rec = read(data / f"{name}.hea")
        beats = classify_beats(rec.lead(0), rec.fs, model=model)
        ref_s, ref_c = reference_classes(rec.annotations.beats.sample, rec.annotations.beats.symbol)
        det_idx, truth, missed, extra = _pair(name, rec.fs, ref_s, ref_c, beats.sample)
        pred = np.array([CLASSES.index(c) for c in beats.label[det_idx]], np.int64)
        out.append(RecordBeats(name, np.zeros((0, 0)), truth, missed, extra, pred))
        if on_step is not None:
            on_step(name)
    return BeatBenchmark(out, dict(model.meta or {}))
