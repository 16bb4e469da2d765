"""The beat models' JSON files: the shipped ones in ``beats/model/``, or a user's."""

from __future__ import annotations

import json
from collections.abc import Callable
from importlib.resources import files
from pathlib import Path
from typing import Any, TypeVar

from cardiostream.errors import InputError


def read_model_json(path: str | Path | None, file_name: str, what: str) -> dict[str, Any]:
    """The JSON of a model: the shipped ``file_name`` without ``path``, else ``path`` (the
    file, or a folder holding ``file_name``).

    Raises
    ------
    InputError
        When the file cannot be read or is not JSON (``what`` names the model).
    """
    if path is None:
        data: dict[str, Any] = json.loads(
            files("cardiostream.beats").joinpath("model", file_name).read_text()
        )
        return data
    p = Path(path)
    if p.is_dir():
        p = p / file_name
    try:
        data = json.loads(p.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise InputError(f"{p}: not {what} ({exc})") from exc
    return data


T = TypeVar("T")
#: The shipped models, each read once per process.
_shipped: dict[str, Any] = {}


def load_model(
    path: str | Path | None, file_name: str, what: str, build: Callable[[dict[str, Any]], T]
) -> T:
    """``build`` applied to :func:`read_model_json`'s JSON; the shipped model (no ``path``)
    is built once and kept."""
    if path is not None:
        return build(read_model_json(path, file_name, what))
    if file_name not in _shipped:
        _shipped[file_name] = build(read_model_json(None, file_name, what))
    model: T = _shipped[file_name]
    return model


def write_model_json(folder: Path, file_name: str, doc: dict[str, Any]) -> Path:
    """Write a model's JSON as ``file_name`` into ``folder`` (made if needed); its path."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / file_name
    path.write_text(json.dumps(doc, separators=(",", ":")) + "\n")
    return path
