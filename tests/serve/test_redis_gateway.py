"""The gateway mode: ``/v1/stream`` appends to Redis, a worker process analyses, the client
gets the single-process messages; the embedded mode is what runs without ``redis``."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from websockets.sync.client import connect

from cardiostream.io import read
from cardiostream.samples import sample_path
from cardiostream.serve import ServeConfig
from cardiostream.stream.analyze import analyze
from tests.serve.conftest import TOKEN, start_server
from tests.serve.redis_server import redis_server, start_worker, stop

FS = 360.0


@pytest.fixture
def redis_url() -> Iterator[str]:
    yield from redis_server()


def test_a_stream_through_the_gateway_gets_the_single_process_messages(
    redis_url: str,
) -> None:
    x = read(sample_path("mitdb-201-af")).lead(0)[: int(40 * FS)].astype(np.float32)
    reference: list[dict[str, Any]] = json.loads(
        json.dumps(analyze(x.astype(np.float64), FS).lines)
    )
    worker = start_worker(redis_url, "0,1", "--lease-s", "1")
    config = ServeConfig(tokens=[TOKEN], redis=redis_url, redis_shards=2)
    server, thread, live = start_server(config)
    got: list[dict[str, Any]] = []
    try:
        with connect(f"{live.ws}/v1/stream?token={TOKEN}") as ws:
            ws.send(json.dumps({"type": "start", "stream_id": "bed-3", "fs": FS,
                                "format": "float32", "leads": ["MLII"]}))  # fmt: skip
            assert json.loads(ws.recv())["type"] == "ready"
            step = int(FS)
            for n0 in range(0, x.size, step):
                ws.send(x[n0 : n0 + step].tobytes())
                got += [json.loads(line) for line in str(ws.recv()).splitlines()]
            ws.send(json.dumps({"type": "stop"}))
            got += [json.loads(line) for line in str(ws.recv()).splitlines()]
    finally:
        server.should_exit = True
        thread.join(30)
        stop(worker)
    assert got[-1] == {"type": "end", "samples": x.size}
    assert [m for m in got if m["type"] not in ("ack", "end")] == reference
