"""The AsyncAPI 3.0 description of the server's WebSocket endpoints (``/v1/asyncapi.json``).

OpenAPI cannot describe WebSockets; this document does, from the same words as the
protocol modules (:mod:`cardiostream.serve.protocol`, :mod:`cardiostream.serve.watch`).
The payload schemas are those of the published JSON Schema, generated from the message
types (:mod:`cardiostream.stream.schema`), so the two cannot disagree.
"""

from __future__ import annotations

from typing import Any

from cardiostream.serve import protocol, watch
from cardiostream.stream import messages as m
from cardiostream.stream import protocol_messages as pm
from cardiostream.stream.schema import asyncapi_schemas


def _ref(message: type) -> dict[str, Any]:
    """The payload of a message: its schema in ``components.schemas``."""
    return {"$ref": f"#/components/schemas/{message.__name__}"}


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
            "dashboards. Every message of the server is text made of JSON lines. Message "
            f"schemas: cardiostream messages version {m.SCHEMA_VERSION}.",
        },
        "servers": {"local": {"host": "127.0.0.1:8000", "protocol": "ws"}},
        "channels": {
            "stream": {
                "address": "/v1/stream",
                "description": stream_doc,
                "messages": {
                    "start": _message("start", "The first client message.", _ref(pm.Start)),
                    "samples": _message(
                        "samples",
                        "Binary float32 or int16 (little-endian), or JSON {samples}.",
                        {"oneOf": [{"type": "string", "format": "binary"}, _ref(pm.JsonSamples)]},
                    ),
                    "stop": _message("stop", "Ends the stream.", _ref(pm.Stop)),
                    "ready": _message("ready", "The reply to start.", _ref(pm.Ready)),
                    "window": _message(
                        "window", "One per second once 10 s are in.", _ref(m.Window)
                    ),
                    "event_open": _message(
                        "event_open", "An AF episode opened.", _ref(m.EventOpen)
                    ),
                    "event": _message("event", "An AF episode closed.", _ref(m.Event)),
                    "gap": _message("gap", "A jump in the stream's time.", _ref(m.Gap)),
                    "control": _message("control", "For a steerable source.", _ref(pm.Control)),
                    "ack": _message("ack", "Last line of every reply.", _ref(pm.Ack)),
                    "end": _message("end", "Last line of the reply to stop.", _ref(pm.End)),
                },
            },
            "watch": {
                "address": "/v1/watch",
                "description": watch_doc,
                "messages": {
                    "streams": _message("streams", "First: the token's streams.", _ref(pm.Streams)),
                    "stream": _message(
                        "stream", "A stream started, left or ended.", _ref(pm.StreamChanged)
                    ),
                    "display": _message("display", "Per frame, first line.", _ref(pm.Display)),
                    "window": _message(
                        "window", "Per frame, with stream_id.", _ref(pm.WatchedWindow)
                    ),
                    "event_open": _message(
                        "event_open", "Per frame, with stream_id.", _ref(pm.WatchedEventOpen)
                    ),
                    "event": _message("event", "Per frame, with stream_id.", _ref(pm.WatchedEvent)),
                    "gap": _message("gap", "Per frame, with stream_id.", _ref(pm.WatchedGap)),
                    "dropped": _message("dropped", "This dashboard fell behind.", _ref(pm.Dropped)),
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
            "schemas": asyncapi_schemas(),
            "securitySchemes": {
                "token": {
                    "type": "httpApiKey",
                    "name": "token",
                    "in": "query",
                    "description": "The bearer token, as ?token= (browsers) or an "
                    "Authorization: Bearer header.",
                }
            },
        },
    }
