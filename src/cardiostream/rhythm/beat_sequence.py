"""The record's beats as a sequence: a small recurrent network over one row per beat.

The record head's other evidence summarises the beats (shares, medians, entropies) and so
loses their order: a premature beat followed by a compensatory pause, a run of aberrant
beats, irregularity that comes and goes. This network reads the record beat by beat. Each
beat's row (:data:`SEQUENCE_INPUTS`) is what the beat classifier knows of it (its RR and
shape features, :data:`~cardiostream.beats.features.FEATURES`; its class probabilities;
whether the quality gate set it aside) and what the beat-interval AF detector
(:mod:`cardiostream.beats.af_rr`, which learned from LTAFDB) says at that beat.

The network: rows standardised and clipped to ±5, a tanh layer of :attr:`hidden` units, a
bidirectional GRU of the same width, the mean and the maximum of its outputs over the beats,
and a linear layer to four logits. The record head takes the log-softmax of those logits,
averaged over the members of an ensemble trained with different seeds
(:data:`SEQUENCE_FEATURES`). Out of fold on CinC 2017 the network alone scores about 0.80,
as the rhythm network's frames do, from different evidence; see ``docs/decisions.md``.

Inference is numpy: about 8,600 numbers per member, stored in ``model.json``, and about 6 ms
for a minute of beats with three members.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy.special import log_softmax

from cardiostream.beats.af_rr import af_from_beats
from cardiostream.beats.classes import CLASSES as BEAT_CLASSES
from cardiostream.beats.classes import Beats
from cardiostream.beats.features import FEATURES as BEAT_ROW
from cardiostream.rhythm.verdict import CLASSES

FloatArray = npt.NDArray[np.float64]

#: Where each beat's waveform is sampled, in seconds from its R peak: the P wave, the QRS and
#: the start of the T wave, every 20 ms.
WAVE_OFFSETS_S: tuple[float, ...] = tuple(round(-0.25 + 0.02 * k, 2) for k in range(36))
#: The point of the grid, next to the R peak, whose median absolute value over the record
#: sets the waveform's scale.
WAVE_SCALE_AT_S = 0.01
#: The waveform's band (Hz): baseline wander and mains out, the P wave's and QRS's shape in.
WAVE_BAND_HZ = (0.5, 40.0)
#: One row per beat: the beat classifier's features, its probabilities, the gate, the
#: beat-interval AF detector's probability, and the beat's waveform.
SEQUENCE_INPUTS: tuple[str, ...] = (
    *BEAT_ROW,
    *(f"p_{c}" for c in BEAT_CLASSES),
    "gated",
    "p_af_rr",
    *(f"wave_{round(1000 * t)}ms" for t in WAVE_OFFSETS_S),
)
#: What the record head reads: the ensemble's mean log-probability of each class.
SEQUENCE_FEATURES: tuple[str, ...] = tuple(f"sequence_log_p_{c}" for c in CLASSES)
#: Standardised inputs are clipped to this many standard deviations.
CLIP = 5.0


def beat_waveforms(signal: npt.ArrayLike, fs: float, samples: npt.ArrayLike) -> FloatArray:
    """Each beat's waveform ``[n_beats, len(WAVE_OFFSETS_S)]``: the signal in
    :data:`WAVE_BAND_HZ` (zero phase: the record is there whole), at
    :data:`WAVE_OFFSETS_S` from each R peak (``samples``, at ``fs``), divided by the record's
    median absolute value at :data:`WAVE_SCALE_AT_S`, so that a device's gain does not
    matter."""
    from scipy.signal import butter, sosfiltfilt

    at = np.asarray(samples, np.float64).reshape(-1)
    x = np.nan_to_num(np.asarray(signal, np.float64).reshape(-1))
    sos = butter(2, WAVE_BAND_HZ, btype="band", fs=float(fs), output="sos")
    if at.size == 0 or x.size <= 3 * (2 * sos.shape[0] + 1):  # too short to filter
        return np.zeros((at.size, len(WAVE_OFFSETS_S)))
    y = sosfiltfilt(sos, x)
    grid = at[:, None] + np.asarray(WAVE_OFFSETS_S)[None, :] * float(fs)
    waves = np.interp(grid.ravel(), np.arange(y.size), y).reshape(grid.shape)
    scale = float(np.median(np.abs(waves[:, WAVE_OFFSETS_S.index(WAVE_SCALE_AT_S)]))) + 1e-6
    out: FloatArray = waves / scale
    return out


def sequence_inputs(
    beats: Beats, rows: npt.ArrayLike, fs: float, signal: npt.ArrayLike
) -> FloatArray:
    """The network's rows ``[n_beats, len(SEQUENCE_INPUTS)]`` of a record's beats.

    Parameters
    ----------
    beats : Beats
        The record's classified beats (:func:`~cardiostream.beats.classify_beats`).
    rows : array_like, shape (n_beats, len(FEATURES))
        Their feature rows (:func:`~cardiostream.beats.classes.classify_beats_with_features`).
    fs : float
        The rate of ``beats.sample`` and ``signal``.
    signal : array_like
        The lead the beats were found on, as given (for :func:`beat_waveforms`).
    """
    f = np.asarray(rows, np.float64).reshape(len(beats), len(BEAT_ROW))
    if len(beats) == 0:
        return np.zeros((0, len(SEQUENCE_INPUTS)))
    # As the sequence network was trained: every interval read as rhythm.
    p_af = np.asarray(af_from_beats(beats.sample / float(fs), gap_s=None).p_af, np.float64)
    gated = (beats.reason != "").astype(np.float64)
    waves = beat_waveforms(signal, fs, beats.sample)
    out = np.hstack([f, beats.probabilities, gated[:, None], p_af[:, None], waves])
    # Features undefined for the first beats (no previous interval) read as 0, as in training.
    rows_out: FloatArray = np.nan_to_num(out, nan=0.0, posinf=0.0, neginf=0.0)
    return rows_out


def _sigmoid(x: FloatArray) -> FloatArray:
    out: FloatArray = 0.5 * (1.0 + np.tanh(0.5 * x))
    return out


def _gru(u: FloatArray, w_ih: FloatArray, w_hh: FloatArray, b_ih: FloatArray,
         b_hh: FloatArray) -> FloatArray:  # fmt: skip
    """One direction of a GRU over ``u`` ``[n, h]`` (gates in the order r, z, n)."""
    h = w_hh.shape[1]
    gi = u @ w_ih.T + b_ih  # the input's part of every gate, for all steps at once
    state = np.zeros(h)
    out = np.empty((u.shape[0], h))
    for t in range(u.shape[0]):
        gh = w_hh @ state + b_hh
        r = _sigmoid(gi[t, :h] + gh[:h])
        z = _sigmoid(gi[t, h : 2 * h] + gh[h : 2 * h])
        n = np.tanh(gi[t, 2 * h :] + r * gh[2 * h :])
        state = (1.0 - z) * n + z * state
        out[t] = state
    return out


@dataclass(frozen=True)
class BeatSequenceNet:
    """One member: standardisation, input layer, bidirectional GRU, pooling, output layer.

    The GRU's arrays are PyTorch's (``weight_ih_l0``, ``weight_hh_l0``, ``bias_ih_l0``,
    ``bias_hh_l0``, then the same with ``_reverse``), so a trained ``torch.nn.GRU`` carries
    over unchanged.
    """

    mean: FloatArray
    scale: FloatArray
    w_in: FloatArray  # [hidden, inputs]
    b_in: FloatArray
    gru: tuple[FloatArray, ...]  # 8 arrays: forward (w_ih, w_hh, b_ih, b_hh), then backward
    w_out: FloatArray  # [4, 4 * hidden]
    b_out: FloatArray

    @property
    def hidden(self) -> int:
        """Width of the input layer and of each GRU direction."""
        return int(self.b_in.size)

    def logits(self, rows: npt.ArrayLike) -> FloatArray:
        """The four logits of one record's rows ``[n_beats, len(SEQUENCE_INPUTS)]``."""
        x = np.asarray(rows, np.float64).reshape(-1, self.mean.size)
        if x.shape[0] == 0:  # no beats: the pooled outputs are zero, as in training
            return self.b_out.copy()
        z = np.clip((x - self.mean) / self.scale, -CLIP, CLIP)
        u = np.tanh(z @ self.w_in.T + self.b_in)
        fwd = _gru(u, *self.gru[:4])
        bwd = _gru(u[::-1], *self.gru[4:])[::-1]
        o = np.hstack([fwd, bwd])
        pooled = np.concatenate([o.mean(0), o.max(0)])
        out: FloatArray = self.w_out @ pooled + self.b_out
        return out

    def to_dict(self) -> dict[str, Any]:
        """Plain data for ``model.json``."""
        return {
            "mean": self.mean.tolist(),
            "scale": self.scale.tolist(),
            "w_in": self.w_in.tolist(),
            "b_in": self.b_in.tolist(),
            "gru": [a.tolist() for a in self.gru],
            "w_out": self.w_out.tolist(),
            "b_out": self.b_out.tolist(),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> BeatSequenceNet:
        """Inverse of :meth:`to_dict`."""

        def array(value: Any) -> FloatArray:
            return np.asarray(value, np.float64)

        net = cls(
            array(data["mean"]),
            array(data["scale"]),
            array(data["w_in"]),
            array(data["b_in"]),
            tuple(array(a) for a in data["gru"]),
            array(data["w_out"]),
            array(data["b_out"]),
        )
        if net.mean.size != len(SEQUENCE_INPUTS) or len(net.gru) != 8:
            raise ValueError("beat sequence: its inputs differ from this version's")
        return net


@dataclass(frozen=True)
class BeatSequence:
    """The ensemble whose mean log-probabilities are :data:`SEQUENCE_FEATURES`."""

    members: tuple[BeatSequenceNet, ...]

    def features(self, rows: npt.ArrayLike) -> FloatArray:
        """:data:`SEQUENCE_FEATURES` of one record's rows."""
        logs = [log_softmax(m.logits(rows)) for m in self.members]
        out: FloatArray = np.mean(logs, axis=0)
        return out

    def to_dict(self) -> dict[str, Any]:
        """Plain data for ``model.json``."""
        return {"inputs": list(SEQUENCE_INPUTS), "members": [m.to_dict() for m in self.members]}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> BeatSequence:
        """Inverse of :meth:`to_dict`; refuses an ensemble made for other inputs."""
        if list(data.get("inputs", [])) != list(SEQUENCE_INPUTS) or not data.get("members"):
            raise ValueError("beat sequence: its inputs differ from this version's")
        return cls(tuple(BeatSequenceNet.from_dict(m) for m in data["members"]))


__all__ = [
    "SEQUENCE_FEATURES",
    "SEQUENCE_INPUTS",
    "WAVE_OFFSETS_S",
    "BeatSequence",
    "BeatSequenceNet",
    "beat_waveforms",
    "sequence_inputs",
]
