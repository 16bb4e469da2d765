"""AAMI beat classes (N, S, V, F, Q) for every detected beat, with calibrated probabilities.

Each beat's row of :data:`~cardiostream.beats.features.FEATURES` goes through a small
network shipped as JSON (standardisation, one tanh hidden layer or none, softmax), numpy
only. Its logits are divided by a temperature and shifted by one bias per class, both fitted
on cross-validated outputs so that the probabilities are calibrated; the label is the class
with the largest probability times a per-class decision weight (chosen by cross-validation,
to trade a little +P for the sensitivity of the rare S and V classes). How the model was
trained and how well it does are in ``docs/beats.md``.

The decision delay is the features': a beat is decided when the next beat is detected, at
most ``delay_s + post_cap_s`` (1.0 + 2.0 s) after its R peak; the result is identical live
and offline and for any chunking.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from importlib.resources import files
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from cardiostream.beats.detector import DEFAULT_DELAY_S
from cardiostream.beats.features import FEATURES, BeatFeatureExtractor
from cardiostream.errors import InputError

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


@dataclass(frozen=True)
class BeatModel:
    """A beat classifier: standardisation, an optional tanh hidden layer, softmax, and its
    calibration (temperature, class biases) and decision weights."""

    mean: npt.NDArray[np.float64]
    std: npt.NDArray[np.float64]
    layers: tuple[tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]], ...]
    temperature: float = 1.0
    bias: npt.NDArray[np.float64] = field(default_factory=lambda: np.zeros(len(CLASSES)))
    weights: npt.NDArray[np.float64] = field(default_factory=lambda: np.ones(len(CLASSES)))
    meta: dict[str, Any] | None = None

    def logits(self, x: npt.ArrayLike) -> npt.NDArray[np.float64]:
        """Uncalibrated logits of feature rows, shape (n, 5)."""
        h = np.asarray(x, np.float64).reshape(-1, len(FEATURES))
        h = np.clip((np.nan_to_num(h) - self.mean) / self.std, -8.0, 8.0)
        for i, (w, b) in enumerate(self.layers):
            h = h @ w + b
            if i < len(self.layers) - 1:
                h = np.tanh(h)
        return h

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
            "features": list(FEATURES),
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
        if doc.get("features") != list(FEATURES) or doc.get("classes") != list(CLASSES):
            raise InputError("beat model: made for other features or classes")
        try:
            return cls(
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
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / MODEL_FILE
        path.write_text(json.dumps(self.to_dict(), separators=(",", ":")) + "\n")
        return path


MODEL_FILE = "beats.json"
_shipped: BeatModel | None = None


def load_beat_model(path: str | Path | None = None) -> BeatModel:
    """The shipped beat model, or the one in ``path`` (a ``beats.json`` or its folder)."""
    global _shipped
    if path is None:
        if _shipped is None:
            text = files("cardiostream.beats").joinpath("model", MODEL_FILE).read_text()
            _shipped = BeatModel.from_dict(json.loads(text))
        return _shipped
    p = Path(path)
    if p.is_dir():
        p = p / MODEL_FILE
    try:
        return BeatModel.from_dict(json.loads(p.read_text()))
    except (OSError, json.JSONDecodeError) as exc:
        raise InputError(f"{p}: not a beat model ({exc})") from exc


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
        Calibrated probabilities of N, S, V, F and Q.
    """

    sample: npt.NDArray[np.int64]
    label: npt.NDArray[np.str_]
    probabilities: npt.NDArray[np.float64]

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
        )


class BeatClassifier:
    """Streaming beat classes: R peaks, features and classes, identical for any chunking.

    Parameters
    ----------
    fs : float
        Sampling rate in Hz.
    model : BeatModel, optional
        The classifier; the shipped one by default.
    delay_s : float
        The R-peak detector's delay.
    """

    def __init__(
        self, fs: float, *, model: BeatModel | None = None, delay_s: float = DEFAULT_DELAY_S
    ) -> None:
        self.model = model if model is not None else load_beat_model()
        self.features = BeatFeatureExtractor(fs, delay_s=delay_s)
        self.fs = self.features.fs

    @property
    def delay_samples(self) -> int:
        """The longest time from an R peak to its class, in samples."""
        return self.features.delay_samples

    def _classify(self, r: npt.NDArray[np.int64], f: npt.NDArray[np.float64]) -> Beats:
        p = self.model.probabilities(f)
        return Beats(r, self.model.labels(p).astype("<U1"), p)

    def push(self, chunk: npt.ArrayLike) -> Beats:
        """Feed samples; return the beats now decided."""
        return self._classify(*self.features.push(chunk))

    def flush(self) -> Beats:
        """End the stream: return the remaining beats, then reset."""
        return self._classify(*self.features.flush())

    def reset(self) -> None:
        """Forget everything: the next sample starts a new stream."""
        self.features.reset()

    def state_dict(self) -> dict[str, Any]:
        """The full state as plain Python data (JSON-serialisable)."""
        return self.features.state_dict()

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore a state produced by :meth:`state_dict`."""
        self.features.load_state_dict(state)


def classify_beats(
    signal: npt.ArrayLike,
    fs: float,
    *,
    model: BeatModel | str | Path | None = None,
    delay_s: float = DEFAULT_DELAY_S,
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

    Returns
    -------
    Beats
        Sample indices, AAMI letters and calibrated probabilities; equal to
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
    clf = BeatClassifier(fs, model=m, delay_s=delay_s)
    return Beats.concatenate([clf.push(signal), clf.flush()])
