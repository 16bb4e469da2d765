"""Alarms from a stream's windows and events: what a central station raises, and when.

:class:`AlarmModel` is a pure state machine on the stream's own clock. It takes the engine's
messages in order (``window``, ``event_open``, ``event``) and the connection state, and
gives the alarms that were raised, ended, latched or acknowledged. The server runs one per
live stream; ``cardiostream bench alarms`` replays recordings through the same code.

Kinds and priorities (after IEC 60601-1-8)
------------------------------------------
High (red): ``asystole`` and ``vt``, from their episodes. Medium (yellow): ``af``,
``bradycardia`` and ``tachycardia`` from their episodes, ``pause`` from each pause event
(held ``event_hold_s``), and ``hr_low`` / ``hr_high`` when the usable windows' heart rate
stays past a bed's limit for ``limit_windows`` windows (ended after as many windows back
inside the limit by ``limit_band_bpm``). Technical (cyan): ``leads_off`` (a window with reason
``lead_off``), ``no_signal`` (reason ``missing_samples``), ``noise`` (``noise_windows``
unusable windows for a noise reason, or labelled noise, in a row) and ``disconnected``.

An alarm follows its condition, not each window: the AF alarm is the AF episode, which has
its own hysteresis, so a window that is uncertain inside it changes nothing, and an AF,
bradycardia or tachycardia alarm outlives its episode by ``episode_hold_s`` (60 s): an
episode that starts again within that time continues the same alarm rather than raising a
new one. A VT alarm needs a run that is still going ``vt_confirm_s`` (4 s) after it began, or
that ended with ``vt_min_beats`` (5) beats or more (then raised already ended, and latched):
a run of three or four ventricular beats is a finding, not an alarm, as on central stations
where short runs are an advisory ("Run PVCs") and VT a high-priority alarm. A high-priority
alarm that ends before it is acknowledged is ``latched``: it stays until acknowledged. While
a technical alarm is active the stream's numerics are not valid (:attr:`AlarmModel.inop`).
While alarms are paused no alarm is raised; a condition that still holds when the pause ends
raises its alarm then.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, Literal, TypeAlias

from cardiostream.errors import InputError

Priority: TypeAlias = Literal["high", "medium", "technical"]
State: TypeAlias = Literal["active", "latched", "ended"]

#: Every alarm kind and its priority.
PRIORITY: dict[str, Priority] = {
    "asystole": "high",
    "vt": "high",
    "af": "medium",
    "pause": "medium",
    "bradycardia": "medium",
    "tachycardia": "medium",
    "hr_low": "medium",
    "hr_high": "medium",
    "leads_off": "technical",
    "no_signal": "technical",
    "noise": "technical",
    "disconnected": "technical",
}
#: Kinds that are episodes of the engine, raised from ``event_open`` and ended by ``event``.
EPISODE_KINDS = ("asystole", "vt", "af", "bradycardia", "tachycardia")
#: Episode kinds whose alarm outlives the episode by ``episode_hold_s``.
HELD_KINDS = ("af", "bradycardia", "tachycardia")
#: Quality reasons that make an unusable window noise (not lead-off, not missing samples).
NOISE_REASONS = frozenset({"high_frequency_noise", "baseline_wander", "clipping"})
#: Order of urgency, most urgent first (for a tile that shows one alarm).
RANK = {p: i for i, p in enumerate(("high", "medium", "technical"))}


@dataclass(frozen=True)
class AlarmConfig:
    """Timing of the alarms, in the stream's seconds and windows.

    Attributes
    ----------
    event_hold_s : float
        How long a pause alarm stays active after the pause.
    episode_hold_s : float
        How long an AF, bradycardia or tachycardia alarm outlives its episode.
    vt_confirm_s : float
        How long a VT run must go on before its alarm is raised.
    vt_min_beats : int
        Beats of a VT run that ended before ``vt_confirm_s`` from which it is alarmed.
    limit_windows : int
        Consecutive usable windows past a heart-rate limit that raise ``hr_low`` or
        ``hr_high``, and back inside it (by ``limit_band_bpm``) that end it.
    limit_band_bpm : float
        Dead band of the heart-rate limits.
    clear_windows : int
        Windows without ``lead_off`` (resp. ``missing_samples``) that end ``leads_off``
        (resp. ``no_signal``): a lead that touches for a second is not back.
    noise_windows : int
        Consecutive noise windows that raise ``noise``, and clean windows that end it.
    """

    event_hold_s: float = 15.0
    episode_hold_s: float = 60.0
    vt_confirm_s: float = 4.0
    vt_min_beats: int = 5
    limit_windows: int = 5
    limit_band_bpm: float = 5.0
    clear_windows: int = 2
    noise_windows: int = 3

    def __post_init__(self) -> None:
        for name in ("limit_windows", "clear_windows", "noise_windows", "vt_min_beats"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise InputError(f"{name}: must be an integer of at least 1, got {v!r}")
        for name in ("event_hold_s", "episode_hold_s", "vt_confirm_s", "limit_band_bpm"):
            v = getattr(self, name)
            if not isinstance(v, int | float) or not math.isfinite(v) or v < 0:
                raise InputError(f"{name}: must be a number of at least 0, got {v!r}")


@dataclass
class Alarm:
    """One alarm of one stream (see the module notes)."""

    id: int
    kind: str
    priority: Priority
    technical: bool
    text: str
    state: State
    acknowledged: bool
    start_s: float
    end_s: float | None = None
    detail: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class _Condition:
    on: bool = False
    start: float = 0.0
    count: int = 0  # consecutive windows for or against, by kind
    until: float = -math.inf  # pause, or an episode's hold: on until then
    end_at: float | None = None  # when it ended, for the alarm it ends
    armed: bool = False  # a VT run not yet confirmed
    detail: dict[str, Any] = field(default_factory=dict)


def _text(kind: str, detail: Mapping[str, Any]) -> str:
    """The alarm's words, as a station shows them."""
    rate = detail.get("rate_bpm")
    match kind:
        case "asystole":
            return "Asystole"
        case "vt":
            return "VT"
        case "af":
            return "AF"
        case "pause":
            rr = detail.get("rr_s")
            return f"Pause {rr:.1f} s" if isinstance(rr, int | float) else "Pause"
        case "bradycardia":
            return f"Brady {rate:.0f}" if isinstance(rate, int | float) else "Brady"
        case "tachycardia":
            return f"Tachy {rate:.0f}" if isinstance(rate, int | float) else "Tachy"
        case "hr_low":
            return f"HR {detail['hr']:.0f} < {detail['limit']:.0f}"
        case "hr_high":
            return f"HR {detail['hr']:.0f} > {detail['limit']:.0f}"
        case "leads_off":
            return "Leads off"
        case "no_signal":
            return "No signal"
        case "noise":
            return "Noisy signal"
        case _:
            return "Disconnected"


class AlarmModel:
    """The alarms of one stream (see the module notes).

    Parameters
    ----------
    config : AlarmConfig, optional
    hr_low, hr_high : float or None
        The bed's heart-rate limits (None: no limit).
    new_id : callable, optional
        Gives each raised alarm its id (1, 2, ... by default); a server passes one counter
        for all streams so ids are unique across them.

    Examples
    --------
    >>> m = AlarmModel()
    >>> [a.text for a in m.update({"type": "event_open", "kind": "af", "start_s": 95.0,
    ...                            "confidence": 0.9})]
    ['AF']
    >>> [(a.text, a.state) for a in m.update({"type": "event", "kind": "af", "start_s": 95.0,
    ...                                       "end_s": 410.0, "confidence": 0.93})]
    [('AF', 'ended')]
    """

    def __init__(
        self,
        config: AlarmConfig | None = None,
        *,
        hr_low: float | None = None,
        hr_high: float | None = None,
        new_id: Callable[[], int] | None = None,
    ) -> None:
        self.config = config or AlarmConfig()
        self.hr_low: float | None = None
        self.hr_high: float | None = None
        self.set_limits(hr_low, hr_high)
        counter = itertools.count(1)
        self._new_id = new_id or (lambda: next(counter))
        self._cond = {k: _Condition() for k in PRIORITY}
        #: Alarms shown now (active or latched), by kind.
        self.alarms: dict[str, Alarm] = {}
        self.paused = False
        self.t = 0.0  # the latest stream time seen

    # ------------------------------------------------------------------ settings
    def set_limits(self, hr_low: float | None, hr_high: float | None) -> None:
        """Set the bed's heart-rate limits (None: none).

        Raises
        ------
        InputError
            A limit that is not a positive number, or a low limit at or above the high one.
        """
        for name, v in (("hr_low", hr_low), ("hr_high", hr_high)):
            if v is not None and (
                isinstance(v, bool) or not isinstance(v, int | float) or not 0 < v < 400
            ):
                raise InputError(f"{name}: expected a heart rate in bpm (0-400) or null, got {v!r}")
        if hr_low is not None and hr_high is not None and hr_low >= hr_high:
            raise InputError(f"hr_low: must be below hr_high ({hr_low!r} >= {hr_high!r})")
        self.hr_low = None if hr_low is None else float(hr_low)
        self.hr_high = None if hr_high is None else float(hr_high)

    def set_paused(self, paused: bool) -> list[Alarm]:
        """Pause or resume raising alarms; on resuming, the conditions that hold raise."""
        self.paused = bool(paused)
        return [] if self.paused else self._settle(self.t)

    # ------------------------------------------------------------------- inputs
    def update(self, message: Mapping[str, Any]) -> list[Alarm]:
        """One engine message (``window``, ``event_open``, ``event``; others are ignored):
        the alarms it changed."""
        kind = message.get("type")
        if kind == "window":
            t = float(message["t_end"])
            self.t = max(self.t, t)
            self._window(message, t)
        elif kind == "event_open" and message.get("kind") in EPISODE_KINDS:
            name = str(message["kind"])
            c = self._cond[name]
            c.detail = _detail(message)
            if c.on and c.end_at is not None:  # within the hold: the same alarm goes on
                c.end_at, c.until = None, -math.inf
            elif name == "vt":
                c.armed, c.start = True, float(message["start_s"])
            else:
                c.on, c.start, c.end_at = True, float(message["start_s"]), None
        elif kind == "event" and message.get("kind") in EPISODE_KINDS:
            name = str(message["kind"])
            c = self._cond[name]
            c.detail = _detail(message)
            end = float(message["end_s"])
            if name == "vt" and c.armed:
                c.armed = False
                if int(c.detail.get("n_beats") or 0) >= self.config.vt_min_beats:
                    c.on, c.end_at = True, end  # raised, then ended at once
                    out = self._settle(self.t)
                    c.on = False
                    return out + self._settle(self.t)
                return self._settle(self.t)
            c.end_at = end
            if name in HELD_KINDS:
                c.until = end + self.config.episode_hold_s
                if self.t < c.until:
                    return self._settle(self.t)
            c.on = False
            return self._settle(self.t)
        elif kind == "event" and message.get("kind") == "pause":
            c = self._cond["pause"]
            end = float(message["end_s"])
            c.on, c.start, c.until = True, float(message["start_s"]), end + self.config.event_hold_s
            c.end_at = None
            c.detail = _detail(message)
            # A second pause while one is shown is a new alarm: end the shown one first.
            out = self._end("pause", end) if "pause" in self.alarms else []
            return out + self._settle(self.t)
        return self._settle(self.t)

    def connection(self, connected: bool, t: float | None = None) -> list[Alarm]:
        """The stream's connection dropped (False) or came back (True), at stream time ``t``
        (the latest seen by default)."""
        t = self.t if t is None else float(t)
        c = self._cond["disconnected"]
        if not connected and not c.on:
            c.on, c.start = True, t
        elif connected:
            c.on = False
        return self._settle(t)

    def acknowledge(self, kind: str, t: float | None = None) -> Alarm | None:
        """Acknowledge the shown alarm of ``kind``: it no longer sounds; a latched one ends.
        None when no alarm of that kind is shown."""
        alarm = self.alarms.get(kind)
        if alarm is None:
            return None
        alarm.acknowledged = True
        if alarm.state == "latched":
            alarm.state = "ended"
            del self.alarms[kind]
        return alarm

    @property
    def inop(self) -> str | None:
        """The words of the active technical alarm (the numerics are not valid), or None."""
        for kind in ("disconnected", "leads_off", "no_signal", "noise"):
            a = self.alarms.get(kind)
            if a is not None and a.state == "active":
                return a.text
        return None

    def shown(self) -> list[Alarm]:
        """The alarms shown now, most urgent first."""
        return sorted(self.alarms.values(), key=lambda a: (RANK[a.priority], -a.start_s))

    def restore(self, alarms: Iterable[Alarm]) -> None:
        """Take back alarms shown before a restart: an active one's condition is taken to
        hold until the stream's messages end it (an episode's close, clean windows, the
        connection), a latched one stays until acknowledged."""
        for a in alarms:
            if a.kind in PRIORITY and a.state != "ended":
                self.alarms[a.kind] = a
                if a.state == "active":  # its condition holds until the messages say not
                    c = self._cond[a.kind]
                    c.on, c.start, c.detail = True, a.start_s, dict(a.detail)
                    c.until = a.start_s + self.config.event_hold_s

    # ------------------------------------------------------------------ internals
    def _window(self, w: Mapping[str, Any], t: float) -> None:
        cfg = self.config
        quality = w.get("quality") or {}
        reasons = set(quality.get("reasons") or ())
        usable = bool(quality.get("usable"))
        self._flag("leads_off", "lead_off" in reasons, t, 1, cfg.clear_windows)
        self._flag("no_signal", "missing_samples" in reasons, t, 1, cfg.clear_windows)
        noisy = (not usable and bool(reasons & NOISE_REASONS)) or w.get("label") == "noise"
        if not ({"lead_off", "missing_samples"} & reasons):
            self._flag("noise", noisy, t, cfg.noise_windows, cfg.noise_windows)
        hr = w.get("heart_rate_bpm")
        if usable and isinstance(hr, int | float) and math.isfinite(hr):
            band = cfg.limit_band_bpm
            h = float(hr)
            low, high = self.hr_low, self.hr_high
            self._limit("hr_low", low, low is not None and h < low,
                        low is not None and h >= low + band, h, t)  # fmt: skip
            self._limit("hr_high", high, high is not None and h > high,
                        high is not None and h <= high - band, h, t)  # fmt: skip
        pause = self._cond["pause"]
        if pause.on and t >= pause.until:
            pause.on = False
        for kind in HELD_KINDS:
            c = self._cond[kind]
            if c.on and c.end_at is not None and t >= c.until:
                c.on = False
        vt = self._cond["vt"]
        if vt.armed and t >= vt.start + cfg.vt_confirm_s:
            vt.armed, vt.on, vt.end_at = False, True, None

    def _limit(
        self, kind: str, limit: float | None, past: bool, back: bool, hr: float, t: float
    ) -> None:
        cfg, c = self.config, self._cond[kind]
        if limit is None:
            c.on, c.count = False, 0
        elif not c.on:
            c.count = c.count + 1 if past else 0
            if c.count >= cfg.limit_windows:
                c.on, c.count, c.start = True, 0, t - cfg.limit_windows + 1
                c.detail = {"hr": round(hr, 1), "limit": limit}
        else:
            c.count = c.count + 1 if back else 0
            if c.count >= cfg.limit_windows:
                c.on, c.count = False, 0

    def _flag(self, kind: str, met: bool, t: float, n_on: int, n_off: int) -> None:
        c = self._cond[kind]
        if met == c.on:
            c.count = 0
            return
        c.count += 1
        if c.count >= (n_on if met else n_off):
            c.on, c.count = met, 0
            if met:
                c.start = t

    def _settle(self, t: float) -> list[Alarm]:
        """Raise the alarms whose condition holds and end those whose condition is gone."""
        out: list[Alarm] = []
        for kind, c in self._cond.items():
            shown = self.alarms.get(kind)
            if c.on and not self.paused and (shown is None or shown.state == "latched"):
                if shown is not None:  # a latched alarm's condition is back: a new alarm
                    shown.state = "ended"
                    del self.alarms[kind]
                    out.append(shown)
                priority = PRIORITY[kind]
                alarm = Alarm(
                    id=self._new_id(),
                    kind=kind,
                    priority=priority,
                    technical=priority == "technical",
                    text=_text(kind, c.detail),
                    state="active",
                    acknowledged=False,
                    start_s=round(c.start, 3),
                    detail=dict(c.detail),
                )
                self.alarms[kind] = alarm
                out.append(alarm)
            elif not c.on and shown is not None and shown.state == "active":
                out += self._end(kind, t if c.end_at is None else c.end_at)
            elif c.on and shown is not None and shown.state == "active" and c.detail:
                text = _text(kind, c.detail)
                if text != shown.text and kind in ("bradycardia", "tachycardia"):
                    shown.text, shown.detail = text, dict(c.detail)
                    out.append(shown)
        return out

    def _end(self, kind: str, end: float) -> list[Alarm]:
        alarm = self.alarms[kind]
        alarm.end_s = round(end, 3)
        if alarm.detail != self._cond[kind].detail and self._cond[kind].detail:
            alarm.detail = dict(self._cond[kind].detail)
        if alarm.priority == "high" and not alarm.acknowledged:
            alarm.state = "latched"
        else:
            alarm.state = "ended"
            del self.alarms[kind]
        return [alarm]


def _detail(message: Mapping[str, Any]) -> dict[str, Any]:
    detail = dict(message.get("detail") or {})
    if message.get("confidence") is not None:
        detail["confidence"] = message["confidence"]
    return detail
