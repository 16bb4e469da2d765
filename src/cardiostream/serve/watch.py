"""Dashboards' read-only view of the live streams (``WS /v1/watch``, ``GET /v1/streams``).

The web process sees every frame's reply on its way to the streaming client; this module
keeps, per stream, what a dashboard needs to start drawing (the last window, the last
events, a trend of the recent windows, the last minutes of its drawn trace) and forwards
each frame's results to the dashboards of the stream's token. The engine adds a ``display``
line (cleaned samples at 125 Hz and the new R peaks) to every frame's reply while the server
keeps a trace (``disclosure_s`` above 0, the default), so that the trace before an alarm is
there when a dashboard opens on the bed; while no dashboard of the token is open the line
has the analysed lead only, all that is kept. With ``disclosure_s`` 0 it comes only while a
dashboard of the token is open. Display lines go to dashboards, never to the stream's client.

Watching never slows a stream: each dashboard has a bounded queue, and a dashboard that
falls behind loses display messages (counted, and told with a ``dropped`` message) rather
than holding up a stream's reply.

Messages to a dashboard (text, JSON lines, like ``/v1/stream``):

``{"type": "streams", "streams": [stream, ...]}``
    First, the token's streams, each ``{"stream_id", "fs", "leads", "lead", "source"
    ("ecg", or "beats" for a beat-time stream: ``fs`` 0, ``lead`` "beat times"), "timing"
    ("pulse" for beats timed by a pulse sensor, else "ecg"), "state"
    ("live" | "disconnected" | "ended"), "since", "last_frame_age_s", "window" (the last
    window object or null), "events" (the last ones), "trend" (recent windows: ``t_end``,
    ``heart_rate_bpm``, ``label``, ``probabilities``, ``usable``), "history" (one point a
    minute since the stream started, up to two days: ``t_end``, ``heart_rate_bpm`` (the
    mean of the minute's usable windows, or null), ``label`` (the minute's most frequent
    label), ``usable`` (the share of usable windows), ``beats`` (the minute's beats by class,
    from the windows' ``beat_totals``))}``, and the stream's alarms: see
    ``docs/alarms.md``.
``{"type": "stream", "stream": stream}``
    A stream started, resumed, disconnected or ended; a disconnected stream not resumed
    within ``resume_ttl_s`` is announced as ended and forgotten (its resume state is gone).
Per frame of a stream, one message of lines, each with ``stream_id`` added:
    ``display`` (``t``, ``fs``, ``lead``, ``leads`` {label: samples in mV or null},
    ``peaks`` stream times in s; a beats stream's has no samples but its new beats in
    ``peaks`` with ``rr_ms``, the RR interval ending at each (null after a gap), and ``af``,
    each beat's AF call: what its RR tachogram draws), then the frame's ``window``,
    ``event_open``, ``event`` and ``gap`` objects as ``/v1/stream`` sends them.
``{"type": "dropped", "messages": n}``
    This dashboard was too slow and missed ``n`` messages.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections import OrderedDict, deque
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from cardiostream.serve.alarms import AlarmDesk
from cardiostream.serve.disclosure import DISCLOSURE_S, Disclosure, Trace

#: Windows kept per stream for the trend (10 minutes at a 1 s hop).
TREND_WINDOWS = 600
#: Minutes kept per stream for the history (two days).
HISTORY_MINUTES = 2 * 24 * 60
#: Events kept per stream.
EVENTS_KEPT = 20
#: Messages a dashboard may fall behind before it loses some.
QUEUE_SIZE = 512

Key = tuple[str, str]


@dataclass
class LiveStream:
    """What the web process knows of one live stream."""

    owner: str
    stream_id: str
    fs: float
    leads: tuple[str, ...]
    lead: int
    controls: tuple[str, ...] = ()
    state: str = "live"
    since: float = field(default_factory=time.time)
    last_frame: float = field(default_factory=time.monotonic)
    window: str | None = None  # the last window object, as JSON text
    events: deque[str] = field(default_factory=lambda: deque(maxlen=EVENTS_KEPT))
    trend: deque[dict[str, Any]] = field(default_factory=lambda: deque(maxlen=TREND_WINDOWS))
    history: History = field(default_factory=lambda: History())
    pending: list[str] = field(default_factory=list)  # control lines for the next reply
    mode: str | None = None  # the last mode asked for
    #: The last minutes of the drawn trace (watched or not).
    disclosure: Disclosure = field(default_factory=Disclosure)
    #: ``ecg`` (samples) or ``beats`` (beat times: the dashboards draw an RR tachogram).
    source: str = "ecg"
    #: How a beats stream's beats were timed: ``ecg`` (R peaks; every ECG stream) or ``pulse``.
    timing: str = "ecg"
    #: A beats stream's last minutes of beats, ``[time, rr_ms, af]`` (watched or not).
    rr: deque[tuple[float, float | None, bool]] = field(default_factory=deque)

    def keep_beats(self, display: dict[str, Any], seconds: float) -> None:
        """Keep a beats stream's display line's beats, dropping those older than ``seconds``
        before the newest."""
        rr = self.rr
        if rr and display["peaks"] and display["peaks"][0] < rr[-1][0]:
            rr.clear()  # the stream restarted its clock
        rr.extend(zip(display["peaks"], display["rr_ms"], display["af"], strict=True))
        while rr and rr[0][0] < rr[-1][0] - seconds:
            rr.popleft()

    def describe(self) -> dict[str, Any]:
        return {
            "stream_id": self.stream_id,
            "fs": self.fs,
            "leads": list(self.leads),
            "lead": self.leads[self.lead],
            "source": self.source,
            "timing": self.timing,
            "controls": list(self.controls),
            "mode": self.mode,
            "state": self.state,
            "since": round(self.since, 3),
            "last_frame_age_s": round(time.monotonic() - self.last_frame, 3),
            "window": json.loads(self.window) if self.window else None,
            "events": [json.loads(e) for e in self.events],
            "trend": list(self.trend),
            "history": self.history.points(),
        }


#: Labels a history point may have, by code.
_LABELS = ("normal", "af", "other", "noise", "uncertain")
_CLASSES = ("N", "S", "V", "F", "Q")


class History:
    """One point a minute of a stream's windows, from its start (see the module notes).

    The points are kept in numpy rings (about 17 bytes a minute: two days of a thousand
    streams in under 50 MB), not as objects.
    """

    def __init__(self, minutes: int = HISTORY_MINUTES) -> None:
        self.capacity = minutes
        self._size = 0  # points kept
        self._next = 0  # where the next point goes
        self._t = np.empty(0, np.int32)  # the minute (t_end // 60)
        self._hr = np.empty(0, np.float32)  # NaN: none
        self._label = np.empty(0, np.uint8)
        self._usable = np.empty(0, np.float32)
        self._beats = np.empty((0, len(_CLASSES)), np.int32)  # -1: not known
        self._minute: float | None = None
        self._hr_sum = 0.0
        self._hr_n = 0
        self._labels: dict[str, int] = {}
        self._n = self._n_usable = 0
        self._totals: dict[str, int] | None = None  # beat totals at the last window
        self._before: dict[str, int] | None = None  # ... at the end of the minute before

    def add(self, window: dict[str, Any]) -> None:
        t = window.get("t_end")
        if not isinstance(t, int | float):
            return
        minute = float(t // 60)
        if self._minute is not None and minute != self._minute:
            self._close()
        self._minute = minute
        self._n += 1
        if (window.get("quality") or {}).get("usable"):
            self._n_usable += 1
            hr = window.get("heart_rate_bpm")
            if isinstance(hr, int | float):
                self._hr_sum += float(hr)
                self._hr_n += 1
        label = str(window.get("label"))
        self._labels[label] = self._labels.get(label, 0) + 1
        totals = window.get("beat_totals")
        if isinstance(totals, dict):
            self._totals = totals

    def _grow(self) -> None:
        n = min(self.capacity, max(64, 2 * self._t.size))
        for name in ("_t", "_hr", "_label", "_usable", "_beats"):
            old = getattr(self, name)
            new = np.empty((n, *old.shape[1:]), old.dtype)
            new[: old.shape[0]] = old
            setattr(self, name, new)

    def _close(self) -> None:
        if self._minute is None or not self._n:
            return
        if self._size == self._t.size and self._t.size < self.capacity:
            self._grow()
        k = self._next
        label = max(self._labels, key=lambda c: self._labels[c])
        self._t[k] = int(self._minute)
        self._hr[k] = self._hr_sum / self._hr_n if self._hr_n else np.nan
        self._label[k] = _LABELS.index(label) if label in _LABELS else len(_LABELS) - 1
        self._usable[k] = self._n_usable / self._n
        self._beats[k] = self._minute_beats()
        self._next = (k + 1) % self.capacity
        self._size = min(self._size + 1, self.capacity)
        self._before = self._totals
        self._hr_sum, self._hr_n, self._labels, self._n, self._n_usable = 0.0, 0, {}, 0, 0

    def _minute_beats(self) -> list[int]:
        """The minute's beats by class, from the windows' running totals (-1 before the
        engine gave any; a total that went down, after a restart, counts from zero)."""
        now, before = self._totals, self._before
        if now is None:
            return [-1] * len(_CLASSES)
        if before is None or any(now.get(k, 0) < v for k, v in before.items()):
            before = {}
        return [int(now.get(k, 0)) - int(before.get(k, 0)) for k in _CLASSES]

    def points(self) -> list[dict[str, Any]]:
        """The closed minutes, oldest first."""
        n, cap = self._size, max(self.capacity, 1)
        order = [(self._next - n + i) % cap for i in range(n)] if n == cap else range(n)
        out = []
        for k in order:
            hr = float(self._hr[k])
            beats = self._beats[k].tolist()
            out.append({
                "t_end": (int(self._t[k]) + 1) * 60.0,
                "heart_rate_bpm": None if hr != hr else round(hr, 1),
                "label": _LABELS[int(self._label[k])],
                "usable": round(float(self._usable[k]), 3),
                "beats": None if beats[0] < 0 else dict(zip(_CLASSES, beats, strict=True)),
            })  # fmt: skip
        return out


def _trend_point(window: dict[str, Any]) -> dict[str, Any]:
    return {
        "t_end": window.get("t_end"),
        "heart_rate_bpm": window.get("heart_rate_bpm"),
        "label": window.get("label"),
        "probabilities": window.get("probabilities"),
        "usable": (window.get("quality") or {}).get("usable"),
    }


class Dashboard:
    """One open ``/v1/watch`` connection: a bounded queue of messages to send."""

    def __init__(self, owner: str) -> None:
        self.owner = owner
        self.queue: asyncio.Queue[str] = asyncio.Queue(QUEUE_SIZE)
        self.dropped = 0

    def offer(self, message: str) -> None:
        try:
            self.queue.put_nowait(message)
        except asyncio.QueueFull:
            self.dropped += 1


class Watch:
    """The live streams of every token, and the dashboards watching them.

    A stream is forgotten when it ends, or ``resume_ttl_s`` after it disconnects unless it
    resumes first, as the engine forgets its state; what is due goes at the next start,
    disconnect, frame or listing, at a cost that does not grow with the streams kept.
    """

    def __init__(
        self,
        resume_ttl_s: float,
        disclosure_s: float = DISCLOSURE_S,
        desk: AlarmDesk | None = None,
    ) -> None:
        self.resume_ttl_s = resume_ttl_s
        self.disclosure_s = disclosure_s
        #: The streams' alarms (in memory unless the server gives one with a log file).
        self.desk = desk if desk is not None else AlarmDesk()
        self.streams: dict[Key, LiveStream] = {}
        #: Disconnected streams by the monotonic time they left, oldest first (an OrderedDict:
        #: taking from the front stays O(1) however many went before, which a dict's does not).
        self.disconnected: OrderedDict[Key, float] = OrderedDict()
        self.dashboards: dict[str, set[Dashboard]] = {}

    # ------------------------------------------------------------ streams
    def opened(self, owner: str, stream_id: str, fs: float, leads: tuple[str, ...],
               lead: int, controls: tuple[str, ...] = (),
               start_time: float | None = None, source: str = "ecg",
               timing: str = "ecg", *, resumed: bool = True) -> None:  # fmt: skip
        """A stream started or resumed; ``start_time`` (epoch s) is when its first sample was
        taken, if the source said (the server's receipt time otherwise); ``source`` is ``ecg``
        or ``beats``, ``timing`` a beats stream's ``ecg`` or ``pulse``; ``resumed`` False:
        the engine starts it at its sample 0, a new timeline even for an id known here."""
        self._expire()
        key = (owner, stream_id)
        self.disconnected.pop(key, None)
        info = self.streams.get(key)
        if info is None or not resumed:  # what was kept is on the old timeline's clock
            info = LiveStream(owner, stream_id, fs, leads, lead, controls,
                              disclosure=Disclosure(self.disclosure_s),
                              source=source, timing=timing)  # fmt: skip
            self.streams[key] = info
        info.state, info.last_frame, info.controls = "live", time.monotonic(), controls
        self._send(owner, stream_id,
                   self.desk.opened(owner, stream_id, start_time, resumed=resumed))  # fmt: skip
        self._announce(info)

    def left(self, owner: str, stream_id: str, ended: bool, expired: bool = False) -> None:
        """A stream disconnected or ended (``expired``: forgotten while disconnected, not
        stopped; see :meth:`AlarmDesk.left`)."""
        self._expire()
        key = (owner, stream_id)
        info = self.streams.get(key)
        if info is None:
            return
        info.state = "ended" if ended else "disconnected"
        info.last_frame = time.monotonic()
        self._send(owner, stream_id, self.desk.left(owner, stream_id, ended, expired))
        self._announce(info)
        self.disconnected.pop(key, None)
        if ended:
            del self.streams[key]
        else:
            self.disconnected[key] = info.last_frame  # last in time order

    def dropped(self, keys: list[tuple[str, str]]) -> None:
        """Streams the engine has forgotten (their resume window passed, or too many were
        kept): those still disconnected here end."""
        for owner, stream_id in keys:
            info = self.streams.get((owner, stream_id))
            if info is not None and info.state == "disconnected":
                self.left(owner, stream_id, ended=True, expired=True)

    def frame(self, owner: str, stream_id: str, lines: list[tuple[str, str]]) -> None:
        """A frame's reply lines (``(type, JSON)``), display lines included."""
        self._expire()
        info = self.streams.get((owner, stream_id))
        if info is None:
            return
        info.last_frame = time.monotonic()
        parsed: list[tuple[str, dict[str, Any]]] = []
        for kind, line in lines:
            if kind == "window":
                info.window = line
                window = json.loads(line)
                parsed.append((kind, window))
                info.trend.append(_trend_point(window))
                info.history.add(window)
            elif kind == "event" or kind == "event_open":
                if kind == "event":
                    info.events.append(line)
                parsed.append((kind, json.loads(line)))
            elif kind == "display" and self.disclosure_s > 0:
                if info.source == "beats":
                    info.keep_beats(json.loads(line), self.disclosure_s)
                else:
                    info.disclosure.add(json.loads(line))
        alarms = self.desk.frame(owner, stream_id, parsed) if parsed else []
        watchers = self.dashboards.get(owner)
        if not watchers or not (lines or alarms):
            return
        prefix = f'{{"stream_id": "{stream_id}", '  # ids are letters, digits and . _ -
        message = "\n".join(prefix + line[1:] for line in [*(t for _, t in lines), *alarms])
        for dash in watchers:
            dash.offer(message)

    def _send(self, owner: str, stream_id: str, alarm_lines: list[str]) -> None:
        """Give alarm lines of a stream to its token's dashboards."""
        watchers = self.dashboards.get(owner)
        if not watchers or not alarm_lines:
            return
        prefix = f'{{"stream_id": "{stream_id}", '
        message = "\n".join(prefix + line[1:] for line in alarm_lines)
        for dash in watchers:
            dash.offer(message)

    def alarm_changed(
        self, owner: str, stream_id: str, alarm: dict[str, Any] | None = None
    ) -> None:
        """An alarm was acknowledged or a bed's settings changed: its dashboards hear it."""
        if alarm is not None:
            self._send(owner, stream_id, [json.dumps({"type": "alarm", "alarm": alarm})])
        info = self.streams.get((owner, stream_id))
        if info is not None:
            self._announce(info)

    def broadcast(self, owner: str, message: dict[str, Any]) -> None:
        """Give one message (a ward-wide change) to a token's dashboards."""
        text = json.dumps(message)
        for dash in self.dashboards.get(owner, ()):
            dash.offer(text)

    def control(self, owner: str, stream_id: str, command: dict[str, Any]) -> None:
        """Queue a ``control`` line for a steerable stream's next reply.

        Raises
        ------
        KeyError
            No such live stream for this owner.
        ValueError
            The stream takes no control, or not this mode.
        """
        info = self.streams.get((owner, stream_id))
        if info is None or info.state != "live":
            raise KeyError(stream_id)
        mode = command.get("mode")
        if mode not in info.controls:
            allowed = ", ".join(info.controls) or "none"
            raise ValueError(f"mode: {stream_id!r} accepts {allowed}, not {mode!r}")
        info.pending.append(json.dumps({"type": "control", **command}))
        info.mode = str(mode)
        self._announce(info)

    def take_controls(self, owner: str, stream_id: str) -> list[str]:
        info = self.streams.get((owner, stream_id))
        if info is None or not info.pending:
            return []
        lines, info.pending = info.pending, []
        return lines

    def _known(self, owner: str, stream_id: str) -> LiveStream:
        """The stream's record, or KeyError when this owner has no such stream."""
        info = self.streams.get((owner, stream_id))
        if info is None:
            raise KeyError(stream_id)
        return info

    def trace(self, owner: str, stream_id: str, seconds: float) -> Trace:
        """The last ``seconds`` of a stream's drawn trace (full disclosure).

        Raises
        ------
        KeyError
            No such stream for this owner.
        """
        info = self._known(owner, stream_id)
        return info.disclosure.last(seconds)

    def beats(self, owner: str, stream_id: str, seconds: float) -> list[list[Any]]:
        """The last ``seconds`` of a beats stream's beats as ``[time, rr_ms, af]`` (empty for
        an ECG stream).

        Raises
        ------
        KeyError
            No such stream for this owner.
        """
        info = self._known(owner, stream_id)
        if not info.rr:
            return []
        newest = info.rr[-1][0]
        return [list(b) for b in info.rr if b[0] >= newest - seconds]

    def listing(self, owner: str) -> list[dict[str, Any]]:
        self._expire()
        return [
            {**s.describe(), **self.desk.describe(o, s.stream_id)}
            for (o, _), s in sorted(self.streams.items())
            if o == owner
        ]

    def _announce(self, info: LiveStream) -> None:
        watchers = self.dashboards.get(info.owner)
        if watchers:
            message = json.dumps({"type": "stream", "stream": {
            **info.describe(), **self.desk.describe(info.owner, info.stream_id)}})  # fmt: skip
            for dash in watchers:
                dash.offer(message)

    def _expire(self) -> None:
        """Forget the disconnected streams older than ``resume_ttl_s`` (announced as ended)."""
        if not self.disconnected:
            return
        cutoff = time.monotonic() - self.resume_ttl_s
        while self.disconnected:
            key, left_at = next(iter(self.disconnected.items()))
            if left_at >= cutoff:
                break
            self.disconnected.popitem(last=False)
            info = self.streams.pop(key, None)
            if info is not None:
                info.state = "ended"
                self._send(key[0], key[1], self.desk.left(key[0], key[1], True, expired=True))
                self._announce(info)

    # --------------------------------------------------------- dashboards
    def subscribe(self, owner: str) -> tuple[Dashboard, bool]:
        """A new dashboard; the flag says it is the owner's first (display lines go on)."""
        dash = Dashboard(owner)
        watchers = self.dashboards.setdefault(owner, set())
        first = not watchers
        watchers.add(dash)
        return dash, first

    def unsubscribe(self, dash: Dashboard) -> bool:
        """Forget a dashboard; the flag says it was the owner's last (display lines go off)."""
        watchers = self.dashboards.get(dash.owner, set())
        watchers.discard(dash)
        if not watchers:
            self.dashboards.pop(dash.owner, None)
            return True
        return False


async def pump(dash: Dashboard, send: Any) -> None:
    """Send a dashboard's queued messages until cancelled (``send``: an async callable)."""
    while True:
        message = await dash.queue.get()
        await send(message)
        if dash.dropped:
            n, dash.dropped = dash.dropped, 0
            with contextlib.suppress(Exception):
                await send(json.dumps({"type": "dropped", "messages": n}))
