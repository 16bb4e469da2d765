"""The AsyncAPI 3.0 description of the server's WebSocket endpoints (``/v1/asyncapi.json``).

OpenAPI cannot describe WebSockets; this document does, from the same words as the
protocol modules (:mod:`cardiostream.serve.protocol`, :mod:`cardiostream.serve.watch`).
"""

from __future__ import annotations

from typing import Any

from cardiostream.serve import protocol, watch


def _obj(description: str, props: dict[str, Any], required: list[str]) -> dict[str, Any]:
    return {"type": "object", "description": description, "properties": props, "required": required}


_TYPE = {"type": "string"}
_NUM = {"type": "number"}
_WINDOW = _obj(
    "A window result: the last 10 s, every second (see DESIGN.md).",
    {
        "type": {"const": "window"},
        "t_start": _NUM,
        "t_end": _NUM,
        "label": {"enum": ["normal", "af", "other", "noise", "uncertain"]},
        "raw_label": _TYPE,
        "probabilities": {"type": "object"},
        "heart_rate_bpm": {"type": ["number", "null"]},
        "hrv": {"type": "object"},
        "quality": {"type": "object"},
    },
    ["type", "t_start", "t_end", "label"],
)
_EVENT = _obj(
    "An AF episode, opened (event_open) or closed (event).",
    {
        "type": {"enum": ["event", "event_open"]},
        "kind": _TYPE,
        "start_s": _NUM,
        "end_s": _NUM,
        "confidence": _NUM,
    },
    ["type", "kind", "start_s"],
)
_DISPLAY = _obj(
    "Samples to draw: every lead cleaned at 125 Hz (null: missing), new R peaks.",
    {
        "type": {"const": "display"},
        "stream_id": _TYPE,
        "t": _NUM,
        "fs": _NUM,
        "lead": _TYPE,
        "leads": {"type": "object", "additionalProperties": {"type": "array"}},
        "peaks": {"type": "array", "items": _NUM},
    },
    ["type", "stream_id", "t", "fs", "lead", "leads", "peaks"],
)


def _message(name: str, summary: str, payload: dict[str, Any]) -> dict[str, Any]:
    return {"name": name, "summary": summary, "contentType": "application/json", "payload": payload}


def document() -> dict[str, Any]:
    """The AsyncAPI document (a plain dict)."""
    stream_doc = (protocol.__doc__ or "").strip()
    watch_doc = (watch.__doc__ or "").strip()
    auth = {"$ref": "#/components/securitySchemes/token"}
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "cardiostream WebSockets",
            "version": "0.1.0",
            "description": "Live ECG streams in, results out; and a read-only view for "
            "dashboards. Every message of the server is text made of JSON lines.",
        },
        "servers": {"local": {"host": "127.0.0.1:8000", "protocol": "ws"}},
        "channels": {
            "stream": {
                "address": "/v1/stream",
                "description": stream_doc,
                "messages": {
                    "start": _message(
                        "start",
                        "The first client message.",
                        _obj(
                            "Opens or resumes a stream.",
                            {
                                "type": {"const": "start"},
                                "stream_id": _TYPE,
                                "fs": _NUM,
                                "format": {"enum": list(protocol.FORMATS)},
                                "units": {"enum": ["mV", "uV", "V"]},
                                "gain": _NUM,
                                "lead": _TYPE,
                                "leads": {
                                    "type": "array",
                                    "items": _TYPE,
                                    "maxItems": protocol.MAX_LEADS,
                                },
                            },
                            ["type", "stream_id", "fs"],
                        ),
                    ),
                    "samples": _message(
                        "samples",
                        "Binary float32 or int16 (little-endian), or JSON {samples}.",
                        {"type": "string", "format": "binary"},
                    ),
                    "stop": _message(
                        "stop", "Ends the stream.", _obj("", {"type": {"const": "stop"}}, ["type"])
                    ),
                    "window": _message("window", "One per second once 10 s are in.", _WINDOW),
                    "event": _message("event", "AF episodes.", _EVENT),
                    "ack": _message(
                        "ack",
                        "Last line of every reply.",
                        _obj(
                            "Samples consumed so far.",
                            {"type": {"const": "ack"}, "samples": {"type": "integer"}},
                            ["type", "samples"],
                        ),
                    ),
                },
            },
            "watch": {
                "address": "/v1/watch",
                "description": watch_doc,
                "messages": {
                    "streams": _message(
                        "streams",
                        "First: the token's streams.",
                        _obj(
                            "",
                            {"type": {"const": "streams"}, "streams": {"type": "array"}},
                            ["type", "streams"],
                        ),
                    ),
                    "stream": _message(
                        "stream",
                        "A stream started, left or ended.",
                        _obj(
                            "",
                            {"type": {"const": "stream"}, "stream": {"type": "object"}},
                            ["type", "stream"],
                        ),
                    ),
                    "display": _message("display", "Per frame, first line.", _DISPLAY),
                    "window": _message("window", "Per frame, with stream_id.", _WINDOW),
                    "event": _message("event", "Per frame, with stream_id.", _EVENT),
                },
            },
        },
        "operations": {
            "sendSamples": {
                "action": "receive",
                "channel": {"$ref": "#/channels/stream"},
                "security": [auth],
            },
            "sendResults": {
                "action": "send",
                "channel": {"$ref": "#/channels/stream"},
                "security": [auth],
            },
            "sendToDashboards": {
                "action": "send",
                "channel": {"$ref": "#/channels/watch"},
                "security": [auth],
            },
        },
        "components": {
            "securitySchemes": {
                "token": {
                    "type": "httpApiKey",
                    "name": "token",
                    "in": "query",
                    "description": "The bearer token, as ?token= (browsers) or an "
                    "Authorization: Bearer header.",
                }
            }
        },
    }
