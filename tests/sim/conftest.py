"""A real server for the sender and command-line tests of the live sources."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from cardiostream.serve import ServeConfig
from tests.serve.conftest import Live, start_server

TOKEN = "sim-token"


@pytest.fixture(scope="package")
def server() -> Iterator[Live]:
    srv, thread, live = start_server(ServeConfig(tokens=[TOKEN], batch_wait_ms=1.0))
    yield live
    srv.should_exit = True
    thread.join(10)
