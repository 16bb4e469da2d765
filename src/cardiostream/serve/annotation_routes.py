"""``/v1/records/{id}/user-annotations``: reviewers' annotations, kept beside each record."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI


def add_annotation_routes(
    app: FastAPI, owner: Any, get_store: Callable[[], Any], known: Callable[[str], str]
) -> None:
    """Add the user-annotation routes to ``app`` (``owner``: the token dependency type)."""
