"""Live sources as clock-paced async chunks, for the sender, tests and benchmarks."""

from __future__ import annotations

import asyncio
import math
from collections.abc import AsyncGenerator
from typing import Any, Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

from cardiostream.errors import InputError


@runtime_checkable
class LiveSource(Protocol):
    """What :func:`chunks` and :func:`cardiostream.sim.sender.send` play: a rate, lead
    labels, and ``read(n)`` giving the next ``n`` samples (``[n]``, or ``[n, leads]``; fewer,
    or none, when the source has ended)."""

    fs: float
    leads: tuple[str, ...]

    def read(self, n: int) -> npt.NDArray[np.float32]: ...


@runtime_checkable
class Controllable(Protocol):
    """A source whose mode can be switched while it plays (the simulator)."""

    def set_mode(self, mode: str, **params: Any) -> None: ...


async def chunks(
    source: LiveSource,
    chunk_s: float = 0.25,
    realtime: bool = True,
    speed: float = 1.0,
    duration_s: float | None = None,
) -> AsyncGenerator[npt.NDArray[np.float32], None]:
    """Yield the source's samples ``chunk_s`` seconds at a time, paced by the clock.

    Parameters
    ----------
    source : LiveSource
        Read ``round(chunk_s * fs)`` samples at a time.
    chunk_s : float
        Seconds of signal per chunk (0.001 to 60).
    realtime : bool
        Wait for each chunk's last sample to be "acquired": chunk ``k`` is yielded at
        ``start + (k + 1) * chunk_s / speed``. Every due time is counted from the start, so a
        late consumer catches up instead of drifting. False: as fast as consumed.
    speed : float
        How much faster than real time (ignored unless ``realtime``; ``inf`` = no waiting).
    duration_s : float, optional
        Stop after this many seconds of signal (the last chunk is cut to fit).

    Raises
    ------
    InputError
        For a chunk length, speed or duration out of range.
    """
    if not 0.001 <= chunk_s <= 60:
        raise InputError(f"chunk_s: expected 0.001 to 60 s, got {chunk_s!r}")
    if not speed > 0:
        raise InputError(f"speed: must be positive, got {speed!r}")
    if duration_s is not None and not duration_s >= 0:
        raise InputError(f"duration_s: must be positive, got {duration_s!r}")
    step = max(round(chunk_s * source.fs), 1)
    limit = math.inf if duration_s is None else round(duration_s * source.fs)
    pace = realtime and math.isfinite(speed)
    loop = asyncio.get_running_loop()
    start = loop.time()
    sent = 0
    while sent < limit:
        x = source.read(int(min(step, limit - sent)))
        if len(x) == 0:
            return
        sent += len(x)
        if pace:
            delay = start + sent / source.fs / speed - loop.time()
            await asyncio.sleep(max(delay, 0.0))
        else:
            await asyncio.sleep(0)  # let the consumer's peers run
        yield x
