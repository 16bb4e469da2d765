"""Stream beat times to a server's ``/v1/stream`` as a beat-time stream (``"format": "beats"``).

The beat-time counterpart of :func:`cardiostream.sim.sender.send`: a start message with
``"format": "beats"``, then each beat as a little-endian float64 time in seconds, sent when its
time comes (paced at real time, or ``speed`` times faster; beats due together go in one frame),
in lock-step with the server's replies, and ``stop`` at the end (also when cancelled). Beats
are kept until acknowledged: when the connection drops, the sender reconnects with backoff and
goes on from the beat the server's ``ready`` says it has, so nothing is lost or sent twice. A
refused token (1008) or stream (1003, 1009) raises at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from cardiostream import wire
from cardiostream.beats.af_rr import check_beat_times
from cardiostream.errors import InputError
from cardiostream.sim.sender import (
    STOP_TIMEOUT_S,
    SendResult,
    StreamRefused,
    connection_lost,
    reconnect_after,
)

#: Most beats in one frame (a replay at full speed sends them this many at a time).
MAX_FRAME_BEATS = 256


def looped(times: npt.NDArray[np.float64], loop: bool) -> Iterator[float]:
    """The beat times, once or over and over: each round shifted to begin one mean interval
    after the last beat of the round before (the clock never goes back)."""
    if times.size == 0:
        return
    period = float(times[-1] - times[0]) + (
        float(np.mean(np.diff(times))) if times.size > 1 else 1.0
    )
    shift = 0.0
    while True:
        for t in times.tolist():
            yield t + shift
        if not loop:
            return
        shift += period


@dataclass
class _Beats:
    """The beats to send, the server's count at our first, and what it acknowledged."""

    times: Iterator[float]
    kept: list[float]  # sent, not yet acknowledged
    stop: bool = True  # send stop at the end
    base: int | None = None
    result: SendResult | None = None

    def __post_init__(self) -> None:
        self.result = SendResult()


async def send_beats(
    beat_times_s: npt.ArrayLike,
    url: str,
    *,
    token: str | None,
    stream_id: str,
    speed: float = 1.0,
    loop: bool = False,
    stop_after_s: float | None = None,
    on_item: Callable[[dict[str, Any]], None] | None = None,
    on_status: Callable[[str], None] | None = None,
    max_retries: int | None = None,
    stop: bool = True,
    timing: str = "ecg",
) -> SendResult:
    """Stream beat times to ``url`` (``ws://host:port/v1/stream``) as a beats stream.

    Parameters
    ----------
    beat_times_s : array_like of float
        Beat times in seconds (strictly increasing, from 0 or later): the stream's clock.
    url, token, stream_id
        As :func:`cardiostream.sim.sender.send`.
    speed : float
        How much faster than real time (``inf``: at once).
    loop : bool
        Start again after the last beat (the clock going on) until cancelled.
    stop_after_s : float, optional
        Stop after this many seconds of beats (from the first).
    on_item, on_status, max_retries
        As :func:`cardiostream.sim.sender.send`.
    stop : bool
        Send ``stop`` at the end (the server closes the stream and its episodes); False
        leaves without it, so that a later sender of the same id resumes the stream.
    timing : {"ecg", "pulse"}
        How the beats were timed: from R peaks, or by a pulse sensor (the server then judges
        them with its pulse model).

    Returns
    -------
    SendResult
        ``sent`` and ``acknowledged`` count beats.

    Raises
    ------
    TokenRefused, StreamRefused
        When the server refuses the token, the stream or its beats.
    InputError
        For bad beat times or arguments.
    """
    times = check_beat_times(beat_times_s)
    if times.size and times[0] < 0:
        raise InputError("beat_times_s: times must be 0 or later (seconds on the stream's clock)")
    if not speed > 0:
        raise InputError(f"speed: must be positive, got {speed!r}")
    if timing not in wire.BEAT_TIMINGS:
        raise InputError(f"timing: expected one of {', '.join(wire.BEAT_TIMINGS)}, got {timing!r}")
    start: dict[str, Any] = {
        "type": wire.START,
        "stream_id": stream_id,
        "format": wire.BEATS_FORMAT,
    }
    if timing != "ecg":  # said only when not the default: an ECG-timed start is as it was
        start["timing"] = timing
    if math.isfinite(speed):
        from datetime import datetime

        start["start_time"] = datetime.now().astimezone().isoformat(timespec="milliseconds")
    status = on_status or (lambda text: None)
    first = float(times[0]) if times.size else 0.0
    end = math.inf if stop_after_s is None else first + stop_after_s
    state = _Beats((t for t in looped(times, loop) if t <= end), [], stop=stop)
    clock = _Clock(first, speed)
    failures = 0
    while True:
        why, progress = await _connect(url, wire.auth_headers(token), start, state, clock,
                                       on_item, status)  # fmt: skip
        assert state.result is not None
        if why is None:
            return state.result
        failures = await reconnect_after(why, 0 if progress else failures + 1, max_retries, status)


class _Clock:
    """When each beat is due: ``(t - first) / speed`` after the first beat was sent."""

    def __init__(self, first: float, speed: float) -> None:
        self.first, self.speed = first, speed
        self.start: float | None = None

    async def wait(self, t: float) -> None:
        if not math.isfinite(self.speed):
            await asyncio.sleep(0)
            return
        loop = asyncio.get_running_loop()
        if self.start is None:
            self.start = loop.time()
        await asyncio.sleep(max(self.start + (t - self.first) / self.speed - loop.time(), 0.0))


async def _connect(
    url: str,
    headers: dict[str, str],
    start: dict[str, Any],
    state: _Beats,
    clock: _Clock,
    on_item: Callable[[dict[str, Any]], None] | None,
    status: Callable[[str], None],
) -> tuple[str | None, bool]:
    """One connection: (None, _) when done, else (why it was lost, whether it got going)."""
    from websockets.asyncio.client import connect
    from websockets.exceptions import ConnectionClosed, InvalidStatus, InvalidURI
    from websockets.protocol import State

    result = state.result
    assert result is not None
    progress = False
    try:
        async with connect(url, additional_headers=headers, compression=None,
                           open_timeout=10, close_timeout=2) as ws:  # fmt: skip
            result.connections += 1
            finished = False
            try:
                # A reconnect says the same start_time: beat times are on the stream's own
                # clock, so a server that lost the stream and starts it afresh gets the beats
                # not acknowledged at their first times, and the first start_time is right.
                first = start
                if state.base is not None:
                    first = {**start, "acked": state.base + result.acknowledged}
                await ws.send(json.dumps(first))
                ready = json.loads(await ws.recv())
                if not isinstance(ready, dict) or ready.get("type") != wire.READY:
                    raise StreamRefused(wire.CLOSE_PROTOCOL, f"expected ready, got {ready!s:.80}")
                _resume(state, int(ready["samples"]))
                progress = True
                status("resumed" if ready.get("resumed") else "connected")
                if state.kept:
                    await _push(ws, state, list(state.kept), on_item)
                batch: list[float] = []
                for t in state.times:
                    if math.isfinite(clock.speed):  # paced: each beat as its time comes
                        await clock.wait(t)
                        await _push(ws, state, [t], on_item, fresh=True)
                        continue
                    batch.append(t)
                    if len(batch) >= MAX_FRAME_BEATS:
                        await _push(ws, state, batch, on_item, fresh=True)
                        batch = []
                if batch:
                    await _push(ws, state, batch, on_item, fresh=True)
                if state.stop:
                    await _stop(ws, state, on_item)
                finished = True
                return None, progress
            finally:
                if not finished and state.stop and ws.state is State.OPEN:
                    with contextlib.suppress(Exception):
                        await asyncio.wait_for(_stop(ws, state, on_item), STOP_TIMEOUT_S)
    except (ConnectionClosed, InvalidURI, InvalidStatus, OSError, TimeoutError) as exc:
        return connection_lost(exc, url), progress


def _resume(state: _Beats, consumed: int) -> None:
    result = state.result
    assert result is not None
    if state.base is None:
        state.base = consumed
    ours = consumed - state.base
    if ours < result.acknowledged or ours > result.sent:
        # The server forgot the stream, or another client fed the id: count from here.
        state.base, ours = consumed - result.acknowledged, result.acknowledged
    _acked(state, ours)


def _acked(state: _Beats, ours: int) -> None:
    result = state.result
    assert result is not None
    done = max(ours - result.acknowledged, 0)
    del state.kept[:done]
    result.acknowledged = max(result.acknowledged, ours)


async def _push(
    ws: Any,
    state: _Beats,
    beats: list[float],
    on_item: Callable[[dict[str, Any]], None] | None,
    fresh: bool = False,
) -> None:
    result = state.result
    assert result is not None
    if fresh:
        state.kept += beats
        result.sent += len(beats)
    await ws.send(np.asarray(beats, "<f8").tobytes())
    _handle(await ws.recv(), state, on_item)


async def _stop(ws: Any, state: _Beats, on_item: Callable[[dict[str, Any]], None] | None) -> None:
    result = state.result
    assert result is not None
    await ws.send(json.dumps({"type": wire.STOP}))
    while not result.ended:
        _handle(await ws.recv(), state, on_item)


def _handle(
    message: str | bytes, state: _Beats, on_item: Callable[[dict[str, Any]], None] | None
) -> None:
    result = state.result
    assert result is not None
    text = message.decode() if isinstance(message, bytes) else message
    for line in text.splitlines():
        if not line.strip():
            continue
        obj = json.loads(line)
        kind = obj.get("type") if isinstance(obj, dict) else None
        if kind in (wire.ACK, wire.END) and state.base is not None:
            _acked(state, int(obj["samples"]) - state.base)
            result.ended |= kind == wire.END
        if on_item is not None and isinstance(obj, dict):
            on_item(obj)
