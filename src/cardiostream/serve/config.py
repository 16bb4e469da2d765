"""Settings of the server, and its access tokens."""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import math
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

from cardiostream.errors import InputError
from cardiostream.wire import TOKEN_ENV as TOKEN_ENV

#: The variable that gives the tokens allowed to read ``/metrics`` (comma-separated).
METRICS_TOKEN_ENV = "CARDIOSTREAM_METRICS_TOKEN"


@dataclass
class ServeConfig:
    """How the server runs.

    Attributes
    ----------
    tokens : list of str
        Accepted bearer tokens; each one is its own tenant and sees only its own streams.
    auth : bool
        Whether a token is required (``False`` is only allowed on a loopback address).
    host : str
        Address the server is bound to (checked against ``auth``).
    store : path, optional
        The Parquet store served by the records API, and where ``record`` writes.
    record : bool
        Record live streams into the store (in parts of ``record_part_s`` seconds).
    max_streams : int
        Live streams open at once, over all tokens; more are refused (close code 1013).
    max_frame_samples : int
        Samples in one WebSocket frame; a larger frame closes the stream (1009).
    batch_max : int
        Most stream pushes processed in one batch.
    batch_wait_ms : float
        Longest a push waits for others to join its batch.
    resume_ttl_s : float
        How long a disconnected stream's state is kept for the same id to resume it.
    max_predict_s : float
        Longest signal accepted by ``POST /v1/predict``.
    start_timeout_s : float
        How long a ``/v1/stream`` connection may wait before its start message (closed 1002
        after it), so connections that never start do not pile up.
    checkpoint_s : float
        Seconds of signal between a stream's checkpoints, which the web process keeps so
        that a crashed engine can be restarted with every stream where it was.
    record_sync_s : float
        Longest a recorded sample stays in the operating system's cache before it is forced
        to disk (it is written, and survives a killed process, before its frame's ack).
    engine_start_timeout_s : float
        How long the engine process may take to start (it compiles its kernels on the first
        start of an installation) before it is started again.
    max_body_bytes : int
        Largest request body accepted by ``POST /v1/predict`` (413 above it, read no further).
    model : path, optional
        Model folder; the shipped model by default.
    disclosure_s : float
        Seconds of each watched stream's drawn trace the server keeps in memory (full
        disclosure: a reload, a second screen and a printed strip read it); 0 keeps none.
        With ``record``, the whole signal is in the store anyway.
    metrics_tokens : list of str
        Tokens that may read ``/metrics`` (server-wide totals, over every tenant's streams).
        Empty: the first of ``tokens`` (the operator's) may, and no other.
    redis : str, optional
        A Redis URL: the gateway mode, where ECG streams are analysed by ``cardiostream
        worker`` processes (:mod:`cardiostream.serve.gateway`); None: the embedded engine.
    redis_shards : int
        Shards of that deployment, as the workers share them out.
    af_min_s : float
        The shortest AF event of the embedded engine's streams (ECG and beat times), and so
        how long AF lasts before its alarm: :attr:`EventConfig.min_duration_s
        <cardiostream.stream.events.EventConfig.min_duration_s>`, 30 s by default. In the
        gateway mode the workers' own setting applies.
    """

    tokens: list[str] = field(default_factory=list)
    auth: bool = True
    host: str = "127.0.0.1"
    store: Path | None = None
    record: bool = False
    max_streams: int = 2000
    max_frame_samples: int = 20_000
    batch_max: int = 256
    batch_wait_ms: float = 0.5
    resume_ttl_s: float = 300.0
    record_part_s: float = 600.0
    max_predict_s: float = 600.0
    max_body_bytes: int = 64 * 2**20
    start_timeout_s: float = 10.0
    checkpoint_s: float = 15.0
    record_sync_s: float = 1.0
    engine_start_timeout_s: float = 300.0
    model: Path | None = None
    disclosure_s: float = 120.0
    metrics_tokens: list[str] = field(default_factory=list)
    redis: str | None = None
    redis_shards: int = 8
    af_min_s: float = 30.0

    def __post_init__(self) -> None:
        if self.auth and not self.tokens:
            raise InputError("tokens: authentication is on but no token is configured")
        if not self.auth and not is_loopback(self.host):
            raise InputError(f"--no-auth: only allowed on a loopback address, not {self.host!r}")
        if self.record and self.store is None:
            raise InputError("--record: needs --store, the Parquet store to record into")
        if not (math.isfinite(self.af_min_s) and self.af_min_s >= 0):
            raise InputError(f"af_min_s: expected 0 or more seconds, got {self.af_min_s!r}")
        if not (math.isfinite(self.disclosure_s) and 0 <= self.disclosure_s <= 3600):
            raise InputError(f"disclosure_s: expected 0 to 3600 s, got {self.disclosure_s!r}")
        for name in ("start_timeout_s", "checkpoint_s", "record_sync_s", "engine_start_timeout_s"):
            if not getattr(self, name) > 0:
                raise InputError(f"{name}: must be positive, got {getattr(self, name)}")
        for name in ("max_streams", "max_frame_samples", "batch_max", "max_body_bytes",
                     "redis_shards"):  # fmt: skip
            if getattr(self, name) < 1:
                raise InputError(f"{name}: must be at least 1")

    def reads_metrics(self, token: str | None) -> bool:
        """Whether ``token`` may read ``/metrics``: a metrics token, or without any, the first
        of :attr:`tokens`; every client when authentication is off (loopback only)."""
        if not self.auth:
            return True
        if not token:
            return False
        allowed = self.metrics_tokens or self.tokens[:1]
        return any(hmac.compare_digest(known.encode(), token.encode()) for known in allowed)

    def owner(self, token: str | None) -> str | None:
        """The tenant of a presented token (a short digest), or None when it is not accepted."""
        if not self.auth:
            return "local"
        if not token:
            return None
        for known in self.tokens:
            if hmac.compare_digest(known.encode(), token.encode()):
                return hashlib.sha256(known.encode()).hexdigest()[:12]
        return None


def new_token() -> str:
    """A fresh random bearer token."""
    return secrets.token_urlsafe(24)


def is_loopback(host: str) -> bool:
    """Whether ``host`` is a loopback address (``localhost`` counts)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def token_from_env(given: str | None = None) -> str | None:
    """The token a client presents: ``given``, else the first of :data:`TOKEN_ENV`'s.

    Returns
    -------
    str or None
        None when neither gives one.
    """
    return given or os.environ.get(TOKEN_ENV, "").split(",")[0] or None


def tokens_from_env(given: str | None = None, env: str = TOKEN_ENV) -> list[str]:
    """The tokens a server accepts: those of ``given``, else of the variable ``env``
    (:data:`TOKEN_ENV` by default; both comma-separated); empty when neither names one."""
    return [t for t in (given or os.environ.get(env, "")).split(",") if t]
