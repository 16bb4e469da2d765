"""The Holter report's numbers: the JSON that ``cardiostream holter --format json`` writes.

Every figure of the HTML and PDF report comes from this one object (schema
:data:`SCHEMA`), so the three formats cannot disagree. Times are seconds from the start of
the recording (``*_s``); ``record.start`` (ISO 8601, or null when the file has no date) turns
them into clock times. Rates are beats per minute, intervals milliseconds, shares fractions
(0-1). A figure the recording cannot support (no analysable hour, fewer than two NN
intervals) is null, never zero.

Definitions (what a cardiologist expects from a Holter report)
    *Analysable* time is the windows whose ``quality.usable`` is true; every count, rate and
    share below is over the beats and windows of analysable time only, and the unusable
    seconds are reported by reason.
    Heart rate min/max are the lowest and highest one-minute mean rates over minutes with at
    least 30 analysable seconds; mean is total analysable beats over analysable minutes.
    Ectopy: an *isolated* ectopic beat has non-ectopic neighbours of the same family
    (ventricular V, supraventricular S); a *couplet* is exactly two in a row; a *run* is
    three or more (the engine's ``vt``/``svt``/``idioventricular_rhythm`` events and slower
    S runs). Bigeminy and trigeminy are the engine's episodes.
    Pauses are RR intervals of 2.0 s or more (``n_2s``), of which ``n_3s`` reach 3.0 s.
    AF burden is AF seconds (windows labelled ``af``, each standing for its hop) over
    analysable seconds; episodes are the engine's AF events.
    HRV follows the 1996 Task Force on normal-to-normal (NN) intervals: intervals between
    two consecutive N beats of analysable time, in 300-2000 ms, excluding every interval
    that touches an ectopic beat or the beat after one. SDNN over the whole recording;
    SDANN the SD of the 5-minute mean NN; SDNN index the mean of the 5-minute SDNNs;
    RMSSD and pNN50 over successive NN pairs; LF (0.04-0.15 Hz), HF (0.15-0.4 Hz) and LF/HF
    the means over 5-minute segments with at least 80 % of their time in NN intervals.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any, Literal, TypedDict

import numpy as np
import numpy.typing as npt

#: The JSON's ``schema`` value; bumped when a field changes meaning or goes away.
SCHEMA = "cardiostream-holter-v1"

StripWhich = Literal["first", "longest", "fastest", "min_hr", "max_hr", "example"]


class Software(TypedDict):
    version: str  # cardiostream.__version__
    rhythm_model: str  # the rhythm model's id (its bundle hash or name)
    beat_model: str  # the beat classifier's id


class RecordInfo(TypedDict):
    name: str
    source: str  # the file (or store record id) as given
    fs: float
    lead: str  # the analysed lead
    leads: list[str]
    device: str | None  # from the file's header where it says, else null
    start: str | None  # ISO 8601 clock time of the first sample, null when unknown
    duration_s: float
    analysable_s: float
    unusable_s: float
    unusable_by_reason: dict[str, float]  # quality reason -> seconds (a window may have two)


class HourRow(TypedDict):
    hour: int  # 0 for the recording's first hour
    start_s: float
    analysable_s: float
    beats: int
    min_bpm: float | None
    mean_bpm: float | None
    max_bpm: float | None
    v_beats: int
    s_beats: int
    af_burden: float | None  # AF share of the hour's analysable seconds
    pauses: int


class HeartRate(TypedDict):
    total_beats: int
    min_bpm: float | None
    min_at_s: float | None  # start of the minute
    mean_bpm: float | None
    max_bpm: float | None
    max_at_s: float | None
    # One point per minute, for the trend plot; null where the minute is not analysable.
    trend_t_s: list[float]  # minute starts
    trend_bpm: list[float | None]


class Run(TypedDict):
    start_s: float
    end_s: float
    n_beats: int
    rate_bpm: float


class Ectopy(TypedDict):
    total: int
    isolated: int
    couplets: int
    runs: int
    longest_run: Run | None
    fastest_run: Run | None
    run_list: list[Run]  # every run, in time order
    bigeminy_episodes: int
    trigeminy_episodes: int
    per_hour_max: int  # the busiest hour's count


class Pause(TypedDict):
    at_s: float  # the beat that starts the pause
    rr_s: float


class Pauses(TypedDict):
    n_2s: int
    n_3s: int
    longest: Pause | None
    pause_list: list[Pause]


class RateEpisode(TypedDict):
    kind: Literal["bradycardia", "tachycardia", "sinus_tachycardia"]
    start_s: float
    end_s: float
    extreme_bpm: float | None  # the lowest (brady) or highest (tachy) window rate in it


class AfEpisode(TypedDict):
    start_s: float
    end_s: float
    duration_s: float
    mean_rate_bpm: float | None  # ventricular rate over its analysable windows
    confidence: float | None
    annotations: list[str]  # the reviewer's notes on it, from the store


class Af(TypedDict):
    burden: float | None  # AF seconds / analysable seconds
    af_s: float
    episodes: list[AfEpisode]
    longest: AfEpisode | None


class Hrv(TypedDict):
    n_nn: int
    sdnn_ms: float | None
    sdann_ms: float | None
    sdnn_index_ms: float | None
    rmssd_ms: float | None
    pnn50: float | None  # a fraction
    lf_ms2: float | None
    hf_ms2: float | None
    lf_hf: float | None
    segments: int  # 5-minute segments that went into the spectral measures


class Strip(TypedDict):
    id: str  # unique in the report, e.g. "af-longest"; keys the strip's samples
    finding: str  # what the strip shows, in words ("AF, longest episode")
    kind: str  # event kind or "heart_rate"
    which: StripWhich
    start_s: float
    duration_s: float  # 10 s unless the finding needs more (at most 30 s)
    hr_bpm: float | None


class Annotation(TypedDict):
    t_s: float
    end_s: float | None
    label: str
    note: str


class Timing(TypedDict):
    engine_s: float  # seconds in StreamProcessor
    total_s: float  # reading, engine and summary; not rendering


class HolterReport(TypedDict):
    schema: str  # SCHEMA
    software: Software
    record: RecordInfo
    findings: list[str]  # the summary sentences at the top, most important first
    heart_rate: HeartRate
    hourly: list[HourRow]
    ventricular: Ectopy
    supraventricular: Ectopy
    pauses: Pauses
    rate_episodes: list[RateEpisode]
    af: Af
    hrv: Hrv
    strips: list[Strip]
    annotations: list[Annotation]
    timing: Timing


@dataclass(frozen=True)
class StripSignal:
    """The samples behind one :class:`Strip` (not in the JSON): what the renderer draws."""

    samples: npt.NDArray[np.float32]  # mV, the strip's span of the analysed lead
    fs: float
    beat_s: npt.NDArray[np.float64]  # beat times from the strip's start
    beat_class: list[str]  # AAMI letter of each beat (N, S, V, F, Q)


def json_safe(value: Any) -> Any:
    """``value`` with NaN and infinity as null, as every JSON of the package has them."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, list):
        return [json_safe(v) for v in value]
    return value


def report_json(report: HolterReport) -> str:
    """The report as ``cardiostream holter --format json`` writes it."""
    return json.dumps(json_safe(report), indent=1, ensure_ascii=False) + "\n"
