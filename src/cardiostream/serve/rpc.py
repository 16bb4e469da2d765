"""What the web process may ask of the engine process: typed requests and their replies.

:class:`Engine` is the interface the engine process serves (the
:class:`~cardiostream.serve.hub.Hub` implements it). The web process never names an
operation by string: it sends one of the request tuples below (built by
:class:`~cardiostream.serve.batcher.EngineClient`), and :func:`dispatch` maps each request
type to its method through one ``match``. Requests are named tuples: they pickle as small as
the plain tuples they replace, which matters with hundreds of them in every batch.

A batch is a list of requests; its reply is one :data:`Reply` per request, in order, the
number of connected streams, and the streams the engine dropped since the last batch (their
resume window passed). :func:`answer` turns the engine's exceptions into replies and
:func:`unwrap` turns them back into exceptions in the web process, so one stream's failure
never costs the others.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal, NamedTuple, Protocol

from cardiostream.errors import InputError
from cardiostream.stream.messages import Window

#: Objects a frame completes, as (type, JSON text): serialised in the engine, not the web loop.
Lines = list[tuple[str, str]]


class EngineError(RuntimeError):
    """The engine process failed or went away."""


class Resumable(Protocol):
    """What a kept stream says of itself for a resume (a session, a gateway stream)."""

    connected: bool
    source: str
    timing: str
    fs: float
    leads: tuple[str, ...]
    lead: int


def check_resume(
    old: Resumable,
    stream_id: str,
    source: str,
    fs: float,
    leads: Sequence[str],
    lead: int,
    timing: str = "ecg",
) -> None:
    """Refuse to resume ``old`` when it is still connected (OverflowError) or was started
    otherwise (InputError); the embedded engine and the gateway refuse alike."""
    if old.connected:
        raise OverflowError(f"stream_id: {stream_id!r} is already connected")
    if old.source != source:
        kind = "an ECG" if old.source == "ecg" else "a beat-time"
        raise InputError(f"format: {stream_id!r} was started as {kind} stream")
    if old.timing != timing:
        raise InputError(f"timing: {stream_id!r} was started with {old.timing}-timed beats")
    if old.fs != fs:
        raise InputError(f"fs: {stream_id!r} was started at {old.fs:g} Hz, not {fs:g}")
    if old.leads != tuple(leads) or old.lead != lead:
        raise InputError(f"leads: {stream_id!r} was started with other leads")


class Opened(NamedTuple):
    """A stream started or resumed."""

    consumed: int  # samples the engine has of this stream id already
    resumed: bool
    hop_s: int  # the stream's processor: seconds between windows
    window_s: int  # and the length of each window
    began: str = ""  # when the stream began (its recordings are named by it)


class Pushed(NamedTuple):
    """A frame processed."""

    lines: Lines
    consumed: int  # samples of the stream processed so far
    #: The stream's state after this frame, every few seconds of signal (None otherwise):
    #: what :meth:`Engine.restore` takes to bring the stream back after an engine crash.
    checkpoint: bytes | None


class Engine(Protocol):
    """The live streams of the server (see :class:`~cardiostream.serve.hub.Hub`)."""

    def open(
        self,
        owner: str,
        stream_id: str,
        fs: float,
        leads: tuple[str, ...],
        lead: int,
        source: str = "ecg",
        timing: str = "ecg",
    ) -> Opened: ...

    def push(self, owner: str, stream_id: str, samples: bytes) -> Pushed: ...

    def close(self, owner: str, stream_id: str) -> tuple[Lines, int]: ...

    def disconnect(self, owner: str, stream_id: str) -> None: ...

    def expire(self) -> None: ...

    def predict(
        self, fs: float, samples: bytes, job: str = "", part: int = 0, last: bool = True
    ) -> list[Window]: ...

    def watch(self, owner: str, on: bool) -> None: ...

    def n_connected(self) -> int: ...

    def save_all(self) -> None: ...

    def restore(
        self,
        open: Open,
        checkpoint: bytes | None,
        frames: Sequence[bytes],
        connected: bool,
        began: str = "",
    ) -> int: ...

    def recover(self) -> list[str]: ...

    def gone(self) -> list[tuple[str, str]]: ...

    def tick(self) -> None: ...


class Open(NamedTuple):
    """:meth:`Engine.open`: ``source`` is ``ecg`` (samples) or ``beats`` (beat times);
    ``timing`` (a beats stream's) is ``ecg`` (R peaks) or ``pulse`` (a pulse sensor)."""

    owner: str
    stream_id: str
    fs: float
    leads: tuple[str, ...]
    lead: int
    source: str = "ecg"
    timing: str = "ecg"


class Push(NamedTuple):
    """:meth:`Engine.push`: one frame as float64 bytes (samples, or a beats stream's beat
    times)."""

    owner: str
    stream_id: str
    samples: bytes


class Close(NamedTuple):
    """:meth:`Engine.close`."""

    owner: str
    stream_id: str


class Disconnect(NamedTuple):
    """:meth:`Engine.disconnect`."""

    owner: str
    stream_id: str


class Expire(NamedTuple):
    """:meth:`Engine.expire`."""


class Predict(NamedTuple):
    """:meth:`Engine.predict`: a stretch of one lead as float64 bytes, whole or one part of
    a long one (``job`` names it; its parts come in order, ``last`` ends it)."""

    fs: float
    samples: bytes
    job: str = ""
    part: int = 0
    last: bool = True


class Watch(NamedTuple):
    """:meth:`Engine.watch`."""

    owner: str
    on: bool


class Restore(NamedTuple):
    """:meth:`Engine.restore`: a stream as the web process last knew it."""

    open: Open
    checkpoint: bytes | None
    frames: tuple[bytes, ...]  # pushed after the checkpoint, in order
    connected: bool
    began: str = ""


class Recover(NamedTuple):
    """:meth:`Engine.recover`: turn the recordings of streams no longer live into records."""


Request = Open | Push | Close | Disconnect | Expire | Predict | Watch | Restore | Recover

#: How a request went: ``ok`` (the value is the result), ``input`` (an InputError),
#: ``busy`` (an OverflowError), ``error`` (anything else); the value is then the message.
Status = Literal["ok", "input", "busy", "error"]
Reply = tuple[Status, Any]


def dispatch(engine: Engine, request: Request) -> Any:
    """Run one request on ``engine``.

    Raises
    ------
    TypeError
        When ``request`` is not one of the request types (mypy rejects it beforehand).
    """
    match request:
        case Push(owner, stream_id, samples):
            return engine.push(owner, stream_id, samples)
        case Open(owner, stream_id, fs, leads, lead, source, timing):
            return engine.open(owner, stream_id, fs, leads, lead, source, timing)
        case Close(owner, stream_id):
            return engine.close(owner, stream_id)
        case Disconnect(owner, stream_id):
            return engine.disconnect(owner, stream_id)
        case Expire():
            return engine.expire()
        case Predict(fs, samples, job, part, last):
            return engine.predict(fs, samples, job, part, last)
        case Watch(owner, on):
            return engine.watch(owner, on)
        case Restore(open, checkpoint, frames, connected, began):
            return engine.restore(open, checkpoint, frames, connected, began)
        case Recover():
            return engine.recover()
    raise TypeError(f"not an engine request: {type(request).__name__}")


def answer(engine: Engine, batch: Sequence[Request]) -> list[Reply]:
    """The replies to a batch, in order."""
    replies: list[Reply] = []
    for request in batch:
        try:
            replies.append(("ok", dispatch(engine, request)))
        except InputError as exc:
            replies.append(("input", str(exc)))
        except OverflowError as exc:
            replies.append(("busy", str(exc)))
        except Exception as exc:  # one stream's failure must not stop the others
            replies.append(("error", f"{type(exc).__name__}: {exc}"))
    return replies


def unwrap(reply: Reply) -> Any:
    """The result of a reply, or the exception it stands for raised.

    Raises
    ------
    InputError, OverflowError, EngineError
        As the engine said.
    """
    status, value = reply
    if status == "ok":
        return value
    if status == "input":
        raise InputError(value)
    if status == "busy":
        raise OverflowError(value)
    raise EngineError(value)
