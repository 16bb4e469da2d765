"""The streaming engine: samples in, a window verdict every second and AF events out.

:class:`StreamProcessor` is the one pipeline of the package, for live streams and files alike:

    samples ─► resampler ─► cleaner ─► R peaks ─► RR inputs ─► rhythm network ─► window head
       │        (250 Hz)    0.5-40 Hz  (1 s delay)               (cached context)     │
       │                                  └─► beat features, gate ─► AAMI classes ──────┤
       │                                                               arrhythmias      │
       └──────── quality sums per second (raw input, band filters, beats) ────────────┴─► events

Every stage carries its state between calls and computes each output value with the same
operations whatever the chunking, so any split of a recording into chunks gives exactly the
same windows and events as one call over the whole of it; :func:`cardiostream.stream.analyze`
is that one call. The network runs once per second of signal on the new second only (each
layer keeps its left context), so a window costs O(hop), not O(window).

Windows
    Every ``hop_s`` seconds of stream, from ``t_end = window_s`` on, a ``{"type": "window"}``
    dict (:class:`~cardiostream.stream.messages.Window`, published in ``docs/schema/``) for
    the span ``[t_end - window_s, t_end]``:

    - ``probabilities``: the calibrated verdict on the 10 s ending at ``t_end`` (the network's
      receptive field): the window head's (:mod:`cardiostream.rhythm.window_head`: the
      network's frame with the RR statistics and beat shapes of those 10 s) when the model has
      one, else the network's frame; for ``window_s`` above 10, the mean of the verdicts whose
      10 s lie in the window.
    - ``raw_label``: the most probable class. ``label``: ``raw_label`` when the window is
      usable, its top probability reaches the window threshold (the window head's; the
      model's without one), it has beats and they are not mostly paced; else ``uncertain``,
      and ``quality.reasons`` says why (the quality reasons of
      :mod:`cardiostream.stream.sqi`, then ``low_confidence``, then ``paced``: at least
      :data:`MIN_PACED_BEATS` beats with a pacing spike, half or more of the window's
      classified beats; the rhythm model was not made for paced rhythms).
    - ``heart_rate_bpm`` and ``hrv`` over the beats confirmed by ``t_end`` (the detector's
      delay is 1 s; see :mod:`cardiostream.stream.window_beats`), or None (``null``) when
      the window is not usable: beats found in noise give a rate, but not the heart's;
      ``n_beats`` in every window.
    - ``beat_classes``: how many of the window's beats have each AAMI class (N, S, V, F, Q;
      :class:`~cardiostream.beats.BeatClassifier` on the same 250 Hz signal and R peaks),
      counting the beats whose class is final by ``t_end``: a class waits up to 3 s for the
      next beat, so the last seconds of a window are counted by the windows after it.
    - ``findings``: the arrhythmias present (:mod:`cardiostream.stream.arrhythmia`): open
      or recent episodes and counted ectopy, each with a confidence.
    - ``quality``: ``usable``, ``reasons``, ``score``.

    Times are on the stream's clock: 0 at the first sample, or the ``t`` of the first
    :meth:`~StreamProcessor.push`. The filters delay the signal by a few tens of milliseconds
    (40 ms for the resampler from rates above 250 Hz), which the times do not subtract.
Events
    ``event_open`` and ``event`` dicts of :class:`~cardiostream.stream.events.EventTracker`
    (AF) and of :class:`~cardiostream.stream.arrhythmia.ArrhythmiaTracker` (VT, SVT,
    bigeminy, pauses, asystole, rates and the rest, from the classified beats), right after
    the window that causes them. A beat is handed to the arrhythmia tracker with the first
    window that ends at least its longest class delay after it, so what each window and
    event holds does not depend on the chunking; a stretch of missing samples between two
    beats marks the later one ``broken`` (no pause or run is measured across it).
Gaps and faults
    Non-finite samples are missing: their windows are flagged ``missing_samples`` when they are
    more than a tenth of the window, hence ``uncertain``, and uncertain windows neither open
    nor close an episode. A ``push`` whose ``t`` is later than the stream's next sample time
    is a dropped stretch: up to ``max_fill_s`` it is filled with missing samples; beyond, the
    pipeline restarts at ``t`` and an open episode is closed (reason ``gap``). Either way a
    ``{"type": "gap", "t_start", "t_end", "action": "filled" | "restart"}`` notice says so. A
    ``t`` earlier than the next sample time (by more than half a sample) is refused.
Bad input
    An :class:`~cardiostream.errors.InputError` naming the argument, raised before any state
    changes: non-numeric or complex chunks, more than two dimensions, a lead that does not
    exist, a number of leads that changes, magnitudes above 1e9, a non-finite or backward
    ``t``. Empty chunks are a no-op.
"""

from __future__ import annotations

import math
import time
from dataclasses import replace
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal, NamedTuple, cast

import numba
import numpy as np
import numpy.typing as npt

from cardiostream.beats import RPeakDetector
from cardiostream.beats.classes import CLASSES as BEAT_CLASSES
from cardiostream.beats.classes import BeatClassifier, Beats
from cardiostream.dsp import BandpassFilter, ECGCleaner, Resampler
from cardiostream.dsp.filters import SOSFilter, butter_sos, check_lead_axis
from cardiostream.dsp.quality import REASONS, QualityConfig
from cardiostream.errors import InputError
from cardiostream.packing import pack as _pack
from cardiostream.packing import unpack as _unpack
from cardiostream.rhythm.bundle import ModelBundle, cached_bundle, weights_dir
from cardiostream.rhythm.fast_net import FastRhythmNet
from cardiostream.rhythm.infer import MAX_ABS_MV
from cardiostream.rhythm.preprocess import FRAME, MODEL_FS
from cardiostream.rhythm.rr_fusion import RRFeed
from cardiostream.rhythm.verdict import (
    CLASSES,
    LOW_CONFIDENCE,
    MIN_BEATS_WINDOW,
    N_CLASSES,
    decide_many,
)
from cardiostream.rhythm.window_head import BEAT_DELAY, WINDOW_S
from cardiostream.stream import sqi
from cardiostream.stream.arrhythmia import ArrhythmiaConfig, ArrhythmiaTracker, BeatBatch
from cardiostream.stream.events import EventConfig, EventTracker
from cardiostream.stream.messages import Gap, Hrv, Message, Window
from cardiostream.stream.window_beats import (
    H_AMP,
    H_BEATS,
    H_MEAN,
    H_PNN50,
    H_RATE,
    H_RMSSD,
    H_SDNN,
    N_HRV,
    fill_rr,
    initial_rr_state,
    window_hrv,
)

#: The network's receptive field in seconds (the window head's too): windows are at least
#: this long.
NET_WINDOW_S = WINDOW_S
#: Longest window accepted, in seconds.
MAX_WINDOW_S = 600
_NEAR = np.arange(-10, 11)  # samples around a beat mark searched for its height
#: Columns of the buffered partial frame: network input (3), then the quality signals (5).
_NET_COLS = 3
_SIG_COLS = 5


@lru_cache(maxsize=8)
def _load_model(folder: str) -> tuple[FastRhythmNet, ModelBundle]:
    bundle = cached_bundle(folder)
    return FastRhythmNet.from_file(bundle.folder / "rhythm.npz"), bundle


@numba.njit(cache=True)
def _window_probs(
    log_probs: npt.NDArray[np.float64],
    ends: npt.NDArray[np.int64],
    span: int,
    out: npt.NDArray[np.float64],
) -> None:  # pragma: no cover - compiled
    """Mean over the ``span`` rows ending at row ``ends[w]`` of ``log_probs`` (calibrated
    per-second verdicts) of their softmax, for every window ``w``."""
    k = log_probs.shape[1]
    p = np.empty(k)
    for w in range(out.shape[0]):
        out[w, :] = 0.0
        for f in range(ends[w] - span + 1, ends[w] + 1):
            top = -np.inf
            for c in range(k):
                top = max(top, log_probs[f, c])
            total = 0.0
            for c in range(k):
                p[c] = math.exp(log_probs[f, c] - top)
                total += p[c]
            for c in range(k):
                out[w, c] += p[c] / total
        for c in range(k):
            out[w, c] /= span


def _butter(cutoff: float, kind: Literal["lowpass", "highpass"]) -> SOSFilter:
    """An order-2 Butterworth at 250 Hz, for the quality sums."""
    return SOSFilter(butter_sos(2, cutoff, kind, MODEL_FS), MODEL_FS)


#: The stages of :attr:`StreamProcessor.stage_seconds`.
STAGES = ("filters", "peaks", "beats", "hrv", "quality", "model", "events", "windows")


def _tick(clock: dict[str, float], stage: str, since: float) -> float:
    """Add the time since ``since`` to ``stage``; return now."""
    now = time.perf_counter()
    clock[stage] += now - since
    return now


def _nullable(x: npt.NDArray[np.float64]) -> list[float | None]:
    """``x`` as a list, with None (``null``) for the non-finite: JSON has no NaN."""
    out: list[float | None] = x.tolist()
    for k in np.flatnonzero(~np.isfinite(x)).tolist():
        out[k] = None
    return out


_NO_BEATS = Beats.concatenate([])
#: A window with at least this many paced beats, half or more of its classified beats, is
#: ``uncertain`` with the reason :data:`PACED`.
MIN_PACED_BEATS = 3
PACED = "paced"
_MAX_MISSING = 32
_BEAT_CODE = {c: i for i, c in enumerate(BEAT_CLASSES)}

#: The ``hrv`` of an unusable window: its beats are not trusted, so no measure is given.
_NO_HRV: Hrv = {"mean_rr_ms": None, "sdnn_ms": None, "rmssd_ms": None, "pnn50": None}


def _hrv_dicts(hrv: npt.NDArray[np.float64], usable: list[bool]) -> list[Hrv]:
    """The ``hrv`` of each window from its row of :func:`window_hrv`, rounded; an unusable
    window's has no measure."""
    h = np.round(hrv, 2)
    columns = [_nullable(h[:, H_MEAN]), _nullable(h[:, H_SDNN]), _nullable(h[:, H_RMSSD])]
    columns.append(_nullable(np.round(hrv[:, H_PNN50], 4)))
    out: list[Hrv] = []
    for ok, m, s, r, p50 in zip(usable, *columns, strict=True):
        shown: Hrv = {"mean_rr_ms": m, "sdnn_ms": s, "rmssd_ms": r, "pnn50": p50}
        out.append(shown if ok else _NO_HRV.copy())
    return out


class PushTrace(NamedTuple):
    """What one push added to a stream at 250 Hz (see :attr:`StreamProcessor.last_push`).

    Attributes
    ----------
    start : int
        Index of its first 250 Hz sample since the pipeline (re)started.
    clean : ndarray
        The cleaned signal, in mV (NaN where samples were missing).
    peaks : ndarray of int64
        The R peaks it revealed, as 250 Hz sample indices since the (re)start.
    beats : Beats
        The beats whose class it decided, as input sample indices since the (re)start (their
        R peaks are found at the input rate, so they may sit a sample or two off ``peaks``).
    raw : ndarray
        The same samples before cleaning (resampled to 250 Hz, NaN where missing), for a
        display that filters them its own way.
    """

    start: int
    clean: npt.NDArray[np.float64]
    peaks: npt.NDArray[np.int64]
    beats: Beats
    raw: npt.NDArray[np.float64]


class BeatLog:
    """Every beat a :class:`StreamProcessor` decided, in the order it handed them to its
    arrhythmia tracker (see ``keep_beats``).

    Kept in numpy chunks so that a day of beats (about 100,000) costs a few MB and no
    Python object per beat.
    """

    def __init__(self) -> None:
        self._t: list[npt.NDArray[np.float64]] = []
        self._c: list[npt.NDArray[np.int64]] = []
        self._p: list[npt.NDArray[np.float64]] = []
        self._b: list[npt.NDArray[np.bool_]] = []

    def add(
        self,
        t_s: npt.NDArray[np.float64],
        codes: npt.NDArray[np.int64],
        p: npt.NDArray[np.float64],
        broken: npt.NDArray[np.bool_],
    ) -> None:
        """Log beats (times, class indices into ``CLASSES``, probabilities, broken flags)."""
        self._t.append(np.array(t_s, np.float64))
        self._c.append(np.array(codes, np.int64))
        self._p.append(np.array(p, np.float64))
        self._b.append(np.array(broken, bool))

    def __len__(self) -> int:
        return sum(x.size for x in self._t)

    @staticmethod
    def _join(parts: list[Any], dtype: Any) -> Any:
        return np.concatenate(parts) if parts else np.zeros(0, dtype)

    @property
    def t_s(self) -> npt.NDArray[np.float64]:
        """R-peak times on the stream clock, seconds."""
        return cast(npt.NDArray[np.float64], self._join(self._t, np.float64))

    @property
    def label(self) -> npt.NDArray[np.str_]:
        """AAMI class letters (N, S, V, F, Q)."""
        codes = self._join(self._c, np.int64)
        letters: npt.NDArray[np.str_] = np.asarray(BEAT_CLASSES, dtype="<U1")[codes]
        return letters

    @property
    def p(self) -> npt.NDArray[np.float64]:
        """Probability of the chosen class."""
        return cast(npt.NDArray[np.float64], self._join(self._p, np.float64))

    @property
    def broken(self) -> npt.NDArray[np.bool_]:
        """The signal was interrupted since the beat before (no interval measured to it)."""
        return cast(npt.NDArray[np.bool_], self._join(self._b, np.bool_))


class StreamProcessor:
    """One ECG stream through the whole pipeline (see the module notes for what it emits).

    Parameters
    ----------
    fs : float
        Sampling rate of the input in Hz (50 to 20,000, with a small rational ratio to 250).
    hop_s : int
        Seconds between windows.
    window_s : int
        Length of each window in seconds, 10 to 600.
    model : path, optional
        Folder with ``model.json`` and ``rhythm.npz``; the shipped model by default.
    events : EventConfig, optional
        Episode rules; ``hop_s`` and ``window_s`` are set from this processor's.
    lead : int
        Which column of two-dimensional chunks to analyse.
    max_fill_s : float
        Longest time jump filled with missing samples; a longer one restarts the pipeline.
    quality : QualityConfig, optional
        Signal-quality thresholds.
    arrhythmias : ArrhythmiaConfig, optional
        Arrhythmia rules; ``hop_s``, ``window_s`` and ``beat_delay_s`` are set from this
        processor's.
    keep_beats : bool
        Keep every decided beat, as handed to the arrhythmia tracker, in :attr:`beat_log`
        (a Holter report needs them all). Off by default: the log grows with the stream,
        is not part of :meth:`state_dict` and changes no output.

    Examples
    --------
    >>> import numpy as np
    >>> from cardiostream.samples import load_sample  # doctest: +SKIP
    >>> proc = StreamProcessor(fs=360.0)
    >>> out = []
    >>> for chunk in np.array_split(signal, 100):  # doctest: +SKIP
    ...     out += proc.push(chunk)
    >>> out += proc.flush()  # doctest: +SKIP
    """

    def __init__(
        self,
        fs: float,
        *,
        hop_s: int = 1,
        window_s: int = 10,
        model: str | Path | None = None,
        events: EventConfig | None = None,
        lead: int = 0,
        max_fill_s: float = 10.0,
        quality: QualityConfig | None = None,
        arrhythmias: ArrhythmiaConfig | None = None,
        keep_beats: bool = False,
    ) -> None:
        for name, value, low, high in (
            ("hop_s", hop_s, 1, MAX_WINDOW_S),
            ("window_s", window_s, NET_WINDOW_S, MAX_WINDOW_S),
        ):
            if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
                raise InputError(f"{name}: expected a whole number of seconds from {low} to {high}")
        if isinstance(lead, bool) or not isinstance(lead, int) or lead < 0:
            raise InputError(f"lead: expected a column index of at least 0, got {lead!r}")
        if not (isinstance(max_fill_s, int | float) and 0 <= max_fill_s <= 3600):
            raise InputError(f"max_fill_s: expected 0 to 3600 s, got {max_fill_s!r}")
        # Before the resampler, whose filter is sized from the rate: a rate far out of range
        # would ask for gigabytes before the check below could refuse it.
        try:
            rate = float(fs)
        except (TypeError, ValueError):
            rate = None  # The resampler names what is wrong with it.
        if rate is not None and not 50.0 <= rate <= 20_000.0:
            raise InputError(f"fs: expected 50 to 20000 Hz, got {rate:g}")
        # Raises InputError for an unusable rate; exact: any chunking gives the same samples.
        self.resampler = Resampler(fs, MODEL_FS, exact=True)
        self.fs = self.resampler.fs_in
        if not 50.0 <= self.fs <= 20_000.0:
            raise InputError(f"fs: expected 50 to 20000 Hz, got {self.fs:g}")
        self.hop_s, self.window_s, self.lead = hop_s, window_s, lead
        self.max_fill_s = float(max_fill_s)
        self.quality_config = quality or sqi.STREAM_CONFIG
        self.model_folder = str(Path(model) if model is not None else weights_dir())
        self.net, bundle = _load_model(self.model_folder)
        self.temperature = bundle.temperature
        self.threshold = bundle.window_threshold
        self.window_head = bundle.window_head
        self.window_fusion = bundle.window_fusion
        self.arrhythmia_config = arrhythmias or ArrhythmiaConfig()
        cfg = events or EventConfig()
        self.event_config = replace(cfg, hop_s=float(hop_s), window_s=float(window_s))
        self._den = 250 * self.resampler.down
        q = self.quality_config
        self._long_run = max(round(q.constant_run_s * self.fs), 2)
        self._min_run = max(round(q.clip_run_s * self.fs), 3)
        self._has_hf = self.fs >= 90.0
        self.t0 = 0.0
        #: Seconds spent in each of :data:`STAGES` since construction (not part of the state).
        self.stage_seconds = dict.fromkeys(STAGES, 0.0)
        self.beat_log: BeatLog | None = BeatLog() if keep_beats else None
        self.reset()

    # ----------------------------------------------------------------- state
    def reset(self, *, keep_events: bool = False) -> None:
        """Forget the stream: the next sample starts a new one (at time :attr:`t0`).

        With ``keep_events`` the episode tracker keeps its clock (a restart after a gap).
        """
        if not hasattr(self, "cleaner"):  # designed once; resetting only clears their state
            self.cleaner = ECGCleaner(MODEL_FS)
            self.filters: list[SOSFilter] = [
                BandpassFilter(MODEL_FS, 5.0, 15.0),
                _butter(40.0, "highpass"),
                _butter(0.5, "lowpass"),
            ]
            self.detector = RPeakDetector(MODEL_FS)
            self._rr_feed = RRFeed()
            self.tracker = EventTracker(self.event_config)
            self.beat_classifier = BeatClassifier(self.fs, shared=True)
            # A beat's class is final this many input samples after it at the latest: the
            # features' wait at 250 Hz, the filters' delay, and a sample of rounding each way.
            clf = self.beat_classifier
            lag_250 = clf.delay_samples + clf.delay_250 + 2
            self._beat_lag = lag_250 / MODEL_FS * self.fs + 1
            self.arrhythmia = ArrhythmiaTracker(
                replace(
                    self.arrhythmia_config,
                    hop_s=float(self.hop_s),
                    window_s=float(self.window_s),
                    beat_delay_s=(self._beat_lag + 1) / self.fs,
                )
            )
        self.resampler.reset()
        self.cleaner.reset()
        for f in self.filters:
            f.reset()
        self.detector.reset()
        self._rr_feed.reset()
        self.beat_classifier.reset()
        if not keep_events:
            self.tracker.reset()
            self.arrhythmia.flush()
        self._net_state = self.net.initial_state()
        self._rr_state = initial_rr_state()
        self._block_state = sqi.initial_block_state()
        self._n_in = 0  # input samples since the (re)start
        self._n_250 = 0  # 250 Hz samples
        self._partial = [np.zeros(0, np.float32)] * _NET_COLS + [np.zeros(0)] * _SIG_COLS
        self._tail = np.zeros(FRAME + 8, np.float32)  # last cleaned samples, for beat heights
        self._blocks = np.zeros((0, sqi.N_BLOCK))  # rows of seconds not yet in a window
        self._frames = np.zeros((0, sqi.N_FRAME))
        self._logits = np.zeros((0, N_CLASSES), np.float32)
        # Per second: calibrated log-probabilities of the 10 s ending there (the verdict).
        self._verdicts = np.zeros((0, N_CLASSES), np.float64)
        # The cleaned signal of the last 10 s of whole frames, for the window head.
        self._recent = np.zeros(0, np.float32)
        self._first = 0  # index (second) of the first row kept in _blocks/_frames/_logits
        self._n_emitted = 0  # seconds whose window decision was made (emitted or skipped)
        self._peaks = np.zeros(0, np.int64)
        self._amps = np.zeros(0, np.float64)
        # Classified beats (input samples since the restart, class index), kept while a
        # window may still count them; _handed of them went to the arrhythmia tracker.
        self._beat_r = np.zeros(0, np.int64)
        self._beat_c = np.zeros(0, np.int64)
        self._beat_p = np.zeros(0, np.float64)
        self._beat_b = np.zeros(0, bool)  # signal interrupted since the beat before
        self._beat_paced = np.zeros(0, bool)  # a pacing spike made it Q
        self._handed = 0
        # Stretches of missing input (seconds since the restart) not yet behind the last
        # classified beat, and that beat's time: no pause is measured across them.
        self._missing: list[list[float]] = []
        self._last_beat_s = -1.0
        self._last_push = PushTrace(0, np.zeros(0), np.zeros(0, np.int64), _NO_BEATS, np.zeros(0))

    @property
    def last_push(self) -> PushTrace:
        """What the last push added at 250 Hz: the cleaned signal and its R peaks.

        For displays only; it is not part of :meth:`state_dict` and changes no output.
        """
        return self._last_push

    @property
    def n_samples(self) -> int:
        """Input samples since the stream (re)started."""
        return self._n_in

    @property
    def time(self) -> float:
        """Stream time of the next input sample, in seconds."""
        return self.t0 + self._n_in / self.fs

    # ----------------------------------------------------------------- input
    def _check_chunk(self, chunk: npt.ArrayLike) -> npt.NDArray[np.float64]:
        try:
            raw = np.asarray(chunk)
        except (TypeError, ValueError) as exc:
            raise InputError(f"chunk: not an array of samples ({exc})") from None
        if raw.dtype.kind not in "iuf":
            raise InputError(f"chunk: expected real numbers, got dtype {raw.dtype}")
        if raw.ndim == 2:
            check_lead_axis(raw.shape)
            if raw.shape[0] and self.lead >= raw.shape[1]:
                raise InputError(f"chunk: has {raw.shape[1]} leads, lead {self.lead} was asked for")
            raw = raw[:, self.lead] if raw.shape[0] else raw.reshape(0)
        elif raw.ndim != 1:
            raise InputError(f"chunk: expected 1-D samples or [n, leads], got shape {raw.shape}")
        x = raw.astype(np.float64)
        finite = np.isfinite(x)
        if not finite.all():
            x[~finite] = np.nan
            finite_x = x[finite]
        else:
            finite_x = x
        if finite_x.size and float(np.abs(finite_x).max()) > MAX_ABS_MV:
            raise InputError(f"chunk: magnitude above {MAX_ABS_MV:g} is not an ECG in mV")
        return x

    def push(self, chunk: npt.ArrayLike, t: float | None = None) -> list[Message]:
        """Feed the next samples; return the windows, events and notices they complete.

        Parameters
        ----------
        chunk : array_like, shape (n,) or (n, n_leads)
            Samples in mV at ``fs``; NaN or infinity marks a missing sample.
        t : float, optional
            Stream time of the chunk's first sample, for sources that timestamp their
            packets: a jump forward is a dropped stretch (see the module notes).
        """
        x = self._check_chunk(chunk)
        out: list[Message] = []
        if t is not None:
            t = float(t)
            if not math.isfinite(t):
                raise InputError(f"t: expected a finite time in seconds, got {t!r}")
            if self._n_in == 0 and not self._n_emitted:
                self.t0 = t
            else:
                expected = self.time
                jump = t - expected
                if jump < -0.5 / self.fs:
                    raise InputError(
                        f"t: {t:.3f} s is before the stream's next sample time {expected:.3f} s"
                    )
                if jump > 0.5 / self.fs:
                    out += self._gap(expected, t)
                    if self._n_in:  # filled: the missing samples go first
                        missing = np.full(round(jump * self.fs), np.nan)
                        x = np.concatenate([missing, x])
        if x.size:
            out += self._process(x)
        return out

    def _gap(self, start: float, end: float) -> list[Message]:
        notice = cast(Gap, {"type": "gap", "t_start": round(start, 3), "t_end": round(end, 3)})
        if end - start <= self.max_fill_s:
            notice["action"] = "filled"
            return [notice]
        notice["action"] = "restart"
        closed = [*self.tracker.interrupt(), *self.arrhythmia.interrupt()]
        self.reset(keep_events=True)  # the tracker keeps the time order across the gap
        self.t0 = end
        return [notice, *closed]

    def flush(self) -> list[Message]:
        """End the stream: close an open episode (reason ``end_of_stream``) and reset.

        The last partial second gives no window. The next push starts a new stream at time 0
        (or its ``t``).
        """
        out: list[Message] = [*self.tracker.flush(), *self.arrhythmia.flush()]
        self.t0 = 0.0
        self.reset()
        return out

    # ------------------------------------------------------------- pipeline
    def _process(self, x: npt.NDArray[np.float64]) -> list[Message]:
        clock = self.stage_seconds
        t = time.perf_counter()
        rows = np.empty((x.size // max(int(self.fs) - 1, 1) + 2, sqi.N_BLOCK))
        n_rows = sqi.input_blocks(
            x, self._n_in, self.resampler.up, self._den, self._min_run, self._long_run,
            self._block_state, rows,
        )  # fmt: skip
        if n_rows:
            self._blocks = np.concatenate([self._blocks, rows[:n_rows]])
        self._n_in += x.size
        t = _tick(clock, "quality", t)
        raw = self.resampler.process(x)
        clean = self.cleaner.process(raw)
        ecg = clean.astype(np.float32)
        ecg[~np.isfinite(clean)] = 0.0
        t = _tick(clock, "filters", t)
        n0 = self._n_250
        peaks = self.detector.push(ecg)
        self._n_250 += ecg.size
        joined = np.concatenate([self._tail, ecg])
        if peaks.size:
            # The beat's height: the largest cleaned magnitude within 40 ms of the mark.
            at = peaks - (n0 - self._tail.size)
            near = joined[at[:, None] + _NEAR]
            amps = np.abs(near).max(axis=1).astype(np.float64)
            self._peaks = np.concatenate([self._peaks, peaks])
            self._amps = np.concatenate([self._amps, amps])
        self._tail = joined[joined.size - self._tail.size :]
        rr = np.empty(ecg.size, np.float32)
        change = np.empty(ecg.size, np.float32)
        fill_rr(n0, peaks, self._rr_state, rr, change)
        t = _tick(clock, "peaks", t)
        self._note_missing(x)
        beats = self.beat_classifier.push_parts(x, raw, peaks)
        if len(beats):
            self._beat_b = np.concatenate([self._beat_b, self._broken(beats)])
            self._beat_paced = np.concatenate([self._beat_paced, beats.reason == "paced"])
            codes = np.array([_BEAT_CODE[c] for c in beats.label.tolist()], np.int64)
            self._beat_r = np.concatenate([self._beat_r, beats.sample])
            self._beat_c = np.concatenate([self._beat_c, codes])
            chosen = beats.probabilities[np.arange(codes.size), codes]
            self._beat_p = np.concatenate([self._beat_p, chosen])
        t = _tick(clock, "beats", t)
        self._last_push = PushTrace(n0, clean, peaks, beats, raw)
        signals: list[npt.NDArray[Any]] = [ecg, rr, change, raw, clean]
        signals += [f.process(raw) for f in self.filters]
        t = _tick(clock, "quality", t)
        cols = signals
        if self._partial[0].size:
            cols = [np.concatenate([p, s]) for p, s in zip(self._partial, signals, strict=True)]
        n_frames = cols[0].size // FRAME
        cut = n_frames * FRAME
        self._partial = [c[cut:].copy() for c in cols]
        if n_frames:
            logits = self.net.run(np.stack([c[:cut] for c in cols[:_NET_COLS]]), self._net_state)
            self._verdicts = np.concatenate([self._verdicts, self._verdict(logits, cols[0][:cut])])
            self._logits = np.concatenate([self._logits, logits])
            t = _tick(clock, "model", t)
            sums = np.empty((n_frames, sqi.N_FRAME))
            raw_f, clean_f, qrs_f, high_f, low_f = (c[:cut] for c in cols[_NET_COLS:])
            sqi.frame_sums(raw_f, clean_f, qrs_f, high_f, low_f, sums)
            self._frames = np.concatenate([self._frames, sums])
            t = _tick(clock, "quality", t)
        return self._windows()

    def _verdict(
        self, logits: npt.NDArray[np.float32], ecg: npt.NDArray[np.float32]
    ) -> npt.NDArray[np.float64]:
        """Per-second verdicts of new frames (``logits``, over ``ecg``): the window head's
        from the 10th second on when the model has one, else the network's; updates
        :attr:`_recent`. The same as :meth:`RhythmModel.window_probabilities` offline."""
        first = self._first + self._logits.shape[0]  # index of the first new frame
        out = logits.astype(np.float64) / self.temperature
        joined = np.concatenate([self._recent, ecg])
        origin = (first + logits.shape[0]) * FRAME - joined.size  # sample index of joined[0]
        head = self.window_head
        k0 = max(NET_WINDOW_S - 1 - first, 0)  # the first new frame with 10 s behind it
        if head is not None and k0 < logits.shape[0]:
            ends = (np.arange(first + k0, first + logits.shape[0]) + 1) * FRAME
            out[k0:] = head.verdicts(logits[k0:], joined, origin, self._peaks, ends)
            if self.window_fusion is not None:
                p_af = self._rr_feed.at(self._peaks, ends, BEAT_DELAY)
                out[k0:] = self.window_fusion.log_probabilities(out[k0:], p_af)
        self._recent = joined[max(joined.size - NET_WINDOW_S * FRAME, 0) :]
        return out

    def _windows(self) -> list[Message]:
        """Decide every second that has both its frame and its block; emit the due windows."""
        n_ready = self._first + min(self._frames.shape[0], self._blocks.shape[0])
        w = self.window_s
        first_end = max(self._n_emitted, w - 1)  # index of the first second ending a window
        ends = np.arange(first_end, n_ready, dtype=np.int64)
        ends = ends[(ends + 1) % self.hop_s == 0]
        out: list[Message] = []
        if ends.size:
            out = self._emit(ends)
        self._n_emitted = max(self._n_emitted, n_ready)
        self._trim()
        return out

    def _emit(self, ends: npt.NDArray[np.int64]) -> list[Message]:
        w, base = self.window_s, self._first
        n = ends.size
        clock = self.stage_seconds
        t = time.perf_counter()
        starts = ends - (w - 1) - base  # row of each window's first second
        metrics = np.empty((n, len(sqi.METRICS)))
        const_block = np.empty(n)
        hrv = np.empty((n, N_HRV))
        window_hrv(self._peaks, self._amps, (ends - w) * FRAME, ends * FRAME, hrv)
        t = _tick(clock, "hrv", t)
        sqi.window_metrics(
            self._blocks, self._frames, starts, w, self.quality_config.flat_ptp_mv,
            hrv[:, H_BEATS].copy(), hrv[:, H_AMP].copy(), self._has_hf, metrics, const_block,
        )  # fmt: skip
        usable, score, flags = sqi.judge_windows(metrics, self.quality_config, const_block)
        t = _tick(clock, "quality", t)
        span = w - NET_WINDOW_S + 1
        probs = np.empty((n, N_CLASSES))
        _window_probs(self._verdicts, ends - base, span, probs)
        t = _tick(clock, "model", t)
        events = 0.0
        out: list[Message] = []
        verdicts = decide_many(
            probs,
            self.threshold,
            min_beats=MIN_BEATS_WINDOW,
            n_beats=hrv[:, H_BEATS],
            usable=usable,
        )
        labels, raws = verdicts.labels(), verdicts.raw_labels()
        counts, batches = self._beat_windows(ends)
        p_list = np.round(probs, 6).tolist()
        rates = _nullable(np.round(hrv[:, H_RATE], 2))
        n_beats = hrv[:, H_BEATS].astype(np.int64).tolist()
        scores = np.round(score, 4).tolist()
        usable_l, confident_l = usable.tolist(), verdicts.confident.tolist()
        hrv_l = _hrv_dicts(hrv, usable_l)
        t_ends = np.round(self.t0 + (ends + 1.0), 3).tolist()
        # The beats handed over by these windows, as lists once (the windows' slices follow
        # each other), rather than four small arrays converted a window.
        first_beat = batches[0][0]
        span_b = slice(first_beat, batches[-1][1])
        beat_t = (self.t0 + self._beat_r[span_b] / self.fs).tolist()
        beat_l = [BEAT_CLASSES[c] for c in self._beat_c[span_b].tolist()]
        beat_p = self._beat_p[span_b].tolist()
        beat_b = self._beat_b[span_b].tolist()
        for i in range(n):
            p = p_list[i]
            reasons: list[str] = []
            if not usable_l[i]:
                reasons = [REASONS[k] for k in np.flatnonzero(flags[i])]
            if not confident_l[i]:
                reasons.append(LOW_CONFIDENCE)
            label = labels[i]
            paced = counts[i][-1]
            if paced >= MIN_PACED_BEATS and 2 * paced >= sum(counts[i][:-1]):
                # The rhythm model was not made for paced rhythms: no verdict guessed.
                label = "uncertain"
                reasons.append(PACED)
            t_end = t_ends[i]
            window = {
                "type": "window",
                "t_start": round(t_end - w, 3),
                "t_end": t_end,
                "label": label,
                "raw_label": raws[i],
                "probabilities": dict(zip(CLASSES, p, strict=True)),
                "heart_rate_bpm": rates[i] if usable_l[i] else None,
                "hrv": hrv_l[i],
                "n_beats": n_beats[i],
                "beat_classes": dict(zip(BEAT_CLASSES, counts[i][:-1], strict=True)),
                "beat_totals": None,  # set once the tracker has counted this window's beats
                "quality": {"usable": usable_l[i], "reasons": reasons, "score": scores[i]},
            }
            t1 = time.perf_counter()
            a, b = batches[i]
            if self.beat_log is not None and b > a:
                self.beat_log.add(
                    self.t0 + self._beat_r[a:b] / self.fs,
                    self._beat_c[a:b],
                    self._beat_p[a:b],
                    self._beat_b[a:b],
                )
            findings, arrhythmias = self.arrhythmia.update(
                t_end,
                BeatBatch(
                    beat_t[a - first_beat : b - first_beat],
                    beat_l[a - first_beat : b - first_beat],
                    beat_p[a - first_beat : b - first_beat],
                    beat_b[a - first_beat : b - first_beat],
                ),
                usable=usable_l[i],
                reasons=reasons,
                heart_rate_bpm=window["heart_rate_bpm"],
                # Noise is what the model found most likely, also when it was not sure
                # enough to show it: no rate episode is built on such a window.
                label="noise" if raws[i] == "noise" else label,
                check=False,  # built from the engine's own checked arrays
            )
            window["findings"] = findings
            window["beat_totals"] = self.arrhythmia.beat_totals()
            out.append(cast(Window, window))
            out += self.tracker.update(t_end, window["label"], p[1])
            out += arrhythmias
            events += time.perf_counter() - t1
        clock["events"] += events
        clock["windows"] += time.perf_counter() - t - events
        return out

    def _note_missing(self, x: npt.NDArray[np.float64]) -> None:
        """Add the stretches of missing samples of the chunk ``x`` (just counted in)."""
        bad = ~np.isfinite(x)
        if not bad.any():
            return
        edges = np.flatnonzero(np.diff(np.concatenate([[False], bad, [False]]).astype(np.int8)))
        first = (self._n_in - x.size) / self.fs
        for a, b in edges.reshape(-1, 2).tolist():
            start, end = first + a / self.fs, first + b / self.fs
            if self._missing and start <= self._missing[-1][1] + 0.5 / self.fs:
                self._missing[-1][1] = end
            else:
                self._missing.append([start, end])
        while len(self._missing) > _MAX_MISSING:  # bounded: join the oldest two (wider only)
            self._missing[0:2] = [[self._missing[0][0], self._missing[1][1]]]

    def _broken(self, beats: Beats) -> npt.NDArray[np.bool_]:
        """For each new beat: was the signal interrupted since the beat before it (missing
        samples, or its class withheld for the signal's quality)?"""
        gated = beats.reason
        out: npt.NDArray[np.bool_] = np.asarray((gated != "") & (gated != "paced"), bool)
        if not self._missing:  # the usual case: no stretch to look for
            if len(beats):
                self._last_beat_s = float(beats.sample[-1]) / self.fs
            return out
        for i, r in enumerate(beats.sample.tolist()):
            t = r / self.fs
            if any(b > self._last_beat_s and a <= t for a, b in self._missing):
                out[i] = True
            self._missing = [m for m in self._missing if m[1] > t]
            self._last_beat_s = t
        return out

    def _beat_windows(
        self, ends: npt.NDArray[np.int64]
    ) -> tuple[list[list[int]], list[tuple[int, int]]]:
        """Per window ending with second ``ends[i]``: the count of each beat class, and the
        slice of the kept beats first final in it (handed to the arrhythmia tracker).

        A beat is final in the first window that ends at least the classifier's longest delay
        after it, whenever the push that decided it came: what a window holds does not depend
        on the chunking. A window counts the final beats of its span, so the classes of the
        last ~3 s of a window's beats are counted by the windows after it.
        """
        e = (ends + 1.0) * self.fs  # input samples since the restart at each window's end
        final = np.searchsorted(self._beat_r, e - self._beat_lag, side="right")
        first = np.searchsorted(self._beat_r, e - self.window_s * self.fs, side="left")
        k = len(BEAT_CLASSES)
        if ends.size == 1:  # live: one window a push, one count of a few dozen beats
            a, b = int(min(first[0], final[0])), int(final[0])
            row = np.bincount(self._beat_c[a:b], minlength=k).tolist()
            counts = [[*row, int(np.count_nonzero(self._beat_paced[a:b]))]]
        else:
            onehot = np.zeros((self._beat_c.size + 1, k + 1), np.int64)
            onehot[np.arange(1, self._beat_c.size + 1), self._beat_c] = 1
            onehot[1:, k] = self._beat_paced  # the last column: paced beats
            cum = np.cumsum(onehot, axis=0)
            counts = (cum[final] - cum[np.minimum(first, final)]).tolist()
        batches = []
        for f in final.tolist():
            start = self._handed
            self._handed = max(self._handed, int(f))
            batches.append((start, self._handed))
        return counts, batches

    def _trim(self) -> None:
        """Drop the seconds and beats that no future window needs (bounded state)."""
        keep_from = max(self._n_emitted - (self.window_s + 1), 0)
        drop = keep_from - self._first
        if drop > 0:
            self._blocks = self._blocks[drop:]
            self._frames = self._frames[drop:]
            self._logits = self._logits[drop:]
            self._verdicts = self._verdicts[drop:]
            self._first = keep_from
        cut = np.searchsorted(self._peaks, (keep_from - 1) * FRAME)
        if cut:
            self._peaks = self._peaks[cut:]
            self._amps = self._amps[cut:]
        oldest = (self._n_emitted - self.window_s - 1) * self.fs
        done = min(int(np.searchsorted(self._beat_r, oldest)), self._handed)
        if done:
            self._beat_r = self._beat_r[done:]
            self._beat_c = self._beat_c[done:]
            self._beat_p = self._beat_p[done:]
            self._beat_b = self._beat_b[done:]
            self._beat_paced = self._beat_paced[done:]
            self._handed -= done

    # ------------------------------------------------------------ state dict
    def state_dict(self) -> dict[str, Any]:
        """The complete state as plain Python data (JSON-serialisable, bounded in size)."""
        return {
            "type": type(self).__name__,
            "config": self._config(),
            "t0": self.t0,
            "n_in": self._n_in,
            "n_250": self._n_250,
            "first": self._first,
            "n_emitted": self._n_emitted,
            "resampler": self.resampler.state_dict(),
            "cleaner": self.cleaner.state_dict(),
            "filters": [f.state_dict() for f in self.filters],
            "detector": self.detector.state_dict(),
            "rr_af": self._rr_feed.state_dict(),
            "tracker": self.tracker.state_dict(),
            "net": {k: _pack(v) for k, v in self._net_state.items()},
            "rr": _pack(self._rr_state),
            "block_state": _pack(self._block_state),
            "partial": [_pack(p) for p in self._partial],
            "tail": _pack(self._tail),
            "blocks": _pack(self._blocks),
            "frames": _pack(self._frames),
            "logits": _pack(self._logits),
            "verdicts": _pack(self._verdicts),
            "recent": _pack(self._recent),
            "peaks": _pack(self._peaks),
            "amps": _pack(self._amps),
            "beat_classifier": self.beat_classifier.state_dict(),
            "beat_r": _pack(self._beat_r),
            "beat_c": _pack(self._beat_c),
            "beat_p": _pack(self._beat_p),
            "beat_b": _pack(self._beat_b),
            "beat_paced": _pack(self._beat_paced),
            "missing": self._missing,
            "last_beat_s": self._last_beat_s,
            "handed": self._handed,
            "arrhythmia": self.arrhythmia.state_dict(),
        }

    def _config(self) -> dict[str, Any]:
        return {
            "fs": self.fs,
            "hop_s": self.hop_s,
            "window_s": self.window_s,
            "lead": self.lead,
            "max_fill_s": self.max_fill_s,
            "model": self.model_folder,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore a state from :meth:`state_dict` of a processor with the same settings.

        Raises
        ------
        InputError
            If the state is of another type or configuration, or malformed; the processor is
            then left as it was.
        """
        if not isinstance(state, dict) or state.get("type") != type(self).__name__:
            raise InputError("state: not a StreamProcessor state")
        config = state.get("config")
        if config != self._config():
            raise InputError(f"state: config {config} differs from this processor's")
        backup = self.state_dict()
        try:
            self._restore(state)
        except (KeyError, TypeError, ValueError, IndexError) as exc:
            self._restore(backup)
            raise InputError(f"state: malformed ({exc})") from None

    def _restore(self, state: dict[str, Any]) -> None:
        self.reset()
        self.t0 = float(state["t0"])
        self._n_in, self._n_250 = int(state["n_in"]), int(state["n_250"])
        self._first, self._n_emitted = int(state["first"]), int(state["n_emitted"])
        self.resampler.load_state_dict(state["resampler"])
        self.cleaner.load_state_dict(state["cleaner"])
        for f, s in zip(self.filters, state["filters"], strict=True):
            f.load_state_dict(s)
        self.detector.load_state_dict(state["detector"])
        self._rr_feed.load_state_dict(state["rr_af"])
        self.tracker.load_state_dict(state["tracker"])
        for key, value in self._net_state.items():
            self._net_state[key] = _unpack(state["net"][key], value.dtype, value.shape)
        self._rr_state = _unpack(state["rr"], np.float64, (4,))
        self._block_state = _unpack(state["block_state"], np.float64, (sqi.N_STATE,))
        partial = state["partial"]
        if len(partial) != _NET_COLS + _SIG_COLS:
            raise ValueError("partial has the wrong number of columns")
        self._partial = [
            _unpack(p, np.float32 if i < _NET_COLS else np.float64, None)
            for i, p in enumerate(partial)
        ]
        if len({p.size for p in self._partial}) != 1 or self._partial[0].size >= FRAME:
            raise ValueError("partial columns differ in length")
        self._tail = _unpack(state["tail"], np.float32, self._tail.shape)
        self._blocks = _unpack(state["blocks"], np.float64, (-1, sqi.N_BLOCK))
        self._frames = _unpack(state["frames"], np.float64, (-1, sqi.N_FRAME))
        self._logits = _unpack(state["logits"], np.float32, (-1, N_CLASSES))
        self._verdicts = _unpack(state["verdicts"], np.float64, self._logits.shape)
        self._recent = _unpack(state["recent"], np.float32, None)
        if self._recent.ndim != 1 or self._recent.size > NET_WINDOW_S * FRAME:
            raise ValueError("recent signal has the wrong shape")
        self._peaks = _unpack(state["peaks"], np.int64, None)
        self._amps = _unpack(state["amps"], np.float64, self._peaks.shape)
        self.beat_classifier.load_state_dict(state["beat_classifier"])
        self._beat_r = _unpack(state["beat_r"], np.int64, None)
        self._beat_c = _unpack(state["beat_c"], np.int64, self._beat_r.shape)
        self._beat_p = _unpack(state["beat_p"], np.float64, self._beat_r.shape)
        self._beat_b = _unpack(state["beat_b"], np.bool_, self._beat_r.shape)
        self._beat_paced = _unpack(state["beat_paced"], np.bool_, self._beat_r.shape)
        self._missing = [[float(a), float(b)] for a, b in state["missing"]][-_MAX_MISSING:]
        self._last_beat_s = float(state["last_beat_s"])
        self._handed = int(state["handed"])
        self.arrhythmia.load_state_dict(state["arrhythmia"])
        if not 0 <= self._handed <= self._beat_r.size or (self._beat_c >= len(BEAT_CLASSES)).any():
            raise ValueError("beats are malformed")
