"""The engine's output lines as types: one definition for code, JSON Schema and AsyncAPI.

:class:`~cardiostream.stream.StreamProcessor` emits :data:`Message` objects (``window``,
``event_open``, ``event``, ``gap``), plain dicts that go to JSON unchanged;
``cardiostream analyze --format jsonl`` writes a :class:`RecordLine` before each record's
lines when it analyses several. The server's own messages are in
:mod:`cardiostream.stream.protocol_messages`. :mod:`cardiostream.stream.schema` turns these
types into the published JSON Schema.

Conventions
    Times are seconds on the stream's clock, rounded to 3 decimals. A measure that could not
    be computed is ``None`` (JSON ``null``), never NaN. Keys marked ``NotRequired`` may be
    absent; no other key is ever present, so a client may rely on the key set.
"""

# No ``from __future__ import annotations``: on Python 3.11 a TypedDict reads NotRequired
# when the class is created, which string annotations hide from it.
from collections.abc import Mapping, Sequence
from typing import Annotated, Any, Literal, NotRequired, TypeAlias, TypedDict, cast

from cardiostream.dsp.quality import Reason

#: Version of the message contract: any change to a message, added keys included, bumps it.
SCHEMA_VERSION = "4"

#: A class of the rhythm model, as :data:`cardiostream.rhythm.verdict.CLASSES`.
RhythmClass: TypeAlias = Literal["normal", "af", "other", "noise"]
#: A label a user sees, as :data:`cardiostream.rhythm.verdict.LABELS`.
Label: TypeAlias = Literal["normal", "af", "other", "noise", "uncertain"]
#: Why a window is uncertain: the quality reasons, then the verdict's own, then a beat-time
#: stream's (:mod:`cardiostream.stream.beat_stream`).
QualityReason: TypeAlias = Literal[Reason, "low_confidence", "paced", "few_beats", "beat_gap"]
#: Why an AF episode closed other than by the ``close_after`` rule.
CloseReason: TypeAlias = Literal["gap", "end_of_stream", "max_duration"]

Seconds: TypeAlias = Annotated[float, "Seconds on the stream's clock."]

#: What the tracker raises as episodes, in the order findings list them.
Kind: TypeAlias = Literal[
    "vt",
    "idioventricular_rhythm",
    "svt",
    "ventricular_bigeminy",
    "ventricular_trigeminy",
    "asystole",
    "pause",
    "bradycardia",
    "tachycardia",
    "sinus_tachycardia",
    "paced_rhythm",
]
#: Counted ectopy, reported in findings only.
CountKind: TypeAlias = Literal["veb", "veb_couplet", "sveb", "sveb_couplet"]
#: Why an episode closed other than by its own rule.
ArrhythmiaCloseReason: TypeAlias = Literal["gap", "end_of_stream", "signal_unusable"]
#: What an episode is: AF (from the rhythm verdicts) or an arrhythmia from the beats
#: (:mod:`cardiostream.stream.arrhythmia`).
EventKind: TypeAlias = Literal["af", Kind]


class Detail(TypedDict, total=False):
    """Measures of an episode; which keys appear depends on its kind (module notes)."""

    n_beats: int
    rate_bpm: float | None
    sustained: bool
    n_cycles: int
    rr_s: float
    high: bool


class Finding(TypedDict):
    """Something present in the window ending at ``t_end``."""

    kind: Literal[Kind, CountKind]
    confidence: float | None
    count: NotRequired[int]
    detail: NotRequired[Detail]


class Probabilities(TypedDict):
    """Calibrated class probabilities of a window (6 decimals), summing to 1."""

    normal: float
    af: float
    other: float
    noise: float


class Hrv(TypedDict):
    """Heart-rate variability over the window's confirmed beats (null: too few beats, or an
    unusable window)."""

    mean_rr_ms: float | None
    sdnn_ms: float | None
    rmssd_ms: float | None
    pnn50: Annotated[float | None, "Share of successive RR differences above 50 ms."]


class Quality(TypedDict):
    """Signal quality of a window."""

    usable: bool
    reasons: Annotated[list[QualityReason], "Empty for a usable, confident window."]
    score: Annotated[float, "From 0 (unusable) to 1."]


class BeatClasses(TypedDict):
    """How many of a window's beats have each AAMI class, counting the beats whose class is
    final by the window's end (up to ~3 s after the beat): N normal or bundle-branch block,
    S supraventricular ectopic, V ventricular ectopic, F fusion, Q paced, unclassifiable or
    on unusable signal."""

    N: int
    S: int
    V: int
    F: int
    Q: int


class Window(TypedDict):
    """One window verdict, every ``hop_s`` seconds once ``window_s`` seconds are in.

    ``heart_rate_bpm`` and the ``hrv`` measures are null when the window has too few beats
    or is not usable (``quality.usable`` false); ``n_beats`` is always given."""

    type: Literal["window"]
    t_start: Seconds
    t_end: Seconds
    label: Annotated[Label, "raw_label, or uncertain when the signal does not support it."]
    raw_label: Annotated[RhythmClass, "The most probable class."]
    probabilities: Probabilities
    heart_rate_bpm: float | None
    hrv: Hrv
    n_beats: int
    beat_classes: BeatClasses
    beat_totals: Annotated[
        BeatClasses,
        "Beats counted since the stream started, by class (beats of unusable windows as Q): "
        "the difference between two windows is the beats between them (an hour's ectopy).",
    ]
    findings: Annotated[
        list[Finding],
        "The arrhythmias present in the window: open or recent episodes, counted ectopy.",
    ]
    quality: Quality
    source: NotRequired[
        Annotated[
            Literal["beats"],
            "Present on a beat-time stream's windows (from beat times alone: no beat classes, "
            "no findings); absent on an ECG stream's.",
        ]
    ]


#: What ``episode_start_s`` of an AF segment means.
CONTINUES = (
    "AF only, when the tracker's max_duration_s is set: this segment continues an episode cut "
    "at max_duration_s; the start_s of its first segment. Count the episode once."
)


class EventOpen(TypedDict):
    """An episode has begun (an AF one has lasted ``min_duration_s``): exactly one ``event``
    of the same kind and start follows."""

    type: Literal["event_open"]
    kind: EventKind
    start_s: Seconds
    confidence: Annotated[
        float | None,
        "AF: its probability over the episode so far; a run or pattern of beats: the mean "
        "probability of its beats' classes; null for pauses, asystole and rates.",
    ]
    detail: NotRequired[Annotated[Detail, "Measures of an arrhythmia; never for AF."]]
    episode_start_s: NotRequired[Annotated[float, CONTINUES]]


class Event(TypedDict):
    """A closed episode: AF from the start of its first AF window to the end of its last; an
    arrhythmia from its first beat (or window) to its last."""

    type: Literal["event"]
    kind: EventKind
    start_s: Seconds
    end_s: Seconds
    confidence: Annotated[float | None, "As in event_open, over the whole episode."]
    detail: NotRequired[Annotated[Detail, "Measures of an arrhythmia; never for AF."]]
    episode_start_s: NotRequired[Annotated[float, CONTINUES]]
    reason: NotRequired[
        Annotated[
            CloseReason | ArrhythmiaCloseReason,
            "Absent when the episode ended by its own rule (AF: non-AF windows).",
        ]
    ]


class Gap(TypedDict):
    """A jump in the stream's time: filled with missing samples, or a restart."""

    type: Literal["gap"]
    t_start: Seconds
    t_end: Seconds
    action: Literal["filled", "restart"]


class RecordLine(TypedDict):
    """In ``analyze --format jsonl`` over several records: the lines after it are this
    record's."""

    type: Literal["record"]
    record: str


#: What the arrhythmia tracker emits: the same episode messages as AF's.
ArrhythmiaEventOpen: TypeAlias = EventOpen
ArrhythmiaEvent: TypeAlias = Event
ArrhythmiaMessage: TypeAlias = EventOpen | Event

#: What :class:`~cardiostream.stream.StreamProcessor` emits.
Message: TypeAlias = Window | EventOpen | Event | Gap
#: What an AF episode tracker emits.
EpisodeMessage: TypeAlias = EventOpen | Event
#: A line of ``cardiostream analyze --format jsonl``.
AnalysisLine: TypeAlias = Message | RecordLine

#: The engine's messages, in the order the schema lists them.
ENGINE_MESSAGES: tuple[type, ...] = (Window, EventOpen, Event, Gap, RecordLine)


def as_dicts(messages: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The messages typed as the plain dicts they are, for callers that take
    ``dict[str, Any]`` (which a ``TypedDict`` is not, to a type checker)."""
    return cast("list[dict[str, Any]]", messages)
