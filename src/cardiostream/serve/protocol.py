"""The WebSocket protocol of ``/v1/stream``, and sample decoding shared with ``/v1/predict``.

Client to server
    1. A text frame ``{"type": "start", "stream_id": "bed-12", "fs": 250, "format":
       "float32", "units": "mV", "lead": "II"}``. ``format`` is ``float32`` or ``int16``
       (little-endian binary frames) or ``json`` (text frames ``{"samples": [...]}``);
       ``units`` is ``mV``, ``uV`` or ``V``; int16 samples are ADC units, divided by ``gain``
       (units per mV, default 200). ``stream_id``: 1-100 letters, digits and ``. _ -``.
    2. Frames of samples, at most ``max_frame_samples`` each. NaN marks a missing sample.
    3. Optionally ``{"type": "stop"}``: the stream ends, open episodes are closed.
Server to client
    - ``{"type": "ready", "stream_id", "samples", "resumed", "hop_s", "window_s"}`` after the
      start message; ``samples`` is how many the server has consumed of this stream id (more
      than 0 when a disconnected stream is resumed: send from there).
    - For every frame, one text message of JSON lines: the objects the frame completes
      (``window``, ``event_open``, ``event``, ``gap``; see ``DESIGN.md``), one per line, and
      last ``{"type": "ack", "samples": n}``, the total consumed: a client that keeps what it
      sent until acknowledged loses nothing. (One message rather than one per object halves
      the sends, which is what the web process spends its time on.)
    - After ``stop``: one message with the closing events and ``{"type": "end", "samples":
      n}`` last, then a normal close (1000).
Close codes (with a reason)
    1008 no or wrong token; 1003 malformed start message or frame, wrong sample format, or
    samples the engine refuses; 1009 a frame over the size limit; 1013 the server is at its
    stream limit or the id is already connected; 1011 an internal error. A stream closed
    for a bad frame keeps its state and can be resumed; the server goes on serving the rest.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from cardiostream.errors import InputError

FORMATS: dict[str, np.dtype[Any] | None] = {
    "float32": np.dtype("<f4"),
    "int16": np.dtype("<i2"),
    "json": None,
}
UNITS = {"mV": 1.0, "uV": 1e-3, "µV": 1e-3, "V": 1e3}
_STREAM_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")

CLOSE_NORMAL = 1000
CLOSE_BAD_DATA = 1003
CLOSE_POLICY = 1008
CLOSE_TOO_BIG = 1009
CLOSE_ERROR = 1011
CLOSE_TRY_LATER = 1013


@dataclass(frozen=True)
class StreamFormat:
    """How a stream's samples are encoded."""

    fs: float
    format: str = "float32"
    units: str = "mV"
    gain: float = 200.0

    def decode_bytes(self, data: bytes) -> npt.NDArray[np.float64]:
        """Binary samples to mV (float64)."""
        dtype = FORMATS[self.format]
        if dtype is None:
            raise InputError("frame: this stream sends JSON samples, not binary frames")
        if len(data) % dtype.itemsize:
            raise InputError(
                f"frame: {len(data)} bytes is not a whole number of {self.format} samples"
            )
        x = np.frombuffer(data, dtype).astype(np.float64)
        return self._scale(x)

    def decode_list(self, values: Any) -> npt.NDArray[np.float64]:
        """JSON samples (numbers, or null for a missing one) to mV."""
        if not isinstance(values, list):
            raise InputError("samples: expected a JSON array of numbers")
        try:
            x = np.array([np.nan if v is None else v for v in values], np.float64)
        except (TypeError, ValueError):
            raise InputError("samples: expected numbers (or null for a missing sample)") from None
        if x.ndim != 1:
            raise InputError("samples: expected a flat array of numbers")
        return self._scale(x)

    def _scale(self, x: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        if self.format == "int16":
            return x / self.gain
        factor = UNITS[self.units]
        return x * factor if factor != 1.0 else x


def parse_start(msg: Any) -> tuple[str, StreamFormat, str]:
    """Check a start message; return the stream id, its format and its lead label."""
    if not isinstance(msg, dict) or msg.get("type") != "start":
        raise InputError('start: the first message must be {"type": "start", ...}')
    stream_id = msg.get("stream_id")
    if not isinstance(stream_id, str) or not _STREAM_ID.fullmatch(stream_id):
        raise InputError("stream_id: 1-100 letters, digits and . _ - expected")
    fmt = parse_format(msg.get("fs"), msg.get("format", "float32"), msg.get("units", "mV"),
                       msg.get("gain", 200.0))  # fmt: skip
    lead = msg.get("lead", "ECG")
    if not isinstance(lead, str) or not 0 < len(lead) <= 32:
        raise InputError("lead: expected a short label such as 'II'")
    return stream_id, fmt, lead


def parse_format(fs: Any, fmt: Any, units: Any, gain: Any) -> StreamFormat:
    """Check a sampling rate, sample format, units and gain."""
    if isinstance(fs, bool) or not isinstance(fs, int | float) or not math.isfinite(fs):
        raise InputError(f"fs: expected a sampling rate in Hz, got {fs!r}")
    if not 50 <= fs <= 20_000:
        raise InputError(f"fs: expected 50 to 20000 Hz, got {fs:g}")
    if fmt not in FORMATS:
        raise InputError(f"format: expected one of {', '.join(FORMATS)}, got {fmt!r}")
    if units not in UNITS:
        raise InputError(f"units: expected mV, uV or V, got {units!r}")
    if (
        isinstance(gain, bool)
        or not isinstance(gain, int | float)
        or not (math.isfinite(gain) and gain > 0)
    ):
        raise InputError(f"gain: expected a positive number of ADC units per mV, got {gain!r}")
    return StreamFormat(float(fs), str(fmt), str(units), float(gain))
