"""Beat-time streams: windows and AF episodes from beat times alone.

Chest straps, PPG watches and Holter exports give beat times, not an ECG.
:class:`BeatStreamProcessor` takes them in chunks of any size (seconds on the stream's clock,
strictly increasing) and gives the messages the ECG engine gives (``window``, ``event_open``,
``event``, ``gap``; see :mod:`cardiostream.stream.messages`), so the server, the alarms and
the dashboards treat both alike.

Each beat is decided when it arrives by the RR-only AF detector
(:class:`~cardiostream.beats.af_rr.AFBeatDetector`). A window ends on every whole second of
stream time (``t_end``) once a beat at or after it has arrived, and covers the beats in
``(t_end - 10, t_end]``:

- ``probabilities``: ``af`` is the ``p_af`` of the window's last beat, ``normal`` the rest,
  ``other`` and ``noise`` 0; ``raw_label`` is ``af`` when that beat is called AF;
- ``heart_rate_bpm`` and ``hrv`` from the window's RR intervals (null when not usable);
- ``quality``: unusable, and ``label`` ``uncertain``, with reason ``few_beats`` when the
  window has no beat or its last beat has fewer than the detector's 16 intervals behind it,
  and ``beat_gap`` when an interval touching the window is longer than
  :data:`MAX_RR_S` (a dropped sensor, not a rhythm); the detector starts afresh after such
  an interval;
- ``beat_classes`` and ``beat_totals`` are all 0 (beat times carry no morphology),
  ``findings`` is empty, and ``source`` is ``beats``.

AF episodes come from the same :class:`~cardiostream.stream.events.EventTracker` as the ECG
engine's. Two beats more than :data:`RESTART_S` apart restart the stream: a ``gap`` line
(``action`` ``restart``) and no windows for the silence. No technical alarm is raised from
these reasons: they are not lead-off, missing samples or noise.

The output is identical whatever the chunking, and the whole state goes out with
:meth:`BeatStreamProcessor.state_dict` and back with :meth:`~BeatStreamProcessor.load_state_dict`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, cast

import numpy as np
import numpy.typing as npt

from cardiostream.beats._af_rr_kernel import MIN_RR
from cardiostream.beats.af_rr import (
    MAX_RR_S,
    AFBeatDetector,
    RRAFModel,
    Timing,
    check_beat_times,
)
from cardiostream.errors import InputError
from cardiostream.stream.events import EventConfig, EventTracker
from cardiostream.stream.messages import Gap, Message, Window

FloatArray = npt.NDArray[np.float64]

#: The ``type`` of :meth:`BeatStreamProcessor.state_dict`.
STATE_TYPE = "BeatStreamProcessor"
#: Beats further apart than this (s) restart the stream (no windows for the silence).
RESTART_S = 300.0
#: Latest beat time accepted (s on the stream's clock, about 31 years).
MAX_TIME_S = 1e9
#: Reasons of an uncertain beat window.
FEW_BEATS = "few_beats"
BEAT_GAP = "beat_gap"
_ZERO_CLASSES = {"N": 0, "S": 0, "V": 0, "F": 0, "Q": 0}
_NO_HRV = {"mean_rr_ms": None, "sdnn_ms": None, "rmssd_ms": None, "pnn50": None}


@dataclass(frozen=True)
class BeatWindow:
    """What a window is computed from: its end, its beats and their neighbours.

    Attributes
    ----------
    t_end : int
        The window's end (whole seconds of stream time).
    times, p_af, af, n_rr : ndarray
        The window's beats: times (s), AF probability, AF call, and the intervals the
        detector had behind each (since the stream or its last gap began).
    before, after : float or None
        The last beat at or before the window's start, the first after its end (None: none
        known).
    """

    t_end: int
    times: FloatArray
    p_af: FloatArray
    af: npt.NDArray[np.bool_]
    n_rr: npt.NDArray[np.int64]
    before: float | None
    after: float | None


def window_message(w: BeatWindow, window_s: int) -> Window:
    """The ``window`` line of one beat window (see the module notes)."""
    rr = np.diff(w.times)
    edges = []
    if w.times.size:
        if w.before is not None:
            edges.append(w.times[0] - w.before)
        if w.after is not None:
            edges.append(w.after - w.times[-1])
    elif w.before is not None and w.after is not None:
        edges.append(w.after - w.before)
    reasons: list[str] = []
    if (rr > MAX_RR_S).any() or any(e > MAX_RR_S for e in edges):
        reasons.append(BEAT_GAP)
    if not w.times.size or int(w.n_rr[-1]) < MIN_RR:
        reasons.append(FEW_BEATS)
    p = float(w.p_af[-1]) if w.times.size else 0.0
    raw = "af" if w.times.size and bool(w.af[-1]) else "normal"
    usable = not reasons and rr.size >= 2
    if not reasons and not usable:
        reasons.append(FEW_BEATS)
    af = round(p, 6)
    window = {
        "type": "window",
        "t_start": float(w.t_end - window_s),
        "t_end": float(w.t_end),
        "label": raw if usable else "uncertain",
        "raw_label": raw,
        "probabilities": {"normal": round(1.0 - af, 6), "af": af, "other": 0.0, "noise": 0.0},
        "heart_rate_bpm": round(60.0 / float(rr.mean()), 2) if usable else None,
        "hrv": rr_hrv(rr) if usable else dict(_NO_HRV),
        "n_beats": int(w.times.size),
        "beat_classes": dict(_ZERO_CLASSES),
        "beat_totals": dict(_ZERO_CLASSES),
        "findings": [],
        "quality": {"usable": usable, "reasons": reasons, "score": 1.0 if usable else 0.0},
        "source": "beats",
    }
    return cast(Window, window)


def rr_hrv(rr_s: FloatArray) -> dict[str, float | None]:
    """Mean RR, SDNN, RMSSD (ms, 2 decimals) and pNN50 (4 decimals) of RR intervals (s),
    every interval used (AF is irregular by nature: no ectopic filter)."""
    ms = rr_s * 1000.0
    d = np.diff(ms)
    return {
        "mean_rr_ms": round(float(ms.mean()), 2),
        "sdnn_ms": round(float(ms.std(ddof=1)), 2) if ms.size > 1 else None,
        "rmssd_ms": round(float(np.sqrt(np.mean(d * d))), 2) if d.size else None,
        "pnn50": round(float(np.mean(np.abs(d) > 50.0)), 4) if d.size else None,
    }


class BeatStreamProcessor:
    """Windows and AF episodes of a beat-time stream, pushed in chunks of any size.

    Parameters
    ----------
    model : RRAFModel, path or None
        The RR AF model (the shipped one for ``timing`` by default).
    events : EventConfig, optional
        The AF episodes' rules (:class:`~cardiostream.stream.events.EventConfig`'s defaults
        by default); its hop and window are this processor's.
    timing : {"ecg", "pulse"}
        How the beats were timed (see :func:`~cardiostream.beats.af_rr.af_from_beats`).

    Attributes
    ----------
    hop_s, window_s : int
        Seconds between windows (1) and their length (10), as the ECG engine's.
    """

    hop_s = 1
    window_s = 10

    def __init__(
        self,
        model: RRAFModel | str | Path | None = None,
        events: EventConfig | None = None,
        *,
        timing: Timing = "ecg",
    ) -> None:
        self.detector = AFBeatDetector(model, timing=timing)
        #: How the beats are timed: ``"ecg"`` (R peaks) or ``"pulse"`` (a pulse sensor).
        self.timing: Timing = timing
        config = replace(
            events or EventConfig(), hop_s=float(self.hop_s), window_s=float(self.window_s)
        )
        self.tracker = EventTracker(config)
        self.reset()

    def reset(self) -> None:
        """Forget every beat and episode: the next push starts a new stream."""
        self.detector.reset()
        self.tracker.reset()
        self._t = np.zeros(0)  # kept beats: times, p_af, AF call, intervals behind
        self._p = np.zeros(0)
        self._af = np.zeros(0, bool)
        self._n = np.zeros(0, np.int64)
        self._next: int | None = None  # t_end of the next window (None: no beat yet)
        self._run = -1  # intervals behind the last beat since the detector's last reset
        self._count = 0  # beats consumed
        #: Beats of the last push with their RR (ms, None for a run's first) and AF call.
        self.last_beats: tuple[list[float], list[float | None], list[bool]] = ([], [], [])

    @property
    def beats_seen(self) -> int:
        """Beats pushed so far."""
        return self._count

    def check(self, beat_times_s: npt.ArrayLike) -> FloatArray:
        """The beat times as float64, or InputError (not finite, not increasing, before the
        last beat, negative or past :data:`MAX_TIME_S`) before any state changes."""
        t = check_beat_times(beat_times_s)
        if t.size:
            if t[0] < 0 or t[-1] > MAX_TIME_S:
                bad = int(np.flatnonzero((t < 0) | (t > MAX_TIME_S))[0])
                raise InputError(
                    f"beat_times_s: value {bad} ({t[bad]:g} s) is outside 0 to {MAX_TIME_S:g} s"
                )
            if self._t.size and not t[0] > self._t[-1]:
                raise InputError(
                    f"beat_times_s: {t[0]:g} s is not after the last beat ({self._t[-1]:g} s)"
                )
        return t

    def push(self, beat_times_s: npt.ArrayLike) -> list[Message]:
        """Take the next beat times (s); return the lines they complete.

        Raises
        ------
        InputError
            On bad times (see :meth:`check`), before any state changes.
        """
        t = self.check(beat_times_s)
        out: list[Message] = []
        rr_ms: list[float | None] = []
        af: list[bool] = []
        last = float(self._t[-1]) if self._t.size else None
        # Runs of beats between gaps (> MAX_RR_S): the detector starts afresh after each.
        cuts = np.flatnonzero(np.diff(t) > MAX_RR_S) + 1
        if last is not None and t.size and t[0] - last > MAX_RR_S:
            cuts = np.concatenate(([0], cuts))
        for j, run in enumerate(np.split(t, cuts)):
            if not run.size:
                continue
            if j > 0 and last is not None:  # after a gap
                if run[0] - last > RESTART_S:
                    out += self._restart(last, float(run[0]))
                self.detector.reset()
                self._run = -1
            decided = self.detector.push(run)
            n = self._run + 1 + np.arange(run.size, dtype=np.int64)
            self._run = int(n[-1])
            gaps = np.diff(run, prepend=run[0] if last is None else last)
            rr_ms += [None if k == 0 else round(1000.0 * v, 1)
                      for k, v in zip(n.tolist(), gaps.tolist(), strict=True)]  # fmt: skip
            af += decided.af.tolist()
            self._keep(run, decided.p_af, decided.af, n)
            out += self._windows()
            last = float(run[-1])
        self._count += int(t.size)
        self.last_beats = (t.tolist(), rr_ms, af)
        return out

    def flush(self) -> list[Message]:
        """End the stream: close an open episode (reason ``end_of_stream``) and reset."""
        out: list[Message] = list(self.tracker.flush())
        self.reset()
        return out

    # ------------------------------------------------------------ internals
    def _restart(self, last: float, first: float) -> list[Message]:
        """A silence past RESTART_S: a gap line, the episode closed, windows from anew."""
        gap = cast(Gap, {"type": "gap", "t_start": round(last, 3), "t_end": round(first, 3),
                         "action": "restart"})  # fmt: skip
        out: list[Message] = [gap, *self.tracker.interrupt()]
        self._t, self._p = self._t[:0], self._p[:0]
        self._af, self._n = self._af[:0], self._n[:0]
        self._next = None
        return out

    def _keep(
        self, t: FloatArray, p: FloatArray, af: npt.NDArray[np.bool_], n: npt.NDArray[np.int64]
    ) -> None:
        if self._next is None:
            self._next = math.ceil(float(t[0])) + self.window_s
        self._t = np.concatenate((self._t, t))
        self._p = np.concatenate((self._p, p))
        self._af = np.concatenate((self._af, af))
        self._n = np.concatenate((self._n, n))

    def _windows(self) -> list[Message]:
        """Every window whose end the last beat has reached; then drop unneeded beats."""
        out: list[Message] = []
        assert self._next is not None
        newest = float(self._t[-1])
        while self._next <= newest:
            end = self._next
            lo = int(np.searchsorted(self._t, end - self.window_s, "right"))
            hi = int(np.searchsorted(self._t, end, "right"))
            w = BeatWindow(
                end,
                self._t[lo:hi],
                self._p[lo:hi],
                self._af[lo:hi],
                self._n[lo:hi],
                float(self._t[lo - 1]) if lo else None,
                float(self._t[hi]) if hi < self._t.size else None,
            )
            window = window_message(w, self.window_s)
            out.append(window)
            out += self.tracker.update(float(end), window["label"], window["probabilities"]["af"])
            self._next += self.hop_s
        # Kept: the beats of the windows to come and the one before them.
        lo = max(int(np.searchsorted(self._t, self._next - self.window_s, "right")) - 1, 0)
        if lo:
            self._t, self._p = self._t[lo:], self._p[lo:]
            self._af, self._n = self._af[lo:], self._n[lo:]
        return out

    # ---------------------------------------------------------------- state
    def state_dict(self) -> dict[str, Any]:
        """The whole state as plain JSON data (floats round-trip exactly), bounded in size."""
        return {
            "type": STATE_TYPE,
            "timing": self.timing,
            "detector": self.detector.state_dict(),
            "tracker": self.tracker.state_dict(),
            "t": self._t.tolist(),
            "p": self._p.tolist(),
            "af": self._af.tolist(),
            "n": self._n.tolist(),
            "next": self._next,
            "run": self._run,
            "count": self._count,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Continue from a :meth:`state_dict`.

        Raises
        ------
        InputError
            If the state is of another type or malformed; the processor is then left as it
            was.
        """
        if not isinstance(state, dict) or state.get("type") != STATE_TYPE:
            raise InputError("state: not a BeatStreamProcessor state")
        # A state saved before beat streams said their timing is an ECG-timed one's.
        timing = state.get("timing", "ecg")
        if timing != self.timing:
            raise InputError(
                f"state: a stream of {timing!r}-timed beats, not {self.timing!r}-timed ones"
            )
        detector = AFBeatDetector(self.detector.model)
        tracker = EventTracker(self.tracker.config)
        try:
            detector.load_state_dict(state["detector"])
            tracker.load_state_dict(state["tracker"])
            t = check_beat_times(state["t"], "state t")
            p = np.asarray(state["p"], np.float64)
            af = np.asarray(state["af"], bool)
            n = np.asarray(state["n"], np.int64)
            nxt = None if state["next"] is None else int(state["next"])
            run, count = int(state["run"]), int(state["count"])
        except (KeyError, TypeError, ValueError) as exc:
            raise InputError(f"state: malformed ({exc})") from None
        if not p.shape == af.shape == n.shape == t.shape:
            raise InputError("state: beats of different lengths")
        self.detector, self.tracker = detector, tracker
        self._t, self._p, self._af, self._n = t, p, af, n
        self._next, self._run, self._count = nxt, run, count
        self.last_beats = ([], [], [])


def beat_stream_messages(
    beat_times_s: npt.ArrayLike,
    model: RRAFModel | str | Path | None = None,
    *,
    timing: Timing = "ecg",
) -> list[Message]:
    """Every line of a whole beat series through one :class:`BeatStreamProcessor`, flushed:
    what a live stream of the same beats gives, in any chunks."""
    proc = BeatStreamProcessor(model, timing=timing)
    return [*proc.push(beat_times_s), *proc.flush()]
