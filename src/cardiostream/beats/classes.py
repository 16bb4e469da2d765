"""AAMI beat classes (N, S, V, F, Q) for every detected beat, with calibrated probabilities.

Each beat's row of :data:`~cardiostream.beats.features.FEATURES` goes through a small
network shipped as JSON (standardisation, one tanh hidden layer or none, softmax), numpy
only. Its logits are divided by a temperature and shifted by one bias per class, both fitted
on cross-validated outputs so that the probabilities are calibrated; the label is the class
with the largest probability times a per-class decision weight (chosen by cross-validation,
to trade a little +P for the sensitivity of the rare S and V classes). How the model was
trained and how well it does are in ``docs/beats.md``.

The beats are the engine's: the signal is resampled to 250 Hz, cleaned, and its R peaks
found there, exactly as :class:`~cardiostream.stream.StreamProcessor` does (which hands its
own peaks to a shared classifier), so ``cardiostream beats`` and the engine's class counts
agree beat for beat. The features are taken at 250 Hz; a beat's ``sample`` is given at the
input's rate, moved back by the filters' delay (about 47 ms from 360 Hz).

The decision delay is the features': a beat is decided when the next beat is detected, at
most ``delay_s + post_cap_s`` (1.0 + 2.0 s) after its R peak; the result is identical live
and offline and for any chunking.

No class is guessed on signal that cannot carry one. Two gates see the same samples as the
features: the quality gate (:class:`~cardiostream.beats.gate.BeatQualityGate`: missing
samples, lead off, flat line, clipping, high-frequency noise in the 2 s around the beat) and
the pacemaker-spike detector (:class:`~cardiostream.dsp.pacing.PacingSpikeDetector`: a
spike from 300 ms before to 50 ms after the R peak makes the beat paced, AAMI Q). A gated
beat's label is ``"Q"`` and its ``reason`` says why; its ``probabilities`` stay the model's
own, so that a consumer can still see what the model made of it (they are not the
probabilities of the label then). ``reason`` is ``""`` where the label is the model's.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from cardiostream.beats.detector import DEFAULT_DELAY_S, RPeakDetector, _check_fs
from cardiostream.beats.features import FEATURES, BeatFeatureExtractor
from cardiostream.beats.gate import BeatQualityGate, GateConfig
from cardiostream.beats.model_files import load_model, write_model_json
from cardiostream.dsp.filters import ECGCleaner
from cardiostream.dsp.pacing import PacingConfig, PacingSpikeDetector
from cardiostream.dsp.resample import Resampler
from cardiostream.errors import InputError

#: The rate the beats are found and described at: the engine's (``rhythm.preprocess.MODEL_FS``).
MODEL_FS = 250.0

#: The AAMI EC57 classes, in the order of the probability columns.
CLASSES: tuple[str, ...] = ("N", "S", "V", "F", "Q")

#: MIT-BIH beat symbols by AAMI class; other symbols are not beats of any class.
AAMI: dict[str, str] = {
    **dict.fromkeys("NLRej", "N"),
    **dict.fromkeys("AaJS", "S"),
    **dict.fromkeys("VE", "V"),
    "F": "F",
    **dict.fromkeys("/fQ", "Q"),
}


def aami_class(symbol: str) -> str | None:
    """The AAMI class of a MIT-BIH beat symbol, or None for a symbol outside the mapping."""
    return AAMI.get(symbol)


def _mlp(
    layers: tuple[tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]], ...],
    h: npt.NDArray[np.float64],
) -> npt.NDArray[np.float64]:
    for i, (w, b) in enumerate(layers):
        h = h @ w + b
        if i < len(layers) - 1:
            h = np.tanh(h)
    return h


def _standardised(
    x: npt.NDArray[np.float64], mean: npt.NDArray[np.float64], std: npt.NDArray[np.float64]
) -> npt.NDArray[np.float64]:
    if not np.isfinite(x).all():  # the check costs less than nan_to_num on every row
        x = np.nan_to_num(x)
    return np.asarray(np.clip((x - mean) / std, -8.0, 8.0), np.float64)


def _columns(names: tuple[str, ...]) -> npt.NDArray[np.int64]:
    unknown = set(names) - set(FEATURES)
    if unknown:
        raise InputError(f"beat model: unknown features {sorted(unknown)}")
    return np.array([FEATURES.index(n) for n in names], np.int64)


#: The RR features an :class:`RRModel` may read: those computed from beat times alone.
RR_FEATURES: tuple[str, ...] = (
    "pre_rr_s",
    "post_rr_s",
    "local_rr_s",
    "log_pre_local",
    "log_post_local",
    "log_pre_post",
    "log_local_long",
    "log_pre_long",
    "rr_cv",
    "pre_minus_local_s",
    "log_pre_nref",
    "log_post_nref",
    "log_prepre_local",
    "log_pre_prepre",
    "log_pre_median",
)
#: The inputs a :class:`BeatModel` with an :class:`RRModel` gets after its features.
RR_OUTPUTS: tuple[str, ...] = ("rr_logit_s", "rr_logit_v")


@dataclass(frozen=True)
class RRModel:
    """A beat classifier from the RR context alone (N, S, V), trained on other patients'
    beat times (the Long-Term AF Database's reviewed beats); its logits of S and V against
    N are two more inputs of the :class:`BeatModel` that carries it (stacking)."""

    features: tuple[str, ...]
    mean: npt.NDArray[np.float64]
    std: npt.NDArray[np.float64]
    layers: tuple[tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]], ...]
    meta: dict[str, Any] | None = None

    def outputs(self, h: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        """The logits of S and V less that of N, of rows of :data:`FEATURES`, shape (n, 2)."""
        z = _mlp(self.layers, _standardised(h[:, _columns(self.features)], self.mean, self.std))
        return np.asarray(z[:, 1:3] - z[:, :1], np.float64)

    def to_dict(self) -> dict[str, Any]:
        """The model as plain JSON data."""
        return {
            "features": list(self.features),
            "mean": self.mean.tolist(),
            "std": self.std.tolist(),
            "layers": [[w.tolist(), b.tolist()] for w, b in self.layers],
            "meta": self.meta or {},
        }

    @classmethod
    def from_dict(cls, doc: dict[str, Any]) -> RRModel:
        """The model of :meth:`to_dict`'s data."""
        feats = tuple(str(f) for f in doc["features"])
        _columns(feats)
        return cls(
            features=feats,
            mean=np.asarray(doc["mean"], np.float64),
            std=np.asarray(doc["std"], np.float64),
            layers=tuple(
                (np.asarray(w, np.float64), np.asarray(b, np.float64)) for w, b in doc["layers"]
            ),
            meta=dict(doc.get("meta", {})),
        )


@dataclass(frozen=True)
class BeatModel:
    """A beat classifier: the features it reads (a subset of :data:`FEATURES`, and the
    outputs of an optional :class:`RRModel`), standardisation, an optional tanh hidden
    layer, softmax, and its calibration (temperature, class biases) and decision weights."""

    mean: npt.NDArray[np.float64]
    std: npt.NDArray[np.float64]
    layers: tuple[tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]], ...]
    temperature: float = 1.0
    bias: npt.NDArray[np.float64] = field(default_factory=lambda: np.zeros(len(CLASSES)))
    weights: npt.NDArray[np.float64] = field(default_factory=lambda: np.ones(len(CLASSES)))
    meta: dict[str, Any] | None = None
    features: tuple[str, ...] = FEATURES
    rr: RRModel | None = None
    _cols: npt.NDArray[np.int64] | None = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        cols = None if self.features == FEATURES else _columns(self.features)
        object.__setattr__(self, "_cols", cols)

    def inputs(self, x: npt.ArrayLike) -> npt.NDArray[np.float64]:
        """The network's inputs (before standardisation) of rows of :data:`FEATURES`."""
        h = np.asarray(x, np.float64).reshape(-1, len(FEATURES))
        out = h if self._cols is None else h[:, self._cols]
        if self.rr is not None:
            out = np.concatenate([out, self.rr.outputs(h)], axis=1)
        return out

    def network_logits(self, h: npt.ArrayLike) -> npt.NDArray[np.float64]:
        """Uncalibrated logits of rows of :meth:`inputs`, shape (n, 5)."""
        z = np.asarray(h, np.float64).reshape(-1, self.mean.size)
        return _mlp(self.layers, _standardised(z, self.mean, self.std))

    def logits(self, x: npt.ArrayLike) -> npt.NDArray[np.float64]:
        """Uncalibrated logits of feature rows, shape (n, 5)."""
        return self.network_logits(self.inputs(x))

    def probabilities(self, x: npt.ArrayLike) -> npt.NDArray[np.float64]:
        """Calibrated class probabilities of feature rows, shape (n, 5), rows summing to 1."""
        z = self.logits(x) / self.temperature + self.bias
        z -= z.max(axis=1, keepdims=True)
        p = np.exp(z)
        return np.asarray(p / p.sum(axis=1, keepdims=True), np.float64)

    def labels(self, p: npt.NDArray[np.float64]) -> npt.NDArray[np.str_]:
        """The AAMI letter of each row of probabilities."""
        out: npt.NDArray[np.str_] = np.asarray(CLASSES)[np.argmax(p * self.weights, axis=1)]
        return out

    def to_dict(self) -> dict[str, Any]:
        """The model as plain JSON data."""
        return {
            "format": "cardiostream-beats/1",
            "features": list(self.features),
            "rr_model": None if self.rr is None else self.rr.to_dict(),
            "classes": list(CLASSES),
            "mean": self.mean.tolist(),
            "std": self.std.tolist(),
            "layers": [[w.tolist(), b.tolist()] for w, b in self.layers],
            "temperature": self.temperature,
            "bias": self.bias.tolist(),
            "weights": self.weights.tolist(),
            "meta": self.meta or {},
        }

    @classmethod
    def from_dict(cls, doc: dict[str, Any]) -> BeatModel:
        """The model of :meth:`to_dict`'s data."""
        feats = doc.get("features")
        if (
            not isinstance(feats, list)
            or not set(feats) <= set(FEATURES)
            or doc.get("classes") != list(CLASSES)
        ):
            raise InputError("beat model: made for other features or classes")
        try:
            rr = doc.get("rr_model")
            return cls(
                features=tuple(str(f) for f in feats),
                rr=None if rr is None else RRModel.from_dict(rr),
                mean=np.asarray(doc["mean"], np.float64),
                std=np.asarray(doc["std"], np.float64),
                layers=tuple(
                    (np.asarray(w, np.float64), np.asarray(b, np.float64)) for w, b in doc["layers"]
                ),
                temperature=float(doc["temperature"]),
                bias=np.asarray(doc["bias"], np.float64),
                weights=np.asarray(doc["weights"], np.float64),
                meta=dict(doc.get("meta", {})),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise InputError(f"beat model: malformed ({exc})") from exc

    def save(self, folder: Path) -> Path:
        """Write ``beats.json`` into ``folder``; return its path."""
        return write_model_json(folder, MODEL_FILE, self.to_dict())


MODEL_FILE = "beats.json"


def load_beat_model(path: str | Path | None = None) -> BeatModel:
    """The shipped beat model, or the one in ``path`` (a ``beats.json`` or its folder)."""
    return load_model(path, MODEL_FILE, "a beat model", BeatModel.from_dict)


@dataclass(frozen=True)
class Beats:
    """Classified beats.

    Attributes
    ----------
    sample : ndarray of int64
        The R peak of each beat.
    label : ndarray of str
        Its AAMI class, one of :data:`CLASSES`.
    probabilities : ndarray of float64, shape (n_beats, 5)
        Calibrated probabilities of N, S, V, F and Q, as the model gives them: a gated beat
        keeps them although its label is ``"Q"``.
    reason : ndarray of str
        Why a beat was gated to ``"Q"`` (one of
        :data:`~cardiostream.beats.gate.GATE_REASONS`: ``missing_samples``, ``lead_off``,
        ``flat``, ``clipping``, ``high_frequency_noise``, ``paced``), ``""`` where the label
        is the model's. Empty strings when omitted.
    """

    sample: npt.NDArray[np.int64]
    label: npt.NDArray[np.str_]
    probabilities: npt.NDArray[np.float64]
    reason: npt.NDArray[np.str_] = field(default_factory=lambda: np.zeros(0, "<U20"))

    def __post_init__(self) -> None:
        # Built without reasons (older callers): one empty reason per beat.
        if self.reason.size == 0 and self.sample.size:
            object.__setattr__(self, "reason", np.full(self.sample.size, "", "<U20"))
        elif self.reason.size != self.sample.size:
            raise InputError("beats: one reason per beat expected")

    def __len__(self) -> int:
        return int(self.sample.size)

    @staticmethod
    def concatenate(parts: list[Beats]) -> Beats:
        """The beats of several parts, in order."""
        if not parts:
            return Beats(np.zeros(0, np.int64), np.zeros(0, "<U1"), np.zeros((0, len(CLASSES))))
        return Beats(
            np.concatenate([b.sample for b in parts]),
            np.concatenate([b.label for b in parts]).astype("<U1"),
            np.concatenate([b.probabilities for b in parts]),
            np.concatenate([b.reason for b in parts]).astype("<U20"),
        )


_NO_BEATS = Beats.concatenate([])


class BeatClassifier:
    """Streaming beat classes: R peaks, features and classes, identical for any chunking.

    The beats are those of the engine (:class:`~cardiostream.stream.StreamProcessor`): the
    signal is resampled to 250 Hz (:class:`~cardiostream.dsp.Resampler`, exact), cleaned
    (:class:`~cardiostream.dsp.ECGCleaner`) and searched for R peaks
    (:class:`~cardiostream.beats.RPeakDetector`); each peak's features are taken at 250 Hz
    and the quality gate and pacing test look at the input as it came. A beat's ``sample`` is
    at the input's rate, its 250 Hz peak moved back by the resampler's and the cleaner's delay
    (:attr:`delay_s`), so that it sits on the R wave of the signal given.

    Parameters
    ----------
    fs : float
        Sampling rate of the input in Hz.
    model : BeatModel, optional
        The classifier; the shipped one by default.
    delay_s : float
        The R-peak detector's delay; at least the gate's ``post_s`` (1 s), so that the span
        the gate judges is complete when a beat is decided.
    gate : bool
        Whether to gate beats on signal quality and pacing spikes (see the module notes).
    gate_config : GateConfig, optional
        The quality gate's span and thresholds.
    pacing_config : PacingConfig, optional
        The spike detector's thresholds.
    shared : bool
        Whether the resampler, cleaner and detector are the caller's: then
        :meth:`push_parts` takes their output (what the engine does, so that it runs them
        once), and :meth:`push` is not available.
    """

    #: Where a pacing spike makes the beat at R peak ``r`` paced: ``r - 0.3 s`` to
    #: ``r + 0.05 s`` (atrial and ventricular stimuli before the QRS; the detector's R peak
    #: can fall a little before a spike merged into the QRS onset).
    PACED_WINDOW_S: tuple[float, float] = (-0.3, 0.05)

    def __init__(
        self,
        fs: float,
        *,
        model: BeatModel | None = None,
        delay_s: float = DEFAULT_DELAY_S,
        gate: bool = True,
        gate_config: GateConfig | None = None,
        pacing_config: PacingConfig | None = None,
        shared: bool = False,
    ) -> None:
        self.model = model if model is not None else load_beat_model()
        # Raises InputError for an unusable rate; the same resampler as the engine's.
        resampler = Resampler(fs, MODEL_FS, exact=True)
        self.fs = _check_fs(resampler.fs_in)
        self.features = BeatFeatureExtractor(MODEL_FS, delay_s=delay_s, detect=False)
        self.shared = bool(shared)
        cleaner = ECGCleaner(MODEL_FS)
        #: The resampler's and cleaner's delay, in 250 Hz samples: a peak found at 250 Hz
        #: sample ``k`` is the R wave of input time ``(k - delay) / 250``.
        self.delay_250 = float(resampler.delay_samples + cleaner.delay_samples)
        if not self.shared:
            self.resampler, self.cleaner = resampler, cleaner
            self.detector = RPeakDetector(MODEL_FS, delay_s=delay_s)
        self.gated = bool(gate)
        cfg = gate_config or GateConfig()
        if self.gated and cfg.post_s > self.features.delay_s:
            raise InputError("delay_s: the quality gate needs a detector delay of at least post_s")
        # A beat is judged at most delay_samples after its R peak (plus the filters' delay
        # and a little slack): the gate and the spike list keep that much history.
        history_s = (self.features.delay_samples + self.delay_250) / MODEL_FS + 0.5
        self.gate = BeatQualityGate(self.fs, cfg, history_s=history_s)
        self.pacing = PacingSpikeDetector(self.fs, pacing_config)
        lo, hi = self.PACED_WINDOW_S
        self._paced = (round(lo * self.fs), round(hi * self.fs))
        self._keep_spikes = round((history_s - lo) * self.fs) + 1
        self._spikes = np.zeros(0, np.int64)
        self._n = 0  # input samples since the (re)start
        #: The feature rows of the beats decided, in order, while a list (see
        #: :func:`classify_beats_with_features`); not part of the state.
        self.kept_features: list[npt.NDArray[np.float64]] | None = None

    @property
    def delay_s(self) -> float:
        """The filters' delay that a beat's ``sample`` is moved back by, in seconds."""
        return self.delay_250 / MODEL_FS

    @property
    def delay_samples(self) -> int:
        """The longest time from an R peak to its class, in 250 Hz samples (after the
        peak's place in the 250 Hz signal)."""
        return self.features.delay_samples

    def to_input(self, peaks: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
        """Input sample indices of 250 Hz peaks, the filters' delay taken off."""
        at = np.round((peaks - self.delay_250) * (self.fs / MODEL_FS))
        return np.maximum(at, 0).astype(np.int64)

    def _classify(self, r250: npt.NDArray[np.int64], f: npt.NDArray[np.float64]) -> Beats:
        if r250.size == 0:  # most pushes of a live stream decide no beat
            return _NO_BEATS
        if self.kept_features is not None:
            self.kept_features.append(f)
        r = self.to_input(r250)
        p = self.model.probabilities(f)
        labels = self.model.labels(p).astype("<U1")
        if not self.gated:
            return Beats(r, labels, p)
        reasons = self.gate.judge(np.minimum(r, max(self._n - 1, 0)))
        if self._spikes.size and r.size:
            lo, hi = self._paced
            # Spikes are sorted: a beat is paced when one lies in [r + lo, r + hi].
            first = np.searchsorted(self._spikes, r + lo, side="left")
            last = np.searchsorted(self._spikes, r + hi, side="right")
            reasons[(last > first) & (reasons == "")] = "paced"
        labels[reasons != ""] = "Q"
        return Beats(r, labels, p, reasons)

    @staticmethod
    def _lead(chunk: npt.ArrayLike) -> npt.NDArray[np.float64]:
        x = np.asarray(chunk, dtype=np.float64)
        if x.ndim == 2 and x.shape[1] == 1:
            x = x[:, 0]
        if x.ndim != 1:
            raise InputError(f"signal: expected a 1-D array of samples, got shape {x.shape}")
        return x

    def push(self, chunk: npt.ArrayLike) -> Beats:
        """Feed samples; return the beats now decided."""
        if self.shared:
            raise InputError("push: this classifier takes the engine's parts (push_parts)")
        x = self._lead(chunk)
        raw, ecg = self._front_end(x)
        return self.push_parts(x, raw, self.detector.push(ecg))

    def _front_end(
        self, x: npt.NDArray[np.float64]
    ) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float32]]:
        """The input resampled to 250 Hz, and cleaned as the detector takes it (single
        precision, missing samples at 0), as the engine does."""
        raw = self.resampler.process(x)
        clean = self.cleaner.process(raw)
        ecg = clean.astype(np.float32)
        ecg[~np.isfinite(clean)] = 0.0
        return raw, ecg

    def push_parts(
        self,
        x: npt.NDArray[np.float64],
        raw: npt.NDArray[np.float64],
        peaks: npt.NDArray[np.int64],
    ) -> Beats:
        """Feed one chunk as the engine has it: the input samples ``x``, the same resampled
        to 250 Hz (``raw``) and the R peaks that the 250 Hz detector reported with it (250 Hz
        sample indices since the start); return the beats now decided."""
        if self.gated:
            self.gate.push(x)
            self._spikes = np.concatenate([self._spikes, self.pacing.push(x)])
        self._n += x.size
        out = self._classify(*self.features.push(raw, peaks))
        # Spikes too old for any beat still to come are dropped after judging, so that one
        # long chunk is judged like many short ones.
        self._spikes = self._spikes[self._spikes >= self._n - self._keep_spikes]
        return out

    def flush(self) -> Beats:
        """End the stream: return the remaining beats, then reset."""
        peaks = self.detector.flush() if not self.shared else None
        out = self._classify(*self.features.flush(peaks))
        self.reset()
        return out

    def reset(self) -> None:
        """Forget everything: the next sample starts a new stream."""
        if not self.shared:
            self.resampler.reset()
            self.cleaner.reset()
            self.detector.reset()
        self.features.reset()
        self.gate.reset()
        self.pacing.reset()
        self._spikes = np.zeros(0, np.int64)
        self._n = 0

    def state_dict(self) -> dict[str, Any]:
        """The full state as plain Python data (JSON-serialisable)."""
        out = {
            "features": self.features.state_dict(),
            "gate": self.gate.state_dict(),
            "pacing": self.pacing.state_dict(),
            "spikes": self._spikes.tolist(),
            "n": self._n,
        }
        if not self.shared:
            out["resampler"] = self.resampler.state_dict()
            out["cleaner"] = self.cleaner.state_dict()
            out["detector"] = self.detector.state_dict()
        return out

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore a state produced by :meth:`state_dict`."""
        try:
            if not self.shared:
                self.resampler.load_state_dict(state["resampler"])
                self.cleaner.load_state_dict(state["cleaner"])
                self.detector.load_state_dict(state["detector"])
            self.features.load_state_dict(state["features"])
            self.gate.load_state_dict(state["gate"])
            self.pacing.load_state_dict(state["pacing"])
            self._spikes = np.asarray(state["spikes"], np.int64).reshape(-1)
            self._n = int(state["n"])
        except (KeyError, TypeError, ValueError) as exc:
            raise InputError(f"state: not a beat-classifier state ({exc})") from exc


def beat_features_of(
    signal: npt.ArrayLike, fs: float, *, delay_s: float = DEFAULT_DELAY_S
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]:
    """The beats of a whole single-lead signal as :class:`BeatClassifier` finds them (input
    sample indices) and their rows of :data:`~cardiostream.beats.features.FEATURES`: what the
    classifier's model sees, for training it."""
    clf = BeatClassifier(fs, delay_s=delay_s, gate=False)
    raw, ecg = clf._front_end(clf._lead(signal))
    r1, f1 = clf.features.push(raw, clf.detector.push(ecg))
    r2, f2 = clf.features.flush(clf.detector.flush())
    return clf.to_input(np.concatenate([r1, r2])), np.concatenate([f1, f2])


def classify_beats(
    signal: npt.ArrayLike,
    fs: float,
    *,
    model: BeatModel | str | Path | None = None,
    delay_s: float = DEFAULT_DELAY_S,
    gate: bool = True,
) -> Beats:
    """Detect the beats of a single-lead ECG and give each its AAMI class.

    Parameters
    ----------
    signal : array_like, shape (n_samples,)
        The ECG, any unit; NaN marks missing samples.
    fs : float
        Sampling rate in Hz.
    model : BeatModel or path, optional
        The classifier; the shipped one by default.
    delay_s : float
        The R-peak detector's delay.
    gate : bool
        Whether beats on unusable signal or with a pacing spike are labelled ``"Q"`` with a
        reason (see the module notes); False gives the model's classes everywhere.

    Returns
    -------
    Beats
        Sample indices, AAMI letters, calibrated probabilities and gate reasons; equal to
        :class:`BeatClassifier` fed the signal in any chunks and flushed.

    Examples
    --------
    >>> import numpy as np
    >>> from cardiostream.beats import classify_beats
    >>> beats = classify_beats(np.zeros(2500), 250.0)
    >>> len(beats)
    0
    """
    m = model if isinstance(model, BeatModel) else load_beat_model(model)
    clf = BeatClassifier(fs, model=m, delay_s=delay_s, gate=gate)
    return Beats.concatenate([clf.push(signal), clf.flush()])


def classify_beats_with_features(
    signal: npt.ArrayLike, fs: float, *, model: BeatModel | str | Path | None = None
) -> tuple[Beats, npt.NDArray[np.float64]]:
    """:func:`classify_beats` (gated), and each beat's row of
    :data:`~cardiostream.beats.features.FEATURES`, from one pass: what the record head's beat
    sequence reads (:mod:`cardiostream.rhythm.beat_sequence`)."""
    m = model if isinstance(model, BeatModel) else load_beat_model(model)
    clf = BeatClassifier(fs, model=m)
    clf.kept_features = []
    beats = Beats.concatenate([clf.push(signal), clf.flush()])
    rows = clf.kept_features or [np.zeros((0, len(FEATURES)))]
    return beats, np.concatenate(rows)
