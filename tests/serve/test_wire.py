"""The server speaks the shared wire constants."""

from __future__ import annotations

import sys

import numpy as np

from cardiostream import wire
from cardiostream.serve import protocol


def test_the_float32_format_is_the_wire_frame() -> None:
    x = np.array([[0.5, -1.0], [np.nan, 2.25]])
    assert protocol.FORMATS[wire.FRAME_FORMAT] == wire.FRAME_DTYPE
    spec = protocol.StreamFormat(250.0, wire.FRAME_FORMAT)
    decoded = spec.decode_bytes(wire.encode_frame(x))
    np.testing.assert_array_equal(decoded, x.ravel())


def test_bearer_tokens_round_trip() -> None:
    ((header, value),) = wire.auth_headers("abc").items()
    assert header == wire.TOKEN_HEADER and wire.bearer_token(value) == "abc"
    assert wire.bearer_token("bearer  xyz ") == "xyz"
    assert wire.bearer_token("Basic abc") is None
    assert wire.auth_headers(None) == {}


def test_the_wire_module_needs_no_web_framework() -> None:
    import subprocess

    code = (
        "import sys, cardiostream.wire, cardiostream.sim.sender\n"
        "web = {'fastapi', 'starlette', 'pydantic', 'uvicorn', 'cardiostream.serve'}\n"
        "print(sorted(web & set(sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
