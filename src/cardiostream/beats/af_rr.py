"""Atrial fibrillation from beat times alone: for chest straps, PPG watches and Holter exports
that give beats, not an ECG.

Each beat is described by the RR intervals of its past window: the last 64 intervals and the
last 16 of them (normalised successive differences, RMSSD and Poincaré SD1/SD2 relative to
the mean interval, the median and upper quartile of |ΔRR|, the shares of |ΔRR| above 8 % and
50 ms, turning points, autocorrelation at lags 1 and 2, the share of short-long pairs that mark
ectopic beats and the RMSSD once they are removed, the entropy of ΔRR, the share of intervals
far from the median, and the sample entropy of the short window; see
:data:`~cardiostream.beats._af_rr_kernel.FEATURES`). A small network shipped as JSON
(``model/rr_af.json``: standardisation, one tanh layer, a logistic output) gives each beat's
logit of AF, which a causal exponential average smooths before the logistic function gives
``p_af``; ``af`` is ``p_af`` at or above the model's threshold. The average is bias-corrected:
a stream's first logits are averaged evenly instead of the first one weighing as much as the
twenty beats of history the average otherwise stands for.

The decision is causal: a beat is decided when it arrives, from it and the beats before it
(delay 0 beats). The first :data:`~cardiostream.beats._af_rr_kernel.MIN_RR` beats (too few
intervals) get ``p_af`` 0. :class:`AFBeatDetector` gives the same answer bit for bit in any
chunking, and :func:`af_from_beats` is that detector run over the whole series.

Two models are shipped, for two kinds of beat times (``timing``): ``"ecg"`` (the default) for R
peaks, timed to a few milliseconds, and ``"pulse"`` for beats timed from a pulse wave (a PPG
watch, a pulse oximeter), whose 10-30 ms of timing noise turns a regular rhythm's successive
differences into those of a slow AF. The pulse model learned from copies of its training beats
with such noise on their times; it calls far fewer noisy sinus beats AF, at the price of
some AF whose intervals vary little (``docs/rhythm/rr_af.md``, "Beat times from a pulse
sensor").

How the models were trained (Long-Term AF Database, cross-validated by record) and how well
they do (there and on MITDB, which they never saw) is in ``docs/rhythm/rr_af.md``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, cast

import numpy as np
import numpy.typing as npt

from cardiostream import wire
from cardiostream.beats import _af_rr_kernel as kernel
from cardiostream.beats.model_files import load_model, write_model_json
from cardiostream.errors import InputError

FloatArray = npt.NDArray[np.float64]

#: Names of the model's inputs, in column order.
FEATURES = kernel.FEATURES
#: The file a model is saved as, and the shipped model's for each timing, in
#: ``cardiostream/beats/model/``.
MODEL_FILE = "rr_af.json"
Timing = Literal["ecg", "pulse"]
MODEL_FILES: dict[str, str] = {"ecg": MODEL_FILE, "pulse": "rr_af_pulse.json"}
#: The timings there are, as the server's beat streams name them.
TIMINGS = wire.BEAT_TIMINGS
FORMAT = "cardiostream-rr-af/1"
#: Beats kept between pushes: the long window's intervals need one beat more.
HISTORY = kernel.LONG + 1


@dataclass(frozen=True)
class RRAFModel:
    """The network of :func:`af_from_beats`: standardisation, an optional tanh layer, a
    logistic output, the causal smoothing of its logit and the decision threshold."""

    mean: FloatArray
    std: FloatArray
    w1: FloatArray  # (n_features, hidden); hidden may be 0 (logistic regression)
    b1: FloatArray
    w2: FloatArray  # (hidden,) or (n_features,) when hidden is 0
    b2: float
    alpha: float = 1.0  # weight of the newest logit in the exponential average (1: none)
    threshold: float = 0.5
    meta: dict[str, Any] = field(default_factory=dict)

    def logits(self, x: FloatArray) -> FloatArray:
        """The unsmoothed logit of each feature row (NaN where the row is)."""
        rows = np.ascontiguousarray(x, np.float64).reshape(-1, len(FEATURES))
        out = np.empty(rows.shape[0])
        kernel.network(rows, self.mean, self.std, self.w1, self.b1, self.w2, self.b2, out)
        return out

    def to_dict(self) -> dict[str, Any]:
        """The model as plain JSON data."""
        return {
            "format": FORMAT,
            "features": list(FEATURES),
            "mean": self.mean.tolist(),
            "std": self.std.tolist(),
            "w1": self.w1.tolist(),
            "b1": self.b1.tolist(),
            "w2": self.w2.tolist(),
            "b2": self.b2,
            "alpha": self.alpha,
            "threshold": self.threshold,
            "meta": self.meta,
        }

    @classmethod
    def from_dict(cls, doc: dict[str, Any]) -> RRAFModel:
        """The model of :meth:`to_dict`'s data."""
        if doc.get("format") != FORMAT or doc.get("features") != list(FEATURES):
            raise InputError("RR AF model: another format or other features")
        try:
            d = len(FEATURES)
            w1 = np.asarray(doc["w1"], np.float64).reshape(d, -1)
            model = cls(
                mean=np.asarray(doc["mean"], np.float64).reshape(d),
                std=np.asarray(doc["std"], np.float64).reshape(d),
                w1=np.ascontiguousarray(w1),
                b1=np.asarray(doc["b1"], np.float64).reshape(w1.shape[1]),
                w2=np.asarray(doc["w2"], np.float64).reshape(w1.shape[1] or d),
                b2=float(doc["b2"]),
                alpha=float(doc.get("alpha", 1.0)),
                threshold=float(doc.get("threshold", 0.5)),
                meta=dict(doc.get("meta", {})),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise InputError(f"RR AF model: malformed ({exc})") from exc
        if not 0.0 < model.alpha <= 1.0 or not 0.0 < model.threshold < 1.0:
            raise InputError("RR AF model: alpha must be in (0, 1], threshold in (0, 1)")
        return model

    def save(self, folder: Path) -> Path:
        """Write ``rr_af.json`` into ``folder``; return its path."""
        return write_model_json(folder, MODEL_FILE, self.to_dict())


def as_timing(value: object) -> Timing:
    """``value`` as a :data:`Timing`, or InputError naming the ones there are."""
    if value not in TIMINGS:
        raise InputError(f"timing: expected one of {', '.join(TIMINGS)}, got {value!r}")
    return cast(Timing, value)


def load_rr_af_model(path: str | Path | None = None, *, timing: Timing = "ecg") -> RRAFModel:
    """The shipped model for beats of this ``timing`` (``"ecg"`` or ``"pulse"``), or the one in
    ``path`` (an ``rr_af.json`` or its folder; ``timing`` is then not used)."""
    as_timing(timing)
    if path is not None:
        return load_model(path, MODEL_FILE, "an RR AF model", RRAFModel.from_dict)
    return load_model(None, MODEL_FILES[timing], "an RR AF model", RRAFModel.from_dict)


@dataclass(frozen=True)
class AFBeats:
    """AF per beat.

    Attributes
    ----------
    time_s : ndarray of float64
        Each beat's time (s), as given.
    af : ndarray of bool
        Whether the beat lies in AF.
    p_af : ndarray of float64
        The probability of AF at the beat (0 for the first beats, whose window is too short).
    """

    time_s: FloatArray
    af: npt.NDArray[np.bool_]
    p_af: FloatArray
    #: Intervals longer than this (s) are gaps in the beats, not rhythm (None: none are).
    gap_s: float | None = None

    def __len__(self) -> int:
        return int(self.time_s.size)

    def _observed(self) -> npt.NDArray[np.bool_]:
        rr = np.diff(self.time_s)
        return rr <= self.gap_s if self.gap_s is not None else np.ones(rr.size, bool)

    def burden(self) -> float:
        """Share of the time in AF: the intervals that end on an AF beat over all intervals,
        gaps left out (NaN without an interval that is not a gap)."""
        if self.time_s.size < 2:
            return math.nan
        rr = np.diff(self.time_s)
        seen = self._observed()
        if not seen.any():
            return math.nan
        return float(rr[self.af[1:] & seen].sum() / rr[seen].sum())

    def episodes(self) -> list[tuple[float, float]]:
        """The AF episodes ``(start_s, end_s)``: each run of AF beats, from the beat before its
        first (where the first irregular interval begins; not across a gap) to its last. A gap
        ends a run."""
        out: list[tuple[float, float]] = []
        af = self.af
        if not af.any():
            return out
        seen = np.concatenate(([False], self._observed()))  # the interval before each beat
        starts = af & ~(np.concatenate(([False], af[:-1])) & seen)
        ends = af & ~(np.concatenate((af[1:], [False])) & np.concatenate((seen[1:], [False])))
        for a, b in zip(np.flatnonzero(starts), np.flatnonzero(ends), strict=True):
            first = a - 1 if a > 0 and seen[a] else a
            out.append((float(self.time_s[first]), float(self.time_s[b])))
        return out


def _empty() -> AFBeats:
    return AFBeats(np.zeros(0), np.zeros(0, bool), np.zeros(0))


#: An interval longer than this (s) is a gap in the beats (a dropped sensor), not a rhythm:
#: 20 bpm. The detector starts afresh after it, and it counts neither as AF nor as not.
MAX_RR_S = 3.0


def check_beat_times(beat_times_s: npt.ArrayLike, what: str = "beat_times_s") -> FloatArray:
    """Beat times as a 1-D float64 array, or InputError: NaN, infinity or times that do not
    increase strictly."""
    try:
        t = np.asarray(beat_times_s, np.float64)
    except (TypeError, ValueError) as exc:
        raise InputError(f"{what}: not numbers ({exc})") from None
    if t.ndim != 1:
        raise InputError(f"{what}: expected a 1-D series, got shape {t.shape}")
    if not np.isfinite(t).all():
        bad = int(np.flatnonzero(~np.isfinite(t))[0])
        raise InputError(f"{what}: the value at index {bad} ({t[bad]:g}) is not a finite number")
    if t.size > 1 and not (np.diff(t) > 0).all():
        bad = int(np.flatnonzero(np.diff(t) <= 0)[0]) + 1
        raise InputError(
            f"{what}: times must increase strictly: the value at index {bad} ({t[bad]:g}) is "
            f"not after the one before it ({t[bad - 1]:g})"
        )
    return t


def beat_times_from_rr(rr_ms: npt.ArrayLike) -> FloatArray:
    """Beat times (s) of successive RR intervals (ms): a beat at 0, then one at the end of each
    interval (one more time than intervals)."""
    try:
        rr = np.asarray(rr_ms, np.float64)
    except (TypeError, ValueError) as exc:
        raise InputError(f"rr_ms: not numbers ({exc})") from None
    if rr.ndim != 1:
        raise InputError(f"rr_ms: expected a 1-D series, got shape {rr.shape}")
    if not np.isfinite(rr).all():
        bad = int(np.flatnonzero(~np.isfinite(rr))[0])
        raise InputError(f"rr_ms: the interval at index {bad} ({rr[bad]:g}) is not finite")
    if (rr <= 0).any():
        bad = int(np.flatnonzero(rr <= 0)[0])
        raise InputError(f"rr_ms: the interval at index {bad} ({rr[bad]:g} ms) is not positive")
    return np.concatenate(([0.0], np.cumsum(rr) / 1000.0))


class AFBeatDetector:
    """AF from beat times, pushed in chunks of any size.

    ``push(times)`` takes the next beat times (s, increasing, after those pushed before) and
    returns the :class:`AFBeats` of those beats: each is decided when it arrives, from itself
    and the beats before it. ``flush()`` has nothing pending and returns no beats; it is there
    for symmetry with the other detectors. The state (the last 65 beat times, the count of
    beats and the smoothed logit) goes out with :meth:`state_dict` and back with
    :meth:`load_state_dict`; a detector restored from it continues exactly as the original.
    ``timing`` picks the shipped model as for :func:`af_from_beats`. After an interval longer
    than ``gap_s`` (a gap in the beats) the detector starts afresh, as at a stream's start;
    ``gap_s=None`` reads every interval as rhythm.
    """

    def __init__(
        self,
        model: RRAFModel | str | Path | None = None,
        *,
        timing: Timing = "ecg",
        gap_s: float | None = MAX_RR_S,
    ) -> None:
        self.model = (
            model if isinstance(model, RRAFModel) else load_rr_af_model(model, timing=timing)
        )
        if gap_s is not None and not (math.isfinite(gap_s) and gap_s > 0):
            raise InputError(f"gap_s: expected a positive number of seconds or None, got {gap_s}")
        self.gap_s = gap_s
        self.reset()

    def reset(self) -> None:
        """Forget every beat."""
        self._tail = np.zeros(0)
        self._count = 0
        self._ema = math.nan
        self._weight = 0.0

    @property
    def beats_seen(self) -> int:
        """Beats pushed so far."""
        return self._count

    def push(self, beat_times_s: npt.ArrayLike) -> AFBeats:
        """Decide the given beats; see the class."""
        t = check_beat_times(beat_times_s)
        if t.size == 0:
            return _empty()
        if self._tail.size and not t[0] > self._tail[-1]:
            raise InputError(
                f"beat_times_s: {t[0]:g} s is not after the last beat pushed ({self._tail[-1]:g} s)"
            )
        p = np.empty(t.size)
        a = 0
        for b in [*self._gaps(t), t.size]:
            if b > a:
                self._decide(t[a:b], p[a:b])
            if b < t.size:  # after a gap: as at a stream's start
                self._tail, self._ema, self._weight = np.zeros(0), math.nan, 0.0
            a = b
        self._count += int(t.size)
        return AFBeats(t, p >= self.model.threshold, p, self.gap_s)

    def _gaps(self, t: FloatArray) -> list[int]:
        """Where in ``t`` a beat follows a gap (a live push of one beat: one comparison)."""
        if self.gap_s is None:
            return []
        first = bool(self._tail.size) and t[0] - self._tail[-1] > self.gap_s
        cuts = [0] if first else []
        if t.size > 1:
            cuts += (np.flatnonzero(np.diff(t) > self.gap_s) + 1).tolist()
        return cuts

    def _decide(self, t: FloatArray, p: FloatArray) -> None:
        """Decide beats ``t`` (no gap among them or before them) into ``p``."""
        times = np.concatenate((self._tail, t))
        x = np.empty((t.size, len(FEATURES)))
        kernel.rr_features(times, self._tail.size, x)
        logit = self.model.logits(x)
        self._ema, self._weight = kernel.smooth(logit, self.model.alpha, self._ema, self._weight, p)
        self._tail = times[-HISTORY:].copy()

    def flush(self) -> AFBeats:
        """Nothing is pending (every beat is decided when pushed): no beats."""
        return _empty()

    def state_dict(self) -> dict[str, Any]:
        """The state as plain JSON data (floats round-trip exactly)."""
        return {
            "format": FORMAT,
            "tail": self._tail.tolist(),
            "count": self._count,
            "ema": None if math.isnan(self._ema) else self._ema,
            "ema_weight": self._weight,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Continue from a :meth:`state_dict`."""
        if state.get("format") != FORMAT:
            raise InputError("AFBeatDetector state: another format")
        try:
            tail = check_beat_times(state["tail"], "state tail")
            count = int(state["count"])
            ema = math.nan if state["ema"] is None else float(state["ema"])
            # A state saved before the average was bias-corrected has no weight: its average
            # had settled, or had not started.
            weight = float(state.get("ema_weight", 0.0 if math.isnan(ema) else 1.0))
        except (KeyError, TypeError, ValueError) as exc:
            raise InputError(f"AFBeatDetector state: malformed ({exc})") from None
        if tail.size > HISTORY or count < tail.size:
            raise InputError("AFBeatDetector state: inconsistent tail and count")
        if not 0.0 <= weight <= 1.0 or math.isnan(ema) != (weight == 0.0):
            raise InputError("AFBeatDetector state: inconsistent average and its weight")
        self._tail = tail
        self._count = count
        self._ema = ema
        self._weight = weight


def af_from_beats(
    beat_times_s: npt.ArrayLike,
    model: RRAFModel | str | Path | None = None,
    *,
    timing: Timing = "ecg",
    gap_s: float | None = MAX_RR_S,
) -> AFBeats:
    """Whether each beat lies in AF, from beat times alone, causally.

    Parameters
    ----------
    beat_times_s : array_like of float
        Beat (R peak or pulse) times in seconds, strictly increasing.
    model : RRAFModel, path or None
        The shipped model for ``timing`` by default.
    timing : {"ecg", "pulse"}
        How the beats were timed: from an ECG's R peaks (the default), or from a pulse wave (a
        PPG watch, a pulse oximeter: 10-30 ms less exact), for which a model trained with
        that much noise on its beat times is shipped.
    gap_s : float or None
        An interval longer than this (s) is a gap in the beats (a sensor that dropped out):
        the detector starts afresh after it, and the burden and episodes leave it out. None
        reads every interval as rhythm.

    Returns
    -------
    AFBeats
        ``af`` (bool) and ``p_af`` (float) for every beat, with its ``time_s``; equal bit for
        bit to :class:`AFBeatDetector` fed the same beats in any chunks.
    """
    return AFBeatDetector(model, timing=timing, gap_s=gap_s).push(beat_times_s)
