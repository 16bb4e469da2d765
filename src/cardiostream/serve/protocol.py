"""The WebSocket protocol of ``/v1/stream``, and sample decoding shared with ``/v1/predict``.

Client to server
    1. A text frame ``{"type": "start", "stream_id": "bed-12", "fs": 250, "format":
       "float32", "units": "mV", "lead": "II"}``. ``format`` is ``float32`` or ``int16``
       (little-endian binary frames) or ``json`` (text frames ``{"samples": [...]}``);
       ``units`` is ``mV``, ``uV`` or ``V``; int16 samples are ADC units, divided by ``gain``
       (units per mV, default 200). ``stream_id``: 1-100 letters, digits and ``. _ -``.
       Several leads: ``"leads": ["I", "II", "V1"], "lead": "II"``; frames then interleave
       the leads sample by sample (``[n, 3]`` in row order) and ``lead`` is the one analysed
       (all are recorded and shown to dashboards). A steerable source (a simulator) lists
       the modes it accepts: ``"controls": ["nsr", "af", "noise", "leadoff"]``. A client
       resuming a stream may say the samples of the last ack it received, ``"acked": n``:
       the replies it missed after that ack (the server keeps the last 8) are sent again
       right after ``ready``. Without it, only replies the server could not send are. An
       ``acked`` past the samples the server has of a resumed stream closes it with 1003;
       a stream that starts afresh (``resumed`` false) ignores it.
       ``"start_time": "2026-12-06T09:12:03.120+01:00"`` (ISO 8601 with a time zone) says
       when the first sample was taken: alarms, the log and the dashboards show clock time
       from it (the server's receipt time without it).

       A beat-time stream (a chest strap, a PPG watch, a Holter export) says ``"format":
       "beats"`` instead: ``{"type": "start", "stream_id": "strap-3", "format": "beats"}``
       (``fs``, ``units``, ``gain`` and ``lead`` do not apply and are ignored; ``leads`` is
       refused). Its binary frames are little-endian float64 beat times in seconds on the
       stream's clock, from 0 to 1e9, strictly increasing within and across frames; a NaN,
       an infinity, a negative time or one not after the last beat closes the stream with
       1003 like a bad sample. Every count (``samples`` of ``ready``, ``ack`` and ``end``,
       ``acked``) is then in beats. It gets the same ``window`` and AF ``event_open`` /
       ``event`` lines (see :mod:`cardiostream.stream.beat_stream`): a window each whole
       second once a beat has reached it, from the beats of its last 10 s, with ``"source":
       "beats"``. ``"timing": "pulse"`` says the beats were timed by a pulse sensor (a PPG
       watch, a pulse oximeter), whose 10-30 ms of timing noise the default AF model
       (``"ecg"``, for R peaks) would take for irregularity: the stream is then judged by the
       pulse model (see :func:`cardiostream.beats.af_rr.af_from_beats`). A resume must say
       the same timing; an ECG stream's start may not say one.
    2. Frames of samples, at most ``max_frame_samples`` each. NaN (null in JSON) marks a
       missing sample; an infinity closes the stream with 1003.
    3. Optionally ``{"type": "stop"}``: the stream ends, open episodes are closed.
Server to client
    - ``{"type": "ready", "stream_id", "samples", "resumed", "hop_s", "window_s"}`` after the
      start message; ``samples`` is how many the server has consumed of this stream id (more
      than 0 when a disconnected stream is resumed: send from there).
    - For every frame, one text message of JSON lines: the objects the frame completes
      (``window``, ``event_open``, ``event``, ``gap``; see ``docs/schema/``), one per line, and
      last ``{"type": "ack", "samples": n}``, the total consumed: a client that keeps what it
      sent until acknowledged loses nothing. (One message rather than one per object halves
      the sends, which is what the web process spends its time on.)
    - ``{"type": "control", "mode": "af", ...}`` lines, before the ack, for a source that
      listed ``controls``: a dashboard or ``cardiostream control`` asked it to switch mode.
    - After ``stop``: one message with the closing events and ``{"type": "end", "samples":
      n}`` last, then a normal close (1000).
Close codes (with a reason)
    1008 no or wrong token; 1003 malformed start message or frame (not JSON, a wrong type,
    a number that is NaN where one is needed, infinite or past the float range), wrong sample
    format, or samples the engine refuses; 1009 a frame over the size limit; 1013 the server
    is at its stream limit or the id is already connected; 1002 no start message within the
    start timeout (10 s by default); 1011 an internal error. A stream closed
    for a bad frame keeps its state and can be resumed; the server goes on serving the rest.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from cardiostream import wire
from cardiostream.errors import InputError

#: The ``format`` of a beat-time stream: binary frames of float64 beat times (s).
BEATS = wire.BEATS_FORMAT
#: The lead label of a beats stream, shown where an ECG stream's lead is.
BEATS_LEAD = "beat times"

# The docstring above is served as the AsyncAPI description; the constants that clients share
# (message types, close codes, frame layout, token names) live in cardiostream.wire.

FORMATS: dict[str, np.dtype[Any] | None] = {
    wire.FRAME_FORMAT: wire.FRAME_DTYPE,
    "int16": np.dtype("<i2"),
    "json": None,
    BEATS: np.dtype("<f8"),
}
UNITS = {"mV": 1.0, "uV": 1e-3, "µV": 1e-3, "V": 1e3}
_STREAM_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")

#: Most leads one stream may carry.
MAX_LEADS = 12


@dataclass(frozen=True)
class StreamFormat:
    """How a stream's samples are encoded."""

    fs: float
    format: str = "float32"
    units: str = "mV"
    gain: float = 200.0

    def decode_bytes(self, data: bytes, field: str = "frame") -> npt.NDArray[np.float64]:
        """Binary samples to mV (float64); ``field`` names the data in error messages
        (``frame`` on a stream, ``body`` for ``/v1/predict``).

        A float32 NaN marks a missing sample, as a JSON null does; an infinity is refused,
        as it is in JSON: no device measures one, so it is a broken sender, not a gap.
        """
        dtype = FORMATS[self.format]
        if dtype is None:
            raise InputError(f"{field}: this stream sends JSON samples, not binary frames")
        if len(data) % dtype.itemsize:
            raise InputError(
                f"{field}: {len(data)} bytes is not a whole number of {self.format} samples"
            )
        x = np.frombuffer(data, dtype).astype(np.float64)
        if self.format == BEATS:
            return check_beats(x)
        infinite = np.isinf(x)
        if infinite.any():
            bad = int(np.flatnonzero(infinite)[0])
            raise InputError(
                f"{field}: sample {bad} (of 0 to {x.size - 1}) is infinite "
                "(NaN marks a missing sample)"
            )
        return self._scale(x, field)

    def decode_list(self, values: Any) -> npt.NDArray[np.float64]:
        """JSON samples (numbers, or null for a missing one) to mV."""
        if self.format == BEATS:
            raise InputError("frame: a beats stream sends binary float64 beat times")
        if not isinstance(values, list):
            raise InputError("samples: expected a JSON array of numbers")
        if not all(v is None or _is_number(v) for v in values):
            raise InputError("samples: expected numbers (or null for a missing sample)")
        try:
            x = np.array([np.nan if v is None else v for v in values], np.float64)
        except OverflowError:  # an integer past the float range
            raise InputError("samples: a number past the float range") from None
        if np.isinf(x).any():  # 1e999 and the like; NaN stays: it marks a missing sample
            raise InputError("samples: numbers must be finite (null marks a missing sample)")
        return self._scale(x, "samples")

    def _scale(self, x: npt.NDArray[np.float64], field: str) -> npt.NDArray[np.float64]:
        """Samples in mV, refused (naming ``field``, what the client sent) when no ECG is
        that large: the engine would refuse them too, but naming its own ``chunk``."""
        from cardiostream.rhythm.infer import MAX_ABS_MV

        if self.format == "int16":
            x = x / self.gain
        else:
            factor = UNITS[self.units]
            x = x * factor if factor != 1.0 else x
        with np.errstate(invalid="ignore"):  # NaN (a missing sample) compares False
            big = np.abs(x) > MAX_ABS_MV
        if big.any():
            bad = int(np.flatnonzero(big)[0])
            raise InputError(
                f"{field}: sample {bad} ({x[bad]:.3g} mV) is above {MAX_ABS_MV:g} mV: not an ECG"
            )
        return x


@dataclass(frozen=True)
class Start:
    """A checked start message."""

    stream_id: str
    format: StreamFormat
    #: Labels of the leads in each frame, in order (one unless the start names several).
    leads: tuple[str, ...]
    #: Index in :attr:`leads` of the lead that is analysed.
    lead: int
    #: Modes a source accepts from ``control`` lines (a simulator's), empty for a device.
    controls: tuple[str, ...] = ()
    #: On a resume, the samples of the last ack the client received (None: not said).
    acked: int | None = None
    #: When the stream's first sample was taken (epoch s), from ``start_time`` (ISO 8601
    #: with a time zone); None: not said, the server stamps its receipt.
    start_time: float | None = None
    #: How a beats stream's beats were timed: ``ecg`` (R peaks; every ECG stream) or
    #: ``pulse`` (a pulse sensor).
    timing: str = "ecg"

    @property
    def lead_label(self) -> str:
        return self.leads[self.lead]

    @property
    def source(self) -> str:
        """``beats`` for a beat-time stream, ``ecg`` for samples."""
        return "beats" if self.format.format == BEATS else "ecg"


def _label(value: Any, field: str) -> str:
    if not isinstance(value, str) or not 0 < len(value) <= 32 or not _encodable(value):
        raise InputError(f"{field}: expected a short label such as 'II'")
    return value


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate from a JSON escape
        return False
    return True


def parse_start(msg: Any) -> Start:
    """Check a start message (see the module notes).

    With ``leads`` (a list of up to 12 labels) every frame interleaves that many leads,
    sample by sample, and ``lead`` names the one analysed (the first by default).
    """
    if not isinstance(msg, dict) or msg.get("type") != wire.START:
        raise InputError('start: the first message must be {"type": "start", ...}')
    stream_id = msg.get("stream_id")
    if not isinstance(stream_id, str) or not _STREAM_ID.fullmatch(stream_id):
        raise InputError("stream_id: 1-100 letters, digits and . _ - expected")
    if msg.get("format") == BEATS:
        fmt = StreamFormat(0.0, BEATS, "s")
    else:
        fmt = parse_format(msg.get("fs"), msg.get("format", "float32"), msg.get("units", "mV"),
                           msg.get("gain", 200.0))  # fmt: skip
    controls = _controls(msg.get("controls", []))
    acked = msg.get("acked")
    if acked is not None and (isinstance(acked, bool) or not isinstance(acked, int)
                              or not 0 <= acked < 2**53):  # fmt: skip
        raise InputError(f"acked: expected the samples of the last ack, got {_shown(acked)}")
    start_time = msg.get("start_time")
    if start_time is not None:
        if not isinstance(start_time, str) or len(start_time) > 40:
            raise InputError("start_time: expected ISO 8601 text such as 2026-12-06T09:12:03Z")
        from cardiostream.serve.alarms import parse_clock

        start_time = parse_clock(start_time)
    leads = msg.get("leads")
    timing = msg.get("timing")
    if fmt.format == BEATS:
        if leads is not None:
            raise InputError("leads: a beats stream has no leads (its frames are beat times)")
        if timing is None:
            timing = "ecg"
        elif timing not in wire.BEAT_TIMINGS:
            raise InputError(
                f"timing: expected {' or '.join(wire.BEAT_TIMINGS)} (how the beats were timed), "
                f"got {_shown(timing)}"
            )
        return Start(stream_id, fmt, (BEATS_LEAD,), 0, controls, acked, start_time, timing)
    if timing is not None:
        raise InputError('timing: only a beats stream ("format": "beats") says how its beats '
                         "were timed")  # fmt: skip
    if leads is None:
        label = _label(msg.get("lead", "ECG"), "lead")
        return Start(stream_id, fmt, (label,), 0, controls, acked, start_time)
    if not isinstance(leads, list) or not 1 <= len(leads) <= MAX_LEADS:
        raise InputError(f"leads: expected a list of 1 to {MAX_LEADS} lead labels")
    labels = tuple(_label(v, "leads") for v in leads)
    if len(set(labels)) != len(labels):
        raise InputError("leads: labels must differ")
    lead = msg.get("lead", labels[0])
    if not isinstance(lead, str) or lead not in labels:
        raise InputError(f"lead: {_shown(lead)} is not one of the stream's leads")
    return Start(stream_id, fmt, labels, labels.index(lead), controls, acked, start_time)


def check_beats(x: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """A frame of beat times, checked on its own (finite, 0 to 1e9 s, strictly increasing);
    the engine checks the order against the beats before."""
    from cardiostream.stream.beat_stream import MAX_TIME_S

    if not np.isfinite(x).all():
        bad = int(np.flatnonzero(~np.isfinite(x))[0])
        raise InputError(f"frame: beat time {bad} (of 0 to {x.size - 1}) is not a finite number")
    if x.size and (x.min() < 0 or x.max() > MAX_TIME_S):
        bad = int(np.flatnonzero((x < 0) | (x > MAX_TIME_S))[0])
        raise InputError(f"frame: beat time {bad} ({x[bad]:g} s) is outside 0 to 1e9 s")
    if x.size > 1 and not (np.diff(x) > 0).all():
        bad = int(np.flatnonzero(np.diff(x) <= 0)[0]) + 1
        raise InputError(
            f"frame: beat times must increase strictly: time {bad} ({x[bad]:g} s) is not after "
            f"time {bad - 1} ({x[bad - 1]:g} s)"
        )
    return x


def _controls(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list) or len(value) > 16:
        raise InputError("controls: expected a list of up to 16 mode names")
    for v in value:
        if not isinstance(v, str) or not _STREAM_ID.fullmatch(v) or len(v) > 32:
            raise InputError("controls: mode names are short words such as 'af'")
    return tuple(value)


def parse_format(fs: Any, fmt: Any, units: Any, gain: Any) -> StreamFormat:
    """Check a sampling rate, sample format, units and gain.

    Every refusal is an :class:`~cardiostream.errors.InputError` (close code 1003 on a
    stream, 422 on ``/v1/predict``), whatever the value: NaN, an infinity, an integer past
    the float range, a string or a list.
    """
    rate = _finite(fs)
    if rate is None:
        raise InputError(f"fs: expected a sampling rate in Hz, got {_shown(fs)}")
    if not 50 <= rate <= 20_000:
        raise InputError(f"fs: expected 50 to 20000 Hz, got {_shown(fs)}")
    if not isinstance(fmt, str) or fmt not in FORMATS:
        raise InputError(f"format: expected one of {', '.join(FORMATS)}, got {_shown(fmt)}")
    if not isinstance(units, str) or units not in UNITS:
        raise InputError(f"units: expected mV, uV or V, got {_shown(units)}")
    scale = _finite(gain)
    if scale is None or not scale > 0:
        raise InputError(
            f"gain: expected a positive number of ADC units per mV, got {_shown(gain)}"
        )
    return StreamFormat(rate, fmt, units, scale)


def _is_number(value: Any) -> bool:
    # bool is an int to Python, but true is no sample.
    return isinstance(value, int | float) and not isinstance(value, bool)


def _finite(value: Any) -> float | None:
    """``value`` as a finite float; None for anything else (NaN, infinities, an integer past
    the float range, strings, bools)."""
    if not _is_number(value):
        return None
    try:
        number = float(value)
    except OverflowError:
        return None
    return number if math.isfinite(number) else None


def _shown(value: Any) -> str:
    """A short, printable form of a client's value for an error message: ASCII only (a lone
    surrogate from a JSON escape cannot be encoded into a close reason), at most 40
    characters."""
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > 10**15:
        return "an integer past the float range" if abs(value) > 2**1024 else f"{value:.3g}"
    text = ascii(value)
    return text if len(text) <= 40 else text[:37] + "..."


def loads(text: str) -> Any:
    """Parse a JSON message of a stream; malformed or absurdly nested JSON raises
    :class:`~cardiostream.errors.InputError` (close code 1003)."""
    try:
        return json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise InputError(f"message: not valid JSON ({str(exc).splitlines()[0][:60]})") from None
