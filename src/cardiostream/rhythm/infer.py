"""Running the shipped rhythm model: ONNX Runtime by default, torch when it is installed.

Input rules
    One lead (1-D, or ``[n, 1]``) of real numbers in mV at ``fs`` Hz. Refused with an
    :class:`~cardiostream.errors.InputError` naming the field: a rate outside
    [:data:`MIN_FS`, :data:`MAX_FS`] Hz or without a small rational ratio to 250 Hz (``fs``);
    several leads, an empty or entirely missing signal, non-numeric values, magnitudes above
    :data:`MAX_ABS_MV`, or less than :data:`MIN_INPUT_S` second of samples (``signal``).
    Non-finite samples are missing: the network sees them as a flat line, and the quality check
    sees them as missing.
Length
    A record shorter than :data:`MIN_SECONDS` (10 s, the network's receptive field) is
    left-padded with zeros to 10 s, as a live stream that has just started is. Signal quality
    needs 3 s, so a record of 1 to 3 s is always ``uncertain`` (reason ``too_short``).
Signal quality
    :func:`cardiostream.dsp.quality_windows` on the input itself (its own rate and units,
    before any filtering, so flat lines, lead-off steps, clipping, missing samples and baseline
    wander stay visible), in 10 s windows, with the model's R peaks. A window counts as usable
    when it is usable there and its score is at least :data:`MIN_QUALITY_SCORE` (else reason
    ``low_quality``: a square wave or a sine passes every named test); the record is usable
    when at least half of its windows are, and its reasons are those of at least a quarter of
    its windows, as in :func:`cardiostream.dsp.signal_quality`.
Verdict (records up to :data:`RECORD_HEAD_MAX_S`)
    The mean of the frames' probabilities over the frames whose receptive field lies wholly in
    the record (every frame from the 10th second on; the last frame alone for a record shorter
    than that), then temperature-scaled. Of those frames, only the ones whose 10 s lie wholly in
    usable quality windows count when the record is usable, so a lead-off stretch in an
    otherwise clean record does not sway the verdict. When the model has a record head
    (:mod:`cardiostream.rhythm.record_head`, in ``model.json``), those frames' probabilities
    and the record's RR statistics go through it instead of the plain mean, with the head's
    own temperature and threshold; boosted trees over the same inputs, when the model has
    them (:mod:`cardiostream.rhythm.record_trees`), are averaged into its log-probabilities
    first.
``label``
    ``uncertain`` when the calibrated top probability is below the model's threshold (reason
    ``low_confidence``), when the record is unusable (the quality reasons), or when no R peaks
    are found (``no_beats``); otherwise ``raw_label``, the network's own verdict (``noise``
    included).
Verdict (longer records)
    The record head was trained on the CinC 2017 records (9 to 61 s); over longer records its
    inputs (the mean of thousands of frames, RR statistics of a whole recording) are unlike
    anything it saw, and its confidence fell with length (p_af 0.89 on a minute of AF, 0.69
    on 30 minutes of the same minute). A record of more than :data:`RECORD_HEAD_MAX_S` whole
    seconds is judged from its per-second window verdicts instead, those of
    :meth:`RhythmModel.window_verdicts` (the streaming engine's windows), from one pass of the
    network over the whole record. Only the windows with a full 10 s of input count (from the
    10th second on); a window is *usable* when its 10 s lie wholly in usable quality windows,
    and its verdict (threshold :attr:`RhythmModel.window_threshold`, at least two beats) is
    then its class, or ``uncertain``.

    - ``af`` when the af windows make an AF episode by the rules of
      :mod:`cardiostream.stream.events` (default :class:`~cardiostream.stream.EventConfig`:
      opened by 3 af windows, at least 30 s long): paroxysmal AF is AF, however short a share
      of the record it fills. This holds even for a record that is unusable as a whole.
    - otherwise ``uncertain`` when the record is unusable (the quality reasons), when fewer
      than :data:`MIN_CONFIDENT_SHARE` of its usable windows are confident (reason
      ``too_few_confident_windows``), or when no R peaks are found (``no_beats``);
    - otherwise the most frequent class among the confident usable windows (the first of
      :data:`~cardiostream.rhythm.verdict.CLASSES` on a tie).

    ``raw_label`` is ``af`` when there is an episode, otherwise that most frequent class (of
    the usable windows' top classes when none is confident). ``probabilities`` are the mean
    of the usable windows' calibrated probabilities (of every window when none is usable):
    the expected share of the record's usable time in each class. They describe the whole
    record, so they need not favour the label: a 24 h recording with one hour of AF is ``af``
    with ``p_af`` near 0.04. The prediction also carries ``af_burden``, the share of the
    usable windows labelled ``af`` (``cardiostream analyze`` divides by every window, unusable
    ones included), and ``af_episodes``, the episodes found, with ``basis="windows"``.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt

from cardiostream.beats import detect_rpeaks
from cardiostream.beats.classes import BeatModel, classify_beats_with_features, load_beat_model
from cardiostream.dsp import (
    REASONS,
    SignalQuality,
    quality_windows,
    rational_ratio,
    window_bounds,
)
from cardiostream.dsp.quality import MIN_FS
from cardiostream.errors import InputError
from cardiostream.rhythm.beat_sequence import SEQUENCE_INPUTS, sequence_inputs
from cardiostream.rhythm.bundle import config_from_json, read_bundle
from cardiostream.rhythm.features import model_inputs
from cardiostream.rhythm.preprocess import FRAME, MODEL_FS, Preprocessor
from cardiostream.rhythm.record_head import BEAT_FEATURES, beat_class_features, record_features
from cardiostream.rhythm.record_trees import blend
from cardiostream.rhythm.rr_fusion import RRFeed
from cardiostream.rhythm.verdict import (
    CLASSES,
    MIN_BEATS_RECORD,
    MIN_BEATS_WINDOW,
    NO_BEATS,
    UNCERTAIN,
    Verdicts,
    decide,
    decide_many,
)
from cardiostream.rhythm.window_head import BEAT_DELAY

#: Seconds of input behind a full verdict (the network's receptive field); shorter is padded.
MIN_SECONDS = 10
#: Shortest input accepted, in seconds.
MIN_INPUT_S = 1.0
#: Highest sampling rate accepted, in Hz (the lowest is the quality check's, 50 Hz).
MAX_FS = 20_000.0
#: Largest magnitude accepted: no ECG in mV comes near it, and float32 arithmetic stays finite.
MAX_ABS_MV = 1e9
#: A window that passes every quality test but scores below this is not an ECG either (a
#: square wave, a sine): no usable 10 s window of MITDB lead 0 (8,640) or of the first 1,500
#: CinC 2017 records (4,781) scores under 0.2; a 1.2 Hz square wave scores 0.01, a sine 0.13.
MIN_QUALITY_SCORE = 0.15
#: The reason given for such windows, beside those of :data:`cardiostream.dsp.REASONS`.
LOW_QUALITY = "low_quality"
BACKENDS = ("onnx", "cpu", "cuda", "mps")
#: The longest record, in whole seconds, that the record head judges: the CinC 2017 records
#: it was trained on last 9 to 61 s (the longest of the 8,528 is 60.95 s at 300 Hz). Longer
#: records get their verdict from their per-second windows (see the module notes).
RECORD_HEAD_MAX_S = 61
#: A longer record is ``uncertain`` when fewer than this share of its usable windows commit
#: to a class (and its windows make no AF episode).
MIN_CONFIDENT_SHARE = 0.5
#: The reason given then.
TOO_FEW_CONFIDENT = "too_few_confident_windows"


@dataclass
class Prediction:
    """The verdict on one record or window.

    Attributes
    ----------
    label : str
        ``normal``, ``af``, ``other``, ``noise`` or ``uncertain`` (see the module notes).
    raw_label : str
        The network's own verdict, one of the four classes.
    probabilities : dict of str to float
        Calibrated probabilities of the four classes, summing to 1.
    quality : dict
        ``{"usable": bool, "reasons": [str, ...]}``: the signal-quality reasons, then
        ``low_confidence`` (``too_few_confident_windows`` for a long record) and ``no_beats``
        when they apply.
    basis : str
        ``record`` for a verdict of the record head (records up to
        :data:`RECORD_HEAD_MAX_S`), ``windows`` for one from the per-second windows.
    af_burden : float or None
        With ``basis="windows"``: the share of the usable windows labelled ``af`` (None when
        no window is usable); None otherwise.
    af_episodes : list of dict or None
        With ``basis="windows"``: the AF episodes, ``{"start_s", "end_s", "confidence"}`` in
        seconds from the record's start, as the streaming engine's ``event`` objects give them;
        None otherwise.
    """

    label: str
    raw_label: str
    probabilities: dict[str, float]
    quality: dict[str, Any] = field(default_factory=dict)
    basis: str = "record"
    af_burden: float | None = None
    af_episodes: list[dict[str, Any]] | None = None

    def to_dict(self) -> dict[str, Any]:
        """Plain data for JSON; ``basis``, ``af_burden`` and ``af_episodes`` only for a
        verdict from the windows."""
        out: dict[str, Any] = {
            "label": self.label,
            "raw_label": self.raw_label,
            "probabilities": dict(self.probabilities),
            "quality": dict(self.quality),
        }
        if self.basis != "record":
            out["basis"] = self.basis
            out["af_burden"] = self.af_burden
            out["af_episodes"] = [dict(e) for e in self.af_episodes or []]
        return out


def _torch_device(backend: str) -> Any:
    """The torch device of a torch backend (``cpu``, ``cuda`` or ``mps``).

    Raises
    ------
    InputError
        When torch is not installed, or the device is not available on this machine (the
        message names the backends that are).
    """
    try:
        import torch
    except ImportError as exc:
        raise InputError(f"backend {backend!r} needs torch (the train extra): {exc}") from None
    usable = {"cpu": True, "cuda": torch.cuda.is_available(), "mps": _mps_available(torch)}
    if not usable[backend]:
        available = ", ".join(["onnx", *(name for name, ok in usable.items() if ok)])
        raise InputError(
            f"backend {backend!r}: not available here (torch finds no {backend.upper()} "
            f"device); available: {available}"
        )
    return torch.device(backend)


def _mps_available(torch: Any) -> bool:
    mps = getattr(torch.backends, "mps", None)
    return bool(mps is not None and mps.is_available())


class RhythmModel:
    """The rhythm network with its calibration and decision threshold.

    Parameters
    ----------
    folder : path, optional
        Where ``rhythm.onnx``, ``rhythm.pt`` and ``model.json`` are; the shipped ones by default.
    backend : {"onnx", "cpu", "cuda", "mps"}
        ONNX Runtime, or torch on that device (needs the ``train`` extra).
    threads : int
        Intra-op threads of ONNX Runtime.
    """

    def __init__(
        self, folder: str | Path | None = None, backend: str = "onnx", threads: int = 1
    ) -> None:
        if backend not in BACKENDS:
            raise InputError(f"backend: expected one of {', '.join(BACKENDS)}, got {backend!r}")
        bundle = read_bundle(folder)
        self.folder = bundle.folder
        self.meta: dict[str, Any] = bundle.meta
        self.temperature = bundle.temperature
        self.threshold = bundle.threshold
        self.backend = backend
        self.threads = threads
        self.channels = bundle.channels
        self.head = bundle.record_head
        self.sequence = bundle.beat_sequence
        self.trees = bundle.record_trees
        self.head_temperature = bundle.record_temperature
        self.record_threshold = bundle.record_threshold
        self.window_head = bundle.window_head
        self.window_fusion = bundle.window_fusion
        #: The confidence threshold of a per-second verdict (:meth:`window_probabilities`).
        self.window_threshold = bundle.window_threshold
        if backend != "onnx":
            # Refused here, before any record is read, rather than as torch's traceback on the
            # first batch.
            _torch_device(backend)

    @cached_property
    def _runner(self) -> Any:
        if self.backend == "onnx":
            import onnxruntime as ort

            opts = ort.SessionOptions()
            opts.intra_op_num_threads = self.threads
            opts.inter_op_num_threads = 1
            session = ort.InferenceSession(
                str(self.folder / "rhythm.onnx"), opts, providers=["CPUExecutionProvider"]
            )
            return lambda x: session.run(None, {"ecg": x})[0]
        import torch

        from cardiostream.rhythm.model import NetConfig, RhythmNet

        device = _torch_device(self.backend)
        cfg = NetConfig(**config_from_json(self.meta["net"]))
        net = RhythmNet(cfg)
        net.load_state_dict(torch.load(self.folder / "rhythm.pt", map_location="cpu"))
        net = net.to(device).eval()

        def run(x: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
            with torch.no_grad():
                out: npt.NDArray[np.float32] = net(torch.from_numpy(x).to(device)).cpu().numpy()
            return out

        return run

    def frame_logits(self, inputs: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        """Run the network on ``[batch, channels, samples]`` (samples a multiple of 250)."""
        return np.asarray(self._runner(np.ascontiguousarray(inputs, np.float32)), np.float32)

    def predict(self, signal: npt.ArrayLike, fs: float) -> Prediction:
        """Verdict on one lead of any rate and length (see the module notes).

        Raises
        ------
        InputError
            For a malformed signal or rate (the message names ``signal`` or ``fs``).
        """
        return self._predict_prepared([prepare_record(signal, fs, self.channels)])[0]

    def predict_many(self, signals: list[npt.NDArray[Any]], rates: list[float]) -> list[Prediction]:
        """Verdicts on many records, in their order, run in batches of similar length (a
        record over :data:`RECORD_HEAD_MAX_S` alone, through its windows).

        Raises
        ------
        InputError
            When a record is malformed (the message starts with ``record <index>:``), or when
            ``signals`` and ``rates`` differ in length.
        """
        if len(signals) != len(rates):
            raise InputError(f"rates: {len(rates)} rates for {len(signals)} signals")
        prepared = []
        for i, (s, fs) in enumerate(zip(signals, rates, strict=True)):
            try:
                prepared.append(prepare_record(s, fs, self.channels))
            except InputError as exc:
                raise InputError(f"record {i}: {exc}") from None
        return self._predict_prepared(prepared)

    def prepare(self, signal: npt.ArrayLike, fs: float) -> PreparedRecord:
        """Check and condition one record for :meth:`predict_prepared` (raises InputError)."""
        return prepare_record(np.asarray(signal), fs, self.channels)

    def predict_prepared(self, prepared: list[PreparedRecord]) -> list[Prediction]:
        """Verdicts on records conditioned by :meth:`prepare`, in their order.

        For callers that read records one by one and want one bad record to be reported
        rather than stop the rest (``cardiostream classify``).
        """
        return self._predict_prepared(prepared)

    def _predict_prepared(self, prepared: list[PreparedRecord]) -> list[Prediction]:
        # Records the head judges are batched; a longer one runs alone, in one pass, so a
        # 24 h recording never pads a batch of short ones to its length.
        short = [i for i, p in enumerate(prepared) if not is_long(p)]
        out: list[Prediction | None] = [None] * len(prepared)
        batch = [prepared[i] for i in short]
        frames = batched_frame_logits(batch, self.frame_logits, self.channels)
        for i, f in zip(short, frames, strict=True):
            out[i] = self._decide(f, prepared[i])
        for i, p in enumerate(prepared):
            if out[i] is None:
                out[i] = self._decide_windows(p)
        return [p for p in out if p is not None]

    def frame_probabilities(
        self, signal: npt.ArrayLike, fs: float
    ) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
        """Calibrated probabilities of every one-second frame of a long recording.

        The input rules are :meth:`predict`'s; no quality check or threshold is applied.

        Returns
        -------
        end_s : ndarray of float64, shape (n_frames,)
            Time (s, on the input's clock) at which each frame's ~10 s window ends; frames
            before 10 s see zeros on their left, as a live stream that has just started does.
        probs : ndarray of float64, shape (n_frames, 4)
            Temperature-scaled probabilities in :data:`CLASSES` order.
        """
        prep = prepare_record(signal, fs, self.channels, pad=False, quality=False)
        z = self.frame_logits(prep.inputs[None])[0].T.astype(np.float64) / self.temperature
        p = np.exp(z - z.max(1, keepdims=True))
        p /= p.sum(1, keepdims=True)
        return (np.arange(prep.n_real, dtype=np.float64) + 1.0), p

    def window_probabilities(
        self, signal: npt.ArrayLike, fs: float
    ) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
        """Calibrated per-second verdicts on the 10 s ending at each second of a recording,
        as the streaming engine gives them.

        With a window head (:mod:`cardiostream.rhythm.window_head`) every frame from the
        10th second on goes through it, with the beats and the shape of its 10 s; the first
        nine frames, and every frame of a model without that head, are those of
        :meth:`frame_probabilities`. The input rules are :meth:`predict`'s; no quality check
        or threshold is applied (the threshold is :attr:`window_threshold`).

        Returns
        -------
        end_s, probs
            As :meth:`frame_probabilities`.
        """
        prep = prepare_record(signal, fs, self.channels, pad=False, quality=False)
        return self._window_probabilities(prep)

    def window_verdicts(
        self, signal: npt.ArrayLike, fs: float, usable: npt.ArrayLike | None = None
    ) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64], Verdicts]:
        """:meth:`window_probabilities` with each second's decision by the engine's rule
        (:func:`~cardiostream.rhythm.verdict.decide_many`): the window threshold, and at least
        :data:`~cardiostream.rhythm.verdict.MIN_BEATS_WINDOW` R peaks in the 10 s ending there.

        Parameters
        ----------
        signal, fs
            As :meth:`predict`.
        usable : array_like of bool, optional
            Signal quality per second (no quality check is made here); all usable when left
            out.

        Returns
        -------
        end_s, probs
            As :meth:`frame_probabilities`.
        verdicts : Verdicts
            One decision per second.
        """
        prep = prepare_record(signal, fs, self.channels, pad=False, quality=False)
        return self._prepared_window_verdicts(prep, usable)

    def _window_probabilities(
        self, prep: PreparedRecord
    ) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
        z = self.frame_logits(prep.inputs[None])[0].astype(np.float64)
        log_p = (z / self.temperature).T
        if self.window_head is not None and prep.n_real >= MIN_SECONDS:
            at = np.arange(MIN_SECONDS - 1, prep.n_real)
            logits = np.ascontiguousarray(z[:, at].T)
            ends = FRAME * (at + 1)
            peaks = np.asarray(prep.peaks, np.int64)
            log_p[at] = self.window_head.verdicts(logits, prep.ecg, 0, peaks, ends)
            if self.window_fusion is not None:
                p_af = RRFeed().at(peaks, ends, BEAT_DELAY)
                log_p[at] = self.window_fusion.log_probabilities(log_p[at], p_af)
        p = np.exp(log_p - log_p.max(1, keepdims=True))
        p /= p.sum(1, keepdims=True)
        return (np.arange(prep.n_real, dtype=np.float64) + 1.0), p

    def _decide(self, frames: npt.NDArray[np.float32], prep: PreparedRecord) -> Prediction:
        z = frames[:, voting_frames(frames.shape[-1], prep)].astype(np.float64)
        p = np.exp(z - z.max(0))
        p /= p.sum(0)
        if self.head is not None:
            assert self.sequence is not None  # the bundle pairs them
            features = record_features(
                p.T,
                prep.peaks,
                MODEL_FS,
                prep.n_real,
                prep.ecg,
                prep.beats,
                self.sequence.features(prep.sequence),
            )
            logits = self.head.logits(features)[0]
            if self.trees is not None:
                logits = blend(logits, self.trees.log_probabilities(features)[0])
            probs = np.exp((logits - logits.max()) / self.head_temperature)
        else:
            mean = np.log(np.clip(p.mean(1), 1e-12, None))
            probs = np.exp(mean / self.temperature)
        probs = probs / probs.sum()
        verdict = decide(
            probs,
            self.record_threshold,
            min_beats=MIN_BEATS_RECORD,
            n_beats=prep.n_beats,
            usable=bool(prep.quality["usable"]),
            reasons=prep.quality["reasons"],
            beats_reason=NO_BEATS,
        )
        return Prediction(
            verdict.label,
            verdict.raw_label,
            {c: float(v) for c, v in zip(CLASSES, probs, strict=True)},
            {"usable": bool(prep.quality["usable"]), "reasons": verdict.reasons},
        )

    def _prepared_window_verdicts(
        self, prep: PreparedRecord, usable: npt.ArrayLike | None
    ) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64], Verdicts]:
        """:meth:`window_verdicts` of a record already prepared (its network pass, its beats
        and the engine's rule), so that a long record is conditioned once."""
        end_s, probs = self._window_probabilities(prep)
        ends = np.arange(1, prep.n_real + 1, dtype=np.int64) * FRAME
        peaks = np.asarray(prep.peaks, np.int64)
        n_beats = np.searchsorted(peaks, ends) - np.searchsorted(peaks, ends - MIN_SECONDS * FRAME)
        verdicts = decide_many(
            probs,
            self.window_threshold,
            min_beats=MIN_BEATS_WINDOW,
            n_beats=n_beats,
            usable=usable,
        )
        return end_s, probs, verdicts

    def _decide_windows(self, prep: PreparedRecord) -> Prediction:
        """The verdict on a record longer than :data:`RECORD_HEAD_MAX_S`, from its windows
        (see the module notes)."""
        usable = clean_windows(prep)
        end_s, probs, verdicts = self._prepared_window_verdicts(prep, usable)
        # The windows with a full 10 s of input, as the streaming engine emits them.
        full = slice(MIN_SECONDS - 1, None)
        end_s, probs, usable = end_s[full], probs[full], usable[full]
        top, committed = verdicts.top[full], verdicts.committed[full]
        labels = [CLASSES[t] if ok else UNCERTAIN for t, ok in zip(top, committed, strict=True)]
        p_af = np.where(usable, probs[:, CLASSES.index("af")], np.nan)
        episodes = af_stretches(end_s, labels, p_af)
        n_usable = int(usable.sum())
        n_classes = len(CLASSES)
        confident = np.bincount(top[committed], minlength=n_classes)
        plain = np.bincount(top[usable] if n_usable else top, minlength=n_classes)
        mean = probs[usable].mean(0) if n_usable else probs.mean(0)
        record_usable = bool(prep.quality["usable"])
        reasons = list(prep.quality["reasons"])
        if episodes:
            raw = label = "af"
        else:
            raw = CLASSES[int(np.argmax(confident if confident.any() else plain))]
            label = raw
            if confident.sum() < MIN_CONFIDENT_SHARE * n_usable or not confident.any():
                reasons.append(TOO_FEW_CONFIDENT)
                label = UNCERTAIN
            if prep.n_beats < MIN_BEATS_RECORD:
                reasons.append(NO_BEATS)
                label = UNCERTAIN
            if not record_usable:
                label = UNCERTAIN
        burden = float(confident[CLASSES.index("af")] / n_usable) if n_usable else None
        return Prediction(
            label,
            raw,
            {c: float(v) for c, v in zip(CLASSES, mean / mean.sum(), strict=True)},
            {"usable": record_usable, "reasons": reasons},
            basis="windows",
            af_burden=None if burden is None else round(burden, 4),
            af_episodes=[
                {"start_s": e["start_s"], "end_s": e["end_s"], "confidence": e["confidence"]}
                for e in episodes
            ],
        )


#: The AF episode rules of a long record's verdict: those of the streaming engine's defaults
#: (:class:`cardiostream.stream.events.EventConfig`: open after 3 AF windows, close after 5
#: non-AF ones, uncertain windows neutral, at least 30 s from the first AF window's start).
EPISODE_OPEN, EPISODE_CLOSE, EPISODE_MIN_S = 3, 5, 30.0


def af_stretches(
    end_s: npt.ArrayLike, labels: Sequence[str], p_af: npt.ArrayLike
) -> list[dict[str, Any]]:
    """AF episodes ``{"start_s", "end_s", "confidence"}`` of one uninterrupted run of
    per-second windows ending at ``end_s``, by the streaming engine's default rules (see
    :data:`EPISODE_OPEN`); ``confidence`` is the mean finite ``p_af`` of the episode's AF
    windows (None without one). :func:`cardiostream.stream.events.af_episodes` gives the same
    episodes for such a run; the record verdict keeps its own copy of the rules so that it
    does not depend on the streaming stage."""
    t = np.asarray(end_s, np.float64)
    p = np.asarray(p_af, np.float64)
    out: list[dict[str, Any]] = []
    run = quiet = 0
    start = last = 0.0
    probs: list[float] = []
    is_open = False

    def close() -> None:
        if is_open and last - start >= EPISODE_MIN_S:
            finite = [v for v in probs if not math.isnan(v)]
            out.append(
                {
                    "start_s": round(start, 3),
                    "end_s": round(last, 3),
                    "confidence": round(sum(finite) / len(finite), 4) if finite else None,
                }
            )

    for i, label in enumerate(labels):
        if label == "af":
            if not is_open and run == 0:
                start, probs = max(0.0, float(t[i]) - MIN_SECONDS), []
            run, quiet, last = run + 1, 0, float(t[i])
            probs.append(float(p[i]))
            is_open = is_open or run >= EPISODE_OPEN
        elif label != UNCERTAIN:
            if not is_open:
                run = 0
            else:
                quiet += 1
                if quiet >= EPISODE_CLOSE:
                    close()
                    is_open, run, quiet = False, 0, 0
    close()
    return out


def batched_frame_logits(
    prepared: Sequence[PreparedRecord],
    run: Callable[[npt.NDArray[np.float32]], npt.NDArray[np.float32]],
    channels: int,
    batch_size: int = 32,
) -> list[npt.NDArray[np.float32]]:
    """Each record's frame logits ``[4, n_frames]`` from ``run`` (a network on ``[batch,
    channels, samples]``), in batches of similar length left-padded with zeros."""
    results: list[npt.NDArray[np.float32]] = [np.zeros((0, 0), np.float32)] * len(prepared)
    order = sorted(range(len(prepared)), key=lambda i: prepared[i].inputs.shape[-1])
    for lo in range(0, len(order), batch_size):
        idx = order[lo : lo + batch_size]
        longest = max(prepared[i].inputs.shape[-1] for i in idx)
        batch = np.zeros((len(idx), channels, longest), np.float32)
        for j, i in enumerate(idx):
            x = prepared[i].inputs
            batch[j, :, longest - x.shape[-1] :] = x
        logits = run(batch)
        for j, i in enumerate(idx):
            n_frames = prepared[i].inputs.shape[-1] // FRAME
            results[i] = logits[j, :, logits.shape[-1] - n_frames :]
    return results


def is_long(prep: PreparedRecord) -> bool:
    """Whether a record is judged from its windows: longer than :data:`RECORD_HEAD_MAX_S`."""
    return prep.n_real > RECORD_HEAD_MAX_S


def clean_windows(prep: PreparedRecord) -> npt.NDArray[np.bool_]:
    """Per real second: whether the 10 s ending there lie wholly in usable quality windows
    (the first nine seconds, with less behind them, over what there is)."""
    bad = np.concatenate([[0], np.cumsum(~prep.second_ok)])
    ends = np.arange(prep.n_real)
    clean: npt.NDArray[np.bool_] = bad[ends + 1] - bad[np.maximum(ends - (MIN_SECONDS - 1), 0)] == 0
    return clean


def voting_frames(n_frames: int, prep: PreparedRecord) -> npt.NDArray[np.int64]:
    """Indices of the frames (of ``n_frames``, the last ``prep.n_real`` real) that vote on a
    record's verdict: those with a full 10 s of context (the last frame alone for a record
    shorter than that) and, when the record is usable, only those whose 10 s lie wholly in
    usable quality windows; there is always one, since a usable record has a usable window.
    """
    n_real = prep.n_real
    first = min(MIN_SECONDS - 1 + (n_frames - n_real), n_frames - 1)
    # Real second at which each candidate frame ends; its receptive field is the 10 s before.
    ends = np.arange(first, n_frames) - (n_frames - n_real)
    bad = np.concatenate([[0], np.cumsum(~prep.second_ok)])
    clean = bad[ends + 1] - bad[np.maximum(ends - (MIN_SECONDS - 1), 0)] == 0
    if prep.quality["usable"] and clean.any():
        return (first + np.flatnonzero(clean)).astype(np.int64)
    return np.arange(first, n_frames, dtype=np.int64)


class PreparedRecord(NamedTuple):
    """One record checked and conditioned for the network (see :meth:`RhythmModel.prepare`)."""

    inputs: npt.NDArray[np.float32]  # [channels, samples], left-padded to 10 s unless asked not
    n_real: int  # whole seconds of real input
    quality: dict[str, Any]  # {"usable", "reasons", "score"} of the whole record
    second_ok: npt.NDArray[np.bool_]  # per real second: in a usable quality window
    n_beats: int
    peaks: npt.NDArray[np.int64]  # R peaks at 250 Hz on the conditioned signal
    # The beat classes' evidence (record_head.BEAT_FEATURES) of a record the head judges;
    # zeros for a longer one (judged from its windows).
    beats: npt.NDArray[np.float64]
    # Its beats' rows for the beat-sequence network (beat_sequence.SEQUENCE_INPUTS); none
    # for a longer record.
    sequence: npt.NDArray[np.float64]

    @property
    def ecg(self) -> npt.NDArray[np.float32]:
        """The conditioned signal of the real seconds (250 Hz), which ``peaks`` index."""
        return self.inputs[0, self.inputs.shape[-1] - self.n_real * FRAME :]


def _check_rate(fs: Any) -> float:
    try:
        rate = float(fs)
    except (TypeError, ValueError):
        raise InputError(f"fs: expected a sampling rate in Hz, got {fs!r}") from None
    if not np.isfinite(rate) or not MIN_FS <= rate <= MAX_FS:
        raise InputError(f"fs: expected {MIN_FS:g} to {MAX_FS:g} Hz, got {rate:g}")
    try:
        rational_ratio(rate, MODEL_FS)
    except InputError:
        raise InputError(
            f"fs: {rate:g} Hz has no simple ratio to the model's {MODEL_FS:g} Hz"
        ) from None
    return rate


def _check_signal(signal: npt.ArrayLike, fs: float) -> npt.NDArray[np.float64]:
    try:
        raw = np.asarray(signal)
    except (TypeError, ValueError) as exc:  # ragged nested sequences
        raise InputError(f"signal: not an array of samples ({exc})") from None
    if raw.dtype.kind not in "iuf":
        raise InputError(f"signal: expected real numbers, got dtype {raw.dtype}")
    x = raw.astype(np.float64)
    if x.ndim == 2 and x.shape[1] == 1:
        x = x[:, 0]
    if x.ndim != 1:
        raise InputError(f"signal: expected one lead (1-D), got shape {x.shape}")
    finite = np.isfinite(x)
    if not finite.any():
        raise InputError("signal: empty or entirely missing")
    if x.size < MIN_INPUT_S * fs:
        raise InputError(
            f"signal: {x.size} samples at {fs:g} Hz is under {MIN_INPUT_S:g} s, the minimum"
        )
    peak = float(np.abs(x[finite]).max())
    if peak > MAX_ABS_MV:
        raise InputError(f"signal: magnitude {peak:g} is not an ECG in mV (limit {MAX_ABS_MV:g})")
    return x


def _summary(windows: list[SignalQuality], ok: npt.NDArray[np.bool_]) -> dict[str, Any]:
    """The record's quality from its windows', by the rule of
    :func:`cardiostream.dsp.signal_quality`, with ``ok`` (usable and scoring at least
    :data:`MIN_QUALITY_SCORE`) as a window's verdict."""
    n = len(windows)
    counts = Counter(r for w in windows for r in w.reasons)
    counts[LOW_QUALITY] = sum(w.usable and not k for w, k in zip(windows, ok, strict=True))
    names = (*REASONS, LOW_QUALITY)
    reasons = [r for r in names if counts[r] >= 0.25 * n]
    usable = bool(ok.mean() >= 0.5)
    if not usable and not reasons:
        top = max(counts.values())
        reasons = [next(r for r in names if counts[r] == top)]
    return {
        "usable": usable,
        "reasons": reasons,
        "score": float(np.mean([w.score for w in windows])),
    }


def prepare_record(
    signal: npt.ArrayLike, fs: Any, channels: int = 2, pad: bool = True, quality: bool = True
) -> PreparedRecord:
    """Check the input, condition it, find the beats and judge the quality."""
    rate = _check_rate(fs)
    x = _check_signal(signal, rate)
    pre = Preprocessor(rate)
    ecg = pre.process(x)
    peaks = detect_rpeaks(ecg, MODEL_FS)
    n_real = ecg.size // FRAME
    second_ok = np.ones(n_real, np.bool_)
    verdict: dict[str, Any] = {"usable": True, "reasons": [], "score": 1.0}
    if quality:
        # Beat positions on the input's clock, for the quality check's beat count.
        raw_peaks = np.round((peaks / MODEL_FS - pre.delay_s) * rate).astype(np.int64)
        raw_peaks = raw_peaks[(raw_peaks >= 0) & (raw_peaks < x.size)]
        windows = quality_windows(x, rate, rpeaks=raw_peaks)
        ok = np.array([w.usable and w.score >= MIN_QUALITY_SCORE for w in windows], np.bool_)
        verdict = _summary(windows, ok)
        # A second belongs to the window that holds its middle.
        starts = np.array([b[0] for b in window_bounds(x.size, rate)], np.float64)
        which = np.searchsorted(starts, (np.arange(n_real) + 0.5) * rate, side="right") - 1
        second_ok = ok[which]
    ecg = ecg[: n_real * FRAME]
    inputs = model_inputs(ecg, peaks, channels)
    left = max(MIN_SECONDS - n_real, 0) * FRAME if pad else 0
    if left:
        inputs = np.concatenate([np.zeros((channels, left), np.float32), inputs], axis=1)
    beats = np.zeros(len(BEAT_FEATURES))
    sequence = np.zeros((0, len(SEQUENCE_INPUTS)))
    if n_real <= RECORD_HEAD_MAX_S:
        found, rows = classify_beats_with_features(x, rate, model=_beat_model())
        beats = beat_class_features(found.label, found.probabilities, found.reason)
        sequence = sequence_inputs(found, rows, rate, x)
    return PreparedRecord(
        inputs.astype(np.float32),
        n_real,
        verdict,
        second_ok,
        int(peaks.size),
        peaks,
        beats,
        sequence,
    )


@lru_cache(maxsize=1)
def _beat_model() -> BeatModel:
    """The shipped beat classifier, read once (the record head's beat evidence)."""
    return load_beat_model()
