"""Talking to a running server over HTTP: what ``cardiostream control`` sends."""

from __future__ import annotations

import contextlib
import json
import urllib.error
import urllib.request
from typing import Any

from cardiostream.errors import InputError

__all__ = ["send_control"]


def send_control(
    server: str,
    stream_id: str,
    command: dict[str, Any],
    token: str | None = None,
    timeout: float = 10.0,
) -> dict[str, Any]:
    """Ask a server to switch a steerable live stream's mode.

    Parameters
    ----------
    server : str
        The server's base URL (``http://HOST:PORT``).
    stream_id : str
        The live stream to steer.
    command : dict
        The control, ``{"mode": ..., "hr_bpm": ...}``.
    token : str, optional
        Bearer token.
    timeout : float
        Seconds to wait for the answer.

    Returns
    -------
    dict
        The server's answer (``queued`` holds the control as accepted).

    Raises
    ------
    InputError
        When the server refuses the control (with its reason) or cannot be reached.
    """
    url = f"{server.rstrip('/')}/v1/streams/{stream_id}/control"
    request = urllib.request.Request(url, data=json.dumps(command).encode(), method="POST")
    request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            answer: dict[str, Any] = json.loads(response.read())
    except urllib.error.HTTPError as exc:
        detail = exc.read().decode(errors="replace")
        with contextlib.suppress(ValueError):
            detail = str(json.loads(detail).get("detail", detail))
        raise InputError(f"{url}: {exc.code} {detail}") from None
    except urllib.error.URLError as exc:
        raise InputError(f"{server}: cannot be reached ({exc.reason})") from None
    return answer
