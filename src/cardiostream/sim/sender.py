"""Stream a live source to a server's ``/v1/stream``, and obey its control lines.

The client side of :mod:`cardiostream.serve.protocol`, in the terms of :mod:`cardiostream.wire`:
a start message, float32 frames in lock-step with the server's replies (one message of JSON
lines per frame, the ``ack`` last), and ``{"type": "stop"}`` at the end, also when cancelled.
Samples are kept until acknowledged; when the connection drops the sender reconnects with
backoff and resends from what the server's ``ready`` says it has consumed, so nothing is lost
or sent twice. A refused token (close 1008) or a refused stream (1003, 1009) raises at once
instead of retrying. A reconnect's start message says the ``start_time`` of the first sample
not acknowledged: a server that restarted, and so starts the stream afresh from that sample,
keeps the stream's clock times right (one that still has the stream keeps its own clock).

Control lines
    A reply line ``{"type": "control", "mode": "af", ...params}`` (a dashboard or
    ``cardiostream control`` posted it; the server forwards it in the stream's next reply)
    calls ``source.set_mode("af", **params)`` when the source can switch. ``controls`` lists
    the modes offered; the start message carries it as ``"controls"``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import time
from collections import deque
from collections.abc import AsyncGenerator, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from cardiostream import wire
from cardiostream.errors import InputError
from cardiostream.sim.sources import Controllable, LiveSource, chunks

#: Keys of a control line that are not parameters of the mode.
_ENVELOPE = ("type", "mode", "stream_id")
#: Seconds to wait for the server's ``end`` after ``stop``.
STOP_TIMEOUT_S = 5.0
MAX_BACKOFF_S = 10.0


class StreamRefused(ConnectionError):
    """The server refused the stream for good; ``code`` and ``reason`` are its close frame's."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(f"the server refused the stream (close {code}): {reason}")
        self.code = code
        self.reason = reason


class TokenRefused(StreamRefused):
    """The server did not accept the token (close 1008)."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(code, reason)
        self.args = (f"the server refused the token (close {code}): {reason}",)


@dataclass
class SendResult:
    """How a :func:`send` went.

    Attributes
    ----------
    sent : int
        Samples (rows) read from the source and sent.
    acknowledged : int
        Samples the server acknowledged.
    connections : int
        Connections made (more than 1 after reconnecting).
    ended : bool
        Whether the server answered the stop with its ``end``.
    """

    sent: int = 0
    acknowledged: int = 0
    connections: int = 0
    ended: bool = False


@dataclass
class _Link:
    """Samples kept until acknowledged, counted from this sender's first sample."""

    base: int | None = None  # the server's count at our first sample
    pending: deque[tuple[int, npt.NDArray[np.float32]]] = field(default_factory=deque)
    result: SendResult = field(default_factory=SendResult)

    def resume(self, consumed: int) -> None:
        if self.base is None:
            self.base = consumed  # a stream id the server knows goes on from there
        ours = consumed - self.base
        if ours < self.result.acknowledged:
            # The server forgot the stream (restarted, or the resume window passed): it starts
            # a new one, from the first sample it has not acknowledged.
            self.base, ours = consumed - self.result.acknowledged, self.result.acknowledged
        elif ours > self.result.sent:  # someone else fed this id meanwhile
            self.base, ours = consumed - self.result.sent, self.result.sent
        self.acked(ours)

    def acked(self, ours: int) -> None:
        self.result.acknowledged = max(self.result.acknowledged, ours)
        while self.pending:
            start, x = self.pending[0]
            if start + len(x) > ours:
                if start < ours:  # partly consumed: keep the rest
                    self.pending[0] = (ours, x[ours - start :])
                break
            self.pending.popleft()


def clock_text(epoch: float) -> str:
    """Epoch seconds as ISO 8601 in the local time zone (with its offset), to the
    millisecond: a start message's ``start_time``."""
    from datetime import datetime

    return datetime.fromtimestamp(epoch).astimezone().isoformat(timespec="milliseconds")


def _close_code(exc: Exception) -> tuple[int, str]:
    rcvd = getattr(exc, "rcvd", None)
    return (
        (rcvd.code, rcvd.reason) if rcvd is not None else (wire.CLOSE_ABNORMAL, "connection lost")
    )


def connection_lost(exc: Exception, url: str) -> str:
    """Why a connection to ``url`` failed, in words, when trying again may help.

    Raises
    ------
    TokenRefused, StreamRefused
        When the server refused the token or the stream for good.
    InputError
        For a URL that is not one.
    Exception
        ``exc`` itself when it is not a connection failure.
    """
    from websockets.exceptions import ConnectionClosed, InvalidStatus, InvalidURI

    if isinstance(exc, ConnectionClosed):
        code, reason = _close_code(exc)
        if code == wire.CLOSE_POLICY:
            raise TokenRefused(code, reason) from None
        if code in wire.CLOSE_REFUSED:
            raise StreamRefused(code, reason) from None
        return f"close {code}: {reason}" if reason else f"close {code}"
    if isinstance(exc, InvalidURI):
        raise InputError(f"url: {exc}") from None
    if isinstance(exc, InvalidStatus):
        status = exc.response.status_code
        if status in (401, 403):
            raise TokenRefused(wire.CLOSE_POLICY, f"HTTP {status}") from None
        raise StreamRefused(wire.CLOSE_PROTOCOL, f"HTTP {status} from {url}") from None
    if isinstance(exc, OSError | TimeoutError):
        return str(exc) or type(exc).__name__
    raise exc


async def reconnect_after(
    why: str, failures: int, max_retries: int | None, status: Callable[[str], None]
) -> int:
    """Wait out the backoff after a lost connection (``failures`` in a row, 0 when the last
    one got going); return ``failures``.

    Raises
    ------
    StreamRefused
        When there have been more than ``max_retries`` failures in a row.
    """
    if max_retries is not None and failures > max_retries:
        raise StreamRefused(
            wire.CLOSE_ABNORMAL, f"gave up after {failures} failed attempts ({why})"
        )
    delay = min(0.5 * 2 ** max(failures - 1, 0), MAX_BACKOFF_S)
    status(f"connection lost ({why}); reconnecting in {delay:g} s")
    await asyncio.sleep(delay)
    return failures


async def send(
    source: LiveSource,
    url: str,
    *,
    token: str | None,
    stream_id: str,
    fs: float | None = None,
    leads: Sequence[str] | None = None,
    chunk_s: float = 0.25,
    speed: float = 1.0,
    controls: Sequence[str] | None = None,
    stop_after_s: float | None = None,
    on_item: Callable[[dict[str, Any]], None] | None = None,
    on_status: Callable[[str], None] | None = None,
    max_retries: int | None = None,
) -> SendResult:
    """Stream ``source`` to ``url`` (``ws://host:port/v1/stream``) until it ends, ``stop_after_s``
    seconds of signal have gone, or the task is cancelled; then send ``stop``.

    Parameters
    ----------
    source : LiveSource
        A :class:`~cardiostream.sim.Simulator`, a :class:`~cardiostream.sim.Playback`, ...
    url : str
        The server's stream endpoint.
    token : str or None
        Bearer token (sent in the ``Authorization`` header); None for a server without auth.
    stream_id : str
        The stream's id; the same id resumes a dropped stream.
    fs : float, optional
        The rate announced; must be the source's (default).
    leads : sequence of str, optional
        Lead labels (default: the source's); the first is the one analysed.
    chunk_s, speed : float
        Seconds of signal per frame, and how much faster than real time (``inf``: at once).
    controls : sequence of str, optional
        Modes the source offers to control lines (announced in the start message).
    stop_after_s : float, optional
        Seconds of signal after which to stop.
    on_item : callable, optional
        Called with every object the server sends (windows, events, acks, controls, end).
    on_status : callable, optional
        Called with a line of text on connecting, reconnecting and refused controls.
    max_retries : int, optional
        Failed connection attempts in a row before giving up (default: never give up).

    Returns
    -------
    SendResult

    Raises
    ------
    TokenRefused
        When the server refuses the token.
    StreamRefused
        When it refuses the start message or the frames, or after ``max_retries``.
    InputError
        For bad arguments (rate or leads that do not match the source).
    """
    rate = float(source.fs if fs is None else fs)
    if rate != source.fs:
        raise InputError(f"fs: {rate:g} Hz announced, but the source plays at {source.fs:g} Hz")
    labels = list(source.leads if leads is None else leads)
    if not labels:
        raise InputError("leads: expected at least one lead label")
    start: dict[str, Any] = {"type": wire.START, "stream_id": stream_id, "fs": rate,
                             "format": wire.FRAME_FORMAT, "units": "mV"}  # fmt: skip
    if len(labels) == 1:
        start["lead"] = labels[0]
    else:
        start["leads"], start["lead"] = labels, labels[0]
    if controls is not None:
        start["controls"] = list(controls)
    # A live source says when its first sample was taken: alarms and the log show clock time
    # from it (a replay at full speed has no clock of its own).
    began = time.time() if math.isfinite(speed) else None
    if began is not None:
        start["start_time"] = clock_text(began)
    headers = wire.auth_headers(token)
    status = on_status or (lambda text: None)
    session = _Session(source, labels, controls, on_item, status, rate, began)
    gen = chunks(source, chunk_s, realtime=math.isfinite(speed), speed=speed,
                 duration_s=stop_after_s)  # fmt: skip
    failures = 0
    try:
        while True:
            why = await session.connect(url, headers, start, gen)
            if why is None:
                return session.link.result
            failures = await reconnect_after(
                why, 0 if session.made_progress else failures + 1, max_retries, status
            )
    finally:
        await gen.aclose()


class _Session:
    """One sender's connections, one after another."""

    def __init__(
        self,
        source: LiveSource,
        labels: list[str],
        controls: Sequence[str] | None,
        on_item: Callable[[dict[str, Any]], None] | None,
        status: Callable[[str], None],
        fs: float = 0.0,
        began: float | None = None,
    ) -> None:
        self.source = source
        self.fs = fs
        #: When our first sample was taken (epoch s; None: no clock, a replay at full speed).
        self.began = began
        self.n_leads = len(labels)
        self.controls = None if controls is None else set(controls)
        self.on_item = on_item
        self.status = status
        self.link = _Link()
        self.made_progress = False

    async def connect(
        self,
        url: str,
        headers: dict[str, str],
        start: dict[str, Any],
        gen: AsyncGenerator[npt.NDArray[np.float32], None],
    ) -> str | None:
        """Connect and stream; None when done, else why the connection was lost.

        Raises
        ------
        StreamRefused, TokenRefused
            When the server refuses for good.
        """
        from websockets.asyncio.client import connect
        from websockets.exceptions import ConnectionClosed, InvalidStatus, InvalidURI

        self.made_progress = False
        try:
            async with connect(url, additional_headers=headers, compression=None,
                               open_timeout=10, close_timeout=2) as ws:  # fmt: skip
                self.link.result.connections += 1
                await self._stream(ws, start, gen)
                return None
        except (ConnectionClosed, InvalidURI, InvalidStatus, OSError, TimeoutError) as exc:
            return connection_lost(exc, url)

    async def _stream(
        self, ws: Any, start: dict[str, Any], gen: AsyncGenerator[npt.NDArray[np.float32], None]
    ) -> None:
        from websockets.protocol import State

        finished = False
        if self.link.base is not None:  # a resume: the replies after our last ack come again
            start = {**start, "acked": self.link.base + self.link.result.acknowledged}
            if self.began is not None and self.fs > 0:
                # A server that lost the stream (it restarted) starts a new one at our first
                # unacknowledged sample: that sample's time is the new stream's clock. A
                # server that still has the stream resumes it and keeps its own clock.
                later = self.link.result.acknowledged / self.fs
                start["start_time"] = clock_text(self.began + later)
        try:
            await ws.send(json.dumps(start))
            ready = json.loads(await ws.recv())
            if not isinstance(ready, dict) or ready.get("type") != wire.READY:
                raise StreamRefused(
                    wire.CLOSE_PROTOCOL, f"expected a ready message, got {str(ready)[:80]}"
                )
            self.link.resume(int(ready["samples"]))
            self.made_progress = True
            if ready.get("resumed"):
                self.status(f"resumed at sample {ready['samples']}")
            elif self.link.result.connections > 1:
                self.status("reconnected as a new stream (the server had let the old one go)")
            else:
                self.status("connected")
            for _, x in list(self.link.pending):  # what the server had not consumed
                await self._push(ws, x)
            async for x in gen:
                x = self._check(x)
                self.link.pending.append((self.link.result.sent, x))
                self.link.result.sent += len(x)
                await self._push(ws, x)
            await self._stop(ws)
            finished = True
        finally:
            if not finished and ws.state is State.OPEN:
                # Cancelled, or a callback failed: close the stream properly all the same.
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(self._stop(ws), STOP_TIMEOUT_S)

    def _check(self, x: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        width = 1 if x.ndim == 1 else x.shape[1]
        if width != self.n_leads:
            raise InputError(f"leads: the source gives {width} leads, {self.n_leads} announced")
        return x

    async def _push(self, ws: Any, x: npt.NDArray[np.float32]) -> None:
        await ws.send(wire.encode_frame(x))
        self._handle(await ws.recv())

    async def _stop(self, ws: Any) -> None:
        await ws.send(json.dumps({"type": wire.STOP}))
        while not self.link.result.ended:
            self._handle(await ws.recv())

    def _handle(self, message: str | bytes) -> None:
        text = message.decode() if isinstance(message, bytes) else message
        for line in text.splitlines():
            if not line.strip():
                continue
            obj = json.loads(line)
            kind = obj.get("type") if isinstance(obj, dict) else None
            if kind in (wire.ACK, wire.END) and self.link.base is not None:
                self.link.acked(int(obj["samples"]) - self.link.base)
                self.link.result.ended |= kind == wire.END
            elif kind == wire.CONTROL:
                self._control(obj)
            if self.on_item is not None and isinstance(obj, dict):
                self.on_item(obj)

    def _control(self, obj: dict[str, Any]) -> None:
        mode = obj.get("mode")
        if not isinstance(self.source, Controllable):
            self.status(f"control {mode!r} ignored: this source cannot switch modes")
            return
        if not isinstance(mode, str) or (self.controls is not None and mode not in self.controls):
            self.status(f"control {mode!r} ignored: not one of the offered modes")
            return
        params = {k: v for k, v in obj.items() if k not in _ENVELOPE}
        try:
            self.source.set_mode(mode, **params)
        except InputError as exc:
            self.status(f"control {mode!r} refused: {exc}")
        else:
            self.status(f"mode {mode}" + (f" {params}" if params else ""))
