"""The server's WebSocket messages as types (see :mod:`cardiostream.serve.protocol` and
:mod:`cardiostream.serve.watch` for the protocol itself).

Plain ``TypedDict`` definitions, free of any web framework, so that clients, the server and
:mod:`cardiostream.stream.schema` share them. Every message is one JSON object; the server
sends several as JSON lines in one text message.
"""

# No ``from __future__ import annotations``: on Python 3.11 a TypedDict reads NotRequired
# when the class is created, which string annotations hide from it.
from typing import Annotated, Literal, NotRequired, TypeAlias, TypedDict

from cardiostream.stream.messages import (
    BeatClasses,
    Event,
    EventOpen,
    Gap,
    Label,
    Probabilities,
    Seconds,
    Window,
)

SampleFormat: TypeAlias = Literal["float32", "int16", "json", "beats"]
Units: TypeAlias = Literal["mV", "uV", "µV", "V"]
BeatTiming: TypeAlias = Literal["ecg", "pulse"]
StreamState: TypeAlias = Literal["live", "disconnected", "ended"]
StreamId: TypeAlias = Annotated[str, "1-100 letters, digits and . _ -"]


# ----------------------------------------------------------------- client to server
class Start(TypedDict):
    """The first client message: opens a stream, or resumes one with the same id."""

    type: Literal["start"]
    stream_id: StreamId
    fs: NotRequired[
        Annotated[float, "Sampling rate in Hz, 50 to 20000; required unless format is beats."]
    ]
    format: NotRequired[
        Annotated[
            SampleFormat,
            "float32 by default; beats: binary frames of float64 beat times in seconds.",
        ]
    ]
    units: NotRequired[Annotated[Units, "mV by default."]]
    gain: NotRequired[Annotated[float, "int16 ADC units per mV, 200 by default."]]
    lead: NotRequired[Annotated[str, "The lead analysed (of leads, when given)."]]
    leads: NotRequired[Annotated[list[str], "1 to 12 labels of interleaved leads."]]
    controls: NotRequired[Annotated[list[str], "Modes a steerable source accepts."]]
    acked: NotRequired[
        Annotated[int, "On a resume: the samples of the last ack received; the replies after "
                  "it are sent again, after ready."]
    ]  # fmt: skip
    start_time: NotRequired[
        Annotated[str, "When the first sample was taken, ISO 8601 with a time zone; the "
                  "server's receipt time without it."]
    ]  # fmt: skip
    timing: NotRequired[
        Annotated[BeatTiming, "A beats stream's: how its beats were timed, ecg (R peaks, by "
                  "default) or pulse (a pulse sensor: the AF model for its timing noise)."]
    ]  # fmt: skip


class JsonSamples(TypedDict):
    """A frame of samples as a JSON text frame, for streams whose format is ``json``."""

    samples: Annotated[list[float | None], "In the stream's units; null: missing."]


class Stop(TypedDict):
    """The stream ends: open episodes are closed."""

    type: Literal["stop"]


# ----------------------------------------------------------------- server to client
class Ready(TypedDict):
    """Reply to ``start``: how many samples of this stream id the server has consumed."""

    type: Literal["ready"]
    stream_id: StreamId
    samples: int
    resumed: bool
    hop_s: int
    window_s: int


class Ack(TypedDict):
    """Last line of every reply to a frame: the samples consumed so far."""

    type: Literal["ack"]
    samples: int


class End(TypedDict):
    """Last line of the reply to ``stop``."""

    type: Literal["end"]
    samples: int


class Control(TypedDict):
    """A dashboard asks a steerable source to switch mode; other keys are the mode's
    parameters."""

    type: Literal["control"]
    mode: str


# ----------------------------------------------------------------- server to dashboards
class Display(TypedDict):
    """Samples to draw: every lead cleaned at 125 Hz, and the new R peaks; for a beats stream,
    its new beats with their RR intervals and AF calls, and no samples."""

    type: Literal["display"]
    stream_id: StreamId
    t: Annotated[float, "Stream time of the first sample."]
    fs: float
    lead: str
    leads: Annotated[dict[str, list[float | None]], "Samples in mV per lead; null: missing."]
    peaks: Annotated[list[float], "Stream times of the R peaks, in s."]
    beats: Annotated[
        list[tuple[float, Literal["N", "S", "V", "F", "Q"]]],
        "[time, AAMI class] of the beats classified since the last frame; a beat's class "
        "comes up to ~3 s after its peak.",
    ]
    rr_ms: NotRequired[
        Annotated[
            list[float | None],
            "A beats stream's: the RR interval ending at each of peaks (null after a gap).",
        ]
    ]
    af: NotRequired[Annotated[list[bool], "A beats stream's: each of peaks called AF."]]


class WatchedWindow(Window):
    """A ``window`` line of a watched stream."""

    stream_id: StreamId


class WatchedEventOpen(EventOpen):
    """An ``event_open`` line of a watched stream."""

    stream_id: StreamId


class WatchedEvent(Event):
    """An ``event`` line of a watched stream."""

    stream_id: StreamId


class WatchedGap(Gap):
    """A ``gap`` line of a watched stream."""

    stream_id: StreamId


class TrendPoint(TypedDict):
    """One recent window of a stream, for a dashboard's trend."""

    t_end: Seconds
    heart_rate_bpm: float | None
    label: Label
    probabilities: Probabilities
    usable: bool


class HistoryPoint(TypedDict):
    """One minute of a stream, for its trend from the start."""

    t_end: Seconds
    heart_rate_bpm: Annotated[float | None, "Mean of the minute's usable windows."]
    label: Annotated[Label, "The minute's most frequent label."]
    usable: Annotated[float, "Share of usable windows."]
    beats: Annotated[BeatClasses | None, "The minute's beats by class."]


class Alarm(TypedDict):
    """An alarm of a stream (see docs/alarms.md)."""

    id: int
    stream_id: StreamId
    kind: Literal["asystole", "vt", "af", "pause", "bradycardia", "tachycardia", "hr_low",
                  "hr_high", "leads_off", "no_signal", "noise", "disconnected"]  # fmt: skip
    priority: Literal["high", "medium", "technical"]
    technical: bool
    text: Annotated[str, "The alarm in words, as a station shows it."]
    state: Literal["active", "latched", "ended"]
    acknowledged: bool
    start_s: Seconds
    end_s: Seconds | None
    started_at: Annotated[str | None, "Clock time, ISO 8601 with the time zone."]
    ended_at: str | None
    ack_by: str | None
    ack_at: str | None
    detail: Annotated[dict[str, float | bool | None], "Measures: rate, RR, beats, confidence."]


class AlarmSettings(TypedDict):
    """A bed's heart-rate limits and its silence and pause (clock times, or null)."""

    hr_low: float | None
    hr_high: float | None
    silenced_until: str | None
    paused_until: str | None


class StreamInfo(TypedDict):
    """What a dashboard needs to start drawing a stream."""

    stream_id: StreamId
    fs: float
    leads: list[str]
    lead: str
    source: Annotated[
        Literal["ecg", "beats"], "beats: a beat-time stream (drawn as an RR tachogram)."
    ]
    timing: Annotated[
        BeatTiming, "pulse: a beats stream whose beats a pulse sensor timed; ecg otherwise."
    ]
    controls: list[str]
    mode: str | None
    state: StreamState
    since: Annotated[float, "Unix time the stream started."]
    last_frame_age_s: float
    window: Annotated[Window | None, "The last window."]
    events: Annotated[list[Event], "The last closed episodes."]
    trend: Annotated[list[TrendPoint], "The recent windows."]
    history: Annotated[list[HistoryPoint], "A point a minute since the stream started."]
    alarms: Annotated[list[Alarm], "Shown now: active or latched, most urgent first."]
    open_events: Annotated[list[EventOpen], "Episodes in progress."]
    alarm_settings: AlarmSettings
    start_time: Annotated[str | None, "When the stream's first sample was taken."]
    inop: Annotated[str | None, "Why the numerics are not valid now (a technical alarm)."]


class Streams(TypedDict):
    """First message to a dashboard: the token's streams."""

    type: Literal["streams"]
    streams: list[StreamInfo]


class StreamChanged(TypedDict):
    """A stream started, resumed, disconnected or ended."""

    type: Literal["stream"]
    stream: StreamInfo


class WatchedAlarm(TypedDict):
    """An alarm was raised, ended, latched or acknowledged."""

    stream_id: StreamId
    type: Literal["alarm"]
    alarm: Alarm


class Ward(TypedDict):
    """A ward-wide silence or pause changed."""

    type: Literal["ward"]
    silenced_until: str | None
    paused_until: str | None


class Dropped(TypedDict):
    """This dashboard fell behind and missed ``messages`` messages."""

    type: Literal["dropped"]
    messages: int


#: Messages that may carry keys beyond the declared ones (a control's mode parameters).
EXTENSIBLE: tuple[type, ...] = (Control,)
#: Client to server on ``/v1/stream`` (text frames).
CLIENT_MESSAGES: tuple[type, ...] = (Start, JsonSamples, Stop)
#: Server to client on ``/v1/stream``, besides the engine's messages.
SERVER_MESSAGES: tuple[type, ...] = (Ready, Ack, End, Control)
#: Server to dashboards on ``/v1/watch``.
WATCH_MESSAGES: tuple[type, ...] = (
    Streams,
    StreamChanged,
    Display,
    WatchedWindow,
    WatchedEventOpen,
    WatchedEvent,
    WatchedGap,
    WatchedAlarm,
    Ward,
    Dropped,
)
