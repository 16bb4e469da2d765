"""The server: ``cardiostream serve``.

:func:`create_app` builds the FastAPI application (REST ``/v1/predict``, WebSocket
``/v1/stream``, the records API over the Parquet store, ``/metrics``, ``/healthz``);
:func:`run` serves it with uvicorn.

The streams' engine is a process started with ``spawn``, which imports the main module again:
a script that calls :func:`run` must do so under ``if __name__ == "__main__":``.
"""

from __future__ import annotations

from cardiostream.serve.app import create_app
from cardiostream.serve.config import TOKEN_ENV, ServeConfig, new_token


def run(config: ServeConfig, port: int = 8000, log_level: str = "warning") -> None:
    """Serve ``config`` on ``config.host:port`` until interrupted."""
    import gc

    import uvicorn

    # Fewer collector passes: with a thousand connections alive each pass costs milliseconds,
    # which land in the round trip of whichever frame is in flight.
    gc.freeze()
    gc.set_threshold(100_000, 50, 50)

    # No per-message compression: ECG samples hardly compress, and zlib on every small frame
    # costs more CPU than the engine's work at a thousand streams.
    uvicorn.run(create_app(config), host=config.host, port=port, log_level=log_level,
                ws_max_size=4 * 1024 * 1024, ws_per_message_deflate=False)  # fmt: skip


__all__ = ["TOKEN_ENV", "ServeConfig", "create_app", "new_token", "run"]
