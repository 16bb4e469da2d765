"""The engine process: every live stream's computation, away from the web process's loop.

It is started with ``spawn`` by :class:`~cardiostream.serve.batcher.Batcher`, builds a
:class:`~cardiostream.serve.hub.Hub`, compiles its kernels, says ``ready``, and then answers
batches of requests (:mod:`cardiostream.serve.rpc`) until it receives ``None`` (stop: save the
recordings) or its pipe closes.
"""

from __future__ import annotations

import gc
from dataclasses import asdict
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from cardiostream.serve.config import ServeConfig
from cardiostream.serve.rpc import Engine, answer
from cardiostream.stream.warm import warm_up

#: What the engine process sends once it can take requests.
READY = "ready"
_PATHS = ("store", "model")


def settings_of(config: ServeConfig) -> dict[str, Any]:
    """``config`` as plain values, to hand to the engine process."""
    return {k: str(v) if isinstance(v, Path) else v for k, v in asdict(config).items()}


def config_of(settings: dict[str, Any]) -> ServeConfig:
    """The configuration :func:`settings_of` gave."""
    paths = {k: Path(v) if v is not None else None for k, v in settings.items() if k in _PATHS}
    return ServeConfig(**{**settings, **paths})


def serve(conn: Connection, engine: Engine) -> None:
    """Answer batches of requests on ``conn`` until told to stop or the pipe closes.

    Each batch gets one message back: its replies, in order, the streams connected, and the
    streams dropped since the last batch.
    """
    while True:
        try:
            batch = conn.recv()
        except EOFError:
            return
        if batch is None:
            engine.save_all()
            return
        replies = answer(engine, batch)
        engine.tick()
        # What survived the batch (the processors and their state, mostly) leaves the
        # collector's view: a thousand streams' objects made every automatic collection
        # long enough to show in the round trip's tail (p99 142.5 ms at 1,000 streams, 15.9
        # ms so). Plain garbage is still freed by reference counting; cycles are collected
        # by release_memory, which unfreezes first.
        gc.freeze()
        conn.send((replies, engine.n_connected(), engine.gone()))


def main(conn: Connection, settings: dict[str, Any]) -> None:  # pragma: no cover
    """The engine process's entry point (see the module notes)."""
    import signal

    from cardiostream.serve.hub import Hub

    # Ctrl-C reaches the whole process group; the web process decides when the engine stops
    # (after saving recordings), so the engine ignores it rather than dying mid-batch.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    hub = Hub(config_of(settings))
    warm_up(hub.config.model)
    # Streams create no reference cycles worth hunting at every allocation burst; with a
    # thousand processors alive, frequent collections cost tens of milliseconds each.
    gc.freeze()
    gc.set_threshold(100_000, 50, 50)
    conn.send(READY)
    serve(conn, hub)
