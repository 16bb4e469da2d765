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


#: Each socket's messages: name, summary and payload schema.
_STREAM_MESSAGES: tuple[tuple[str, str, dict[str, Any]], ...] = (
    ("start", "The first client message.", _ref(pm.Start)),
    (
        "samples",
        "Binary float32 or int16 (little-endian), or JSON {samples}; a beats stream's: "
        "binary float64 beat times in seconds, strictly increasing.",
        {"oneOf": [{"type": "string", "format": "binary"}, _ref(pm.JsonSamples)]},
    ),
    ("stop", "Ends the stream.", _ref(pm.Stop)),
    ("ready", "The reply to start.", _ref(pm.Ready)),
    ("window", "One per second once 10 s are in.", _ref(m.Window)),
    ("event_open", "An AF episode opened.", _ref(m.EventOpen)),
    ("event", "An AF episode closed.", _ref(m.Event)),
    ("gap", "A jump in the stream's time.", _ref(m.Gap)),
    ("control", "For a steerable source.", _ref(pm.Control)),
    ("ack", "Last line of every reply.", _ref(pm.Ack)),
    ("end", "Last line of the reply to stop.", _ref(pm.End)),
)
_WATCH_MESSAGES: tuple[tuple[str, str, dict[str, Any]], ...] = (
    ("streams", "First: the token's streams.", _ref(pm.Streams)),
    ("stream", "A stream started, left or ended.", _ref(pm.StreamChanged)),
    ("display", "Per frame, first line.", _ref(pm.Display)),
    ("window", "Per frame, with stream_id.", _ref(pm.WatchedWindow)),
    ("event_open", "Per frame, with stream_id.", _ref(pm.WatchedEventOpen)),
    ("event", "Per frame, with stream_id.", _ref(pm.WatchedEvent)),
    ("gap", "Per frame, with stream_id.", _ref(pm.WatchedGap)),
    ("alarm", "An alarm changed, with stream_id.", _ref(pm.WatchedAlarm)),
    ("ward", "A ward-wide silence or pause changed.", _ref(pm.Ward)),
    ("dropped", "This dashboard fell behind.", _ref(pm.Dropped)),
)


def _messages(table: tuple[tuple[str, str, dict[str, Any]], ...]) -> dict[str, Any]:
    return {
        name: {"name": name, "summary": summary, "contentType": "application/json",
               "payload": payload}
        for name, summary, payload in table
    }  # fmt: skip


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
            "description": "Live ECG (or beat-time) streams in, results out; and a read-only "
            "view for "
            "dashboards. Every message of the server is text made of JSON lines. Message "
            f"schemas: cardiostream messages version {m.SCHEMA_VERSION}.",
        },
        "servers": {"local": {"host": "127.0.0.1:8000", "protocol": "ws"}},
        "channels": {
            "stream": {
                "address": "/v1/stream",
                "description": stream_doc,
                "messages": _messages(_STREAM_MESSAGES),
            },
            "watch": {
                "address": "/v1/watch",
                "description": watch_doc,
                "messages": _messages(_WATCH_MESSAGES),
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
