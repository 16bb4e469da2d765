"""The names and numbers of the ``/v1/stream`` and ``/v1/watch`` WebSocket protocol.

One place for what the server, the sender (:mod:`cardiostream.sim.sender`) and the load
test (:mod:`cardiostream.evaluate.bench.serve`) must agree on: message types, close codes,
the binary frame layout and where a token travels. The messages themselves are described
in :mod:`cardiostream.serve.protocol`.

This module imports numpy only, so that clients need no web framework.
"""

from __future__ import annotations

from typing import Final

import numpy as np
import numpy.typing as npt

# Message types: client to server.
START: Final = "start"
STOP: Final = "stop"

# Message types: server to client (the analysis lines are typed in cardiostream.stream.messages).
READY: Final = "ready"
ACK: Final = "ack"
END: Final = "end"
CONTROL: Final = "control"
WINDOW: Final = "window"
EVENT: Final = "event"
EVENT_OPEN: Final = "event_open"
GAP: Final = "gap"
#: What dashboards draw of a frame; never sent to the stream's own client.
DISPLAY: Final = "display"

# Close codes (RFC 6455). The server sends these with a reason.
CLOSE_NORMAL: Final = 1000
CLOSE_BAD_DATA: Final = 1003
CLOSE_POLICY: Final = 1008
CLOSE_TOO_BIG: Final = 1009
CLOSE_ERROR: Final = 1011
CLOSE_TRY_LATER: Final = 1013
# Never sent by the server: what a client reports for a failed handshake or a lost link.
CLOSE_PROTOCOL: Final = 1002
CLOSE_ABNORMAL: Final = 1006
#: Close codes after which sending the same stream again is pointless.
CLOSE_REFUSED: Final = frozenset({CLOSE_BAD_DATA, CLOSE_TOO_BIG})

#: The start message's ``format`` for binary frames of :data:`FRAME_DTYPE`.
FRAME_FORMAT: Final = "float32"
#: Binary frames of a ``float32`` stream: little-endian, leads interleaved sample by sample.
FRAME_DTYPE: Final = np.dtype("<f4")

#: Environment variable holding the access token(s), comma-separated: the server accepts
#: each, a client presents the first.
TOKEN_ENV: Final = "CARDIOSTREAM_TOKEN"
#: Query parameter carrying the token (browsers cannot set WebSocket headers).
TOKEN_QUERY: Final = "token"
#: Header carrying ``Bearer <token>``, which takes precedence over the query parameter.
TOKEN_HEADER: Final = "Authorization"
TOKEN_SCHEME: Final = "Bearer"


def encode_frame(x: npt.ArrayLike) -> bytes:
    """Samples in mV (``[n]`` or ``[n, leads]``) as one binary ``float32`` frame."""
    return np.ascontiguousarray(x, dtype=FRAME_DTYPE).tobytes()


def auth_headers(token: str | None) -> dict[str, str]:
    """The headers that present ``token`` (none without one)."""
    return {TOKEN_HEADER: f"{TOKEN_SCHEME} {token}"} if token else {}


def bearer_token(header: str) -> str | None:
    """The token of an ``Authorization`` header value, or None if it is not a bearer one."""
    prefix = TOKEN_SCHEME.lower() + " "
    return header[len(prefix) :].strip() if header.lower().startswith(prefix) else None


#: The ``format`` of a beat-time stream's start message: binary frames of float64 beat times
#: in seconds (little-endian), not samples.
BEATS_FORMAT = "beats"
#: The ``timing`` a beat-time stream's start may say: beats timed from R peaks (the
#: default) or from a pulse wave (a PPG watch, a pulse oximeter).
BEAT_TIMINGS = ("ecg", "pulse")
