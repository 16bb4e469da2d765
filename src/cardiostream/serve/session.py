"""One live stream as the engine keeps it: its processor, progress and recording buffer."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from cardiostream.serve.display import DisplayFilter
from cardiostream.stream.processor import StreamProcessor

Key = tuple[str, str]  # (token owner, stream id)


@dataclass
class Session:
    """One live stream: its processor, what it has consumed, its recording buffer."""

    owner: str
    stream_id: str
    fs: float
    processor: StreamProcessor
    leads: tuple[str, ...] = ("ECG",)
    lead: int = 0  # index in leads of the analysed one
    consumed: int = 0  # samples processed and acknowledged
    connected: bool = False
    left_at: float = 0.0  # monotonic time of the last disconnect
    recorded: list[npt.NDArray[np.float32]] = field(default_factory=list)
    recorded_n: int = 0
    part: int = 0
    display: dict[int, DisplayFilter] = field(default_factory=dict)  # the other leads'
