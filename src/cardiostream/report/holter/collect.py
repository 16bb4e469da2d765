"""One pass of the engine over a recording, keeping what a Holter report needs.

:func:`collect` pushes a :class:`~cardiostream.record.Record`'s lead through one
:class:`~cardiostream.stream.StreamProcessor` in blocks (as
:func:`cardiostream.stream.analyze` does: the results do not depend on the blocks) with its
beat log on, and keeps per window only a few numbers (a day is 86,400 windows: their dicts
are dropped block by block), the closed events and every decided beat.
"""

from __future__ import annotations

import gc
import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import numpy.typing as npt

from cardiostream.dsp.quality import REASONS
from cardiostream.errors import InputError
from cardiostream.record import Record
from cardiostream.rhythm.verdict import LABELS
from cardiostream.stream.messages import Event, Message
from cardiostream.stream.processor import StreamProcessor

#: The reasons a window's ``quality.reasons`` may hold, in the bit order of
#: :attr:`Collected.reasons` (the quality reasons, then the verdict's own).
REASON_BITS: tuple[str, ...] = (*REASONS, "low_confidence", "paced")
#: Shortest recording accepted, seconds: a report needs at least a few minutes.
MIN_DURATION_S = 60.0


@dataclass
class Collected:
    """What one pass of the engine gave, in compact arrays.

    Attributes
    ----------
    name, source : str
        The record's name and the file (or description) it came from.
    fs : float
        Its sampling rate.
    lead : str
        The analysed lead's name; ``leads`` all of them.
    duration_s : float
        Seconds of signal.
    hop_s : float
        Seconds each window stands for.
    t_end : ndarray of float64
        Each window's end, seconds from the start.
    hr : ndarray of float64
        Its heart rate (NaN where none: an unusable window has none).
    label : ndarray of int8
        Index of its ``label`` in :data:`cardiostream.rhythm.verdict.LABELS`.
    usable : ndarray of bool
        ``quality.usable``.
    reasons : ndarray of int64
        ``quality.reasons`` as bits of :data:`REASON_BITS`.
    events : list of Event
        The closed events (AF and arrhythmias), in the order emitted.
    beat_t, beat_p : ndarray of float64
        Every decided beat's time and the probability of its class.
    beat_label : ndarray of str
        Its AAMI letter.
    beat_broken : ndarray of bool
        The signal was interrupted since the beat before it.
    engine_s : float
        Seconds spent in the engine.
    models : dict of str to str
        ``rhythm_model`` and ``beat_model`` ids.
    """

    name: str
    source: str
    fs: float
    lead: str
    leads: list[str]
    duration_s: float
    hop_s: float
    t_end: npt.NDArray[np.float64]
    hr: npt.NDArray[np.float64]
    label: npt.NDArray[np.int8]
    usable: npt.NDArray[np.bool_]
    reasons: npt.NDArray[np.int64]
    events: list[Event]
    beat_t: npt.NDArray[np.float64]
    beat_label: npt.NDArray[np.str_]
    beat_p: npt.NDArray[np.float64]
    beat_broken: npt.NDArray[np.bool_]
    engine_s: float
    models: dict[str, str] = field(default_factory=dict)


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:12]


def model_ids(proc: StreamProcessor) -> dict[str, str]:
    """Ids of the models ``proc`` loaded: its folder's name and a hash of the weights."""
    folder = Path(proc.model_folder)
    weights = folder / "rhythm.npz"
    rhythm = _digest(weights.read_bytes()) if weights.is_file() else "unknown"
    beat_doc = json.dumps(proc.beat_classifier.model.to_dict(), sort_keys=True)
    return {
        "rhythm_model": f"{folder.name}:{rhythm}",
        "beat_model": f"beats:{_digest(beat_doc.encode())}",
    }


class _Windows:
    """Per-window columns, grown block by block."""

    def __init__(self) -> None:
        self.t: list[float] = []
        self.hr: list[float] = []
        self.label: list[int] = []
        self.usable: list[bool] = []
        self.reasons: list[int] = []
        self._label_code = {k: i for i, k in enumerate(LABELS)}
        self._bit = {k: 1 << i for i, k in enumerate(REASON_BITS)}

    def add(self, lines: list[Message], events: list[Event]) -> None:
        nan = float("nan")
        for m in lines:
            if m["type"] == "window":
                self.t.append(m["t_end"])
                hr = m["heart_rate_bpm"]
                self.hr.append(nan if hr is None else hr)
                self.label.append(self._label_code[m["label"]])
                q = m["quality"]
                self.usable.append(q["usable"])
                self.reasons.append(sum(self._bit.get(r, 0) for r in q["reasons"]))
            elif m["type"] == "event":
                events.append(m)


def collect(
    record: Record,
    *,
    lead: int | str = 0,
    source: str = "",
    block_s: float = 600.0,
    progress: Callable[[float], None] | None = None,
) -> Collected:
    """Run ``record``'s lead through the engine once (see the module notes).

    Parameters
    ----------
    record : Record
        The recording.
    lead : int or str
        Lead index or name.
    source : str
        The file as given, for the report's header.
    block_s : float
        Seconds pushed at a time.
    progress : callable, optional
        Called with the seconds done after every block.

    Returns
    -------
    Collected

    Raises
    ------
    InputError
        For a lead that does not exist or a recording shorter than :data:`MIN_DURATION_S`.
    """
    signal = record.lead(lead)
    lead_name = record.leads[lead] if isinstance(lead, int) else str(lead)
    duration = signal.size / record.fs
    if duration < MIN_DURATION_S:
        raise InputError(
            f"{record.name}: {duration:.0f} s of signal; a Holter report needs at least "
            f"{MIN_DURATION_S:.0f} s"
        )
    proc = StreamProcessor(record.fs, keep_beats=True)
    step = max(int(block_s * proc.fs), 1)
    windows = _Windows()
    events: list[Event] = []
    # As in analyze: the collector's passes over the growing results cost more than the engine.
    collecting = gc.isenabled()
    gc.disable()
    engine = 0.0
    try:
        for lo in range(0, signal.size, step):
            t = time.perf_counter()
            lines = proc.push(signal[lo : lo + step])
            engine += time.perf_counter() - t
            windows.add(lines, events)
            if progress is not None:
                progress(min(lo + step, signal.size) / proc.fs)
        log = proc.beat_log
        assert log is not None  # keep_beats=True
        beats = (log.t_s, log.label, log.p, log.broken)
        t = time.perf_counter()
        lines = proc.flush()
        engine += time.perf_counter() - t
        windows.add(lines, events)
    finally:
        if collecting:
            gc.enable()
    return Collected(
        name=record.name,
        source=source or record.name,
        fs=float(record.fs),
        lead=lead_name,
        leads=list(record.leads),
        duration_s=duration,
        hop_s=float(proc.hop_s),
        t_end=np.asarray(windows.t, np.float64),
        hr=np.asarray(windows.hr, np.float64),
        label=np.asarray(windows.label, np.int8),
        usable=np.asarray(windows.usable, bool),
        reasons=np.asarray(windows.reasons, np.int64),
        events=events,
        beat_t=beats[0],
        beat_label=beats[1],
        beat_p=beats[2],
        beat_broken=beats[3],
        engine_s=engine,
        models=model_ids(proc),
    )


def as_record(obj: Record | str | Path) -> tuple[Record, str]:
    """A record and the source it came from, reading a file (or bundled sample) by path."""
    if isinstance(obj, Record):
        return obj, str(obj.meta.get("source", obj.name))
    from cardiostream.io import read

    path = Path(obj)
    try:
        return read(path), str(obj)
    except InputError:
        raise
    except (OSError, ValueError) as exc:
        raise InputError(f"{path}: cannot be read ({exc})") from None
