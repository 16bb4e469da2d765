"""``cardiostream schema``: the JSON Schema of every message the engine and server send."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from cardiostream.cli._common import _guard, _stdout, app, console


@app.command()
def schema(
    out: Annotated[
        Path | None,
        typer.Option(help="Write cardiostream-messages-v<N>.json into this folder (else print)."),
    ] = None,
) -> None:
    """The versioned JSON Schema of windows, events, gaps and the stream protocol's messages."""

    def body() -> None:
        from cardiostream.stream.schema import schema_text, write_schema

        if out is None:
            _stdout(schema_text())
        else:
            console.print(f"schema written to {escape(str(write_schema(out)))}", highlight=False)

    _guard(body)
