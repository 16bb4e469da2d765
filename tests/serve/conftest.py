"""A real uvicorn server on 127.0.0.1, in a thread, for the server tests."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import uvicorn

from cardiostream.io import ParquetStore, read
from cardiostream.samples import sample_path
from cardiostream.serve import ServeConfig, create_app

TOKEN = "test-token-a"
OTHER = "test-token-b"


@dataclass
class Live:
    """A running server: its base URL, ws URL and config."""

    url: str
    ws: str
    config: ServeConfig
    app: object


def start_server(
    config: ServeConfig, port: int = 0
) -> tuple[uvicorn.Server, threading.Thread, Live]:
    app = create_app(config)
    server = uvicorn.Server(
        uvicorn.Config(
            app,
            host="127.0.0.1",
            port=port,
            log_level="error",
            ws_max_size=4 << 20,
            ws_per_message_deflate=False,
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the test server did not start")
        time.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    return server, thread, Live(f"http://127.0.0.1:{port}", f"ws://127.0.0.1:{port}", config, app)


@pytest.fixture(scope="session")
def store_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("store")
    store = ParquetStore(path)
    for name in ("mitdb-201-af", "mitdb-100-nsr"):
        store.write(read(sample_path(name)), name)
    return path


@pytest.fixture(scope="session")
def live(store_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    record_dir = tmp_path_factory.mktemp("recorded")
    del record_dir
    config = ServeConfig(tokens=[TOKEN, OTHER], store=store_dir, batch_wait_ms=1.0,
                         resume_ttl_s=60.0, max_frame_samples=5000)  # fmt: skip
    server, thread, info = start_server(config)
    yield info
    server.should_exit = True
    thread.join(10)


#: A stored test day for the Holter report (20 min: the shortest with every kind of finding).
HOLTER_ID = "holter-day"
#: A stored record too short for a report.
SHORT_ID = "short-30s"


@dataclass
class HolterLive:
    """A server whose store holds a test day; ``truth`` is what the day was made with and
    ``calls`` counts the reports the server computed of the test day, by lead (the short
    record's refusals are not counted: tests of both share the server, in any order)."""

    live: Live
    truth: dict[str, object]
    calls: dict[str, int]


@pytest.fixture(scope="session")
def holter_live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HolterLive]:
    """One server for the Holter report's tests (one report of the day is computed for all)."""
    from cardiostream.record import Record
    from cardiostream.report.holter import HolterResult, holter_report
    from cardiostream.serve import holter_routes
    from cardiostream.sim.holter_day import holter_day

    path = tmp_path_factory.mktemp("holter-store")
    store = ParquetStore(path)
    day = holter_day(1200.0, seed=2)
    meta = {"start": day.start.isoformat(), "source": str(path / "day.edf")}
    store.write(Record(day.signal[:, None], day.fs, ["ECG"], "Test day", meta=meta), HOLTER_ID)
    short = day.signal[: int(30 * day.fs), None]
    store.write(Record(short, day.fs, ["ECG"], "short"), SHORT_ID)
    calls: dict[str, int] = {}

    def counted(record: Record, *, lead: int | str = 0) -> HolterResult:
        if record.name == "Test day":
            calls[str(lead)] = calls.get(str(lead), 0) + 1
        return holter_report(record, lead=lead)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(holter_routes, "holter_report", counted)
        server, thread, info = start_server(ServeConfig(tokens=[TOKEN, OTHER], store=path))
        yield HolterLive(info, day.truth, calls)
        server.should_exit = True
        thread.join(10)


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    """Headless Chromium through Playwright (skipped with the reason when missing).

    Per module: Playwright's sync API holds an event loop on the thread while it runs, so a
    later test of the same process calling ``asyncio.run`` would fail if it outlived its tests.
    """
    from tests.serve.browser import launch

    yield from launch(tmp_path_factory.mktemp("playwright"))
