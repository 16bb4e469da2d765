"""JSON Schema of every message, generated from the ``TypedDict`` definitions.

:func:`json_schema` gives one JSON Schema (draft 2020-12) document: a definition in ``$defs``
for each message of :mod:`cardiostream.stream.messages` and
:mod:`cardiostream.stream.protocol_messages`, and at the root a ``oneOf`` over those that are
lines (every message with a ``type``). :func:`asyncapi_schemas` gives the same definitions
for the ``components.schemas`` of the server's AsyncAPI document. :func:`write_schema` writes
the published file; ``python -m cardiostream.stream.schema FOLDER`` does the same.

Mapping
    ``str``, ``int``, ``float``, ``bool`` and ``None`` to their JSON types (``float`` is any
    ``number``); ``Literal`` to ``const`` or ``enum``; unions to a list of types or
    ``anyOf``; ``list[X]`` to an array; ``dict[str, X]`` to an object of ``X``; a
    ``TypedDict`` to a ``$ref`` to its definition, whose keys are all the keys there are
    (``additionalProperties: false``, except for
    :data:`~cardiostream.stream.protocol_messages.EXTENSIBLE`) and whose ``required`` are
    those not marked ``NotRequired``; the first string of an ``Annotated`` to a
    ``description``, as is a ``TypedDict``'s docstring.
"""

from __future__ import annotations

import json
import sys
import types
import typing
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, Literal, NotRequired, Required, Union, get_args, get_origin

from cardiostream.stream import messages, protocol_messages
from cardiostream.stream.messages import SCHEMA_VERSION

JsonSchema = dict[str, Any]

DRAFT = "https://json-schema.org/draft/2020-12/schema"
#: The schema's identifier; a new :data:`SCHEMA_VERSION` is a new identifier.
SCHEMA_ID = f"urn:cardiostream:schema:messages:v{SCHEMA_VERSION}"
#: Name of the published file.
FILE_NAME = f"cardiostream-messages-v{SCHEMA_VERSION}.json"

#: Every message, in the order of the schema's definitions.
MESSAGES: tuple[type, ...] = (
    *messages.ENGINE_MESSAGES,
    *protocol_messages.CLIENT_MESSAGES,
    *protocol_messages.SERVER_MESSAGES,
    *protocol_messages.WATCH_MESSAGES,
)

_PRIMITIVES: dict[object, str] = {
    str: "string",
    int: "integer",
    float: "number",
    bool: "boolean",
    type(None): "null",
}


def _describe(text: str | None) -> str:
    """The first paragraph of a docstring, on one line."""
    # Single backticks: descriptions are read as Markdown, not reStructuredText.
    return " ".join((text or "").strip().split("\n\n")[0].split()).replace("``", "`")


class _Builder:
    """Definitions gathered while walking types; references point at ``ref_prefix``."""

    def __init__(self, ref_prefix: str) -> None:
        self.ref_prefix = ref_prefix
        self.defs: dict[str, JsonSchema] = {}
        self.classes: dict[str, Any] = {}

    def schema(self, tp: Any) -> JsonSchema:
        origin, args = get_origin(tp), get_args(tp)
        if origin in (NotRequired, Required):
            return self.schema(args[0])
        if origin is typing.Annotated:
            out = self.schema(args[0])
            notes = [m for m in tp.__metadata__ if isinstance(m, str)]
            # A reference takes no siblings in draft 7, which AsyncAPI schemas follow.
            if notes and "$ref" not in out:
                out = {**out, "description": notes[0]}
            return out
        if tp in _PRIMITIVES:
            return {"type": _PRIMITIVES[tp]}
        if typing.is_typeddict(tp):
            return self.ref(tp)
        if origin is Literal:
            return {"const": args[0]} if len(args) == 1 else {"enum": list(args)}
        if origin in (Union, types.UnionType):
            members = [self.schema(a) for a in args]
            if all(set(m) == {"type"} for m in members):
                return {"type": [m["type"] for m in members]}
            return {"anyOf": members}
        if origin is list:
            return {"type": "array", "items": self.schema(args[0])}
        if origin is tuple and args and args[-1] is not Ellipsis:
            return {
                "type": "array",
                "prefixItems": [self.schema(a) for a in args],
                "minItems": len(args),
                "maxItems": len(args),
            }
        if origin is dict and args[0] is str:
            return {"type": "object", "additionalProperties": self.schema(args[1])}
        raise TypeError(f"no JSON Schema for {tp!r}")

    def ref(self, cls: Any) -> JsonSchema:
        name = cls.__name__
        if self.classes.setdefault(name, cls) is not cls:
            raise TypeError(f"two messages named {name}: definitions are by class name")
        if name not in self.defs:
            self.defs[name] = {}  # taken before the walk: recursive types end here
            hints = typing.get_type_hints(cls, include_extras=True)
            required = cls.__required_keys__
            self.defs[name] = {
                "title": name,
                "description": _describe(cls.__doc__),
                "type": "object",
                "properties": {key: self.schema(tp) for key, tp in hints.items()},
                "required": [key for key in hints if key in required],
                "additionalProperties": cls in protocol_messages.EXTENSIBLE,
            }
        return {"$ref": self.ref_prefix + name}


def _is_line(cls: Any) -> bool:
    """Whether the message is a JSON line with a ``type`` (the samples frame is not)."""
    return "type" in typing.get_type_hints(cls)


def definitions(classes: Iterable[type], ref_prefix: str) -> dict[str, JsonSchema]:
    """The definitions of ``classes`` and of every ``TypedDict`` they use, by class name.

    Parameters
    ----------
    classes : iterable of TypedDict classes
        The messages to define.
    ref_prefix : str
        What references start with: ``"#/$defs/"`` in a JSON Schema document.

    Returns
    -------
    dict of str to dict
        The definitions, in the order met.
    """
    builder = _Builder(ref_prefix)
    for cls in classes:
        builder.ref(cls)
    return builder.defs


def json_schema() -> JsonSchema:
    """The JSON Schema (draft 2020-12) of every message: ``$defs`` for each, ``oneOf`` at
    the root over the lines (the messages with a ``type``)."""
    lines = [{"$ref": f"#/$defs/{cls.__name__}"} for cls in MESSAGES if _is_line(cls)]
    return {
        "$schema": DRAFT,
        "$id": SCHEMA_ID,
        "title": f"cardiostream messages, version {SCHEMA_VERSION}",
        "description": "Every JSON line that the cardiostream engine, the analyze command "
        "and the WebSocket server write or read. Validate a line against the root, or a "
        "message against its definition in $defs.",
        "oneOf": lines,
        "$defs": definitions(MESSAGES, "#/$defs/"),
    }


def asyncapi_schemas(ref_prefix: str = "#/components/schemas/") -> dict[str, JsonSchema]:
    """The definitions of every message for an AsyncAPI document's ``components.schemas``
    (its schema format is a superset of draft 7; these use nothing newer)."""
    return definitions(MESSAGES, ref_prefix)


def schema_text() -> str:
    """The published form of :func:`json_schema`: indented JSON, UTF-8, a final newline."""
    return json.dumps(json_schema(), indent=2, ensure_ascii=False) + "\n"


def write_schema(folder: str | Path) -> Path:
    """Write the JSON Schema to ``folder`` (created if need be) as :data:`FILE_NAME`.

    Parameters
    ----------
    folder : str or Path
        Where to write it.

    Returns
    -------
    Path
        The file written.
    """
    path = Path(folder) / FILE_NAME
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(schema_text(), encoding="utf-8")
    return path


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m cardiostream.stream.schema FOLDER``: write the schema, print its path."""
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 1:
        sys.stderr.write("usage: python -m cardiostream.stream.schema FOLDER\n")
        return 2
    print(write_schema(args[0]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
