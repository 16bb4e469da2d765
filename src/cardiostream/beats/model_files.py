"""The beat models' JSON files: the shipped ones in ``beats/model/``, or a user's."""

from __future__ import annotations

import json
from importlib.resources import files
from pathlib import Path
from typing import Any

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
