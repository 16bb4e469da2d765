"""The AsyncAPI document's payloads are the generated message schemas."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from cardiostream.samples import sample_path
from cardiostream.serve.asyncapi import document
from cardiostream.stream import analyze
from cardiostream.stream.schema import asyncapi_schemas, json_schema


def _refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref":
                yield value
            else:
                yield from _refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from _refs(value)


def _resolve(doc: dict[str, Any], ref: str) -> Any:
    assert ref.startswith("#/"), ref
    node: Any = doc
    for part in ref[2:].split("/"):
        node = node[part]
    return node


def test_every_reference_resolves_and_every_schema_is_generated() -> None:
    doc = document()
    for ref in _refs(doc):
        _resolve(doc, ref)
    schemas = doc["components"]["schemas"]
    assert schemas == asyncapi_schemas()
    # The same definitions as the published JSON Schema, but for where references point.
    defs = json.dumps(json_schema()["$defs"]).replace("#/$defs/", "#/components/schemas/")
    assert json.loads(defs) == schemas


def test_each_channel_lists_the_messages_of_the_protocol() -> None:
    channels = document()["channels"]
    stream = set(channels["stream"]["messages"])
    assert {"start", "samples", "stop", "ready", "window", "event_open", "event"} <= stream
    assert {"gap", "control", "ack", "end"} <= stream
    watch = set(channels["watch"]["messages"])
    assert {"streams", "stream", "display", "window", "event_open", "event", "gap"} <= watch
    assert "dropped" in watch


def test_real_lines_validate_against_their_channel_payloads() -> None:
    jsonschema_rs = pytest.importorskip("jsonschema_rs", reason="comes with schemathesis (dev)")
    doc = document()
    messages = doc["channels"]["stream"]["messages"]
    lines = json.loads(json.dumps(analyze(sample_path("mitdb-201-af")).lines))
    for line in lines:
        # Draft 7, as AsyncAPI schemas are; the components travel along for the references.
        schema = {
            "$schema": "http://json-schema.org/draft-07/schema#",
            "allOf": [messages[line["type"]]["payload"]],
            "components": doc["components"],
        }
        assert jsonschema_rs.is_valid(schema, line), line
        watched = {"stream_id": "bed-12", **line}
        schema["allOf"] = [doc["channels"]["watch"]["messages"][line["type"]]["payload"]]
        assert jsonschema_rs.is_valid(schema, watched), watched
        assert not jsonschema_rs.is_valid(schema, line), "stream_id is required when watched"
