"""The record verdict: a small network over the network's frames and the record's beats.

The network judges ~10 s at a time. A CinC-style record lasts 9 to 60 s, and some of what sets
its rhythm apart only shows over the whole of it: an RR irregularity that persists for a
minute, two ectopic beats in thirty seconds, a bigeminal pattern. The record head turns a
record's evidence into one verdict:

* the network's frames that vote (see :mod:`cardiostream.rhythm.infer`): per class, the log of
  the mean probability (what the record verdict was without a head), the highest frame
  probability and the share of frames that pick it;
* statistics of the record's RR intervals from the package's detector (:data:`RR_FEATURES`):
  rate, dispersion, successive differences, the share of outlying intervals, Poincaré shape
  and the lag-1 and lag-2 correlation of the RR deviations (alternation marks bigeminy rather
  than AF);
* the beats' shape (:data:`MORPHOLOGY_FEATURES`): how alike the QRS complexes are (ectopic
  beats differ; AF beats do not), and whether a P wave comes before them, which is what
  sets an irregular rhythm with P waves ("other": ectopy, sinus arrhythmia) apart from AF;
* the RR intervals' entropy (:data:`ENTROPY_FEATURES`): whether the irregularity repeats
  itself (ectopy) or not (AF);
* the beat classes (:data:`BEAT_FEATURES`): shares and runs of ectopic beats;
* the beats in order (:data:`~cardiostream.rhythm.beat_sequence.SEQUENCE_FEATURES`): what a
  small recurrent network that reads the record beat by beat
  (:mod:`cardiostream.rhythm.beat_sequence`) makes of it.

A small network (standardised inputs, one hidden layer of :data:`HIDDEN` tanh units, an L2
penalty chosen by inner cross-validation) maps them to four logits, fitted by maximum
likelihood on out-of-fold network outputs, so its probabilities start out close to
calibrated; temperature scaling then finishes the job as for the frames. Everything is numpy:
the head is about a thousand numbers in ``model.json``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from cardiostream.rhythm._beat_kernels import (
    cosen_value,
    head_logits,
    morphology_values,
    rr_values,
)
from cardiostream.rhythm.beat_sequence import SEQUENCE_FEATURES
from cardiostream.rhythm.features import RR_RANGE
from cardiostream.rhythm.verdict import CLASSES

FloatArray = npt.NDArray[np.float64]

FRAME_FEATURES: tuple[str, ...] = tuple(
    f"{stat}_{c}" for stat in ("log_mean", "max", "share") for c in CLASSES
)
RR_FEATURES: tuple[str, ...] = (
    "log_median_rr",
    "rr_cv",
    "rmssd_rel",
    "median_drr_rel",
    "pnn50",
    "outlier_share",
    "sd1_sd2",
    "log_max_rr_rel",
    "log_min_rr_rel",
    "lag1_corr",
    "lag2_corr",
    "beats_per_rr",
    "log_duration",
    "few_beats",
)
MORPHOLOGY_FEATURES: tuple[str, ...] = (
    "qrs_corr",
    "qrs_odd_share",
    "p_corr",
    "p_share",
    "log_p_qrs",
    "log_p_snr",
)
#: The RR intervals' entropy: COSEn, the coefficient of sample entropy (see
#: :func:`entropy_features`).
ENTROPY_FEATURES: tuple[str, ...] = ("cosen",)
#: What the beat classifier (:mod:`cardiostream.beats.classes`) says of the record's beats
#: (see :func:`beat_class_features`).
BEAT_FEATURES: tuple[str, ...] = (
    "v_share",
    "s_share",
    "f_share",
    "gated_share",
    "beat_confidence",
    "longest_s_run",
    "longest_v_run",
)
FEATURES: tuple[str, ...] = (
    FRAME_FEATURES
    + RR_FEATURES
    + MORPHOLOGY_FEATURES
    + ENTROPY_FEATURES
    + BEAT_FEATURES
    + SEQUENCE_FEATURES
)


def frame_features(probabilities: npt.ArrayLike) -> FloatArray:
    """The network's part of the evidence from the voting frames' probabilities ``[k, 4]``."""
    p = np.asarray(probabilities, np.float64).reshape(-1, len(CLASSES))
    if p.shape[0] == 0:
        raise ValueError("frame_features: no frames")
    share = np.bincount(p.argmax(1), minlength=len(CLASSES)) / p.shape[0]
    return np.concatenate([np.log(np.clip(p.mean(0), 1e-7, None)), p.max(0), share])


def rr_features(peaks: npt.ArrayLike, fs: float, duration_s: float) -> FloatArray:
    """The beats' part of the evidence (:data:`RR_FEATURES`) from R-peak sample indices.

    Records with fewer than four beats get neutral values and ``few_beats`` = 1.
    """
    p = np.sort(np.asarray(peaks, np.int64))
    duration = max(float(duration_s), 1.0)
    out = np.zeros(len(RR_FEATURES))
    if p.size < 4:
        out[RR_FEATURES.index("log_median_rr")] = np.log(1.0)
        out[RR_FEATURES.index("log_duration")] = np.log(duration)
        out[RR_FEATURES.index("few_beats")] = 1.0
        return out
    rr_values(p, float(fs), duration, RR_RANGE, out)
    return out


#: Two RR intervals match in the sample entropy when they differ by at most this (s).
ENTROPY_TOLERANCE = 0.03


def entropy_features(peaks: npt.ArrayLike, fs: float) -> FloatArray:
    """The entropy part of the evidence (:data:`ENTROPY_FEATURES`) from R-peak indices.

    COSEn (Lake and Moorman 2011) was made to tell AF from sinus rhythm in short records:
    AF's intervals rarely repeat a pattern, ectopy's do (a short interval, then a long one).
    On the shipped run's out-of-fold evidence it raised the record head's CinC score from
    0.810 to 0.815 (AF F1 0.783 to 0.793) on top of :data:`RR_FEATURES`. RR intervals are
    clipped to :data:`RR_RANGE`; fewer than five intervals give 0.
    """
    p = np.sort(np.asarray(peaks, np.int64))
    out = np.zeros(len(ENTROPY_FEATURES))
    if p.size < 6:
        return out
    rr = np.clip(np.diff(p) / float(fs), *RR_RANGE)
    out[0] = cosen_value(rr, ENTROPY_TOLERANCE)
    return out


#: Runs of S or V beats count up to this many beats (a longer run is as telling).
LONGEST_RUN_CAP = 10


def beat_class_features(
    labels: npt.ArrayLike, probabilities: npt.ArrayLike, reasons: npt.ArrayLike
) -> FloatArray:
    """The beat classes' part of the evidence (:data:`BEAT_FEATURES`).

    Ectopic beats are the classic source of false AF, and a record of CinC's "other" class
    often is ectopy: the shares of V, S and F among the beats the classifier judged (not
    gated for quality or pacing), the share gated, the mean probability of the chosen
    classes, and the longest runs of S and of V beats (capped at :data:`LONGEST_RUN_CAP`,
    scaled to 0-1). Out of fold on CinC 2017 they raised the record head's CinC score from
    0.814 to 0.819 (four folds of five up). The classifier learned from MITDB DS1 only.
    A record without beats gets zeros, a confidence of 1 and a gated share of 1 (nothing
    judged).
    """
    lab = np.asarray(labels).astype(str)
    p = np.asarray(probabilities, np.float64).reshape(lab.size, -1) if lab.size else None
    judged = np.asarray(reasons).astype(str) == ""
    n_judged = max(int(judged.sum()), 1)
    out = np.zeros(len(BEAT_FEATURES))
    for i, c in enumerate(("V", "S", "F")):
        out[i] = np.count_nonzero((lab == c) & judged) / n_judged
    out[3] = 1.0 - judged.sum() / max(lab.size, 1)
    out[4] = float(p[judged].max(1).mean()) if p is not None and judged.any() else 1.0
    for i, c in ((5, "S"), (6, "V")):
        out[i] = min(_longest_run(lab == c), LONGEST_RUN_CAP) / LONGEST_RUN_CAP
    return out


def _longest_run(flags: npt.NDArray[np.bool_]) -> int:
    if not flags.any():
        return 0
    edges = np.diff(np.concatenate([[0], flags.astype(np.int8), [0]]))
    return int((np.flatnonzero(edges == -1) - np.flatnonzero(edges == 1)).max())


#: The P-wave window, seconds before the R peak: late enough to miss the previous T wave at
#: ordinary rates, early enough to miss the Q wave.
P_WINDOW = (0.30, 0.08)
#: The QRS window, seconds before and after the R peak.
QRS_WINDOW = (0.06, 0.08)
#: Beats after a shorter interval than this (s) have their P wave in the previous T wave.
P_MIN_RR = 0.45


def morphology_features(ecg: npt.ArrayLike, peaks: npt.ArrayLike, fs: float) -> FloatArray:
    """The shape part of the evidence (:data:`MORPHOLOGY_FEATURES`) from the conditioned ECG.

    Each beat's QRS and the stretch before it are compared with the record's median beat:
    ``qrs_corr`` is the median correlation of the QRS complexes with the median complex,
    ``qrs_odd_share`` the share below 0.8; ``p_corr`` and ``p_share`` (the share above 0.5)
    do the same for the P-wave window, whose median is sizeable against the QRS
    (``log_p_qrs``) and against the beat-to-beat scatter (``log_p_snr``) when there is a P
    wave, and averages away when the atria fibrillate. Records with fewer than four usable
    beats get the values of no evidence (zeros).
    """
    x = np.ascontiguousarray(ecg, np.float64)
    p = np.sort(np.asarray(peaks, np.int64))
    out = np.zeros(len(MORPHOLOGY_FEATURES))
    morphology_values(x, p, *shape_windows(fs), out)
    return out


def shape_windows(fs: float) -> tuple[tuple[int, int], tuple[int, int], float]:
    """:data:`QRS_WINDOW`, :data:`P_WINDOW` and :data:`P_MIN_RR` in samples at ``fs``, as the
    compiled shape statistics take them."""
    return (
        (round(QRS_WINDOW[0] * fs), round(QRS_WINDOW[1] * fs)),
        (round(P_WINDOW[0] * fs), round(P_WINDOW[1] * fs)),
        P_MIN_RR * fs,
    )


def record_features(
    probabilities: npt.ArrayLike,
    peaks: npt.ArrayLike,
    fs: float,
    duration_s: float,
    ecg: npt.ArrayLike,
    beats: npt.ArrayLike,
    sequence: npt.ArrayLike,
) -> FloatArray:
    """All of :data:`FEATURES` for one record (``ecg``: the conditioned signal of ``peaks``;
    ``beats``: :func:`beat_class_features` of the record; ``sequence``: its
    :data:`~cardiostream.rhythm.beat_sequence.SEQUENCE_FEATURES`)."""
    return np.concatenate(
        [
            frame_features(probabilities),
            rr_features(peaks, fs, duration_s),
            morphology_features(ecg, peaks, fs),
            entropy_features(peaks, fs),
            np.asarray(beats, np.float64).reshape(len(BEAT_FEATURES)),
            np.asarray(sequence, np.float64).reshape(len(SEQUENCE_FEATURES)),
        ]
    )


#: Hidden units of the head. On RR statistics alone, 5-fold CV on the CinC development split
#: gave a CinC score of 0.68 with a linear head and 0.75 with gradient-boosted trees: the
#: classes are not linearly separable in these terms, so the head has one tanh layer.
HIDDEN = 32


@dataclass(frozen=True)
class RecordHead:
    """A fitted head: ``logits = tanh(((x - mean) / scale) @ w1 + b1) @ w2 + b2``."""

    mean: FloatArray
    scale: FloatArray
    w1: FloatArray  # [n_features, hidden]
    b1: FloatArray
    w2: FloatArray  # [hidden, n_classes]
    b2: FloatArray
    l2: float
    #: The names of its inputs, in order: :data:`FEATURES` for the record head.
    features: tuple[str, ...] = FEATURES

    def logits(self, features: npt.ArrayLike) -> FloatArray:
        """Logits ``[n, 4]`` of feature rows ``[n, n_features]`` (or one row)."""
        x = np.ascontiguousarray(np.atleast_2d(np.asarray(features, np.float64)))
        if x.shape[1] != self.mean.size:
            raise ValueError(f"head: expected {self.mean.size} features, got {x.shape[1]}")
        out = np.empty((x.shape[0], self.b2.size))
        head_logits(x, self.mean, self.scale, self.w1, self.b1, self.w2, self.b2, out)
        return out

    def to_dict(self) -> dict[str, Any]:
        """Plain data for ``model.json``."""
        return {
            "features": list(self.features),
            "mean": self.mean.tolist(),
            "scale": self.scale.tolist(),
            "w1": self.w1.tolist(),
            "b1": self.b1.tolist(),
            "w2": self.w2.tolist(),
            "b2": self.b2.tolist(),
            "l2": self.l2,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any], features: tuple[str, ...] = FEATURES) -> RecordHead:
        """Inverse of :meth:`to_dict`; refuses a head made for other ``features`` than this
        version computes."""
        if list(data.get("features", [])) != list(features):
            raise ValueError("head: its features differ from this version's")

        def array(key: str) -> FloatArray:
            return np.asarray(data[key], np.float64)

        return cls(
            array("mean"),
            array("scale"),
            array("w1"),
            array("b1"),
            array("w2"),
            array("b2"),
            float(data["l2"]),
            features,
        )


__all__ = [
    "BEAT_FEATURES",
    "FEATURES",
    "SEQUENCE_FEATURES",
    "RecordHead",
    "beat_class_features",
    "entropy_features",
    "frame_features",
    "morphology_features",
    "record_features",
    "rr_features",
]
