"""The FastAPI application: REST predict, WebSocket streams, recordings, metrics, health.

(No ``from __future__ import annotations`` here: FastAPI reads the dependencies from the
annotations of functions defined inside :func:`create_app`, which must therefore be live.)

Open without a token (:data:`OPEN_ROUTES`): the dashboard (``/`` and ``/static/*``, which
ask for the token themselves), the API descriptions (``/docs``, ``/openapi.json``,
``/v1/asyncapi.json``) and liveness (``/healthz``). Every other route needs
``Authorization: Bearer <token>`` when authentication is on (WebSockets may pass ``?token=``
instead, for browsers), and ``/metrics`` the operator's token. The server opens no outbound
connection, and its pages load nothing from elsewhere: ``/docs`` is a page of its own, not
FastAPI's Swagger UI, which loads its scripts from a public CDN.
"""

import asyncio
import contextlib
import json
import math
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar

import numpy as np
import numpy.typing as npt
from fastapi import Depends, FastAPI, HTTPException, Query, Request, WebSocket
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, Field, ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.websockets import WebSocketDisconnect, WebSocketState

from cardiostream import wire
from cardiostream.errors import InputError
from cardiostream.record import lead_selector
from cardiostream.serve import protocol as proto
from cardiostream.serve.alarm_routes import add_alarm_routes
from cardiostream.serve.alarms import AlarmDesk
from cardiostream.serve.batcher import Batcher, EngineClient
from cardiostream.serve.config import ServeConfig
from cardiostream.serve.metrics import Metrics
from cardiostream.serve.redact import redact, redact_text
from cardiostream.serve.responses import errors, http_error, validation_error
from cardiostream.serve.rpc import EngineError
from cardiostream.serve.watch import Watch, pump

#: Routes that answer without a token (``/static`` covers every file under it).
OPEN_ROUTES = ("/", "/static", "/docs", "/openapi.json", "/v1/asyncapi.json", "/healthz")

#: Longest slice of ``/v1/records/{id}/signal``, in seconds.
MAX_SLICE_S = 600.0
#: Seconds of signal the R-peak detector sees before a slice.
RPEAK_LEAD_IN_S = 8.0
#: Default slice: about 15-20 beats at resting rates.
DEFAULT_SLICE_S = 15.0


class PredictRequest(BaseModel):
    """One stretch of one lead for ``POST /v1/predict`` (JSON form)."""

    fs: float = Field(ge=50, le=20_000, description="Sampling rate in Hz (50 to 20000).")
    samples: list[float | None] = Field(description="Samples; null marks a missing one.")
    units: str = Field("mV", description="mV, uV or V.")


class ControlRequest(BaseModel):
    """A mode switch for a steerable source."""

    mode: str = Field(min_length=1, max_length=32, description="One of the stream's controls.")
    hr_bpm: float | None = Field(None, ge=20, le=250, description="Heart rate, where it applies.")


_HEALTH_SCHEMA = {
    "type": "object",
    "properties": {
        "status": {"type": "string", "enum": ["ok", "degraded"]},
        "reason": {"type": "string"},
        "streams": {"type": "integer"},
    },
    "required": ["status", "streams"],
}


def body_error(exc: ValidationError) -> str:
    """One line naming the field of a JSON body at fault (the first, when several are)."""
    first = exc.errors()[0]
    if first["type"] == "json_invalid":
        return "body: not valid JSON"
    if not first["loc"]:
        return 'body: expected a JSON object such as {"fs": 250, "samples": [...]}'
    field = ".".join(str(part) for part in first["loc"])
    given = first.get("input")
    quiet = first["type"] == "missing" or given is None or len(repr(given)) > 40
    shown = "" if quiet else f", got {given!r}"
    return f"{field}: {first['msg'][0].lower()}{first['msg'][1:]}{shown}"


async def _read_body(request: Request, limit: int) -> bytes:
    """The request body, refused with a 413 as soon as it passes ``limit`` bytes (whatever
    its Content-Length says), so that a huge body is never held whole."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise HTTPException(413, f"body: over the {limit / 2**20:g} MiB limit")
    parts: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise HTTPException(413, f"body: over the {limit / 2**20:g} MiB limit")
        parts.append(chunk)
    return b"".join(parts)


def _decode_json(body: bytes) -> tuple[proto.StreamFormat, npt.NDArray[np.float64]]:
    """The rate, units and samples of a JSON ``/v1/predict`` body (raises InputError)."""
    try:
        doc = PredictRequest.model_validate_json(body)
    except ValidationError as exc:
        raise InputError(body_error(exc)) from None
    spec = proto.parse_format(doc.fs, "json", doc.units, 200.0)
    return spec, spec.decode_list(doc.samples)


def _json(obj: Any) -> str:
    return json.dumps(obj, allow_nan=False)


def create_app(config: ServeConfig) -> FastAPI:
    """Build the application for ``config`` (see :mod:`cardiostream.serve`)."""
    metrics = Metrics()
    state: dict[str, Any] = {}

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        log = None if config.store is None else Path(config.store) / "alarms.sqlite"
        desk = AlarmDesk(
            log,
            on_alarm=lambda _o, kind, prio: metrics.alarms.labels(kind, prio).inc(),
            on_ack=metrics.alarm_acks.inc,
        )
        watch = Watch(config.resume_ttl_s, disclosure_s=config.disclosure_s, desk=desk)
        state["watch"] = watch
        batcher = Batcher(config, metrics, on_gone=watch.dropped)
        await batcher.start()
        state["engine"] = EngineClient(batcher)
        gateway = None
        if config.redis is not None:
            from cardiostream.serve.gateway import RedisGateway

            gateway = RedisGateway(state["engine"], config.redis, config.redis_shards,
                                   config=config, on_gone=watch.dropped)  # fmt: skip
            await gateway.start()
            state["engine"] = gateway
        state["batcher"] = batcher
        app.state.batcher = batcher
        yield
        if gateway is not None:
            await gateway.stop()
        await batcher.stop()

    app = FastAPI(
        title="cardiostream",
        version="0.1.0",
        description="Real-time ECG analysis: R peaks, HRV, signal quality, rhythm and AF events.",
        lifespan=lifespan,
        # FastAPI's /docs and /redoc load their scripts from a public CDN; the server opens
        # no outbound connection and promises the same of its pages: /docs is a local page.
        docs_url=None,
        redoc_url=None,
    )
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.state.metrics = metrics
    bearer = HTTPBearer(auto_error=False)

    def require_owner(
        creds: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
    ) -> str:
        owner = config.owner(creds.credentials if creds else None)
        if owner is None:
            metrics.errors.labels("auth").inc()
            raise HTTPException(401, "a valid bearer token is required",
                                headers={"WWW-Authenticate": "Bearer"})  # fmt: skip
        return owner

    Owner = Annotated[str, Depends(require_owner)]

    @app.exception_handler(InputError)
    async def input_error(_: Request, exc: InputError) -> JSONResponse:
        metrics.errors.labels("input").inc()
        return JSONResponse({"detail": redact_text(str(exc), config.store)}, status_code=422)

    @app.exception_handler(EngineError)
    async def engine_error(_: Request, exc: EngineError) -> JSONResponse:
        metrics.errors.labels("engine").inc()
        detail = redact_text(f"the engine is unavailable: {exc}")
        return JSONResponse({"detail": detail}, status_code=503)

    @app.get(
        "/healthz",
        response_model=None,
        responses={
            503: {
                "description": "Degraded: the engine process is down.",
                "content": {"application/json": {"schema": _HEALTH_SCHEMA}},
            }
        },
    )
    def healthz() -> dict[str, Any] | JSONResponse:
        """Liveness: 200 while the server and its engine run; 503 ``degraded`` while the
        engine process is down (every stream and prediction needs it)."""
        batcher = state.get("batcher")
        if batcher is not None and not batcher.engine_alive():
            reason = "the engine process is down and being restarted with its streams"
            body = {"status": "degraded", "reason": reason, "streams": 0}
            return JSONResponse(body, status_code=503)
        return {"status": "ok", "streams": metrics.live_streams()}

    @app.get(
        "/metrics",
        response_class=Response,
        responses={
            200: {
                "description": "The Prometheus text format.",
                "content": {"text/plain": {"schema": {"type": "string"}}},
            },
            **errors(401, 403),
        },
    )
    def prometheus(
        creds: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
    ) -> Response:
        """Prometheus metrics (text format): server-wide totals, over every token's streams.

        Only the operator's token reads them: the metrics token(s) of the server when it has
        some (``--metrics-token``), else its first token (the one ``cardiostream serve`` made
        or was given first). Other tokens get 403: they see their own streams only.
        """
        token = creds.credentials if creds else None
        if not config.reads_metrics(token):
            if config.owner(token) is None:
                metrics.errors.labels("auth").inc()
                raise HTTPException(401, "a valid bearer token is required",
                                    headers={"WWW-Authenticate": "Bearer"})  # fmt: skip
            raise HTTPException(403, "this token may not read the server's metrics")
        return Response(metrics.render(), media_type="text/plain; version=0.0.4")

    @app.post(
        "/v1/predict",
        responses=errors(401, 413, 422, 503),
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {"schema": PredictRequest.model_json_schema()},
                    "application/octet-stream": {"schema": {"type": "string", "format": "binary"}},
                },
            }
        },
    )
    async def predict(
        request: Request,
        _: Owner,
        fs: Annotated[
            float | None, Query(ge=50, le=20_000, description="Rate, for a binary body.")
        ] = None,
        format: Annotated[
            Literal["float32", "int16"], Query(description="float32 or int16, for a binary body.")
        ] = "float32",
        units: Annotated[
            Literal["mV", "uV", "µV", "V"], Query(description="mV, uV or V, for a binary body.")
        ] = "mV",
        gain: Annotated[
            float, Query(gt=0, allow_inf_nan=False, description="ADC units per mV, for int16.")
        ] = 200.0,
    ) -> dict[str, Any]:
        """The window object for the last 10 s of a stretch of one lead (at least 10 s).

        Send JSON ``{"fs": 250, "samples": [...], "units": "mV"}``, or a binary body
        (``application/octet-stream``, little-endian float32 or int16) with ``fs`` and
        ``format`` in the query.
        """
        body = await _read_body(request, config.max_body_bytes)
        kind = request.headers.get("content-type", "").split(";")[0].strip()
        if kind == "application/octet-stream":
            if fs is None:
                raise InputError("fs: required in the query for a binary body")
            spec = proto.parse_format(fs, format, units, gain)
            if spec.format == "json":
                raise InputError("format: a binary body is float32 or int16")
            x = await run_in_threadpool(spec.decode_bytes, body, "body")
        else:
            # Parsing a large JSON body takes long enough to stall every live stream's
            # replies if it ran on the event loop.
            spec, x = await run_in_threadpool(_decode_json, body)
        if x.size < 10 * spec.fs:
            raise InputError(
                f"samples: {x.size} at {spec.fs:g} Hz is under the 10 s a window needs"
            )
        if x.size > config.max_predict_s * spec.fs:
            raise InputError(f"samples: over the {config.max_predict_s:g} s limit")

        # Copying 600 s at 20 kHz takes tens of milliseconds: not on the loop either.
        payload = await run_in_threadpool(x.tobytes)
        windows = await state["engine"].predict(spec.fs, payload)
        metrics.predictions.inc()
        result: dict[str, Any] = windows[-1]
        return result

    @app.websocket("/v1/stream")
    async def stream(ws: WebSocket) -> None:
        """Live streams: see :mod:`cardiostream.serve.protocol` for the messages."""
        await _stream(ws, config, metrics, state)

    @app.websocket("/v1/watch")
    async def watch_streams(ws: WebSocket) -> None:
        """Dashboards: see :mod:`cardiostream.serve.watch` for the messages."""
        await _watch(ws, config, metrics, state)

    @app.get("/v1/streams", responses=errors(401))
    def streams(owner: Owner) -> dict[str, Any]:
        """The token's live streams (recently disconnected ones too), as ``/v1/watch``
        describes them first: id, rate, leads, state, the last window, events and trend."""
        return {"streams": state["watch"].listing(owner)}

    @app.get("/v1/streams/{stream_id}/trace", responses=errors(401, 404, 422))
    def trace(
        stream_id: str,
        owner: Owner,
        seconds: Annotated[float, Query(gt=0, le=3600)] = 120.0,
    ) -> dict[str, Any]:
        """The last ``seconds`` of a live stream's drawn trace as the server keeps it (full
        disclosure: its last ``disclosure_s``, whether or not a dashboard was open): cleaned
        samples of the analysed lead in mV at ``fs`` (null for a gap) from stream time ``t0``,
        the R peaks and the classified beats (``[time, letter]``). A beat-time stream has no
        samples: ``rr`` holds its beats as ``[time, rr_ms, af]`` (empty for an ECG stream),
        for its tachogram."""
        try:
            kept = state["watch"].trace(owner, stream_id, seconds)
            rr = state["watch"].beats(owner, stream_id, seconds)
        except KeyError:
            raise HTTPException(404, f"no live stream {stream_id!r} for this token") from None
        return {
            "stream_id": stream_id, "t0": round(kept.t0, 4), "fs": kept.fs,
            "samples": [None if v != v else round(float(v), 3) for v in kept.samples.tolist()],
            "peaks": kept.peaks, "beats": [list(b) for b in kept.beats], "rr": rr,
        }  # fmt: skip

    @app.post("/v1/streams/{stream_id}/control", status_code=202,
              responses=errors(400, 401, 404, 422))  # fmt: skip
    def control(stream_id: str, body: ControlRequest, owner: Owner) -> dict[str, Any]:
        """Ask a steerable source (one whose start message listed ``controls``, such as
        ``cardiostream simulate``) to switch mode: the request reaches it as a ``control`` line
        in its stream's next reply. The verdict follows once the window has filled with the
        new rhythm (up to 10 s), passing through ``uncertain`` on the way."""
        command = body.model_dump(exclude_none=True)
        try:
            state["watch"].control(owner, stream_id, command)
        except KeyError:
            raise HTTPException(404, f"no live stream {stream_id!r} for this token") from None
        except ValueError as exc:
            raise HTTPException(422, str(exc)) from None
        return {"stream_id": stream_id, "queued": command}

    @app.get("/v1/asyncapi.json")
    def asyncapi() -> dict[str, Any]:
        """The AsyncAPI description of the WebSocket endpoints ``/v1/stream`` and
        ``/v1/watch``."""
        from cardiostream.serve.asyncapi import document

        return document()

    add_alarm_routes(app, Owner, lambda: state["watch"])
    _static_routes(app)

    _records_routes(app, config, metrics, Owner, lambda: state["watch"])
    return app


async def _accept(
    ws: WebSocket, config: ServeConfig, metrics: Metrics, state: dict[str, Any]
) -> tuple[str, EngineClient, Watch] | None:
    """Accept a WebSocket: its token's owner, the engine and the watch; None (closed with
    1008) without a valid token."""
    token = ws.query_params.get(wire.TOKEN_QUERY)
    bearer = wire.bearer_token(ws.headers.get(wire.TOKEN_HEADER, ""))
    if bearer is not None:
        token = bearer
    owner = config.owner(token)
    await ws.accept()
    if owner is None:
        metrics.errors.labels("auth").inc()
        await ws.close(wire.CLOSE_POLICY, "a valid bearer token is required")
        return None
    return owner, state["engine"], state["watch"]


async def _stream(
    ws: WebSocket, config: ServeConfig, metrics: Metrics, state: dict[str, Any]
) -> None:
    accepted = await _accept(ws, config, metrics, state)
    if accepted is None:
        return
    owner, engine, watch = accepted
    key: tuple[str, str] | None = None
    try:
        try:
            start = proto.loads(await asyncio.wait_for(_start_text(ws), config.start_timeout_s))
            begin = proto.parse_start(start)
            stream_id, spec, n_leads = begin.stream_id, begin.format, len(begin.leads)
            opened = await engine.open(owner, stream_id, spec.fs, begin.leads, begin.lead,
                                       begin.source, begin.timing)  # fmt: skip
            consumed = opened.consumed
            key = (owner, stream_id)
            if opened.resumed and begin.acked is not None and begin.acked > consumed:
                # An ack the server never sent: the client counts wrong, and would miss or
                # repeat replies. (A stream started afresh ignores acked: its count is new.)
                raise InputError(f"acked: {begin.acked} is past the {consumed} samples the "
                                 f"server has of this stream")  # fmt: skip
            watch.opened(owner, stream_id, spec.fs, begin.leads, begin.lead, begin.controls,
                         begin.start_time, begin.source, begin.timing,
                         resumed=opened.resumed)  # fmt: skip
        except (InputError, ValueError, KeyError) as exc:
            metrics.errors.labels("start").inc()
            await ws.close(wire.CLOSE_BAD_DATA, _reason(exc))
            return
        except TimeoutError:
            metrics.errors.labels("start").inc()
            reason = f"no start message within {config.start_timeout_s:g} s"
            await ws.close(wire.CLOSE_PROTOCOL, reason)
            return
        except OverflowError as exc:
            metrics.errors.labels("busy").inc()
            await ws.close(wire.CLOSE_TRY_LATER, _reason(exc))
            return
        await ws.send_text(_json({
            "type": wire.READY, "stream_id": stream_id, "samples": consumed,
            "resumed": opened.resumed, "hop_s": opened.hop_s, "window_s": opened.window_s,
        }))  # fmt: skip
        # What the client missed while it was away, its processing done: given once, now.
        missed_replies = engine.take_unsent(owner, stream_id, begin.acked)
        for missed in missed_replies if opened.resumed else []:
            await ws.send_text(missed)
        while True:
            message = await ws.receive()
            if message["type"] == "websocket.disconnect":
                break
            arrived = time.perf_counter()
            data, text = message.get("bytes"), message.get("text")
            try:
                if data is not None:
                    x = spec.decode_bytes(data)
                else:
                    doc = proto.loads(text or "")
                    if isinstance(doc, dict) and doc.get("type") == wire.STOP:
                        lines, consumed = await engine.close(*key)
                        key = None
                        watch.left(owner, stream_id, ended=True)
                        end = _json({"type": wire.END, "samples": consumed})
                        await ws.send_text("\n".join([*(line for _, line in lines), end]))
                        await ws.close(wire.CLOSE_NORMAL)
                        return
                    if spec.format != "json" or not isinstance(doc, dict):
                        raise InputError('frame: expected binary samples or {"type": "stop"}')
                    x = spec.decode_list(doc.get("samples"))
                if x.size % n_leads:
                    raise InputError(f"frame: {x.size} samples is not a whole number of "
                                     f"{n_leads}-lead rows")  # fmt: skip
                if x.size > config.max_frame_samples:
                    metrics.errors.labels("too_big").inc()
                    await ws.close(wire.CLOSE_TOO_BIG,
                                   f"frame: over {config.max_frame_samples} samples")  # fmt: skip
                    break
                before = consumed
                lines, consumed = await engine.push(*key, x.tobytes())
            except (InputError, ValueError) as exc:
                metrics.errors.labels("frame").inc()
                await ws.close(wire.CLOSE_BAD_DATA, _reason(exc))
                break
            metrics.samples.inc(x.size)
            drawn = False
            for kind, _ in lines:
                if kind == wire.WINDOW:
                    metrics.windows.inc()
                elif kind in (wire.EVENT, wire.EVENT_OPEN):
                    metrics.events.inc()
                elif kind == wire.DISPLAY:
                    drawn = True
            watch.frame(owner, stream_id, lines)
            if drawn:  # display lines are for dashboards and the kept trace only
                lines = [item for item in lines if item[0] != wire.DISPLAY]
            # One message per frame: its objects, one per line, the ack last (written directly:
            # exactly what json.dumps gives, without its cost on every frame).
            ack = f'{{"type": "{wire.ACK}", "samples": {int(consumed)}}}'
            controls = watch.take_controls(owner, stream_id) if begin.controls else []
            reply = "\n".join([*(line for _, line in lines), *controls, ack])
            engine.keep_reply(owner, stream_id, before, reply)
            try:
                await ws.send_text(reply)
            except Exception:  # gone while its frame was processed: kept for its resume
                engine.keep_unsent(owner, stream_id, reply)
                raise
            metrics.hop_latency.observe(time.perf_counter() - arrived)
    except WebSocketDisconnect:
        pass
    except Exception as exc:  # a bug must cost this stream only
        metrics.errors.labels("internal").inc()
        if ws.client_state == WebSocketState.CONNECTED:
            await ws.close(wire.CLOSE_ERROR, _reason(exc))
    finally:
        if key is not None:
            watch.left(*key, ended=False)
            with contextlib.suppress(EngineError):
                await engine.disconnect(*key)


async def _watch(
    ws: WebSocket, config: ServeConfig, metrics: Metrics, state: dict[str, Any]
) -> None:
    accepted = await _accept(ws, config, metrics, state)
    if accepted is None:
        return
    owner, engine, watch = accepted
    dash, first = watch.subscribe(owner)
    sender: asyncio.Task[None] | None = None
    try:
        if first:
            await engine.watch(owner, True)
        await ws.send_text(_json({"type": "streams", "streams": watch.listing(owner)}))
        sender = asyncio.create_task(pump(dash, ws.send_text))
        while True:  # read-only: what a dashboard sends is ignored, until it leaves
            message = await ws.receive()
            if message["type"] == "websocket.disconnect":
                break
    except (WebSocketDisconnect, RuntimeError):
        pass
    finally:
        if sender is not None:
            sender.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await sender
        if watch.unsubscribe(dash):
            with contextlib.suppress(EngineError):
                await engine.watch(owner, False)


def _static_routes(app: FastAPI) -> None:
    """The dashboard (``/`` and ``/static/*``) and the API page (``/docs``), shipped inside
    the package."""
    from fastapi.staticfiles import StaticFiles

    static = Path(__file__).with_name("static")

    @app.get("/", include_in_schema=False)
    def index() -> FileResponse:
        return FileResponse(static / "index.html", headers={"Cache-Control": "no-cache"})

    @app.get("/docs", include_in_schema=False)
    def docs() -> FileResponse:
        return FileResponse(static / "docs.html", headers={"Cache-Control": "no-cache"})

    app.mount("/static", StaticFiles(directory=static), name="static")


async def _start_text(ws: WebSocket) -> str:
    """The first message of a stream, which must be text (the JSON start message).

    Raises
    ------
    InputError
        A binary first message.
    WebSocketDisconnect
        The client left first.
    """
    message = await ws.receive()
    if message["type"] == "websocket.disconnect":
        raise WebSocketDisconnect(message.get("code", wire.CLOSE_NORMAL))
    text = message.get("text")
    if text is None:
        raise InputError("start: the first message must be a JSON start message (text)")
    return str(text)


def _reason(exc: BaseException) -> str:
    # A close reason is at most 123 bytes.
    # A lone surrogate (from a JSON escape) cannot be encoded: shown escaped, never raised.
    text = str(exc).splitlines()[0] if str(exc) else ""
    reason = text.encode(errors="backslashreplace")[:120].decode(errors="ignore")
    return reason or type(exc).__name__


def _records_routes(
    app: FastAPI, config: ServeConfig, metrics: Metrics, owner: Any, watch: Callable[[], Watch]
) -> None:
    """``/v1/records``: the Parquet store, read only (ids are checked: no path escapes it)."""
    from cardiostream.io import ParquetStore
    from cardiostream.io.store import validate_record_id
    from cardiostream.serve.annotation_routes import add_annotation_routes
    from cardiostream.serve.holter_routes import add_holter_routes
    from cardiostream.serve.strip_routes import add_strip_routes

    # Absolute, so that the store's messages name it whole and redact_text can cut it.
    store = ParquetStore(Path(config.store).absolute()) if config.store is not None else None
    if store is not None:
        store.clean_stale()  # what writes killed before this start left behind (logged)
    events_cache: OrderedDict[tuple[str, str], list[dict[str, Any]]] = OrderedDict()
    beats_cache: OrderedDict[tuple[str, str], dict[str, Any]] = OrderedDict()

    def get_store() -> ParquetStore:
        if store is None:
            raise HTTPException(404, "this server has no record store (start it with --store)")
        return store

    def known(record_id: str) -> str:
        try:
            validate_record_id(record_id)
        except InputError:
            raise HTTPException(404, "no such record") from None
        if record_id not in get_store():
            raise HTTPException(404, "no such record")
        return record_id

    @app.get("/v1/records", responses=errors(401, 404, 422))
    def records(_: owner) -> list[dict[str, Any]]:
        """Every stored record: id, name, rate, leads, length. A record whose metadata cannot
        be read is left out (and logged on the server)."""
        keys = ("id", "name", "fs", "leads", "n_samples", "duration_s")
        return [redact({k: m.get(k) for k in keys}) for m in get_store().list()]

    @app.get("/v1/records/{record_id}", responses=errors(401, 404, 422))
    def record(record_id: str, _: owner) -> dict[str, Any]:
        """One record's metadata. Paths in it (the file it came from) are cut to file names:
        no response names a folder of the server."""
        meta: dict[str, Any] = redact(get_store().meta(known(record_id)))
        return meta

    def slice_query(
        lead: Annotated[
            str, Query(min_length=1, max_length=200, description="Lead index or name.")
        ] = "0",
        start: Annotated[float, Query(ge=0, description="Start in seconds.")] = 0.0,
        duration: Annotated[
            float, Query(gt=0, le=MAX_SLICE_S, description="Seconds (default 15).")
        ] = DEFAULT_SLICE_S,
    ) -> tuple[str, float, float]:
        if not (math.isfinite(start) and math.isfinite(duration)):
            raise InputError("start, duration: must be finite")
        return lead, start, duration

    SliceQuery = Annotated[tuple[str, float, float], Depends(slice_query)]

    @app.get("/v1/records/{record_id}/signal", responses=errors(401, 404, 422))
    def signal(record_id: str, _: owner, where: SliceQuery) -> dict[str, Any]:
        """A slice of one lead in mV, read from only the row groups it touches."""
        lead, start, duration = where
        x, fs = get_store().read_slice(known(record_id), lead_selector(lead), start, duration)
        values = [None if not math.isfinite(v) else v for v in x.astype(float).tolist()]
        return {"record": record_id, "lead": lead, "fs": fs, "start_s": start, "samples": values}

    @app.get("/v1/records/{record_id}/rpeaks", responses=errors(401, 404, 422))
    def rpeaks(record_id: str, _: owner, where: SliceQuery) -> dict[str, Any]:
        """The package's R peaks in a slice (seconds from the record's start).

        The detector runs from ``RPEAK_LEAD_IN_S`` before the slice so that its thresholds
        have settled by the slice's first beat.
        """
        from cardiostream.beats import detect_rpeaks

        lead, start, duration = where
        begin = max(start - RPEAK_LEAD_IN_S, 0.0)
        x, fs = get_store().read_slice(
            known(record_id), lead_selector(lead), begin, duration + start - begin
        )
        t = begin + detect_rpeaks(x, fs) / fs
        t = t[(t >= start) & (t < start + duration)]
        return {"record": record_id, "lead": lead, "fs": fs,
                "peaks_s": [round(float(v), 4) for v in t]}  # fmt: skip

    @app.get("/v1/records/{record_id}/annotations", responses=errors(401, 404, 422))
    def annotations(record_id: str, _: owner) -> dict[str, Any]:
        """Beats (sample, symbol) and rhythm intervals (start, end, label) in samples."""
        ann = get_store().annotations(known(record_id))
        return {
            "record": record_id,
            "beats": {"sample": ann.beats.sample.tolist(), "symbol": ann.beats.symbol.tolist()},
            "rhythms": {
                "start": ann.rhythms.start.tolist(),
                "end": ann.rhythms.end.tolist(),
                "label": ann.rhythms.label.tolist(),
            },
        }

    @app.get("/v1/records/{record_id}/events", responses=errors(401, 404, 422))
    def events(
        record_id: str,
        _: owner,
        lead: Annotated[
            str, Query(min_length=1, max_length=200, description="Lead index or name.")
        ] = "0",
    ) -> dict[str, Any]:
        """The AF episodes the streaming engine finds in the record (computed once, cached)."""
        from cardiostream.stream.analyze import analyze

        def make() -> list[dict[str, Any]]:
            rec = get_store().read(record_id)
            return analyze(rec, lead=lead_selector(lead), model=config.model).events

        found = _cached(events_cache, (known(record_id), lead), make)
        return {"record": record_id, "lead": lead, "events": found}

    @app.get("/v1/records/{record_id}/beats", responses=errors(401, 404, 422))
    def beats(
        record_id: str,
        _: owner,
        lead: Annotated[
            str, Query(min_length=1, max_length=200, description="Lead index or name.")
        ] = "0",
    ) -> dict[str, Any]:
        """The beat classifier's beats of one lead, the whole record (computed once, cached):
        ``t_s`` the R peaks in seconds from the record's start, ``label`` their AAMI class (N,
        S, V, F, Q), ``p`` the model's probability of that class (null when unknown; a beat
        gated to Q for its signal or a pacing spike keeps the model's probabilities, so its
        ``p`` may be low)."""
        from cardiostream.beats import classify_beats
        from cardiostream.beats.classes import CLASSES

        def make() -> dict[str, Any]:
            rec = get_store().read(record_id)
            found = classify_beats(rec.lead(lead_selector(lead)), rec.fs)
            order = {c: i for i, c in enumerate(CLASSES)}
            p = [
                float(row[order[c]]) if c in order and math.isfinite(row[order[c]]) else None
                for row, c in zip(found.probabilities.tolist(), found.label.tolist(), strict=True)
            ]
            return {
                "fs": rec.fs,
                "t_s": [round(int(n) / rec.fs, 4) for n in found.sample.tolist()],
                "label": [str(c) for c in found.label.tolist()],
                "p": [None if v is None else round(v, 4) for v in p],
            }

        found: dict[str, Any] = _cached(beats_cache, (known(record_id), lead), make)
        return {"record": record_id, "lead": lead, **found}

    add_annotation_routes(app, owner, get_store, known)
    add_strip_routes(app, owner, get_store, known, watch)
    add_holter_routes(app, owner, get_store, known)


_T = TypeVar("_T")


def _cached(
    cache: OrderedDict[tuple[str, str], _T], key: tuple[str, str], make: Callable[[], _T]
) -> _T:
    """``cache[key]``, made by ``make()`` the first time; the cache keeps the 32 latest."""
    if key not in cache:
        cache[key] = make()
        while len(cache) > 32:
            cache.popitem(last=False)
    return cache[key]
