"""One live stream as the engine keeps it: its processor, progress and recording part."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from cardiostream import wire
from cardiostream.serve.display import (
    DISPLAY_STEP,
    DisplayCleaner,
    DisplayFilter,
    display_json,
    display_values,
)
from cardiostream.serve.protocol import BEATS_LEAD
from cardiostream.serve.recording import Part
from cardiostream.stream.beat_stream import BeatStreamProcessor
from cardiostream.stream.processor import StreamProcessor

Key = tuple[str, str]  # (token owner, stream id)
#: What analyses a stream: samples (``ecg``) or beat times (``beats``).
Processor = StreamProcessor | BeatStreamProcessor


@dataclass
class Session:
    """One live stream: its processor, what it has consumed, its recording part."""

    owner: str
    stream_id: str
    fs: float  # 0 for a beats stream
    processor: Processor
    leads: tuple[str, ...] = ("ECG",)
    lead: int = 0  # index in leads of the analysed one
    consumed: int = 0  # samples processed and acknowledged
    connected: bool = False
    left_at: float = 0.0  # monotonic time of the last disconnect
    part: int = 0  # the recording part being written
    part_start: int = 0  # the sample index where it began
    checkpoint_at: int = 0  # samples consumed at the last checkpoint
    began: str = ""  # when the stream began, in its recordings' names
    display: dict[int, DisplayFilter] = field(default_factory=dict)  # the other leads'
    shown: DisplayCleaner | None = None  # the analysed lead's display filter
    shown_next: int = -1  # the 250 Hz index the display filters expect next
    source: str = "ecg"  # or "beats": beat times, analysed by a BeatStreamProcessor
    timing: str = "ecg"  # a beats stream's: "pulse" for beats timed by a pulse sensor

    @property
    def records(self) -> bool:
        """Whether the stream's input goes into the recording (samples do, beat times not)."""
        return self.source == "ecg"

    def recording_part(self) -> Part:
        """The recording part being written (see :mod:`cardiostream.serve.recording`)."""
        return Part(self.owner, self.stream_id, self.fs, self.leads, self.lead, self.part,
                    self.part_start, self.began)  # fmt: skip

    def display_line(self, x: npt.NDArray[np.float64], every_lead: bool = True) -> str:
        """What dashboards draw of one frame: every lead cleaned at 125 Hz, the new R peaks and
        the beats whose class was decided (``every_lead`` False: the analysed lead only, all
        the server keeps of a stream no dashboard watches).

        ``t`` is the stream time of the first sample; peaks are stream times in seconds;
        ``beats`` are ``[time, letter]`` pairs (AAMI N, S, V, F, Q) of beats that may have
        been drawn up to ~3 s earlier, on the same clock as ``peaks``. The analysed lead
        is drawn from the samples the processor analysed (its last push, resampled, gaps
        filled), through the display's own band (:mod:`cardiostream.serve.display`), not the
        analysis's 0.5 Hz high-pass, whose overshoot drew a false shelf after each PVC; the
        other leads go through a :class:`DisplayFilter` each.
        """
        proc = self.processor
        if isinstance(proc, BeatStreamProcessor):
            return self.beats_line(proc)
        n0, _, _, _, raw = proc.last_push
        if self.shown is None or n0 != self.shown_next:
            # Not drawn meanwhile (or restarted): new filters, settled on the first sample.
            self.shown = DisplayCleaner()
            self.display.clear()
        self.shown_next = n0 + raw.size
        clean = self.shown.process(raw)
        offset = (-n0) % DISPLAY_STEP  # keep samples of even index: chunks join seamlessly
        if not every_lead:
            # The other leads' filters miss these samples: they start afresh when drawn again.
            self.display.clear()
        leads: dict[str, list[float | None]] = {}
        for i, label in enumerate(self.leads):
            if i == self.lead:
                y = clean
            elif not every_lead:
                continue
            else:
                filt = self.display.get(i)
                if filt is None:
                    filt = self.display[i] = DisplayFilter(self.fs)
                y = filt.process(x[:, i])
                y = np.pad(y, (0, max(clean.size - y.size, 0)))[: clean.size]
            leads[label] = display_values(y, offset)
        t = proc.t0 + (n0 + offset) / 250.0
        peaks, classes = push_marks(proc)
        return display_json(t, self.leads[self.lead], leads, peaks, classes)

    def beats_line(self, proc: BeatStreamProcessor) -> str:
        """What dashboards draw of one frame of a beats stream: the new beats (``peaks``,
        stream times in s) with their RR interval (``rr_ms``, null for the first beat after a
        gap) and AF call (``af``), for the RR tachogram. No samples (``leads`` is empty)."""
        return beats_display_json(*proc.last_beats)


def beats_display_json(times: list[float], rr: list[float | None], af: list[bool]) -> str:
    """A beats stream's display line for the beats of one frame: their times, RR intervals
    (ms, null after a gap) and AF calls (:attr:`BeatStreamProcessor.last_beats`)."""
    return json.dumps(
        {"type": wire.DISPLAY, "t": round(times[0], 4) if times else 0.0, "fs": 0.0,
         "lead": BEATS_LEAD, "leads": {}, "peaks": [round(v, 3) for v in times],
         "beats": [], "rr_ms": rr, "af": af},
        allow_nan=False,
    )  # fmt: skip


def push_marks(proc: StreamProcessor) -> tuple[list[float], list[list[float | str]]]:
    """What a display line draws of the processor's last push besides the trace: its new R
    peaks (stream times, s) and the ``[time, letter]`` beats whose class it decided.

    A worker publishes these for the gateway (:mod:`cardiostream.serve.gateway`), which
    draws the trace itself: both modes' lines carry the same marks.
    """
    _, _, new_peaks, beats, _ = proc.last_push
    peaks = [round(proc.t0 + int(p) / 250.0, 3) for p in new_peaks]
    classes: list[list[float | str]] = [
        [round(proc.t0 + int(r) / proc.fs + proc.beat_classifier.delay_s, 3), str(c)]
        for r, c in zip(beats.sample.tolist(), beats.label.tolist(), strict=True)
    ]
    return peaks, classes
