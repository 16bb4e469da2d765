"""AF episodes from a stream of per-window rhythm verdicts.

:class:`EventTracker` takes one window verdict at a time (its end time, its label and its
calibrated AF probability) and returns the events that this window causes; :func:`af_episodes`
runs the same tracker over whole arrays, so streamed and offline episodes are identical by
construction.

Rules
-----
Hysteresis
    An episode opens after ``open_after`` consecutive ``"af"`` windows and closes after
    ``close_after`` consecutive non-AF windows (``"normal"``, ``"other"`` or ``"noise"``).
    Before it opens, one non-AF window ends the run of AF windows; once it is open, an AF
    window ends the run of non-AF windows.
Uncertain windows
    An ``"uncertain"`` window neither opens nor closes an episode on its own: it counts neither
    towards ``open_after`` nor towards ``close_after``, and it resets neither run. Its
    probability is not part of the confidence.
Start and end
    An episode starts at the start of its first AF window, ``t_end - window_s`` clipped at 0,
    and ends at the ``t_end`` of its last AF window: the closing run is not part of it.
Minimum duration
    Nothing is emitted for an episode until it has lasted ``min_duration_s`` (from its start to
    the ``t_end`` of its latest AF window); then ``{"type": "event_open", "kind": "af",
    "start_s", "confidence"}`` is emitted once, the confidence being the value so far. An
    episode that closes shorter than that is dropped and emits nothing at all, so every
    ``event_open`` is followed by exactly one ``event`` with the same ``start_s``, and no
    ``event`` comes without one.
Closing
    ``{"type": "event", "kind": "af", "start_s", "end_s", "confidence"}``, with ``"reason"``
    set to ``"gap"``, ``"end_of_stream"`` or ``"max_duration"`` unless the episode was closed
    by the ``close_after`` rule (then there is no ``"reason"`` key).
Maximum duration
    None by default: an episode is reported as one event however long it lasts (a 2 h AF is
    one 2 h episode). A monitor that wants an ``event`` at least every so often (an hourly
    record of an ongoing AF, say) sets ``max_duration_s``; then an AF window that would take an
    announced episode beyond it closes the current segment at the previous AF window (reason
    ``"max_duration"``), and the next segment starts there with the current window as its
    first. Every segment after the first carries ``"episode_start_s"``, the ``start_s`` of the
    episode's first segment, in its ``event_open`` and ``event``, so a reader counts the
    episode once (:func:`episode_count`) and can join its segments. A segment continues an
    episode that already passed ``min_duration_s``, so it is exempt from it: its
    ``event_open`` comes in the same call. Segments are at most ``max_duration_s`` long,
    unless the episode was already longer when it passed ``min_duration_s`` (uncertain windows
    inside its opening run can do that).
Gaps
    A ``t_end`` more than 1.5 ``hop_s`` after the previous one is a stream interruption: an open
    episode is closed at its last AF window (reason ``"gap"``, subject to ``min_duration_s``),
    both runs are reset, and the window then counts as the first of a new stream.
End of stream
    :meth:`EventTracker.flush` closes an open episode (reason ``"end_of_stream"``, subject to
    ``min_duration_s``) and resets the tracker, so a new stream may start at any time.
Confidence
    The mean, the maximum or the 90th percentile (``confidence="p90"``) of ``p_af`` over the AF
    windows of the episode; NaN probabilities are ignored, and the confidence is None when no
    AF window had a finite one. The percentile is the nearest-rank one (the ``ceil(0.9 n)``-th
    smallest value) of the probabilities rounded to a grid of 1/200, kept as a 201-bin
    histogram so that the state stays bounded however long the episode; it is exact for
    probabilities on that grid and within 0.0025 otherwise.

Times are rounded to 3 decimals and confidences to 4 in the emitted events.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Collection
from dataclasses import asdict, dataclass
from typing import Any

from cardiostream.errors import InputError
from cardiostream.rhythm.verdict import CLASSES, LABELS
from cardiostream.stream.messages import CloseReason, EpisodeMessage, Event, EventOpen

NON_AF = frozenset(c for c in CLASSES if c != "af")
CONFIDENCE_MODES = ("mean", "peak", "p90")
HIST_BINS = 200  # grid of the p90 histogram: 1/200, so 201 bins from 0 to 1 inclusive
GAP_HOPS = 1.5


@dataclass(frozen=True)
class EventConfig:
    """Rules of the AF episode tracker; every time is in seconds (see the module notes).

    Raises
    ------
    InputError
        If a field is out of range; the message names the field.
    """

    open_after: int = 3
    close_after: int = 5
    min_duration_s: float = 30.0
    max_duration_s: float | None = None
    confidence: str = "mean"
    hop_s: float = 1.0
    window_s: float = 10.0

    def __post_init__(self) -> None:
        for name in ("open_after", "close_after"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise InputError(f"{name}: must be an integer of at least 1, got {value!r}")
        if self.confidence not in CONFIDENCE_MODES:
            raise InputError(
                f"confidence: unknown mode {self.confidence!r}, "
                f"expected one of {', '.join(CONFIDENCE_MODES)}"
            )
        for name in ("hop_s", "window_s"):
            if not _finite(getattr(self, name)) or getattr(self, name) <= 0:
                raise InputError(f"{name}: must be a positive number, got {getattr(self, name)!r}")
        if not _finite(self.min_duration_s) or self.min_duration_s < 0:
            raise InputError(f"min_duration_s: must be at least 0, got {self.min_duration_s!r}")
        cap = self.max_duration_s
        if cap is not None and (
            not isinstance(cap, int | float) or math.isnan(cap) or cap < self.min_duration_s
        ):
            raise InputError(
                f"max_duration_s: must be None or at least min_duration_s, got {cap!r}"
            )


def _finite(value: object) -> bool:
    return isinstance(value, int | float) and math.isfinite(value)


class EventTracker:
    """Streaming AF episode tracker over per-window verdicts.

    Parameters
    ----------
    config : EventConfig, optional
        The episode rules; the defaults suit 10 s windows every second.

    Examples
    --------
    >>> tracker = EventTracker()
    >>> events = [e for t, lab, p in verdicts for e in tracker.update(t, lab, p)]  # doctest: +SKIP
    >>> events += tracker.flush()  # doctest: +SKIP
    """

    def __init__(self, config: EventConfig | None = None) -> None:
        self.config = config or EventConfig()
        self.reset()

    def reset(self) -> None:
        """Forget everything, open episode included: the next window starts a new stream."""
        self._last_t: float | None = None
        self._clear_episode()

    def _clear_episode(self) -> None:
        self._af_run = 0  # AF windows of the opening run, until the episode opens
        self._non_af_run = 0
        self._open = False
        self._announced = False
        self._start = 0.0
        self._episode_start: float | None = None  # first segment's start, in a later segment
        self._last_af = 0.0
        self._n = 0  # finite probabilities of the episode's AF windows
        self._sum = 0.0
        self._peak = 0.0
        self._hist = [0] * (HIST_BINS + 1)
        # Whether anything above changed since: most windows of a stream without AF would
        # otherwise clear an episode that is already clear.
        self._dirty = False

    def update(self, t_end: float, label: str, p_af: float) -> list[EpisodeMessage]:
        """Take one window's verdict; return the events it causes (usually none).

        Parameters
        ----------
        t_end : float
            End time of the window in seconds: finite, non-negative, increasing.
        label : str
            One of ``"normal"``, ``"af"``, ``"other"``, ``"noise"``, ``"uncertain"``.
        p_af : float
            Calibrated AF probability in [0, 1], or NaN for an unusable window.

        Returns
        -------
        list of EventOpen and Event
            ``event_open`` and ``event`` dicts, in the order they happened.

        Raises
        ------
        InputError
            On bad input, before any state changes; the message names the field.
        """
        # The usual window is checked inline; the checkers raise with the reason otherwise.
        try:
            t, p = float(t_end), float(p_af)
        except (TypeError, ValueError):
            t = p = math.nan
        last = self._last_t
        if not 0.0 <= t < math.inf or (last is not None and t <= last):
            t = self._check_time(t_end, strict=True)
        if not 0.0 <= p <= 1.0:
            p = _check_p(p_af)
        if not isinstance(label, str) or label not in LABELS:
            raise InputError(f"label: unknown label {label!r}, expected one of {', '.join(LABELS)}")
        cfg = self.config
        out: list[EpisodeMessage] = []
        if self._last_t is not None and t - self._last_t > GAP_HOPS * cfg.hop_s:
            out += self._close("gap")
        self._last_t = t
        if label == "af":
            out += self._af_window(t, p)
        elif label in NON_AF:
            if not self._open:
                if self._dirty:
                    self._clear_episode()
            else:
                self._non_af_run += 1
                if self._non_af_run >= cfg.close_after:
                    out += self._close(None)
        return out

    def flush(self, t_end: float | None = None) -> list[EpisodeMessage]:
        """End the stream: close an open episode (reason ``"end_of_stream"``) and reset.

        Parameters
        ----------
        t_end : float, optional
            End time of the stream, checked only for order: the episode still ends at its last
            AF window, whatever followed it.
        """
        if t_end is not None:
            self._check_time(t_end, strict=False)
        out = self._close("end_of_stream")
        self.reset()
        return out

    def interrupt(self) -> list[EpisodeMessage]:
        """The stream was interrupted: close an open episode now (reason ``"gap"``, subject
        to ``min_duration_s``) and reset both runs, keeping the time of the last window, so
        the next window must still come later."""
        return self._close("gap")

    def _af_window(self, t: float, p: float) -> list[EpisodeMessage]:
        cfg, continued = self.config, False
        out: list[EpisodeMessage] = []
        if self._open:
            self._non_af_run = 0
            cap = cfg.max_duration_s
            if self._announced and cap is not None and t - self._start > cap:
                start, first = self._last_af, self._start
                if self._episode_start is not None:
                    first = self._episode_start
                out += self._close("max_duration")
                self._open, self._start, continued = True, start, True
                self._episode_start = first
        elif self._af_run == 0:
            self._start = max(0.0, t - cfg.window_s)
        if not self._open:
            self._af_run += 1
            self._open = self._af_run >= cfg.open_after
        self._last_af = t
        if not math.isnan(p):
            self._n += 1
            self._sum += p
            self._peak = max(self._peak, p)
            self._hist[math.floor(p * HIST_BINS + 0.5)] += 1
        if (
            self._open
            and not self._announced
            and (continued or t - self._start >= cfg.min_duration_s)
        ):
            self._announced = True
            out.append(self._opened())
        self._dirty = True
        return out

    def _close(self, reason: CloseReason | None) -> list[EpisodeMessage]:
        """Close the episode or opening run; the event only if the episode was announced."""
        out: list[EpisodeMessage] = []
        if self._open and self._announced:
            out.append(self._closed(reason))
        self._clear_episode()
        return out

    def _opened(self) -> EventOpen:
        start, confidence = round(self._start, 3), self._confidence()
        opened: EventOpen = {
            "type": "event_open",
            "kind": "af",
            "start_s": start,
            "confidence": confidence,
        }
        if self._episode_start is not None:
            opened["episode_start_s"] = round(self._episode_start, 3)
        return opened

    def _closed(self, reason: CloseReason | None) -> Event:
        event: Event = {
            "type": "event",
            "kind": "af",
            "start_s": round(self._start, 3),
            "end_s": round(self._last_af, 3),
            "confidence": self._confidence(),
        }
        if self._episode_start is not None:
            event["episode_start_s"] = round(self._episode_start, 3)
        if reason is not None:
            event["reason"] = reason
        return event

    def _confidence(self) -> float | None:
        if self._n == 0:
            return None
        mode = self.config.confidence
        if mode == "mean":
            value = self._sum / self._n
        elif mode == "peak":
            value = self._peak
        else:
            # Integer arithmetic for ceil(0.9 n): 0.9 is not exact in binary.
            rank = (9 * self._n + 9) // 10
            cumulative = enumerate(itertools.accumulate(self._hist))
            value = next(i for i, seen in cumulative if seen >= rank) / HIST_BINS
        return round(value, 4)

    def _check_time(self, t_end: float, *, strict: bool) -> float:
        return check_time(t_end, self._last_t, strict=strict)

    def state_dict(self) -> dict[str, Any]:
        """The full state as plain JSON-serialisable data, of bounded size."""
        return {
            "config": asdict(self.config),
            "last_t": self._last_t,
            "af_run": self._af_run,
            "non_af_run": self._non_af_run,
            "open": self._open,
            "announced": self._announced,
            "start": self._start,
            "episode_start": self._episode_start,
            "last_af": self._last_af,
            "n": self._n,
            "sum": self._sum,
            "peak": self._peak,
            "hist": list(self._hist),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore a state produced by :meth:`state_dict` of a tracker with the same config."""
        if state.get("config") != asdict(self.config):
            raise InputError("state: config differs from this tracker's")
        types = {"af_run": int, "non_af_run": int, "open": bool, "announced": bool, "n": int}
        types |= {"start": float, "last_af": float, "sum": float, "peak": float}
        try:
            # Parse everything before assigning anything: a bad state leaves the tracker as it was.
            values: dict[str, Any] = {k: kind(state[k]) for k, kind in types.items()}
            values["hist"] = [int(c) for c in state["hist"]]
            last_t = state["last_t"]
            values["last_t"] = None if last_t is None else float(last_t)
            # Absent from the states saved before episodes could be segmented and linked.
            first = state.get("episode_start")
            values["episode_start"] = None if first is None else float(first)
        except KeyError as exc:
            raise InputError(f"state: field {exc.args[0]!r} is missing") from None
        except (TypeError, ValueError) as exc:
            raise InputError(f"state: malformed field ({exc})") from None
        if len(values["hist"]) != HIST_BINS + 1:
            raise InputError(f"state: field 'hist' has {len(values['hist'])} bins, expected 201")
        for key, value in values.items():
            setattr(self, f"_{key}", value)
        self._dirty = True


def check_time(t_end: float, last: float | None, *, strict: bool) -> float:
    """``t_end`` as a float, checked: finite, non-negative, after ``last`` (or not before
    it, unless ``strict``); an episode tracker's clock.

    Raises
    ------
    InputError
        Naming ``t_end`` and what is wrong with it.
    """
    try:
        t = float(t_end)
    except (TypeError, ValueError):
        raise InputError(f"t_end: must be a number, got {t_end!r}") from None
    if not math.isfinite(t) or t < 0:
        raise InputError(f"t_end: must be finite and non-negative, got {t_end!r}")
    if last is not None and (t <= last if strict else t < last):
        raise InputError(f"t_end: must increase, got {t:g} after {last:g}")
    return t


def _check_p(p_af: float) -> float:
    try:
        p = float(p_af)
    except (TypeError, ValueError):
        raise InputError(f"p_af: must be a number, got {p_af!r}") from None
    if not (math.isnan(p) or 0.0 <= p <= 1.0):
        raise InputError(f"p_af: must be in [0, 1] or NaN, got {p_af!r}")
    return p


def af_episodes(
    t_end: Collection[float],
    labels: Collection[str],
    p_af: Collection[float],
    config: EventConfig | None = None,
) -> list[Event]:
    """The closed AF episodes of a whole stream: the offline form of :class:`EventTracker`.

    Parameters
    ----------
    t_end, labels, p_af : collections of equal length (lists or 1-D arrays)
        Per-window end times, labels and AF probabilities, as for :meth:`EventTracker.update`.
    config : EventConfig, optional
        The episode rules.

    Returns
    -------
    list of Event
        The ``event`` dicts (not the ``event_open`` ones), the stream flushed at its end; with
        ``max_duration_s`` set, a long episode's segments (see :func:`episode_count`).
    """
    n = len(t_end)
    for name, seq in (("labels", labels), ("p_af", p_af)):
        if len(seq) != n:
            raise InputError(f"{name}: length {len(seq)} differs from t_end's {n}")
    tracker = EventTracker(config)
    events = [
        e for t, lab, p in zip(t_end, labels, p_af, strict=True) for e in tracker.update(t, lab, p)
    ]
    events += tracker.flush()
    return [e for e in events if e["type"] == "event"]


def episode_count(events: Collection[Event]) -> int:
    """Episodes among closed events: a segment that continues an episode (one with
    ``episode_start_s``, cut by ``max_duration_s``) is not counted again."""
    return sum(1 for e in events if "episode_start_s" not in e)


def episode_seconds(events: Collection[Event]) -> float:
    """Seconds inside the closed events (the segments of one episode meet end to start, so
    their durations add up to the episode's)."""
    return float(sum(e["end_s"] - e["start_s"] for e in events))
